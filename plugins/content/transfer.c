/* Export (.dash files) and import of dashboards, and undo_Import.
 *
 * Export form: the caller's view of a dashboard with its widgets inlined,
 * without the fields the server owns (_id, created, lastUpdated, owner, userId,
 * shares, lastPublish, instanceType).  Every other field, known or not, is
 * stored and exported unchanged, so a real .dash file round-trips.  Import
 * rewrites only the server's fields, the widgets' dashboardid, parentFolder
 * (the importer's folder or null) and, when they collide or with
 * action=duplicate, oids (the layout follows the new widget oids). */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *dash_export_new(const json_t *view, const json_t *widgets)
{
	json_t *out = json_deep_copy(view), *list = json_array(), *w;
	size_t i;

	if (out == NULL || list == NULL) {
		json_decref(out);
		json_decref(list);
		return NULL;
	}
	strip_server_fields(out);
	json_array_foreach(widgets, i, w)
	{
		json_t *copy = json_deep_copy(w);

		strip_server_fields(copy);
		json_array_append_new(list, copy);
	}
	json_object_set_new(out, "widgets", list);
	return out;
}

int dash_export_of(sensed_request *req, const char *oid, json_t **out)
{
	json_t *dash = NULL, *view = NULL, *widgets = NULL;
	enum access access;
	int err = dash_open(NULL, req, oid, &dash, &access);

	*out = NULL;
	if (err == 0)
		err = dash_view(NULL, req, dash, access, &view, &widgets);
	if (err == 0 && (*out = dash_export_new(view, widgets)) == NULL)
		err = SENSED_ENOMEM;
	json_decref(dash);
	json_decref(view);
	json_decref(widgets);
	if (err != 0)
		reply_dash_error(req, err, oid);
	return err;
}

static void reply_dash_file(sensed_request *req, const json_t *content, const char *title)
{
	char *text = json_dumps(content, JSON_COMPACT);
	char header[300];
	size_t n = 0;

	if (text == NULL) {
		reply_oom(req);
		return;
	}
	/* The title goes into a quoted header value: keep printable ASCII minus
	 * quotes. */
	n = (size_t)snprintf(header, sizeof header, "attachment; filename=\"");
	for (const char *c = title; c != NULL && *c && n < sizeof header - 16; c++)
		header[n++] = (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\') ? *c : '_';
	snprintf(header + n, sizeof header - n, ".dash\"");
	host->reply_header(req, "Content-Disposition", header);
	host->reply_bytes(req, 200, "application/json", text, strlen(text));
	free(text);
}

/* GET /dashboards/{id}/export/dash -> the .dash file of one dashboard */
static void export_dash(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *content = NULL;

	(void)arg;
	if (dash_export_of(req, oid, &content) == 0)
		reply_dash_file(req, content, json_string_value(json_object_get(content, "title")));
	json_decref(content);
}

/* GET /dashboards/export?dashboardIds=a,b (or dashboardId=) -> one .dash file
 * (array) */
static void export_many(sensed_request *req, void *arg)
{
	json_t *ids = host->request_query_list(req, "dashboardIds"), *out, *id;
	size_t i;

	(void)arg;
	if (json_array_size(ids) == 0)
		ids = host->request_query_list(req, "dashboardId");
	if (json_array_size(ids) == 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "dashboardIds is required");
		return;
	}
	out = json_array();
	json_array_foreach(ids, i, id)
	{
		json_t *content = NULL;

		if (dash_export_of(req, json_string_value(id), &content) != 0) {
			json_decref(out);
			return;
		}
		json_array_append_new(out, content);
	}
	reply_dash_file(req, out, "dashboards");
	json_decref(out);
}

struct import_failure {
	int status;
	int code;
	const char *message;
};

/* Import one dashboard (export form, borrowed) for the caller in `txn`. Returns
 * 0 with *out the stored dashboard, 1 when skipped (*out a summary {oid,
 * title}), or a negative error (*fail describes it when it is the caller's
 * fault). */
