/* report.html's crossover map: the map's figure after the other charts,
 * then a table of its cells (wait x CPU: the ratio of the best event loop's
 * capacity to the best pool's, and who serves more) and one sentence per
 * CPU column on where the event loop starts to win, beside the frontier
 * the bounds predict (plots/README.md, "The crossover map"). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_internal.h"

/* A cell's background in the table, the chart's colours faded. */
static const char *const verdict_colour[] = {
    [PLOT_MAP_LOOP] = "#e3dff0",     [PLOT_MAP_POOL] = "#fbe3c8",
    [PLOT_MAP_TIE] = "#ffffff",      [PLOT_MAP_NONE] = "#e0e0e0",
    [PLOT_MAP_MISSING] = "#e0e0e0",  [PLOT_MAP_UNREACHABLE] = "#e0e0e0",
    [PLOT_MAP_MARGINAL] = "#e0e0e0", [PLOT_MAP_UNDECIDED] = "#e0e0e0",
};

static void write_figure(const struct plot__report *rp, const char *goal)
{
    char svg[PATH_MAX + 32];
    snprintf(svg, sizeof(svg), "%s/map.svg", rp->f->dir);
    fputs("<figure id=\"map\">\n", rp->out);
    if (report__inline_svg(rp->out, svg, "map") < 0)
        fputs("<p>(chart map missing)</p>", rp->out);
    fprintf(rp->out,
            "\n<figcaption>The crossover map: in each cell of CPU per request and database "
            "wait, the best event loop's capacity at %s over the best pool's, on a log scale "
            "centred on 1; a tie where their brackets overlap. The line is the frontier where "
            "the largest pool's bound N/(c+w) meets the CPU's k/c.</figcaption>\n</figure>\n",
            goal);
}

/* The ideal system's capacity of engine in cell (i, j): map.csv's ideal_rps
 * (what the architecture could reach on a perfect machine); NAN without. */
static double cell_ideal(const struct plot__map *m, int i, int j, const char *engine)
{
    const struct csv_table *t = &m->table;
    if (!engine || csv_col(t, "ideal_rps") < 0)
        return NAN;
    for (int r = 0; r < t->nrows; r++)
        if (report__number(t, r, "cpu_us") == m->cpu_us[i] &&
            report__number(t, r, "wait_ms") == m->wait_ms[j] &&
            !strcmp(csv_get(t, r, "engine"), engine))
            return report__number(t, r, "ideal_rps");
    return NAN;
}

/* "event loop 8012 req/s [8012, 8170], ideal 9120", or "no pool config" */
static void write_side(const struct plot__report *rp, const struct plot__map_best *b,
                       const char *kind, double ideal)
{
    FILE *out = rp->out;
    if (!b->engine) {
        fprintf(out, "no %s config", kind);
        return;
    }
    report__write_label(out, rp->f, b->engine);
    fprintf(out, " %.0f req/s [%.0f, ", b->rps, b->lo);
    if (isfinite(b->hi))
        fprintf(out, "%.0f]", b->hi);
    else
        fputs("&#8734;]", out);
    if (!isnan(ideal))
        fprintf(out, ", ideal %.0f", ideal);
}

/* "3.2x: event loop", "1/1.4x: pool of 64 threads", "tie", "none"; under
 * it the same two configs' ratio on a perfect machine ("ideal 3.5x"). */
static void write_cell(const struct plot__report *rp, const struct plot__map *m, int i, int j)
{
    FILE *out = rp->out;
    const struct plot__map_cell *c = &m->cell[i][j];
    double loop = cell_ideal(m, i, j, c->loop.engine), pool = cell_ideal(m, i, j, c->pool.engine);
    char label[64];
    plot__map_label(c, label, sizeof(label));
    fprintf(out, "<td style=\"background:%s\" title=\"", verdict_colour[c->verdict]);
    if (c->verdict == PLOT_MAP_UNREACHABLE || c->verdict == PLOT_MAP_MARGINAL) {
        fprintf(out, "the idle request: %.1f ms by the workload's distributions, %.1f ms measured",
                c->idle_model_ms, c->idle_ms);
    } else {
        write_side(rp, &c->loop, "event-loop", loop);
        fputs("; ", out);
        write_side(rp, &c->pool, "pool", pool);
    }
    fprintf(out, "\">%s", label);
    if (c->verdict == PLOT_MAP_LOOP || c->verdict == PLOT_MAP_POOL) {
        fputs(": ", out);
        report__write_label(out, rp->f,
                            c->verdict == PLOT_MAP_LOOP ? c->loop.engine : c->pool.engine);
    }
    if (loop > 0 && pool > 0)
        fprintf(out, "<br><small>ideal %s%.2gx</small>", loop < pool ? "1/" : "",
                loop < pool ? pool / loop : loop / pool);
    fputs("</td>", out);
}

