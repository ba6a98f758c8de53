/* The HTTP/1.1 request-head parser and the routes of a workload. Zero-copy:
 * the parsed request points into the caller's buffer. Stateless: each call
 * parses from the start of the buffer, line by line, so a head split at any
 * byte parses the same once whole, and the first bad line decides the error
 * whether the rest has arrived or not. Response writing and bodies live in
 * response.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* tchar of RFC 9110: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A request-target byte: visible ASCII or any byte >= 0x80 (left for the
 * route to refuse), never a space or a control character. */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

/* A field-value byte: visible, space, tab or obs-text; no other control. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The end of the line starting at p (the offset just past its LF), or 0 when
 * no LF has arrived yet. A bare LF ends a line too (RFC 9112 allows it). */
static size_t line_end(const char *buf, size_t pos, size_t len)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    return lf ? (size_t)(lf - buf) + 1 : 0;
}

/* The line [pos, end) without its LF and CR; -1 if a CR appears elsewhere. */
static int line_content(const char *buf, size_t pos, size_t end, size_t *content_len)
{
    size_t n = end - pos - 1;
    if (n > 0 && buf[pos + n - 1] == '\r')
        n--;
    if (memchr(buf + pos, '\r', n))
        return -1;
    *content_len = n;
    return 0;
}

/* Parses HTTP/1.x into *minor: HTTP/1.0 is 0, HTTP/1.1 and later 1.x are 1. */
static int parse_version(const char *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/1.", 7) || v[7] < '0' || v[7] > '9')
        return -1;
    *minor = v[7] == '0' ? 0 : 1;
    return 0;
}

/* ---- hosts: uri-host [ ":" port ] of RFC 3986 3.2.2 and 3.2.3 ---- */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* unreserved / sub-delims: what a reg-name holds besides pct-encoded bytes. */
static bool is_name_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("-._~!$&'()*+,;=", c) != NULL;
}

/* A reg-name, never empty: RFC 9110 4.2.1 makes an http URI with an empty
 * host invalid. An IPv4address is one too (digits and dots), so is
 * 256.1.1.1, which RFC 3986 3.2.2 reads as a name. */
static bool is_reg_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2]))
            i += 2;
        else if (!is_name_char(s[i]))
            return false;
    }
    return n > 0;
}

/* IPv4address: four dec-octets, no leading zeros (RFC 3986 3.2.2). */
static bool is_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part && (i >= n || s[i++] != '.'))
            return false;
        size_t start = i;
        unsigned v = 0;
        while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return false;
    }
    return i == n;
}

/* IPv6address: eight pieces of 1-4 hex digits, one "::" standing for one or
 * more zero pieces, the last two pieces possibly written as an IPv4address. */
