/* `overlap plot DIR`: (re)draws every chart of a results folder with the
 * gnuplot scripts in plots/, then writes report.html with the SVGs inline.
 * It prepares two small derived tables the scripts need (the timeline's
 * phase segments, and which run each config's percentile spectrum shows);
 * everything else the scripts read straight from the CSV files. */
#define _GNU_SOURCE
#include "plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OVERLAP_PLOTS_DIR
#define OVERLAP_PLOTS_DIR "plots"
#endif

#define MAX_ROWS 4096
#define MAX_COLS 48

static const char *charts[] = {"timeline", "throughput", "latency",
                               "spectrum", "cost",       "efficiency"};
#define NCHARTS (int)(sizeof(charts) / sizeof(charts[0]))

/* ---- a small CSV table: the whole file in memory, split in place ---- */

struct table {
    char *text;
    int ncols, nrows;
    char *head[MAX_COLS];
    char **cell; /* nrows x ncols */
};

static int split_row(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max)
            return n;
        cells[n++] = p;
        p += strcspn(p, ",\n\r");
        if (*p != ',') {
            *p = '\0';
            return n;
        }
        *p++ = '\0';
    }
}

static int plot_table_load(const char *path, struct table *t)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t cap = 0;
    char *line = NULL;
    t->cell = calloc((size_t)MAX_ROWS * MAX_COLS, sizeof(char *));
    ssize_t len;
    int first = 1;
    while (t->cell && (len = getline(&line, &cap, f)) > 0 && t->nrows < MAX_ROWS) {
        char *copy = strdup(line);
        if (!copy)
            break;
        if (first) {
            t->text = copy; /* the header's storage; rows leak into t->cell only */
            t->ncols = split_row(copy, t->head, MAX_COLS);
            first = 0;
            continue;
        }
        split_row(copy, t->cell + (size_t)t->nrows * MAX_COLS, t->ncols);
        t->nrows++;
    }
    free(line);
    fclose(f);
    return t->ncols > 0 ? 0 : -EINVAL;
}

static int col(const struct table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->head[i], name))
            return i;
    return -1;
}

static const char *get(const struct table *t, int row, const char *name)
{
    int c = col(t, name);
    const char *v = c < 0 ? NULL : t->cell[(size_t)row * MAX_COLS + c];
    return v ? v : "";
}

static double num(const struct table *t, int row, const char *name)
{
    return atof(get(t, row, name));
}

static void table_free(struct table *t)
{
    for (int r = 0; t->cell && r < t->nrows; r++)
        free(t->cell[(size_t)r * MAX_COLS]); /* the row's storage starts at its first cell */
    free(t->cell);
    free(t->text);
}

/* ---- running gnuplot ---- */

/* Runs one script for one format; 0, or -1 with gnuplot's first error line. */
static int run_gnuplot(const char *scripts, const char *dir, const char *chart, const char *fmt,
                       const char *vars, char *err, size_t errlen)
{
    char script[PATH_MAX], expr[PATH_MAX * 2], out[PATH_MAX], log[PATH_MAX];
    snprintf(script, sizeof(script), "%s.gp", chart);
    snprintf(expr, sizeof(expr), "dir='%s'; fmt='%s'; %s", dir, fmt, vars);
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
        fprintf(stderr, "cannot run gnuplot: %s (install gnuplot-nox; make deps does)\n",
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

/* The engine configs of the sweep, in order, from meta.txt. */
static int read_engines(const char *dir, char engines[][128], int max)
{
    char path[PATH_MAX], line[4096];
    int n = 0;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "engines:", 8) != 0)
            continue;
        for (char *w = strtok(line + 8, " \n"); w && n < max; w = strtok(NULL, " \n"))
            snprintf(engines[n++], 128, "%s", w);
    }
    if (f)
        fclose(f);
    return n;
}

/* For each config, the open-loop run with the highest rate it still kept up
 * with (throughput within 5 % of the rate): its spectrum is the one to show.
 * Writes the run ids as a gnuplot string variable. */
