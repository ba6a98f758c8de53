/* The reference curves beside the measurements (plots/README.md, "The
 * models"): each config's p50 and p99 against offered rate into model.csv
 * for the latency chart, its queueing model's or, where the model departs
 * from the ideal system beyond its tolerance, the ideal system's simulated
 * (plot_ideal.c). Read from the folder alone: workload.ini (the sweep's
 * copy) for the workload, meta.txt for the server's cores and the kernel.
 * (The Universal Scalability Law fit is summary.csv's, written by summary.c.) */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "model.h"
#include "plot_internal.h"
#include "wl.h"

/* model.csv's rates per config: log-spaced from the lowest rate measured
 * up to the config's ceiling, dense enough that the knee is a curve. */
#define CURVE_POINTS 48
/* The curve ends this close under the ceiling: past it the queue waits
 * INFINITY, which no chart draws. */
#define CURVE_END 0.995

/* Each config's database budget from runs.csv: the first of its runs that
 * names one (a folder from before PostgreSQL, or on overlap db, has none). */
static void load_budgets(const char *dir, struct plot__model *m)
{
    char path[PATH_MAX + 16];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (csv_load(path, &t) < 0)
        return;
    for (int r = 0; r < t.nrows && csv_col(&t, "db_connections") >= 0; r++) {
        const char *spec = csv_get(&t, r, "engine");
        double c = csv_num(&t, r, "db_connections");
        int known = 0;
        for (int i = 0; i < m->nbudgets && !known; i++)
            known = !strcmp(m->budgets[i].spec, spec);
        if (known || !(c >= 1) || c > INT_MAX || m->nbudgets == PLOT_MAX_ENGINES)
            continue;
        snprintf(m->budgets[m->nbudgets].spec, sizeof(m->budgets[0].spec), "%s", spec);
        m->budgets[m->nbudgets++].connections = (int)c;
    }
    csv_free(&t);
}

int plot__model_engine(const struct plot__model *m, const char *spec, struct bench_engine *e)
{
    char err[256];
    if (bench_parse_engine(spec, e, err, sizeof(err)) < 0)
        return -EINVAL;
    for (int i = 0; i < m->nbudgets; i++)
        if (!strcmp(m->budgets[i].spec, spec))
            e->db_budget = m->budgets[i].connections;
    return 0;
}

int plot__model_load(const char *dir, struct plot__model *m)
{
    char path[PATH_MAX + 16], err[WL_ERR_LEN];
    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/workload.ini", dir);
    if (wl_load(path, &m->wl, err, sizeof(err)) < 0) {
        m->wl = NULL;
        return -ENOENT;
    }
    int rc = model_service_from_workload(m->wl, &m->svc);
    load_budgets(dir, m);
    m->cores = plot__server_cores(dir);
    m->slice_us = plot__kernel_slice_us(dir);
    m->ok = rc == 0;
    return rc;
}

void plot__model_free(struct plot__model *m)
{
    wl_free(m->wl);
    m->wl = NULL;
    m->ok = 0;
}

/* What a loop's PostgreSQL connections serve: C / w, each held only while a
 * query waits; INFINITY without a budget. */
static double held_ceiling(const struct plot__model *m, const struct bench_engine *e)
{
    int c = bench_config_connections(e);
    return c > 0 && m->svc.wait_ms > 0 ? c / m->svc.wait_ms * 1e3 : INFINITY;
}

/* Which model draws a config: a pool is its workers on the cores (the
 * server's default when the spec leaves them, a thread per request for
 * workers=0; on PostgreSQL, no more than its connection budget); async and
 * coro are event loops, each one server of the CPU, and on PostgreSQL
 * saturate at their connections' C / w too (short of it, the wait for a
 * free connection is not modelled). */
int plot__model_predict(const struct plot__model *m, const char *spec, double rate,
                        struct model_prediction *out)
{
    struct bench_engine e;
    if (!m->ok || plot__model_engine(m, spec, &e) < 0)
        return -EINVAL;
    if (e.kind == BENCH_POOL)
        return model_pool_predict(&m->svc, bench_config_workers(&e), m->cores, rate, out);
    int rc = model_loop_predict(&m->svc, e.loops > 0 ? e.loops : m->cores, m->cores, rate, out);
    double held = held_ceiling(m, &e);
    if (rc == 0 && rate >= held) {
        out->mean_ms = out->p50_ms = out->p99_ms = INFINITY;
        out->utilisation = fmax(out->utilisation, rate / held);
    }
    return rc;
}

