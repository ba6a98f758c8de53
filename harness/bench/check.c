/* `overlap engine check MANIFEST`: whether an external engine meets the
 * contract of engines/README.md. It starts `overlap db` on a check workload
 * whose rows hold every kind of value, overlap's async engine as the
 * reference, and the engine under test, then runs the black-box cases the C
 * engines pass, each named, and prints `ok` or `FAIL` with what differed.
 * Exit status 0 when every case passed, 1 when one failed or nothing could
 * start, 2 for a usage error. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"
#include "bench_child.h"
#include "check.h"
#include "ext.h"
#include "pg.h"
#include "proc.h"
#include "wl.h"

#include <libpq-fe.h>

static const char usage[] =
    "usage: overlap engine check MANIFEST [--database DB] [--workers N] [--keep]\n"
    "  MANIFEST       engines/NAME.ini, or NAME for overlap's engines/NAME.ini\n"
    "  --database DB  overlap (overlap db, the default) or postgres (a throwaway\n"
    "                 PostgreSQL cluster: the manifest must say databases = overlap postgres)\n"
    "  --workers N    {workers} for the engine (default: the manifest's)\n"
    "  --keep         keep the check's folder (logs, workload) and print where\n";

/* Rows with every kind of value: integers past 2^53, reals, text with
 * quotes, control characters, UTF-8 and markup, NULL, an empty string. The
 * types read alike in SQLite and PostgreSQL (REAL and INTEGER would be
 * float4 and int4 there). */
static const char data_sql[] =
    "CREATE TABLE item(id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, note TEXT, "
    "big BIGINT);\n"
    "INSERT INTO item VALUES (1, 'plain', 1.5, 'x', 9007199254740993);\n"
    "INSERT INTO item VALUES (2, 'quote \" back \\ slash', 0.1, NULL, -1);\n"
    "INSERT INTO item VALUES (3, 'tab\tnl\nctl\x01', -2.25, 'h\xc3\xa9llo', 0);\n"
    "INSERT INTO item VALUES (4, '<b>&amp;</b> ''single''', 12345678901234, '', 7);\n";

/* The wait's latency is the format's one %s: 20 ms on overlap db; 100 ms on
 * PostgreSQL, whose start refuses a latency under 5 times pg_sleep's
 * measured overshoot, 5.4 ms at 10 ms on a busy machine. The overload
 * case's 200 waits then queue for 2.5 s on CHECK_DB_CONNECTIONS, half the
 * 5 s after which a query is 504. */
static const char workload_ini[] =
    "[workload]\nname = check\n[database]\ninit = data.sql\n"
    "[query.items]\nsql = SELECT id, name, score, note, big FROM item WHERE id <= ? ORDER BY id\n"
    "params = const 4\nlatency = fixed 0ms\n"
    "[query.byname]\nsql = SELECT id, note FROM item WHERE name = ?\nparams = const \"plain\"\n"
    "latency = fixed 0ms\n"
    "[query.above]\nsql = SELECT id, score FROM item WHERE score > ? ORDER BY id\n"
    "params = const 1.0\nlatency = fixed 0ms\n"
    "[query.nulls]\nsql = SELECT CAST(? AS TEXT) IS NULL, count(*) FROM item\nparams = null\n"
    "latency = fixed "
    "0ms\n"
    "[query.none]\nsql = SELECT id FROM item WHERE id > 100\nlatency = fixed 0ms\n"
    "[query.pick]\nsql = SELECT id, name, score, note, big FROM item WHERE id = ?\n"
    "params = int 1 4\nlatency = fixed 0ms\n"
    "[query.wait]\nsql = SELECT id FROM item WHERE id = 1\nlatency = fixed %s\n"
    "[query.bad]\nsql = SELECT abs(-9223372036854775807 - 1)\nlatency = fixed 0ms\n"
    "[request.items]\nsteps = query items\n"
    "[request.mixed]\nsteps = query byname, query above, cpu 20us, query nulls, query none, "
    "query items\n"
    "[request.page]\nrender = html\nsteps = query items, query byname\n"
    "[request.pick]\nsteps = query pick\n"
    "[request.wait]\nsteps = query wait\n"
    "[request.bad]\nsteps = query bad\n";

static void report(struct check *c, const char *name, bool ok, const char *why)
{
    printf("%-4s %-14s %s\n", ok ? "ok" : "FAIL", name, ok ? "" : why);
    fflush(stdout);
    *(ok ? &c->passed : &c->failed) += 1;
}

