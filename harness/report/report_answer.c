/* The answer report.html opens with: a few sentences that answer the
 * sweep's question for its workload, each with its interval or its flag.
 * Where the architectures tie (the closed-loop load where the most configs'
 * intervals overlap) and which bound binds there; where they part (p99 at
 * the highest offered rate they share under their bounds; threads, memory
 * and the clients Little's law finds outside at the most clients); and what
 * no run could show (the flags). Every number is summary.csv's, or the mean
 * of a point's runs.csv rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "summary.h"

#define TIE_WITHOUT_INTERVAL 0.02 /* one repeat: means this close are said to be level */
#define TIE_SPREAD           0.1  /* and with intervals, means no further apart than this */
#define UNDER_BOUND          0.95 /* a rate this far under a config's ceiling is not saturated */
#define OUTSIDE              0.9  /* Little's ratio under this: clients kept outside */
#define MANY_THREADS         2    /* "ran N threads against M" when N is this many times M */

/* ---- reading summary.csv ---- */

/* Config e's row of summary.csv at a load (clients in a closed loop, the
 * offered rate in an open one), with a finished repeat; -1 if none. */
static int row_at(const struct plot__report *rp, int e, const char *loop, double load)
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
static void interval(const struct csv_table *s, int r, const char *est, const char *lo,
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
static int level(const struct csv_table *s, int a_row, int b_row)
{
    double alo, ahi, blo, bhi;
    interval(s, a_row, "throughput_mean", "throughput_lo", "throughput_hi", &alo, &ahi);
    interval(s, b_row, "throughput_mean", "throughput_lo", "throughput_hi", &blo, &bhi);
    if (alo == ahi || blo == bhi)
        return fabs(ahi - bhi) <= TIE_WITHOUT_INTERVAL * fmax(ahi, bhi);
    double a = csv_num(s, a_row, "throughput_mean"), b = csv_num(s, b_row, "throughput_mean");
    return alo <= bhi && blo <= ahi && fabs(a - b) <= TIE_SPREAD * fmax(a, b);
}

/* "931 ± 14", or "903" without an interval. */
static void write_tp(FILE *out, const struct plot__report *rp, int r)
{
    double hw = report__half_width(rp, r);
    fprintf(out, "%.0f", csv_num(&rp->summary, r, "throughput_mean"));
    if (isfinite(hw))
        fprintf(out, hw < 1 ? " ± %.1f" : " ± %.0f", hw);
}

static void write_name(FILE *out, const struct plot__report *rp, int e)
{
    fputs("<b>", out);
    report__html(out, rp->f->labels[e]);
    fputs("</b>", out);
}

/* ", " between the items of a list of n, " and " before its last. */
static const char *list_sep(int k, int n)
{
    return k == 0 ? "" : k == n - 1 ? " and " : ", ";
}

/* The values of a list of configs as "903 to 957" or "903" when alike. */
static void write_range(FILE *out, double lo, double hi, const char *fmt)
{
    char a[32], b[32];
    snprintf(a, sizeof(a), fmt, lo);
    snprintf(b, sizeof(b), fmt, hi);
    fprintf(out, strcmp(a, b) ? "%s to %s" : "%s", a, b);
}

/* "1 client", "64 clients", "1,024 clients". */
static void write_clients(FILE *out, double clients)
{
    long c = lround(clients);
    if (c >= 1000)
        fprintf(out, "%ld,%03ld clients", c / 1000, c % 1000);
    else
        fprintf(out, "%ld client%s", c, c == 1 ? "" : "s");
}

/* ---- where they tie ---- */

/* The closed-loop load where the most configs are level with the best one
 * there, weighed by the square of its throughput: six configs level at one
 * client say less than four at the most the machine serves, and six held
 * to 700 req/s by their clients less than four at the 920 the core allows.
 * Points a check flagged count only where no load has a tie without them:
 * the answer should not rest on numbers the report says not to trust
 * (*flagged says it had to). Its members in tie[], their number returned
 * (0 without two). */
static int find_tie_in(const struct plot__report *rp, int clean, double *clients, int *tie,
                       int *shared)
{
    const struct csv_table *s = &rp->summary;
    int most = 0;
    double best_score = 0;
    for (int r0 = 0; r0 < s->nrows; r0++) {
        if (strcmp(csv_get(s, r0, "loop"), "closed") || csv_num(s, r0, "repeats") < 1)
            continue;
        double c = csv_num(s, r0, "clients");
        int best = -1, members[PLOT_MAX_ENGINES], n = 0, ran = 0, rows[PLOT_MAX_ENGINES];
        for (int e = 0; e < rp->f->n; e++) {
            int r = row_at(rp, e, "closed", c);
            ran += r >= 0;
            if (r >= 0 && clean && *csv_get(s, r, "flags"))
                r = -1;
            rows[e] = r;
            if (r >= 0 && (best < 0 ||
                           csv_num(s, r, "throughput_mean") > csv_num(s, best, "throughput_mean")))
                best = r;
        }
        *shared |= ran >= 2;
        for (int e = 0; e < rp->f->n; e++)
            if (rows[e] >= 0 && level(s, rows[e], best))
                members[n++] = e;
        double tp = n ? csv_num(s, best, "throughput_mean") : 0, score = n * tp * tp;
        if (n >= 2 && score > best_score) {
            most = n, best_score = score, *clients = c;
            memcpy(tie, members, sizeof(int) * (size_t)n);
        }
    }
    return most;
}

static int find_tie(const struct plot__report *rp, double *clients, int *tie, int *shared,
                    int *flagged)
{
    int n = find_tie_in(rp, 1, clients, tie, shared);
    *flagged = n < 2;
    return n >= 2 ? n : find_tie_in(rp, 0, clients, tie, shared);
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
        write_range(out, cpu->lo, cpu->hi, "%.0f");
        fputs(" µs the server was measured to spend a request it holds ", out);
        write_range(out, hold->lo, hold->hi, "%.0f");
        fputs(" req/s, of which they serve ", out);
        write_range(out, served->lo, served->hi, "%.0f");
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
        int r = row_at(rp, tie[k], "closed", clients);
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
        write_clients(rp->out, clients);
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
        int in = 0, r = row_at(rp, e, "closed", clients);
        for (int k = 0; k < n; k++)
            in |= tie[k] == e;
        if (!in && r >= 0)
            below[nb++] = e;
    }
    for (int k = 0; k < nb; k++) {
        int r = row_at(rp, below[k], "closed", clients);
        double bound = report__runs_mean(rp, r, PLOT_BOUND);
        fputs(k ? "; " : " Apart from them, ", rp->out);
        write_name(rp->out, rp, below[k]);
        fputs(" serves ", rp->out);
        write_tp(rp->out, rp, r);
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

static double write_tie(const struct plot__report *rp)
{
    FILE *out = rp->out;
    const struct csv_table *s = &rp->summary;
    int tie[PLOT_MAX_ENGINES];
    double clients = -1, lo = INFINITY, hi = 0;
    int shared = 0, flagged = 0, n = find_tie(rp, &clients, tie, &shared, &flagged), intervals = 1;
    if (!shared) /* no closed-loop load that two configs ran */
        return -1;
    if (n < 2) {
        fputs("<p><b>Where they tie.</b> Nowhere: at every closed-loop load the configs' "
              "throughputs differ beyond their intervals, or by more than 10 %.</p>\n",
              out);
        return -1;
    }
    fputs("<p><b>Where they tie.</b> At ", out);
    write_clients(out, clients);
    fputs(" ", out);
    for (int k = 0; k < n; k++) {
        int r = row_at(rp, tie[k], "closed", clients);
        fputs(list_sep(k, n), out);
        write_name(out, rp, tie[k]);
        lo = fmin(lo, csv_num(s, r, "throughput_mean"));
        hi = fmax(hi, csv_num(s, r, "throughput_mean"));
        intervals &= isfinite(report__half_width(rp, r));
    }
    fprintf(out, " serve ");
    write_range(out, lo, hi, "%.0f");
    fprintf(out, " req/s, within %.1f %% of each other", 100 * (hi - lo) / hi);
    fputs(intervals ? ", their 95 % intervals overlapping (the summary below gives each)"
                    : " (one repeat: no interval, so no claim of a difference)",
          out);
    fputs(flagged ? ", on points a check flagged, since no load ties without them." : ".", out);
    write_binding(rp, tie, n, clients);
    write_below(rp, tie, n, clients);
    fputs("</p>\n", out);
    return clients;
}

/* ---- where they part ---- */

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
        int r = row_at(rp, e, "closed", csv_num(s, best, "clients"));
        if (r >= 0 &&
            (worst < 0 || csv_num(s, r, "throughput_mean") < csv_num(s, worst, "throughput_mean")))
            worst = r;
    }
    if (worst == best || level(s, best, worst))
        return;
    fputs(" At ", rp->out);
    write_clients(rp->out, csv_num(s, best, "clients"));
    fputs(" <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, best, "engine"));
    fputs("</b> serves ", rp->out);
    write_tp(rp->out, rp, best);
    fputs(" req/s and <b>", rp->out);
    report__write_label(rp->out, rp->f, csv_get(s, worst, "engine"));
    fputs("</b> ", rp->out);
    write_tp(rp->out, rp, worst);
    double bound = report__runs_mean(rp, worst, PLOT_BOUND), blo, bhi, wlo, whi;
    if (bound > 0)
        fprintf(rp->out, ", its bound %.0f", bound);
    interval(s, best, "throughput_mean", "throughput_lo", "throughput_hi", &blo, &bhi);
    interval(s, worst, "throughput_mean", "throughput_lo", "throughput_hi", &wlo, &whi);
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
        write_name(rp->out, rp, e);
        fprintf(rp->out, " (%.0f connection%s, %s: %.0f req/s; it served ", budget,
                budget == 1 ? "" : "s",
                pool ? "each held through a request, C / (c + w)"
                     : "each held only while a query waits, C / w",
                ceiling);
        write_tp(rp->out, rp, best);
        fputs(")", rp->out);
    }
    for (int k = 0; k < ncored; k++) {
        fputs(k      ? list_sep(k, ncored)
              : held ? "; the cores bind "
                     : " On PostgreSQL the cores "
                       "bind ",
              rp->out);
        write_name(rp->out, rp, cored[k]);
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
            int r = row_at(rp, e, "open", x);
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
    interval(s, low, "p99_median", "p99_lo", "p99_hi", &llo, &lhi);
    interval(s, high, "p99_median", "p99_lo", "p99_hi", &hlo, &hhi);
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
        int r = row_at(rp, e, "closed", clients);
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
    write_clients(rp->out, clients);
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
        int r = row_at(rp, e, "closed", clients);
        double ratio = r >= 0 ? report__number(s, r, "littles_ratio") : NAN;
        if (!(ratio < OUTSIDE))
            continue;
        fputs("; ", rp->out);
        write_name(rp->out, rp, e);
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
    double tie_clients = write_tie(rp);
    fputs("<p><b>Where they part.</b>", rp->out);
    long at = ftell(rp->out);
    write_spread(rp, tie_clients);
    write_budget(rp);
    write_latency(rp);
    write_many_clients(rp);
    if (ftell(rp->out) == at)
        fputs(" Nowhere these runs measured: no load point separates them.", rp->out);
    fputs("</p>\n", rp->out);
    write_flags(rp);
    fputs("</section>\n", rp->out);
}
