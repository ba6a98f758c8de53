/* The closed loop: each connection sends its next request when the last one
 * is answered (after a think time, if asked), as wrk does. Latency runs from
 * sending; the window counts the answers that arrive in it. */
#include "load_internal.h"

static void closed_start(struct worker *w, uint64_t now)
{
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state == CONN_IDLE)
            load__send_request(&w->conns[i], now, now);
}

/* A free connection sends at once while the window lasts, else rests. */
static void closed_ready(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    load__set_state(c, CONN_IDLE);
    if (w->running && now < w->end)
        load__send_request(c, now, now);
}

static void closed_answered(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    if (w->cfg->think)
        load__wait_until(c, CONN_THINKING, now + wl_dist_sample(&w->cfg->think_dist, &w->rng));
    else
        closed_ready(c, now);
}

/* The answers that arrive in the window count, whenever their requests were
 * sent: the loop stops at the window's end, so counting by send time would
 * drop every request still in flight then (a whole response time's worth,
 * which at many clients is most of them). */
static bool closed_counts(const struct conn *c, uint64_t now)
{
    return now >= c->w->warm_end && now < c->w->end;
}

/* Nothing is scheduled; the loop wakes at the window's end to stop. */
static void closed_send_due(struct worker *w, uint64_t now)
{
}

static uint64_t closed_deadline(const struct worker *w)
{
    return w->end;
}

/* The window's end is the run's: what is in flight then is not waited for. */
static bool closed_drained(const struct worker *w, uint64_t now)
{
    return true;
}

static void closed_leftovers(struct worker *w, uint64_t now)
{
}

static double closed_achieved_rps(const struct load_result *res, double sending_s)
{
    return res->throughput_rps;
}

const struct mode load__closed_mode = {
    .start = closed_start,
    .ready = closed_ready,
    .answered = closed_answered,
    .counts = closed_counts,
    .send_due = closed_send_due,
    .deadline = closed_deadline,
    .drained = closed_drained,
    .leftovers = closed_leftovers,
    .achieved_rps = closed_achieved_rps,
};
