/* Queueing models of the engines: what the charts draw dashed over the
 * measurements (the Universal Scalability Law's fit is usl.c's). Pure
 * arithmetic; plots/README.md says which model draws which config and how
 * far to trust it. */
#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "model.h"
#include "wl.h"

/* ---- textbook queues ---- */

double model_erlang_c(int c, double a)
{
    if (c < 1 || !(a >= 0))
        return NAN;
    if (a >= c)
        return 1;
    /* Erlang B by its recursion B(k) = a B(k-1) / (k + a B(k-1)), B(0) = 1:
     * every step stays in [0, 1], where a^c / c! would overflow by c = 171. */
    double b = 1;
    for (int k = 1; k <= c; k++)
        b = a * b / (k + a * b);
    return c * b / (c - a * (1 - b));
}

/* The offered load lambda s, or NAN for arguments out of range. */
static double offered(int c, double lambda, double s)
{
    if (c < 1 || !(lambda >= 0) || !(s > 0) || !isfinite(s))
        return NAN;
    return lambda * s;
}

double model_mmc_wait(int c, double lambda, double s)
{
    double a = offered(c, lambda, s);
    if (isnan(a) || a >= c)
        return a >= c ? INFINITY : NAN;
    return model_erlang_c(c, a) * s / (c - a);
}

double model_mmc_response(int c, double lambda, double s)
{
    return model_mmc_wait(c, lambda, s) + s;
}

double model_md1_wait(double lambda, double s)
{
    double rho = offered(1, lambda, s);
    if (isnan(rho) || rho >= 1)
        return rho >= 1 ? INFINITY : NAN;
    return rho * s / (2 * (1 - rho));
}

/* M/D/c by Cosmetatos (1975):
 *   W(M/D/c) ~= W(M/M/c) / 2 x (1 + (1 - rho) (c - 1) (sqrt(4 + 5c) - 2) / (16 rho c)).
 * The plain half, Allen-Cunneen's (1 + cs^2) / 2 with cs^2 = 0, is exact at
 * c = 1 and in heavy traffic but short for c > 1 at moderate load: at c = 2,
 * rho = 0.5 a seeded simulation waits 0.177 service times, the half says
 * 0.167, Cosmetatos 0.176. From rho = 0.5 on it is within 3 % of simulation
 * (c = 1 to 64), the half up to 12 % short. In light traffic its correction
 * overshoots, even past W(M/M/c) (c = 10, rho = 0.2), where every wait is
 * tiny; there it is capped at W(M/M/c), which the simulation stays below
 * (0.6 to 0.7 of it). */
double model_mdc_wait(int c, double lambda, double s)
{
    double a = offered(c, lambda, s);
    if (isnan(a) || a >= c)
        return a >= c ? INFINITY : NAN;
    if (a == 0)
        return 0;
    double rho = a / c;
    double corr = (1 - rho) * (c - 1) * (sqrt(4.0 + 5.0 * c) - 2) / (16 * rho * c);
    double factor = 0.5 * (1 + corr);
    return (factor < 1 ? factor : 1) * model_mmc_wait(c, lambda, s);
}

double model_mgc_wait(int c, double lambda, double s, double scv)
{
    double a = offered(c, lambda, s);
    if (isnan(a) || !(scv >= 0) || !isfinite(scv))
        return NAN;
    if (a >= c)
        return INFINITY;
    return scv * model_mmc_wait(c, lambda, s) + (1 - scv) * model_mdc_wait(c, lambda, s);
}

/* ---- tails ---- */

/* A wait that is 0 with probability 1 - p and else exponential with this
 * mean: M/M/c's wait exactly, and the approximation for every other queue. */
struct wait_tail {
    double p, mean;
};

static const struct wait_tail no_wait = {0, 0};

