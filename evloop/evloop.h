/* The epoll loop the async and coro engines both run on: the intrusive list,
 * timers over the deadline heap, the poller, spare buffers, the listener, the
 * turn, shutdown, the database connections and the start of N loop threads.
 * An engine embeds struct evloop first in its own loop and says through
 * struct evloop_ops what its connections do; what runs a request (async's
 * job state machine, coro's coroutines) stays in the engine. Every structure
 * here belongs to one loop and is touched only by its thread: no locks. */
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

/* ---- what the engine supplies ---- */

struct evloop_ops {
    /* A new client socket, non-blocking: the engine owns fd now. */
    void (*accepted)(struct evloop *ev, int fd);
    /* An event on a watch of kind EVLOOP_WATCH_CONN. */
    void (*conn_event)(struct evloop_watch *w, uint32_t events);
    /* Shutdown, for each link of ev->conns: close it now if between requests. */
    void (*conn_stop)(struct evloop_list *link);
    /* True when work is queued to run: the loop then polls without sleeping. */
    bool (*has_work)(struct evloop *ev);
    /* Runs, before the events, what gave up its turn in the last one. */
    void (*run_deferred)(struct evloop *ev);
    /* Runs, after the events and again after the timers, what they woke. */
    void (*run_ready)(struct evloop *ev);
    /* A tagged answer on d's connection (ctx is d); stale tags must miss. */
    db_on_result db_answer;
    /* d died with a request parked on link: the engine unlinks it and wakes it. */
    void (*db_lost)(struct evloop_dbc *d, struct evloop_list *link);
};

/* ---- the loop ---- */

struct evloop {
    int id;
    const struct serve_config *cfg;
    const struct evloop_ops *ops;
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
    void **dead; /* connections closed during this turn: freed after it */
    int ndead, dead_cap;
    void **free_conns; /* closed connection structs, to be reused */
    int nfree_conns, free_conns_cap;
    struct evloop_spares in_spares, out_spares;
    bool stopping;
    struct evloop_timer stop_deadline;
    bool done;
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
 * starts (seed salts its random numbers), evloop_free after it ends, once the
 * engine has closed its connections and freed what they held. */
int evloop_init(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd,
                const struct evloop_ops *ops, uint64_t seed);
void evloop_free(struct evloop *ev);
/* Turns until shutdown has let every connection go, or its deadline passed. */
void evloop_run(struct evloop *ev);
/* A connection closed in this turn: c goes to the free list after it, so an
 * event later in the same batch never points at a freed or reused struct. */
void evloop_defer_free(struct evloop *ev, void *c);
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

/* run.c: how an engine's loops are built and run (sizes in bytes, each loop
 * an engine struct beginning with struct evloop). */
struct evloop_engine {
    size_t loop_size;
    int (*init)(struct evloop *ev, int id, const struct serve_config *cfg, int listen_fd);
    void *(*main)(void *loop); /* runs one loop to its end on the calling thread */
    void (*free)(struct evloop *ev);
};

/* Builds cfg->loops loops on the calling thread (each with its epoll, its
 * SO_REUSEPORT listener and its database connections), announces the address
 * once all are ready, then runs loop 0 here and the others on threads of
 * their own until SIGINT/SIGTERM. The exit status: 0, 1, or 2 for a bad address. */
int evloop_serve(const struct serve_config *cfg, const struct evloop_engine *engine);

#endif
