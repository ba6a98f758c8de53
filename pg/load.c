/* Loading a fresh cluster through the superuser's connection: the
 * statistics extension, the engines' role with the budget as its connection
 * limit, the techempower rows exactly as `overlap db` has them (db/dataset.c,
 * the same seed), the workload's init script, and a check that every query of
 * the workload prepares, so a query PostgreSQL cannot run is refused at start
 * as `overlap db` refuses one SQLite cannot; then pg_sleep's overshoot is
 * measured (sleep.c) and a latency too short for it refused. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "pg_internal.h"

#define WORLD_LINE 24 /* "10000\t10000\n" with room to spare */

/* libpq's one-line message for a failed result (or connection). */
static const char *message(PGconn *conn, const PGresult *r)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return m ? m : PQerrorMessage(conn);
}

static bool ok(const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

static int run(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    int rc = ok(r) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "overlap pg: %s: %s", sql, message(conn, r));
    PQclear(r);
    return rc;
}

/* COPY table FROM STDIN with the whole of data, in COPY's text format. */
static int copy_in(PGconn *conn, const char *table, const char *data, size_t len, char *err,
                   size_t errlen)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    PGresult *r = PQexec(conn, sql);
    bool copying = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (copying && PQputCopyData(conn, data, (int)len) == 1 && PQputCopyEnd(conn, NULL) == 1) {
        r = PQgetResult(conn);
        copying = ok(r);
        PQclear(r);
        while ((r = PQgetResult(conn)))
            PQclear(r);
        if (copying)
            return 0;
    }
    snprintf(err, errlen, "overlap pg: loading %s: %s", table, PQerrorMessage(conn));
    return -1;
}

/* A text value in COPY's text format: backslash, tab, newline and carriage
 * return escaped. out has room for twice text. */
static size_t copy_escape(const char *text, char *out)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        const char *esc = *p == '\\'   ? "\\\\"
                          : *p == '\t' ? "\\t"
                          : *p == '\n' ? "\\n"
                          : *p == '\r' ? "\\r"
                                       : NULL;
        if (esc) {
            memcpy(out + n, esc, 2);
            n += 2;
        } else
            out[n++] = *p;
    }
    return n;
}

static int load_techempower(PGconn *conn, uint64_t seed, char *err, size_t errlen)
{
    int32_t *numbers = malloc(DB_WORLD_ROWS * sizeof(*numbers));
    char *text = malloc((size_t)DB_WORLD_ROWS * WORLD_LINE);
    char fortunes[8192];
    size_t n = 0, f = 0;
    int rc = -1;
    if (!numbers || !text) {
        snprintf(err, errlen, "overlap pg: out of memory");
        goto out;
    }
    db_world_numbers(seed, numbers);
    for (int id = 1; id <= DB_WORLD_ROWS; id++)
        n += (size_t)snprintf(text + n, WORLD_LINE, "%d\t%d\n", id, (int)numbers[id - 1]);
    for (int id = 1; id <= DB_FORTUNE_ROWS; id++) {
        const char *m = db_fortune_message(id);
        if (f + 16 + 2 * strlen(m) > sizeof(fortunes)) { /* the dozen are far shorter */
            snprintf(err, errlen, "overlap pg: fortune %d is too long to load", id);
            goto out;
        }
        f += (size_t)snprintf(fortunes + f, 16, "%d\t", id);
        f += copy_escape(m, fortunes + f);
        fortunes[f++] = '\n';
    }
    if (run(conn,
            "CREATE TABLE World(id integer PRIMARY KEY, randomNumber integer NOT NULL);"
            "CREATE TABLE Fortune(id integer PRIMARY KEY, message text NOT NULL)",
            err, errlen) < 0 ||
        copy_in(conn, "World", text, n, err, errlen) < 0 ||
        copy_in(conn, "Fortune", fortunes, f, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    free(numbers);
    free(text);
    return rc;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    long len = -1;
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)len + 1)) && fread(text, 1, (size_t)len, f) == (size_t)len)
        text[len] = '\0';
    else {
        snprintf(err, errlen, "%s: cannot read the init script: %s", path,
                 errno ? strerror(errno) : "short read");
        free(text);
        text = NULL;
    }
    if (f)
        fclose(f);
    return text;
}

