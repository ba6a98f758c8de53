/* `overlap compare`: two results folders, or two engine configs of one, side
 * by side: every shared point's change in throughput and p99 with its 95 %
 * interval, and a verdict that says `no change` unless the data show one;
 * for two folders, whether their machines' calibrations differ and which
 * verdicts that could explain. */
#ifndef OVERLAP_COMPARE_H
#define OVERLAP_COMPARE_H

#include <stdio.h>

#include "calibrate.h"
#include "summary.h"

#define COMPARE_THRESHOLD_PCT 2.0 /* --threshold's default: changes inside ±2 % do not count */

struct compare_options {
    double threshold_pct;
    const char *a, *b; /* DIR A B: the configs compared (old and new are one set); else NULL */
    /* OLD's and NEW's calibrations (meta.txt); NULL: one machine, nothing to weigh */
    const struct calibration *machine[2];
};

/* `overlap compare OLD NEW | DIR A B [--threshold T%] [--csv FILE]`: 0, 1
 * when some point is significantly slower beyond the threshold, 2 on a usage
 * error (one line naming the file or flag). */
int compare_main(int argc, char **argv);

/* Compares every point old and new share (in DIR A B mode, A's points in
 * old against B's in new) and prints the table to out and, when csv is not
 * NULL, the same as CSV; then, with o->machine, the note on the machines:
 * each calibration figure that differs past the threshold, with the
 * verdicts that go its way by no more than it (they could be the machine
 * rather than the code), or one line when a folder has no calibration to
 * compare. 0, or 1 when some point is `slower`. */
int compare_sets(const struct summary_set *old, const struct summary_set *new,
                 const struct compare_options *o, FILE *out, FILE *csv);

#endif
