/* `overlap compare` run as a user runs it, on small results folders built
 * here: a folder against itself reads no change, a config made 30 % slower
 * reads slower (exit 1) and only it, two configs of one folder, the
 * threshold, every usage error exits 2 with a line naming the file, and
 * the note on two folders' machines when their calibrations differ (or
 * cannot be compared). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "csv.h"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(compare, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

/* tmp/name, made a folder when text is not NULL, with text as its runs.csv. */
static const char *folder(const char *name, const char *text)
{
    static char dirs[4][512];
    static int next;
    char *dir = dirs[next++ % 4], path[600];
    snprintf(dir, sizeof(dirs[0]), "%s/%s", tmp, name);
    if (text) {
        cr_assert_eq(mkdir(dir, 0755), 0);
        snprintf(path, sizeof(path), "%s/runs.csv", dir);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
    }
    return dir;
}

/* A runs.csv of configs pool:workers=8 and async at three points, three
 * repeats each with a few percent of spread, configs interleaved; async's
 * throughput scaled by async_scale. */
static char *sweep(double async_scale)
{
    static const char *points[] = {"closed,8,0.000", "closed,64,0.000", "open,0,500.000"};
    static const double spread[] = {-0.02, 0.0, 0.03};
    static char text[8192];
    int n = snprintf(text, sizeof(text),
                     "run,engine,loop,clients,rate,status,reason,requests,"
                     "throughput_rps,p99_ms,mean_ms,cpu_user_s,cpu_sys_s\n");
    int run = 1;
    for (int r = 0; r < 3; r++)
        for (int p = 0; p < 3; p++)
            for (int e = 0; e < 2; e++) {
                double x = (600 + 100 * p) * (1 + spread[(r + p + e) % 3]) * (e ? async_scale : 1);
                n += snprintf(text + n, sizeof(text) - n, "%d,%s,%s,ok,,%d,%.3f,%.3f,20,0.5,0.1\n",
                              run++, e ? "async" : "pool:workers=8", points[p], (int)(2 * x), x,
                              30 * (1 + spread[(r + e) % 3]));
            }
    return text;
}

/* Runs `overlap compare ARGS` with stdout and stderr in out; the exit status. */
static int run_compare(const char *const *args, char *out, size_t len)
{
    char log[600];
    snprintf(log, sizeof(log), "%s/compare.out", tmp);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *argv[16] = {OVERLAP_BIN, "compare"};
        for (int i = 0; args[i] && i < 13; i++)
            argv[i + 2] = args[i];
        execv(OVERLAP_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The table that --csv wrote, read back. */
static void load_verdicts(struct csv_table *t)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/compare.csv", tmp);
    cr_assert_eq(csv_load(path, t), 0);
}

static const char *csv_path(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/compare.csv", tmp);
    return path;
}

/* ---- comparisons ---- */

Test(compare, a_folder_against_itself_reads_no_change)
{
    char out[16384];
    const char *dir = folder("a", sweep(1));
    const char *args[] = {dir, dir, "--csv", csv_path(), NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "6 points compared: 0 faster, 0 slower, 6 no change"), "%s", out);
    struct csv_table t;
    load_verdicts(&t);
    cr_assert_eq(t.nrows, 6);
    for (int r = 0; r < t.nrows; r++) {
        cr_expect_str_eq(csv_get(&t, r, "throughput_verdict"), "no change");
        cr_expect_str_eq(csv_get(&t, r, "p99_verdict"), "no change");
        cr_expect_str_eq(csv_get(&t, r, "old_repeats"), "3");
    }
    csv_free(&t);
}

Test(compare, the_example_folder_against_itself_reads_no_change)
{
    char out[65536];
    const char *dir = OVERLAP_SOURCE_DIR "/results/example";
    const char *args[] = {dir, dir, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 0);
    cr_expect(strstr(out, "(1 repeat: no interval)"), "one run per point there");
    cr_expect(strstr(out, " 0 faster, 0 slower,"), "%s", out);
}

