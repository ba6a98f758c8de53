/* `overlap bench`: the sweep that starts each engine config, drives the load
 * points through `overlap load`, samples the server from /proc and writes the
 * results folder. Every row is written with one write(2) on an O_APPEND file
 * as its run ends, so an interrupted or killed sweep keeps every finished run
 * and never a half row. */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

#define READY_TIMEOUT_S 15.0        /* a server slower than this to listen has failed */
#define STOP_TIMEOUT_S  5.0         /* SIGTERM, then SIGKILL after this */
#define SAMPLE_EVERY_NS 50000000ULL /* /proc sampling: 20 Hz is cheap and catches peaks */
#define LOAD_GRACE_S    20.0        /* a load run may overrun its duration by this much */
#define ROW_MAX         4096

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- engine specs and suites ---- */

static int engine_key(struct bench_engine *e, const char *key, const char *value, char *err,
                      size_t errlen)
{
    char *end;
    long v = strtol(value, &end, 10);
    int numeric = end != value && !*end && v >= 0 && v <= 100000;
    if (!e->async && !strcmp(key, "mode") &&
        (!strcmp(value, "request") || !strcmp(value, "connection"))) {
        e->connection_mode = !strcmp(value, "connection");
    } else if (!e->async && !strcmp(key, "workers") && numeric) {
        e->workers = (int)v;
    } else if (!e->async && !strcmp(key, "queue") && numeric && v > 0) {
        e->queue = (int)v;
    } else if (e->async && !strcmp(key, "loops") && numeric && v > 0) {
        e->loops = (int)v;
    } else if (e->async && !strcmp(key, "db_conns") && numeric && v > 0) {
        e->db_conns = (int)v;
    } else {
        snprintf(err, errlen, "engine '%s': bad setting '%s=%s' (expected %s)", e->spec, key, value,
                 e->async ? "loops=N or db_conns=N"
                          : "workers=N, queue=N or mode=request|connection");
        return -1;
    }
    return 0;
}

int bench_parse_engine(const char *text, struct bench_engine *e, char *err, size_t errlen)
{
    char buf[128];
    memset(e, 0, sizeof(*e));
    e->workers = -1;
    if (snprintf(e->spec, sizeof(e->spec), "%s", text) >= (int)sizeof(e->spec))
        goto bad;
    snprintf(buf, sizeof(buf), "%s", text);
    char *settings = strchr(buf, ':');
    if (settings)
        *settings++ = '\0';
    if (!strcmp(buf, "async"))
        e->async = 1;
    else if (strcmp(buf, "pool") != 0)
        goto bad;
    for (char *kv = settings ? strtok(settings, ",") : NULL; kv; kv = strtok(NULL, ",")) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "engine '%s': setting '%s' has no value", text, kv);
            return -1;
        }
        *eq = '\0';
        if (engine_key(e, kv, eq + 1, err, errlen) < 0)
            return -1;
    }
    if (!e->async && e->workers == 0 && !e->connection_mode) {
        snprintf(err, errlen, "engine '%s': workers=0 needs mode=connection", text);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "bad engine '%s' (expected pool[:workers=N,...] or async[:loops=N])",
             text);
    return -1;
}

static int parse_list(const char *text, double *out, int max, int integers)
{
    char buf[1024], *end;
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *w = strtok(buf, " ,\t"); w; w = strtok(NULL, " ,\t")) {
        double v = strtod(w, &end);
        if (end == w || *end || !(v > 0) || n == max || (integers && v != floor(v)))
            return -1;
        out[n++] = v;
    }
    return n;
}

static int parse_engines(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", text);
    s->nengines = 0;
    char *save;
    for (char *w = strtok_r(buf, " \t;", &save); w; w = strtok_r(NULL, " \t;", &save)) {
        if (s->nengines == BENCH_MAX_ENGINES) {
            snprintf(err, errlen, "more than %d engine configs", BENCH_MAX_ENGINES);
            return -1;
        }
        if (bench_parse_engine(w, &s->engines[s->nengines++], err, errlen) < 0)
            return -1;
    }
    if (s->nengines == 0) {
        snprintf(err, errlen, "no engine configs (expected e.g. pool:workers=64 async)");
        return -1;
    }
    return 0;
}

static int parse_clients(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    double v[BENCH_MAX_POINTS];
    int n = parse_list(text, v, BENCH_MAX_POINTS, 1);
    if (n < 0) {
        snprintf(err, errlen, "bad client list '%s' (expected whole numbers > 0)", text);
        return -1;
    }
    s->nclients = n;
    for (int i = 0; i < n; i++)
        s->clients[i] = (int)v[i];
    return 0;
}

static int parse_rates(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    if (!strcmp(text, "auto")) {
        s->auto_rates = 1;
        return 0;
    }
    int n = parse_list(text, s->rates, BENCH_MAX_POINTS, 0);
    if (n < 0) {
        snprintf(err, errlen, "bad rate list '%s' (expected req/s > 0, or auto)", text);
        return -1;
    }
    s->auto_rates = 0;
    s->nrates = n;
    return 0;
}

static int parse_duration(const char *text, uint64_t *ns, char *err, size_t errlen)
{
    if (wl_duration_parse(text, ns) < 0) {
        snprintf(err, errlen, "bad duration '%s' (expected e.g. 500ms or 2s)", text);
        return -1;
    }
    return 0;
}