void check_path_in(const struct check *c, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", c->dir, name);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* overlap pg's connections: the engine's and async's, and as many again
 * for reconnections whose ended backends are still counted */
#define CHECK_PG_CONNECTIONS (4 * CHECK_DB_CONNECTIONS)

int check_start_db(struct check *c, char *why, size_t wlen)
{
    char wl[PATH_MAX + 16], sock[PATH_MAX + 16], log[PATH_MAX + 16];
    struct bench__args a;
    check_path_in(c, "check.ini", wl, sizeof(wl));
    check_path_in(c, "db.sock", sock, sizeof(sock));
    check_path_in(c, c->postgres ? "postgres.log" : "db.log", log, sizeof(log));
    bench__args_init(&a);
    bench__arg(&a, c->self);
    bench__arg(&a, c->postgres ? "pg" : "db");
    bench__flag(&a, "--workload", "%s", wl);
    if (c->postgres) /* its folder in $TMPDIR: the check's is root's alone */
        bench__flag(&a, "--connections", "%d", CHECK_PG_CONNECTIONS);
    else
        bench__flag(&a, "--listen", "unix:%s", sock);
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c->db, argv, log, true) < 0)
        return snprintf(why, wlen, "cannot start overlap %s", c->postgres ? "pg" : "db"), -1;
    return bench__child_listening_for(&c->db, c->postgres ? "PostgreSQL" : "database",
                                      c->postgres ? CHECK_PG_READY_S : BENCH__READY_TIMEOUT_S,
                                      c->db_addr, sizeof(c->db_addr), why, wlen);
}

/* One statement as PostgreSQL's superuser, on the cluster's socket. */
static int pg_admin(struct check *c, const char *sql, char *why, size_t wlen)
{
    const char *keys[] = {"dbname", "user", NULL}, *values[] = {c->db_addr, PG_SUPERUSER, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    PGresult *r = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, sql) : NULL;
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0) {
        const char *msg = PQerrorMessage(conn);
        snprintf(why, wlen, "%s: %.*s", sql, (int)strcspn(msg, "\n"), msg);
    }
    PQclear(r);
    PQfinish(conn);
    return rc;
}

int check_db_down(struct check *c, char *why, size_t wlen)
{
    if (!c->postgres) {
        bench__child_stop(&c->db);
        return 0;
    }
    /* PostgreSQL stays up, but admits none of the engines' role, and ends
     * every backend it had: each connection lost, each reconnection refused */
    return pg_admin(c,
                    "ALTER ROLE " PG_ROLE " CONNECTION LIMIT 0; SELECT pg_terminate_backend(pid) "
                    "FROM pg_stat_activity WHERE usename = '" PG_ROLE "'",
                    why, wlen);
}

int check_db_up(struct check *c, char *why, size_t wlen)
{
    if (!c->postgres)
        return check_start_db(c, why, wlen);
    char sql[128];
    snprintf(sql, sizeof(sql), "ALTER ROLE " PG_ROLE " CONNECTION LIMIT %d", CHECK_PG_CONNECTIONS);
    return pg_admin(c, sql, why, wlen);
}

static int start_reference(struct check *c, char *why, size_t wlen)
{
    char wl[PATH_MAX + 16], log[PATH_MAX + 16];
    struct bench__args a;
    check_path_in(c, "check.ini", wl, sizeof(wl));
    check_path_in(c, "async.log", log, sizeof(log));
    bench__args_init(&a);
    bench__arg(&a, c->self);
    bench__arg(&a, "serve");
    bench__flag(&a, "--engine", "async");
    bench__flag(&a, "--workload", "%s", wl);
    bench__flag(&a, "--db", "%s", c->db_addr);
    bench__flag(&a, "--listen", "127.0.0.1:0");
    bench__flag(&a, "--loops", "1");
    if (c->postgres)
        bench__flag(&a, "--db-connections", "%d", CHECK_DB_CONNECTIONS);
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c->refsrv, argv, log, true) < 0)
        return snprintf(why, wlen, "cannot start overlap serve"), -1;
    return bench__child_listening(&c->refsrv, "async", c->ref, sizeof(c->ref), why, wlen);
}

/* Asks addr for /items until it answers 200 eight times in a row (each of
 * a few database connections more than once), for up to 10 s: 0, or -1
 * with the last status in why. */
static int warm(const char *addr, const char *what, char *why, size_t wlen)
{
    uint64_t until = proc_now_ns() + 10000000000ULL;
    int status = 0, row = 0;
    while (row < 8 && proc_now_ns() < until && !proc_stopping()) {
        struct check_resp r;
        status = check_get(addr, "GET", "/items", &r) == 0 ? r.status : 0;
        check_resp_free(&r);
        row = status == 200 ? row + 1 : 0;
        if (status != 200)
            usleep(50000);
    }
    if (row == 8)
        return 0;
    snprintf(why, wlen,
             "%s did not answer GET /items with 200 eight times in a row within 10 s "
             "(last: %d)",
             what, status);
    return -1;
}

