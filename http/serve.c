/* `overlap serve` flags: parsed once into the config every engine reads
 * (proc/serve.h), and the workload loaded. Pinning and the descriptor limit
 * happen here, before any engine starts. It lives beside the HTTP layer, on
 * the engines' side, because it loads a workload: proc/ links no workload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "proc.h"
#include "serve.h"
#include "wl.h"

static const char usage_text[] =
    "usage: overlap serve --engine pool|async|coro|uring --workload FILE --db ADDR [flags]\n"
    "  --engine pool|async|coro|uring  the architecture (required)\n"
    "  --workload FILE         the workload to serve (required)\n"
    "  --db ADDR               the database: unix:/PATH or tcp:HOST:PORT (required)\n"
    "  --listen HOST:PORT      where to accept HTTP (default " SERVE_DEFAULT_LISTEN
    "; port 0 picks one)\n"
    "  --cpus LIST             pin the process to these CPUs, e.g. 0 or 0-1\n"
    "  --db-timeout D          a query unanswered this long gets 504 (default 5s)\n"
    "  --header-timeout D      close a connection whose request head takes longer (default "
    "10s)\n"
    "  --idle-timeout D        close a keep-alive connection idle this long (default 60s)\n"
    "  --vary-cpu D            scale the cpu steps to D of CPU per request (a map cell)\n"
    "  --vary-wait D           scale each query's latency to the median D (a map cell)\n"
    "  --burn-rate R           run the cpu steps' burner at R iterations per µs instead of\n"
    "                          measuring it at the start (a sweep passes the rate it\n"
    "                          measured on the server's CPUs, so its servers work alike)\n"
    "pool engine:\n"
    "  --workers N             worker threads (default 64; 0 with --pool-mode connection:\n"
    "                          one thread per connection)\n"
    "  --queue Q               requests waiting for a worker before 503 (default 1024;\n"
    "                          leader mode has no queue: the excess waits in the kernel)\n"
    "  --pool-mode leader|request|connection   who waits for a request (default leader):\n"
    "                          the workers in turn, a front end, or a worker per connection\n"
    "async, coro and uring engines:\n"
    "  --loops L               event loops, one thread each (default: one per CPU)\n"
    "  --db-conns M            database connections per loop (default 4)\n"
    "  --db-connections C      or C in all, shared by the loops (at least one each); a\n"
    "                          pool holds one a worker, so C must equal --workers\n"
    "coro engine:\n"
    "  --stack SIZE            each coroutine's stack, e.g. 64k or 1m (default 64k;\n"
    "                          16k to 64m, plus a guard page)\n"
    "uring engine (async's requests on io_uring, uring/README.md):\n"
    "  --uring-mode poll|ops|multishot|defer   the ladder's step (default defer):\n"
    "                          poll readiness, recv/send ops, multishot recv into a\n"
    "                          buffer ring, and DEFER_TASKRUN with SINGLE_ISSUER\n"
    "  --uring-bufs N          provided buffer ring entries per loop (default 512,\n"
    "                          a power of two, 1 to 32768)\n"
    "  --uring-cq N            completion queue entries per loop (default: sized for\n"
    "                          the descriptor limit, 4096 to 32768)\n";

/* A usage error: printed, *status set to 2, and -1 to return. */
#define usage_error(status, ...)                                                                   \
    (*(status) = proc_usage_error("serve", usage_text, __VA_ARGS__), -1)

/* A size: digits with an optional k or m suffix (KiB, MiB), between min and
 * max. 0, or -1 for anything else. */
static int parse_size(const char *text, size_t min, size_t max, size_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > max) /* already too big: stop before it can overflow */
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    int shift = *p == 'k' || *p == 'K' ? 10 : *p == 'm' || *p == 'M' ? 20 : 0;
    if (shift) {
        v <<= shift;
        p++;
    }
    if (*p || v < min || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_timeout(const char *flag, const char *value, uint64_t *ns, int *status)
{
    if (wl_duration_parse(value, ns) < 0 || *ns == 0)
        return usage_error(status, "bad duration for %s (expected more than 0, e.g. 500ms or 5s)",
                           flag);
    return 0;
}

/* A flag of the uring engine's (--uring-*): 0, or -1 with *status set. */
static int parse_uring_flag(struct serve_config *cfg, const char *flag, const char *v, int *status)
{
    static const char *const modes[] = {"poll", "ops", "multishot", "defer"};
    if (!strcmp(flag, "--uring-mode")) {
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, modes[i])) {
                cfg->uring_mode = (enum serve_uring_mode)i;
                return 0;
            }
        return usage_error(status,
                           "unknown --uring-mode '%s' (expected poll, ops, multishot or defer)", v);
    }
    if (!strcmp(flag, "--uring-bufs")) {
        if (wl_count_parse(v, 1, 32768, &cfg->uring_bufs) < 0 ||
            (cfg->uring_bufs & (cfg->uring_bufs - 1)))
            return usage_error(status,
                               "bad --uring-bufs '%s' (expected a power of two, 1 to 32768)", v);
        return 0;
    }
    if (!strcmp(flag, "--uring-cq")) {
        if (wl_count_parse(v, 1, 1 << 20, &cfg->uring_cq) < 0)
            return usage_error(status, "bad --uring-cq '%s' (expected 1 to 1048576)", v);
        return 0;
    }
    return usage_error(status, "unknown flag '%s'", flag);
}

