/* A sweep sharded and merged, as processes: a small suite run whole and as
 * three shards (`overlap bench --shard I/3`), the shards merged (`overlap
 * merge`), and the merged folder held against the whole one: the same runs
 * by number, config, loop, point and repeat, the same columns in every CSV,
 * summary.csv's points, the runs' own files, and the same charts drawn.
 * Then the merge's refusals, on folders made by hand: each leaves nothing
 * behind. Nothing here asserts how fast anything ran. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "csv.h"
#include "proc.h"
#include "sweep.h"

#define SUITES  OVERLAP_SOURCE_DIR "/harness/suites"
#define MAX_RUN 10 /* the tiny suite's runs */

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(shard_merge, .init = setup, .fini = teardown);

/* The whole file, "" when empty, NULL when missing. */
static char *slurp(const char *path)
{
    return proc_read_file(path, NULL);
}

/* `overlap ARGS` in tmp, its stderr kept in tmp/cmd.err: the exit status. */
static int run_overlap(const char *const *args)
{
    char err[400];
    snprintf(err, sizeof(err), "%s/cmd.err", tmp);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int o = open("/dev/null", O_WRONLY);
        if (e < 0 || o < 0 || chdir(tmp) < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        const char *argv[32] = {OVERLAP_BIN};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(OVERLAP_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *said(void)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/cmd.err", tmp);
    char *text = slurp(path);
    return text ? text : strdup("");
}

/* The first line of dir/name, or "" without the file. */
static void header_of(const char *dir, const char *name, char *out, size_t len)
{
    char path[900];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (f && fgets(out, (int)len, f))
        out[strcspn(out, "\n")] = '\0';
    if (f)
        fclose(f);
}

static struct csv_table load(const char *dir, const char *name)
{
    char path[900];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cr_assert_eq(csv_load(path, &t), 0, "cannot read %s", path);
    return t;
}

/* Rows a and b agree on these columns, row by row. */
static void expect_same_rows(const char *name, const char *whole, const char *merged,
                             const char *const *cols)
{
    struct csv_table a = load(whole, name), b = load(merged, name);
    cr_expect_eq(a.nrows, b.nrows, "%s: %d rows whole, %d merged", name, a.nrows, b.nrows);
    for (int r = 0; r < a.nrows && r < b.nrows; r++)
        for (int c = 0; cols[c]; c++)
            cr_expect_str_eq(csv_get(&a, r, cols[c]), csv_get(&b, r, cols[c]), "%s row %d: %s",
                             name, r + 1, cols[c]);
    csv_free(&a);
    csv_free(&b);
}

/* The names in dir/sub, sorted, joined by ' ': with keep, those of a run
 * (NNN-...) whose keep[NNN] is set; without, the charts. */
static void names_in(const char *dir, const char *sub, const int *keep, char *out, size_t len)
{
    char path[900];
    struct dirent **list;
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    int n = scandir(path, &list, NULL, alphasort);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name, *dot = strrchr(name, '.');
        int chart = dot && (!strcmp(dot, ".png") || !strcmp(dot, ".svg") || !strcmp(dot, ".html"));
        int run = name[0] >= '0' && name[0] <= '9' ? atoi(name) : 0;
        if ((!keep && chart) || (keep && run > 0 && run <= MAX_RUN && keep[run]))
            used += (size_t)snprintf(out + used, len - used, "%s ", name);
        free(list[i]);
    }
    free(list);
}

/* Rows of dir/name per run (1 to MAX_RUN); none without the file. */
static void rows_per_run(const char *dir, const char *name, int *count)
{
    char path[900];
    struct csv_table t;
    memset(count, 0, (MAX_RUN + 1) * sizeof(int));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (csv_load(path, &t) < 0)
        return;
    for (int r = 0; r < t.nrows; r++) {
        int run = (int)csv_num(&t, r, "run");
        cr_expect(run >= 1 && run <= MAX_RUN, "%s/%s: run %d", dir, name, run);
        count[run >= 1 && run <= MAX_RUN ? run : 0]++;
    }
    csv_free(&t);
}

/* A run of the tiny suite (two configs, a closed and an open point each
 * twice, a timeline each: 10 runs), whole or as a shard; its folder. */
static void sweep_tiny(const char *shard, char *dir, size_t len)
{
    struct sweep_run r;
    const char *args[] = {"--suite",
                          SUITES "/quick.ini",
                          "--clients",
                          "4",
                          "--auto-fractions",
                          "0.5",
                          "--duration",
                          "300ms",
                          "--warmup",
                          "100ms",
                          "--no-plot",
                          shard ? "--shard" : NULL,
                          shard,
                          NULL};
    int status = sweep_run(&r, tmp, args, 120);
    char *err = slurp(r.err);
    cr_assert_eq(status, 0, "overlap bench %s: exit %d\n%s", shard ? shard : "", status, err);
    free(err);
    sweep_results_dir(&r, dir, len);
}

Test(shard_merge, three_shards_merged_are_the_whole_sweep, .timeout = 240)
{
    char whole[800], shard[3][800], merged[900], out[400];
    sweep_tiny(NULL, whole, sizeof(whole));
    for (int i = 0; i < 3; i++) {
        char which[8];
        snprintf(which, sizeof(which), "%d/3", i + 1);
        sweep_tiny(which, shard[i], sizeof(shard[i]));
    }
    /* each shard runs its runs in the plan's order, under their plan's numbers */
    int total = 0;
    for (int i = 0; i < 3; i++) {
        struct csv_table t = load(shard[i], "runs.csv");
        for (int r = 1; r < t.nrows; r++)
            cr_expect_lt(csv_num(&t, r - 1, "run"), csv_num(&t, r, "run"), "shard %d", i + 1);
        total += t.nrows;
        csv_free(&t);
        char drawn[900];
        snprintf(drawn, sizeof(drawn), "%s/report.html", shard[i]);
        cr_expect_neq(access(drawn, F_OK), 0, "shard %d drew its charts", i + 1);
    }
    cr_expect_eq(total, 10, "the shards ran %d runs of 10", total);
    snprintf(out, sizeof(out), "%s/merged", tmp);
    const char *args[] = {"merge", "--out", out, shard[2], shard[0], shard[1], NULL};
    int status = run_overlap(args);
    char *err = said();
    cr_assert_eq(status, 0, "overlap merge: exit %d\n%s", status, err);
    free(err);
    char link[500], target[256];
    snprintf(link, sizeof(link), "%s/latest", out);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    cr_assert_gt(n, 0, "no merged/latest");
    target[n] = '\0';
    snprintf(merged, sizeof(merged), "%s/%s", out, target);

    /* the same runs, numbered alike; the same columns in every file */
    static const char *const run_cols[] = {"run",  "engine", "loop",  "clients",
                                           "rate", "repeat", "label", NULL};
    expect_same_rows("runs.csv", whole, merged, run_cols);
    static const char *const point_cols[] = {"engine", "loop", "clients", "rate", "label", NULL};
    expect_same_rows("summary.csv", whole, merged, point_cols);
    static const char *const files[] = {"runs.csv", "latency.csv", "timeline.csv", "requests.csv",
                                        "summary.csv"};
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char a[4096], b[4096];
        header_of(whole, files[f], a, sizeof(a));
        header_of(merged, files[f], b, sizeof(b));
        cr_expect(a[0] != '\0', "the whole sweep has no %s", files[f]);
        cr_expect_str_eq(a, b, "%s's columns", files[f]);
    }
    /* A run that worked and answered in both (the busy machine may fail
     * one in either, and a failed run has few files; an open point's every
     * request may time out on it, and a run that answered none has no
     * spectrum) has as many rows in the merged files under its number, and
     * its files and logs */
    int ok[MAX_RUN + 1] = {0};
    struct csv_table ra = load(whole, "runs.csv"), rb = load(merged, "runs.csv");
    for (int r = 0; r < ra.nrows && r < rb.nrows && r < MAX_RUN; r++)
        ok[r + 1] = !strcmp(csv_get(&ra, r, "status"), "ok") &&
                    !strcmp(csv_get(&rb, r, "status"), "ok") && csv_num(&ra, r, "requests") > 0 &&
                    csv_num(&rb, r, "requests") > 0;
    csv_free(&ra);
    csv_free(&rb);
    static const char *const per_run[] = {"latency.csv", "timeline.csv", "requests.csv"};
    for (size_t f = 0; f < sizeof(per_run) / sizeof(per_run[0]); f++) {
        int a[MAX_RUN + 1], b[MAX_RUN + 1];
        rows_per_run(whole, per_run[f], a);
        rows_per_run(merged, per_run[f], b);
        for (int k = 1; k <= MAX_RUN; k++) /* a spectrum's length is the run's own */
            if (ok[k] && (f > 0 ? a[k] != b[k] : !a[k] != !b[k]))
                cr_expect_fail("%s: run %d has %d rows whole, %d merged", per_run[f], k, a[k],
                               b[k]);
    }
    static char a[8192], b[8192];
    names_in(whole, "runs", ok, a, sizeof(a));
    names_in(merged, "runs", ok, b, sizeof(b));
    cr_expect_str_eq(a, b, "runs/");
    names_in(whole, "logs", ok, a, sizeof(a));
    names_in(merged, "logs", ok, b, sizeof(b));
    cr_expect_str_eq(a, b, "logs/");

    char *meta = NULL, path[1000];
    snprintf(path, sizeof(path), "%s/meta.txt", merged);
    cr_assert_not_null(meta = slurp(path));
    cr_expect_not_null(strstr(meta, "\nruns: 10\n"), "%s", meta);
    cr_expect_not_null(strstr(meta, "merged_from: 3 shards\n"), "%s", meta);
    cr_expect_not_null(strstr(meta, "\nshard_3_cpu: "), "%s", meta);
    cr_expect_not_null(strstr(meta, "\nengines: pool:workers=4 async\n"), "%s", meta);
    cr_expect_null(strstr(meta, "shard_complete"), "%s", meta);
    free(meta);

    /* the merge drew its charts: the same the whole folder draws */
    const char *plot[] = {"plot", whole, NULL};
    cr_assert_eq(run_overlap(plot), 0, "overlap plot of the whole sweep");
    names_in(whole, ".", NULL, a, sizeof(a));
    names_in(merged, ".", NULL, b, sizeof(b));
    cr_expect(strstr(b, "report.html") && strstr(b, "throughput.svg"), "merged charts: %s", b);
    cr_expect_str_eq(a, b, "the charts drawn");
}

