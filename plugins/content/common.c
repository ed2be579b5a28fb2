/* Helpers shared by the content areas: access rules, the caller's view of a
 * dashboard, publishing, cascading deletes, layout edits and error replies. */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *principals_new(sensed_request *req)
{
	json_t *out = json_array();
	json_t *user = host->request_user(req);
	const char *uid = host->request_user_id(req);
	size_t i;
	json_t *g;

	if (out == NULL)
		return NULL;
	if (uid != NULL)
		json_array_append_new(out, json_string(uid));
	json_array_foreach(json_object_get(user, "groups"), i, g)
	{
		if (json_is_string(g))
			json_array_append(out, g);
	}
	for (i = 0; i < 2; i++)
		if (everyone_ids[i][0] != '\0')
			json_array_append_new(out, json_string(everyone_ids[i]));
	return out;
}

static int principal_in(const json_t *principals, const char *id)
{
	size_t i;
	json_t *p;

	json_array_foreach(principals, i, p)
	{
		if (strcmp(json_string_value(p), id) == 0)
			return 1;
	}
	return 0;
}

enum access dash_access(const json_t *dash, const char *user_id, const json_t *principals)
{
	const char *owner = json_string_value(json_object_get(dash, "owner"));
	enum access access = ACCESS_NONE;
	size_t i;
	json_t *share;

	if (owner != NULL && user_id != NULL && strcmp(owner, user_id) == 0)
		return ACCESS_OWNER;
	json_array_foreach(json_object_get(dash, "shares"), i, share)
	{
		const char *id = json_string_value(json_object_get(share, "shareId"));
		const char *rule = json_string_value(json_object_get(share, "rule"));

		if (id == NULL || rule == NULL || !principal_in(principals, id))
			continue;
		if (strcmp(rule, "edit") == 0)
			access = ACCESS_EDIT;
		else if (access < ACCESS_VIEW)
			access = ACCESS_VIEW;
	}
	return access;
}

int dash_open(sensed_txn *txn, sensed_request *req, const char *oid, json_t **dash,
              enum access *access)
{
	json_t *doc = NULL, *principals;
	int err;

	*dash = NULL;
	*access = ACCESS_NONE;
	if (oid == NULL || !host->is_object_id(oid))
		return SENSED_ENOTFOUND;
	if ((err = host->doc_get(txn, store.dashboards, oid, &doc)) != 0)
		return err;
	principals = principals_new(req);
	if (principals == NULL) {
		json_decref(doc);
		return SENSED_ENOMEM;
	}
	*access = dash_access(doc, host->request_user_id(req), principals);
	json_decref(principals);
	if (*access == ACCESS_NONE) {
		json_decref(doc);
		return SENSED_ENOTFOUND;
	}
	*dash = doc;
	return 0;
}

void reply_dash_error(sensed_request *req, int err, const char *oid)
{
	if (err == SENSED_ENOTFOUND)
		reply_dashboard_not_found(req, oid);
	else
		host->reply_store_error(req, err);
}

int dash_open_for(sensed_txn *txn, sensed_request *req, const char *oid, enum access need,
                  json_t **dash, enum access *access)
{
	enum access have;
	int err = dash_open(txn, req, oid, dash, &have);

	if (access != NULL)
		*access = have;
	if (err != 0) {
		reply_dash_error(req, err, oid);
		return err;
	}
	if (have < need) {
		json_decref(*dash);
		*dash = NULL;
		host->reply_error(req, 403,
		                  need == ACCESS_OWNER ? SENSED_CODE_NOT_DASHBOARD_OWNER
		                                       : SENSED_CODE_SHARE_READ_ONLY,
		                  NULL);
		return SENSED_EINVAL;
	}
	return 0;
}

int dash_begin(sensed_request *req, const char *oid, enum access need, sensed_txn **txn,
               json_t **dash, enum access *access)
{
	int err;

	*dash = NULL;
	if ((err = host->txn_begin(1, txn)) != 0) {
		host->reply_store_error(req, err);
		return err;
	}
	if ((err = dash_open_for(*txn, req, oid, need, dash, access)) != 0)
		host->txn_abort(*txn);
	return err;
}

