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

enum section { SEC_NONE, SEC_WORKLOAD, SEC_DATABASE, SEC_QUERY, SEC_REQUEST };

/* Keys we have seen in the current entity, to refuse duplicates. */
enum key_bit {
    K_NAME = 1 << 0,
    K_DESCRIPTION = 1 << 1,
    K_DATASET = 1 << 2,
    K_INIT = 1 << 3,
    K_SQL = 1 << 4,
    K_PARAMS = 1 << 5,
    K_LATENCY = 1 << 6,
    K_WEIGHT = 1 << 7,
    K_STEPS = 1 << 8,
    K_RENDER = 1 << 9,
};

/* What a key's text becomes once the whole file is read. */
struct pending {
    unsigned seen;
    char *params; /* query: raw params text */
    int params_line;
    int latency_line;
    char *steps; /* request: raw steps text */
    int steps_line;
};

struct loader {
    struct wl_workload *wl;
    FILE *f;
    char *buf;
    size_t cap;
    int line;
    bool continuation; /* the line being parsed continues the previous key */
    enum section sec;
    int index; /* current query or request */
    char last_key[32];
    int workload_line, database_line, dataset_line, init_line;
    unsigned workload_seen, database_seen;
    struct pending *pq, *pr; /* parallel to wl->queries and wl->requests */
    bool failed;
    char *err;
    size_t errlen;
};

static void fail(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct loader *ld, int line, const char *fmt, ...)
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

