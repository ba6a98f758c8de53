/* The simulated database: the codec (round trips, every split of a stream,
 * malformed frames), both clients, and `overlap db` as a process: results
 * equal SQLite's, deadline order, a thousand connections, bad frames, clients
 * that vanish, fault injection and shutdown. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "db.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- codec ---- */

static struct db_value int_value(int64_t i)
{
    return (struct db_value){.type = DB_INT, .i = i};
}

static struct db_value real_value(double r)
{
    return (struct db_value){.type = DB_REAL, .r = r};
}

static struct db_value text_value(const char *t)
{
    return (struct db_value){.type = DB_TEXT, .text = t, .len = (uint32_t)strlen(t)};
}

static bool same_value(const struct db_value *a, const struct db_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case DB_INT: return a->i == b->i;
    case DB_REAL: return memcmp(&a->r, &b->r, sizeof(double)) == 0;
    case DB_TEXT: return a->len == b->len && !memcmp(a->text, b->text, a->len);
    default: return true;
    }
}

Test(codec, query_round_trip_with_every_type)
{
    struct db_value p[5] = {int_value(-9007199254740993LL),
                            real_value(-0.125),
                            text_value("h\xc3\xa9llo\0x"),
                            {.type = DB_NULL},
                            text_value("")};
    p[2].len = 8; /* text may hold a NUL */
    uint8_t buf[256];
    int n = db_encode_query(buf, sizeof(buf), 0xdeadbeef, 7, p, 5);
    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, db_query_size(p, 5));
    cr_expect_eq(db_frame_size(buf, (size_t)n, DB_MAX_QUERY_FRAME), n);
    cr_expect_eq(db_frame_size(buf, (size_t)n - 1, DB_MAX_QUERY_FRAME), 0);
    struct db_query q;
    cr_assert_eq(db_decode_query(buf, (size_t)n, &q), DB_OK);
    cr_expect_eq(q.tag, 0xdeadbeef);
    cr_expect_eq(q.query, 7);
    cr_assert_eq(q.nparams, 5);
    for (int i = 0; i < 5; i++)
        cr_expect(same_value(&q.params[i], &p[i]), "param %d", i);
}

Test(codec, encoder_limits)
{
    struct db_value p[DB_MAX_PARAMS + 1];
    uint8_t buf[64];
    for (int i = 0; i <= DB_MAX_PARAMS; i++)
        p[i] = int_value(i);
    cr_expect_eq(db_encode_query(buf, sizeof(buf), 1, 0, p, DB_MAX_PARAMS + 1), -EINVAL);
    cr_expect_eq(db_encode_query(buf, 10, 1, 0, p, 1), -ENOSPC);
    static char big[DB_MAX_QUERY_FRAME];
    memset(big, 'x', sizeof(big));
    struct db_value t = {.type = DB_TEXT, .text = big, .len = sizeof(big)};
    static uint8_t out[2 * DB_MAX_QUERY_FRAME];
    cr_expect_eq(db_encode_query(out, sizeof(out), 1, 0, &t, 1), -EINVAL);
    struct db_value bad = {.type = (enum db_type)9};
    cr_expect_eq(db_encode_query(buf, sizeof(buf), 1, 0, &bad, 1), -EINVAL);
    cr_expect_eq(db_encode_error(buf, sizeof(buf), 1, DB_OK, "x"), -EINVAL);
    struct db_value cells[2] = {int_value(1), int_value(2)};
    cr_expect_eq(db_encode_result(buf, sizeof(buf), 1, 1, DB_MAX_ROWS + 1, cells), -EINVAL);
}

/* A stream of every kind of response frame, and its decoding as text. */
static size_t sample_stream(uint8_t *buf, size_t cap)
{
    struct db_value row[4] = {
        int_value(4174), real_value(2.5), text_value("<script>"), {.type = DB_NULL}};
    struct db_value jp = text_value("\xe3\x83\x95\xe3\x83\xac\xe3\x83\xbc\xe3\x83\xa0");
    struct db_value many[6] = {int_value(1), int_value(2),   int_value(3),
                               int_value(4), text_value(""), int_value(-1)};
    size_t n = 0;
    long k;
    k = db_encode_result(buf + n, cap - n, 1, 4, 1, row);
    cr_assert_gt(k, 0);
    n += (size_t)k;
    k = db_encode_error(buf + n, cap - n, 2, DB_EPARAMS, "query q: param 1 is text");
    cr_assert_gt(k, 0);
    n += (size_t)k;
    k = db_encode_result(buf + n, cap - n, 3, 1, 1, &jp);
    cr_assert_gt(k, 0);
    n += (size_t)k;
    k = db_encode_result(buf + n, cap - n, 4, 2, 0, NULL);
    cr_assert_gt(k, 0);
    n += (size_t)k;
    k = db_encode_result(buf + n, cap - n, 5, 2, 3, many);
    cr_assert_gt(k, 0);
    n += (size_t)k;
    return n;
}

static void describe(const struct db_result *r, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "[%u %d %u %u %s", r->tag, r->status, r->ncols, r->nrows,
                                r->message);
    for (uint32_t i = 0; i < r->ncols * r->nrows && n < cap; i++) {
        const struct db_value *v = &r->values[i];
        if (v->type == DB_TEXT)
            n += (size_t)snprintf(out + n, cap - n, " t%.*s", (int)v->len, v->text);
        else if (v->type == DB_INT)
            n += (size_t)snprintf(out + n, cap - n, " i%lld", (long long)v->i);
        else if (v->type == DB_REAL)
            n += (size_t)snprintf(out + n, cap - n, " r%a", v->r);
        else
            n += (size_t)snprintf(out + n, cap - n, " n");
    }
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

/* Feeds data in the pieces that cuts gives and appends every result. */
static int decode_pieces(const uint8_t *data, size_t len, const size_t *cuts, int ncuts, char *out,
                         size_t cap)
{
    struct db_reader r;
    struct db_result res;
    size_t from = 0, n = 0;
    int rc = 0;
    db_reader_init(&r);
    out[0] = '\0';
    for (int i = 0; i <= ncuts && rc >= 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        cr_assert_eq(db_reader_feed(&r, data + from, to - from), 0);
        from = to;
        while ((rc = db_reader_next(&r, &res)) == 1 && n < cap)
            describe(&res, out + n, cap - n), n = strlen(out);
    }
    db_reader_free(&r);
    return rc;
}

