/* report.html: a results folder on one self-contained page (nothing loaded
 * from anywhere, no script). The answer first (report_answer.c), then the
 * terminal's table (report_table.c), the charts' SVGs inline, each under a
 * line on what to look at, then the details, folded where long: the
 * findings, each claim with its 95 % interval (report_findings.c), the
 * flagged points and the failed runs, the machine, and each config's load
 * points (report_points.c). The numbers are summary.csv's, the repeats
 * behind them runs.csv's. */
#define _GNU_SOURCE
#include "plot.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "proc.h"
#include "summary.h"

void report__html(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

void report__write_label(FILE *out, const struct plot__folder *f, const char *spec)
{
    char label[BENCH_LABEL_LEN];
    const char *known = plot__label(f, spec);
    if (known == spec)
        bench_spec_label(spec, label, sizeof(label));
    report__html(out, known == spec ? label : known);
}

/* ---- reading a point ---- */

const struct summary_point *report__repeats(const struct plot__report *rp, int row)
{
    const struct csv_table *s = &rp->summary;
    int i = summary_find(&rp->set, csv_get(s, row, "engine"), csv_get(s, row, "loop"),
                         csv_num(s, row, "clients"), csv_num(s, row, "rate"));
    return i >= 0 ? &rp->set.points[i] : NULL;
}

double report__runs_mean(const struct plot__report *rp, int row, enum plot__measure m)
{
    const struct summary_point *p = report__repeats(rp, row);
    return p ? rp->means[p - rp->set.points][m] : NAN;
}

/* Fills rp->means in one pass over runs.csv: each ok row adds to its
 * point's sums (a point's key is checked by summary_read, so every ok row
 * has one). 0 or -ENOMEM. */
static int average_runs(struct plot__report *rp)
{
    static const char *const columns[PLOT_NMEASURES] = {
        "bound_rps",       "p50_ms",   "peak_rss_kib",      "threads",
        "workload_cpu_us", "requests", "invol_ctxsw_per_s", "vol_ctxsw_per_s"};
    const struct csv_table *runs = &rp->set.table;
    int n = rp->set.npoints, *count = calloc((size_t)n + 1, sizeof(int));
    rp->means = calloc((size_t)n + 1, sizeof(*rp->means));
    if (!count || !rp->means) {
        free(count);
        return -ENOMEM;
    }
    for (int r = 0; r < runs->nrows; r++) {
        int i = summary_find(&rp->set, csv_get(runs, r, "engine"), csv_get(runs, r, "loop"),
                             csv_num(runs, r, "clients"), csv_num(runs, r, "rate"));
        if (i < 0 || strcmp(csv_get(runs, r, "status"), "ok"))
            continue;
        for (int m = 0; m < PLOT_NMEASURES; m++)
            rp->means[i][m] += csv_num(runs, r, columns[m]);
        count[i]++;
    }
    for (int i = 0; i < n; i++)
        for (int m = 0; m < PLOT_NMEASURES; m++)
            rp->means[i][m] = count[i] ? rp->means[i][m] / count[i] : NAN;
    free(count);
    return 0;
}

double report__half_width(const struct plot__report *rp, int row)
{
    const struct csv_table *s = &rp->summary;
    if (!*csv_get(s, row, "throughput_lo") || !*csv_get(s, row, "throughput_hi"))
        return NAN;
    return (csv_num(s, row, "throughput_hi") - csv_num(s, row, "throughput_lo")) / 2;
}

int report__peak_row(const struct plot__report *rp, const char *engine)
{
    const struct csv_table *s = &rp->summary;
    int best = -1;
    for (int r = 0; r < s->nrows; r++) {
        if (strcmp(csv_get(s, r, "engine"), engine) || strcmp(csv_get(s, r, "loop"), "closed") ||
            csv_num(s, r, "repeats") < 1)
            continue;
        if (best < 0 || csv_num(s, r, "throughput_mean") > csv_num(s, best, "throughput_mean"))
            best = r;
    }
    return best;
}

/* ---- flagged points and failed runs ---- */

/* What each flag of summary.csv says about a point, in a line, and in a
 * few words for the answer. */
static const struct {
    const char *word, *meaning, *brief;
} flag_meanings[] = {
    {"littles-law",
     "throughput × mean latency is far from the requests the clients keep in flight (Little's "
     "law): the run measured something other than its load",
     "fewer requests in flight than clients"},
    {"errors", "some requests of the window failed", "requests failed"},
    {"short-window", "the measured window was too short for its numbers to settle",
     "a window too short to settle"},
    {"generator-bound", "the load generator was at its own limit: the server may hold more",
     "the load generator at its limit"},
    {"noisy", "the repeats disagree: the throughput interval's half-width is over 10 % of the mean",
     "repeats that disagree by over 10 %"},
    {"unsteady", "no steady state: the run's rate or latency still drifted within the window",
     "no steady state"},
    {"failed", "a repeat failed (see the failed runs) and is left out of every number",
     "a repeat failed"},
    {"few-samples",
     "a run's p99 rests on fewer than the 368 answers a 95 % interval needs to bound it: it is "
     "their maximum, or near it, not an estimate of the 99th percentile",
     "too few answers for a p99"},
    {"missing-clients",
     "fewer clients took part than asked: the run measured a smaller load than its row says",
     "fewer clients took part than asked"},
    {"db-budget",
     "PostgreSQL held other than the config's connection budget when the window closed: the "
     "server opened fewer connections than its budget, or something else used the role, so the "
     "run measured another system than its row says",
     "a connection budget not held"},
    {"db-calls",
     "PostgreSQL ran other than the queries the answered requests needed (pg_stat_statements "
     "against throughput × queries a request): answers without their queries, or queries run "
     "twice",
     "queries other than the answers needed"},
};
#define NFLAGS (sizeof(flag_meanings) / sizeof(flag_meanings[0]))

const char *report__flag_meaning(const char *word)
{
    for (size_t k = 0; k < NFLAGS; k++)
        if (!strcmp(flag_meanings[k].word, word))
            return flag_meanings[k].brief;
    return "";
}

/* The point of summary row r as words: "event loop, closed loop, 64 clients". */
static void write_point_name(const struct plot__report *rp, const struct csv_table *t, int r)
{
    FILE *out = rp->out;
    report__write_label(out, rp->f, csv_get(t, r, "engine"));
    fputs(", ", out);
    report__html(out, csv_get(t, r, "loop"));
    if (!strcmp(csv_get(t, r, "loop"), "capacity"))
        fprintf(out, " probe, %.0f req/s offered", csv_num(t, r, "rate"));
    else if (!strcmp(csv_get(t, r, "loop"), "open"))
        fprintf(out, " loop, %.0f req/s offered", csv_num(t, r, "rate"));
    else
        fprintf(out, "%s, %.0f clients", strcmp(csv_get(t, r, "loop"), "closed") ? "" : " loop",
                csv_num(t, r, "clients"));
}

int report__has_flag(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; *p; p += strcspn(p, ";"), p += *p == ';') {
        if (strcspn(p, ";") == len && !strncmp(p, word, len))
            return 1;
    }
    return 0;
}

