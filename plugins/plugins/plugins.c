/* Plugins, for operators (admins only): GET /plugins (filtered, sorted, paged, in the
 * {plugins, count, queryMetadata} envelope), GET /plugins/get_info (load state, last load
 * error, routes and features per plugin) and PATCH /plugins (enable or disable at run time;
 * the state survives restarts).  This plugin is named "plugins" and the server treats it
 * as essential: it cannot be disabled, or nobody could enable anything again. */
#include <sensed/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SELF_NAME "plugins"

static const sensed_host *host;

/* ---- GET /plugins ----------------------------------------------------------------------- */

static const char *const sortable[] = {"name",      "version",    "lastUpdate",
                                       "isEnabled", "folderName", "state"};

struct order {
	const char *field;
	int desc;
};

static int compare_values(const json_t *a, const json_t *b)
{
	if (json_is_string(a) && json_is_string(b))
		return strcasecmp(json_string_value(a), json_string_value(b));
	if (json_is_boolean(a) || json_is_boolean(b))
		return (int)json_is_true(a) - (int)json_is_true(b);
	return (a != NULL) - (b != NULL);
}

static int compare_plugins(const void *pa, const void *pb, void *arg)
{
	const struct order *o = arg;
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int c = compare_values(json_object_get(a, o->field), json_object_get(b, o->field));

	if (c == 0)
		c = strcmp(json_string_value(json_object_get(a, "name")),
		           json_string_value(json_object_get(b, "name")));
	return o->desc ? -c : c;
}

static int matches(const json_t *plugin, const char *search)
{
	static const char *const fields[] = {"name", "folderName", "description"};

	if (!search || !*search)
		return 1;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = json_string_value(json_object_get(plugin, fields[i]));
		if (v && strcasestr(v, search))
			return 1;
	}
	return 0;
}

/* A non-negative integer query parameter; -1 when absent; replies 400 and returns -2 when
 * malformed. */
static long long size_param(sensed_request *req, const char *name)
{
	const char *v = host->request_query(req, name);
	long long n = 0;
	char message[96];

	if (!v || !*v)
		return -1;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > 100000000) {
			snprintf(message, sizeof(message),
			         "Invalid parameter '%s': must be a non-negative integer", name);
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
			return -2;
		}
		n = n * 10 + (*p - '0');
	}
	return n;
}

/* The entry as listed: the host's record plus "lastUpdated", the catalog's name. */
static json_t *listed(json_t *plugin)
{
	json_object_set(plugin, "lastUpdated", json_object_get(plugin, "lastUpdate"));
	return plugin;
}

static void list_plugins(sensed_request *req, void *arg)
{
	const char *orderby = host->request_query(req, "orderby");
	const char *desc_text = host->request_query(req, "desc");
	const char *search = host->request_query(req, "search");
	long long skip = size_param(req, "skip"), limit;
	struct order order = {.field = "name"};
	json_t *all, *page, *item, *body, **items;
	size_t i, count = 0;
	int known = 0;

	(void)arg;
	if (skip == -2 || (limit = size_param(req, "limit")) == -2)
		return;
	if (orderby && *orderby) {
		for (i = 0; i < sizeof(sortable) / sizeof(sortable[0]); i++)
			if (strcmp(orderby, sortable[i]) == 0)
				known = 1;
		if (!known) {
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
			                  "Invalid parameter 'orderby': use name, version, "
			                  "lastUpdate, isEnabled, folderName or state");
			return;
		}
		order.field = orderby;
	}
	if (desc_text && *desc_text) {
		if (strcmp(desc_text, "true") && strcmp(desc_text, "false")) {
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
			                  "Invalid parameter 'desc': use true or false");
			return;
		}
		order.desc = strcmp(desc_text, "true") == 0;
	}

	all = host->plugins_list();
	items = calloc(json_array_size(all) + 1, sizeof(*items));
	page = json_array();
	if (!all || !items || !page) {
		json_decref(all);
		json_decref(page);
		free(items);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_array_foreach(all, i, item)
	{
		if (matches(item, search))
			items[count++] = item;
	}
	qsort_r(items, count, sizeof(*items), compare_plugins, &order);
	for (i = skip > 0 ? (size_t)skip : 0; i < count; i++) {
		if (limit > 0 && json_array_size(page) >= (size_t)limit)
			break;
		json_array_append(page, listed(items[i]));
	}
	free(items);
	body = json_pack("{s:o, s:I, s:{s:o, s:I, s:s?, s:s, s:b}}", "plugins", page, "count",
	                 (json_int_t)count, "queryMetadata", "limit",
	                 limit >= 0 ? json_integer(limit) : json_null(), "skip",
	                 (json_int_t)(skip > 0 ? skip : 0), "search", search, "orderby",
	                 order.field, "desc", order.desc);
	json_decref(all);
	if (!body) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, body);
	json_decref(body);
}

