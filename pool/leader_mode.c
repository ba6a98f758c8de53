/* Leader/Followers mode (Schmidt et al., POSA2): the N workers take turns
 * leading, and the leader is the one worker that waits on the shared epoll
 * instance. The event it gets is served on its own thread, from the read to
 * the write, with blocking database calls: no front end, no queue, no
 * hand-back. Between requests a connection waits in the poller, not in a
 * thread.
 *
 * Promotion is lazy: the leader hands the leadership to a follower only when
 * the request in hand may block (it runs workload steps, or its response
 * does not fit the socket), and then serves it as a follower. A request
 * answered at once (/plaintext, 404, a bad head) is served by the leader
 * without waking anyone, and events that arrive meanwhile wait in the ready
 * list, not in a woken thread: promoting at every event, as textbook
 * Leader/Followers and N threads in one epoll_wait do, cost a context switch
 * per request on a busy core (pool/README.md has the figures). The leader
 * takes up to MAX_EVENTS events per epoll_wait; the ones it has not reached
 * when it steps down pass with the leadership to the next leader.
 *
 * Every connection is registered EPOLLONESHOT, so an event disarms it until
 * the worker serving it re-arms it (EPOLL_CTL_MOD) once it is done: while a
 * follower serves it, the leader cannot be told about it. Overload: there is
 * no queue to shed from; requests that find every worker busy wait in the
 * kernel (socket buffers, the listen backlog), as in front of async.
 *
 * Ownership and locking. A connection is touched only by the worker that
 * holds its claim (BUSY), which it takes with a compare-and-swap when its
 * event comes up, and gives up (WAITING, next generation) just after
 * re-arming. Timeouts are a sweep ten times a second by the leader, woken by
 * a timerfd: under the list mutex it moves each WAITING connection past its
 * deadline to EXPIRED and shuts its read side, which raises an event; the
 * worker that gets the event finds it EXPIRED and closes it. The sweep never
 * closes, so a descriptor is closed only by a thread that owns it. The
 * generation in the claim makes the sweep's compare-and-swap fail on a
 * connection re-armed since the sweep read its deadline.
 * lead_mu guards only the leadership (who leads, how many wait to, whether
 * to exit); the batch of events and the listener's pause belong to the
 * leader and pass with the leadership, under lead_mu. The list mutex guards
 * only the list of open connections and its count; it is taken to add or
 * close a connection and by the sweep, never per request. No thread holds
 * both mutexes, and none blocks while holding one. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "pool_internal.h"

/* events per epoll_wait: one call serves many sockets, and the ones a leader
 * has not reached when it steps down pass on with the leadership */
#define MAX_EVENTS   64
#define TICK_NS      100000000ULL /* timeouts are swept ten times a second */
#define ACCEPT_BATCH 64           /* accepts per turn on the listener, then it is re-armed */

/* A connection's claim: the state in the low two bits, a generation above. */
#define CLAIM_WAITING 0u /* armed in the poller; the next worker it wakes may claim it */
#define CLAIM_BUSY    1u /* a worker owns it */
#define CLAIM_EXPIRED 2u /* the sweep found it past its deadline; its next event closes it */
#define CLAIM_MASK    3u
#define CLAIM_GEN     4u /* one generation */

/* What the poller hands back for the fds that are not connections. Events
 * are told apart by these addresses, not by kind: anything else is a
 * connection, whose watch is the first member of its struct pool__conn. */
static struct evloop_watch listen_tag, tick_tag, exit_tag;

struct pool__leader {
    int epfd, tick_fd, exit_fd;
    atomic_bool stopping; /* set once by the main thread on SIGINT/SIGTERM */
    /* the leadership */
    pthread_mutex_t lead_mu; /* guards led, waiting and exiting */
    pthread_cond_t lead_cv;  /* followers wait here to lead */
    bool led;                /* a worker leads */
    bool exiting;            /* the workers are to return */
    int waiting;             /* followers waiting on lead_cv: signal only when one is */
    /* the leader's own: events taken and not yet served, the listener's pause */
    struct epoll_event batch[MAX_EVENTS];
    int batch_next, batch_len;
    bool accept_paused; /* the listener is left disarmed: out of descriptors */
    uint64_t resume_at; /* when a paused listener is re-armed */
    /* the open connections */
    pthread_mutex_t mu;       /* guards conns and nconns, nothing else */
    pthread_cond_t drained;   /* nconns reached 0 while stopping */
    struct evloop_list conns; /* every open connection */
    int nconns;
};

/* ---- the poller ---- */

static void rearm_listener(struct pool__leader *l, int listen_fd)
{
    evloop_poll_mod(l->epfd, listen_fd, EPOLLIN | EPOLLONESHOT, &listen_tag);
}

/* ---- the list of open connections ---- */

