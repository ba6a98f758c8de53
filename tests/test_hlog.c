/* HdrHistogram's interval log (harness/load/hlog.c): the V2 encoding round
 * trip through overlap's histogram, and malformed input, each refused with a
 * message and without a crash. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hist.h"
#include "hlog.h"
#include "wl.h"

Test(hlog, overlap_histograms_round_trip_bucket_for_bucket)
{
    struct hist *h = hist_create(), *back = hist_create();
    struct wl_rng rng;
    wl_rng_seed(&rng, 7);
    for (int i = 0; i < 100000; i++) /* 1 ns to about 60 s, log-spread */
        hist_record(h, (uint64_t)exp(wl_rng_double(&rng) * 24.8));
    hist_record(h, 0);
    hist_record(h, HIST_MAX_NS + 5); /* clamped into the top bucket */
    char *b64, err[HLOG_ERR_LEN];
    cr_assert_eq(hlog_encode_hist(h, &b64, err, sizeof(err)), 0, "%s", err);
    cr_assert(!strncmp(b64, "HISTFAAA", 8), "a compressed V2 cookie: %.8s", b64);
    struct hlog_hist d;
    cr_assert_eq(hlog_decode(b64, strlen(b64), &d, err, sizeof(err)), 0, "%s", err);
    cr_expect(hlog_params_equal(&d.params, &hlog_overlap_params));
    cr_expect_eq(d.total, hist_count(h));
    hlog_add_to_hist(&d, back);
    cr_expect(hist_same(h, back), "every count back in its bucket");
    cr_expect_eq(hist_percentile(back, 99), hist_percentile(h, 99));
    hlog_hist_free(&d);
    free(b64);
    hist_reset(h); /* the empty histogram too */
    cr_assert_eq(hlog_encode_hist(h, &b64, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(hlog_decode(b64, strlen(b64), &d, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(d.total, 0);
    cr_expect_eq(d.nbins, 0);
    hlog_hist_free(&d);
    free(b64);
    hist_destroy(h);
    hist_destroy(back);
}

/* ---- malformed input ---- */

static char *b64(const uint8_t *in, size_t len)
{
    static const char c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = calloc(len / 3 * 4 + 8, 1), *o = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        *o++ = c[v >> 18];
        *o++ = c[v >> 12 & 63];
        *o++ = i + 1 < len ? c[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? c[v & 63] : '=';
    }
    return out;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* A compressed histogram of overlap's parameters with the given counts
 * bytes; payload_len as told (the real length when 0); cookie as told. */
static char *forge(const uint8_t *counts, size_t n, uint32_t payload_len, uint32_t cookie,
                   int32_t digits)
{
    uint8_t raw[256], packed[512];
    put_be(raw, 0x1c849313, 4);
    put_be(raw + 4, payload_len ? payload_len : n, 4);
    put_be(raw + 8, 0, 4);
    put_be(raw + 12, (uint64_t)digits, 4);
    put_be(raw + 16, 1, 8);
    put_be(raw + 24, HIST_MAX_NS, 8);
    put_be(raw + 32, 0x3ff0000000000000u, 8); /* 1.0 */
    memcpy(raw + 40, counts, n);
    uLongf zlen = sizeof(packed) - 8;
    cr_assert_eq(compress(packed + 8, &zlen, raw, 40 + n), Z_OK);
    put_be(packed, cookie, 4);
    put_be(packed + 4, zlen, 4);
    return b64(packed, 8 + zlen);
}

static void refused(const char *text, const char *what)
{
    struct hlog_hist d;
    char err[HLOG_ERR_LEN] = "";
    cr_expect_eq(hlog_decode(text, strlen(text), &d, err, sizeof(err)), -1, "%s accepted", what);
    cr_expect(err[0], "%s: a message", what);
    cr_log_info("%s: %s", what, err);
}

Test(hlog, malformed_histograms_are_refused_with_a_message)
{
    const uint8_t ok[] = {0x02, 0x05}; /* 1 at index 0, then a run of 3 zeros */
    char *good = forge(ok, sizeof(ok), 0, 0x1c849314, 3);
    struct hlog_hist d;
    char err[HLOG_ERR_LEN];
    cr_assert_eq(hlog_decode(good, strlen(good), &d, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(d.total, 1);
    hlog_hist_free(&d);

    char *cookie = forge(ok, sizeof(ok), 0, 0x1c849399, 3);
    refused(cookie, "bad cookie");
    char *cut = strndup(good, strlen(good) - 3);
    refused(cut, "truncated base64");
    refused("HIST!!!!", "not base64");
    refused("", "empty");
    char *zlib = strdup(good);
    for (size_t i = 16; i < strlen(zlib) - 4; i++) /* past the cookie and length */
        zlib[i] = zlib[i] == 'A' ? 'B' : 'A';
    refused(zlib, "bad zlib");
    /* a count at index 28672, one past the layout, after a run to it */
    uint8_t past[12];
    size_t n = 0;
    uint64_t zz = 2 * 28672 - 1; /* ZigZag of -28672 */
    while (zz >> 7) {
        past[n++] = (uint8_t)(zz | 0x80);
        zz >>= 7;
    }
    past[n++] = (uint8_t)zz;
    past[n++] = 0x02;
    char *beyond = forge(past, n, 0, 0x1c849314, 3);
    refused(beyond, "counts past the end");
    char *huge = forge(ok, sizeof(ok), 0x7fffffff, 0x1c849314, 3);
    refused(huge, "a huge payload length");
    char *longer = forge(ok, sizeof(ok), 40, 0x1c849314, 3);
    refused(longer, "a payload length past the counts");
    const uint8_t open_ended[] = {0x02, 0x80};
    char *runs = forge(open_ended, sizeof(open_ended), 0, 0x1c849314, 3);
    refused(runs, "a count cut short");
    char *digits = forge(ok, sizeof(ok), 0, 0x1c849314, 9);
    refused(digits, "nine significant digits");
    /* a compressed length past the bytes given */
    uint8_t head[8];
    put_be(head, 0x1c849314, 4);
    put_be(head + 4, 0x7ffffff0, 4);
    char *short_z = b64(head, sizeof(head));
    refused(short_z, "a compressed length past the end");
    char *all[] = {good, cookie, cut, zlib, beyond, huge, longer, runs, digits, short_z};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]);
}

/* ---- the log ---- */

static const char *write_tmp(const char *text)
{
    static char path[] = "/tmp/overlap-hlog-XXXXXX";
    strcpy(path, "/tmp/overlap-hlog-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(hlog, a_written_log_reads_back)
{
    char path[] = "/tmp/overlap-hlog-XXXXXX", err[HLOG_ERR_LEN];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct hist *h = hist_create();
    const char *notes[] = {"overlap test: one", "overlap test: two"};
    hlog_write_header(f, 1700000000.25, notes, 2);
    for (int k = 0; k < 3; k++) {
        hist_record(h, 1000000u * (k + 1));
        cr_assert_eq(hlog_write_interval(f, NULL, k, 1, h), 0);
    }
    cr_assert_eq(hlog_write_interval(f, "uncorrected", 0, 3, h), 0);
    fclose(f);
    struct hlog_log log;
    cr_assert_eq(hlog_read(path, &log, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(log.major, 1);
    cr_expect_eq(log.minor, 3);
    cr_expect_float_eq(log.start_time, 1700000000.25, 1e-6);
    cr_expect_float_eq(log.base_time, 1700000000.25, 1e-6);
    cr_assert_eq(log.ncomments, 2);
    cr_expect_str_eq(log.comments[1], "overlap test: two");
    cr_assert_eq(log.nintervals, 4);
    cr_expect_float_eq(log.intervals[2].start_s, 2, 1e-9);
    cr_expect_eq(log.intervals[2].hist.total, 3);
    cr_expect_float_eq(log.intervals[2].max, 3.0, 0.01, "Interval_Max in ms");
    cr_expect_str_eq(log.intervals[3].tag, "uncorrected");
    cr_expect_str_eq(log.intervals[0].tag, "");
    hlog_log_free(&log);
    hist_destroy(h);
    unlink(path);
}

Test(hlog, malformed_logs_name_the_line)
{
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"\"StartTimestamp\",\"Interval_Length\"\n", ":1: no `#[Histogram"},
        {"#[Histogram log format version 1.3]\n1.0,2.0\n", ":2: bad interval line"},
        {"#[Histogram log format version 1.3]\n1,1,1,HIST\n", ":2: 3 bytes, shorter"},
        {"#[Histogram log format version 1.3]\n1,1,1,HIS\n", ":2: bad base64"},
        {"#[Histogram log format version 1.3]\nTag=,1,1,1,HIST\n", ":2: bad tag"},
        {"#[Histogram log format version x]\n", ":1: bad format version"},
        {"#[Histogram log format version 1.3]\n#[StartTime: soon]\n", ":2: bad StartTime"},
        {"#[Histogram log format version 1.3]\n-1,1,1,HISTFAAA\n", ":2: negative"},
    };
    char err[HLOG_ERR_LEN];
    struct hlog_log log;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = write_tmp(cases[i].text);
        cr_expect_eq(hlog_read(path, &log, err, sizeof(err)), -1, "case %zu", i);
        cr_expect(strstr(err, cases[i].expect), "case %zu: '%s' lacks '%s'", i, err,
                  cases[i].expect);
        unlink(path);
    }
    cr_expect_eq(hlog_read("/nonexistent/x.hlog", &log, err, sizeof(err)), -1);
}
