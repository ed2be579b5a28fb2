/* Dashboards: list, CRUD, duplicate, change_owner, publish/restore, the admin
 * list and replace_datasource.  Access rules (README.md): the owner and "edit"
 * recipients work on the owner's copy; "view" recipients see the last published
 * version plus their own filters/layout; everybody else gets 404 10001, and
 * never sees the dashboard listed. */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const dash_expands[] = {"owner", "parentFolder", "widgets", NULL};
#define EXPAND_WIDGETS (1u << 2)

/* Fields a PATCH never sets (the server owns them, or other endpoints change
 * them). */
static const char *const patch_ignored[] = {"_id",     "oid",         "owner",       "userId",
                                            "created", "lastUpdated", "lastPublish", "instanceType",
                                            "widgets", "shares",      NULL};

/* Apply fields, declared expansions (q) and the widgets expansion to a view;
 * `widgets` is borrowed and may be NULL when not expanded. */
static int shape_view(sensed_txn *txn, const sensed_query *q, unsigned manual, json_t *view,
                      json_t *widgets)
{
	int err = 0;

	if (q->fields != NULL || q->expand != NULL)
		err = host->shape(txn, store.dashboards, q, view);
	if (err == 0 && (manual & EXPAND_WIDGETS) && widgets != NULL)
		json_object_set(view, "widgets", widgets);
	return err;
}

/* Replace each owner document of `list` by the caller's shaped view, in place.
 */
static int views_of(sensed_txn *txn, sensed_request *req, json_t *list, const sensed_query *shape,
                    unsigned manual, int admin)
{
	json_t *principals = principals_new(req), *dash;
	const char *uid = host->request_user_id(req);
	size_t i;
	int err = principals != NULL ? 0 : SENSED_ENOMEM;

	json_array_foreach(list, i, dash)
	{
		enum access access = admin ? ACCESS_OWNER : dash_access(dash, uid, principals);
		json_t *view = NULL, *widgets = NULL;

		if (err != 0)
			break;
		err = dash_view(txn, req, dash, access != ACCESS_NONE ? access : ACCESS_VIEW, &view,
		                (manual & EXPAND_WIDGETS) ? &widgets : NULL);
		if (err == 0)
			err = shape_view(txn, shape, manual, view, widgets);
		if (err == 0)
			json_array_set_new(list, i, view);
		else
			json_decref(view);
		json_decref(widgets);
	}
	json_decref(principals);
	return err;
}

static void add_filter(json_t *and, const char *field, const char *value)
{
	if (value != NULL)
		json_array_append_new(and, json_pack("{s:s}", field, value));
}

/* GET /dashboards: the caller's own dashboards and those shared with it. */
static void list_dashboards(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, shape = SENSED_QUERY_INIT;
	const char *uid = host->request_user_id(req);
	const char *folder = host->request_query(req, "parentFolder");
	json_t *principals, *and, *filter, *out = NULL;
	char *declared = NULL;
	unsigned manual = 0;
	int err;

	(void)arg;
	if (host->request_list_query(req, &q) != 0 ||
	    expand_split(req, q.expand, dash_expands, 2, &declared, &manual) != 0)
		return;
	principals = principals_new(req);
	and = json_array();
	json_array_append_new(and, json_pack("{s:[{s:s}, {s:{s:O}}]}", "$or", "owner", uid,
	                                     "shares.shareId", "$in", principals));
	/* Folders are the owner's: filtering by one lists only the caller's own. */
	if (folder != NULL)
		json_array_append_new(
		    and, json_pack("{s:s, s:s}", "owner", uid, "parentFolder", folder));
	add_filter(and, "title", host->request_query(req, "name"));
	add_filter(and, "datasource.title", host->request_query(req, "datasourceTitle"));
	add_filter(and, "datasource.address", host->request_query(req, "datasourceAddress"));
	filter = json_pack("{s:o}", "$and", and);
	shape.fields = q.fields;
	shape.expand = declared;
	q.filter = filter;
	q.fields = NULL;
	q.expand = NULL;
	err = host->find(NULL, store.dashboards, &q, &out);
	if (err == 0)
		err = views_of(NULL, req, out, &shape, manual, 0);
	reply_json_or_error(req, err, 200, out);
	json_decref(out);
	json_decref(filter);
	json_decref(principals);
	free(declared);
}

