/* The load generator against a small HTTP server inside the test (threads on
 * 127.0.0.1, port 0) whose delay, stalls and faults the test controls: rate
 * accuracy, latency, coordinated omission, errors by class, the response
 * reader, and the `overlap load` command's outputs and exit codes. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "csv.h"
#include "hist.h"
#include "load.h"

/* ---- the test server ---- */

enum reply {
    REPLY_OK,      /* 200 with a body and Server-Timing */
    REPLY_503,     /* 503: an HTTP status error */
    REPLY_GARBAGE, /* not HTTP at all: a read error */
    REPLY_NOTHING, /* reads the request, never answers: a timeout */
};

#define MAX_CONNS 128

struct server {
    int lfd, port;
    enum reply reply;
    uint64_t delay_ns;           /* every answer waits this long */
    uint64_t stall_at, stall_ns; /* requests in [at, at + ns) wait until its end */
    uint64_t close_at;           /* from then on: no listener, connections closed */
    int accept_max;              /* accepts this many connections, then leaves the rest queued */
    atomic_int stop;
    atomic_long served;
    pthread_t acceptor;
    pthread_t conn_threads[MAX_CONNS];
    int conn_fds[MAX_CONNS];
    atomic_int nconns;
};

struct conn_arg {
    struct server *s;
    int fd;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool closing(struct server *s)
{
    return atomic_load(&s->stop) || (s->close_at && now_ns() >= s->close_at);
}

/* Sleeps until t unless the server stops first. */
static void sleep_until(struct server *s, uint64_t t)
{
    while (!closing(s)) {
        uint64_t now = now_ns();
        if (now >= t)
            return;
        uint64_t d = t - now < 20000000 ? t - now : 20000000;
        struct timespec ts = {0, (long)d};
        nanosleep(&ts, NULL);
    }
}

static void answer(struct server *s, int fd)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                             "Server-Timing: queue;dur=0.010, cpu;dur=0.500\r\n\r\nHello, World!";
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n";
    static const char garbage[] = "SMTP ready, not HTTP\r\n\r\n";
    uint64_t arrived = now_ns(), at = arrived + s->delay_ns;
    if (s->stall_ns && arrived >= s->stall_at && arrived < s->stall_at + s->stall_ns &&
        at < s->stall_at + s->stall_ns)
        at = s->stall_at + s->stall_ns;
    if (s->reply == REPLY_NOTHING)
        return;
    sleep_until(s, at);
    const char *r = s->reply == REPLY_OK ? ok : s->reply == REPLY_503 ? busy : garbage;
    if (!closing(s) && write(fd, r, strlen(r)) > 0)
        atomic_fetch_add(&s->served, 1);
}

static void *serve_conn(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;
    char buf[4096];
    size_t len = 0;
    free(p);
    while (!closing(a.s)) {
        struct pollfd pf = {.fd = a.fd, .events = POLLIN};
        if (poll(&pf, 1, 20) <= 0)
            continue;
        ssize_t n = read(a.fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        char *end;
        while ((end = memmem(buf, len, "\r\n\r\n", 4))) { /* one answer per request head */
            size_t used = (size_t)(end + 4 - buf);
            answer(a.s, a.fd);
            memmove(buf, buf + used, len - used);
            len -= used;
        }
        if (len == sizeof(buf))
            break;
    }
    shutdown(a.fd, SHUT_RDWR);
    return NULL;
}

static void *accept_loop(void *p)
{
    struct server *s = p;
    while (!closing(s)) {
        struct pollfd pf = {.fd = s->lfd, .events = POLLIN};
        if (poll(&pf, 1, 20) <= 0)
            continue;
        int i = atomic_load(&s->nconns);
        if (s->accept_max && i >= s->accept_max) { /* the kernel still completes handshakes */
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (i >= MAX_CONNS) {
            close(fd);
            continue;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        a->s = s;
        a->fd = fd;
        s->conn_fds[i] = fd;
        if (pthread_create(&s->conn_threads[i], NULL, serve_conn, a) != 0) {
            close(fd);
            free(a);
            continue;
        }
        atomic_store(&s->nconns, i + 1);
    }
    close(s->lfd); /* from here connects are refused */
    return NULL;
}

static int listen_any(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 512), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void server_start(struct server *s)
{
    s->lfd = listen_any(&s->port);
    cr_assert_eq(pthread_create(&s->acceptor, NULL, accept_loop, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->acceptor, NULL);
    for (int i = 0; i < atomic_load(&s->nconns); i++) {
        pthread_join(s->conn_threads[i], NULL);
        close(s->conn_fds[i]);
    }
}

/* A port nobody listens on: bound, then closed. */
static int dead_port(void)
{
    int port, fd = listen_any(&port);
    close(fd);
    return port;
}

/* ---- running the generator in the test ---- */

static char target[64];

static struct load_config config(struct server *s, int clients, double rate, double seconds)
{
    snprintf(target, sizeof(target), "127.0.0.1:%d", s->port);
    struct load_config c = {
        .target = target,
        .clients = clients,
        .threads = 1,
        .rate = rate,
        .arrival = LOAD_UNIFORM,
        .duration_ns = (uint64_t)(seconds * 1e9),
        .timeout_ns = 2000000000u,
        .seed = 1,
    };
    return c;
}

static void run(const struct load_config *c, struct load_result *r)
{
    char err[LOAD_ERR_LEN];
    cr_assert_eq(load_run(c, r, err, sizeof(err)), 0, "%s", err);
}

static double p_ms(const struct load_result *r, double p)
{
    return hist_percentile(r->latency, p) / 1e6;
}

static double uncorrected_ms(const struct load_result *r, double p)
{
    return hist_percentile(r->uncorrected, p) / 1e6;
}

/* ---- the generator ---- */

/* Open loop, uniform gaps, two threads: exactly R*D requests (within 1 %). */
Test(load, open_loop_sends_rate_times_duration)
{
    struct server s = {.reply = REPLY_OK};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 8, 400, 2.0);
    c.threads = 2;
    c.warmup_ns = 200000000;
    run(&c, &r);
    server_stop(&s);
    cr_expect(r.sent >= 792 && r.sent <= 808, "sent %lu, want 800 +-1%%", (unsigned long)r.sent);
    cr_expect(r.requests >= 792 && r.requests <= 808, "answered %lu", (unsigned long)r.requests);
    /* The intended requests are the schedule's, exact on any machine; the
     * achieved rate counts those actually sent inside the window, so a
     * generator thread descheduled for 20 ms at its edge moves it by 1 %.
     * 5 % holds beside a busy process and still fails a wrong rate. */
    cr_expect(r.achieved_rps >= 380 && r.achieved_rps <= 420, "achieved %.1f", r.achieved_rps);
    cr_expect_eq(r.errors_connect + r.errors_timeout + r.errors_read + r.errors_status, 0);
    cr_expect_eq(hist_count(r.latency), r.requests);
    load_result_free(&r);
}

/* Poisson gaps: the count is random, but R*D within a few standard deviations. */
Test(load, poisson_arrivals_average_the_rate)
{
    struct server s = {.reply = REPLY_OK};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 8, 500, 2.0);
    c.arrival = LOAD_POISSON;
    run(&c, &r);
    server_stop(&s);
    cr_expect(r.sent >= 1000 - 160 && r.sent <= 1000 + 160, "sent %lu", (unsigned long)r.sent);
    load_result_free(&r);
}

/* A fixed 5 ms server delay reads as p50 ~ 5 ms. No answer can come sooner
 * than the delay (within the histogram's 0.1 %): that bound is the code's.
 * Above it, what the median adds is the machine's: the server's and the
 * generator's wakeups, about 0.1 ms on an idle machine, a few ms beside a
 * busy process. The upper bound, twice the delay, still fails a generator
 * that counts the delay twice or from the connection's start. */
Test(load, fixed_delay_reads_as_p50)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 5000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 4, 0, 1.0);
    run(&c, &r);
    server_stop(&s);
    double p50 = p_ms(&r, 50);
    fprintf(stderr, "load: a fixed 5 ms delay read as p50 %.3f ms, min %.3f ms\n", p50,
            p_ms(&r, 0));
    cr_expect(p50 >= 5.0 * 0.999 && p50 < 10.0, "p50 %.3f ms", p50);
    cr_expect(p_ms(&r, 0) >= 5.0 * 0.999, "min %.3f ms", p_ms(&r, 0));
    cr_expect_gt(r.requests, 100); /* 4 clients, 1 s, 5 ms each: ~800 */
    cr_expect_eq(r.errors_read + r.errors_timeout + r.errors_connect + r.errors_status, 0);
    load_result_free(&r);
}

