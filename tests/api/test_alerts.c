/* /alerts: owners see and change their own alerts, admins all; parties name existing
 * users and groups; only the documented fields change; per-user notification opt-out. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit", NULL};

static struct server *start(void)
{
	struct server_options opt = {.args = args};
	return server_start(&opt);
}

static char *create(struct server *s, const char *token, const char *body)
{
	json_t *alert = expect_json(s, "POST", "/api/v1/alerts", token, body, 201);
	char *id = strdup(json_string_value(json_object_get(alert, "_id")));

	json_decref(alert);
	return id;
}

static size_t count_of(struct server *s, const char *token)
{
	json_t *c = expect_json(s, "GET", "/api/v1/alerts/count", token, NULL, 200);
	size_t n = (size_t)json_integer_value(json_object_get(c, "count"));

	json_decref(c);
	return n;
}

Test(alerts, owners_see_their_own_and_admins_all)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	struct test_user a = authkit_user(s, "anna", "consumer"),
	                 b = authkit_user(s, "bert", "contributor");
	char path[200];
	json_t *alert, *list;

	char *id = create(s, a.token,
	                  "{\"name\": \"Sales drop\", \"message\": \"check\", "
	                  "\"category\": \"kpi\", \"type\": \"kpi\", "
	                  "\"context\": {\"kpi\": {\"threshold\": 3}}, "
	                  "\"owner\": \"000000000000000000000000\"}");
	char *id_b = create(s, b.token, "{\"name\": \"Build failed\", \"category\": \"system\"}");
	char *id_admin = create(s, admin, "{\"name\": \"Admin's\"}");

	snprintf(path, sizeof(path), "/api/v1/alerts/%s", id);
	alert = expect_json(s, "GET", path, a.token, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(alert, "owner")), a.id);
	cr_assert_str_eq(json_string_value(json_object_get(alert, "name")), "Sales drop");
	cr_assert(json_is_true(json_object_get(alert, "enabled")));
	cr_assert(json_is_array(json_object_get(alert, "parties")));
	cr_assert(json_is_array(json_object_get(alert, "disabledUsers")));
	cr_assert_not_null(json_object_get(alert, "created"));
	json_decref(alert);

	/* another user neither sees nor changes it */
	struct response *r = http(s, "GET", path, b.token, NULL, NULL);
	assert_error(r, 404, 1003);
	response_free(r);
	json_decref(expect_json(s, "PATCH", path, b.token, "{\"name\": \"mine\"}", 404));
	json_decref(expect_json(s, "DELETE", path, b.token, NULL, 404));
	list = expect_json(s, "GET", "/api/v1/alerts", b.token, NULL, 200);
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "_id")), id_b);
	json_decref(list);

	/* the admin sees every alert, and filters by ids */
	list = expect_json(s, "GET", "/api/v1/alerts?sort=name", admin, NULL, 200);
	cr_assert_eq(json_array_size(list), 3);
	json_decref(list);
	snprintf(path, sizeof(path), "/api/v1/alerts?ids=%s,%s&fields=name", id, id_admin);
	list = expect_json(s, "GET", path, admin, NULL, 200);
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_null(json_object_get(json_array_get(list, 0), "owner"));
	json_decref(list);
	snprintf(path, sizeof(path), "/api/v1/alerts?ids=%s", id);
	list = expect_json(s, "GET", path, b.token, NULL, 200);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	snprintf(path, sizeof(path), "/api/v1/alerts/%s?expand=owner", id);
	alert = expect_json(s, "GET", path, admin, NULL, 200);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(alert, "owner"), "email")),
	    "anna@sensed.test");
	json_decref(alert);

	/* count: the caller's own alerts, admins included */
	cr_assert_eq(count_of(s, a.token), 1);
	cr_assert_eq(count_of(s, b.token), 1);
	cr_assert_eq(count_of(s, admin), 1);

	/* the admin deletes anyone's; then it is gone */
	snprintf(path, sizeof(path), "/api/v1/alerts/%s", id);
	json_decref(expect_json(s, "DELETE", path, admin, NULL, 204));
	json_decref(expect_json(s, "GET", path, a.token, NULL, 404));
	json_decref(expect_json(s, "GET", path, admin, NULL, 404));
	cr_assert_eq(count_of(s, a.token), 0);
	json_decref(expect_json(s, "GET", "/api/v1/alerts/not-an-id", admin, NULL, 404));
	r = http(s, "GET", "/api/v1/alerts", NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	free(id), free(id_b), free(id_admin), free(a.token), free(b.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(alerts, validation_and_parties)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	struct test_user a = authkit_user(s, "anna", "consumer"),
	                 b = authkit_user(s, "bert", "consumer");
	char body[600];
	struct response *r;

	r = http(s, "POST", "/api/v1/alerts", a.token, NULL, "{\"message\": \"no name\"}");
	assert_error(r, 422, 2003);
	response_free(r);
	const char *const bad[] = {
	    "{\"name\": \"\"}",
	    "{\"name\": \"x\", \"enabled\": \"yes\"}",
	    "{\"name\": \"x\", \"category\": \"weather\"}",
	    "{\"name\": \"x\", \"parties\": {}}",
	    "{\"name\": \"x\", \"parties\": [{\"type\": \"user\", \"id\": "
	    "\"0123456789abcdef01234567\"}]}",
	    "{\"name\": \"x\", \"parties\": [{\"type\": \"group\", \"id\": "
	    "\"0123456789abcdef01234567\"}]}",
	    "{\"name\": \"x\", \"parties\": [{\"type\": \"robot\", \"id\": "
	    "\"0123456789abcdef01234567\"}]}",
	    "{\"name\": \"x\", \"action\": [1]}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(expect_json(s, "POST", "/api/v1/alerts", a.token, bad[i], 400));
	cr_assert_eq(count_of(s, a.token), 0);

	/* existing users and groups are accepted (the seeded "Everyone" group) */
	json_t *groups = expect_json(s, "GET", "/api/v1/analytics/token", admin, NULL, 200);
	char *analytics = strdup(json_string_value(json_object_get(groups, "token")));
	json_decref(groups);
	groups = expect_json(s, "GET", "/api/v1/analytics/collection/groups", analytics, NULL, 200);
	const char *everyone = NULL;
	size_t i;
	json_t *g;
	json_array_foreach(groups, i, g)
	{
		if (strcmp(json_string_value(json_object_get(g, "name")), "Everyone") == 0)
			everyone = json_string_value(json_object_get(g, "_id"));
	}
	cr_assert_not_null(everyone);
	snprintf(body, sizeof(body),
	         "{\"name\": \"x\", \"parties\": [{\"type\": \"user\", \"id\": \"%s\"}, "
	         "{\"type\": \"group\", \"id\": \"%s\"}], \"action\": {\"email\": true}}",
	         b.id, everyone);
	json_t *alert = expect_json(s, "POST", "/api/v1/alerts", a.token, body, 201);
	cr_assert_eq(json_array_size(json_object_get(alert, "parties")), 2);
	json_decref(alert);
	json_decref(groups);
	free(analytics), free(a.token), free(b.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(alerts, patch_changes_only_documented_fields)
{
	struct server *s = start();
	struct test_user a = authkit_user(s, "anna", "consumer");
	char path[200];
	json_t *alert, *again;
	char *id =
	    create(s, a.token, "{\"name\": \"n\", \"category\": \"kpi\", \"message\": \"m\"}");

	snprintf(path, sizeof(path), "/api/v1/alerts/%s", id);
	alert = expect_json(s, "PATCH", path, a.token,
	                    "{\"name\": \"renamed\", \"enabled\": false, \"context\": {\"x\": 1}}",
	                    200);
	cr_assert_str_eq(json_string_value(json_object_get(alert, "name")), "renamed");
	cr_assert(json_is_false(json_object_get(alert, "enabled")));
	cr_assert_str_eq(json_string_value(json_object_get(alert, "message")), "m");
	cr_assert_str_eq(json_string_value(json_object_get(alert, "category")), "kpi");

	/* sending back the object read is fine; changing a fixed field is not */
	char *text = json_dumps(alert, 0);
	json_decref(expect_json(s, "PATCH", path, a.token, text, 200));
	free(text);
	json_decref(expect_json(s, "PATCH", path, a.token,
	                        "{\"owner\": \"0123456789abcdef01234567\"}", 400));
	json_decref(expect_json(s, "PATCH", path, a.token, "{\"category\": \"system\"}", 400));
	json_decref(expect_json(s, "PATCH", path, a.token, "{\"enabled\": 1}", 400));
	again = expect_json(s, "GET", path, a.token, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(again, "owner")), a.id);
	cr_assert_str_eq(json_string_value(json_object_get(again, "category")), "kpi");
	cr_assert(json_equal(json_object_get(again, "context"), json_object_get(alert, "context")));
	json_decref(again);
	json_decref(alert);
	free(id), free(a.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(alerts, set_receive_notification)
{
	struct server *s = start();
	struct test_user a = authkit_user(s, "anna", "consumer"),
	                 b = authkit_user(s, "bert", "consumer"),
	                 c = authkit_user(s, "carl", "consumer");
	char body[400], path[200];
	json_t *alert;

	snprintf(body, sizeof(body),
	         "{\"name\": \"x\", \"parties\": [{\"type\": \"user\", \"id\": \"%s\"}]}", b.id);
	char *id = create(s, a.token, body);
	snprintf(path, sizeof(path), "/api/v1/alerts/%s/setReceiveNotification", id);

	/* a recipient opts out and back in */
	alert = expect_json(s, "PATCH", path, b.token, "{\"receiveNotification\": false}", 200);
	cr_assert_eq(json_array_size(json_object_get(alert, "disabledUsers")), 1);
	cr_assert_str_eq(
	    json_string_value(json_array_get(json_object_get(alert, "disabledUsers"), 0)), b.id);
	json_decref(alert);
	alert = expect_json(s, "PATCH", path, b.token, "{\"receiveNotification\": false}", 200);
	cr_assert_eq(json_array_size(json_object_get(alert, "disabledUsers")), 1);
	json_decref(alert);
	alert = expect_json(s, "PATCH", path, b.token, "{\"receiveNotification\": true}", 200);
	cr_assert_eq(json_array_size(json_object_get(alert, "disabledUsers")), 0);
	json_decref(alert);

	/* the owner sets it for a named user; others may not */
	snprintf(body, sizeof(body), "{\"userId\": \"%s\", \"receiveNotification\": false}", b.id);
	alert = expect_json(s, "PATCH", path, a.token, body, 200);
	cr_assert_eq(json_array_size(json_object_get(alert, "disabledUsers")), 1);
	json_decref(alert);
	json_decref(
	    expect_json(s, "PATCH", path, c.token, "{\"receiveNotification\": false}", 404));
	/* a recipient only for themselves */
	snprintf(body, sizeof(body), "{\"userId\": \"%s\", \"receiveNotification\": false}", c.id);
	json_decref(expect_json(s, "PATCH", path, b.token, body, 404));
	json_decref(
	    expect_json(s, "PATCH", path, a.token, "{\"receiveNotification\": \"no\"}", 400));
	json_decref(expect_json(
	    s, "PATCH", path, a.token,
	    "{\"userId\": \"0123456789abcdef01234567\", \"receiveNotification\": true}", 404));
	free(id), free(a.token), free(b.token), free(c.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(alerts, feature_alerting_gates_the_routes)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	struct response *r;

	json_decref(expect_json(s, "GET", "/api/v1/alerts", admin, NULL, 200));
	json_decref(expect_json(s, "PATCH", "/api/v1/features/alerting/toggle", admin,
	                        "{\"active\": false}", 200));
	r = http(s, "GET", "/api/v1/alerts", admin, NULL, NULL);
	assert_error(r, 403, 1012);
	response_free(r);
	r = http(s, "POST", "/api/v1/alerts", admin, NULL, "{\"name\": \"x\"}");
	assert_error(r, 403, 1012);
	response_free(r);
	json_decref(expect_json(s, "PATCH", "/api/v1/features/alerting/toggle", admin,
	                        "{\"active\": true}", 200));
	json_decref(expect_json(s, "GET", "/api/v1/alerts/count", admin, NULL, 200));
	cr_assert_eq(server_stop(s), 0);
}
