/* Widgets of a dashboard.  The owner and "edit" recipients read and change the
 * owner's widgets; "view" recipients read the published widgets and may not
 * change them (403). Unknown dashboard: 404 10001; unknown widget: 404 14004.
 */
#include "content.h"

#include <stdlib.h>
#include <string.h>

static const char *const widget_owned[] = {
    "_id", "oid", "dashboardid", "owner", "userId", "created", "lastUpdated", "instanceType", NULL};

/* Read the list query *q (widgets have no expansions: 404 on any) and open the
 * path's dashboard for reading; replies on failure. */
static int open_dashboard(sensed_request *req, sensed_query *q, json_t **dash, enum access *access)
{
	if (host->request_list_query(req, q) != 0)
		return SENSED_EINVAL;
	if (q->expand != NULL && q->expand[0] != '\0') {
		host->reply_error(req, 404, SENSED_CODE_INVALID_EXPAND, NULL);
		return SENSED_EINVAL;
	}
	return dash_open_for(NULL, req, host->request_param(req, "dashboardId"), ACCESS_VIEW, dash,
	                     access);
}

static int matches(const json_t *widget, const char *field, const char *value)
{
	const char *have = json_string_value(json_object_get(widget, field));

	return value == NULL || (have != NULL && strcmp(have, value) == 0);
}

/* GET
 * /dashboards/{dashboardId}/widgets[?title=&type=&subtype=&fields=&sort=&skip=&limit=]
 */
static void list_widgets(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, shape = SENSED_QUERY_INIT;
	const char *title = host->request_query(req, "title");
	const char *type = host->request_query(req, "type");
	const char *subtype = host->request_query(req, "subtype");
	json_t *dash = NULL, *view = NULL, *widgets = NULL, *out = NULL, *filter, *w;
	enum access access;
	size_t i;
	int err;

	(void)arg;
	if (open_dashboard(req, &q, &dash, &access) != 0)
		return;
	if (access != ACCESS_VIEW) {
		filter = json_pack("{s:O}", "dashboardid", json_object_get(dash, "oid"));
		if (title != NULL)
			json_object_set_new(filter, "title", json_string(title));
		if (type != NULL)
			json_object_set_new(filter, "type", json_string(type));
		if (subtype != NULL)
			json_object_set_new(filter, "subtype", json_string(subtype));
		q.filter = filter;
		err = host->find(NULL, store.widgets, &q, &out);
		json_decref(filter);
	} else {
		/* The published widgets: filtered, paged and projected here (in published
		 * order; sort applies to the owner's widgets only). */
		size_t skipped = 0;

		err = dash_view(NULL, req, dash, access, &view, &widgets);
		out = json_array();
		shape.fields = q.fields;
		json_array_foreach(widgets, i, w)
		{
			if (err != 0 || !matches(w, "title", title) || !matches(w, "type", type) ||
			    !matches(w, "subtype", subtype))
				continue;
			if (skipped++ < q.skip)
				continue;
			if (q.limit != 0 && json_array_size(out) >= q.limit)
				break;
			if (q.fields != NULL)
				err = host->shape(NULL, store.widgets, &shape, w);
			json_array_append(out, w);
		}
	}
	reply_json_or_error(req, err, 200, out);
	json_decref(out);
	json_decref(view);
	json_decref(widgets);
	json_decref(dash);
}

/* The widget {id} of the caller's view of `dash` (new reference), or ENOTFOUND.
 */
static int widget_of(sensed_txn *txn, sensed_request *req, const json_t *dash, enum access access,
                     json_t **out)
{
	const char *id = host->request_param(req, "id");
	json_t *view = NULL, *widgets = NULL, *w;
	size_t i;
	int err;

	*out = NULL;
	if (access != ACCESS_VIEW) {
		json_t *filter =
		    json_pack("{s:s, s:O}", "oid", id, "dashboardid", json_object_get(dash, "oid"));

		err = host->find_one(txn, store.widgets, filter, out);
		json_decref(filter);
		return err;
	}
	if ((err = dash_view(txn, req, dash, access, &view, &widgets)) != 0)
		return err;
	err = SENSED_ENOTFOUND;
	json_array_foreach(widgets, i, w)
	{
		if (matches(w, "oid", id)) {
			*out = json_incref(w);
			err = 0;
			break;
		}
	}
	json_decref(view);
	json_decref(widgets);
	return err;
}

static void reply_widget_error(sensed_request *req, int err)
{
	if (err == SENSED_ENOTFOUND)
		reply_widget_not_found(req, host->request_param(req, "id"));
	else
		host->reply_store_error(req, err);
}

/* GET /dashboards/{dashboardId}/widgets/{id}[?fields=] */
static void get_widget(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, shape = SENSED_QUERY_INIT;
	json_t *dash = NULL, *widget = NULL;
	enum access access;
	int err;

	(void)arg;
	if (open_dashboard(req, &q, &dash, &access) != 0)
		return;
	shape.fields = q.fields;
	err = widget_of(NULL, req, dash, access, &widget);
	if (err == 0 && q.fields != NULL)
		err = host->shape(NULL, store.widgets, &shape, widget);
	if (err == 0)
		host->reply_json(req, 200, widget);
	else
		reply_widget_error(req, err);
	json_decref(widget);
	json_decref(dash);
}

/* Begin a write on the path's dashboard for the owner or an editor; replies on
 * failure (403 1300 for a view recipient). */
