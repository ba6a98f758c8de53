/* One run of `overlap bench`: the load generator for the point, the server
 * (and the generator's CPU) sampled from /proc while it runs, the run's
 * checks, and its row; the config's processes are bench_config.c's. The
 * sweep pins itself to the load CPUs before it starts anything, so the load
 * generator inherits them. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "proc.h"

#define SAMPLE_EVERY_MS 50   /* /proc sampling: 20 Hz is cheap and catches peaks */
#define LIVE_EVERY_S    0.25 /* the live progress line's refresh on a terminal */
/* --intervals: about ten a window, so a trend has degrees of freedom to be
 * judged by, but none under 100 ms, where a low rate leaves a handful of
 * requests in each and the noise drowns the trend */
#define INTERVALS_PER_WINDOW 10
#define INTERVAL_MIN_MS      100.0

/* The load generator's timing flags. A timeline sends K requests at equal
 * gaps, each on its own connection, and closes its window half a gap after
 * the last is due. Otherwise a request queued behind the whole window is
 * slow, not lost: only one unanswered past the window (and a second) counts
 * as an error. */
static void load_timing(const struct bench__sweep *sw, const struct bench__run *r, double window_s,
                        struct bench__args *a)
{
    const struct bench__plan *p = &sw->plan;
    double window_ms = window_s * 1e3, warmup_ms = bench__warmup_s(p, r) * 1e3;
    if (r->kind == BENCH__TIMELINE) {
        double rate = bench__timeline_rate(p);
        bench__flag(a, "--rate", "%.3f", rate);
        bench__flag(a, "--arrival", "uniform");
        bench__flag(a, "--duration", "%.3fms", (r->clients - 0.5) / rate * 1e3);
        bench__flag(a, "--warmup", "0ms");
        bench__flag(a, "--timeout", "%.0fms", bench__service_s(p) * 1e3 * (r->clients + 2) + 1000);
        bench__flag(a, "--timeline-max", "%d", r->clients);
        return;
    }
    if (bench__offers_rate(r->kind))
        bench__flag(a, "--rate", "%.3f", r->rate);
    bench__flag(a, "--duration", "%.0fms", window_ms);
    bench__flag(a, "--warmup", "%.0fms", warmup_ms);
    /* A probe's request unanswered at five times the goal has missed it
     * whatever comes next: counted lost there (sent, and not within the
     * goal), an overloaded probe stops waiting for its backlog instead of
     * draining it for seconds. */
    double timeout_ms =
        bench__judged(r->kind) ? fmax(5 * sw->suite.slo.ms, 500) : window_ms + warmup_ms + 1000;
    bench__flag(a, "--timeout", "%.0fms", timeout_ms);
    /* the answers within the goal: what a probe's verdict is drawn from */
    if (sw->suite.has_slo)
        bench__flag(a, "--goal", "%.0fns", sw->suite.slo.ms * 1e6);
}

/* The connections a run opens: its clients, or the open loop's share. */
static int run_clients(const struct bench__sweep *sw, const struct bench__run *r)
{
    return bench__offers_rate(r->kind) ? bench__open_clients(&sw->plan, r->rate) : r->clients;
}

/* The interval of the generator's --intervals, about a tenth of the window,
 * when it takes --interval; else 0 (its own default). */
static double interval_ms(const struct bench__sweep *sw, double window_s)
{
    double ms = window_s * 1e3 / INTERVALS_PER_WINDOW;
    return sw->intervals == 2 ? fmax(ms, INTERVAL_MIN_MS) : 0;
}

void bench__load_args(const struct bench__sweep *sw, int id, double window_s, int clients,
                      const char *workload, struct bench__args *a)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    bench__args_init(a);
    bench__arg(a, sw->self);
    bench__arg(a, "load");
    bench__flag(a, "--target", "%s", sw->server_addr);
    bench__flag(a, "--workload", "%s", workload);
    bench__flag(a, "--clients", "%d", clients);
    load_timing(sw, r, window_s, a);
    bench__flag(a, "--threads", "%d", sw->suite.load_threads > 0 ? sw->suite.load_threads : 1);
    bench__flag(a, "--seed", "%d", id);
    if (interval_ms(sw, window_s) > 0 && r->kind != BENCH__TIMELINE)
        bench__flag(a, "--interval", "%.0fms", interval_ms(sw, window_s));
}

