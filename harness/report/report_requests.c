/* report.html's "Latency by request type", from requests.csv: when the
 * workload mixes two or more request types, each type's p99 per config and
 * load point (the median of the repeats' p99s with summary.csv's
 * order-statistic interval), and, for the most frequent type, which config
 * serves it with the lowest p99 at each load point the configs share. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "stats.h"

#define REQ_MAX_TYPES 16 /* columns of the table: a workload names a handful */
#define REQ_NAME_LEN  64 /* a request type's name, as the workload spells it */
#define REQ_MAX_RUNS  64 /* repeats of one point read: suites run at most 20 */

/* The request types in the workload's order (each run writes them so), with
 * their answers over the whole sweep: the most answered is the frequent one. */
struct req_types {
    char name[REQ_MAX_TYPES][REQ_NAME_LEN];
    double answers[REQ_MAX_TYPES];
    int n, frequent;
};

/* A load point's p99 for one type over its repeats. */
struct req_p99 {
    struct stats_interval iv;
    int repeats; /* 0: no repeat answered a request of the type */
};

/* Timeline runs are a picture of a few requests, capacity probes a search:
 * neither is a load point. */
static int is_load_point(const struct csv_table *t, int r)
{
    const char *loop = csv_get(t, r, "loop");
    return !strcmp(loop, "open") || !strcmp(loop, "closed");
}

static void collect_types(const struct csv_table *t, struct req_types *ty)
{
    ty->n = 0;
    ty->frequent = 0;
    for (int r = 0; r < t->nrows; r++) {
        const char *name = csv_get(t, r, "request");
        int k = 0;
        while (k < ty->n && strcmp(ty->name[k], name))
            k++;
        if (k == ty->n && ty->n < REQ_MAX_TYPES && *name) {
            snprintf(ty->name[k], REQ_NAME_LEN, "%s", name);
            ty->answers[ty->n++] = 0;
        }
        if (k < ty->n)
            ty->answers[k] += csv_num(t, r, "requests");
    }
    for (int k = 1; k < ty->n; k++)
        if (ty->answers[k] > ty->answers[ty->frequent])
            ty->frequent = k;
}

/* Whether rows a and b are runs of one load point; with_engine 0 compares
 * the load alone (the same point of different configs). */
static int same_point(const struct csv_table *t, int a, int b, int with_engine)
{
    static const char *const keys[] = {"engine", "loop", "clients", "rate"};
    for (size_t i = with_engine ? 0 : 1; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(csv_get(t, a, keys[i]), csv_get(t, b, keys[i])))
            return 0;
    return 1;
}

/* Whether row r is the first of its point (with or without its engine). */
static int first_of_point(const struct csv_table *t, int r, int with_engine)
{
    for (int q = 0; q < r; q++)
        if (is_load_point(t, q) && same_point(t, q, r, with_engine))
            return 0;
    return 1;
}

/* Type k's p99 at the point of row at, in config engine. */
static struct req_p99 p99_of(const struct csv_table *t, int at, const char *engine,
                             const char *type)
{
    double x[REQ_MAX_RUNS];
    struct req_p99 out = {.repeats = 0};
    for (int r = 0; r < t->nrows && out.repeats < REQ_MAX_RUNS; r++)
        if (is_load_point(t, r) && same_point(t, r, at, 0) &&
            !strcmp(csv_get(t, r, "engine"), engine) && !strcmp(csv_get(t, r, "request"), type) &&
            *csv_get(t, r, "p99_ms"))
            x[out.repeats++] = csv_num(t, r, "p99_ms");
    if (out.repeats && stats_median_interval(x, out.repeats, &out.iv) < 0)
        out.repeats = 0;
    return out;
}

/* "12.3 ms [11.8, 13.0]", or "12.3 ms" from a single repeat. */
static void write_p99(FILE *out, const struct req_p99 *p)
{
    fprintf(out, "%.1f ms", p->iv.estimate);
    if (p->repeats > 1)
        fprintf(out, " [%.1f, %.1f]", p->iv.lo, p->iv.hi);
}

/* "at 216 req/s offered" or "with 16 clients". */
static void write_load(FILE *out, const struct csv_table *t, int r)
{
    if (!strcmp(csv_get(t, r, "loop"), "open"))
        fprintf(out, "at %.0f req/s offered", csv_num(t, r, "rate"));
    else
        fprintf(out, "with %.0f clients", csv_num(t, r, "clients"));
}

/* The comparison's words: a claim, with the difference and the ratio of the
 * medians, only when both have an interval and the intervals do not overlap. */