static void write_table(const struct plot__report *rp, const struct plot__map *m)
{
    FILE *out = rp->out;
    char t[64];
    fputs("<table class=\"map\">\n<tr><th>wait \\ CPU</th>", out);
    for (int i = 0; i < m->ncpu; i++) {
        plot__map_time(m->cpu_us[i] / 1000, 1, t, sizeof(t));
        fprintf(out, "<th>%s</th>", t);
    }
    fputs("</tr>\n", out);
    for (int j = 0; j < m->nwait; j++) {
        plot__map_time(m->wait_ms[j], 0, t, sizeof(t));
        fprintf(out, "<tr><th>%s</th>", t);
        for (int i = 0; i < m->ncpu; i++)
            write_cell(rp, m, i, j);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* What a cell short of an event loop's win holds, as words. */
static const char *short_of_a_win(const struct plot__map_cell *c)
{
    switch (c->verdict) {
    case PLOT_MAP_POOL: return "the pool wins";
    case PLOT_MAP_TIE: return "a tie";
    case PLOT_MAP_NONE: return "neither meets the goal";
    case PLOT_MAP_UNREACHABLE: return "the idle request already misses the goal";
    case PLOT_MAP_MARGINAL: return "the goal is within the idle request's interval";
    case PLOT_MAP_UNDECIDED: return "too few requests to judge the goal";
    default: return "nothing to compare";
    }
}

/* Where the frontier stands against the measured crossover, which lies
 * between waits lo and hi (either NAN: off that end of the grid). */
static void write_frontier(FILE *out, const struct plot__map *m, double cpu_us, double lo,
                           double hi)
{
    double w = plot__map_frontier(m, cpu_us);
    char t[64];
    if (isnan(w)) {
        fputs(" No frontier to compare: no pool has a worker limit.", out);
        return;
    }
    fprintf(out, " The frontier (N = %d workers, k = %d core%s) ", m->workers, m->cores,
            m->cores == 1 ? "" : "s");
    if (w <= 0) {
        fputs("lies at no positive wait: with no more workers than cores, the pool's bound is "
              "under the CPU's at any wait.",
              out);
        return;
    }
    plot__map_time(w, 0, t, sizeof(t));
    fprintf(out, "puts it at %s, %s.", t,
            !isnan(lo) && w < lo     ? "below the measured crossover"
            : !isnan(hi) && w > hi   ? "above the measured crossover"
            : isnan(lo) && isnan(hi) ? "where nothing was measured"
                                     : "within the measured crossover");
}

/* The smallest and largest ratio of column i's cells on one side of the
 * frontier's wait w (under it, or over it); 0 when no cell there has one,
 * and then *lo and *hi are NAN. */
static int ratio_range(const struct plot__map *m, int i, double w, int over, double *lo, double *hi)
{
    int n = 0;
    *lo = *hi = NAN;
    for (int j = 0; j < m->nwait; j++) {
        double r = m->cell[i][j].ratio;
        if ((m->wait_ms[j] > w) != over || !isfinite(r) || !(r > 0))
            continue;
        *lo = n ? fmin(*lo, r) : r;
        *hi = n ? fmax(*hi, r) : r;
        n++;
    }
    return n;
}

/* A ratio as the table writes it: "1.4x", or "1/1.6x" where the pool
 * serves more. */
static void write_ratio(FILE *out, double r)
{
    if (r < 1)
        fprintf(out, "1/%.2gx", 1 / r);
    else
        fprintf(out, "%.2gx", r);
}

/* "1.1x to 1.4x" */
static void write_range(FILE *out, double lo, double hi)
{
    write_ratio(out, lo);
    if (hi > lo * 1.05) {
        fputs(" to ", out);
        write_ratio(out, hi);
    }
}

/* How the ratios part at the frontier: under it both architectures are held
 * by the cores and a margin is the cost of a request; over it the pool's
 * workers all wait, and the margin is the architecture's. */
static void write_margins(FILE *out, const struct plot__map *m, int i)
{
    double w = plot__map_frontier(m, m->cpu_us[i]), under_lo, under_hi, over_lo, over_hi;
    if (!(w > 0))
        return;
    int under = ratio_range(m, i, w, 0, &under_lo, &under_hi);
    int over = ratio_range(m, i, w, 1, &over_lo, &over_hi);
    if (under) {
        fputs(" Under it, where the cores hold both, the ratio is ", out);
        write_range(out, under_lo, under_hi);
        fputs(" (the cost of a request in each engine)", out);
    }
    if (over) {
        fputs(under ? "; over it " : " Over it ", out);
        fputs("the pool's workers all wait and the ratio is ", out);
        write_range(out, over_lo, over_hi);
    }
    if (under || over)
        fputc('.', out);
}

/* One CPU column: the lowest wait from which every cell up is the event
 * loop's win, and what lies just under it. */
static void write_crossover(FILE *out, const struct plot__map *m, int i)
{
    char cpu[64], lo[64], hi[64];
    int from = m->nwait;
    while (from > 0 && m->cell[i][from - 1].verdict == PLOT_MAP_LOOP)
        from--;
    plot__map_time(m->cpu_us[i] / 1000, 1, cpu, sizeof(cpu));
    fprintf(out, "<li>At %s of CPU a request, ", cpu);
    if (from < m->nwait)
        plot__map_time(m->wait_ms[from], 0, hi, sizeof(hi));
    if (from > 0)
        plot__map_time(m->wait_ms[from - 1], 0, lo, sizeof(lo));
    if (from == 0)
        fprintf(out, "the event loop wins at every wait measured, from %s up.", hi);
    else if (from == m->nwait)
        fprintf(out, "the event loop does not win at the highest wait measured, %s (%s).", lo,
                short_of_a_win(&m->cell[i][from - 1]));
    else
        fprintf(out,
                "the crossover lies between %s of wait (%s) and %s, from which up the event "
                "loop wins.",
                lo, short_of_a_win(&m->cell[i][from - 1]), hi);
    write_frontier(out, m, m->cpu_us[i], from > 0 ? m->wait_ms[from - 1] : NAN,
                   from < m->nwait ? m->wait_ms[from] : NAN);
    write_margins(out, m, i);
    fputs("</li>\n", out);
}

/* The cells no search could judge, a finding for them all: where the idle
 * request rules the goal out, and where the searches were undecided. */
static void write_ruled_out(FILE *out, const struct plot__map *m, const char *goal)
{
    char cpu[64], wait[64];
    int idle = 0, undecided = 0;
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++) {
            const struct plot__map_cell *c = &m->cell[i][j];
            if (c->verdict != PLOT_MAP_UNREACHABLE && c->verdict != PLOT_MAP_MARGINAL)
                continue;
            plot__map_time(m->cpu_us[i] / 1000, 1, cpu, sizeof(cpu));
            plot__map_time(m->wait_ms[j], 0, wait, sizeof(wait));
            fprintf(out,
                    "%s(%s, %s): %s, the idle request's percentile %.1f ms by the workload's "
                    "distributions and %.1f ms measured",
                    idle++ ? "; "
                           : "<li>No architecture can be named where the idle request "
                             "alone decides the goal, so no search ran there: ",
                    cpu, wait, c->verdict == PLOT_MAP_UNREACHABLE ? "unreachable" : "marginal",
                    c->idle_model_ms, c->idle_ms);
        }
    if (idle)
        fprintf(out, " (%s).</li>\n", goal);
    for (int i = 0; i < m->ncpu; i++)
        for (int j = 0; j < m->nwait; j++)
            undecided += m->cell[i][j].verdict == PLOT_MAP_UNDECIDED;
    if (undecided)
        fprintf(out,
                "<li>%d cell%s undecided: no rate's requests could show the goal met, since a "
                "probe's window held fewer than its percentile needs (p99: 368); a longer "
                "duration decides them.</li>\n",
                undecided, undecided == 1 ? " is" : "s are");
}

/* The searches whose measured capacity falls short of the ideal system's
 * by more than their bracket's width (capacity_lo to its widened upper
 * end), a finding for them all. */
static void write_short_of_ideal(const struct plot__report *rp, const struct plot__map *m)
{
    FILE *out = rp->out;
    static const char *const judged = ";found;always_met;out_of_probes;never_met;";
    const struct csv_table *t = &m->table;
    char cpu[64], wait[64], word[40];
    int searched = 0, shorter = 0;
    for (int r = 0; csv_col(t, "ideal_rps") >= 0 && r < t->nrows; r++) {
        double ideal = report__number(t, r, "ideal_rps"),
               cap = report__number(t, r, "capacity_rps");
        double lo = report__number(t, r, "capacity_lo"), hi = report__bracket_hi(t, r);
        snprintf(word, sizeof(word), ";%.30s;", csv_get(t, r, "status"));
        if (!strstr(judged, word) || isnan(ideal) || isnan(cap) || isnan(lo))
            continue;
        searched++;
        if (!(ideal - cap > hi - lo))
            continue;
        plot__map_time(report__number(t, r, "cpu_us") / 1000, 1, cpu, sizeof(cpu));
        plot__map_time(report__number(t, r, "wait_ms"), 0, wait, sizeof(wait));
        fputs(shorter++ ? "; "
                        : "<li>Short of the ideal system (what the architecture could reach on a "
                          "perfect machine, simulated) by more than the bracket's width: ",
              out);
        fputs("<b>", out);
        report__write_label(out, rp->f, csv_get(t, r, "engine"));
        fprintf(out, "</b> at (%s, %s) serves %.0f req/s of its ideal %.0f", cpu, wait, cap, ideal);
    }
    if (shorter)
        fputs(".</li>\n", out);
    else if (searched)
        fputs("<li>No config searched falls short of the ideal system's capacity (what the "
              "architecture could reach on a perfect machine, simulated) by more than its "
              "bracket's width.</li>\n",
              out);
}

void report__write_map(const struct plot__report *rp)
{
    struct plot__map *m = calloc(1, sizeof(*m));
    char err[PATH_MAX + 256] = "out of memory", goal[64];
    int rc = m ? plot__map_read(rp->f->dir, m, err, sizeof(err)) : -ENOMEM;
    if (plot__goal(rp->f->dir, goal, sizeof(goal)) < 0)
        snprintf(goal, sizeof(goal), "the sweep's goal");
    if (rc == 0)
        write_figure(rp, goal);
    if (rc != -ENOENT)
        fputs("<h2>Where each architecture wins</h2>\n", rp->out);
    if (rc < 0 && rc != -ENOENT) {
        fputs("<p>No map: ", rp->out);
        report__html(rp->out, err);
        fputs(".</p>\n", rp->out);
    } else if (rc == 0) {
        fprintf(rp->out,
                "<p>Each cell: the best event loop's capacity (async or coro) at %s over the "
                "best pool's, and the config that serves more; a tie where their brackets "
                "overlap. 1/2x: the pool serves twice as much. Under it, the same two "
                "configs' ratio on a perfect machine: their ideal systems' capacities, "
                "simulated.</p>\n",
                goal);
        write_table(rp, m);
        fputs("<ul class=\"findings\">\n", rp->out);
        for (int i = 0; i < m->ncpu; i++)
            write_crossover(rp->out, m, i);
        write_ruled_out(rp->out, m, goal);
        write_short_of_ideal(rp, m);
        fputs("</ul>\n", rp->out);
    }
    if (m)
        plot__map_free(m);
    free(m);
}
