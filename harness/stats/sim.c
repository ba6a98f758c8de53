/* The ideal server, simulated event by event (sim.h). Time is in
 * nanoseconds, as the workload's steps and latencies are.
 *
 * A request's steps become phases: the CPU up to its next query, then that
 * query (consecutive CPU steps are one run: nothing yields between them).
 * Its CPU runs on a thread, the worker holding it or its loop; each thread
 * has a queue of requests whose CPU is ready, served in order, and the
 * threads with a non-empty queue contend for the cores: by processor sharing
 * (a heap of finishing points in virtual time, which advances at each
 * thread's share of a core) or first come first served (a FIFO of threads
 * waiting for a core, each run until its queue empties or its slice ends).
 * Queries are timer events; the database's CPU, when asked for, is a FCFS
 * bank of servers in front of the latency. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "sim.h"
#include "sim_cpu.h"
#include "wl.h"

static long rank_of(long n, double q);

/* ---- the workload as phases ---- */

static int build_phases(struct sim *s)
{
    const struct wl_workload *wl = s->wl;
    int total = 0;
    for (int i = 0; i < wl->nrequests; i++)
        total += wl->requests[i].nsteps + 1;
    s->phases = malloc(sizeof(*s->phases) * (size_t)total);
    s->first = malloc(sizeof(*s->first) * (size_t)(wl->nrequests + 1));
    if (!s->phases || !s->first)
        return -ENOMEM;
    int k = 0;
    for (int i = 0; i < wl->nrequests; i++) {
        const struct wl_request *r = &wl->requests[i];
        double cpu = s->cfg->engine_cpu_us * 1e3;
        s->first[i] = k;
        for (int j = 0; j < r->nsteps; j++) {
            if (r->steps[j].kind == WL_STEP_CPU) {
                cpu += (double)r->steps[j].cpu_ns;
                continue;
            }
            s->phases[k++] = (struct phase){cpu, r->steps[j].query};
            cpu = 0;
        }
        s->phases[k++] = (struct phase){cpu, -1};
    }
    s->first[wl->nrequests] = k;
    return 0;
}

/* ---- requests ---- */

static int start_phase(struct sim *s, int r);

static int new_req(struct sim *s)
{
    if (s->free_req < 0) {
        int cap = s->nreqs ? 2 * s->nreqs : 1024;
        struct req *v = realloc(s->reqs, sizeof(*v) * (size_t)cap);
        if (!v)
            return -ENOMEM;
        s->reqs = v;
        for (int i = cap - 1; i >= s->nreqs; i--)
            v[i].next = s->free_req, s->free_req = i;
        if (s->cfg->arch == SIM_POOL && s->cfg->threads == 0) { /* a thread per request */
            struct thread *t = realloc(s->threads, sizeof(*t) * (size_t)cap);
            if (!t)
                return -ENOMEM;
            s->threads = t;
            for (int i = s->nreqs; i < cap; i++)
                t[i] = (struct thread){-1, -1, 0, -1, 0, 0, -1};
            s->nthreads = cap;
        }
        s->nreqs = cap;
    }
    int r = s->free_req;
    s->free_req = s->reqs[r].next;
    return r;
}

/* Worker th takes request r: its life starts. */
static int take_worker(struct sim *s, int r, int th)
{
    s->reqs[r].thread = th;
    if (s->reqs[r].index >= s->warmup && s->reqs[r].index < s->warmup + s->n)
        s->wait_sum += s->now - s->reqs[r].arrival;
    return start_phase(s, r);
}

static int arrive(struct sim *s, int client)
{
    int r = new_req(s);
    if (r < 0)
        return r;
    struct req *q = &s->reqs[r];
    *q = (struct req){s->now, 0,  0,      s->arrived, wl_pick_request(s->wl, &s->service),
                      0,      -1, client, -1};
    if (s->arrived == s->warmup)
        s->t0 = s->now;
    if (s->arrived == s->warmup + s->n)
        s->t1 = s->now;
    s->arrived++;
    s->in_system++;
    const struct sim_config *cfg = s->cfg;
    if (cfg->arch == SIM_LOOPS) {
        q->thread = client >= 0 ? client % cfg->threads
                                : (int)wl_rng_below(&s->spread, (uint64_t)cfg->threads);
        return start_phase(s, r);
    }
    if (cfg->threads == 0)
        return take_worker(s, r, r);
    if (s->nfree_workers > 0)
        return take_worker(s, r, s->free_workers[--s->nfree_workers]);
    if (s->wait_tail >= 0)
        s->reqs[s->wait_tail].next = r;
    else
        s->wait_head = r;
    s->wait_tail = r;
    return 0;
}

