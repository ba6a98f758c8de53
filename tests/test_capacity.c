/* The capacity search against synthetic servers whose capacity is known in
 * closed form (an M/D/1-like latency curve), noisy ones, ones that never or
 * always meet the goal; and the goal's grammar, good and malformed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capacity.h"
#include "sweep.h"
#include "wl.h"

#define N(x) ((int)(sizeof(x) / sizeof((x)[0])))

/* ---- the goal ---- */

Test(capacity, goals_parse)
{
    const struct {
        const char *text;
        double percentile, ms;
    } table[] = {
        {"p99 100ms", 99, 100},  {"p99.9 1.5s", 99.9, 1500},    {"p50 250us", 50, 0.25},
        {"p90\t20ms", 90, 20},   {"p99   2s", 99, 2000},        {"p99.999 1s", 99.999, 1000},
        {"p1 500ns", 1, 0.0005}, {"p99 1\xc2\xb5s", 99, 0.001},
    };
    for (int i = 0; i < N(table); i++) {
        struct capacity_goal goal;
        char err[CAPACITY_ERR_LEN] = "";
        cr_assert_eq(capacity_goal_parse(table[i].text, &goal, err, sizeof(err)), 0, "%s: %s",
                     table[i].text, err);
        cr_expect_float_eq(goal.percentile, table[i].percentile, 1e-12, "%s", table[i].text);
        cr_expect_float_eq(goal.ms, table[i].ms, 1e-12, "%s", table[i].text);
    }
}

Test(capacity, malformed_goals_are_refused_with_a_reason)
{
    const struct {
        const char *text, *reason;
    } table[] = {
        {"p 100ms", "no percentile"},
        {"p100 1s", "strictly between p0 and p100"},
        {"p0 1s", "strictly between"},
        {"p0.0 1s", "strictly between"},
        {"p99", "no duration"},
        {"p99 ", "bad duration ''"},
        {"p99 -1ms", "bad duration '-1ms'"},
        {"p99 abc", "bad duration 'abc'"},
        {"p99 100", "bad duration '100'"},
        {"p99 100 ms", "bad duration '100 ms'"},
        {"p99 100ms extra", "bad duration"},
        {"p99 100ms ", "bad duration"},
        {"p99 0ms", "never met"},
        {"p99 2h", "bad duration"},
        {"99 100ms", "no percentile"},
        {"P99 100ms", "no percentile"},
        {" p99 100ms", "no percentile"},
        {"p999 1s", "strictly between"},
        {"p1000 1s", "no percentile"},
        {"p99.9999 1s", "no percentile"},
        {"p99. 1s", "no percentile"},
        {"p.9 1s", "no percentile"},
        {"p99x 1s", "no percentile"},
        {"", "no percentile"},
    };
    for (int i = 0; i < N(table); i++) {
        struct capacity_goal goal = {-1, -1};
        char err[CAPACITY_ERR_LEN] = "", want[64];
        cr_expect_eq(capacity_goal_parse(table[i].text, &goal, err, sizeof(err)), -1, "'%s'",
                     table[i].text);
        snprintf(want, sizeof(want), "bad goal '%s': ", table[i].text);
        cr_expect(strncmp(err, want, strlen(want)) == 0, "'%s': %s", table[i].text, err);
        cr_expect(strstr(err, table[i].reason) != NULL, "'%s': %s", table[i].text, err);
        cr_expect(strstr(err, "expected") != NULL, "'%s': %s", table[i].text, err);
        cr_expect_eq(goal.ms, -1, "'%s' left the goal as it was", table[i].text);
    }
}

/* ---- synthetic servers ---- */

/* A server whose p99 at rate r (req/s) is D + r D^2 / (2 (1 - r D)), the
 * shape of M/D/1's response with D the service time, and infinite at and
 * past 1 / D. With D = 1 ms and a goal of 10 ms, the capacity solves
 * 9 ms = r D^2 / (2 (1 - r D)): r = 18 / 19 per ms, 947.37 req/s. */
struct server {
    double service_ms;
    double spread;   /* the probe's interval: value x (1 -+ spread) */
    double noise;    /* relative standard deviation of the value, seeded */
    double fixed_ms; /* > 0: this latency at every rate */
    int error;       /* < 0: fail every probe with it */
    struct wl_rng rng;
    int calls;
    double lowest, highest;      /* rates probed */
    struct sweep_probe seen[64]; /* each probe as runs.csv would record it */
};

#define MD1_CAPACITY (18.0 / 19 * 1000)

static double server_latency(struct server *s, double rate)
{
    if (s->fixed_ms > 0)
        return s->fixed_ms;
    double d = s->service_ms, r = rate / 1000;
    if (r * d >= 1)
        return INFINITY;
    return d + r * d * d / (2 * (1 - r * d));
}

