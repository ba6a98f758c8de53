/* Engine specs: see config.h. Errors read `engine 'SPEC': what is wrong
 * (what was expected)`. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

static int engine_key(struct bench_engine *e, const char *key, const char *value, char *err,
                      size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    int numeric = end != value && !*end && !errno && v >= 0 && v <= 100000;
    bool pool = e->kind == BENCH_POOL, uring = e->kind == BENCH_URING;
    if (e->kind == BENCH_EXT) {
        bool workers = !strcmp(key, "workers"), conns = !strcmp(key, "db_connections");
        if (!(workers || conns) || !numeric || v == 0 || (conns && v > 10000)) {
            snprintf(err, errlen,
                     "engine '%s': bad setting '%s=%s' (expected workers=N, 1 to "
                     "100000, or db_connections=N, 1 to 10000)",
                     e->spec, key, value);
            return -1;
        }
        *(workers ? &e->workers : &e->db_connections) = (int)v;
        return 0;
    }
    if (pool && !strcmp(key, "mode") &&
        (!strcmp(value, "request") || !strcmp(value, "connection") || !strcmp(value, "leader"))) {
        snprintf(e->mode, sizeof(e->mode), "%s", value);
    } else if (uring && !strcmp(key, "mode") &&
               (!strcmp(value, "poll") || !strcmp(value, "ops") || !strcmp(value, "multishot") ||
                !strcmp(value, "defer"))) {
        snprintf(e->mode, sizeof(e->mode), "%s", value); /* the ladder's step */
    } else if (pool && !strcmp(key, "workers") && numeric) {
        e->workers = (int)v;
    } else if (pool && !strcmp(key, "queue") && numeric && v > 0) {
        e->queue = (int)v;
    } else if (!pool && !strcmp(key, "loops") && numeric && v > 0 && v <= 1024) {
        e->loops = (int)v;
    } else if (!pool && !strcmp(key, "db_conns") && numeric && v > 0 && v <= 1024) {
        e->db_conns = (int)v;
    } else if (!strcmp(key, "db_connections") && numeric && v > 0 && v <= 10000) {
        e->db_connections = (int)v;
    } else {
        snprintf(err, errlen, "engine '%s': bad setting '%s=%s' (expected %s)", e->spec, key, value,
                 pool ? "workers=N, queue=N, mode=request|connection|leader or "
                        "db_connections=N (1 to 10000)"
                      : "loops=N or db_conns=N, 1 to 1024, db_connections=N, 1 to 10000, or "
                        "for uring mode=poll|ops|multishot|defer");
        return -1;
    }
    return 0;
}

const char *bench_kind_name(enum bench_kind kind)
{
    return kind == BENCH_ASYNC   ? "async"
           : kind == BENCH_CORO  ? "coro"
           : kind == BENCH_URING ? "uring"
           : kind == BENCH_EXT   ? "ext"
                                 : "pool";
}

int bench_parse_engine(const char *text, struct bench_engine *e, char *err, size_t errlen)
{
    char buf[BENCH_SPEC_LEN];
    memset(e, 0, sizeof(*e));
    e->workers = -1;
    if (strlen(text) >= sizeof(e->spec) || strpbrk(text, " \t\"'\\")) {
        snprintf(
            err, errlen,
            "bad engine '%.64s' (expected pool[:workers=N,...], async[:loops=N], coro[:loops=N] "
            "or uring[:loops=N,mode=...])",
            text);
        return -1;
    }
    /* the name in every output: settings joined by ';', so a CSV field never
     * holds a comma (gnuplot reads no quoted fields) and the name parses back */
    snprintf(e->spec, sizeof(e->spec), "%s", text);
    for (char *p = e->spec; *p; p++)
        *p = *p == ',' ? ';' : *p;
    snprintf(buf, sizeof(buf), "%s", text);
    char *settings = strchr(buf, ':'), *save;
    if (settings)
        *settings++ = '\0';
    if (!strcmp(buf, "ext")) {
        /* the manifest, up to the settings' ':' */
        char *ref = settings ? settings : buf + strlen(buf);
        settings = strchr(ref, ':');
        if (settings)
            *settings++ = '\0';
        if (!*ref) {
            snprintf(err, errlen,
                     "engine '%s': names no manifest (expected ext:NAME or "
                     "ext:PATH.ini)",
                     text);
            return -1;
        }
        e->kind = BENCH_EXT;
        snprintf(e->ext, sizeof(e->ext), "%s", ref);
    } else if (!strcmp(buf, "async")) {
        e->kind = BENCH_ASYNC;
    } else if (!strcmp(buf, "coro")) {
        e->kind = BENCH_CORO;
    } else if (!strcmp(buf, "uring")) {
        e->kind = BENCH_URING;
    } else if (strcmp(buf, "pool") != 0) {
        snprintf(
            err, errlen,
            "bad engine '%s' (expected pool[:workers=N,...], async[:loops=N], "
            "coro[:loops=N], uring[:loops=N,mode=...] or ext:NAME[:workers=N,db_connections=N])",
            text);
        return -1;
    }
    for (char *kv = settings ? strtok_r(settings, ",;", &save) : NULL; kv;
         kv = strtok_r(NULL, ",;", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "engine '%s': setting '%s' has no value (expected key=value)",
                     text, kv);
            return -1;
        }
        *eq = '\0';
        if (engine_key(e, kv, eq + 1, err, errlen) < 0)
            return -1;
    }
    if (e->kind == BENCH_POOL && e->workers == 0 && strcmp(e->mode, "connection") != 0) {
        snprintf(err, errlen, "engine '%s': workers=0 needs mode=connection", text);
        return -1;
    }
    return 0;
}

