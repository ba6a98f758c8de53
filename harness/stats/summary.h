/* A results folder's runs.csv grouped into load points, each with its
 * repeats' measurements, and summary.csv: one row per point with its mean,
 * median and 95 % intervals (results/README.md documents both files). */
#ifndef OVERLAP_SUMMARY_H
#define OVERLAP_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include "csv.h"

/* A point: one (engine, loop, clients, rate) of a sweep. Its key strings
 * are those of the first row that named it and live in the set's table. */
struct summary_point {
    const char *engine, *loop, *clients, *rate;
    const char *label;        /* runs.csv's label of the config; "" in a folder from before it */
    double clients_n, rate_n; /* the key's numbers: "0" and "0.000" are one rate */
    int repeats;              /* rows with status ok: the values below have this many */
    int failed;               /* rows with any other status: counted, never averaged */
    const double *throughput; /* req/s, one per repeat in the order they ran */
    const double *p99;        /* ms */
    const double *cpu_us;     /* server CPU per request, µs; NAN where a run lacks it */
    const double *littles;    /* Little's ratio; NAN where undefined (open loop) */
    char *flags;              /* the union of the rows' flags, ';'-separated; NULL: none */
};

struct summary_set {
    struct csv_table table;
    struct summary_point *points; /* in the order points first appear */
    int npoints, nrows;
    double *values; /* one block behind every point's arrays */
};

/* Reads path (a runs.csv) into set. Needs the columns engine, loop, clients,
 * rate, status, throughput_rps and p99_ms, numbers where numbers belong,
 * and at least a header; the columns repeat, cpu_per_request_us,
 * littles_ratio and flags are used when present. 0, or -errno with one line
 * naming the file in err (-EINVAL: the file is not a runs.csv). set is
 * always summary_free'd after. */
int summary_read(const char *path, struct summary_set *set, char *err, size_t errlen);
void summary_free(struct summary_set *set);

/* What a reader calls p's config: runs.csv's label, else the config's
 * default (bench_spec_label). */
void summary_label(const struct summary_point *p, char *out, size_t len);

/* The index of the point with this key in set, or -1. */
int summary_find(const struct summary_set *set, const char *engine, const char *loop,
                 double clients, double rate);

/* Writes set as summary.csv (header and one row per point) to out. cores
 * is the number of CPUs the server ran on, for ceiling_measured_rps (left
 * empty when cores < 1). Each config's Universal Scalability Law fit over
 * its closed-loop means (model_usl_fit) fills usl_sigma, usl_kappa and
 * usl_n_star on every row of the config, empty where it has fewer than
 * three such points; label ends each row (runs.csv's, else the config's
 * default, bench_spec_label). 0, or -ENOMEM. */
int summary_print(const struct summary_set *set, int cores, FILE *out);

/* Reads dir/runs.csv and writes dir/summary.csv atomically (a temporary file
 * renamed over it, so a reader never sees half a file). 0, or -errno with
 * one line in err. */
int summary_write(const char *dir, int cores, char *err, size_t errlen);

/* ---- the end-of-sweep table (summary_line.c) ---- */

#define SUMMARY_LINE_POINTS 256 /* closed and open points of one config a line reads */

/* A p99 median with its interval; NAN where there is none. */
struct summary_p99 {
    double p99, lo, hi;
};

/* One config's line of the table `overlap bench` prints and report.html
 * shows, from summary.csv: its peak over the closed and open loop points
 * (the mean with its 95 % interval, NAN ends with one repeat), what the
 * server's cores hold at the CPU it measured there, and the p99 at half and
 * nine tenths of the peak's throughput, interpolated on the open loop's
 * curve below saturation. */
struct summary_line {
    int peak_row; /* the peak's row of summary.csv */
    double tp, tp_lo, tp_hi;
    double cpu_ceiling; /* ceiling_measured_rps at the peak */
    struct summary_p99 at50, at90;
};

/* spec's line from summary.csv t: 0, or -1 when no point of it finished. */
int summary_line(const struct csv_table *t, const char *spec, struct summary_line *line);

/* `12.1 [11.8, 12.5]`, the median alone without an interval, `-` without
 * either. */
void summary_p99_text(const struct summary_p99 *p, char *out, size_t len);

/* A flag word of summary.csv and the points that raised it. */
struct summary_flag {
    char word[32];
    int points;
};

/* The flag words of summary.csv t's points (of config spec only, unless
 * NULL), in the order they first appear, at most max: their number. */
int summary_flag_counts(const struct csv_table *t, const char *spec, struct summary_flag *out,
                        int max);

#endif