/* One flag and its value; returns 0, or -1 with *status set. */
static int parse_flag(struct serve_config *cfg, const char *flag, const char *v, int *status)
{
    if (!strcmp(flag, "--engine")) {
        if (!strcmp(v, "pool"))
            cfg->engine = SERVE_POOL;
        else if (!strcmp(v, "async"))
            cfg->engine = SERVE_ASYNC;
        else if (!strcmp(v, "coro"))
            cfg->engine = SERVE_CORO;
        else if (!strcmp(v, "uring"))
            cfg->engine = SERVE_URING;
        else
            return usage_error(status, "unknown engine '%s' (expected pool, async, coro or uring)",
                               v);
    } else if (!strcmp(flag, "--workload")) {
        cfg->workload_path = v;
    } else if (!strcmp(flag, "--db")) {
        cfg->db_addr = v;
    } else if (!strcmp(flag, "--listen")) {
        cfg->listen_addr = v;
    } else if (!strcmp(flag, "--cpus")) {
        int n = proc_pin_cpus(v);
        if (n == -1)
            return usage_error(status, "bad CPU list '%s' (expected e.g. 0, 0-1 or 0,2)", v);
        if (n < 0)
            return usage_error(status, "cannot pin to CPUs '%s' (not all of them exist)", v);
    } else if (!strcmp(flag, "--db-timeout")) {
        return parse_timeout(flag, v, &cfg->db_timeout_ns, status);
    } else if (!strcmp(flag, "--header-timeout")) {
        return parse_timeout(flag, v, &cfg->header_timeout_ns, status);
    } else if (!strcmp(flag, "--idle-timeout")) {
        return parse_timeout(flag, v, &cfg->idle_timeout_ns, status);
    } else if (!strcmp(flag, "--vary-cpu")) {
        return parse_timeout(flag, v, &cfg->vary_cpu_ns, status);
    } else if (!strcmp(flag, "--vary-wait")) {
        return parse_timeout(flag, v, &cfg->vary_wait_ns, status);
    } else if (!strcmp(flag, "--burn-rate")) {
        char *end;
        double rate = strtod(v, &end);
        if (v[0] < '0' || v[0] > '9' || *end || wl_burn_set_rate(rate) < 0)
            return usage_error(status,
                               "bad --burn-rate '%s' (expected iterations per µs, %g to %g)", v,
                               WL_BURN_MIN_RATE, WL_BURN_MAX_RATE);
    } else if (!strcmp(flag, "--workers")) {
        if (wl_count_parse(v, 0, 100000, &cfg->workers) < 0)
            return usage_error(status, "bad --workers '%s' (expected 0 to 100000)", v);
    } else if (!strcmp(flag, "--queue")) {
        if (wl_count_parse(v, 1, 1 << 20, &cfg->queue) < 0)
            return usage_error(status, "bad --queue '%s' (expected 1 to 1048576)", v);
    } else if (!strcmp(flag, "--pool-mode")) {
        if (!strcmp(v, "request"))
            cfg->mode = SERVE_MODE_REQUEST;
        else if (!strcmp(v, "connection"))
            cfg->mode = SERVE_MODE_CONNECTION;
        else if (!strcmp(v, "leader"))
            cfg->mode = SERVE_MODE_LEADER;
        else
            return usage_error(status,
                               "unknown --pool-mode '%s' (expected request, connection or "
                               "leader)",
                               v);
    } else if (!strcmp(flag, "--loops")) {
        if (wl_count_parse(v, 1, 1024, &cfg->loops) < 0)
            return usage_error(status, "bad --loops '%s' (expected 1 to 1024)", v);
    } else if (!strcmp(flag, "--db-conns")) {
        if (wl_count_parse(v, 1, 1024, &cfg->db_conns) < 0)
            return usage_error(status, "bad --db-conns '%s' (expected 1 to 1024)", v);
    } else if (!strcmp(flag, "--db-connections")) {
        if (wl_count_parse(v, 1, 10000, &cfg->db_connections) < 0)
            return usage_error(status, "bad --db-connections '%s' (expected 1 to 10000)", v);
    } else if (!strcmp(flag, "--stack")) {
        if (parse_size(v, SERVE_MIN_STACK, SERVE_MAX_STACK, &cfg->stack_size) < 0)
            return usage_error(status, "bad --stack '%s' (expected 16k to 64m, e.g. 64k or 1m)", v);
    } else if (!strncmp(flag, "--uring-", 8)) {
        return parse_uring_flag(cfg, flag, v, status);
    } else {
        return usage_error(status, "unknown flag '%s'", flag);
    }
    return 0;
}

