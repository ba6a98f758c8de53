/* What the files of `overlap bench` share: the sweep under way, what one run
 * measured, and the functions each file gives the others (one run's
 * processes and measuring, the results folder, the lines the user reads). */
#ifndef OVERLAP_BENCH_SWEEP_H
#define OVERLAP_BENCH_SWEEP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "bench_child.h"
#include "bench_flags.h"
#include "bench_plan.h"
#include "calibrate.h"

struct ext_manifest;
struct bench__args;

#define BENCH__REASON_LEN   512
#define BENCH__LOAD_GRACE_S 20.0 /* a load run may overrun its duration by this much */

/* What the summary table keeps of each finished run (the rest it reads
 * back from summary.csv). */
struct bench__result {
    int ok;
    long rss_kib, threads;
};

/* The load generator's fields copied into runs.csv by name, in this order. */
enum bench__load_field {
    BENCH__REQUESTS,
    BENCH__ERRORS,
    BENCH__THROUGHPUT,
    BENCH__P50,
    BENCH__P90,
    BENCH__P99,
    BENCH__P999,
    BENCH__MAX,
    BENCH__MEAN,
    BENCH__ACHIEVED,
    BENCH__NLOAD
};

/* What one run measured: the load generator's figures, the server's cost
 * and the load generator's, and the checks made of them. */
struct bench__outcome {
    char status[16]; /* "ok" or "failed" */
    char reason[BENCH__REASON_LEN];
    char load[BENCH__NLOAD][32]; /* as the generator wrote them; "" when absent */
    /* the generator's figures the checks read; NAN when it wrote none */
    double load_window_s, connections, clients_answered;
    double workload_cpu_us; /* the server's cpu-time per request: its cpu steps' thread CPU */
    double cpu_user_s, cpu_sys_s, window_s; /* the server, over the sampled window */
    double load_cpu_s;                      /* the generator over the same window; NAN unsampled */
    long peak_rss_kib, threads, fds, vol_ctxsw, invol_ctxsw;
    double throughput, p99_ms;
    int attempts; /* 2 when the run was measured again */
    int stalled;  /* its window answered nothing and nothing failed in it */
    /* PostgreSQL: the engines' role's backends when the window closed and
     * its statements' calls over the window (bench_pg.c), and that window
     * as the counters saw it (from their reset to their reading); NAN
     * otherwise */
    double db_backends, db_calls, db_window_s, db_outside_s;
    double db_reset_epoch_s, db_read_epoch_s; /* the wall clock at the reset and the reading */
    double load_epoch_s, load_warmup_s; /* the generator's window opening (wall clock), warmup */
    int agents_bound; /* a run by load agents: the merge found one at its own limit */
    struct bench__checks checks;
    int flags; /* enum bench__flag */
};

/* What the idle request says of the goal (bench_idle.c). */
enum bench__idle_verdict {
    BENCH__REACHABLE,   /* the idle request meets it, or no run could tell */
    BENCH__MARGINAL,    /* the goal lies within the idle percentile's interval */
    BENCH__UNREACHABLE, /* the idle request's percentile is past it */
};

/* The idle request at a cell (or the workload, outside a map). */
struct bench__idle {
    enum bench__idle_verdict verdict;
    /* the workload's distributions, drawn: the goal's percentile, and the
     * fraction of idle requests within the goal */
    double model_ms, model_within;
    /* the idle run: its rate, requests, those within the goal, their
     * verdict, and the percentile with its 95 % interval (hi INFINITY when
     * its answers were too few to bound it) */
    double rate, requests, within;
    enum capacity_verdict measured;
    double ms, lo_ms, hi_ms;
};

/* One config's capacity at the suite's goal (bench_capacity.c). */
struct bench__capacity {
    struct capacity_result result;
    double bound; /* where the search started from: the config's predicted ceiling */
    int rc;       /* 0, or the error that stopped the search (-EINTR: interrupted) */
    /* not reachable: no search was made (the status says why) */
    enum bench__idle_verdict idle;
    double ideal; /* the ideal system's capacity (sim_capacity); NAN when it has none */
};

/* A judged run's requests, or a probe's runs' pooled: every one sent
 * (answered, refused or lost) and those answered with a success status
 * within the goal. */
struct bench__tally {
    double sent, within;
    int runs;
};

