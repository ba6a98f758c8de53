/* The sweep's arithmetic (harness/bench/bench_plan.c) against hand-computed values,
 * without starting a process: the seed workload's bounds per config, the
 * closed-loop warmup rule, each run's window and when it is measured again,
 * the open-loop rates and connections, and the list of runs a suite plans,
 * repeats interleaved. Seed: c = 1 ms of CPU and w = 10 ms of database wait
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
 * is longer, but never past the window cap (4 x the duration: 8 s for the
 * defaults' 2 s) nor 12 s; other runs take the suite's warmup. */
Test(plan, closed_warmup_is_twice_the_response_time_up_to_the_cap)
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
        {0, 1024, 8},     /* 22.5 s, capped at 4 x 2 s */
        {1, 64, 0.5},     /* 2 x 64 / 1000 = 0.128 s */
        {1, 1024, 2.048}, /* 2 x 1024 / 1000 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench__run r = {cases[i].engine, BENCH__CLOSED, cases[i].clients, 0, 1, 0, 0};
        expect_near(bench__warmup_s(&plan, &r), cases[i].want, suite.engines[r.engine].spec,
                    r.clients);
    }
    /* a longer duration lifts the cap up to 12 s, and no further */
    struct bench__run big = {0, BENCH__CLOSED, 1024, 0, 1, 0, 0};
    suite.duration_ns = 2500000000ULL;
    expect_near(bench__warmup_s(&plan, &big), 10, "cap 4 x 2.5 s", 1024);
    suite.duration_ns = 10000000000ULL;
    expect_near(bench__warmup_s(&plan, &big), 12, "cap 12 s", 1024);
    suite.warmup_ns = 0;
    struct bench__run one = {1, BENCH__CLOSED, 1, 0, 1, 0, 0};
    expect_near(bench__warmup_s(&plan, &one), 2 * 0.011, "no suite warmup", 1); /* C/X = 11 ms */
    suite.warmup_ns = 3000000000ULL;
    struct bench__run open = {0, BENCH__OPEN, 0, 80, 1, 0, 0};
    struct bench__run timeline = {0, BENCH__TIMELINE, 1024, 272, 1, 0, 0};
    expect_near(bench__warmup_s(&plan, &open), 3, "open", 80);
    expect_near(bench__warmup_s(&plan, &timeline), 3, "timeline", 1024);
}

/* A window is the suite's duration, or ten predicted responses (C / bound
 * in closed loop, one 11 ms service time in open loop) with a 25 % margin
 * if that is longer, and never past 4 x the duration. */
