/* Reading one HTTP/1.1 response with Debian's http-parser (the parser wrk
 * uses): status, keep-alive, Content-Length or chunked or until-close bodies,
 * and the Server-Timing header, fed in whatever pieces the socket delivers.
 * Nothing here allocates; bodies are counted, not kept. */
#include "load.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct load_response *of(http_parser *p)
{
    return p->data;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct load_response *r = of(p);
    if (r->in_value) { /* a new header starts */
        r->in_value = false;
        r->field_len = 0;
        r->field_long = false;
    }
    for (size_t i = 0; i < len; i++) {
        if (r->field_len >= sizeof(r->field)) {
            r->field_long = true;
            break;
        }
        r->field[r->field_len++] = (char)tolower((unsigned char)at[i]);
    }
    return 0;
}

static void append_timing(struct load_response *r, const char *at, size_t len)
{
    size_t room = sizeof(r->timing) - r->timing_len;
    if (len > room)
        len = room;
    memcpy(r->timing + r->timing_len, at, len);
    r->timing_len += len;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    static const char name[] = "server-timing";
    struct load_response *r = of(p);
    if (!r->in_value) { /* the first piece of this header's value */
        r->in_value = true;
        r->in_timing = r->want_timing && !r->field_long && r->field_len == sizeof(name) - 1 &&
                       !memcmp(r->field, name, sizeof(name) - 1);
        if (r->in_timing && r->timing_len)
            append_timing(r, ", ", 2); /* several Server-Timing headers make one list */
    }
    if (r->in_timing)
        append_timing(r, at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    of(p)->status = p->status_code;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct load_response *r = of(p);
    r->complete = true;
    r->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1); /* one response per request: stop right here */
    return 0;
}

static const http_parser_settings settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void load_response_start(struct load_response *r, bool want_timing)
{
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->status = 0;
    r->complete = r->keep_alive = false;
    r->want_timing = want_timing;
    r->in_value = true; /* so the first field starts a header */
    r->in_timing = r->field_long = false;
    r->field_len = r->timing_len = 0;
}

int load_response_feed(struct load_response *r, const char *buf, size_t len)
{
    if (r->complete)
        return len ? LOAD_RESPONSE_ERROR : LOAD_RESPONSE_DONE;
    size_t used = http_parser_execute(&r->parser, &settings, buf, len);
    if (r->complete)
        /* bytes after the response answer nothing we asked: we never pipeline */
        return used == len ? LOAD_RESPONSE_DONE : LOAD_RESPONSE_ERROR;
    if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK || used != len || len == 0)
        return LOAD_RESPONSE_ERROR;
    return LOAD_RESPONSE_MORE;
}

/* Copies the characters of [s, e) that may stand in a CSV field and in the
 * compact form (no separators, no spaces, nothing unprintable). */
static size_t copy_clean(const char *s, const char *e, char *out, size_t room)
{
    size_t n = 0;
    for (; s < e && n < room; s++)
        if (isgraph((unsigned char)*s) && !strchr(",;:=\"", *s))
            out[n++] = *s;
    return n;
}

#define CPU_TIME_METRIC "cpu-time" /* a measure of the cpu steps, not a phase of the request */

/* Whether the item [s, e) is the metric name (spaces around it ignored). */
static bool item_is(const char *s, const char *e, const char *name)
{
    const char *semi = memchr(s, ';', (size_t)(e - s));
    const char *ne = semi ? semi : e;
    size_t len = strlen(name);
    while (s < ne && isspace((unsigned char)*s))
        s++;
    while (ne > s && isspace((unsigned char)ne[-1]))
        ne--;
    return (size_t)(ne - s) == len && !strncasecmp(s, name, len);
}

/* One item `name;dur=12.5;desc="x"` as `name:12.5` (or `name` with no dur)
 * into out, which has room for LOAD_PHASES_LEN bytes; the length, 0 if empty. */
static size_t compact_item(const char *s, const char *e, char *out)
{
    const char *semi = memchr(s, ';', (size_t)(e - s));
    size_t n = copy_clean(s, semi ? semi : e, out, LOAD_PHASES_LEN - 1);
    while (semi && n > 0) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(e - p));
        const char *pe = semi ? semi : e;
        while (p < pe && isspace((unsigned char)*p))
            p++;
        if (pe - p > 4 && !strncasecmp(p, "dur=", 4) && n < LOAD_PHASES_LEN - 2) {
            out[n++] = ':';
            n += copy_clean(p + 4, pe, out + n, LOAD_PHASES_LEN - 1 - n);
            break;
        }
    }
    return n;
}

size_t load_timing_compact(const char *in, size_t len, char *out, size_t outlen)
{
    const char *s = in, *end = in + len;
    size_t n = 0;
    if (outlen == 0)
        return 0;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        char piece[LOAD_PHASES_LEN];
        size_t k = item_is(s, e, CPU_TIME_METRIC) ? 0 : compact_item(s, e, piece);
        if (k) {
            if (n + (n ? 1 : 0) + k > outlen - 1)
                break; /* truncated at an item's boundary, never inside one */
            if (n)
                out[n++] = ';';
            memcpy(out + n, piece, k);
            n += k;
        }
        s = comma ? comma + 1 : end;
    }
    out[n] = '\0';
    return n;
}

bool load_timing_cpu_time(const char *in, size_t len, uint64_t *ns)
{
    for (const char *s = in, *end = in + len; s < end;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        char piece[LOAD_PHASES_LEN], *colon, *stop;
        size_t k = item_is(s, e, CPU_TIME_METRIC) ? compact_item(s, e, piece) : 0;
        piece[k] = '\0'; /* compact_item leaves it unterminated */
        if (k && (colon = strchr(piece, ':'))) {
            double ms = strtod(colon + 1, &stop);
            if (stop == colon + 1 || *stop || !(ms >= 0) || ms > 1e9)
                return false;
            *ns = (uint64_t)(ms * 1e6 + 0.5);
            return true;
        }
        s = comma ? comma + 1 : end;
    }
    return false;
}
