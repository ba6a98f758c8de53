/* A server seen from outside, through /proc (see observe.h). */
#define _GNU_SOURCE
#include "observe.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int observe_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The number after `key` on its line of /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *key)
{
    char path[64], line[256];
    long value = -1;
    size_t len = strlen(key);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, len) && sscanf(line + len, "%ld", &value) == 1)
            break;
    fclose(f);
    return value;
}

long observe_rss_kb(pid_t pid)
{
    return status_field(pid, "VmRSS:");
}

int observe_threads(pid_t pid)
{
    return (int)status_field(pid, "Threads:");
}

int observe_settle_fds(pid_t pid, int want, int up, int timeout_ms)
{
    int n = observe_fds(pid);
    for (long long end = now_ms() + timeout_ms; (up ? n < want : n > want) && now_ms() < end;) {
        usleep(50000);
        n = observe_fds(pid);
    }
    return n;
}

long observe_nofile(pid_t pid)
{
    char path[64], line[256];
    long soft = -1;
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Max open files", 14)) {
            char value[32];
            cr_assert_eq(sscanf(line + 14, "%31s", value), 1, "%s", line);
            soft = !strcmp(value, "unlimited") ? (long)(~0UL >> 1) : atol(value);
        }
    fclose(f);
    cr_assert_geq(soft, 0, "no 'Max open files' in %s", path);
    return soft;
}

void observe_raise_nofile(rlim_t need)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    struct rlimit want = {.rlim_cur = need, .rlim_max = rl.rlim_max};
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        want.rlim_max = need;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &want), 0,
                 "RLIMIT_NOFILE is %lu (hard limit %lu) and cannot be raised to %lu: %s. Raise "
                 "the hard limit (ulimit -Hn %lu, which takes CAP_SYS_RESOURCE) to run this test",
                 (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, (unsigned long)need,
                 strerror(errno), (unsigned long)need);
}

int observe_unread(int server_port, int client_port, int *established)
{
    char line[512];
    int unread = 0;
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f, "/proc/net/tcp: %s", strerror(errno));
    *established = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned lport, rport, state;
        unsigned long rxq;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %x %*x:%lx", &lport, &rport, &state, &rxq) != 4)
            continue; /* the header */
        if ((int)lport != server_port || state != 1 /* TCP_ESTABLISHED */ ||
            (client_port && (int)rport != client_port))
            continue;
        ++*established;
        unread += rxq > 0;
    }
    fclose(f);
    return unread;
}

void observe_await_read(int server_port, int fd, int timeout_ms)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    int established = 0, unread = 1;
    for (long long end = now_ms() + timeout_ms; now_ms() < end; usleep(10000)) {
        unread = observe_unread(server_port, ntohs(sa.sin_port), &established);
        if (established == 1 && unread == 0)
            return;
    }
    cr_assert_fail("after %d ms the server had not read what was sent from port %d", timeout_ms,
                   ntohs(sa.sin_port));
}

int observe_port(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    cr_assert_not_null(colon, "no port in '%s'", addr);
    return atoi(colon + 1);
}
