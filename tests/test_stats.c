/* The statistics behind results: means and spreads, Student's t against
 * textbook tables, the t, Welch and median intervals on hand-computed cases,
 * and summary.csv from hand-made runs.csv files of both schemas (with and
 * without the repeat columns). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "csv.h"
#include "stats.h"
#include "summary.h"

#define N(x) ((int)(sizeof(x) / sizeof((x)[0])))

/* ---- stats ---- */

Test(stats, mean_standard_deviation_and_coefficient_of_variation)
{
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    cr_expect_float_eq(stats_mean(x, N(x)), 5.0, 1e-12);
    cr_expect_float_eq(stats_stddev(x, N(x)), sqrt(32.0 / 7), 1e-12); /* divisor n - 1 */
    cr_expect_float_eq(stats_cv(x, N(x)), sqrt(32.0 / 7) / 5, 1e-12);
    cr_expect(isnan(stats_mean(x, 0)));
    cr_expect(isnan(stats_stddev(x, 1)));
    const double zero[] = {-1, 1};
    cr_expect(isnan(stats_cv(zero, 2)), "no coefficient of variation around a zero mean");
}

Test(stats, t_quantiles_match_the_textbook_table)
{
    const struct {
        double df, t;
    } table[] = {{1, 12.706}, {2, 4.303},  {3, 3.182},  {4, 2.776},
                 {5, 2.571},  {10, 2.228}, {30, 2.042}, {120, 1.980}};
    for (int i = 0; i < N(table); i++)
        cr_expect_float_eq(stats_t_quantile(0.975, table[i].df), table[i].t, 5e-4, "df %g",
                           table[i].df);
    cr_expect_float_eq(stats_t_quantile(0.95, 10), 1.812, 5e-4);
    cr_expect_float_eq(stats_t_quantile(0.5, 7), 0.0, 1e-9);
    cr_expect_float_eq(stats_t_quantile(0.975, 1e9), 1.960, 5e-4, "the normal limit");
}

Test(stats, t_quantile_of_fractional_df_lies_between_its_neighbours)
{
    double t = stats_t_quantile(0.975, 2.5);
    cr_expect(t < stats_t_quantile(0.975, 2) && t > stats_t_quantile(0.975, 3), "t = %g", t);
    cr_expect(isnan(stats_t_quantile(0.975, 0.5)));
    cr_expect(isnan(stats_t_quantile(1.0, 5)));
    cr_expect(isnan(stats_t_quantile(0.2, 5)));
}

Test(stats, t_interval_of_a_mean)
{
    const double x[] = {1, 2, 3}; /* mean 2, s = 1: half-width t(2) / sqrt(3) */
    struct stats_interval ci;
    cr_assert_eq(stats_mean_interval(x, 3, &ci), 0);
    double half = 4.3027 / sqrt(3);
    cr_expect_float_eq(ci.estimate, 2.0, 1e-12);
    cr_expect_float_eq(ci.lo, 2 - half, 1e-3);
    cr_expect_float_eq(ci.hi, 2 + half, 1e-3);
    cr_expect_float_eq(ci.df, 2.0, 1e-12);
    cr_expect_float_eq(ci.confidence, 0.95, 1e-12);
    cr_expect_eq(stats_mean_interval(x, 1, &ci), -EINVAL);
}

