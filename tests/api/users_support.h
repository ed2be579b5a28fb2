/* Helpers shared by test_users.c and test_groups.c (included by both; static functions). */
#ifndef SENSED_TESTS_USERS_SUPPORT_H
#define SENSED_TESTS_USERS_SUPPORT_H

#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Helpers: not every test file uses every one. */
#define SUPPORT_FN static __attribute__((unused))

#define USER_PASSWORD "User-Passw0rd!"
#define NOBODY        "0123456789abcdef01234567"

SUPPORT_FN struct server *start_with(const char *extra_config)
{
	struct server_options opt = {
	    .extra_config = extra_config ? extra_config : "{\"loginRatePerMinute\": 100000}",
	    .workers = 2,
	};
	return server_start(&opt);
}

/* Every response goes through here: none may carry a password or a hash. */
SUPPORT_FN struct response *req(struct server *s, const char *method, const char *path,
                                const char *token, const char *body)
{
	struct response *r = http(s, method, path, token, NULL, body);
	cr_assert_not_null(r);
	cr_assert_null(strstr(r->body, "$argon2"), "hash in a response: %s", r->body);
	cr_assert_null(strstr(r->body, "\"password\""), "password in a response: %s", r->body);
	cr_assert_null(strstr(r->body, "\"hash\""), "hash in a response: %s", r->body);
	return r;
}

SUPPORT_FN struct response *reqf(struct server *s, const char *method, const char *token,
                                 const char *body, const char *path_fmt, ...)
    __attribute__((format(printf, 5, 6)));
SUPPORT_FN struct response *reqf(struct server *s, const char *method, const char *token,
                                 const char *body, const char *path_fmt, ...)
{
	char path[1024];
	va_list ap;
	va_start(ap, path_fmt);
	vsnprintf(path, sizeof path, path_fmt, ap);
	va_end(ap);
	return req(s, method, path, token, body);
}

SUPPORT_FN int status_of(struct response *r)
{
	int status = r->status;
	response_free(r);
	return status;
}

SUPPORT_FN void expect_error(struct response *r, int status, int code)
{
	assert_error(r, status, code);
	response_free(r);
}

SUPPORT_FN const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The id of a role by name, from GET /api/roles (malloc'd). */
SUPPORT_FN char *role_id(struct server *s, const char *name)
{
	struct response *r = req(s, "GET", "/api/roles", admin_token(s), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	size_t i;
	json_t *role;
	char *id = NULL;
	json_array_foreach(r->json, i, role) if (strcmp(str(role, "name"), name) == 0) id =
	    strdup(str(role, "_id"));
	response_free(r);
	cr_assert_not_null(id, "no role %s", name);
	return id;
}

/* POST /users as `token` with a role name and the shared password; returns the _id. */
SUPPORT_FN char *new_user(struct server *s, const char *token, const char *email, const char *role)
{
	json_t *body =
	    json_pack("{s:s, s:s, s:s}", "email", email, "roleId", role, "password", USER_PASSWORD);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct response *r = req(s, "POST", "/api/v1/users", token, text);
	free(text);
	cr_assert_eq(r->status, 201, "create %s: %d %s", email, r->status, r->body);
	char *id = strdup(str(r->json, "_id"));
	response_free(r);
	return id;
}

SUPPORT_FN char *new_group(struct server *s, const char *name)
{
	json_t *body = json_pack("{s:s}", "name", name);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct response *r = req(s, "POST", "/api/v1/groups", admin_token(s), text);
	free(text);
	cr_assert_eq(r->status, 201, "create group %s: %d %s", name, r->status, r->body);
	char *id = strdup(str(r->json, "_id"));
	response_free(r);
	return id;
}

SUPPORT_FN char *login_ok(struct server *s, const char *name, const char *password)
{
	char *token = login(s, name, password);
	cr_assert_not_null(token, "login %s failed", name);
	return token;
}

SUPPORT_FN int is_wire_date(const char *s)
{
	return s != NULL && strlen(s) == 24 && s[4] == '-' && s[10] == 'T' && s[19] == '.' &&
	       s[23] == 'Z';
}

#endif
