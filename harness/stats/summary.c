/* runs.csv grouped into points, and summary.csv: see summary.h. Rows are
 * read through the harness's one CSV reader; this file adds what a reader of
 * results needs beyond it: every number checked, points keyed, the repeats'
 * values laid out per point for the statistics in stats.c. */
#define _GNU_SOURCE
#include "summary.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "model.h"
#include "stats.h"

/* The values kept per repeat, each in its own slice of set->values. */
enum { V_THROUGHPUT, V_P99, V_CPU, V_LITTLES, NVALUES };

/* The longest union of flags a point keeps. The vocabulary is a handful of
 * short words; a longer union is not a sweep's, and capping it keeps the
 * duplicate check cheap on any input. */
#define SUMMARY_FLAGS_MAX 256

/* A half-width above this fraction of the mean makes a point `noisy`. */
#define SUMMARY_NOISY 0.10

static const char *const required_columns[] = {
    "engine", "loop", "clients", "rate", "status", "throughput_rps", "p99_ms",
};
#define NREQUIRED (sizeof(required_columns) / sizeof(required_columns[0]))

/* Row r's field name as a finite number in *v: 0; 1 when empty or absent
 * (*v = NAN); -EINVAL, with the message in err, when it is no number. The
 * line is r + 2 (the header is line 1; overlap writes no blank lines). */
static int field_number(const char *path, const struct csv_table *t, int r, const char *name,
                        double *v, char *err, size_t errlen)
{
    const char *s = csv_get(t, r, name);
    char *end;
    *v = NAN;
    if (!*s)
        return 1;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x)) {
        snprintf(err, errlen, "%s:%d: %s '%s' is not a number", path, r + 2, name, s);
        return -EINVAL;
    }
    *v = x;
    return 0;
}

/* The same for a field that must hold a number. */
static int need_number(const char *path, const struct csv_table *t, int r, const char *name,
                       double *v, char *err, size_t errlen)
{
    int rc = field_number(path, t, r, name, v, err, errlen);
    if (rc == 1)
        snprintf(err, errlen, "%s:%d: %s is empty (a number expected)", path, r + 2, name);
    return rc == 1 ? -EINVAL : rc;
}

/* An ok row's values. CPU per request and Little's ratio come from their
 * own columns when the sweep wrote them, else from the older columns they
 * are made of; they stay NAN when neither is there. */
static int read_run(const char *path, const struct csv_table *t, int r, double clients,
                    double v[NVALUES], char *err, size_t errlen)
{
    double user, sys, requests, mean_ms;
    if (need_number(path, t, r, "throughput_rps", &v[V_THROUGHPUT], err, errlen) < 0 ||
        need_number(path, t, r, "p99_ms", &v[V_P99], err, errlen) < 0 ||
        field_number(path, t, r, "cpu_per_request_us", &v[V_CPU], err, errlen) < 0 ||
        field_number(path, t, r, "littles_ratio", &v[V_LITTLES], err, errlen) < 0 ||
        field_number(path, t, r, "cpu_user_s", &user, err, errlen) < 0 ||
        field_number(path, t, r, "cpu_sys_s", &sys, err, errlen) < 0 ||
        field_number(path, t, r, "requests", &requests, err, errlen) < 0 ||
        field_number(path, t, r, "mean_ms", &mean_ms, err, errlen) < 0)
        return -EINVAL;
    if (isnan(v[V_CPU]) && requests > 0)
        v[V_CPU] = (user + sys) / requests * 1e6;
    /* Little's law: a closed loop keeps `clients` requests in the system,
     * so throughput x mean response time over clients should read 1. */
    if (isnan(v[V_LITTLES]) && !strcmp(csv_get(t, r, "loop"), "closed") && clients > 0)
        v[V_LITTLES] = v[V_THROUGHPUT] * mean_ms / 1000 / clients;
    return 0;
}

int summary_find(const struct summary_set *set, const char *engine, const char *loop,
                 double clients, double rate)
{
    for (int i = 0; i < set->npoints; i++) {
        const struct summary_point *p = &set->points[i];
        if (p->clients_n == clients && p->rate_n == rate && !strcmp(p->loop, loop) &&
            !strcmp(p->engine, engine))
            return i;
    }
    return -1;
}

