/* What plot.c (the charts), report.c and report_findings.c (report.html)
 * share: a results folder as they see it, and the report's reading of its
 * load points. Names here are internal (plot__); plot.h is the module's API. */
#ifndef OVERLAP_PLOT_INTERNAL_H
#define OVERLAP_PLOT_INTERNAL_H

#include <limits.h>
#include <stddef.h>

#include <stdio.h>

#include "csv.h"
#include "model.h"
#include "summary.h"

#define PLOT_MAX_ENGINES 64  /* configs of one sweep: a suite names a handful */
#define PLOT_SPEC_LEN    128 /* one config's spec, as runs.csv spells it */
#define PLOT_NCHARTS     6
#define PLOT_MAX_POINTS  256 /* closed-loop points of one config a USL fit reads */

/* The charts, each drawn by plots/NAME.gp as DIR/NAME.png and NAME.svg, in
 * the order the report shows them. */
extern const char *const plot__charts[PLOT_NCHARTS];

/* A results folder: its runs.csv, and its configs in the order the sweep
 * ran them (meta.txt's `engines:`, then any other runs.csv names), which
 * fixes each config's colour in every chart and its place in the report. */
struct plot__folder {
    char dir[PATH_MAX];
    struct csv_table runs;
    char engines[PLOT_MAX_ENGINES][PLOT_SPEC_LEN];
    int n;
};

/* Reads dir's runs.csv and meta.txt into f. 0, or -1 with one line in err
 * (f then holds nothing to free). */
int plot__folder_open(const char *dir, struct plot__folder *f, char *err, size_t errlen);

/* The server's CPUs from meta.txt: `server_cpus` counted, else the
 * machine's `cores`, else 1. */
int plot__server_cores(const char *dir);

/* Writes dir/summary.csv when it is missing or older than runs.csv, with
 * the server's core count from meta.txt. 0, or -errno with one line in err. */
int plot__refresh_summary(const char *dir, char *err, size_t errlen);

/* ---- the models (plot_model.c) ---- */

/* What the models read of a folder: the workload's service (its copy
 * workload.ini) and the server's cores (meta.txt). ok 0 when the workload
 * cannot be read: then no config has a model. */
struct plot__model {
    struct model_service svc;
    int cores, ok;
};

/* A config's USL fit over its closed-loop means (points 0: none), and its
 * rows in model.csv (curve 0: no latency model drawn). */
struct plot__usl {
    struct model_usl usl;
    double n_star; /* INFINITY when kappa is 0 */
    int points;
    int curve;
};

/* 0, or -errno with m->ok 0. */
int plot__model_load(const char *dir, struct plot__model *m);
/* Config spec's predicted latencies at rate: a pool by model_pool_predict
 * with its workers (the server's default when unset), async and coro by
 * model_loop_predict with their loops (one per core when unset). 0, or
 * -EINVAL (no model, or a spec that does not parse). */
int plot__model_predict(const struct plot__model *m, const char *spec, double rate,
                        struct model_prediction *out);
/* Where the config's model saturates, req/s; NAN without a model. */
double plot__model_ceiling(const struct plot__model *m, const char *spec);
/* Writes dir/model.csv (each config's curve over its open-loop rates, up
 * to saturation) and dir/usl.csv (summary.csv's closed-loop means fitted),
 * and fills fits[] (one per config). 0, or -errno. A folder without
 * workload.ini gets a model.csv of its header alone: no curve drawn. */
int plot__write_models(const struct plot__folder *f, struct plot__usl *fits);

/* runs.csv's measurements the report shows beside summary.csv's, each the
 * mean over a point's ok runs. */
enum plot__measure {
    PLOT_BOUND,
    PLOT_P50,
    PLOT_RSS_KIB,
    PLOT_THREADS,
    PLOT_WORKLOAD_CPU, /* µs a request in its cpu steps; 0 in folders from before the column */
    PLOT_NMEASURES
};

/* What the report reads: the folder, summary.csv as written, and runs.csv's
 * points with their repeats, for the intervals of differences that
 * summary.csv cannot hold. Rows below are summary.csv's. */
struct plot__report {
    const struct plot__folder *f;
    struct csv_table summary;
    struct summary_set set;
    double (*means)[PLOT_NMEASURES]; /* one per point of set */
    FILE *out;
};

/* s with &, <, > and " escaped. */
void plot__html(FILE *out, const char *s);
/* Row row's point in set, with its repeats' values; NULL if none. */
const struct summary_point *plot__repeats(const struct plot__report *rp, int row);
/* A measurement summary.csv does not carry, the mean over row's ok runs;
 * NAN without one. */
double plot__runs_mean(const struct plot__report *rp, int row, enum plot__measure m);
/* Half the width of row's throughput interval; NAN without one. */
double plot__half_width(const struct plot__report *rp, int row);
/* A config's peak: its closed-loop row with the highest mean throughput,
 * or -1 when none has an ok run. */
int plot__peak_row(const struct plot__report *rp, const char *engine);

/* The findings list of report.html (report_findings.c). */
void plot__write_findings(const struct plot__report *rp);
/* Its items on each config's capacity at the sweep's goal, when it has one
 * (report_capacity.c). */
void plot__write_capacity(const struct plot__report *rp);
/* Its items on where a config's measured p99 departs from its model's
 * (report_model.c). */
void plot__write_departures(const struct plot__report *rp);
/* The section on each request type's p99, when the workload has two or more
 * (report_requests.c). */
void plot__write_requests(const struct plot__report *rp);

#endif
