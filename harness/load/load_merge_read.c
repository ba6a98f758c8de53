/* `overlap merge`'s input: each agent's interval log, its overlap header
 * lines (the share, the window's wall-clock opening, the --csv row column by
 * column, each interval's successes and errors) and its histograms, then the
 * checks that the agents belong to one run before anything is added. */
#define _GNU_SOURCE
#include "load_merge.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int add_column(struct load__agent *a, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || a->ncols >= LOAD__MERGE_COLS)
        return -1;
    size_t at = 0;
    for (int i = 0; i < a->ncols; i++)
        at += strlen(a->names[i]) + strlen(a->values[i]) + 2;
    char *name = a->cells + at, *value = name + (eq - text) + 1;
    memcpy(name, text, (size_t)(eq - text));
    name[eq - text] = '\0';
    strcpy(value, eq + 1);
    a->names[a->ncols] = name;
    a->values[a->ncols++] = value;
    return 0;
}

static int add_row(struct load__agent *a, const char *text)
{
    int k, used = 0;
    unsigned long ok, errors;
    if (sscanf(text, "%d ok=%lu errors=%lu%n", &k, &ok, &errors, &used) != 3 || text[used] ||
        k != a->nrows || k >= LOAD_MAX_INTERVALS + 1)
        return -1;
    a->ok[k] = ok;
    a->errors[k] = errors;
    a->nrows++;
    return 0;
}

/* One of overlap's header lines; others are left alone. */
static int read_comment(struct load__agent *a, const char *c)
{
    int used = 0;
    if (!strncmp(c, "overlap agent: ", 15))
        return sscanf(c + 15, "share=%d/%d total_rps=%lf interval_s=%lf%n", &a->share_index,
                      &a->share_count, &a->total_rps, &a->interval_s, &used) == 4 &&
                       !c[15 + used] && a->share_count >= 1 && a->share_index >= 0 &&
                       a->share_index < a->share_count && a->interval_s > 0 &&
                       isfinite(a->interval_s)
                   ? 0
                   : -1;
    if (!strncmp(c, "overlap start: ", 15))
        return sscanf(c + 15, "window=%lf requested=%lf%n", &a->window_epoch_s, &a->requested_s,
                      &used) == 2 &&
                       !c[15 + used] && isfinite(a->window_epoch_s)
                   ? 0
                   : -1;
    if (!strncmp(c, "overlap csv: ", 13))
        return add_column(a, c + 13);
    if (!strncmp(c, "overlap interval: ", 18))
        return add_row(a, c + 18);
    return 0;
}

int load__agent_read(struct load__agent *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->path = path;
    a->share_count = -1;
    if (hlog_read(path, &a->log, err, errlen) < 0)
        return -1;
    size_t room = 0;
    for (int i = 0; i < a->log.ncomments; i++)
        room += strlen(a->log.comments[i]) + 2;
    a->cells = malloc(room + 1);
    a->ok = calloc(LOAD_MAX_INTERVALS + 1, sizeof(*a->ok));
    a->errors = calloc(LOAD_MAX_INTERVALS + 1, sizeof(*a->errors));
    if (!a->cells || !a->ok || !a->errors)
        return load__agent_free(a), hlog_fail(err, errlen, "%s: out of memory", path);
    for (int i = 0; i < a->log.ncomments; i++)
        if (read_comment(a, a->log.comments[i]) < 0) {
            hlog_fail(err, errlen, "%s:%d: bad overlap header line '%s'", path,
                      a->log.comment_lines[i], a->log.comments[i]);
            return load__agent_free(a), -1;
        }
    if (a->share_count < 1 || !a->window_epoch_s || !load__agent_text(a, "mode")) {
        hlog_fail(err, errlen,
                  "%s: no `overlap agent`, `overlap start` or `overlap csv` lines (expected a log "
                  "written by overlap load --hlog)",
                  path);
        return load__agent_free(a), -1;
    }
    for (int i = 0; i < a->log.nintervals; i++)
        if (!strcmp(a->log.intervals[i].tag, "uncorrected"))
            a->uncorrected = &a->log.intervals[i];
    return 0;
}

