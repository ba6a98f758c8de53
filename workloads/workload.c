/* The workload loader: an INI file read with libinih into a validated
 * struct wl_workload. Every mistake becomes one `FILE:LINE: what is wrong
 * (what was expected)` message; nothing is defaulted silently.
 *
 * libinih does the INI syntax. Line numbers come from our own line reader
 * (ini_parse_stream), which also sees section headers as they pass, so empty
 * or unknown sections are caught at their own line. Values that may be long
 * (sql, params, steps, description) continue on indented lines. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

#include "loader.h"

void wl__fail(struct loader *ld, int line, const char *fmt, ...)
{
    if (ld->failed)
        return;
    ld->failed = true;
    int n = snprintf(ld->err, ld->errlen, "%s:%d: ", ld->wl->path, line);
    if (n < 0 || (size_t)n >= ld->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
    va_end(ap);
}

char *wl__trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= WL_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static int find_name(const char *names, size_t stride, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++) {
        const char *s = names + i * stride;
        if (strlen(s) == len && memcmp(s, name, len) == 0)
            return i;
    }
    return -1;
}

int wl_find_request(const struct wl_workload *wl, const char *name, size_t len)
{
    return find_name(wl->requests->name, sizeof(*wl->requests), wl->nrequests, name, len);
}

int wl_find_query(const struct wl_workload *wl, const char *name, size_t len)
{
    if (wl->nqueries == 0)
        return -1;
    return find_name(wl->queries->name, sizeof(*wl->queries), wl->nqueries, name, len);
}

/* ---- sections ---- */

static int add_query(struct loader *ld, const char *name, size_t len)
{
    struct wl_workload *wl = ld->wl;
    int prev = wl_find_query(wl, name, len);
    if (prev >= 0) {
        wl__fail(ld, ld->line, "duplicate query '%.*s' (first defined at line %d)", (int)len, name,
                 wl->queries[prev].line);
        return -1;
    }
    int n = wl->nqueries;
    struct wl_query *q = realloc(wl->queries, (n + 1) * sizeof(*q));
    struct pending *p = q ? realloc(ld->pq, (n + 1) * sizeof(*p)) : NULL;
    if (q)
        wl->queries = q;
    if (!p) {
        wl__fail(ld, ld->line, "out of memory");
        return -1;
    }
    ld->pq = p;
    memset(&q[n], 0, sizeof(q[n]));
    memset(&p[n], 0, sizeof(p[n]));
    memcpy(q[n].name, name, len);
    q[n].line = ld->line;
    wl->nqueries = n + 1;
    return n;
}

static int add_request(struct loader *ld, const char *name, size_t len)
{
    struct wl_workload *wl = ld->wl;
    int prev = wl->nrequests ? wl_find_request(wl, name, len) : -1;
    if (prev >= 0) {
        wl__fail(ld, ld->line, "duplicate request '%.*s' (first defined at line %d)", (int)len,
                 name, wl->requests[prev].line);
        return -1;
    }
    if (len == strlen("plaintext") && memcmp(name, "plaintext", len) == 0) {
        wl__fail(ld, ld->line, "request name 'plaintext' is reserved (the server's no-work route)");
        return -1;
    }
    int n = wl->nrequests;
    struct wl_request *r = realloc(wl->requests, (n + 1) * sizeof(*r));
    struct pending *p = r ? realloc(ld->pr, (n + 1) * sizeof(*p)) : NULL;
    if (r)
        wl->requests = r;
    if (!p) {
        wl__fail(ld, ld->line, "out of memory");
        return -1;
    }
    ld->pr = p;
    memset(&r[n], 0, sizeof(r[n]));
    memset(&p[n], 0, sizeof(p[n]));
    memcpy(r[n].name, name, len);
    r[n].line = ld->line;
    r[n].weight = 1;
    wl->nrequests = n + 1;
    return n;
}

/* A named section: [query.NAME] or [request.NAME]. */
static void on_named_section(struct loader *ld, const char *header, size_t len)
{
    bool query = len > 6 && memcmp(header, "query.", 6) == 0;
    size_t skip = query ? 6 : 8;
    const char *name = header + skip;
    size_t nlen = len - skip;
    if (!valid_name(name, nlen)) {
        wl__fail(ld, ld->line, "bad name '%.*s' (expected 1 to %d letters, digits, '_' or '-')",
                 (int)nlen, name, WL_MAX_NAME - 1);
        return;
    }
    ld->sec = query ? SEC_QUERY : SEC_REQUEST;
    ld->index = query ? add_query(ld, name, nlen) : add_request(ld, name, nlen);
}

