/* A run over several hosts: each runs `overlap load` as one agent of N.
 * --start-at opens every agent's window at one wall-clock moment (each
 * connects and warms up before it), --share gives each its part of the open
 * loop's schedule, and --hlog writes what it measured as HdrHistogram's
 * interval log, with the agent's summary in the log's header, for `overlap
 * merge` to add up. */
#define _GNU_SOURCE
#include "load_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hlog.h"

#define START_AHEAD_MAX_S 3600      /* further ahead, a --start-at is likelier a typo than a plan */
#define SHARE_MAX         1024      /* agents in one run */
#define SLEEP_SLICE_NS    100000000 /* a wait for --start-at checks for Ctrl-C this often */
#define COMMENT_LEN       128       /* a header line, as HdrHistogram's C reader reads it */

uint64_t load__epoch_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* In slices on the wall clock itself, so a clock stepped or slewed while
 * waiting still wakes on time, and Ctrl-C ends the wait. */
void load__sleep_until_epoch(uint64_t epoch_ns, volatile sig_atomic_t *stop)
{
    uint64_t now;
    while (!(stop && *stop) && (now = load__epoch_ns()) < epoch_ns) {
        uint64_t at = epoch_ns - now > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS : epoch_ns;
        struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
        clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
    }
}

/* `2024-05-01T12:00:00Z`, with an optional fraction of a second. */
static int parse_iso(const char *text, double *epoch_s)
{
    struct tm tm = {0};
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    double frac = 0;
    if (!p)
        return -1;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        if (end == p + 1)
            return -1;
        p = end;
    }
    if (strcmp(p, "Z") && strcmp(p, "+00:00"))
        return -1;
    *epoch_s = (double)timegm(&tm) + frac;
    return 0;
}

int load__parse_start_at(struct load_config *cfg, const char *text)
{
    double t = 0;
    char *end;
    errno = 0;
    if (strchr(text, 'T')) {
        if (parse_iso(text, &t) < 0)
            t = -1;
    } else {
        t = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(t))
            t = -1;
    }
    if (t <= 0 || t > 1e11) {
        fprintf(stderr,
                "overlap load: --start-at: bad time '%s' (expected epoch seconds such as "
                "1714564800.5, or UTC such as 2024-05-01T12:00:00Z)\n",
                text);
        return 2;
    }
    cfg->start_at_ns = (uint64_t)llround(t * 1e9);
    return 0;
}

int load__parse_share(struct load_config *cfg, const char *text)
{
    int i, n, used = 0;
    if (sscanf(text, "%d/%d%n", &i, &n, &used) != 2 || text[used] || text[0] == '+' || n < 1 ||
        n > SHARE_MAX || i < 0 || i >= n) {
        fprintf(stderr, "overlap load: --share: bad share '%s' (expected i/N, 0 <= i < N <= %d)\n",
                text, SHARE_MAX);
        return 2;
    }
    cfg->share_index = i;
    cfg->share_count = n;
    return 0;
}

int load__check_agent(struct load_config *cfg)
{
    if (cfg->share_count > 0) {
        if (cfg->rate <= 0) {
            fprintf(stderr, "overlap load: --share is for the open loop (expected --rate R)\n");
            return 2;
        }
        cfg->total_rate = cfg->rate;
        cfg->rate /= cfg->share_count;
    }
    if (!cfg->start_at_ns)
        return 0;
    double ahead = ((double)cfg->start_at_ns - (double)load__epoch_ns()) / 1e9;
    if (ahead <= cfg->warmup_ns / 1e9) {
        fprintf(stderr,
                "overlap load: --start-at: the time is %.3f s %s, which leaves no room for "
                "a %.3f s warmup (expected a time ahead)\n",
                fabs(ahead), ahead < 0 ? "past" : "ahead", cfg->warmup_ns / 1e9);
        return 2;
    }
    if (ahead > START_AHEAD_MAX_S) {
        fprintf(stderr,
                "overlap load: --start-at: the time is %.0f s ahead (expected at most %d s; "
                "a clock or a date off?)\n",
                ahead, START_AHEAD_MAX_S);
        return 2;
    }
    return 0;
}

/* ---- --hlog: the agent's interval log ---- */

/* The --csv header and row, one `name=value` comment per column: the
 * agent's summary, which the merge reads by column name. */
static int csv_comments(const struct load_config *c, const struct load_result *r,
                        char (*lines)[COMMENT_LEN], int max)
{
    char *buf = NULL, *save1, *save2;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int n = 0;
    if (!m)
        return -1;
    load__write_csv(m, c, r);
    if (fclose(m) != 0 || !buf)
        return free(buf), -1;
    char *row = strchr(buf, '\n');
    if (!row)
        return free(buf), -1;
    *row++ = '\0';
    row[strcspn(row, "\n")] = '\0';
    /* strsep keeps the empty cells (server_cpu_time_us without the metric) */
    for (save1 = buf, save2 = row; save1 && n < max; n++) {
        char *name = strsep(&save1, ","), *value = save2 ? strsep(&save2, ",") : NULL;
        snprintf(lines[n], COMMENT_LEN, "overlap csv: %s=%s", name, value ? value : "");
    }
    free(buf);
    return n;
}

static int write_intervals(FILE *f, const struct load_result *r)
{
    struct hist *h = hist_create();
    if (!h)
        return -1;
    for (int k = 0; k < r->nintervals; k++) {
        const struct load_interval *v = &r->intervals[k];
        hist_reset(h);
        hist_add_cells(h, v->cells, v->ncells);
        if (hlog_write_interval(f, NULL, v->end_s - v->length_s, v->length_s, h) < 0)
            break;
    }
    hist_destroy(h);
    /* the whole window's latency from the actual send, as its own series */
    return hlog_write_interval(f, "uncorrected", 0, r->window_s, r->uncorrected);
}

int load__write_hlog(FILE *f, const struct load_config *c, const struct load_result *r)
{
    int max = r->nintervals + 64, n = 0, rc = -1;
    char(*lines)[COMMENT_LEN] = calloc((size_t)max, sizeof(*lines));
    const char **ptrs = calloc((size_t)max, sizeof(*ptrs));
    uint64_t every = c->interval_ns ? c->interval_ns : LOAD_INTERVAL_NS;
    if (!lines || !ptrs)
        goto out;
    snprintf(lines[n++], COMMENT_LEN, "overlap agent: share=%d/%d total_rps=%.3f interval_s=%.6f",
             c->share_count ? c->share_index : 0, c->share_count ? c->share_count : 1,
             c->share_count ? c->total_rate : c->rate, every / 1e9);
    snprintf(lines[n++], COMMENT_LEN, "overlap start: window=%.6f requested=%.6f",
             r->window_epoch_ns / 1e9, c->start_at_ns / 1e9);
    int ncsv = csv_comments(c, r, lines + n, max - n - r->nintervals);
    if (ncsv < 0)
        goto out;
    n += ncsv;
    for (int k = 0; k < r->nintervals && n < max; k++)
        snprintf(lines[n++], COMMENT_LEN, "overlap interval: %d ok=%lu errors=%lu", k,
                 (unsigned long)r->intervals[k].ok, (unsigned long)r->intervals[k].errors);
    for (int i = 0; i < n; i++)
        ptrs[i] = lines[i];
    hlog_write_header(f, r->window_epoch_ns / 1e9, ptrs, n);
    rc = write_intervals(f, r);
out:
    free(lines);
    free(ptrs);
    return rc;
}
