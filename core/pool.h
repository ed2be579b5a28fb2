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

/* The completion path, for other threads that hand results back (the store's committer):
 * `done(arg)` runs on `loop`'s thread after pool_completion_fire, then the completion is
 * freed.  new and free (a completion never fired): the loop's thread.  fire: any thread,
 * exactly once.  NULL when out of memory. */
struct pool_completion;
struct pool_completion *pool_completion_new(struct event_base *loop, void (*done)(void *),
                                            void *arg);
void pool_completion_fire(struct pool_completion *c);
void pool_completion_free(struct pool_completion *c);

#endif
