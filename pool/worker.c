/* A worker and what it does with one ready request, in any of the three
 * modes: route it, run its steps with blocking calls (a `cpu` step burns on this thread, a
 * `query` step blocks on this worker's own database connection) and write the
 * response. The database connection is reopened with backoff when lost; a
 * request that cannot reach the database gets 503, one that waits past
 * --db-timeout 504. Responses to pipelined requests are batched into one
 * write, as async batches them. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pool_internal.h"

void pool__worker_init(struct pool__worker *w, struct pool *p, int index)
{
    memset(w, 0, sizeof(*w));
    w->pool = p;
    w->index = index;
    wl_rng_seed(&w->rng, proc_now_ns() ^ ((uint64_t)index * 0x9e3779b97f4a7c15ULL));
    http_buf_init(&w->out);
    http_buf_init(&w->body);
}

void pool__worker_free(struct pool__worker *w)
{
    if (w->db)
        db_conn_close(w->db);
    w->db = NULL;
    http_buf_free(&w->out);
    http_buf_free(&w->body);
}

/* Opens the database connection unless a recent failure says to wait. */
static int db_reconnect(struct pool__worker *w)
{
    uint64_t now = proc_now_ns();
    if (now < w->db_retry_at)
        return -EAGAIN;
    int err = db_conn_open_wl(w->pool->cfg->db_addr, w->pool->cfg->wl, &w->db);
    if (err < 0) {
        w->db = NULL;
        w->db_backoff_ns = w->db_backoff_ns ? w->db_backoff_ns * 2 : POOL_BACKOFF_MIN_NS;
        if (w->db_backoff_ns > POOL_BACKOFF_MAX_NS)
            w->db_backoff_ns = POOL_BACKOFF_MAX_NS;
        w->db_retry_at = now + w->db_backoff_ns;
        return err;
    }
    w->db_backoff_ns = 0;
    w->db_retry_at = 0;
    return 0;
}

void pool__worker_connect(struct pool__worker *w)
{
    if (!w->db)
        db_reconnect(w);
}

static void db_drop(struct pool__worker *w)
{
    db_conn_close(w->db);
    w->db = NULL;
}

/* Runs query q once: 0 with *res, or the status to answer with, negated
 * (http.h's convention), and why. A connection found dead is reopened at
 * once and the query sent once more, so a database restart between two
 * requests costs no error. */
static int run_query(struct pool__worker *w, int q, struct db_result *res, const char **reason)
{
    const struct serve_config *cfg = w->pool->cfg;
    struct db_value params[DB_MAX_PARAMS];
    int n = db_bind_params(cfg->wl, q, &w->rng, params);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!w->db && db_reconnect(w) < 0)
            break;
        int r = db_conn_query(w->db, (uint16_t)q, params, n, cfg->db_timeout_ns, res);
        if (r == -ETIMEDOUT) {
            *reason = "database timed out";
            return -504;
        }
        if (r == 0 && res->status != DB_OK) {
            *reason = res->message;
            return res->status == DB_EUNAVAILABLE ? -503 : -500;
        }
        if (r == 0)
            return 0;
        db_drop(w);
    }
    *reason = "database unreachable";
    return -503;
}

/* Answers a request of workload type `request`: runs its steps and appends
 * the response to w->out, 200 with their results or the error a query met.
 * 0, or -ENOMEM when the response could not be made. */
static int answer_with_steps(struct pool__worker *w, struct pool__conn *c, int request, bool keep)
{
    const struct wl_workload *wl = w->pool->cfg->wl;
    const struct wl_request *rq = &wl->requests[request];
    uint64_t phase_ns[HTTP_MAX_PHASES], cpu_time_ns = 0;
    uint64_t t = proc_now_ns();
    phase_ns[0] = t - c->t_head;
    if (http_body_begin(&w->body, wl, request) < 0)
        return -ENOMEM;
    for (int i = 0; i < rq->nsteps; i++) {
        const struct wl_step *s = &rq->steps[i];
        if (s->kind == WL_STEP_CPU) {
            cpu_time_ns += wl_burn(s->cpu_ns);
        } else {
            struct db_result res;
            const char *reason = NULL;
            int status = run_query(w, s->query, &res, &reason);
            if (status < 0)
                return http_write_error(&w->out, &c->req, -status, reason, keep);
            if (http_body_add(&w->body, wl, request, s->query, &res) < 0)
                return -ENOMEM;
        }
        uint64_t end = proc_now_ns();
        phase_ns[1 + i] = end - t;
        t = end;
    }
    if (http_body_end(&w->body, wl, request) < 0)
        return -ENOMEM;
    return http_write_response(&w->out, &c->req, 200, http_content_type(wl, request), wl, request,
                               phase_ns, 1 + rq->nsteps, cpu_time_ns, keep, w->body.data,
                               w->body.len);
}

