/* PostgreSQL behind the engines, the sweep's side: one throwaway cluster
 * (`overlap pg`) for the whole sweep, or a server of the user's named by a
 * DSN; each config's connection budget set as the role's CONNECTION LIMIT
 * before its server starts; and at each window's two ends the counters the
 * `db-budget` and `db-calls` checks read (pg_stat_activity,
 * pg_stat_statements), through one superuser connection of the 3 the
 * cluster reserves. One cluster rather than one a run: a start costs 2 to
 * 3 s, and the budget is the role's limit, which ALTER ROLE moves. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "csv.h"
#include "pg.h"
#include "proc.h"
#include "serve.h"
#include "wl.h"

#define PG_READY_S     60.0 /* initdb, start and load take 2 to 3 s; a busy machine more */
#define PG_DRAIN_MS    5000 /* an earlier server's backends leave within this */
#define PG_DRAIN_EVERY 10   /* ms between looks at them */
/* A new server opens its budget within this: its first connects may meet
 * the role's limit while the start's own check connection is still leaving,
 * and retry with the engines' backoff (at most half a second apart). */
#define PG_BUDGET_WAIT_MS 10000

struct bench__pg {
    int own; /* the sweep runs the cluster: child is `overlap pg` */
    struct bench__child child;
    char log[PATH_MAX + 32]; /* its log, in the private folder until the end */
    char dsn[BENCH_DSN_LEN]; /* the engines' */
    char role[64];           /* the engines' role: PG_ROLE, or the DSN's user */
    PGconn *admin;           /* the superuser's; NULL when the server grants none */
    char about[1024];        /* pg_describe's lines, or why there are none */
    int limit;               /* the role's CONNECTION LIMIT as last set; 0 unknown */
    uint64_t reset_ns;       /* when the statement counters were last reset */
    double reset_epoch_s;    /* the same, by the wall clock */
};

int bench__db_budget(const struct bench_suite *s, const struct bench_engine *e)
{
    if (e->db_connections > 0)
        return e->db_connections;
    if (s->db_connections > 0)
        return s->db_connections;
    if (e->kind == BENCH_POOL && e->workers != 0)
        return e->workers > 0 ? e->workers : SERVE_DEFAULT_WORKERS;
    if (e->kind == BENCH_EXT && e->workers > 0) /* ext:NAME:workers=N: a connection a worker */
        return e->workers;
    return SERVE_DEFAULT_WORKERS;
}

/* ---- the cluster and the connections ---- */

