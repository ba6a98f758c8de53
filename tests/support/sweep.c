/* Whole sweeps as processes (see sweep.h). */
#define _GNU_SOURCE
#include "sweep.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_flags.h"
#include "capacity.h"
#include "csv.h"
#include "hist.h"
#include "stats.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sweep_start(struct sweep_run *r, const char *tmp, const char *const *args)
{
    snprintf(r->tmp, sizeof(r->tmp), "%s", tmp);
    snprintf(r->out, sizeof(r->out), "%s/bench.out", tmp);
    snprintf(r->err, sizeof(r->err), "%s/bench.err", tmp);
    snprintf(r->results, sizeof(r->results), "%s/results", tmp);
    r->pid = fork();
    cr_assert_geq(r->pid, 0);
    if (r->pid == 0) {
        int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || chdir(tmp) < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        const char *argv[64] = {OVERLAP_BIN, "bench", "--out", r->results};
        int n = 4;
        for (int i = 0; args[i] && n < 63; i++)
            argv[n++] = args[i];
        execv(OVERLAP_BIN, (char *const *)argv);
        _exit(127);
    }
}

/* The last len - 1 bytes of file path, or "" without it. */
static void tail_of(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        fseek(f, size > (long)len - 1 ? size - (long)len + 1 : 0, SEEK_SET);
    }
    out[fread(out, 1, len - 1, f)] = '\0';
    fclose(f);
}