/* Whether request type r has a query step: the responses batched before it
 * are written first, so that none waits on another request's database. */
static bool waits_on_db(const struct wl_workload *wl, int r)
{
    for (int i = 0; i < wl->requests[r].nsteps; i++)
        if (wl->requests[r].steps[i].kind != WL_STEP_CPU)
            return true;
    return false;
}

/* Writes the responses waiting in w->out: 0, or -errno when c failed. A
 * leader (leader mode) tries once without blocking, and steps down before it
 * waits for a full socket. */
static int flush(struct pool__worker *w, struct pool__conn *c)
{
    size_t done = 0;
    if (w->leading && w->out.len > 0) {
        ssize_t n = write(c->fd, w->out.data, w->out.len);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            w->out.len = 0;
            return -errno;
        }
        done = n > 0 ? (size_t)n : 0;
        if (done < w->out.len)
            pool__leader_step_down(w);
    }
    int err = pool__write_all(c->fd, w->out.data + done, w->out.len - done,
                              w->pool->cfg->idle_timeout_ns);
    w->out.len = 0;
    return err;
}

/* Appends the response to c's ready request to w->out, after any responses
 * to earlier pipelined requests (written first if this one waits on the
 * database). Returns what c needs once the batch is written: POOL_CONN_IDLE
 * (kept alive), POOL_CONN_CLOSING (close-bound), or POOL_CONN_DEAD (an
 * earlier response failed to write). */
static enum pool__conn_state serve_batched(struct pool__worker *w, struct pool__conn *c)
{
    struct pool *p = w->pool;
    bool keep = c->req.keep_alive && !proc_stopping();
    int route = http_route(p->cfg->wl, &c->req);
    int err;
    if (route >= 0 && w->leading)
        pool__leader_step_down(w); /* its steps may block: a follower leads meanwhile */
    if (route >= 0 && w->out.len > 0 && waits_on_db(p->cfg->wl, route) && flush(w, c) < 0)
        return POOL_CONN_DEAD;
    size_t start = w->out.len;
    if (route == HTTP_ROUTE_PLAINTEXT)
        err = http_write_plaintext(&w->out, &c->req, keep);
    else if (route < 0)
        err = http_write_error(&w->out, &c->req, -route, NULL, keep);
    else
        err = answer_with_steps(w, c, route, keep);
    if (err < 0) {
        w->out.len = start;
        keep = false;
        if (http_write_error(&w->out, &c->req, 500, "out of memory", false) < 0)
            return POOL_CONN_DEAD;
    }
    atomic_fetch_add_explicit(&p->served, 1, memory_order_relaxed);
    return keep ? POOL_CONN_IDLE : POOL_CONN_CLOSING;
}

enum pool__conn_state pool__serve_one(struct pool__worker *w, struct pool__conn *c)
{
    w->out.len = 0;
    enum pool__conn_state next = serve_batched(w, c);
    if (next == POOL_CONN_DEAD || flush(w, c) < 0)
        return POOL_CONN_DEAD;
    return next;
}

enum pool__conn_state pool__serve_ready(struct pool__worker *w, struct pool__conn *c)
{
    w->out.len = 0;
    for (;;) {
        enum pool__conn_state next = serve_batched(w, c);
        if (next == POOL_CONN_DEAD)
            return POOL_CONN_DEAD;
        bool keep = next == POOL_CONN_IDLE;
        pool__conn_consume(c);
        int r = keep ? pool__conn_advance(c, proc_now_ns()) : POOL_NEED_MORE;
        if (r == POOL_READY && w->out.len < HTTP_OUT_FLUSH_AT)
            continue; /* the next response joins this write */
        if (flush(w, c) < 0)
            return POOL_CONN_DEAD;
        if (!keep)
            return POOL_CONN_CLOSING;
        if (r == POOL_READY)
            continue;
        if (r == POOL_NEED_MORE)
            return POOL_CONN_IDLE;
        bool sent = pool__write_error_now(&w->out, c->fd, NULL, -r, NULL, false) == 0;
        return sent ? POOL_CONN_CLOSING : POOL_CONN_DEAD;
    }
}