/* The closed loop counts the answers that arrive in its window, whenever
 * their requests were sent: with responses as slow as the window is long,
 * counting by send time would drop most of them. 8 clients, 600 ms answers,
 * a 500 ms warmup then a 1 s window: answers land at 0.6 s and 1.2 s, both in
 * the window, so 16 (answers sent in the window alone would be 8). The
 * second answers have 300 ms to spare before the window closes and a third
 * cannot come before 1.8 s: the count holds on a loaded machine, whose
 * wakeups are late by milliseconds. */
Test(load, closed_loop_counts_the_answers_in_its_window)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 600000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 8, 0, 1.0);
    c.warmup_ns = 500000000;
    run(&c, &r);
    server_stop(&s);
    cr_expect_geq(r.requests, 16, "answers counted in the window: %llu",
                  (unsigned long long)r.requests);
    cr_expect_leq(r.requests, 24, "answers counted in the window: %llu",
                  (unsigned long long)r.requests);
    cr_expect_geq(p_ms(&r, 0), 600 * 0.999, "min %.3f ms", p_ms(&r, 0));
    load_result_free(&r);
}

/* Coordinated omission: a 1 s stall once in a 5 s run. Open loop counts every
 * request from its intended time, so the stall fills the tail (p99 >= 500
 * ms); the closed loop waits politely and shows it only in max. The open
 * loop's uncorrected latency, from the actual send, is what a generator that
 * omits the queue would report: with 4 connections only the 4 requests sent
 * into the stall wait through it, 0.4 % of 1000, so its p99 stays small. */
Test(load, open_loop_shows_a_stall_that_closed_loop_hides, .timeout = 60)
{
    struct load_result open, closed;
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000, .stall_ns = 1000000000};
    server_start(&s);
    struct load_config c = config(&s, 4, 200, 5.0);
    s.stall_at = now_ns() + 1500000000u;
    run(&c, &open);
    c = config(&s, 4, 0, 5.0);
    s.stall_at = now_ns() + 1500000000u;
    run(&c, &closed);
    server_stop(&s);
    cr_log_info("open loop:   p50 %.2f p90 %.2f p99 %.2f max %.2f ms, %lu requests",
                p_ms(&open, 50), p_ms(&open, 90), p_ms(&open, 99), hist_max(open.latency) / 1e6,
                (unsigned long)open.requests);
    cr_log_info("uncorrected: p50 %.2f p90 %.2f p99 %.2f max %.2f ms",
                hist_percentile(open.uncorrected, 50) / 1e6,
                hist_percentile(open.uncorrected, 90) / 1e6, uncorrected_ms(&open, 99),
                hist_max(open.uncorrected) / 1e6);
    cr_log_info("closed loop: p50 %.2f p90 %.2f p99 %.2f max %.2f ms, %lu requests",
                p_ms(&closed, 50), p_ms(&closed, 90), p_ms(&closed, 99),
                hist_max(closed.latency) / 1e6, (unsigned long)closed.requests);
    cr_expect_geq(p_ms(&open, 99), 500, "open p99 %.1f ms", p_ms(&open, 99));
    cr_expect_geq(p_ms(&open, 90), 100, "open p90 %.1f ms", p_ms(&open, 90));
    cr_expect_geq(hist_max(open.latency) / 1e6, 900);
    cr_expect_lt(uncorrected_ms(&open, 99), 100, "uncorrected p99 %.1f ms",
                 uncorrected_ms(&open, 99));
    cr_expect_geq(hist_max(open.uncorrected) / 1e6, 900, "the stall is still in its max");
    cr_expect_eq(hist_count(open.uncorrected), open.requests);
    cr_expect_geq(hist_max(closed.latency) / 1e6, 900, "closed max %.1f ms",
                  hist_max(closed.latency) / 1e6);
    cr_expect_lt(p_ms(&closed, 99), 100, "closed p99 %.1f ms", p_ms(&closed, 99));
    for (double p = 0; p <= 100; p += 10) /* closed loop: sent when intended */
        cr_expect_eq(uncorrected_ms(&closed, p), p_ms(&closed, p), "closed p%g", p);
    cr_expect_eq(open.errors_timeout + closed.errors_timeout, 0);
    load_result_free(&open);
    load_result_free(&closed);
}

