/* `overlap merge SHARD...`: the folders of one sweep's shards (`overlap
 * bench --shard I/N`) made into the folder the sweep would have made run
 * whole. Each planned run kept its plan's number in its shard, so the merge
 * renumbers nothing: the rows of runs.csv, latency.csv, timeline.csv and
 * requests.csv go in by run number (a run's rows in their own order), the
 * runs' own files are copied, and summary.csv and the charts are made from
 * the result. Every check comes before anything is written, and the folder
 * is made under a hidden name and renamed into place whole, so a refusal
 * or a failure leaves nothing behind. */
#define _GNU_SOURCE
#include "bench_sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "summary.h"

static const char merge_usage[] =
    "usage: overlap merge [--out DIR] [--no-plot] SHARD_FOLDER...\n"
    "  makes the folders of every shard of one sweep (overlap bench --shard I/N)\n"
    "  into the folder the sweep run whole would have made: runs.csv and the merged\n"
    "  files by run number, the runs' own files, meta.txt, summary.csv, the charts\n"
    "  --out DIR    where the merged folder goes (default results), named\n"
    "               <suite>-<UTC timestamp> as a sweep's; DIR/latest points at it\n"
    "  --no-plot    no charts or report.html (overlap plot DIR draws them later)\n"
    "  Refused, with nothing written (exit 1): folders of different sweeps (suite,\n"
    "  workload, plan or N), a shard missing or given twice, a shard that did not\n"
    "  finish. overlap merge AGENT.hlog... adds load agents' logs (below).\n";

/* The files holding rows of runs, each row's first field its run number. */
static const char *const merged_files[] = {"runs.csv", "latency.csv", "timeline.csv",
                                           "requests.csv"};
#define NMERGED (int)(sizeof(merged_files) / sizeof(merged_files[0]))

/* meta.txt's lines of a shard's machine, kept per shard in the merged one. */
static const char machine_keys[] = "date host cpu cores kernel commit command "
                                   "calibration_burn_ns calibration_loopback_us";

struct row {
    long run;   /* the run number: the row's first field */
    long order; /* its place among all rows read: a run's rows keep theirs */
    char *line; /* with its newline */
};

struct rows {
    char *header; /* without its newline; NULL: no shard has the file */
    struct row *row;
    long n, cap;
};

struct shard {
    const char *dir;
    int index, count, runs, planned;
    char *meta; /* the whole meta.txt */
};

struct merge {
    struct shard *shard; /* in the order given; by_index[i] is shard i */
    struct shard **by_index;
    int n, nshards;
    struct rows rows[NMERGED];
    long order;
};

/* ---- reading ---- */

/* meta's value of key (`key: value`), copied to out: 0, or -1 without it. */
static int meta_get(const char *meta, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    for (const char *p = meta; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, k) && p[k] == ':' && p[k + 1] == ' ') {
            size_t n = strcspn(p + k + 2, "\n");
            snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p + k + 2);
            return 0;
        }
    }
    return -1;
}

static int add_row(struct rows *r, long run, long order, const char *line, size_t len)
{
    if (r->n == r->cap) {
        long cap = r->cap ? 2 * r->cap : 256;
        struct row *grown = realloc(r->row, (size_t)cap * sizeof(*grown));
        if (!grown)
            return -1;
        r->row = grown;
        r->cap = cap;
    }
    char *copy = malloc(len + 2); /* a last line without its newline gets one */
    if (!copy)
        return -1;
    memcpy(copy, line, len);
    snprintf(copy + len, 2, "%s", len && line[len - 1] == '\n' ? "" : "\n");
    r->row[r->n++] = (struct row){run, order, copy};
    return 0;
}

/* Adds the rows of DIR/name to r, its header checked against the other
 * shards'. 0 (also when the file is absent), or -1 with the message printed. */
