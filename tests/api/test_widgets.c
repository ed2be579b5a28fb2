/* Widgets: create (dashboardid, layout cell), list filters and options, get,
 * update, delete (layout cell removed), and the 10001 / 14004 errors. */
#include "api/content_test.h"

Test(widgets, crud_layout_and_errors)
{
	struct server *s = content_start();
	char *token = content_user(s, "wid", "contributor", NULL);
	char *oid = create_dashboard(s, token, "Widgets");
	char *w1 = create_widget(s, token, oid, "Revenue", "indicator");
	char *w2 = create_widget(s, token, oid, "Trend", "chart/line");
	char *w3 = create_widget(s, token, oid, "Table", "pivot");
	char *dp = pathf(API "/dashboards/%s", oid);
	struct response *r = call(s, "GET", dp, token, NULL);

	/* Each widget got a layout cell. */
	char *layout = json_dumps(json_object_get(r->json, "layout"), JSON_COMPACT);
	cr_assert(strstr(layout, w1) && strstr(layout, w2) && strstr(layout, w3), "%s", layout);
	free(layout);
	response_free(r);

	char *lp = pathf(API "/dashboards/%s/widgets", oid);
	r = call(s, "GET", lp, token, NULL);
	expect_status(r, 200, "list");
	cr_assert_eq(json_array_size(r->json), 3);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(r->json, 0), "dashboardid")), oid);
	response_free(r);
	char *q = pathf(API "/dashboards/%s/widgets?type=pivot", oid);
	r = call(s, "GET", q, token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", w3));
	response_free(r);
	free(q);
	q = pathf(API "/dashboards/%s/widgets?title=Trend&subtype=chart/line&fields=title", oid);
	r = call(s, "GET", q, token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_null(json_object_get(json_array_get(r->json, 0), "type"));
	response_free(r);
	free(q);
	q = pathf(API "/dashboards/%s/widgets?sort=-title&skip=1&limit=1", oid);
	r = call(s, "GET", q, token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", w3), "%s", r->body);
	response_free(r);

	char *wp = pathf(API "/dashboards/%s/widgets/%s", oid, w2);
	r = call(s, "PATCH", wp, token,
	         "{\"title\":\"Trend 2\",\"dashboardid\":\"" UNKNOWN_OID "\"}");
	expect_status(r, 200, "patch");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Trend 2");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "dashboardid")), oid);
	response_free(r);
	r = call(s, "GET", wp, token, NULL);
	expect_status(r, 200, "get");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Trend 2");
	response_free(r);

	cr_assert_eq(status_of(s, "DELETE", wp, token), 204);
	r = call(s, "GET", wp, token, NULL);
	assert_error(r, 404, 14004);
	response_free(r);
	r = call(s, "GET", dp, token, NULL);
	layout = json_dumps(json_object_get(r->json, "layout"), JSON_COMPACT);
	cr_assert(strstr(layout, w2) == NULL && strstr(layout, w1) != NULL, "%s", layout);
	free(layout);
	response_free(r);
	r = call(s, "DELETE", wp, token, NULL);
	assert_error(r, 404, 14004);
	response_free(r);
	r = call(s, "PATCH", wp, token, "{\"title\":\"x\"}");
	assert_error(r, 404, 14004);
	response_free(r);
	r = call(s, "GET", API "/dashboards/" UNKNOWN_OID "/widgets", token, NULL);
	assert_error(r, 404, 10001);
	response_free(r);
	r = call(s, "POST", API "/dashboards/" UNKNOWN_OID "/widgets", token, "{\"title\":\"x\"}");
	assert_error(r, 404, 10001);
	response_free(r);
	r = call(s, "POST", lp, token, "[1]");
	assert_error(r, 400, 1008);
	response_free(r);
	/* A widget of another dashboard is not found through this one. */
	char *other = create_dashboard(s, token, "Other");
	char *xp = pathf(API "/dashboards/%s/widgets/%s", other, w1);
	r = call(s, "GET", xp, token, NULL);
	assert_error(r, 404, 14004);
	response_free(r);
	/* Deleting the dashboard deletes its widgets. */
	cr_assert_eq(status_of(s, "DELETE", dp, token), 204);
	char *w1p = pathf(API "/dashboards/%s/widgets/%s", oid, w1);
	cr_assert_eq(status_of(s, "GET", w1p, token), 404);
	free(w1p), free(xp), free(other), free(wp), free(q), free(lp), free(dp);
	free(w1), free(w2), free(w3), free(oid), free(token);
	cr_assert_eq(server_stop(s), 0);
}
