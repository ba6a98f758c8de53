/* The engine suite: every test runs against each engine config named in
 * OVERLAP_ENGINES (default: all six, pool-leader, pool-request,
 * pool-connection, pool-threads, async and coro; tests/support/engines.h),
 * each time with a real `overlap db` and `overlap serve` on private
 * addresses, and checks what a client sees over HTTP. The same file,
 * unchanged, tests every engine. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engines.h"
#include "observe.h"

/* ---- the test's database and workload ---- */

static const char data_sql[] =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT);\n"
    "INSERT INTO item VALUES (1, 'plain', 1.5, 'x');\n"
    "INSERT INTO item VALUES (2, 'quote \" back \\ slash', 0.1, NULL);\n"
    "INSERT INTO item VALUES (3, 'tab' || char(9) || 'nl' || char(10) || 'ctl' || char(1), "
    "-2.25, 'h\xc3\xa9llo \xc3\xbcn\xc3\xaf"
    "code');\n"
    "INSERT INTO item VALUES (4, '<b>&amp;</b> ''single''', 12345678901234, '');\n"
    "INSERT INTO item VALUES (5, 'hidden', 0, 'never selected');\n";

#define ITEMS_SQL "SELECT id, name, score, note FROM item WHERE id <= ? ORDER BY id"
#define ONE_SQL   "SELECT id, name FROM item WHERE id = ?"

static const char workload_ini[] = "[workload]\nname = enginetest\n"
                                   "[database]\ninit = data.sql\n"
                                   "[query.items]\nsql = " ITEMS_SQL "\nparams = const 4\n"
                                   "latency = fixed 2ms\n"
                                   "[query.one]\nsql = " ONE_SQL "\nparams = int 1 4\n"
                                   "latency = fixed 3ms\n"
                                   "[query.slow]\nsql = SELECT 42\nlatency = fixed 500ms\n"
                                   "[request.items]\nsteps = cpu 100us, query items, cpu 100us\n"
                                   "[request.two]\nsteps = query one, cpu 50us, query items x2\n"
                                   "[request.page]\nrender = html\nsteps = query items\n"
                                   "[request.slow]\nsteps = query slow\n";

static const struct suite_spec spec = {.workload_ini = workload_ini, .data_sql = data_sql};

static void suite_init(void)
{
    suite_start(&spec);
}

TestSuite(engine, .init = suite_init, .fini = suite_fini, .timeout = 120);

#define CHECK_STR(a, b, what) cr_assert_str_eq(a, b, "[%s] %s", engine, what)

/* True when the server closed the connection (and sent nothing more). */
static bool closed_by_server(struct client *c)
{
    return c->len == 0 && read_more(c) == 0;
}

/* ---- what SQLite says the rows are, rendered as the contract says ---- */

static void append(char *out, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + len, cap - len, fmt, ap);
    va_end(ap);
}

static void append_json_text(char *out, size_t cap, const unsigned char *s)
{
    append(out, cap, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            append(out, cap, "\\%c", *s);
        else if (*s == '\n')
            append(out, cap, "\\n");
        else if (*s == '\t')
            append(out, cap, "\\t");
        else if (*s == '\r')
            append(out, cap, "\\r");
        else if (*s < 0x20)
            append(out, cap, "\\u%04x", *s);
        else
            append(out, cap, "%c", *s);
    }
    append(out, cap, "\"");
}

