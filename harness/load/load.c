/* `overlap load`: flags, the run, and its outputs (the report, the CSV row,
 * the percentile spectrum, the timeline and the figures per request type). The schemas are
 * documented in harness/load/README.md; `overlap bench` reads them by column name. */
#define _GNU_SOURCE
#include "load_internal.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

#define DEFAULT_CLIENTS      10
#define DEFAULT_TIMELINE_MAX 1000
#define TICKS_PER_HALF       5 /* the spectrum's resolution, HdrHistogram's default */
#define EXIT_INTERRUPTED     130
#define MIN_INTERVAL_NS      1000000 /* 1 ms: finer intervals hold a handful of answers */

/* The files a run writes, each opened before it starts. */
enum output {
    OUT_CSV,
    OUT_LATENCY,
    OUT_TIMELINE,
    OUT_HGRM,
    OUT_INTERVALS,
    OUT_BY_REQUEST,
    OUT_HLOG,
    NOUTPUTS
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = 1;
}

static const char usage_text[] =
    "usage: overlap load --target HOST:PORT [flags]\n"
    "\n"
    "  --target HOST:PORT   the HTTP/1.1 server to load (required)\n"
    "  --workload FILE      request paths /NAME drawn by the workload's weights\n"
    "  --path /P            or one path for every request (default /)\n"
    "  --clients C          connections (default 10)\n"
    "  --rate R             open loop at R requests/s in all (default: closed loop)\n"
    "  --arrival KIND       open loop gaps: poisson (default) or uniform\n"
    "  --think DIST         closed loop: pause between requests (`fixed 10ms`, ...)\n"
    "  --duration D         the measured window (default 10s)\n"
    "  --warmup D           load before it, not counted (default 0s)\n"
    "  --timeout D          a request unanswered this long is an error (default 2s)\n"
    "  --goal D             count the answers (2xx, 3xx) within D: within_goal in --csv\n"
    "  --threads T          threads sharing the connections (default 1)\n"
    "  --seed N             PRNG seed: paths, gaps, think times (default 1)\n"
    "  --cpus LIST          pin the generator, e.g. 1 or 2-3\n"
    "  --csv FILE           the summary: a header and one row\n"
    "  --latency-csv FILE   the percentile spectrum\n"
    "  --hgrm FILE          the same in HdrHistogram's text format (values in ms)\n"
    "  --intervals FILE     one row per interval of the window\n"
    "  --interval D         the interval (default 1s)\n"
    "  --timeline FILE      one row per request for the first K requests\n"
    "  --timeline-max K     K (default 1000)\n"
    "  --by-request FILE    one row per request type: its answers, errors and latency\n"
    "  --start-at TIME      open the window at TIME (epoch seconds or ISO 8601 UTC)\n"
    "  --share i/N          open loop: be agent i of N, each at rate/N (see overlap merge)\n"
    "  --hlog FILE          the intervals' latencies as HdrHistogram's interval log\n"
    "\n"
    "Exit status: 0 ok, 1 target down or no request succeeded, 2 usage, 130 interrupted.\n";

struct options {
    struct load_config cfg;
    const char *workload, *cpus, *csv, *latency_csv, *timeline, *hgrm, *intervals, *by_request,
        *hlog;
    const char *interval; /* as given, for its error message */
    bool arrival_set;
};

static int usage_error(const char *fmt, const char *arg)
{
    return proc_usage_error("load", usage_text, fmt, arg);
}

static int parse_duration(const char *flag, const char *text, uint64_t *ns, bool zero_ok)
{
    if (wl_duration_parse(text, ns) < 0 || (!zero_ok && *ns == 0)) {
        fprintf(stderr,
                "overlap load: %s: bad duration '%s' (expected a number and a unit: 500ms, "
                "1.5s%s)\n",
                flag, text, zero_ok ? "" : ", above 0");
        return -1;
    }
    return 0;
}

