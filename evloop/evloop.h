/* The epoll loop the async and coro engines both run on: the intrusive list,
 * timers over the deadline heap, the poller, spare buffers, a client
 * connection's I/O, the listener, the turn, shutdown, the database
 * connections and the start of N loop threads.
 * An engine embeds struct evloop first in its own loop and says through
 * struct evloop_ops what its connections do; what runs a request (async's
 * job state machine, coro's coroutines) stays in the engine. Every structure
 * here belongs to one loop and is touched only by its thread: no locks.
 * The pool (pool/) uses the list, the poller and the stop and close limits
 * too, not the loop; where its threads share a list, they lock it. */
#ifndef OVERLAP_EVLOOP_H
#define OVERLAP_EVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "db.h"
#include "heap.h"
#include "http.h"
#include "serve.h"
#include "wl.h"

/* Limits, each with its reason. */
/* epoll events per wakeup: one system call serves many sockets */
#define EVLOOP_MAX_EVENTS 256
/* accepts per listener wakeup, so an accept storm cannot starve the open
 * connections (the listener is level-triggered: the rest wake us again) */
#define EVLOOP_ACCEPT_BATCH 64
/* the first database reconnect 10 ms after a failure, doubling to half a second */
#define EVLOOP_BACKOFF_MIN (10 * 1000000ULL)
#define EVLOOP_BACKOFF_MAX (500 * 1000000ULL)
/* input and output buffers kept per loop: the excess of a burst is freed */
#define EVLOOP_MAX_SPARES 1024
/* the listener's rest when even the spare descriptor cannot be had */
#define EVLOOP_EMFILE_PAUSE (100 * 1000000ULL)

/* ---- the stop and the close: every engine's (pool/ includes this too) ---- */

/* On SIGINT/SIGTERM the requests in flight get --db-timeout, their query's
 * own limit, and this much more for the steps and the write that follow it,
 * before the server exits without them. A stop can find seconds of CPU in
 * flight on one core (a pool's full queue, or as many requests as clients in
 * a loop, each run to completion): a shorter grace would cut off responses
 * the stop promises to finish. It costs time only when a request is stuck. */
#define EVLOOP_STOP_GRACE_NS (5 * 1000000000ULL)
/* After a close-bound response the write side is shut and the client's
 * leftovers are read, up to this long, until its EOF: closing with unread
 * input would reset the connection and could destroy the response on its
 * way. The client's EOF is one round trip and a read away, far less than a
 * second on any network the benchmark runs on; a pool worker in connection
 * mode lingers blocked, so a longer wait would hold a thread. */
#define EVLOOP_LINGER_NS (1 * 1000000000ULL)

/* ---- intrusive doubly linked list ---- */

struct evloop_list {
    struct evloop_list *prev, *next;
};

static inline void evloop_list_init(struct evloop_list *head)
{
    head->prev = head->next = head;
}

