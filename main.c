/* overlap: one binary, one subcommand per role. main only dispatches; each
 * module's entry point parses its own flags and returns the exit status
 * (0 ok, 1 failure, 2 usage). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "compare.h"
#include "load.h"
#include "plot.h"
#include "async.h"
#include "coro.h"
#include "uring.h"
#include "pool.h"
#include "proc.h"
#include "http.h"
#include "serve.h"
#include "db.h"
#include "pg.h"
#include "wl.h"

struct command {
    const char *name;
    const char *args;
    const char *what;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
};

static int help_main(int argc, char **argv);

/* `overlap serve`: the shared front door, then the chosen engine. */
static int serve_main(int argc, char **argv)
{
    struct serve_config cfg;
    int status;
    if (serve_parse_args(argc, argv, &cfg, &status) < 0)
        return status;
    if (proc_install_signals() < 0) {
        fprintf(stderr, "overlap serve: cannot install signal handlers\n");
        serve_config_free(&cfg);
        return 1;
    }
    switch (cfg.engine) {
    case SERVE_POOL: status = pool_run(&cfg); break;
    case SERVE_ASYNC: status = async_run(&cfg); break;
    case SERVE_CORO: status = coro_run(&cfg); break;
    case SERVE_URING: status = uring_run(&cfg); break;
    }
    serve_config_free(&cfg);
    return status;
}

/* `overlap workload check|export`: a workload checked, or written as the
 * JSON servers in other languages read. */
static int workload_main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "export"))
        return wl_export_main(argc, argv);
    return wl_check_main(argc, argv);
}

/* `overlap merge`: the folders of a sweep's shards (bench_merge_main), or
 * the interval logs of one run's load agents (load_merge_main). */
static int merge_main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        bench_merge_main(argc, argv);
        fputc('\n', stdout);
        return load_merge_main(argc, argv);
    }
    if (argc < 2) {
        fprintf(stderr,
                "overlap merge: nothing to merge (expected the folders of a sweep's shards, "
                "or load agents' .hlog files; see overlap merge --help)\n");
        return 2;
    }
    if (bench_merge_wants(argc, argv))
        return bench_merge_main(argc, argv);
    return load_merge_main(argc, argv);
}

static const struct command commands[] = {
    {"workload", "check|export FILE", "check a workload, or print it as JSON", workload_main},
    {"db", "--workload FILE", "the simulated database (SQLite, held answers)", db_main},
    {"pg", "--workload FILE", "a throwaway PostgreSQL cluster with the dataset", pg_main},
    {"bench", "[--quick] [FLAGS]", "run a sweep and write a results folder", bench_main},
    {"load", "--target HOST:PORT", "drive one load run against an HTTP server", load_main},
    {"merge", "DIR...|AGENT.hlog...",
     "merge a sweep's shards' folders, or load agents' interval logs", merge_main},
    {"engine", "check|run MANIFEST", "check an external engine, or run one by hand",
     bench_engine_main},
    {"plot", "DIR", "draw the charts and report.html of a results folder", plot_main},
    {"compare", "OLD NEW | DIR A B", "what changed between two folders or configs", compare_main},
    {"serve", "--engine ENGINE ...", "run a server: pool, async, coro or uring (engines 1 to 4)",
     serve_main},
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
    bench_set_drawer(plot_main); /* a sweep ends by drawing its charts */
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "overlap: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
