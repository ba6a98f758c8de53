/* What the answer's files share (report_answer.c: where the configs tie,
 * what no run could show; report_part.c: where they part; report_words.c:
 * summary.csv's rows read by config and load, and the phrases both write),
 * and the tie the first finds for the second. */
#ifndef OVERLAP_REPORT_WORDS_H
#define OVERLAP_REPORT_WORDS_H

#include <stdio.h>

#include "plot_internal.h"

#define TIE_WITHOUT_INTERVAL 0.02 /* one repeat: means this close are said to be level */
#define TIE_SPREAD           0.1  /* and with intervals, means no further apart than this */
#define UNDER_BOUND          0.95 /* a rate this far under a config's ceiling is not saturated */
#define OUTSIDE              0.9  /* Little's ratio under this: clients kept outside */
#define MANY_THREADS         2    /* "ran N threads against M" when N is this many times M */

/* The answer's tie: its load, its members (n of them, 0 without a tie),
 * the best of them (the one the others are level with), whether it rests
 * on flagged points, and whether two configs shared any closed-loop load. */
struct report__tie {
    double clients;
    int member[PLOT_MAX_ENGINES], n, best, flagged, shared;
};

/* Config e's row of summary.csv at a load (clients in a closed loop, the
 * offered rate in an open one), with a finished repeat; -1 if none. */
int report__row_at(const struct plot__report *rp, int e, const char *loop, double load);
/* Row r's interval of name (throughput or p99): its ends, or the estimate
 * at both ends when it has none (one repeat). */
void report__interval(const struct csv_table *s, int r, const char *est, const char *lo,
                      const char *hi, double *l, double *h);
/* Whether two points' throughputs are level (TIE_SPREAD, TIE_WITHOUT_INTERVAL). */
int report__level(const struct csv_table *s, int a_row, int b_row);
/* "931 ± 14", or "903" without an interval. */
void report__write_tp(FILE *out, const struct plot__report *rp, int r);
/* Config e's label, in bold. */
void report__write_name(FILE *out, const struct plot__report *rp, int e);
/* ", " between the items of a list of n, " and " before its last. */
const char *report__list_sep(int k, int n);
/* "903 to 957", or "903" when alike. */
void report__write_range(FILE *out, double lo, double hi, const char *fmt);
/* "1 client", "64 clients", "1,024 clients". */
void report__write_clients(FILE *out, double clients);

/* The paragraph "Where they part" (report_part.c), after the tie t. */
void report__write_part(const struct plot__report *rp, const struct report__tie *t);

#endif
