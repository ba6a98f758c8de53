/* `overlap bench`: the sweep that starts each engine config, drives the load
 * points through `overlap load`, samples the server from /proc and writes the
 * results folder. Every row is written with one write(2) on an O_APPEND file
 * as its run ends, so an interrupted or killed sweep keeps every finished run
 * and never a half row. Children are stopped by their PIDs, and told to stop
 * by the kernel (PR_SET_PDEATHSIG) should the sweep itself be killed. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "proc.h"
#include "wl.h"

#ifndef OVERLAP_SOURCE_DIR
#define OVERLAP_SOURCE_DIR "."
#endif

#define READY_TIMEOUT_S 15.0        /* a server slower than this to listen has failed */
#define STOP_TIMEOUT_S  5.0         /* SIGTERM, then SIGKILL after this */
#define SAMPLE_EVERY_NS 50000000ULL /* /proc sampling: 20 Hz is cheap and catches peaks */
#define LOAD_GRACE_S    20.0        /* a load run may overrun its duration by this much */
#define WARMUP_MAX_S    12.0        /* a closed run's longest warmup: one worker, 1,024 clients */
#define LIVE_EVERY_S    0.25        /* the live progress line's refresh on a terminal */
#define ROW_MAX         4096
#define MAX_RUNS        (BENCH_MAX_ENGINES * (2 * BENCH_MAX_POINTS + 1))

/* Set by SIGINT/SIGTERM; every wait in the sweep checks it. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = 1;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- processes ---- */

struct child {
    pid_t pid;
    char log[PATH_MAX];
};

/* Starts argv with stdout and stderr appended to log; returns 0 or -errno.
 * Each process is pinned once: the child keeps the CPUs the sweep pinned
 * itself to (the load CPUs, right for the database and the load generator),
 * and the server pins itself to its own with `--cpus`. */
static int spawn(char **argv, const char *log, struct child *c)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (pid == 0) {
        /* the sweep's own handlers are not the child's; a sweep that dies
         * unannounced still stops its children */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    c->pid = pid;
    snprintf(c->log, sizeof(c->log), "%s", log);
    return 0;
}

/* Waits up to timeout for the child; returns its wait status, or -1. */
static int wait_child(struct child *c, double timeout)
{
    int status;
    double deadline = proc_now_ns() / 1e9 + timeout;
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid) {
            c->pid = 0;
            return status;
        }
        if (r < 0 || proc_now_ns() / 1e9 > deadline)
            return -1;
        sleep_s(0.005);
    }
}

static void stop_child(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    if (wait_child(c, STOP_TIMEOUT_S) == -1 && c->pid > 0) {
        kill(c->pid, SIGKILL);
        wait_child(c, STOP_TIMEOUT_S);
    }
    c->pid = 0;
}

/* The last non-empty line of a log: the reason a process gave for failing. */
static void last_line(const char *path, char *out, size_t len)
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
static void exit_reason(const struct child *c, int status, const char *what, char *out, size_t len)
{
    char line[256];
    last_line(c->log, line, sizeof(line));
    if (WIFSIGNALED(status))
        snprintf(out, len, "%s killed by signal %d (%s): %s", what, WTERMSIG(status),
                 strsignal(WTERMSIG(status)), line);
    else
        snprintf(out, len, "%s exited with status %d: %s", what, WEXITSTATUS(status), line);
}

/* Reaps the child if it has ended; 1 and the reason if so, else 0. */
static int child_ended(struct child *c, const char *what, char *reason, size_t len)
{
    int status;
    if (c->pid <= 0)
        return 1;
    if (waitpid(c->pid, &status, WNOHANG) != c->pid)
        return 0;
    exit_reason(c, status, what, reason, len);
    c->pid = 0;
    return 1;
}

/* Waits for the `listening ADDR` line in the child's log. */
static int wait_listening(struct child *c, const char *what, char *addr, size_t len, char *reason,
                          size_t rlen)
{
    double deadline = proc_now_ns() / 1e9 + READY_TIMEOUT_S;
    char line[512];
    while (proc_now_ns() / 1e9 < deadline && !interrupted) {
        FILE *f = fopen(c->log, "r");
        while (f && fgets(line, sizeof(line), f)) {
            if (!strncmp(line, "listening ", 10) && strchr(line, '\n')) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(addr, len, "%s", line + 10);
                fclose(f);
                return 0;
            }
        }
        if (f)
            fclose(f);
        if (child_ended(c, what, reason, rlen))
            return -1;
        sleep_s(0.01);
    }
    if (interrupted)
        snprintf(reason, rlen, "interrupted");
    else
        snprintf(reason, rlen, "%s not listening after %.0f s", what, READY_TIMEOUT_S);
    stop_child(c);
    return -1;
}

/* ---- CSV ---- */

/* Appends text to path with one write: a reader never sees half a row. */
static int append_atomic(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -EIO;
}

/* ---- the sweep ---- */

enum run_kind { RUN_CLOSED, RUN_OPEN, RUN_TIMELINE };
static const char *kind_name[] = {"closed", "open", "timeline"};

struct run {
    int engine;
    enum run_kind kind;
    int clients;
    double rate;
};

/* What the summary keeps of each finished run. */
struct run_result {
    int ok;
    double throughput, p99_ms, efficiency;
    long rss_kib, threads;
};

struct sweep {
    struct bench_suite suite;
    const char *suite_path; /* the suite file the flags start from */
    char suite_buf[PATH_MAX];
    struct wl_workload *wl;
    char self[PATH_MAX];    /* the overlap binary, for the children */
    char dir[PATH_MAX];     /* the results folder */
    char sockdir[PATH_MAX]; /* private (0700) folder for the database's socket */
    int ncores;             /* server CPUs, for the bounds */
    int live;               /* stderr is a terminal: a live progress line */
    struct run runs[MAX_RUNS];
    struct run_result result[MAX_RUNS]; /* parallel to runs */
    int nruns, done, failed;
    double started;
    struct child db, server;
    char db_addr[PATH_MAX], server_addr[128], db_sock[PATH_MAX + 32];
    char server_down[512]; /* why the current run cannot be measured, or "" */
    /* why a config's processes did not start: its later runs are not retried */
    char never_started[BENCH_MAX_ENGINES][512];
};

