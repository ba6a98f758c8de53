/* The throwaway cluster: a private directory, initdb, then postgres run
 * directly (no shell, no pg_ctl) as the cluster's user, waited for until it
 * accepts connections, and stopped by its PID. initdb and postgres refuse to
 * run as root, so overlap pg run as root makes the directory theirs and
 * drops privileges in the child before exec. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_internal.h"
#include "proc.h"

#define INITDB_TIMEOUT_MS 60000 /* initdb takes under 2 s; a busy machine ten times that */
#define READY_TIMEOUT_MS  30000 /* postgres accepts connections about 0.5 s after it starts */
#define FAST_STOP_MS      10000 /* a fast shutdown: one checkpoint, nothing synced */
#define KILL_WAIT_MS      5000
#define PING_EVERY_MS     10
#define POLL_FALLBACK_MS  5 /* how often to look when a child has no pidfd */
#define LOG_TAIL_BYTES    2048
#define LOG_TAIL_LINES    6
#define SHARED_BUFFERS    "64MB" /* the techempower tables take under 1 MB */

/* Who runs initdb and postgres when overlap pg is root: the package's own
 * user if it made one, else the user every Debian image has. */
static const char *const run_as[] = {"postgres", "nobody"};

static int pick_user(struct pg__cluster *c, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        struct passwd *pw = getpwuid(geteuid());
        c->uid = geteuid();
        c->gid = getegid();
        snprintf(c->user, sizeof(c->user), "%s", pw ? pw->pw_name : "the current user");
        return 0;
    }
    for (size_t i = 0; i < sizeof(run_as) / sizeof(run_as[0]); i++) {
        struct passwd *pw = getpwnam(run_as[i]);
        if (pw && pw->pw_uid != 0) {
            c->drop = true;
            c->uid = pw->pw_uid;
            c->gid = pw->pw_gid;
            snprintf(c->user, sizeof(c->user), "%s", run_as[i]);
            return 0;
        }
    }
    snprintf(err, errlen,
             "overlap pg: running as root, and no user postgres or nobody to run PostgreSQL as "
             "(initdb and postgres refuse root)");
    return -1;
}

static int check_bin(const struct pg__cluster *c, char *err, size_t errlen)
{
    static const char *const progs[] = {"initdb", "postgres"};
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        char path[sizeof(c->bin) + 16];
        snprintf(path, sizeof(path), "%s/%s", c->bin, progs[i]);
        if (access(path, X_OK) < 0) {
            snprintf(err, errlen,
                     "overlap pg: PostgreSQL is not installed: no %s (install the Debian package "
                     "%s, or name the directory of initdb and postgres with --bin)",
                     path, PG__PACKAGE);
            return -1;
        }
    }
    return 0;
}

/* A fresh 0700 directory in parent, the cluster user's: its socket's path
 * must fit a sockaddr_un. */
