/* report.html's load points, folded at its end: one table per config, a
 * row per point of summary.csv with its intervals, and the means runs.csv
 * holds beside them (bound, p50, memory, threads). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"

static const char *const point_heads[] = {
    "loop",   "clients", "offered req/s",  "repeats",      "req/s",   "bound req/s", "efficiency",
    "p50 ms", "p99 ms",  "CPU µs/request", "peak RSS MiB", "threads", "flags",
};
#define NPOINT_HEADS (sizeof(point_heads) / sizeof(point_heads[0]))

/* "931.0 ± 13.6", "903.0" without an interval, "-" without a value. */
static void write_mean(FILE *out, double mean, double hw, int decimals)
{
    if (!isfinite(mean))
        fputs("-", out);
    else if (isfinite(hw))
        fprintf(out, "%.*f ± %.*f", decimals, mean, decimals, hw);
    else
        fprintf(out, "%.*f", decimals, mean);
}

void report__write_p99(FILE *out, const struct csv_table *s, int r)
{
    if (!*csv_get(s, r, "p99_median"))
        fputs("-", out);
    else if (!*csv_get(s, r, "p99_lo"))
        fprintf(out, "%.1f", csv_num(s, r, "p99_median"));
    else
        fprintf(out, "%.1f [%.1f, %.1f]", csv_num(s, r, "p99_median"), csv_num(s, r, "p99_lo"),
                csv_num(s, r, "p99_hi"));
}

/* A count of summary.csv, kept in int's range whatever the file holds. */
static int count_of(const struct csv_table *s, int r, const char *name)
{
    double v = csv_num(s, r, name);
    return v >= 1 && v < INT_MAX ? (int)v : 0;
}

/* The cells that name a point: loop, clients, offered rate and repeats. */
static void write_key_cells(FILE *out, const struct csv_table *s, int r)
{
    int failed = count_of(s, r, "failed");
    fputs("<td>", out);
    report__html(out, csv_get(s, r, "loop"));
    fprintf(out, "</td><td>%.0f</td><td>", csv_num(s, r, "clients"));
    if (!strcmp(csv_get(s, r, "loop"), "closed"))
        fputs("-", out); /* a closed loop offers no rate */
    else
        fprintf(out, "%.0f", csv_num(s, r, "rate"));
    fprintf(out, "</td><td>%d", count_of(s, r, "repeats"));
    if (failed)
        fprintf(out, " + %d failed", failed);
    fputs("</td>", out);
}

/* The point's numbers: throughput and efficiency with their intervals,
 * p99 with its own, the rest means, then its flags. */
static void write_point_row(const struct plot__report *rp, int r)
{
    const struct csv_table *s = &rp->summary;
    FILE *out = rp->out;
    int repeats = count_of(s, r, "repeats");
    double mean = repeats ? csv_num(s, r, "throughput_mean") : NAN;
    double hw = report__half_width(rp, r), bound = report__runs_mean(rp, r, PLOT_BOUND);
    double cpu = *csv_get(s, r, "cpu_per_request_us") ? csv_num(s, r, "cpu_per_request_us") : NAN;
    fputs(repeats ? "<tr>" : "<tr class=\"failed\">", out);
    write_key_cells(out, s, r);
    fputs("<td>", out);
    write_mean(out, mean, hw, 1);
    fputs("</td><td>", out);
    write_mean(out, bound, NAN, 1);
    fputs("</td><td>", out);
    write_mean(out, bound > 0 ? mean / bound : NAN, bound > 0 ? hw / bound : NAN, 2);
    fputs("</td><td>", out);
    write_mean(out, report__runs_mean(rp, r, PLOT_P50), NAN, 1);
    fputs("</td><td>", out);
    report__write_p99(out, s, r);
    fputs("</td><td>", out);
    write_mean(out, cpu, NAN, 0);
    fputs("</td><td>", out);
    write_mean(out, report__runs_mean(rp, r, PLOT_RSS_KIB) / 1024, NAN, 1);
    fputs("</td><td>", out);
    write_mean(out, report__runs_mean(rp, r, PLOT_THREADS), NAN, 0);
    fputs("</td><td>", out);
    report__write_flag_list(out, csv_get(s, r, "flags"));
    fputs("</td></tr>\n", out);
}

void report__write_points(const struct plot__report *rp, const char *engine)
{
    fputs("<h3>", rp->out);
    report__write_label(rp->out, rp->f, engine);
    fputs(" <span class=\"spec\">", rp->out);
    report__html(rp->out, engine);
    fputs("</span></h3>\n<table>\n<tr>", rp->out);
    for (size_t c = 0; c < NPOINT_HEADS; c++)
        fprintf(rp->out, "<th>%s</th>", point_heads[c]);
    fputs("</tr>\n", rp->out);
    for (int r = 0; r < rp->summary.nrows; r++)
        if (!strcmp(csv_get(&rp->summary, r, "engine"), engine))
            write_point_row(rp, r);
    fputs("</table>\n", rp->out);
}
