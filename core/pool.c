/* The worker pool (contract in pool.h): a fixed ring of pending jobs guarded by one
 * mutex; results go back to the submitting loop by activating an event created on that
 * loop (libevent is made thread-safe with evthread_use_pthreads before any base). */
#include "pool.h"

#include "sensed/plugin.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>

struct pool_completion {
	struct event *finished; /* on the loop that receives the result */
	void (*done)(void *);
	void *arg;
};

struct pool_job {
	void (*work)(void *);
	void *arg;
	struct pool_completion *completion;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct pool_job **queue;
static int queue_cap, queue_head, queue_len;
static pthread_t *threads;
static int thread_count;
static int stopping;

static void completion_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pool_completion *c = arg;
	event_free(c->finished);
	c->done(c->arg);
	free(c);
}

struct pool_completion *pool_completion_new(struct event_base *loop, void (*done)(void *),
                                            void *arg)
{
	struct pool_completion *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->done = done;
	c->arg = arg;
	c->finished = event_new(loop, -1, 0, completion_run, c);
	if (!c->finished) {
		free(c);
		return NULL;
	}
	return c;
}

void pool_completion_fire(struct pool_completion *c)
{
	event_active(c->finished, EV_TIMEOUT, 0);
}

void pool_completion_free(struct pool_completion *c)
{
	if (c) {
		event_free(c->finished);
		free(c);
	}
}

static void *pool_thread(void *unused)
{
	(void)unused;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (queue_len == 0 && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (queue_len == 0) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		struct pool_job *job = queue[queue_head];
		queue_head = (queue_head + 1) % queue_cap;
		queue_len--;
		pthread_mutex_unlock(&lock);
		job->work(job->arg);
		pool_completion_fire(job->completion);
		free(job);
	}
}

int pool_start(int count, int queue_capacity)
{
	evthread_use_pthreads();
	if (count <= 0)
		count = 1;
	if (queue_capacity <= 0)
		queue_capacity = 1024;
	queue = calloc((size_t)queue_capacity, sizeof(*queue));
	threads = calloc((size_t)count, sizeof(*threads));
	if (!queue || !threads) {
		free(queue);
		free(threads);
		queue = NULL;
		threads = NULL;
		return SENSED_ENOMEM;
	}
	queue_cap = queue_capacity;
	queue_head = queue_len = 0;
	stopping = 0;
	for (thread_count = 0; thread_count < count; thread_count++)
		if (pthread_create(&threads[thread_count], NULL, pool_thread, NULL) != 0)
			break;
	return thread_count > 0 ? 0 : SENSED_ENOMEM;
}

void pool_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < thread_count; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	free(queue);
	threads = NULL;
	queue = NULL;
	thread_count = 0;
}

int pool_submit(struct event_base *loop, void (*work)(void *), void (*done)(void *), void *arg)
{
	if (!loop || !work || !done)
		return SENSED_EINVAL;
	struct pool_job *job = malloc(sizeof(*job));
	if (!job)
		return SENSED_ENOMEM;
	job->work = work;
	job->arg = arg;
	job->completion = pool_completion_new(loop, done, arg);
	if (!job->completion) {
		free(job);
		return SENSED_ENOMEM;
	}
	pthread_mutex_lock(&lock);
	if (!queue || stopping || queue_len == queue_cap) {
		pthread_mutex_unlock(&lock);
		pool_completion_free(job->completion);
		free(job);
		return SENSED_EBUSY;
	}
	queue[(queue_head + queue_len) % queue_cap] = job;
	queue_len++;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	return 0;
}
