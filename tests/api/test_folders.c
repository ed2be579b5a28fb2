/* Folders: create (parentId), get, list (name, ids, flat/tree, expand),
 * subtree, ancestors, rename, move (cycles refused), change owner, delete with
 * the subtree and its dashboards; folders are per owner. */
#include "api/content_test.h"

static char *folder(struct server *s, const char *token, const char *name, const char *parent)
{
	struct response *r =
	    parent ? call(s, "POST", API "/folders", token, "{\"name\":\"%s\",\"parentId\":\"%s\"}",
	                  name, parent)
	           : call(s, "POST", API "/folders", token, "{\"name\":\"%s\"}", name);
	char *oid;

	expect_status(r, 201, "create folder");
	oid = string_of(r->json, "oid");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "_id")), oid);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), name);
	response_free(r);
	return oid;
}

Test(folders, tree_operations)
{
	struct server *s = content_start();
	char *id, *token = content_user(s, "foldy", "contributor", &id);
	char *other = content_user(s, "other", "contributor", NULL);
	char *root = folder(s, token, "Root", NULL);
	char *child = folder(s, token, "Child", root);
	char *leaf = folder(s, token, "Leaf", child);
	struct response *r;

	char *p = pathf(API "/folders/%s", leaf);
	r = call(s, "GET", p, token, NULL);
	expect_status(r, 200, "get");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "parentId")), child);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), id);
	response_free(r);
	/* Another user sees none of them. */
	r = call(s, "GET", p, other, NULL);
	assert_error(r, 404, 1301);
	response_free(r);
	r = call(s, "GET", API "/folders", other, NULL);
	cr_assert_eq(json_array_size(r->json), 0);
	response_free(r);

	r = call(s, "GET", API "/folders", token, NULL);
	cr_assert_eq(json_array_size(r->json), 3);
	response_free(r);
	r = call(s, "GET", API "/folders?name=Child", token, NULL);
	cr_assert_eq(json_array_size(r->json), 1);
	cr_assert(list_has(r->json, "oid", child));
	response_free(r);
	char *q = pathf(API "/folders?ids=%s,%s&sort=name", root, leaf);
	r = call(s, "GET", q, token, NULL);
	cr_assert_eq(json_array_size(r->json), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 0), "name")),
	                 "Leaf");
	response_free(r);
	r = call(s, "GET", API "/folders?structure=tree", token, NULL);
	expect_status(r, 200, "tree");
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	json_t *kids = json_object_get(json_array_get(r->json, 0), "folders");
	cr_assert(list_has(kids, "oid", child));
	cr_assert(list_has(json_object_get(json_array_get(kids, 0), "folders"), "oid", leaf));
	response_free(r);
	cr_assert_eq(status_of(s, "GET", API "/folders?structure=weird", token), 400);
	r = call(s, "GET", API "/folders?expand=what", token, NULL);
	assert_error(r, 404, 202);
	response_free(r);

	/* A dashboard in the leaf: expand=dashboards, subtree, ancestors. */
	char *dash = create_dashboard(s, token, "InLeaf");
	char *dp = pathf(API "/dashboards/%s", dash);
	r = call(s, "PATCH", dp, token, "{\"parentFolder\":\"%s\"}", leaf);
	expect_status(r, 200, "move dashboard");
	response_free(r);
	char *ep = pathf(API "/folders/%s?expand=dashboards,owner", leaf);
	r = call(s, "GET", ep, token, NULL);
	cr_assert(list_has(json_object_get(r->json, "dashboards"), "oid", dash), "%s", r->body);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "owner"), "email")),
	    "foldy@sensed.test");
	response_free(r);
	char *sp = pathf(API "/folders/%s/subtree", root);
	r = call(s, "GET", sp, token, NULL);
	expect_status(r, 200, "subtree");
	json_t *c = json_array_get(json_object_get(r->json, "folders"), 0);
	json_t *l = json_array_get(json_object_get(c, "folders"), 0);
	cr_assert(list_has(json_object_get(l, "dashboards"), "oid", dash), "%s", r->body);
	response_free(r);
	char *ap = pathf(API "/folders/%s/ancestors", leaf);
	r = call(s, "GET", ap, token, NULL);
	expect_status(r, 200, "ancestors");
	cr_assert_eq(json_array_size(r->json), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 0), "oid")),
	                 root);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r->json, 1), "oid")),
	                 child);
	response_free(r);

	/* Rename, move, and refuse a cycle. */
	char *rp = pathf(API "/folders/%s", root);
	r = call(s, "PATCH", rp, token, "{\"name\":\"Top\"}");
	expect_status(r, 200, "rename");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "Top");
	response_free(r);
	r = call(s, "PATCH", rp, token, "{\"parentId\":\"%s\"}", leaf);
	assert_error(r, 400, 1302);
	response_free(r);
	r = call(s, "PATCH", rp, token, "{\"parentId\":\"%s\"}", root);
	assert_error(r, 400, 1302);
	response_free(r);
	r = call(s, "PATCH", p, token, "{\"parentId\":null}");
	expect_status(r, 200, "move to root");
	cr_assert(json_is_null(json_object_get(r->json, "parentId")));
	response_free(r);
	r = call(s, "PATCH", p, token, "{\"parentId\":\"%s\"}", root);
	expect_status(r, 200, "move back");
	response_free(r);
	r = call(s, "POST", API "/folders", token, "{\"name\":\"\"}");
	assert_error(r, 400, 1008);
	response_free(r);
	r = call(s, "POST", API "/folders", token,
	         "{\"name\":\"x\",\"parentId\":\"" UNKNOWN_OID "\"}");
	assert_error(r, 404, 1301);
	response_free(r);

	/* Delete removes the subtree and the dashboards in it. */
	cr_assert_eq(status_of(s, "DELETE", rp, other), 404);
	cr_assert_eq(status_of(s, "DELETE", rp, token), 204);
	cr_assert_eq(status_of(s, "GET", p, token), 404);
	char *cp = pathf(API "/folders/%s", child);
	cr_assert_eq(status_of(s, "GET", cp, token), 404);
	cr_assert_eq(status_of(s, "GET", dp, token), 404);
	free(cp), free(rp), free(ap), free(sp), free(ep), free(dp), free(dash), free(q), free(p);
	free(root), free(child), free(leaf), free(token), free(id), free(other);
	cr_assert_eq(server_stop(s), 0);
}