static json_t *owner_info_new(const char *owner)
{
	json_t *user = NULL, *info;

	if (owner == NULL || !host->is_object_id(owner) ||
	    host->doc_get(NULL, store.users, owner, &user) != 0)
		return json_null();
	info = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "_id", json_object_get(user, "_id"),
	                 "email", json_object_get(user, "email"), "userName",
	                 json_object_get(user, "userName"), "firstName",
	                 json_object_get(user, "firstName"), "lastName",
	                 json_object_get(user, "lastName"));
	json_decref(user);
	return info;
}

/* GET /dashboards/admin (admins): every dashboard (owner instances), filtered
 * by dashboardType (instanceType), id, name, parentFolder,
 * datasourceTitle/Address; ownerInfo=true adds {_id, email, userName,
 * firstName, lastName} of the owner. */
static void admin_dashboards(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, shape = SENSED_QUERY_INIT;
	json_t *and, *filter = NULL, *out = NULL, *dash;
	char *declared = NULL;
	unsigned manual = 0;
	size_t i;
	int err;

	(void)arg;
	if (host->request_list_query(req, &q) != 0 ||
	    expand_split(req, q.expand, dash_expands, 2, &declared, &manual) != 0)
		return;
	and = json_array();
	add_filter(and, "instanceType", host->request_query(req, "dashboardType"));
	add_filter(and, "oid", host->request_query(req, "id"));
	add_filter(and, "title", host->request_query(req, "name"));
	add_filter(and, "parentFolder", host->request_query(req, "parentFolder"));
	add_filter(and, "datasource.title", host->request_query(req, "datasourceTitle"));
	add_filter(and, "datasource.address", host->request_query(req, "datasourceAddress"));
	if (json_array_size(and) > 0)
		filter = json_pack("{s:O}", "$and", and);
	json_decref(and);
	shape.fields = q.fields;
	shape.expand = declared;
	q.filter = filter;
	q.fields = NULL;
	q.expand = NULL;
	err = host->find(NULL, store.dashboards, &q, &out);
	if (err == 0)
		err = views_of(NULL, req, out, &shape, manual, 1);
	if (err == 0 && query_bool(req, "ownerInfo", 0)) {
		json_array_foreach(out, i, dash)
		{
			json_object_set_new(
			    dash, "ownerInfo",
			    owner_info_new(json_string_value(json_object_get(dash, "owner"))));
		}
	}
	reply_json_or_error(req, err, 200, out);
	json_decref(out);
	json_decref(filter);
	free(declared);
}

/* GET /dashboards/{id}[?fields=&expand=widgets,parentFolder,owner] */
static void get_dashboard(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT;
	const char *oid = host->request_param(req, "id");
	json_t *dash = NULL, *view = NULL, *widgets = NULL;
	enum access access;
	char *declared = NULL;
	unsigned manual = 0;
	int err;

	(void)arg;
	if (host->request_list_query(req, &q) != 0 ||
	    expand_split(req, q.expand, dash_expands, 2, &declared, &manual) != 0)
		return;
	q.expand = declared;
	if (dash_open_for(NULL, req, oid, ACCESS_VIEW, &dash, &access) != 0) {
		free(declared);
		return;
	}
	/* The owner's plain read goes out as the stored bytes. */
	if (access == ACCESS_OWNER && q.fields == NULL && q.expand == NULL && manual == 0 &&
	    host->reply_document(req, store.dashboards, oid, NULL) == 0) {
		json_decref(dash);
		return;
	}
	err =
	    dash_view(NULL, req, dash, access, &view, (manual & EXPAND_WIDGETS) ? &widgets : NULL);
	if (err == 0)
		err = shape_view(NULL, &q, manual, view, widgets);
	reply_json_or_error(req, err, 200, view);
	json_decref(view);
	json_decref(widgets);
	json_decref(dash);
	free(declared);
}

