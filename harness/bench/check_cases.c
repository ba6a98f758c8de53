/* `overlap engine check`'s cases (check.h): each sends requests to the
 * engine under test (and to async, the reference, where an answer is
 * compared) and says true, or false with what differed. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_child.h"
#include "check.h"
#include "proc.h"

#define OVERLOAD_CLIENTS 200 /* at once, each asking for a 20 ms wait */
#define STOP_LIMIT_S     5.0 /* the contract says 2 s; a busy machine gets slack */

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
            snprintf(why, wlen, "GET /pick: %d %.80s", got.status,
                     got.status ? (got.body ? got.body : "") : "(no whole answer)");
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
            ok = false,
            snprintf(why, wlen, "/wait: status %d (%.60s), db phase of a 20 ms query: '%.200s'",
                     r.status, r.body ? r.body : "", r.timing);
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
            snprintf(why, wlen,
                     "request %d of 3 on one connection: status %d (%.60s)%s, not answered and "
                     "kept open",
                     i + 1, r.status, r.body ? r.body : "", r.keep_alive ? "" : ", closing");
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
    if (check_db_down(c, why, wlen) < 0)
        return false;
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
    if (check_db_up(c, down, sizeof(down)) < 0)
        return snprintf(why, wlen, "cannot bring the database back: %s", down), false;
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

const struct check_case check_cases[] = {
    {"routes", case_routes},       {"draws", case_draws},          {"timing", case_timing},
    {"plaintext", case_plaintext}, {"keep-alive", case_keepalive}, {"pipelining", case_pipelining},
    {"refusals", case_refusals},   {"overload", case_overload},    {"database", case_database},
    {"stop", case_stop},
};
const int check_ncases = sizeof(check_cases) / sizeof(check_cases[0]);