int txn_end(sensed_request *req, sensed_txn *txn, int err)
{
	if (err != 0)
		host->txn_abort(txn);
	else
		err = host->txn_commit(txn);
	if (err != 0)
		host->reply_store_error(req, err);
	return err;
}

int dash_widgets(sensed_txn *txn, const char *oid, json_t **out)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *filter = json_pack("{s:s}", "dashboardid", oid);
	int err;

	*out = NULL;
	if (filter == NULL)
		return SENSED_ENOMEM;
	q.filter = filter;
	q.limit = 1000000;
	err = host->find(txn, store.widgets, &q, out);
	json_decref(filter);
	return err;
}

void override_key(char out[64], const char *oid, const char *user_id)
{
	snprintf(out, 64, "%s:%s", oid != NULL ? oid : "", user_id != NULL ? user_id : "");
}

static void mark_user_instance(json_t *obj, const char *uid)
{
	json_object_set_new(obj, "instanceType", json_string("user"));
	json_object_set_new(obj, "userId", json_string(uid));
}

int dash_view(sensed_txn *txn, sensed_request *req, const json_t *dash, enum access access,
              json_t **view, json_t **widgets)
{
	const char *oid = json_string_value(json_object_get(dash, "oid"));
	const char *uid = host->request_user_id(req);
	json_t *snapshot = NULL, *v, *w = NULL;
	int err;

	*view = NULL;
	if (widgets != NULL)
		*widgets = NULL;
	if (access == ACCESS_VIEW && host->doc_get(txn, store.published, oid, &snapshot) == 0) {
		v = json_deep_copy(json_object_get(snapshot, "dashboard"));
		if (widgets != NULL)
			w = json_deep_copy(json_object_get(snapshot, "widgets"));
		json_decref(snapshot);
	} else {
		v = json_deep_copy(dash);
		if (widgets != NULL && (err = dash_widgets(txn, oid, &w)) != 0) {
			json_decref(v);
			return err;
		}
	}
	if (v == NULL || (widgets != NULL && w == NULL)) {
		json_decref(v);
		json_decref(w);
		return SENSED_ENOMEM;
	}
	if (access != ACCESS_OWNER) {
		/* Recipients never see the owner's folders; they always see the current
		 * owner, shares and publish date. */
		json_object_set_new(v, "parentFolder", json_null());
		json_object_set(v, "owner", json_object_get(dash, "owner"));
		json_object_set(v, "shares", json_object_get(dash, "shares"));
		if (json_object_get(dash, "lastPublish"))
			json_object_set(v, "lastPublish", json_object_get(dash, "lastPublish"));
	}
	if (access == ACCESS_VIEW) {
		char key[64];
		json_t *filter, *local = NULL, *widget;
		size_t i;

		override_key(key, oid, uid);
		filter = json_pack("{s:s}", "key", key);
		if (filter != NULL && host->find_one(txn, store.overrides, filter, &local) == 0) {
			if (json_object_get(local, "filters"))
				json_object_set(v, "filters", json_object_get(local, "filters"));
			if (json_object_get(local, "layout"))
				json_object_set(v, "layout", json_object_get(local, "layout"));
		}
		json_decref(local);
		json_decref(filter);
		mark_user_instance(v, uid);
		json_array_foreach(w, i, widget) mark_user_instance(widget, uid);
	}
	*view = v;
	if (widgets != NULL)
		*widgets = w;
	return 0;
}

json_t *owner_shares_new(const char *owner)
{
	return json_pack("[{s:s, s:s, s:b}]", "shareId", owner, "type", "user", "subscribe", 0);
}

