/* The coro engine beyond the shared engine suite: its context switch (and
 * what one costs beside swapcontext: the figures in coro/README.md), its
 * stacks' guard pages, its --stack flag, and as a process what holding many
 * connections cheaply has to get right: ten thousand idle keep-alive
 * connections in little memory, ten thousand requests parked on the database
 * at once, hostile clients that each cost one connection and give it back,
 * and pipelined requests answered in order.
 *
 * OVERLAP_BIN=build/release/overlap runs the process tests against a release
 * server, as the memory figures in coro/README.md were taken. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "child.h"
#include "observe.h"
#include "coro_int.h"

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* This thread's CPU time: what a switch costs, which another process taking
 * the core meanwhile does not inflate (a wall clock would count its turns). */
static long long thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long now_ms(void)
{
    return now_ns() / 1000000;
}

/* ---- the context switch ---- */

#define STACK (64 * 1024)

static struct coro__fiber bench_main, bench_peer;
static long peer_turns;

static void fiber_peer(void *arg)
{
    for (;;) {
        peer_turns++;
        coro__fiber_switch(&bench_peer, &bench_main);
    }
}

/* ns of thread CPU time per switch (one way) through the engine's switch,
 * over n round trips. */
static double time_fiber_switch(long n)
{
    coro__fiber_init_thread(&bench_main);
    cr_assert_eq(coro__fiber_create(&bench_peer, STACK, fiber_peer, NULL), 0);
    peer_turns = 0;
    long long t0 = thread_cpu_ns();
    for (long i = 0; i < n; i++)
        coro__fiber_switch(&bench_main, &bench_peer);
    long long t1 = thread_cpu_ns();
    cr_assert_eq(peer_turns, n, "the peer ran %ld times for %ld switches to it", peer_turns, n);
    coro__fiber_destroy(&bench_peer);
    return (double)(t1 - t0) / (2.0 * (double)n);
}

static ucontext_t uc_main, uc_peer;

static void uc_peer_loop(void)
{
    for (;;) {
        peer_turns++;
        swapcontext(&uc_peer, &uc_main);
    }
}

/* The same through glibc's swapcontext, which also saves the signal mask. */
static double time_swapcontext(long n)
{
    char *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(stack, MAP_FAILED);
    cr_assert_eq(getcontext(&uc_peer), 0);
    uc_peer.uc_stack.ss_sp = stack;
    uc_peer.uc_stack.ss_size = STACK;
    uc_peer.uc_link = NULL;
    makecontext(&uc_peer, uc_peer_loop, 0);
    peer_turns = 0;
    long long t0 = thread_cpu_ns();
    for (long i = 0; i < n; i++)
        swapcontext(&uc_main, &uc_peer);
    long long t1 = thread_cpu_ns();
    cr_assert_eq(peer_turns, n, "the peer ran %ld times for %ld switches to it", peer_turns, n);
    munmap(stack, STACK);
    return (double)(t1 - t0) / (2.0 * (double)n);
}

/* What the hand-written switch is for: it makes no system call, where
 * swapcontext makes an rt_sigprocmask call each way to save and restore a
 * signal mask no coroutine changes. Both are timed in this thread's CPU time,
 * alternated round by round and the best round of each kept, so a busy
 * machine slows both alike and cannot make one look cheaper. Measured 11 ns
 * against 221 in a release build and 28 against 1,200 under ASan (a system
 * call costs far more than the register pushes and pops around it): the
 * assertion asks for a quarter, which a switch that made one system call
 * would miss. In a build that switches with swapcontext itself
 * (OVERLAP_CORO_UCONTEXT) the engine's switch is swapcontext and the
 * sanitizer hooks: it must cost no more than twice the bare call.
 *
 * The figures printed are those coro/README.md reports (see its command):
 * meaningful in a Release build only. */