static int respond(struct sim *s, int r)
{
    struct req *q = &s->reqs[r];
    int client = q->client, th = q->thread, rc = 0;
    if (q->index >= s->warmup && q->index < s->warmup + s->n) {
        double ms = (s->now - q->arrival) / 1e6;
        s->resp[q->index - s->warmup] = ms;
        s->own_sum += q->own;
        s->done++;
        if (s->cfg->stop_past_ms > 0 && ms > s->cfg->stop_past_ms && ++s->past == s->past_max)
            s->stop = 1;
    }
    if (s->t0 >= 0 && s->t1 < 0)
        s->window_done++;
    s->in_system--;
    q->next = s->free_req;
    s->free_req = r;
    if (s->cfg->arch == SIM_POOL && s->cfg->threads > 0) {
        int w = s->wait_head;
        if (w >= 0) {
            s->wait_head = s->reqs[w].next;
            if (s->wait_head < 0)
                s->wait_tail = -1;
            rc = take_worker(s, w, th);
        } else {
            s->free_workers[s->nfree_workers++] = th;
        }
    }
    if (rc == 0 && client >= 0 && s->arrived < s->cap)
        rc = sim__schedule(s, s->now + s->cfg->think_us * 1e3, EV_ARRIVAL, client);
    return rc;
}

/* Request r's CPU for this phase is done: it sends its query, or responds. */
int sim__after_cpu(struct sim *s, int r)
{
    struct req *q = &s->reqs[r];
    int query = s->phases[s->first[q->type] + q->phase].query;
    if (query < 0)
        return respond(s, r);
    double at = s->now;
    const struct sim_config *cfg = s->cfg;
    if (cfg->db_cpu_us > 0) {
        int k = 0;
        for (int i = 1; i < cfg->db_cores; i++)
            k = s->db_free[i] < s->db_free[k] ? i : k;
        at = fmax(at, s->db_free[k]) + cfg->db_cpu_us * 1e3;
        s->db_free[k] = at;
        q->own += cfg->db_cpu_us * 1e3;
    }
    double latency = (double)wl_dist_sample(&s->wl->queries[query].latency, &s->service);
    q->own += latency;
    return sim__schedule(s, at + latency, EV_QUERY, r);
}

static int start_phase(struct sim *s, int r)
{
    struct req *q = &s->reqs[r];
    double cpu = s->phases[s->first[q->type] + q->phase].cpu;
    if (cpu <= 0)
        return sim__after_cpu(s, r);
    q->work = cpu;
    q->own += cpu;
    return sim__enqueue_cpu(s, r);
}

/* Thread th's head step is done. What follows it (the request's query or
 * response, the next request a freed worker takes) runs while th is still
 * active, so that work it queues on th does not compete anew. 1 when th has
 * more ready work, 0 when it has none, or an error. */
/* ---- the run ---- */

static int check(const struct wl_workload *wl, const struct sim_config *cfg)
{
    if (!wl || !cfg || wl->nrequests < 1 || !(wl->total_weight > 0) || cfg->cores < 1)
        return -EINVAL;
    if (cfg->threads < (cfg->arch == SIM_LOOPS ? 1 : 0) || cfg->threads > 1000000)
        return -EINVAL;
    if (cfg->arch != SIM_POOL && cfg->arch != SIM_LOOPS)
        return -EINVAL;
    if (cfg->cpu != SIM_CPU_SHARED && cfg->cpu != SIM_CPU_FCFS)
        return -EINVAL;
    int open = cfg->rate > 0 && isfinite(cfg->rate);
    if (open == (cfg->clients > 0) || cfg->clients < 0 || !(cfg->rate >= 0))
        return -EINVAL;
    if (!(cfg->slice_us >= 0) || !(cfg->think_us >= 0) || !(cfg->engine_cpu_us >= 0))
        return -EINVAL;
    if (!(cfg->db_cpu_us >= 0) || (cfg->db_cpu_us > 0 && cfg->db_cores < 1))
        return -EINVAL;
    if (cfg->requests < 0 || cfg->requests > SIM_MAX_REQUESTS || cfg->warmup > SIM_MAX_REQUESTS)
        return -EINVAL;
    if (!(cfg->quantile >= 0 && cfg->quantile < 1) || !(cfg->stop_past_ms >= 0))
        return -EINVAL;
    return 0;
}

