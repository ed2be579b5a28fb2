/* Folders: per-owner trees that hold dashboards.  A folder is addressed by oid
 * (its _id is the same value); parentId is the oid of another folder of the
 * same owner, or null at the root.  Nobody sees another user's folders (404
 * 1301). */
#include "content.h"

#include <stdlib.h>
#include <string.h>

/* Deepest folder tree we nest or walk: stored data must not drive unbounded
 * recursion. */
#define FOLDER_MAX_DEPTH 64

static const char *const folder_expands[] = {"owner", "dashboards", NULL};
#define EXPAND_DASHBOARDS (1u << 1)

/* The caller's folder `oid` (new reference), or SENSED_ENOTFOUND. */
static int folder_open(sensed_txn *txn, sensed_request *req, const char *oid, json_t **out)
{
	json_t *doc = NULL;
	const char *owner;
	int err;

	*out = NULL;
	if (oid == NULL || !host->is_object_id(oid))
		return SENSED_ENOTFOUND;
	if ((err = host->doc_get(txn, store.folders, oid, &doc)) != 0)
		return err;
	owner = json_string_value(json_object_get(doc, "owner"));
	if (owner == NULL || strcmp(owner, host->request_user_id(req)) != 0) {
		json_decref(doc);
		return SENSED_ENOTFOUND;
	}
	*out = doc;
	return 0;
}

static void reply_folder_error(sensed_request *req, int err, const char *oid)
{
	if (err == SENSED_ENOTFOUND)
		reply_folder_not_found(req, oid);
	else
		host->reply_store_error(req, err);
}

static int find_all(sensed_txn *txn, sensed_collection *coll, json_t *filter, const char *fields,
                    json_t **out)
{
	sensed_query q = SENSED_QUERY_INIT;

	q.filter = filter;
	q.fields = fields;
	q.limit = 1000000;
	return host->find(txn, coll, &q, out);
}

/* Append `oid` and the oids of every folder below it (breadth first) to `out`.
 */
static int folder_descendants(sensed_txn *txn, const char *oid, json_t *out)
{
	size_t start = json_array_size(out);
	int err = 0;

	json_array_append_new(out, json_string(oid));
	for (size_t i = start; err == 0 && i < json_array_size(out); i++) {
		json_t *filter = json_pack("{s:O}", "parentId", json_array_get(out, i)),
		       *kids = NULL;
		size_t k;
		json_t *kid;

		err = filter ? find_all(txn, store.folders, filter, "oid", &kids) : SENSED_ENOMEM;
		json_array_foreach(kids, k, kid)
		    json_array_append(out, json_object_get(kid, "oid"));
		json_decref(kids);
		json_decref(filter);
	}
	return err;
}

/* The owner's dashboards in folder `oid`: full documents, or {oid, title} when
 * `brief`. New reference. */
static json_t *folder_dashboards(sensed_txn *txn, const char *owner, const json_t *oid, int brief)
{
	json_t *filter = json_pack("{s:s, s:O}", "owner", owner, "parentFolder", oid), *out = NULL;

	if (filter == NULL ||
	    find_all(txn, store.dashboards, filter, brief ? "oid,title,-_id" : NULL, &out) != 0)
		out = json_array();
	json_decref(filter);
	return out;
}

/* Nest `node`'s child folders ("folders") and dashboards, recursively. */
static void folder_nest(sensed_txn *txn, const char *owner, json_t *node, int depth)
{
	json_t *filter =
	    json_pack("{s:s, s:O}", "owner", owner, "parentId", json_object_get(node, "oid"));
	json_t *kids = NULL, *kid;
	size_t i;

	if (filter != NULL && depth < FOLDER_MAX_DEPTH &&
	    find_all(txn, store.folders, filter, NULL, &kids) == 0) {
		json_array_foreach(kids, i, kid) folder_nest(txn, owner, kid, depth + 1);
	}
	json_object_set_new(node, "folders", kids != NULL ? kids : json_array());
	json_object_set_new(node, "dashboards",
	                    folder_dashboards(txn, owner, json_object_get(node, "oid"), 1));
	json_decref(filter);
}

