/* The crossover map: its suite keys and their errors, its cells, and a tiny
 * map swept end to end (pool:workers=4 and async; CPU 100 us and 2 ms; wait
 * 500 us and 20 ms; p90 100 ms, a goal whose verdicts need 35 requests
 * where p99's need 368, so its probes are short): each cell's bounds, each
 * search replayed
 * from its probes, and the corner whose answer the architectures dictate
 * whatever else the machine runs: where the waits are long and the CPU
 * short, the loop passes a 4-worker pool's bound (4 / 20.1 ms), which
 * the pool cannot. Where the CPU dominates, both are held by the one core: a
 * request costs either about the same CPU time, and their capacities
 * (measured at different times, so each moved by whatever ran beside it)
 * are printed. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_plan.h"
#include "child.h"
#include "csv.h"
#include "sweep.h"

#define SUITES OVERLAP_SOURCE_DIR "/harness/suites"
#define SEED   OVERLAP_SOURCE_DIR "/workloads/seed.ini"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(map, .init = setup, .fini = teardown, .timeout = 240);

static int set(struct bench_suite *s, const char *key, const char *value)
{
    char err[BENCH_ERR_LEN] = "";
    int rc = bench_suite_set(s, key, value, err, sizeof(err));
    if (rc < 0)
        cr_expect(strstr(err, "(expected") != NULL, "no expectation in '%s'", err);
    return rc;
}

/* ---- the keys ---- */

Test(map, vary_keys_take_ascending_durations)
{
    struct bench_suite s;
    bench_suite_defaults(&s);
    cr_expect_eq(bench_suite_has_map(&s), 0, "a suite draws no map unless asked");
    cr_assert_eq(set(&s, "vary.cpu", "20us 100us, 1ms 4ms"), 0);
    cr_expect_eq(s.nvary_cpu, 4);
    cr_expect_eq(s.vary_cpu_ns[0], 20000);
    cr_expect_eq(s.vary_cpu_ns[3], 4000000);
    cr_expect(bench_suite_has_map(&s));
    cr_assert_eq(set(&s, "vary.wait", "500us 1.5s"), 0);
    cr_expect_eq(s.vary_wait_ns[1], 1500000000ULL);
    cr_assert_eq(set(&s, "vary.cpu", "none"), 0);
    cr_expect_eq(s.nvary_cpu, 0, "none keeps the workload's own CPU");
    cr_expect(bench_suite_has_map(&s), "the wait axis alone is a map");
    cr_assert_eq(set(&s, "capacity_tolerance", "5%"), 0);
    cr_expect_float_eq(s.tolerance, 0.05, 1e-12);
    cr_assert_eq(set(&s, "capacity_tolerance", "0.1"), 0);
    cr_expect_float_eq(s.tolerance, 0.1, 1e-12);
}

Test(map, malformed_vary_keys_are_refused)
{
    struct bench_suite s;
    bench_suite_defaults(&s);
    const char *bad[] = {"",
                         "1ms 1ms",
                         "2ms 1ms",
                         "0ms",
                         "1ms -2ms",
                         "fast",
                         "1 ms",
                         "2h",
                         "none 1ms",
                         "1ms,,x",
                         ("1ms 2ms 3ms 4ms 5ms 6ms 7ms "
                          "8ms 9ms 10ms 11ms 12ms 13ms")};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(set(&s, "vary.cpu", bad[i]), -1, "vary.cpu '%s' accepted", bad[i]);
        cr_expect_eq(set(&s, "vary.wait", bad[i]), -1, "vary.wait '%s' accepted", bad[i]);
    }
    cr_expect_eq(s.nvary_cpu + s.nvary_wait, 0, "a refused list leaves the suite as it was");
    const char *tol[] = {"0", "60%", "-1%", "2 %", "%", "0.0001", "two"};
    for (size_t i = 0; i < sizeof(tol) / sizeof(tol[0]); i++)
        cr_expect_eq(set(&s, "capacity_tolerance", tol[i]), -1, "tolerance '%s' accepted", tol[i]);
}

/* ---- the cells ---- */

