/* Trusted servers (authentication/server_access): CRUD, validation, uniqueness of the
 * server URL, admins only, and the other server's token sealed at rest, never returned,
 * and readable by another plugin with secret_open (the accountkit test plugin). */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE     "/api/v1/authentication/server_access"
#define TOKEN_ONE "remote-api-token-0123456789-one"
#define TOKEN_TWO "remote-api-token-9876543210-two"

static const char *const plugin_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit",
                                          "--plugin-dir", SENSED_TEST_PLUGIN_DIR "/accountkit",
                                          NULL};

static struct server *start(void)
{
	struct server_options opt = {.extra_config = "{\"loginRatePerMinute\": 100000}",
	                             .args = plugin_args};
	return server_start(&opt);
}

/* Every response of this suite: never a token of a trusted server. */
static struct response *call(struct server *s, const char *method, const char *path,
                             const char *token, const char *body)
{
	struct response *r = http(s, method, path, token, NULL, body);
	cr_assert_not_null(r);
	cr_assert_null(strstr(r->body, TOKEN_ONE), "token in a response: %s", r->body);
	cr_assert_null(strstr(r->body, TOKEN_TWO), "token in a response: %s", r->body);
	return r;
}

static int status_of(struct server *s, const char *method, const char *path, const char *token,
                     const char *body)
{
	struct response *r = call(s, method, path, token, body);
	int status = r->status;
	response_free(r);
	return status;
}

static void expect_error(struct server *s, const char *method, const char *path, const char *token,
                         const char *body, int status, int code)
{
	struct response *r = call(s, method, path, token, body);
	assert_error(r, status, code);
	response_free(r);
}

static char *path_of(const char *id)
{
	char *p = malloc(strlen(ROUTE) + strlen(id) + 2);
	cr_assert_not_null(p);
	sprintf(p, "%s/%s", ROUTE, id);
	return p;
}

/* POST a trusted server; returns its _id (malloc'd). */
static char *add(struct server *s, const char *body)
{
	struct response *r = call(s, "POST", ROUTE, admin_token(s), body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(json_object_get(r->json, "token"), "%s", r->body);
	const char *id = json_string_value(json_object_get(r->json, "_id"));
	cr_assert_not_null(id, "%s", r->body);
	cr_assert_not_null(json_object_get(r->json, "created"), "%s", r->body);
	cr_assert_not_null(json_object_get(r->json, "lastUpdated"), "%s", r->body);
	char *copy = strdup(id);
	response_free(r);
	return copy;
}

/* The stored document as another plugin sees it, token opened (accountkit). */
static json_t *stored(struct server *s, const char *id)
{
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/test/accountkit/server_access/%s", id);
	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	json_t *doc = json_incref(r->json);
	response_free(r);
	return doc;
}

static int store_contains(struct server *s, const char *needle)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/data.mdb", server_data_dir(s));
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
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
		if (have >= n) {
			memmove(buf, buf + have - (n - 1), n - 1);
			have = n - 1;
		}
	}
	free(buf);
	fclose(f);
	return found;
}

Test(server_access, add_list_update_delete)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	struct response *r;

	r = call(s, "GET", ROUTE, admin, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_array(r->json) && json_array_size(r->json) == 0, "%s", r->body);
	response_free(r);

	char *one =
	    add(s, "{\"server\": \"http://127.0.0.1:8082/\", \"token\": \"" TOKEN_ONE "\"}");
	/* "host" is an alias of "server" */
	char *two = add(s, "{\"host\": \"https://bi.example.test\", \"token\": \"" TOKEN_TWO "\"}");

	r = call(s, "GET", ROUTE, admin, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	json_t *first = json_array_get(r->json, 0);
	cr_assert_str_eq(json_string_value(json_object_get(first, "_id")), one);
	cr_assert_str_eq(json_string_value(json_object_get(first, "server")),
	                 "http://127.0.0.1:8082");
	cr_assert_null(json_object_get(first, "token"));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 1), "server")),
	                 "https://bi.example.test");
	response_free(r);

	/* list options apply */
	r = call(s, "GET", ROUTE "?sort=-server&limit=1&fields=server", admin, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 0), "server")),
	                 "https://bi.example.test");
	response_free(r);

	/* the same server twice, however spelled */
	expect_error(s, "POST", ROUTE, admin,
	             "{\"server\": \"http://127.0.0.1:8082\", \"token\": \"another\"}", 400, 1255);
	expect_error(s, "POST", ROUTE, admin,
	             "{\"host\": \"https://bi.example.test//\", \"token\": \"another\"}", 400,
	             1255);

	/* PATCH: a new token, then a new server */
	char *path = path_of(one);
	r = call(s, "PATCH", path, admin, "{\"token\": \"" TOKEN_TWO "\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "server")),
	                 "http://127.0.0.1:8082");
	cr_assert_null(json_object_get(r->json, "token"));
	response_free(r);
	json_t *doc = stored(s, one);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "token")), TOKEN_TWO);
	json_decref(doc);
	r = call(s, "PATCH", path, admin, "{\"host\": \"http://127.0.0.1:9090\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "server")),
	                 "http://127.0.0.1:9090");
	response_free(r);
	/* onto another entry's server */
	expect_error(s, "PATCH", path, admin, "{\"server\": \"https://bi.example.test\"}", 400,
	             1255);

	cr_assert_eq(status_of(s, "DELETE", path, admin, NULL), 204);
	expect_error(s, "DELETE", path, admin, NULL, 404, 1256);
	expect_error(s, "PATCH", path, admin, "{\"token\": \"x\"}", 404, 1256);
	r = call(s, "GET", ROUTE, admin, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	/* the freed URL can be added again */
	free(add(s, "{\"server\": \"http://127.0.0.1:9090\", \"token\": \"again\"}"));

	free(path);
	free(one);
	free(two);
	cr_assert_eq(server_stop(s), 0);
}

