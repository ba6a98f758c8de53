/* The simulator's state, shared by its two files: sim.c (requests, the run,
 * the figures) and sim_cpu.c (the event heap, and the threads and cores that
 * run the requests' CPU). Nothing here is API: sim.h is. */
#ifndef OVERLAP_SIM_CPU_H
#define OVERLAP_SIM_CPU_H

#include <stdint.h>

#include "sim.h"
#include "wl.h"

enum event_kind {
    EV_ARRIVAL, /* open loop: the next Poisson arrival; closed loop: client `id` sends */
    EV_QUERY,   /* request `id`'s query answered */
    EV_CORE,    /* FCFS: core `id` ends its run */
};

/* One entry of a binary min-heap: ties go to the earlier pushed (seq), so a
 * run depends on nothing but its seed. */
struct node {
    double key;
    uint64_t seq;
    int kind, id;
};

struct heap {
    struct node *v;
    int n, cap;
};

/* What a request does between two waits: run cpu ns, then send `query`
 * (-1: respond). */
struct phase {
    double cpu;
    int query;
};

struct req {
    double arrival, own, work; /* work: ns its current CPU step still needs */
    long index;                /* arrival order */
    int type, phase, thread, client;
    int next; /* in its thread's CPU queue, the worker queue or the free list */
};

struct thread {
    int head, tail; /* its queue of requests with CPU ready; -1 when empty */
    int active;     /* on a core, in the PS heap or waiting for a core */
    int core;       /* FCFS: the core it runs on, or -1 */
    double slice;   /* FCFS: what is left of its slice */
    double ran;     /* FCFS: the length of its current run */
    int next;       /* in the FIFO of threads waiting for a core */
};

struct sim {
    const struct wl_workload *wl;
    const struct sim_config *cfg;
    struct phase *phases;
    int *first; /* phases of request type i: first[i] up to first[i + 1] */
    struct req *reqs;
    int nreqs, free_req;
    struct thread *threads;
    int nthreads;
    struct heap events, ps;
    uint64_t seq;
    struct wl_rng arrivals, service, spread;
    double now, v;   /* v: processor sharing's virtual time */
    int *core_owner; /* FCFS: the thread on each core, or -1 */
    int idle_cores, ready_head, ready_tail;
    int *free_workers, nfree_workers, wait_head, wait_tail;
    double *db_free; /* when each database server is next free */
    long arrived, cap, measured, done;
    long warmup, n;
    int in_system;
    double t0, t1, area_in, area_busy; /* the window and its integrals */
    long window_done;
    double *resp; /* ms, by index - warmup */
    double wait_sum, own_sum;
    long past, past_max; /* measured responses past stop_past_ms, and how many stop the run */
    int stop;
};

int sim__heap_push(struct heap *h, double key, uint64_t seq, int kind, int id);
struct node sim__heap_pop(struct heap *h);
int sim__schedule(struct sim *s, double at, int kind, int id);
/* Moves the clock to t, integrating the window's figures on the way. */
void sim__advance(struct sim *s, double t);
/* The share of a core each thread sharing the cores runs at. */
double sim__ps_rate(const struct sim *s);
/* Request r's CPU step is ready: it joins its thread's queue. */
int sim__enqueue_cpu(struct sim *s, int r);
/* The step ending first under processor sharing ends now. */
int sim__ps_done(struct sim *s);
/* FCFS: core c's run ends, at the end of a step or of a slice. */
int sim__core_done(struct sim *s, int c);
/* Request r's CPU for this phase is done: it sends its query, or responds
 * (sim.c). */
int sim__after_cpu(struct sim *s, int r);

#endif