/* `[[1,"plain",1.5,"x"],...]`: the rows sql returns for param, as JSON. */
static void sqlite_rows(const char *sql, int param, char *out, size_t cap)
{
    sqlite3 *conn;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(":memory:", &conn), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(conn, data_sql, NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(conn, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, param);
    out[0] = '\0';
    append(out, cap, "[");
    for (int row = 0; sqlite3_step(st) == SQLITE_ROW; row++) {
        append(out, cap, row ? ",[" : "[");
        for (int col = 0; col < sqlite3_column_count(st); col++) {
            append(out, cap, col ? "," : "");
            switch (sqlite3_column_type(st, col)) {
            case SQLITE_INTEGER: append(out, cap, "%lld", sqlite3_column_int64(st, col)); break;
            case SQLITE_FLOAT: append(out, cap, "%.17g", sqlite3_column_double(st, col)); break;
            case SQLITE_TEXT: append_json_text(out, cap, sqlite3_column_text(st, col)); break;
            default: append(out, cap, "null");
            }
        }
        append(out, cap, "]");
    }
    append(out, cap, "]");
    sqlite3_finalize(st);
    sqlite3_close(conn);
}

static char items_rows[4096];

static const char *items_json(void)
{
    static char json[4200];
    sqlite_rows(ITEMS_SQL, 4, items_rows, sizeof(items_rows));
    snprintf(json, sizeof(json),
             "{\"request\":\"items\",\"results\":[{\"query\":\"items\",\"rows\":%s}]}", items_rows);
    return json;
}

/* ---- the checks ---- */

static void check_rows(void)
{
    struct client *c = client_open();
    struct response *r = get(c, "/items");
    char val[128];
    CHECK_EQ(r->status, 200, "GET /items", engine);
    CHECK_STR(r->body, items_json(), "/items body equals SQLite's rows");
    CHECK_STR(header(r, "Content-Type", val, sizeof(val)), "application/json", "content type");
    /* /two: a random row, then the four rows twice */
    r = get(c, "/two");
    CHECK_EQ(r->status, 200, "GET /two", engine);
    bool found = false;
    for (int id = 1; id <= 4 && !found; id++) {
        char one[512], want[12000];
        sqlite_rows(ONE_SQL, id, one, sizeof(one));
        snprintf(want, sizeof(want),
                 "{\"request\":\"two\",\"results\":[{\"query\":\"one\",\"rows\":%s},"
                 "{\"query\":\"items\",\"rows\":%s},{\"query\":\"items\",\"rows\":%s}]}",
                 one, items_rows, items_rows);
        found = !strcmp(r->body, want);
    }
    CHECK(found, "/two body is one of SQLite's rows then the items twice: %s", engine, r->body);
    client_close(c);
}

Test(engine, json_rows_equal_sqlite)
{
    each_engine(check_rows, NULL, NULL);
}

static void check_html(void)
{
    struct client *c = client_open();
    struct response *r = get(c, "/page");
    char val[128];
    CHECK_EQ(r->status, 200, "GET /page", engine);
    CHECK_STR(header(r, "Content-Type", val, sizeof(val)), "text/html; charset=utf-8",
              "content type");
    CHECK(strstr(r->body, "&lt;b&gt;&amp;amp;&lt;/b&gt; &#39;single&#39;") != NULL,
          "escaped HTML: %s", engine, r->body);
    CHECK(strstr(r->body, "quote &quot; back") != NULL, "escaped quote: %s", engine, r->body);
    CHECK(strstr(r->body, "<b>") == NULL, "no markup from the data", engine);
    CHECK(strstr(r->body, "never selected") == NULL, "only the selected rows", engine);
    client_close(c);
}

Test(engine, html_is_escaped)
{
    each_engine(check_html, NULL, NULL);
}

static void check_plaintext(void)
{
    struct client *c = client_open();
    struct response *r = get(c, "/plaintext");
    char val[128];
    CHECK_EQ(r->status, 200, "GET /plaintext", engine);
    CHECK_STR(r->body, "Hello, World!", "plaintext body");
    CHECK_STR(header(r, "Content-Type", val, sizeof(val)), "text/plain", "content type");
    CHECK_STR(header(r, "Content-Length", val, sizeof(val)), "13", "content length");
    client_close(c);
}

Test(engine, plaintext)
{
    each_engine(check_plaintext, NULL, NULL);
}

static void check_keep_alive(void)
{
    struct client *c = client_open();
    for (int i = 0; i < 1000; i++) {
        struct response *r = get(c, i % 100 == 99 ? "/items" : "/plaintext");
        CHECK_EQ(r->status, 200, "request %d on one connection", engine, i);
    }
    CHECK_STR(get(c, "/items")->body, items_json(), "still the right body after 1000");
    client_close(c);
}

Test(engine, keep_alive_1000_requests)
{
    each_engine(check_keep_alive, NULL, NULL);
}

static void check_pipelining(void)
{
    const char *paths[10] = {"/items", "/plaintext", "/nothing", "/two",       "/plaintext",
                             "/page",  "/items",     "/slowly",  "/plaintext", "/items"};
    const int want[10] = {200, 200, 404, 200, 200, 200, 200, 404, 200, 200};
    char batch[4096] = "";
    struct response r;
    for (int i = 0; i < 10; i++)
        append(batch, sizeof(batch), "GET %s HTTP/1.1\r\nHost: t\r\nX-Seq: %d\r\n\r\n", paths[i],
               i);
    struct client *c = client_open();
    send_str(c, batch); /* one write: ten requests */
    const char *items = items_json();
    for (int i = 0; i < 10; i++) {
        read_response(c, &r, false);
        CHECK_EQ(r.status, want[i], "pipelined response %d (%s)", engine, i, paths[i]);
        if (!strcmp(paths[i], "/items"))
            CHECK_STR(r.body, items, "pipelined /items body");
        if (!strcmp(paths[i], "/plaintext"))
            CHECK_STR(r.body, "Hello, World!", "pipelined /plaintext body");
        if (!strcmp(paths[i], "/page"))
            CHECK(strstr(r.body, "<!DOCTYPE html>") == r.body, "pipelined /page", engine);
    }
    CHECK_EQ(get(c, "/plaintext")->status, 200, "the connection goes on", engine);
    client_close(c);
}

Test(engine, pipelining_10_in_one_write)
{
    each_engine(check_pipelining, NULL, NULL);
}

/* Sends a request that must get status and then a close. */
static void expect_error_and_close(const char *request, size_t len, int status)
{
    struct client *c = client_open();
    struct response r;
    send_bytes(c, request, len);
    read_response(c, &r, false);
    CHECK_EQ(r.status, status, "error status for %.40s", engine, request);
    char val[64];
    CHECK(header(&r, "Connection", val, sizeof(val)) && !strcasecmp(val, "close"),
          "Connection: close after %d", engine, status);
    CHECK(closed_by_server(c), "the server closes after %d", engine, status);
    client_close(c);
}

static void check_errors(void)
{
    struct client *c = client_open();
    char val[64];
    struct response *r = get(c, "/nothing");
    CHECK_EQ(r->status, 404, "unknown path", engine);
    CHECK_STR(r->body, "404 Not Found\n", "404 body");
    send_str(c, "DELETE /items HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(c, r, false);
    CHECK_EQ(r->status, 405, "DELETE", engine);
    CHECK_STR(header(r, "Allow", val, sizeof(val)), "GET, HEAD", "405 carries Allow");
    CHECK_EQ(get(c, "/plaintext")->status, 200, "404 and 405 keep the connection", engine);
    client_close(c);

    const char bad[] = "GET /items HTTP/1.1\r\nHost : t\r\n\r\n";
    expect_error_and_close(bad, sizeof(bad) - 1, 400);
    const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    expect_error_and_close(junk, sizeof(junk) - 1, 400);
    const char te[] =
        "POST /items HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_error_and_close(te, sizeof(te) - 1, 501);
    size_t big = 9000;
    char *huge = malloc(big + 64);
    int n = snprintf(huge, 64, "GET /items HTTP/1.1\r\nX-Big: ");
    memset(huge + n, 'a', big - n - 4);
    memcpy(huge + big - 4, "\r\n\r\n", 4);
    expect_error_and_close(huge, big, 431);
    free(huge);
}

Test(engine, errors_404_405_400_431_501)
{
    each_engine(check_errors, NULL, NULL);
}

static void check_byte_by_byte(void)
{
    const char req[] = "GET /items?x=1 HTTP/1.1\r\nHost: split\r\nAccept: */*\r\n\r\n";
    struct client *c = client_open();
    struct response r;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(req) - 1; i++) {
            send_bytes(c, req + i, 1);
            usleep(500);
        }
        read_response(c, &r, false);
        CHECK_EQ(r.status, 200, "a request sent one byte at a time", engine);
        CHECK_STR(r.body, items_json(), "split request body");
    }
    client_close(c);
}

