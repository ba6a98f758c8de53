/* What both PostgreSQL clients share: telling the addresses apart, the
 * workload's statements, parameters as text, a PGresult as a struct
 * db_result, libpq's messages on one line, and the check a server makes
 * before it starts (db_check). */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"
#include "pg_client.h"
#include "proc.h"

/* PostgreSQL's catalog: pg_type.oid of the types a result is converted from. */
#define BOOLOID    16
#define INT8OID    20
#define INT2OID    21
#define INT4OID    23
#define OIDOID     26
#define FLOAT4OID  700
#define FLOAT8OID  701
#define NUMERICOID 1700

bool db_addr_is_pg(const char *addr)
{
    if (!strncmp(addr, "unix:", 5) || !strncmp(addr, "tcp:", 4))
        return false;
    return !strncmp(addr, "postgresql://", 13) || !strncmp(addr, "postgres://", 11) ||
           strchr(addr, '=') != NULL;
}

/* ---- statements ---- */

void db__pg_stmt_name(int q, char *out, size_t len)
{
    snprintf(out, len, "q%d", q);
}

int db__pg_stmts_init(struct db__pg_stmts *s, const struct wl_workload *wl)
{
    memset(s, 0, sizeof(*s));
    s->sql = calloc((size_t)wl->nqueries, sizeof(*s->sql));
    s->types = calloc((size_t)wl->nqueries, sizeof(*s->types));
    s->nparams = calloc((size_t)wl->nqueries, sizeof(*s->nparams));
    if (!s->sql || !s->types || !s->nparams)
        goto nomem;
    s->n = wl->nqueries; /* the statements not yet made are NULL: free skips them */
    for (int i = 0; i < s->n; i++) {
        const struct wl_query *q = &wl->queries[i];
        size_t cap = 3 * strlen(q->sql) + 1; /* `?` becomes at most `$16` */
        if (!(s->sql[i] = malloc(cap)))
            goto nomem;
        /* a count that differs from the workload's fails the prepare, as
         * overlap pg's start does */
        wl_sql_placeholders(q->sql, NULL, s->sql[i], cap);
        s->nparams[i] = q->nparams;
        for (int k = 0; k < q->nparams; k++)
            s->types[i][k] = pg_param_type(q->params[k].kind);
    }
    return 0;
nomem:
    db__pg_stmts_free(s);
    return -ENOMEM;
}

void db__pg_stmts_free(struct db__pg_stmts *s)
{
    for (int i = 0; s->sql && i < s->n; i++)
        free(s->sql[i]);
    free(s->sql);
    free(s->types);
    free(s->nparams);
    memset(s, 0, sizeof(*s));
}

/* ---- latency ---- */

void db__pg_sleep_init(struct db__pg_sleep *s)
{
    static _Atomic uint64_t opened;
    uint64_t n = atomic_fetch_add(&opened, 1);
    /* apart per connection, per process and per start */
    wl_rng_seed(&s->rng, proc_now_ns() ^ ((uint64_t)getpid() << 32) ^ (n * 0x9e3779b97f4a7c15u));
    s->seconds[0] = '\0';
}

const char *db__pg_sleep_draw(struct db__pg_sleep *s, const struct wl_workload *wl, int q)
{
    if (!wl || q < 0 || q >= wl->nqueries)
        return NULL;
    uint64_t ns = wl_dist_sample(&wl->queries[q].latency, &s->rng);
    if (ns == 0)
        return NULL;
    snprintf(s->seconds, sizeof(s->seconds), "%.9f", (double)ns / 1e9);
    return s->seconds;
}

int db__pg_sleep_prepare(PGconn *conn)
{
    PGresult *r = PQprepare(conn, PG_SLEEP_STMT, PG_SLEEP_SQL, 0, NULL);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = PQstatus(conn) == CONNECTION_OK ? -EPROTO : -ECONNRESET;
    PQclear(r);
    return rc;
}

/* ---- parameters ---- */

int db__pg_params_set(struct db__pg_params *p, const struct db_value *params, int nparams)
{
    if (nparams < 0 || nparams > DB_MAX_PARAMS)
        return -EINVAL;
    size_t need = 0;
    for (int i = 0; i < nparams; i++)
        if (params[i].type == DB_TEXT)
            need += params[i].len + 1;
    if (need > p->text_cap) {
        char *t = realloc(p->text, need);
        if (!t)
            return -ENOMEM;
        p->text = t;
        p->text_cap = need;
    }
    size_t at = 0;
    for (int i = 0; i < nparams; i++) {
        const struct db_value *v = &params[i];
        switch (v->type) {
        case DB_INT: snprintf(p->num[i], DB__PG_NUMBER, "%" PRId64, v->i); break;
        case DB_REAL: snprintf(p->num[i], DB__PG_NUMBER, "%.17g", v->r); break;
        case DB_TEXT:
            if (memchr(v->text, '\0', v->len))
                return -EINVAL; /* PostgreSQL's text cannot hold it */
            memcpy(p->text + at, v->text, v->len);
            p->text[at + v->len] = '\0';
            p->values[i] = p->text + at;
            at += v->len + 1;
            continue;
        case DB_NULL: p->values[i] = NULL; continue;
        default: return -EINVAL;
        }
        p->values[i] = p->num[i];
    }
    return 0;
}

