/* Sharing and publishing, from the owner's, an editor's and a viewer's side:
 * shares set with PATCH and the v0.9 API, publish/restore, local changes,
 * view-only 403s, group shares, removal of access, and that unshared dashboards
 * stay invisible. */
#include "api/content_test.h"

struct cast {
	struct server *s;
	char *owner, *owner_id;
	char *editor, *editor_id;
	char *viewer, *viewer_id;
	char *outsider, *outsider_id;
};

static void cast_start(struct cast *c)
{
	c->s = content_start();
	c->owner = content_user(c->s, "owner", "contributor", &c->owner_id);
	c->editor = content_user(c->s, "editor", "contributor", &c->editor_id);
	c->viewer = content_user(c->s, "viewer", "consumer", &c->viewer_id);
	c->outsider = content_user(c->s, "outsider", "contributor", &c->outsider_id);
}

static void cast_stop(struct cast *c)
{
	free(c->owner), free(c->owner_id), free(c->editor), free(c->editor_id);
	free(c->viewer), free(c->viewer_id), free(c->outsider), free(c->outsider_id);
	cr_assert_eq(server_stop(c->s), 0);
}

static void share(struct cast *c, const char *oid, const char *shares_json)
{
	char *path = pathf(API "/dashboards/%s", oid);
	struct response *r = call(c->s, "PATCH", path, c->owner, "{\"shares\":%s}", shares_json);

	expect_status(r, 200, "share");
	response_free(r);
	free(path);
}

static char *title_seen(struct server *s, const char *oid, const char *token)
{
	char *path = pathf(API "/dashboards/%s", oid);
	struct response *r = call(s, "GET", path, token, NULL);
	char *title;

	expect_status(r, 200, "get dashboard");
	title = string_of(r->json, "title");
	response_free(r);
	free(path);
	return title;
}

static void expect_title(struct server *s, const char *oid, const char *token, const char *title)
{
	char *t = title_seen(s, oid, token);

	cr_assert_str_eq(t, title);
	free(t);
}

static int listed(struct server *s, const char *oid, const char *token)
{
	struct response *r = call(s, "GET", API "/dashboards", token, NULL);
	int found;

	expect_status(r, 200, "list");
	cr_assert(json_is_array(r->json));
	found = list_has(r->json, "oid", oid);
	response_free(r);
	return found;
}

Test(sharing, unshared_dashboards_are_invisible)
{
	struct cast c;
	cast_start(&c);
	char *oid = create_dashboard(c.s, c.owner, "Private");
	char *path = pathf(API "/dashboards/%s", oid);
	struct response *r = call(c.s, "GET", path, c.outsider, NULL);

	assert_error(r, 404, 10001);
	response_free(r);
	cr_assert(!listed(c.s, oid, c.outsider));
	cr_assert(!listed(c.s, oid, c.viewer));
	cr_assert(listed(c.s, oid, c.owner));
	/* Guessing does not help: every action answers the same 404. */
	r = call(c.s, "PATCH", path, c.outsider, "{\"title\":\"x\"}");
	assert_error(r, 404, 10001);
	response_free(r);
	cr_assert_eq(status_of(c.s, "DELETE", path, c.outsider), 404);
	free(path);
	path = pathf(API "/dashboards/%s/widgets", oid);
	cr_assert_eq(status_of(c.s, "GET", path, c.outsider), 404);
	free(path);
	path = pathf(API "/dashboards/%s/export/dash", oid);
	cr_assert_eq(status_of(c.s, "GET", path, c.outsider), 404);
	free(path);
	free(oid);
	cast_stop(&c);
}

