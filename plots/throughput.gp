# Throughput vs concurrent clients (closed loop), each config's Little's-law
# bound dashed in the same colour.
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
set xlabel "concurrent clients"
set ylabel "throughput (requests/s)"
set logscale x 2
set format x "%g"
set yrange [0:*]
plot for [i=1:n] tmp(chart, i) using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb color(i) \
         title engine(i), \
     for [i=1:n] tmp(chart, i) using 1:3 with lines lw 1.5 dt 2 lc rgb color(i) notitle
