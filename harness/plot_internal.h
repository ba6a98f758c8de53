/* What plot.c (the charts), report.c and report_findings.c (report.html)
 * share: a results folder as they see it, and the report's reading of its
 * load points. Names here are internal (plot__); plot.h is the module's API. */
#ifndef OVERLAP_PLOT_INTERNAL_H
#define OVERLAP_PLOT_INTERNAL_H

#include <limits.h>
#include <stddef.h>

#include <stdio.h>

#include "csv.h"
#include "summary.h"

#define PLOT_MAX_ENGINES 64  /* configs of one sweep: a suite names a handful */
#define PLOT_SPEC_LEN    128 /* one config's spec, as runs.csv spells it */
#define PLOT_NCHARTS     6

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

/* Writes dir/summary.csv when it is missing or older than runs.csv, with
 * the server's core count from meta.txt. 0, or -errno with one line in err. */
int plot__refresh_summary(const char *dir, char *err, size_t errlen);

/* runs.csv's measurements the report shows beside summary.csv's, each the
 * mean over a point's ok runs. */
enum plot__measure { PLOT_BOUND, PLOT_P50, PLOT_RSS_KIB, PLOT_THREADS, PLOT_NMEASURES };

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

#endif