static int read_rows(struct merge *m, const struct shard *s, const char *name, struct rows *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    errno = 0;
    char *text = proc_read_file(path, NULL);
    if (!text && errno == ENOENT)
        return 0;
    if (!text) {
        fprintf(stderr, "overlap merge: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    size_t head = strcspn(text, "\n");
    if (!r->header && !(r->header = strndup(text, head)))
        rc = -1;
    else if (strlen(r->header) != head || strncmp(r->header, text, head)) {
        fprintf(stderr,
                "overlap merge: %s:1: its columns differ from the other shards' (expected "
                "shards of one sweep, by one overlap)\n",
                path);
        rc = -1;
    }
    char *p = text + head + (text[head] == '\n');
    for (long line = 2; rc == 0 && *p; line++) {
        size_t len = strcspn(p, "\n");
        char *end;
        long run = strtol(p, &end, 10);
        if (end == p || *end != ',' || run < 1) {
            fprintf(stderr,
                    "overlap merge: %s:%ld: not a row of a run (expected its number first)\n", path,
                    line);
            rc = -1;
        } else if (add_row(r, run, m->order++, p, len + (p[len] == '\n')) < 0) {
            rc = -1;
        }
        p += len + (p[len] == '\n');
    }
    free(text);
    return rc;
}

/* A shard's meta.txt: which shard of how many, of which plan, finished. */
static int read_shard(struct shard *s)
{
    char path[PATH_MAX], v[128];
    snprintf(path, sizeof(path), "%s/meta.txt", s->dir);
    if (!(s->meta = proc_read_file(path, NULL))) {
        fprintf(stderr, "overlap merge: %s: not a results folder (cannot read meta.txt: %s)\n",
                s->dir, strerror(errno));
        return -1;
    }
    char err[BENCH_ERR_LEN];
    if (meta_get(s->meta, "shard", v, sizeof(v)) < 0 ||
        bench__shard_parse(v, &s->index, &s->count, err, sizeof(err)) < 0) {
        fprintf(stderr,
                "overlap merge: %s: not a shard of a sweep (expected a `shard: I/N` line in its "
                "meta.txt, as overlap bench --shard I/N writes)\n",
                s->dir);
        return -1;
    }
    if (meta_get(s->meta, "shard_complete", v, sizeof(v)) < 0 || strcmp(v, "yes")) {
        fprintf(stderr,
                "overlap merge: %s: shard %d/%d did not finish (interrupted, killed or still "
                "running): run it again\n",
                s->dir, s->index, s->count);
        return -1;
    }
    if (meta_get(s->meta, "shard_planned", v, sizeof(v)) < 0 || (s->planned = atoi(v)) < 0 ||
        s->planned > BENCH__MAX_RUNS || meta_get(s->meta, "shard_runs", v, sizeof(v)) < 0 ||
        (s->runs = atoi(v)) < 0 || s->runs > s->planned) {
        fprintf(stderr,
                "overlap merge: %s/meta.txt: no shard_runs or shard_planned line, or not "
                "counts of runs\n",
                s->dir);
        return -1;
    }
    return 0;
}

/* The keys every shard of one sweep shares with the first. */
static int same_sweep(const struct shard *a, const struct shard *b)
{
    static const char *const keys[] = {"shard_plan", "suite",         "workload",
                                       "engines",    "repeats",       "duration_s",
                                       "warmup_s",   "shard_planned", "slo"};
    char x[4096], y[4096];
    if (a->count != b->count) {
        fprintf(stderr, "overlap merge: %s is a shard of %d, %s of %d (expected one sweep's)\n",
                a->dir, a->count, b->dir, b->count);
        return -1;
    }
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        x[0] = y[0] = '\0';
        int ha = meta_get(a->meta, keys[k], x, sizeof(x)),
            hb = meta_get(b->meta, keys[k], y, sizeof(y));
        /* their names, not the paths each host read them from */
        if (k == 1 || k == 2) {
            x[strcspn(x, " ")] = '\0';
            y[strcspn(y, " ")] = '\0';
        }
        if (ha != hb || (ha == 0 && strcmp(x, y))) {
            fprintf(stderr,
                    "overlap merge: %s and %s are not shards of one sweep: their meta.txt's `%s` "
                    "differ (%s, %s)\n",
                    a->dir, b->dir, keys[k], ha ? "none" : x, hb ? "none" : y);
            return -1;
        }
    }
    return 0;
}

/* Every shard 1 to N once, of one sweep. */
static int check_shards(struct merge *m)
{
    m->nshards = m->shard[0].count;
    m->by_index = calloc((size_t)m->nshards + 1, sizeof(*m->by_index));
    if (!m->by_index)
        return -1;
    for (int i = 0; i < m->n; i++) {
        struct shard *s = &m->shard[i];
        if (i > 0 && same_sweep(&m->shard[0], s) < 0)
            return -1;
        if (m->by_index[s->index]) {
            fprintf(stderr, "overlap merge: shard %d/%d given twice: %s and %s\n", s->index,
                    s->count, m->by_index[s->index]->dir, s->dir);
            return -1;
        }
        m->by_index[s->index] = s;
    }
    for (int i = 1; i <= m->nshards; i++)
        if (!m->by_index[i]) {
            fprintf(stderr, "overlap merge: shard %d/%d missing (expected all %d folders)\n", i,
                    m->nshards, m->nshards);
            return -1;
        }
    return 0;
}

/* runs.csv's rows against the plan: every planned run once, each in the
 * shard that ran it, and runs past the plan (a goal's probes) from shard 1
 * alone. The rows are read shard 1 first, so i is the shard. */
static int check_runs(const struct merge *m, const struct rows *runs, const long *from)
{
    int planned = m->by_index[1]->planned;
    char *seen = calloc((size_t)planned + 1, 1);
    int *mine = calloc((size_t)m->nshards + 1, sizeof(int)), rc = seen && mine ? 0 : -1;
    for (long k = 0; rc == 0 && k < runs->n; k++) {
        long run = runs->row[k].run;
        int s = 1;
        while (s < m->nshards && runs->row[k].order >= from[s + 1])
            s++;
        if (run > planned && s == 1)
            continue;
        if (run > planned || seen[run]) {
            fprintf(stderr, "overlap merge: run %ld of %s/runs.csv %s\n", run, m->by_index[s]->dir,
                    run > planned ? "is past the plan's runs, and only shard 1 runs probes"
                                  : "is in two shards (expected shards of one sweep)");
            rc = -1;
            break;
        }
        seen[run] = 1;
        mine[s]++;
    }
    for (int s = 1; rc == 0 && s <= m->nshards; s++)
        if (mine[s] != m->by_index[s]->runs) {
            fprintf(stderr,
                    "overlap merge: %s: shard %d/%d holds %d of its %d planned runs (an "
                    "incomplete folder)\n",
                    m->by_index[s]->dir, s, m->nshards, mine[s], m->by_index[s]->runs);
            rc = -1;
        }
    free(seen);
    free(mine);
    return rc;
}

static int by_run(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Every shard's rows, checked: 0, or -1 with the message printed. */
static int read_all(struct merge *m)
{
    long from[BENCH__MAX_SHARDS + 1] = {0}; /* where shard s's runs.csv rows start */
    for (int f = 0; f < NMERGED; f++)
        for (int s = 1; s <= m->nshards; s++) {
            if (f == 0)
                from[s] = m->order;
            if (read_rows(m, m->by_index[s], merged_files[f], &m->rows[f]) < 0)
                return -1;
        }
    if (!m->rows[0].header) {
        fprintf(stderr, "overlap merge: %s has no runs.csv\n", m->by_index[1]->dir);
        return -1;
    }
    if (check_runs(m, &m->rows[0], from) < 0)
        return -1;
    for (int f = 0; f < NMERGED; f++)
        if (m->rows[f].n > 0)
            qsort(m->rows[f].row, (size_t)m->rows[f].n, sizeof(struct row), by_run);
    return 0;
}

/* ---- writing ---- */

static int write_rows(const char *dir, const char *name, const struct rows *r)
{
    char path[PATH_MAX];
    if (!r->header)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", r->header);
    for (long k = 0; k < r->n; k++)
        fputs(r->row[k].line, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* Copies from to a new file to (never over one). */
static int copy_new(const char *from, const char *to)
{
    int rc = proc_copy_file(from, to, true);
    if (rc < 0)
        fprintf(stderr, "overlap merge: cannot copy %s to %s: %s\n", from, to, strerror(-rc));
    return rc;
}

/* What the merge writes itself or the drawing makes again: not copied. */
static int made_here(const char *name)
{
    static const char made[] = " runs.csv latency.csv timeline.csv requests.csv meta.txt "
                               "summary.csv model.csv timeline-segments.csv "
                               "timeline-requests.csv map-cells.csv map-frontier.csv report.html ";
    char word[NAME_MAX + 3];
    const char *dot = strrchr(name, '.');
    snprintf(word, sizeof(word), " %s ", name);
    return strstr(made, word) || name[0] == '.' ||
           (dot && (!strcmp(dot, ".png") || !strcmp(dot, ".svg")));
}

/* sub's files of shard s into dir: a run's (NNN-...) as they are, any other
 * (logs/postgres.log) as shardI-NAME; the shard's chart logs (plot-*) stay. */
static int copy_sub(const struct shard *s, const char *dir, const char *sub)
{
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof(from), "%s/%s", s->dir, sub);
    DIR *d = opendir(from);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "plot-", 5))
            continue;
        snprintf(from, sizeof(from), "%s/%s/%s", s->dir, sub, e->d_name);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            snprintf(to, sizeof(to), "%s/%s/%s", dir, sub, e->d_name);
        else
            snprintf(to, sizeof(to), "%s/%s/shard%d-%s", dir, sub, s->index, e->d_name);
        rc = copy_new(from, to);
    }
    if (d)
        closedir(d);
    return rc;
}

