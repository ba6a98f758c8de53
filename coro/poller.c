/* epoll behind five small functions, so the rest of the engine never names
 * an epoll call and errors come back as -errno like everything else. */
#include <errno.h>
#include <sys/epoll.h>

#include "coro_int.h"

int coro__poll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int ctl(int epfd, int op, int fd, uint32_t events, struct watch *w)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

int coro__poll_add(int epfd, int fd, uint32_t events, struct watch *w)
{
    return ctl(epfd, EPOLL_CTL_ADD, fd, events, w);
}

int coro__poll_mod(int epfd, int fd, uint32_t events, struct watch *w)
{
    return ctl(epfd, EPOLL_CTL_MOD, fd, events, w);
}

int coro__poll_del(int epfd, int fd)
{
    return ctl(epfd, EPOLL_CTL_DEL, fd, 0, NULL);
}

/* Events ready (0 after a timeout or a signal), or -errno. */
int coro__poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)
{
    int n = epoll_wait(epfd, events, max, timeout_ms);
    return n >= 0 ? n : errno == EINTR ? 0 : -errno;
}
