/* `overlap plot DIR`: (re)draws every chart of a results folder with the
 * gnuplot scripts in plots/, then writes report.html with the SVGs inline.
 * It prepares two small derived tables the scripts need (the timeline's
 * phase segments, and which run each config's percentile spectrum shows);
 * everything else the scripts read straight from the CSV files. */
#define _GNU_SOURCE
#include "plot.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csv.h"

#ifndef OVERLAP_PLOTS_DIR
#define OVERLAP_PLOTS_DIR "plots"
#endif

static const char *charts[] = {"timeline", "throughput", "latency",
                               "spectrum", "cost",       "efficiency"};
#define NCHARTS (int)(sizeof(charts) / sizeof(charts[0]))

/* ---- running gnuplot ---- */

/* Runs one script for one format; 0, or -1 with gnuplot's first error line. */
static int run_gnuplot(const char *scripts, const char *dir, const char *chart, const char *fmt,
                       const char *vars, char *err, size_t errlen)
{
    char script[PATH_MAX], expr[PATH_MAX + 16384], out[PATH_MAX], log[PATH_MAX];
    snprintf(script, sizeof(script), "%s.gp", chart);
    if (snprintf(expr, sizeof(expr), "dir='%s'; fmt='%s'; %s", dir, fmt, vars) >=
        (int)sizeof(expr)) {
        snprintf(err, errlen, "too many engine configs to pass to gnuplot");
        return -1;
    }
    snprintf(log, sizeof(log), "%s/logs/plot-%s-%s.log", dir, chart, fmt);
    snprintf(out, sizeof(out), "%s/%s.%s", dir, chart, fmt);
    unlink(out);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (chdir(scripts) < 0 || !freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        dprintf(2, "cannot run gnuplot: %s (install gnuplot-nox; make deps does)\n",
                strerror(errno));
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(out, &st) == 0 && st.st_size > 0)
        return 0;
    /* gnuplot's message: the last line of its stderr that is not blank */
    char line[512] = "";
    FILE *f = fopen(log, "r");
    snprintf(err, errlen, "gnuplot exited with status %d and drew nothing",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && strspn(line, " ^") != strlen(line))
            snprintf(err, errlen, "%s", line);
    }
    if (f)
        fclose(f);
    return -1;
}

/* ---- what the scripts cannot easily derive themselves ---- */

#define MAX_ENGINES 64
#define SPEC_LEN    128

/* What the timeline chart needs to lay out its axes. */
struct tl_extent {
    int requests;  /* the largest request number of any config */
    double end_ms; /* the latest response (or send, if unanswered) */
};

static int add_engine(char engines[][SPEC_LEN], int n, const char *spec)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(engines[i], spec))
            return n;
    int printable = 1;
    for (const char *p = spec; *p; p++)
        printable &= *p > ' ' && *p < 0x7f && *p != '\'' && *p != '"' && *p != '\\';
    if (n == MAX_ENGINES || !spec[0] || strlen(spec) >= SPEC_LEN || !printable)
        return n; /* a name gnuplot could not take as one word is left out */
    snprintf(engines[n], SPEC_LEN, "%s", spec);
    return n + 1;
}

/* The engine configs of the sweep in the order it ran them: meta.txt's
 * `engines:` line, then any config runs.csv names that meta.txt does not (a
 * folder whose meta.txt was lost still draws). The order fixes each config's
 * colour in every chart. */
static int read_engines(const char *dir, const struct csv_table *runs, char engines[][SPEC_LEN])
{
    char path[PATH_MAX], line[8192];
    int n = 0;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "engines:", 8) != 0)
            continue;
        char *save;
        for (char *w = strtok_r(line + 8, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
            n = add_engine(engines, n, w);
    }
    if (f)
        fclose(f);
    for (int r = 0; r < runs->nrows; r++)
        n = add_engine(engines, n, csv_get(runs, r, "engine"));
    return n;
}

/* The config's ceiling: its bound with unlimited clients, as the sweep
 * wrote it on every row (0 when no row has it). */
