/* The wire codec (PROTOCOL.md): encoding and decoding frames, splitting a byte
 * stream into them, and the incremental response reader both clients use.
 * Nothing here touches a socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

size_t db__value_size(const struct db_value *v)
{
    switch (v->type) {
    case DB_INT:
    case DB_REAL: return 9;
    case DB_TEXT: return 5 + (size_t)v->len;
    default: return 1;
    }
}

uint8_t *db__put_value(uint8_t *p, const struct db_value *v)
{
    uint64_t bits;
    *p++ = (uint8_t)v->type;
    switch (v->type) {
    case DB_INT: db__put_u64(p, (uint64_t)v->i); return p + 8;
    case DB_REAL:
        memcpy(&bits, &v->r, 8);
        db__put_u64(p, bits);
        return p + 8;
    case DB_TEXT:
        db__put_u32(p, v->len);
        if (v->len)
            memcpy(p + 4, v->text, v->len);
        return p + 4 + v->len;
    default: return p;
    }
}

/* Reads one value at *p, never past end. 0, or -1 when it does not fit or
 * its type is unknown. Text points into the buffer. */
static int get_value(const uint8_t **p, const uint8_t *end, struct db_value *v)
{
    const uint8_t *q = *p;
    uint64_t bits;
    if (q >= end)
        return -1;
    memset(v, 0, sizeof(*v));
    v->type = (enum db_type) * q++;
    switch (v->type) {
    case DB_NULL: break;
    case DB_INT:
    case DB_REAL:
        if (end - q < 8)
            return -1;
        bits = db__get_u64(q);
        q += 8;
        if (v->type == DB_INT)
            v->i = (int64_t)bits;
        else
            memcpy(&v->r, &bits, 8);
        break;
    case DB_TEXT:
        if (end - q < 4)
            return -1;
        v->len = db__get_u32(q);
        q += 4;
        if ((size_t)(end - q) < v->len)
            return -1;
        v->text = (const char *)q;
        q += v->len;
        break;
    default: return -1;
    }
    *p = q;
    return 0;
}

static void put_header(uint8_t *buf, size_t size, enum db_frame_kind kind, uint32_t tag)
{
    db__put_u32(buf, (uint32_t)(size - DB__LEN_BYTES));
    buf[4] = (uint8_t)kind;
    db__put_u32(buf + 5, tag);
}

size_t db_query_size(const struct db_value *params, int nparams)
{
    size_t size = DB__QUERY_HEAD;
    for (int i = 0; i < nparams; i++)
        size += db__value_size(&params[i]);
    return size;
}

int db_encode_query(uint8_t *buf, size_t cap, uint32_t tag, uint16_t query,
                    const struct db_value *params, int nparams)
{
    if (nparams < 0 || nparams > DB_MAX_PARAMS)
        return -EINVAL;
    for (int i = 0; i < nparams; i++)
        if ((unsigned)params[i].type > DB_TEXT || params[i].len > DB_MAX_QUERY_FRAME)
            return -EINVAL;
    size_t size = db_query_size(params, nparams);
    if (size > DB_MAX_QUERY_FRAME)
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, size, DB_FRAME_QUERY, tag);
    db__put_u16(buf + 9, query);
    db__put_u16(buf + 11, (uint16_t)nparams);
    uint8_t *p = buf + DB__QUERY_HEAD;
    for (int i = 0; i < nparams; i++)
        p = db__put_value(p, &params[i]);
    return (int)size;
}

long db_encode_result(uint8_t *buf, size_t cap, uint32_t tag, uint32_t ncols, uint32_t nrows,
                      const struct db_value *values)
{
    size_t size = DB__RESULT_HEAD, cells = (size_t)ncols * nrows;
    if (nrows > DB_MAX_ROWS || cells > DB_MAX_CELLS || ncols > DB_MAX_CELLS)
        return -EINVAL;
    for (size_t i = 0; i < cells; i++) {
        if ((unsigned)values[i].type > DB_TEXT || values[i].len > DB_MAX_FRAME)
            return -EINVAL;
        size += db__value_size(&values[i]);
    }
    if (size > DB_MAX_FRAME)
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, size, DB_FRAME_RESULT, tag);
    buf[9] = DB_OK;
    db__put_u32(buf + 10, ncols);
    db__put_u32(buf + 14, nrows);
    uint8_t *p = buf + DB__RESULT_HEAD;
    for (size_t i = 0; i < cells; i++)
        p = db__put_value(p, &values[i]);
    return (long)size;
}

