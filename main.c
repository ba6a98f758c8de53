/* overlap: one binary, one subcommand per role. main only dispatches; each
 * module's entry point parses its own flags and returns the exit status
 * (0 ok, 1 failure, 2 usage). */
#include <stdio.h>
#include <string.h>

#include "wl.h"

struct command {
    const char *name;
    const char *args;
    const char *what;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
};

static int help_main(int argc, char **argv);

static const struct command commands[] = {
    {"workload", "check FILE...", "validate workload files and print their bounds", wl_check_main},
    {"help", "", "list the subcommands", help_main},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: overlap COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char head[64];
        snprintf(head, sizeof(head), "%s %s", commands[i].name, commands[i].args);
        fprintf(out, "  %-26s %s\n", head, commands[i].what);
    }
    fprintf(out, "\n'overlap COMMAND --help' describes a command's flags.\n");
}

static int help_main(int argc, char **argv)
{
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "overlap: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