static void set_defaults(struct serve_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->engine = -1;
    cfg->listen_addr = SERVE_DEFAULT_LISTEN;
    cfg->db_timeout_ns = 5000000000ULL;
    cfg->header_timeout_ns = 10000000000ULL;
    cfg->idle_timeout_ns = 60000000000ULL;
    cfg->workers = SERVE_DEFAULT_WORKERS;
    cfg->queue = SERVE_DEFAULT_QUEUE;
    cfg->mode = SERVE_MODE_LEADER; /* the cheapest per request: pool/README.md */
    cfg->db_conns = SERVE_DEFAULT_DB_CONNS;
    cfg->stack_size = SERVE_DEFAULT_STACK;
    cfg->uring_mode = SERVE_URING_DEFER;
    cfg->uring_bufs = SERVE_DEFAULT_URING_BUFS;
}

static int check_required(struct serve_config *cfg, int *status)
{
    if ((int)cfg->engine == -1)
        return usage_error(status, "%s", "--engine is required");
    if (!cfg->workload_path)
        return usage_error(status, "%s", "--workload is required");
    if (!cfg->db_addr)
        return usage_error(status, "%s", "--db is required");
    if (cfg->workers == 0 && !(cfg->engine == SERVE_POOL && cfg->mode == SERVE_MODE_CONNECTION))
        return usage_error(status, "%s", "--workers 0 needs --pool-mode connection");
    return 0;
}

/* --db-connections against the engine: a pool holds one connection a worker,
 * the loops at least one each. */
static int check_budget(const struct serve_config *cfg, int *status)
{
    int c = cfg->db_connections;
    if (c <= 0)
        return 0;
    if (cfg->engine == SERVE_POOL && cfg->workers != c)
        return usage_error(status,
                           "--db-connections %d: a pool holds one database connection a worker, "
                           "so its budget is its --workers (%d)",
                           c, cfg->workers);
    if (cfg->engine != SERVE_POOL && c < cfg->loops)
        return usage_error(status, "--db-connections %d: fewer than the %d loops, one each", c,
                           cfg->loops);
    return 0;
}

/* The CPUs the process may run on (pinned or inherited) size the defaults. */
static void count_cpus(struct serve_config *cfg)
{
    cfg->ncpus = proc_cpus_allowed();
    if (cfg->loops == 0)
        cfg->loops = cfg->ncpus;
}

int serve_parse_args(int argc, char **argv, struct serve_config *cfg, int *status)
{
    char err[WL_ERR_LEN];
    set_defaults(cfg);
    *status = 0;
    for (int i = 1; i < argc; i += 2) { /* flag, value */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (i + 1 == argc)
            return usage_error(status, "flag '%s' needs a value", argv[i]);
        if (parse_flag(cfg, argv[i], argv[i + 1], status) < 0)
            return -1;
    }
    if (check_required(cfg, status) < 0)
        return -1;
    count_cpus(cfg);
    if (check_budget(cfg, status) < 0)
        return -1;
    proc_raise_nofile(0); /* every connection is a descriptor, whatever the engine */
    if (wl_load(cfg->workload_path, &cfg->wl, err, sizeof(err)) < 0 ||
        wl_vary(cfg->wl, cfg->vary_cpu_ns, cfg->vary_wait_ns, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        serve_config_free(cfg);
        *status = 2;
        return -1;
    }
    return 0;
}

void serve_config_free(struct serve_config *cfg)
{
    wl_free(cfg->wl);
    cfg->wl = NULL;
}
