/* Analytics: read-only exports of whole collections for BI tools, opened by a token of
 * its own, and the dashboard/widget load timers that feed one of them.
 *
 *   GET  /analytics/token          a token of scope "analytics" for the caller -> {"token"}
 *   GET  /analytics/token/revoke   revoke the caller's analytics tokens -> 204
 *   GET  /analytics/collection/{c} c in users, groups, dashboards, widgets, folders,
 *                                  alerts, timers; only an analytics token opens it
 *   POST /logs/timer               record one load timing (collection "timers")
 *
 * What a collection shows follows the token user's current role: admins (admin, super)
 * get every document; anyone else only their own (see README.md for the rule per
 * collection).  The "timers" collection keeps the newest `maxTimers` records (plugin
 * configuration, default 10000). */
#include <math.h>
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE          "analytics"
#define EXPORT_PAGE    500
#define TIMER_MAX_BODY 4096
#define TIMER_MAX_TEXT 256
#define TIMER_MAX_KEYS 16
/* One day in milliseconds: a longer "load time" is a client bug, not a measurement. */
#define TIMER_MAX_DURATION 86400000.0
#define TIMERS_DEFAULT_MAX 10000

static const sensed_host *host;
static sensed_collection *timers;
static json_int_t max_timers = TIMERS_DEFAULT_MAX;

/* Who sees what.  `own` builds the filter of a non-admin's documents. */
struct exported {
	const char *name;
	sensed_collection *coll;
	json_t *(*own)(const char *user_id, json_t *user);
};

static json_t *own_user(const char *user_id, json_t *user)
{
	(void)user;
	return json_pack("{s:s}", "_id", user_id);
}

/* The groups the user belongs to. */
static json_t *own_groups(const char *user_id, json_t *user)
{
	(void)user_id;
	json_t *ids = json_object_get(user, "groups");
	if (!json_is_array(ids))
		return json_pack("{s:{s:[]}}", "_id", "$in");
	return json_pack("{s:{s:O}}", "_id", "$in", ids);
}

/* Owned (owner or userId), or shared with the user. */
static json_t *own_content(const char *user_id, json_t *user)
{
	(void)user;
	return json_pack("{s:[{s:s}, {s:s}, {s:s}]}", "$or", "owner", user_id, "userId", user_id,
	                 "shares.shareId", user_id);
}

static json_t *own_by_owner(const char *user_id, json_t *user)
{
	(void)user;
	return json_pack("{s:s}", "owner", user_id);
}

static json_t *own_by_user_id(const char *user_id, json_t *user)
{
	(void)user;
	return json_pack("{s:s}", "userId", user_id);
}

static struct exported exported[] = {
    {"users", NULL, own_user},         {"groups", NULL, own_groups},
    {"dashboards", NULL, own_content}, {"widgets", NULL, own_content},
    {"folders", NULL, own_content},    {"alerts", NULL, own_by_owner},
    {"timers", NULL, own_by_user_id},
};
#define EXPORTED_COUNT (sizeof(exported) / sizeof(exported[0]))

static void reply_unavailable(sensed_request *req)
{
	host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
}

/* ---- Tokens --------------------------------------------------------------------------- */

static void issue_token(sensed_request *req, void *arg)
{
	(void)arg;
	char *token = NULL;
	json_t *body;
	int err = host->token_issue_scoped(host->request_user_id(req), SCOPE, &token);

	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	body = json_pack("{s:s}", "token", token);
	free(token);
	if (body == NULL) {
		reply_unavailable(req);
		return;
	}
	host->reply_json(req, 200, body);
	json_decref(body);
}

