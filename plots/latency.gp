# Latency vs offered rate (open loop): p99 solid, p50 dotted, log-log. Latency
# is counted from each request's intended send time, so a server that falls
# behind shows it: the hockey stick. Each config's bound (ceilings) is a
# dashed vertical line in its colour: the knee should sit just before it.
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
set title "Latency vs offered load (open loop): p99 solid, p50 dotted; dashed: bound"
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
    c = real(word(ceilings, i))
    if (c > 0) {
        set arrow i from c, graph 0 to c, graph 1 nohead dt 2 lw 1.5 lc rgb color(i)
    }
}
plot for [i=1:n] tmp(chart, i) using 1:3 with linespoints lw 2.5 pt 7 ps 0.8 lc rgb color(i) \
         title engine(i), \
     for [i=1:n] tmp(chart, i) using 1:2 with linespoints lw 1.5 dt 3 pt 6 ps 0.6 \
         lc rgb color(i) notitle
