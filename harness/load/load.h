/* `overlap load`: one load run against any HTTP/1.1 server, closed loop (C
 * connections, each sends when its last response is back) or open loop
 * (requests at intended times, latency counted from those times, so a
 * stalled server cannot hide its queue). Built like wrk: T threads, each with
 * its own epoll loop, connections, histogram and PRNG, merged at the end. */
#ifndef OVERLAP_LOAD_H
#define OVERLAP_LOAD_H

#include <http_parser.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "wl.h"

/* Limits, each with its reason. */
#define LOAD_MAX_CLIENTS   65536 /* connections: beyond this the ports of one address run out */
#define LOAD_MAX_THREADS   256
#define LOAD_PHASES_LEN    1024 /* a timeline row's compact Server-Timing; longer lists end early */
#define LOAD_TIMING_MAX    4096 /* raw Server-Timing kept per response while it is parsed */
#define LOAD_ERR_LEN       512
#define LOAD_INTERVAL_NS   1000000000 /* per-interval figures: 1 s unless told */
#define LOAD_MAX_INTERVALS 10000      /* in the window; each thread keeps a row per interval */

enum load_arrival {
    LOAD_POISSON, /* exponential gaps: independent users */
    LOAD_UNIFORM, /* equal gaps: the lecture's evenly spaced arrivals */
};

/* What to run. Set once, read-only while the threads run. */
struct load_config {
    const char *target;           /* HOST:PORT */
    const struct wl_workload *wl; /* paths /NAME drawn by weight, or NULL for path */
    const char *path;             /* the one path when wl is NULL; "/" by default */
    int clients, threads;         /* connections in all, threads sharing them */
    double rate;                  /* open loop: requests/s in all; 0 = closed loop */
    enum load_arrival arrival;    /* open loop */
    bool think;                   /* closed loop: wait think_dist between requests */
    struct wl_dist think_dist;    /* closed loop */
    uint64_t duration_ns;         /* the measured window */
    uint64_t warmup_ns;           /* before it: the same load, not counted */
    uint64_t timeout_ns;          /* a request unanswered this long after sending */
    uint64_t goal_ns;             /* > 0: count the answers within it (res->within_goal) */
    uint64_t interval_ns;         /* per-interval figures; 0 for LOAD_INTERVAL_NS */
    uint64_t seed;                /* each thread seeds its PRNG with seed and its index */
    int timeline_max;             /* the first K requests get a timeline row */
    bool by_request;              /* figures per request type too (res->by_request) */
    uint64_t start_at_ns;         /* > 0: the window opens then (wall clock, ns since the epoch) */
    int share_index, share_count; /* open loop: this agent's share i/N of rate; 0 and 0 alone */
    double total_rate;            /* with a share: the rate all N agents make together */
    bool interval_cells;          /* keep each interval's latencies (load_interval.cells) */
    volatile sig_atomic_t *stop;  /* set (by a signal) to end early; may be NULL */
};

/* A timeline row: times in ns from the run's start on CLOCK_MONOTONIC. */
struct load_timeline {
    uint64_t intended, sent, first_byte, done; /* done 0: never answered */
    int status;                                /* 0: no response */
    int request;                               /* workload request index, -1 for --path */
    char phases[LOAD_PHASES_LEN];              /* `queue:0.012;cpu:0.501;db:10.087` */
};

/* One interval of the window: what was answered and lost during it. */
struct load_interval {
    double end_s;    /* its end, from the window's opening; the last one ends with the window */
    double length_s; /* the whole interval, or less for the last one */
    uint64_t requests, ok, errors;
    uint64_t p50_ns, p99_ns; /* of the answers counted in it */
    struct hist_cell *cells; /* with cfg->interval_cells: its latencies; NULL otherwise */
    size_t ncells;
};

/* One request type's figures (--by-request): its answers counted as the
 * run's are (latency from the intended time), and its errors: answers with an
 * error status, and requests of the type lost once sent (timed out, cut). A
 * request never sent has no type yet; it counts in the run's errors alone. */
struct load_request_figures {
    struct hist *latency;
    uint64_t requests, errors;
};