static double ceiling_of(const struct csv_table *runs, const char *engine)
{
    for (int r = 0; r < runs->nrows; r++)
        if (!strcmp(csv_get(runs, r, "engine"), engine) && csv_num(runs, r, "ceiling_rps") > 0)
            return csv_num(runs, r, "ceiling_rps");
    return 0;
}

/* For each config, the open-loop run whose spectrum the chart shows: the
 * highest offered rate at or below 80 % of the config's ceiling (busy, but
 * short of the knee, where every config's tail differs most), else the
 * lowest rate it ran; -1 when it has no open-loop run. */
static void pick_spectrum_runs(const struct csv_table *runs, char engines[][SPEC_LEN], int nengines,
                               int *ids, double *rates)
{
    for (int e = 0; e < nengines; e++) {
        int under = -1, lowest = -1;
        double limit = 0.8 * ceiling_of(runs, engines[e]) * 1.001;
        for (int r = 0; r < runs->nrows; r++) {
            if (strcmp(csv_get(runs, r, "engine"), engines[e]) ||
                strcmp(csv_get(runs, r, "loop"), "open") ||
                strcmp(csv_get(runs, r, "status"), "ok"))
                continue;
            double rate = csv_num(runs, r, "rate");
            if (rate <= limit && (under < 0 || rate > csv_num(runs, under, "rate")))
                under = r;
            if (lowest < 0 || rate < csv_num(runs, lowest, "rate"))
                lowest = r;
        }
        int pick = under >= 0 ? under : lowest;
        ids[e] = pick >= 0 ? atoi(csv_get(runs, pick, "run")) : -1;
        rates[e] = pick >= 0 ? csv_num(runs, pick, "rate") : 0;
    }
}

static int count_ok(const struct csv_table *runs, const char *loop)
{
    int k = 0;
    for (int r = 0; r < runs->nrows; r++)
        k += !strcmp(csv_get(runs, r, "loop"), loop) && !strcmp(csv_get(runs, r, "status"), "ok");
    return k;
}

/* The gnuplot variables every script gets beside dir and fmt. */
static void script_vars(const struct csv_table *runs, char engines[][SPEC_LEN], int n,
                        const struct tl_extent *tl, char *vars, size_t len)
{
    int ids[MAX_ENGINES];
    double rates[MAX_ENGINES];
    pick_spectrum_runs(runs, engines, n, ids, rates);
    double service_ms = 0;
    for (int r = 0; r < runs->nrows && service_ms <= 0; r++)
        service_ms = csv_num(runs, r, "mean_cpu_ms") + csv_num(runs, r, "mean_wait_ms");
    size_t at = snprintf(vars, len,
                         "n_closed=%d; n_open=%d; tl_requests=%d; tl_end_ms=%.3f; "
                         "service_ms=%.6f; ",
                         count_ok(runs, "closed"), count_ok(runs, "open"), tl->requests, tl->end_ms,
                         service_ms);
    at += snprintf(vars + at, len - at, "engines='");
    for (int e = 0; e < n && at < len; e++)
        at += snprintf(vars + at, len - at, "%s%s", e ? " " : "", engines[e]);
    at += snprintf(vars + at, len - at, "'; spectrum_runs='");
    for (int e = 0; e < n && at < len; e++)
        at += snprintf(vars + at, len - at, "%s%d", e ? " " : "", ids[e]);
    at += snprintf(vars + at, len - at, "'; spectrum_rates='");
    for (int e = 0; e < n && at < len; e++)
        at += snprintf(vars + at, len - at, "%s%.0f", e ? " " : "", rates[e]);
    at += snprintf(vars + at, len - at, "'; ceilings='");
    for (int e = 0; e < n && at < len; e++)
        at += snprintf(vars + at, len - at, "%s%.3f", e ? " " : "", ceiling_of(runs, engines[e]));
    if (at < len)
        snprintf(vars + at, len - at, "'");
}

/* ---- the timeline's phases ---- */

enum phase { PHASE_WAIT, PHASE_QUEUE, PHASE_CPU, PHASE_DB, PHASE_OTHER };
static const char *phase_name[] = {"wait", "queue", "cpu", "db", "other"};

