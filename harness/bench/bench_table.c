/* The table `overlap bench` prints at the end, read back from the folder's
 * summary.csv, so what the user reads is what the file says: per config, the
 * peak throughput as its repeats' mean ± the 95 % interval's half-width, the
 * predicted and the measured ceilings, p99 medians with their intervals at
 * half and nine tenths of the peak, memory and threads, and the flags its
 * points raised; then each config's capacity at the suite's goal. */
#include "bench_sweep.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"

#define P99_NEAR   0.2 /* without a bracketing pair, a point this close to the target stands in */
#define MAP_COLUMN 36  /* a map cell's text: "8012 [8012, 8170] ideal 9120" */

/* One point of summary.csv, as the table reads it. */
struct point {
    int open;
    double rate;                /* offered (open loop) */
    double tp, tp_lo, tp_hi;    /* throughput mean and interval */
    double p99, p99_lo, p99_hi; /* p99 median and interval */
    double measured_ceiling;
};

/* Row i of t as a point; NAN where the file leaves a field empty. */
static struct point read_point(const struct csv_table *t, int i)
{
    struct point p = {.open = !strcmp(csv_get(t, i, "loop"), "open"),
                      .rate = csv_num(t, i, "rate")};
    const char *names[] = {"throughput_mean", "throughput_lo", "throughput_hi",       "p99_median",
                           "p99_lo",          "p99_hi",        "ceiling_measured_rps"};
    double *fields[] = {&p.tp,     &p.tp_lo,  &p.tp_hi,           &p.p99,
                        &p.p99_lo, &p.p99_hi, &p.measured_ceiling};
    for (int k = 0; k < 7; k++)
        *fields[k] = *csv_get(t, i, names[k]) ? csv_num(t, i, names[k]) : NAN;
    return p;
}

static double lerp(double y0, double y1, double f)
{
    return y0 + (y1 - y0) * f;
}

/* p99 of the config's open loop at `target` req/s: interpolated (median and
 * interval ends alike) between the two points whose throughput brackets
 * it, else the nearest point's within P99_NEAR of it; estimate NAN if none.
 * Above the target the least loaded point is taken (the lowest offered
 * rate): past saturation throughput stops rising, so a point offered 1.2
 * times the bound may serve a hair less than one offered 0.9 times it, and
 * its p99 is its backlog's, not the curve's at that throughput. */
static struct point p99_at(const struct point *pts, int n, double target)
{
    int below = -1, above = -1, nearest = -1;
    for (int i = 0; i < n; i++) {
        if (!pts[i].open || isnan(pts[i].tp))
            continue;
        if (pts[i].tp <= target && (below < 0 || pts[i].tp > pts[below].tp))
            below = i;
        if (pts[i].tp >= target && (above < 0 || pts[i].rate < pts[above].rate))
            above = i;
        if (nearest < 0 || fabs(pts[i].tp - target) < fabs(pts[nearest].tp - target))
            nearest = i;
    }
    struct point none = {.p99 = NAN, .p99_lo = NAN, .p99_hi = NAN};
    if (below < 0 || above < 0)
        return nearest >= 0 && fabs(pts[nearest].tp - target) <= P99_NEAR * target ? pts[nearest]
                                                                                   : none;
    const struct point *a = &pts[below], *b = &pts[above];
    double f = b->tp > a->tp ? (target - a->tp) / (b->tp - a->tp) : 0;
    return (struct point){.p99 = lerp(a->p99, b->p99, f),
                          .p99_lo = lerp(a->p99_lo, b->p99_lo, f),
                          .p99_hi = lerp(a->p99_hi, b->p99_hi, f)};
}

/* `89.1 ± 0.4`, or the mean alone without an interval. */
static void format_mean(char *out, size_t len, const struct point *p)
{
    if (isnan(p->tp_lo))
        snprintf(out, len, "%.1f", p->tp);
    else
        snprintf(out, len, "%.1f ± %.1f", p->tp, (p->tp_hi - p->tp_lo) / 2);
}

/* `12.1 [11.8, 12.5]`, the median alone without an interval, `-` without either. */
static void format_median(char *out, size_t len, const struct point *p)
{
    if (isnan(p->p99))
        snprintf(out, len, "-");
    else if (isnan(p->p99_lo))
        snprintf(out, len, "%.1f", p->p99);
    else
        snprintf(out, len, "%.1f [%.1f, %.1f]", p->p99, p->p99_lo, p->p99_hi);
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
    char words[16][32];
    int counts[16], nwords = 0;
    for (int i = 0; i < t->nrows; i++) {
        if (strcmp(csv_get(t, i, "engine"), spec) != 0)
            continue;
        for (const char *s = csv_get(t, i, "flags"); *s;) {
            size_t n = strcspn(s, ";"), k = 0;
            while (k < (size_t)nwords && (strlen(words[k]) != n || strncmp(words[k], s, n)))
                k++;
            if (k == (size_t)nwords && nwords < 16 && n < sizeof(words[0])) {
                snprintf(words[nwords], sizeof(words[0]), "%.*s", (int)n, s);
                counts[nwords++] = 0;
            }
            if (k < (size_t)nwords)
                counts[k]++;
            s += n + (s[n] == ';');
        }
    }
    for (int k = 0; k < nwords; k++)
        printf("%s%s x%d", k ? ", " : "  flags: ", words[k], counts[k]);
    if (nwords)
        printf("\n");
}

/* One config's line (and its flags) from its points of summary.csv. */
static void print_config(const struct bench__sweep *sw, const struct csv_table *t, int e)
{
    const char *spec = sw->suite.engines[e].spec;
    struct point pts[2 * BENCH_MAX_POINTS];
    int n = 0, peak = -1;
    for (int i = 0; i < t->nrows && n < 2 * BENCH_MAX_POINTS; i++) {
        const char *loop = csv_get(t, i, "loop");
        if (strcmp(csv_get(t, i, "engine"), spec) != 0 || !strcmp(loop, "timeline") ||
            !strcmp(loop, "capacity"))
            continue;
        pts[n] = read_point(t, i);
        if (!isnan(pts[n].tp) && (peak < 0 || pts[n].tp > pts[peak].tp))
            peak = n;
        n++;
    }
    double ceiling = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
    printf("%-32s", sw->suite.labels[e]);
    if (peak < 0) {
        printf(" %16s %9.1f   (no finished run)\n", "-", ceiling);
        return;
    }
    char mean[48], half[48], nine[48];
    struct point at50 = p99_at(pts, n, 0.5 * pts[peak].tp),
                 at90 = p99_at(pts, n, 0.9 * pts[peak].tp);
    long rss, threads;
    format_mean(mean, sizeof(mean), &pts[peak]);
    format_median(half, sizeof(half), &at50);
    format_median(nine, sizeof(nine), &at90);
    config_peaks(sw, e, &rss, &threads);
    /* '±' is two bytes and one column: one more byte of width keeps the columns */
    printf(" %*s %9.1f %5.2f %9.0f  %-22s %-22s %7.1f %7ld\n", 16 + (strstr(mean, "±") != NULL),
           mean, ceiling, ceiling > 0 ? pts[peak].tp / ceiling : 0, pts[peak].measured_ceiling,
           half, nine, rss / 1024.0, threads);
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
        printf("%-32s %9.1f req/s  [%.1f, ", sw->suite.labels[e], c->result.capacity,
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
               sw->suite.labels[e]);
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