static void on_section(struct loader *ld, char *header)
{
    char *end = strchr(header, ']');
    if (!end) {
        wl__fail(ld, ld->line, "unterminated section header (expected [name])");
        return;
    }
    size_t len = end - header;
    ld->last_key[0] = '\0';
    if (len == 8 && memcmp(header, "workload", 8) == 0) {
        if (ld->workload_line)
            wl__fail(ld, ld->line, "duplicate [workload] (first at line %d)", ld->workload_line);
        ld->workload_line = ld->line;
        ld->sec = SEC_WORKLOAD;
    } else if (len == 8 && memcmp(header, "database", 8) == 0) {
        if (ld->database_line)
            wl__fail(ld, ld->line, "duplicate [database] (first at line %d)", ld->database_line);
        ld->database_line = ld->line;
        ld->sec = SEC_DATABASE;
    } else if ((len > 6 && memcmp(header, "query.", 6) == 0) ||
               (len > 8 && memcmp(header, "request.", 8) == 0)) {
        on_named_section(ld, header, len);
    } else {
        wl__fail(ld, ld->line,
                 "unknown section [%.*s] (expected [workload], [database], "
                 "[query.NAME] or [request.NAME])",
                 (int)len, header);
    }
}

/* inih's line reader, ours so that we know the line number of every key. */
static char *read_line(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    if (ld->failed)
        return NULL;
    ssize_t n = getline(&ld->buf, &ld->cap, ld->f);
    if (n < 0)
        return NULL;
    ld->line++;
    if (n >= num) {
        wl__fail(ld, ld->line,
                 "line longer than %d characters (continue a long value on an "
                 "indented line)",
                 num - 2);
        return NULL;
    }
    if (memchr(ld->buf, '\0', n)) {
        wl__fail(ld, ld->line, "NUL byte in line (expected text)");
        return NULL;
    }
    memcpy(str, ld->buf, n + 1);
    char *start = ld->buf;
    while (*start == ' ' || *start == '\t')
        start++;
    bool blank = *start == '\0' || *start == '\n' || *start == '\r';
    bool comment = *start == ';' || *start == '#';
    ld->continuation = start > ld->buf && !blank && !comment && ld->last_key[0];
    if (*start == '[' && !ld->continuation)
        on_section(ld, start + 1);
    return str;
}

/* ---- keys ---- */

static bool once(struct loader *ld, unsigned *seen, unsigned bit, const char *key)
{
    if (*seen & bit) {
        wl__fail(ld, ld->line, "duplicate key '%s'", key);
        return false;
    }
    *seen |= bit;
    return true;
}

static char *dup_or_fail(struct loader *ld, const char *s)
{
    char *d = strdup(s);
    if (!d)
        wl__fail(ld, ld->line, "out of memory");
    return d;
}

/* Appends an indented continuation line to a value that may span lines. */
static void append(struct loader *ld, char **value, const char *more)
{
    size_t a = *value ? strlen(*value) : 0, b = strlen(more);
    char *s = realloc(*value, a + b + 2);
    if (!s) {
        wl__fail(ld, ld->line, "out of memory");
        return;
    }
    if (a)
        s[a++] = ' ';
    memcpy(s + a, more, b + 1);
    *value = s;
}

static void on_workload_key(struct loader *ld, const char *name, const char *value)
{
    struct wl_workload *wl = ld->wl;
    if (!strcmp(name, "name")) {
        if (once(ld, &ld->workload_seen, K_NAME, name))
            wl->name = dup_or_fail(ld, value);
    } else if (!strcmp(name, "description")) {
        if (once(ld, &ld->workload_seen, K_DESCRIPTION, name))
            wl->description = dup_or_fail(ld, value);
    } else {
        wl__fail(ld, ld->line, "unknown key '%s' in [workload] (expected name or description)",
                 name);
    }
}

static void on_database_key(struct loader *ld, const char *name, const char *value)
{
    struct wl_workload *wl = ld->wl;
    if (!strcmp(name, "dataset")) {
        if (!once(ld, &ld->database_seen, K_DATASET, name))
            return;
        ld->dataset_line = ld->line;
        if (!strcmp(value, "techempower"))
            wl->dataset = WL_DATASET_TECHEMPOWER;
        else if (!strcmp(value, "none"))
            wl->dataset = WL_DATASET_NONE;
        else
            wl__fail(ld, ld->line, "unknown dataset '%s' (expected techempower or none)", value);
    } else if (!strcmp(name, "init")) {
        if (!once(ld, &ld->database_seen, K_INIT, name))
            return;
        ld->init_line = ld->line;
        wl->init_path = dup_or_fail(ld, value);
    } else {
        wl__fail(ld, ld->line, "unknown key '%s' in [database] (expected dataset or init)", name);
    }
}

static void on_query_key(struct loader *ld, const char *name, const char *value)
{
    struct wl_query *q = &ld->wl->queries[ld->index];
    struct pending *p = &ld->pq[ld->index];
    char msg[WL_ERR_LEN];
    if (!strcmp(name, "sql")) {
        if (once(ld, &p->seen, K_SQL, name))
            q->sql = dup_or_fail(ld, value);
    } else if (!strcmp(name, "params")) {
        if (once(ld, &p->seen, K_PARAMS, name)) {
            p->params = dup_or_fail(ld, value);
            p->params_line = ld->line;
        }
    } else if (!strcmp(name, "latency")) {
        if (!once(ld, &p->seen, K_LATENCY, name))
            return;
        p->latency_line = ld->line;
        if (wl_dist_parse(value, &q->latency, msg, sizeof(msg)) < 0)
            wl__fail(ld, ld->line, "query %s: latency: %s", q->name, msg);
    } else {
        wl__fail(ld, ld->line, "unknown key '%s' in [query.%s] (expected sql, params or latency)",
                 name, q->name);
    }
}