Test(compare, a_config_made_slower_reads_slower_and_exits_1)
{
    char out[16384];
    const char *old = folder("old", sweep(1)), *new = folder("new", sweep(0.7));
    const char *args[] = {old, new, "--csv", csv_path(), NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    struct csv_table t;
    load_verdicts(&t);
    cr_assert_eq(t.nrows, 6);
    for (int r = 0; r < t.nrows; r++) {
        int async = !strcmp(csv_get(&t, r, "old_engine"), "async");
        cr_expect_str_eq(csv_get(&t, r, "throughput_verdict"), async ? "slower" : "no change",
                         "row %d", r);
        cr_expect_str_eq(csv_get(&t, r, "p99_verdict"), "no change");
        if (async) {
            cr_expect_float_eq(csv_num(&t, r, "throughput_change_pct"), -30, 0.01);
            cr_expect(csv_num(&t, r, "throughput_hi_pct") < -2);
        }
    }
    csv_free(&t);
    const char *back[] = {new, old, NULL};
    cr_expect_eq(run_compare(back, out, sizeof(out)), 0, "faster is no failure");
    cr_expect(strstr(out, "3 faster, 0 slower, 3 no change"), "%s", out);
}

Test(compare, two_configs_of_one_folder)
{
    char out[16384];
    const char *dir = folder("ab", sweep(0.7));
    const char *args[] = {dir, "pool:workers=8", "async", "--csv", csv_path(), NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "3 points compared: 0 faster, 3 slower"), "%s", out);
    struct csv_table t;
    load_verdicts(&t);
    cr_assert_eq(t.nrows, 3);
    cr_expect_str_eq(csv_get(&t, 0, "old_engine"), "pool:workers=8");
    cr_expect_str_eq(csv_get(&t, 0, "new_engine"), "async");
    cr_expect_str_eq(csv_get(&t, 2, "loop"), "open");
    csv_free(&t);
    const char *back[] = {dir, "async", "pool:workers=8", NULL};
    cr_expect_eq(run_compare(back, out, sizeof(out)), 0);
    cr_expect(strstr(out, "3 faster"), "%s", out);
}

Test(compare, a_change_inside_the_threshold_is_no_change)
{
    /* +1 % with a spread of 0.1 %: its interval excludes 0, but lies within
     * ±2 %; a 0.5 % threshold lets it count. */
    static const char head[] = "engine,loop,clients,rate,status,throughput_rps,p99_ms\n";
    char old[512], new[512], out[8192];
    snprintf(old, sizeof(old),
             "%sa,closed,8,0,ok,1000,10\na,closed,8,0,ok,1001,10\n"
             "a,closed,8,0,ok,999,10\n",
             head);
    snprintf(new, sizeof(new),
             "%sa,closed,8,0,ok,1010,10\na,closed,8,0,ok,1011,10\n"
             "a,closed,8,0,ok,1009,10\n",
             head);
    const char *o = folder("old", old), *n = folder("new", new);
    const char *args[] = {o, n, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 0);
    cr_expect(strstr(out, "0 faster, 0 slower, 1 no change"), "%s", out);
    const char *tight[] = {o, n, "--threshold", "0.5%", NULL};
    cr_expect_eq(run_compare(tight, out, sizeof(out)), 0);
    cr_expect(strstr(out, "1 faster"), "%s", out);
}

Test(compare, one_repeat_gives_no_interval_and_no_verdict)
{
    static const char head[] = "engine,loop,clients,rate,status,throughput_rps,p99_ms\n";
    char old[256], new[256], out[8192];
    snprintf(old, sizeof(old), "%sa,closed,8,0,ok,1000,10\nb,closed,8,0,ok,5,5\n", head);
    snprintf(new, sizeof(new), "%sa,closed,8,0,ok,500,10\nc,closed,8,0,ok,5,5\n", head);
    const char *args[] = {folder("old", old), folder("new", new), NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 0);
    cr_expect(strstr(out, "-50.0% (1 repeat: no interval)"), "%s", out);
    cr_expect(strstr(out, "1 point compared: 0 faster, 0 slower, 1 no change"), "%s", out);
    cr_expect(strstr(out, "1 point only in OLD, 1 only in NEW"), "%s", out);
}

