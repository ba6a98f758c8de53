/* libFuzzer target: the load generator's response reader must read any bytes
 * the same whether they arrive whole or in pieces, never crash, and turn any
 * Server-Timing value into a compact form with no separators of the CSV. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds data in pieces of `step` bytes (all at once when step is 0), then
 * EOF if the response is still open; returns the final outcome. Bytes after
 * a complete response are an error however they arrive. */
static int read_all(const char *data, size_t size, size_t step, struct load_response *r)
{
    int rc = LOAD_RESPONSE_MORE;
    size_t at = 0;
    load_response_start(r, true);
    while (rc != LOAD_RESPONSE_ERROR && at < size) {
        size_t n = step && size - at > step ? step : size - at;
        rc = load_response_feed(r, data + at, n);
        at += n;
    }
    if (rc == LOAD_RESPONSE_MORE)
        rc = load_response_feed(r, "", 0);
    return rc;
}

static void check_compact(const struct load_response *r, size_t outlen)
{
    char out[LOAD_PHASES_LEN];
    size_t n = load_timing_compact(r->timing, r->timing_len, out, outlen);
    if (n >= outlen || out[n] != '\0' || strlen(out) != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (out[i] == ',' || out[i] == ' ' || out[i] == '\n' || out[i] == '\r')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct load_response whole, split;
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 17;
    const char *text = (const char *)data + 1;
    int a = read_all(text, size - 1, 0, &whole);
    int b = read_all(text, size - 1, step, &split);
    if (a != b)
        abort();
    if (a == LOAD_RESPONSE_DONE &&
        (whole.status != split.status || whole.keep_alive != split.keep_alive ||
         whole.timing_len != split.timing_len ||
         memcmp(whole.timing, split.timing, whole.timing_len)))
        abort();
    check_compact(&whole, sizeof(((struct load_timeline *)0)->phases));
    check_compact(&whole, 1 + data[0] % 24);
    return 0;
}