Test(folders, change_owner_moves_subtree_and_dashboards)
{
	struct server *s = content_start();
	char *a_id, *a = content_user(s, "givera", "contributor", &a_id);
	char *b_id, *b = content_user(s, "takerb", "contributor", &b_id);
	char *top = folder(s, a, "Top", NULL);
	char *sub = folder(s, a, "Sub", top);
	char *dash = create_dashboard(s, a, "Moved");
	char *dp = pathf(API "/dashboards/%s", dash);
	struct response *r = call(s, "PATCH", dp, a, "{\"parentFolder\":\"%s\"}", sub);

	expect_status(r, 200, "file dashboard");
	response_free(r);
	char *sp = pathf(API "/folders/%s", sub);
	r = call(s, "PATCH", sp, a, "{\"owner\":\"%s\"}", b_id);
	expect_status(r, 200, "change owner");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), b_id);
	cr_assert(json_is_null(json_object_get(r->json, "parentId")));
	response_free(r);
	cr_assert_eq(status_of(s, "GET", sp, a), 404);
	cr_assert_eq(status_of(s, "GET", sp, b), 200);
	r = call(s, "GET", dp, b, NULL);
	expect_status(r, 200, "dashboard follows");
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), b_id);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "parentFolder")), sub);
	response_free(r);
	cr_assert_eq(status_of(s, "GET", dp, a), 404);
	r = call(s, "PATCH", sp, b, "{\"owner\":\"" UNKNOWN_OID "\"}");
	assert_error(r, 404, 2001);
	response_free(r);
	free(sp), free(dp), free(dash), free(top), free(sub), free(a), free(a_id), free(b),
	    free(b_id);
	cr_assert_eq(server_stop(s), 0);
}
