/* The capacity at a latency goal (`slo = p99 100ms`): after the sweep's
 * points, each config's highest open-loop rate whose percentile meets the
 * goal, searched by capacity.h from the config's bound. Each probe is an
 * open-loop run repeated like any point (fresh database and server per run,
 * the suite's repeats), its rows in runs.csv with loop `capacity`; the
 * answers go to capacity.csv and the table. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sys/utsname.h>
#include <unistd.h>

#include "csv.h"
#include "proc.h"
#include "sim.h"
#include "stats.h"

/* The bracket's search stays within these factors of its start: a config
 * 1,024 times slower than its bound is a broken model, not a capacity
 * worth the probes; one without a bound is searched up to 64 times the
 * start. A config with a bound is never probed past it: no server sustains
 * more than Little's law allows it, and a short probe past it may still
 * meet the goal only because its backlog had no time to grow. */
#define SEARCH_UP   64.0
#define SEARCH_DOWN 1024.0

struct probe_ctx {
    struct bench__sweep *sw;
    int engine;
};

double bench__spectrum_at(const struct csv_table *t, double q)
{
    for (int i = 1; i < t->nrows; i++) {
        double q0 = csv_num(t, i - 1, "percentile"), q1 = csv_num(t, i, "percentile");
        if (q0 <= q && q <= q1) {
            double v0 = csv_num(t, i - 1, "latency_ms"), v1 = csv_num(t, i, "latency_ms");
            return q1 > q0 ? v0 + (v1 - v0) * (q - q0) / (q1 - q0) : v1;
        }
    }
    return NAN;
}

int bench__run_counts(const struct bench__sweep *sw, int id, double *sent, double *within)
{
    char path[PATH_MAX + 32];
    struct csv_table t;
    bench__run_path(sw, "runs", id, "load.csv", path, sizeof(path));
    if (csv_load(path, &t) < 0)
        return -1;
    int rc = -1;
    if (t.nrows > 0 && *csv_get(&t, t.nrows - 1, "within_goal")) {
        int last = t.nrows - 1;
        /* errors count the refused (answered with an error status) and the
         * lost; requests count every answer, the refused among them */
        *sent = csv_num(&t, last, "requests") + csv_num(&t, last, "errors") -
                csv_num(&t, last, "errors_status");
        *within = csv_num(&t, last, "within_goal");
        rc = isfinite(*sent) && isfinite(*within) ? 0 : -1;
    }
    csv_free(&t);
    return rc;
}

/* Plans, measures and counts one run of config e at rate (the window 0:
 * planned by bench__window_s). A run that failed, or wrote no counts, adds
 * the requests its window was to send, none within the goal: a server that
 * cannot be measured at a rate does not meet a goal there. 0, -ENOSPC or
 * -EINTR. */
int bench__judged_run(struct bench__sweep *sw, enum bench__kind kind, int e, double rate,
                      int repeat, double window_s, struct bench__tally *t)
{
    if (sw->plan.nruns >= BENCH__MAX_RUNS)
        return -ENOSPC;
    struct bench__run *r = &sw->plan.runs[sw->plan.nruns++];
    *r = (struct bench__run){e, kind, 0, rate, repeat, sw->cell, window_s};
    int id = sw->plan.nruns;
    bench__start_config(sw, id);
    bench__run_point(sw, id);
    bench__stop_config(sw);
    if (proc_stopping())
        return -EINTR;
    double sent = 0, within = 0;
    if (!sw->result[id - 1].ok || bench__run_counts(sw, id, &sent, &within) < 0) {
        sent = fmax(1, floor(rate * bench__window_s(&sw->plan, r)));
        within = 0;
    }
    t->sent += sent;
    t->within += within;
    t->runs++;
    return 0;
}

