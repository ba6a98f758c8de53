/* libFuzzer target: `overlap compare` and summary.csv read runs.csv files
 * anyone may have edited. The input is one runs.csv; reading it, writing its
 * summary and comparing it with itself (folders, then its first and last
 * configs) must survive any of it. */
#include "fuzz_file.h" /* first: it asks for _GNU_SOURCE */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "compare.h"
#include "summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink; /* every table goes nowhere: only surviving it counts */
    if (!sink && !(sink = fopen("/dev/null", "w")))
        abort();
    struct summary_set set;
    char err[512];
    if (summary_read(fuzz_file(data, size), &set, err, sizeof(err)) == 0) {
        struct compare_options o = {.threshold_pct = COMPARE_THRESHOLD_PCT};
        summary_print(&set, 2, sink);
        compare_sets(&set, &set, &o, sink, sink);
        if (set.npoints > 0) {
            o.a = set.points[0].engine;
            o.b = set.points[set.npoints - 1].engine;
            compare_sets(&set, &set, &o, sink, sink);
        }
    }
    summary_free(&set);
    return 0;
}