Test(sharing, owner_editor_viewer_rules)
{
	struct cast c;
	cast_start(&c);
	char *oid = create_dashboard(c.s, c.owner, "V1");
	char *path = pathf(API "/dashboards/%s", oid);
	char *shares = pathf("[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"view\"},"
	                     "{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"edit\"}]",
	                     c.viewer_id, c.editor_id);
	struct response *r;

	share(&c, oid, shares);
	/* Both recipients see it, in lists too; the viewer's copy is a user instance.
	 */
	cr_assert(listed(c.s, oid, c.viewer));
	cr_assert(listed(c.s, oid, c.editor));
	r = call(c.s, "GET", path, c.viewer, NULL);
	expect_status(r, 200, "viewer get");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "instanceType")), "user");
	cr_assert(json_is_null(json_object_get(r->json, "parentFolder")));
	response_free(r);

	/* The owner's unpublished change is not what the viewer sees; the editor
	 * works on the owner's copy. */
	r = call(c.s, "PATCH", path, c.owner, "{\"title\":\"V2\"}");
	expect_status(r, 200, "owner patch");
	response_free(r);
	expect_title(c.s, oid, c.viewer, "V1");
	expect_title(c.s, oid, c.editor, "V2");
	char *pub = pathf(API "/dashboards/%s/publish", oid);
	cr_assert_eq(status_of(c.s, "POST", pub, c.owner), 204);
	expect_title(c.s, oid, c.viewer, "V2");

	/* The viewer cannot change the definition, publish, share or delete. */
	r = call(c.s, "PATCH", path, c.viewer, "{\"title\":\"hacked\"}");
	assert_error(r, 403, 1300);
	response_free(r);
	r = call(c.s, "POST", pub, c.viewer, NULL);
	assert_error(r, 403, 1300);
	response_free(r);
	r = call(c.s, "PATCH", path, c.viewer, "{\"shares\":[]}");
	assert_error(r, 403, 1300);
	response_free(r);
	r = call(c.s, "DELETE", path, c.viewer, NULL);
	assert_error(r, 403, 1305);
	response_free(r);
	char *widgets = pathf(API "/dashboards/%s/widgets", oid);
	r = call(c.s, "POST", widgets, c.viewer, "{\"title\":\"w\",\"type\":\"chart/bar\"}");
	assert_error(r, 403, 1300);
	response_free(r);
	expect_title(c.s, oid, c.owner, "V2");

	/* The editor changes the shared definition and publishes, but cannot
	 * share/delete. */
	r = call(c.s, "PATCH", path, c.editor, "{\"title\":\"V3\"}");
	expect_status(r, 200, "editor patch");
	response_free(r);
	expect_title(c.s, oid, c.owner, "V3");
	char *wid = create_widget(c.s, c.editor, oid, "by editor", "chart/bar");
	r = call(c.s, "PATCH", path, c.editor, "{\"shares\":[]}");
	assert_error(r, 403, 1305);
	response_free(r);
	r = call(c.s, "DELETE", path, c.editor, NULL);
	assert_error(r, 403, 1305);
	response_free(r);
	cr_assert_eq(status_of(c.s, "POST", pub, c.editor), 204);
	expect_title(c.s, oid, c.viewer, "V3");
	r = call(c.s, "GET", widgets, c.viewer, NULL);
	expect_status(r, 200, "viewer widgets");
	cr_assert(list_has(r->json, "oid", wid));
	response_free(r);

	/* Removing a share removes access. */
	char *only_editor =
	    pathf("[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"edit\"}]", c.editor_id);
	share(&c, oid, only_editor);
	r = call(c.s, "GET", path, c.viewer, NULL);
	assert_error(r, 404, 10001);
	response_free(r);
	cr_assert(!listed(c.s, oid, c.viewer));
	cr_assert(listed(c.s, oid, c.editor));
	free(only_editor), free(wid), free(widgets), free(pub), free(shares), free(path), free(oid);
	cast_stop(&c);
}