static int parse_flag(struct options *o, int opt, const char *v)
{
    struct load_config *c = &o->cfg;
    char err[WL_ERR_LEN];
    char *end;
    switch (opt) {
    case 't': c->target = v; return 0;
    case 'w': o->workload = v; return 0;
    case 'p':
        if (v[0] != '/' || strpbrk(v, " \r\n"))
            return usage_error("--path: bad path '%s' (expected /P, no spaces)", v);
        c->path = v;
        return 0;
    case 'c':
        return wl_count_parse(v, 1, LOAD_MAX_CLIENTS, &c->clients) < 0
                   ? usage_error("--clients: bad count '%s' (expected 1 to 65536)", v)
                   : 0;
    case 'T':
        return wl_count_parse(v, 1, LOAD_MAX_THREADS, &c->threads) < 0
                   ? usage_error("--threads: bad count '%s' (expected 1 to 256)", v)
                   : 0;
    case 'r':
        errno = 0;
        c->rate = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(c->rate) || c->rate <= 0 || c->rate > 1e8)
            return usage_error("--rate: bad rate '%s' (expected requests/s above 0)", v);
        return 0;
    case 'a':
        o->arrival_set = true;
        if (!strcmp(v, "poisson"))
            c->arrival = LOAD_POISSON;
        else if (!strcmp(v, "uniform"))
            c->arrival = LOAD_UNIFORM;
        else
            return usage_error("--arrival: unknown '%s' (expected poisson or uniform)", v);
        return 0;
    case 'k':
        if (wl_dist_parse(v, &c->think_dist, err, sizeof(err)) < 0) {
            fprintf(stderr, "overlap load: --think: %s\n", err);
            return 2;
        }
        c->think = true;
        return 0;
    case 'd': return parse_duration("--duration", v, &c->duration_ns, false) < 0 ? 2 : 0;
    case 'W': return parse_duration("--warmup", v, &c->warmup_ns, true) < 0 ? 2 : 0;
    case 'o': return parse_duration("--timeout", v, &c->timeout_ns, false) < 0 ? 2 : 0;
    case 'g': return parse_duration("--goal", v, &c->goal_ns, false) < 0 ? 2 : 0;
    case 's':
        errno = 0;
        c->seed = strtoull(v, &end, 10);
        return errno || end == v || *end || v[0] == '-'
                   ? usage_error("--seed: bad seed '%s' (expected an integer >= 0)", v)
                   : 0;
    case 'C': o->cpus = v; return 0;
    case 'v': o->csv = v; return 0;
    case 'l': o->latency_csv = v; return 0;
    case 'H': o->hgrm = v; return 0;
    case 'I': o->intervals = v; return 0;
    case 'i':
        o->interval = v;
        if (parse_duration("--interval", v, &c->interval_ns, false) < 0)
            return 2;
        return c->interval_ns < MIN_INTERVAL_NS
                   ? usage_error("--interval: '%s' is too short (expected 1ms or more)", v)
                   : 0;
    case 'L': o->timeline = v; return 0;
    case 'B':
        /* getopt takes the next word whatever it is: `--by-request --csv x`
         * would write a file named --csv */
        if (v[0] == '-' || !v[0])
            return usage_error("--by-request: '%s' is not a file name (expected FILE)", v);
        o->by_request = v;
        c->by_request = true;
        return 0;
    case 'A': return load__parse_start_at(c, v);
    case 'S': return load__parse_share(c, v);
    case 'G':
        o->hlog = v;
        c->interval_cells = true;
        return 0;
    case 'K':
        return wl_count_parse(v, 1, 1000000, &c->timeline_max) < 0
                   ? usage_error("--timeline-max: bad count '%s' (expected 1 to 1000000)", v)
                   : 0;
    }
    return usage_error("%s", "unknown flag");
}

/* Whether val is a long flag's that takes a value: getopt_long sets optopt
 * to it when the value is missing, and to 0 for a flag it does not know. */
static bool takes_value(const struct option *longs, int val)
{
    for (; val && longs->name; longs++)
        if (longs->val == val)
            return longs->has_arg == required_argument;
    return false;
}

