/* The CPU burner behind a `cpu` step: a fixed amount of real work, calibrated
 * once per process, so that a preempted thread still owes all of it (spinning
 * until a clock says D would hide contention, which is what we measure). A
 * sweep measures the rate once on the server's CPUs and hands it to every
 * server it starts (`overlap serve --burn-rate`), so every config of the
 * sweep does the same work a step: a server that calibrated itself at a
 * disturbed moment did a tenth less or more than another. */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "wl.h"

#define CALIBRATE_ITERS  200000 /* about 0.2-1 ms a trial: long enough to time */
#define CALIBRATE_TRIALS 7      /* the fastest trial wins: it was the least disturbed */

static pthread_once_t calibrate_once = PTHREAD_ONCE_INIT;
static double iters_per_ns;        /* written once under calibrate_once, read-only after */
static double preset_iters_per_ns; /* wl_burn_set_rate's, before any calibration */
static bool calibrated;            /* written under calibrate_once */

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

/* The fastest of trials timed runs, in iterations per ns of the thread's CPU
 * time: a trial another process disturbed is only ever slower. */
static double measure(int trials)
{
    double best = 1e300;
    volatile uint64_t sink = work(CALIBRATE_ITERS, 1); /* warm up caches and clocks */
    for (int t = 0; t < trials; t++) {
        double start = thread_cpu_ns();
        sink = work(CALIBRATE_ITERS, sink);
        double took = thread_cpu_ns() - start;
        if (took > 0 && took < best)
            best = took;
    }
    return CALIBRATE_ITERS / best;
}

static void calibrate(void)
{
    iters_per_ns = preset_iters_per_ns > 0 ? preset_iters_per_ns : measure(CALIBRATE_TRIALS);
    calibrated = true;
}

int wl_burn_set_rate(double iters_per_us)
{
    if (!(iters_per_us >= WL_BURN_MIN_RATE && iters_per_us <= WL_BURN_MAX_RATE) || calibrated)
        return -1;
    preset_iters_per_ns = iters_per_us / 1e3;
    return 0;
}

double wl_burn_measure(int trials)
{
    return measure(trials > 0 ? trials : 1) * 1e3;
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
