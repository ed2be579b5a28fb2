/* POST /dashboards/copy between two running instances on loopback: the target
 * is a trusted server (server_access) holding the target's admin token;
 * untrusted targets are refused with 400. */
#include "api/content_test.h"

Test(copy, copies_between_two_instances)
{
	struct server *source = content_start();
	struct server *target = content_start();
	char *token = content_user(source, "copier", "contributor", NULL);
	char *oid = create_dashboard(source, token, "Travelling");
	char *w = create_widget(source, token, oid, "w", "chart/bar");
	char url[64];
	struct response *r;

	snprintf(url, sizeof url, "http://127.0.0.1:%d", server_port(target));
	/* Not trusted yet: 400. */
	r = call(source, "POST", API "/dashboards/copy", token,
	         "{\"dashboardIds\":[\"%s\"],\"server\":\"%s\"}", oid, url);
	assert_error(r, 400, 1303);
	response_free(r);
	r = call(source, "POST", API "/authentication/server_access", admin_token(source),
	         "{\"server\":\"%s\",\"token\":\"%s\"}", url, admin_token(target));
	cr_assert(r->status == 200 || r->status == 201, "server_access: %d %s", r->status, r->body);
	response_free(r);

	r = call(source, "POST", API "/dashboards/copy?republish=true", token,
	         "{\"dashboardIds\":[\"%s\"],\"server\":\"%s/\"}", oid, url);
	expect_status(r, 200, "copy");
	cr_assert_eq(json_array_size(json_object_get(r->json, "succeded")), 1, "%s", r->body);
	response_free(r);
	char *path = pathf(API "/dashboards/%s?expand=widgets", oid);
	r = call(target, "GET", path, admin_token(target), NULL);
	expect_status(r, 200, "on target");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "title")), "Travelling");
	cr_assert(list_has(json_object_get(r->json, "widgets"), "oid", w), "%s", r->body);
	response_free(r);

	/* A second copy overwrites (default action); skip reports it skipped. */
	r = call(source, "POST", API "/dashboards/copy", token,
	         "{\"dashboardIds\":[\"%s\"],\"server\":\"%s\",\"action\":\"skip\"}", oid, url);
	expect_status(r, 200, "copy skip");
	cr_assert_eq(json_array_size(json_object_get(r->json, "skipped")), 1, "%s", r->body);
	response_free(r);
	r = call(source, "POST", API "/dashboards/copy", token,
	         "{\"dashboardIds\":[\"" UNKNOWN_OID "\"],\"server\":\"%s\"}", url);
	assert_error(r, 404, 10001);
	response_free(r);
	r = call(source, "POST", API "/dashboards/copy", token, "{\"server\":\"%s\"}", url);
	assert_error(r, 400, 1008);
	response_free(r);
	free(path), free(w), free(oid), free(token);
	cr_assert_eq(server_stop(target), 0);
	cr_assert_eq(server_stop(source), 0);
}

Test(copy, unreachable_target_is_502)
{
	struct server *source = content_start();
	char *token = content_user(source, "copier2", "contributor", NULL);
	char *oid = create_dashboard(source, token, "Nowhere");
	struct response *r;

	/* A trusted server nobody listens on (port 9 is discard, closed on loopback).
	 */
	r = call(source, "POST", API "/authentication/server_access", admin_token(source),
	         "{\"server\":\"http://127.0.0.1:9\",\"token\":\"abc\"}");
	cr_assert(r->status == 200 || r->status == 201, "%d %s", r->status, r->body);
	response_free(r);
	r = call(source, "POST", API "/dashboards/copy?force=true", token,
	         "{\"dashboardIds\":[\"%s\"],\"server\":\"http://127.0.0.1:9\"}", oid);
	assert_error(r, 502, 1304);
	response_free(r);
	free(oid), free(token);
	cr_assert_eq(server_stop(source), 0);
}