/* The top level's other files (the inputs, probes.csv, capacity.csv,
 * map.csv): each from the first shard that has it. */
static int copy_top(const struct merge *m, const char *dir)
{
    char from[PATH_MAX], to[PATH_MAX];
    int rc = 0;
    for (int i = 1; rc == 0 && i <= m->nshards; i++) {
        DIR *d = opendir(m->by_index[i]->dir);
        struct dirent *e;
        struct stat st;
        while (rc == 0 && d && (e = readdir(d))) {
            snprintf(from, sizeof(from), "%s/%s", m->by_index[i]->dir, e->d_name);
            snprintf(to, sizeof(to), "%s/%s", dir, e->d_name);
            if (made_here(e->d_name) || stat(from, &st) < 0 || !S_ISREG(st.st_mode) ||
                access(to, F_OK) == 0)
                continue;
            rc = copy_new(from, to);
        }
        if (d)
            closedir(d);
    }
    return rc;
}

/* meta.txt: shard 1's, its shard lines gone, `runs` the rows merged and
 * `command` the merge's, then where the shards ran. */
static int write_meta(const struct merge *m, const char *dir, int argc, char **argv)
{
    char path[PATH_MAX], v[4096], key[64];
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (const char *p = m->by_index[1]->meta; *p;) {
        size_t len = strcspn(p, "\n");
        if (!strncmp(p, "runs: ", 6)) {
            fprintf(f, "runs: %ld\n", m->rows[0].n);
        } else if (!strncmp(p, "command: ", 9)) {
            fputs("command: overlap", f);
            for (int i = 0; i < argc; i++)
                fprintf(f, " %s", argv[i]);
            fputc('\n', f);
        } else if (strncmp(p, "shard: ", 7) && strncmp(p, "shard_complete: ", 16) &&
                   strncmp(p, "shard_runs: ", 12)) {
            fprintf(f, "%.*s\n", (int)len, p);
        }
        p += len + (p[len] == '\n');
    }
    fprintf(f, "merged_from: %d shards\n", m->nshards);
    for (int i = 1; i <= m->nshards; i++)
        for (const char *k = machine_keys; *k; k += strcspn(k, " "), k += *k == ' ') {
            snprintf(key, sizeof(key), "%.*s", (int)strcspn(k, " "), k);
            if (meta_get(m->by_index[i]->meta, key, v, sizeof(v)) == 0)
                fprintf(f, "shard_%d_%s: %s\n", i, key, v);
        }
    return fclose(f) == 0 ? 0 : -1;
}

