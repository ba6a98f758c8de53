/* A log-linear latency histogram in the spirit of HdrHistogram: values in
 * nanoseconds, exact below 1024 ns, then 512 linear sub-buckets per power of
 * two, so any value up to HIST_MAX_NS is reported within 0.1 % (3 significant
 * digits). Constant memory (about 58 KiB), no allocation after hist_create:
 * record, merge and reset are safe on a load generator's hot path. */
#ifndef OVERLAP_HIST_H
#define OVERLAP_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 9  /* 512 sub-buckets: width <= 1/512 */
#define HIST_MAX_EXP  36 /* the top power of two: 2^37 ns ~ 137 s */
#define HIST_MAX_NS   ((UINT64_C(1) << (HIST_MAX_EXP + 1)) - 1) /* larger values count here */
#define HIST_BUCKETS  ((HIST_MAX_EXP - HIST_SUB_BITS + 2) << HIST_SUB_BITS)

struct hist;

struct hist *hist_create(void); /* NULL when out of memory */
void hist_destroy(struct hist *h);

/* Counts one value (ns). Values above HIST_MAX_NS count in the top bucket;
 * min, max and mean stay exact. */
void hist_record(struct hist *h, uint64_t ns);
/* Adds src's counts into dst (threads merge their histograms at the end). */
void hist_merge(struct hist *dst, const struct hist *src);
void hist_reset(struct hist *h);

uint64_t hist_count(const struct hist *h);
uint64_t hist_min(const struct hist *h); /* 0 when empty */
uint64_t hist_max(const struct hist *h);
double hist_mean(const struct hist *h); /* exact: from the sum of recorded values */
/* The population standard deviation, from the buckets' values as HdrHistogram
 * computes it (within the histogram's 0.1 %). 0 when empty. */
double hist_stddev(const struct hist *h);

/* The value at percentile p in [0, 100]: the value of rank ceil(p/100 * count)
 * in sorted order, within 0.1 % (p = 0 and p = 100 give min and max exactly).
 * 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);

/* The bucket a value counts in, and the value everything counted there
 * reports (the bucket's middle): what the .hlog encoding maps through. */
int hist_bucket_of(uint64_t ns);
uint64_t hist_bucket_value(int bucket);

/* ---- compact copies: a histogram's non-empty buckets ----
 * For many small histograms kept apart and merged later (one per interval of
 * a run and per thread): latencies fill a few hundred buckets, so a copy is a
 * few KiB where the whole histogram is 58. */

struct hist_cell {
    uint32_t bucket, count;
};

/* The number of non-empty buckets of h; the first max of them go to out. */
size_t hist_cells(const struct hist *h, struct hist_cell *out, size_t max);
/* Whether a and b hold the same counts in the same buckets (false when out
 * of memory to compare them). */
bool hist_same(const struct hist *a, const struct hist *b);
/* Counts each cell's values into h at its bucket's value, so that min, max,
 * mean and percentiles read within 0.1 % of the original's. Cells with a
 * bucket out of range are ignored. */
void hist_add_cells(struct hist *h, const struct hist_cell *cells, size_t n);

/* ---- the percentile spectrum, as HdrHistogram prints it ---- */

struct hist_point {
    double percentile; /* the level reported, in [0, 100] */
    uint64_t value;    /* the value at that level (ns) */
    uint64_t count;    /* values recorded at or below it */
    double inverse;    /* 1 / (1 - percentile/100); finite even at 100 */
};

struct hist_iter {
    const struct hist *h;
    int ticks_per_half; /* levels per halving of the distance to 100 % */
    double level;
    int bucket;
    uint64_t cum;
    double last_inverse;
    bool done;
};

/* Levels 0, then steps that halve as they approach 100: ticks_per_half of
 * them between 0 and 50, as many between 50 and 75, and so on, ending with
 * one point at 100 % (the max). An empty histogram yields no point. */
void hist_iter_init(struct hist_iter *it, const struct hist *h, int ticks_per_half);
bool hist_iter_next(struct hist_iter *it, struct hist_point *out);

/* The layout in HdrHistogram's terms (its footer prints them): a first bucket
 * of 2^(HIST_SUB_BITS+1) unit-wide sub-buckets, then one bucket per power of
 * two up to HIST_MAX_NS, each of the same count of sub-buckets covering twice
 * the range. */
#define HIST_HDR_BUCKETS     (HIST_MAX_EXP - HIST_SUB_BITS + 1)
#define HIST_HDR_SUB_BUCKETS (2 << HIST_SUB_BITS)

/* Writes the spectrum above in HdrHistogram's percentile text format ("hgrm",
 * what its outputPercentileDistribution prints and its online plotter and
 * HistogramLogProcessor read): a header, one row per level (value, percentile
 * as a fraction, count at or below, 1/(1-percentile); the 100 % row has no
 * last column), then the Mean/StdDeviation, Max/Total count and
 * Buckets/SubBuckets footer. Values are divided by unit_ns (1e6 prints
 * milliseconds) with 3 decimals, as a 3-significant-digit HdrHistogram does. */
void hist_write_hgrm(const struct hist *h, FILE *f, int ticks_per_half, double unit_ns);

#endif
