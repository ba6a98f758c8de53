/* External engines (engines/README.md): a server in any language, described
 * by a manifest, started by the sweep and by `overlap engine check` as a
 * process tree over sockets like the C engines. Parsing and placeholders
 * (ext.c); building and starting one (bench_ext.c). */
#ifndef OVERLAP_BENCH_EXT_H
#define OVERLAP_BENCH_EXT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
    int workers;   /* the default for {workers}: 1 when the manifest names none */
    bool postgres; /* `databases` names postgres: it speaks PostgreSQL too */
};

/* The values of the placeholders; a NULL one is refused where it is used. */
struct ext_vars {
    const char *listen, *db, *workload, *build;
    int workers;
    int db_connections; /* {db_connections}: the most the server may hold; 0 for none */
};

/* Where a manifest named in a spec is: `NAME` is engines/NAME.ini in the
 * working directory, else in overlap's source tree; anything with a '/' or
 * ending in .ini is a path. 0, or -1 with a message in err. */
int ext_manifest_find(const char *ref, char *path, size_t len, char *err, size_t errlen);

/* Reads and checks a manifest: 0, or -1 with `FILE:LINE: what is wrong
 * (what was expected)` in err. */
int ext_manifest_load(const char *path, struct ext_manifest *m, char *err, size_t errlen);
/* The parsing alone, from f, its errors naming path; m must be zeroed with
 * workers = 1 (ext_manifest_load does both, and sets path and dir). */
int ext_manifest_read(FILE *f, const char *path, struct ext_manifest *m, char *err, size_t errlen);

/* Appends s to out at *at, single-quoted for /bin/sh as one word ('\''
 * for a quote), and moves *at past it; false when it does not fit. */
bool ext_quote(char *out, size_t len, size_t *at, const char *s);

/* A placeholder's name (without braces) and its value; NULL when the
 * caller has none, which ext_fill refuses where the template uses it. */
struct ext_placeholder {
    const char *name, *value;
};

/* Fills tmpl's placeholders from ph (n of them) into out, each value
 * single-quoted for /bin/sh as one word; `${VAR}` is left to the shell. 0,
 * or -1 with a message in err (an unknown placeholder, naming those of ph;
 * a value not given; no room). */
int ext_fill(const char *tmpl, const struct ext_placeholder *ph, int n, char *out, size_t len,
             char *err, size_t errlen);

/* Replaces the placeholders of tmpl ({listen} {db} {db_connections}
 * {workload} {workers} {build} {dir}) into out; values are shell-quoted, since the command runs
 * through /bin/sh. 0, or -1 with a message in err (an unknown placeholder,
 * a value not given, no room). */
int ext_expand(const struct ext_manifest *m, const char *tmpl, const struct ext_vars *v, char *out,
               size_t len, char *err, size_t errlen);

/* ---- building and starting one (bench_ext.c) ---- */

struct bench__child;

/* Runs the manifest's build, if it has one, in its folder with {build} =
 * v->build (made if missing), its output in log, within 5 minutes. 0, or
 * -1 with why in reason. */
int ext_build(const struct ext_manifest *m, const struct ext_vars *v, const char *log, char *reason,
              size_t rlen);
/* Starts the manifest's command through /bin/sh in its folder, exec'd, as
 * a process group pinned to cpus (none: ""), its output in log, and waits
 * up to 30 s for its `listening ADDR`. 0 with ADDR in addr, or -1 with why
 * in reason. */
int ext_start(const struct ext_manifest *m, const struct ext_vars *v, struct bench__child *c,
              const char *log, const char *cpus, char *addr, size_t alen, char *reason,
              size_t rlen);

#endif