/* P(E1 + E2 > t) for independent exponentials of these means (hypoexponential). */
static double hypoexp_tail(double m1, double m2, double t)
{
    double r1 = 1 / m1, r2 = 1 / m2;
    if (fabs(r1 - r2) <= 1e-6 * fmax(r1, r2)) {
        double r = (r1 + r2) / 2; /* the Erlang-2 limit, where the general form cancels */
        return (1 + r * t) * exp(-r * t);
    }
    return (r2 * exp(-r1 * t) - r1 * exp(-r2 * t)) / (r2 - r1);
}

/* P(X + Y > t) for independent waits X and Y, t >= 0. */
static double sum_tail(struct wait_tail x, struct wait_tail y, double t)
{
    double sum = 0;
    if (x.p > 0)
        sum += x.p * (1 - y.p) * exp(-t / x.mean);
    if (y.p > 0)
        sum += (1 - x.p) * y.p * exp(-t / y.mean);
    if (x.p > 0 && y.p > 0)
        sum += x.p * y.p * hypoexp_tail(x.mean, y.mean, t);
    return sum;
}

/* The q quantile of X + Y, by bisection on the tail (monotone in t). */
static double sum_quantile(struct wait_tail x, struct wait_tail y, double q)
{
    double goal = 1 - q;
    if (sum_tail(x, y, 0) <= goal)
        return 0;
    double lo = 0, hi = (x.p > 0 ? x.mean : 0) + (y.p > 0 ? y.mean : 0);
    while (sum_tail(x, y, hi) > goal) {
        lo = hi;
        hi *= 2;
    }
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
        double mid = (lo + hi) / 2;
        *(sum_tail(x, y, mid) > goal ? &lo : &hi) = mid;
    }
    return (lo + hi) / 2;
}

double model_mmc_response_quantile(int c, double lambda, double s, double q)
{
    double a = offered(c, lambda, s);
    if (isnan(a) || !(q > 0 && q < 1))
        return NAN;
    if (a >= c)
        return INFINITY;
    struct wait_tail wait = {model_erlang_c(c, a), s / (c - a)};
    struct wait_tail service = {1, s};
    return sum_quantile(wait, service, q);
}

/* M/G/c's wait as a tail: the probability of waiting is Erlang C (M/G/1's is
 * exactly rho, which Erlang C gives at c = 1), the mean what M/G/c's requires. */
static struct wait_tail mgc_tail(int c, double lambda, double s, double scv)
{
    double p = model_erlang_c(c, lambda * s);
    double w = model_mgc_wait(c, lambda, s, scv);
    if (!(p > 0 && w > 0))
        return no_wait;
    return (struct wait_tail){p, w / p};
}

/* ---- overlap's engines ---- */

static double dist_variance(const struct wl_dist *d)
{
    double m = wl_dist_mean(d);
    switch (d->kind) {
    case WL_DIST_FIXED: return 0;
    case WL_DIST_UNIFORM: return (d->b - d->a) * (d->b - d->a) / 12;
    case WL_DIST_EXPONENTIAL: return m * m;
    case WL_DIST_LOGNORMAL:
        /* mean = median e^(sigma^2 / 2), variance = mean^2 (e^(sigma^2) - 1) */
        return m * m * ((m / d->a) * (m / d->a) - 1);
    }
    return 0;
}

/* The variance (ns^2) of one request's database wait: its queries' latencies
 * are drawn independently, so their variances add. */
static double request_wait_variance(const struct wl_workload *wl, int request)
{
    const struct wl_request *r = &wl->requests[request];
    double var = 0;
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i].kind == WL_STEP_QUERY)
            var += dist_variance(&wl->queries[r->steps[i].query].latency);
    return var;
}

static double scv_of(double m1, double m2)
{
    return m1 > 0 ? fmax(0, m2 / (m1 * m1) - 1) : 0;
}

