/* Plugins for operators end to end: GET /plugins (envelope, search, order, paging),
 * GET /plugins/get_info (load state, errors, routes, features), PATCH /plugins (run-time
 * enable/disable: 200/202/404/400, all or nothing, persisted), the essential "plugins"
 * plugin, and authorization. */
#include "api/platform_common.h"

#define PLUGINS "/api/v1/plugins"

static const char *const failing_args[] = {"--plugin-dir",
                                           SENSED_TEST_PLUGIN_DIR "/authkit",
                                           "--plugin-dir",
                                           SENSED_TEST_PLUGIN_DIR "/featurekit",
                                           "--plugin-dir",
                                           SENSED_TEST_PLUGIN_DIR "/initfail",
                                           NULL};

static json_t *named(json_t *list, const char *name)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (!strcmp(json_string_value(json_object_get(item, "name")), name))
			return item;
	}
	return NULL;
}

Test(plugins_api, list_envelope_order_search_and_paging)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	json_t *body, *list, *meta, *item, *page;
	size_t i, total;

	body = expect_json(s, "GET", PLUGINS, admin, NULL, 200);
	list = json_object_get(body, "plugins");
	meta = json_object_get(body, "queryMetadata");
	total = json_array_size(list);
	cr_assert(total >= 6);
	cr_assert_eq(json_integer_value(json_object_get(body, "count")), (json_int_t)total);
	cr_assert(json_is_null(json_object_get(meta, "limit")));
	cr_assert_eq(json_integer_value(json_object_get(meta, "skip")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(meta, "orderby")), "name");
	cr_assert(json_is_false(json_object_get(meta, "desc")));
	json_array_foreach(list, i, item)
	{
		cr_assert(json_is_string(json_object_get(item, "name")));
		cr_assert(json_is_string(json_object_get(item, "version")));
		cr_assert(json_is_string(json_object_get(item, "lastUpdate")));
		cr_assert(json_is_boolean(json_object_get(item, "isEnabled")));
		cr_assert(json_is_string(json_object_get(item, "folderName")));
		cr_assert(json_is_string(json_object_get(item, "state")));
		if (i > 0)
			cr_assert(
			    strcasecmp(json_string_value(
			                   json_object_get(json_array_get(list, i - 1), "name")),
			               json_string_value(json_object_get(item, "name"))) <= 0);
	}
	for (const char *const *n = (const char *const[]){"plugins", "settings", "features",
	                                                  "translations", "featurekit", NULL};
	     *n; n++)
		cr_assert_not_null(named(list, *n), "%s listed", *n);
	cr_assert(json_is_true(json_object_get(named(list, "settings"), "isEnabled")));
	json_decref(body);

	body = expect_json(s, "GET", PLUGINS "?search=FEATURE&orderby=name&desc=true", admin, NULL,
	                   200);
	list = json_object_get(body, "plugins");
	cr_assert_eq(json_array_size(list), 3); /* featurekit2, featurekit, features */
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")),
	                 "features");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 2), "name")),
	                 "featurekit");
	meta = json_object_get(body, "queryMetadata");
	cr_assert_str_eq(json_string_value(json_object_get(meta, "search")), "FEATURE");
	cr_assert(json_is_true(json_object_get(meta, "desc")));
	json_decref(body);

	body = expect_json(s, "GET", PLUGINS "?skip=1&limit=2", admin, NULL, 200);
	page = json_object_get(body, "plugins");
	cr_assert_eq(json_array_size(page), 2);
	cr_assert_eq(json_integer_value(json_object_get(body, "count")), (json_int_t)total);
	cr_assert_eq(
	    json_integer_value(json_object_get(json_object_get(body, "queryMetadata"), "limit")),
	    2);
	json_decref(body);

	static const char *const bad[] = {"?orderby=path", "?desc=maybe", "?limit=-1", "?skip=x"};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), PLUGINS "%s", bad[i]);
		struct response *r = http(s, "GET", path, admin, NULL, NULL);
		assert_error(r, 400, 1008);
		response_free(r);
	}
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins_api, patch_disables_and_enables_at_run_time)
{
	char *dir = platform_data_dir();
	struct server *s = platform_start(dir, NULL);
	const char *admin = admin_token(s);
	json_t *changed;
	struct response *r;

	cr_assert_eq(http_status(s, "GET", "/api/v1/translations", admin, NULL), 200);
	changed = expect_json(s, "PATCH", PLUGINS, admin,
	                      "[{\"name\": \"translations\", \"isEnabled\": false}]", 200);
	cr_assert_eq(json_array_size(changed), 1);
	cr_assert(json_is_false(json_object_get(json_array_get(changed, 0), "isEnabled")));
	json_decref(changed);
	r = http(s, "GET", "/api/v1/translations", admin, NULL, NULL);
	assert_error(r, 404, 1007);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);

	/* the state survives a restart; enabling by folder name works */
	s = platform_start(dir, NULL);
	admin = admin_token(s);
	cr_assert_eq(http_status(s, "GET", "/api/v1/translations", admin, NULL), 404);
	changed = expect_json(
	    s, "PATCH", PLUGINS, admin,
	    "{\"plugins\": [{\"folderName\": \"translations\", \"isEnabled\": true}]}", 200);
	cr_assert(json_is_true(json_object_get(json_array_get(changed, 0), "isEnabled")));
	json_decref(changed);
	cr_assert_eq(http_status(s, "GET", "/api/v1/translations", admin, NULL), 200);

	/* some applied: 202; none: 404 */
	changed = expect_json(s, "PATCH", PLUGINS, admin,
	                      "[{\"name\": \"featurekit\", \"isEnabled\": false}, "
	                      "{\"name\": \"no-such-plugin\", \"isEnabled\": false}]",
	                      202);
	cr_assert_eq(json_array_size(changed), 1);
	json_decref(changed);
	cr_assert_eq(http_status(s, "GET", "/api/v1/test/featurekit/ping", admin, NULL), 404);
	r = http(s, "PATCH", PLUGINS, admin, NULL,
	         "[{\"name\": \"no-such\", \"isEnabled\": true}]");
	assert_error(r, 404, 1402);
	response_free(r);
	/* PUT is the catalog's other name for it */
	json_decref(expect_json(s, "PUT", PLUGINS, admin,
	                        "[{\"name\": \"featurekit\", \"isEnabled\": true}]", 200));
	cr_assert_eq(http_status(s, "GET", "/api/v1/test/featurekit/ping", admin, NULL), 200);
	cr_assert_eq(server_stop(s), 0);
	platform_data_dir_free(dir);
}

