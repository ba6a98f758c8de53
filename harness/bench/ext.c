/* External engines' manifests (see ext.h and engines/README.md). */
#define _GNU_SOURCE
#include "ext.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

#ifndef OVERLAP_SOURCE_DIR
#define OVERLAP_SOURCE_DIR "."
#endif

static const char *const architectures[] = {"threads", "event loop", "coroutines", "processes",
                                            "goroutines"};

int ext_manifest_find(const char *ref, char *path, size_t len, char *err, size_t errlen)
{
    size_t n = strlen(ref);
    if (!n) {
        snprintf(err, errlen, "ext: names no manifest (expected ext:NAME or ext:PATH.ini)");
        return -1;
    }
    if (strchr(ref, '/') || (n > 4 && !strcmp(ref + n - 4, ".ini"))) {
        if ((size_t)snprintf(path, len, "%s", ref) >= len || access(path, R_OK) < 0) {
            snprintf(err, errlen, "ext:%s: cannot read the manifest (%s)", ref, strerror(errno));
            return -1;
        }
        return 0;
    }
    for (const char *c = ref; *c; c++)
        if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') ||
              ((*c | 32) >= 'a' && (*c | 32) <= 'z'))) {
            snprintf(err, errlen, "ext:%s: not a manifest's name (expected letters, digits, '-')",
                     ref);
            return -1;
        }
    snprintf(path, len, "engines/%s.ini", ref);
    if (access(path, R_OK) == 0)
        return 0;
    snprintf(path, len, "%s/engines/%s.ini", OVERLAP_SOURCE_DIR, ref);
    if (access(path, R_OK) == 0)
        return 0;
    snprintf(err, errlen, "ext:%s: no manifest engines/%s.ini here or in overlap's source tree",
             ref, ref);
    return -1;
}

/* ---- the manifest ---- */

struct reading {
    struct ext_manifest *m;
    char err[256];
    bool section, seen_command;
    char last[16]; /* the key of the line before: an indented line continues it */
};

/* An indented line continues the value before it (libinih calls again
 * with the same key): the pieces are joined with one space, as in the
 * workload and suite files. 1 when key continues the last line's. */
static int continues(struct reading *r, const char *key, char *dst, size_t len, const char *value)
{
    if (strcmp(key, r->last) != 0 || !dst[0])
        return 0;
    if (strlen(dst) + 1 + strlen(value) >= len) {
        snprintf(r->err, sizeof(r->err), "%s is over %zu characters", key, len - 1);
        return -1;
    }
    strcat(dst, " ");
    strcat(dst, value);
    return 1;
}

static int set_text(char *dst, size_t len, const char *key, const char *value, char *err,
                    size_t errlen)
{
    if (strlen(value) >= len) {
        snprintf(err, errlen, "%s is over %zu characters", key, len - 1);
        return -1;
    }
    snprintf(dst, len, "%s", value);
    return 0;
}

static int check_name(const char *v, char *err, size_t errlen)
{
    if (!*v) {
        snprintf(err, errlen, "name is empty (expected e.g. python-asyncio)");
        return -1;
    }
    for (const char *c = v; *c; c++)
        if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') ||
              ((*c | 32) >= 'a' && (*c | 32) <= 'z'))) {
            snprintf(err, errlen, "name '%s' has '%c' (expected letters, digits, '-', '_', '.')", v,
                     *c);
            return -1;
        }
    return 0;
}

/* `databases = overlap postgres`: which the server speaks; overlap db's
 * protocol always. */