int model_service_from_workload(const struct wl_workload *wl, struct model_service *out)
{
    if (!wl || wl->nrequests < 1 || !(wl->total_weight > 0))
        return -EINVAL;
    double c1 = 0, c2 = 0, w1 = 0, h1 = 0, h2 = 0; /* first and second moments, ms */
    for (int i = 0; i < wl->nrequests; i++) {
        double p = wl->requests[i].weight / wl->total_weight;
        double c = wl_request_cpu_ns(wl, i) / 1e6, w = wl_request_wait_ns(wl, i) / 1e6;
        double var = request_wait_variance(wl, i) / 1e12;
        c1 += p * c;
        c2 += p * c * c;
        w1 += p * w;
        h1 += p * (c + w);
        h2 += p * ((c + w) * (c + w) + var);
    }
    *out = (struct model_service){c1, w1, scv_of(c1, c2), scv_of(h1, h2)};
    return 0;
}

static int check_service(const struct model_service *svc)
{
    if (!svc || !(svc->cpu_ms >= 0) || !(svc->wait_ms >= 0) || !(svc->cpu_ms + svc->wait_ms > 0))
        return -EINVAL;
    if (!isfinite(svc->cpu_ms + svc->wait_ms) || !(svc->cpu_scv >= 0) || !(svc->hold_scv >= 0))
        return -EINVAL;
    return 0;
}

static void predict_saturated(struct model_prediction *out, double utilisation)
{
    out->mean_ms = out->p50_ms = out->p99_ms = INFINITY;
    out->utilisation = utilisation;
}

/* A request's own time (its CPU, stretched or not, and its queries'
 * latencies) of this mean and variance, as a fixed part (returned) plus a
 * spread matched to both moments: a shifted exponential while the standard
 * deviation is at most the mean (an exponential query is exactly that), else
 * 0 or an exponential, as a wait is. Without it a workload's exponential
 * query, whose own p99 is 4.6 times its mean, was drawn at its mean. */
static double own_time(double mean, double var, struct wait_tail *spread)
{
    *spread = no_wait;
    if (!(var > 0))
        return mean;
    double sd = sqrt(var);
    if (sd <= mean) {
        *spread = (struct wait_tail){1, sd};
        return mean - sd;
    }
    double p = 2 / (1 + var / (mean * mean));
    *spread = (struct wait_tail){p, mean / p};
    return 0;
}

/* The variance a time-sliced CPU adds to a request: its stretch beyond the
 * CPU's own time, taken as 0 when it finds a core free (Erlang C's chance
 * against) and else exponential: extra E, probability p, variance
 * 2 E^2 / p - E^2. */
static double stretch_variance(double extra, int cores, double a)
{
    double p = model_erlang_c(cores, a);
    return extra > 0 && p > 0 ? 2 * extra * extra / p - extra * extra : 0;
}

/* A response of an own time (mean own_ms, variance own_var) plus one wait. */
static void predict(struct model_prediction *out, double own_ms, double own_var,
                    struct wait_tail wait, double utilisation)
{
    struct wait_tail spread;
    double fixed = own_time(own_ms, own_var, &spread);
    out->mean_ms = own_ms + (wait.p > 0 ? wait.p * wait.mean : 0);
    out->p50_ms = fixed + sum_quantile(wait, spread, 0.50);
    out->p99_ms = fixed + sum_quantile(wait, spread, 0.99);
    out->utilisation = utilisation;
}

/* The variance of a request's c + w over the mix and its latencies. */
static double hold_variance(const struct model_service *svc)
{
    double h = svc->cpu_ms + svc->wait_ms;
    return svc->hold_scv * h * h;
}

/* The throughput (per ms) of n workers that are never idle, on `cores`
 * cores: each alternates its CPU, time-sliced with the others', and its wait
 * w. This is the machine-repair model (n sources, think time w, `cores`
 * servers of mean c), whose product form P(j on the CPU) ~ n! / (n - j)!
 * (c / w)^j / (j! or K! K^(j - K)) holds for any distribution of c and w
 * because time-slicing is processor sharing (BCMP). Below the Little's-law
 * bound min(n / (c + w), K / c) wherever the CPU is ever contended. */
