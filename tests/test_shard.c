/* A sweep's shards (harness/bench/bench_shard.c), without starting a
 * process: `--shard I/N` read strictly, the runs of a plan shared out (each
 * run in one shard, a point's repeats together, the same answer every time,
 * the shards' planned times within one point's of each other) and the
 * plan's fingerprint. The shards run and merged are test_shard_merge.c's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_plan.h"
#include "wl.h"

#define SEED OVERLAP_SOURCE_DIR "/workloads/seed.ini"

static struct bench_suite suite;
static struct wl_workload *wl;
static struct bench__plan plan;

/* The seed workload on one server CPU, these engines, client counts, auto
 * rates at these fractions, repeats and a timeline; the plan made. */
static void plan_of(const char *engines, const char *clients, const char *fractions,
                    const char *repeats)
{
    char err[WL_ERR_LEN > BENCH_ERR_LEN ? WL_ERR_LEN : BENCH_ERR_LEN];
    const char *keys[][2] = {{"engines", engines},          {"clients", clients}, {"rates", "auto"},
                             {"auto_fractions", fractions}, {"repeats", repeats}, {"timeline", "4"},
                             {"duration", "500ms"},         {"warmup", "200ms"}};
    bench_suite_defaults(&suite);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_assert_eq(bench_suite_set(&suite, keys[i][0], keys[i][1], err, sizeof(err)), 0, "%s",
                     err);
    if (!wl)
        cr_assert_eq(wl_load(SEED, &wl, err, sizeof(err)), 0, "%s", err);
    memset(&plan, 0, sizeof(plan));
    plan.suite = &suite;
    plan.wl = wl;
    plan.ncores = 1;
    bench__plan_runs(&plan);
}

static void teardown(void)
{
    wl_free(wl);
    wl = NULL;
}

TestSuite(shard, .fini = teardown);

static int same_point(const struct bench__run *a, const struct bench__run *b)
{
    return a->engine == b->engine && a->kind == b->kind && a->clients == b->clients &&
           a->rate == b->rate;
}

Test(shard, parse_takes_i_of_n_and_nothing_else)
{
    static const struct {
        const char *text;
        int i, n;
    } good[] = {
        {"1/1", 1, 1}, {"1/3", 1, 3}, {"3/3", 3, 3}, {"2/10", 2, 10}, {"1000/1000", 1000, 1000},
        {"07/9", 7, 9}};
    static const char *const bad[] = {"",
                                      "0/3",
                                      "4/3",
                                      "a/b",
                                      "1/",
                                      "/3",
                                      "1/3x",
                                      "-1/3",
                                      "1/-3",
                                      "+1/3",
                                      " 1/3",
                                      "1/3 ",
                                      "1//3",
                                      "1/3/3",
                                      "1.0/3",
                                      "1/0",
                                      "0/0",
                                      "1/1001",
                                      "1001/1001",
                                      "99999999999999999999/3",
                                      "1/99999999999999999999",
                                      "2",
                                      "1\\3",
                                      "0x1/3"};
    char err[BENCH_ERR_LEN];
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        int i = -1, n = -1;
        cr_expect_eq(bench__shard_parse(good[k].text, &i, &n, err, sizeof(err)), 0, "'%s': %s",
                     good[k].text, err);
        cr_expect(i == good[k].i && n == good[k].n, "'%s': %d/%d", good[k].text, i, n);
    }
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        int i = -7, n = -7;
        err[0] = '\0';
        cr_expect_eq(bench__shard_parse(bad[k], &i, &n, err, sizeof(err)), -1, "'%s' taken",
                     bad[k]);
        cr_expect(i == -7 && n == -7, "'%s' set the shard on failure", bad[k]);
        cr_expect(strstr(err, "--shard") != NULL, "'%s': no message naming the flag: %s", bad[k],
                  err);
    }
}

/* Every run in one shard of 1 to n, every repeat of a point in its
 * point's; the answer the same twice over; the shards' planned times
 * within the longest point's of each other (the greedy's bound). */