static int shape_folder(sensed_txn *txn, const sensed_query *q, unsigned manual, json_t *folder,
                        const char *owner)
{
	int err = 0;

	if (q->fields != NULL || q->expand != NULL)
		err = host->shape(txn, store.folders, q, folder);
	if (err == 0 && (manual & EXPAND_DASHBOARDS))
		json_object_set_new(
		    folder, "dashboards",
		    folder_dashboards(txn, owner, json_object_get(folder, "oid"), 0));
	return err;
}

/* GET /folders[?name=&ids=&structure=flat|tree&expand=owner,dashboards]: the
 * caller's folders, flat (with list options), or the root folders with their
 * subtrees nested. */
static void list_folders(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, shape = SENSED_QUERY_INIT;
	const char *uid = host->request_user_id(req);
	const char *name = host->request_query(req, "name");
	const char *structure = host->request_query(req, "structure");
	json_t *ids = host->request_query_list(req, "ids");
	json_t *filter, *out = NULL, *folder;
	char *declared = NULL;
	unsigned manual = 0;
	int err, tree;
	size_t i;

	(void)arg;
	if (host->request_list_query(req, &q) != 0)
		return;
	if (structure != NULL && strcmp(structure, "flat") != 0 && strcmp(structure, "tree") != 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "structure must be flat or tree");
		return;
	}
	tree = structure != NULL && strcmp(structure, "tree") == 0;
	if (expand_split(req, q.expand, folder_expands, 1, &declared, &manual) != 0)
		return;
	filter = json_pack("{s:s}", "owner", uid);
	if (name != NULL)
		json_object_set_new(filter, "name", json_string(name));
	if (json_array_size(ids) > 0)
		json_object_set_new(filter, "oid", json_pack("{s:O}", "$in", ids));
	if (tree && name == NULL && json_array_size(ids) == 0)
		json_object_set_new(filter, "parentId", json_null());
	q.filter = filter;
	shape.fields = q.fields;
	shape.expand = declared;
	q.fields = NULL;
	q.expand = NULL;
	err = host->find(NULL, store.folders, &q, &out);
	json_array_foreach(out, i, folder)
	{
		if (tree)
			folder_nest(NULL, uid, folder, 0);
		if (err == 0)
			err = shape_folder(NULL, &shape, manual, folder, uid);
	}
	reply_json_or_error(req, err, 200, out);
	json_decref(out);
	json_decref(filter);
	free(declared);
}

/* GET /folders/{id}[?fields=&expand=] */
static void get_folder(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT;
	const char *oid = host->request_param(req, "id");
	json_t *folder = NULL;
	char *declared = NULL;
	unsigned manual = 0;
	int err;

	(void)arg;
	if (host->request_list_query(req, &q) != 0 ||
	    expand_split(req, q.expand, folder_expands, 1, &declared, &manual) != 0)
		return;
	q.expand = declared;
	if ((err = folder_open(NULL, req, oid, &folder)) == 0)
		err = shape_folder(NULL, &q, manual, folder, host->request_user_id(req));
	if (err == 0)
		host->reply_json(req, 200, folder);
	else
		reply_folder_error(req, err, oid);
	json_decref(folder);
	free(declared);
}

/* GET /folders/{id}/subtree: the folder with its folders and dashboards nested.
 */
static void get_subtree(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *folder = NULL;
	int err;

	(void)arg;
	if ((err = folder_open(NULL, req, oid, &folder)) != 0) {
		reply_folder_error(req, err, oid);
		return;
	}
	folder_nest(NULL, host->request_user_id(req), folder, 0);
	host->reply_json(req, 200, folder);
	json_decref(folder);
}

/* GET /folders/{id}/ancestors: the folders above it, root first. */
static void get_ancestors(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *folder = NULL, *out;
	int err, depth = 0;

	(void)arg;
	if ((err = folder_open(NULL, req, oid, &folder)) != 0) {
		reply_folder_error(req, err, oid);
		return;
	}
	out = json_array();
	while (depth++ < FOLDER_MAX_DEPTH) {
		const char *parent = json_string_value(json_object_get(folder, "parentId"));
		json_t *next = NULL;

		if (parent == NULL || folder_open(NULL, req, parent, &next) != 0)
			break;
		json_array_insert(out, 0, next);
		json_decref(folder);
		folder = next;
	}
	json_decref(folder);
	host->reply_json(req, 200, out);
	json_decref(out);
}

