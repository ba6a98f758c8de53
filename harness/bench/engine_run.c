/* `overlap engine run MANIFEST --db ADDR --workload FILE`: an external
 * engine started by hand the way a sweep starts it (its build, the workload
 * as JSON, its command in its folder as a process group), announcing
 * `listening ADDR` like `overlap serve`, so a script or `overlap load` can
 * drive it. SIGTERM or SIGINT stops its whole tree. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_child.h"
#include "ext.h"
#include "proc.h"
#include "wl.h"

static const char usage[] =
    "usage: overlap engine run MANIFEST --db ADDR --workload FILE [flags]\n"
    "  MANIFEST          engines/NAME.ini, or NAME for overlap's engines/NAME.ini\n"
    "  --db ADDR         the database: unix:/PATH or tcp:HOST:PORT (required)\n"
    "  --workload FILE   the workload, an INI file (required)\n"
    "  --listen H:P      where it listens (default 127.0.0.1:0: it picks a port)\n"
    "  --workers N       {workers} (default: the manifest's)\n"
    "  --cpus LIST       pin its process tree to these CPUs, e.g. 0\n"
    "  --vary-cpu D      scale the cpu steps to D of CPU per request\n"
    "  --vary-wait D     scale each query's latency to the median D\n";

struct run_args {
    const char *ref, *db, *workload, *listen, *cpus;
    int workers;
    uint64_t vary[2];
};

/* 0, or the exit status of a usage error */
static int parse(int argc, char **argv, struct run_args *a)
{
    static const char cmd[] = "engine run";
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int vary = !strcmp(f, "--vary-cpu") ? 0 : !strcmp(f, "--vary-wait") ? 1 : -1;
        if (f[0] != '-') {
            if (a->ref)
                return proc_usage_error(cmd, usage, "unexpected argument '%s'", f);
            a->ref = f;
            continue;
        }
        if (!v)
            return proc_value_missing(cmd, usage, f);
        if (!strcmp(f, "--db"))
            a->db = v;
        else if (!strcmp(f, "--workload"))
            a->workload = v;
        else if (!strcmp(f, "--listen"))
            a->listen = v;
        else if (!strcmp(f, "--cpus"))
            a->cpus = v;
        else if (!strcmp(f, "--workers") && wl_count_parse(v, 1, 100000, &a->workers) < 0)
            return proc_usage_error(cmd, usage, "bad --workers '%s' (expected 1 to 100000)", v);
        else if (vary >= 0 && (wl_duration_parse(v, &a->vary[vary]) < 0 || !a->vary[vary]))
            return proc_usage_error(cmd, usage, "bad duration for %s (e.g. 1ms)", f);
        else if (vary < 0 && strcmp(f, "--workers") != 0)
            return proc_usage_error(cmd, usage, "unknown flag '%s'", f);
        i++;
    }
    if (!a->ref || !a->db || !a->workload)
        return proc_usage_error(cmd, usage, "MANIFEST, --db and --workload are required");
    return 0;
}

/* The workload, moved, as JSON into path: 0, or -1 with the message printed. */
static int write_json(const struct run_args *a, const char *path)
{
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(a->workload, &wl, err, sizeof(err)) < 0 ||
        ((a->vary[0] || a->vary[1]) && wl_vary(wl, a->vary[0], a->vary[1], err, sizeof(err)) < 0)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = f ? wl_export_json(wl, f) : -errno;
    if (f && fclose(f) != 0 && rc == 0)
        rc = -errno;
    wl_free(wl);
    if (rc < 0)
        fprintf(stderr, "overlap engine run: cannot write %s: %s\n", path, strerror(-rc));
    return rc < 0 ? -1 : 0;
}

static int bench_engine_run(int argc, char **argv)
{
    struct run_args a = {.listen = "127.0.0.1:0", .cpus = ""};
    struct ext_manifest m;
    char path[PATH_MAX], why[PATH_MAX + 256], dir[PATH_MAX], json[PATH_MAX + 16],
        build[PATH_MAX + 16], log[PATH_MAX + 16], addr[128];
    int status = parse(argc, argv, &a);
    if (status)
        return status;
    if (ext_manifest_find(a.ref, path, sizeof(path), why, sizeof(why)) < 0 ||
        ext_manifest_load(path, &m, why, sizeof(why)) < 0) {
        fprintf(stderr, "overlap engine run: %s\n", why);
        return 2;
    }
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/overlap-engine-XXXXXX", base && *base ? base : "/tmp");
    if (proc_install_signals() < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "overlap engine run: cannot create its folder: %s\n", strerror(errno));
        return 1;
    }
    snprintf(json, sizeof(json), "%s/workload.json", dir);
    snprintf(build, sizeof(build), "%s/build", dir);
    snprintf(log, sizeof(log), "%s/build.log", dir);
    struct ext_vars v = {
        .listen = a.listen, .db = a.db, .workload = json, .build = build, .workers = a.workers};
    struct bench__child server = {.pid = 0};
    status = 1;
    if (write_json(&a, json) < 0)
        goto done;
    /* the server's output is this command's: its log is standard error */
    if (ext_build(&m, &v, log, why, sizeof(why)) < 0 ||
        ext_start(&m, &v, &server, "/dev/stderr", a.cpus, addr, sizeof(addr), why, sizeof(why)) <
            0) {
        fprintf(stderr, "overlap engine run: %s\n", why);
        goto done;
    }
    printf("listening %s\n", addr);
    fflush(stdout);
    struct pollfd stop = {.fd = proc_stop_fd(), .events = POLLIN};
    while (!proc_stopping() && !bench__child_ended(&server, m.name, why, sizeof(why))) {
        bench__child_drain(&server);
        poll(&stop, 1, 100);
    }
    if (server.pid == 0 && !proc_stopping()) {
        fprintf(stderr, "overlap engine run: %s\n", why);
        goto done;
    }
    status = 0;
done:
    bench__child_stop(&server);
    proc_remove_tree(dir);
    return status;
}

int bench_engine_main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return bench_engine_run(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return bench_check_main(argc, argv);
    fprintf(stderr, "usage: overlap engine check MANIFEST [--workers N] [--keep]\n"
                    "       overlap engine run MANIFEST --db ADDR --workload FILE [flags]\n");
    return 2;
}
