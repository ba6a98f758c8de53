# Percentile spectrum, HdrHistogram's way: latency against 1/(1 - p), so each
# step right is ten times rarer (90 %, 99 %, 99.9 %, 99.99 %). One line per
# config, at about 80 % of its bound: busy, short of the knee (`overlap plot`
# picks the run: spectrum_runs, with its rate in spectrum_rates; -1: none).
chart = "spectrum"
load "common.gp"
set datafile columnheaders
shown = 0
do for [i=1:n] {
    id = int(word(spectrum_runs, i))
    set table tmp(chart, i) separator comma
    plot dir."/latency.csv" using (column("inverse")):(column("latency_ms")) \
        with table if (column("run") == id && column("inverse") >= 1 && column("latency_ms") > 0)
    unset table
    shown = shown + (id > 0)
}
set datafile nocolumnheaders
set title "Latency by percentile (open loop, each config at about 80% of its bound)"
set xlabel "percentile"
set ylabel "latency (ms, log)"
set logscale x
set logscale y
set xrange [1:10000]
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000)
set mxtics 10
label(i) = sprintf("%s at %s req/s", name(i), word(spectrum_rates, i))
if (shown == 0) {
    set yrange [1:10]
    set label 1 "this sweep ran no open-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    exit
}
plot for [i=1:n] tmp(chart, i) using 1:2 with lines lw 2.5 lc rgb color(i) \
         title (int(word(spectrum_runs, i)) > 0 ? label(i) : "") noenhanced
