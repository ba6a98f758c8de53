/* Inside `overlap load`: a thread (struct worker), its connections, and the
 * two ways of loading them, closed and open loop, each a table of the few
 * moments where they differ (struct mode). Internal to the harness, hence
 * load__: load_run.c sets up and merges, load_conn.c runs a connection's life,
 * load_closed.c and load_open.c are the two modes. */
#ifndef OVERLAP_LOAD_INTERNAL_H
#define OVERLAP_LOAD_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>

#include "heap.h"
#include "load.h"

#define LOAD__TICK_NS      10000000 /* timeouts are checked this often; also the longest sleep */
#define LOAD__RECONNECT_NS 10000000 /* after a failed connect: a refusing server is not spun on */
#define LOAD__READ_BUF     16384    /* one read's worth; bodies are counted, never kept */
#define LOAD__REQUEST_MAX  2048     /* one request's bytes: the request line and Host */

enum conn_state {
    CONN_DOWN,       /* closed; waits in the timer heap to reconnect */
    CONN_CONNECTING, /* connect(2) in progress, waiting to be writable */
    CONN_IDLE,       /* connected, nothing in flight; open loop: on the idle stack */
    CONN_THINKING,   /* closed loop: waits in the timer heap out its think time */
    CONN_WRITING,    /* a request partly written, waiting to be writable */
    CONN_READING,    /* the request written, its response coming */
};

/* What every thread reads and none writes: the address and the requests. */
struct target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int nrequests;
    char (*request)[LOAD__REQUEST_MAX];
    size_t *request_len;
};

struct conn {
    int fd;
    enum conn_state state;
    struct worker *w;
    struct heap_node timer; /* DOWN and THINKING: when the heap hands it back */
    bool want_out;          /* the poller watches it for writable too */
    int idle_at;            /* its place on the idle stack, -1 when not there */
    uint64_t idle_since;    /* open loop: when it last became free */
    /* the request in flight */
    int type;
    size_t written;
    uint64_t intended, sent;
    bool measured, got_byte;
    int timeline;  /* its timeline row, or -1 */
    bool answered; /* it has had an answer counted in the window */
    struct load_response res;
};

/* The open loop's schedule: intended send times drawn from the arrival
 * process alone; those at or before now are due (the backlog) and go out on
 * idle connections, oldest first. */
struct schedule {
    uint64_t next; /* the next request's intended time */
    double gap_ns; /* the mean gap of this thread's share of the rate */
    struct conn **idle;
    int nidle;
};

/* One interval's figures in one thread, its latencies as a compact copy. */
struct interval_row {
    uint64_t requests, ok, errors;
    size_t cells_at, ncells; /* its slice of the thread's cells */
};

/* A thread's intervals: the open one's histogram and a row per interval.
 * Rows are merged across threads only after the run, so none is shared. */
struct intervals {
    uint64_t every_ns;
    uint64_t end; /* the open interval's end; UINT64_MAX in the last slot */
    int at;       /* the open interval, -1 before the window */
    int nslots;   /* the window's intervals, and room for late answers and errors */
    struct interval_row *rows;
    struct hist *hist;
    struct hist_cell *cells;
    size_t ncells, cap;
};

/* Where closed and open loop differ, and nowhere else. Chosen once per run. */
struct mode {
    /* The clock has started: the first requests go out. */
    void (*start)(struct worker *w, uint64_t now);
    /* c is connected with nothing in flight. */
    void (*ready)(struct conn *c, uint64_t now);
    /* c's answer came back and c stays open: what it does next. */
    void (*answered)(struct conn *c, uint64_t now);
    /* Whether c's answer, complete at now, counts in the window. */
    bool (*counts)(const struct conn *c, uint64_t now);
    /* Each turn of the loop and between a batch's events: what fell due. */
    void (*send_due)(struct worker *w, uint64_t now);
    /* The earliest moment the mode needs the loop awake, or UINT64_MAX. */
    uint64_t (*deadline)(const struct worker *w);
    /* Once the window is over: whether this thread is done. */
    bool (*drained)(const struct worker *w, uint64_t now);
    /* After a run that was not interrupted: the never answered, as timeouts. */
    void (*leftovers)(struct worker *w, uint64_t now);
    /* Requests actually sent per second of the window (achieved_rps). */
    double (*achieved_rps)(const struct load_result *res, double sending_s);
};

extern const struct mode load__closed_mode, load__open_mode;

/* One thread: its epoll loop, connections, timers, histogram and PRNG. Only
 * its own thread touches it between the start barrier and the join. */
