/* What every libpq client of overlap shares with `overlap pg`: the types a
 * workload's parameters are sent as (wl_param_sql_type's, as OIDs), and the
 * server's description for meta.txt. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pg.h"

#define INT8OID   20 /* PostgreSQL's catalog: pg_type.oid */
#define FLOAT8OID 701
#define TEXTOID   25

unsigned pg_param_type(enum wl_param_kind kind)
{
    switch (kind) {
    case WL_PARAM_INT:
    case WL_PARAM_INT_CONST: return INT8OID;
    case WL_PARAM_REAL_CONST: return FLOAT8OID;
    case WL_PARAM_TEXT_CONST: return TEXTOID;
    default: return 0;
    }
}

/* The settings a run depends on, in the order meta.txt lists them. */
static const char describe_sql[] =
    "SELECT current_setting('server_version'),"
    " (SELECT string_agg(n || '=' || current_setting(n), ' ' ORDER BY o)"
    "  FROM unnest(ARRAY['max_connections', 'superuser_reserved_connections', 'fsync',"
    "   'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers',"
    "   'shared_preload_libraries', 'listen_addresses', 'autovacuum', 'jit'])"
    "  WITH ORDINALITY AS s(n, o)),"
    " (SELECT rolconnlimit FROM pg_roles WHERE rolname = '" PG_ROLE "')";

/* pg_sleep's overshoot as `overlap pg` measured it at start (sleep.c). */
static const char describe_sleep_sql[] =
    "SELECT string_agg(format('%s ms: overshoot median %s ms, max %s ms (%s sleeps)',"
    " asked_ms, median_ms, max_ms, samples), '; ' ORDER BY asked_ms) FROM " PG_SLEEP_TABLE;

int pg_describe(const char *dsn, char *out, size_t len)
{
    /* the settings' values are the superuser's to read; the DSN may be the engines' */
    const char *keys[] = {"dbname", "user", NULL}, *values[] = {dsn, PG_SUPERUSER, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    PGresult *r = NULL;
    int rc = -1;
    if (PQstatus(conn) == CONNECTION_OK)
        r = PQexec(conn, describe_sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        int n = snprintf(out, len,
                         "postgresql: %s\npostgresql_settings: %s\npostgresql_budget: %s "
                         "connections (role %s)\n",
                         PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PG_ROLE);
        PQclear(r);
        r = PQexec(conn, describe_sleep_sql);
        if (n > 0 && (size_t)n < len && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !PQgetisnull(r, 0, 0))
            snprintf(out + n, len - (size_t)n, "postgresql_sleep: %s\n", PQgetvalue(r, 0, 0));
        rc = 0;
    } else
        snprintf(out, len, "%s", PQerrorMessage(conn));
    PQclear(r);
    PQfinish(conn);
    return rc;
}
