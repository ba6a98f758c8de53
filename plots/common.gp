# Shared by every chart: the results folder's CSV conventions, the terminal,
# one colour per engine config, the same in every chart, and how a chart of
# load points reads summary.csv (one row per point: its repeats' mean or
# median with a 95 % interval; `overlap plot` writes it before any chart).
# `overlap plot` sets dir (the results folder, absolute), fmt (png or svg) and
# engines (the configs in the order the sweep ran them), and runs each script
# from this folder. A script may set `height` (pixels of the PNG) first.
set datafile separator ","
runs = dir."/runs.csv"
summary = dir."/summary.csv"
model = dir."/model.csv"
# config i's rows in model.csv, as `overlap plot` counted them (0: none)
model_n(i) = exists("model_rows") ? int(real(word(model_rows, i))) : 0
if (!exists("engines")) {
    engines = system(sprintf("sed -n 's/^engines: //p' '%s/meta.txt'", dir))
}
n = words(engines)
engine(i) = word(engines, i)
# what a reader calls config i in a legend or a heading: its label, which
# `overlap plot` passes as config_label_1, config_label_2, ..., else its spec
# (drawn with `noenhanced`: a label's `_` is no subscript)
name(i) = exists(sprintf("config_label_%d", i)) ? value(sprintf("config_label_%d", i)) : engine(i)
if (!exists("height")) {
    height = 800
}

if (fmt eq "svg") {
    set terminal svg size 1200,height*1200/1280 dynamic enhanced font "sans,13" \
        background rgb "white"
} else {
    set terminal pngcairo size 1280,height enhanced font "sans,13" background rgb "white"
}

# colour-blind safe (Okabe-Ito) first, then neutral extras
array palette[10] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", \
                     "#000000", "#999999", "#8C564B", "#F0E442"]
color(i) = palette[(i - 1) % 10 + 1]

# The rows of one config that pass a test go, through `set table`, to a small
# file in logs/ (what the chart drew, kept for whoever wonders), which the
# plot then draws as one unbroken line.
tmp(name, i) = sprintf("%s/logs/plot-%s-%d.dat", dir, name, i)
ok(i, loop) = strcol("engine") eq engine(i) && strcol("loop") eq loop && strcol("status") eq "ok"
# summary.csv's points of config i and one loop that have an ok run
point(i, loop) = strcol("engine") eq engine(i) && strcol("loop") eq loop && column("repeats") > 0
# An interval's end, or where the point has none (one repeat: summary.csv
# leaves lo and hi empty) its estimate: the table then holds a bar of no
# length, which `bar()` below leaves undrawn.
end_or(name, estimate) = strcol(name) eq "" ? column(estimate) : column(name)
# The y of an error bar from a table of x, y, lo, hi: undefined (nothing
# drawn, and no warning) for a point without an interval.
bar(y, lo, hi) = hi > lo ? y : NaN
set errorbars 1.5
# The text a point of summary.csv shows when hovered (the SVG's tooltip,
# `with labels hypertext`): its config and load, the value drawn with its
# interval and repeats, and its flags. est, lo, hi name the columns; fmt
# formats one value.
hover_load(i) = name(i) . (strcol("loop") eq "open" ? \
    sprintf("\n%.0f req/s offered", column("rate")) : \
    sprintf("\n%d client%s", column("clients"), column("clients") == 1 ? "" : "s"))
hover_interval(est, lo, hi, fmt) = sprintf(fmt, column(est)) . (strcol(lo) eq "" ? \
    " (no interval)" : sprintf(" [" . fmt . ", " . fmt . "]", column(lo), column(hi)))
hover_flags(x) = strcol("flags") eq "" ? "" : "\nflags: " . strcol("flags")
hover(i, what, est, lo, hi, fmt) = hover_load(i) . "\n" . what . ": " . \
    hover_interval(est, lo, hi, fmt) . sprintf(", %d repeats", column("repeats")) . hover_flags(0)
# Configs whose bars would hide each other at one x are drawn side by side:
# config i's points (not its bound) sit at x times dodge(i), a few percent
# either side on a log axis, which no reader takes for another load. A
# folder without intervals (n_intervals 0: one run per point) has no bar to
# hide, and its points stay where they are.
dodge(i) = n_intervals > 0 ? 2 ** ((i - (n + 1) / 2.0) * 0.03) : 1

# Each config's Little's-law bound at C clients (closed loop) or at an
# offered rate (open loop), from its ceiling (min(N/(c+w), cores/c), the
# bound with unlimited clients) and the workload's c + w, which `overlap
# plot` passes as ceilings and service_ms: runs.csv's bound_rps, point by
# point, without reading it.
ceiling(i) = real(word(ceilings, i))
cap(i, x) = ceiling(i) > 0 && ceiling(i) < x ? ceiling(i) : x
bound_closed(i, c) = service_ms > 0 ? cap(i, c * 1000.0 / service_ms) : ceiling(i)
bound_open(i, rate) = cap(i, rate)

set grid lc rgb "#e0e0e0"
set border lc rgb "#555555"
# the legend sits below the plot, in rows, so it never hides a line
set key outside bottom center horizontal box lc rgb "#cccccc" spacing 1.1 maxrows 2
set bmargin 8
set output dir."/".chart.".".fmt

# Panels side by side above one legend across the bottom of the page:
# `eval panel(k, of)` before the k-th of `of` panels, `eval legend` after the
# last (an empty plot of the whole width whose only content is the key).
panel(k, of) = sprintf("set origin %g, 0.15; set size %g, 0.78; set bmargin; unset key", \
                         (k - 1.0) / of, 1.0 / of)
legend = "set origin 0, 0; set size 1, 0.15; unset title; unset xlabel; unset ylabel; " . \
         "unset border; unset tics; unset grid; unset logscale; unset arrow; unset label; " . \
         "set xrange [0:1]; set yrange [0:1]; " . \
         "set key center center horizontal maxrows 2 box lc rgb '#cccccc'; " . \
         "plot for [i=1:n] NaN with linespoints lw 2 pt 7 ps 0.8 lc rgb color(i) title name(i) noenhanced"