/* One superuser statement; 0, or -1 with libpq's message in err. */
static int admin_exec(struct bench__pg *pg, const char *sql, const char *param, PGresult **out,
                      char *err, size_t len)
{
    if (!pg->admin) {
        snprintf(err, len, "no superuser connection");
        return -1;
    }
    if (PQstatus(pg->admin) != CONNECTION_OK)
        PQreset(pg->admin);
    PGresult *r = PQexecParams(pg->admin, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        snprintf(err, len, "%s", PQerrorMessage(pg->admin));
        err[strcspn(err, "\n")] = '\0';
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static PGconn *connect_as(const char *dsn, const char *user)
{
    const char *keys[] = {"dbname", "user", NULL}, *values[] = {dsn, user, NULL};
    if (!user)
        keys[1] = NULL;
    return PQconnectdbParams(keys, values, 1);
}

/* `overlap pg --workload W --connections C`, started from this thread and
 * waited for: its stdout's `listening DSN` is the engines' DSN. */
static int start_cluster(struct bench__sweep *sw, struct bench__pg *pg, int budget)
{
    struct bench__args a;
    char reason[BENCH__REASON_LEN];
    bench__args_init(&a);
    bench__arg(&a, sw->self);
    bench__arg(&a, "pg");
    bench__flag(&a, "--workload", "%s", sw->suite.workload);
    bench__flag(&a, "--connections", "%d", budget);
    snprintf(pg->log, sizeof(pg->log), "%s/postgres.log", sw->sockdir);
    char **argv = bench__args_argv(&a);
    int err = argv ? bench__child_start(&pg->child, argv, pg->log, true) : -E2BIG;
    if (err < 0) {
        fprintf(stderr, "overlap bench: cannot start overlap pg: %s\n", strerror(-err));
        return -1;
    }
    if (bench__child_listening_for(&pg->child, "PostgreSQL", PG_READY_S, pg->dsn, sizeof(pg->dsn),
                                   reason, sizeof(reason)) < 0) {
        fprintf(stderr, "overlap bench: PostgreSQL did not start: %s\n", reason);
        return -1;
    }
    pg->limit = budget;
    return 0;
}

/* The engines' DSN answers (its role is theirs); the superuser's too, for
 * the checks: required of the sweep's own cluster, a warning otherwise. */
static int connect_all(struct bench__pg *pg)
{
    PGconn *probe = connect_as(pg->dsn, NULL);
    if (PQstatus(probe) != CONNECTION_OK) {
        fprintf(stderr, "overlap bench: cannot reach the database %s: %s", pg->dsn,
                PQerrorMessage(probe));
        PQfinish(probe);
        return -1;
    }
    snprintf(pg->role, sizeof(pg->role), "%s", PQuser(probe));
    PQfinish(probe);
    pg->admin = connect_as(pg->dsn, PG_SUPERUSER);
    if (PQstatus(pg->admin) == CONNECTION_OK)
        return 0;
    if (pg->own) {
        fprintf(stderr, "overlap bench: cannot connect to PostgreSQL as %s: %s", PG_SUPERUSER,
                PQerrorMessage(pg->admin));
        return -1;
    }
    fprintf(stderr,
            "overlap bench: warning: no superuser %s on %s: the budget is not set and the "
            "db-budget and db-calls checks are not assessed (%s)\n",
            PG_SUPERUSER, pg->dsn, PQerrorMessage(pg->admin));
    PQfinish(pg->admin);
    pg->admin = NULL;
    return 0;
}

int bench__pg_open(struct bench__sweep *sw)
{
    struct bench_suite *s = &sw->suite;
    if (!s->database[0])
        return 0;
    struct bench__pg *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        fprintf(stderr, "overlap bench: out of memory\n");
        return -1;
    }
    sw->pg = pg;
    pg->own = !strcmp(s->database, "postgres");
    pg->child = (struct bench__child){.out = -1, .logfd = -1};
    int largest = 0;
    for (int i = 0; i < s->nengines; i++) /* set by the sweep's prepare */
        largest = s->engines[i].db_budget > largest ? s->engines[i].db_budget : largest;
    if (pg->own && start_cluster(sw, pg, largest) < 0)
        return -1;
    if (!pg->own)
        snprintf(pg->dsn, sizeof(pg->dsn), "%s", s->database);
    if (connect_all(pg) < 0)
        return -1;
    if (pg_describe(pg->dsn, pg->about, sizeof(pg->about)) < 0) {
        pg->about[strcspn(pg->about, "\n")] = '\0';
        fprintf(stderr, "overlap bench: warning: cannot describe the server: %s\n", pg->about);
        pg->about[0] = '\0';
    }
    return 0;
}

/* Keeps the cluster's log in the results folder (when there is one). */
static void keep_log(const struct bench__sweep *sw, const struct bench__pg *pg)
{
    char to[PATH_MAX + 32], buf[65536];
    size_t n;
    if (!pg->log[0])
        return;
    FILE *in = fopen(pg->log, "r"), *out = NULL;
    if (in && sw->dir[0]) {
        snprintf(to, sizeof(to), "%s/logs/postgres.log", sw->dir);
        out = fopen(to, "w");
    }
    while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0 && fwrite(buf, 1, n, out) == n)
        ;
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    unlink(pg->log);
}

void bench__pg_close(struct bench__sweep *sw)
{
    struct bench__pg *pg = sw->pg;
    if (!pg)
        return;
    if (pg->admin)
        PQfinish(pg->admin);
    bench__child_stop(&pg->child); /* SIGTERM: it stops postgres and removes its folder */
    keep_log(sw, pg);
    free(pg);
    sw->pg = NULL;
}

int bench__pg_ended(struct bench__sweep *sw, char *reason, size_t len)
{
    return sw->pg && sw->pg->own && bench__child_ended(&sw->pg->child, "PostgreSQL", reason, len);
}