static double normal(struct wl_rng *rng)
{
    double u = wl_rng_double(rng), v = wl_rng_double(rng);
    return sqrt(-2 * log1p(-u)) * cos(2 * M_PI * v);
}

static int probe_server(void *ctx, double rate, double *value, double *lo, double *hi)
{
    struct server *s = ctx;
    s->calls++;
    s->lowest = s->calls == 1 ? rate : fmin(s->lowest, rate);
    s->highest = s->calls == 1 ? rate : fmax(s->highest, rate);
    if (s->error < 0)
        return s->error;
    double v = server_latency(s, rate);
    if (s->noise > 0)
        v *= 1 + s->noise * normal(&s->rng);
    if (s->calls <= 64)
        s->seen[s->calls - 1] = (struct sweep_probe){rate, isinf(v) ? NAN : v, 1, 0};
    *value = v;
    *lo = v * (1 - s->spread);
    *hi = v * (1 + s->spread);
    return 0;
}

static struct capacity_search search_of(struct server *s, double start)
{
    return (struct capacity_search){
        .goal = {99, 10},
        .start_rate = start,
        .min_rate = 1,
        .max_rate = 1e6,
        .probe = probe_server,
        .ctx = s,
    };
}

static void expect_found(const struct capacity_result *r, double want, double within)
{
    cr_expect_eq(r->status, CAPACITY_FOUND, "%s", capacity_status_name(r->status));
    cr_expect_float_eq(r->capacity, want, within * want, "capacity %g, want %g", r->capacity, want);
    cr_expect_eq(r->capacity, r->lo);
    cr_expect_lt(r->lo, r->hi);
    cr_expect_leq(r->hi - r->lo, CAPACITY_TOLERANCE * r->lo * (1 + 1e-12), "[%g, %g]", r->lo,
                  r->hi);
    cr_expect_leq(r->probes, CAPACITY_MAX_PROBES);
}

Test(capacity, finds_a_known_capacity_from_any_start)
{
    const double starts[] = {1000, 10, 1e5, MD1_CAPACITY, 1, 1e6};
    for (int i = 0; i < N(starts); i++) {
        struct server s = {.service_ms = 1};
        struct capacity_search search = search_of(&s, starts[i]);
        struct capacity_result r;
        cr_assert_eq(capacity_find(&search, &r), 0);
        expect_found(&r, MD1_CAPACITY, 0.02);
        /* the bracket holds the true capacity: lo met the goal, hi failed it */
        cr_expect_leq(r.lo, MD1_CAPACITY, "start %g", starts[i]);
        cr_expect_gt(r.hi, MD1_CAPACITY, "start %g", starts[i]);
        cr_expect_eq(r.probes, s.calls, "one callback per probe");
        cr_expect_geq(s.lowest, 1);
        cr_expect_leq(s.highest, 1e6);
    }
}

Test(capacity, a_noisy_server_is_found_within_5_percent)
{
    for (int seed = 1; seed <= 20; seed++) {
        struct server s = {.service_ms = 1, .noise = 0.03, .spread = 0.05};
        wl_rng_seed(&s.rng, (uint64_t)seed);
        struct capacity_search search = search_of(&s, 1000);
        struct capacity_result r;
        cr_assert_eq(capacity_find(&search, &r), 0);
        cr_expect_neq(r.status, CAPACITY_NEVER_MET);
        cr_expect_float_eq(r.capacity, MD1_CAPACITY, 0.05 * MD1_CAPACITY, "seed %d: %g", seed,
                           r.capacity);
        cr_expect_eq(r.probes, s.calls);
    }
}

Test(capacity, an_interval_straddling_the_goal_fails_it)
{
    /* The estimate meets the goal up to 947 req/s, but the interval's upper
     * end, 1.8 times it, only up to where D + r D^2 / (2 (1 - r D)) = 10 / 1.8:
     * r = 2 (10 / 1.8 - 1) / (1 + 2 (10 / 1.8 - 1)) per ms. */
    struct server s = {.service_ms = 1, .spread = 0.8};
    struct capacity_search search = search_of(&s, 1000);
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    double x = 2 * (10 / 1.8 - 1);
    expect_found(&r, x / (1 + x) * 1000, 0.02);
}

Test(capacity, a_goal_never_met_gives_capacity_0)
{
    struct server s = {.fixed_ms = 500};
    struct capacity_search search = search_of(&s, 1000);
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_NEVER_MET);
    cr_expect_str_eq(capacity_status_name(r.status), "never met");
    cr_expect_eq(r.capacity, 0.0);
    cr_expect_eq(r.lo, 0.0);
    cr_expect_eq(r.hi, 1.0, "the lowest rate tried, min_rate");
    cr_expect_eq(r.probes, 11, "1000, 500, ..., 1.95, then 1");
    cr_expect_eq(s.lowest, 1.0);
}

