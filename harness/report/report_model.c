/* report.html's word on the reference curves: for each config with one,
 * which curve the latency chart draws (its model, or the ideal system
 * simulated where the model departs from it by more than its tolerance)
 * and why; then the open-loop rates where the measured p99 departs from
 * that reference by more than its interval (the interval p99_lo..p99_hi
 * misses it by more than DEPART of it), each with what the ideal system
 * lacked (report_ideal.c). Read from model.csv, brought up to date first. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "model.h"
#include "plot_internal.h"

/* A prediction outside [lo / (1 + DEPART), hi (1 + DEPART)] departs: the
 * reference is itself an approximation or a finite simulation, and a miss
 * of a few percent past a narrow interval is not news. */
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

int report__departs(const struct csv_table *s, int r, double pred)
{
    return departs(s, r, pred);
}

/* The model's miss of the simulator at model.csv's row r, in units of its
 * tolerance, as plot_ideal.c judges it; -1 where the simulator did not run,
 * INFINITY where the model saturates and the ideal system does not. */
static double row_miss(const struct csv_table *t, int r)
{
    if (!*csv_get(t, r, "sim_p99_ms"))
        return -1;
    if (!*csv_get(t, r, "model_p99_ms"))
        return INFINITY;
    return fmax(
        fabs(csv_num(t, r, "model_p99_ms") / csv_num(t, r, "sim_p99_ms") - 1) / MODEL_TOL_P99,
        fabs(csv_num(t, r, "model_p50_ms") / csv_num(t, r, "sim_p50_ms") - 1) / MODEL_TOL_P50);
}

/* "the model's p99 is 355.1 ms and its p50 61.5 ms, the ideal system's 38.7
 * and 14.3 ms" */
static void write_miss(FILE *out, const struct csv_table *t, int r)
{
    fprintf(out, "at %.0f req/s ", csv_num(t, r, "rate"));
    if (!*csv_get(t, r, "model_p99_ms"))
        fputs("the model saturates", out);
    else
        fprintf(out, "the model's p99 is %.1f ms and its p50 %.1f ms",
                csv_num(t, r, "model_p99_ms"), csv_num(t, r, "model_p50_ms"));
    fprintf(out, ", the ideal system's %.1f and %.1f ms", csv_num(t, r, "sim_p99_ms"),
            csv_num(t, r, "sim_p50_ms"));
}

/* Config engine's reference: which curve is drawn, and why. */
static void write_reference(const struct plot__report *rp, const struct csv_table *t,
                            const char *engine)
{
    FILE *out = rp->out;
    int worst = -1, rows = 0, simulated = 0;
    double most = -1;
    for (int r = 0; r < t->nrows; r++) {
        if (strcmp(csv_get(t, r, "engine"), engine))
            continue;
        rows++;
        simulated = !strcmp(csv_get(t, r, "drawn"), "simulated");
        double x = row_miss(t, r);
        if (x > most)
            most = x, worst = r;
    }
    if (!rows)
        return;
    fputs("<li class=\"reference\"><b>", out);
    report__write_label(out, rp->f, engine);
    if (simulated) {
        fprintf(out,
                "</b>: the latency chart draws the ideal system, simulated, not its model, "
                "which departs from it by more than its tolerance (p99 within %.0f %%, p50 "
                "within %.0f %%)",
                100 * MODEL_TOL_P99, 100 * MODEL_TOL_P50);
        if (worst >= 0 && most > 1) {
            fputs(": ", out);
            write_miss(out, t, worst);
        } else {
            fputs(": the ideal system saturates at a rate the model holds", out);
        }
    } else {
        fputs("</b>: the latency chart draws its model, which holds the ideal system, "
              "simulated, to its tolerance at every rate compared",
              out);
        if (worst >= 0) {
            fputs(" (its largest miss: ", out);
            write_miss(out, t, worst);
            fputs(")", out);
        }
    }
    fputs(".</li>\n", out);
}

/* The drawn reference at rate: model.csv's row of engine at that rate
 * (the curve holds every measured rate under saturation), or -1. */
static int reference_row(const struct csv_table *t, const char *engine, double rate)
{
    for (int r = 0; r < t->nrows; r++)
        if (!strcmp(csv_get(t, r, "engine"), engine) &&
            fabs(csv_num(t, r, "rate") - rate) <= 5e-4 + 1e-9 * rate)
            return r;
    return -1;
}

/* "900 req/s (measured 65.5 ms [50.1, 201.7], the ideal system 36.8 ms: 1.8
 * times; ...what it lacked...)" */
static void write_point(const struct plot__report *rp, const struct plot__model *m, int r,
                        const char *engine, double ref, int simulated)
{
    const struct csv_table *s = &rp->summary;
    double measured = csv_num(s, r, "p99_median");
    fprintf(rp->out, "%.0f req/s (measured %.1f ms", csv_num(s, r, "rate"), measured);
    if (*csv_get(s, r, "p99_lo"))
        fprintf(rp->out, " [%.1f, %.1f]", csv_num(s, r, "p99_lo"), csv_num(s, r, "p99_hi"));
    fprintf(rp->out, ", %s %.1f ms: %.2g times", simulated ? "the ideal system" : "predicted", ref,
            measured / ref);
    report__write_lacks(rp, m, r, engine, ref);
    fputs(")", rp->out);
}

/* Config engine's sentence, when any of its open-loop points departs. A
 * rate at or past the reference's saturation has no row and is not
 * compared. */
static void write_config(const struct plot__report *rp, const struct plot__model *m,
                         const struct csv_table *t, const char *engine)
{
    const struct csv_table *s = &rp->summary;
    int k = 0;
    for (int r = 0; r < s->nrows; r++) {
        if (strcmp(csv_get(s, r, "engine"), engine) || strcmp(csv_get(s, r, "loop"), "open") ||
            !*csv_get(s, r, "p99_median"))
            continue;
        int at = reference_row(t, engine, csv_num(s, r, "rate"));
        double ref = at >= 0 ? csv_num(t, at, "p99_ms") : NAN;
        if (!(ref > 0) || !isfinite(ref) || !departs(s, r, ref))
            continue;
        int simulated = !strcmp(csv_get(t, at, "drawn"), "simulated");
        if (k++ == 0) {
            fputs("<li class=\"departure\"><b>", rp->out);
            report__write_label(rp->out, rp->f, engine);
            fprintf(rp->out,
                    "</b>'s measured p99 departs from its reference (%s) by more than its "
                    "interval (and %.0f %%) at ",
                    simulated ? "the ideal system, simulated" : "its model", 100 * DEPART);
        } else {
            fputs("; and at ", rp->out);
        }
        write_point(rp, m, r, engine, ref, simulated);
    }
    if (k)
        fputs(".</li>\n", rp->out);
}

void report__write_departures(const struct plot__report *rp)
{
    int curves[PLOT_MAX_ENGINES], simulated[PLOT_MAX_ENGINES];
    char path[PATH_MAX + 16];
    struct csv_table t;
    struct plot__model m;
    if (plot__write_models(rp->f, curves, simulated) < 0)
        return;
    snprintf(path, sizeof(path), "%s/model.csv", rp->f->dir);
    if (csv_load(path, &t) < 0)
        return;
    plot__model_load(rp->f->dir, &m);
    for (int e = 0; e < rp->f->n; e++) {
        write_reference(rp, &t, rp->f->engines[e]);
        write_config(rp, &m, &t, rp->f->engines[e]);
    }
    plot__model_free(&m);
    csv_free(&t);
}
