/* Black-box harness (contract in harness.h): the real binary, a generated config, plain
 * blocking sockets.  Every failure aborts the running Criterion test. */
#include "api/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS  10000
#define HTTP_TIMEOUT_MS  15000
#define READY_PREFIX     "sensed: listening on 127.0.0.1:"

struct server {
	pid_t pid;
	int port;
	char tmp_dir[256];
	char data_dir[512];
	char output_path[512];
	char *output;      /* last snapshot of the output file */
	char *admin_token; /* cached login */
	char *admin_email;
	char *admin_password;
};

/* The response handed out plus the header values response_header() returned, so they
 * live exactly as long as the response. */
struct response_impl {
	struct response pub;
	char **header_values;
	size_t header_value_count;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return strdup("");
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	cr_assert(buf);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *server_output(struct server *s)
{
	free(s->output);
	s->output = read_file(s->output_path);
	return s->output;
}

int server_port(const struct server *s)
{
	return s->port;
}

const char *server_data_dir(const struct server *s)
{
	return s->data_dir;
}

static void server_free(struct server *s)
{
	if (s->tmp_dir[0])
		remove_tree(s->tmp_dir);
	free(s->output);
	free(s->admin_token);
	free(s->admin_email);
	free(s->admin_password);
	free(s);
}

static void write_config(struct server *s, const struct server_options *opt, const char *path)
{
	char listen[] = "127.0.0.1:0";
	json_t *cfg = json_pack("{s:s, s:s, s:i, s:b, s:b, s:b}", "listen", listen, "data",
	                        s->data_dir, "workers", opt->workers > 0 ? opt->workers : 2,
	                        "durable", 0, "passwordHashFast", 1, "accessLog", 1);
	cr_assert(cfg);
	if (opt->extra_config) {
		json_error_t err;
		json_t *extra = json_loads(opt->extra_config, 0, &err);
		cr_assert(extra && json_is_object(extra), "harness: bad extra_config: %s",
		          err.text);
		json_object_update(cfg, extra);
		json_decref(extra);
	}
	cr_assert(json_dump_file(cfg, path, JSON_INDENT(2)) == 0, "harness: cannot write %s", path);
	json_decref(cfg);
}

/* Kill the child, print what it said and fail the test. */
static void start_failed(struct server *s, const char *why)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	const char *out = server_output(s);
	fprintf(stderr, "harness: server start failed (%s); output:\n%s\n", why, out);
	server_free(s);
	cr_assert_fail("harness: server start failed: %s", why);
}

struct server *server_start(const struct server_options *opt)
{
	static const struct server_options defaults = {0};
	if (!opt)
		opt = &defaults;
	struct server *s = calloc(1, sizeof(*s));
	cr_assert(s);
	s->admin_email = strdup(opt->admin_email ? opt->admin_email : "admin@sensed.test");
	s->admin_password = strdup(opt->admin_password ? opt->admin_password : "Admin-Passw0rd!");
	snprintf(s->tmp_dir, sizeof(s->tmp_dir), "/tmp/sensed-test-XXXXXX");
	cr_assert(mkdtemp(s->tmp_dir), "harness: mkdtemp: %s", strerror(errno));
	if (opt->data_dir)
		snprintf(s->data_dir, sizeof(s->data_dir), "%s", opt->data_dir);
	else
		snprintf(s->data_dir, sizeof(s->data_dir), "%s/data", s->tmp_dir);
	snprintf(s->output_path, sizeof(s->output_path), "%s/output.log", s->tmp_dir);
	char config_path[512];
	snprintf(config_path, sizeof(config_path), "%s/sensed.json", s->tmp_dir);
	write_config(s, opt, config_path);

	const char *argv[64];
	int argc = 0;
	argv[argc++] = SENSED_BIN;
	argv[argc++] = "--config";
	argv[argc++] = config_path;
	for (int i = 0; opt->args && opt->args[i] && argc < 62; i++)
		argv[argc++] = opt->args[i];
	argv[argc] = NULL;