struct bench__sweep {
    struct bench_suite suite;
    struct bench__plan plan; /* reads suite and wl */
    const char *suite_path;  /* the suite file the flags start from */
    char suite_buf[PATH_MAX];
    struct wl_workload *wl;
    char self[PATH_MAX];    /* the overlap binary, for the children */
    char dir[PATH_MAX];     /* the results folder */
    char sockdir[PATH_MAX]; /* private (0700) folder for the database's socket */
    int live;               /* stderr is a terminal: a live progress line */
    int intervals;          /* the load generator writes --intervals (2: and takes --interval) */
    /* --shard I/N: this shard and the count (0 and 0: the whole sweep), the
     * runs the plan made (a goal's probes are numbered after them), each
     * one's shard (bench__shard_assign; NULL unsharded) and this shard's
     * share of them */
    int shard, nshards, planned, shard_runs;
    int *shard_of;
    struct bench__result result[BENCH__MAX_RUNS]; /* parallel to plan.runs */
    int done, failed, again, flagged;
    uint64_t started_ns;
    double cost_done_s; /* the planned cost of the runs done: the ETA's scale */
    struct bench__child db, server;
    struct bench__pg *pg; /* PostgreSQL behind the engines (bench_pg.c); NULL: overlap db */
    /* the machine's, measured on the server's CPUs before the first run; its
     * burner rate goes to every C server (--burn-rate), so all of them do
     * the same work a cpu step */
    struct calibration calibration;
    char db_addr[PATH_MAX], server_addr[128], db_sock[PATH_MAX + 32];
    char server_down[BENCH__REASON_LEN]; /* why the current run cannot be measured, or "" */
    /* why a config's processes did not start: its later runs are not retried */
    char never_started[BENCH_MAX_ENGINES][BENCH__REASON_LEN];
    int ncapacity; /* configs in capacity.csv: 0 until the searches end (every config then) */
    struct bench__capacity capacity[BENCH_MAX_ENGINES];
    int cell;   /* the map's cell under way (1-based), 0 outside the map */
    int ncells; /* cells whose every config was searched */
    struct bench__capacity map[BENCH_MAX_VARY * BENCH_MAX_VARY][BENCH_MAX_ENGINES];
    /* the idle request: [0] outside a map, [c] in cell c */
    struct bench__idle idle[BENCH_MAX_VARY * BENCH_MAX_VARY + 1];
    /* each cell as run: the mean CPU per request, the queries' median wait */
    double map_cpu_us[BENCH_MAX_VARY * BENCH_MAX_VARY],
        map_wait_ms[BENCH_MAX_VARY * BENCH_MAX_VARY];
    /* external engines (bench_ext.c): each ext config's manifest, its
     * build (0 nothing yet, 1 its folder made, 2 built), and the current
     * run's workload as JSON */
    struct ext_manifest *ext[BENCH_MAX_ENGINES];
    int ext_built[BENCH_MAX_ENGINES];
    char ext_json[PATH_MAX + 32];
};

/* Whether run id is this sweep's to run: every run unsharded; a shard's
 * planned runs, and the probes a goal plans as it goes (shard 1 alone runs
 * them). */
static inline int bench__in_shard(const struct bench__sweep *sw, int id)
{
    return !sw->shard_of || id > sw->planned || sw->shard_of[id - 1] == sw->shard;
}

/* Draws dir's charts and report.html with the drawer main.c set (none
 * without one), as `overlap plot DIR` does; a failure is a warning. */
void bench__draw_charts(const char *dir);

/* ---- a config's processes (bench_config.c) ---- */

/* Starts a fresh database and server of run id's config (or recalls why
 * that config never starts); on failure server_down says why. */
void bench__start_config(struct bench__sweep *sw, int id);
void bench__stop_config(struct bench__sweep *sw);

/* 1 while the config's processes are up; else server_down says why (and
 * they are stopped). */
int bench__config_alive(struct bench__sweep *sw);

/* ---- one run (bench_run.c) ---- */

/* Measures run id (1-based) and records it: its row, its merged files, its
 * result and progress line. A run that was unsteady or whose window was
 * short of its responses is measured once more over a longer window (fresh
 * processes again), when the cap allows, and a closed run whose window
 * stalled (nothing answered, nothing failed) once more over the same one:
 * its row is the second's. An interrupted run records nothing. */
