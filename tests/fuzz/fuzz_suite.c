/* libFuzzer target: a suite file (and the engine specs, lists, durations and
 * CPU lists in it) must load or give one `FILE:LINE: ...` message, never
 * crash, leak or leave the suite inconsistent. */
#include "fuzz_file.h" /* first: it sets _GNU_SOURCE */
#include <string.h>

#include "bench.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    struct bench_suite s;
    char err[BENCH_ERR_LEN] = "";
    bench_suite_defaults(&s);
    if (bench_suite_load(path, &s, err, sizeof(err)) < 0) {
        if (strncmp(err, path, strlen(path)) != 0)
            abort(); /* every error names the file */
        return 0;
    }
    if (s.nengines < 0 || s.nengines > BENCH_MAX_ENGINES || s.nclients > BENCH_MAX_POINTS ||
        s.nrates > BENCH_MAX_POINTS || s.nfractions > BENCH_MAX_POINTS)
        abort();
    if (s.repeats < 1 || s.repeats > BENCH_MAX_REPEATS)
        abort(); /* the plan sizes its runs by this bound */
    for (int i = 0; i < s.nclients; i++)
        if (s.clients[i] < 1 || s.clients[i] > BENCH_MAX_CLIENTS)
            abort();
    for (int i = 0; i < s.nengines; i++) {
        const struct bench_engine *e = &s.engines[i];
        if (!e->spec[0] || strpbrk(e->spec, " '\"\\") ||
            (e->kind == BENCH_POOL && e->workers == 0 && strcmp(e->mode, "connection") != 0))
            abort();
    }
    if (s.server_cpus[0] && proc_count_cpus(s.server_cpus) < 1)
        abort();
    if (s.nvary_cpu < 0 || s.nvary_cpu > BENCH_MAX_VARY || s.nvary_wait < 0 ||
        s.nvary_wait > BENCH_MAX_VARY ||
        (s.tolerance != 0 && !(s.tolerance >= 0.001 && s.tolerance <= 0.5)))
        abort(); /* the map's cells index a fixed table */
    for (int i = 0; i < s.nvary_cpu; i++)
        if (s.vary_cpu_ns[i] == 0 || (i > 0 && s.vary_cpu_ns[i] <= s.vary_cpu_ns[i - 1]))
            abort(); /* an axis ascends, and 0 would mean "the workload's own" */
    for (int i = 0; i < s.nvary_wait; i++)
        if (s.vary_wait_ns[i] == 0 || (i > 0 && s.vary_wait_ns[i] <= s.vary_wait_ns[i - 1]))
            abort();
    return 0;
}