Test(load, unanswered_requests_time_out)
{
    struct server s = {.reply = REPLY_NOTHING};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 1.0);
    c.timeout_ns = 200000000;
    run(&c, &r);
    cr_expect_geq(r.errors_timeout, 4, "timeouts %lu", (unsigned long)r.errors_timeout);
    cr_expect_eq(r.requests, 0);
    load_result_free(&r);
    c = config(&s, 4, 50, 1.0); /* open loop: sent ones and never-sent ones */
    c.timeout_ns = 200000000;
    run(&c, &r);
    server_stop(&s);
    cr_expect_geq(r.errors_timeout, 40, "open timeouts %lu", (unsigned long)r.errors_timeout);
    cr_expect_eq(r.requests, 0);
    load_result_free(&r);
}

Test(load, malformed_responses_are_read_errors)
{
    struct server s = {.reply = REPLY_GARBAGE};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 0.5);
    run(&c, &r);
    server_stop(&s);
    cr_expect_geq(r.errors_read, 2, "read errors %lu", (unsigned long)r.errors_read);
    cr_expect_eq(r.requests, 0);
    load_result_free(&r);
}

/* --goal counts the successful answers within it, from their intended
 * time: every one of a fixed 5 ms delay is within 1 s, none within 4 ms
 * (the server answers no sooner than 5 ms), and an error status is never
 * within, however fast. */
Test(load, answers_within_a_goal_are_counted)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 5000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 0.3);
    c.goal_ns = 1000000000;
    run(&c, &r);
    cr_expect_gt(r.requests, 0);
    cr_expect_eq(r.within_goal, r.ok, "%llu of %llu", (unsigned long long)r.within_goal,
                 (unsigned long long)r.ok);
    load_result_free(&r);
    c.goal_ns = 4000000;
    run(&c, &r);
    cr_expect_gt(r.requests, 0);
    cr_expect_eq(r.within_goal, 0);
    load_result_free(&r);
    server_stop(&s);
    struct server refusing = {.reply = REPLY_503};
    server_start(&refusing);
    c = config(&refusing, 2, 0, 0.3);
    c.goal_ns = 1000000000;
    run(&c, &r);
    server_stop(&refusing);
    cr_expect_gt(r.errors_status, 0);
    cr_expect_eq(r.within_goal, 0, "a 503 is no answer within the goal");
    load_result_free(&r);
}

Test(load, error_statuses_are_counted_apart)
{
    struct server s = {.reply = REPLY_503};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 0.3);
    run(&c, &r);
    server_stop(&s);
    cr_expect_gt(r.requests, 0);
    cr_expect_eq(r.errors_status, r.requests);
    cr_expect_eq(r.ok, 0);
    cr_expect_eq(r.throughput_rps, 0);
    load_result_free(&r);
}

Test(load, a_refused_target_fails_at_once)
{
    char t[64], err[LOAD_ERR_LEN] = "";
    struct load_result r;
    snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
    /* A run and a timeout of 30 s: a generator that kept trying would take
     * that long, one that fails at once a millisecond; 10 s between them
     * holds on any machine. */
    struct load_config c = {.target = t,
                            .clients = 2,
                            .threads = 1,
                            .duration_ns = 30000000000u,
                            .timeout_ns = 30000000000u};
    uint64_t t0 = now_ns();
    cr_expect_eq(load_run(&c, &r, err, sizeof(err)), -1);
    cr_expect(strstr(err, "cannot connect") && strstr(err, "refused"), "%s", err);
    cr_expect_lt(now_ns() - t0, 10000000000u);
    c.target = "no-port";
    cr_expect_eq(load_run(&c, &r, err, sizeof(err)), -1);
    cr_expect(strstr(err, "HOST:PORT"), "%s", err);
}

/* The server goes away mid-run: refused reconnects are counted, no crash. */
Test(load, a_server_that_goes_away_gives_connect_errors)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 4, 0, 1.0);
    s.close_at = now_ns() + 300000000;
    run(&c, &r);
    server_stop(&s);
    cr_expect_gt(r.requests, 10);
    cr_expect_geq(r.errors_connect, 4, "connect errors %lu", (unsigned long)r.errors_connect);
    load_result_free(&r);
}

