/* Queueing models of the engines, drawn dashed over the measurements: Erlang C
 * and the M/M/c, M/D/c and M/G/c waits, the engines' predicted p50 and p99 at
 * an offered rate, and Gunther's Universal Scalability Law with its fit.
 * Pure functions of their arguments: no I/O, no state. */
#ifndef OVERLAP_MODEL_H
#define OVERLAP_MODEL_H

struct wl_workload;

/* ---- textbook queues ----
 * c servers, Poisson arrivals at rate lambda, a mean service time s (any one
 * time unit; lambda per that unit): the offered load is a = lambda s, the
 * utilisation a / c. Waits are the time in queue before service starts.
 * Arguments out of range (c < 1, lambda < 0, s <= 0) give NAN; a queue at or
 * past saturation (a >= c) waits INFINITY. */

/* The probability that an arrival waits in M/M/c (Erlang's C formula) at
 * offered load a: computed through Erlang B's recursion, so it neither
 * overflows nor cancels for c up to 10,000 and beyond. 1 for a >= c. */
double model_erlang_c(int c, double a);

/* M/M/c: the mean wait C s / (c - a), the mean response (wait + s), and the
 * q quantile (0 < q < 1) of the response time, exactly: the wait is 0 with
 * probability 1 - C and else exponential with rate (c - a) / s, the service
 * exponential with rate 1 / s, independent. */
double model_mmc_wait(int c, double lambda, double s);
double model_mmc_response(int c, double lambda, double s);
double model_mmc_response_quantile(int c, double lambda, double s, double q);

/* M/D/1's mean wait, Pollaczek-Khinchine: rho s / (2 (1 - rho)), exact. */
double model_md1_wait(double lambda, double s);
/* M/D/c's mean wait by Cosmetatos's approximation (half the M/M/c wait, with
 * a correction for c > 1 that vanishes as rho -> 1), never above M/M/c's:
 * why this one is in model.c. Exact for c = 1. */
double model_mdc_wait(int c, double lambda, double s);
/* M/G/c's mean wait for a service time whose squared coefficient of variation
 * (variance / mean^2) is scv: scv W(M/M/c) + (1 - scv) W(M/D/c), which is
 * M/D/c at 0, M/M/c at 1 and Pollaczek-Khinchine's exact M/G/1 at c = 1. */
double model_mgc_wait(int c, double lambda, double s, double scv);

/* ---- overlap's engines ---- */

/* The tolerances model_pool_predict and model_loop_predict hold against the
 * simulator of the same ideal system (sim.h) where their assumptions hold
 * (below): a relative miss of the mean, the p50 and the p99. Past them the
 * report draws the simulator's curve instead (plots/README.md). */
#define MODEL_TOL_MEAN 0.08
#define MODEL_TOL_P50  0.12
#define MODEL_TOL_P99  0.25

/* What a request asks of a server: its mean CPU c and database wait w (ms),
 * and how much they vary over the mix (squared coefficients of variation:
 * 0 when every request is alike). */
struct model_service {
    double cpu_ms;   /* c */
    double wait_ms;  /* w */
    double cpu_scv;  /* of a request's CPU: what an event loop queues behind */
    double hold_scv; /* of c + w: how long a pool worker is held */
};

/* The service of a workload: c and w as wl_mean_cpu_ns and wl_mean_wait_ns,
 * the variations from its request types' weights and its latencies' spread.
 * 0, or -EINVAL for a workload without requests or weight. */
int model_service_from_workload(const struct wl_workload *wl, struct model_service *out);

/* A predicted response time (ms) at an offered rate; every field INFINITY at
 * or past saturation. p50 and p99 are approximations for all but M/M/c (see
 * plots/README.md): the wait's tail is taken as exponential, and a request's
 * own time (its CPU and its queries' latencies) as a fixed part plus an
 * exponential one matched to its mean and variance. */
struct model_prediction {
    double mean_ms, p50_ms, p99_ms;
    double utilisation; /* of the busiest resource (workers or cores); at or past
                           saturation, the offered rate over the ceiling (>= 1) */
};

