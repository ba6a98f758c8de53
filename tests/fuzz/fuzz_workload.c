/* libFuzzer target: the workload loader must turn any bytes into a workload
 * or one error message, never a crash or a leak. */
#include "fuzz_file.h"
#include "wl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(path, &wl, err, sizeof(err)) == 0) {
        if (wl->nrequests < 1 || wl->total_weight <= 0)
            abort(); /* validation let an unusable workload through */
        wl_free(wl);
    }
    return 0;
}
