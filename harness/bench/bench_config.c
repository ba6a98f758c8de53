/* A config's processes for one load point: a fresh database (or the
 * PostgreSQL cluster's) and server, started before the run and stopped
 * after it, so no point inherits another's queues. Each is pinned once:
 * the database inherits the sweep's load CPUs, the server pins itself with
 * `--cpus`. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench_args.h"
#include "proc.h"
#include "serve.h"

/* Starts a child that announces `listening ADDR` and waits for it; 0, or
 * -1 with server_down saying why. */
static int start_announcing(struct bench__sweep *sw, struct bench__args *a, int id,
                            const char *name, const char *what, struct bench__child *c, char *addr,
                            size_t len)
{
    char log[PATH_MAX + 32], reason[BENCH__REASON_LEN];
    char **argv = bench__args_argv(a);
    bench__run_path(sw, "logs", id, name, log, sizeof(log));
    FILE *f = argv ? fopen(log, "a") : NULL; /* the log opens with the command it is of */
    if (f) {
        fputs("command: ", f);
        bench__print_command(f, argv);
        fclose(f);
    }
    int err = argv ? bench__child_start(c, argv, log, true) : -E2BIG;
    if (err < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "cannot start the %s: %s", what,
                 strerror(-err));
        return -1;
    }
    if (bench__child_listening(c, what, addr, len, reason, sizeof(reason)) < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "%s did not start: %s", what, reason);
        return -1;
    }
    return 0;
}

/* A map probe's database and server both move the workload to its cell. */
static void add_cell(const struct bench__sweep *sw, struct bench__args *a, int id)
{
    uint64_t cpu_ns, wait_ns;
    if (!sw->plan.runs[id - 1].cell)
        return;
    bench__map_cell(&sw->suite, sw->plan.runs[id - 1].cell, &cpu_ns, &wait_ns);
    if (cpu_ns)
        bench__flag(a, "--vary-cpu", "%lluns", (unsigned long long)cpu_ns);
    if (wait_ns)
        bench__flag(a, "--vary-wait", "%lluns", (unsigned long long)wait_ns);
}

static int start_db(struct bench__sweep *sw, int id)
{
    struct bench__args a;
    if (sw->pg) /* PostgreSQL: the sweep's one cluster, or the user's server */
        return bench__pg_start_config(sw, id);
    snprintf(sw->db_sock, sizeof(sw->db_sock), "%s/db-%d.sock", sw->sockdir, id);
    bench__args_init(&a);
    bench__arg(&a, sw->self);
    bench__arg(&a, "db");
    bench__flag(&a, "--workload", "%s", sw->suite.workload);
    bench__flag(&a, "--listen", "unix:%s", sw->db_sock);
    add_cell(sw, &a, id);
    return start_announcing(sw, &a, id, "db.log", "database", &sw->db, sw->db_addr,
                            sizeof(sw->db_addr));
}

