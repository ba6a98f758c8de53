/* libFuzzer target: the db frame decoders. Any bytes, split anywhere, must
 * decode to frames or a clean error, never a crash, an over-read or a leak;
 * and whatever decodes must encode back to the very same bytes (the format
 * has one encoding per frame). The first byte picks where the stream is cut
 * in two for the response reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits data into query frames the way the server does, and checks each. */
static void check_queries(const uint8_t *data, size_t size)
{
    static uint8_t again[DB_MAX_QUERY_FRAME];
    while (size > 0) {
        long n = db_frame_size(data, size, DB_MAX_QUERY_FRAME);
        if (n <= 0)
            return;
        struct db_query q;
        if (db_decode_query(data, (size_t)n, &q) == DB_OK) {
            int k = db_encode_query(again, sizeof(again), q.tag, q.query, q.params, q.nparams);
            if (k != n || memcmp(again, data, (size_t)n) != 0)
                abort(); /* decoded, but not what was sent */
        }
        data += n;
        size -= (size_t)n;
    }
}

/* Re-encodes a decoded response and compares it with the frame it came from. */
static void check_result(const struct db_result *res, const uint8_t *frame, size_t len)
{
    static uint8_t again[DB_MAX_FRAME];
    long k;
    if (res->status == DB_OK) {
        k = db_encode_result(again, sizeof(again), res->tag, res->ncols, res->nrows, res->values);
    } else {
        if (strlen(res->message) != len - 12)
            return; /* a NUL inside the message: the C string cannot carry it */
        k = db_encode_error(again, sizeof(again), res->tag, res->status, res->message);
    }
    if (k != (long)len || memcmp(again, frame, len) != 0)
        abort();
}

static void check_responses(const uint8_t *data, size_t size, size_t cut)
{
    struct db_reader r;
    struct db_result res;
    size_t done = 0; /* bytes of data consumed by whole frames */
    db_reader_init(&r);
    for (int piece = 0; piece < 2; piece++) {
        size_t from = piece ? cut : 0, to = piece ? size : cut;
        if (db_reader_feed(&r, data + from, to - from) < 0)
            break;
        int rc;
        while ((rc = db_reader_next(&r, &res)) == 1) {
            long len = db_frame_size(data + done, size - done, DB_MAX_FRAME);
            if (len <= 0)
                abort(); /* the reader and the splitter disagree */
            check_result(&res, data + done, (size_t)len);
            done += (size_t)len;
        }
        if (rc < 0)
            break;
    }
    db_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = size > 1 ? data[0] % size : 0;
    data++;
    size--;
    if (cut > size)
        cut = size;
    check_queries(data, size);
    check_responses(data, size, cut);
    return 0;
}
