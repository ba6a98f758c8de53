/* The sweep's child processes (see bench_child.h). A child that announces
 * writes its stdout into a pipe the sweep reads; everything read is copied
 * into the child's log, so the log holds all the child said, as a results
 * folder records it. Invariant: out and logfd are open only between the
 * start of a child that announces and its reaping. */
#define _GNU_SOURCE /* pipe2 */
#include "bench_child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define REAP_EVERY_NS 5000000 /* how often a stopping child is looked at */
#define EXIT_EVERY_MS 10      /* the same for a child that closed its stdout to exit */

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = proc_timespec(ns);
    nanosleep(&ts, NULL);
}

static void copy_to_log(const struct bench__child *c, const char *buf, size_t n)
{
    if (c->logfd >= 0 && write(c->logfd, buf, n) < 0) {
        /* a log that cannot be written costs the reason of a failure only */
    }
}

/* In the child, between fork and exec: the sweep's handlers are not the
 * child's, and a sweep that dies unannounced still stops its children. */
static void exec_child(char **argv, int log, int out, pid_t parent, bool group, const char *cpus)
{
    if (group) {
        setpgid(0, 0);
        proc_raise_nofile(1L << 20); /* a server of any language meets many clients */
    }
    if (cpus && cpus[0] && proc_pin_cpus(cpus) < 0)
        dprintf(log, "cannot pin to CPUs %s: running unpinned\n", cpus);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    dup2(out, 1);
    dup2(log, 2);
    execv(argv[0], argv);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int start(struct bench__child *c, char **argv, const char *log, bool announces, bool group,
                 const char *cpus)
{
    int out[2] = {-1, -1}, err = 0;
    *c = (struct bench__child){.out = -1, .logfd = -1, .group = group};
    snprintf(c->log, sizeof(c->log), "%s", log);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pid_t parent = getpid(), pid = -1;
    if ((announces && pipe2(out, O_CLOEXEC) < 0) || (pid = fork()) < 0) {
        err = -errno;
        goto cleanup;
    }
    if (pid == 0)
        exec_child(argv, fd, announces ? out[1] : fd, parent, group, cpus);
    if (group)
        setpgid(pid, pid); /* as the child does: whichever runs first */
    c->pid = pid;
    if (announces) {
        /* the read end alone (pipe2 would set both): a child's stdout stays
         * blocking, so a write of its never fails for want of room */
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        c->out = out[0];
        c->logfd = fd;
        out[0] = fd = -1;
    }
cleanup:
    if (out[0] >= 0)
        close(out[0]);
    if (out[1] >= 0)
        close(out[1]);
    if (fd >= 0)
        close(fd);
    return err;
}

int bench__child_start(struct bench__child *c, char **argv, const char *log, bool announces)
{
    return start(c, argv, log, announces, false, NULL);
}

int bench__child_start_group(struct bench__child *c, char **argv, const char *log, bool announces,
                             const char *cpus)
{
    return start(c, argv, log, announces, true, cpus);
}

int bench__child_capture(char **argv, char *out, size_t len)
{
    int p[2];
    size_t used = 0;
    ssize_t n;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0)
        exec_child(argv, p[1], p[1], parent, false, NULL);
    int err = pid < 0 ? -errno : 0;
    close(p[1]);
    while (pid > 0 && used + 1 < len &&
           ((n = read(p[0], out + used, len - 1 - used)) > 0 || (n < 0 && errno == EINTR)))
        used += n > 0 ? (size_t)n : 0;
    close(p[0]); /* a child with more to say ends on SIGPIPE */
    while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (len)
        out[used] = '\0';
    return err;
}

/* Once the child is reaped (or given up on): whatever is left of its stdout
 * goes into its log, and the sweep's ends are closed. */
static void release(struct bench__child *c)
{
    char buf[4096];
    ssize_t n;
    while (c->out >= 0 && (n = read(c->out, buf, sizeof(buf))) > 0)
        copy_to_log(c, buf, (size_t)n);
    if (c->out >= 0)
        close(c->out);
    if (c->logfd >= 0)
        close(c->logfd);
    c->out = c->logfd = -1;
    c->pid = 0;
}

void bench__last_line(const char *path, char *out, size_t len)
{
    char line[512];
    FILE *f = fopen(path, "r");
    snprintf(out, len, "no output");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, len, "%s", line);
    }
    fclose(f);
}

/* Why a child ended, from its wait status and the last line of its log. */
static void exit_reason(const char *log, int status, const char *what, char *out, size_t len)
{
    char line[256];
    bench__last_line(log, line, sizeof(line));
    if (WIFSIGNALED(status))
        snprintf(out, len, "%s killed by signal %d (%s): %s", what, WTERMSIG(status),
                 strsignal(WTERMSIG(status)), line);
    else
        snprintf(out, len, "%s exited with status %d: %s", what, WEXITSTATUS(status), line);
}