Test(codec, every_split_of_a_stream_decodes_the_same)
{
    uint8_t stream[1024];
    size_t len = sample_stream(stream, sizeof(stream));
    char whole[4096], split[4096];
    cr_assert_eq(decode_pieces(stream, len, NULL, 0, whole, sizeof(whole)), 0);
    cr_assert(strstr(whole, "[1 0 4 1  i4174 r0x1.4p+1 t<script> n]") == whole, "%s", whole);
    cr_assert(strstr(whole, "[2 3 0 0 query q: param 1 is text]") != NULL, "%s", whole);
    cr_assert(strstr(whole, "[4 0 2 0 ]") != NULL, "%s", whole);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            cr_assert_eq(decode_pieces(stream, len, cuts, 2, split, sizeof(split)), 0);
            cr_assert_str_eq(split, whole, "cut at %zu and %zu", i, j);
        }
    size_t bytes[1024];
    for (size_t i = 0; i < len; i++)
        bytes[i] = i;
    cr_assert_eq(decode_pieces(stream, len, bytes, (int)len, split, sizeof(split)), 0);
    cr_assert_str_eq(split, whole, "one byte at a time");
}

/* A reader given one frame: what next() says. */
static int next_of(const uint8_t *frame, size_t len)
{
    struct db_reader r;
    struct db_result res;
    db_reader_init(&r);
    cr_assert_eq(db_reader_feed(&r, frame, len), 0);
    int rc = db_reader_next(&r, &res);
    db_reader_free(&r);
    return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

Test(codec, malformed_responses_are_refused)
{
    uint8_t f[64];
    struct db_value v = int_value(5);
    long n = db_encode_result(f, sizeof(f), 9, 1, 1, &v);
    cr_assert_eq(n, 27);
    cr_expect_eq(next_of(f, (size_t)n), 1);
    cr_expect_eq(next_of(f, (size_t)n - 1), 0, "a partial frame waits");
    f[4] = DB_FRAME_QUERY;
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "a query frame from the server");
    f[4] = DB_FRAME_RESULT;
    f[18] = 7;
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "unknown value type");
    f[18] = DB_INT;
    put32(f, 27); /* one byte longer than the values */
    f[27] = 0;
    cr_expect_eq(next_of(f, 31), -EBADMSG, "trailing bytes");
    put32(f, 22); /* the value cut short */
    cr_expect_eq(next_of(f, 26), -EBADMSG, "truncated value");
    put32(f, 3);
    cr_expect_eq(next_of(f, 8), -EBADMSG, "length too short for a header");
    put32(f, DB_MAX_FRAME);
    cr_expect_eq(next_of(f, 8), -EMSGSIZE, "length over the limit");
    n = db_encode_result(f, sizeof(f), 9, 1, 1, &v);
    put32(f + 14, DB_MAX_ROWS + 1);
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "rows over the limit");
    put32(f + 14, 2);
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "more cells than bytes");
    n = db_encode_error(f, sizeof(f), 9, DB_ESQL, "no");
    cr_expect_eq(next_of(f, (size_t)n), 1);
    f[9] = DB_OK;
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "an error frame with status ok");
    f[9] = DB_ESQL;
    f[11] = 5;
    cr_expect_eq(next_of(f, (size_t)n), -EBADMSG, "message length beyond the frame");
}

Test(codec, malformed_queries_keep_their_tag)
{
    uint8_t f[64];
    struct db_value p = int_value(1);
    struct db_query q;
    int n = db_encode_query(f, sizeof(f), 77, 0, &p, 1);
    cr_assert_eq(n, 22);
    f[13] = 9; /* unknown type */
    cr_expect_eq(db_decode_query(f, (size_t)n, &q), DB_EMALFORMED);
    cr_expect_eq(q.tag, 77);
    f[13] = DB_INT;
    f[12] = DB_MAX_PARAMS + 1;
    cr_expect_eq(db_decode_query(f, (size_t)n, &q), DB_EMALFORMED, "too many params");
    f[12] = 2;
    cr_expect_eq(db_decode_query(f, (size_t)n, &q), DB_EMALFORMED, "params cut short");
    f[12] = 0;
    cr_expect_eq(db_decode_query(f, (size_t)n, &q), DB_EMALFORMED, "trailing bytes");
    f[12] = 1;
    f[4] = DB_FRAME_RESULT;
    cr_expect_eq(db_decode_query(f, (size_t)n, &q), DB_EMALFORMED, "not a query");
    cr_expect_eq(q.tag, 77);
    cr_expect_eq(db_decode_query(f, 4, &q), DB_EMALFORMED);
    cr_expect_eq(q.tag, 0, "no tag in four bytes");
}

/* ---- a workload for the server ---- */

static char dir[256];

