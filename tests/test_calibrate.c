/* The machine's calibration: each figure is a positive finite number
 * whatever the machine is doing (no speed is asserted: the tests run beside
 * other work), the affinity asked for is given back, and meta.txt's lines
 * read back as written, with a warning for each unusable one. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "child.h"

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(calibrate, .init = setup, .fini = teardown, .timeout = 60);

/* tmp/name holding text; its path. */
static const char *file_of(const char *name, const char *text)
{
    return child_write_file(tmp, name, text);
}

/* What calibrate_read warned, in a memory stream's buffer. */
struct warnings {
    char *text;
    size_t len;
    FILE *f;
};

static int read_meta(const char *path, struct calibration *c, struct warnings *w)
{
    w->f = open_memstream(&w->text, &w->len);
    cr_assert_not_null(w->f);
    int n = calibrate_read(path, c, w->f, "test");
    fclose(w->f);
    return n;
}

Test(calibrate, the_burner_costs_a_positive_finite_time)
{
    double ns = calibrate_burn_ns();
    cr_expect(isfinite(ns) && ns > 0, "%g ns per iteration", ns);
}

Test(calibrate, a_loopback_round_trip_takes_a_positive_finite_time)
{
    double us = 0;
    cr_assert_eq(calibrate_loopback_us(&us), 0);
    cr_expect(isfinite(us) && us > 0, "%g us per round trip", us);
}

Test(calibrate, both_on_a_cpu_and_the_affinity_given_back)
{
    cpu_set_t before, after;
    cr_assert_eq(sched_getaffinity(0, sizeof(before), &before), 0);
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
        if (CPU_ISSET(i, &before))
            cpu = i;
    char list[16];
    snprintf(list, sizeof(list), "%d", cpu);
    struct calibration c;
    cr_assert_eq(calibrate_measure(list, &c), 0);
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        cr_expect(isfinite(c.figure[k]) && c.figure[k] > 0, "%s %g", calibrate_key(k), c.figure[k]);
    cr_assert_eq(sched_getaffinity(0, sizeof(after), &after), 0);
    cr_expect(CPU_EQUAL(&before, &after), "the thread's CPUs were not given back");
    cr_expect_eq(calibrate_measure("", &c), 0, "unpinned");
    cr_expect_lt(calibrate_measure("not-a-list", &c), 0);
    cr_expect(isnan(c.figure[CALIBRATE_BURN]), "a failed measurement leaves no figure");
}

Test(calibrate, written_lines_read_back)
{
    struct calibration c = {{0.5123, 14.25}}, back;
    char path[512];
    snprintf(path, sizeof(path), "%s/meta.txt", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("date: 2025-01-01T00:00:00Z\ncores: 2\n", f);
    calibrate_write(f, &c);
    fputs("runs: 3\n", f);
    fclose(f);
    struct warnings w;
    cr_expect_eq(read_meta(path, &back, &w), 2);
    cr_expect_eq(w.len, 0, "%s", w.text);
    free(w.text);
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        cr_expect_float_eq(back.figure[k], c.figure[k], 1e-9, "%s", calibrate_key(k));
    c.figure[CALIBRATE_LOOPBACK] = NAN; /* not measured: not written */
    f = fopen(path, "w");
    calibrate_write(f, &c);
    fclose(f);
    cr_expect_eq(read_meta(path, &back, &w), 1);
    cr_expect(isnan(back.figure[CALIBRATE_LOOPBACK]));
    free(w.text);
}

Test(calibrate, missing_lines_and_files_read_as_missing_without_a_word)
{
    struct calibration c;
    struct warnings w;
    const char *old = file_of("old.txt", "date: 2024-01-01T00:00:00Z\nruns: 132\n");
    cr_expect_eq(read_meta(old, &c, &w), 0);
    cr_expect_eq(w.len, 0, "%s", w.text);
    free(w.text);
    cr_expect(isnan(c.figure[CALIBRATE_BURN]) && isnan(c.figure[CALIBRATE_LOOPBACK]));
    char none[512];
    snprintf(none, sizeof(none), "%s/absent.txt", tmp);
    cr_expect_eq(read_meta(none, &c, &w), 0);
    cr_expect_eq(w.len, 0, "%s", w.text);
    free(w.text);
}

/* Each unusable line is a warning naming the file, the line and what was
 * expected, and reads as missing; the usable ones still count. */
Test(calibrate, malformed_lines_are_warned_about_and_ignored)
{
    static const struct {
        const char *line, *warning;
    } bad[] = {
        {"calibration_burn_ns: fast\n", ":2: calibration_burn_ns 'fast' is not a positive number"},
        {"calibration_burn_ns: 0.5 ns\n", "'0.5 ns' is not a positive number"},
        {"calibration_burn_ns: -0.5\n", "'-0.5' is not a positive number"},
        {"calibration_burn_ns: 0\n", "'0' is not a positive number"},
        {"calibration_burn_ns: nan\n", "'nan' is not a positive number"},
        {"calibration_burn_ns: inf\n", "'inf' is not a positive number"},
        {"calibration_burn_ns:\n", "'' is not a positive number (expected ns per"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "cores: 2\n%scalibration_loopback_us: 12.5\n", bad[i].line);
        const char *path = file_of("meta.txt", text);
        struct calibration c;
        struct warnings w;
        cr_expect_eq(read_meta(path, &c, &w), 1, "%s", bad[i].line);
        cr_expect(w.text && strstr(w.text, bad[i].warning) && strstr(w.text, "test: ") &&
                      strstr(w.text, "meta.txt:2: ") && strstr(w.text, "(expected"),
                  "want '%s' in: %s", bad[i].warning, w.text);
        cr_expect(isnan(c.figure[CALIBRATE_BURN]), "%s", bad[i].line);
        cr_expect_float_eq(c.figure[CALIBRATE_LOOPBACK], 12.5, 1e-9);
        free(w.text);
    }
    const char *twice =
        file_of("twice.txt", "calibration_burn_ns: 0.5\ncalibration_burn_ns: 0.6 \r\n");
    struct calibration c;
    struct warnings w;
    cr_expect_eq(read_meta(twice, &c, &w), 1);
    cr_expect(strstr(w.text, "twice.txt:2: calibration_burn_ns given again (expected once)"), "%s",
              w.text);
    cr_expect_float_eq(c.figure[CALIBRATE_BURN], 0.5, 1e-9, "the first kept");
    free(w.text);
}
