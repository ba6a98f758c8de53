/* The queueing models beside the measurements (plots/README.md, "The
 * models"): each config's predicted p50 and p99 against offered rate into
 * model.csv for the latency chart. Read from the folder alone: workload.ini
 * (the sweep's copy) for c and w, meta.txt for the server's cores. (The
 * Universal Scalability Law fit is summary.csv's, written by summary.c.) */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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

int plot__model_load(const char *dir, struct plot__model *m)
{
    char path[PATH_MAX + 16], err[WL_ERR_LEN];
    struct wl_workload *wl = NULL;
    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/workload.ini", dir);
    if (wl_load(path, &wl, err, sizeof(err)) < 0)
        return -ENOENT;
    int rc = model_service_from_workload(wl, &m->svc);
    wl_free(wl);
    m->cores = plot__server_cores(dir);
    m->ok = rc == 0;
    return rc;
}

/* Which model draws a config: a pool is its workers on the cores (the
 * server's default when the spec leaves them, a thread per request for
 * workers=0); async and coro are event loops, each one server of the CPU. */
int plot__model_predict(const struct plot__model *m, const char *spec, double rate,
                        struct model_prediction *out)
{
    struct bench_engine e;
    char err[256];
    if (!m->ok || bench_parse_engine(spec, &e, err, sizeof(err)) < 0)
        return -EINVAL;
    if (e.kind == BENCH_POOL)
        return model_pool_predict(&m->svc, bench_config_workers(&e), m->cores, rate, out);
    return model_loop_predict(&m->svc, e.loops > 0 ? e.loops : m->cores, m->cores, rate, out);
}

double plot__model_ceiling(const struct plot__model *m, const char *spec)
{
    struct bench_engine e;
    char err[256];
    if (!m->ok || bench_parse_engine(spec, &e, err, sizeof(err)) < 0)
        return NAN;
    if (e.kind == BENCH_POOL)
        return model_pool_ceiling(&m->svc, bench_config_workers(&e), m->cores);
    return model_loop_ceiling(&m->svc, e.loops > 0 ? e.loops : m->cores, m->cores);
}

/* The lowest and highest open-loop rates config engine ran; 0 without one. */
static int open_range(const struct csv_table *runs, const char *engine, double *lo, double *hi)
{
    int n = 0;
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(csv_get(runs, r, "engine"), engine) || strcmp(csv_get(runs, r, "loop"), "open"))
            continue;
        double rate = csv_num(runs, r, "rate");
        *lo = n == 0 || rate < *lo ? rate : *lo;
        *hi = n == 0 || rate > *hi ? rate : *hi;
        n++;
    }
    return n;
}

/* One config's curve over the rates it was measured at, ending before
 * saturation: a rate past its ceiling has no row. Returns its rows. */
static int write_curve(FILE *out, const struct plot__model *m, const struct csv_table *runs,
                       const char *engine)
{
    double lo, hi, ceiling = plot__model_ceiling(m, engine);
    int i = 0;
    if (!open_range(runs, engine, &lo, &hi) || !(lo > 0))
        return 0;
    double end = isfinite(ceiling) ? fmin(hi, CURVE_END * ceiling) : hi;
    for (; i < CURVE_POINTS && end >= lo; i++) {
        double rate = lo * pow(end / lo, (double)i / (CURVE_POINTS - 1));
        struct model_prediction p;
        if (plot__model_predict(m, engine, rate, &p) < 0 || !isfinite(p.p99_ms))
            break;
        fprintf(out, "%s,%.3f,%.6f,%.6f,%.6f,%.4f\n", engine, rate, p.p50_ms, p.p99_ms, p.mean_ms,
                p.utilisation);
    }
    return i;
}

/* dir/model.csv: engine,rate,p50_ms,p99_ms,mean_ms,utilisation. */
static int write_model_csv(const struct plot__folder *f, const struct plot__model *m, int *curves)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/model.csv", f->dir);
    FILE *out = fopen(path, "w");
    if (!out)
        return -errno;
    fputs("engine,rate,p50_ms,p99_ms,mean_ms,utilisation\n", out);
    for (int e = 0; e < f->n; e++)
        curves[e] = write_curve(out, m, &f->runs, f->engines[e]);
    return fclose(out) == 0 ? 0 : -EIO;
}

int plot__write_models(const struct plot__folder *f, int *curves)
{
    struct plot__model m;
    for (int e = 0; e < f->n; e++)
        curves[e] = 0;
    plot__model_load(f->dir, &m); /* without it, model.csv has its header alone */
    return write_model_csv(f, &m, curves);
}
