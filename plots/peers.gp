# /plaintext req/s of each server under each load generator, and the server's
# CPU time per request beside it (medians of the alternating rounds):
# `make bench-peers` writes summary.csv and runs this with dir set to its
# results folder. Standalone: it does not load common.gp, whose
# conventions are those of an `overlap bench` folder.
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
    set multiplot layout 1,2 title "/plaintext, server pinned to one CPU, load to the other (medians of the rounds)"
    set title "throughput"
    set ylabel "requests/s"
    set yrange [0:*]
    set format y "%.0s%c"
    plot dir."/summary.csv" using "overlap_load_rps":xtic(1) title "overlap load" lc rgb "#0072B2", \
         "" using "wrk_rps" title "wrk" lc rgb "#E69F00"
    set title "server CPU time per request (lower is better; noise moves it least)"
    set ylabel "microseconds"
    set format y "%g"
    plot dir."/summary.csv" using "server_us_overlap_load":xtic(1) title "under overlap load" lc rgb "#0072B2", \
         "" using "server_us_wrk" title "under wrk" lc rgb "#E69F00"
    unset multiplot
    unset output
}
