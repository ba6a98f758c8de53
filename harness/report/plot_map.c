/* The crossover map: map.csv (each config's capacity at the sweep's goal in
 * every cell of a CPU x wait grid) read into its grid, each cell's best
 * event loop against its best pool, and the tables and variables that
 * plots/map.gp draws from (plots/README.md, "The crossover map"). */
#define _GNU_SOURCE
#include "plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "plot_internal.h"

/* The colour scale spans 2^-k to 2^k for k up to this: past 64 times, a
 * reader needs the label, not a shade. */
#define MAP_MAX_OCTAVES 6
/* Frontier samples between two neighbouring CPU columns. */
#define MAP_FRONTIER_STEPS 16

static const char *const map_columns[] = {
    "cpu_us", "wait_ms",      "engine",      "kind",        "workers",
    "cores",  "capacity_rps", "capacity_lo", "capacity_hi",
};
#define MAP_NCOLUMNS (sizeof(map_columns) / sizeof(map_columns[0]))

/* ---- reading map.csv ---- */

/* Row r's field name as a number >= min in *v; an empty field gives
 * empty_value when that is not NAN. 0, or -EINVAL with the message in err
 * (line r + 2: the header is line 1 and the sweep writes no blank line). */
static int map_number(const char *path, const struct csv_table *t, int r, const char *name,
                      double min, double empty_value, double *v, char *err, size_t errlen)
{
    const char *s = csv_get(t, r, name);
    char *end;
    if (!*s && !isnan(empty_value)) {
        *v = empty_value;
        return 0;
    }
    *v = strtod(s, &end);
    if (!*s || *end || !isfinite(*v) || *v < min) {
        snprintf(err, errlen, "%s:%d: %s '%s' is not a number (one at least %g expected)", path,
                 r + 2, name, s, min);
        return -EINVAL;
    }
    return 0;
}

/* Where v sits on the axis, adding it in increasing order; -1 when the axis
 * is full. */
static int axis_index(double *axis, int *n, double v)
{
    int i = 0;
    while (i < *n && axis[i] < v)
        i++;
    if (i < *n && axis[i] == v)
        return i;
    if (*n == PLOT_MAP_AXIS)
        return -1;
    memmove(axis + i + 1, axis + i, (size_t)(*n - i) * sizeof(*axis));
    axis[i] = v;
    (*n)++;
    return i;
}

/* The values of one row: the cell it belongs to and what it offers. */
struct map_row {
    double cpu_us, wait_ms, workers, cores;
    struct plot__map_best best;
    int loop;                    /* 1: an event loop (async, coro); 0: a pool */
    enum plot__map_verdict idle; /* PLOT_MAP_UNREACHABLE or _MARGINAL, else PLOT_MAP_MISSING */
    double idle_model_ms, idle_ms;
};

/* The optional columns of newer map.csv files: the widened bracket's upper
 * end and the idle request's percentile. An older file has neither: its
 * bracket ends at the lowest rate not met, and no cell is ruled out. */
static int optional_columns(const char *path, const struct csv_table *t, int r, struct map_row *row,
                            char *err, size_t errlen)
{
    const char *status = csv_get(t, r, "status");
    row->idle = !strcmp(status, "unreachable") ? PLOT_MAP_UNREACHABLE
                : !strcmp(status, "marginal")  ? PLOT_MAP_MARGINAL
                                               : PLOT_MAP_MISSING;
    row->best.undecided = !strcmp(status, "undecided");
    row->idle_model_ms = row->idle_ms = NAN;
    if (csv_col(t, "capacity_missed") >= 0 &&
        map_number(path, t, r, "capacity_missed", 0, INFINITY, &row->best.hi, err, errlen) < 0)
        return -EINVAL;
    if (csv_col(t, "idle_model_ms") >= 0 && *csv_get(t, r, "idle_model_ms") &&
        map_number(path, t, r, "idle_model_ms", 0, NAN, &row->idle_model_ms, err, errlen) < 0)
        return -EINVAL;
    if (csv_col(t, "idle_ms") >= 0 && *csv_get(t, r, "idle_ms") &&
        map_number(path, t, r, "idle_ms", 0, NAN, &row->idle_ms, err, errlen) < 0)
        return -EINVAL;
    return 0;
}

