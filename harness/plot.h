/* `overlap plot DIR`: the charts and report.html of a results folder, drawn
 * by the gnuplot scripts in plots/ from the folder's CSV files. */
#ifndef OVERLAP_PLOT_H
#define OVERLAP_PLOT_H

/* `overlap plot DIR [--scripts DIR]`: 0, 1 (a chart failed: the message names
 * the script and quotes gnuplot), or 2 (usage). */
int plot_main(int argc, char **argv);

/* Draws every chart of dir with the scripts in scripts, then report.html. */
int plot_dir(const char *dir, const char *scripts);

#endif
