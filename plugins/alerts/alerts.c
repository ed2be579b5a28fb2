/* Alerts (wire.md §6 "alert"), collection "alerts".  Any signed-in user creates alerts
 * and owns them; an owner sees and changes only their own, admins (role admin or super)
 * see and change every alert.  An alert the caller may not see answers 404, as if it did
 * not exist.  Parties name existing users and groups (collections "users", "groups").
 *
 * The routes belong to the feature "alerting" (declared when the host supports features):
 * while an operator turns it off they answer 403. */
#include <sensed/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sensed_host *host;
static sensed_collection *alerts, *users, *groups;

/* Fields a PATCH may change (catalog ALR-05). */
static const char *const patchable[] = {"name",    "enabled", "message",
                                        "parties", "action",  "context"};
/* Fields a POST may set; everything else in the body is ignored.  owner, _id, created and
 * lastUpdated are the server's. */
static const char *const creatable[] = {"name",      "enabled",      "message",  "parties",
                                        "action",    "context",      "category", "type",
                                        "scheduler", "disabledUsers"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int is_admin(sensed_request *req)
{
	return host->request_role(req) >= SENSED_ROLE_ADMIN;
}

static void reply_bad(sensed_request *req, const char *message)
{
	host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
}

static void reply_not_found(sensed_request *req, const char *id)
{
	json_t *extra = json_pack("{s:s, s:s?}", "resourceType", "alert", "resourceName", id);
	host->reply_error_extra(req, 404, SENSED_CODE_NOT_FOUND, "Alert not found", extra);
	json_decref(extra);
}

/* Does a document with _id `id` exist in `coll`? */
static int exists(sensed_collection *coll, const char *id)
{
	json_t *doc = NULL;
	int found;

	if (id == NULL || !host->is_object_id(id))
		return 0;
	found = host->doc_get(NULL, coll, id, &doc) == 0;
	json_decref(doc);
	return found;
}

static int string_in(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* Validate one field of an alert body; NULL when valid, else the message. */
static const char *field_error(const char *key, json_t *value)
{
	static const char *const categories[] = {"system", "kpi", "dashboard"};
	static const char *const types[] = {"build", "kpi"};
	size_t i;
	json_t *item;

	if (strcmp(key, "name") == 0)
		return json_is_string(value) && json_string_length(value) > 0 &&
		               json_string_length(value) <= 1024
		           ? NULL
		           : "name must be a non-empty string";
	if (strcmp(key, "message") == 0)
		return json_is_string(value) || json_is_null(value) ? NULL
		                                                    : "message must be a string";
	if (strcmp(key, "enabled") == 0)
		return json_is_boolean(value) ? NULL : "enabled must be a boolean";
	if (strcmp(key, "action") == 0 || strcmp(key, "context") == 0 ||
	    strcmp(key, "scheduler") == 0)
		return json_is_object(value) ? NULL : "action, context and scheduler are objects";
	if (strcmp(key, "category") == 0)
		return json_is_string(value) &&
		               string_in(json_string_value(value), categories, COUNT(categories))
		           ? NULL
		           : "category must be \"system\", \"kpi\" or \"dashboard\"";
	if (strcmp(key, "type") == 0)
		return json_is_string(value) &&
		               string_in(json_string_value(value), types, COUNT(types))
		           ? NULL
		           : "type must be \"build\" or \"kpi\"";
	if (strcmp(key, "disabledUsers") == 0) {
		if (!json_is_array(value))
			return "disabledUsers must be an array of user ids";
		json_array_foreach(value, i, item)
		{
			if (!exists(users, json_string_value(item)))
				return "disabledUsers names a user that does not exist";
		}
		return NULL;
	}
	if (strcmp(key, "parties") == 0) {
		if (!json_is_array(value))
			return "parties must be an array of {type, id}";
		json_array_foreach(value, i, item)
		{
			const char *type = json_string_value(json_object_get(item, "type"));
			const char *id = json_string_value(json_object_get(item, "id"));

			if (type == NULL || id == NULL)
				return "a party is {\"type\": \"user\"|\"group\"|\"adgroup\", "
				       "\"id\"}";
			if (strcmp(type, "user") == 0) {
				if (!exists(users, id))
					return "a party names a user that does not exist";
			} else if (strcmp(type, "group") == 0 || strcmp(type, "adgroup") == 0) {
				if (!exists(groups, id))
					return "a party names a group that does not exist";
			} else {
				return "a party's type must be \"user\", \"group\" or \"adgroup\"";
			}
		}
		return NULL;
	}
	return NULL;
}

/* Read alert `id` if the caller may see it: 0 and *out, or SENSED_ENOTFOUND. */
static int visible_alert(sensed_request *req, const char *id, json_t **out)
{
	const char *owner;
	int err;

	*out = NULL;
	if (id == NULL || !host->is_object_id(id))
		return SENSED_ENOTFOUND;
	if ((err = host->doc_get(NULL, alerts, id, out)) != 0)
		return err;
	owner = json_string_value(json_object_get(*out, "owner"));
	if (is_admin(req) || (owner != NULL && strcmp(owner, host->request_user_id(req)) == 0))
		return 0;
	json_decref(*out);
	*out = NULL;
	return SENSED_ENOTFOUND;
}

/* GET /alerts?ids=&fields=&sort=&skip=&limit=&expand= */
static void list_alerts(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_query q = SENSED_QUERY_INIT;
	json_t *ids = host->request_query_list(req, "ids");
	json_t *filter = json_object(), *docs = NULL;
	int err;

	if (host->request_list_query(req, &q) != 0) {
		json_decref(filter);
		return;
	}
	if (filter == NULL ||
	    (!is_admin(req) &&
	     json_object_set_new(filter, "owner", json_string(host->request_user_id(req)))) ||
	    (json_array_size(ids) > 0 &&
	     json_object_set_new(filter, "_id", json_pack("{s:O}", "$in", ids)))) {
		json_decref(filter);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	q.filter = filter;
	err = host->find(NULL, alerts, &q, &docs);
	json_decref(filter);
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	host->reply_json(req, 200, docs);
	json_decref(docs);
}

/* GET /alerts/count -> {"count": n}: the alerts the caller owns. */
static void count_alerts(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *filter = json_pack("{s:s}", "owner", host->request_user_id(req)), *body;
	size_t n = 0;
	int err = filter ? host->count(NULL, alerts, filter, &n) : SENSED_ENOMEM;

	json_decref(filter);
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	body = json_pack("{s:I}", "count", (json_int_t)n);
	host->reply_json(req, 200, body);
	json_decref(body);
}

static void get_alert(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id");
	sensed_query q = SENSED_QUERY_INIT;
	json_t *doc;
	int err;

	if (host->request_list_query(req, &q) != 0)
		return;
	if ((err = visible_alert(req, id, &doc)) != 0) {
		if (err == SENSED_ENOTFOUND)
			reply_not_found(req, id);
		else
			host->reply_store_error(req, err);
		return;
	}
	json_decref(doc);
	if ((err = host->reply_document(req, alerts, id, &q)) == SENSED_ENOTFOUND)
		reply_not_found(req, id);
	else if (err != 0)
		host->reply_store_error(req, err);
}

static void create_alert(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *alert, *value;
	const char *why;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		reply_bad(req, "the body must be an alert object");
		return;
	}
	if (!json_is_string(json_object_get(body, "name"))) {
		host->reply_error(req, 422, SENSED_CODE_MANDATORY_FIELDS_MISSING,
		                  "Mandatory fields missing: name");
		return;
	}
	if ((alert = json_object()) == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	for (size_t i = 0; i < COUNT(creatable); i++) {
		if ((value = json_object_get(body, creatable[i])) == NULL)
			continue;
		if ((why = field_error(creatable[i], value)) != NULL) {
			json_decref(alert);
			reply_bad(req, why);
			return;
		}
		json_object_set_new(alert, creatable[i], json_deep_copy(value));
	}
	/* Defaults a client reading the shape expects. */
	if (!json_object_get(alert, "enabled"))
		json_object_set_new(alert, "enabled", json_true());
	if (!json_object_get(alert, "parties"))
		json_object_set_new(alert, "parties", json_array());
	if (!json_object_get(alert, "disabledUsers"))
		json_object_set_new(alert, "disabledUsers", json_array());
	json_object_set_new(alert, "owner", json_string(host->request_user_id(req)));
	int err = host->doc_insert(NULL, alerts, alert, NULL);
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, alert);
	json_decref(alert);
}

/* Write `alert` (owned) back and reply 200 with it. */
static void save_and_reply(sensed_request *req, const char *id, json_t *alert)
{
	int err = host->doc_replace(NULL, alerts, id, alert);

	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 200, alert);
	json_decref(alert);
}

/* PATCH /alerts/{id}: only the patchable fields change.  Other fields may be sent back
 * unchanged (clients PATCH the object they read); a different value is refused. */
static void patch_alert(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id"), *key, *why;
	json_t *body = NULL, *alert, *value;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		reply_bad(req, "the body must be a partial alert object");
		return;
	}
	if ((err = visible_alert(req, id, &alert)) != 0) {
		if (err == SENSED_ENOTFOUND)
			reply_not_found(req, id);
		else
			host->reply_store_error(req, err);
		return;
	}
	json_object_foreach(body, key, value)
	{
		if (!string_in(key, patchable, COUNT(patchable))) {
			if (json_equal(value, json_object_get(alert, key)))
				continue;
			char message[160];
			snprintf(
			    message, sizeof(message),
			    "%.64s cannot be updated (name, enabled, message, parties, action, "
			    "context can)",
			    key);
			json_decref(alert);
			reply_bad(req, message);
			return;
		}
		if ((why = field_error(key, value)) != NULL) {
			json_decref(alert);
			reply_bad(req, why);
			return;
		}
	}
	json_object_foreach(body, key, value)
	{
		if (string_in(key, patchable, COUNT(patchable)))
			json_object_set_new(alert, key, json_deep_copy(value));
	}
	save_and_reply(req, id, alert);
}

