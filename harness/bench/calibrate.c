/* The machine's calibration (calibrate.h): the CPU burner's cost as the
 * workloads measure it, and a loopback TCP round trip, the two things every
 * request of a sweep pays for; and their lines in meta.txt, written and read
 * back. TCP rather than a socketpair: the load generator reaches the server
 * over TCP on this host, so its stack is part of what a request costs. */
#define _GNU_SOURCE
#include "calibrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "wl.h"

#define LOOPBACK_TRIPS  200 /* round trips a round: a few ms, well above the clock's grain */
#define LOOPBACK_ROUNDS 7   /* after a warm-up round; the fastest wins, as in the burner's */
/* A peer silent this long is broken: the measurement fails rather than hang the sweep. */
#define LOOPBACK_TIMEOUT_S 2

static const struct {
    const char *key, *unit, *example;
} figures[CALIBRATE_NFIGURES] = {
    [CALIBRATE_BURN] = {"calibration_burn_ns", "ns per burner iteration", "0.52"},
    [CALIBRATE_LOOPBACK] = {"calibration_loopback_us", "µs per loopback round trip", "14.8"},
};

const char *calibrate_key(enum calibrate_figure k)
{
    return figures[k].key;
}

const char *calibrate_unit(enum calibrate_figure k)
{
    return figures[k].unit;
}

/* Rounds spread over BURN_ROUNDS * BURN_GAP_NS, so that a slow patch of the
 * machine cannot disturb every trial: on a shared 2-core virtual machine,
 * best-of-7 trials 50 ms apart read 598 to 698 iterations per µs over 10 s,
 * 14 % of them under 670, in patches that outlast a few ms. The sweep's
 * servers all run at this one rate. */
#define BURN_ROUNDS 10
#define BURN_TRIALS 7
#define BURN_GAP_NS 20000000

double calibrate_burn_ns(void)
{
    double best = 0;
    for (int r = 0; r < BURN_ROUNDS; r++) {
        if (r) {
            struct timespec gap = proc_timespec(BURN_GAP_NS);
            nanosleep(&gap, NULL);
        }
        double rate = wl_burn_measure(BURN_TRIALS);
        if (rate > best)
            best = rate;
    }
    return 1e3 / best;
}

/* ---- the loopback round trip ---- */

/* The far end of the ping-pong: sends every byte back until the connection
 * closes (or stays silent past its timeout). */
static void *echo(void *arg)
{
    int fd = *(const int *)arg;
    char b;
    while (recv(fd, &b, 1, 0) == 1 && send(fd, &b, 1, MSG_NOSIGNAL) == 1)
        continue;
    return NULL;
}

/* No batching of the one-byte messages, and a bound on every wait. */
static int set_options(int fd)
{
    int one = 1;
    struct timeval tv = {.tv_sec = LOOPBACK_TIMEOUT_S};
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    return 0;
}

/* A connection over 127.0.0.1: fds[0] the end that connected, fds[1] the
 * end accepted (the listener's backlog completes the connect, so one thread
 * does both). 0, or -errno with both closed. */