void bench__run_point(struct bench__sweep *sw, int id);

/* The flags every load generator of run id takes, alone or as one agent
 * of several: the target, the workload's path as given, clients
 * connections, the timing, threads, seed and interval; no output files. */
void bench__load_args(const struct bench__sweep *sw, int id, double window_s, int clients,
                      const char *workload, struct bench__args *a);

/* Samples the server while the nload generators (or agents' launchers)
 * run, until all have ended: its CPU and switches over the window that
 * opens warmup_s after the call, for window_s, its peaks within it, and a
 * single local generator's CPU over the same window (o->load_cpu_s). Past
 * limit_s they are stopped and o->reason says so. */
void bench__watch_load(struct bench__sweep *sw, int id, struct bench__child *load, int nload,
                       double warmup_s, double window_s, double limit_s, struct bench__outcome *o);

/* ---- load from several hosts (bench_agents.c) ---- */

/* Whether run r's load comes from the suite's load hosts: every open-loop
 * kind (points, probes, the idle run) when the suite names any. A timeline
 * runs here. */
int bench__by_agents(const struct bench__sweep *sw, const struct bench__run *r);

/* Run id's load as one agent per load host, started through the suite's
 * launcher, their interval logs merged by `overlap merge` into the files
 * one generator writes here (runs/NNN-load.csv, ...), the agents' rows in
 * runs/NNN-agents.csv; the server measured meanwhile. 0 once the agents
 * ended (o->reason set when one wrote no log or they overran), -1 with
 * o->reason when they could not start or the sweep was interrupted. */
int bench__agents_run(struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o);

/* ---- external engines (bench_ext.c) ---- */

/* Before the results folder: reads every ext config's manifest. 0, or -1
 * with the reason printed (no manifest, a bad one, PostgreSQL asked for). */
int bench__ext_prepare(struct bench__sweep *sw);
/* Starts config e's server for run id (its build first, once): 0, or -1
 * with server_down saying why. */
int bench__ext_start(struct bench__sweep *sw, int e, int id);
/* After a run: the run's workload JSON goes. */
void bench__ext_stop(struct bench__sweep *sw);
/* At the sweep's end: the manifests, and what the builds left in the
 * private folder. */
void bench__ext_free(struct bench__sweep *sw);

/* ---- PostgreSQL behind the engines (bench_pg.c) ---- */

struct bench__pg;

/* The connection budget C of config e: its own db_connections, else the
 * suite's, else a pool's workers, else SERVE_DEFAULT_WORKERS (the pool's
 * default, so every engine's default budget is the same). */
int bench__db_budget(const struct bench_suite *s, const struct bench_engine *e);

/* Before the results folder: with `database = postgres`, starts `overlap
 * pg` (from this thread: its parent-death signal is this thread's) with the
 * largest budget (db_budget) of any config; with a DSN, checks that it
 * answers. 0 (nothing to do for overlap db),
 * or -1 with the reason printed. */
int bench__pg_open(struct bench__sweep *sw);

/* Stops the cluster (SIGTERM: it removes everything it made), keeps its log
 * in logs/postgres.log when the folder exists, and closes the connections. */
void bench__pg_close(struct bench__sweep *sw);

/* Before run id's server starts: the role's connection limit set to the
 * config's budget, no backend of an earlier server left, and db_addr the
 * engines' DSN. 0, or -1 with server_down saying why. */
int bench__pg_start_config(struct bench__sweep *sw, int id);

/* After run id's server started: waits, up to PG_BUDGET_WAIT_MS, until it
 * holds its whole budget, so every connection is open before the window
 * (a server that opens its connections per client, a thread per
 * connection, is not waited for). A budget never reached is the db-budget
 * flag's to say, at the window's close. */
void bench__pg_await_budget(struct bench__sweep *sw, int id);

/* 1 when the sweep's cluster has ended (reason says why), else 0. */
int bench__pg_ended(struct bench__sweep *sw, char *reason, size_t len);

/* At the window's opening: the statement counters reset. At its close: the
 * role's backends and its statements' calls since, into o, over the span
 * from the reset to the reading less late_s, how long after the load's
 * window ended the reading came. */