/* The most a config can do with this many clients (0: unlimited). */
static double config_bound(const struct sweep *sw, const struct bench_engine *e, double clients)
{
    double workers = e->async || e->workers <= 0 ? 0 : e->workers;
    return wl_bound_rps(sw->wl, clients, workers, sw->ncores);
}

/* A closed loop is in its steady state only once each client has been
 * answered: with C clients and a bound X, a response takes C/X, and a window
 * opened sooner counts the start-up burst (work banked during the warmup
 * reads as throughput above the bound, and latency is cut off at the
 * window's end). So a closed run warms up for at least twice C/X, up to
 * WARMUP_MAX_S; other runs take the suite's warmup. */
static double warmup_s(const struct sweep *sw, const struct run *r)
{
    double suite = sw->suite.warmup_ns / 1e9;
    if (r->kind != RUN_CLOSED)
        return suite;
    double bound = config_bound(sw, &sw->suite.engines[r->engine], r->clients);
    double settle = bound > 0 ? 2.0 * r->clients / bound : 0;
    settle = settle < WARMUP_MAX_S ? settle : WARMUP_MAX_S;
    return settle > suite ? settle : suite;
}

static double service_s(const struct sweep *sw)
{
    return (wl_mean_cpu_ns(sw->wl) + wl_mean_wait_ns(sw->wl)) / 1e9;
}

/* Connections an open-loop run needs: enough for four times the requests in
 * flight at its rate, so the generator never runs short by its own doing. */
static int open_clients(const struct sweep *sw, double rate)
{
    double need = ceil(rate * service_s(sw) * 4);
    return need < 16 ? 16 : need > 4096 ? 4096 : (int)need;
}

/* The timeline scenario's spacing: a third of one request's service time,
 * so requests 2 and 3 arrive while 1 is still being served (the lecture); a
 * workload that takes no time at all gets 1 ms gaps. */
static double timeline_rate(const struct sweep *sw)
{
    double service = service_s(sw);
    return service > 1e-6 ? 3.0 / service : 1000;
}

static void plan(struct sweep *sw)
{
    const struct bench_suite *s = &sw->suite;
    for (int e = 0; e < s->nengines; e++) {
        for (int i = 0; i < s->nclients; i++)
            sw->runs[sw->nruns++] = (struct run){e, RUN_CLOSED, s->clients[i], 0};
        double ceiling = config_bound(sw, &s->engines[e], 0);
        int nrates = s->auto_rates ? s->nfractions : s->nrates;
        if (s->auto_rates && !(ceiling > 0 && ceiling <= BENCH_MAX_RATE)) {
            fprintf(stderr,
                    "overlap bench: %s has no finite bound on this workload (no CPU per "
                    "request): no auto rates for it (give --rates)\n",
                    s->engines[e].spec);
            nrates = 0;
        }
        for (int i = 0; i < nrates; i++) {
            double rate = s->auto_rates ? s->fractions[i] * ceiling : s->rates[i];
            sw->runs[sw->nruns++] = (struct run){e, RUN_OPEN, 0, rate};
        }
        if (s->timeline > 0)
            sw->runs[sw->nruns++] = (struct run){e, RUN_TIMELINE, s->timeline, timeline_rate(sw)};
    }
}

static int start_db(struct sweep *sw, int id)
{
    const struct bench_suite *s = &sw->suite;
    char log[PATH_MAX + 32], listen[PATH_MAX + 32], reason[512];
    snprintf(sw->db_sock, sizeof(sw->db_sock), "%s/db-%d.sock", sw->sockdir, id);
    snprintf(listen, sizeof(listen), "unix:%s", sw->db_sock);
    char *argv[] = {sw->self, "db", "--workload", (char *)s->workload, "--listen", listen, NULL};
    snprintf(log, sizeof(log), "%s/logs/%03d-db.log", sw->dir, id);
    int err = spawn(argv, log, &sw->db);
    if (err < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "cannot start the database: %s",
                 strerror(-err));
        return -1;
    }
    if (wait_listening(&sw->db, "database", sw->db_addr, sizeof(sw->db_addr), reason,
                       sizeof(reason)) < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "database did not start: %s", reason);
        return -1;
    }
    return 0;
}

static int start_server(struct sweep *sw, int e, int id)
{
    const struct bench_engine *en = &sw->suite.engines[e];
    const struct bench_suite *s = &sw->suite;
    char log[PATH_MAX + 32], reason[512], num[4][16];
    char *argv[32];
    int n = 0;
    argv[n++] = sw->self;
    argv[n++] = "serve";
    argv[n++] = "--engine";
    argv[n++] = en->async ? "async" : "pool";
    argv[n++] = "--workload";
    argv[n++] = (char *)s->workload;
    argv[n++] = "--db";
    argv[n++] = sw->db_addr;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    if (!en->async && en->workers >= 0) {
        snprintf(num[0], sizeof(num[0]), "%d", en->workers);
        argv[n++] = "--workers";
        argv[n++] = num[0];
    }
    if (!en->async && en->queue > 0) {
        snprintf(num[1], sizeof(num[1]), "%d", en->queue);
        argv[n++] = "--queue";
        argv[n++] = num[1];
    }
    if (!en->async && en->connection_mode) {
        argv[n++] = "--pool-mode";
        argv[n++] = "connection";
    }
    if (en->async && en->loops > 0) {
        snprintf(num[2], sizeof(num[2]), "%d", en->loops);
        argv[n++] = "--loops";
        argv[n++] = num[2];
    }
    if (en->async && en->db_conns > 0) {
        snprintf(num[3], sizeof(num[3]), "%d", en->db_conns);
        argv[n++] = "--db-conns";
        argv[n++] = num[3];
    }
    if (s->server_cpus[0]) {
        argv[n++] = "--cpus";
        argv[n++] = (char *)s->server_cpus;
    }
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/logs/%03d-server.log", sw->dir, id);
    int err = spawn(argv, log, &sw->server);
    if (err < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "cannot start the server: %s",
                 strerror(-err));
        return -1;
    }
    if (wait_listening(&sw->server, "server", sw->server_addr, sizeof(sw->server_addr), reason,
                       sizeof(reason)) < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "server did not start: %s", reason);
        return -1;
    }
    return 0;
}