static char *trim(char *s)
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
        fail(ld, ld->line, "duplicate query '%.*s' (first defined at line %d)", (int)len, name,
             wl->queries[prev].line);
        return -1;
    }
    int n = wl->nqueries;
    struct wl_query *q = realloc(wl->queries, (n + 1) * sizeof(*q));
    struct pending *p = q ? realloc(ld->pq, (n + 1) * sizeof(*p)) : NULL;
    if (q)
        wl->queries = q;
    if (!p) {
        fail(ld, ld->line, "out of memory");
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
        fail(ld, ld->line, "duplicate request '%.*s' (first defined at line %d)", (int)len, name,
             wl->requests[prev].line);
        return -1;
    }
    if (len == strlen("plaintext") && memcmp(name, "plaintext", len) == 0) {
        fail(ld, ld->line, "request name 'plaintext' is reserved (the server's no-work route)");
        return -1;
    }
    int n = wl->nrequests;
    struct wl_request *r = realloc(wl->requests, (n + 1) * sizeof(*r));
    struct pending *p = r ? realloc(ld->pr, (n + 1) * sizeof(*p)) : NULL;
    if (r)
        wl->requests = r;
    if (!p) {
        fail(ld, ld->line, "out of memory");
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
        fail(ld, ld->line, "bad name '%.*s' (expected 1 to %d letters, digits, '_' or '-')",
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
        fail(ld, ld->line, "unterminated section header (expected [name])");
        return;
    }
    size_t len = end - header;
    ld->last_key[0] = '\0';
    if (len == 8 && memcmp(header, "workload", 8) == 0) {
        if (ld->workload_line)
            fail(ld, ld->line, "duplicate [workload] (first at line %d)", ld->workload_line);
        ld->workload_line = ld->line;
        ld->sec = SEC_WORKLOAD;
    } else if (len == 8 && memcmp(header, "database", 8) == 0) {
        if (ld->database_line)
            fail(ld, ld->line, "duplicate [database] (first at line %d)", ld->database_line);
        ld->database_line = ld->line;
        ld->sec = SEC_DATABASE;
    } else if ((len > 6 && memcmp(header, "query.", 6) == 0) ||
               (len > 8 && memcmp(header, "request.", 8) == 0)) {
        on_named_section(ld, header, len);
    } else {
        fail(ld, ld->line,
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
        fail(ld, ld->line,
             "line longer than %d characters (continue a long value on an "
             "indented line)",
             num - 2);
        return NULL;
    }
    if (memchr(ld->buf, '\0', n)) {
        fail(ld, ld->line, "NUL byte in line (expected text)");
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
        fail(ld, ld->line, "duplicate key '%s'", key);
        return false;
    }
    *seen |= bit;
    return true;
}

static char *dup_or_fail(struct loader *ld, const char *s)
{
    char *d = strdup(s);
    if (!d)
        fail(ld, ld->line, "out of memory");
    return d;
}

/* Appends an indented continuation line to a value that may span lines. */
static void append(struct loader *ld, char **value, const char *more)
{
    size_t a = *value ? strlen(*value) : 0, b = strlen(more);
    char *s = realloc(*value, a + b + 2);
    if (!s) {
        fail(ld, ld->line, "out of memory");
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
        fail(ld, ld->line, "unknown key '%s' in [workload] (expected name or description)", name);
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
            fail(ld, ld->line, "unknown dataset '%s' (expected techempower or none)", value);
    } else if (!strcmp(name, "init")) {
        if (!once(ld, &ld->database_seen, K_INIT, name))
            return;
        ld->init_line = ld->line;
        wl->init_path = dup_or_fail(ld, value);
    } else {
        fail(ld, ld->line, "unknown key '%s' in [database] (expected dataset or init)", name);
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
            fail(ld, ld->line, "query %s: latency: %s", q->name, msg);
    } else {
        fail(ld, ld->line, "unknown key '%s' in [query.%s] (expected sql, params or latency)", name,
             q->name);
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
            fail(ld, ld->line, "request %s: bad weight '%s' (expected a number > 0)", r->name,
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
            fail(ld, ld->line, "request %s: unknown render '%s' (expected json or html)", r->name,
                 value);
    } else {
        fail(ld, ld->line, "unknown key '%s' in [request.%s] (expected weight, steps or render)",
             name, r->name);
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
        fail(ld, ld->line,
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
        fail(ld, ld->line, "key '%s' before any section (expected a [section] first)", name);
        break;
    case SEC_WORKLOAD: on_workload_key(ld, name, value); break;
    case SEC_DATABASE: on_database_key(ld, name, value); break;
    case SEC_QUERY: on_query_key(ld, name, value); break;
    case SEC_REQUEST: on_request_key(ld, name, value); break;
    }
    return !ld->failed;
}

/* ---- whole-file checks, once every section is read ---- */

/* Splits a comma-separated list in place, honouring double quotes. */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    bool quoted = false;
    char *start = s;
    for (char *p = s;; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p == '\0' || (*p == ',' && !quoted)) {
            bool last = *p == '\0';
            *p = '\0';
            if (n == max)
                return max + 1;
            items[n++] = trim(start);
            if (last)
                return n;
            start = p + 1;
        }
    }
}

static int parse_int(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_param(const char *text, struct wl_param *p, char *msg, size_t len)
{
    char buf[256], *w[4];
    snprintf(buf, sizeof(buf), "%s", text);
    if (!strcmp(text, "null")) {
        p->kind = WL_PARAM_NULL;
        return 0;
    }
    if (!strncmp(text, "const ", 6)) {
        const char *v = text + 6;
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            p->kind = WL_PARAM_TEXT_CONST;
            p->text = strndup(v + 1, vl - 2);
            return p->text ? 0 : -1;
        }
        if (parse_int(v, &p->lo) == 0) {
            p->kind = WL_PARAM_INT_CONST;
            return 0;
        }
        char *end;
        p->real = strtod(v, &end);
        if (end != v && !*end) {
            p->kind = WL_PARAM_REAL_CONST;
            return 0;
        }
        snprintf(msg, len, "bad constant '%s' (expected an integer, a number or \"text\")", v);
        return -1;
    }
    int n = 0;
    for (char *t = strtok(buf, " \t"); t && n < 4; t = strtok(NULL, " \t"))
        w[n++] = t;
    if (n == 3 && !strcmp(w[0], "int") && parse_int(w[1], &p->lo) == 0 &&
        parse_int(w[2], &p->hi) == 0) {
        if (p->hi < p->lo) {
            snprintf(msg, len, "int range %s %s is empty (expected MIN <= MAX)", w[1], w[2]);
            return -1;
        }
        p->kind = WL_PARAM_INT;
        return 0;
    }
    snprintf(msg, len, "bad parameter '%s' (expected int MIN MAX, const VALUE or null)", text);
    return -1;
}

/* Counts `?` placeholders outside quoted SQL strings and identifiers. */
static int count_placeholders(const char *sql)
{
    int n = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?') {
            n++;
        }
    }
    return n;
}