/* One setting, from a suite file or a flag; 0 or -1 with err. */
static int suite_set(struct bench_suite *s, const char *key, const char *value, char *err,
                     size_t errlen)
{
    if (!strcmp(key, "name"))
        snprintf(s->name, sizeof(s->name), "%s", value);
    else if (!strcmp(key, "workload"))
        snprintf(s->workload, sizeof(s->workload), "%s", value);
    else if (!strcmp(key, "engines"))
        return parse_engines(s, value, err, errlen);
    else if (!strcmp(key, "clients"))
        return parse_clients(s, value, err, errlen);
    else if (!strcmp(key, "rates"))
        return parse_rates(s, value, err, errlen);
    else if (!strcmp(key, "auto_fractions")) {
        int n = parse_list(value, s->rates, BENCH_MAX_POINTS, 0);
        if (n < 0) {
            snprintf(err, errlen, "bad auto_fractions '%s' (expected numbers > 0)", value);
            return -1;
        }
        s->nrates = n;
    } else if (!strcmp(key, "duration"))
        return parse_duration(value, &s->duration_ns, err, errlen);
    else if (!strcmp(key, "warmup"))
        return parse_duration(value, &s->warmup_ns, err, errlen);
    else if (!strcmp(key, "timeline") || !strcmp(key, "load_threads")) {
        char *end;
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 0 || v > 1000) {
            snprintf(err, errlen, "bad %s '%s' (expected 0 to 1000)", key, value);
            return -1;
        }
        *(!strcmp(key, "timeline") ? &s->timeline : &s->load_threads) = (int)v;
    } else if (!strcmp(key, "server_cpus"))
        snprintf(s->server_cpus, sizeof(s->server_cpus), "%s", value);
    else if (!strcmp(key, "load_cpus"))
        snprintf(s->load_cpus, sizeof(s->load_cpus), "%s", value);
    else {
        snprintf(err, errlen,
                 "unknown key '%s' (expected name, workload, engines, clients, "
                 "rates, auto_fractions, duration, warmup, timeline, server_cpus, "
                 "load_cpus or load_threads)",
                 key);
        return -1;
    }
    return 0;
}

struct suite_reader {
    struct bench_suite *s;
    char err[512];
    char engines[2048]; /* engines may continue on indented lines */
};

static int on_suite_key(void *user, const char *section, const char *key, const char *value)
{
    struct suite_reader *r = user;
    if (r->err[0])
        return 0;
    if (strcmp(section, "suite") != 0) {
        snprintf(r->err, sizeof(r->err), "unknown section [%s] (expected [suite])", section);
        return 0;
    }
    if (!strcmp(key, "engines")) {
        size_t len = strlen(r->engines);
        snprintf(r->engines + len, sizeof(r->engines) - len, " %s", value);
        return 1;
    }
    return suite_set(r->s, key, value, r->err, sizeof(r->err)) == 0;
}

static int load_suite(const char *path, struct bench_suite *s)
{
    struct suite_reader r = {.s = s};
    int line = ini_parse(path, on_suite_key, &r);
    if (line < 0) {
        fprintf(stderr, "%s: cannot read suite (%s)\n", path, strerror(errno));
        return -1;
    }
    if (line > 0 || r.err[0]) {
        fprintf(stderr, "%s:%d: %s\n", path, line,
                r.err[0] ? r.err : "cannot parse this line (expected key = value or [suite])");
        return -1;
    }
    if (r.engines[0] && parse_engines(s, r.engines, r.err, sizeof(r.err)) < 0) {
        fprintf(stderr, "%s: %s\n", path, r.err);
        return -1;
    }
    return 0;
}

/* ---- processes ---- */

struct child {
    pid_t pid;
    char log[PATH_MAX];
};

/* Parses a CPU list (`1`, `0-1`, `0,2`) into set; 0 or -1. */
static int parse_cpus(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (const char *p = list; *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0)
            return -1;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (hi < lo || hi >= CPU_SETSIZE || (*end && *end != ','))
            return -1;
        for (long i = lo; i <= hi; i++)
            CPU_SET(i, set);
        p = *end ? end + 1 : end;
    }
    return CPU_COUNT(set) ? 0 : -1;
}

/* Starts argv, pinned to cpus unless empty, with stdout and stderr appended
 * to log; returns 0 or -errno. */
static int spawn(char **argv, const char *log, const char *cpus, struct child *c)
{
    cpu_set_t set;
    if (cpus[0] && parse_cpus(cpus, &set) < 0)
        return -EINVAL;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        if (cpus[0])
            sched_setaffinity(0, sizeof(set), &set);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    c->pid = pid;
    snprintf(c->log, sizeof(c->log), "%s", log);
    return 0;
}

/* Waits up to timeout for the child; returns its wait status, or -1. */
static int wait_child(struct child *c, double timeout)
{
    int status;
    double deadline = now_s() + timeout;
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid) {
            c->pid = 0;
            return status;
        }
        if (r < 0 || now_s() > deadline)
            return -1;
        sleep_s(0.01);
    }
}

static void stop_child(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    if (wait_child(c, STOP_TIMEOUT_S) == -1 && c->pid > 0) {
        kill(c->pid, SIGKILL);
        wait_child(c, STOP_TIMEOUT_S);
    }
    c->pid = 0;
}

/* The last non-empty line of a log: the reason a process gave for failing. */
static void last_line(const char *path, char *out, size_t len)
{
    char line[512];
    FILE *f = fopen(path, "r");
    snprintf(out, len, "no output");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, len, "%s", line);
    }
    fclose(f);
}