Test(coro_switch, cheaper_than_swapcontext_in_cpu_time)
{
    enum { ROUNDS = 5, N = 100000 };
    double fiber = 1e9, uc = 1e9;
    for (int r = 0; r < ROUNDS; r++) { /* alternated, so a noisy moment hits both */
        double f = time_fiber_switch(N), u = time_swapcontext(N);
        fiber = f < fiber ? f : fiber;
        uc = u < uc ? u : uc;
    }
    fprintf(stderr,
            "coro switch: %s %.1f ns per switch, swapcontext %.1f ns (thread CPU time, best of "
            "%d x %d)\n",
            CORO_SWITCH_NAME, fiber, uc, ROUNDS, N);
    cr_assert_gt(fiber, 0.0, "no CPU time measured for %d switches", 2 * N);
#if defined(__x86_64__) && !defined(CORO_UCONTEXT)
    cr_assert_lt(fiber * 4, uc,
                 "the hand-written switch (%.1f ns) is not under a quarter of swapcontext's "
                 "(%.1f ns): does it make a system call?",
                 fiber, uc);
#else
    cr_assert_lt(fiber, uc * 2,
                 "the engine's swapcontext switch (%.1f ns) costs over twice the "
                 "bare call (%.1f ns)",
                 fiber, uc);
#endif
}

static struct coro__fiber keep_main, keep_peer;
static double peer_sum;

static void fiber_summing(void *arg)
{
    double x = 0.5;
    for (long i = 0;; i++) {
        x = x * 1.0000001 + (double)i; /* lives in registers across the switch */
        peer_sum = x;
        coro__fiber_switch(&keep_peer, &keep_main);
    }
}

/* The recurrence both_sides_keep_their_registers runs, without switching. */
__attribute__((noinline)) static void recur(long n, long *a, long *b, long *c, double *y)
{
    for (long i = 0; i < n; i++) {
        *a += *b;
        *b += *c;
        *c += 1;
        *y *= 1.001;
    }
}

/* Both sides keep their locals (the compiler holds them in callee-saved and
 * vector registers) across a thousand switches each way. */
Test(coro_switch, both_sides_keep_their_registers)
{
    coro__fiber_init_thread(&keep_main);
    cr_assert_eq(coro__fiber_create(&keep_peer, STACK, fiber_summing, NULL), 0);
    long a = 1, b = 2, c = 3, ea = 1, eb = 2, ec = 3;
    double y = 0.25, ey = 0.25, expect_peer = 0.5;
    for (long i = 0; i < 1000; i++) {
        coro__fiber_switch(&keep_main, &keep_peer);
        expect_peer = expect_peer * 1.0000001 + (double)i;
        cr_assert_eq(peer_sum, expect_peer, "the peer's sum drifted at switch %ld", i);
        a += b;
        b += c;
        c += 1;
        y *= 1.001;
    }
    recur(1000, &ea, &eb, &ec, &ey);
    cr_assert(a == ea && b == eb && c == ec && y == ey, "the main side's locals drifted");
    coro__fiber_destroy(&keep_peer);
}

/* ---- the guard page ---- */

/* What the crashing child tells its parent, through a shared mapping. */
struct guard_report {
    int depth;       /* frames the recursion reached */
    uintptr_t fault; /* the address of the fatal write */
    uintptr_t guard; /* the guard page under the recursing stack */
    bool canary_ok;  /* the neighbour's canary, checked in the signal handler */
    bool adjacent;   /* the neighbour's stack lies right under the guard */
};

static struct guard_report *report;
static struct coro__fiber guard_main, recursing, neighbour;
static volatile unsigned char *canary;

#define CANARY_LEN 512

static void neighbour_fn(void *arg)
{
    unsigned char mark[CANARY_LEN];
    memset(mark, 0xa5, sizeof(mark));
    canary = mark; /* its frame is at the top of its stack: the first thing an overflow hits */
    for (;;)
        coro__fiber_switch(&neighbour, &guard_main);
}

static bool canary_intact(void)
{
    for (int i = 0; i < CANARY_LEN; i++)
        if (canary[i] != 0xa5)
            return false;
    return true;
}

/* 1 KiB frames, every byte written: no frame can step over the 4 KiB guard. */
__attribute__((noinline)) static int deep(int n)
{
    volatile char pad[1024];
    for (size_t i = 0; i < sizeof(pad); i += 64)
        pad[i] = (char)n;
    report->depth = n;
    if (!canary_intact())
        _exit(3); /* the overflow reached the neighbour: what the guard must prevent */
    return n < 1000000 ? deep(n + 1) + pad[n % 1024] : 0;
}

