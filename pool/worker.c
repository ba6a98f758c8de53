/* A worker and what it does with one ready request, in either mode: route
 * it, run its steps with blocking calls (a `cpu` step burns on this thread, a
 * `query` step blocks on this worker's own database connection) and write the
 * response. The database connection is reopened with backoff when lost; a
 * request that cannot reach the database gets 503, one that waits past
 * --db-timeout 504. */
#include <errno.h>
#include <string.h>

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
    int err = db_conn_open(w->pool->cfg->db_addr, &w->db);
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

/* Runs query q once: 0 with *res, or the status to answer with and why. A
 * connection found dead is reopened at once and the query sent once more, so
 * a database restart between two requests costs no error. */
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
            return 504;
        }
        if (r == 0 && res->status != DB_OK) {
            *reason = res->message;
            return res->status == DB_EUNAVAILABLE ? 503 : 500;
        }
        if (r == 0)
            return 0;
        db_drop(w);
    }
    *reason = "database unreachable";
    return 503;
}

/* Runs request type `request`'s steps and appends the response to w->out. */
static int run_steps(struct pool__worker *w, struct pool__conn *c, int request, bool keep)
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
            if (status)
                return http_write_error(&w->out, &c->req, status, reason, keep);
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

int pool__serve_one(struct pool__worker *w, struct pool__conn *c)
{
    struct pool *p = w->pool;
    bool keep = c->req.keep_alive && !proc_stopping();
    int route = http_route(p->cfg->wl, &c->req);
    int err;
    w->out.len = 0;
    if (route == HTTP_ROUTE_PLAINTEXT)
        err = http_write_plaintext(&w->out, &c->req, keep);
    else if (route < 0)
        err = http_write_error(&w->out, &c->req, -route, NULL, keep);
    else
        err = run_steps(w, c, route, keep);
    if (err < 0) {
        w->out.len = 0;
        keep = false;
        if (http_write_error(&w->out, &c->req, 500, "out of memory", false) < 0)
            return -1;
    }
    atomic_fetch_add_explicit(&p->served, 1, memory_order_relaxed);
    if (pool__write_all(c->fd, w->out.data, w->out.len, p->cfg->idle_timeout_ns) < 0)
        return -1;
    return keep ? 1 : 0;
}
