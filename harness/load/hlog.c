/* HdrHistogram's V2 histogram encoding and its interval log. An encoded
 * histogram is a 40-byte big-endian header (cookie, payload length,
 * normalizing index offset, significant digits, lowest and highest value,
 * conversion ratio) and its counts by counts index as ZigZag LEB128 numbers,
 * a negative one standing for that many empty counts; compressed, it is a
 * cookie, the compressed length and the header and counts through zlib; in a
 * log, that in base64. The layout arithmetic is HdrHistogram's own. */
#include "hlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define HEADER_LEN    40
#define ZZ_MAX        9    /* bytes of one LEB128 number: the ninth carries 8 bits */
#define COOKIE_WORD   0x10 /* word size 1: ZigZag LEB128 counts, as both libraries write */
#define LOG_VERSION   "1.3"
#define COMMENT_WIDTH 120 /* under the C reader's 128-character header lines */

const struct hlog_params hlog_overlap_params = {1, (int64_t)HIST_MAX_NS, 3, 1.0};

/* HdrHistogram's bucket layout for a set of parameters. */
struct layout {
    int unit_mag, half_mag;
    int32_t half, counts_len;
};

int hlog_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool layout_of(const struct hlog_params *p, struct layout *l)
{
    if (p->digits < 1 || p->digits > 5 || p->lowest < 1 || p->highest / 2 < p->lowest)
        return false;
    int64_t largest = 2;
    for (int i = 0; i < p->digits; i++)
        largest *= 10;
    int sub_mag = 64 - __builtin_clzll((uint64_t)largest - 1); /* ceil(log2(largest)) */
    l->half_mag = (sub_mag > 1 ? sub_mag : 1) - 1;
    l->unit_mag = 63 - __builtin_clzll((uint64_t)p->lowest);
    if (l->unit_mag + l->half_mag > 61)
        return false;
    l->half = (int32_t)1 << l->half_mag;
    int64_t untrackable = (int64_t)2 * l->half << l->unit_mag;
    int32_t buckets = 1;
    while (untrackable <= p->highest) {
        if (untrackable > INT64_MAX / 2) {
            buckets++;
            break;
        }
        untrackable <<= 1;
        buckets++;
    }
    l->counts_len = (buckets + 1) * l->half;
    return true;
}

static int32_t index_of(const struct layout *l, int64_t v)
{
    uint64_t mask = (uint64_t)(2 * l->half - 1) << l->unit_mag;
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)v | mask);
    int bucket = pow2ceiling - l->unit_mag - (l->half_mag + 1);
    int32_t sub = (int32_t)(v >> (bucket + l->unit_mag));
    return ((bucket + 1) << l->half_mag) + (sub - l->half);
}

int64_t hlog_value_at(const struct hlog_params *p, int32_t index)
{
    struct layout l;
    if (!layout_of(p, &l) || index < 0 || index >= l.counts_len)
        return 0;
    int bucket = (index >> l.half_mag) - 1;
    int64_t sub = (index & (l.half - 1)) + l.half;
    if (bucket < 0) {
        sub -= l.half;
        bucket = 0;
    }
    return sub << (bucket + l.unit_mag);
}

int64_t hlog_highest_at(const struct hlog_params *p, int32_t index)
{
    struct layout l;
    int64_t v = hlog_value_at(p, index);
    if (!v && index != 0)
        return 0;
    layout_of(p, &l);
    int bucket = (index >> l.half_mag) - 1;
    return v + ((int64_t)1 << ((bucket < 0 ? 0 : bucket) + l.unit_mag)) - 1;
}

bool hlog_params_equal(const struct hlog_params *a, const struct hlog_params *b)
{
    return a->lowest == b->lowest && a->highest == b->highest && a->digits == b->digits &&
           a->ratio == b->ratio;
}

void hlog_params_describe(const struct hlog_params *p, char *out, size_t len)
{
    snprintf(out, len, "lowest %lld, highest %lld, %d digits", (long long)p->lowest,
             (long long)p->highest, (int)p->digits);
}

/* ---- bytes: big-endian numbers, ZigZag LEB128, base64 ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static size_t zz_put(uint8_t *p, int64_t signed_value)
{
    uint64_t v = ((uint64_t)signed_value << 1) ^ (uint64_t)(signed_value >> 63);
    size_t n = 0;
    while (n < ZZ_MAX - 1 && v >> 7) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* 0 bytes when the number runs past len. */
