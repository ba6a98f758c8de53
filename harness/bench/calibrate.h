/* The machine's calibration: two short measurements a sweep records in
 * meta.txt before its first run, so that `overlap compare` can tell a
 * slower machine from slower code. Both are costs (larger: slower), each the
 * best of several rounds, since a round another process disturbed is only
 * ever slower: the best is the machine's own figure. */
#ifndef OVERLAP_CALIBRATE_H
#define OVERLAP_CALIBRATE_H

#include <stdio.h>

/* The figures, in the order meta.txt lists them. */
enum calibrate_figure {
    CALIBRATE_BURN,     /* ns per iteration of the workloads' CPU burner */
    CALIBRATE_LOOPBACK, /* µs per TCP round trip over 127.0.0.1 between two threads */
    CALIBRATE_NFIGURES
};

struct calibration {
    double figure[CALIBRATE_NFIGURES]; /* NAN: not measured, or not recorded */
};

/* meta.txt's key of a figure (`calibration_burn_ns`) and what it counts. */
const char *calibrate_key(enum calibrate_figure k);
const char *calibrate_unit(enum calibrate_figure k);

/* The CPU burner's cost on the calling thread: its fastest trial (in thread
 * CPU time) over ten rounds 20 ms apart, in ns per iteration. A
 * sweep gives its inverse to every server it starts (--burn-rate). */
double calibrate_burn_ns(void);

/* The best round's mean round trip of a one-byte ping-pong between two
 * threads over a TCP connection on 127.0.0.1, in µs. 0, or -errno. */
int calibrate_loopback_us(double *us);

/* Both figures, measured on the CPUs of list cpus (a list such as `0` or
 * `0-3`; "" or NULL: wherever the calling thread runs); the thread's own
 * affinity is restored after. 0, or -errno with the figures that could not
 * be measured NAN. */
int calibrate_measure(const char *cpus, struct calibration *c);

/* The meta.txt lines of c's figures that are measured. */
void calibrate_write(FILE *f, const struct calibration *c);

/* The figures of a meta.txt at path: each NAN when its line is missing (as
 * in a folder from before calibration, or with no meta.txt at all) or
 * malformed; a malformed or repeated line is a warning on warn, one line
 * `PREFIX: PATH:LINE: what is wrong (what was expected)`. Returns how many
 * figures were read. */
int calibrate_read(const char *path, struct calibration *c, FILE *warn, const char *prefix);

#endif
