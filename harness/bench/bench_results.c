/* The results folder of `overlap bench`: its making, meta.txt, copies of the
 * inputs, one runs.csv row per run (with its checks) and the merge of each
 * run's own files.
 * Every row goes in with one write(2) on an O_APPEND file as its run ends, so
 * an interrupted or killed sweep keeps every finished run and never a half
 * row. The load generator's CSV is read with the harness's reader (csv.h). */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "csv.h"
#include "proc.h"
#include "wl.h"

#ifndef OVERLAP_SOURCE_DIR
#define OVERLAP_SOURCE_DIR "."
#endif

#define ROW_MAX       4096  /* a runs.csv row, and the longest line merged from a run's file */
#define TREND_SLACK_S 0.001 /* an interval ending this close past the window is the window's */

static const char runs_header[] =
    "run,suite,workload,engine,loop,clients,rate,status,reason,requests,errors,throughput_rps,"
    "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,achieved_rps,mean_cpu_ms,mean_wait_ms,"
    "bound_rps,ceiling_rps,efficiency,cpu_user_s,cpu_sys_s,cpu_util,peak_rss_kib,threads,fds,"
    "vol_ctxsw_per_s,invol_ctxsw_per_s,repeat,attempts,window_s,littles_ratio,load_cpu_util,"
    "cpu_per_request_us,ceiling_measured_rps,trend_pct,flags,workload_cpu_us,other_cpu_us,"
    "database,db_connections,db_backends,db_calls,db_expected_calls,label\n";

/* The load generator's columns, by name, in enum bench__load_field's order. */
static const char *const load_fields[BENCH__NLOAD] = {
    "requests", "errors",  "throughput_rps", "p50_ms",  "p90_ms",
    "p99_ms",   "p999_ms", "max_ms",         "mean_ms", "achieved_rps"};

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

/* Makes DIR/<suite>-<stamp>[-N], a shard's DIR/<suite>-<stamp>-shard-I-of-N[-N]:
 * 0, or -1 with a message. */
static int make_folder(struct bench__sweep *sw, const char *out, const char *utc)
{
    char stamp[96];
    if (sw->nshards)
        snprintf(stamp, sizeof(stamp), "%s-shard-%d-of-%d", utc, sw->shard, sw->nshards);
    else
        snprintf(stamp, sizeof(stamp), "%s", utc);
    for (int i = 1; i < 100; i++) {
        if (i == 1)
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s", out, sw->suite.name, stamp);
        else
            snprintf(sw->dir, sizeof(sw->dir), "%s/%s-%s-%d", out, sw->suite.name, stamp, i);
        if (mkdir(sw->dir, 0755) == 0)
            return 0;
        if (errno != EEXIST) {
            fprintf(stderr, "overlap bench: cannot create %s: %s\n", sw->dir, strerror(errno));
            return -1;
        }
    }
    fprintf(stderr, "overlap bench: too many result folders named %s/%s-%s\n", out, sw->suite.name,
            stamp);
    return -1;
}

/* out/latest names the newest folder; replaced atomically. */
static void point_latest(const struct bench__sweep *sw, const char *out)
{
    char link[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(link, sizeof(link), "%s/latest", out);
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", link, (int)getpid());
    unlink(tmp);
    if (symlink(strrchr(sw->dir, '/') + 1, tmp) == 0 && rename(tmp, link) < 0)
        unlink(tmp);
}

int bench__results_open(struct bench__sweep *sw, const char *out)
{
    char stamp[32], sub[PATH_MAX + 16];
    time_t t = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&t));
    if (mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "overlap bench: cannot create %s: %s\n", out, strerror(errno));
        return -1;
    }
    if (make_folder(sw, out, stamp) < 0)
        return -1;
    static const char *subs[] = {"runs", "logs"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", sw->dir, subs[i]);
        mkdir(sub, 0755);
    }
    point_latest(sw, out);
    snprintf(sub, sizeof(sub), "%s/runs.csv", sw->dir);
    if (append_atomic(sub, runs_header) < 0) {
        fprintf(stderr, "overlap bench: cannot write %s\n", sub);
        return -1;
    }
    return 0;
}