/* Check a requested parent: null, or one of the caller's folders.  Replies on
 * error. */
static int parent_valid(sensed_txn *txn, sensed_request *req, const json_t *parent)
{
	json_t *doc = NULL;
	int err;

	if (parent == NULL || json_is_null(parent))
		return 0;
	if (!json_is_string(parent)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "parentId must be a folder id or null");
		return SENSED_EINVAL;
	}
	err = folder_open(txn, req, json_string_value(parent), &doc);
	json_decref(doc);
	if (err != 0)
		reply_folder_error(req, err, json_string_value(parent));
	return err;
}

/* POST /folders {name, parentId?} -> 201 folder */
static void create_folder(sensed_request *req, void *arg)
{
	json_t *body = NULL, *folder, *parent;
	const char *uid = host->request_user_id(req);
	const char *name, *given;
	char oid[25];
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (name == NULL || name[0] == '\0') {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "name is required and must be a non-empty string");
		return;
	}
	parent = json_object_get(body, "parentId");
	if (parent_valid(NULL, req, parent) != 0)
		return;
	given = json_string_value(json_object_get(body, "oid"));
	if (given != NULL && host->is_object_id(given))
		memcpy(oid, given, 25);
	else
		host->object_id(oid);
	folder = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "_id", oid, "oid", oid, "name",
	                   name, "owner", uid, "userId", uid, "type", "folder", "parentId",
	                   parent != NULL ? parent : json_null());
	if (folder == NULL) {
		reply_oom(req);
		return;
	}
	err = host->doc_insert(NULL, store.folders, folder, NULL);
	if (err == SENSED_EEXISTS || err == SENSED_EUNIQUE)
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "folder oid already exists");
	else if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, folder);
	json_decref(folder);
}

/* Give the folders `oids` and the old owner's dashboards in them to
 * `new_owner`. */
static int folders_transfer_txn(sensed_txn *txn, const char *old_owner, const json_t *oids,
                                const char *new_owner)
{
	size_t i;
	json_t *oid;
	int err = 0;

	json_array_foreach(oids, i, oid)
	{
		json_t *folder = NULL, *dashboards, *dash;
		size_t d;

		if ((err = host->doc_get(txn, store.folders, json_string_value(oid), &folder)) != 0)
			return err;
		json_object_set_new(folder, "owner", json_string(new_owner));
		json_object_set_new(folder, "userId", json_string(new_owner));
		err = host->doc_replace(txn, store.folders, json_string_value(oid), folder);
		json_decref(folder);
		dashboards = folder_dashboards(txn, old_owner, oid, 0);
		json_array_foreach(dashboards, d, dash)
		{
			if (err == 0)
				err = dash_transfer_txn(txn, dash, new_owner, NULL, 1);
		}
		json_decref(dashboards);
		if (err != 0)
			return err;
	}
	return 0;
}

/* PATCH /folders/{id} {name?, parentId?, owner?} -> 200 folder.  A new owner
 * receives the folder (at its root), its subtree and the dashboards in them. */
