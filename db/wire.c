/* What both ends of a database connection do with its socket, beside the
 * codec: parse a `unix:/PATH` or `tcp:HOST:PORT` address (the clients
 * connect to it, listen.c binds it) and queue outgoing frames, writing what
 * the socket takes (the clients' queries, the server's answers). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "proc.h"

/* ---- addresses ---- */

static int parse_unix(const char *path, struct db__addr *out)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(un->sun_path))
        return -EINVAL;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len + 1);
    out->family = AF_UNIX;
    out->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

/* tcp:HOST:PORT, tcp::PORT or tcp:PORT; HOST may be [v6]. A missing HOST is
 * 127.0.0.1: the database listens on loopback unless told otherwise. */
static int parse_tcp(const char *text, struct db__addr *out)
{
    char host[256] = "127.0.0.1";
    const char *port = text, *colon = strrchr(text, ':');
    if (colon == text)
        port = text + 1;
    else if (colon && proc_split_addr(text, host, sizeof(host), &port) < 0)
        return -EINVAL;
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return -EINVAL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    memcpy(&out->sa, ai->ai_addr, ai->ai_addrlen);
    out->salen = ai->ai_addrlen;
    out->family = ai->ai_family;
    freeaddrinfo(ai);
    return 0;
}

int db__parse_addr(const char *addr, struct db__addr *out)
{
    memset(out, 0, sizeof(*out));
    if (!strncmp(addr, "unix:", 5))
        return parse_unix(addr + 5, out);
    if (!strncmp(addr, "tcp:", 4))
        return parse_tcp(addr + 4, out);
    return -EINVAL;
}

/* ---- the outgoing byte queue every connection keeps ---- */

int db__outq_reserve(struct db__outq *q, size_t n)
{
    if (q->sent == q->len)
        q->sent = q->len = 0;
    if (q->cap - q->len >= n)
        return 0;
    if (q->sent > 0) { /* the written bytes make room before the buffer grows */
        memmove(q->buf, q->buf + q->sent, q->len - q->sent);
        q->len -= q->sent;
        q->sent = 0;
    }
    return proc_grow(&q->buf, &q->cap, q->len, n, DB__OUTQ_MIN);
}

int db__outq_write(struct db__outq *q, int fd)
{
    while (q->sent < q->len) {
        ssize_t n = send(fd, q->buf + q->sent, q->len - q->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        q->sent += (size_t)n;
    }
    return 0;
}