Test(capacity, a_goal_always_met_stops_at_the_cap)
{
    struct server s = {.fixed_ms = 1};
    struct capacity_search search = search_of(&s, 1000);
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_ALWAYS_MET);
    cr_expect_str_eq(capacity_status_name(r.status), "always met");
    cr_expect_eq(r.capacity, 1e6, "at least the cap");
    cr_expect_eq(r.hi, INFINITY);
    cr_expect_eq(r.probes, 11, "1000, 2000, ..., 512000, then 1e6");
    cr_expect_eq(s.highest, 1e6);
}

Test(capacity, the_probe_budget_is_kept_and_reported)
{
    /* A cap of 1e12 needs 30 doublings from 1000: the budget of 20 runs out. */
    struct server s = {.fixed_ms = 1};
    struct capacity_search search = search_of(&s, 1000);
    search.max_rate = 1e12;
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_OUT_OF_PROBES);
    cr_expect_str_eq(capacity_status_name(r.status), "out of probes");
    cr_expect_eq(r.probes, CAPACITY_MAX_PROBES);
    cr_expect_eq(s.calls, CAPACITY_MAX_PROBES);
    cr_expect_eq(r.capacity, 1000 * pow(2, 19), "the best rate met so far");

    /* Out of probes while bisecting: the bracket so far, still a bracket. */
    struct server t = {.service_ms = 1};
    search = search_of(&t, 1e5);
    search.max_probes = 9;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_OUT_OF_PROBES);
    cr_expect_eq(r.probes, 9);
    cr_expect_leq(r.lo, MD1_CAPACITY);
    cr_expect_gt(r.hi, MD1_CAPACITY);
    cr_expect_gt(r.hi - r.lo, CAPACITY_TOLERANCE * r.lo);
}

Test(capacity, a_tighter_tolerance_costs_more_probes)
{
    struct server s = {.service_ms = 1}, t = {.service_ms = 1};
    struct capacity_search search = search_of(&s, 1000);
    struct capacity_result loose, tight;
    cr_assert_eq(capacity_find(&search, &loose), 0);
    search = search_of(&t, 1000);
    search.tolerance = 0.001;
    search.max_probes = 40;
    cr_assert_eq(capacity_find(&search, &tight), 0);
    cr_expect_eq(tight.status, CAPACITY_FOUND);
    cr_expect_gt(tight.probes, loose.probes);
    cr_expect_float_eq(tight.capacity, MD1_CAPACITY, 0.001 * MD1_CAPACITY);
}

static int probe_nothing(void *ctx, double rate, double *value, double *lo, double *hi)
{
    int *calls = ctx;
    ++*calls;
    *value = rate < 100 ? 1 : NAN; /* above 100 req/s nothing comes back */
    *lo = *hi = *value;
    return 0;
}

Test(capacity, a_probe_without_an_answer_fails_the_goal)
{
    int calls = 0;
    struct capacity_search search = {.goal = {99, 10},
                                     .start_rate = 1000,
                                     .min_rate = 1,
                                     .max_rate = 1e6,
                                     .probe = probe_nothing,
                                     .ctx = &calls};
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_FOUND);
    cr_expect_lt(r.capacity, 100);
    cr_expect_geq(r.capacity, 98);
}

Test(capacity, a_probe_error_stops_the_search)
{
    struct server s = {.service_ms = 1, .error = -EIO};
    struct capacity_search search = search_of(&s, 1000);
    struct capacity_result r;
    cr_expect_eq(capacity_find(&search, &r), -EIO);
    cr_expect_eq(r.probes, 1);
    cr_expect_eq(s.calls, 1);
    cr_expect_eq(r.capacity, 0.0);
}

Test(capacity, bad_searches_are_refused)
{
    struct server s = {.service_ms = 1};
    struct capacity_result r;
    struct capacity_search search = search_of(&s, 1000);
    search.min_rate = 0;
    cr_expect_eq(capacity_find(&search, &r), -EINVAL, "no lowest rate");
    search = search_of(&s, 0.5);
    cr_expect_eq(capacity_find(&search, &r), -EINVAL, "a start below min_rate");
    search = search_of(&s, 2e6);
    cr_expect_eq(capacity_find(&search, &r), -EINVAL, "a start above max_rate");
    search = search_of(&s, 1000);
    search.probe = NULL;
    cr_expect_eq(capacity_find(&search, &r), -EINVAL);
    search = search_of(&s, 1000);
    search.goal.ms = 0;
    cr_expect_eq(capacity_find(&search, &r), -EINVAL);
    search = search_of(&s, 1000);
    search.tolerance = 1;
    cr_expect_eq(capacity_find(&search, &r), -EINVAL);
    search = search_of(&s, 1000);
    search.max_probes = -1;
    cr_expect_eq(capacity_find(&search, &r), -EINVAL);
    cr_expect_eq(s.calls, 0, "nothing probed");
}