/* The generator's command line when it runs here: the flags, then its
 * files. Per-interval throughput for the `unsteady` check, when it writes
 * it (a timeline is too short to have a trend); each request type's
 * latency apart, small, so every run keeps it. */
static void load_args(const struct bench__sweep *sw, int id, double window_s, struct bench__args *a)
{
    static const char *const outputs[] = {"--csv", "--latency-csv", "--timeline", "--intervals",
                                          "--by-request"};
    static const char *const names[] = {"load.csv", "latency.csv", "timeline.csv", "intervals.csv",
                                        "requests.csv"};
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char path[PATH_MAX + 32];
    bench__load_args(sw, id, window_s, run_clients(sw, r), sw->suite.workload, a);
    for (int i = 0; i < 5; i++) {
        if ((i == 2 && r->kind != BENCH__TIMELINE) ||
            (i == 3 && (!sw->intervals || r->kind == BENCH__TIMELINE)))
            continue;
        bench__run_path(sw, "runs", id, names[i], path, sizeof(path));
        bench__flag(a, outputs[i], "%s", path);
    }
}

/* What watch follows of the server and the load generator: the window,
 * and its two ends. */
struct window {
    double warmup_s, length_s; /* the window opens after warmup_s, for length_s */
    int state;                 /* 0 before the window, 1 in it, 2 after it */
    uint64_t t_first, t_last;
    struct bench_proc first, last;
    long vol0, invol0, vol1, invol1;
    double load_first, load_last; /* the generator's CPU seconds; NAN until read */
    bool tree;                    /* the server's whole process tree (an external engine) */
};

/* The load generator's CPU at this sample: the window's first reading, or
 * its latest. A generator that has just ended keeps its last reading. */
static void sample_load(const struct bench__child *load, struct window *w, int first)
{
    double user, sys;
    if (load->pid <= 0 || bench_sample_cpu(load->pid, &user, &sys) < 0)
        return;
    if (first)
        w->load_first = user + sys;
    w->load_last = user + sys;
}

/* Takes one sample of the server, t_s into the run (at now); peaks go into o. */
static void sample(struct bench__sweep *sw, const struct bench__child *load, struct window *w,
                   uint64_t now, double t_s, int ended, struct bench__outcome *o)
{
    struct bench_proc p;
    pid_t pid = sw->server.pid;
    int (*sample_proc)(pid_t, struct bench_proc *) =
        w->tree ? bench_sample_tree : bench_sample_proc;
    int (*switches)(pid_t, long *, long *) =
        w->tree ? bench_count_switches_tree : bench_count_switches;
    if (w->state == 2 || t_s < w->warmup_s || pid <= 0 || sample_proc(pid, &p) < 0)
        return;
    if (w->state == 0 && switches(pid, &w->vol0, &w->invol0) == 0) {
        w->first = w->last = p;
        w->t_first = w->t_last = now;
        w->state = 1;
        sample_load(load, w, 1);
        bench__pg_window_open(sw);
    } else if (w->state == 1) {
        w->last = p;
        w->t_last = now;
        sample_load(load, w, 0);
        if ((ended || t_s >= w->warmup_s + w->length_s) &&
            switches(pid, &w->vol1, &w->invol1) == 0) {
            w->state = 2;
            /* the sampler reaches the window's end late on a busy machine:
             * the load sent nothing after it */
            bench__pg_window_close(sw, o, fmax(0, t_s - (w->warmup_s + w->length_s)));
        }
    }
    o->peak_rss_kib = p.rss_kib > o->peak_rss_kib ? p.rss_kib : o->peak_rss_kib;
    o->threads = p.threads > o->threads ? p.threads : o->threads;
    o->fds = p.fds > o->fds ? p.fds : o->fds;
}

