/* The latency histogram: bucket arithmetic, percentiles, the spectrum and
 * its text in HdrHistogram's format.
 * Bucket i holds the values whose top HIST_SUB_BITS + 1 bits are the same:
 * below 1024 ns each value has its own bucket, above it a bucket spans
 * 2^(e - HIST_SUB_BITS) ns for values in [2^e, 2^(e+1)). */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HGRM_DIGITS 3 /* decimals of a value: HdrHistogram prints its significant digits */

struct hist {
    uint64_t count, sum, min, max;
    uint32_t counts[HIST_BUCKETS]; /* saturate at UINT32_MAX: 4e9 in one bucket */
};

#define SUB (1 << HIST_SUB_BITS)

_Static_assert(sizeof(struct hist) < 64 * 1024, "a histogram stays in tens of KiB");
_Static_assert(HIST_BUCKETS == (HIST_HDR_BUCKETS + 1) * (HIST_HDR_SUB_BUCKETS / 2),
               "the counters are laid out as HdrHistogram's, whose footer we print");

static int bucket_of(uint64_t v)
{
    if (v > HIST_MAX_NS)
        v = HIST_MAX_NS;
    if (v < 2 * SUB)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    int shift = e - HIST_SUB_BITS;
    return shift * SUB + (int)(v >> shift);
}

/* The middle of bucket i: the reported value of everything counted there. */
static uint64_t bucket_value(int i)
{
    if (i < 2 * SUB)
        return (uint64_t)i;
    int shift = i / SUB - 1;
    uint64_t low = (uint64_t)(i - shift * SUB) << shift;
    return low + ((UINT64_C(1) << shift) - 1) / 2;
}

int hist_bucket_of(uint64_t ns)
{
    return bucket_of(ns);
}

uint64_t hist_bucket_value(int bucket)
{
    return bucket_value(bucket);
}

struct hist *hist_create(void)
{
    struct hist *h = malloc(sizeof(*h));
    if (h)
        hist_reset(h);
    return h;
}

void hist_destroy(struct hist *h)
{
    free(h);
}

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t ns)
{
    uint32_t *c = &h->counts[bucket_of(ns)];
    if (*c < UINT32_MAX)
        (*c)++;
    h->count++;
    h->sum += ns;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++) {
        uint64_t c = (uint64_t)dst->counts[i] + src->counts[i];
        dst->counts[i] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    }
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

size_t hist_cells(const struct hist *h, struct hist_cell *out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        if (h->counts[i]) {
            if (n < max)
                out[n] = (struct hist_cell){(uint32_t)i, h->counts[i]};
            n++;
        }
    return n;
}

void hist_add_cells(struct hist *h, const struct hist_cell *cells, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (cells[k].bucket >= HIST_BUCKETS || !cells[k].count)
            continue;
        uint64_t v = bucket_value((int)cells[k].bucket), c = cells[k].count;
        uint64_t sum = (uint64_t)h->counts[cells[k].bucket] + c;
        h->counts[cells[k].bucket] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
        h->count += c;
        h->sum += v * c;
        if (v < h->min)
            h->min = v;
        if (v > h->max)
            h->max = v;
    }
}

uint64_t hist_count(const struct hist *h)
{
    return h->count;
}

uint64_t hist_min(const struct hist *h)
{
    return h->count ? h->min : 0;
}

uint64_t hist_max(const struct hist *h)
{
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0;
}

double hist_stddev(const struct hist *h)
{
    double mean = hist_mean(h), sum = 0;
    if (!h->count)
        return 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        if (h->counts[i]) {
            double d = (double)bucket_value(i) - mean;
            sum += d * d * h->counts[i];
        }
    return sqrt(sum / (double)h->count);
}

/* The rank (1-based) of percentile p among count values. */
static uint64_t rank_of(double p, uint64_t count)
{
    if (p <= 0)
        return 1;
    double r = ceil(p / 100.0 * (double)count);
    if (r < 1)
        return 1;
    return r >= (double)count ? count : (uint64_t)r;
}

