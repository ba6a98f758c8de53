/* `overlap plot DIR`: (re)draws every chart of a results folder with the
 * gnuplot scripts in plots/, then writes report.html (report.c). It brings
 * summary.csv up to date first, since the charts of load points draw its
 * means and intervals, and prepares two small derived tables the scripts
 * need (the timeline's phase segments, and which run each config's
 * percentile spectrum shows); the scripts read everything else themselves. */
#define _GNU_SOURCE
#include "plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csv.h"
#include "plot_internal.h"
#include "proc.h"
#include "summary.h"

#ifndef OVERLAP_PLOTS_DIR
#define OVERLAP_PLOTS_DIR "plots"
#endif

const char *const plot__charts[PLOT_NCHARTS] = {"timeline", "throughput", "latency",
                                                "spectrum", "cost",       "efficiency"};

/* ---- running gnuplot ---- */

int plot__run_gnuplot(const char *scripts, const char *dir, const char *chart, const char *fmt,
                      const char *vars, char *err, size_t errlen)
{
    char script[PATH_MAX], expr[PATH_MAX + PLOT_VARS_LEN], out[PATH_MAX], log[PATH_MAX];
    snprintf(script, sizeof(script), "%s.gp", chart);
    snprintf(expr, sizeof(expr), "dir='%s'; fmt='%s'; %s", dir, fmt, vars);
    snprintf(log, sizeof(log), "%s/logs/plot-%s-%s.log", dir, chart, fmt);
    snprintf(out, sizeof(out), "%s/%s.%s", dir, chart, fmt);
    unlink(out);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (chdir(scripts) < 0 || !freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        dprintf(2, "cannot run gnuplot: %s (install gnuplot-nox; make deps does)\n",
                strerror(errno));
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(out, &st) == 0 && st.st_size > 0) {
        int rc = strcmp(fmt, "svg") ? 0 : plot__svg_tooltips(out);
        if (rc < 0)
            snprintf(err, errlen, "cannot write the tooltips into %s: %s", out, strerror(-rc));
        return rc < 0 ? -1 : 0;
    }
    /* gnuplot's message: the last line of its stderr that is not blank */
    char line[512] = "";
    FILE *f = fopen(log, "r");
    snprintf(err, errlen, "gnuplot exited with status %d and drew nothing",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && strspn(line, " ^") != strlen(line))
            snprintf(err, errlen, "%s", line);
    }
    if (f)
        fclose(f);
    return -1;
}

/* ---- the folder, and summary.csv ---- */

static int add_engine(char engines[][PLOT_SPEC_LEN], int n, const char *spec)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(engines[i], spec))
            return n;
    int printable = 1;
    for (const char *p = spec; *p; p++)
        printable &= *p > ' ' && *p < 0x7f && *p != '\'' && *p != '"' && *p != '\\';
    if (n == PLOT_MAX_ENGINES || !spec[0] || strlen(spec) >= PLOT_SPEC_LEN || !printable)
        return n; /* a name gnuplot could not take as one word is left out */
    snprintf(engines[n], PLOT_SPEC_LEN, "%s", spec);
    return n + 1;
}

/* The engine configs of the sweep in the order it ran them: meta.txt's
 * `engines:` line, then any config runs.csv names that meta.txt does not (a
 * folder whose meta.txt was lost still draws). The order fixes each config's
 * colour in every chart. */
static int read_engines(const char *dir, const struct csv_table *runs,
                        char engines[][PLOT_SPEC_LEN])
{
    char path[PATH_MAX], line[8192];
    int n = 0;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "engines:", 8) != 0)
            continue;
        char *save;
        for (char *w = strtok_r(line + 8, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
            n = add_engine(engines, n, w);
    }
    if (f)
        fclose(f);
    for (int r = 0; r < runs->nrows; r++)
        n = add_engine(engines, n, csv_get(runs, r, "engine"));
    return n;
}

