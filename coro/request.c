/* What a coroutine runs: the request code, straight-line, as a pool worker
 * runs it. Route, run the steps (a `cpu` step burns right here on the loop's
 * thread, a `query` step suspends the coroutine until the database answers),
 * queue the response; then the next pipelined request, while a whole one
 * (head and body) is buffered. Nothing here waits on the client: a response is queued on the
 * connection and the loop writes what the socket does not take at once, so
 * the coroutine and its stack go back to the free list as soon as no whole
 * request is left to run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coro_int.h"

/* -500, the negated status of http.h's convention, with its reason. */
static int out_of_memory(char *reason, size_t cap)
{
    snprintf(reason, cap, "out of memory");
    return -500;
}

/* Runs the steps of request type h->route into co->body, filling phase_ns
 * (the queue, then each step) and *cpu_time_ns (the thread CPU its cpu steps
 * took). 0, or a negated HTTP status (http.h) with its reason set. */
static int run_steps(struct coro *co, const struct coro__head *h, uint64_t *phase_ns,
                     uint64_t *cpu_time_ns, char *reason, size_t cap)
{
    struct loop *lp = co->loop;
    const struct wl_workload *wl = lp->ev.cfg->wl;
    const struct wl_request *rq = &wl->requests[h->route];
    uint64_t t = proc_now_ns();
    phase_ns[0] = t - h->t_head;
    int status = http_body_begin(&co->body, wl, h->route) < 0 ? out_of_memory(reason, cap) : 0;
    /* A client that leaves stops its request at the next step. */
    for (int i = 0; i < rq->nsteps && !status && co->conn->state != CONN_CLOSED; i++) {
        const struct wl_step *s = &rq->steps[i];
        if (s->kind == WL_STEP_CPU) {
            *cpu_time_ns += wl_burn(s->cpu_ns);
        } else {
            /* Answers to earlier pipelined requests leave now, not after
             * this one's query. */
            coro__conn_flush(co->conn);
            status = coro__db_query(co, h->route, s->query, &co->body, reason, cap);
        }
        uint64_t end = proc_now_ns();
        phase_ns[1 + i] = end - t;
        t = lp->ev.now = end; /* timers armed after this count from now */
    }
    if (status == 0 && http_body_end(&co->body, wl, h->route) < 0)
        status = out_of_memory(reason, cap);
    return status;
}

/* Writes h's answer into out: a workload request's rows (status 0) or its
 * error (status negated, as run_steps returned it), /plaintext, or a route's
 * error. 0 or -ENOMEM. */
static int write_answer(struct coro *co, const struct coro__head *h, struct http_buf *out,
                        int status, const char *reason, const uint64_t *phase_ns,
                        uint64_t cpu_time_ns, bool keep)
{
    const struct wl_workload *wl = co->loop->ev.cfg->wl;
    if (h->route == HTTP_ROUTE_PLAINTEXT)
        return http_write_plaintext(out, &h->req, keep);
    if (h->route < 0)
        return http_write_error(out, &h->req, -h->route, NULL, keep);
    if (status)
        return http_write_error(out, &h->req, -status, reason, keep);
    return http_write_response(out, &h->req, 200, http_content_type(wl, h->route), wl, h->route,
                               phase_ns, 1 + wl->requests[h->route].nsteps, cpu_time_ns, keep,
                               co->body.data, co->body.len);
}

/* Runs one request and queues its response on the connection. Returns false
 * when the connection is gone. */
static bool run_request(struct coro *co, const struct coro__head *h)
{
    struct conn *c = co->conn;
    uint64_t phase_ns[HTTP_MAX_PHASES], cpu_time_ns = 0;
    char reason[DB_MAX_MESSAGE + 1] = "";
    int status =
        h->route >= 0 ? run_steps(co, h, phase_ns, &cpu_time_ns, reason, sizeof(reason)) : 0;
    if (c->state == CONN_CLOSED)
        return false; /* the client left while it ran: nobody to answer */
    /* Keeping the connection is decided now: a stop that began while the
     * request ran closes it. */
    bool keep = h->req.keep_alive && !co->loop->ev.stopping;
    struct http_buf *out = evloop_conn_out(&c->io);
    size_t mark = out ? out->len : 0; /* earlier pipelined answers stay whole */
    int err = out ? write_answer(co, h, out, status, reason, phase_ns, cpu_time_ns, keep) : -ENOMEM;
    if (err < 0 && out) {
        out->len = mark;
        keep = false;
        err = http_write_error(out, &h->req, 500, "out of memory", false);
    }
    if (err < 0) {
        coro__conn_close(c);
        return false;
    }
    c->close_after = !keep;
    return true;
}

void coro__serve(struct coro *co)
{
    struct conn *c = co->conn;
    struct coro__head h = co->head;
    for (;;) {
        if (!run_request(co, &h))
            return;
        if (c->close_after || evloop_conn_out_pending(&c->io) >= HTTP_OUT_FLUSH_AT)
            break; /* the loop closes or waits for the reader */
        if (c->budget == 0) {
            coro__yield_turn(co);
            if (c->state == CONN_CLOSED)
                return;
            c->budget = CORO_BUDGET;
        }
        /* A head whose body is not all in stays on the connection: the loop
         * drops the rest of the body, without this coroutine's stack. */
        if (coro__conn_take_head(c, &h) <= 0)
            break; /* no whole request left, or a bad head whose error is queued */
    }
    coro__conn_flush(c);
}