/* The value of rank r once bucket i holds it: exact at the ends. */
static uint64_t value_at(const struct hist *h, uint64_t r, int i)
{
    if (r <= 1)
        return h->min;
    if (r >= h->count)
        return h->max;
    uint64_t v = bucket_value(i);
    return v < h->min ? h->min : v > h->max ? h->max : v;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (!h->count)
        return 0;
    uint64_t r = rank_of(p, h->count), cum = 0;
    int i = -1;
    while (cum < r && i + 1 < HIST_BUCKETS)
        cum += h->counts[++i];
    return value_at(h, r, i);
}

void hist_iter_init(struct hist_iter *it, const struct hist *h, int ticks_per_half)
{
    memset(it, 0, sizeof(*it));
    it->h = h;
    it->ticks_per_half = ticks_per_half > 0 ? ticks_per_half : 1;
    it->bucket = -1;
    it->done = h->count == 0;
}

/* The level after p: the step halves each time the distance to 100 does. */
static double next_level(double p, int ticks_per_half)
{
    double halvings = floor(log2(100.0 / (100.0 - p))) + 1;
    return p + 100.0 / (ticks_per_half * pow(2, halvings));
}

bool hist_iter_next(struct hist_iter *it, struct hist_point *out)
{
    const struct hist *h = it->h;
    if (it->done)
        return false;
    uint64_t r = rank_of(it->level, h->count);
    /* Float levels creep towards 100 without reaching it: once the rank is
     * the last one, the next point is the max at 100 %. */
    if (it->cum >= h->count && it->level > 0) {
        out->percentile = 100;
        out->value = h->max;
        out->count = h->count;
        out->inverse =
            2 * it->last_inverse > (double)h->count ? 2 * it->last_inverse : (double)h->count;
        it->done = true;
        return true;
    }
    while (it->cum < r && it->bucket + 1 < HIST_BUCKETS)
        it->cum += h->counts[++it->bucket];
    out->percentile = it->level;
    out->value = value_at(h, r, it->bucket);
    out->count = it->cum;
    out->inverse = 1.0 / (1.0 - it->level / 100.0);
    it->last_inverse = out->inverse;
    it->level = next_level(it->level, it->ticks_per_half);
    if (it->level >= 100)
        it->cum = h->count; /* forces the 100 % point next */
    return true;
}

void hist_write_hgrm(const struct hist *h, FILE *f, int ticks_per_half, double unit_ns)
{
    struct hist_iter it;
    struct hist_point p;
    fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    hist_iter_init(&it, h, ticks_per_half);
    while (hist_iter_next(&it, &p)) {
        fprintf(f, "%12.*f %2.12f %10lu", HGRM_DIGITS, p.value / unit_ns, p.percentile / 100,
                (unsigned long)p.count);
        if (p.percentile < 100)
            fprintf(f, " %14.2f", p.inverse);
        fputc('\n', f);
    }
    fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", HGRM_DIGITS,
            hist_mean(h) / unit_ns, HGRM_DIGITS, hist_stddev(h) / unit_ns);
    fprintf(f, "#[Max     = %12.*f, Total count    = %12lu]\n", HGRM_DIGITS, hist_max(h) / unit_ns,
            (unsigned long)hist_count(h));
    fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", HIST_HDR_BUCKETS,
            HIST_HDR_SUB_BUCKETS);
}

bool hist_same(const struct hist *a, const struct hist *b)
{
    size_t n = hist_cells(a, NULL, 0);
    if (n != hist_cells(b, NULL, 0))
        return false;
    struct hist_cell *x = calloc(n + 1, sizeof(*x)), *y = calloc(n + 1, sizeof(*y));
    bool same = x && y && hist_cells(a, x, n) == n && hist_cells(b, y, n) == n &&
                !memcmp(x, y, n * sizeof(*x));
    free(x);
    free(y);
    return same;
}
