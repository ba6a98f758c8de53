/* A command line built in place for the sweep's children: flags appended
 * one by one, values formatted as they go. Fixed capacity and no allocation,
 * so nothing leaks whatever path a run takes; one that overflows says so
 * instead of being cut short. */
#ifndef OVERLAP_BENCH_ARGS_H
#define OVERLAP_BENCH_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define BENCH__ARGS_MAX  48             /* arguments: the load generator takes about 30 */
#define BENCH__ARGS_TEXT (8 * PATH_MAX) /* their text: a handful of paths at most */

struct bench__args {
    int argc;
    bool full; /* an argument did not fit: the command is not to be run */
    size_t used;
    char *argv[BENCH__ARGS_MAX + 1]; /* NULL-terminated; each points into text */
    char text[BENCH__ARGS_TEXT];
};

void bench__args_init(struct bench__args *a);

/* Appends one argument, copied. */
void bench__arg(struct bench__args *a, const char *arg);

/* Appends a flag and its value, formatted. */
void bench__flag(struct bench__args *a, const char *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The argv to exec, or NULL when something did not fit. */
char **bench__args_argv(struct bench__args *a);

#endif