static int read_row(const char *path, const struct csv_table *t, int r, struct map_row *row,
                    char *err, size_t errlen)
{
    const char *kind = csv_get(t, r, "kind");
    double bound;
    row->loop = !strcmp(kind, "async") || !strcmp(kind, "coro");
    row->best.engine = csv_get(t, r, "engine");
    if (!row->loop && strcmp(kind, "pool") != 0) {
        snprintf(err, errlen, "%s:%d: kind '%s' is not an architecture (pool, async or coro)", path,
                 r + 2, kind);
        return -EINVAL;
    }
    if (map_number(path, t, r, "cpu_us", 0, NAN, &row->cpu_us, err, errlen) < 0 ||
        map_number(path, t, r, "wait_ms", 0, NAN, &row->wait_ms, err, errlen) < 0 ||
        map_number(path, t, r, "workers", 0, -1, &row->workers, err, errlen) < 0 ||
        map_number(path, t, r, "cores", 1, NAN, &row->cores, err, errlen) < 0 ||
        map_number(path, t, r, "capacity_rps", 0, NAN, &row->best.rps, err, errlen) < 0 ||
        map_number(path, t, r, "capacity_lo", 0, NAN, &row->best.lo, err, errlen) < 0 ||
        map_number(path, t, r, "capacity_hi", 0, INFINITY, &row->best.hi, err, errlen) < 0 ||
        map_number(path, t, r, "bound_rps", 0, INFINITY, &bound, err, errlen) < 0 ||
        optional_columns(path, t, r, row, err, errlen) < 0)
        return -EINVAL;
    /* A search that never failed was stopped at the bound, and no rate
     * past it is sustained (Little's law): the bracket ends there, so a
     * pool met at its bound of 1,280 req/s is no tie with a loop at 25,000. */
    if (isinf(row->best.hi) && bound >= row->best.lo)
        row->best.hi = bound;
    if (!*row->best.engine) {
        snprintf(err, errlen, "%s:%d: engine is empty (a config's spec expected)", path, r + 2);
        return -EINVAL;
    }
    return 0;
}

/* Adds row's CPU and wait to the axes; remembers the largest pool with a
 * worker limit. 0, or -E2BIG when an axis is full. */
static int add_to_axes(struct plot__map *m, const struct map_row *row)
{
    int i = axis_index(m->cpu_us, &m->ncpu, row->cpu_us);
    int j = i < 0 ? -1 : axis_index(m->wait_ms, &m->nwait, row->wait_ms);
    if (j < 0)
        return -E2BIG;
    if (!row->loop && row->workers > m->workers && row->workers < INT_MAX) {
        m->workers = (int)row->workers;
        m->cores = row->cores < INT_MAX ? (int)row->cores : INT_MAX;
    }
    return 0;
}

static void put_best(struct plot__map_best *b, const struct plot__map_best *candidate)
{
    if (!b->engine || candidate->rps > b->rps)
        *b = *candidate;
}

static int axis_find(const double *axis, int n, double v)
{
    for (int i = 0; i < n; i++)
        if (axis[i] == v)
            return i;
    return -1;
}

/* Who serves more, from the two bests' capacities and widened brackets: a
 * winner only where they do not overlap. A cell the idle request ruled out
 * (its verdict already set) names none. */
static void judge_cell(struct plot__map_cell *c)
{
    const struct plot__map_best *l = &c->loop, *p = &c->pool;
    c->ratio = NAN;
    if (c->verdict == PLOT_MAP_UNREACHABLE || c->verdict == PLOT_MAP_MARGINAL)
        return;
    if (!l->engine || !p->engine) {
        c->verdict = PLOT_MAP_MISSING;
        return;
    }
    if (l->rps <= 0 && p->rps <= 0) {
        c->verdict = l->undecided || p->undecided ? PLOT_MAP_UNDECIDED : PLOT_MAP_NONE;
        return;
    }
    c->ratio = p->rps > 0 ? l->rps / p->rps : INFINITY;
    if (l->lo <= p->hi && p->lo <= l->hi)
        c->verdict = PLOT_MAP_TIE;
    else
        c->verdict = l->rps > p->rps ? PLOT_MAP_LOOP : PLOT_MAP_POOL;
}

/* Every row into its cell, then each cell judged. The axes are complete
 * first, since a value inserted into an axis moves the cells after it. */