double plot__model_ceiling(const struct plot__model *m, const char *spec)
{
    struct bench_engine e;
    if (!m->ok || plot__model_engine(m, spec, &e) < 0)
        return NAN;
    if (e.kind == BENCH_POOL)
        return model_pool_ceiling(&m->svc, bench_config_workers(&e), m->cores);
    return fmin(model_loop_ceiling(&m->svc, e.loops > 0 ? e.loops : m->cores, m->cores),
                held_ceiling(m, &e));
}

/* The distinct open-loop rates config engine ran, up to max. */
static int open_rates(const struct csv_table *runs, const char *engine, double *rates, int max)
{
    int n = 0;
    for (int r = 0; r < runs->nrows && n < max; r++) {
        if (strcmp(csv_get(runs, r, "engine"), engine) || strcmp(csv_get(runs, r, "loop"), "open"))
            continue;
        double rate = csv_num(runs, r, "rate"), *seen = rates;
        while (seen < rates + n && fabs(*seen - rate) > 1e-9 * rate)
            seen++;
        if (seen == rates + n && rate > 0 && isfinite(rate))
            rates[n++] = rate;
    }
    return n;
}

/* A row of model.csv: the drawn curve's point, and where the simulator ran,
 * the model's and the ideal system's p50 and p99 (the model's empty past
 * its saturation). */
static void write_row(FILE *out, const char *engine, double rate, const struct model_prediction *p,
                      int simulated, const struct plot__reference *ref, int at)
{
    fprintf(out, "%s,%.3f,%.6f,%.6f,%.6f,%.4f,%s", engine, rate, p->p50_ms, p->p99_ms, p->mean_ms,
            p->utilisation, simulated ? "simulated" : "model");
    if (at >= 0 && isfinite(ref->model[at].p99_ms))
        fprintf(out, ",%.6f,%.6f", ref->model[at].p50_ms, ref->model[at].p99_ms);
    else
        fputs(",,", out);
    if (at >= 0)
        fprintf(out, ",%.6f,%.6f\n", ref->sim[at].p50_ms, ref->sim[at].p99_ms);
    else
        fputs(",,\n", out);
}

/* The point of ref at rate, or -1. */
static int ref_point(const struct plot__reference *ref, double rate)
{
    for (int i = 0; i < ref->n; i++)
        if (fabs(ref->rate[i] - rate) <= 1e-9 * rate)
            return i;
    return -1;
}

