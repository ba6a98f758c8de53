/* `overlap bench`: the sweep. For each engine config it starts `overlap db`
 * and `overlap serve`, drives each load point with `overlap load`, samples the
 * server from /proc and appends one row per run to the results folder. The
 * harness measures servers as processes, over sockets; it links no engine. */
#ifndef OVERLAP_BENCH_H
#define OVERLAP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capacity.h"
#include "config.h"

#define BENCH_MAX_ENGINES 16       /* configs per sweep: each is a colour in every chart */
#define BENCH_MAX_POINTS  32       /* client counts, rates or fractions per list */
#define BENCH_MAX_CLIENTS 65536    /* the load generator's connection limit */
#define BENCH_MAX_RATE    10000000 /* req/s: far past anything one machine serves */
#define BENCH_MAX_REPEATS 20       /* runs per load point: 10 already give a 98 % median interval */
#define BENCH_MAX_VARY    12       /* values per map axis: 12 x 12 cells is hours of probes */
#define BENCH_ERR_LEN     512
#define BENCH_DSN_LEN     512 /* a libpq connection string or URI */
#define BENCH_MAX_HOSTS   32  /* load hosts: agents of one run; their logs are merge's arguments */
#define BENCH_HOST_LEN    128 /* a host as the launcher takes it: user@name, a namespace */
#define BENCH_LAUNCH_LEN  1024

/* What a sweep runs: a suite file, then flags over it. */
struct bench_suite {
    char name[64];
    char workload[4096]; /* a suite's relative path is relative to the suite file */
    int nengines;
    struct bench_engine engines[BENCH_MAX_ENGINES];
    int nclients; /* closed loop; 0 runs none */
    int clients[BENCH_MAX_POINTS];
    int auto_rates; /* open loop at fractions of each config's bound */
    int nrates;     /* explicit open-loop rates (when not auto_rates); 0 runs none */
    double rates[BENCH_MAX_POINTS];
    int nfractions; /* auto_rates: fractions of the bound */
    double fractions[BENCH_MAX_POINTS];
    uint64_t duration_ns, warmup_ns;
    int repeats;  /* runs per load point, configs interleaved (the timeline runs once) */
    int timeline; /* requests in the timeline scenario; 0 skips it */
    char server_cpus[64], load_cpus[64];
    int load_threads;
    /* `slo = p99 100ms`: after the points, each config's capacity at this
     * goal (bench_capacity.c); has_slo 0 searches none */
    int has_slo;
    struct capacity_goal slo;
    double tolerance; /* the search's bracket, a fraction; 0 for capacity.h's default */
    /* `vary.cpu` and `vary.wait`: the crossover map (bench_map.c) searches
     * every config's capacity in every cell of these two lists, the
     * workload moved there by wl_vary; an empty list keeps the workload's
     * own value on that axis. Either makes a map, which needs an slo. */
    int nvary_cpu, nvary_wait;
    uint64_t vary_cpu_ns[BENCH_MAX_VARY], vary_wait_ns[BENCH_MAX_VARY];
    /* `database = overlap | postgres | DSN`: the simulated database (""
     * too), a throwaway PostgreSQL cluster the sweep runs, or a PostgreSQL
     * server of the user's (bench_pg.c) */
    char database[BENCH_DSN_LEN];
    int db_connections; /* `db_connections = C`: the budget of configs that name none; 0 */
    /* `load_hosts = a b`: every open-loop run's load comes from one agent
     * per host (`overlap load --share i/N`), started through `launcher`, a
     * shell template with {host} and {command} (ssh by default), and
     * merged (bench_agents.c); the window opens launch_lead_ns after they
     * are started, plus the warmup. The server listens on server_address,
     * one the hosts reach (127.0.0.1 by default). */
    int nhosts;
    char hosts[BENCH_MAX_HOSTS][BENCH_HOST_LEN];
    char launcher[BENCH_LAUNCH_LEN];
    char server_address[64];
    uint64_t launch_lead_ns;
    /* `labels = A; B`: what a reader calls each config of engines, in its
     * order ("" keeps the default, bench_config_label); after
     * bench_suite_label_configs, every config's label, all distinct */
    int nlabels;
    char labels[BENCH_MAX_ENGINES][BENCH_LABEL_LEN];
};

/* Whether the suite draws the crossover map. */
static inline int bench_suite_has_map(const struct bench_suite *s)
{
    return s->nvary_cpu > 0 || s->nvary_wait > 0;
}

/* ---- suites and engine specs (suite.c) ---- */

