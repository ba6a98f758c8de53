/* The workload loader's whole-file checks: once every section is read, the raw
 * texts of params, latency and steps become the workload's values, and what
 * refers to what (a step to its query, a placeholder to its params) is checked. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

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
            items[n++] = wl__trim(start);
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
        wl__fail(ld, q->line, "query %s has no sql (expected sql = SELECT ...)", q->name);
        return;
    }
    if (!(p->seen & K_LATENCY)) {
        wl__fail(ld, q->line,
                 "query %s has no latency (expected latency = fixed 10ms, "
                 "uniform A B, exponential MEAN or lognormal MEDIAN P99)",
                 q->name);
        return;
    }
    if (p->params && *p->params) {
        int n = split_list(p->params, items, WL_MAX_PARAMS);
        if (n > WL_MAX_PARAMS) {
            wl__fail(ld, p->params_line, "query %s: more than %d params", q->name, WL_MAX_PARAMS);
            return;
        }
        for (int k = 0; k < n; k++)
            if (parse_param(items[k], &q->params[k], msg, sizeof(msg)) < 0) {
                wl__fail(ld, p->params_line, "query %s: %s", q->name, msg);
                return;
            }
        q->nparams = n;
    }
    int holes = count_placeholders(q->sql);
    if (holes != q->nparams)
        wl__fail(ld, p->params_line ? p->params_line : q->line,
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
            wl__fail(ld, line,
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
            wl__fail(ld, line,
                     "request %s: query '%s' is not defined (expected a [query.%s] "
                     "section)",
                     r->name, w[1], w[1]);
            return -1;
        }
        int64_t k = 1;
        if (nw == 3 &&
            (w[2][0] != 'x' || parse_int(w[2] + 1, &k) < 0 || k < 1 || k > WL_MAX_REPEAT)) {
            wl__fail(ld, line, "request %s: bad repeat '%s' (expected x1 to x%d)", r->name, w[2],
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
    wl__fail(ld, line, "request %s: bad step '%s' (expected cpu DURATION or query NAME [xK])",
             r->name, nw ? w[0] : "");
    return -1;
too_many:
    wl__fail(ld, line, "request %s: more than %d steps", r->name, WL_MAX_STEPS);
    return -1;
}

static void finish_request(struct loader *ld, int i)
{
    struct wl_request *r = &ld->wl->requests[i];
    struct pending *p = &ld->pr[i];
    char *items[WL_MAX_STEPS + 1];
    if (!p->steps || !*p->steps) {
        wl__fail(ld, r->line,
                 "request %s has no steps (expected steps = cpu 500us, "
                 "query NAME, ...)",
                 r->name);
        return;
    }
    int n = split_list(p->steps, items, WL_MAX_STEPS);
    if (n > WL_MAX_STEPS) {
        wl__fail(ld, p->steps_line, "request %s: more than %d steps", r->name, WL_MAX_STEPS);
        return;
    }
    r->steps = calloc(WL_MAX_STEPS, sizeof(*r->steps));
    if (!r->steps) {
        wl__fail(ld, p->steps_line, "out of memory");
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
        wl__fail(ld, 1,
                 "no [database] section (expected [database] with dataset = "
                 "techempower or init = FILE.sql)");
        return;
    }
    if (!(ld->database_seen & (K_DATASET | K_INIT))) {
        wl__fail(ld, ld->database_line,
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
            wl__fail(ld, ld->init_line, "out of memory");
            return;
        }
        memcpy(full, wl->path, dir);
        strcpy(full + dir, wl->init_path);
        free(wl->init_path);
        wl->init_path = full;
    }
    FILE *f = fopen(wl->init_path, "r");
    if (!f) {
        wl__fail(ld, ld->init_line, "cannot read init script %s (%s)", wl->init_path,
                 strerror(errno));
        return;
    }
    fclose(f);
}

void wl__finish(struct loader *ld, int syntax_line)
{
    struct wl_workload *wl = ld->wl;
    if (syntax_line > 0)
        wl__fail(ld, syntax_line,
                 "cannot parse this line (expected key = value, [section] or a "
                 "comment)");
    finish_database(ld);
    for (int i = 0; i < wl->nqueries && !ld->failed; i++)
        finish_query(ld, i);
    if (!ld->failed && wl->nrequests == 0)
        wl__fail(ld, ld->line, "no request types (expected at least one [request.NAME] section)");
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
