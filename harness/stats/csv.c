/* The harness's CSV reader: see csv.h. */
#define _GNU_SOURCE /* getline */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int split_row(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max)
            return n;
        cells[n++] = p;
        p += strcspn(p, ",\n\r");
        if (*p != ',') {
            *p = '\0';
            return n;
        }
        *p++ = '\0';
    }
}

/* Appends one data line to t; 0 or -ENOMEM. */
static int add_row(struct csv_table *t, char *copy, size_t *rows_cap)
{
    if ((size_t)t->nrows == *rows_cap) {
        size_t cap = *rows_cap ? 2 * *rows_cap : 64;
        char **grown = realloc(t->cell, cap * t->ncols * sizeof(char *));
        if (!grown)
            return -ENOMEM;
        t->cell = grown;
        *rows_cap = cap;
    }
    char **cells = t->cell + (size_t)t->nrows * t->ncols;
    memset(cells, 0, t->ncols * sizeof(char *));
    split_row(copy, cells, t->ncols); /* cells[0] owns the row's storage */
    t->nrows++;
    return 0;
}

int csv_load(const char *path, struct csv_table *t)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t cap = 0, rows_cap = 0;
    char *line = NULL;
    int status = 0;
    while (getline(&line, &cap, f) > 0 && t->nrows < CSV_MAX_ROWS) {
        if (t->text && (line[0] == '\n' || line[0] == '\r'))
            continue;
        char *copy = strdup(line);
        if (!copy) {
            status = -ENOMEM;
            break;
        }
        if (!t->text) {
            t->text = copy; /* the header's storage */
            t->ncols = split_row(copy, t->head, CSV_MAX_COLS);
        } else if ((status = add_row(t, copy, &rows_cap)) < 0) {
            free(copy);
            break;
        }
    }
    free(line);
    fclose(f);
    return status < 0 ? status : t->ncols > 0 ? 0 : -EINVAL;
}

void csv_free(struct csv_table *t)
{
    for (int r = 0; t->cell && r < t->nrows; r++)
        free(t->cell[(size_t)r * t->ncols]); /* the row's storage starts at its first cell */
    free(t->cell);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

int csv_col(const struct csv_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->head[i], name))
            return i;
    return -1;
}

const char *csv_get(const struct csv_table *t, int row, const char *name)
{
    int c = csv_col(t, name);
    const char *v =
        c < 0 || row < 0 || row >= t->nrows ? NULL : t->cell[(size_t)row * t->ncols + c];
    return v ? v : "";
}

double csv_num(const struct csv_table *t, int row, const char *name)
{
    return atof(csv_get(t, row, name));
}