/* Each config's label: the first that runs.csv gives it, else its default
 * (bench_spec_label), then made distinct. */
static void read_labels(struct plot__folder *f)
{
    const char *specs[PLOT_MAX_ENGINES];
    for (int e = 0; e < f->n; e++) {
        int r = 0;
        while (r < f->runs.nrows && (strcmp(csv_get(&f->runs, r, "engine"), f->engines[e]) ||
                                     !bench_label_valid(csv_get(&f->runs, r, "label"))))
            r++;
        if (r < f->runs.nrows)
            snprintf(f->labels[e], BENCH_LABEL_LEN, "%s", csv_get(&f->runs, r, "label"));
        else
            bench_spec_label(f->engines[e], f->labels[e], BENCH_LABEL_LEN);
        specs[e] = f->engines[e];
    }
    bench_labels_distinct(f->labels, specs, f->n);
}

const char *plot__label(const struct plot__folder *f, const char *spec)
{
    for (int e = 0; e < f->n; e++)
        if (!strcmp(f->engines[e], spec))
            return f->labels[e];
    return spec;
}

int plot__folder_open(const char *dir, struct plot__folder *f, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (csv_load(path, &f->runs) < 0 || csv_col(&f->runs, "engine") < 0) {
        snprintf(err, errlen,
                 "%s: not a results folder (no readable runs.csv with an engine column)", dir);
        csv_free(&f->runs);
        return -1;
    }
    f->n = read_engines(dir, &f->runs, f->engines);
    read_labels(f);
    return 0;
}

/* The CPUs the server ran on, for summary.csv's ceiling_measured_rps:
 * meta.txt's `server_cpus` list counted, or where the sweep let the server
 * run anywhere (`any`), the machine's `cores`; 1 when meta.txt says
 * neither, the fewest a server can have run on. */
int plot__server_cores(const char *dir)
{
    char path[PATH_MAX], line[4096];
    int list = -1, machine = -1;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "server_cpus: ", 13))
            list = proc_count_cpus(line + 13);
        else if (!strncmp(line, "cores: ", 7))
            machine = atoi(line + 7);
    }
    if (f)
        fclose(f);
    return list > 0 ? list : machine > 0 ? machine : 1;
}

/* Whether summary.csv's header has the columns this overlap writes: one
 * from before the label (the last added) is written again. */
static int summary_is_current(const char *path)
{
    char head[4096] = "";
    FILE *f = fopen(path, "r");
    if (f && !fgets(head, sizeof(head), f))
        head[0] = '\0';
    if (f)
        fclose(f);
    return strstr(head, ",label") != NULL;
}

int plot__refresh_summary(const char *dir, char *err, size_t errlen)
{
    char runs[PATH_MAX], summary[PATH_MAX];
    struct stat r, s;
    snprintf(runs, sizeof(runs), "%s/runs.csv", dir);
    snprintf(summary, sizeof(summary), "%s/summary.csv", dir);
    if (stat(runs, &r) == 0 && stat(summary, &s) == 0 &&
        (s.st_mtim.tv_sec > r.st_mtim.tv_sec ||
         (s.st_mtim.tv_sec == r.st_mtim.tv_sec && s.st_mtim.tv_nsec > r.st_mtim.tv_nsec)) &&
        summary_is_current(summary))
        return 0; /* newer than the runs it summarises; the same time could be older, since
                   * the kernel stamps files with a clock that ticks in milliseconds */
    return summary_write(dir, plot__server_cores(dir), err, errlen);
}

/* ---- what the scripts cannot easily derive themselves ---- */

double plot__ceiling(const struct csv_table *runs, const char *engine)
{
    int seen = 0;
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(csv_get(runs, r, "engine"), engine))
            continue;
        double x = csv_num(runs, r, "ceiling_rps");
        if (x > 0 && x < 1e299)
            return x;
        seen = 1;
    }
    return seen ? INFINITY : 0;
}

