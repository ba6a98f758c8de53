/* The async engine's insides, shared by its files and by nobody else: the
 * connection and request state machines on the shared epoll loop (evloop.h:
 * list, timers, poller, listener, database connections). Every structure
 * here belongs to exactly one loop and is touched only by that loop's
 * thread, so nothing here takes a lock. */
#ifndef OVERLAP_ASYNC_INT_H
#define OVERLAP_ASYNC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "db.h"
#include "evloop.h"
#include "ids.h"
#include "heap.h"
#include "http.h"
#include "proc.h"
#include "serve.h"
#include "wl.h"

/* Limits, each with its reason (the buffers' and linger's are evloop.h's, the
 * output's flush point http.h's HTTP_OUT_FLUSH_AT). */
/* pipelined requests one connection runs before the others get a turn: a
 * flood of them cannot starve the loop */
#define ASYNC_DRIVE_BUDGET 64

/* ---- a connection and the request it runs ---- */

/* A connection's life. Every transition goes through conn_set_state (conn.c),
 * which checks it in debug builds, and one switch in conn_drive acts on the
 * state. A zeroed struct is CLOSED: accepting it makes it READING. */
enum conn_state {
    CONN_CLOSED,     /* not open: fresh from the free list, or closed and freed after the batch */
    CONN_READING,    /* waiting for (the rest of) a request head, or idle between requests */
    CONN_DISCARDING, /* a head is parsed: dropping its body (Content-Length) before answering */
    CONN_RUNNING,    /* running the request's steps inline, up to the next query */
    CONN_WAITING_DB, /* parked: a query is out on a database connection */
    CONN_WRITING,    /* responses pending and the socket is full: EPOLLOUT is on */
    CONN_CLOSING,    /* a last response (error or Connection: close) is draining */
    CONN_LINGERING,  /* our side shut down; reading the client's leftovers until EOF */
};

struct loop;
struct job;

/* The connection's bytes (buffers, timer, watch, body to drop) are its
 * struct evloop_conn's (evloop/conn.c); what is here is the request's. */
struct conn {
    struct evloop_conn io; /* first: what epoll hands back */
    enum conn_state state;
    struct loop *loop;
    /* DISCARDING: the parsed head waiting for its body to go (io.discard),
     * its flags only (the body may overwrite the buffer it pointed into),
     * and its route, decided while the path was still there */
    struct http_request req;
    int route;
    struct job *job;               /* the request under way, or NULL */
    struct evloop_list defer_link; /* on ev.deferred: it used up its budget, runs next turn */
    int budget;                    /* requests left before yielding to other connections */
    bool close_after;              /* the response being written is the last */
};

/* ---- a request in flight (job.c) ---- */

/* A job's life, from a complete head to its response. Every transition goes
 * through job_set_state (job.c), which checks in debug builds that it is one
 * of these: FREE -> RUNNING -> (PARKED -> READY -> RUNNING)* -> FREE. */
enum job_state {
    JOB_FREE,    /* on the loop's free list, serving no request */
    JOB_RUNNING, /* running its steps inline on the loop's thread, up to the next query */
    JOB_PARKED,  /* its query is out on job->db, the --db-timeout armed */
    JOB_READY,   /* answered, failed or timed out: on the loop's ready list, to resume */
};

struct job {
    struct loop *loop;
    enum job_state state;
    struct conn *conn; /* NULL once the client is gone: the job only waits for its query */
    uint32_t id;       /* in loop->jobs (evloop/ids.h): the low bits of a tag */
    uint32_t gen;      /* bumped when a query is answered or abandoned: stale tags miss */
    struct http_request req;
    int request;  /* the workload's request type */
    int step;     /* the next step to run */
    bool retried; /* the current query was sent again after its connection died */
    bool keep_alive;
    uint64_t mark;               /* when the current phase began */
    uint64_t cpu_time_ns;        /* thread CPU time its cpu steps took so far */
    struct evloop_dbc *db;       /* PARKED: the database connection its query went to */
    struct evloop_list db_link;  /* PARKED: in that connection's list of parked jobs */
    struct evloop_timer timeout; /* PARKED: --db-timeout for the query */
    int error;          /* the HTTP status that ends the request early (503, 504, 500), or 0 */
    const char *reason; /* the error's message, or NULL for the status's own */
    struct evloop_list ready_link; /* READY: on ev.ready, to resume after this batch */
    struct job *next_free;         /* FREE: the next job on the loop's free list */
    struct http_buf body;
    uint64_t phase_ns[]; /* 1 + the workload's longest request: queue, then each step */
};

/* ---- the loop ---- */

/* The shared loop and what only async keeps: its jobs. */
struct loop {
    struct evloop ev;       /* first: evloop_serve and the ops hand it back */
    int max_steps;          /* the workload's longest request, sizing each job */
    struct evloop_ids jobs; /* every job ever made, by id */
    struct job *free_jobs;  /* FREE jobs, linked through next_free */
};

static inline struct loop *async__loop_of(struct evloop *ev)
{
    return evloop_container(ev, struct loop, ev);
}

/* conn.c */
void async__conn_accepted(struct evloop *ev, int fd);
void async__conn_on_event(struct evloop_conn *io, uint32_t events);
void async__conn_resume(struct conn *c);          /* its request's query came back: run on */
void async__conn_stop(struct evloop_conn *io);    /* shutdown: close now if between requests */
void async__conn_timeout(struct evloop_conn *io); /* its timeout passed: close */
void async__conn_run_deferred(struct evloop_list *node);

/* job.c, in the order of a request's life */
struct job *async__job_start(struct conn *c, const struct http_request *req, int request,
                             uint64_t t0);
bool async__job_run(struct job *j);
struct job *async__job_find(struct loop *lp, uint32_t tag);
void async__job_on_answer(struct job *j, const struct db_result *res);
void async__job_on_db_lost(struct job *j);
void async__job_run_ready(struct evloop_list *node);
int async__job_write_response(struct job *j, struct http_buf *out, bool keep_alive);
void async__job_release(struct job *j);
void async__job_abandon(struct job *j);
void async__jobs_free(struct loop *lp);

/* dbc.c */
void async__db_on_answer(void *ctx, const struct db_result *res);
void async__db_on_lost(struct evloop_dbc *d, struct evloop_list *link);
/* Sends query with tag on the next connection that is up: 0 with *sent_on
 * set, or a negated HTTP status (http.h): -503 none is up, -500 bad query. */
int async__db_send(struct loop *lp, uint32_t tag, int query, struct evloop_dbc **sent_on);

#endif
