/* The HTTP/1.1 layer every engine shares (pool, async, coro): a zero-copy
 * request-head parser, the routes of a workload, the response writer and the
 * body renderers. Nothing here does I/O or takes a lock: an engine feeds it
 * bytes and sends what it writes, so the three engines answer byte for byte
 * the same but for the value of Date. http/README.md gives each choice with
 * its RFC section. Apart from that layer, serve.c parses `overlap serve`'s
 * flags (it loads the workload and pins the process). */
#ifndef OVERLAP_HTTP_H
#define OVERLAP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "db.h"
#include "serve.h"
#include "wl.h"

/* Limits, each with its reason. */
#define HTTP_MAX_HEAD    8192 /* a request head larger than this gets 431, as nginx's default */
#define HTTP_MAX_HEADERS 100  /* more header lines than this get 431 too */
#define HTTP_MAX_PHASES  (WL_MAX_STEPS + 1) /* the queue, then one phase per step */
/* RFC 9112 3 recommends that every recipient take request lines of at least
 * 8000 octets (CR LF not counted); a longer one, or one that does not end
 * within HTTP_MAX_HEAD, gets 414. It leaves the rest of the head for fields. */
#define HTTP_MAX_REQUEST_LINE 8000
/* Responses to pipelined requests batch in a connection's output up to this
 * before a write, so a burst of small answers (a /plaintext one is about 150
 * bytes) leaves in one system call; past it the connection takes no further
 * request until the output is written (back-pressure), so a client that
 * pipelines without reading cannot make the server buffer without end. */
#define HTTP_OUT_FLUSH_AT 65536

/* ---- an HTTP outcome: one convention for every engine ----
 * A function whose work may end in an HTTP status to answer with (here, and
 * in the engines: a query step, a request's steps) returns that status
 * negated, -404 or -503; 0 or a positive value is no status (a length, a
 * request type, HTTP_PARTIAL, done). The only other negative value is HTTP_ROUTE_PLAINTEXT
 * (-1), which no status negates to. A status kept for later (async's
 * job->error) and the one handed to http_write_error is the status itself,
 * positive. */

/* ---- parsing a request head ---- */

struct http_request {
    const char *method, *path; /* point into the caller's buffer, not NUL-terminated */
    size_t method_len, path_len;
    int minor;               /* HTTP/1.minor: 0 or 1 */
    bool keep_alive;         /* after this request: from the version and Connection */
    bool head;               /* HEAD: the response carries no body */
    uint64_t content_length; /* body bytes after the head, to be read and discarded */
    /* `Expect: 100-continue` on an HTTP/1.1 request with a body (RFC 9110
     * 10.1.1; HTTP/1.0 ignores it). An engine that has parsed a head with
     * expect_continue and has not yet received the whole body sends 100
     * Continue (http_write_continue) before reading the body; it answers only
     * after the body has been read and discarded. */
    bool expect_continue;
};

/* HTTP_PARTIAL while the head is incomplete and under HTTP_MAX_HEAD. */
#define HTTP_PARTIAL 0

/* Parses the request head at the start of buf[0, len). Returns its length in
 * bytes (> 0) with *req filled, HTTP_PARTIAL if more bytes are needed, or a
 * negated status (see above): -400 malformed (an invalid or repeated Host included),
 * -414 request line over HTTP_MAX_REQUEST_LINE, -417 an expectation other
 * than 100-continue, -431 head or header count over the limits, -501
 * Transfer-Encoding. Never reads past len and never allocates; a request
 * split at any byte parses the same once whole. After any error the
 * connection must be closed once the error response is written. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* ---- routes ---- */

#define HTTP_ROUTE_PLAINTEXT (-1) /* GET /plaintext: "Hello, World!", no work */

/* What a parsed request gets: a request type's index (>= 0) for GET /NAME,
 * HTTP_ROUTE_PLAINTEXT, or a negated status: -405 for a method other than GET
 * or HEAD, -404 for an unknown path. A query string (`?…`) is ignored. */
int http_route(const struct wl_workload *wl, const struct http_request *req);

/* ---- output buffers ---- */

/* A growable byte buffer; one per connection (responses) and per request
 * (the body). Reused across requests, so the hot path stops allocating once
 * it has grown to the largest response. */
struct http_buf {
    char *data;
    size_t len, cap;
};

