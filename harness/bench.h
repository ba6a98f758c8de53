/* `overlap bench`: the sweep. For each engine config it starts `overlap db`
 * and `overlap serve`, drives each load point with `overlap load`, samples the
 * server from /proc and appends one row per run to the results folder. The
 * harness measures servers as processes, over sockets; it links no engine. */
#ifndef OVERLAP_BENCH_H
#define OVERLAP_BENCH_H

#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_ENGINES 16
#define BENCH_MAX_POINTS  32

/* One engine configuration, parsed from `pool:workers=64,mode=connection`. */
struct bench_engine {
    char spec[128]; /* as written: the config's name in every output */
    int async;      /* 0 pool, 1 async */
    int workers;    /* pool: 0 with mode connection means a thread per connection */
    int queue;      /* pool; 0 leaves the server's default */
    int connection_mode;
    int loops;    /* async; 0 leaves the server's default */
    int db_conns; /* async; 0 leaves the server's default */
};

struct bench_suite {
    char name[64];
    char workload[512];
    int nengines;
    struct bench_engine engines[BENCH_MAX_ENGINES];
    int nclients;
    int clients[BENCH_MAX_POINTS];
    int auto_rates; /* rates are fractions of each config's predicted bound */
    int nrates;
    double rates[BENCH_MAX_POINTS]; /* req/s, or fractions when auto_rates */
    uint64_t duration_ns, warmup_ns;
    int timeline; /* requests in the timeline scenario; 0 skips it */
    char server_cpus[64], load_cpus[64];
    int load_threads;
};

/* Parses one engine spec; 0, or -1 with a message in err. */
int bench_parse_engine(const char *text, struct bench_engine *e, char *err, size_t errlen);

/* `overlap bench [flags]`: the exit status (0, 1 failure, 2 usage, 130 interrupted). */
int bench_main(int argc, char **argv);

/* /proc samples of one process. */
struct bench_proc {
    double utime_s, stime_s;
    long rss_kib, threads, fds;
    long vol_ctxsw, invol_ctxsw;
};

/* Reads /proc/PID/{stat,status,fd}; 0 or -errno (the process is gone). */
int bench_sample_proc(pid_t pid, struct bench_proc *p);

#endif
