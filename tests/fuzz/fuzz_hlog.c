/* libFuzzer target: `overlap merge` reads interval logs (.hlog) from other
 * hosts and other tools. The input is read as a whole log and, on its own,
 * as one base64 histogram; every decoded histogram is encoded again and
 * counted into overlap's histogram. None of it may crash or over-read. */
#include "fuzz_file.h" /* first: it asks for _GNU_SOURCE */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "hlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct hlog_hist *d, struct hist *h)
{
    char *b64, err[HLOG_ERR_LEN];
    hist_reset(h);
    hlog_add_to_hist(d, h);
    if (hlog_encode(d, &b64, err, sizeof(err)) == 0)
        free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hist *h;
    struct hlog_log log;
    struct hlog_hist d;
    char err[HLOG_ERR_LEN];
    if (!h && !(h = hist_create()))
        abort();
    if (hlog_read(fuzz_file(data, size), &log, err, sizeof(err)) == 0) {
        for (int i = 0; i < log.nintervals; i++)
            exercise(&log.intervals[i].hist, h);
        hlog_log_free(&log);
    }
    if (hlog_decode((const char *)data, size, &d, err, sizeof(err)) == 0) {
        exercise(&d, h);
        hlog_hist_free(&d);
    }
    return 0;
}
