/* External engines in the sweep (engines/README.md): each config's manifest
 * read before the results folder is made, its build run once, and per run
 * the workload written as JSON for the run's cell and the server started
 * through /bin/sh in the manifest's folder, as a process group pinned to the
 * server's CPUs. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"
#include "ext.h"
#include "proc.h"
#include "wl.h"

#define EXT_READY_TIMEOUT_S 30.0  /* the contract's: an interpreter may load for a while */
#define EXT_BUILD_TIMEOUT_S 300.0 /* a compiler's first build */

int bench__ext_prepare(struct bench__sweep *sw)
{
    const struct bench_suite *s = &sw->suite;
    for (int e = 0; e < s->nengines; e++) {
        const struct bench_engine *en = &s->engines[e];
        char path[PATH_MAX], err[PATH_MAX + 256];
        if (en->kind != BENCH_EXT)
            continue;
        if (s->database[0] && strncmp(s->database, "postgresql://", 13) &&
            strncmp(s->database, "postgres://", 11) && strcmp(s->database, "postgres")) {
            fprintf(stderr,
                    "overlap bench: engine '%s': external engines take PostgreSQL's address as "
                    "a URI (expected database = postgresql://USER@HOST/DB...)\n",
                    en->spec);
            return -1;
        }
        if (!(sw->ext[e] = malloc(sizeof(*sw->ext[e])))) {
            fprintf(stderr, "overlap bench: out of memory\n");
            return -1;
        }
        if (ext_manifest_find(en->ext, path, sizeof(path), err, sizeof(err)) < 0 ||
            ext_manifest_load(path, sw->ext[e], err, sizeof(err)) < 0) {
            fprintf(stderr, "overlap bench: engine '%s': %s\n", en->spec, err);
            return -1;
        }
        if (s->database[0] && !sw->ext[e]->postgres) {
            fprintf(stderr,
                    "overlap bench: engine '%s': %s speaks overlap db's protocol only (its "
                    "manifest has no `databases = overlap postgres`; expected database = "
                    "overlap)\n",
                    en->spec, sw->ext[e]->path);
            return -1;
        }
    }
    return 0;
}

/* The folder {build} names: one per config, in the sweep's private folder. */
static void build_dir(const struct bench__sweep *sw, int e, char *out, size_t len)
{
    snprintf(out, len, "%s/build-%d", sw->sockdir, e);
}

void bench__ext_free(struct bench__sweep *sw)
{
    for (int e = 0; e < BENCH_MAX_ENGINES; e++) {
        char dir[PATH_MAX + 16];
        if (sw->ext_built[e] && sw->sockdir[0]) {
            build_dir(sw, e, dir, sizeof(dir));
            proc_remove_tree(dir);
        }
        free(sw->ext[e]);
        sw->ext[e] = NULL;
        sw->ext_built[e] = 0;
    }
}

/* Runs `/bin/sh -c "cd DIR && CMD"` to its end, with its output in log,
 * within timeout_s; 0, or -1 with why in reason. */
static int run_shell(const struct ext_manifest *m, const char *cmd, const char *log,
                     double timeout_s, const char *what, char *reason, size_t rlen)
{
    struct bench__child c;
    struct bench__args a;
    char line[EXT_COMMAND_LEN * 2 + PATH_MAX];
    snprintf(line, sizeof(line), "cd '%s' && %s", m->dir, cmd);
    bench__args_init(&a);
    bench__arg(&a, "/bin/sh");
    bench__arg(&a, "-c");
    bench__arg(&a, line);
    char **argv = bench__args_argv(&a);
    int err = argv ? bench__child_start_group(&c, argv, log, false, NULL) : -E2BIG;
    if (err < 0) {
        snprintf(reason, rlen, "cannot run %s: %s", what, strerror(-err));
        return -1;
    }
    uint64_t deadline = proc_now_ns() + (uint64_t)(timeout_s * 1e9);
    int status;
    pid_t r;
    while ((r = waitpid(c.pid, &status, WNOHANG)) == 0 && proc_now_ns() < deadline &&
           !proc_stopping())
        usleep(20000);
    if (r != c.pid) {
        bench__child_stop(&c);
        snprintf(reason, rlen, "%s %s", what,
                 proc_stopping() ? "interrupted" : "did not end in time");
        return -1;
    }
    c.pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char last[256];
        bench__last_line(log, last, sizeof(last));
        snprintf(reason, rlen, "%s failed (status %d): %s", what,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), last);
        return -1;
    }
    return 0;
}

