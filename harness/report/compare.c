/* `overlap compare`: see compare.h. A change is Welch's interval of the
 * difference of the repeats' means, as a percentage of OLD's mean; its
 * verdict is `faster` or `slower` only when that interval excludes 0 and
 * reaches beyond ±threshold. Anything short of that reads `no change`: a
 * claim that one side wins needs the data to say so. Two folders may come
 * from two machines: their meta.txt calibrations (calibrate.h) say whether
 * the machines differ, and by how much, beside the verdicts. */
#include "compare.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "proc.h"
#include "stats.h"

enum verdict { NO_CHANGE, FASTER, SLOWER };
static const char *const verdict_name[] = {"no change", "faster", "slower"};

/* One measure's change from old to new. */
struct change {
    double old_mean, new_mean; /* NAN for a side with no ok run */
    double pct, lo, hi;        /* % of old's mean; NAN where undefined */
    enum verdict verdict;
    const char *note; /* why there is no interval, or NULL */
};

/* Counts over a comparison, for its last line and exit status. */
struct tally {
    int verdicts[3];
    int only_old, only_new;
};

/* The verdict of an interval [lo, hi] of new - old: a change only when the
 * interval excludes 0 and is not wholly inside ±threshold. */
static enum verdict judge(double lo, double hi, double threshold, int higher_is_faster)
{
    if (lo <= 0 && hi >= 0)
        return NO_CHANGE;
    if (lo >= -threshold && hi <= threshold)
        return NO_CHANGE;
    return (lo > 0) == higher_is_faster ? FASTER : SLOWER;
}

static void measure(const double *old, int nold, const double *new, int nnew, int higher_is_faster,
                    double threshold, struct change *c)
{
    *c = (struct change){NAN, NAN, NAN, NAN, NAN, NO_CHANGE, NULL};
    c->old_mean = stats_mean(old, nold);
    c->new_mean = stats_mean(new, nnew);
    if (nold < 1 || nnew < 1) {
        c->note = "(no ok run)";
        return;
    }
    /* The percentage takes old's mean as exact: with a few percent of
     * spread its own uncertainty shifts the interval's ends by far less. */
    double scale = c->old_mean != 0 ? 100 / fabs(c->old_mean) : NAN;
    c->pct = (c->new_mean - c->old_mean) * scale;
    struct stats_interval d;
    if (stats_welch_interval(old, nold, new, nnew, &d) < 0) {
        c->note = "(1 repeat: no interval)";
        return;
    }
    c->lo = d.lo * scale;
    c->hi = d.hi * scale;
    /* Old's mean 0: no percentage, but a change from nothing is beyond any
     * relative threshold once its interval excludes 0. */
    c->verdict = isfinite(scale) ? judge(c->lo, c->hi, threshold, higher_is_faster)
                                 : judge(d.lo, d.hi, 0, higher_is_faster);
}

/* "-30.0% [-35.1%, -24.9%]", or with the note in place of the interval. */
static void format_change(const struct change *c, char *buf, size_t len)
{
    char pct[32] = "n/a";
    if (isfinite(c->pct))
        snprintf(pct, sizeof(pct), "%+.1f%%", c->pct);
    if (c->note && !isfinite(c->pct))
        snprintf(buf, len, "%s", c->note);
    else if (c->note)
        snprintf(buf, len, "%s %s", pct, c->note);
    else if (isfinite(c->lo))
        snprintf(buf, len, "%s [%+.1f%%, %+.1f%%]", pct, c->lo, c->hi);
    else
        snprintf(buf, len, "%s [n/a]", pct);
}

static void format_number(double v, int decimals, char *buf, size_t len)
{
    if (isfinite(v))
        snprintf(buf, len, "%.*f", decimals, v);
    else
        snprintf(buf, len, "n/a");
}

/* A number field of the CSV: empty where undefined. */
static void csv_number(FILE *csv, double v, int decimals)
{
    if (isfinite(v))
        fprintf(csv, "%.*f", decimals, v);
    fputc(',', csv);
}

/* Column widths of the table: the config column fits the longest label. */
#define W_LOOP   8
#define W_NUM    10
#define W_CHANGE 31
#define W_VERD   9