	int out_fd = open(s->output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(out_fd >= 0, "harness: open output: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out_fd, STDOUT_FILENO);
		dup2(out_fd, STDERR_FILENO);
		setenv("SENSED_ADMIN_EMAIL", s->admin_email, 1);
		setenv("SENSED_ADMIN_PASSWORD", s->admin_password, 1);
		execv(SENSED_BIN, (char *const *)argv);
		dprintf(STDERR_FILENO, "harness: exec %s: %s\n", SENSED_BIN, strerror(errno));
		_exit(127);
	}
	close(out_fd);
	s->pid = pid;

	long long deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		const char *out = server_output(s);
		const char *ready = strstr(out, READY_PREFIX);
		if (ready && strchr(ready, '\n')) {
			s->port = atoi(ready + strlen(READY_PREFIX));
			if (s->port <= 0 || s->port > 65535)
				start_failed(s, "bad port in the listening line");
			return s;
		}
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s->pid = -1;
			out = server_output(s);
			fprintf(stderr, "harness: server exited during start; output:\n%s\n", out);
			server_free(s);
			cr_assert_fail("harness: server exited during start (status %d)", status);
		}
		if (now_ms() > deadline)
			start_failed(s, "no listening line within 20 s");
		usleep(20000);
	}
}

int server_stop(struct server *s)
{
	cr_assert(s);
	int status = 0, code = -1;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		long long deadline = now_ms() + STOP_TIMEOUT_MS;
		for (;;) {
			pid_t r = waitpid(s->pid, &status, WNOHANG);
			if (r == s->pid)
				break;
			if (now_ms() > deadline) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
				fprintf(stderr, "harness: server ignored SIGTERM; output:\n%s\n",
				        server_output(s));
				server_free(s);
				cr_assert_fail("harness: server did not stop within 10 s");
			}
			usleep(10000);
		}
		if (WIFEXITED(status))
			code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			code = 128 + WTERMSIG(status);
	}
	if (code != 0)
		fprintf(stderr, "harness: server exit status %d; output:\n%s\n", code,
		        server_output(s));
	server_free(s);
	return code;
}

/* ---- HTTP client ---------------------------------------------------------------------- */

static int connect_loopback(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	cr_assert(rc == 0, "harness: connect to port %d: %s", port, strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_all(int fd, const char *bytes, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the server may close early (e.g. 413); read what it said */
		bytes += n;
		len -= (size_t)n;
	}
}

/* Read until EOF, reset or timeout; returns a NUL-terminated buffer. */
static char *recv_all(int fd, int timeout_ms, size_t *len_out)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	cr_assert(buf);
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*len_out = len;
	return buf;
}

/* Find a header's value in a raw header block; returns a pointer into the block and the
 * value's length, or NULL. */
static const char *find_header(const char *headers, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *line = headers;
	while (line && *line) {
		const char *end = strstr(line, "\r\n");
		size_t llen = end ? (size_t)(end - line) : strlen(line);
		if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			const char *vend = line + llen;
			while (v < vend && (*v == ' ' || *v == '\t'))
				v++;
			while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
				vend--;
			*vlen = (size_t)(vend - v);
			return v;
		}
		line = end ? end + 2 : NULL;
	}
	return NULL;
}

/* Decode a chunked body; returns the decoded length (stops at anything malformed). */
static size_t dechunk(const char *in, size_t in_len, char *out)
{
	size_t pos = 0, out_len = 0;
	while (pos < in_len) {
		char *end;
		unsigned long size = strtoul(in + pos, &end, 16);
		const char *crlf = strstr(in + pos, "\r\n");
		if (!crlf || end == in + pos)
			break;
		pos = (size_t)(crlf - in) + 2;
		if (size == 0 || pos + size > in_len)
			break;
		memcpy(out + out_len, in + pos, size);
		out_len += size;
		pos += size + 2;
	}
	return out_len;
}

/* Parse one response out of `raw` (owned, consumed). */
static struct response *parse_response(char *raw, size_t raw_len)
{
	struct response_impl *impl = calloc(1, sizeof(*impl));
	cr_assert(impl);
	struct response *r = &impl->pub;
	char *head_end = strstr(raw, "\r\n\r\n");
	if (strncmp(raw, "HTTP/1.", 7) != 0 || !head_end) {
		r->status = 0;
		r->headers = strdup("");
		r->body = raw;
		r->body_len = raw_len;
		return r;
	}
	r->status = atoi(raw + 9);
	const char *first_eol = strstr(raw, "\r\n");
	size_t hlen = (size_t)(head_end - (first_eol + 2));
	r->headers = malloc(hlen + 3);
	cr_assert(r->headers);
	memcpy(r->headers, first_eol + 2, hlen);
	memcpy(r->headers + hlen, "\r\n", 3);

