/* Features: GET /features and PATCH /features/{key}/toggle over the host's feature table
 * (host->features_list, host->feature_set_active).  Plugins declare the features they
 * provide with host->feature_declare; toggling one off closes the routes of the plugins
 * that gate on it (403, code 1012) at once, and the state survives restarts. */
#include <sensed/plugin.h>
#include <stdio.h>
#include <string.h>

static const sensed_host *host;

static void reply_feature_not_found(sensed_request *req, const char *key)
{
	json_t *extra = json_pack("{s:s, s:s}", "resourceType", "feature", "resourceName", key);

	host->reply_error_extra(req, 404, SENSED_CODE_FEATURE_NOT_FOUND, NULL, extra);
	json_decref(extra);
}

static void list_features(sensed_request *req, void *arg)
{
	json_t *list = host->features_list();

	(void)arg;
	if (!list) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, list);
	json_decref(list);
}

/* The feature `key` from a fresh list (new reference), or NULL. */
static json_t *feature_entry(const char *key)
{
	json_t *list = host->features_list(), *item, *found = NULL;
	size_t i;

	json_array_foreach(list, i, item)
	{
		if (strcmp(json_string_value(json_object_get(item, "key")), key) == 0) {
			found = json_incref(item);
			break;
		}
	}
	json_decref(list);
	return found;
}

/* 1 or 0 for a body that is exactly `true` or `false` (blanks around), -1 otherwise. */
static int bare_boolean(sensed_request *req)
{
	size_t len, start = 0;
	const char *bytes = host->request_body(req, &len);

	while (start < len && bytes[start] && strchr(" \t\r\n", bytes[start]))
		start++;
	while (len > start && bytes[len - 1] && strchr(" \t\r\n", bytes[len - 1]))
		len--;
	if (len - start == 4 && memcmp(bytes + start, "true", 4) == 0)
		return 1;
	if (len - start == 5 && memcmp(bytes + start, "false", 5) == 0)
		return 0;
	return -1;
}

/* Body: {"active": bool} (also "toggleFeature", the catalog's name), or a bare bool. */
static void toggle_feature(sensed_request *req, void *arg)
{
	const char *key = host->request_param(req, "key");
	json_t *body, *active = NULL, *entry;
	int err;

	(void)arg;
	/* A bare JSON scalar: the host's parser takes objects and arrays only. */
	int bare = bare_boolean(req);
	if (bare >= 0) {
		active = bare ? json_true() : json_false(); /* static: no reference to drop */
	} else if (host->request_json(req, &body)) {
		return;
	} else if (json_is_object(body) && json_object_size(body) == 1) {
		active = json_object_get(body, "active");
		if (!active)
			active = json_object_get(body, "toggleFeature");
	}
	if (!json_is_boolean(active)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "Invalid input: expected {\"active\": true|false}");
		return;
	}
	err = host->feature_set_active(key, json_is_true(active));
	if (err == SENSED_ENOTFOUND) {
		reply_feature_not_found(req, key);
		return;
	}
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	entry = feature_entry(key);
	if (!entry) {
		reply_feature_not_found(req, key);
		return;
	}
	host->reply_json(req, 200, entry);
	json_decref(entry);
}

static int features_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if (!SENSED_HOST_HAS(h, feature_set_active)) {
		h->set_error(self, "this server predates SDK ABI 1.2 (features)");
		return SENSED_EUNSUPPORTED;
	}
	if ((err = h->route_add(self, SENSED_GET, "/features", SENSED_ROLE_CONSUMER, list_features,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH, "/features/{key}/toggle", SENSED_ROLE_ADMIN,
	                        toggle_feature, NULL))) {
		h->set_error(self, "features: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("features", "1.0.0", "Features: list and toggle (GET/PATCH /features)",
                     features_init, NULL)