/* Fills o from argv: 0, or the exit status (0 after --help). */
static int parse_args(int argc, char **argv, struct options *o, int *status)
{
    static const struct option longs[] = {{"target", required_argument, 0, 't'},
                                          {"workload", required_argument, 0, 'w'},
                                          {"path", required_argument, 0, 'p'},
                                          {"clients", required_argument, 0, 'c'},
                                          {"rate", required_argument, 0, 'r'},
                                          {"arrival", required_argument, 0, 'a'},
                                          {"think", required_argument, 0, 'k'},
                                          {"duration", required_argument, 0, 'd'},
                                          {"warmup", required_argument, 0, 'W'},
                                          {"timeout", required_argument, 0, 'o'},
                                          {"goal", required_argument, 0, 'g'},
                                          {"threads", required_argument, 0, 'T'},
                                          {"seed", required_argument, 0, 's'},
                                          {"cpus", required_argument, 0, 'C'},
                                          {"csv", required_argument, 0, 'v'},
                                          {"latency-csv", required_argument, 0, 'l'},
                                          {"hgrm", required_argument, 0, 'H'},
                                          {"intervals", required_argument, 0, 'I'},
                                          {"interval", required_argument, 0, 'i'},
                                          {"timeline", required_argument, 0, 'L'},
                                          {"timeline-max", required_argument, 0, 'K'},
                                          {"by-request", required_argument, 0, 'B'},
                                          {"start-at", required_argument, 0, 'A'},
                                          {"share", required_argument, 0, 'S'},
                                          {"hlog", required_argument, 0, 'G'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    struct load_config *c = &o->cfg;
    int opt;
    c->clients = DEFAULT_CLIENTS;
    c->threads = 1;
    c->duration_ns = 10000000000u;
    c->timeout_ns = 2000000000u;
    c->seed = 1;
    c->timeline_max = DEFAULT_TIMELINE_MAX;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return *status = 0, -1;
        }
        if (opt == '?' && takes_value(longs, optopt)) /* a known flag, last and bare */
            return *status = usage_error("%s: missing value", argv[optind - 1]), -1;
        if (opt == '?' || opt == ':')
            return *status = usage_error("bad or incomplete flag '%s'", argv[optind - 1]), -1;
        if ((*status = parse_flag(o, opt, optarg)) != 0)
            return -1;
    }
    if (optind < argc)
        return *status = usage_error("unexpected argument '%s'", argv[optind]), -1;
    if (!c->target)
        return *status = usage_error("%s", "--target HOST:PORT is required"), -1;
    if (o->workload && c->path)
        return *status = usage_error("%s", "--workload and --path exclude each other"), -1;
    if (o->arrival_set && c->rate <= 0)
        return *status = usage_error("%s", "--arrival needs --rate (open loop)"), -1;
    if (c->think && c->rate > 0)
        return *status = usage_error("%s", "--think is for the closed loop (no --rate)"), -1;
    if (c->interval_ns && (c->duration_ns - 1) / c->interval_ns >= LOAD_MAX_INTERVALS)
        return *status = usage_error("--interval: '%s' cuts the duration into over 10000 "
                                     "intervals (expected a longer one)",
                                     o->interval),
               -1;
    if ((*status = load__check_agent(c)) != 0)
        return -1;
    if (!o->timeline)
        c->timeline_max = 0;
    if (c->threads > c->clients) /* a thread without a connection has nothing to do */
        c->threads = c->clients;
    return 0;
}

/* ---- outputs ---- */

static double ms(uint64_t ns)
{
    return ns / 1e6;
}

