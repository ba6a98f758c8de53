/* The async engine beyond the shared engine suite, as a process: what only an
 * event loop has to get right: ten thousand open connections, clients that
 * vanish mid-request or read one byte at a time, timeouts, a database that is
 * down, descriptor exhaustion and shutdown. */
#define _GNU_SOURCE /* prlimit */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "child.h"
#include "observe.h"

/* ---- process-level: a database and an async server per test ---- */

static const char workload_text[] = "[workload]\n"
                                    "name = async-test\n"
                                    "[database]\n"
                                    "dataset = techempower\n"
                                    "[query.world]\n"
                                    "sql = SELECT id, randomNumber FROM World WHERE id = ?\n"
                                    "params = int 1 10000\n"
                                    "latency = fixed 20ms\n"
                                    "[query.stuck]\n"
                                    "sql = SELECT id FROM World WHERE id = ?\n"
                                    "params = int 1 10\n"
                                    "latency = fixed 3s\n"
                                    "[query.glacial]\n"
                                    "sql = SELECT id FROM World WHERE id = ?\n"
                                    "params = int 1 10\n"
                                    "latency = fixed 10s\n"
                                    "[request.one]\n"
                                    "steps = cpu 50us, query world\n"
                                    "[request.slow]\n"
                                    "steps = query stuck\n"
                                    "[request.glacial]\n"
                                    "steps = query glacial\n";

static char dir[256], workload[300], db_addr[300];
static struct child db, server;

static void write_workload(void)
{
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
    snprintf(workload, sizeof(workload), "%s/async.ini", dir);
    snprintf(db_addr, sizeof(db_addr), "unix:%s/db.sock", dir);
    FILE *f = fopen(workload, "w");
    cr_assert_not_null(f);
    fputs(workload_text, f);
    fclose(f);
}

static void start_db(void)
{
    const char *args[] = {"db", "--workload", workload, "--listen", db_addr, NULL};
    cr_assert_eq(child_start(&db, args, 20000), 0, "the database did not start");
}

/* Starts the async server with extra flags (NULL-terminated). */
static void start_server(const char *const *extra)
{
    const char *args[40] = {"serve", "--engine", "async",    "--workload", workload,
                            "--db",  db_addr,    "--listen", "127.0.0.1:0"};
    int n = 9;
    while (extra && *extra && n < 38)
        args[n++] = *extra++;
    args[n] = NULL;
    cr_assert_eq(child_start(&server, args, 20000), 0, "the server did not start");
}

static void setup(void)
{
    write_workload();
    start_db();
}

static void teardown(void)
{
    /* A clean exit, every time: under ThreadSanitizer a race ends it with 66. */
    int status = child_stop(&server, 15000);
    cr_expect(status == 0 || status == -1, "the server exited with status %d", status);
    child_stop(&db, 5000);
    child_tmpdir_remove(dir);
}

TestSuite(async, .init = setup, .fini = teardown, .timeout = 120);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A blocking TCP connection to the server; rcvbuf > 0 shrinks its window. */
static int dial(int rcvbuf)
{
    char host[64];
    const char *colon = strrchr(server.addr, ':');
    cr_assert_not_null(colon);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - server.addr), server.addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    return fd;
}

static void send_all(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t n = write(fd, text, len);
        cr_assert_gt(n, 0, "write: %s", strerror(errno));
        text += n;
        len -= n;
    }
}

/* Bytes until EOF, an error or timeout_ms; returns the count (>= 0), with
 * *eof telling whether the peer closed. */
static size_t read_some(int fd, char *buf, size_t cap, int timeout_ms, bool *eof)
{
    size_t len = 0;
    long long deadline = now_ms() + timeout_ms;
    *eof = false;
    while (len < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - len);
        if (n <= 0) {
            *eof = true;
            break;
        }
        len += n;
    }
    return len;
}

/* One whole response (head and Content-Length body) into buf, NUL-ended. */
static size_t read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t len = 0;
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
            return len;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        cr_assert_gt(left, 0, "no whole response in time; got '%s'", buf);
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        cr_assert_gt(n, 0, "connection closed mid-response; got '%s'", buf);
        len += n;
    }
}

