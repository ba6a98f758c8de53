/* `overlap engine check MANIFEST`: whether an external engine meets the
 * contract of engines/README.md. It starts `overlap db` on a check workload
 * whose rows hold every kind of value, overlap's async engine as the
 * reference, and the engine under test, then runs the black-box cases the C
 * engines pass, each named, and prints `ok` or `FAIL` with what differed.
 * Exit status 0 when every case passed, 1 when one failed or nothing could
 * start, 2 for a usage error. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"
#include "bench_child.h"
#include "check.h"
#include "ext.h"
#include "proc.h"
#include "wl.h"

static const char usage[] =
    "usage: overlap engine check MANIFEST [--workers N] [--keep]\n"
    "  MANIFEST       engines/NAME.ini, or NAME for overlap's engines/NAME.ini\n"
    "  --workers N    {workers} for the engine (default: the manifest's)\n"
    "  --keep         keep the check's folder (logs, workload) and print where\n";

/* Rows with every kind of value: integers past 2^53, reals, text with
 * quotes, control characters, UTF-8 and markup, NULL, an empty string. */
static const char data_sql[] =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT, big INTEGER);\n"
    "INSERT INTO item VALUES (1, 'plain', 1.5, 'x', 9007199254740993);\n"
    "INSERT INTO item VALUES (2, 'quote \" back \\ slash', 0.1, NULL, -1);\n"
    "INSERT INTO item VALUES (3, 'tab\tnl\nctl\x01', -2.25, 'h\xc3\xa9llo', 0);\n"
    "INSERT INTO item VALUES (4, '<b>&amp;</b> ''single''', 12345678901234, '', 7);\n";

static const char workload_ini[] =
    "[workload]\nname = check\n[database]\ninit = data.sql\n"
    "[query.items]\nsql = SELECT id, name, score, note, big FROM item WHERE id <= ? ORDER BY id\n"
    "params = const 4\nlatency = fixed 0ms\n"
    "[query.byname]\nsql = SELECT id, note FROM item WHERE name = ?\nparams = const \"plain\"\n"
    "latency = fixed 0ms\n"
    "[query.above]\nsql = SELECT id, score FROM item WHERE score > ? ORDER BY id\n"
    "params = const 1.0\nlatency = fixed 0ms\n"
    "[query.nulls]\nsql = SELECT ? IS NULL, count(*) FROM item\nparams = null\nlatency = fixed "
    "0ms\n"
    "[query.none]\nsql = SELECT id FROM item WHERE id > 100\nlatency = fixed 0ms\n"
    "[query.pick]\nsql = SELECT id, name, score, note, big FROM item WHERE id = ?\n"
    "params = int 1 4\nlatency = fixed 0ms\n"
    "[query.wait]\nsql = SELECT id FROM item WHERE id = 1\nlatency = fixed 20ms\n"
    "[query.bad]\nsql = SELECT abs(-9223372036854775807 - 1)\nlatency = fixed 0ms\n"
    "[request.items]\nsteps = query items\n"
    "[request.mixed]\nsteps = query byname, query above, cpu 20us, query nulls, query none, "
    "query items\n"
    "[request.page]\nrender = html\nsteps = query items, query byname\n"
    "[request.pick]\nsteps = query pick\n"
    "[request.wait]\nsteps = query wait\n"
    "[request.bad]\nsteps = query bad\n";

#define OVERLOAD_CLIENTS 200 /* at once, each asking for a 20 ms wait */
#define STOP_LIMIT_S     5.0 /* the contract says 2 s; a busy machine gets slack */

struct check {
    const char *self;
    char dir[PATH_MAX];
    char db_addr[PATH_MAX + 16], ref[128], addr[128];
    struct bench__child db, refsrv, server;
    const struct ext_manifest *m;
    int failed, passed;
};

static void report(struct check *c, const char *name, bool ok, const char *why)
{
    printf("%-4s %-14s %s\n", ok ? "ok" : "FAIL", name, ok ? "" : why);
    fflush(stdout);
    *(ok ? &c->passed : &c->failed) += 1;
}

