/* `overlap engine check MANIFEST` (check.c): the black-box part of the
 * engine suite, run against an external engine beside overlap's async for
 * the same database. Its small HTTP client and its comparisons are
 * check_http.c's. */
#ifndef OVERLAP_BENCH_CHECK_H
#define OVERLAP_BENCH_CHECK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "bench_child.h"

struct ext_manifest;

#define CHECK_TIMEOUT_MS     10000 /* a reply slower than this is a failure of its case */
#define CHECK_DB_CONNECTIONS 8     /* {db_connections}, and async's on PostgreSQL */
#define CHECK_PG_READY_S     60.0  /* initdb and the first start, beside other work */

/* One response as the check reads it: the fields the contract names, the
 * body kept whole. */
struct check_resp {
    int status;
    bool keep_alive;
    char content_type[128];
    char allow[64];
    char timing[1024]; /* Server-Timing, several fields joined by ", " */
    char *body;
    size_t body_len;
};

void check_resp_free(struct check_resp *r);

/* A connection to the server under test at addr (HOST:PORT): -1 with
 * errno when it cannot be made. Reads and writes time out after
 * CHECK_TIMEOUT_MS. */
int check_connect(const char *addr);
/* Writes all of len bytes: 0 or -1. */
int check_send(int fd, const char *buf, size_t len);
/* Reads responses in order from fd, n of them, each answering a request
 * of method (HEAD's have no body). State beyond one response is kept in
 * the reader, so a pipelined batch reads one by one. Returns how many
 * responses were read whole before an error, EOF or a timeout. */
struct check_reader;
struct check_reader *check_reader_new(int fd);
int check_read(struct check_reader *rd, const char *const *methods, struct check_resp *out, int n);
void check_reader_free(struct check_reader *rd);
/* One request on a fresh connection: 0 and the response, or -1. */
int check_get(const char *addr, const char *method, const char *path, struct check_resp *out);

/* Whether two JSON texts hold the same value: objects by key, arrays in
 * order, numbers by value (1 and 1.0 alike). why says where they differ. */
bool check_json_same(const char *a, size_t alen, const char *b, size_t blen, char *why,
                     size_t wlen);
/* Which row of the first result of a JSON body (the rows of /items) the
 * one row of another body's first result is: its index, or -1 with why. */
int check_row_of(const char *rows, size_t rlen, const char *one, size_t olen, char *why,
                 size_t wlen);
/* The phase names of a Server-Timing value, in order, each with its
 * duration in ms (-1 when it has none): the count, at most max. */
int check_timing(const char *value, char names[][16], double *ms, int max);

/* ---- the check under way (check.c) and its cases (check_cases.c) ---- */

struct check {
    const char *self;
    char dir[PATH_MAX];
    char db_addr[PATH_MAX + 16], ref[128], addr[128];
    struct bench__child db, refsrv, server;
    const struct ext_manifest *m;
    bool postgres; /* on a throwaway PostgreSQL cluster, not overlap db */
    int failed, passed;
};

/* Starts overlap db, or overlap pg, on the check's workload: 0, or -1 with
 * why. */
int check_start_db(struct check *c, char *why, size_t wlen);
/* The database gone for the engines, and back at the same address: overlap
 * db stopped and started again; on PostgreSQL the engines' role refused
 * (CONNECTION LIMIT 0) with its backends ended, then admitted again. 0, or
 * -1 with why. */
int check_db_down(struct check *c, char *why, size_t wlen);
int check_db_up(struct check *c, char *why, size_t wlen);
/* The path of name in the check's folder. */
void check_path_in(const struct check *c, const char *name, char *out, size_t len);

struct check_case {
    const char *name;
    bool (*run)(struct check *, char *, size_t);
};
extern const struct check_case check_cases[];
extern const int check_ncases;

#endif