Test(engine, request_split_byte_by_byte)
{
    each_engine(check_byte_by_byte, NULL, NULL);
}

/* Parses `name;dur=ms, ...` into names and durations; returns the count. */
static int parse_timing(const char *v, char names[][16], double *dur, int max)
{
    int n = 0;
    while (*v && n < max) {
        int used = 0;
        if (sscanf(v, " %15[^;];dur=%lf%n", names[n], &dur[n], &used) < 2)
            return -1;
        n++;
        v += used;
        while (*v == ',' || *v == ' ')
            v++;
    }
    return n;
}

/* A cell of the crossover map: the database and the server move the same
 * workload, the server its cpu steps (mean 62.5 us over the four requests,
 * times 80 for 5 ms: /items's two 100 us steps become 8 ms each) and the
 * database its latencies (items' fixed 2 ms becomes 40 ms). */
/* GET /items on a new connection: its five Server-Timing figures in ms
 * (queue, cpu, db, cpu, cpu-time) into dur. */
static void items_timing(double dur[8])
{
    struct client *c = client_open();
    char val[512], names[8][16];
    struct response *r = get(c, "/items");
    CHECK_EQ(r->status, 200, "GET /items", engine);
    CHECK(header(r, "Server-Timing", val, sizeof(val)), "Server-Timing present", engine);
    CHECK_EQ(parse_timing(val, names, dur, 8), 5, "queue, cpu, db, cpu, cpu-time: %s", engine, val);
    client_close(c);
}