/* Closed loop with think time: each connection pauses between requests. */
Test(load, think_time_spaces_a_connection_s_requests)
{
    struct server s = {.reply = REPLY_OK};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 1.0);
    c.think = true;
    c.think_dist = (struct wl_dist){WL_DIST_FIXED, 50e6, 0};
    run(&c, &r);
    server_stop(&s);
    /* 2 connections, one request per 50 ms at most: 40 in 1 s. Fewer than 20
     * would take each request 50 ms late on average: more than a loaded
     * machine's wakeups cost. A p50 under 40 ms says the think time is not in
     * the latency. */
    cr_expect(r.requests >= 20 && r.requests <= 44, "requests %lu", (unsigned long)r.requests);
    cr_expect_lt(p_ms(&r, 50), 40, "think time is not latency: p50 %.2f ms", p_ms(&r, 50));
    load_result_free(&r);
}

/* With a workload, paths are the request types, drawn by weight. */
Test(load, a_workload_draws_its_request_types)
{
    struct server s = {.reply = REPLY_OK};
    struct load_result r;
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    int seen[8] = {0}, kinds = 0;
    cr_assert_eq(wl_load(OVERLAP_SOURCE_DIR "/workloads/mixed.ini", &wl, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert(wl->nrequests >= 2 && wl->nrequests <= 8);
    server_start(&s);
    struct load_config c = config(&s, 2, 0, 0.3);
    c.wl = wl;
    c.timeline_max = 200;
    run(&c, &r);
    server_stop(&s);
    cr_assert_eq(r.ntimeline, 200);
    for (int i = 0; i < r.ntimeline; i++) {
        cr_assert(r.timeline[i].request >= 0 && r.timeline[i].request < wl->nrequests);
        kinds += !seen[r.timeline[i].request]++;
    }
    cr_expect_eq(kinds, wl->nrequests, "saw %d of %d request types", kinds, wl->nrequests);
    load_result_free(&r);
    wl_free(wl);
}

Test(load, timeline_holds_the_first_requests_with_their_phases)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 2000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 3, 300, 0.1);
    c.timeline_max = 5;
    run(&c, &r);
    server_stop(&s);
    cr_assert_eq(r.ntimeline, 5);
    for (int i = 0; i < 5; i++) {
        const struct load_timeline *t = &r.timeline[i];
        cr_expect_eq(t->status, 200);
        cr_expect_leq(t->intended, t->sent);
        cr_expect_leq(t->sent, t->first_byte);
        cr_expect_leq(t->first_byte, t->done);
        cr_expect_geq(t->done - t->sent, 2000000);
        cr_expect_str_eq(t->phases, "queue:0.010;cpu:0.500");
        if (i) /* uniform at 300/s: 3.33 ms apart from the start */
            cr_expect_eq(t->intended - r.timeline[i - 1].intended, 3333333, "row %d", i);
    }
    cr_expect_eq(r.timeline[0].intended, 0);
    load_result_free(&r);
}

/* The intervals add up to the run: every answer falls in one, they tile the
 * window, and the connections and clients are all there. */
Test(load, intervals_add_up_to_the_run)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    struct load_result r;
    server_start(&s);
    for (int open = 0; open <= 1; open++) {
        struct load_config c = config(&s, 4, open ? 200 : 0, 1.0);
        c.threads = 2;
        c.interval_ns = 250000000;
        c.warmup_ns = 100000000;
        run(&c, &r);
        uint64_t requests = 0, ok = 0, errors = 0;
        /* 4, and in open loop a fifth if a late answer stretched the window */
        cr_assert_eq(r.nintervals, (int)ceil(r.window_s / 0.25 - 1e-9), "%d intervals in %f s",
                     r.nintervals, r.window_s);
        cr_assert_geq(r.nintervals, 4);
        for (int i = 0; i < r.nintervals; i++) {
            const struct load_interval *v = &r.intervals[i];
            requests += v->requests;
            ok += v->ok;
            errors += v->errors;
            cr_expect_gt(v->end_s, i ? r.intervals[i - 1].end_s : 0);
            if (v->requests)
                cr_expect_geq(v->p50_ns, 1000000, "interval %d: p50 %lu", i,
                              (unsigned long)v->p50_ns);
        }
        cr_expect(fabs(r.intervals[r.nintervals - 1].end_s - r.window_s) < 1e-9);
        cr_expect_eq(requests, r.requests);
        cr_expect_eq(ok, r.ok);
        cr_expect_eq(errors, 0);
        cr_expect_eq(r.connections, 4);
        /* the open loop hands a due request to the connection freed last, so
         * at a light rate each thread needs only one of its two */
        if (open)
            cr_expect(r.clients_answered >= 2 && r.clients_answered <= 4, "%d answered",
                      r.clients_answered);
        else
            cr_expect_eq(r.clients_answered, 4);
        cr_expect_geq(r.intervals_cv, 0);
        load_result_free(&r);
    }
    server_stop(&s);
}

/* A server that stops answering halfway: the intervals after it hold errors
 * and no answers, and the throughput's variation says the run was unsteady. */
Test(load, a_server_that_stops_halfway_reads_as_unsteady)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 4, 0, 2.0);
    c.interval_ns = 250000000;
    s.close_at = now_ns() + 1000000000;
    run(&c, &r);
    server_stop(&s);
    cr_assert_eq(r.nintervals, 8);
    const struct load_interval *last = &r.intervals[7];
    cr_expect_eq(last->requests, 0, "answers after the server left: %lu",
                 (unsigned long)last->requests);
    cr_expect_gt(last->errors, 0, "refused reconnects count in their interval");
    cr_expect_gt(r.intervals[0].requests, 0);
    cr_expect_gt(r.intervals_cv, 0.5, "cv %.3f", r.intervals_cv);
    load_result_free(&r);
}

/* A server that accepts 3 connections (the generator's probe and 2 of its 6)
 * and leaves the rest in its listen queue: the kernel completes their
 * handshakes, so all 6 are connected, but only 2 clients are ever answered. */
