/* "Where they part", the answer's second paragraph (report_words.h): at
 * the tie's load, the configs the same bound holds that fall short of it;
 * where the most was served, when the tie lies elsewhere; what the
 * database's connection budget binds; p99 at the highest offered rate the
 * configs share under their bounds; threads, memory and the clients
 * Little's law finds outside at the most clients. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "report_words.h"
#include "summary.h"

/* At the tie's load, the unflagged configs held by the same bound as the
 * tie but short of its best: beyond their intervals or by over TIE_SPREAD
 * (TIE_WITHOUT_INTERVAL with one repeat), each with the CPU it spent a
 * request (where a gap between core-bound configs shows). Nothing when the
 * tie itself rests on flagged points. */
static void write_short(const struct plot__report *rp, const struct report__tie *t)
{
    const struct csv_table *s = &rp->summary;
    int short_of[PLOT_MAX_ENGINES], n = 0;
    double bound = INFINITY;
    for (int k = 0; k < t->n; k++)
        bound = fmin(bound,
                     report__runs_mean(rp, report__row_at(rp, t->member[k], "closed", t->clients),
                                       PLOT_BOUND));
    for (int e = 0; e < rp->f->n && t->n >= 2 && !t->flagged; e++) {
        int in = 0, r = report__row_at(rp, e, "closed", t->clients);
        for (int k = 0; k < t->n; k++)
            in |= t->member[k] == e;
        if (!in && r >= 0 && !*csv_get(s, r, "flags") &&
            report__runs_mean(rp, r, PLOT_BOUND) >= 0.999 * bound &&
            csv_num(s, r, "throughput_mean") < csv_num(s, t->best, "throughput_mean"))
            short_of[n++] = r;
    }
    if (n == 0)
        return;
    double blo, bhi, cpu = report__number(s, t->best, "cpu_per_request_us");
    report__interval(s, t->best, "throughput_mean", "throughput_lo", "throughput_hi", &blo, &bhi);
    fputs(" At ", rp->out);
    report__write_clients(rp->out, t->clients);
    fputs(" <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, t->best, "engine"));
    fputs("</b> serves ", rp->out);
    report__write_tp(rp->out, rp, t->best);
    fputs(" req/s", rp->out);
    if (isfinite(cpu))
        fprintf(rp->out, " at %.0f µs of CPU a request", cpu);
    fputs(", more than ", rp->out);
    for (int k = 0; k < n; k++) {
        int r = short_of[k];
        double lo, hi, c = report__number(s, r, "cpu_per_request_us");
        report__interval(s, r, "throughput_mean", "throughput_lo", "throughput_hi", &lo, &hi);
        fputs(report__list_sep(k, n), rp->out);
        fputs("<b>", rp->out);
        report__write_label(rp->out, rp->f, csv_get(s, r, "engine"));
        fputs("</b> (", rp->out);
        report__write_tp(rp->out, rp, r);
        if (isfinite(c))
            fprintf(rp->out, " at %.0f µs", c);
        if (lo == hi || blo == bhi) /* one repeat: no interval */
            fprintf(rp->out, ", over %.0f %% less, one repeat", 100 * TIE_WITHOUT_INTERVAL);
        else
            fputs(hi < blo ? ", the intervals apart" : ", over 10 % less", rp->out);
        fputs(")", rp->out);
    }
    fputs(".", rp->out);
}

/* Where the most throughput was served, when the tie lies elsewhere (at
 * a load the clients bound): the most and the least served there, unless
 * level. */
static void write_spread(const struct plot__report *rp, double tie_clients)
{
    const struct csv_table *s = &rp->summary;
    int best = -1, worst = -1;
    for (int r = 0; r < s->nrows; r++)
        if (!strcmp(csv_get(s, r, "loop"), "closed") && csv_num(s, r, "repeats") >= 1 &&
            (best < 0 || csv_num(s, r, "throughput_mean") > csv_num(s, best, "throughput_mean")))
            best = r;
    if (best < 0 || csv_num(s, best, "clients") == tie_clients)
        return;
    for (int e = 0; e < rp->f->n; e++) {
        int r = report__row_at(rp, e, "closed", csv_num(s, best, "clients"));
        if (r >= 0 &&
            (worst < 0 || csv_num(s, r, "throughput_mean") < csv_num(s, worst, "throughput_mean")))
            worst = r;
    }
    if (worst == best || report__level(s, best, worst))
        return;
    fputs(" At ", rp->out);
    report__write_clients(rp->out, csv_num(s, best, "clients"));
    fputs(" <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, best, "engine"));
    fputs("</b> serves ", rp->out);
    report__write_tp(rp->out, rp, best);
    fputs(" req/s and <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, worst, "engine"));
    fputs("</b> ", rp->out);
    report__write_tp(rp->out, rp, worst);
    double bound = report__runs_mean(rp, worst, PLOT_BOUND), blo, bhi, wlo, whi;
    if (bound > 0)
        fprintf(rp->out, ", its bound %.0f", bound);
    report__interval(s, best, "throughput_mean", "throughput_lo", "throughput_hi", &blo, &bhi);
    report__interval(s, worst, "throughput_mean", "throughput_lo", "throughput_hi", &wlo, &whi);
    fputs(blo <= whi ? ": their intervals overlap, too wide for these runs to tell them apart."
                     : ".",
          rp->out);
}

/* Config e's connection budget on PostgreSQL (its runs' db_connections),
 * 0 on overlap db or in a folder from before it. */
static double budget_of(const struct plot__report *rp, int e)
{
    const struct csv_table *runs = &rp->f->runs;
    for (int r = 0; r < runs->nrows && csv_col(runs, "db_connections") >= 0; r++)
        if (!strcmp(csv_get(runs, r, "engine"), rp->f->engines[e]))
            return csv_num(runs, r, "db_connections");
    return 0;
}

/* On PostgreSQL: the configs whose connection budget binds (their ceiling
 * under the cores'), each with its bound and the most it served in closed
 * loop, then those the cores bind instead. */
static void write_budget(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    double c_ms = csv_num(&rp->f->runs, 0, "mean_cpu_ms");
    double w_ms = csv_num(&rp->f->runs, 0, "mean_wait_ms");
    double cores = c_ms > 0 ? plot__server_cores(rp->f->dir) * 1000 / c_ms : INFINITY;
    int cored[PLOT_MAX_ENGINES], ncored = 0, held = 0;
    for (int e = 0; e < rp->f->n; e++) {
        double budget = budget_of(rp, e), ceiling = plot__ceiling(&rp->f->runs, rp->f->engines[e]);
        int best = -1;
        for (int r = 0; r < s->nrows; r++)
            if (!strcmp(csv_get(s, r, "engine"), rp->f->engines[e]) &&
                !strcmp(csv_get(s, r, "loop"), "closed") && csv_num(s, r, "repeats") >= 1 &&
                (best < 0 ||
                 csv_num(s, r, "throughput_mean") > csv_num(s, best, "throughput_mean")))
                best = r;
        struct bench_engine en;
        char err[256];
        if (!(budget > 0) || !(ceiling > 0) || best < 0 ||
            bench_parse_engine(rp->f->engines[e], &en, err, sizeof(err)) < 0)
            continue;
        int pool = en.kind == BENCH_POOL;
        double by_budget = budget * 1000 / (pool ? c_ms + w_ms : w_ms);
        if (fabs(ceiling - cores) <= 0.001 * cores && by_budget >= cores) {
            cored[ncored++] = e;
            continue;
        }
        if (!(fabs(ceiling - by_budget) <= 0.001 * by_budget))
            continue; /* its workers bind, not its connections */
        fputs(held++ ? "; " : " On PostgreSQL the connection budget binds ", rp->out);
        report__write_name(rp->out, rp, e);
        fprintf(rp->out, " (%.0f connection%s, %s: %.0f req/s; it served ", budget,
                budget == 1 ? "" : "s",
                pool ? "each held through a request, C / (c + w)"
                     : "each held only while a query waits, C / w",
                ceiling);
        report__write_tp(rp->out, rp, best);
        fputs(")", rp->out);
    }
    for (int k = 0; k < ncored; k++) {
        fputs(k      ? report__list_sep(k, ncored)
              : held ? "; the cores bind "
                     : " On PostgreSQL the cores "
                       "bind ",
              rp->out);
        report__write_name(rp->out, rp, cored[k]);
    }
    if (ncored)
        fprintf(rp->out, " instead (%.0f req/s)", cores);
    if (held || ncored)
        fputs(".", rp->out);
}

/* The highest open-loop rate at which two configs or more ran under
 * UNDER_BOUND of their ceilings: p99 there, lowest against highest. */
static void write_latency(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    double rate = 0;
    int low = -1, high = -1;
    for (int r0 = 0; r0 < s->nrows; r0++) {
        double x = csv_num(s, r0, "rate");
        if (strcmp(csv_get(s, r0, "loop"), "open") || x <= rate)
            continue;
        int n = 0, lo = -1, hi = -1;
        for (int e = 0; e < rp->f->n; e++) {
            int r = report__row_at(rp, e, "open", x);
            if (r < 0 || !*csv_get(s, r, "p99_median") ||
                x > UNDER_BOUND * plot__ceiling(&rp->f->runs, rp->f->engines[e]))
                continue;
            n++;
            if (lo < 0 || csv_num(s, r, "p99_median") < csv_num(s, lo, "p99_median"))
                lo = r;
            if (hi < 0 || csv_num(s, r, "p99_median") > csv_num(s, hi, "p99_median"))
                hi = r;
        }
        if (n >= 2)
            rate = x, low = lo, high = hi;
    }
    if (low < 0)
        return;
    double llo, lhi, hlo, hhi;
    report__interval(s, low, "p99_median", "p99_lo", "p99_hi", &llo, &lhi);
    report__interval(s, high, "p99_median", "p99_lo", "p99_hi", &hlo, &hhi);
    fprintf(rp->out, " At %.0f req/s offered, under each config's bound, p99 runs from ", rate);
    report__write_p99(rp->out, s, low);
    fputs(" ms (", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, low, "engine"));
    fputs(") to ", rp->out);
    report__write_p99(rp->out, s, high);
    fputs(" ms (", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, high, "engine"));
    fputs(lhi < hlo ? "): apart beyond their intervals."
                    : "): their intervals overlap, so these runs show no difference in latency "
                      "at load.",
          rp->out);
}

/* At the most clients of the closed loop: the most threads against the
 * fewest, with memory, and the configs that kept clients outside. */
static void write_many_clients(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    double clients = 0;
    for (int r = 0; r < s->nrows; r++)
        if (!strcmp(csv_get(s, r, "loop"), "closed") && csv_num(s, r, "repeats") >= 1)
            clients = fmax(clients, csv_num(s, r, "clients"));
    int most = -1, fewest = -1;
    for (int e = 0; e < rp->f->n; e++) {
        int r = report__row_at(rp, e, "closed", clients);
        double t = r >= 0 ? report__runs_mean(rp, r, PLOT_THREADS) : NAN;
        if (!(t > 0))
            continue;
        if (most < 0 || t > report__runs_mean(rp, most, PLOT_THREADS))
            most = r;
        if (fewest < 0 || t < report__runs_mean(rp, fewest, PLOT_THREADS))
            fewest = r;
    }
    if (most < 0 || report__runs_mean(rp, most, PLOT_THREADS) <
                        MANY_THREADS * report__runs_mean(rp, fewest, PLOT_THREADS))
        return;
    fputs(" At ", rp->out);
    report__write_clients(rp->out, clients);
    fputs(" <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, most, "engine"));
    fprintf(rp->out, "</b> ran %.0f threads and %.1f MiB against the <b>",
            report__runs_mean(rp, most, PLOT_THREADS),
            report__runs_mean(rp, most, PLOT_RSS_KIB) / 1024);
    report__write_label(rp->out, rp->f, csv_get(s, fewest, "engine"));
    double few = report__runs_mean(rp, fewest, PLOT_THREADS);
    fprintf(rp->out, "</b>'s %.0f thread%s and %.1f MiB (means of the repeats' peaks)", few,
            few < 1.5 ? "" : "s", report__runs_mean(rp, fewest, PLOT_RSS_KIB) / 1024);
    for (int e = 0; e < rp->f->n; e++) {
        int r = report__row_at(rp, e, "closed", clients);
        double ratio = r >= 0 ? report__number(s, r, "littles_ratio") : NAN;
        if (!(ratio < OUTSIDE))
            continue;
        fputs("; ", rp->out);
        report__write_name(rp->out, rp, e);
        fprintf(rp->out,
                " kept %.0f %% of its clients outside (Little's law finds %.2f of them "
                "in the system",
                100 * (1 - ratio), ratio);
        if (*csv_get(s, r, "flags")) {
            fputs("; flagged ", rp->out);
            report__write_flag_list(rp->out, csv_get(s, r, "flags"));
        }
        fputs(")", rp->out);
    }
    fputs(".", rp->out);
}

/* ---- what no run could show ---- */

void report__write_part(const struct plot__report *rp, const struct report__tie *t)
{
    fputs("<p><b>Where they part.</b>", rp->out);
    long at = ftell(rp->out);
    write_short(rp, t);
    write_spread(rp, t->n >= 2 ? t->clients : -1);
    write_budget(rp);
    write_latency(rp);
    write_many_clients(rp);
    if (ftell(rp->out) == at)
        fputs(" Nowhere these runs measured: no load point separates them.", rp->out);
    fputs("</p>\n", rp->out);
}
