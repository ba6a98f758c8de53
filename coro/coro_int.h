/* The coro engine's insides, shared by its files and its test and by nobody
 * else: the context switch, stacks, connections and coroutines on the shared
 * epoll loop (evloop.h: list, timers, poller, listener, database
 * connections). Every structure here belongs to exactly one loop and
 * is touched only by that loop's thread (its coroutines run on it too, one at
 * a time), so nothing here takes a lock. */
#ifndef OVERLAP_CORO_INT_H
#define OVERLAP_CORO_INT_H

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
/* pipelined requests a coroutine runs before the loop's other work gets a
 * turn: a flood of them cannot starve the loop */
#define CORO_BUDGET 64
/* free coroutines that keep their stack; the excess of a burst is unmapped */
#define CORO_KEEP_STACKS 1024

/* ---- the context switch (switch_x86_64.c, or switch_ucontext.c) ----
 * A context is what a suspended stack needs to go on. On x86-64 it is the
 * stack pointer alone: coro__ctx_switch pushes the callee-saved registers on
 * the stack it leaves and pops them from the one it enters. Elsewhere, or
 * built with OVERLAP_CORO_UCONTEXT, it is glibc's ucontext_t. */
#if defined(__x86_64__) && !defined(CORO_UCONTEXT)
#define CORO_SWITCH_NAME "x86-64 assembly"
struct coro__ctx {
    void *sp;
};
#else
#include <ucontext.h>
#define CORO_SWITCH_NAME "swapcontext"
struct coro__ctx {
    ucontext_t uc;
    void (*fn)(void *);
    void *arg;
};
#endif

/* Prepares ctx to run fn(arg) on stack[0, size) when first switched to. fn
 * must never return. */
void coro__ctx_make(struct coro__ctx *ctx, void *stack, size_t size, void (*fn)(void *), void *arg);
/* Saves the running context in from and resumes to. Returns when someone
 * switches back to from. */
void coro__ctx_switch(struct coro__ctx *from, struct coro__ctx *to);

/* ---- fibers (fiber.c): a context with its stack, and what the sanitizers
 * must be told about a stack switch they cannot see ---- */

struct coro__fiber {
    struct coro__ctx ctx;
    char *stack; /* the usable stack, above the guard page (a thread's: its own) */
    size_t size;
    char *map; /* the whole mapping with its guard page; NULL for a thread's fiber */
    size_t map_len;
    void (*fn)(void *);
    void *arg;
    void *asan_fake; /* AddressSanitizer's fake stack while this fiber is switched out */
    void *tsan;      /* ThreadSanitizer's fiber */
};

/* The calling thread's own stack as a fiber: what the loop switches from. */
void coro__fiber_init_thread(struct coro__fiber *f);
/* A fiber that runs fn(arg) on a fresh stack of size bytes (rounded up to
 * pages) with a PROT_NONE guard page below it: running off the end is a
 * SIGSEGV, never a write into a neighbour. fn must never return. 0 or -errno. */
int coro__fiber_create(struct coro__fiber *f, size_t size, void (*fn)(void *), void *arg);
/* Unmaps a fiber that is not running; nothing of its stack may be used after. */
void coro__fiber_destroy(struct coro__fiber *f);
void coro__fiber_switch(struct coro__fiber *from, struct coro__fiber *to);

/* ---- a connection ---- */

/* A connection's life. Every transition goes through conn_set_state
 * (conn.c), and one switch in conn_drive acts on the state. */
enum conn_state {
    CONN_READING,   /* no request running: waiting for a head, or dropping its body */
    CONN_RUNNING,   /* a coroutine owns it and runs its requests */
    CONN_WRITING,   /* output over HTTP_OUT_FLUSH_AT, or stalled: waiting for EPOLLOUT */
    CONN_CLOSING,   /* a last response (error or Connection: close) is draining */
    CONN_LINGERING, /* our side shut down; reading the client's leftovers until EOF */
    CONN_CLOSED,    /* closed; freed once the turn ends and no coroutine holds it */
};

struct loop;
struct coro;

/* A request head taken from a connection's input. */
struct coro__head {
    struct http_request req; /* method and path cleared: the input may be gone */
    int route;               /* http_route's answer */
    uint64_t t_head;         /* when the request was all in, its body dropped */
};

/* An idle connection is this struct and its epoll registration: no stack and
 * no buffer. Its bytes (buffers borrowed from the loop while they hold bytes,
 * timer, watch, body to drop) are its struct evloop_conn's (evloop/conn.c);
 * a coroutine is attached only while requests run. */
struct conn {
    struct evloop_conn io; /* first: what epoll hands back */
    uint8_t state;         /* enum conn_state */
    bool close_after;      /* the response being written is the last */
    uint8_t budget;        /* requests it may still start in this turn */
    struct loop *loop;
    struct coro *co; /* the coroutine running its requests, or NULL */
    /* A head waits here while its body is dropped (io.discard > 0): the loop
     * drops the body, and a coroutine is taken only once it is gone. */
    struct coro__head head;
};

