/* What follows from a loaded workload: drawing a request type by weight, the
 * CPU and database wait a request asks for, and the bound Little's law sets. */
#include "wl.h"

int wl_pick_request(const struct wl_workload *wl, struct wl_rng *rng)
{
    double x = wl_rng_double(rng) * wl->total_weight;
    for (int i = 0; i < wl->nrequests; i++) {
        x -= wl->requests[i].weight;
        if (x < 0)
            return i;
    }
    return wl->nrequests - 1;
}

double wl_request_cpu_ns(const struct wl_workload *wl, int request)
{
    const struct wl_request *r = &wl->requests[request];
    double sum = 0;
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i].kind == WL_STEP_CPU)
            sum += (double)r->steps[i].cpu_ns;
    return sum;
}

double wl_request_idle_ns(const struct wl_workload *wl, int request, struct wl_rng *rng)
{
    const struct wl_request *r = &wl->requests[request];
    double sum = 0;
    for (int i = 0; i < r->nsteps; i++)
        sum += r->steps[i].kind == WL_STEP_CPU
                   ? (double)r->steps[i].cpu_ns
                   : (double)wl_dist_sample(&wl->queries[r->steps[i].query].latency, rng);
    return sum;
}

double wl_request_wait_ns(const struct wl_workload *wl, int request)
{
    const struct wl_request *r = &wl->requests[request];
    double sum = 0;
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i].kind == WL_STEP_QUERY)
            sum += wl_dist_mean(&wl->queries[r->steps[i].query].latency);
    return sum;
}

static double weighted_mean(const struct wl_workload *wl,
                            double (*per_request)(const struct wl_workload *, int))
{
    double sum = 0;
    for (int i = 0; i < wl->nrequests; i++)
        sum += wl->requests[i].weight * per_request(wl, i);
    return sum / wl->total_weight;
}

double wl_mean_cpu_ns(const struct wl_workload *wl)
{
    return weighted_mean(wl, wl_request_cpu_ns);
}

double wl_mean_wait_ns(const struct wl_workload *wl)
{
    return weighted_mean(wl, wl_request_wait_ns);
}

double wl_wait_bound_rps(const struct wl_workload *wl, double connections)
{
    double w = wl_mean_wait_ns(wl) / 1e9;
    return connections > 0 && w > 0 ? connections / w : 1e300;
}

double wl_bound_rps(const struct wl_workload *wl, double clients, double workers, double cores)
{
    double c = wl_mean_cpu_ns(wl) / 1e9, w = wl_mean_wait_ns(wl) / 1e9;
    double bound = 1e300;
    if (c + w > 0 && clients > 0)
        bound = clients / (c + w);
    if (c + w > 0 && workers > 0 && workers / (c + w) < bound)
        bound = workers / (c + w);
    if (c > 0 && cores > 0 && cores / c < bound)
        bound = cores / c;
    return bound;
}
