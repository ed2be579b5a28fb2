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

#define PASSWORD "Viewer-Passw0rd!"

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

/* The error message of a response, asserted status and code (malloc'd). */
static inline char *error_message(struct server *s, const char *method, const char *path,
                                  const char *token, const char *body, int status, int code)
{
	struct response *r = http(s, method, path, token, NULL, body);
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
	char *id, *token;

	snprintf(body, sizeof(body), "%s@sensed.test", name);
	id = authkit_create_user(s, body, name, role, PASSWORD);
	if (locale) {
		snprintf(path, sizeof(path), "/api/v1/test/featurekit2/users/%s/locale", id);
		snprintf(body, sizeof(body), "{\"localeId\": \"%s\"}", locale);
		cr_assert_eq(http_status(s, "POST", path, NULL, body), 204);
	}
	free(id);
	snprintf(body, sizeof(body), "%s@sensed.test", name);
	token = login(s, body, PASSWORD);
	cr_assert_not_null(token);
	return token;
}

#endif