static void check_vary(void)
{
    double dur[8];
    items_timing(dur);
    CHECK(dur[2] >= 40.0, "db phase %.3f ms is at least the varied 40 ms", engine, dur[2]);
    /* The burner runs iterations calibrated once at the server's start, and
     * an iteration's cost moves with what else the core runs (by a tenth
     * between two calibrations on a shared machine, more beside a burner):
     * half the varied 8 ms still tells the move from the unvaried 0.1 ms by
     * forty times, on any machine. */
    CHECK(dur[1] >= 4.0 && dur[3] >= 4.0, "cpu phases %.3f and %.3f ms near the varied 8 ms",
          engine, dur[1], dur[3]);
    CHECK(dur[4] >= 8.0, "cpu-time %.3f ms near the varied 16 ms", engine, dur[4]);
}

Test(engine, a_map_cell_moves_the_servers_cpu_and_the_databases_wait)
{
    const char *const db_flags[] = {"--vary-wait", "40ms", NULL};
    const char *const serve_flags[] = {"--vary-cpu", "5ms", NULL};
    each_engine(check_vary, db_flags, serve_flags);
}

/* --burn-rate 1 (a thousandth of any machine's rate): /items's two steps,
 * varied to 8 ms each, are 16,000 iterations, some microseconds of CPU; at
 * the rate the server measures itself they are 16 ms (check_vary). */
static void check_burn_rate(void)
{
    double dur[8];
    items_timing(dur);
    CHECK(dur[4] < 4.0, "cpu-time %.3f ms for 16,000 iterations, not the 16 ms measured", engine,
          dur[4]);
}

Test(engine, the_burn_rate_given_sets_the_cpu_steps_work)
{
    const char *const serve_flags[] = {"--vary-cpu", "5ms", "--burn-rate", "1", NULL};
    each_engine(check_burn_rate, NULL, serve_flags);
}

static void check_timing(void)
{
    struct client *c = client_open();
    char val[512], names[8][16];
    double dur[8];
    for (int i = 0; i < 3; i++) {
        struct response *r = get(c, "/two");
        CHECK_EQ(r->status, 200, "GET /two", engine);
        CHECK(header(r, "Server-Timing", val, sizeof(val)), "Server-Timing present", engine);
        int n = parse_timing(val, names, dur, 8);
        CHECK_EQ(n, 6, "five phases and the cpu-time in '%s'", engine, val);
        const char *want[] = {"queue", "db", "cpu", "db", "db", "cpu-time"};
        const double floor_ms[] = {0, 3.0, 0, 2.0, 2.0, 0}; /* the fixed latencies */
        for (int k = 0; k < 6; k++) {
            CHECK_STR(names[k], want[k], "phase names in step order");
            CHECK(dur[k] >= floor_ms[k], "phase %d took %.3f ms, at least %.1f", engine, k, dur[k],
                  floor_ms[k]);
            CHECK(dur[k] < 10000, "phase %d took %.3f ms", engine, k, dur[k]);
        }
        /* the thread's CPU in the cpu step is part of that step's wall time */
        CHECK(dur[5] <= dur[2] + 0.002, "cpu-time %.3f ms within the cpu phase's %.3f ms", engine,
              dur[5], dur[2]);
    }
    struct response *r = get(c, "/items");
    CHECK(header(r, "Server-Timing", val, sizeof(val)), "Server-Timing on /items", engine);
    CHECK_EQ(parse_timing(val, names, dur, 8), 5, "queue, cpu, db, cpu, cpu-time: %s", engine, val);
    CHECK(dur[2] >= 2.0, "db phase %.3f ms is at least the fixed 2 ms", engine, dur[2]);
    CHECK(dur[4] <= dur[1] + dur[3] + 0.002, "cpu-time %.3f ms within its two cpu phases", engine,
          dur[4]);
    client_close(c);
}

Test(engine, server_timing_phases)
{
    each_engine(check_timing, NULL, NULL);
}

