/* /custom_data: insert, query, merge-update and delete with the store's filter language;
 * signed-in users read, admins write. */
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

static json_t *query(struct server *s, const char *token, const char *filter)
{
	return expect_json(s, "POST", "/api/v1/custom_data/query", token, filter, 200);
}

Test(custom_data, insert_and_query)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	char *user = authkit_login_user(s, "viewer", "consumer", "Viewer-Passw0rd!", NULL);
	json_t *doc, *list;

	doc = expect_json(s, "POST", "/api/v1/custom_data", admin,
	                  "{\"plugin\": \"kpi\", \"threshold\": 5, \"tags\": [\"a\"]}", 201);
	cr_assert_eq(strlen(json_string_value(json_object_get(doc, "_id"))), 24);
	cr_assert_eq(json_integer_value(json_object_get(doc, "threshold")), 5);
	json_decref(doc);
	list = expect_json(
	    s, "POST", "/api/v1/custom_data", admin,
	    "[{\"plugin\": \"map\", \"threshold\": 9}, {\"plugin\": \"map\", \"threshold\": 1}]",
	    201);
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);

	/* everyone signed in reads */
	list = expect_json(s, "GET", "/api/v1/custom_data", user, NULL, 200);
	cr_assert_eq(json_array_size(list), 3);
	json_decref(list);
	list = query(s, user, "{\"plugin\": \"map\"}");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	list = query(s, user, "{\"threshold\": {\"$gte\": 5}}");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	list = query(s, user, "{\"$or\": [{\"tags\": \"a\"}, {\"threshold\": 1}]}");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	list = expect_json(s, "POST", "/api/v1/custom_data/query?sort=-threshold&fields=threshold",
	                   user, "{\"plugin\": \"map\"}", 200);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(list, 0), "threshold")), 9);
	cr_assert_null(json_object_get(json_array_get(list, 0), "plugin"));
	json_decref(list);
	list =
	    expect_json(s, "GET", "/api/v1/custom_data/query?query=%7B%22plugin%22%3A%22kpi%22%7D",
	                user, NULL, 200);
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);

	/* malformed input */
	json_decref(expect_json(s, "POST", "/api/v1/custom_data/query", user,
	                        "{\"a\": {\"$bogus\": 1}}", 400));
	json_decref(expect_json(s, "POST", "/api/v1/custom_data/query", user, "[1]", 400));
	json_decref(expect_json(s, "POST", "/api/v1/custom_data", admin, "[1, 2]", 400));
	json_decref(expect_json(s, "POST", "/api/v1/custom_data", admin, "\"text\"", 400));
	json_decref(
	    expect_json(s, "GET", "/api/v1/custom_data/query?query=%7Bnope", user, NULL, 400));
	free(user);
	cr_assert_eq(server_stop(s), 0);
}