static double closed_throughput(int n, int cores, double c, double w)
{
    if (n <= 0)
        return 0;
    if (c <= 0)
        return n / w;
    if (w <= 0 || c / w > 1e30) /* no wait to speak of: the cores never idle */
        return (n < cores ? n : cores) / c;
    if (n <= cores)
        return n / (c + w);
    /* The terms by their ratios, in linear space (a logarithm per term
     * would cost more than the rest of a prediction), scaled down whenever
     * they grow large: the ratio of two terms is at most n c / w. */
    double term = 1, sum = 1, busy = 0;
    for (int j = 1; j <= n; j++) {
        int in_service = j < cores ? j : cores;
        term *= (n - j + 1) * (c / w) / in_service;
        sum += term;
        busy += in_service * term;
        if (term > 1e200)
            term *= 1e-200, sum *= 1e-200, busy *= 1e-200;
    }
    return busy / sum / c;
}

/* What a pool of N holds at lambda (per ms) < X(N): the probability that
 * an arrival finds every worker busy, and the mean number of busy workers. */
struct pool_occupancy {
    double p_wait, busy;
};

/* The pool as a flow-equivalent server (Norton's theorem): with m requests
 * in it, min(m, N) workers are busy and complete requests at X(min(m, N)),
 * so m is a birth-death chain with P(m) ~ prod_{i <= m} lambda / X(min(i, N)),
 * geometric past N. Summed in logarithms, rescaled as they grow; X(i) is
 * O(i) to compute, so this is O(N^2) at worst (10,000 workers on 128 cores:
 * 0.1 s), far less once X(i) reaches the cores' K / c and stops growing. */
static struct pool_occupancy pool_occupancy(const struct model_service *svc, int workers, int cores,
                                            double lambda)
{
    double cpu_limit = svc->cpu_ms > 0 ? cores / svc->cpu_ms : INFINITY;
    double x = 0, log_p = 0, log_max = 0, sum = 1, busy = 0, tail = 0;
    int converged = 0;
    for (int m = 1; m <= workers; m++) {
        if (!converged) {
            x = closed_throughput(m, cores, svc->cpu_ms, svc->wait_ms);
            converged = x >= (1 - 1e-12) * cpu_limit;
        }
        log_p += log(lambda / x);
        if (log_p > log_max) {
            double f = exp(log_max - log_p);
            sum *= f, busy *= f, log_max = log_p;
        }
        double t = exp(log_p - log_max);
        if (m == workers) /* m >= N: the geometric tail, ratio lambda / X(N) */
            t /= 1 - lambda / x, tail = t;
        sum += t;
        busy += m * t;
    }
    return (struct pool_occupancy){tail / sum, busy / sum};
}

double model_pool_ceiling(const struct model_service *svc, int workers, int cores)
{
    if (check_service(svc) < 0 || workers < 0 || cores < 1)
        return NAN;
    if (workers == 0)
        return svc->cpu_ms > 0 ? cores / svc->cpu_ms * 1e3 : INFINITY;
    return closed_throughput(workers, cores, svc->cpu_ms, svc->wait_ms) * 1e3;
}

/* A thread per request: nobody waits for a worker, and the CPU is an open
 * time-sliced queue of `cores` servers, whose mean response M/M/K's
 * c (1 + C / (K - a)) is exact for processor sharing whatever the
 * distribution of c (it is insensitive). */
static void predict_unbounded(const struct model_service *svc, int cores, double lambda,
                              struct model_prediction *out)
{
    double a = lambda * svc->cpu_ms;
    if (a >= cores) {
        predict_saturated(out, a / cores);
        return;
    }
    double stretch = 1 + model_erlang_c(cores, a) / (cores - a);
    double extra = svc->cpu_ms * (stretch - 1);
    predict(out, svc->wait_ms + svc->cpu_ms * stretch,
            hold_variance(svc) + stretch_variance(extra, cores, a), no_wait, a / cores);
}