Test(map, cells_run_cpu_outer_and_wait_inner)
{
    struct bench_suite s;
    uint64_t cpu, wait;
    bench_suite_defaults(&s);
    cr_expect_eq(bench__map_cells(&s), 0);
    cr_assert_eq(set(&s, "vary.cpu", "100us 2ms"), 0);
    cr_assert_eq(set(&s, "vary.wait", "500us 20ms 50ms"), 0);
    cr_assert_eq(bench__map_cells(&s), 6);
    const uint64_t want[6][2] = {{100000, 500000},  {100000, 20000000},  {100000, 50000000},
                                 {2000000, 500000}, {2000000, 20000000}, {2000000, 50000000}};
    for (int c = 1; c <= 6; c++) {
        bench__map_cell(&s, c, &cpu, &wait);
        cr_expect(cpu == want[c - 1][0] && wait == want[c - 1][1], "cell %d: %lu, %lu", c,
                  (unsigned long)cpu, (unsigned long)wait);
    }
    cr_assert_eq(set(&s, "vary.cpu", "none"), 0);
    cr_assert_eq(bench__map_cells(&s), 3);
    bench__map_cell(&s, 2, &cpu, &wait);
    cr_expect(cpu == 0 && wait == 20000000, "an axis not varied is 0: the workload's own");
}

/* ---- the sweep ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0;
    if (f && getdelim(&text, &cap, '\0', f) < 0) {
        free(text);
        text = NULL;
    }
    if (f)
        fclose(f);
    return text ? text : strdup("");
}

Test(map, usage_errors_come_before_any_run)
{
    struct sweep_run r;
    const char *no_slo[] = {"--suite", SUITES "/quick.ini", "--vary-cpu", "1ms", NULL};
    cr_expect_eq(sweep_run(&r, tmp, no_slo, 30), 2);
    char *err = slurp(r.err);
    cr_expect(strstr(err, "expected an slo too") != NULL, "%s", err);
    free(err);
    char path[512];
    snprintf(path, sizeof(path), "%s/nocpu.ini", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[workload]\nname = nocpu\n[database]\ndataset = techempower\n[query.q]\n"
          "sql = SELECT 1\nlatency = fixed 1ms\n[request.r]\nsteps = query q\n",
          f);
    fclose(f);
    const char *no_cpu[] = {"--suite",   SUITES "/quick.ini", "--workload", path, "--slo",
                            "p99 100ms", "--vary-cpu",        "1ms",        NULL};
    cr_expect_eq(sweep_run(&r, tmp, no_cpu, 30), 2);
    err = slurp(r.err);
    cr_expect(strstr(err, "no cpu step") != NULL, "%s", err);
    free(err);
    err = slurp(r.out);
    cr_expect_null(strstr(err, "runs"), "no run started: %s", err);
    free(err);
}

/* The row of map.csv for (cpu_us, wait_ms, engine), or -1. */
static int find_row(const struct csv_table *t, double cpu_us, double wait_ms, const char *engine)
{
    for (int r = 0; r < t->nrows; r++)
        if (fabs(csv_num(t, r, "cpu_us") - cpu_us) < 1e-6 &&
            fabs(csv_num(t, r, "wait_ms") - wait_ms) < 1e-9 &&
            !strcmp(csv_get(t, r, "engine"), engine))
            return r;
    return -1;
}

/* The tiny map's cells, in suite order (CPU outer), and each config's bound
 * there by Little's law on one core: the pool's min(4 / (c + w), 1 / c),
 * the loop's 1 / c. */
static const double cells[4][2] = {{100, 0.5}, {100, 20}, {2000, 0.5}, {2000, 20}};

static double cell_bound(int cell, int pool)
{
    double c = cells[cell][0] / 1e6, w = cells[cell][1] / 1e3;
    return pool ? fmin(4 / (c + w), 1 / c) : 1 / c;
}

/* A capacity's bracket: [capacity_lo, capacity_hi], hi the bound when no
 * rate failed (none past it is sustained). */
/* Row r's bracket widened by its probes' uncertainty: from the highest
 * rate met to the lowest missed, or the bound when none was missed. */
static void bracket(const struct csv_table *t, int r, double *lo, double *hi)
{
    *lo = csv_num(t, r, "capacity_lo");
    *hi = *csv_get(t, r, "capacity_missed") ? csv_num(t, r, "capacity_missed")
                                            : csv_num(t, r, "bound_rps");
}