static void path_in(const struct check *c, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", c->dir, name);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int start_db(struct check *c, char *why, size_t wlen)
{
    char wl[PATH_MAX + 16], sock[PATH_MAX + 16], log[PATH_MAX + 16];
    struct bench__args a;
    path_in(c, "check.ini", wl, sizeof(wl));
    path_in(c, "db.sock", sock, sizeof(sock));
    path_in(c, "db.log", log, sizeof(log));
    bench__args_init(&a);
    bench__arg(&a, c->self);
    bench__arg(&a, "db");
    bench__flag(&a, "--workload", "%s", wl);
    bench__flag(&a, "--listen", "unix:%s", sock);
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c->db, argv, log, true) < 0)
        return snprintf(why, wlen, "cannot start overlap db"), -1;
    return bench__child_listening(&c->db, "database", c->db_addr, sizeof(c->db_addr), why, wlen);
}

static int start_reference(struct check *c, char *why, size_t wlen)
{
    char wl[PATH_MAX + 16], log[PATH_MAX + 16];
    struct bench__args a;
    path_in(c, "check.ini", wl, sizeof(wl));
    path_in(c, "async.log", log, sizeof(log));
    bench__args_init(&a);
    bench__arg(&a, c->self);
    bench__arg(&a, "serve");
    bench__flag(&a, "--engine", "async");
    bench__flag(&a, "--workload", "%s", wl);
    bench__flag(&a, "--db", "%s", c->db_addr);
    bench__flag(&a, "--listen", "127.0.0.1:0");
    bench__flag(&a, "--loops", "1");
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c->refsrv, argv, log, true) < 0)
        return snprintf(why, wlen, "cannot start overlap serve"), -1;
    return bench__child_listening(&c->refsrv, "async", c->ref, sizeof(c->ref), why, wlen);
}

/* Asks addr for /items until it answers 200 eight times in a row (each of
 * a few database connections more than once), for up to 10 s: 0, or -1
 * with the last status in why. */
static int warm(const char *addr, const char *what, char *why, size_t wlen)
{
    uint64_t until = proc_now_ns() + 10000000000ULL;
    int status = 0, row = 0;
    while (row < 8 && proc_now_ns() < until && !proc_stopping()) {
        struct check_resp r;
        status = check_get(addr, "GET", "/items", &r) == 0 ? r.status : 0;
        check_resp_free(&r);
        row = status == 200 ? row + 1 : 0;
        if (status != 200)
            usleep(50000);
    }
    if (row == 8)
        return 0;
    snprintf(why, wlen,
             "%s did not answer GET /items with 200 eight times in a row within 10 s "
             "(last: %d)",
             what, status);
    return -1;
}

/* ---- the cases: each true, or false with why ---- */

static bool is_json(const struct check_resp *r)
{
    return !strncmp(r->content_type, "application/json", 16);
}

/* The same answer as the reference's: status, type and body. */
static bool same_answer(const struct check_resp *ref, const struct check_resp *got,
                        const char *what, char *why, size_t wlen)
{
    char diff[400];
    if (got->status != ref->status)
        return snprintf(why, wlen, "%s: status %d (%.80s) instead of %d", what, got->status,
                        got->body ? got->body : "", ref->status),
               false;
    if (ref->status != 200)
        return true;
    if (strncmp(got->content_type, ref->content_type, strcspn(ref->content_type, ";")))
        return snprintf(why, wlen, "%s: Content-Type '%s' instead of '%s'", what, got->content_type,
                        ref->content_type),
               false;
    if (is_json(ref)) {
        if (!check_json_same(ref->body, ref->body_len, got->body, got->body_len, diff,
                             sizeof(diff)))
            return snprintf(why, wlen, "%s: %s", what, diff), false;
    } else if (got->body_len != ref->body_len ||
               (ref->body_len && memcmp(got->body, ref->body, ref->body_len))) {
        return snprintf(why, wlen, "%s: body differs: '%.100s' instead of '%.100s'", what,
                        got->body ? got->body : "", ref->body ? ref->body : ""),
               false;
    }
    return true;
}

static bool case_routes(struct check *c, char *why, size_t wlen)
{
    static const char *const paths[] = {"/items", "/mixed", "/page", "/bad", "/plaintext"};
    static const int status[] = {200, 200, 200, 500, 200};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct check_resp a, b;
        if (check_get(c->ref, "GET", paths[i], &a) < 0 || a.status != status[i])
            return snprintf(why, wlen, "the reference answered %s with %d, not %d", paths[i],
                            a.status, status[i]),
                   check_resp_free(&a), false;
        bool ok = check_get(c->addr, "GET", paths[i], &b) == 0;
        if (!ok)
            snprintf(why, wlen, "GET %s: no whole answer (%s)", paths[i], strerror(errno));
        ok = ok && same_answer(&a, &b, paths[i], why, wlen);
        check_resp_free(&a);
        check_resp_free(&b);
        if (!ok)
            return false;
    }
    return true;
}

