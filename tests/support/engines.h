/* What the per-engine suites share: a private directory holding the suite's
 * workload and data, an `overlap db` and an `overlap serve` for each engine
 * named in OVERLAP_ENGINES, and a small HTTP client that knows nothing of the
 * server's code. Failed checks name the engine they ran against. */
#ifndef OVERLAP_TEST_ENGINES_H
#define OVERLAP_TEST_ENGINES_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "child.h"

#define START_MS 20000 /* a sanitized build starts slowly on a loaded machine */
/* A server's own bound on a stop is --db-timeout (5 s) plus 5 s of grace for
 * requests in flight; a TSan-built one on a loaded machine needs room past
 * that to exit. A stop that takes this long is a hang, and its threads are
 * printed (child_stop). */
#define STOP_MS     30000
#define IO_TIMEOUT  10  /* seconds a client waits for any one reply */
#define MAX_CLIENTS 512 /* open at once; the largest test holds 200 */

/* The first variadic argument is always the engine's name: `engine`. */
#define CHECK(cond, ...)    cr_assert(cond, "[%s] " __VA_ARGS__)
#define CHECK_EQ(a, b, ...) cr_assert_eq(a, b, "[%s] " __VA_ARGS__)

/* The database behind a suite's servers. */
enum suite_backend {
    BACKEND_DB = 0, /* `overlap db`, started for each test's engines */
    BACKEND_PG,     /* `overlap pg`, started once by the first start_db and
                     * kept until suite_fini; db.addr is its URI */
};

#define PG_START_MS 60000 /* a cluster starts in 3 to 5 s; a loaded machine takes longer */

/* What a suite runs on. The strings must outlive the suite. */
struct suite_spec {
    const char *workload_ini; /* written to w.ini; its database reads data.sql */
    const char *data_sql;
    const char *const *db_flags; /* given to every `overlap db`, or NULL */
    enum suite_backend backend;
    int pg_connections; /* BACKEND_PG: the budget, overlap pg --connections (default 40) */
};

/* The suite's state: its directory, its two children, and the engine under
 * test while each_engine or next_engine runs. Set here, read by the tests. */
extern char suite_dir[256];
extern struct child db, srv;
extern const char *engine;

/* Called from a suite's .init: ignores SIGPIPE, makes the private directory
 * and writes the workload and its data there. suite_fini is the .fini: it
 * closes the clients a failed check left open and stops both children. */
void suite_start(const struct suite_spec *spec);
void suite_fini(void);

/* Starts `overlap db` on the suite's socket with the suite's db_flags, then
 * faults (fault flags, or NULL). With BACKEND_PG, starts `overlap pg` instead
 * unless it is running (faults must be NULL). */
void start_db(const char *const *faults);

/* Starts `overlap serve` for the current engine in front of the database at
 * db_addr (the suite's own when NULL: its socket, or overlap pg's URI); extra flags come after the
 * engine's and win, except the flags that make a config what it is (`--workers 0` of pool-threads).
 */
void start_server(const char *db_addr, const char *const *extra);

/* SIGTERM, and checks that the server ended with status 0. */
void stop_server(void);

/* The engine configs the suites run, named in OVERLAP_ENGINES, separated by
 * commas (default: all seven):
 *   pool-leader      --engine pool --pool-mode leader (the server's default mode)
 *   pool-request     --engine pool --pool-mode request
 *   pool-connection  --engine pool --pool-mode connection, 8 workers
 *   pool-threads     --engine pool --pool-mode connection --workers 0: a thread
 *                    per connection
 *   async, coro      --engine async or coro, --loops 2
 *   uring            --engine uring, --loops 2 (io_uring: refused by the
 *                    machine, its server does not start and the test fails)
 * An unknown name fails the test that reads the list, naming the valid ones.
 * next_engine gives them one per call: sets engine and returns true, false
 * after the last. Starts from a zeroed list. */
struct engine_list {
    char names[256];
    char *save;
    bool started;
};
bool next_engine(struct engine_list *list);

/* How many different configs OVERLAP_ENGINES names (checked as next_engine
 * checks them). */
int engine_count(void);

/* Runs check once per engine, each with a fresh server (flags extra) in front
 * of one database started with the fault flags faults (none when NULL); an
 * `overlap db` is stopped after the last, an `overlap pg` kept. */
void each_engine(void (*check)(void), const char *const *faults, const char *const *extra);

/* ---- the client ---- */

struct client {
    int fd;
    size_t len; /* bytes read into buf and not yet taken as a response */
    char buf[1 << 16];
};

struct response {
    int status;
    char head[8192];
    char body[1 << 15];
    size_t body_len;
};

/* A connection to the server under test. Open clients are closed by
 * suite_fini when a check fails midway. */
struct client *client_open(void);
void client_close(struct client *c);
void close_all_clients(void);

void send_bytes(struct client *c, const void *p, size_t n);
void send_str(struct client *c, const char *s);

/* Reads more bytes: their count, 0 at EOF, -1 on error or timeout. */
ssize_t read_more(struct client *c);

/* The value of header name in a response head (copied into val), or NULL. */
const char *header(const struct response *r, const char *name, char *val, size_t cap);

/* Whether v is exactly an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC
 * 9110 5.6.7) naming a real day and time; then *t is its time. Checked on its
 * own, with none of the server's code. */
bool parse_imf_fixdate(const char *v, time_t *t);

/* Reads one whole response: true, or false when the connection ended or
 * timed out first. Every response must carry a well-formed Date; its value
 * changes with the clock, so no check may compare it with another's. A
 * response to a HEAD request (head_request) has no body whatever its
 * Content-Length says. read_response checks it came. */
bool try_read_response(struct client *c, struct response *r, bool head_request);
void read_response(struct client *c, struct response *r, bool head_request);

/* GET path and its response, which the next call overwrites. */
struct response *get(struct client *c, const char *path);

/* Reads until the server closes: true at EOF or reset, false on a timeout. */
bool ends_eventually(struct client *c);

/* The interim response a server sends to Expect: 100-continue. */
#define CONTINUE_100 "HTTP/1.1 100 Continue\r\n\r\n"

/* Waits up to ms for a whole response head at the front of what the server
 * sent. True if it is exactly CONTINUE_100, which is then taken off; false,
 * taking nothing, for any other head or when none came in time. */
bool take_continue(struct client *c, int ms);

#endif
