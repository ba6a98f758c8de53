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

/* ---- the search ---- */

struct search_state {
    const struct capacity_search *search;
    struct capacity_result *out;
    double tolerance;
    int budget;
};

/* Whether a probe meets the goal. Conservatively, only when the upper end of
 * its interval does: a probe whose interval straddles the goal fails. A rate
 * reported as capacity is then one the repeats say holds the goal, not one
 * that merely might; noise lowers the capacity found rather than raising it.
 * A NAN upper end means no interval: the value alone decides. */
static int meets_goal(const struct capacity_goal *goal, double value, double hi)
{
    if (!(value <= goal->ms))
        return 0;
    return isnan(hi) || hi <= goal->ms;
}

/* One probe at rate, moving the bracket's end it lands on: 1 met, 0 failed,
 * or the probe's error. */
static int probe_at(struct search_state *st, double rate)
{
    double value = NAN, lo = NAN, hi = NAN;
    int rc = st->search->probe(st->search->ctx, rate, &value, &lo, &hi);
    st->out->probes++;
    if (rc < 0)
        return rc;
    int met = meets_goal(&st->search->goal, value, hi);
    if (met && rate > st->out->lo)
        st->out->lo = rate;
    if (!met && rate < st->out->hi)
        st->out->hi = rate;
    return met;
}

/* Doubles from the start while the goal is met, halves while it fails,
 * until the outcome changes: 0 once bracketed, 1 when the search ended
 * here (out->status set), or the probe's error. */
static int bracket(struct search_state *st)
{
    const struct capacity_search *s = st->search;
    double rate = s->start_rate;
    int first = probe_at(st, rate), now = first;
    while (now == first) {
        if (now < 0)
            return now;
        if (first ? rate >= s->max_rate : rate <= s->min_rate) {
            st->out->status = first ? CAPACITY_ALWAYS_MET : CAPACITY_NEVER_MET;
            return 1;
        }
        if (st->out->probes >= st->budget) {
            st->out->status = CAPACITY_OUT_OF_PROBES;
            return 1;
        }
        rate = first ? fmin(2 * rate, s->max_rate) : fmax(rate / 2, s->min_rate);
        now = probe_at(st, rate);
    }
    return now < 0 ? now : 0;
}

/* Halves the bracket [lo, hi] until it is within the tolerance of lo. */
static int bisect(struct search_state *st)
{
    struct capacity_result *out = st->out;
    while (out->hi - out->lo > st->tolerance * out->lo) {
        if (out->probes >= st->budget) {
            out->status = CAPACITY_OUT_OF_PROBES;
            return 0;
        }
        int rc = probe_at(st, (out->lo + out->hi) / 2);
        if (rc < 0)
            return rc;
    }
    out->status = CAPACITY_FOUND;
    return 0;
}

static int check_search(const struct capacity_search *s)
{
    if (!s->probe || !(s->goal.ms > 0) || !(s->goal.percentile > 0 && s->goal.percentile < 100))
        return -EINVAL;
    if (!(s->min_rate > 0) || !(s->start_rate >= s->min_rate) || !(s->max_rate >= s->start_rate) ||
        !isfinite(s->max_rate))
        return -EINVAL;
    if (!(s->tolerance >= 0 && s->tolerance < 1) || s->max_probes < 0)
        return -EINVAL;
    return 0;
}

int capacity_find(const struct capacity_search *search, struct capacity_result *out)
{
    if (!search || !out || check_search(search) < 0)
        return -EINVAL;
    *out = (struct capacity_result){CAPACITY_FOUND, 0, 0, INFINITY, 0};
    struct search_state st = {search, out,
                              search->tolerance > 0 ? search->tolerance : CAPACITY_TOLERANCE,
                              search->max_probes > 0 ? search->max_probes : CAPACITY_MAX_PROBES};
    int rc = bracket(&st);
    if (rc == 0)
        rc = bisect(&st);
    out->capacity = out->lo;
    return rc < 0 ? rc : 0;
}

double capacity_failed_percentile(double q, double answered, double lost, double refused)
{
    double all = answered + lost;
    if (!(answered > 0) || lost + refused > (1 - q / 100) * all)
        return INFINITY;
    return (q / 100 * all + refused) / answered * 100;
}

const char *capacity_status_name(enum capacity_status status)
{
    switch (status) {
    case CAPACITY_FOUND: return "found";
    case CAPACITY_NEVER_MET: return "never met";
    case CAPACITY_ALWAYS_MET: return "always met";
    case CAPACITY_OUT_OF_PROBES: return "out of probes";
    }
    return "?";
}
