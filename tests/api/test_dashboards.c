/* Dashboards: create, read (fields, expand), list filters, update, delete, bulk
 * delete, duplicate, change_owner, the admin list and replace_datasource. */
#include "api/content_test.h"

Test(dashboards, create_get_update_delete)
{
	struct server *s = content_start();
	char *designer_id, *designer = content_user(s, "designer", "contributor", &designer_id);
	char *consumer = content_user(s, "consumer", "consumer", NULL);
	struct response *r;

	r = call(s, "POST", API "/dashboards", designer,
	         "{\"title\":\"Sales\",\"desc\":\"d\","
	         "\"custom\":{\"kept\":[1,2]}}");
	expect_status(r, 201, "create");
	char *oid = string_of(r->json, "oid");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "_id")), oid);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), designer_id);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "type")), "dashboard");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "instanceType")), "owner");
	cr_assert_eq(strlen(oid), 24);
	response_free(r);

	char *path = pathf(API "/dashboards/%s", oid);
	r = call(s, "GET", path, designer, NULL);
	expect_status(r, 200, "get");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Sales");
	json_t *kept = json_pack("{s:[i,i]}", "kept", 1, 2);
	cr_assert(json_equal(json_object_get(r->json, "custom"), kept), "%s", r->body);
	json_decref(kept);
	cr_assert_not_null(json_object_get(r->json, "created"));
	response_free(r);

	r = call(s, "PATCH", path, designer,
	         "{\"title\":\"Sales 2\",\"owner\":\"" UNKNOWN_OID "\",\"oid\":\"" UNKNOWN_OID
	         "\"}");
	expect_status(r, 200, "patch");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Sales 2");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), designer_id,
	                 "owner is not patchable");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "oid")), oid);
	response_free(r);
	r = call(s, "PATCH", path, designer, "{\"title\":5}");
	assert_error(r, 400, 1008);
	response_free(r);

	/* Viewers cannot create; missing title is 400; bad JSON is 400. */
	r = call(s, "POST", API "/dashboards", consumer, "{\"title\":\"x\"}");
	cr_assert_eq(r->status, 403, "%s", r->body);
	response_free(r);
	r = call(s, "POST", API "/dashboards", designer, "{\"desc\":\"x\"}");
	assert_error(r, 400, 1008);
	response_free(r);
	r = call(s, "POST", API "/dashboards", designer, "{\"title\":");
	cr_assert_eq(r->status, 400);
	response_free(r);

	cr_assert_eq(status_of(s, "DELETE", path, designer), 204);
	r = call(s, "GET", path, designer, NULL);
	assert_error(r, 404, 10001);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "resourceType")),
	    "dashboard");
	response_free(r);
	r = call(s, "GET", API "/dashboards/not-an-id", designer, NULL);
	assert_error(r, 404, 10001);
	response_free(r);
	free(path), free(oid), free(designer), free(designer_id), free(consumer);
	cr_assert_eq(server_stop(s), 0);
}

Test(dashboards, list_filters_fields_expand)
{
	struct server *s = content_start();
	char *id, *token = content_user(s, "lister", "contributor", &id);
	char *a = create_dashboard(s, token, "Alpha");
	char *b = create_dashboard(s, token, "Beta");
	struct response *r = call(s, "POST", API "/folders", token, "{\"name\":\"F\"}");

	expect_status(r, 201, "folder");
	char *folder = string_of(r->json, "oid");
	response_free(r);
	char *path = pathf(API "/dashboards/%s", b);
	r = call(s, "PATCH", path, token,
	         "{\"parentFolder\":\"%s\",\"datasource\":{\"title\":"
	         "\"Other\",\"address\":\"Remote\"}}",
	         folder);
	expect_status(r, 200, "move");
	response_free(r);
	char *w = create_widget(s, token, a, "W1", "indicator");

	r = call(s, "GET", API "/dashboards", token, NULL);
	expect_status(r, 200, "list");
	cr_assert_eq(json_array_size(r->json), 2);
	response_free(r);
	r = call(s, "GET", API "/dashboards?name=Alpha", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", a));
	response_free(r);
	char *q = pathf(API "/dashboards?parentFolder=%s", folder);
	r = call(s, "GET", q, token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert(list_has(r->json, "oid", b));
	response_free(r);
	r = call(s, "GET", API "/dashboards?datasourceTitle=Sample", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", a));
	response_free(r);
	r = call(s, "GET", API "/dashboards?datasourceAddress=Remote", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", b));
	response_free(r);
	r = call(s, "GET", API "/dashboards?sort=-title&limit=1&fields=title,oid", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	json_t *first = json_array_get(r->json, 0);
	cr_assert_str_eq(json_string_value(json_object_get(first, "title")), "Beta");
	cr_assert_null(json_object_get(first, "datasource"));
	response_free(r);
	r = call(s, "GET", API "/dashboards?sort=title&skip=1", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", b));
	response_free(r);

	char *ex = pathf(API "/dashboards/%s?expand=widgets,owner", a);
	r = call(s, "GET", ex, token, NULL);
	expect_status(r, 200, "expand");
	cr_assert(list_has(json_object_get(r->json, "widgets"), "oid", w));
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "owner"), "email")),
	    "lister@sensed.test");
	response_free(r);
	free(ex);
	ex = pathf(API "/dashboards/%s?expand=parentFolder", b);
	r = call(s, "GET", ex, token, NULL);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "parentFolder"), "name")),
	    "F");
	response_free(r);
	r = call(s, "GET", API "/dashboards?expand=widgets", token, NULL);
	expect_status(r, 200, "list expand");
	cr_assert_eq(json_array_size(json_object_get(json_array_get(r->json, 0), "widgets")) +
	                 json_array_size(json_object_get(json_array_get(r->json, 1), "widgets")),
	             1);
	response_free(r);
	r = call(s, "GET", API "/dashboards?expand=bogus", token, NULL);
	assert_error(r, 404, 202);
	response_free(r);
	/* parentFolder must be one of the caller's folders. */
	r = call(s, "PATCH", path, token, "{\"parentFolder\":\"" UNKNOWN_OID "\"}");
	assert_error(r, 404, 1301);
	response_free(r);
	free(ex), free(q), free(w), free(path), free(folder), free(a), free(b), free(token),
	    free(id);
	cr_assert_eq(server_stop(s), 0);
}

