/* `overlap merge`: one run of several load agents (`overlap load --share
 * i/N --start-at T --hlog FILE` on as many hosts) made into the figures one
 * `overlap load` writes. Histograms are added, interval by interval (aligned
 * by their wall-clock start) and for the whole window; percentiles are read
 * from the sums, never averaged. Each agent's own rate and CPU are kept
 * beside the merged figures, and an agent at its own limit flags the run
 * generator-bound. */
#define _GNU_SOURCE
#include "load_internal.h"
#include "load_merge.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

#define MERGE_MAX_AGENTS 1024
#define GENERATOR_BUSY                                                                             \
    0.9 /* an agent's thread busy this much of its core: overlap bench's mark                      \
         */
#define SKEW_OF_INTERVAL                                                                           \
    0.1 /* the default bound on the windows' openings: a tenth of an interval */
#define TICKS_PER_HALF 5

static const char usage_text[] =
    "usage: overlap merge [flags] AGENT.hlog...\n"
    "\n"
    "Adds the interval logs of one run's load agents (overlap load --share i/N\n"
    "--start-at T --hlog FILE) and writes what one overlap load would.\n"
    "\n"
    "  --out-csv FILE       the summary row (overlap load --csv), plus agents and flags\n"
    "  --latency-csv FILE   the percentile spectrum of the sum\n"
    "  --hgrm FILE          the same in HdrHistogram's text format (values in ms)\n"
    "  --intervals FILE     one row per interval, the agents' intervals added\n"
    "  --hlog FILE          the added intervals as one interval log\n"
    "  --agents FILE        one row per agent: its rate, CPU and flags\n"
    "  --max-skew D         refuse windows opened further apart (default: interval/10)\n"
    "\n"
    "Exit status: 0 ok, 1 logs unreadable or not of one run, 2 usage.\n";

enum output { OUT_CSV, OUT_LATENCY, OUT_HGRM, OUT_INTERVALS, OUT_HLOG, OUT_AGENTS, NOUTPUTS };

struct merged {
    struct load_config cfg;
    struct load_result res;
    double t0;    /* the earliest window opening, epoch seconds */
    double skew;  /* from it to the latest */
    int nbound;   /* agents at their own limit */
    bool *bound;  /* per agent */
    double *util; /* per agent: CPU per thread per second of its run */
};

/* ---- adding up ---- */

static uint64_t sum_of(const struct load__agent *a, int n, const char *name)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        double x = load__agent_number(&a[i], name);
        s += isnan(x) ? 0 : x;
    }
    return (uint64_t)llround(s);
}

/* Agent i's interval k of the merged window (aligned by wall-clock start),
 * or NULL. */
static const struct hlog_interval *interval_of(const struct load__agent *a, double t0, int k,
                                               int *local)
{
    for (int i = 0; i < a->log.nintervals; i++) {
        const struct hlog_interval *v = &a->log.intervals[i];
        double at = (a->window_epoch_s - t0 + v->start_s) / a->interval_s;
        if (!v->tag[0] && llround(at) == k) {
            *local = (int)llround(v->start_s / a->interval_s);
            return v;
        }
    }
    return NULL;
}

static int count_intervals(const struct load__agent *a, int n, double t0)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < a[i].log.nintervals; k++) {
            const struct hlog_interval *v = &a[i].log.intervals[k];
            long at = llround((a[i].window_epoch_s - t0 + v->start_s) / a[i].interval_s);
            if (!v->tag[0] && at + 1 > count && at < LOAD_MAX_INTERVALS + 1)
                count = (int)at + 1;
        }
    return count;
}

/* Each interval's histograms added: its percentiles, the whole window's sum
 * and, for --hlog, its line. */