static int import_one(sensed_txn *txn, sensed_request *req, const json_t *source,
                      const struct import_options *opt, json_t **out, struct import_failure *fail)
{
	const char *uid = host->request_user_id(req);
	json_t *dash, *widgets, *existing = NULL, *renamed, *backup;
	const char *given, *owner;
	char oid[25];
	int err = 0, duplicate = strcmp(opt->action, "duplicate") == 0;

	*out = NULL;
	if (!json_is_object(source) || !json_is_string(json_object_get(source, "title"))) {
		*fail = (struct import_failure){400, SENSED_CODE_INVALID_PARAMETER,
		                                "a dashboard needs a title"};
		return SENSED_EINVAL;
	}
	dash = json_deep_copy(source);
	renamed = json_object();
	widgets = json_incref(json_object_get(dash, "widgets"));
	if (!json_is_array(widgets)) {
		json_decref(widgets);
		widgets = json_array();
	}
	json_object_del(dash, "widgets");
	strip_server_fields(dash);
	given = json_string_value(json_object_get(dash, "oid"));
	if (given != NULL && host->is_object_id(given) &&
	    host->doc_get(txn, store.dashboards, given, &existing) == 0 && !duplicate) {
		owner = json_string_value(json_object_get(existing, "owner"));
		if (strcmp(opt->action, "overwrite") != 0) {
			*out = json_pack("{s:O, s:O}", "oid", json_object_get(existing, "oid"),
			                 "title", json_object_get(source, "title"));
			err = 1;
			goto done;
		}
		if (owner == NULL || strcmp(owner, uid) != 0) {
			*fail = (struct import_failure){403, SENSED_CODE_NOT_DASHBOARD_OWNER, NULL};
			err = SENSED_EINVAL;
			goto done;
		}
		/* Keep the replaced version for undo_Import. */
		json_t *old_widgets = NULL, *old_backup = NULL;

		if ((err = dash_widgets(txn, given, &old_widgets)) != 0)
			goto done;
		backup = json_pack("{s:s, s:O, s:o}", "_id", given, "dashboard", existing,
		                   "widgets", old_widgets);
		if (host->doc_get(txn, store.backups, given, &old_backup) == 0)
			err = host->doc_replace(txn, store.backups, given, backup);
		else
			err = host->doc_insert(txn, store.backups, backup, NULL);
		json_decref(old_backup);
		json_decref(backup);
		if (err != 0)
			goto done;
		if (opt->folder != NULL)
			json_object_set_new(existing, "parentFolder", json_string(opt->folder));
		{
			json_t *saved =
			    json_pack("{s:O, s:O}", "dashboard", dash, "widgets", widgets);

			err = dash_restore_txn(txn, existing, saved);
			json_decref(saved);
		}
		if (err == 0 && opt->republish &&
		    json_array_size(json_object_get(existing, "shares")) > 1) {
			json_t *stored = NULL;

			if ((err = host->doc_get(txn, store.dashboards, given, &stored)) == 0)
				err = dash_publish_txn(txn, stored);
			json_decref(stored);
		}
		if (err == 0)
			err = host->doc_get(txn, store.dashboards, given, out);
		goto done;
	}
	if (given != NULL && host->is_object_id(given) && existing == NULL)
		memcpy(oid, given, 25);
	else
		host->object_id(oid);
	dash_make_owned(dash, oid, uid);
	if (opt->folder != NULL) {
		json_object_set_new(dash, "parentFolder", json_string(opt->folder));
	} else if (json_object_get(dash, "parentFolder") != NULL) {
		/* Keep the folder only when it is one of the importer's. */
		const char *folder = json_string_value(json_object_get(dash, "parentFolder"));
		json_t *doc = NULL;

		if (folder != NULL &&
		    !(host->is_object_id(folder) &&
		      host->doc_get(txn, store.folders, folder, &doc) == 0 &&
		      json_is_string(json_object_get(doc, "owner")) &&
		      strcmp(json_string_value(json_object_get(doc, "owner")), uid) == 0))
			json_object_set_new(dash, "parentFolder", json_null());
		json_decref(doc);
	}
	err = widgets_insert_txn(txn, oid, uid, widgets, duplicate, renamed);
	if (err == 0) {
		layout_rewrite(json_object_get(dash, "layout"), renamed);
		err = host->doc_insert(txn, store.dashboards, dash, NULL);
	}
	if (err == 0)
		*out = json_incref(dash);
done:
	json_decref(existing);
	json_decref(dash);
	json_decref(widgets);
	json_decref(renamed);
	return err;
}

