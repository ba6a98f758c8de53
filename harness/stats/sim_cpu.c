/* The simulator's CPU (sim_cpu.h): the event heap, and the threads that run
 * the requests' CPU steps on the cores, by processor sharing or first come
 * first served. Time is in nanoseconds. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sim_cpu.h"

/* ---- heaps ---- */

int sim__heap_push(struct heap *h, double key, uint64_t seq, int kind, int id)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 64;
        struct node *v = realloc(h->v, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        h->v = v, h->cap = cap;
    }
    struct node x = {key, seq, kind, id};
    int i = h->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h->v[p].key < key || (h->v[p].key == key && h->v[p].seq < seq))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 0;
}

static int node_less(const struct node *a, const struct node *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

struct node sim__heap_pop(struct heap *h)
{
    struct node top = h->v[0], x = h->v[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && node_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!node_less(&h->v[c], &x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = x;
    return top;
}

int sim__schedule(struct sim *s, double at, int kind, int id)
{
    return sim__heap_push(&s->events, at, s->seq++, kind, id);
}

/* ---- time ---- */

static int busy_cores(const struct sim *s)
{
    if (s->cfg->cpu == SIM_CPU_SHARED)
        return s->ps.n < s->cfg->cores ? s->ps.n : s->cfg->cores;
    return s->cfg->cores - s->idle_cores;
}

/* Each of the n threads sharing the cores runs at this rate. */
double sim__ps_rate(const struct sim *s)
{
    return s->ps.n > s->cfg->cores ? (double)s->cfg->cores / s->ps.n : 1;
}

void sim__advance(struct sim *s, double t)
{
    double dt = t - s->now;
    if (dt <= 0)
        return;
    if (s->ps.n > 0)
        s->v += dt * sim__ps_rate(s);
    if (s->arrived > s->warmup && s->t1 < 0) {
        s->area_in += dt * s->in_system;
        s->area_busy += dt * busy_cores(s);
    }
    s->now = t;
}

/* ---- threads and cores ---- */

/* FCFS: thread th runs on core c until its head step ends or its slice does. */
static int run_on_core(struct sim *s, int th, int c)
{
    struct thread *t = &s->threads[th];
    t->core = c;
    s->core_owner[c] = th;
    t->ran = fmin(s->reqs[t->head].work, t->slice);
    return sim__schedule(s, s->now + t->ran, EV_CORE, c);
}

/* FCFS: thread th joins the line for a core, with a whole slice to come. */
static void wait_for_core(struct sim *s, int th)
{
    struct thread *t = &s->threads[th];
    t->slice = s->cfg->slice_us > 0 ? s->cfg->slice_us * 1e3 : INFINITY;
    t->core = -1;
    t->next = -1;
    if (s->ready_tail >= 0)
        s->threads[s->ready_tail].next = th;
    else
        s->ready_head = th;
    s->ready_tail = th;
}

static int next_ready(struct sim *s)
{
    int th = s->ready_head;
    s->ready_head = s->threads[th].next;
    if (s->ready_head < 0)
        s->ready_tail = -1;
    return th;
}

static int give_core(struct sim *s, int th)
{
    wait_for_core(s, th);
    if (s->idle_cores == 0)
        return 0;
    for (int c = 0; c < s->cfg->cores; c++)
        if (s->core_owner[c] < 0) {
            s->idle_cores--;
            return run_on_core(s, next_ready(s), c);
        }
    return -EINVAL; /* idle_cores counts the cores without an owner: cannot be */
}

/* The thread's head step starts competing for the cores. */
static int activate(struct sim *s, int th)
{
    s->threads[th].active = 1;
    if (s->cfg->cpu == SIM_CPU_SHARED)
        return sim__heap_push(&s->ps, s->v + s->reqs[s->threads[th].head].work, s->seq++, 0, th);
    return give_core(s, th);
}

/* Request r's CPU is ready: it joins its thread's queue. */
int sim__enqueue_cpu(struct sim *s, int r)
{
    struct thread *t = &s->threads[s->reqs[r].thread];
    s->reqs[r].next = -1;
    if (t->tail >= 0) {
        s->reqs[t->tail].next = r;
        t->tail = r;
        return 0;
    }
    t->head = t->tail = r;
    return t->active ? 0 : activate(s, s->reqs[r].thread);
}

static int step_done(struct sim *s, int th)
{
    struct thread *t = &s->threads[th];
    int r = t->head;
    t->head = s->reqs[r].next;
    if (t->head < 0)
        t->tail = -1;
    int rc = sim__after_cpu(s, r);
    if (rc < 0)
        return rc;
    if (t->head < 0)
        t->active = 0;
    return t->head >= 0;
}

int sim__ps_done(struct sim *s)
{
    struct node top = sim__heap_pop(&s->ps);
    s->v = fmax(s->v, top.key);
    int th = top.id, more = step_done(s, th);
    if (more <= 0)
        return more;
    return sim__heap_push(&s->ps, s->v + s->reqs[s->threads[th].head].work, s->seq++, 0, th);
}

/* FCFS: core c's run ends, at the end of a step or of a slice. */
int sim__core_done(struct sim *s, int c)
{
    int th = s->core_owner[c];
    struct thread *t = &s->threads[th];
    s->reqs[t->head].work -= t->ran;
    t->slice -= t->ran;
    if (s->reqs[t->head].work <= 0) {
        int more = step_done(s, th);
        if (more < 0)
            return more;
        if (!more) {
            s->core_owner[c] = -1;
            if (s->ready_head < 0) {
                s->idle_cores++;
                return 0;
            }
            return run_on_core(s, next_ready(s), c);
        }
    }
    if (t->slice <= 0 && s->ready_head >= 0) { /* round robin: to the back of the line */
        int next = next_ready(s);
        wait_for_core(s, th);
        return run_on_core(s, next, c);
    }
    if (t->slice <= 0)
        t->slice = s->cfg->slice_us * 1e3;
    return run_on_core(s, th, c);
}
