/* A sweep across load hosts (harness/bench/bench_agents.c): the suite keys
 * and the launcher's quoting, and whole sweeps on one machine whose hosts
 * are network namespaces the test makes (veth pairs, private addresses
 * inside the namespaces only): the server in one, an agent in each of two
 * others, started with `ip netns exec {host} sh -c {command}`. Asserted:
 * the sweeps complete and each merged row's requests are its agents' sum;
 * printed: the two-agent and the one-agent runs' p50 and p99 with their
 * intervals (the machine is shared: their agreement is a figure, not an
 * assertion). Without root or `ip`, the namespace test says so and skips. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "child.h"
#include "csv.h"
#include "hist.h"
#include "hlog.h"
#include "sweep.h"

static char dir[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(dir);
}

TestSuite(hosts, .init = setup, .fini = teardown, .timeout = 150);

/* ---- the suite keys ---- */

static void expect_refused(const char *key, const char *value, const char *want)
{
    struct bench_suite s;
    char err[BENCH_ERR_LEN] = "";
    bench_suite_defaults(&s);
    cr_expect_eq(bench_suite_set(&s, key, value, err, sizeof(err)), -1, "%s = '%s' accepted", key,
                 value);
    cr_expect(strstr(err, want) != NULL, "%s = '%s': '%s' lacks '%s'", key, value, err, want);
}

