/* libFuzzer target: `overlap merge` of shard folders made from the input
 * (split at lines `--` into shard 1's meta.txt and runs.csv, then shard
 * 2's) either merges or refuses with exit 1, never crashes, leaks or
 * leaves anything behind when it refuses. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

/* Writes len bytes of text to dir/name. */
static void put(const char *dir, const char *name, const char *text, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
        abort();
}

/* Whether out holds anything. */
static int anything_in(const char *out)
{
    DIR *d = opendir(out);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n > 0;
}

/* At exit, the private folder goes (every input's folders went before). */
static void remove_base(void)
{
    proc_remove_tree(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof(base), "%.40s/fuzz-merge-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(base))
            abort();
        atexit(remove_base);
    }
    char *text = strndup((const char *)data, size), shard[2][96], out[96];
    if (!text)
        abort();
    const char *names[] = {"meta.txt", "runs.csv"};
    char *p = text;
    for (int k = 0; k < 4; k++) {
        char *end = strstr(p, "\n--\n");
        size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
        snprintf(shard[k / 2], sizeof(shard[0]), "%s/s%d", base, k / 2 + 1);
        if (k % 2 == 0 && mkdir(shard[k / 2], 0755) < 0)
            abort();
        put(shard[k / 2], names[k % 2], p, len);
        p = end ? end + 4 : p + len;
    }
    snprintf(out, sizeof(out), "%s/out", base);
    char *argv[] = {"merge", "--no-plot", "--out", out, shard[0], shard[1], NULL};
    int status = bench_merge_main(6, argv);
    if (status != 0 && status != 1)
        abort(); /* the command line is sound: a bad folder is a refusal */
    if (status == 1 && anything_in(out))
        abort(); /* a refusal writes nothing */
    char merged[128];
    snprintf(merged, sizeof(merged), "%s/latest/summary.csv", out);
    if (status == 0 && access(merged, R_OK) != 0)
        abort(); /* a merge makes the whole folder */
    for (int i = 0; i < 2; i++)
        proc_remove_tree(shard[i]);
    proc_remove_tree(out);
    free(text);
    return 0;
}
