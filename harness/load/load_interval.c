/* Per-interval figures (--intervals, and the summary's intervals_cv): each
 * thread counts its answers and errors in the interval they happen in and
 * closes each interval into a row holding a compact copy of its latencies;
 * the rows are merged across threads once the run is over, so nothing is
 * shared or locked while it runs. */
#include "load_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define CELLS_PER_INTERVAL 256 /* room reserved per interval: loopback latencies fill fewer */

/* The window's intervals, and slots after it for the open loop's late
 * answers and the errors found at the end; past the last, all count there. */
static int slots_for(const struct load_config *cfg, uint64_t every)
{
    uint64_t span = cfg->duration_ns + cfg->timeout_ns + 2 * LOAD__TICK_NS;
    uint64_t n = (span + every - 1) / every;
    return n > LOAD_MAX_INTERVALS ? LOAD_MAX_INTERVALS + 1 : (int)n;
}

int load__intervals_init(struct worker *w)
{
    struct intervals *iv = &w->ival;
    iv->every_ns = w->cfg->interval_ns ? w->cfg->interval_ns : LOAD_INTERVAL_NS;
    iv->nslots = slots_for(w->cfg, iv->every_ns);
    iv->at = -1;
    iv->end = UINT64_MAX;
    iv->rows = calloc((size_t)iv->nslots, sizeof(*iv->rows));
    iv->hist = hist_create();
    iv->cap = (size_t)iv->nslots * CELLS_PER_INTERVAL;
    iv->cells = malloc(iv->cap * sizeof(*iv->cells));
    return iv->rows && iv->hist && iv->cells ? 0 : -ENOMEM;
}

void load__intervals_free(struct worker *w)
{
    free(w->ival.rows);
    free(w->ival.cells);
    hist_destroy(w->ival.hist);
}

void load__intervals_start(struct worker *w)
{
    w->ival.at = -1;
    w->ival.end = w->warm_end;
}

/* The connections up when the window opens: those not down or connecting. */
static void count_connections(struct worker *w)
{
    w->connections = 0;
    for (int i = 0; i < w->nconns; i++)
        w->connections += w->conns[i].state != CONN_DOWN && w->conns[i].state != CONN_CONNECTING;
}

/* Keeps the open interval's latencies in its row. Once per interval, so the
 * rare growth of the cells (a spread wider than reserved) is off the hot
 * path; without memory, the row keeps its counts and loses its latencies. */
static void close_interval(struct intervals *iv)
{
    struct interval_row *row = &iv->rows[iv->at];
    size_t n = hist_count(iv->hist) ? hist_cells(iv->hist, NULL, 0) : 0;
    if (!n)
        return;
    if (iv->ncells + n > iv->cap) {
        size_t cap = 2 * (iv->ncells + n);
        struct hist_cell *cells = realloc(iv->cells, cap * sizeof(*cells));
        if (cells) {
            iv->cells = cells;
            iv->cap = cap;
        }
    }
    if (iv->ncells + n <= iv->cap) {
        row->cells_at = iv->ncells;
        row->ncells = hist_cells(iv->hist, iv->cells + iv->ncells, n);
        iv->ncells += n;
    }
    hist_reset(iv->hist);
}

struct interval_row *load__interval_at(struct worker *w, uint64_t now)
{
    struct intervals *iv = &w->ival;
    while (now >= iv->end) {
        if (iv->at < 0)
            count_connections(w);
        else
            close_interval(iv);
        iv->at++;
        iv->end = iv->at + 1 < iv->nslots ? iv->end + iv->every_ns : UINT64_MAX;
    }
    return iv->at >= 0 ? &iv->rows[iv->at] : NULL;
}

void load__intervals_stop(struct worker *w)
{
    if (w->ival.at >= 0)
        close_interval(&w->ival);
}

/* ---- the merge ---- */

/* Adds slot k of every thread into out and h. */
static void add_slot(struct worker *ws, int n, int k, struct load_interval *out, struct hist *h)
{
    for (int i = 0; i < n; i++) {
        const struct intervals *iv = &ws[i].ival;
        const struct interval_row *row = &iv->rows[k];
        out->requests += row->requests;
        out->ok += row->ok;
        out->errors += row->errors;
        hist_add_cells(h, iv->cells + row->cells_at, row->ncells);
    }
}

/* Without memory, the interval is written without its latencies. */
static void keep_cells(struct load_interval *out, const struct hist *h)
{
    size_t n = hist_cells(h, NULL, 0);
    if (n && (out->cells = malloc(n * sizeof(*out->cells))))
        out->ncells = hist_cells(h, out->cells, n);
}

double load__throughput_cv(const struct load_result *res, double every_s, double window_s)
{
    double sum = 0, sq = 0;
    int n = 0;
    for (int k = 0; k < res->nintervals && (k + 1) * every_s <= window_s + 1e-9; k++, n++) {
        double x = res->intervals[k].ok / res->intervals[k].length_s;
        sum += x;
        sq += x * x;
    }
    if (n < 2 || sum <= 0)
        return 0;
    double mean = sum / n, var = sq / n - mean * mean;
    return var > 0 ? sqrt(var) / mean : 0;
}

void load__intervals_merge(struct worker *ws, int n, struct load_result *res)
{
    double every = ws[0].ival.every_ns / 1e9, nominal = ws[0].cfg->duration_ns / 1e9;
    int nslots = ws[0].ival.nslots;
    int count = (int)ceil(res->window_s / every - 1e-9);
    struct hist *h = hist_create();
    count = count < nslots ? count : nslots;
    res->intervals = count > 0 ? calloc((size_t)count, sizeof(*res->intervals)) : NULL;
    if (!h || !res->intervals)
        goto out;
    res->nintervals = count;
    for (int k = 0; k < count; k++) {
        struct load_interval *out = &res->intervals[k];
        hist_reset(h);
        /* the last interval also holds what came after the window */
        for (int slot = k; slot < (k + 1 < count ? k + 1 : nslots); slot++)
            add_slot(ws, n, slot, out, h);
        out->end_s = k + 1 < count ? (k + 1) * every : res->window_s;
        out->length_s = out->end_s - k * every;
        out->p50_ns = hist_percentile(h, 50);
        out->p99_ns = hist_percentile(h, 99);
        if (ws[0].cfg->interval_cells) /* --hlog: the interval's latencies themselves */
            keep_cells(out, h);
    }
    res->intervals_cv =
        load__throughput_cv(res, every, res->window_s < nominal ? res->window_s : nominal);
out:
    hist_destroy(h);
}
