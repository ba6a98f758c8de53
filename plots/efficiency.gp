# Efficiency: measured throughput over the bound, per load point: the mean
# of the repeats' throughput (summary.csv's throughput_mean) over the
# point's Little's-law bound, its error bar the throughput's 95 % t
# interval over the same bound (the bound is a number, not a measurement:
# it adds no uncertainty). A point with one repeat has no bar. 1.0 means
# the config did all its architecture allows; the grey line marks it.
# Hovering a point shows its efficiency with its interval, repeats and flags.
chart = "efficiency"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart."-closed", i) separator comma
    plot summary using (column("clients")):(column("throughput_mean")): \
        (end_or("throughput_lo", "throughput_mean")):(end_or("throughput_hi", "throughput_mean")) \
        with table if (point(i, "closed"))
    unset table
    set table tmp(chart."-open", i) separator comma
    plot summary using (column("rate")):(column("throughput_mean")): \
        (end_or("throughput_lo", "throughput_mean")):(end_or("throughput_hi", "throughput_mean")) \
        with table if (point(i, "open"))
    unset table
}
set datafile nocolumnheaders
# a table's row x, mean, lo, hi as efficiency: each over the bound at x
eff(v, b) = b > 0 ? v / b : NaN
# a point's efficiency as its tooltip says it, over the bound b at its load
hover_eff(i, b) = hover_load(i) . sprintf("\nthroughput / bound: %.2f", column("throughput_mean") / b) . \
    (strcol("throughput_lo") eq "" ? " (no interval)" : sprintf(" [%.2f, %.2f]", \
    column("throughput_lo") / b, column("throughput_hi") / b)) . \
    sprintf(", %d repeats", column("repeats")) . hover_flags(0)
set multiplot title "Efficiency: throughput / Little's-law bound (mean of the repeats, " . \
                    "bars: 95% interval)"
set ylabel "efficiency"
set yrange [0:1.2<*]
set logscale x
set format x "%g"
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
unset key
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#888888" dt 2
eval panel(1, 2)
set title "closed loop"
set xlabel "concurrent clients (log)"
if (n_closed > 0) {
    plot for [i=1:n] tmp(chart."-closed", i) using ($1 * dodge(i)):(eff($2, bound_closed(i, $1))) \
             with linespoints lw 2 pt 7 ps 0.8 lc rgb color(i) title name(i) noenhanced, \
         for [i=1:n] tmp(chart."-closed", i) using ($1 * dodge(i)): \
             (eff(bar($2, $3, $4), bound_closed(i, $1))):(eff($3, bound_closed(i, $1))): \
             (eff($4, bound_closed(i, $1))) with yerrorbars lw 1.5 pt 7 ps 0.8 lc rgb color(i) \
             notitle, \
         for [i=1:n] summary using (point(i, "closed") ? column("clients") * dodge(i) : NaN): \
             (eff(column("throughput_mean"), bound_closed(i, column("clients")))): \
             (hover_eff(i, bound_closed(i, column("clients")))) with labels hypertext \
             point pt 7 ps 0.8 lc rgb color(i) notitle
} else {
    # a panel of nothing autoscales nothing: fixed ranges (a sweep of
    # capacity probes alone has neither loop)
    set xrange [1:10]
    set yrange [0:1.2]
    set label 1 "no closed-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    unset label 1
    set xrange [*:*]
    set yrange [0:1.2<*]
}
eval panel(2, 2)
set title "open loop"
set xlabel "offered rate (requests/s, log)"
unset key
if (n_open > 0) {
    plot for [i=1:n] tmp(chart."-open", i) using ($1 * dodge(i)):(eff($2, bound_open(i, $1))) \
             with linespoints lw 2 pt 7 ps 0.8 lc rgb color(i) title name(i) noenhanced, \
         for [i=1:n] tmp(chart."-open", i) using ($1 * dodge(i)): \
             (eff(bar($2, $3, $4), bound_open(i, $1))):(eff($3, bound_open(i, $1))): \
             (eff($4, bound_open(i, $1))) with yerrorbars lw 1.5 pt 7 ps 0.8 lc rgb color(i) \
             notitle, \
         for [i=1:n] summary using (point(i, "open") ? column("rate") * dodge(i) : NaN): \
             (eff(column("throughput_mean"), bound_open(i, column("rate")))): \
             (hover_eff(i, bound_open(i, column("rate")))) with labels hypertext \
             point pt 7 ps 0.8 lc rgb color(i) notitle
} else {
    set xrange [1:10]
    set yrange [0:1.2]
    set label 1 "no open-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
}
eval legend
unset multiplot
