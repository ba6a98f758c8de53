/* The crossover map (`vary.cpu`, `vary.wait`): every config's capacity at
 * the suite's goal in every cell, the workload moved to the cell by wl_vary
 * (the bench loads it once more for the bounds; the database and server
 * apply the same change from their --vary-cpu and --vary-wait flags). The
 * probes are runs.csv rows with loop `map` and the cell's values; the
 * capacities go to map.csv, rewritten after each cell. */
#include "bench_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "wl.h"

/* The map's wait axis where the suite does not vary it: the queries'
 * median when they share one (the seed's single query), else the mean
 * wait per request, the figure the bounds use. */
static double own_wait_ms(const struct wl_workload *wl)
{
    double median = wl->nqueries > 0 ? wl_dist_median(&wl->queries[0].latency) : 0;
    for (int q = 1; q < wl->nqueries; q++)
        if (fabs(wl_dist_median(&wl->queries[q].latency) - median) > 1e-9 * median)
            return wl_mean_wait_ns(wl) / 1e6;
    return median / 1e6;
}

struct wl_workload *bench__cell_workload(const struct bench__sweep *sw, int c)
{
    struct wl_workload *wl;
    uint64_t cpu_ns, wait_ns;
    char err[WL_ERR_LEN];
    bench__map_cell(&sw->suite, c, &cpu_ns, &wait_ns);
    if (wl_load(sw->suite.workload, &wl, err, sizeof(err)) < 0)
        goto fail;
    if (wl_vary(wl, cpu_ns, wait_ns, err, sizeof(err)) == 0)
        return wl;
    wl_free(wl);
fail:
    fprintf(stderr, "overlap bench: no map: %s\n", err);
    return NULL;
}

/* One map.csv row: the cell as run, the config, its search. */
static void write_row(FILE *f, const struct bench__sweep *sw, int cell, int e,
                      const struct bench__capacity *c)
{
    const struct bench_engine *en = &sw->suite.engines[e];
    fprintf(f, "%g,%g,%s,%s,", sw->map_cpu_us[cell - 1], sw->map_wait_ms[cell - 1], en->spec,
            bench_kind_name(en->kind));
    if (en->kind == BENCH_POOL)
        fprintf(f, "%d", bench_config_workers(en));
    fprintf(f, ",%d,", sw->plan.ncores);
    bench__capacity_fields(f, c, &sw->idle[cell]);
}

/* map.csv with the cells done so far. */
static int write_map(const struct bench__sweep *sw)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/map.csv", sw->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "cpu_us,wait_ms,engine,kind,workers,cores,%s\n", bench__capacity_header);
    for (int c = 1; c <= sw->ncells; c++)
        for (int e = 0; e < sw->suite.nengines; e++)
            write_row(f, sw, c, e, &sw->map[c - 1][e]);
    return fclose(f) == 0 ? 0 : -EIO;
}

/* Every config in cell c, under the cell's workload; 0, or the error that
 * stopped a search (-EINTR: interrupted). */
static int map_cell(struct bench__sweep *sw, int c, struct wl_workload *wl)
{
    const struct wl_workload *own = sw->plan.wl;
    sw->plan.wl = wl;
    sw->cell = c;
    sw->map_cpu_us[c - 1] = wl_mean_cpu_ns(wl) / 1e3;
    sw->map_wait_ms[c - 1] = own_wait_ms(wl);
    fprintf(stderr, "overlap bench: map cell %d of %d: %g us of CPU, %g ms wait\n", c,
            bench__map_cells(&sw->suite), sw->map_cpu_us[c - 1], sw->map_wait_ms[c - 1]);
    int rc = bench__search_all(sw, &sw->idle[c], sw->map[c - 1]);
    if (rc < 0 && rc != -EINTR)
        fprintf(stderr, "overlap bench: map cell %d: capacity search stopped: %s\n", c,
                strerror(-rc));
    sw->cell = 0;
    sw->plan.wl = own;
    return rc;
}

int bench__map_check(const struct bench__sweep *sw)
{
    struct wl_workload *wl = bench__cell_workload(sw, 1);
    wl_free(wl);
    return wl ? 0 : -1;
}

void bench__map(struct bench__sweep *sw)
{
    int ncells = bench__map_cells(&sw->suite);
    fprintf(stderr, "overlap bench: the crossover map, %d cells at p%g %g ms\n", ncells,
            sw->suite.slo.percentile, sw->suite.slo.ms);
    for (int c = 1; c <= ncells && !proc_stopping(); c++) {
        struct wl_workload *wl = bench__cell_workload(sw, c);
        if (!wl)
            break;
        int rc = map_cell(sw, c, wl);
        wl_free(wl);
        if (rc == -EINTR)
            break;
        sw->ncells = c; /* a search another error stopped is written as `stopped` */
        if (write_map(sw) < 0)
            fprintf(stderr, "overlap bench: cannot write %s/map.csv\n", sw->dir);
        if (rc < 0)
            break;
    }
}
