# `make bench-peers`: each server's pipelined /plaintext peak and its CPU
# time per request at a fixed open-loop rate, the best round beside the
# worst (the gap is what the shared machine took). harness/peers.sh writes
# summary.csv and runs this with dir (its results folder) and depth (wrk's
# requests per write) set. Standalone:
# it does not load common.gp, whose conventions are those of an `overlap
# bench` folder.
if (!exists("depth")) depth = 16
set datafile separator ","
set datafile columnheaders
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#e0e0e0"
set border lc rgb "#555555"
set key top right box lc rgb "#cccccc"
do for [fmt in "png svg"] {
    if (fmt eq "svg") {
        set terminal svg size 1280,600 dynamic enhanced font "sans,12" background rgb "white"
    } else {
        set terminal pngcairo size 1600,800 enhanced font "sans,13" background rgb "white"
    }
    set output dir."/peers.".fmt
    set multiplot layout 1,2 title "/plaintext, server pinned to one CPU, load to the other"
    set title sprintf("pipelined peak (wrk, %d requests per write; higher is better)", depth)
    set ylabel "requests/s"
    set yrange [0:*]
    set format y "%.0s%c"
    plot dir."/summary.csv" using "peak_rps":xtic(1) title "best round" lc rgb "#0072B2", \
         "" using "peak_rps_lowest" title "worst round" lc rgb "#9ecae1"
    set title "server CPU time per request, open loop below capacity (lower is better)"
    set ylabel "microseconds"
    set format y "%g"
    plot dir."/summary.csv" using "server_us_per_request":xtic(1) title "best round" lc rgb "#E69F00", \
         "" using "server_us_per_request_highest" title "worst round" lc rgb "#fdd49e"
    unset multiplot
    unset output
}
