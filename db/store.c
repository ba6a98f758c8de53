/* The SQLite side of the server: opening the database, building the dataset
 * or running the user's init script, preparing every query of the workload,
 * and running one query into a whole response frame. One connection, used
 * by the server's single thread only. */
#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"

struct db__store {
    sqlite3 *db;
    const struct wl_workload *wl;
    sqlite3_stmt **stmts; /* one per wl->queries[i], prepared persistent */
    uint8_t *frame;       /* the response being built: grows up to DB_MAX_FRAME */
    size_t cap;
};

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "database: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Inserts the dataset's rows (dataset.c) with one prepared statement per
 * table, in the open transaction. */
static int insert_rows(sqlite3 *db, uint64_t seed, char *err, size_t errlen)
{
    int32_t *numbers = malloc(DB_WORLD_ROWS * sizeof(*numbers));
    sqlite3_stmt *world = NULL, *fortune = NULL;
    int rc = -1;
    if (!numbers)
        goto out;
    db_world_numbers(seed, numbers);
    if (sqlite3_prepare_v2(db, "INSERT INTO World VALUES (?, ?)", -1, &world, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO Fortune VALUES (?, ?)", -1, &fortune, NULL))
        goto out;
    for (int id = 1; id <= DB_WORLD_ROWS; id++) {
        sqlite3_bind_int(world, 1, id);
        sqlite3_bind_int64(world, 2, numbers[id - 1]);
        if (sqlite3_step(world) != SQLITE_DONE)
            goto out;
        sqlite3_reset(world);
    }
    for (int id = 1; id <= DB_FORTUNE_ROWS; id++) {
        sqlite3_bind_int(fortune, 1, id);
        sqlite3_bind_text(fortune, 2, db_fortune_message(id), -1, SQLITE_STATIC);
        if (sqlite3_step(fortune) != SQLITE_DONE)
            goto out;
        sqlite3_reset(fortune);
    }
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "database: building the dataset: %s",
                 numbers ? sqlite3_errmsg(db) : "out of memory");
    free(numbers);
    sqlite3_finalize(world);
    sqlite3_finalize(fortune);
    return rc;
}

static int build_techempower(sqlite3 *db, uint64_t seed, char *err, size_t errlen)
{
    if (exec(db,
             "BEGIN;"
             "CREATE TABLE World(id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL);"
             "CREATE TABLE Fortune(id INTEGER PRIMARY KEY, message TEXT NOT NULL);",
             err, errlen) < 0)
        return -1;
    if (insert_rows(db, seed, err, errlen) < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec(db, "COMMIT", err, errlen);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the init script: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *t = realloc(text, cap = cap ? cap * 2 : 8192);
            if (!t) {
                free(text);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    text[len] = '\0';
    fclose(f);
    return text;
}

static int line_at(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

/* Runs the user's script statement by statement, so an error names the line
 * of the statement (or of the token SQLite points at). */
static int run_script(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char *text = read_file(path, err, errlen);
    if (!text)
        return -1;
    const char *p = text;
    int rc = 0;
    while (*p && rc == 0) {
        sqlite3_stmt *st = NULL;
        const char *tail;
        while (isspace((unsigned char)*p))
            p++;
        if (sqlite3_prepare_v2(db, p, -1, &st, &tail) != SQLITE_OK) {
            int off = sqlite3_error_offset(db);
            snprintf(err, errlen, "%s:%d: %s", path, line_at(text, off >= 0 ? p + off : p),
                     sqlite3_errmsg(db));
            rc = -1;
            break;
        }
        while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (st && rc != SQLITE_DONE)
            snprintf(err, errlen, "%s:%d: %s", path, line_at(text, p), sqlite3_errmsg(db));
        rc = !st || rc == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
        p = tail;
    }
    free(text);
    return rc;
}

/* Prepares query i; an error names the workload file and the query's line. */
static int prepare_query(struct db__store *st, int i, char *err, size_t errlen)
{
    const struct wl_query *q = &st->wl->queries[i];
    const char *tail = NULL;
    int rc =
        sqlite3_prepare_v3(st->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmts[i], &tail);
    const char *why = NULL;
    if (rc != SQLITE_OK)
        why = sqlite3_errmsg(st->db);
    else if (!st->stmts[i])
        why = "the sql holds no statement (expected one)";
    else if (tail && tail[strspn(tail, " \t\r\n;")])
        why = "the sql holds more than one statement (expected one)";
    else if (sqlite3_bind_parameter_count(st->stmts[i]) != q->nparams)
        why = "the sql's placeholders and params differ in number (expected one param per ?)";
    if (!why)
        return 0;
    snprintf(err, errlen, "%s:%d: query %s: %s", st->wl->path, q->line, q->name, why);
    return -1;
}

/* Opens the database: a fresh in-memory one, a fresh file built from the
 * dataset, or an existing file as it is. status 1 for the system, 2 for the
 * user's input. */
static int open_db(struct db__store *st, const char *file, uint64_t seed, char *err, size_t errlen,
                   int *status)
{
    const struct wl_workload *wl = st->wl;
    bool fresh = !file || access(file, F_OK) != 0;
    *status = 1;
    if (sqlite3_open_v2(file ? file : ":memory:", &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", file ? file : "database",
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return -1;
    }
    if (file && exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", err, errlen))
        return -1;
    if (!fresh)
        return 0;
    if (wl->dataset == WL_DATASET_TECHEMPOWER && build_techempower(st->db, seed, err, errlen))
        return -1;
    *status = 2;
    if (wl->init_path && run_script(st->db, wl->init_path, err, errlen) < 0)
        return -1;
    return 0;
}

int db__store_open(const struct wl_workload *wl, const char *file, uint64_t seed,
                   struct db__store **out, char *err, size_t errlen, int *status)
{
    struct db__store *st = calloc(1, sizeof(*st));
    bool existed = file && access(file, F_OK) == 0;
    if (!st) {
        snprintf(err, errlen, "out of memory");
        *status = 1;
        return -1;
    }
    st->wl = wl;
    st->stmts = calloc((size_t)wl->nqueries + 1, sizeof(*st->stmts));
    st->cap = 4096;
    st->frame = malloc(st->cap);
    if (!st->stmts || !st->frame) {
        snprintf(err, errlen, "out of memory");
        *status = 1;
        goto fail;
    }
    if (open_db(st, file, seed, err, errlen, status) < 0)
        goto fail;
    *status = 2;
    for (int i = 0; i < wl->nqueries; i++)
        if (prepare_query(st, i, err, errlen) < 0)
            goto fail;
    *out = st;
    return 0;
fail:
    db__store_close(st);
    if (file && !existed) { /* never leave a half-built file behind */
        char side[4096];
        unlink(file);
        snprintf(side, sizeof(side), "%s-wal", file);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", file);
        unlink(side);
    }
    return -1;
}

void db__store_close(struct db__store *st)
{
    if (!st)
        return;
    for (int i = 0; st->stmts && i < st->wl->nqueries; i++)
        sqlite3_finalize(st->stmts[i]);
    sqlite3_close(st->db);
    free(st->stmts);
    free(st->frame);
    free(st);
}

/* ---- running a query ---- */

static const struct db_frame_out *error_frame(struct db__store *st, struct db_frame_out *fo,
                                              uint32_t tag, enum db_status status, const char *fmt,
                                              ...) __attribute__((format(printf, 5, 6)));

static const struct db_frame_out *error_frame(struct db__store *st, struct db_frame_out *fo,
                                              uint32_t tag, enum db_status status, const char *fmt,
                                              ...)
{
    char msg[DB_MAX_MESSAGE + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* st->cap is at least 4096, more than any error frame */
    fo->size = (size_t)db_encode_error(st->frame, st->cap, tag, status, msg);
    fo->data = st->frame;
    fo->status = status;
    return fo;
}

static const char *type_name(enum db_type t)
{
    static const char *names[] = {"null", "int", "real", "text"};
    return (unsigned)t <= DB_TEXT ? names[t] : "unknown";
}

static enum db_type expected_type(enum wl_param_kind k)
{
    switch (k) {
    case WL_PARAM_INT:
    case WL_PARAM_INT_CONST: return DB_INT;
    case WL_PARAM_REAL_CONST: return DB_REAL;
    case WL_PARAM_TEXT_CONST: return DB_TEXT;
    default: return DB_NULL;
    }
}

static void bind_value(sqlite3_stmt *stmt, int i, const struct db_value *v)
{
    switch (v->type) {
    case DB_INT: sqlite3_bind_int64(stmt, i, v->i); break;
    case DB_REAL: sqlite3_bind_double(stmt, i, v->r); break;
    case DB_TEXT: sqlite3_bind_text(stmt, i, v->text, (int)v->len, SQLITE_STATIC); break;
    default: sqlite3_bind_null(stmt, i); break;
    }
}

/* Makes room for n more bytes at len, never past DB_MAX_FRAME: 0 or -1. */
static int frame_room(struct db__store *st, size_t len, size_t n)
{
    if (len + n > DB_MAX_FRAME)
        return -1;
    if (len + n <= st->cap)
        return 0;
    size_t cap = st->cap;
    while (cap < len + n)
        cap *= 2;
    if (cap > DB_MAX_FRAME)
        cap = DB_MAX_FRAME;
    uint8_t *f = realloc(st->frame, cap);
    if (!f)
        return -1;
    st->frame = f;
    st->cap = cap;
    return 0;
}

/* Reads column c of the current row into v; text points into SQLite. */
static void column_value(sqlite3_stmt *stmt, int c, struct db_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (sqlite3_column_type(stmt, c)) {
    case SQLITE_INTEGER:
        v->type = DB_INT;
        v->i = sqlite3_column_int64(stmt, c);
        break;
    case SQLITE_FLOAT:
        v->type = DB_REAL;
        v->r = sqlite3_column_double(stmt, c);
        break;
    case SQLITE_TEXT:
        v->type = DB_TEXT;
        v->text = (const char *)sqlite3_column_text(stmt, c);
        v->len = (uint32_t)sqlite3_column_bytes(stmt, c);
        break;
    case SQLITE_BLOB:
        v->type = DB_TEXT;
        v->text = sqlite3_column_blob(stmt, c);
        v->len = (uint32_t)sqlite3_column_bytes(stmt, c);
        break;
    default: v->type = DB_NULL; break;
    }
}

/* Steps the bound statement, encoding rows after the result head. Returns
 * DB_OK with *len and *nrows, DB_ETOOBIG or DB_ESQL. */
static enum db_status step_rows(struct db__store *st, sqlite3_stmt *stmt, int ncols, size_t *len,
                                uint32_t *nrows)
{
    int rc;
    *len = DB__RESULT_HEAD;
    *nrows = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*nrows >= DB_MAX_ROWS || (size_t)(*nrows + 1) * (size_t)ncols > DB_MAX_CELLS)
            return DB_ETOOBIG;
        for (int c = 0; c < ncols; c++) {
            struct db_value v;
            column_value(stmt, c, &v);
            size_t n = db__value_size(&v);
            if (frame_room(st, *len, n) < 0)
                return DB_ETOOBIG;
            db__put_value(st->frame + *len, &v);
            *len += n;
        }
        (*nrows)++;
    }
    return rc == SQLITE_DONE ? DB_OK : DB_ESQL;
}

const struct db_frame_out *db__store_run(struct db__store *st, const struct db_query *q,
                                         struct db_frame_out *fo)
{
    const struct wl_workload *wl = st->wl;
    if (q->query >= wl->nqueries)
        return error_frame(st, fo, q->tag, DB_EQUERY,
                           "unknown query id %u (the workload has %d queries)", q->query,
                           wl->nqueries);
    const struct wl_query *wq = &wl->queries[q->query];
    if (q->nparams != wq->nparams)
        return error_frame(st, fo, q->tag, DB_EPARAMS, "query %s: %u params (expected %d)",
                           wq->name, q->nparams, wq->nparams);
    for (int i = 0; i < q->nparams; i++) {
        enum db_type want = expected_type(wq->params[i].kind);
        if (q->params[i].type != want)
            return error_frame(st, fo, q->tag, DB_EPARAMS, "query %s: param %d is %s (expected %s)",
                               wq->name, i + 1, type_name(q->params[i].type), type_name(want));
    }
    sqlite3_stmt *stmt = st->stmts[q->query];
    for (int i = 0; i < q->nparams; i++)
        bind_value(stmt, i + 1, &q->params[i]);
    int ncols = sqlite3_column_count(stmt);
    size_t len;
    uint32_t nrows;
    enum db_status status = step_rows(st, stmt, ncols, &len, &nrows);
    if (status == DB_ESQL)
        error_frame(st, fo, q->tag, DB_ESQL, "query %s: %s", wq->name, sqlite3_errmsg(st->db));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (status == DB_ESQL)
        return fo;
    if (status == DB_ETOOBIG)
        return error_frame(st, fo, q->tag, DB_ETOOBIG,
                           "query %s: result over the limits (%d rows, %d cells, %u bytes)",
                           wq->name, DB_MAX_ROWS, DB_MAX_CELLS, DB_MAX_FRAME);
    db__put_u32(st->frame, (uint32_t)(len - DB__LEN_BYTES));
    st->frame[4] = DB_FRAME_RESULT;
    db__put_u32(st->frame + 5, q->tag);
    st->frame[9] = DB_OK;
    db__put_u32(st->frame + 10, (uint32_t)ncols);
    db__put_u32(st->frame + 14, nrows);
    fo->data = st->frame;
    fo->size = len;
    fo->status = DB_OK;
    return fo;
}