/* The point of row r, added if new; its index, or -ENOMEM. */
static int point_of_row(struct summary_set *set, int r, double clients, double rate, int *cap)
{
    const struct csv_table *t = &set->table;
    const char *engine = csv_get(t, r, "engine"), *loop = csv_get(t, r, "loop");
    int i = summary_find(set, engine, loop, clients, rate);
    if (i >= 0)
        return i;
    if (set->npoints == *cap) {
        int grown_cap = *cap ? 2 * *cap : 16;
        void *grown = realloc(set->points, (size_t)grown_cap * sizeof(*set->points));
        if (!grown)
            return -ENOMEM;
        set->points = grown;
        *cap = grown_cap;
    }
    set->points[set->npoints] = (struct summary_point){
        .engine = engine,
        .label = csv_get(t, r, "label"),
        .loop = loop,
        .clients = csv_get(t, r, "clients"),
        .rate = csv_get(t, r, "rate"),
        .clients_n = clients,
        .rate_n = rate,
    };
    return set->npoints++;
}

/* Checks and keys every row: point[r] is row r's point, values[r] its
 * values when it is ok. Counts each point's repeats and failures. */
static int group_rows(const char *path, struct summary_set *set, int *point,
                      double (*values)[NVALUES], char *err, size_t errlen)
{
    const struct csv_table *t = &set->table;
    int cap = 0;
    for (int r = 0; r < t->nrows; r++) {
        double clients, rate;
        /* a map probe's point is its cell's, in map.csv, and an idle run's
         * figures are its search's, in capacity.csv or map.csv: none here */
        point[r] = -1;
        if (!strcmp(csv_get(t, r, "loop"), "map") || !strcmp(csv_get(t, r, "loop"), "idle"))
            continue;
        if (need_number(path, t, r, "clients", &clients, err, errlen) < 0 ||
            need_number(path, t, r, "rate", &rate, err, errlen) < 0)
            return -EINVAL;
        int ok = !strcmp(csv_get(t, r, "status"), "ok");
        if (ok && read_run(path, t, r, clients, values[r], err, errlen) < 0)
            return -EINVAL;
        if ((point[r] = point_of_row(set, r, clients, rate, &cap)) < 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -ENOMEM;
        }
        if (ok)
            set->points[point[r]].repeats++;
        else
            set->points[point[r]].failed++;
    }
    return 0;
}

/* Lays the ok rows' values out per point, in the order the repeats ran:
 * one block of NVALUES slices of nok values, each point a run of its
 * repeats in every slice. */
static int lay_out_values(struct summary_set *set, const int *point, double (*values)[NVALUES])
{
    int nok = 0;
    for (int i = 0; i < set->npoints; i++)
        nok += set->points[i].repeats;
    set->values = malloc(((size_t)nok * NVALUES + 1) * sizeof(double));
    int *next = malloc(((size_t)set->npoints + 1) * sizeof(int)); /* each point's next slot */
    if (!set->values || !next) {
        free(next);
        return -ENOMEM;
    }
    for (int i = 0, first = 0; i < set->npoints; first += set->points[i++].repeats) {
        struct summary_point *p = &set->points[i];
        next[i] = first;
        p->throughput = set->values + (size_t)V_THROUGHPUT * nok + first;
        p->p99 = set->values + (size_t)V_P99 * nok + first;
        p->cpu_us = set->values + (size_t)V_CPU * nok + first;
        p->littles = set->values + (size_t)V_LITTLES * nok + first;
    }
    for (int r = 0; r < set->table.nrows; r++) {
        if (point[r] < 0 || strcmp(csv_get(&set->table, r, "status"), "ok") != 0)
            continue;
        int slot = next[point[r]]++;
        for (int v = 0; v < NVALUES; v++)
            set->values[(size_t)v * nok + slot] = values[r][v];
    }
    free(next);
    return 0;
}

/* Whether the ';'-separated set holds word (len bytes). */
static int has_word(const char *set, const char *word, size_t len)
{
    for (const char *s = set; s && *s;) {
        size_t n = strcspn(s, ";");
        if (n == len && !memcmp(s, word, len))
            return 1;
        s += n + (s[n] == ';');
    }
    return 0;
}

/* Adds word (len bytes) to the set *flags unless present or the set is
 * full. 0 or -ENOMEM. */
static int add_word(char **flags, const char *word, size_t len)
{
    size_t used = *flags ? strlen(*flags) : 0;
    if (!len || used + len + 1 > SUMMARY_FLAGS_MAX || has_word(*flags, word, len))
        return 0;
    char *grown = realloc(*flags, used + len + 2);
    if (!grown)
        return -ENOMEM;
    if (used)
        grown[used++] = ';';
    memcpy(grown + used, word, len);
    grown[used + len] = '\0';
    *flags = grown;
    return 0;
}

/* Every row's flags into its point's union, failed rows' too: a flag says
 * something about the point whether or not the run counted. */
