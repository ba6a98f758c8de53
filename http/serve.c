/* `overlap serve` flags, the listening socket, pinning and the stop signal,
 * shared by both engines. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "serve.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Set by the signal handler, read by every engine thread: a lock-free
 * atomic, which is both async-signal-safe and race-free across threads
 * (a volatile sig_atomic_t is only the former). */
static atomic_int stop_flag;
static int stop_fd = -1; /* written once before signals are installed */

static const char usage_text[] =
    "usage: overlap serve --engine pool|async --workload FILE --db ADDR [flags]\n"
    "  --engine pool|async     the architecture (required)\n"
    "  --workload FILE         the workload to serve (required)\n"
    "  --db ADDR               the database: unix:/PATH or tcp:HOST:PORT (required)\n"
    "  --listen HOST:PORT      where to accept HTTP (default " SERVE_DEFAULT_LISTEN
    "; port 0 picks one)\n"
    "  --cpus LIST             pin the process to these CPUs, e.g. 0 or 0-1\n"
    "  --db-timeout D          a query unanswered this long gets 504 (default 5s)\n"
    "  --header-timeout D      close a connection whose request head takes longer (default "
    "10s)\n"
    "  --idle-timeout D        close a keep-alive connection idle this long (default 60s)\n"
    "pool engine:\n"
    "  --workers N             worker threads (default 64; 0 with --pool-mode connection:\n"
    "                          one thread per connection)\n"
    "  --queue Q               requests waiting for a worker before 503 (default 1024)\n"
    "  --pool-mode request|connection   who waits on an idle connection (default request)\n"
    "async engine:\n"
    "  --loops L               event loops, one thread each (default: one per CPU)\n"
    "  --db-conns M            database connections per loop (default 4)\n";

static int usage_error(int *status, const char *fmt, const char *arg)
{
    fprintf(stderr, "overlap serve: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    *status = 2;
    return -1;
}

/* Parses a CPU list (`1`, `0-1`, `0,2`) into set, strictly: no signs, spaces
 * or stray commas. 0 or -1. */
static int parse_cpus(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (const char *p = list; *p;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        long lo = strtol(p, &end, 10), hi = lo;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                return -1;
            hi = strtol(end + 1, &end, 10);
        }
        if (hi < lo || hi >= CPU_SETSIZE || (*end && *end != ','))
            return -1;
        for (long i = lo; i <= hi; i++)
            CPU_SET(i, set);
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1; /* a trailing comma */
    }
    return CPU_COUNT(set) ? 0 : -1;
}

static int parse_timeout(const char *flag, const char *value, uint64_t *ns, int *status)
{
    if (wl_duration_parse(value, ns) < 0 || *ns == 0)
        return usage_error(status, "bad duration for %s (expected e.g. 500ms or 5s)", flag);
    return 0;
}

/* One flag and its value; returns 0, or -1 with *status set. */
static int parse_flag(struct serve_config *cfg, const char *flag, const char *v, int *status)
{
    if (!strcmp(flag, "--engine")) {
        if (!strcmp(v, "pool"))
            cfg->engine = SERVE_POOL;
        else if (!strcmp(v, "async"))
            cfg->engine = SERVE_ASYNC;
        else
            return usage_error(status, "unknown engine '%s' (expected pool or async)", v);
    } else if (!strcmp(flag, "--workload")) {
        cfg->workload_path = v;
    } else if (!strcmp(flag, "--db")) {
        cfg->db_addr = v;
    } else if (!strcmp(flag, "--listen")) {
        cfg->listen_addr = v;
    } else if (!strcmp(flag, "--cpus")) {
        int n = serve_pin_cpus(v);
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
        else
            return usage_error(status,
                               "unknown --pool-mode '%s' (expected request or "
                               "connection)",
                               v);
    } else if (!strcmp(flag, "--loops")) {
        if (wl_count_parse(v, 1, 1024, &cfg->loops) < 0)
            return usage_error(status, "bad --loops '%s' (expected 1 to 1024)", v);
    } else if (!strcmp(flag, "--db-conns")) {
        if (wl_count_parse(v, 1, 1024, &cfg->db_conns) < 0)
            return usage_error(status, "bad --db-conns '%s' (expected 1 to 1024)", v);
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
    cfg->db_conns = SERVE_DEFAULT_DB_CONNS;
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

int serve_count_cpus(const char *list)
{
    cpu_set_t set;
    return parse_cpus(list, &set) < 0 ? -1 : CPU_COUNT(&set);
}

int serve_pin_cpus(const char *list)
{
    cpu_set_t set;
    if (parse_cpus(list, &set) < 0)
        return -1;
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        return -2;
    return CPU_COUNT(&set);
}

/* The CPUs the process may run on (pinned or inherited) size the defaults. */
static void count_cpus(struct serve_config *cfg)
{
    cpu_set_t set;
    cfg->ncpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
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
    if (wl_load(cfg->workload_path, &cfg->wl, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
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

/* Splits HOST:PORT (or [HOST]:PORT) into its parts. */
static int split_addr(const char *addr, char *host, size_t hostlen, const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1])
        return -1;
    size_t len = colon - addr;
    if (addr[0] == '[' && colon[-1] == ']') {
        addr++;
        len -= 2;
    }
    if (len >= hostlen)
        return -1;
    memcpy(host, addr, len);
    host[len] = '\0';
    *port = colon + 1;
    return 0;
}

static int bind_one(const struct addrinfo *ai, bool reuseport)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SERVE_BACKLOG) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int serve_listen(const char *addr, bool reuseport, char *bound, size_t boundlen)
{
    char host[256], shost[NI_MAXHOST], sport[NI_MAXSERV];
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (split_addr(addr, host, sizeof(host), &port) < 0)
        return -EINVAL;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -EADDRNOTAVAIL;
    int fd = bind_one(res, reuseport);
    freeaddrinfo(res);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, shost, sizeof(shost), sport, sizeof(sport),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", shost, sport);
    return fd;
}

void serve_announce(const char *bound)
{
    printf("listening %s\n", bound);
    fflush(stdout);
}

static void on_signal(int sig)
{
    uint64_t one = 1;
    int saved = errno;
    atomic_store_explicit(&stop_flag, 1, memory_order_relaxed);
    if (write(stop_fd, &one, sizeof(one)) < 0) {
        /* the eventfd is already readable: nothing more to do */
    }
    errno = saved;
}

int serve_install_signals(void)
{
    stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd < 0)
        return -errno;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int serve_stop_fd(void)
{
    return stop_fd;
}

bool serve_stopping(void)
{
    return atomic_load_explicit(&stop_flag, memory_order_relaxed) != 0;
}