static void stop_config(struct sweep *sw)
{
    stop_child(&sw->server);
    stop_child(&sw->db);
    if (sw->db_sock[0])
        unlink(sw->db_sock); /* the database removes it, unless it was killed */
    sw->db_sock[0] = '\0';
}

/* Starts a fresh database and server of config e for run id: every load
 * point begins with empty queues and cold counters, so an overloaded point
 * cannot leave a backlog that the next one pays for. On failure
 * server_down says why. */
static void start_config(struct sweep *sw, int e, int id)
{
    sw->server_down[0] = '\0';
    if (start_db(sw, id) == 0)
        start_server(sw, e, id);
    if (sw->server_down[0])
        stop_config(sw);
}

/* 1 while the config's processes are up; else server_down says why. */
static int config_alive(struct sweep *sw)
{
    if (sw->server_down[0])
        return 0;
    if (child_ended(&sw->server, "server", sw->server_down, sizeof(sw->server_down)) ||
        child_ended(&sw->db, "database", sw->server_down, sizeof(sw->server_down))) {
        stop_config(sw);
        return 0;
    }
    return 1;
}

/* What one run measured: the load generator's figures and the server's cost. */
struct outcome {
    char status[16], reason[512];
    char load[12][32]; /* the load generator's fields, in load_fields order */
    double cpu_user_s, cpu_sys_s, window_s;
    long peak_rss_kib, threads, fds, vol_ctxsw, invol_ctxsw;
    double throughput, p99_ms;
};

/* Fields copied from the load generator's CSV row into runs.csv, by name. */
static const char *load_fields[] = {"requests", "errors",      "throughput_rps", "p50_ms",
                                    "p90_ms",   "p99_ms",      "p999_ms",        "max_ms",
                                    "mean_ms",  "achieved_rps"};
#define NLOAD (int)(sizeof(load_fields) / sizeof(load_fields[0]))

struct argstore {
    char num[8][32];
    char path[3][PATH_MAX];
};

static void load_argv(struct sweep *sw, const struct run *r, int id, char **argv,
                      struct argstore *st)
{
    char(*num)[32] = st->num;
    const struct bench_suite *s = &sw->suite;
    int n = 0;
    argv[n++] = sw->self;
    argv[n++] = "load";
    argv[n++] = "--target";
    argv[n++] = sw->server_addr;
    argv[n++] = "--workload";
    argv[n++] = (char *)s->workload;
    snprintf(num[0], 32, "%d", r->kind == RUN_OPEN ? open_clients(sw, r->rate) : r->clients);
    argv[n++] = "--clients";
    argv[n++] = num[0];
    if (r->kind == RUN_TIMELINE) {
        /* K requests at equal gaps, each on its own connection; the window
         * closes half a gap after the last is due */
        double rate = timeline_rate(sw);
        snprintf(num[1], 32, "%.3f", rate);
        snprintf(num[2], 32, "%.3fms", (r->clients - 0.5) / rate * 1e3);
        snprintf(num[3], 32, "%.0fms", service_s(sw) * 1e3 * (r->clients + 2) + 1000);
        snprintf(num[4], 32, "%d", r->clients);
        char **p = argv + n;
        *p++ = "--rate", *p++ = num[1], *p++ = "--arrival", *p++ = "uniform";
        *p++ = "--duration", *p++ = num[2], *p++ = "--warmup", *p++ = "0ms";
        *p++ = "--timeout", *p++ = num[3];
        *p++ = "--timeline-max", *p++ = num[4];
        n = p - argv;
    } else {
        /* a request queued behind the whole window is slow, not lost: only
         * one unanswered past the window (and a second) counts as an error */
        snprintf(num[1], 32, "%.3f", r->rate);
        snprintf(num[2], 32, "%.0fms", s->duration_ns / 1e6);
        snprintf(num[3], 32, "%.0fms", warmup_s(sw, r) * 1e3);
        snprintf(num[4], 32, "%.0fms", s->duration_ns / 1e6 + warmup_s(sw, r) * 1e3 + 1000);
        if (r->kind == RUN_OPEN) {
            argv[n++] = "--rate";
            argv[n++] = num[1];
        }
        argv[n++] = "--duration";
        argv[n++] = num[2];
        argv[n++] = "--warmup";
        argv[n++] = num[3];
        argv[n++] = "--timeout";
        argv[n++] = num[4];
    }
    snprintf(num[5], 32, "%d", s->load_threads > 0 ? s->load_threads : 1);
    argv[n++] = "--threads";
    argv[n++] = num[5];
    argv[n++] = "--seed";
    snprintf(num[6], 32, "%d", id);
    argv[n++] = num[6];
    static const char *outputs[] = {"--csv", "--latency-csv", "--timeline"};
    static const char *names[] = {"load.csv", "latency.csv", "timeline.csv"};
    for (int i = 0; i < (r->kind == RUN_TIMELINE ? 3 : 2); i++) {
        argv[n++] = (char *)outputs[i];
        snprintf(st->path[i], PATH_MAX, "%s/runs/%03d-%s", sw->dir, id, names[i]);
        argv[n++] = st->path[i];
    }
    argv[n] = NULL;
}

static void point_name(const struct run *r, char *out, size_t len)
{
    if (r->kind == RUN_OPEN)
        snprintf(out, len, "open r=%.0f", r->rate);
    else
        snprintf(out, len, "%s c=%d", kind_name[r->kind], r->clients);
}

