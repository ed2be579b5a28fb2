/* A bounded pool of threads for CPU-heavy work (password hashing, rendering, SQL).
 * Results come back to the submitting event loop with event_active, never by calling
 * into libevent from a pool thread. */
#ifndef SENSED_CORE_POOL_H
#define SENSED_CORE_POOL_H

struct event_base;

/* Start `threads` threads with a queue of `queue_cap` pending jobs. */
int pool_start(int threads, int queue_cap);
/* Finish the queued jobs and join the threads. */
void pool_stop(void);
/* Queue work(arg) on a pool thread, then done(arg) on `loop`'s thread.  Returns
 * SENSED_EBUSY when the queue is full (nothing is queued; the caller still owns arg).
 * Thread: the thread running `loop`. */
int pool_submit(struct event_base *loop, void (*work)(void *), void (*done)(void *), void *arg);

#endif