/* The server's CPUs for summary.csv, as `overlap plot` counts them. */
static int server_cores(const char *meta)
{
    char v[4096];
    int n = meta_get(meta, "server_cpus", v, sizeof(v)) == 0 ? proc_count_cpus(v) : -1;
    if (n <= 0 && meta_get(meta, "cores", v, sizeof(v)) == 0)
        n = atoi(v);
    return n > 0 ? n : 1;
}

static int write_all(const struct merge *m, const char *tmp, int argc, char **argv)
{
    char sub[PATH_MAX], err[BENCH_ERR_LEN];
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", tmp, i ? "logs" : "runs");
        if (mkdir(sub, 0755) < 0)
            return -1;
    }
    for (int f = 0; f < NMERGED; f++)
        if (write_rows(tmp, merged_files[f], &m->rows[f]) < 0)
            return -1;
    for (int i = 1; i <= m->nshards; i++)
        if (copy_sub(m->by_index[i], tmp, "runs") < 0 || copy_sub(m->by_index[i], tmp, "logs") < 0)
            return -1;
    if (copy_top(m, tmp) < 0 || write_meta(m, tmp, argc, argv) < 0)
        return -1;
    if (summary_write(tmp, server_cores(m->by_index[1]->meta), err, sizeof(err)) < 0) {
        fprintf(stderr, "overlap merge: %s\n", err);
        return -1;
    }
    return 0;
}