static void print_report(const struct load_config *c, const struct load_result *r)
{
    const struct hist *h = r->latency;
    uint64_t errors = r->errors_connect + r->errors_timeout + r->errors_read + r->errors_status;
    printf("overlap load: %s, %s loop, %d clients, %d threads, %.2f s window%s\n", c->target,
           c->rate > 0 ? "open" : "closed", c->clients, c->threads, r->window_s,
           r->interrupted ? " (interrupted)" : "");
    if (c->rate > 0)
        printf("  rate       intended %.1f req/s (%s), achieved %.1f req/s\n", r->intended_rps,
               c->arrival == LOAD_UNIFORM ? "uniform" : "poisson", r->achieved_rps);
    printf("  requests   %lu answered, %.1f req/s ok\n", (unsigned long)r->requests,
           r->throughput_rps);
    printf("  latency    p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f ms\n",
           ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
           ms(hist_percentile(h, 99.9)), ms(hist_max(h)), hist_mean(h) / 1e6);
    if (c->rate > 0) /* closed loop: the same numbers again */
        printf("  uncorrected p50 %.3f  p99 %.3f ms (from the actual send, as coordinated "
               "omission would show)\n",
               ms(hist_percentile(r->uncorrected, 50)), ms(hist_percentile(r->uncorrected, 99)));
    printf("  errors     %lu: connect %lu, timeout %lu, read %lu, status %lu\n",
           (unsigned long)errors, (unsigned long)r->errors_connect,
           (unsigned long)r->errors_timeout, (unsigned long)r->errors_read,
           (unsigned long)r->errors_status);
    printf("  clients    %d connected when the window opened, %d answered in it\n", r->connections,
           r->clients_answered);
    printf("  intervals  %d of %.3g s, throughput CV %.3f\n", r->nintervals,
           (c->interval_ns ? c->interval_ns : LOAD_INTERVAL_NS) / 1e9, r->intervals_cv);
    if (r->cpu_time_seen)
        printf("  server     %.1f us of CPU time in the cpu steps per request (its cpu-time)\n",
               r->cpu_time_ns / 1e3 / r->cpu_time_seen);
    printf("  generator  %.3f s CPU, %.2f us per request\n", r->cpu_s,
           r->requests ? r->cpu_s * 1e6 / r->requests : 0);
    fflush(stdout);
}

/* Closed loop: says when fewer clients took part than were asked for (a
 * server that accepts or serves only some connections makes the rest wait).
 * The open loop needs only as many connections as its rate keeps busy. */
static void warn_absent(const struct load_config *c, const struct load_result *r)
{
    if (c->rate > 0 || r->interrupted || r->clients_answered >= c->clients)
        return;
    fprintf(stderr,
            "overlap load: warning: only %d of %d clients had an answer in the window (%d were "
            "connected when it opened)\n",
            r->clients_answered, c->clients, r->connections);
}

/* Open loop: says when the rate was not met, and whose fault it was. */
static void warn_behind(const struct load_config *c, const struct load_result *r)
{
    if (c->rate <= 0 || r->interrupted)
        return;
    /* against the schedule as drawn: Poisson gaps make R*D itself random */
    if ((r->sent_in_window + 1) * 100 < r->scheduled * 99) /* one request of slack */
        fprintf(stderr,
                "overlap load: warning: sent %.1f req/s of %.1f intended (%lu of %lu scheduled "
                "requests in the window)\n",
                r->achieved_rps, r->intended_rps, (unsigned long)r->sent_in_window,
                (unsigned long)r->scheduled);
    if (r->late * 100 > r->sent)
        fprintf(stderr,
                "overlap load: warning: the generator fell behind: %lu of %lu requests left "
                "over 1 ms late with a connection free (give it more --threads or CPUs)\n",
                (unsigned long)r->late, (unsigned long)r->sent);
    if (r->waited * 100 > r->sent)
        fprintf(stderr,
                "overlap load: warning: %lu of %lu requests waited for a free connection "
                "(the server is slower than the rate, or --clients is too low)\n",
                (unsigned long)r->waited, (unsigned long)r->sent);
}

