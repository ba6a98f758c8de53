/* report.html's capacity findings: one sentence per config searched at the
 * sweep's latency goal (capacity.csv, the goal from meta.txt's `slo:`),
 * "async serves 930 req/s [930, 950] with p99 under 100 ms; its bound is
 * 1000 req/s; on a perfect machine it could reach 990 req/s, 60 more than
 * measured: past the bracket's width". */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"

/* Row r's capacity and bracket as "930 req/s [930, 950]": from the highest
 * rate met to the lowest missed (capacity_missed), or the bound when none
 * was; an older capacity.csv, without capacity_missed, ends it at the
 * lowest rate not met. Infinite when neither bounds it. */
static void write_bracket(FILE *out, const struct csv_table *t, int r)
{
    const char *hi = csv_col(t, "capacity_missed") >= 0 ? "capacity_missed" : "capacity_hi";
    fprintf(out, "%.0f req/s [%.0f, ", csv_num(t, r, "capacity_rps"), csv_num(t, r, "capacity_lo"));
    if (*csv_get(t, r, hi))
        fprintf(out, "%.0f]", csv_num(t, r, hi));
    else if (*csv_get(t, r, "bound_rps"))
        fprintf(out, "%.0f]", csv_num(t, r, "bound_rps"));
    else
        fputs("&#8734;]", out);
}

/* Why no capacity: the idle request's percentile against the goal. */
static void write_idle(FILE *out, const struct csv_table *t, int r, const char *goal,
                       const char *status)
{
    fprintf(out,
            "was not searched: %s is %s, since the idle request's percentile is %.1f ms by the "
            "workload's distributions and %.1f ms [%.1f, %.1f] measured at %.0f req/s",
            goal, status, csv_num(t, r, "idle_model_ms"), csv_num(t, r, "idle_ms"),
            csv_num(t, r, "idle_lo_ms"), csv_num(t, r, "idle_hi_ms"), csv_num(t, r, "idle_rate"));
}

/* Row r's field name as a finite number, else NAN (empty, absent, not one). */
double report__number(const struct csv_table *t, int r, const char *name)
{
    const char *s = csv_get(t, r, name);
    char *end;
    double v = strtod(s, &end);
    return *s && !*end && isfinite(v) ? v : NAN;
}

/* The upper end of row r's widened bracket, as write_bracket writes it;
 * INFINITY when nothing bounds it. */
double report__bracket_hi(const struct csv_table *t, int r)
{
    const char *names[] = {csv_col(t, "capacity_missed") >= 0 ? "capacity_missed" : "capacity_hi",
                           "bound_rps"};
    for (int k = 0; k < 2; k++)
        if (!isnan(report__number(t, r, names[k])))
            return report__number(t, r, names[k]);
    return INFINITY;
}

/* The ideal system's capacity beside the measured one (ideal_rps: what the
 * architecture could reach on a perfect machine), and whether the measured
 * falls short of it by more than its bracket's width. */
static void write_ideal(FILE *out, double ideal, double capacity, double lo, double hi)
{
    if (isnan(ideal))
        return;
    fprintf(out, "; on a perfect machine it could reach %.0f req/s (the ideal system, simulated)",
            ideal);
    double gap = ideal - capacity, width = hi - lo;
    if (isnan(capacity) || !isfinite(width))
        return;
    if (gap > width)
        fprintf(out,
                ", %.0f req/s more than measured: short of it by more than the bracket's "
                "%.0f req/s",
                gap, width);
    else if (-gap > width)
        fprintf(out,
                ", %.0f req/s less than measured: the machine or the workload departs from "
                "the ideal's",
                -gap);
    else
        fputs(", within the bracket's width of the measured", out);
}

static void write_config(const struct plot__report *rp, const struct csv_table *t, int r,
                         const char *goal)
{
    FILE *out = rp->out;
    const char *status = csv_get(t, r, "status");
    fputs("<li><b>", out);
    report__write_label(out, rp->f, csv_get(t, r, "engine"));
    fputs("</b> ", out);
    if (!strcmp(status, "never_met")) {
        fprintf(out, "meets %s at no rate it was offered, down to %.0f req/s", goal,
                csv_num(t, r, "capacity_hi"));
    } else if (!strcmp(status, "unreachable") || !strcmp(status, "marginal")) {
        write_idle(out, t, r, goal, status);
    } else if (!strcmp(status, "undecided")) {
        fprintf(out,
                "could not be judged against %s: down to %.0f req/s its probes held too few "
                "requests for the percentile (p99 needs 368 a probe; a longer duration decides "
                "it)",
                goal, csv_num(t, r, "capacity_hi"));
    } else {
        fputs(!strcmp(status, "always_met") ? "serves at least " : "serves ", out);
        write_bracket(out, t, r);
        fprintf(out, " with %s", goal);
    }
    if (*csv_get(t, r, "bound_rps"))
        fprintf(out, "; its bound is %.0f req/s", csv_num(t, r, "bound_rps"));
    /* a search that found a bracket is judged against the ideal */
    int judged = !strcmp(status, "found") || !strcmp(status, "always_met") ||
                 !strcmp(status, "out_of_probes") || !strcmp(status, "never_met");
    if (strcmp(status, "stopped") != 0)
        write_ideal(out, report__number(t, r, "ideal_rps"),
                    judged ? report__number(t, r, "capacity_rps") : NAN,
                    report__number(t, r, "capacity_lo"), report__bracket_hi(t, r));
    if (!strcmp(status, "out_of_probes") || !strcmp(status, "stopped"))
        fprintf(out, " (the search %s after %.0f probes)",
                status[0] == 'o' ? "ran out of probes" : "was stopped", csv_num(t, r, "probes"));
    fputs(".</li>\n", out);
}

void report__write_capacity(const struct plot__report *rp)
{
    char path[PATH_MAX + 16], goal[64];
    struct csv_table t = {0};
    snprintf(path, sizeof(path), "%s/capacity.csv", rp->f->dir);
    if (plot__goal(rp->f->dir, goal, sizeof(goal)) == 0 && csv_load(path, &t) == 0)
        for (int r = 0; r < t.nrows; r++)
            write_config(rp, &t, r, goal);
    csv_free(&t);
}
