/* What `overlap bench` tells the user as it goes: a line per finished run on
 * stderr (with a live line rewritten in place on a terminal), its flags and
 * the ETA. Reads the sweep; writes no file. The table at the end is
 * bench_table.c's. */
#include "bench_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

/* The point and, when points repeat, which repeat: `open r=182 #2/3`; a
 * probe's runs are numbered alone (`map r=500 #3`: an undecided probe's
 * second round goes past the repeats). */
static void point_name(const struct bench__sweep *sw, const struct bench__run *r, char *out,
                       size_t len)
{
    int n = bench__offers_rate(r->kind)
                ? snprintf(out, len, "%s r=%.0f", bench__loop_name(r->kind), r->rate)
                : snprintf(out, len, "%s c=%d", bench__loop_name(r->kind), r->clients);
    if (n <= 0 || (size_t)n >= len || r->kind == BENCH__TIMELINE)
        return;
    if (bench__judged(r->kind) && (r->repeat > 1 || sw->suite.repeats > 1))
        snprintf(out + n, len - n, " #%d", r->repeat);
    else if (sw->suite.repeats > 1 && !bench__judged(r->kind))
        snprintf(out + n, len - n, " #%d/%d", r->repeat, sw->suite.repeats);
}

static void format_eta(double s, char *out, size_t len)
{
    if (s >= 60)
        snprintf(out, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, len, "%ds", (int)s);
}

/* Seconds the rest of the sweep should take after run id: the planned cost
 * of the runs left that are this sweep's (a shard's own; a run at 1,024
 * clients warms up far longer than one at 1), scaled by how the runs done
 * so far compared with their plan. */
static double eta_s(const struct bench__sweep *sw, int id)
{
    double left = 0;
    for (int i = id; i < sw->plan.nruns; i++)
        if (bench__in_shard(sw, i + 1))
            left += bench__run_cost_s(&sw->plan, &sw->plan.runs[i]);
    double scale = sw->done && sw->cost_done_s > 0
                       ? (proc_now_ns() - sw->started_ns) / 1e9 / sw->cost_done_s
                       : 1;
    return left * scale;
}

void bench__live_line(const struct bench__sweep *sw, int id, double elapsed_s)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char point[64], eta[32];
    if (!sw->live)
        return;
    point_name(sw, r, point, sizeof(point));
    double this_run = bench__run_cost_s(&sw->plan, r) - elapsed_s;
    format_eta(eta_s(sw, id) + (this_run > 0 ? this_run : 0), eta, sizeof(eta));
    fprintf(stderr, "\r\033[K[%d/%d] %s %s  running %.1f s  ETA %s", id, sw->plan.nruns,
            bench__config_name(sw, r->engine), point, elapsed_s, eta);
}

const char *bench__config_name(const struct bench__sweep *sw, int e)
{
    return sw->suite.labels[e][0] ? sw->suite.labels[e] : sw->suite.engines[e].spec;
}

void bench__progress(const struct bench__sweep *sw, int id, const struct bench__outcome *o)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    const char *name = bench__config_name(sw, r->engine);
    int n = sw->plan.nruns;
    char point[64], eta[32], flags[128];
    point_name(sw, r, point, sizeof(point));
    format_eta(eta_s(sw, id), eta, sizeof(eta));
    bench__flag_words(o->flags, flags, sizeof(flags));
    if (sw->live)
        fprintf(stderr, "\r\033[K");
    if (strcmp(o->status, "ok") != 0) {
        fprintf(stderr, "[%d/%d] %s %s  failed: %s  ETA %s\n", id, n, name, point, o->reason, eta);
        return;
    }
    if (r->kind == BENCH__TIMELINE) {
        fprintf(stderr, "[%d/%d] %s %s  %s answered  slowest %.1f ms%s%s  ETA %s\n", id, n, name,
                point, o->load[BENCH__REQUESTS], atof(o->load[BENCH__MAX]),
                flags[0] ? "  flags " : "", flags, eta);
        return;
    }
    double bound = bench__run_bound(&sw->plan, r);
    fprintf(stderr, "[%d/%d] %s %s  %.3gk req/s  p99 %.1f ms  eff %.2f%s%s  ETA %s\n", id, n, name,
            point, o->throughput / 1e3, o->p99_ms, bound > 0 ? o->throughput / bound : 0,
            flags[0] ? "  flags " : "", flags, eta);
}

void bench__progress_again(const struct bench__sweep *sw, int id, const struct bench__outcome *o,
                           double window_s)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char point[64], flags[128];
    point_name(sw, r, point, sizeof(point));
    if (o->stalled)
        snprintf(flags, sizeof(flags), "nothing answered");
    else
        bench__flag_words(o->flags & (BENCH__FLAG_UNSTEADY | BENCH__FLAG_SHORT_WINDOW), flags,
                          sizeof(flags));
    if (sw->live)
        fprintf(stderr, "\r\033[K");
    /* (k/N), not [k/N]: a bracketed number announces a finished run */
    fprintf(stderr, "(%d/%d) %s %s  %s over %.1f s: measured again over %.1f s\n", id,
            sw->plan.nruns, bench__config_name(sw, r->engine), point, flags, o->load_window_s,
            window_s);
}