static int begin_edit(sensed_request *req, sensed_txn **txn, json_t **dash)
{
	return dash_begin(req, host->request_param(req, "dashboardId"), ACCESS_EDIT, txn, dash,
	                  NULL);
}

/* begin_edit, then the path's widget {id} of that dashboard (new reference in
 * *widget); replies on failure (404 14004 for an unknown widget), leaving no
 * transaction open and nothing to release. */
static int begin_widget_edit(sensed_request *req, sensed_txn **txn, json_t **dash, json_t **widget)
{
	int err;

	*widget = NULL;
	if ((err = begin_edit(req, txn, dash)) != 0)
		return err;
	if ((err = widget_of(*txn, req, *dash, ACCESS_OWNER, widget)) != 0) {
		host->txn_abort(*txn);
		reply_widget_error(req, err);
		json_decref(*dash);
		*dash = NULL;
	}
	return err;
}

static int layout_has(const json_t *node, const char *oid)
{
	const char *key;
	json_t *value;
	size_t i;

	if (json_is_array(node)) {
		json_array_foreach(node, i, value) if (layout_has(value, oid)) return 1;
		return 0;
	}
	json_object_foreach((json_t *)node, key, value)
	{
		if ((strcmp(key, "widgetid") == 0 && json_is_string(value) &&
		     strcmp(json_string_value(value), oid) == 0) ||
		    ((json_is_object(value) || json_is_array(value)) && layout_has(value, oid)))
			return 1;
	}
	return 0;
}

/* POST /dashboards/{dashboardId}/widgets {widget} -> 201 widget; the layout
 * gains a cell */
static void create_widget(sensed_request *req, void *arg)
{
	json_t *body = NULL, *dash = NULL, *list;
	sensed_txn *txn = NULL;
	const char *oid;
	int err;

	(void)arg;
	if (request_object(req, &body, "the body must be a widget object") != 0 ||
	    begin_edit(req, &txn, &dash) != 0)
		return;
	list = json_array();
	json_array_append_new(list, json_deep_copy(body));
	err = widgets_insert_txn(txn, json_string_value(json_object_get(dash, "oid")),
	                         json_string_value(json_object_get(dash, "owner")), list, 0, NULL);
	oid = json_string_value(json_object_get(json_array_get(list, 0), "oid"));
	if (err == 0 && !layout_has(json_object_get(dash, "layout"), oid)) {
		layout_append(dash, oid);
		err = host->doc_replace(txn, store.dashboards,
		                        json_string_value(json_object_get(dash, "oid")), dash);
	}
	if (txn_end(req, txn, err) == 0)
		host->reply_json(req, 201, json_array_get(list, 0));
	json_decref(list);
	json_decref(dash);
}

/* PATCH /dashboards/{dashboardId}/widgets/{id} {partial widget} -> 200 widget
 */
static void update_widget(sensed_request *req, void *arg)
{
	json_t *body = NULL, *dash = NULL, *widget = NULL, *value;
	sensed_txn *txn = NULL;
	const char *key;

	(void)arg;
	if (request_object(req, &body, "body must be an object") != 0 ||
	    begin_widget_edit(req, &txn, &dash, &widget) != 0)
		return;
	json_object_foreach(body, key, value)
	{
		int owned = 0;

		for (int i = 0; widget_owned[i] != NULL; i++)
			owned |= strcmp(key, widget_owned[i]) == 0;
		if (!owned)
			json_object_set(widget, key, value);
	}
	if (txn_end(req, txn, doc_replace_self(txn, store.widgets, widget)) == 0)
		host->reply_json(req, 200, widget);
	json_decref(widget);
	json_decref(dash);
}

/* DELETE /dashboards/{dashboardId}/widgets/{id} -> 204; its layout cell goes
 * too */
static void delete_widget(sensed_request *req, void *arg)
{
	json_t *dash = NULL, *widget = NULL;
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (begin_widget_edit(req, &txn, &dash, &widget) != 0)
		return;
	layout_remove(json_object_get(dash, "layout"),
	              json_string_value(json_object_get(widget, "oid")));
	err =
	    host->doc_delete(txn, store.widgets, json_string_value(json_object_get(widget, "_id")));
	if (err == 0)
		err = host->doc_replace(txn, store.dashboards,
		                        json_string_value(json_object_get(dash, "oid")), dash);
	if (txn_end(req, txn, err) == 0)
		host->reply_empty(req, 204);
	json_decref(widget);
	json_decref(dash);
}

int widgets_init(sensed_plugin *self)
{
	int err;

	if ((err = host->route_add(self, SENSED_GET, "/dashboards/{dashboardId}/widgets",
	                           SENSED_ROLE_CONSUMER, list_widgets, NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/dashboards/{dashboardId}/widgets",
	                           SENSED_ROLE_CONSUMER, create_widget, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/dashboards/{dashboardId}/widgets/{id}",
	                           SENSED_ROLE_CONSUMER, get_widget, NULL)) ||
	    (err = host->route_add(self, SENSED_PATCH, "/dashboards/{dashboardId}/widgets/{id}",
	                           SENSED_ROLE_CONSUMER, update_widget, NULL)) ||
	    (err = host->route_add(self, SENSED_DELETE, "/dashboards/{dashboardId}/widgets/{id}",
	                           SENSED_ROLE_CONSUMER, delete_widget, NULL)))
		return err;
	return 0;
}