/* Is `user` a recipient of `alert`: a user party, or a member of a group party? */
static int is_party(json_t *alert, json_t *user)
{
	const char *user_id = json_string_value(json_object_get(user, "_id"));
	json_t *member_of = json_object_get(user, "groups"), *party, *group;
	size_t i, j;

	json_array_foreach(json_object_get(alert, "parties"), i, party)
	{
		const char *id = json_string_value(json_object_get(party, "id"));
		const char *type = json_string_value(json_object_get(party, "type"));

		if (id == NULL || type == NULL)
			continue;
		if (strcmp(type, "user") == 0 && user_id && strcmp(id, user_id) == 0)
			return 1;
		json_array_foreach(member_of, j, group)
		{
			if (strcmp(type, "user") != 0 && json_is_string(group) &&
			    strcmp(json_string_value(group), id) == 0)
				return 1;
		}
	}
	return 0;
}

/* PATCH /alerts/{id}/setReceiveNotification {userId?, receiveNotification}: remove the
 * user from (true) or add them to (false) disabledUsers.  userId defaults to the caller.
 * The owner and admins may set it for anyone; a recipient (a party) only for themselves. */
static void set_receive_notification(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id"), *caller = host->request_user_id(req);
	const char *user_id, *owner;
	json_t *body = NULL, *alert = NULL, *receive, *disabled, *item;
	size_t i;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	receive = json_object_get(body, "receiveNotification");
	user_id = json_string_value(json_object_get(body, "userId"));
	if (!json_is_object(body) || !json_is_boolean(receive) ||
	    (json_object_get(body, "userId") != NULL && user_id == NULL)) {
		reply_bad(req, "the body must be {\"userId\": \"<id>\", \"receiveNotification\": "
		               "true|false}");
		return;
	}
	if (user_id == NULL)
		user_id = caller;
	if (id == NULL || !host->is_object_id(id) ||
	    (err = host->doc_get(NULL, alerts, id, &alert)) == SENSED_ENOTFOUND) {
		reply_not_found(req, id);
		return;
	}
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	owner = json_string_value(json_object_get(alert, "owner"));
	int manages = is_admin(req) || (owner != NULL && strcmp(owner, caller) == 0);
	if (!manages &&
	    !(strcmp(user_id, caller) == 0 && is_party(alert, host->request_user(req)))) {
		json_decref(alert);
		reply_not_found(req, id);
		return;
	}
	if (!exists(users, user_id)) {
		json_decref(alert);
		host->reply_error(req, 404, SENSED_CODE_USER_NOT_FOUND, NULL);
		return;
	}
	disabled = json_object_get(alert, "disabledUsers");
	if (!json_is_array(disabled)) {
		json_object_set_new(alert, "disabledUsers", json_array());
		disabled = json_object_get(alert, "disabledUsers");
	}
	for (i = 0; i < json_array_size(disabled); i++) {
		item = json_array_get(disabled, i);
		if (json_is_string(item) && strcmp(json_string_value(item), user_id) == 0)
			break;
	}
	if (json_is_true(receive) && i < json_array_size(disabled))
		json_array_remove(disabled, i);
	else if (json_is_false(receive) && i == json_array_size(disabled))
		json_array_append_new(disabled, json_string(user_id));
	save_and_reply(req, id, alert);
}