static int add_intervals(const struct load__agent *a, int n, struct merged *m, FILE *hlog)
{
    struct load_result *r = &m->res;
    struct hist *h = hist_create();
    int count = count_intervals(a, n, m->t0), local;
    double every = a[0].interval_s;
    r->intervals = calloc((size_t)(count ? count : 1), sizeof(*r->intervals));
    if (!h || !r->intervals)
        return hist_destroy(h), -1;
    r->nintervals = count;
    for (int k = 0; k < count; k++) {
        struct load_interval *out = &r->intervals[k];
        hist_reset(h);
        for (int i = 0; i < n; i++) {
            const struct hlog_interval *v = interval_of(&a[i], m->t0, k, &local);
            if (!v)
                continue;
            hlog_add_to_hist(&v->hist, h);
            if (local >= 0 && local < a[i].nrows) {
                out->ok += a[i].ok[local];
                out->errors += a[i].errors[local];
            }
            out->length_s = v->length_s > out->length_s ? v->length_s : out->length_s;
        }
        out->requests = hist_count(h);
        out->end_s = k * every + out->length_s;
        out->p50_ns = hist_percentile(h, 50);
        out->p99_ns = hist_percentile(h, 99);
        r->ok += out->ok;
        hist_merge(r->latency, h);
        if (hlog)
            hlog_write_interval(hlog, NULL, k * every, out->length_s, h);
    }
    hist_destroy(h);
    return 0;
}

/* The summary: counts added, the window the longest agent's, rates added. */
static void add_summary(const struct load__agent *a, int n, struct merged *m)
{
    struct load_config *c = &m->cfg;
    struct load_result *r = &m->res;
    const char *arrival = load__agent_text(&a[0], "arrival");
    c->target = "merged";
    c->clients = (int)sum_of(a, n, "clients");
    c->threads = (int)sum_of(a, n, "threads");
    c->rate = load__agent_number(&a[0], "intended_rps") > 0 ? a[0].total_rps : 0;
    c->arrival = arrival && !strcmp(arrival, "uniform") ? LOAD_UNIFORM : LOAD_POISSON;
    c->duration_ns = (uint64_t)llround(load__agent_number(&a[0], "duration_s") * 1e9);
    c->warmup_ns = (uint64_t)llround(load__agent_number(&a[0], "warmup_s") * 1e9);
    c->goal_ns = load__agent_text(&a[0], "within_goal")[0] ? 1 : 0;
    r->window_epoch_ns = (uint64_t)llround(m->t0 * 1e9); /* the earliest opening */
    for (int i = 0; i < n; i++) {
        double w = load__agent_number(&a[i], "window_s");
        r->window_s = w > r->window_s ? w : r->window_s;
        r->achieved_rps += load__agent_number(&a[i], "achieved_rps");
        r->cpu_s += load__agent_number(&a[i], "load_cpu_s");
        r->interrupted |= load__agent_number(&a[i], "interrupted") > 0;
        double us = load__agent_number(&a[i], "server_cpu_time_us");
        uint64_t req = (uint64_t)load__agent_number(&a[i], "requests");
        if (!isnan(us)) {
            r->cpu_time_ns += (uint64_t)llround(us * 1e3 * (double)req);
            r->cpu_time_seen += req;
        }
        if (a[i].uncorrected)
            hlog_add_to_hist(&a[i].uncorrected->hist, r->uncorrected);
    }
    r->requests = hist_count(r->latency);
    r->errors_connect = sum_of(a, n, "errors_connect");
    r->errors_timeout = sum_of(a, n, "errors_timeout");
    r->errors_read = sum_of(a, n, "errors_read");
    r->errors_status = sum_of(a, n, "errors_status");
    r->within_goal = sum_of(a, n, "within_goal");
    r->scheduled = sum_of(a, n, "scheduled");
    r->sent = sum_of(a, n, "sent");
    r->waited = sum_of(a, n, "waited");
    r->late = sum_of(a, n, "late");
    r->connections = (int)sum_of(a, n, "connections");
    r->clients_answered = (int)sum_of(a, n, "clients_answered");
    r->intended_rps = c->rate;
    r->throughput_rps = r->window_s > 0 ? r->ok / r->window_s : 0;
    double nominal = c->duration_ns / 1e9;
    r->intervals_cv =
        load__throughput_cv(r, a[0].interval_s, r->window_s < nominal ? r->window_s : nominal);
}

/* An agent at its own limit, as overlap load and overlap bench tell: its
 * threads busy GENERATOR_BUSY of their cores over its run (connects and
 * warmup included), or over 1 % of its requests sent late with a connection
 * free. */
static void find_bound(const struct load__agent *a, int n, struct merged *m)
{
    for (int i = 0; i < n; i++) {
        double cpu = load__agent_number(&a[i], "load_cpu_s");
        double threads = load__agent_number(&a[i], "threads");
        double span = load__agent_number(&a[i], "window_s") + load__agent_number(&a[i], "warmup_s");
        double late = load__agent_number(&a[i], "late"), sent = load__agent_number(&a[i], "sent");
        m->util[i] = threads > 0 && span > 0 ? cpu / threads / span : NAN;
        m->bound[i] = m->util[i] >= GENERATOR_BUSY || late * 100 > sent;
        m->nbound += m->bound[i];
    }
}

