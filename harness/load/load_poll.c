/* The generator's poller, in the manner of redis's ae_epoll.c: the only file
 * that speaks epoll. A loop waits with nanosecond deadlines (epoll_pwait2),
 * since open-loop send times are finer than a millisecond. */
#define _GNU_SOURCE
#include "load_poll.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

int load__poll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Interest in readable always, in writable when asked. */
static int control(int ep, int op, int fd, bool writable, void *data)
{
    struct epoll_event ev = {.events = EPOLLIN | (writable ? EPOLLOUT : 0), .data.ptr = data};
    return epoll_ctl(ep, op, fd, &ev) < 0 ? -errno : 0;
}

int load__poll_add(int ep, int fd, bool writable, void *data)
{
    return control(ep, EPOLL_CTL_ADD, fd, writable, data);
}

int load__poll_modify(int ep, int fd, bool writable, void *data)
{
    return control(ep, EPOLL_CTL_MOD, fd, writable, data);
}

int load__poll_wait(int ep, struct load_poll_event *out, int max, uint64_t wait_ns)
{
    struct epoll_event ev[LOAD_POLL_MAX_EVENTS];
    struct timespec ts = proc_timespec(wait_ns);
    if (max > LOAD_POLL_MAX_EVENTS)
        max = LOAD_POLL_MAX_EVENTS;
    int n = epoll_pwait2(ep, ev, max, &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        out[i].data = ev[i].data.ptr;
        out[i].readable = ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR);
        out[i].writable = ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    }
    return n;
}

void load__poll_destroy(int ep)
{
    if (ep >= 0)
        close(ep);
}
