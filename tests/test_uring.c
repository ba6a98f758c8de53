/* The uring engine's own tests, beside the engine, fault and differential
 * suites it runs like every engine: each step of the ladder serves alike, a
 * buffer ring run dry, a completion queue overflowed by a burst, clients
 * that leave with operations in flight, and a sandbox that refuses io_uring.
 *
 * A machine that refuses io_uring cannot test the engine: every test but
 * the refusal's says so in a loud SKIP line and is reported skipped, never
 * passed. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines.h"
#include "observe.h"

static const char data_sql[] = "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT);\n"
                               "INSERT INTO item VALUES (1, 'one');\n"
                               "INSERT INTO item VALUES (2, 'two');\n";

static const char workload_ini[] =
    "[workload]\nname = uringtest\n"
    "[database]\ninit = data.sql\n"
    "[query.items]\nsql = SELECT id, name FROM item ORDER BY id\nlatency = fixed 1ms\n"
    "[query.slow]\nsql = SELECT 42\nlatency = fixed 500ms\n"
    "[request.items]\nsteps = cpu 50us, query items\n"
    "[request.slow]\nsteps = query slow\n";

#define ITEMS_BODY                                                                                 \
    "{\"request\":\"items\",\"results\":[{\"query\":\"items\",\"rows\":[[1,\"one\"],[2,\"two\"]]}" \
    "]}"

static const struct suite_spec spec = {.workload_ini = workload_ini, .data_sql = data_sql};

static void suite_init(void)
{
    suite_start(&spec);
    engine = "uring";
}

TestSuite(uring, .init = suite_init, .fini = suite_fini, .timeout = 240);

/* ---- io_uring on this machine ---- */