static void print_header(FILE *out, int engine_width)
{
    if (engine_width)
        fprintf(out, "%-*s  ", engine_width, "config");
    fprintf(out, "%-*s %7s %*s  %-7s  %*s %*s  %-*s %-*s  %*s %*s  %-*s %s\n", W_LOOP, "loop",
            "clients", W_NUM, "rate", "repeats", W_NUM, "req/s old", W_NUM, "req/s new", W_CHANGE,
            "throughput change [95 %]", W_VERD, "verdict", W_NUM, "p99 ms old", W_NUM, "p99 ms new",
            W_CHANGE, "p99 change [95 %]", "p99 verdict");
}

static void print_row(FILE *out, int engine_width, const struct summary_point *p,
                      const struct summary_point *q, const struct change *tp,
                      const struct change *p99)
{
    char n[32], v[4][32], tp_change[64], p99_change[64];
    snprintf(n, sizeof(n), "%d/%d", p->repeats, q->repeats);
    format_number(tp->old_mean, 1, v[0], sizeof(v[0]));
    format_number(tp->new_mean, 1, v[1], sizeof(v[1]));
    format_number(p99->old_mean, 2, v[2], sizeof(v[2]));
    format_number(p99->new_mean, 2, v[3], sizeof(v[3]));
    format_change(tp, tp_change, sizeof(tp_change));
    format_change(p99, p99_change, sizeof(p99_change));
    char label[BENCH_LABEL_LEN];
    summary_label(p, label, sizeof(label));
    if (engine_width)
        fprintf(out, "%-*s  ", engine_width, label);
    fprintf(out, "%-*s %7s %*s  %-7s  %*s %*s  %-*s %-*s  %*s %*s  %-*s %s", W_LOOP, p->loop,
            p->clients, W_NUM, p->rate, n, W_NUM, v[0], W_NUM, v[1], W_CHANGE, tp_change, W_VERD,
            verdict_name[tp->verdict], W_NUM, v[2], W_NUM, v[3], W_CHANGE, p99_change,
            verdict_name[p99->verdict]);
    if (p->failed || q->failed)
        fprintf(out, "  (failed runs: %d old, %d new)", p->failed, q->failed);
    fputc('\n', out);
}

static const char csv_header[] =
    "old_engine,new_engine,loop,clients,rate,old_repeats,new_repeats,old_failed,new_failed,"
    "throughput_old,throughput_new,throughput_change_pct,throughput_lo_pct,throughput_hi_pct,"
    "throughput_verdict,p99_old_ms,p99_new_ms,p99_change_pct,p99_lo_pct,p99_hi_pct,p99_verdict\n";

static void print_csv_row(FILE *csv, const struct summary_point *p, const struct summary_point *q,
                          const struct change *tp, const struct change *p99)
{
    fprintf(csv, "%s,%s,%s,%s,%s,%d,%d,%d,%d,", p->engine, q->engine, p->loop, p->clients, p->rate,
            p->repeats, q->repeats, p->failed, q->failed);
    const struct change *c[2] = {tp, p99};
    for (int i = 0; i < 2; i++) {
        csv_number(csv, c[i]->old_mean, i ? 6 : 3);
        csv_number(csv, c[i]->new_mean, i ? 6 : 3);
        csv_number(csv, c[i]->pct, 2);
        csv_number(csv, c[i]->lo, 2);
        csv_number(csv, c[i]->hi, 2);
        fprintf(csv, "%s%c", verdict_name[c[i]->verdict], i ? '\n' : ',');
    }
}

/* The point of new that old's point p is compared with, or -1. */
static int partner(const struct summary_set *new, const struct summary_point *p,
                   const struct compare_options *o)
{
    if (o->a && strcmp(p->engine, o->a) != 0)
        return -1;
    return summary_find(new, o->a ? o->b : p->engine, p->loop, p->clients_n, p->rate_n);
}

/* Point p of old against q of new: throughput in c[0], p99 in c[1]. */
static void measure_point(const struct summary_point *p, const struct summary_point *q,
                          double threshold, struct change c[2])
{
    measure(p->throughput, p->repeats, q->throughput, q->repeats, 1, threshold, &c[0]);
    measure(p->p99, p->repeats, q->p99, q->repeats, 0, threshold, &c[1]);
}

/* Points of new that no point of old is compared with. */
static int count_only_new(const struct summary_set *old, const struct summary_set *new,
                          const struct compare_options *o)
{
    int n = 0;
    for (int i = 0; i < new->npoints; i++) {
        const struct summary_point *q = &new->points[i];
        if (o->a && strcmp(q->engine, o->b) != 0)
            continue;
        n += summary_find(old, o->a ? o->a : q->engine, q->loop, q->clients_n, q->rate_n) < 0;
    }
    return n;
}