/* ---- usage errors ---- */

/* Runs compare with args, expects exit 2 and want in the message. */
static void expect_usage_error(const char *const *args, const char *want)
{
    char out[8192];
    cr_expect_eq(run_compare(args, out, sizeof(out)), 2, "%s", out);
    cr_expect(strstr(out, want), "'%s' not in: %s", want, out);
}

Test(compare, usage_errors_exit_2_naming_what_is_wrong)
{
    const char *good = folder("good", sweep(1)), *missing = folder("missing", NULL);
    expect_usage_error((const char *[]){good, missing, NULL}, "no such results folder");
    expect_usage_error((const char *[]){good, NULL}, "usage:");
    expect_usage_error((const char *[]){good, good, "--nonsense", NULL}, "'--nonsense'");
    expect_usage_error((const char *[]){good, good, "--threshold", "lots", NULL}, "'lots'");
    expect_usage_error((const char *[]){good, "async", "coro", NULL}, "no config 'coro'");
    const char *nocol = folder("nocol", "engine,loop,clients,rate,status,throughput_rps\n");
    expect_usage_error((const char *[]){good, nocol, NULL}, "nocol/runs.csv:1: no column p99_ms");
    const char *text = folder("text", "engine,loop,clients,rate,status,throughput_rps,p99_ms\n"
                                      "a,closed,8,0,ok,many,1\n");
    expect_usage_error((const char *[]){text, good, NULL}, "text/runs.csv:2: throughput_rps");
    const char *empty = folder("empty", "");
    expect_usage_error((const char *[]){good, empty, NULL}, "empty/runs.csv:1: empty file");
    const char *none = folder("none", NULL);
    cr_assert_eq(mkdir(none, 0755), 0);
    expect_usage_error((const char *[]){none, good, NULL}, "none/runs.csv");
}

/* ---- the machines ---- */

/* Writes text as dir's meta.txt; dir. */
static const char *with_meta(const char *dir, const char *text)
{
    child_write_file(dir, "meta.txt", text);
    return dir;
}

/* Configs a and b at one point, three tight repeats each; NEW's a is 3 %
 * slower, its b 15 %: both verdicts read `slower`. */
static void machine_folders(const char **old, const char **new)
{
    static const char head[] = "engine,loop,clients,rate,status,throughput_rps,p99_ms\n";
    char text[2][512];
    for (int side = 0; side < 2; side++) {
        int n = snprintf(text[side], sizeof(text[side]), "%s", head);
        for (int r = 0; r < 3; r++)
            for (int e = 0; e < 2; e++)
                n += snprintf(text[side] + n, sizeof(text[side]) - n, "%s,closed,8,0,ok,%d,10\n",
                              e ? "b" : "a", (side ? (e ? 850 : 970) : 1000) + (r == 1) - (r == 2));
    }
    *old = folder("old", text[0]);
    *new = folder("new", text[1]);
}