void report__write_flag_list(FILE *out, const char *list)
{
    for (const char *p = list; *p; p += *p == ';') {
        size_t len = strcspn(p, ";");
        char word[PLOT_SPEC_LEN];
        snprintf(word, sizeof(word), "%.*s", (int)(len < sizeof(word) ? len : sizeof(word) - 1), p);
        fputs(p == list ? "" : ", ", out);
        report__html(out, word);
        p += len;
    }
}

static void write_flag_meanings(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    fputs("<table class=\"meanings\">\n<tr><th>flag</th><th>what it says</th></tr>\n", rp->out);
    for (size_t k = 0; k < NFLAGS; k++) {
        int seen = 0;
        for (int r = 0; r < s->nrows && !seen; r++)
            seen = report__has_flag(csv_get(s, r, "flags"), flag_meanings[k].word);
        if (seen)
            fprintf(rp->out, "<tr><td>%s</td><td>%s.</td></tr>\n", flag_meanings[k].word,
                    flag_meanings[k].meaning);
    }
    fputs("</table>\n", rp->out);
}

/* Every point summary.csv flags, with its flags, then what each flag that
 * occurs means: a reader weighs a number by them before reading it. */
#define FOLD_ROWS 8 /* a list longer than this starts folded */

static void write_flagged(const struct plot__report *rp)
{
    const struct csv_table *s = &rp->summary;
    int any = 0, flagged = 0;
    for (int r = 0; r < s->nrows; r++)
        flagged += *csv_get(s, r, "flags") != '\0';
    fprintf(rp->out, "<details%s><summary><h2>Flagged points</h2> (%d)</summary>\n",
            flagged > FOLD_ROWS ? "" : " open", flagged);
    for (int r = 0; r < s->nrows; r++) {
        if (!*csv_get(s, r, "flags"))
            continue;
        if (!any++)
            fputs("<table class=\"flagged\">\n<tr><th>point</th><th>flags</th></tr>\n", rp->out);
        fputs("<tr><td>", rp->out);
        write_point_name(rp, s, r);
        fputs("</td><td>", rp->out);
        report__write_flag_list(rp->out, csv_get(s, r, "flags"));
        fputs("</td></tr>\n", rp->out);
    }
    if (!any) {
        fputs("<p>No point is flagged: every run passed the sweep's sanity checks.</p>\n"
              "</details>\n",
              rp->out);
        return;
    }
    fputs("</table>\n", rp->out);
    write_flag_meanings(rp);
    fputs("</details>\n", rp->out);
}