struct worker {
    const struct load_config *cfg;
    const struct mode *mode;
    const struct target *t;
    struct shared *sh;
    int index;
    pthread_t thread;
    int epfd;
    int nconns;
    struct conn *conns;
    struct heap timers; /* reconnects and think times, room reserved for every connection */
    struct schedule sched;
    struct wl_rng rng;
    bool running;
    /* times in ns on CLOCK_MONOTONIC */
    uint64_t start, warm_end, end, next_tick, last_done;
    uint64_t inflight; /* measured requests in flight */
    struct hist *latency, *uncorrected;
    struct load_request_figures *by_request; /* one per request type, or NULL */
    uint64_t cpu_time_ns, cpu_time_seen;     /* the server's cpu-time metric, of counted answers */
    uint64_t requests, ok, within_goal, sent, sent_in_window, scheduled, errors_connect,
        errors_timeout, errors_read, errors_status, waited, late;
    struct intervals ival;
    int connections; /* open when the window opened */
    bool interrupted;
    int ntimeline;
    struct load_timeline *timeline;
    char buf[LOAD__READ_BUF];
};

/* Where the threads meet: the start barrier and the common start time. */
struct shared {
    pthread_barrier_t barrier;
    uint64_t start;
    uint64_t start_epoch; /* the same moment on the wall clock */
};

/* ---- a connection's life (load_conn.c) ---- */

void load__start_connect(struct conn *c, uint64_t now);
/* Sends the next request, intended at intended, on an idle connection. */
void load__send_request(struct conn *c, uint64_t intended, uint64_t now);
/* The measured request in flight on c, if any, is lost and counted at now. */
void load__lose_request(struct conn *c, uint64_t *counter, uint64_t now);
/* Counts an error of the class counter, and in the interval of now. */
void load__count_error(struct worker *w, uint64_t *counter, uint64_t now);
/* c waits in the timer heap until at: THINKING or DOWN. */
void load__wait_until(struct conn *c, enum conn_state state, uint64_t at);
void load__set_state(struct conn *c, enum conn_state state);
/* Every tick: requests and connects that outlived the timeout. */
void load__check_timeouts(struct worker *w, uint64_t now);
/* The timer heap's due connections: reconnects and the end of think times. */
void load__wake_due(struct worker *w, uint64_t now);
/* Waits for events until the next deadline and handles them. */
void load__poll_once(struct worker *w, uint64_t now);

/* ---- per-interval figures (load_interval.c) ---- */

int load__intervals_init(struct worker *w); /* 0 or -ENOMEM */
void load__intervals_free(struct worker *w);
/* The clock has started: the first interval opens with the window. */
void load__intervals_start(struct worker *w);
/* The row of the interval holding now, closing those that ended; NULL
 * before the window opens. */
struct interval_row *load__interval_at(struct worker *w, uint64_t now);
/* The thread is done: its open interval is closed. */
void load__intervals_stop(struct worker *w);
/* Merges the threads' rows into res (after window_s is known). */
void load__intervals_merge(struct worker *ws, int n, struct load_result *res);
/* The coefficient of variation of throughput over res's intervals (every_s
 * long) that lie whole inside window_s: a short last one would read as a
 * dip. overlap merge computes the merged run's the same way. */
double load__throughput_cv(const struct load_result *res, double every_s, double window_s);

/* ---- agents of a run over several hosts (load_agent.c) ---- */

#define LOAD__CONNECT_LEAD_NS 1000000000 /* with --start-at: connect this long before warmup */

uint64_t load__epoch_ns(void); /* the wall clock */
/* Sleeps until the wall clock reads epoch_ns, or stop is set. */
void load__sleep_until_epoch(uint64_t epoch_ns, volatile sig_atomic_t *stop);
/* --start-at TIME and --share i/N into cfg: 0, or 2 after a usage error. */
int load__parse_start_at(struct load_config *cfg, const char *text);
int load__parse_share(struct load_config *cfg, const char *text);
/* After every flag: the checks that need them all. 0 or 2. */
int load__check_agent(struct load_config *cfg);
/* Writes the run as an interval log (--hlog): 0, or -1 (out of memory). */
int load__write_hlog(FILE *f, const struct load_config *c, const struct load_result *r);

/* ---- the outputs (load.c), also what `overlap merge` writes ---- */

void load__write_csv(FILE *f, const struct load_config *c, const struct load_result *r);
void load__write_latency_csv(FILE *f, const struct load_result *r);
void load__write_intervals(FILE *f, const struct load_result *r);

/* ---- the idle stack (load_open.c): O(1) push, pop and removal ---- */

void load__idle_push(struct worker *w, struct conn *c);
void load__idle_remove(struct worker *w, struct conn *c);

#endif
