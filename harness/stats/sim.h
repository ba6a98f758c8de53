/* A discrete-event simulation of the ideal server: what a pool of workers or
 * a set of event loops would do with a workload on a perfect machine, where
 * the only costs are the workload's own CPU steps and query latencies (and,
 * when asked, a fixed CPU of the engine's and the database's). The reference
 * the queueing models of model.h are checked against, and what the report
 * draws where they depart. Deterministic by seed; no I/O, no clock. */
#ifndef OVERLAP_SIM_H
#define OVERLAP_SIM_H

#include <stdint.h>

struct wl_workload;
struct model_prediction;

/* Measured responses when a config asks for none, and the most it may ask
 * for (a response time is kept per measured request: 8 bytes each). */
#define SIM_DEFAULT_REQUESTS 100000
#define SIM_MAX_REQUESTS     50000000L

enum sim_arch {
    SIM_POOL,  /* `threads` workers, each held for a request's whole life (0: a thread per
                  request); a request that finds none free waits for one, first come first
                  served */
    SIM_LOOPS, /* `threads` event loops: a request is taken by one at once and waits only for
                  its loop's CPU, its queries overlapping everything else */
};

/* How the cores are shared by the threads (workers or loops) that have CPU
 * work ready. Within one thread its steps run in the order they became ready:
 * a loop runs each step to completion. */
enum sim_cpu {
    SIM_CPU_SHARED, /* processor sharing: n ready threads on K cores each run at min(1, K / n)
                       of a core, time-slicing in the limit of a vanishing slice */
    SIM_CPU_FCFS,   /* run to completion: a thread that gets a core keeps it while it has
                       ready work (or for at most `slice_us` when others wait, then goes to the
                       back: round robin); threads wait for a core in the order they became
                       ready */
};

struct sim_config {
    enum sim_arch arch;
    int threads; /* workers (>= 0) or loops (>= 1) */
    int cores;   /* >= 1 */
    enum sim_cpu cpu;
    double slice_us; /* SIM_CPU_FCFS: the round-robin slice; 0 never preempts */
    /* Exactly one of the two: Poisson arrivals at `rate` requests/s (open
     * loop), or `clients` that each send a request, wait for its response and
     * `think_us`, and send the next (closed loop; a client of loops keeps
     * its loop, as a connection does). */
    double rate;
    int clients;
    double think_us;
    double engine_cpu_us; /* the server's own CPU per request, before its first step */
    double db_cpu_us;     /* the database's CPU per query, before its latency starts */
    int db_cores;         /* that CPU's servers, first come first served (>= 1 when used) */
    long requests;        /* measured responses; 0: SIM_DEFAULT_REQUESTS */
    long warmup;          /* arrivals before them, not measured; < 0: requests / 10 */
    uint64_t seed;
};

/* The defaults: a pool of one worker on one core, processor sharing, no
 * engine or database CPU, SIM_DEFAULT_REQUESTS after a tenth as many, seed 1.
 * Callers set the architecture and the load. */
void sim_config_init(struct sim_config *cfg);

/* What one run measured over its window: from the first measured arrival to
 * the first arrival after the last measured one. */
struct sim_result {
    long requests; /* measured responses */
    double mean_ms, p50_ms, p99_ms, max_ms;
    double offered_rps;    /* arrivals per second over the window */
    double throughput_rps; /* responses per second over the window */
    /* Little's law, L = lambda W, on every run: the time-average number of
     * requests in the server over the window, and the window's arrival rate
     * times the measured requests' mean response. They agree to within the
     * edge effects of the window (a few requests over the whole run). */
    double in_system, little_lw;
    double core_busy;      /* the cores' mean utilisation over the window, 0 to 1 */
    double worker_wait_ms; /* mean time a measured request waited for a worker (pool) */
    double own_ms;         /* mean time it would take alone: its CPU steps and its queries'
                              drawn latencies */
    int overloaded;        /* an open loop past the system's capacity, whose figures grow with
                              the run's length: its window answered fewer requests than it took
                              in by more than 2 % of them, or its arrivals were cut off (at half
                              as many again as the measured) before every measured request was
                              answered. Little's law does not hold over its window. */
};

/* Runs one simulation of `wl`'s requests (drawn by weight, each step as the
 * workload says, each query's latency drawn from its distribution). 0, or
 * -EINVAL for a bad config or a workload without requests or weight, or
 * -ENOMEM. 10^6 requests take a fraction of a second. */
int sim_run(const struct wl_workload *wl, const struct sim_config *cfg, struct sim_result *out);

/* What model.h predicts, from the simulation instead: the mean, p50 and p99
 * (ms) of `cfg` with its open-loop `rate` replaced, and the cores' share
 * busy as the utilisation. Every figure INFINITY when the run was
 * overloaded. 0, or sim_run's error. */
int sim_predict(const struct wl_workload *wl, const struct sim_config *cfg, double rate,
                struct model_prediction *out);

#endif
