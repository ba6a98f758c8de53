/* Inside `overlap merge`: the agents of one run, each read from the interval
 * log its `overlap load --hlog` wrote (load_merge_read.c), checked against
 * each other, then added up interval by interval (merge.c). */
#ifndef OVERLAP_LOAD_MERGE_H
#define OVERLAP_LOAD_MERGE_H

#include "hlog.h"
#include "load.h"

#define LOAD__MERGE_COLS 64 /* --csv columns an agent's log may carry */

struct load__agent {
    const char *path;
    struct hlog_log log;
    int share_index, share_count;
    double total_rps, interval_s;
    double window_epoch_s, requested_s; /* the window's opening, and --start-at (0: none) */
    int ncols;
    const char *names[LOAD__MERGE_COLS], *values[LOAD__MERGE_COLS]; /* in log.comments */
    char *cells;                                                    /* their storage */
    int nrows;
    uint64_t *ok, *errors; /* per interval of the agent's window */
    const struct hlog_interval *uncorrected;
};

/* Reads one agent's log: 0, or -1 with `PATH:LINE: what (expected)` in err. */
int load__agent_read(struct load__agent *a, const char *path, char *err, size_t errlen);
void load__agent_free(struct load__agent *a);

/* A column of the agent's --csv row: its text (NULL when absent), or its
 * number (NAN when absent or empty). */
const char *load__agent_text(const struct load__agent *a, const char *name);
double load__agent_number(const struct load__agent *a, const char *name);

/* Whether n agents belong to one run: the same histogram parameters,
 * shares i/N that cover 0..N-1 once, the same interval, mode and arrival,
 * windows opened within max_skew_s of each other. 0, or -1 with the first
 * disagreement in err. */
int load__agents_check(const struct load__agent *a, int n, double max_skew_s, char *err,
                       size_t errlen);

#endif