void http_buf_init(struct http_buf *b);
void http_buf_free(struct http_buf *b);
/* Room for n more bytes at data + len: 0 or -ENOMEM. */
int http_buf_reserve(struct http_buf *b, size_t n);
int http_buf_append(struct http_buf *b, const void *data, size_t n); /* 0 or -ENOMEM */
/* Drops the first n bytes (written to the socket), keeping the rest. */
void http_buf_consume(struct http_buf *b, size_t n);

/* ---- bodies ---- */

/* A workload request's body is built in three moves, whatever the engine:
 * begin, one add per query step in step order, end. JSON (the default):
 *   {"request":"home","results":[{"query":"world","rows":[[4174,331]]}]}
 * one results entry per executed query, rows as arrays of column values
 * (integers, reals as %.17g, strings JSON-escaped, null). HTML (render = html):
 * a page with one table per query, every text value HTML-escaped. */
int http_body_begin(struct http_buf *body, const struct wl_workload *wl, int request);
int http_body_add(struct http_buf *body, const struct wl_workload *wl, int request, int query,
                  const struct db_result *res);
int http_body_end(struct http_buf *body, const struct wl_workload *wl, int request);
/* The Content-Type of a request type's body. */
const char *http_content_type(const struct wl_workload *wl, int request);

/* ---- responses ---- */

/* Every response below starts with the status line and `Date` (RFC 9110
 * 6.6.1, IMF-fixdate), formatted at most once a second by each thread. */

/* Appends a whole response to out: the status line, Date, Content-Type,
 * Content-Length, `Connection: close` when !keep_alive (`Connection:
 * keep-alive` when keep_alive and the request was HTTP/1.0), then
 * `Server-Timing` when nphases > 0, then the body unless head_only.
 * Server-Timing lists the phases in order with durations in ms to the
 * microsecond: `queue;dur=0.012, cpu;dur=0.501, db;dur=10.087, cpu;dur=0.500`.
 * phase_ns[0] is the queue (from the head being complete to the first step
 * starting), phase_ns[1 + i] the duration of step i of request type
 * `request`, whose kind names the phase. When the request type has a `cpu`
 * step, a last metric `cpu-time;dur=0.998` follows the phases: cpu_time_ns,
 * the thread CPU time its cpu steps took (what wl_burn returned), so a client
 * can tell the workload's own CPU from the wall time its steps took and from
 * the server's total. It is a measure, not a phase of the timeline.
 * 0 or -ENOMEM. */
int http_write_response(struct http_buf *out, const struct http_request *req, int status,
                        const char *content_type, const struct wl_workload *wl, int request,
                        const uint64_t *phase_ns, int nphases, uint64_t cpu_time_ns,
                        bool keep_alive, const void *body, size_t body_len);

/* Appends an error response with a short text/plain body, `404 Not Found\n`
 * or with a reason `503 Service Unavailable: database unreachable\n`. req may
 * be NULL when the head did not parse (then it is treated as HTTP/1.1 GET).
 * 405 carries `Allow: GET, HEAD`. 0 or -ENOMEM. */
int http_write_error(struct http_buf *out, const struct http_request *req, int status,
                     const char *reason, bool keep_alive);

/* Appends the response to GET /plaintext: `Hello, World!` as text/plain. */
int http_write_plaintext(struct http_buf *out, const struct http_request *req, bool keep_alive);

/* Appends the interim `HTTP/1.1 100 Continue\r\n\r\n` and nothing else, for a
 * head with expect_continue (see struct http_request). 0 or -ENOMEM. */
int http_write_continue(struct http_buf *out);

/* The reason phrase of a status code ("OK", "Not Found", ...). */
const char *http_status_text(int status);

/* ---- `overlap serve`'s flags (serve.c): the front door every engine shares ---- */

/* Parses `overlap serve` flags (argv[0] is "serve") into cfg (proc/serve.h),
 * loads the workload and pins the process. Returns 0, or -1 with *status the
 * exit status to leave with (0 after --help, 2 after a usage or workload
 * error, message already printed). */
int serve_parse_args(int argc, char **argv, struct serve_config *cfg, int *status);
/* Frees the workload serve_parse_args loaded. */
void serve_config_free(struct serve_config *cfg);

/* ---- internals, declared here for the tests ---- */

#define HTTP_DATE_LEN 29 /* `Sun, 06 Nov 1994 08:49:37 GMT`: IMF-fixdate, RFC 9110 5.6.7 */

/* Writes the IMF-fixdate of t (seconds since the epoch) and a NUL to out. */
void http__format_date(time_t t, char out[HTTP_DATE_LEN + 1]);

#endif
