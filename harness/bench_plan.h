/* The sweep's arithmetic, apart from any process: each config's bound, each
 * run's warmup and bound, the open loop's connections, the timeline's spacing
 * and the list of runs. Functions of the suite, the workload and the server's
 * CPU count alone, so they are tested without starting anything. */
#ifndef OVERLAP_BENCH_PLAN_H
#define OVERLAP_BENCH_PLAN_H

#include "bench.h"

struct wl_workload;

#define BENCH__WARMUP_MAX_S 12.0 /* a closed run's longest warmup: one worker, 1,024 clients */
#define BENCH__MAX_RUNS     (BENCH_MAX_ENGINES * (2 * BENCH_MAX_POINTS + 1))

enum bench__kind {
    BENCH__CLOSED,  /* C clients, each sending when answered */
    BENCH__OPEN,    /* a target rate, whatever the server does */
    BENCH__TIMELINE /* K requests at equal gaps: the lecture's picture */
};

/* One run of the sweep: a config at one load point. */
struct bench__run {
    int engine; /* index into the suite's engines */
    enum bench__kind kind;
    int clients; /* closed loop and timeline; 0 in open loop */
    double rate; /* open loop and timeline, req/s; 0 in closed loop */
};

/* What the arithmetic reads, and the runs it plans. The suite and workload
 * belong to the caller and outlive the plan. */
struct bench__plan {
    const struct bench_suite *suite;
    const struct wl_workload *wl;
    int ncores; /* the server's CPUs: the bound's cores/c */
    int nruns;
    struct bench__run runs[BENCH__MAX_RUNS];
};

/* "closed", "open" or "timeline": the `loop` column. */
const char *bench__kind_name(enum bench__kind kind);

/* The most config e can do with this many clients, in req/s (Little's law,
 * wl_bound_rps); clients 0 gives the config's ceiling. Huge when nothing
 * bounds it (a workload without CPU). */
double bench__config_bound(const struct bench__plan *p, const struct bench_engine *e,
                           double clients);

/* A run's bound: closed loop and timeline by their clients; open loop by the
 * config's ceiling, and never more than the offered rate. */
double bench__run_bound(const struct bench__plan *p, const struct bench__run *r);

/* Seconds of unmeasured load before a run's window: the suite's warmup, and
 * for a closed run at least twice its response time C/bound, at most
 * BENCH__WARMUP_MAX_S. */
double bench__warmup_s(const struct bench__plan *p, const struct bench__run *r);

/* One request's mean service time in seconds: its CPU plus its wait. */
double bench__service_s(const struct bench__plan *p);

/* Connections an open-loop run at rate opens: 16 to 4096. */
int bench__open_clients(const struct bench__plan *p, double rate);

/* The timeline scenario's arrival rate in req/s. */
double bench__timeline_rate(const struct bench__plan *p);

/* Fills p->runs: per config, in the suite's order, its closed points, its
 * open points (auto rates as fractions of its ceiling) and its timeline. A
 * config without a finite ceiling gets no auto rates (and a warning). */
void bench__plan_runs(struct bench__plan *p);

#endif
