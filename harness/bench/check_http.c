/* `overlap engine check`'s client (check.h): blocking sockets with
 * timeouts, responses read with Debian's http-parser and kept whole, bodies
 * compared as JSON values with jansson. A check sends few requests, so
 * clarity wins over speed here. */
#define _GNU_SOURCE
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void check_resp_free(struct check_resp *r)
{
    free(r->body);
    *r = (struct check_resp){0};
}

int check_connect(const char *addr)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = CHECK_TIMEOUT_MS / 1000};
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
                    connect(fd, res->ai_addr, res->ai_addrlen) < 0)) {
        int err = errno;
        close(fd);
        fd = -1;
        errno = err;
    }
    freeaddrinfo(res);
    return fd;
}

int check_send(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- reading responses ---- */

struct check_reader {
    int fd;
    http_parser parser;
    struct check_resp *cur;
    bool complete, in_value;
    bool head; /* the response answers a HEAD: no body, whatever it says */
    char field[32];
    size_t field_len;
    char *hdr; /* the header value being read: one of cur's fields, or NULL */
    size_t hdr_cap;
    char buf[16384]; /* bytes read and not yet parsed */
    size_t off, len;
};

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct check_reader *rd = p->data;
    if (rd->in_value) {
        rd->in_value = false;
        rd->field_len = 0;
    }
    for (size_t i = 0; i < len && rd->field_len + 1 < sizeof(rd->field); i++)
        rd->field[rd->field_len++] = (char)tolower((unsigned char)at[i]);
    rd->field[rd->field_len] = '\0';
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct check_reader *rd = p->data;
    struct check_resp *r = rd->cur;
    if (!rd->in_value) { /* the first piece of a header's value */
        rd->in_value = true;
        rd->hdr = !strcmp(rd->field, "content-type")    ? r->content_type
                  : !strcmp(rd->field, "allow")         ? r->allow
                  : !strcmp(rd->field, "server-timing") ? r->timing
                                                        : NULL;
        rd->hdr_cap = rd->hdr == r->timing         ? sizeof(r->timing)
                      : rd->hdr == r->allow        ? sizeof(r->allow)
                      : rd->hdr == r->content_type ? sizeof(r->content_type)
                                                   : 0;
        if (rd->hdr == r->timing && r->timing[0])
            strncat(r->timing, ", ", sizeof(r->timing) - strlen(r->timing) - 1);
    }
    if (rd->hdr) {
        size_t have = strlen(rd->hdr), room = rd->hdr_cap - have - 1;
        size_t n = len < room ? len : room;
        memcpy(rd->hdr + have, at, n);
        rd->hdr[have + n] = '\0';
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct check_resp *r = ((struct check_reader *)p->data)->cur;
    char *grown = realloc(r->body, r->body_len + len + 1);
    if (!grown)
        return 1;
    r->body = grown;
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_headers(http_parser *p)
{
    struct check_reader *rd = p->data;
    rd->cur->status = p->status_code;
    return rd->head ? 1 : 0; /* 1: no body follows (http-parser's convention) */
}

static int on_complete(http_parser *p)
{
    struct check_reader *rd = p->data;
    rd->complete = true;
    rd->cur->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {.on_header_field = on_field,
                                              .on_header_value = on_value,
                                              .on_headers_complete = on_headers,
                                              .on_body = on_body,
                                              .on_message_complete = on_complete};

struct check_reader *check_reader_new(int fd)
{
    struct check_reader *rd = calloc(1, sizeof(*rd));
    if (rd)
        rd->fd = fd;
    return rd;
}

void check_reader_free(struct check_reader *rd)
{
    free(rd);
}

/* One response into r: 0, or -1 (an error, EOF or a timeout first). */
static int read_one(struct check_reader *rd, const char *method, struct check_resp *r)
{
    *r = (struct check_resp){0};
    http_parser_init(&rd->parser, HTTP_RESPONSE);
    rd->parser.data = rd;
    rd->head = !strcmp(method, "HEAD");
    rd->cur = r;
    rd->complete = false;
    rd->in_value = true;
    for (;;) {
        if (rd->off < rd->len) {
            size_t used =
                http_parser_execute(&rd->parser, &settings, rd->buf + rd->off, rd->len - rd->off);
            rd->off += used;
            if (rd->complete)
                return 0;
            if (HTTP_PARSER_ERRNO(&rd->parser) != HPE_OK)
                return -1;
        }
        rd->off = rd->len = 0;
        ssize_t n = recv(rd->fd, rd->buf, sizeof(rd->buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* EOF ends a body read until close, else it cuts one short */
            http_parser_execute(&rd->parser, &settings, NULL, 0);
            return rd->complete ? 0 : -1;
        }
        rd->len = (size_t)n;
    }
}

int check_read(struct check_reader *rd, const char *const *methods, struct check_resp *out, int n)
{
    for (int i = 0; i < n; i++)
        if (read_one(rd, methods[i], &out[i]) < 0) {
            check_resp_free(&out[i]);
            return i;
        }
    return n;
}

int check_get(const char *addr, const char *method, const char *path, struct check_resp *out)
{
    char req[1024];
    *out = (struct check_resp){0};
    int fd = check_connect(addr);
    if (fd < 0)
        return -1;
    int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: check\r\n\r\n", method, path);
    struct check_reader *rd = check_reader_new(fd);
    const char *methods[] = {method};
    int ok = rd && check_send(fd, req, (size_t)len) == 0 && check_read(rd, methods, out, 1) == 1;
    check_reader_free(rd);
    close(fd);
    return ok ? 0 : -1;
}

/* ---- comparisons ---- */

static bool same(const json_t *a, const json_t *b, char *path, size_t plen, char *why, size_t wlen)
{
    size_t at = strlen(path);
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        bool ints = json_is_integer(a) && json_is_integer(b);
        if (ints ? json_integer_value(a) == json_integer_value(b)
                 : x == y || fabs(x - y) <= 1e-15 * fmax(fabs(x), fabs(y)))
            return true;
    } else if (json_typeof(a) != json_typeof(b)) {
        /* fall through to the message */
    } else if (json_is_array(a)) {
        if (json_array_size(a) == json_array_size(b)) {
            for (size_t i = 0; i < json_array_size(a); i++) {
                snprintf(path + at, plen - at, "[%zu]", i);
                if (!same(json_array_get(a, i), json_array_get(b, i), path, plen, why, wlen))
                    return false;
            }
            path[at] = '\0';
            return true;
        }
    } else if (json_is_object(a)) {
        const char *key;
        json_t *v;
        if (json_object_size(a) == json_object_size(b)) {
            json_object_foreach((json_t *)a, key, v)
            {
                snprintf(path + at, plen - at, ".%s", key);
                const json_t *w = json_object_get(b, key);
                if (!w || !same(v, w, path, plen, why, wlen))
                    return w ? false : (snprintf(why, wlen, "%s missing", path), false);
            }
            path[at] = '\0';
            return true;
        }
    } else if (json_equal((json_t *)a, (json_t *)b)) {
        return true;
    }
    char *x = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT),
         *y = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(why, wlen, "at %s: %.120s instead of %.120s", path[0] ? path : "the top", y ? y : "?",
             x ? x : "?");
    free(x);
    free(y);
    return false;
}

bool check_json_same(const char *a, size_t alen, const char *b, size_t blen, char *why, size_t wlen)
{
    json_error_t err;
    char path[256] = "";
    json_t *x = json_loadb(a, alen, JSON_DECODE_ANY, &err);
    json_t *y = x ? json_loadb(b, blen, JSON_DECODE_ANY, &err) : NULL;
    bool ok = x && y && same(x, y, path, sizeof(path), why, wlen);
    if (!x || !y)
        snprintf(why, wlen, "%s body is not JSON: %s (line %d)", x ? "its" : "the reference",
                 err.text, err.line);
    json_decref(x);
    json_decref(y);
    return ok;
}

/* results[0].rows of a parsed body, or NULL */
static json_t *first_rows(json_t *body)
{
    return json_object_get(json_array_get(json_object_get(body, "results"), 0), "rows");
}

int check_row_of(const char *rows, size_t rlen, const char *one, size_t olen, char *why,
                 size_t wlen)
{
    json_error_t err;
    json_t *all = json_loadb(rows, rlen, 0, &err), *it = json_loadb(one, olen, 0, &err);
    json_t *list = first_rows(all), *mine = first_rows(it);
    int found = -1;
    char path[64] = "", diff[8];
    if (!json_is_array(mine) || json_array_size(mine) != 1)
        snprintf(why, wlen, "its body has not one row in results[0].rows: %.120s", one);
    for (size_t i = 0; found < 0 && mine && i < json_array_size(list); i++)
        if (same(json_array_get(list, i), json_array_get(mine, 0), path, sizeof(path), diff,
                 sizeof(diff)))
            found = (int)i;
    if (found < 0 && json_is_array(mine) && json_array_size(mine) == 1)
        snprintf(why, wlen, "its row is none of the table's: %.120s", one);
    json_decref(all);
    json_decref(it);
    return found;
}

int check_timing(const char *value, char names[][16], double *ms, int max)
{
    int n = 0;
    for (const char *s = value; *s && n < max;) {
        const char *comma = strchr(s, ','), *e = comma ? comma : s + strlen(s);
        while (s < e && isspace((unsigned char)*s))
            s++;
        size_t k = strcspn(s, ";,");
        while (k && isspace((unsigned char)s[k - 1]))
            k--;
        snprintf(names[n], 16, "%.*s", (int)(k < 15 ? k : 15), s);
        ms[n] = -1;
        for (const char *p = s; (p = strchr(p, ';')) && p < e; p++) {
            while (isspace((unsigned char)p[1]))
                p++;
            if (!strncasecmp(p + 1, "dur=", 4)) {
                char *stop;
                double v = strtod(p + 5, &stop);
                ms[n] = stop != p + 5 && v >= 0 ? v : -1;
            }
        }
        n++;
        s = comma ? comma + 1 : e;
    }
    return n;
}
