/* External engines (engines/README.md): a server in any language, described
 * by a manifest, started by the sweep and by `overlap engine check` as a
 * process tree over sockets like the C engines. Parsing and placeholders
 * here; nothing here starts a process. */
#ifndef OVERLAP_BENCH_EXT_H
#define OVERLAP_BENCH_EXT_H

#include <limits.h>
#include <stddef.h>

#define EXT_NAME_LEN    64
#define EXT_COMMAND_LEN 1024

struct ext_manifest {
    char path[PATH_MAX]; /* the manifest, absolute */
    char dir[PATH_MAX];  /* its folder: where build and command run, {dir} */
    char name[EXT_NAME_LEN];
    char architecture[24]; /* threads | event loop | coroutines | processes */
    char description[256];
    char packages[256]; /* Debian packages, separated by spaces */
    char build[EXT_COMMAND_LEN];
    char command[EXT_COMMAND_LEN];
    int workers; /* the default for {workers}: 1 when the manifest names none */
};

/* The values of the placeholders; a NULL one is refused where it is used. */
struct ext_vars {
    const char *listen, *db, *workload, *build;
    int workers;
};

/* Where a manifest named in a spec is: `NAME` is engines/NAME.ini in the
 * working directory, else in overlap's source tree; anything with a '/' or
 * ending in .ini is a path. 0, or -1 with a message in err. */
int ext_manifest_find(const char *ref, char *path, size_t len, char *err, size_t errlen);

/* Reads and checks a manifest: 0, or -1 with `FILE:LINE: what is wrong
 * (what was expected)` in err. */
int ext_manifest_load(const char *path, struct ext_manifest *m, char *err, size_t errlen);

/* Replaces the placeholders of tmpl ({listen} {db} {workload} {workers}
 * {build} {dir}) into out; values are shell-quoted, since the command runs
 * through /bin/sh. 0, or -1 with a message in err (an unknown placeholder,
 * a value not given, no room). */
int ext_expand(const struct ext_manifest *m, const char *tmpl, const struct ext_vars *v, char *out,
               size_t len, char *err, size_t errlen);

#endif
