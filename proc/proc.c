/* The kernel-facing pieces every overlap process shares: see proc.h. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Set by the signal handler, read by every thread: a lock-free atomic, which
 * is both async-signal-safe and race-free across threads (a volatile
 * sig_atomic_t is only the former). */
static atomic_int stop_flag;
static int stop_fd = -1; /* written once before signals are installed */

uint64_t proc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- buffers ---- */

int proc_grow(void *data, size_t *cap, size_t len, size_t n, size_t min_cap)
{
    if (*cap - len >= n)
        return 0;
    size_t want = *cap ? *cap : min_cap;
    while (want - len < n) {
        if (want > SIZE_MAX / 2)
            return -ENOMEM;
        want *= 2;
    }
    /* data is a uint8_t ** or a char **: the same representation as a
     * void *, read and written by copy so no type is punned */
    void *old, *p;
    memcpy(&old, data, sizeof(old));
    if (!(p = realloc(old, want)))
        return -ENOMEM;
    memcpy(data, &p, sizeof(p));
    *cap = want;
    return 0;
}

/* ---- addresses and the listening socket ---- */

int proc_split_addr(const char *addr, char *host, size_t hostlen, const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1])
        return -EINVAL;
    size_t len = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (len < 2 || colon[-1] != ']')
            return -EINVAL; /* a bracketed host is closed right before the port */
        addr++;
        len -= 2;
    }
    if (len == 0 || len >= hostlen)
        return -EINVAL;
    memcpy(host, addr, len);
    host[len] = '\0';
    *port = colon + 1;
    return 0;
}

static int bind_one(const struct addrinfo *ai, bool reuseport)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, PROC_BACKLOG) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int proc_listen(const char *addr, bool reuseport, char *bound, size_t boundlen)
{
    char host[256], shost[NI_MAXHOST], sport[NI_MAXSERV];
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (proc_split_addr(addr, host, sizeof(host), &port) < 0)
        return -EINVAL;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -EADDRNOTAVAIL;
    int fd = bind_one(res, reuseport);
    freeaddrinfo(res);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, shost, sizeof(shost), sport, sizeof(sport),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", shost, sport);
    return fd;
}

int proc_listen_group(const char *addr, int *fds, int n, char *bound, size_t boundlen)
{
    char again[256];
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    for (int i = 0; i < n; i++) {
        fds[i] = i == 0 ? proc_listen(addr, true, bound, boundlen)
                        : proc_listen(bound, true, again, sizeof(again));
        if (fds[i] < 0) {
            int err = fds[i];
            fds[i] = -1;
            return err;
        }
    }
    return 0;
}

bool proc_shed_accept(int listen_fd, int *spare)
{
    if (*spare < 0)
        return false;
    close(*spare);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0 && *spare >= 0;
}

void proc_announce(const char *bound)
{
    printf("listening %s\n", bound);
    fflush(stdout);
}

/* ---- CPUs and descriptors ---- */

/* Parses a CPU list (`1`, `0-1`, `0,2`) into set, strictly: no signs, spaces
 * or stray commas. 0 or -1. */
static int parse_cpus(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (const char *p = list; *p;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        long lo = strtol(p, &end, 10), hi = lo;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                return -1;
            hi = strtol(end + 1, &end, 10);
        }
        if (hi < lo || hi >= CPU_SETSIZE || (*end && *end != ','))
            return -1;
        for (long i = lo; i <= hi; i++)
            CPU_SET(i, set);
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1; /* a trailing comma */
    }
    return CPU_COUNT(set) ? 0 : -1;
}

int proc_count_cpus(const char *list)
{
    cpu_set_t set;
    return parse_cpus(list, &set) < 0 ? -1 : CPU_COUNT(&set);
}

int proc_pin_cpus(const char *list)
{
    cpu_set_t set;
    if (parse_cpus(list, &set) < 0)
        return -1;
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        return -2;
    return CPU_COUNT(&set);
}

int proc_cpus_allowed(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

long proc_raise_nofile(long need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rlim_t want = need > 0 && (rlim_t)need < rl.rlim_max ? (rlim_t)need : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? (long)(~0UL >> 1) : (long)rl.rlim_cur;
}

/* ---- the stop signal ---- */

static void on_signal(int sig)
{
    uint64_t one = 1;
    int saved = errno;
    atomic_store_explicit(&stop_flag, 1, memory_order_relaxed);
    if (write(stop_fd, &one, sizeof(one)) < 0) {
        /* the eventfd is already readable: nothing more to do */
    }
    errno = saved;
}

int proc_install_signals(void)
{
    stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd < 0)
        return -errno;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int proc_stop_fd(void)
{
    return stop_fd;
}

bool proc_stopping(void)
{
    return atomic_load_explicit(&stop_flag, memory_order_relaxed) != 0;
}