static void finish_query(struct loader *ld, int i)
{
    struct wl_query *q = &ld->wl->queries[i];
    struct pending *p = &ld->pq[i];
    char *items[WL_MAX_PARAMS + 1], msg[WL_ERR_LEN];
    if (!(p->seen & K_SQL)) {
        fail(ld, q->line, "query %s has no sql (expected sql = SELECT ...)", q->name);
        return;
    }
    if (!(p->seen & K_LATENCY)) {
        fail(ld, q->line,
             "query %s has no latency (expected latency = fixed 10ms, "
             "uniform A B, exponential MEAN or lognormal MEDIAN P99)",
             q->name);
        return;
    }
    if (p->params && *p->params) {
        int n = split_list(p->params, items, WL_MAX_PARAMS);
        if (n > WL_MAX_PARAMS) {
            fail(ld, p->params_line, "query %s: more than %d params", q->name, WL_MAX_PARAMS);
            return;
        }
        for (int k = 0; k < n; k++)
            if (parse_param(items[k], &q->params[k], msg, sizeof(msg)) < 0) {
                fail(ld, p->params_line, "query %s: %s", q->name, msg);
                return;
            }
        q->nparams = n;
    }
    int holes = count_placeholders(q->sql);
    if (holes != q->nparams)
        fail(ld, p->params_line ? p->params_line : q->line,
             "query %s: sql has %d '?' placeholder%s but params gives %d (expected one "
             "param per '?')",
             q->name, holes, holes == 1 ? "" : "s", q->nparams);
}

static int parse_step(struct loader *ld, struct wl_request *r, char *text, int line,
                      struct wl_step *steps, int n)
{
    char *w[4];
    int nw = 0;
    for (char *t = strtok(text, " \t"); t; t = strtok(NULL, " \t"))
        if (nw < 4)
            w[nw++] = t;
        else
            nw = 5;
    uint64_t ns;
    if (nw == 2 && !strcmp(w[0], "cpu")) {
        if (wl_duration_parse(w[1], &ns) < 0) {
            fail(ld, line,
                 "request %s: bad duration '%s' (expected a number and a unit: "
                 "250ns, 500us, 10ms, 1.5s)",
                 r->name, w[1]);
            return -1;
        }
        if (n >= WL_MAX_STEPS)
            goto too_many;
        steps[n] = (struct wl_step){.kind = WL_STEP_CPU, .cpu_ns = ns};
        return n + 1;
    }
    if ((nw == 2 || nw == 3) && !strcmp(w[0], "query")) {
        int q = wl_find_query(ld->wl, w[1], strlen(w[1]));
        if (q < 0) {
            fail(ld, line,
                 "request %s: query '%s' is not defined (expected a [query.%s] "
                 "section)",
                 r->name, w[1], w[1]);
            return -1;
        }
        int64_t k = 1;
        if (nw == 3 &&
            (w[2][0] != 'x' || parse_int(w[2] + 1, &k) < 0 || k < 1 || k > WL_MAX_REPEAT)) {
            fail(ld, line, "request %s: bad repeat '%s' (expected x1 to x%d)", r->name, w[2],
                 WL_MAX_REPEAT);
            return -1;
        }
        for (int64_t j = 0; j < k; j++, n++) {
            if (n >= WL_MAX_STEPS)
                goto too_many;
            steps[n] = (struct wl_step){.kind = WL_STEP_QUERY, .query = q};
        }
        return n;
    }
    fail(ld, line, "request %s: bad step '%s' (expected cpu DURATION or query NAME [xK])", r->name,
         nw ? w[0] : "");
    return -1;
too_many:
    fail(ld, line, "request %s: more than %d steps", r->name, WL_MAX_STEPS);
    return -1;
}

static void finish_request(struct loader *ld, int i)
{
    struct wl_request *r = &ld->wl->requests[i];
    struct pending *p = &ld->pr[i];
    char *items[WL_MAX_STEPS + 1];
    if (!p->steps || !*p->steps) {
        fail(ld, r->line,
             "request %s has no steps (expected steps = cpu 500us, "
             "query NAME, ...)",
             r->name);
        return;
    }
    int n = split_list(p->steps, items, WL_MAX_STEPS);
    if (n > WL_MAX_STEPS) {
        fail(ld, p->steps_line, "request %s: more than %d steps", r->name, WL_MAX_STEPS);
        return;
    }
    r->steps = calloc(WL_MAX_STEPS, sizeof(*r->steps));
    if (!r->steps) {
        fail(ld, p->steps_line, "out of memory");
        return;
    }
    int nsteps = 0;
    for (int k = 0; k < n && nsteps >= 0; k++)
        nsteps = parse_step(ld, r, items[k], p->steps_line, r->steps, nsteps);
    r->nsteps = nsteps < 0 ? 0 : nsteps;
    ld->wl->total_weight += r->weight;
}

