/* The load generator's poller: a handful of calls over epoll, kept apart so
 * the engine reads as connections and deadlines, not as epoll flags. Internal
 * to the harness (hence load__). Each returns 0 (or a count) or -errno. */
#ifndef OVERLAP_LOAD_POLL_H
#define OVERLAP_LOAD_POLL_H

#include <stdbool.h>
#include <stdint.h>

#define LOAD_POLL_MAX_EVENTS 256 /* events taken per wait; more wait for the next */

struct load_poll_event {
    void *data;
    bool readable; /* or hung up, or in error: a read will say which */
    bool writable; /* or in error: a connect or write will say which */
};

int load__poll_create(void);
/* Watches fd for readable, and writable when asked; data comes back in events. */
int load__poll_add(int ep, int fd, bool writable, void *data);
int load__poll_modify(int ep, int fd, bool writable, void *data);
/* Waits up to wait_ns for up to max events; the count (0 on timeout or signal). */
int load__poll_wait(int ep, struct load_poll_event *out, int max, uint64_t wait_ns);
void load__poll_destroy(int ep);

#endif