/* 0 when this process may set up a ring, else -errno. */
static int probe_uring(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    int fd = (int)syscall(__NR_io_uring_setup, 4, &p);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static void need_uring(void)
{
    int err = probe_uring();
    if (err == 0)
        return;
    fprintf(stderr,
            "\n*** SKIP: io_uring is refused on this machine (io_uring_setup: %s): the uring "
            "engine is NOT tested here ***\n\n",
            strerror(-err));
    cr_skip_test("io_uring refused: %s", strerror(-err));
}

/* ---- helpers ---- */

static void start_uring(const char *const *flags)
{
    need_uring();
    start_db(NULL);
    start_server(NULL, flags);
}

static void stop_all(void)
{
    stop_server();
    child_stop(&db, STOP_MS);
}

/* The next whole response on c: its status, its body checked when want is set. */
static int answer(struct client *c, const char *want)
{
    struct response r;
    read_response(c, &r, false);
    if (want)
        cr_assert_str_eq(r.body, want, "[uring] the body: %s", r.body);
    return r.status;
}

/* Starts the server with its stderr going to a file in the suite's
 * directory too, so a test can read what it said at exit. */
static const char *start_uring_logged(const char *const *flags)
{
    static char path[300];
    snprintf(path, sizeof(path), "%s/serve.log", suite_dir);
    need_uring();
    start_db(NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    int saved = dup(2);
    dup2(fd, 2);
    start_server(NULL, flags);
    dup2(saved, 2);
    close(saved);
    close(fd);
    return path;
}

/* What the file at path holds (up to 64 KiB), echoed to stderr so that what
 * the server said stays visible. */
static const char *read_log(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    fputs(buf, stderr);
    return buf;
}

/* ---- each step of the ladder serves alike ---- */

static void check_mode(const char *mode)
{
    const char *flags[] = {"--uring-mode", mode, NULL};
    static char body[100000];
    char head[200];
    start_uring(flags);
    fprintf(stderr, "[uring %s] serving\n", mode);
    struct client *c = client_open();
    for (int i = 0; i < 100; i++)
        cr_assert_eq(get(c, "/plaintext")->status, 200, "[uring %s] keep-alive %d", mode, i);
    for (int i = 0; i < 10; i++)
        send_str(c, "GET /items HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(answer(c, ITEMS_BODY), 200, "[uring %s] pipelined %d", mode, i);
    memset(body, 'b', sizeof(body));
    snprintf(head, sizeof(head), "GET /plaintext HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
             sizeof(body));
    send_str(c, head);
    send_bytes(c, body, sizeof(body));
    cr_assert_eq(answer(c, "Hello, World!"), 200, "[uring %s] after a body of 100 kB", mode);
    send_str(c, "GET /items HTTP/1.1\r\nConnection: close\r\n\r\n");
    cr_assert_eq(answer(c, ITEMS_BODY), 200, "[uring %s] the last request", mode);
    cr_assert(ends_eventually(c), "[uring %s] closed after Connection: close", mode);
    client_close(c);
    stop_all();
}

Test(uring, every_step_of_the_ladder_serves_alike)
{
    check_mode("poll");
    check_mode("ops");
    check_mode("multishot");
    check_mode("defer");
}

/* ---- a dry buffer ring ---- */

#define DRY_CLIENTS 64

/* Two buffers for 64 connections that each send a 5 kB head (three
 * buffers' worth) at once: the multishot recvs run the ring dry (-ENOBUFS)
 * and must be armed again, and every request is answered, twice. */
Test(uring, a_dry_buffer_ring_starves_no_connection)
{
    const char *flags[] = {"--uring-bufs", "2", "--loops", "1", NULL};
    struct client *c[DRY_CLIENTS];
    static char req[6000];
    char pad[5001];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(req, sizeof(req), "GET /plaintext HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
    start_uring(flags);
    for (int i = 0; i < DRY_CLIENTS; i++)
        c[i] = client_open();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < DRY_CLIENTS; i++)
            send_str(c[i], req);
        for (int i = 0; i < DRY_CLIENTS; i++)
            cr_assert_eq(answer(c[i], "Hello, World!"), 200, "[uring] client %d, round %d", i,
                         round);
    }
    for (int i = 0; i < DRY_CLIENTS; i++)
        client_close(c[i]);
    stop_all();
}

/* ---- a burst past the completion queue ---- */

#define BURST_CLIENTS 300

/* A completion queue of 16 entries, and 300 connections whose pipelined
 * requests all arrive while the server is stopped (SIGSTOP): on SIGCONT
 * their completions overflow the queue. The kernel keeps the excess, the
 * loop flushes it, and every request is answered. */
Test(uring, a_burst_past_the_completion_queue_loses_nothing)
{
    const char *flags[] = {"--uring-cq", "16", "--loops", "1", NULL};
    static struct client *c[BURST_CLIENTS];
    const char *req = "GET /plaintext HTTP/1.1\r\n\r\nGET /items HTTP/1.1\r\n\r\n";
    observe_raise_nofile(BURST_CLIENTS + 64);
    const char *log = start_uring_logged(flags);
    for (int i = 0; i < BURST_CLIENTS; i++)
        c[i] = client_open();
    cr_assert_eq(get(c[0], "/plaintext")->status, 200); /* all accepted by now, in order */
    kill(srv.pid, SIGSTOP);
    for (int i = 0; i < BURST_CLIENTS; i++)
        send_str(c[i], req);
    kill(srv.pid, SIGCONT);
    for (int i = 0; i < BURST_CLIENTS; i++) {
        cr_assert_eq(answer(c[i], "Hello, World!"), 200, "[uring] client %d, first", i);
        cr_assert_eq(answer(c[i], ITEMS_BODY), 200, "[uring] client %d, second", i);
    }
    for (int i = 0; i < BURST_CLIENTS; i++)
        client_close(c[i]);
    stop_all();
    const char *said = read_log(log);
    cr_assert(strstr(said, "completion queue overflowed"),
              "[uring] the burst overflowed the completion queue (or the test proves nothing)");
    cr_assert(strstr(said, "(0 completions lost)"), "[uring] and no completion was lost");
}

/* ---- clients that leave with operations in flight ---- */

/* Closes c at once with a reset (SO_LINGER 0). */
static void reset_close(struct client *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    client_close(c);
}

/* Clients leave while the server has a recv, a send or a query in flight
 * for them: a query parked on the database, responses the client never
 * reads (sends held by a full socket), a head cut off by a reset. Each
 * connection's operations are cancelled and its socket closed: the server
 * goes back to the descriptors it had, and serves on. */
Test(uring, a_client_that_leaves_with_operations_in_flight_leaves_no_trace)
{
    const char *flags[] = {"--loops", "1", NULL};
    static char flood[200 * 40];
    start_uring(flags);
    struct client *probe = client_open();
    cr_assert_eq(get(probe, "/items")->status, 200);
    int rest = observe_fds(srv.pid);
    for (int i = 0; i < 30; i++) { /* a query in flight */
        struct client *c = client_open();
        send_str(c, "GET /slow HTTP/1.1\r\n\r\n");
        observe_await_read(observe_port(srv.addr), c->fd, 10000);
        client_close(c);
    }
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(flood + n, sizeof(flood) - n, "GET /plaintext HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 20; i++) { /* sends in flight that nobody reads */
        struct client *c = client_open();
        int small = 4096;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        for (int k = 0; k < 20; k++)
            send_bytes(c, flood, n);
        usleep(20000);
        (i % 2 ? reset_close : client_close)(c);
    }
    for (int i = 0; i < 30; i++) { /* a recv in flight, then a reset */
        struct client *c = client_open();
        send_str(c, "GET /plaintext HTTP/1.1\r\nX-Half: ");
        reset_close(c);
    }
    cr_assert_eq(get(probe, "/plaintext")->status, 200, "[uring] serves on");
    int now = observe_settle_fds(srv.pid, rest, 0, 10000);
    cr_assert_eq(now, rest, "[uring] back to %d descriptors, not %d", rest, now);
    cr_assert_eq(get(probe, "/items")->status, 200, "[uring] and answers queries");
    client_close(probe);
    stop_all();
}

/* ---- a sandbox that refuses io_uring ---- */

/* In the child, before exec: no new privileges, then a seccomp filter that
 * fails io_uring_setup with err and allows everything else. */
static void forbid_uring(int err)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        _exit(99);
}

/* Runs `overlap serve --engine uring` with io_uring_setup failing with err:
 * its exit status, and what it printed (stdout and stderr) in out. */
static int run_refused(int err, char *out, size_t cap)
{
    char wl[300];
    int p[2];
    snprintf(wl, sizeof(wl), "%s/w.ini", suite_dir);
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const char *bin = getenv("OVERLAP_BIN");
        dup2(p[1], 1);
        dup2(p[1], 2);
        forbid_uring(err);
        execl(bin && *bin ? bin : OVERLAP_BIN, "overlap", "serve", "--engine", "uring",
              "--workload", wl, "--db", "unix:/nonexistent/db.sock", "--listen", "127.0.0.1:0",
              "--loops", "1", (char *)NULL);
        _exit(98);
    }
    close(p[1]);
    size_t n = 0;
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    while (n + 1 < cap && poll(&pfd, 1, 20000) == 1) {
        ssize_t r = read(p[0], out + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    close(p[0]);
    kill(pid, SIGKILL); /* only if it hangs: by now it has exited */
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(uring, a_sandbox_that_refuses_io_uring_is_a_clear_error)
{
    static const int errs[] = {EPERM, ENOSYS};
    char out[4096];
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        int status = run_refused(errs[i], out, sizeof(out));
        cr_assert_neq(status, 99, "the seccomp filter could not be installed");
        cr_assert_eq(status, 1, "a refused io_uring exits 1, not %d: %s", status, out);
        cr_assert(strstr(out, "io_uring refused: io_uring_setup: ") &&
                      strstr(out, strerror(errs[i])) && strstr(out, "seccomp"),
                  "the error names io_uring, the errno and why: %s", out);
        cr_assert(!strstr(out, "listening"), "nothing is announced: %s", out);
    }
}