static void enlist(struct pool__leader *l, struct pool__conn *c)
{
    pthread_mutex_lock(&l->mu);
    evloop_list_push(&l->conns, &c->link);
    l->nconns++;
    pthread_mutex_unlock(&l->mu);
}

/* Closes a connection the caller owns (or that no event can name any more). */
static void close_conn(struct pool__leader *l, struct pool__conn *c)
{
    pthread_mutex_lock(&l->mu);
    evloop_list_remove(&c->link);
    if (--l->nconns == 0 && atomic_load(&l->stopping))
        pthread_cond_broadcast(&l->drained);
    pthread_mutex_unlock(&l->mu);
    pool__conn_free(c);
}

/* ---- claims ---- */

/* The worker whose event names c takes it: true, or false when the sweep
 * expired it first (then the caller closes it). c is found BUSY only in the
 * moment between its previous owner arming it and letting go of it (see
 * release): that owner is on its way out, so this one yields until it is. */
static bool claim(struct pool__conn *c)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&c->claim, memory_order_acquire);
        if ((s & CLAIM_MASK) == CLAIM_EXPIRED)
            return false;
        if ((s & CLAIM_MASK) == CLAIM_BUSY)
            sched_yield();
        else if (atomic_compare_exchange_weak_explicit(&c->claim, &s,
                                                       (s & ~CLAIM_MASK) | CLAIM_BUSY,
                                                       memory_order_acquire, memory_order_relaxed))
            return true;
    }
}

/* Gives c back to the poller with deadline c->deadline (is_new: added for
 * the first time). The fd is armed first and the claim let go last, so that
 * nothing this worker does to c (the epoll_ctl included) can overlap the next
 * owner's work, its close among it. */
static void release(struct pool__leader *l, struct pool__conn *c, bool is_new)
{
    uint64_t s = atomic_load_explicit(&c->claim, memory_order_relaxed);
    atomic_store_explicit(&c->expires_at, c->deadline, memory_order_relaxed);
    if (pool__conn_watch(l->epfd, c, is_new) < 0) {
        close_conn(l, c); /* not armed, so still this worker's */
        return;
    }
    atomic_store_explicit(&c->claim, (s & ~CLAIM_MASK) + CLAIM_GEN + CLAIM_WAITING,
                          memory_order_release);
}

/* ---- a connection's turn ---- */

/* c waits for its next bytes; while stopping it is closed instead, as a
 * connection between requests. */
static void wait_input(struct pool__leader *l, struct pool__conn *c)
{
    c->state = POOL_CONN_IDLE;
    if (atomic_load(&l->stopping))
        close_conn(l, c);
    else
        release(l, c, false);
}

/* After a close-bound response: the write side is shut and the connection
 * waits, up to the linger time, for the client's EOF, so that unread input
 * cannot turn the close into a reset. */
