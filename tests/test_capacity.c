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

/* ---- a probe's verdict ---- */

Test(capacity, eighteen_requests_decide_nothing)
{
    /* A p99 of 18 requests is their maximum: all 18 within the goal, or all
     * but one, say nothing of the 99th percentile, and no lower rate (fewer
     * requests in the same window) could say more. */
    cr_expect_eq(capacity_judge(18, 18, 99), CAPACITY_TOO_FEW);
    cr_expect_eq(capacity_judge(17, 18, 99), CAPACITY_TOO_FEW);
    /* ... but 18 requests can show it missed: none, or a third, within. */
    cr_expect_eq(capacity_judge(0, 18, 99), CAPACITY_MISSED);
    cr_expect_eq(capacity_judge(12, 18, 99), CAPACITY_MISSED);
    /* Met takes 368 requests all within, or more with a few out. */
    cr_expect_eq(capacity_judge(367, 367, 99), CAPACITY_TOO_FEW);
    cr_expect_eq(capacity_judge(368, 368, 99), CAPACITY_MET);
    cr_expect_eq(capacity_judge(999, 1000, 99), CAPACITY_MET);
    cr_expect_eq(capacity_judge(995, 1000, 99), CAPACITY_UNDECIDED, "p99 of 995 in 1000");
    cr_expect_eq(capacity_judge(990, 1000, 99), CAPACITY_UNDECIDED);
    cr_expect_eq(capacity_judge(975, 1000, 99), CAPACITY_MISSED);
    /* The median needs 6. */
    cr_expect_eq(capacity_judge(5, 5, 50), CAPACITY_TOO_FEW);
    cr_expect_eq(capacity_judge(6, 6, 50), CAPACITY_MET);
    cr_expect_eq(capacity_judge(0, 0, 99), CAPACITY_TOO_FEW, "nothing sent");
    cr_expect_str_eq(capacity_verdict_name(CAPACITY_TOO_FEW), "too-few");
    cr_expect_str_eq(capacity_verdict_name(CAPACITY_UNDECIDED), "undecided");
}

Test(capacity, requests_needed_are_the_fewest_that_decide)
{
    cr_expect_float_eq(capacity_requests_needed(1000, 1000, 99), 1000, 0, "decided already");
    cr_expect_float_eq(capacity_requests_needed(18, 18, 99), 368, 0, "all within: p99's 368");
    const double cases[][2] = {{990, 1000}, {994, 1000}, {980, 1000}, {40, 40}, {39, 40}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double k = cases[i][0], n = cases[i][1], f = k / n;
        double m = capacity_requests_needed(k, n, 99);
        if (fabs(f - 0.99) < 1e-12) {
            cr_expect(isinf(m), "%g of %g sit at the percentile: no count decides", k, n);
            continue;
        }
        cr_assert(isfinite(m) && m >= n, "%g of %g: %g", k, n, m);
        enum capacity_verdict at = capacity_judge(round(f * m), m, 99);
        enum capacity_verdict before = capacity_judge(round(f * (m - 1)), m - 1, 99);
        cr_expect(at == CAPACITY_MET || at == CAPACITY_MISSED, "%g of %g at %g", k, n, m);
        cr_expect(m == n || (before != CAPACITY_MET && before != CAPACITY_MISSED), "%g of %g: %g",
                  k, n, m);
    }
    cr_expect(isinf(capacity_requests_needed(5, 4, 99)), "more within than sent");
}

/* ---- synthetic servers ---- */

/* A server whose p99 at rate r (req/s) is D + r D^2 / (2 (1 - r D)), the
 * shape of M/D/1's response with D the service time, and infinite at and
 * past 1 / D. With D = 1 ms and a goal of 10 ms, the capacity solves
 * 9 ms = r D^2 / (2 (1 - r D)): r = 18 / 19 per ms, 947.37 req/s.
 * A probe sends rate x window requests; all are within the goal when the
 * p99 (times 1 + spread) is, none when it (times 1 - spread) is past it,
 * and 99 % otherwise, which no count of requests decides. */
struct server {
    double service_ms;
    double spread;   /* the p99's uncertainty: value x (1 -+ spread) */
    double noise;    /* relative standard deviation of the value, seeded */
    double fixed_ms; /* > 0: this latency at every rate */
    double window_s; /* a probe's window; 0 for 10 s */
    int error;       /* < 0: fail every probe with it */
    struct wl_rng rng;
    int calls;
    double lowest, highest;      /* rates probed */
    struct sweep_probe seen[64]; /* each probe as probes.csv would record it */
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

static int probe_server(void *ctx, double rate, enum capacity_verdict *verdict)
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
    double n = floor(rate * (s->window_s > 0 ? s->window_s : 10)), goal = 10;
    double k = v * (1 + s->spread) <= goal ? n : v * (1 - s->spread) > goal ? 0 : round(0.99 * n);
    *verdict = capacity_judge(k, n, 99);
    if (s->calls <= 64) {
        s->seen[s->calls - 1] = (struct sweep_probe){.rate = rate, .requests = n, .within = k};
        snprintf(s->seen[s->calls - 1].verdict, sizeof(s->seen[0].verdict), "%s",
                 capacity_verdict_name(*verdict));
    }
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
        /* windows long enough that 1 req/s holds a p99's requests */
        struct server s = {.service_ms = 1, .window_s = 400};
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
    /* Those rates were undecided, not missed: the widened bracket runs to
     * the first rate missed, 1000 req/s, where the server saturates. */
    cr_expect_gt(r.undecided, 0);
    cr_expect_eq(r.missed, 1000.0);
}

