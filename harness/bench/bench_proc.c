/* Samples a server from /proc for `overlap bench`: CPU time, resident memory,
 * threads and descriptors of the process, and the context switches summed
 * over its threads; and the load generator's CPU time alone (see bench.h).
 * Reads only; cheap enough for 20 Hz. */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A number after name (`\nThreads:`) in a status file; 0 when absent. */
static long status_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? strtol(p + strlen(name), NULL, 10) : 0;
}

/* Reads a small file whole, NUL-terminated: its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = '\0';
    return n;
}

int bench_sample_cpu(pid_t pid, double *utime_s, double *stime_s)
{
    char path[64], buf[8192];
    long ticks = sysconf(_SC_CLK_TCK);
    ssize_t n;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((n = read_small(path, buf, sizeof(buf))) < 0)
        return (int)n;
    /* fields after the command name, which may hold spaces and ')': skip past the last ')' */
    char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -EIO;
    *utime_s = (double)ut / ticks;
    *stime_s = (double)st / ticks;
    return 0;
}

int bench_sample_proc(pid_t pid, struct bench_proc *p)
{
    char path[64], buf[8192];
    ssize_t n;
    int rc = bench_sample_cpu(pid, &p->utime_s, &p->stime_s);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((n = read_small(path, buf, sizeof(buf))) < 0)
        return (int)n;
    p->rss_kib = status_field(buf, "\nVmRSS:");
    p->threads = status_field(buf, "\nThreads:");
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    p->fds = 0;
    for (struct dirent *e; (e = readdir(d));)
        p->fds += e->d_name[0] != '.';
    closedir(d);
    return 0;
}

int bench_count_switches(pid_t pid, long *vol, long *invol)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    *vol = *invol = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", (int)pid, e->d_name);
        if (read_small(path, buf, sizeof(buf)) < 0)
            continue; /* the thread ended meanwhile */
        *vol += status_field(buf, "\nvoluntary_ctxt_switches:");
        *invol += status_field(buf, "\nnonvoluntary_ctxt_switches:");
    }
    closedir(d);
    return 0;
}

/* ---- process trees ---- */

#define TREE_MAX 256 /* processes of one server's tree; more are not measured */

/* pid and its descendants, the root first; the count. */
static int tree(pid_t pid, pid_t *out, int max)
{
    char path[64], buf[4096];
    int n = 0;
    out[n++] = pid;
    for (int at = 0; at < n; at++) {
        snprintf(path, sizeof(path), "/proc/%d/task", (int)out[at]);
        DIR *d = opendir(path);
        if (!d)
            continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)out[at], e->d_name);
            if (read_small(path, buf, sizeof(buf)) <= 0)
                continue;
            for (char *p = buf, *end; n < max; p = end) {
                long child = strtol(p, &end, 10);
                if (end == p)
                    break;
                out[n++] = (pid_t)child;
            }
        }
        closedir(d);
    }
    return n;
}

int bench_sample_tree(pid_t pid, struct bench_proc *p)
{
    pid_t pids[TREE_MAX];
    int n = tree(pid, pids, TREE_MAX);
    int rc = bench_sample_proc(pid, p);
    for (int i = 1; i < n && rc == 0; i++) {
        struct bench_proc c;
        if (bench_sample_proc(pids[i], &c) < 0)
            continue; /* it ended meanwhile */
        p->utime_s += c.utime_s;
        p->stime_s += c.stime_s;
        p->rss_kib += c.rss_kib;
        p->threads += c.threads;
        p->fds += c.fds;
    }
    return rc;
}

int bench_count_switches_tree(pid_t pid, long *vol, long *invol)
{
    pid_t pids[TREE_MAX];
    int n = tree(pid, pids, TREE_MAX);
    int rc = bench_count_switches(pid, vol, invol);
    for (int i = 1; i < n && rc == 0; i++) {
        long v, iv;
        if (bench_count_switches(pids[i], &v, &iv) == 0) {
            *vol += v;
            *invol += iv;
        }
    }
    return rc;
}
