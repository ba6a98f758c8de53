/* The poller: epoll behind five small functions, as redis keeps its backend
 * in ae_epoll.c. Nothing else in the engines names an epoll call, and errors
 * come back as -errno like everything else. */
#include <errno.h>
#include <sys/epoll.h>

#include "evloop.h"

int evloop_poll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int poll_ctl(int epfd, int op, int fd, uint32_t events, struct evloop_watch *w)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int evloop_poll_add(int epfd, int fd, uint32_t events, struct evloop_watch *w)
{
    return poll_ctl(epfd, EPOLL_CTL_ADD, fd, events, w);
}

int evloop_poll_mod(int epfd, int fd, uint32_t events, struct evloop_watch *w)
{
    return poll_ctl(epfd, EPOLL_CTL_MOD, fd, events, w);
}

int evloop_poll_del(int epfd, int fd)
{
    return poll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, NULL);
}

int evloop_poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)
{
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n;
}
