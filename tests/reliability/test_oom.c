/* Allocation failures over whole request paths (sensed_oom, see oom_alloc.c): for
 * N = 1, 2, ... send the same request failing its Nth allocation, until one completes
 * with no failure injected.  Every answer must be the clean success (2xx, same content
 * as without injection) or a JSON error envelope 500/503 -- never a crash, a hang, a
 * malformed reply or another status -- and the next normal request must still succeed.
 * The server must exit 0 at the end (under ASan a leak fails it). */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_N 20000 /* a loop that long means the shim stopped counting: fail */

struct oom_run {
	struct server *s;
	char log_path[64];
	int log_fd;
	char *log; /* everything read from the log so far */
	size_t log_len;
};

/* Start sensed_oom with its fired-allocation log in a private file. */
static void oom_start(struct oom_run *run)
{
	snprintf(run->log_path, sizeof(run->log_path), "/tmp/sensed-oom-XXXXXX");
	int fd = mkstemp(run->log_path);
	cr_assert(fd >= 0);
	close(fd);
	setenv("SENSED_OOM_LOG", run->log_path, 1);
	/* The login loop logs in twice a round: no per-minute cap on this loopback client. */
	run->s = server_start(&(struct server_options){
	    .extra_config = "{\"accessLog\": false, \"loginRatePerMinute\": 1000000}"});
	run->log_fd = open(run->log_path, O_RDONLY | O_CLOEXEC);
	cr_assert(run->log_fd >= 0);
	run->log = calloc(1, 1);
	run->log_len = 0;
}

static void oom_stop(struct oom_run *run)
{
	cr_assert_eq(server_stop(run->s), 0, "the server must exit 0 (no leak, no crash)");
	close(run->log_fd);
	unlink(run->log_path);
	free(run->log);
}

/* 1 when the shim logged a failure for request `id`. */
static int fired(struct oom_run *run, const char *id)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(run->log_fd, buf, sizeof(buf))) > 0) {
		run->log = realloc(run->log, run->log_len + (size_t)n + 1);
		cr_assert(run->log);
		memcpy(run->log + run->log_len, buf, (size_t)n);
		run->log_len += (size_t)n;
		run->log[run->log_len] = '\0';
	}
	char needle[96];
	snprintf(needle, sizeof(needle), "fired %s ", id);
	return strstr(run->log, needle) != NULL;
}

/* One kind of request.  `body` may hold one %ld (the round), for unique names. */
struct oom_case {
	const char *name;
	const char *method;
	const char *path;
	int with_token;
	const char *body;
	int ok_status;
	/* Checks a success reply (content equal to the uninjected one, or as expected). */
	void (*check_ok)(struct response *r, const json_t *baseline, long round);
};

static void check_same(struct response *r, const json_t *baseline, long round)
{
	cr_assert(r->json && json_equal(r->json, baseline),
	          "round %ld: a success reply with different content: %s", round, r->body);
}

static void check_created_group(struct response *r, const json_t *baseline, long round)
{
	(void)baseline;
	char want[64];
	snprintf(want, sizeof(want), "oom-group-%ld", round);
	cr_assert(r->json, "round %ld: not JSON: %s", round, r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), want, "round %ld: %s",
	                 round, r->body);
	cr_assert_eq(json_string_length(json_object_get(r->json, "_id")), 24, "round %ld: %s",
	             round, r->body);
}

static void check_login(struct response *r, const json_t *baseline, long round)
{
	(void)baseline;
	cr_assert(r->json && json_is_string(json_object_get(r->json, "access_token")),
	          "round %ld: login without a token: %s", round, r->body);
}

static struct response *send_case(struct oom_run *run, const struct oom_case *c, long round,
                                  long fail_at, const char *id)
{
	char body[512], headers[256];
	if (c->body)
		snprintf(body, sizeof(body), c->body, round);
	if (fail_at > 0)
		snprintf(headers, sizeof(headers),
		         "X-Request-Id: %s\r\nX-Sensed-Fail-Allocation: %ld\r\n", id, fail_at);
	else
		snprintf(headers, sizeof(headers), "X-Request-Id: %s\r\n", id);
	return http(run->s, c->method, c->path, c->with_token ? admin_token(run->s) : NULL, headers,
	            c->body ? body : NULL);
}