static size_t zz_get(const uint8_t *p, size_t len, int64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (;;) {
        if (n >= len)
            return 0;
        uint8_t b = p[n];
        if (n == ZZ_MAX - 1) {
            v |= (uint64_t)b << 56;
            n++;
            break;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * n);
        n++;
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return n;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *in, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        *o++ = b64_chars[v >> 18];
        *o++ = b64_chars[v >> 12 & 63];
        *o++ = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? b64_chars[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_chars, c) : NULL;
    return p ? (int)(p - b64_chars) : -1;
}

/* Strict: whole groups of four, padding only at the end. */
static int b64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
    if (len == 0 || len % 4)
        return -1;
    uint8_t *o = malloc(len / 4 * 3);
    size_t n = 0;
    if (!o)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int pad = (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=');
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = k >= 4 - pad ? 0 : b64_value(in[i + k]);
        if ((pad && i + 4 != len) || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) {
            free(o);
            return -1;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        o[n++] = (uint8_t)(x >> 16);
        if (pad < 2)
            o[n++] = (uint8_t)(x >> 8);
        if (pad < 1)
            o[n++] = (uint8_t)x;
    }
    *out = o;
    *outlen = n;
    return 0;
}

/* ---- encoding ---- */

int hlog_encode(const struct hlog_hist *h, char **out, char *err, size_t errlen)
{
    struct layout l;
    uint8_t *raw = NULL, *packed = NULL;
    int rc = -1;
    if (!layout_of(&h->params, &l))
        return hlog_fail(err, errlen, "invalid histogram parameters");
    raw = malloc(HEADER_LEN + h->nbins * 2 * ZZ_MAX);
    if (!raw)
        return hlog_fail(err, errlen, "out of memory");
    size_t n = HEADER_LEN;
    int32_t next = 0; /* the first index not yet written */
    for (size_t i = 0; i < h->nbins; i++) {
        const struct hlog_bin *b = &h->bins[i];
        if (b->index < next || b->index >= l.counts_len || b->count > INT64_MAX) {
            hlog_fail(err, errlen, "bin %zu: index %d out of order or range", i, (int)b->index);
            goto out;
        }
        if (!b->count)
            continue;
        /* as Java writes them: one empty count as 0, a run of them as -run */
        if (b->index == next + 1)
            n += zz_put(raw + n, 0);
        else if (b->index > next)
            n += zz_put(raw + n, -(int64_t)(b->index - next));
        n += zz_put(raw + n, (int64_t)b->count);
        next = b->index + 1;
    }
    union {
        double d;
        uint64_t u;
    } ratio = {.d = h->params.ratio};
    put_be(raw, HLOG_COOKIE | COOKIE_WORD, 4);
    put_be(raw + 4, n - HEADER_LEN, 4);
    put_be(raw + 8, 0, 4); /* normalizing index offset */
    put_be(raw + 12, (uint64_t)h->params.digits, 4);
    put_be(raw + 16, (uint64_t)h->params.lowest, 8);
    put_be(raw + 24, (uint64_t)h->params.highest, 8);
    put_be(raw + 32, ratio.u, 8);
    uLongf zlen = compressBound(n);
    packed = malloc(8 + zlen);
    /* the level Java's HdrHistogram deflates at: its logs and ours agree byte for byte */
    if (!packed || compress2(packed + 8, &zlen, raw, n, Z_BEST_COMPRESSION) != Z_OK) {
        hlog_fail(err, errlen, "cannot compress the histogram");
        goto out;
    }
    put_be(packed, HLOG_COMPRESSED | COOKIE_WORD, 4);
    put_be(packed + 4, zlen, 4);
    if (!(*out = b64_encode(packed, 8 + zlen))) {
        hlog_fail(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(raw);
    free(packed);
    return rc;
}

int hlog_encode_hist(const struct hist *h, char **out, char *err, size_t errlen)
{
    struct layout l;
    size_t n = hist_cells(h, NULL, 0);
    struct hist_cell *cells = malloc((n ? n : 1) * sizeof(*cells));
    struct hlog_hist e = {.params = hlog_overlap_params, .nbins = n};
    e.bins = malloc((n ? n : 1) * sizeof(*e.bins));
    if (!cells || !e.bins) {
        free(cells);
        free(e.bins);
        return hlog_fail(err, errlen, "out of memory");
    }
    layout_of(&e.params, &l);
    hist_cells(h, cells, n);
    /* cells come by increasing bucket, so by increasing value and index */
    for (size_t i = 0; i < n; i++)
        e.bins[i] = (struct hlog_bin){
            index_of(&l, (int64_t)hist_bucket_value((int)cells[i].bucket)), cells[i].count};
    int rc = hlog_encode(&e, out, err, errlen);
    free(cells);
    free(e.bins);
    return rc;
}

/* ---- decoding ---- */

static int inflate_exactly(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return -1;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen;
    z.next_out = out;
    z.avail_out = (uInt)outlen;
    int rc = inflate(&z, Z_FINISH);
    bool ok = rc == Z_STREAM_END && z.total_out == outlen;
    inflateEnd(&z);
    return ok ? 0 : -1;
}

static int read_counts(const uint8_t *p, size_t len, const struct layout *l, struct hlog_hist *out,
                       char *err, size_t errlen)
{
    int64_t index = 0, v;
    size_t cap = 0;
    for (size_t at = 0; at < len;) {
        size_t n = zz_get(p + at, len - at, &v);
        if (!n)
            return hlog_fail(err, errlen, "a count runs past the end of the payload");
        at += n;
        if (v < 0) {
            if (v < -(int64_t)l->counts_len || index - v > l->counts_len)
                return hlog_fail(err, errlen, "a run of empty counts past the end of the layout");
            index -= v;
            continue;
        }
        if (index >= l->counts_len)
            return hlog_fail(err, errlen, "counts past the end of the layout (%d counts)",
                             (int)l->counts_len);
        if (v > 0 && out->nbins == cap) { /* grown as counts come: a bomb costs no more */
            cap = cap ? 2 * cap : 64;
            struct hlog_bin *b = realloc(out->bins, cap * sizeof(*b));
            if (!b)
                return hlog_fail(err, errlen, "out of memory");
            out->bins = b;
        }
        if (v > 0) {
            out->bins[out->nbins++] = (struct hlog_bin){(int32_t)index, (uint64_t)v};
            if (out->total > UINT64_MAX - (uint64_t)v)
                return hlog_fail(err, errlen, "the counts overflow");
            out->total += (uint64_t)v;
        }
        index++;
    }
    return 0;
}

static int decode_bytes(const uint8_t *in, size_t inlen, struct hlog_hist *out, char *err,
                        size_t errlen)
{
    struct layout l;
    uint8_t *raw = NULL;
    int rc = -1;
    if (inlen < 8)
        return hlog_fail(err, errlen, "%zu bytes, shorter than a compressed histogram's header",
                         inlen);
    uint32_t cookie = (uint32_t)get_be(in, 4);
    if ((cookie & ~0xf0u) != HLOG_COMPRESSED)
        return hlog_fail(err, errlen,
                         "bad cookie 0x%08x (expected 0x%08x, a compressed V2 histogram)", cookie,
                         HLOG_COMPRESSED | COOKIE_WORD);
    uint64_t zlen = get_be(in + 4, 4);
    if (zlen > inlen - 8)
        return hlog_fail(err, errlen, "compressed length %lu past the %zu bytes given",
                         (unsigned long)zlen, inlen - 8);
    uint8_t head[HEADER_LEN];
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return hlog_fail(err, errlen, "out of memory");
    z.next_in = (Bytef *)in + 8;
    z.avail_in = (uInt)zlen;
    z.next_out = head;
    z.avail_out = HEADER_LEN;
    int zrc = inflate(&z, Z_SYNC_FLUSH);
    bool got = (zrc == Z_OK || zrc == Z_STREAM_END) && z.total_out == HEADER_LEN;
    inflateEnd(&z);
    if (!got)
        return hlog_fail(err, errlen, "bad zlib data (the header does not inflate)");
    cookie = (uint32_t)get_be(head, 4);
    if ((cookie & ~0xf0u) != HLOG_COOKIE || (cookie & 0xf0u) != COOKIE_WORD)
        return hlog_fail(err, errlen,
                         "bad encoding cookie 0x%08x (expected 0x%08x: V2, ZigZag LEB128 counts)",
                         cookie, HLOG_COOKIE | COOKIE_WORD);
    uint64_t payload = get_be(head + 4, 4), offset = get_be(head + 8, 4);
    union {
        uint64_t u;
        double d;
    } ratio = {.u = get_be(head + 32, 8)};
    out->params = (struct hlog_params){(int64_t)get_be(head + 16, 8), (int64_t)get_be(head + 24, 8),
                                       (int32_t)get_be(head + 12, 4), ratio.d};
    if (!layout_of(&out->params, &l))
        return hlog_fail(err, errlen, "invalid parameters (lowest %lld, highest %lld, %d digits)",
                         (long long)out->params.lowest, (long long)out->params.highest,
                         (int)out->params.digits);
    if (offset)
        return hlog_fail(err, errlen, "normalizing index offset %lu (expected 0)",
                         (unsigned long)offset);
    if (payload > (uint64_t)l.counts_len * ZZ_MAX || payload > HLOG_MAX_PAYLOAD)
        return hlog_fail(err, errlen, "payload length %lu too large for %d counts",
                         (unsigned long)payload, (int)l.counts_len);
    raw = malloc(HEADER_LEN + payload);
    if (!raw)
        return hlog_fail(err, errlen, "out of memory");
    if (inflate_exactly(in + 8, (size_t)zlen, raw, HEADER_LEN + payload) < 0)
        hlog_fail(err, errlen, "bad zlib data (expected %lu bytes of counts)",
                  (unsigned long)payload);
    else
        rc = read_counts(raw + HEADER_LEN, (size_t)payload, &l, out, err, errlen);
    free(raw);
    return rc;
}

int hlog_decode(const char *b64, size_t len, struct hlog_hist *out, char *err, size_t errlen)
{
    uint8_t *bytes;
    size_t n;
    memset(out, 0, sizeof(*out));
    if (b64_decode(b64, len, &bytes, &n) < 0)
        return hlog_fail(err, errlen, "bad base64 (%zu characters; expected whole groups of 4)",
                         len);
    int rc = decode_bytes(bytes, n, out, err, errlen);
    free(bytes);
    if (rc < 0)
        hlog_hist_free(out);
    return rc;
}

void hlog_hist_free(struct hlog_hist *h)
{
    free(h->bins);
    h->bins = NULL;
    h->nbins = 0;
    h->total = 0;
}

void hlog_add_to_hist(const struct hlog_hist *d, struct hist *h)
{
    for (size_t i = 0; i < d->nbins; i++) {
        int64_t lo = hlog_value_at(&d->params, d->bins[i].index);
        int64_t hi = hlog_highest_at(&d->params, d->bins[i].index);
        uint64_t left = d->bins[i].count;
        struct hist_cell c = {(uint32_t)hist_bucket_of((uint64_t)(lo + (hi - lo) / 2)), 0};
        while (left) { /* cells count in 32 bits */
            c.count = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
            hist_add_cells(h, &c, 1);
            left -= c.count;
        }
    }
}

/* ---- writing the log ---- */

void hlog_write_header(FILE *f, double start_epoch_s, const char *const *comments, int n)
{
    char when[64];
    time_t t = (time_t)start_epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "#[Histogram log format version " LOG_VERSION "]\n");
    fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s.%03dZ]\n", start_epoch_s, when,
            (int)((start_epoch_s - (double)t) * 1000) % 1000);
    fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
    for (int i = 0; i < n; i++)
        fprintf(f, "#[%.*s]\n", COMMENT_WIDTH, comments[i]);
    fprintf(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
               "\"Interval_Compressed_Histogram\"\n");
}

int hlog_write_interval(FILE *f, const char *tag, double start_s, double length_s,
                        const struct hist *h)
{
    char *b64, err[HLOG_ERR_LEN];
    if (hlog_encode_hist(h, &b64, err, sizeof(err)) < 0)
        return -1;
    fprintf(f, "%s%s%s%.3f,%.3f,%.3f,%s\n", tag ? "Tag=" : "", tag ? tag : "", tag ? "," : "",
            start_s, length_s, (double)hist_max(h) / HLOG_UNIT_RATIO, b64);
    free(b64);
    return 0;
}
