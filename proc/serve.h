/* What every engine runs with: the config `overlap serve` flags are parsed
 * into (by serve_parse_args, http/serve.c) and its defaults, which the
 * harness reads too. Nothing here runs a request; the engines do that their
 * own way, with the socket, pinning and signal helpers of proc.h. */
#ifndef OVERLAP_SERVE_H
#define OVERLAP_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_workload; /* workloads/wl.h: this header needs only the pointer */

#define SERVE_DEFAULT_LISTEN     "127.0.0.1:8080"
#define SERVE_DEFAULT_WORKERS    64   /* pool: enough to overlap ~60 waits per core */
#define SERVE_DEFAULT_QUEUE      1024 /* pool: requests waiting for a worker before 503 */
#define SERVE_DEFAULT_DB_CONNS   4    /* async, coro: database connections per loop */
#define SERVE_DEFAULT_URING_BUFS 512  /* uring: provided buffers per loop, 2 KiB each */

/* coro: each coroutine's stack. A request uses a few KiB of it (coro/README.md);
 * pages it never touches cost address space, not memory. */
#define SERVE_DEFAULT_STACK (64 * 1024)
#define SERVE_MIN_STACK     (16 * 1024)
#define SERVE_MAX_STACK     (64 * 1024 * 1024)

enum serve_engine { SERVE_POOL, SERVE_ASYNC, SERVE_CORO, SERVE_URING };

/* uring: the ladder's steps, each adding to the one before (uring/README.md) */
enum serve_uring_mode {
    SERVE_URING_POLL,      /* (a) readiness only: poll ops, then read(2) and write(2) */
    SERVE_URING_OPS,       /* (b) recv and send ops */
    SERVE_URING_MULTISHOT, /* (c) multishot recv into a provided buffer ring */
    SERVE_URING_DEFER,     /* (d) and DEFER_TASKRUN with SINGLE_ISSUER (the default) */
};

enum serve_pool_mode {
    SERVE_MODE_REQUEST,    /* idle connections wait in a poller; workers take requests */
    SERVE_MODE_CONNECTION, /* a worker owns a connection from accept to close */
    SERVE_MODE_LEADER,     /* Leader/Followers: workers take turns waiting on one poller */
};

/* Set once by serve_parse_args, read-only afterwards, shared by all threads. */
struct serve_config {
    enum serve_engine engine;
    const char *workload_path;
    struct wl_workload *wl;
    const char *db_addr;        /* unix:/PATH or tcp:HOST:PORT */
    const char *listen_addr;    /* HOST:PORT; port 0 picks a free one */
    int ncpus;                  /* CPUs the process may run on, after --cpus pinned it */
    uint64_t db_timeout_ns;     /* a query unanswered this long gets 504 */
    uint64_t header_timeout_ns; /* a request head not complete this long: close */
    uint64_t idle_timeout_ns;   /* a keep-alive connection idle this long: close */
    uint64_t vary_cpu_ns;       /* > 0: the workload moved to this CPU per request (wl_vary) */
    uint64_t vary_wait_ns;      /* > 0: and its queries to this median latency */
    /* pool */
    int workers; /* 0 with mode connection: one thread per connection */
    int queue;
    enum serve_pool_mode mode;
    /* async and coro */
    int loops;
    int db_conns;       /* per loop (--db-conns) */
    int db_connections; /* > 0: the server's whole budget (--db-connections): the
                           loops share it; a pool holds one connection a worker */
    /* coro */
    size_t stack_size; /* bytes of each coroutine's stack, above its guard page */
    /* uring */
    enum serve_uring_mode uring_mode;
    int uring_bufs; /* entries of each loop's provided buffer ring (a power of two) */
    int uring_cq;   /* completion queue entries per loop; 0: sized for the connections */
};

/* The database connections loop `id` holds: its share of --db-connections
 * (the first loops one more where the loops do not divide it), or
 * --db-conns. */
static inline int serve_loop_db_conns(const struct serve_config *cfg, int id)
{
    int loops = cfg->loops > 0 ? cfg->loops : 1;
    if (cfg->db_connections <= 0)
        return cfg->db_conns;
    return cfg->db_connections / loops + (id < cfg->db_connections % loops);
}

/* All the loops' database connections together. */
static inline int serve_db_connections(const struct serve_config *cfg)
{
    int loops = cfg->loops > 0 ? cfg->loops : 1;
    return cfg->db_connections > 0 ? cfg->db_connections : loops * cfg->db_conns;
}

#endif