int db_encode_error(uint8_t *buf, size_t cap, uint32_t tag, enum db_status status,
                    const char *message)
{
    size_t len = strnlen(message, DB_MAX_MESSAGE);
    size_t size = DB__ERROR_HEAD + len;
    if (status == DB_OK || (unsigned)status > 255)
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, size, DB_FRAME_ERROR, tag);
    buf[9] = (uint8_t)status;
    db__put_u16(buf + 10, (uint16_t)len);
    memcpy(buf + DB__ERROR_HEAD, message, len);
    return (int)size;
}

long db_frame_size(const uint8_t *buf, size_t len, uint32_t max)
{
    if (len < DB__LEN_BYTES)
        return 0;
    uint64_t size = (uint64_t)db__get_u32(buf) + DB__LEN_BYTES;
    if (size < DB__HEADER_BYTES)
        return -EBADMSG;
    if (size > max)
        return -EMSGSIZE;
    return size <= len ? (long)size : 0;
}

enum db_status db_decode_query(const uint8_t *buf, size_t len, struct db_query *q)
{
    memset(q, 0, offsetof(struct db_query, params));
    if (len >= DB__HEADER_BYTES)
        q->tag = db__get_u32(buf + 5);
    if (len < DB__QUERY_HEAD || db__get_u32(buf) + (size_t)DB__LEN_BYTES != len ||
        buf[4] != DB_FRAME_QUERY)
        return DB_EMALFORMED;
    q->query = db__get_u16(buf + 9);
    uint16_t n = db__get_u16(buf + 11);
    if (n > DB_MAX_PARAMS)
        return DB_EMALFORMED;
    const uint8_t *p = buf + DB__QUERY_HEAD, *end = buf + len;
    for (uint16_t i = 0; i < n; i++)
        if (get_value(&p, end, &q->params[i]) < 0)
            return DB_EMALFORMED;
    if (p != end)
        return DB_EMALFORMED; /* trailing bytes: the sender and we disagree */
    q->nparams = n;
    return DB_OK;
}

/* ---- the incremental reader ---- */

void db_reader_init(struct db_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void db_reader_free(struct db_reader *r)
{
    free(r->buf);
    free(r->values);
    db_reader_init(r);
}

/* Bytes the frame at the front still lacks, when its length is known and
 * acceptable: the reader then makes room for all of it in one go. */
static size_t frame_missing(const struct db_reader *r)
{
    size_t have = r->end - r->start;
    if (have < DB__LEN_BYTES)
        return 0;
    uint64_t size = (uint64_t)db__get_u32(r->buf + r->start) + DB__LEN_BYTES;
    return size <= DB_MAX_FRAME && size > have ? (size_t)(size - have) : 0;
}

uint8_t *db_reader_space(struct db_reader *r, size_t *room)
{
    if (r->start == r->end)
        r->start = r->end = 0;
    size_t want = frame_missing(r);
    if (want < DB__READ_CHUNK)
        want = DB__READ_CHUNK;
    if (r->cap - r->end < want && r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < want) {
        size_t cap = r->cap ? r->cap : DB__READ_CHUNK;
        while (cap - r->end < want)
            cap *= 2;
        uint8_t *buf = realloc(r->buf, cap);
        if (!buf)
            return NULL;
        r->buf = buf;
        r->cap = cap;
    }
    *room = r->cap - r->end;
    return r->buf + r->end;
}

void db_reader_commit(struct db_reader *r, size_t n)
{
    r->end += n;
}

int db_reader_feed(struct db_reader *r, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        size_t room;
        uint8_t *dst = db_reader_space(r, &room);
        if (!dst)
            return -ENOMEM;
        size_t k = n < room ? n : room;
        memcpy(dst, p, k);
        db_reader_commit(r, k);
        p += k;
        n -= k;
    }
    return 0;
}