/* Waits for the `listening ADDR` line in the child's log. */
static int wait_listening(struct child *c, char *addr, size_t len, char *reason, size_t rlen)
{
    double deadline = now_s() + READY_TIMEOUT_S;
    char line[512];
    while (now_s() < deadline && !interrupted) {
        FILE *f = fopen(c->log, "r");
        while (f && fgets(line, sizeof(line), f)) {
            if (!strncmp(line, "listening ", 10)) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(addr, len, "%s", line + 10);
                fclose(f);
                return 0;
            }
        }
        if (f)
            fclose(f);
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
            c->pid = 0;
            last_line(c->log, reason, rlen);
            return -1;
        }
        sleep_s(0.01);
    }
    snprintf(reason, rlen, "not listening after %.0f s", READY_TIMEOUT_S);
    return -1;
}

/* ---- /proc ---- */

static long status_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? strtol(p + strlen(name), NULL, 10) : 0;
}

int bench_sample_proc(pid_t pid, struct bench_proc *p)
{
    char path[64], buf[4096];
    long ticks = sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces: skip past ')' */
    char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -EIO;
    p->utime_s = (double)ut / ticks;
    p->stime_s = (double)st / ticks;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -errno;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p->rss_kib = status_field(buf, "VmRSS:");
    p->threads = status_field(buf, "Threads:");
    p->vol_ctxsw = status_field(buf, "\nvoluntary_ctxt_switches:");
    p->invol_ctxsw = status_field(buf, "nonvoluntary_ctxt_switches:");
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    p->fds = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        p->fds += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return 0;
}

/* ---- CSV ---- */

/* Finds the field named name in a CSV header and copies that field of row. */
static int csv_get(const char *header, const char *row, const char *name, char *out, size_t len)
{
    int col = 0, want = -1;
    size_t nl = strlen(name);
    for (const char *h = header; *h; col++) {
        size_t w = strcspn(h, ",\r\n");
        if (w == nl && !memcmp(h, name, nl))
            want = col;
        h += w;
        if (*h != ',')
            break;
        h++;
    }
    if (want < 0)
        return -1;
    const char *r = row;
    for (int c = 0; c < want && r; c++)
        r = strchr(r, ',') ? strchr(r, ',') + 1 : NULL;
    if (!r)
        return -1;
    size_t w = strcspn(r, ",\r\n");
    snprintf(out, len, "%.*s", (int)w, r);
    return 0;
}

/* Reads the header and the last row of a CSV file the load generator wrote. */
static int csv_last_row(const char *path, char *header, char *row, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[ROW_MAX];
    int rows = 0;
    if (!f)
        return -1;
    if (!fgets(header, len, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f))
        if (line[0] != '\n') {
            snprintf(row, len, "%s", line);
            rows++;
        }
    fclose(f);
    return rows > 0 ? 0 : -1;
}

/* Appends text to path with one write: a reader never sees half a row. */
static int append_atomic(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -EIO;
}

/* ---- the sweep ---- */

enum run_kind { RUN_CLOSED, RUN_OPEN, RUN_TIMELINE };
static const char *kind_name[] = {"closed", "open", "timeline"};

struct run {
    int engine;
    enum run_kind kind;
    int clients;
    double rate;
};

struct sweep {
    struct bench_suite suite;
    const char *suite_path;
    struct wl_workload *wl;
    char self[PATH_MAX]; /* the overlap binary, for the children */
    char dir[PATH_MAX];  /* the results folder */
    int ncores;          /* server CPUs, for the bounds */
    struct run runs[BENCH_MAX_ENGINES * (2 * BENCH_MAX_POINTS + 1)];
    int nruns, done, failed;
    double started;
    struct child db, server;
    char db_addr[PATH_MAX], server_addr[128];
    char server_down[512]; /* why the current config's server is unusable, or "" */
    struct {
        int ok;
        double throughput, p99_ms;
        long rss_kib, threads;
    } result[BENCH_MAX_ENGINES * (2 * BENCH_MAX_POINTS + 1)]; /* parallel to runs */
};

/* The most a config can do with unlimited clients: its open-loop ceiling. */
static double config_bound(const struct sweep *sw, const struct bench_engine *e, double clients)
{
    double workers = e->async || e->workers <= 0 ? 0 : e->workers;
    return wl_bound_rps(sw->wl, clients, workers, sw->ncores);
}

static void plan(struct sweep *sw)
{
    const struct bench_suite *s = &sw->suite;
    for (int e = 0; e < s->nengines; e++) {
        for (int i = 0; i < s->nclients; i++)
            sw->runs[sw->nruns++] = (struct run){e, RUN_CLOSED, s->clients[i], 0};
        double ceiling = config_bound(sw, &s->engines[e], 0);
        for (int i = 0; i < s->nrates; i++) {
            double rate = s->auto_rates ? s->rates[i] * ceiling : s->rates[i];
            sw->runs[sw->nruns++] = (struct run){e, RUN_OPEN, 0, rate};
        }
        if (s->timeline > 0)
            sw->runs[sw->nruns++] = (struct run){e, RUN_TIMELINE, s->timeline, 0};
    }
}

/* Connections an open-loop run needs: enough for four times the requests in
 * flight at its rate, so the generator never runs short by its own doing. */
static int open_clients(const struct sweep *sw, double rate)
{
    double service = (wl_mean_cpu_ns(sw->wl) + wl_mean_wait_ns(sw->wl)) / 1e9;
    double need = ceil(rate * service * 4);
    return need < 16 ? 16 : need > 4096 ? 4096 : (int)need;
}

