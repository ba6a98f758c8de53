# Throughput vs concurrent clients (closed loop, log x), each config's
# Little's-law bound at the same client counts dashed in the same colour:
# min(C/(c+w), N/(c+w) for a pool, cores/c), as runs.csv's bound_rps holds it.
# Both lines join the same points the same way, so where the measurement
# sits under its bound is where it really does.
chart = "throughput"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart, i) separator comma
    plot runs using (column("clients")):(column("throughput_rps")):(column("bound_rps")) \
        with table if (ok(i, "closed"))
    unset table
}
set datafile nocolumnheaders
set title "Throughput vs clients (closed loop); dashed: each config's Little's-law bound"
set xlabel "concurrent clients (log)"
set ylabel "throughput (requests/s)"
set logscale x 2
set format x "%g"
set yrange [0:*]
if (n_closed == 0) {
    set xrange [1:2]
    set yrange [0:1]
    set label 1 "this sweep ran no closed-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    exit
}
plot for [i=1:n] tmp(chart, i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb color(i) \
         title engine(i), \
     for [i=1:n] tmp(chart, i) using 1:3 with lines lw 1.5 dt 2 lc rgb color(i) notitle