static void make_dir(void)
{
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[2][512];
    static int which;
    char *p = path[which++ % 2];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Query ids are positions in this file. */
enum { Q_WORLD, Q_FORTUNES, Q_STATS, Q_ECHO, Q_SOON, Q_LATER, Q_LAST, Q_SLOW, Q_UPDATE, Q_BIG };

static const char workload[] =
    "[database]\ndataset = techempower\n"
    "[query.world]\nsql = SELECT id, randomNumber FROM World WHERE id = ?\n"
    "params = int 1 10000\nlatency = fixed 0ms\n"
    "[query.fortunes]\nsql = SELECT id, message FROM Fortune ORDER BY message\n"
    "latency = fixed 0ms\n"
    "[query.stats]\nsql = SELECT COUNT(*), AVG(randomNumber), NULL, x'00ff41' FROM World\n"
    "  WHERE randomNumber < ?\nparams = int 1 10000\nlatency = fixed 1ms\n"
    "[query.echo]\nsql = SELECT ? || '!', ? * 2, ? IS NULL\n"
    "params = const \"h\xc3\xa9llo\", const 1.25, null\nlatency = fixed 0ms\n"
    "[query.soon]\nsql = SELECT 10\nlatency = fixed 10ms\n"
    "[query.later]\nsql = SELECT 110\nlatency = fixed 110ms\n"
    "[query.last]\nsql = SELECT 210\nlatency = fixed 210ms\n"
    "[query.slow]\nsql = SELECT ?\nparams = int 1 9\nlatency = fixed 200ms\n"
    "[query.update]\nsql = UPDATE World SET randomNumber = ? WHERE id = ?\n"
    "params = int 1 10000, int 1 10000\nlatency = fixed 0ms\n"
    "[query.big]\nsql = SELECT a.id FROM World a, World b LIMIT 10001\nlatency = fixed 0ms\n"
    "[request.r]\nsteps = query world\n";

/* Every server a test starts; the suite's fini kills what an assertion left
 * running, so a failing test never leaves a server behind. */
static struct child servers[4];
static int nservers;

static void remove_dir(void)
{
    for (int i = 0; i < nservers; i++)
        child_kill(&servers[i]);
    child_tmpdir_remove(dir);
}

static struct child *start(const char *const *args)
{
    cr_assert_lt(nservers, 4);
    struct child *c = &servers[nservers++];
    cr_assert_eq(child_start(c, args, 20000), 0, "overlap db did not start");
    return c;
}

/* Starts `overlap db` on the test workload with extra flags (NULL-ended). */
static struct child *start_db(const char *const *extra)
{
    const char *args[32] = {"db", "--workload", write_file("w.ini", workload)};
    int n = 3;
    while (extra && *extra && n < 30)
        args[n++] = *extra++;
    args[n] = NULL;
    return start(args);
}

static void stop_db(struct child *c)
{
    cr_expect_eq(child_stop(c, 10000), 0, "overlap db exits 0 after SIGTERM (and leaks nothing)");
}

static void query_ok(struct db_conn *c, uint16_t q, const struct db_value *p, int n,
                     struct db_result *res)
{
    int rc = db_conn_query(c, q, p, n, 5000000000ull, res);
    cr_assert_eq(rc, 0, "query %d: %s", q, strerror(-rc));
}

/* ---- the server's answers against SQLite's ---- */

static void expect_same_rows(sqlite3 *db, const char *sql, const struct db_value *p, int n,
                             const struct db_result *res)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    for (int i = 0; i < n; i++) {
        if (p[i].type == DB_INT)
            sqlite3_bind_int64(st, i + 1, p[i].i);
        else if (p[i].type == DB_REAL)
            sqlite3_bind_double(st, i + 1, p[i].r);
        else if (p[i].type == DB_TEXT)
            sqlite3_bind_text(st, i + 1, p[i].text, (int)p[i].len, SQLITE_STATIC);
    }
    cr_assert_eq(res->status, DB_OK, "%s", res->message);
    cr_assert_eq(res->ncols, (uint32_t)sqlite3_column_count(st));
    uint32_t row = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cr_assert_lt(row, res->nrows, "%s: more rows in SQLite", sql);
        for (uint32_t c = 0; c < res->ncols; c++) {
            const struct db_value *v = &res->values[row * res->ncols + c];
            switch (sqlite3_column_type(st, (int)c)) {
            case SQLITE_INTEGER:
                cr_expect_eq(v->type, DB_INT);
                cr_expect_eq(v->i, sqlite3_column_int64(st, (int)c));
                break;
            case SQLITE_FLOAT:
                cr_expect_eq(v->type, DB_REAL);
                cr_expect_eq(v->r, sqlite3_column_double(st, (int)c));
                break;
            case SQLITE_NULL: cr_expect_eq(v->type, DB_NULL); break;
            default:
                cr_expect_eq(v->type, DB_TEXT);
                cr_expect_eq(v->len, (uint32_t)sqlite3_column_bytes(st, (int)c));
                cr_expect(!memcmp(v->text, sqlite3_column_blob(st, (int)c), v->len));
            }
        }
        row++;
    }
    cr_expect_eq(row, res->nrows, "%s: row count", sql);
    sqlite3_finalize(st);
}

