/* A workload moved to another cell of the crossover map: its CPU per request
 * and its queries' latency set to given values, everything else (the mix,
 * each request's steps and their proportions, each latency distribution's
 * shape) kept. The database and the server apply the same change to the
 * same file, so both see one workload. */
#include <math.h>
#include <stdio.h>

#include "wl.h"

double wl_dist_median(const struct wl_dist *d)
{
    switch (d->kind) {
    case WL_DIST_FIXED: return d->a;
    case WL_DIST_UNIFORM: return (d->a + d->b) / 2.0;
    case WL_DIST_EXPONENTIAL: return d->a * M_LN2; /* a is the mean */
    case WL_DIST_LOGNORMAL: return d->a;
    }
    return 0;
}

/* Every cpu step scaled by one factor, so the weighted mean CPU per request
 * becomes cpu_ns: a request's steps keep their proportions, and the request
 * types theirs. */
static int vary_cpu(struct wl_workload *wl, uint64_t cpu_ns, char *err, size_t errlen)
{
    double mean = wl_mean_cpu_ns(wl);
    if (!(mean > 0)) {
        snprintf(err, errlen,
                 "%s: no cpu step to give %.3f ms of CPU (expected a request with a "
                 "cpu step)",
                 wl->path, (double)cpu_ns / 1e6);
        return -1;
    }
    double factor = (double)cpu_ns / mean;
    for (int r = 0; r < wl->nrequests; r++)
        for (int i = 0; i < wl->requests[r].nsteps; i++) {
            struct wl_step *s = &wl->requests[r].steps[i];
            if (s->kind == WL_STEP_CPU)
                s->cpu_ns = (uint64_t)llround((double)s->cpu_ns * factor);
        }
    return 0;
}

/* Each query's latency distribution scaled to the median wait_ns; one whose
 * median is 0 (fixed 0, uniform 0 0) has no shape to scale and becomes
 * fixed at wait_ns. */
static int vary_wait(struct wl_workload *wl, uint64_t wait_ns, char *err, size_t errlen)
{
    if (wl->nqueries == 0) {
        snprintf(err, errlen, "%s: no query to give a %.3f ms latency (expected a [query.NAME])",
                 wl->path, (double)wait_ns / 1e6);
        return -1;
    }
    for (int q = 0; q < wl->nqueries; q++) {
        struct wl_dist *d = &wl->queries[q].latency;
        double median = wl_dist_median(d);
        if (median > 0) {
            d->a *= (double)wait_ns / median;
            d->b *= (double)wait_ns / median;
        } else {
            *d = (struct wl_dist){WL_DIST_FIXED, (double)wait_ns, 0};
        }
    }
    return 0;
}

int wl_vary(struct wl_workload *wl, uint64_t cpu_ns, uint64_t wait_ns, char *err, size_t errlen)
{
    if (cpu_ns > 0 && vary_cpu(wl, cpu_ns, err, errlen) < 0)
        return -1;
    if (wait_ns > 0 && vary_wait(wl, wait_ns, err, errlen) < 0)
        return -1;
    return 0;
}