static int gather_flags(struct summary_set *set, const int *point)
{
    for (int r = 0; r < set->table.nrows; r++) {
        const char *s = point[r] < 0 ? "" : csv_get(&set->table, r, "flags");
        while (*s) {
            size_t n = strcspn(s, ";");
            if (add_word(&set->points[point[r]].flags, s, n) < 0)
                return -ENOMEM;
            s += n + (s[n] == ';');
        }
    }
    return 0;
}

static int check_columns(const char *path, const struct csv_table *t, char *err, size_t errlen)
{
    for (size_t i = 0; i < NREQUIRED; i++)
        if (csv_col(t, required_columns[i]) < 0) {
            snprintf(err, errlen,
                     "%s:1: no column %s (a runs.csv needs engine, loop, clients, rate, status, "
                     "throughput_rps and p99_ms)",
                     path, required_columns[i]);
            return -EINVAL;
        }
    return 0;
}

int summary_read(const char *path, struct summary_set *set, char *err, size_t errlen)
{
    memset(set, 0, sizeof(*set));
    int rc = csv_load(path, &set->table);
    if (rc == -EINVAL)
        snprintf(err, errlen, "%s:1: empty file (a runs.csv header expected)", path);
    else if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    if (rc < 0 || (rc = check_columns(path, &set->table, err, errlen)) < 0)
        return rc;
    set->nrows = set->table.nrows;
    size_t n = (size_t)set->nrows + 1; /* + 1: a header alone still allocates */
    int *point = malloc(n * sizeof(*point));
    double(*values)[NVALUES] = malloc(n * sizeof(*values));
    rc = point && values ? group_rows(path, set, point, values, err, errlen) : -ENOMEM;
    if (rc == 0)
        rc = lay_out_values(set, point, values);
    if (rc == 0)
        rc = gather_flags(set, point);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    free(point);
    free(values);
    return rc;
}

void summary_free(struct summary_set *set)
{
    for (int i = 0; i < set->npoints; i++)
        free(set->points[i].flags);
    free(set->points);
    free(set->values);
    csv_free(&set->table);
    memset(set, 0, sizeof(*set));
}

/* A number field, empty when the value is undefined, then sep. */
static void put_number(FILE *out, double v, int decimals, char sep)
{
    if (isfinite(v))
        fprintf(out, "%.*f", decimals, v);
    fputc(sep, out);
}

/* The mean of the defined values among x[0, n); NAN when none is. */
static double mean_defined(const double *x, int n)
{
    double sum = 0;
    int defined = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) {
            sum += x[i];
            defined++;
        }
    return defined ? sum / defined : NAN;
}

/* The throughput's mean and interval and the p99's median and interval;
 * the intervals stay NAN with fewer than 2 repeats, everything with none. */
static int point_intervals(const struct summary_point *p, struct stats_interval *tp,
                           struct stats_interval *p99)
{
    *tp = (struct stats_interval){NAN, NAN, NAN, 0, 0};
    *p99 = *tp;
    tp->estimate = stats_mean(p->throughput, p->repeats);
    if (p->repeats >= 2)
        stats_mean_interval(p->throughput, p->repeats, tp);
    if (p->repeats >= 1 && stats_median_interval(p->p99, p->repeats, p99) < 0)
        return -ENOMEM;
    if (p->repeats < 2)
        p99->lo = p99->hi = NAN;
    return 0;
}

/* A config's Universal Scalability Law fit over its closed-loop points'
 * mean throughputs, and the clients where it peaks (INFINITY when kappa
 * is 0). 0, or -EINVAL when it has fewer than three such points. */
struct usl_fit {
    struct model_usl usl;
    double n_star;
};

static int fit_config(const struct summary_set *set, const char *engine, struct usl_fit *fit)
{
    double *n = malloc(((size_t)set->npoints + 1) * 2 * sizeof(double)), *x = n + set->npoints + 1;
    int k = 0, rc;
    if (!n)
        return -ENOMEM;
    for (int i = 0; i < set->npoints; i++) {
        const struct summary_point *p = &set->points[i];
        if (p->repeats < 1 || strcmp(p->loop, "closed") || strcmp(p->engine, engine))
            continue;
        n[k] = p->clients_n;
        x[k++] = stats_mean(p->throughput, p->repeats);
    }
    rc = model_usl_fit(n, x, k, &fit->usl);
    fit->n_star = rc == 0 ? model_usl_peak(&fit->usl) : NAN;
    free(n);
    return rc;
}

/* Every point's config's fit, computed once per config: fits[i] of point
 * i, its usl.lambda NAN when the config has none. 0 or -ENOMEM. */
