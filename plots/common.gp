# Shared by every chart: the results folder's CSV conventions, the terminal,
# and one colour per engine config, the same in every chart.
# `overlap plot` sets dir (the results folder, absolute) and fmt (png or svg),
# and runs each script from this folder.
set datafile separator ","
runs = dir."/runs.csv"
engines = system(sprintf("sed -n 's/^engines: //p' '%s/meta.txt'", dir))
n = words(engines)
engine(i) = word(engines, i)

if (fmt eq "svg") {
    set terminal svg size 960,600 dynamic enhanced font "sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1280,800 enhanced font "sans,13" background rgb "white"
}

# colour-blind safe (Okabe-Ito) first, then neutral extras
array palette[10] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", \
                     "#000000", "#999999", "#8C564B", "#F0E442"]
color(i) = palette[(i - 1) % 10 + 1]

# select(name, i, cond, x, y...) is done with `set table`: the rows of one
# config that pass a test go to a small comma-separated file beside the
# charts, which the plot then draws as an unbroken line.
tmp(name, i) = sprintf("%s/.plot-%s-%d.dat", dir, name, i)
ok(i, loop) = strcol("engine") eq engine(i) && strcol("loop") eq loop && strcol("status") eq "ok"

set grid lc rgb "#e0e0e0"
set border lc rgb "#555555"
set key outside right top box lc rgb "#cccccc" spacing 1.2
set output dir."/".chart.".".fmt