/* The line of a 1-based character (not byte) position in UTF-8 text. */
static int line_of(const char *text, long position)
{
    int line = 1;
    for (const char *p = text; *p && position > 1; p++) {
        position -= ((unsigned char)*p & 0xc0) != 0x80;
        line += *p == '\n';
    }
    return line;
}

/* Runs the user's script as one simple query: one transaction unless it
 * says otherwise. An error names the script's line where PostgreSQL gives a
 * position. */
static int run_script(PGconn *conn, const char *path, char *err, size_t errlen)
{
    char *text = read_file(path, err, errlen);
    if (!text)
        return -1;
    PGresult *r = PQexec(conn, text);
    int rc = ok(r) ? 0 : -1;
    const char *pos = rc < 0 ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    if (rc < 0 && pos)
        snprintf(err, errlen, "%s:%d: %s", path, line_of(text, atol(pos)), message(conn, r));
    else if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, message(conn, r));
    PQclear(r);
    free(text);
    return rc;
}

/* Prepares each query as the engines will send it: placeholders as $n,
 * parameters typed by pg_param_type. */
static int check_queries(PGconn *conn, const struct wl_workload *wl, char *err, size_t errlen)
{
    for (int i = 0; i < wl->nqueries; i++) {
        const struct wl_query *q = &wl->queries[i];
        size_t cap = 3 * strlen(q->sql) + 1; /* `?` becomes at most `$16` */
        char *sql = malloc(cap);
        unsigned types[WL_MAX_PARAMS];
        int n = sql ? wl_sql_placeholders(q->sql, NULL, sql, cap) : -ENOMEM;
        PGresult *r = NULL;
        for (int k = 0; k < q->nparams; k++)
            types[k] = pg_param_type(q->params[k].kind);
        if (n == q->nparams)
            r = PQprepare(conn, "", sql, n, types);
        if (n < 0)
            snprintf(err, errlen, "overlap pg: out of memory");
        else if (n != q->nparams)
            snprintf(err, errlen, "%s:%d: query %s: %d placeholders outside quotes (expected %d)",
                     wl->path, q->line, q->name, n, q->nparams);
        else if (!ok(r))
            snprintf(err, errlen, "%s:%d: query %s: %s", wl->path, q->line, q->name,
                     message(conn, r));
        bool good = r && ok(r);
        PQclear(r);
        free(sql);
        if (!good)
            return -1;
    }
    return 0;
}

int pg__load(const char *admin_dsn, const struct wl_workload *wl, uint64_t seed, int connections,
             char *err, size_t errlen, int *status)
{
    char role[128];
    struct pg_sleep_resolution resolution;
    PGconn *conn = PQconnectdb(admin_dsn);
    int rc = -1;
    *status = 1;
    snprintf(role, sizeof(role), "CREATE ROLE %s LOGIN CONNECTION LIMIT %d", PG_ROLE, connections);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, errlen, "overlap pg: cannot connect: %s", PQerrorMessage(conn));
        goto out;
    }
    if (run(conn, "SET client_min_messages = warning", err, errlen) < 0 ||
        run(conn, "CREATE EXTENSION pg_stat_statements", err, errlen) < 0 ||
        run(conn, role, err, errlen) < 0)
        goto out;
    if (wl->dataset == WL_DATASET_TECHEMPOWER && load_techempower(conn, seed, err, errlen) < 0)
        goto out;
    *status = 2;
    if ((wl->init_path && run_script(conn, wl->init_path, err, errlen) < 0) ||
        check_queries(conn, wl, err, errlen) < 0)
        goto out;
    *status = 1;
    if (pg_sleep_measure(conn, &resolution, err, errlen) < 0)
        goto out;
    *status = 2;
    if (pg_sleep_check(wl, &resolution, err, errlen) < 0)
        goto out;
    *status = 1;
    if (run(conn, "GRANT ALL ON ALL TABLES IN SCHEMA public TO " PG_ROLE, err, errlen) < 0 ||
        run(conn, "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO " PG_ROLE, err, errlen) < 0 ||
        run(conn, "VACUUM ANALYZE", err, errlen) < 0 ||
        run(conn, "SELECT pg_stat_statements_reset()", err, errlen) < 0)
        goto out;
    rc = 0;
out:
    PQfinish(conn);
    return rc;
}
