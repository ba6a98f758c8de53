/* The sweep's arithmetic: bounds, warmups, windows, open-loop connections
 * and the list of runs (see bench_plan.h). Nothing here starts a process or reads a
 * clock; only bench__plan_runs writes, and only to stderr for a warning. */
#include "bench_plan.h"

#include <math.h>
#include <stdio.h>

#include "stats.h"
#include "wl.h"

const char *bench__loop_name(enum bench__kind kind)
{
    static const char *const names[] = {"closed", "open", "timeline", "capacity", "map", "idle"};
    return names[kind];
}

double bench__config_bound(const struct bench__plan *p, const struct bench_engine *e,
                           double clients)
{
    double bound = wl_bound_rps(p->wl, clients, bench_config_workers(e), p->ncores);
    double held = wl_wait_bound_rps(p->wl, bench_config_connections(e));
    return held < bound ? held : bound;
}

double bench__run_bound(const struct bench__plan *p, const struct bench__run *r)
{
    const struct bench_engine *e = &p->suite->engines[r->engine];
    if (bench__offers_rate(r->kind)) {
        double ceiling = bench__config_bound(p, e, 0);
        return r->rate < ceiling ? r->rate : ceiling;
    }
    return bench__config_bound(p, e, r->clients);
}

/* A closed loop is in its steady state only once each client has been
 * answered: with C clients and a bound X, a response takes C/X, and a window
 * opened sooner counts the start-up burst (work banked during the warmup
 * reads as throughput above the bound, and latency is cut off at the
 * window's end). So a closed run warms up for at least twice C/X, up to
 * BENCH__WARMUP_MAX_S and no longer than the longest window (a run that
 * needs more is flagged rather than let stretch the sweep); other runs take
 * the suite's warmup. */
double bench__warmup_s(const struct bench__plan *p, const struct bench__run *r)
{
    double suite = p->suite->warmup_ns / 1e9, cap = bench__window_cap_s(p);
    if (r->kind != BENCH__CLOSED)
        return suite;
    double bound = bench__config_bound(p, &p->suite->engines[r->engine], r->clients);
    double settle = bound > 0 ? 2.0 * r->clients / bound : 0;
    cap = cap < BENCH__WARMUP_MAX_S ? cap : BENCH__WARMUP_MAX_S;
    settle = settle < cap ? settle : cap;
    return settle > suite ? settle : suite;
}

double bench__service_s(const struct bench__plan *p)
{
    return (wl_mean_cpu_ns(p->wl) + wl_mean_wait_ns(p->wl)) / 1e9;
}

double bench__response_s(const struct bench__plan *p, const struct bench__run *r)
{
    if (r->kind != BENCH__CLOSED)
        return bench__service_s(p);
    double bound = bench__config_bound(p, &p->suite->engines[r->engine], r->clients);
    return bound > 0 ? r->clients / bound : 0;
}

double bench__window_cap_s(const struct bench__plan *p)
{
    return BENCH__WINDOW_CAP * p->suite->duration_ns / 1e9;
}

/* A closed loop's throughput counts the answers that arrive in the window,
 * but its latencies are those of the few clients answered there when a
 * response takes a good part of the window: ten responses make the window
 * a sample of every client's cycle. An open loop's response is one service
 * time unless the server falls behind, and then no window is long enough. */
double bench__window_s(const struct bench__plan *p, const struct bench__run *r)
{
    double duration = p->suite->duration_ns / 1e9, cap = bench__window_cap_s(p);
    double need = BENCH__WINDOW_RESPONSES * BENCH__WINDOW_MARGIN * bench__response_s(p, r);
    if (bench__judged(r->kind) && r->window_s > 0)
        need = r->window_s;
    else if (bench__judged(r->kind) && r->rate > 0 && p->suite->has_slo)
        need = fmax(need, BENCH__WINDOW_MARGIN *
                              stats_quantile_min_samples(p->suite->slo.percentile / 100) / r->rate);
    double window = need > duration ? need : duration;
    return window < cap ? window : cap;
}

double bench__rerun_window_s(const struct bench__plan *p, const struct bench__run *r,
                             double window_s, int unsteady, int short_window, double mean_ms)
{
    double cap = bench__window_cap_s(p), want = window_s;
    if (r->kind == BENCH__TIMELINE)
        return 0;
    if (unsteady)
        want = 2 * window_s;
    double need = BENCH__WINDOW_RESPONSES * BENCH__WINDOW_MARGIN * mean_ms / 1e3;
    if (short_window && r->kind == BENCH__CLOSED && need > want)
        want = need;
    want = want < cap ? want : cap;
    return want > window_s ? want : 0;
}

