/* `overlap bench`: the command. It reads the suite and the flags over it,
 * plans the runs, opens the results folder and runs the sweep: per run, a
 * fresh database and server, the load point, and the run's row; then
 * summary.csv, the table, and the charts and report.html drawn by `overlap
 * plot`'s own code. The jobs live apart: bench_plan.c (arithmetic),
 * bench_config.c (a config's processes), bench_run.c (one run),
 * bench_flags.c (its checks), bench_child.c (processes), bench_proc.c
 * (/proc), bench_results.c (files), bench_progress.c (progress),
 * bench_table.c (the table), bench_args.c (command lines),
 * bench_capacity.c (the capacity at a goal, after the points). */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "summary.h"
#include "wl.h"

#ifndef OVERLAP_SOURCE_DIR
#define OVERLAP_SOURCE_DIR "."
#endif

static const char bench_usage[] =
    "usage: overlap bench [flags]\n"
    "  runs a sweep into a new results folder, then draws its charts and report.html\n"
    "  --suite FILE            a suite file (default harness/suites/default.ini)\n"
    "  --quick                 the quick suite (harness/suites/quick.ini)\n"
    "  --workload FILE         the workload, overriding the suite's\n"
    "  --engines LIST          engine configs separated by spaces, e.g.\n"
    "                          'pool:workers=64 pool:workers=0,mode=connection async:loops=1'\n"
    "                          or an external engine, ext:NAME (engines/NAME.ini) or\n"
    "                          ext:PATH.ini, with :workers=N or :db_connections=N\n"
    "                          (engines/README.md)\n"
    "  --clients LIST|none     closed-loop client counts, e.g. 1,8,64\n"
    "  --rates LIST|auto|none  open-loop rates in req/s, or auto (fractions of each bound)\n"
    "  --auto-fractions LIST   the fractions auto uses (default 0.1,0.5,0.8,1.0,1.2)\n"
    "  --duration D            measured time per run (e.g. 2s)\n"
    "  --warmup D              unmeasured time before it (e.g. 500ms)\n"
    "  --repeats N             runs per load point, configs interleaved (1 to 20)\n"
    "  --timeline K            requests in the timeline scenario (0: none)\n"
    "  --out DIR               where result folders go (default results)\n"
    "  --server-cpus LIST      CPUs for the server (default 0 on 2+ cores)\n"
    "  --load-cpus LIST        CPUs for the load generator and database (default 1)\n"
    "  --load-threads N        the load generator's threads (default 1)\n"
    "  --slo GOAL|none         after the points, each config's capacity at a latency\n"
    "                          goal, e.g. 'p99 100ms' (capacity.csv)\n"
    "  --capacity-tolerance T  the capacity search's bracket, e.g. 2% (the default)\n"
    "  --vary-cpu LIST|none    the crossover map: CPU per request in each cell, e.g.\n"
    "                          '100us 1ms' (needs --slo; map.csv)\n"
    "  --vary-wait LIST|none   and each query's median latency, e.g. '1ms 20ms'\n"
    "  --database DB           overlap (the simulated database, the default), postgres (a\n"
    "                          throwaway PostgreSQL 15 cluster the sweep runs), or the DSN\n"
    "                          of a PostgreSQL server holding the workload's tables\n"
    "  --db-connections C      the database connection budget of configs that name none\n"
    "                          (default: a pool's workers, else 64)\n"
    "  --no-plot               no charts or report.html at the end (overlap plot DIR\n"
    "                          draws them later)\n"
    "  --shard I/N             run share I of N of the planned runs (1 <= I <= N <= 1000)\n"
    "                          into its own folder: whole points (all their repeats) per\n"
    "                          shard, balanced by planned time, run numbers as in the\n"
    "                          whole sweep; `overlap merge` of the N folders makes the\n"
    "                          sweep's folder and charts (docs/sharding.md). A goal's\n"
    "                          capacity search and map run on shard 1 only. A shard\n"
    "                          draws no charts\n";

static int bench_usage_error(const char *msg, const char *arg)
{
    return proc_usage_error("bench", bench_usage, msg, arg);
}

/* The suite to start from: --suite, --quick, or the default, looked up here
 * and then in the source tree (so a build folder can run it too). */
static const char *pick_suite(int argc, char **argv, char *buf, size_t len)
{
    const char *name = "default.ini";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            name = "quick.ini";
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            return argv[i + 1];
    }
    snprintf(buf, len, "harness/suites/%s", name);
    if (access(buf, R_OK) < 0)
        snprintf(buf, len, "%s/harness/suites/%s", OVERLAP_SOURCE_DIR, name);
    return buf;
}

