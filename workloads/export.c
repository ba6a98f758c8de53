/* The workload for a server in another language (engines/README.md, section
 * 3): JSON any standard library reads, so an external engine needs neither
 * an INI parser nor the sampling code. overlap db holds each answer for its
 * query's latency; on PostgreSQL the server sends the query's SQL (in
 * PostgreSQL's form, each parameter cast to its type) after a pg_sleep of a
 * wait it picks from the query's table of equally likely waits. Either way
 * a server needs only uniform integers. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

static const char usage[] =
    "usage: overlap workload export FILE [--vary-cpu D] [--vary-wait D]\n"
    "  prints the workload as the JSON external engines read (engines/README.md)\n"
    "  --vary-cpu D    scale the cpu steps to D of CPU per request (a map cell)\n"
    "  --vary-wait D   scale each query's latency to the median D (a map cell)\n";

size_t wl_json_quote(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

static void put_text(FILE *f, const char *s)
{
    size_t n = strlen(s);
    char *q = malloc(6 * n + 2);
    if (!q) {
        fputs("\"\"", f);
        return;
    }
    fwrite(q, 1, wl_json_quote(q, s, n), f);
    free(q);
}

static void put_param(FILE *f, const struct wl_param *p)
{
    switch (p->kind) {
    case WL_PARAM_INT:
        fprintf(f, "{\"kind\":\"int\",\"lo\":%" PRId64 ",\"hi\":%" PRId64 "}", p->lo, p->hi);
        break;
    case WL_PARAM_INT_CONST: fprintf(f, "{\"kind\":\"int\",\"value\":%" PRId64 "}", p->lo); break;
    case WL_PARAM_REAL_CONST: fprintf(f, "{\"kind\":\"real\",\"value\":%.17g}", p->real); break;
    case WL_PARAM_TEXT_CONST:
        fputs("{\"kind\":\"text\",\"value\":", f);
        put_text(f, p->text);
        fputs("}", f);
        break;
    case WL_PARAM_NULL: fputs("{\"kind\":\"null\"}", f); break;
    }
}

/* A query's latency as WL_EXPORT_WAITS equally likely waits in ms, the
 * distribution's quantiles at the middles of as many equal slices of
 * probability (to its 99.95th percentile); one wait for a fixed latency. */
static void put_waits(FILE *f, const struct wl_dist *d)
{
    int n = d->kind == WL_DIST_FIXED ? 1 : WL_EXPORT_WAITS;
    fputs(",\"latency_ms\":[", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.9g", i ? "," : "", wl_dist_quantile(d, (i + 0.5) / n) / 1e6);
    fputs("]", f);
}

static void put_request(FILE *f, const struct wl_request *r)
{
    fputs("{\"name\":", f);
    put_text(f, r->name);
    /* a request's name is a path segment already (the loader holds it to
     * letters, digits, '_' and '-') */
    fprintf(f, ",\"path\":\"/%s\",\"render\":\"%s\",\"weight\":%.17g,\"steps\":[", r->name,
            r->render == WL_RENDER_HTML ? "html" : "json", r->weight);
    for (int i = 0; i < r->nsteps; i++) {
        const struct wl_step *s = &r->steps[i];
        if (s->kind == WL_STEP_CPU)
            fprintf(f, "%s{\"cpu_ns\":%" PRIu64 "}", i ? "," : "", s->cpu_ns);
        else
            fprintf(f, "%s{\"query\":%d}", i ? "," : "", s->query);
    }
    fputs("]}", f);
}

int wl_export_json(const struct wl_workload *wl, FILE *f)
{
    fputs("{\"workload\":", f);
    put_text(f, wl->name);
    fputs(",\n \"queries\":[", f);
    for (int i = 0; i < wl->nqueries; i++) {
        const struct wl_query *q = &wl->queries[i];
        fputs(i ? ",\n  {\"name\":" : "\n  {\"name\":", f);
        put_text(f, q->name);
        size_t cap = 12 * strlen(q->sql) + 1; /* `?` becomes at most `$16::float8` */
        char *sql = malloc(cap);
        if (!sql || wl_sql_placeholders(q->sql, q, sql, cap) < 0) {
            free(sql);
            return -ENOMEM;
        }
        fputs(",\"sql\":", f);
        put_text(f, sql);
        free(sql);
        fputs(",\"params\":[", f);
        for (int p = 0; p < q->nparams; p++) {
            fputs(p ? "," : "", f);
            put_param(f, &q->params[p]);
        }
        fputs("]", f);
        put_waits(f, &q->latency);
        fputs("}", f);
    }
    fputs("],\n \"requests\":[", f);
    for (int i = 0; i < wl->nrequests; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        put_request(f, &wl->requests[i]);
    }
    fputs("]}\n", f);
    return ferror(f) ? -EIO : 0;
}

int wl_export_main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t vary[2] = {0, 0};
    for (int i = 2; i < argc; i++) {
        int v = !strcmp(argv[i], "--vary-cpu") ? 0 : !strcmp(argv[i], "--vary-wait") ? 1 : -1;
        if (!strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (v >= 0 && i + 1 >= argc) {
            fprintf(stderr, "overlap workload export: %s needs a value\n%s", argv[i], usage);
            return 2;
        }
        if (v >= 0) {
            if (wl_duration_parse(argv[++i], &vary[v]) < 0 || vary[v] == 0) {
                fprintf(stderr,
                        "overlap workload export: bad duration for %s (expected more than 0, "
                        "e.g. 1ms)\n%s",
                        argv[i - 1], usage);
                return 2;
            }
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "overlap workload export: unexpected argument '%s'\n%s", argv[i],
                    usage);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "overlap workload export: a workload FILE is required\n%s", usage);
        return 2;
    }
    struct wl_workload *wl;
    char err[WL_ERR_LEN];
    if (wl_load(path, &wl, err, sizeof(err)) < 0 ||
        ((vary[0] || vary[1]) && wl_vary(wl, vary[0], vary[1], err, sizeof(err)) < 0)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int rc = wl_export_json(wl, stdout);
    wl_free(wl);
    return rc < 0 || fflush(stdout) != 0 ? 1 : 0;
}
