/* The bounded FIFO between the front end and the workers, the libuv way: one
 * mutex, one condition variable, an intrusive list, and a count of idle
 * workers so that a push signals only when someone waits. Stopping is a
 * sentinel state that every worker sees once the queue is drained, so the
 * requests already queued are still served. The mutex is held only to link
 * or unlink one entry; nothing blocks while holding it. */
#include <errno.h>
#include <stdlib.h>

#include "pool_internal.h"

void pool__queue_init(struct pool__queue *q, int cap)
{
    if (pthread_mutex_init(&q->mu, NULL) || pthread_cond_init(&q->cv, NULL))
        abort();
    q->head = q->tail = NULL;
    q->len = q->idle = 0;
    q->cap = cap;
    q->stopped = false;
}

void pool__queue_destroy(struct pool__queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

int pool__queue_push(struct pool__queue *q, struct pool__conn *c)
{
    pthread_mutex_lock(&q->mu);
    if (q->len >= q->cap) {
        pthread_mutex_unlock(&q->mu);
        return -EAGAIN;
    }
    c->qnext = NULL;
    if (q->tail)
        q->tail->qnext = c;
    else
        q->head = c;
    q->tail = c;
    q->len++;
    /* Signalled after the unlock: a worker woken while the mutex is still
     * held would run only to block on it again. No wake-up is lost: a worker
     * counted idle here is waiting, and one that comes to wait later finds c
     * in the queue first. */
    bool wake = q->idle > 0;
    pthread_mutex_unlock(&q->mu);
    if (wake)
        pthread_cond_signal(&q->cv);
    return 0;
}

struct pool__conn *pool__queue_pop(struct pool__queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stopped) {
        q->idle++;
        pthread_cond_wait(&q->cv, &q->mu);
        q->idle--;
    }
    struct pool__conn *c = q->head;
    if (c) {
        q->head = c->qnext;
        if (!q->head)
            q->tail = NULL;
        q->len--;
    }
    pthread_mutex_unlock(&q->mu);
    return c;
}

void pool__queue_stop(struct pool__queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopped = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int pool__queue_waiting(struct pool__queue *q)
{
    pthread_mutex_lock(&q->mu);
    int idle = q->idle;
    pthread_mutex_unlock(&q->mu);
    return idle;
}