/* Check a parentFolder value: null or one of `owner`'s folders.  Replies on
 * error. */
static int folder_valid(sensed_txn *txn, sensed_request *req, const json_t *value,
                        const char *owner)
{
	json_t *folder = NULL;
	const char *oid = json_string_value(value), *folder_owner;
	int ok;

	if (value == NULL || json_is_null(value))
		return 0;
	ok = oid != NULL && host->is_object_id(oid) &&
	     host->doc_get(txn, store.folders, oid, &folder) == 0 &&
	     (folder_owner = json_string_value(json_object_get(folder, "owner"))) != NULL &&
	     strcmp(folder_owner, owner) == 0;
	json_decref(folder);
	if (!ok) {
		reply_folder_not_found(req, oid);
		return SENSED_ENOTFOUND;
	}
	return 0;
}

/* POST /dashboards {title, ...; widgets? inlined} -> 201 dashboard */
static void create_dashboard(sensed_request *req, void *arg)
{
	const char *uid = host->request_user_id(req);
	json_t *body = NULL, *dash, *widgets, *shares, *renamed;
	const char *given, *message = NULL;
	sensed_txn *txn = NULL;
	char oid[25];
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body) || !json_is_string(json_object_get(body, "title"))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "a dashboard object with a title is required");
		return;
	}
	dash = json_deep_copy(body);
	renamed = json_object();
	if (dash == NULL || renamed == NULL) {
		json_decref(dash);
		json_decref(renamed);
		reply_oom(req);
		return;
	}
	widgets = json_incref(json_object_get(dash, "widgets"));
	shares = json_incref(json_object_get(dash, "shares"));
	json_object_del(dash, "widgets");
	strip_server_fields(dash);
	given = json_string_value(json_object_get(dash, "oid"));
	if (given != NULL && host->is_object_id(given))
		memcpy(oid, given, 25);
	else
		host->object_id(oid);
	dash_make_owned(dash, oid, uid);
	if (json_object_get(dash, "type") == NULL)
		json_object_set_new(dash, "type", json_string("dashboard"));
	if (json_object_get(dash, "parentFolder") == NULL)
		json_object_set_new(dash, "parentFolder", json_null());
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		goto out;
	}
	if (folder_valid(txn, req, json_object_get(dash, "parentFolder"), uid) != 0)
		goto abort;
	if (json_is_array(widgets) &&
	    (err = widgets_insert_txn(txn, oid, uid, widgets, 0, renamed)) != 0)
		goto fail;
	layout_rewrite(json_object_get(dash, "layout"), renamed);
	err = host->doc_insert(txn, store.dashboards, dash, NULL);
	if (err == SENSED_EEXISTS || err == SENSED_EUNIQUE) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "a dashboard with this oid already exists");
		goto abort;
	}
	if (err == 0 && shares != NULL &&
	    (err = shares_apply_txn(txn, dash, shares, &message)) == SENSED_EINVAL) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
		goto abort;
	}
	if (err != 0)
		goto fail;
	if ((err = host->txn_commit(txn)) != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, dash);
	goto out;
fail:
	host->reply_store_error(req, err);
abort:
	host->txn_abort(txn);
out:
	json_decref(dash);
	json_decref(widgets);
	json_decref(shares);
	json_decref(renamed);
}

/* A view-only recipient's PATCH: filters and layout become its local changes;
 * anything else is 403.  Replies on error. */