static void recursing_fn(void *arg)
{
    deep(0);
    _exit(4);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    report->fault = (uintptr_t)si->si_addr;
    report->canary_ok = canary_intact();
    signal(SIGSEGV, SIG_DFL); /* returning runs the faulting write again: death by SIGSEGV */
}

/* In the child: a neighbour plants a canary on its stack, then a coroutine
 * recurses without end on the stack above it. */
static void overflow_child(void)
{
    static char altstack[64 * 1024]; /* the handler cannot run on the overflowed stack */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGSEGV, &sa, NULL) < 0)
        _exit(6);
    coro__fiber_init_thread(&guard_main);
    if (coro__fiber_create(&recursing, STACK, recursing_fn, NULL) < 0 ||
        coro__fiber_create(&neighbour, STACK, neighbour_fn, NULL) < 0)
        _exit(7);
    report->guard = (uintptr_t)recursing.map;
    report->adjacent = neighbour.map + neighbour.map_len == recursing.map;
    coro__fiber_switch(&guard_main, &neighbour);
    coro__fiber_switch(&guard_main, &recursing);
    _exit(5);
}

Test(coro_stack, overflow_dies_at_the_guard_page_and_spares_the_neighbour)
{
    report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(report, MAP_FAILED);
    memset(report, 0, sizeof(*report));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        overflow_child();
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status),
              "the child exited with %d instead of dying (3: the overflow "
              "reached the neighbour)",
              WEXITSTATUS(status));
    cr_assert_eq(WTERMSIG(status), SIGSEGV, "killed by signal %d", WTERMSIG(status));
    long page = sysconf(_SC_PAGESIZE);
    cr_assert(report->fault >= report->guard && report->fault < report->guard + (uintptr_t)page,
              "the fault at %#lx is not in the guard page at %#lx", (unsigned long)report->fault,
              (unsigned long)report->guard);
    cr_assert(report->canary_ok, "the neighbour's canary was overwritten");
    cr_assert_gt(report->depth, 16, "only %d frames before the crash", report->depth);
    fprintf(stderr,
            "coro guard: died of SIGSEGV at the guard after %d frames of 1 KiB; "
            "neighbour %s\n",
            report->depth, report->adjacent ? "right below, intact" : "intact");
    munmap(report, sizeof(*report));
}

/* ---- process-level: a database and a coro server per test ---- */

static const char workload_text[] = "[workload]\n"
                                    "name = coro-test\n"
                                    "[database]\n"
                                    "dataset = techempower\n"
                                    "[query.world]\n"
                                    "sql = SELECT id, randomNumber FROM World WHERE id = ?\n"
                                    "params = int 1 10000\n"
                                    "latency = fixed 20ms\n"
                                    "[query.stuck]\n"
                                    "sql = SELECT id FROM World WHERE id = ?\n"
                                    "params = int 1 10\n"
                                    "latency = fixed 2s\n"
                                    "[query.glacial]\n"
                                    "sql = SELECT id FROM World WHERE id = ?\n"
                                    "params = int 1 10\n"
                                    "latency = fixed 10s\n"
                                    "[query.big]\n"
                                    "sql = SELECT id, randomNumber FROM World\n"
                                    "latency = fixed 1ms\n"
                                    "[request.one]\n"
                                    "steps = cpu 50us, query world\n"
                                    "[request.slow]\n"
                                    "steps = query stuck\n"
                                    "[request.glacial]\n"
                                    "steps = query glacial\n"
                                    "[request.big]\n"
                                    "steps = query big\n";

static char dir[256], workload[300], db_addr[300];
static struct child db, server;

static const char *overlap_bin(void)
{
    const char *bin = getenv("OVERLAP_BIN");
    return bin && *bin ? bin : OVERLAP_BIN;
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
    snprintf(workload, sizeof(workload), "%s/coro.ini", dir);
    snprintf(db_addr, sizeof(db_addr), "unix:%s/db.sock", dir);
    FILE *f = fopen(workload, "w");
    cr_assert_not_null(f);
    fputs(workload_text, f);
    fclose(f);
    const char *args[] = {"db", "--workload", workload, "--listen", db_addr, NULL};
    cr_assert_eq(child_start(&db, args, 20000), 0, "the database did not start");
}

static void teardown(void)
{
    int status = child_stop(&server, 15000);
    cr_expect(status == 0 || status == -1, "the server exited with status %d", status);
    child_stop(&db, 5000);
    child_tmpdir_remove(dir);
}