Test(hosts, suite_keys_refuse_malformed_values)
{
    char many[2048] = "";
    for (int i = 0; i <= BENCH_MAX_HOSTS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "h%d ", i);
    expect_refused("launcher", "ssh {host}", "expected a command with {host} and {command}");
    expect_refused("launcher", "run {command}", "expected a command with {host} and {command}");
    expect_refused("launcher", "", "expected a command with {host} and {command}");
    expect_refused("launcher", "ssh -p {port} {host} {command}", "unknown placeholder {port}");
    expect_refused("launcher", "ssh {host} {command} {", "opens no placeholder");
    expect_refused("load_hosts", "", "bad load_hosts");
    expect_refused("load_hosts", " , ", "bad load_hosts");
    expect_refused("load_hosts", "a -oProxyCommand=x", "bad load_hosts");
    expect_refused("load_hosts", "a'b", "bad load_hosts");
    expect_refused("load_hosts", "a;reboot", "bad load_hosts");
    expect_refused("load_hosts", many, "up to 32 host names");
    expect_refused("server_address", "localhost", "expected an IPv4 address");
    expect_refused("server_address", "10.0.0.256", "expected an IPv4 address");
    expect_refused("server_address", "", "expected an IPv4 address");
    expect_refused("launch_lead", "0s", "bad launch_lead");
    expect_refused("launch_lead", "soon", "bad launch_lead");

    struct bench_suite s;
    char err[BENCH_ERR_LEN];
    bench_suite_defaults(&s);
    cr_expect_str_eq(s.server_address, "127.0.0.1");
    cr_expect(strstr(s.launcher, "ssh") && strstr(s.launcher, "{host} {command}"));
    cr_assert_eq(bench_suite_set(&s, "load_hosts", "load1, bench@load2 ns-3", err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_eq(s.nhosts, 3);
    cr_expect_str_eq(s.hosts[1], "bench@load2");
    cr_assert_eq(bench_suite_set(&s, "load_hosts", "none", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(s.nhosts, 0);
    cr_expect_eq(bench_suite_set(&s, "server_address", "10.231.0.1", err, sizeof(err)), 0);
    cr_expect_eq(bench_suite_set(&s, "launch_lead", "5s", err, sizeof(err)), 0);
    cr_expect_eq(s.launch_lead_ns, 5000000000ULL);
}

/* What the launcher's line does in /bin/sh: a command with quotes, $,
 * backquotes and a newline reaches the launcher as one word, unchanged. */
Test(hosts, launcher_quotes_host_and_command_as_single_words)
{
    static const char *const tmpl = "printf '%s|%s|%s' {host} {command} ${HOME+x}";
    static const char command[] = "echo 'it''s' \"$f\" `id` ; x\ny {z}";
    char line[4096], err[BENCH_ERR_LEN], got[512] = "", want[512];
    cr_assert_eq(bench_launcher_line(tmpl, "u@h 1", command, line, sizeof(line), err, sizeof(err)),
                 0, "%s", err);
    FILE *p = popen(line, "r");
    cr_assert_not_null(p);
    size_t n = fread(got, 1, sizeof(got) - 1, p);
    got[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s", line);
    snprintf(want, sizeof(want), "u@h 1|%s|%s", command, getenv("HOME") ? "x" : "");
    cr_expect_str_eq(got, want, "line: %s", line);
    cr_expect_eq(bench_launcher_line(tmpl, "h", command, line, 40, err, sizeof(err)), -1);
    cr_expect(strstr(err, "characters once its placeholders are filled"), "%s", err);
}

/* A closed loop with load hosts is refused before anything runs. */
Test(hosts, a_closed_loop_with_load_hosts_is_refused)
{
    char suite[512], workload[600], text[1400];
    struct sweep_run r;
    snprintf(workload, sizeof(workload), "%s/workloads/seed.ini", OVERLAP_SOURCE_DIR);
    snprintf(text, sizeof(text),
             "[suite]\nworkload = %s\nengines = async\nclients = 4\nrates = 100\n"
             "load_hosts = a b\ntimeline = 0\n",
             workload);
    snprintf(suite, sizeof(suite), "%s", child_write_file(dir, "closed.ini", text));
    const char *args[] = {"--suite", suite, "--no-plot", NULL};
    cr_assert_eq(sweep_run(&r, dir, args, 30), 2);
    char err[2048] = "";
    FILE *f = fopen(r.err, "r");
    cr_assert_not_null(f);
    err[fread(err, 1, sizeof(err) - 1, f)] = '\0';
    fclose(f);
    cr_expect(strstr(err, "load_hosts drive open-loop runs only"), "%s", err);
    cr_expect_eq(access(r.results, F_OK), -1, "a refused sweep made no folder");
}

/* An agent whose launcher fails brings back no log: its run fails with
 * the agent's host and last line, and the sweep goes on. The launcher
 * runs the good host's agent here, against the server on 127.0.0.1. */
Test(hosts, an_agent_that_brings_back_no_log_fails_its_run)
{
    char suite[512], text[1400];
    struct sweep_run r;
    snprintf(text, sizeof(text),
             "[suite]\nworkload = %s/workloads/seed.ini\nengines = async\nclients = none\n"
             "rates = 100\nduration = 500ms\nwarmup = 200ms\ntimeline = 0\n"
             "load_hosts = here nowhere\nlaunch_lead = 1s\n"
             "launcher = test {host} = here && exec sh -c {command} || "
             "echo no route to {host} >&2\n",
             OVERLAP_SOURCE_DIR);
    snprintf(suite, sizeof(suite), "%s", child_write_file(dir, "silent.ini", text));
    const char *args[] = {"--suite", suite, "--no-plot", NULL};
    cr_assert_eq(sweep_run(&r, dir, args, 60), 1, "every run failed: status 1");
    char results[700], path[800];
    struct csv_table runs;
    sweep_results_dir(&r, results, sizeof(results));
    snprintf(path, sizeof(path), "%s/runs.csv", results);
    cr_assert_eq(csv_load(path, &runs), 0);
    cr_assert_eq(runs.nrows, 1);
    cr_expect_str_eq(csv_get(&runs, 0, "status"), "failed");
    cr_expect(strstr(csv_get(&runs, 0, "reason"),
                     "agent 1 on nowhere brought back no log: no route to nowhere"),
              "%s", csv_get(&runs, 0, "reason"));
    csv_free(&runs);
    snprintf(path, sizeof(path), "%s/runs/001-agent-0.hlog", results);
    struct hlog_log log;
    char err[HLOG_ERR_LEN];
    cr_expect_eq(hlog_read(path, &log, err, sizeof(err)), 0, "the agent here wrote its log: %s",
                 err);
    hlog_log_free(&log);
}

/* ---- network namespaces ---- */

#define NS_COUNT 3 /* the server's, and two agents' */

struct netns {
    char name[NS_COUNT][48];
    pid_t keeper; /* removes the namespaces once the test's end of its pipe closes */
    int pipe;
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* A child that waits for the test to close a pipe, or to die whatever the
 * way (a timeout's SIGKILL included), and then removes the namespaces: no
 * test path can leave them behind. */
static void start_keeper(struct netns *ns)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0); /* the sweeps started later hold no end of it */
    ns->keeper = fork();
    cr_assert_geq(ns->keeper, 0);
    if (ns->keeper == 0) {
        char c;
        close(p[1]);
        while (read(p[0], &c, 1) > 0 || errno == EINTR)
            ;
        for (int i = 0; i < NS_COUNT; i++)
            sh("ip netns del %s 2>/dev/null", ns->name[i]);
        _exit(0);
    }
    close(p[0]);
    ns->pipe = p[1];
}

static void stop_keeper(struct netns *ns)
{
    close(ns->pipe);
    waitpid(ns->keeper, NULL, 0);
    for (int i = 0; i < NS_COUNT; i++)
        cr_expect_neq(sh("ip netns list | grep -qw %s", ns->name[i]), 0, "%s left behind",
                      ns->name[i]);
}

/* The server's namespace s reaches agent a0 over 10.231.0.0/30 and a1 over
 * 10.231.0.4/30; a1 reaches the server's 10.231.0.1 through 10.231.0.5.
 * The addresses exist inside the namespaces alone. 0, or -1 with why. */
static int make_namespaces(struct netns *ns, char *why, size_t len)
{
    const char *s = ns->name[0], *a0 = ns->name[1], *a1 = ns->name[2];
    for (int i = 0; i < NS_COUNT; i++)
        if (sh("ip netns add %s 2>&1", ns->name[i]) != 0 ||
            sh("ip -n %s link set lo up", ns->name[i]) != 0) {
            snprintf(why, len, "ip netns add %s failed", ns->name[i]);
            return -1;
        }
    if (sh("ip link add v0s netns %s type veth peer name v0a netns %s", s, a0) ||
        sh("ip link add v1s netns %s type veth peer name v1a netns %s", s, a1) ||
        sh("ip -n %s addr add 10.231.0.1/30 dev v0s && ip -n %s addr add 10.231.0.5/30 dev v1s", s,
           s) ||
        sh("ip -n %s addr add 10.231.0.2/30 dev v0a && ip -n %s addr add 10.231.0.6/30 dev v1a", a0,
           a1) ||
        sh("ip -n %s link set v0s up && ip -n %s link set v1s up", s, s) ||
        sh("ip -n %s link set v0a up && ip -n %s link set v1a up", a0, a1) ||
        sh("ip -n %s route add 10.231.0.1/32 via 10.231.0.5", a1)) {
        snprintf(why, len, "veth pairs or addresses could not be set up");
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* `overlap bench --suite SUITE` inside namespace s, in dir, within
 * timeout_s (killed past it); its exit status. */
static int bench_in(const char *s, const char *suite, const char *out, double timeout_s)
{
    char log[600];
    snprintf(log, sizeof(log), "%s/bench-%s.log", dir, strrchr(suite, '/') + 1);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test killed outright takes its sweep along */
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout) || chdir(dir) < 0)
            _exit(126);
        execlp("ip", "ip", "netns", "exec", s, OVERLAP_BIN, "bench", "--suite", suite, "--out", out,
               "--no-plot", (char *)NULL);
        _exit(127);
    }
    int status;
    double end = now_s() + timeout_s;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_s() > end) {
            kill(pid, SIGTERM); /* ip netns exec is the sweep itself: it stops its children */
            waitpid(pid, &status, 0);
            cr_assert_fail("the sweep %s ran over %.0f s (its log: %s)", suite, timeout_s, log);
        }
        usleep(50000);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the sweep %s ended with status 0x%x (its log: %s)", suite, status, log);
    return 0;
}

/* Checks every run of the sweep in out (agents agents each) and prints its
 * percentiles: the merged row's requests are the sum of its agents' and
 * of their logs' histograms; want_timelines timeline runs, from here. */
static void check_runs(const char *out, int agents, int want_timelines, const char *what)
{
    char results[700], path[800];
    struct csv_table runs, load, rows;
    int timelines = 0;
    snprintf(results, sizeof(results), "%s/latest", out);
    snprintf(path, sizeof(path), "%s/runs.csv", results);
    cr_assert_eq(csv_load(path, &runs), 0, "no %s", path);
    cr_assert_gt(runs.nrows, 0);
    for (int i = 0; i < runs.nrows; i++) {
        int id = (int)csv_num(&runs, i, "run");
        cr_assert_str_eq(csv_get(&runs, i, "status"), "ok", "run %d: %s", id,
                         csv_get(&runs, i, "reason"));
        if (!strcmp(csv_get(&runs, i, "loop"), "timeline")) {
            snprintf(path, sizeof(path), "%s/runs/%03d-agents.csv", results, id);
            cr_expect_eq(access(path, F_OK), -1, "the timeline runs from the sweep's host");
            timelines++;
            continue;
        }
        snprintf(path, sizeof(path), "%s/runs/%03d-load.csv", results, id);
        cr_assert_eq(csv_load(path, &load), 0, "no %s", path);
        snprintf(path, sizeof(path), "%s/runs/%03d-agents.csv", results, id);
        cr_assert_eq(csv_load(path, &rows), 0, "no %s", path);
        cr_expect_eq(rows.nrows, agents);
        cr_expect_eq(csv_num(&load, 0, "agents"), agents);
        struct hist *h = hist_create();
        double sum = 0;
        for (int k = 0; k < rows.nrows; k++) {
            struct hlog_log log;
            char err[HLOG_ERR_LEN];
            sum += csv_num(&rows, k, "requests");
            snprintf(path, sizeof(path), "%s/runs/%03d-agent-%d.hlog", results, id, k);
            cr_assert_eq(hlog_read(path, &log, err, sizeof(err)), 0, "%s", err);
            for (int j = 0; j < log.nintervals; j++)
                if (!log.intervals[j].tag[0])
                    hlog_add_to_hist(&log.intervals[j].hist, h);
            hlog_log_free(&log);
        }
        double requests = csv_num(&load, 0, "requests");
        cr_expect_gt(requests, 0);
        cr_expect_eq(requests, sum, "run %d: %.0f merged, %.0f by its agents", id, requests, sum);
        cr_expect_eq(requests, (double)hist_count(h), "run %d: the logs hold every answer", id);
        cr_expect_eq(csv_num(&runs, i, "requests"), requests, "run %d: the row is the merge's", id);
        double lo50, hi50, lo99, hi99;
        sweep_percentile_interval(h, 50, &lo50, &hi50);
        sweep_percentile_interval(h, 99, &lo99, &hi99);
        fprintf(stderr,
                "hosts: %-22s run %d  %5.0f req  p50 %7.3f [%7.3f, %7.3f]  p99 %7.3f [%7.3f, "
                "%7.3f] ms  %s\n",
                what, id, requests, hist_percentile(h, 50) / 1e6, lo50, hi50,
                hist_percentile(h, 99) / 1e6, lo99, hi99, csv_get(&runs, i, "flags"));
        hist_destroy(h);
        csv_free(&load);
        csv_free(&rows);
    }
    csv_free(&runs);
    cr_expect_eq(timelines, want_timelines, "%s: %d timelines", what, timelines);
}

/* One sweep's suite: open loop at 200 req/s from hosts, twice, and a
 * timeline of timeline requests from the sweep's own namespace. */
static void write_suite(const char *name, const char *hosts, int timeline)
{
    char text[1400];
    snprintf(text, sizeof(text),
             "[suite]\nname = %.*s\nworkload = %s/workloads/seed.ini\nengines = async\n"
             "clients = none\nrates = 200\nduration = 2s\nwarmup = 500ms\nrepeats = 2\n"
             "timeline = %d\nload_hosts = %s\nlauncher = ip netns exec {host} sh -c {command}\n"
             "server_address = 10.231.0.1\nlaunch_lead = 1500ms\n",
             (int)(strchr(name, '.') - name), name, OVERLAP_SOURCE_DIR, timeline, hosts);
    child_write_file(dir, name, text);
}

Test(hosts, two_agents_in_namespaces_merge_into_the_runs_row, .timeout = 150)
{
    struct netns ns = {.pipe = -1};
    char why[256], hosts[128], path[2][600], out[2][600];
    if (geteuid() != 0)
        cr_skip_test("SKIPPED: network namespaces need root (running as uid %d): the sweep "
                     "across hosts was NOT tested",
                     (int)geteuid());
    if (sh("ip -V >/dev/null 2>&1") != 0)
        cr_skip_test("SKIPPED: no `ip` (Debian's iproute2): the sweep across hosts was NOT "
                     "tested");
    for (int i = 0; i < NS_COUNT; i++)
        snprintf(ns.name[i], sizeof(ns.name[i]), "overlap-test-%d-%s", (int)getpid(),
                 i == 0   ? "s"
                 : i == 1 ? "a0"
                          : "a1");
    start_keeper(&ns);
    if (make_namespaces(&ns, why, sizeof(why)) < 0) {
        stop_keeper(&ns);
        cr_skip_test("SKIPPED: %s (in a container without CAP_SYS_ADMIN?): the sweep across "
                     "hosts was NOT tested",
                     why);
    }
    snprintf(hosts, sizeof(hosts), "%s %s", ns.name[1], ns.name[2]);
    write_suite("two.ini", hosts, 4);
    write_suite("one.ini", ns.name[1], 0);
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof(path[i]), "%s/%s", dir, i ? "one.ini" : "two.ini");
        snprintf(out[i], sizeof(out[i]), "%s/results-%s", dir, i ? "one" : "two");
    }
    bench_in(ns.name[0], path[0], out[0], 60);
    bench_in(ns.name[0], path[1], out[1], 60);
    check_runs(out[0], 2, 1, "two agents, merged");
    check_runs(out[1], 1, 0, "one agent");
    stop_keeper(&ns);
}
