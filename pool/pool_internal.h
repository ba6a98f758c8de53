/* What the pool's files share: a connection's buffer and state, accepting,
 * the bounded queue, and a worker with its database connection. Names here
 * are internal (pool__); pool.h is the module's API. The list, the poller
 * wrappers and the stop and close limits are evloop's (evloop.h).
 *
 * Ownership: a connection belongs to exactly one thread at a time. In request
 * mode that is the front end, or the worker that took it from the queue; it
 * changes hands only through the queue (front end -> worker) and the return
 * list (worker -> front end), both under their own mutex. Only the front end
 * closes a request-mode connection. In connection mode the worker that took it owns it
 * until it closes it. In leader mode the worker whose epoll_wait reported it
 * owns it until it waits in the poller again (its claim, leader_mode.c). */
#ifndef OVERLAP_POOL_INTERNAL_H
#define OVERLAP_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "db.h"
#include "evloop.h"
#include "http.h"
#include "pool.h"
#include "proc.h"

#define POOL_IN_MIN         2048 /* first read buffer: most heads fit; grows to POOL_IN_MAX */
#define POOL_STACK_SIZE     (256 << 10)   /* worker stacks: a request needs a few KiB */
#define POOL_BACKOFF_MIN_NS 10000000ULL   /* first database reconnect retry: 10 ms */
#define POOL_BACKOFF_MAX_NS 1000000000ULL /* retries back off to once a second */
/* Out of descriptors or memory, the listener rests this long: a listener
 * that cannot accept would otherwise wake its acceptor at once, forever. */
#define POOL_ACCEPT_PAUSE_NS 100000000ULL
/* The read buffer's limit: a head at its limit, and as much again behind it
 * for its body and what follows, since a parsed head stays in the buffer
 * while its body is read and dropped. */
#define POOL_IN_MAX (2 * HTTP_MAX_HEAD)

/* Where a connection stands, from its owner's point of view; serving a
 * request ends in IDLE, CLOSING or DEAD (pool__serve_one, pool__serve_ready). */
enum pool__conn_state {
    POOL_CONN_IDLE,    /* waiting for its next request's bytes */
    POOL_CONN_QUEUED,  /* request mode: a whole request is parsed; queued for or held by a worker */
    POOL_CONN_CLOSING, /* the last response is written; close after lingering */
    POOL_CONN_LINGER,  /* write side shut; reading until EOF or the linger deadline */
    POOL_CONN_DEAD,    /* an I/O error: close at once */
};

struct pool__conn {
    struct evloop_watch watch; /* first: what the poller hands back (leader and request mode) */
    int fd;
    enum pool__conn_state state;
    char *in; /* unconsumed bytes; the current request's head starts at in[0] */
    size_t in_len, in_cap;
    size_t head_len;    /* 0 until the current head is parsed */
    uint64_t body_left; /* body bytes of the current request still to discard */
    bool continue_sent; /* the current request's 100 Continue is written */
    struct http_request req;
    uint64_t t_head;          /* when the current request, head and body, was all in (ns) */
    uint64_t deadline;        /* idle, header or linger deadline (ns) */
    struct pool__conn *qnext; /* queue or return list */
    /* the front end's list of connections it holds (request mode), or the list
     * of every open connection (leader mode); linked to itself when in none */
    struct evloop_list link;
    /* leader mode: which thread may touch the connection (a claim state in
     * the low bits, a generation above them, leader_mode.c), and its deadline
     * as published for the timeout sweep */
    _Atomic uint64_t claim;
    _Atomic uint64_t expires_at;
};

static inline struct pool__conn *pool__conn_of(struct evloop_list *link)
{
    return evloop_container(link, struct pool__conn, link);
}

/* ---- a connection's I/O (conn_io.c) ---- */

/* pool__conn_advance results besides a negated HTTP status. */
#define POOL_NEED_MORE 0
#define POOL_READY     1

struct pool__conn *pool__conn_new(int fd);
void pool__conn_free(struct pool__conn *c);
/* Parses the head at in[0] if not yet done and discards body bytes that have
 * arrived: POOL_READY when the whole request (head and body) is in,
 * POOL_NEED_MORE, or a negated status of http_parse_request (answer and
 * close). A request is answered only after its body is gone. */
