/* `overlap pg` as a process: the cluster it starts holds exactly the rows
 * `overlap db` has, or its init script's, with the settings and the budget
 * asked for; every way out (SIGTERM, SIGINT while starting, SIGKILL, a bad
 * script, a failing initdb or postgres, no PostgreSQL at all) leaves no
 * directory and no process behind; malformed command lines exit 2. Three
 * clusters in all, each started once and checked many ways. Runs as root (initdb and postgres then
 * run as an unprivileged user) and as anyone else. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "db.h"
#include "pg.h"

#define START_MS 60000 /* a start takes 2 to 3 s; a busy machine several times that */
#define GONE_MS  15000 /* the guardian gives postgres 5 s to quit, then kills it */

static char dir[256]; /* the test's own: --dir, the workloads, a fake bin */
static struct child servers[2];
static int nservers;

static void make_dir(void)
{
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
    /* as root, postgres runs as another user, who must get through --dir */
    cr_assert_eq(chmod(dir, 0711), 0);
}

static void remove_dir(void)
{
    for (int i = 0; i < nservers; i++)
        child_kill(&servers[i]);
    child_tmpdir_remove(dir);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static const char *workload_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/workloads/%s", OVERLAP_SOURCE_DIR, name);
    return path;
}

/* Starts `overlap pg --dir DIR` with args (NULL-ended) and waits for it. */
static struct child *start(const char *const *args)
{
    const char *argv[32] = {"pg", "--dir", dir};
    int n = 3;
    while (*args && n < 30)
        argv[n++] = *args++;
    argv[n] = NULL;
    cr_assert_lt(nservers, 2);
    struct child *c = &servers[nservers++];
    cr_assert_eq(child_start(c, argv, START_MS), 0, "overlap pg did not start");
    cr_assert(!strncmp(c->addr, "postgresql://" PG_ROLE "@", 19), "%s", c->addr);
    return c;
}

/* The cluster's private directory: the DSN's host. */
static const char *cluster_dir(const struct child *c)
{
    const char *host = strstr(c->addr, "?host=");
    cr_assert_not_null(host, "%s", c->addr);
    return host + 6;
}