static void check_map_csv(const struct csv_table *t)
{
    static const char *const status =
        ";found;never_met;always_met;out_of_probes;undecided;unreachable;marginal;";
    cr_assert_eq(t->nrows, 8, "2 x 2 cells x 2 configs");
    for (int r = 0; r < 8; r++) {
        char word[40];
        snprintf(word, sizeof(word), ";%s;", csv_get(t, r, "status"));
        cr_expect(strstr(status, word) != NULL, "row %d: status %s", r + 1, word);
        cr_expect_str_eq(csv_get(t, r, "cores"), "1", "the server runs on CPU 0");
        double cap = csv_num(t, r, "capacity_rps"), bound = csv_num(t, r, "bound_rps");
        cr_expect_leq(cap, bound * 1.0001, "row %d: a capacity within its bound", r + 1);
        /* the ideal system's capacity, simulated under the cell's workload */
        cr_expect(*csv_get(t, r, "ideal_rps") && csv_num(t, r, "ideal_rps") <= bound * 1.0001,
                  "row %d: ideal_rps '%s', bound %g", r + 1, csv_get(t, r, "ideal_rps"), bound);
        int ruled_out = !strcmp(csv_get(t, r, "status"), "unreachable") ||
                        !strcmp(csv_get(t, r, "status"), "marginal");
        cr_expect(ruled_out ? csv_num(t, r, "probes") == 0 : csv_num(t, r, "probes") > 0,
                  "row %d: %s after %g probes", r + 1, csv_get(t, r, "status"),
                  csv_num(t, r, "probes"));
        /* every cell had its idle request looked at before any search */
        cr_expect(*csv_get(t, r, "idle_model_ms") && *csv_get(t, r, "idle_rate"), "row %d", r + 1);
    }
    /* cells in suite order, CPU outer */
    for (int c = 0; c < 4; c++) {
        int p = find_row(t, cells[c][0], cells[c][1], "pool:workers=4");
        int a = find_row(t, cells[c][0], cells[c][1], "async");
        cr_assert(p == 2 * c && a == 2 * c + 1, "cell %d at rows %d and %d", c + 1, p, a);
        cr_expect_str_eq(csv_get(t, p, "kind"), "pool");
        cr_expect_str_eq(csv_get(t, p, "workers"), "4");
        cr_expect_str_eq(csv_get(t, a, "kind"), "async");
        cr_expect_str_eq(csv_get(t, a, "workers"), "");
        /* the bounds are Little's law's: 4 / (0.1 + 20) ms for the pool at
         * (100 us, 20 ms), the core's 1 / 2 ms for both at 2 ms, ... */
        cr_expect_float_eq(csv_num(t, p, "bound_rps"), cell_bound(c, 1), 0.051, "cell %d", c + 1);
        cr_expect_float_eq(csv_num(t, a, "bound_rps"), cell_bound(c, 0), 0.051, "cell %d", c + 1);
    }
    cr_expect_float_eq(csv_num(t, 2, "bound_rps"), 4 / 20.1e-3, 0.1);
    cr_expect_float_eq(csv_num(t, 4, "bound_rps"), 500, 0.1);
    cr_expect_float_eq(csv_num(t, 5, "bound_rps"), 500, 0.1);
    cr_expect_float_eq(csv_num(t, 1, "bound_rps"), 1 / 100e-6, 0.1);
}

/* Whether row i of runs.csv is a run of cell (0-based) and engine. */
static int probe_of(const struct csv_table *runs, int i, int cell, const char *engine)
{
    return !strcmp(csv_get(runs, i, "engine"), engine) &&
           fabs(csv_num(runs, i, "mean_cpu_ms") * 1000 - cells[cell][0]) < 1e-6 &&
           fabs(csv_num(runs, i, "mean_wait_ms") - cells[cell][1]) < 1e-9;
}

/* Each of the eight searches, replayed from its probes in probes.csv (each
 * checked against its runs' own counts): every probe where the search owed
 * it, its verdict its requests', the status and brackets map.csv reports.
 * The runs are the probes' and one or two idle runs a cell. */
static void expect_searches(const char *dir, const struct csv_table *t,
                            const struct csv_table *runs, double tolerance)
{
    double probe_runs = 0, idle_runs = 0;
    for (int r = 0; r < t->nrows && r < 8; r++) {
        int cell = r / 2, pool = r % 2 == 0;
        const char *engine = pool ? "pool:workers=4" : "async";
        static struct sweep_probe p[64];
        int n = sweep_read_probes(dir, engine, cell + 1, p, 64);
        cr_expect_eq(n, (int)csv_num(t, r, "probes"), "map.csv row %d: %d probes in probes.csv",
                     r + 1, n);
        const char *hi = csv_get(t, r, "capacity_hi"), *missed = csv_get(t, r, "capacity_missed");
        struct sweep_search s = {.percentile = 90,
                                 .bound = cell_bound(cell, pool),
                                 .tolerance = tolerance,
                                 .status = csv_get(t, r, "status"),
                                 .lo = csv_num(t, r, "capacity_lo"),
                                 .hi = *hi ? atof(hi) : INFINITY,
                                 .missed = *missed ? atof(missed) : INFINITY};
        char what[80];
        snprintf(what, sizeof(what), "%s at (%g us, %g ms)", engine, cells[cell][0],
                 cells[cell][1]);
        if (n > 0)
            sweep_expect_search(p, n, &s, what);
    }
    for (int i = 0; i < runs->nrows; i++) {
        probe_runs += !strcmp(csv_get(runs, i, "loop"), "map");
        idle_runs += !strcmp(csv_get(runs, i, "loop"), "idle");
    }
    cr_expect(idle_runs >= 4 && idle_runs <= 8, "%g idle runs for 4 cells", idle_runs);
    cr_expect_eq(probe_runs + idle_runs, runs->nrows, "every run a probe's or an idle one");
}