void dash_make_owned(json_t *dash, const char *oid, const char *owner)
{
	json_object_set_new(dash, "_id", json_string(oid));
	json_object_set_new(dash, "oid", json_string(oid));
	json_object_set_new(dash, "owner", json_string(owner));
	json_object_set_new(dash, "userId", json_string(owner));
	json_object_set_new(dash, "instanceType", json_string("owner"));
	json_object_set_new(dash, "shares", owner_shares_new(owner));
}

int dash_publish_txn(sensed_txn *txn, json_t *dash)
{
	const char *oid = json_string_value(json_object_get(dash, "oid"));
	json_t *widgets = NULL, *snapshot, *old = NULL;
	char now[25];
	int err;

	host->format_date(-1, now);
	json_object_set_new(dash, "lastPublish", json_string(now));
	if ((err = host->doc_replace(txn, store.dashboards, oid, dash)) != 0)
		return err;
	if ((err = dash_widgets(txn, oid, &widgets)) != 0)
		return err;
	snapshot = json_pack("{s:s, s:O, s:o}", "_id", oid, "dashboard", dash, "widgets", widgets);
	if (snapshot == NULL)
		return SENSED_ENOMEM;
	err = host->doc_get(txn, store.published, oid, &old);
	if (err == 0)
		err = host->doc_replace(txn, store.published, oid, snapshot);
	else if (err == SENSED_ENOTFOUND)
		err = host->doc_insert(txn, store.published, snapshot, NULL);
	json_decref(old);
	json_decref(snapshot);
	return err;
}

/* Delete every document of `coll` matching `filter` (borrowed). */
static int delete_matching(sensed_txn *txn, sensed_collection *coll, json_t *filter)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *doc;
	size_t i;
	int err;

	q.filter = filter;
	q.limit = 1000000;
	q.fields = "_id";
	if ((err = host->find(txn, coll, &q, &found)) != 0)
		return err;
	json_array_foreach(found, i, doc)
	{
		err = host->doc_delete(txn, coll, json_string_value(json_object_get(doc, "_id")));
		if (err != 0)
			break;
	}
	json_decref(found);
	return err;
}

static int delete_if_present(sensed_txn *txn, sensed_collection *coll, const char *id)
{
	int err = host->doc_delete(txn, coll, id);

	return err == SENSED_ENOTFOUND ? 0 : err;
}

int dash_delete_txn(sensed_txn *txn, const char *oid)
{
	json_t *by_dash = json_pack("{s:s}", "dashboardid", oid);
	json_t *by_oid = json_pack("{s:s}", "oid", oid);
	int err = SENSED_ENOMEM;

	if (by_dash != NULL && by_oid != NULL &&
	    (err = delete_matching(txn, store.widgets, by_dash)) == 0 &&
	    (err = delete_matching(txn, store.overrides, by_oid)) == 0 &&
	    (err = delete_if_present(txn, store.published, oid)) == 0 &&
	    (err = delete_if_present(txn, store.backups, oid)) == 0)
		err = host->doc_delete(txn, store.dashboards, oid);
	json_decref(by_dash);
	json_decref(by_oid);
	return err;
}

void strip_server_fields(json_t *obj)
{
	static const char *const owned[] = {"_id",         "created",      "lastUpdated",
	                                    "owner",       "userId",       "shares",
	                                    "lastPublish", "instanceType", NULL};

	for (int i = 0; owned[i] != NULL; i++)
		json_object_del(obj, owned[i]);
}

static int oid_taken(sensed_txn *txn, const char *oid)
{
	json_t *filter = json_pack("{s:s}", "oid", oid), *found = NULL;
	int err = host->find_one(txn, store.widgets, filter, &found);

	json_decref(filter);
	json_decref(found);
	return err != SENSED_ENOTFOUND;
}