static int engine_width(const struct summary_set *old, const struct compare_options *o)
{
    int width = 6; /* "config" */
    char label[BENCH_LABEL_LEN];
    for (int i = 0; !o->a && i < old->npoints; i++) {
        summary_label(&old->points[i], label, sizeof(label));
        int len = (int)strlen(label);
        width = len > width ? len : width;
    }
    return o->a ? 0 : width;
}

/* ---- the machines ---- */

/* How far a calibration figure moves between sweeps on one machine (the
 * burner 1.60 to 1.78 ns an iteration, the loopback 11.5 to 12.7 us, on a
 * shared 2-core virtual machine): a smaller difference says nothing of the
 * machines, whatever the verdicts' threshold. */
#define CALIBRATION_SPREAD_PCT 10.0

static const char *const measure_name[2] = {"throughput", "p99"};

/* One verdict a machine's difference could explain, as the note lists it. */
static void print_explained(FILE *out, const struct summary_point *p, int m, const struct change *c)
{
    int closed = !strcmp(p->loop, "closed");
    char label[BENCH_LABEL_LEN];
    summary_label(p, label, sizeof(label));
    fprintf(out, "    %s %s %s %s: %s %+.1f %%\n", label, p->loop, closed ? p->clients : p->rate,
            closed ? "clients" : "req/s", measure_name[m], c->pct);
}

/* The verdicts a machine slower (d > 0) or faster (d < 0) by |d| % could
 * explain: those that go its way by no more than |d|. Their number, each
 * listed on list unless it is NULL; *total: the verdicts that go its way. */
static int explained(const struct summary_set *old, const struct summary_set *new,
                     const struct compare_options *o, double d, FILE *list, int *total)
{
    enum verdict way = d > 0 ? SLOWER : FASTER;
    int n = 0;
    *total = 0;
    for (int i = 0; i < old->npoints; i++) {
        const struct summary_point *p = &old->points[i];
        int j = partner(new, p, o);
        struct change c[2];
        if (j < 0)
            continue;
        measure_point(p, &new->points[j], o->threshold_pct, c);
        for (int m = 0; m < 2; m++) {
            if (c[m].verdict != way)
                continue;
            ++*total;
            if (fabs(c[m].pct) > fabs(d))
                continue;
            n++;
            if (list)
                print_explained(list, p, m, &c[m]);
        }
    }
    return n;
}

/* A line of the note on the machines; the first is set apart from the tally. */
static void note(FILE *out, int *noted)
{
    if (!*noted)
        fputc('\n', out);
    *noted = 1;
}

/* Figure k of both calibrations: nothing when it agrees within the
 * threshold; else both values, their difference, and the verdicts it could
 * explain. A cost: NEW's larger means NEW's machine is slower at it. */
static void weigh_figure(const struct summary_set *old, const struct summary_set *new,
                         const struct compare_options *o, enum calibrate_figure k, FILE *out,
                         int *noted)
{
    double a = o->machine[0]->figure[k], b = o->machine[1]->figure[k];
    if (!isfinite(a) || !isfinite(b)) {
        note(out, noted);
        fprintf(out, "machine: %s is missing from %s's meta.txt: that figure cannot be compared\n",
                calibrate_key(k), isfinite(a) ? "NEW" : "OLD");
        return;
    }
    double d = (b - a) / a * 100, past = fmax(o->threshold_pct, CALIBRATION_SPREAD_PCT);
    if (fabs(d) <= past)
        return;
    const char *way = verdict_name[d > 0 ? SLOWER : FASTER];
    int total, n = explained(old, new, o, d, NULL, &total);
    note(out, noted);
    fprintf(out,
            "machine: %s (%s) is %g in OLD, %g in NEW: %+.1f %%, past the %g %% it moves "
            "on one machine; NEW's machine is %s at it\n",
            calibrate_key(k), calibrate_unit(k), a, b, d, past, way);
    if (total == 0) {
        fprintf(out, "  no throughput or p99 verdict reads `%s`: it explains none\n", way);
        return;
    }
    fprintf(out,
            "  it could explain %d of the %d throughput and p99 verdicts that read `%s` (those "
            "by %.1f %% or less)%s\n",
            n, total, way, fabs(d), n ? ":" : "");
    explained(old, new, o, d, out, &total);
}

