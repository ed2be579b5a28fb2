/* Features end to end: GET /features, PATCH /features/{key}/toggle, route gating (403,
 * code 1012, naming the feature), persistence across restarts, authorization, and the
 * feature SDK members (driven through the featurekit test plugins). */
#include "api/platform_common.h"

#define PING "/api/v1/test/featurekit/ping"

static json_t *feature_of(json_t *list, const char *key)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (!strcmp(json_string_value(json_object_get(item, "key")), key))
			return item;
	}
	return NULL;
}

static int subscribed(json_t *feature, const char *plugin)
{
	size_t i;
	json_t *sub;

	json_array_foreach(json_object_get(feature, "subscriptions"), i, sub)
	{
		if (!strcmp(json_string_value(json_object_get(sub, "name")), plugin))
			return json_is_true(json_object_get(sub, "active")) ? 1 : 2;
	}
	return 0;
}

Test(features, list_shows_declared_features_and_subscriptions)
{
	struct server *s = platform_start(NULL, NULL);
	json_t *list = expect_json(s, "GET", "/api/v1/features", admin_token(s), NULL, 200);
	json_t *gated = feature_of(list, "kit.gated"), *shared = feature_of(list, "kit.shared");

	cr_assert(json_is_array(list));
	cr_assert_not_null(gated);
	cr_assert(json_is_true(json_object_get(gated, "active")));
	cr_assert_str_eq(json_string_value(json_object_get(gated, "name")), "Kit gated");
	cr_assert_str_eq(json_string_value(json_object_get(gated, "description")),
	                 "Closes the featurekit routes when off");
	cr_assert_eq(json_array_size(json_object_get(gated, "subscriptions")), 1);
	cr_assert_eq(subscribed(gated, "featurekit"), 1);
	/* two plugins subscribe to one key; the first declaration names it */
	cr_assert_not_null(shared);
	cr_assert(json_is_false(json_object_get(shared, "active")));
	cr_assert_str_eq(json_string_value(json_object_get(shared, "name")), "Kit shared");
	cr_assert_eq(subscribed(shared, "featurekit"), 1);
	cr_assert_eq(subscribed(shared, "featurekit2"), 1);
	/* invalid declarations were refused (featurekit2's init checks them) */
	cr_assert_null(feature_of(list, "bad key!"));
	cr_assert_null(feature_of(list, "kit.small"));
	json_decref(list);
	cr_assert_eq(server_stop(s), 0);
}

Test(features, toggle_off_closes_the_gated_routes_at_once)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	json_t *entry, *probe;
	char *message;

	cr_assert_eq(http_status(s, "GET", PING, admin, NULL), 200);
	entry = expect_json(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin,
	                    "{\"active\": false}", 200);
	cr_assert_str_eq(json_string_value(json_object_get(entry, "key")), "kit.gated");
	cr_assert(json_is_false(json_object_get(entry, "active")));
	json_decref(entry);

	message = error_message(s, "GET", PING, admin, NULL, 403, 1012);
	cr_assert(strstr(message, "kit.gated"), "message names the feature: %s", message);
	free(message);
	probe = expect_json(s, "GET", "/api/v1/test/featurekit2/active/kit.gated", NULL, NULL, 200);
	cr_assert_eq(json_integer_value(json_object_get(probe, "active")), 0);
	json_decref(probe);
	/* a feature without gating leaves its plugins' routes open */
	probe =
	    expect_json(s, "GET", "/api/v1/test/featurekit2/active/kit.shared", NULL, NULL, 200);
	cr_assert_eq(json_integer_value(json_object_get(probe, "active")), 0);
	json_decref(probe);
	probe = expect_json(s, "GET", "/api/v1/test/featurekit2/active/no.such", NULL, NULL, 200);
	cr_assert_eq(json_integer_value(json_object_get(probe, "active")), -3 /* ENOTFOUND */);
	json_decref(probe);

	/* a bare boolean body works too, and the routes reopen */
	entry = expect_json(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin, " true\n", 200);
	cr_assert(json_is_true(json_object_get(entry, "active")));
	json_decref(entry);
	cr_assert_eq(http_status(s, "GET", PING, admin, NULL), 200);
	/* the catalog's body name */
	entry = expect_json(s, "PATCH", "/api/v1/features/kit.shared/toggle", admin,
	                    "{\"toggleFeature\": true}", 200);
	cr_assert(json_is_true(json_object_get(entry, "active")));
	json_decref(entry);
	probe =
	    expect_json(s, "GET", "/api/v1/test/featurekit2/active/kit.shared", NULL, NULL, 200);
	cr_assert_eq(json_integer_value(json_object_get(probe, "active")), 1);
	json_decref(probe);
	cr_assert_eq(server_stop(s), 0);
}