void bench__pg_window_open(struct bench__sweep *sw);
void bench__pg_window_close(struct bench__sweep *sw, struct bench__outcome *o, double late_s);

/* Once the generator's figures are read: the counters' span as the part of
 * [reset, reading] in which the generator was sending, from its warmup's
 * start to its window's end by its own wall clock (load.csv's
 * window_epoch_s), in place of the span late_s estimated by the sweep's
 * clock, which cannot see how long the generator took to start; and how
 * much of it lay before the window opened (db_outside_s). */
void bench__pg_window_span(struct bench__outcome *o);

/* Run id's queries per request: its requests.csv's mix of answered
 * request types (the workload's weights when it has none), each type's
 * query steps. */
double bench__pg_queries(const struct bench__sweep *sw, int id);

/* meta.txt's lines of the database: which, and pg_describe's. */
void bench__pg_write_meta(const struct bench__sweep *sw, FILE *f);

/* ---- the results folder (bench_results.c) ---- */

/* Makes out/<suite>-<UTC timestamp>/ (never one that exists) with runs/,
 * logs/ and the runs.csv header, and points out/latest at it. 0, or -1 with
 * a message on stderr. */
int bench__results_open(struct bench__sweep *sw, const char *out);

/* Measures the machine's calibration into sw->calibration, on the
 * server's CPUs; what cannot be measured is NAN, and said so. */
void bench__calibrate(struct bench__sweep *sw);

/* meta.txt: the machine and its calibration (bench__calibrate's), the
 * command as typed, the suite and the plan, whose `runs` are the runs
 * planned. */
int bench__write_meta(const struct bench__sweep *sw, int argc, char **argv);

/* argv on f, each word quoted for /bin/sh where it needs it. */
void bench__print_command(FILE *f, char *const *argv);

/* Sets meta.txt's `runs` to the rows runs.csv holds, once the sweep is over
 * or interrupted: capacity and map probes are planned as the sweep goes,
 * and an interrupted sweep records fewer than it planned. 0, or -errno. */
int bench__finish_meta(const struct bench__sweep *sw);

/* Copies the workload, the suite file and a workload's init script. */
void bench__copy_inputs(const struct bench__sweep *sw);

/* Where run id's NAME goes: DIR/runs/NNN-NAME (or logs/ for a log). */
void bench__run_path(const struct bench__sweep *sw, const char *sub, int id, const char *name,
                     char *path, size_t len);

/* Reads the load generator's row from its CSV into o; 0, or -1 when it
 * wrote none. */
int bench__read_load(const char *path, struct bench__outcome *o);

/* The throughput trend of a load generator's --intervals file (columns
 * time_s, each interval's end from the window's start, and throughput_rps)
 * over the intervals that end within window_s: an open loop's answers after
 * its window (the backlog drained) are no trend of the window's. Not
 * assessable when the file or a column is missing. */
struct bench__trend bench__read_trend(const char *path, double window_s);

/* Appends run id's row to runs.csv with one write(2). */
void bench__write_row(const struct bench__sweep *sw, int id, struct bench__outcome *o);

/* Appends run id's latency spectrum (and timeline) to the sweep's files. */
void bench__merge_run(const struct bench__sweep *sw, int id);

/* ---- what the user reads (bench_progress.c) ---- */

/* On a terminal, the current run's line, rewritten in place. */
void bench__live_line(const struct bench__sweep *sw, int id, double elapsed_s);

/* The line of a finished run: its figures and flags, or why it failed;
 * then the ETA. */
void bench__progress(const struct bench__sweep *sw, int id, const struct bench__outcome *o);

/* The line saying a run is measured again over window_s, and why. */
void bench__progress_again(const struct bench__sweep *sw, int id, const struct bench__outcome *o,
                           double window_s);

/* ---- the capacity at a goal (bench_capacity.c) ---- */

struct csv_table;

/* Searches each config's capacity at the suite's slo, one config after the
 * other, and writes capacity.csv. An interruption ends it; the configs
 * searched so far are written. */
void bench__capacity(struct bench__sweep *sw);

/* Every config's capacity at the suite's goal under the plan's workload
 * (in a map, the cell's: its probes carry sw->cell), after the idle check
 * (into idle): the configs' searches interleaved, a probe each in turn, or
 * none when the idle request rules the goal out (each config then carries
 * the idle verdict); then each config's ideal capacity (sim_capacity). 0,
 * or the error that stopped them (in each config's rc too; -EINTR:
 * interrupted). */