/* The server's CPU a request (from /proc, so what other processes ran does
 * not count) at engine's probe with the most requests in cell. */
static double cpu_per_request(const struct csv_table *runs, int cell, const char *engine)
{
    double most = 0, us = NAN;
    for (int i = 0; i < runs->nrows; i++)
        if (probe_of(runs, i, cell, engine) && *csv_get(runs, i, "cpu_per_request_us") &&
            csv_num(runs, i, "requests") > most) {
            most = csv_num(runs, i, "requests");
            us = csv_num(runs, i, "cpu_per_request_us");
        }
    return us;
}

/* meta.txt's runs are the rows runs.csv holds once the sweep is over (a
 * map's probes are planned as it goes, on top of the points planned before
 * it), and the machine's calibration is there beside them. */
static void expect_meta_counts_the_runs(const char *dir)
{
    char path[900], want[64];
    struct csv_table runs;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cr_assert_eq(csv_load(path, &runs), 0);
    snprintf(want, sizeof(want), "\nruns: %d\n", runs.nrows);
    csv_free(&runs);
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    char *meta = slurp(path);
    cr_expect(meta && strstr(meta, want), "want '%s' in meta.txt:\n%s", want + 1, meta);
    cr_expect(meta && strstr(meta, "\ncalibration_burn_ns: ") &&
                  strstr(meta, "\ncalibration_loopback_us: "),
              "no calibration in meta.txt:\n%s", meta);
    free(meta);
}

/* Whether row r's cell was not searched because its idle run ruled the
 * goal out or could not tell (marginal, unreachable): beside enough other
 * work a sanitized server's stalls put a tenth of its idle requests past
 * 100 ms. What the refusal guarantees (no probe in the cell) is checked by
 * expect_searches; the test says loudly that the cell's comparison was not
 * exercised. */
static bool refused(const struct csv_table *t, int r, const char *cell)
{
    const char *status = csv_get(t, r, "status");
    if (strcmp(status, "marginal") != 0 && strcmp(status, "unreachable") != 0)
        return false;
    fprintf(stderr,
            "NOTE: a_tiny_map_shows_both_corners: the idle run at %s read %s ms (%s): the cell "
            "was %s here, and its comparison was NOT exercised by this test\n",
            cell, csv_get(t, r, "idle_ms"), csv_get(t, r, "idle_requests"), status);
    return true;
}

