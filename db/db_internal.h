/* What the db module's own files share and nothing outside it needs: the
 * wire layout's constants, big-endian field helpers, what both ends of a
 * connection do with its socket (wire.c: addresses, the outgoing queue), the
 * listener, the store and the server's entry points. Names carry the
 * internal prefix db__. */
#ifndef OVERLAP_DB_INTERNAL_H
#define OVERLAP_DB_INTERNAL_H

#include <endian.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "db.h"

/* Every frame: u32 length of what follows, u8 kind, u32 tag. */
#define DB__LEN_BYTES    4
#define DB__HEADER_BYTES 9     /* length, kind, tag */
#define DB__QUERY_HEAD   13    /* header, u16 query, u16 nparams */
#define DB__RESULT_HEAD  18    /* header, u8 status, u32 ncols, u32 nrows */
#define DB__ERROR_HEAD   12    /* header, u8 status, u16 message length */
#define DB__READ_CHUNK   16384 /* room offered to each read(2) */

static inline void db__put_u16(uint8_t *p, uint16_t v)
{
    v = htobe16(v);
    memcpy(p, &v, 2);
}

static inline void db__put_u32(uint8_t *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, 4);
}

static inline void db__put_u64(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, 8);
}

static inline uint16_t db__get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return be16toh(v);
}

static inline uint32_t db__get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return be32toh(v);
}

static inline uint64_t db__get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

/* Bytes one typed value takes on the wire, and writing it (p has room). */
size_t db__value_size(const struct db_value *v);
uint8_t *db__put_value(uint8_t *p, const struct db_value *v);

/* ---- wire.c: what the clients (client.c) and the server (server.c,
 * listen.c) both do with a socket ---- */

#define DB__OUTQ_MIN 1024 /* an outgoing queue's first size: a few small frames */

/* Bytes waiting to be written to a socket; unsent bytes are buf[sent, len). */
struct db__outq {
    uint8_t *buf;
    size_t sent, len, cap;
};

/* Room for n more bytes at buf + len: 0 or -ENOMEM. */
int db__outq_reserve(struct db__outq *q, size_t n);
/* Writes what the socket takes: 0 when all is written, -EAGAIN when some is
 * left, another -errno when the connection is dead. */
int db__outq_write(struct db__outq *q, int fd);

/* A parsed `unix:/PATH` or `tcp:HOST:PORT` (HOST optional: 127.0.0.1). */
struct db__addr {
    int family; /* AF_UNIX or AF_INET/AF_INET6 */
    struct sockaddr_storage sa;
    socklen_t salen;
};

/* Parses and resolves addr. 0, or -EINVAL for a malformed address or
 * -EHOSTUNREACH when the host does not resolve. */
int db__parse_addr(const char *addr, struct db__addr *out);

/* ---- listen.c ---- */

/* sun_path's size: the longest Unix socket path is one byte shorter. */
#define DB__SUN_PATH sizeof(((struct sockaddr_un *)0)->sun_path)

/* The listening socket, and what closing it removes: the Unix socket file
 * and the private directory only when this listener made them. */
struct db__listener {
    int fd;                       /* -1 when not listening */
    bool made_dir;                /* dir is ours to remove */
    char addr[DB__SUN_PATH + 16]; /* as printed after `listening ` */
    char path[DB__SUN_PATH];      /* the Unix socket to unlink, or "" */
    char dir[DB__SUN_PATH];
};

/* Listens on `unix:PATH`, `tcp:HOST:PORT`, or (addr NULL) a Unix socket in
 * a fresh private 0700 directory. 0, or -1 with a message in err; l can be
 * closed either way. */
int db__listen(struct db__listener *l, const char *addr, char *err, size_t errlen);
/* Closes the socket and removes what the listener made. */
void db__listener_close(struct db__listener *l);

/* The SQLite side: one connection, the dataset, a prepared statement per
 * query of the workload. */
struct db__store;

/* A response frame built by the store: data stays valid until its next run. */
struct db_frame_out {
    const uint8_t *data;
    size_t size;
    enum db_status status;
};

/* Opens the database (file NULL: in memory), builds the dataset or runs the
 * init script when the database is fresh, and prepares every query. -1 with
 * `FILE:LINE: ...` in err and *status 2 for the user's input, 1 otherwise. */
int db__store_open(const struct wl_workload *wl, const char *file, uint64_t seed,
                   struct db__store **out, char *err, size_t errlen, int *status);
void db__store_close(struct db__store *st);
/* Checks and runs one decoded query: a result frame, or an error frame for
 * an unknown id, wrong params, an SQL error or a result over the limits. */
const struct db_frame_out *db__store_run(struct db__store *st, const struct db_query *q,
                                         struct db_frame_out *fo);

/* Fault injection, for the reliability tests: each drawn per query from the
 * server's seeded generator. */
struct db__faults {
    double fail_rate;  /* answer an error frame instead of the rows */
    double stall_rate; /* hold the answer stall_ns longer than sampled */
    uint64_t stall_ns;
    double close_rate; /* close the connection when the answer is due */
};

/* Runs on the server's thread as each held answer falls due and leaves
 * (queued for writing, or its connection closed by an injected fault), with
 * its deadline, the time it left, and how many answers were held at that
 * moment, it included. An answer due on arrival is never held and never
 * reported. The bench records lateness through it. */
typedef void (*db__on_due)(void *ctx, uint64_t deadline, uint64_t now, size_t held);

/* What the server needs to start; set once by db_main or the bench. */
struct db__server_config {
    const struct wl_workload *wl;
    const char *listen; /* NULL: a Unix socket in a fresh private directory */
    const char *file;   /* NULL: in memory */
    uint64_t seed;
    struct db__faults faults;
    db__on_due on_due; /* NULL: nothing is reported */
    void *on_due_ctx;
    int stop_fd; /* readable once: stop (a signalfd or an eventfd) */
};

struct db__server;

/* Opens SQLite, builds the dataset, prepares the queries and listens. On
 * failure returns -1 with a message in err; *status is the exit status to
 * leave with (2 for the user's input, 1 for the system). */
int db__server_open(const struct db__server_config *cfg, struct db__server **out, char *err,
                    size_t errlen, int *status);
/* The address clients connect to, as printed after `listening `. */
const char *db__server_addr(const struct db__server *s);
/* Runs the loop until stop_fd is readable. 0, or -errno on a fatal error. */
int db__server_run(struct db__server *s);
/* Closes every connection, unlinks the socket (and its directory when the
 * server made it) and frees everything. */
void db__server_close(struct db__server *s);
/* Frames sent (results and errors), and held answers dropped because their
 * client left or lost framing. Read once the loop has stopped. */
void db__server_counts(const struct db__server *s, uint64_t *answered, uint64_t *dropped);

/* `overlap db --bench`. */
int db__bench_main(double seconds, uint64_t seed);

#endif
