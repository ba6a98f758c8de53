/* The timeline chart's tables: each config's first timeline run split into
 * the phases its server reported (Server-Timing), one segment a row, and
 * the requests' send and answer times, so the script draws bars without
 * parsing a header itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"

enum phase { PHASE_WAIT, PHASE_QUEUE, PHASE_CPU, PHASE_DB, PHASE_OTHER };
static const char *phase_name[] = {"wait", "queue", "cpu", "db", "other"};

/* Reads the next phase from a Server-Timing list, in either the header's own
 * form (`cpu;dur=0.5, db;dur=10.1`) or the compact `cpu:0.5;db:10.1`.
 * Returns where the next one starts, or NULL at the end. */
static const char *next_phase(const char *p, enum phase *kind, double *ms)
{
    while (*p && !(*p >= 'a' && *p <= 'z'))
        p++;
    if (!*p)
        return NULL;
    size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
    *kind = len == 5 && !strncmp(p, "queue", 5) ? PHASE_QUEUE
            : len == 3 && !strncmp(p, "cpu", 3) ? PHASE_CPU
            : len == 2 && !strncmp(p, "db", 2)  ? PHASE_DB
                                                : PHASE_OTHER;
    p += len;
    if (!strncmp(p, ";dur=", 5))
        p += 5;
    else if (*p == ':')
        p++;
    char *end;
    *ms = strtod(p, &end);
    if (!(*ms >= 0) || *ms > 1e9)
        *ms = 0; /* a phase the server could not have spent: drawn as nothing */
    return end;
}

/* One answered timeline request, laid out in ms from the config's first
 * intended send time. */
struct tl_request {
    int request;
    double intended, sent, done, server_end;
    const char *phases;
};

/* Writes one request's bars: `wait` from its intended send time until the
 * server began on it, then the phases the server reported, placed so they end
 * when the first byte of the response arrived (the server's clock and ours
 * are not the same clock, so only durations travel). */
static void write_segments(FILE *seg, int e, const char *engine, const struct tl_request *q)
{
    double total = 0, ms;
    enum phase kind;
    for (const char *p = q->phases; (p = next_phase(p, &kind, &ms));)
        total += ms;
    double at = q->server_end - total;
    if (at < q->sent)
        at = q->sent;
    if (at > q->intended)
        fprintf(seg, "%d,%s,%d,%.3f,%.3f,%s,%d\n", e + 1, engine, q->request, q->intended, at,
                phase_name[PHASE_WAIT], PHASE_WAIT);
    for (const char *p = q->phases; (p = next_phase(p, &kind, &ms)); at += ms)
        fprintf(seg, "%d,%s,%d,%.3f,%.3f,%s,%d\n", e + 1, engine, q->request, at, at + ms,
                phase_name[kind], kind);
}

/* The timeline run a config's chart shows: its first. Repeats of the
 * scenario would lay their requests over each other on one time axis. */
static double first_run(const struct csv_table *t, const char *engine)
{
    double first = NAN;
    for (int r = 0; r < t->nrows; r++)
        if (!strcmp(csv_get(t, r, "engine"), engine) &&
            (isnan(first) || csv_num(t, r, "run") < first))
            first = csv_num(t, r, "run");
    return first;
}

/* Lays out config e's requests of its first timeline run; returns how many. */
static int layout_config(FILE *seg, FILE *req, const struct csv_table *t, int e, const char *engine,
                         struct tl_extent *x)
{
    double run = first_run(t, engine), origin = NAN;
    int count = 0;
    for (int r = 0; r < t->nrows; r++)
        if (!strcmp(csv_get(t, r, "engine"), engine) && csv_num(t, r, "run") == run &&
            (isnan(origin) || csv_num(t, r, "intended_us") < origin))
            origin = csv_num(t, r, "intended_us");
    for (int r = 0; r < t->nrows; r++) {
        if (strcmp(csv_get(t, r, "engine"), engine) || csv_num(t, r, "run") != run)
            continue;
        double done_us = csv_num(t, r, "done_us"), first_us = csv_num(t, r, "first_byte_us");
        struct tl_request q = {
            .request = atoi(csv_get(t, r, "request")),
            .intended = (csv_num(t, r, "intended_us") - origin) / 1e3,
            .sent = (csv_num(t, r, "sent_us") - origin) / 1e3,
            .done = (done_us - origin) / 1e3,
            .server_end = ((first_us > 0 ? first_us : done_us) - origin) / 1e3,
            .phases = csv_get(t, r, "phases"),
        };
        count++;
        x->requests = q.request > x->requests ? q.request : x->requests;
        x->end_ms = fmax(x->end_ms, done_us > 0 ? q.done : q.sent);
        if (done_us <= 0) {
            fprintf(req, "%d,%s,%d,%.3f,%.3f,-1,-1\n", e + 1, engine, q.request, q.intended,
                    q.sent);
            continue;
        }
        fprintf(req, "%d,%s,%d,%.3f,%.3f,%.3f,%.3f\n", e + 1, engine, q.request, q.intended, q.sent,
                q.done, q.done - q.intended);
        write_segments(seg, e, engine, &q);
    }
    return count;
}

/* Writes timeline-segments.csv (one row per bar piece) and
 * timeline-requests.csv (one row per request, with its response time; an
 * unanswered request has done_ms -1), and measures their extent. Returns the
 * number of requests, 0 when the folder has no timeline, or -errno. */
int plot__derive_timeline(const struct plot__folder *f, struct tl_extent *x)
{
    char path[PATH_MAX];
    struct csv_table t;
    snprintf(path, sizeof(path), "%s/timeline.csv", f->dir);
    int have = csv_load(path, &t) == 0;
    snprintf(path, sizeof(path), "%s/timeline-segments.csv", f->dir);
    FILE *seg = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", f->dir);
    FILE *req = fopen(path, "w");
    int count = 0, status = seg && req ? 0 : -EIO;
    if (seg)
        fprintf(seg, "engine_index,engine,request,start_ms,end_ms,phase,phase_index\n");
    if (req)
        fprintf(req, "engine_index,engine,request,intended_ms,sent_ms,done_ms,response_ms\n");
    for (int e = 0; have && status == 0 && e < f->n; e++)
        count += layout_config(seg, req, &t, e, f->engines[e], x);
    if (seg && fclose(seg) != 0)
        status = -EIO;
    if (req && fclose(req) != 0)
        status = -EIO;
    csv_free(&t);
    return status < 0 ? status : count;
}