/* For each config, the open-loop run whose spectrum the chart shows: the
 * highest offered rate at or below 80 % of the config's ceiling (busy, but
 * short of the knee, where every config's tail differs most; any rate
 * without a ceiling), else the lowest rate it ran; -1 when it has no
 * open-loop run that answered a request (one that answered none has no
 * spectrum). Of a point's repeats, the first that ran. */
static void pick_spectrum_runs(const struct plot__folder *f, double *ids, double *rates)
{
    const struct csv_table *runs = &f->runs;
    for (int e = 0; e < f->n; e++) {
        int under = -1, lowest = -1;
        double limit = 0.8 * plot__ceiling(runs, f->engines[e]) * 1.001;
        for (int r = 0; r < runs->nrows; r++) {
            if (strcmp(csv_get(runs, r, "engine"), f->engines[e]) ||
                strcmp(csv_get(runs, r, "loop"), "open") ||
                strcmp(csv_get(runs, r, "status"), "ok") || !(csv_num(runs, r, "requests") > 0))
                continue;
            double rate = csv_num(runs, r, "rate");
            if (rate <= limit && (under < 0 || rate > csv_num(runs, under, "rate")))
                under = r;
            if (lowest < 0 || rate < csv_num(runs, lowest, "rate"))
                lowest = r;
        }
        int pick = under >= 0 ? under : lowest;
        ids[e] = pick >= 0 ? atoi(csv_get(runs, pick, "run")) : -1;
        rates[e] = pick >= 0 ? csv_num(runs, pick, "rate") : 0;
    }
}

/* The points of summary.csv with an interval (two repeats or more): with
 * none, the charts draw no error bar and move no config aside. */
static int count_intervals(const char *dir)
{
    char path[PATH_MAX + 16];
    struct csv_table t;
    int k = 0;
    snprintf(path, sizeof(path), "%s/summary.csv", dir);
    if (csv_load(path, &t) == 0)
        for (int r = 0; r < t.nrows; r++)
            k += *csv_get(&t, r, "throughput_lo") != '\0';
    csv_free(&t);
    return k;
}

int plot__point_runs(const struct csv_table *runs)
{
    int k = 0;
    for (int r = 0; r < runs->nrows; r++) {
        const char *loop = csv_get(runs, r, "loop");
        k += !strcmp(loop, "closed") || !strcmp(loop, "open") || !strcmp(loop, "timeline");
    }
    return k;
}

/* Whether dir's runs.csv has a load point to chart (a folder of capacity
 * or map probes alone has none: its six charts would say so six times). */
static int has_points(const char *dir)
{
    char path[PATH_MAX + 16];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (csv_load(path, &t) < 0)
        return 1; /* let the charts say what is wrong */
    int n = plot__point_runs(&t);
    csv_free(&t);
    return n > 0;
}

static int count_ok(const struct csv_table *runs, const char *loop)
{
    int k = 0;
    for (int r = 0; r < runs->nrows; r++)
        k += !strcmp(csv_get(runs, r, "loop"), loop) && !strcmp(csv_get(runs, r, "status"), "ok");
    return k;
}

void plot__put(struct plot__vars *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = v->at < v->len ? vsnprintf(v->s + v->at, v->len - v->at, fmt, ap) : 0;
    va_end(ap);
    v->at = k < 0 || v->at + (size_t)k >= v->len ? v->len : v->at + (size_t)k;
}

/* `name='x1 x2 ...'; `, one number per config. */
static void put_list(struct plot__vars *v, const char *name, const double *x, int n, int decimals)
{
    plot__put(v, "%s='", name);
    for (int e = 0; e < n; e++)
        plot__put(v, "%s%.*f", e ? " " : "", decimals, x[e]);
    plot__put(v, "'; ");
}

