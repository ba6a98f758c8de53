# Latency vs offered rate (open loop): p50 thin, p99 thick, log y. Latency is
# counted from each request's intended send time, so a server that falls
# behind shows it: the hockey stick.
chart = "latency"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart, i) separator comma
    plot runs using (column("rate")):(column("p50_ms")):(column("p99_ms")) \
        with table if (ok(i, "open"))
    unset table
}
set datafile nocolumnheaders
set title "Latency vs offered load (open loop): p99 solid, p50 dotted"
set xlabel "offered rate (requests/s)"
set ylabel "latency (ms, log)"
set logscale y
set logscale x
set format x "%g"
plot for [i=1:n] tmp(chart, i) using 1:3 with linespoints lw 2.5 pt 7 ps 0.8 lc rgb color(i) \
         title engine(i), \
     for [i=1:n] tmp(chart, i) using 1:2 with linespoints lw 1.5 dt 3 pt 6 ps 0.6 \
         lc rgb color(i) notitle
