/* The harness's CSV reader: columns by name, short rows, blank lines, a file
 * with no header, a missing file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "csv.h"

static char path[] = "/tmp/overlap-csv-XXXXXX";

static void write_file(const char *text)
{
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void remove_file(void)
{
    unlink(path);
}

TestSuite(csv, .fini = remove_file);

Test(csv, reads_columns_by_name_and_skips_blank_lines)
{
    struct csv_table t;
    write_file("engine,clients,throughput_rps\r\nasync,64,950.5\n\npool,8,\nshort\n");
    cr_assert_eq(csv_load(path, &t), 0);
    cr_assert_eq(t.ncols, 3);
    cr_assert_eq(t.nrows, 3);
    cr_assert_str_eq(csv_get(&t, 0, "engine"), "async");
    cr_assert_float_eq(csv_num(&t, 0, "throughput_rps"), 950.5, 1e-9);
    cr_assert_str_eq(csv_get(&t, 1, "throughput_rps"), ""); /* an empty field */
    cr_assert_str_eq(csv_get(&t, 2, "clients"), "");        /* a short row */
    cr_assert_str_eq(csv_get(&t, 0, "nosuch"), "");
    cr_assert_str_eq(csv_get(&t, 7, "engine"), ""); /* past the last row */
    cr_assert_eq(csv_col(&t, "clients"), 1);
    csv_free(&t);
}

Test(csv, refuses_a_file_without_a_header_and_a_missing_file)
{
    struct csv_table t;
    write_file("");
    cr_assert_eq(csv_load(path, &t), -EINVAL);
    csv_free(&t);
    cr_assert_eq(csv_load("/nonexistent/runs.csv", &t), -ENOENT);
    csv_free(&t);
}
