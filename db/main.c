/* `overlap db`: flags, signals and the server's life from `listening` to
 * exit. SIGINT and SIGTERM arrive through a signalfd the loop watches, so
 * stopping is an ordinary event: the socket is unlinked, status 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "db_internal.h"
#include "proc.h"

#define DEFAULT_BENCH_SECONDS 3.0

static const char usage_text[] =
    "usage: overlap db --workload FILE [flags]\n"
    "       overlap db --bench [--seconds S]\n"
    "  --workload FILE     the workload whose [query.*] sections are served (required)\n"
    "  --listen ADDR       unix:PATH or tcp:[HOST:]PORT (HOST defaults to 127.0.0.1, port 0\n"
    "                      picks one); default: a Unix socket in a fresh private directory\n"
    "  --file DB.sqlite    keep the database in this file in WAL mode, built from the\n"
    "                      dataset unless it exists (default: in memory)\n"
    "  --seed N            seeds the dataset, the latencies and the faults (default 1)\n"
    "  --vary-cpu D        scale the workload's cpu steps to D per request, as the server\n"
    "                      does (a cell of the crossover map; no effect on the database)\n"
    "  --vary-wait D       scale each query's latency distribution to the median D\n"
    "fault injection (each drawn per query from the seeded generator):\n"
    "  --fail-rate P       answer this share of queries with an error frame (0 to 1)\n"
    "  --stall-rate P      hold this share of answers --stall longer than sampled\n"
    "  --stall D           the extra hold of a stalled answer (default 1s)\n"
    "  --close-rate P      close the connection when this share of answers fall due\n"
    "bench:\n"
    "  --bench             measure the database itself and exit: zero-latency queries/s at\n"
    "                      64 in flight, and the lateness of 10,000 in flight at 10 ms\n"
    "                      beside a bare timerfd's (no --workload needed)\n"
    "  --seconds S         the length of each bench phase (default 3)\n"
    "The first stdout line is `listening ADDR`. Exit status: 0 after SIGINT or SIGTERM,\n"
    "1 on a system failure, 2 on a usage, workload or SQL error.\n";

struct options {
    struct db__server_config cfg;
    const char *workload;
    uint64_t vary_cpu_ns, vary_wait_ns; /* wl_vary's: 0 leaves the workload's own */
    bool bench;
    double seconds;
};

static int parse_rate(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || *text == '-')
        return -1;
    *out = v;
    return 0;
}

/* One flag with its value: 0, or the exit status of a usage error. */
static int parse_flag(struct options *o, const char *flag, const char *v)
{
    struct db__faults *f = &o->cfg.faults;
    if (!strcmp(flag, "--workload"))
        o->workload = v;
    else if (!strcmp(flag, "--listen"))
        o->cfg.listen = v;
    else if (!strcmp(flag, "--file"))
        o->cfg.file = v;
    else if (!strcmp(flag, "--seed")) {
        if (parse_u64(v, &o->cfg.seed) < 0)
            return proc_usage_error("db", usage_text, "bad --seed '%s' (expected an integer >= 0)",
                                    v);
    } else if (!strcmp(flag, "--fail-rate") || !strcmp(flag, "--stall-rate") ||
               !strcmp(flag, "--close-rate")) {
        double *rate = flag[2] == 'f'   ? &f->fail_rate
                       : flag[3] == 't' ? &f->stall_rate
                                        : &f->close_rate;
        if (parse_rate(v, rate) < 0)
            return proc_usage_error("db", usage_text,
                                    "bad rate '%s' (expected a share from 0 to 1)", v);
    } else if (!strcmp(flag, "--stall")) {
        if (wl_duration_parse(v, &f->stall_ns) < 0)
            return proc_usage_error("db", usage_text,
                                    "bad --stall '%s' (expected a duration such as 500ms)", v);
    } else if (!strcmp(flag, "--vary-cpu") || !strcmp(flag, "--vary-wait")) {
        uint64_t *ns = flag[7] == 'c' ? &o->vary_cpu_ns : &o->vary_wait_ns;
        if (wl_duration_parse(v, ns) < 0 || *ns == 0)
            return proc_usage_error("db", usage_text,
                                    "bad duration '%s' (expected more than 0, e.g. 500us or 10ms)",
                                    v);
    } else if (!strcmp(flag, "--seconds")) {
        char *end;
        o->seconds = strtod(v, &end);
        if (end == v || *end || !(o->seconds > 0 && o->seconds <= 3600))
            return proc_usage_error("db", usage_text,
                                    "bad --seconds '%s' (expected a number from 0 to 3600)", v);
    } else
        return proc_usage_error("db", usage_text, "unknown flag '%s'", flag);
    return 0;
}

/* 0 to run, -1 after --help, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.seed = 1;
    o->cfg.faults.stall_ns = 1000000000u;
    o->seconds = DEFAULT_BENCH_SECONDS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (!strcmp(argv[i], "--bench")) {
            o->bench = true;
            continue;
        }
        if (i + 1 >= argc)
            return proc_value_missing("db", usage_text, argv[i]);
        int rc = parse_flag(o, argv[i], argv[i + 1]);
        if (rc)
            return rc;
        i++;
    }
    if (!o->bench && !o->workload)
        return proc_usage_error("db", usage_text, "%s", "--workload is required");
    return 0;
}

/* SIGINT and SIGTERM become readable events on the returned fd. */
static int stop_signals(void)
{
    sigset_t set;
    signal(SIGINT, SIG_DFL); /* a shell's `&` may have left SIGINT ignored: never queued */
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int serve(struct options *o, struct wl_workload *wl)
{
    char err[WL_ERR_LEN + 256];
    int status;
    struct db__server *s;
    o->cfg.wl = wl;
    o->cfg.stop_fd = stop_signals();
    if (o->cfg.stop_fd < 0) {
        fprintf(stderr, "overlap db: cannot catch signals: %s\n", strerror(errno));
        return 1;
    }
    if (db__server_open(&o->cfg, &s, err, sizeof(err), &status) < 0) {
        fprintf(stderr, "%s\n", err);
        close(o->cfg.stop_fd);
        return status;
    }
    proc_announce(db__server_addr(s));
    int rc = db__server_run(s);
    uint64_t answered, dropped;
    db__server_counts(s, &answered, &dropped);
    if (rc < 0)
        fprintf(stderr, "overlap db: %s\n", strerror(-rc));
    fprintf(stderr, "overlap db: answered %llu queries, dropped %llu (their clients left)\n",
            (unsigned long long)answered, (unsigned long long)dropped);
    db__server_close(s);
    close(o->cfg.stop_fd);
    return rc < 0 ? 1 : 0;
}

int db_main(int argc, char **argv)
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    proc_raise_nofile(0); /* a thousand clients need a thousand descriptors */
    if (o.bench)
        return db__bench_main(o.seconds, o.cfg.seed);
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(o.workload, &wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (wl_vary(wl, o.vary_cpu_ns, o.vary_wait_ns, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        wl_free(wl);
        return 2;
    }
    rc = serve(&o, wl);
    wl_free(wl);
    return rc;
}
