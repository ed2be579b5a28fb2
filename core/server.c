/* The HTTP server (contract in server.h).
 *
 * One listening socket, bound once by server_bind (port 0 picks a free port once);
 * every worker thread runs its own event_base + evhttp and accepts on a dup() of it, so
 * one worker's stop never closes another's socket.  Connections are counted here
 * (libevent 2.1 has no cap): a freshly accepted connection is registered right after
 * its accept, and over the cap it is answered 503 and closed.
 *
 * libevent answers some errors itself (413, 400 malformed, 501) with an HTML body.  Each
 * connection's output buffer carries a callback that rewrites such a response into the
 * JSON error envelope before it reaches the socket, so every response is JSON. */
#include "server.h"

#include "config.h"
#include "errors.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "server_internal.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 5000

struct router *g_router;

static int listen_fd = -1;
static int stop_pipe[2] = {-1, -1};
static atomic_int connection_count;
static struct worker *workers;
static int worker_count;

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int server_bind(const struct config *cfg, int *port_out)
{
	static int threads_enabled;
	if (!threads_enabled && evthread_use_pthreads() == 0)
		threads_enabled = 1;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || !ai)
		return SENSED_EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return SENSED_EINVAL;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY on Linux: no Nagle stall on large bodies. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		log_msg(SENSED_LOG_ERROR, "http", "cannot listen on %s:%d: %s", cfg->listen_host,
		        cfg->listen_port, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return SENSED_EINVAL;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &len);
	int bound_port = bound.ss_family == AF_INET6
	                     ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
	                     : ntohs(((struct sockaddr_in *)&bound)->sin_port);
	if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC) != 0) {
		close(fd);
		return SENSED_ENOMEM;
	}
	listen_fd = fd;
	if (port_out)
		*port_out = bound_port;
	return 0;
}

void server_stop(void)
{
	/* Async-signal-safe: one write(2). */
	if (stop_pipe[1] >= 0) {
		char byte = 1;
		ssize_t unused = write(stop_pipe[1], &byte, 1);
		(void)unused;
	}
}

/* ---- JSON instead of libevent's HTML error pages ------------------------------------ */

static const char html_marker[] = "\r\n\r\n<HTML><HEAD>\n<TITLE>";
static const char html_end[] = "</BODY></HTML>\n";
static _Thread_local int rewriting;

static int wire_code_for_status(int status)
{
	switch (status) {
	case 413:
		return SENSED_CODE_BODY_TOO_LARGE;
	case 408:
		return SENSED_CODE_TIMEOUT;
	case 405:
	case 501:
		return SENSED_CODE_METHOD_NOT_ALLOWED;
	case 404:
		return SENSED_CODE_NOT_FOUND;
	case 503:
		return SENSED_CODE_UNAVAILABLE;
	default:
		return status >= 500 ? SENSED_CODE_INTERNAL : SENSED_CODE_BAD_REQUEST;
	}
}

/* Once a whole HTML error response sits in the output buffer, replace its body (and
 * Content-Length) by the JSON envelope.  libevent writes headers and body into the
 * buffer before the socket becomes writable, so nothing has been sent yet. */
static void rewrite_html_errors(struct evbuffer *out, const struct evbuffer_cb_info *info,
                                void *arg)
{
	(void)arg;
	if (rewriting || info->n_added == 0)
		return;
	size_t len = evbuffer_get_length(out);
	if (len < sizeof(html_end) || len > 4096)
		return;
	struct evbuffer_ptr tail;
	evbuffer_ptr_set(out, &tail, len - (sizeof(html_end) - 1), EVBUFFER_PTR_SET);
	struct evbuffer_ptr end = evbuffer_search(out, html_end, sizeof(html_end) - 1, &tail);
	if (end.pos < 0)
		return;
	struct evbuffer_ptr marker =
	    evbuffer_search(out, html_marker, sizeof(html_marker) - 1, NULL);
	if (marker.pos < 0)
		return;
	char *bytes = (char *)evbuffer_pullup(out, -1);
	/* Find the start of this response (a pipelined earlier one may precede it). */
	char *start = NULL;
	for (char *p = bytes; p < bytes + marker.pos; p++)
		if (strncmp(p, "HTTP/1.", 7) == 0)
			start = p;
	if (!start)
		return;
	int status = atoi(start + 9);
	json_t *env = error_envelope(status, wire_code_for_status(status), NULL, NULL);
	char *json = env ? json_dumps(env, JSON_COMPACT) : NULL;
	json_decref(env);
	if (!json)
		return;
	struct evbuffer *rebuilt = evbuffer_new();
	if (!rebuilt) {
		free(json);
		return;
	}
	size_t json_len = strlen(json);
	const char *line = start;
	const char *headers_end = bytes + marker.pos;
	evbuffer_add(rebuilt, bytes, (size_t)(start - bytes));
	while (line < headers_end) {
		const char *eol = strstr(line, "\r\n");
		if (!eol || eol > headers_end)
			eol = headers_end;
		size_t llen = (size_t)(eol - line);
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			evbuffer_add_printf(rebuilt, "Content-Length: %zu\r\n", json_len);
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			evbuffer_add_printf(rebuilt, "Content-Type: application/json\r\n");
		else {
			evbuffer_add(rebuilt, line, llen);
			evbuffer_add(rebuilt, "\r\n", 2);
		}
		line = eol + 2;
	}
	evbuffer_add(rebuilt, "\r\n", 2);
	evbuffer_add(rebuilt, json, json_len);
	free(json);
	rewriting = 1;
	evbuffer_drain(out, len);
	evbuffer_add_buffer(out, rebuilt);
	rewriting = 0;
	evbuffer_free(rebuilt);
}