struct load_result {
    struct hist *latency;     /* of every complete measured response, from its intended time */
    struct hist *uncorrected; /* the same, from the actual send: what coordinated omission shows */
    uint64_t requests;        /* measured requests answered with a complete response */
    uint64_t ok;              /* of them, status 2xx or 3xx */
    uint64_t within_goal;     /* of those, answered within cfg->goal_ns of their intended time */
    uint64_t sent;            /* measured requests written to the socket */
    uint64_t scheduled;       /* open loop: intended times that fell in the window */
    uint64_t sent_in_window;  /* requests written during the window, whatever their intent */
    uint64_t errors_connect, errors_timeout, errors_read, errors_status;
    uint64_t waited; /* open loop: due while no connection was idle */
    uint64_t late;   /* open loop: sent over LOAD_LATE_NS late although a connection was idle */
    double window_s; /* the measured window as it ran (longer if answers came late) */
    uint64_t window_epoch_ns; /* the wall clock when the window opened, ns since the epoch */
    double throughput_rps, achieved_rps, intended_rps;
    double cpu_s;           /* user + system CPU of the generator over the whole run */
    int connections;        /* established and open when the window opened */
    int clients_answered;   /* clients with at least one answer counted in the window */
    double intervals_cv;    /* of the throughput of the window's whole intervals; 0 below 2 */
    uint64_t cpu_time_ns;   /* the server's `cpu-time` Server-Timing metric, summed */
    uint64_t cpu_time_seen; /* answers counted in the window that carried one */
    int nintervals;
    struct load_interval *intervals;
    bool interrupted;
    int ntimeline;
    struct load_timeline *timeline; /* sorted by intended time */
    int nby_request;                /* the workload's request types; 0 without by_request */
    struct load_request_figures *by_request; /* in the workload's order */
};

#define LOAD_LATE_NS                                                                               \
    1000000 /* 1 ms: a send this late with a connection free is the generator's                    \
             */

/* Runs the load. Returns 0 with res filled (free it with load_result_free),
 * or -1 with a one-line message in err when the run could not start (the
 * target does not resolve or does not accept connections). */
int load_run(const struct load_config *cfg, struct load_result *res, char *err, size_t errlen);
void load_result_free(struct load_result *res);

/* `overlap load [flags]`: 0, 1 (target down or nothing answered), 2 usage,
 * 130 interrupted (what was measured is still printed and written). */
int load_main(int argc, char **argv);

/* `overlap merge [flags] AGENT.hlog...`: one run's agents (--share,
 * --start-at, --hlog) added into overlap load's outputs. 0, 1 (a log
 * unreadable or not of the run), 2 usage. */
int load_merge_main(int argc, char **argv);

/* ---- reading responses (load_response.c) ---- */

enum {
    LOAD_RESPONSE_ERROR = -1, /* malformed, cut short by EOF, or followed by stray bytes */
    LOAD_RESPONSE_MORE = 0,   /* need more bytes */
    LOAD_RESPONSE_DONE = 1,   /* one whole response */
};

struct load_response {
    http_parser parser;
    int status;
    bool complete, keep_alive;
    bool want_timing;         /* keep the Server-Timing value */
    bool in_value, in_timing; /* where the header callbacks are */
    bool field_long;
    size_t field_len, timing_len;
    char field[16]; /* the current header's name, lower case */
    char timing[LOAD_TIMING_MAX];
};

/* Starts reading a new response. */
void load_response_start(struct load_response *r, bool want_timing);
/* Feeds the next bytes; len 0 means the peer closed. Returns one of the
 * LOAD_RESPONSE_ values; after DONE, status, keep_alive and timing hold. */
int load_response_feed(struct load_response *r, const char *buf, size_t len);
/* Rewrites a Server-Timing value `queue;dur=0.012, cpu;dur=0.501` as
 * `queue:0.012;cpu:0.501` (no commas, no spaces) into out, NUL-terminated,
 * cut at an item's boundary when out is short. Returns the length. */
size_t load_timing_compact(const char *in, size_t len, char *out, size_t outlen);

/* The value of the `cpu-time` metric in a Server-Timing list (overlap's
 * servers send the thread CPU time of a request's cpu steps there), in ns;
 * false when the list has none. */
bool load_timing_cpu_time(const char *in, size_t len, uint64_t *ns);

#endif
