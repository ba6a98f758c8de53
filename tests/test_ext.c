/* External engines: the manifest parser and its placeholders, `ext:` specs,
 * `overlap engine check` against a proxy that breaks one thing at a time
 * (tests/fixtures/engines/broken.py, in front of the shipped example), a
 * sweep with an external config, and the check of every shipped engine. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "child.h"
#include "config.h"
#include "csv.h"
#include "ext.h"
#include "proc.h"
#include "sweep.h"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(ext, .init = setup, .fini = teardown, .timeout = 240);

/* ---- the manifest ---- */

static int load(const char *text, struct ext_manifest *m, char *err, size_t len)
{
    const char *path = child_write_file(tmp, "m.ini", text);
    return ext_manifest_load(path, m, err, len);
}

Test(ext, manifest_reads_every_key)
{
    struct ext_manifest m;
    char err[512] = "";
    cr_assert_eq(load("; a comment\n[engine]\nname = py-1.x\narchitecture = event loop\n"
                      "description = one loop\npackages = python3-aiohttp python3\n"
                      "build = true\ncommand = /usr/bin/python3 s.py --listen {listen}\n"
                      "  --db {db} --workload {workload} --workers {workers}\nworkers = 8\n",
                      &m, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_str_eq(m.name, "py-1.x");
    cr_expect_str_eq(m.architecture, "event loop");
    cr_expect_str_eq(m.packages, "python3-aiohttp python3");
    cr_expect_str_eq(m.command, "/usr/bin/python3 s.py --listen {listen} --db {db} "
                                "--workload {workload} --workers {workers}");
    cr_expect_eq(m.workers, 8);
    cr_expect_str_eq(m.dir, tmp);
    cr_expect_not(m.postgres, "overlap db's protocol only, unless it says so");
    cr_assert_eq(load("[engine]\nname = p\narchitecture = threads\ndatabases = overlap  postgres\n"
                      "command = s {listen} {db} {workload} -n {db_connections}\n",
                      &m, err, sizeof(err)),
                 0, "%s", err);
    cr_expect(m.postgres);
}

Test(ext, manifest_errors_name_file_and_line)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"name = x\n", "m.ini:1: unknown section []"},
        {"[engine]\nname = x\nflavour = y\n", "m.ini:3: unknown key 'flavour'"},
        {"[engine]\nname = a b\n", "m.ini:2: name 'a b' has ' '"},
        {"[engine]\nname = x\narchitecture = actors\n", "m.ini:3: unknown architecture"},
        {"[engine]\nworkers = 0\n", "m.ini:2: bad workers '0'"},
        {"[engine]\nworkers = 8x\n", "m.ini:2: bad workers '8x'"},
        {"[engine]\ndatabases = overlap mysql\n", "m.ini:2: unknown database 'mysql'"},
        {"[engine]\ndatabases = postgres\n", "m.ini:2: databases must name overlap"},
        {"[engine]\ndatabases =\n", "m.ini:2: databases must name overlap"},
        {"[other]\nname = x\n", "m.ini:2: unknown section [other]"},
        {"[engine]\nthis line has no equals sign\n", "m.ini:2: cannot parse this line"},
        {"", "m.ini: no [engine]"},
        {"[engine]\nname = x\n", "m.ini: no architecture"},
        {"[engine]\nname = x\narchitecture = threads\n", "m.ini: no command"},
        {"[engine]\nname = x\narchitecture = threads\ncommand = s {listen} {db}\n",
         "m.ini: command must pass {listen}, {db} and {workload}"},
        {"[engine]\nname = x\narchitecture = threads\n"
         "command = s {listen} {db} {workload} {port}\n",
         "command: unknown placeholder {port}"},
        {"[engine]\nname = x\narchitecture = threads\ncommand = s {listen} {db} {workload} {\n",
         "command: a '{' that opens no placeholder"},
        {"[engine]\nname = x\narchitecture = threads\ncommand = s {listen} {db} {workload}\n"
         "build = make {nope}\n",
         "build: unknown placeholder {nope}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ext_manifest m;
        char err[512] = "";
        cr_expect_eq(load(bad[i].text, &m, err, sizeof(err)), -1, "case %zu loaded", i);
        cr_expect(strstr(err, bad[i].want) != NULL, "case %zu: '%s' does not say '%s'", i, err,
                  bad[i].want);
    }
    struct ext_manifest m;
    char err[512], big[4096];
    int n = snprintf(big, sizeof(big), "[engine]\nname = x\narchitecture = threads\ncommand = a");
    for (int i = 0; i < 12; i++) /* continuation lines past the command's room */
        n += snprintf(big + n, sizeof(big) - (size_t)n, "\n  %0150d", i);
    snprintf(big + n, sizeof(big) - (size_t)n, "\n");
    cr_expect_eq(load(big, &m, err, sizeof(err)), -1);
    cr_expect(strstr(err, "command is over 1023 characters") != NULL, "%s", err);
    cr_expect_eq(ext_manifest_load("/nonexistent/m.ini", &m, err, sizeof(err)), -1);
    cr_expect(strstr(err, "/nonexistent/m.ini: cannot read the manifest") != NULL, "%s", err);
}