Test(map, a_tiny_map_shows_both_corners)
{
    struct sweep_run r;
    const char *args[] = {"--suite",
                          SUITES "/quick.ini",
                          "--workload",
                          SEED,
                          "--engines",
                          "pool:workers=4 async",
                          "--clients",
                          "none",
                          "--rates",
                          "none",
                          "--timeline",
                          "0",
                          "--slo",
                          "p90 100ms",
                          "--vary-cpu",
                          "100us 2ms",
                          "--vary-wait",
                          "500us 20ms",
                          "--capacity-tolerance",
                          "30%",
                          "--duration",
                          "500ms",
                          "--warmup",
                          "100ms",
                          "--repeats",
                          "1",
                          "--no-plot",
                          NULL};
    int status = sweep_run(&r, tmp, args, 220);
    char *err = slurp(r.err), *out = slurp(r.out);
    cr_assert_eq(status, 0, "exit %d: %s", status, err);
    /* the table at the end is the map's, a line a cell */
    const char *table = strstr(out, "crossover map at p90 under 100 ms (map.csv)");
    cr_expect(table && strstr(table, "\n100 us    500 us ") && strstr(table, "\n2 ms      20 ms "),
              "%s", out);
    cr_expect_null(strstr(out, "no finished run"), "no empty table of points: %s", out);
    free(err);
    free(out);
    char dir[800], path[900];
    sweep_results_dir(&r, dir, sizeof(dir));
    expect_meta_counts_the_runs(dir);
    struct csv_table t, runs, summary;
    snprintf(path, sizeof(path), "%s/map.csv", dir);
    cr_assert_eq(csv_load(path, &t), 0, "no map.csv");
    check_map_csv(&t);
    /* Long waits, short CPU: the pool's capacity cannot pass its bound,
     * 4 / 20.1 ms = 199 req/s (the search never probes past it, checked
     * below); the loop, bound by no count of workers, passes it. By how much
     * is the machine's: 7,500 req/s alone here, 5,000 beside two CPU-bound
     * processes, 547 beside a make test's other sanitized sweeps (its probes
     * at 625 req/s and up missed p90 100 ms on 500 ms runs). Printed, not
     * asserted: a loop serialized like the pool would not pass 199. */
    double pool, pool_hi, loop, loop_hi;
    bracket(&t, 2, &pool, &pool_hi);
    bracket(&t, 3, &loop, &loop_hi);
    if (!refused(&t, 3, "(100 us, 20 ms)")) {
        cr_expect_gt(loop, pool_hi, "at (100 us, 20 ms) async %.0f req/s, pool:4 at most %.0f",
                     loop, pool_hi);
        cr_expect_str_eq(csv_get(&t, 3, "status"), "found", "async at (100 us, 20 ms)");
    }
    /* each run is a probe's or an idle run, in its cell's workload */
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cr_assert_eq(csv_load(path, &runs), 0);
    expect_searches(dir, &t, &runs, 0.3);
    /* CPU-bound: both held by the one core, each request of the cell's
     * workload asking the same 2 ms of work; both were measured there. What
     * the server's CPU per request read is printed: over a short window
     * whose ends a busy machine's sampler reaches late it read 1248 us for
     * async beside a TSan pass. Their capacities depend on how much of the
     * core each was given while it was measured: printed too. */
    int measured[2] = {0, 0};
    for (int i = 0; i < runs.nrows; i++) {
        measured[0] += probe_of(&runs, i, 2, "pool:workers=4");
        measured[1] += probe_of(&runs, i, 2, "async");
    }
    if (!refused(&t, 4, "(2 ms, 500 us)"))
        cr_expect(measured[0] > 0 && measured[1] > 0,
                  "runs at (2 ms, 500 us): pool:4 %d (%s), async %d (%s)", measured[0],
                  csv_get(&t, 4, "status"), measured[1], csv_get(&t, 5, "status"));
    double pcpu = cpu_per_request(&runs, 2, "pool:workers=4"),
           acpu = cpu_per_request(&runs, 2, "async");
    double plo, phi, alo, ahi;
    bracket(&t, 4, &plo, &phi);
    bracket(&t, 5, &alo, &ahi);
    fprintf(stderr,
            "map: at (100 us, 20 ms) async %.0f req/s at %.0f us of CPU a request, pool:4 %.0f "
            "(%.1f times); at (2 ms, 500 us) pool:4 [%.0f, %.0f] req/s at %.0f us, async "
            "[%.0f, %.0f] at %.0f us\n",
            loop, cpu_per_request(&runs, 1, "async"), pool, pool > 0 ? loop / pool : INFINITY, plo,
            phi, pcpu, alo, ahi, acpu);
    for (int i = 0; i < runs.nrows; i++) {
        double cpu_ms = csv_num(&runs, i, "mean_cpu_ms"),
               wait_ms = csv_num(&runs, i, "mean_wait_ms");
        cr_expect(find_row(&t, cpu_ms * 1000, wait_ms, csv_get(&runs, i, "engine")) >= 0,
                  "run %d in no cell: %.3f ms, %.3f ms", i + 1, cpu_ms, wait_ms);
    }
    /* the folder says which map it holds */
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    char *meta = slurp(path);
    cr_expect(strstr(meta, "\nvary.cpu: 100000ns 2000000ns\n") &&
                  strstr(meta, "\nvary.wait: 500000ns 20000000ns\n") &&
                  strstr(meta, "\ncapacity_tolerance: 0.3\n") && strstr(meta, "\nslo: p90 100ms\n"),
              "%s", meta);
    free(meta);
    /* a probe's figures are its cell's, not a point of summary.csv */
    snprintf(path, sizeof(path), "%s/summary.csv", dir);
    cr_assert_eq(csv_load(path, &summary), 0);
    cr_expect_eq(summary.nrows, 0, "summary.csv holds no map probe");
    csv_free(&summary);
    csv_free(&runs);
    csv_free(&t);
}
