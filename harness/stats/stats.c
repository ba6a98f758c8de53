/* Means, spreads and 95 % intervals: see stats.h. Student's t quantile is
 * computed (the t distribution function through the regularized incomplete
 * beta function, inverted by bisection) rather than tabled, because Welch's
 * degrees of freedom are fractional. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATS_LEVEL 0.95 /* every interval here is a two-sided 95 % one */

double stats_mean(const double *x, int n)
{
    if (n < 1)
        return NAN;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    return sum / n;
}

double stats_stddev(const double *x, int n)
{
    if (n < 2)
        return NAN;
    double mean = stats_mean(x, n), sum = 0;
    for (int i = 0; i < n; i++)
        sum += (x[i] - mean) * (x[i] - mean);
    return sqrt(sum / (n - 1));
}

double stats_cv(const double *x, int n)
{
    double mean = stats_mean(x, n);
    return n < 2 || mean == 0 ? NAN : stats_stddev(x, n) / fabs(mean);
}

/* The continued fraction of the incomplete beta function, evaluated by the
 * modified Lentz method; it converges fast for x < (a + 1) / (a + b + 2). */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double step = 0;
        for (int odd = 0; odd < 2; odd++) {
            double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                             : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + num * d;
            c = 1 + num / c;
            d = 1 / (fabs(d) < tiny ? tiny : d);
            c = fabs(c) < tiny ? tiny : c;
            step = d * c;
            h *= step;
        }
        if (fabs(step - 1) < 1e-14)
            break;
    }
    return h;
}

/* The regularized incomplete beta function I_x(a, b). */
static double beta_regularized(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

/* P(T > t) for t >= 0. */
static double t_upper_tail(double t, double df)
{
    return 0.5 * beta_regularized(df / 2, 0.5, df / (df + t * t));
}

double stats_t_quantile(double p, double df)
{
    if (!(p >= 0.5 && p < 1) || !(df >= 1))
        return NAN;
    /* Beyond a million degrees of freedom t is the normal to six digits,
     * and the beta function's arguments stay in a comfortable range. */
    if (df > 1e6)
        df = 1e6;
    double tail = 1 - p, lo = 0, hi = 1;
    while (t_upper_tail(hi, df) > tail && hi < 1e300)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (t_upper_tail(mid, df) > tail)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

int stats_mean_interval(const double *x, int n, struct stats_interval *out)
{
    if (n < 2)
        return -EINVAL;
    double mean = stats_mean(x, n);
    double half = stats_t_quantile(1 - (1 - STATS_LEVEL) / 2, n - 1) * stats_stddev(x, n) / sqrt(n);
    *out = (struct stats_interval){mean, mean - half, mean + half, STATS_LEVEL, n - 1};
    return 0;
}

int stats_welch_interval(const double *a, int na, const double *b, int nb,
                         struct stats_interval *out)
{
    if (na < 2 || nb < 2)
        return -EINVAL;
    double sa = stats_stddev(a, na), sb = stats_stddev(b, nb);
    double va = sa * sa / na, vb = sb * sb / nb; /* each mean's variance */
    double diff = stats_mean(b, nb) - stats_mean(a, na), se = sqrt(va + vb);
    /* Two sides without spread: the difference is exact as measured, and
     * the Welch-Satterthwaite fraction would be 0/0. */
    double df =
        se > 0 ? (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1)) : na + nb - 2;
    double half = se > 0 ? stats_t_quantile(1 - (1 - STATS_LEVEL) / 2, df) * se : 0;
    *out = (struct stats_interval){diff, diff - half, diff + half, STATS_LEVEL, df};
    return 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* P(B = i) for B binomial(n, 1/2), in logarithms so that no n underflows
 * before the sum it belongs to. */
static double binomial_half(int n, int i)
{
    return exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
}

int stats_median_interval(const double *x, int n, struct stats_interval *out)
{
    if (n < 1)
        return -EINVAL;
    double *s = malloc((size_t)n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memcpy(s, x, (size_t)n * sizeof(*s));
    qsort(s, (size_t)n, sizeof(*s), compare_doubles);
    /* [s[k-1], s[n-k]] misses the median with probability 2 P(B < k): widen
     * k while that stays within 5 %; k = 1 is [min, max] whatever it reaches. */
    int k = 1;
    double below = binomial_half(n, 0); /* P(B < k) */
    while (k + 1 <= (n + 1) / 2) {
        double next = below + binomial_half(n, k);
        if (1 - 2 * next < STATS_LEVEL)
            break;
        below = next;
        k++;
    }
    double median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    *out = (struct stats_interval){median, s[k - 1], s[n - k], 1 - 2 * below, 0};
    free(s);
    return 0;
}

/* The x at which I_x(a, b) reaches p, by bisection: I is increasing in x. */
static double beta_quantile(double a, double b, double p)
{
    double lo = 0, hi = 1;
    for (int i = 0; i < 100 && hi - lo > 1e-15; i++) {
        double mid = (lo + hi) / 2;
        if (beta_regularized(a, b, mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

int stats_proportion_interval(double k, double n, struct stats_interval *out)
{
    if (!(n >= 1) || !(k >= 0) || !(k <= n) || k != floor(k) || n != floor(n))
        return -EINVAL;
    double tail = (1 - STATS_LEVEL) / 2;
    /* The proportion whose chance of k or more is 2.5 %, and the one whose
     * chance of k or fewer is 2.5 %: the binomial's tails are beta
     * distributions' (Clopper and Pearson, 1934). */
    double lo = k > 0 ? beta_quantile(k, n - k + 1, tail) : 0;
    double hi = k < n ? beta_quantile(k + 1, n - k, 1 - tail) : 1;
    *out = (struct stats_interval){k / n, lo, hi, STATS_LEVEL, 0};
    return 0;
}

double stats_quantile_min_samples(double q)
{
    if (!(q > 0 && q < 1))
        return NAN;
    /* n samples all at or under a bound show the q-quantile under it when
     * the interval of the proportion, whose lower end is 2.5 %^(1/n) for
     * k = n, reaches q. */
    return ceil(log((1 - STATS_LEVEL) / 2) / log(q));
}

/* P(Bin(n, q) <= k), through the incomplete beta function. */
static double binomial_cdf(double k, double n, double q)
{
    if (k < 0)
        return 0;
    if (k >= n)
        return 1;
    return beta_regularized(n - k, k + 1, 1 - q);
}

int stats_quantile_ranks(double n, double q, double *lo, double *hi)
{
    if (!(n >= 1) || n != floor(n) || !(q > 0 && q < 1))
        return -EINVAL;
    double tail = (1 - STATS_LEVEL) / 2, a = 0, b = n;
    /* lo: the largest rank with P(Bin < lo) = P(Bin <= lo - 1) <= 2.5 %,
     * found by bisection on the increasing CDF; 0 when even rank 1 has more */
    while (b - a > 0) {
        double mid = ceil((a + b) / 2);
        if (binomial_cdf(mid - 1, n, q) <= tail)
            a = mid;
        else
            b = mid - 1;
    }
    *lo = a;
    /* hi: the smallest rank with P(Bin >= hi) = 1 - P(Bin <= hi - 1) <= 2.5 % */
    a = 1, b = n + 1;
    while (b - a > 0) {
        double mid = floor((a + b) / 2);
        if (1 - binomial_cdf(mid - 1, n, q) <= tail)
            b = mid;
        else
            a = mid + 1;
    }
    *hi = a;
    return 0;
}