static void format_eta(double s, char *out, size_t len)
{
    if (s >= 60)
        snprintf(out, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, len, "%ds", (int)s);
}

/* Seconds the rest of the sweep should take, from the runs done so far. */
static double eta_s(const struct sweep *sw, int running)
{
    double per_run = sw->done ? (proc_now_ns() / 1e9 - sw->started) / sw->done
                              : (sw->suite.duration_ns + sw->suite.warmup_ns) / 1e9 + 0.5;
    return per_run * (sw->nruns - sw->done - running);
}

/* On a terminal, the current run's line, rewritten in place. */
static void live_line(const struct sweep *sw, const struct run *r, int id, double elapsed)
{
    char point[48], eta[32];
    if (!sw->live)
        return;
    point_name(r, point, sizeof(point));
    double this_run = sw->suite.duration_ns / 1e9 + warmup_s(sw, r) - elapsed;
    format_eta(eta_s(sw, 1) + (this_run > 0 ? this_run : 0), eta, sizeof(eta));
    fprintf(stderr, "\r\033[K[%d/%d] %s %s  running %.1f s  ETA %s", id, sw->nruns,
            sw->suite.engines[r->engine].spec, point, elapsed, eta);
}

/* Samples the server while the load runs: CPU time and context switches
 * over the measured window, peaks of RSS, threads and descriptors at 20 Hz
 * within it. Switches are summed over the threads at the window's two ends
 * only: reading every thread's status 20 times a second would cost more than
 * the measurement is worth, and the end is taken before the load generator
 * closes its connections, when a thread-per-connection server's threads
 * (and their counters) go away. */
static void watch(struct sweep *sw, const struct run *r, int id, struct child *load,
                  double warmup_s, double window_s, double limit_s, struct outcome *o)
{
    struct bench_proc first = {0}, last = {0}, p;
    double start = proc_now_ns() / 1e9, t_first = 0, t_last = 0, shown = 0;
    long vol0 = 0, invol0 = 0, vol1 = 0, invol1 = 0;
    int state = 0; /* 0 before the window, 1 in it, 2 after it */
    while (load->pid > 0 && !interrupted) {
        int ended = waitpid(load->pid, NULL, WNOHANG) == load->pid;
        double t = proc_now_ns() / 1e9;
        int sampled = state < 2 && t - start >= warmup_s && sw->server.pid > 0 &&
                      bench_sample_proc(sw->server.pid, &p) == 0;
        if (sampled && state == 0 && bench_count_switches(sw->server.pid, &vol0, &invol0) == 0) {
            first = last = p;
            t_first = t_last = t;
            state = 1;
        } else if (sampled && state == 1) {
            last = p;
            t_last = t;
            if ((ended || t - start >= warmup_s + window_s) &&
                bench_count_switches(sw->server.pid, &vol1, &invol1) == 0)
                state = 2;
        }
        if (sampled) {
            o->peak_rss_kib = p.rss_kib > o->peak_rss_kib ? p.rss_kib : o->peak_rss_kib;
            o->threads = p.threads > o->threads ? p.threads : o->threads;
            o->fds = p.fds > o->fds ? p.fds : o->fds;
        }
        if (ended) {
            load->pid = 0;
            break;
        }
        if (t - start > limit_s) {
            stop_child(load);
            snprintf(o->reason, sizeof(o->reason), "load generator overran by %.0f s",
                     LOAD_GRACE_S);
            break;
        }
        if (t - shown >= LIVE_EVERY_S) {
            live_line(sw, r, id, t - start);
            shown = t;
        }
        sleep_s(SAMPLE_EVERY_NS / 1e9);
    }
    o->window_s = t_last - t_first;
    o->cpu_user_s = last.utime_s - first.utime_s;
    o->cpu_sys_s = last.stime_s - first.stime_s;
    o->vol_ctxsw = state == 2 && vol1 > vol0 ? vol1 - vol0 : 0;
    o->invol_ctxsw = state == 2 && invol1 > invol0 ? invol1 - invol0 : 0;
}

/* Copies a per-run CSV into the sweep's file, each row prefixed with the run;
 * the header goes in once, when the sweep's file is new. */
static void merge_csv(const char *from, const char *to, const char *prefix_header,
                      const char *prefix)
{
    FILE *f = fopen(from, "r");
    char line[ROW_MAX], *all = NULL;
    size_t len = 0;
    int first = 1;
    if (!f)
        return;
    FILE *mem = open_memstream(&all, &len);
    if (!mem) {
        fclose(f);
        return;
    }
    struct stat st;
    int fresh = stat(to, &st) < 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strchr(line, '\n'))
            continue; /* longer than any row we write: not ours */
        if (first) {
            first = 0;
            if (fresh)
                fprintf(mem, "%s,%s", prefix_header, line);
            continue;
        }
        fprintf(mem, "%s,%s", prefix, line);
    }
    fclose(f);
    fclose(mem);
    if (len > 0)
        append_atomic(to, all);
    free(all);
}

static const char runs_header[] =
    "run,suite,workload,engine,loop,clients,rate,status,reason,requests,errors,throughput_rps,"
    "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,achieved_rps,mean_cpu_ms,mean_wait_ms,"
    "bound_rps,ceiling_rps,efficiency,cpu_user_s,cpu_sys_s,cpu_util,peak_rss_kib,threads,fds,"
    "vol_ctxsw_per_s,invol_ctxsw_per_s\n";

/* CSV fields never hold commas or quotes of our making; a reason might. */
static void csv_clean(char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            *s = ';';
}

/* A run's bound: closed loop and timeline by their clients; open loop by
 * the config's ceiling, and never more than the offered rate. */
static double run_bound(const struct sweep *sw, const struct run *r)
{
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    if (r->kind == RUN_OPEN) {
        double ceiling = config_bound(sw, e, 0);
        return r->rate < ceiling ? r->rate : ceiling;
    }
    return config_bound(sw, e, r->clients);
}

