/* The sweep's command-line builder (see bench_args.h). Every argument is
 * copied into the builder's own text, so an argv lives as long as its
 * builder and borrows from nothing. */
#include "bench_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bench__args_init(struct bench__args *a)
{
    a->argc = 0;
    a->full = false;
    a->used = 0;
    a->argv[0] = NULL;
}

/* Appends the formatted text as one argument. */
static void add(struct bench__args *a, const char *fmt, va_list ap)
{
    size_t room = sizeof(a->text) - a->used;
    char *at = a->text + a->used;
    int n = a->full || a->argc == BENCH__ARGS_MAX ? -1 : vsnprintf(at, room, fmt, ap);
    if (n < 0 || (size_t)n >= room) {
        a->full = true;
        return;
    }
    a->argv[a->argc++] = at;
    a->argv[a->argc] = NULL;
    a->used += (size_t)n + 1;
}

static void addf(struct bench__args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(a, fmt, ap);
    va_end(ap);
}

void bench__arg(struct bench__args *a, const char *arg)
{
    addf(a, "%s", arg);
}

void bench__flag(struct bench__args *a, const char *flag, const char *fmt, ...)
{
    va_list ap;
    bench__arg(a, flag);
    va_start(ap, fmt);
    add(a, fmt, ap);
    va_end(ap);
}

char **bench__args_argv(struct bench__args *a)
{
    return a->full ? NULL : a->argv;
}