static int setup(struct sim *s)
{
    const struct sim_config *cfg = s->cfg;
    s->n = cfg->requests > 0 ? cfg->requests : SIM_DEFAULT_REQUESTS;
    s->warmup = cfg->warmup >= 0 ? cfg->warmup : s->n / 10;
    /* An open loop past capacity would queue without end: its arrivals stop
     * at half as many again as the measured (a closed loop needs no cap). */
    s->cap = cfg->clients > 0 ? LONG_MAX : s->warmup + s->n + s->n / 2 + 1000;
    s->free_req = s->ready_head = s->ready_tail = s->wait_head = s->wait_tail = -1;
    s->t0 = s->t1 = -1;
    s->idle_cores = cfg->cores;
    if (cfg->stop_past_ms > 0 && cfg->quantile > 0)
        s->past_max = s->n - rank_of(s->n, cfg->quantile);
    wl_rng_seed(&s->arrivals, cfg->seed ^ 0x61727269766573ULL);
    wl_rng_seed(&s->service, cfg->seed ^ 0x73657276696365ULL);
    wl_rng_seed(&s->spread, cfg->seed ^ 0x737072656164ULL);
    int rc = build_phases(s);
    if (rc < 0)
        return rc;
    int nthreads = cfg->threads, ndb = cfg->db_cores > 0 ? cfg->db_cores : 1;
    s->resp = malloc(sizeof(*s->resp) * (size_t)s->n);
    s->core_owner = malloc(sizeof(*s->core_owner) * (size_t)cfg->cores);
    s->db_free = calloc((size_t)ndb, sizeof(*s->db_free));
    if (nthreads > 0) {
        s->threads = malloc(sizeof(*s->threads) * (size_t)nthreads);
        s->free_workers = malloc(sizeof(*s->free_workers) * (size_t)nthreads);
    }
    if (!s->resp || !s->core_owner || !s->db_free || (nthreads > 0 && !s->free_workers) ||
        (nthreads > 0 && !s->threads))
        return -ENOMEM;
    for (int c = 0; c < cfg->cores; c++)
        s->core_owner[c] = -1;
    for (int i = 0; i < nthreads; i++) {
        s->threads[i] = (struct thread){-1, -1, 0, -1, 0, 0, -1};
        s->free_workers[i] = nthreads - 1 - i; /* worker 0 is taken first */
    }
    s->nthreads = nthreads;
    s->nfree_workers = cfg->arch == SIM_POOL ? nthreads : 0;
    if (cfg->clients > 0) {
        for (int c = 0; c < cfg->clients && rc == 0; c++)
            rc = sim__schedule(s, 0, EV_ARRIVAL, c);
        return rc;
    }
    return sim__schedule(s, 0, EV_ARRIVAL, -1);
}

static int on_event(struct sim *s, struct node ev)
{
    switch (ev.kind) {
    case EV_ARRIVAL:
        if (ev.id < 0 && s->arrived + 1 < s->cap) {
            double gap = -log1p(-wl_rng_double(&s->arrivals)) * 1e9 / s->cfg->rate;
            int rc = sim__schedule(s, s->now + gap, EV_ARRIVAL, -1);
            if (rc < 0)
                return rc;
        }
        return arrive(s, ev.id);
    case EV_QUERY: s->reqs[ev.id].phase++; return start_phase(s, ev.id);
    case EV_CORE: return sim__core_done(s, ev.id);
    }
    return -EINVAL;
}

