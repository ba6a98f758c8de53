/* report.html's summary table: the table `overlap bench` prints as a sweep
 * ends (bench_table.c), one line per config by its label, from the same
 * summary_line, with the most memory and threads any of its runs saw and
 * the flags its points raised. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "plot_internal.h"
#include "summary.h"

static const char *const heads[] = {
    "config",
    "peak req/s",
    "at",
    "bound req/s",
    "efficiency",
    "cores hold req/s",
    "p99 ms at 50 % of peak",
    "p99 ms at 90 % of peak",
    "peak RSS MiB",
    "threads",
    "flagged points",
};
#define NHEADS (sizeof(heads) / sizeof(heads[0]))

/* The most memory (KiB) and threads of any ok run of config spec. */
static void config_peaks(const struct csv_table *runs, const char *spec, double *rss,
                         double *threads)
{
    *rss = *threads = 0;
    for (int r = 0; r < runs->nrows; r++) {
        if (strcmp(csv_get(runs, r, "engine"), spec) || strcmp(csv_get(runs, r, "status"), "ok"))
            continue;
        *rss = fmax(*rss, csv_num(runs, r, "peak_rss_kib"));
        *threads = fmax(*threads, csv_num(runs, r, "threads"));
    }
}

/* How many of the config's points raised a flag, of its points, "3 of 8"
 * ("none" when none did), each flag word with how many raised it on hover
 * ("short-window ×2, noisy"): one line a config, so that seven configs'
 * table stays on the report's first screen. */
static void write_flag_counts(FILE *out, const struct csv_table *s, const char *spec)
{
    struct summary_flag flags[16];
    int n = summary_flag_counts(s, spec, flags, 16), points = 0, flagged = 0;
    for (int r = 0; r < s->nrows; r++)
        if (!strcmp(csv_get(s, r, "engine"), spec)) {
            points++;
            flagged += csv_get(s, r, "flags")[0] != '\0';
        }
    fputs("<td class=\"flags\" title=\"", out);
    for (int k = 0; k < n; k++) {
        fputs(k ? ", " : "", out);
        report__html(out, flags[k].word);
        if (flags[k].points > 1)
            fprintf(out, " ×%d", flags[k].points);
    }
    if (flagged)
        fprintf(out, "\">%d of %d</td>", flagged, points);
    else
        fputs("\">none</td>", out);
}

static void write_line(const struct plot__report *rp, int e)
{
    const struct csv_table *s = &rp->summary;
    const char *spec = rp->f->engines[e];
    FILE *out = rp->out;
    struct summary_line l;
    double ceiling = plot__ceiling(&rp->f->runs, spec), rss, threads;
    fputs("<tr><th title=\"", out);
    report__html(out, spec);
    fputs("\">", out);
    report__html(out, rp->f->labels[e]);
    fputs("</th>", out);
    if (summary_line(s, spec, &l) < 0) {
        fprintf(out, "<td colspan=\"%d\">no finished run</td></tr>\n", (int)NHEADS - 1);
        return;
    }
    fprintf(out, "<td>%.0f", l.tp);
    double hw = (l.tp_hi - l.tp_lo) / 2;
    if (!isnan(hw))
        fprintf(out, hw < 1 ? " ± %.1f" : " ± %.0f", hw);
    if (!strcmp(csv_get(s, l.peak_row, "loop"), "open"))
        fprintf(out, "</td><td>%.0f req/s offered</td>", csv_num(s, l.peak_row, "rate"));
    else
        fprintf(out, "</td><td>%.0f clients</td>", csv_num(s, l.peak_row, "clients"));
    fprintf(out,
            ceiling > 0 && isfinite(ceiling) ? "<td>%.0f</td><td>%.2f</td>"
                                             : "<td>-</td><td>-</td>",
            ceiling, l.tp / ceiling);
    fprintf(out, isnan(l.cpu_ceiling) ? "<td>-</td><td>" : "<td>%.0f</td><td>", l.cpu_ceiling);
    char p99[64];
    summary_p99_text(&l.at50, p99, sizeof(p99));
    fprintf(out, "%s</td><td>", p99);
    summary_p99_text(&l.at90, p99, sizeof(p99));
    fputs(p99, out);
    config_peaks(&rp->f->runs, spec, &rss, &threads);
    fprintf(out, "</td><td>%.1f</td><td>%.0f</td>", rss / 1024, threads);
    write_flag_counts(out, s, spec);
    fputs("</tr>\n", out);
}

void report__write_summary(const struct plot__report *rp)
{
    FILE *out = rp->out;
    fputs("<table id=\"summary\">\n<tr>", out);
    for (size_t c = 0; c < NHEADS; c++)
        fprintf(out, "<th>%s</th>", heads[c]);
    fputs("</tr>\n", out);
    for (int e = 0; e < rp->f->n; e++)
        write_line(rp, e);
    fputs("</table>\n<p class=\"note\">Peak: the highest mean throughput of any load point ± "
          "the half-width of its 95 % interval; bound: Little's law with unlimited clients; "
          "cores hold: the server's cores over the CPU it was measured to spend a request; p99: "
          "the median of the repeats' p99s [its interval], read off the open loop's curve; "
          "memory and threads: the most any run saw; flagged points: of the config's points, "
          "those a check flagged (hover for which; the details list them).</p>\n",
          out);
}