Test(plugins_api, patch_rejects_malformed_bodies_and_essential_plugins)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	static const char *const bad[] = {
	    "{}",
	    "[]",
	    "[1]",
	    "{\"plugins\": 1}",
	    "[{\"isEnabled\": true}]",
	    "[{\"name\": \"settings\"}]",
	    "[{\"name\": \"settings\", \"isEnabled\": \"no\"}]",
	    "[{\"name\": 5, \"isEnabled\": false}]",
	};
	struct response *r;
	json_t *body;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = http(s, "PATCH", PLUGINS, admin, NULL, bad[i]);
		cr_assert_eq(r->status, 400, "%s: %d %s", bad[i], r->status, r->body);
		response_free(r);
	}
	cr_assert_eq(http_status(s, "PATCH", PLUGINS, admin, NULL), 400);
	cr_assert_eq(http_status(s, "PATCH", PLUGINS, admin, "not json"), 400);

	/* disabling "plugins" is refused, and nothing of the request is applied */
	r = http(s, "PATCH", PLUGINS, admin, NULL,
	         "[{\"name\": \"settings\", \"isEnabled\": false}, "
	         "{\"name\": \"plugins\", \"isEnabled\": false}]");
	assert_error(r, 400, 1403);
	cr_assert(strstr(r->body, "plugins"));
	response_free(r);
	body = expect_json(s, "GET", PLUGINS, admin, NULL, 200);
	cr_assert(json_is_true(
	    json_object_get(named(json_object_get(body, "plugins"), "settings"), "isEnabled")));
	cr_assert(json_is_true(
	    json_object_get(named(json_object_get(body, "plugins"), "plugins"), "isEnabled")));
	json_decref(body);
	cr_assert_eq(http_status(s, "GET", "/api/v1/settings/system", admin, NULL), 200);
	/* enabling it (a no-op) is fine */
	json_decref(expect_json(s, "PATCH", PLUGINS, admin,
	                        "[{\"name\": \"plugins\", \"isEnabled\": true}]", 200));
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins_api, admins_only)
{
	struct server *s = platform_start(NULL, NULL);
	char *viewer = user_token(s, "viewer", "consumer", NULL);
	char *data_admin = user_token(s, "dadmin", "dataAdmin", NULL);
	struct response *r;

	r = http(s, "GET", PLUGINS, viewer, NULL, NULL);
	assert_error(r, 403, 1009);
	response_free(r);
	cr_assert_eq(http_status(s, "GET", PLUGINS, data_admin, NULL), 403);
	cr_assert_eq(http_status(s, "GET", PLUGINS "/get_info", viewer, NULL), 403);
	cr_assert_eq(http_status(s, "PATCH", PLUGINS, viewer,
	                         "[{\"name\": \"settings\", \"isEnabled\": false}]"),
	             403);
	cr_assert_eq(http_status(s, "GET", PLUGINS, NULL, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/settings/system", admin_token(s), NULL), 200);
	free(viewer);
	free(data_admin);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins_api, get_info_reports_load_errors_routes_and_features)
{
	struct server_options opt = {.args = failing_args};
	struct server *s = server_start(&opt);
	json_t *info = expect_json(s, "GET", PLUGINS "/get_info", admin_token(s), NULL, 200);
	json_t *failed = named(info, "initfail"), *settings = named(info, "settings");
	json_t *kit = named(info, "featurekit"), *route;
	size_t i;
	int saw_sso = 0;

	cr_assert(json_is_array(info));
	cr_assert_not_null(failed, "the failed plugin is listed");
	cr_assert_str_eq(json_string_value(json_object_get(failed, "state")), "failed");
	cr_assert(json_string_length(json_object_get(failed, "error")) > 0);
	cr_assert(json_is_false(json_object_get(failed, "isEnabled")));
	cr_assert_not_null(settings);
	cr_assert_str_eq(json_string_value(json_object_get(settings, "state")), "loaded");
	json_array_foreach(json_object_get(settings, "routes"), i, route)
	{
		if (!strcmp(json_string_value(json_object_get(route, "pattern")),
		            "/api/v1/settings/sso") &&
		    !strcmp(json_string_value(json_object_get(route, "method")), "GET")) {
			saw_sso = 1;
			cr_assert_str_eq(json_string_value(json_object_get(route, "leastRole")),
			                 "admin");
		}
	}
	cr_assert(saw_sso);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(kit, "features"), 0)),
	                 "kit.gated");
	cr_assert_eq(json_array_size(json_object_get(kit, "features")), 2);
	json_decref(info);
	cr_assert_eq(server_stop(s), 0);
}