static int loop(struct sim *s)
{
    while ((s->done < s->n || s->t1 < 0) && !s->stop) {
        double t_ev = s->events.n > 0 ? s->events.v[0].key : INFINITY;
        double t_ps = INFINITY;
        if (s->ps.n > 0)
            t_ps = s->now + fmax(0, s->ps.v[0].key - s->v) / sim__ps_rate(s);
        if (isinf(t_ev) && isinf(t_ps))
            return -EINVAL; /* nothing left to happen: cannot be */
        sim__advance(s, fmin(t_ev, t_ps));
        int rc = t_ps <= t_ev ? sim__ps_done(s) : on_event(s, sim__heap_pop(&s->events));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- order statistics ---- */

/* Rearranges x[0..n) so that x[k] is the (k+1)-th smallest, everything
 * before it at most and everything after it at least it (Hoare's
 * selection; the median of three pivots keeps runs of equal values linear). */
static void select_kth(double *x, long n, long k)
{
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        double a = x[lo], b = x[mid], c = x[hi];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        long i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                double tmp = x[i];
                x[i++] = x[j];
                x[j--] = tmp;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* The q quantile as the order statistic of rank ceil(q n). */
static long rank_of(long n, double q)
{
    long k = (long)ceil(q * (double)n) - 1;
    return k < 0 ? 0 : k;
}

/* An open loop past capacity: its arrivals were cut off, or its window
 * answered fewer than it took in by more than a stable queue's content
 * could account for (2 % of the measured, and 100). */
static int overloaded(const struct sim *s)
{
    if (s->cfg->clients > 0)
        return 0;
    return s->arrived >= s->cap || s->n - s->window_done > s->n / 50 + 100;
}

static void summarise(struct sim *s, struct sim_result *out)
{
    long n = s->n;
    double sum = 0, max = 0;
    for (long i = 0; i < n; i++) {
        sum += s->resp[i];
        max = fmax(max, s->resp[i]);
    }
    double q = s->cfg->quantile, quantile = NAN;
    if (q > 0 && q < 1) { /* first: the selections below rearrange the whole array anew */
        long kq = rank_of(n, q);
        select_kth(s->resp, n, kq);
        quantile = s->resp[kq];
    }
    long k99 = rank_of(n, 0.99), k50 = rank_of(n, 0.50);
    select_kth(s->resp, n, k99);
    double p99 = s->resp[k99];
    select_kth(s->resp, k99, k50); /* the lower part holds every rank below k99 */
    double window = (s->t1 - s->t0) / 1e9;
    *out = (struct sim_result){
        .requests = n,
        .mean_ms = sum / n,
        .p50_ms = k50 < k99 ? s->resp[k50] : p99,
        .p99_ms = p99,
        .max_ms = max,
        .offered_rps = n / window,
        .throughput_rps = s->window_done / window,
        .in_system = s->area_in / (s->t1 - s->t0),
        .little_lw = n / window * (sum / n / 1e3),
        .core_busy = s->area_busy / (s->t1 - s->t0) / s->cfg->cores,
        .worker_wait_ms = s->wait_sum / n / 1e6,
        .own_ms = s->own_sum / n / 1e6,
        .overloaded = overloaded(s),
        .quantile_ms = quantile,
        .past = s->past,
    };
}

void sim_config_init(struct sim_config *cfg)
{
    *cfg = (struct sim_config){
        .arch = SIM_POOL, .threads = 1, .cores = 1, .db_cores = 1, .warmup = -1, .seed = 1};
}

int sim_run(const struct wl_workload *wl, const struct sim_config *cfg, struct sim_result *out)
{
    int rc = check(wl, cfg);
    if (rc < 0 || !out)
        return rc < 0 ? rc : -EINVAL;
    struct sim s = {.wl = wl, .cfg = cfg};
    rc = setup(&s);
    if (rc == 0)
        rc = loop(&s);
    if (rc == 0 && s.stop) /* past the goal: no other figure of a cut run means anything */
        *out = (struct sim_result){.requests = s.done,
                                   .mean_ms = NAN,
                                   .p50_ms = NAN,
                                   .p99_ms = NAN,
                                   .max_ms = NAN,
                                   .offered_rps = NAN,
                                   .throughput_rps = NAN,
                                   .in_system = NAN,
                                   .little_lw = NAN,
                                   .core_busy = NAN,
                                   .worker_wait_ms = NAN,
                                   .own_ms = NAN,
                                   .quantile_ms = INFINITY,
                                   .stopped_past = 1,
                                   .past = s.past};
    else if (rc == 0)
        summarise(&s, out);
    free(s.phases);
    free(s.first);
    free(s.reqs);
    free(s.threads);
    free(s.events.v);
    free(s.ps.v);
    free(s.core_owner);
    free(s.free_workers);
    free(s.db_free);
    free(s.resp);
    return rc;
}

int sim_predict(const struct wl_workload *wl, const struct sim_config *cfg, double rate,
                struct model_prediction *out)
{
    if (!cfg || !out || !(rate > 0))
        return -EINVAL;
    struct sim_config open = *cfg;
    struct sim_result r;
    open.rate = rate;
    open.clients = 0;
    int rc = sim_run(wl, &open, &r);
    if (rc < 0)
        return rc;
    if (r.overloaded) {
        *out = (struct model_prediction){INFINITY, INFINITY, INFINITY, 1};
        return 0;
    }
    *out = (struct model_prediction){r.mean_ms, r.p50_ms, r.p99_ms, r.core_busy};
    return 0;
}