Test(server, results_equal_sqlite_run_directly, .init = make_dir, .fini = remove_dir)
{
    char file[512];
    snprintf(file, sizeof(file), "%s/db.sqlite", dir);
    struct child *c;
    c = start_db((const char *[]){"--file", file, "--seed", "7", NULL});
    struct db_conn *conn;
    struct db_result res;
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    const struct {
        uint16_t q;
        const char *sql;
        int n;
        struct db_value p[3];
    } cases[] = {
        {Q_WORLD, "SELECT id, randomNumber FROM World WHERE id = ?", 1, {int_value(1)}},
        {Q_WORLD, "SELECT id, randomNumber FROM World WHERE id = ?", 1, {int_value(10000)}},
        {Q_WORLD, "SELECT id, randomNumber FROM World WHERE id = ?", 1, {int_value(10001)}},
        {Q_FORTUNES, "SELECT id, message FROM Fortune ORDER BY message", 0, {{0}}},
        {Q_STATS,
         "SELECT COUNT(*), AVG(randomNumber), NULL, x'00ff41' FROM World WHERE randomNumber < ?",
         1,
         {int_value(5000)}},
        {Q_ECHO,
         "SELECT ? || '!', ? * 2, ? IS NULL",
         3,
         {text_value("h\xc3\xa9llo"), real_value(1.25), {.type = DB_NULL}}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        query_ok(conn, cases[i].q, cases[i].p, cases[i].n, &res);
        expect_same_rows(db, cases[i].sql, cases[i].p, cases[i].n, &res);
    }
    /* the dataset: 10,000 worlds with randomNumber in 1..10000, 12 fortunes, the HTML one and
     * a non-ASCII one among them */
    query_ok(conn, Q_FORTUNES, NULL, 0, &res);
    cr_expect_eq(res.nrows, 12);
    bool script = false, wide = false;
    for (uint32_t r = 0; r < res.nrows; r++) {
        const struct db_value *m = &res.values[r * 2 + 1];
        script |= memmem(m->text, m->len, "<script>", 8) != NULL;
        for (uint32_t k = 0; k < m->len; k++)
            wide |= (unsigned char)m->text[k] >= 0x80;
    }
    cr_expect(script && wide);
    struct db_value lim = int_value(10001);
    query_ok(conn, Q_STATS, &lim, 1, &res);
    cr_expect_eq(res.values[0].i, 10000);
    cr_expect(res.values[1].r > 4000 && res.values[1].r < 6000, "mean %f", res.values[1].r);
    /* writes are visible to the next read */
    struct db_value up[2] = {int_value(4242), int_value(17)}, id = int_value(17);
    query_ok(conn, Q_UPDATE, up, 2, &res);
    cr_expect_eq(res.ncols, 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[1].i, 4242);
    sqlite3_close(db);
    db_conn_close(conn);
    stop_db(c);
}

Test(server, an_existing_file_is_used_as_it_is, .init = make_dir, .fini = remove_dir)
{
    char file[512];
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value up[2] = {int_value(99999), int_value(3)}, id = int_value(3);
    snprintf(file, sizeof(file), "%s/db.sqlite", dir);
    c = start_db((const char *[]){"--file", file, NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_UPDATE, up, 2, &res);
    db_conn_close(conn);
    stop_db(c);
    c = start_db((const char *[]){"--file", file, NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[1].i, 99999, "the second start kept the first one's write");
    db_conn_close(conn);
    stop_db(c);
}

Test(server, the_same_seed_builds_the_same_dataset, .init = make_dir, .fini = remove_dir)
{
    uint64_t sums[3];
    const char *seeds[3] = {"5", "5", "6"};
    for (int i = 0; i < 3; i++) {
        struct child *c;
        struct db_conn *conn;
        struct db_result res;
        c = start_db((const char *[]){"--seed", seeds[i], NULL});
        cr_assert_eq(db_conn_open(c->addr, &conn), 0);
        sums[i] = 0;
        for (int id = 1; id <= 50; id++) {
            struct db_value p = int_value(id);
            query_ok(conn, Q_WORLD, &p, 1, &res);
            sums[i] = sums[i] * 31 + (uint64_t)res.values[1].i;
        }
        db_conn_close(conn);
        stop_db(c);
    }
    cr_expect_eq(sums[0], sums[1]);
    cr_expect_neq(sums[0], sums[2]);
}

/* ---- deadlines ---- */

struct arrivals {
    uint32_t tags[8];
    uint64_t at[8];
    int n;
};

static void note_arrival(void *ctx, const struct db_result *res)
{
    struct arrivals *a = ctx;
    cr_assert_lt(a->n, 8);
    cr_expect_eq(res->status, DB_OK, "%s", res->message);
    a->tags[a->n] = res->tag;
    a->at[a->n++] = now_ns();
}

/* Waits on one db_async until want answers came or 10 s passed. */
static void pump(struct db_async *a, int want, const int *answered, db_on_result fn, void *ctx)
{
    uint64_t end = now_ns() + 10000000000ull;
    while (*answered < want && now_ns() < end) {
        struct pollfd p = {.fd = db_async_fd(a),
                           .events = POLLIN | (db_async_want_write(a) ? POLLOUT : 0)};
        cr_assert_geq(poll(&p, 1, 100), 0);
        if (p.revents & POLLOUT)
            cr_assert_eq(db_async_on_writable(a), 0);
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            cr_assert_eq(db_async_on_readable(a, fn, ctx), 0);
    }
}

Test(server, answers_leave_in_deadline_order_never_early, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_async *a;
    struct arrivals got = {0};
    c = start_db(NULL);
    cr_assert_eq(db_async_open(c->addr, &a), 0);
    /* 100 ms apart: the server reads the three frames within microseconds
     * of each other, and even a read delayed by tens of ms on a loaded
     * machine cannot reorder deadlines that far apart. */
    const uint16_t order[3] = {Q_LAST, Q_SOON, Q_LATER};
    const uint64_t latency[3] = {210000000, 10000000, 110000000};
    uint64_t sent[3];
    for (int i = 0; i < 3; i++) {
        sent[i] = now_ns();
        cr_assert_eq(db_async_send(a, 100 + (uint32_t)i, order[i], NULL, 0), 0);
    }
    cr_expect_eq(db_async_inflight(a), 3);
    pump(a, 3, &got.n, note_arrival, &got);
    cr_assert_eq(got.n, 3);
    cr_expect_eq(got.tags[0], 101, "10 ms first");
    cr_expect_eq(got.tags[1], 102, "110 ms second");
    cr_expect_eq(got.tags[2], 100, "210 ms last");
    for (int i = 0; i < 3; i++) {
        int k = (int)got.tags[i] - 100;
        cr_expect_geq(got.at[i], sent[k] + latency[k], "tag %u answered before its deadline",
                      got.tags[i]);
    }
    cr_expect_eq(db_async_inflight(a), 0);
    db_async_close(a);
    stop_db(c);
}

Test(server, a_timed_out_answer_is_skipped_later, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value p = int_value(5), id = int_value(77);
    c = start_db(NULL);
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    uint64_t t0 = now_ns();
    cr_expect_eq(db_conn_query(conn, Q_SLOW, &p, 1, 20000000, &res), -ETIMEDOUT);
    cr_expect_geq(now_ns() - t0, 20000000ull);
    /* The same query again, for another value: it reached the server after
     * the first, so its deadline is later, and answers leave in deadline
     * order: the late answer is in the socket before this one, however long
     * either took (no sleep decides it). */
    struct db_value q = int_value(9);
    query_ok(conn, Q_SLOW, &q, 1, &res);
    cr_expect_eq(res.values[0].i, 9, "the answer to this query, not the late one (5)");
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.ncols, 2);
    cr_expect_eq(res.values[0].i, 77, "the answer to this query, not the late one");
    db_conn_close(conn);
    stop_db(c);
}

/* A TCP port on 127.0.0.1 that nothing listens on: bound, then closed. */
static int refusing_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* db_async_open never blocks the caller's loop: over TCP it returns with the
 * connect under way, and a refused connect is reported as an error by the
 * event that ends it, not by the open. */
Test(client, async_open_reports_a_refused_connect_later)
{
    char addr[64];
    struct db_async *a;
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", refusing_port());
    int rc = db_async_open(addr, &a); /* Linux answers a loopback connect EINPROGRESS */
    cr_assert_eq(rc, 0, "open: %s", strerror(-rc));
    cr_assert(db_async_connecting(a), "the connect is under way on return");
    cr_assert(db_async_want_write(a), "EPOLLOUT is wanted until the connect ends");
    cr_assert_eq(db_async_send(a, 1, 0, NULL, 0), 0, "a query waits for the connect");
    struct pollfd p = {.fd = db_async_fd(a), .events = POLLIN | POLLOUT};
    cr_assert_eq(poll(&p, 1, 5000), 1, "the connect ends");
    rc = (p.revents & POLLOUT) ? db_async_on_writable(a) : db_async_on_readable(a, NULL, NULL);
    cr_assert_eq(rc, -ECONNREFUSED, "got %d (%s)", rc, strerror(-rc));
    db_async_close(a);
}

static void ignore_result(void *ctx, const struct db_result *res)
{
    (void)ctx;
    (void)res;
}

/* Queries sent while the connect is under way leave once it is done. */
Test(client, async_queries_sent_while_connecting_arrive)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    char addr[64];
    struct db_async *a;
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
    cr_assert_eq(db_async_open(addr, &a), 0);
    struct db_value p = int_value(7);
    cr_assert_eq(db_async_send(a, 42, 3, &p, 1), 0);
    cr_assert_eq(db_async_inflight(a), 1);
    uint64_t end = now_ns() + 5000000000ull;
    while (db_async_want_write(a) && now_ns() < end) {
        struct pollfd pf = {.fd = db_async_fd(a), .events = POLLIN | POLLOUT};
        cr_assert_geq(poll(&pf, 1, 100), 0);
        if (pf.revents & POLLOUT)
            cr_assert_eq(db_async_on_writable(a), 0);
        else if (pf.revents)
            cr_assert_eq(db_async_on_readable(a, ignore_result, NULL), 0);
    }
    cr_assert_not(db_async_connecting(a), "connected");
    cr_assert_not(db_async_want_write(a), "the queued query was written");
    int sfd = accept(lfd, NULL, NULL);
    cr_assert_geq(sfd, 0);
    uint8_t buf[256], want[256];
    int n = db_encode_query(want, sizeof(want), 42, 3, &p, 1);
    cr_assert_gt(n, 0);
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = recv(sfd, buf + got, sizeof(buf) - got, 0);
        cr_assert_gt(r, 0);
        got += (size_t)r;
    }
    cr_assert_eq(got, (size_t)n);
    cr_assert_arr_eq(buf, want, (size_t)n, "the frame arrives whole");
    close(sfd);
    close(lfd);
    db_async_close(a);
}