static void delete_alert(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id");
	json_t *alert;
	int err = visible_alert(req, id, &alert);

	json_decref(alert);
	if (err == 0)
		err = host->doc_delete(NULL, alerts, id);
	if (err == SENSED_ENOTFOUND)
		reply_not_found(req, id);
	else if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int alerts_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if ((err = h->collection_open(self, "alerts", &alerts)) ||
	    (err = h->collection_open(self, "users", &users)) ||
	    (err = h->collection_open(self, "groups", &groups)) ||
	    (err = h->index_declare(alerts, "owner", 0)) ||
	    (err = h->reference_declare(alerts, "owner", "owner", users, "_id")) ||
	    (err = h->route_add(self, SENSED_GET, "/alerts", SENSED_ROLE_CONSUMER, list_alerts,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/alerts/count", SENSED_ROLE_CONSUMER,
	                        count_alerts, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/alerts/{id}", SENSED_ROLE_CONSUMER, get_alert,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/alerts", SENSED_ROLE_CONSUMER, create_alert,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH, "/alerts/{id}", SENSED_ROLE_CONSUMER,
	                        patch_alert, NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH, "/alerts/{id}/setReceiveNotification",
	                        SENSED_ROLE_CONSUMER, set_receive_notification, NULL)) ||
	    (err = h->route_add(self, SENSED_DELETE, "/alerts/{id}", SENSED_ROLE_CONSUMER,
	                        delete_alert, NULL))) {
		h->set_error(self, "alerts: %s", h->strerror(err));
		return err;
	}
	if (SENSED_HOST_HAS(h, feature_declare)) {
		sensed_feature feature = {
		    .size = sizeof(feature),
		    .key = "alerting",
		    .name = "Alerting",
		    .description = "Alerts on builds and KPIs (/alerts)",
		    .default_active = 1,
		    .gates_routes = 1,
		};
		if ((err = h->feature_declare(self, &feature)) != 0) {
			h->set_error(self, "alerts: declaring the feature: %s", h->strerror(err));
			return err;
		}
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("alerts", "1.0.0", "Alerts (/alerts)", alerts_init, NULL)