static int parse_flags(struct bench__sweep *sw, int argc, char **argv, const char **out)
{
    static const struct {
        const char *flag, *key;
    } map[] = {{"--workload", "workload"},
               {"--engines", "engines"},
               {"--clients", "clients"},
               {"--rates", "rates"},
               {"--auto-fractions", "auto_fractions"},
               {"--duration", "duration"},
               {"--warmup", "warmup"},
               {"--repeats", "repeats"},
               {"--timeline", "timeline"},
               {"--server-cpus", "server_cpus"},
               {"--load-cpus", "load_cpus"},
               {"--load-threads", "load_threads"},
               {"--slo", "slo"},
               {"--capacity-tolerance", "capacity_tolerance"},
               {"--vary-cpu", "vary.cpu"},
               {"--vary-wait", "vary.wait"},
               {"--database", "database"},
               {"--db-connections", "db_connections"}};
    char err[BENCH_ERR_LEN];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick") || !strcmp(argv[i], "--no-plot"))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(bench_usage, stdout);
            return 0;
        }
        size_t k = 0;
        while (k < sizeof(map) / sizeof(map[0]) && strcmp(map[k].flag, argv[i]) != 0)
            k++;
        if (k == sizeof(map) / sizeof(map[0]) && strcmp(argv[i], "--suite") != 0 &&
            strcmp(argv[i], "--out") != 0 && strcmp(argv[i], "--shard") != 0)
            return bench_usage_error("unknown flag '%s'", argv[i]);
        if (i + 1 >= argc)
            return bench_usage_error("flag '%s' needs a value", argv[i]);
        const char *flag = argv[i], *value = argv[++i];
        if (!strcmp(flag, "--suite"))
            continue;
        if (!strcmp(flag, "--out")) {
            *out = value;
            continue;
        }
        if (!strcmp(flag, "--shard")) {
            if (bench__shard_parse(value, &sw->shard, &sw->nshards, err, sizeof(err)) < 0)
                return bench_usage_error("%s", err);
            continue;
        }
        if (bench_suite_set(&sw->suite, map[k].key, value, err, sizeof(err)) < 0)
            return bench_usage_error("%s", err);
    }
    return -1;
}

/* Whether the sweep ends by drawing its charts: unless --no-plot. */
static int wants_charts(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-plot"))
            return 0;
    return 1;
}

/* Whether the load generator writes per-interval throughput: 1 when it
 * takes --intervals, 2 when it also takes --interval. One built before that
 * does not, and its runs are then not assessed for a trend. */
static int load_intervals(const struct bench__sweep *sw)
{
    char help[8192];
    char *argv[] = {(char *)sw->self, "load", "--help", NULL};
    if (bench__child_capture(argv, help, sizeof(help)) < 0 || !strstr(help, "--intervals"))
        return 0;
    return strstr(help, "--interval ") ? 2 : 1;
}