/* ---- many connections ---- */

struct many {
    int answered;
    int wrong;
};

static void count_answer(void *ctx, const struct db_result *res)
{
    struct many *m = ctx;
    m->answered++;
    m->wrong += res->status != DB_OK || res->nrows != 1 || res->values[0].i != res->tag;
}

Test(server, a_thousand_connections_with_queries_in_flight, .init = make_dir, .fini = remove_dir)
{
    enum { CONNS = 1000, EACH = 3 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < CONNS + 64 && rl.rlim_max >= CONNS + 64) {
        rl.rlim_cur = CONNS + 64;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    cr_assert_geq(rl.rlim_cur, CONNS + 64, "the hard limit on descriptors is too low");
    struct child *c;
    c = start_db(NULL);
    static struct db_async *a[CONNS];
    struct many m = {0};
    int ep = epoll_create1(0);
    for (int i = 0; i < CONNS; i++) {
        cr_assert_eq(db_async_open(c->addr, &a[i]), 0, "connection %d", i);
        for (int k = 0; k < EACH; k++) {
            struct db_value id = int_value(1 + (i * EACH + k) % 10000);
            cr_assert_eq(db_async_send(a[i], (uint32_t)id.i, Q_WORLD, &id, 1), 0);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, db_async_fd(a[i]), &ev), 0);
    }
    uint64_t end = now_ns() + 30000000000ull;
    while (m.answered < CONNS * EACH && now_ns() < end) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++)
            cr_assert_eq(db_async_on_readable(a[evs[i].data.u32], count_answer, &m), 0);
    }
    cr_expect_eq(m.answered, CONNS * EACH);
    cr_expect_eq(m.wrong, 0);
    for (int i = 0; i < CONNS; i++) {
        cr_expect_eq(db_async_inflight(a[i]), 0);
        db_async_close(a[i]);
    }
    close(ep);
    stop_db(c);
}

/* ---- bad input on the wire ---- */

static int raw_connect(const char *addr)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert(!strncmp(addr, "unix:", 5));
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", addr + 5);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
    return fd;
}

/* Sends bytes and reads one response frame; 1 and *res, or 0 at EOF. */
static int exchange(int fd, struct db_reader *r, const void *data, size_t len,
                    struct db_result *res)
{
    if (len)
        cr_assert_eq(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
    for (;;) {
        int rc = db_reader_next(r, res);
        cr_assert_geq(rc, 0);
        if (rc == 1)
            return 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 10000), 1, "no answer within 10 s");
        size_t room;
        uint8_t *buf = db_reader_space(r, &room);
        ssize_t n = recv(fd, buf, room, 0);
        if (n <= 0)
            return 0;
        db_reader_commit(r, (size_t)n);
    }
}

static size_t query_frame(uint8_t *f, uint32_t tag, uint16_t q, const struct db_value *p, int n)
{
    int len = db_encode_query(f, 256, tag, q, p, n);
    cr_assert_gt(len, 0);
    return (size_t)len;
}

static void expect_error(int fd, struct db_reader *r, const void *f, size_t len, uint32_t tag,
                         enum db_status status, const char *fragment)
{
    struct db_result res;
    cr_assert_eq(exchange(fd, r, f, len, &res), 1, "no error frame for tag %u", tag);
    cr_expect_eq(res.tag, tag);
    cr_expect_eq(res.status, status, "status %d: %s", res.status, res.message);
    cr_expect(strstr(res.message, fragment) != NULL, "want '%s' in '%s'", fragment, res.message);
}

Test(server, bad_frames_get_error_frames_and_the_connection_goes_on, .init = make_dir,
     .fini = remove_dir)
{
    struct child *c;
    struct db_reader r;
    struct db_result res;
    uint8_t f[256];
    c = start_db(NULL);
    int fd = raw_connect(c->addr);
    db_reader_init(&r);
    struct db_value id = int_value(8), two[2] = {int_value(1), int_value(2)};
    struct db_value text = text_value("8");
    size_t n = query_frame(f, 11, 999, &id, 1);
    expect_error(fd, &r, f, n, 11, DB_EQUERY, "unknown query id 999");
    n = query_frame(f, 12, Q_WORLD, two, 2);
    expect_error(fd, &r, f, n, 12, DB_EPARAMS, "2 params (expected 1)");
    n = query_frame(f, 13, Q_WORLD, &text, 1);
    expect_error(fd, &r, f, n, 13, DB_EPARAMS, "param 1 is text (expected int)");
    n = query_frame(f, 14, Q_WORLD, &id, 1);
    f[13] = 42; /* an unknown value type */
    expect_error(fd, &r, f, n, 14, DB_EMALFORMED, "malformed");
    n = query_frame(f, 15, Q_WORLD, &id, 1);
    f[4] = DB_FRAME_RESULT;
    expect_error(fd, &r, f, n, 15, DB_EMALFORMED, "malformed");
    n = query_frame(f, 16, Q_BIG, NULL, 0);
    expect_error(fd, &r, f, n, 16, DB_ETOOBIG, "over the limits");
    n = query_frame(f, 17, Q_WORLD, &id, 1);
    cr_assert_eq(exchange(fd, &r, f, n, &res), 1);
    cr_expect_eq(res.tag, 17);
    cr_expect_eq(res.status, DB_OK, "the connection still serves: %s", res.message);
    cr_expect_eq(res.values[0].i, 8);
    db_reader_free(&r);
    close(fd);
    stop_db(c);
}

