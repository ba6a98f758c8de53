/* The workload's latency on PostgreSQL: the engines' clients send each
 * query with a latency after a `SELECT pg_sleep($1)` in the same implicit
 * transaction, so the server itself holds the backend for the wait.
 * pg_sleep overshoots what it is asked (it waits whole milliseconds on a
 * latch, then the scheduler wakes it late), so `overlap pg` measures that
 * overshoot once at start, keeps it in a table for the clients' db_check,
 * and refuses a latency too short for it rather than round it silently. */
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "proc.h"

/* What is measured: 20 sleeps of 1 ms and 10 of 10 ms, on one connection. */
static const struct {
    double asked_ms;
    int count;
} probes[PG_SLEEP_PROBES] = {{1.0, 20}, {10.0, 10}};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One probe's sleeps: their median and max overshoot in ms. 0 or -1. */
static int probe(PGconn *conn, double asked_ms, int count, double *median, double *max)
{
    double over[32];
    char secs[32];
    snprintf(secs, sizeof(secs), "%.6f", asked_ms / 1e3);
    const char *values[1] = {secs};
    for (int i = 0; i < count; i++) {
        uint64_t t0 = proc_now_ns();
        PGresult *r = PQexecPrepared(conn, PG_SLEEP_STMT, 1, values, NULL, NULL, 0);
        uint64_t t1 = proc_now_ns();
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!ok)
            return -1;
        over[i] = (double)(t1 - t0) / 1e6 - asked_ms;
    }
    qsort(over, (size_t)count, sizeof(over[0]), cmp_double);
    *median = count % 2 ? over[count / 2] : (over[count / 2 - 1] + over[count / 2]) / 2;
    *max = over[count - 1];
    return 0;
}

int pg_sleep_measure(PGconn *conn, struct pg_sleep_resolution *res, char *err, size_t len)
{
    char sql[256];
    PGresult *r = PQprepare(conn, PG_SLEEP_STMT, PG_SLEEP_SQL, 0, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = PQexec(conn, "CREATE TABLE " PG_SLEEP_TABLE
                     " (asked_ms float8 PRIMARY KEY, median_ms float8, max_ms float8,"
                     " samples int)");
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    res->n = 0;
    for (int i = 0; ok && i < PG_SLEEP_PROBES; i++) {
        res->asked_ms[i] = probes[i].asked_ms;
        ok = probe(conn, probes[i].asked_ms, probes[i].count, &res->median_ms[i],
                   &res->max_ms[i]) == 0;
        snprintf(sql, sizeof(sql), "INSERT INTO " PG_SLEEP_TABLE " VALUES (%g, %.3f, %.3f, %d)",
                 probes[i].asked_ms, res->median_ms[i], res->max_ms[i], probes[i].count);
        r = ok ? PQexec(conn, sql) : NULL;
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        res->n += ok;
    }
    r = PQexec(conn, "DEALLOCATE " PG_SLEEP_STMT);
    PQclear(r);
    if (!ok)
        snprintf(err, len, "overlap pg: measuring pg_sleep's resolution: %s", PQerrorMessage(conn));
    return ok ? 0 : -1;
}

int pg_sleep_read(PGconn *conn, struct pg_sleep_resolution *res)
{
    PGresult *r = PQexec(conn, "SELECT asked_ms, median_ms, max_ms FROM " PG_SLEEP_TABLE
                               " ORDER BY asked_ms");
    res->n = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r) && res->n < PG_SLEEP_PROBES; i++, res->n++) {
            res->asked_ms[i] = atof(PQgetvalue(r, i, 0));
            res->median_ms[i] = atof(PQgetvalue(r, i, 1));
            res->max_ms[i] = atof(PQgetvalue(r, i, 2));
        }
    PQclear(r);
    return res->n > 0 ? 0 : -1;
}

/* The probe nearest median_ms on a log scale. */
static int nearest(const struct pg_sleep_resolution *res, double median_ms)
{
    int best = 0;
    for (int i = 1; i < res->n; i++)
        if (fabs(log(median_ms / res->asked_ms[i])) < fabs(log(median_ms / res->asked_ms[best])))
            best = i;
    return best;
}

/* The line of a query's `latency =` in the workload's file: the first one
 * after its [query.NAME] header (at header_line), or the header's own. */
static int latency_line(const char *path, int header_line)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0, found = header_line;
    while (f && fgets(line, sizeof(line), f)) {
        if (++n <= header_line)
            continue;
        const char *p = line + strspn(line, " \t");
        if (*p == '[')
            break;
        if (!strncmp(p, "latency", 7) && strchr(" \t=", p[7])) {
            found = n;
            break;
        }
    }
    if (f)
        fclose(f);
    return found;
}

int pg_sleep_check(const struct wl_workload *wl, const struct pg_sleep_resolution *res, char *err,
                   size_t len)
{
    for (int q = 0; q < wl->nqueries; q++) {
        const struct wl_query *query = &wl->queries[q];
        double median_ms = wl_dist_median(&query->latency) / 1e6;
        if (median_ms <= 0)
            continue;
        int p = res->n > 0 ? nearest(res, median_ms) : -1;
        if (p >= 0 && median_ms >= PG_SLEEP_FACTOR * res->median_ms[p])
            continue;
        if (p < 0) {
            snprintf(err, len,
                     "%s:%d: query %s: no measure of pg_sleep's resolution to serve a "
                     "latency by (expected a server started by overlap pg)",
                     wl->path, latency_line(wl->path, query->line), query->name);
            return -EINVAL;
        }
        snprintf(err, len,
                 "%s:%d: query %s: PostgreSQL cannot serve a latency of median %.3f ms: pg_sleep "
                 "overshoots %g ms by %.3f ms (median measured at start), and a latency needs "
                 "a median of at least %d times that, %.3f ms (expected a longer latency, "
                 "latency = fixed 0, or database = overlap)",
                 wl->path, latency_line(wl->path, query->line), query->name, median_ms,
                 res->asked_ms[p], res->median_ms[p], PG_SLEEP_FACTOR,
                 PG_SLEEP_FACTOR * res->median_ms[p]);
        return -EINVAL;
    }
    return 0;
}
