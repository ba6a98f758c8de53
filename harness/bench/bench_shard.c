/* A sweep split into shards (`overlap bench --shard I/N`): which planned
 * runs each shard runs, and the plan's fingerprint that tells the merge the
 * shards' folders are of one sweep. Pure functions of the plan, like
 * bench_plan.c: nothing here starts a process or reads a clock. */
#include "bench_plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a count of 1 to BENCH__MAX_SHARDS from s: digits only, no sign or
 * space. The characters read, or 0 when there is no such number. */
static size_t read_count(const char *s, int *out)
{
    size_t n = 0;
    long v = 0;
    while (s[n] >= '0' && s[n] <= '9' && v <= BENCH__MAX_SHARDS)
        v = v * 10 + (s[n++] - '0');
    if (n == 0 || (s[n] >= '0' && s[n] <= '9') || v < 1 || v > BENCH__MAX_SHARDS)
        return 0;
    *out = (int)v;
    return n;
}

int bench__shard_parse(const char *s, int *index, int *count, char *err, size_t errlen)
{
    int i = 0, n = 0;
    size_t a = read_count(s, &i);
    size_t b = a && s[a] == '/' ? read_count(s + a + 1, &n) : 0;
    if (!b || s[a + 1 + b] != '\0') {
        snprintf(err, errlen,
                 "--shard '%s': expected I/N, two whole numbers with 1 <= I <= N <= %d (e.g. 2/3)",
                 s, BENCH__MAX_SHARDS);
        return -1;
    }
    if (i > n) {
        snprintf(err, errlen, "--shard '%s': shard %d of %d does not exist (expected 1 to %d)", s,
                 i, n, n);
        return -1;
    }
    *index = i;
    *count = n;
    return 0;
}

/* A point: every repeat of one (config, loop, clients, rate). */
static int same_point(const struct bench__run *a, const struct bench__run *b)
{
    return a->engine == b->engine && a->kind == b->kind && a->clients == b->clients &&
           a->rate == b->rate && a->cell == b->cell;
}

struct point_cost {
    long long us; /* the planned cost of all its runs, in whole µs: ties compare exactly */
    int index;    /* the point's order of first appearance in the plan */
};

/* Longest first; among equals, the point planned first. A total order, so
 * qsort's result does not depend on its algorithm. */
static int by_cost(const void *a, const void *b)
{
    const struct point_cost *x = a, *y = b;
    if (x->us != y->us)
        return x->us > y->us ? -1 : 1;
    return x->index - y->index;
}

/* Greedy longest-first: each point, the longest first, goes to the shard
 * with the least planned time so far (the lowest numbered among equals).
 * Every shard then ends within one point's time of every other. */
int bench__shard_assign(const struct bench__plan *p, int nshards, int *shard)
{
    int n = p->nruns, npoints = 0;
    int *point = malloc(((size_t)n + 1) * 2 * sizeof(int)), *first = point + n + 1;
    struct point_cost *cost = calloc((size_t)n + 1, sizeof(*cost));
    long long *load = calloc((size_t)nshards, sizeof(*load));
    int *owner = calloc((size_t)n + 1, sizeof(int));
    int rc = point && cost && load && owner ? 0 : -ENOMEM;
    for (int k = 0; rc == 0 && k < n; k++) {
        int j = 0;
        while (j < npoints && !same_point(&p->runs[first[j]], &p->runs[k]))
            j++;
        if (j == npoints) {
            first[npoints] = k;
            cost[npoints].index = npoints;
            npoints++;
        }
        point[k] = j;
        cost[j].us += llround(bench__run_cost_s(p, &p->runs[k]) * 1e6);
    }
    if (rc == 0)
        qsort(cost, (size_t)npoints, sizeof(*cost), by_cost);
    for (int j = 0; rc == 0 && j < npoints; j++) {
        int least = 0;
        for (int s = 1; s < nshards; s++)
            least = load[s] < load[least] ? s : least;
        owner[cost[j].index] = least + 1;
        load[least] += cost[j].us;
    }
    for (int k = 0; rc == 0 && k < n; k++)
        shard[k] = owner[point[k]];
    free(point);
    free(cost);
    free(load);
    free(owner);
    return rc;
}

/* FNV-1a, 64 bits: a fingerprint, not a defence against forgery. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

uint64_t bench__plan_hash(const struct bench__plan *p)
{
    char line[BENCH_SPEC_LEN + 160];
    uint64_t h = 14695981039346656037ULL;
    snprintf(line, sizeof(line), "%s %d %d\n", p->suite->name, p->ncores, p->nruns);
    h = fnv(h, line);
    for (int k = 0; k < p->nruns; k++) {
        const struct bench__run *r = &p->runs[k];
        snprintf(line, sizeof(line), "%s %d %d %.3f %d %d %.6f %.6f\n",
                 p->suite->engines[r->engine].spec, (int)r->kind, r->clients, r->rate, r->repeat,
                 r->cell, bench__warmup_s(p, r), bench__window_s(p, r));
        h = fnv(h, line);
    }
    return h;
}