void load__agent_free(struct load__agent *a)
{
    hlog_log_free(&a->log);
    free(a->cells);
    free(a->ok);
    free(a->errors);
    a->cells = NULL;
    a->ok = a->errors = NULL;
}

const char *load__agent_text(const struct load__agent *a, const char *name)
{
    for (int i = 0; i < a->ncols; i++)
        if (!strcmp(a->names[i], name))
            return a->values[i];
    return NULL;
}

double load__agent_number(const struct load__agent *a, const char *name)
{
    const char *v = load__agent_text(a, name);
    char *end;
    if (!v || !*v)
        return NAN;
    errno = 0;
    double x = strtod(v, &end);
    return errno || *end ? NAN : x;
}

/* ---- one run? ---- */

static int check_params(const struct load__agent *a, int n, char *err, size_t errlen)
{
    const struct hlog_params *first = NULL;
    const char *first_path = NULL;
    char want[96], got[96];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < a[i].log.nintervals; k++) {
            const struct hlog_interval *v = &a[i].log.intervals[k];
            if (!first) {
                first = &v->hist.params;
                first_path = a[i].path;
            } else if (!hlog_params_equal(first, &v->hist.params)) {
                hlog_params_describe(first, want, sizeof(want));
                hlog_params_describe(&v->hist.params, got, sizeof(got));
                return hlog_fail(err, errlen,
                                 "%s:%d: histogram parameters %s differ from %s's (%s): its counts "
                                 "are not in the same buckets",
                                 a[i].path, v->line, got, first_path, want);
            }
        }
    return 0;
}

static int check_shares(const struct load__agent *a, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (a[i].share_count != a[0].share_count)
            return hlog_fail(err, errlen, "%s: share %d/%d, but %s's is of %d (expected one run)",
                             a[i].path, a[i].share_index, a[i].share_count, a[0].path,
                             a[0].share_count);
        for (int j = 0; j < i; j++)
            if (a[j].share_index == a[i].share_index && a[i].share_count > 1)
                return hlog_fail(err, errlen, "%s and %s are both share %d/%d", a[j].path,
                                 a[i].path, a[i].share_index, a[i].share_count);
    }
    if (a[0].share_count > 1 && n != a[0].share_count)
        return hlog_fail(err, errlen, "%d agents for shares of %d (expected all of one run)", n,
                         a[0].share_count);
    return 0;
}

static int check_same(const struct load__agent *a, int n, char *err, size_t errlen)
{
    static const char *const same[] = {"mode", "arrival", "duration_s", "warmup_s"};
    for (int i = 1; i < n; i++) {
        if (fabs(a[i].interval_s - a[0].interval_s) > 1e-9)
            return hlog_fail(err, errlen,
                             "%s: intervals of %.6f s, %s's of %.6f s (expected one --interval)",
                             a[i].path, a[i].interval_s, a[0].path, a[0].interval_s);
        for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
            const char *x = load__agent_text(&a[0], same[k]), *y = load__agent_text(&a[i], same[k]);
            if (!x || !y || strcmp(x, y))
                return hlog_fail(err, errlen, "%s: %s '%s', %s's '%s' (expected one run)",
                                 a[i].path, same[k], y ? y : "", a[0].path, x ? x : "");
        }
    }
    return 0;
}

int load__agents_check(const struct load__agent *a, int n, double max_skew_s, char *err,
                       size_t errlen)
{
    if (check_params(a, n, err, errlen) < 0 || check_shares(a, n, err, errlen) < 0 ||
        check_same(a, n, err, errlen) < 0)
        return -1;
    int lo = 0, hi = 0;
    for (int i = 1; i < n; i++) {
        lo = a[i].window_epoch_s < a[lo].window_epoch_s ? i : lo;
        hi = a[i].window_epoch_s > a[hi].window_epoch_s ? i : hi;
    }
    double skew = a[hi].window_epoch_s - a[lo].window_epoch_s;
    if (skew > max_skew_s)
        return hlog_fail(err, errlen,
                         "%s opened its window %.3f s after %s (expected at most %.3f s, "
                         "--max-skew): clocks or --start-at disagree",
                         a[hi].path, skew, a[lo].path, max_skew_s);
    return 0;
}