static int patch_as_viewer(sensed_txn *txn, sensed_request *req, const json_t *dash,
                           const json_t *body)
{
	const char *uid = host->request_user_id(req), *key;
	json_t *value, *filter, *local = NULL;
	char id[64];
	int err;

	json_object_foreach((json_t *)body, key, value)
	{
		if (strcmp(key, "filters") == 0 || strcmp(key, "layout") == 0)
			continue;
		/* Identity fields echoed back unchanged are harmless. */
		if ((strcmp(key, "oid") == 0 || strcmp(key, "_id") == 0) &&
		    json_equal(value, json_object_get(dash, "oid")))
			continue;
		host->reply_error(req, 403, SENSED_CODE_SHARE_READ_ONLY, NULL);
		return SENSED_EINVAL;
	}
	override_key(id, json_string_value(json_object_get(dash, "oid")), uid);
	filter = json_pack("{s:s}", "key", id);
	err = host->find_one(txn, store.overrides, filter, &local);
	json_decref(filter);
	if (err == SENSED_ENOTFOUND) {
		local = json_pack("{s:s, s:O, s:s}", "key", id, "oid", json_object_get(dash, "oid"),
		                  "userId", uid);
		err = local != NULL ? 0 : SENSED_ENOMEM;
	}
	if (err == 0) {
		if ((value = json_object_get(body, "filters")) != NULL)
			json_object_set(local, "filters", value);
		if ((value = json_object_get(body, "layout")) != NULL)
			json_object_set(local, "layout", value);
		err = json_object_get(local, "_id")
		          ? doc_replace_self(txn, store.overrides, local)
		          : host->doc_insert(txn, store.overrides, local, NULL);
	}
	json_decref(local);
	if (err != 0)
		host->reply_store_error(req, err);
	return err;
}

/* PATCH /dashboards/{id} -> 200 the caller's view */
static void update_dashboard(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *body = NULL, *dash = NULL, *view = NULL, *value;
	enum access access;
	sensed_txn *txn = NULL;
	const char *key, *message = NULL;
	int err;

	(void)arg;
	if (request_object(req, &body, "body must be an object") != 0 ||
	    dash_begin(req, oid, ACCESS_VIEW, &txn, &dash, &access) != 0)
		return;
	if (access == ACCESS_VIEW) {
		if (patch_as_viewer(txn, req, dash, body) != 0)
			goto abort;
		goto commit;
	}
	if (json_object_get(body, "shares") != NULL && access != ACCESS_OWNER) {
		host->reply_error(req, 403, SENSED_CODE_NOT_DASHBOARD_OWNER, NULL);
		goto abort;
	}
	if ((value = json_object_get(body, "title")) != NULL && !json_is_string(value)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "title must be a string");
		goto abort;
	}
	json_object_foreach(body, key, value)
	{
		int ignored = 0;

		for (int i = 0; patch_ignored[i] != NULL; i++)
			ignored |= strcmp(key, patch_ignored[i]) == 0;
		/* Editors do not see the owner's folders, so they cannot move the
		 * dashboard. */
		if (strcmp(key, "parentFolder") == 0) {
			if (access != ACCESS_OWNER)
				ignored = 1;
			else if (folder_valid(txn, req, value,
			                      json_string_value(json_object_get(dash, "owner"))) !=
			         0)
				goto abort;
		}
		if (!ignored)
			json_object_set(dash, key, value);
	}
	if ((err = host->doc_replace(txn, store.dashboards, oid, dash)) != 0) {
		host->reply_store_error(req, err);
		goto abort;
	}
	if ((value = json_object_get(body, "shares")) != NULL &&
	    (err = shares_apply_txn(txn, dash, value, &message)) != 0) {
		if (err == SENSED_EINVAL)
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
		else
			host->reply_store_error(req, err);
		goto abort;
	}
