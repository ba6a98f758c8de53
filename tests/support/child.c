/* Starting and stopping overlap subprocesses for the process-level tests. */
#define _GNU_SOURCE
#include "child.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reads the first line from fd, one byte at a time so nothing after it is
 * consumed; 0, or -1 on EOF, error or timeout. */
static int read_line(int fd, char *line, size_t len, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t r = read(fd, line + n, 1);
        if (r <= 0)
            return -1;
        if (line[n] == '\n') {
            line[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

int child_start(struct child *c, const char *const *args, int timeout_ms)
{
    int pipefd[2];
    const char *argv[64];
    int n = 0;
    const char *bin = getenv("OVERLAP_BIN"); /* the TSan pass runs a TSan-built binary */
    argv[n++] = bin && *bin ? bin : OVERLAP_BIN;
    while (args[n - 1] && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    memset(c, 0, sizeof(*c));
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    c->pid = fork();
    if (c->pid == 0) {
        /* a test that crashes takes its servers with it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    char line[300];
    int ok = c->pid > 0 && read_line(pipefd[0], line, sizeof(line), timeout_ms) == 0 &&
             !strncmp(line, "listening ", 10);
    close(pipefd[0]); /* later stdout writes get EPIPE, which servers ignore */
    if (!ok) {
        if (c->pid > 0)
            child_kill(c);
        return -1;
    }
    snprintf(c->addr, sizeof(c->addr), "%s", line + 10);
    return 0;
}

static int reap(pid_t pid, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -1;
        if (now_ms() >= deadline)
            return -2;
        usleep(2000);
    }
}

/* What each thread of a child that outlived its stop was doing, on stderr,
 * before it is killed: the kernel's view from /proc (state, where it sleeps,
 * the system call it is in), then every thread's stack from gdb when there
 * is one, bounded in time. A hang that a loaded machine shows once in many
 * runs is then read off the failed run, not guessed at. */
static void dump_threads(pid_t pid)
{
    char cmd[1024];
    fprintf(stderr, "---- pid %d did not end after SIGTERM; its threads ----\n", (int)pid);
    fflush(stderr);
    snprintf(cmd, sizeof(cmd),
             "for t in /proc/%d/task/*; do echo \"tid ${t##*/} $(cat $t/comm)"
             " state $(cut -d' ' -f3 $t/stat) wchan $(cat $t/wchan) syscall $(cut -d' ' -f1"
             " $t/syscall 2>/dev/null)\"; done >&2;"
             " command -v gdb >/dev/null && timeout 60 gdb -p %d -batch -nx"
             " -ex 'thread apply all bt' </dev/null 2>/dev/null | grep -E '^(Thread|#)' >&2",
             (int)pid, (int)pid);
    if (system(cmd) < 0)
        fprintf(stderr, "cannot run the thread dump\n");
    fprintf(stderr, "---- end of pid %d's threads ----\n", (int)pid);
}

int child_stop(struct child *c, int timeout_ms)
{
    if (c->pid <= 0)
        return -1;
    kill(c->pid, SIGTERM);
    int status = reap(c->pid, timeout_ms);
    if (status == -2) {
        dump_threads(c->pid);
        kill(c->pid, SIGKILL);
        status = reap(c->pid, 5000);
    }
    c->pid = 0;
    return status;
}

void child_kill(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGKILL);
    reap(c->pid, 5000);
    c->pid = 0;
}

int child_tmpdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/overlap-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1; /* mkdtemp makes it 0700 */
}

void child_tmpdir_remove(const char *dir)
{
    char cmd[512];
    if (!dir[0] || strncmp(dir, "/", 1))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

const char *child_write_file(const char *dir, const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0, "cannot write %s", path);
    return path;
}
