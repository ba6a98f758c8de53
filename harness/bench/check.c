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
#include "proc.h"
#include "wl.h"

static const char usage[] =
    "usage: overlap engine check MANIFEST [--workers N] [--keep]\n"
    "  MANIFEST       engines/NAME.ini, or NAME for overlap's engines/NAME.ini\n"
    "  --workers N    {workers} for the engine (default: the manifest's)\n"
    "  --keep         keep the check's folder (logs, workload) and print where\n";

/* Rows with every kind of value: integers past 2^53, reals, text with
 * quotes, control characters, UTF-8 and markup, NULL, an empty string. */
static const char data_sql[] =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT, big INTEGER);\n"
    "INSERT INTO item VALUES (1, 'plain', 1.5, 'x', 9007199254740993);\n"
    "INSERT INTO item VALUES (2, 'quote \" back \\ slash', 0.1, NULL, -1);\n"
    "INSERT INTO item VALUES (3, 'tab\tnl\nctl\x01', -2.25, 'h\xc3\xa9llo', 0);\n"
    "INSERT INTO item VALUES (4, '<b>&amp;</b> ''single''', 12345678901234, '', 7);\n";

static const char workload_ini[] =
    "[workload]\nname = check\n[database]\ninit = data.sql\n"
    "[query.items]\nsql = SELECT id, name, score, note, big FROM item WHERE id <= ? ORDER BY id\n"
    "params = const 4\nlatency = fixed 0ms\n"
    "[query.byname]\nsql = SELECT id, note FROM item WHERE name = ?\nparams = const \"plain\"\n"
    "latency = fixed 0ms\n"
    "[query.above]\nsql = SELECT id, score FROM item WHERE score > ? ORDER BY id\n"
    "params = const 1.0\nlatency = fixed 0ms\n"
    "[query.nulls]\nsql = SELECT ? IS NULL, count(*) FROM item\nparams = null\nlatency = fixed "
    "0ms\n"
    "[query.none]\nsql = SELECT id FROM item WHERE id > 100\nlatency = fixed 0ms\n"
    "[query.pick]\nsql = SELECT id, name, score, note, big FROM item WHERE id = ?\n"
    "params = int 1 4\nlatency = fixed 0ms\n"
    "[query.wait]\nsql = SELECT id FROM item WHERE id = 1\nlatency = fixed 20ms\n"
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

int check_start_db(struct check *c, char *why, size_t wlen)
{
    char wl[PATH_MAX + 16], sock[PATH_MAX + 16], log[PATH_MAX + 16];
    struct bench__args a;
    check_path_in(c, "check.ini", wl, sizeof(wl));
    check_path_in(c, "db.sock", sock, sizeof(sock));
    check_path_in(c, "db.log", log, sizeof(log));
    bench__args_init(&a);
    bench__arg(&a, c->self);
    bench__arg(&a, "db");
    bench__flag(&a, "--workload", "%s", wl);
    bench__flag(&a, "--listen", "unix:%s", sock);
    char **argv = bench__args_argv(&a);
    if (!argv || bench__child_start(&c->db, argv, log, true) < 0)
        return snprintf(why, wlen, "cannot start overlap db"), -1;
    return bench__child_listening(&c->db, "database", c->db_addr, sizeof(c->db_addr), why, wlen);
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
    if (write_file(ini, workload_ini) < 0 || write_file(sql, data_sql) < 0 ||
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
    bool keep = false;
    int workers = 0;
    char path[PATH_MAX], why[PATH_MAX + 256], log[PATH_MAX + 16], build[PATH_MAX + 16],
        json[PATH_MAX + 16];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return fputs(usage, stdout), 0;
        if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
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
    memset(&c, 0, sizeof(c));
    c.m = &m;
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
                         .workers = workers};
    int status = 1;
    printf("overlap engine check: %s (%s) from %s\n", m.name, m.architecture, m.path);
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