static void write_failed(const struct plot__report *rp)
{
    const struct csv_table *runs = &rp->f->runs;
    int any = 0;
    for (int r = 0; r < runs->nrows; r++) {
        if (!strcmp(csv_get(runs, r, "status"), "ok"))
            continue;
        if (!any++)
            fputs("<h2>Failed runs</h2>\n<table class=\"failed\">\n<tr><th>run</th><th>point</th>"
                  "<th>reason</th></tr>\n",
                  rp->out);
        fputs("<tr><td>", rp->out);
        report__html(rp->out, csv_get(runs, r, "run"));
        fputs("</td><td>", rp->out);
        write_point_name(rp, runs, r);
        fputs("</td><td>", rp->out);
        report__html(rp->out, *csv_get(runs, r, "reason") ? csv_get(runs, r, "reason")
                                                          : csv_get(runs, r, "status"));
        fputs("</td></tr>\n", rp->out);
    }
    if (any)
        fputs("</table>\n", rp->out);
}

/* ---- the page ---- */

/* Copies an SVG file into the page from its <svg> element on. The ids
 * gnuplot gives its markers and the canvas repeat in every SVG, so each
 * chart's ids get the chart's name as a prefix: one page, no two alike. */
int report__inline_svg(FILE *f, const char *path, const char *chart)
{
    char *text = proc_read_file(path, NULL);
    char *svg = text ? strstr(text, "<svg") : NULL;
    for (char *p = svg; p && *p;) {
        static const char *refs[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
        size_t k = 0, rl = 0;
        for (; k < sizeof(refs) / sizeof(refs[0]); k++) {
            rl = strlen(refs[k]);
            if (!strncmp(p, refs[k], rl) && (k > 1 || isspace((unsigned char)p[-1])))
                break;
        }
        if (k == sizeof(refs) / sizeof(refs[0])) {
            fputc(*p++, f);
            continue;
        }
        fwrite(p, 1, rl, f);
        fprintf(f, "%s-", chart);
        p += rl;
    }
    free(text);
    return svg ? 0 : -1;
}

/* One per chart, in plot__charts' order: what to look at, in a line... */
static const char *looks[PLOT_NCHARTS] = {
    "How each config's few requests line up: one after another where it blocks on the "
    "database, side by side where it overlaps the waits.",
    "Where each line flattens, and how near its dashed bound: the most the config serves. "
    "Hover a point for its interval and flags.",
    "The knee, where p99 turns up before the dashed bound; the thin lines are the ideal "
    "server of the same architecture. Hover a point for its interval and flags.",
    "The right end: the rare slow requests, each step ten times rarer than the one before.",
    "The right end, the most clients: what holding them costs each architecture in memory, "
    "threads and switches.",
    "Points under 1: there a config served less than its architecture allows. Hover a point "
    "for its interval and flags.",
};

/* ...and how it is drawn, folded under it. */
static const char *captions[PLOT_NCHARTS] = {
    "The lecture's picture, drawn from real requests: a few requests sent closer together "
    "than one request's service time. Each bar starts when its request was meant to be sent "
    "and is split into the phases the server reported (Server-Timing): waiting before the "
    "server began on it, waiting for a worker, CPU and the database. A server that blocks "
    "on the database stacks the requests one after another; one that overlaps the waits "
    "serves them side by side. Each config's first timeline run.",
    "Throughput against concurrent clients (closed loop, log scale): each point is the mean "
    "of its repeats, its error bar the 95 % t interval of that mean; dashed lines are each "
    "config's Little's-law bound.",
    "Median (dotted, the mean of the repeats' p50s) and 99th-percentile (solid, the median "
    "of the repeats' p99s, its bar spanning their order-statistic interval) latency against "
    "offered rate (open loop, latency counted from each request's intended send time, so a "
    "queue cannot hide); the dashed vertical lines are each config's bound.",
    "Latency by percentile (open loop) at about 80 % of each config's bound, in "
    "HdrHistogram's style: each step right is ten times rarer. One run per config.",
    "What the server spent as clients grow: peak resident memory, threads and context "
    "switches per second, each the mean of a point's repeats.",
    "Efficiency: mean throughput divided by the bound, per load point, with the throughput's "
    "95 % interval divided by the same bound; 1 is all the architecture allows.",
};

static void write_meta_table(FILE *f, const char *dir)
{
    char path[PATH_MAX + 16], line[4096];
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *in = fopen(path, "r");
    fputs("<table class=\"meta\">\n", f);
    while (in && fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\n")] = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        fputs("<tr><th>", f);
        report__html(f, line);
        fputs("</th><td>", f);
        report__html(f, colon + 1 + (colon[1] == ' '));
        fputs("</td></tr>\n", f);
    }
    if (in)
        fclose(in);
    fputs("</table>\n", f);
}

static void write_charts(const struct plot__report *rp)
{
    char svg[PATH_MAX + 32];
    fprintf(rp->out, "<h2>Charts</h2>\n");
    for (int c = 0; c < PLOT_NCHARTS && plot__point_runs(&rp->f->runs) > 0; c++) {
        snprintf(svg, sizeof(svg), "%s/%s.svg", rp->f->dir, plot__charts[c]);
        fprintf(rp->out, "<figure id=\"%s\">\n<figcaption>%s</figcaption>\n", plot__charts[c],
                looks[c]);
        if (report__inline_svg(rp->out, svg, plot__charts[c]) < 0)
            fprintf(rp->out, "<p>(chart %s missing)</p>", plot__charts[c]);
        fprintf(rp->out,
                "\n<details class=\"how\"><summary>How it is drawn</summary>%s</details>\n"
                "</figure>\n",
                captions[c]);
    }
    report__write_map(rp);
}

static const char report_style[] =
    "body{font-family:sans-serif;max-width:1180px;margin:1em auto;padding:0 1em;color:#222;"
    "line-height:1.4}h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.25em}"
    "p.lede{color:#555;margin:.2em 0 .6em}#answer p{margin:.45em 0}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
    "th{background:#f3f3f3}table.meta td,table.meta th,table.flagged td,table.meanings td,"
    "table.failed td,#summary td.flags{text-align:left}#summary{margin:.6em 0 .2em}"
    "#summary th:first-child,#summary th:last-child{text-align:left}#summary td,#summary "
    "tr>th:first-child"
    "{white-space:nowrap}#summary td.flags{white-space:normal;font-size:.9em}tr.failed "
    "td,table.failed td{background:#fdecea}"
    "p.note{color:#555;font-size:.8em;margin:.2em 0 1em}.spec{color:#777;font-weight:normal;"
    "font-size:.8em}figure{margin:1em 0 2em}figure svg{width:100%;height:auto}"
    "figcaption{font-size:.95em;margin:.2em 0}details.how{color:#555;font-size:.85em}"
    "summary{cursor:pointer}summary h2{display:inline}.findings li{margin:.3em 0}";

/* The value of meta.txt's line `key: value` into out; "" without one. */
static void meta_value(const char *dir, const char *key, char *out, size_t len)
{
    char path[PATH_MAX + 16], line[4096];
    size_t n = strlen(key);
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *in = fopen(path, "r");
    out[0] = '\0';
    while (in && fgets(line, sizeof(line), in))
        if (!strncmp(line, key, n) && line[n] == ':') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", line + n + 1 + (line[n + 1] == ' '));
        }
    if (in)
        fclose(in);
}