int pool__conn_advance(struct pool__conn *c, uint64_t now);
/* Drops the served request's head from the buffer, keeping pipelined bytes. */
void pool__conn_consume(struct pool__conn *c);
/* One non-blocking read into the buffer: bytes read (> 0), 0 at EOF, or -errno
 * (-EAGAIN when nothing is there). When nothing is there and a parsed head
 * with Expect: 100-continue still waits for its body, it first writes the
 * 100 Continue, once per request; a failure to write it is -EIO. */
ssize_t pool__conn_read(struct pool__conn *c, const struct serve_config *cfg, uint64_t now);
/* Sets the deadline of a connection about to wait: the header timeout if a
 * request has begun, else the idle timeout. */
void pool__conn_arm(struct pool__conn *c, const struct serve_config *cfg, uint64_t now);
/* Arms c in the poller epfd for one input event (EPOLLONESHOT: the event
 * disarms it until its owner calls this again); is_new adds it. 0 or -errno. */
int pool__conn_watch(int epfd, struct pool__conn *c, bool is_new);
/* Blocking write of all n bytes to a non-blocking socket, up to timeout_ns. */
int pool__write_all(int fd, const char *p, size_t n, uint64_t timeout_ns);
/* Writes an error response (400, 414, 417, 431 or 501 for a head that did
 * not parse, 503 when no worker is free) in one attempt, without blocking; 0
 * if all of it was written. */
int pool__write_error_now(struct http_buf *out, int fd, const struct http_request *req, int status,
                          const char *reason, bool keep_alive);

/* ---- accepting (conn_io.c) ---- */

struct pool;

/* Why pool__accept_batch stopped. */
enum pool__accept_end {
    POOL_ACCEPT_DRAINED, /* the backlog is empty, or the batch is taken */
    POOL_ACCEPT_NO_FDS,  /* out of descriptors or memory: rest the listener, then retry */
    POOL_ACCEPT_SHUT,    /* the listener is shut for the stop */
};

/* Accepts up to max clients (0: until the backlog is empty) from
 * p->listen_fd, each non-blocking, close-on-exec and with Nagle off, and
 * hands each to take(ctx, fd), which owns the fd from then on. A client that
 * died in the backlog is skipped. Before accepting it samples the accept
 * queue into p->backlog_peak and p->backlog_limit: how long it grew while
 * no one accepted. What to do at the end (re-arm, rest) is the caller's. */
enum pool__accept_end pool__accept_batch(struct pool *p, int max, void (*take)(void *ctx, int fd),
                                         void *ctx);

/* ---- the bounded FIFO (queue.c) ---- */

struct pool__queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pool__conn *head, *tail;
    int len, cap;
    int idle;     /* workers waiting on cv: signal only when one is */
    bool stopped; /* the sentinel: every worker that sees it exits */
};

void pool__queue_init(struct pool__queue *q, int cap);
void pool__queue_destroy(struct pool__queue *q);
/* Appends c: 0, or -EAGAIN when cap entries are already waiting. */
int pool__queue_push(struct pool__queue *q, struct pool__conn *c);
/* Waits for the next connection; NULL once stopped and drained. */
struct pool__conn *pool__queue_pop(struct pool__queue *q);
/* Lets workers exit once the entries already queued are served. */
void pool__queue_stop(struct pool__queue *q);
/* How many workers wait in pool__queue_pop now: what a test waits for before
 * it pushes or stops, so that it exercises the wake-up. */
int pool__queue_waiting(struct pool__queue *q);

/* ---- workers (worker.c) ---- */

struct pool__leader; /* leader mode's shared poller and connection list (leader_mode.c) */

struct pool__worker {
    struct pool *pool;
    int index;
    pthread_t thread;
    struct db_conn *db; /* NULL while the database is unreachable */
    uint64_t db_retry_at, db_backoff_ns;
    struct wl_rng rng;
    struct http_buf out, body;
    bool leading; /* leader mode: this worker leads, so it must not block */
};