static bool is_ipv6(const char *s, size_t n)
{
    int pieces = 0;
    bool gap = n >= 2 && s[0] == ':' && s[1] == ':';
    size_t i = gap ? 2 : 0;
    while (i < n) {
        size_t start = i;
        while (i < n && i - start < 4 && is_hex(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            if (!is_ipv4(s + start, n - start))
                return false;
            pieces += 2;
            break;
        }
        if (i == start)
            return false;
        pieces++;
        if (i < n && s[i++] != ':')
            return false;
        if (i < n && s[i] == ':' && !gap) {
            gap = true;
            i++;
        } else if (i == n && s[n - 1] == ':') {
            return false; /* a single colon cannot end the address */
        }
    }
    return gap ? pieces <= 7 : pieces == 8;
}

/* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
static bool is_ipvfuture(const char *s, size_t n)
{
    size_t i = 1;
    if (n < 4 || (s[0] != 'v' && s[0] != 'V'))
        return false;
    while (i < n && is_hex(s[i]))
        i++;
    if (i == 1 || i + 1 >= n || s[i++] != '.')
        return false;
    for (; i < n; i++)
        if (!is_name_char(s[i]) && s[i] != ':')
            return false;
    return true;
}

/* uri-host [ ":" port ]: an IP-literal in brackets or a reg-name, then an
 * optional port of digits (RFC 3986 3.2.3 allows an empty one). */
static bool is_host(const char *s, size_t n)
{
    size_t h = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        h = (size_t)(close - s) + 1;
        if (!is_ipv6(s + 1, h - 2) && !is_ipvfuture(s + 1, h - 2))
            return false;
    } else {
        const char *colon = memchr(s, ':', n);
        h = colon ? (size_t)(colon - s) : n;
        if (!is_reg_name(s, h))
            return false;
    }
    if (h < n && s[h] != ':')
        return false;
    for (size_t i = h + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* ---- the request line ---- */

/* An absolute-form target (`http://host/path?q`) is reduced to its path,
 * which may be empty. Returns 1 for that form, 0 for another, -1 when its
 * authority is not a valid host: empty (RFC 9110 4.2.1) or with userinfo,
 * which RFC 9110 4.2.4 tells a recipient to treat as an error. */
static int strip_absolute_form(struct http_request *req)
{
    const char *p = req->path, *end = p + req->path_len;
    size_t skip = req->path_len >= 7 && !strncasecmp(p, "http://", 7)    ? 7
                  : req->path_len >= 8 && !strncasecmp(p, "https://", 8) ? 8
                                                                         : 0;
    if (!skip)
        return 0;
    p += skip;
    const char *authority = p;
    while (p < end && *p != '/' && *p != '?')
        p++;
    if (!is_host(authority, (size_t)(p - authority)))
        return -1;
    req->path = p;
    req->path_len = (size_t)(end - p);
    return 1;
}

/* method SP request-target SP HTTP-version */
static int parse_request_line(const char *l, size_t n, struct http_request *req)
{
    size_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    if (i == 0 || i == n || l[i] != ' ')
        return -400;
    req->method = l;
    req->method_len = i++;
    size_t t = i;
    while (i < n && is_target_char(l[i]))
        i++;
    if (i == t || i == n || l[i] != ' ')
        return -400;
    req->path = l + t;
    req->path_len = i - t;
    if (parse_version(l + i + 1, n - i - 1, &req->minor) < 0)
        return -400;
    int absolute = strip_absolute_form(req);
    if (absolute < 0 || (!absolute && req->path[0] != '/' && req->path[0] != '*'))
        return -400; /* neither origin-form, absolute-form nor asterisk-form */
    return 0;
}

/* Connection: a comma-separated token list; close wins over keep-alive. */
static void parse_connection(const char *v, size_t n, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - s == 5 && !strncasecmp(v + s, "close", 5))
            *close = true;
        else if (i - s == 10 && !strncasecmp(v + s, "keep-alive", 10))
            *keep = true;
    }
}

/* Content-Length: digits only; a repeat must agree with the first. */
static int parse_content_length(const char *v, size_t n, bool *seen, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 19)
        return -400;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (*seen && x != *out)
        return -400;
    *seen = true;
    *out = x;
    return 0;
}

/* Host (RFC 9112 3.2): one field, its value a valid uri-host [ ":" port ].
 * An empty value is refused too: RFC 9110 7.2 allows it only for a target
 * URI without an authority, and every target this server takes is an http
 * URI, which has one. A missing Host is tolerated (see README.md). */
static int parse_host(const char *v, size_t n, bool *seen)
{
    if (*seen || !is_host(v, n))
        return -400;
    *seen = true;
    return 0;
}

/* Expect (RFC 9110 10.1.1): a list whose one known member is 100-continue,
 * in any case and without parameters; any other member gets 417. Empty
 * members are skipped, as RFC 9110 5.6.1 asks of a list. */
static int parse_expect(const char *v, size_t n, bool *cont)
{
    for (size_t i = 0; i < n; i++) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (s < e && (v[s] == ' ' || v[s] == '\t'))
            s++;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && (e - s != 12 || strncasecmp(v + s, "100-continue", 12)))
            return -417;
        *cont |= e > s;
    }
    return 0;
}

struct head_state {
    int nheaders;
    bool close, keep, length_seen, host_seen, expect_continue;
};

/* The fields the parser acts on; it passes over every other. */
static int apply_field(const char *name, size_t name_len, const char *v, size_t vn,
                       struct http_request *req, struct head_state *st)
{
    if (name_len == 10 && !strncasecmp(name, "connection", 10))
        parse_connection(v, vn, &st->close, &st->keep);
    else if (name_len == 14 && !strncasecmp(name, "content-length", 14))
        return parse_content_length(v, vn, &st->length_seen, &req->content_length);
    else if (name_len == 17 && !strncasecmp(name, "transfer-encoding", 17))
        return -501;
    else if (name_len == 4 && !strncasecmp(name, "host", 4))
        return parse_host(v, vn, &st->host_seen);
    else if (name_len == 6 && !strncasecmp(name, "expect", 6))
        return parse_expect(v, vn, &st->expect_continue);
    return 0;
}

