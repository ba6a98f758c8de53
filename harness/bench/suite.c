/* Suites and engine specs: what `overlap bench` runs, from an INI file under
 * harness/suites/ and flags over it. Parsing only; nothing here starts a
 * process. Errors read `FILE:LINE: what is wrong (what was expected)`. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <arpa/inet.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "wl.h"

#define LIST_TEXT 2048 /* a list key's text, continuation lines included */
/* BatchMode: a host that would ask for a password fails its agent at once
 * instead of waiting for an answer nobody types */
#define DEFAULT_LAUNCHER "ssh -o BatchMode=yes {host} {command}"
#define DEFAULT_LEAD_NS  2000000000ULL /* the launcher's start and the agents' connects */

void bench_suite_defaults(struct bench_suite *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "custom");
    s->duration_ns = 2000000000ULL;
    s->warmup_ns = 500000000ULL;
    s->repeats = 1;
    s->timeline = 8;
    s->load_threads = 1;
    snprintf(s->launcher, sizeof(s->launcher), "%s", DEFAULT_LAUNCHER);
    snprintf(s->server_address, sizeof(s->server_address), "127.0.0.1");
    s->launch_lead_ns = DEFAULT_LEAD_NS;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        snprintf(s->server_cpus, sizeof(s->server_cpus), "0");
        snprintf(s->load_cpus, sizeof(s->load_cpus), "1");
    }
}

static int parse_engines(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    char buf[LIST_TEXT], *save;
    snprintf(buf, sizeof(buf), "%s", text);
    s->nengines = 0;
    for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (s->nengines == BENCH_MAX_ENGINES) {
            snprintf(err, errlen, "more than %d engine configs", BENCH_MAX_ENGINES);
            return -1;
        }
        struct bench_engine *e = &s->engines[s->nengines];
        if (bench_parse_engine(w, e, err, errlen) < 0)
            return -1;
        for (int i = 0; i < s->nengines; i++) {
            if (!strcmp(s->engines[i].spec, e->spec)) {
                snprintf(err, errlen, "engine '%s' listed twice (expected each config once)",
                         e->spec);
                return -1;
            }
        }
        s->nengines++;
    }
    if (s->nengines == 0) {
        snprintf(err, errlen, "no engine configs (expected e.g. pool:workers=64 async)");
        return -1;
    }
    return 0;
}

/* `labels = pool of 64 threads; event loop`: one per config of engines, in
 * its order, separated by ';' (a label holds commas no more than a CSV
 * field does); an empty one or `-` keeps the config's default. */
static int parse_labels(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    s->nlabels = 0;
    for (const char *p = text;; p++) {
        size_t n = strcspn(p, ";");
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        char *label = s->labels[s->nlabels];
        if (s->nlabels == BENCH_MAX_ENGINES || n >= BENCH_LABEL_LEN) {
            snprintf(err, errlen, "labels: more than %d, or one of %d characters or more",
                     BENCH_MAX_ENGINES, BENCH_LABEL_LEN);
            return -1;
        }
        snprintf(label, BENCH_LABEL_LEN, "%.*s", (int)n, p);
        if (!strcmp(label, "-"))
            label[0] = '\0';
        if (label[0] && !bench_label_valid(label)) {
            snprintf(err, errlen,
                     "labels: bad label '%s' (expected printable text without a comma, quote "
                     "or backslash; labels are separated by ';')",
                     label);
            return -1;
        }
        s->nlabels++;
        p += strcspn(p, ";");
        if (!*p)
            return 0;
    }
}

int bench_suite_label_configs(struct bench_suite *s, char *err, size_t errlen)
{
    const char *specs[BENCH_MAX_ENGINES];
    if (s->nlabels > s->nengines) {
        snprintf(err, errlen,
                 "%d labels for %d configs (expected one per config of engines, "
                 "in its order)",
                 s->nlabels, s->nengines);
        return -1;
    }
    for (int i = 0; i < s->nengines; i++) {
        specs[i] = s->engines[i].spec;
        if (i >= s->nlabels || !s->labels[i][0])
            bench_config_label(&s->engines[i], s->labels[i], BENCH_LABEL_LEN);
    }
    bench_labels_distinct(s->labels, specs, s->nengines);
    s->nlabels = s->nengines;
    return 0;
}

/* ---- lists, durations and counts ---- */