Test(plan, the_window_holds_ten_responses_up_to_four_durations)
{
    use(SEED, "pool:workers=1 async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "duration", "1s", err, sizeof(err)), 0);
    expect_near(bench__window_cap_s(&plan), 4, "cap", 1);
    struct {
        int engine, clients;
        double response, window;
    } cases[] = {
        {0, 1, 0.011, 1},             /* 12.5 x 11 ms = 0.14 s: the duration */
        {0, 16, 0.176, 12.5 * 0.176}, /* 2.2 s */
        {0, 64, 0.704, 4},            /* 8.8 s, capped */
        {1, 64, 0.064, 1},            /* 0.8 s */
        {1, 128, 0.128, 1.6},
        {1, 1024, 1.024, 4}, /* 12.8 s, capped */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench__run r = {cases[i].engine, BENCH__CLOSED, cases[i].clients, 0, 1, 0, 0};
        expect_near(bench__response_s(&plan, &r), cases[i].response, "response", r.clients);
        expect_near(bench__window_s(&plan, &r), cases[i].window, suite.engines[r.engine].spec,
                    r.clients);
    }
    struct bench__run open = {0, BENCH__OPEN, 0, 80, 1, 0, 0};
    expect_near(bench__response_s(&plan, &open), 0.011, "open response", 80);
    expect_near(bench__window_s(&plan, &open), 1, "open window", 80);
    /* a longer duration lifts the cap with it */
    cr_assert_eq(bench_suite_set(&suite, "duration", "3s", err, sizeof(err)), 0);
    struct bench__run slow = {0, BENCH__CLOSED, 64, 0, 1, 0, 0};
    expect_near(bench__window_s(&plan, &slow), 8.8, "pool:workers=1 at 3 s", 64);
}

/* Measured again: an unsteady run over twice its window, a closed run short
 * of its responses over ten measured responses (with the margin), within
 * the cap; otherwise, or when the cap leaves nothing longer, not at all. */
Test(plan, a_run_is_measured_again_only_where_longer_helps)
{
    use(SEED, "async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "duration", "1s", err, sizeof(err)), 0);
    struct bench__run closed = {0, BENCH__CLOSED, 64, 0, 1, 0, 0},
                      open = {0, BENCH__OPEN, 0, 500, 1, 0, 0};
    struct bench__run timeline = {0, BENCH__TIMELINE, 8, 272, 1, 0, 0};
    expect_near(bench__rerun_window_s(&plan, &closed, 1, 0, 0, 70), 0, "steady, long enough", 1);
    expect_near(bench__rerun_window_s(&plan, &closed, 1, 1, 0, 70), 2, "unsteady", 1);
    expect_near(bench__rerun_window_s(&plan, &open, 1, 1, 0, 15), 2, "unsteady open", 1);
    expect_near(bench__rerun_window_s(&plan, &closed, 3, 1, 0, 70), 4, "unsteady, capped", 3);
    expect_near(bench__rerun_window_s(&plan, &closed, 4, 1, 0, 70), 0, "at the cap", 4);
    /* 200 ms responses want 12.5 x 0.2 = 2.5 s; 400 ms ones would want 5 s */
    expect_near(bench__rerun_window_s(&plan, &closed, 1, 0, 1, 200), 2.5, "short", 1);
    expect_near(bench__rerun_window_s(&plan, &closed, 1, 0, 1, 400), 4, "short, capped", 1);
    expect_near(bench__rerun_window_s(&plan, &closed, 1, 1, 1, 100), 2, "both: the longer", 1);
    expect_near(bench__rerun_window_s(&plan, &open, 1, 0, 1, 400), 0, "short open", 1);
    expect_near(bench__rerun_window_s(&plan, &timeline, 1, 1, 1, 400), 0, "timeline", 1);
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
    cr_expect_str_eq(bench__loop_name(plan.runs[4].kind), "timeline");
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

/* With repeats, every config's points run once per repeat, each repeat
 * taking the configs in the suite's order rotated by one more, and the
 * timeline once, in the first. Within a repeat a config's points keep
 * their order: closed, then open. */
Test(plan, repeats_interleave_the_configs)
{
    use(SEED, "pool:workers=1 pool:workers=8 async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "clients", "1 16", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "rates", "100", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "timeline", "4", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "repeats", "3", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_assert_eq(plan.nruns, 3 * 3 * 3 + 3, "%d runs", plan.nruns);
    static const int order[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
    int i = 0;
    for (int k = 0; k < 3; k++) {
        for (int c = 0; c < 3; c++) {
            int points = k == 0 ? 4 : 3; /* the first repeat holds the timeline */
            for (int j = 0; j < points; j++, i++) {
                const struct bench__run *r = &plan.runs[i];
                cr_expect_eq(r->engine, order[k][c], "run %d: config %d, want %d", i + 1, r->engine,
                             order[k][c]);
                cr_expect_eq(r->repeat, k + 1, "run %d: repeat %d", i + 1, r->repeat);
                enum bench__kind want = j < 2    ? BENCH__CLOSED
                                        : j == 2 ? BENCH__OPEN
                                                 : BENCH__TIMELINE;
                cr_expect_eq(r->kind, want, "run %d", i + 1);
                if (j < 2)
                    cr_expect_eq(r->clients, j ? 16 : 1);
            }
        }
    }
    /* every point ran once per repeat */
    for (int e = 0; e < 3; e++) {
        int seen[3] = {0}, timelines = 0;
        for (int r = 0; r < plan.nruns; r++) {
            if (plan.runs[r].engine != e)
                continue;
            if (plan.runs[r].kind == BENCH__TIMELINE)
                timelines++;
            else
                seen[plan.runs[r].repeat - 1]++;
        }
        cr_expect(seen[0] == 3 && seen[1] == 3 && seen[2] == 3 && timelines == 1,
                  "config %d: %d %d %d points, %d timelines", e, seen[0], seen[1], seen[2],
                  timelines);
    }
}

/* One repeat is the order a sweep always had: per config, in the suite's
 * order, its points and its timeline. */
Test(plan, one_repeat_keeps_the_suite_order)
{
    use(SEED, "pool:workers=1 async");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "clients", "1", err, sizeof(err)), 0);
    cr_assert_eq(bench_suite_set(&suite, "rates", "none", err, sizeof(err)), 0);
    bench__plan_runs(&plan);
    cr_assert_eq(plan.nruns, 4);
    static const int engines[] = {0, 0, 1, 1};
    static const enum bench__kind kinds[] = {BENCH__CLOSED, BENCH__TIMELINE, BENCH__CLOSED,
                                             BENCH__TIMELINE};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(plan.runs[i].engine, engines[i]);
        cr_expect_eq(plan.runs[i].kind, kinds[i]);
        cr_expect_eq(plan.runs[i].repeat, 1);
    }
}

/* A capacity probe is an open-loop run by another name: the same bound
 * (the offered rate, at most the ceiling), warmup, window and connections,
 * and `capacity` in the loop column. */
Test(plan, a_capacity_probe_is_planned_like_an_open_point)
{
    use(SEED, "pool:workers=4");
    cr_expect_str_eq(bench__loop_name(BENCH__CAPACITY), "capacity");
    cr_expect(bench__offers_rate(BENCH__CAPACITY) && bench__offers_rate(BENCH__OPEN));
    cr_expect(!bench__offers_rate(BENCH__CLOSED) && !bench__offers_rate(BENCH__TIMELINE));
    for (double rate = 50; rate <= 800; rate *= 2) {
        struct bench__run open = {0, BENCH__OPEN, 0, rate, 1, 0, 0};
        struct bench__run probe = {0, BENCH__CAPACITY, 0, rate, 1, 0, 0};
        expect_near(bench__run_bound(&plan, &probe), bench__run_bound(&plan, &open), "bound", rate);
        expect_near(bench__warmup_s(&plan, &probe), bench__warmup_s(&plan, &open), "warmup", rate);
        expect_near(bench__window_s(&plan, &probe), bench__window_s(&plan, &open), "window", rate);
    }
    /* 4 workers of 11 ms: 4 / 0.011 = 363.6 req/s, whatever is offered past it */
    struct bench__run past = {0, BENCH__CAPACITY, 0, 1000, 1, 0, 0};
    expect_near(bench__run_bound(&plan, &past), 4 / 0.011, "bound past the ceiling", 1000);
    cr_expect_eq(bench__rerun_window_s(&plan, &past, 1, 0, 1, 500), 0,
                 "a probe's short window is not measured again, as an open point's");
}

/* A run judged on a goal holds the requests its percentile needs: p99's
 * 368, with the margin, at its rate, within the cap; or the window it asks
 * for, within the cap too. */
Test(plan, a_judged_run_holds_the_requests_its_percentile_needs)
{
    use(SEED, "pool:workers=4");
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "slo", "p99 100ms", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(bench_suite_set(&suite, "duration", "2s", err, sizeof(err)), 0, "%s", err);
    const enum bench__kind judged[] = {BENCH__CAPACITY, BENCH__MAP, BENCH__IDLE};
    for (size_t k = 0; k < sizeof(judged) / sizeof(judged[0]); k++) {
        cr_expect(bench__judged(judged[k]) && bench__offers_rate(judged[k]));
        struct bench__run fast = {0, judged[k], 0, 1000, 1, 0, 0};
        struct bench__run slow = {0, judged[k], 0, 100, 1, 0, 0};
        struct bench__run slower = {0, judged[k], 0, 10, 1, 0, 0};
        struct bench__run asks = {0, judged[k], 0, 10, 1, 0, 3};
        expect_near(bench__window_s(&plan, &fast), 2, "the suite's duration", 1000);
        expect_near(bench__window_s(&plan, &slow), 1.25 * 368 / 100, "368 requests", 100);
        expect_near(bench__window_s(&plan, &slower), 8, "the cap", 10);
        expect_near(bench__window_s(&plan, &asks), 3, "its own", 10);
    }
    cr_expect_str_eq(bench__loop_name(BENCH__IDLE), "idle");
    cr_expect(!bench__judged(BENCH__OPEN) && !bench__judged(BENCH__CLOSED));
}
