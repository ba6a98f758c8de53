/* The statistics behind results: means and spreads, Student's t against
 * textbook tables, the t, Welch and median intervals on hand-computed cases. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "stats.h"

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