/* The suite's repeats at rate, numbered from first, into t. */
static int probe_round(struct probe_ctx *ctx, double rate, int first, double window_s,
                       struct bench__tally *t)
{
    struct bench__sweep *sw = ctx->sw;
    int repeats = sw->suite.repeats > 0 ? sw->suite.repeats : 1;
    enum bench__kind kind = sw->cell ? BENCH__MAP : BENCH__CAPACITY;
    for (int k = 0; k < repeats; k++) {
        int rc = bench__judged_run(sw, kind, ctx->engine, rate, first + k, window_s, t);
        if (rc < 0)
            return rc;
    }
    return 0;
}

double bench__extension_window(const struct bench__sweep *sw, double rate, int runs,
                               const struct bench__tally *t)
{
    double q = sw->suite.slo.percentile, cap = bench__window_cap_s(&sw->plan);
    if (t->within >= t->sent && t->sent + runs * rate * cap < stats_quantile_min_samples(q / 100))
        return 0;
    double need = capacity_requests_needed(t->within, t->sent, q);
    if (!isfinite(need))
        return cap;
    return fmin(cap, BENCH__WINDOW_MARGIN * (need - t->sent) / (runs * rate));
}

/* probes.csv: one row per probe, its runs' requests pooled, the interval of
 * the fraction within the goal and the verdict the search took. */
static void write_probe(const struct bench__sweep *sw, int e, double rate,
                        const struct bench__tally *t, enum capacity_verdict v)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/probes.csv", sw->dir);
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "overlap bench: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    if (ftell(f) == 0)
        fputs("engine,cell,cpu_us,wait_ms,percentile,goal_ms,rate,runs,requests,within_goal,"
              "fraction,fraction_lo,fraction_hi,verdict\n",
              f);
    fprintf(f, "%s,%d,", sw->suite.engines[e].spec, sw->cell);
    if (sw->cell)
        fprintf(f, "%g,%g", sw->map_cpu_us[sw->cell - 1], sw->map_wait_ms[sw->cell - 1]);
    else
        fputc(',', f);
    fprintf(f, ",%g,%g,%.3f,%d,%.0f,%.0f,", sw->suite.slo.percentile, sw->suite.slo.ms, rate,
            t->runs, t->sent, t->within);
    struct stats_interval iv;
    if (stats_proportion_interval(t->within, t->sent, &iv) == 0)
        fprintf(f, "%.6f,%.6f,%.6f", iv.estimate, iv.lo, iv.hi);
    else
        fputs(",,", f);
    fprintf(f, ",%s\n", capacity_verdict_name(v));
    if (fclose(f) != 0)
        fprintf(stderr, "overlap bench: cannot write %s\n", path);
}

/* The probe capacity_find calls: the suite's repeats at rate, their
 * requests pooled and judged (capacity_judge); an undecided verdict takes
 * one more round of repeats over the window its requests need, within the
 * cap. */
static int probe(void *arg, double rate, enum capacity_verdict *verdict)
{
    struct probe_ctx *ctx = arg;
    struct bench__sweep *sw = ctx->sw;
    int repeats = sw->suite.repeats > 0 ? sw->suite.repeats : 1;
    double q = sw->suite.slo.percentile;
    struct bench__tally t = {0, 0, 0};
    int rc = probe_round(ctx, rate, 1, 0, &t);
    if (rc < 0)
        return rc;
    enum capacity_verdict v = capacity_judge(t.within, t.sent, q);
    double longer = v == CAPACITY_UNDECIDED || v == CAPACITY_TOO_FEW
                        ? bench__extension_window(sw, rate, repeats, &t)
                        : 0;
    if (longer > 0) {
        fprintf(stderr,
                "overlap bench: %s at %.1f req/s: %.0f of %.0f requests within the goal decide "
                "nothing; %d more run%s\n",
                sw->suite.engines[ctx->engine].spec, rate, t.within, t.sent, repeats,
                repeats > 1 ? "s" : "");
        if ((rc = probe_round(ctx, rate, repeats + 1, longer, &t)) < 0)
            return rc;
        v = capacity_judge(t.within, t.sent, q);
    }
    write_probe(sw, ctx->engine, rate, &t, v);
    *verdict = v;
    return 0;
}

