/* The async engine's insides, shared by its files and by nobody else: the
 * loop, the connection and request state machines, the database connections
 * and the timers. Every structure here belongs to exactly one loop and is
 * touched only by that loop's thread, so nothing here takes a lock. */
#ifndef OVERLAP_ASYNC_INT_H
#define OVERLAP_ASYNC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "db.h"
#include "heap.h"
#include "http.h"
#include "proc.h"
#include "serve.h"
#include "wl.h"

/* Limits, each with its reason. */
/* epoll events per wakeup: one syscall serves many sockets */
#define ASYNC_MAX_EVENTS 256
/* accepts per listener wakeup, so no accept storm starves the connections
 * already open (the listener is level-triggered: the rest wake us again) */
#define ASYNC_ACCEPT_BATCH 64
/* one whole head fits; a bigger one is 431 anyway */
#define ASYNC_IN_BUF HTTP_MAX_HEAD
/* pipelined responses batch up to this before a write */
#define ASYNC_OUT_FLUSH_AT 65536
/* pipelined requests one connection runs before the others get a turn: a
 * flood of them cannot starve the loop */
#define ASYNC_DRIVE_BUDGET 64
/* a tag is job id | generation << 18: 262,144 requests in flight per loop */
#define ASYNC_JOB_ID_BITS 18
#define ASYNC_MAX_JOBS    (1u << ASYNC_JOB_ID_BITS)
/* the first reconnect 10 ms after a failure, doubling to half a second */
#define ASYNC_BACKOFF_MIN (10 * 1000000ULL)
#define ASYNC_BACKOFF_MAX (500 * 1000000ULL)
/* how long a closed-on client's leftovers are read before the close */
#define ASYNC_LINGER_NS (2 * 1000000000ULL)
/* buffers of each kind kept per loop: the excess of a burst is freed */
#define ASYNC_MAX_SPARES 1024
/* the listener's rest when even the spare descriptor cannot be had */
#define ASYNC_EMFILE_PAUSE (100 * 1000000ULL)

/* I/O results, wrk's way: RETRY is EAGAIN. */
enum io_result { IO_OK, IO_ERROR, IO_RETRY };

/* ---- intrusive doubly linked list ---- */

struct list {
    struct list *prev, *next;
};

void async__list_init(struct list *head);
void async__list_push(struct list *head, struct list *node);
void async__list_remove(struct list *node);
static inline bool async__list_empty(const struct list *head)
{
    return head->next == head;
}

#define async__container(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- the poller (poller.c): epoll behind five functions ---- */

/* What an epoll event's data points at: every watched object starts with one. */
enum watch_kind { WATCH_STOP, WATCH_LISTENER, WATCH_CONN, WATCH_DB };

struct watch {
    enum watch_kind kind;
};

int async__poll_create(void);
int async__poll_add(int epfd, int fd, uint32_t events, struct watch *w);
int async__poll_mod(int epfd, int fd, uint32_t events, struct watch *w);
int async__poll_del(int epfd, int fd);
int async__poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms);

/* ---- timers: each loop keeps its deadlines in one shared heap (proc/heap.h),
 * so arming, moving and cancelling are O(log n) and the next deadline is
 * O(1); equal deadlines fire in the order they were set. ---- */

struct timer;
typedef void (*timer_fn)(struct timer *t);

struct timer {
    struct heap_node node; /* in the loop's heap while armed; deadline in CLOCK_MONOTONIC ns */
    timer_fn fire;         /* runs on the loop's thread once the deadline has passed */
};

static inline void async__timer_init(struct timer *t, timer_fn fire)
{
    heap_node_init(&t->node);
    t->fire = fire;
}

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

/* Which timeout the connection's one timer stands for. */
enum conn_timer {
    TIMER_NONE,
    TIMER_IDLE,   /* no request under way: --idle-timeout */
    TIMER_HEADER, /* a head or body under way: --header-timeout from its first byte */
    TIMER_WRITE,  /* output stalled: --idle-timeout from the last progress */
    TIMER_LINGER, /* our side is shut down: ASYNC_LINGER_NS */
};

