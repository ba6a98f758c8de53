/* The usage error every `overlap` subcommand prints the same way: what was
 * wrong, on one line after the command's name, then its flags. */
#include <stdarg.h>
#include <stdio.h>

#include "proc.h"

int proc_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "overlap %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return 2;
}