Test(load, clients_answered_shows_a_server_that_serves_only_some)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000, .accept_max = 3};
    struct load_result r;
    server_start(&s);
    struct load_config c = config(&s, 6, 0, 1.0);
    c.timeout_ns = 300000000;
    run(&c, &r);
    server_stop(&s);
    cr_expect_eq(r.connections, 6);
    cr_expect_eq(r.clients_answered, 2);
    cr_expect_lt(r.clients_answered, c.clients);
    cr_expect_gt(r.requests, 10);
    cr_expect_geq(r.errors_timeout, 4, "the 4 unserved clients time out");
    load_result_free(&r);
}

/* ---- reading responses ---- */

static int feed_split(const char *text, size_t at, struct load_response *res)
{
    size_t len = strlen(text);
    load_response_start(res, true);
    int rc = at ? load_response_feed(res, text, at) : LOAD_RESPONSE_MORE; /* 0 bytes: EOF */
    if (rc == LOAD_RESPONSE_MORE && at < len)
        rc = load_response_feed(res, text + at, len - at);
    return rc;
}

Test(response, any_split_reads_the_same)
{
    static const char *ok[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer-Timing: db;dur=1.5\r\n\r\nhello",
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer-Timing: a;dur=1\r\n\r\n"
         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        "HTTP/1.1 204 No Content\r\nServer-Timing: q;dur=0.1\r\nServer-Timing: c;dur=2\r\n\r\n",
    };
    static const char *compact[] = {"db:1.5", "a:1", "q:0.1;c:2"};
    for (size_t k = 0; k < 3; k++)
        for (size_t at = 0; at <= strlen(ok[k]); at++) {
            struct load_response res;
            char out[64];
            cr_assert_eq(feed_split(ok[k], at, &res), LOAD_RESPONSE_DONE, "%zu at %zu", k, at);
            cr_expect_eq(res.status, k == 2 ? 204 : 200);
            cr_expect(res.keep_alive);
            load_timing_compact(res.timing, res.timing_len, out, sizeof(out));
            cr_expect_str_eq(out, compact[k], "%zu at %zu", k, at);
        }
}

Test(response, malformed_or_cut_short_is_an_error)
{
    static const char *bad[] = {
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/9 200 OK\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA", /* stray bytes after it */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct load_response res;
        load_response_start(&res, false);
        cr_expect_eq(load_response_feed(&res, bad[k], strlen(bad[k])), LOAD_RESPONSE_ERROR, "%s",
                     bad[k]);
    }
    struct load_response res; /* the peer closes mid-body */
    load_response_start(&res, false);
    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    cr_expect_eq(load_response_feed(&res, cut, strlen(cut)), LOAD_RESPONSE_MORE);
    cr_expect_eq(load_response_feed(&res, "", 0), LOAD_RESPONSE_ERROR);
}

Test(response, a_body_until_close_ends_at_eof)
{
    struct load_response res;
    const char *text = "HTTP/1.0 200 OK\r\n\r\nsome body";
    load_response_start(&res, false);
    cr_expect_eq(load_response_feed(&res, text, strlen(text)), LOAD_RESPONSE_MORE);
    cr_expect_eq(load_response_feed(&res, "", 0), LOAD_RESPONSE_DONE);
    cr_expect_not(res.keep_alive);
}

Test(response, timing_compacts_without_separators)
{
    char out[LOAD_PHASES_LEN];
    const char *lecture = "queue;dur=0.012, cpu;dur=0.501, db;dur=10.087, cpu;dur=0.500";
    load_timing_compact(lecture, strlen(lecture), out, sizeof(out));
    cr_expect_str_eq(out, "queue:0.012;cpu:0.501;db:10.087;cpu:0.500");
    const char *odd = " miss , db;desc=\"a,b\";dur=3 ,, x;dur=1:2";
    load_timing_compact(odd, strlen(odd), out, sizeof(out));
    cr_expect_str_eq(out, "miss;db;b:3;x:12"); /* a quoted comma splits: no crash, no comma */
    load_timing_compact("alpha;dur=1, beta;dur=2", 23, out, 12);
    cr_expect_str_eq(out, "alpha:1"); /* cut at an item's boundary */
    cr_expect_eq(load_timing_compact("", 0, out, sizeof(out)), 0);
    cr_expect_str_eq(out, "");
}