static int place_cells(const char *path, struct plot__map *m, char *err, size_t errlen)
{
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++) {
            m->cell[i][j].verdict = PLOT_MAP_MISSING;
            m->cell[i][j].idle_model_ms = m->cell[i][j].idle_ms = NAN;
        }
    for (int r = 0; r < m->table.nrows; r++) {
        struct map_row row;
        if (read_row(path, &m->table, r, &row, err, errlen) < 0)
            return -EINVAL;
        struct plot__map_cell *c = &m->cell[axis_find(m->cpu_us, m->ncpu, row.cpu_us)]
                                           [axis_find(m->wait_ms, m->nwait, row.wait_ms)];
        put_best(row.loop ? &c->loop : &c->pool, &row.best);
        if (row.idle != PLOT_MAP_MISSING)
            c->verdict = row.idle;
        if (!isnan(row.idle_model_ms))
            c->idle_model_ms = row.idle_model_ms;
        if (!isnan(row.idle_ms))
            c->idle_ms = row.idle_ms;
    }
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++)
            judge_cell(&m->cell[i][j]);
    return 0;
}

static int check_header(const char *path, const struct csv_table *t, char *err, size_t errlen)
{
    for (size_t k = 0; k < MAP_NCOLUMNS; k++)
        if (csv_col(t, map_columns[k]) < 0) {
            snprintf(err, errlen,
                     "%s:1: no column %s (a map.csv needs cpu_us, wait_ms, engine, kind, "
                     "workers, cores, capacity_rps, capacity_lo and capacity_hi)",
                     path, map_columns[k]);
            return -EINVAL;
        }
    return t->nrows ? 0 : -ENODATA;
}

/* The axes from every row, checked, before any cell is filled. */
static int read_axes(const char *path, struct plot__map *m, char *err, size_t errlen)
{
    for (int r = 0; r < m->table.nrows; r++) {
        struct map_row row;
        if (read_row(path, &m->table, r, &row, err, errlen) < 0)
            return -EINVAL;
        if (add_to_axes(m, &row) < 0) {
            snprintf(err, errlen,
                     "%s:%d: more than %d CPU or wait values (a map of at most %d x %d cells)",
                     path, r + 2, PLOT_MAP_AXIS, PLOT_MAP_AXIS, PLOT_MAP_AXIS);
            return -E2BIG;
        }
    }
    return 0;
}

int plot__map_read(const char *dir, struct plot__map *m, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/map.csv", dir);
    if (access(path, F_OK) != 0)
        return -ENOENT;
    int rc = csv_load(path, &m->table);
    if (rc == -EINVAL)
        snprintf(err, errlen, "%s:1: empty file (a map.csv header expected)", path);
    else if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    if (rc == 0 && (rc = check_header(path, &m->table, err, errlen)) == -ENODATA)
        snprintf(err, errlen, "%s: no cell measured yet (a header alone)", path);
    if (rc == 0)
        rc = read_axes(path, m, err, errlen);
    if (rc == 0)
        rc = place_cells(path, m, err, errlen);
    return rc;
}

void plot__map_free(struct plot__map *m)
{
    csv_free(&m->table);
}

double plot__map_frontier(const struct plot__map *m, double cpu_us)
{
    if (m->workers <= 0 || m->cores <= 0)
        return NAN;
    return cpu_us / 1000 * ((double)m->workers / m->cores - 1);
}

/* "p99 100ms" as "p99 under 100 ms"; 0, or -1 when line holds no goal. */
static int parse_goal(const char *s, char *out, size_t len)
{
    double q, ms;
    char unit[8] = "";
    while (*s == ' ')
        s++;
    if (sscanf(s, "p%lf %lf%7[a-z]", &q, &ms, unit) < 2)
        return -1;
    snprintf(out, len, "p%g under %g %s", q, ms, unit[0] ? unit : "ms");
    return 0;
}