/* The note on the machines, after the table: one line when a folder has
 * no calibration (a sweep from before it was recorded), else each figure
 * that differs. */
static void print_machines(const struct summary_set *old, const struct summary_set *new,
                           const struct compare_options *o, FILE *out)
{
    static const char *const none[] = {
        "OLD's meta.txt has no calibration (a sweep from before it was recorded)",
        "NEW's meta.txt has no calibration (a sweep from before it was recorded)",
        "neither folder's meta.txt has a calibration (sweeps from before it was recorded)",
    };
    int have[2] = {0, 0}, noted = 0;
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < CALIBRATE_NFIGURES; k++)
            have[side] += isfinite(o->machine[side]->figure[k]);
    if (!have[0] || !have[1]) {
        note(out, &noted);
        fprintf(out, "machine: %s: the machines cannot be compared\n",
                none[!have[0] && !have[1] ? 2 : have[0] > 0]);
        return;
    }
    for (int k = 0; k < CALIBRATE_NFIGURES; k++)
        weigh_figure(old, new, o, k, out, &noted);
}

static void print_tally(FILE *out, const struct tally *t, const struct compare_options *o)
{
    int n = t->verdicts[NO_CHANGE] + t->verdicts[FASTER] + t->verdicts[SLOWER];
    fprintf(out, "\n%d point%s compared: %d faster, %d slower, %d no change\n", n,
            n == 1 ? "" : "s", t->verdicts[FASTER], t->verdicts[SLOWER], t->verdicts[NO_CHANGE]);
    if (t->only_old || t->only_new)
        fprintf(out, "not compared: %d point%s only in %s, %d only in %s\n", t->only_old,
                t->only_old == 1 ? "" : "s", o->a ? o->a : "OLD", t->only_new, o->b ? o->b : "NEW");
}

int compare_sets(const struct summary_set *old, const struct summary_set *new,
                 const struct compare_options *o, FILE *out, FILE *csv)
{
    struct tally t = {.only_new = count_only_new(old, new, o)};
    int width = engine_width(old, o);
    print_header(out, width);
    if (csv)
        fputs(csv_header, csv);
    for (int i = 0; i < old->npoints; i++) {
        const struct summary_point *p = &old->points[i];
        int j = partner(new, p, o);
        if (j < 0) {
            t.only_old += !o->a || !strcmp(p->engine, o->a);
            continue;
        }
        const struct summary_point *q = &new->points[j];
        struct change c[2];
        measure_point(p, q, o->threshold_pct, c);
        t.verdicts[c[0].verdict]++;
        print_row(out, width, p, q, &c[0], &c[1]);
        if (csv)
            print_csv_row(csv, p, q, &c[0], &c[1]);
    }
    print_tally(out, &t, o);
    if (o->machine[0] && o->machine[1])
        print_machines(old, new, o, out);
    return t.verdicts[SLOWER] ? 1 : 0;
}

static const char compare_usage[] =
    "usage: overlap compare OLD NEW [--threshold T%] [--csv FILE]\n"
    "       overlap compare DIR A B [--threshold T%] [--csv FILE]\n"
    "  compares the runs.csv of two results folders, or configs A and B of one\n"
    "  (points matched on loop, clients and rate): each shared point's change in\n"
    "  throughput and p99 with its 95 % interval, and a verdict\n"
    "  --threshold T%   a change inside ±T is `no change` (default 2%), and two\n"
    "                   folders' machines differ when a calibration figure of their\n"
    "                   meta.txt does by more (then named, with the verdicts that\n"
    "                   difference could explain)\n"
    "  --csv FILE       the table as CSV too\n"
    "  exit status: 0, 1 when some point is slower, 2 on a usage error\n";

/* DIR/runs.csv into set: 0, or the exit status with the message printed
 * (2: no folder or no runs.csv there; 1: out of memory). */
static int load_folder(const char *dir, struct summary_set *set)
{
    char path[PATH_MAX], err[1024];
    struct stat st;
    memset(set, 0, sizeof(*set));
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "overlap compare: %s: no such results folder\n", dir);
        return 2;
    }
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    int rc = summary_read(path, set, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "overlap compare: %s\n", err);
    return rc == -ENOMEM ? 1 : rc < 0 ? 2 : 0;
}