/* ---- meta.txt and the inputs ---- */

void bench__copy_inputs(const struct bench__sweep *sw)
{
    char to[PATH_MAX + 32];
    snprintf(to, sizeof(to), "%s/workload.ini", sw->dir);
    proc_copy_file(sw->suite.workload, to, false);
    if (sw->suite_path) {
        snprintf(to, sizeof(to), "%s/suite.ini", sw->dir);
        proc_copy_file(sw->suite_path, to, false);
    }
    if (sw->wl->init_path) {
        const char *base = strrchr(sw->wl->init_path, '/');
        snprintf(to, sizeof(to), "%s/%s", sw->dir, base ? base + 1 : sw->wl->init_path);
        proc_copy_file(sw->wl->init_path, to, false);
    }
}

/* Runs a shell command and keeps the first line of its output, or "unknown". */
static void first_line_of(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    snprintf(out, len, "unknown");
    if (!p)
        return;
    if (fgets(out, len, p) && out[0] != '\n')
        out[strcspn(out, "\n")] = '\0';
    else
        snprintf(out, len, "unknown");
    pclose(p);
}

/* An argument as a shell would need it to reproduce the command. */
static void print_quoted(FILE *f, const char *arg)
{
    if (arg[0] && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "-_./:=,@%+") == strlen(arg)) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = arg; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else if (*p == '\n')
            fputc(' ', f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

void bench__print_command(FILE *f, char *const *argv)
{
    for (int i = 0; argv[i]; i++) {
        if (i)
            fputc(' ', f);
        print_quoted(f, argv[i]);
    }
    fputc('\n', f);
}

static void write_machine(FILE *f)
{
    char cpu[256], commit[128], line[512];
    struct utsname u;
    first_line_of("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'", cpu,
                  sizeof(cpu));
    first_line_of(
        "git describe --always --dirty --abbrev=40 2>/dev/null || git -C '" OVERLAP_SOURCE_DIR
        "' describe --always --dirty --abbrev=40 2>/dev/null",
        commit, sizeof(commit));
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
}

/* The machine's calibration (calibrate.h), measured before the first run on
 * the server's CPUs: theirs is the speed the server's figures move with. A
 * figure that cannot be measured is left out, and said so. */
void bench__calibrate(struct bench__sweep *sw)
{
    int rc = calibrate_measure(sw->suite.server_cpus, &sw->calibration);
    if (rc < 0)
        fprintf(stderr,
                "overlap bench: the machine's calibration is incomplete (%s): `overlap compare` "
                "cannot weigh the machine without it\n",
                strerror(-rc));
}

/* A map axis in meta.txt, in ns so it reads back exactly: `vary.cpu:
 * 20000ns 100000ns`; nothing when the suite does not vary it. */
static void write_axis(FILE *f, const char *key, const uint64_t *ns, int n)
{
    if (n == 0)
        return;
    fprintf(f, "%s:", key);
    for (int i = 0; i < n; i++)
        fprintf(f, " %lluns", (unsigned long long)ns[i]);
    fputc('\n', f);
}

int bench__write_meta(const struct bench__sweep *sw, int argc, char **argv)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/meta.txt", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    write_machine(f);
    calibrate_write(f, &sw->calibration);
    fprintf(f, "command: overlap");
    for (int i = 0; i < argc; i++) {
        fputc(' ', f);
        print_quoted(f, argv[i]);
    }
    const struct bench_suite *s = &sw->suite;
    fprintf(f, "\nsuite: %s (%s)\nworkload: %s (%s)\nserver_cpus: %s\nload_cpus: %s\n", s->name,
            sw->suite_path, sw->wl->name, s->workload, s->server_cpus[0] ? s->server_cpus : "any",
            s->load_cpus[0] ? s->load_cpus : "any");
    fprintf(f, "duration_s: %.3f\nwarmup_s: %.3f\nmean_cpu_ms: %.4f\nmean_wait_ms: %.4f\n",
            s->duration_ns / 1e9, s->warmup_ns / 1e9, wl_mean_cpu_ns(sw->wl) / 1e6,
            wl_mean_wait_ns(sw->wl) / 1e6);
    fprintf(f, "repeats: %d\nwindow_cap_s: %.3f\nintervals: %s\n", s->repeats,
            bench__window_cap_s(&sw->plan), sw->intervals ? "yes" : "no");
    fprintf(f, "timeline_requests: %d\ntimeline_rate: %.3f\n", s->timeline,
            bench__timeline_rate(&sw->plan));
    fprintf(f, "server_address: %s\nload_hosts:", s->server_address);
    for (int i = 0; i < s->nhosts; i++)
        fprintf(f, " %s", s->hosts[i]);
    fprintf(f, "%s\n", s->nhosts ? "" : " none");
    if (s->nhosts)
        fprintf(f, "launcher: %s\nlaunch_lead_s: %.3f\n", s->launcher, s->launch_lead_ns / 1e9);
    fprintf(f, "engines:");
    for (int i = 0; i < s->nengines; i++)
        fprintf(f, " %s", s->engines[i].spec);
    /* the planned runs (a shard's share); bench__finish_meta sets the rows recorded */
    fprintf(f, "\nruns: %d\n", sw->nshards ? sw->shard_runs : sw->plan.nruns);
    /* what the merge checks: which shard, of which plan, with how many runs
     * of its own and of the whole plan's */
    if (sw->nshards)
        fprintf(f, "shard: %d/%d\nshard_plan: %016llx\nshard_runs: %d\nshard_planned: %d\n",
                sw->shard, sw->nshards, (unsigned long long)bench__plan_hash(&sw->plan),
                sw->shard_runs, sw->planned);
    if (s->has_slo) /* the capacity's goal; its probes come on top of the runs planned */
        fprintf(f, "slo: p%g %gms\n", s->slo.percentile, s->slo.ms);
    if (s->has_slo)
        fprintf(f, "capacity_tolerance: %g\n",
                s->tolerance > 0 ? s->tolerance : CAPACITY_TOLERANCE);
    write_axis(f, "vary.cpu", s->vary_cpu_ns, s->nvary_cpu);
    write_axis(f, "vary.wait", s->vary_wait_ns, s->nvary_wait);
    bench__pg_write_meta(sw, f);
    return fclose(f) == 0 ? 0 : -EIO;
}