/* The workload of run id, moved to its cell, as JSON. */
static int write_workload(struct bench__sweep *sw, int id, char *reason, size_t rlen)
{
    int cell = sw->plan.runs[id - 1].cell;
    struct wl_workload *wl = cell ? bench__cell_workload(sw, cell) : sw->wl;
    snprintf(sw->ext_json, sizeof(sw->ext_json), "%s/workload-%d.json", sw->sockdir, id);
    FILE *f = wl ? fopen(sw->ext_json, "w") : NULL;
    int err = !wl ? -EINVAL : !f ? -errno : wl_export_json(wl, f);
    if (f && fclose(f) != 0 && err == 0)
        err = -errno;
    if (cell && wl)
        wl_free(wl);
    if (err < 0) {
        snprintf(reason, rlen, "cannot write the workload as JSON: %s", strerror(-err));
        unlink(sw->ext_json);
        sw->ext_json[0] = '\0';
        return -1;
    }
    return 0;
}

int ext_build(const struct ext_manifest *m, const struct ext_vars *v, const char *log, char *reason,
              size_t rlen)
{
    char cmd[EXT_COMMAND_LEN * 2], err[256];
    if (mkdir(v->build, 0700) < 0 && errno != EEXIST) {
        snprintf(reason, rlen, "cannot create %s: %s", v->build, strerror(errno));
        return -1;
    }
    if (!m->build[0])
        return 0;
    if (ext_expand(m, m->build, v, cmd, sizeof(cmd), err, sizeof(err)) < 0) {
        snprintf(reason, rlen, "%s: build: %s", m->path, err);
        return -1;
    }
    return run_shell(m, cmd, log, EXT_BUILD_TIMEOUT_S, "the build", reason, rlen);
}

int ext_start(const struct ext_manifest *m, const struct ext_vars *v, struct bench__child *c,
              const char *log, const char *cpus, char *addr, size_t alen, char *reason, size_t rlen)
{
    char cmd[EXT_COMMAND_LEN * 2], err[256];
    char line[EXT_COMMAND_LEN * 2 + PATH_MAX + 16];
    if (ext_expand(m, m->command, v, cmd, sizeof(cmd), err, sizeof(err)) < 0) {
        snprintf(reason, rlen, "%s: command: %s", m->path, err);
        return -1;
    }
    /* exec: the server is the process started, whose tree is measured */
    snprintf(line, sizeof(line), "cd '%s' && exec %s", m->dir, cmd);
    struct bench__args a;
    bench__args_init(&a);
    bench__arg(&a, "/bin/sh");
    bench__arg(&a, "-c");
    bench__arg(&a, line);
    char **argv = bench__args_argv(&a);
    int rc = argv ? bench__child_start_group(c, argv, log, true, cpus) : -E2BIG;
    if (rc < 0) {
        snprintf(reason, rlen, "cannot start %s: %s", m->name, strerror(-rc));
        return -1;
    }
    if (bench__child_listening_for(c, m->name, EXT_READY_TIMEOUT_S, addr, alen, err, sizeof(err)) <
        0) {
        snprintf(reason, rlen, "%s did not start: %s", m->name, err);
        return -1;
    }
    return 0;
}

int bench__ext_start(struct bench__sweep *sw, int e, int id)
{
    const struct ext_manifest *m = sw->ext[e];
    const struct bench_engine *en = &sw->suite.engines[e];
    char dir[PATH_MAX + 16], log[PATH_MAX + 32], listen[80];
    snprintf(listen, sizeof(listen), "%s:0", sw->suite.server_address);
    struct ext_vars v = {.listen = listen,
                         .db = sw->db_addr,
                         .build = dir,
                         .workers = en->workers > 0 ? en->workers : 0,
                         .db_connections = bench__db_budget(&sw->suite, en)};
    build_dir(sw, e, dir, sizeof(dir));
    if (sw->ext_built[e] < 2) {
        sw->ext_built[e] = 1; /* its folder may be there now */
        bench__run_path(sw, "logs", id, "build.log", log, sizeof(log));
        if (ext_build(m, &v, log, sw->server_down, sizeof(sw->server_down)) < 0)
            return -1;
        sw->ext_built[e] = 2;
    }
    if (write_workload(sw, id, sw->server_down, sizeof(sw->server_down)) < 0)
        return -1;
    v.workload = sw->ext_json;
    bench__run_path(sw, "logs", id, "server.log", log, sizeof(log));
    return ext_start(m, &v, &sw->server, log, sw->suite.server_cpus, sw->server_addr,
                     sizeof(sw->server_addr), sw->server_down, sizeof(sw->server_down));
}

void bench__ext_stop(struct bench__sweep *sw)
{
    if (sw->ext_json[0])
        unlink(sw->ext_json);
    sw->ext_json[0] = '\0';
}