int widgets_insert_txn(sensed_txn *txn, const char *oid, const char *owner, json_t *widgets,
                       int fresh_oids, json_t *renamed)
{
	size_t i;
	json_t *widget;
	int err;

	json_array_foreach(widgets, i, widget)
	{
		const char *old;
		char fresh[25];

		if (!json_is_object(widget))
			return SENSED_EINVAL;
		strip_server_fields(widget);
		old = json_string_value(json_object_get(widget, "oid"));
		if (fresh_oids || old == NULL || !host->is_object_id(old) || oid_taken(txn, old)) {
			host->object_id(fresh);
			if (old != NULL && renamed != NULL)
				json_object_set_new(renamed, old, json_string(fresh));
			json_object_set_new(widget, "oid", json_string(fresh));
		}
		json_object_set_new(widget, "dashboardid", json_string(oid));
		json_object_set_new(widget, "owner", json_string(owner));
		json_object_set_new(widget, "userId", json_string(owner));
		json_object_set_new(widget, "instanceType", json_string("owner"));
		if ((err = host->doc_insert(txn, store.widgets, widget, NULL)) != 0)
			return err;
	}
	return 0;
}

int expand_split(sensed_request *req, const char *expand, const char *const *allowed,
                 int first_manual, char **declared, unsigned *manual)
{
	size_t cap = expand != NULL ? strlen(expand) + 1 : 1;
	char *out = calloc(1, cap);

	*declared = NULL;
	*manual = 0;
	if (out == NULL) {
		reply_oom(req);
		return SENSED_ENOMEM;
	}
	for (const char *item = expand; item != NULL && *item;) {
		size_t len = strcspn(item, ","), top = strcspn(item, ".,");
		int found = -1;

		for (int i = 0; len > 0 && allowed[i] != NULL; i++)
			if (strlen(allowed[i]) == top && strncmp(allowed[i], item, top) == 0)
				found = i;
		if (len > 0 && found < 0) {
			free(out);
			host->reply_error(req, 404, SENSED_CODE_INVALID_EXPAND, NULL);
			return SENSED_EINVAL;
		}
		if (found >= first_manual) {
			*manual |= 1u << found;
		} else if (found >= 0) {
			if (out[0] != '\0')
				strcat(out, ",");
			strncat(out, item, len);
		}
		item += len;
		if (*item == ',')
			item++;
	}
	if (out[0] == '\0')
		free(out);
	else
		*declared = out;
	return 0;
}

int request_object(sensed_request *req, json_t **body, const char *message)
{
	if (host->request_json(req, body) != 0)
		return SENSED_EINVAL;
	if (!json_is_object(*body)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
		return SENSED_EINVAL;
	}
	return 0;
}

int query_bool(sensed_request *req, const char *name, int fallback)
{
	const char *v = host->request_query(req, name);

	if (v == NULL)
		return fallback;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	return fallback;
}

void layout_rewrite(json_t *layout, const json_t *map)
{
	const char *key;
	json_t *value;
	size_t i;

	if (json_is_array(layout)) {
		json_array_foreach(layout, i, value) layout_rewrite(value, map);
		return;
	}
	if (!json_is_object(layout))
		return;
	json_object_foreach(layout, key, value)
	{
		const char *id = json_string_value(value);
		json_t *to;

		if (strcmp(key, "widgetid") == 0 && id != NULL &&
		    (to = json_object_get(map, id)) != NULL)
			json_object_set(layout, key, to);
		else
			layout_rewrite(value, map);
	}
}

void layout_remove(json_t *layout, const char *widget_oid)
{
	size_t c;
	json_t *column;

	json_array_foreach(json_object_get(layout, "columns"), c, column)
	{
		json_t *cells = json_object_get(column, "cells");

		for (size_t k = json_array_size(cells); k-- > 0;) {
			json_t *subcells = json_object_get(json_array_get(cells, k), "subcells");

			for (size_t s = json_array_size(subcells); s-- > 0;) {
				json_t *elements =
				    json_object_get(json_array_get(subcells, s), "elements");

				for (size_t e = json_array_size(elements); e-- > 0;) {
					const char *id = json_string_value(json_object_get(
					    json_array_get(elements, e), "widgetid"));

					if (id != NULL && strcmp(id, widget_oid) == 0)
						json_array_remove(elements, e);
				}
				if (json_is_array(elements) && json_array_size(elements) == 0)
					json_array_remove(subcells, s);
			}
			if (json_is_array(subcells) && json_array_size(subcells) == 0)
				json_array_remove(cells, k);
		}
	}
}