/* Each config's Universal Scalability Law fit as summary.csv holds it on
 * the config's rows, as three lists (usl_sigma, usl_kappa, usl_nstar), -1
 * where a config has none and for an N* without peak (summary.csv from
 * before the fit: none anywhere); and its rows in model.csv (model_rows),
 * so a chart draws no empty curve, and which curve they are (model_sim: 1
 * for the ideal system's, simulated, 0 for the model's). */
static void put_usl(struct plot__vars *v, const struct plot__folder *f, const int *curves,
                    const int *simulated)
{
    static const char *const names[] = {"usl_sigma", "usl_kappa", "usl_nstar"};
    static const char *const columns[] = {"usl_sigma", "usl_kappa", "usl_n_star"};
    static const int decimals[] = {4, 6, 1};
    double x[3][PLOT_MAX_ENGINES];
    char path[PATH_MAX + 16];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/summary.csv", f->dir);
    int have = csv_load(path, &t) == 0;
    for (int e = 0; e < f->n; e++) {
        int r = 0;
        while (have && r < t.nrows &&
               (strcmp(csv_get(&t, r, "engine"), f->engines[e]) || !*csv_get(&t, r, "usl_sigma")))
            r++;
        for (int k = 0; k < 3; k++)
            x[k][e] = have && r < t.nrows && *csv_get(&t, r, columns[k])
                          ? csv_num(&t, r, columns[k])
                          : -1;
    }
    csv_free(&t);
    for (int k = 0; k < 3; k++)
        put_list(v, names[k], x[k], f->n, decimals[k]);
    for (int e = 0; e < f->n; e++)
        x[0][e] = curves[e];
    put_list(v, "model_rows", x[0], f->n, 0);
    for (int e = 0; e < f->n; e++)
        x[0][e] = simulated[e];
    put_list(v, "model_sim", x[0], f->n, 0);
}

/* The gnuplot variables every script gets beside dir and fmt; 0, or -1
 * when they do not fit in len. */
static int script_vars(const struct plot__folder *f, const struct tl_extent *tl, const int *curves,
                       const int *simulated, char *buf, size_t len)
{
    const struct csv_table *runs = &f->runs;
    double x[PLOT_MAX_ENGINES], service_ms = 0;
    struct plot__vars v = {buf, len, 0};
    for (int r = 0; r < runs->nrows && service_ms <= 0; r++)
        service_ms = csv_num(runs, r, "mean_cpu_ms") + csv_num(runs, r, "mean_wait_ms");
    plot__put(&v,
              "n_closed=%d; n_open=%d; n_intervals=%d; tl_requests=%d; tl_end_ms=%.3f; "
              "service_ms=%.6f; engines='",
              count_ok(runs, "closed"), count_ok(runs, "open"), count_intervals(f->dir),
              tl->requests, tl->end_ms, service_ms);
    for (int e = 0; e < f->n; e++)
        plot__put(&v, "%s%s", e ? " " : "", f->engines[e]);
    plot__put(&v, "'; ");
    for (int e = 0; e < f->n; e++) /* a label holds no quote (bench_label_valid) */
        plot__put(&v, "config_label_%d='%s'; ", e + 1, f->labels[e]);
    double rates[PLOT_MAX_ENGINES];
    pick_spectrum_runs(f, x, rates);
    put_list(&v, "spectrum_runs", x, f->n, 0);
    put_list(&v, "spectrum_rates", rates, f->n, 0);
    for (int e = 0; e < f->n; e++) {
        double ceiling = plot__ceiling(runs, f->engines[e]);
        x[e] = isfinite(ceiling) ? ceiling : 0; /* 0: none to draw */
    }
    put_list(&v, "ceilings", x, f->n, 3);
    put_usl(&v, f, curves, simulated);
    return v.at < v.len ? 0 : -1;
}

/* ---- the command ---- */

static const char plot_usage[] =
    "usage: overlap plot DIR [--scripts DIR]\n"
    "  brings DIR/summary.csv up to date, redraws every chart of a results folder\n"
    "  (PNG and SVG) and its report.html\n"
    "  --scripts DIR   the gnuplot scripts (default: plots/ here, else the source tree's)\n";

