/* /groups and /api/roles end to end: system groups, create/update/delete, filters,
 * expand=users (done by the plugin) and role, removal from members on delete. */
#include "api/users_support.h"

#define GROUPS "/api/v1/groups"

static char *group_id_by_name(struct server *s, const char *name)
{
	struct response *r = reqf(s, "GET", admin_token(s), NULL, GROUPS "?name=%s", name);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 1, "%s: %s", name, r->body);
	char *id = strdup(str(json_array_get(r->json, 0), "_id"));
	response_free(r);
	return id;
}

Test(groups, system_groups_exist_and_cannot_be_deleted_or_renamed)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *everyone = group_id_by_name(s, "Everyone");
	char *all = group_id_by_name(s, "All+users+in+system");
	expect_error(reqf(s, "DELETE", token, NULL, GROUPS "/%s", everyone), 400, 1222);
	expect_error(reqf(s, "DELETE", token, NULL, GROUPS "/%s", all), 400, 1222);
	expect_error(reqf(s, "PATCH", token, "{\"name\": \"Nobody\"}", GROUPS "/%s", everyone), 400,
	             1222);
	/* other fields of a system group may change; the same name is fine */
	struct response *r =
	    reqf(s, "PATCH", token, "{\"name\": \"Everyone\", \"mail\": \"e@m.test\"}",
	         GROUPS "/%s", everyone);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "mail"), "e@m.test");
	response_free(r);
	free(everyone);
	free(all);
	cr_assert_eq(server_stop(s), 0);
}

Test(groups, create_get_update_delete)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	struct response *r =
	    req(s, "POST", GROUPS, token,
	        "{\"name\": \"Sales\", \"mail\": \"sales@m.test\", \"role\": \"viewer\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	char *id = strdup(str(r->json, "_id"));
	char *viewer = role_id(s, "consumer");
	cr_assert_str_eq(str(r->json, "name"), "Sales");
	cr_assert_str_eq(str(r->json, "mail"), "sales@m.test");
	cr_assert_str_eq(str(r->json, "roleId"), viewer);
	cr_assert(json_is_false(json_object_get(r->json, "ad")));
	cr_assert(is_wire_date(str(r->json, "created")), "%s", r->body);
	cr_assert(is_wire_date(str(r->json, "lastUpdated")), "%s", r->body);
	response_free(r);

	r = reqf(s, "GET", token, NULL, GROUPS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "name"), "Sales");
	json_t *full = json_deep_copy(r->json);
	response_free(r);

	/* duplicate name, missing / empty / bad fields */
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": \"Sales\"}"), 400, 1221);
	expect_error(req(s, "POST", GROUPS, token, "{\"mail\": \"x@m.test\"}"), 422, 2003);
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": \"\"}"), 400, 2009);
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": 5}"), 400, 1008);
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": \"n\", \"roleId\": \"nope\"}"), 400,
	             1008);
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": \"n\", \"owner\": \"x\"}"), 400,
	             1008);
	expect_error(req(s, "POST", GROUPS, token, "[]"), 400, 1008);
	expect_error(req(s, "POST", GROUPS, token, "{\"name\": "), 400, 1001);

	/* a full field set sent back with one change */
	json_object_set_new(full, "name", json_string("Sales EMEA"));
	json_object_set_new(full, "roleId", json_string("contributor"));
	char *text = json_dumps(full, JSON_COMPACT);
	r = reqf(s, "PATCH", token, text, GROUPS "/%s", id);
	free(text);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "name"), "Sales EMEA");
	char *designer = role_id(s, "contributor");
	cr_assert_str_eq(str(r->json, "roleId"), designer);
	cr_assert_str_eq(str(r->json, "created"), str(full, "created"));
	response_free(r);
	/* a read-only field changed */
	expect_error(reqf(s, "PATCH", token, "{\"created\": \"2001-01-01T00:00:00.000Z\"}",
	                  GROUPS "/%s", id),
	             400, 1008);
	/* rename onto another group's name */
	char *other = new_group(s, "Support");
	expect_error(reqf(s, "PATCH", token, "{\"name\": \"Support\"}", GROUPS "/%s", id), 400,
	             1221);
	expect_error(reqf(s, "PATCH", token, "{\"name\": \"\"}", GROUPS "/%s", id), 400, 2009);

	/* ids: 422 for a malformed one, 404 for an unknown one */
	expect_error(req(s, "GET", GROUPS "/not-an-id", token, NULL), 422, 601);
	expect_error(req(s, "PATCH", GROUPS "/not-an-id", token, "{}"), 422, 601);
	expect_error(req(s, "DELETE", GROUPS "/not-an-id", token, NULL), 422, 601);
	r = req(s, "GET", GROUPS "/" NOBODY, token, NULL);
	assert_error(r, 404, 1220);
	cr_assert_str_eq(str(json_object_get(r->json, "error"), "resourceType"), "group");
	response_free(r);
	expect_error(req(s, "PATCH", GROUPS "/" NOBODY, token, "{}"), 404, 1220);
	expect_error(req(s, "DELETE", GROUPS "/" NOBODY, token, NULL), 404, 1220);

	cr_assert_eq(status_of(reqf(s, "DELETE", token, NULL, GROUPS "/%s", id)), 204);
	expect_error(reqf(s, "GET", token, NULL, GROUPS "/%s", id), 404, 1220);
	json_decref(full);
	free(id);
	free(other);
	free(viewer);
	free(designer);
	cr_assert_eq(server_stop(s), 0);
}