/* ---- each config ---- */

static void sleep_ms(int ms)
{
    struct pollfd stop = {.fd = proc_stop_fd(), .events = POLLIN};
    poll(&stop, 1, ms); /* an interruption cuts it short */
}

/* The role's client backends now, or -1. */
static long role_backends(struct bench__pg *pg, char *err, size_t len)
{
    PGresult *r;
    if (admin_exec(pg,
                   "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND "
                   "backend_type = 'client backend'",
                   pg->role, &r, err, len) < 0)
        return -1;
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Waits until an earlier server's backends have gone (they leave a moment
 * after their clients do), ending any that linger past PG_DRAIN_MS. */
static int drain(struct bench__pg *pg, char *err, size_t len)
{
    long n = 0;
    for (int waited = 0; (n = role_backends(pg, err, len)) > 0 && !proc_stopping();
         waited += PG_DRAIN_EVERY) {
        if (waited == PG_DRAIN_MS &&
            admin_exec(pg,
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                       "usename = $1 AND backend_type = 'client backend'",
                       pg->role, NULL, err, len) < 0)
            return -1;
        if (waited > 2 * PG_DRAIN_MS) {
            snprintf(err, len, "%ld connections of role %s would not go", n, pg->role);
            return -1;
        }
        sleep_ms(PG_DRAIN_EVERY);
    }
    return n < 0 ? -1 : 0;
}

/* The role's CONNECTION LIMIT: the sweep's own cluster's budget per config. */
static int set_limit(struct bench__pg *pg, int budget, char *err, size_t len)
{
    char sql[256];
    if (!pg->own || pg->limit == budget)
        return 0;
    char *role = PQescapeIdentifier(pg->admin, pg->role, strlen(pg->role));
    if (!role) {
        snprintf(err, len, "%s", PQerrorMessage(pg->admin));
        return -1;
    }
    snprintf(sql, sizeof(sql), "ALTER ROLE %s CONNECTION LIMIT %d", role, budget);
    PQfreemem(role);
    if (admin_exec(pg, sql, NULL, NULL, err, len) < 0)
        return -1;
    pg->limit = budget;
    return 0;
}

int bench__pg_start_config(struct bench__sweep *sw, int id)
{
    struct bench__pg *pg = sw->pg;
    const struct bench_engine *e = &sw->suite.engines[sw->plan.runs[id - 1].engine];
    char err[BENCH__REASON_LEN] = "";
    if (bench__pg_ended(sw, sw->server_down, sizeof(sw->server_down)))
        return -1;
    /* a server of the user's may have other clients of the role: left alone */
    if (pg->own &&
        (set_limit(pg, e->db_budget, err, sizeof(err)) < 0 || drain(pg, err, sizeof(err)) < 0)) {
        snprintf(sw->server_down, sizeof(sw->server_down), "PostgreSQL: %s", err);
        return -1;
    }
    snprintf(sw->db_addr, sizeof(sw->db_addr), "%s", pg->dsn);
    return 0;
}

void bench__pg_await_budget(struct bench__sweep *sw, int id)
{
    struct bench__pg *pg = sw->pg;
    const struct bench_engine *e = &sw->suite.engines[sw->plan.runs[id - 1].engine];
    char err[256];
    if (!pg->own || !pg->admin || (e->kind == BENCH_POOL && e->workers == 0))
        return;
    for (int waited = 0; waited < PG_BUDGET_WAIT_MS && !proc_stopping(); waited += PG_DRAIN_EVERY) {
        long n = role_backends(pg, err, sizeof(err));
        if (n < 0 || n >= e->db_budget)
            return;
        sleep_ms(PG_DRAIN_EVERY);
    }
}

/* ---- the window's counters ---- */

static double epoch_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void bench__pg_window_open(struct bench__sweep *sw)
{
    char err[256];
    if (!sw->pg || !sw->pg->admin ||
        admin_exec(sw->pg, "SELECT pg_stat_statements_reset()", NULL, NULL, err, sizeof(err)) < 0)
        return;
    sw->pg->reset_ns = proc_now_ns(); /* calls counted from here */
    sw->pg->reset_epoch_s = epoch_s();
}

