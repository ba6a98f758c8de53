/* The table `overlap bench` prints at the end, read back from the folder's
 * summary.csv, so what the user reads is what the file says: per config, by
 * its label, the peak throughput as its repeats' mean ± the 95 % interval's
 * half-width, the predicted and the measured ceilings, p99 medians with
 * their intervals at half and nine tenths of the peak (summary_line, which
 * report.html's table shows too), memory and threads, and the flags its
 * points raised; then each config's capacity at the suite's goal. */
#include "bench_sweep.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "summary.h"

#define MAP_COLUMN 36 /* a map cell's text: "8012 [8012, 8170] ideal 9120" */

/* `89.1 ± 0.4`, or the mean alone without an interval. */
static void format_mean(char *out, size_t len, const struct summary_line *l)
{
    if (isnan(l->tp_lo))
        snprintf(out, len, "%.1f", l->tp);
    else
        snprintf(out, len, "%.1f ± %.1f", l->tp, (l->tp_hi - l->tp_lo) / 2);
}

/* The most memory and threads any finished run of config e saw. */
static void config_peaks(const struct bench__sweep *sw, int e, long *rss, long *threads)
{
    *rss = *threads = 0;
    for (int i = 0; i < sw->plan.nruns; i++) {
        const struct bench__result *q = &sw->result[i];
        if (sw->plan.runs[i].engine != e || !q->ok)
            continue;
        *rss = q->rss_kib > *rss ? q->rss_kib : *rss;
        *threads = q->threads > *threads ? q->threads : *threads;
    }
}

/* Each flag word of config e's points, with how many points raised it. */
static void print_flags(const struct csv_table *t, const char *spec)
{
    struct summary_flag flags[16];
    int n = summary_flag_counts(t, spec, flags, 16);
    for (int k = 0; k < n; k++)
        printf("%s%s x%d", k ? ", " : "  flags: ", flags[k].word, flags[k].points);
    if (n)
        printf("\n");
}

/* A figure in width columns with one decimal, or "-" when there is none: a
 * ceiling is unbounded (1e300) for a workload with no CPU step, a measured
 * one NAN without the server's CPU. */
static const char *figure(char *out, size_t len, int width, int decimals, double x)
{
    if (isfinite(x) && x < 1e299)
        snprintf(out, len, "%*.*f", width, decimals, x);
    else
        snprintf(out, len, "%*s", width, "-");
    return out;
}

/* One config's line (and its flags) from its points of summary.csv. */
static void print_config(const struct bench__sweep *sw, const struct csv_table *t, int e)
{
    const char *spec = sw->suite.engines[e].spec;
    struct summary_line l;
    double ceiling = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
    int bounded = ceiling < 1e299;
    char ceil_text[32], eff_text[32], cpu_text[32];
    printf("%-32s", bench__config_name(sw, e));
    if (summary_line(t, spec, &l) < 0) {
        printf(" %16s %s   (no finished run)\n", "-",
               figure(ceil_text, sizeof(ceil_text), 9, 1, ceiling));
        return;
    }
    char mean[48], half[48], nine[48];
    long rss, threads;
    format_mean(mean, sizeof(mean), &l);
    summary_p99_text(&l.at50, half, sizeof(half));
    summary_p99_text(&l.at90, nine, sizeof(nine));
    config_peaks(sw, e, &rss, &threads);
    /* '±' is two bytes and one column: one more byte of width keeps the columns */
    printf(" %*s %s %s %s  %-22s %-22s %7.1f %7ld\n", 16 + (strstr(mean, "±") != NULL), mean,
           figure(ceil_text, sizeof(ceil_text), 9, 1, ceiling),
           figure(eff_text, sizeof(eff_text), 5, 2, bounded && ceiling > 0 ? l.tp / ceiling : NAN),
           figure(cpu_text, sizeof(cpu_text), 9, 0, l.cpu_ceiling), half, nine, rss / 1024.0,
           threads);
    print_flags(t, spec);
}

/* What the idle request said of a goal it ruled out, in a line. */
static void print_idle(const struct bench__sweep *sw, const struct bench__idle *idle)
{
    printf("the goal is %s: the idle request's p%g is %.1f ms by the workload's distributions, "
           "%.1f ms [%.1f, %.1f] measured at %.1f req/s\n",
           bench__idle_name(idle->verdict), sw->suite.slo.percentile, idle->model_ms, idle->ms,
           idle->lo_ms, idle->hi_ms, idle->rate);
}

/* Each searched config's capacity at the goal, with its bracket widened by
 * the probes' uncertainty. */