commit:
	json_decref(dash);
	dash = NULL;
	if ((err = host->txn_commit(txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	if ((err = dash_open(NULL, req, oid, &dash, &access)) == 0)
		err = dash_view(NULL, req, dash, access, &view, NULL);
	if (err == 0)
		host->reply_json(req, 200, view);
	else
		reply_dash_error(req, err, oid);
	json_decref(view);
	json_decref(dash);
	return;
abort:
	host->txn_abort(txn);
	json_decref(dash);
}

/* DELETE /dashboards/{id} (owner) -> 204 */
static void delete_dashboard(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *dash = NULL;
	sensed_txn *txn = NULL;

	(void)arg;
	if (dash_begin(req, oid, ACCESS_OWNER, &txn, &dash, NULL) != 0)
		return;
	json_decref(dash);
	if (txn_end(req, txn, dash_delete_txn(txn, oid)) == 0)
		host->reply_empty(req, 204);
}

/* DELETE /dashboards/bulk?dashboardIds=a,b (owner of each; all or nothing) ->
 * 200 */
static void delete_bulk(sensed_request *req, void *arg)
{
	json_t *ids = host->request_query_list(req, "dashboardIds"), *id;
	sensed_txn *txn = NULL;
	size_t i;
	int err;

	(void)arg;
	if (json_array_size(ids) == 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "dashboardIds is required");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	json_array_foreach(ids, i, id)
	{
		json_t *dash = NULL;

		if (dash_open_for(txn, req, json_string_value(id), ACCESS_OWNER, &dash, NULL) !=
		    0) {
			host->txn_abort(txn);
			return;
		}
		json_decref(dash);
		if ((err = dash_delete_txn(txn, json_string_value(id))) != 0)
			break;
	}
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 200);
}

/* POST /dashboards/{id}/duplicate {title?, parentFolder?} -> 201 the copy,
 * owned by the caller, with its widgets copied under new oids and the layout
 * rewritten to them. */
static void duplicate_dashboard(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	const char *uid = host->request_user_id(req);
	json_t *body = NULL, *dash = NULL, *view = NULL, *widgets = NULL, *renamed;
	enum access access;
	sensed_txn *txn = NULL;
	char fresh[25];
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0 ||
	    dash_begin(req, oid, ACCESS_VIEW, &txn, &dash, &access) != 0)
		return;
	renamed = json_object();
	if ((err = dash_view(txn, req, dash, access, &view, &widgets)) != 0)
		goto fail;
	strip_server_fields(view);
	host->object_id(fresh);
	dash_make_owned(view, fresh, uid);
	if (json_is_string(json_object_get(body, "title")))
		json_object_set(view, "title", json_object_get(body, "title"));
	if (json_object_get(body, "parentFolder") != NULL) {
		if (folder_valid(txn, req, json_object_get(body, "parentFolder"), uid) != 0)
			goto abort;
		json_object_set(view, "parentFolder", json_object_get(body, "parentFolder"));
	}
	if ((err = widgets_insert_txn(txn, fresh, uid, widgets, 1, renamed)) != 0)
		goto fail;
	layout_rewrite(json_object_get(view, "layout"), renamed);
	if ((err = host->doc_insert(txn, store.dashboards, view, NULL)) != 0)
		goto fail;
	if ((err = host->txn_commit(txn)) != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, view);
	goto out;
fail:
	host->reply_store_error(req, err);
abort:
	host->txn_abort(txn);
out:
	json_decref(dash);
	json_decref(view);
	json_decref(widgets);
	json_decref(renamed);
}

int dash_transfer_txn(sensed_txn *txn, json_t *dash, const char *new_owner,
                      const char *old_owner_rule, int keep_folder)
{
	const char *oid = json_string_value(json_object_get(dash, "oid"));
	const char *previous = json_string_value(json_object_get(dash, "owner"));
	char *old_owner = strdup(previous != NULL ? previous : "");
	json_t *shares = owner_shares_new(new_owner);
	json_t *widgets = NULL, *item, *filter, *local = NULL;
	char key[64];
	size_t i;
	int err;

	if (old_owner == NULL || shares == NULL) {
		free(old_owner);
		json_decref(shares);
		return SENSED_ENOMEM;
	}
	json_array_foreach(json_object_get(dash, "shares"), i, item)
	{
		const char *id = json_string_value(json_object_get(item, "shareId"));

		if (id != NULL && strcmp(id, new_owner) != 0 && strcmp(id, old_owner) != 0)
			json_array_append(shares, item);
	}
	if (old_owner_rule != NULL && old_owner[0] != '\0' && strcmp(old_owner, new_owner) != 0)
		json_array_append_new(shares, json_pack("{s:s, s:s, s:s, s:b}", "shareId",
		                                        old_owner, "type", "user", "rule",
		                                        old_owner_rule, "subscribe", 0));
	json_object_set_new(dash, "shares", shares);
	json_object_set_new(dash, "owner", json_string(new_owner));
	json_object_set_new(dash, "userId", json_string(new_owner));
	if (!keep_folder)
		json_object_set_new(dash, "parentFolder", json_null());
	err = host->doc_replace(txn, store.dashboards, oid, dash);
	if (err == 0)
		err = dash_widgets(txn, oid, &widgets);
	json_array_foreach(widgets, i, item)
	{
		json_object_set_new(item, "owner", json_string(new_owner));
		json_object_set_new(item, "userId", json_string(new_owner));
		if (err == 0)
			err = doc_replace_self(txn, store.widgets, item);
	}
	json_decref(widgets);
	/* The new owner works on the owner's copy: its local view changes are
	 * obsolete. */
	override_key(key, oid, new_owner);
	filter = json_pack("{s:s}", "key", key);
	if (err == 0 && host->find_one(txn, store.overrides, filter, &local) == 0)
		err = host->doc_delete(txn, store.overrides,
		                       json_string_value(json_object_get(local, "_id")));
	json_decref(local);
	json_decref(filter);
	free(old_owner);
	return err;
}