/* Read action, republish and importFolder; resolve importFolder (one of the
 * caller's folder oids, or a folder name: the caller's root folder of that
 * name, created when missing) into folder[25].  Replies and returns non-zero on
 * a bad value. */
static int import_options_read(sensed_request *req, const char *fallback_action,
                               struct import_options *opt, char folder[25])
{
	const char *action = host->request_query(req, "action");
	const char *import_folder = host->request_query(req, "importFolder");
	const char *uid = host->request_user_id(req);
	json_t *doc = NULL, *filter;
	int err;

	opt->action = action != NULL ? action : fallback_action;
	if (strcmp(opt->action, "skip") != 0 && strcmp(opt->action, "overwrite") != 0 &&
	    strcmp(opt->action, "duplicate") != 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "action must be skip, overwrite or duplicate");
		return SENSED_EINVAL;
	}
	opt->republish = query_bool(req, "republish", 0);
	opt->folder = NULL;
	if (import_folder == NULL || import_folder[0] == '\0')
		return 0;
	if (host->is_object_id(import_folder) &&
	    host->doc_get(NULL, store.folders, import_folder, &doc) == 0 &&
	    json_is_string(json_object_get(doc, "owner")) &&
	    strcmp(json_string_value(json_object_get(doc, "owner")), uid) == 0) {
		memcpy(folder, import_folder, 25);
		opt->folder = folder;
		json_decref(doc);
		return 0;
	}
	json_decref(doc);
	doc = NULL;
	filter = json_pack("{s:s, s:s, s:n}", "owner", uid, "name", import_folder, "parentId");
	err = host->find_one(NULL, store.folders, filter, &doc);
	json_decref(filter);
	if (err == SENSED_ENOTFOUND) {
		host->object_id(folder);
		doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n}", "_id", folder, "oid", folder,
		                "name", import_folder, "owner", uid, "userId", uid, "type",
		                "folder", "parentId");
		err = host->doc_insert(NULL, store.folders, doc, NULL);
	} else if (err == 0) {
		memcpy(folder, json_string_value(json_object_get(doc, "oid")), 25);
	}
	json_decref(doc);
	if (err != 0) {
		host->reply_store_error(req, err);
		return err;
	}
	opt->folder = folder;
	return 0;
}

static int import_in_txn(sensed_request *req, const json_t *source,
                         const struct import_options *opt, json_t **out,
                         struct import_failure *fail)
{
	sensed_txn *txn = NULL;
	int err = host->txn_begin(1, &txn), rc;

