/* The answer's shared reading and phrases (report_words.h), used by both
 * of its paragraphs' files: summary.csv's row of a config at a load, a
 * point's interval and whether two points are level, and the phrases that
 * name configs, throughputs, ranges and client counts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "report_words.h"

/* ---- reading summary.csv ---- */

/* Config e's row of summary.csv at a load (clients in a closed loop, the
 * offered rate in an open one), with a finished repeat; -1 if none. */
int report__row_at(const struct plot__report *rp, int e, const char *loop, double load)
{
    const struct csv_table *s = &rp->summary;
    const char *key = strcmp(loop, "open") ? "clients" : "rate";
    for (int r = 0; r < s->nrows; r++)
        if (!strcmp(csv_get(s, r, "engine"), rp->f->engines[e]) &&
            !strcmp(csv_get(s, r, "loop"), loop) && fabs(csv_num(s, r, key) - load) < 0.0005 &&
            csv_num(s, r, "repeats") >= 1)
            return r;
    return -1;
}

/* Row r's interval of name (throughput or p99): its ends, or the estimate
 * at both ends when it has none (one repeat). */
void report__interval(const struct csv_table *s, int r, const char *est, const char *lo,
                      const char *hi, double *l, double *h)
{
    double e = report__number(s, r, est);
    *l = isnan(report__number(s, r, lo)) ? e : report__number(s, r, lo);
    *h = isnan(report__number(s, r, hi)) ? e : report__number(s, r, hi);
}

/* Whether two points' throughputs are level: their intervals overlap and
 * their means are within TIE_SPREAD (intervals too wide to tell two
 * configs apart do not make them equal), or without intervals their means
 * are within TIE_WITHOUT_INTERVAL. */
int report__level(const struct csv_table *s, int a_row, int b_row)
{
    double alo, ahi, blo, bhi;
    report__interval(s, a_row, "throughput_mean", "throughput_lo", "throughput_hi", &alo, &ahi);
    report__interval(s, b_row, "throughput_mean", "throughput_lo", "throughput_hi", &blo, &bhi);
    if (alo == ahi || blo == bhi)
        return fabs(ahi - bhi) <= TIE_WITHOUT_INTERVAL * fmax(ahi, bhi);
    double a = csv_num(s, a_row, "throughput_mean"), b = csv_num(s, b_row, "throughput_mean");
    return alo <= bhi && blo <= ahi && fabs(a - b) <= TIE_SPREAD * fmax(a, b);
}

/* "931 ± 14", or "903" without an interval. */
void report__write_tp(FILE *out, const struct plot__report *rp, int r)
{
    double hw = report__half_width(rp, r);
    fprintf(out, "%.0f", csv_num(&rp->summary, r, "throughput_mean"));
    if (isfinite(hw))
        fprintf(out, hw < 1 ? " ± %.1f" : " ± %.0f", hw);
}

void report__write_name(FILE *out, const struct plot__report *rp, int e)
{
    fputs("<b>", out);
    report__html(out, rp->f->labels[e]);
    fputs("</b>", out);
}

/* ", " between the items of a list of n, " and " before its last. */
const char *report__list_sep(int k, int n)
{
    return k == 0 ? "" : k == n - 1 ? " and " : ", ";
}

/* The values of a list of configs as "903 to 957" or "903" when alike. */
void report__write_range(FILE *out, double lo, double hi, const char *fmt)
{
    char a[32], b[32];
    snprintf(a, sizeof(a), fmt, lo);
    snprintf(b, sizeof(b), fmt, hi);
    fprintf(out, strcmp(a, b) ? "%s to %s" : "%s", a, b);
}

/* "1 client", "64 clients", "1,024 clients". */
void report__write_clients(FILE *out, double clients)
{
    long c = lround(clients);
    if (c >= 1000)
        fprintf(out, "%ld,%03ld clients", c / 1000, c % 1000);
    else
        fprintf(out, "%ld client%s", c, c == 1 ? "" : "s");
}