Test(custom_data, viewers_cannot_write)
{
	struct server *s = start();
	char *user = authkit_login_user(s, "viewer", "consumer", "Viewer-Passw0rd!", NULL);
	struct response *r;

	r = http(s, "POST", "/api/v1/custom_data", user, NULL, "{\"a\": 1}");
	assert_error(r, 403, 1009);
	response_free(r);
	r = http(s, "PATCH", "/api/v1/custom_data/query", user, NULL,
	         "{\"queryForSearch\": {}, \"objectForUpdate\": {\"a\": 2}}");
	assert_error(r, 403, 1009);
	response_free(r);
	r = http(s, "DELETE", "/api/v1/custom_data/query", user, NULL, "{}");
	assert_error(r, 403, 1009);
	response_free(r);
	r = http(s, "GET", "/api/v1/custom_data", NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	free(user);
	cr_assert_eq(server_stop(s), 0);
}

Test(custom_data, patch_merges_and_never_replaces)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	json_t *list, *doc, *other;

	json_decref(expect_json(s, "POST", "/api/v1/custom_data", admin,
	                        "{\"k\": \"a\", \"name\": \"x\", \"nested\": {\"p\": 1, \"q\": 2}, "
	                        "\"n\": 1, \"list\": [1]}",
	                        201));
	json_decref(expect_json(s, "POST", "/api/v1/custom_data", admin,
	                        "{\"k\": \"b\", \"name\": \"x\"}", 201));

	/* a plain object sets its keys and keeps the rest */
	list = expect_json(
	    s, "PATCH", "/api/v1/custom_data/query", admin,
	    "{\"queryForSearch\": {\"k\": \"a\"}, \"objectForUpdate\": {\"name\": \"y\", "
	    "\"nested.q\": 3, \"extra\": true}}",
	    200);
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);
	list = query(s, admin, "{\"k\": \"a\"}");
	doc = json_array_get(list, 0);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), "y");
	cr_assert_eq(json_integer_value(json_object_get(doc, "n")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "nested"), "p")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "nested"), "q")), 3);
	cr_assert(json_is_true(json_object_get(doc, "extra")));
	json_decref(list);
	other = query(s, admin, "{\"k\": \"b\"}");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(other, 0), "name")), "x");
	json_decref(other);

	/* operators */
	json_decref(expect_json(s, "PATCH", "/api/v1/custom_data/query", admin,
	                        "{\"queryForSearch\": {\"k\": \"a\"}, \"objectForUpdate\": {"
	                        "\"$set\": {\"nested.r\": \"new\"}, \"$unset\": {\"extra\": \"\"}, "
	                        "\"$inc\": {\"n\": 41}, \"$push\": {\"list\": 2}}}",
	                        200));
	json_decref(expect_json(s, "PATCH", "/api/v1/custom_data/query", admin,
	                        "{\"queryForSearch\": {\"k\": \"a\"}, \"objectForUpdate\": {"
	                        "\"$push\": {\"list\": {\"$each\": [3, 4]}, \"fresh\": \"z\"}}}",
	                        200));
	list = query(s, admin, "{\"k\": \"a\"}");
	doc = json_array_get(list, 0);
	cr_assert_eq(json_integer_value(json_object_get(doc, "n")), 42);
	cr_assert_null(json_object_get(doc, "extra"));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "nested"), "r")),
	                 "new");
	cr_assert_eq(json_array_size(json_object_get(doc, "list")), 4);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(doc, "list"), 3)), 4);
	cr_assert_eq(json_array_size(json_object_get(doc, "fresh")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), "y");
	json_decref(list);

	/* an update that changes the matched field still reaches every match once */
	list = expect_json(
	    s, "PATCH", "/api/v1/custom_data/query", admin,
	    "{\"queryForSearch\": {\"name\": {\"$in\": [\"x\", \"y\"]}}, "
	    "\"objectForUpdate\": {\"$set\": {\"name\": \"z\"}, \"$inc\": {\"hits\": 1}}}",
	    200);
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	list = query(s, admin, "{\"name\": \"z\", \"hits\": 1}");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);

	/* refused updates change nothing */
	const char *const bad[] = {
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"$set\": {\"a\": 1}, \"b\": 2}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"$rename\": {\"a\": \"b\"}}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"_id\": \"x\"}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"$inc\": {\"name\": 1}}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"$push\": {\"name\": 1}}}",
	    "{\"queryForSearch\": {}, \"objectForUpdate\": {\"name.deeper\": 1}}",
	    "{\"objectForUpdate\": {\"a\": 1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(
		    expect_json(s, "PATCH", "/api/v1/custom_data/query", admin, bad[i], 400));
	list = query(s, admin, "{\"name\": \"z\"}");
	cr_assert_eq(json_array_size(list), 2);
	json_decref(list);
	cr_assert_eq(server_stop(s), 0);
}

Test(custom_data, delete_by_query)
{
	struct server *s = start();
	const char *admin = admin_token(s);
	json_t *list;

	json_decref(expect_json(s, "POST", "/api/v1/custom_data", admin,
	                        "[{\"k\": 1}, {\"k\": 2}, {\"k\": 3}, {\"k\": 4}]", 201));
	json_decref(expect_json(s, "DELETE", "/api/v1/custom_data/query", admin,
	                        "{\"k\": {\"$gte\": 3}}", 204));
	list = expect_json(s, "GET", "/api/v1/custom_data?sort=k", admin, NULL, 200);
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(list, 1), "k")), 2);
	json_decref(list);
	/* no body is refused; {} means everything */
	json_decref(expect_json(s, "DELETE", "/api/v1/custom_data/query", admin, NULL, 400));
	json_decref(expect_json(s, "DELETE", "/api/v1/custom_data/query", admin, "{}", 204));
	list = expect_json(s, "GET", "/api/v1/custom_data", admin, NULL, 200);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	cr_assert_eq(server_stop(s), 0);
}