/* ---- a coroutine ---- */

/* How a parked query ended. */
enum wake { WAKE_NONE, WAKE_ROWS, WAKE_DB_ERROR, WAKE_TIMEOUT, WAKE_LOST };

struct coro {
    struct coro__fiber fiber; /* fiber.map is NULL while it has no stack */
    struct loop *loop;
    uint32_t id;                 /* in loop->coros (evloop/ids.h): the low bits of a tag */
    uint32_t gen;                /* bumped when a query ends: a late answer's tag misses */
    struct conn *conn;           /* the connection it serves, NULL while free */
    struct coro__head head;      /* the first request, handed over by the loop */
    bool done;                   /* it let its connection go: back to the free list */
    bool queued;                 /* on the loop's ev.ready or ev.deferred */
    struct evloop_list run_link; /* there */
    struct coro *next_free;
    /* a query out on the database */
    enum wake wake;
    const struct db_result *res; /* WAKE_ROWS, WAKE_DB_ERROR: valid until it yields */
    struct evloop_dbc *db;
    struct evloop_list db_link; /* that database connection's parked coroutines */
    struct evloop_timer timeout;
    struct http_buf body; /* the response body under construction, reused */
};

/* ---- the loop ---- */

/* The shared loop and what only coro keeps: its coroutines and its own stack. */
struct loop {
    struct evloop ev;         /* first: evloop_serve and the ops hand it back */
    struct coro__fiber fiber; /* the loop's own: the thread's stack */
    struct evloop_ids coros;  /* every coroutine ever made, by id */
    struct coro *free_coros;  /* free, with a stack; most recently freed first: it is warm */
    int nfree_stacks;         /* their count */
    struct coro *bare_coros;  /* free, their stack given back */
};

static inline struct loop *coro__loop_of(struct evloop *ev)
{
    return evloop_container(ev, struct loop, ev);
}

/* conn.c: the loop's side of a connection */
void coro__conn_accepted(struct evloop *ev, int fd);
void coro__conn_on_event(struct evloop_conn *io, uint32_t events);
void coro__conn_stop(struct evloop_conn *io);    /* shutdown: close now if between requests */
void coro__conn_timeout(struct evloop_conn *io); /* its timeout passed: close */
void coro__conn_close(struct conn *c);
/* Takes the next whole request from c's input, its body read and dropped:
 * 1 with its head in *h, 0 when more bytes are needed (of a head, or of the
 * body of the head kept in c->head), -1 when the head was bad (its error is
 * queued, the connection closes after it) or the connection failed. Never
 * yields. */
int coro__conn_take_head(struct conn *c, struct coro__head *h);
/* Writes what the socket takes now, and watches EPOLLOUT for the rest. Never
 * yields. EVLOOP_IO_OK (all out), EVLOOP_IO_RETRY (some left) or
 * EVLOOP_IO_ERROR (closed). */
enum evloop_io coro__conn_flush(struct conn *c);
/* The coroutine lets c go: the loop drives it again from its state. */
void coro__conn_release(struct conn *c);

/* sched.c: coroutines, their stacks and their turns */
/* Takes a free coroutine for c's head h and runs it until it first yields
 * (or queues it for the next turn when c used up its budget). c must be
 * RUNNING already. 0, or -ENOMEM when no stack could be had. */
int coro__start(struct loop *lp, struct conn *c, const struct coro__head *h);
void coro__resume(struct loop *lp, struct coro *co);
/* From a coroutine: back to the loop until someone resumes it. */
void coro__suspend(struct coro *co);
/* From a coroutine: let the loop's other work run, and go on next turn. */
void coro__yield_turn(struct coro *co);
/* Queues co to be resumed in this turn, after the events at hand. */
void coro__ready(struct loop *lp, struct coro *co);
void coro__run_queued(struct evloop_list *node);
void coro__free_all(struct loop *lp);

/* request.c: what a coroutine runs, straight-line */
void coro__serve(struct coro *co);

/* dbc.c */
void coro__db_on_answer(void *ctx, const struct db_result *res);
void coro__db_on_lost(struct evloop_dbc *d, struct evloop_list *link);
/* Runs query `query` for request type `request`: sends it, suspends co until
 * the answer and appends its rows to body. 0, or a negated HTTP status
 * (http.h: -503, -504, -500) with the reason in reason[0, cap). */
int coro__db_query(struct coro *co, int request, int query, struct http_buf *body, char *reason,
                   size_t cap);
/* A parked query's --db-timeout: the coroutine wakes to answer 504. */
void coro__db_on_timeout(struct evloop_timer *t);

#endif