Test(compare, a_calibration_that_differs_names_the_verdicts_it_could_explain)
{
    char out[16384];
    const char *old, *new;
    machine_folders(&old, &new);
    with_meta(old, "cores: 2\ncalibration_burn_ns: 0.5\ncalibration_loopback_us: 12\nruns: 6\n");
    with_meta(new, "cores: 2\ncalibration_burn_ns: 0.56\ncalibration_loopback_us: 13\n");
    const char *args[] = {old, new, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "2 points compared: 0 faster, 2 slower"), "%s", out);
    cr_expect(strstr(out, "machine: calibration_burn_ns (ns per burner iteration) is 0.5 in OLD, "
                          "0.56 in NEW: +12.0 %, past the 10 % it moves on one machine; NEW's "
                          "machine is slower"),
              "%s", out);
    cr_expect(strstr(out, "it could explain 1 of the 2 throughput and p99 verdicts that read "
                          "`slower` (those by 12.0 % or less):\n"
                          "    a closed 8 clients: throughput -3.0 %\n"),
              "%s", out);
    cr_expect_null(strstr(out, "calibration_loopback_us"),
                   "+8.3 %% is within what it moves on one machine: %s", out);
    /* the other way round: NEW's machine faster, and a's +3.1 % within it */
    const char *back[] = {new, old, NULL};
    cr_expect_eq(run_compare(back, out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "0.56 in OLD, 0.5 in NEW: -10.7 %, past the 10 % it moves on one "
                          "machine; NEW's machine is faster at it"),
              "%s", out);
    cr_expect(strstr(out, "1 of the 2 throughput and p99 verdicts that read `faster` (those by "
                          "10.7 % or less):\n    a closed 8 clients: throughput +3.1 %\n"),
              "%s", out);
    /* a threshold past the difference: the machines agree */
    const char *loose[] = {old, new, "--threshold", "13%", NULL};
    run_compare(loose, out, sizeof(out));
    cr_expect_null(strstr(out, "machine:"), "%s", out);
}

Test(compare, equal_calibrations_say_nothing_of_the_machines)
{
    char out[16384];
    const char *old, *new;
    machine_folders(&old, &new);
    with_meta(old, "calibration_burn_ns: 0.5\ncalibration_loopback_us: 12\n");
    with_meta(new, "calibration_loopback_us: 12.2\ncalibration_burn_ns: 0.505\n");
    const char *args[] = {old, new, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "2 points compared"), "%s", out);
    cr_expect_null(strstr(out, "machine"), "%s", out);
}

Test(compare, a_folder_without_calibration_cannot_compare_machines)
{
    char out[16384];
    const char *old, *new;
    machine_folders(&old, &new);
    with_meta(old, "date: 2024-01-01T00:00:00Z\ncores: 2\nruns: 6\n"); /* from before calibration */
    with_meta(new, "calibration_burn_ns: 0.53\ncalibration_loopback_us: 12.1\n");
    const char *args[] = {old, new, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "2 points compared"), "%s", out);
    cr_expect(strstr(out, "\nmachine: OLD's meta.txt has no calibration (a sweep from before it "
                          "was recorded): the machines cannot be compared\n"),
              "%s", out);
    cr_expect_null(strstr(out, "calibration_burn_ns"), "one line, no figure: %s", out);
    /* no meta.txt at all reads the same, on either side */
    const char *none = folder("none", sweep(1)), *neither = folder("neither", sweep(1));
    const char *both[] = {none, neither, NULL};
    run_compare(both, out, sizeof(out)); /* its verdicts are beside the point here */
    cr_expect(strstr(out, "\nmachine: neither folder's meta.txt has a calibration (sweeps from "
                          "before it was recorded): the machines cannot be compared\n"),
              "%s", out);
}

Test(compare, a_malformed_calibration_is_a_warning_and_compare_goes_on)
{
    char out[16384];
    const char *old, *new;
    machine_folders(&old, &new);
    with_meta(old, "cores: 2\ncalibration_burn_ns: fast\ncalibration_loopback_us: 12\n");
    with_meta(new, "calibration_burn_ns: 0.53\ncalibration_loopback_us: 12\n");
    const char *args[] = {old, new, NULL};
    cr_expect_eq(run_compare(args, out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "overlap compare: ") && strstr(out, "old/meta.txt:2: calibration_burn_ns "
                                                              "'fast' is not a positive number "
                                                              "(expected ns per burner iteration"),
              "%s", out);
    cr_expect(strstr(out, "2 points compared: 0 faster, 2 slower"), "%s", out);
    cr_expect(strstr(out, "machine: calibration_burn_ns is missing from OLD's meta.txt: that "
                          "figure cannot be compared\n"),
              "%s", out);
}
