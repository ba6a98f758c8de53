/* The queueing models against textbook values and seeded simulations: Erlang
 * C (reference values from the definition, summed in exact arithmetic), the
 * M/M/1 limits, Pollaczek-Khinchine, the M/D/c approximation, the engines'
 * predictions and where they saturate, and the USL fit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "wl.h"

#define N(x) ((int)(sizeof(x) / sizeof((x)[0])))

static struct wl_workload *load_shipped(const char *name)
{
    char path[512], err[WL_ERR_LEN];
    struct wl_workload *wl;
    snprintf(path, sizeof(path), "%s/workloads/%s.ini", OVERLAP_SOURCE_DIR, name);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    return wl;
}

/* ---- Erlang C and M/M/c ---- */

Test(model, erlang_c_matches_reference_values)
{
    /* C(c, a) = (a^c / c! . c / (c - a)) / (sum_{k<c} a^k / k! + a^c / c! . c / (c - a)),
     * summed in exact rationals (c <= 100) or in logarithms (c = 10,000). */
    const struct {
        int c;
        double a, want;
    } table[] = {
        {1, 0.5, 0.5},
        {2, 1, 1.0 / 3},
        {5, 4.5, 0.7624932207329356},
        {10, 8, 0.40918015079644354},
        {100, 90, 0.2169404809063664},
        {1000, 950, 0.06825341537714143},
        {10000, 9900, 0.2227769288672963},
        {10000, 9990, 0.8805417113757038},
    };
    for (int i = 0; i < N(table); i++)
        cr_expect_float_eq(model_erlang_c(table[i].c, table[i].a), table[i].want,
                           1e-9 * table[i].want, "c = %d, a = %g: %.15g", table[i].c, table[i].a,
                           model_erlang_c(table[i].c, table[i].a));
}

Test(model, erlang_c_at_its_edges)
{
    cr_expect_eq(model_erlang_c(4, 0), 0.0, "nobody waits without load");
    cr_expect_eq(model_erlang_c(4, 4), 1.0, "everybody waits at saturation");
    cr_expect_eq(model_erlang_c(4, 7), 1.0);
    cr_expect(isnan(model_erlang_c(0, 1)));
    cr_expect(isnan(model_erlang_c(2, -1)));
    cr_expect(isnan(model_erlang_c(2, NAN)));
    for (int c = 1; c <= 1000; c *= 10) /* M/M/1 gives rho; more servers wait less */
        cr_expect_lt(model_erlang_c(c * 2, 0.8 * c * 2), model_erlang_c(c, 0.8 * c));
}

Test(model, mm1_is_the_textbook_queue)
{
    /* lambda = 0.5, s = 1: rho = 0.5, wait rho s / (1 - rho) = 1, response
     * s / (1 - rho) = 2, and the response is exponential with rate mu - lambda,
     * so its q quantile is -ln(1 - q) / (mu - lambda). */
    cr_expect_float_eq(model_mmc_wait(1, 0.5, 1), 1.0, 1e-12);
    cr_expect_float_eq(model_mmc_response(1, 0.5, 1), 2.0, 1e-12);
    cr_expect_float_eq(model_mmc_response_quantile(1, 0.5, 1, 0.5), log(2) / 0.5, 1e-9);
    cr_expect_float_eq(model_mmc_response_quantile(1, 0.5, 1, 0.99), log(100) / 0.5, 1e-9);
    cr_expect_float_eq(model_mmc_wait(1, 90, 0.01), 0.09, 1e-12, "rho = 0.9, in other units");
    cr_expect_eq(model_mmc_wait(1, 1, 1), INFINITY);
    cr_expect_eq(model_mmc_response_quantile(3, 4, 1, 0.99), INFINITY);
    cr_expect(isnan(model_mmc_wait(1, -1, 1)));
    cr_expect(isnan(model_mmc_wait(1, 1, 0)));
    cr_expect(isnan(model_mmc_response_quantile(1, 0.5, 1, 1)));
}

Test(model, mmc_wait_is_erlang_c_over_the_spare_capacity)
{
    /* c = 10, a = 8: W = C s / (c - a) */
    cr_expect_float_eq(model_mmc_wait(10, 8, 1), 0.40918015079644354 / 2, 1e-12);
    cr_expect_float_eq(model_mmc_wait(2, 1, 1), 1.0 / 3, 1e-12);
}