static int make_dir(struct pg__cluster *c, const char *parent, char *err, size_t errlen)
{
    const char *base = parent ? parent : getenv("TMPDIR");
    char dir[PG__PATH];
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(dir, sizeof(dir), "%s/overlap-pg-XXXXXX", base);
    if (n < 0 || (size_t)n + sizeof("/.s.PGSQL.5432") > sizeof(dir)) {
        snprintf(err, errlen, "overlap pg: %s: too long a path for a Unix socket (%zu at most)",
                 base, sizeof(dir) - sizeof("/overlap-pg-XXXXXX/.s.PGSQL.5432"));
        return -1;
    }
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "overlap pg: cannot make a directory in %s: %s", base,
                 strerror(errno));
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "%s", dir);
    /* absolute: initdb and postgres run inside it, and clients find the socket by it */
    char *full = realpath(dir, NULL);
    if (!full || strlen(full) + sizeof("/.s.PGSQL.5432") > sizeof(c->dir)) {
        snprintf(err, errlen, "overlap pg: %s: %s", dir,
                 full ? "too long a path for a Unix socket" : strerror(errno));
        free(full);
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "%s", full);
    free(full);
    if (c->drop && chown(dir, c->uid, c->gid) < 0) {
        snprintf(err, errlen, "overlap pg: cannot give %s to user %s: %s", dir, c->user,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int open_log(const struct pg__cluster *c, const char *name)
{
    char path[PG__PATH + 32];
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
}

/* The last lines of a log in the private directory, each indented, for an
 * error message: the directory goes with the cluster. */
static void log_tail(const struct pg__cluster *c, const char *name, char *out, size_t len)
{
    char path[PG__PATH + 32], text[LOG_TAIL_BYTES + 1];
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    off_t from = size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0;
    ssize_t n = size >= 0 ? pread(fd, text, LOG_TAIL_BYTES, from) : -1;
    if (fd >= 0)
        close(fd);
    while (n > 0 && text[n - 1] == '\n')
        n--;
    text[n > 0 ? n : 0] = '\0';
    char *start = text + (n > 0 ? n : 0);
    for (int lines = 0; start > text && lines < LOG_TAIL_LINES; lines += *start == '\n')
        start--;
    start += *start == '\n';
    size_t used = (size_t)snprintf(out, len, "; the end of its log:");
    for (char *line = strtok(start, "\n"); line && used < len; line = strtok(NULL, "\n"))
        used += (size_t)snprintf(out + used, len - used, "\n  %s", line);
    if (!*start)
        snprintf(out, len, " (its log is empty)");
}

/* In the child: argv as the cluster's user, stdout and stderr into log_fd,
 * in a process group of its own (a terminal's Ctrl-C is overlap pg's to
 * handle, and it stops its children in order), sent deathsig if overlap pg
 * dies first. */
static void run_child(const struct pg__cluster *c, const char *const *argv, int log_fd,
                      int deathsig, pid_t parent) __attribute__((noreturn));

static void run_child(const struct pg__cluster *c, const char *const *argv, int log_fd,
                      int deathsig, pid_t parent)
{
    int null = open("/dev/null", O_RDONLY);
    signal(SIGPIPE, SIG_DFL); /* an ignored signal stays ignored across exec */
    setpgid(0, 0);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        _exit(126);
    if (c->drop && (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)) {
        dprintf(2, "overlap pg: cannot become user %s: %s\n", c->user, strerror(errno));
        _exit(126);
    }
    /* after setuid, which clears it; the parent may have died before */
    if (prctl(PR_SET_PDEATHSIG, deathsig) < 0 || getppid() != parent)
        _exit(126);
    if (chdir(c->dir) < 0) {
        dprintf(2,
                "overlap pg: user %s cannot enter %s: %s (every directory above it must be "
                "searchable by that user)\n",
                c->user, c->dir, strerror(errno));
        _exit(126);
    }
    setenv("LC_ALL", "C", 1);
    unsetenv("PGDATA");
    unsetenv("PGPORT");
    unsetenv("PGOPTIONS");
    execv(argv[0], (char *const *)argv);
    dprintf(2, "overlap pg: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static pid_t spawn(const struct pg__cluster *c, const char *const *argv, const char *log_name,
                   int deathsig, int *pidfd)
{
    int log_fd = open_log(c, log_name);
    pid_t parent = getpid(), pid = log_fd >= 0 ? fork() : -1;
    int saved = errno;
    if (pid == 0)
        run_child(c, argv, log_fd, deathsig, parent);
    if (log_fd >= 0)
        close(log_fd);
    errno = saved;
    *pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (pid > 0)
        pg__guard_watch(c->guard_fd, pid);
    return pid;
}

/* Waits for child pid to exit (its wait status, >= 0), stop_fd to become
 * readable (-EINTR; -1 watches none) or timeout_ms to pass (-ETIMEDOUT; < 0
 * waits for ever). */
static int wait_child(pid_t pid, int pidfd, int stop_fd, int timeout_ms)
{
    uint64_t end = proc_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -errno;
        uint64_t now = proc_now_ns();
        if (timeout_ms >= 0 && now >= end)
            return -ETIMEDOUT;
        struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int ms = timeout_ms < 0 ? 1000 : (int)((end - now) / 1000000u) + 1;
        if (pidfd < 0 && ms > POLL_FALLBACK_MS)
            ms = POLL_FALLBACK_MS;
        if (poll(p, 2, ms) > 0 && (p[1].revents & POLLIN))
            return -EINTR;
    }
}

static void describe_exit(int status, char *out, size_t len)
{
    if (WIFEXITED(status))
        snprintf(out, len, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(out, len, "killed by signal %d", WTERMSIG(status));
}

/* Why a child that should still run is done: st from wait_child. */
static void report(const struct pg__cluster *c, const char *what, const char *log_name, int st,
                   char *err, size_t errlen)
{
    char how[64], tail[LOG_TAIL_BYTES + 256];
    if (st == -EINTR) {
        snprintf(err, errlen, "overlap pg: interrupted while %s", what);
        return;
    }
    if (st == -ETIMEDOUT)
        snprintf(how, sizeof(how), "timed out");
    else if (st < 0)
        snprintf(how, sizeof(how), "%s", strerror(-st));
    else
        describe_exit(st, how, sizeof(how));
    log_tail(c, log_name, tail, sizeof(tail));
    snprintf(err, errlen, "overlap pg: %s failed (%s)%s", what, how, tail);
}

/* Sends sig to the child and its process group (initdb's own children are
 * in it), gives it ms to end, then SIGKILLs both. The polite signal comes
 * first because a postgres ended by SIGKILL leaves its System V shared
 * memory segment behind. postgres's backends each lead a session of their
 * own: they end with the postmaster. */
static void end_child(pid_t pid, int pidfd, int sig, int ms)
{
    kill(-pid, sig);
    kill(pid, sig);
    if (wait_child(pid, pidfd, -1, ms) >= 0)
        return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    wait_child(pid, pidfd, -1, KILL_WAIT_MS);
}

static int run_initdb(struct pg__cluster *c, int stop_fd, char *err, size_t errlen)
{
    char prog[sizeof(c->bin) + 16], data[PG__PATH + 8];
    snprintf(prog, sizeof(prog), "%s/initdb", c->bin);
    snprintf(data, sizeof(data), "%s/data", c->dir);
    const char *argv[] = {prog,
                          "-D",
                          data,
                          "-U",
                          PG_SUPERUSER,
                          "-E",
                          "UTF8",
                          "--locale=C",
                          "--auth-local=trust",
                          "--auth-host=reject",
                          "--no-sync",
                          "--no-instructions",
                          NULL};
    int pidfd;
    pid_t pid = spawn(c, argv, "initdb.log", SIGKILL, &pidfd);
    if (pid < 0) {
        snprintf(err, errlen, "overlap pg: cannot start initdb: %s", strerror(errno));
        return -1;
    }
    int st = wait_child(pid, pidfd, stop_fd, INITDB_TIMEOUT_MS);
    if (st < 0)
        end_child(pid, pidfd, SIGTERM, KILL_WAIT_MS);
    if (pidfd >= 0)
        close(pidfd);
    pg__guard_watch(c->guard_fd, 0);
    if (st != 0)
        report(c, "initdb", "initdb.log", st, err, errlen);
    return st == 0 ? 0 : -1;
}

static int start_postgres(struct pg__cluster *c, int connections, char *err, size_t errlen)
{
    char prog[sizeof(c->bin) + 16], data[PG__PATH + 8], sockets[PG__PATH + 32], port[32], max[64],
        reserved[64];
    snprintf(prog, sizeof(prog), "%s/postgres", c->bin);
    snprintf(data, sizeof(data), "%s/data", c->dir);
    snprintf(sockets, sizeof(sockets), "unix_socket_directories=%s", c->dir);
    snprintf(port, sizeof(port), "port=%d", PG__PORT);
    snprintf(max, sizeof(max), "max_connections=%d", connections + PG_RESERVED);
    /* None reserved the server's way: those slots count the superuser's own
     * connections too, so with the sweep's check connection open the role's
     * last connection of its budget was refused. The role's CONNECTION
     * LIMIT keeps PG_RESERVED slots free for the superuser instead. */
    snprintf(reserved, sizeof(reserved), "superuser_reserved_connections=0");
    const char *argv[] = {prog, "-D", data, "-c", "listen_addresses=", /* no TCP listener */
                          "-c", sockets, "-c", port, "-c", max, "-c", reserved, "-c",
                          "shared_preload_libraries=pg_stat_statements",
                          /* durability off: a throwaway cluster never recovers */
                          "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                          "full_page_writes=off", "-c", "wal_level=minimal", "-c",
                          "max_wal_senders=0", "-c", "shared_buffers=" SHARED_BUFFERS, "-c",
                          "huge_pages=off", NULL};
    c->postmaster = spawn(c, argv, "postgres.log", SIGQUIT, &c->postmaster_fd);
    if (c->postmaster < 0) {
        c->postmaster = 0;
        snprintf(err, errlen, "overlap pg: cannot start postgres: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Pings until postgres accepts connections, watching it and stop_fd. */
static int wait_ready(struct pg__cluster *c, int stop_fd, char *err, size_t errlen)
{
    char ping[PG__DSN + 32];
    uint64_t end = proc_now_ns() + (uint64_t)READY_TIMEOUT_MS * 1000000u;
    snprintf(ping, sizeof(ping), "%s&connect_timeout=2", c->admin_dsn);
    for (;;) {
        if (PQping(ping) == PQPING_OK)
            return 0;
        int st = wait_child(c->postmaster, c->postmaster_fd, stop_fd, PING_EVERY_MS);
        if (st >= 0)
            c->postmaster = 0; /* reaped */
        if (st == -ETIMEDOUT && proc_now_ns() < end)
            continue;
        report(c, "starting postgres", "postgres.log", st, err, errlen);
        return -1;
    }
}

/* host= takes the directory as it is; only what a URI cannot carry is
 * %-encoded. */
static void make_dsns(struct pg__cluster *c)
{
    char host[3 * PG__PATH];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)c->dir; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("/-._~", *p);
        n += (size_t)snprintf(host + n, sizeof(host) - n, plain ? "%c" : "%%%02X", *p);
    }
    snprintf(c->dsn, sizeof(c->dsn), "postgresql://%s@:%d/postgres?host=%s", PG_ROLE, PG__PORT,
             host);
    snprintf(c->admin_dsn, sizeof(c->admin_dsn), "postgresql://%s@:%d/postgres?host=%s",
             PG_SUPERUSER, PG__PORT, host);
}

int pg__cluster_start(struct pg__cluster *c, const char *parent, const char *bin, int connections,
                      int stop_fd, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->postmaster_fd = c->guard_fd = -1;
    snprintf(c->bin, sizeof(c->bin), "%s", bin ? bin : PG__DEFAULT_BIN);
    if (check_bin(c, err, errlen) < 0 || pick_user(c, err, errlen) < 0 ||
        make_dir(c, parent, err, errlen) < 0)
        return -1;
    int fd = pg__guard_start(c->dir, &c->guardian);
    if (fd < 0) {
        snprintf(err, errlen, "overlap pg: cannot start the guardian: %s", strerror(-fd));
        return -1;
    }
    c->guard_fd = fd;
    make_dsns(c);
    if (run_initdb(c, stop_fd, err, errlen) < 0 || start_postgres(c, connections, err, errlen) < 0)
        return -1;
    return wait_ready(c, stop_fd, err, errlen);
}

int pg__cluster_wait(struct pg__cluster *c, int stop_fd, char *err, size_t errlen)
{
    int st = wait_child(c->postmaster, c->postmaster_fd, stop_fd, -1);
    if (st == -EINTR)
        return 0;
    if (st >= 0)
        c->postmaster = 0;
    report(c, "postgres", "postgres.log", st, err, errlen);
    return -1;
}

void pg__cluster_stop(struct pg__cluster *c)
{
    if (c->postmaster > 0) {
        /* fast shutdown: sessions end, one checkpoint */
        end_child(c->postmaster, c->postmaster_fd, SIGINT, FAST_STOP_MS);
        c->postmaster = 0;
    }
    if (c->postmaster_fd >= 0)
        close(c->postmaster_fd);
    c->postmaster_fd = -1;
    pg__guard_watch(c->guard_fd, 0);
    int rc = c->dir[0] ? proc_remove_tree(c->dir) : 0;
    if (rc < 0)
        fprintf(stderr, "overlap pg: cannot remove %s: %s\n", c->dir, strerror(-rc));
    c->dir[0] = '\0';
    if (c->guard_fd >= 0)
        close(c->guard_fd); /* the guardian finds nothing left to do */
    c->guard_fd = -1;
    if (c->guardian > 0) {
        int pidfd = pidfd_open(c->guardian, 0);
        if (wait_child(c->guardian, pidfd, -1, KILL_WAIT_MS) < 0)
            end_child(c->guardian, pidfd, SIGKILL, KILL_WAIT_MS);
        if (pidfd >= 0)
            close(pidfd);
    }
    c->guardian = 0;
}