static void expect_get(const char *path, const char *status_line)
{
    char req[256], buf[8192];
    int fd = dial(0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_all(fd, req);
    read_response(fd, buf, sizeof(buf), 20000);
    cr_assert(strncmp(buf, status_line, strlen(status_line)) == 0, "GET %s: want '%s', got '%s'",
              path, status_line, buf);
    close(fd);
}

/* ---- ten thousand connections ---- */

#define MANY 10000

Test(async, ten_thousand_connections_open_at_once_each_served)
{
    observe_raise_nofile(MANY + 200);
    start_server((const char *[]){"--loops", "2", NULL});
    cr_assert_geq(observe_nofile(server.pid), MANY + 64, "the server cannot hold %d connections",
                  MANY);
    static int fds[MANY];
    for (int i = 0; i < MANY; i++)
        fds[i] = dial(0);
    /* All are open; now each sends one request that waits on the database,
     * so they are all in flight together, multiplexed over 2 x 4 database
     * connections. */
    for (int i = 0; i < MANY; i++)
        send_all(fds[i], "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static char bufs[MANY][512];
    static size_t lens[MANY];
    for (int i = 0; i < MANY; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev), 0);
    }
    int done = 0;
    long long deadline = now_ms() + 90000;
    while (done < MANY && now_ms() < deadline) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            int i = evs[k].data.u32;
            ssize_t r = read(fds[i], bufs[i] + lens[i], sizeof(bufs[i]) - 1 - lens[i]);
            cr_assert_gt(r, 0, "connection %d closed before its response", i);
            lens[i] += r;
            bufs[i][lens[i]] = '\0';
            if (strstr(bufs[i], "\"rows\":[[") && strstr(bufs[i], "]]}]}")) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                cr_assert(strncmp(bufs[i], "HTTP/1.1 200 OK\r\n", 17) == 0, "got '%s'", bufs[i]);
                done++;
            }
        }
    }
    cr_assert_eq(done, MANY, "%d of %d connections were served", done, MANY);
    /* Still open, and still served again on the same connections. */
    char buf[2048];
    send_all(fds[0], "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(fds[0], buf, sizeof(buf), 20000);
    cr_assert(strstr(buf, "Hello, World!"));
    close(ep);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
}

/* ---- misbehaving clients ---- */