Test(server, lost_framing_closes_only_that_connection, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_reader r;
    struct db_result res;
    struct db_conn *other;
    struct db_value id = int_value(9);
    c = start_db(NULL);
    cr_assert_eq(db_conn_open(c->addr, &other), 0);
    query_ok(other, Q_WORLD, &id, 1, &res);

    /* oversize: the tag is readable, so an error frame, then EOF */
    int fd = raw_connect(c->addr);
    uint8_t f[16] = {0};
    put32(f, DB_MAX_QUERY_FRAME);
    f[4] = DB_FRAME_QUERY;
    put32(f + 5, 21);
    db_reader_init(&r);
    expect_error(fd, &r, f, 13, 21, DB_EOVERSIZE, "connection closed");
    cr_expect_eq(exchange(fd, &r, NULL, 0, &res), 0, "closed after the error frame");
    db_reader_free(&r);
    close(fd);

    /* a length too short to hold a header: no tag to answer, just EOF */
    fd = raw_connect(c->addr);
    put32(f, 2);
    db_reader_init(&r);
    cr_expect_eq(exchange(fd, &r, f, 13, &res), 0);
    db_reader_free(&r);
    close(fd);

    query_ok(other, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[0].i, 9, "the other connection is unaffected");
    db_conn_close(other);
    stop_db(c);
}

Test(server, a_client_vanishing_with_queries_in_flight, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    c = start_db(NULL);
    for (int round = 0; round < 20; round++) {
        struct db_async *a;
        cr_assert_eq(db_async_open(c->addr, &a), 0);
        for (int k = 0; k < 50; k++) {
            struct db_value p = int_value(1 + k % 9);
            cr_assert_eq(
                db_async_send(a, (uint32_t)k, round % 2 ? Q_SLOW : Q_SOON, &p, round % 2 ? 1 : 0),
                0);
        }
        db_async_close(a); /* gone with 50 answers held */
    }
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(3);
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[0].i, 3);
    /* Past every dropped deadline: a 200 ms query read after theirs is due
     * after them, and answers leave in deadline order. */
    struct db_value nine = int_value(9);
    query_ok(conn, Q_SLOW, &nine, 1, &res);
    cr_expect_eq(res.values[0].i, 9);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    db_conn_close(conn);
    stop_db(c); /* exit 0 under LeakSanitizer: the dropped answers were freed */
}

Test(server, a_frame_sent_byte_by_byte_is_answered, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_reader r;
    struct db_result res;
    uint8_t f[256];
    struct db_value id = int_value(4321);
    c = start_db(NULL);
    int fd = raw_connect(c->addr);
    db_reader_init(&r);
    size_t n = query_frame(f, 31, Q_WORLD, &id, 1);
    for (size_t i = 0; i + 1 < n; i++) {
        cr_assert_eq(send(fd, f + i, 1, MSG_NOSIGNAL), 1);
        usleep(1000);
    }
    cr_assert_eq(exchange(fd, &r, f + n - 1, 1, &res), 1);
    cr_expect_eq(res.tag, 31);
    cr_expect_eq(res.values[0].i, 4321);
    db_reader_free(&r);
    /* half a frame, then gone: nothing to answer, nothing leaks */
    cr_assert_eq(send(fd, f, n / 2, MSG_NOSIGNAL), (ssize_t)(n / 2));
    close(fd);
    stop_db(c);
}

Test(server, a_client_that_never_reads_stalls_only_itself, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *other;
    struct db_result res;
    uint8_t f[256];
    struct db_value id = int_value(5);
    c = start_db(NULL);
    int fd = raw_connect(c->addr);
    size_t n = query_frame(f, 1, Q_WORLD, &id, 1);
    /* send until the socket pushes back; the server stops reading us, not others */
    static uint8_t burst[1 << 16];
    size_t per = sizeof(burst) / n;
    for (size_t i = 0; i < per; i++)
        memcpy(burst + i * n, f, n);
    size_t sent = 0, total = per * n;
    bool pushed_back = false;
    /* 60 s bounds the wait only: the server pushes back within a second or
     * two. A second without room to write means it stopped reading us (a
     * loaded machine delays its reads by milliseconds, not a second). */
    uint64_t end = now_ns() + 60000000000ull;
    while (!pushed_back && now_ns() < end) {
        size_t off = sent % total; /* a partial send goes on where it stopped */
        ssize_t k = send(fd, burst + off, total - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            cr_assert(errno == EAGAIN, "%s", strerror(errno));
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            pushed_back = poll(&p, 1, 1000) == 0; /* the server is no longer reading */
            continue;
        }
        sent += (size_t)k;
    }
    cr_assert(pushed_back, "the server still read after %zu queries that were never read back",
              sent / n);
    cr_expect_gt(sent / n, 100000, "the server answered a while before pushing back (%zu)",
                 sent / n);
    cr_assert_eq(db_conn_open(c->addr, &other), 0);
    query_ok(other, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[0].i, 5, "another client is served meanwhile");
    db_conn_close(other);
    close(fd);
    stop_db(c);
}

Test(server, garbage_never_stops_the_server, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(6);
    uint8_t junk[512];
    struct wl_rng rng;
    c = start_db(NULL);
    wl_rng_seed(&rng, 99);
    for (int i = 0; i < 100; i++) {
        int fd = raw_connect(c->addr);
        size_t n = 1 + wl_rng_below(&rng, sizeof(junk));
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)wl_rng_next(&rng);
        if (i % 2) { /* a plausible header, so the body gets parsed */
            put32(junk, (uint32_t)(n > 4 ? n - 4 : 5));
            junk[4] = DB_FRAME_QUERY;
        }
        send(fd, junk, n, MSG_NOSIGNAL); /* the server may already have closed: fine */
        close(fd);
    }
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[0].i, 6);
    db_conn_close(conn);
    stop_db(c);
}

