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

/* Row r's capacity and bracket as "930 req/s [930, 950]"; the upper end
 * is empty when no probe failed. */
static void write_bracket(FILE *out, const struct csv_table *t, int r)
{
    fprintf(out, "%.0f req/s [%.0f, ", csv_num(t, r, "capacity_rps"), csv_num(t, r, "capacity_lo"));
    if (*csv_get(t, r, "capacity_hi"))
        fprintf(out, "%.0f]", csv_num(t, r, "capacity_hi"));
    else
        fputs("&#8734;]", out);
}

static void write_config(FILE *out, const struct csv_table *t, int r, const char *goal)
{
    const char *status = csv_get(t, r, "status");
    fputs("<li><b>", out);
    plot__html(out, csv_get(t, r, "engine"));
    fputs("</b> ", out);
    if (!strcmp(status, "never_met")) {
        fprintf(out, "meets %s at no rate it was offered, down to %.0f req/s", goal,
                csv_num(t, r, "capacity_hi"));
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

void plot__write_capacity(const struct plot__report *rp)
{
    char path[PATH_MAX + 16], goal[64];
    struct csv_table t = {0};
    snprintf(path, sizeof(path), "%s/capacity.csv", rp->f->dir);
    if (plot__goal(rp->f->dir, goal, sizeof(goal)) == 0 && csv_load(path, &t) == 0)
        for (int r = 0; r < t.nrows; r++)
            write_config(rp->out, &t, r, goal);
    csv_free(&t);
}
