# Efficiency: measured throughput over the bound, per load point. 1.0 means
# the config did all its architecture allows.
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
set multiplot layout 1,2 title "Efficiency: throughput / bound"
set ylabel "efficiency"
set yrange [0:1.2]
set logscale x
set format x "%g"
set key inside left bottom
set title "closed loop"
set xlabel "concurrent clients"
plot 1 with lines lc rgb "#888888" dt 2 notitle, \
     for [i=1:n] tmp(chart."-closed", i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb color(i) title engine(i)
set title "open loop"
set xlabel "offered rate (requests/s)"
unset key
plot 1 with lines lc rgb "#888888" dt 2 notitle, \
     for [i=1:n] tmp(chart."-open", i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb color(i) title engine(i)
unset multiplot
