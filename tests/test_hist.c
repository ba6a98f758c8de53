/* The latency histogram: precision against exact sorted percentiles, merge,
 * reset, the ends of the range, the percentile spectrum and its hgrm text. */
#define _GNU_SOURCE /* open_memstream */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "wl.h"

#define N 1000000

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact percentile under the histogram's definition: rank ceil(p*n). */
static uint64_t exact(const uint64_t *sorted, size_t n, double p)
{
    double r = ceil(p / 100.0 * (double)n);
    size_t rank = r < 1 ? 1 : r > n ? n : (size_t)r;
    return sorted[rank - 1];
}

static void expect_close(uint64_t got, uint64_t want, double p)
{
    double err = fabs((double)got - (double)want) / (double)want;
    cr_expect(err <= 0.001, "p%g: got %lu, want %lu (relative error %.5f%%)", p, (unsigned long)got,
              (unsigned long)want, err * 100);
}

/* 1M values spread log-uniformly from 1 us to 60 s: every percentile within 0.1 %. */
Test(hist, percentiles_within_a_tenth_of_a_percent_of_exact)
{
    uint64_t *v = malloc(N * sizeof(*v));
    struct hist *h = hist_create();
    struct wl_rng rng;
    cr_assert(v && h);
    wl_rng_seed(&rng, 42);
    for (size_t i = 0; i < N; i++) {
        v[i] = (uint64_t)(1000.0 * pow(6e7, wl_rng_double(&rng)));
        hist_record(h, v[i]);
    }
    qsort(v, N, sizeof(*v), by_value);
    static const double ps[] = {0,  0.1, 1,  5,    10,   25,    33.3,   50,      66.6,
                                75, 90,  95, 99.0, 99.9, 99.99, 99.999, 99.9999, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        expect_close(hist_percentile(h, ps[i]), exact(v, N, ps[i]), ps[i]);
    for (int i = 0; i < 2000; i++) { /* and at random levels */
        double p = wl_rng_double(&rng) * 100;
        expect_close(hist_percentile(h, p), exact(v, N, p), p);
    }
    cr_expect_eq(hist_count(h), N);
    cr_expect_eq(hist_min(h), v[0]);
    cr_expect_eq(hist_max(h), v[N - 1]);
    double sum = 0;
    for (size_t i = 0; i < N; i++)
        sum += (double)v[i];
    cr_expect(fabs(hist_mean(h) - sum / N) <= 1e-9 * sum / N, "mean %f, want %f", hist_mean(h),
              sum / N);
    hist_destroy(h);
    free(v);
}

/* Latencies as a loopback server gives them: a narrow hump with a long tail. */
Test(hist, narrow_values_are_as_precise)
{
    uint64_t *v = malloc(N * sizeof(*v));
    struct hist *h = hist_create();
    struct wl_rng rng;
    struct wl_dist d = {WL_DIST_LOGNORMAL, 40e3, 400e3};
    cr_assert(v && h);
    wl_rng_seed(&rng, 7);
    for (size_t i = 0; i < N; i++)
        hist_record(h, v[i] = wl_dist_sample(&d, &rng));
    qsort(v, N, sizeof(*v), by_value);
    for (double p = 0; p <= 100; p += 0.5)
        expect_close(hist_percentile(h, p), exact(v, N, p), p);
    hist_destroy(h);
    free(v);
}

Test(hist, small_values_are_exact)
{
    struct hist *h = hist_create();
    for (uint64_t i = 1; i <= 1000; i++)
        hist_record(h, i);
    for (int p = 1; p <= 100; p++)
        cr_expect_eq(hist_percentile(h, p), (uint64_t)p * 10, "p%d", p);
    hist_destroy(h);
}

Test(hist, empty_reads_zero_and_has_no_spectrum)
{
    struct hist *h = hist_create();
    struct hist_iter it;
    struct hist_point pt;
    cr_expect_eq(hist_count(h), 0);
    cr_expect_eq(hist_percentile(h, 50), 0);
    cr_expect_eq(hist_min(h), 0);
    cr_expect_eq(hist_max(h), 0);
    cr_expect_eq(hist_mean(h), 0);
    hist_iter_init(&it, h, 5);
    cr_expect_not(hist_iter_next(&it, &pt));
    hist_destroy(h);
}

/* Beyond the range: counted in the top bucket, max still exact. */
Test(hist, values_beyond_the_range_are_counted_not_lost)
{
    struct hist *h = hist_create();
    hist_record(h, 0);
    hist_record(h, 60000000000u); /* 60 s: inside */
    hist_record(h, UINT64_C(1) << 40);
    cr_expect_eq(hist_count(h), 3);
    cr_expect_eq(hist_min(h), 0);
    cr_expect_eq(hist_max(h), UINT64_C(1) << 40);
    uint64_t p66 = hist_percentile(h, 66);
    cr_expect(fabs((double)p66 - 6e10) <= 6e7, "60 s reads %lu", (unsigned long)p66);
    hist_destroy(h);
}

Test(hist, merge_equals_recording_into_one)
{
    struct hist *a = hist_create(), *b = hist_create(), *all = hist_create();
    struct wl_rng rng;
    wl_rng_seed(&rng, 3);
    for (int i = 0; i < 100000; i++) {
        uint64_t v = 1000 + wl_rng_below(&rng, 50000000);
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    cr_expect_eq(hist_count(a), hist_count(all));
    cr_expect_eq(hist_min(a), hist_min(all));
    cr_expect_eq(hist_max(a), hist_max(all));
    cr_expect_eq(hist_mean(a), hist_mean(all));
    for (double p = 0; p <= 100; p += 0.25)
        cr_expect_eq(hist_percentile(a, p), hist_percentile(all, p), "p%g", p);
    hist_reset(a);
    cr_expect_eq(hist_count(a), 0);
    cr_expect_eq(hist_percentile(a, 99), 0);
    hist_record(a, 5000);
    cr_expect_eq(hist_percentile(a, 50), 5000);
    hist_destroy(a);
    hist_destroy(b);
    hist_destroy(all);
}

/* The spectrum: monotone, 5 levels per half, ending at 100 % on the max. */
Test(hist, spectrum_is_monotone_and_ends_at_the_max)
{
    struct hist *h = hist_create();
    struct wl_rng rng;
    struct hist_iter it;
    struct hist_point pt, prev = {0};
    int n = 0, below_50 = 0;
    wl_rng_seed(&rng, 9);
    for (int i = 0; i < 100000; i++)
        hist_record(h, 1000 + wl_rng_below(&rng, 10000000));
    hist_iter_init(&it, h, 5);
    while (hist_iter_next(&it, &pt)) {
        if (n++) {
            cr_expect_gt(pt.percentile, prev.percentile);
            cr_expect_geq(pt.value, prev.value);
            cr_expect_geq(pt.count, prev.count);
            cr_expect_gt(pt.inverse, prev.inverse);
        }
        cr_expect(isfinite(pt.inverse));
        cr_expect_eq(pt.value, hist_percentile(h, pt.percentile), "at %g", pt.percentile);
        below_50 += pt.percentile < 50;
        prev = pt;
    }
    cr_expect_eq(below_50, 5); /* 0, 10, 20, 30, 40 */
    cr_expect_eq(prev.percentile, 100);
    cr_expect_eq(prev.value, hist_max(h));
    cr_expect_eq(prev.count, 100000);
    cr_expect_lt(n, 200);
    hist_destroy(h);
}

/* ---- the hgrm text, parsed back ---- */

#define HGRM_HEADER "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"

struct hgrm_row {
    double value, fraction, inverse;
    unsigned long count;
    int fields; /* 4, or 3 on the 100 % row */
};

/* The histogram's hgrm text in ms, in a buffer the caller frees. */
static char *hgrm_of(const struct hist *h)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    hist_write_hgrm(h, f, 5, 1e6);
    cr_assert_eq(fclose(f), 0);
    return text;
}

/* Reads the rows after the header up to the footer; returns their number and
 * leaves *rest at the footer. */
static int hgrm_rows(char *text, struct hgrm_row *rows, int max, char **rest)
{
    int n = 0;
    char *line = text + strlen(HGRM_HEADER);
    cr_assert(strncmp(text, HGRM_HEADER, strlen(HGRM_HEADER)) == 0, "header: %.80s", text);
    while (*line && *line != '#') {
        struct hgrm_row *r = &rows[n];
        cr_assert_lt(n, max);
        r->fields =
            sscanf(line, "%lf %lf %lu %lf", &r->value, &r->fraction, &r->count, &r->inverse);
        cr_assert(r->fields == 4 || r->fields == 3, "row %d: %.80s", n, line);
        n++;
        line = strchr(line, '\n') + 1;
    }
    *rest = line;
    return n;
}

/* Values 1 us to 1 ms: the rows agree with hist_percentile, climb, end at the
 * max on a row without the 1/(1-Percentile) column, and the footer holds
 * what HdrHistogram's own reader expects. */
Test(hist, hgrm_reads_back_as_the_spectrum)
{
    struct hist *h = hist_create();
    struct hgrm_row rows[256];
    char *rest;
    double sum = 0, sq = 0;
    for (int i = 1; i <= 1000; i++) {
        hist_record(h, (uint64_t)i * 1000);
        sum += i * 1e-3;
        sq += (i * 1e-3) * (i * 1e-3);
    }
    char *text = hgrm_of(h);
    int n = hgrm_rows(text, rows, 256, &rest);
    cr_assert_gt(n, 10);
    for (int i = 0; i < n; i++) {
        double want = hist_percentile(h, rows[i].fraction * 100) / 1e6;
        cr_expect(fabs(rows[i].value - want) <= 0.0005, "row %d: %f, want %f", i, rows[i].value,
                  want);
        cr_expect_eq(rows[i].fields, i == n - 1 ? 3 : 4, "row %d", i);
        if (i) {
            cr_expect_gt(rows[i].fraction, rows[i - 1].fraction);
            cr_expect_geq(rows[i].value, rows[i - 1].value);
            cr_expect_geq(rows[i].count, rows[i - 1].count);
        }
        if (rows[i].fields == 4)
            cr_expect(fabs(rows[i].inverse - 1 / (1 - rows[i].fraction)) <= 0.006, "row %d", i);
    }
    cr_expect_eq(rows[0].fraction, 0);
    cr_expect_eq(rows[n - 1].fraction, 1);
    cr_expect_eq(rows[n - 1].count, 1000);
    cr_expect(fabs(rows[n - 1].value - 1.0) < 1e-9);
    double mean, sd, max;
    unsigned long total;
    int buckets, sub;
    cr_assert_eq(sscanf(rest, "#[Mean    = %lf, StdDeviation   = %lf]\n", &mean, &sd), 2, "%s",
                 rest);
    cr_expect(fabs(mean - sum / 1000) < 0.0005, "mean %f", mean);
    double exact_sd = sqrt(sq / 1000 - (sum / 1000) * (sum / 1000));
    cr_expect(fabs(sd - exact_sd) <= 0.001 * exact_sd + 0.0005, "sd %f, want %f", sd, exact_sd);
    rest = strchr(rest, '\n') + 1;
    cr_assert_eq(sscanf(rest, "#[Max     = %lf, Total count    = %lu]\n", &max, &total), 2, "%s",
                 rest);
    cr_expect(fabs(max - 1.0) < 1e-9);
    cr_expect_eq(total, 1000);
    rest = strchr(rest, '\n') + 1;
    cr_expect_str_eq(rest, "#[Buckets =           28, SubBuckets     =         1024]\n");
    cr_expect_eq(sscanf(rest, "#[Buckets = %d, SubBuckets     = %d]", &buckets, &sub), 2);
    free(text);
    hist_destroy(h);
}

/* An empty histogram: the header and a footer of zeros, no row. */
Test(hist, hgrm_of_nothing_is_header_and_footer)
{
    struct hist *h = hist_create();
    char *text = hgrm_of(h);
    cr_expect_str_eq(text,
                     HGRM_HEADER "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
                                 "#[Max     =        0.000, Total count    =            0]\n"
                                 "#[Buckets =           28, SubBuckets     =         1024]\n");
    free(text);
    hist_destroy(h);
}

Test(hist, stddev_from_the_buckets_is_within_a_tenth_of_a_percent)
{
    struct hist *h = hist_create();
    struct wl_rng rng;
    double sum = 0, sq = 0;
    wl_rng_seed(&rng, 11);
    for (int i = 0; i < 100000; i++) {
        double v = (double)(1000 + wl_rng_below(&rng, 100000000));
        hist_record(h, (uint64_t)v);
        sum += v;
        sq += v * v;
    }
    double mean = sum / 100000, sd = sqrt(sq / 100000 - mean * mean);
    cr_expect(fabs(hist_stddev(h) - sd) <= 0.001 * sd, "sd %f, want %f", hist_stddev(h), sd);
    hist_reset(h);
    cr_expect_eq(hist_stddev(h), 0);
    hist_destroy(h);
}

/* A compact copy holds the non-empty buckets only and reads back, alone or
 * merged from pieces, as the original within 0.1 %. */
Test(hist, cells_copy_and_merge_back)
{
    struct hist *a = hist_create(), *b = hist_create(), *all = hist_create(), *back = hist_create();
    static struct hist_cell cells[2 * HIST_BUCKETS]; /* 232 KiB: off the stack */
    struct wl_rng rng;
    wl_rng_seed(&rng, 5);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = 20000 + wl_rng_below(&rng, 5000000);
        hist_record(i % 2 ? a : b, v);
        hist_record(all, v);
    }
    size_t na = hist_cells(a, NULL, 0), nb;
    cr_assert_gt(na, 0);
    cr_assert_lt(na, HIST_BUCKETS);
    cr_assert_eq(hist_cells(a, cells, na), na);
    nb = hist_cells(b, cells + na, HIST_BUCKETS);
    hist_add_cells(back, cells, na);
    cr_expect_eq(hist_count(back), hist_count(a));
    hist_add_cells(back, cells + na, nb);
    cr_expect_eq(hist_count(back), 50000);
    for (double p = 0; p <= 100; p += 0.5) {
        double got = (double)hist_percentile(back, p), want = (double)hist_percentile(all, p);
        cr_expect(fabs(got - want) <= 0.001 * want, "p%g: %f, want %f", p, got, want);
    }
    cr_expect(fabs(hist_mean(back) - hist_mean(all)) <= 0.001 * hist_mean(all));
    struct hist_cell bad = {HIST_BUCKETS, 7}; /* out of range: ignored */
    hist_add_cells(back, &bad, 1);
    cr_expect_eq(hist_count(back), 50000);
    hist_reset(a);
    cr_expect_eq(hist_cells(a, cells, HIST_BUCKETS), 0);
    hist_destroy(a);
    hist_destroy(b);
    hist_destroy(all);
    hist_destroy(back);
}