Test(features, toggle_rejects_bad_input_and_unknown_keys)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	static const char *const bodies[] = {"{\"active\": \"yes\"}",
	                                     "{}",
	                                     "[true]",
	                                     "1",
	                                     "{\"active\": true, \"other\": 1}",
	                                     "nope"};
	struct response *r;

	r = http(s, "PATCH", "/api/v1/features/no.such/toggle", admin, NULL, "{\"active\": true}");
	assert_error(r, 404, 1401);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "resourceName")),
	    "no.such");
	response_free(r);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		r = http(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin, NULL, bodies[i]);
		cr_assert_eq(r->status, 400, "%s: %d %s", bodies[i], r->status, r->body);
		response_free(r);
	}
	r = http(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	/* nothing changed */
	cr_assert_eq(http_status(s, "GET", PING, admin, NULL), 200);
	cr_assert_eq(server_stop(s), 0);
}

Test(features, viewers_list_but_only_admins_toggle)
{
	struct server *s = platform_start(NULL, NULL);
	char *viewer = user_token(s, "viewer", "consumer", NULL);
	char *designer = user_token(s, "designer", "contributor", NULL);
	struct response *r;

	cr_assert_eq(http_status(s, "GET", "/api/v1/features", viewer, NULL), 200);
	r = http(s, "PATCH", "/api/v1/features/kit.gated/toggle", viewer, NULL,
	         "{\"active\": false}");
	assert_error(r, 403, 1009);
	response_free(r);
	cr_assert_eq(http_status(s, "PATCH", "/api/v1/features/kit.gated/toggle", designer,
	                         "{\"active\": false}"),
	             403);
	cr_assert_eq(http_status(s, "GET", "/api/v1/features", NULL, NULL), 401);
	cr_assert_eq(http_status(s, "PATCH", "/api/v1/features/kit.gated/toggle", NULL,
	                         "{\"active\": false}"),
	             401);
	/* a viewer is gated like everyone */
	cr_assert_eq(http_status(s, "GET", PING, viewer, NULL), 200);
	json_decref(expect_json(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin_token(s),
	                        "{\"active\": false}", 200));
	r = http(s, "GET", PING, viewer, NULL, NULL);
	assert_error(r, 403, 1012);
	response_free(r);
	free(viewer);
	free(designer);
	cr_assert_eq(server_stop(s), 0);
}

Test(features, state_survives_restart)
{
	char *dir = platform_data_dir();
	struct server *s = platform_start(dir, NULL);
	json_t *list;

	json_decref(expect_json(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin_token(s),
	                        "{\"active\": false}", 200));
	json_decref(expect_json(s, "PATCH", "/api/v1/features/kit.shared/toggle", admin_token(s),
	                        "{\"active\": true}", 200));
	cr_assert_eq(server_stop(s), 0);

	s = platform_start(dir, NULL);
	list = expect_json(s, "GET", "/api/v1/features", admin_token(s), NULL, 200);
	cr_assert(json_is_false(json_object_get(feature_of(list, "kit.gated"), "active")));
	cr_assert(json_is_true(json_object_get(feature_of(list, "kit.shared"), "active")));
	json_decref(list);
	cr_assert_eq(http_status(s, "GET", PING, admin_token(s), NULL), 403);
	cr_assert_eq(server_stop(s), 0);
	platform_data_dir_free(dir);
}

Test(features, declaring_after_init_is_refused)
{
	struct server *s = platform_start(NULL, NULL);
	json_t *probe =
	    expect_json(s, "GET", "/api/v1/test/featurekit2/late-declare", NULL, NULL, 200);

	cr_assert_eq(json_integer_value(json_object_get(probe, "err")), -7 /* ESTATE */);
	json_decref(probe);
	probe = expect_json(s, "GET", "/api/v1/features", admin_token(s), NULL, 200);
	cr_assert_null(feature_of(probe, "kit.late"));
	json_decref(probe);
	cr_assert_eq(server_stop(s), 0);
}
