/* /analytics: a token that opens only the analytics collections, collections filtered by
 * the token user's role, and the load timers of POST /logs/timer. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit", NULL};

static char *analytics_token(struct server *s, const char *token)
{
	json_t *body = expect_json(s, "GET", "/api/v1/analytics/token", token, NULL, 200);
	char *t = strdup(json_string_value(json_object_get(body, "token")));

	json_decref(body);
	return t;
}

static json_t *collection(struct server *s, const char *token, const char *name)
{
	char path[200];

	snprintf(path, sizeof(path), "/api/v1/analytics/collection/%s", name);
	return expect_json(s, "GET", path, token, NULL, 200);
}

static struct server *start(const char *extra_config)
{
	struct server_options opt = {.args = args, .extra_config = extra_config};
	return server_start(&opt);
}

Test(analytics, token_opens_only_analytics)
{
	struct server *s = start(NULL);
	const char *admin = admin_token(s);
	char *token = analytics_token(s, admin);
	json_t *users, *u;
	size_t i;

	users = collection(s, token, "users");
	cr_assert(json_array_size(users) >= 1);
	json_array_foreach(users, i, u)
	{
		cr_assert_null(json_object_get(u, "password"));
		cr_assert_null(json_object_get(u, "hash"));
	}
	json_decref(users);
	/* the user token does not open a collection; the analytics token opens nothing else */
	cr_assert_eq(http_status(s, "GET", "/api/v1/analytics/collection/users", admin, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/analytics/collection/users", NULL, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/alerts", token, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/custom_data", token, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/analytics/token", token, NULL), 401);
	/* every named collection answers, empty ones with [] */
	const char *const names[] = {"groups",  "dashboards", "widgets",
	                             "folders", "alerts",     "timers"};
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_decref(collection(s, token, names[i]));
	json_t *empty = collection(s, token, "alerts");
	cr_assert(json_is_array(empty) && json_array_size(empty) == 0);
	json_decref(empty);
	struct response *r =
	    http(s, "GET", "/api/v1/analytics/collection/user_secrets", token, NULL, NULL);
	assert_error(r, 404, 1003);
	response_free(r);

	/* revoke: the analytics token stops working, the user token keeps working */
	cr_assert_eq(http_status(s, "GET", "/api/v1/analytics/token/revoke", admin, NULL), 204);
	cr_assert_eq(http_status(s, "GET", "/api/v1/analytics/collection/users", token, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/alerts", admin, NULL), 200);
	free(token);
	cr_assert_eq(server_stop(s), 0);
}

Test(analytics, collections_follow_the_role)
{
	struct server *s = start(NULL);
	const char *admin = admin_token(s);
	struct test_user a = authkit_user(s, "anna", "consumer"),
	                 b = authkit_user(s, "bert", "consumer");
	char *ta = analytics_token(s, a.token), *tadmin = analytics_token(s, admin);
	json_t *list;

	json_decref(expect_json(s, "POST", "/api/v1/alerts", a.token, "{\"name\": \"a's\"}", 201));
	json_decref(expect_json(s, "POST", "/api/v1/alerts", b.token, "{\"name\": \"b's\"}", 201));

	list = collection(s, ta, "users");
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "_id")), a.id);
	json_decref(list);
	list = collection(s, ta, "alerts");
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")),
	                 "a's");
	json_decref(list);
	list = collection(s, ta, "groups"); /* anna belongs to no group */
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);

	list = collection(s, tadmin, "users");
	cr_assert_eq(json_array_size(list), 3);
	json_decref(list);
	list = collection(s, tadmin, "alerts");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	list = collection(s, tadmin, "groups");
	cr_assert(json_array_size(list) >= 2); /* the seeded system groups */
	json_decref(list);
	free(ta), free(tadmin), free(a.token), free(b.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(analytics, timers_are_recorded_and_exported)
{
	struct server *s = start(NULL);
	const char *admin = admin_token(s);
	struct test_user a = authkit_user(s, "anna", "consumer");
	char *ta = analytics_token(s, a.token), *tadmin = analytics_token(s, admin);
	json_t *timer, *list;

	timer = expect_json(s, "POST", "/api/v1/logs/timer", a.token,
	                    "{\"dashboardId\": \"5f1e0c0c0c0c0c0c0c0c0c0c\", \"duration\": 1234.5, "
	                    "\"type\": \"dashboard\", \"browser\": \"firefox\", \"cached\": false}",
	                    200);
	cr_assert_str_eq(json_string_value(json_object_get(timer, "userId")), a.id);
	cr_assert_eq(json_real_value(json_object_get(timer, "duration")), 1234.5);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(timer, "details"), "browser")),
	    "firefox");
	json_decref(timer);
	json_decref(expect_json(s, "POST", "/api/v1/logs/timer", admin,
	                        "{\"widgetId\": \"w1\", \"duration\": 80}", 200));

	list = collection(s, ta, "timers");
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "dashboardId")),
	                 "5f1e0c0c0c0c0c0c0c0c0c0c");
	json_decref(list);
	list = collection(s, tadmin, "timers");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);

	/* invalid timers are refused */
	const char *const bad[] = {
	    "{\"duration\": \"12\"}",
	    "{\"duration\": -1}",
	    "{\"dashboardId\": \"x\"}",
	    "{\"duration\": 1e300}",
	    "{\"duration\": 5, \"dashboardId\": 7}",
	    "{\"duration\": 5, \"nested\": {\"a\": 1}}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(expect_json(s, "POST", "/api/v1/logs/timer", a.token, bad[i], 400));
	char big[6000];
	int n = snprintf(big, sizeof(big), "{\"duration\": 5, \"name\": \"");
	memset(big + n, 'x', 5000);
	snprintf(big + n + 5000, sizeof(big) - (size_t)n - 5000, "\"}");
	struct response *r = http(s, "POST", "/api/v1/logs/timer", a.token, NULL, big);
	assert_error(r, 413, 1002);
	response_free(r);
	cr_assert_eq(http_status(s, "POST", "/api/v1/logs/timer", NULL, NULL), 401);
	list = collection(s, tadmin, "timers");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	free(ta), free(tadmin), free(a.token);
	cr_assert_eq(server_stop(s), 0);
}

Test(analytics, timers_keep_the_newest)
{
	struct server *s =
	    start("{\"plugins\": {\"config\": {\"analytics\": {\"maxTimers\": 3}}}}");
	const char *admin = admin_token(s);
	char *token = analytics_token(s, admin), body[100];
	json_t *list;

	for (int i = 1; i <= 5; i++) {
		snprintf(body, sizeof(body), "{\"name\": \"t%d\", \"duration\": %d}", i, i);
		json_decref(expect_json(s, "POST", "/api/v1/logs/timer", admin, body, 200));
	}
	list = collection(s, token, "timers");
	cr_assert_eq(json_array_size(list), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "name")), "t3");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 2), "name")), "t5");
	json_decref(list);
	free(token);
	cr_assert_eq(server_stop(s), 0);
}
