/* What plot.c (the charts), report.c and report_findings.c (report.html)
 * share: a results folder as they see it, and the report's reading of its
 * load points. Names here are internal (plot__); plot.h is the module's API. */
#ifndef OVERLAP_PLOT_INTERNAL_H
#define OVERLAP_PLOT_INTERNAL_H

#include <limits.h>
#include <stddef.h>

#include <stdio.h>

#include "config.h"
#include "csv.h"
#include "model.h"
#include "summary.h"

struct wl_workload;

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
    /* what a reader calls each: runs.csv's label, else the config's
     * default (a folder from before labels), all distinct */
    char labels[PLOT_MAX_ENGINES][BENCH_LABEL_LEN];
    int n;
};

/* The gnuplot variables under construction: appends stop at the end of
 * the buffer (at == len then), and a list that did not fit is refused as
 * a whole. */
struct plot__vars {
    char *s;
    size_t len, at;
};
void plot__put(struct plot__vars *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs scripts/CHART.gp for one format (png or svg) on dir with vars,
 * drawing dir/CHART.FMT; 0, or -1 with gnuplot's last error line in err. */
int plot__run_gnuplot(const char *scripts, const char *dir, const char *chart, const char *fmt,
                      const char *vars, char *err, size_t errlen);

/* The config's ceiling: its bound with unlimited clients, as the sweep
 * wrote it on every row of runs; INFINITY when its rows give none (a
 * workload with no CPU step on an engine without workers), 0 when the
 * config has no row. */
double plot__ceiling(const struct csv_table *runs, const char *engine);

/* What a reader calls config spec: its label in f, or the spec itself for
 * a config f does not name (plot.c). */
const char *plot__label(const struct plot__folder *f, const char *spec);

/* Rewrites the SVG at path so that each point gnuplot drew `with labels
 * hypertext` carries its text as an SVG <title>, the tooltip a browser
 * shows on hover without a script (plot_hover.c). 0, or -errno. */
int plot__svg_tooltips(const char *path);

/* Reads dir's runs.csv and meta.txt into f. 0, or -1 with one line in err
 * (f then holds nothing to free). */
int plot__folder_open(const char *dir, struct plot__folder *f, char *err, size_t errlen);

/* What the timeline chart needs to lay out its axes. */
struct tl_extent {
    int requests;  /* the largest request number of any config */
    double end_ms; /* the latest response (or send, if unanswered) */
};

/* Writes the folder's timeline-segments.csv and timeline-requests.csv from
 * each config's first timeline run, and the axes' extent into x: the
 * number of requests, 0 without a timeline, or -errno (plot_timeline.c). */
int plot__derive_timeline(const struct plot__folder *f, struct tl_extent *x);

/* Rows of runs that are load points (closed, open, timeline), not probes
 * of a capacity search or a map. */
int plot__point_runs(const struct csv_table *runs);

/* The server's CPUs from meta.txt: `server_cpus` counted, else the
 * machine's `cores`, else 1. */
int plot__server_cores(const char *dir);

/* Writes dir/summary.csv when it is missing, older than runs.csv or
 * without the columns of this overlap (a folder from before them), with
 * the server's core count from meta.txt. 0, or -errno with one line in err. */
int plot__refresh_summary(const char *dir, char *err, size_t errlen);

/* ---- the models (plot_model.c) ---- */

/* What the models read of a folder: the workload's service (its copy
 * workload.ini) and the server's cores (meta.txt). ok 0 when the workload
 * cannot be read: then no config has a model. */
struct plot__model {
    struct model_service svc;
    struct wl_workload *wl; /* the workload copy, for the simulator; NULL without one */
    int cores, ok;
    double slice_us; /* the kernel's base slice on the sweep's machine (plot__kernel_slice_us) */
    /* PostgreSQL: each config's connection budget, runs.csv's db_connections */
    int nbudgets;
    struct {
        char spec[BENCH_SPEC_LEN];
        int connections;
    } budgets[PLOT_MAX_ENGINES];
};

/* 0, or -errno with m->ok 0; m is plot__model_free'd after either way. */
int plot__model_load(const char *dir, struct plot__model *m);
/* Config spec as the model reads it: parsed, with the budget it ran with
 * (e->db_budget, 0 when none). 0, or -EINVAL. */
int plot__model_engine(const struct plot__model *m, const char *spec, struct bench_engine *e);
void plot__model_free(struct plot__model *m);
/* Config spec's predicted latencies at rate: a pool by model_pool_predict
 * with its workers (the server's default when unset), async and coro by
 * model_loop_predict with their loops (one per core when unset); on
 * PostgreSQL a pool with no more workers than its budget, a loop saturated
 * at its connections' C / w, the bounds the sweep used. 0, or -EINVAL (no
 * model, or a spec that does not parse). */
int plot__model_predict(const struct plot__model *m, const char *spec, double rate,
                        struct model_prediction *out);
/* Where the config's model saturates, req/s; NAN without a model. */
double plot__model_ceiling(const struct plot__model *m, const char *spec);

/* ---- the ideal system, simulated (plot_ideal.c) ---- */

#define PLOT_REF_POINTS 64 /* the simulator's points on one config's curve */

/* One config's reference: the simulator's points (its grid and the measured
 * rates, up to where the ideal system saturates) with the model beside
 * them, and which of the two is drawn. */
struct plot__reference {
    int n;
    double rate[PLOT_REF_POINTS];
    struct model_prediction sim[PLOT_REF_POINTS], model[PLOT_REF_POINTS];
    /* the model's largest miss in units of its tolerance (MODEL_TOL_P99 on
     * the p99, MODEL_TOL_P50 on the p50), at point worst_at; INFINITY with
     * worst_at -1 when the ideal system saturates at overload_rate, well
     * under the model's ceiling */
    double worst, overload_rate;
    int worst_at;
    int simulated; /* worst > 1: the simulator's curve is drawn, not the model's */
};

/* The kernel's base slice (µs) on the machine meta.txt describes; 0 when it
 * does not say. */
double plot__kernel_slice_us(const char *dir);
/* The ideal system's latencies for spec at rate (open loop), with
 * engine_cpu_us of the server's own CPU a request beside the workload's:
 * every figure INFINITY at or near its saturation. 0, or -EINVAL. */
int plot__ideal_predict(const struct plot__model *m, const char *spec, double rate,
                        double engine_cpu_us, struct model_prediction *out);
/* The ideal system over runs as short as a measured one: warmup_s of
 * arrivals from an empty server, then window_s of them measured; the
 * median p99 over 21 seeds. 0, -E2BIG for a run too long to simulate here,
 * or -EINVAL. */
int plot__ideal_window(const struct plot__model *m, const char *spec, double rate, double window_s,
                       double warmup_s, double *p99_ms);
/* spec's reference over its measured open-loop rates. 0, or -EINVAL
 * without a model or a measured rate. */
int plot__reference(const struct plot__model *m, const char *spec, const double *measured,
                    int nmeasured, struct plot__reference *ref);

/* Brings dir/model.csv up to date (plot_model.c): rewritten when missing,
 * older than runs.csv, workload.ini or meta.txt, or from before its last
 * column; each config's drawn curve over its open-loop rates up to
 * saturation, the model's or the ideal system's. curves[] gets each
 * config's rows in it, simulated[] 1 where the ideal system's curve is
 * drawn. 0, or -errno. A folder without workload.ini gets a model.csv of
 * its header alone: no curve drawn. */
int plot__write_models(const struct plot__folder *f, int *curves, int *simulated);

/* runs.csv's measurements the report shows beside summary.csv's, each the
 * mean over a point's ok runs. */
enum plot__measure {
    PLOT_BOUND,
    PLOT_P50,
    PLOT_RSS_KIB,
    PLOT_THREADS,
    PLOT_WORKLOAD_CPU, /* µs a request in its cpu steps; 0 in folders from before the column */
    PLOT_REQUESTS,     /* responses in a run's window */
    PLOT_INVOL_CTXSW,  /* the server's involuntary context switches a second */
    PLOT_VOL_CTXSW,    /* and its voluntary ones */
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
void report__html(FILE *out, const char *s);
/* Config spec's label, escaped: f's, else the config's default (a config
 * the folder does not name, as a capacity.csv or map.csv of other configs
 * may). */
void report__write_label(FILE *out, const struct plot__folder *f, const char *spec);
/* Row row's point in set, with its repeats' values; NULL if none. */
const struct summary_point *report__repeats(const struct plot__report *rp, int row);
/* A measurement summary.csv does not carry, the mean over row's ok runs;
 * NAN without one. */
double report__runs_mean(const struct plot__report *rp, int row, enum plot__measure m);
/* Half the width of row's throughput interval; NAN without one. */
double report__half_width(const struct plot__report *rp, int row);
/* A config's peak: its closed-loop row with the highest mean throughput,
 * or -1 when none has an ok run. */
int report__peak_row(const struct plot__report *rp, const char *engine);

/* Whether the ';'-separated flag list holds word (report.c). */
int report__has_flag(const char *list, const char *word);
/* A ';'-separated flag list as words: "unsteady, noisy" (report.c). */
void report__write_flag_list(FILE *out, const char *list);
/* Summary row r's p99 median with its order-statistic interval, which need
 * not be symmetric: "80.1 [79.0, 82.4]", "80.1" without one, "-" without a
 * p99 (report_points.c). */
void report__write_p99(FILE *out, const struct csv_table *s, int r);
/* Config engine's table of load points (report_points.c). */
void report__write_points(const struct plot__report *rp, const char *engine);

/* ---- the crossover map (plot_map.c, report_map.c) ---- */

#define PLOT_MAP_AXIS 32 /* values of CPU or of wait one map holds: a grid a chart can label */

/* One side of a map cell: the config of one architecture (event loop or
 * pool) with the highest capacity there, and its bracket. */
struct plot__map_best {
    const char *engine; /* in the map's table; NULL: the cell has no config of this kind */
    double rps;         /* 0: it never met the goal */
    /* the bracket widened by the probes' uncertainty: lo the highest rate
     * met, hi the lowest missed, or the bound when none was (INFINITY
     * without one: rps a lower bound) */
    double lo, hi;
    int undecided; /* its search ended undecided: no rate judged met or missed below hi */
};

/* Who serves more in a cell. */
enum plot__map_verdict {
    PLOT_MAP_LOOP,        /* the best event loop, by more than the brackets' overlap */
    PLOT_MAP_POOL,        /* the best pool, likewise */
    PLOT_MAP_TIE,         /* the two brackets overlap: the search cannot tell them apart */
    PLOT_MAP_NONE,        /* neither met the goal at any rate */
    PLOT_MAP_MISSING,     /* the cell lacks one architecture or both (an interrupted sweep) */
    PLOT_MAP_UNREACHABLE, /* the idle request's percentile is past the goal: nothing searched */
    PLOT_MAP_MARGINAL,    /* the goal lies within the idle percentile's interval */
    PLOT_MAP_UNDECIDED,   /* neither met the goal, and a search could not tell */
};

struct plot__map_cell {
    struct plot__map_best loop, pool;
    double ratio; /* loop / pool capacity: INFINITY when the pool's is 0, NAN when undefined */
    enum plot__map_verdict verdict;
    /* the idle request's percentile, by the workload's distributions and
     * measured (NAN when map.csv has none) */
    double idle_model_ms, idle_ms;
};

/* map.csv read into its grid: cpu_us and wait_ms in increasing order, the
 * cells indexed [cpu][wait]. workers and cores are the largest pool's N
 * (workers > 0; 0 when no pool has a limit) and its server's CPUs, which
 * draw the theoretical frontier. */
struct plot__map {
    struct csv_table table;
    double cpu_us[PLOT_MAP_AXIS], wait_ms[PLOT_MAP_AXIS];
    int ncpu, nwait;
    struct plot__map_cell cell[PLOT_MAP_AXIS][PLOT_MAP_AXIS];
    int workers, cores;
};

/* Reads dir/map.csv into m: 0; -ENOENT when the folder has none (no
 * message); -ENODATA for a header without rows; -EINVAL (or another
 * -errno) with one line in err. m is always plot__map_free'd after. */
/* Draws map.png and map.svg when dir has a map.csv, with every script's
 * vars and the map's own: 0, or 1 after saying why it was not drawn (a
 * map.csv that cannot be read costs the map alone). */
int plot__draw_map(const char *dir, const char *scripts, const char *vars);
int plot__map_read(const char *dir, struct plot__map *m, char *err, size_t errlen);
void plot__map_free(struct plot__map *m);
/* The wait (ms) above which the pool's bound N/(c+w) falls under the
 * CPU's k/c at cpu_us of CPU: c (N/k - 1); NAN without a pool limit. */
double plot__map_frontier(const struct plot__map *m, double cpu_us);
/* The sweep's goal as words, "p99 under 100 ms", from meta.txt's `slo:`
 * or the suite copy's `slo =`; 0, or -ENOENT without one. */
int plot__goal(const char *dir, char *out, size_t len);
/* A cell's ratio as its label says it: "3.2x", "1/1.4x" (the pool serves
 * 1.4 times more), "tie", "pool 0", "loop 0", "none", "no pool", "no loop",
 * "unreachable", "marginal", "undecided". */
void plot__map_label(const struct plot__map_cell *c, char *out, size_t len);
/* A time in ms as the map's axes say it: "2.5 ms", "1 s", and with
 * micro, under 1 ms in µs ("50 µs"). */
void plot__map_time(double ms, int micro, char *out, size_t len);

/* Copies the SVG at path into out from its <svg> element on, its ids
 * prefixed with chart; 0, or -1 when there is none (report.c). */
int report__inline_svg(FILE *out, const char *path, const char *chart);
/* The map's figure and its section of report.html, when the folder has a
 * map.csv (report_map.c). */
void report__write_map(const struct plot__report *rp);

/* The answer report.html opens with: where the configs tie and why, where
 * they part, what no run could show (report_answer.c). */
void report__write_answer(const struct plot__report *rp);
/* The table `overlap bench` prints as it ends, by label (report_table.c). */
void report__write_summary(const struct plot__report *rp);
/* What a flag of summary.csv says, in a few words ("the window was too
 * short to settle"); "" for a word it does not know (report.c). */
const char *report__flag_meaning(const char *word);

/* The findings list of report.html (report_findings.c). */
void report__write_findings(const struct plot__report *rp);
/* Its items on each config's capacity at the sweep's goal, when it has one
 * (report_capacity.c). */
void report__write_capacity(const struct plot__report *rp);
/* capacity.csv's and map.csv's rows, read alike (report_capacity.c): row r's
 * field name as a finite number, else NAN (empty, absent, not one); and the
 * upper end of its widened bracket, the lowest rate missed (the lowest not
 * met in an older file), else the bound, INFINITY when nothing bounds it. */
double report__number(const struct csv_table *t, int r, const char *name);
double report__bracket_hi(const struct csv_table *t, int r);
/* Its items on each config's reference curve (its model, or the ideal
 * system simulated), and where the measured p99 departs from it, with what
 * the ideal system lacked (report_model.c, report_ideal.c). */
void report__write_departures(const struct plot__report *rp);
/* Whether summary row r's measured p99 departs from a reference pred: its
 * interval (or its median, with one repeat) misses pred by more than 20 %
 * of it (report_model.c). */
int report__departs(const struct csv_table *s, int r, double pred);
/* What the ideal system lacked at summary row r, where its measured p99
 * departs from the reference ref_ms, from the run's own figures, as
 * clauses of the departure's sentence (report_ideal.c). */
void report__write_lacks(const struct plot__report *rp, const struct plot__model *m, int r,
                         const char *engine, double ref_ms);
/* The section on each request type's p99, when the workload has two or more
 * (report_requests.c). */
void report__write_requests(const struct plot__report *rp);

#endif