static void check_db_restart(void)
{
    struct client *c = client_open();
    CHECK_EQ(get(c, "/items")->status, 200, "before the database dies", engine);
    child_kill(&db);
    struct response *r = get(c, "/items");
    CHECK_EQ(r->status, 503, "database killed: %s", engine, r->body);
    CHECK_EQ(get(c, "/plaintext")->status, 200, "the server goes on without it", engine);
    start_db(NULL);
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        struct response *again = get(c, "/items");
        status = again->status;
        CHECK(status == 200 || status == 503, "status %d while the database returns", engine,
              status);
        if (status != 200)
            usleep(100000);
    }
    CHECK_EQ(status, 200, "database restarted on the same address", engine);
    CHECK_STR(get(c, "/items")->body, items_json(), "rows after the restart");
    client_close(c);
}

Test(engine, database_killed_then_restarted)
{
    each_engine(check_db_restart, NULL, NULL);
}

#define NCONC 200

static void check_concurrent(void)
{
    static struct client *cs[NCONC]; /* not the heap's: a failed check leaks nothing */
    struct response r;
    const char *items = items_json();
    for (int i = 0; i < NCONC; i++)
        cs[i] = client_open();
    for (int i = 0; i < NCONC; i++)
        send_str(cs[i], "GET /items HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < NCONC; i++) {
        read_response(cs[i], &r, false);
        CHECK_EQ(r.status, 200, "connection %d of %d: status %d %.80s", engine, i, NCONC, r.status,
                 r.body);
        CHECK_STR(r.body, items, "concurrent body");
    }
    for (int i = 0; i < NCONC; i++) {
        CHECK_EQ(get(cs[i], "/plaintext")->status, 200, "second round", engine);
        client_close(cs[i]);
    }
}

Test(engine, concurrent_200_connections)
{
    /* connection mode needs a worker per open connection */
    const char *extra[] = {"--workers", "256", NULL};
    each_engine(check_concurrent, NULL, extra);
}

static void check_head(void)
{
    struct client *c = client_open();
    struct response get_r, head_r, next;
    char a[64], b[64];
    send_str(c, "GET /items HTTP/1.1\r\n\r\n");
    read_response(c, &get_r, false);
    /* a HEAD with a body would corrupt the response that follows it */
    send_str(c, "HEAD /items HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\n\r\n");
    read_response(c, &head_r, true);
    read_response(c, &next, false);
    CHECK_EQ(head_r.status, 200, "HEAD", engine);
    CHECK_STR(header(&head_r, "Content-Length", a, sizeof(a)),
              header(&get_r, "Content-Length", b, sizeof(b)), "HEAD's Content-Length is GET's");
    CHECK_EQ(next.status, 200, "after HEAD", engine);
    CHECK_STR(next.body, "Hello, World!", "the response after HEAD");
    client_close(c);
}

Test(engine, head_has_no_body)
{
    each_engine(check_head, NULL, NULL);
}

static void check_http10(void)
{
    struct client *c = client_open();
    struct response r;
    char val[64];
    send_str(c, "GET /plaintext HTTP/1.0\r\n\r\n");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "HTTP/1.0", engine);
    CHECK(closed_by_server(c), "HTTP/1.0 closes by default", engine);
    client_close(c);

    c = client_open();
    for (int i = 0; i < 3; i++) {
        send_str(c, "GET /items HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        read_response(c, &r, false);
        CHECK_EQ(r.status, 200, "HTTP/1.0 keep-alive", engine);
        CHECK(header(&r, "Connection", val, sizeof(val)) && !strcasecmp(val, "keep-alive"),
              "HTTP/1.0 keep-alive is confirmed", engine);
    }
    client_close(c);
}

Test(engine, http_1_0)
{
    each_engine(check_http10, NULL, NULL);
}

static void check_connection_close(void)
{
    struct client *c = client_open();
    struct response r;
    char val[64];
    send_str(c, "GET /items HTTP/1.1\r\nConnection: close\r\n\r\n");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "Connection: close", engine);
    CHECK(header(&r, "Connection", val, sizeof(val)) && !strcasecmp(val, "close"),
          "the response says close", engine);
    CHECK(closed_by_server(c), "and the server closes", engine);
    client_close(c);
}

Test(engine, connection_close)
{
    each_engine(check_connection_close, NULL, NULL);
}

