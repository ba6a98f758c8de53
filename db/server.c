/* The `overlap db` loop: one thread, one epoll set, one SQLite connection.
 * A query runs at once; its answer is held in a deadline heap (proc/heap.h)
 * until arrival + sampled latency, and a timerfd armed (TFD_TIMER_ABSTIME)
 * for the earliest deadline wakes the loop then, so answers leave in deadline
 * order without busy-polling. The listening socket is listen.c's. Invariants:
 * every held answer is both in the heap and on its connection's list; a
 * connection is freed only at the end of a loop round, so no event of the
 * round can point at freed memory. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "db_internal.h"
#include "heap.h"
#include "proc.h"

#define DB__MAX_EVENTS 256        /* events taken per epoll_wait */
#define DB__OUT_HIGH   (4u << 20) /* unsent bytes past which a connection is not read */
#define DB__HELD_HIGH  65536      /* held answers past which a connection is not read */
#define DB__FIRE_EVERY 16         /* frames decoded between two looks at the heap */

/* One answer held until its deadline. */
struct db__held {
    struct heap_node node; /* in the server's heap, by deadline */
    struct db__conn *conn;
    struct db__held *prev, *next; /* the connection's held answers */
    bool close_instead;           /* fault injection: close rather than answer */
    uint32_t size;
    uint8_t data[];
};

enum db__conn_state {
    DB__CONN_OPEN,    /* reading queries, writing answers */
    DB__CONN_CLOSING, /* framing lost: flush what is queued, then close */
    DB__CONN_DEAD,    /* to be freed at the end of the round */
};

struct db__conn {
    int fd;
    enum db__conn_state state;
    uint32_t events; /* what epoll watches now */
    bool dirty;      /* on the server's dirty list: output to flush */
    struct db_reader in;
    struct db__outq out;
    struct db__held *held; /* answers not yet due */
    size_t nheld;
    struct db__conn *prev, *next; /* every connection */
    struct db__conn *next_dirty, *next_dead;
};

struct db__server {
    struct db__server_config cfg;
    struct db__store *store;
    struct db__listener listener;
    int epfd, tfd;
    bool accepting; /* the listener is in the epoll set (not out of fds) */
    struct wl_rng latency_rng, fault_rng;
    struct heap heap;           /* every held answer; equal deadlines leave in arrival order */
    uint64_t armed;             /* the deadline the timerfd is set for; 0: none */
    uint64_t answered, dropped; /* frames queued to clients; answers whose client left */
    struct db__conn *conns, *dirty, *dead;
};

/* ---- connections ---- */