/* Renames tmp to out/<suite>-<stamp>[-N], never over a folder that exists,
 * and points out/latest at it. */
static int put_in_place(const struct merge *m, const char *out, const char *tmp, char *dir,
                        size_t len)
{
    char suite[64] = "merged", stamp[32], link[PATH_MAX], ltmp[PATH_MAX];
    time_t t = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&t));
    if (meta_get(m->by_index[1]->meta, "suite", suite, sizeof(suite)) == 0)
        suite[strcspn(suite, " ")] = '\0';
    for (int i = 1; i < 100; i++) {
        snprintf(dir, len, i == 1 ? "%s/%s-%s" : "%s/%s-%s-%d", out, suite, stamp, i);
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) == 0) {
            snprintf(link, sizeof(link), "%s/latest", out);
            snprintf(ltmp, sizeof(ltmp), "%s.%d.tmp", link, (int)getpid());
            unlink(ltmp);
            if (symlink(strrchr(dir, '/') + 1, ltmp) == 0 && rename(ltmp, link) < 0)
                unlink(ltmp);
            return 0;
        }
        if (errno != EEXIST && errno != ENOTEMPTY)
            break;
    }
    fprintf(stderr, "overlap merge: cannot name the merged folder %s: %s\n", dir, strerror(errno));
    return -1;
}

/* ---- the command ---- */

int bench_merge_wants(int argc, char **argv)
{
    struct stat st;
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > 5 && !strcmp(argv[i] + n - 5, ".hlog"))
            return 0;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            return 1;
    return 0;
}

static void merge_free(struct merge *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->shard[i].meta);
    for (int f = 0; f < NMERGED; f++) {
        for (long k = 0; k < m->rows[f].n; k++)
            free(m->rows[f].row[k].line);
        free(m->rows[f].row);
        free(m->rows[f].header);
    }
    free(m->shard);
    free(m->by_index);
}

int bench_merge_main(int argc, char **argv)
{
    const char *out = "results";
    int plot = 1, status = 1;
    struct merge m = {0};
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (!(m.shard = calloc((size_t)argc, sizeof(*m.shard))))
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(merge_usage, stdout);
            status = 0;
            goto done;
        } else if (!strcmp(argv[i], "--no-plot")) {
            plot = 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            status = proc_usage_error("merge", merge_usage,
                                      "unknown flag or flag without its value '%s'", argv[i]);
            goto done;
        } else {
            m.shard[m.n++].dir = argv[i];
        }
    }
    if (m.n == 0) {
        status = proc_usage_error("merge", merge_usage,
                                  "no shard folders (expected overlap bench --shard I/N's)");
        goto done;
    }
    for (int i = 0; i < m.n; i++)
        if (read_shard(&m.shard[i]) < 0)
            goto done;
    if (check_shards(&m) < 0 || read_all(&m) < 0)
        goto done;
    if (mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "overlap merge: cannot create %s: %s\n", out, strerror(errno));
        goto done;
    }
    snprintf(tmp, sizeof(tmp), "%s/.merge-XXXXXX", out);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "overlap merge: cannot create a folder in %s: %s\n", out, strerror(errno));
        goto done;
    }
    if (chmod(tmp, 0755) < 0 || write_all(&m, tmp, argc, argv) < 0 ||
        put_in_place(&m, out, tmp, dir, sizeof(dir)) < 0) {
        fprintf(stderr, "overlap merge: nothing written (%s)\n", strerror(errno));
        proc_remove_tree(tmp);
        goto done;
    }
    printf("overlap merge: %d shards, %ld runs into %s\n", m.nshards, m.rows[0].n, dir);
    status = 0;
    if (plot)
        bench__draw_charts(dir);
done:
    merge_free(&m);
    return status;
}