int plot_main(int argc, char **argv)
{
    const char *scripts = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scripts") && i + 1 < argc) {
            scripts = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(plot_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || arg) {
            fprintf(stderr, "overlap plot: unexpected argument '%s'\n%s", argv[i], plot_usage);
            return 2;
        } else {
            arg = argv[i];
        }
    }
    if (!arg) {
        fputs(plot_usage, stderr);
        return 2;
    }
    struct stat st;
    if (!scripts)
        scripts = stat("plots/common.gp", &st) == 0 ? "plots" : OVERLAP_PLOTS_DIR;
    return plot_dir(arg, scripts);
}

/* Runs every script in both formats; 0, or 1 after naming the first that failed. */
static int draw_charts(const char *dir, const char *scripts, const char *vars)
{
    char err[512];
    for (int c = 0; c < PLOT_NCHARTS; c++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            if (plot__run_gnuplot(scripts, dir, plot__charts[c], fmt ? "svg" : "png", vars, err,
                                  sizeof(err)) < 0) {
                fprintf(stderr, "overlap plot: %s/%s.gp: %s\n", scripts, plot__charts[c], err);
                return 1;
            }
        }
    }
    return 0;
}

/* summary.csv brought up to date, the timeline laid out, the variables
 * written: what plot_prepare does once the folder is open. */
static int prepare_folder(const struct plot__folder *f, char *vars, size_t len, char *err,
                          size_t errlen)
{
    char path[PATH_MAX + 16];
    struct tl_extent tl = {0};
    int curves[PLOT_MAX_ENGINES], simulated[PLOT_MAX_ENGINES];
    snprintf(path, sizeof(path), "%s/logs", f->dir);
    mkdir(path, 0755);
    if (plot__refresh_summary(f->dir, err, errlen) < 0)
        return -1;
    if (plot__derive_timeline(f, &tl) < 0) {
        snprintf(err, errlen, "cannot write the timeline's tables in %s", f->dir);
        return -1;
    }
    /* a folder without its workload's copy has no model to draw: the
     * charts go without (model.csv absent) */
    plot__write_models(f, curves, simulated);
    if (script_vars(f, &tl, curves, simulated, vars, len) < 0) {
        snprintf(err, errlen, "too many engine configs to pass to gnuplot");
        return -1;
    }
    return 0;
}

int plot_prepare(const char *dir, char *vars, size_t len, char *err, size_t errlen)
{
    struct plot__folder *f = calloc(1, sizeof(*f));
    int status = -1;
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (plot__folder_open(dir, f, err, errlen) == 0) {
        status = prepare_folder(f, vars, len, err, errlen);
        csv_free(&f->runs);
    }
    free(f);
    return status;
}

int plot_dir(const char *arg, const char *scripts)
{
    char dir[PATH_MAX], vars[PLOT_VARS_LEN], err[PATH_MAX + 256];
    if (!realpath(arg, dir)) {
        fprintf(stderr, "overlap plot: %s: %s\n", arg, strerror(errno));
        return 1;
    }
    if (strchr(dir, '\'')) {
        fprintf(stderr,
                "overlap plot: %s: a folder name with a quote cannot be passed to "
                "gnuplot (rename it)\n",
                dir);
        return 1;
    }
    if (plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap plot: %s\n", err);
        return 1;
    }
    if (has_points(dir) && draw_charts(dir, scripts, vars) != 0)
        return 1;
    int failed = plot__draw_map(dir, scripts, vars);
    int rc = plot_write_report(dir);
    if (rc < 0) {
        fprintf(stderr, "overlap plot: cannot write %s/report.html: %s\n", dir, strerror(-rc));
        return 1;
    }
    printf("charts and report.html written in %s%s\n", dir,
           failed ? " (but for the map: see above)" : "");
    return failed;
}