static void set_events(struct db__server *s, struct db__conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void unhold(struct db__conn *c, struct db__held *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->held = p->next;
    if (p->next)
        p->next->prev = p->prev;
    c->nheld--;
}

/* Drops every answer still held for c: its client will never read them. */
static void drop_held(struct db__server *s, struct db__conn *c)
{
    while (c->held) {
        struct db__held *p = c->held;
        unhold(c, p);
        heap_remove(&s->heap, &p->node);
        free(p);
        s->dropped++;
    }
}

static void kill_conn(struct db__server *s, struct db__conn *c)
{
    if (c->state == DB__CONN_DEAD)
        return;
    c->state = DB__CONN_DEAD;
    drop_held(s, c);
    c->next_dead = s->dead;
    s->dead = c;
}

static void mark_dirty(struct db__server *s, struct db__conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = s->dirty;
    s->dirty = c;
}

/* Reads are paused while a client does not take its answers or holds too
 * many in flight: the server's memory stays bounded per connection. */
static void update_events(struct db__server *s, struct db__conn *c)
{
    if (c->state == DB__CONN_DEAD)
        return;
    bool backlog = c->out.len - c->out.sent > DB__OUT_HIGH || c->nheld > DB__HELD_HIGH;
    uint32_t ev = 0;
    if (c->state == DB__CONN_OPEN && !backlog)
        ev |= EPOLLIN;
    if (c->out.sent < c->out.len)
        ev |= EPOLLOUT;
    set_events(s, c, ev);
}

static void flush_conn(struct db__server *s, struct db__conn *c)
{
    if (c->state == DB__CONN_DEAD)
        return;
    int rc = db__outq_write(&c->out, c->fd);
    if (rc < 0 && rc != -EAGAIN) {
        kill_conn(s, c);
        return;
    }
    if (rc == 0 && c->state == DB__CONN_CLOSING) {
        kill_conn(s, c);
        return;
    }
    update_events(s, c);
}

static void flush_dirty(struct db__server *s)
{
    while (s->dirty) {
        struct db__conn *c = s->dirty;
        s->dirty = c->next_dirty;
        c->dirty = false;
        flush_conn(s, c);
    }
}

static void queue_bytes(struct db__server *s, struct db__conn *c, const void *data, size_t n)
{
    if (db__outq_reserve(&c->out, n) < 0) {
        kill_conn(s, c); /* out of memory: this client loses its connection, not the server */
        return;
    }
    memcpy(c->out.buf + c->out.len, data, n);
    c->out.len += n;
    s->answered++;
    mark_dirty(s, c);
}

/* ---- answers falling due ---- */

static void deliver(struct db__server *s, struct db__held *p, uint64_t now)
{
    struct db__conn *c = p->conn;
    unhold(c, p);
    if (s->cfg.on_due) /* p is out of the heap: len + 1 were held */
        s->cfg.on_due(s->cfg.on_due_ctx, p->node.deadline, now, s->heap.len + 1);
    if (p->close_instead)
        kill_conn(s, c);
    else
        queue_bytes(s, c, p->data, p->size);
    free(p);
}

/* Queues every answer whose deadline has passed, earliest first. Returns
 * how many fell due. */
static int fire_due(struct db__server *s)
{
    if (!heap_min(&s->heap))
        return 0; /* nothing held: no clock read */
    uint64_t now = proc_now_ns();
    struct heap_node *x;
    int n = 0;
    while ((x = heap_pop_due(&s->heap, now))) {
        deliver(s, heap_entry(x, struct db__held, node), now);
        n++;
    }
    return n;
}

/* Sets the timerfd for the earliest deadline, when that changed. */
static void arm_timer(struct db__server *s)
{
    uint64_t next = heap_min(&s->heap) ? heap_next(&s->heap) : 0;
    if (next == s->armed)
        return;
    struct itimerspec its = {.it_value = proc_timespec(next)};
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        s->armed = next;
}

/* ---- queries ---- */

/* Holds an answer until its deadline, or queues it now when it is already
 * due and nothing earlier waits (the zero-latency path skips the heap). */
static void hold(struct db__server *s, struct db__conn *c, const uint8_t *data, size_t size,
                 uint64_t deadline, bool close_instead, uint64_t now)
{
    if (deadline <= now && !close_instead && heap_next(&s->heap) > deadline) {
        queue_bytes(s, c, data, size);
        return;
    }
    struct db__held *p = malloc(sizeof(*p) + size);
    if (!p) {
        kill_conn(s, c);
        return;
    }
    *p = (struct db__held){.conn = c, .close_instead = close_instead, .size = (uint32_t)size};
    memcpy(p->data, data, size);
    heap_node_init(&p->node);
    if (heap_set(&s->heap, &p->node, deadline) < 0) {
        free(p);
        kill_conn(s, c);
        return;
    }
    p->next = c->held;
    if (c->held)
        c->held->prev = p;
    c->held = p;
    c->nheld++;
}

static bool draw(struct wl_rng *rng, double rate)
{
    return rate > 0 && wl_rng_double(rng) < rate;
}

/* The injected faults of one query, drawn in a fixed order (stall, close,
 * fail) so a seed gives the same faults run after run: may move *deadline,
 * or turn fo into an error frame written in err. True: close instead. */
static bool inject_faults(struct db__server *s, uint32_t tag, uint64_t *deadline,
                          struct db_frame_out *fo, uint8_t *err, size_t errlen)
{
    const struct db__faults *f = &s->cfg.faults;
    if (draw(&s->fault_rng, f->stall_rate))
        *deadline += f->stall_ns;
    if (draw(&s->fault_rng, f->close_rate))
        return true;
    if (draw(&s->fault_rng, f->fail_rate)) {
        int n = db_encode_error(err, errlen, tag, DB_EUNAVAILABLE, "injected failure");
        fo->data = err;
        fo->size = (size_t)n;
    }
    return false;
}

/* Runs one whole query frame that arrived at `arrival`. */
static void run_frame(struct db__server *s, struct db__conn *c, const uint8_t *frame, size_t size,
                      uint64_t arrival)
{
    struct db_query q;
    struct db_frame_out fo;
    uint8_t err[DB__ERROR_HEAD + DB_MAX_MESSAGE];
    if (db_decode_query(frame, size, &q) != DB_OK) {
        int n = db_encode_error(err, sizeof(err), q.tag, DB_EMALFORMED,
                                "malformed query frame (see PROTOCOL.md)");
        queue_bytes(s, c, err, (size_t)n);
        return;
    }
    db__store_run(s->store, &q, &fo);
    if (fo.status == DB_EQUERY || fo.status == DB_EPARAMS) {
        queue_bytes(s, c, fo.data, fo.size); /* refused before running: no latency */
        return;
    }
    uint64_t deadline =
        arrival + wl_dist_sample(&s->cfg.wl->queries[q.query].latency, &s->latency_rng);
    bool close_instead = inject_faults(s, q.tag, &deadline, &fo, err, sizeof(err));
    hold(s, c, fo.data, fo.size, deadline, close_instead, proc_now_ns());
}

/* Framing is lost: answer with the tag when it can be read, then close. */
static void lose_framing(struct db__server *s, struct db__conn *c, long why)
{
    const uint8_t *buf = c->in.buf + c->in.start;
    size_t have = c->in.end - c->in.start;
    drop_held(s, c);
    c->state = DB__CONN_CLOSING;
    if (why == -EMSGSIZE && have >= DB__HEADER_BYTES) {
        uint8_t err[DB__ERROR_HEAD + DB_MAX_MESSAGE];
        char msg[128];
        snprintf(msg, sizeof(msg), "query frame over %u bytes: connection closed",
                 DB_MAX_QUERY_FRAME);
        int n = db_encode_error(err, sizeof(err), db__get_u32(buf + 5), DB_EOVERSIZE, msg);
        queue_bytes(s, c, err, (size_t)n);
    }
    mark_dirty(s, c);
}

/* Runs every whole frame read so far; the heap is checked every few frames
 * so a long burst does not delay answers already due. */
static void run_frames(struct db__server *s, struct db__conn *c, uint64_t arrival)
{
    int n = 0;
    while (c->state == DB__CONN_OPEN) {
        long size =
            db_frame_size(c->in.buf + c->in.start, c->in.end - c->in.start, DB_MAX_QUERY_FRAME);
        if (size < 0) {
            lose_framing(s, c, size);
            return;
        }
        if (size == 0)
            return;
        run_frame(s, c, c->in.buf + c->in.start, (size_t)size, arrival);
        c->in.start += (size_t)size;
        if (++n % DB__FIRE_EVERY == 0 && fire_due(s) > 0)
            flush_dirty(s); /* answers due mid-burst leave now, not after it */
    }
}

static void on_readable(struct db__server *s, struct db__conn *c)
{
    size_t room;
    uint8_t *p = db_reader_space(&c->in, &room);
    if (!p) {
        kill_conn(s, c);
        return;
    }
    ssize_t n = read(c->fd, p, room);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            kill_conn(s, c); /* the client left: its held answers are dropped */
        return;
    }
    db_reader_commit(&c->in, (size_t)n);
    run_frames(s, c, proc_now_ns());
    mark_dirty(s, c);
}