static void check_body_discarded(void)
{
    struct client *c = client_open();
    struct response r;
    send_str(c, "GET /plaintext HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
                "GET /items HTTP/1.1\r\n\r\n");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "request with a body", engine);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the request after the body", engine);
    CHECK_STR(r.body, items_json(), "body bytes were not taken for a request");
    /* the body arriving later, in pieces, with a GET-looking payload */
    send_str(c, "GET /items HTTP/1.1\r\nContent-Length: 24\r\n\r\nGET /nothi");
    usleep(20000);
    send_str(c, "ng HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\n\r\n");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "request whose body came later", engine);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the body was discarded, not served as a 404", engine);
    CHECK_STR(r.body, "Hello, World!", "the request after a split body");
    client_close(c);
}

Test(engine, body_with_content_length_is_discarded)
{
    each_engine(check_body_discarded, NULL, NULL);
}

static void check_db_timeout(void)
{
    struct client *c = client_open();
    struct response *r = get(c, "/slow");
    CHECK_EQ(r->status, 504, "a query past --db-timeout: %s", engine, r->body);
    for (int i = 0; i < 3; i++) {
        r = get(c, "/items");
        CHECK_EQ(r->status, 200, "after a timeout", engine);
        CHECK_STR(r->body, items_json(), "a late answer is not taken for the next one");
    }
    client_close(c);
}

Test(engine, database_timeout_is_504)
{
    const char *extra[] = {"--db-timeout", "100ms", "--workers", "1", NULL};
    each_engine(check_db_timeout, NULL, extra);
}

static void check_graceful_stop(void)
{
    struct client *c = client_open();
    struct response r;
    send_str(c, "GET /slow HTTP/1.1\r\n\r\n");
    /* Read by the server, so in flight: its answer is up to 500 ms away. */
    observe_await_read(observe_port(srv.addr), c->fd, 20000);
    kill(srv.pid, SIGTERM);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "SIGTERM lets the request in flight finish", engine);
    CHECK_STR(r.body, "{\"request\":\"slow\",\"results\":[{\"query\":\"slow\",\"rows\":[[42]]}]}",
              "the finished request's body");
    CHECK(closed_by_server(c), "then the connection closes", engine);
    client_close(c);
}

Test(engine, sigterm_finishes_requests_in_flight)
{
    each_engine(check_graceful_stop, NULL, NULL);
}

/* What /slow answers in full. */
#define SLOW_BODY "{\"request\":\"slow\",\"results\":[{\"query\":\"slow\",\"rows\":[[42]]}]}"

/* Waits up to ms for process pid to hold at least want threads; the most it
 * held. */
static int await_threads(pid_t pid, int want, int ms)
{
    int most = observe_threads(pid);
    for (int waited = 0; most < want && waited < ms; waited += 10) {
        usleep(10000);
        int now = observe_threads(pid);
        most = now > most ? now : most;
    }
    return most;
}

/* Three /slow requests (500 ms on the database each) 50 ms apart, against
 * one worker and a queue of one (--workers 1 --queue 1): more than the pool
 * holds. What an engine does with the excess is part of its design, and each
 * is held to its own:
 * - pool-request sheds: the worker serves the first, the queue holds the
 *   next, and a request that finds the queue full gets 503 at once;
 * - pool-connection sheds per connection: the worker owns the first, the
 *   queue holds the second, and the third gets 503 and a close;
 * - pool-leader has no queue: the requests wait in the kernel until the one
 *   worker is free, and all three are served;
 * - async and coro (coro's coroutines run on async's loops) park every
 *   request on the database and answer each one in full;
 * - pool-threads has neither a worker count nor a queue (--workers 1 and
 *   --queue 1 do not apply): every connection gets a thread of its own at
 *   once, so all three are served and nothing is shed. */
static void check_overload(void)
{
    bool sheds = !strcmp(engine, "pool-request") || !strcmp(engine, "pool-connection");
    bool own_threads = !strcmp(engine, "pool-threads");
    struct client *c[3];
    struct response r;
    int status[3], shed = 0, idle_threads = observe_threads(srv.pid);
    for (int i = 0; i < 3; i++) {
        c[i] = client_open();
        send_str(c[i], "GET /slow HTTP/1.1\r\n\r\n"); /* keep-alive: closed below */
        usleep(50000);                                /* let the worker take the first one */
    }
    if (own_threads) {
        /* each thread lives until its client closes, after its answer below */
        int most = await_threads(srv.pid, idle_threads + 3, 5000);
        CHECK(most >= idle_threads + 3,
              "a thread for each of the 3 connections: %d threads at rest, at most %d with 3 "
              "requests in flight",
              engine, idle_threads, most);
    }
    for (int i = 0; i < 3; i++) { /* in connection mode the second waits for the first to close */
        read_response(c[i], &r, false);
        status[i] = r.status;
        shed += r.status == 503;
        CHECK(r.status == 200 || (sheds && r.status == 503), "request %d of 3: status %d (%s)",
              engine, i + 1, r.status, sheds ? "200 or 503" : "waits for its answer, not shed");
        if (r.status == 200)
            CHECK_STR(r.body, SLOW_BODY, "a request that is served is served in full");
        client_close(c[i]);
    }
    if (sheds) {
        CHECK_EQ(status[0], 200, "the request the worker took is served", engine);
        CHECK(shed >= 1, "a full queue answers 503 (%d of 3 shed)", engine, shed);
    }
}