/* The data rows of a CSV file (lines but its header): a row is one line. */
static int count_rows(const char *path)
{
    FILE *f = fopen(path, "r");
    int c, lines = 0;
    if (!f)
        return -errno;
    while ((c = getc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines > 0 ? lines - 1 : 0;
}

/* Copies meta.txt from in to out with its runs line saying rows; a shard
 * that finished says so last (the merge takes no other). */
static int copy_meta(const struct bench__sweep *sw, FILE *in, FILE *out, int rows)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0) {
        if (!strncmp(line, "runs: ", 6))
            fprintf(out, "runs: %d\n", rows);
        else
            fputs(line, out);
    }
    free(line);
    if (sw->nshards && !proc_stopping())
        fputs("shard_complete: yes\n", out);
    return ferror(in) || ferror(out) ? -EIO : 0;
}

int bench__finish_meta(const struct bench__sweep *sw)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/runs.csv", sw->dir);
    int rows = count_rows(path);
    if (rows < 0)
        return rows;
    snprintf(path, sizeof(path), "%s/meta.txt", sw->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *in = fopen(path, "r"), *out = in ? fopen(tmp, "w") : NULL;
    int rc = in && out ? copy_meta(sw, in, out, rows) : -errno;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && rc == 0)
        rc = -EIO;
    /* renamed into place whole: a reader sees the old meta.txt or the new */
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0 && out)
        unlink(tmp);
    return rc;
}

