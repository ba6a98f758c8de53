/* What every overlap process asks of the kernel, written once: the monotonic
 * clock, HOST:PORT addresses, the listening socket and its announcement, CPU
 * pinning, the descriptor limit and the stop signal; and what every command
 * line and every buffer shares: the usage error, growing a buffer. No HTTP,
 * no SQLite: the servers, the database and the load generator all link it. */
#ifndef OVERLAP_PROC_H
#define OVERLAP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PROC_BACKLOG 4096 /* listen(2) backlog: accept storms queue in the kernel */

/* CLOCK_MONOTONIC in nanoseconds: every duration overlap measures. */
uint64_t proc_now_ns(void);

/* ns as a struct timespec, for the calls that take one (ppoll, timerfd,
 * clock_nanosleep): a duration, or a CLOCK_MONOTONIC instant. */
static inline struct timespec proc_timespec(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

/* Splits HOST:PORT or [V6HOST]:PORT into host (NUL-terminated, brackets
 * removed) and *port (pointing into addr). Host and port must both be
 * non-empty. 0, or -EINVAL. */
int proc_split_addr(const char *addr, char *host, size_t hostlen, const char **port);

/* A non-blocking listening TCP socket on HOST:PORT with SO_REUSEADDR (and
 * SO_REUSEPORT when asked, so each event loop can own one). Writes the bound
 * address, with the real port, into bound. Returns the fd or -errno. */
int proc_listen(const char *addr, bool reuseport, char *bound, size_t boundlen);

/* n listening sockets on one address and port, each with SO_REUSEPORT, one
 * per event loop: the first binds addr as given, and with port 0 the others
 * bind the port it got. fds[i] is each socket or -1 (the caller closes them);
 * bound as for proc_listen. 0, or the first error's -errno. */
int proc_listen_group(const char *addr, int *fds, int n, char *bound, size_t boundlen);

/* Out of descriptors (EMFILE): closes the spare descriptor *spare (an open
 * /dev/null kept for this), accepts the waiting client with its number and
 * closes that at once, so the client sees a reset rather than a hang, then
 * takes a spare again. true when a client was shed so; false when even that
 * failed, and a level-triggered listener should rest a moment rather than
 * wake its loop forever. */
bool proc_shed_accept(int listen_fd, int *spare);

/* Prints the `listening ADDR` line and flushes: the harness waits for it. */
void proc_announce(const char *bound);

/* The number of CPUs in a list such as `0`, `0-3` or `0,2-3`, or -1. */
int proc_count_cpus(const char *list);

/* Pins the calling process to a CPU list such as `0`, `0-3` or `0,2-3`.
 * Returns the number of CPUs, or -1 for a bad list, -2 if pinning failed. */
int proc_pin_cpus(const char *list);

/* The CPUs the process may run on (pinned or inherited), at least 1. */
int proc_cpus_allowed(void);

/* Raises the soft RLIMIT_NOFILE toward need (0: as far as the hard limit
 * goes). Returns the soft limit in force afterwards. */
long proc_raise_nofile(long need);

/* Room for n more bytes after the first len of the malloc'd buffer *data
 * (any pointer to bytes, passed by its address) of *cap bytes: the capacity
 * doubles, starting from min_cap, until they fit, and the buffer is
 * reallocated. 0, or -ENOMEM with *data and *cap unchanged. */
int proc_grow(void *data, size_t *cap, size_t len, size_t n, size_t min_cap);

/* A usage error of `overlap CMD`: prints `overlap CMD: ` and the message
 * (printf's fmt and its arguments), a newline and usage (the command's
 * flags) to stderr. Returns 2, the exit status of a usage error. */
int proc_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A flag at the end of the command line without its value, or a word where a
 * flag was expected: the usage error that says which. Returns 2. */
int proc_value_missing(const char *cmd, const char *usage, const char *arg);

/* Removes dir and everything in it (symbolic links not followed): 0 (also
 * when dir is already gone), or -errno. */
int proc_remove_tree(const char *dir);

/* The whole of a file as text, up to its first NUL byte (malloc'ed; "" for
 * an empty file), its length into len when not NULL; NULL with errno set
 * when it cannot be read. */
char *proc_read_file(const char *path, size_t *len);

/* Copies from to to: a new file when exclusive (never over one), else
 * replacing what to held. 0, or -errno. */
int proc_copy_file(const char *from, const char *to, bool exclusive);

/* SIGINT/SIGTERM set the stop flag and make proc_stop_fd() readable forever,
 * so any epoll loop that watches it wakes; SIGPIPE is ignored. 0 or -errno. */
int proc_install_signals(void);
int proc_stop_fd(void);
bool proc_stopping(void);

#endif
