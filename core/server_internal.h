/* Private to server.c and request.c: one worker = one thread, event_base and evhttp. */
#ifndef SENSED_CORE_SERVER_INTERNAL_H
#define SENSED_CORE_SERVER_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>

struct config;

#define WORKER_NEW_CONNECTIONS    64
#define WORKER_CONNECTION_BUCKETS 4096

struct tracked_connection;

struct worker {
	int index;
	pthread_t thread;
	const struct config *cfg;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *stop_event;               /* activated by server_stop (any thread) */
	struct event *drain_timer;              /* polls for in-flight work during a stop */
	struct event *register_event;           /* registers freshly accepted connections */
	struct event *deadline_timer;           /* closes connections past their request deadline */
	struct tracked_connection *connections; /* owned: this worker's open connections */
	struct tracked_connection *connection_buckets[WORKER_CONNECTION_BUCKETS]; /* by evcon */
	struct bufferevent *new_connections[WORKER_NEW_CONNECTIONS];
	int new_connection_count;
	int in_flight; /* requests handed to handlers/jobs, not yet answered */
	int stopping;
	long long stop_deadline_ms;
};

/* A request of `evcon` is being handled: no deadline until it is answered. */
void worker_connection_busy(struct worker *w, struct evhttp_connection *evcon);
/* `evcon` answered its request: it has requestTimeout seconds to send the next one. */
void worker_connection_idle(struct worker *w, struct evhttp_connection *evcon);
/* Called by request.c when a request finishes (after its reply). */
void worker_request_done(struct worker *w);

#endif