/* POST /dashboards/{id}/change_owner {ownerId, originalOwnerRule} (owner) ->
 * 200 the dashboard.  The new owner must be a designer or above; the previous
 * owner keeps a share with originalOwnerRule (default edit). */
static void change_owner(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *body = NULL, *dash = NULL;
	const char *owner_id, *rule;
	enum sensed_role role;
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	owner_id = json_string_value(json_object_get(body, "ownerId"));
	rule = json_string_value(json_object_get(body, "originalOwnerRule"));
	if (owner_id == NULL ||
	    (json_object_get(body, "originalOwnerRule") != NULL &&
	     (rule == NULL || (strcmp(rule, "edit") != 0 && strcmp(rule, "view") != 0)))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "ownerId is required; originalOwnerRule is edit or view");
		return;
	}
	if (dash_begin(req, oid, ACCESS_OWNER, &txn, &dash, NULL) != 0)
		return;
	if (user_role(txn, owner_id, &role) != 0) {
		host->reply_error(req, 404, SENSED_CODE_USER_NOT_FOUND, NULL);
		goto abort;
	}
	if (role < SENSED_ROLE_CONTRIBUTOR) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "the new owner must be a designer or above");
		goto abort;
	}
	err = dash_transfer_txn(txn, dash, owner_id, rule != NULL ? rule : "edit", 0);
	if (txn_end(req, txn, err) == 0)
		host->reply_json(req, 200, dash);
	json_decref(dash);
	return;
abort:
	host->txn_abort(txn);
	json_decref(dash);
}

/* POST /dashboards/{id}/publish[?force=true] (owner or editor) -> 204.  force
 * also discards every recipient's local changes. */
static void publish_dashboard(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *dash = NULL;
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (dash_begin(req, oid, ACCESS_EDIT, &txn, &dash, NULL) != 0)
		return;
	err = dash_publish_txn(txn, dash);
	json_decref(dash);
	if (err == 0 && query_bool(req, "force", 0)) {
		sensed_query q = SENSED_QUERY_INIT;
		json_t *filter = json_pack("{s:s}", "oid", oid), *found = NULL, *local;
		size_t i;

		q.filter = filter;
		q.limit = 1000000;
		err = host->find(txn, store.overrides, &q, &found);
		json_array_foreach(found, i, local)
		{
			if (err == 0)
				err = host->doc_delete(
				    txn, store.overrides,
				    json_string_value(json_object_get(local, "_id")));
		}
		json_decref(found);
		json_decref(filter);
	}
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 204);
}