/* The init script's path, relative to the workload file's folder. */
static void finish_database(struct loader *ld)
{
    struct wl_workload *wl = ld->wl;
    if (!ld->database_line) {
        fail(ld, 1,
             "no [database] section (expected [database] with dataset = "
             "techempower or init = FILE.sql)");
        return;
    }
    if (!(ld->database_seen & (K_DATASET | K_INIT))) {
        fail(ld, ld->database_line,
             "[database] names no data (expected dataset = "
             "techempower or init = FILE.sql)");
        return;
    }
    if (!wl->init_path)
        return;
    const char *slash = strrchr(wl->path, '/');
    if (wl->init_path[0] != '/' && slash) {
        size_t dir = slash - wl->path + 1;
        char *full = malloc(dir + strlen(wl->init_path) + 1);
        if (!full) {
            fail(ld, ld->init_line, "out of memory");
            return;
        }
        memcpy(full, wl->path, dir);
        strcpy(full + dir, wl->init_path);
        free(wl->init_path);
        wl->init_path = full;
    }
    FILE *f = fopen(wl->init_path, "r");
    if (!f) {
        fail(ld, ld->init_line, "cannot read init script %s (%s)", wl->init_path, strerror(errno));
        return;
    }
    fclose(f);
}

static void finish(struct loader *ld, int syntax_line)
{
    struct wl_workload *wl = ld->wl;
    if (syntax_line > 0)
        fail(ld, syntax_line,
             "cannot parse this line (expected key = value, [section] or a "
             "comment)");
    finish_database(ld);
    for (int i = 0; i < wl->nqueries && !ld->failed; i++)
        finish_query(ld, i);
    if (!ld->failed && wl->nrequests == 0)
        fail(ld, ld->line, "no request types (expected at least one [request.NAME] section)");
    for (int i = 0; i < wl->nrequests && !ld->failed; i++)
        finish_request(ld, i);
    if (!ld->failed && !wl->name) {
        const char *base = strrchr(wl->path, '/');
        base = base ? base + 1 : wl->path;
        const char *dot = strrchr(base, '.');
        wl->name = strndup(base, dot && dot > base ? (size_t)(dot - base) : strlen(base));
    }
    if (!ld->failed && !wl->description)
        wl->description = strdup("");
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
    finish(&ld, syntax_line);
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

int wl_pick_request(const struct wl_workload *wl, struct wl_rng *rng)
{
    double x = wl_rng_double(rng) * wl->total_weight;
    for (int i = 0; i < wl->nrequests; i++) {
        x -= wl->requests[i].weight;
        if (x < 0)
            return i;
    }
    return wl->nrequests - 1;
}

double wl_request_cpu_ns(const struct wl_workload *wl, int request)
{
    const struct wl_request *r = &wl->requests[request];
    double sum = 0;
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i].kind == WL_STEP_CPU)
            sum += (double)r->steps[i].cpu_ns;
    return sum;
}

double wl_request_wait_ns(const struct wl_workload *wl, int request)
{
    const struct wl_request *r = &wl->requests[request];
    double sum = 0;
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i].kind == WL_STEP_QUERY)
            sum += wl_dist_mean(&wl->queries[r->steps[i].query].latency);
    return sum;
}

static double weighted_mean(const struct wl_workload *wl,
                            double (*per_request)(const struct wl_workload *, int))
{
    double sum = 0;
    for (int i = 0; i < wl->nrequests; i++)
        sum += wl->requests[i].weight * per_request(wl, i);
    return sum / wl->total_weight;
}

double wl_mean_cpu_ns(const struct wl_workload *wl)
{
    return weighted_mean(wl, wl_request_cpu_ns);
}

double wl_mean_wait_ns(const struct wl_workload *wl)
{
    return weighted_mean(wl, wl_request_wait_ns);
}

double wl_bound_rps(const struct wl_workload *wl, double clients, double workers, double cores)
{
    double c = wl_mean_cpu_ns(wl) / 1e9, w = wl_mean_wait_ns(wl) / 1e9;
    double bound = 1e300;
    if (c + w > 0 && clients > 0)
        bound = clients / (c + w);
    if (c + w > 0 && workers > 0 && workers / (c + w) < bound)
        bound = workers / (c + w);
    if (c > 0 && cores > 0 && cores / c < bound)
        bound = cores / c;
    return bound;
}
