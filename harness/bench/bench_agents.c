/* A run's load from several hosts: one `overlap load --share i/N
 * --start-at T` per load host, each started through the suite's launcher
 * (ssh by default), their interval logs brought back on the launcher's
 * stdout and added by `overlap merge` into the files one generator writes
 * here, so the run's row is recorded as any run's. bench runs the merge as
 * a process, as it runs the generator: it links nothing of load. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "ext.h"
#include "proc.h"

#define MERGE_TIMEOUT_S 30.0 /* adding a run's logs takes milliseconds; this is a hang */
#define AGENT_LINE_LEN  (BENCH__ARGS_TEXT + 512)
#define LAUNCH_LINE_LEN (2 * AGENT_LINE_LEN + PATH_MAX)

/* The suite's launcher is checked with this as it is read (suite.c), and
 * filled with it for each agent. */
int bench_launcher_line(const char *tmpl, const char *host, const char *command, char *out,
                        size_t len, char *err, size_t errlen)
{
    const struct ext_placeholder ph[] = {{"host", host}, {"command", command}};
    if (!strstr(tmpl, "{host}") || !strstr(tmpl, "{command}")) {
        snprintf(err, errlen,
                 "bad launcher '%.200s' (expected a command with {host} and "
                 "{command}, such as ssh {host} {command})",
                 tmpl);
        return -1;
    }
    return ext_fill(tmpl, ph, 2, out, len, err, errlen);
}

int bench__by_agents(const struct bench__sweep *sw, const struct bench__run *r)
{
    return sw->suite.nhosts > 0 && bench__offers_rate(r->kind);
}

static double epoch_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Agent k's command as the host's shell runs it: the generator with its
 * share and start, its interval log in a private temporary file, which
 * goes to stdout once the run is over (the generator's own report goes to
 * stderr, so stdout carries the log alone, whatever the launcher), and is
 * removed as the shell exits. The binary and the workload are at the paths
 * they have here. 0, or -1 when it does not fit. */
static int agent_command(const struct bench__sweep *sw, int id, double window_s, int k,
                         double start_at, char *out, size_t len)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    static const char head[] = "f=$(mktemp) || exit 1; trap 'rm -f \"$f\"' EXIT;";
    static const char tail[] = " --hlog \"$f\" >&2 && cat \"$f\"";
    struct bench__args a;
    char workload[PATH_MAX];
    int n = sw->suite.nhosts;
    if (!realpath(sw->suite.workload, workload))
        snprintf(workload, sizeof(workload), "%s", sw->suite.workload);
    bench__load_args(sw, id, window_s, bench__open_clients(&sw->plan, r->rate / n), workload, &a);
    bench__flag(&a, "--share", "%d/%d", k, n);
    bench__flag(&a, "--start-at", "%.3f", start_at);
    char **argv = bench__args_argv(&a);
    size_t at = snprintf(out, len, "%s", head);
    for (int i = 0; argv && argv[i]; i++) {
        if (at + 2 >= len)
            return -1;
        out[at++] = ' ';
        if (!ext_quote(out, len, &at, argv[i]))
            return -1;
    }
    if (!argv || at + sizeof(tail) > len)
        return -1;
    memcpy(out + at, tail, sizeof(tail));
    return 0;
}

/* The local line that starts agent k: its stdout, the interval log, into
 * runs/NNN-agent-K.hlog, then the launcher with {host} and {command}. */
static int launch_line(const struct bench__sweep *sw, int id, int k, const char *command, char *out,
                       size_t len, char *err, size_t errlen)
{
    char name[32], hlog[PATH_MAX + 32];
    size_t at = 0;
    snprintf(name, sizeof(name), "agent-%d.hlog", k);
    bench__run_path(sw, "runs", id, name, hlog, sizeof(hlog));
    at = (size_t)snprintf(out, len, "exec >");
    if (!ext_quote(out, len, &at, hlog) || at + 3 >= len) {
        snprintf(err, errlen, "the agent's command line is too long");
        return -1;
    }
    at += (size_t)snprintf(out + at, len - at, "; ");
    return bench_launcher_line(sw->suite.launcher, sw->suite.hosts[k], command, out + at, len - at,
                               err, errlen);
}

/* Starts agent k of run id through the launcher, in a process group of its
 * own (a stop takes the launcher and whatever it started here). */