Test(stats, welch_interval_with_equal_and_unequal_spreads)
{
    const double a[] = {1, 2, 3}, b[] = {4, 5, 6}, c[] = {4, 6, 8};
    struct stats_interval d;
    /* Equal variances and sizes: df = 2 (n - 1) = 4, se = sqrt(2/3). */
    cr_assert_eq(stats_welch_interval(a, 3, b, 3, &d), 0);
    cr_expect_float_eq(d.estimate, 3.0, 1e-12);
    cr_expect_float_eq(d.df, 4.0, 1e-9);
    cr_expect_float_eq(d.lo, 3 - 2.7764 * sqrt(2.0 / 3), 1e-3);
    cr_expect_float_eq(d.hi, 3 + 2.7764 * sqrt(2.0 / 3), 1e-3);
    /* Variances 1 and 4: df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17. */
    cr_assert_eq(stats_welch_interval(a, 3, c, 3, &d), 0);
    cr_expect_float_eq(d.estimate, 4.0, 1e-12);
    cr_expect_float_eq(d.df, 50.0 / 17, 1e-9);
    cr_expect_float_eq(d.hi - d.estimate, stats_t_quantile(0.975, 50.0 / 17) * sqrt(5.0 / 3), 1e-9);
    cr_expect_eq(stats_welch_interval(a, 1, c, 3, &d), -EINVAL);
}

Test(stats, welch_interval_of_two_sides_without_spread_is_the_difference)
{
    const double a[] = {5, 5, 5}, b[] = {7, 7};
    struct stats_interval d;
    cr_assert_eq(stats_welch_interval(a, 3, b, 2, &d), 0);
    cr_expect_float_eq(d.lo, 2.0, 1e-12);
    cr_expect_float_eq(d.hi, 2.0, 1e-12);
    cr_assert_eq(stats_welch_interval(a, 3, a, 3, &d), 0);
    cr_expect(d.lo <= 0 && d.hi >= 0, "a side against itself holds 0");
}

Test(stats, median_interval_from_order_statistics)
{
    struct stats_interval m;
    const double five[] = {5, 1, 4, 2, 3};
    cr_assert_eq(stats_median_interval(five, 5, &m), 0);
    cr_expect_float_eq(m.estimate, 3.0, 1e-12);
    cr_expect_float_eq(m.lo, 1.0, 1e-12);
    cr_expect_float_eq(m.hi, 5.0, 1e-12);
    cr_expect_float_eq(m.confidence, 1 - 1.0 / 16, 1e-12, "n < 6: [min, max] at 1 - 2^(1-n)");
    cr_expect_float_eq(five[0], 5.0, 0, "the input is left in its order");
    const double four[] = {4, 1, 3, 2};
    cr_assert_eq(stats_median_interval(four, 4, &m), 0);
    cr_expect_float_eq(m.estimate, 2.5, 1e-12);
    cr_expect_float_eq(m.confidence, 0.875, 1e-12);
    const double one[] = {7};
    cr_assert_eq(stats_median_interval(one, 1, &m), 0);
    cr_expect_float_eq(m.lo, 7.0, 0);
    cr_expect_float_eq(m.confidence, 0.0, 1e-12);
    cr_expect_eq(stats_median_interval(one, 0, &m), -EINVAL);
}