int dash_restore_txn(sensed_txn *txn, json_t *dash, const json_t *saved)
{
	const char *oid = json_string_value(json_object_get(dash, "oid"));
	json_t *copy = json_deep_copy(json_object_get(saved, "dashboard"));
	json_t *widgets = json_deep_copy(json_object_get(saved, "widgets"));
	json_t *old = NULL, *w;
	size_t i;
	int err;

	if (!json_is_object(copy) || !json_is_array(widgets)) {
		json_decref(copy);
		json_decref(widgets);
		return SENSED_ENOMEM;
	}
	json_object_set(copy, "_id", json_object_get(dash, "_id"));
	json_object_set(copy, "oid", json_object_get(dash, "oid"));
	json_object_set(copy, "owner", json_object_get(dash, "owner"));
	json_object_set(copy, "userId", json_object_get(dash, "owner"));
	json_object_set(copy, "shares", json_object_get(dash, "shares"));
	json_object_set(copy, "parentFolder", json_object_get(dash, "parentFolder"));
	json_object_set_new(copy, "instanceType", json_string("owner"));
	json_object_del(copy, "lastPublish");
	if (json_object_get(dash, "lastPublish"))
		json_object_set(copy, "lastPublish", json_object_get(dash, "lastPublish"));
	err = dash_widgets(txn, oid, &old);
	json_array_foreach(old, i, w)
	{
		if (err == 0)
			err = host->doc_delete(txn, store.widgets,
			                       json_string_value(json_object_get(w, "_id")));
	}
	json_decref(old);
	if (err == 0)
		err = widgets_insert_txn(
		    txn, oid, json_string_value(json_object_get(dash, "owner")), widgets, 0, NULL);
	if (err == 0)
		err = host->doc_replace(txn, store.dashboards, oid, copy);
	json_decref(copy);
	json_decref(widgets);
	return err;
}

/* POST /dashboards/{id}/restore -> 204.  A view recipient drops its local
 * changes; the owner or an editor returns the working copy to the last
 * published version. */
static void restore_dashboard(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *dash = NULL, *snapshot = NULL;
	enum access access;
	sensed_txn *txn = NULL;
	int err = 0;

	(void)arg;
	if (dash_begin(req, oid, ACCESS_VIEW, &txn, &dash, &access) != 0)
		return;
	if (access == ACCESS_VIEW) {
		char key[64];
		json_t *filter, *local = NULL;

		override_key(key, oid, host->request_user_id(req));
		filter = json_pack("{s:s}", "key", key);
		if (host->find_one(txn, store.overrides, filter, &local) == 0)
			err = host->doc_delete(txn, store.overrides,
			                       json_string_value(json_object_get(local, "_id")));
		json_decref(local);
		json_decref(filter);
	} else if (host->doc_get(txn, store.published, oid, &snapshot) == 0) {
		err = dash_restore_txn(txn, dash, snapshot);
	}
	json_decref(snapshot);
	json_decref(dash);
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 204);
}

/* Replace, under `node`, every "datasource" object naming server/title by a
 * copy of `replacement`.  Returns how many were replaced. */
static size_t datasource_replace(json_t *node, const char *server, const char *title,
                                 const json_t *replacement, int depth)
{
	size_t count = 0, i;
	const char *key;
	json_t *value;

	if (depth > 256)
		return 0;
	if (json_is_array(node)) {
		json_array_foreach(node, i, value) count +=
		    datasource_replace(value, server, title, replacement, depth + 1);
		return count;
	}
	json_object_foreach(node, key, value)
	{
		const char *ds_title = json_string_value(json_object_get(value, "title"));
		const char *ds_address = json_string_value(json_object_get(value, "address"));

		if (strcmp(key, "datasource") == 0 && json_is_object(value) && ds_title != NULL &&
		    strcmp(ds_title, title) == 0 && ds_address != NULL &&
		    strcasecmp(ds_address, server) == 0) {
			json_object_set_new(node, key, json_deep_copy(replacement));
			count++;
		} else if (json_is_object(value) || json_is_array(value)) {
			count += datasource_replace(value, server, title, replacement, depth + 1);
		}
	}
	return count;
}

/* POST /dashboards/{server}/{title}/replace_datasource[?dashboardId=]
 * {datasource} (admins) -> 200 {"dashboards": n, "widgets": m}: every
 * dashboard, widget and published version that uses server/title, in one
 * transaction. */
