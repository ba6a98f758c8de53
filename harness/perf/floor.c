/* overlap-floor: the least an epoll server can do per /plaintext request, the
 * floor `make bench-peers` holds the engines against. One thread, one read and
 * one write of canned responses per readable socket, no parsing: it counts
 * the requests that ended ("\r\n\r\n") and answers each with the bytes
 * overlap sends for /plaintext, Date field included (--no-date for an
 * overlap that sends none).
 *
 * usage: overlap-floor [--listen HOST:PORT] [--no-date]   (default 127.0.0.1:0)
 * Prints `listening HOST:PORT` once bound; stops on SIGTERM or SIGINT. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* overlap's /plaintext response, byte for byte; the Date value (29 bytes,
 * IMF-fixdate) is written over the placeholder once a second. --no-date
 * leaves the field out, for an overlap that sends none. */
#define STATUS_LINE "HTTP/1.1 200 OK\r\n"
#define DATE_FIELD  "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
#define REST        "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
#define CANNED_MAX  (sizeof(STATUS_LINE DATE_FIELD REST) - 1)
#define DATE_OFFSET (sizeof(STATUS_LINE "Date: ") - 1)
#define DATE_LEN    29
#define READ_MAX    16384          /* one read; a request is at least its 4-byte "\r\n\r\n" */
#define COPIES      (READ_MAX / 4) /* so one read's requests never outnumber the copies */
#define MAX_FDS     65536          /* descriptors past this are refused */
#define MAX_EVENTS  256

/* Per connection, indexed by descriptor. owed is the tail of the responses
 * not yet written; while it is not 0 the socket is watched for EPOLLOUT only
 * (writing), so no new requests are read behind an unfinished write. */
struct conn {
    uint8_t matched; /* bytes of "\r\n\r\n" seen at the end of the last read */
    uint8_t writing;
    size_t owed;
};

static char out[COPIES * CANNED_MAX]; /* COPIES responses back to back */
static size_t canned_len = CANNED_MAX;
static struct conn conns[MAX_FDS];
static time_t date_second = -1;

/* Writes the current second into every copy's Date field when it has
 * changed: a vDSO time() per batch and 4,096 copies once a second. A tail
 * still owed to a slow client may then carry the new second: same length. */
static void refresh_date(void)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char text[DATE_LEN + 1];
    struct tm tm;
    time_t now = time(NULL);
    if (canned_len < CANNED_MAX || now == date_second || !gmtime_r(&now, &tm))
        return;
    snprintf(text, sizeof(text), "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT", days + 3 * tm.tm_wday,
             tm.tm_mday, months + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    for (size_t i = 0; i < COPIES; i++)
        memcpy(out + i * canned_len + DATE_OFFSET, text, DATE_LEN);
    date_second = now;
}

/* Requests ended in buf[0..n), "\r\n\r\n" matched across reads. */
static size_t count_requests(struct conn *c, const char *buf, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == end[c->matched])
            c->matched++;
        else
            c->matched = buf[i] == '\r'; /* the only prefix a mismatch can start */
        if (c->matched == 4) {
            count++;
            c->matched = 0;
        }
    }
    return count;
}

static void drop(int fd)
{
    memset(&conns[fd], 0, sizeof(conns[fd]));
    close(fd);
}

/* Writes what fd is owed in one write: the owed bytes are the tail of whole
 * responses, so they start (len - owed % len) % len bytes into the copies.
 * A short write (the client's window full) switches the watch to EPOLLOUT
 * until the rest is out, which loopback load rarely needs. */
static void flush(int epfd, int fd)
{
    struct conn *c = &conns[fd];
    ssize_t n = write(fd, out + (canned_len - c->owed % canned_len) % canned_len, c->owed);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop(fd);
        return;
    }
    c->owed -= n > 0 ? (size_t)n : 0;
    if ((c->owed != 0) != c->writing) {
        struct epoll_event ev = {.events = c->owed ? EPOLLOUT : EPOLLIN, .data.fd = fd};
        c->writing = c->owed != 0;
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
}

static void on_readable(int epfd, int fd)
{
    char buf[READ_MAX];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(fd);
        return;
    }
    size_t count = n > 0 ? count_requests(&conns[fd], buf, (size_t)n) : 0;
    if (count == 0)
        return;
    refresh_date();
    conns[fd].owed = count * canned_len;
    flush(epfd, fd);
}

static void on_acceptable(int epfd, int lfd)
{
    int fd, one = 1;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* as overlap does */
        if (fd >= MAX_FDS || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            close(fd);
    }
}

/* The listening socket for HOST:PORT (IPv4), bound port printed. -1 on error. */
static int listen_on(const char *addr)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int one = 1, fd = -1;
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        goto fail;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        goto fail;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        goto fail;
    printf("listening %s:%u\n", host, ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
fail:
    fprintf(stderr, "overlap-floor: cannot listen on '%s' (expected IPv4:PORT): %s\n", addr,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* SIGTERM and SIGINT as a descriptor the loop watches, so a stop cannot
 * slip in between a check of a flag and epoll_wait. */
static int stop_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an EPIPE, not a death */
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:0", *canned = STATUS_LINE DATE_FIELD REST;
    struct epoll_event evs[MAX_EVENTS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "--no-date"))
            canned = STATUS_LINE REST;
        else
            return fprintf(stderr, "usage: overlap-floor [--listen HOST:PORT] [--no-date]\n"), 2;
    }
    canned_len = strlen(canned);
    for (size_t i = 0; i < COPIES; i++)
        memcpy(out + i * canned_len, canned, canned_len);
    refresh_date();
    int sfd = stop_fd(), lfd = listen_on(addr), epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ls = {.events = EPOLLIN, .data.fd = lfd},
                       ss = {.events = EPOLLIN, .data.fd = sfd};
    if (sfd < 0 || lfd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ls) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ss) < 0)
        return 1;
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd)
                return 0;
            if (fd == lfd)
                on_acceptable(epfd, lfd);
            else if (conns[fd].writing)
                flush(epfd, fd);
            else
                on_readable(epfd, fd);
        }
    }
}