int plot__goal(const char *dir, char *out, size_t len)
{
    static const struct {
        const char *file, *key;
    } sources[] = {{"meta.txt", "slo:"}, {"suite.ini", "slo ="}, {"suite.ini", "slo="}};
    char path[PATH_MAX + 16], line[256];
    int found = -ENOENT;
    for (size_t k = 0; k < sizeof(sources) / sizeof(sources[0]) && found < 0; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sources[k].file);
        FILE *f = fopen(path, "r");
        size_t kl = strlen(sources[k].key);
        while (f && found < 0 && fgets(line, sizeof(line), f))
            if (!strncmp(line, sources[k].key, kl) && parse_goal(line + kl, out, len) == 0)
                found = 0;
        if (f)
            fclose(f);
    }
    return found;
}

/* "3.2x", "44x": two figures where they matter, no more; three under 1.1,
 * where a named winner by 3 % would read "1.0x". */
static void format_ratio(double r, char *out, size_t len)
{
    snprintf(out, len, r < 1.095 ? "%.2fx" : r < 9.95 ? "%.1fx" : "%.0fx", r);
}

void plot__map_label(const struct plot__map_cell *c, char *out, size_t len)
{
    char ratio[32];
    switch (c->verdict) {
    case PLOT_MAP_MISSING:
        snprintf(out, len, "%s",
                 !c->loop.engine && !c->pool.engine ? "not run"
                 : c->loop.engine                   ? "no pool"
                                                    : "no loop");
        return;
    case PLOT_MAP_NONE: snprintf(out, len, "none"); return;
    case PLOT_MAP_TIE: snprintf(out, len, "tie"); return;
    case PLOT_MAP_UNREACHABLE: snprintf(out, len, "unreachable"); return;
    case PLOT_MAP_MARGINAL: snprintf(out, len, "marginal"); return;
    case PLOT_MAP_UNDECIDED: snprintf(out, len, "undecided"); return;
    default: break;
    }
    if (c->pool.rps <= 0 || c->loop.rps <= 0) {
        snprintf(out, len, c->pool.rps <= 0 ? "pool 0" : "loop 0");
    } else if (c->ratio >= 1) {
        format_ratio(c->ratio, out, len);
    } else {
        format_ratio(1 / c->ratio, ratio, sizeof(ratio));
        snprintf(out, len, "1/%s", ratio);
    }
}

/* ---- the chart's tables and variables ---- */

/* The colour scale's half-width in octaves: the largest finite ratio of a
 * cell with a winner, rounded up, within 1 to MAP_MAX_OCTAVES (3 when no
 * cell has a finite one). */
static int colour_octaves(const struct plot__map *m)
{
    double most = 0;
    int any = 0;
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++) {
            const struct plot__map_cell *c = &m->cell[i][j];
            if ((c->verdict == PLOT_MAP_LOOP || c->verdict == PLOT_MAP_POOL) &&
                isfinite(c->ratio) && c->ratio > 0) {
                most = fmax(most, fabs(log2(c->ratio)));
                any = 1;
            }
        }
    int k = any ? (int)ceil(most - 1e-9) : 3;
    return k < 1 ? 1 : k > MAP_MAX_OCTAVES ? MAP_MAX_OCTAVES : k;
}

/* A cell's colour: log2 of its ratio clamped to the scale, 0 (neutral)
 * for a tie, NAN (grey) where there is no comparison. */
static double cell_colour(const struct plot__map_cell *c, int octaves)
{
    if (c->verdict == PLOT_MAP_TIE)
        return 0;
    if (c->verdict != PLOT_MAP_LOOP && c->verdict != PLOT_MAP_POOL)
        return NAN;
    double v = c->ratio > 0 ? log2(c->ratio) : -INFINITY;
    return fmax(-octaves, fmin(octaves, v));
}

/* dir/map-cells.csv: x,y (the cell's column and row),cpu_us,wait_ms,
 * colour (empty: grey),label,text (the label's colour, white on a dark cell). */
static int write_cells(const char *dir, const struct plot__map *m, int octaves)
{
    char path[PATH_MAX + 16], label[64];
    snprintf(path, sizeof(path), "%s/map-cells.csv", dir);
    FILE *out = fopen(path, "w");
    if (!out)
        return -errno;
    fputs("x,y,cpu_us,wait_ms,colour,label,text\n", out);
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++) {
            double v = cell_colour(&m->cell[i][j], octaves);
            plot__map_label(&m->cell[i][j], label, sizeof(label));
            fprintf(out, "%d,%d,%g,%g,", i, j, m->cpu_us[i], m->wait_ms[j]);
            if (!isnan(v))
                fprintf(out, "%.4f", v);
            fprintf(out, ",%s,%d\n", label, fabs(v) > 0.6 * octaves ? 0xffffff : 0);
        }
    return fclose(out) == 0 ? 0 : -EIO;
}

