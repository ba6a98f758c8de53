/* What the ideal system lacked, where a measured p99 departs from it: the
 * run's own figures beside the simulator's assumptions, each only as far as
 * the figures go. The ideal system spends the workload's CPU and nothing
 * more, preempts no burst shorter than the kernel's slice, and is in its
 * steady state; a run spends the server's CPU too (cpu_per_request_us),
 * is preempted (invol_ctxsw_per_s), and lasts a window that starts from an
 * empty server. Where the simulator, given the measured CPU or the run's
 * length, agrees with the measurement, the sentence says so. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"

/* CPU beyond the workload's nominal that is worth a word: a few percent is
 * the calibration's own error (results/README.md). */
#define EXTRA_CPU 0.02

/* meta.txt's `key: number`, or NAN. */
static double meta_number(const char *dir, const char *key)
{
    char path[PATH_MAX + 16], line[4096];
    size_t len = strlen(key);
    double v = NAN;
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, len) && line[len] == ':')
            v = strtod(line + len + 1, NULL);
    if (f)
        fclose(f);
    return v;
}

/* The server's CPU a request beside the workload's, and the ideal system
 * given the difference. */
static void write_cpu(const struct plot__report *rp, const struct plot__model *m, int r,
                      const char *engine)
{
    const struct csv_table *s = &rp->summary;
    double cpu = csv_num(s, r, "cpu_per_request_us"), nominal = m->svc.cpu_ms * 1e3;
    double steps = report__runs_mean(rp, r, PLOT_WORKLOAD_CPU), rate = csv_num(s, r, "rate");
    struct model_prediction p;
    if (!m->ok || !(cpu > 0) || !(nominal > 0))
        return;
    fprintf(rp->out, "; the server spent %.0f µs of CPU a request", cpu);
    if (steps > 0)
        fprintf(rp->out, " (%.0f in the workload's cpu steps)", steps);
    fprintf(rp->out, " where the ideal system spends the workload's %.0f", nominal);
    double extra = cpu - nominal;
    if (extra <= EXTRA_CPU * nominal || plot__ideal_predict(m, engine, rate, extra, &p) < 0)
        return;
    if (!isfinite(p.p99_ms)) {
        fprintf(rp->out,
                "; given those %.0f µs more, the ideal system's cores are %.0f %% busy, at or "
                "near its saturation",
                extra, 100 * rate * cpu / 1e6 / m->cores);
        return;
    }
    fprintf(rp->out, "; given those %.0f µs more, its p99 is %.1f ms%s", extra, p.p99_ms,
            report__departs(s, r, p.p99_ms) ? "" : ", as measured: the extra CPU accounts for it");
}

/* The run's own length: the ideal system over runs as short, from empty. */
static void write_window(const struct plot__report *rp, const struct plot__model *m, int r,
                         const char *engine)
{
    const struct csv_table *s = &rp->summary;
    double requests = report__runs_mean(rp, r, PLOT_REQUESTS), rate = csv_num(s, r, "rate");
    double warmup = meta_number(rp->f->dir, "warmup_s"), p99;
    if (!(requests >= 1) || !(rate > 0))
        return;
    warmup = warmup >= 0 ? warmup : 0;
    if (plot__ideal_window(m, engine, rate, requests / rate, warmup, &p99) < 0)
        return;
    fprintf(rp->out,
            "; over runs as short as its own (%.0f requests after %.2f s of arrivals, from an "
            "empty server) the ideal system's p99 is %.1f ms (the median of 21)%s",
            requests, warmup, p99,
            report__departs(s, r, p99) ? "" : ", as measured: the run's length accounts for it");
}

void report__write_lacks(const struct plot__report *rp, const struct plot__model *m, int r,
                         const char *engine, double ref_ms)
{
    double invol = report__runs_mean(rp, r, PLOT_INVOL_CTXSW);
    double rate = csv_num(&rp->summary, r, "rate");
    (void)ref_ms;
    if (!m->ok)
        return;
    write_cpu(rp, m, r, engine);
    if (rate > 0 && invol / rate >= 0.01) {
        fprintf(rp->out, "; %.0f involuntary context switches a second (%.2f a request), ", invol,
                invol / rate);
        if (m->slice_us > 0)
            fprintf(rp->out,
                    "where the ideal system preempts no burst shorter than the slice "
                    "(%.2f ms)",
                    m->slice_us / 1e3);
        else
            fputs("where the ideal system preempts no burst shorter than the slice", rp->out);
    }
    write_window(rp, m, r, engine);
}