Test(dashboards, duplicate_copies_widgets_with_new_oids)
{
	struct server *s = content_start();
	char *token = content_user(s, "dup", "contributor", NULL);
	char *oid = create_dashboard(s, token, "Orig");
	char *w1 = create_widget(s, token, oid, "one", "chart/bar");
	char *w2 = create_widget(s, token, oid, "two", "pivot");
	char *path = pathf(API "/dashboards/%s/duplicate", oid);
	struct response *r = call(s, "POST", path, token, "{\"title\":\"Copy\"}");

	expect_status(r, 201, "duplicate");
	char *copy = string_of(r->json, "oid");
	cr_assert_str_neq(copy, oid);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Copy");
	/* The layout names the new widget oids, never the old ones. */
	char *layout = json_dumps(json_object_get(r->json, "layout"), JSON_COMPACT);
	cr_assert(strstr(layout, w1) == NULL && strstr(layout, w2) == NULL, "%s", layout);
	response_free(r);
	char *wpath = pathf(API "/dashboards/%s/widgets", copy);
	r = call(s, "GET", wpath, token, NULL);
	expect_status(r, 200, "copy widgets");
	cr_assert_eq(json_array_size(r->json), 2);
	size_t i;
	json_t *w;
	json_array_foreach(r->json, i, w)
	{
		const char *woid = json_string_value(json_object_get(w, "oid"));
		cr_assert(strcmp(woid, w1) != 0 && strcmp(woid, w2) != 0);
		cr_assert(strstr(layout, woid) != NULL, "layout lacks %s: %s", woid, layout);
		cr_assert_str_eq(json_string_value(json_object_get(w, "dashboardid")), copy);
	}
	response_free(r);
	/* The original keeps its widgets. */
	free(wpath);
	wpath = pathf(API "/dashboards/%s/widgets", oid);
	r = call(s, "GET", wpath, token, NULL);
	cr_assert(list_has(r->json, "oid", w1) && list_has(r->json, "oid", w2));
	response_free(r);
	free(layout), free(wpath), free(copy), free(path), free(w1), free(w2), free(oid),
	    free(token);
	cr_assert_eq(server_stop(s), 0);
}