static int start_config(struct sweep *sw, int e)
{
    const struct bench_engine *en = &sw->suite.engines[e];
    const struct bench_suite *s = &sw->suite;
    char log[PATH_MAX], reason[512], num[4][16];
    char *db_argv[] = {sw->self, "db", "--workload", (char *)s->workload, "--seed", "1", NULL};
    snprintf(log, sizeof(log), "%s/logs/%02d-db.log", sw->dir, e + 1);
    sw->server_down[0] = '\0';
    if (spawn(db_argv, log, s->load_cpus, &sw->db) < 0 ||
        wait_listening(&sw->db, sw->db_addr, sizeof(sw->db_addr), reason, sizeof(reason)) < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "database did not start: %s", reason);
        return -1;
    }
    char *argv[32];
    int n = 0;
    argv[n++] = sw->self;
    argv[n++] = "serve";
    argv[n++] = "--engine";
    argv[n++] = en->async ? "async" : "pool";
    argv[n++] = "--workload";
    argv[n++] = (char *)s->workload;
    argv[n++] = "--db";
    argv[n++] = sw->db_addr;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    if (!en->async && en->workers >= 0) {
        snprintf(num[0], sizeof(num[0]), "%d", en->workers);
        argv[n++] = "--workers";
        argv[n++] = num[0];
    }
    if (!en->async && en->queue > 0) {
        snprintf(num[1], sizeof(num[1]), "%d", en->queue);
        argv[n++] = "--queue";
        argv[n++] = num[1];
    }
    if (!en->async && en->connection_mode) {
        argv[n++] = "--pool-mode";
        argv[n++] = "connection";
    }
    if (en->async && en->loops > 0) {
        snprintf(num[2], sizeof(num[2]), "%d", en->loops);
        argv[n++] = "--loops";
        argv[n++] = num[2];
    }
    if (en->async && en->db_conns > 0) {
        snprintf(num[3], sizeof(num[3]), "%d", en->db_conns);
        argv[n++] = "--db-conns";
        argv[n++] = num[3];
    }
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/logs/%02d-server.log", sw->dir, e + 1);
    if (spawn(argv, log, s->server_cpus, &sw->server) < 0 ||
        wait_listening(&sw->server, sw->server_addr, sizeof(sw->server_addr), reason,
                       sizeof(reason)) < 0) {
        snprintf(sw->server_down, sizeof(sw->server_down), "server did not start: %s", reason);
        return -1;
    }
    return 0;
}

static void stop_config(struct sweep *sw)
{
    stop_child(&sw->server);
    stop_child(&sw->db);
}

/* What one run measured: the load generator's figures and the server's cost. */
struct outcome {
    char status[16], reason[256];
    char load[12][32]; /* the load generator's fields, in load_fields order */
    double cpu_user_s, cpu_sys_s, window_s;
    long peak_rss_kib, threads, fds, vol_ctxsw, invol_ctxsw;
    double throughput, p99_ms;
};

/* Fields copied from the load generator's CSV row into runs.csv, by name. */
static const char *load_fields[] = {"requests", "errors",      "throughput_rps", "p50_ms",
                                    "p90_ms",   "p99_ms",      "p999_ms",        "max_ms",
                                    "mean_ms",  "achieved_rps"};
#define NLOAD (int)(sizeof(load_fields) / sizeof(load_fields[0]))

struct argstore {
    char num[8][32];
    char path[3][PATH_MAX];
};

static void load_argv(struct sweep *sw, const struct run *r, int id, char **argv,
                      struct argstore *st)
{
    char(*num)[32] = st->num;
    const struct bench_suite *s = &sw->suite;
    int n = 0;
    argv[n++] = sw->self;
    argv[n++] = "load";
    argv[n++] = "--target";
    argv[n++] = sw->server_addr;
    argv[n++] = "--workload";
    argv[n++] = (char *)s->workload;
    snprintf(num[0], 32, "%d", r->kind == RUN_OPEN ? open_clients(sw, r->rate) : r->clients);
    argv[n++] = "--clients";
    argv[n++] = num[0];
    if (r->kind == RUN_TIMELINE) {
        /* K requests spaced a third of one request's service time apart: they
         * arrive while the first is still being served, as in the lecture */
        double service = (wl_mean_cpu_ns(sw->wl) + wl_mean_wait_ns(sw->wl)) / 1e9;
        double rate = 3.0 / service;
        snprintf(num[1], 32, "%.3f", rate);
        snprintf(num[2], 32, "%.0fms", (r->clients - 0.5) / rate * 1e3);
        snprintf(num[3], 32, "%dms", (int)(service * 1e3 * (r->clients + 2)));
        snprintf(num[4], 32, "%d", r->clients);
        char **p = argv + n;
        *p++ = "--rate", *p++ = num[1], *p++ = "--arrival", *p++ = "uniform";
        *p++ = "--duration", *p++ = num[2], *p++ = "--warmup", *p++ = "0ms";
        *p++ = "--timeout", *p++ = num[3];
        *p++ = "--timeline-max", *p++ = num[4];
        n = p - argv;
    } else {
        snprintf(num[1], 32, "%.3f", r->rate);
        snprintf(num[2], 32, "%.0fms", s->duration_ns / 1e6);
        snprintf(num[3], 32, "%.0fms", s->warmup_ns / 1e6);
        if (r->kind == RUN_OPEN) {
            argv[n++] = "--rate";
            argv[n++] = num[1];
        }
        argv[n++] = "--duration";
        argv[n++] = num[2];
        argv[n++] = "--warmup";
        argv[n++] = num[3];
    }
    snprintf(num[5], 32, "%d", s->load_threads > 0 ? s->load_threads : 1);
    argv[n++] = "--threads";
    argv[n++] = num[5];
    argv[n++] = "--seed";
    snprintf(num[6], 32, "%d", id);
    argv[n++] = num[6];
    if (s->load_cpus[0]) {
        argv[n++] = "--cpus";
        argv[n++] = (char *)s->load_cpus;
    }
    static const char *outputs[] = {"--csv", "--latency-csv", "--timeline"};
    static const char *names[] = {"load.csv", "latency.csv", "timeline.csv"};
    for (int i = 0; i < (r->kind == RUN_TIMELINE ? 3 : 2); i++) {
        argv[n++] = (char *)outputs[i];
        snprintf(st->path[i], PATH_MAX, "%s/runs/%03d-%s", sw->dir, id, names[i]);
        argv[n++] = st->path[i];
    }
    argv[n] = NULL;
}

