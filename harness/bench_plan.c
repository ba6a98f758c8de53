/* The sweep's arithmetic: bounds, warmups, open-loop connections and the
 * list of runs (see bench_plan.h). Nothing here starts a process or reads a
 * clock; only bench__plan_runs writes, and only to stderr for a warning. */
#include "bench_plan.h"

#include <math.h>
#include <stdio.h>

#include "wl.h"

const char *bench__kind_name(enum bench__kind kind)
{
    static const char *const names[] = {"closed", "open", "timeline"};
    return names[kind];
}

double bench__config_bound(const struct bench__plan *p, const struct bench_engine *e,
                           double clients)
{
    double workers = e->async || e->workers <= 0 ? 0 : e->workers;
    return wl_bound_rps(p->wl, clients, workers, p->ncores);
}

double bench__run_bound(const struct bench__plan *p, const struct bench__run *r)
{
    const struct bench_engine *e = &p->suite->engines[r->engine];
    if (r->kind == BENCH__OPEN) {
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
 * BENCH__WARMUP_MAX_S; other runs take the suite's warmup. */
double bench__warmup_s(const struct bench__plan *p, const struct bench__run *r)
{
    double suite = p->suite->warmup_ns / 1e9;
    if (r->kind != BENCH__CLOSED)
        return suite;
    double bound = bench__config_bound(p, &p->suite->engines[r->engine], r->clients);
    double settle = bound > 0 ? 2.0 * r->clients / bound : 0;
    settle = settle < BENCH__WARMUP_MAX_S ? settle : BENCH__WARMUP_MAX_S;
    return settle > suite ? settle : suite;
}

double bench__service_s(const struct bench__plan *p)
{
    return (wl_mean_cpu_ns(p->wl) + wl_mean_wait_ns(p->wl)) / 1e9;
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

void bench__plan_runs(struct bench__plan *p)
{
    const struct bench_suite *s = p->suite;
    double rates[BENCH_MAX_POINTS];
    p->nruns = 0;
    for (int e = 0; e < s->nengines; e++) {
        for (int i = 0; i < s->nclients; i++)
            p->runs[p->nruns++] = (struct bench__run){e, BENCH__CLOSED, s->clients[i], 0};
        int nrates = open_rates(p, e, rates);
        for (int i = 0; i < nrates; i++)
            p->runs[p->nruns++] = (struct bench__run){e, BENCH__OPEN, 0, rates[i]};
        if (s->timeline > 0)
            p->runs[p->nruns++] =
                (struct bench__run){e, BENCH__TIMELINE, s->timeline, bench__timeline_rate(p)};
    }
}
