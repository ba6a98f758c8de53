# Latency vs offered rate (open loop), log-log. p99 solid: the median of
# the repeats' p99s (summary.csv's p99_median), its error bar their
# order-statistic interval (p99_lo to p99_hi: with fewer than 6 repeats
# their minimum and maximum); p50 dotted: the mean of the repeats' p50s
# (runs.csv, averaged per rate by `smooth unique`). A point with one repeat
# has no bar. Latency is counted from each request's intended send time, so
# a server that falls behind shows it: the hockey stick. Each config's bound
# (ceilings) is a dashed vertical line in its colour: the knee should sit
# just before it. Thin dashed (p99) and dotted (p50) lines in the same
# colour: the config's reference at each offered rate (model.csv, written
# by `overlap plot`; plots/README.md, "The models"): its queueing model, or
# the ideal system simulated where the model departs from it by more than
# its tolerance, as the config's legend entry says; ending before saturation.
# Hovering a p99 point shows its median with its interval, repeats and flags.
chart = "latency"
load "common.gp"
model_is_sim(i) = exists("model_sim") ? int(real(word(model_sim, i))) : 0
ref_title(i) = name(i) . (model_n(i) <= 0 ? "" : model_is_sim(i) ? \
               " (thin: ideal system, simulated)" : " (thin: model)")
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart, i) separator comma
    plot summary using (column("rate")):(column("p99_median")):(end_or("p99_lo", "p99_median")): \
        (end_or("p99_hi", "p99_median")) with table if (point(i, "open"))
    unset table
    set table tmp(chart."-p50", i) separator comma
    plot runs using (column("rate")):(column("p50_ms")) with table if (ok(i, "open"))
    unset table
    if (model_n(i) > 0) {
        set table tmp(chart."-model", i) separator comma
        plot model using (column("rate")):(column("p50_ms")):(column("p99_ms")) with table \
            if (strcol("engine") eq engine(i))
        unset table
    }
}
# the model's curves of the configs that have one (a config without, or a
# folder without its workload's copy, draws none and no empty file)
models = ""
do for [i=1:n] {
    if (model_n(i) > 0) {
        models = models . sprintf(", '%s' using 1:3 with lines lw 1 dt (8, 4) lc rgb '%s' " . \
                                  "notitle, '%s' using 1:2 with lines lw 1 dt (2, 4) " . \
                                  "lc rgb '%s' notitle", tmp(chart."-model", i), color(i), \
                                  tmp(chart."-model", i), color(i))
    }
}
set datafile nocolumnheaders
set title "Latency vs offered load (open loop): p99 solid (median of the repeats, bar: " . \
          "its interval), p50 dotted;\ndashed: bound; thin: the reference's p99 and p50"
set xlabel "offered rate (requests/s, log)"
set ylabel "latency (ms, log)"
set logscale y
set logscale x
set format x "%g"
# the data's own range, not whole decades, with a little room at each end
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
if (n_open == 0) {
    set xrange [1:10]
    set yrange [1:10]
    set label 1 "this sweep ran no open-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    exit
}
do for [i=1:n] {
    c = ceiling(i)
    if (c > 0) {
        set arrow i from c, graph 0 to c, graph 1 nohead dt 2 lw 1.5 lc rgb color(i)
    }
}
plot for [i=1:n] tmp(chart, i) using ($1 * dodge(i)):2 with linespoints lw 2.5 pt 7 ps 0.8 \
         lc rgb color(i) title ref_title(i) noenhanced, \
     for [i=1:n] tmp(chart, i) using ($1 * dodge(i)):(bar($2, $3, $4)):3:4 with yerrorbars \
         lw 1.5 pt 7 ps 0.8 lc rgb color(i) notitle, \
     for [i=1:n] tmp(chart."-p50", i) using ($1 * dodge(i)):2 smooth unique with linespoints \
         lw 1.5 dt 3 pt 6 ps 0.6 lc rgb color(i) notitle, \
     for [i=1:n] summary using (point(i, "open") ? column("rate") * dodge(i) : NaN): \
         (column("p99_median")):(hover(i, "p99 ms (median, interval)", "p99_median", "p99_lo", \
         "p99_hi", "%.1f")) with labels hypertext point pt 7 ps 0.8 lc rgb color(i) notitle \
         @models
