/* A request in flight, from a complete head to its response: its steps, its
 * query parked on a database connection, the answer, failure or timeout that
 * makes it ready, and its resumption after the batch of events that woke it.
 * enum job_state names each stage; job_set_state is the one place it changes.
 *
 * Jobs are made once and reused from the loop's free list, so after warm-up a
 * request allocates nothing. A query's tag is the job's id and a generation
 * count: an answer finds its job by id, and the generation makes an answer
 * that comes after its job moved on (timed out, or serves another request)
 * miss. Invariant: a RUNNING or FREE job has no timer armed and is on no
 * list; a PARKED one is on its connection's list with its timeout armed; a
 * READY one is on the loop's ready list only. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "async_int.h"

#ifndef NDEBUG
/* The transitions enum job_state allows: a bit per state each may go to. */
static const unsigned job_next_states[] = {
    [JOB_FREE] = 1u << JOB_RUNNING,
    [JOB_RUNNING] = 1u << JOB_PARKED | 1u << JOB_FREE,
    [JOB_PARKED] = 1u << JOB_READY,
    [JOB_READY] = 1u << JOB_RUNNING,
};
#endif

/* Every change of a job's state passes here, and debug builds check it. */
static void job_set_state(struct job *j, enum job_state to)
{
    assert(job_next_states[j->state] & 1u << to);
    j->state = to;
}

static uint32_t job_tag(const struct job *j)
{
    return evloop_tag(j->id, j->gen);
}

static void on_job_timeout(struct evloop_timer *t);

/* A job made for the first time (FREE), or NULL when memory or the tag's id
 * bits run out. */
static struct job *job_new(struct loop *lp)
{
    if (evloop_ids_reserve(&lp->jobs) < 0)
        return NULL;
    struct job *j = calloc(1, sizeof(*j) + (1 + lp->max_steps) * sizeof(j->phase_ns[0]));
    if (!j)
        return NULL;
    j->loop = lp;
    evloop_timer_init(&j->timeout, on_job_timeout);
    evloop_list_init(&j->db_link);
    evloop_list_init(&j->ready_link);
    http_buf_init(&j->body);
    j->id = evloop_ids_add(&lp->jobs, j);
    return j;
}

/* A FREE job: the free list's first, or a new one; NULL when none can be had. */
static struct job *job_take(struct loop *lp)
{
    struct job *j = lp->free_jobs;
    if (!j)
        return job_new(lp);
    lp->free_jobs = j->next_free;
    j->next_free = NULL;
    return j;
}

/* FREE -> RUNNING: request type `request` for connection c, whose head was
 * complete at t0. NULL when no job can be had (the caller answers 503). */
struct job *async__job_start(struct conn *c, const struct http_request *req, int request,
                             uint64_t t0)
{
    struct loop *lp = c->loop;
    struct job *j = job_take(lp);
    if (!j)
        return NULL;
    job_set_state(j, JOB_RUNNING);
    j->conn = c;
    /* The response needs only the version and HEAD-ness: with no pointers
     * into the input buffer kept, that buffer can go back while the query is
     * out. */
    j->req = *req;
    j->req.method = j->req.path = NULL;
    j->req.method_len = j->req.path_len = 0;
    j->request = request;
    j->step = 0;
    j->cpu_time_ns = 0;
    j->error = 0;
    j->reason = NULL;
    j->retried = false;
    j->keep_alive = req->keep_alive;
    j->body.len = 0;
    if (http_body_begin(&j->body, lp->ev.cfg->wl, request) < 0) {
        async__job_release(j);
        return NULL;
    }
    j->mark = proc_now_ns();
    j->phase_ns[0] = j->mark - t0; /* the queue: head complete to first step */
    return j;
}

/* RUNNING -> PARKED: sends the query of j's current step, parks j on the
 * connection it went to and arms its --db-timeout. 0, or a negated HTTP
 * status (http.h). */
static int job_send_query(struct job *j, int query)
{
    struct loop *lp = j->loop;
    struct evloop_dbc *d;
    int status = async__db_send(lp, job_tag(j), query, &d);
    if (status)
        return status;
    if (evloop_timer_set(&lp->ev, &j->timeout, lp->ev.now + lp->ev.cfg->db_timeout_ns) < 0)
        return -500; /* the answer that comes anyway finds j not parked and is dropped */
    j->db = d;
    evloop_list_push(&d->parked, &j->db_link);
    job_set_state(j, JOB_PARKED);
    return 0;
}

/* Runs j's steps from j->step until a query parks it (true), or all are done
 * or one failed (false: j stays RUNNING, ready for its response). A cpu step
 * runs right here, on the loop's thread: that is the price an event loop pays
 * for it. */
bool async__job_run(struct job *j)
{
    struct loop *lp = j->loop;
    const struct wl_request *rq = &lp->ev.cfg->wl->requests[j->request];
    while (j->step < rq->nsteps && !j->error) {
        const struct wl_step *s = &rq->steps[j->step];
        if (s->kind == WL_STEP_CPU) {
            j->cpu_time_ns += wl_burn(s->cpu_ns);
            uint64_t now = proc_now_ns();
            j->phase_ns[1 + j->step++] = now - j->mark;
            j->mark = lp->ev.now = now; /* timers armed after this count from now */
            continue;
        }
        int status = job_send_query(j, s->query);
        if (status == 0)
            return true;
        j->error = -status;
        j->reason = status == -503 ? "database unreachable" : "internal error";
    }
    return false;
}