/* The check's folder: the workload, its rows and JSON, the logs. */
static int prepare(struct check *c, char *why, size_t wlen)
{
    char ini[PATH_MAX + 16], sql[PATH_MAX + 16], json[PATH_MAX + 16];
    const char *base = getenv("TMPDIR");
    snprintf(c->dir, sizeof(c->dir), "%s/overlap-check-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(c->dir))
        return snprintf(why, wlen, "cannot create %s: %s", c->dir, strerror(errno)), -1;
    check_path_in(c, "check.ini", ini, sizeof(ini));
    check_path_in(c, "data.sql", sql, sizeof(sql));
    check_path_in(c, "check.json", json, sizeof(json));
    struct wl_workload *wl = NULL;
    char err[WL_ERR_LEN];
    FILE *f = NULL;
    char text[sizeof(workload_ini) + 16];
    snprintf(text, sizeof(text), workload_ini, c->postgres ? "100ms" : "20ms");
    if (write_file(ini, text) < 0 || write_file(sql, data_sql) < 0 ||
        wl_load(ini, &wl, err, sizeof(err)) < 0 || !(f = fopen(json, "w")) ||
        wl_export_json(wl, f) < 0) {
        snprintf(why, wlen, "cannot write the check's workload in %s", c->dir);
        if (f)
            fclose(f);
        wl_free(wl);
        return -1;
    }
    wl_free(wl);
    return fclose(f) == 0 ? 0 : -1;
}

int bench_check_main(int argc, char **argv)
{
    static struct check c;
    struct ext_manifest m;
    const char *ref = NULL;
    bool keep = false, postgres = false;
    int workers = 0;
    char path[PATH_MAX], why[PATH_MAX + 256], log[PATH_MAX + 16], build[PATH_MAX + 16],
        json[PATH_MAX + 16];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return fputs(usage, stdout), 0;
        if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--database") && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "postgres") && strcmp(argv[i], "overlap"))
                return proc_usage_error("engine check", usage,
                                        "bad --database '%s' (expected overlap or postgres)",
                                        argv[i]);
            postgres = !strcmp(argv[i], "postgres");
        } else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            if (wl_count_parse(argv[++i], 1, 100000, &workers) < 0)
                return proc_usage_error("engine check", usage, "bad --workers '%s'", argv[i]);
        } else if (argv[i][0] == '-' || ref)
            return proc_value_missing("engine check", usage, argv[i]);
        else
            ref = argv[i];
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0 || !ref)
        return proc_usage_error("engine check", usage, "expected check MANIFEST");
    if (ext_manifest_find(ref, path, sizeof(path), why, sizeof(why)) < 0 ||
        ext_manifest_load(path, &m, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        return 2;
    }
    if (postgres && !m.postgres) {
        fprintf(stderr,
                "overlap engine check: %s speaks overlap db's protocol only (its manifest has "
                "no `databases = overlap postgres`)\n",
                m.path);
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.m = &m;
    c.postgres = postgres;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    c.self = self;
    if (proc_install_signals() < 0 || prepare(&c, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        return 1;
    }
    check_path_in(&c, "build", build, sizeof(build));
    check_path_in(&c, "check.json", json, sizeof(json));
    struct ext_vars v = {.listen = "127.0.0.1:0",
                         .db = c.db_addr,
                         .workload = json,
                         .build = build,
                         .workers = workers,
                         .db_connections = CHECK_DB_CONNECTIONS};
    int status = 1;
    printf("overlap engine check: %s (%s) from %s%s\n", m.name, m.architecture, m.path,
           postgres ? ", on PostgreSQL" : "");
    fflush(stdout);
    check_path_in(&c, "build.log", log, sizeof(log));
    if (check_start_db(&c, why, sizeof(why)) < 0 || start_reference(&c, why, sizeof(why)) < 0 ||
        ext_build(&m, &v, log, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        goto done;
    }
    check_path_in(&c, "server.log", log, sizeof(log));
    if (ext_start(&m, &v, &c.server, log, "", c.addr, sizeof(c.addr), why, sizeof(why)) < 0) {
        report(&c, "start", false, why);
        goto done;
    }
    /* a server may open its database connections after it listens: both
     * are given 10 s to answer queries before the cases begin */
    if (warm(c.ref, "async", why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine check: %s\n", why);
        goto done;
    }
    if (warm(c.addr, m.name, why, sizeof(why)) < 0) {
        report(&c, "start", false, why);
        goto done;
    }
    report(&c, "start", true, "");
    for (int i = 0; i < check_ncases && !proc_stopping(); i++) {
        why[0] = '\0';
        bool ok = check_cases[i].run(&c, why, sizeof(why));
        bench__child_drain(&c.server);
        report(&c, check_cases[i].name, ok, why);
        if (!ok && bench__child_ended(&c.server, m.name, why, sizeof(why))) {
            report(&c, "alive", false, why);
            break;
        }
    }
    status = c.failed ? 1 : 0;
    printf("%s: %d passed, %d failed%s\n", m.name, c.passed, c.failed,
           c.failed ? " (the logs: --keep)" : "");
done:
    bench__child_stop(&c.server);
    bench__child_stop(&c.refsrv);
    bench__child_stop(&c.db);
    if (keep)
        printf("the check's folder: %s\n", c.dir);
    else
        proc_remove_tree(c.dir);
    return proc_stopping() ? 130 : status;
}
