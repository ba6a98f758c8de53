/* One io_uring per loop: its setup (and the clear error when the kernel or
 * a sandbox refuses it), the provided buffer ring, the listener's multishot
 * accept, the wait and the completions' dispatch, and uring_run, which runs
 * async's engine (async/) with this backend in place of epoll.
 *
 * The loop's epoll instance stays for what is not a client socket: the stop
 * descriptor and the database connections, whose client (db/) is
 * readiness-based. The ring polls the epoll descriptor (one-shot, re-armed
 * after each epoll_wait, so a level-triggered leftover completes the next
 * poll at once), and dispatch then reads it without blocking. The loop's
 * timers stay in its deadline heap; the next deadline is the wait's timeout,
 * passed to io_uring_enter itself (IORING_FEAT_EXT_ARG), so no timer costs a
 * submission. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "async.h"
#include "proc.h"
#include "uring.h"
#include "uring_int.h"

static struct uring_loop *loop_of(struct evloop *ev)
{
    return ev->io;
}

struct io_uring_sqe *uring__sqe(struct uring_loop *ul)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ul->ring);
    if (!sqe && ul->enabled && io_uring_submit(&ul->ring) >= 0)
        sqe = io_uring_get_sqe(&ul->ring);
    return sqe;
}

/* ---- setup ---- */

/* Why io_uring_setup failed, in the words a user can act on. */
static const char *refusal_reason(int err)
{
    switch (-err) {
    case ENOSYS: return "this kernel has no io_uring, or a seccomp filter forbids it";
    case EPERM:
        return "io_uring is disabled (sysctl kernel.io_uring_disabled) or a seccomp filter or "
               "security module forbids it";
    case EACCES: return "a security module forbids io_uring";
    case EINVAL: return "this kernel lacks a setup flag the mode needs";
    case ENOMEM: return "the locked-memory limit (ulimit -l) is too low for the ring";
    default: return "the kernel refused it";
    }
}

/* The completion queue: --uring-cq, or two entries per descriptor this
 * loop's share of the limit allows (a recv and a send in flight each),
 * within URING_CQ_MIN and URING_CQ_MAX. */
static unsigned cq_entries(const struct serve_config *cfg)
{
    struct rlimit rl;
    if (cfg->uring_cq > 0)
        return (unsigned)cfg->uring_cq;
    unsigned want = URING_CQ_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / (rlim_t)cfg->loops * 2 < URING_CQ_MAX)
        want = (unsigned)(rl.rlim_cur / (rlim_t)cfg->loops * 2);
    return want < URING_CQ_MIN ? URING_CQ_MIN : want;
}

static int ring_setup(struct uring_loop *ul, const struct serve_config *cfg)
{
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
                                .cq_entries = cq_entries(cfg)};
    if (ul->mode == SERVE_URING_DEFER) /* enabled on the loop's own thread, its one issuer */
        p.flags |=
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    unsigned sq = p.cq_entries < URING_SQ_ENTRIES ? p.cq_entries : URING_SQ_ENTRIES;
    int err = io_uring_queue_init_params(sq, &ul->ring, &p);
    if (err < 0) {
        fprintf(stderr, "overlap serve: io_uring refused: io_uring_setup: %s (%s)\n",
                strerror(-err), refusal_reason(err));
        return err;
    }
    ul->ring_up = true;
    ul->enabled = ul->mode != SERVE_URING_DEFER;
    return 0;
}

/* (c, d) nbufs buffers of URING_BUF_SIZE in ring group 0, the ring's memory
 * mapped here (liburing 2.3 has no io_uring_setup_buf_ring). */
static int buf_ring_setup(struct uring_loop *ul, unsigned nbufs)
{
    ul->br_size = nbufs * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ul->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return -errno;
    ul->br = br;
    ul->bufs = malloc((size_t)nbufs * URING_BUF_SIZE);
    if (!ul->bufs)
        return -ENOMEM;
    ul->nbufs = nbufs;
    io_uring_buf_ring_init(ul->br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = nbufs, .bgid = 0};
    int err = io_uring_register_buf_ring(&ul->ring, &reg, 0);
    if (err < 0) {
        fprintf(stderr, "overlap serve: io_uring: cannot register the buffer ring: %s\n",
                strerror(-err));
        return err;
    }
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(ul->br, ul->bufs + (size_t)i * URING_BUF_SIZE, URING_BUF_SIZE,
                              (unsigned short)i, io_uring_buf_ring_mask(nbufs), (int)i);
    io_uring_buf_ring_advance(ul->br, (int)nbufs);
    return 0;
}

