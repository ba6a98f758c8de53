# The lecture's picture, drawn from real requests: for each engine config, the
# timeline scenario's requests as horizontal bars on one shared time axis, each
# split into its phases, with its response time written at its end. Reads
# timeline-segments.csv and timeline-requests.csv, which `overlap plot`
# derives from timeline.csv (tl_requests and tl_end_ms come with them).
chart = "timeline"
panel_height = 150
if (!exists("engines")) {
    engines = system(sprintf("sed -n 's/^engines: //p' '%s/meta.txt'", dir))
}
height = 150 + panel_height * (words(engines) > 0 ? words(engines) : 1)
load "common.gp"

segments = dir."/timeline-segments.csv"
requests = dir."/timeline-requests.csv"
set datafile columnheaders

# Phases, in the order a request lives them; colours kept apart from the
# engines' palette, since here each panel is one engine.
array phase_key[4] = ["wait", "queue", "cpu", "db"]
array phase_title[4] = ["not yet read", "queued for a worker", "cpu", "database wait"]
array phase_color[4] = ["#d9d9d9", "#8c8c8c", "#d95f02", "#66c2a5"]
phase_index(name) = name eq "wait" ? 1 : name eq "queue" ? 2 : name eq "cpu" ? 3 : \
                    name eq "db" ? 4 : 0

if (tl_requests == 0) {
    set title "Timeline: this sweep ran no timeline scenario"
    set xrange [0:1]
    set yrange [0:1]
    unset key
    plot NaN notitle
    exit
}

K = tl_requests
set xrange [0:tl_end_ms * 1.15]
set yrange [K + 0.7:0.3]
set ytics 1 scale 0
set format y "#%g"
set mxtics
set grid xtics mxtics noytics lc rgb "#e8e8e8"
set style fill solid 1.0 noborder
set key at screen 0.5, screen 1.0 - 30.0 / height center top horizontal maxcols 4 maxrows 1 \
    Left reverse samplen 2 width 1 box lc rgb "#cccccc"
set multiplot layout n, 1 title "Timeline: requests sent closer together than one service time" \
    margins 0.1, 0.97, 60.0 / height, 1.0 - 80.0 / height spacing 0, 30.0 / height
do for [i=1:n] {
    set label 1 name(i) at graph 0, graph 1.08 left font ",13" tc rgb color(i) front noenhanced
    if (i == n) {
        set xlabel "time since the first request was due to be sent (ms)"
        set format x "%g"
    } else {
        unset xlabel
        set format x ""
    }
    plot for [p=1:4] segments \
            using (column(1) == i && phase_index(strcol(6)) == p ? (column(4) + column(5)) / 2 : NaN): \
                  3:4:5:(column(3) - 0.32):(column(3) + 0.32) \
            with boxxyerror lc rgb phase_color[p] title (i == 1 ? phase_title[p] : ""), \
         requests using (column(1) == i && column(6) >= 0 ? column(6) : NaN):3: \
                  (sprintf("%.1f ms", column(7))) \
            with labels left offset 0.4, 0 font ",10" notitle, \
         requests using (column(1) == i && column(6) < 0 ? column(4) : NaN):3:("no response") \
            with labels left offset 0.4, 0 font ",10" tc rgb "#c00000" notitle
}
unset multiplot