Test(groups, filters_list_options_and_expand)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	cr_assert_eq(
	    status_of(req(s, "POST", GROUPS, token,
	                  "{\"name\": \"alpha\", \"mail\": \"a@m.test\", \"roleId\": \"admin\"}")),
	    201);
	cr_assert_eq(status_of(req(s, "POST", GROUPS, token, "{\"name\": \"beta\", \"ad\": true}")),
	             201);
	char *alpha = group_id_by_name(s, "alpha");
	char *beta = group_id_by_name(s, "beta");
	char *admin_role = role_id(s, "admin");

	struct response *r = req(s, "GET", GROUPS, token, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_array_size(r->json), 4, "%s", r->body);
	response_free(r);
	r = req(s, "GET", GROUPS "?mail=a@m.test", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	r = reqf(s, "GET", token, NULL, GROUPS "?roleId=%s", admin_role);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "name"), "alpha");
	response_free(r);
	r = req(s, "GET", GROUPS "?role=admin", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	r = req(s, "GET", GROUPS "?origin=ad", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "name"), "beta");
	response_free(r);
	r = req(s, "GET", GROUPS "?origin=sisense", token, NULL);
	cr_assert_eq(json_array_size(r->json), 3, "%s", r->body);
	response_free(r);
	expect_error(req(s, "GET", GROUPS "?origin=mars", token, NULL), 400, 1008);
	r = reqf(s, "GET", token, NULL, GROUPS "?ids=%s,%s", alpha, beta);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	response_free(r);
	expect_error(req(s, "GET", GROUPS "?ids=zz", token, NULL), 422, 601);
	/* names sort by bytes: beta, alpha, Everyone, All users in system */
	r = req(s, "GET", GROUPS "?sort=-name&skip=1&limit=2&fields=name", token, NULL);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "name"), "alpha");
	cr_assert_str_eq(str(json_array_get(r->json, 1), "name"), "Everyone");
	cr_assert_null(json_object_get(json_array_get(r->json, 0), "mail"));
	response_free(r);

	/* expand=role, expand=users (members through users.groups), nested users.role */
	char *member = new_user(s, token, "m1@m.test", "contributor");
	cr_assert_eq(status_of(reqf(s, "PATCH", token, "", "/api/v1/users/%s", member)), 400);
	char body[256];
	snprintf(body, sizeof body, "{\"groups\": [\"%s\"]}", alpha);
	cr_assert_eq(status_of(reqf(s, "PATCH", token, body, "/api/v1/users/%s", member)), 200);
	r = reqf(s, "GET", token, NULL, GROUPS "/%s?expand=role,users.role", alpha);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(json_object_get(r->json, "role"), "name"), "admin", "%s", r->body);
	json_t *users = json_object_get(r->json, "users");
	cr_assert_eq(json_array_size(users), 1, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(users, 0), "_id"), member);
	cr_assert_str_eq(str(json_object_get(json_array_get(users, 0), "role"), "name"),
	                 "contributor");
	response_free(r);
	r = req(s, "GET", GROUPS "?expand=users&sort=name", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	size_t i;
	json_t *group;
	json_array_foreach(r->json, i, group)
	{
		cr_assert(json_is_array(json_object_get(group, "users")), "%s", r->body);
		cr_assert_eq(json_array_size(json_object_get(group, "users")),
		             strcmp(str(group, "name"), "alpha") == 0 ? 1 : 0, "%s", r->body);
	}
	response_free(r);
	expect_error(req(s, "GET", GROUPS "?expand=owner", token, NULL), 404, 202);
	expect_error(req(s, "GET", GROUPS "?expand=users.nothing", token, NULL), 404, 202);
	expect_error(reqf(s, "GET", token, NULL, GROUPS "/%s?expand=nothing", alpha), 404, 202);
	free(alpha);
	free(beta);
	free(admin_role);
	free(member);
	cr_assert_eq(server_stop(s), 0);
}