/* Samples the server while the load runs: CPU and switches over the measured
 * window (after warmup), peaks of RSS, threads and descriptors. */
static void watch(struct sweep *sw, struct child *load, double warmup_s, double limit_s,
                  struct outcome *o)
{
    struct bench_proc first = {0}, last = {0}, p;
    double start = now_s(), t_first = 0, t_last = 0;
    int have_first = 0;
    while (load->pid > 0 && !interrupted) {
        if (waitpid(load->pid, NULL, WNOHANG) == load->pid) {
            load->pid = 0;
            break;
        }
        double t = now_s();
        if (sw->server.pid > 0 && bench_sample_proc(sw->server.pid, &p) == 0 &&
            t - start >= warmup_s) {
            if (!have_first++) {
                first = p;
                t_first = t;
            }
            last = p;
            t_last = t;
            o->peak_rss_kib = p.rss_kib > o->peak_rss_kib ? p.rss_kib : o->peak_rss_kib;
            o->threads = p.threads > o->threads ? p.threads : o->threads;
            o->fds = p.fds > o->fds ? p.fds : o->fds;
        }
        if (t - start > limit_s) {
            kill(load->pid, SIGKILL);
            wait_child(load, STOP_TIMEOUT_S);
            snprintf(o->reason, sizeof(o->reason), "load generator overran by %.0f s",
                     LOAD_GRACE_S);
            break;
        }
        sleep_s(SAMPLE_EVERY_NS / 1e9);
    }
    o->window_s = t_last - t_first;
    o->cpu_user_s = last.utime_s - first.utime_s;
    o->cpu_sys_s = last.stime_s - first.stime_s;
    o->vol_ctxsw = last.vol_ctxsw - first.vol_ctxsw;
    o->invol_ctxsw = last.invol_ctxsw - first.invol_ctxsw;
}

/* Copies a per-run CSV into the sweep's file, each row prefixed with the run. */
static void merge_csv(const char *from, const char *to, const char *prefix_header,
                      const char *prefix)
{
    FILE *f = fopen(from, "r");
    char line[ROW_MAX], *all = NULL;
    size_t len = 0;
    int first = 1;
    if (!f)
        return;
    FILE *mem = open_memstream(&all, &len);
    struct stat st;
    int fresh = stat(to, &st) < 0;
    while (fgets(line, sizeof(line), f)) {
        if (first) {
            first = 0;
            if (fresh)
                fprintf(mem, "%s,%s", prefix_header, line);
            continue;
        }
        fprintf(mem, "%s,%s", prefix, line);
    }
    fclose(f);
    fclose(mem);
    append_atomic(to, all);
    free(all);
}

static const char runs_header[] =
    "run,suite,workload,engine,loop,clients,rate,status,reason,requests,errors,throughput_rps,"
    "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,achieved_rps,mean_cpu_ms,mean_wait_ms,"
    "bound_rps,efficiency,cpu_user_s,cpu_sys_s,cpu_util,peak_rss_kib,threads,fds,"
    "vol_ctxsw_per_s,invol_ctxsw_per_s\n";

/* CSV fields never hold commas or quotes of our making; a reason might. */
static void csv_clean(char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            *s = ';';
}

static double run_bound(const struct sweep *sw, const struct run *r)
{
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    if (r->kind == RUN_OPEN) {
        double ceiling = config_bound(sw, e, 0);
        return r->rate < ceiling ? r->rate : ceiling;
    }
    return config_bound(sw, e, r->clients);
}

static void write_row(struct sweep *sw, const struct run *r, int id, struct outcome *o)
{
    char row[ROW_MAX], loads[1024] = "";
    size_t n = 0;
    for (int i = 0; i < NLOAD; i++)
        n += snprintf(loads + n, sizeof(loads) - n, "%s%s", i ? "," : "", o->load[i]);
    double bound = run_bound(sw, r);
    double eff = bound > 0 && o->throughput > 0 ? o->throughput / bound : 0;
    double w = o->window_s > 0 ? o->window_s : 1;
    csv_clean(o->reason);
    snprintf(row, sizeof(row),
             "%d,%s,%s,%s,%s,%d,%.3f,%s,%s,%s,%.4f,%.4f,%.1f,%.4f,%.3f,%.3f,%.3f,%ld,%ld,"
             "%ld,%.1f,%.1f\n",
             id, sw->suite.name, sw->wl->name, sw->suite.engines[r->engine].spec,
             kind_name[r->kind], r->kind == RUN_OPEN ? 0 : r->clients, r->rate, o->status,
             o->reason, loads, wl_mean_cpu_ns(sw->wl) / 1e6, wl_mean_wait_ns(sw->wl) / 1e6, bound,
             eff, o->cpu_user_s, o->cpu_sys_s, (o->cpu_user_s + o->cpu_sys_s) / w, o->peak_rss_kib,
             o->threads, o->fds, o->vol_ctxsw / w, o->invol_ctxsw / w);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/runs.csv", sw->dir);
    append_atomic(path, row);
}