/* Reads the next phase from a Server-Timing list, in either the header's own
 * form (`cpu;dur=0.5, db;dur=10.1`) or the compact `cpu:0.5;db:10.1`.
 * Returns where the next one starts, or NULL at the end. */
static const char *next_phase(const char *p, enum phase *kind, double *ms)
{
    while (*p && !(*p >= 'a' && *p <= 'z'))
        p++;
    if (!*p)
        return NULL;
    size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
    *kind = len == 5 && !strncmp(p, "queue", 5) ? PHASE_QUEUE
            : len == 3 && !strncmp(p, "cpu", 3) ? PHASE_CPU
            : len == 2 && !strncmp(p, "db", 2)  ? PHASE_DB
                                                : PHASE_OTHER;
    p += len;
    if (!strncmp(p, ";dur=", 5))
        p += 5;
    else if (*p == ':')
        p++;
    char *end;
    *ms = strtod(p, &end);
    if (!(*ms >= 0) || *ms > 1e9)
        *ms = 0; /* a phase the server could not have spent: drawn as nothing */
    return end;
}

/* One answered timeline request, laid out in ms from the config's first
 * intended send time. */
struct tl_request {
    int request;
    double intended, sent, done, server_end;
    const char *phases;
};

/* Writes one request's bars: `wait` from its intended send time until the
 * server began on it, then the phases the server reported, placed so they end
 * when the first byte of the response arrived (the server's clock and ours
 * are not the same clock, so only durations travel). */
static void write_segments(FILE *seg, int e, const char *engine, const struct tl_request *q)
{
    double total = 0, ms;
    enum phase kind;
    for (const char *p = q->phases; (p = next_phase(p, &kind, &ms));)
        total += ms;
    double at = q->server_end - total;
    if (at < q->sent)
        at = q->sent;
    if (at > q->intended)
        fprintf(seg, "%d,%s,%d,%.3f,%.3f,%s,%d\n", e + 1, engine, q->request, q->intended, at,
                phase_name[PHASE_WAIT], PHASE_WAIT);
    for (const char *p = q->phases; (p = next_phase(p, &kind, &ms)); at += ms)
        fprintf(seg, "%d,%s,%d,%.3f,%.3f,%s,%d\n", e + 1, engine, q->request, at, at + ms,
                phase_name[kind], kind);
}

/* Writes timeline-segments.csv (one row per bar piece) and
 * timeline-requests.csv (one row per request, with its response time; an
 * unanswered request has done_ms -1), and measures their extent. Returns the
 * number of requests, 0 when the folder has no timeline, or -errno. */
static int derive_timeline(const char *dir, char engines[][SPEC_LEN], int n, struct tl_extent *x)
{
    char path[PATH_MAX];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    int have = csv_load(path, &t) == 0;
    snprintf(path, sizeof(path), "%s/timeline-segments.csv", dir);
    FILE *seg = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", dir);
    FILE *req = fopen(path, "w");
    int count = 0, status = seg && req ? 0 : -EIO;
    if (seg)
        fprintf(seg, "engine_index,engine,request,start_ms,end_ms,phase,phase_index\n");
    if (req)
        fprintf(req, "engine_index,engine,request,intended_ms,sent_ms,done_ms,response_ms\n");
    for (int e = 0; have && status == 0 && e < n; e++) {
        double origin = NAN;
        for (int r = 0; r < t.nrows; r++)
            if (!strcmp(csv_get(&t, r, "engine"), engines[e]) &&
                (isnan(origin) || csv_num(&t, r, "intended_us") < origin))
                origin = csv_num(&t, r, "intended_us");
        for (int r = 0; r < t.nrows; r++) {
            if (strcmp(csv_get(&t, r, "engine"), engines[e]))
                continue;
            double done_us = csv_num(&t, r, "done_us"), first_us = csv_num(&t, r, "first_byte_us");
            struct tl_request q = {
                .request = atoi(csv_get(&t, r, "request")),
                .intended = (csv_num(&t, r, "intended_us") - origin) / 1e3,
                .sent = (csv_num(&t, r, "sent_us") - origin) / 1e3,
                .done = (done_us - origin) / 1e3,
                .server_end = ((first_us > 0 ? first_us : done_us) - origin) / 1e3,
                .phases = csv_get(&t, r, "phases"),
            };
            count++;
            x->requests = q.request > x->requests ? q.request : x->requests;
            x->end_ms = fmax(x->end_ms, done_us > 0 ? q.done : q.sent);
            if (done_us <= 0) {
                fprintf(req, "%d,%s,%d,%.3f,%.3f,-1,-1\n", e + 1, engines[e], q.request, q.intended,
                        q.sent);
                continue;
            }
            fprintf(req, "%d,%s,%d,%.3f,%.3f,%.3f,%.3f\n", e + 1, engines[e], q.request, q.intended,
                    q.sent, q.done, q.done - q.intended);
            write_segments(seg, e, engines[e], &q);
        }
    }
    if (seg && fclose(seg) != 0)
        status = -EIO;
    if (req && fclose(req) != 0)
        status = -EIO;
    csv_free(&t);
    return status < 0 ? status : count;
}