/* Numbers separated by spaces or commas, each in (0, max] (whole when
 * integers); "none" is the empty list. Returns the count, or -1. */
static int parse_list(const char *text, double *out, double max, int integers)
{
    char buf[LIST_TEXT], *end, *save;
    int n = 0;
    if (strlen(text) >= sizeof(buf))
        return -1;
    snprintf(buf, sizeof(buf), "%s", text);
    char *first = strtok_r(buf, " ,\t", &save);
    if (first && !strcmp(first, "none"))
        return strtok_r(NULL, " ,\t", &save) ? -1 : 0;
    for (char *w = first; w; w = strtok_r(NULL, " ,\t", &save)) {
        double v = strtod(w, &end);
        if (end == w || *end || !isfinite(v) || !(v > 0) || v > max || n == BENCH_MAX_POINTS ||
            (integers && v != floor(v)))
            return -1;
        out[n++] = v;
    }
    return n > 0 ? n : -1;
}

static int parse_clients(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    double v[BENCH_MAX_POINTS];
    int n = parse_list(text, v, BENCH_MAX_CLIENTS, 1);
    if (n < 0) {
        snprintf(err, errlen,
                 "bad client list '%.200s' (expected up to %d whole numbers from 1 to %d, or none)",
                 text, BENCH_MAX_POINTS, BENCH_MAX_CLIENTS);
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
    int n = parse_list(text, s->rates, BENCH_MAX_RATE, 0);
    if (n < 0) {
        snprintf(err, errlen,
                 "bad rate list '%.200s' (expected up to %d rates in req/s, auto, or none)", text,
                 BENCH_MAX_POINTS);
        return -1;
    }
    s->auto_rates = 0;
    s->nrates = n;
    return 0;
}

static int parse_fractions(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    int n = parse_list(text, s->fractions, 100, 0);
    if (n <= 0) {
        snprintf(err, errlen,
                 "bad auto_fractions '%.200s' (expected up to %d fractions of the bound, e.g. "
                 "0.5 1.0 1.2)",
                 text, BENCH_MAX_POINTS);
        return -1;
    }
    s->nfractions = n;
    return 0;
}

static int parse_duration(const char *key, const char *text, uint64_t *ns, char *err, size_t errlen)
{
    uint64_t v;
    if (wl_duration_parse(text, &v) < 0 || v > 3600ULL * 1000000000ULL ||
        (v == 0 && (!strcmp(key, "duration") || !strcmp(key, "launch_lead")))) {
        snprintf(err, errlen, "bad %s '%.200s' (expected e.g. 500ms or 2s, at most 1h)", key, text);
        return -1;
    }
    *ns = v;
    return 0;
}

static int parse_count(const char *key, const char *text, int lo, int hi, int *out, char *err,
                       size_t errlen)
{
    if (wl_count_parse(text, lo, hi, out) < 0) {
        snprintf(err, errlen, "bad %s '%.200s' (expected a whole number from %d to %d)", key, text,
                 lo, hi);
        return -1;
    }
    return 0;
}

static int set_cpus(char *dst, size_t len, const char *key, const char *text, char *err,
                    size_t errlen)
{
    if (strlen(text) >= len || proc_count_cpus(text) < 0) {
        snprintf(err, errlen, "bad %s '%.200s' (expected a CPU list such as 0, 0-1 or 0,2)", key,
                 text);
        return -1;
    }
    snprintf(dst, len, "%s", text);
    return 0;
}

/* `p99 100ms` (capacity.h's grammar), or `none` to search no capacity (a
 * flag over a suite that has one). */
static int parse_slo(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    if (!strcmp(text, "none")) {
        s->has_slo = 0;
        return 0;
    }
    if (capacity_goal_parse(text, &s->slo, err, errlen) < 0)
        return -1;
    s->has_slo = 1;
    return 0;
}

/* `2%` or `0.02`: the capacity search's bracket, from 0.1 % to 50 %. */
static int parse_tolerance(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end != text && *end == '%' && end[1] == '\0') {
        v /= 100;
        end++;
    }
    if (end == text || *end || errno || !(v >= 0.001 && v <= 0.5)) {
        snprintf(err, errlen,
                 "bad capacity_tolerance '%.200s' (expected 0.1%% to 50%%, e.g. 2%% or 0.05)",
                 text);
        return -1;
    }
    s->tolerance = v;
    return 0;
}