void bench__pg_window_close(struct bench__sweep *sw, struct bench__outcome *o, double late_s)
{
    char err[256];
    PGresult *r;
    if (!sw->pg || !sw->pg->admin)
        return;
    uint64_t read_ns = proc_now_ns(); /* the calls counted up to here */
    double read_epoch_s = epoch_s();
    if (admin_exec(sw->pg,
                   "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles r "
                   "ON r.oid = s.userid WHERE r.rolname = $1 AND s.query <> '" PG_SLEEP_SQL "'",
                   sw->pg->role, &r, err, sizeof(err)) == 0) {
        o->db_calls = atof(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (sw->pg->reset_ns && read_ns > sw->pg->reset_ns) {
            o->db_window_s = fmax(0, (double)(read_ns - sw->pg->reset_ns) / 1e9 - late_s);
            o->db_reset_epoch_s = sw->pg->reset_epoch_s;
            o->db_read_epoch_s = read_epoch_s;
        }
    }
    sw->pg->reset_ns = 0;
    o->db_backends = (double)role_backends(sw->pg, err, sizeof(err));
    if (o->db_backends < 0)
        o->db_backends = NAN;
}

void bench__pg_window_span(struct bench__outcome *o)
{
    double opened = o->load_epoch_s, warmup = o->load_warmup_s, length = o->load_window_s;
    if (!isfinite(o->db_reset_epoch_s) || !isfinite(o->db_read_epoch_s) || !(opened > 0) ||
        !(warmup >= 0) || !(length >= 0))
        return; /* a generator that wrote no opening keeps the sweep's estimate */
    double from = fmax(o->db_reset_epoch_s, opened - warmup);
    double to = fmin(o->db_read_epoch_s, opened + length);
    o->db_window_s = fmax(0, to - from);
    o->db_outside_s = fmin(o->db_window_s, fmax(0, opened - from));
}

/* A request type's query steps. */
static int request_queries(const struct wl_request *r)
{
    int n = 0;
    for (int i = 0; i < r->nsteps; i++)
        n += r->steps[i].kind == WL_STEP_QUERY;
    return n;
}

double bench__pg_queries(const struct bench__sweep *sw, int id)
{
    const struct wl_workload *wl = sw->wl;
    char path[PATH_MAX + 32];
    struct csv_table t;
    double answered = 0, queries = 0;
    bench__run_path(sw, "runs", id, "requests.csv", path, sizeof(path));
    if (csv_load(path, &t) == 0) {
        for (int i = 0; i < t.nrows; i++) {
            const char *name = csv_get(&t, i, "request");
            int k = wl_find_request(wl, name, strlen(name));
            double n = atof(csv_get(&t, i, "requests"));
            if (k >= 0 && n > 0) {
                answered += n;
                queries += n * request_queries(&wl->requests[k]);
            }
        }
        csv_free(&t);
    }
    if (answered > 0)
        return queries / answered;
    for (int k = 0; k < wl->nrequests; k++) /* the mix as the workload weighs it */
        queries += wl->requests[k].weight * request_queries(&wl->requests[k]);
    return wl->total_weight > 0 ? queries / wl->total_weight : NAN;
}

void bench__pg_write_meta(const struct bench__sweep *sw, FILE *f)
{
    const struct bench__pg *pg = sw->pg;
    if (!pg)
        return;
    fprintf(f, "database: %s\ndb_role: %s\n",
            pg->own ? "postgres (a throwaway cluster, started and removed by the sweep)"
                    : "postgres (the server the suite's DSN names)",
            pg->role);
    /* the budget is each config's (runs.csv's db_connections), not the
     * start's: pg_describe's budget line is left out */
    for (const char *line = pg->about; *line;) {
        size_t n = strcspn(line, "\n");
        if (strncmp(line, "postgresql_budget:", 18) != 0)
            fprintf(f, "%.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    fprintf(f, "db_budgets:");
    for (int i = 0; i < sw->suite.nengines; i++)
        fprintf(f, " %s=%d", sw->suite.engines[i].spec, sw->suite.engines[i].db_budget);
    fputc('\n', f);
}