/* Config e's search as capacity_find would make it, from its bound. */
static void search_of(const struct bench__sweep *sw, int e, struct capacity_search *s,
                      double *bound)
{
    *bound = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0);
    int bounded = *bound > 0 && *bound <= BENCH_MAX_RATE;
    double start = bounded ? *bound : BENCH__START_WITHOUT_BOUND;
    *s = (struct capacity_search){
        .goal = sw->suite.slo,
        .start_rate = start,
        .min_rate = start / SEARCH_DOWN,
        .max_rate = bounded ? *bound : fmin(start * SEARCH_UP, BENCH_MAX_RATE),
        .tolerance = sw->suite.tolerance,
    };
}

/* Every config's search at once, a probe each in turn, the turn's first
 * config moving on by one each round: a slow minute of the machine falls
 * on all of them, not on one config's whole search. 0, or the error that
 * stopped them (each config's rc). */
static int search_interleaved(struct bench__sweep *sw, struct bench__capacity *out)
{
    int n = sw->suite.nengines, active = n, rc = 0;
    struct capacity_search search[BENCH_MAX_ENGINES];
    struct capacity_state st[BENCH_MAX_ENGINES];
    for (int e = 0; e < n; e++) {
        search_of(sw, e, &search[e], &out[e].bound);
        out[e].idle = BENCH__REACHABLE;
        out[e].rc = capacity_start(&st[e], &search[e]);
    }
    for (int round = 0; active > 0 && rc == 0; round++) {
        active = 0;
        for (int k = 0; k < n && rc == 0; k++) {
            int e = (k + round) % n;
            double rate;
            if (out[e].rc < 0 || !capacity_next(&st[e], &rate))
                continue;
            struct probe_ctx ctx = {sw, e};
            enum capacity_verdict v;
            if ((rc = probe(&ctx, rate, &v)) < 0) {
                st[e].out.probes++;
                break;
            }
            capacity_record(&st[e], v);
            active += capacity_next(&st[e], &rate);
        }
    }
    for (int e = 0; e < n; e++) {
        out[e].result = st[e].out;
        if (rc < 0)
            out[e].rc = rc;
    }
    return rc;
}

/* The kernel's base slice on this machine, as meta.txt records it
 * (`cores:`, `kernel:`) and the report reads it back. */
static double kernel_slice_us(void)
{
    struct utsname u;
    if (uname(&u) < 0 || strcmp(u.sysname, "Linux") != 0)
        return 0;
    return sim_kernel_slice_us((int)sysconf(_SC_NPROCESSORS_ONLN), u.release);
}

/* What config e could reach on a perfect machine under the plan's workload
 * (in a map, the cell's): the simulated capacity at the suite's goal on
 * the server's cores. NAN when the simulator has none (no finite bound, or
 * a loop's PostgreSQL connections, which it does not model). */
static double ideal_rps(const struct bench__sweep *sw, int e, double slice_us)
{
    struct sim_config cfg;
    struct sim_capacity ideal;
    if (bench_config_connections(&sw->suite.engines[e]) > 0)
        return NAN;
    sim_config_engine(&cfg, &sw->suite.engines[e], sw->plan.ncores, slice_us);
    int rc = sim_capacity(sw->plan.wl, &cfg, sw->suite.slo.percentile, sw->suite.slo.ms, &ideal);
    return rc == 0 ? ideal.capacity_rps : NAN;
}

static int search_measured(struct bench__sweep *sw, struct bench__idle *idle,
                           struct bench__capacity *out)
{
    int rc = bench__idle_check(sw, idle);
    if (rc == 0 && idle->verdict == BENCH__REACHABLE)
        return search_interleaved(sw, out);
    /* not searched: the idle request ruled the goal out, or stopped */
    for (int e = 0; e < sw->suite.nengines; e++)
        out[e] = (struct bench__capacity){
            .result = {.hi = INFINITY, .missed = INFINITY},
            .bound = bench__config_bound(&sw->plan, &sw->suite.engines[e], 0),
            .rc = rc,
            .idle = rc < 0 ? BENCH__REACHABLE : idle->verdict};
    return rc;
}