static void pick_spectrum_runs(const struct table *runs, char engines[][128], int nengines,
                               char *vars, size_t len)
{
    size_t n = snprintf(vars, len, "spectrum_runs='");
    for (int e = 0; e < nengines; e++) {
        int best = -1;
        double best_rate = -1;
        for (int r = 0; r < runs->nrows; r++) {
            if (strcmp(get(runs, r, "engine"), engines[e]) ||
                strcmp(get(runs, r, "loop"), "open") || strcmp(get(runs, r, "status"), "ok"))
                continue;
            double rate = num(runs, r, "rate"), tput = num(runs, r, "throughput_rps");
            if (tput >= 0.95 * rate && rate > best_rate) {
                best_rate = rate;
                best = atoi(get(runs, r, "run"));
            }
        }
        n += snprintf(vars + n, len - n, "%s%d", e ? " " : "", best);
    }
    snprintf(vars + n, len - n, "'");
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

/* Copies an SVG file into the page from its <svg> element on. */
static int inline_svg(FILE *f, const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return -1;
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, '\0', in);
    fclose(in);
    char *svg = len > 0 ? strstr(text, "<svg") : NULL;
    if (svg)
        fputs(svg, f);
    free(text);
    return svg ? 0 : -1;
}

static const char *captions[] = {
    "Timeline: requests sent a third of a service time apart, each bar split into the phases "
    "the server reported (Server-Timing), aligned to when its response arrived; the grey part "
    "is time the request waited before the server worked on it.",
    "Throughput against concurrent clients (closed loop); dashed lines are each config's "
    "Little's-law bound.",
    "Median and 99th-percentile latency against offered rate (open loop, latency counted from "
    "each request's intended send time).",
    "Latency by percentile at the highest offered rate each config sustained.",
    "What the server spent: peak resident memory, threads and context switches per second.",
    "Efficiency: measured throughput divided by the bound, per load point.",
};

/* The closed-loop run with the highest throughput of one config, or -1. */
static int peak_run(const struct table *runs, const char *engine)
{
    int best = -1;
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(get(runs, r, "engine"), engine) || strcmp(get(runs, r, "status"), "ok") ||
            strcmp(get(runs, r, "loop"), "closed"))
            continue;
        if (best < 0 || num(runs, r, "throughput_rps") > num(runs, best, "throughput_rps"))
            best = r;
    }
    return best;
}

static void write_findings(FILE *f, const struct table *runs, char engines[][128], int n)
{
    int best_pool = -1, best_async = -1;
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
                num(runs, r, "throughput_rps"), get(runs, r, "clients"),
                100 * num(runs, r, "efficiency"), num(runs, r, "bound_rps"),
                num(runs, r, "p99_ms"));
        int *best = !strncmp(engines[e], "async", 5) ? &best_async : &best_pool;
        if (*best < 0 || num(runs, r, "throughput_rps") > num(runs, *best, "throughput_rps"))
            *best = r;
    }
    if (best_pool >= 0 && best_async >= 0 && num(runs, best_pool, "throughput_rps") > 0) {
        fprintf(f,
                "<li>The event loop's best throughput is %.2f&times; the best pool "
                "config's (",
                num(runs, best_async, "throughput_rps") / num(runs, best_pool, "throughput_rps"));
        html_escaped(f, get(runs, best_pool, "engine"));
        fprintf(f, ", %.0f req/s).</li>\n", num(runs, best_pool, "throughput_rps"));
    }
    fputs("</ul>\n", f);
}