/* A pool of N: a request finds every worker busy with the flow-equivalent
 * server's probability, and then waits as there, exponentially with mean
 * 1 / (X(N) - lambda), corrected for how much the holding time varies by
 * the ratio of M/G/N's wait to M/M/N's. A worker is held busy / lambda
 * (Little): c + w while the cores are uncontended, more as the time-sliced
 * CPU fills. With no more workers than cores this is M/G/N itself; with
 * many it tends to the thread per request; it saturates at X(N). */
int model_pool_predict(const struct model_service *svc, int workers, int cores, double rate,
                       struct model_prediction *out)
{
    if (check_service(svc) < 0 || workers < 0 || cores < 1 || !(rate >= 0) || !isfinite(rate) ||
        !out)
        return -EINVAL;
    double lambda = rate / 1e3; /* per ms */
    if (workers == 0) {
        predict_unbounded(svc, cores, lambda, out);
        return 0;
    }
    double ceiling = closed_throughput(workers, cores, svc->cpu_ms, svc->wait_ms);
    if (lambda >= ceiling) {
        predict_saturated(out, lambda / ceiling);
        return 0;
    }
    if (lambda == 0) {
        predict(out, svc->cpu_ms + svc->wait_ms, hold_variance(svc), no_wait, 0);
        return 0;
    }
    struct pool_occupancy occ = pool_occupancy(svc, workers, cores, lambda);
    double hold = fmax(svc->cpu_ms + svc->wait_ms, occ.busy / lambda);
    double mm = model_mmc_wait(workers, lambda, hold);
    double ratio = mm > 0 ? model_mgc_wait(workers, lambda, hold, svc->hold_scv) / mm : 1;
    struct wait_tail wait = {occ.p_wait, ratio / (ceiling - lambda)};
    double utilisation = fmax(lambda * svc->cpu_ms / cores, occ.busy / workers);
    double extra = hold - (svc->cpu_ms + svc->wait_ms), a = lambda * svc->cpu_ms;
    double var = hold_variance(svc) + (a < cores ? stretch_variance(extra, cores, a) : 0);
    predict(out, hold, var, occ.p_wait > 0 ? wait : no_wait, utilisation);
    return 0;
}

double model_loop_ceiling(const struct model_service *svc, int loops, int cores)
{
    if (check_service(svc) < 0 || loops < 1 || cores < 1)
        return NAN;
    return svc->cpu_ms > 0 ? (loops < cores ? loops : cores) / svc->cpu_ms * 1e3 : INFINITY;
}

/* The event loop: Poisson arrivals split evenly over the loops stay Poisson,
 * so each loop is an M/G/1 server of CPU at rate / loops. A request's CPU
 * steps queue separately, but their waits add up to one wait for the whole
 * of c (Pollaczek-Khinchine's wait is linear in the work per arrival). */
int model_loop_predict(const struct model_service *svc, int loops, int cores, double rate,
                       struct model_prediction *out)
{
    if (check_service(svc) < 0 || loops < 1 || cores < 1 || !(rate >= 0) || !isfinite(rate) || !out)
        return -EINVAL;
    double slow = loops > cores ? (double)loops / cores : 1;
    double s = svc->cpu_ms * slow; /* a request's CPU on its loop's share of a core */
    double lambda = rate / 1e3 / loops;
    double rho = lambda * s;
    if (rho >= 1) {
        predict_saturated(out, rho);
        return 0;
    }
    struct wait_tail wait = s > 0 ? mgc_tail(1, lambda, s, svc->cpu_scv) : no_wait;
    predict(out, svc->wait_ms + s, hold_variance(svc), wait, rho);
    return 0;
}