Test(sharing, viewer_local_changes_and_restore)
{
	struct cast c;
	cast_start(&c);
	char *oid = create_dashboard(c.s, c.owner, "Filters");
	char *path = pathf(API "/dashboards/%s", oid);
	char *shares =
	    pathf("[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"view\"}]", c.viewer_id);
	struct response *r;

	r = call(c.s, "PATCH", path, c.owner,
	         "{\"filters\":[{\"jaql\":{\"dim\":\"[T.a]\",\"title\":\"published\"}}]}");
	expect_status(r, 200, "owner filters");
	response_free(r);
	share(&c, oid, shares);
	r = call(c.s, "PATCH", path, c.viewer,
	         "{\"filters\":[{\"jaql\":{\"dim\":\"[T.a]\",\"title\":\"mine\"}}],"
	         "\"layout\":{\"type\":\"columnar\",\"columns\":[]}}");
	expect_status(r, 200, "viewer local change");
	cr_assert_str_eq(
	    json_string_value(json_object_get(
	        json_object_get(json_array_get(json_object_get(r->json, "filters"), 0), "jaql"),
	        "title")),
	    "mine");
	response_free(r);
	/* The owner's copy is untouched; the viewer keeps its change across a
	 * publish. */
	r = call(c.s, "GET", path, c.owner, NULL);
	cr_assert(strstr(r->body, "published") != NULL && strstr(r->body, "mine") == NULL);
	response_free(r);
	char *pub = pathf(API "/dashboards/%s/publish", oid);
	cr_assert_eq(status_of(c.s, "POST", pub, c.owner), 204);
	r = call(c.s, "GET", path, c.viewer, NULL);
	cr_assert(strstr(r->body, "mine") != NULL, "%s", r->body);
	response_free(r);
	/* restore returns to the published version. */
	char *restore = pathf(API "/dashboards/%s/restore", oid);
	cr_assert_eq(status_of(c.s, "POST", restore, c.viewer), 204);
	r = call(c.s, "GET", path, c.viewer, NULL);
	cr_assert(strstr(r->body, "published") != NULL && strstr(r->body, "mine") == NULL, "%s",
	          r->body);
	response_free(r);
	/* force publish discards local changes. */
	r = call(c.s, "PATCH", path, c.viewer, "{\"filters\":[{\"jaql\":{\"title\":\"mine2\"}}]}");
	expect_status(r, 200, "viewer local change 2");
	response_free(r);
	free(pub);
	pub = pathf(API "/dashboards/%s/publish?force=true", oid);
	cr_assert_eq(status_of(c.s, "POST", pub, c.owner), 204);
	r = call(c.s, "GET", path, c.viewer, NULL);
	cr_assert(strstr(r->body, "mine2") == NULL, "%s", r->body);
	response_free(r);
	/* The owner's restore discards unpublished changes. */
	r = call(c.s, "PATCH", path, c.owner, "{\"title\":\"unpublished\"}");
	response_free(r);
	cr_assert_eq(status_of(c.s, "POST", restore, c.owner), 204);
	char *t = title_seen(c.s, oid, c.owner);
	cr_assert_str_eq(t, "Filters");
	free(t), free(restore), free(pub), free(shares), free(path), free(oid);
	cast_stop(&c);
}

static char *group_id(struct server *s, const char *name)
{
	char *path = pathf(API "/groups?name=%s", name);
	struct response *r = call(s, "GET", path, admin_token(s), NULL);
	char *id;

	expect_status(r, 200, "groups");
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	id = string_of(json_array_get(r->json, 0), "_id");
	response_free(r);
	free(path);
	return id;
}