static void write_row(struct sweep *sw, const struct run *r, int id, struct outcome *o)
{
    char row[ROW_MAX], loads[1024] = "", path[PATH_MAX + 16];
    size_t n = 0;
    for (int i = 0; i < NLOAD; i++)
        n += snprintf(loads + n, sizeof(loads) - n, "%s%s", i ? "," : "", o->load[i]);
    double bound = run_bound(sw, r), ceiling = config_bound(sw, &sw->suite.engines[r->engine], 0);
    double eff = bound > 0 && o->throughput > 0 ? o->throughput / bound : 0;
    double w = o->window_s > 0 ? o->window_s : 1;
    csv_clean(o->reason);
    snprintf(row, sizeof(row),
             "%d,%s,%s,%s,%s,%d,%.3f,%s,%s,%s,%.4f,%.4f,%.1f,%.1f,%.4f,%.3f,%.3f,%.3f,%ld,%ld,"
             "%ld,%.1f,%.1f\n",
             id, sw->suite.name, sw->wl->name, sw->suite.engines[r->engine].spec,
             kind_name[r->kind], r->kind == RUN_OPEN ? 0 : r->clients, r->rate, o->status,
             o->reason, loads, wl_mean_cpu_ns(sw->wl) / 1e6, wl_mean_wait_ns(sw->wl) / 1e6, bound,
             ceiling, eff, o->cpu_user_s, o->cpu_sys_s, (o->cpu_user_s + o->cpu_sys_s) / w,
             o->peak_rss_kib, o->threads, o->fds, o->vol_ctxsw / w, o->invol_ctxsw / w);
    snprintf(path, sizeof(path), "%s/runs.csv", sw->dir);
    if (append_atomic(path, row) < 0)
        fprintf(stderr, "overlap bench: cannot append to %s: %s\n", path, strerror(errno));
}

/* Reads the load generator's row (its CSV's last) into o; 0, or -1 when it
 * wrote none. */
static int read_load(const struct argstore *st, struct outcome *o)
{
    struct csv_table t;
    int status = csv_load(st->path[0], &t) < 0 || t.nrows == 0 ? -1 : 0;
    for (int i = 0; status == 0 && i < NLOAD; i++) {
        const char *v = csv_get(&t, t.nrows - 1, load_fields[i]);
        /* a field that would break the row's CSV is dropped, not copied */
        snprintf(o->load[i], sizeof(o->load[i]), "%s", strpbrk(v, "\"'") ? "" : v);
    }
    csv_free(&t);
    o->throughput = atof(o->load[2]);
    o->p99_ms = atof(o->load[5]);
    return status;
}

static void progress(struct sweep *sw, const struct run *r, int id, const struct outcome *o)
{
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    char point[48], eta[32];
    point_name(r, point, sizeof(point));
    format_eta(eta_s(sw, 0), eta, sizeof(eta));
    if (sw->live)
        fprintf(stderr, "\r\033[K");
    if (strcmp(o->status, "ok") != 0) {
        fprintf(stderr, "[%d/%d] %s %s  failed: %s  ETA %s\n", id, sw->nruns, e->spec, point,
                o->reason, eta);
        return;
    }
    if (r->kind == RUN_TIMELINE) {
        fprintf(stderr, "[%d/%d] %s %s  %s answered  slowest %.1f ms  ETA %s\n", id, sw->nruns,
                e->spec, point, o->load[0], atof(o->load[7]), eta);
        return;
    }
    double bound = run_bound(sw, r);
    fprintf(stderr, "[%d/%d] %s %s  %.3gk req/s  p99 %.1f ms  eff %.2f  ETA %s\n", id, sw->nruns,
            e->spec, point, o->throughput / 1e3, o->p99_ms, bound > 0 ? o->throughput / bound : 0,
            eta);
}

/* Runs the load generator for one point and measures the server meanwhile;
 * 0, or -1 with o->reason. */
static int measure(struct sweep *sw, const struct run *r, int id, struct argstore *st,
                   struct outcome *o)
{
    char *argv[48], log[PATH_MAX + 32];
    struct child load = {0};
    load_argv(sw, r, id, argv, st);
    snprintf(log, sizeof(log), "%s/logs/%03d-load.log", sw->dir, id);
    double limit = sw->suite.duration_ns / 1e9 + warmup_s(sw, r) + LOAD_GRACE_S;
    int err = spawn(argv, log, &load);
    if (err < 0) {
        snprintf(o->reason, sizeof(o->reason), "cannot start the load generator: %s",
                 strerror(-err));
        return -1;
    }
    if (r->kind == RUN_TIMELINE)
        watch(sw, r, id, &load, 0, limit, limit, o);
    else
        watch(sw, r, id, &load, warmup_s(sw, r), sw->suite.duration_ns / 1e9, limit, o);
    if (interrupted) {
        stop_child(&load);
        return -1;
    }
    if (!config_alive(sw)) {
        snprintf(o->reason, sizeof(o->reason), "%s", sw->server_down);
        return -1;
    }
    if (!o->reason[0] && read_load(st, o) < 0) {
        char line[256];
        last_line(log, line, sizeof(line));
        snprintf(o->reason, sizeof(o->reason), "load generator wrote no result: %s", line);
    }
    return o->reason[0] ? -1 : 0;
}