void layout_append(json_t *dash, const char *widget_oid)
{
	json_t *layout = json_object_get(dash, "layout"), *columns, *column, *cells;

	if (!json_is_object(layout)) {
		layout = json_pack("{s:s, s:[]}", "type", "columnar", "columns");
		json_object_set_new(dash, "layout", layout);
	}
	columns = json_object_get(layout, "columns");
	if (!json_is_array(columns)) {
		columns = json_array();
		json_object_set_new(layout, "columns", columns);
	}
	if (json_array_size(columns) == 0)
		json_array_append_new(columns, json_pack("{s:i, s:[]}", "width", 100, "cells"));
	column = json_array_get(columns, 0);
	cells = json_object_get(column, "cells");
	if (!json_is_array(cells)) {
		cells = json_array();
		json_object_set_new(column, "cells", cells);
	}
	json_array_append_new(cells,
	                      json_pack("{s:[{s:[{s:s, s:s}], s:i}]}", "subcells", "elements",
	                                "widgetid", widget_oid, "height", "384px", "width", 100));
}

static void reply_not_found(sensed_request *req, int code, const char *type, const char *name)
{
	json_t *extra =
	    json_pack("{s:s, s:s}", "resourceType", type, "resourceName", name != NULL ? name : "");

	host->reply_error_extra(req, 404, code, NULL, extra);
	json_decref(extra);
}

void reply_dashboard_not_found(sensed_request *req, const char *oid)
{
	reply_not_found(req, SENSED_CODE_DASHBOARD_NOT_FOUND, "dashboard", oid);
}

void reply_widget_not_found(sensed_request *req, const char *oid)
{
	reply_not_found(req, SENSED_CODE_WIDGET_NOT_FOUND, "widget", oid);
}

void reply_folder_not_found(sensed_request *req, const char *oid)
{
	reply_not_found(req, SENSED_CODE_FOLDER_NOT_FOUND, "folder", oid);
}

void reply_json_or_error(sensed_request *req, int err, int status, const json_t *body)
{
	if (err == 0)
		host->reply_json(req, status, body);
	else
		host->reply_store_error(req, err);
}

void reply_oom(sensed_request *req)
{
	host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
}

int user_role(sensed_txn *txn, const char *user_id, enum sensed_role *role)
{
	static const char *const names[] = {"consumer",  "contributor", "dataDesigner",
	                                    "dataAdmin", "admin",       "super"};
	json_t *user = NULL, *role_doc = NULL;
	const char *role_id, *name;
	int err;

	*role = SENSED_ROLE_PUBLIC;
	if (user_id == NULL || !host->is_object_id(user_id))
		return SENSED_ENOTFOUND;
	if ((err = host->doc_get(txn, store.users, user_id, &user)) != 0)
		return err;
	role_id = json_string_value(json_object_get(user, "roleId"));
	if (role_id != NULL && host->is_object_id(role_id) &&
	    host->doc_get(txn, store.roles, role_id, &role_doc) == 0 &&
	    (name = json_string_value(json_object_get(role_doc, "name"))) != NULL) {
		for (int i = 0; i < 6; i++)
			if (strcmp(names[i], name) == 0)
				*role = (enum sensed_role)(SENSED_ROLE_CONSUMER + i);
	}
	json_decref(role_doc);
	json_decref(user);
	return 0;
}

int doc_replace_self(sensed_txn *txn, sensed_collection *coll, json_t *doc)
{
	const char *id = json_string_value(json_object_get(doc, "_id"));
	char copy[25];

	if (id == NULL || strlen(id) != 24)
		return SENSED_EBADID;
	/* doc_replace re-sets doc's _id, which frees the string `id` points into. */
	memcpy(copy, id, sizeof copy);
	return host->doc_replace(txn, coll, copy, doc);
}