/* Whether every one of the n generators has ended (reaping those that did). */
static int all_ended(struct bench__child *load, int n)
{
    int ended = 0;
    for (int i = 0; i < n; i++)
        ended += bench__child_ended(&load[i], "load generator", NULL, 0);
    return ended == n;
}

/* Samples the server while the load runs: CPU time and context switches
 * over the measured window, peaks of RSS, threads and descriptors at 20 Hz
 * within it, and the load generator's CPU time over the same window.
 * Switches are summed over the threads at the window's two ends only:
 * reading every thread's status 20 times a second would cost more than the
 * measurement is worth, and the end is taken before the load generator
 * closes its connections, when a thread-per-connection server's threads
 * (and their counters) go away. */
void bench__watch_load(struct bench__sweep *sw, int id, struct bench__child *load, int nload,
                       double warmup_s, double window_s, double limit_s, struct bench__outcome *o)
{
    struct window w = {.warmup_s = warmup_s,
                       .length_s = window_s,
                       .load_first = NAN,
                       .load_last = NAN,
                       .tree = sw->suite.engines[sw->plan.runs[id - 1].engine].kind == BENCH_EXT};
    struct pollfd stop = {.fd = proc_stop_fd(), .events = POLLIN};
    /* agents' CPU is on their hosts: the merge reads it from their logs */
    static const struct bench__child none = {0};
    const struct bench__child *local = nload == 1 && !sw->suite.nhosts ? load : &none;
    uint64_t start = proc_now_ns();
    double shown = -LIVE_EVERY_S;
    while (!proc_stopping()) {
        int ended = all_ended(load, nload);
        bench__child_drain(&sw->server);
        uint64_t now = proc_now_ns();
        double t = (now - start) / 1e9;
        sample(sw, local, &w, now, t, ended, o);
        if (ended)
            break;
        if (t > limit_s) {
            for (int i = 0; i < nload; i++)
                bench__child_stop(&load[i]);
            snprintf(o->reason, sizeof(o->reason), "load generator overran by %.0f s",
                     BENCH__LOAD_GRACE_S);
            break;
        }
        if (t - shown >= LIVE_EVERY_S) {
            bench__live_line(sw, id, t);
            shown = t;
        }
        poll(&stop, 1, SAMPLE_EVERY_MS); /* a sleep an interruption cuts short */
    }
    o->window_s = (w.t_last - w.t_first) / 1e9;
    o->cpu_user_s = w.last.utime_s - w.first.utime_s;
    o->cpu_sys_s = w.last.stime_s - w.first.stime_s;
    o->vol_ctxsw = w.state == 2 && w.vol1 > w.vol0 ? w.vol1 - w.vol0 : 0;
    o->invol_ctxsw = w.state == 2 && w.invol1 > w.invol0 ? w.invol1 - w.invol0 : 0;
    o->load_cpu_s = w.load_last - w.load_first;
}

/* Runs the load generator here for run id over a window of window_s and
 * measures the server meanwhile; 0, or -1 with o->reason when it cannot
 * start. */
static int run_local(struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    struct bench__args a;
    char log[PATH_MAX + 32];
    struct bench__child load = {0};
    double warmup = bench__warmup_s(&sw->plan, r), limit = window_s + warmup + BENCH__LOAD_GRACE_S;
    load_args(sw, id, window_s, &a);
    bench__run_path(sw, "logs", id, "load.log", log, sizeof(log));
    char **argv = bench__args_argv(&a);
    int err = argv ? bench__child_start(&load, argv, log, false) : -E2BIG;
    if (err < 0) {
        snprintf(o->reason, sizeof(o->reason), "cannot start the load generator: %s",
                 strerror(-err));
        return -1;
    }
    if (r->kind == BENCH__TIMELINE)
        bench__watch_load(sw, id, &load, 1, 0, limit, limit, o);
    else
        bench__watch_load(sw, id, &load, 1, warmup, window_s, limit, o);
    bench__child_stop(&load); /* interrupted: it goes too */
    return 0;
}