/* /pick draws its id: each answer must be one of the rows /items gives,
 * and 24 draws of 4 ids must not all be the same (a chance of 4^-23). */
static bool case_draws(struct check *c, char *why, size_t wlen)
{
    struct check_resp items, got;
    bool seen[4] = {false}, ok = true;
    if (check_get(c->ref, "GET", "/items", &items) < 0)
        return snprintf(why, wlen, "the reference did not answer /items"), false;
    for (int i = 0; i < 24 && ok; i++) {
        if (check_get(c->addr, "GET", "/pick", &got) < 0 || got.status != 200) {
            snprintf(why, wlen, "GET /pick: %s", got.status ? "not 200" : "no whole answer");
            ok = false;
        } else {
            int row = check_row_of(items.body, items.body_len, got.body, got.body_len, why, wlen);
            ok = row >= 0;
            if (ok)
                seen[row] = true;
        }
        check_resp_free(&got);
    }
    check_resp_free(&items);
    if (ok && seen[0] + seen[1] + seen[2] + seen[3] < 2)
        return snprintf(why, wlen, "24 draws of `int 1 4` all gave the same row"), false;
    return ok;
}

/* Server-Timing of /mixed: queue, its six steps in order, cpu-time; the
 * cpu step and cpu-time at least the 20 us burnt. And /wait's db phase at
 * least the 20 ms the database held the answer. */
static bool case_timing(struct check *c, char *why, size_t wlen)
{
    static const char *const want[] = {"queue", "db", "db", "cpu", "db", "db", "db", "cpu-time"};
    char names[16][16];
    double ms[16];
    struct check_resp r;
    if (check_get(c->addr, "GET", "/mixed", &r) < 0)
        return snprintf(why, wlen, "GET /mixed: no whole answer"), false;
    int n = check_timing(r.timing, names, ms, 16);
    bool ok = n == 8;
    for (int i = 0; ok && i < n; i++)
        ok = !strcmp(names[i], want[i]) && ms[i] >= 0;
    if (!ok)
        snprintf(why, wlen,
                 "/mixed: Server-Timing '%.200s' (expected queue, db, db, cpu, db, db, db, "
                 "cpu-time, each with dur=)",
                 r.timing);
    else if (ms[3] < 0.019 || ms[7] < 0.019)
        ok = false, snprintf(why, wlen, "/mixed: a 20 us cpu step took cpu %.3f ms, cpu-time %.3f",
                             ms[3], ms[7]);
    check_resp_free(&r);
    if (ok && check_get(c->addr, "GET", "/wait", &r) == 0) {
        n = check_timing(r.timing, names, ms, 16);
        if (n < 2 || strcmp(names[1], "db") || ms[1] < 19.9)
            ok = false, snprintf(why, wlen, "/wait: db phase of a 20 ms query: '%.200s'", r.timing);
        check_resp_free(&r);
    }
    return ok;
}

static bool case_plaintext(struct check *c, char *why, size_t wlen)
{
    struct check_resp r, h;
    if (check_get(c->addr, "GET", "/plaintext", &r) < 0)
        return snprintf(why, wlen, "GET /plaintext: no whole answer"), false;
    bool ok = r.status == 200 && r.body_len == 13 && !memcmp(r.body, "Hello, World!", 13) &&
              !strncmp(r.content_type, "text/plain", 10);
    if (!ok)
        snprintf(why, wlen, "GET /plaintext: %d '%.40s' (%s)", r.status, r.body ? r.body : "",
                 r.content_type);
    check_resp_free(&r);
    if (ok && check_get(c->addr, "HEAD", "/items", &h) == 0) {
        ok = h.status == 200 && h.body_len == 0 && is_json(&h);
        if (!ok)
            snprintf(why, wlen, "HEAD /items: status %d, %zu body bytes, type '%s'", h.status,
                     h.body_len, h.content_type);
        check_resp_free(&h);
    } else if (ok) {
        ok = false, snprintf(why, wlen, "HEAD /items: no whole answer");
    }
    return ok;
}

