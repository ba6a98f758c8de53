/* report.html's capacity findings: one sentence per config searched at the
 * sweep's latency goal (capacity.csv, the goal from meta.txt's `slo:`),
 * "async serves 930 req/s [930, 950] with p99 under 100 ms; its bound is
 * 1000 req/s". */
#include <limits.h>
#include <math.h>
#include <stdio.h>
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

static void write_config(FILE *out, const struct csv_table *t, int r, const char *goal)
{
    const char *status = csv_get(t, r, "status");
    fputs("<li><b>", out);
    report__html(out, csv_get(t, r, "engine"));
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
            write_config(rp->out, &t, r, goal);
    csv_free(&t);
}
