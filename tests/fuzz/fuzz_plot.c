/* libFuzzer target: `overlap plot` reads results folders anyone may have
 * edited. The input is split at lines of `%%` into runs.csv, timeline.csv,
 * meta.txt, summary.csv, map.csv and capacity.csv (an empty part: no such file); preparing the
 * charts' tables (summary.csv written from runs.csv when the input has none) and writing
 * report.html must survive any of it (no gnuplot runs here). A summary.csv of the input is dated in
 * the future, so that plot keeps it as newer than runs.csv and the report reads it as it is. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[256]; /* the folder every input is written to, made once */

static void remove_scratch(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
    if (scratch[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", scratch);
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

/* An empty summary.csv part means none: plot writes its own. */
static void keep_or_drop_summary(const char *dir)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/summary.csv", dir);
    if (stat(path, &st) == 0 && st.st_size == 0) {
        unlink(path);
        return;
    }
    struct timespec later[2] = {{time(NULL) + 3600, 0}, {time(NULL) + 3600, 0}};
    utimensat(AT_FDCWD, path, later, 0);
}

/* An empty part of name means no such file. */
static void drop_empty(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) == 0 && st.st_size == 0)
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scratch[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/overlap-fuzz-plot-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(scratch))
            abort();
        atexit(remove_scratch);
    }
    static const char *names[] = {"runs.csv",    "timeline.csv", "meta.txt",
                                  "summary.csv", "map.csv",      "capacity.csv"};
    const uint8_t *part = data, *end = data + size;
    for (int i = 0; i < 6; i++) {
        const uint8_t *cut = part;
        while (cut + 3 <= end && memcmp(cut, "\n%%", 3) != 0)
            cut++;
        if (cut + 3 > end)
            cut = end;
        put(scratch, names[i], part, (size_t)(cut - part));
        part = cut + 3 <= end ? cut + 3 : end;
    }
    keep_or_drop_summary(scratch);
    drop_empty(scratch, "map.csv");
    drop_empty(scratch, "capacity.csv");
    char vars[16384], err[512];
    if (plot_prepare_map(scratch, vars, sizeof(vars), err, sizeof(err)) == 0 &&
        strpbrk(vars, "\n\r\\"))
        abort(); /* gnuplot's -e line would end, or a string escape */
    if (plot_prepare(scratch, vars, sizeof(vars), err, sizeof(err)) == 0) {
        if (strpbrk(vars, "\n\r\\"))
            abort();
        plot_write_report(scratch);
    }
    return 0;
}
