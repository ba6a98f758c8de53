/* The sweep's arithmetic, apart from any process: each config's bound, each
 * run's warmup, window and bound, the open loop's connections, the timeline's
 * spacing and the list of runs in the order they run. Functions of the suite,
 * the workload and the server's CPU count alone, so they are tested without
 * starting anything. */
#ifndef OVERLAP_BENCH_PLAN_H
#define OVERLAP_BENCH_PLAN_H

#include "bench.h"

struct wl_workload;

#define BENCH__WARMUP_MAX_S 12.0 /* a closed run's longest warmup: one worker, 1,024 clients */
/* per config: its closed and open points, its timeline and its capacity
 * probes; then the map's probes, which are counted as they run and end the
 * map (with what it found so far) when this room runs out */
#define BENCH__MAX_MAP_RUNS 16384
#define BENCH__MAX_RUNS                                                                            \
    (BENCH_MAX_ENGINES * ((2 * BENCH_MAX_POINTS + CAPACITY_MAX_PROBES) * BENCH_MAX_REPEATS + 1) +  \
     BENCH__MAX_MAP_RUNS)

/* A window should hold this many mean response times (the `short-window`
 * check), and is planned from a predicted response this much longer than
 * Little's law gives at the bound: a run below its bound answers more
 * slowly, and a window planned at exactly ten predicted responses would
 * fail the check by a hair. The margin covers efficiencies down to 0.8. */
#define BENCH__WINDOW_RESPONSES 10.0
#define BENCH__WINDOW_MARGIN    1.25
/* No window is planned or extended past this many times the suite's
 * duration: the sweep's length stays a multiple of what the suite asks. */
#define BENCH__WINDOW_CAP 4.0
/* Besides its warmup and window, a run costs about this much: a fresh
 * database and server, connecting, stopping. For the ETA only. */
#define BENCH__RUN_OVERHEAD_S 0.5

enum bench__kind {
    BENCH__CLOSED,   /* C clients, each sending when answered */
    BENCH__OPEN,     /* a target rate, whatever the server does */
    BENCH__TIMELINE, /* K requests at equal gaps: the lecture's picture */
    BENCH__CAPACITY, /* an open-loop probe of the capacity search, planned as it goes */
    BENCH__MAP,      /* the same, in a cell of the crossover map (the run's cell) */
    BENCH__IDLE      /* before a search, a low rate: the idle request's latency (bench_idle.c) */
};

/* Whether runs of this kind are judged on the suite's goal: the capacity
 * search's probes and the idle run before it. */
static inline int bench__judged(enum bench__kind kind)
{
    return kind == BENCH__CAPACITY || kind == BENCH__MAP || kind == BENCH__IDLE;
}

/* Whether runs of this kind offer a rate (open loop and capacity probes). */
static inline int bench__offers_rate(enum bench__kind kind)
{
    return kind == BENCH__OPEN || bench__judged(kind);
}

