/* A workload's SQL as PostgreSQL reads it: each `?` placeholder as $1, $2,
 * ..., and the type each parameter kind is sent as. Shared by overlap's
 * libpq clients (db/, pg/) and the JSON external engines read (export.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wl.h"

/* Where the quoted text, identifier or comment that starts at p ends (the
 * byte after it), or NULL when p starts none. A doubled quote inside quotes
 * reads as a close and a reopen, which ends in the same place. */
static const char *skip_quoted(const char *p)
{
    const char *end = NULL;
    if (*p == '\'' || *p == '"')
        end = strchr(p + 1, *p);
    else if (p[0] == '-' && p[1] == '-')
        end = strchr(p, '\n');
    else if (p[0] == '/' && p[1] == '*' && (end = strstr(p + 2, "*/")))
        end++;
    else
        return NULL;
    return end ? end + 1 : p + strlen(p);
}

const char *wl_param_sql_type(enum wl_param_kind kind)
{
    switch (kind) {
    case WL_PARAM_INT:
    case WL_PARAM_INT_CONST: return "int8";
    case WL_PARAM_REAL_CONST: return "float8";
    case WL_PARAM_TEXT_CONST: return "text";
    default: return NULL;
    }
}

int wl_sql_placeholders(const char *sql, const struct wl_query *typed, char *out, size_t len)
{
    size_t n = 0;
    int count = 0;
    for (const char *p = sql; *p;) {
        const char *end = skip_quoted(p);
        size_t k;
        if (end) {
            k = (size_t)(end - p);
            if (n + k >= len)
                return -ENOSPC;
            memcpy(out + n, p, k);
            p = end;
        } else if (*p == '?') {
            const char *type = typed && count < typed->nparams
                                   ? wl_param_sql_type(typed->params[count].kind)
                                   : NULL;
            int w = snprintf(out + n, len - n, "$%d%s%s", count + 1, type ? "::" : "",
                             type ? type : "");
            count++;
            if (w < 0 || n + (size_t)w >= len)
                return -ENOSPC;
            k = (size_t)w;
            p++;
        } else {
            if (n + 1 >= len)
                return -ENOSPC;
            out[n] = *p++;
            k = 1;
        }
        n += k;
    }
    if (n >= len)
        return -ENOSPC;
    out[n] = '\0';
    return count;
}