/* ---- results ---- */

void db__pg_rows_free(struct db__pg_rows *rows)
{
    free(rows->values);
    rows->values = NULL;
    rows->cap = 0;
}

static int fail(struct db__pg_rows *rows, struct db_result *res, enum db_status status,
                const char *message)
{
    if (message != rows->message)
        snprintf(rows->message, sizeof(rows->message), "%s", message);
    res->status = status;
    res->message = rows->message;
    return status == DB_OK ? -ENOMEM : 0;
}

/* An integer cell: the whole text as a decimal int64. */
static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end); /* NaN, Infinity and -Infinity included */
    if (end == s || *end)
        return false;
    *out = v;
    return true;
}

/* One cell, by its column's type. */
static void convert_cell(const PGresult *r, int row, int col, struct db_value *v)
{
    const char *s = PQgetvalue(r, row, col);
    if (PQgetisnull(r, row, col)) {
        v->type = DB_NULL;
        return;
    }
    switch (PQftype(r, col)) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case OIDOID:
        if (parse_int(s, &v->i)) {
            v->type = DB_INT;
            return;
        }
        break;
    case NUMERICOID:
    case FLOAT4OID:
    case FLOAT8OID:
        if (PQftype(r, col) == NUMERICOID && !strpbrk(s, ".eEN") && parse_int(s, &v->i)) {
            v->type = DB_INT; /* as SQLite keeps a whole number */
            return;
        }
        if (parse_real(s, &v->r)) {
            v->type = DB_REAL;
            return;
        }
        break;
    case BOOLOID:
        if ((s[0] == 't' || s[0] == 'f') && !s[1]) {
            v->type = DB_INT;
            v->i = s[0] == 't';
            return;
        }
        break;
    default: break;
    }
    int len = PQgetlength(r, row, col);
    v->type = DB_TEXT;
    v->text = s;
    v->len = len > 0 ? (uint32_t)len : 0;
}

int db__pg_convert(const PGresult *r, uint32_t tag, struct db__pg_rows *rows, struct db_result *res)
{
    memset(res, 0, sizeof(*res));
    res->tag = tag;
    res->message = "";
    switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
    case PGRES_TUPLES_OK: break;
    case PGRES_COMMAND_OK: return 0; /* no rows: as overlap db answers a statement */
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_PIPELINE_ABORTED:
        db__pg_message(NULL, r, rows->message, sizeof(rows->message));
        return fail(rows, res, DB_ESQL, r ? rows->message : "no result");
    default: return fail(rows, res, DB_EMALFORMED, "unexpected result status");
    }
    int ncols = PQnfields(r), nrows = PQntuples(r);
    if (ncols < 0 || nrows < 0)
        return fail(rows, res, DB_EMALFORMED, "malformed result");
    if (nrows > DB_MAX_ROWS || (uint64_t)ncols * (uint64_t)nrows > DB_MAX_CELLS)
        return fail(rows, res, DB_ETOOBIG, "result too big");
    for (int c = 0; c < ncols; c++)
        if (PQfformat(r, c) != 0)
            return fail(rows, res, DB_EMALFORMED, "binary column in a text result");
    size_t cells = (size_t)ncols * (size_t)nrows;
    if (cells > rows->cap) {
        struct db_value *v = realloc(rows->values, cells * sizeof(*v));
        if (!v)
            return fail(rows, res, DB_OK, "out of memory");
        rows->values = v;
        rows->cap = cells;
    }
    for (int row = 0; row < nrows; row++)
        for (int col = 0; col < ncols; col++)
            convert_cell(r, row, col, &rows->values[(size_t)row * (size_t)ncols + (size_t)col]);
    res->ncols = (uint32_t)ncols;
    res->nrows = (uint32_t)nrows;
    res->values = rows->values;
    return 0;
}

bool db__pg_fatal(const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return false;
    /* 57P01 admin shutdown (pg_terminate_backend), 57P02 crash shutdown,
     * 57P03 cannot connect now; class 08: connection exceptions */
    return !strncmp(state, "57P0", 4) || !strncmp(state, "08", 2);
}