/* ---- rows ---- */

void bench__run_path(const struct bench__sweep *sw, const char *sub, int id, const char *name,
                     char *path, size_t len)
{
    snprintf(path, len, "%s/%s/%03d-%s", sw->dir, sub, id, name);
}

/* Row row's field name as a number; NAN when absent, empty or no number. */
static double field_or_nan(const struct csv_table *t, int row, const char *name)
{
    const char *v = csv_get(t, row, name);
    char *end;
    double x = strtod(v, &end);
    return *v && !*end ? x : NAN;
}

int bench__read_load(const char *path, struct bench__outcome *o)
{
    struct csv_table t;
    int status = csv_load(path, &t) < 0 || t.nrows == 0 ? -1 : 0;
    for (int i = 0; status == 0 && i < BENCH__NLOAD; i++) {
        const char *v = csv_get(&t, t.nrows - 1, load_fields[i]);
        /* a field that would break the row's CSV is dropped, not copied */
        snprintf(o->load[i], sizeof(o->load[i]), "%s", strpbrk(v, "\"'") ? "" : v);
    }
    if (status == 0) {
        /* columns a generator may not write yet: absent reads NAN, not assessable */
        o->load_window_s = field_or_nan(&t, t.nrows - 1, "window_s");
        o->connections = field_or_nan(&t, t.nrows - 1, "connections");
        o->clients_answered = field_or_nan(&t, t.nrows - 1, "clients_answered");
        o->workload_cpu_us = field_or_nan(&t, t.nrows - 1, "server_cpu_time_us");
        o->load_epoch_s = field_or_nan(&t, t.nrows - 1, "window_epoch_s");
        o->load_warmup_s = field_or_nan(&t, t.nrows - 1, "warmup_s");
        /* `overlap merge`'s own column: an agent at its limit */
        o->agents_bound = strstr(csv_get(&t, t.nrows - 1, "flags"), "generator-bound") != NULL;
    }
    csv_free(&t);
    o->throughput = atof(o->load[BENCH__THROUGHPUT]);
    o->p99_ms = atof(o->load[BENCH__P99]);
    return status;
}

struct bench__trend bench__read_trend(const char *path, double window_s)
{
    struct csv_table t;
    struct bench__trend trend = {0, 0, NAN};
    int rows =
        csv_load(path, &t) < 0 || csv_col(&t, "time_s") < 0 || csv_col(&t, "throughput_rps") < 0
            ? 0
            : t.nrows;
    double *time = rows ? malloc(2 * (size_t)rows * sizeof(double)) : NULL;
    if (time) {
        double *rps = time + rows;
        int n = 0;
        for (int i = 0; i < rows; i++) {
            time[n] = field_or_nan(&t, i, "time_s");
            rps[n] = field_or_nan(&t, i, "throughput_rps");
            n += !(time[n] > window_s + TREND_SLACK_S); /* a NAN stays, to be refused */
        }
        trend = bench__fit_trend(time, rps, n);
    }
    free(time);
    csv_free(&t);
    return trend;
}

/* CSV fields never hold commas or quotes of our making; a reason might. */
static void csv_clean(char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            *s = ';';
}