/* ---- report.html ---- */

static void html_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Copies an SVG file into the page from its <svg> element on. The ids
 * gnuplot gives its markers and the canvas repeat in every SVG, so each
 * chart's ids get the chart's name as a prefix: one page, no two alike. */
static int inline_svg(FILE *f, const char *path, const char *chart)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return -1;
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, '\0', in);
    fclose(in);
    char *svg = len > 0 ? strstr(text, "<svg") : NULL;
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

static const char *captions[] = {
    "The lecture's picture, drawn from real requests: a few requests sent closer together "
    "than one request's service time. Each bar starts when its request was meant to be sent "
    "and is split into the phases the server reported (Server-Timing): waiting before the "
    "server began on it, waiting for a worker, CPU and the database. A server that blocks "
    "on the database stacks the requests one after another; one that overlaps the waits "
    "serves them side by side.",
    "Throughput against concurrent clients (closed loop, log scale); dashed lines are each "
    "config's Little's-law bound.",
    "Median (dotted) and 99th-percentile (solid) latency against offered rate (open loop, "
    "latency counted from each request's intended send time, so a queue cannot hide); the "
    "dashed vertical lines are each config's bound.",
    "Latency by percentile (open loop) at about 80 % of each config's bound, in "
    "HdrHistogram's style: each step right is ten times rarer.",
    "What the server spent as clients grow: peak resident memory, threads and context "
    "switches per second.",
    "Efficiency: measured throughput divided by the bound, per load point; 1 is all the "
    "architecture allows.",
};

/* The closed-loop run with the highest throughput of one config, or -1. */
static int peak_run(const struct csv_table *runs, const char *engine)
{
    int best = -1;
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(csv_get(runs, r, "engine"), engine) ||
            strcmp(csv_get(runs, r, "status"), "ok") || strcmp(csv_get(runs, r, "loop"), "closed"))
            continue;
        if (best < 0 || csv_num(runs, r, "throughput_rps") > csv_num(runs, best, "throughput_rps"))
            best = r;
    }
    return best;
}

/* The slowest answered timeline request of a config, from
 * timeline-requests.csv: the lecture's "request 3 waited behind 1 and 2". */
static int timeline_last(const struct csv_table *tl, const char *engine, double *ms)
{
    int k = 0;
    *ms = 0;
    for (int r = 0; r < tl->nrows; r++) {
        if (strcmp(csv_get(tl, r, "engine"), engine) || csv_num(tl, r, "response_ms") < 0)
            continue;
        k++;
        *ms = fmax(*ms, csv_num(tl, r, "response_ms"));
    }
    return k;
}