/* name ":" OWS value OWS; no space before the colon, no obs-fold. */
static int parse_header(const char *l, size_t n, struct http_request *req, struct head_state *st)
{
    size_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    if (i == 0 || i == n || l[i] != ':')
        return -400;
    size_t name_len = i++;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    size_t vend = n;
    while (vend > i && (l[vend - 1] == ' ' || l[vend - 1] == '\t'))
        vend--;
    for (size_t k = i; k < vend; k++)
        if (!is_value_char(l[k]))
            return -400;
    return apply_field(l, name_len, l + i, vend - i, req, st);
}

/* Skips the empty lines RFC 9112 2.2 lets a server ignore before the
 * request line; a CR not followed by LF there is 400. */
static int skip_empty_lines(const char *buf, size_t len, size_t *pos)
{
    size_t p = 0;
    while (p < len && (buf[p] == '\r' || buf[p] == '\n')) {
        if (buf[p] == '\r' && p + 1 < len && buf[p + 1] != '\n')
            return -400;
        p++;
    }
    *pos = p;
    return 0;
}

/* Whether the line at pos, ending at end (0 while it has not), already goes
 * past a limit. The request line gets 414 (RFC 9112 3) when it is longer
 * than HTTP_MAX_REQUEST_LINE or cannot end within HTTP_MAX_HEAD; a header
 * line that cannot gets 431. Checked before any syntax, so that the first
 * line to break a limit decides whether the rest has arrived or not. */
static int check_limits(const char *buf, size_t pos, size_t end, size_t len, bool first)
{
    bool over_head = end > HTTP_MAX_HEAD || (!end && len >= HTTP_MAX_HEAD);
    if (!first)
        return over_head ? -431 : 0;
    size_t n = (end ? end - 1 : len) - pos;
    if (n > 0 && buf[pos + n - 1] == '\r')
        n--; /* the CR of a CR LF, or one that may yet be */
    return over_head || n > HTTP_MAX_REQUEST_LINE ? -414 : 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    struct head_state st = {0};
    size_t pos, end, n;
    memset(req, 0, sizeof(*req));
    if (skip_empty_lines(buf, len, &pos) < 0)
        return -400;
    for (bool first = true;; first = false) {
        end = pos < len ? line_end(buf, pos, len) : 0;
        int r = check_limits(buf, pos, end, len, first);
        if (r < 0)
            return r;
        if (!end)
            return HTTP_PARTIAL;
        if (line_content(buf, pos, end, &n) < 0)
            return -400;
        const char *l = buf + pos;
        pos = end;
        if (first) {
            if (parse_request_line(l, n, req) < 0)
                return -400;
            continue;
        }
        if (n == 0)
            break;
        if (l[0] == ' ' || l[0] == '\t')
            return -400; /* obs-fold: RFC 9112 5.2 lets a server refuse it */
        if (++st.nheaders > HTTP_MAX_HEADERS)
            return -431;
        r = parse_header(l, n, req, &st);
        if (r < 0)
            return r;
    }
    req->head = req->method_len == 4 && !memcmp(req->method, "HEAD", 4);
    req->keep_alive = !st.close && (req->minor >= 1 || st.keep);
    /* RFC 9110 10.1.1: a 100-continue in an HTTP/1.0 request is ignored */
    req->expect_continue = st.expect_continue && req->minor >= 1 && req->content_length > 0;
    return (int)pos;
}

int http_route(const struct wl_workload *wl, const struct http_request *req)
{
    bool get = req->method_len == 3 && !memcmp(req->method, "GET", 3);
    if (!get && !req->head)
        return -405;
    size_t n = 0;
    while (n < req->path_len && req->path[n] != '?' && req->path[n] != '#')
        n++;
    if (n < 2 || req->path[0] != '/')
        return -404;
    if (n == 10 && !memcmp(req->path, "/plaintext", 10))
        return HTTP_ROUTE_PLAINTEXT;
    int r = wl_find_request(wl, req->path + 1, n - 1);
    return r >= 0 ? r : -404;
}