/* With a goal, shard 1 runs the idle request and the search after its
 * points, their runs numbered after the plan's as in a whole sweep; the
 * merge keeps capacity.csv and probes.csv, each probe's runs its own. */
Test(shard_merge, a_goals_search_runs_on_shard_one_after_the_plan, .timeout = 240)
{
    char dir[2][800], out[400], merged[900];
    for (int i = 0; i < 2; i++) {
        struct sweep_run r;
        const char *args[] = {"--suite",
                              SUITES "/quick.ini",
                              "--engines",
                              "async",
                              "--clients",
                              "4",
                              "--rates",
                              "none",
                              "--timeline",
                              "2",
                              "--repeats",
                              "1",
                              "--duration",
                              "300ms",
                              "--warmup",
                              "100ms",
                              "--slo",
                              "p99 100ms",
                              "--capacity-tolerance",
                              "30%",
                              "--no-plot",
                              "--shard",
                              i ? "2/2" : "1/2",
                              NULL};
        int status = sweep_run(&r, tmp, args, 150);
        char *err = slurp(r.err);
        cr_assert_eq(status, 0, "shard %d: exit %d\n%s", i + 1, status, err);
        free(err);
        sweep_results_dir(&r, dir[i], sizeof(dir[i]));
    }
    /* the closed point (the longer) on shard 1, the timeline on shard 2 */
    struct csv_table two = load(dir[1], "runs.csv");
    cr_expect_eq(two.nrows, 1);
    cr_expect_str_eq(csv_get(&two, 0, "loop"), "timeline");
    csv_free(&two);
    char path[900];
    snprintf(path, sizeof(path), "%s/capacity.csv", dir[1]);
    cr_expect_neq(access(path, F_OK), 0, "shard 2 searched");

    snprintf(out, sizeof(out), "%s/merged", tmp);
    const char *args[] = {"merge", "--no-plot", "--out", out, dir[1], dir[0], NULL};
    int status = run_overlap(args);
    char *err = said();
    cr_assert_eq(status, 0, "overlap merge: exit %d\n%s", status, err);
    free(err);
    snprintf(merged, sizeof(merged), "%s/latest", out);
    struct csv_table t = load(merged, "runs.csv");
    /* a busy machine may miss the goal at idle: then no config is searched */
    cr_assert_geq(t.nrows, 3, "the points and the idle run at least");
    int nruns = t.nrows;
    const char *loops[] = {"closed", "timeline", "idle"};
    /* the idle run, and its second over a longer window if it had one (a
     * busy machine's unsteady window is measured again), then the probes */
    int probe = 3;
    while (probe < t.nrows && !strcmp(csv_get(&t, probe, "loop"), "idle"))
        probe++;
    for (int r = 0; r < t.nrows; r++) {
        cr_expect_eq(csv_num(&t, r, "run"), r + 1, "row %d", r + 1);
        cr_expect_str_eq(csv_get(&t, r, "loop"),
                         r < 3       ? loops[r]
                         : r < probe ? "idle"
                                     : "capacity",
                         "run %d", r + 1);
    }
    cr_expect_leq(probe, 4, "the idle run measured again at most once");
    csv_free(&t);
    snprintf(path, sizeof(path), "%s/capacity.csv", merged);
    cr_expect_eq(access(path, R_OK), 0, "no capacity.csv");
    struct sweep_probe probes[32];
    if (nruns > probe)
        cr_expect_gt(sweep_read_probes(merged, "async", 0, probes, 32), 0, "no probes.csv");
}