Test(async, half_a_request_then_gone)
{
    start_server((const char *[]){"--loops", "1", NULL});
    for (int i = 0; i < 50; i++) {
        int fd = dial(0);
        send_all(fd, "GET /one HTTP/1.1\r\nHost: t\r\nX-Half: yes");
        if (i % 2) { /* half of them reset instead of closing */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }
    /* A request that is gone while its query is out: the answer finds no one. */
    int fd = dial(0);
    send_all(fd, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
    close(fd);
    expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
    expect_get("/one", "HTTP/1.1 200 OK\r\n");
}

/* Requests followed at once by the client's FIN: all are answered, in order,
 * and then the server closes too (EOF must not be missed after a short read). */
Test(async, pipelined_requests_then_half_close_are_all_answered)
{
    start_server((const char *[]){"--loops", "1", NULL});
    int fd = dial(0);
    send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(fd, SHUT_WR);
    static char buf[8192];
    bool eof;
    size_t n = read_some(fd, buf, sizeof(buf) - 1, 20000, &eof);
    buf[n] = '\0';
    cr_assert(eof, "the server did not close after answering; got '%s'", buf);
    char *a = strstr(buf, "Hello, World!"), *b = strstr(buf, "\"rows\":[["),
         *c = strstr(buf, "404 Not Found");
    cr_assert(a && b && c && a < b && b < c, "answers missing or out of order: '%s'", buf);
    close(fd);
}

/* Pipelined behind an answered request, a request parks on the database:
 * the answer already made leaves now, not when the query comes back. */
Test(async, answers_before_a_parked_request_are_not_held_back)
{
    start_server((const char *[]){"--loops", "1", "--db-timeout", "30s", NULL});
    int fd = dial(0);
    send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /glacial HTTP/1.1\r\nHost: t\r\n\r\n");
    char buf[2048];
    read_response(fd, buf, sizeof(buf), 8000); /* the query takes 10 s */
    cr_assert(strstr(buf, "Hello, World!"), "got '%s'", buf);
    cr_assert_null(strstr(buf + 1, "HTTP/1.1 "), "the parked request was answered: '%s'", buf);
    close(fd); /* its answer will find no one: the server must not mind */
    expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
}

/* A client that pipelines many requests and reads the answers one byte at a
 * time: the server stops reading from it (back-pressure) but serves others
 * on the same loop meanwhile, and in the end loses none of its responses. */
Test(async, slow_reader_does_not_stall_others)
{
    enum { PIPELINED = 20000 };
    start_server((const char *[]){"--loops", "1", NULL});
    int slow = dial(4096);
    static const char one[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    fcntl(slow, F_SETFL, O_NONBLOCK);
    int sent = 0;
    size_t off = 0;
    long long deadline = now_ms() + 5000;
    while (sent < PIPELINED && now_ms() < deadline) { /* until its socket is full too */
        ssize_t n = write(slow, one + off, sizeof(one) - 1 - off);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = slow, .events = POLLOUT};
            if (poll(&p, 1, 200) == 0)
                break;
            continue;
        }
        cr_assert_gt(n, 0);
        off += n;
        if (off == sizeof(one) - 1) {
            off = 0;
            sent++;
        }
    }
    if (off) { /* finish the request under way, blocking */
        fcntl(slow, F_SETFL, 0);
        send_all(slow, one + off);
        sent++;
    }
    fcntl(slow, F_SETFL, 0);
    cr_assert_gt(sent, 1000);
    for (int i = 0; i < 3; i++) {
        char c;
        cr_assert_eq(read(slow, &c, 1), 1);
        expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
        expect_get("/one", "HTTP/1.1 200 OK\r\n");
        usleep(100000);
    }
    /* Now read everything: exactly `sent` responses, minus the 3 bytes. */
    static char buf[1 << 16];
    int responses = 0;
    size_t carry = 0;
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    long long stop = now_ms() + 60000;
    while (responses < sent && now_ms() < stop) {
        bool eof;
        size_t n = read_some(slow, buf + carry, sizeof(buf) - 1 - carry, 2000, &eof);
        cr_assert(!eof || n, "closed after %d of %d responses", responses, sent);
        n += carry;
        buf[n] = '\0';
        char *p = buf, *hit;
        while ((hit = memmem(p, buf + n - p, "Hello, World!", 13))) {
            responses++;
            p = hit + 13;
        }
        carry = buf + n - p < 13 ? (size_t)(buf + n - p) : 12;
        memmove(buf, buf + n - carry, carry);
    }
    cr_assert_eq(responses, sent, "got %d responses to %d requests", responses, sent);
    (void)status;
    close(slow);
}

/* ---- timeouts ---- */

Test(async, slow_head_is_closed_after_the_header_timeout)
{
    start_server((const char *[]){"--loops", "1", "--header-timeout", "300ms", "--idle-timeout",
                                  "60s", NULL});
    int fd = dial(0);
    long long t0 = now_ms();
    send_all(fd, "GET /plaintext HTTP/1.1\r\nHost:");
    char buf[256];
    bool eof;
    read_some(fd, buf, sizeof(buf), 20000, &eof);
    long long took = now_ms() - t0;
    cr_assert(eof, "the connection was not closed");
    cr_assert_geq(took, 290, "closed after %lld ms, before the 300 ms timeout", took);
    close(fd);
    expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
}

Test(async, idle_keep_alive_is_closed_after_the_idle_timeout)
{
    start_server((const char *[]){"--loops", "1", "--idle-timeout", "300ms", "--header-timeout",
                                  "60s", NULL});
    int fd = dial(0);
    char buf[2048];
    long long t0 = now_ms(); /* the server's idle clock starts after this */
    send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(fd, buf, sizeof(buf), 20000);
    bool eof;
    size_t n = read_some(fd, buf, sizeof(buf), 20000, &eof);
    long long took = now_ms() - t0;
    cr_assert(eof && n == 0, "the idle connection was not closed");
    cr_assert_geq(took, 290, "closed after %lld ms, before the 300 ms timeout", took);
    close(fd);
}

Test(async, database_timeout_is_504_and_the_late_answer_is_dropped)
{
    start_server((const char *[]){"--loops", "1", "--db-timeout", "200ms", NULL});
    int fd = dial(0);
    char buf[2048];
    send_all(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(fd, buf, sizeof(buf), 20000);
    cr_assert(strncmp(buf, "HTTP/1.1 504 Gateway Timeout\r\n", 30) == 0, "got '%s'", buf);
    /* The same connection goes on; the stuck query's answer comes 3 s later
     * and must not be taken for this request's. */
    send_all(fd, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(fd, buf, sizeof(buf), 20000);
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "got '%s'", buf);
    close(fd);
}

/* ---- the database down, then up ---- */

Test(async, database_down_is_503_until_it_comes_up)
{
    child_stop(&db, 5000);
    start_server((const char *[]){"--loops", "2", NULL});
    expect_get("/one", "HTTP/1.1 503 Service Unavailable\r\n");
    expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
    start_db();
    long long deadline = now_ms() + 20000;
    char buf[4096];
    for (;;) {
        int fd = dial(0);
        send_all(fd, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
        read_response(fd, buf, sizeof(buf), 20000);
        close(fd);
        if (!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17))
            break;
        cr_assert(!strncmp(buf, "HTTP/1.1 503", 12), "got '%s'", buf);
        cr_assert_lt(now_ms(), deadline, "still 503 long after the database came up");
        usleep(50000);
    }
}

/* ---- running out of descriptors ---- */

static double cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    unsigned long utime, stime;
    cr_assert_eq(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
    return (utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

Test(async, out_of_descriptors_sheds_clients_without_spinning)
{
    start_server((const char *[]){"--loops", "1", NULL});
    struct rlimit low = {.rlim_cur = 40, .rlim_max = 40};
    cr_assert_eq(prlimit(server.pid, RLIMIT_NOFILE, &low, NULL), 0, "prlimit: %s", strerror(errno));
    enum { EXTRA = 80 };
    int fds[EXTRA];
    for (int i = 0; i < EXTRA; i++)
        fds[i] = dial(0);
    usleep(300000);
    double before = cpu_seconds(server.pid);
    usleep(2000000);
    double spent = cpu_seconds(server.pid) - before;
    /* Idle, it burns next to nothing; spinning, most of a core. The server's
     * CPU time, not the wall clock: a busy machine takes time from it but
     * adds none to it, and even beside a CPU-bound process a spinning server
     * would burn a third of its 2 s, above the 0.3 s bound. */
    cr_assert_lt(spent, 0.3, "the server burned %.2f s of CPU in 2 s while out of descriptors",
                 spent);
    /* The shed clients were closed, not left hanging in the backlog. */
    int shed = 0;
    for (int i = 0; i < EXTRA; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char c;
        if (poll(&p, 1, 0) == 1 && read(fds[i], &c, 1) <= 0)
            shed++;
    }
    cr_assert_gt(shed, 0, "no client was shed");
    for (int i = 0; i < EXTRA; i++)
        close(fds[i]);
    usleep(200000);
    expect_get("/plaintext", "HTTP/1.1 200 OK\r\n");
}

/* ---- shutdown ---- */

Test(async, sigterm_finishes_requests_in_flight_then_exits_0)
{
    start_server((const char *[]){"--loops", "2", "--db-timeout", "20s", NULL});
    int fd = dial(0), idle = dial(0);
    send_all(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    /* read, so its query is out: the answer comes in 3 s */
    observe_await_read(observe_port(server.addr), fd, 20000);
    kill(server.pid, SIGTERM);
    char buf[2048];
    read_response(fd, buf, sizeof(buf), 20000);
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "got '%s'", buf);
    cr_assert(strstr(buf, "Connection: close\r\n"), "got '%s'", buf);
    bool eof;
    read_some(idle, buf, sizeof(buf), 20000, &eof);
    cr_assert(eof, "an idle connection was left open");
    cr_assert_eq(child_stop(&server, 10000), 0);
    close(fd);
    close(idle);
}
