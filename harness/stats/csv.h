/* The one CSV reader of the harness: a whole file with a header line read into
 * memory and split in place. Fields hold no commas or quotes (overlap writes
 * its files that way, since gnuplot cannot read quoted fields), so a field is
 * what lies between two commas. */
#ifndef OVERLAP_CSV_H
#define OVERLAP_CSV_H

#define CSV_MAX_ROWS 100000 /* rows read from one file: a sweep writes far fewer */
#define CSV_MAX_COLS 64     /* columns of a header: runs.csv has about 40 */

struct csv_table {
    char *text;
    int ncols, nrows;
    char *head[CSV_MAX_COLS];
    char **cell; /* nrows x ncols; a short row's missing cells are NULL */
};

/* Reads path: a header line, then at most CSV_MAX_ROWS rows (blank lines
 * skipped). 0, or -errno (-EINVAL for a file without a header). t is always
 * csv_free'd after, whatever this returned. */
int csv_load(const char *path, struct csv_table *t);
void csv_free(struct csv_table *t);

/* The index of the column named name, or -1. */
int csv_col(const struct csv_table *t, const char *name);
/* Row row's field in column name; "" for a missing column or cell. */
const char *csv_get(const struct csv_table *t, int row, const char *name);
/* The same read as a number (0 where it is not one). */
double csv_num(const struct csv_table *t, int row, const char *name);

#endif