Test(stats, median_interval_narrows_once_95_percent_allows)
{
    struct stats_interval m;
    const double six[] = {6, 5, 4, 3, 2, 1};
    cr_assert_eq(stats_median_interval(six, 6, &m), 0);
    cr_expect_float_eq(m.lo, 1.0, 0);
    cr_expect_float_eq(m.hi, 6.0, 0);
    cr_expect_float_eq(m.confidence, 1 - 2.0 / 64, 1e-12);
    /* n = 10: [x(2), x(9)] covers 1 - 2 (1 + 10) / 1024; [x(3), x(8)] only 89 %. */
    const double ten[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    cr_assert_eq(stats_median_interval(ten, 10, &m), 0);
    cr_expect_float_eq(m.estimate, 5.5, 1e-12);
    cr_expect_float_eq(m.lo, 2.0, 0);
    cr_expect_float_eq(m.hi, 9.0, 0);
    cr_expect_float_eq(m.confidence, 1 - 22.0 / 1024, 1e-12);
}

Test(stats, proportion_interval_is_clopper_pearsons)
{
    struct stats_interval p;
    /* All or none: the closed forms 2.5 %^(1/n) and 1 - 2.5 %^(1/n). */
    cr_assert_eq(stats_proportion_interval(10, 10, &p), 0);
    cr_expect_float_eq(p.lo, pow(0.025, 0.1), 1e-9);
    cr_expect_float_eq(p.hi, 1.0, 0);
    cr_assert_eq(stats_proportion_interval(0, 10, &p), 0);
    cr_expect_float_eq(p.lo, 0.0, 0);
    cr_expect_float_eq(p.hi, 1 - pow(0.025, 0.1), 1e-9);
    /* Published values (Clopper and Pearson's tables; any exact calculator). */
    cr_assert_eq(stats_proportion_interval(5, 10, &p), 0);
    cr_expect_float_eq(p.estimate, 0.5, 0);
    cr_expect_float_eq(p.lo, 0.187086, 1e-6);
    cr_expect_float_eq(p.hi, 0.812914, 1e-6);
    cr_assert_eq(stats_proportion_interval(1, 20, &p), 0);
    cr_expect_float_eq(p.lo, 0.001265, 1e-6);
    cr_expect_float_eq(p.hi, 0.248733, 1e-6);
    /* The tails are each 2.5 %: checked against the binomial sum itself. */
    cr_assert_eq(stats_proportion_interval(990, 1000, &p), 0);
    double below = 0; /* P(X >= 990 | p.lo) */
    for (int i = 990; i <= 1000; i++)
        below += exp(lgamma(1001) - lgamma(i + 1) - lgamma(1001 - i) + i * log(p.lo) +
                     (1000 - i) * log1p(-p.lo));
    cr_expect_float_eq(below, 0.025, 1e-6);
    cr_expect_lt(p.lo, 0.99);
    cr_expect_gt(p.hi, 0.99);
    /* Refused: k outside [0, n], no trials, fractions. */
    cr_expect_eq(stats_proportion_interval(11, 10, &p), -EINVAL);
    cr_expect_eq(stats_proportion_interval(-1, 10, &p), -EINVAL);
    cr_expect_eq(stats_proportion_interval(0, 0, &p), -EINVAL);
    cr_expect_eq(stats_proportion_interval(1.5, 10, &p), -EINVAL);
    cr_expect_eq(stats_proportion_interval(NAN, 10, &p), -EINVAL);
}

Test(stats, a_quantile_needs_enough_samples_to_be_bounded)
{
    cr_expect_float_eq(stats_quantile_min_samples(0.5), 6.0, 0);
    cr_expect_float_eq(stats_quantile_min_samples(0.9), 36.0, 0);
    cr_expect_float_eq(stats_quantile_min_samples(0.99), 368.0, 0);
    cr_expect_float_eq(stats_quantile_min_samples(0.999), 3688.0, 0);
    /* The definition: at that n, all within shows the quantile; one fewer does not. */
    struct stats_interval p;
    cr_assert_eq(stats_proportion_interval(368, 368, &p), 0);
    cr_expect_geq(p.lo, 0.99);
    cr_assert_eq(stats_proportion_interval(367, 367, &p), 0);
    cr_expect_lt(p.lo, 0.99);
    cr_expect(isnan(stats_quantile_min_samples(0)));
    cr_expect(isnan(stats_quantile_min_samples(1)));
}

Test(stats, quantile_ranks_bound_a_quantile_distribution_free)
{
    double lo, hi;
    /* the median of 100: the textbook pair x(40), x(61) */
    cr_assert_eq(stats_quantile_ranks(100, 0.5, &lo, &hi), 0);
    cr_expect_float_eq(lo, 40, 0);
    cr_expect_float_eq(hi, 61, 0);
    /* p99: 368 samples reach the maximum as the upper bound, 367 do not */
    cr_assert_eq(stats_quantile_ranks(368, 0.99, &lo, &hi), 0);
    cr_expect_float_eq(hi, 368, 0);
    cr_assert_eq(stats_quantile_ranks(367, 0.99, &lo, &hi), 0);
    cr_expect_float_eq(hi, 368, 0, "n + 1: no upper bound");
    /* p99 of 10,000: about 99 +- 0.2 % of the ranks */
    cr_assert_eq(stats_quantile_ranks(10000, 0.99, &lo, &hi), 0);
    cr_expect(lo >= 9875 && lo <= 9885 && hi >= 9915 && hi <= 9925, "[%g, %g]", lo, hi);
    cr_expect_eq(stats_quantile_ranks(0, 0.99, &lo, &hi), -EINVAL);
    cr_expect_eq(stats_quantile_ranks(10, 1, &lo, &hi), -EINVAL);
}

/* ---- summary.csv ---- */

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(summary, .init = setup, .fini = teardown);

static void write_runs(const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/runs.csv", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes tmp/summary.csv with cores and reads it back. */
static void summarize(int cores, struct csv_table *t)
{
    char err[512], path[512];
    cr_assert_eq(summary_write(tmp, cores, err, sizeof(err)), 0, "%s", err);
    snprintf(path, sizeof(path), "%s/summary.csv", tmp);
    cr_assert_eq(csv_load(path, t), 0);
}

/* The older schema: no repeat columns; rows of one point are its repeats,
 * configs interleaved as a sweep runs them. */
static const char old_runs[] =
    "run,engine,loop,clients,rate,status,reason,requests,errors,throughput_rps,p99_ms,mean_ms,"
    "cpu_user_s,cpu_sys_s,bound_rps,ceiling_rps\n"
    "1,a,closed,8,0.000,ok,,1000,0,100,10,80,0.5,0.5,100,200\n"
    "2,b,closed,8,0.000,ok,,2000,0,200,5,40,0.3,0.1,200,400\n"
    "3,a,closed,8,0.000,ok,,1000,0,110,30,80,0.25,0.75,100,200\n"
    "4,a,open,0,50.000,failed,server died,,,,,,,,50,200\n"
    "5,b,closed,8,0.000,ok,,2000,0,202,7,40,0.3,0.1,200,400\n"
    "6,a,closed,8,0.000,ok,,1000,0,90,20,80,0.5,0.5,100,200\n"
    "7,a,open,0,50.000,ok,,500,0,50,12,11,0.4,0.1,50,200\n";

Test(summary, one_row_per_point_with_mean_median_and_intervals)
{
    write_runs(old_runs);
    struct csv_table t;
    summarize(2, &t);
    cr_assert_eq(t.nrows, 3);
    cr_expect_str_eq(csv_get(&t, 0, "engine"), "a");
    cr_expect_str_eq(csv_get(&t, 1, "engine"), "b", "points in the order they first appear");
    cr_expect_str_eq(csv_get(&t, 2, "loop"), "open");
    /* a closed 8: throughput 100, 110, 90: mean 100, s 10, t(2) = 4.303. */
    cr_expect_str_eq(csv_get(&t, 0, "repeats"), "3");
    cr_expect_str_eq(csv_get(&t, 0, "failed"), "0");
    cr_expect_float_eq(csv_num(&t, 0, "throughput_mean"), 100, 1e-3);
    cr_expect_float_eq(csv_num(&t, 0, "throughput_lo"), 100 - 4.3027 * 10 / sqrt(3), 2e-3);
    cr_expect_float_eq(csv_num(&t, 0, "throughput_hi"), 100 + 4.3027 * 10 / sqrt(3), 2e-3);
    cr_expect_float_eq(csv_num(&t, 0, "p99_median"), 20, 1e-6);
    cr_expect_float_eq(csv_num(&t, 0, "p99_lo"), 10, 1e-6);
    cr_expect_float_eq(csv_num(&t, 0, "p99_hi"), 30, 1e-6);
    /* (0.5 + 0.5) s over 1000 requests each time; 2 cores at 1 ms a request. */
    cr_expect_float_eq(csv_num(&t, 0, "cpu_per_request_us"), 1000, 1e-3);
    cr_expect_float_eq(csv_num(&t, 0, "ceiling_measured_rps"), 2000, 0.1);
    /* X R / C: 100 x 0.08 / 8, 110 x 0.08 / 8, 90 x 0.08 / 8: mean 1. */
    cr_expect_float_eq(csv_num(&t, 0, "littles_ratio"), 1.0, 1e-4);
    cr_expect_str_eq(csv_get(&t, 0, "flags"), "noisy", "a half-width of 25 %% is noise");
    csv_free(&t);
}

Test(summary, failed_runs_are_counted_not_averaged_and_one_repeat_has_no_interval)
{
    write_runs(old_runs);
    struct csv_table t;
    summarize(2, &t);
    /* b closed 8: 200 and 202: half-width t(1) x s / sqrt 2 = 12.706, 6 %. */
    cr_expect_float_eq(csv_num(&t, 1, "throughput_mean"), 201, 1e-3);
    cr_expect_float_eq(csv_num(&t, 1, "throughput_hi"), 201 + 12.7062, 2e-3);
    cr_expect_str_eq(csv_get(&t, 1, "flags"), "");
    cr_expect_float_eq(csv_num(&t, 1, "cpu_per_request_us"), 200, 1e-3);
    /* a open 50: one ok run, one failed. */
    cr_expect_str_eq(csv_get(&t, 2, "repeats"), "1");
    cr_expect_str_eq(csv_get(&t, 2, "failed"), "1");
    cr_expect_float_eq(csv_num(&t, 2, "throughput_mean"), 50, 1e-3);
    cr_expect_str_eq(csv_get(&t, 2, "throughput_lo"), "");
    cr_expect_str_eq(csv_get(&t, 2, "throughput_hi"), "");
    cr_expect_float_eq(csv_num(&t, 2, "p99_median"), 12, 1e-6);
    cr_expect_str_eq(csv_get(&t, 2, "p99_lo"), "");
    cr_expect_str_eq(csv_get(&t, 2, "littles_ratio"), "", "no Little's ratio for an open loop");
    cr_expect_str_eq(csv_get(&t, 2, "flags"), "failed");
    csv_free(&t);
}

Test(summary, new_columns_are_used_and_flags_joined)
{
    write_runs("run,engine,loop,clients,rate,status,requests,throughput_rps,p99_ms,mean_ms,"
               "cpu_user_s,cpu_sys_s,repeat,cpu_per_request_us,littles_ratio,flags\n"
               "1,async,closed,64,0,ok,1000,500,9,100,1,1,1,800,0.97,littles-law;errors\n"
               "2,async,closed,64,0,ok,1000,500,9,100,1,1,2,900,0.99,\n"
               "3,async,closed,64,0,ok,1000,500,9,100,1,1,3,1000,,errors;unsteady\n");
    struct csv_table t;
    summarize(0, &t);
    cr_assert_eq(t.nrows, 1);
    cr_expect_str_eq(csv_get(&t, 0, "repeats"), "3");
    cr_expect_float_eq(csv_num(&t, 0, "cpu_per_request_us"), 900, 1e-3, "the column, not 2 ms");
    /* The third run lacks the column: its ratio comes from 500 x 0.1 / 64. */
    cr_expect_float_eq(csv_num(&t, 0, "littles_ratio"), (0.97 + 0.99 + 50.0 / 64) / 3, 1e-4);
    cr_expect_str_eq(csv_get(&t, 0, "ceiling_measured_rps"), "", "no cores given");
    cr_expect_str_eq(csv_get(&t, 0, "throughput_lo"), "500.000", "no spread: a zero width");
    cr_expect_str_eq(csv_get(&t, 0, "flags"), "littles-law;errors;unsteady");
    csv_free(&t);
}

Test(summary, is_written_whole_and_leaves_no_temporary_file)
{
    write_runs(old_runs);
    struct csv_table t;
    summarize(2, &t);
    csv_free(&t);
    summarize(2, &t); /* a second time: replaced, not appended to */
    cr_expect_eq(t.nrows, 3);
    csv_free(&t);
    DIR *d = opendir(tmp);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += e->d_name[0] != '.' || strlen(e->d_name) > 2;
    closedir(d);
    cr_expect_eq(files, 2, "runs.csv and summary.csv, nothing else");
}

/* summary_read's message for text as runs.csv, or "" when it was read. */
static const char *read_error(const char *text)
{
    static char err[512];
    char path[512];
    struct summary_set set;
    write_runs(text);
    snprintf(path, sizeof(path), "%s/runs.csv", tmp);
    err[0] = '\0';
    int rc = summary_read(path, &set, err, sizeof(err));
    cr_expect_eq(rc, err[0] ? -EINVAL : 0, "%s", err);
    cr_expect(!err[0] || strstr(err, path), "the message names the file: %s", err);
    summary_free(&set);
    return err;
}

Test(summary, refuses_what_is_not_a_runs_csv)
{
    cr_expect(strstr(read_error(""), "empty file"));
    cr_expect(
        strstr(read_error("engine,loop,clients,rate,status,throughput_rps\n"), "no column p99_ms"));
    cr_expect(strstr(read_error("engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
                                "a,closed,8,0,ok,fast,1\n"),
                     "runs.csv:2: throughput_rps 'fast' is not a number"));
    cr_expect(strstr(read_error("engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
                                "a,closed,8,0,ok,1,1\na,closed,eight,0,ok,1,1\n"),
                     ":3: clients 'eight'"));
    cr_expect(strstr(read_error("engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
                                "a,closed,8,0,ok,,1\n"),
                     "throughput_rps is empty"));
    cr_expect_str_eq(read_error("engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
                                "a,closed,8,0,failed,,\n"),
                     "", "a failed run's empty fields are not an error");
}

/* Each config's USL fit on every one of its rows: exact points of
 * X(N) = 100 N / (1 + 0.1 (N - 1) + 0.01 N (N - 1)) give back sigma 0.1,
 * kappa 0.01 and the peak at sqrt(0.9 / 0.01) clients, its open-loop row
 * included; a config with two closed-loop points has no fit. */
Test(summary, usl_fit_on_every_row_of_a_config)
{
    write_runs("run,engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
               "1,a,closed,1,0,ok,100,10\n"
               "2,a,closed,2,0,ok,178.5714,10\n"
               "3,b,closed,1,0,ok,50,10\n"
               "4,a,closed,4,0,ok,281.6901,10\n"
               "5,b,closed,2,0,ok,90,10\n"
               "6,a,closed,8,0,ok,353.9823,10\n"
               "7,a,open,0,50,ok,50,12\n");
    struct csv_table t;
    summarize(1, &t);
    cr_assert_eq(t.nrows, 7);
    for (int r = 0; r < t.nrows; r++) {
        if (!strcmp(csv_get(&t, r, "engine"), "b")) {
            cr_expect_str_eq(csv_get(&t, r, "usl_sigma"), "");
            cr_expect_str_eq(csv_get(&t, r, "usl_kappa"), "");
            cr_expect_str_eq(csv_get(&t, r, "usl_n_star"), "");
            continue;
        }
        cr_expect_float_eq(csv_num(&t, r, "usl_sigma"), 0.1, 1e-3, "row %d", r);
        cr_expect_float_eq(csv_num(&t, r, "usl_kappa"), 0.01, 1e-4, "row %d", r);
        cr_expect_float_eq(csv_num(&t, r, "usl_n_star"), sqrt(90), 0.05, "row %d", r);
    }
    csv_free(&t);
}
