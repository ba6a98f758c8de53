/* report.html's word on the models: for each config, the open-loop rates
 * where the measured p99 departs from its model's prediction by more than
 * its interval (the interval p99_lo..p99_hi misses the prediction by more
 * than DEPART of it), in one sentence per config that has any. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"

/* A prediction outside [lo / (1 + DEPART), hi (1 + DEPART)] departs: the
 * models approximate the tail (plots/README.md), and a miss of a few
 * percent past a narrow interval is their approximation, not news. */
#define DEPART 0.2

/* Whether summary row r's p99 departs from pred; a point without an
 * interval (one repeat) is taken at its median. */
static int departs(const struct csv_table *s, int r, double pred)
{
    const char *lo_text = csv_get(s, r, "p99_lo"), *hi_text = csv_get(s, r, "p99_hi");
    double median = csv_num(s, r, "p99_median");
    double lo = *lo_text ? csv_num(s, r, "p99_lo") : median;
    double hi = *hi_text ? csv_num(s, r, "p99_hi") : median;
    return pred > hi * (1 + DEPART) || pred * (1 + DEPART) < lo;
}

/* "300 req/s (measured 45.0 ms [40.1, 60.2], predicted 20.0 ms)" */
static void write_point(FILE *out, const struct csv_table *s, int r, double pred)
{
    fprintf(out, "%.0f req/s (measured %.1f ms", csv_num(s, r, "rate"),
            csv_num(s, r, "p99_median"));
    if (*csv_get(s, r, "p99_lo"))
        fprintf(out, " [%.1f, %.1f]", csv_num(s, r, "p99_lo"), csv_num(s, r, "p99_hi"));
    fprintf(out, ", predicted %.1f ms)", pred);
}

/* Config engine's sentence, when any of its open-loop points departs. A
 * rate at or past the model's saturation predicts no finite p99 and is
 * not compared. */
static void write_config(const struct plot__report *rp, const struct plot__model *m,
                         const char *engine)
{
    const struct csv_table *s = &rp->summary;
    int k = 0;
    for (int r = 0; r < s->nrows; r++) {
        struct model_prediction p;
        if (strcmp(csv_get(s, r, "engine"), engine) || strcmp(csv_get(s, r, "loop"), "open") ||
            !*csv_get(s, r, "p99_median") ||
            plot__model_predict(m, engine, csv_num(s, r, "rate"), &p) < 0 || !isfinite(p.p99_ms) ||
            !departs(s, r, p.p99_ms))
            continue;
        if (k++ == 0) {
            fputs("<li><b>", rp->out);
            report__html(rp->out, engine);
            fprintf(rp->out,
                    "</b>'s measured p99 departs from its model by more than its "
                    "interval (and %.0f %%) at ",
                    100 * DEPART);
        } else {
            fputs(", ", rp->out);
        }
        write_point(rp->out, s, r, p.p99_ms);
    }
    if (k)
        fputs(".</li>\n", rp->out);
}

void report__write_departures(const struct plot__report *rp)
{
    struct plot__model m;
    if (plot__model_load(rp->f->dir, &m) < 0)
        return;
    for (int e = 0; e < rp->f->n; e++)
        write_config(rp, &m, rp->f->engines[e]);
}