/* The settings every sweep starts from: no engines or points, 2 s runs after
 * 500 ms of warmup, each point once, an 8-request timeline, the server on CPU 0
 * and the load on CPU 1 when there are two or more. */
void bench_suite_defaults(struct bench_suite *s);

/* Sets one suite key (name, workload, engines, labels, clients, rates,
 * auto_fractions, duration, warmup, repeats, timeline, server_cpus, load_cpus,
 * load_threads, slo, capacity_tolerance, vary.cpu, vary.wait, database,
 * db_connections, load_hosts, launcher, server_address, launch_lead)
 * from its text, as a suite file or a flag gives it; 0, or -1 with a message
 * in err. */
int bench_suite_set(struct bench_suite *s, const char *key, const char *value, char *err,
                    size_t errlen);

/* Reads a suite file over s. 0, or -1 with `FILE:LINE: what is wrong
 * (what was expected)` in err. */
int bench_suite_load(const char *path, struct bench_suite *s, char *err, size_t errlen);

/* The launcher's line for one agent (bench_agents.c): tmpl's {host} and
 * {command} filled, each quoted for /bin/sh as one word. 0, or -1 with a
 * message in err (a template without both, an unknown placeholder, no
 * room). */
int bench_launcher_line(const char *tmpl, const char *host, const char *command, char *out,
                        size_t len, char *err, size_t errlen);

/* Gives every config of s its label: the suite's, else its default, made
 * distinct (bench_labels_distinct). 0, or -1 with a message in err when
 * the suite gives more labels than it has configs. */
int bench_suite_label_configs(struct bench_suite *s, char *err, size_t errlen);

/* ---- the sweep (bench.c) ---- */

/* `overlap bench [flags]`: the exit status (0, 1 failure, 2 usage, 130 interrupted). */
int bench_main(int argc, char **argv);

/* `overlap merge [--out DIR] [--no-plot] SHARD...` (bench_merge.c): the
 * folders of one sweep's shards (`overlap bench --shard I/N`) made into the
 * folder the sweep run whole would have made, summary and charts included.
 * 0, 1 when the folders are not every shard of one finished sweep (nothing
 * is written), 2 usage. bench_merge_wants says whether a command line is
 * this merge's (it names a folder) rather than the load agents' (.hlog
 * files, load_merge_main). */
int bench_merge_main(int argc, char **argv);
int bench_merge_wants(int argc, char **argv);

/* `overlap engine check MANIFEST` (check.c): whether an external engine
 * meets engines/README.md's contract; 0, 1 when a case failed, 2 usage.
 * `overlap engine run MANIFEST ...` (engine_run.c): one started by hand as
 * a sweep starts it. bench_engine_main dispatches the two. */
int bench_check_main(int argc, char **argv);
int bench_engine_main(int argc, char **argv);

/* What draws a finished sweep's charts and report.html: `overlap plot`'s
 * main, called with {"plot", DIR}. The command line sets it (main.c), so
 * the sweep needs nothing of the report's; unset, a sweep draws nothing. */
typedef int (*bench_drawer)(int argc, char **argv);
void bench_set_drawer(bench_drawer draw);

/* ---- /proc sampling (bench_proc.c) ---- */

/* /proc samples of one process. */
struct bench_proc {
    double utime_s, stime_s; /* all its threads, ended ones included */
    long rss_kib, threads, fds;
};

/* Reads /proc/PID/{stat,status,fd}: cheap enough to call 20 times a second.
 * 0 or -errno (-ENOENT: the process is gone). */
int bench_sample_proc(pid_t pid, struct bench_proc *p);

/* Reads the user and system CPU time of a process (all its threads) from
 * /proc/PID/stat alone. 0 or -errno. */
int bench_sample_cpu(pid_t pid, double *utime_s, double *stime_s);

/* Sums the voluntary and involuntary context switches of every live thread
 * of a process (/proc/PID/task/TID/status: the counters are per thread, and
 * an ended thread takes its own with it). 0 or -errno. */
int bench_count_switches(pid_t pid, long *vol, long *invol);

/* The same two over a process and its descendants (an external engine that
 * forks workers): CPU, threads, descriptors and switches summed, RSS summed
 * too (pages the processes share count once in each). The tree is read
 * from /proc/PID/task/TID/children at each call; a descendant that ended
 * takes its counters with it. 0 or -errno of the root. */
int bench_sample_tree(pid_t pid, struct bench_proc *p);
int bench_count_switches_tree(pid_t pid, long *vol, long *invol);

#endif
