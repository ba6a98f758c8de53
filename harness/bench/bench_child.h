/* The sweep's child processes: started with their output in a log file,
 * waited for until they announce `listening ADDR` on stdout (read through a
 * pipe, with a deadline, and copied into the log), and stopped by their PIDs.
 * A child is told to stop by the kernel should the sweep itself die. */
#ifndef OVERLAP_BENCH_CHILD_H
#define OVERLAP_BENCH_CHILD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH__LINE_MAX        512  /* a stdout line longer than this is no announcement */
#define BENCH__READY_TIMEOUT_S 15.0 /* a server slower than this to listen has failed */
#define BENCH__STOP_TIMEOUT_S  5.0  /* SIGTERM, then SIGKILL after this */

struct bench__child {
    pid_t pid;  /* 0 once reaped, or before it started */
    bool group; /* it leads its own process group, stopped as one */
    int out;    /* the read end of its stdout when it announces, else -1 */
    int logfd;  /* its log, where what is read from out is copied; else -1 */
    char log[PATH_MAX];
    size_t len;                 /* bytes of a stdout line read so far */
    char line[BENCH__LINE_MAX]; /* that line */
};

/* Starts argv with stderr appended to log, and stdout too, unless the child
 * announces: then stdout comes through a pipe for bench__child_listening. The
 * child keeps the CPUs the sweep runs on, and its signals are the defaults.
 * 0 or -errno. */
int bench__child_start(struct bench__child *c, char **argv, const char *log, bool announces);
/* The same for a child that may start children of its own (an external
 * engine's server): it leads a new process group, and a stop signals the
 * whole group; cpus, when not empty, pins it (and so its children) to
 * those CPUs (`0` or `0-1`). */
int bench__child_start_group(struct bench__child *c, char **argv, const char *log, bool announces,
                             const char *cpus);

/* Waits for the child's `listening ADDR` line and copies ADDR into addr. 0,
 * or -1 with why in reason (what names the child in it): it exited (then
 * reaped), it took over BENCH__READY_TIMEOUT_S or the sweep was interrupted
 * (then stopped). */
int bench__child_listening(struct bench__child *c, const char *what, char *addr, size_t len,
                           char *reason, size_t rlen);

/* The same with its own deadline, for a child slower to be ready (a
 * PostgreSQL cluster runs initdb and loads its data first). */
int bench__child_listening_for(struct bench__child *c, const char *what, double timeout_s,
                               char *addr, size_t len, char *reason, size_t rlen);

/* Copies what the child wrote to stdout since into its log, without
 * waiting: a server that goes on writing after its announcement (an
 * external engine's access log) never fills the pipe and blocks. */
void bench__child_drain(struct bench__child *c);

/* Reaps the child if it has ended: 1 and, when reason is not NULL, why
 * (`WHAT exited with status N: LAST LOG LINE` or `WHAT killed by signal
 * ...`); 0 while it runs. */
int bench__child_ended(struct bench__child *c, const char *what, char *reason, size_t len);

/* SIGTERM, then SIGKILL after BENCH__STOP_TIMEOUT_S; reaps it (a group's
 * leftovers get SIGKILL once the leader is reaped). A no-op once reaped, or
 * for a zeroed child never started. */
void bench__child_stop(struct bench__child *c);

/* Runs argv to its end, its stdout and stderr into out (at most len - 1
 * bytes kept, NUL-terminated): for a command that ends at once, such as a
 * `--help`. 0, or -errno when it could not run. */
int bench__child_capture(char **argv, char *out, size_t len);

/* The last non-empty line of a log, or "no output": the reason a process gave
 * for failing. */
void bench__last_line(const char *path, char *out, size_t len);

#endif
