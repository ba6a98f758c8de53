/* `overlap bench` on PostgreSQL: the suite keys and flags that choose the
 * database and the connection budget, each config's budget and the bound it
 * sets, the db-budget and db-calls checks on constructed runs, and sweeps as
 * processes: a one-run sweep on the sweep's own cluster (its columns, its
 * meta.txt lines, nothing left behind), one interrupted by SIGINT (no
 * cluster left), one on a server of the test's whose budget and calls a
 * stray client breaks (both flags raised), and an unreachable DSN (a clear
 * error before any run, no folder). Each sweep runs with TMPDIR set to the
 * test's own folder, so whatever a cluster leaves would be found there. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_flags.h"
#include "bench_sweep.h"
#include "child.h"
#include "csv.h"
#include "sweep.h"

#define SEED OVERLAP_SOURCE_DIR "/workloads/seed.ini"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
    /* as root, postgres runs as another user, who must get through it */
    cr_assert_eq(chmod(tmp, 0711), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(keys, .init = setup, .fini = teardown);
TestSuite(checks);
TestSuite(pgsweep, .init = setup, .fini = teardown, .timeout = 120);

/* ---- suite keys and engine specs ---- */

static int set(struct bench_suite *s, const char *key, const char *value, char *err)
{
    return bench_suite_set(s, key, value, err, BENCH_ERR_LEN);
}

Test(keys, database_values)
{
    static const char *const good[] = {"postgres", "postgresql://bench@:5432/postgres?host=/tmp/x",
                                       "postgres://u@h/db", "host=/tmp user=bench dbname=postgres"};
    struct bench_suite s;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    cr_expect_str_empty(s.database, "overlap db is the default");
    cr_expect_eq(s.db_connections, 0);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_expect_eq(set(&s, "database", good[i], err), 0, "%s: %s", good[i], err);
        cr_expect_str_eq(s.database, good[i]);
    }
    cr_expect_eq(set(&s, "database", "overlap", err), 0);
    cr_expect_str_empty(s.database, "overlap is the simulated database");
    static const char *const bad[] = {"", "mysql", "postgresql", "sqlite://x", "Postgres"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_eq(set(&s, "database", bad[i], err), -1, "accepted '%s'", bad[i]);
        cr_expect(strstr(err, "bad database") && strstr(err, "expected overlap, postgres"),
                  "'%s': %s", bad[i], err);
    }
    char longer[BENCH_DSN_LEN + 8];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, "postgresql://", 13);
    cr_expect_eq(set(&s, "database", longer, err), -1, "a DSN past BENCH_DSN_LEN");
}

Test(keys, db_connections_values)
{
    struct bench_suite s;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    cr_expect_eq(set(&s, "db_connections", "1", err), 0);
    cr_expect_eq(set(&s, "db_connections", "10000", err), 0);
    cr_expect_eq(s.db_connections, 10000);
    static const char *const bad[] = {"0", "-1", "10001", "8x", "", "eight"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_eq(set(&s, "db_connections", bad[i], err), -1, "accepted '%s'", bad[i]);
        cr_expect(strstr(err, "bad db_connections") != NULL, "'%s': %s", bad[i], err);
    }
    cr_expect_eq(s.db_connections, 10000, "a refused value changes nothing");
}