/* ---- Connections -------------------------------------------------------------------- */

/* ---- Request deadlines ----------------------------------------------------------------
 * evhttp's timeout is an inactivity timeout: a client dribbling one byte at a time keeps a
 * connection forever.  Each connection gets an absolute deadline to deliver its next whole
 * request (requestTimeout seconds from its accept or from the end of its last reply);
 * while a request is being handled there is none.  A timer per worker closes the
 * connections past their deadline. */

struct tracked_connection {
	struct evhttp_connection *evcon;
	struct worker *worker;
	long long deadline_ms; /* 0 while a request is being handled */
	struct tracked_connection *bucket_next;
	struct tracked_connection *prev, *next; /* the worker's list */
};

static size_t connection_bucket(const struct evhttp_connection *evcon)
{
	return ((uintptr_t)evcon >> 4) % WORKER_CONNECTION_BUCKETS;
}

static struct tracked_connection *connection_find(struct worker *w,
                                                  const struct evhttp_connection *evcon)
{
	struct tracked_connection *c = w->connection_buckets[connection_bucket(evcon)];

	while (c && c->evcon != evcon)
		c = c->bucket_next;
	return c;
}

static long long next_request_deadline(const struct worker *w)
{
	int seconds = w->cfg->request_timeout > 0 ? w->cfg->request_timeout : 30;

	return monotonic_ms() + (long long)seconds * 1000;
}

void worker_connection_busy(struct worker *w, struct evhttp_connection *evcon)
{
	struct tracked_connection *c = w && evcon ? connection_find(w, evcon) : NULL;

	if (c)
		c->deadline_ms = 0;
}

void worker_connection_idle(struct worker *w, struct evhttp_connection *evcon)
{
	struct tracked_connection *c = w && evcon ? connection_find(w, evcon) : NULL;

	if (c)
		c->deadline_ms = next_request_deadline(w);
}