/* Where v sits between an axis's values, its columns or rows 0, 1, ...:
 * log-interpolated (linearly from a value of 0); NAN off the axis. */
static double axis_position(const double *axis, int n, double v)
{
    if (!(v >= axis[0] && v <= axis[n - 1]))
        return NAN;
    int i = 0;
    while (i + 1 < n && axis[i + 1] < v)
        i++;
    if (i + 1 == n || v == axis[i])
        return i;
    double a = axis[i], b = axis[i + 1];
    return i + (a > 0 ? log(v / a) / log(b / a) : (v - a) / (b - a));
}

/* The CPU at column position x (between the columns, log-interpolated). */
static double cpu_at(const struct plot__map *m, double x)
{
    int i = (int)x;
    if (i + 1 >= m->ncpu)
        return m->cpu_us[m->ncpu - 1];
    double a = m->cpu_us[i], b = m->cpu_us[i + 1], t = x - i;
    return a > 0 ? a * pow(b / a, t) : a + (b - a) * t;
}

/* dir/map-frontier.csv: x,y of the frontier sampled from the first CPU
 * column to the last (across the cell when there is one), a blank line
 * wherever it leaves the grid. Returns the points on the grid, or -errno. */
static int write_frontier(const char *dir, const struct plot__map *m)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/map-frontier.csv", dir);
    FILE *out = fopen(path, "w");
    if (!out)
        return -errno;
    fputs("x,y\n", out);
    int steps = m->ncpu > 1 ? (m->ncpu - 1) * MAP_FRONTIER_STEPS : 1, drawn = 0, gap = 0;
    for (int s = 0; m->workers > 0 && s <= steps; s++) {
        double x = m->ncpu > 1 ? (double)s / MAP_FRONTIER_STEPS : -0.4 + 0.8 * s;
        double c = m->ncpu > 1 ? cpu_at(m, x) : m->cpu_us[0];
        double y = axis_position(m->wait_ms, m->nwait, plot__map_frontier(m, c));
        if (isnan(y)) {
            gap = 1;
            continue;
        }
        fprintf(out, "%s%.4f,%.4f\n", gap && drawn ? "\n" : "", x, y);
        gap = 0;
        drawn++;
    }
    return fclose(out) == 0 ? drawn : -EIO;
}

void plot__map_time(double ms, int micro, char *out, size_t len)
{
    if (micro && ms > 0 && ms < 1)
        snprintf(out, len, "%g µs", ms * 1000);
    else if (ms >= 1000)
        snprintf(out, len, "%g s", ms / 1000);
    else
        snprintf(out, len, "%g ms", ms);
}

/* `name='("50 µs" 0, "1 ms" 1)'; `: an axis's tics for `set xtics`, its
 * values scale times a ms; micro: under 1 ms in µs. */
static void put_tics(struct plot__vars *v, const char *name, const double *values, int n,
                     double scale, int micro)
{
    char label[64];
    plot__put(v, "%s='(", name);
    for (int i = 0; i < n; i++) {
        plot__map_time(values[i] * scale, micro, label, sizeof(label));
        plot__put(v, "%s\"%s\" %d", i ? ", " : "", label, i);
    }
    plot__put(v, ")'; ");
}

/* The colour bar's tics, each a power of 2: "1/8" ... "1" ... "8x". */
static void put_cbtics(struct plot__vars *v, int octaves)
{
    plot__put(v, "map_cbtics='(");
    for (int k = -octaves; k <= octaves; k++) {
        const char *sep = k > -octaves ? ", " : "";
        if (k < 0)
            plot__put(v, "%s\"1/%d\" %d", sep, 1 << -k, k);
        else
            plot__put(v, "%s\"%d%s\" %d", sep, 1 << k, k ? "x" : "", k);
    }
    plot__put(v, ")'; ");
}

/* The workload's name from meta.txt, as a gnuplot string may hold it. */
static void read_workload(const char *dir, char *out, size_t len)
{
    char path[PATH_MAX + 16], line[256];
    snprintf(out, len, "its");
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "workload: ", 10)) {
            size_t n = strcspn(line + 10, " \r\n");
            snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), line + 10);
        }
    if (f)
        fclose(f);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '\'' || *p == '"' || *p == '\\')
            *p = '_';
}

