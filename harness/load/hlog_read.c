/* Reading an interval log (.hlog) as HdrHistogram's readers do: `#[...]`
 * header lines (the format version, StartTime, BaseTime; the rest kept as
 * comments), the column names, then one line per interval,
 * `[Tag=T,]start,length,max,histogram`. Times in a log without a BaseTime
 * count from its StartTime, as Java's reader takes them. */
#define _GNU_SOURCE
#include "hlog.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMENTS 100000          /* header lines kept; overlap writes one per interval */
#define YEAR_S       (365 * 86400.0) /* Java's test for times that count from the epoch */

struct reader {
    const char *path;
    int line;
    char *err;
    size_t errlen;
};

static int bad(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    char what[HLOG_ERR_LEN];
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s:%d: %s", r->path, r->line, what);
    return -1;
}

static int keep_comment(struct reader *r, struct hlog_log *log, const char *text, size_t len)
{
    if (log->ncomments >= MAX_COMMENTS)
        return bad(r, "too many header lines (expected at most %d)", MAX_COMMENTS);
    if (!(log->ncomments % 64)) {
        size_t cap = (size_t)log->ncomments + 64;
        char **c = realloc(log->comments, cap * sizeof(*c));
        int *l = c ? realloc(log->comment_lines, cap * sizeof(*l)) : NULL;
        if (c)
            log->comments = c;
        if (!c || !l)
            return bad(r, "out of memory");
        log->comment_lines = l;
    }
    if (!(log->comments[log->ncomments] = strndup(text, len)))
        return bad(r, "out of memory");
    log->comment_lines[log->ncomments++] = r->line;
    return 0;
}

/* A `#[...]` line: a known key, or a comment kept for the caller. */
static int read_header(struct reader *r, struct hlog_log *log, const char *s, size_t len)
{
    if (len < 3 || s[1] != '[' || s[len - 1] != ']')
        return 0; /* a plain comment: readers skip it */
    const char *in = s + 2;
    size_t n = len - 3;
    double t;
    char *end;
    if (!strncmp(in, "Histogram log format version ", 29)) {
        if (sscanf(in + 29, "%d.%d", &log->major, &log->minor) != 2)
            return bad(r, "bad format version (expected M.m)");
        return 0;
    }
    if (!strncmp(in, "StartTime: ", 11) || !strncmp(in, "BaseTime: ", 10)) {
        bool start = in[0] == 'S';
        errno = 0;
        t = strtod(in + (start ? 11 : 10), &end);
        if (errno || end == in + (start ? 11 : 10) || !isfinite(t) || t < 0)
            return bad(r, "bad %s (expected seconds since the epoch)",
                       start ? "StartTime" : "BaseTime");
        *(start ? &log->start_time : &log->base_time) = t;
        return 0;
    }
    return keep_comment(r, log, in, n);
}

static int parse_number(const char **s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(*s, &end);
    if (errno || end == *s || *end != ',' || !isfinite(*v))
        return -1;
    *s = end + 1;
    return 0;
}

static int read_interval(struct reader *r, struct hlog_log *log, const char *s, size_t len)
{
    struct hlog_interval iv = {.line = r->line};
    const char *p = s;
    char err[HLOG_ERR_LEN];
    if (log->nintervals >= HLOG_MAX_INTERVALS)
        return bad(r, "too many intervals (expected at most %d)", HLOG_MAX_INTERVALS);
    if (!strncmp(p, "Tag=", 4)) {
        const char *comma = memchr(p + 4, ',', len - 4);
        if (!comma || comma - (p + 4) >= HLOG_TAG_LEN || comma == p + 4)
            return bad(r, "bad tag (expected Tag=NAME, a name under 64 characters)");
        memcpy(iv.tag, p + 4, (size_t)(comma - (p + 4)));
        p = comma + 1;
    }
    if (parse_number(&p, &iv.start_s) < 0 || parse_number(&p, &iv.length_s) < 0 ||
        parse_number(&p, &iv.max) < 0)
        return bad(r, "bad interval line (expected start,length,max,histogram)");
    if (iv.start_s < 0 || iv.length_s < 0)
        return bad(r, "negative start or length");
    if (hlog_decode(p, len - (size_t)(p - s), &iv.hist, err, sizeof(err)) < 0)
        return bad(r, "%s", err);
    if (!(log->nintervals % 64)) {
        struct hlog_interval *m =
            realloc(log->intervals, ((size_t)log->nintervals + 64) * sizeof(*m));
        if (!m) {
            hlog_hist_free(&iv.hist);
            return bad(r, "out of memory");
        }
        log->intervals = m;
    }
    log->intervals[log->nintervals++] = iv;
    return 0;
}

static int read_line(struct reader *r, struct hlog_log *log, char *s, size_t len)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    if (len == 0)
        return 0;
    if (strlen(s) != len)
        return bad(r, "a NUL byte in the line");
    if (s[0] == '#')
        return log->nintervals ? 0 : read_header(r, log, s, len);
    if (s[0] == '"')
        return 0; /* the column names */
    return read_interval(r, log, s, len);
}

int hlog_read(const char *path, struct hlog_log *log, char *err, size_t errlen)
{
    struct reader r = {path, 0, err, errlen};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    memset(log, 0, sizeof(*log));
    log->base_time = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        r.line++;
        rc = (size_t)n > HLOG_MAX_LINE ? bad(&r, "line over %u bytes", HLOG_MAX_LINE)
                                       : read_line(&r, log, line, (size_t)n);
    }
    if (rc == 0 && ferror(f))
        rc = bad(&r, "read error");
    if (rc == 0 && log->major != 1)
        rc = bad(&r, "no `#[Histogram log format version 1.x]` line (expected an .hlog)");
    free(line);
    fclose(f);
    /* Without a BaseTime, times count from StartTime, unless they are
     * themselves within a year of it: then they are epoch seconds. */
    if (log->base_time < 0)
        log->base_time = log->nintervals && log->intervals[0].start_s > log->start_time - YEAR_S
                             ? 0
                             : log->start_time;
    if (rc < 0)
        hlog_log_free(log);
    return rc;
}

void hlog_log_free(struct hlog_log *log)
{
    for (int i = 0; i < log->ncomments; i++)
        free(log->comments[i]);
    for (int i = 0; i < log->nintervals; i++)
        hlog_hist_free(&log->intervals[i].hist);
    free(log->comments);
    free(log->comment_lines);
    free(log->intervals);
    memset(log, 0, sizeof(*log));
}