/* Reads the load generator's row into o; 0, or -1 with the reason. */
static int read_load(struct sweep *sw, const struct argstore *st, struct outcome *o)
{
    char header[ROW_MAX], row[ROW_MAX];
    if (csv_last_row(st->path[0], header, row, sizeof(header)) < 0)
        return -1;
    for (int i = 0; i < NLOAD; i++)
        if (csv_get(header, row, load_fields[i], o->load[i], sizeof(o->load[i])) < 0)
            o->load[i][0] = '\0';
    o->throughput = atof(o->load[2]);
    o->p99_ms = atof(o->load[5]);
    return 0;
}

static void format_eta(double s, char *out, size_t len)
{
    if (s >= 60)
        snprintf(out, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, len, "%ds", (int)s);
}

static void progress(struct sweep *sw, const struct run *r, int id, const struct outcome *o)
{
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    char point[48], eta[32];
    double per_run = (now_s() - sw->started) / (sw->done ? sw->done : 1);
    format_eta(per_run * (sw->nruns - sw->done), eta, sizeof(eta));
    if (r->kind == RUN_OPEN)
        snprintf(point, sizeof(point), "open r=%.0f", r->rate);
    else
        snprintf(point, sizeof(point), "%s c=%d", kind_name[r->kind], r->clients);
    if (strcmp(o->status, "ok") != 0) {
        fprintf(stderr, "[%d/%d] %s %s  failed: %s  ETA %s\n", id, sw->nruns, e->spec, point,
                o->reason, eta);
        return;
    }
    double bound = run_bound(sw, r);
    fprintf(stderr, "[%d/%d] %s %s  %.3gk req/s  p99 %.1f ms  eff %.2f  ETA %s\n", id, sw->nruns,
            e->spec, point, o->throughput / 1e3, o->p99_ms, bound > 0 ? o->throughput / bound : 0,
            eta);
}

static void run_point(struct sweep *sw, const struct run *r, int id)
{
    struct outcome o = {.status = "ok"};
    struct argstore st;
    char *argv[48], log[PATH_MAX];
    struct child load = {0};
    if (sw->server_down[0] || (sw->server.pid > 0 && kill(sw->server.pid, 0) < 0)) {
        if (!sw->server_down[0])
            last_line(sw->server.log, sw->server_down, sizeof(sw->server_down));
        snprintf(o.status, sizeof(o.status), "failed");
        snprintf(o.reason, sizeof(o.reason), "%s", sw->server_down);
    } else {
        load_argv(sw, r, id, argv, &st);
        snprintf(log, sizeof(log), "%s/logs/%03d-load.log", sw->dir, id);
        double limit = (sw->suite.duration_ns + sw->suite.warmup_ns) / 1e9 + LOAD_GRACE_S;
        if (spawn(argv, log, "", &load) < 0) {
            snprintf(o.reason, sizeof(o.reason), "cannot start the load generator");
        } else {
            watch(sw, &load, r->kind == RUN_TIMELINE ? 0 : sw->suite.warmup_ns / 1e9, limit, &o);
            if (sw->server.pid > 0 && waitpid(sw->server.pid, NULL, WNOHANG) == sw->server.pid) {
                sw->server.pid = 0;
                last_line(sw->server.log, sw->server_down, sizeof(sw->server_down));
                snprintf(o.reason, sizeof(o.reason), "server exited: %s", sw->server_down);
            } else if (!o.reason[0] && read_load(sw, &st, &o) < 0) {
                last_line(log, o.reason, sizeof(o.reason));
            }
        }
        if (o.reason[0])
            snprintf(o.status, sizeof(o.status), "failed");
    }
    if (interrupted) {
        stop_child(&load);
        return; /* an interrupted run is not a finished one: no row */
    }
    write_row(sw, r, id, &o);
    if (!strcmp(o.status, "ok")) {
        char prefix[256], path[PATH_MAX];
        snprintf(prefix, sizeof(prefix), "%d,%s,%s,%d,%.3f", id, sw->suite.engines[r->engine].spec,
                 kind_name[r->kind], r->kind == RUN_OPEN ? 0 : r->clients, r->rate);
        snprintf(path, sizeof(path), "%s/latency.csv", sw->dir);
        merge_csv(st.path[1], path, "run,engine,loop,clients,rate", prefix);
        if (r->kind == RUN_TIMELINE) {
            snprintf(path, sizeof(path), "%s/timeline.csv", sw->dir);
            merge_csv(st.path[2], path, "run,engine,loop,clients,rate", prefix);
        }
    } else {
        sw->failed++;
    }
    sw->result[id - 1].ok = !strcmp(o.status, "ok");
    sw->result[id - 1].throughput = o.throughput;
    sw->result[id - 1].p99_ms = o.p99_ms;
    sw->result[id - 1].rss_kib = o.peak_rss_kib;
    sw->result[id - 1].threads = o.threads;
    sw->done++;
    progress(sw, r, id, &o);
}

/* ---- the results folder ---- */

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    return ok ? 0 : -1;
}

/* Runs a shell command and keeps the first line of its output, or "unknown". */
static void first_line_of(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    snprintf(out, len, "unknown");
    if (!p)
        return;
    if (fgets(out, len, p))
        out[strcspn(out, "\n")] = '\0';
    else
        snprintf(out, len, "unknown");
    pclose(p);
}