/* ---- the process ---- */

Test(server, sigterm_exits_0_and_removes_the_socket, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct stat st;
    c = start_db(NULL);
    cr_assert(!strncmp(c->addr, "unix:", 5), "%s", c->addr);
    const char *path = c->addr + 5;
    char parent[256];
    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    cr_assert_eq(stat(parent, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700, "a private directory");
    cr_assert_eq(stat(path, &st), 0);
    cr_expect(S_ISSOCK(st.st_mode));
    stop_db(c);
    cr_expect_neq(stat(path, &st), 0, "the socket is gone");
    cr_expect_neq(stat(parent, &st), 0, "its directory is gone");

    c = start_db(NULL); /* SIGINT does the same */
    cr_assert_eq(stat(c->addr + 5, &st), 0);
    cr_assert_eq(kill(c->pid, SIGINT), 0);
    int status = -1;
    pid_t r = 0;
    for (int i = 0; i < 3000 && (r = waitpid(c->pid, &status, WNOHANG)) == 0; i++)
        usleep(10000); /* 30 s at most: a wait, not a measurement */
    if (r == c->pid)
        c->pid = 0; /* reaped; otherwise the suite's fini kills it */
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGINT: exit 0 (status %d)", status);
    cr_expect_neq(stat(c->addr + 5, &st), 0, "the socket is gone after SIGINT");
}

Test(server, listens_on_tcp_and_a_given_unix_path, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(12);
    c = start_db((const char *[]){"--listen", "tcp:0", NULL});
    cr_assert(!strncmp(c->addr, "tcp:127.0.0.1:", 14), "%s", c->addr);
    cr_assert_neq(atoi(c->addr + 14), 0);
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_eq(res.values[0].i, 12);
    db_conn_close(conn);
    stop_db(c);
    char addr[300];
    snprintf(addr, sizeof(addr), "unix:%s/my.sock", dir);
    c = start_db((const char *[]){"--listen", addr, NULL});
    cr_expect_str_eq(c->addr, addr);
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, Q_WORLD, &id, 1, &res);
    db_conn_close(conn);
    stop_db(c);
    cr_expect_neq(access(addr + 5, F_OK), 0, "the socket is removed");
}

/* Runs overlap with args (a shell fragment); stdout and stderr into out.
 * A command that should exit but serves instead is stopped after a minute
 * (status 124), so such a regression fails the test rather than hangs it. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "timeout 60 %s %s 2>&1", OVERLAP_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- a socket path that is already taken ---- */

/* `overlap db` on the test workload at unix:PATH, as a shell fragment. */
static const char *db_args_at(const char *addr)
{
    static char args[1024];
    snprintf(args, sizeof(args), "db --workload %s --listen %s", write_file("w.ini", workload),
             addr);
    return args;
}

static void expect_answers(const struct child *c, int64_t id)
{
    struct db_conn *conn;
    struct db_result res;
    struct db_value v = int_value(id);
    cr_assert_eq(db_conn_open(c->addr, &conn), 0, "%s answers", c->addr);
    query_ok(conn, Q_WORLD, &v, 1, &res);
    cr_expect_eq(res.values[0].i, id);
    db_conn_close(conn);
}

/* Exactly one line of output, holding want. */
static void expect_one_line(const char *out, const char *want)
{
    cr_expect(strstr(out, want) != NULL, "want '%s' in '%s'", want, out);
    const char *nl = strchr(out, '\n');
    cr_expect(nl && nl[1] == '\0', "one line: '%s'", out);
}

Test(server, a_socket_left_by_a_killed_database_is_replaced, .init = make_dir, .fini = remove_dir)
{
    char addr[300];
    struct stat st;
    snprintf(addr, sizeof(addr), "unix:%s/db.sock", dir);
    struct child *c = start_db((const char *[]){"--listen", addr, NULL});
    child_kill(c); /* SIGKILL: no chance to unlink the socket */
    cr_assert_eq(stat(addr + 5, &st), 0, "the killed database left its socket file");
    cr_assert(S_ISSOCK(st.st_mode));
    c = start_db((const char *[]){"--listen", addr, NULL}); /* asserts `listening` */
    cr_expect_str_eq(c->addr, addr);
    expect_answers(c, 42);
    stop_db(c);
    cr_expect_neq(access(addr + 5, F_OK), 0, "the socket is removed at exit");
}

Test(server, a_second_database_on_a_live_socket_refuses_to_start, .init = make_dir,
     .fini = remove_dir)
{
    char addr[300], out[4096], want[400];
    snprintf(addr, sizeof(addr), "unix:%s/db.sock", dir);
    struct child *c = start_db((const char *[]){"--listen", addr, NULL});
    cr_expect_eq(run(db_args_at(addr), out, sizeof(out)), 1, "%s", out);
    snprintf(want, sizeof(want), "another database is listening on %s", addr);
    expect_one_line(out, want);
    expect_answers(c, 7); /* the first one's socket is still in place */
    stop_db(c);
}

Test(server, a_socket_path_too_long_is_refused_not_cut, .init = make_dir, .fini = remove_dir)
{
    char addr[400], out[4096], want[64];
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    int n = snprintf(addr, sizeof(addr), "unix:%s/", dir);
    memset(addr + n, 'a', max);
    addr[n + (int)max] = '\0';
    cr_expect_eq(run(db_args_at(addr), out, sizeof(out)), 1, "%s", out);
    snprintf(want, sizeof(want), "a socket path is 1 to %zu bytes", max);
    expect_one_line(out, want);
    addr[5 + max] = '\0'; /* where a cut path would have gone */
    cr_expect_neq(access(addr + 5, F_OK), 0, "nothing listens at %s", addr + 5);
}

Test(server, a_file_that_is_not_a_socket_is_left_untouched, .init = make_dir, .fini = remove_dir)
{
    char addr[600], out[4096], text[64] = "";
    struct stat st;
    const char *path = write_file("notes.txt", "keep me\n");
    snprintf(addr, sizeof(addr), "unix:%s", path);
    cr_expect_eq(run(db_args_at(addr), out, sizeof(out)), 1, "%s", out);
    expect_one_line(out, path);
    cr_expect(strstr(out, "not a socket") != NULL, "%s", out);
    cr_assert_eq(stat(path, &st), 0, "the file is still there");
    cr_expect(S_ISREG(st.st_mode));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_expect_not_null(fgets(text, sizeof(text), f));
    fclose(f);
    cr_expect_str_eq(text, "keep me\n", "its contents are untouched");
}