static int parse_databases(struct ext_manifest *m, const char *value, char *e, size_t el)
{
    bool overlap = false;
    m->postgres = false;
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, " \t");
        if (n == 7 && !strncmp(p, "overlap", 7))
            overlap = true;
        else if (n == 8 && !strncmp(p, "postgres", 8))
            m->postgres = true;
        else if (n > 0) {
            snprintf(e, el, "unknown database '%.*s' (expected overlap, or overlap postgres)",
                     (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        p += n + strspn(p + n, " \t");
    }
    if (!overlap) {
        snprintf(e, el, "databases must name overlap (every engine speaks overlap db's protocol)");
        return -1;
    }
    return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct reading *r = user;
    struct ext_manifest *m = r->m;
    char *e = r->err;
    size_t el = sizeof(r->err);
    if (strcmp(section, "engine") != 0) {
        snprintf(e, el, "unknown section [%s] (expected [engine])", section);
        return 0;
    }
    r->section = true;
    char *joinable = !strcmp(key, "build")         ? m->build
                     : !strcmp(key, "command")     ? m->command
                     : !strcmp(key, "description") ? m->description
                     : !strcmp(key, "packages")    ? m->packages
                                                   : NULL;
    size_t cap = joinable == m->description ? sizeof(m->description)
                 : joinable == m->packages  ? sizeof(m->packages)
                                            : EXT_COMMAND_LEN;
    int joined = joinable ? continues(r, key, joinable, cap, value) : 0;
    snprintf(r->last, sizeof(r->last), "%s", key);
    if (joined)
        return joined > 0;
    if (!strcmp(key, "name"))
        return set_text(m->name, sizeof(m->name), key, value, e, el) == 0 &&
               check_name(value, e, el) == 0;
    if (!strcmp(key, "architecture")) {
        for (size_t i = 0; i < sizeof(architectures) / sizeof(architectures[0]); i++)
            if (!strcmp(value, architectures[i]))
                return set_text(m->architecture, sizeof(m->architecture), key, value, e, el) == 0;
        snprintf(e, el,
                 "unknown architecture '%s' (expected threads, event loop, coroutines, "
                 "goroutines or processes)",
                 value);
        return 0;
    }
    if (!strcmp(key, "description"))
        return set_text(m->description, sizeof(m->description), key, value, e, el) == 0;
    if (!strcmp(key, "packages"))
        return set_text(m->packages, sizeof(m->packages), key, value, e, el) == 0;
    if (!strcmp(key, "build"))
        return set_text(m->build, sizeof(m->build), key, value, e, el) == 0;
    if (!strcmp(key, "command")) {
        r->seen_command = true;
        return set_text(m->command, sizeof(m->command), key, value, e, el) == 0;
    }
    if (!strcmp(key, "databases"))
        return parse_databases(m, value, e, el) == 0;
    if (!strcmp(key, "workers")) {
        if (wl_count_parse(value, 1, 100000, &m->workers) < 0) {
            snprintf(e, el, "bad workers '%s' (expected a whole number, 1 to 100000)", value);
            return 0;
        }
        return 1;
    }
    snprintf(e, el,
             "unknown key '%s' (expected name, architecture, description, packages, databases, "
             "build, command or workers)",
             key);
    return 0;
}

/* Every placeholder of a template is one the contract names. */
static int check_template(const struct ext_manifest *m, const char *path, const char *key,
                          const char *tmpl, char *err, size_t errlen)
{
    static const struct ext_vars all = {
        .listen = "l", .db = "d", .workload = "w", .build = "b", .db_connections = 1};
    char out[EXT_COMMAND_LEN * 2], why[200];
    if (ext_expand(m, tmpl, &all, out, sizeof(out), why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s: %s", path, key, why);
        return -1;
    }
    return 0;
}

int ext_manifest_read(FILE *f, const char *path, struct ext_manifest *m, char *err, size_t errlen)
{
    struct reading r = {.m = m};
    int line = ini_parse_file(f, on_key, &r);
    if (line != 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line > 0 ? line : 0,
                 line < 0 ? "out of memory"
                 : r.err[0]
                     ? r.err
                     : "cannot parse this line (expected key = value or [engine], at most 198 "
                       "characters: a long value goes on on indented lines)");
        return -1;
    }
    const char *missing = !r.section                          ? "[engine]"
                          : !m->name[0]                       ? "name"
                          : !m->architecture[0]               ? "architecture"
                          : !r.seen_command || !m->command[0] ? "command"
                                                              : NULL;
    if (missing) {
        snprintf(err, errlen, "%s: no %s (expected name, architecture and command in [engine])",
                 path, missing);
        return -1;
    }
    if (!strstr(m->command, "{listen}") || !strstr(m->command, "{db}") ||
        !strstr(m->command, "{workload}")) {
        snprintf(err, errlen,
                 "%s: command must pass {listen}, {db} and {workload} (the server needs all "
                 "three)",
                 path);
        return -1;
    }
    return check_template(m, path, "command", m->command, err, errlen) < 0 ||
                   check_template(m, path, "build", m->build, err, errlen) < 0
               ? -1
               : 0;
}

int ext_manifest_load(const char *path, struct ext_manifest *m, char *err, size_t errlen)
{
    *m = (struct ext_manifest){.workers = 1};
    if (!realpath(path, m->path)) {
        snprintf(err, errlen, "%s: cannot read the manifest (%s)", path, strerror(errno));
        return -1;
    }
    if (strchr(m->path, '\'')) { /* the shell line quotes its folder with ' */
        snprintf(err, errlen, "%s: a manifest's path may not hold a quote", path);
        return -1;
    }
    snprintf(m->dir, sizeof(m->dir), "%s", m->path);
    *strrchr(m->dir, '/') = '\0';
    FILE *f = fopen(m->path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the manifest (%s)", path, strerror(errno));
        return -1;
    }
    int rc = ext_manifest_read(f, path, m, err, errlen);
    fclose(f);
    return rc;
}

/* ---- placeholders ---- */

bool ext_quote(char *out, size_t len, size_t *at, const char *s)
{
    size_t n = *at;
    if (n + 1 >= len)
        return false;
    out[n++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t k = piece ? 4 : 1;
        if (n + k + 1 >= len)
            return false;
        memcpy(out + n, piece ? piece : s, k);
        n += k;
    }
    if (n + 1 >= len)
        return false;
    out[n++] = '\'';
    out[n] = '\0';
    *at = n;
    return true;
}

int ext_fill(const char *tmpl, const struct ext_placeholder *ph, int n, char *out, size_t len,
             char *err, size_t errlen)
{
    size_t at = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p;) {
        if (*p != '{' || (p > tmpl && p[-1] == '$')) { /* `${VAR}` is the shell's */
            if (at + 1 >= len)
                goto full;
            out[at++] = *p++;
            out[at] = '\0';
            continue;
        }
        const char *end = strchr(p, '}');
        size_t k = end ? (size_t)(end - p - 1) : 0;
        int i = 0;
        if (!end || k == 0 || k >= 16) {
            snprintf(err, errlen, "a '{' that opens no placeholder (expected e.g. {%s})",
                     ph[0].name);
            return -1;
        }
        while (i < n && (strlen(ph[i].name) != k || strncmp(ph[i].name, p + 1, k) != 0))
            i++;
        if (i == n) {
            size_t w = (size_t)snprintf(err, errlen, "unknown placeholder {%.*s} (expected ",
                                        (int)k, p + 1);
            for (int j = 0; j < n && w < errlen; j++)
                w += (size_t)snprintf(err + w, errlen - w, "{%s}%s", ph[j].name,
                                      j == n - 1   ? ")"
                                      : j == n - 2 ? " or "
                                                   : ", ");
            return -1;
        }
        if (!ph[i].value) {
            snprintf(err, errlen, "{%s} has no value here", ph[i].name);
            return -1;
        }
        if (!ext_quote(out, len, &at, ph[i].value))
            goto full;
        p = end + 1;
    }
    return 0;
full:
    snprintf(err, errlen, "the command is over %zu characters once its placeholders are filled",
             len - 1);
    return -1;
}

int ext_expand(const struct ext_manifest *m, const char *tmpl, const struct ext_vars *v, char *out,
               size_t len, char *err, size_t errlen)
{
    char num[16], conns[16];
    snprintf(num, sizeof(num), "%d", v->workers > 0 ? v->workers : m->workers);
    snprintf(conns, sizeof(conns), "%d", v->db_connections);
    const struct ext_placeholder ph[] = {{"listen", v->listen},
                                         {"db", v->db},
                                         {"db_connections", v->db_connections > 0 ? conns : NULL},
                                         {"workload", v->workload},
                                         {"workers", num},
                                         {"build", v->build},
                                         {"dir", m->dir}};
    return ext_fill(tmpl, ph, (int)(sizeof(ph) / sizeof(ph[0])), out, len, err, errlen);
}
