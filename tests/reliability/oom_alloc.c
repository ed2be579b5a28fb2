/* Allocation-failure injection for sensed_oom, the test-only build of the server that
 * tests/reliability/test_oom.c drives.  Never linked into `sensed`.
 *
 * sensed_oom is the core's objects linked with --wrap=malloc,calloc,realloc,strdup,strndup
 * (the core's own allocations come here) and --wrap=request_dispatch,request_run_job (a
 * request arms the injection).  A constructor installs the same allocator as jansson's
 * (json_set_alloc_funcs) and libevent's (event_set_mem_functions) before main, so JSON
 * values and evhttp's buffers and headers are counted too (main then installs the core's
 * counting allocator, core/json_load.c, whose malloc is wrapped like the core's own).  Plugins'
 * direct malloc calls are not (they resolve to libc in their own objects); their jansson values
 * are.
 *
 * A request with the header "X-Sensed-Fail-Allocation: N" fails the Nth counted
 * allocation made on its behalf, and only that one: those on the loop thread during
 * dispatch, then, for a request handed to the worker pool, those of the job's work() on
 * the pool thread and of its done() on the loop thread.  Counting is per thread
 * (_Thread_local), so other connections and background threads are never affected.
 * When the failure fires the shim appends "fired <request id> <N>" to the file named by
 * $SENSED_OOM_LOG (else to stderr), before the reply can reach the client; a request whose
 * count never reached N logs nothing, which is how the test knows its loop is complete. */
#include "request.h"

#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_evhttp_send_reply(struct evhttp_request *req, int code, const char *reason,
                              struct evbuffer *body);
void __real_request_dispatch(struct evhttp_request *ev, void *arg);
int __real_request_run_job(sensed_request *req, sensed_job_work work, sensed_job_done done,
                           void *arg);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_evhttp_send_reply(struct evhttp_request *req, int code, const char *reason,
                              struct evbuffer *body);
void __wrap_request_dispatch(struct evhttp_request *ev, void *arg);
int __wrap_request_run_job(sensed_request *req, sensed_job_work work, sensed_job_done done,
                           void *arg);

/* The injection state of one request; lives on the thread running its code right now. */
struct countdown {
	int armed;
	long target; /* N as asked */
	long left;   /* allocations to go before the failing one */
	char id[40]; /* the request's X-Request-Id, for the log line */
};

static _Thread_local struct countdown cd;
static int log_fd = STDERR_FILENO;

static int should_fail(void)
{
	if (!cd.armed || --cd.left > 0)
		return 0;
	cd.armed = 0;
	char line[96];
	int n = snprintf(line, sizeof(line), "fired %s %ld\n", cd.id, cd.target);
	if (n > 0) {
		ssize_t unused = write(log_fd, line, (size_t)n);
		(void)unused;
	}
	return 1;
}

void *__wrap_malloc(size_t size)
{
	return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	/* realloc(p, 0) frees: never a failure to inject. */
	if (ptr && size == 0)
		return __real_realloc(ptr, size);
	return should_fail() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

static void oom_free(void *ptr)
{
	free(ptr);
}

__attribute__((constructor)) static void oom_install(void)
{
	const char *path = getenv("SENSED_OOM_LOG");
	if (path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0)
			log_fd = fd;
	}
	json_set_alloc_funcs(__wrap_malloc, oom_free);
	event_set_mem_functions(__wrap_malloc, __wrap_realloc, oom_free);
}

/* Not counted: evhttp's own writing of the status line and framing headers, which no
 * caller can recover from (libevent then sends a reply without its reason phrase). */
void __wrap_evhttp_send_reply(struct evhttp_request *req, int code, const char *reason,
                              struct evbuffer *body)
{
	int armed = cd.armed;
	cd.armed = 0;
	__real_evhttp_send_reply(req, code, reason, body);
	cd.armed = armed;
}

void __wrap_request_dispatch(struct evhttp_request *ev, void *arg)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(ev);
	const char *n = evhttp_find_header(headers, "X-Sensed-Fail-Allocation");
	const char *id = evhttp_find_header(headers, "X-Request-Id");
	long target = n ? strtol(n, NULL, 10) : 0;
	if (target > 0) {
		cd = (struct countdown){.armed = 1, .target = target, .left = target};
		snprintf(cd.id, sizeof(cd.id), "%s", id ? id : "-");
	}
	__real_request_dispatch(ev, arg);
	cd.armed = 0;
}

/* A job carries the rest of its request's countdown to the pool thread and back. */
struct oom_job {
	struct countdown cd;
	sensed_job_work work;
	sensed_job_done done;
	void *arg;
};

static void oom_job_work(void *arg)
{
	struct oom_job *job = arg;
	cd = job->cd;
	job->work(job->arg);
	job->cd = cd;
	cd.armed = 0;
}

static void oom_job_done(sensed_request *req, void *arg)
{
	struct oom_job job = *(struct oom_job *)arg;
	free(arg);
	cd = job.cd;
	job.done(req, job.arg);
	cd.armed = 0;
}

int __wrap_request_run_job(sensed_request *req, sensed_job_work work, sensed_job_done done,
                           void *arg)
{
	if (!work || !done)
		return __real_request_run_job(req, work, done, arg);
	struct oom_job *job = __real_malloc(sizeof(*job));
	if (!job)
		return __real_request_run_job(req, work, done, arg);
	*job = (struct oom_job){.cd = cd, .work = work, .done = done, .arg = arg};
	/* From here on the countdown belongs to the job; the dispatch's tail is not counted. */
	struct countdown saved = cd;
	cd.armed = 0;
	int rc = __real_request_run_job(req, oom_job_work, oom_job_done, job);
	if (rc) {
		free(job);
		cd = saved;
	}
	return rc;
}