/* A number, or an empty field for one the run does not define. */
static size_t put_number(char *out, size_t len, double v, int decimals)
{
    int n = isfinite(v) ? snprintf(out, len, ",%.*f", decimals, v) : snprintf(out, len, ",");
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* The server's CPU over the sampled window per request answered in it: the
 * requests are the generator's answer rate times the sampled window, since
 * an open loop's window stretches to its last answer past the sampled one
 * (in a closed loop the two windows agree, and this is CPU / requests). NAN
 * when no CPU tick or no answer was seen: the figure is not measured. */
static double cpu_per_request_us(const struct bench__outcome *o)
{
    double cpu = o->cpu_user_s + o->cpu_sys_s, requests = atof(o->load[BENCH__REQUESTS]);
    double answered = o->load_window_s > 0 ? requests / o->load_window_s * o->window_s : requests;
    return cpu > 0 && answered > 0 ? cpu / answered * 1e6 : NAN;
}

/* The database columns: which (overlap, postgres, or external: a DSN's
 * server), the config's connection budget (on overlap db only when the
 * suite names one), and on PostgreSQL the window's counters. */
static size_t write_database(const struct bench__sweep *sw, const struct bench__run *r,
                             const struct bench__outcome *o, char *out, size_t len)
{
    const struct bench_suite *s = &sw->suite;
    const struct bench_engine *e = &s->engines[r->engine];
    int ok = !strcmp(o->status, "ok"), named = e->db_connections > 0 || s->db_connections > 0;
    const char *which = !s->database[0]                    ? "overlap"
                        : !strcmp(s->database, "postgres") ? "postgres"
                                                           : "external";
    int n = snprintf(out, len, ",%s", which);
    size_t used = n > 0 && (size_t)n < len ? (size_t)n : 0;
    used += put_number(out + used, len - used,
                       s->database[0] || named ? bench__db_budget(s, e) : NAN, 0);
    used += put_number(out + used, len - used, ok ? o->db_backends : NAN, 0);
    used += put_number(out + used, len - used, ok ? o->db_calls : NAN, 0);
    used += put_number(out + used, len - used, ok ? bench__db_expected_calls(&o->checks) : NAN, 1);
    return used;
}

/* The columns added after the first schema, at the row's end: the repeat,
 * the window, the checks, where the CPU went, the database and the label. A failed run has only the
 * first two, a timeline no CPU per request (its few requests fall between
 * two ticks of the CPU clock). */
static void write_checks(const struct bench__sweep *sw, const struct bench__run *r,
                         const struct bench__outcome *o, char *out, size_t len)
{
    char words[128];
    int ok = !strcmp(o->status, "ok");
    double cpu_us = ok && r->kind != BENCH__TIMELINE ? cpu_per_request_us(o) : NAN;
    size_t n = (size_t)snprintf(out, len, ",%d,%d", r->repeat, o->attempts);
    n += put_number(out + n, len - n, ok ? o->load_window_s : NAN, 3);
    n += put_number(out + n, len - n, ok ? bench__littles_ratio(&o->checks) : NAN, 4);
    n += put_number(out + n, len - n, ok ? o->checks.load_cpu_util : NAN, 4);
    n += put_number(out + n, len - n, cpu_us, 3);
    /* each core gives 1e6 us of CPU a second: what the cores hold at this cost */
    n += put_number(out + n, len - n, cpu_us > 0 ? sw->plan.ncores * 1e6 / cpu_us : NAN, 1);
    n += put_number(out + n, len - n, ok ? 100 * o->checks.trend.change : NAN, 2);
    bench__flag_words(ok ? o->flags : 0, words, sizeof(words));
    n += (size_t)snprintf(out + n, len - n, ",%s", words);
    /* where the CPU went: the workload's own steps, and the rest (engine,
     * kernel, interference), when the server reports its steps' CPU time */
    double workload = ok && cpu_us > 0 ? o->workload_cpu_us : NAN;
    n += put_number(out + n, len - n, workload, 3);
    n += put_number(out + n, len - n, workload >= 0 ? cpu_us - workload : NAN, 3);
    n += write_database(sw, r, o, out + n, len - n);
    /* what a reader calls the config, beside its spec (bench_suite_label_configs) */
    snprintf(out + n, len - n, ",%s\n", sw->suite.labels[r->engine]);
}

void bench__write_row(const struct bench__sweep *sw, int id, struct bench__outcome *o)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char row[ROW_MAX], loads[1024] = "", checks[512], path[PATH_MAX + 16];
    size_t n = 0;
    for (int i = 0; i < BENCH__NLOAD; i++)
        n += snprintf(loads + n, sizeof(loads) - n, "%s%s", i ? "," : "", o->load[i]);
    const struct bench_engine *e = &sw->suite.engines[r->engine];
    double bound = bench__run_bound(&sw->plan, r), ceiling = bench__config_bound(&sw->plan, e, 0);
    double eff = bound > 0 && o->throughput > 0 ? o->throughput / bound : 0;
    double w = o->window_s > 0 ? o->window_s : 1;
    /* a workload with no CPU step on an engine with no worker limit has no
     * ceiling (1e300), its runs only their clients' or rate's bound; a
     * figure that is not there is an empty cell */
    char bounds[96];
    if (!(bound < 1e299))
        snprintf(bounds, sizeof(bounds), ",,");
    else if (!(ceiling < 1e299))
        snprintf(bounds, sizeof(bounds), "%.1f,,%.4f", bound, eff);
    else
        snprintf(bounds, sizeof(bounds), "%.1f,%.1f,%.4f", bound, ceiling, eff);
    csv_clean(o->reason);
    write_checks(sw, r, o, checks, sizeof(checks));
    snprintf(row, sizeof(row),
             "%d,%s,%s,%s,%s,%d,%.3f,%s,%s,%s,%.4f,%.4f,%s,%.3f,%.3f,%.3f,%ld,%ld,"
             "%ld,%.1f,%.1f%s",
             id, sw->suite.name, sw->wl->name, e->spec, bench__loop_name(r->kind),
             bench__offers_rate(r->kind) ? 0 : r->clients, r->rate, o->status, o->reason, loads,
             wl_mean_cpu_ns(sw->plan.wl) / 1e6, wl_mean_wait_ns(sw->plan.wl) / 1e6, bounds,
             o->cpu_user_s, o->cpu_sys_s, (o->cpu_user_s + o->cpu_sys_s) / w, o->peak_rss_kib,
             o->threads, o->fds, o->vol_ctxsw / w, o->invol_ctxsw / w, checks);
    snprintf(path, sizeof(path), "%s/runs.csv", sw->dir);
    if (append_atomic(path, row) < 0)
        fprintf(stderr, "overlap bench: cannot append to %s: %s\n", path, strerror(errno));
}

