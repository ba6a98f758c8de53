/* Gunther's Universal Scalability Law (model.h): its curve, its peak, and
 * its fit to a config's closed-loop throughputs by damped least squares on
 * relative residuals, sigma and kappa kept at or above 0. Pure functions of
 * their arguments. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "model.h"

/* ---- the Universal Scalability Law ---- */

double model_usl_throughput(const struct model_usl *usl, double n)
{
    return usl->lambda * n / (1 + usl->sigma * (n - 1) + usl->kappa * n * (n - 1));
}

double model_usl_peak(const struct model_usl *usl)
{
    if (usl->sigma >= 1)
        return 1;
    if (usl->kappa <= 0)
        return INFINITY;
    return fmax(1, sqrt((1 - usl->sigma) / usl->kappa));
}

/* The points of a fit; p[] is (lambda, sigma, kappa). */
struct usl_data {
    const double *n, *x;
    int count;
};

static double usl_sse(const struct usl_data *d, const double p[3])
{
    struct model_usl usl = {p[0], p[1], p[2], 0};
    double sum = 0;
    for (int i = 0; i < d->count; i++) {
        double r = model_usl_throughput(&usl, d->n[i]) / d->x[i] - 1;
        sum += r * r;
    }
    return sum;
}

/* The normal equations J'J and the gradient J'r of the relative residuals. */
static void usl_normal(const struct usl_data *d, const double p[3], double a[3][3], double g[3])
{
    for (int j = 0; j < 3; j++) {
        g[j] = 0;
        for (int k = 0; k < 3; k++)
            a[j][k] = 0;
    }
    for (int i = 0; i < d->count; i++) {
        double n = d->n[i], x = d->x[i];
        double den = 1 + p[1] * (n - 1) + p[2] * n * (n - 1);
        double r = p[0] * n / den / x - 1;
        double jac[3] = {n / den / x, -p[0] * n * (n - 1) / (den * den * x),
                         -p[0] * n * n * (n - 1) / (den * den * x)};
        for (int j = 0; j < 3; j++) {
            g[j] += jac[j] * r;
            for (int k = 0; k < 3; k++)
                a[j][k] += jac[j] * jac[k];
        }
    }
}

/* Solves (A + mu diag A) step = -g over the free parameters, the others' steps
 * 0. The system is scaled to a unit diagonal first: lambda, sigma and kappa
 * differ by six orders of magnitude. -1 when it is singular. */
static int usl_step(double a[3][3], const double g[3], const int free[3], double mu, double step[3])
{
    double m[3][4], scale[3];
    int idx[3], k = 0;
    for (int j = 0; j < 3; j++) {
        step[j] = 0;
        if (free[j] && a[j][j] > 0)
            idx[k++] = j;
    }
    for (int r = 0; r < k; r++)
        scale[r] = sqrt(a[idx[r]][idx[r]]);
    for (int r = 0; r < k; r++) {
        for (int s = 0; s < k; s++)
            m[r][s] = a[idx[r]][idx[s]] / (scale[r] * scale[s]) + (r == s ? mu : 0);
        m[r][k] = -g[idx[r]] / scale[r];
    }
    for (int col = 0; col < k; col++) { /* Gauss-Jordan; positive definite, no pivoting */
        if (!(m[col][col] > 1e-300))
            return -1;
        for (int r = 0; r < k; r++) {
            double f = m[r][col] / m[col][col];
            for (int s = col; s <= k && r != col; s++)
                m[r][s] -= f * m[col][s];
        }
    }
    for (int r = 0; r < k; r++)
        step[idx[r]] = m[r][k] / m[r][r] / scale[r];
    return 0;
}

/* The linearised fit that starts the search: lambda is at least every
 * x / n (sigma, kappa >= 0 only lower the curve), and for a given lambda,
 * lambda n / x - 1 = sigma (n - 1) + kappa n (n - 1) is linear: least
 * squares, or when that makes one negative, the better one-parameter fit. */
static void usl_start(const struct usl_data *d, double p[3])
{
    double su2 = 0, sv2 = 0, suv = 0, suy = 0, svy = 0, lambda = 0;
    for (int i = 0; i < d->count; i++)
        lambda = fmax(lambda, d->x[i] / d->n[i]);
    for (int i = 0; i < d->count; i++) {
        double u = d->n[i] - 1, v = d->n[i] * (d->n[i] - 1), y = lambda * d->n[i] / d->x[i] - 1;
        su2 += u * u, sv2 += v * v, suv += u * v, suy += u * y, svy += v * y;
    }
    double det = su2 * sv2 - suv * suv;
    p[0] = lambda;
    p[1] = (suy * sv2 - svy * suv) / det;
    p[2] = (svy * su2 - suy * suv) / det;
    if (det > 0 && p[1] >= 0 && p[2] >= 0)
        return;
    double sigma_only[3] = {lambda, fmax(0, suy / su2), 0};
    double kappa_only[3] = {lambda, 0, fmax(0, svy / sv2)};
    const double *best = usl_sse(d, sigma_only) <= usl_sse(d, kappa_only) ? sigma_only : kappa_only;
    for (int j = 0; j < 3; j++)
        p[j] = best[j];
}

/* One Levenberg-Marquardt iteration: the first trial step that lowers the
 * error, projected onto sigma, kappa >= 0. A parameter at 0 whose gradient
 * pushes it below stays fixed (the active set). 0, or -1 when none lowers it. */
static int usl_iterate(const struct usl_data *d, double p[3], double *sse, double *mu)
{
    double a[3][3], g[3], step[3];
    usl_normal(d, p, a, g);
    int free[3] = {1, !(p[1] <= 0 && g[1] > 0), !(p[2] <= 0 && g[2] > 0)};
    for (int tries = 0; tries < 30; tries++, *mu *= 4) {
        if (usl_step(a, g, free, *mu, step) < 0)
            return -1;
        double q[3] = {p[0] + step[0], fmax(0, p[1] + step[1]), fmax(0, p[2] + step[2])};
        if (q[0] <= 0)
            q[0] = p[0] / 2;
        double e = usl_sse(d, q);
        if (e < *sse) {
            for (int j = 0; j < 3; j++)
                p[j] = q[j];
            *sse = e;
            *mu /= 3;
            return 0;
        }
    }
    return -1;
}

/* At least 3 points, all n >= 1 and x > 0, with 3 distinct n. */
static int usl_check(const double *n, const double *x, int count)
{
    int distinct = 0;
    if (!n || !x || count < 3)
        return -EINVAL;
    for (int i = 0; i < count; i++) {
        if (!(n[i] >= 1) || !isfinite(n[i]) || !(x[i] > 0) || !isfinite(x[i]))
            return -EINVAL;
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= n[j] == n[i];
        distinct += !seen;
    }
    return distinct >= 3 ? 0 : -EINVAL;
}

int model_usl_fit(const double *n, const double *x, int count, struct model_usl *out)
{
    int rc = usl_check(n, x, count);
    if (rc < 0)
        return rc;
    struct usl_data d = {n, x, count};
    double p[3], mu = 1e-3;
    usl_start(&d, p);
    double sse = usl_sse(&d, p);
    for (int iter = 0; iter < 500 && sse > 0; iter++)
        if (usl_iterate(&d, p, &sse, &mu) < 0)
            break;
    *out = (struct model_usl){p[0], p[1], p[2], sqrt(sse / count)};
    return 0;
}