static void replace_datasource(sensed_request *req, void *arg)
{
	const char *server = host->request_param(req, "server");
	const char *title = host->request_param(req, "title");
	const char *only = host->request_query(req, "dashboardId");
	json_t *body = NULL, *replacement, *found = NULL, *doc, *result;
	sensed_query q = SENSED_QUERY_INIT;
	sensed_txn *txn = NULL;
	size_t i, dashboards = 0, widgets = 0;
	int err;
	struct {
		sensed_collection *coll;
		const char *key;
		size_t *count;
	} passes[] = {{store.dashboards, "oid", &dashboards},
	              {store.widgets, "dashboardid", &widgets},
	              {store.published, "_id", NULL}};

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	replacement = json_is_object(json_object_get(body, "datasource"))
	                  ? json_object_get(body, "datasource")
	                  : body;
	if (!json_is_object(replacement) ||
	    !json_is_string(json_object_get(replacement, "title"))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "a datasource object with a title is required");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	q.limit = 1000000;
	for (size_t p = 0; err == 0 && p < 3; p++) {
		json_t *filter = only != NULL ? json_pack("{s:s}", passes[p].key, only) : NULL;

		q.filter = filter;
		err = host->find(txn, passes[p].coll, &q, &found);
		json_array_foreach(found, i, doc)
		{
			if (err != 0 || datasource_replace(doc, server, title, replacement, 0) == 0)
				continue;
			if (passes[p].count != NULL)
				(*passes[p].count)++;
			err = doc_replace_self(txn, passes[p].coll, doc);
		}
		json_decref(found);
		json_decref(filter);
		found = NULL;
	}
	if (err != 0) {
		host->txn_abort(txn);
		host->reply_store_error(req, err);
		return;
	}
	if ((err = host->txn_commit(txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	result = json_pack("{s:I, s:I}", "dashboards", (json_int_t)dashboards, "widgets",
	                   (json_int_t)widgets);
	host->reply_json(req, 200, result);
	json_decref(result);
}

int dashboards_init(sensed_plugin *self)
{
	static const struct {
		unsigned method;
		const char *pattern;
		enum sensed_role role;
		sensed_handler handler;
	} routes[] = {
	    {SENSED_GET, "/dashboards", SENSED_ROLE_CONSUMER, list_dashboards},
	    {SENSED_POST, "/dashboards", SENSED_ROLE_CONTRIBUTOR, create_dashboard},
	    {SENSED_GET, "/dashboards/admin", SENSED_ROLE_ADMIN, admin_dashboards},
	    {SENSED_DELETE, "/dashboards/bulk", SENSED_ROLE_CONSUMER, delete_bulk},
	    {SENSED_GET, "/dashboards/{id}", SENSED_ROLE_CONSUMER, get_dashboard},
	    {SENSED_PATCH, "/dashboards/{id}", SENSED_ROLE_CONSUMER, update_dashboard},
	    {SENSED_DELETE, "/dashboards/{id}", SENSED_ROLE_CONSUMER, delete_dashboard},
	    {SENSED_POST, "/dashboards/{id}/duplicate", SENSED_ROLE_CONTRIBUTOR,
	     duplicate_dashboard},
	    {SENSED_POST, "/dashboards/{id}/change_owner", SENSED_ROLE_CONSUMER, change_owner},
	    {SENSED_POST, "/dashboards/{id}/publish", SENSED_ROLE_CONSUMER, publish_dashboard},
	    {SENSED_POST, "/dashboards/{id}/restore", SENSED_ROLE_CONSUMER, restore_dashboard},
	    {SENSED_POST, "/dashboards/{server}/{title}/replace_datasource", SENSED_ROLE_ADMIN,
	     replace_datasource},
	};
	int err = 0;

	for (size_t i = 0; err == 0 && i < sizeof routes / sizeof routes[0]; i++)
		err = host->route_add(self, routes[i].method, routes[i].pattern, routes[i].role,
		                      routes[i].handler, NULL);
	return err;
}
