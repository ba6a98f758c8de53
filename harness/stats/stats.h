/* The statistics behind summary.csv and `overlap compare`: means, spreads and
 * 95 % intervals over a handful of repeats. Pure functions of their
 * arguments: no I/O, no state. */
#ifndef OVERLAP_STATS_H
#define OVERLAP_STATS_H

/* An estimate with its interval. confidence is the interval's actual
 * coverage (0.95 for t intervals; an order-statistic interval of few values
 * reaches less), df the degrees of freedom of a t interval (0 otherwise). */
struct stats_interval {
    double estimate, lo, hi;
    double confidence, df;
};

/* The arithmetic mean; NAN for n < 1. */
double stats_mean(const double *x, int n);
/* The sample standard deviation (divisor n - 1); NAN for n < 2. */
double stats_stddev(const double *x, int n);
/* The coefficient of variation, stddev / |mean|; NAN for n < 2 or a zero mean. */
double stats_cv(const double *x, int n);

/* The p quantile of Student's t with df degrees of freedom, for
 * 0.5 <= p < 1 and df >= 1 (fractional df allowed, as Welch's are); NAN
 * outside. The two-sided 95 % interval uses p = 0.975. */
double stats_t_quantile(double p, double df);

/* The 95 % t interval of the mean of x. 0, or -EINVAL for n < 2. */
int stats_mean_interval(const double *x, int n, struct stats_interval *out);

/* Welch's 95 % interval of mean(b) - mean(a), with the Welch-Satterthwaite
 * degrees of freedom: no equal variances assumed. 0, or -EINVAL when either
 * side has fewer than 2 values. */
int stats_welch_interval(const double *a, int na, const double *b, int nb,
                         struct stats_interval *out);

/* The median of x and its distribution-free interval between two order
 * statistics, the narrowest symmetric pair with at least 95 % coverage.
 * Under 6 values no pair reaches 95 %: the interval is [min, max] and its
 * confidence 1 - 2^(1-n). x is left as it was. 0, -EINVAL for n < 1 or
 * -ENOMEM. */
int stats_median_interval(const double *x, int n, struct stats_interval *out);

/* The exact (Clopper-Pearson) 95 % interval of a proportion seen k times in
 * n trials: the fraction of requests within a latency goal, whose interval
 * says whether a percentile meets the goal. Exact means conservative: its
 * coverage is at least 95 % for every n and proportion, never less, so a
 * verdict drawn from it is not the luck of a small sample. 0, or -EINVAL
 * unless 0 <= k <= n and n >= 1. */
int stats_proportion_interval(double k, double n, struct stats_interval *out);

/* The fewest samples whose q-quantile (0 < q < 1) a 95 % interval can hold
 * from above: with fewer, even a sample all within a bound leaves the
 * interval's upper end at the maximum, so no claim "the q-quantile is under
 * the bound" can be made. The smallest n with q^n <= 2.5 %: 6 for the
 * median, 368 for p99, 3,688 for p99.9. NAN outside (0, 1). */
double stats_quantile_min_samples(double q);

/* The order statistics (1-based ranks in the sorted sample) that bound the
 * q-quantile of n samples with at least 95 % coverage, distribution-free:
 * the lowest rank lo and highest hi with P(Bin(n, q) < lo) <= 2.5 % and
 * P(Bin(n, q) >= hi) <= 2.5 %. hi is n + 1 (no upper bound: the maximum is
 * not enough) under stats_quantile_min_samples, lo 0 likewise at the low
 * end. 0, or -EINVAL unless n >= 1 and 0 < q < 1. */
int stats_quantile_ranks(double n, double q, double *lo, double *hi);

#endif