Test(server_access, validation)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	static const char *const bad[] = {
	    "{\"token\": \"t\"}",
	    "{\"server\": \"http://a.test\"}",
	    "{\"server\": \"ftp://a.test\", \"token\": \"t\"}",
	    "{\"server\": \"http://\", \"token\": \"t\"}",
	    "{\"server\": \"http://a b.test\", \"token\": \"t\"}",
	    "{\"server\": 5, \"token\": \"t\"}",
	    "{\"server\": \"http://a.test\", \"token\": \"\"}",
	    "{\"server\": \"http://a.test\", \"token\": 7}",
	    "{\"server\": \"http://a.test\", \"host\": \"http://b.test\", \"token\": \"t\"}",
	    "{\"server\": \"http://a.test\", \"token\": \"t\", \"extra\": 1}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(s, "POST", ROUTE, admin, bad[i], 400, 1008);
	expect_error(s, "POST", ROUTE, admin, "{\"server\": ", 400, 1001);
	expect_error(s, "PATCH", ROUTE "/not-an-id", admin, "{}", 422, 601);
	expect_error(s, "DELETE", ROUTE "/not-an-id", admin, NULL, 422, 601);
	expect_error(s, "DELETE", ROUTE "/0123456789abcdef01234567", admin, NULL, 404, 1256);
	char *id = add(s, "{\"server\": \"http://a.test\", \"token\": \"t\"}");
	char *path = path_of(id);
	expect_error(s, "PATCH", path, admin, "{\"server\": \"nope\"}", 400, 1008);
	expect_error(s, "PATCH", path, admin, "{\"token\": \"\"}", 400, 1008);
	struct response *r = call(s, "GET", ROUTE, admin, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 0), "server")),
	                 "http://a.test");
	response_free(r);
	free(path);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

Test(server_access, admins_only)
{
	struct server *s = start();
	char *id = add(s, "{\"server\": \"http://a.test\", \"token\": \"" TOKEN_ONE "\"}");
	char *path = path_of(id);
	static const char *const roles[] = {"consumer", "contributor", "dataDesigner"};
	for (size_t i = 0; i < 3; i++) {
		char email[64], body[256];
		snprintf(email, sizeof(email), "user%zu@sensed.test", i);
		snprintf(body, sizeof(body),
		         "{\"email\": \"%s\", \"userName\": \"user%zu\", \"role\": \"%s\", "
		         "\"password\": \"User-Passw0rd!\"}",
		         email, i, roles[i]);
		struct response *r =
		    http(s, "POST", "/api/v1/test/authkit/users", NULL, NULL, body);
		cr_assert_eq(r->status, 201, "%s", r->body);
		response_free(r);
		char *token = login(s, email, "User-Passw0rd!");
		cr_assert_not_null(token);
		expect_error(s, "GET", ROUTE, token, NULL, 403, 1009);
		expect_error(s, "POST", ROUTE, token,
		             "{\"server\": \"http://b.test\", \"token\": \"t\"}", 403, 1009);
		expect_error(s, "PATCH", path, token, "{\"token\": \"t\"}", 403, 1009);
		expect_error(s, "DELETE", path, token, NULL, 403, 1009);
		free(token);
	}
	cr_assert_eq(status_of(s, "GET", ROUTE, NULL, NULL), 401);
	cr_assert_eq(status_of(s, "DELETE", path, NULL, NULL), 401);
	/* nothing changed */
	json_t *doc = stored(s, id);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "server")), "http://a.test");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "token")), TOKEN_ONE);
	json_decref(doc);
	free(path);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

Test(server_access, token_is_sealed_at_rest)
{
	struct server *s = start();
	char *id = add(s, "{\"server\": \"http://127.0.0.1:8082\", \"token\": \"" TOKEN_ONE "\"}");
	json_t *doc = stored(s, id);
	/* the schema other plugins read: "server", and "token" sealed with secret_seal */
	cr_assert_str_eq(json_string_value(json_object_get(doc, "server")),
	                 "http://127.0.0.1:8082");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "token")), TOKEN_ONE);
	const char *sealed = json_string_value(json_object_get(doc, "sealed"));
	cr_assert_not_null(sealed);
	cr_assert_str_neq(sealed, TOKEN_ONE);
	json_decref(doc);
	cr_assert_not(store_contains(s, TOKEN_ONE), "the token is in clear in the store");
	free(id);
	cr_assert_eq(server_stop(s), 0);
}