TestSuite(coro, .init = setup, .fini = teardown, .timeout = 240);

/* Starts the coro server with extra flags (NULL-terminated). */
static void start_server(const char *const *extra)
{
    const char *args[40] = {"serve", "--engine", "coro",     "--workload", workload,
                            "--db",  db_addr,    "--listen", "127.0.0.1:0"};
    int n = 9;
    while (extra && *extra && n < 38)
        args[n++] = *extra++;
    args[n] = NULL;
    cr_assert_eq(child_start(&server, args, 20000), 0, "the server did not start");
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

static void send_all(int fd, const char *text, size_t len)
{
    while (len) {
        ssize_t n = write(fd, text, len);
        cr_assert_gt(n, 0, "write: %s", strerror(errno));
        text += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *text)
{
    send_all(fd, text, strlen(text));
}

/* One whole response (head and Content-Length body) into buf, NUL-ended;
 * bytes after it stay in buf at *len. Returns the response's length. */
static size_t read_response(int fd, char *buf, size_t cap, size_t *len, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        buf[*len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = end ? strcasestr(buf, "Content-Length:") : NULL;
        if (end && cl && cl < end) {
            size_t whole = (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
            if (*len >= whole)
                return whole;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        cr_assert_gt(left, 0, "no whole response in time; got '%s'", buf);
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        cr_assert_gt(n, 0, "connection closed mid-response; got '%s'", buf);
        *len += (size_t)n;
    }
}

/* Takes the first response out of buf; its status. */
static int take_response(char *buf, size_t *len, size_t whole)
{
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d ", &status);
    memmove(buf, buf + whole, *len - whole);
    *len -= whole;
    buf[*len] = '\0';
    return status;
}

/* GET path on a fresh connection: the status. */
static int get_once(const char *path)
{
    static char buf[1 << 18];
    char req[256];
    size_t len = 0;
    int fd = dial(0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_str(fd, req);
    size_t whole = read_response(fd, buf, sizeof(buf), &len, 20000);
    close(fd);
    return take_response(buf, &len, whole);
}

/* True once the server closed fd (EOF or reset), false after timeout_ms. */
static bool closed_by_server(int fd, int timeout_ms)
{
    char buf[4096];
    long long deadline = now_ms() + timeout_ms;
    for (long long left; (left = deadline - now_ms()) > 0;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

/* The server's descriptors at rest: the fewest seen over 300 ms, so that a
 * connection a test just closed, not yet seen gone, does not count. */
static int rest_fds(void)
{
    int n = observe_fds(server.pid);
    for (int i = 0; i < 6; i++) {
        usleep(50000);
        int m = observe_fds(server.pid);
        n = m < n ? m : n;
    }
    return n;
}

/* ---- ten thousand connections ---- */

#define MANY 10000

/* Sends request on every connection of fds, then reads one response from
 * each through epoll; every one must be a 200 that contains want. */
static void serve_all(const int *fds, int n, const char *request, const char *want, int timeout_ms)
{
    static char bufs[MANY][512];
    static size_t lens[MANY];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        lens[i] = 0;
        cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev), 0);
        send_str(fds[i], request);
    }
    int done = 0;
    for (long long deadline = now_ms() + timeout_ms; done < n && now_ms() < deadline;) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            ssize_t r = read(fds[i], bufs[i] + lens[i], sizeof(bufs[i]) - 1 - lens[i]);
            cr_assert_gt(r, 0, "connection %d closed before its response", i);
            lens[i] += (size_t)r;
            bufs[i][lens[i]] = '\0';
            if (strstr(bufs[i], want)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                cr_assert(strncmp(bufs[i], "HTTP/1.1 200 OK\r\n", 17) == 0, "got '%s'", bufs[i]);
                done++;
            }
        }
    }
    close(ep);
    cr_assert_eq(done, n, "%d of %d connections were served", done, n);
}

/* The memory goal: an idle keep-alive connection is a small struct in epoll,
 * with no stack and no buffer: at most 4 KiB of RSS each (a stack held for a
 * connection's life would be 64 KiB of address space and its touched pages).
 * The kernel's socket buffers are not in the process's RSS. */
Test(coro, ten_thousand_idle_keep_alive_connections_cost_under_4k_each)
{
    observe_raise_nofile(MANY + 200);
    start_server((const char *[]){"--loops", "1", NULL});
    cr_assert_geq(observe_nofile(server.pid), MANY + 64, "the server cannot hold %d connections",
                  MANY);
    cr_assert_eq(get_once("/one"), 200);
    cr_assert_eq(get_once("/plaintext"), 200);
    int fds0 = rest_fds();
    long rss0 = observe_rss_kb(server.pid);
    static int fds[MANY];
    for (int i = 0; i < MANY; i++)
        fds[i] = dial(0);
    serve_all(fds, MANY, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", "Hello, World!", 90000);
    usleep(200000);
    long rss1 = observe_rss_kb(server.pid);
    double per_conn = (double)(rss1 - rss0) * 1024.0 / MANY;
    fprintf(stderr, "coro: %d idle keep-alive connections: RSS %ld kB -> %ld kB, %.0f bytes each\n",
            MANY, rss0, rss1, per_conn);
    cr_assert_eq(observe_fds(server.pid), fds0 + MANY, "every connection is held open");
    cr_assert_lt(per_conn, 4096.0, "%.0f bytes of RSS per idle connection", per_conn);
    /* Still served on the same connections, then all given back. */
    serve_all(fds, 100, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n", "]]}]}", 30000);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    int fds1 = observe_settle_fds(server.pid, fds0, 0, 10000);
    cr_assert_eq(fds1, fds0, "descriptors back to %d after the clients left, %d now", fds0, fds1);
}

