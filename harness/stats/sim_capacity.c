/* The ideal system's capacity at a latency goal (sim.h): what a config
 * could reach on a perfect machine, the reference line beside the capacity
 * a sweep measures. A bisection over sim_run, every run with the same seed,
 * each long enough for its percentile near the rate probed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "config.h"
#include "sim.h"
#include "wl.h"

/* A probe's runs: CAP_MIN requests first (CAP_TAIL past the percentile at
 * least), then 4 times as many while the verdict is unclear, up to
 * CAP_GROWTH times the first. Clear: the share of responses past the goal
 * stands CAP_Z standard errors off the percentile's, the error inflated by
 * (1 + rho) / (1 - rho), rho the rate over the bound, for how responses
 * near saturation come in correlated runs (M/M/1's factor for its queue's
 * content). At the last run the percentile decides as it is. */
#define CAP_MIN    10000
#define CAP_TAIL   100
#define CAP_GROWTH 64
#define CAP_Z      2.5
/* The inflation's rho at most: right under the bound it would ask for runs
 * of millions, where a run of 40,000 has already told a loose goal met. */
#define CAP_RHO 0.95
/* The idle request's run, as a share of the bound: one request in a
 * thousand finds another in the server. */
#define CAP_IDLE 1e-3
/* Bisections at most: 2^-25 of the bound is past any capacity worth a
 * figure, and the bracket closes in ~6 halvings near the bound. */
#define CAP_MAX_STEPS 25

double sim_bound_rps(const struct wl_workload *wl, const struct sim_config *cfg)
{
    double c = (wl_mean_cpu_ns(wl) + cfg->engine_cpu_us * 1e3) / 1e9, w = wl_mean_wait_ns(wl) / 1e9;
    double cores = c > 0 ? cfg->cores / c : INFINITY;
    if (cfg->arch == SIM_LOOPS)
        return c > 0 ? (cfg->threads < cfg->cores ? cfg->threads : cfg->cores) / c : INFINITY;
    if (cfg->threads > 0 && c + w > 0)
        return fmin(cfg->threads / (c + w), cores);
    return cores;
}

/* Rate's verdict: *met when the percentile q of a run's responses is within
 * the goal and the run kept up. 0, or sim_run's error. */
static int probe(const struct wl_workload *wl, const struct sim_config *base, double rate, double q,
                 double goal_ms, struct sim_capacity *out, int *met)
{
    struct sim_config cfg = *base;
    double rho = fmin(rate / out->bound_rps, CAP_RHO), inflation = (1 + rho) / (1 - rho);
    double first = fmin(fmax(CAP_MIN, CAP_TAIL / (1 - q)), (double)SIM_MAX_REQUESTS / CAP_GROWTH);
    cfg.rate = rate;
    cfg.clients = 0;
    cfg.quantile = q;
    cfg.warmup = -1;
    cfg.stop_past_ms = goal_ms; /* a rate past the capacity is known missed early */
    for (double n = first;; n *= 4) {
        struct sim_result r;
        cfg.requests = (long)fmin(n, first * CAP_GROWTH);
        int rc = sim_run(wl, &cfg, &r);
        if (rc < 0)
            return rc;
        out->runs++;
        out->requests += r.requests;
        *met = !r.stopped_past && !r.overloaded && r.quantile_ms <= goal_ms;
        /* a run cut short at the goal judges by the responses it measured */
        double measured = (double)(r.requests > 0 ? r.requests : 1);
        double share = r.past / measured, se = sqrt(q * (1 - q) * inflation / measured);
        if (r.overloaded || fabs(share - (1 - q)) > CAP_Z * se || n >= first * CAP_GROWTH)
            return 0;
    }
}

int sim_capacity(const struct wl_workload *wl, const struct sim_config *cfg, double percentile,
                 double goal_ms, struct sim_capacity *out)
{
    if (!wl || !cfg || !out || !(percentile > 0 && percentile < 100) || !(goal_ms > 0) ||
        !(wl->total_weight > 0))
        return -EINVAL;
    double q = percentile / 100, bound = sim_bound_rps(wl, cfg);
    *out = (struct sim_capacity){.bound_rps = bound, .hi = bound};
    if (!isfinite(bound) || !(bound > 0))
        return -EDOM;
    int met, rc = probe(wl, cfg, CAP_IDLE * bound, q, goal_ms, out, &met);
    if (rc < 0 || !met) {
        out->hi = CAP_IDLE * bound;
        return rc;
    }
    /* most configs meet a loose goal right under their bound: one run says so */
    out->lo = CAP_IDLE * bound;
    if ((rc = probe(wl, cfg, (1 - SIM_CAPACITY_TOL) * bound, q, goal_ms, out, &met)) < 0)
        return rc;
    *(met ? &out->lo : &out->hi) = (1 - SIM_CAPACITY_TOL) * bound;
    for (int step = 0; step < CAP_MAX_STEPS && out->hi - out->lo > SIM_CAPACITY_TOL * out->hi;
         step++) {
        double mid = (out->lo + out->hi) / 2;
        if ((rc = probe(wl, cfg, mid, q, goal_ms, out, &met)) < 0)
            return rc;
        *(met ? &out->lo : &out->hi) = mid;
    }
    out->capacity_rps = out->lo;
    return 0;
}

void sim_config_engine(struct sim_config *cfg, const struct bench_engine *e, int cores,
                       double slice_us)
{
    sim_config_init(cfg);
    cfg->cores = cores;
    cfg->cpu = SIM_CPU_FCFS;
    cfg->slice_us = slice_us;
    if (e->kind == BENCH_POOL) {
        cfg->arch = SIM_POOL;
        cfg->threads = bench_config_workers(e);
    } else {
        cfg->arch = SIM_LOOPS;
        cfg->threads = e->loops > 0 ? e->loops : cores;
    }
}

double sim_kernel_slice_us(int cpus, const char *release)
{
    int major = 0, minor = 0;
    if (cpus < 1 || !release || sscanf(release, "%d.%d", &major, &minor) != 2 || major < 1)
        return 0;
    int factor = 1;
    for (int n = cpus < 8 ? cpus : 8; n > 1; n /= 2)
        factor++;
    return (major > 6 || (major == 6 && minor >= 15) ? 700.0 : 750.0) * factor;
}