Test(dashboards, change_owner_and_bulk_delete)
{
	struct server *s = content_start();
	char *old_id, *old = content_user(s, "old", "contributor", &old_id);
	char *new_id, *neu = content_user(s, "new", "contributor", &new_id);
	char *viewer_id, *viewer = content_user(s, "view", "consumer", &viewer_id);
	char *oid = create_dashboard(s, old, "Handover");
	char *w = create_widget(s, old, oid, "w", "chart/line");
	char *path = pathf(API "/dashboards/%s/change_owner", oid);
	struct response *r;

	r = call(s, "POST", path, neu, "{\"ownerId\":\"%s\",\"originalOwnerRule\":\"edit\"}",
	         new_id);
	assert_error(r, 404, 10001);
	response_free(r);
	r = call(s, "POST", path, old, "{\"ownerId\":\"%s\",\"originalOwnerRule\":\"edit\"}",
	         viewer_id);
	assert_error(r, 400, 1008);
	response_free(r);
	r = call(s, "POST", path, old, "{\"ownerId\":\"" UNKNOWN_OID "\"}");
	assert_error(r, 404, 2001);
	response_free(r);
	r = call(s, "POST", path, old, "{\"ownerId\":\"%s\",\"originalOwnerRule\":\"view\"}",
	         new_id);
	expect_status(r, 200, "change_owner");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), new_id);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "oid")), oid);
	response_free(r);
	/* The previous owner keeps a view share; the widgets follow. */
	char *dpath = pathf(API "/dashboards/%s", oid);
	r = call(s, "PATCH", dpath, old, "{\"title\":\"x\"}");
	assert_error(r, 403, 1300);
	response_free(r);
	char *wpath = pathf(API "/dashboards/%s/widgets/%s", oid, w);
	r = call(s, "GET", wpath, neu, NULL);
	expect_status(r, 200, "widget of new owner");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), new_id);
	response_free(r);

	char *b1 = create_dashboard(s, neu, "B1");
	char *b2 = create_dashboard(s, neu, "B2");
	char *other = create_dashboard(s, old, "NotYours");
	char *bulk = pathf(API "/dashboards/bulk?dashboardIds=%s,%s", b1, other);
	r = call(s, "DELETE", bulk, neu, NULL);
	assert_error(r, 404, 10001);
	response_free(r);
	free(bulk);
	bulk = pathf(API "/dashboards/bulk?dashboardIds=%s", oid);
	r = call(s, "DELETE", bulk, old, NULL);
	assert_error(r, 403, 1305);
	response_free(r);
	free(bulk);
	bulk = pathf(API "/dashboards/bulk?dashboardIds=%s%%2C%s", b1, b2);
	cr_assert_eq(status_of(s, "DELETE", bulk, neu), 200);
	char *p1 = pathf(API "/dashboards/%s", b1);
	cr_assert_eq(status_of(s, "GET", p1, neu), 404);
	free(p1);
	p1 = pathf(API "/dashboards/%s", other);
	cr_assert_eq(status_of(s, "GET", p1, old), 200);
	free(p1), free(bulk), free(b1), free(b2), free(other), free(wpath), free(dpath), free(path);
	free(w), free(oid), free(old), free(old_id), free(neu), free(new_id), free(viewer);
	free(viewer_id);
	cr_assert_eq(server_stop(s), 0);
}

Test(dashboards, admin_list_and_replace_datasource)
{
	struct server *s = content_start();
	char *id, *token = content_user(s, "someone", "contributor", &id);
	char *a = create_dashboard(s, token, "UsesSample");
	char *b = create_dashboard(s, token, "AlsoSample");
	char *w = create_widget(s, token, a, "w", "chart/bar");
	char *wpath = pathf(API "/dashboards/%s/widgets/%s", a, w);
	struct response *r =
	    call(s, "PATCH", wpath, token,
	         "{\"datasource\":{\"title\":\"Sample\",\"address\":\"LocalHost\"}}");
	expect_status(r, 200, "widget datasource");
	response_free(r);

	cr_assert_eq(status_of(s, "GET", API "/dashboards/admin", token), 403);
	r = call(s, "GET", API "/dashboards/admin?name=UsesSample&ownerInfo=true", admin_token(s),
	         NULL);
	expect_status(r, 200, "admin list");
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(json_array_get(r->json, 0), "ownerInfo"), "email")),
	                 "someone@sensed.test");
	response_free(r);
	r = call(s, "GET", API "/dashboards/admin?datasourceTitle=Sample&dashboardType=owner",
	         admin_token(s), NULL);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	response_free(r);

	r = call(s, "POST", API "/dashboards/LocalHost/Sample/replace_datasource", token,
	         "{\"datasource\":{\"title\":\"New\",\"address\":\"LocalHost\"}}");
	cr_assert_eq(r->status, 403);
	response_free(r);
	char *one = pathf(API "/dashboards/LocalHost/Sample/replace_datasource?dashboardId=%s", b);
	r = call(s, "POST", one, admin_token(s),
	         "{\"datasource\":{\"title\":\"Only\",\"address\":\"LocalHost\"}}");
	expect_status(r, 200, "replace one");
	cr_assert_eq(json_integer_value(json_object_get(r->json, "dashboards")), 1);
	response_free(r);
	r = call(s, "POST", API "/dashboards/LocalHost/Sample/replace_datasource", admin_token(s),
	         "{\"datasource\":{\"title\":\"New\",\"address\":\"LocalHost\","
	         "\"id\":\"n\"}}");
	expect_status(r, 200, "replace");
	cr_assert_eq(json_integer_value(json_object_get(r->json, "dashboards")), 1, "%s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "widgets")), 1, "%s", r->body);
	response_free(r);
	char *path = pathf(API "/dashboards/%s", a);
	r = call(s, "GET", path, token, NULL);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "datasource"), "title")),
	    "New");
	response_free(r);
	r = call(s, "GET", wpath, token, NULL);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "datasource"), "title")),
	    "New");
	response_free(r);
	r = call(s, "POST", API "/dashboards/LocalHost/Sample/replace_datasource", admin_token(s),
	         "{\"datasource\":{}}");
	assert_error(r, 400, 1008);
	response_free(r);
	free(path), free(one), free(wpath), free(w), free(a), free(b), free(token), free(id);
	cr_assert_eq(server_stop(s), 0);
}
