/* What a test reads of a server from outside, through /proc: its
 * descriptors, memory, threads and limits, and whether it has read what a
 * client sent. Observed rather than slept on, so that a busy machine makes a
 * test slower, never wrong. Failures assert through Criterion. */
#ifndef OVERLAP_TEST_OBSERVE_H
#define OVERLAP_TEST_OBSERVE_H

#include <sys/resource.h>
#include <sys/types.h>

/* Open descriptors, resident memory in kB, and threads of process pid. */
int observe_fds(pid_t pid);
long observe_rss_kb(pid_t pid);
int observe_threads(pid_t pid);

/* pid's descriptors, given up to timeout_ms to come down to want (or, with
 * up, to come up to it); the count last seen. */
int observe_settle_fds(pid_t pid, int want, int up, int timeout_ms);

/* The soft descriptor limit of process pid, from /proc/PID/limits. */
long observe_nofile(pid_t pid);

/* Raises this process's descriptor limit to need, and the hard limit too when
 * it is lower and we may (CAP_SYS_RESOURCE): a server started next inherits
 * both and raises its own soft limit to the hard one. Fails the test, naming
 * the limit, when it cannot: a test of many connections must not pass
 * unrun. */
void observe_raise_nofile(rlim_t need);

/* Of the established TCP sockets on server_port (only the one whose peer is
 * client_port, unless that is 0), how many hold bytes the server has not read
 * (/proc/net/tcp's rx_queue); *established counts them all. A connection not
 * yet accepted is listed too, its bytes unread. */
int observe_unread(int server_port, int client_port, int *established);

/* Waits up to timeout_ms until the server on server_port has read all that
 * the client socket fd sent it, and fails the test otherwise. */
void observe_await_read(int server_port, int fd, int timeout_ms);

/* The port of an address `HOST:PORT` as a server printed it. */
int observe_port(const char *addr);

#endif