/* Runs the load for run id over a window of window_s, here or from the
 * suite's load hosts, and measures the server meanwhile; 0, or -1 with
 * o->reason. */
static int measure(struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o)
{
    char log[PATH_MAX + 32], csv[PATH_MAX + 32], line[256];
    int rc = bench__by_agents(sw, &sw->plan.runs[id - 1]) ? bench__agents_run(sw, id, window_s, o)
                                                          : run_local(sw, id, window_s, o);
    if (rc < 0 || proc_stopping())
        return -1;
    if (!bench__config_alive(sw)) {
        snprintf(o->reason, sizeof(o->reason), "%s", sw->server_down);
        return -1;
    }
    bench__run_path(sw, "runs", id, "load.csv", csv, sizeof(csv));
    bench__run_path(sw, "logs", id, "load.log", log, sizeof(log));
    if (!o->reason[0] && bench__read_load(csv, o) < 0) {
        bench__last_line(log, line, sizeof(line));
        snprintf(o->reason, sizeof(o->reason), "load generator wrote no result: %s", line);
    }
    bench__pg_window_span(o);
    return o->reason[0] ? -1 : 0;
}

/* The checks of a run measured over window_s: the generator's figures, its
 * CPU per thread over the sampled window, and the trend of its intervals. */
static void assess(const struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char path[PATH_MAX + 32];
    int threads = sw->suite.load_threads > 0 ? sw->suite.load_threads : 1;
    if (threads > run_clients(sw, r))
        threads = run_clients(sw, r); /* the generator's own cap */
    bench__run_path(sw, "runs", id, "intervals.csv", path, sizeof(path));
    o->checks = (struct bench__checks){
        .kind = r->kind,
        .clients = r->clients,
        .errors = o->load[BENCH__ERRORS][0] ? atof(o->load[BENCH__ERRORS]) : NAN,
        .throughput_rps = o->throughput,
        .mean_ms = o->load[BENCH__MEAN][0] ? atof(o->load[BENCH__MEAN]) : NAN,
        .window_s = o->load_window_s,
        .load_cpu_util = o->window_s > 0 ? o->load_cpu_s / threads / o->window_s : NAN,
        .connections = o->connections,
        .clients_answered = o->clients_answered,
        .requests = o->load[BENCH__REQUESTS][0] ? atof(o->load[BENCH__REQUESTS]) : NAN,
        .percentile = bench__judged(r->kind) ? sw->suite.slo.percentile : 99,
        .trend = r->kind == BENCH__TIMELINE ? (struct bench__trend){0, 0, NAN}
                                            : bench__read_trend(path, window_s),
        .db_connections = sw->pg ? sw->suite.engines[r->engine].db_budget : 0,
        .db_backends = o->db_backends,
        .db_calls = o->db_calls,
        .db_window_s = isnan(o->db_window_s) ? o->window_s : o->db_window_s,
        .db_outside_s = o->db_outside_s,
        .achieved_rps = o->load[BENCH__ACHIEVED][0] ? atof(o->load[BENCH__ACHIEVED]) : NAN,
        .db_queries = sw->pg ? bench__pg_queries(sw, id) : NAN,
    };
    /* an agent at its own limit, as the merge found from its log */
    o->flags = bench__check(&o->checks) | (o->agents_bound ? BENCH__FLAG_GENERATOR_BOUND : 0);
}

/* A closed loop's window in which no request was answered and none failed
 * measured nothing: its server, or the machine, stalled through all of it
 * (a closed loop counts no answer past its window; an open one waits for
 * its late answers, and counts those that never come as errors). Its zero
 * throughput and empty spectrum are no figures of the server's, so the run
 * is not ok. */
static int stalled(const struct bench__outcome *o)
{
    return o->checks.kind == BENCH__CLOSED && o->load[BENCH__REQUESTS][0] &&
           atof(o->load[BENCH__REQUESTS]) == 0 && o->load[BENCH__ERRORS][0] &&
           atof(o->load[BENCH__ERRORS]) == 0;
}