/* n requests written at once on one connection, answered in order. */
static bool batch(const char *addr, const char *const *reqs, const char *const *methods,
                  const int *status, int n, const char *what, char *why, size_t wlen)
{
    char buf[4096] = "";
    struct check_resp r[16] = {0};
    for (int i = 0; i < n; i++)
        strncat(buf, reqs[i], sizeof(buf) - strlen(buf) - 1);
    int fd = check_connect(addr);
    struct check_reader *rd = fd >= 0 ? check_reader_new(fd) : NULL;
    int got = rd && check_send(fd, buf, strlen(buf)) == 0 ? check_read(rd, methods, r, n) : 0;
    bool ok = got == n;
    if (!ok)
        snprintf(why, wlen, "%s: %d of %d answers", what, got, n);
    for (int i = 0; i < got; i++) {
        if (ok && r[i].status != status[i])
            ok = false, snprintf(why, wlen, "%s: answer %d has status %d instead of %d", what,
                                 i + 1, r[i].status, status[i]);
        check_resp_free(&r[i]);
    }
    check_reader_free(rd);
    if (fd >= 0)
        close(fd);
    return ok;
}

#define GET(p) "GET " p " HTTP/1.1\r\nHost: check\r\n\r\n"

static bool case_pipelining(struct check *c, char *why, size_t wlen)
{
    static const char *const reqs[] = {
        GET("/items"),     GET("/bad"),  GET("/plaintext"), GET("/mixed"), GET("/bad"),
        GET("/plaintext"), GET("/wait"), GET("/nope"),      GET("/bad"),   GET("/items")};
    static const char *const methods[] = {"GET", "GET", "GET", "GET", "GET",
                                          "GET", "GET", "GET", "GET", "GET"};
    static const int status[] = {200, 500, 200, 200, 500, 200, 200, 404, 500, 200};
    return batch(c->addr, reqs, methods, status, 10, "ten pipelined requests", why, wlen);
}

/* Three requests one after another on one connection, then HTTP/1.0: the
 * answer, then the server closes. */
static bool case_keepalive(struct check *c, char *why, size_t wlen)
{
    static const char *const methods[] = {"GET", "GET", "GET"};
    static const int status[] = {200};
    int fd = check_connect(c->addr);
    struct check_reader *rd = fd >= 0 ? check_reader_new(fd) : NULL;
    bool ok = rd != NULL;
    for (int i = 0; ok && i < 3; i++) {
        struct check_resp r = {0};
        ok = check_send(fd, GET("/items"), strlen(GET("/items"))) == 0 &&
             check_read(rd, methods, &r, 1) == 1 && r.status == 200 && r.keep_alive;
        if (!ok)
            snprintf(why, wlen, "request %d of 3 on one connection: not answered and kept open",
                     i + 1);
        if (r.status)
            check_resp_free(&r);
    }
    check_reader_free(rd);
    if (fd >= 0)
        close(fd);
    static const char *const old[] = {"GET /plaintext HTTP/1.0\r\n\r\n"};
    return ok && batch(c->addr, old, methods, status, 1, "HTTP/1.0", why, wlen);
}

static bool case_refusals(struct check *c, char *why, size_t wlen)
{
    struct check_resp r = {0};
    bool ok = check_get(c->addr, "GET", "/nope", &r) == 0 && r.status == 404;
    if (!ok)
        snprintf(why, wlen, "GET /nope: status %d instead of 404", r.status);
    if (r.status)
        check_resp_free(&r);
    static const char *const post[] = {"POST /items HTTP/1.1\r\nHost: check\r\n"
                                       "Content-Length: 0\r\n\r\n"};
    static const char *const methods[] = {"POST"};
    static const int s405[] = {405};
    if (ok && !(ok = batch(c->addr, post, methods, s405, 1, "POST /items", why, wlen)))
        return false;
    /* a request line that does not parse, then a head over 8 KiB */
    static const char *const bad[] = {"GET\x01/ HTTP/1.1 nonsense\r\n\r\n"};
    static const int s400[] = {400};
    ok = ok && batch(c->addr, bad, methods, s400, 1, "a malformed request line", why, wlen);
    char big[12000];
    int n = snprintf(big, sizeof(big), "GET /items HTTP/1.1\r\nHost: check\r\nX-Big: ");
    memset(big + n, 'a', 10000);
    memcpy(big + n + 10000, "\r\n\r\n", 5);
    int fd = ok ? check_connect(c->addr) : -1;
    struct check_reader *rd = fd >= 0 ? check_reader_new(fd) : NULL;
    if (rd && check_send(fd, big, strlen(big)) == 0 && check_read(rd, methods, &r, 1) == 1) {
        if (r.status != 431 && r.status != 400)
            ok = false,
            snprintf(why, wlen, "a 10 KB head: status %d (expected 431 or 400)", r.status);
        check_resp_free(&r);
    } else if (ok) {
        ok = false, snprintf(why, wlen, "a 10 KB head: no answer");
    }
    check_reader_free(rd);
    if (fd >= 0)
        close(fd);
    /* and the server goes on */
    if (ok && (check_get(c->addr, "GET", "/plaintext", &r) < 0 || r.status != 200))
        ok = false, snprintf(why, wlen, "no longer serving after the bad requests");
    else if (ok)
        check_resp_free(&r);
    return ok;
}