static void write_engine_table(FILE *f, const struct table *runs, const char *engine)
{
    static const char *cols[] = {"loop",         "clients", "rate",      "throughput_rps",
                                 "p50_ms",       "p99_ms",  "bound_rps", "efficiency",
                                 "peak_rss_kib", "threads", "status"};
    static const char *heads[] = {"loop",         "clients", "offered req/s", "req/s",
                                  "p50 ms",       "p99 ms",  "bound req/s",   "efficiency",
                                  "peak RSS KiB", "threads", "status"};
    fprintf(f, "<h3>");
    html_escaped(f, engine);
    fprintf(f, "</h3>\n<table>\n<tr>");
    for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
        fprintf(f, "<th>%s</th>", heads[c]);
    fprintf(f, "</tr>\n");
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(get(runs, r, "engine"), engine))
            continue;
        fprintf(f, "<tr>");
        for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
            fprintf(f, "<td>");
            html_escaped(f, get(runs, r, cols[c]));
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
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
    "th{background:#f3f3f3}table.meta td,table.meta th{text-align:left}"
    "figure{margin:1.5em 0}figure svg{width:100%;height:auto}"
    "figcaption{color:#555;font-size:.9em}.findings li{margin:.3em 0}";

static int write_report(const char *dir, const struct table *runs, char engines[][128], int n)
{
    char path[PATH_MAX], svg[PATH_MAX];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>overlap report</title>\n<style>%s</style>\n</head>\n<body>\n",
            report_style);
    fprintf(f, "<h1>overlap: ");
    html_escaped(f, runs->nrows ? get(runs, 0, "suite") : "");
    fprintf(f, " sweep of the ");
    html_escaped(f, runs->nrows ? get(runs, 0, "workload") : "");
    fprintf(f, " workload</h1>\n<h2>What the runs say</h2>\n");
    write_findings(f, runs, engines, n);
    fprintf(f, "<h2>Charts</h2>\n");
    for (int c = 0; c < NCHARTS; c++) {
        snprintf(svg, sizeof(svg), "%s/%s.svg", dir, charts[c]);
        fprintf(f, "<figure id=\"%s\">\n", charts[c]);
        if (inline_svg(f, svg) < 0)
            fprintf(f, "<p>(chart %s missing)</p>", charts[c]);
        fprintf(f, "\n<figcaption>%s</figcaption>\n</figure>\n", captions[c]);
    }
    fprintf(f, "<h2>Runs</h2>\n");
    for (int e = 0; e < n; e++)
        write_engine_table(f, runs, engines[e]);
    fprintf(f, "<h2>Machine and command</h2>\n");
    write_meta_table(f, dir);
    fprintf(f, "</body>\n</html>\n");
    return fclose(f) == 0 ? 0 : -EIO;
}

/* ---- the timeline's phases ---- */

enum phase { PHASE_QUEUE, PHASE_CPU, PHASE_DB, PHASE_OTHER };

/* Reads the next phase from a Server-Timing list, in either the header's own
 * form (`cpu;dur=0.5, db;dur=10.1`) or the compact `cpu:0.5;db:10.1`. */
static const char *next_phase(const char *p, enum phase *kind, double *ms)
{
    while (*p && !(*p >= 'a' && *p <= 'z'))
        p++;
    if (!*p)
        return NULL;
    size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
    *kind = !strncmp(p, "queue", len) && len == 5 ? PHASE_QUEUE
            : !strncmp(p, "cpu", len) && len == 3 ? PHASE_CPU
            : !strncmp(p, "db", len) && len == 2  ? PHASE_DB
                                                  : PHASE_OTHER;
    p += len;
    if (!strncmp(p, ";dur=", 5))
        p += 5;
    else if (*p == ':')
        p++;
    char *end;
    *ms = strtod(p, &end);
    return end;
}

static const char *phase_name[] = {"queue", "cpu", "db", "other"};

/* Writes timeline-segments.csv (one row per phase, laid out so the last phase
 * ends when the response arrived) and timeline-requests.csv. Times are ms from
 * the first request's intended send time of the same config. */
