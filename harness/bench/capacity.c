/* The capacity search: bracket the goal by doubling or halving from a
 * predicted rate, then bisect until the bracket is within the tolerance,
 * spending one probe (one load run) per step. Also the goal's grammar. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "stats.h"
#include "wl.h"

/* ---- the goal ---- */

static int goal_error(char *err, size_t errlen, const char *text, const char *what)
{
    snprintf(err, errlen, "bad goal '%s': %s", text, what);
    return -1;
}

/* The length of a number of 1 to 3 digits with up to 3 decimals at p (the
 * range is checked later, so that p100 is told why), 0 when there is none. */
static size_t percentile_length(const char *p)
{
    size_t i = 0, frac = 0;
    while (i < 4 && isdigit((unsigned char)p[i]))
        i++;
    if (i < 1 || i > 3)
        return 0;
    if (p[i] != '.')
        return i;
    while (frac < 4 && isdigit((unsigned char)p[i + 1 + frac]))
        frac++;
    return frac >= 1 && frac <= 3 ? i + 1 + frac : 0;
}

int capacity_goal_parse(const char *text, struct capacity_goal *goal, char *err, size_t errlen)
{
    static const char expected[] = "(expected a percentile and a duration: p99 100ms, p99.9 1s)";
    char what[160], number[8];
    size_t len = text[0] == 'p' ? percentile_length(text + 1) : 0;
    if (len > 0 && text[1 + len] == '\0') {
        snprintf(what, sizeof(what), "no duration after the percentile %s", expected);
        return goal_error(err, errlen, text, what);
    }
    if (len == 0 || (text[1 + len] != ' ' && text[1 + len] != '\t')) {
        snprintf(what, sizeof(what), "no percentile at its start %s", expected);
        return goal_error(err, errlen, text, what);
    }
    memcpy(number, text + 1, len);
    number[len] = '\0';
    double percentile = strtod(number, NULL);
    if (percentile <= 0 || percentile >= 100)
        return goal_error(err, errlen, text,
                          "the percentile must lie strictly between p0 and p100 (the maximum is "
                          "one request, too noisy to search on: expected p50, p99 or p99.9)");
    const char *duration = text + 1 + len;
    while (*duration == ' ' || *duration == '\t')
        duration++;
    uint64_t ns;
    if (wl_duration_parse(duration, &ns) < 0 || *duration == '\0') {
        snprintf(what, sizeof(what), "bad duration '%s' %s", duration, expected);
        return goal_error(err, errlen, text, what);
    }
    if (ns == 0)
        return goal_error(err, errlen, text, "a latency of 0 is never met (expected more than 0)");
    *goal = (struct capacity_goal){percentile, (double)ns / 1e6};
    return 0;
}

/* ---- a probe's verdict ---- */

enum capacity_verdict capacity_judge(double k, double n, double percentile)
{
    struct stats_interval all, seen;
    double q = percentile / 100;
    if (!(n >= 1) || stats_proportion_interval(n, n, &all) < 0)
        return CAPACITY_TOO_FEW;
    if (stats_proportion_interval(k, n, &seen) < 0)
        return CAPACITY_UNDECIDED;
    if (seen.lo >= q)
        return CAPACITY_MET;
    if (seen.hi < q)
        return CAPACITY_MISSED;
    return all.lo < q ? CAPACITY_TOO_FEW : CAPACITY_UNDECIDED;
}

/* Whether m requests at fraction f decide: the judge at the nearest count. */
static int decides(double f, double m, double percentile)
{
    enum capacity_verdict v = capacity_judge(round(f * m), m, percentile);
    return v == CAPACITY_MET || v == CAPACITY_MISSED;
}

