/* Overload and hostile clients: idle connections, slow headers and bodies, oversized
 * headers and bodies, pipelining and the connection cap.  In each case the server keeps
 * answering an ordinary client within its timeouts, closes the hostile connections, and
 * stays within its connection cap and a memory bound. */
#include "api/harness.h"
#include "reliability/rel.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_S 2 /* requestTimeout of these servers */

static struct server *start(const char *extra)
{
	struct server_options opt = {.extra_config = extra};

	return server_start(&opt);
}

/* An ordinary client still gets its answer, quickly. */
static void assert_served(struct server *s)
{
	long long t0 = rel_now_ms();
	struct response *r = http(s, "GET", "/api/v1/application/status", NULL, NULL, NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_lt(rel_now_ms() - t0, 1000, "an ordinary request took %lld ms",
	             rel_now_ms() - t0);
	response_free(r);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	cr_assert_geq(rl.rlim_cur, want, "ulimit -n is below %lu", (unsigned long)want);
}

Test(overload, thousand_idle_connections_are_timed_out, .timeout = 120)
{
	enum { IDLE = 1000 };
	static int fds[IDLE];
	struct server *s;
	pid_t pid;
	long rss_before, rss_loaded;
	int open_fds;

	raise_nofile(4096);
	s = start("{\"requestTimeout\": 2, \"maxConnections\": 2000, \"accessLog\": false}");
	pid = rel_child_pid();
	assert_served(s);
	rss_before = rel_rss_kb(pid);
	for (int i = 0; i < IDLE; i++) {
		fds[i] = rel_connect(server_port(s));
		cr_assert_geq(fds[i], 0, "connect %d failed", i);
	}
	usleep(200000);
	assert_served(s);
	open_fds = rel_fd_count(pid);
	rss_loaded = rel_rss_kb(pid);
	cr_assert_geq(open_fds, IDLE, "the server holds %d descriptors", open_fds);
	cr_assert_lt(rss_loaded - rss_before, 64 * 1024, "1000 idle connections cost %ld kB",
	             rss_loaded - rss_before);
	/* All of them closed by the server within the timeout (plus slack). */
	for (int i = 0; i < IDLE; i++) {
		cr_assert(rel_closed_within(fds[i], (TIMEOUT_S + 3) * 1000),
		          "idle connection %d still open", i);
		close(fds[i]);
	}
	usleep(200000);
	cr_assert_lt(rel_fd_count(pid), 100, "descriptors not released: %d", rel_fd_count(pid));
	assert_served(s);
	fprintf(stderr, "overload: %d idle connections: rss %ld -> %ld kB, %d fds\n", IDLE,
	        rss_before, rss_loaded, open_fds);
	cr_assert_eq(server_stop(s), 0);
}

/* A client that sends a byte every 400 ms never finishes its headers: the server must
 * close it after requestTimeout, not keep extending the deadline (evhttp's own timeout is
 * re-armed by every byte read; core/server.c adds a deadline per request). */
Test(overload, slow_headers_are_closed, .timeout = 60)
{
	struct server *s = start("{\"requestTimeout\": 2}");
	static const char head[] = "GET /api/v1/application/status HTTP/1.1\r\nX-Slow: ";
	int fd = rel_connect(server_port(s));
	long long t0 = rel_now_ms();
	int closed = 0;

	cr_assert_geq(fd, 0);
	cr_assert_eq(rel_send(fd, head, sizeof(head) - 1), 0);
	while (rel_now_ms() - t0 < (TIMEOUT_S + 6) * 1000) {
		if (rel_send(fd, "a", 1) != 0 || rel_closed_within(fd, 400)) {
			closed = 1;
			break;
		}
		assert_served(s);
	}
	cr_assert(closed, "a slow-header client held its connection for %lld ms",
	          rel_now_ms() - t0);
	cr_assert_leq(rel_now_ms() - t0, (TIMEOUT_S + 3) * 1000, "closed only after %lld ms",
	              rel_now_ms() - t0);
	close(fd);
	assert_served(s);
	cr_assert_eq(server_stop(s), 0);
}

/* As slow_headers_are_closed, for a body dribbled after complete headers. */
Test(overload, slow_body_is_closed, .timeout = 60)
{
	struct server *s = start("{\"requestTimeout\": 2}");
	static const char head[] =
	    "POST /api/v1/authentication/login HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
	int fd = rel_connect(server_port(s));
	long long t0 = rel_now_ms();
	int closed = 0;

	cr_assert_geq(fd, 0);
	cr_assert_eq(rel_send(fd, head, sizeof(head) - 1), 0);
	while (rel_now_ms() - t0 < (TIMEOUT_S + 6) * 1000) {
		if (rel_send(fd, " ", 1) != 0 || rel_closed_within(fd, 400)) {
			closed = 1;
			break;
		}
		assert_served(s);
	}
	cr_assert(closed, "a slow-body client held its connection for %lld ms", rel_now_ms() - t0);
	cr_assert_leq(rel_now_ms() - t0, (TIMEOUT_S + 3) * 1000, "closed only after %lld ms",
	              rel_now_ms() - t0);
	close(fd);
	assert_served(s);
	cr_assert_eq(server_stop(s), 0);
}

Test(overload, oversized_headers_and_bodies_are_refused_and_closed)
{
	struct server *s = start("{\"maxHeaderSize\": 8192, \"maxBodySize\": 65536}");
	size_t big = 200000;
	char *req = malloc(big + 256), reply[8192];
	int fd, status, n;

	cr_assert(req);
	/* headers far past maxHeaderSize */
	n = snprintf(req, 256, "GET /api/v1/application/status HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'a', big);
	memcpy(req + n + big, "\r\n\r\n", 4);
	fd = rel_connect(server_port(s));
	rel_send(fd, req, (size_t)n + big + 4); /* the server may close mid-send */
	status = rel_read_response(fd, reply, sizeof(reply), 5000);
	cr_assert(status == 431 || status == 400 || status == 413, "big headers: %d %s", status,
	          reply);
	cr_assert(strstr(reply, "\"error\""), "not the JSON envelope: %s", reply);
	cr_assert(rel_closed_within(fd, 3000), "connection kept after oversized headers");
	close(fd);
	assert_served(s);

	/* a body past maxBodySize, declared */
	n = snprintf(req, 256,
	             "POST /api/v1/authentication/login HTTP/1.1\r\nHost: t\r\nContent-Type: "
	             "application/json\r\nContent-Length: %zu\r\n\r\n",
	             big);
	memset(req + n, ' ', big);
	fd = rel_connect(server_port(s));
	rel_send(fd, req, (size_t)n + big);
	status = rel_read_response(fd, reply, sizeof(reply), 5000);
	cr_assert_eq(status, 413, "big body: %d %s", status, reply);
	cr_assert(rel_closed_within(fd, 3000), "connection kept after an oversized body");
	close(fd);

	/* the same, chunked (no length to refuse up front) */
	n = snprintf(req, 256,
	             "POST /api/v1/authentication/login HTTP/1.1\r\nHost: t\r\nContent-Type: "
	             "application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
	fd = rel_connect(server_port(s));
	rel_send(fd, req, (size_t)n);
	for (int i = 0; i < 20; i++) {
		char chunk[16400];
		int len = snprintf(chunk, 16, "4000\r\n");

		memset(chunk + len, ' ', 0x4000);
		memcpy(chunk + len + 0x4000, "\r\n", 2);
		if (rel_send(fd, chunk, (size_t)len + 0x4000 + 2) != 0)
			break;
	}
	status = rel_read_response(fd, reply, sizeof(reply), 5000);
	cr_assert(status == 413 || status == -1, "big chunked body: %d %s", status, reply);
	cr_assert(rel_closed_within(fd, 3000), "connection kept after an oversized chunked body");
	close(fd);
	assert_served(s);
	free(req);
	cr_assert_eq(server_stop(s), 0);
}

Test(overload, pipelined_requests_are_answered_in_order)
{
	enum { PIPELINED = 64 };
	struct server *s = start(NULL);
	char *all = malloc(PIPELINED * 128), reply[8192];
	size_t len = 0;
	int fd;

	cr_assert(all);
	for (int i = 0; i < PIPELINED; i++)
		len += (size_t)sprintf(
		    all + len, i % 2 ? "GET /api/v1/application/status HTTP/1.1\r\nHost: t\r\n\r\n"
		                     : "GET /api/v1/no/such/route HTTP/1.1\r\nHost: t\r\n\r\n");
	fd = rel_connect(server_port(s));
	cr_assert_eq(rel_send(fd, all, len), 0);
	for (int i = 0; i < PIPELINED; i++) {
		/* One response at a time: rel_read_response keeps no leftovers, so read exactly
		 * one response's bytes by peeking its length first. */
		char head[4096];
		ssize_t got = recv(fd, head, sizeof(head) - 1, MSG_PEEK);
		char *end, *cl;
		size_t need;

		cr_assert_gt(got, 0, "response %d missing", i);
		head[got] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (!end) {
			usleep(10000);
			i--;
			continue;
		}
		cl = strcasestr(head, "\r\nContent-Length:");
		cr_assert(cl && cl < end);
		need = (size_t)(end + 4 - head) + strtoul(cl + 17, NULL, 10);
		cr_assert_lt(need, sizeof(reply));
		for (size_t have = 0; have < need;) {
			ssize_t r = recv(fd, reply + have, need - have, 0);

			cr_assert_gt(r, 0);
			have += (size_t)r;
		}
		reply[need] = '\0';
		cr_assert(!strncmp(reply, i % 2 ? "HTTP/1.1 200" : "HTTP/1.1 404", 12),
		          "response %d out of order: %.40s", i, reply);
	}
	close(fd);
	free(all);
	assert_served(s);
	cr_assert_eq(server_stop(s), 0);
}

Test(overload, connection_cap_is_never_exceeded, .timeout = 60)
{
	enum { CAP = 50, TRY = 200 };
	static int fds[TRY];
	struct server *s;
	pid_t pid;
	int refused = 0, base_fds;
	char reply[4096];

	raise_nofile(1024);
	s = start("{\"maxConnections\": 50, \"requestTimeout\": 5, \"accessLog\": false}");
	pid = rel_child_pid();
	base_fds = rel_fd_count(pid);
	for (int i = 0; i < TRY; i++) {
		fds[i] = rel_connect(server_port(s));
		cr_assert_geq(fds[i], 0);
	}
	usleep(300000);
	for (int i = 0; i < TRY; i++) {
		int status = rel_read_response(fds[i], reply, sizeof(reply), 100);

		if (status == 503) {
			cr_assert(strstr(reply, "\"code\":1006"), "%s", reply);
			refused++;
		}
	}
	cr_assert_geq(refused, TRY - CAP, "only %d of %d over the cap were refused", refused,
	              TRY - CAP);
	cr_assert_leq(rel_fd_count(pid), base_fds + CAP + 2, "the server holds %d descriptors",
	              rel_fd_count(pid));
	for (int i = 0; i < TRY; i++)
		close(fds[i]);
	usleep(300000);
	assert_served(s);
	cr_assert_eq(server_stop(s), 0);
}
