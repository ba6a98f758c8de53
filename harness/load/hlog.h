/* HdrHistogram's interval log (.hlog): one compressed histogram per interval,
 * in the format its Java and C libraries write and read (log format 1.3,
 * histograms in the V2 encoding: ZigZag LEB128 counts, zlib-compressed,
 * base64). Written by `overlap load --hlog`, read back by `overlap merge`.
 * Every decoded length is checked against the bytes that hold it and against
 * the histogram's layout before anything is allocated or read. */
#ifndef OVERLAP_HLOG_H
#define OVERLAP_HLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

#define HLOG_ERR_LEN    256
#define HLOG_COOKIE     0x1c849303u /* V2 encoding, uncompressed */
#define HLOG_COMPRESSED 0x1c849304u /* V2 encoding, zlib-compressed */
#define HLOG_MAX_PAYLOAD                                                                           \
    (16u << 20)                       /* counts bytes: 9 per count of a 3-digit, hour-wide layout  \
                                       */
#define HLOG_MAX_LINE      (4u << 20) /* a log line; an interval's histogram is a few KiB */
#define HLOG_MAX_INTERVALS 1000000    /* lines of one log */
#define HLOG_TAG_LEN       64
#define HLOG_UNIT_RATIO    1e6 /* Interval_Max is in ms, as Java's logs write it */

/* The parameters in the header of every encoded histogram. Two histograms
 * with the same parameters have the same buckets and add count by count. */
struct hlog_params {
    int64_t lowest, highest; /* the lowest discernible and highest trackable values */
    int32_t digits;          /* significant decimal digits, 1 to 5 */
    double ratio;            /* integer-to-double conversion ratio; 1 for integers */
};

/* overlap's histogram in HdrHistogram's terms: values in ns from 1 ns to
 * HIST_MAX_NS, 3 digits (finer buckets than hist.h's: see the README). */
extern const struct hlog_params hlog_overlap_params;

/* A decoded histogram: its non-empty counts by HdrHistogram counts index. */
struct hlog_bin {
    int32_t index;
    uint64_t count;
};

struct hlog_hist {
    struct hlog_params params;
    size_t nbins;
    struct hlog_bin *bins; /* increasing index */
    uint64_t total;
};

bool hlog_params_equal(const struct hlog_params *a, const struct hlog_params *b);
/* Writes a message (printf's fmt) into err, as every hlog_ and merge error
 * is reported: returns -1. */
int hlog_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "lowest 1, highest 137438953471, 3 digits" into out. */
void hlog_params_describe(const struct hlog_params *p, char *out, size_t len);
/* The lowest and highest value counted at index under p; 0 when p is invalid
 * or index is outside its layout. */
int64_t hlog_value_at(const struct hlog_params *p, int32_t index);
int64_t hlog_highest_at(const struct hlog_params *p, int32_t index);

/* Encodes h (compressed, base64, NUL-terminated) into *out (free it).
 * 0, or -1 with a message in err. */
int hlog_encode(const struct hlog_hist *h, char **out, char *err, size_t errlen);
/* overlap's histogram in overlap's parameters: each bucket's count at its
 * middle value, so decoding gives back the same buckets. */
int hlog_encode_hist(const struct hist *h, char **out, char *err, size_t errlen);
/* Decodes len base64 characters into out (free with hlog_hist_free). 0, or
 * -1 with what is wrong in err and nothing to free. */
int hlog_decode(const char *b64, size_t len, struct hlog_hist *out, char *err, size_t errlen);
void hlog_hist_free(struct hlog_hist *h);
/* Counts a decoded histogram into h: each count at its HdrHistogram bucket's
 * middle value. Exact for histograms in overlap's parameters. */
void hlog_add_to_hist(const struct hlog_hist *d, struct hist *h);

/* ---- the log ---- */

struct hlog_interval {
    char tag[HLOG_TAG_LEN]; /* "" for an untagged line */
    double start_s;         /* from the log's base time */
    double length_s;
    double max; /* Interval_Max as written */
    int line;
    struct hlog_hist hist;
};

struct hlog_log {
    int major, minor;  /* #[Histogram log format version M.m] */
    double start_time; /* #[StartTime: ...], epoch seconds; 0 when absent */
    double base_time;  /* #[BaseTime: ...]; start_time when absent */
    int ncomments;
    char **comments; /* the other #[...] lines' insides, in order */
    int *comment_lines;
    int nintervals;
    struct hlog_interval *intervals;
};

/* Reads a whole log. 0, or -1 with `PATH:LINE: what is wrong (expected)` in
 * err and nothing to free. */
int hlog_read(const char *path, struct hlog_log *log, char *err, size_t errlen);
void hlog_log_free(struct hlog_log *log);

/* The header: the version, #[StartTime:] and #[BaseTime:] (start_epoch_s,
 * what interval times count from), each comment as #[comment], then the
 * column names. Comments stay under 128 characters: HdrHistogram's C reader
 * reads header lines that long. */
void hlog_write_header(FILE *f, double start_epoch_s, const char *const *comments, int n);
/* One interval line (tag NULL for none). 0 or -1 (out of memory). */
int hlog_write_interval(FILE *f, const char *tag, double start_s, double length_s,
                        const struct hist *h);

#endif