int bench__child_ended(struct bench__child *c, const char *what, char *reason, size_t len)
{
    int status;
    if (c->pid <= 0)
        return 1;
    if (waitpid(c->pid, &status, WNOHANG) != c->pid)
        return 0;
    if (c->group)
        kill(-c->pid, SIGKILL); /* what the leader left behind */
    release(c);                 /* first: the reason is the log's last line */
    if (reason)
        exit_reason(c->log, status, what, reason, len);
    return 1;
}

/* Waits up to timeout_s for the child to end; 0 once reaped, else -1. */
static int wait_child(struct bench__child *c, double timeout_s)
{
    uint64_t deadline = proc_now_ns() + (uint64_t)(timeout_s * 1e9);
    for (;;) {
        pid_t r = waitpid(c->pid, NULL, WNOHANG);
        if (r == c->pid) {
            release(c);
            return 0;
        }
        if (r < 0 || proc_now_ns() > deadline)
            return -1;
        sleep_ns(REAP_EVERY_NS);
    }
}

void bench__child_stop(struct bench__child *c)
{
    pid_t pid = c->pid, target = c->group ? -pid : pid;
    if (pid <= 0)
        return;
    kill(target, SIGTERM);
    if (wait_child(c, BENCH__STOP_TIMEOUT_S) < 0 && c->pid > 0) {
        kill(target, SIGKILL);
        wait_child(c, BENCH__STOP_TIMEOUT_S);
    }
    if (c->group)
        kill(-pid, SIGKILL); /* what the leader left behind */
    release(c);
}

void bench__child_drain(struct bench__child *c)
{
    char buf[4096];
    ssize_t n;
    while (c->out >= 0 && (n = read(c->out, buf, sizeof(buf))) > 0)
        copy_to_log(c, buf, (size_t)n);
}

/* Takes the whole lines out of c->line: 1 with ADDR in addr at a
 * `listening ADDR` one, else 0 (other lines are only logged). */
static int take_lines(struct bench__child *c, char *addr, size_t len)
{
    char *nl;
    while ((nl = memchr(c->line, '\n', c->len))) {
        *nl = '\0';
        if (!strncmp(c->line, "listening ", 10)) {
            c->line[strcspn(c->line, "\r")] = '\0';
            snprintf(addr, len, "%s", c->line + 10);
            return 1;
        }
        size_t used = (size_t)(nl + 1 - c->line);
        memmove(c->line, nl + 1, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof(c->line))
        c->len = 0; /* too long to be the announcement */
    return 0;
}

/* Reads what the child wrote to stdout so far, into its log and its line:
 * 1 at the announcement, 0 when there is no more for now, -1 at the end of
 * its stdout (the child is ending). */
static int read_announcement(struct bench__child *c, char *addr, size_t len)
{
    for (;;) {
        ssize_t n = read(c->out, c->line + c->len, sizeof(c->line) - c->len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n < 0)
            return 0;
        copy_to_log(c, c->line + c->len, (size_t)n);
        c->len += (size_t)n;
        if (take_lines(c, addr, len))
            return 1;
    }
}

/* Sleeps until the child writes, the sweep is interrupted or left_ns pass;
 * once the child closed its stdout, a short while instead. */
static void wait_readable(const struct bench__child *c, uint64_t left_ns)
{
    struct pollfd p[2] = {{.fd = c->out, .events = POLLIN},
                          {.fd = proc_stop_fd(), .events = POLLIN}};
    uint64_t ms = left_ns / 1000000 + 1;
    if (c->out < 0 && ms > EXIT_EVERY_MS)
        ms = EXIT_EVERY_MS;
    poll(p, 2, (int)(ms < INT_MAX ? ms : INT_MAX));
}

int bench__child_listening(struct bench__child *c, const char *what, char *addr, size_t len,
                           char *reason, size_t rlen)
{
    return bench__child_listening_for(c, what, BENCH__READY_TIMEOUT_S, addr, len, reason, rlen);
}

int bench__child_listening_for(struct bench__child *c, const char *what, double timeout_s,
                               char *addr, size_t len, char *reason, size_t rlen)
{
    uint64_t now, deadline = proc_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (!proc_stopping() && (now = proc_now_ns()) < deadline) {
        int got = c->out >= 0 ? read_announcement(c, addr, len) : -1;
        if (got == 1)
            return 0;
        if (got < 0 && c->out >= 0) {
            close(c->out);
            c->out = -1;
        }
        if (bench__child_ended(c, what, reason, rlen))
            return -1;
        wait_readable(c, deadline - now);
    }
    if (proc_stopping())
        snprintf(reason, rlen, "interrupted");
    else
        snprintf(reason, rlen, "%s not listening after %.0f s", what, timeout_s);
    bench__child_stop(c);
    return -1;
}