/* ---- GET /plugins/get_info -------------------------------------------------------------- */

static void plugin_info(sensed_request *req, void *arg)
{
	json_t *all = host->plugins_list(), *routes = host->routes_list();
	json_t *features = host->features_list(), *plugin, *route, *feature, *sub;
	size_t i, j, k;

	(void)arg;
	if (!all || !routes || !features) {
		json_decref(all);
		json_decref(routes);
		json_decref(features);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_array_foreach(all, i, plugin)
	{
		const char *name = json_string_value(json_object_get(plugin, "name"));
		json_t *own_routes = json_array(), *own_features = json_array();

		json_array_foreach(routes, j, route)
		{
			if (strcmp(json_string_value(json_object_get(route, "plugin")), name))
				continue;
			json_t *copy = json_copy(route);
			json_object_del(copy, "plugin");
			json_array_append_new(own_routes, copy);
		}
		json_array_foreach(features, j, feature)
		{
			json_array_foreach(json_object_get(feature, "subscriptions"), k, sub)
			{
				if (!strcmp(json_string_value(json_object_get(sub, "name")), name))
					json_array_append(own_features,
					                  json_object_get(feature, "key"));
			}
		}
		json_object_set_new(plugin, "routes", own_routes);
		json_object_set_new(plugin, "features", own_features);
		listed(plugin);
	}
	host->reply_json(req, 200, all);
	json_decref(all);
	json_decref(routes);
	json_decref(features);
}

/* ---- PATCH /plugins --------------------------------------------------------------------- */

/* The host's record of the plugin named `name`, else the one in folder `name` (borrowed
 * from `all`), or NULL. */
static json_t *find_plugin(json_t *all, const char *name, const char *folder)
{
	json_t *plugin;
	size_t i;

	json_array_foreach(all, i, plugin)
	{
		if (name && !strcmp(name, json_string_value(json_object_get(plugin, "name"))))
			return plugin;
	}
	json_array_foreach(all, i, plugin)
	{
		const char *f = json_string_value(json_object_get(plugin, "folderName"));
		if (folder && f && !strcmp(folder, f))
			return plugin;
	}
	return NULL;
}

static void reply_invalid(sensed_request *req, const char *why)
{
	char message[256];

	snprintf(message, sizeof(message), "Invalid input: %s", why);
	host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
}

/* Body: an array of {name or folderName, isEnabled} (or {"plugins": [...]}).  200 when
 * every item was applied, 202 when some were, 404 when none; 400 for a malformed body or
 * when an item would disable a plugin the server cannot run without (then nothing
 * changes: what was applied is undone). */
static void update_plugins(sensed_request *req, void *arg)
{
	json_t *body, *items, *item, *all, *changed, *entry;
	size_t i, applied = 0;
	const char *names[256];
	int previous[256];
	char why[200];

	(void)arg;
	if (host->request_json(req, &body))
		return;
	items = json_is_object(body) ? json_object_get(body, "plugins") : body;
	if (!json_is_array(items) || json_array_size(items) == 0) {
		reply_invalid(req, "expected a non-empty array of {name, isEnabled}");
		return;
	}
	if (json_array_size(items) > sizeof(names) / sizeof(names[0])) {
		reply_invalid(req, "at most 256 plugins per request");
		return;
	}
	json_array_foreach(items, i, item)
	{
		json_t *name = json_object_get(item, "name");
		json_t *folder = json_object_get(item, "folderName");
		if (!json_is_object(item) || (!json_is_string(name) && !json_is_string(folder)) ||
		    (name && !json_is_string(name)) || (folder && !json_is_string(folder)) ||
		    !json_is_boolean(json_object_get(item, "isEnabled"))) {
			snprintf(why, sizeof(why),
			         "item %zu: expected {\"name\" or \"folderName\": string, "
			         "\"isEnabled\": true|false}",
			         i);
			reply_invalid(req, why);
			return;
		}
	}

	all = host->plugins_list();
	changed = json_array();
	if (!all || !changed) {
		json_decref(all);
		json_decref(changed);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_array_foreach(items, i, item)
	{
		json_t *found = find_plugin(all, json_string_value(json_object_get(item, "name")),
		                            json_string_value(json_object_get(item, "folderName")));
		int enable = json_is_true(json_object_get(item, "isEnabled")), err;
		const char *name = json_string_value(json_object_get(found, "name"));

		if (!found || strcmp(json_string_value(json_object_get(found, "state")), "loaded"))
			continue; /* unknown, or never loaded: not updated */
		if (!enable && !strcmp(name, SELF_NAME))
			err = SENSED_EINVAL;
		else
			err = host->plugin_set_enabled(name, enable);
		/* An essential plugin is always enabled: enabling it is a no-op, not an error. */
		if (err == SENSED_EINVAL && enable)
			err = 0;
		if (err == SENSED_EINVAL) {
			/* Undo, newest first, so the request changes all or nothing. */
			while (applied > 0) {
				applied--;
				host->plugin_set_enabled(names[applied], previous[applied]);
			}
			json_t *extra =
			    json_pack("{s:s, s:s}", "resourceType", "plugin", "resourceName", name);
			snprintf(why, sizeof(why),
			         "plugin '%.64s' cannot be disabled: the server needs it to run "
			         "or to be managed",
			         name);
			host->reply_error_extra(req, 400, SENSED_CODE_PLUGIN_ESSENTIAL, why, extra);
			json_decref(extra);
			json_decref(all);
			json_decref(changed);
			return;
		}
		if (err)
			continue;
		names[applied] = name;
		previous[applied++] = json_is_true(json_object_get(found, "isEnabled"));
	}
	/* Reply with the applied plugins as they are now. */
	json_t *now = host->plugins_list();
	for (i = 0; i < applied; i++) {
		entry = find_plugin(now, names[i], NULL);
		if (entry && !find_plugin(changed, names[i], NULL))
			json_array_append(changed, listed(entry));
	}
	json_decref(now);
	json_decref(all);
	if (applied == 0) {
		host->reply_error(req, 404, SENSED_CODE_NO_PLUGINS_UPDATED, NULL);
	} else {
		host->reply_json(req, applied == json_array_size(items) ? 200 : 202, changed);
	}
	json_decref(changed);
}

static int plugins_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if (!SENSED_HOST_HAS(h, routes_list)) {
		h->set_error(self, "this server predates SDK ABI 1.2 (routes_list, features)");
		return SENSED_EUNSUPPORTED;
	}
	if ((err = h->route_add(self, SENSED_GET, "/plugins", SENSED_ROLE_ADMIN, list_plugins,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/plugins/get_info", SENSED_ROLE_ADMIN,
	                        plugin_info, NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH | SENSED_PUT, "/plugins", SENSED_ROLE_ADMIN,
	                        update_plugins, NULL))) {
		h->set_error(self, "plugins: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE(SELF_NAME, "1.0.0", "Plugins: list, inspect, enable and disable", plugins_init,
                     NULL)
