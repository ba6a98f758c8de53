# What each config costs the machine as clients grow (closed loop): peak
# resident memory, threads, and context switches per second (voluntary and
# involuntary together). A point's repeats are averaged (`smooth unique`:
# one point per client count, the mean of its runs, in order of clients).
chart = "cost"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart, i) separator comma
    plot runs using (column("clients")):(column("peak_rss_kib")/1024.0):(column("threads")): \
        (column("vol_ctxsw_per_s") + column("invol_ctxsw_per_s")) with table if (ok(i, "closed"))
    unset table
}
set datafile nocolumnheaders
set multiplot title "Server cost vs clients (closed loop)"
if (n_closed == 0) {
    set xrange [1:10]
    set yrange [0:1]
    set label 1 "this sweep ran no closed-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    unset multiplot
    exit
}
set logscale x 2
set format x "%g"
set xlabel "concurrent clients (log)"
eval panel(1, 3)
set title "peak RSS"
set ylabel "MiB"
set yrange [0:*]
plot for [i=1:n] tmp(chart, i) using 1:2 smooth unique with linespoints lw 2 pt 7 ps 0.7 \
         lc rgb color(i) title name(i) noenhanced
eval panel(2, 3)
set title "threads"
set ylabel "threads (log)"
set logscale y
set yrange [1:*]
plot for [i=1:n] tmp(chart, i) using 1:3 smooth unique with linespoints lw 2 pt 7 ps 0.7 \
         lc rgb color(i)
eval panel(3, 3)
set title "context switches"
set ylabel "switches/s (log)"
plot for [i=1:n] tmp(chart, i) using 1:($4 > 0 ? $4 : 1) smooth unique with linespoints lw 2 \
         pt 7 ps 0.7 lc rgb color(i)
eval legend
unset multiplot