static int decode_error(struct db_reader *r, const uint8_t *f, size_t size, struct db_result *res)
{
    if (size < DB__ERROR_HEAD || f[9] == DB_OK)
        return -EBADMSG;
    size_t len = db__get_u16(f + 10);
    if (len > DB_MAX_MESSAGE || DB__ERROR_HEAD + len != size)
        return -EBADMSG;
    memcpy(r->message, f + DB__ERROR_HEAD, len);
    r->message[len] = '\0';
    res->status = (enum db_status)f[9];
    res->message = r->message;
    return 1;
}

static int decode_result(struct db_reader *r, const uint8_t *f, size_t size, struct db_result *res)
{
    if (size < DB__RESULT_HEAD || f[9] != DB_OK)
        return -EBADMSG;
    uint32_t ncols = db__get_u32(f + 10), nrows = db__get_u32(f + 14);
    size_t cells = (size_t)ncols * nrows;
    if (nrows > DB_MAX_ROWS || ncols > DB_MAX_CELLS || cells > DB_MAX_CELLS)
        return -EBADMSG;
    if (cells > size - DB__RESULT_HEAD)
        return -EBADMSG; /* each value takes a byte at least */
    if (cells > r->nvalues_cap) {
        struct db_value *v = realloc(r->values, cells * sizeof(*v));
        if (!v)
            return -ENOMEM;
        r->values = v;
        r->nvalues_cap = cells;
    }
    const uint8_t *p = f + DB__RESULT_HEAD, *end = f + size;
    for (size_t i = 0; i < cells; i++)
        if (get_value(&p, end, &r->values[i]) < 0)
            return -EBADMSG;
    if (p != end)
        return -EBADMSG;
    res->status = DB_OK;
    res->ncols = ncols;
    res->nrows = nrows;
    res->values = r->values;
    res->message = "";
    return 1;
}

int db_reader_next(struct db_reader *r, struct db_result *res)
{
    if (r->end - r->start < DB__LEN_BYTES)
        return 0; /* and buf may still be NULL */
    const uint8_t *f = r->buf + r->start;
    long size = db_frame_size(f, r->end - r->start, DB_MAX_FRAME);
    if (size <= 0)
        return (int)size;
    memset(res, 0, sizeof(*res));
    res->tag = db__get_u32(f + 5);
    int rc;
    if (f[4] == DB_FRAME_RESULT)
        rc = decode_result(r, f, (size_t)size, res);
    else if (f[4] == DB_FRAME_ERROR)
        rc = decode_error(r, f, (size_t)size, res);
    else
        rc = -EBADMSG;
    if (rc == 1)
        r->start += (size_t)size;
    return rc;
}

/* ---- parameters ---- */

/* Uniform in [lo, hi], in unsigned arithmetic so the full int64 range works. */
static int64_t draw_int(struct wl_rng *rng, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    uint64_t off = span ? wl_rng_below(rng, span) : wl_rng_next(rng);
    return (int64_t)((uint64_t)lo + off);
}

int db_bind_params(const struct wl_workload *wl, int q, struct wl_rng *rng, struct db_value *params)
{
    const struct wl_query *query = &wl->queries[q];
    for (int i = 0; i < query->nparams; i++) {
        const struct wl_param *p = &query->params[i];
        struct db_value *v = &params[i];
        memset(v, 0, sizeof(*v));
        switch (p->kind) {
        case WL_PARAM_INT:
            v->type = DB_INT;
            v->i = draw_int(rng, p->lo, p->hi);
            break;
        case WL_PARAM_INT_CONST:
            v->type = DB_INT;
            v->i = p->lo;
            break;
        case WL_PARAM_REAL_CONST:
            v->type = DB_REAL;
            v->r = p->real;
            break;
        case WL_PARAM_TEXT_CONST:
            v->type = DB_TEXT;
            v->text = p->text;
            v->len = (uint32_t)strlen(p->text);
            break;
        case WL_PARAM_NULL: v->type = DB_NULL; break;
        }
    }
    return query->nparams;
}
