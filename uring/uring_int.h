/* The uring engine's insides, shared by its two files: one ring per loop
 * (uring.c) and each client connection's operations on it (conn.c). The
 * engine is async's (async/, on evloop/), with struct evloop_backend in place
 * of epoll for the client sockets. Every structure here belongs to one loop
 * and is touched only by its thread. */
#ifndef OVERLAP_URING_INT_H
#define OVERLAP_URING_INT_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"

/* Limits, each with its reason. */
/* each provided buffer: a keep-alive request head and more; a bigger input
 * comes in several */
#define URING_BUF_SIZE 2048
/* submission queue entries: a turn submits more by flushing when it fills */
#define URING_SQ_ENTRIES 256
/* completion queue bounds when sized for the descriptor limit: a burst
 * beyond it waits in the kernel's overflow list (IORING_FEAT_NODROP) */
#define URING_CQ_MIN 4096
#define URING_CQ_MAX 32768
/* (b) input held back while one-shot recvs come back full, before async
 * hears of it */
#define URING_HOLD_MAX (64 * 1024)
/* a connection closed with its last response still going out gets this
 * long to send it, as the kernel would after close(2) */
#define URING_DRAIN_NS EVLOOP_LINGER_NS
/* uconns allocated at a time: no allocator header each, and none to list */
#define URING_SLAB 64

/* What a completion is for: the low bits of its user_data, the rest a
 * pointer (struct uring_loop or struct uconn, both malloc'ed, so aligned).
 * 0 is a completion nobody waits for (a cancel). */
enum uring_op {
    URING_OP_NONE,
    URING_OP_ACCEPT,   /* the listener's multishot accept */
    URING_OP_EPOLL,    /* a poll on the loop's epoll instance (stop, database) */
    URING_OP_POLL_IN,  /* (a) a client's multishot poll for input */
    URING_OP_POLL_OUT, /* (a) a client's one-shot poll for room to write */
    URING_OP_RECV,     /* a client's recv: one-shot (b) or multishot (c, d) */
    URING_OP_SEND,     /* a client's send */
};
#define URING_OP_MASK 7u

/* Input a connection could not take yet: rare, so apart. */
struct uring_held {
    struct http_buf buf;
    size_t start; /* bytes not yet moved are buf.data[start, len) */
};

/* One client socket's operations. It outlives its evloop_conn when it is
 * closed with operations in flight: their completions still point here, so
 * it is freed only once the last has come. */
struct uconn {
    struct uring_loop *ul;
    struct evloop_conn *c; /* NULL once evloop closed the connection */
    int fd;                /* -1 once closed */
    uint8_t inflight;      /* operations whose last completion has not come */
    bool recv_on, send_on, poll_in_on, poll_out_on;
    bool starved;            /* its multishot recv ended with -ENOBUFS: on ul->starved */
    bool paused;             /* its recv was cancelled: input it could not take is held */
    bool eof;                /* the client's EOF came */
    bool shut_wr;            /* shutdown(SHUT_WR) once the send in flight is done */
    bool draining;           /* closed with a send in flight: counted in ev->nconns until it ends */
    int err;                 /* the first failure of a recv or send (-errno), or 0 */
    struct http_buf rbuf;    /* (b) what a one-shot recv reads into */
    struct uring_held *held; /* input that arrived with the connection's buffer full */
    struct http_buf sbuf;    /* output handed to the kernel: the send in flight */
    size_t sent;             /* of sbuf */
    uint32_t events;         /* what async hears after the batch (epoll's bits) */
    struct evloop_list ready;  /* ul->ready, while events are pending */
    struct evloop_list link;   /* ul->starved, while starved */
    struct evloop_timer drain; /* detached with a send in flight: its deadline */
    struct uconn *next_free;
};

struct uring_loop {
    struct evloop *ev;
    struct io_uring ring;
    bool ring_up, enabled;
    enum serve_uring_mode mode;
    bool accept_on, accept_cancelled, epoll_on, epoll_ready;
    struct evloop_timer accept_pause; /* out of descriptors even for the spare */
    struct io_uring_buf_ring *br;     /* (c, d) the provided buffer ring, group 0 */
    char *bufs;
    unsigned nbufs;
    size_t br_size;
    struct evloop_list ready;   /* uconns with events for async, told after the batch */
    struct evloop_list starved; /* uconns whose multishot recv ran dry */
    struct uconn **slabs;       /* every uconn, URING_SLAB to a slab */
    int nslabs;
    struct uconn *free_uconns;
    unsigned long overflows; /* turns that found the completion queue overflowed */
};

static inline uint64_t uring_ud(void *p, enum uring_op op)
{
    return (uint64_t)(uintptr_t)p | op;
}

/* uring.c */
/* A free submission entry, submitting the full queue first when needed;
 * NULL only when even that failed. */
struct io_uring_sqe *uring__sqe(struct uring_loop *ul);

/* conn.c */
extern const struct evloop_backend uring__backends[4]; /* by enum serve_uring_mode */
int uring__conn_open(struct evloop_conn *c);
void uring__conn_close(struct evloop_conn *c);
int uring__conn_watch_output(struct evloop_conn *c, bool on);
enum evloop_io uring__conn_read(struct evloop_conn *c);
enum evloop_io uring__conn_write(struct evloop_conn *c);
void uring__conn_shutdown(struct evloop_conn *c);
void uring__conn_complete(struct uconn *u, enum uring_op op, const struct io_uring_cqe *cqe);
void uring__conn_after_batch(struct uring_loop *ul);
void uring__conns_free(struct uring_loop *ul);

/* uring.c: the loop's part, named in uring__backends */
int uring__init(struct evloop *ev);
void uring__free(struct evloop *ev);
int uring__wait(struct evloop *ev, int timeout_ms);
int uring__dispatch(struct evloop *ev, struct epoll_event *events, int max);

#endif