static void expect_sound(int n)
{
    int *a = malloc((size_t)plan.nruns * sizeof(int)),
        *b = malloc((size_t)plan.nruns * sizeof(int));
    double *load = calloc((size_t)n + 1, sizeof(double)), longest = 0;
    cr_assert(a && b && load);
    cr_assert_eq(bench__shard_assign(&plan, n, a), 0);
    cr_assert_eq(bench__shard_assign(&plan, n, b), 0);
    for (int k = 0; k < plan.nruns; k++) {
        cr_expect(a[k] >= 1 && a[k] <= n, "run %d in shard %d of %d", k + 1, a[k], n);
        cr_expect_eq(a[k], b[k], "run %d: shard %d, then %d", k + 1, a[k], b[k]);
        double point = 0;
        for (int j = 0; j < plan.nruns; j++)
            if (same_point(&plan.runs[j], &plan.runs[k])) {
                cr_expect_eq(a[j], a[k], "runs %d and %d are one point in shards %d and %d", j + 1,
                             k + 1, a[j], a[k]);
                point += bench__run_cost_s(&plan, &plan.runs[j]);
            }
        longest = point > longest ? point : longest;
        if (a[k] >= 1 && a[k] <= n)
            load[a[k]] += bench__run_cost_s(&plan, &plan.runs[k]);
    }
    double most = 0, least = INFINITY;
    for (int s = 1; s <= n; s++) {
        most = load[s] > most ? load[s] : most;
        least = load[s] < least ? load[s] : least;
    }
    cr_expect(most - least <= longest + 1e-6,
              "%d shards: planned %.3f s to %.3f s, more apart than the longest point (%.3f s)", n,
              least, most, longest);
    free(a);
    free(b);
    free(load);
}

Test(shard, every_run_in_one_shard_a_points_repeats_together_and_balanced)
{
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "2"); /* the quick suite's plan */
    cr_assert_eq(plan.nruns, 18);
    for (int n = 1; n <= 8; n++)
        expect_sound(n);
    plan_of("pool:workers=1 pool:workers=8 pool:workers=64 async", "1 4 16 64 256 1024",
            "0.1 0.5 0.8 1.0 1.2", "3");
    for (int n = 1; n <= 12; n++)
        expect_sound(n);
    expect_sound(BENCH__MAX_SHARDS); /* more shards than points: some get none */
}

/* One shard is the whole sweep; with as many shards as points each shard
 * holds one point (a point's cost is never nothing). */
Test(shard, one_shard_is_the_sweep_and_as_many_as_points_one_each)
{
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "2");
    int shard[18], count[19] = {0};
    cr_assert_eq(bench__shard_assign(&plan, 1, shard), 0);
    for (int k = 0; k < plan.nruns; k++)
        cr_expect_eq(shard[k], 1);
    /* 2 configs x (2 closed + 2 open points + a timeline) */
    cr_assert_eq(bench__shard_assign(&plan, 10, shard), 0);
    for (int k = 0; k < plan.nruns; k++)
        count[shard[k]]++;
    for (int s = 1; s <= 10; s++)
        cr_expect(count[s] == 1 || count[s] == 2, "shard %d of 10 holds %d runs", s, count[s]);
}

/* The fingerprint follows the plan: the same plan twice gives the same, a
 * different duration (other windows) or server (other bounds) another. */
Test(shard, the_plans_fingerprint_follows_the_plan)
{
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "2");
    uint64_t h = bench__plan_hash(&plan);
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "2");
    cr_expect_eq(bench__plan_hash(&plan), h);
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_suite_set(&suite, "duration", "2s", err, sizeof(err)), 0);
    cr_expect_neq(bench__plan_hash(&plan), h, "a longer duration, the same fingerprint");
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "2");
    plan.ncores = 2;
    cr_expect_neq(bench__plan_hash(&plan), h, "two server CPUs, the same fingerprint");
    plan_of("pool:workers=4 async", "1 16", "0.5 1.2", "3");
    cr_expect_neq(bench__plan_hash(&plan), h, "three repeats, the same fingerprint");
}