/* One run of the sweep: a config at one load point. */
struct bench__run {
    int engine; /* index into the suite's engines */
    enum bench__kind kind;
    int clients;     /* closed loop and timeline; 0 in open loop */
    double rate;     /* open loop and timeline, req/s; 0 in closed loop */
    int repeat;      /* 1 to the suite's repeats; the timeline runs in repeat 1 only */
    int cell;        /* a map probe's cell, 1 to bench__map_cells; 0 for every other run */
    double window_s; /* > 0: the window a judged run asks for itself (within the cap) */
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

/* "closed", "open", "timeline", "capacity", "map" or "idle": the `loop` column. */
const char *bench__loop_name(enum bench__kind kind);

/* The most config e can do with this many clients, in req/s (Little's law,
 * wl_bound_rps); clients 0 gives the config's ceiling. Huge when nothing
 * bounds it (a workload without CPU). */
double bench__config_bound(const struct bench__plan *p, const struct bench_engine *e,
                           double clients);

/* A run's bound: closed loop and timeline by their clients; open loop (and a
 * capacity probe) by the config's ceiling, and never more than the offered
 * rate. */
double bench__run_bound(const struct bench__plan *p, const struct bench__run *r);

/* Seconds of unmeasured load before a run's window: the suite's warmup, and
 * for a closed run at least twice its response time C/bound, at most
 * BENCH__WARMUP_MAX_S or the window cap, whichever is less. */
double bench__warmup_s(const struct bench__plan *p, const struct bench__run *r);

/* One request's mean service time in seconds: its CPU plus its wait. */
double bench__service_s(const struct bench__plan *p);

/* A run's predicted mean response time in seconds: C/bound in closed loop
 * (Little's law), one service time otherwise. */
double bench__response_s(const struct bench__plan *p, const struct bench__run *r);

/* The longest window any run gets: BENCH__WINDOW_CAP x the suite's duration. */
double bench__window_cap_s(const struct bench__plan *p);

/* A closed or open run's measured window in seconds: the suite's duration,
 * or BENCH__WINDOW_RESPONSES predicted responses (with the margin) if that
 * is longer, never past the cap. A run judged on the goal holds at least
 * the requests the goal's percentile needs (stats_quantile_min_samples,
 * with the margin), or asks for its own window; within the cap too. */
double bench__window_s(const struct bench__plan *p, const struct bench__run *r);

/* The window to measure run r again over, or 0 for none: twice its window
 * when it was unsteady; for a closed run whose window was short of its
 * responses, BENCH__WINDOW_RESPONSES measured responses (with the margin);
 * within the cap, and 0 when that is no longer than the window it had. An
 * open run's short window is not measured again: its responses are long
 * because the server fell behind the rate, and they grow with the window.
 * A timeline is never measured again. */
double bench__rerun_window_s(const struct bench__plan *p, const struct bench__run *r,
                             double window_s, int unsteady, int short_window, double mean_ms);

/* A run's expected length in seconds (warmup, window, overhead, and a run by
 * load hosts' launch_lead): the ETA's unit. */
double bench__run_cost_s(const struct bench__plan *p, const struct bench__run *r);

/* Connections an open-loop run at rate opens: 16 to 4096. */
int bench__open_clients(const struct bench__plan *p, double rate);

/* The timeline scenario's arrival rate in req/s. */
double bench__timeline_rate(const struct bench__plan *p);

/* The crossover map's cells: vary.cpu's values times vary.wait's, an empty
 * axis counting once (the workload's own value); 0 when the suite draws no
 * map. */
int bench__map_cells(const struct bench_suite *s);

/* Cell k's (1-based; CPU outer, wait inner) values for wl_vary: 0 on an
 * axis the suite does not vary. */
void bench__map_cell(const struct bench_suite *s, int cell, uint64_t *cpu_ns, uint64_t *wait_ns);

/* Fills p->runs, repeat by repeat: in each, every config's closed points
 * and open points (auto rates as fractions of its ceiling), and in the first
 * its timeline too. Repeat k takes the configs in the suite's order rotated
 * by k - 1, so no config always runs first, last or right after the same
 * one, and a slow minute of the machine falls on different configs' points
 * in different repeats. A config without a finite ceiling gets no auto
 * rates (and one warning). */
void bench__plan_runs(struct bench__plan *p);

/* ---- shards (bench_shard.c) ---- */

#define BENCH__MAX_SHARDS 1000 /* `--shard I/N`: more hosts than any sweep has points */

/* Reads `--shard`'s value "I/N" (whole numbers, 1 <= I <= N <=
 * BENCH__MAX_SHARDS, nothing else). 0, or -1 with why in err. */
int bench__shard_parse(const char *s, int *index, int *count, char *err, size_t errlen);

/* Which of nshards shards runs each of p's planned runs: shard[k] (1 to
 * nshards) for run k + 1. Whole points go to one shard, every repeat of a
 * point (config, loop, clients, rate) together, so a point's interval comes
 * from one machine; a timeline is a point of its own. The points, longest
 * planned cost first (bench__run_cost_s; ties by their order in the plan),
 * each go to the shard with the least planned time so far (the lowest
 * numbered among equals): deterministic, and every shard within one point's
 * time of every other. 0, or -ENOMEM. */
int bench__shard_assign(const struct bench__plan *p, int nshards, int *shard);

/* The plan's fingerprint: its suite's name, the server's CPUs and every
 * planned run (config, loop, clients, rate, repeat, warmup, window). Shards
 * of one sweep share it; the merge refuses folders that do not. */
uint64_t bench__plan_hash(const struct bench__plan *p);

#endif