/* The database goes away: 503 (not a hang); it comes back at the same
 * address: served again within 10 s (the server reconnects). */
static bool case_database(struct check *c, char *why, size_t wlen)
{
    struct check_resp r = {0};
    bench__child_stop(&c->db);
    /* a query already under way may still be answered: within 5 s, 503 */
    uint64_t until = proc_now_ns() + 5000000000ULL;
    bool ok = false;
    while (!ok && proc_now_ns() < until) {
        if (check_get(c->addr, "GET", "/items", &r) < 0)
            break;
        ok = r.status == 503;
        if (!ok && r.status != 200)
            break;
        check_resp_free(&r);
    }
    if (!ok)
        snprintf(why, wlen, "the database stopped: status %d instead of 503", r.status);
    check_resp_free(&r);
    char down[256];
    if (start_db(c, down, sizeof(down)) < 0)
        return snprintf(why, wlen, "cannot restart the database: %s", down), false;
    until = proc_now_ns() + 10000000000ULL;
    int status = 0;
    while (ok && status != 200 && proc_now_ns() < until) {
        if (check_get(c->addr, "GET", "/items", &r) == 0)
            status = r.status;
        check_resp_free(&r);
        if (status != 200)
            usleep(100000);
    }
    if (ok && status != 200)
        return snprintf(why, wlen, "the database back: status %d after 10 s", status), false;
    return ok;
}

