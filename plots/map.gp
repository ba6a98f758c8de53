# The crossover map: over the grid of CPU per request (x) and database wait
# (y) the sweep varied (`vary.cpu`, `vary.wait`), each cell's colour is
# log2 of the best event loop's capacity over the best pool's at the
# sweep's goal, on a diverging scale centred on 1 (white): purple where the
# event loop serves more, orange where the pool does, a tie (the two
# capacities' brackets overlap) white, a cell with nothing to compare grey.
# Each cell is labelled with its ratio. The black line is the theoretical
# frontier, where the largest pool's Little's-law bound N/(c+w) meets the
# CPU's k/c. Reads map-cells.csv and map-frontier.csv, which `overlap plot`
# derives from map.csv with the map_* variables (the axes' categorical
# tics, the scale's half-width in octaves, the title and the legend).
chart = "map"
height = 900
load "common.gp"
cells = dir."/map-cells.csv"
frontier = dir."/map-frontier.csv"
set datafile columnheaders

set title map_title noenhanced
set xlabel "CPU per request (mean; one column per value swept)"
set ylabel "database wait per query (median; one row per value swept)"
set xrange [-0.5:map_nx - 0.5]
set yrange [-0.5:map_ny - 0.5]
eval "set xtics " . map_xtics
eval "set ytics " . map_ytics
set tics scale 0
unset grid
# PuOr: colour-blind safe, and white at 1 so that a tie reads as no colour
set palette defined (-1 "#b35806", -0.5 "#f1a340", 0 "white", 0.5 "#998ec3", 1 "#542788")
set cbrange [-map_octaves:map_octaves]
eval "set cbtics " . map_cbtics
set cblabel "best event loop ÷ best pool capacity"
set style fill solid 1.0 noborder
set key at screen 0.5, screen 0.12 center center horizontal box lc rgb "#cccccc" noenhanced
set bmargin 11
set label 1 "cell label: the ratio (1/2x: the pool serves twice as much); tie (white): the two " . \
    "capacities' brackets overlap;\npool 0 or loop 0: that side met the goal at no rate; " . \
    "grey: neither met it (none), or the cell lacks one architecture;\nthe frontier: where the " . \
    "largest pool's bound N/(c+w) meets the CPU's k/c (above it, the pool's is the lower)" \
    at screen 0.5, screen 0.05 center font ",11" noenhanced

# the cells with a colour, the grey ones, the labels, then the frontier
cell_colour(x) = strcol("colour") eq "" ? NaN : column("colour")
grey_y(x) = strcol("colour") eq "" ? column("y") : NaN
if (map_frontier) {
    plot cells using "x":"y":(0.5):(0.5):(cell_colour(0)) with boxxyerror lc palette notitle, \
         cells using "x":(grey_y(0)):(0.5):(0.5) with boxxyerror lc rgb "#bdbdbd" notitle, \
         cells using "x":"y":"label":"text" with labels tc rgb variable font ",12" notitle, \
         frontier using "x":"y" with lines lw 3 lc rgb "black" title map_frontier_key
} else {
    plot cells using "x":"y":(0.5):(0.5):(cell_colour(0)) with boxxyerror lc palette notitle, \
         cells using "x":(grey_y(0)):(0.5):(0.5) with boxxyerror lc rgb "#bdbdbd" notitle, \
         cells using "x":"y":"label":"text" with labels tc rgb variable font ",12" notitle, \
         NaN with lines lw 0 lc rgb "white" title map_frontier_key
}