static int derive_timeline(const char *dir, char engines[][128], int n)
{
    char path[PATH_MAX];
    struct table t;
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    if (plot_table_load(path, &t) < 0)
        return 0; /* no timeline in this sweep: the chart says so */
    snprintf(path, sizeof(path), "%s/timeline-segments.csv", dir);
    FILE *seg = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", dir);
    FILE *req = fopen(path, "w");
    if (!seg || !req) {
        if (seg)
            fclose(seg);
        if (req)
            fclose(req);
        table_free(&t);
        return -EIO;
    }
    fprintf(seg, "engine_index,engine,request,start_ms,end_ms,phase,phase_index\n");
    fprintf(req, "engine_index,engine,request,intended_ms,sent_ms,done_ms,response_ms\n");
    for (int e = 0; e < n; e++) {
        double origin = NAN;
        int k = 0;
        for (int r = 0; r < t.nrows; r++)
            if (!strcmp(get(&t, r, "engine"), engines[e]) &&
                (isnan(origin) || num(&t, r, "intended_us") < origin))
                origin = num(&t, r, "intended_us");
        for (int r = 0; r < t.nrows; r++) {
            if (strcmp(get(&t, r, "engine"), engines[e]))
                continue;
            double intended = (num(&t, r, "intended_us") - origin) / 1e3;
            double sent = (num(&t, r, "sent_us") - origin) / 1e3;
            double done = (num(&t, r, "done_us") - origin) / 1e3;
            if (done <= 0)
                continue; /* never answered: no bar */
            k++;
            fprintf(req, "%d,%s,%d,%.3f,%.3f,%.3f,%.3f\n", e + 1, engines[e], k, intended, sent,
                    done, done - intended);
            double total = 0, ms;
            enum phase kind;
            for (const char *p = get(&t, r, "phases"); (p = next_phase(p, &kind, &ms));)
                total += ms;
            double at = done - total < sent ? sent : done - total;
            for (const char *p = get(&t, r, "phases"); (p = next_phase(p, &kind, &ms)); at += ms)
                fprintf(seg, "%d,%s,%d,%.3f,%.3f,%s,%d\n", e + 1, engines[e], k, at, at + ms,
                        phase_name[kind], kind);
        }
    }
    fclose(seg);
    fclose(req);
    table_free(&t);
    return 0;
}

/* ---- the command ---- */

static const char plot_usage[] = "usage: overlap plot DIR [--scripts DIR]\n"
                                 "  redraws every chart of a results folder and its report.html\n";

int plot_main(int argc, char **argv)
{
    const char *scripts = OVERLAP_PLOTS_DIR, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scripts") && i + 1 < argc)
            scripts = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(plot_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || arg) {
            fprintf(stderr, "overlap plot: unexpected argument '%s'\n%s", argv[i], plot_usage);
            return 2;
        } else
            arg = argv[i];
    }
    if (!arg) {
        fputs(plot_usage, stderr);
        return 2;
    }
    return plot_dir(arg, scripts);
}

int plot_dir(const char *arg, const char *scripts)
{
    char dir[PATH_MAX], path[PATH_MAX], vars[1024], err[512], engines[64][128];
    struct table runs;
    if (!realpath(arg, dir)) {
        fprintf(stderr, "overlap plot: %s: %s\n", arg, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (plot_table_load(path, &runs) < 0) {
        fprintf(stderr, "overlap plot: %s: not a results folder (no readable runs.csv)\n", dir);
        return 1;
    }
    int n = read_engines(dir, engines, 64), status = 0;
    snprintf(path, sizeof(path), "%s/logs", dir);
    mkdir(path, 0755);
    pick_spectrum_runs(&runs, engines, n, vars, sizeof(vars));
    if (derive_timeline(dir, engines, n) < 0)
        fprintf(stderr, "overlap plot: cannot write the timeline's tables in %s\n", dir);
    for (int c = 0; c < NCHARTS && status == 0; c++) {
        for (int fmt = 0; fmt < 2 && status == 0; fmt++) {
            if (run_gnuplot(scripts, dir, charts[c], fmt ? "svg" : "png", vars, err, sizeof(err)) <
                0) {
                fprintf(stderr, "overlap plot: %s/%s.gp: %s\n", scripts, charts[c], err);
                status = 1;
            }
        }
    }
    if (status == 0 && write_report(dir, &runs, engines, n) < 0) {
        fprintf(stderr, "overlap plot: cannot write %s/report.html\n", dir);
        status = 1;
    }
    if (status == 0)
        printf("charts and report.html written in %s\n", dir);
    table_free(&runs);
    return status;
}