Test(response, cpu_time_is_read_apart_and_left_out_of_the_phases)
{
    char out[LOAD_PHASES_LEN];
    uint64_t ns = 7;
    const char *full = "queue;dur=0.012, cpu;dur=0.501, db;dur=10.087, cpu;dur=0.500, "
                       "cpu-time;dur=0.998";
    load_timing_compact(full, strlen(full), out, sizeof(out));
    cr_expect_str_eq(out, "queue:0.012;cpu:0.501;db:10.087;cpu:0.500");
    cr_assert(load_timing_cpu_time(full, strlen(full), &ns));
    cr_expect_eq(ns, 998000);
    const char *none = "queue;dur=0.012, db;dur=10.087";
    cr_expect_not(load_timing_cpu_time(none, strlen(none), &ns));
    const char *bad[] = {"cpu-time", "cpu-time;dur=", "cpu-time;dur=x", "cpu-time;dur=-1",
                         "cpu-time;dur=1e300"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(load_timing_cpu_time(bad[i], strlen(bad[i]), &ns), "'%s'", bad[i]);
    cr_expect_not(load_timing_cpu_time("", 0, &ns));
}

/* ---- the command ---- */

static int run_cmd(const char *const *args, char *errbuf, size_t errlen, pid_t *pidp, int sig,
                   int sig_after_ms)
{
    const char *argv[48] = {OVERLAP_BIN};
    int n = 1, pipefd[2];
    while (args[n - 1] && n < 47) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    if (pidp)
        *pidp = pid;
    if (sig) {
        struct timespec ts = {sig_after_ms / 1000, (sig_after_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, sig);
    }
    size_t len = 0;
    ssize_t r;
    while (len + 1 < errlen && (r = read(pipefd[0], errbuf + len, errlen - 1 - len)) > 0)
        len += (size_t)r;
    errbuf[len] = '\0';
    close(pipefd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(command, usage_errors_exit_2)
{
    char err[4096];
    static const char *const cases[][8] = {
        {"load", NULL},
        {"load", "--target", "127.0.0.1:1", "--bogus", NULL},
        {"load", "--target", "127.0.0.1:1", "--duration", "5", NULL},
        {"load", "--target", "127.0.0.1:1", "--arrival", "uniform", NULL},
        {"load", "--target", "127.0.0.1:1", "--clients", "0", NULL},
        {"load", "--target", "127.0.0.1:1", "--rate", "-3", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "0", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "abc", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "5", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "-1s", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "500us", NULL},
        {"load", "--target", "127.0.0.1:1", "--interval", "1ms", "--duration", "11s", NULL},
        {"load", "--target", "127.0.0.1:1", "--intervals", NULL},
        {"load", "--target", "127.0.0.1:1", "--goal", "abc", NULL},
        {"load", "--target", "127.0.0.1:1", "--goal", "0ms", NULL},
        {"load", "--target", "127.0.0.1:1", "--goal", "100", NULL},
        {"load", "--target", "127.0.0.1:1", "--goal", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(run_cmd(cases[i], err, sizeof(err), NULL, 0, 0), 2, "case %zu", i);
        cr_expect(strstr(err, "overlap load: ") == err, "case %zu: %s", i, err);
    }
}

Test(command, a_target_not_listening_is_one_line_and_exit_1)
{
    char err[4096], t[64];
    snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
    const char *args[] = {"load", "--target", t, "--duration", "10s", NULL};
    cr_expect_eq(run_cmd(args, err, sizeof(err), NULL, 0, 0), 1);
    cr_expect(strstr(err, "cannot connect"), "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
}

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char paths[4][300];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 300, "%s/%s", tmpdir, name);
    return p;
}

/* Reads a whole small file. */
static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(command, writes_the_three_csv_files)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    char err[4096], t[64], *text;
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    server_start(&s);
    snprintf(t, sizeof(t), "127.0.0.1:%d", s.port);
    const char *csv = tmp("load.csv"), *lat = tmp("latency.csv"), *tl = tmp("timeline.csv");
    const char *args[] = {"load",       "--target",   t,       "--clients",
                          "2",          "--rate",     "200",   "--arrival",
                          "uniform",    "--duration", "500ms", "--warmup",
                          "100ms",      "--timeout",  "1s",    "--threads",
                          "2",          "--seed",     "7",     "--path",
                          "/plaintext", "--csv",      csv,     "--latency-csv",
                          lat,          "--timeline", tl,      "--timeline-max",
                          "3",          NULL};
    int rc = run_cmd(args, err, sizeof(err), NULL, 0, 0);
    server_stop(&s);
    cr_expect_eq(rc, 0, "%s", err);
    text = slurp(csv);
    cr_expect(strncmp(text, "mode,clients,threads,intended_rps,", 34) == 0, "%s", text);
    static const char *cols[] = {"requests", "errors",      "throughput_rps", "p50_ms",
                                 "p90_ms",   "p99_ms",      "p999_ms",        "max_ms",
                                 "mean_ms",  "achieved_rps"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        cr_expect(strstr(text, cols[i]), "column %s", cols[i]);
    /* new columns go at the end, so readers by position keep working */
    cr_expect(strstr(text, ",interrupted,p50_uncorrected_ms,p99_uncorrected_ms"), "%s", text);
    cr_expect(strstr(text, "\nopen,2,2,200.000,uniform,"), "%s", text);
    text = slurp(lat);
    cr_expect(strncmp(text, "percentile,latency_ms,count,inverse\n0,", 38) == 0, "%s", text);
    cr_expect(strstr(text, "\n100,"), "%s", text);
    cr_expect_null(strstr(text, "inf"));
    text = slurp(tl);
    cr_expect(strncmp(text,
                      "request,path,intended_us,sent_us,first_byte_us,done_us,status,phases\n"
                      "1,/plaintext,0,",
                      84) == 0,
              "%s", text);
    cr_expect(strstr(text, ",200,queue:0.010;cpu:0.500\n3,/plaintext,"), "%s", text);
    child_tmpdir_remove(tmpdir);
}

/* --hgrm: HdrHistogram's text read back: percentiles climb to 1, values never
 * fall, and the rows at 50 % and around 99 % agree with the summary CSV. */
Test(command, hgrm_agrees_with_the_summary)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    char err[4096], t[64], *line;
    struct csv_table tab;
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    server_start(&s);
    snprintf(t, sizeof(t), "127.0.0.1:%d", s.port);
    const char *csv = tmp("load.csv"), *hgrm = tmp("latency.hgrm");
    const char *args[] = {"load",  "--target", t,   "--clients", "2",  "--duration",
                          "500ms", "--csv",    csv, "--hgrm",    hgrm, NULL};
    int rc = run_cmd(args, err, sizeof(err), NULL, 0, 0);
    server_stop(&s);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(csv_load(csv, &tab), 0);
    double p50 = csv_num(&tab, 0, "p50_ms"), p99 = csv_num(&tab, 0, "p99_ms"), below99 = 0,
           above99 = -1, last = -1, value, fraction, prev_value = 0, prev_fraction = -1;
    unsigned long count, total = 0;
    int rows = 0, at50 = 0;
    line = slurp(hgrm);
    cr_assert(strncmp(line, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 57) == 0,
              "%s", line);
    for (line = strchr(line, '\n') + 2; *line && *line != '#'; line = strchr(line, '\n') + 1) {
        cr_assert_geq(sscanf(line, "%lf %lf %lu", &value, &fraction, &count), 3, "%.60s", line);
        cr_expect_gt(fraction, prev_fraction, "%.60s", line);
        cr_expect_geq(value, prev_value, "%.60s", line);
        if (fraction == 0.5) {
            at50++;
            cr_expect(fabs(value - p50) <= 0.0005, "p50 row %.3f, csv %.6f", value, p50);
        }
        if (fraction <= 0.99)
            below99 = value;
        else if (above99 < 0)
            above99 = value;
        prev_value = value;
        prev_fraction = last = fraction;
        rows++;
    }
    cr_expect_gt(rows, 20);
    cr_expect_eq(at50, 1);
    cr_expect_eq(last, 1.0);
    cr_expect(below99 - 0.0005 <= p99 && p99 <= above99 + 0.0005, "p99 %.6f not in [%.3f, %.3f]",
              p99, below99, above99);
    cr_expect_eq(
        sscanf(line, "#[Mean = %*f, StdDeviation = %*f]\n#[Max = %*f, Total count = %lu]", &total),
        1, "%s", line);
    cr_expect_eq(total, (unsigned long)csv_num(&tab, 0, "requests"));
    csv_free(&tab);
    child_tmpdir_remove(tmpdir);
}

/* Outputs are opened before the run: a path that cannot be written is a
 * usage error at once, whatever the target. */
Test(command, an_unwritable_output_exits_2_before_the_run)
{
    static const char *const flags[] = {"--csv", "--latency-csv", "--timeline", "--hgrm",
                                        "--intervals"};
    char err[4096], t[64];
    snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const char *args[] = {"load", "--target", t, flags[i], "/nonexistent/dir/out", NULL};
        cr_expect_eq(run_cmd(args, err, sizeof(err), NULL, 0, 0), 2, "%s", flags[i]);
        cr_expect(strstr(err, "cannot write /nonexistent/dir/out"), "%s: %s", flags[i], err);
    }
}

/* --intervals: the schema, a row per interval whose requests add up to the
 * summary's, and the summary's new columns at its end. */
Test(command, intervals_file_adds_up_to_the_summary)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    char err[4096], t[64];
    struct csv_table sum, iv;
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    server_start(&s);
    snprintf(t, sizeof(t), "127.0.0.1:%d", s.port);
    const char *csv = tmp("load.csv"), *intervals = tmp("intervals.csv");
    const char *args[] = {"load",    "--target",   t,       "--clients", "3", "--duration",
                          "1s",      "--interval", "200ms", "--csv",     csv, "--intervals",
                          intervals, NULL};
    time_t before = time(NULL);
    int rc = run_cmd(args, err, sizeof(err), NULL, 0, 0);
    time_t after = time(NULL);
    server_stop(&s);
    cr_assert_eq(rc, 0, "%s", err);
    static const char header[] = "time_s,requests,throughput_rps,p50_ms,p99_ms,errors\n";
    cr_assert(strncmp(slurp(intervals), header, strlen(header)) == 0, "%s", slurp(intervals));
    cr_assert(
        strstr(slurp(csv),
               ",p99_uncorrected_ms,connections,clients_answered,intervals_cv,server_cpu_time_us,"
               "within_goal,window_epoch_s\n"),
        "%s", slurp(csv));
    cr_assert_eq(csv_load(csv, &sum), 0);
    cr_assert_eq(csv_load(intervals, &iv), 0);
    cr_expect_eq(iv.nrows, 5);
    double requests = 0;
    for (int i = 0; i < iv.nrows; i++) {
        requests += csv_num(&iv, i, "requests");
        cr_expect(fabs(csv_num(&iv, i, "time_s") - 0.2 * (i + 1)) < 1e-9, "row %d", i);
        cr_expect_leq(csv_num(&iv, i, "p50_ms"), csv_num(&iv, i, "p99_ms"), "row %d", i);
    }
    cr_expect_eq(requests, csv_num(&sum, 0, "requests"));
    cr_expect_eq(csv_num(&sum, 0, "connections"), 3);
    cr_expect_eq(csv_num(&sum, 0, "clients_answered"), 3);
    cr_expect_geq(csv_num(&sum, 0, "intervals_cv"), 0);
    /* the window opened by the wall clock while the command ran */
    double opened = csv_num(&sum, 0, "window_epoch_s");
    cr_expect(opened >= (double)before && opened <= (double)after + 1,
              "opened %.6f, ran %ld to %ld", opened, (long)before, (long)after);
    csv_free(&sum);
    csv_free(&iv);
    child_tmpdir_remove(tmpdir);
}

Test(command, ctrl_c_prints_what_was_measured_and_exits_130)
{
    struct server s = {.reply = REPLY_OK, .delay_ns = 1000000};
    char err[4096], t[64];
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    server_start(&s);
    snprintf(t, sizeof(t), "127.0.0.1:%d", s.port);
    const char *csv = tmp("load.csv");
    const char *args[] = {"load", "--target", t, "--duration", "30s", "--csv", csv, NULL};
    uint64_t t0 = now_ns();
    int rc = run_cmd(args, err, sizeof(err), NULL, SIGINT, 700);
    server_stop(&s);
    cr_expect_eq(rc, 130, "%s", err);
    cr_expect_lt(now_ns() - t0, 10000000000u);
    struct csv_table tab;
    cr_assert_eq(csv_load(csv, &tab), 0);
    cr_expect_str_eq(csv_get(&tab, 0, "interrupted"), "1", "interrupted row: %s", slurp(csv));
    csv_free(&tab);
    child_tmpdir_remove(tmpdir);
}

/* ---- figures per request type, against a real server ---- */

/* Two request types far apart in CPU: 100 us and 20 ms. */
static const char two_types_workload[] = "[workload]\n"
                                         "name = by-request\n"
                                         "[database]\n"
                                         "dataset = techempower\n"
                                         "[request.short]\n"
                                         "weight = 4\n"
                                         "steps = cpu 100us\n"
                                         "[request.long]\n"
                                         "weight = 1\n"
                                         "steps = cpu 20ms\n";

/* `overlap db` and a pool `overlap serve` of the workload above in tmpdir. */
static void start_real_server(struct child *db, struct child *server, const char *workload)
{
    char db_addr[300];
    FILE *f = fopen(workload, "w");
    cr_assert_not_null(f);
    fputs(two_types_workload, f);
    fclose(f);
    snprintf(db_addr, sizeof(db_addr), "unix:%s", tmp("db.sock"));
    const char *db_args[] = {"db", "--workload", workload, "--listen", db_addr, NULL};
    cr_assert_eq(child_start(db, db_args, 20000), 0, "the database did not start");
    const char *args[] = {"serve", "--engine", "pool",     "--workload",  workload,
                          "--db",  db_addr,    "--listen", "127.0.0.1:0", NULL};
    cr_assert_eq(child_start(server, args, 20000), 0, "the server did not start");
}

/* --by-request: a row per type in the workload's order, counts adding up to
 * the summary's, and the long type's median above the short one's. */
Test(command, by_request_splits_the_answers_by_type, .timeout = 120)
{
    struct child db = {0}, server = {0};
    struct csv_table sum, req;
    char err[4096];
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    const char *workload = tmp("two.ini"), *csv = tmp("load.csv"), *by = tmp("requests.csv");
    start_real_server(&db, &server, workload);
    const char *args[] = {"load", "--target",   server.addr, "--workload", workload, "--clients",
                          "2",    "--duration", "1s",        "--csv",      csv,      "--by-request",
                          by,     NULL};
    int rc = run_cmd(args, err, sizeof(err), NULL, 0, 0);
    child_stop(&server, 15000);
    child_stop(&db, 5000);
    cr_assert_eq(rc, 0, "%s", err);
    static const char header[] = "request,requests,errors,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,"
                                 "max_ms\n";
    cr_assert(strncmp(slurp(by), header, strlen(header)) == 0, "%s", slurp(by));
    cr_assert_eq(csv_load(csv, &sum), 0);
    cr_assert_eq(csv_load(by, &req), 0);
    cr_assert_eq(req.nrows, 2, "%s", slurp(by));
    cr_expect_str_eq(csv_get(&req, 0, "request"), "short");
    cr_expect_str_eq(csv_get(&req, 1, "request"), "long");
    cr_expect_gt(csv_num(&req, 1, "requests"), 0, "%s", slurp(by));
    cr_expect_eq(csv_num(&req, 0, "requests") + csv_num(&req, 1, "requests"),
                 csv_num(&sum, 0, "requests"));
    cr_expect_eq(csv_num(&req, 0, "errors") + csv_num(&req, 1, "errors"), 0);
    cr_expect_gt(csv_num(&req, 1, "p50_ms"), csv_num(&req, 0, "p50_ms"), "%s", slurp(by));
    for (int i = 0; i < 2; i++)
        cr_expect_leq(csv_num(&req, i, "p50_ms"), csv_num(&req, i, "p99_ms"), "row %d", i);
    csv_free(&sum);
    csv_free(&req);
    child_tmpdir_remove(tmpdir);
}

/* A type that never came up keeps its row, its count 0 and no latency. */
Test(command, by_request_keeps_a_type_without_answers)
{
    struct server s = {.reply = REPLY_OK};
    char err[4096], t[64];
    cr_assert_eq(child_tmpdir(tmpdir, sizeof(tmpdir)), 0);
    const char *workload = tmp("rare.ini"), *by = tmp("requests.csv");
    FILE *f = fopen(workload, "w");
    cr_assert_not_null(f);
    /* weights of 1e6 to 1: at 20 requests the rare one is all but never drawn */
    fputs("[workload]\nname = rare\n[database]\ndataset = techempower\n"
          "[request.common]\nweight = 1000000\nsteps = cpu 1us\n"
          "[request.rare]\nweight = 1\nsteps = cpu 1us\n",
          f);
    fclose(f);
    server_start(&s);
    snprintf(t, sizeof(t), "127.0.0.1:%d", s.port);
    const char *args[] = {"load", "--target",   t,       "--workload", workload, "--rate",
                          "100",  "--duration", "200ms", "--seed",     "3",      "--by-request",
                          by,     NULL};
    int rc = run_cmd(args, err, sizeof(err), NULL, 0, 0);
    server_stop(&s);
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect(strstr(slurp(by), "\nrare,0,0,,,,,,\n"), "%s", slurp(by));
    cr_expect(strstr(slurp(by), "\ncommon,"), "%s", slurp(by));
    child_tmpdir_remove(tmpdir);
}

/* The flag's misuse is a usage error that names it. */
Test(command, by_request_misuse_is_a_clear_usage_error)
{
    char err[4096], t[64];
    snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
    const char *bare[] = {"load", "--target", t, "--by-request", NULL};
    cr_expect_eq(run_cmd(bare, err, sizeof(err), NULL, 0, 0), 2);
    cr_expect(strstr(err, "overlap load: --by-request: missing value\n") == err, "%s", err);
    const char *flag[] = {"load", "--target", t, "--by-request", "--csv", "x.csv", NULL};
    cr_expect_eq(run_cmd(flag, err, sizeof(err), NULL, 0, 0), 2);
    cr_expect(strstr(err, "--by-request: '--csv' is not a file name"), "%s", err);
    const char *unwritable[] = {"load", "--target", t, "--by-request", "/nonexistent/dir/r.csv",
                                NULL};
    cr_expect_eq(run_cmd(unwritable, err, sizeof(err), NULL, 0, 0), 2);
    cr_expect(strstr(err, "cannot write /nonexistent/dir/r.csv"), "%s", err);
}