static void on_accept_pause_over(struct evloop_timer *t)
{
    (void)t; /* the next wait arms the accept again */
}

/* After evloop_init, on the main thread: the ring, the buffer ring, and the
 * listener moved from epoll to the ring's multishot accept. */
int uring__init(struct evloop *ev)
{
    struct uring_loop *ul = calloc(1, sizeof(*ul));
    if (!ul)
        return -ENOMEM;
    ev->io = ul;
    ul->ev = ev;
    ul->mode = ev->cfg->uring_mode;
    evloop_list_init(&ul->ready);
    evloop_list_init(&ul->starved);
    evloop_timer_init(&ul->accept_pause, on_accept_pause_over);
    int err = ring_setup(ul, ev->cfg);
    if (err == 0 && ul->mode >= SERVE_URING_MULTISHOT)
        err = buf_ring_setup(ul, (unsigned)ev->cfg->uring_bufs);
    if (err == 0)
        err = evloop_poll_del(ev->epfd, ev->listen_fd);
    return err;
}

/* In evloop_free, after the loop's thread ended: closing the ring cancels
 * what is in flight, then the connections' leftovers go. */
void uring__free(struct evloop *ev)
{
    struct uring_loop *ul = loop_of(ev);
    if (ul->overflows)
        fprintf(stderr,
                "overlap serve: loop %d: the completion queue overflowed %lu times (%u "
                "completions lost)\n",
                ev->id, ul->overflows, ul->ring_up ? *ul->ring.cq.koverflow : 0);
    if (ul->ring_up)
        io_uring_queue_exit(&ul->ring);
    uring__conns_free(ul);
    if (ul->br)
        munmap(ul->br, ul->br_size);
    free(ul->bufs);
    free(ul);
    ev->io = NULL;
}

/* ---- the loop's own operations ---- */

static void arm_accept(struct uring_loop *ul)
{
    struct evloop *ev = ul->ev;
    struct io_uring_sqe *sqe;
    if (ul->accept_on || ev->listen_fd < 0 || heap_contains(&ul->accept_pause.node) ||
        !(sqe = uring__sqe(ul)))
        return;
    io_uring_prep_multishot_accept(sqe, ev->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, uring_ud(ul, URING_OP_ACCEPT));
    ul->accept_on = true;
}

static void arm_epoll(struct uring_loop *ul)
{
    struct io_uring_sqe *sqe;
    if (ul->epoll_on || !(sqe = uring__sqe(ul)))
        return;
    io_uring_prep_poll_add(sqe, ul->ev->epfd, EPOLLIN);
    io_uring_sqe_set_data64(sqe, uring_ud(ul, URING_OP_EPOLL));
    ul->epoll_on = true;
}

/* The listener was closed by the stop: closing does not cancel the accept
 * in flight, which holds the socket open, so it is cancelled by its tag. */
static void cancel_accept(struct uring_loop *ul)
{
    struct io_uring_sqe *sqe;
    if (!ul->accept_on || ul->accept_cancelled || !(sqe = uring__sqe(ul)))
        return;
    io_uring_prep_cancel64(sqe, uring_ud(ul, URING_OP_ACCEPT), 0);
    io_uring_sqe_set_data64(sqe, 0);
    ul->accept_cancelled = true;
}

static void on_accept(struct uring_loop *ul, const struct io_uring_cqe *cqe)
{
    struct evloop *ev = ul->ev;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        ul->accept_on = false; /* ended: the next wait arms it again */
    if (cqe->res >= 0) {
        if (ev->stopping)
            close(cqe->res);
        else
            ev->ops->accepted(ev, cqe->res);
        return;
    }
    int err = -cqe->res;
    if ((err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) && ev->listen_fd >= 0 &&
        !proc_shed_accept(ev->listen_fd, &ev->spare_fd))
        evloop_timer_set(ev, &ul->accept_pause, ev->now + EVLOOP_EMFILE_PAUSE);
}