Test(groups, delete_removes_the_group_from_its_members)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *keep = new_group(s, "keep");
	char *gone = new_group(s, "gone");
	char *u1 = new_user(s, token, "u1@m.test", "consumer");
	char *u2 = new_user(s, token, "u2@m.test", "consumer");
	char body[256];
	snprintf(body, sizeof body, "{\"groups\": [\"%s\", \"%s\"]}", gone, keep);
	cr_assert_eq(status_of(reqf(s, "PATCH", token, body, "/api/v1/users/%s", u1)), 200);
	snprintf(body, sizeof body, "{\"groups\": [\"%s\"]}", gone);
	cr_assert_eq(status_of(reqf(s, "PATCH", token, body, "/api/v1/users/%s", u2)), 200);
	struct response *r = reqf(s, "GET", token, NULL, "/api/v1/users?groupId=%s", gone);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	response_free(r);

	r = reqf(s, "DELETE", token, NULL, GROUPS "/%s", gone);
	cr_assert_eq(r->status, 204, "%d %s", r->status, r->body);
	response_free(r);
	r = reqf(s, "GET", token, NULL, "/api/v1/users/%s", u1);
	json_t *groups = json_object_get(r->json, "groups");
	cr_assert_eq(json_array_size(groups), 1, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_array_get(groups, 0)), keep);
	response_free(r);
	r = reqf(s, "GET", token, NULL, "/api/v1/users/%s", u2);
	cr_assert_eq(json_array_size(json_object_get(r->json, "groups")), 0, "%s", r->body);
	response_free(r);
	r = reqf(s, "GET", token, NULL, "/api/v1/users?groupId=%s", gone);
	cr_assert_eq(json_array_size(r->json), 0, "%s", r->body);
	response_free(r);
	free(keep);
	free(gone);
	free(u1);
	free(u2);
	cr_assert_eq(server_stop(s), 0);
}

Test(roles, list_and_get_by_id_or_name)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	struct response *r = req(s, "GET", "/api/roles", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 6, "%s", r->body);
	static const char *const names[] = {"super",        "admin",       "dataAdmin",
	                                    "dataDesigner", "contributor", "consumer"};
	for (size_t n = 0; n < 6; n++) {
		int found = 0;
		size_t i;
		json_t *role;
		json_array_foreach(r->json, i, role)
		{
			if (strcmp(str(role, "name"), names[n]) != 0)
				continue;
			found = 1;
			cr_assert_eq(strlen(str(role, "_id")), 24);
			cr_assert_not_null(str(role, "baseRoleName"));
			cr_assert_not_null(str(role, "desc"));
		}
		cr_assert(found, "no role %s: %s", names[n], r->body);
	}
	response_free(r);
	char *admin = role_id(s, "admin");
	r = req(s, "GET", "/api/roles/admin", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "_id"), admin);
	response_free(r);
	r = reqf(s, "GET", token, NULL, "/api/roles/%s", admin);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "name"), "admin");
	response_free(r);
	r = req(s, "GET", "/api/roles/viewer", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "name"), "consumer");
	response_free(r);
	expect_error(req(s, "GET", "/api/roles/emperor", token, NULL), 404, 1223);
	expect_error(req(s, "GET", "/api/roles/" NOBODY, token, NULL), 404, 1223);
	free(admin);
	cr_assert_eq(server_stop(s), 0);
}