static pid_t postmaster_pid(const char *cdir)
{
    char path[512];
    long pid = 0;
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", cdir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

/* Gone, or a zombie no one has reaped yet (a container's init may not). */
static bool process_gone(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static int entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Within timeout_ms: the cluster's directory and postmaster gone, and
 * only the test's own files (ours of them) left in its --dir. */
static void expect_nothing_left(const char *cdir, pid_t postmaster, int ours, int timeout_ms)
{
    struct stat st;
    long long end = now_ms() + timeout_ms;
    while ((stat(cdir, &st) == 0 || !process_gone(postmaster)) && now_ms() < end)
        usleep(20000);
    cr_expect_neq(stat(cdir, &st), 0, "%s is gone", cdir);
    cr_expect(process_gone(postmaster), "postgres (%d) is gone", (int)postmaster);
    cr_expect_eq(entries(dir), ours, "nothing of the cluster is left in --dir");
}

/* Exit status within GONE_MS, or -1. */
static int wait_exit(struct child *c)
{
    int status = -1;
    pid_t r = 0;
    for (long long end = now_ms() + GONE_MS; now_ms() < end;)
        if ((r = waitpid(c->pid, &status, WNOHANG)) != 0)
            break;
        else
            usleep(10000);
    if (r != c->pid)
        return -1;
    c->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static PGconn *connect_as(const char *dsn, const char *user)
{
    const char *keys[] = {"dbname", "user", NULL}, *values[] = {dsn, user, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    return conn;
}

static PGresult *query(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    return r;
}

/* The one value sql returns, as text in a buffer the next call reuses. */
static const char *value(PGconn *conn, const char *sql)
{
    static char text[256];
    PGresult *r = query(conn, sql);
    cr_assert_eq(PQntuples(r), 1, "%s", sql);
    snprintf(text, sizeof(text), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return text;
}

/* `overlap pg ARGS 2>&1` to the end: its exit status and output. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "timeout 120 %s %s 2>&1", OVERLAP_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The rows of overlap db's World and Fortune, which the same seed makes. */
static void expect_the_dataset(PGconn *conn)
{
    int32_t numbers[DB_WORLD_ROWS];
    db_world_numbers(1, numbers);
    cr_expect_str_eq(value(conn, "SELECT count(*) FROM World"), "10000");
    PGresult *r = query(conn, "SELECT id, randomNumber FROM World ORDER BY id");
    cr_assert_eq(PQntuples(r), DB_WORLD_ROWS);
    for (int i = 0; i < DB_WORLD_ROWS; i++) {
        cr_assert_eq(atoi(PQgetvalue(r, i, 0)), i + 1);
        cr_assert_eq(atoi(PQgetvalue(r, i, 1)), numbers[i], "World %d", i + 1);
    }
    PQclear(r);
    r = query(conn, "SELECT id, message FROM Fortune ORDER BY id");
    cr_assert_eq(PQntuples(r), DB_FORTUNE_ROWS);
    for (int i = 0; i < DB_FORTUNE_ROWS; i++)
        cr_expect_str_eq(PQgetvalue(r, i, 1), db_fortune_message(i + 1), "Fortune %d", i + 1);
    PQclear(r);
}

/* A few rows as `overlap db` answers them for the same workload. */
static void expect_what_overlap_db_answers(PGconn *conn)
{
    const char *args[] = {"db", "--workload", workload_path("seed.ini"), NULL};
    struct child *db = &servers[nservers++];
    struct db_conn *dbc;
    cr_assert_eq(child_start(db, args, 20000), 0, "overlap db did not start");
    cr_assert_eq(db_conn_open(db->addr, &dbc), 0);
    const int ids[] = {1, 2, 4999, 10000};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct db_value id = {.type = DB_INT, .i = ids[i]};
        struct db_result res;
        char sql[128];
        cr_assert_eq(db_conn_query(dbc, 0, &id, 1, 5000000000ull, &res), 0);
        cr_assert_eq(res.nrows, 1);
        snprintf(sql, sizeof(sql), "SELECT randomNumber FROM World WHERE id = %d", ids[i]);
        cr_expect_eq(atoll(value(conn, sql)), res.values[1].i, "World %d", ids[i]);
    }
    db_conn_close(dbc);
    cr_expect_eq(child_stop(db, 10000), 0);
}

/* The budget: role bench may hold C connections and no more, once the
 * backends of those closed before have gone (they end after the close). */
static void expect_the_budget(const char *dsn, int budget)
{
    PGconn *conns[8], *admin = connect_as(dsn, PG_SUPERUSER);
    cr_assert_lt(budget, 8);
    for (long long end = now_ms() + 5000; now_ms() < end; usleep(10000))
        if (!strcmp(value(admin, "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE usename = '" PG_ROLE "'"),
                    "0"))
            break;
    PQfinish(admin);
    for (int i = 0; i < budget; i++)
        conns[i] = connect_as(dsn, PG_ROLE);
    PGconn *over = PQconnectdb(dsn);
    cr_expect_neq(PQstatus(over), CONNECTION_OK, "connection %d is over the budget", budget + 1);
    cr_expect(strstr(PQerrorMessage(over), "too many connections") != NULL, "%s",
              PQerrorMessage(over));
    PQfinish(over);
    admin = connect_as(dsn, PG_SUPERUSER); /* a reserved one */
    PQfinish(admin);
    for (int i = 0; i < budget; i++)
        PQfinish(conns[i]);
}

/* What overlap pg measured of pg_sleep, as the clients' db_check reads it. */
static void expect_the_sleep_resolution(const char *dsn)
{
    PGconn *conn = connect_as(dsn, PG_ROLE); /* the engines' role reads it */
    PGresult *r = query(conn, "SELECT asked_ms, median_ms, max_ms, samples FROM " PG_SLEEP_TABLE
                              " ORDER BY asked_ms");
    cr_assert_eq(PQntuples(r), 2);
    for (int i = 0; i < 2; i++) {
        double asked = atof(PQgetvalue(r, i, 0)), median = atof(PQgetvalue(r, i, 1));
        double max = atof(PQgetvalue(r, i, 2));
        cr_expect_eq(asked, i ? 10.0 : 1.0);
        cr_expect(median >= 0 && median <= max && max < 1000, "%g ms: %g, %g", asked, median, max);
        cr_expect_eq(atoi(PQgetvalue(r, i, 3)), i ? 10 : 20);
    }
    PQclear(r);
    struct pg_sleep_resolution res;
    cr_assert_eq(pg_sleep_read(conn, &res), 0);
    cr_expect_eq(res.n, 2);
    PQfinish(conn);
}

TestSuite(pg, .init = make_dir, .fini = remove_dir);

Test(pg, a_cluster_holds_overlap_dbs_rows_and_stops_clean)
{
    struct child *c = start(
        (const char *[]){"--workload", workload_path("seed.ini"), "--connections", "4", NULL});
    const char *cdir = cluster_dir(c);
    struct stat st;
    cr_assert_eq(stat(cdir, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700, "a private directory");
    if (geteuid() == 0)
        cr_expect_neq(st.st_uid, 0, "as root, the directory is the unprivileged user's");
    else
        cr_expect_eq(st.st_uid, geteuid());
    pid_t pm = postmaster_pid(cdir);
    char status[64];
    snprintf(status, sizeof(status), "/proc/%d/status", (int)pm);
    FILE *f = fopen(status, "r");
    char line[256];
    int uid = -1;
    while (f && fgets(line, sizeof(line), f))
        sscanf(line, "Uid: %d", &uid);
    if (f)
        fclose(f);
    cr_expect(uid != 0, "postgres never runs as root (uid %d)", uid);

    PGconn *conn = connect_as(c->addr, PG_ROLE);
    cr_expect_str_eq(value(conn, "SELECT current_user"), PG_ROLE);
    expect_the_dataset(conn);
    expect_what_overlap_db_answers(conn);
    PGresult *r = PQexecParams(conn, "SELECT id FROM World WHERE id = $1", 1, NULL,
                               (const char *[]){"42"}, NULL, NULL, 0);
    cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(conn);

    PGconn *admin = connect_as(c->addr, PG_SUPERUSER);
    cr_expect_str_eq(value(admin, "SHOW max_connections"), "7", "the budget + 3");
    cr_expect_str_eq(value(admin, "SHOW fsync"), "off");
    cr_expect_str_eq(value(admin, "SHOW synchronous_commit"), "off");
    cr_expect_str_eq(value(admin, "SHOW full_page_writes"), "off");
    cr_expect_str_eq(value(admin, "SHOW listen_addresses"), "");
    cr_expect_str_eq(value(admin, "SHOW shared_preload_libraries"), "pg_stat_statements");
    cr_expect_str_eq(value(admin, "SELECT count(*) FROM pg_extension"
                                  " WHERE extname = 'pg_stat_statements'"),
                     "1");
    const char *calls = value(admin, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                                     " WHERE query = 'SELECT id FROM World WHERE id = $1'");
    cr_expect_str_eq(calls, "1", "counted once from a clean start (%s)", calls);
    PQfinish(admin);
    expect_the_budget(c->addr, 4);

    char about[1024];
    cr_assert_eq(pg_describe(c->addr, about, sizeof(about)), 0, "%s", about);
    cr_expect(strstr(about, "postgresql: ") == about, "%s", about);
    cr_expect(strstr(about, " fsync=off ") != NULL, "%s", about);
    cr_expect(strstr(about, "max_connections=7 ") != NULL, "%s", about);
    cr_expect(strstr(about, "\npostgresql_budget: 4 connections") != NULL, "%s", about);
    cr_expect(strstr(about, "\npostgresql_sleep: 1 ms: overshoot median ") != NULL, "%s", about);
    expect_the_sleep_resolution(c->addr);

    cr_expect_eq(child_stop(c, GONE_MS), 0, "SIGTERM: exit 0");
    expect_nothing_left(cdir, pm, 0, 0);
}

/* A cluster built by a script alone, then overlap pg killed outright: the
 * guardian stops postgres and removes the directory. */
Test(pg, a_killed_overlap_pg_leaves_nothing_behind)
{
    child_write_file(dir, "schema.sql",
                     "-- a table of our own\nCREATE TABLE t(a integer, b text);\n"
                     "INSERT INTO t VALUES (1, 'one'), (2, 'two');\n");
    const char *w = child_write_file(dir, "init.ini",
                                     "[database]\ninit = schema.sql\n"
                                     "[query.t]\nsql = SELECT b FROM t WHERE a = ? AND b <> '?'\n"
                                     "params = int 1 2\nlatency = fixed 0ms\n"
                                     "[request.r]\nsteps = query t\n");
    struct child *c = start((const char *[]){"--workload", w, "--connections", "2", NULL});
    char cdir[256];
    snprintf(cdir, sizeof(cdir), "%s", cluster_dir(c));
    pid_t pm = postmaster_pid(cdir);
    PGconn *conn = connect_as(c->addr, PG_ROLE);
    cr_expect_str_eq(value(conn, "SELECT b FROM t WHERE a = 2"), "two", "the script's rows");
    cr_expect_str_eq(value(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'world'"), "0",
                     "no dataset asked, none built");
    PQfinish(conn);
    child_kill(c);
    expect_nothing_left(cdir, pm, 2, GONE_MS);
}

Test(pg, a_stop_while_starting_leaves_nothing)
{
    struct child *c = &servers[nservers++];
    c->pid = fork();
    cr_assert_geq(c->pid, 0);
    if (c->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(OVERLAP_BIN, OVERLAP_BIN, "pg", "--dir", dir, "--workload", workload_path("seed.ini"),
              (char *)NULL);
        _exit(127);
    }
    for (long long end = now_ms() + START_MS; entries(dir) == 0 && now_ms() < end;)
        usleep(5000);
    cr_assert_eq(entries(dir), 1, "the private directory is made");
    usleep(300000); /* initdb runs */
    cr_assert_eq(kill(c->pid, SIGINT), 0);
    cr_expect_eq(wait_exit(c), 1, "stopped before it was ready: exit 1");
    cr_expect_eq(entries(dir), 0, "nothing is left in --dir");
}

Test(pg, an_init_script_error_names_its_line_and_leaves_nothing)
{
    char out[8192], args[1024], want[600];
    child_write_file(dir, "schema.sql",
                     "CREATE TABLE t(a integer);\n\nINSERT INTO nope VALUES (1);\n");
    const char *w = child_write_file(dir, "bad.ini",
                                     "[database]\ndataset = techempower\ninit = schema.sql\n"
                                     "[query.t]\nsql = SELECT a FROM t\nlatency = fixed 0ms\n"
                                     "[request.r]\nsteps = query t\n");
    snprintf(args, sizeof(args), "pg --dir %s --workload %s", dir, w);
    cr_expect_eq(run(args, out, sizeof(out)), 2);
    snprintf(want, sizeof(want), "%s/schema.sql:3: ", dir);
    cr_expect(strstr(out, want) != NULL, "want '%s' in '%s'", want, out);
    cr_expect(strstr(out, "\"nope\" does not exist") != NULL, "%s", out);
    cr_expect(strstr(out, "listening") == NULL, "%s", out);
    cr_expect_eq(entries(dir), 2, "only the workload and its script are left in --dir");
}

/* A latency pg_sleep cannot honour (its overshoot, measured at start, is
 * about 1 ms): refused, naming the line of the latency, before announcing. */
Test(pg, a_latency_too_short_for_pg_sleep_is_refused_and_leaves_nothing)
{
    char out[8192], args[1024], want[600];
    const char *w = child_write_file(dir, "short.ini",
                                     "[database]\ndataset = techempower\n"
                                     "[query.w]\nsql = SELECT 1\n\nlatency = fixed 100us\n"
                                     "[request.r]\nsteps = query w\n");
    snprintf(args, sizeof(args), "pg --dir %s --connections 2 --workload %s", dir, w);
    cr_expect_eq(run(args, out, sizeof(out)), 2, "%s", out);
    snprintf(want, sizeof(want),
             "%s:6: query w: PostgreSQL cannot serve a latency of median "
             "0.100 ms: pg_sleep overshoots 1 ms by ",
             w);
    cr_expect(strstr(out, want) != NULL, "want '%s' in '%s'", want, out);
    cr_expect(strstr(out, "at least 5 times that") != NULL, "%s", out);
    cr_expect(strstr(out, "listening") == NULL, "%s", out);
    cr_expect_eq(entries(dir), 1, "only the workload is left in --dir");
}

Test(pg, no_postgresql_names_the_package)
{
    char out[8192], args[1024];
    snprintf(args, sizeof(args), "pg --dir %s --bin %s --workload %s", dir, dir,
             workload_path("seed.ini"));
    cr_expect_eq(run(args, out, sizeof(out)), 1);
    cr_expect(strstr(out, "PostgreSQL is not installed") != NULL, "%s", out);
    cr_expect(strstr(out, "postgresql-15") != NULL, "%s", out);
    cr_expect_eq(entries(dir), 0, "nothing is left in --dir");
}

/* initdb and postgres that fail as real ones do: a line on stderr, exit 1. */
static void fake(const char *name, const char *script)
{
    char path[512];
    const char *bin = child_write_file(dir, name, script);
    snprintf(path, sizeof(path), "%s", bin);
    cr_assert_eq(chmod(path, 0755), 0);
}

Test(pg, a_failing_initdb_or_postgres_shows_its_log_and_leaves_nothing)
{
    char out[8192], args[1024];
    snprintf(args, sizeof(args), "pg --dir %s --bin %s --workload %s", dir, dir,
             workload_path("seed.ini"));
    fake("postgres", "#!/bin/sh\necho 'FATAL:  could not map anonymous shared memory' >&2\n"
                     "exit 1\n");
    fake("initdb", "#!/bin/sh\necho 'initdb: error: the disk is on fire' >&2\nexit 1\n");
    cr_expect_eq(run(args, out, sizeof(out)), 1);
    cr_expect(strstr(out, "initdb failed (exit status 1)") != NULL, "%s", out);
    cr_expect(strstr(out, "\n  initdb: error: the disk is on fire") != NULL, "%s", out);
    fake("initdb", "#!/bin/sh\nexit 0\n");
    cr_expect_eq(run(args, out, sizeof(out)), 1);
    cr_expect(strstr(out, "starting postgres failed (exit status 1)") != NULL, "%s", out);
    cr_expect(strstr(out, "could not map anonymous shared memory") != NULL, "%s", out);
    cr_expect_eq(entries(dir), 2, "only the fake initdb and postgres are left in --dir");
}

Test(pg, usage_errors_exit_2_and_make_nothing)
{
    char out[8192], args[1024];
    const char *seed = workload_path("seed.ini");
    struct {
        const char *args, *says;
    } cases[] = {
        {"", "--workload is required"},
        {"--workload %s --frobnicate 1", "unknown flag '--frobnicate'"},
        {"--workload %s --connections 0", "bad --connections '0'"},
        {"--workload %s --connections 10001", "bad --connections '10001'"},
        {"--workload %s --connections many", "bad --connections 'many'"},
        {"--workload %s --seed -1", "bad --seed '-1'"},
        {"--workload %s --dir", "--dir needs a value"},
        {"--workload %s stray", "unexpected argument 'stray'"},
        {"--workload /nonexistent/w.ini", "/nonexistent/w.ini"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char flags[512];
        snprintf(flags, sizeof(flags), cases[i].args, seed);
        snprintf(args, sizeof(args), "pg --dir %s %s", dir, flags);
        cr_expect_eq(run(args, out, sizeof(out)), 2, "%s", args);
        cr_expect(strstr(out, cases[i].says) != NULL, "%s: %s", args, out);
    }
    const char *bad = child_write_file(dir, "bad.ini", "[database]\ndataset = nope\n");
    snprintf(args, sizeof(args), "pg --dir %s --workload %s", dir, bad);
    cr_expect_eq(run(args, out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad.ini:2: ") != NULL, "%s", out);
    cr_expect_eq(entries(dir), 1, "nothing is made before the command line is good");
    cr_expect_eq(run("pg --help", out, sizeof(out)), 0);
    cr_expect(strstr(out, "--connections C") != NULL, "%s", out);
    cr_expect_eq(run("help", out, sizeof(out)), 0);
    cr_expect(strstr(out, "pg --workload FILE") != NULL, "%s", out);
}

/* The OIDs of the types wl_param_sql_type names (its SQL: test_workload) */
Test(sql, parameters_are_sent_as_wl_types_oids)
{
    cr_expect_str_eq(wl_param_sql_type(WL_PARAM_INT), "int8");
    cr_expect_eq(pg_param_type(WL_PARAM_INT), 20u);
    cr_expect_eq(pg_param_type(WL_PARAM_REAL_CONST), 701u);
    cr_expect_eq(pg_param_type(WL_PARAM_TEXT_CONST), 25u);
    cr_expect_eq(pg_param_type(WL_PARAM_NULL), 0u);
    cr_expect_null(wl_param_sql_type(WL_PARAM_NULL));
}