static int by_rate(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The model's curve: CURVE_POINTS log-spaced rates, the measured ones and
 * the simulator's, from the lowest measured rate to the highest or
 * saturation. */
static int write_model_curve(FILE *out, const struct plot__model *m, const char *engine,
                             const double *measured, int nm, const struct plot__reference *ref)
{
    double lo = INFINITY, hi = 0, ceiling = plot__model_ceiling(m, engine);
    double rates[CURVE_POINTS + 2 * PLOT_REF_POINTS];
    int n = 0, rows = 0;
    for (int i = 0; i < nm; i++)
        lo = fmin(lo, measured[i]), hi = fmax(hi, measured[i]);
    double end = isfinite(ceiling) ? fmin(hi, CURVE_END * ceiling) : hi;
    for (int i = 0; i < CURVE_POINTS && end >= lo; i++)
        rates[n++] = lo * pow(end / lo, (double)i / (CURVE_POINTS - 1));
    for (int i = 0; i < nm; i++)
        if (measured[i] < end)
            rates[n++] = measured[i];
    for (int i = 0; i < ref->n; i++) /* where the simulator ran: the report's comparison */
        if (ref->rate[i] >= lo && ref->rate[i] < end)
            rates[n++] = ref->rate[i];
    qsort(rates, (size_t)n, sizeof(*rates), by_rate);
    for (int i = 0; i < n; i++) {
        struct model_prediction p;
        if (rows > 0 && rates[i] <= rates[i - 1] * (1 + 1e-9))
            continue;
        if (plot__model_predict(m, engine, rates[i], &p) < 0 || !isfinite(p.p99_ms))
            break;
        write_row(out, engine, rates[i], &p, 0, ref, ref_point(ref, rates[i]));
        rows++;
    }
    return rows;
}

/* One config's drawn curve over the rates it was measured at, ending before
 * saturation (a rate past it has no row): the ideal system's where its
 * model departs from it, else the model's. Returns its rows. */
static int write_curve(FILE *out, const struct plot__model *m, const struct csv_table *runs,
                       const char *engine, int *simulated)
{
    double measured[PLOT_REF_POINTS - 16];
    struct plot__reference ref;
    int nm = open_rates(runs, engine, measured, PLOT_REF_POINTS - 16);
    *simulated = 0;
    if (nm == 0 || !m->ok)
        return 0;
    if (plot__reference(m, engine, measured, nm, &ref) < 0)
        ref.n = 0, ref.simulated = 0;
    if (!ref.simulated)
        return write_model_curve(out, m, engine, measured, nm, &ref);
    *simulated = 1;
    for (int i = 0; i < ref.n; i++)
        write_row(out, engine, ref.rate[i], &ref.sim[i], 1, &ref, i);
    return ref.n;
}

static const char model_header[] =
    "engine,rate,p50_ms,p99_ms,mean_ms,utilisation,drawn,model_p50_ms,model_p99_ms,sim_p50_ms,"
    "sim_p99_ms\n";

/* model.csv as written for the folder's runs: newer than every file it is
 * drawn from, and with this overlap's columns. */
static int model_csv_current(const char *dir)
{
    static const char *const sources[] = {"runs.csv", "workload.ini", "meta.txt"};
    char path[PATH_MAX + 16], head[512] = "";
    struct stat model, src;
    snprintf(path, sizeof(path), "%s/model.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(head, sizeof(head), f) && !strcmp(head, model_header) &&
             fstat(fileno(f), &model) == 0;
    fclose(f);
    for (int i = 0; ok && i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sources[i]);
        if (stat(path, &src) == 0 && (src.st_mtim.tv_sec > model.st_mtim.tv_sec ||
                                      (src.st_mtim.tv_sec == model.st_mtim.tv_sec &&
                                       src.st_mtim.tv_nsec > model.st_mtim.tv_nsec)))
            ok = 0;
    }
    return ok;
}

/* Each config's rows in a current model.csv, and which curve they draw. */
static int read_model_csv(const struct plot__folder *f, int *curves, int *simulated)
{
    char path[PATH_MAX + 16];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/model.csv", f->dir);
    if (csv_load(path, &t) < 0)
        return -EINVAL;
    for (int r = 0; r < t.nrows; r++)
        for (int e = 0; e < f->n; e++)
            if (!strcmp(csv_get(&t, r, "engine"), f->engines[e])) {
                curves[e]++;
                simulated[e] = !strcmp(csv_get(&t, r, "drawn"), "simulated");
            }
    csv_free(&t);
    return 0;
}

/* dir/model.csv: model_header's columns. */
static int write_model_csv(const struct plot__folder *f, const struct plot__model *m, int *curves,
                           int *simulated)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/model.csv", f->dir);
    FILE *out = fopen(path, "w");
    if (!out)
        return -errno;
    fputs(model_header, out);
    for (int e = 0; e < f->n; e++)
        curves[e] = write_curve(out, m, &f->runs, f->engines[e], &simulated[e]);
    return fclose(out) == 0 ? 0 : -EIO;
}

int plot__write_models(const struct plot__folder *f, int *curves, int *simulated)
{
    struct plot__model m;
    for (int e = 0; e < f->n; e++)
        curves[e] = simulated[e] = 0;
    if (model_csv_current(f->dir) && read_model_csv(f, curves, simulated) == 0)
        return 0;
    for (int e = 0; e < f->n; e++)
        curves[e] = simulated[e] = 0;
    plot__model_load(f->dir, &m); /* without it, model.csv has its header alone */
    int rc = write_model_csv(f, &m, curves, simulated);
    plot__model_free(&m);
    return rc;
}