/* The pool (pool.c), shared by every thread; counters are atomics, the rest
 * is set before any thread starts. */
struct pool {
    const struct serve_config *cfg;
    int listen_fd;
    struct pool__queue queue;
    struct pool__worker *workers;
    int nworkers; /* workers[] set up, each with its buffers */
    int nstarted; /* of those, the ones whose thread runs: the ones to join */
    /* request mode: workers hand connections back to the front end here */
    pthread_mutex_t ret_mu;
    struct pool__conn *ret_head, *ret_tail;
    int wake_fd; /* eventfd: written when the return list becomes non-empty */
    /* leader mode: the poller every worker waits on in turn */
    struct pool__leader *leader;
    /* connection mode with --workers 0: live per-connection threads */
    pthread_mutex_t live_mu;
    pthread_cond_t live_cv;
    int live;
    atomic_ulong served, shed;
    /* the longest accept queue seen at an accept wakeup, and the queue's
     * limit: whether clients waited to get in, which served and shed cannot
     * tell (pool__accept_batch) */
    atomic_ulong backlog_peak, backlog_limit;
    /* workers that have made their first database connect: the server
     * announces itself only once all have, so a run's first requests do not
     * meet a pool still starting */
    pthread_mutex_t ready_mu;
    pthread_cond_t ready_cv;
    int ready;
};

/* When a stop gives up on the requests still in flight: --db-timeout and
 * EVLOOP_STOP_GRACE_NS from now (pool.c). */
uint64_t pool__stop_deadline(const struct pool *p);

void pool__worker_init(struct pool__worker *w, struct pool *p, int index);
void pool__worker_free(struct pool__worker *w);
/* Serves c's ready request, appending the response to w->out, and writes it.
 * Returns what c needs next: POOL_CONN_IDLE (its next request's bytes),
 * POOL_CONN_CLOSING (linger, then close) or POOL_CONN_DEAD (a write error:
 * close at once). */
enum pool__conn_state pool__serve_one(struct pool__worker *w, struct pool__conn *c);
/* Serves c's ready request and every whole request pipelined behind it in
 * c's buffer, in order, their responses batched in w->out into writes of up
 * to HTTP_OUT_FLUSH_AT bytes. Returns what c needs next: POOL_CONN_IDLE (its
 * next request's bytes), POOL_CONN_CLOSING (linger, then close) or
 * POOL_CONN_DEAD (close at once). */
enum pool__conn_state pool__serve_ready(struct pool__worker *w, struct pool__conn *c);
/* Opens the worker's database connection ahead of its first query; a
 * failure is left for the first query to retry. */
void pool__worker_connect(struct pool__worker *w);

/* ---- the three modes ---- */

/* The front ends run on the main thread until stopped: 0, or -errno when the
 * front end could not start. *unfinished is set when requests were still
 * running at pool__stop_deadline (then the workers cannot be joined). */
int pool__run_request_mode(struct pool *p, bool *unfinished);    /* request_mode.c */
int pool__run_connection_mode(struct pool *p, bool *unfinished); /* connection_mode.c */
int pool__run_leader_mode(struct pool *p, bool *unfinished);     /* leader_mode.c */
/* A pool worker's loop in each mode: takes from the queue (or in leader mode
 * waits on the shared poller) until it is stopped. */
void pool__request_worker(struct pool__worker *w);    /* request_mode.c */
void pool__connection_worker(struct pool__worker *w); /* connection_mode.c */
void pool__leader_worker(struct pool__worker *w);     /* leader_mode.c */
/* Leader mode's poller, set up after the listening socket and before the
 * workers start (0 or -errno); the workers are woken to exit by
 * pool__leader_stop_workers, and it is freed after they are joined. */
int pool__leader_init(struct pool *p);
void pool__leader_stop_workers(struct pool *p);
/* The leader is about to block (a request's steps, a full socket): it hands
 * the leadership to a follower and goes on as a follower. */
void pool__leader_step_down(struct pool__worker *w);
void pool__leader_free(struct pool *p);

#endif
