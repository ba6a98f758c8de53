/* Random numbers, durations and latency distributions: everything in a
 * workload that is sampled. Times are nanoseconds throughout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

/* z such that P(Z < z) = 0.99 for a standard normal: turns a lognormal's
 * median and 99th percentile into its sigma. */
#define Z99 2.3263478740408408

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void wl_rng_seed(struct wl_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, small state, and good enough for sampling. */
uint64_t wl_rng_next(struct wl_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double wl_rng_double(struct wl_rng *rng)
{
    return (double)(wl_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-shift with rejection: unbiased, one division at most. */
uint64_t wl_rng_below(struct wl_rng *rng, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)wl_rng_next(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)wl_rng_next(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* A standard normal deviate by the Marsaglia polar method. */
static double normal(struct wl_rng *rng)
{
    double u, v, s;
    do {
        u = 2.0 * wl_rng_double(rng) - 1.0;
        v = 2.0 * wl_rng_double(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

static double lognormal_sigma(const struct wl_dist *d)
{
    return (log(d->b) - log(d->a)) / Z99;
}

double wl_dist_mean(const struct wl_dist *d)
{
    switch (d->kind) {
    case WL_DIST_FIXED: return d->a;
    case WL_DIST_UNIFORM: return (d->a + d->b) / 2.0;
    case WL_DIST_EXPONENTIAL: return d->a;
    case WL_DIST_LOGNORMAL: {
        double sigma = lognormal_sigma(d);
        return d->a * exp(sigma * sigma / 2.0);
    }
    }
    return 0;
}

/* The standard normal's quantile, Acklam's rational approximation refined
 * by one Halley step on erfc: near double precision over (0, 1). */
static double probit(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double q, r, x;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = 0.5 * erfc(-x / M_SQRT2) - p, u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

double wl_dist_quantile(const struct wl_dist *d, double u)
{
    double x = 0;
    if (!(u > 0 && u < 1))
        return NAN;
    switch (d->kind) {
    case WL_DIST_FIXED: x = d->a; break;
    case WL_DIST_UNIFORM: x = d->a + (d->b - d->a) * u; break;
    case WL_DIST_EXPONENTIAL: x = -d->a * log1p(-u); break;
    case WL_DIST_LOGNORMAL: x = d->a * exp(lognormal_sigma(d) * probit(u)); break;
    }
    return x < 0 ? 0 : x;
}

uint64_t wl_dist_sample(const struct wl_dist *d, struct wl_rng *rng)
{
    double x = 0;
    switch (d->kind) {
    case WL_DIST_FIXED: x = d->a; break;
    case WL_DIST_UNIFORM: x = d->a + (d->b - d->a) * wl_rng_double(rng); break;
    case WL_DIST_EXPONENTIAL: x = -d->a * log1p(-wl_rng_double(rng)); break;
    case WL_DIST_LOGNORMAL: x = d->a * exp(lognormal_sigma(d) * normal(rng)); break;
    }
    return x < 0 ? 0 : (uint64_t)(x + 0.5);
}

int wl_count_parse(const char *text, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int wl_duration_parse(const char *text, uint64_t *ns)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    char *end;

    while (*text == ' ' || *text == '\t')
        text++;
    if (!(*text >= '0' && *text <= '9') && *text != '.')
        return -1;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double x = v * units[i].scale;
            if (x > 3600e9) /* an hour: more is surely a typo */
                return -1;
            *ns = (uint64_t)(x + 0.5);
            return 0;
        }
    }
    return -1;
}

/* Splits text into at most max whitespace-separated words, in place. */
static int split_words(char *text, char **words, int max)
{
    int n = 0;
    for (char *p = strtok(text, " \t"); p; p = strtok(NULL, " \t")) {
        if (n == max)
            return max + 1;
        words[n++] = p;
    }
    return n;
}

int wl_dist_parse(const char *text, struct wl_dist *d, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum wl_dist_kind kind;
        int nargs;
        const char *form;
    } kinds[] = {
        {"fixed", WL_DIST_FIXED, 1, "fixed D"},
        {"uniform", WL_DIST_UNIFORM, 2, "uniform MIN MAX"},
        {"exponential", WL_DIST_EXPONENTIAL, 1, "exponential MEAN"},
        {"lognormal", WL_DIST_LOGNORMAL, 2, "lognormal MEDIAN P99"},
    };
    char buf[256], *w[4];
    uint64_t v[2];

    snprintf(buf, sizeof(buf), "%s", text);
    int n = split_words(buf, w, 3);
    for (size_t k = 0; n > 0 && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (strcmp(w[0], kinds[k].name) != 0)
            continue;
        if (n - 1 != kinds[k].nargs) {
            snprintf(err, errlen, "'%s' takes %d duration%s (expected %s)", w[0], kinds[k].nargs,
                     kinds[k].nargs > 1 ? "s" : "", kinds[k].form);
            return -1;
        }
        for (int i = 0; i < kinds[k].nargs; i++) {
            if (wl_duration_parse(w[i + 1], &v[i]) < 0) {
                snprintf(err, errlen,
                         "bad duration '%s' (expected a number and a unit: "
                         "250ns, 500us, 10ms, 1.5s)",
                         w[i + 1]);
                return -1;
            }
        }
        d->kind = kinds[k].kind;
        d->a = (double)v[0];
        d->b = kinds[k].nargs > 1 ? (double)v[1] : 0;
        if (d->kind == WL_DIST_UNIFORM && d->b < d->a) {
            snprintf(err, errlen, "uniform MAX %s is below MIN %s (expected MIN <= MAX)", w[2],
                     w[1]);
            return -1;
        }
        if ((d->kind == WL_DIST_EXPONENTIAL || d->kind == WL_DIST_LOGNORMAL) && d->a <= 0) {
            snprintf(err, errlen, "%s needs a positive %s", w[0],
                     d->kind == WL_DIST_LOGNORMAL ? "MEDIAN" : "MEAN");
            return -1;
        }
        if (d->kind == WL_DIST_LOGNORMAL && d->b < d->a) {
            snprintf(err, errlen, "lognormal P99 %s is below MEDIAN %s (expected MEDIAN <= P99)",
                     w[2], w[1]);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen,
             "unknown distribution '%s' (expected fixed D, uniform MIN MAX, "
             "exponential MEAN or lognormal MEDIAN P99)",
             n > 0 ? w[0] : "");
    return -1;
}