/* Waits until the server has read the request on each of its n connections:
 * the loop starts a request's coroutine as soon as it has read its head, and
 * the coroutine runs until it parks on the database, so a connection whose
 * bytes are all read holds a parked request. Observed, not slept on: a busy
 * machine only makes it take longer. */
static void wait_all_read(int n, int timeout_ms)
{
    int established = 0, unread = n;
    for (long long end = now_ms() + timeout_ms; now_ms() < end; usleep(100000)) {
        unread = observe_unread(observe_port(server.addr), 0, &established);
        if (established >= n && unread == 0)
            return;
    }
    cr_assert_fail("after %d ms the server had %d of %d connections, %d with requests unread",
                   timeout_ms, established, n, unread);
}

/* Clients whose response has begun to arrive (readable without blocking). */
static int answered_already(const int *fds, int n)
{
    static struct pollfd p[MANY];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int k = poll(p, (nfds_t)n, 0);
    cr_assert_geq(k, 0, "poll: %s", strerror(errno));
    return k;
}

/* Ten thousand requests parked on a 10 s query at once: each holds a
 * coroutine and the pages of its stack it touched, and all are answered.
 *
 * The bound, from the design: a parked request is its coroutine (288
 * bytes), its body buffer, its queued query and the stack pages its request
 * path touched. That path reaches 6.5 KiB deep in a release build and 8.7
 * KiB under ASan (coro/README.md), so 2 or 3 pages of the 64 KiB stack, and
 * under ASan their shadow and the allocator's redzones besides: 5.4 KB per
 * request measured in a release build, 14.7 KB under ASan. 24 KiB (six
 * pages) holds both with room to spare, and fails a request path that
 * touches most of its stack, a stack populated when mapped, or a request that
 * leaves behind more than the few pages it works in. Memory does not depend on
 * how busy the CPU is, as long as the measurement waits for the state it
 * measures: every connection accepted, every request read and parked, and no
 * answer yet. */