Test(ext, placeholders_are_quoted_for_the_shell)
{
    struct ext_manifest m;
    char err[512] = "", out[2048];
    cr_assert_eq(load("[engine]\nname = x\narchitecture = threads\nworkers = 3\n"
                      "command = s --listen {listen} --db {db} --workload {workload} -w {workers}"
                      " -d {dir}/b\n",
                      &m, err, sizeof(err)),
                 0, "%s", err);
    struct ext_vars v = {.listen = "127.0.0.1:0", .db = "unix:/tmp/it's here", .workload = "w"};
    cr_assert_eq(ext_expand(&m, m.command, &v, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    char want[1024];
    snprintf(want, sizeof(want),
             "s --listen '127.0.0.1:0' --db 'unix:/tmp/it'\\''s here' --workload 'w' -w '3' "
             "-d '%s'/b",
             tmp);
    cr_expect_str_eq(out, want);
    v.workers = 64; /* the config's workers=N wins over the manifest's */
    cr_assert_eq(ext_expand(&m, "{workers}", &v, out, sizeof(out), err, sizeof(err)), 0);
    cr_expect_str_eq(out, "'64'");
    /* the shell's ${VAR:-word} is left to the shell, placeholders inside it filled */
    cr_assert_eq(ext_expand(&m, "a ${X:-{listen}/x} b", &v, out, sizeof(out), err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_str_eq(out, "a ${X:-'127.0.0.1:0'/x} b");
    cr_expect_eq(ext_expand(&m, "{db_connections}", &v, out, sizeof(out), err, sizeof(err)), -1);
    cr_expect_str_eq(err, "{db_connections} has no value here");
    v.db_connections = 16;
    cr_assert_eq(ext_expand(&m, "-n {db_connections}", &v, out, sizeof(out), err, sizeof(err)), 0);
    cr_expect_str_eq(out, "-n '16'");
    v.build = NULL;
    cr_expect_eq(ext_expand(&m, "{build}", &v, out, sizeof(out), err, sizeof(err)), -1);
    cr_expect_str_eq(err, "{build} has no value here");
    cr_expect_eq(ext_expand(&m, "{listen}", &v, out, 8, err, sizeof(err)), -1);
    cr_expect(strstr(err, "over 7 characters") != NULL, "%s", err);
}

Test(ext, specs_and_names)
{
    struct bench_engine e;
    char err[256] = "", path[4096];
    cr_assert_eq(bench_parse_engine("ext:python-asyncio", &e, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(e.kind, BENCH_EXT);
    cr_expect_str_eq(e.ext, "python-asyncio");
    cr_expect_eq(e.workers, -1);
    cr_expect_eq(bench_config_workers(&e), 0);
    cr_assert_eq(bench_parse_engine("ext:my/e.ini:workers=64", &e, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(e.ext, "my/e.ini");
    cr_expect_eq(e.workers, 64);
    cr_expect_str_eq(e.spec, "ext:my/e.ini:workers=64");
    cr_assert_eq(bench_parse_engine("ext:go:db_connections=8", &e, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(e.db_connections, 8);
    char label[128];
    bench_config_label(&e, label, sizeof(label));
    cr_expect_str_eq(label, "go with 8 db connections");
    static const char *const bad[] = {"ext",
                                      "ext:",
                                      "ext::workers=2",
                                      "ext:x:loops=2",
                                      "ext:x:workers=0",
                                      "ext:x:workers",
                                      "ext:x:db_connections=0",
                                      "ext:x:db_connections=10001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(bench_parse_engine(bad[i], &e, err, sizeof(err)), -1, "%s parsed", bad[i]);
    cr_expect_eq(ext_manifest_find("no such", path, sizeof(path), err, sizeof(err)), -1);
    cr_expect(strstr(err, "not a manifest's name") != NULL, "%s", err);
    cr_expect_eq(ext_manifest_find("nosuchengine", path, sizeof(path), err, sizeof(err)), -1);
    cr_expect(strstr(err, "no manifest engines/nosuchengine.ini") != NULL, "%s", err);
    cr_expect_eq(ext_manifest_find("go", path, sizeof(path), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(path, "engines/go.ini") != NULL, "%s", path);
}

/* ---- overlap engine check ---- */

/* A manifest for the proxy in front of the shipped example, breaking mode. */
static const char *broken_manifest(const char *mode)
{
    char text[2048], name[64];
    snprintf(text, sizeof(text),
             "[engine]\nname = broken-%s\narchitecture = threads\n"
             "command = /usr/bin/python3 %s/tests/fixtures/engines/broken.py --listen {listen}\n"
             "  --break %s -- /usr/bin/python3 %s/engines/example.py --listen 127.0.0.1:0\n"
             "  --db {db} --workload {workload}\n",
             mode, OVERLAP_SOURCE_DIR, mode, OVERLAP_SOURCE_DIR);
    snprintf(name, sizeof(name), "broken-%s.ini", mode);
    return child_write_file(tmp, name, text);
}

/* `overlap engine check ARG`: its exit status, its output in out. */
static int check(const char *arg, const char *flags, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' engine check '%s' %s 2>&1", OVERLAP_SOURCE_DIR,
             OVERLAP_BIN, arg, flags);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Test(ext, check_passes_the_proxy_alone)
{
    char out[8192];
    const char *m = broken_manifest("none");
    cr_expect_eq(check(m, "", out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "broken-none: 11 passed, 0 failed") != NULL, "%s", out);
}

Test(ext, check_names_a_wrong_body)
{
    char out[8192];
    cr_expect_eq(check(broken_manifest("body"), "", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "FAIL routes         /items: at .results[0].rows[0][1]: \"plaim\" "
                          "instead of \"plain\"") != NULL,
              "%s", out);
    cr_expect(strstr(out, "FAIL draws") != NULL, "%s", out);
    cr_expect(strstr(out, "ok   pipelining") != NULL, "%s", out);
}

Test(ext, check_names_a_lost_pipeline)
{
    char out[8192];
    cr_expect_eq(check(broken_manifest("pipelining"), "", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "FAIL pipelining     ten pipelined requests: 1 of 10 answers") != NULL,
              "%s", out);
    cr_expect(strstr(out, "ok   routes") != NULL, "%s", out);
}

Test(ext, check_names_a_hang_on_a_bad_request)
{
    char out[8192];
    cr_expect_eq(check(broken_manifest("hang"), "", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "FAIL refusals       a malformed request line: 0 of 1 answers") != NULL,
              "%s", out);
}

Test(ext, check_refuses_bad_command_lines)
{
    char out[8192];
    cr_expect_eq(check("--nope", "", out, sizeof(out)), 2, "%s", out);
    cr_expect_eq(check("nosuchengine", "", out, sizeof(out)), 2, "%s", out);
    cr_expect(strstr(out, "no manifest engines/nosuchengine.ini") != NULL, "%s", out);
    const char *m = child_write_file(tmp, "exits.ini",
                                     "[engine]\nname = exits\narchitecture = threads\n"
                                     "command = /bin/sh -c \"exit 3\" {listen} {db} {workload}\n");
    cr_expect_eq(check(m, "", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "FAIL start          exits did not start: exits exited with status 3") !=
                  NULL,
              "%s", out);
}

/* overlap's own pool as an external engine on PostgreSQL: its workload is
 * the check's INI, beside the JSON. The check's cases pass on a throwaway
 * cluster, the database's outage included (the role refused and its
 * backends ended, then admitted again). */
Test(ext, check_runs_on_postgres)
{
    char text[2048], out[8192];
    snprintf(
        text, sizeof(text),
        "[engine]\nname = cpool\narchitecture = threads\ndatabases = overlap postgres\n"
        "command = %s serve --engine pool --workers {db_connections} --db {db} --db-connections\n"
        "  {db_connections} --listen {listen} --workload \"$(dirname {workload})/check.ini\"\n",
        OVERLAP_BIN);
    cr_expect_eq(
        check(child_write_file(tmp, "cpool.ini", text), "--database postgres", out, sizeof(out)), 0,
        "%s", out);
    cr_expect(strstr(out, "cpool (threads) from ") && strstr(out, ", on PostgreSQL\n"), "%s", out);
    cr_expect(strstr(out, "ok   database") && strstr(out, "cpool: 11 passed, 0 failed"), "%s", out);
    /* an engine whose manifest does not say it speaks PostgreSQL */
    cr_expect_eq(check("example", "--database postgres", out, sizeof(out)), 2, "%s", out);
    cr_expect(strstr(out, "example.ini speaks overlap db's protocol only") != NULL, "%s", out);
    cr_expect_eq(check("example", "--database mysql", out, sizeof(out)), 2, "%s", out);
    cr_expect(strstr(out, "bad --database 'mysql'") != NULL, "%s", out);
}

/* ---- in a sweep ---- */

/* A sweep on PostgreSQL takes an external engine only if its manifest says
 * it speaks it, and only with a URI for it: refused before anything starts. */
Test(ext, sweep_on_postgres_refuses_what_an_engine_cannot_take)
{
    static const struct {
        const char *engine, *database, *want;
    } cases[] = {
        {"ext:example", "postgres", "engines/example.ini speaks overlap db's protocol only"},
        {"ext:go", "host=/nonexistent dbname=x",
         "engine 'ext:go': external engines take PostgreSQL's address as a URI"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {"--engines",  cases[i].engine,
                              "--database", cases[i].database,
                              "--workload", OVERLAP_SOURCE_DIR "/workloads/seed.ini",
                              "--clients",  "1",
                              "--rates",    "none",
                              "--timeline", "0",
                              NULL};
        struct sweep_run r;
        int status = sweep_run(&r, tmp, args, 60);
        char *said = proc_read_file(r.err, NULL);
        cr_expect_eq(status, 2, "%s: exit %d: %s", cases[i].engine, status, said);
        cr_expect(said && strstr(said, cases[i].want) != NULL, "%s", said);
        free(said);
    }
}

Test(ext, sweep_measures_the_tree_and_goes_on_past_a_failure)
{
    char engines[2048], exits[600];
    snprintf(exits, sizeof(exits), "%s",
             child_write_file(tmp, "exits.ini",
                              "[engine]\nname = exits\narchitecture = threads\n"
                              "command = /bin/false {listen} {db} {workload}\n"));
    char proxy[600];
    snprintf(proxy, sizeof(proxy), "%s", broken_manifest("none"));
    snprintf(engines, sizeof(engines), "ext:%s ext:%s async", proxy, exits);
    const char *args[] = {
        "--engines",  engines, "--workload", OVERLAP_SOURCE_DIR "/workloads/seed.ini",
        "--clients",  "4",     "--rates",    "none",
        "--timeline", "0",     "--duration", "1s",
        "--warmup",   "200ms", "--repeats",  "1",
        "--no-plot",  NULL};
    struct sweep_run r;
    int status = sweep_run(&r, tmp, args, 120);
    char *said = proc_read_file(r.err, NULL);
    cr_assert_eq(status, 0, "exit %d: %s", status, said);
    free(said);
    char dir[800], path[900];
    sweep_results_dir(&r, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    struct csv_table t;
    cr_assert_eq(csv_load(path, &t), 0);
    cr_assert_eq(t.nrows, 3);
    cr_expect_str_eq(csv_get(&t, 0, "status"), "ok", "%s", csv_get(&t, 0, "reason"));
    /* the proxy (its main thread and one per client) and the example behind
     * it (its child, a thread per connection): the tree is measured */
    cr_expect_geq(csv_num(&t, 0, "threads"), 6, "threads %s", csv_get(&t, 0, "threads"));
    cr_expect_str_eq(csv_get(&t, 1, "status"), "failed");
    cr_expect(strstr(csv_get(&t, 1, "reason"), "exits did not start: exits exited with status 1"),
              "%s", csv_get(&t, 1, "reason"));
    cr_expect_str_eq(csv_get(&t, 2, "status"), "ok");
    csv_free(&t);
}

/* ---- every shipped engine meets the contract ---- */

static void check_shipped(const char *name, const char *flags)
{
    char out[16384];
    int status = check(name, flags, out, sizeof(out));
    cr_expect_eq(status, 0,
                 "overlap engine check %s %s (its runtime missing? `make test` installs "
                 "the packages its manifest names):\n%s",
                 name, flags, out);
}

Test(ext, shipped_go)
{
    check_shipped("go", "");
}

Test(ext, shipped_node)
{
    check_shipped("node", "");
}

Test(ext, shipped_python_asyncio)
{
    check_shipped("python-asyncio", "");
}

Test(ext, shipped_python_uvloop)
{
    check_shipped("python-uvloop", "");
}

Test(ext, shipped_python_threads)
{
    check_shipped("python-threads", "");
}

Test(ext, shipped_example)
{
    check_shipped("example", "");
}

/* ---- and on PostgreSQL, with its runtime's driver ---- */

Test(ext, shipped_go_on_postgres)
{
    check_shipped("go", "--database postgres");
}

Test(ext, shipped_node_on_postgres)
{
    check_shipped("node", "--database postgres");
}

Test(ext, shipped_python_asyncio_on_postgres)
{
    check_shipped("python-asyncio", "--database postgres");
}

Test(ext, shipped_python_uvloop_on_postgres)
{
    check_shipped("python-uvloop", "--database postgres");
}

Test(ext, shipped_python_threads_on_postgres)
{
    check_shipped("python-threads", "--database postgres");
}