static int loopback_pair(int fds[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int rc = 0, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fds[0] = fds[1] = -1;
    if (lfd < 0)
        return -errno;
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0 ||
        (fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0 ||
        (fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
        rc = -errno;
    if (rc == 0 && (rc = set_options(fds[0])) == 0)
        rc = set_options(fds[1]);
    close(lfd);
    for (int i = 0; rc < 0 && i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* One round of trips round trips on fd: its mean in µs. 0, or -errno. */
static int round_us(int fd, int trips, double *us)
{
    char b = 'x';
    uint64_t start = proc_now_ns();
    for (int i = 0; i < trips; i++) {
        if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
            return -errno;
        ssize_t got = recv(fd, &b, 1, 0);
        if (got != 1)
            return got == 0 ? -ECONNRESET : -errno;
    }
    *us = (double)(proc_now_ns() - start) / 1e3 / trips;
    return 0;
}

/* The rounds on a connected fd whose peer echoes: the best, after one
 * unmeasured round (the first wakes of the peer thread are the slowest). */
static int best_round_us(int fd, double *us)
{
    double best = INFINITY, v = INFINITY;
    for (int r = 0; r <= LOOPBACK_ROUNDS; r++) {
        int rc = round_us(fd, LOOPBACK_TRIPS, &v);
        if (rc < 0)
            return rc;
        if (r > 0 && v < best)
            best = v;
    }
    *us = best;
    return 0;
}

int calibrate_loopback_us(double *us)
{
    int fds[2];
    pthread_t peer;
    *us = NAN;
    int rc = loopback_pair(fds);
    if (rc < 0)
        return rc;
    rc = -pthread_create(&peer, NULL, echo, &fds[1]);
    if (rc == 0) {
        rc = best_round_us(fds[0], us);
        shutdown(fds[0], SHUT_RDWR); /* the peer's recv returns 0: it ends */
        pthread_join(peer, NULL);
    }
    close(fds[0]);
    close(fds[1]);
    if (rc < 0)
        *us = NAN;
    return rc;
}

/* ---- both, on the CPUs asked for ---- */

int calibrate_measure(const char *cpus, struct calibration *c)
{
    cpu_set_t own;
    int pinned = cpus && cpus[0];
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        c->figure[k] = NAN;
    if (pinned && sched_getaffinity(0, sizeof(own), &own) < 0)
        return -errno;
    if (pinned && proc_pin_cpus(cpus) < 0)
        return -EINVAL;
    /* the echo thread is created pinned too: it inherits the affinity */
    c->figure[CALIBRATE_BURN] = calibrate_burn_ns();
    int rc = calibrate_loopback_us(&c->figure[CALIBRATE_LOOPBACK]);
    if (pinned && sched_setaffinity(0, sizeof(own), &own) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* ---- meta.txt ---- */

void calibrate_write(FILE *f, const struct calibration *c)
{
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        if (isfinite(c->figure[k]))
            fprintf(f, "%s: %.6g\n", figures[k].key, c->figure[k]);
}

/* A positive finite number with nothing but blanks around it, else NAN. */
static double parse_figure(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    end += strspn(end, " \t");
    return end != s && !*end && isfinite(v) && v > 0 ? v : NAN;
}

/* Line lineno of path (without its newline): 1 when it is a figure's and
 * read into c, else 0, with a warning when it is a figure's but unusable. */
static int read_line(const char *line, const char *path, int lineno, struct calibration *c,
                     FILE *warn, const char *prefix)
{
    for (int k = 0; k < CALIBRATE_NFIGURES; k++) {
        size_t len = strlen(figures[k].key);
        if (strncmp(line, figures[k].key, len) != 0 || line[len] != ':')
            continue;
        const char *value = line + len + 1;
        double v = parse_figure(value);
        value += strspn(value, " \t");
        if (isnan(v)) {
            fprintf(warn,
                    "%s: %s:%d: %s '%s' is not a positive number (expected %s, e.g. %s); "
                    "ignored\n",
                    prefix, path, lineno, figures[k].key, value, figures[k].unit,
                    figures[k].example);
            return 0;
        }
        if (!isnan(c->figure[k])) {
            fprintf(warn, "%s: %s:%d: %s given again (expected once); the first kept\n", prefix,
                    path, lineno, figures[k].key);
            return 0;
        }
        c->figure[k] = v;
        return 1;
    }
    return 0;
}

int calibrate_read(const char *path, struct calibration *c, FILE *warn, const char *prefix)
{
    char *line = NULL;
    size_t cap = 0;
    int n = 0, lineno = 0;
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        c->figure[k] = NAN;
    FILE *f = fopen(path, "r");
    if (!f) {
        /* no meta.txt reads as no calibration; one there but unreadable is worth a word */
        if (errno != ENOENT)
            fprintf(warn, "%s: %s: %s (expected a readable file); no calibration read\n", prefix,
                    path, strerror(errno));
        return 0;
    }
    while (getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        n += read_line(line, path, ++lineno, c, warn, prefix);
    }
    free(line);
    fclose(f);
    return n;
}