int sweep_wait(struct sweep_run *r, double timeout_s)
{
    int status;
    double until = now_s() + timeout_s;
    while (waitpid(r->pid, &status, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
            char said[4096];
            tail_of(r->err, said, sizeof(said));
            cr_assert_fail("overlap bench did not finish in %.0f s; the end of what it said:\n%s",
                           timeout_s, said);
        }
        usleep(20000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sweep_run(struct sweep_run *r, const char *tmp, const char *const *args, double timeout_s)
{
    sweep_start(r, tmp, args);
    return sweep_wait(r, timeout_s);
}

void sweep_results_dir(const struct sweep_run *r, char *dir, size_t len)
{
    char link[700], target[256];
    snprintf(link, sizeof(link), "%s/latest", r->results);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) { /* why the sweep made no folder is in what it said */
        char said[2048] = "";
        FILE *f = fopen(r->err, "r");
        if (f) {
            said[fread(said, 1, sizeof(said) - 1, f)] = '\0';
            fclose(f);
        }
        cr_assert_gt(n, 0, "no results/latest; the sweep said:\n%s", said);
    }
    target[n] = '\0';
    cr_expect_null(strchr(target, '/'), "latest points outside results/: %s", target);
    snprintf(dir, len, "%s/%s", r->results, target);
}

/* ---- a capacity search's probes, read back ---- */

/* Run id's requests sent and within the goal from runs/NNN-load.csv; 0, or
 * -1 when it has none. */
static int run_counts(const char *dir, int id, double *sent, double *within)
{
    char path[900];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/runs/%03d-load.csv", dir, id);
    if (csv_load(path, &t) < 0)
        return -1;
    int rc = -1;
    if (t.nrows == 1 && *csv_get(&t, 0, "within_goal")) {
        *sent =
            csv_num(&t, 0, "requests") + csv_num(&t, 0, "errors") - csv_num(&t, 0, "errors_status");
        *within = csv_num(&t, 0, "within_goal");
        rc = 0;
    }
    csv_free(&t);
    return rc;
}

/* The next runs.csv row at or after *row that is a probe's run. */
static int next_probe_run(const struct csv_table *runs, int *row)
{
    while (*row < runs->nrows && strcmp(csv_get(runs, *row, "loop"), "capacity") != 0 &&
           strcmp(csv_get(runs, *row, "loop"), "map") != 0)
        ++*row;
    return *row < runs->nrows ? (*row)++ : -1;
}

int sweep_read_probes(const char *dir, const char *engine, int cell, struct sweep_probe *out,
                      int max)
{
    char path[900];
    struct csv_table t, runs;
    snprintf(path, sizeof(path), "%s/probes.csv", dir);
    if (csv_load(path, &t) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    cr_assert_eq(csv_load(path, &runs), 0, "no runs.csv in %s", dir);
    int n = 0, row = 0;
    for (int i = 0; i < t.nrows; i++) {
        double sent = 0, within = 0;
        int all = 1;
        for (int k = 0; k < (int)csv_num(&t, i, "runs"); k++) {
            int r = next_probe_run(&runs, &row);
            cr_assert_geq(r, 0, "probes.csv row %d: its runs are not in runs.csv", i + 1);
            cr_expect_eq(csv_num(&runs, r, "rate"), csv_num(&t, i, "rate"),
                         "probes.csv row %d: run %d at another rate", i + 1, r + 1);
            double s = 0, w = 0;
            if (strcmp(csv_get(&runs, r, "status"), "ok") != 0 ||
                run_counts(dir, (int)csv_num(&runs, r, "run"), &s, &w) < 0)
                all = 0; /* a failed run counts its planned requests, none within */
            sent += s;
            within += w;
        }
        if (all) {
            cr_expect_eq(csv_num(&t, i, "requests"), sent,
                         "probes.csv row %d: %.0f requests, its runs sent %.0f", i + 1,
                         csv_num(&t, i, "requests"), sent);
            cr_expect_eq(csv_num(&t, i, "within_goal"), within,
                         "probes.csv row %d: %.0f within, its runs %.0f", i + 1,
                         csv_num(&t, i, "within_goal"), within);
        }
        if (strcmp(csv_get(&t, i, "engine"), engine) != 0 || (int)csv_num(&t, i, "cell") != cell)
            continue;
        if (n < max) {
            out[n] = (struct sweep_probe){.rate = csv_num(&t, i, "rate"),
                                          .requests = csv_num(&t, i, "requests"),
                                          .within = csv_num(&t, i, "within_goal")};
            snprintf(out[n].verdict, sizeof(out[n].verdict), "%s", csv_get(&t, i, "verdict"));
        }
        n++;
    }
    csv_free(&runs);
    csv_free(&t);
    return n < max ? n : max;
}

/* ---- a capacity search, replayed ---- */

#define SEARCH_DOWN   1024.0 /* bench_capacity.c: the lowest rate is the bound over this */
#define RATE_SLACK    0.002  /* runs.csv prints rates to 0.001 req/s */
#define BRACKET_SLACK 0.051  /* capacity.csv and map.csv print them to 0.1 */

/* Where a replayed search goes after a probe. */
struct replay {
    const struct sweep_search *s;
    double lo, hi;   /* the bracket so far: highest rate met, lowest not met */
    double missed;   /* the lowest rate missed */
    int first;       /* the first probe's verdict: met or not */
    int bisecting;   /* the verdict changed once: the bracket is closed */
    const char *end; /* the status the search may end with here, or NULL */
    double next;     /* else the rate it probes next */
};

/* The search's step after probe k (1-based) at rate, as capacity.c takes
 * it: the outer limits in the bracketing phase (and a probe of too few
 * requests when halving), the tolerance and the budget after it. A bracket
 * within rounding of the tolerance may either stop or go on: *either is set
 * then. */
static void replay_step(struct replay *r, int k, double rate, enum capacity_verdict v, int *either)
{
    const struct sweep_search *s = r->s;
    int budget = s->max_probes > 0 ? s->max_probes : CAPACITY_MAX_PROBES, met = v == CAPACITY_MET;
    *either = 0;
    r->end = NULL;
    if (!r->bisecting && met == r->first) {
        if (r->first ? rate >= s->bound - RATE_SLACK
                     : rate <= s->bound / SEARCH_DOWN + RATE_SLACK || v == CAPACITY_TOO_FEW)
            r->end = r->first ? "always_met" : r->missed <= r->hi ? "never_met" : "undecided";
        else if (k >= budget)
            r->end = "out_of_probes";
        else
            r->next = r->first ? fmin(2 * rate, s->bound) : fmax(rate / 2, s->bound / SEARCH_DOWN);
        return;
    }
    r->bisecting = 1;
    double width = r->hi - r->lo, allowed = s->tolerance * r->lo;
    if (width <= allowed + RATE_SLACK) {
        r->end = "found";
        *either = width > allowed - RATE_SLACK && k < budget;
    } else if (k >= budget) {
        r->end = "out_of_probes";
    }
    r->next = (r->lo + r->hi) / 2;
}

/* The verdict probes.csv names, as capacity.h's enum; -1 for none of them. */
static int verdict_of(const char *name)
{
    for (int v = CAPACITY_MET; v <= CAPACITY_TOO_FEW; v++)
        if (!strcmp(name, capacity_verdict_name((enum capacity_verdict)v)))
            return v;
    return -1;
}

static int same_rate(double a, double b)
{
    return (isinf(a) && isinf(b)) || fabs(a - b) <= BRACKET_SLACK;
}

void sweep_expect_search(const struct sweep_probe *p, int n, const struct sweep_search *s,
                         const char *what)
{
    cr_assert_gt(n, 0, "%s: no probe", what);
    cr_expect(s->lo < s->hi, "%s: the bracket [%.1f, %.1f] is not one", what, s->lo, s->hi);
    struct replay r = {
        .s = s, .lo = 0, .hi = INFINITY, .missed = INFINITY, .first = -1, .next = s->bound};
    for (int k = 1; k <= n; k++) {
        const struct sweep_probe *q = &p[k - 1];
        cr_expect(fabs(q->rate - r.next) <= RATE_SLACK + 1e-6 * r.next,
                  "%s: probe %d at %.3f req/s, the search's next was %.3f", what, k, q->rate,
                  r.next);
        cr_expect_leq(q->rate, s->bound + RATE_SLACK, "%s: probe %d past the bound", what, k);
        int v = verdict_of(q->verdict);
        cr_assert_geq(v, 0, "%s: probe %d's verdict '%s'", what, k, q->verdict);
        enum capacity_verdict own = capacity_judge(q->within, q->requests, s->percentile);
        cr_expect_eq(
            v, (int)own, "%s: probe %d at %.3f req/s: %s, but %.0f of %.0f within the goal say %s",
            what, k, q->rate, q->verdict, q->within, q->requests, capacity_verdict_name(own));
        int met = v == CAPACITY_MET;
        if (r.first < 0)
            r.first = met;
        if (met)
            r.lo = fmax(r.lo, q->rate);
        else
            r.hi = fmin(r.hi, q->rate);
        if (v == CAPACITY_MISSED)
            r.missed = fmin(r.missed, q->rate);
        int either;
        replay_step(&r, k, q->rate, (enum capacity_verdict)v, &either);
        if (k < n)
            cr_expect(!r.end || either, "%s: probe %d should have ended the search (%s)", what,
                      k + 1, r.end);
        else
            cr_expect(r.end != NULL, "%s: the search stopped after %d probes, owing one at %.3f",
                      what, n, r.next);
    }
    if (!r.end)
        return;
    cr_expect_str_eq(s->status, r.end, "%s: status", what);
    cr_expect(same_rate(r.lo, s->lo), "%s: capacity %.1f, the probes say %.3f", what, s->lo, r.lo);
    cr_expect(same_rate(r.hi, s->hi), "%s: capacity_hi %.1f, the probes say %.3f", what, s->hi,
              r.hi);
    cr_expect(same_rate(r.missed, s->missed), "%s: capacity_missed %.1f, the probes say %.3f", what,
              s->missed, r.missed);
}

void sweep_expect_flags(const struct bench__checks *c, const char *want, const char *what)
{
    char words[256];
    bench__flag_words(bench__check(c), words, sizeof(words));
    cr_expect_str_eq(words, want, "%s: flags '%s', want '%s'", what, words, want);
}

void sweep_percentile_interval(const struct hist *h, double p, double *lo, double *hi)
{
    double n = (double)hist_count(h), rlo, rhi;
    *lo = 0;
    *hi = INFINITY;
    if (stats_quantile_ranks(n, p / 100, &rlo, &rhi) < 0)
        return;
    if (rlo >= 1)
        *lo = hist_percentile(h, 100 * rlo / n) / 1e6;
    if (rhi <= n)
        *hi = hist_percentile(h, 100 * rhi / n) / 1e6;
}