static int start_server(struct bench__sweep *sw, const struct bench_engine *en, int id)
{
    struct bench__args a;
    if (en->kind == BENCH_EXT)
        return bench__ext_start(sw, (int)(en - sw->suite.engines), id);
    bench__args_init(&a);
    bench__arg(&a, sw->self);
    bench__arg(&a, "serve");
    bool pool = en->kind == BENCH_POOL;
    bench__flag(&a, "--engine", "%s", bench_kind_name(en->kind));
    bench__flag(&a, "--workload", "%s", sw->suite.workload);
    bench__flag(&a, "--db", "%s", sw->db_addr);
    bench__flag(&a, "--listen", "%s:0", sw->suite.server_address);
    add_cell(sw, &a, id);
    if (pool && en->workers >= 0)
        bench__flag(&a, "--workers", "%d", en->workers);
    if (pool && en->queue > 0)
        bench__flag(&a, "--queue", "%d", en->queue);
    if (en->mode[0])
        bench__flag(&a, pool ? "--pool-mode" : "--uring-mode", "%s", en->mode);
    if (!pool && en->loops > 0)
        bench__flag(&a, "--loops", "%d", en->loops);
    if (!pool && en->db_conns > 0)
        bench__flag(&a, "--db-conns", "%d", en->db_conns);
    /* the budget: a loop's on PostgreSQL, a pool's when not its workers,
     * and any the suite names on overlap db */
    int budget = bench__db_budget(&sw->suite, en);
    int workers = en->workers >= 0 ? en->workers : SERVE_DEFAULT_WORKERS;
    if ((sw->pg && (!pool || budget != workers)) ||
        (!sw->pg && (en->db_connections > 0 || sw->suite.db_connections > 0)))
        bench__flag(&a, "--db-connections", "%d", budget);
    if (sw->suite.server_cpus[0])
        bench__flag(&a, "--cpus", "%s", sw->suite.server_cpus);
    double burn_ns = sw->calibration.figure[CALIBRATE_BURN];
    if (isfinite(burn_ns) && burn_ns > 0)
        bench__flag(&a, "--burn-rate", "%.9g", 1e3 / burn_ns);
    return start_announcing(sw, &a, id, "server.log", "server", &sw->server, sw->server_addr,
                            sizeof(sw->server_addr));
}

void bench__stop_config(struct bench__sweep *sw)
{
    bench__child_stop(&sw->server);
    bench__ext_stop(sw);
    bench__child_stop(&sw->db);
    if (sw->db_sock[0])
        unlink(sw->db_sock); /* the database removes it, unless it was killed */
    sw->db_sock[0] = '\0';
}

/* Every load point begins with empty queues and cold counters, so an
 * overloaded point cannot leave a backlog that the next one pays for. A
 * config that failed to start once is not started again (outside a map: a
 * cell's failure is the cell's). On PostgreSQL a start is tried
 * PG_START_TRIES times, a second apart: a sweep beside other work saw a
 * config of 8 refused "too many connections" after one of 64, once the
 * drain had found none of the role's backends left in pg_stat_activity
 * (most likely the ones an earlier config left still counted against the
 * role's limit for a moment after). */
#define PG_START_TRIES 3
void bench__start_config(struct bench__sweep *sw, int id)
{
    int e = sw->plan.runs[id - 1].engine;
    sw->server_down[0] = '\0';
    if (sw->never_started[e][0]) {
        snprintf(sw->server_down, sizeof(sw->server_down), "%s", sw->never_started[e]);
        return;
    }
    for (int tries = sw->pg ? PG_START_TRIES : 1; tries > 0; tries--) {
        sw->server_down[0] = '\0';
        if (start_db(sw, id) == 0 && start_server(sw, &sw->suite.engines[e], id) == 0 && sw->pg)
            bench__pg_await_budget(sw, id);
        if (!sw->server_down[0])
            return;
        bench__stop_config(sw);
        if (tries == 1 || proc_stopping())
            break;
        fprintf(stderr, "overlap bench: %s: %s; trying again in a second\n",
                bench__config_name(sw, e), sw->server_down);
        struct pollfd stop = {.fd = proc_stop_fd(), .events = POLLIN};
        poll(&stop, 1, 1000);
    }
    /* a map cell's failure is the cell's (PostgreSQL refuses a wait too short
     * for its sleep): the config's other cells are tried */
    if (!proc_stopping() && !sw->plan.runs[id - 1].cell)
        snprintf(sw->never_started[e], sizeof(sw->never_started[e]), "%s", sw->server_down);
}

int bench__config_alive(struct bench__sweep *sw)
{
    if (sw->server_down[0])
        return 0;
    if (bench__child_ended(&sw->server, "server", sw->server_down, sizeof(sw->server_down)) ||
        (!sw->pg &&
         bench__child_ended(&sw->db, "database", sw->server_down, sizeof(sw->server_down))) ||
        bench__pg_ended(sw, sw->server_down, sizeof(sw->server_down))) {
        bench__stop_config(sw);
        return 0;
    }
    return 1;
}