/* Copies a per-run CSV into the sweep's file, each row prefixed with the run;
 * the header goes in once, when the sweep's file is new. */
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
    if (!mem) {
        fclose(f);
        return;
    }
    struct stat st;
    int fresh = stat(to, &st) < 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strchr(line, '\n'))
            continue; /* longer than any row we write: not ours */
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
    if (len > 0)
        append_atomic(to, all);
    free(all);
}

void bench__merge_run(const struct bench__sweep *sw, int id)
{
    const struct bench__run *r = &sw->plan.runs[id - 1];
    char prefix[256], from[PATH_MAX + 32], to[PATH_MAX + 16];
    snprintf(prefix, sizeof(prefix), "%d,%s,%s,%d,%.3f", id, sw->suite.engines[r->engine].spec,
             bench__loop_name(r->kind), bench__offers_rate(r->kind) ? 0 : r->clients, r->rate);
    bench__run_path(sw, "runs", id, "latency.csv", from, sizeof(from));
    snprintf(to, sizeof(to), "%s/latency.csv", sw->dir);
    merge_csv(from, to, "run,engine,loop,clients,rate", prefix);
    /* per request type, with the repeat: the report takes medians over them */
    char with_repeat[300];
    snprintf(with_repeat, sizeof(with_repeat), "%s,%d", prefix, r->repeat);
    bench__run_path(sw, "runs", id, "requests.csv", from, sizeof(from));
    snprintf(to, sizeof(to), "%s/requests.csv", sw->dir);
    merge_csv(from, to, "run,engine,loop,clients,rate,repeat", with_repeat);
    if (r->kind == BENCH__TIMELINE) {
        bench__run_path(sw, "runs", id, "timeline.csv", from, sizeof(from));
        snprintf(to, sizeof(to), "%s/timeline.csv", sw->dir);
        merge_csv(from, to, "run,engine,loop,clients,rate", prefix);
    }
}
