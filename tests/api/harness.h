/* Black-box test harness: start the real sensed binary on a free loopback port with a
 * fresh data directory, talk HTTP/1.1 to it over plain sockets, stop it.
 *
 * Criterion forks each test: start the server inside the test (or its .init) and stop
 * it in the test (or .fini).  Every function aborts the test (cr_assert) on a harness
 * failure, so callers need not check for NULL. */
#ifndef SENSED_TESTS_HARNESS_H
#define SENSED_TESTS_HARNESS_H

#include <jansson.h>
#include <stddef.h>

struct server;

struct server_options {
	const char *extra_config;   /* JSON object text merged into the generated config */
	const char *const *args;    /* extra command-line arguments, NULL-terminated */
	const char *admin_email;    /* default "admin@sensed.test" */
	const char *admin_password; /* default "Admin-Passw0rd!" */
	const char *data_dir;       /* reuse a directory (restart tests); NULL: fresh */
	int workers;                /* default 2 */
};

struct response {
	int status;
	char *headers; /* raw header block, "\r\n"-separated, owned */
	char *body;    /* NUL-terminated, owned */
	size_t body_len;
	json_t *json; /* parsed body or NULL, owned */
};

struct server *server_start(const struct server_options *opt);
/* SIGTERM and wait; returns the exit status (0 expected).  Frees the server. */
int server_stop(struct server *s);
int server_port(const struct server *s);
const char *server_data_dir(const struct server *s);
/* Everything the server wrote on stderr/stdout so far (owned by the server). */
const char *server_output(struct server *s);

/* One request on a fresh connection.  `headers` is extra header lines, each ending in
 * "\r\n", or NULL; `body` may be NULL.  With a token, sends "Authorization: Bearer". */
struct response *http(struct server *s, const char *method, const char *path, const char *token,
                      const char *headers, const char *body);
/* Send raw bytes and read until the server closes or `timeout_ms` passes. */
struct response *http_raw(struct server *s, const char *bytes, size_t len, int timeout_ms);
void response_free(struct response *r);
/* A response header's value (case-insensitive), owned by the response; NULL if absent. */
const char *response_header(struct response *r, const char *name);

/* Log in as the bootstrap admin and return the token (owned by the server object). */
const char *admin_token(struct server *s);
/* POST /api/v1/authentication/login with JSON; returns the token (malloc'd) or NULL. */
char *login(struct server *s, const char *username, const char *password);

/* Does the server's store file (data.mdb) hold `needle` in clear? */
int store_contains(struct server *s, const char *needle);

/* Assert an error envelope with this status and code. */
void assert_error(struct response *r, int status, int code);

/* A check that http() (and so every helper below, login and admin_token) applies to each
 * response before returning it, for a suite whose responses must never carry a secret; NULL
 * (the default) checks nothing.  Criterion runs each test in its own process: set it in the
 * suite's .init (TestSuite(name, .init = ...)) so that every test of the suite has it. */
void harness_screen(void (*screen)(const struct response *r));

/* The status of one request (http() with no extra headers; the response is dropped). */
int http_status(struct server *s, const char *method, const char *path, const char *token,
                const char *body);
/* One request, asserting its status; returns the parsed body (a new reference, NULL if the
 * body is not JSON). */
json_t *expect_json(struct server *s, const char *method, const char *path, const char *token,
                    const char *body, int status);
/* One request, asserting its error envelope (assert_error). */
void http_expect_error(struct server *s, const char *method, const char *path, const char *token,
                       const char *body, int status, int code);

/* Users through the authkit test plugin: the server must load it (--plugin-dir
 * SENSED_TEST_PLUGIN_DIR "/authkit").  Creates the user, asserting 201; returns its _id
 * (malloc'd). */
char *authkit_create_user(struct server *s, const char *email, const char *user_name,
                          const char *role, const char *password);
/* Creates "<name>@sensed.test" (userName `name`) and logs in; returns the token (malloc'd).
 * With `id`, *id is the user's _id (malloc'd). */
char *authkit_login_user(struct server *s, const char *name, const char *role, const char *password,
                         char **id);

/* A signed-in authkit user: its _id and its token (malloc'd; the caller frees it). */
struct test_user {
	char id[25];
	char *token;
};
/* authkit_login_user with the password "Passw0rd-<name>!". */
struct test_user authkit_user(struct server *s, const char *name, const char *role);

#endif
