/* report.html's findings: each config's peak with its interval, each pair
 * of engine families compared at their peaks with Welch's 95 % interval of
 * the difference (or said to show none), the timeline's slowest request
 * and the failed runs counted. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "stats.h"
#include "summary.h"

/* "931 ± 14 req/s (mean of 3 repeats, 95 % interval)", or "903 req/s" for
 * a point without an interval. */
static void write_throughput(const struct plot__report *rp, int row)
{
    const struct csv_table *s = &rp->summary;
    double hw = report__half_width(rp, row);
    fprintf(rp->out, "%.0f", csv_num(s, row, "throughput_mean"));
    if (isfinite(hw))
        fprintf(rp->out, " ± %.0f req/s (mean of %.0f repeats, 95 %% interval)", hw,
                csv_num(s, row, "repeats"));
    else
        fputs(" req/s", rp->out);
}

/* Where the peak's gap to the bound went: the server's CPU a request (its
 * cpu steps' share, when the engines reported it), the rate the cores hold at
 * that cost, and so how much of the gap is CPU spent beyond the workload's
 * nominal cost and how much is capacity left idle (results/README.md). */
static void write_cost(const struct plot__report *rp, int row, double bound)
{
    const struct csv_table *s = &rp->summary;
    double cpu = csv_num(s, row, "cpu_per_request_us");
    double cores_hold = csv_num(s, row, "ceiling_measured_rps");
    double tput = csv_num(s, row, "throughput_mean");
    double steps = report__runs_mean(rp, row, PLOT_WORKLOAD_CPU);
    if (!(cpu > 0 && cores_hold > 0 && bound > 0))
        return;
    fprintf(rp->out, "; the server spent %.0f µs of CPU a request", cpu);
    if (steps > 0)
        fprintf(rp->out, " (%.0f in the workload's cpu steps, %.0f in the engine and the kernel)",
                steps, cpu - steps);
    fprintf(rp->out, ", at which its cores hold %.0f req/s", cores_hold);
    if (cores_hold >= bound) {
        fputs(": the CPU is not what kept it under its bound", rp->out);
        return;
    }
    double held = fmax(cores_hold, tput);
    fprintf(rp->out,
            ": of the %.0f req/s under the bound, %.0f are CPU spent beyond the workload's "
            "nominal cost and %.0f capacity left idle",
            fmax(bound - tput, 0), bound - held, held - tput);
}

static void write_peak(const struct plot__report *rp, const char *engine)
{
    const struct csv_table *s = &rp->summary;
    int row = report__peak_row(rp, engine);
    if (row < 0)
        return;
    double bound = report__runs_mean(rp, row, PLOT_BOUND);
    fprintf(rp->out, "<li><b>");
    report__write_label(rp->out, rp->f, engine);
    fprintf(rp->out, "</b> peaked at ");
    write_throughput(rp, row);
    fprintf(rp->out, " with %.0f clients", csv_num(s, row, "clients"));
    if (bound > 0)
        fprintf(rp->out, ", %.0f %% of its bound of %.0f req/s",
                100 * csv_num(s, row, "throughput_mean") / bound, bound);
    fprintf(rp->out, "; p99 there was %.1f ms%s%s", csv_num(s, row, "p99_median"),
            csv_num(s, row, "repeats") > 1 ? " (median)" : "",
            report__has_flag(csv_get(s, row, "flags"), "few-samples")
                ? ", the maximum of too few answers rather than a p99"
                : "");
    write_cost(rp, row, bound);
    if (*csv_get(s, row, "flags")) {
        fputs(" (flagged: ", rp->out);
        report__html(rp->out, csv_get(s, row, "flags"));
        fputs(")", rp->out);
    }
    fputs(".</li>\n", rp->out);
}

/* A signed percentage, with a true minus sign: "+6.1 %", "−1.2 %", "0.0 %". */
static void format_pct(char *buf, size_t len, double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.1f", fabs(v));
    snprintf(buf, len, "%s%s %%", strcmp(digits, "0.0") ? v < 0 ? "−" : "+" : "", digits);
}

/* "3 repeats each", or "3 and 5 repeats" (b's, then a's). */
static void format_repeats(char *buf, size_t len, int nb, int na)
{
    if (nb == na)
        snprintf(buf, len, "%d repeat%s each", nb, nb == 1 ? "" : "s");
    else
        snprintf(buf, len, "%d and %d repeats", nb, na);
}

/* The change from a to b in % of a's mean: with Welch's 95 % interval of
 * the difference of their means when both have two repeats or more, and a
 * claim only when that interval excludes 0. */
static void write_change(FILE *out, const struct summary_point *b, const struct summary_point *a)
{
    double mean_a = stats_mean(a->throughput, a->repeats);
    double pct = (stats_mean(b->throughput, b->repeats) - mean_a) / mean_a * 100;
    char change[48], spread[48], repeats[48];
    struct stats_interval d;
    format_pct(change, sizeof(change), pct);
    format_repeats(repeats, sizeof(repeats), b->repeats, a->repeats);
    if (stats_welch_interval(a->throughput, a->repeats, b->throughput, b->repeats, &d) < 0) {
        fprintf(out, "%s (%s: too few repeats for an interval, so no claim either way)", change,
                repeats);
        return;
    }
    snprintf(spread, sizeof(spread), "%.1f %%", (d.hi - d.estimate) / mean_a * 100);
    if (d.lo <= 0 && d.hi >= 0)
        fprintf(out, "no significant difference (%s ± %s, 95 %% interval, %s)", change, spread,
                repeats);
    else
        fprintf(out, "%s ± %s (95 %% interval, %s)", change, spread, repeats);
}

