/* Import and export with the real .dash file: round-trip unchanged, bulk import
 * actions (skip, overwrite, duplicate), importFolder, republish, single import,
 * undo_Import, and the export headers. */
#include "api/content_test.h"

#define FIXTURE     SENSED_SHARED_DIR "/fixtures/real-export.dash"
#define REAL_OID    "5fd3c237b98b256ae45a49bf"
#define REAL_WIDGET "5fd3c248b98b256ae45a49c2"

static json_t *fixture(void)
{
	json_error_t err;
	json_t *doc = json_load_file(FIXTURE, 0, &err);

	cr_assert_not_null(doc, "%s: %s", FIXTURE, err.text);
	cr_assert(json_is_array(doc));
	return doc;
}

static struct response *import_bulk(struct server *s, const char *token, const char *query,
                                    const json_t *body)
{
	char *path = pathf(API "/dashboards/import/bulk%s", query);
	struct response *r = call_json(s, "POST", path, token, body);

	free(path);
	return r;
}

static size_t count_of(const struct response *r, const char *key)
{
	return json_array_size(json_object_get(r->json, key));
}

Test(import_export, real_dash_file_round_trips)
{
	struct server *s = content_start();
	char *token = content_user(s, "importer", "contributor", NULL);
	json_t *file = fixture();
	struct response *r = import_bulk(s, token, "", file);

	expect_status(r, 201, "import");
	cr_assert_eq(count_of(r, "succeded"), 1, "%s", r->body);
	cr_assert_eq(count_of(r, "skipped"), 0);
	cr_assert_eq(count_of(r, "failed"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(r->json, "succeded"), 0), "oid")),
	                 REAL_OID);
	response_free(r);

	/* The stored dashboard is the file's, plus the server's own fields. */
	r = call(s, "GET", API "/dashboards/" REAL_OID "/widgets/" REAL_WIDGET, token, NULL);
	expect_status(r, 200, "imported widget");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "dashboardid")), REAL_OID);
	response_free(r);

	/* Export: the exact JSON tree of the file (the server strips only its own
	 * fields). */
	r = call(s, "GET", API "/dashboards/export?dashboardIds=" REAL_OID, token, NULL);
	expect_status(r, 200, "export");
	cr_assert(json_equal(r->json, file), "round trip differs:\n%s", r->body);
	cr_assert(strstr(response_header(r, "Content-Type"), "application/json") != NULL);
	cr_assert(strstr(response_header(r, "Content-Disposition"), "attachment") != NULL);
	response_free(r);
	r = call(s, "GET", API "/dashboards/export?dashboardId=" REAL_OID, token, NULL);
	cr_assert(json_equal(r->json, file));
	response_free(r);
	r = call(s, "GET", API "/dashboards/" REAL_OID "/export/dash", token, NULL);
	expect_status(r, 200, "export one");
	cr_assert(json_equal(r->json, json_array_get(file, 0)), "%s", r->body);
	cr_assert_str_eq(response_header(r, "Content-Disposition"),
	                 "attachment; filename=\"PySense.dash\"");
	response_free(r);
	r = call(s, "GET", API "/dashboards/export?dashboardIds=" UNKNOWN_OID, token, NULL);
	assert_error(r, 404, 10001);
	response_free(r);
	/* Nobody else can export it. */
	char *other = content_user(s, "other", "contributor", NULL);
	cr_assert_eq(status_of(s, "GET", API "/dashboards/" REAL_OID "/export/dash", other), 404);
	free(other);
	json_decref(file);
	free(token);
	cr_assert_eq(server_stop(s), 0);
}