/* What the legend says of the frontier. */
static void put_frontier(struct plot__vars *v, const struct plot__map *m, int drawn)
{
    plot__put(v, "map_frontier=%d; map_frontier_key='", drawn > 0);
    if (m->workers <= 0)
        plot__put(v, "no frontier: no pool has a worker limit");
    else
        plot__put(v, "%s: w = c (N/k - 1), N = %d workers, k = %d core%s%s",
                  drawn > 0 ? "frontier" : "no frontier on the grid", m->workers, m->cores,
                  m->cores == 1 ? "" : "s", drawn > 0 ? "" : " lies outside it");
    plot__put(v, "'; ");
}

static void put_map_vars(struct plot__vars *v, const char *dir, const struct plot__map *m,
                         int octaves, int drawn)
{
    char goal[64], workload[64];
    if (plot__goal(dir, goal, sizeof(goal)) < 0)
        snprintf(goal, sizeof(goal), "the sweep's goal");
    read_workload(dir, workload, sizeof(workload));
    plot__put(v, "map_nx=%d; map_ny=%d; map_octaves=%d; ", m->ncpu, m->nwait, octaves);
    put_tics(v, "map_xtics", m->cpu_us, m->ncpu, 1e-3, 1);
    put_tics(v, "map_ytics", m->wait_ms, m->nwait, 1, 0);
    put_cbtics(v, octaves);
    put_frontier(v, m, drawn);
    plot__put(v, "map_title='Where each architecture wins: capacity at %s, %s workload'; ", goal,
              workload);
}

int plot_prepare_map(const char *dir, char *vars, size_t len, char *err, size_t errlen)
{
    struct plot__map *m = calloc(1, sizeof(*m));
    struct plot__vars v = {vars, len, 0};
    if (errlen)
        err[0] = '\0';
    int rc = m ? plot__map_read(dir, m, err, errlen) : -ENOMEM;
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    int octaves = rc == 0 ? colour_octaves(m) : 0, drawn = 0;
    if (rc == 0 && (rc = write_cells(dir, m, octaves)) == 0)
        rc = drawn = write_frontier(dir, m);
    if (rc >= 0) {
        put_map_vars(&v, dir, m, octaves, drawn);
        rc = v.at < v.len ? 0 : -E2BIG;
    }
    if (rc < 0 && rc != -ENOENT && !*err)
        snprintf(err, errlen, "%s/map.csv: cannot write the map's tables: %s", dir, strerror(-rc));
    if (m)
        plot__map_free(m);
    free(m);
    return rc;
}

/* The crossover map when the folder has a map.csv, drawn with every
 * script's variables and its own: 0, or 1 after saying why it was not
 * drawn. A map.csv that cannot be read costs the map alone. */
int plot__draw_map(const char *dir, const char *scripts, const char *vars)
{
    char all[PLOT_VARS_LEN], err[PATH_MAX + 256] = "", path[PATH_MAX + 16];
    size_t at = strlen(vars);
    int rc = at < sizeof(all) ? plot_prepare_map(dir, all + at, sizeof(all) - at, err, sizeof(err))
                              : -E2BIG;
    if (rc < 0) {
        for (int fmt = 0; fmt < 2; fmt++) { /* no chart of another map.csv stays behind */
            snprintf(path, sizeof(path), "%s/map.%s", dir, fmt ? "svg" : "png");
            unlink(path);
        }
        if (rc == -ENOENT || rc == -ENODATA) {
            if (rc == -ENODATA)
                fprintf(stderr, "overlap plot: %s: no map drawn\n", err);
            return 0;
        }
        fprintf(stderr, "overlap plot: %s: no map drawn\n", *err ? err : strerror(-rc));
        return 1;
    }
    memcpy(all, vars, at);
    for (int fmt = 0; fmt < 2; fmt++)
        if (plot__run_gnuplot(scripts, dir, "map", fmt ? "svg" : "png", all, err, sizeof(err)) <
            0) {
            fprintf(stderr, "overlap plot: %s/map.gp: %s\n", scripts, err);
            return 1;
        }
    return 0;
}
