/* The answer report.html opens with: a few sentences that answer the
 * sweep's question for its workload, each with its interval or its flag.
 * Where the architectures tie (the closed-loop load where the most configs'
 * intervals overlap, unflagged points first) and which bound binds there;
 * where they part (report_part.c); and what no run could show (the flags).
 * Every number is summary.csv's, or the mean of a point's runs.csv rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "report_words.h"
#include "summary.h"

/* ---- where they tie ---- */

/* The closed-loop load where the most configs are level with the best one
 * there, weighed by the square of its throughput: six configs level at one
 * client say less than four at the most the machine serves, and six held
 * to 700 req/s by their clients less than four at the 920 the core allows.
 * With clean, points a check flagged are left out. Fills t's load, members
 * (n: 0 without two) and best row; sets t->shared when two configs ran any
 * closed-loop load. */
static void find_tie_in(const struct plot__report *rp, int clean, struct report__tie *t)
{
    const struct csv_table *s = &rp->summary;
    double best_score = 0;
    t->n = 0;
    for (int r0 = 0; r0 < s->nrows; r0++) {
        if (strcmp(csv_get(s, r0, "loop"), "closed") || csv_num(s, r0, "repeats") < 1)
            continue;
        double c = csv_num(s, r0, "clients");
        int best = -1, members[PLOT_MAX_ENGINES], n = 0, ran = 0, rows[PLOT_MAX_ENGINES];
        for (int e = 0; e < rp->f->n; e++) {
            int r = report__row_at(rp, e, "closed", c);
            ran += r >= 0;
            if (r >= 0 && clean && *csv_get(s, r, "flags"))
                r = -1;
            rows[e] = r;
            if (r >= 0 && (best < 0 ||
                           csv_num(s, r, "throughput_mean") > csv_num(s, best, "throughput_mean")))
                best = r;
        }
        t->shared |= ran >= 2;
        for (int e = 0; e < rp->f->n; e++)
            if (rows[e] >= 0 && report__level(s, rows[e], best))
                members[n++] = e;
        double tp = n ? csv_num(s, best, "throughput_mean") : 0, score = n * tp * tp;
        if (n >= 2 && score > best_score) {
            best_score = score;
            t->n = n, t->clients = c, t->best = best;
            memcpy(t->member, members, sizeof(int) * (size_t)n);
        }
    }
}

/* The answer's tie: on unflagged points, or where no load ties without
 * them, on flagged ones (t->flagged says it had to): the answer should not
 * rest on numbers the report says not to trust. */
static void find_tie(const struct plot__report *rp, struct report__tie *t)
{
    *t = (struct report__tie){.clients = -1, .best = -1};
    find_tie_in(rp, 1, t);
    t->flagged = t->n == 0;
    if (t->flagged)
        find_tie_in(rp, 0, t);
}

/* The least and the most of a few values (a NAN leaves it as it was). */
struct span {
    double lo, hi;
};

static void span_add(struct span *s, double v)
{
    s->lo = fmin(s->lo, v);
    s->hi = fmax(s->hi, v);
}

/* "The core is the limit": what the workload's CPU lets the cores serve,
 * and what they hold at the CPU the server was measured to spend (cpu, µs
 * a request; hold, req/s; served, % of hold). */
static void write_cores_limit(FILE *out, double c_ms, int cores, const struct span *cpu,
                              const struct span *hold, const struct span *served)
{
    fprintf(out,
            " The %s %s the limit: the workload's %.3g ms of CPU a request lets %d core%s serve "
            "%.0f req/s",
            cores == 1 ? "core" : "cores", cores == 1 ? "is" : "are", c_ms, cores,
            cores == 1 ? "" : "s", cores * 1000 / c_ms);
    if (isfinite(cpu->lo) && isfinite(hold->lo)) {
        fputs(", and at the ", out);
        report__write_range(out, cpu->lo, cpu->hi, "%.0f");
        fputs(" µs the server was measured to spend a request it holds ", out);
        report__write_range(out, hold->lo, hold->hi, "%.0f");
        fputs(" req/s, of which they serve ", out);
        report__write_range(out, served->lo, served->hi, "%.0f");
        fputs(" %", out);
    }
    fputs(".", out);
}

/* Why the tied configs serve what they serve: the bound they share at
 * this load, the cores' (cores / c) or the clients' (C / (c + w)). */
static void write_binding(const struct plot__report *rp, const int *tie, int n, double clients)
{
    const struct csv_table *s = &rp->summary;
    double c_ms = csv_num(&rp->f->runs, 0, "mean_cpu_ms");
    double w_ms = csv_num(&rp->f->runs, 0, "mean_wait_ms");
    int cores = plot__server_cores(rp->f->dir);
    struct span cpu = {INFINITY, -INFINITY}, hold = cpu, served = cpu, bound = cpu;
    for (int k = 0; k < n; k++) {
        int r = report__row_at(rp, tie[k], "closed", clients);
        double h = report__number(s, r, "ceiling_measured_rps");
        span_add(&bound, report__runs_mean(rp, r, PLOT_BOUND));
        span_add(&cpu, report__number(s, r, "cpu_per_request_us"));
        span_add(&hold, h);
        span_add(&served, 100 * csv_num(s, r, "throughput_mean") / h);
    }
    if (c_ms > 0 && bound.lo >= 0.999 * cores * 1000 / c_ms) {
        write_cores_limit(rp->out, c_ms, cores, &cpu, &hold, &served);
    } else if (c_ms + w_ms > 0 && bound.lo >= 0.999 * clients * 1000 / (c_ms + w_ms)) {
        fputs(" The clients are the limit: ", rp->out);
        report__write_clients(rp->out, clients);
        fprintf(rp->out,
                " with one request of %.3g ms each in flight %s at most %.0f req/s (Little's "
                "law).",
                c_ms + w_ms, clients == 1 ? "keeps" : "keep", clients * 1000 / (c_ms + w_ms));
    }
}

