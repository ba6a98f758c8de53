/* The reference a config's measurements are drawn and judged against
 * (plots/README.md, "The models"): its queueing model where the model holds
 * the ideal system to its stated tolerance (model.h), and else the ideal
 * system itself, simulated (sim.h). The simulator runs the config as the
 * kernel runs its threads: a thread that gets a core keeps it until it
 * blocks or its slice ends (SIM_CPU_FCFS with the kernel's base slice). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "model.h"
#include "plot_internal.h"
#include "sim.h"
#include "wl.h"

/* The simulator's points on a curve besides the measured rates:
 * log-spaced, few, since each is a run. Seeds are shared by every rate of a
 * config (common random numbers), so its curve is smooth where a seed a
 * rate would make it jitter. */
#define SIM_POINTS 8
/* Simulated rates stop this close under the Little's-law bound: past it
 * every run is overloaded, and just under it a p99 needs more requests than
 * a report can spend. */
#define SIM_END 0.98
/* Requests a simulated point: SIM_SCALE / (1 - rho), rho the rate over the
 * bound, within [SIM_MIN, SIM_MAX]; near saturation a p99 needs longer runs
 * (seed workload, 8 workers at 0.9 of the bound: 40,000 requests hold it
 * within about 10 %, 160,000 within 5 %). 0.3 s per 10^6. */
#define SIM_SCALE 4000
#define SIM_MIN   10000
#define SIM_MAX   60000

/* The kernel's base slice (sim_kernel_slice_us) from meta.txt's `cores:`
 * (the machine's CPUs) and `kernel:`; 0 (never preempts) without them. */
double plot__kernel_slice_us(const char *dir)
{
    char path[PATH_MAX + 16], line[4096], release[64] = "";
    int cpus = 0;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "cores: ", 7))
            cpus = atoi(line + 7);
        else if (!strncmp(line, "kernel: Linux ", 14))
            snprintf(release, sizeof(release), "%.*s", (int)strcspn(line + 14, " \n"), line + 14);
    }
    if (f)
        fclose(f);
    return sim_kernel_slice_us(cpus, release);
}

/* The simulator's config for spec, as plot__model_predict reads it, with
 * extra_us of the server's own CPU a request; bound its Little's-law bound
 * at that CPU (req/s). */
static int sim_config_of(const struct plot__model *m, const char *spec, double extra_us,
                         struct sim_config *cfg, double *bound)
{
    struct bench_engine e;
    if (!m->ok || !m->wl || plot__model_engine(m, spec, &e) < 0 || !(m->svc.cpu_ms > 0) ||
        bench_config_connections(&e) > 0) /* no connection budget for a loop in the simulator */
        return -EINVAL;
    sim_config_engine(cfg, &e, m->cores, m->slice_us);
    cfg->engine_cpu_us = fmax(extra_us, 0);
    *bound = sim_bound_rps(m->wl, cfg);
    return 0;
}

static long requests_at(double rho)
{
    double n = SIM_SCALE / fmax(1 - rho, 1e-3);
    return (long)fmin(fmax(n, SIM_MIN), SIM_MAX);
}

int plot__ideal_predict(const struct plot__model *m, const char *spec, double rate,
                        double engine_cpu_us, struct model_prediction *out)
{
    struct sim_config cfg;
    double bound;
    if (sim_config_of(m, spec, engine_cpu_us, &cfg, &bound) < 0 || !(rate > 0))
        return -EINVAL;
    double rho = rate / bound;
    if (rho >= SIM_END) {
        *out = (struct model_prediction){INFINITY, INFINITY, INFINITY, rho};
        return 0;
    }
    cfg.requests = requests_at(rho);
    return sim_predict(m->wl, &cfg, rate, out);
}

