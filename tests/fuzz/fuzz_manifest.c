/* libFuzzer target: an external engine's manifest must load or give one
 * `FILE:LINE: ...` or `FILE: ...` message, never crash or leak; a manifest
 * that loads expands its command and build without overrunning. */
#define _GNU_SOURCE /* fmemopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char path[] = "fuzz.ini";
    struct ext_manifest m = {.workers = 1};
    char err[512] = "", out[EXT_COMMAND_LEN * 2];
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    snprintf(m.dir, sizeof(m.dir), "/engines");
    int rc = ext_manifest_read(f, path, &m, err, sizeof(err));
    fclose(f);
    if (rc < 0) {
        if (strncmp(err, path, strlen(path)) != 0)
            abort(); /* every error names the file */
        return 0;
    }
    if (!m.name[0] || !m.architecture[0] || !m.command[0] || m.workers < 1)
        abort();
    struct ext_vars v = {.listen = "127.0.0.1:0",
                         .db = "unix:/tmp/d'b",
                         .workload = "w.json",
                         .build = "/b",
                         .workers = 0,
                         .db_connections = 8};
    if (ext_expand(&m, m.command, &v, out, sizeof(out), err, sizeof(err)) < 0 ||
        strlen(out) >= sizeof(out))
        abort(); /* a manifest that loaded expands */
    if (m.build[0] && ext_expand(&m, m.build, &v, out, sizeof(out), err, sizeof(err)) < 0)
        abort();
    return 0;
}