static void run_point(struct sweep *sw, const struct run *r, int id)
{
    struct outcome o = {.status = "ok"};
    struct argstore st;
    if (!config_alive(sw))
        snprintf(o.reason, sizeof(o.reason), "%s", sw->server_down);
    else
        measure(sw, r, id, &st, &o);
    if (interrupted)
        return; /* an interrupted run is not a finished one: no row */
    if (o.reason[0])
        snprintf(o.status, sizeof(o.status), "failed");
    write_row(sw, r, id, &o);
    if (!strcmp(o.status, "ok")) {
        char prefix[256], path[PATH_MAX + 16];
        snprintf(prefix, sizeof(prefix), "%d,%s,%s,%d,%.3f", id, sw->suite.engines[r->engine].spec,
                 kind_name[r->kind], r->kind == RUN_OPEN ? 0 : r->clients, r->rate);
        snprintf(path, sizeof(path), "%s/latency.csv", sw->dir);
        merge_csv(st.path[1], path, "run,engine,loop,clients,rate", prefix);
        if (r->kind == RUN_TIMELINE) {
            snprintf(path, sizeof(path), "%s/timeline.csv", sw->dir);
            merge_csv(st.path[2], path, "run,engine,loop,clients,rate", prefix);
        }
    } else {
        sw->failed++;
    }
    sw->result[id - 1] = (struct run_result){
        .ok = !strcmp(o.status, "ok"),
        .throughput = o.throughput,
        .p99_ms = o.p99_ms,
        .efficiency = run_bound(sw, r) > 0 ? o.throughput / run_bound(sw, r) : 0,
        .rss_kib = o.peak_rss_kib,
        .threads = o.threads,
    };
    sw->done++;
    progress(sw, r, id, &o);
}

/* ---- the results folder ---- */

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Runs a shell command and keeps the first line of its output, or "unknown". */
static void first_line_of(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    snprintf(out, len, "unknown");
    if (!p)
        return;
    if (fgets(out, len, p) && out[0] != '\n')
        out[strcspn(out, "\n")] = '\0';
    else
        snprintf(out, len, "unknown");
    pclose(p);
}

/* An argument as a shell would need it to reproduce the command. */
static void print_quoted(FILE *f, const char *arg)
{
    if (arg[0] && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "-_./:=,@%+") == strlen(arg)) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = arg; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else if (*p == '\n')
            fputc(' ', f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

static void write_machine(FILE *f)
{
    char cpu[256], commit[128], line[512];
    struct utsname u;
    first_line_of("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'", cpu,
                  sizeof(cpu));
    first_line_of(
        "git describe --always --dirty --abbrev=40 2>/dev/null || git -C '" OVERLAP_SOURCE_DIR
        "' describe --always --dirty --abbrev=40 2>/dev/null",
        commit, sizeof(commit));
    uname(&u);
    time_t t = time(NULL);
    strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(f, "date: %s\ncpu: %s\ncores: %ld\nkernel: %s %s %s\ncompiler: %s\ncommit: %s\n", line,
            cpu, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine, __VERSION__,
            commit);
    FILE *p = popen("dpkg-query -W -f '${Package} ${Version}\\n' libsqlite3-0 libinih1 "
                    "gnuplot-nox 2>/dev/null",
                    "r");
    while (p && fgets(line, sizeof(line), p))
        fprintf(f, "package: %s", line);
    if (p)
        pclose(p);
}

static int write_meta(struct sweep *sw, int argc, char **argv)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/meta.txt", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    write_machine(f);
    fprintf(f, "command: overlap");
    for (int i = 0; i < argc; i++) {
        fputc(' ', f);
        print_quoted(f, argv[i]);
    }
    const struct bench_suite *s = &sw->suite;
    fprintf(f, "\nsuite: %s (%s)\nworkload: %s (%s)\nserver_cpus: %s\nload_cpus: %s\n", s->name,
            sw->suite_path, sw->wl->name, s->workload, s->server_cpus[0] ? s->server_cpus : "any",
            s->load_cpus[0] ? s->load_cpus : "any");
    fprintf(f, "duration_s: %.3f\nwarmup_s: %.3f\nmean_cpu_ms: %.4f\nmean_wait_ms: %.4f\n",
            s->duration_ns / 1e9, s->warmup_ns / 1e9, wl_mean_cpu_ns(sw->wl) / 1e6,
            wl_mean_wait_ns(sw->wl) / 1e6);
    fprintf(f, "timeline_requests: %d\ntimeline_rate: %.3f\n", s->timeline, timeline_rate(sw));
    fprintf(f, "engines:");
    for (int i = 0; i < s->nengines; i++)
        fprintf(f, " %s", s->engines[i].spec);
    fprintf(f, "\nruns: %d\n", sw->nruns);
    return fclose(f) == 0 ? 0 : -EIO;
}

/* results/<suite>-<UTC timestamp>/, never one that exists; results/latest
 * points at it (replaced atomically). */
static int make_dir(struct sweep *sw, const char *out)
{
    char stamp[32], sub[PATH_MAX + 16], link[PATH_MAX + 16], tmp[PATH_MAX + 32];
    time_t t = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&t));
    if (mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "overlap bench: cannot create %s: %s\n", out, strerror(errno));
        return -1;
    }
    for (int i = 1;; i++) {
        if (i == 100) {
            fprintf(stderr, "overlap bench: too many result folders named %s/%s-%s\n", out,
                    sw->suite.name, stamp);
            return -1;
        }
        if (i == 1)
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s", out, sw->suite.name, stamp);
        else
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s-%d", out, sw->suite.name, stamp, i);
        if (mkdir(sw->dir, 0755) == 0)
            break;
        if (errno != EEXIST) {
            fprintf(stderr, "overlap bench: cannot create %s: %s\n", sw->dir, strerror(errno));
            return -1;
        }
    }
    static const char *subs[] = {"runs", "logs"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", sw->dir, subs[i]);
        mkdir(sub, 0755);
    }
    snprintf(link, sizeof(link), "%s/latest", out);
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", link, (int)getpid());
    unlink(tmp);
    if (symlink(strrchr(sw->dir, '/') + 1, tmp) == 0 && rename(tmp, link) < 0)
        unlink(tmp);
    snprintf(sub, sizeof(sub), "%s/runs.csv", sw->dir);
    if (append_atomic(sub, runs_header) < 0) {
        fprintf(stderr, "overlap bench: cannot write %s\n", sub);
        return -1;
    }
    return 0;
}