static int start_agent(struct bench__sweep *sw, int id, double window_s, int k, double start_at,
                       struct bench__child *c, char *reason, size_t rlen)
{
    char name[32], log[PATH_MAX + 32], why[BENCH__REASON_LEN] = "its command line is too long";
    char *command = malloc(AGENT_LINE_LEN), *line = malloc(LAUNCH_LINE_LEN); /* large */
    int err = -ENOMEM;
    if (command && line &&
        (agent_command(sw, id, window_s, k, start_at, command, AGENT_LINE_LEN) < 0 ||
         launch_line(sw, id, k, command, line, LAUNCH_LINE_LEN, why, sizeof(why)) < 0)) {
        snprintf(reason, rlen, "cannot start agent %d on %s: %s", k, sw->suite.hosts[k], why);
        free(command);
        free(line);
        return -1;
    }
    if (command && line) {
        char *argv[] = {"/bin/sh", "-c", line, NULL};
        snprintf(name, sizeof(name), "agent-%d.log", k);
        bench__run_path(sw, "logs", id, name, log, sizeof(log));
        err = bench__child_start_group(c, argv, log, false, "");
    }
    free(command);
    free(line);
    if (err < 0)
        snprintf(reason, rlen, "cannot start agent %d on %s: %s", k, sw->suite.hosts[k],
                 strerror(-err));
    return err < 0 ? -1 : 0;
}

/* Agents whose launcher brought no log back: the first one's reason (the
 * last line its launcher or generator said). 1 when there was one. */
static int silent_agent(const struct bench__sweep *sw, int id, char *reason, size_t rlen)
{
    char name[32], path[PATH_MAX + 32], line[256];
    struct stat st;
    for (int k = 0; k < sw->suite.nhosts; k++) {
        snprintf(name, sizeof(name), "agent-%d.hlog", k);
        bench__run_path(sw, "runs", id, name, path, sizeof(path));
        if (stat(path, &st) == 0 && st.st_size > 0)
            continue;
        snprintf(name, sizeof(name), "agent-%d.log", k);
        bench__run_path(sw, "logs", id, name, path, sizeof(path));
        bench__last_line(path, line, sizeof(line));
        snprintf(reason, rlen, "agent %d on %s brought back no log: %s", k, sw->suite.hosts[k],
                 line);
        return 1;
    }
    return 0;
}

/* `overlap merge` of the agents' logs into the run's files, its output
 * appended to logs/NNN-load.log; within MERGE_TIMEOUT_S. A merge that
 * refuses the logs writes no load.csv, and the run fails with its line. */
static void merge(struct bench__sweep *sw, int id)
{
    static const char *const outputs[] = {"--out-csv", "--latency-csv", "--agents", "--intervals"};
    static const char *const names[] = {"load.csv", "latency.csv", "agents.csv", "intervals.csv"};
    struct bench__args a;
    struct bench__child c;
    char path[PATH_MAX + 32], name[32];
    bench__args_init(&a);
    bench__arg(&a, sw->self);
    bench__arg(&a, "merge");
    for (int i = 0; i < (sw->intervals ? 4 : 3); i++) {
        bench__run_path(sw, "runs", id, names[i], path, sizeof(path));
        bench__flag(&a, outputs[i], "%s", path);
    }
    for (int k = 0; k < sw->suite.nhosts; k++) {
        snprintf(name, sizeof(name), "agent-%d.hlog", k);
        bench__run_path(sw, "runs", id, name, path, sizeof(path));
        bench__arg(&a, path);
    }
    bench__run_path(sw, "runs", id, "load.csv", path, sizeof(path));
    unlink(path); /* an earlier attempt's, which a refused merge must not pass for its own */
    bench__run_path(sw, "logs", id, "load.log", path, sizeof(path));
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c, argv, path, false) < 0)
        return;
    uint64_t deadline = proc_now_ns() + (uint64_t)(MERGE_TIMEOUT_S * 1e9);
    while (!bench__child_ended(&c, "merge", NULL, 0) && proc_now_ns() < deadline)
        poll(NULL, 0, 10);
    bench__child_stop(&c);
}

int bench__agents_run(struct bench__sweep *sw, int id, double window_s, struct bench__outcome *o)
{
    struct bench__child agents[BENCH_MAX_HOSTS] = {{0}};
    const struct bench__run *r = &sw->plan.runs[id - 1];
    int n = sw->suite.nhosts, started = 0;
    double lead = sw->suite.launch_lead_ns / 1e9, warmup = bench__warmup_s(&sw->plan, r);
    /* every agent opens its window at this moment, whenever its launcher
     * got it there: the lead is the launcher's time and the connects' */
    double start_at = epoch_now_s() + lead + warmup;
    while (started < n && start_agent(sw, id, window_s, started, start_at, &agents[started],
                                      o->reason, sizeof(o->reason)) == 0)
        started++;
    if (started == n)
        bench__watch_load(sw, id, agents, n, lead + warmup, window_s,
                          lead + warmup + window_s + BENCH__LOAD_GRACE_S, o);
    for (int k = 0; k < started; k++)
        bench__child_stop(&agents[k]); /* interrupted, or one did not start */
    if (started < n || proc_stopping())
        return -1;
    if (!o->reason[0] && !silent_agent(sw, id, o->reason, sizeof(o->reason)))
        merge(sw, id);
    return 0;
}