	const char *body = head_end + 4;
	size_t avail = raw_len - (size_t)(body - raw);
	size_t vlen;
	const char *te = find_header(r->headers, "Transfer-Encoding", &vlen);
	const char *cl = find_header(r->headers, "Content-Length", &vlen);
	r->body = malloc(avail + 1);
	cr_assert(r->body);
	if (te && strncasecmp(te, "chunked", 7) == 0) {
		r->body_len = dechunk(body, avail, r->body);
	} else if (cl) {
		size_t want = strtoul(cl, NULL, 10);
		r->body_len = want < avail ? want : avail;
		memcpy(r->body, body, r->body_len);
	} else {
		r->body_len = avail;
		memcpy(r->body, body, avail);
	}
	r->body[r->body_len] = '\0';
	free(raw);
	if (r->body_len > 0)
		r->json = json_loadb(r->body, r->body_len, 0, NULL);
	return r;
}

struct response *http_raw(struct server *s, const char *bytes, size_t len, int timeout_ms)
{
	int fd = connect_loopback(s->port);
	send_all(fd, bytes, len);
	size_t raw_len;
	char *raw = recv_all(fd, timeout_ms, &raw_len);
	close(fd);
	return parse_response(raw, raw_len);
}

static void (*response_screen)(const struct response *r);

void harness_screen(void (*screen)(const struct response *r))
{
	response_screen = screen;
}

struct response *http(struct server *s, const char *method, const char *path, const char *token,
                      const char *headers, const char *body)
{
	size_t body_len = body ? strlen(body) : 0;
	size_t cap = strlen(method) + strlen(path) + (token ? strlen(token) : 0) +
	             (headers ? strlen(headers) : 0) + body_len + 256;
	char *req = malloc(cap);
	cr_assert(req);
	int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
	                 method, path, s->port);
	if (token)
		n += snprintf(req + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", token);
	if (headers)
		n += snprintf(req + n, cap - (size_t)n, "%s", headers);
	if (body) {
		int has_type = headers && strcasestr(headers, "content-type:") != NULL;
		if (!has_type)
			n += snprintf(req + n, cap - (size_t)n,
			              "Content-Type: application/json\r\n");
		n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
	}
	n += snprintf(req + n, cap - (size_t)n, "\r\n");
	if (body) {
		memcpy(req + n, body, body_len);
		n += (int)body_len;
	}
	struct response *r = http_raw(s, req, (size_t)n, HTTP_TIMEOUT_MS);
	free(req);
	cr_assert_not_null(r);
	if (response_screen)
		response_screen(r);
	return r;
}

void response_free(struct response *r)
{
	if (!r)
		return;
	struct response_impl *impl = (struct response_impl *)r;
	for (size_t i = 0; i < impl->header_value_count; i++)
		free(impl->header_values[i]);
	free(impl->header_values);
	free(r->headers);
	free(r->body);
	json_decref(r->json);
	free(impl);
}

const char *response_header(struct response *r, const char *name)
{
	size_t vlen;
	const char *v = find_header(r->headers, name, &vlen);
	if (!v)
		return NULL;
	struct response_impl *impl = (struct response_impl *)r;
	char **grown = realloc(impl->header_values,
	                       (impl->header_value_count + 1) * sizeof(*impl->header_values));
	cr_assert(grown);
	impl->header_values = grown;
	char *copy = strndup(v, vlen);
	cr_assert(copy);
	impl->header_values[impl->header_value_count++] = copy;
	return copy;
}

char *login(struct server *s, const char *username, const char *password)
{
	json_t *req = json_pack("{s:s, s:s}", "username", username, "password", password);
	cr_assert(req);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	struct response *r = http(s, "POST", "/api/v1/authentication/login", NULL, NULL, body);
	free(body);
	char *token = NULL;
	const char *t = json_string_value(json_object_get(r->json, "access_token"));
	if (r->status == 200 && t)
		token = strdup(t);
	response_free(r);
	return token;
}