/* PARKED -> READY with an outcome (error 0: run on from j->step). It resumes
 * after this batch of events, outside the database connection's callbacks. */
static void job_wake(struct job *j, int error, const char *reason)
{
    struct loop *lp = j->loop;
    evloop_timer_cancel(&lp->ev, &j->timeout);
    evloop_list_remove(&j->db_link);
    j->db = NULL;
    j->gen = evloop_gen_next(j->gen); /* a second answer to this query now misses */
    j->error = error;
    j->reason = reason;
    evloop_ready(&lp->ev, &j->ready_link);
    job_set_state(j, JOB_READY);
}

static void on_job_timeout(struct evloop_timer *t)
{
    struct job *j = evloop_container(t, struct job, timeout);
    job_wake(j, 504, "database timed out");
}

/* The PARKED job a query's tag names, or NULL when the tag is stale. */
struct job *async__job_find(struct loop *lp, uint32_t tag)
{
    struct job *j = evloop_ids_find(&lp->jobs, tag);
    return j && j->state == JOB_PARKED && job_tag(j) == tag ? j : NULL;
}

/* The database answered j's query. The result is rendered into j's body here,
 * because it is valid only during this call; j runs on after the batch. */
void async__job_on_answer(struct job *j, const struct db_result *res)
{
    const struct wl_workload *wl = j->loop->ev.cfg->wl;
    const struct wl_step *s = &wl->requests[j->request].steps[j->step];
    if (res->status != DB_OK) {
        /* The message lives only during this call: keep it in the body
         * buffer, which an error response does not use. */
        j->body.len = 0;
        if (http_buf_append(&j->body, res->message, strlen(res->message) + 1) < 0)
            job_wake(j, 500, "out of memory");
        else
            job_wake(j, res->status == DB_EUNAVAILABLE ? 503 : 500, j->body.data);
        return;
    }
    if (j->conn && http_body_add(&j->body, wl, j->request, s->query, res) < 0) {
        job_wake(j, 500, "out of memory");
        return;
    }
    uint64_t now = proc_now_ns(); /* the query step is done: its phase is the wait */
    j->phase_ns[1 + j->step++] = now - j->mark;
    j->mark = now;
    j->retried = false;
    job_wake(j, 0, NULL);
}

/* The connection j's query was out on died. The query is sent once more (on
 * another connection, or this one reopened), as the pool does, so a database
 * restart costs no error; a query lost twice gets 503. */
void async__job_on_db_lost(struct job *j)
{
    bool again = !j->retried;
    j->retried = true;
    job_wake(j, again ? 0 : 503, again ? NULL : "database unreachable");
}

/* READY -> RUNNING for a job woken during the batch: its connection runs it
 * on, or, when the client left meanwhile, it is freed. */
void async__job_run_ready(struct evloop_list *node)
{
    struct job *j = evloop_container(node, struct job, ready_link);
    job_set_state(j, JOB_RUNNING);
    if (j->conn)
        async__conn_resume(j->conn);
    else
        async__job_release(j);
}

/* j's response, into out: its error, or 200 with its body and the phases'
 * Server-Timing. 0 or -ENOMEM. */
int async__job_write_response(struct job *j, struct http_buf *out, bool keep_alive)
{
    const struct wl_workload *wl = j->loop->ev.cfg->wl;
    const struct wl_request *rq = &wl->requests[j->request];
    int err;
    if (j->error)
        return http_write_error(out, &j->req, j->error, j->reason, keep_alive);
    if ((err = http_body_end(&j->body, wl, j->request)) < 0)
        return err;
    return http_write_response(out, &j->req, 200, http_content_type(wl, j->request), wl, j->request,
                               j->phase_ns, 1 + rq->nsteps, j->cpu_time_ns, keep_alive,
                               j->body.data, j->body.len);
}

/* RUNNING -> FREE: back on the loop's free list, its last tag stale. */
void async__job_release(struct job *j)
{
    struct loop *lp = j->loop;
    j->gen = evloop_gen_next(j->gen);
    j->conn = NULL;
    j->next_free = lp->free_jobs;
    lp->free_jobs = j;
    job_set_state(j, JOB_FREE);
}

/* The client is gone. A running job is freed now; a parked or ready one waits
 * for its answer, failure or timeout, and is freed when it resumes. */
void async__job_abandon(struct job *j)
{
    if (j->state == JOB_RUNNING)
        async__job_release(j);
    else
        j->conn = NULL;
}

/* At teardown, after the loop's thread ended: every job, in whatever state. */
void async__jobs_free(struct loop *lp)
{
    for (uint32_t i = 0; i < lp->jobs.n; i++) {
        struct job *j = lp->jobs.items[i];
        http_buf_free(&j->body);
        free(j);
    }
    evloop_ids_free(&lp->jobs);
    lp->free_jobs = NULL;
}
