/* Helpers shared by the content black-box tests (test_folders.c,
 * test_dashboards.c, test_widgets.c, test_sharing.c, test_import_export.c,
 * test_copy.c).  Header-only: each test includes it once.  Every helper asserts
 * (cr_assert) instead of returning errors; returned strings are malloc'd and
 * the caller frees them. */
#ifndef SENSED_TESTS_CONTENT_TEST_H
#define SENSED_TESTS_CONTENT_TEST_H

#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API           "/api/v1"
#define USER_PASSWORD "User-Passw0rd!"
#define UNKNOWN_OID   "0123456789abcdef01234567"

static const char *const content_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit", NULL};

static inline struct server *content_start(void)
{
	struct server_options opt = {
	    .extra_config = "{\"loginRatePerMinute\": 100000}",
	    .args = content_args,
	    .workers = 2,
	};
	return server_start(&opt);
}

/* A request with a JSON body given as printf format (NULL for none). */
static inline struct response *call(struct server *s, const char *method, const char *path,
                                    const char *token, const char *body_fmt, ...)
{
	char *body = NULL;
	struct response *r;

	if (body_fmt != NULL) {
		va_list ap;

		va_start(ap, body_fmt);
		cr_assert(vasprintf(&body, body_fmt, ap) >= 0);
		va_end(ap);
	}
	r = http(s, method, path, token, body != NULL ? "Content-Type: application/json\r\n" : NULL,
	         body);
	free(body);
	cr_assert_not_null(r);
	return r;
}

/* As call with a body that is a JSON value (borrowed). */
static inline struct response *call_json(struct server *s, const char *method, const char *path,
                                         const char *token, const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct response *r;

	cr_assert_not_null(text);
	r = http(s, method, path, token, "Content-Type: application/json\r\n", text);
	free(text);
	cr_assert_not_null(r);
	return r;
}

static inline void expect_status(struct response *r, int status, const char *what)
{
	cr_assert_eq(r->status, status, "%s: expected %d, got %d %s", what, status, r->status,
	             r->body);
}

static inline int status_of(struct server *s, const char *method, const char *path,
                            const char *token)
{
	struct response *r = call(s, method, path, token, NULL);
	int status = r->status;

	response_free(r);
	return status;
}

static inline char *string_of(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	cr_assert_not_null(v, "no string %s", key);
	return strdup(v);
}

/* Create a user of `role` through authkit, log in; returns the token, *id its
 * _id. */
static inline char *content_user(struct server *s, const char *name, const char *role, char **id)
{
	return authkit_login_user(s, name, role, USER_PASSWORD, id);
}

/* POST /dashboards {title}; returns the oid. */
static inline char *create_dashboard(struct server *s, const char *token, const char *title)
{
	struct response *r = call(s, "POST", API "/dashboards", token,
	                          "{\"title\":\"%s\",\"datasource\":{\"title\":\"Sample\","
	                          "\"address\":\"LocalHost\",\"fullname\":\"LocalHost/Sample\"}}",
	                          title);
	char *oid;

	expect_status(r, 201, "create dashboard");
	oid = string_of(r->json, "oid");
	response_free(r);
	return oid;
}

/* POST a widget to dashboard `oid`; returns the widget oid. */
static inline char *create_widget(struct server *s, const char *token, const char *oid,
                                  const char *title, const char *type)
{
	char path[160];
	struct response *r;
	char *wid;

	snprintf(path, sizeof path, API "/dashboards/%s/widgets", oid);
	r = call(s, "POST", path, token,
	         "{\"title\":\"%s\",\"type\":\"%s\",\"subtype\":\"%s\",\"metadata\":{"
	         "\"panels\":[]}}",
	         title, type, type);
	expect_status(r, 201, "create widget");
	wid = string_of(r->json, "oid");
	response_free(r);
	return wid;
}

/* A formatted path (static buffer per call site is not enough: malloc'd). */
static inline char *pathf(const char *fmt, ...)
{
	char *out = NULL;
	va_list ap;

	va_start(ap, fmt);
	cr_assert(vasprintf(&out, fmt, ap) >= 0);
	va_end(ap);
	return out;
}

/* Does the JSON array `list` hold an object whose `key` equals `value`? */
static inline int list_has(const json_t *list, const char *key, const char *value)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		const char *v = json_string_value(json_object_get(item, key));

		if (v != NULL && strcmp(v, value) == 0)
			return 1;
	}
	return 0;
}

#endif