Test(engine, overload_is_shed_or_waits_as_each_engine_promises)
{
    const char *extra[] = {"--workers", "1", "--queue", "1", NULL};
    each_engine(check_overload, NULL, extra);
}

static void check_timeouts(void)
{
    struct client *idle = client_open(), *slow = client_open();
    CHECK_EQ(get(idle, "/plaintext")->status, 200, "before going idle", engine);
    send_str(slow, "GET /items HTTP/1.1\r\nHost: sl"); /* and never the rest */
    CHECK(ends_eventually(idle), "an idle keep-alive connection is closed", engine);
    CHECK(ends_eventually(slow), "a head that never ends is closed", engine);
    client_close(idle);
    client_close(slow);
    /* a head trickling in a byte at a time meets the header timeout too:
     * the whole would take 4 s, ten times the timeout */
    const char head[] = "GET /items HTTP/1.1\r\nHost: a-trickle.example\r\n\r\n";
    struct client *c = client_open();
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    size_t sent = 0;
    while (sent < sizeof(head) - 1 && poll(&pfd, 1, 100) == 0)
        if (send(c->fd, head + sent, 1, MSG_NOSIGNAL) == 1)
            sent++;
    CHECK(sent < sizeof(head) - 1, "a trickling head is cut off", engine);
    CHECK(ends_eventually(c), "and its connection closed", engine);
    client_close(c);
    c = client_open();
    CHECK_EQ(get(c, "/items")->status, 200, "the server goes on", engine);
    client_close(c);
}

Test(engine, idle_and_slow_heads_time_out)
{
    const char *extra[] = {"--idle-timeout", "300ms", "--header-timeout", "300ms", NULL};
    each_engine(check_timeouts, NULL, extra);
}

/* ---- request bodies: read whole before the answer, 100 Continue ---- */

#define EXPECT_BODY 20000

