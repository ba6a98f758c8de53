/* libFuzzer target: the workload loader must turn any bytes into a workload
 * or one error message, never a crash or a leak. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("workload", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(path, &wl, err, sizeof(err)) == 0) {
        if (wl->nrequests < 1 || wl->total_weight <= 0)
            abort(); /* validation let an unusable workload through */
        wl_free(wl);
    }
    return 0;
}
