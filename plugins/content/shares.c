/* Shares: {shareId, type: user|group, rule: view|edit, subscribe}; the owner's
 * entry comes first and has no rule.  Set through PATCH /dashboards/{id}
 * {"shares": [...]} or the v0.9 POST /api/shares/dashboard/{id} {"sharesTo":
 * [...]}; read through GET /dashboards/{dashboardId}/shares (expand user,
 * group) or GET /api/shares/... */
#include "content.h"

#include <string.h>

int shares_apply_txn(sensed_txn *txn, json_t *dash, const json_t *shares, const char **message)
{
	const char *owner = json_string_value(json_object_get(dash, "owner"));
	const char *oid = json_string_value(json_object_get(dash, "oid"));
	json_t *out, *share, *old = NULL;
	size_t i;
	int err, shared = 0;

	if (!json_is_array(shares)) {
		*message = "shares must be an array";
		return SENSED_EINVAL;
	}
	out = owner_shares_new(owner);
	if (out == NULL)
		return SENSED_ENOMEM;
	json_array_foreach(shares, i, share)
	{
		const char *id = json_string_value(json_object_get(share, "shareId"));
		const char *type = json_string_value(json_object_get(share, "type"));
		const char *rule = json_string_value(json_object_get(share, "rule"));
		json_t *subscribe = json_object_get(share, "subscribe"), *doc = NULL;
		int is_group;

		if (type == NULL)
			type = "user";
		if (rule == NULL)
			rule = "view";
		is_group = strcmp(type, "group") == 0;
		if (id == NULL || !host->is_object_id(id) ||
		    (!is_group && strcmp(type, "user") != 0) ||
		    (strcmp(rule, "view") != 0 && strcmp(rule, "edit") != 0)) {
			*message = "each share needs a shareId (24-hex), type user|group and rule "
			           "view|edit";
			json_decref(out);
			return SENSED_EINVAL;
		}
		if (host->doc_get(txn, is_group ? store.groups : store.users, id, &doc) != 0) {
			*message = is_group ? "a shared group does not exist"
			                    : "a shared user does not exist";
			json_decref(out);
			return SENSED_EINVAL;
		}
		json_decref(doc);
		if (strcmp(id, owner) == 0)
			continue;
		for (size_t k = json_array_size(out); k-- > 1;)
			if (strcmp(json_string_value(
			               json_object_get(json_array_get(out, k), "shareId")),
			           id) == 0)
				json_array_remove(out, k);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b}", "shareId", id, "type",
		                                     type, "rule", rule, "subscribe",
		                                     json_is_true(subscribe)));
		shared = 1;
	}
	json_object_set_new(dash, "shares", out);
	if (shared && host->doc_get(txn, store.published, oid, &old) == SENSED_ENOTFOUND)
		return dash_publish_txn(txn, dash);
	json_decref(old);
	err = host->doc_replace(txn, store.dashboards, oid, dash);
	return err;
}

static const char *const share_expands[] = {"user", "group", NULL};

/* The shares of a visible dashboard, with user/group documents when expanded.
 * Replies on failure. */
static int shares_of(sensed_request *req, const char *oid, unsigned expand, json_t **out)
{
	json_t *dash = NULL, *shares;
	size_t i;
	json_t *share;
	int err = dash_open_for(NULL, req, oid, ACCESS_VIEW, &dash, NULL);

	if (err != 0)
		return err;
	shares = json_deep_copy(json_object_get(dash, "shares"));
	json_decref(dash);
	if (shares == NULL)
		shares = json_array();
	json_array_foreach(shares, i, share)
	{
		const char *type = json_string_value(json_object_get(share, "type"));
		const char *id = json_string_value(json_object_get(share, "shareId"));
		int is_group = type != NULL && strcmp(type, "group") == 0;
		json_t *doc = NULL;

		if (id == NULL || !(expand & (is_group ? 2u : 1u)))
			continue;
		if (host->doc_get(NULL, is_group ? store.groups : store.users, id, &doc) == 0)
			json_object_set_new(share, is_group ? "group" : "user", doc);
	}
	*out = shares;
	return 0;
}

/* GET /dashboards/{dashboardId}/shares[?expand=user,group][&fields=] -> array
 */
static void get_shares(sensed_request *req, void *arg)
{
	sensed_query q = SENSED_QUERY_INIT, fields = SENSED_QUERY_INIT;
	const char *oid = host->request_param(req, "dashboardId");
	json_t *shares = NULL;
	char *declared = NULL;
	unsigned expand = 0;
	size_t i;
	json_t *share;
	int err = 0;

	(void)arg;
	if (host->request_list_query(req, &q) != 0 ||
	    expand_split(req, q.expand, share_expands, 0, &declared, &expand) != 0)
		return;
	if (shares_of(req, oid, expand, &shares) != 0)
		return;
	fields.fields = q.fields;
	/* A projection of a share: the same rules as documents (the widgets
	 * collection has no references, so shape only projects). */
	json_array_foreach(shares, i, share)
	{
		if (q.fields != NULL && err == 0)
			err = host->shape(NULL, store.widgets, &fields, share);
	}
	reply_json_or_error(req, err, 200, shares);
	json_decref(shares);
}

/* GET /api/shares/dashboard/{id} (v0.9) -> {"sharesTo": [...]} */
static void get_shares_v09(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *shares = NULL, *body;

	(void)arg;
	if (shares_of(req, oid, 0, &shares) != 0)
		return;
	body = json_pack("{s:o}", "sharesTo", shares);
	host->reply_json(req, 200, body);
	json_decref(body);
}

/* POST /api/shares/dashboard/{id} (v0.9) {"sharesTo": [...]} (owner) -> 200
 * {"sharesTo"} */
static void set_shares_v09(sensed_request *req, void *arg)
{
	const char *oid = host->request_param(req, "id");
	json_t *body = NULL, *dash = NULL, *reply;
	const char *message = NULL;
	sensed_txn *txn = NULL;
	int err;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_array(json_object_get(body, "sharesTo"))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "sharesTo must be an array");
		return;
	}
	if (dash_begin(req, oid, ACCESS_OWNER, &txn, &dash, NULL) != 0)
		return;
	err = shares_apply_txn(txn, dash, json_object_get(body, "sharesTo"), &message);
	if (err == SENSED_EINVAL) {
		host->txn_abort(txn);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
	} else if (txn_end(req, txn, err) == 0) {
		reply = json_pack("{s:O}", "sharesTo", json_object_get(dash, "shares"));
		host->reply_json(req, 200, reply);
		json_decref(reply);
	}
	json_decref(dash);
}

int shares_init(sensed_plugin *self)
{
	int err;

	if ((err = host->route_add(self, SENSED_GET, "/dashboards/{dashboardId}/shares",
	                           SENSED_ROLE_CONSUMER, get_shares, NULL)) ||
	    (err = host->route_add(self, SENSED_GET, "/api/shares/dashboard/{id}",
	                           SENSED_ROLE_CONSUMER, get_shares_v09, NULL)) ||
	    (err = host->route_add(self, SENSED_POST, "/api/shares/dashboard/{id}",
	                           SENSED_ROLE_CONSUMER, set_shares_v09, NULL)))
		return err;
	return 0;
}