const char *admin_token(struct server *s)
{
	if (!s->admin_token) {
		s->admin_token = login(s, s->admin_email, s->admin_password);
		cr_assert(s->admin_token, "harness: admin login failed");
	}
	return s->admin_token;
}

void assert_error(struct response *r, int status, int code)
{
	cr_assert_eq(r->status, status, "expected status %d, got %d: %s", status, r->status,
	             r->body);
	json_t *err = json_object_get(r->json, "error");
	cr_assert(json_is_object(err), "no error envelope: %s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(err, "code")), code, "expected code %d: %s",
	             code, r->body);
	cr_assert_eq(json_integer_value(json_object_get(err, "status")), status,
	             "envelope status: %s", r->body);
	cr_assert(json_is_string(json_object_get(err, "message")), "message: %s", r->body);
	cr_assert(json_is_string(json_object_get(err, "httpMessage")), "httpMessage: %s", r->body);
	const char *type = response_header(r, "Content-Type");
	cr_assert(type && strncmp(type, "application/json", 16) == 0, "content type %s",
	          type ? type : "(none)");
}

int http_status(struct server *s, const char *method, const char *path, const char *token,
                const char *body)
{
	struct response *r = http(s, method, path, token, NULL, body);
	int status = r->status;
	response_free(r);
	return status;
}

json_t *expect_json(struct server *s, const char *method, const char *path, const char *token,
                    const char *body, int status)
{
	struct response *r = http(s, method, path, token, NULL, body);
	json_t *json = json_incref(r->json);
	cr_assert_eq(r->status, status, "%s %s %s: expected %d, got %d: %s", method, path,
	             body ? body : "", status, r->status, r->body);
	response_free(r);
	return json;
}

void http_expect_error(struct server *s, const char *method, const char *path, const char *token,
                       const char *body, int status, int code)
{
	struct response *r = http(s, method, path, token, NULL, body);
	assert_error(r, status, code);
	response_free(r);
}

char *authkit_create_user(struct server *s, const char *email, const char *user_name,
                          const char *role, const char *password)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "email", email, "userName", user_name,
	                         "role", role, "password", password);
	cr_assert(body);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct response *r = http(s, "POST", "/api/v1/test/authkit/users", NULL, NULL, text);
	free(text);
	cr_assert_eq(r->status, 201, "authkit create %s: %d %s", email, r->status, r->body);
	const char *id = json_string_value(json_object_get(r->json, "_id"));
	cr_assert_not_null(id, "%s", r->body);
	char *copy = strdup(id);
	cr_assert(copy);
	response_free(r);
	return copy;
}

char *authkit_login_user(struct server *s, const char *name, const char *role, const char *password,
                         char **id)
{
	char email[256];
	snprintf(email, sizeof(email), "%s@sensed.test", name);
	char *user_id = authkit_create_user(s, email, name, role, password);
	char *token = login(s, email, password);
	cr_assert_not_null(token, "login %s", email);
	if (id)
		*id = user_id;
	else
		free(user_id);
	return token;
}

struct test_user authkit_user(struct server *s, const char *name, const char *role)
{
	char password[160], *id;
	struct test_user u;
	snprintf(password, sizeof(password), "Passw0rd-%s!", name);
	u.token = authkit_login_user(s, name, role, password, &id);
	cr_assert_eq(strlen(id), sizeof(u.id) - 1, "authkit _id %s", id);
	memcpy(u.id, id, sizeof(u.id));
	free(id);
	return u;
}

int store_contains(struct server *s, const char *needle)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/data.mdb", server_data_dir(s));
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	size_t n = strlen(needle), have = 0, cap = 1 << 20;
	char *buf = malloc(cap + n);
	int found = 0;
	cr_assert_not_null(buf);
	for (;;) {
		size_t got = fread(buf + have, 1, cap, f);
		if (got == 0)
			break;
		have += got;
		if (memmem(buf, have, needle, n)) {
			found = 1;
			break;
		}
		if (have >= n) { /* keep the tail: a match may straddle two reads */
			memmove(buf, buf + have - (n - 1), n - 1);
			have = n - 1;
		}
	}
	free(buf);
	fclose(f);
	return found;
}