/* A pool of `workers` threads (0: a thread per request) on `cores` cores at
 * `rate` requests/s. A request waits for a worker when all are busy and
 * holds one for w plus its CPU, the CPU time-sliced with the other busy
 * workers'; the pool saturates at model_pool_ceiling. O(workers^2) at worst
 * (model.c). 0, or -EINVAL for a bad argument.
 * Tolerance, against the simulator of the same ideal system (sim.h, its
 * cores shared by processor sharing; tests/test_sim.c, the seed workload's
 * 1 ms of CPU around a fixed or an exponential 10 ms query, 1, 8 and 64
 * workers on 1 and 2 cores, 0.1 to 0.9 of the ceiling): the mean within 8 %,
 * the p50 within 12 %, the p99 within 25 %. Where it departs: more workers
 * than cores with a fixed hold time, from 0.85 of the ceiling on (8 workers
 * on one core: mean 40 % short at 0.9, 68 % at 0.95), because the wait for a
 * worker is taken as M/D/N's while time-slicing makes the hold vary. And
 * time-slicing is itself the assumption: a kernel runs a burst shorter than
 * its slice to completion, which sim_run's SIM_CPU_FCFS cores model and
 * which serves far more (8 workers, one core, 655 req/s: p99 39 ms against
 * processor sharing's 2 s); sim_predict draws that pool. */
int model_pool_predict(const struct model_service *svc, int workers, int cores, double rate,
                       struct model_prediction *out);
/* Where the pool saturates (requests/s): the throughput of `workers` threads
 * that are never idle, at most the Little's-law bound
 * min(N / (c + w), cores / c) and below it wherever the cores are ever
 * contended; cores / c for a thread per request. NAN for a bad argument. */
double model_pool_ceiling(const struct model_service *svc, int workers, int cores);

/* `loops` event loops on `cores` cores at `rate` requests/s: each loop is one
 * server of the requests' CPU (M/G/1, run to completion, so a long step holds
 * up every request of its loop), slowed by loops / cores when they outnumber
 * the cores; the wait w overlaps and adds only itself. 0, or -EINVAL for a
 * bad argument.
 * Tolerance, against the simulator on the same grid as the pool's (1 and 2
 * loops, no more than the cores): the mean within 8 %, the p50 within 12 %,
 * the p99 within 25 % up to 0.9 of the ceiling; at 0.95 the mean is 8 to 11 %
 * short and the p99 up to 25 % short (a request's two steps wait apiece,
 * which one wait for the whole of c understates near saturation). Where it
 * departs: loops that outnumber the cores are slowed all the time where they
 * share a core only while both have work, so it errs slow, by 10 % at 0.1 of
 * the ceiling to 41 % at 0.95 (2 loops, one core). */
int model_loop_predict(const struct model_service *svc, int loops, int cores, double rate,
                       struct model_prediction *out);
/* Where the loops saturate (requests/s): min(loops, cores) / c. NAN for a bad
 * argument, INFINITY without CPU. */
double model_loop_ceiling(const struct model_service *svc, int loops, int cores);

/* ---- the Universal Scalability Law ---- */

/* X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1)): lambda the
 * throughput of one, sigma contention (serial fraction), kappa coherency
 * (crosstalk), sigma, kappa >= 0. */
struct model_usl {
    double lambda, sigma, kappa;
    double rms_rel; /* of a fit: the root mean square relative residual */
};

double model_usl_throughput(const struct model_usl *usl, double n);
/* The concurrency of peak throughput, sqrt((1 - sigma) / kappa): INFINITY
 * when kappa = 0 (the curve only flattens), 1 when sigma >= 1. */
double model_usl_peak(const struct model_usl *usl);
/* Fits (lambda, sigma, kappa) to count points (n[i], x[i]) by least squares
 * on relative residuals (throughput's noise is proportional to it), with
 * sigma, kappa >= 0. 0, or -EINVAL for fewer than 3 points with distinct
 * n >= 1 or any x <= 0. */
int model_usl_fit(const double *n, const double *x, int count, struct model_usl *out);

#endif
