/* The guardian: a small process forked as soon as the private directory
 * exists, so that nothing is left behind even when overlap pg cannot clean
 * up itself (SIGKILL, a crash). It waits on a pipe whose only writer is
 * overlap pg, which names the child to stop (initdb, then postgres) as it
 * starts them; at the pipe's end it stops that child and removes the
 * directory. overlap pg stops and removes them itself first on every other
 * path, so the guardian then finds nothing left. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "pg_internal.h"
#include "proc.h"

#define GUARD_QUIT_MS   5000 /* postgres's immediate shutdown waits 5 s for its backends */
#define GUARD_KILL_MS   1000
#define REMOVE_TRIES    20 /* a dying initdb's children may still write */
#define REMOVE_RETRY_US 50000

void pg__guard_watch(int guard_fd, pid_t pid)
{
    if (guard_fd >= 0 && write(guard_fd, &pid, sizeof(pid)) < 0) {
        /* the guardian is gone: nothing to tell */
    }
}

/* SIGQUIT (postgres: immediate shutdown; initdb: ends), then SIGKILL to its
 * process group. The pidfd makes sure the pid is still that child's. */
static void stop_child(pid_t pid, int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    pidfd_send_signal(pidfd, SIGQUIT, NULL, 0);
    if (poll(&p, 1, GUARD_QUIT_MS) == 1)
        return;
    if (pidfd_send_signal(pidfd, 0, NULL, 0) == 0)
        kill(-pid, SIGKILL);
    poll(&p, 1, GUARD_KILL_MS);
}

static void guard(const char *dir, int fd) __attribute__((noreturn));

static void guard(const char *dir, int fd)
{
    int null = open("/dev/null", O_RDWR);
    pid_t pid = 0;
    int pidfd = -1;
    /* Ctrl-C and SIGTERM are overlap pg's to handle; its handlers would
     * write to the stop eventfd the two processes share */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    setpgid(0, 0);
    if (null >= 0) { /* nobody waits for the guardian's output */
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    for (;;) {
        pid_t next;
        ssize_t n = read(fd, &next, sizeof(next));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(next))
            break; /* overlap pg is gone */
        if (pidfd >= 0)
            close(pidfd);
        pid = next;
        pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
    }
    if (pidfd >= 0)
        stop_child(pid, pidfd);
    for (int i = 0; i < REMOVE_TRIES && proc_remove_tree(dir) < 0; i++)
        usleep(REMOVE_RETRY_US);
    _exit(0);
}

int pg__guard_start(const char *dir, pid_t *guardian)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    if (pid == 0) {
        close(fds[1]);
        guard(dir, fds[0]);
    }
    close(fds[0]);
    *guardian = pid;
    return fds[1];
}