	if (err != 0)
		return err;
	rc = import_one(txn, req, source, opt, out, fail);
	if (rc < 0) {
		host->txn_abort(txn);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	if ((err = host->txn_commit(txn)) != 0) {
		json_decref(*out);
		*out = NULL;
		return err;
	}
	return rc;
}

/* POST
 * /dashboards/import/bulk[?action=skip|overwrite|duplicate&republish=&importFolder=]
 * body: a .dash (array of dashboards, or one) -> 201 {succeded, skipped,
 * failed}.  Each dashboard is imported in a transaction of its own. */
static void import_bulk(sensed_request *req, void *arg)
{
	struct import_options opt;
	char folder[25];
	json_t *body = NULL, *list, *result, *item;
	size_t i;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_array(body) && !json_is_object(body)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "the body must be a dashboard or an array of dashboards");
		return;
	}
	if (import_options_read(req, "skip", &opt, folder) != 0)
		return;
	list = json_is_array(body) ? json_incref(body) : json_pack("[O]", body);
	result = json_pack("{s:[], s:[], s:[]}", "succeded", "skipped", "failed");
	json_array_foreach(list, i, item)
	{
		struct import_failure fail = {500, SENSED_CODE_INTERNAL, NULL};
		json_t *out = NULL;
		int rc = import_in_txn(req, item, &opt, &out, &fail);

		if (rc == 0) {
			json_array_append_new(json_object_get(result, "succeded"), out);
		} else if (rc == 1) {
			json_array_append_new(json_object_get(result, "skipped"), out);
		} else {
			if (rc != SENSED_EINVAL)
				fail = (struct import_failure){500, SENSED_CODE_INTERNAL,
				                               host->strerror(rc)};
			json_array_append_new(json_object_get(result, "failed"),
			                      json_pack("{s:O?, s:O?, s:{s:i, s:s?, s:i}}", "oid",
			                                json_object_get(item, "oid"), "title",
			                                json_object_get(item, "title"), "error",
			                                "code", fail.code, "message", fail.message,
			                                "status", fail.status));
		}
	}
	host->reply_json(req, 201, result);
	json_decref(result);
	json_decref(list);
}

/* POST /dashboards/import[?action=overwrite|duplicate|skip&importFolder=]
 * {dashboard}
 * -> 201 the imported dashboard (400 when skipped because it exists). */
static void import_single(sensed_request *req, void *arg)
{
	struct import_options opt;
	struct import_failure fail = {500, SENSED_CODE_INTERNAL, NULL};
	char folder[25];
	json_t *body = NULL, *source, *out = NULL;
	int rc;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	source = body;
	if (json_is_object(body) && json_object_size(body) == 1 &&
	    json_is_object(json_object_get(body, "dashboard")))
		source = json_object_get(body, "dashboard");
	if (import_options_read(req, "overwrite", &opt, folder) != 0)
		return;
	rc = import_in_txn(req, source, &opt, &out, &fail);
	if (rc == 0)
		host->reply_json(req, 201, out);
	else if (rc == 1)
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "the dashboard exists and action is skip");
	else if (rc == SENSED_EINVAL)
		host->reply_error(req, fail.status, fail.code, fail.message);
	else
		host->reply_store_error(req, rc);
	json_decref(out);
}

/* POST /dashboards/{id}/undo_Import (owner) -> 204: back to the version the
 * last overwriting import replaced; 404 1306 when there is none. */
static void undo_import(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *dash = NULL, *backup = NULL;
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (dash_begin(req, oid, ACCESS_OWNER, &txn, &dash, NULL) != 0)
		return;
	if (host->doc_get(txn, store.backups, oid, &backup) != 0) {
		host->reply_error(req, 404, SENSED_CODE_NO_PREVIOUS_VERSION, NULL);
		goto abort;
	}
	if ((err = dash_restore_txn(txn, dash, backup)) == 0)
		err = host->doc_delete(txn, store.backups, oid);
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 204);
	json_decref(dash);
	json_decref(backup);
	return;
abort:
	host->txn_abort(txn);
	json_decref(dash);
	json_decref(backup);
}

int transfer_init(sensed_plugin *self)
{
	int err;

	if ((err = host->route_add(self, SENSED_GET, "/dashboards/{id}/export/dash",
	                           SENSED_ROLE_CONSUMER, export_dash, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/dashboards/export", SENSED_ROLE_CONSUMER,
	                           export_many, NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/dashboards/import/bulk",
	                           SENSED_ROLE_CONTRIBUTOR, import_bulk, NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/dashboards/import", SENSED_ROLE_CONTRIBUTOR,
	                           import_single, NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/dashboards/{id}/undo_Import",
	                           SENSED_ROLE_CONTRIBUTOR, undo_import, NULL)))
		return err;
	return 0;
}
