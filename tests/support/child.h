/* Process-level test support: start an `overlap` subcommand as a child, wait
 * for the `listening ADDR` line it prints once ready, and stop it by its PID.
 * Every server a test starts goes through here, so none outlives its test. */
#ifndef OVERLAP_TEST_CHILD_H
#define OVERLAP_TEST_CHILD_H

#include <sys/types.h>

struct child {
    pid_t pid;
    char addr[256]; /* what followed `listening ` on the first stdout line */
};

/* Runs the overlap binary with args (a NULL-terminated list without the
 * binary's name, e.g. {"db", "--workload", path, NULL}) and waits up to
 * timeout_ms for its first stdout line, `listening ADDR`. The child's stderr
 * stays the test's. Returns 0, or -1 (the child is stopped again) when it
 * exited, printed something else, or timed out. */
int child_start(struct child *c, const char *const *args, int timeout_ms);

/* SIGTERM, then SIGKILL after timeout_ms. Returns the exit status, 128 + the
 * signal that ended it, or -1 if there was no child. */
int child_stop(struct child *c, int timeout_ms);

/* SIGKILL and reap: a crash, as the fault tests need it. */
void child_kill(struct child *c);

/* A fresh private (0700) directory for sockets and files, removed with its
 * contents by child_tmpdir_remove. Writes its path into dir. 0 or -1. */
int child_tmpdir(char *dir, size_t len);
void child_tmpdir_remove(const char *dir);

/* Writes text as dir/name (the test fails when it cannot); the path, in a
 * buffer the next call reuses. */
const char *child_write_file(const char *dir, const char *name, const char *text);

#endif
