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

/* Every response of this suite (harness_screen) but the accountkit's: never a token of a
 * trusted server. */
static void no_token(const struct response *r)
{
	cr_assert_null(strstr(r->body, TOKEN_ONE), "token in a response: %s", r->body);
	cr_assert_null(strstr(r->body, TOKEN_TWO), "token in a response: %s", r->body);
}

static void screen_responses(void)
{
	harness_screen(no_token);
}

TestSuite(server_access, .init = screen_responses);

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
	struct response *r = http(s, "POST", ROUTE, admin_token(s), NULL, body);
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

/* The stored document as another plugin sees it, token opened (accountkit): the one
 * response that carries the token, so it bypasses the screen. */
static json_t *stored(struct server *s, const char *id)
{
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/test/accountkit/server_access/%s", id);
	harness_screen(NULL);
	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	harness_screen(no_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	json_t *doc = json_incref(r->json);
	response_free(r);
	return doc;
}

Test(server_access, add_list_update_delete)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	struct response *r;

	r = http(s, "GET", ROUTE, admin, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_array(r->json) && json_array_size(r->json) == 0, "%s", r->body);
	response_free(r);

	char *one =
	    add(s, "{\"server\": \"http://127.0.0.1:8082/\", \"token\": \"" TOKEN_ONE "\"}");
	/* "host" is an alias of "server" */
	char *two = add(s, "{\"host\": \"https://bi.example.test\", \"token\": \"" TOKEN_TWO "\"}");

	r = http(s, "GET", ROUTE, admin, NULL, NULL);
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
	r = http(s, "GET", ROUTE "?sort=-server&limit=1&fields=server", admin, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 0), "server")),
	                 "https://bi.example.test");
	response_free(r);

	/* the same server twice, however spelled */
	http_expect_error(s, "POST", ROUTE, admin,
	                  "{\"server\": \"http://127.0.0.1:8082\", \"token\": \"another\"}", 400,
	                  1255);
	http_expect_error(s, "POST", ROUTE, admin,
	                  "{\"host\": \"https://bi.example.test//\", \"token\": \"another\"}", 400,
	                  1255);

	/* PATCH: a new token, then a new server */
	char *path = path_of(one);
	r = http(s, "PATCH", path, admin, NULL, "{\"token\": \"" TOKEN_TWO "\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "server")),
	                 "http://127.0.0.1:8082");
	cr_assert_null(json_object_get(r->json, "token"));
	response_free(r);
	json_t *doc = stored(s, one);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "token")), TOKEN_TWO);
	json_decref(doc);
	r = http(s, "PATCH", path, admin, NULL, "{\"host\": \"http://127.0.0.1:9090\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "server")),
	                 "http://127.0.0.1:9090");
	response_free(r);
	/* onto another entry's server */
	http_expect_error(s, "PATCH", path, admin, "{\"server\": \"https://bi.example.test\"}", 400,
	                  1255);

	cr_assert_eq(http_status(s, "DELETE", path, admin, NULL), 204);
	http_expect_error(s, "DELETE", path, admin, NULL, 404, 1256);
	http_expect_error(s, "PATCH", path, admin, "{\"token\": \"x\"}", 404, 1256);
	r = http(s, "GET", ROUTE, admin, NULL, NULL);
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
		http_expect_error(s, "POST", ROUTE, admin, bad[i], 400, 1008);
	http_expect_error(s, "POST", ROUTE, admin, "{\"server\": ", 400, 1001);
	http_expect_error(s, "PATCH", ROUTE "/not-an-id", admin, "{}", 422, 601);
	http_expect_error(s, "DELETE", ROUTE "/not-an-id", admin, NULL, 422, 601);
	http_expect_error(s, "DELETE", ROUTE "/0123456789abcdef01234567", admin, NULL, 404, 1256);
	char *id = add(s, "{\"server\": \"http://a.test\", \"token\": \"t\"}");
	char *path = path_of(id);
	http_expect_error(s, "PATCH", path, admin, "{\"server\": \"nope\"}", 400, 1008);
	http_expect_error(s, "PATCH", path, admin, "{\"token\": \"\"}", 400, 1008);
	struct response *r = http(s, "GET", ROUTE, admin, NULL, NULL);
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
		http_expect_error(s, "GET", ROUTE, token, NULL, 403, 1009);
		http_expect_error(s, "POST", ROUTE, token,
		                  "{\"server\": \"http://b.test\", \"token\": \"t\"}", 403, 1009);
		http_expect_error(s, "PATCH", path, token, "{\"token\": \"t\"}", 403, 1009);
		http_expect_error(s, "DELETE", path, token, NULL, 403, 1009);
		free(token);
	}
	cr_assert_eq(http_status(s, "GET", ROUTE, NULL, NULL), 401);
	cr_assert_eq(http_status(s, "DELETE", path, NULL, NULL), 401);
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
