/* The usage error every `overlap` subcommand prints the same way: what was
 * wrong, on one line after the command's name, then its flags. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int proc_value_missing(const char *cmd, const char *usage, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return proc_usage_error(cmd, usage, "unexpected argument '%s'", arg);
    return proc_usage_error(cmd, usage, "%s needs a value", arg);
}
