/* `overlap plot DIR`: the charts and report.html of a results folder, drawn
 * by the gnuplot scripts in plots/ from the folder's CSV files. */
#ifndef OVERLAP_PLOT_H
#define OVERLAP_PLOT_H

#include <stddef.h>

/* A buffer for plot_prepare's variables that holds any folder's. */
#define PLOT_VARS_LEN 16384

/* `overlap plot DIR [--scripts DIR]`: 0, 1 (a chart failed: the message names
 * the script and quotes gnuplot), or 2 (usage). */
int plot_main(int argc, char **argv);

/* Draws every chart of dir with the scripts in scripts, then report.html;
 * 0 or 1, with the message printed. */
int plot_dir(const char *dir, const char *scripts);

/* The steps of plot_dir that need no gnuplot. plot_prepare reads dir's
 * runs.csv and timeline.csv, writes summary.csv when it is missing, older
 * than runs.csv or from before its latest columns, writes the timeline's derived tables and puts
 * the gnuplot variables every script gets in vars; 0, or -1 with a message in err.
 * plot_write_report writes dir/report.html from the CSV files (summary.csv
 * brought up to date the same way) and the SVGs present; 0 or -errno. */
int plot_prepare(const char *dir, char *vars, size_t len, char *err, size_t errlen);
int plot_write_report(const char *dir);

/* The crossover map's step: reads dir/map.csv, writes the tables
 * plots/map.gp draws (map-cells.csv, map-frontier.csv) and puts its
 * variables in vars. 0; -ENOENT when the folder has no map.csv; -ENODATA
 * (map.csv a header alone) or another -errno with one line in err. */
int plot_prepare_map(const char *dir, char *vars, size_t len, char *err, size_t errlen);

#endif
