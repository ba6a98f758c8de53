/* Where `overlap db` listens: a Unix socket at a given path or in a fresh
 * private directory, or a TCP port. The listener remembers what it created
 * (the socket file, the directory) so that closing it removes exactly that
 * and never a path that was someone else's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "proc.h"

#define SOCKET_NAME "db.sock"

/* A private 0700 directory for the socket, removed again at close. */
static int make_private_dir(struct db__listener *l, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(l->dir, sizeof(l->dir), "%s/overlap-db-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(l->dir)) { /* mkdtemp makes it 0700 */
        snprintf(err, errlen, "cannot make a private directory: %s", strerror(errno));
        return -1;
    }
    l->made_dir = true;
    snprintf(l->path, sizeof(l->path), "%s/" SOCKET_NAME, l->dir);
    return 0;
}

/* Connects to the socket at a without blocking: 0 when a server is there
 * (it accepted, or its backlog is full), else -errno; -ECONNREFUSED means
 * nothing listens on the socket any more. */
static int probe(const struct db__addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0 && errno != EAGAIN)
        rc = -errno;
    close(fd);
    return rc;
}

/* A database killed with SIGKILL leaves its socket file behind, and bind(2)
 * then fails with EADDRINUSE though nobody listens. So, as daemons do, what
 * is at the path is probed first: a socket whose connect is refused is stale
 * and removed; a live one, or anything that is not a socket, is left alone
 * and the start refused. 0 when the path is free to bind, or -1 with a
 * message in err. Two databases starting at the same instant still race
 * between probe and bind; bind's EADDRINUSE then stops the later one. */
static int clear_stale_socket(const struct db__addr *a, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0; /* nothing there, or unreachable: bind says which */
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot listen: the path exists and is not a socket", path);
        return -1;
    }
    int rc = probe(a);
    if (rc == 0)
        snprintf(err, errlen, "another database is listening on unix:%s", path);
    else if (rc != -ECONNREFUSED)
        snprintf(err, errlen, "%s: cannot listen: a socket is there (%s)", path, strerror(-rc));
    else if (unlink(path) < 0 && errno != ENOENT)
        snprintf(err, errlen, "%s: cannot remove a stale socket: %s", path, strerror(errno));
    else
        return 0;
    return -1;
}

/* With path NULL, the socket goes into a fresh private directory. */
static int listen_unix(struct db__listener *l, const char *path, char *err, size_t errlen)
{
    struct db__addr a;
    if (!path && make_private_dir(l, err, errlen) < 0)
        return -1;
    /* a path cut to fit would be another path: listened on, then unlinked */
    if (path && (size_t)snprintf(l->path, sizeof(l->path), "%s", path) >= sizeof(l->path))
        l->path[0] = '\0';
    snprintf(l->addr, sizeof(l->addr), "unix:%s", l->path);
    if (db__parse_addr(l->addr, &a) < 0) {
        snprintf(err, errlen, "%s: a socket path is 1 to %zu bytes", path ? path : l->path,
                 sizeof(l->path) - 1);
        l->path[0] = '\0';
        return -1;
    }
    if (clear_stale_socket(&a, l->path, err, errlen) < 0) {
        l->path[0] = '\0'; /* not ours: never unlink it */
        return -1;
    }
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a.sa, a.salen) < 0) {
        snprintf(err, errlen, "%s: cannot listen: %s", l->path, strerror(errno));
        l->path[0] = '\0'; /* not ours: never unlink it */
        return -1;
    }
    return 0;
}

/* Writes the bound address, with the port the kernel picked for port 0. */
static void name_tcp(struct db__listener *l, const struct db__addr *a)
{
    char host[INET6_ADDRSTRLEN];
    if (a->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(l->addr, sizeof(l->addr), "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(l->addr, sizeof(l->addr), "tcp:%s:%u", host, ntohs(in->sin_port));
    }
}

static int listen_tcp(struct db__listener *l, const char *addr, char *err, size_t errlen)
{
    struct db__addr a;
    int one = 1;
    if (db__parse_addr(addr, &a) < 0) {
        snprintf(err, errlen, "bad address '%s' (expected tcp:HOST:PORT)", addr);
        return -1;
    }
    l->fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(l->fd, (struct sockaddr *)&a.sa, a.salen) < 0 ||
        getsockname(l->fd, (struct sockaddr *)&a.sa, &a.salen) < 0) {
        snprintf(err, errlen, "%s: cannot listen: %s", addr, strerror(errno));
        return -1;
    }
    name_tcp(l, &a);
    return 0;
}

int db__listen(struct db__listener *l, const char *addr, char *err, size_t errlen)
{
    int rc;
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (!addr)
        rc = listen_unix(l, NULL, err, errlen);
    else if (!strncmp(addr, "unix:", 5))
        rc = listen_unix(l, addr + 5, err, errlen);
    else if (!strncmp(addr, "tcp:", 4))
        rc = listen_tcp(l, addr, err, errlen);
    else {
        snprintf(err, errlen, "bad address '%s' (expected unix:PATH or tcp:HOST:PORT)", addr);
        return -1;
    }
    if (rc == 0 && listen(l->fd, PROC_BACKLOG) < 0) {
        snprintf(err, errlen, "%s: cannot listen: %s", l->addr, strerror(errno));
        rc = -1;
    }
    return rc;
}

void db__listener_close(struct db__listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->path[0])
        unlink(l->path);
    l->path[0] = '\0';
    if (l->made_dir)
        rmdir(l->dir);
    l->made_dir = false;
}