Test(coro, ten_thousand_requests_parked_at_once_cost_under_24k_each)
{
    enum { BOUND = 24 * 1024, GLACIAL_MS = 10000 };
    observe_raise_nofile(MANY + 200);
    start_server((const char *[]){"--loops", "1", "--db-timeout", "60s", NULL});
    cr_assert_geq(observe_nofile(server.pid), MANY + 64, "the server cannot hold %d connections",
                  MANY);
    cr_assert_eq(get_once("/one"), 200);
    int fds0 = rest_fds();
    static int fds[MANY];
    for (int i = 0; i < MANY; i++)
        fds[i] = dial(0);
    int held = observe_settle_fds(server.pid, fds0 + MANY, 1, 60000);
    cr_assert_eq(held, fds0 + MANY, "the server accepted %d of %d connections", held - fds0, MANY);
    long rss0 = observe_rss_kb(server.pid);
    long long t0 = now_ms();
    for (int i = 0; i < MANY; i++)
        send_str(fds[i], "GET /glacial HTTP/1.1\r\nHost: t\r\n\r\n");
    /* Parking them took 2 to 3 s under ASan beside a CPU-bound process; past
     * the query's 10 s, answers would free coroutines as others park. */
    wait_all_read(MANY, GLACIAL_MS - 1000);
    long long parked_ms = now_ms() - t0;
    long rss1 = observe_rss_kb(server.pid);
    int early = answered_already(fds, MANY);
    double per_req = (double)(rss1 - rss0) * 1024.0 / MANY;
    fprintf(stderr,
            "coro: %d requests parked (all read %lld ms after the first was sent): RSS %ld kB -> "
            "%ld kB, %.0f bytes each\n",
            MANY, parked_ms, rss0, rss1, per_req);
    cr_assert_eq(early, 0,
                 "%d answers came before RSS was read: the requests took over %d ms to "
                 "park, and the figure is not theirs",
                 early, GLACIAL_MS);
    cr_assert_lt(per_req, (double)BOUND, "%.0f bytes of RSS per parked request (bound %d)", per_req,
                 BOUND);
    serve_all(fds, MANY, "", "]]}]}", 90000);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
}

/* ---- hostile clients: each costs one connection, and gives it back ---- */

/* A head that trickles in: one descriptor while it lasts, closed by the
 * header timeout, and the descriptor comes back. */
Test(coro, slowloris_costs_one_connection_and_is_reclaimed)
{
    start_server((const char *[]){"--loops", "1", "--header-timeout", "500ms", NULL});
    cr_assert_eq(get_once("/one"), 200);
    int fds0 = rest_fds();
    int fd = dial(0);
    send_str(fd, "GET /one HTTP/1.1\r\nHost: slow");
    observe_await_read(observe_port(server.addr), fd, 10000); /* accepted, and its head begun */
    cr_assert_eq(observe_fds(server.pid), fds0 + 1, "a slowloris costs one descriptor");
    for (int i = 0; i < 3; i++) {
        usleep(100000);
        send(fd, "x", 1, MSG_NOSIGNAL);
    }
    cr_assert(closed_by_server(fd, 10000), "the slowloris was never closed");
    close(fd);
    cr_assert_eq(observe_settle_fds(server.pid, fds0, 0, 5000), fds0, "its descriptor came back");
    cr_assert_eq(get_once("/one"), 200);
}

/* A client that pipelines requests for large answers and never reads: its
 * output backs up, the server stops taking its requests, serves others, and
 * drops it after the idle timeout although it stays connected. */
Test(coro, never_reading_client_costs_one_connection_and_is_reclaimed)
{
    start_server((const char *[]){"--loops", "1", "--idle-timeout", "500ms", NULL});
    cr_assert_eq(get_once("/one"), 200);
    int fds0 = rest_fds();
    int fd = dial(4096);
    char burst[64 * 32];
    size_t len = 0;
    for (int i = 0; i < 64; i++) /* 64 answers of ~120 KB: more than any socket holds */
        len += (size_t)sprintf(burst + len, "GET /big HTTP/1.1\r\n\r\n");
    send_all(fd, burst, len);
    usleep(200000);
    cr_assert_eq(get_once("/plaintext"), 200, "others are served beside a non-reader");
    cr_assert_eq(observe_settle_fds(server.pid, fds0, 0, 10000), fds0, "the non-reader is dropped");
    close(fd);
    cr_assert_eq(get_once("/one"), 200);
}

/* Clients that vanish mid-head, mid-request (their query out) or with a
 * reset: each descriptor comes back, and the late answer finds no one. */