static void copy_inputs(struct sweep *sw)
{
    char to[PATH_MAX + 32];
    snprintf(to, sizeof(to), "%s/workload.ini", sw->dir);
    copy_file(sw->suite.workload, to);
    if (sw->suite_path) {
        snprintf(to, sizeof(to), "%s/suite.ini", sw->dir);
        copy_file(sw->suite_path, to);
    }
    if (sw->wl->init_path) {
        const char *base = strrchr(sw->wl->init_path, '/');
        snprintf(to, sizeof(to), "%s/%s", sw->dir, base ? base + 1 : sw->wl->init_path);
        copy_file(sw->wl->init_path, to);
    }
}

/* ---- the summary ---- */

/* p99 of the open-loop load at `target` req/s: interpolated between the two
 * runs whose throughput brackets it, else the nearest run's within 20 % of
 * it; NAN when there is none. */
static double p99_at(const struct sweep *sw, int e, double target)
{
    int below = -1, above = -1, nearest = -1;
    for (int i = 0; i < sw->nruns; i++) {
        const struct run_result *q = &sw->result[i];
        if (sw->runs[i].engine != e || sw->runs[i].kind != RUN_OPEN || !q->ok)
            continue;
        if (q->throughput <= target && (below < 0 || q->throughput > sw->result[below].throughput))
            below = i;
        if (q->throughput >= target && (above < 0 || q->throughput < sw->result[above].throughput))
            above = i;
        if (nearest < 0 ||
            fabs(q->throughput - target) < fabs(sw->result[nearest].throughput - target))
            nearest = i;
    }
    if (below < 0 || above < 0)
        return nearest >= 0 && fabs(sw->result[nearest].throughput - target) <= 0.2 * target
                   ? sw->result[nearest].p99_ms
                   : NAN;
    double x0 = sw->result[below].throughput, x1 = sw->result[above].throughput;
    double y0 = sw->result[below].p99_ms, y1 = sw->result[above].p99_ms;
    return x1 > x0 ? y0 + (y1 - y0) * (target - x0) / (x1 - x0) : y0;
}

static void print_ms(double ms)
{
    if (isnan(ms))
        printf(" %12s", "-");
    else
        printf(" %12.1f", ms);
}

static void print_summary(const struct sweep *sw)
{
    printf("\n%-32s %10s %10s %6s %12s %12s %10s %8s\n", "engine", "peak req/s", "ceiling", "eff",
           "p99@50% ms", "p99@90% ms", "peak RSS", "threads");
    for (int e = 0; e < sw->suite.nengines; e++) {
        double peak = 0, peak_eff = 0, bound = config_bound(sw, &sw->suite.engines[e], 0);
        long rss = 0, threads = 0;
        int ok = 0;
        for (int i = 0; i < sw->nruns; i++) {
            const struct run_result *q = &sw->result[i];
            if (sw->runs[i].engine != e || !q->ok || sw->runs[i].kind == RUN_TIMELINE)
                continue;
            ok++;
            if (q->throughput > peak) {
                peak = q->throughput;
                peak_eff = q->efficiency;
            }
            rss = q->rss_kib > rss ? q->rss_kib : rss;
            threads = q->threads > threads ? q->threads : threads;
        }
        printf("%-32s", sw->suite.engines[e].spec);
        if (!ok) {
            printf(" %10s %10.1f   (no finished run)\n", "-", bound);
            continue;
        }
        printf(" %10.1f %10.1f %6.2f", peak, bound, peak_eff);
        print_ms(p99_at(sw, e, 0.5 * peak));
        print_ms(p99_at(sw, e, 0.9 * peak));
        printf(" %6.1f MiB %8ld\n", rss / 1024.0, threads);
    }
    printf("\n%d runs, %d failed: %s\n", sw->done, sw->failed, sw->dir);
}

/* ---- the command ---- */

static const char bench_usage[] =
    "usage: overlap bench [flags]\n"
    "  --suite FILE            a suite file (default harness/suites/default.ini)\n"
    "  --quick                 the quick suite (harness/suites/quick.ini)\n"
    "  --workload FILE         the workload, overriding the suite's\n"
    "  --engines LIST          engine configs separated by spaces, e.g.\n"
    "                          'pool:workers=64 pool:workers=0,mode=connection async:loops=1'\n"
    "  --clients LIST|none     closed-loop client counts, e.g. 1,8,64\n"
    "  --rates LIST|auto|none  open-loop rates in req/s, or auto (fractions of each bound)\n"
    "  --auto-fractions LIST   the fractions auto uses (default 0.1,0.5,0.8,1.0,1.2)\n"
    "  --duration D            measured time per run (e.g. 2s)\n"
    "  --warmup D              unmeasured time before it (e.g. 500ms)\n"
    "  --timeline K            requests in the timeline scenario (0: none)\n"
    "  --out DIR               where result folders go (default results)\n"
    "  --server-cpus LIST      CPUs for the server (default 0 on 2+ cores)\n"
    "  --load-cpus LIST        CPUs for the load generator and database (default 1)\n"
    "  --load-threads N        the load generator's threads (default 1)\n";

static int bench_usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "overlap bench: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n%s", bench_usage);
    return 2;
}

/* The suite to start from: --suite, --quick, or the default, looked up here
 * and then in the source tree (so a build folder can run it too). */
static const char *pick_suite(int argc, char **argv, char *buf, size_t len)
{
    const char *name = "default.ini";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            name = "quick.ini";
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            return argv[i + 1];
    }
    snprintf(buf, len, "harness/suites/%s", name);
    if (access(buf, R_OK) < 0)
        snprintf(buf, len, "%s/harness/suites/%s", OVERLAP_SOURCE_DIR, name);
    return buf;
}