/* ---- the turn ---- */

/* Under ThreadSanitizer a signal's handler (the stop's) runs only at the
 * thread's next libc call TSan intercepts, and io_uring_enter is not one: a
 * signal that comes while the loop waits would wait for the next completion.
 * So a TSan build waits at most this long, then makes an intercepted call
 * that changes nothing. Other builds run the handler in the wait. */
#if defined(__SANITIZE_THREAD__)
#define URING_TSAN_WAIT_MS 100
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define URING_TSAN_WAIT_MS 100
#endif
#endif

static int let_signals_run(int timeout_ms)
{
#ifdef URING_TSAN_WAIT_MS
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    if (timeout_ms < 0 || timeout_ms > URING_TSAN_WAIT_MS)
        timeout_ms = URING_TSAN_WAIT_MS;
#endif
    return timeout_ms;
}

int uring__wait(struct evloop *ev, int timeout_ms)
{
    struct uring_loop *ul = loop_of(ev);
    struct io_uring_cqe *cqe;
    timeout_ms = let_signals_run(timeout_ms);
    if (!ul->enabled) { /* (d) the loop's thread becomes the ring's one issuer */
        /* liburing 2.3 declares io_uring_enable_rings but does not export it */
        if (syscall(__NR_io_uring_register, ul->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
                    0) < 0)
            return -errno;
        ul->enabled = true;
    }
    if (ev->stopping)
        cancel_accept(ul);
    else
        arm_accept(ul);
    arm_epoll(ul);
    if (timeout_ms == 0 || io_uring_cq_ready(&ul->ring) > 0) {
        int err = io_uring_submit_and_get_events(&ul->ring);
        return err < 0 && err != -EINTR && err != -EBUSY ? err : 0;
    }
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                   .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    int err =
        io_uring_submit_and_wait_timeout(&ul->ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts, NULL);
    return err < 0 && err != -ETIME && err != -EINTR && err != -EBUSY ? err : 0;
}

static void complete(struct uring_loop *ul, const struct io_uring_cqe *cqe)
{
    enum uring_op op = (enum uring_op)(cqe->user_data & URING_OP_MASK);
    void *p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)URING_OP_MASK);
    switch (op) {
    case URING_OP_NONE: break;
    case URING_OP_ACCEPT: on_accept(ul, cqe); break;
    case URING_OP_EPOLL:
        ul->epoll_on = false;
        ul->epoll_ready = true;
        break;
    case URING_OP_POLL_IN:
    case URING_OP_POLL_OUT:
    case URING_OP_RECV:
    case URING_OP_SEND: uring__conn_complete(p, op, cqe); break;
    }
}

/* Every completion at hand, each taken off the queue before it is handled
 * (a handler may submit, and a full queue would overflow); peeking flushes
 * the kernel's overflow list when the queue overflowed. Then async hears of
 * each connection's completions once, as of an epoll event (a multishot recv
 * brings a large input in several buffers: async sees it whole, as after one
 * read), the connections whose recv ran dry get it back, and the epoll
 * instance is read if its poll fired. */
int uring__dispatch(struct evloop *ev, struct epoll_event *events, int max)
{
    struct uring_loop *ul = loop_of(ev);
    struct io_uring_cqe *cqe;
    if (io_uring_cq_has_overflow(&ul->ring))
        ul->overflows++; /* the kernel holds the excess (IORING_FEAT_NODROP): peeking flushes it */
    while (io_uring_peek_cqe(&ul->ring, &cqe) == 0) {
        struct io_uring_cqe copy = *cqe;
        io_uring_cqe_seen(&ul->ring, cqe);
        complete(ul, &copy);
    }
    uring__conn_after_batch(ul);
    if (!ul->epoll_ready)
        return 0;
    ul->epoll_ready = false;
    return evloop_poll_wait(ev->epfd, events, max, 0);
}

/* ---- the engine ---- */

int uring_run(const struct serve_config *cfg)
{
    return async_run_on(cfg, &uring__backends[cfg->uring_mode]);
}