/* ---- the outputs ---- */

/* overlap load's row, then the agents and the run's flags. */
static int write_csv(FILE *f, const struct merged *m, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return -1;
    load__write_csv(mem, &m->cfg, &m->res);
    if (fclose(mem) != 0 || !buf)
        return free(buf), -1;
    char *row = strchr(buf, '\n');
    if (!row)
        return free(buf), -1;
    *row++ = '\0';
    row[strcspn(row, "\n")] = '\0';
    fprintf(f, "%s,agents,flags\n%s,%d,%s\n", buf, row, n, m->nbound ? "generator-bound" : "");
    free(buf);
    return 0;
}

static void write_agents(FILE *f, const struct load__agent *a, int n, const struct merged *m)
{
    fprintf(f, "agent,share,file,window_start_s,offset_ms,intended_rps,achieved_rps,requests,"
               "errors,load_cpu_s,cpu_util,late,sent,flags\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%d/%d,%s,%.6f,%.3f,%s,%s,%s,%s,%s,%.4f,%s,%s,%s\n", i, a[i].share_index,
                a[i].share_count, a[i].path, a[i].window_epoch_s,
                (a[i].window_epoch_s - m->t0) * 1e3, load__agent_text(&a[i], "intended_rps"),
                load__agent_text(&a[i], "achieved_rps"), load__agent_text(&a[i], "requests"),
                load__agent_text(&a[i], "errors"), load__agent_text(&a[i], "load_cpu_s"),
                m->util[i], load__agent_text(&a[i], "late"), load__agent_text(&a[i], "sent"),
                m->bound[i] ? "generator-bound" : "");
}

static void print_report(const struct load__agent *a, int n, const struct merged *m)
{
    const struct load_result *r = &m->res;
    const struct hist *h = r->latency;
    printf("overlap merge: %d agents, %.2f s window, windows opened within %.3f ms\n", n,
           r->window_s, m->skew * 1e3);
    printf("  rate       intended %.1f req/s, achieved %.1f req/s\n", r->intended_rps,
           r->achieved_rps);
    printf("  requests   %lu answered, %.1f req/s ok\n", (unsigned long)r->requests,
           r->throughput_rps);
    printf("  latency    p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms\n",
           hist_percentile(h, 50) / 1e6, hist_percentile(h, 90) / 1e6, hist_percentile(h, 99) / 1e6,
           hist_percentile(h, 99.9) / 1e6, hist_max(h) / 1e6);
    for (int i = 0; i < n; i++)
        printf("  agent %d    share %d/%d, %.1f req/s achieved, %.3f s CPU (%.0f %% of a core)%s\n",
               i, a[i].share_index, a[i].share_count, load__agent_number(&a[i], "achieved_rps"),
               load__agent_number(&a[i], "load_cpu_s"), m->util[i] * 100,
               m->bound[i] ? ", generator-bound" : "");
    if (m->nbound)
        fprintf(stderr,
                "overlap merge: warning: %d agent%s at its own limit: the run is "
                "generator-bound\n",
                m->nbound, m->nbound > 1 ? "s" : "");
    fflush(stdout);
}

/* ---- the command ---- */