static void on_request_key(struct loader *ld, const char *name, const char *value)
{
    struct wl_request *r = &ld->wl->requests[ld->index];
    struct pending *p = &ld->pr[ld->index];
    if (!strcmp(name, "weight")) {
        if (!once(ld, &p->seen, K_WEIGHT, name))
            return;
        char *end;
        errno = 0;
        r->weight = strtod(value, &end);
        if (errno || end == value || *end || !(r->weight > 0) || r->weight > 1e9)
            wl__fail(ld, ld->line, "request %s: bad weight '%s' (expected a number > 0)", r->name,
                     value);
    } else if (!strcmp(name, "steps")) {
        if (once(ld, &p->seen, K_STEPS, name)) {
            p->steps = dup_or_fail(ld, value);
            p->steps_line = ld->line;
        }
    } else if (!strcmp(name, "render")) {
        if (!once(ld, &p->seen, K_RENDER, name))
            return;
        if (!strcmp(value, "json"))
            r->render = WL_RENDER_JSON;
        else if (!strcmp(value, "html"))
            r->render = WL_RENDER_HTML;
        else
            wl__fail(ld, ld->line, "request %s: unknown render '%s' (expected json or html)",
                     r->name, value);
    } else {
        wl__fail(ld, ld->line,
                 "unknown key '%s' in [request.%s] (expected weight, steps or render)", name,
                 r->name);
    }
}

static void on_continuation(struct loader *ld, const char *name, const char *value)
{
    char **target = NULL;
    if (ld->sec == SEC_WORKLOAD && !strcmp(name, "description"))
        target = &ld->wl->description;
    else if (ld->sec == SEC_QUERY && !strcmp(name, "sql"))
        target = &ld->wl->queries[ld->index].sql;
    else if (ld->sec == SEC_QUERY && !strcmp(name, "params"))
        target = &ld->pq[ld->index].params;
    else if (ld->sec == SEC_REQUEST && !strcmp(name, "steps"))
        target = &ld->pr[ld->index].steps;
    if (!target) {
        wl__fail(ld, ld->line,
                 "indented line continues '%s', which takes one line (only "
                 "description, sql, params and steps continue)",
                 name);
        return;
    }
    append(ld, target, value);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct loader *ld = user;
    if (ld->failed)
        return 0;
    if (ld->continuation) {
        on_continuation(ld, name, value);
        return !ld->failed;
    }
    snprintf(ld->last_key, sizeof(ld->last_key), "%s", name);
    switch (ld->sec) {
    case SEC_NONE:
        wl__fail(ld, ld->line, "key '%s' before any section (expected a [section] first)", name);
        break;
    case SEC_WORKLOAD: on_workload_key(ld, name, value); break;
    case SEC_DATABASE: on_database_key(ld, name, value); break;
    case SEC_QUERY: on_query_key(ld, name, value); break;
    case SEC_REQUEST: on_request_key(ld, name, value); break;
    }
    return !ld->failed;
}

int wl_load(const char *path, struct wl_workload **out, char *err, size_t errlen)
{
    struct loader ld = {.err = err, .errlen = errlen};
    ld.wl = calloc(1, sizeof(*ld.wl));
    if (!ld.wl || !(ld.wl->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    ld.f = fopen(path, "r");
    if (!ld.f) {
        snprintf(err, errlen, "%s: cannot read workload (%s)", path, strerror(errno));
        goto fail;
    }
    int syntax_line = ini_parse_stream(read_line, &ld, on_key, &ld);
    wl__finish(&ld, syntax_line);
    if (ld.failed)
        goto fail;
    fclose(ld.f);
    for (int i = 0; i < ld.wl->nqueries; i++)
        free(ld.pq[i].params);
    for (int i = 0; i < ld.wl->nrequests; i++)
        free(ld.pr[i].steps);
    free(ld.pq);
    free(ld.pr);
    free(ld.buf);
    *out = ld.wl;
    return 0;
fail:
    if (ld.f)
        fclose(ld.f);
    for (int i = 0; ld.wl && i < ld.wl->nqueries; i++)
        free(ld.pq[i].params);
    for (int i = 0; ld.wl && i < ld.wl->nrequests; i++)
        free(ld.pr[i].steps);
    free(ld.pq);
    free(ld.pr);
    free(ld.buf);
    wl_free(ld.wl);
    return -1;
}

void wl_free(struct wl_workload *wl)
{
    if (!wl)
        return;
    for (int i = 0; i < wl->nqueries; i++) {
        free(wl->queries[i].sql);
        for (int k = 0; k < WL_MAX_PARAMS; k++)
            free(wl->queries[i].params[k].text);
    }
    for (int i = 0; i < wl->nrequests; i++)
        free(wl->requests[i].steps);
    free(wl->queries);
    free(wl->requests);
    free(wl->path);
    free(wl->name);
    free(wl->description);
    free(wl->init_path);
    free(wl);
}