static void write_timeline_finding(FILE *f, const char *dir, char engines[][SPEC_LEN], int n)
{
    char path[PATH_MAX];
    struct csv_table tl;
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", dir);
    if (csv_load(path, &tl) < 0)
        return;
    int slow = -1, fast = -1;
    double slow_ms = 0, fast_ms = INFINITY, ms;
    for (int e = 0; e < n; e++) {
        if (timeline_last(&tl, engines[e], &ms) == 0)
            continue;
        if (ms > slow_ms)
            slow = e, slow_ms = ms;
        if (ms < fast_ms)
            fast = e, fast_ms = ms;
    }
    if (slow >= 0 && fast >= 0 && slow != fast) {
        fprintf(f, "<li>In the timeline the slowest request took %.1f ms on <b>", slow_ms);
        html_escaped(f, engines[slow]);
        fprintf(f, "</b> and %.1f ms on <b>", fast_ms);
        html_escaped(f, engines[fast]);
        fprintf(f, "</b>.</li>\n");
    }
    csv_free(&tl);
}

static void write_findings(FILE *f, const char *dir, const struct csv_table *runs,
                           char engines[][SPEC_LEN], int n)
{
    int best_pool = -1, best_async = -1, failed = 0;
    fputs("<ul class=\"findings\">\n", f);
    for (int e = 0; e < n; e++) {
        int r = peak_run(runs, engines[e]);
        if (r < 0)
            continue;
        fprintf(f, "<li><b>");
        html_escaped(f, engines[e]);
        fprintf(f,
                "</b> peaked at %.0f req/s with %s clients, %.0f %% of its bound of %.0f "
                "req/s; p99 there was %.1f ms.</li>\n",
                csv_num(runs, r, "throughput_rps"), csv_get(runs, r, "clients"),
                100 * csv_num(runs, r, "efficiency"), csv_num(runs, r, "bound_rps"),
                csv_num(runs, r, "p99_ms"));
        int *best = !strncmp(engines[e], "async", 5) ? &best_async : &best_pool;
        if (*best < 0 ||
            csv_num(runs, r, "throughput_rps") > csv_num(runs, *best, "throughput_rps"))
            *best = r;
    }
    if (best_pool >= 0 && best_async >= 0 && csv_num(runs, best_pool, "throughput_rps") > 0) {
        fprintf(f,
                "<li>The event loop's best throughput is %.2f&#215; the best pool "
                "config's (",
                csv_num(runs, best_async, "throughput_rps") /
                    csv_num(runs, best_pool, "throughput_rps"));
        html_escaped(f, csv_get(runs, best_pool, "engine"));
        fprintf(f, ", %.0f req/s).</li>\n", csv_num(runs, best_pool, "throughput_rps"));
    }
    write_timeline_finding(f, dir, engines, n);
    for (int r = 0; r < runs->nrows; r++)
        failed += strcmp(csv_get(runs, r, "status"), "ok") != 0;
    if (failed)
        fprintf(f, "<li>%d of %d runs failed; their reasons are in the tables below.</li>\n",
                failed, runs->nrows);
    fputs("</ul>\n", f);
}

/* One column of an engine's table: which field, its heading, and how many
 * decimals to show (-1: the text as it is; a scale turns KiB into MiB). */
static const struct {
    const char *field, *head;
    int decimals;
    double scale;
} table_cols[] = {
    {"loop", "loop", -1, 1},
    {"clients", "clients", -1, 1},
    {"rate", "offered req/s", 0, 1},
    {"throughput_rps", "req/s", 1, 1},
    {"p50_ms", "p50 ms", 1, 1},
    {"p99_ms", "p99 ms", 1, 1},
    {"errors", "errors", -1, 1},
    {"bound_rps", "bound req/s", 1, 1},
    {"efficiency", "efficiency", 2, 1},
    {"cpu_util", "CPU (cores)", 2, 1},
    {"peak_rss_kib", "peak RSS MiB", 1, 1.0 / 1024},
    {"threads", "threads", -1, 1},
    {"status", "status", -1, 1},
};
#define NTABLE_COLS (sizeof(table_cols) / sizeof(table_cols[0]))

