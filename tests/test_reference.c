/* The reference curves of `overlap plot` (plots/README.md, "The models"):
 * each config's model where it holds the ideal system, simulated, to its
 * stated tolerance, and else the simulator's curve; the chart's legend list
 * and report.html say which, and model.csv, the simulator's cache, is
 * written again only when the folder changes. On tests/fixtures/results:
 * the seed workload, one server core, pool:workers=1, pool:workers=8 and
 * async. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "child.h"
#include "csv.h"
#include "plot.h"

#define FIXTURE OVERLAP_SOURCE_DIR "/tests/fixtures/results"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(reference, .init = setup, .fini = teardown, .timeout = 120);

/* A copy of the fixture folder under tmp; returns its path. */
static const char *fixture_copy(const char *name)
{
    static char dir[512];
    char cmd[1200];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", FIXTURE, dir);
    cr_assert_eq(system(cmd), 0);
    return dir;
}

/* The whole file, NUL-terminated. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    struct stat st;
    cr_assert_eq(fstat(fileno(f), &st), 0);
    char *text = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(text);
    text[fread(text, 1, (size_t)st.st_size, f)] = '\0';
    fclose(f);
    return text;
}

/* The rows of model.csv that hold the simulator's figures: the drawn
 * curve is within the models' stated tolerance of the ideal system at
 * every one of them (the model's, where it holds; the simulator's own
 * else), and each config's rows say one curve. */
static void expect_references_within_tolerance(const struct csv_table *t)
{
    int compared = 0;
    for (int r = 0; r < t->nrows; r++) {
        if (!*csv_get(t, r, "sim_p99_ms"))
            continue;
        compared++;
        double p99 = csv_num(t, r, "p99_ms"), sim99 = csv_num(t, r, "sim_p99_ms");
        double p50 = csv_num(t, r, "p50_ms"), sim50 = csv_num(t, r, "sim_p50_ms");
        cr_expect_leq(fabs(p99 / sim99 - 1), 0.25, "%s at %s: p99 %g drawn, %g simulated",
                      csv_get(t, r, "engine"), csv_get(t, r, "rate"), p99, sim99);
        cr_expect_leq(fabs(p50 / sim50 - 1), 0.12, "%s at %s: p50 %g drawn, %g simulated",
                      csv_get(t, r, "engine"), csv_get(t, r, "rate"), p50, sim50);
        if (r > 0 && !strcmp(csv_get(t, r, "engine"), csv_get(t, r - 1, "engine")))
            cr_expect_str_eq(csv_get(t, r, "drawn"), csv_get(t, r - 1, "drawn"));
    }
    cr_expect_gt(compared, 0, "the simulator ran nowhere");
}

/* The row of model.csv for engine at rate, or -1. */
static int model_row_at(const struct csv_table *t, const char *engine, double rate)
{
    for (int r = 0; r < t->nrows; r++)
        if (!strcmp(csv_get(t, r, "engine"), engine) && fabs(csv_num(t, r, "rate") - rate) < 1e-3)
            return r;
    return -1;
}

/* Which curve the chart draws: one worker and the event loop keep their
 * models (within tolerance of the ideal system), the pool of 8 workers on
 * one core gets the simulator's, since its model assumes time-slicing where
 * the kernel runs a 0.5 ms burst to completion. Moved to 0.9 of its bound
 * (654.5 req/s, the point), the pool's reference is the ideal
 * system's p99 of about 39 ms where the model says 333; the legend's list
 * and the report say which is drawn. */
Test(reference, the_model_or_the_ideal_system)
{
    const char *dir = fixture_copy("reference");
    char vars[PLOT_VARS_LEN], err[512], path[700], cmd[900];
    snprintf(cmd, sizeof(cmd),
             "sed -i 's/,pool:workers=8,open,0,581.818,/,pool:workers=8,open,0,654.545,/' "
             "'%s/runs.csv'",
             dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)), 0, "%s", err);
    cr_expect_not_null(strstr(vars, "model_sim='0 1 0'"), "%s", vars);
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/model.csv", dir);
    cr_assert_eq(csv_load(path, &t), 0, "no model.csv");
    expect_references_within_tolerance(&t);
    int r = model_row_at(&t, "pool:workers=8", 654.545);
    cr_assert_geq(r, 0, "no reference at 654.5 req/s");
    cr_expect_str_eq(csv_get(&t, r, "drawn"), "simulated");
    cr_expect_float_eq(csv_num(&t, r, "p99_ms"), 39, 6, "the ideal system's p99: %s",
                       csv_get(&t, r, "p99_ms"));
    cr_expect_gt(csv_num(&t, r, "model_p99_ms"), 200, "the model's: %s",
                 csv_get(&t, r, "model_p99_ms"));
    r = model_row_at(&t, "async", 800);
    cr_assert_geq(r, 0, "no reference at 800 req/s");
    cr_expect_str_eq(csv_get(&t, r, "drawn"), "model");
    csv_free(&t);
    cr_assert_eq(plot_write_report(dir), 0);
    snprintf(path, sizeof(path), "%s/report.html", dir);
    char *html = slurp(path);
    cr_expect_not_null(strstr(html, "<b>pool of 8 threads</b>: the latency chart draws the ideal "
                                    "system, simulated, not its model, which departs from it by "
                                    "more than its tolerance (p99 within 25 %, p50 within 12 %): "
                                    "at "),
                       "%s", html);
    cr_expect_not_null(strstr(html, "<b>event loop</b>: the latency chart draws its model, which "
                                    "holds the ideal system, simulated, to its tolerance"),
                       "%s", html);
    free(html);
}

/* model.csv is the report's cache of the simulator: written once while it
 * is newer than runs.csv, workload.ini and meta.txt, again once one of them
 * changes. */
Test(reference, model_csv_is_rewritten_only_when_stale)
{
    const char *dir = fixture_copy("stale-model");
    char vars[PLOT_VARS_LEN], err[512], path[700];
    struct stat before, after;
    cr_assert_eq(plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)), 0, "%s", err);
    snprintf(path, sizeof(path), "%s/model.csv", dir);
    cr_assert_eq(stat(path, &before), 0);
    cr_assert_eq(plot_write_report(dir), 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_expect(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
                  before.st_mtim.tv_nsec == after.st_mtim.tv_nsec,
              "a current model.csv was written again");
    char runs[700];
    snprintf(runs, sizeof(runs), "%s/runs.csv", dir);
    struct timespec later[2] = {{time(NULL) + 60, 0}, {time(NULL) + 60, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, runs, later, 0), 0);
    cr_assert_eq(plot_write_report(dir), 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_expect(after.st_mtim.tv_sec > before.st_mtim.tv_sec ||
                  after.st_mtim.tv_nsec != before.st_mtim.tv_nsec,
              "a stale model.csv was kept");
}