static void print_capacity(const struct bench__sweep *sw)
{
    char status[32];
    if (!sw->ncapacity)
        return;
    printf("\ncapacity at p%g under %g ms (capacity.csv), [highest rate met, lowest missed]; "
           "ideal: what the architecture could reach on a perfect machine (simulated):\n",
           sw->suite.slo.percentile, sw->suite.slo.ms);
    if (sw->idle[0].verdict != BENCH__REACHABLE)
        print_idle(sw, &sw->idle[0]);
    for (int e = 0; e < sw->ncapacity; e++) {
        const struct bench__capacity *c = &sw->capacity[e];
        double hi = bench__capacity_widened_hi(c);
        bench__capacity_status(c, status, sizeof(status));
        printf("%-32s %9.1f req/s  [%.1f, ", bench__config_name(sw, e), c->result.capacity,
               c->result.lo);
        printf(isfinite(hi) ? "%.1f]" : "-]", hi);
        printf("  bound %.1f  ideal ", c->bound);
        printf(isfinite(c->ideal) ? "%.1f" : "-", c->ideal);
        printf("  %s after %d probes", status, c->result.probes);
        printf(c->result.undecided ? " (%d undecided)\n" : "\n", c->result.undecided);
    }
}

/* "20 us", "1.5 ms", or "own" on an axis the suite does not vary. */
static void axis_text(uint64_t ns, char *out, size_t len)
{
    if (!ns)
        snprintf(out, len, "own");
    else if (ns < 1000000)
        snprintf(out, len, "%g us", ns / 1e3);
    else
        snprintf(out, len, "%g ms", ns / 1e6);
}

/* Cell c's text for config e: its capacity and widened bracket, or why
 * there is none; then its ideal capacity. */
static const char *map_text(const struct bench__sweep *sw, int c, int e, char *text, size_t len)
{
    const struct bench__capacity *cap = &sw->map[c - 1][e];
    const struct capacity_result *r = &cap->result;
    double hi = bench__capacity_widened_hi(cap);
    if (cap->rc < 0)
        return "stopped";
    if (cap->idle != BENCH__REACHABLE) {
        snprintf(text, len, "%s: idle %.0f ms", bench__idle_name(cap->idle),
                 fmax(sw->idle[c].model_ms, isnan(sw->idle[c].ms) ? 0 : sw->idle[c].ms));
        return text;
    }
    int n = r->status == CAPACITY_NONE_DECIDED
                ? snprintf(text, len, "undecided [0, ")
                : snprintf(text, len, "%.0f [%.0f, ", r->capacity, r->lo);
    n += snprintf(text + n, len - (size_t)n, isfinite(hi) ? "%.0f]" : "-]", hi);
    if (isfinite(cap->ideal) && (size_t)n < len)
        snprintf(text + n, len - (size_t)n, " ideal %.0f", cap->ideal);
    return text;
}

/* The map's cells done, a line each: every config's capacity and widened
 * bracket. */
static void print_map(const struct bench__sweep *sw)
{
    char cpu[32], wait[32], text[64];
    if (!sw->ncells)
        return;
    printf("\ncrossover map at p%g under %g ms (map.csv), capacity in req/s [highest rate met, "
           "lowest missed] and the ideal system's:\n%-9s %-9s",
           sw->suite.slo.percentile, sw->suite.slo.ms, "cpu", "wait");
    for (int e = 0; e < sw->suite.nengines; e++)
        printf(" %-*.*s", e + 1 < sw->suite.nengines ? MAP_COLUMN : 0, MAP_COLUMN,
               bench__config_name(sw, e));
    for (int c = 1; c <= sw->ncells; c++) {
        uint64_t cpu_ns, wait_ns;
        bench__map_cell(&sw->suite, c, &cpu_ns, &wait_ns);
        axis_text(cpu_ns, cpu, sizeof(cpu));
        axis_text(wait_ns, wait, sizeof(wait));
        printf("\n%-9s %-9s", cpu, wait);
        for (int e = 0; e < sw->suite.nengines; e++)
            printf(" %-*s", e + 1 < sw->suite.nengines ? MAP_COLUMN : 0,
                   map_text(sw, c, e, text, sizeof(text)));
    }
    printf("\n");
}

int bench__print_summary(const struct bench__sweep *sw)
{
    char path[PATH_MAX + 16];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/summary.csv", sw->dir);
    int rc = csv_load(path, &t);
    if (rc == 0 && t.nrows > 0) {
        printf("\n%-32s %16s %9s %5s %9s  %-22s %-22s %7s %7s\n", "config", "peak req/s", "ceiling",
               "eff", "cpu ceil", "p99 ms @50% peak", "p99 ms @90% peak", "RSS MiB", "threads");
        for (int e = 0; e < sw->suite.nengines; e++)
            print_config(sw, &t, e);
        printf("\nmeans ± 95 %% interval half-widths over %d repeats, p99 medians [interval];\n"
               "cpu ceil: the server's cores over its measured CPU per request (results/"
               "README.md)\n",
               sw->suite.repeats);
    }
    print_capacity(sw);
    print_map(sw);
    printf("\n%d runs, %d failed, %d flagged, %d measured again: %s\n", sw->done, sw->failed,
           sw->flagged, sw->again, sw->dir);
    csv_free(&t);
    return rc == 0 ? 0 : -1;
}