/* A suite file's keys, with the line of a bad one. */
Test(keys, in_a_suite_file)
{
    struct bench_suite s;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    const char *path = child_write_file(tmp, "pg.ini",
                                        "[suite]\nworkload = x.ini\ndatabase = postgres\n"
                                        "db_connections = 16\nengines = pool:workers=8 "
                                        "async:db_connections=32 coro\n");
    cr_assert_eq(bench_suite_load(path, &s, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(s.database, "postgres");
    cr_expect_eq(s.db_connections, 16);
    cr_expect_eq(s.engines[1].db_connections, 32);
    cr_expect_str_eq(s.engines[1].spec, "async:db_connections=32");
    bench_suite_defaults(&s);
    path = child_write_file(tmp, "bad.ini", "[suite]\nname = x\ndatabase = oracle\n");
    cr_expect_eq(bench_suite_load(path, &s, err, sizeof(err)), -1);
    cr_expect(strstr(err, "bad.ini:3: bad database 'oracle'") != NULL, "%s", err);
    bench_suite_defaults(&s);
    path = child_write_file(tmp, "bad2.ini", "[suite]\ndb_connections = 0\n");
    cr_expect_eq(bench_suite_load(path, &s, err, sizeof(err)), -1);
    cr_expect(strstr(err, "bad2.ini:2: bad db_connections '0'") != NULL, "%s", err);
}

Test(keys, engine_budgets)
{
    struct bench_engine e;
    char err[BENCH_ERR_LEN];
    cr_assert_eq(bench_parse_engine("async:db_connections=8", &e, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(e.db_connections, 8);
    cr_assert_eq(bench_parse_engine("pool:workers=4,db_connections=16", &e, err, sizeof(err)), 0);
    cr_expect_eq(e.db_connections, 16);
    static const char *const bad[] = {"async:db_connections=0", "coro:db_connections=10001",
                                      "pool:db_connections=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(bench_parse_engine(bad[i], &e, err, sizeof(err)), -1, "accepted %s", bad[i]);
}

/* Each config's budget: its own, else the suite's, else a pool's workers,
 * else the pool's default; and the bound's workers it caps. */
Test(keys, budget_and_bound)
{
    struct bench_suite s;
    struct bench_engine pool64, pool0, async8, async, pooldef;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    cr_assert_eq(bench_parse_engine("pool:workers=64", &pool64, err, sizeof(err)), 0);
    cr_assert_eq(bench_parse_engine("pool:workers=0,mode=connection", &pool0, err, sizeof(err)), 0);
    cr_assert_eq(bench_parse_engine("async:db_connections=8", &async8, err, sizeof(err)), 0);
    cr_assert_eq(bench_parse_engine("async", &async, err, sizeof(err)), 0);
    cr_assert_eq(bench_parse_engine("pool", &pooldef, err, sizeof(err)), 0);
    cr_expect_eq(bench__db_budget(&s, &pool64), 64);
    cr_expect_eq(bench__db_budget(&s, &pooldef), 64, "the pool's default workers");
    cr_expect_eq(bench__db_budget(&s, &pool0), 64, "a thread per connection: the default");
    cr_expect_eq(bench__db_budget(&s, &async8), 8);
    cr_expect_eq(bench__db_budget(&s, &async), 64);
    s.db_connections = 16;
    cr_expect_eq(bench__db_budget(&s, &pool64), 16, "the suite's over the workers");
    cr_expect_eq(bench__db_budget(&s, &async), 16);
    cr_expect_eq(bench__db_budget(&s, &async8), 8, "the config's over the suite's");
    /* the bound's workers: unchanged without a budget, capped by it */
    cr_expect_eq(bench_config_workers(&async), 0);
    cr_expect_eq(bench_config_workers(&pool64), 64);
    async.db_budget = 8;
    pool64.db_budget = 8;
    pool0.db_budget = 32;
    cr_expect_eq(bench_config_workers(&async), 0, "a loop has no workers");
    cr_expect_eq(bench_config_connections(&async), 8, "a loop bounded by its connections");
    cr_expect_eq(bench_config_workers(&pool64), 8, "64 workers share 8 connections");
    cr_expect_eq(bench_config_connections(&pool64), 0, "a pool's budget is its workers'");
    cr_expect_eq(bench_config_workers(&pool0), 32);
    pool64.db_budget = 100;
    cr_expect_eq(bench_config_workers(&pool64), 64, "the workers when fewer");
    async.db_budget = 0;
    cr_expect_eq(bench_config_connections(&async), 0, "no budget, no bound");
}

/* The shipped suite: the seed workload on the sweep's own cluster, the
 * pool at 8 and 64 workers and the loops at 8 and 64 connections. */
Test(keys, the_shipped_postgres_suite)
{
    struct bench_suite s;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    cr_assert_eq(
        bench_suite_load(OVERLAP_SOURCE_DIR "/harness/suites/postgres.ini", &s, err, sizeof(err)),
        0, "%s", err);
    cr_expect_str_eq(s.name, "postgres");
    cr_expect_str_eq(s.database, "postgres");
    cr_assert_eq(s.nengines, 6);
    static const int budgets[] = {8, 64, 8, 64, 8, 64};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(bench__db_budget(&s, &s.engines[i]), budgets[i], "%s", s.engines[i].spec);
    cr_expect_eq(s.repeats, 3);
    cr_expect(s.nclients > 0 && s.auto_rates, "closed and open loop");
}

/* ---- the checks, on constructed runs ---- */

/* 500 req/s over a 2 s sampled window, one query each, 10 ms responses: 1,000
 * calls expected, 50 of slack (5 %; in flight: 2 x 6 = 12). */
static struct bench__checks pg_run(void)
{
    return (struct bench__checks){.kind = BENCH__CLOSED,
                                  .clients = 5,
                                  .errors = 0,
                                  .throughput_rps = 500,
                                  .mean_ms = 10,
                                  .window_s = 2,
                                  .load_cpu_util = NAN,
                                  .connections = NAN,
                                  .clients_answered = NAN,
                                  .requests = 1000,
                                  .percentile = 99,
                                  .trend = {0, 0, NAN},
                                  .db_connections = 8,
                                  .db_backends = 8,
                                  .db_calls = 1000,
                                  .db_window_s = 2,
                                  .db_queries = 1};
}

/* The counters' span is the part of [reset, reading] in which the
 * generator was sending, by its own wall clock: a generator that started
 * late (its window opening after the sweep thought) still has its calls
 * counted against the time it sent them in. */
Test(checks, the_counters_span_is_the_generators_sending_time_within_reset_and_reading)
{
    struct bench__outcome o = {.db_window_s = 0.4, /* the sweep's own estimate */
                               .db_reset_epoch_s = 1000.0,
                               .db_read_epoch_s = 1000.7,
                               .load_epoch_s = 1000.1, /* warmup from 999.9 */
                               .load_warmup_s = 0.2,
                               .load_window_s = 0.5};
    bench__pg_window_span(&o);
    cr_expect_float_eq(o.db_window_s, 0.6, 1e-9, "reset to the window's end: %.6f", o.db_window_s);
    cr_expect_float_eq(o.db_outside_s, 0.1, 1e-9, "the warmup's part: %.6f", o.db_outside_s);
    o.load_epoch_s = 1000.3; /* warmup from 1000.1, after the reset; ends past the reading */
    bench__pg_window_span(&o);
    cr_expect_float_eq(o.db_window_s, 0.6, 1e-9, "warmup's start to the reading: %.6f",
                       o.db_window_s);
    cr_expect_float_eq(o.db_outside_s, 0.2, 1e-9, "the whole warmup: %.6f", o.db_outside_s);
    o.load_epoch_s = 1001.5; /* the generator sent nothing while the counters counted */
    bench__pg_window_span(&o);
    cr_expect_float_eq(o.db_window_s, 0, 1e-9);
    cr_expect_float_eq(o.db_outside_s, 0, 1e-9);
    o.db_window_s = 0.4;
    o.load_epoch_s = NAN; /* an older generator: the sweep's estimate stays */
    bench__pg_window_span(&o);
    cr_expect_float_eq(o.db_window_s, 0.4, 1e-9);
    o.load_epoch_s = 1000.1;
    o.db_reset_epoch_s = NAN; /* no reset: nothing counted from a known time */
    bench__pg_window_span(&o);
    cr_expect_float_eq(o.db_window_s, 0.4, 1e-9);
}

Test(checks, the_budget_must_be_held_whole)
{
    struct bench__checks c = pg_run();
    sweep_expect_flags(&c, "", "8 of 8");
    c.db_backends = 7;
    sweep_expect_flags(&c, "db-budget", "7 of 8: an engine that opened fewer");
    c.db_backends = 9;
    sweep_expect_flags(&c, "db-budget", "9 of 8");
    c.db_backends = NAN;
    sweep_expect_flags(&c, "", "not counted: not assessable");
    c.db_backends = 3;
    c.db_connections = 0;
    sweep_expect_flags(&c, "", "overlap db: nothing checked");
}

Test(checks, calls_are_the_answered_requests_queries)
{
    struct bench__checks c = pg_run();
    cr_expect_float_eq(bench__db_expected_calls(&c), 1000, 1e-9);
    c.db_calls = 1049;
    sweep_expect_flags(&c, "", "within 5 %");
    c.db_calls = 951;
    sweep_expect_flags(&c, "", "within 5 % below");
    c.db_calls = 1051;
    sweep_expect_flags(&c, "db-calls", "a query too many in 20");
    c.db_calls = 0;
    sweep_expect_flags(&c, "db-calls", "no query at all: answers from a cache");
    c.db_calls = 2000;
    sweep_expect_flags(&c, "db-calls", "every query twice");
    c.db_queries = 2; /* the mix sends two a request */
    sweep_expect_flags(&c, "", "two queries a request");
    /* few requests: those in flight at the window's ends are the slack */
    c = pg_run();
    c.clients = 1;
    c.throughput_rps = 10;
    c.mean_ms = 100;
    c.db_calls = 20 + 4; /* 20 expected, 2 x (1 + 1) of slack */
    sweep_expect_flags(&c, "", "in flight at the ends");
    c.db_calls = 25;
    sweep_expect_flags(&c, "db-calls", "past them");
    /* a counted span partly in the warmup: its queries are slack too */
    c.db_outside_s = 0.1; /* 1 request of 10 req/s */
    sweep_expect_flags(&c, "", "the warmup's tenth of a second");
    c.db_calls = 26;
    sweep_expect_flags(&c, "db-calls", "past the warmup's too");
    c.db_outside_s = 0;
    /* open loop: the requests written in the window, the warmup's late ones
     * among them, are what the server ran there */
    c = pg_run();
    c.kind = BENCH__OPEN;
    c.achieved_rps = 520; /* 40 late ones of the warmup, written in the window */
    cr_expect_float_eq(bench__db_expected_calls(&c), 1040, 1e-9);
    c.db_calls = 1040 + 52;
    sweep_expect_flags(&c, "", "the late ones' queries expected");
    c.achieved_rps = NAN;
    cr_expect_float_eq(bench__db_expected_calls(&c), 1000, 1e-9, "the throughput without it");
    c = pg_run();
    c.clients = 1;
    c.throughput_rps = 10;
    c.mean_ms = 100;
    c.db_calls = 25;
    c.errors = 3;
    sweep_expect_flags(&c, "errors", "a run with errors: its calls are not assessed");
    c = pg_run();
    c.db_calls = NAN;
    sweep_expect_flags(&c, "", "no counters");
    c = pg_run();
    c.db_calls = 0;
    c.db_connections = 0;
    cr_expect(isnan(bench__db_expected_calls(&c)));
    sweep_expect_flags(&c, "", "overlap db");
    c = pg_run();
    c.db_backends = 2;
    c.db_calls = 5;
    sweep_expect_flags(&c, "db-budget;db-calls", "both, in order");
    c.kind = BENCH__TIMELINE;
    sweep_expect_flags(&c, "", "a timeline: errors only");
}

/* ---- sweeps ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The sweep's children see TMPDIR: every cluster and private folder of
 * theirs is made in the test's folder. */
static void sweep_in_tmp(struct sweep_run *r, const char *const *args)
{
    cr_assert_eq(setenv("TMPDIR", tmp, 1), 0);
    sweep_start(r, tmp, args);
    unsetenv("TMPDIR");
}

/* Nothing of a cluster left: no overlap-pg-* or overlap-bench-* folder in
 * the test's folder, and no process whose command line names the folder. */
static void expect_nothing_left(void)
{
    DIR *d = opendir(tmp);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_expect(strncmp(e->d_name, "overlap-", 8) != 0, "%s/%s is left", tmp, e->d_name);
    closedir(d);
    d = opendir("/proc");
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], cmd[4096];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < n; i++)
            cmd[i] = cmd[i] ? cmd[i] : ' ';
        cmd[n] = '\0';
        cr_expect(strstr(cmd, tmp) == NULL || atoi(e->d_name) == getpid(), "process %s is left: %s",
                  e->d_name, cmd);
    }
    closedir(d);
}

/* The engines' PostgreSQL client is someone else's room: when serve
 * refuses a PostgreSQL DSN, say so plainly rather than fail obscurely. */
static void expect_engines_speak_postgres(const struct csv_table *t, const char *err)
{
    for (int i = 0; i < t->nrows; i++) {
        const char *reason = csv_get(t, i, "reason");
        cr_assert(strcmp(csv_get(t, i, "status"), "failed") != 0 || !strstr(reason, "server"),
                  "the engines do not run on PostgreSQL yet (overlap serve --db "
                  "postgresql://...): %s\n%s",
                  reason, err);
    }
}

static const char *const one_run[] = {
    "--workload",       SEED,    "--engines",  "async", "--clients",  "4",
    "--rates",          "none",  "--timeline", "0",     "--duration", "500ms",
    "--warmup",         "200ms", "--repeats",  "1",     "--database", "postgres",
    "--db-connections", "4",     "--no-plot",  NULL};

Test(pgsweep, one_run_on_the_sweeps_own_cluster)
{
    struct sweep_run r;
    sweep_in_tmp(&r, one_run);
    int status = sweep_wait(&r, 90);
    char *err = slurp(r.err), dir[800], path[900];
    sweep_results_dir(&r, dir, sizeof(dir));
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cr_assert_eq(csv_load(path, &t), 0, "no runs.csv\n%s", err);
    cr_assert_eq(t.nrows, 1, "%s", err);
    expect_engines_speak_postgres(&t, err);
    cr_expect_eq(status, 0, "exit %d\n%s", status, err);
    cr_expect_str_eq(csv_get(&t, 0, "status"), "ok", "%s", csv_get(&t, 0, "reason"));
    cr_expect_str_eq(csv_get(&t, 0, "database"), "postgres");
    cr_expect_str_eq(csv_get(&t, 0, "db_connections"), "4");
    cr_expect_str_eq(csv_get(&t, 0, "db_backends"), "4", "the server held its whole budget");
    double calls = csv_num(&t, 0, "db_calls"), want = csv_num(&t, 0, "db_expected_calls");
    cr_expect(want > 0 && fabs(calls - want) <= 0.05 * want + 20, "calls %.0f, expected %.1f",
              calls, want);
    cr_expect(!strstr(csv_get(&t, 0, "flags"), "db-"),
              "flags %s: calls %s, expected %s, throughput %s req/s, mean %s ms",
              csv_get(&t, 0, "flags"), csv_get(&t, 0, "db_calls"),
              csv_get(&t, 0, "db_expected_calls"), csv_get(&t, 0, "throughput_rps"),
              csv_get(&t, 0, "mean_ms"));
    /* the bound is the connections': 4 / w with seed's 10 ms query, each
     * connection held only while its query waits */
    cr_expect(fabs(csv_num(&t, 0, "ceiling_rps") - 4 / 0.010) < 0.5, "ceiling %s",
              csv_get(&t, 0, "ceiling_rps"));
    csv_free(&t);
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    char *meta = slurp(path);
    cr_assert_not_null(meta);
    cr_expect(strstr(meta, "\npostgresql: PostgreSQL 15") || strstr(meta, "\npostgresql: 15"), "%s",
              meta);
    cr_expect(strstr(meta, "\npostgresql_settings: max_connections=7 ") != NULL, "%s", meta);
    cr_expect(strstr(meta, "\ndatabase: postgres") && strstr(meta, "\ndb_role: bench\n"), "%s",
              meta);
    cr_expect(strstr(meta, "\ndb_budgets: async=4\n") != NULL, "%s", meta);
    snprintf(path, sizeof(path), "%s/logs/postgres.log", dir);
    char *log = slurp(path);
    cr_expect(log && strstr(log, "listening postgresql://bench@"), "no cluster log");
    free(log);
    free(meta);
    free(err);
    expect_nothing_left();
}

Test(pgsweep, sigint_mid_sweep_leaves_no_cluster)
{
    static const char *const args[] = {
        "--workload", SEED,       "--engines",  "async pool:workers=4",
        "--clients",  "4",        "--rates",    "none",
        "--timeline", "0",        "--duration", "2s",
        "--warmup",   "200ms",    "--repeats",  "3",
        "--database", "postgres", "--no-plot",  NULL};
    struct sweep_run r;
    char load[800], log[800];
    struct stat st;
    sweep_in_tmp(&r, args);
    snprintf(load, sizeof(load), "%s/results/latest/logs/001-load.log", tmp);
    /* the first run's load generator has started: its 2 s window is under way */
    for (int i = 0; i < 600 && stat(load, &st) < 0 && !waitpid(r.pid, NULL, WNOHANG); i++)
        usleep(50000);
    if (stat(load, &st) < 0) {
        kill(r.pid, SIGKILL);
        sweep_wait(&r, 10);
        char *err = slurp(r.err);
        expect_nothing_left();
        cr_assert_fail("no run got under way (do the engines run on PostgreSQL yet?)\n%s", err);
    }
    usleep(800000);
    kill(r.pid, SIGINT);
    int status = sweep_wait(&r, 60);
    char *err = slurp(r.err);
    cr_expect_eq(status, 130, "exit %d\n%s", status, err);
    free(err);
    snprintf(log, sizeof(log), "%s/results/latest/logs/postgres.log", tmp);
    char *text = slurp(log);
    cr_expect(text && strstr(text, "listening postgresql://"), "the cluster ran: %s", log);
    free(text);
    expect_nothing_left();
}

/* A server of the test's, named by its DSN: the sweep leaves its role's
 * limit alone, and a stray client of the role (one connection more, and
 * queries of its own) breaks the budget and the calls alike. */
struct stray {
    const char *dsn;
    volatile int stop;
};

static void *stray_client(void *arg)
{
    struct stray *s = arg;
    PGconn *conn = PQconnectdb(s->dsn);
    while (PQstatus(conn) == CONNECTION_OK && !s->stop) {
        PQclear(PQexec(conn, "SELECT 1"));
        usleep(500);
    }
    PQfinish(conn);
    return NULL;
}

Test(pgsweep, a_stray_client_breaks_both_checks)
{
    struct child pgc;
    const char *pg_args[] = {"pg", "--dir", tmp, "--workload", SEED, "--connections", "8", NULL};
    cr_assert_eq(child_start(&pgc, pg_args, 60000), 0, "overlap pg did not start");
    struct stray s = {.dsn = pgc.addr};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stray_client, &s), 0);
    const char *args[] = {
        "--workload",       SEED,    "--engines",  "async", "--clients",  "4",
        "--rates",          "none",  "--timeline", "0",     "--duration", "500ms",
        "--warmup",         "200ms", "--repeats",  "1",     "--database", pgc.addr,
        "--db-connections", "4",     "--no-plot",  NULL};
    struct sweep_run r;
    int status = sweep_run(&r, tmp, args, 60);
    s.stop = 1;
    pthread_join(th, NULL);
    child_stop(&pgc, 15000);
    char *err = slurp(r.err), dir[800], path[900];
    sweep_results_dir(&r, dir, sizeof(dir));
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cr_assert_eq(csv_load(path, &t), 0, "no runs.csv\n%s", err);
    cr_assert_eq(t.nrows, 1, "%s", err);
    expect_engines_speak_postgres(&t, err);
    cr_expect_eq(status, 0, "exit %d\n%s", status, err);
    cr_expect_str_eq(csv_get(&t, 0, "database"), "external");
    cr_expect_str_eq(csv_get(&t, 0, "db_backends"), "5", "the server's 4 and the stray");
    cr_expect(strstr(csv_get(&t, 0, "flags"), "db-budget") != NULL, "flags %s",
              csv_get(&t, 0, "flags"));
    cr_expect(strstr(csv_get(&t, 0, "flags"), "db-calls") != NULL, "flags %s (calls %s of %s)",
              csv_get(&t, 0, "flags"), csv_get(&t, 0, "db_calls"),
              csv_get(&t, 0, "db_expected_calls"));
    csv_free(&t);
    free(err);
}

Test(pgsweep, an_unreachable_dsn_fails_before_any_run)
{
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "postgresql://bench@:5432/postgres?host=%s/nowhere", tmp);
    const char *args[] = {"--workload", SEED,         "--engines", "async",     "--clients",
                          "4",          "--database", dsn,         "--no-plot", NULL};
    struct sweep_run r;
    int status = sweep_run(&r, tmp, args, 30);
    char *err = slurp(r.err);
    cr_expect_eq(status, 1, "exit %d\n%s", status, err);
    cr_expect(err && strstr(err, "overlap bench: cannot reach the database ") &&
                  strstr(err, "nowhere"),
              "%s", err);
    struct stat st;
    cr_expect_neq(stat(r.results, &st), 0, "a results folder was made: %s", r.results);
    free(err);
    expect_nothing_left();
}
