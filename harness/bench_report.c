/* What `overlap bench` tells the user as it goes: a line per finished run on
 * stderr (with a live line rewritten in place on a terminal) and the ETA,
 * then the summary table on stdout. Reads the sweep; writes no file. */
#include "bench_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

static void point_name(const struct bench__run *r, char *out, size_t len)
{
    if (r->kind == BENCH__OPEN)
        snprintf(out, len, "open r=%.0f", r->rate);
    else
        snprintf(out, len, "%s c=%d", bench__kind_name(r->kind), r->clients);
}

static void format_eta(double s, char *out, size_t len)
{
    if (s >= 60)
        snprintf(out, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, len, "%ds", (int)s);
}

/* Seconds the rest of the sweep should take, from the runs done so far. */
static double eta_s(const struct bench__sweep *sw, int running)
{
    double per_run = sw->done ? (proc_now_ns() - sw->started_ns) / 1e9 / sw->done
                              : (sw->suite.duration_ns + sw->suite.warmup_ns) / 1e9 + 0.5;
    return per_run * (sw->plan.nruns - sw->done - running);
}

void bench__live_line(const struct bench__sweep *sw, int id, double elapsed_s)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char point[48], eta[32];
    if (!sw->live)
        return;
    point_name(r, point, sizeof(point));
    double this_run = sw->suite.duration_ns / 1e9 + bench__warmup_s(&sw->plan, r) - elapsed_s;
    format_eta(eta_s(sw, 1) + (this_run > 0 ? this_run : 0), eta, sizeof(eta));
    fprintf(stderr, "\r\033[K[%d/%d] %s %s  running %.1f s  ETA %s", id, sw->plan.nruns,
            sw->suite.engines[r->engine].spec, point, elapsed_s, eta);
}

void bench__progress(const struct bench__sweep *sw, int id, const struct bench__outcome *o)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    int n = sw->plan.nruns;
    char point[48], eta[32];
    point_name(r, point, sizeof(point));
    format_eta(eta_s(sw, 0), eta, sizeof(eta));
    if (sw->live)
        fprintf(stderr, "\r\033[K");
    if (strcmp(o->status, "ok") != 0) {
        fprintf(stderr, "[%d/%d] %s %s  failed: %s  ETA %s\n", id, n, e->spec, point, o->reason,
                eta);
        return;
    }
    if (r->kind == BENCH__TIMELINE) {
        fprintf(stderr, "[%d/%d] %s %s  %s answered  slowest %.1f ms  ETA %s\n", id, n, e->spec,
                point, o->load[BENCH__REQUESTS], atof(o->load[BENCH__MAX]), eta);
        return;
    }
    double bound = bench__run_bound(&sw->plan, r);
    fprintf(stderr, "[%d/%d] %s %s  %.3gk req/s  p99 %.1f ms  eff %.2f  ETA %s\n", id, n, e->spec,
            point, o->throughput / 1e3, o->p99_ms, bound > 0 ? o->throughput / bound : 0, eta);
}

/* ---- the summary ---- */

/* p99 of config e's open-loop load at `target` req/s: interpolated between
 * the two runs whose throughput brackets it, else the nearest run's within
 * 20 % of it; NAN when there is none. */
static double p99_at(const struct bench__sweep *sw, int e, double target)
{
    const struct bench__result *q = sw->result;
    int below = -1, above = -1, nearest = -1;
    for (int i = 0; i < sw->plan.nruns; i++) {
        const struct bench__run *r = &sw->plan.runs[i];
        if (r->engine != e || r->kind != BENCH__OPEN || !q[i].ok)
            continue;
        if (q[i].throughput <= target && (below < 0 || q[i].throughput > q[below].throughput))
            below = i;
        if (q[i].throughput >= target && (above < 0 || q[i].throughput < q[above].throughput))
            above = i;
        if (nearest < 0 || fabs(q[i].throughput - target) < fabs(q[nearest].throughput - target))
            nearest = i;
    }
    if (below < 0 || above < 0)
        return nearest >= 0 && fabs(q[nearest].throughput - target) <= 0.2 * target
                   ? q[nearest].p99_ms
                   : NAN;
    double x0 = q[below].throughput, x1 = q[above].throughput;
    double y0 = q[below].p99_ms, y1 = q[above].p99_ms;
    return x1 > x0 ? y0 + (y1 - y0) * (target - x0) / (x1 - x0) : y0;
}

static void print_ms(double ms)
{
    if (isnan(ms))
        printf(" %12s", "-");
    else
        printf(" %12.1f", ms);
}

/* One config's line: its best finished run (timelines aside), the p99s at
 * half and nine tenths of that peak, and its largest memory and threads. */
static void print_config(const struct bench__sweep *sw, int e)
{
    double peak = 0, peak_eff = 0;
    double bound = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
    long rss = 0, threads = 0;
    int ok = 0;
    for (int i = 0; i < sw->plan.nruns; i++) {
        const struct bench__result *q = &sw->result[i];
        if (sw->plan.runs[i].engine != e || !q->ok || sw->plan.runs[i].kind == BENCH__TIMELINE)
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
        return;
    }
    printf(" %10.1f %10.1f %6.2f", peak, bound, peak_eff);
    print_ms(p99_at(sw, e, 0.5 * peak));
    print_ms(p99_at(sw, e, 0.9 * peak));
    printf(" %6.1f MiB %8ld\n", rss / 1024.0, threads);
}

void bench__print_summary(const struct bench__sweep *sw)
{
    printf("\n%-32s %10s %10s %6s %12s %12s %10s %8s\n", "engine", "peak req/s", "ceiling", "eff",
           "p99@50% ms", "p99@90% ms", "peak RSS", "threads");
    for (int e = 0; e < sw->suite.nengines; e++)
        print_config(sw, e);
    printf("\n%d runs, %d failed: %s\n", sw->done, sw->failed, sw->dir);
}