int bench_config_workers(const struct bench_engine *e)
{
    if (e->kind != BENCH_POOL)
        return 0;
    int workers = e->workers == 0 ? 0 : e->workers > 0 ? e->workers : SERVE_DEFAULT_WORKERS;
    if (e->db_budget > 0 && (workers == 0 || e->db_budget < workers))
        workers = e->db_budget;
    return workers;
}

int bench_config_connections(const struct bench_engine *e)
{
    return e->kind == BENCH_ASYNC || e->kind == BENCH_CORO || e->kind == BENCH_URING ? e->db_budget
                                                                                     : 0;
}

/* ---- labels ---- */

/* Appends one more setting to a label: " with X" first, " and X" after. */
static void label_add(char *out, size_t len, int *extras, const char *fmt, int value)
{
    size_t at = strlen(out);
    if (at + 1 >= len)
        return;
    at += (size_t)snprintf(out + at, len - at, "%s", (*extras)++ ? " and " : " with ");
    if (at < len)
        snprintf(out + at, len - at, fmt, value);
}

/* "pool of 64 threads", "thread per connection", and how its threads take
 * their requests when the spec says (mode). */
static void pool_label(const struct bench_engine *e, char *out, size_t len)
{
    int n = e->workers > 0 ? e->workers : SERVE_DEFAULT_WORKERS;
    if (e->workers == 0)
        snprintf(out, len, "thread per connection");
    else if (!strcmp(e->mode, "connection"))
        snprintf(out, len, "pool of %d thread%s by connection", n, n == 1 ? "" : "s");
    else if (!strcmp(e->mode, "leader"))
        snprintf(out, len, "pool of %d thread%s as leader and followers", n, n == 1 ? "" : "s");
    else
        snprintf(out, len, "pool of %d thread%s", n, n == 1 ? "" : "s");
}

/* "event loop", "2 event loops", "coroutines on 2 loops", "io_uring loop
 * (multishot)". */
static void loop_label(const struct bench_engine *e, char *out, size_t len)
{
    const char *plural = e->loops == 1 ? "" : "s";
    if (e->kind == BENCH_CORO && e->loops > 0)
        snprintf(out, len, "coroutines on %d loop%s", e->loops, plural);
    else if (e->kind == BENCH_CORO)
        snprintf(out, len, "coroutines");
    else if (e->loops > 1)
        snprintf(out, len, "%d %s loops", e->loops, e->kind == BENCH_URING ? "io_uring" : "event");
    else
        snprintf(out, len, "%s loop", e->kind == BENCH_URING ? "io_uring" : "event");
    size_t at = strlen(out);
    if (e->kind == BENCH_URING && e->mode[0] && at < len)
        snprintf(out + at, len - at, " (%s)", e->mode);
}

/* An external engine by its manifest's file name: `python-asyncio` for
 * ext:python-asyncio and ext:engines/python-asyncio.ini alike. */
static void ext_label(const struct bench_engine *e, char *out, size_t len)
{
    const char *slash = strrchr(e->ext, '/'), *name = slash ? slash + 1 : e->ext;
    size_t n = strlen(name);
    if (n > 4 && !strcmp(name + n - 4, ".ini"))
        n -= 4;
    snprintf(out, len, "%.*s", (int)n, name);
}

void bench_config_label(const struct bench_engine *e, char *out, size_t len)
{
    int extras = 0;
    if (e->kind == BENCH_POOL)
        pool_label(e, out, len);
    else if (e->kind == BENCH_ASYNC || e->kind == BENCH_CORO || e->kind == BENCH_URING)
        loop_label(e, out, len);
    else if (e->kind == BENCH_EXT)
        ext_label(e, out, len);
    else
        snprintf(out, len, "%s", e->spec); /* a kind without a name of its own */
    if (e->kind == BENCH_EXT && e->workers > 0)
        label_add(out, len, &extras, "%d workers", e->workers);
    if (e->kind == BENCH_POOL && e->queue > 0)
        label_add(out, len, &extras, "a queue of %d", e->queue);
    if (e->db_conns > 0)
        label_add(out, len, &extras, "%d db connections a loop", e->db_conns);
    if (e->db_connections > 0)
        label_add(out, len, &extras, "%d db connections", e->db_connections);
}

void bench_spec_label(const char *spec, char *out, size_t len)
{
    struct bench_engine e;
    char err[256];
    if (bench_parse_engine(spec, &e, err, sizeof(err)) == 0)
        bench_config_label(&e, out, len);
    else
        snprintf(out, len, "%s", spec);
}

int bench_label_valid(const char *text)
{
    size_t n = strlen(text);
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f || strchr(",;'\"\\", *p))
            return 0;
    return n > 0 && n < BENCH_LABEL_LEN;
}

void bench_labels_distinct(char (*labels)[BENCH_LABEL_LEN], const char *const *specs, int n)
{
    char shared[BENCH_LABELS_MAX];
    n = n < BENCH_LABELS_MAX ? n : BENCH_LABELS_MAX;
    for (int i = 0; i < n; i++) {
        shared[i] = 0;
        for (int j = 0; j < n; j++)
            shared[i] |= i != j && !strcmp(labels[i], labels[j]);
    }
    for (int i = 0; i < n; i++) {
        size_t at = strlen(labels[i]);
        if (!shared[i] || at >= BENCH_LABEL_LEN)
            continue;
        snprintf(labels[i] + at, BENCH_LABEL_LEN - at, " (%s)", specs[i]);
        for (char *p = labels[i] + at; *p; p++) /* a spec's ';' between settings */
            *p = *p == ';' ? ' ' : *p;
    }
}