Test(sharing, group_shares_reach_members)
{
	struct cast c;
	cast_start(&c);
	char *oid = create_dashboard(c.s, c.owner, "Team");
	char *path = pathf(API "/dashboards/%s", oid);
	struct response *r =
	    call(c.s, "POST", API "/groups", admin_token(c.s), "{\"name\":\"team\"}");

	expect_status(r, 201, "create group");
	char *team = string_of(r->json, "_id");
	response_free(r);
	char *user_path = pathf(API "/users/%s", c.viewer_id);
	r = call(c.s, "PATCH", user_path, admin_token(c.s), "{\"groups\":[\"%s\"]}", team);
	expect_status(r, 200, "add viewer to group");
	response_free(r);
	char *shares = pathf("[{\"shareId\":\"%s\",\"type\":\"group\",\"rule\":\"view\"}]", team);
	share(&c, oid, shares);
	char *viewer = login(c.s, "viewer@sensed.test", USER_PASSWORD);
	cr_assert_eq(status_of(c.s, "GET", path, viewer), 200);
	cr_assert(listed(c.s, oid, viewer));
	cr_assert_eq(status_of(c.s, "GET", path, c.outsider), 404);
	r = call(c.s, "PATCH", path, viewer, "{\"title\":\"x\"}");
	assert_error(r, 403, 1300);
	response_free(r);
	/* The system group "Everyone" reaches every user. */
	char *everyone = group_id(c.s, "Everyone");
	free(shares);
	shares = pathf("[{\"shareId\":\"%s\",\"type\":\"group\",\"rule\":\"view\"}]", everyone);
	share(&c, oid, shares);
	cr_assert_eq(status_of(c.s, "GET", path, c.outsider), 200);
	free(everyone), free(viewer), free(shares), free(user_path), free(team), free(path);
	free(oid);
	cast_stop(&c);
}

Test(sharing, shares_endpoints_and_v09_api)
{
	struct cast c;
	cast_start(&c);
	char *oid = create_dashboard(c.s, c.owner, "Shares");
	char *v09 = pathf("/api/shares/dashboard/%s", oid);
	struct response *r;

	r = call(c.s, "POST", v09, c.owner,
	         "{\"sharesTo\":[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":\"view\","
	         "\"subscribe\":false}]}",
	         c.viewer_id);
	expect_status(r, 200, "v0.9 set");
	response_free(r);
	r = call(c.s, "GET", v09, c.viewer, NULL);
	expect_status(r, 200, "v0.9 get");
	json_t *to = json_object_get(r->json, "sharesTo");
	cr_assert(list_has(to, "shareId", c.viewer_id) && list_has(to, "shareId", c.owner_id));
	response_free(r);
	r = call(c.s, "POST", v09, c.viewer, "{\"sharesTo\":[]}");
	assert_error(r, 403, 1305);
	response_free(r);

	char *shares = pathf(API "/dashboards/%s/shares?expand=user,group", oid);
	r = call(c.s, "GET", shares, c.owner, NULL);
	expect_status(r, 200, "shares");
	cr_assert(json_is_array(r->json));
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	json_t *entry = json_array_get(r->json, 1);
	cr_assert_str_eq(json_string_value(json_object_get(entry, "rule")), "view");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(entry, "user"), "email")),
	    "viewer@sensed.test");
	cr_assert_null(json_object_get(json_array_get(r->json, 0), "rule"), "owner has no rule");
	response_free(r);
	free(shares);
	shares = pathf(API "/dashboards/%s/shares?expand=nope", oid);
	r = call(c.s, "GET", shares, c.owner, NULL);
	assert_error(r, 404, 202);
	response_free(r);
	free(shares);
	shares = pathf(API "/dashboards/%s/shares", oid);
	cr_assert_eq(status_of(c.s, "GET", shares, c.outsider), 404);
	/* Invalid shares are rejected whole. */
	char *path = pathf(API "/dashboards/%s", oid);
	r = call(c.s, "PATCH", path, c.owner,
	         "{\"shares\":[{\"shareId\":\"" UNKNOWN_OID
	         "\",\"type\":\"user\",\"rule\":\"view\"}]}");
	assert_error(r, 400, 1008);
	response_free(r);
	r = call(c.s, "PATCH", path, c.owner,
	         "{\"shares\":[{\"shareId\":\"%s\",\"type\":\"user\",\"rule\":"
	         "\"admin\"}]}",
	         c.viewer_id);
	assert_error(r, 400, 1008);
	response_free(r);
	cr_assert_eq(status_of(c.s, "GET", path, c.viewer), 200);
	free(path), free(shares), free(v09), free(oid);
	cast_stop(&c);
}
