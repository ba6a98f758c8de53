# Efficiency: measured throughput over the bound, per load point. 1.0 means
# the config did all its architecture allows; the grey line marks it.
chart = "efficiency"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart."-closed", i) separator comma
    plot runs using (column("clients")):(column("efficiency")) with table if (ok(i, "closed"))
    unset table
    set table tmp(chart."-open", i) separator comma
    plot runs using (column("rate")):(column("efficiency")) with table if (ok(i, "open"))
    unset table
}
set datafile nocolumnheaders
set multiplot title "Efficiency: throughput / Little's-law bound"
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
    plot for [i=1:n] tmp(chart."-closed", i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 \
             lc rgb color(i) title engine(i)
} else {
    set xrange [1:10]
    set label 1 "no closed-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    unset label 1
    set xrange [*:*]
}
eval panel(2, 2)
set title "open loop"
set xlabel "offered rate (requests/s, log)"
unset key
if (n_open > 0) {
    plot for [i=1:n] tmp(chart."-open", i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 \
             lc rgb color(i) title engine(i)
} else {
    set xrange [1:10]
    set label 1 "no open-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
}
eval legend
unset multiplot