/* A map axis: durations separated by spaces or commas, ascending, each in
 * (0, 1h], or `none` for the workload's own value. */
static int parse_vary(const char *key, const char *text, uint64_t *out, int *n, char *err,
                      size_t errlen)
{
    char buf[LIST_TEXT], *save;
    int k = 0;
    if (strlen(text) >= sizeof(buf))
        goto bad;
    snprintf(buf, sizeof(buf), "%s", text);
    char *first = strtok_r(buf, " ,\t", &save);
    if (first && !strcmp(first, "none") && !strtok_r(NULL, " ,\t", &save)) {
        *n = 0;
        return 0;
    }
    for (char *w = first; w; w = strtok_r(NULL, " ,\t", &save)) {
        uint64_t v;
        if (k == BENCH_MAX_VARY || wl_duration_parse(w, &v) < 0 || v == 0 ||
            v > 3600ULL * 1000000000ULL || (k > 0 && v <= out[k - 1]))
            goto bad;
        out[k++] = v;
    }
    if (k == 0)
        goto bad;
    *n = k;
    return 0;
bad:
    snprintf(err, errlen,
             "bad %s '%.200s' (expected up to %d ascending durations such as 100us 1ms 10ms, "
             "or none)",
             key, text, BENCH_MAX_VARY);
    return -1;
}

/* `overlap` (or empty), `postgres`, or a PostgreSQL DSN: a URI
 * (postgresql:// or postgres://) or a key=value connection string. Whether
 * it answers is asked before any run (bench_pg.c), not here. */
static int parse_database(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    int uri = !strncmp(text, "postgresql://", 13) || !strncmp(text, "postgres://", 11);
    int keywords = strchr(text, '=') != NULL && !strpbrk(text, "\n\r");
    if (strlen(text) >= sizeof(s->database) ||
        (strcmp(text, "overlap") != 0 && strcmp(text, "postgres") != 0 && !uri && !keywords)) {
        snprintf(err, errlen,
                 "bad database '%.200s' (expected overlap, postgres, or a PostgreSQL DSN such "
                 "as postgresql://bench@:5432/postgres?host=/tmp)",
                 text);
        return -1;
    }
    snprintf(s->database, sizeof(s->database), "%s", strcmp(text, "overlap") ? text : "");
    return 0;
}

/* `load_hosts = a b`: names as the launcher takes them (a host, user@host,
 * a namespace), separated by spaces or commas; `none` for no agents. A
 * name cannot start with '-', where ssh would read an option. */
static int parse_hosts(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    char buf[LIST_TEXT], *save;
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", text);
    char *first = strtok_r(buf, " ,\t", &save);
    if (first && !strcmp(first, "none") && !strtok_r(NULL, " ,\t", &save)) {
        s->nhosts = 0;
        return 0;
    }
    for (char *w = first; w; w = strtok_r(NULL, " ,\t", &save)) {
        size_t len = strlen(w);
        if (n == BENCH_MAX_HOSTS || len >= BENCH_HOST_LEN || w[0] == '-' ||
            strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@:%[]") !=
                len)
            goto bad;
        snprintf(s->hosts[n++], BENCH_HOST_LEN, "%s", w);
    }
    if (n == 0)
        goto bad;
    s->nhosts = n;
    return 0;
bad:
    snprintf(err, errlen,
             "bad load_hosts '%.200s' (expected up to %d host names separated by spaces, such "
             "as load1 bench@load2, or none)",
             text, BENCH_MAX_HOSTS);
    return -1;
}