void load__write_csv(FILE *f, const struct load_config *c, const struct load_result *r)
{
    const struct hist *h = r->latency;
    uint64_t errors = r->errors_connect + r->errors_timeout + r->errors_read + r->errors_status;
    fprintf(f,
            "mode,clients,threads,intended_rps,arrival,duration_s,warmup_s,window_s,requests,"
            "errors,errors_connect,errors_timeout,errors_read,errors_status,throughput_rps,"
            "achieved_rps,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,min_ms,scheduled,sent,waited,"
            "late,load_cpu_s,cpu_us_per_request,interrupted,p50_uncorrected_ms,"
            "p99_uncorrected_ms,connections,clients_answered,intervals_cv,server_cpu_time_us,"
            "within_goal,window_epoch_s\n");
    fprintf(f, "%s,%d,%d,%.3f,%s,%.3f,%.3f,%.3f,%lu,%lu,%lu,%lu,%lu,%lu,%.3f,%.3f,",
            c->rate > 0 ? "open" : "closed", c->clients, c->threads, c->rate,
            c->rate > 0 ? (c->arrival == LOAD_UNIFORM ? "uniform" : "poisson") : "none",
            c->duration_ns / 1e9, c->warmup_ns / 1e9, r->window_s, (unsigned long)r->requests,
            (unsigned long)errors, (unsigned long)r->errors_connect,
            (unsigned long)r->errors_timeout, (unsigned long)r->errors_read,
            (unsigned long)r->errors_status, r->throughput_rps, r->achieved_rps);
    fprintf(f, "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%lu,%lu,%lu,%lu,%.3f,%.3f,%d,",
            ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
            ms(hist_percentile(h, 99.9)), ms(hist_max(h)), hist_mean(h) / 1e6, ms(hist_min(h)),
            (unsigned long)r->scheduled, (unsigned long)r->sent, (unsigned long)r->waited,
            (unsigned long)r->late, r->cpu_s, r->requests ? r->cpu_s * 1e6 / r->requests : 0,
            r->interrupted ? 1 : 0);
    fprintf(f, "%.6f,%.6f,%d,%d,%.6f,", ms(hist_percentile(r->uncorrected, 50)),
            ms(hist_percentile(r->uncorrected, 99)), r->connections, r->clients_answered,
            r->intervals_cv);
    if (r->cpu_time_seen) /* empty for a server that does not send the metric */
        fprintf(f, "%.3f", r->cpu_time_ns / 1e3 / r->cpu_time_seen);
    fputc(',', f);
    if (c->goal_ns > 0) /* empty without --goal: nothing was counted */
        fprintf(f, "%lu", (unsigned long)r->within_goal);
    fprintf(f, ",%.6f\n", r->window_epoch_ns / 1e9);
}

void load__write_latency_csv(FILE *f, const struct load_result *r)
{
    struct hist_iter it;
    struct hist_point p;
    fprintf(f, "percentile,latency_ms,count,inverse\n");
    hist_iter_init(&it, r->latency, TICKS_PER_HALF);
    while (hist_iter_next(&it, &p))
        fprintf(f, "%.12g,%.6f,%lu,%.6g\n", p.percentile, ms(p.value), (unsigned long)p.count,
                p.inverse);
}

void load__write_intervals(FILE *f, const struct load_result *r)
{
    fprintf(f, "time_s,requests,throughput_rps,p50_ms,p99_ms,errors\n");
    for (int i = 0; i < r->nintervals; i++) {
        const struct load_interval *v = &r->intervals[i];
        fprintf(f, "%.3f,%lu,%.3f,%.6f,%.6f,%lu\n", v->end_s, (unsigned long)v->requests,
                v->length_s > 0 ? v->ok / v->length_s : 0, ms(v->p50_ns), ms(v->p99_ns),
                (unsigned long)v->errors);
    }
}

static void write_timeline(FILE *f, const struct load_config *c, const struct load_result *r)
{
    fprintf(f, "request,path,intended_us,sent_us,first_byte_us,done_us,status,phases\n");
    for (int i = 0; i < r->ntimeline; i++) {
        const struct load_timeline *t = &r->timeline[i];
        const char *name = t->request >= 0 ? c->wl->requests[t->request].name : NULL;
        fprintf(f, "%d,%s%s,%lu,%lu,%lu,%lu,%d,%s\n", i + 1, name ? "/" : "",
                name ? name : (c->path ? c->path : "/"), (unsigned long)(t->intended / 1000),
                (unsigned long)(t->sent / 1000), (unsigned long)(t->first_byte / 1000),
                (unsigned long)(t->done / 1000), t->status, t->phases);
    }
}

/* One row per request type, in the workload's order; a type without an
 * answer has its counts and empty latency cells. */