struct conn {
    struct watch watch; /* first: what epoll hands back */
    enum conn_state state;
    enum conn_timer timer_kind;
    int fd;
    uint32_t events; /* what epoll watches now */
    struct loop *loop;
    struct http_buf in; /* a loop spare while holding bytes, else empty */
    size_t in_start;    /* unparsed bytes are in.data[in_start, in.len) */
    uint64_t discard;   /* body bytes still to drop; 0 but in DISCARDING (and WRITING from it) */
    /* DISCARDING: the parsed head waiting for its body to go, its flags only
     * (the body may overwrite the buffer it pointed into), and its route,
     * decided while the path was still there */
    struct http_request req;
    int route;
    bool continue_sent;  /* the head's 100 Continue is queued */
    struct http_buf out; /* responses; a loop spare while holding bytes */
    size_t out_start;    /* unwritten bytes are out.data[out_start, out.len) */
    struct job *job;     /* the request under way, or NULL */
    struct timer timer;
    struct list link;      /* the loop's open connections, walked only at shutdown */
    struct list post_link; /* the loop's connections to drive again next turn */
    int budget;            /* requests left before yielding to other connections */
    bool close_after;      /* the response being written is the last */
    bool readable;         /* an input edge came since the socket last ran dry */
    bool peer_done;        /* the client shut down or failed: read on until EOF or error */
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
    uint32_t id;       /* index in loop->jobs; the low bits of a tag */
    uint32_t gen;      /* bumped when a query is answered or abandoned: stale tags miss */
    struct http_request req;
    int request;  /* the workload's request type */
    int step;     /* the next step to run */
    bool retried; /* the current query was sent again after its connection died */
    bool keep_alive;
    uint64_t mark;          /* when the current phase began */
    uint64_t cpu_time_ns;   /* thread CPU time its cpu steps took so far */
    struct dbc *db;         /* PARKED: the database connection its query went to */
    struct list db_link;    /* PARKED: in that connection's list of parked jobs */
    struct timer timeout;   /* PARKED: --db-timeout for the query */
    int error;              /* an HTTP status that ends the request early (503, 504, 500), or 0 */
    const char *reason;     /* the error's message, or NULL for the status's own */
    struct list ready_link; /* READY: in the loop's list of jobs to resume after this batch */
    struct job *next_free;  /* FREE: the next job on the loop's free list */
    struct http_buf body;
    uint64_t phase_ns[]; /* 1 + the workload's longest request: queue, then each step */
};

/* ---- database connections (dbc.c) ---- */

struct dbc {
    struct watch watch;
    struct loop *loop;
    struct db_async *a; /* NULL while down */
    int index;
    bool want_write; /* EPOLLOUT is on */
    uint64_t backoff_ns;
    struct timer reconnect;
    struct list parked; /* jobs whose query is out on this connection */
};

/* ---- the loop ---- */

struct spare_buf {
    char *data;
    size_t cap;
};

struct spares {
    struct spare_buf *items;
    int n, cap;
};

struct loop {
    int id;
    const struct serve_config *cfg;
    int epfd;
    struct watch stop_watch;
    struct watch listen_watch;
    int listen_fd; /* -1 once stopping */
    int spare_fd;  /* held open to be closed when accept hits EMFILE */
    bool accept_paused;
    struct timer accept_pause;
    uint64_t now; /* CLOCK_MONOTONIC ns, refreshed once per wakeup */
    struct heap timers;
    struct wl_rng rng;
    struct dbc *dbs;
    int ndbs, next_db;
    uint64_t last_connect; /* the last reconnect made on a request's behalf */
    int max_steps;         /* the workload's longest request, sizing each job */
    struct job **jobs;     /* every job ever made, by id */
    uint32_t njobs, jobs_cap;
    struct job *free_jobs; /* FREE jobs, linked through next_free */
    struct list conns;     /* open connections */
    int nconns;
    struct conn **dead; /* closed during this batch: freed after it */
    int ndead, dead_cap;
    struct conn **free_conns;
    int nfree_conns, free_conns_cap;
    struct spares in_spares, out_spares;
    struct list ready;  /* READY jobs, resumed after the batch of events that woke them */
    struct list posted; /* connections that used up their budget, to drive next turn */
    bool stopping;
    struct timer stop_deadline;
    bool done;
    pthread_t thread;
};

/* conn.c */
void async__conn_accepted(struct loop *lp, int fd);
void async__conn_on_event(struct conn *c, uint32_t events);
void async__conn_resume(struct conn *c); /* its request's query came back: run on */
void async__conn_stop(struct conn *c);   /* shutdown: close now if between requests */
void async__conn_free(struct conn *c);
void async__conn_run_posted(struct loop *lp);

/* job.c, in the order of a request's life */
struct job *async__job_start(struct conn *c, const struct http_request *req, int request,
                             uint64_t t0);
bool async__job_run(struct job *j);
struct job *async__job_find(struct loop *lp, uint32_t tag);
void async__job_on_answer(struct job *j, const struct db_result *res);
void async__job_on_db_lost(struct job *j);
void async__job_resume_ready(struct loop *lp);
int async__job_write_response(struct job *j, struct http_buf *out, bool keep_alive);
void async__job_release(struct job *j);
void async__job_abandon(struct job *j);
void async__jobs_free(struct loop *lp);

/* dbc.c */
int async__db_open_all(struct loop *lp);
void async__db_close_all(struct loop *lp);
void async__db_on_event(struct dbc *d, uint32_t events);
/* Sends query with tag on the next connection that is up: 0 with *sent_on
 * set, or an HTTP status to answer with (503: none is up; 500: bad query). */
int async__db_send(struct loop *lp, uint32_t tag, int query, struct dbc **sent_on);

/* loop.c */
int async__loop_init(struct loop *lp, int id, const struct serve_config *cfg, int listen_fd);
void async__loop_free(struct loop *lp);
void *async__loop_main(void *arg);
int async__spare_take(struct loop *lp, struct spares *s, struct http_buf *b, size_t min);
void async__spare_give(struct spares *s, struct http_buf *b);
void async__loop_defer_free(struct loop *lp, struct conn *c);

#endif