static int parse_flags(struct sweep *sw, int argc, char **argv, const char **out)
{
    static const struct {
        const char *flag, *key;
    } map[] = {{"--workload", "workload"},
               {"--engines", "engines"},
               {"--clients", "clients"},
               {"--rates", "rates"},
               {"--auto-fractions", "auto_fractions"},
               {"--duration", "duration"},
               {"--warmup", "warmup"},
               {"--timeline", "timeline"},
               {"--server-cpus", "server_cpus"},
               {"--load-cpus", "load_cpus"},
               {"--load-threads", "load_threads"}};
    char err[BENCH_ERR_LEN];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(bench_usage, stdout);
            return 0;
        }
        size_t k = 0;
        while (k < sizeof(map) / sizeof(map[0]) && strcmp(map[k].flag, argv[i]) != 0)
            k++;
        if (k == sizeof(map) / sizeof(map[0]) && strcmp(argv[i], "--suite") != 0 &&
            strcmp(argv[i], "--out") != 0)
            return bench_usage_error("unknown flag '%s'", argv[i]);
        if (i + 1 >= argc)
            return bench_usage_error("flag '%s' needs a value", argv[i]);
        const char *flag = argv[i], *value = argv[++i];
        if (!strcmp(flag, "--suite"))
            continue;
        if (!strcmp(flag, "--out")) {
            *out = value;
            continue;
        }
        if (bench_suite_set(&sw->suite, map[k].key, value, err, sizeof(err)) < 0)
            return bench_usage_error("%s", err);
    }
    return -1;
}

static int prepare(struct sweep *sw, int argc, char **argv, const char **out)
{
    char err[WL_ERR_LEN > BENCH_ERR_LEN ? WL_ERR_LEN : BENCH_ERR_LEN];
    bench_suite_defaults(&sw->suite);
    sw->suite_path = pick_suite(argc, argv, sw->suite_buf, sizeof(sw->suite_buf));
    if (bench_suite_load(sw->suite_path, &sw->suite, err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap bench: %s\n", err);
        return 2;
    }
    int status = parse_flags(sw, argc, argv, out);
    if (status >= 0)
        return status;
    struct bench_suite *s = &sw->suite;
    if (!s->workload[0])
        return bench_usage_error("%s", "no workload (expected --workload FILE or a suite's)");
    if (s->auto_rates && s->nfractions == 0) {
        static const double fractions[] = {0.1, 0.5, 0.8, 1.0, 1.2};
        s->nfractions = 5;
        memcpy(s->fractions, fractions, sizeof(fractions));
    }
    int nrates = s->auto_rates ? s->nfractions : s->nrates;
    if (s->nengines == 0 || (s->nclients == 0 && nrates == 0 && s->timeline == 0))
        return bench_usage_error("%s", "nothing to run: give engines, and clients, rates or a "
                                       "timeline");
    sw->ncores =
        s->server_cpus[0] ? proc_count_cpus(s->server_cpus) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (wl_load(s->workload, &sw->wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", sw->self, sizeof(sw->self) - 1);
    if (n <= 0) {
        fprintf(stderr, "overlap bench: cannot find its own binary\n");
        return 1;
    }
    sw->self[n] = '\0';
    return -1;
}

/* A private folder for the database's socket: nobody else can connect. */
static int make_sockdir(struct sweep *sw)
{
    const char *base = getenv("TMPDIR");
    snprintf(sw->sockdir, sizeof(sw->sockdir), "%s/overlap-bench-XXXXXX",
             base && base[0] ? base : "/tmp");
    if (!mkdtemp(sw->sockdir)) {
        fprintf(stderr, "overlap bench: cannot create a private folder in %s: %s\n",
                base && base[0] ? base : "/tmp", strerror(errno));
        sw->sockdir[0] = '\0';
        return -1;
    }
    return 0;
}

static void remove_sockdir(struct sweep *sw)
{
    if (sw->sockdir[0] && rmdir(sw->sockdir) < 0)
        fprintf(stderr, "overlap bench: cannot remove %s: %s\n", sw->sockdir, strerror(errno));
}

static void sweep(struct sweep *sw)
{
    sw->started = proc_now_ns() / 1e9;
    for (int i = 0; i < sw->nruns && !interrupted; i++) {
        int e = sw->runs[i].engine;
        if (sw->never_started[e][0]) {
            snprintf(sw->server_down, sizeof(sw->server_down), "%s", sw->never_started[e]);
        } else {
            start_config(sw, e, i + 1);
            if (sw->server_down[0] && !interrupted)
                snprintf(sw->never_started[e], sizeof(sw->never_started[e]), "%s", sw->server_down);
        }
        run_point(sw, &sw->runs[i], i + 1);
        stop_config(sw);
    }
    if (sw->live && interrupted)
        fprintf(stderr, "\r\033[K");
}

int bench_main(int argc, char **argv)
{
    static struct sweep sw; /* large: kept off the stack */
    const char *out = "results";
    memset(&sw, 0, sizeof(sw));
    int status = prepare(&sw, argc, argv, &out);
    if (status >= 0)
        goto done;
    plan(&sw);
    status = 1;
    if (make_sockdir(&sw) < 0 || make_dir(&sw, out) < 0)
        goto done;
    if (write_meta(&sw, argc, argv) < 0)
        fprintf(stderr, "overlap bench: cannot write %s/meta.txt\n", sw.dir);
    copy_inputs(&sw);
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sw.live = isatty(2);
    /* sampling stays off the server's CPUs, and the children it starts inherit these */
    if (sw.suite.load_cpus[0] && proc_pin_cpus(sw.suite.load_cpus) < 0)
        fprintf(stderr,
                "overlap bench: cannot pin to CPUs %s: the database and load generator "
                "run unpinned\n",
                sw.suite.load_cpus);
    fprintf(stderr, "overlap bench: %d runs of %s on %s into %s\n", sw.nruns, sw.suite.name,
            sw.wl->name, sw.dir);
    sweep(&sw);
    if (interrupted) {
        fprintf(stderr, "overlap bench: interrupted; %d finished runs kept in %s\n", sw.done,
                sw.dir);
        status = 130;
        goto done;
    }
    print_summary(&sw);
    status = sw.failed == sw.done ? 1 : 0;
done:
    remove_sockdir(&sw);
    wl_free(sw.wl);
    return status;
}