static void write_cell(FILE *f, const struct csv_table *runs, int r, size_t c)
{
    const char *text = csv_get(runs, r, table_cols[c].field);
    char *end;
    double v = strtod(text, &end);
    int numeric = end != text && !*end;
    if (!strcmp(table_cols[c].field, "rate") && !strcmp(csv_get(runs, r, "loop"), "closed"))
        fputs("-", f); /* a closed loop offers no rate */
    else if (table_cols[c].decimals >= 0 && numeric)
        fprintf(f, "%.*f", table_cols[c].decimals, v * table_cols[c].scale);
    else
        html_escaped(f, text);
}

static void write_engine_table(FILE *f, const struct csv_table *runs, const char *engine)
{
    fprintf(f, "<h3>");
    html_escaped(f, engine);
    fprintf(f, "</h3>\n<table>\n<tr>");
    for (size_t c = 0; c < NTABLE_COLS; c++)
        fprintf(f, "<th>%s</th>", table_cols[c].head);
    fprintf(f, "</tr>\n");
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(csv_get(runs, r, "engine"), engine))
            continue;
        int ok = !strcmp(csv_get(runs, r, "status"), "ok");
        fprintf(f, "<tr%s>", ok ? "" : " class=\"failed\"");
        for (size_t c = 0; c < NTABLE_COLS; c++) {
            fprintf(f, "<td>");
            write_cell(f, runs, r, c);
            if (!ok && !strcmp(table_cols[c].field, "status")) {
                fprintf(f, ": ");
                html_escaped(f, csv_get(runs, r, "reason"));
            }
            fprintf(f, "</td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void write_meta_table(FILE *f, const char *dir)
{
    char path[PATH_MAX], line[4096];
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
        html_escaped(f, line);
        fputs("</th><td>", f);
        html_escaped(f, colon + 1 + (colon[1] == ' '));
        fputs("</td></tr>\n", f);
    }
    if (in)
        fclose(in);
    fputs("</table>\n", f);
}

static const char report_style[] =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
    "th{background:#f3f3f3}table.meta td,table.meta th{text-align:left}"
    "tr.failed td{background:#fdecea}"
    "figure{margin:1.5em 0}figure svg{width:100%;height:auto}"
    "figcaption{color:#555;font-size:.9em}.findings li{margin:.3em 0}";

static int write_report(const char *dir, const struct csv_table *runs, char engines[][SPEC_LEN],
                        int n)
{
    char path[PATH_MAX], svg[PATH_MAX];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            "<title>overlap report</title>\n<style>%s</style>\n</head>\n<body>\n",
            report_style);
    fprintf(f, "<h1>overlap: ");
    html_escaped(f, runs->nrows ? csv_get(runs, 0, "suite") : "");
    fprintf(f, " sweep of the ");
    html_escaped(f, runs->nrows ? csv_get(runs, 0, "workload") : "");
    fprintf(f, " workload</h1>\n<h2>What the runs say</h2>\n");
    write_findings(f, dir, runs, engines, n);
    fprintf(f, "<h2>Machine and command</h2>\n");
    write_meta_table(f, dir);
    fprintf(f, "<h2>Charts</h2>\n");
    for (int c = 0; c < NCHARTS; c++) {
        snprintf(svg, sizeof(svg), "%s/%s.svg", dir, charts[c]);
        fprintf(f, "<figure id=\"%s\">\n", charts[c]);
        if (inline_svg(f, svg, charts[c]) < 0)
            fprintf(f, "<p>(chart %s missing)</p>", charts[c]);
        fprintf(f, "\n<figcaption>%s</figcaption>\n</figure>\n", captions[c]);
    }
    fprintf(f, "<h2>Runs</h2>\n");
    for (int e = 0; e < n; e++)
        write_engine_table(f, runs, engines[e]);
    fprintf(f, "</body>\n</html>\n");
    return fclose(f) == 0 ? 0 : -EIO;
}

/* ---- the command ---- */

static const char plot_usage[] =
    "usage: overlap plot DIR [--scripts DIR]\n"
    "  redraws every chart of a results folder (PNG and SVG) and its report.html\n"
    "  --scripts DIR   the gnuplot scripts (default: plots/ here, else the source tree's)\n";

