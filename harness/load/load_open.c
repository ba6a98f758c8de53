/* The open loop: requests at intended times drawn from the arrival process
 * alone (Poisson or uniform gaps), whatever the server does. Due requests
 * form a backlog that idle connections take oldest first; latency counts
 * from the intended time, so a stalled server cannot hide its queue. */
#include "load_internal.h"

#include <math.h>

/* ---- the idle stack: connections free to take a due request ---- */

void load__idle_push(struct worker *w, struct conn *c)
{
    c->idle_at = w->sched.nidle;
    w->sched.idle[w->sched.nidle++] = c;
}

static struct conn *idle_pop(struct worker *w)
{
    struct conn *c = w->sched.idle[--w->sched.nidle];
    c->idle_at = -1;
    return c;
}

void load__idle_remove(struct worker *w, struct conn *c)
{
    struct schedule *s = &w->sched;
    int i = c->idle_at;
    if (i < 0)
        return;
    s->idle[i] = s->idle[--s->nidle];
    s->idle[i]->idle_at = i;
    c->idle_at = -1;
}

/* ---- the schedule ---- */

/* Draws the next intended time; counts the one passed if it is in the window. */
static void advance_schedule(struct worker *w)
{
    struct schedule *s = &w->sched;
    double gap = s->gap_ns;
    if (s->next >= w->warm_end && s->next < w->end)
        w->scheduled++;
    if (w->cfg->arrival == LOAD_POISSON)
        gap *= -log(1.0 - wl_rng_double(&w->rng));
    s->next += (uint64_t)gap;
}

/* Sends every due request an idle connection can take. A due request older
 * than the timeout is dropped and counted: the answer would come too late to
 * matter. */
static void dispatch_due(struct worker *w, uint64_t now)
{
    struct schedule *s = &w->sched;
    while (s->next <= now && s->next < w->end) {
        if (now - s->next > w->cfg->timeout_ns) {
            if (s->next >= w->warm_end)
                load__count_error(w, &w->errors_timeout, now);
            advance_schedule(w);
            continue;
        }
        if (s->nidle == 0)
            return;
        struct conn *c = idle_pop(w);
        /* A request that found a free connection and still left late was
         * held up by the generator; one that had to wait for a connection,
         * by the server (or by too few --clients). */
        if (s->next >= w->warm_end) {
            if (c->idle_since > s->next)
                w->waited++;
            else if (now - s->next > LOAD_LATE_NS)
                w->late++;
        }
        load__send_request(c, s->next, now);
        advance_schedule(w);
    }
}

/* ---- the mode ---- */

/* Each thread sends rate/T; uniform gaps are offset so the threads interleave.
 * Agent i of N (--share) has rate = R/N: its thread j's stream is number
 * j N + i of T N, offset by (j N + i)/R, so the union of the N agents' T N
 * streams (with the same T) is uniform at R. Poisson needs no offset: the
 * union of independent Poisson streams at R/(T N) is Poisson at R. */
static void open_start(struct worker *w, uint64_t now)
{
    const struct load_config *cfg = w->cfg;
    struct schedule *s = &w->sched;
    int n = cfg->share_count > 1 ? cfg->share_count : 1;
    s->gap_ns = 1e9 * cfg->threads / cfg->rate;
    s->next = w->start;
    if (cfg->arrival == LOAD_UNIFORM)
        s->next += (uint64_t)(1e9 * (w->index * n + cfg->share_index) / (cfg->rate * n));
    else
        advance_schedule(w);
    dispatch_due(w, now);
}

static void open_ready(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    load__set_state(c, CONN_IDLE);
    c->idle_since = now;
    load__idle_push(w, c);
    if (w->running)
        dispatch_due(w, now);
}

/* The window's intended requests count, however late their answers. */
static bool open_counts(const struct conn *c, uint64_t now)
{
    return c->measured;
}

/* Due requests wake the loop only when a connection is free to take them. */
static uint64_t open_deadline(const struct worker *w)
{
    const struct schedule *s = &w->sched;
    return s->nidle && s->next < w->end ? s->next : UINT64_MAX;
}

/* The window's requests are all sent and answered, or late. */
static bool open_drained(const struct worker *w, uint64_t now)
{
    bool backlog = w->sched.next < w->end;
    return (!backlog && w->inflight == 0) || now > w->end + w->cfg->timeout_ns + LOAD__TICK_NS;
}

/* Requests in flight and requests never sent both count as timed out. */
static void open_leftovers(struct worker *w, uint64_t now)
{
    for (int i = 0; i < w->nconns; i++)
        load__lose_request(&w->conns[i], &w->errors_timeout, now);
    while (w->sched.next < w->end) {
        if (w->sched.next >= w->warm_end)
            load__count_error(w, &w->errors_timeout, now);
        advance_schedule(w);
    }
}

static double open_achieved_rps(const struct load_result *res, double sending_s)
{
    return sending_s > 0 ? res->sent_in_window / sending_s : 0;
}

const struct mode load__open_mode = {
    .start = open_start,
    .ready = open_ready,
    .answered = open_ready,
    .counts = open_counts,
    .send_due = dispatch_due,
    .deadline = open_deadline,
    .drained = open_drained,
    .leftovers = open_leftovers,
    .achieved_rps = open_achieved_rps,
};