/* ---- messages and connecting ---- */

void db__pg_message(const PGconn *conn, const PGresult *r, char *out, size_t len)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m && r)
        m = PQresultErrorMessage(r);
    if (!m && conn)
        m = PQerrorMessage(conn);
    if (!m || !*m)
        m = "unknown error";
    size_t n = 0;
    for (; *m && n + 1 < len; m++) {
        char ch = *m == '\n' || *m == '\t' ? ' ' : *m;
        if (ch == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        out[n++] = ch;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

int db__pg_connect_errno(const PGconn *conn)
{
    const char *m = conn ? PQerrorMessage(conn) : "";
    return strstr(m, "too many connections") ? -EUSERS : -ECONNREFUSED;
}

PGconn *db__pg_connect(const char *addr, bool nonblocking)
{
    /* a later keyword wins: the address's own connect_timeout, if any */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {DB__PG_CONNECT_TIMEOUT, addr, NULL};
    return nonblocking ? PQconnectStartParams(keys, values, 1) : PQconnectdbParams(keys, values, 1);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

void db__pg_quiet(PGconn *conn)
{
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
}

/* ---- the check before a start ---- */

/* What the role may hold at once: its CONNECTION LIMIT, or what the server
 * leaves to non-superusers; -1 when neither binds (a superuser). */
static int role_limit(PGconn *conn)
{
    PGresult *r = PQexec(conn, "SELECT r.rolconnlimit, r.rolsuper,"
                               " current_setting('max_connections')::int"
                               " - current_setting('superuser_reserved_connections')::int"
                               " FROM pg_roles r WHERE r.rolname = current_user");
    int limit = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        strcmp(PQgetvalue(r, 0, 1), "t")) {
        limit = atoi(PQgetvalue(r, 0, 0));
        int server = atoi(PQgetvalue(r, 0, 2));
        if (limit < 0 || server < limit)
            limit = server;
    }
    PQclear(r);
    return limit;
}

static int check_queries(PGconn *conn, const struct wl_workload *wl, char *err, size_t len)
{
    struct db__pg_stmts s;
    char m[DB__PG_MESSAGE];
    if (db__pg_stmts_init(&s, wl) < 0) {
        snprintf(err, len, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    for (int q = 0; q < s.n && rc == 0; q++) {
        PGresult *r = PQprepare(conn, "", s.sql[q], s.nparams[q], s.types[q]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            db__pg_message(conn, r, m, sizeof(m));
            snprintf(err, len, "%s:%d: query %s: %s", wl->path, wl->queries[q].line,
                     wl->queries[q].name, m);
            rc = -EINVAL;
        }
        PQclear(r);
    }
    db__pg_stmts_free(&s);
    return rc;
}

/* The workload as the engine runs it (after --vary-wait) against what the
 * server measured of pg_sleep at start: a latency it cannot honour is
 * refused here, since overlap pg saw only the workload before the change. */
static int check_latency(PGconn *conn, const struct wl_workload *wl, char *err, size_t len)
{
    struct pg_sleep_resolution res;
    bool any = false;
    for (int q = 0; q < wl->nqueries; q++)
        any = any || wl_dist_median(&wl->queries[q].latency) > 0;
    if (!any)
        return 0;
    if (pg_sleep_read(conn, &res) < 0)
        res.n = 0; /* pg_sleep_check says so */
    return pg_sleep_check(wl, &res, err, len);
}

int db_check(const char *addr, const struct wl_workload *wl, int connections, char *err, size_t len)
{
    char m[DB__PG_MESSAGE];
    if (!db_addr_is_pg(addr))
        return 0;
    PGconn *conn = db__pg_connect(addr, false);
    if (!conn) {
        snprintf(err, len, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    if (PQstatus(conn) != CONNECTION_OK) {
        db__pg_message(conn, NULL, m, sizeof(m));
        snprintf(err, len, "cannot connect: %s", m);
        rc = db__pg_connect_errno(conn);
    } else if ((rc = check_queries(conn, wl, err, len)) == 0 &&
               (rc = check_latency(conn, wl, err, len)) == 0) {
        int limit = role_limit(conn);
        if (connections > 0 && limit >= 0 && connections > limit) {
            snprintf(err, len,
                     "the engine opens %d connections but role %s may hold %d (the budget: "
                     "fewer workers, loops or --db-conns, or a larger overlap pg --connections)",
                     connections, PQuser(conn), limit);
            rc = -EUSERS;
        }
    }
    PQfinish(conn);
    return rc;
}