int plot_main(int argc, char **argv)
{
    const char *scripts = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scripts") && i + 1 < argc) {
            scripts = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(plot_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || arg) {
            fprintf(stderr, "overlap plot: unexpected argument '%s'\n%s", argv[i], plot_usage);
            return 2;
        } else {
            arg = argv[i];
        }
    }
    if (!arg) {
        fputs(plot_usage, stderr);
        return 2;
    }
    struct stat st;
    if (!scripts)
        scripts = stat("plots/common.gp", &st) == 0 ? "plots" : OVERLAP_PLOTS_DIR;
    return plot_dir(arg, scripts);
}

/* Runs every script in both formats; 0, or 1 after naming the first that failed. */
static int draw_charts(const char *dir, const char *scripts, const char *vars)
{
    char err[512];
    for (int c = 0; c < NCHARTS; c++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            if (run_gnuplot(scripts, dir, charts[c], fmt ? "svg" : "png", vars, err, sizeof(err)) <
                0) {
                fprintf(stderr, "overlap plot: %s/%s.gp: %s\n", scripts, charts[c], err);
                return 1;
            }
        }
    }
    return 0;
}

/* A results folder as the charts and the report see it. */
struct folder {
    char dir[PATH_MAX];
    struct csv_table runs;
    char engines[MAX_ENGINES][SPEC_LEN];
    int n;
};

static int folder_open(const char *dir, struct folder *f, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (csv_load(path, &f->runs) < 0 || csv_col(&f->runs, "engine") < 0) {
        snprintf(err, errlen,
                 "%s: not a results folder (no readable runs.csv with an engine "
                 "column)",
                 dir);
        csv_free(&f->runs);
        return -1;
    }
    f->n = read_engines(dir, &f->runs, f->engines);
    return 0;
}

int plot_prepare(const char *dir, char *vars, size_t len, char *err, size_t errlen)
{
    struct folder *f = calloc(1, sizeof(*f));
    char path[PATH_MAX + 16];
    int status = -1;
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (folder_open(dir, f, err, errlen) < 0)
        goto done;
    snprintf(path, sizeof(path), "%s/logs", dir);
    mkdir(path, 0755);
    struct tl_extent tl = {0};
    if (derive_timeline(dir, f->engines, f->n, &tl) < 0) {
        snprintf(err, errlen, "cannot write the timeline's tables in %s", dir);
    } else {
        script_vars(&f->runs, f->engines, f->n, &tl, vars, len);
        status = 0;
    }
    csv_free(&f->runs);
done:
    free(f);
    return status;
}

int plot_write_report(const char *dir)
{
    struct folder *f = calloc(1, sizeof(*f));
    char err[512];
    int status = -ENOMEM;
    if (f && folder_open(dir, f, err, sizeof(err)) == 0) {
        status = write_report(dir, &f->runs, f->engines, f->n);
        csv_free(&f->runs);
    } else if (f) {
        status = -EINVAL;
    }
    free(f);
    return status;
}

int plot_dir(const char *arg, const char *scripts)
{
    char dir[PATH_MAX], vars[MAX_ENGINES * SPEC_LEN + 1024], err[PATH_MAX + 256];
    if (!realpath(arg, dir)) {
        fprintf(stderr, "overlap plot: %s: %s\n", arg, strerror(errno));
        return 1;
    }
    if (strchr(dir, '\'')) {
        fprintf(stderr,
                "overlap plot: %s: a folder name with a quote cannot be passed to "
                "gnuplot (rename it)\n",
                dir);
        return 1;
    }
    if (plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap plot: %s\n", err);
        return 1;
    }
    if (draw_charts(dir, scripts, vars) != 0)
        return 1;
    int rc = plot_write_report(dir);
    if (rc < 0) {
        fprintf(stderr, "overlap plot: cannot write %s/report.html: %s\n", dir, strerror(-rc));
        return 1;
    }
    printf("charts and report.html written in %s\n", dir);
    return 0;
}
