/* One config's line of the end-of-sweep table, from summary.csv: what
 * `overlap bench` prints as it ends and report.html shows first, so the two
 * say the same. See summary.h. */
#include "summary.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define P99_NEAR 0.2 /* without a bracketing pair, a point this close to the target stands in */

/* One point of summary.csv, as the line reads it. */
struct point {
    int open, row;
    double rate;                /* offered (open loop) */
    double tp, tp_lo, tp_hi;    /* throughput mean and interval */
    double p99, p99_lo, p99_hi; /* p99 median and interval */
};

/* Row i of t as a point; NAN where the file leaves a field empty. */
static struct point read_point(const struct csv_table *t, int i)
{
    struct point p = {
        .open = !strcmp(csv_get(t, i, "loop"), "open"), .row = i, .rate = csv_num(t, i, "rate")};
    const char *names[] = {"throughput_mean", "throughput_lo", "throughput_hi",
                           "p99_median",      "p99_lo",        "p99_hi"};
    double *fields[] = {&p.tp, &p.tp_lo, &p.tp_hi, &p.p99, &p.p99_lo, &p.p99_hi};
    for (int k = 0; k < 6; k++)
        *fields[k] = *csv_get(t, i, names[k]) ? csv_num(t, i, names[k]) : NAN;
    return p;
}

static double lerp(double y0, double y1, double f)
{
    return y0 + (y1 - y0) * f;
}

/* p99 of the config's open loop at `target` req/s: interpolated (median and
 * interval ends alike) between the two points whose throughput brackets
 * it, else the nearest point's within P99_NEAR of it; estimate NAN if none.
 * Above the target the least loaded point is taken (the lowest offered
 * rate): past saturation throughput stops rising, so a point offered 1.2
 * times the bound may serve a hair less than one offered 0.9 times it, and
 * its p99 is its backlog's, not the curve's at that throughput. */
static struct summary_p99 p99_at(const struct point *pts, int n, double target)
{
    int below = -1, above = -1, nearest = -1;
    for (int i = 0; i < n; i++) {
        if (!pts[i].open || isnan(pts[i].tp))
            continue;
        if (pts[i].tp <= target && (below < 0 || pts[i].tp > pts[below].tp))
            below = i;
        if (pts[i].tp >= target && (above < 0 || pts[i].rate < pts[above].rate))
            above = i;
        if (nearest < 0 || fabs(pts[i].tp - target) < fabs(pts[nearest].tp - target))
            nearest = i;
    }
    struct summary_p99 none = {NAN, NAN, NAN};
    if (below < 0 || above < 0) {
        if (nearest < 0 || fabs(pts[nearest].tp - target) > P99_NEAR * target)
            return none;
        return (struct summary_p99){pts[nearest].p99, pts[nearest].p99_lo, pts[nearest].p99_hi};
    }
    const struct point *a = &pts[below], *b = &pts[above];
    double f = b->tp > a->tp ? (target - a->tp) / (b->tp - a->tp) : 0;
    return (struct summary_p99){lerp(a->p99, b->p99, f), lerp(a->p99_lo, b->p99_lo, f),
                                lerp(a->p99_hi, b->p99_hi, f)};
}

int summary_line(const struct csv_table *t, const char *spec, struct summary_line *line)
{
    struct point pts[SUMMARY_LINE_POINTS];
    int n = 0, peak = -1;
    memset(line, 0, sizeof(*line));
    line->peak_row = -1;
    for (int i = 0; i < t->nrows && n < SUMMARY_LINE_POINTS; i++) {
        const char *loop = csv_get(t, i, "loop");
        if (strcmp(csv_get(t, i, "engine"), spec) != 0 ||
            (strcmp(loop, "closed") != 0 && strcmp(loop, "open") != 0))
            continue;
        pts[n] = read_point(t, i);
        if (!isnan(pts[n].tp) && (peak < 0 || pts[n].tp > pts[peak].tp))
            peak = n;
        n++;
    }
    if (peak < 0)
        return -1;
    const struct point *p = &pts[peak];
    line->peak_row = p->row;
    line->tp = p->tp;
    line->tp_lo = p->tp_lo;
    line->tp_hi = p->tp_hi;
    line->cpu_ceiling = *csv_get(t, p->row, "ceiling_measured_rps")
                            ? csv_num(t, p->row, "ceiling_measured_rps")
                            : NAN;
    line->at50 = p99_at(pts, n, 0.5 * p->tp);
    line->at90 = p99_at(pts, n, 0.9 * p->tp);
    return 0;
}

int summary_flag_counts(const struct csv_table *t, const char *spec, struct summary_flag *out,
                        int max)
{
    int n = 0;
    for (int r = 0; r < t->nrows; r++) {
        if (spec && strcmp(csv_get(t, r, "engine"), spec) != 0)
            continue;
        for (const char *p = csv_get(t, r, "flags"); *p; p += *p == ';') {
            size_t len = strcspn(p, ";");
            int k = 0;
            while (k < n && (strlen(out[k].word) != len || strncmp(out[k].word, p, len)))
                k++;
            if (k == n && n < max && len < sizeof(out[0].word)) {
                snprintf(out[n].word, sizeof(out[0].word), "%.*s", (int)len, p);
                out[n++].points = 0;
            }
            if (k < n)
                out[k].points++;
            p += len;
        }
    }
    return n;
}

void summary_p99_text(const struct summary_p99 *p, char *out, size_t len)
{
    if (isnan(p->p99))
        snprintf(out, len, "-");
    else if (isnan(p->lo))
        snprintf(out, len, "%.1f", p->p99);
    else
        snprintf(out, len, "%.1f [%.1f, %.1f]", p->p99, p->lo, p->hi);
}