struct options {
    const char *paths[NOUTPUTS];
    double max_skew_s; /* < 0: a tenth of the interval */
};

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {{"out-csv", required_argument, 0, OUT_CSV},
                                          {"latency-csv", required_argument, 0, OUT_LATENCY},
                                          {"hgrm", required_argument, 0, OUT_HGRM},
                                          {"intervals", required_argument, 0, OUT_INTERVALS},
                                          {"hlog", required_argument, 0, OUT_HLOG},
                                          {"agents", required_argument, 0, OUT_AGENTS},
                                          {"max-skew", required_argument, 0, 's'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int opt;
    uint64_t ns;
    o->max_skew_s = -1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        if (opt == 's') {
            if (wl_duration_parse(optarg, &ns) < 0)
                return proc_usage_error("merge", usage_text,
                                        "--max-skew: bad duration '%s' (expected 50ms, 1s)",
                                        optarg);
            o->max_skew_s = ns / 1e9;
        } else if (opt >= 0 && opt < NOUTPUTS && optarg[0] != '-') {
            o->paths[opt] = optarg;
        } else {
            return proc_usage_error("merge", usage_text, "bad or incomplete flag '%s'",
                                    argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return proc_usage_error("merge", usage_text, "%s", "no AGENT.hlog given");
    if (argc - optind > MERGE_MAX_AGENTS)
        return proc_usage_error("merge", usage_text, "%s", "over 1024 agents");
    return -1;
}

static int write_outputs(const struct options *o, const struct load__agent *a, int n,
                         struct merged *m)
{
    FILE *out[NOUTPUTS] = {NULL};
    int rc = 0;
    for (int i = 0; i < NOUTPUTS; i++)
        if (o->paths[i] && !(out[i] = fopen(o->paths[i], "w"))) {
            fprintf(stderr, "overlap merge: cannot write %s: %s\n", o->paths[i], strerror(errno));
            rc = 1;
            goto out;
        }
    if (out[OUT_HLOG]) {
        const char *note = "overlap merge: the intervals of one run's agents, added";
        hlog_write_header(out[OUT_HLOG], m->t0, &note, 1);
    }
    if (add_intervals(a, n, m, out[OUT_HLOG]) < 0) {
        fprintf(stderr, "overlap merge: out of memory\n");
        rc = 1;
        goto out;
    }
    add_summary(a, n, m);
    if (out[OUT_HLOG])
        hlog_write_interval(out[OUT_HLOG], "uncorrected", 0, m->res.window_s, m->res.uncorrected);
    find_bound(a, n, m);
    print_report(a, n, m);
    if (out[OUT_CSV] && write_csv(out[OUT_CSV], m, n) < 0)
        rc = 1;
    if (out[OUT_LATENCY])
        load__write_latency_csv(out[OUT_LATENCY], &m->res);
    if (out[OUT_HGRM])
        hist_write_hgrm(m->res.latency, out[OUT_HGRM], TICKS_PER_HALF, 1e6);
    if (out[OUT_INTERVALS])
        load__write_intervals(out[OUT_INTERVALS], &m->res);
    if (out[OUT_AGENTS])
        write_agents(out[OUT_AGENTS], a, n, m);
out:
    for (int i = 0; i < NOUTPUTS; i++)
        if (out[i] && (ferror(out[i]) | fclose(out[i])) && !rc) {
            fprintf(stderr, "overlap merge: error writing %s\n", o->paths[i]);
            rc = 1;
        }
    return rc;
}

int load_merge_main(int argc, char **argv)
{
    struct options o = {0};
    struct merged m = {0};
    struct load__agent *a = NULL;
    char err[LOAD_ERR_LEN];
    int status = parse_args(argc, argv, &o), n = 0;
    if (status >= 0)
        return status;
    int want = argc - optind;
    a = calloc((size_t)want, sizeof(*a));
    m.res.latency = hist_create();
    m.res.uncorrected = hist_create();
    m.bound = calloc((size_t)want, sizeof(*m.bound));
    m.util = calloc((size_t)want, sizeof(*m.util));
    status = 1;
    if (!a || !m.res.latency || !m.res.uncorrected || !m.bound || !m.util) {
        fprintf(stderr, "overlap merge: out of memory\n");
        goto out;
    }
    for (; n < want; n++)
        if (load__agent_read(&a[n], argv[optind + n], err, sizeof(err)) < 0) {
            fprintf(stderr, "overlap merge: %s\n", err);
            goto out;
        }
    double skew = o.max_skew_s >= 0 ? o.max_skew_s : a[0].interval_s * SKEW_OF_INTERVAL;
    if (load__agents_check(a, n, skew, err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap merge: refused: %s\n", err);
        goto out;
    }
    m.t0 = a[0].window_epoch_s;
    double last = m.t0;
    for (int i = 1; i < n; i++) {
        m.t0 = a[i].window_epoch_s < m.t0 ? a[i].window_epoch_s : m.t0;
        last = a[i].window_epoch_s > last ? a[i].window_epoch_s : last;
    }
    m.skew = last - m.t0;
    status = write_outputs(&o, a, n, &m);
out:
    for (int i = 0; i < n; i++)
        load__agent_free(&a[i]);
    free(a);
    free(m.bound);
    free(m.util);
    load_result_free(&m.res);
    return status;
}
