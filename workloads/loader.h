/* The workload loader's state, shared by the files that read a workload:
 * workload.c (sections and keys, as libinih hands them over) and finish.c
 * (the whole-file checks once every section is read). Internal to workloads/. */
#ifndef OVERLAP_WL_LOADER_H
#define OVERLAP_WL_LOADER_H

#include <stdbool.h>
#include <stdio.h>

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

/* Records the first error as `FILE:LINE: ...`; later ones are dropped. */
void wl__fail(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Strips leading and trailing white space in place. */
char *wl__trim(char *s);
/* Turns the raw texts kept while reading into the workload's queries, steps
 * and database, and checks the whole; a syntax_line > 0 reports that line. */
void wl__finish(struct loader *ld, int syntax_line);

#endif