static void write_by_request(FILE *f, const struct load_config *c, const struct load_result *r)
{
    fprintf(f, "request,requests,errors,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms\n");
    for (int i = 0; i < r->nby_request; i++) {
        const struct load_request_figures *x = &r->by_request[i];
        const struct hist *h = x->latency;
        fprintf(f, "%s,%lu,%lu", c->wl ? c->wl->requests[i].name : (c->path ? c->path : "/"),
                (unsigned long)x->requests, (unsigned long)x->errors);
        if (hist_count(h))
            fprintf(f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", hist_mean(h) / 1e6,
                    ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)),
                    ms(hist_percentile(h, 99)), ms(hist_percentile(h, 99.9)), ms(hist_max(h)));
        else
            fputs(",,,,,,\n", f);
    }
}

static void write_outputs(FILE **out, const struct load_config *c, const struct load_result *r)
{
    if (out[OUT_CSV])
        load__write_csv(out[OUT_CSV], c, r);
    if (out[OUT_LATENCY])
        load__write_latency_csv(out[OUT_LATENCY], r);
    if (out[OUT_TIMELINE])
        write_timeline(out[OUT_TIMELINE], c, r);
    if (out[OUT_HGRM])
        hist_write_hgrm(r->latency, out[OUT_HGRM], TICKS_PER_HALF, 1e6); /* in ms */
    if (out[OUT_INTERVALS])
        load__write_intervals(out[OUT_INTERVALS], r);
    if (out[OUT_BY_REQUEST])
        write_by_request(out[OUT_BY_REQUEST], c, r);
    if (out[OUT_HLOG] && load__write_hlog(out[OUT_HLOG], c, r) < 0)
        fprintf(stderr, "overlap load: out of memory writing the interval log\n");
}

/* Opens an output before the run, so a bad path costs nothing. */
static FILE *open_output(const char *path)
{
    if (!path)
        return NULL;
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "overlap load: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int close_output(FILE *f, const char *path)
{
    if (!f)
        return 0;
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "overlap load: error writing %s\n", path);
        return -1;
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int load_main(int argc, char **argv)
{
    struct options o = {0};
    struct load_result res;
    struct wl_workload *wl = NULL;
    char err[LOAD_ERR_LEN];
    FILE *out[NOUTPUTS] = {NULL};
    const char *paths[NOUTPUTS] = {NULL};
    int status = 0;

    if (parse_args(argc, argv, &o, &status) < 0)
        return status;
    paths[OUT_CSV] = o.csv;
    paths[OUT_LATENCY] = o.latency_csv;
    paths[OUT_TIMELINE] = o.timeline;
    paths[OUT_HGRM] = o.hgrm;
    paths[OUT_INTERVALS] = o.intervals;
    paths[OUT_BY_REQUEST] = o.by_request;
    paths[OUT_HLOG] = o.hlog;
    if (o.workload) {
        if (wl_load(o.workload, &wl, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        o.cfg.wl = wl;
    }
    if (o.cpus && proc_pin_cpus(o.cpus) < 0) {
        fprintf(stderr,
                "overlap load: --cpus: cannot pin to '%s' (expected a list like 1 or 2-3)\n",
                o.cpus);
        status = 2;
        goto out;
    }
    for (int i = 0; i < NOUTPUTS; i++)
        if (paths[i] && !(out[i] = open_output(paths[i]))) {
            status = 2;
            goto out;
        }
    install_signals();
    o.cfg.stop = &interrupted;
    if (load_run(&o.cfg, &res, err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap load: %s\n", err);
        status = 1;
        goto out;
    }
    print_report(&o.cfg, &res);
    warn_behind(&o.cfg, &res);
    warn_absent(&o.cfg, &res);
    write_outputs(out, &o.cfg, &res);
    status = res.interrupted ? EXIT_INTERRUPTED : 0;
    if (!res.interrupted && res.ok == 0) {
        fprintf(stderr, "overlap load: no request succeeded\n");
        status = 1;
    }
    load_result_free(&res);
out:
    for (int i = 0; i < NOUTPUTS; i++)
        if (close_output(out[i], paths[i]) < 0 && status == 0)
            status = 1;
    wl_free(wl);
    return status;
}