static void start_linger(struct pool__leader *l, struct pool__conn *c)
{
    if (atomic_load(&l->stopping)) {
        close_conn(l, c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = POOL_CONN_LINGER;
    c->deadline = proc_now_ns() + EVLOOP_LINGER_NS;
    release(l, c, false);
}

/* What the connection needs next, once served or refused. */
static void settle(struct pool__leader *l, struct pool__conn *c, enum pool__conn_state next,
                   const struct serve_config *cfg)
{
    if (next == POOL_CONN_IDLE) {
        pool__conn_arm(c, cfg, proc_now_ns());
        wait_input(l, c);
    } else if (next == POOL_CONN_CLOSING) {
        start_linger(l, c);
    } else {
        close_conn(l, c);
    }
}

static void on_linger_readable(struct pool__leader *l, struct pool__conn *c)
{
    char sink[4096];
    ssize_t n;
    while ((n = read(c->fd, sink, sizeof(sink))) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        close_conn(l, c);
    else
        release(l, c, false); /* the linger deadline stands */
}

/* c is readable and this worker owns it: read, and serve each whole request
 * here, on this thread. A partial head waits in the poller again with its
 * deadline unchanged, so a client trickling bytes still meets the header
 * timeout. */
static void on_readable(struct pool__worker *w, struct pool__conn *c)
{
    struct pool__leader *l = w->pool->leader;
    const struct serve_config *cfg = w->pool->cfg;
    for (;;) {
        uint64_t now = proc_now_ns();
        int r = pool__conn_advance(c, now);
        if (r == POOL_READY) {
            settle(l, c, pool__serve_ready(w, c), cfg);
            return;
        }
        if (r < 0) {
            bool sent = pool__write_error_now(&w->out, c->fd, NULL, -r, NULL, false) == 0;
            settle(l, c, sent ? POOL_CONN_CLOSING : POOL_CONN_DEAD, cfg);
            return;
        }
        ssize_t n = pool__conn_read(c, cfg, now);
        if (n == -EAGAIN) {
            wait_input(l, c);
            return;
        }
        if (n <= 0) {
            close_conn(l, c);
            return;
        }
    }
}

/* ---- the listener ---- */

/* A new connection (ctx is the pool): listed, then armed for its first
 * request. */
static void take_in(void *ctx, int fd)
{
    struct pool *p = ctx;
    struct pool__leader *l = p->leader;
    struct pool__conn *c = pool__conn_new(fd);
    if (!c) {
        close(fd);
        return;
    }
    c->state = POOL_CONN_IDLE;
    atomic_init(&c->claim, CLAIM_BUSY);
    atomic_init(&c->expires_at, UINT64_MAX);
    pool__conn_arm(c, p->cfg, proc_now_ns());
    enlist(l, c);
    release(l, c, true);
}

/* The leader accepts up to a batch, then re-arms the listener, unless it is
 * out of descriptors (the tick re-arms it after a pause) or the listener was
 * shut for the stop. Registered EPOLLONESHOT, the listener needs no
 * epoll_ctl of its own to pause. */
static void on_acceptable(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    enum pool__accept_end end = pool__accept_batch(w->pool, ACCEPT_BATCH, take_in, w->pool);
    if (end == POOL_ACCEPT_NO_FDS) {
        l->resume_at = proc_now_ns() + POOL_ACCEPT_PAUSE_NS;
        l->accept_paused = true;
    } else if (end == POOL_ACCEPT_DRAINED && !atomic_load(&l->stopping)) {
        rearm_listener(l, w->pool->listen_fd);
    }
}

/* ---- timeouts ---- */

/* Expires every WAITING connection past its deadline (all of them while
 * stopping): its shut read side raises the event whose worker closes it. */
static void sweep(struct pool__leader *l, uint64_t now)
{
    bool all = atomic_load(&l->stopping);
    pthread_mutex_lock(&l->mu);
    for (struct evloop_list *n = l->conns.next; n != &l->conns; n = n->next) {
        struct pool__conn *c = pool__conn_of(n);
        uint64_t s = atomic_load_explicit(&c->claim, memory_order_acquire);
        if ((s & CLAIM_MASK) != CLAIM_WAITING)
            continue;
        if (!all && atomic_load_explicit(&c->expires_at, memory_order_relaxed) > now)
            continue;
        if (atomic_compare_exchange_strong(&c->claim, &s, (s & ~CLAIM_MASK) | CLAIM_EXPIRED))
            shutdown(c->fd, SHUT_RD);
    }
    pthread_mutex_unlock(&l->mu);
}

/* The tick (level-triggered, and read here): sweep, and resume a paused
 * listener. */
static void on_tick(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    uint64_t count, now = proc_now_ns();
    if (read(l->tick_fd, &count, sizeof(count)) < 0) {
        /* not expired again yet: the sweep runs anyway */
    }
    sweep(l, now);
    if (l->accept_paused && now >= l->resume_at && !atomic_load(&l->stopping)) {
        l->accept_paused = false;
        rearm_listener(l, w->pool->listen_fd);
    }
}

/* ---- the leadership ---- */

/* Waits until no worker leads, then leads: true, or false once the workers
 * are to return. */
static bool take_lead(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    pthread_mutex_lock(&l->lead_mu);
    while (l->led && !l->exiting) {
        l->waiting++;
        pthread_cond_wait(&l->lead_cv, &l->lead_mu);
        l->waiting--;
    }
    w->leading = !l->exiting;
    l->led = l->led || w->leading;
    pthread_mutex_unlock(&l->lead_mu);
    return w->leading;
}

void pool__leader_step_down(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    pthread_mutex_lock(&l->lead_mu);
    l->led = false;
    bool wake = l->waiting > 0; /* else the next worker to finish leads */
    pthread_mutex_unlock(&l->lead_mu);
    if (wake)
        pthread_cond_signal(&l->lead_cv);
    w->leading = false;
}

/* The exit event: every worker returns, the followers once they are done. */
static void exit_all(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    pthread_mutex_lock(&l->lead_mu);
    l->exiting = true;
    pthread_mutex_unlock(&l->lead_mu);
    pthread_cond_broadcast(&l->lead_cv);
    w->leading = false;
}

static void on_conn_event(struct pool__worker *w, struct pool__conn *c)
{
    struct pool__leader *l = w->pool->leader;
    if (!claim(c))
        close_conn(l, c);
    else if (c->state == POOL_CONN_LINGER)
        on_linger_readable(l, c);
    else
        on_readable(w, c); /* may step down to serve */
}

/* The next event of the batch, refilled from the poller when it is used up:
 * its watch, NULL after a signal, or the exit event if the poller itself
 * failed (nothing can be served). */
static struct evloop_watch *next_event(struct pool__leader *l)
{
    if (l->batch_next == l->batch_len) {
        int n = evloop_poll_wait(l->epfd, l->batch, MAX_EVENTS, -1);
        l->batch_next = 0;
        l->batch_len = n > 0 ? n : 0;
        if (n < 0)
            return &exit_tag;
        if (n == 0)
            return NULL;
    }
    return l->batch[l->batch_next++].data.ptr;
}

/* The leader's turn: events one after another until it steps down to serve
 * a request that may block, or the exit event comes. */
static void lead(struct pool__worker *w)
{
    struct pool__leader *l = w->pool->leader;
    while (w->leading) {
        struct evloop_watch *x = next_event(l);
        if (x == &exit_tag)
            exit_all(w);
        else if (x == &listen_tag)
            on_acceptable(w);
        else if (x == &tick_tag)
            on_tick(w);
        else if (x)
            on_conn_event(w, (struct pool__conn *)x);
    }
}

void pool__leader_worker(struct pool__worker *w)
{
    while (take_lead(w))
        lead(w);
}

/* ---- the main thread: setup, the stop, the teardown ---- */

static int start_tick(struct pool__leader *l)
{
    struct itimerspec every = {.it_interval = {.tv_nsec = TICK_NS},
                               .it_value = {.tv_nsec = TICK_NS}};
    l->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->tick_fd < 0 || timerfd_settime(l->tick_fd, 0, &every, NULL) < 0)
        return -errno;
    return evloop_poll_add(l->epfd, l->tick_fd, EPOLLIN, &tick_tag);
}

int pool__leader_init(struct pool *p)
{
    struct pool__leader *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    p->leader = l;
    evloop_list_init(&l->conns);
    l->epfd = l->tick_fd = l->exit_fd = -1;
    pthread_condattr_t attr;
    if (pthread_mutex_init(&l->mu, NULL) || pthread_mutex_init(&l->lead_mu, NULL) ||
        pthread_cond_init(&l->lead_cv, NULL) || pthread_condattr_init(&attr) ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_cond_init(&l->drained, &attr))
        abort();
    pthread_condattr_destroy(&attr);
    if ((l->epfd = evloop_poll_create()) < 0)
        return l->epfd;
    if ((l->exit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -errno;
    int err = evloop_poll_add(l->epfd, p->listen_fd, EPOLLIN | EPOLLONESHOT, &listen_tag);
    if (!err)
        err = evloop_poll_add(l->epfd, l->exit_fd, EPOLLIN, &exit_tag);
    if (!err)
        err = start_tick(l);
    return err;
}

/* After the workers are joined: whatever is still open is closed here. */
void pool__leader_free(struct pool *p)
{
    struct pool__leader *l = p->leader;
    if (!l)
        return;
    while (!evloop_list_empty(&l->conns))
        close_conn(l, pool__conn_of(l->conns.next));
    int fds[] = {l->epfd, l->tick_fd, l->exit_fd};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->drained);
    pthread_mutex_destroy(&l->lead_mu);
    pthread_cond_destroy(&l->lead_cv);
    free(l);
    p->leader = NULL;
}

/* Waits until every connection is closed or end_ns comes: true when none is
 * left open, false when some request was still running at end_ns. */
static bool wait_drained(struct pool__leader *l, uint64_t end_ns)
{
    struct timespec end = proc_timespec(end_ns);
    pthread_mutex_lock(&l->mu);
    while (l->nconns > 0 && pthread_cond_timedwait(&l->drained, &l->mu, &end) != ETIMEDOUT)
        ;
    int left = l->nconns;
    pthread_mutex_unlock(&l->mu);
    return left == 0;
}

/* The main thread waits for SIGINT/SIGTERM. Then new clients are refused
 * (the listener is shut, not closed, since a worker may be accepting on it),
 * connections between requests are closed by the sweep, and requests in
 * flight finish and close theirs, until pool__stop_deadline. The teardown
 * then wakes the workers to exit (pool__leader_stop_workers). */
int pool__run_leader_mode(struct pool *p, bool *unfinished)
{
    struct pool__leader *l = p->leader;
    struct pollfd pfd = {.fd = proc_stop_fd(), .events = POLLIN};
    while (!proc_stopping())
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            break; /* cannot wait for the signal: stop now rather than spin */
    atomic_store(&l->stopping, true);
    shutdown(p->listen_fd, SHUT_RDWR);
    sweep(l, proc_now_ns());
    *unfinished = !wait_drained(l, pool__stop_deadline(p));
    return 0;
}

/* The exit eventfd is level-triggered and never read: the leader sees it
 * and lets every worker return. */
void pool__leader_stop_workers(struct pool *p)
{
    uint64_t one = 1;
    if (p->leader && p->leader->exit_fd >= 0 && write(p->leader->exit_fd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow from one write: nothing to do */
    }
}