static void write_verdict(FILE *out, const struct plot__folder *f, const struct req_p99 *p,
                          int best, int next)
{
    int few = p[best].repeats < 2 || p[next].repeats < 2;
    int claim = !few && p[best].iv.hi < p[next].iv.lo;
    fputs(claim ? "lowest p99 on <b>"
          : few ? "no claim between <b>"
                : "no significant difference between <b>",
          out);
    report__html(out, f->labels[best]);
    fputs("</b>, ", out);
    write_p99(out, &p[best]);
    fputs(claim ? ", against <b>" : ", and <b>", out);
    report__html(out, f->labels[next]);
    fputs("</b>, ", out);
    write_p99(out, &p[next]);
    if (few) {
        fputs(" (too few repeats for an interval)", out);
        return;
    }
    if (claim && p[best].iv.estimate > 0)
        fprintf(out, ": %.1f ms lower, a factor of %.1f", p[next].iv.estimate - p[best].iv.estimate,
                p[next].iv.estimate / p[best].iv.estimate);
    fprintf(out, " (medians of %d and %d repeats, intervals of %.0f %% coverage)", p[best].repeats,
            p[next].repeats, 100 * fmin(p[best].iv.confidence, p[next].iv.confidence));
}

/* At row at's point: the config with the lowest median p99 of type against
 * the runner-up. Nothing when fewer than two configs answered it there. */
static void write_best(FILE *out, const struct plot__folder *f, const struct csv_table *t, int at,
                       const char *type)
{
    struct req_p99 p[PLOT_MAX_ENGINES];
    int best = -1, next = -1;
    for (int e = 0; e < f->n; e++) {
        p[e] = p99_of(t, at, f->engines[e], type);
        if (!p[e].repeats)
            continue;
        if (best < 0 || p[e].iv.estimate < p[best].iv.estimate)
            next = best, best = e;
        else if (next < 0 || p[e].iv.estimate < p[next].iv.estimate)
            next = e;
    }
    if (next < 0)
        return;
    fputs("<li>", out);
    report__html(out, type);
    fputs(" requests ", out);
    write_load(out, t, at);
    fputs(": ", out);
    write_verdict(out, f, p, best, next);
    fputs(".</li>\n", out);
}

static void write_table(FILE *out, const struct plot__folder *f, const struct csv_table *t,
                        const struct req_types *ty)
{
    fputs("<table>\n<tr><th>config</th><th>loop</th><th>clients</th><th>req/s offered</th>", out);
    for (int k = 0; k < ty->n; k++) {
        fputs("<th>", out);
        report__html(out, ty->name[k]);
        fputs(" p99 ms</th>", out);
    }
    fputs("</tr>\n", out);
    for (int e = 0; e < f->n; e++)
        for (int r = 0; r < t->nrows; r++) {
            if (!is_load_point(t, r) || strcmp(csv_get(t, r, "engine"), f->engines[e]) ||
                !first_of_point(t, r, 1))
                continue;
            int open = !strcmp(csv_get(t, r, "loop"), "open");
            fputs("<tr><td>", out);
            report__html(out, f->labels[e]);
            fprintf(out, "</td><td>%s</td><td>", open ? "open" : "closed");
            fprintf(out, open ? "-</td><td>%.0f</td>" : "%.0f</td><td>-</td>",
                    csv_num(t, r, open ? "rate" : "clients"));
            for (int k = 0; k < ty->n; k++) {
                struct req_p99 p = p99_of(t, r, f->engines[e], ty->name[k]);
                fputs("<td>", out);
                if (p.repeats)
                    write_p99(out, &p);
                else
                    fputs("-", out);
                fputs("</td>", out);
            }
            fputs("</tr>\n", out);
        }
    fputs("</table>\n", out);
}

void report__write_requests(const struct plot__report *rp)
{
    char path[PATH_MAX + 32];
    struct csv_table t;
    struct req_types ty;
    FILE *out = rp->out;
    snprintf(path, sizeof(path), "%s/requests.csv", rp->f->dir);
    if (csv_load(path, &t) == 0)
        collect_types(&t, &ty);
    else
        ty.n = 0; /* a folder from before requests.csv, or a run without it */
    if (ty.n >= 2) {
        fputs("<h2>Latency by request type</h2>\n<p>Each request type's p99 at each load point, "
              "counted like the whole's (from each request's intended send time): the median of "
              "the repeats' p99s [with the interval between two of them]. Where configs share a "
              "load point, the most frequent type, ",
              out);
        report__html(out, ty.name[ty.frequent]);
        fputs(", is compared: a lower p99 is claimed only when the intervals do not overlap."
              "</p>\n<ul class=\"findings\">\n",
              out);
        for (int r = 0; r < t.nrows; r++)
            if (is_load_point(&t, r) && first_of_point(&t, r, 0))
                write_best(out, rp->f, &t, r, ty.name[ty.frequent]);
        fputs("</ul>\n", out);
        write_table(out, rp->f, &t, &ty);
    }
    csv_free(&t);
}
