/* What every engine writes: growable output buffers, the JSON and HTML bodies
 * built from database results, and whole responses with Date and
 * Server-Timing. The same bytes whichever engine calls it (but for the
 * Date); nothing here does I/O. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "proc.h"

#define BUF_MIN_CAP    1024 /* a first response head and a small body fit */
#define STATUS_ROOM    512  /* status line and fixed headers of any response */
#define TIMING_ENTRY   40   /* `, queue;dur=18446744073709.551` and change */
#define DATE_FIELD     "Date: "
#define DATE_FIELD_LEN (sizeof(DATE_FIELD) - 1 + HTTP_DATE_LEN + 2) /* with its CR LF */

/* ---- buffers ---- */

void http_buf_init(struct http_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void http_buf_free(struct http_buf *b)
{
    free(b->data);
    http_buf_init(b);
}

int http_buf_reserve(struct http_buf *b, size_t n)
{
    return proc_grow(&b->data, &b->cap, b->len, n, BUF_MIN_CAP);
}

int http_buf_append(struct http_buf *b, const void *data, size_t n)
{
    if (http_buf_reserve(b, n) < 0)
        return -ENOMEM;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

void http_buf_consume(struct http_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static int append_str(struct http_buf *b, const char *s)
{
    return http_buf_append(b, s, strlen(s));
}

/* Appends printf output; the caller guarantees it is shorter than room. */
static int append_fmt(struct http_buf *b, size_t room, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int append_fmt(struct http_buf *b, size_t room, const char *fmt, ...)
{
    if (http_buf_reserve(b, room) < 0)
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -ENOMEM; /* cannot happen with the rooms we ask for */
    b->len += n;
    return 0;
}

/* ---- escaping ---- */

/* A JSON string, quotes included (wl_json_quote). */
static int append_json_text(struct http_buf *b, const char *s, size_t n)
{
    if (http_buf_reserve(b, n * 6 + 2) < 0)
        return -ENOMEM;
    b->len += wl_json_quote(b->data + b->len, s, n);
    return 0;
}

/* HTML text: the five characters that could open markup or end an attribute. */
static int append_html_text(struct http_buf *b, const char *s, size_t n)
{
    if (http_buf_reserve(b, n * 6) < 0)
        return -ENOMEM;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: *o++ = s[i]; continue;
        }
        size_t el = strlen(e);
        memcpy(o, e, el);
        o += el;
    }
    b->len = o - b->data;
    return 0;
}

/* A number as both renderers write it; reals that JSON cannot hold are null. */
static int append_number(struct http_buf *b, const struct db_value *v, const char *nan_text)
{
    if (v->type == DB_INT)
        return append_fmt(b, 24, "%" PRId64, v->i);
    if (!isfinite(v->r))
        return append_str(b, nan_text);
    return append_fmt(b, 32, "%.17g", v->r);
}

static int append_json_value(struct http_buf *b, const struct db_value *v)
{
    switch (v->type) {
    case DB_INT:
    case DB_REAL: return append_number(b, v, "null");
    case DB_TEXT: return append_json_text(b, v->text, v->len);
    default: return append_str(b, "null");
    }
}

static int append_html_value(struct http_buf *b, const struct db_value *v)
{
    switch (v->type) {
    case DB_INT:
    case DB_REAL: return append_number(b, v, "");
    case DB_TEXT: return append_html_text(b, v->text, v->len);
    default: return 0;
    }
}

/* ---- bodies ---- */

static int json_add(struct http_buf *body, const char *query, const struct db_result *res)
{
    int err = 0;
    if (body->len && body->data[body->len - 1] != '[')
        err |= append_str(body, ",");
    err |= append_str(body, "{\"query\":");
    err |= append_json_text(body, query, strlen(query));
    err |= append_str(body, ",\"rows\":[");
    for (uint32_t r = 0; r < res->nrows && !err; r++) {
        err |= append_str(body, r ? ",[" : "[");
        for (uint32_t c = 0; c < res->ncols; c++) {
            if (c)
                err |= append_str(body, ",");
            err |= append_json_value(body, &res->values[(size_t)r * res->ncols + c]);
        }
        err |= append_str(body, "]");
    }
    err |= append_str(body, "]}");
    return err ? -ENOMEM : 0;
}

static int html_add(struct http_buf *body, const char *query, const struct db_result *res)
{
    int err = append_str(body, "<table><caption>");
    err |= append_html_text(body, query, strlen(query));
    err |= append_str(body, "</caption>");
    for (uint32_t r = 0; r < res->nrows && !err; r++) {
        err |= append_str(body, "<tr>");
        for (uint32_t c = 0; c < res->ncols; c++) {
            err |= append_str(body, "<td>");
            err |= append_html_value(body, &res->values[(size_t)r * res->ncols + c]);
            err |= append_str(body, "</td>");
        }
        err |= append_str(body, "</tr>");
    }
    err |= append_str(body, "</table>");
    return err ? -ENOMEM : 0;
}

int http_body_begin(struct http_buf *body, const struct wl_workload *wl, int request)
{
    const char *name = wl->requests[request].name;
    int err;
    body->len = 0;
    if (wl->requests[request].render == WL_RENDER_HTML) {
        err = append_str(body, "<!DOCTYPE html><html><head><title>");
        err |= append_html_text(body, name, strlen(name));
        err |= append_str(body, "</title></head><body>");
    } else {
        err = append_str(body, "{\"request\":");
        err |= append_json_text(body, name, strlen(name));
        err |= append_str(body, ",\"results\":[");
    }
    return err ? -ENOMEM : 0;
}

int http_body_add(struct http_buf *body, const struct wl_workload *wl, int request, int query,
                  const struct db_result *res)
{
    const char *name = wl->queries[query].name;
    if (wl->requests[request].render == WL_RENDER_HTML)
        return html_add(body, name, res);
    return json_add(body, name, res);
}

int http_body_end(struct http_buf *body, const struct wl_workload *wl, int request)
{
    if (wl->requests[request].render == WL_RENDER_HTML)
        return append_str(body, "</body></html>");
    return append_str(body, "]}");
}

const char *http_content_type(const struct wl_workload *wl, int request)
{
    if (wl->requests[request].render == WL_RENDER_HTML)
        return "text/html; charset=utf-8";
    return "application/json";
}

/* ---- status codes ---- */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- the Date field ---- */

void http__format_date(time_t t, char out[HTTP_DATE_LEN + 1])
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    if (!gmtime_r(&t, &tm)) { /* a year past int: not a clock's reading */
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(out, HTTP_DATE_LEN + 1, "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT",
             days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon, tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* `Date: ...\r\n` for the current second. Each thread keeps its own copy and
 * formats it again only when the second has changed, so a response costs a
 * vDSO time() and a copy, and no thread waits on another. The one mutable
 * static of the module, thread-local for that reason. */
static const char *date_field(void)
{
    static _Thread_local struct {
        time_t second;
        bool set;
        char text[DATE_FIELD_LEN + 1];
    } cache;
    time_t now = time(NULL);
    if (!cache.set || now != cache.second) {
        memcpy(cache.text, DATE_FIELD, sizeof(DATE_FIELD) - 1);
        http__format_date(now, cache.text + sizeof(DATE_FIELD) - 1);
        memcpy(cache.text + DATE_FIELD_LEN - 2, "\r\n", 3);
        cache.second = now;
        cache.set = true;
    }
    return cache.text;
}

/* ---- responses ---- */

/* The status line and the headers every response carries, in the order
 * http/README.md gives. */
static int append_head(struct http_buf *out, const struct http_request *req, int status,
                       const char *content_type, size_t body_len, bool keep_alive)
{
    int err = append_fmt(out, STATUS_ROOM,
                         "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                         http_status_text(status), date_field(), content_type, body_len);
    if (!keep_alive)
        err |= append_str(out, "Connection: close\r\n");
    else if (req && req->minor == 0)
        err |= append_str(out, "Connection: keep-alive\r\n");
    return err ? -ENOMEM : 0;
}

/* One metric `, name;dur=1.234`: ms to the microsecond. */
static int append_metric(struct http_buf *out, bool first, const char *name, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    return append_fmt(out, TIMING_ENTRY, "%s%s;dur=%" PRIu64 ".%03" PRIu64, first ? "" : ", ", name,
                      us / 1000, us % 1000);
}

/* `queue;dur=0.012, cpu;dur=0.501, db;dur=10.087, cpu-time;dur=0.498`. */
static int append_timing(struct http_buf *out, const struct wl_workload *wl, int request,
                         const uint64_t *phase_ns, int nphases, uint64_t cpu_time_ns)
{
    int nsteps = request >= 0 && request < wl->nrequests ? wl->requests[request].nsteps : 0;
    bool has_cpu = false;
    if (nphases > 1 + nsteps)
        nphases = 1 + nsteps;
    int err = append_str(out, "Server-Timing: ");
    for (int i = 0; i < nphases && !err; i++) {
        const char *name = "queue";
        if (i > 0 && wl->requests[request].steps[i - 1].kind == WL_STEP_CPU) {
            name = "cpu";
            has_cpu = true;
        } else if (i > 0) {
            name = "db";
        }
        err |= append_metric(out, i == 0, name, phase_ns[i]);
    }
    if (has_cpu && !err)
        err |= append_metric(out, false, "cpu-time", cpu_time_ns);
    err |= append_str(out, "\r\n");
    return err ? -ENOMEM : 0;
}

int http_write_response(struct http_buf *out, const struct http_request *req, int status,
                        const char *content_type, const struct wl_workload *wl, int request,
                        const uint64_t *phase_ns, int nphases, uint64_t cpu_time_ns,
                        bool keep_alive, const void *body, size_t body_len)
{
    int err = append_head(out, req, status, content_type, body_len, keep_alive);
    if (!err && nphases > 0)
        err = append_timing(out, wl, request, phase_ns, nphases, cpu_time_ns);
    if (!err)
        err = append_str(out, "\r\n");
    if (!err && !(req && req->head))
        err = http_buf_append(out, body, body_len);
    return err ? -ENOMEM : 0;
}

int http_write_error(struct http_buf *out, const struct http_request *req, int status,
                     const char *reason, bool keep_alive)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "%d %s%s%s\n", status, http_status_text(status),
                     reason ? ": " : "", reason ? reason : "");
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
    if (len && body[len - 1] != '\n')
        body[len - 1] = '\n'; /* a reason cut short still ends the line */
    int err = append_head(out, req, status, "text/plain; charset=utf-8", len, keep_alive);
    if (!err && status == 405)
        err = append_str(out, "Allow: GET, HEAD\r\n");
    if (!err)
        err = append_str(out, "\r\n");
    if (!err && !(req && req->head))
        err = http_buf_append(out, body, len);
    return err ? -ENOMEM : 0;
}

int http_write_plaintext(struct http_buf *out, const struct http_request *req, bool keep_alive)
{
    static const char hello[] = "Hello, World!";
    return http_write_response(out, req, 200, "text/plain", NULL, HTTP_ROUTE_PLAINTEXT, NULL, 0, 0,
                               keep_alive, hello, sizeof(hello) - 1);
}

int http_write_continue(struct http_buf *out)
{
    return append_str(out, "HTTP/1.1 100 Continue\r\n\r\n");
}