static void on_connection_close(struct evhttp_connection *evcon, void *arg)
{
	struct tracked_connection *c = arg;

	(void)evcon;
	atomic_fetch_sub(&connection_count, 1);
	if (!c)
		return;
	struct worker *w = c->worker;
	struct tracked_connection **link = &w->connection_buckets[connection_bucket(c->evcon)];
	while (*link && *link != c)
		link = &(*link)->bucket_next;
	if (*link)
		*link = c->bucket_next;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->connections = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void close_overdue_connections(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	long long now = monotonic_ms();

	(void)fd;
	(void)what;
	for (struct tracked_connection *c = w->connections, *next; c; c = next) {
		next = c->next; /* freeing the connection unlinks c */
		if (c->deadline_ms != 0 && now > c->deadline_ms)
			evhttp_connection_free(c->evcon);
	}
}

static void register_new_connections(evutil_socket_t fd, short what, void *arg);

static struct bufferevent *new_connection_bufferevent(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	evbuffer_add_cb(bufferevent_get_output(bev), rewrite_html_errors, NULL);
	/* A burst of accepts in one loop pass can outgrow the array: the earlier entries already
	 * have their connection objects (evhttp builds each before the next accept), so
	 * register them now; otherwise they would escape the count and the cap. */
	if (w->new_connection_count == WORKER_NEW_CONNECTIONS)
		register_new_connections(-1, 0, w);
	if (w->new_connection_count < WORKER_NEW_CONNECTIONS) {
		w->new_connections[w->new_connection_count++] = bev;
		event_active(w->register_event, EV_TIMEOUT, 0);
	}
	return bev;
}

static const char over_capacity[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Connection: close\r\nContent-Length: 118\r\n\r\n"
    "{\"error\":{\"code\":1006,\"message\":\"Too many connections, retry later\",\"status\":503,"
    "\"httpMessage\":\"Service Unavailable\"}}";

/* Runs right after the accept callback: evhttp has built the connections by now.  The
 * connection object is the bufferevent's callback argument. */
static void register_new_connections(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	for (int i = 0; i < w->new_connection_count; i++) {
		struct bufferevent *bev = w->new_connections[i];
		void *cbarg = NULL;
		bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
		struct evhttp_connection *evcon = cbarg;
		if (!evcon)
			continue;
		int count = atomic_fetch_add(&connection_count, 1) + 1;
		/* Without memory to track it the connection keeps evhttp's inactivity timeout. */
		struct tracked_connection *tracked = calloc(1, sizeof(*tracked));
		if (tracked) {
			size_t bucket = connection_bucket(evcon);
			*tracked = (struct tracked_connection){
			    .evcon = evcon,
			    .worker = w,
			    .deadline_ms = next_request_deadline(w),
			    .bucket_next = w->connection_buckets[bucket],
			    .next = w->connections,
			};
			w->connection_buckets[bucket] = tracked;
			if (w->connections)
				w->connections->prev = tracked;
			w->connections = tracked;
		}
		evhttp_connection_set_closecb(evcon, on_connection_close, tracked);
		if (w->cfg->max_connections > 0 && count > w->cfg->max_connections) {
			evutil_socket_t sock = bufferevent_getfd(bev);
			ssize_t unused = send(sock, over_capacity, sizeof(over_capacity) - 1,
			                      MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)unused;
			shutdown(sock, SHUT_WR);
			evhttp_connection_free(evcon);
		}
	}
	w->new_connection_count = 0;
}

/* ---- Workers ------------------------------------------------------------------------ */

void worker_request_done(struct worker *w)
{
	if (w->in_flight > 0)
		w->in_flight--;
}

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->in_flight == 0 || monotonic_ms() > w->stop_deadline_ms) {
		/* Replies already handed to evhttp still sit in output buffers: keep the loop
		 * running a moment so they reach their sockets. */
		struct timeval flush = {0, 200000};
		event_base_loopexit(w->base, &flush);
		return;
	}
	struct timeval tick = {0, 20000};
	evtimer_add(w->drain_timer, &tick);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->stopping)
		return;
	w->stopping = 1;
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound); /* closes this worker's dup */
		w->bound = NULL;
	}
	w->stop_deadline_ms = monotonic_ms() + STOP_GRACE_MS;
	drain_check(-1, 0, w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

static int worker_init(struct worker *w, const struct config *cfg)
{
	w->cfg = cfg;
	w->base = event_base_new();
	if (!w->base)
		return SENSED_ENOMEM;
	w->http = evhttp_new(w->base);
	w->stop_event = event_new(w->base, -1, 0, on_stop, w);
	w->drain_timer = evtimer_new(w->base, drain_check, w);
	w->register_event = event_new(w->base, -1, 0, register_new_connections, w);
	w->deadline_timer = event_new(w->base, -1, EV_PERSIST, close_overdue_connections, w);
	if (w->deadline_timer) {
		struct timeval every = {1, 0};
		event_add(w->deadline_timer, &every);
	}
	if (!w->http || !w->stop_event || !w->drain_timer || !w->register_event ||
	    !w->deadline_timer)
		return SENSED_ENOMEM;
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                        EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	                                        EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
	evhttp_set_default_content_type(w->http, "application/json");
	if (cfg->max_header_size > 0)
		evhttp_set_max_headers_size(w->http, (ev_ssize_t)cfg->max_header_size);
	if (cfg->max_body_size > 0)
		evhttp_set_max_body_size(w->http, (ev_ssize_t)cfg->max_body_size);
	evhttp_set_timeout(w->http, cfg->request_timeout > 0 ? cfg->request_timeout : 30);
	evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_bevcb(w->http, new_connection_bufferevent, w);
	evhttp_set_gencb(w->http, request_dispatch, w);
	int fd = dup(listen_fd);
	if (fd < 0)
		return SENSED_ENOMEM;
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	w->bound = evhttp_accept_socket_with_handle(w->http, fd);
	if (!w->bound) {
		close(fd);
		return SENSED_ENOMEM;
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	if (w->http)
		evhttp_free(w->http); /* closes its connections and bound socket */
	if (w->stop_event)
		event_free(w->stop_event);
	if (w->drain_timer)
		event_free(w->drain_timer);
	if (w->register_event)
		event_free(w->register_event);
	if (w->deadline_timer)
		event_free(w->deadline_timer);
	if (w->base)
		event_base_free(w->base);
}

int server_run(const struct config *cfg)
{
	if (listen_fd < 0)
		return SENSED_ESTATE;
	int n = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	workers = calloc((size_t)n, sizeof(*workers));
	if (!workers)
		return SENSED_ENOMEM;
	worker_count = n;
	int rc = 0, started = 0;
	for (int i = 0; i < n && !rc; i++) {
		workers[i].index = i;
		rc = worker_init(&workers[i], cfg);
	}
	for (int i = 0; i < n && !rc; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			rc = SENSED_ENOMEM;
		else
			started++;
	}
	if (!rc) {
		char byte;
		for (;;) {
			ssize_t got = read(stop_pipe[0], &byte, 1);
			if (got == 1 || (got < 0 && errno != EINTR))
				break;
		}
	}
	for (int i = 0; i < started; i++)
		event_active(workers[i].stop_event, EV_TIMEOUT, 0);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	/* A job still running past the grace period hands its result to a loop with
	 * event_active: join the pool while the loops' bases still exist. */
	pool_stop();
	store_writes_stop(); /* the same for group-commit writes */
	for (int i = 0; i < n; i++)
		worker_free(&workers[i]);
	free(workers);
	workers = NULL;
	worker_count = 0;
	close(listen_fd);
	listen_fd = -1;
	return rc;
}