/* One family's best config (b) against another's (a), each at its peak,
 * a's mean taken as exact for the percentage, as `overlap compare` takes
 * OLD's: with a few percent of spread its own uncertainty moves the
 * interval's ends by far less. */
static void write_comparison(const struct plot__report *rp, int row_b, int row_a)
{
    const struct summary_point *b = report__repeats(rp, row_b), *a = report__repeats(rp, row_a);
    if (!a || !b || a->repeats < 1 || b->repeats < 1 ||
        !(stats_mean(a->throughput, a->repeats) > 0))
        return;
    fprintf(rp->out, "<li class=\"comparison\">");
    report__write_label(rp->out, rp->f, b->engine);
    fputs(" vs ", rp->out);
    report__write_label(rp->out, rp->f, a->engine);
    fputs(" at peak: ", rp->out);
    write_change(rp->out, b, a);
    fprintf(rp->out, "; peaks of %.0f and %.0f req/s, at ", stats_mean(b->throughput, b->repeats),
            stats_mean(a->throughput, a->repeats));
    report__html(rp->out, b->clients);
    fputs(" and ", rp->out);
    report__html(rp->out, a->clients);
    fputs(" clients.</li>\n", rp->out);
}

/* Engines fall into families by the name before the colon of their spec
 * (pool, async, coro): each family's best config at its peak is compared
 * with every other family's, the later family against the earlier, so a
 * new engine is compared with no change here. */
static void write_comparisons(const struct plot__report *rp)
{
    const struct plot__folder *f = rp->f;
    int best[PLOT_MAX_ENGINES], first[PLOT_MAX_ENGINES], nfam = 0;
    for (int e = 0; e < f->n; e++) {
        size_t len = strcspn(f->engines[e], ":");
        int k = 0;
        while (k < nfam && (strcspn(f->engines[first[k]], ":") != len ||
                            strncmp(f->engines[first[k]], f->engines[e], len)))
            k++;
        if (k == nfam)
            first[nfam] = e, best[nfam++] = -1;
        int row = report__peak_row(rp, f->engines[e]);
        if (row >= 0 && (best[k] < 0 || csv_num(&rp->summary, row, "throughput_mean") >
                                            csv_num(&rp->summary, best[k], "throughput_mean")))
            best[k] = row;
    }
    for (int j = 1; j < nfam; j++)
        for (int i = 0; i < j; i++)
            if (best[i] >= 0 && best[j] >= 0)
                write_comparison(rp, best[j], best[i]);
}

/* The slowest answered timeline request of a config, from
 * timeline-requests.csv: the lecture's "request 3 waited behind 1 and 2". */
static int timeline_last(const struct csv_table *tl, const char *engine, double *ms)
{
    int k = 0;
    *ms = 0;
    for (int r = 0; r < tl->nrows; r++) {
        if (strcmp(csv_get(tl, r, "engine"), engine) || csv_num(tl, r, "response_ms") < 0)
            continue;
        k++;
        *ms = fmax(*ms, csv_num(tl, r, "response_ms"));
    }
    return k;
}

static void write_timeline_finding(const struct plot__report *rp)
{
    const struct plot__folder *f = rp->f;
    char path[PATH_MAX + 32];
    struct csv_table tl;
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", f->dir);
    if (csv_load(path, &tl) < 0)
        return;
    int slow = -1, fast = -1;
    double slow_ms = 0, fast_ms = INFINITY, ms;
    for (int e = 0; e < f->n; e++) {
        if (timeline_last(&tl, f->engines[e], &ms) == 0)
            continue;
        if (ms > slow_ms)
            slow = e, slow_ms = ms;
        if (ms < fast_ms)
            fast = e, fast_ms = ms;
    }
    if (slow >= 0 && fast >= 0 && slow != fast) {
        fprintf(rp->out, "<li>In the timeline the slowest request took %.1f ms on <b>", slow_ms);
        report__html(rp->out, f->labels[slow]);
        fprintf(rp->out, "</b> and %.1f ms on <b>", fast_ms);
        report__html(rp->out, f->labels[fast]);
        fprintf(rp->out, "</b>.</li>\n");
    }
    csv_free(&tl);
}

void report__write_findings(const struct plot__report *rp)
{
    const struct csv_table *runs = &rp->f->runs;
    int failed = 0;
    fputs("<ul class=\"findings\">\n", rp->out);
    for (int e = 0; e < rp->f->n; e++)
        write_peak(rp, rp->f->engines[e]);
    report__write_capacity(rp);
    report__write_departures(rp);
    write_comparisons(rp);
    write_timeline_finding(rp);
    for (int r = 0; r < runs->nrows; r++)
        failed += strcmp(csv_get(runs, r, "status"), "ok") != 0;
    if (failed)
        fprintf(rp->out, "<li>%d of %d runs failed; they are listed below.</li>\n", failed,
                runs->nrows);
    fputs("</ul>\n", rp->out);
}