/* Both folders' calibrations, read from their meta.txt (a malformed line is
 * a warning on stderr and reads as missing), for the note on the machines. */
static void read_machines(const char *const *pos, struct calibration machine[2],
                          struct compare_options *o)
{
    char path[PATH_MAX];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/meta.txt", pos[i]);
        calibrate_read(path, &machine[i], stderr, "overlap compare");
        o->machine[i] = &machine[i];
    }
}

/* 0 when set holds config name, else 2 with the configs it does hold. */
static int check_config(const struct summary_set *set, const char *dir, const char *name)
{
    for (int i = 0; i < set->npoints; i++)
        if (!strcmp(set->points[i].engine, name))
            return 0;
    fprintf(stderr, "overlap compare: %s/runs.csv: no config '%s' (configs:", dir, name);
    for (int i = 0; i < set->npoints; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(set->points[j].engine, set->points[i].engine);
        if (!seen)
            fprintf(stderr, " %s", set->points[i].engine);
    }
    fprintf(stderr, ")\n");
    return 2;
}

/* "5%" or "5": a percentage of at least 0. */
static int parse_threshold(const char *s, double *pct)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || (*end && strcmp(end, "%") != 0) || !isfinite(v) || v < 0)
        return -EINVAL;
    *pct = v;
    return 0;
}

/* Configs are named in runs.csv with ';' between settings; a user may
 * write them as a suite does, with ','. */
static void config_name(const char *arg, char *name, size_t len)
{
    snprintf(name, len, "%s", arg);
    for (char *s = name; *s; s++)
        if (*s == ',')
            *s = ';';
}

static int usage_error(const char *what, const char *arg)
{
    return proc_usage_error("compare", compare_usage, "%s%s%s%s", what, arg ? " '" : "",
                            arg ? arg : "", arg ? "'" : "");
}

/* Loads the folders, checks the configs, opens the CSV: 0 or an exit status. */
static int compare_run(const char *const *pos, int npos, struct compare_options *o,
                       const char *csv_path)
{
    struct summary_set sets[2];
    struct calibration machine[2];
    char a[256], b[256];
    FILE *csv = NULL;
    int status = load_folder(pos[0], &sets[0]);
    memset(&sets[1], 0, sizeof(sets[1]));
    if (status == 0 && npos == 2)
        status = load_folder(pos[1], &sets[1]);
    if (status == 0 && npos == 2)
        read_machines(pos, machine, o);
    if (status == 0 && npos == 3) {
        config_name(pos[1], a, sizeof(a));
        config_name(pos[2], b, sizeof(b));
        o->a = a;
        o->b = b;
        status = check_config(&sets[0], pos[0], a) ? 2 : check_config(&sets[0], pos[0], b);
    }
    if (status == 0 && csv_path && !(csv = fopen(csv_path, "w"))) {
        fprintf(stderr, "overlap compare: %s: %s\n", csv_path, strerror(errno));
        status = 2;
    }
    if (status != 0)
        goto out;
    if (npos == 2)
        printf("OLD %s (%d runs)  NEW %s (%d runs)", pos[0], sets[0].nrows, pos[1], sets[1].nrows);
    else
        printf("%s (%d runs): OLD %s  NEW %s", pos[0], sets[0].nrows, a, b);
    printf("  threshold %g%%, 95 %% intervals (Welch)\n\n", o->threshold_pct);
    status = compare_sets(&sets[0], npos == 2 ? &sets[1] : &sets[0], o, stdout, csv);
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, "overlap compare: %s: %s\n", csv_path, strerror(errno));
        status = 2;
    }
out:
    summary_free(&sets[0]);
    summary_free(&sets[1]);
    return status;
}

int compare_main(int argc, char **argv)
{
    struct compare_options o = {.threshold_pct = COMPARE_THRESHOLD_PCT};
    const char *pos[3], *csv_path = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(compare_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--threshold") && i + 1 < argc) {
            if (parse_threshold(argv[++i], &o.threshold_pct) < 0)
                return usage_error("--threshold wants a percentage like 2%, not", argv[i]);
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv_path = argv[++i];
        } else if (argv[i][0] == '-' || npos == 3) {
            return usage_error("unexpected argument", argv[i]);
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos < 2)
        return usage_error("two results folders, or a folder and two configs, expected", NULL);
    return compare_run(pos, npos, &o, csv_path);
}