Test(command, sql_errors_name_the_file_line_and_query, .init = make_dir, .fini = remove_dir)
{
    char out[4096], args[1024];
    const char *path = write_file("bad.ini", "[database]\ndataset = techempower\n"
                                             "[query.ok]\nsql = SELECT 1\nlatency = fixed 1ms\n"
                                             "[query.broken]\nsql = SELEC id FROM World\n"
                                             "latency = fixed 1ms\n"
                                             "[request.r]\nsteps = query ok\n");
    snprintf(args, sizeof(args), "db --workload %s", path);
    cr_expect_eq(run(args, out, sizeof(out)), 2);
    char want[600];
    snprintf(want, sizeof(want), "%s:6: query broken: ", path);
    cr_expect(strstr(out, want) == out, "want '%s' first in '%s'", want, out);
    cr_expect(strstr(out, "syntax error") != NULL, "%s", out);
    cr_expect(strstr(out, "listening") == NULL, "%s", out);
}

Test(command, init_scripts_run_and_their_errors_name_the_line, .init = make_dir, .fini = remove_dir)
{
    write_file("schema.sql", "-- a table of our own\nCREATE TABLE t(a INTEGER, b TEXT);\n"
                             "INSERT INTO t VALUES (1, 'one'), (2, 'two');\n");
    const char *path = write_file("init.ini", "[database]\ninit = schema.sql\n"
                                              "[query.t]\nsql = SELECT b FROM t WHERE a = ?\n"
                                              "params = int 1 2\nlatency = fixed 0ms\n"
                                              "[request.r]\nsteps = query t\n");
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value two = int_value(2);
    c = start((const char *[]){"db", "--workload", path, NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    query_ok(conn, 0, &two, 1, &res);
    cr_assert_eq(res.nrows, 1);
    cr_expect_eq(res.values[0].len, 3);
    cr_expect(!memcmp(res.values[0].text, "two", 3));
    db_conn_close(conn);
    stop_db(c);

    write_file("schema.sql", "CREATE TABLE t(a INTEGER, b TEXT);\n\n"
                             "INSERT INTO nope VALUES (1);\n");
    char out[4096], args[1024], want[600];
    snprintf(args, sizeof(args), "db --workload %s", path);
    cr_expect_eq(run(args, out, sizeof(out)), 2);
    snprintf(want, sizeof(want), "%s/schema.sql:3: ", dir);
    cr_expect(strstr(out, want) == out, "want '%s' first in '%s'", want, out);
    cr_expect(strstr(out, "no such table: nope") != NULL, "%s", out);
}

Test(command, usage_errors_exit_2)
{
    char out[8192];
    cr_expect_eq(run("db", out, sizeof(out)), 2);
    cr_expect(strstr(out, "--workload is required") != NULL, "%s", out);
    cr_expect_eq(run("db --workload x.ini --frobnicate 1", out, sizeof(out)), 2);
    cr_expect(strstr(out, "unknown flag '--frobnicate'") != NULL, "%s", out);
    cr_expect_eq(run("db --workload x.ini --fail-rate 1.5", out, sizeof(out)), 2);
    cr_expect_eq(run("db --workload x.ini --stall soon", out, sizeof(out)), 2);
    cr_expect_eq(run("db --workload x.ini --vary-wait 0", out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad duration '0'") != NULL, "%s", out);
    cr_expect_eq(run("db --workload x.ini --vary-cpu soon", out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad duration 'soon'") != NULL, "%s", out);
    cr_expect_eq(run("db --workload", out, sizeof(out)), 2);
    cr_expect_eq(run("db --workload /nonexistent/w.ini", out, sizeof(out)), 2);
    cr_expect_eq(run("db --help", out, sizeof(out)), 0);
    cr_expect(strstr(out, "--close-rate") != NULL, "%s", out);
    cr_expect_eq(run("help", out, sizeof(out)), 0);
    cr_expect(strstr(out, "db --workload FILE") != NULL, "%s", out);
}

/* ---- fault injection ---- */

Test(faults, fail_rate_answers_error_frames, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(1);
    c = start_db((const char *[]){"--fail-rate", "1", NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    for (int i = 0; i < 5; i++) {
        query_ok(conn, Q_WORLD, &id, 1, &res);
        cr_expect_eq(res.status, DB_EUNAVAILABLE);
        cr_expect_str_eq(res.message, "injected failure");
    }
    db_conn_close(conn);
    stop_db(c);
}

Test(faults, stalls_and_closes, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(1);
    c = start_db((const char *[]){"--stall-rate", "1", "--stall", "100ms", NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    uint64_t t0 = now_ns();
    query_ok(conn, Q_WORLD, &id, 1, &res);
    cr_expect_geq(now_ns() - t0, 100000000ull, "held the stall");
    cr_expect_eq(res.status, DB_OK);
    db_conn_close(conn);
    stop_db(c);

    c = start_db((const char *[]){"--close-rate", "1", NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    cr_expect_eq(db_conn_query(conn, Q_WORLD, &id, 1, 5000000000ull, &res), -ECONNRESET);
    cr_expect_eq(db_conn_query(conn, Q_WORLD, &id, 1, 5000000000ull, &res), -EPIPE,
                 "a broken connection stays broken");
    db_conn_close(conn);
    stop_db(c);
}

Test(faults, rates_are_shares_of_queries, .init = make_dir, .fini = remove_dir)
{
    struct child *c;
    struct db_conn *conn;
    struct db_result res;
    struct db_value id = int_value(1);
    int failed = 0;
    c = start_db((const char *[]){"--fail-rate", "0.25", "--seed", "3", NULL});
    cr_assert_eq(db_conn_open(c->addr, &conn), 0);
    for (int i = 0; i < 400; i++) {
        query_ok(conn, Q_WORLD, &id, 1, &res);
        failed += res.status == DB_EUNAVAILABLE;
    }
    cr_expect(failed > 50 && failed < 150, "%d of 400 failed at rate 0.25", failed);
    db_conn_close(conn);
    stop_db(c);
}