/* The replay the sweep tests check a sweep's probes with (sweep.h) takes
 * every step capacity_find takes, for searches set up as a sweep sets them
 * (from a bound, down to a 1,024th of it, never past it), ending in each
 * status: it agrees with the search it replays. */
Test(capacity, the_sweep_tests_replay_agrees_with_the_search)
{
    const struct {
        double service_ms, fixed_ms, bound, tolerance;
        int max_probes;
        const char *status;
    } table[] = {
        {1, 0, 1000, 0.02, 0, "found"},          {1, 0, 5000, 0.1, 0, "found"},
        {1, 0, 900, 0.02, 0, "always_met"},      {0, 500, 1000, 0.02, 0, "never_met"},
        {0, 1, 1000, 0.02, 0, "always_met"},     {1, 0, 1e5, 0.02, 9, "out_of_probes"},
        {1, 0, 2e5, 0.001, 15, "out_of_probes"},
    };
    for (int i = 0; i < N(table); i++) {
        struct server s = {.service_ms = table[i].service_ms, .fixed_ms = table[i].fixed_ms};
        struct capacity_search search = {.goal = {99, 10},
                                         .start_rate = table[i].bound,
                                         .min_rate = table[i].bound / 1024,
                                         .max_rate = table[i].bound,
                                         .tolerance = table[i].tolerance,
                                         .max_probes = table[i].max_probes,
                                         .probe = probe_server,
                                         .ctx = &s};
        struct capacity_result r;
        cr_assert_eq(capacity_find(&search, &r), 0);
        char status[32];
        snprintf(status, sizeof(status), "%s", capacity_status_name(r.status));
        for (char *p = status; *p; p++)
            *p = *p == ' ' ? '_' : *p;
        cr_expect_str_eq(status, table[i].status, "search %d: %s", i + 1, status);
        cr_assert_leq(r.probes, 64);
        /* as capacity.csv writes them: to 0.1 req/s, and runs.csv to 0.001 */
        struct sweep_search want = {.goal_ms = 10,
                                    .bound = table[i].bound,
                                    .tolerance = table[i].tolerance,
                                    .max_probes = table[i].max_probes,
                                    .status = status,
                                    .lo = round(r.lo * 10) / 10,
                                    .hi = isinf(r.hi) ? INFINITY : round(r.hi * 10) / 10};
        for (int k = 0; k < r.probes; k++)
            s.seen[k].rate = round(s.seen[k].rate * 1000) / 1000;
        char what[32];
        snprintf(what, sizeof(what), "search %d", i + 1);
        sweep_expect_search(s.seen, r.probes, &want, what);
    }
}

/* A run's failures count past every latency: with none, the percentile is
 * the spectrum's own; lost requests push it up the answered spectrum,
 * refusals (answered at once, its lowest) further; and failures past
 * 100 - q percent miss the goal whatever the latencies. */
Test(capacity, failed_requests_count_past_every_latency)
{
    cr_expect_float_eq(capacity_failed_percentile(99, 1000, 0, 0), 99, 1e-9);
    cr_expect_float_eq(capacity_failed_percentile(50, 1000, 0, 0), 50, 1e-9);
    /* 5 lost of 1,000: p99 of all is the answered 995's (990 / 995) */
    cr_expect_float_eq(capacity_failed_percentile(99, 995, 5, 0), 99.0 * 1000 / 995, 1e-9);
    /* 5 refused among 1,000 answered: the 990th of all is the answered 995th */
    cr_expect_float_eq(capacity_failed_percentile(99, 1000, 0, 5), 99.5, 1e-9);
    /* 40 lost and 50 refused of 940: the 846th of all is the answered 896th */
    cr_expect_float_eq(capacity_failed_percentile(90, 900, 40, 50), 896.0 / 900 * 100, 1e-9);
    cr_expect(isinf(capacity_failed_percentile(90, 900, 50, 50)), "100 failed of 950 pass 10 %%");
    /* exactly 1 % failed still leaves p99 to the latencies; more does not */
    cr_expect(isfinite(capacity_failed_percentile(99, 995, 5, 5)));
    cr_expect_float_eq(capacity_failed_percentile(99, 995, 5, 5), 100, 1e-9);
    cr_expect(isinf(capacity_failed_percentile(99, 994, 6, 5)));
    cr_expect(isinf(capacity_failed_percentile(99, 1000, 0, 11)));
    cr_expect(isinf(capacity_failed_percentile(50, 0, 10, 0)), "nothing answered");
    cr_expect(isinf(capacity_failed_percentile(99, 0, 0, 0)), "nothing at all");
}
