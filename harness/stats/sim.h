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
struct bench_engine;

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
    double quantile;     /* one more response quantile to measure, 0 < q < 1 (0.999 for p99.9);
                            0: none */
    double stop_past_ms; /* > 0 with a quantile: the run stops as soon as more of its measured
                            responses exceed this than the quantile lets pass, since its quantile
                            is then past it whatever the rest do (an overloaded run ends early);
                            0: never */
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
    double quantile_ms;    /* the config's `quantile` of the response (ms); NAN without one */
    int stopped_past;      /* the run stopped at stop_past_ms: quantile_ms is INFINITY, requests
                              those measured so far, every other figure NAN but past */
    long past;             /* measured responses longer than stop_past_ms (0 without it) */
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

/* ---- the ideal capacity at a latency goal (sim_capacity.c) ---- */

/* The bracket the ideal capacity closes to: hi - lo <= SIM_CAPACITY_TOL hi. */
#define SIM_CAPACITY_TOL 0.02

/* The ideal system's capacity at a goal: the highest open-loop rate whose
 * simulated percentile meets it. */
struct sim_capacity {
    double capacity_rps; /* lo: the highest rate met; 0 when the idle request misses */
    double lo, hi;       /* the bracket: met at lo, missed or overloaded at hi */
    double bound_rps;    /* where the bisection started: sim_bound_rps */
    int runs;            /* simulations made, the idle one first */
    long requests;       /* responses measured in all */
};

/* The Little's-law bound of cfg with wl's mean CPU c (the engine's own CPU
 * added) and wait w (req/s): min(N / (c + w), K / c) for a pool of N
 * workers on K cores, K / c for a thread per request, min(L, K) / c for L
 * loops. INFINITY without CPU where no worker limit holds. */
double sim_bound_rps(const struct wl_workload *wl, const struct sim_config *cfg);

/* The highest rate at which the simulated `percentile` (0 < p < 100: 99 for
 * p99) of cfg's responses is at most goal_ms, the run not overloaded. First
 * the idle request (a run at a thousandth of the bound: missing the goal
 * there gives capacity 0), then a run right under the bound ((1 -
 * SIM_CAPACITY_TOL) of it: meeting the goal there ends the search), then
 * bisection between the two until the bracket is within SIM_CAPACITY_TOL of
 * its upper end. A rate's verdict takes runs of 10,000 requests (100 past
 * the percentile at least: 100,000 for p99.9), four times as many while the
 * share of responses past the goal is within 2.5 standard errors of the
 * percentile's (the error inflated for how responses near saturation come
 * in correlated runs), up to 64 times the first; a run stops as soon as its
 * percentile is known past the goal. Every run takes cfg's seed (common
 * random numbers: the percentile moves smoothly with the rate, so the
 * bisection does not chase noise): deterministic by seed.
 * Tolerance, against M/M/1's and M/D/1's exact capacities (tests/
 * test_ideal.c, seeds 1 to 10): within 3 % up to p99, 6 % at p99.9; the
 * answer is the bracket's lower end, so it errs low more than high.
 * Cost (release build): the default capacity suite's two configs 0.1 s, a
 * 4 x 4 map of two configs about 2 s.
 * 0, or -EINVAL (a bad config, percentile or goal; cfg's rate and clients
 * are ignored), -EDOM when the bound is not finite, or sim_run's error. */
int sim_capacity(const struct wl_workload *wl, const struct sim_config *cfg, double percentile,
                 double goal_ms, struct sim_capacity *out);

/* cfg for config e on `cores` cores as a kernel runs its threads: a pool
 * (SIM_POOL, its workers; 0 a thread per request) or event loops (SIM_LOOPS,
 * its loops, or one a core), cores taken first come first served with
 * slice_us as the round-robin slice (sim_kernel_slice_us); a pool held to a
 * database budget has the fewer workers (bench_config_workers). A loop's
 * budget (bench_config_connections) the simulator does not model: callers
 * leave such a config unsimulated. The rest as sim_config_init leaves it. */
void sim_config_engine(struct sim_config *cfg, const struct bench_engine *e, int cores,
                       double slice_us);

/* The kernel's base slice (us) as its sources document it: 0.75 ms times
 * 1 + log2 of the CPUs (at most 8), 0.70 ms from Linux 6.15 on (where a
 * task had an extra tick of its slice at HZ 250 or 100). cpus: the machine's
 * online CPUs (the scaling counts every one, not the server's); release: the
 * kernel's, "6.8.0-45-generic". 0 (never preempts) when either is unknown. */
double sim_kernel_slice_us(int cpus, const char *release);

#endif
