/* The CPU burner behind a `cpu` step: a fixed amount of real work, calibrated
 * once per process, so that a preempted thread still owes all of it (spinning
 * until a clock says D would hide contention, which is what we measure). */
#include <pthread.h>
#include <time.h>

#include "wl.h"

#define CALIBRATE_ITERS  200000 /* about 0.2-1 ms a trial: long enough to time */
#define CALIBRATE_TRIALS 7      /* the fastest trial wins: it was the least disturbed */

static pthread_once_t calibrate_once = PTHREAD_ONCE_INIT;
static double iters_per_ns; /* written once under calibrate_once, read-only after */

/* A dependent multiply-xorshift chain: each iteration needs the previous one,
 * so the compiler can neither drop nor vectorise it. */
static uint64_t work(uint64_t iters, uint64_t x)
{
    for (uint64_t i = 0; i < iters; i++) {
        x = x * 0x9e3779b97f4a7c15ULL + i;
        x ^= x >> 29;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void calibrate(void)
{
    double best = 1e300;
    volatile uint64_t sink = work(CALIBRATE_ITERS, 1); /* warm up caches and clocks */
    for (int t = 0; t < CALIBRATE_TRIALS; t++) {
        double start = thread_cpu_ns();
        sink = work(CALIBRATE_ITERS, sink);
        double took = thread_cpu_ns() - start;
        if (took > 0 && took < best)
            best = took;
    }
    iters_per_ns = CALIBRATE_ITERS / best;
}

void wl_burn_calibrate(void)
{
    pthread_once(&calibrate_once, calibrate);
}

double wl_burn_iters_per_us(void)
{
    wl_burn_calibrate();
    return iters_per_ns * 1e3;
}

uint64_t wl_burn(uint64_t ns)
{
    static _Thread_local volatile uint64_t sink;
    wl_burn_calibrate();
    double start = thread_cpu_ns();
    sink = work((uint64_t)(ns * iters_per_ns + 0.5), sink + 1);
    double took = thread_cpu_ns() - start;
    return took > 0 ? (uint64_t)took : 0;
}