/* One line under the title: the workload's cost, the sweep's size and
 * where it ran. */
static void write_lede(const struct plot__report *rp)
{
    const struct csv_table *runs = &rp->f->runs;
    char cpu[256], repeats[32];
    int cores = plot__server_cores(rp->f->dir);
    meta_value(rp->f->dir, "cpu", cpu, sizeof(cpu));
    meta_value(rp->f->dir, "repeats", repeats, sizeof(repeats));
    fputs("<p class=\"lede\">", rp->out);
    if (runs->nrows && csv_num(runs, 0, "mean_cpu_ms") + csv_num(runs, 0, "mean_wait_ms") > 0)
        fprintf(rp->out, "%.3g ms of CPU and %.3g ms of waiting a request; ",
                csv_num(runs, 0, "mean_cpu_ms"), csv_num(runs, 0, "mean_wait_ms"));
    fprintf(rp->out, "%d configs, %d runs", rp->f->n, runs->nrows);
    if (*repeats)
        fprintf(rp->out, ", %s repeats a point", repeats);
    fprintf(rp->out, "; the server on %d core%s", cores, cores == 1 ? "" : "s");
    if (*cpu) {
        fputs(" (", rp->out);
        report__html(rp->out, cpu);
        fputs(")", rp->out);
    }
    fputs(".</p>\n", rp->out);
}