/* A head asking for 100 Continue before its EXPECT_BODY-byte body. */
static const char expect_head[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n"
                                  "Expect: 100-continue\r\nContent-Length: 20000\r\n\r\n";

/* Fills buf with pipelined requests: a body the server took for requests
 * would get answers of its own (404s), which the next read would meet. */
static void fill_with_requests(char *buf, size_t n)
{
    static const char fake[] = "GET /nothing HTTP/1.1\r\n\r\n";
    for (size_t i = 0; i < n; i++)
        buf[i] = fake[i % (sizeof(fake) - 1)];
}

static void check_expect_continue(void)
{
    static char body[EXPECT_BODY], at_once[sizeof(expect_head) + EXPECT_BODY];
    struct client *c = client_open();
    struct response r;
    fill_with_requests(body, sizeof(body));
    /* a client that waits for the 100 before it sends the body */
    send_str(c, expect_head);
    CHECK(take_continue(c, 5000), "100 Continue while the body is held back", engine);
    CHECK_EQ(c->len, 0, "no final response before the body", engine);
    send_bytes(c, body, sizeof(body));
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the answer after the body", engine);
    CHECK_STR(r.body, "Hello, World!", "the answer is the request's, not the body's");
    CHECK_STR(get(c, "/items")->body, items_json(), "the next request on the connection");
    /* the body sent in two parts: still one 100 */
    send_str(c, expect_head);
    CHECK(take_continue(c, 5000), "100 Continue for the second request", engine);
    send_bytes(c, body, sizeof(body) / 2);
    usleep(50000); /* the server runs dry with half the body in */
    send_bytes(c, body + sizeof(body) / 2, sizeof(body) - sizeof(body) / 2);
    CHECK(!take_continue(c, IO_TIMEOUT * 1000), "one 100 Continue per request", engine);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the answer after a body in two parts", engine);
    /* head and body in one write: the body is there before the server
     * looks for it, so no 100 is sent */
    memcpy(at_once, expect_head, sizeof(expect_head) - 1);
    memcpy(at_once + sizeof(expect_head) - 1, body, sizeof(body));
    send_bytes(c, at_once, sizeof(expect_head) - 1 + sizeof(body));
    CHECK(!take_continue(c, IO_TIMEOUT * 1000), "no 100 when the body came with its head", engine);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the answer to a head and body sent at once", engine);
    CHECK_EQ(get(c, "/plaintext")->status, 200, "and the connection goes on", engine);
    client_close(c);
}

Test(engine, expect_100_continue_then_the_body)
{
    each_engine(check_expect_continue, NULL, NULL);
}

#define BIG_BODY   2000000
#define BODY_PIECE 65536

/* A 2 MB body in pieces, then a request behind it: an upload as curl
 * sends one, on a connection that goes on. */
static void check_big_body(void)
{
    static char piece[BODY_PIECE];
    char head[128];
    struct client *c = client_open();
    struct response r;
    fill_with_requests(piece, sizeof(piece));
    snprintf(head, sizeof(head), "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             BIG_BODY);
    send_str(c, head);
    for (size_t sent = 0, n; sent < BIG_BODY; sent += n) {
        n = BIG_BODY - sent < sizeof(piece) ? BIG_BODY - sent : sizeof(piece);
        send_bytes(c, piece, n);
        if (sent / BODY_PIECE % 8 == 7)
            usleep(1000); /* now and then the server finds the socket dry */
    }
    send_str(c, "GET /items HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "a request with a 2 MB body", engine);
    CHECK_STR(r.body, "Hello, World!", "its answer");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the request behind the body", engine);
    CHECK_STR(r.body, items_json(), "the request behind the body is answered as itself");
    client_close(c);
}

Test(engine, body_of_2_mb_then_a_second_request)
{
    each_engine(check_big_body, NULL, NULL);
}

/* A request head of exactly HTTP_MAX_HEAD (8192) bytes, then a 5-byte body:
 * the largest head there is must leave room for a body. */
static size_t head_at_limit(char *buf)
{
    static const char start[] =
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nX-Pad: ";
    size_t n = sizeof(start) - 1;
    memcpy(buf, start, n);
    memset(buf + n, 'p', 8192 - 4 - n);
    memcpy(buf + 8192 - 4, "\r\n\r\n", 4);
    return 8192;
}

static void check_head_at_limit(void)
{
    static char req[8192 + 64];
    struct client *c = client_open();
    struct response r;
    size_t n = head_at_limit(req);
    n += (size_t)sprintf(req + n, "helloGET /plaintext HTTP/1.1\r\n\r\n");
    send_bytes(c, req, n); /* head, body and the next request at once */
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "an 8,192-byte head with a body", engine);
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "the request behind it", engine);
    send_bytes(c, req, 8192); /* the head alone, then its body later */
    usleep(50000);
    send_str(c, "hello");
    read_response(c, &r, false);
    CHECK_EQ(r.status, 200, "an 8,192-byte head whose body comes later", engine);
    CHECK_STR(r.body, "Hello, World!", "its answer");
    client_close(c);
}

Test(engine, head_of_8192_bytes_with_a_body)
{
    each_engine(check_head_at_limit, NULL, NULL);
}

/* A body that stops short, or never starts, is covered by --header-timeout
 * like its head: the connection is closed with no response. */
static void check_short_body(void)
{
    struct client *c = client_open();
    send_str(c, "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly this");
    CHECK(closed_by_server(c), "a short body: closed at the timeout, unanswered", engine);
    client_close(c);
    c = client_open();
    send_str(c, "GET /items HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
    CHECK(closed_by_server(c), "a body that never comes: closed, unanswered", engine);
    client_close(c);
    c = client_open();
    send_str(c, "GET /plaintext HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n");
    CHECK(take_continue(c, 5000), "100 Continue for a body held back", engine);
    send_str(c, "then only part of it");
    CHECK(closed_by_server(c), "after the 100 a short body is closed, unanswered", engine);
    client_close(c);
    c = client_open();
    CHECK_EQ(get(c, "/plaintext")->status, 200, "the server goes on", engine);
    client_close(c);
}

Test(engine, short_body_is_closed_at_the_header_timeout)
{
    const char *extra[] = {"--header-timeout", "300ms", NULL};
    each_engine(check_short_body, NULL, extra);
}