/* Measures run id once over window_s into o, fresh. */
static void attempt(struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o)
{
    *o = (struct bench__outcome){.status = "ok",
                                 .load_window_s = NAN,
                                 .connections = NAN,
                                 .clients_answered = NAN,
                                 .workload_cpu_us = NAN,
                                 .load_cpu_s = NAN,
                                 .db_backends = NAN,
                                 .db_calls = NAN,
                                 .db_window_s = NAN,
                                 .db_outside_s = 0,
                                 .db_reset_epoch_s = NAN,
                                 .db_read_epoch_s = NAN,
                                 .load_epoch_s = NAN,
                                 .load_warmup_s = NAN,
                                 .attempts = 1};
    if (!bench__config_alive(sw))
        snprintf(o->reason, sizeof(o->reason), "%s", sw->server_down);
    else if (measure(sw, id, window_s, o) == 0)
        assess(sw, id, window_s, o);
    if (!o->reason[0] && stalled(o)) {
        o->stalled = 1;
        snprintf(o->reason, sizeof(o->reason),
                 "no request was answered or failed in the %.1f s window: the server or the "
                 "machine stalled through it",
                 o->load_window_s);
    }
    if (o->reason[0])
        snprintf(o->status, sizeof(o->status), "failed");
}

/* Whether a capacity probe's run already misses the goal: one of the
 * generator's percentiles at or below the goal's is over it. A longer
 * window only grows an overload's latency, so measuring such a run again
 * would change no answer of the search, only its length. */
static int probe_missed(const struct bench__sweep *sw, const struct bench__run *r,
                        const struct bench__outcome *o)
{
    static const struct {
        double q;
        enum bench__load_field field;
    } own[] = {{50, BENCH__P50}, {90, BENCH__P90}, {99, BENCH__P99}, {99.9, BENCH__P999}};
    if (!bench__judged(r->kind))
        return 0;
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (own[i].q <= sw->suite.slo.percentile + 1e-9 && o->load[own[i].field][0] &&
            atof(o->load[own[i].field]) > sw->suite.slo.ms)
            return 1;
    return 0;
}

/* The window to measure a run again over, or 0: a stalled run's own, once
 * (on a shared machine a stall passes), or an ok run's longer one (see
 * bench__rerun_window_s). */
static double again_window(const struct bench__sweep *sw, const struct bench__run *r,
                           double window_s, const struct bench__outcome *o)
{
    if (o->stalled)
        return window_s;
    if (strcmp(o->status, "ok") != 0 || probe_missed(sw, r, o))
        return 0;
    return bench__rerun_window_s(&sw->plan, r, window_s, o->flags & BENCH__FLAG_UNSTEADY,
                                 o->flags & BENCH__FLAG_SHORT_WINDOW, o->checks.mean_ms);
}

/* The finished run's row, merged files, result and progress line. */
static void record(struct bench__sweep *sw, int id, struct bench__outcome *o)
{
    bench__write_row(sw, id, o);
    int ok = !strcmp(o->status, "ok");
    if (ok)
        bench__merge_run(sw, id);
    else
        sw->failed++;
    sw->result[id - 1] = (struct bench__result){
        .ok = ok,
        .rss_kib = o->peak_rss_kib,
        .threads = o->threads,
    };
    sw->again += o->attempts > 1;
    sw->flagged += o->flags != 0;
    sw->done++;
    sw->cost_done_s += bench__run_cost_s(&sw->plan, &sw->plan.runs[id - 1]);
    bench__progress(sw, id, o);
}

void bench__run_point(struct bench__sweep *sw, int id)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    struct bench__outcome o;
    double window = bench__window_s(&sw->plan, r);
    attempt(sw, id, window, &o);
    double longer = proc_stopping() ? 0 : again_window(sw, r, window, &o);
    if (longer > 0) {
        bench__progress_again(sw, id, &o, longer);
        bench__stop_config(sw);
        bench__start_config(sw, id);
        attempt(sw, id, longer, &o);
        o.attempts = 2;
    }
    if (proc_stopping())
        return; /* an interrupted run is not a finished one: no row */
    record(sw, id, &o);
}
