/* Helpers shared by the platform black-box tests (settings, features, plugins,
 * translations): a server with the authkit and featurekit test plugins, users of any
 * role and language, and short request helpers.  Header-only: each test includes it once. */
#ifndef SENSED_TESTS_PLATFORM_COMMON_H
#define SENSED_TESTS_PLATFORM_COMMON_H

#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_HEADER "Content-Type: application/json\r\n"
#define PASSWORD    "Viewer-Passw0rd!"

static const char *const platform_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit",
                                            "--plugin-dir", SENSED_TEST_PLUGIN_DIR "/featurekit",
                                            NULL};

/* `data_dir` NULL: fresh; `extra` NULL: none. */
static inline struct server *platform_start(const char *data_dir, const char *extra)
{
	struct server_options opt = {
	    .args = platform_args, .data_dir = data_dir, .extra_config = extra};

	return server_start(&opt);
}

/* A fresh directory for a store that outlives one server (restart tests). */
static inline char *platform_data_dir(void)
{
	char *dir = strdup("/tmp/sensed-platform-XXXXXX");

	cr_assert(dir && mkdtemp(dir));
	return dir;
}

static inline void platform_data_dir_free(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	free(dir);
}

static inline struct response *req_json(struct server *s, const char *method, const char *path,
                                        const char *token, const char *body)
{
	return http(s, method, path, token, body ? JSON_HEADER : NULL, body);
}

/* The status of one request (the response is dropped). */
static inline int status_of(struct server *s, const char *method, const char *path,
                            const char *token, const char *body)
{
	struct response *r = req_json(s, method, path, token, body);
	int status = r->status;

	response_free(r);
	return status;
}

/* Assert status, return the parsed body (new reference; may be NULL for no body). */
static inline json_t *expect(struct server *s, const char *method, const char *path,
                             const char *token, const char *body, int status)
{
	struct response *r = req_json(s, method, path, token, body);
	json_t *json = json_incref(r->json);

	cr_assert_eq(r->status, status, "%s %s: expected %d, got %d: %s", method, path, status,
	             r->status, r->body);
	response_free(r);
	return json;
}

/* The error message of a response, asserted status and code (malloc'd). */
static inline char *error_message(struct server *s, const char *method, const char *path,
                                  const char *token, const char *body, int status, int code)
{
	struct response *r = req_json(s, method, path, token, body);
	char *message;

	assert_error(r, status, code);
	message = strdup(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "message")));
	response_free(r);
	return message;
}

/* Create a user through authkit with `role` and, if not NULL, preferences.localeId
 * `locale` (through featurekit2); returns a token (malloc'd). */
static inline char *user_token(struct server *s, const char *name, const char *role,
                               const char *locale)
{
	char body[512], path[128];
	json_t *user;
	char *token;

	snprintf(body, sizeof(body),
	         "{\"email\": \"%s@sensed.test\", \"userName\": \"%s\", \"role\": \"%s\", "
	         "\"password\": \"" PASSWORD "\"}",
	         name, name, role);
	user = expect(s, "POST", "/api/v1/test/authkit/users", NULL, body, 201);
	if (locale) {
		snprintf(path, sizeof(path), "/api/v1/test/featurekit2/users/%s/locale",
		         json_string_value(json_object_get(user, "_id")));
		snprintf(body, sizeof(body), "{\"localeId\": \"%s\"}", locale);
		cr_assert_eq(status_of(s, "POST", path, NULL, body), 204);
	}
	json_decref(user);
	snprintf(body, sizeof(body), "%s@sensed.test", name);
	token = login(s, body, PASSWORD);
	cr_assert_not_null(token);
	return token;
}

#endif