Test(capacity, halving_stops_at_a_probe_of_too_few_requests)
{
    /* 100 req/s over 0.18 s: 18 requests, all within the goal. Too few to
     * judge a p99, and every rate below would have fewer: the search stops
     * after one probe, undecided, with nothing met and nothing missed. */
    struct server s = {.fixed_ms = 1, .window_s = 0.18};
    struct capacity_search search = search_of(&s, 100);
    search.max_rate = 100;
    struct capacity_result r;
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_NONE_DECIDED, "%s", capacity_status_name(r.status));
    cr_expect_str_eq(capacity_status_name(r.status), "undecided");
    cr_expect_eq(r.probes, 1);
    cr_expect_eq(r.capacity, 0.0);
    cr_expect_eq(r.hi, 100.0);
    cr_expect(isinf(r.missed));
    cr_expect_eq(r.undecided, 1);

    /* A goal at the latency itself: every rate undecided until the windows
     * hold too few requests to go on halving. */
    struct server t = {.fixed_ms = 10, .spread = 0.1};
    search = search_of(&t, 1000);
    cr_assert_eq(capacity_find(&search, &r), 0);
    cr_expect_eq(r.status, CAPACITY_NONE_DECIDED);
    cr_expect_eq(r.capacity, 0.0);
    cr_expect_eq(r.undecided, r.probes);
    cr_expect_geq(t.lowest, 36.8 / 2, "halved only while the windows held 368 requests");
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
    cr_expect_eq(r.missed, 1.0, "missed, not undecided");
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

static int probe_nothing(void *ctx, double rate, enum capacity_verdict *verdict)
{
    int *calls = ctx;
    ++*calls;
    double n = floor(rate * 10); /* above 100 req/s nothing comes back */
    *verdict = capacity_judge(rate < 100 ? n : 0, n, 99);
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

/* The search a probe at a time: two searches stepped in turn end where
 * each would alone, probe for probe. */
Test(capacity, searches_stepped_in_turn_end_as_they_would_alone)
{
    struct server s[2] = {{.service_ms = 1}, {.service_ms = 2}},
                  alone[2] = {{.service_ms = 1}, {.service_ms = 2}};
    struct capacity_search search[2] = {search_of(&s[0], 1000), search_of(&s[1], 1e5)};
    struct capacity_state st[2];
    struct capacity_result want[2];
    for (int i = 0; i < 2; i++) {
        struct capacity_search a = search_of(&alone[i], i ? 1e5 : 1000);
        cr_assert_eq(capacity_find(&a, &want[i]), 0);
        cr_assert_eq(capacity_start(&st[i], &search[i]), 0);
    }
    double rate;
    for (int round = 0; capacity_next(&st[0], &rate) || capacity_next(&st[1], &rate); round++)
        for (int i = 0; i < 2; i++)
            if (capacity_next(&st[i], &rate)) {
                enum capacity_verdict v;
                cr_assert_eq(probe_server(&s[i], rate, &v), 0);
                capacity_record(&st[i], v);
            }
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(st[i].out.status, want[i].status);
        cr_expect_eq(st[i].out.probes, want[i].probes);
        cr_expect_eq(st[i].out.capacity, want[i].capacity);
        cr_expect_eq(st[i].out.hi, want[i].hi);
        for (int k = 0; k < want[i].probes; k++)
            cr_expect_eq(s[i].seen[k].rate, alone[i].seen[k].rate, "search %d probe %d", i, k);
    }
    cr_expect_float_eq(st[1].out.capacity, 1000 * 2 * (10.0 / 2 - 1) / (1 + 2 * (10.0 / 2 - 1)) / 2,
                       0.02 * 444, "D = 2 ms: r = 2 (G/D - 1) / (1 + 2 (G/D - 1)) / D");
    struct capacity_search bad = search_of(&s[0], 0.5);
    cr_expect_eq(capacity_start(&st[0], &bad), -EINVAL);
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
        {1, 0, 2e5, 0.001, 15, "out_of_probes"}, {0, 10, 1000, 0.02, 0, "undecided"},
    };
    for (int i = 0; i < N(table); i++) {
        struct server s = {.service_ms = table[i].service_ms,
                           .fixed_ms = table[i].fixed_ms,
                           .spread = table[i].fixed_ms == 10 ? 0.1 : 0};
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
        struct sweep_search want = {.percentile = 99,
                                    .bound = table[i].bound,
                                    .tolerance = table[i].tolerance,
                                    .max_probes = table[i].max_probes,
                                    .status = status,
                                    .lo = round(r.lo * 10) / 10,
                                    .hi = isinf(r.hi) ? INFINITY : round(r.hi * 10) / 10,
                                    .missed =
                                        isinf(r.missed) ? INFINITY : round(r.missed * 10) / 10};
        for (int k = 0; k < r.probes; k++)
            s.seen[k].rate = round(s.seen[k].rate * 1000) / 1000;
        char what[32];
        snprintf(what, sizeof(what), "search %d", i + 1);
        sweep_expect_search(s.seen, r.probes, &want, what);
    }
}