double capacity_requests_needed(double k, double n, double percentile)
{
    if (!(n >= 1) || !(k >= 0) || k > n)
        return INFINITY;
    double f = k / n, lo = n, hi = n;
    if (decides(f, n, percentile))
        return n;
    /* Doubling to a count that decides, then bisecting down to the first:
     * the interval narrows as the count grows at a fixed fraction. */
    while (!decides(f, hi, percentile)) {
        lo = hi;
        hi *= 2;
        if (hi > CAPACITY_MAX_REQUESTS)
            return INFINITY;
    }
    while (hi - lo > 1) {
        double mid = floor((lo + hi) / 2);
        if (decides(f, mid, percentile))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* ---- the search, one probe at a time ---- */

enum { PHASE_BRACKET, PHASE_BISECT, PHASE_DONE };

static int check_search(const struct capacity_search *s)
{
    if (!(s->goal.ms > 0) || !(s->goal.percentile > 0 && s->goal.percentile < 100))
        return -EINVAL;
    if (!(s->min_rate > 0) || !(s->start_rate >= s->min_rate) || !(s->max_rate >= s->start_rate) ||
        !isfinite(s->max_rate))
        return -EINVAL;
    if (!(s->tolerance >= 0 && s->tolerance < 1) || s->max_probes < 0)
        return -EINVAL;
    return 0;
}

int capacity_start(struct capacity_state *st, const struct capacity_search *search)
{
    if (!st || !search || check_search(search) < 0)
        return -EINVAL;
    *st = (struct capacity_state){
        .search = search,
        .out = {CAPACITY_FOUND, 0, 0, INFINITY, INFINITY, 0, 0},
        .tolerance = search->tolerance > 0 ? search->tolerance : CAPACITY_TOLERANCE,
        .budget = search->max_probes > 0 ? search->max_probes : CAPACITY_MAX_PROBES,
        .phase = PHASE_BRACKET,
        .first = -1,
        .rate = search->start_rate,
    };
    return 0;
}

int capacity_next(const struct capacity_state *st, double *rate)
{
    *rate = st->rate;
    return st->phase != PHASE_DONE;
}

/* The status of a search that met no rate: never met when its lowest rate
 * not met was missed, undecided when that one could not be judged. */
static enum capacity_status none_met(const struct capacity_result *out)
{
    return out->missed <= out->hi ? CAPACITY_NEVER_MET : CAPACITY_NONE_DECIDED;
}

static void finish(struct capacity_state *st, enum capacity_status status)
{
    st->out.status = status;
    st->phase = PHASE_DONE;
}

/* Bracketing: doubles from the start while the goal is met, halves while
 * it is not, until the verdict changes; 1 while it goes on. */
static int bracket(struct capacity_state *st, enum capacity_verdict v)
{
    const struct capacity_search *s = st->search;
    int met = v == CAPACITY_MET;
    if (st->first < 0)
        st->first = met;
    if (met != st->first)
        return 0;
    if (met ? st->rate >= s->max_rate : st->rate <= s->min_rate || v == CAPACITY_TOO_FEW)
        finish(st, met ? CAPACITY_ALWAYS_MET : none_met(&st->out));
    else if (st->out.probes >= st->budget)
        finish(st, CAPACITY_OUT_OF_PROBES);
    else
        st->rate = met ? fmin(2 * st->rate, s->max_rate) : fmax(st->rate / 2, s->min_rate);
    return 1;
}

void capacity_record(struct capacity_state *st, enum capacity_verdict v)
{
    struct capacity_result *out = &st->out;
    double rate = st->rate;
    if (st->phase == PHASE_DONE)
        return;
    out->probes++;
    if (v == CAPACITY_MET && rate > out->lo)
        out->lo = out->capacity = rate;
    if (v != CAPACITY_MET && rate < out->hi)
        out->hi = rate;
    if (v == CAPACITY_MISSED && rate < out->missed)
        out->missed = rate;
    out->undecided += v == CAPACITY_UNDECIDED || v == CAPACITY_TOO_FEW;
    if (st->phase == PHASE_BRACKET && bracket(st, v))
        return;
    /* bisecting: halves the bracket [lo, hi] until it is within the
     * tolerance of lo */
    st->phase = PHASE_BISECT;
    if (out->hi - out->lo <= st->tolerance * out->lo)
        finish(st, CAPACITY_FOUND);
    else if (out->probes >= st->budget)
        finish(st, CAPACITY_OUT_OF_PROBES);
    else
        st->rate = (out->lo + out->hi) / 2;
}

int capacity_find(const struct capacity_search *search, struct capacity_result *out)
{
    struct capacity_state st;
    double rate;
    if (!out || !search || !search->probe || capacity_start(&st, search) < 0)
        return -EINVAL;
    while (capacity_next(&st, &rate)) {
        enum capacity_verdict v = CAPACITY_UNDECIDED;
        int rc = search->probe(search->ctx, rate, &v);
        if (rc < 0) {
            st.out.probes++;
            *out = st.out;
            return rc;
        }
        capacity_record(&st, v);
    }
    *out = st.out;
    return 0;
}

const char *capacity_status_name(enum capacity_status status)
{
    switch (status) {
    case CAPACITY_FOUND: return "found";
    case CAPACITY_NEVER_MET: return "never met";
    case CAPACITY_ALWAYS_MET: return "always met";
    case CAPACITY_OUT_OF_PROBES: return "out of probes";
    case CAPACITY_NONE_DECIDED: return "undecided";
    }
    return "?";
}

const char *capacity_verdict_name(enum capacity_verdict verdict)
{
    switch (verdict) {
    case CAPACITY_MET: return "met";
    case CAPACITY_MISSED: return "missed";
    case CAPACITY_UNDECIDED: return "undecided";
    case CAPACITY_TOO_FEW: return "too-few";
    }
    return "?";
}
