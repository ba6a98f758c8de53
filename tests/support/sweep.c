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

#include "capacity.h"

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

int sweep_wait(struct sweep_run *r, double timeout_s)
{
    int status;
    double until = now_s() + timeout_s;
    while (waitpid(r->pid, &status, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
            cr_assert_fail("overlap bench did not finish in %.0f s", timeout_s);
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
    cr_assert_gt(n, 0, "no results/latest");
    target[n] = '\0';
    cr_expect_null(strchr(target, '/'), "latest points outside results/: %s", target);
    snprintf(dir, len, "%s/%s", r->results, target);
}

/* ---- a capacity search, replayed ---- */

#define SEARCH_DOWN   1024.0 /* bench_capacity.c: the lowest rate is the bound over this */
#define RATE_SLACK    0.002  /* runs.csv prints rates to 0.001 req/s */
#define BRACKET_SLACK 0.051  /* capacity.csv and map.csv print them to 0.1 */

/* Where a replayed search goes after a probe. */
struct replay {
    const struct sweep_search *s;
    double lo, hi;   /* the bracket so far: highest rate met, lowest missed */
    int first;       /* the first probe's verdict */
    int bisecting;   /* the verdict changed once: the bracket is closed */
    const char *end; /* the status the search may end with here, or NULL */
    double next;     /* else the rate it probes next */
};

/* The search's step after probe k (1-based) at rate, as capacity.c takes
 * it: the outer limits in the bracketing phase, the tolerance and the
 * budget after it. A bracket within rounding of the tolerance may either
 * stop or go on: *either is set then. */
static void replay_step(struct replay *r, int k, double rate, int met, int *either)
{
    const struct sweep_search *s = r->s;
    int budget = s->max_probes > 0 ? s->max_probes : CAPACITY_MAX_PROBES;
    *either = 0;
    r->end = NULL;
    if (!r->bisecting && met == r->first) {
        if (r->first ? rate >= s->bound - RATE_SLACK : rate <= s->bound / SEARCH_DOWN + RATE_SLACK)
            r->end = r->first ? "always_met" : "never_met";
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

/* A probe's own figures agree with the verdict the search gave it: a probe
 * met only with its percentile within the goal; one missed had it past the
 * goal, or failed, or lost requests (which count past every latency). */
static void expect_verdict(const struct sweep_probe *p, int k, int met, double goal,
                           const char *what)
{
    if (met)
        cr_expect(p->ok && p->value <= goal, "%s: probe %d at %.3f req/s met %.1f ms with %.3f ms",
                  what, k, p->rate, goal, p->value);
    else
        cr_expect(!p->ok || !(p->value <= goal) || p->errors > 0,
                  "%s: probe %d at %.3f req/s missed %.1f ms with %.3f ms and no error", what, k,
                  p->rate, goal, p->value);
}

void sweep_expect_search(const struct sweep_probe *p, int n, const struct sweep_search *s,
                         const char *what)
{
    cr_assert_gt(n, 0, "%s: no probe", what);
    cr_expect(s->lo < s->hi, "%s: the bracket [%.1f, %.1f] is not one", what, s->lo, s->hi);
    struct replay r = {.s = s, .lo = 0, .hi = INFINITY, .first = -1, .next = s->bound};
    for (int k = 1; k <= n; k++) {
        const struct sweep_probe *q = &p[k - 1];
        cr_expect(fabs(q->rate - r.next) <= RATE_SLACK + 1e-6 * r.next,
                  "%s: probe %d at %.3f req/s, the search's next was %.3f", what, k, q->rate,
                  r.next);
        cr_expect_leq(q->rate, s->bound + RATE_SLACK, "%s: probe %d past the bound", what, k);
        /* met rates lie at or under lo, missed ones at or over hi: the
         * search only ever probes inside its bracket */
        int met = q->rate <= s->lo + BRACKET_SLACK;
        expect_verdict(q, k, met, s->goal_ms, what);
        if (r.first < 0)
            r.first = met;
        if (met)
            r.lo = fmax(r.lo, q->rate);
        else
            r.hi = fmin(r.hi, q->rate);
        int either;
        replay_step(&r, k, q->rate, met, &either);
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
    cr_expect(fabs(r.lo - s->lo) <= BRACKET_SLACK, "%s: capacity %.1f, the probes say %.3f", what,
              s->lo, r.lo);
    cr_expect((isinf(r.hi) && isinf(s->hi)) || fabs(r.hi - s->hi) <= BRACKET_SLACK,
              "%s: capacity_hi %.1f, the probes say %.3f", what, s->hi, r.hi);
}
