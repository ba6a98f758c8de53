/* The sweep's arithmetic (harness/bench_plan.c) against hand-computed values,
 * without starting a process: the seed workload's bounds per config, the
 * closed-loop warmup rule, the open-loop rates and connections, and the list
 * of runs a suite plans. Seed: c = 1 ms of CPU and w = 10 ms of database wait
 * per request; the server gets one CPU, as in the shipped suites. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_plan.h"
#include "child.h"
#include "wl.h"

#define SEED OVERLAP_SOURCE_DIR "/workloads/seed.ini"

static struct bench_suite suite;
static struct wl_workload *wl;
static struct bench__plan plan;

/* Loads a workload and points the plan at it, with one server CPU, the
 * default suite settings and the given engines. */
static void use(const char *workload, const char *engines)
{
    char err[WL_ERR_LEN > BENCH_ERR_LEN ? WL_ERR_LEN : BENCH_ERR_LEN];
    bench_suite_defaults(&suite);
    cr_assert_eq(bench_suite_set(&suite, "engines", engines, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wl_load(workload, &wl, err, sizeof(err)), 0, "%s", err);
    memset(&plan, 0, sizeof(plan));
    plan.suite = &suite;
    plan.wl = wl;
    plan.ncores = 1;
}

static void teardown(void)
{
    wl_free(wl);
    wl = NULL;
}

TestSuite(plan, .fini = teardown);

static void expect_near(double got, double want, const char *what, double x)
{
    cr_expect(fabs(got - want) <= 1e-9 * fabs(want), "%s at %g: %.6f, want %.6f", what, x, got,
              want);
}

static const int clients[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NCLIENTS (int)(sizeof(clients) / sizeof(clients[0]))

/* Little's law: C clients each wait c + w = 11 ms, so C / 0.011 req/s, capped
 * by N workers at N / 0.011 and by one CPU at 1 / 0.001 = 1000 req/s. */
Test(plan, seed_bounds_by_config_and_clients)
{
    use(SEED, "pool:workers=1 pool:workers=8 pool:workers=64 async");
    for (int i = 0; i < NCLIENTS; i++) {
        double c = clients[i], by_clients = c * 1000 / 11;
        double want[] = {
            1000.0 / 11,                      /* one worker: 90.9 at any C */
            c < 8 ? by_clients : 8000.0 / 11, /* 8 workers: 727.3 from C = 8 */
            c < 11 ? by_clients : 1000,       /* 64 workers: the CPU first */
            c < 11 ? by_clients : 1000,       /* async: the CPU alone */
        };
        for (int e = 0; e < 4; e++)
            expect_near(bench__config_bound(&plan, &suite.engines[e], c), want[e],
                        suite.engines[e].spec, c);
    }
    /* no client limit: each config's ceiling */
    double ceilings[] = {1000.0 / 11, 8000.0 / 11, 1000, 1000};
    for (int e = 0; e < 4; e++)
        expect_near(bench__config_bound(&plan, &suite.engines[e], 0), ceilings[e], "ceiling", 0);
}

/* Two CPUs double the CPU's cap, not the workers'. */
Test(plan, more_server_cpus_raise_only_the_cpu_cap)
{
    use(SEED, "pool:workers=64 pool:workers=8");
    plan.ncores = 2;
    expect_near(bench__config_bound(&plan, &suite.engines[0], 1024), 2000, "64 workers", 1024);
    expect_near(bench__config_bound(&plan, &suite.engines[1], 1024), 8000.0 / 11, "8 workers",
                1024);
}

/* A closed run warms up for the suite's warmup, or twice C / bound if that
 * is longer, but never past 12 s; other runs take the suite's warmup. */
Test(plan, closed_warmup_is_twice_the_response_time_up_to_12_s)
{
    use(SEED, "pool:workers=1 async");
    struct {
        int engine, clients;
        double want;
    } cases[] = {
        {0, 1, 0.5},                   /* 2 x 1 / 90.9 = 0.022 s: the suite's 0.5 s */
        {0, 8, 0.5},                   /* 0.176 s */
        {0, 64, 2.0 * 64 * 11 / 1000}, /* 1.408 s */
        {0, 256, 2.0 * 256 * 11 / 1000},
        {0, 1024, 12},    /* 22.5 s, capped */
        {1, 64, 0.5},     /* 2 x 64 / 1000 = 0.128 s */
        {1, 1024, 2.048}, /* 2 x 1024 / 1000 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench__run r = {cases[i].engine, BENCH__CLOSED, cases[i].clients, 0};
        expect_near(bench__warmup_s(&plan, &r), cases[i].want, suite.engines[r.engine].spec,
                    r.clients);
    }
    suite.warmup_ns = 0;
    struct bench__run one = {1, BENCH__CLOSED, 1, 0};
    expect_near(bench__warmup_s(&plan, &one), 2 * 0.011, "no suite warmup", 1); /* C/X = 11 ms */
    suite.warmup_ns = 3000000000ULL;
    struct bench__run open = {0, BENCH__OPEN, 0, 80};
    struct bench__run timeline = {0, BENCH__TIMELINE, 1024, 272};
    expect_near(bench__warmup_s(&plan, &open), 3, "open", 80);
    expect_near(bench__warmup_s(&plan, &timeline), 3, "timeline", 1024);
}

/* Auto rates are fractions of each config's ceiling; an open run's bound is
 * the lesser of its rate and that ceiling. */
Test(plan, open_rates_are_fractions_of_the_ceiling)
{
    use(SEED, "pool:workers=8 async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "clients", "1 64", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "rates", "auto", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "auto_fractions", "0.1 0.5 1.2", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_assert_eq(plan.nruns, 2 * (2 + 3 + 1));
    double ceilings[] = {8000.0 / 11, 1000}, fractions[] = {0.1, 0.5, 1.2};
    for (int e = 0; e < 2; e++) {
        const struct bench__run *open = &plan.runs[e * 6 + 2];
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(open[i].kind, BENCH__OPEN);
            cr_expect_eq(open[i].engine, e);
            expect_near(open[i].rate, fractions[i] * ceilings[e], "rate", fractions[i]);
            expect_near(bench__run_bound(&plan, &open[i]), fmin(fractions[i], 1) * ceilings[e],
                        "open run's bound", fractions[i]);
        }
    }
}

/* Per config, in the suite's order: its closed points, its open points and
 * its timeline, whose rate spaces requests a third of a service time apart. */
Test(plan, runs_in_order_and_their_bounds)
{
    use(SEED, "pool:workers=4 async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "clients", "1 16", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "rates", "100 2000", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "timeline", "4", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_assert_eq(plan.nruns, 10);
    static const enum bench__kind kinds[] = {BENCH__CLOSED, BENCH__CLOSED, BENCH__OPEN, BENCH__OPEN,
                                             BENCH__TIMELINE};
    double ceilings[] = {4000.0 / 11, 1000};
    for (int i = 0; i < 10; i++) {
        const struct bench__run *r = &plan.runs[i];
        int e = i / 5, k = i % 5;
        cr_expect_eq(r->engine, e);
        cr_expect_eq(r->kind, kinds[k]);
        double want = k == 0   ? 1000.0 / 11
                      : k == 1 ? fmin(16000.0 / 11, ceilings[e])
                      : k == 2 ? 100
                      : k == 3 ? ceilings[e]
                               : fmin(4000.0 / 11, ceilings[e]);
        expect_near(bench__run_bound(&plan, r), want, "bound", i + 1);
    }
    expect_near(plan.runs[3].rate, 2000, "explicit rate", 2000);
    expect_near(plan.runs[4].rate, 3000.0 / 11, "timeline rate", 4);
    cr_expect_eq(plan.runs[4].clients, 4);
    cr_expect_str_eq(bench__kind_name(plan.runs[4].kind), "timeline");
}

/* Four times the requests in flight at the rate (rate x 11 ms), from 16 to 4096. */
Test(plan, open_loop_connections)
{
    use(SEED, "async");
    cr_expect_eq(bench__open_clients(&plan, 100), 16);  /* 4.4 */
    cr_expect_eq(bench__open_clients(&plan, 1200), 53); /* 52.8 */
    cr_expect_eq(bench__open_clients(&plan, 10000), 440);
    cr_expect_eq(bench__open_clients(&plan, 1e6), 4096); /* 44,000 */
}

/* A workload without CPU has no ceiling: its configs get no auto rates,
 * while explicit rates still run. */
Test(plan, no_auto_rates_without_a_finite_bound)
{
    char dir[256], path[300];
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/wait.ini", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[workload]\nname = wait\n[database]\ndataset = techempower\n[query.one]\n"
          "sql = SELECT randomNumber FROM World WHERE id = ?\nparams = int 1 100\n"
          "latency = fixed 2ms\n[request.page]\nsteps = query one\n",
          f);
    fclose(f);
    use(path, "async");
    child_tmpdir_remove(dir);
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "clients", "8", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "rates", "auto", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "auto_fractions", "0.5 1", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "timeline", "0", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_expect_eq(plan.nruns, 1, "only the closed point: %d runs", plan.nruns);
    expect_near(bench__config_bound(&plan, &suite.engines[0], 8), 8000.0 / 2, "closed bound", 8);
    cr_assert_eq(bench_suite_set(&suite, "rates", "50", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_assert_eq(plan.nruns, 2);
    expect_near(bench__run_bound(&plan, &plan.runs[1]), 50, "open bound", 50);
}
