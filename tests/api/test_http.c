/* Black-box tests of the HTTP layer: routing, query and body rules, framing defences,
 * limits, CORS, request ids, access log, timeouts, connection cap, HEAD and graceful
 * stop.  Routes come from the echo test plugin (tests/plugins/echo). */
#include "api/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const echo_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/echo", NULL};

static struct server *start_with(const char *extra)
{
	struct server_options opt = {.args = echo_args, .extra_config = extra};
	return server_start(&opt);
}

static int count_of(const char *haystack, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A raw connection kept open by the test. */
static int raw_connect(struct server *s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_port = htons((uint16_t)server_port(s))};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	return fd;
}

/* Read until EOF/timeout; returns bytes read (buf NUL-terminated) or -1 on reset. */
static int raw_read(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	int reset = 0;
	while (len < cap - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0)
			reset = 1;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return reset && len == 0 ? -1 : (int)len;
}

Test(http, not_found_envelope_and_request_id)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "GET", "/api/v1/no/such/thing", NULL, NULL, NULL);
	assert_error(r, 404, 1003);
	const char *id = response_header(r, "X-Request-Id");
	cr_assert(id && strlen(id) == 32, "generated request id");
	response_free(r);
	r = http(s, "GET", "/api/v1/no", NULL, "X-Request-Id: abc-123_x.y\r\n", NULL);
	cr_assert_str_eq(response_header(r, "X-Request-Id"), "abc-123_x.y");
	response_free(r);
	r = http(s, "GET", "/api/v1/no", NULL, "X-Request-Id: bad id<script>\r\n", NULL);
	cr_assert_str_neq(response_header(r, "X-Request-Id"), "bad id<script>");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, method_not_allowed_lists_allow)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "POST", "/api/v1/test/list", NULL, NULL, "{}");
	assert_error(r, 405, 1004);
	const char *allow = response_header(r, "Allow");
	cr_assert(allow && strstr(allow, "GET") && !strstr(allow, "POST"), "Allow: %s", allow);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, slashes_normalised_and_query_rules)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "GET",
	                          "//api/v1//test/public/a%20b/?fields=a%2Cb&fields=c,,d&q=x+y%2B"
	                          "&ids=1&trc=sdk-ui&sharedMode=true",
	                          NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "params"), "id")), "a b");
	json_t *fields = json_object_get(json_object_get(r->json, "query"), "fields");
	json_t *want = json_pack("[s,s,s,s]", "a", "b", "c", "d");
	cr_assert(json_equal(fields, want), "fields %s", r->body);
	json_decref(want);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "q")), "x y+");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "path")),
	                 "/api/v1/test/public/a b");
	cr_assert_str_eq(response_header(r, "X-Echo"), "1");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, list_query_parameters)
{
	struct server *s = start_with(NULL);
	struct response *r =
	    http(s, "GET", "/api/v1/test/list?fields=a&fields=b&sort=-x&skip=5&limit=10&expand=g",
	         NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "fields")), "a,b");
	cr_assert_eq(json_integer_value(json_object_get(r->json, "skip")), 5);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "limit")), 10);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/list?skip=-1", NULL, NULL, NULL);
	assert_error(r, 400, 1008);
	cr_assert(strstr(r->body, "skip"), "%s", r->body);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/list?limit=ten", NULL, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, nul_bytes_rejected)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "GET", "/api/v1/test/public/a%00b", NULL, NULL, NULL);
	assert_error(r, 400, 1000);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/public/a?q=a%00b", NULL, NULL, NULL);
	assert_error(r, 400, 1000);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, json_bodies)
{
	struct server *s = start_with("{\"maxJsonDepth\": 4}");
	struct response *r =
	    http(s, "POST", "/api/v1/test/public/a", NULL, NULL, "{\"a\":1,\"a\":2}");
	assert_error(r, 400, 1001);
	response_free(r);
	r = http(s, "POST", "/api/v1/test/public/a", NULL, NULL, "{\"a\":[[[[1]]]]}");
	assert_error(r, 400, 1001);
	response_free(r);
	r = http(s, "POST", "/api/v1/test/public/a", NULL, NULL, "{not json");
	assert_error(r, 400, 1001);
	response_free(r);
	r = http(s, "PATCH", "/api/v1/test/public/a", NULL,
	         "Content-Type: application/json;charset=UTF-8\r\n", "{\"a\":[1]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_integer_value(
	                 json_array_get(json_object_get(json_object_get(r->json, "body"), "a"), 0)),
	             1);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/public/a", NULL,
	         "Content-Type: application/json\r\nContent-Length: 0\r\n", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_null(json_object_get(r->json, "body")));
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, body_too_large_is_json)
{
	struct server *s = start_with("{\"maxBodySize\": 1024}");
	char *big = malloc(4001);
	memset(big, ' ', 4000);
	big[0] = '[';
	big[3999] = ']';
	big[4000] = '\0';
	struct response *r = http(s, "POST", "/api/v1/test/public/a", NULL, NULL, big);
	assert_error(r, 413, 1002);
	response_free(r);
	char req[8192];
	int n = snprintf(req, sizeof(req),
	                 "POST /api/v1/test/public/a HTTP/1.1\r\nHost: x\r\n"
	                 "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n");
	for (int i = 0; i < 3; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "3e8\r\n%.*s\r\n", 1000, big);
	n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
	r = http_raw(s, req, (size_t)n, 5000);
	assert_error(r, 413, 1002);
	response_free(r);
	free(big);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, oversized_headers_are_json)
{
	struct server *s = start_with("{\"maxHeaderSize\": 2048}");
	char *filler = malloc(6000);
	memset(filler, 'a', 5000);
	strcpy(filler + 5000, "\r\n");
	char *headers = malloc(6100);
	snprintf(headers, 6100, "X-Filler: %s", filler);
	struct response *r = http(s, "GET", "/api/v1/test/public/a", NULL, headers, NULL);
	cr_assert(r->status >= 400 && r->status < 500, "status %d", r->status);
	cr_assert(json_is_object(json_object_get(r->json, "error")), "%s", r->body);
	response_free(r);
	free(filler);
	free(headers);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, double_content_length_not_smuggled)
{
	struct server *s = start_with(NULL);
	const char req[] = "POST /api/v1/test/public/a HTTP/1.1\r\nHost: x\r\n"
	                   "Content-Type: application/json\r\n"
	                   "Content-Length: 2\r\nContent-Length: 60\r\n\r\n{}"
	                   "GET /api/v1/test/public/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = raw_connect(s);
	cr_assert(send(fd, req, sizeof(req) - 1, 0) > 0);
	char buf[8192];
	int len = raw_read(fd, buf, sizeof(buf), 2000);
	close(fd);
	cr_assert(len > 0);
	cr_assert(strncmp(buf, "HTTP/1.1 400", 12) == 0, "%s", buf);
	cr_assert_eq(count_of(buf, "HTTP/1.1 "), 1, "a second response: %s", buf);
	cr_assert(strstr(buf, "smuggled") == NULL);
	cr_assert(strcasestr(buf, "Connection: close"), "%s", buf);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, bad_transfer_encoding)
{
	struct server *s = start_with(NULL);
	const char req[] = "POST /api/v1/test/public/a HTTP/1.1\r\nHost: x\r\n"
	                   "Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n"
	                   "2\r\n{}\r\n0\r\n\r\n";
	struct response *r = http_raw(s, req, sizeof(req) - 1, 3000);
	assert_error(r, 400, 1000);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, cors_preflight)
{
	struct server *s =
	    start_with("{\"cors\": {\"allowedOrigins\": [\"https://app.example\"]}}");
	struct response *r = http(s, "OPTIONS", "/api/v1/test/public/a", NULL,
	                          "Origin: https://app.example\r\n"
	                          "Access-Control-Request-Method: PATCH\r\n",
	                          NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	cr_assert_str_eq(response_header(r, "Access-Control-Allow-Origin"), "https://app.example");
	cr_assert(strstr(response_header(r, "Access-Control-Allow-Methods"), "PATCH"));
	response_free(r);
	r = http(s, "OPTIONS", "/api/v1/test/public/a", NULL,
	         "Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n", NULL);
	assert_error(r, 403, 1009);
	cr_assert_null(response_header(r, "Access-Control-Allow-Origin"));
	response_free(r);
	r = http(s, "GET", "/api/v1/test/public/a", NULL, "Origin: https://app.example\r\n", NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(response_header(r, "Access-Control-Allow-Origin"), "https://app.example");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, auth_and_roles)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "GET", "/api/v1/test/echo/a", NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/echo/a", "not-a-token", NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	const char *token = admin_token(s);
	r = http(s, "DELETE", "/api/v1/test/echo/a", token, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_string(json_object_get(r->json, "user")), "%s", r->body);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, head_and_silent_handler)
{
	struct server *s = start_with(NULL);
	struct response *r = http(s, "HEAD", "/api/v1/test/public/a", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->body_len, 0);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/silent", NULL, NULL, NULL);
	assert_error(r, 500, 1005);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, access_log_line)
{
	struct server *s = start_with(NULL);
	struct response *r =
	    http(s, "GET", "/api/v1/test/public/logme", NULL, "X-Request-Id: trace42\r\n", NULL);
	cr_assert_eq(r->status, 200);
	response_free(r);
	usleep(100000);
	const char *out = server_output(s);
	const char *line = strstr(out, "access: GET /api/v1/test/public/logme 200 ");
	cr_assert(line, "no access line in:\n%s", out);
	const char *eol = strchr(line, '\n');
	cr_assert(eol);
	char copy[512];
	snprintf(copy, sizeof(copy), "%.*s", (int)(eol - line), line);
	cr_assert(strstr(copy, "us - trace42"), "%s", copy);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, request_timeout_closes_half_request)
{
	struct server *s = start_with("{\"requestTimeout\": 1}");
	int fd = raw_connect(s);
	const char half[] = "GET /api/v1/test/public/a HTTP/1.1\r\nHost: x\r\nX-Half: ";
	cr_assert(send(fd, half, sizeof(half) - 1, 0) > 0);
	char buf[1024];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_assert(poll(&p, 1, 4000) == 1, "connection still open after the timeout");
	int len = raw_read(fd, buf, sizeof(buf), 1000);
	cr_assert(len <= 0 || strstr(buf, "HTTP/1.1"), "%s", buf);
	close(fd);
	cr_assert_eq(server_stop(s), 0);
}

Test(http, connection_cap)
{
	struct server *s = start_with("{\"maxConnections\": 2}");
	int a = raw_connect(s), b = raw_connect(s);
	usleep(200000);
	int c = raw_connect(s);
	char buf[1024];
	int len = raw_read(c, buf, sizeof(buf), 3000);
	cr_assert(len <= 0 || strstr(buf, " 503 "), "third connection served: %s", buf);
	if (len > 0) {
		const char *body = strstr(buf, "\r\n\r\n") + 4;
		json_t *env = json_loads(body, 0, NULL);
		cr_assert(env, "503 body is not JSON of the announced length: %s", buf);
		cr_assert_eq(strlen(body), (size_t)atoi(strcasestr(buf, "Content-Length:") + 15));
		json_decref(env);
	}
	close(c);
	close(a);
	close(b);
	usleep(200000);
	struct response *r = http(s, "GET", "/api/v1/test/public/a", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "capacity not released");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

struct slow_call {
	struct server *s;
	struct response *r;
};

static void *slow_request(void *arg)
{
	struct slow_call *call = arg;
	call->r = http(call->s, "GET", "/api/v1/test/slow", NULL, NULL, NULL);
	return NULL;
}

Test(http, graceful_stop_finishes_in_flight)
{
	struct server *s = start_with(NULL);
	struct slow_call call = {.s = s};
	pthread_t t;
	pthread_create(&t, NULL, slow_request, &call);
	usleep(250000);
	cr_assert_eq(server_stop(s), 0);
	pthread_join(t, NULL);
	cr_assert_eq(call.r->status, 200, "in-flight request lost: %s", call.r->body);
	response_free(call.r);
}
