/* `overlap merge` and the load agents' flags, as processes: logs made here
 * (whose sums are known) merged and refused, and one run of two agents at
 * half the rate each against one agent at the whole rate, through an
 * `overlap serve` on 127.0.0.1. Asserted: what the code guarantees (counts
 * add exactly, the merged histogram is the sum, mismatches are refused);
 * printed: the two runs' percentiles with their intervals. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "hist.h"
#include "hlog.h"
#include "sweep.h"
#include "wl.h"

static char dir[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(dir);
}

TestSuite(merge, .init = setup, .fini = teardown, .timeout = 120);

static const char *path_of(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static double epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts overlap with args (stdout to /dev/null, stderr to errfile or kept). */
static pid_t spawn(const char *const *args, const char *errfile)
{
    const char *argv[48] = {OVERLAP_BIN};
    int n = 1;
    while (args[n - 1] && n < 47) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        if (errfile) {
            int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    cr_assert_gt(pid, 0);
    return pid;
}

static int reap(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs overlap; its stderr into err. */
static int run(const char *const *args, char *err, size_t len)
{
    const char *errfile = path_of("stderr.txt");
    int rc = reap(spawn(args, errfile));
    FILE *f = fopen(errfile, "r");
    size_t n = f ? fread(err, 1, len - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    return rc;
}

/* The value of column name in a CSV file's first row, as a number. */
static double csv_value(const char *path, const char *name)
{
    char head[4096], row[4096];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    cr_assert(fgets(head, sizeof(head), f) && fgets(row, sizeof(row), f));
    fclose(f);
    char *hs = head, *rs = row, *h, *r;
    while ((h = strsep(&hs, ",\n")) && (r = strsep(&rs, ",\n")))
        if (!strcmp(h, name))
            return atof(r);
    cr_assert_fail("%s: no column %s", path, name);
    return NAN;
}

/* ---- logs made here ---- */

/* An agent's log of three 1 s intervals, value spread drawn from seed;
 * digits other than 3 give its histograms other parameters. */
static void write_agent(const char *path, int share, double window, int digits, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    struct hist *h = hist_create();
    struct wl_rng rng;
    char lines[64][128];
    const char *notes[64];
    int n = 0, counts[3] = {100 + (int)seed, 200, 150};
    cr_assert_not_null(f);
    wl_rng_seed(&rng, seed);
    snprintf(lines[n++], 128, "overlap agent: share=%d/2 total_rps=300.000 interval_s=1.000000",
             share);
    snprintf(lines[n++], 128, "overlap start: window=%.6f requested=%.6f", window, window);
    static const char *const cols[] = {
        "mode=open",       "clients=4",        "threads=1",        "intended_rps=150.000",
        "arrival=poisson", "duration_s=3.000", "warmup_s=0.000",   "window_s=3.000",
        "errors=1",        "errors_connect=0", "errors_timeout=1", "errors_read=0",
        "errors_status=0", "achieved_rps=150", "load_cpu_s=0.100", "late=0",
        "scheduled=450",   "waited=0",         "within_goal=",     "interrupted=0"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        snprintf(lines[n++], 128, "overlap csv: %s", cols[i]);
    snprintf(lines[n++], 128, "overlap csv: requests=%d", counts[0] + counts[1] + counts[2]);
    snprintf(lines[n++], 128, "overlap csv: sent=%d", counts[0] + counts[1] + counts[2]);
    for (int k = 0; k < 3; k++)
        snprintf(lines[n++], 128, "overlap interval: %d ok=%d errors=%d", k, counts[k], k == 2);
    for (int i = 0; i < n; i++)
        notes[i] = lines[i];
    hlog_write_header(f, window, notes, n);
    for (int k = 0; k < 3; k++) {
        hist_reset(h);
        for (int i = 0; i < counts[k]; i++)
            hist_record(h, 1000000 + (uint64_t)(wl_rng_double(&rng) * 50e6));
        if (digits == 3) {
            cr_assert_eq(hlog_write_interval(f, NULL, k, 1, h), 0);
            continue;
        }
        struct hlog_bin bin = {5, (uint64_t)counts[k]};
        struct hlog_hist other = {{1, HIST_MAX_NS, digits, 1.0}, 1, &bin, bin.count};
        char *b64, err[HLOG_ERR_LEN];
        cr_assert_eq(hlog_encode(&other, &b64, err, sizeof(err)), 0, "%s", err);
        fprintf(f, "%d.000,1.000,1.000,%s\n", k, b64);
        free(b64);
    }
    cr_assert_eq(hlog_write_interval(f, "uncorrected", 0, 3, h), 0);
    fclose(f);
    hist_destroy(h);
}

/* The untagged intervals of a log, added into h; the count of intervals. */
static int add_log(const char *path, struct hist *h, int only)
{
    struct hlog_log log;
    char err[HLOG_ERR_LEN];
    cr_assert_eq(hlog_read(path, &log, err, sizeof(err)), 0, "%s", err);
    int n = 0;
    for (int i = 0; i < log.nintervals; i++)
        if (!log.intervals[i].tag[0] && (only < 0 || only == n++))
            hlog_add_to_hist(&log.intervals[i].hist, h);
    n = log.nintervals;
    hlog_log_free(&log);
    return n;
}

Test(merge, counts_add_exactly_and_the_merged_histogram_is_the_sum)
{
    double t = floor(epoch_now()) - 60;
    char a0[512], a1[512], err[4096];
    snprintf(a0, sizeof(a0), "%s", path_of("a0.hlog"));
    snprintf(a1, sizeof(a1), "%s", path_of("a1.hlog"));
    write_agent(a0, 0, t, 3, 1);
    write_agent(a1, 1, t + 0.004, 3, 2);
    const char *out = path_of("m.csv"), *mlog = path_of("m.hlog"), *ints = path_of("m.int");
    const char *args[] = {"merge",       "--out-csv", out, "--hlog", mlog,
                          "--intervals", ints,        a0,  a1,       NULL};
    cr_assert_eq(run(args, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(csv_value(out, "requests"), 451 + 452);
    cr_expect_eq(csv_value(out, "errors"), 2);
    cr_expect_eq(csv_value(out, "agents"), 2);
    cr_expect_float_eq(csv_value(out, "intended_rps"), 300, 1e-9);
    cr_expect_float_eq(csv_value(out, "throughput_rps"), (451 + 452 - 0) / 3.0, 1e-3);
    struct hist *sum = hist_create(), *merged = hist_create();
    for (int k = 0; k < 3; k++) { /* interval by interval, then the whole */
        hist_reset(sum);
        hist_reset(merged);
        add_log(a0, sum, k);
        add_log(a1, sum, k);
        add_log(mlog, merged, k);
        cr_expect(hist_same(sum, merged), "interval %d: the merged histogram is the sum", k);
    }
    hist_reset(sum);
    hist_reset(merged);
    add_log(a0, sum, -1);
    add_log(a1, sum, -1);
    add_log(mlog, merged, -1);
    cr_expect(hist_same(sum, merged));
    cr_expect_eq(hist_count(merged), 903);
    cr_expect_float_eq(csv_value(out, "p99_ms"), hist_percentile(sum, 99) / 1e6, 1e-6);
    hist_destroy(sum);
    hist_destroy(merged);
}

Test(merge, refuses_logs_that_are_not_one_run)
{
    double t = floor(epoch_now()) - 60;
    char a0[512], a1[512], other[512], late[512], err[4096];
    snprintf(a0, sizeof(a0), "%s", path_of("a0.hlog"));
    snprintf(a1, sizeof(a1), "%s", path_of("a1.hlog"));
    snprintf(other, sizeof(other), "%s", path_of("other.hlog"));
    snprintf(late, sizeof(late), "%s", path_of("late.hlog"));
    write_agent(a0, 0, t, 3, 1);
    write_agent(a1, 1, t, 3, 2);
    write_agent(other, 1, t, 2, 2);      /* 2 significant digits */
    write_agent(late, 1, t + 0.5, 3, 2); /* its clock half a second off */
    const char *params[] = {"merge", a0, other, NULL};
    cr_expect_eq(run(params, err, sizeof(err)), 1);
    cr_expect(strstr(err, "histogram parameters"), "%s", err);
    const char *skew[] = {"merge", a0, late, NULL};
    cr_expect_eq(run(skew, err, sizeof(err)), 1);
    cr_expect(strstr(err, "clocks or --start-at disagree"), "%s", err);
    const char *allowed[] = {"merge", "--max-skew", "1s", a0, late, NULL};
    cr_expect_eq(run(allowed, err, sizeof(err)), 0, "%s", err);
    const char *half[] = {"merge", a0, NULL};
    cr_expect_eq(run(half, err, sizeof(err)), 1);
    cr_expect(strstr(err, "1 agents for shares of 2"), "%s", err);
    const char *twice[] = {"merge", a1, a1, NULL};
    cr_expect_eq(run(twice, err, sizeof(err)), 1);
    const char *usage[] = {"merge", NULL};
    cr_expect_eq(run(usage, err, sizeof(err)), 2);
    const char *missing[] = {"merge", path_of("none.hlog"), NULL};
    cr_expect_eq(run(missing, err, sizeof(err)), 1);
}

Test(merge, load_refuses_bad_agent_flags)
{
    char past[64], far[64], err[4096];
    snprintf(past, sizeof(past), "%.3f", epoch_now() - 5);
    snprintf(far, sizeof(far), "%.3f", epoch_now() + 7200);
    static const char *const t = "127.0.0.1:1";
    const char *const cases[][10] = {
        {"load", "--target", t, "--start-at", past, NULL},
        {"load", "--target", t, "--start-at", far, NULL},
        {"load", "--target", t, "--start-at", "tomorrow", NULL},
        {"load", "--target", t, "--start-at", "2024-05-01T12:00:00+02:00", NULL},
        {"load", "--target", t, "--share", "0/2", NULL},
        {"load", "--target", t, "--rate", "10", "--share", "2/2", NULL},
        {"load", "--target", t, "--rate", "10", "--share", "x", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(run(cases[i], err, sizeof(err)), 2, "case %zu: %s", i, err);
        cr_expect(strstr(err, "overlap load: "), "case %zu: %s", i, err);
    }
}

/* ---- two agents against one, through a real server ---- */

static const char workload_text[] = "[workload]\nname = merge-test\n"
                                    "[database]\ndataset = techempower\n"
                                    "[query.world]\n"
                                    "sql = SELECT id, randomNumber FROM World WHERE id = ?\n"
                                    "params = int 1 10000\nlatency = exponential 2ms\n"
                                    "[request.one]\nsteps = cpu 50us, query world\n";

static void print_row(const char *name, const struct hist *h)
{
    double lo50, hi50, lo99, hi99;
    sweep_percentile_interval(h, 50, &lo50, &hi50);
    sweep_percentile_interval(h, 99, &lo99, &hi99);
    fprintf(stderr, "merge: %-28s %6lu  p50 %7.3f [%7.3f, %7.3f]  p99 %7.3f [%7.3f, %7.3f] ms\n",
            name, (unsigned long)hist_count(h), hist_percentile(h, 50) / 1e6, lo50, hi50,
            hist_percentile(h, 99) / 1e6, lo99, hi99);
}

Test(merge, two_agents_at_half_the_rate_merge_into_one_at_the_whole)
{
    struct child db = {0}, srv = {0};
    const char *wl = child_write_file(dir, "w.ini", workload_text);
    char wlpath[512], db_addr[600], start[64], err[4096];
    snprintf(wlpath, sizeof(wlpath), "%s", wl);
    snprintf(db_addr, sizeof(db_addr), "unix:%s/db.sock", dir);
    const char *db_args[] = {"db", "--workload", wlpath, "--listen", db_addr, NULL};
    cr_assert_eq(child_start(&db, db_args, 20000), 0, "the database did not start");
    const char *srv_args[] = {"serve", "--engine", "async", "--loops",  "1",           "--workload",
                              wlpath,  "--db",     db_addr, "--listen", "127.0.0.1:0", NULL};
    cr_assert_eq(child_start(&srv, srv_args, 20000), 0, "the server did not start");
    snprintf(start, sizeof(start), "%.3f", epoch_now() + 2.5);
    char logs[3][512], csvs[3][512];
    pid_t pids[2];
    for (int i = 0; i < 3; i++) {
        snprintf(logs[i], sizeof(logs[i]), "%s/a%d.hlog", dir, i);
        snprintf(csvs[i], sizeof(csvs[i]), "%s/a%d.csv", dir, i);
    }
    for (int i = 0; i < 2; i++) {
        const char *share = i ? "1/2" : "0/2";
        const char *args[] = {"load",  "--target", srv.addr, "--path",     "/one", "--rate",
                              "400",   "--share",  share,    "--clients",  "8",    "--duration",
                              "3s",    "--warmup", "500ms",  "--start-at", start,  "--hlog",
                              logs[i], "--csv",    csvs[i],  NULL};
        pids[i] = spawn(args, NULL);
    }
    for (int i = 0; i < 2; i++)
        cr_assert_eq(reap(pids[i]), 0, "agent %d", i);
    const char *one[] = {"load",  "--target",  srv.addr, "--path",     "/one",  "--rate",
                         "400",   "--clients", "16",     "--duration", "3s",    "--warmup",
                         "500ms", "--hlog",    logs[2],  "--csv",      csvs[2], NULL};
    cr_assert_eq(reap(spawn(one, NULL)), 0, "the single agent");
    child_stop(&srv, 15000);
    child_stop(&db, 5000);
    const char *out = path_of("m.csv");
    const char *merge[] = {"merge", "--out-csv", out, logs[0], logs[1], NULL};
    cr_assert_eq(run(merge, err, sizeof(err)), 0, "%s", err);
    double r0 = csv_value(csvs[0], "requests"), r1 = csv_value(csvs[1], "requests");
    cr_expect_eq(csv_value(out, "requests"), r0 + r1, "the merged requests are the agents'");
    cr_expect_float_eq(csv_value(out, "achieved_rps"),
                       csv_value(csvs[0], "achieved_rps") + csv_value(csvs[1], "achieved_rps"),
                       1e-3);
    struct hist *merged = hist_create(), *single = hist_create();
    add_log(logs[0], merged, -1);
    add_log(logs[1], merged, -1);
    add_log(logs[2], single, -1);
    cr_expect_eq(hist_count(merged), (uint64_t)(r0 + r1));
    cr_expect_float_eq(csv_value(out, "p50_ms"), hist_percentile(merged, 50) / 1e6, 1e-6);
    print_row("two agents at 200/s, merged", merged);
    print_row("one agent at 400/s", single);
    hist_destroy(merged);
    hist_destroy(single);
}