/* At the tail. */
static inline void evloop_list_push(struct evloop_list *head, struct evloop_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Unlinks node and re-inits it, so removing it twice is harmless. */
static inline void evloop_list_remove(struct evloop_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

static inline bool evloop_list_empty(const struct evloop_list *head)
{
    return head->next == head;
}

/* Moves every node of src, in order, to the tail of dst; src is left empty. */
static inline void evloop_list_splice(struct evloop_list *dst, struct evloop_list *src)
{
    if (evloop_list_empty(src))
        return;
    src->next->prev = dst->prev;
    dst->prev->next = src->next;
    src->prev->next = dst;
    dst->prev = src->prev;
    evloop_list_init(src);
}

#define evloop_container(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- the poller (poller.c): epoll behind five functions ---- */

/* What an epoll event's data points at: every watched object starts with one. */
enum evloop_watch_kind {
    EVLOOP_WATCH_STOP,     /* the process's stop descriptor */
    EVLOOP_WATCH_LISTENER, /* the loop's listening socket */
    EVLOOP_WATCH_CONN,     /* a client connection: the engine's */
    EVLOOP_WATCH_DB,       /* a database connection (struct evloop_dbc) */
};

struct evloop_watch {
    enum evloop_watch_kind kind;
};

int evloop_poll_create(void);
int evloop_poll_add(int epfd, int fd, uint32_t events, struct evloop_watch *w);
int evloop_poll_mod(int epfd, int fd, uint32_t events, struct evloop_watch *w);
int evloop_poll_del(int epfd, int fd);
/* Events ready (0 after a timeout or a signal), or -errno. */
int evloop_poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms);

/* ---- timers: nodes of the loop's deadline heap (proc/heap.h), so arming,
 * moving and cancelling are O(log n) and the next deadline O(1); equal
 * deadlines fire in the order they were set. ---- */

struct evloop_timer {
    struct heap_node node; /* in the loop's heap while armed; deadline in CLOCK_MONOTONIC ns */
    void (*fire)(struct evloop_timer *t); /* on the loop's thread once the deadline passed */
};

static inline void evloop_timer_init(struct evloop_timer *t, void (*fire)(struct evloop_timer *t))
{
    heap_node_init(&t->node);
    t->fire = fire;
}

/* ---- spare buffers: input and output buffers come back here when their
 * owner no longer holds bytes, so an idle connection holds no buffer and the
 * request path stops allocating after warm-up. ---- */

struct evloop_spares {
    struct http_buf *items;
    int n, cap;
};

/* Gives b a buffer of at least min bytes unless it has one: 0 or -ENOMEM. */
int evloop_spare_take(struct evloop_spares *s, struct http_buf *b, size_t min);
/* Takes b's buffer back (b is left empty); beyond EVLOOP_MAX_SPARES it is freed. */
void evloop_spare_give(struct evloop_spares *s, struct http_buf *b);

/* ---- database connections (dbc.c) ---- */

struct evloop;

struct evloop_dbc {
    struct evloop_watch watch;
    struct evloop *ev;
    struct db_async *a; /* NULL while down */
    int index;
    bool want_write; /* EPOLLOUT is on */
    uint64_t backoff_ns;
    struct evloop_timer reconnect;
    struct evloop_list parked; /* the engine's requests whose query is out on it */
};

/* ---- a client connection's bytes (conn.c) ----
 * What both loop engines do with a client socket, below their request logic:
 * the input and output buffers (loop spares while they hold bytes), reading
 * until the socket runs dry, writing with partial writes, the EPOLLOUT watch,
 * the one timer and its kinds, dropping a body, the 100 Continue, lingering,
 * and the close. The engine embeds struct evloop_conn first in its own struct
 * conn, beside its own state machine. */

/* one whole head fits; a bigger one is 431 anyway */
#define EVLOOP_CONN_IN_BUF HTTP_MAX_HEAD
/* the first size of an output buffer: a plaintext response and more */
#define EVLOOP_CONN_OUT_MIN 4096
/* what a client socket is watched for; EPOLLOUT joins while output is stalled */
#define EVLOOP_CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* I/O results, wrk's way: RETRY is EAGAIN. */
enum evloop_io { EVLOOP_IO_OK, EVLOOP_IO_ERROR, EVLOOP_IO_RETRY };

/* Which timeout the connection's one timer stands for. */
enum evloop_conn_timer {
    EVLOOP_TIMER_NONE,
    EVLOOP_TIMER_IDLE,   /* no request under way: --idle-timeout */
    EVLOOP_TIMER_HEADER, /* a head or body under way: --header-timeout from its first byte */
    EVLOOP_TIMER_WRITE,  /* output stalled: --idle-timeout from the last progress */
    EVLOOP_TIMER_LINGER, /* our side is shut down: EVLOOP_LINGER_NS */
};

struct evloop_conn {
    struct evloop_watch watch; /* first: what epoll hands back */
    uint8_t timer_kind;        /* enum evloop_conn_timer */
    bool readable;             /* an input edge came since the socket last ran dry */
    bool peer_done;            /* the client shut down or failed: read on until EOF or error */
    bool watch_out;            /* EPOLLOUT is on */
    bool continue_sent;        /* the current head's 100 Continue is queued: one per request */
    int fd;
    struct evloop *ev;
    struct http_buf in;  /* a loop spare while holding bytes, else empty */
    size_t in_start;     /* unparsed bytes are in.data[in_start, in.len) */
    struct http_buf out; /* responses; a loop spare while holding bytes */
    size_t out_start;    /* unwritten bytes are out.data[out_start, out.len) */
    uint64_t discard;    /* body bytes of the current head still to drop */
    struct evloop_timer timer;
    struct evloop_list link; /* the loop's open connections, walked only at shutdown */
    void *io;                /* an I/O backend's own state for it (evloop_backend), or NULL */
};

/* A new client fd as a zeroed struct of size bytes (the engine's struct conn,
 * reused from the free list when one is there) that begins with an open
 * evloop_conn: watched, its idle timeout armed, counted in ev->conns. NULL
 * when that failed: fd is closed. The engine then sets its own fields. */
struct evloop_conn *evloop_conn_open(struct evloop *ev, int fd, size_t size);
/* Closes the socket, cancels the timer, gives the buffers back and unlinks c
 * from ev->conns. The engine frees the struct (evloop_defer_free). */
void evloop_conn_close(struct evloop_conn *c);
/* What an event says about input: call first in the engine's conn_event. */
static inline void evloop_conn_note(struct evloop_conn *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->peer_done = true;
}
static inline size_t evloop_conn_out_pending(const struct evloop_conn *c)
{
    return c->out.len - c->out_start;
}
/* Arms the one timer for kind, keeping a deadline already set for the same
 * kind (a head's timeout counts from its first byte). 0 or -errno. */
int evloop_conn_arm(struct evloop_conn *c, enum evloop_conn_timer kind, uint64_t after_ns);
void evloop_conn_disarm(struct evloop_conn *c);
/* EPOLLOUT on or off; no system call when it already is. 0 or -errno. */
int evloop_conn_watch_output(struct evloop_conn *c, bool on);
/* Reads what the socket has into the input buffer, borrowing one if needed.
 * EVLOOP_IO_ERROR also means EOF. */
enum evloop_io evloop_conn_read(struct evloop_conn *c);
/* Writes pending output until done (the buffer goes back to the spares) or
 * the socket is full (RETRY); a write stall timer restarts on progress.
 * Neither watches nor closes: the engine decides. */
enum evloop_io evloop_conn_write(struct evloop_conn *c);
/* Writes pending output and sets the EPOLLOUT watch and the write stall
 * timer to match: OK, all out (no watch, the timer disarmed); RETRY, some
 * left (watched, the stall timer armed for --idle-timeout); ERROR, the
 * engine must close c. */
enum evloop_io evloop_conn_drain(struct evloop_conn *c);
/* Room for a response: NULL when out of memory. */
struct http_buf *evloop_conn_out(struct evloop_conn *c);
/* Input would block: arms the idle timeout (giving back an empty input
 * buffer: an idle connection holds none) or the header timeout. 0 or -errno. */
int evloop_conn_wait_input(struct evloop_conn *c);
/* Gives the input buffer back if every byte in it was used. */
void evloop_conn_trim_input(struct evloop_conn *c);
/* Drops body bytes already in the buffer; true once the body is gone. */
bool evloop_conn_drop_body(struct evloop_conn *c);
/* Queues the head's 100 Continue if it asked (expect) and none went yet.
 * OK: queued; RETRY: nothing to send; ERROR: out of memory. */
enum evloop_io evloop_conn_continue(struct evloop_conn *c, bool expect);
/* All output is out and this was the last response: shut our side down and
 * arm the linger timeout, after which the engine reads with
 * evloop_conn_linger_read until the client's EOF. 0, or -errno when the
 * engine must close c now (-ECANCELED: the loop is stopping, and no
 * connection lingers on the way out). */
int evloop_conn_linger(struct evloop_conn *c);
/* Lingering: reads and drops what the client still sends. EVLOOP_IO_ERROR
 * (its EOF, or a failure): close c now; RETRY: wait for its next event. */
enum evloop_io evloop_conn_linger_read(struct evloop_conn *c);

/* ---- what the engine supplies ---- */

struct evloop_ops {
    /* A new client socket, non-blocking: the engine owns fd now. */
    void (*accepted)(struct evloop *ev, int fd);
    /* An event on a client connection (a watch of kind EVLOOP_WATCH_CONN). */
    void (*conn_event)(struct evloop_conn *c, uint32_t events);
    /* Shutdown, for each open connection: close it now if between requests. */
    void (*conn_stop)(struct evloop_conn *c);
    /* c's idle, header, write stall or linger timeout passed: close it. */
    void (*conn_timeout)(struct evloop_conn *c);
    /* Runs one node the engine put on ev->deferred (evloop_defer), or on
     * ev->ready (evloop_ready); the loop has taken it off its list. */
    void (*run_deferred)(struct evloop_list *node);
    void (*run_ready)(struct evloop_list *node);
    /* A tagged answer on d's connection (ctx is d); stale tags must miss. */
    db_on_result db_answer;
    /* d died with a request parked on link: the engine unlinks it and wakes it. */
    void (*db_lost)(struct evloop_dbc *d, struct evloop_list *link);
};

/* ---- the loop ---- */

struct evloop_engine;

struct evloop {
    int id;
    const struct serve_config *cfg;
    const struct evloop_engine *engine;
    const struct evloop_ops *ops; /* the engine's */
    int epfd;
    struct evloop_watch stop_watch;
    struct evloop_watch listen_watch;
    int listen_fd; /* -1 once stopping */
    int spare_fd;  /* held open to be closed when accept hits EMFILE */
    bool accept_paused;
    struct evloop_timer accept_pause;
    uint64_t now; /* CLOCK_MONOTONIC ns, refreshed once per wakeup (coro: and after cpu steps) */
    struct heap timers;
    struct wl_rng rng;
    struct evloop_dbc *dbs;
    int ndbs, next_db;
    uint64_t last_connect;    /* the last reconnect made on a request's behalf */
    struct evloop_list conns; /* the engine's open connections, walked only at shutdown */
    int nconns;
    /* What the engine queued to run in a turn (ops->run_deferred, run_ready):
     * deferred first, before the events (it gave up the last turn when its
     * budget ran out), ready after the events and again after the timers (an
     * answer or a timeout woke it). While either holds work the loop polls
     * without sleeping. */
    struct evloop_list deferred, ready;
    void **dead; /* connections closed during this turn: freed after it */
    int ndead, dead_cap;
    void **free_conns; /* closed connection structs, to be reused */
    int nfree_conns, free_conns_cap;
    struct evloop_spares in_spares, out_spares;
    bool stopping;
    struct evloop_timer stop_deadline;
    bool done;
    void *io; /* the engine's I/O backend's own state (evloop_backend), or NULL */
};

static inline int evloop_timer_set(struct evloop *ev, struct evloop_timer *t, uint64_t deadline)
{
    return heap_set(&ev->timers, &t->node, deadline);
}

static inline void evloop_timer_cancel(struct evloop *ev, struct evloop_timer *t)
{
    heap_remove(&ev->timers, &t->node);
}

/* loop.c. evloop_init is called on the main thread before the loop's thread
 * starts, evloop_free after it ends, once the engine has freed its
 * connections and what they held (run.c does both). */
int evloop_init(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd,
                const struct evloop_engine *engine);
void evloop_free(struct evloop *ev);
/* Turns until shutdown has let every connection go, or its deadline passed. */
void evloop_run(struct evloop *ev);
/* A connection closed in this turn: c goes to the free list after it, so an
 * event later in the same batch never points at a freed or reused struct. */
void evloop_defer_free(struct evloop *ev, void *c);
/* Queues node to run in the next turn, before its events (ops->run_deferred). */
static inline void evloop_defer(struct evloop *ev, struct evloop_list *node)
{
    evloop_list_push(&ev->deferred, node);
}
/* Queues node to run in this turn, once the events or timers at hand are
 * done (ops->run_ready). */
static inline void evloop_ready(struct evloop *ev, struct evloop_list *node)
{
    evloop_list_push(&ev->ready, node);
}
/* A closed connection's struct to reuse, or NULL. */
static inline void *evloop_conn_reuse(struct evloop *ev)
{
    return ev->nfree_conns ? ev->free_conns[--ev->nfree_conns] : NULL;
}
/* Moves this turn's closed connections to the free list (loop.c). */
void evloop_reap_dead(struct evloop *ev);

/* dbc.c */
int evloop_db_open_all(struct evloop *ev);
void evloop_db_close_all(struct evloop *ev);
void evloop_db_on_event(struct evloop_dbc *d, uint32_t events);
/* The next connection that is up, round robin, or NULL; now is the caller's clock. */
struct evloop_dbc *evloop_db_pick(struct evloop *ev, uint64_t now);
/* After a send on d: watch EPOLLOUT if its client has bytes queued. 0 or -errno. */
int evloop_db_watch_output(struct evloop_dbc *d);
/* d is dead: its parked requests are handed to ops->db_lost, and it reconnects. */
void evloop_db_fail(struct evloop_dbc *d, int err);

/* ---- an I/O backend in place of epoll for the client sockets (uring/):
 * the engine's backend, NULL for epoll. The loop's epoll instance stays, for
 * the stop descriptor and the database connections; the backend waits on it
 * as on one more descriptor. Each conn_ hook replaces the system call of the
 * evloop_conn function it is named for; a NULL read or write keeps conn.c's
 * own (readiness) path. ---- */
struct evloop_backend {
    int (*init)(struct evloop *ev);  /* after evloop_init, on the main thread: 0 or -errno */
    void (*free)(struct evloop *ev); /* in evloop_free, before the epoll instance closes */
    /* Submits what is queued and waits for completions, up to timeout_ms
     * (-1: no limit). 0 or -errno. */
    int (*wait)(struct evloop *ev, int timeout_ms);
    /* Handles the completions at hand (a client's goes to ops->conn_event);
     * fills events with what the epoll instance has ready: their count. */
    int (*dispatch)(struct evloop *ev, struct epoll_event *events, int max);
    int (*conn_open)(struct evloop_conn *c);   /* instead of watching it with epoll: 0 or -errno */
    void (*conn_close)(struct evloop_conn *c); /* instead of close(2) */
    int (*conn_watch_output)(struct evloop_conn *c, bool on); /* c->watch_out already set */
    enum evloop_io (*conn_read)(struct evloop_conn *c);       /* instead of read(2), or NULL */
    enum evloop_io (*conn_write)(struct evloop_conn *c);      /* instead of write(2), or NULL */
    void (*conn_shutdown)(struct evloop_conn *c);             /* instead of shutdown(SHUT_WR) */
};

/* run.c: what an engine is to the loop, and how its loops are built and run.
 * Each loop is an engine struct of loop_size bytes beginning with struct
 * evloop, zeroed before evloop_init. */
struct evloop_engine {
    size_t loop_size;
    uint64_t seed; /* salts each loop's random numbers */
    struct evloop_ops ops;
    /* The engine's own part of a new loop, after evloop_init, on the main
     * thread. NULL, or 0 / -errno. */
    int (*init)(struct evloop *ev);
    /* On the loop's own thread, before its first turn. NULL, or a hook. */
    void (*thread_start)(struct evloop *ev);
    /* At teardown, on the main thread, once the connections a stop's
     * deadline left open are closed (ops->conn_timeout): what the engine's
     * part of the loop holds. NULL, or a hook. */
    void (*free)(struct evloop *ev);
    /* The client sockets' I/O: NULL for epoll (poller.c, conn.c). */
    const struct evloop_backend *backend;
};

/* Builds cfg->loops loops on the calling thread (each with its epoll, its
 * SO_REUSEPORT listener and its database connections), announces the address
 * once all are ready, then runs loop 0 here and the others on threads of
 * their own until SIGINT/SIGTERM. The exit status: 0, 1, or 2 for a bad address. */
int evloop_serve(const struct serve_config *cfg, const struct evloop_engine *engine);

#endif