static int fit_configs(const struct summary_set *set, struct usl_fit *fits)
{
    for (int i = 0; i < set->npoints; i++) {
        int first = 0;
        while (strcmp(set->points[first].engine, set->points[i].engine))
            first++;
        if (first < i) {
            fits[i] = fits[first];
            continue;
        }
        int rc = fit_config(set, set->points[i].engine, &fits[i]);
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0)
            fits[i].usl.lambda = NAN;
    }
    return 0;
}

/* The fit's columns, empty for a config without one. */
static void put_fit(FILE *out, const struct usl_fit *fit)
{
    if (isnan(fit->usl.lambda)) {
        fputs(",,,", out);
        return;
    }
    put_number(out, fit->usl.sigma, 6, ',');
    put_number(out, fit->usl.kappa, 8, ',');
    put_number(out, fit->n_star, 2, ',');
}

void summary_label(const struct summary_point *p, char *out, size_t len)
{
    if (bench_label_valid(p->label))
        snprintf(out, len, "%s", p->label);
    else
        bench_spec_label(p->engine, out, len);
}

/* The point's label, then the line's end. */
static void put_label(FILE *out, const struct summary_point *p)
{
    char label[BENCH_LABEL_LEN];
    summary_label(p, label, sizeof(label));
    fprintf(out, "%s\n", label);
}

/* The point's flags: its rows', then `noisy` and `failed` of its own. */
static int point_flags(const struct summary_point *p, const struct stats_interval *tp, FILE *out)
{
    char *flags = p->flags ? strdup(p->flags) : NULL;
    if (p->flags && !flags)
        return -ENOMEM;
    int rc = 0;
    if (tp->hi - tp->estimate > SUMMARY_NOISY * fabs(tp->estimate))
        rc = add_word(&flags, "noisy", 5);
    if (rc == 0 && p->failed)
        rc = add_word(&flags, "failed", 6);
    fprintf(out, "%s,", flags ? flags : "");
    free(flags);
    return rc;
}

static int print_point(const struct summary_point *p, const struct usl_fit *fit, int cores,
                       FILE *out)
{
    struct stats_interval tp, p99;
    if (point_intervals(p, &tp, &p99) < 0)
        return -ENOMEM;
    double cpu = mean_defined(p->cpu_us, p->repeats);
    /* Each core serves 1 s of CPU per second: at cpu µs per request,
     * cores x 1e6 / cpu requests per second is all the server's CPUs hold. */
    double ceiling = cores >= 1 && cpu > 0 ? cores * 1e6 / cpu : NAN;
    fprintf(out, "%s,%s,%s,%s,%d,%d,", p->engine, p->loop, p->clients, p->rate, p->repeats,
            p->failed);
    put_number(out, tp.estimate, 3, ',');
    put_number(out, tp.lo, 3, ',');
    put_number(out, tp.hi, 3, ',');
    put_number(out, p99.estimate, 6, ',');
    put_number(out, p99.lo, 6, ',');
    put_number(out, p99.hi, 6, ',');
    put_number(out, cpu, 3, ',');
    put_number(out, ceiling, 1, ',');
    put_number(out, mean_defined(p->littles, p->repeats), 4, ',');
    if (point_flags(p, &tp, out) < 0)
        return -ENOMEM;
    put_fit(out, fit);
    put_label(out, p);
    return 0;
}

int summary_print(const struct summary_set *set, int cores, FILE *out)
{
    struct usl_fit *fits = calloc((size_t)set->npoints + 1, sizeof(*fits));
    int rc = fits ? fit_configs(set, fits) : -ENOMEM;
    fputs("engine,loop,clients,rate,repeats,failed,throughput_mean,throughput_lo,throughput_hi,"
          "p99_median,p99_lo,p99_hi,cpu_per_request_us,ceiling_measured_rps,littles_ratio,"
          "flags,usl_sigma,usl_kappa,usl_n_star,label\n",
          out);
    for (int i = 0; rc == 0 && i < set->npoints; i++)
        rc = print_point(&set->points[i], &fits[i], cores, out);
    free(fits);
    return rc;
}

/* set as dir/summary.csv through a temporary file in dir, renamed over it. */
static int write_atomic(const char *dir, const struct summary_set *set, int cores, char *err,
                        size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/summary.csv", dir) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/.summary.csv.%d", dir, (int)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        goto out;
    }
    rc = summary_print(set, cores, f);
    if (fflush(f) != 0 || ferror(f))
        rc = rc < 0 ? rc : -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
out:
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}

int summary_write(const char *dir, int cores, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct summary_set set;
    if (snprintf(path, sizeof(path), "%s/runs.csv", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    int rc = summary_read(path, &set, err, errlen);
    if (rc == 0)
        rc = write_atomic(dir, &set, cores, err, errlen);
    summary_free(&set);
    return rc;
}