static void on_conn_event(struct db__server *s, struct db__conn *c, uint32_t events)
{
    if (c->state == DB__CONN_DEAD)
        return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->state == DB__CONN_OPEN)
            on_readable(s, c);
        else if (events & (EPOLLHUP | EPOLLERR))
            kill_conn(s, c);
    }
    if ((events & EPOLLOUT) && c->state != DB__CONN_DEAD)
        flush_conn(s, c);
}

static void set_accepting(struct db__server *s, bool on)
{
    if (s->accepting == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listener};
    if (epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->listener.fd, &ev) == 0)
        s->accepting = on;
}

static void on_accept(struct db__server *s)
{
    for (;;) {
        int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
                set_accepting(s, false); /* until a connection closes */
            return;
        }
        struct db__conn *c = calloc(1, sizeof(*c));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix: fine */
        c->fd = fd;
        c->events = EPOLLIN;
        db_reader_init(&c->in);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
    }
}

static void free_conn(struct db__server *s, struct db__conn *c)
{
    drop_held(s, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    db_reader_free(&c->in);
    free(c->out.buf);
    free(c);
}

static void reap_dead(struct db__server *s)
{
    if (!s->dead)
        return;
    while (s->dead) {
        struct db__conn *c = s->dead;
        s->dead = c->next_dead;
        free_conn(s, c);
    }
    set_accepting(s, true);
}

/* ---- the server's life ---- */

static int add_watch(struct db__server *s, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int db__server_open(const struct db__server_config *cfg, struct db__server **out, char *err,
                    size_t errlen, int *status)
{
    struct db__server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        *status = 1;
        return -1;
    }
    s->cfg = *cfg;
    heap_init(&s->heap);
    s->epfd = s->tfd = s->listener.fd = -1;
    wl_rng_seed(&s->latency_rng, cfg->seed ^ 0x6c6174656e6379u); /* "latency" */
    wl_rng_seed(&s->fault_rng, cfg->seed ^ 0x6661756c7473u);     /* "faults" */
    if (db__store_open(cfg->wl, cfg->file, cfg->seed, &s->store, err, errlen, status) < 0)
        goto fail;
    *status = 1;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->epfd < 0 || s->tfd < 0) {
        snprintf(err, errlen, "cannot start the loop: %s", strerror(errno));
        goto fail;
    }
    if (db__listen(&s->listener, cfg->listen, err, errlen) < 0)
        goto fail;
    if (add_watch(s, s->tfd, &s->tfd) < 0 || add_watch(s, cfg->stop_fd, &s->cfg.stop_fd) < 0) {
        snprintf(err, errlen, "cannot start the loop: %s", strerror(errno));
        goto fail;
    }
    set_accepting(s, true);
    *out = s;
    return 0;
fail:
    db__server_close(s);
    return -1;
}

const char *db__server_addr(const struct db__server *s)
{
    return s->listener.addr;
}

int db__server_run(struct db__server *s)
{
    struct epoll_event evs[DB__MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(s->epfd, evs, DB__MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &s->cfg.stop_fd)
                return 0;
            if (tag == &s->tfd) {
                uint64_t expirations;
                if (read(s->tfd, &expirations, sizeof(expirations)) > 0)
                    s->armed = 0;
            } else if (tag == &s->listener) {
                on_accept(s);
            } else {
                on_conn_event(s, tag, evs[i].events);
            }
            fire_due(s);
            flush_dirty(s);
        }
        reap_dead(s);
        arm_timer(s);
    }
}

void db__server_close(struct db__server *s)
{
    if (!s)
        return;
    while (s->conns)
        free_conn(s, s->conns);
    db__listener_close(&s->listener);
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->epfd >= 0)
        close(s->epfd);
    db__store_close(s->store);
    heap_free(&s->heap);
    free(s);
}

void db__server_counts(const struct db__server *s, uint64_t *answered, uint64_t *dropped)
{
    *answered = s->answered;
    *dropped = s->dropped;
}