/* Everything under the answer and the charts, each part folded where it is
 * long: the sentences per config, the flags, the failed runs, the request
 * types, the machine and the load points. */
static void write_details(const struct plot__report *rp)
{
    FILE *f = rp->out;
    fputs("<details open><summary><h2>What the runs say</h2>, config by config</summary>\n", f);
    report__write_findings(rp);
    fputs("</details>\n", f);
    write_flagged(rp);
    write_failed(rp);
    report__write_requests(rp);
    fputs("<details><summary><h2>Machine and command</h2></summary>\n", f);
    write_meta_table(f, rp->f->dir);
    fputs("</details>\n", f);
    if (plot__point_runs(&rp->f->runs) == 0) /* probes alone: no point to tabulate */
        return;
    fputs("<details><summary><h2>Load points</h2>, every config's</summary>\n<p>One row per "
          "load point. req/s is the mean of its repeats &#177; the half-width of its 95 % t "
          "interval, efficiency the same over the bound; p99 is the median of the repeats' p99s "
          "[with the interval between two of them]; p50, memory and threads are means. A point "
          "with one repeat has no interval.</p>\n",
          f);
    for (int e = 0; e < rp->f->n; e++)
        report__write_points(rp, rp->f->engines[e]);
    fputs("</details>\n", f);
}

/* The answer first, then the summary table, the charts and the details. */
static void write_page(const struct plot__report *rp)
{
    const struct csv_table *runs = &rp->f->runs;
    FILE *f = rp->out;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            "<title>overlap report</title>\n<style>%s</style>\n</head>\n<body>\n<h1>overlap: ",
            report_style);
    report__html(f, runs->nrows ? csv_get(runs, 0, "suite") : "");
    fputs(" sweep of the ", f);
    report__html(f, runs->nrows ? csv_get(runs, 0, "workload") : "");
    fputs(" workload</h1>\n", f);
    write_lede(rp);
    if (plot__point_runs(runs) > 0) {
        report__write_answer(rp);
        report__write_summary(rp);
    }
    write_charts(rp);
    write_details(rp);
    fputs("</body>\n</html>\n", f);
}

/* The folder's report with summary.csv up to date; 0 or -errno. */
static int write_report(struct plot__report *rp)
{
    char path[PATH_MAX + 32], err[PATH_MAX + 256];
    int rc = plot__refresh_summary(rp->f->dir, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/summary.csv", rp->f->dir);
    if (rc == 0)
        rc = csv_load(path, &rp->summary);
    snprintf(path, sizeof(path), "%s/runs.csv", rp->f->dir);
    if (rc == 0)
        rc = summary_read(path, &rp->set, err, sizeof(err));
    if (rc == 0)
        rc = average_runs(rp);
    snprintf(path, sizeof(path), "%s/report.html", rp->f->dir);
    if (rc == 0 && !(rp->out = fopen(path, "w")))
        rc = -errno;
    if (rc == 0) {
        write_page(rp);
        rc = fclose(rp->out) == 0 ? 0 : -EIO;
    }
    free(rp->means);
    summary_free(&rp->set);
    csv_free(&rp->summary);
    return rc;
}

int plot_write_report(const char *dir)
{
    struct plot__folder *f = calloc(1, sizeof(*f));
    struct plot__report *rp = calloc(1, sizeof(*rp));
    char err[PATH_MAX + 256];
    int status = -ENOMEM;
    if (f && rp && plot__folder_open(dir, f, err, sizeof(err)) == 0) {
        rp->f = f;
        status = write_report(rp);
        csv_free(&f->runs);
    } else if (f && rp) {
        status = -EINVAL;
    }
    free(rp);
    free(f);
    return status;
}