/* The configs outside the tie at its load, each with its own bound and its
 * flags: a flagged point is not counted in a tie while an unflagged one ties. */
static void write_below(const struct plot__report *rp, const int *tie, int n, double clients)
{
    int below[PLOT_MAX_ENGINES], nb = 0;
    for (int e = 0; e < rp->f->n; e++) {
        int in = 0, r = report__row_at(rp, e, "closed", clients);
        for (int k = 0; k < n; k++)
            in |= tie[k] == e;
        if (!in && r >= 0)
            below[nb++] = e;
    }
    for (int k = 0; k < nb; k++) {
        int r = report__row_at(rp, below[k], "closed", clients);
        double bound = report__runs_mean(rp, r, PLOT_BOUND);
        fputs(k ? "; " : " Apart from them, ", rp->out);
        report__write_name(rp->out, rp, below[k]);
        fputs(" serves ", rp->out);
        report__write_tp(rp->out, rp, r);
        if (bound > 0)
            fprintf(rp->out, " req/s of its bound of %.0f", bound);
        else
            fputs(" req/s", rp->out);
        if (*csv_get(&rp->summary, r, "flags")) { /* kept out of a tie for it, maybe */
            fputs(" (flagged ", rp->out);
            report__write_flag_list(rp->out, csv_get(&rp->summary, r, "flags"));
            fputs(")", rp->out);
        }
    }
    if (nb)
        fputs(".", rp->out);
}

static void write_tie(const struct plot__report *rp, const struct report__tie *t)
{
    FILE *out = rp->out;
    const struct csv_table *s = &rp->summary;
    double lo = INFINITY, hi = 0;
    int intervals = 1;
    if (!t->shared) /* no closed-loop load that two configs ran */
        return;
    if (t->n < 2) {
        fputs("<p><b>Where they tie.</b> Nowhere: at every closed-loop load the configs' "
              "throughputs differ beyond their intervals, or by more than 10 %.</p>\n",
              out);
        return;
    }
    fputs("<p><b>Where they tie.</b> At ", out);
    report__write_clients(out, t->clients);
    fputs(" ", out);
    for (int k = 0; k < t->n; k++) {
        int r = report__row_at(rp, t->member[k], "closed", t->clients);
        fputs(report__list_sep(k, t->n), out);
        report__write_name(out, rp, t->member[k]);
        lo = fmin(lo, csv_num(s, r, "throughput_mean"));
        hi = fmax(hi, csv_num(s, r, "throughput_mean"));
        intervals &= isfinite(report__half_width(rp, r));
    }
    fprintf(out, " serve ");
    report__write_range(out, lo, hi, "%.0f");
    fprintf(out, " req/s, within %.1f %% of each other", 100 * (hi - lo) / hi);
    fputs(intervals ? ", their 95 % intervals overlapping (the summary below gives each)"
                    : " (one repeat: no interval, so no claim of a difference)",
          out);
    fputs(t->flagged ? ", on points a check flagged, since no load ties without them." : ".", out);
    write_binding(rp, t->member, t->n, t->clients);
    write_below(rp, t->member, t->n, t->clients);
    fputs("</p>\n", out);
}

/* Each flag word the points raised, with how many and what it means. */
static void write_flags(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    struct summary_flag flags[16];
    int n = summary_flag_counts(s, NULL, flags, 16), flagged = 0;
    for (int r = 0; r < s->nrows; r++)
        flagged += *csv_get(s, r, "flags") != '\0';
    fputs("<p><b>What no run could show.</b> ", rp->out);
    if (!flagged) {
        fprintf(rp->out, "Nothing: every one of the %d points passed the sweep's checks.</p>\n",
                s->nrows);
        return;
    }
    fprintf(rp->out,
            "%d of the %d points %s flagged, and %s numbers are not to be taken as "
            "measured: ",
            flagged, s->nrows, flagged == 1 ? "is" : "are", flagged == 1 ? "its" : "their");
    for (int k = 0; k < n; k++)
        fprintf(rp->out, "%s<i>%s</i> on %d (%s)", k ? "; " : "", flags[k].word, flags[k].points,
                report__flag_meaning(flags[k].word));
    fputs(". Which points, under the details.</p>\n", rp->out);
}

void report__write_answer(const struct plot__report *rp)
{
    fputs("<section id=\"answer\">\n", rp->out);
    if (rp->f->n < 2) {
        fputs("<p><b>One config.</b> This sweep ran <b>", rp->out);
        report__html(rp->out, rp->f->n ? rp->f->labels[0] : "none");
        fputs("</b> alone: there is nothing to tie or part, and its peak is in the table "
              "below.</p>\n",
              rp->out);
        write_flags(rp);
        fputs("</section>\n", rp->out);
        return;
    }
    struct report__tie t;
    find_tie(rp, &t);
    write_tie(rp, &t);
    report__write_part(rp, &t);
    write_flags(rp);
    fputs("</section>\n", rp->out);
}
