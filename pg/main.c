/* `overlap pg`: flags, signals and the cluster's life from `listening` to
 * exit. Every path out (a stop signal, an error, the parent's death, which
 * becomes a SIGTERM) goes through pg__cluster_stop, which removes all it
 * made; the guardian (guard.c) covers the paths that skip it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "pg_internal.h"
#include "proc.h"

static const char usage_text[] =
    "usage: overlap pg --workload FILE [flags]\n"
    "  --workload FILE     the workload whose dataset and init script are loaded (required)\n"
    "  --connections C     the engines' connection budget: role " PG_ROLE
    " may hold C connections,\n"
    "                      max_connections is C + 3 (default 100, at most 10000)\n"
    "  --dir DIR           make the cluster's private directory in DIR (default: $TMPDIR or\n"
    "                      /tmp); as root, DIR must be searchable by the user postgres runs as\n"
    "  --seed N            seeds the dataset as `overlap db --seed` does (default 1)\n"
    "  --bin DIR           where initdb and postgres are (default " PG__DEFAULT_BIN ")\n"
    "The first stdout line is `listening DSN`, the engines' libpq URI. Exit status: 0 after\n"
    "SIGINT or SIGTERM once ready, 1 on a system failure (PostgreSQL missing or failing to\n"
    "start) or a stop before ready, 2 on a usage, workload or SQL error, or a latency\n"
    "pg_sleep cannot honour (too short for its measured overshoot). Nothing of the\n"
    "cluster outlives the process.\n";

struct options {
    const char *workload, *dir, *bin;
    int connections;
    uint64_t seed;
};

/* One flag with its value: 0, or the exit status of a usage error. */
static int parse_flag(struct options *o, const char *flag, const char *v)
{
    if (!strcmp(flag, "--workload"))
        o->workload = v;
    else if (!strcmp(flag, "--dir"))
        o->dir = v;
    else if (!strcmp(flag, "--bin"))
        o->bin = v;
    else if (!strcmp(flag, "--connections")) {
        if (wl_count_parse(v, PG_MIN_CONNECTIONS, PG_MAX_CONNECTIONS, &o->connections) < 0)
            return proc_usage_error("pg", usage_text,
                                    "bad --connections '%s' (expected a count from %d to %d)", v,
                                    PG_MIN_CONNECTIONS, PG_MAX_CONNECTIONS);
    } else if (!strcmp(flag, "--seed")) {
        char *end;
        errno = 0;
        o->seed = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-')
            return proc_usage_error("pg", usage_text, "bad --seed '%s' (expected an integer >= 0)",
                                    v);
    } else
        return proc_usage_error("pg", usage_text, "unknown flag '%s'", flag);
    return 0;
}

/* 0 to run, -1 after --help, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->connections = PG_DEFAULT_CONNECTIONS;
    o->seed = 1;
    for (int i = 1; i < argc; i += 2) { /* every flag takes a value */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (i + 1 >= argc)
            return proc_value_missing("pg", usage_text, argv[i]);
        int rc = parse_flag(o, argv[i], argv[i + 1]);
        if (rc)
            return rc;
    }
    if (!o->workload)
        return proc_usage_error("pg", usage_text, "%s", "--workload is required");
    return 0;
}

/* SIGINT and SIGTERM make proc_stop_fd() readable; so does the parent's
 * death (a sweep killed), through PR_SET_PDEATHSIG. */
static int catch_stops(void)
{
    pid_t parent = getppid();
    signal(SIGINT, SIG_DFL); /* a shell's `&` may have left SIGINT ignored */
    if (proc_install_signals() < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) {
        fprintf(stderr, "overlap pg: cannot catch signals: %s\n", strerror(errno));
        return -1;
    }
    if (getppid() != parent)
        raise(SIGTERM); /* it died before the line above */
    return 0;
}

static double seconds_since(uint64_t t0)
{
    return (double)(proc_now_ns() - t0) / 1e9;
}

/* Starts, loads, announces, waits for a stop; always stops and removes. */
static int run(const struct options *o, const struct wl_workload *wl)
{
    struct pg__cluster c;
    char err[WL_ERR_LEN + 4096], about[2048];
    int status = 1;
    uint64_t t0 = proc_now_ns();
    if (pg__cluster_start(&c, o->dir, o->bin, o->connections, proc_stop_fd(), err, sizeof(err)) < 0)
        goto out;
    double started = seconds_since(t0);
    if (pg__load(c.admin_dsn, wl, o->seed, o->connections, err, sizeof(err), &status) < 0)
        goto out;
    status = 1;
    if (proc_stopping()) {
        snprintf(err, sizeof(err), "overlap pg: interrupted while loading");
        goto out;
    }
    if (pg_describe(c.admin_dsn, about, sizeof(about)) < 0) {
        snprintf(err, sizeof(err), "overlap pg: cannot describe the server: %s", about);
        goto out;
    }
    proc_announce(c.dsn);
    fprintf(stderr, "overlap pg: ready in %.2f s (initdb and start %.2f s, load %.2f s)\n%s",
            seconds_since(t0), started, seconds_since(t0) - started, about);
    if (pg__cluster_wait(&c, proc_stop_fd(), err, sizeof(err)) < 0)
        goto out;
    status = 0;
out:
    if (status)
        fprintf(stderr, "%s\n", err);
    t0 = proc_now_ns();
    pg__cluster_stop(&c);
    if (!status)
        fprintf(stderr, "overlap pg: stopped and removed in %.2f s\n", seconds_since(t0));
    return status;
}

int pg_main(int argc, char **argv)
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(o.workload, &wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    rc = catch_stops() < 0 ? 1 : run(&o, wl);
    wl_free(wl);
    return rc;
}