/* ---- refusals, on shard folders made by hand ---- */

static const char runs_head[] =
    "run,engine,loop,clients,rate,status,throughput_rps,p99_ms,repeat\n";

/* Shard i of n of a 6-run plan (runs i, i + 3: a made-up split) in
 * tmp/NAME, with meta.txt's plan and whether it finished. */
static void fake_shard(const char *name, int i, int n, const char *plan, int complete)
{
    /* the suite's path differs from shard to shard, as on hosts of their own */
    char dir[400], meta[1024], runs[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(meta, sizeof(meta),
             "cpu: test\ncores: 2\ncommand: overlap bench --shard %d/%d\nsuite: tiny (/home/%d/x)\n"
             "workload: seed (y)\nserver_cpus: 0\nrepeats: 2\nengines: async\nruns: 2\n"
             "shard: %d/%d\nshard_plan: %s\nshard_runs: 2\nshard_planned: 6\n%s",
             i, n, i, i, n, plan, complete ? "shard_complete: yes\n" : "");
    snprintf(runs, sizeof(runs),
             "%s%d,async,closed,%d,0,ok,100,5,1\n%d,async,closed,%d,0,ok,110,6,2\n", runs_head, i,
             i, i + 3, i);
    child_write_file(dir, "meta.txt", meta);
    child_write_file(dir, "runs.csv", runs);
    char sub[500];
    snprintf(sub, sizeof(sub), "%s/runs", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/logs", dir);
    mkdir(sub, 0755);
}

/* overlap merge --out tmp/out of these folders (names in tmp): its exit
 * status, with nothing left in tmp/out when it fails. */
static int merge_fakes(const char *const *names, char **message)
{
    char paths[8][400], out[400];
    const char *args[16] = {"merge", "--no-plot", "--out", out};
    int n = 4;
    snprintf(out, sizeof(out), "%s/out", tmp);
    for (int i = 0; names[i]; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/%s", tmp, names[i]);
        args[n++] = paths[i];
    }
    args[n] = NULL;
    int status = run_overlap(args);
    *message = said();
    DIR *d = opendir(out);
    struct dirent *e;
    int left = 0;
    while (status != 0 && d && (e = readdir(d)))
        left += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    cr_expect_eq(left, 0, "a refused merge left %d files in %s", left, out);
    return status;
}

static void expect_refused(const char *const *names, const char *why)
{
    char *message;
    int status = merge_fakes(names, &message);
    cr_expect_eq(status, 1, "merge of %s...: exit %d, want 1 (%s)\n%s", names[0], status, why,
                 message);
    cr_expect(strstr(message, why) != NULL, "no '%s' in:\n%s", why, message);
    free(message);
}

Test(shard_merge, shards_of_one_finished_sweep_or_nothing)
{
    fake_shard("s1", 1, 3, "aaaa", 1);
    fake_shard("s2", 2, 3, "aaaa", 1);
    fake_shard("s3", 3, 3, "aaaa", 1);
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/s3", tmp); /* its last row without a newline */
    child_write_file(dir, "runs.csv",
                     "run,engine,loop,clients,rate,status,throughput_rps,p99_ms,"
                     "repeat\n3,async,closed,3,0,ok,100,5,1\n6,async,closed,3,0,"
                     "ok,110,6,2");
    fake_shard("unfinished3", 3, 3, "aaaa", 0);
    fake_shard("other3", 3, 3, "bbbb", 1);
    fake_shard("four3", 3, 4, "aaaa", 1);
    fake_shard("again2", 2, 3, "aaaa", 1);
    fake_shard("short3", 3, 3, "aaaa", 1);
    fake_shard("twice3", 3, 3, "aaaa", 1);
    fake_shard("probes2", 2, 3, "aaaa", 1);
    fake_shard("columns3", 3, 3, "aaaa", 1);
    snprintf(dir, sizeof(dir), "%s/short3", tmp);
    child_write_file(dir, "runs.csv",
                     "run,engine,loop,clients,rate,status,throughput_rps,p99_ms,"
                     "repeat\n3,async,closed,3,0,ok,100,5,1\n");
    snprintf(dir, sizeof(dir), "%s/twice3", tmp);
    child_write_file(dir, "runs.csv",
                     "run,engine,loop,clients,rate,status,throughput_rps,p99_ms,"
                     "repeat\n2,async,closed,3,0,ok,100,5,1\n6,async,closed,3,"
                     "0,ok,100,5,2\n");
    snprintf(dir, sizeof(dir), "%s/probes2", tmp);
    child_write_file(dir, "runs.csv",
                     "run,engine,loop,clients,rate,status,throughput_rps,p99_ms,"
                     "repeat\n2,async,closed,2,0,ok,100,5,1\n5,async,closed,2,"
                     "0,ok,100,5,2\n7,async,capacity,0,90,ok,90,5,1\n");
    snprintf(dir, sizeof(dir), "%s/columns3", tmp);
    child_write_file(dir, "runs.csv",
                     "run,engine,loop,clients,rate,status,throughput_rps,p99_ms"
                     "\n3,async,closed,3,0,ok,100,5\n6,async,closed,3,0,ok,100,"
                     "5\n");
    char nota[400];
    snprintf(nota, sizeof(nota), "%s/plain", tmp);
    mkdir(nota, 0755);
    child_write_file(nota, "meta.txt", "suite: tiny (x)\nruns: 2\n");

    expect_refused((const char *const[]){"s1", "s2", NULL}, "shard 3/3 missing");
    expect_refused((const char *const[]){"s1", "s2", "again2", "s3", NULL}, "given twice");
    expect_refused((const char *const[]){"s1", "s2", "unfinished3", NULL}, "did not finish");
    expect_refused((const char *const[]){"s1", "s2", "other3", NULL}, "`shard_plan` differ");
    fake_shard("named3", 3, 3, "aaaa", 1);
    snprintf(dir, sizeof(dir), "%s/named3/meta.txt", tmp);
    char *meta = slurp(dir), *name = meta ? strstr(meta, "suite: tiny") : NULL;
    cr_assert_not_null(name);
    memcpy(name, "suite: tinx", 11);
    snprintf(dir, sizeof(dir), "%s/named3", tmp);
    child_write_file(dir, "meta.txt", meta);
    free(meta);
    expect_refused((const char *const[]){"s1", "s2", "named3", NULL}, "`suite` differ");
    expect_refused((const char *const[]){"s1", "s2", "four3", NULL},
                   "four3 of 4 (expected one sweep's)");
    expect_refused((const char *const[]){"s1", "s2", "short3", NULL}, "holds 1 of its 2");
    expect_refused((const char *const[]){"s1", "s2", "twice3", NULL}, "is in two shards");
    expect_refused((const char *const[]){"s1", "probes2", "s3", NULL}, "only shard 1");
    expect_refused((const char *const[]){"s1", "s2", "columns3", NULL}, "columns differ");
    expect_refused((const char *const[]){"s1", "s2", "plain", NULL}, "not a shard");
    expect_refused((const char *const[]){"s1", "s2", "nowhere", NULL}, "not a results folder");

    /* usage errors */
    const char *none[] = {"merge", "--no-plot", NULL}, *bad[] = {"merge", "--bogus", NULL};
    char s1[400];
    snprintf(s1, sizeof(s1), "%s/s1", tmp);
    const char *flag[] = {"merge", "--colour", s1, NULL};
    cr_expect_eq(run_overlap(none), 2);
    cr_expect_eq(run_overlap(bad), 2);
    cr_expect_eq(run_overlap(flag), 2);

    /* and the same shards, all of them, in any order: merged by run number */
    char *message;
    int status = merge_fakes((const char *const[]){"s3", "s1", "s2", NULL}, &message);
    cr_assert_eq(status, 0, "%s", message);
    free(message);
    char path[600], *runs;
    snprintf(path, sizeof(path), "%s/out/latest/runs.csv", tmp);
    cr_assert_not_null(runs = slurp(path));
    char want[1024];
    snprintf(want, sizeof(want), "%s", runs_head);
    for (int k = 1; k <= 6; k++) {
        size_t used = strlen(want);
        snprintf(want + used, sizeof(want) - used, "%d,async,closed,%d,0,ok,%d,%d,%d\n", k,
                 (k - 1) % 3 + 1, k <= 3 ? 100 : 110, k <= 3 ? 5 : 6, k <= 3 ? 1 : 2);
    }
    cr_expect_str_eq(runs, want);
    free(runs);
    snprintf(path, sizeof(path), "%s/out/latest/summary.csv", tmp);
    cr_expect_eq(access(path, R_OK), 0, "no summary.csv");
}

/* Load agents' logs still go to their own merge. */
Test(shard_merge, hlog_files_still_go_to_the_agents_merge)
{
    const char *args[] = {"merge", "missing.hlog", NULL};
    cr_expect_eq(run_overlap(args), 1);
    char *message = said();
    cr_expect(strstr(message, "missing.hlog") != NULL, "%s", message);
    cr_expect_null(strstr(message, "shard"), "%s", message);
    free(message);
}