double bench__run_cost_s(const struct bench__plan *p, const struct bench__run *r)
{
    if (r->kind == BENCH__TIMELINE)
        return BENCH__RUN_OVERHEAD_S + (r->clients + 2) * bench__service_s(p);
    /* load hosts' agents open their window launch_lead after they start */
    double lead =
        p->suite->nhosts && bench__offers_rate(r->kind) ? p->suite->launch_lead_ns / 1e9 : 0;
    return BENCH__RUN_OVERHEAD_S + lead + bench__warmup_s(p, r) + bench__window_s(p, r);
}

/* Enough connections for four times the requests in flight at the rate, so
 * the generator never runs short by its own doing. */
int bench__open_clients(const struct bench__plan *p, double rate)
{
    double need = ceil(rate * bench__service_s(p) * 4);
    return need < 16 ? 16 : need > 4096 ? 4096 : (int)need;
}

/* A third of one request's service time apart, so requests 2 and 3 arrive
 * while 1 is still being served (the lecture); a workload that takes no time
 * at all gets 1 ms gaps. */
double bench__timeline_rate(const struct bench__plan *p)
{
    double service = bench__service_s(p);
    return service > 1e-6 ? 3.0 / service : 1000;
}

/* The open-loop rates of config e: explicit ones, or fractions of its
 * ceiling when it has a finite one. Returns how many went into rates. */
static int open_rates(const struct bench__plan *p, int e, double *rates)
{
    const struct bench_suite *s = p->suite;
    if (!s->auto_rates) {
        for (int i = 0; i < s->nrates; i++)
            rates[i] = s->rates[i];
        return s->nrates;
    }
    double ceiling = bench__config_bound(p, &s->engines[e], 0);
    if (!(ceiling > 0 && ceiling <= BENCH_MAX_RATE)) {
        fprintf(stderr,
                "overlap bench: %s has no finite bound on this workload (no CPU per "
                "request): no auto rates for it (give --rates)\n",
                s->engines[e].spec);
        return 0;
    }
    for (int i = 0; i < s->nfractions; i++)
        rates[i] = s->fractions[i] * ceiling;
    return s->nfractions;
}

/* Appends config e's closed and open points of one repeat. */
static void add_points(struct bench__plan *p, int e, int repeat, const double *rates, int nrates)
{
    const struct bench_suite *s = p->suite;
    for (int i = 0; i < s->nclients; i++)
        p->runs[p->nruns++] = (struct bench__run){e, BENCH__CLOSED, s->clients[i], 0, repeat, 0, 0};
    for (int i = 0; i < nrates; i++)
        p->runs[p->nruns++] = (struct bench__run){e, BENCH__OPEN, 0, rates[i], repeat, 0, 0};
}

void bench__plan_runs(struct bench__plan *p)
{
    const struct bench_suite *s = p->suite;
    double rates[BENCH_MAX_ENGINES][BENCH_MAX_POINTS]; /* per config, planned once */
    int nrates[BENCH_MAX_ENGINES];
    int repeats = s->repeats > 0 ? s->repeats : 1;
    for (int e = 0; e < s->nengines; e++)
        nrates[e] = open_rates(p, e, rates[e]);
    p->nruns = 0;
    for (int k = 0; k < repeats; k++) {
        for (int i = 0; i < s->nengines; i++) {
            int e = (i + k) % s->nengines;
            add_points(p, e, k + 1, rates[e], nrates[e]);
            if (k == 0 && s->timeline > 0)
                p->runs[p->nruns++] = (struct bench__run){
                    e, BENCH__TIMELINE, s->timeline, bench__timeline_rate(p), 1, 0, 0};
        }
    }
}

int bench__map_cells(const struct bench_suite *s)
{
    if (!bench_suite_has_map(s))
        return 0;
    return (s->nvary_cpu > 0 ? s->nvary_cpu : 1) * (s->nvary_wait > 0 ? s->nvary_wait : 1);
}

void bench__map_cell(const struct bench_suite *s, int cell, uint64_t *cpu_ns, uint64_t *wait_ns)
{
    int nwait = s->nvary_wait > 0 ? s->nvary_wait : 1;
    int i = (cell - 1) / nwait, j = (cell - 1) % nwait;
    *cpu_ns = s->nvary_cpu > 0 ? s->vary_cpu_ns[i] : 0;
    *wait_ns = s->nvary_wait > 0 ? s->vary_wait_ns[j] : 0;
}