static void assert_clean_error(struct response *r, long n, const char *id)
{
	cr_assert(r->status == 500 || r->status == 503,
	          "%s: failing allocation %ld gave status %d: %s", id, n, r->status, r->body);
	const char *type = response_header(r, "Content-Type");
	cr_assert(type && strstr(type, "application/json"), "%s: %d without a JSON type", id,
	          r->status);
	json_t *error = json_object_get(r->json, "error");
	cr_assert(json_is_object(error), "%s: %d without an error envelope: %s", id, r->status,
	          r->body);
	cr_assert(json_is_integer(json_object_get(error, "code")) &&
	              json_is_string(json_object_get(error, "message")) &&
	              json_integer_value(json_object_get(error, "status")) == r->status,
	          "%s: malformed envelope: %s", id, r->body);
}

/* The loop over one case; returns the number of allocations the request makes. */
static long oom_loop(struct oom_run *run, const struct oom_case *c, const json_t *baseline)
{
	char id[48];
	long n, errors = 0;
	for (n = 1; n <= MAX_N; n++) {
		snprintf(id, sizeof(id), "oom-%s-%ld", c->name, n);
		struct response *r = send_case(run, c, n, n, id);
		cr_assert_neq(r->status, 0, "%s: no (well-formed) answer; the server said:\n%s", id,
		              server_output(run->s));
		int hit = fired(run, id);
		if (r->status == c->ok_status)
			c->check_ok(r, baseline, n);
		else {
			cr_assert(hit, "%s: status %d without any failure injected: %s", id,
			          r->status, r->body);
			assert_clean_error(r, n, id);
			errors++;
		}
		response_free(r);

		/* The next normal request is served as if nothing happened. */
		snprintf(id, sizeof(id), "oom-%s-%ld-after", c->name, n);
		r = send_case(run, c, n + MAX_N, 0, id);
		cr_assert_eq(r->status, c->ok_status, "%s: %d: %s", id, r->status, r->body);
		response_free(r);
		if (!hit)
			break;
	}
	cr_assert_leq(n, MAX_N, "%s: still failing after %d allocations", c->name, MAX_N);
	cr_assert_gt(n, 3, "%s: only %ld allocations counted: the shim is not armed", c->name,
	             n - 1);
	fprintf(stderr, "test_oom: %s: %ld allocations failed in turn, %ld answered an error\n",
	        c->name, n - 1, errors);
	return n - 1;
}

static json_t *baseline_of(struct oom_run *run, const struct oom_case *c)
{
	struct response *r = send_case(run, c, 0, 0, "oom-baseline");
	cr_assert_eq(r->status, c->ok_status, "%s: %s", c->name, r->body);
	json_t *copy = json_incref(r->json);
	response_free(r);
	return copy;
}

/* Was: failing allocation 23 answered 200 with a group missing fields (jansson dropped a
 * byte of the stored document's roleId, so "role" no longer expanded; see README.md). */
Test(oom, get_stored_document, .timeout = 240)
{
	struct oom_run run;
	oom_start(&run);
	struct response *r = http(run.s, "POST", "/api/v1/groups", admin_token(run.s), NULL,
	                          "{\"name\":\"oom-stored\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	char path[96];
	snprintf(path, sizeof(path), "/api/v1/groups/%s",
	         json_string_value(json_object_get(r->json, "_id")));
	response_free(r);
	struct oom_case c = {.name = "get-group",
	                     .method = "GET",
	                     .path = path,
	                     .with_token = 1,
	                     .ok_status = 200,
	                     .check_ok = check_same};
	json_t *baseline = baseline_of(&run, &c);
	oom_loop(&run, &c, baseline);
	json_decref(baseline);
	oom_stop(&run);
}

Test(oom, post_writes_document, .timeout = 240)
{
	struct oom_run run;
	oom_start(&run);
	struct oom_case c = {.name = "post-group",
	                     .method = "POST",
	                     .path = "/api/v1/groups",
	                     .with_token = 1,
	                     .body = "{\"name\":\"oom-group-%ld\"}",
	                     .ok_status = 201,
	                     .check_ok = check_created_group};
	oom_loop(&run, &c, NULL);
	oom_stop(&run);
}

/* Was: failing allocation 10 answered 401 "Invalid username or password" (jansson dropped
 * a byte of the body's username; see README.md). */
Test(oom, login, .timeout = 240)
{
	struct oom_run run;
	oom_start(&run);
	struct oom_case c = {.name = "login",
	                     .method = "POST",
	                     .path = "/api/v1/authentication/login",
	                     .body = "{\"username\":\"admin@sensed.test\","
	                             "\"password\":\"Admin-Passw0rd!\",\"x\":%ld}",
	                     .ok_status = 200,
	                     .check_ok = check_login};
	oom_loop(&run, &c, NULL);
	oom_stop(&run);
}