Test(import_export, bulk_actions_and_undo_import)
{
	struct server *s = content_start();
	char *token = content_user(s, "bulk", "contributor", NULL);
	char *thief = content_user(s, "thief", "contributor", NULL);
	json_t *file = fixture();
	struct response *r = import_bulk(s, token, "", file);

	expect_status(r, 201, "first import");
	response_free(r);
	/* Default and skip: nothing changes. */
	r = import_bulk(s, token, "?action=skip", file);
	expect_status(r, 201, "skip");
	cr_assert_eq(count_of(r, "skipped"), 1, "%s", r->body);
	cr_assert_eq(count_of(r, "succeded"), 0);
	response_free(r);

	/* Overwrite keeps the replaced version for undo_Import. */
	r = call(s, "PATCH", API "/dashboards/" REAL_OID, token, "{\"title\":\"Local edit\"}");
	expect_status(r, 200, "local edit");
	response_free(r);
	r = import_bulk(s, token, "?action=overwrite", file);
	expect_status(r, 201, "overwrite");
	cr_assert_eq(count_of(r, "succeded"), 1, "%s", r->body);
	response_free(r);
	r = call(s, "GET", API "/dashboards/" REAL_OID, token, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "PySense");
	response_free(r);
	r = call(s, "GET", API "/dashboards/" REAL_OID "/widgets", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	cr_assert_eq(status_of(s, "POST", API "/dashboards/" REAL_OID "/undo_Import", token), 204);
	r = call(s, "GET", API "/dashboards/" REAL_OID, token, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Local edit");
	response_free(r);
	r = call(s, "POST", API "/dashboards/" REAL_OID "/undo_Import", token, NULL);
	assert_error(r, 404, 1306);
	response_free(r);

	/* Another user cannot overwrite it, but may import a duplicate. */
	r = import_bulk(s, thief, "?action=overwrite", file);
	expect_status(r, 201, "foreign overwrite");
	cr_assert_eq(count_of(r, "failed"), 1, "%s", r->body);
	cr_assert_eq(
	    json_integer_value(json_object_get(
	        json_object_get(json_array_get(json_object_get(r->json, "failed"), 0), "error"),
	        "code")),
	    1305);
	response_free(r);
	r = import_bulk(s, thief, "?action=duplicate&importFolder=Imported", file);
	expect_status(r, 201, "duplicate");
	cr_assert_eq(count_of(r, "succeded"), 1, "%s", r->body);
	json_t *copy = json_array_get(json_object_get(r->json, "succeded"), 0);
	const char *copy_oid = json_string_value(json_object_get(copy, "oid"));
	cr_assert_str_neq(copy_oid, REAL_OID);
	char *folder_oid = string_of(copy, "parentFolder");
	char *wpath = pathf(API "/dashboards/%s/widgets", copy_oid);
	char *layout = json_dumps(json_object_get(copy, "layout"), JSON_COMPACT);
	response_free(r);
	r = call(s, "GET", wpath, thief, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	const char *woid = json_string_value(json_object_get(json_array_get(r->json, 0), "oid"));
	cr_assert_str_neq(woid, REAL_WIDGET);
	cr_assert(strstr(layout, woid) != NULL && strstr(layout, REAL_WIDGET) == NULL, "%s",
	          layout);
	response_free(r);
	r = call(s, "GET", API "/folders?name=Imported", thief, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", folder_oid));
	response_free(r);

	/* Bad input. */
	r = import_bulk(s, token, "?action=merge", file);
	assert_error(r, 400, 1008);
	response_free(r);
	json_t *bad = json_pack("[{s:i}]", "title", 5);
	r = import_bulk(s, token, "", bad);
	expect_status(r, 201, "bad item");
	cr_assert_eq(count_of(r, "failed"), 1);
	response_free(r);
	json_decref(bad);
	free(layout), free(wpath), free(folder_oid);
	json_decref(file);
	free(token), free(thief);
	cr_assert_eq(server_stop(s), 0);
}

Test(import_export, single_import_and_republish)
{
	struct server *s = content_start();
	char *token = content_user(s, "single", "contributor", NULL);
	char *viewer_id, *viewer = content_user(s, "seer", "consumer", &viewer_id);
	json_t *file = fixture();
	json_t *one = json_deep_copy(json_array_get(file, 0));
	struct response *r = call_json(s, "POST", API "/dashboards/import", token, one);

	expect_status(r, 201, "import one");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "oid")), REAL_OID);
	response_free(r);
	r = call(s, "PATCH", API "/dashboards/" REAL_OID, token,
	         "{\"shares\":[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"view\"}]}",
	         viewer_id);
	expect_status(r, 200, "share");
	response_free(r);
	/* An overwrite with republish reaches the recipient at once; without it, not.
	 */
	json_object_set_new(one, "title", json_string("Renamed"));
	json_t *list = json_pack("[O]", one);
	r = import_bulk(s, token, "?action=overwrite", list);
	expect_status(r, 201, "overwrite");
	response_free(r);
	r = call(s, "GET", API "/dashboards/" REAL_OID, viewer, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "PySense");
	response_free(r);
	r = import_bulk(s, token, "?action=overwrite&republish=true", list);
	expect_status(r, 201, "overwrite republish");
	response_free(r);
	r = call(s, "GET", API "/dashboards/" REAL_OID, viewer, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Renamed");
	response_free(r);
	/* Viewers cannot import. */
	r = call_json(s, "POST", API "/dashboards/import/bulk", viewer, list);
	cr_assert_eq(r->status, 403);
	response_free(r);
	json_decref(list), json_decref(one), json_decref(file);
	free(token), free(viewer), free(viewer_id);
	cr_assert_eq(server_stop(s), 0);
}