static void write_meta(struct sweep *sw, int argc, char **argv)
{
    char path[PATH_MAX], cpu[256], commit[128], line[512];
    struct utsname u;
    snprintf(path, sizeof(path), "%s/meta.txt", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    first_line_of("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'", cpu,
                  sizeof(cpu));
    first_line_of("git rev-parse HEAD 2>/dev/null", commit, sizeof(commit));
    uname(&u);
    time_t t = time(NULL);
    strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(f, "date: %s\ncpu: %s\ncores: %ld\nkernel: %s %s %s\ncompiler: %s\ncommit: %s\n", line,
            cpu, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine, __VERSION__,
            commit);
    FILE *p = popen("dpkg-query -W -f '${Package} ${Version}\\n' libsqlite3-0 libinih1 "
                    "gnuplot-nox 2>/dev/null",
                    "r");
    while (p && fgets(line, sizeof(line), p))
        fprintf(f, "package: %s", line);
    if (p)
        pclose(p);
    fprintf(f, "command:");
    for (int i = 0; i < argc; i++)
        fprintf(f, " %s", argv[i]);
    const struct bench_suite *s = &sw->suite;
    fprintf(f, "\nsuite: %s (%s)\nworkload: %s (%s)\nserver_cpus: %s\nload_cpus: %s\n", s->name,
            sw->suite_path ? sw->suite_path : "flags only", sw->wl->name, s->workload,
            s->server_cpus[0] ? s->server_cpus : "any", s->load_cpus[0] ? s->load_cpus : "any");
    fprintf(f, "duration_s: %.3f\nwarmup_s: %.3f\nmean_cpu_ms: %.4f\nmean_wait_ms: %.4f\n",
            s->duration_ns / 1e9, s->warmup_ns / 1e9, wl_mean_cpu_ns(sw->wl) / 1e6,
            wl_mean_wait_ns(sw->wl) / 1e6);
    fprintf(f, "engines:");
    for (int i = 0; i < s->nengines; i++)
        fprintf(f, " %s", s->engines[i].spec);
    fprintf(f, "\nruns: %d\n", sw->nruns);
    fclose(f);
}

/* results/<suite>-<UTC timestamp>/, never one that exists; results/latest
 * points at it (replaced atomically). */
static int make_dir(struct sweep *sw, const char *out)
{
    char stamp[32], sub[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX + 8];
    time_t t = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&t));
    mkdir(out, 0755);
    for (int i = 1; i < 100; i++) {
        if (i == 1)
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s", out, sw->suite.name, stamp);
        else
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s-%d", out, sw->suite.name, stamp, i);
        if (mkdir(sw->dir, 0755) == 0)
            break;
        if (errno != EEXIST) {
            fprintf(stderr, "overlap bench: cannot create %s: %s\n", sw->dir, strerror(errno));
            return -1;
        }
    }
    static const char *subs[] = {"runs", "logs"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", sw->dir, subs[i]);
        mkdir(sub, 0755);
    }
    snprintf(link, sizeof(link), "%s/latest", out);
    snprintf(tmp, sizeof(tmp), "%s.tmp", link);
    unlink(tmp);
    if (symlink(strrchr(sw->dir, '/') + 1, tmp) == 0)
        rename(tmp, link);
    snprintf(sub, sizeof(sub), "%s/runs.csv", sw->dir);
    return append_atomic(sub, runs_header);
}

static void copy_inputs(struct sweep *sw)
{
    char to[PATH_MAX];
    snprintf(to, sizeof(to), "%s/workload.ini", sw->dir);
    copy_file(sw->suite.workload, to);
    if (sw->suite_path) {
        snprintf(to, sizeof(to), "%s/suite.ini", sw->dir);
        copy_file(sw->suite_path, to);
    }
}

/* ---- the summary ---- */

/* p99 of the open-loop run whose throughput came closest to share x peak. */
static double p99_near(const struct sweep *sw, int e, double target)
{
    double best = INFINITY, p99 = NAN;
    for (int i = 0; i < sw->nruns; i++) {
        if (sw->runs[i].engine != e || sw->runs[i].kind != RUN_OPEN || !sw->result[i].ok)
            continue;
        double d = fabs(sw->result[i].throughput - target);
        if (d < best) {
            best = d;
            p99 = sw->result[i].p99_ms;
        }
    }
    return p99;
}

static void print_summary(const struct sweep *sw)
{
    printf("\n%-34s %12s %10s %14s %14s %12s %8s\n", "engine", "peak req/s", "bound",
           "p99@50% (ms)", "p99@90% (ms)", "peak RSS", "threads");
    for (int e = 0; e < sw->suite.nengines; e++) {
        double peak = 0;
        long rss = 0, threads = 0;
        for (int i = 0; i < sw->nruns; i++) {
            if (sw->runs[i].engine != e || !sw->result[i].ok || sw->runs[i].kind == RUN_TIMELINE)
                continue;
            peak = fmax(peak, sw->result[i].throughput);
            rss = sw->result[i].rss_kib > rss ? sw->result[i].rss_kib : rss;
            threads = sw->result[i].threads > threads ? sw->result[i].threads : threads;
        }
        printf("%-34s %12.1f %10.1f %14.2f %14.2f %9.1f MiB %8ld\n", sw->suite.engines[e].spec,
               peak, config_bound(sw, &sw->suite.engines[e], 0), p99_near(sw, e, 0.5 * peak),
               p99_near(sw, e, 0.9 * peak), rss / 1024.0, threads);
    }
    printf("\n%d runs, %d failed: %s\n", sw->done, sw->failed, sw->dir);
}

/* ---- the command ---- */