static int parse_launcher(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    char line[BENCH_LAUNCH_LEN * 2], why[BENCH_ERR_LEN];
    if (strlen(text) >= sizeof(s->launcher)) {
        snprintf(err, errlen, "launcher is over %zu characters", sizeof(s->launcher) - 1);
        return -1;
    }
    if (bench_launcher_line(text, "h", "c", line, sizeof(line), why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s%s", strncmp(why, "bad launcher", 12) ? "launcher: " : "", why);
        return -1;
    }
    snprintf(s->launcher, sizeof(s->launcher), "%s", text);
    return 0;
}

static int parse_address(struct bench_suite *s, const char *text, char *err, size_t errlen)
{
    struct in_addr a;
    if (strlen(text) >= sizeof(s->server_address) || inet_pton(AF_INET, text, &a) != 1) {
        snprintf(err, errlen,
                 "bad server_address '%.200s' (expected an IPv4 address of this machine that "
                 "the load hosts reach, such as 10.0.0.1)",
                 text);
        return -1;
    }
    snprintf(s->server_address, sizeof(s->server_address), "%s", text);
    return 0;
}

int bench_suite_set(struct bench_suite *s, const char *key, const char *value, char *err,
                    size_t errlen)
{
    if (!strcmp(key, "name")) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof(s->name) ||
            strspn(value, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_.") != n) {
            snprintf(err, errlen,
                     "bad name '%.200s' (expected up to %zu letters, digits, '-', "
                     "'_' or '.'; it names the results folder)",
                     value, sizeof(s->name) - 1);
            return -1;
        }
        snprintf(s->name, sizeof(s->name), "%s", value);
    } else if (!strcmp(key, "workload")) {
        if (!value[0] || strlen(value) >= sizeof(s->workload)) {
            snprintf(err, errlen, "bad workload '%.200s' (expected a workload file)", value);
            return -1;
        }
        snprintf(s->workload, sizeof(s->workload), "%s", value);
    } else if (!strcmp(key, "engines")) {
        return parse_engines(s, value, err, errlen);
    } else if (!strcmp(key, "labels")) {
        return parse_labels(s, value, err, errlen);
    } else if (!strcmp(key, "clients")) {
        return parse_clients(s, value, err, errlen);
    } else if (!strcmp(key, "rates")) {
        return parse_rates(s, value, err, errlen);
    } else if (!strcmp(key, "auto_fractions")) {
        return parse_fractions(s, value, err, errlen);
    } else if (!strcmp(key, "duration")) {
        return parse_duration(key, value, &s->duration_ns, err, errlen);
    } else if (!strcmp(key, "warmup")) {
        return parse_duration(key, value, &s->warmup_ns, err, errlen);
    } else if (!strcmp(key, "repeats")) {
        return parse_count(key, value, 1, BENCH_MAX_REPEATS, &s->repeats, err, errlen);
    } else if (!strcmp(key, "timeline")) {
        return parse_count(key, value, 0, 1000, &s->timeline, err, errlen);
    } else if (!strcmp(key, "load_threads")) {
        return parse_count(key, value, 1, 256, &s->load_threads, err, errlen);
    } else if (!strcmp(key, "server_cpus")) {
        return set_cpus(s->server_cpus, sizeof(s->server_cpus), key, value, err, errlen);
    } else if (!strcmp(key, "load_cpus")) {
        return set_cpus(s->load_cpus, sizeof(s->load_cpus), key, value, err, errlen);
    } else if (!strcmp(key, "slo")) {
        return parse_slo(s, value, err, errlen);
    } else if (!strcmp(key, "capacity_tolerance")) {
        return parse_tolerance(s, value, err, errlen);
    } else if (!strcmp(key, "vary.cpu")) {
        return parse_vary(key, value, s->vary_cpu_ns, &s->nvary_cpu, err, errlen);
    } else if (!strcmp(key, "vary.wait")) {
        return parse_vary(key, value, s->vary_wait_ns, &s->nvary_wait, err, errlen);
    } else if (!strcmp(key, "database")) {
        return parse_database(s, value, err, errlen);
    } else if (!strcmp(key, "db_connections")) {
        return parse_count(key, value, 1, 10000, &s->db_connections, err, errlen);
    } else if (!strcmp(key, "load_hosts")) {
        return parse_hosts(s, value, err, errlen);
    } else if (!strcmp(key, "launcher")) {
        return parse_launcher(s, value, err, errlen);
    } else if (!strcmp(key, "server_address")) {
        return parse_address(s, value, err, errlen);
    } else if (!strcmp(key, "launch_lead")) {
        return parse_duration(key, value, &s->launch_lead_ns, err, errlen);
    } else {
        snprintf(err, errlen,
                 "unknown key '%.64s' (expected name, workload, engines, labels, clients, rates, "
                 "auto_fractions, duration, warmup, repeats, timeline, server_cpus, load_cpus, "
                 "load_threads, slo, capacity_tolerance, vary.cpu, vary.wait, database, "
                 "db_connections, load_hosts, launcher, server_address or launch_lead)",
                 key);
        return -1;
    }
    return 0;
}

/* ---- suite files ---- */

static const char *list_keys[] = {"engines",        "labels",   "clients",   "rates",
                                  "auto_fractions", "vary.cpu", "vary.wait", "load_hosts"};
