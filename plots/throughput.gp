# Throughput vs concurrent clients (closed loop, log x): each point is the
# mean of its repeats (summary.csv's throughput_mean), its error bar the
# 95 % t interval of that mean (throughput_lo to throughput_hi); a point
# with one repeat has no bar. Each config's Little's-law bound at the same
# client counts is dashed in the same colour: min(C/(c+w), N/(c+w) for a
# pool, cores/c), as runs.csv's bound_rps holds it. Both lines join the
# same points the same way, so where the measurement sits under its bound
# is where it really does. Where configs meet at one x, each is moved a few
# percent sideways (dodge) so that every bar shows. Each config's legend
# entry carries its Universal Scalability Law fit over these means
# (summary.csv: sigma contention, kappa coherency, N* the clients of peak
# throughput, none when kappa is 0), which `overlap plot` passes as lists.
# Hovering a point shows its mean with its interval, repeats and flags.
chart = "throughput"
load "common.gp"
set datafile columnheaders
do for [i=1:n] {
    set table tmp(chart, i) separator comma
    plot summary using (column("clients")):(column("throughput_mean")): \
        (end_or("throughput_lo", "throughput_mean")):(end_or("throughput_hi", "throughput_mean")) \
        with table if (point(i, "closed"))
    unset table
}
set datafile nocolumnheaders
set title "Throughput vs clients (closed loop): mean of the repeats, bars: 95% interval; " . \
          "dashed: Little's-law bound"
set xlabel "concurrent clients (log)"
# the USL fits make long entries: one column, inside, where the curves are not
set key at graph 0.99, graph 0.53 right top vertical maxrows auto maxcols 1 box lc rgb "#cccccc" font ",9"
set ylabel "throughput (requests/s)"
set logscale x 2
set format x "%g"
set yrange [0:*]
# the data's own range, with room at each end for the outermost bars
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
# " (USL sigma 0.021, kappa 0.00040, N* 48)", or nothing without a fit (-1)
usl(name, i) = exists(name) ? real(word(value(name), i)) : -1
usl_label(i) = usl("usl_sigma", i) < 0 ? "" : \
    sprintf(" (USL sigma %.3f, kappa %.5f, N* %s)", usl("usl_sigma", i), usl("usl_kappa", i), \
            usl("usl_nstar", i) < 0 ? "none" : sprintf("%.0f", usl("usl_nstar", i)))
if (n_closed == 0) {
    set xrange [1:2]
    set yrange [0:1]
    set label 1 "this sweep ran no closed-loop load point" at graph 0.5, graph 0.5 center
    plot NaN notitle
    exit
}
plot for [i=1:n] tmp(chart, i) using ($1 * dodge(i)):2 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb color(i) title name(i) . usl_label(i) noenhanced, \
     for [i=1:n] tmp(chart, i) using ($1 * dodge(i)):(bar($2, $3, $4)):3:4 with yerrorbars \
         lw 1.5 pt 7 ps 0.8 lc rgb color(i) notitle, \
     for [i=1:n] tmp(chart, i) using 1:(bound_closed(i, $1)) with lines lw 1.5 dt 2 \
         lc rgb color(i) notitle, \
     for [i=1:n] summary using (point(i, "closed") ? column("clients") * dodge(i) : NaN): \
         (column("throughput_mean")):(hover(i, "req/s (mean, 95% interval)", "throughput_mean", \
         "throughput_lo", "throughput_hi", "%.0f")) with labels hypertext point pt 7 ps 0.8 \
         lc rgb color(i) notitle