/* ---- a seeded simulation to check what has no closed form ---- */

/* A FCFS queue with c servers, Poisson arrivals at lambda and a service of
 * mean s (deterministic or exponential): the waits (or responses) of n
 * customers after a warm-up of n / 10, sorted. */
static double *simulate(int c, double lambda, double s, int exponential, int responses, int n)
{
    struct wl_rng rng;
    wl_rng_seed(&rng, 42);
    double *free_at = calloc((size_t)c, sizeof(double)), *out = malloc(sizeof(double) * n);
    cr_assert(free_at && out);
    double t = 0;
    for (int i = -n / 10; i < n; i++) {
        t += -log1p(-wl_rng_double(&rng)) / lambda;
        int k = 0;
        for (int j = 1; j < c; j++)
            k = free_at[j] < free_at[k] ? j : k;
        double start = fmax(t, free_at[k]);
        double service = exponential ? -s * log1p(-wl_rng_double(&rng)) : s;
        free_at[k] = start + service;
        if (i >= 0)
            out[i] = start - t + (responses ? service : 0);
    }
    free(free_at);
    return out;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sim_mean(const double *x, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    return sum / n;
}

static double sim_quantile(double *x, int n, double q)
{
    qsort(x, (size_t)n, sizeof(double), cmp_double);
    return x[(int)(q * n)];
}

Test(model, mmc_response_quantile_matches_a_simulation)
{
    enum { n = 400000 };
    double *r = simulate(2, 1.6, 1, 1, 1, n);    /* M/M/2 at rho = 0.8 */
    double mean = model_mmc_response(2, 1.6, 1); /* 1 + (1.28 / 1.8) / 0.4 */
    cr_expect_float_eq(mean, 1 + 1.28 / 1.8 / 0.4, 1e-12);
    cr_expect_float_eq(sim_mean(r, n), mean, 0.03 * mean);
    double p99 = model_mmc_response_quantile(2, 1.6, 1, 0.99);
    cr_expect_float_eq(sim_quantile(r, n, 0.99), p99, 0.05 * p99, "p99 %g", p99);
    double p50 = model_mmc_response_quantile(2, 1.6, 1, 0.5);
    cr_expect_float_eq(sim_quantile(r, n, 0.5), p50, 0.03 * p50, "p50 %g", p50);
    free(r);
}

/* ---- deterministic and general service ---- */

Test(model, md1_is_pollaczek_khinchine)
{
    /* rho s / (2 (1 - rho)): half the M/M/1 wait */
    cr_expect_float_eq(model_md1_wait(0.5, 1), 0.5, 1e-12);
    cr_expect_float_eq(model_md1_wait(0.9, 1), 4.5, 1e-12);
    cr_expect_float_eq(model_md1_wait(250, 0.002), 0.001, 1e-12, "rho = 0.5 in seconds");
    cr_expect_float_eq(model_mdc_wait(1, 0.7, 1), model_md1_wait(0.7, 1), 1e-12,
                       "Cosmetatos is exact at c = 1");
    cr_expect_eq(model_md1_wait(1, 1), INFINITY);
    cr_expect(isnan(model_md1_wait(-1, 1)));
}

Test(model, mdc_wait_is_within_3_percent_of_a_simulation)
{
    enum { n = 400000 };
    const struct {
        int c;
        double rho;
    } cases[] = {{2, 0.5}, {4, 0.8}, {4, 0.95}, {16, 0.9}};
    for (int i = 0; i < N(cases); i++) {
        double lambda = cases[i].rho * cases[i].c;
        double *w = simulate(cases[i].c, lambda, 1, 0, 0, n);
        double want = model_mdc_wait(cases[i].c, lambda, 1), got = sim_mean(w, n);
        cr_expect_float_eq(got, want, 0.03 * want + 1e-3, "c = %d, rho = %g: %g against %g",
                           cases[i].c, cases[i].rho, got, want);
        cr_expect_lt(want, model_mmc_wait(cases[i].c, lambda, 1));
        free(w);
    }
}

Test(model, mgc_spans_md_and_mm)
{
    cr_expect_float_eq(model_mgc_wait(8, 6, 1, 0), model_mdc_wait(8, 6, 1), 1e-12);
    cr_expect_float_eq(model_mgc_wait(8, 6, 1, 1), model_mmc_wait(8, 6, 1), 1e-12);
    /* M/G/1, Pollaczek-Khinchine: rho s (1 + scv) / (2 (1 - rho)) */
    cr_expect_float_eq(model_mgc_wait(1, 0.5, 1, 3), 0.5 * 4 / (2 * 0.5), 1e-12);
    cr_expect_eq(model_mgc_wait(2, 2, 1, 3), INFINITY);
    cr_expect(isnan(model_mgc_wait(2, 1, 1, -0.5)));
}

/* ---- the engines ---- */

Test(model, service_of_the_shipped_workloads)
{
    struct model_service svc;
    struct wl_workload *wl = load_shipped("seed");
    cr_assert_eq(model_service_from_workload(wl, &svc), 0);
    cr_expect_float_eq(svc.cpu_ms, 1.0, 1e-12);
    cr_expect_float_eq(svc.wait_ms, 10.0, 1e-12);
    cr_expect_float_eq(svc.cpu_scv, 0.0, 1e-12, "one request type, fixed latency");
    cr_expect_float_eq(svc.hold_scv, 0.0, 1e-12);
    wl_free(wl);

    wl = load_shipped("mixed-cpu");
    cr_assert_eq(model_service_from_workload(wl, &svc), 0);
    /* 98 % 0.4 ms + 10 ms, 2 % 50 ms */
    double c1 = 0.98 * 0.4 + 0.02 * 50, c2 = 0.98 * 0.16 + 0.02 * 2500;
    double h1 = 0.98 * 10.4 + 0.02 * 50, h2 = 0.98 * 10.4 * 10.4 + 0.02 * 2500;
    cr_expect_float_eq(svc.cpu_ms, c1, 1e-12);
    cr_expect_float_eq(svc.wait_ms, 9.8, 1e-12);
    cr_expect_float_eq(svc.cpu_scv, c2 / (c1 * c1) - 1, 1e-9, "%g", svc.cpu_scv);
    cr_expect_float_eq(svc.hold_scv, h2 / (h1 * h1) - 1, 1e-9);
    cr_expect_gt(svc.cpu_scv, 20, "the CPU's spread is what the loop queues behind");
    wl_free(wl);
    cr_expect_eq(model_service_from_workload(NULL, &svc), -EINVAL);
}

Test(model, service_counts_the_latency_spread)
{
    /* mixed.ini's latencies are lognormal and exponential: a worker's holding
     * time varies even within a request type. */
    struct model_service svc;
    struct wl_workload *wl = load_shipped("mixed");
    cr_assert_eq(model_service_from_workload(wl, &svc), 0);
    cr_expect_float_eq(svc.cpu_ms, wl_mean_cpu_ns(wl) / 1e6, 1e-9);
    cr_expect_float_eq(svc.wait_ms, wl_mean_wait_ns(wl) / 1e6, 1e-9);
    cr_expect_gt(svc.hold_scv, 0);
    wl_free(wl);
}

Test(model, engines_saturate_at_their_ceiling_within_the_littles_law_bound)
{
    struct wl_workload *wl = load_shipped("seed");
    struct model_service svc;
    struct model_prediction p;
    cr_assert_eq(model_service_from_workload(wl, &svc), 0);
    const struct {
        int workers, cores;
    } pools[] = {{8, 2}, {4, 1}, {64, 2}, {0, 2}, {1, 1}, {2, 2}, {1000, 4}};
    for (int i = 0; i < N(pools); i++) {
        int n = pools[i].workers, k = pools[i].cores;
        double bound = wl_bound_rps(wl, 0, n, k), ceiling = model_pool_ceiling(&svc, n, k);
        cr_expect_leq(ceiling, bound * (1 + 1e-12), "pool %d on %d cores: %g", n, k, ceiling);
        if (n <= k) /* nothing ever waits for a core: the bound is reached */
            cr_expect_float_eq(ceiling, bound, 1e-9 * bound, "pool %d on %d cores", n, k);
        cr_assert_eq(model_pool_predict(&svc, n, k, 0.999 * ceiling, &p), 0);
        cr_expect(isfinite(p.p99_ms), "pool %d on %d cores just below %g", n, k, ceiling);
        cr_assert_eq(model_pool_predict(&svc, n, k, ceiling, &p), 0);
        cr_expect_eq(p.p99_ms, INFINITY, "pool %d on %d cores at %g", n, k, ceiling);
        cr_expect_eq(p.mean_ms, INFINITY);
    }
    for (int cores = 1; cores <= 4; cores++) {
        double bound = wl_bound_rps(wl, 0, 0, cores);
        cr_expect_float_eq(model_loop_ceiling(&svc, cores, cores), bound, 1e-9 * bound);
        cr_assert_eq(model_loop_predict(&svc, cores, cores, 0.999 * bound, &p), 0);
        cr_expect(isfinite(p.p99_ms));
        cr_assert_eq(model_loop_predict(&svc, cores, cores, bound, &p), 0);
        cr_expect_eq(p.p50_ms, INFINITY);
        cr_expect_float_eq(p.utilisation, 1.0, 1e-12);
    }
    wl_free(wl);
}

Test(model, pool_ceiling_is_the_machine_repair_throughput)
{
    /* N workers never idle, each alternating c on K time-sliced cores and w:
     * P(j on the CPU) ~ N! / (N - j)! (c / w)^j / (j! or K! K^(j - K)),
     * throughput E[min(j, K)] / c. For N = 4, K = 1, c = 1, w = 10 the terms
     * are 1, 0.4, 0.12, 0.024, 0.0024: 0.5464 / 1.5464 per ms. For N = 4,
     * K = 2, c = w = 1: 1, 4, 6, 6, 3, busy 34 / 20. */
    const struct {
        int workers, cores;
        double c, w, want;
    } table[] = {
        {4, 1, 1, 10, 1e3 * 0.5464 / 1.5464},
        {11, 1, 1, 10, 836.7676667555662},
        {2, 1, 1, 1, 800},
        {4, 2, 1, 1, 1700},
    };
    for (int i = 0; i < N(table); i++) {
        struct model_service svc = {table[i].c, table[i].w, 0, 0};
        double got = model_pool_ceiling(&svc, table[i].workers, table[i].cores);
        cr_expect_float_eq(got, table[i].want, 1e-9 * table[i].want, "%d: %.12g", i, got);
    }
    struct model_service none = {0, 0, 0, 0}, svc = {1, 10, 0, 0};
    cr_expect(isnan(model_pool_ceiling(&none, 4, 1)));
    cr_expect(isnan(model_pool_ceiling(&svc, 4, 0)));
    cr_expect(isnan(model_loop_ceiling(&svc, 0, 1)));
}

Test(model, an_idle_server_answers_in_c_plus_w)
{
    struct model_service svc = {1, 10, 0, 0};
    struct model_prediction p;
    cr_assert_eq(model_pool_predict(&svc, 8, 2, 0, &p), 0);
    cr_expect_float_eq(p.p50_ms, 11.0, 1e-12);
    cr_expect_float_eq(p.p99_ms, 11.0, 1e-12);
    cr_expect_float_eq(p.utilisation, 0.0, 1e-12);
    cr_assert_eq(model_loop_predict(&svc, 2, 2, 0, &p), 0);
    cr_expect_float_eq(p.mean_ms, 11.0, 1e-12);
    cr_expect_float_eq(p.p99_ms, 11.0, 1e-12);
}

Test(model, a_pool_with_no_more_workers_than_cores_is_md_n)
{
    /* Nothing waits for a core: workers are N servers of c + w. */
    struct model_service svc = {1, 10, 0, 0};
    struct model_prediction p;
    cr_assert_eq(model_pool_predict(&svc, 2, 2, 150, &p), 0);
    cr_expect_float_eq(p.mean_ms, 11 + model_mdc_wait(2, 0.15, 11), 1e-9, "%g", p.mean_ms);
    cr_expect_float_eq(p.utilisation, 0.15 * 11 / 2, 1e-9);
    svc.hold_scv = 1; /* an exponential holding time: M/M/2, whose tail is exact */
    cr_assert_eq(model_pool_predict(&svc, 2, 2, 150, &p), 0);
    cr_expect_float_eq(p.mean_ms, model_mmc_response(2, 0.15, 11), 1e-9);
}

Test(model, a_large_pool_is_a_thread_per_request)
{
    /* With far more workers than requests in flight, nobody waits for one,
     * and each request's CPU is time-sliced with the others': 900 req/s of
     * 1 ms on one core stretch it to 1 / (1 - 0.9) = 10 ms. */
    struct model_service svc = {1, 10, 0, 0};
    struct model_prediction pool, threads;
    cr_assert_eq(model_pool_predict(&svc, 0, 1, 900, &threads), 0);
    cr_expect_float_eq(threads.mean_ms, 20, 1e-9, "%g", threads.mean_ms);
    cr_assert_eq(model_pool_predict(&svc, 4096, 1, 900, &pool), 0);
    cr_expect_float_eq(pool.mean_ms, threads.mean_ms, 1e-6 * threads.mean_ms, "%g", pool.mean_ms);
    cr_assert_eq(model_pool_predict(&svc, 64, 2, 1800, &pool), 0);
    cr_assert_eq(model_pool_predict(&svc, 0, 2, 1800, &threads), 0);
    cr_expect_float_eq(pool.mean_ms, threads.mean_ms, 0.01 * threads.mean_ms, "%g against %g",
                       pool.mean_ms, threads.mean_ms);
}

Test(model, one_loop_is_md1_plus_the_wait)
{
    /* 500 req/s of 1 ms CPU: rho = 0.5, PK wait 0.5 ms, waiting with
     * probability 0.5 and then exponential with mean 1 ms, so the wait's p99
     * is ln(0.5 / 0.01) ms and its median 0. */
    struct model_service svc = {1, 10, 0, 0};
    struct model_prediction p;
    cr_assert_eq(model_loop_predict(&svc, 1, 1, 500, &p), 0);
    cr_expect_float_eq(p.mean_ms, 11.5, 1e-9);
    cr_expect_float_eq(p.p50_ms, 11.0, 1e-9);
    cr_expect_float_eq(p.p99_ms, 11.0 + log(50), 1e-9);
    cr_expect_float_eq(p.utilisation, 0.5, 1e-12);
    /* four loops on two cores: each runs at half speed, saturating at 2 / c */
    cr_assert_eq(model_loop_predict(&svc, 4, 2, 1000, &p), 0);
    cr_expect_float_eq(p.mean_ms, 10 + 2 + model_md1_wait(0.25, 2), 1e-9);
    cr_assert_eq(model_loop_predict(&svc, 4, 2, 2000, &p), 0);
    cr_expect_eq(p.p99_ms, INFINITY);
}

/* Rounding may move a flat stretch by an ulp; nothing else may lower it. */
static int at_least(double now, double before)
{
    return now >= before * (1 - 1e-12);
}

Test(model, predictions_grow_with_the_rate)
{
    struct model_service svc = {1.392, 9.8, 24.9, 0.9};
    struct model_prediction p, last = {0, 0, 0, 0};
    for (double rate = 0; rate < 1500; rate += 20) {
        cr_assert_eq(model_pool_predict(&svc, 32, 2, rate, &p), 0);
        cr_expect(at_least(p.p99_ms, last.p99_ms), "pool at %g: %g", rate, p.p99_ms);
        cr_expect(at_least(p.mean_ms, last.mean_ms), "pool at %g: %g", rate, p.mean_ms);
        cr_expect_geq(p.p99_ms, p.p50_ms);
        last = p;
    }
    cr_expect_eq(last.p99_ms, INFINITY, "past the 2 / c = 1437 req/s of two cores");
    last = (struct model_prediction){0, 0, 0, 0};
    for (double rate = 0; rate < 1500; rate += 20) {
        cr_assert_eq(model_loop_predict(&svc, 2, 2, rate, &p), 0);
        cr_expect(at_least(p.p99_ms, last.p99_ms), "loop at %g: %g", rate, p.p99_ms);
        cr_expect(at_least(p.mean_ms, last.mean_ms), "loop at %g: %g", rate, p.mean_ms);
        cr_expect_geq(p.p99_ms, p.p50_ms);
        last = p;
    }
    cr_expect_eq(last.p99_ms, INFINITY);
}

Test(model, head_of_line_blocking_loses_the_loop_its_lead)
{
    /* The seed workload on one core: an event loop holds out to 1000 req/s,
     * a pool of 8 saturates at 8 / 11 ms = 727. On mixed-cpu at 400 req/s
     * (56 % of the core) the loop's short requests wait behind long ones,
     * while time-slicing lets them pass: the pool answers sooner. */
    struct wl_workload *seed = load_shipped("seed"), *mixed = load_shipped("mixed-cpu");
    struct model_service s_seed, s_mixed;
    struct model_prediction pool, loop;
    cr_assert_eq(model_service_from_workload(seed, &s_seed), 0);
    cr_assert_eq(model_service_from_workload(mixed, &s_mixed), 0);
    cr_assert_eq(model_pool_predict(&s_seed, 8, 1, 800, &pool), 0);
    cr_assert_eq(model_loop_predict(&s_seed, 1, 1, 800, &loop), 0);
    cr_expect_eq(pool.p99_ms, INFINITY);
    cr_expect(isfinite(loop.p99_ms));
    cr_assert_eq(model_pool_predict(&s_mixed, 64, 1, 400, &pool), 0);
    cr_assert_eq(model_loop_predict(&s_mixed, 1, 1, 400, &loop), 0);
    cr_expect_lt(pool.mean_ms * 2, loop.mean_ms, "pool %g ms, loop %g ms", pool.mean_ms,
                 loop.mean_ms);
    cr_expect_lt(pool.p99_ms, loop.p99_ms);
    wl_free(seed);
    wl_free(mixed);
}

Test(model, bad_engine_arguments_are_refused)
{
    struct model_service svc = {1, 10, 0, 0}, none = {0, 0, 0, 0}, bad = {1, 10, -1, 0};
    struct model_prediction p;
    cr_expect_eq(model_pool_predict(&svc, -1, 2, 10, &p), -EINVAL);
    cr_expect_eq(model_pool_predict(&svc, 8, 0, 10, &p), -EINVAL);
    cr_expect_eq(model_pool_predict(&svc, 8, 2, -1, &p), -EINVAL);
    cr_expect_eq(model_pool_predict(&svc, 8, 2, NAN, &p), -EINVAL);
    cr_expect_eq(model_pool_predict(&none, 8, 2, 10, &p), -EINVAL);
    cr_expect_eq(model_loop_predict(&bad, 1, 1, 10, &p), -EINVAL);
    cr_expect_eq(model_loop_predict(&svc, 0, 1, 10, &p), -EINVAL);
    cr_expect_eq(model_loop_predict(NULL, 1, 1, 10, &p), -EINVAL);
}

/* ---- the Universal Scalability Law ---- */

static const double usl_n[] = {1, 2, 4, 8, 16, 32, 64, 128};

static void usl_points(const struct model_usl *truth, double noise, double *x)
{
    struct wl_rng rng;
    wl_rng_seed(&rng, 7);
    for (int i = 0; i < N(usl_n); i++) {
        /* a normal deviate by Box-Muller */
        double u = wl_rng_double(&rng), v = wl_rng_double(&rng);
        double z = sqrt(-2 * log1p(-u)) * cos(2 * M_PI * v);
        x[i] = model_usl_throughput(truth, usl_n[i]) * (1 + noise * z);
    }
}

Test(model, usl_fit_recovers_exact_points)
{
    const struct model_usl truths[] = {
        {1000, 0.05, 0.001, 0}, /* peaks at 30.8 */
        {500, 0.1, 0, 0},       /* Amdahl: only flattens */
        {200, 0, 0, 0},         /* linear */
        {80, 0.02, 0.0002, 0},  /* peaks at 70 */
    };
    double x[N(usl_n)];
    for (int t = 0; t < N(truths); t++) {
        struct model_usl fit;
        usl_points(&truths[t], 0, x);
        cr_assert_eq(model_usl_fit(usl_n, x, N(usl_n), &fit), 0);
        cr_expect_float_eq(fit.lambda, truths[t].lambda, 1e-6 * truths[t].lambda, "%d: %g", t,
                           fit.lambda);
        cr_expect_float_eq(fit.sigma, truths[t].sigma, 1e-6, "%d: %g", t, fit.sigma);
        cr_expect_float_eq(fit.kappa, truths[t].kappa, 1e-8, "%d: %g", t, fit.kappa);
        cr_expect_lt(fit.rms_rel, 1e-6);
    }
}

Test(model, usl_fit_holds_through_2_percent_noise)
{
    const struct model_usl truth = {1000, 0.05, 0.001, 0};
    double x[N(usl_n)];
    struct model_usl fit;
    usl_points(&truth, 0.02, x);
    cr_assert_eq(model_usl_fit(usl_n, x, N(usl_n), &fit), 0);
    /* Tolerances that 1000 seeds of this noise all stay within (the largest
     * errors seen: 4.8 %, 0.0098, 0.00011 and 5 %). */
    cr_expect_float_eq(fit.lambda, 1000, 60, "%g", fit.lambda);
    cr_expect_float_eq(fit.sigma, 0.05, 0.02, "%g", fit.sigma);
    cr_expect_float_eq(fit.kappa, 0.001, 0.0002, "%g", fit.kappa);
    cr_expect_float_eq(model_usl_peak(&fit), model_usl_peak(&truth), 0.1 * 30.8, "%g",
                       model_usl_peak(&fit));
    cr_expect_lt(fit.rms_rel, 0.04);
    cr_expect_geq(fit.sigma, 0);
    cr_expect_geq(fit.kappa, 0);
}

Test(model, usl_fit_without_a_point_at_one)
{
    const struct model_usl truth = {1000, 0.05, 0.001, 0};
    double x[N(usl_n)];
    struct model_usl fit;
    usl_points(&truth, 0, x);
    cr_assert_eq(model_usl_fit(usl_n + 2, x + 2, N(usl_n) - 2, &fit), 0);
    cr_expect_float_eq(fit.lambda, 1000, 1e-3, "%g", fit.lambda);
    cr_expect_float_eq(fit.kappa, 0.001, 1e-8);
}

Test(model, usl_fit_keeps_sigma_and_kappa_non_negative)
{
    /* Superlinear points (more than N times one) would want sigma < 0. */
    const double n[] = {1, 2, 4, 8}, x[] = {100, 210, 440, 900};
    struct model_usl fit;
    cr_assert_eq(model_usl_fit(n, x, 4, &fit), 0);
    cr_expect_geq(fit.sigma, 0);
    cr_expect_geq(fit.kappa, 0);
    cr_expect_gt(fit.lambda, 100);
}

Test(model, usl_peak)
{
    struct model_usl usl = {1000, 0.05, 0.001, 0};
    cr_expect_float_eq(model_usl_peak(&usl), sqrt(0.95 / 0.001), 1e-9);
    double peak = model_usl_peak(&usl);
    cr_expect_gt(model_usl_throughput(&usl, peak), model_usl_throughput(&usl, peak - 1));
    cr_expect_gt(model_usl_throughput(&usl, peak), model_usl_throughput(&usl, peak + 1));
    usl.kappa = 0;
    cr_expect_eq(model_usl_peak(&usl), INFINITY);
    usl = (struct model_usl){1000, 1.2, 0.01, 0};
    cr_expect_eq(model_usl_peak(&usl), 1.0);
}

Test(model, usl_fit_refuses_too_few_points)
{
    const double n[] = {1, 2, 2, 4}, x[] = {100, 190, 191, 350}, zero[] = {100, 0, 190, 350};
    struct model_usl fit;
    cr_expect_eq(model_usl_fit(n, x, 2, &fit), -EINVAL);
    cr_expect_eq(model_usl_fit(n, x, 3, &fit), -EINVAL, "two distinct concurrencies");
    cr_expect_eq(model_usl_fit(n, x, 4, &fit), 0);
    cr_expect_eq(model_usl_fit(n, zero, 4, &fit), -EINVAL);
    const double below_one[] = {0.5, 2, 4};
    cr_expect_eq(model_usl_fit(below_one, x, 3, &fit), -EINVAL);
}