static void update_folder(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	const char *uid = host->request_user_id(req);
	json_t *body = NULL, *folder = NULL, *value, *subtree = json_array();
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0) {
		json_decref(subtree);
		return;
	}
	if (!json_is_object(body)) {
		json_decref(subtree);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "body must be an object");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		json_decref(subtree);
		host->reply_store_error(req, err);
		return;
	}
	if ((err = folder_open(txn, req, oid, &folder)) != 0 ||
	    (err = folder_descendants(txn, oid, subtree)) != 0) {
		reply_folder_error(req, err, oid);
		goto abort;
	}
	if ((value = json_object_get(body, "name")) != NULL) {
		if (!json_is_string(value) || json_string_length(value) == 0) {
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
			                  "name must be a non-empty string");
			goto abort;
		}
		json_object_set(folder, "name", value);
	}
	if ((value = json_object_get(body, "parentId")) != NULL) {
		if (parent_valid(txn, req, value) != 0)
			goto abort;
		for (size_t i = 0; json_is_string(value) && i < json_array_size(subtree); i++)
			if (strcmp(json_string_value(json_array_get(subtree, i)),
			           json_string_value(value)) == 0) {
				host->reply_error(req, 400, SENSED_CODE_FOLDER_CYCLE, NULL);
				goto abort;
			}
		json_object_set(folder, "parentId", value);
	}
	value = json_object_get(body, "owner");
	if (value != NULL &&
	    !(json_is_string(value) && strcmp(json_string_value(value), uid) == 0)) {
		enum sensed_role role;
		const char *new_owner = json_string_value(value);

		if (new_owner == NULL || user_role(txn, new_owner, &role) != 0) {
			host->reply_error(req, 404, SENSED_CODE_USER_NOT_FOUND, NULL);
			goto abort;
		}
		/* The folder leaves the old owner's tree: it lands at the new owner's root.
		 */
		json_object_set_new(folder, "parentId", json_null());
		if ((err = host->doc_replace(txn, store.folders, oid, folder)) != 0 ||
		    (err = folders_transfer_txn(txn, uid, subtree, new_owner)) != 0) {
			host->reply_store_error(req, err);
			goto abort;
		}
		json_decref(folder);
		folder = NULL;
		err = host->doc_get(txn, store.folders, oid, &folder);
	} else {
		err = host->doc_replace(txn, store.folders, oid, folder);
	}
	if (err != 0) {
		host->reply_store_error(req, err);
		goto abort;
	}
	if ((err = host->txn_commit(txn)) != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 200, folder);
	json_decref(folder);
	json_decref(subtree);
	return;
abort:
	host->txn_abort(txn);
	json_decref(folder);
	json_decref(subtree);
}

/* DELETE /folders/{id}: the folder, its subtree and the dashboards in them, in
 * one transaction -> 204 */
static void delete_folder(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	const char *uid = host->request_user_id(req);
	json_t *folder = NULL, *subtree = json_array(), *id;
	sensed_txn *txn = NULL;
	size_t i;
	int err;

	(void)arg;
	if (subtree == NULL || (err = host->txn_begin(1, &txn)) != 0) {
		json_decref(subtree);
		reply_oom(req);
		return;
	}
	if ((err = folder_open(txn, req, oid, &folder)) != 0) {
		host->txn_abort(txn);
		json_decref(subtree);
		reply_folder_error(req, err, oid);
		return;
	}
	json_decref(folder);
	err = folder_descendants(txn, oid, subtree);
	json_array_foreach(subtree, i, id)
	{
		json_t *dashboards, *dash;
		size_t d;

		if (err != 0)
			break;
		dashboards = folder_dashboards(txn, uid, id, 1);
		json_array_foreach(dashboards, d, dash)
		{
			if (err == 0)
				err = dash_delete_txn(
				    txn, json_string_value(json_object_get(dash, "oid")));
		}
		json_decref(dashboards);
		if (err == 0)
			err = host->doc_delete(txn, store.folders, json_string_value(id));
	}
	json_decref(subtree);
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 204);
}

int folders_init(sensed_plugin *self)
{
	int err;

	if ((err = host->route_add(self, SENSED_GET, "/folders", SENSED_ROLE_CONSUMER, list_folders,
	                           NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/folders", SENSED_ROLE_CONSUMER,
	                           create_folder, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/folders/{id}", SENSED_ROLE_CONSUMER,
	                           get_folder, NULL)) ||
	    (err = host->route_add(self, SENSED_PATCH, "/folders/{id}", SENSED_ROLE_CONSUMER,
	                           update_folder, NULL)) ||
	    (err = host->route_add(self, SENSED_DELETE, "/folders/{id}", SENSED_ROLE_CONSUMER,
	                           delete_folder, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/folders/{id}/subtree", SENSED_ROLE_CONSUMER,
	                           get_subtree, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/folders/{id}/ancestors",
	                           SENSED_ROLE_CONSUMER, get_ancestors, NULL)))
		return err;
	return 0;
}