static const char bench_usage[] =
    "usage: overlap bench [flags]\n"
    "  --suite FILE            a suite file (default harness/suites/default.ini)\n"
    "  --quick                 the quick suite (harness/suites/quick.ini)\n"
    "  --workload FILE         the workload, overriding the suite's\n"
    "  --engines LIST          engine configs separated by spaces or ';', e.g.\n"
    "                          'pool:workers=64 pool:workers=0,mode=connection async:loops=1'\n"
    "  --clients LIST          closed-loop client counts, e.g. 1,8,64\n"
    "  --rates LIST|auto       open-loop rates in req/s, or auto (fractions of each bound)\n"
    "  --duration D            measured time per run (e.g. 2s)\n"
    "  --warmup D              unmeasured time before it (e.g. 500ms)\n"
    "  --timeline K            requests in the timeline scenario (0: none)\n"
    "  --out DIR               where result folders go (default results)\n"
    "  --server-cpus LIST      CPUs for the server (default 0 on 2+ cores)\n"
    "  --load-cpus LIST        CPUs for the load generator and database (default 1)\n";

static int bench_usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "overlap bench: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n%s", bench_usage);
    return 2;
}

static void suite_defaults(struct bench_suite *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "custom");
    snprintf(s->workload, sizeof(s->workload), "workloads/seed.ini");
    s->duration_ns = 2000000000ULL;
    s->warmup_ns = 500000000ULL;
    s->timeline = 8;
    s->load_threads = 1;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        snprintf(s->server_cpus, sizeof(s->server_cpus), "0");
        snprintf(s->load_cpus, sizeof(s->load_cpus), "1");
    }
}

/* Flags that name a suite come first; the rest override it. */
static const char *pick_suite(int argc, char **argv)
{
    const char *suite = "harness/suites/default.ini";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            suite = "harness/suites/quick.ini";
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc)
            suite = argv[++i];
    }
    return suite;
}

static int parse_flags(struct sweep *sw, int argc, char **argv, const char **out)
{
    static const struct {
        const char *flag, *key;
    } map[] = {{"--workload", "workload"},   {"--engines", "engines"},
               {"--clients", "clients"},     {"--rates", "rates"},
               {"--duration", "duration"},   {"--warmup", "warmup"},
               {"--timeline", "timeline"},   {"--server-cpus", "server_cpus"},
               {"--load-cpus", "load_cpus"}, {"--load-threads", "load_threads"}};
    char err[512];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(bench_usage, stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return bench_usage_error("flag '%s' needs a value", argv[i]);
        const char *flag = argv[i], *value = argv[++i];
        if (!strcmp(flag, "--suite"))
            continue;
        if (!strcmp(flag, "--out")) {
            *out = value;
            continue;
        }
        size_t k = 0;
        while (k < sizeof(map) / sizeof(map[0]) && strcmp(map[k].flag, flag) != 0)
            k++;
        if (k == sizeof(map) / sizeof(map[0]))
            return bench_usage_error("unknown flag '%s'", flag);
        if (suite_set(&sw->suite, map[k].key, value, err, sizeof(err)) < 0)
            return bench_usage_error("%s", err);
    }
    return -1;
}

static int check_cpus(const char *list, const char *what)
{
    cpu_set_t set;
    if (list[0] && parse_cpus(list, &set) < 0) {
        fprintf(stderr, "overlap bench: bad %s '%s' (expected e.g. 0, 0-1 or 0,2)\n", what, list);
        return -1;
    }
    return list[0] ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static int prepare(struct sweep *sw, int argc, char **argv, const char **out)
{
    char err[WL_ERR_LEN];
    suite_defaults(&sw->suite);
    sw->suite_path = pick_suite(argc, argv);
    if (load_suite(sw->suite_path, &sw->suite) < 0)
        return 2;
    int status = parse_flags(sw, argc, argv, out);
    if (status >= 0)
        return status;
    if (sw->suite.nengines == 0 || (sw->suite.nclients == 0 && sw->suite.nrates == 0))
        return bench_usage_error("%s", "nothing to run: give engines and clients or rates");
    if (sw->suite.auto_rates && sw->suite.nrates == 0) {
        static const double fractions[] = {0.1, 0.5, 0.8, 1.0, 1.2};
        sw->suite.nrates = 5;
        memcpy(sw->suite.rates, fractions, sizeof(fractions));
    }
    if ((sw->ncores = check_cpus(sw->suite.server_cpus, "--server-cpus")) < 0 ||
        check_cpus(sw->suite.load_cpus, "--load-cpus") < 0)
        return 2;
    if (wl_load(sw->suite.workload, &sw->wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", sw->self, sizeof(sw->self) - 1);
    if (n <= 0) {
        fprintf(stderr, "overlap bench: cannot find its own binary\n");
        return 1;
    }
    sw->self[n] = '\0';
    return -1;
}

int bench_main(int argc, char **argv)
{
    static struct sweep sw; /* large: kept off the stack */
    const char *out = "results";
    memset(&sw, 0, sizeof(sw));
    int status = prepare(&sw, argc, argv, &out);
    if (status >= 0)
        goto done;
    plan(&sw);
    if (make_dir(&sw, out) < 0) {
        status = 1;
        goto done;
    }
    write_meta(&sw, argc, argv);
    copy_inputs(&sw);
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "overlap bench: %d runs of %s on %s into %s\n", sw.nruns, sw.suite.name,
            sw.wl->name, sw.dir);
    sw.started = now_s();
    for (int i = 0, current = -1; i < sw.nruns && !interrupted; i++) {
        if (sw.runs[i].engine != current) {
            stop_config(&sw);
            current = sw.runs[i].engine;
            start_config(&sw, current);
        }
        run_point(&sw, &sw.runs[i], i + 1);
    }
    stop_config(&sw);
    if (interrupted) {
        fprintf(stderr, "\noverlap bench: interrupted; %d finished runs kept in %s\n", sw.done,
                sw.dir);
        status = 130;
        goto done;
    }
    print_summary(&sw);
    status = sw.failed == sw.done ? 1 : 0;
done:
    wl_free(sw.wl);
    return status;
}