Test(coro, vanished_clients_are_reclaimed)
{
    start_server((const char *[]){"--loops", "1", NULL});
    cr_assert_eq(get_once("/one"), 200);
    int fds0 = rest_fds();
    for (int i = 0; i < 3; i++) {
        int fd = dial(0);
        send_str(fd, i == 0 ? "GET /one HTTP/1.1\r\nHost: t\r\nX-Half: yes"
                            : "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        observe_await_read(observe_port(server.addr), fd, 10000); /* mid-head, or its query out */
        if (i == 2) {                                             /* a reset instead of a close */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }
    cr_assert_eq(get_once("/plaintext"), 200);
    /* the two queries answer 2 s later, to nobody */
    cr_assert_eq(observe_settle_fds(server.pid, fds0, 0, 10000), fds0,
                 "every vanished client's descriptor came back");
    cr_assert_eq(get_once("/one"), 200);
}

/* ---- pipelining ---- */

/* A burst in one write: answered in order, whatever each request does (a
 * query that parks its coroutine, /plaintext, a 404, a HEAD). */
Test(coro, pipelined_burst_is_answered_in_order)
{
    enum { N = 60 };
    start_server((const char *[]){"--loops", "1", NULL});
    static char reqs[N * 64], buf[1 << 18];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        const char *path = i % 3 == 0 ? "/one" : i % 3 == 1 ? "/plaintext" : "/missing";
        len += (size_t)sprintf(reqs + len, "GET %s?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", path, i);
    }
    int fd = dial(0);
    send_all(fd, reqs, len);
    len = 0;
    for (int i = 0; i < N; i++) {
        size_t whole = read_response(fd, buf, sizeof(buf), &len, 20000);
        bool rows = memmem(buf, whole, "\"rows\":[[", 9) != NULL;
        bool hello = memmem(buf, whole, "Hello, World!", 13) != NULL;
        int status = take_response(buf, &len, whole);
        if (i % 3 == 0)
            cr_assert(status == 200 && rows, "response %d is /one's (status %d)", i, status);
        else if (i % 3 == 1)
            cr_assert(status == 200 && hello, "response %d is /plaintext's (status %d)", i, status);
        else
            cr_assert_eq(status, 404, "response %d is a 404", i);
    }
    close(fd);
}

/* Pipelined behind an answered request, a request parks on the database:
 * the answer already made leaves now, not when the query comes back. */
Test(coro, answers_before_a_parked_request_are_not_held_back)
{
    start_server((const char *[]){"--loops", "1", "--db-timeout", "30s", NULL});
    int fd = dial(0);
    char buf[4096];
    size_t len = 0;
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /glacial HTTP/1.1\r\nHost: t\r\n\r\n");
    size_t whole = read_response(fd, buf, sizeof(buf), &len, 8000); /* the query takes 10 s */
    cr_assert(memmem(buf, whole, "Hello, World!", 13), "got '%s'", buf);
    cr_assert_eq(len, whole, "the parked request was answered already: '%s'", buf);
    close(fd); /* its answer will find no one: the server must not mind */
    cr_assert_eq(get_once("/plaintext"), 200);
}

/* ---- --stack ---- */

/* Runs `overlap serve` with a --stack value followed by a flag that does
 * not exist: returns true when it exited 2 blaming --stack (a good size lets
 * parsing reach the unknown flag, which is blamed instead). */
static bool stack_refused(const char *size)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        execl(overlap_bin(), overlap_bin(), "serve", "--engine", "coro", "--workload", workload,
              "--db", db_addr, "--stack", size, "--no-such-flag", "x", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char text[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(text) - 1 && (n = read(p[0], text + len, sizeof(text) - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    close(p[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "--stack '%s': not a usage error",
              size);
    return strstr(text, "bad --stack") != NULL;
}

Test(coro, stack_flag_takes_sizes_and_refuses_the_rest)
{
    const char *bad[] = {"",    "k",   "64q", "64kk", "-64k", "0",
                         "15k", "65m", "1g",  " 64k", "64 k", "99999999999999999999k"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(stack_refused(bad[i]), "--stack '%s' is refused", bad[i]);
    const char *good[] = {"16k", "16384", "64k", "1m", "64M"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(!stack_refused(good[i]), "--stack '%s' is taken", good[i]);
    /* The smallest and a large stack serve a request with a large answer. */
    for (int i = 0; i < 2; i++) {
        start_server((const char *[]){"--loops", "1", "--stack", i ? "1m" : "16k", NULL});
        cr_assert_eq(get_once("/one"), 200);
        cr_assert_eq(get_once("/big"), 200);
        cr_assert_eq(child_stop(&server, 15000), 0);
    }
}