static void revoke_token(sensed_request *req, void *arg)
{
	(void)arg;
	int err = host->tokens_revoke_scoped(host->request_user_id(req), SCOPE);

	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

/* ---- Collections ---------------------------------------------------------------------- */

/* Every document of `filter` (borrowed, NULL for all), read in pages of _id order (the
 * store caps one find at its maximum limit).  *out is a new array. */
static int read_all(sensed_collection *coll, json_t *filter, json_t **out)
{
	json_t *all = json_array(), *page = NULL;
	char after[25] = "";
	int err = all ? 0 : SENSED_ENOMEM;

	while (err == 0) {
		sensed_query q = SENSED_QUERY_INIT;
		json_t *range = NULL, *last;

		if (after[0] != '\0') {
			range = filter ? json_pack("{s:[O, {s:{s:s}}]}", "$and", filter, "_id",
			                           "$gt", after)
			               : json_pack("{s:{s:s}}", "_id", "$gt", after);
			if (range == NULL) {
				err = SENSED_ENOMEM;
				break;
			}
		}
		q.filter = range ? range : filter;
		q.limit = EXPORT_PAGE;
		err = host->find(NULL, coll, &q, &page);
		json_decref(range);
		if (err != 0 || json_array_size(page) == 0)
			break;
		last = json_array_get(page, json_array_size(page) - 1);
		const char *id = json_string_value(json_object_get(last, "_id"));
		if (id == NULL || strlen(id) != 24 || json_array_extend(all, page) != 0) {
			err = id == NULL ? SENSED_ESTORE : SENSED_ENOMEM;
			break;
		}
		memcpy(after, id, 25);
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	if (err != 0) {
		json_decref(all);
		return err;
	}
	*out = all;
	return 0;
}

static void get_collection(sensed_request *req, void *arg)
{
	(void)arg;
	const char *name = host->request_param(req, "collection");
	struct exported *e = NULL;
	json_t *filter = NULL, *docs = NULL;
	int err;

	for (size_t i = 0; name != NULL && i < EXPORTED_COUNT; i++)
		if (strcmp(name, exported[i].name) == 0)
			e = &exported[i];
	if (e == NULL) {
		json_t *extra =
		    json_pack("{s:s, s:s?}", "resourceType", "collection", "resourceName", name);
		host->reply_error_extra(req, 404, SENSED_CODE_NOT_FOUND,
		                        "Unknown analytics collection", extra);
		json_decref(extra);
		return;
	}
	if (host->request_role(req) < SENSED_ROLE_ADMIN) {
		filter = e->own(host->request_user_id(req), host->request_user(req));
		if (filter == NULL) {
			reply_unavailable(req);
			return;
		}
	}
	err = read_all(e->coll, filter, &docs);
	json_decref(filter);
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	host->reply_json(req, 200, docs);
	json_decref(docs);
}

/* ---- Timers --------------------------------------------------------------------------- */

static void reply_bad(sensed_request *req, const char *message)
{
	host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
}

/* Build the stored timer from a request body; NULL with *why on invalid input. */
static json_t *timer_from_body(json_t *body, const char *user_id, const char **why)
{
	static const char *const known[] = {"dashboardId", "widgetId", "name", "type"};
	json_t *timer, *details, *value, *duration = json_object_get(body, "duration");
	const char *key;

	*why = NULL;
	if (!json_is_object(body)) {
		*why = "the body must be a timer object";
		return NULL;
	}
	if (json_object_size(body) > TIMER_MAX_KEYS) {
		*why = "a timer has at most 16 fields";
		return NULL;
	}
	if (!json_is_number(duration) || !isfinite(json_number_value(duration)) ||
	    json_number_value(duration) < 0 || json_number_value(duration) > TIMER_MAX_DURATION) {
		*why = "duration must be a number of milliseconds (0 to 86400000)";
		return NULL;
	}
	timer = json_pack("{s:s, s:O}", "userId", user_id, "duration", duration);
	details = json_object();
	if (timer == NULL || details == NULL) {
		json_decref(timer);
		json_decref(details);
		return NULL;
	}
	json_object_foreach(body, key, value)
	{
		int is_known = 0;

		if (strcmp(key, "duration") == 0)
			continue;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			is_known |= strcmp(key, known[i]) == 0;
		if (json_is_string(value) && json_string_length(value) <= TIMER_MAX_TEXT) {
			json_object_set(is_known ? timer : details, key, value);
		} else if (!is_known && (json_is_number(value) || json_is_boolean(value) ||
		                         json_is_null(value))) {
			json_object_set(details, key, value);
		} else {
			*why = is_known
			           ? "dashboardId, widgetId, name and type are strings of at most "
			             "256 characters"
			           : "extra timer fields are scalars (strings of at most 256 "
			             "characters, numbers, booleans)";
			json_decref(timer);
			json_decref(details);
			return NULL;
		}
	}
	if (json_object_size(details) > 0)
		json_object_set(timer, "details", details);
	json_decref(details);
	return timer;
}

/* Insert `timer` and drop the oldest records beyond max_timers, in one transaction. */
static int store_timer(json_t *timer)
{
	sensed_txn *txn = NULL;
	json_t *oldest = NULL, *doc;
	size_t count = 0, i;
	int err;

	if ((err = host->txn_begin(1, &txn)) != 0)
		return err;
	if ((err = host->doc_insert(txn, timers, timer, NULL)) == 0 &&
	    (err = host->count(txn, timers, NULL, &count)) == 0 && count > (size_t)max_timers) {
		sensed_query q = SENSED_QUERY_INIT;

		q.fields = "_id";
		q.limit = count - (size_t)max_timers;
		if ((err = host->find(txn, timers, &q, &oldest)) == 0) {
			json_array_foreach(oldest, i, doc)
			{
				const char *id = json_string_value(json_object_get(doc, "_id"));
				if ((err = host->doc_delete(txn, timers, id ? id : "")) != 0)
					break;
			}
		}
		json_decref(oldest);
	}
	if (err != 0) {
		host->txn_abort(txn);
		return err;
	}
	return host->txn_commit(txn);
}

/* POST /logs/timer {duration, dashboardId?, widgetId?, name?, type?, ...} -> 200 record */
static void post_timer(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *timer;
	const char *why;
	size_t len = 0;
	int err;

	host->request_body(req, &len);
	if (len > TIMER_MAX_BODY) {
		host->reply_error(req, 413, SENSED_CODE_BODY_TOO_LARGE,
		                  "a timer body is at most 4096 bytes");
		return;
	}
	if (host->request_json(req, &body) != 0)
		return;
	timer = timer_from_body(body, host->request_user_id(req), &why);
	if (timer == NULL) {
		if (why != NULL)
			reply_bad(req, why);
		else
			reply_unavailable(req);
		return;
	}
	if ((err = store_timer(timer)) != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 200, timer);
	json_decref(timer);
}

static int analytics_init(sensed_plugin *self, const sensed_host *h)
{
	json_t *configured;
	int err = 0;

	host = h;
	if (!SENSED_HOST_HAS(h, route_add_scoped)) {
		h->set_error(self, "analytics: the server has no scoped tokens (SDK 1.2 needed)");
		return SENSED_EUNSUPPORTED;
	}
	configured = json_object_get(h->config(self), "maxTimers");
	if (configured != NULL) {
		if (!json_is_integer(configured) || json_integer_value(configured) < 1) {
			h->set_error(self, "analytics: maxTimers must be a positive integer");
			return SENSED_EINVAL;
		}
		max_timers = json_integer_value(configured);
	}
	for (size_t i = 0; err == 0 && i < EXPORTED_COUNT; i++)
		err = h->collection_open(self, exported[i].name, &exported[i].coll);
	timers = exported[EXPORTED_COUNT - 1].coll; /* "timers" */
	if (err == 0)
		err = h->route_add(self, SENSED_GET, "/analytics/token", SENSED_ROLE_CONSUMER,
		                   issue_token, NULL);
	if (err == 0)
		err = h->route_add(self, SENSED_GET, "/analytics/token/revoke",
		                   SENSED_ROLE_CONSUMER, revoke_token, NULL);
	if (err == 0)
		err = h->route_add_scoped(self, SENSED_GET, "/analytics/collection/{collection}",
		                          SCOPE, get_collection, NULL);
	if (err == 0)
		err = h->route_add(self, SENSED_POST, "/logs/timer", SENSED_ROLE_CONSUMER,
		                   post_timer, NULL);
	if (err != 0)
		h->set_error(self, "analytics: %s", h->strerror(err));
	return err;
}

SENSED_PLUGIN_DEFINE("analytics", "1.0.0",
                     "Analytics collections (/analytics) and load timers (/logs/timer)",
                     analytics_init, NULL)