int bench__search_all(struct bench__sweep *sw, struct bench__idle *idle,
                      struct bench__capacity *out);

/* capacity.csv's and map.csv's status word: capacity.h's status with '_'
 * for ' ', `stopped` when an error ended the search, or `unreachable` or
 * `marginal` when the idle request kept it from starting. */
void bench__capacity_status(const struct bench__capacity *c, char *out, size_t len);

/* The upper end of c's bracket widened by its probes' uncertainty: the
 * lowest rate missed, else the bound (no rate past it was probed), else
 * INFINITY. */
double bench__capacity_widened_hi(const struct bench__capacity *c);

/* The columns capacity.csv and map.csv share, from capacity_rps to the
 * idle request's and ideal_rps (bench__capacity_fields writes a row's). */
extern const char bench__capacity_header[];
void bench__capacity_fields(FILE *f, const struct bench__capacity *c,
                            const struct bench__idle *idle);

/* Where a search without a finite bound starts, and the idle run's scale
 * then: a rate any engine here should meet. */
#define BENCH__START_WITHOUT_BOUND 1000.0

/* Plans and measures one judged run of config e at rate (kind a probe's or
 * the idle run's; window_s 0 for the planned window) and adds its requests
 * to t. A failed run, or one without counts, adds the requests its window
 * was to send and none within the goal: a server that cannot be measured
 * at a rate does not meet a goal there. 0, -ENOSPC or -EINTR. */
int bench__judged_run(struct bench__sweep *sw, enum bench__kind kind, int e, double rate,
                      int repeat, double window_s, struct bench__tally *t);

/* Run id's requests from its load.csv: sent and within the goal. 0, or -1
 * when it has no within_goal. */
int bench__run_counts(const struct bench__sweep *sw, int id, double *sent, double *within);

/* The window of `runs` more runs at rate that would bring t to the requests
 * its fraction within the goal needs to decide (the cap when none would),
 * or 0 when more could not decide: every request was within the goal and
 * even the cap's would be too few to show it met. */
double bench__extension_window(const struct bench__sweep *sw, double rate, int runs,
                               const struct bench__tally *t);

/* ---- the idle request (bench_idle.c) ---- */

/* Before a search (each map cell's, or the capacity's): the idle request
 * under the plan's workload, from its distributions and one run at a tenth
 * of the largest bound, judged against the suite's goal. 0, or the run's
 * error (-EINTR, -ENOSPC). */
int bench__idle_check(struct bench__sweep *sw, struct bench__idle *out);

/* `reachable`, `marginal`, `unreachable`. */
const char *bench__idle_name(enum bench__idle_verdict v);

/* ---- the crossover map (bench_map.c) ---- */

/* Searches every config's capacity in every cell of the suite's vary.cpu x
 * vary.wait, the workload moved to each cell, and writes map.csv after each
 * cell. An interruption ends it with the cells done so far written. */
void bench__map(struct bench__sweep *sw);

/* Whether the workload can move to the map's cells (a cpu step to scale
 * for vary.cpu, a query for vary.wait): asked before any run. 0, or -1
 * with the message printed. */
int bench__map_check(const struct bench__sweep *sw);
/* The workload of cell c, loaded afresh and moved; NULL with a message on
 * stderr when it cannot be (a workload without a cpu step or a query). */
struct wl_workload *bench__cell_workload(const struct bench__sweep *sw, int c);

/* The latency at percentile q of a run's latency spectrum (columns
 * percentile and latency_ms, ascending), linear between neighbours; NAN
 * outside it. */
double bench__spectrum_at(const struct csv_table *t, double q);

/* ---- the summary table (bench_table.c) ---- */

/* What a reader calls config e in the terminal: its label
 * (bench_suite_label_configs), else its spec (bench_progress.c). */
const char *bench__config_name(const struct bench__sweep *sw, int e);

/* The table on stdout at the end, read from the folder's summary.csv: each
 * config's peak with its interval, ceilings, p99s with theirs, memory and
 * the flags its points raised. 0, or -1 when summary.csv cannot be read. */
int bench__print_summary(const struct bench__sweep *sw);

#endif