#define NLIST (int)(sizeof(list_keys) / sizeof(list_keys[0]))

struct suite_reader {
    struct bench_suite *s;
    const char *path;
    char err[BENCH_ERR_LEN];
    char lists[NLIST][LIST_TEXT]; /* a list may continue on indented lines */
    char last_key[64];            /* a scalar key seen twice is a mistake */
    char seen[32][64];
    int nseen;
};

/* A list key's text so far, with this line's appended (a continuation line
 * arrives as the same key again). */
static const char *append_list(struct suite_reader *r, const char *key, const char *value)
{
    for (int i = 0; i < NLIST; i++) {
        if (strcmp(key, list_keys[i]) != 0)
            continue;
        size_t len = strlen(r->lists[i]);
        if (len + strlen(value) + 2 > LIST_TEXT)
            return NULL;
        snprintf(r->lists[i] + len, LIST_TEXT - len, "%s%s", len ? " " : "", value);
        return r->lists[i];
    }
    return value;
}

static int seen_before(struct suite_reader *r, const char *key)
{
    for (int i = 0; i < r->nseen; i++)
        if (!strcmp(r->seen[i], key))
            return 1;
    if (r->nseen < 32)
        snprintf(r->seen[r->nseen++], sizeof(r->seen[0]), "%s", key);
    return 0;
}

/* Removes `.` and `dir/..` from a path, by its text alone (no symlinks are
 * followed), so meta.txt names `workloads/seed.ini`, not
 * `harness/suites/../../workloads/seed.ini`. */
static void tidy_path(char *path)
{
    char *parts[512];
    int n = 0, absolute = path[0] == '/';
    char *save, copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    for (char *p = strtok_r(copy, "/", &save); p && n < 512; p = strtok_r(NULL, "/", &save)) {
        if (!strcmp(p, "."))
            continue;
        if (!strcmp(p, "..") && n > 0 && strcmp(parts[n - 1], "..") != 0)
            n--;
        else if (strcmp(p, "..") != 0 || !absolute)
            parts[n++] = p;
    }
    size_t at = 0, len = strlen(path) + 1;
    path[0] = '\0';
    if (absolute)
        at += snprintf(path, len, "/");
    for (int i = 0; i < n && at < len; i++)
        at += snprintf(path + at, len - at, "%s%s", i ? "/" : "", parts[i]);
    if (!path[0])
        snprintf(path, len, ".");
}

/* A relative workload path in a suite file is relative to the suite file, as
 * a workload's own `init` script is relative to the workload. */
static void resolve_workload(struct suite_reader *r, const char *value, char *out, size_t len)
{
    const char *slash = strrchr(r->path, '/');
    if (value[0] == '/' || !slash)
        snprintf(out, len, "%s", value);
    else
        snprintf(out, len, "%.*s/%s", (int)(slash - r->path), r->path, value);
    tidy_path(out);
}

static int on_suite_key(void *user, const char *section, const char *key, const char *value)
{
    struct suite_reader *r = user;
    char path[4096];
    if (strcmp(section, "suite") != 0) {
        snprintf(r->err, sizeof(r->err), "unknown section [%.64s] (expected [suite])", section);
        return 0;
    }
    const char *text = append_list(r, key, value);
    if (!text) {
        snprintf(r->err, sizeof(r->err), "%s is too long (expected under %d characters)", key,
                 LIST_TEXT);
        return 0;
    }
    if (text == value && seen_before(r, key)) {
        snprintf(r->err, sizeof(r->err), "%.64s given twice (expected each key once)", key);
        return 0;
    }
    if (!strcmp(key, "workload")) {
        resolve_workload(r, value, path, sizeof(path));
        text = path;
    }
    return bench_suite_set(r->s, key, text, r->err, sizeof(r->err)) == 0;
}

int bench_suite_load(const char *path, struct bench_suite *s, char *err, size_t errlen)
{
    struct suite_reader r = {.s = s, .path = path};
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read suite (%s)", path, strerror(errno));
        return -1;
    }
    int line = ini_parse_file(f, on_suite_key, &r);
    fclose(f);
    if (line < 0) {
        snprintf(err, errlen, "%s: cannot read suite (out of memory)", path);
        return -1;
    }
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line,
                 r.err[0] ? r.err : "cannot parse this line (expected key = value or [suite])");
        return -1;
    }
    return 0;
}