/* OVERLOAD_CLIENTS connections ask at once: each is answered, 200 or 503. */
static bool case_overload(struct check *c, char *why, size_t wlen)
{
    static const char *const methods[] = {"GET"};
    int fds[OVERLOAD_CLIENTS], served = 0, shed = 0, lost = 0, other = 0;
    for (int i = 0; i < OVERLOAD_CLIENTS; i++) {
        fds[i] = check_connect(c->addr);
        if (fds[i] >= 0 && check_send(fds[i], GET("/wait"), strlen(GET("/wait"))) < 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    for (int i = 0; i < OVERLOAD_CLIENTS; i++) {
        struct check_resp r = {0};
        struct check_reader *rd = fds[i] >= 0 ? check_reader_new(fds[i]) : NULL;
        if (rd && check_read(rd, methods, &r, 1) == 1) {
            served += r.status == 200;
            shed += r.status == 503;
            other += r.status != 200 && r.status != 503;
        } else {
            lost++;
        }
        check_resp_free(&r);
        check_reader_free(rd);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    if (lost || other || !served)
        return snprintf(why, wlen,
                        "%d clients at once: %d served, %d refused with 503, %d other "
                        "statuses, %d without an answer",
                        OVERLOAD_CLIENTS, served, shed, other, lost),
               false;
    return true;
}

/* SIGTERM: the whole group gone within STOP_LIMIT_S. */
static bool case_stop(struct check *c, char *why, size_t wlen)
{
    pid_t pid = c->server.pid;
    uint64_t t0 = proc_now_ns();
    kill(-pid, SIGTERM);
    while (proc_now_ns() - t0 < (uint64_t)(STOP_LIMIT_S * 1e9) &&
           !bench__child_ended(&c->server, "server", NULL, 0))
        usleep(10000);
    double s = (proc_now_ns() - t0) / 1e9;
    bool ended = c->server.pid == 0;
    bench__child_stop(&c->server); /* SIGKILL for what is left */
    if (!ended)
        return snprintf(why, wlen, "still running %.1f s after SIGTERM", s), false;
    printf("     (stopped %.2f s after SIGTERM)\n", s);
    return true;
}

static const struct {
    const char *name;
    bool (*run)(struct check *, char *, size_t);
} cases[] = {
    {"routes", case_routes},       {"draws", case_draws},          {"timing", case_timing},
    {"plaintext", case_plaintext}, {"keep-alive", case_keepalive}, {"pipelining", case_pipelining},
    {"refusals", case_refusals},   {"overload", case_overload},    {"database", case_database},
    {"stop", case_stop},
};

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* The check's folder: the workload, its rows and JSON, the logs. */
static int prepare(struct check *c, char *why, size_t wlen)
{
    char ini[PATH_MAX + 16], sql[PATH_MAX + 16], json[PATH_MAX + 16];
    const char *base = getenv("TMPDIR");
    snprintf(c->dir, sizeof(c->dir), "%s/overlap-check-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(c->dir))
        return snprintf(why, wlen, "cannot create %s: %s", c->dir, strerror(errno)), -1;
    path_in(c, "check.ini", ini, sizeof(ini));
    path_in(c, "data.sql", sql, sizeof(sql));
    path_in(c, "check.json", json, sizeof(json));
    struct wl_workload *wl = NULL;
    char err[WL_ERR_LEN];
    FILE *f = NULL;
    if (write_file(ini, workload_ini) < 0 || write_file(sql, data_sql) < 0 ||
        wl_load(ini, &wl, err, sizeof(err)) < 0 || !(f = fopen(json, "w")) ||
        wl_export_json(wl, f) < 0) {
        snprintf(why, wlen, "cannot write the check's workload in %s", c->dir);
        if (f)
            fclose(f);
        wl_free(wl);
        return -1;
    }
    wl_free(wl);
    return fclose(f) == 0 ? 0 : -1;
}

int bench_check_main(int argc, char **argv)
{
    static struct check c;
    struct ext_manifest m;
    const char *ref = NULL;
    bool keep = false;
    int workers = 0;
    char path[PATH_MAX], why[PATH_MAX + 256], log[PATH_MAX + 16], build[PATH_MAX + 16],
        json[PATH_MAX + 16];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return fputs(usage, stdout), 0;
        if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            if (wl_count_parse(argv[++i], 1, 100000, &workers) < 0)
                return proc_usage_error("engine check", usage, "bad --workers '%s'", argv[i]);
        } else if (argv[i][0] == '-' || ref)
            return proc_value_missing("engine check", usage, argv[i]);
        else
            ref = argv[i];
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0 || !ref)
        return proc_usage_error("engine check", usage, "expected check MANIFEST");
    if (ext_manifest_find(ref, path, sizeof(path), why, sizeof(why)) < 0 ||
        ext_manifest_load(path, &m, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.m = &m;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    c.self = self;
    if (proc_install_signals() < 0 || prepare(&c, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        return 1;
    }
    path_in(&c, "build", build, sizeof(build));
    path_in(&c, "check.json", json, sizeof(json));
    struct ext_vars v = {.listen = "127.0.0.1:0",
                         .db = c.db_addr,
                         .workload = json,
                         .build = build,
                         .workers = workers};
    int status = 1;
    printf("overlap engine check: %s (%s) from %s\n", m.name, m.architecture, m.path);
    fflush(stdout);
    path_in(&c, "build.log", log, sizeof(log));
    if (start_db(&c, why, sizeof(why)) < 0 || start_reference(&c, why, sizeof(why)) < 0 ||
        ext_build(&m, &v, log, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        goto done;
    }
    path_in(&c, "server.log", log, sizeof(log));
    if (ext_start(&m, &v, &c.server, log, "", c.addr, sizeof(c.addr), why, sizeof(why)) < 0) {
        report(&c, "start", false, why);
        goto done;
    }
    /* a server may open its database connections after it listens: both
     * are given 10 s to answer queries before the cases begin */
    if (warm(c.ref, "async", why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        goto done;
    }
    if (warm(c.addr, m.name, why, sizeof(why)) < 0) {
        report(&c, "start", false, why);
        goto done;
    }
    report(&c, "start", true, "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && !proc_stopping(); i++) {
        why[0] = '\0';
        bool ok = cases[i].run(&c, why, sizeof(why));
        report(&c, cases[i].name, ok, why);
        if (!ok && bench__child_ended(&c.server, m.name, why, sizeof(why))) {
            report(&c, "alive", false, why);
            break;
        }
    }
    status = c.failed ? 1 : 0;
    printf("%s: %d passed, %d failed%s\n", m.name, c.passed, c.failed,
           c.failed ? " (the logs: --keep)" : "");
done:
    bench__child_stop(&c.server);
    bench__child_stop(&c.refsrv);
    bench__child_stop(&c.db);
    if (keep)
        printf("the check's folder: %s\n", c.dir);
    else
        nftw(c.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return proc_stopping() ? 130 : status;
}