int plot__ideal_window(const struct plot__model *m, const char *spec, double rate, double window_s,
                       double warmup_s, double *p99_ms)
{
    enum { SEEDS = 21 };
    struct sim_config cfg;
    double bound, p99[SEEDS];
    int n = 0;
    if (sim_config_of(m, spec, 0, &cfg, &bound) < 0 || !(rate > 0) || !(window_s > 0))
        return -EINVAL;
    cfg.requests = (long)fmax(round(rate * window_s), 1);
    cfg.warmup = (long)fmax(round(rate * fmax(warmup_s, 0)), 0);
    if (cfg.requests > SIM_MAX)
        return -E2BIG;
    cfg.rate = rate;
    for (int s = 0; s < SEEDS; s++) {
        struct sim_result r; /* overloaded or not: a short run ends, as a measured one does */
        cfg.seed = (uint64_t)s + 1;
        if (sim_run(m->wl, &cfg, &r) == 0)
            p99[n++] = r.p99_ms;
    }
    if (n < SEEDS)
        return -EINVAL;
    for (int i = 1; i < n; i++) /* insertion sort: 21 values */
        for (int j = i; j > 0 && p99[j] < p99[j - 1]; j--) {
            double t = p99[j];
            p99[j] = p99[j - 1];
            p99[j - 1] = t;
        }
    *p99_ms = p99[n / 2];
    return 0;
}

/* How far a prediction misses the simulator's at one point, in units of
 * its tolerance (above 1: departs); INFINITY where the model saturates and
 * the ideal system does not. */
static double miss(const struct model_prediction *model, const struct model_prediction *sim)
{
    if (!isfinite(model->p99_ms))
        return INFINITY;
    return fmax(fabs(model->p99_ms / sim->p99_ms - 1) / MODEL_TOL_P99,
                fabs(model->p50_ms / sim->p50_ms - 1) / MODEL_TOL_P50);
}

static int by_rate(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The rates the simulator runs for spec: SIM_POINTS log-spaced from lo to
 * hi, and the measured ones, in order without repeats. */
static int sim_rates(const double *measured, int nmeasured, double lo, double hi, double *out)
{
    int n = 0;
    for (int i = 0; i < SIM_POINTS && hi >= lo; i++)
        out[n++] = lo * pow(hi / lo, (double)i / (SIM_POINTS - 1));
    for (int i = 0; i < nmeasured && n < PLOT_REF_POINTS; i++)
        out[n++] = measured[i];
    qsort(out, (size_t)n, sizeof(*out), by_rate);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || out[i] > out[k - 1] * (1 + 1e-9))
            out[k++] = out[i];
    return k;
}

int plot__reference(const struct plot__model *m, const char *spec, const double *measured,
                    int nmeasured, struct plot__reference *ref)
{
    struct sim_config cfg;
    double bound, lo = INFINITY, hi = 0;
    memset(ref, 0, sizeof(*ref));
    if (sim_config_of(m, spec, 0, &cfg, &bound) < 0)
        return -EINVAL;
    for (int i = 0; i < nmeasured; i++)
        lo = fmin(lo, measured[i]), hi = fmax(hi, measured[i]);
    if (!(lo > 0))
        return -EINVAL;
    double model_ceiling = plot__model_ceiling(m, spec);
    double rates[PLOT_REF_POINTS];
    int n = sim_rates(measured, nmeasured, lo, fmin(hi, SIM_END * bound), rates);
    for (int i = 0; i < n && rates[i] < SIM_END * bound; i++) {
        struct model_prediction sim, model;
        if (plot__ideal_predict(m, spec, rates[i], 0, &sim) < 0 || !isfinite(sim.p99_ms))
            break; /* overloaded: the curve ends */
        if (plot__model_predict(m, spec, rates[i], &model) < 0)
            return -EINVAL;
        double x = miss(&model, &sim);
        ref->rate[ref->n] = rates[i];
        ref->sim[ref->n] = sim;
        ref->model[ref->n++] = model;
        if (x > ref->worst) {
            ref->worst = x;
            ref->worst_at = ref->n - 1;
        }
    }
    /* a model finite where the ideal system cannot hold the rate, well under
     * the model's own ceiling, departs as well */
    if (ref->n < n && rates[ref->n] < 0.9 * model_ceiling && rates[ref->n] < SIM_END * bound) {
        ref->worst = INFINITY;
        ref->worst_at = -1;
        ref->overload_rate = rates[ref->n];
    }
    ref->simulated = ref->worst > 1;
    return 0;
}