static int prepare(struct bench__sweep *sw, int argc, char **argv, const char **out)
{
    char err[WL_ERR_LEN > BENCH_ERR_LEN ? WL_ERR_LEN : BENCH_ERR_LEN];
    bench_suite_defaults(&sw->suite);
    sw->suite_path = pick_suite(argc, argv, sw->suite_buf, sizeof(sw->suite_buf));
    if (bench_suite_load(sw->suite_path, &sw->suite, err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap bench: %s\n", err);
        return 2;
    }
    int status = parse_flags(sw, argc, argv, out);
    if (status >= 0)
        return status;
    struct bench_suite *s = &sw->suite;
    if (!s->workload[0])
        return bench_usage_error("%s", "no workload (expected --workload FILE or a suite's)");
    if (s->auto_rates && s->nfractions == 0) {
        static const double fractions[] = {0.1, 0.5, 0.8, 1.0, 1.2};
        s->nfractions = 5;
        memcpy(s->fractions, fractions, sizeof(fractions));
    }
    int nrates = s->auto_rates ? s->nfractions : s->nrates;
    if (s->nengines == 0 || (s->nclients == 0 && nrates == 0 && s->timeline == 0 && !s->has_slo))
        return bench_usage_error("%s", "nothing to run: give engines, and clients, rates, a "
                                       "timeline or an slo");
    /* an open loop's rate divides among agents; a closed loop's clients
     * answer each other's pace, which agents apart cannot share */
    if (s->nhosts && s->nclients)
        return bench_usage_error("%s", "load_hosts drive open-loop runs only (expected clients "
                                       "= none beside them: a closed loop's clients are not "
                                       "shared among hosts)");
    if (bench_suite_label_configs(s, err, sizeof(err)) < 0)
        return bench_usage_error("%s", err);
    if (bench_suite_has_map(s) && !s->has_slo)
        return bench_usage_error("%s", "vary.cpu and vary.wait map capacities at a latency "
                                       "goal (expected an slo too, e.g. --slo 'p99 100ms')");
    if (wl_load(s->workload, &sw->wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (bench_suite_has_map(s) && bench__map_check(sw) < 0)
        return 2;
    if (bench__ext_prepare(sw) < 0)
        return 2;
    /* on PostgreSQL a connection runs one query at a time: each config's
     * budget bounds it (bench_config_workers, bench_config_connections),
     * from the plan on */
    for (int i = 0; s->database[0] && i < s->nengines; i++)
        s->engines[i].db_budget = bench__db_budget(s, &s->engines[i]);
    sw->plan.suite = s;
    sw->plan.wl = sw->wl;
    sw->plan.ncores =
        s->server_cpus[0] ? proc_count_cpus(s->server_cpus) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    ssize_t n = readlink("/proc/self/exe", sw->self, sizeof(sw->self) - 1);
    if (n <= 0) {
        fprintf(stderr, "overlap bench: cannot find its own binary\n");
        return 1;
    }
    sw->self[n] = '\0';
    sw->intervals = load_intervals(sw);
    return -1;
}

/* A private folder for the database's socket: nobody else can connect. */
static int make_sockdir(struct bench__sweep *sw)
{
    const char *base = getenv("TMPDIR");
    snprintf(sw->sockdir, sizeof(sw->sockdir), "%s/overlap-bench-XXXXXX",
             base && base[0] ? base : "/tmp");
    if (!mkdtemp(sw->sockdir)) {
        fprintf(stderr, "overlap bench: cannot create a private folder in %s: %s\n",
                base && base[0] ? base : "/tmp", strerror(errno));
        sw->sockdir[0] = '\0';
        return -1;
    }
    return 0;
}

static void remove_sockdir(struct bench__sweep *sw)
{
    if (sw->sockdir[0] && rmdir(sw->sockdir) < 0)
        fprintf(stderr, "overlap bench: cannot remove %s: %s\n", sw->sockdir, strerror(errno));
}

static bench_drawer drawer; /* bench_set_drawer's; NULL draws nothing */

void bench_set_drawer(bench_drawer draw)
{
    drawer = draw;
}

/* The charts and report.html, drawn as `overlap plot DIR` draws them. The
 * sweep's files are complete without them, so a chart that fails is a
 * warning, and Ctrl-C stops the drawing as it stops `overlap plot` (the
 * sweep's handlers would only set a flag nobody reads any more). */
void bench__draw_charts(const char *dir)
{
    char *argv[] = {"plot", (char *)dir, NULL};
    if (!drawer)
        return;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    fflush(stdout);
    if (drawer(2, argv) != 0)
        fprintf(stderr,
                "overlap: warning: the charts of %s are not all drawn (above); its runs "
                "and CSV files are complete, and `overlap plot %s` draws them again\n",
                dir, dir);
}

/* A shard's share of the plan (bench__shard_assign): 0, or -1 with the
 * message printed. */
static int pick_shard(struct bench__sweep *sw)
{
    sw->planned = sw->plan.nruns;
    if (!sw->nshards)
        return 0;
    sw->shard_of = malloc(((size_t)sw->plan.nruns + 1) * sizeof(int));
    if (!sw->shard_of || bench__shard_assign(&sw->plan, sw->nshards, sw->shard_of) < 0) {
        fprintf(stderr, "overlap bench: out of memory for the shards\n");
        return -1;
    }
    for (int k = 0; k < sw->plan.nruns; k++)
        sw->shard_runs += sw->shard_of[k] == sw->shard;
    return 0;
}

/* The shard's first line: its runs and their planned time, of the plan's. */
static void print_shard(const struct bench__sweep *sw)
{
    double mine = 0, all = 0;
    for (int k = 0; k < sw->planned; k++) {
        double cost = bench__run_cost_s(&sw->plan, &sw->plan.runs[k]);
        all += cost;
        mine += sw->shard_of[k] == sw->shard ? cost : 0;
    }
    fprintf(stderr,
            "overlap bench: shard %d of %d: %d of the %d runs of %s on %s (planned %.0f s of "
            "%.0f s%s) into %s\n",
            sw->shard, sw->nshards, sw->shard_runs, sw->planned, sw->suite.name, sw->wl->name, mine,
            all, sw->suite.has_slo && sw->shard == 1 ? ", then the goal's searches" : "", sw->dir);
}

/* Each run starts its config's processes afresh and stops them after. A
 * shard runs its own planned runs, in the plan's order. */
static void sweep(struct bench__sweep *sw)
{
    sw->started_ns = proc_now_ns();
    for (int id = 1; id <= sw->plan.nruns && !proc_stopping(); id++) {
        if (!bench__in_shard(sw, id))
            continue;
        bench__start_config(sw, id);
        bench__run_point(sw, id);
        bench__stop_config(sw);
    }
    if (sw->live && proc_stopping())
        fprintf(stderr, "\r\033[K");
}

/* The sweep pins itself to the load CPUs, keeping its sampling off the
 * server's; the database and load generator it starts inherit them. */
static void pin_self(const struct bench__sweep *sw)
{
    const char *cpus = sw->suite.load_cpus;
    if (cpus[0] && proc_pin_cpus(cpus) < 0)
        fprintf(stderr,
                "overlap bench: cannot pin to CPUs %s: the database and load generator "
                "run unpinned\n",
                cpus);
}

int bench_main(int argc, char **argv)
{
    static struct bench__sweep sw; /* large: kept off the stack */
    const char *out = "results";
    int draw = 0;
    memset(&sw, 0, sizeof(sw));
    int status = prepare(&sw, argc, argv, &out);
    if (status >= 0)
        goto done;
    bench__plan_runs(&sw.plan);
    status = 1;
    if (pick_shard(&sw) < 0 || make_sockdir(&sw) < 0)
        goto done;
    if (proc_install_signals() < 0) {
        fprintf(stderr, "overlap bench: cannot install its signal handlers\n");
        goto done;
    }
    pin_self(&sw);
    /* PostgreSQL starts (or answers) before the folder is made: a sweep
     * that cannot have its database writes nothing */
    if (bench__pg_open(&sw) < 0) {
        status = proc_stopping() ? 130 : 1;
        goto done;
    }
    if (bench__results_open(&sw, out) < 0)
        goto done;
    bench__calibrate(&sw);
    if (bench__write_meta(&sw, argc, argv) < 0)
        fprintf(stderr, "overlap bench: cannot write %s/meta.txt\n", sw.dir);
    bench__copy_inputs(&sw);
    sw.live = isatty(2);
    if (sw.nshards)
        print_shard(&sw);
    else
        fprintf(stderr, "overlap bench: %d runs of %s on %s into %s\n", sw.plan.nruns,
                sw.suite.name, sw.wl->name, sw.dir);
    sweep(&sw);
    /* a goal's searches are planned as they go: one shard runs them all */
    if (sw.suite.has_slo && !proc_stopping() && sw.shard <= 1) {
        if (bench_suite_has_map(&sw.suite))
            bench__map(&sw);
        else
            bench__capacity(&sw);
    }
    int rc = bench__finish_meta(&sw);
    if (rc < 0)
        fprintf(stderr, "overlap bench: cannot count the runs in %s/meta.txt: %s\n", sw.dir,
                strerror(-rc));
    char err[BENCH_ERR_LEN];
    if (summary_write(sw.dir, sw.plan.ncores, err, sizeof(err)) < 0)
        fprintf(stderr, "overlap bench: %s\n", err);
    if (proc_stopping()) {
        fprintf(stderr, "overlap bench: interrupted; %d finished runs kept in %s\n", sw.done,
                sw.dir);
        status = 130;
        goto done;
    }
    bench__print_summary(&sw);
    /* every run failed; a shard given no run has failed none */
    status = sw.failed == sw.done && (sw.done > 0 || !sw.nshards) ? 1 : 0;
    /* no finished run draws no chart, and a shard's are the merge's to draw */
    draw = status == 0 && !sw.nshards && wants_charts(argc, argv);
done:
    bench__pg_close(&sw);
    bench__ext_free(&sw);
    remove_sockdir(&sw);
    if (draw)
        bench__draw_charts(sw.dir);
    free(sw.shard_of);
    wl_free(sw.wl);
    return status;
}