int bench__search_all(struct bench__sweep *sw, struct bench__idle *idle,
                      struct bench__capacity *out)
{
    int rc = search_measured(sw, idle, out);
    double slice_us = kernel_slice_us();
    for (int e = 0; e < sw->suite.nengines; e++)
        out[e].ideal = ideal_rps(sw, e, slice_us);
    return rc;
}

void bench__capacity_status(const struct bench__capacity *c, char *out, size_t len)
{
    const char *why = c->rc < 0                     ? "stopped"
                      : c->idle != BENCH__REACHABLE ? bench__idle_name(c->idle)
                                                    : capacity_status_name(c->result.status);
    snprintf(out, len, "%s", why);
    for (char *p = out; *p; p++)
        if (*p == ' ')
            *p = '_';
}

double bench__capacity_widened_hi(const struct bench__capacity *c)
{
    if (isfinite(c->result.missed))
        return c->result.missed;
    return c->bound > 0 && c->bound <= BENCH_MAX_RATE ? c->bound : INFINITY;
}

const char bench__capacity_header[] =
    "capacity_rps,capacity_lo,capacity_hi,capacity_missed,bound_rps,probes,undecided,status,"
    "idle_model_ms,idle_ms,idle_lo_ms,idle_hi_ms,idle_rate,idle_requests,ideal_rps";

/* A number to a CSV field: empty when not finite (no bound, none missed). */
static void field(FILE *f, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
}

void bench__capacity_fields(FILE *f, const struct bench__capacity *c,
                            const struct bench__idle *idle)
{
    char status[32];
    bench__capacity_status(c, status, sizeof(status));
    fprintf(f, "%.1f,%.1f,", c->result.capacity, c->result.lo);
    field(f, "%.1f", c->result.hi);
    fputc(',', f);
    field(f, "%.1f", c->result.missed);
    fputc(',', f);
    field(f, "%.1f", c->bound <= BENCH_MAX_RATE ? c->bound : NAN);
    fprintf(f, ",%d,%d,%s,", c->result.probes, c->result.undecided, status);
    const struct {
        const char *fmt;
        double v;
    } idle_fields[] = {{"%.3f", idle->model_ms}, {"%.3f", idle->ms},   {"%.3f", idle->lo_ms},
                       {"%.3f", idle->hi_ms},    {"%.1f", idle->rate}, {"%.0f", idle->requests}};
    for (size_t k = 0; k < sizeof(idle_fields) / sizeof(idle_fields[0]); k++) {
        field(f, idle_fields[k].fmt, idle_fields[k].v);
        fputc(',', f);
    }
    field(f, "%.1f", c->ideal);
    fputc('\n', f);
}

/* capacity.csv: one row per config searched. */
static int write_csv(const struct bench__sweep *sw)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/capacity.csv", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "engine,%s\n", bench__capacity_header);
    for (int e = 0; e < sw->ncapacity; e++) {
        fprintf(f, "%s,", sw->suite.engines[e].spec);
        bench__capacity_fields(f, &sw->capacity[e], &sw->idle[0]);
    }
    return fclose(f) == 0 ? 0 : -EIO;
}

void bench__capacity(struct bench__sweep *sw)
{
    fprintf(stderr, "overlap bench: capacity at p%g %g ms, the configs a probe each in turn\n",
            sw->suite.slo.percentile, sw->suite.slo.ms);
    int rc = bench__search_all(sw, &sw->idle[0], sw->capacity);
    if (rc < 0 && rc != -EINTR)
        fprintf(stderr, "overlap bench: capacity search stopped: %s\n", strerror(-rc));
    sw->ncapacity = sw->suite.nengines; /* an interrupted search is written `stopped` */
    if (write_csv(sw) < 0)
        fprintf(stderr, "overlap bench: cannot write %s/capacity.csv\n", sw->dir);
}
