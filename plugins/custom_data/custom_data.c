/* Custom data (Sisense's plug-in storage): free-form JSON documents in the collection
 * "custom_data", one set per installation.  Signed-in users read, admins write.
 *
 *   GET    /custom_data              every document (list options: fields, sort, skip, limit)
 *   POST   /custom_data              insert one document (or an array of them) -> 201
 *   POST   /custom_data/query        documents matching the body (a MongoDB-style filter)
 *   GET    /custom_data/query?query= the same with the filter in the query string
 *   PATCH  /custom_data/query        {queryForSearch, objectForUpdate}: merge into matches
 *   DELETE /custom_data/query        delete the documents matching the body -> 204
 *
 * objectForUpdate is either a plain object, whose keys (dotted paths allowed) are set on
 * every match, or an object of update operators ($set, $unset, $inc, $push).  A document
 * is never replaced wholesale: keys not named keep their values. */
#include <math.h>
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

/* Documents updated per page of a PATCH (all pages run in one write transaction). */
#define UPDATE_PAGE 256
/* Longest dotted path an update may name, and deepest nesting it may create. */
#define PATH_MAX_LEN   512
#define PATH_MAX_DEPTH 32

static const sensed_host *host;
static sensed_collection *custom_data;

static void reply_bad(sensed_request *req, const char *message)
{
	host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
}

/* ---- Update operators ------------------------------------------------------------------ */

enum update_op { OP_SET, OP_UNSET, OP_INC, OP_PUSH };

static const struct {
	const char *name;
	enum update_op op;
} update_ops[] = {{"$set", OP_SET}, {"$unset", OP_UNSET}, {"$inc", OP_INC}, {"$push", OP_PUSH}};

/* A path may not touch _id, be empty, have empty segments or name an operator. */
static int path_valid(const char *path)
{
	size_t len = strlen(path), depth = 1;
	const char *segment = path;

	if (len == 0 || len > PATH_MAX_LEN)
		return 0;
	if (strcmp(path, "_id") == 0 || strncmp(path, "_id.", 4) == 0)
		return 0;
	for (const char *p = path;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == segment || *segment == '$')
				return 0;
			if (*p == '\0')
				break;
			if (++depth > PATH_MAX_DEPTH)
				return 0;
			segment = p + 1;
		}
	}
	return 1;
}

/* Walk `path` in `doc` to the object holding its last segment.  With `create`, missing
 * objects on the way are created.  Returns the parent (borrowed) and the last segment in
 * *leaf (points into `path`), or NULL when the path crosses a non-object (or, without
 * `create`, a missing key). */
static json_t *walk(json_t *doc, const char *path, int create, const char **leaf)
{
	char segment[PATH_MAX_LEN + 1];
	json_t *node = doc;
	const char *start = path, *dot;

	while ((dot = strchr(start, '.')) != NULL) {
		size_t n = (size_t)(dot - start);
		json_t *child;

		memcpy(segment, start, n);
		segment[n] = '\0';
		child = json_object_get(node, segment);
		if (child == NULL) {
			if (!create || json_object_set_new(node, segment, json_object()) != 0)
				return NULL;
			child = json_object_get(node, segment);
		}
		if (!json_is_object(child))
			return NULL;
		node = child;
		start = dot + 1;
	}
	*leaf = start;
	return node;
}

/* Apply one operator's {path: value} object to `doc` (a private copy).  0 or
 * SENSED_EINVAL with *why set to a static message. */
static int apply_op(json_t *doc, enum update_op op, json_t *fields, const char **why)
{
	const char *path, *leaf;
	json_t *value, *parent, *current;

	if (!json_is_object(fields)) {
		*why = "an update operator takes an object of paths";
		return SENSED_EINVAL;
	}
	json_object_foreach(fields, path, value)
	{
		if (!path_valid(path)) {
			*why = "invalid field path (empty, _id or an operator)";
			return SENSED_EINVAL;
		}
		parent = walk(doc, path, op != OP_UNSET, &leaf);
		if (parent == NULL) {
			if (op == OP_UNSET)
				continue;
			*why = "a field path crosses a value that is not an object";
			return SENSED_EINVAL;
		}
		current = json_object_get(parent, leaf);
		switch (op) {
		case OP_SET:
			if (json_object_set(parent, leaf, value) != 0)
				return SENSED_ENOMEM;
			break;
		case OP_UNSET:
			json_object_del(parent, leaf);
			break;
		case OP_INC: {
			json_t *sum;

			if (!json_is_number(value) ||
			    (current != NULL && !json_is_number(current))) {
				*why = "$inc needs numbers";
				return SENSED_EINVAL;
			}
			if (current == NULL)
				sum = json_copy(value);
			else if (json_is_integer(current) && json_is_integer(value))
				sum = json_integer(json_integer_value(current) +
				                   json_integer_value(value));
			else {
				double d = json_number_value(current) + json_number_value(value);
				sum = isfinite(d) ? json_real(d) : NULL;
				if (sum == NULL) {
					*why = "$inc overflows";
					return SENSED_EINVAL;
				}
			}
			if (json_object_set_new(parent, leaf, sum) != 0)
				return SENSED_ENOMEM;
			break;
		}
		case OP_PUSH: {
			json_t *each =
			    json_is_object(value) ? json_object_get(value, "$each") : NULL;

			if (current == NULL) {
				if (json_object_set_new(parent, leaf, json_array()) != 0)
					return SENSED_ENOMEM;
				current = json_object_get(parent, leaf);
			}
			if (!json_is_array(current)) {
				*why = "$push needs an array";
				return SENSED_EINVAL;
			}
			if (each != NULL) {
				if (!json_is_array(each) || json_object_size(value) != 1) {
					*why = "$push {$each} needs an array";
					return SENSED_EINVAL;
				}
				if (json_array_extend(current, each) != 0)
					return SENSED_ENOMEM;
			} else if (json_array_append(current, value) != 0) {
				return SENSED_ENOMEM;
			}
			break;
		}
		}
	}
	return 0;
}

/* Check an objectForUpdate before anything is written: either only operators, or no
 * operator at all (a plain object is $set). */
static int update_valid(json_t *update, const char **why)
{
	const char *key;
	json_t *value;
	size_t operators = 0;

	if (!json_is_object(update) || json_object_size(update) == 0) {
		*why = "objectForUpdate must be a non-empty object";
		return 0;
	}
	json_object_foreach(update, key, value)
	{
		if (key[0] != '$')
			continue;
		operators++;
		size_t i;
		for (i = 0; i < sizeof(update_ops) / sizeof(update_ops[0]); i++)
			if (strcmp(key, update_ops[i].name) == 0)
				break;
		if (i == sizeof(update_ops) / sizeof(update_ops[0])) {
			*why = "unsupported update operator (use $set, $unset, $inc or $push)";
			return 0;
		}
	}
	if (operators != 0 && operators != json_object_size(update)) {
		*why = "objectForUpdate mixes operators and plain fields";
		return 0;
	}
	return 1;
}

static int apply_update(json_t *doc, json_t *update, const char **why)
{
	const char *key;
	json_t *value;
	int err;

	if (json_object_size(update) > 0 &&
	    json_object_iter_key(json_object_iter(update))[0] != '$')
		return apply_op(doc, OP_SET, update, why);
	json_object_foreach(update, key, value)
	{
		for (size_t i = 0; i < sizeof(update_ops) / sizeof(update_ops[0]); i++)
			if (strcmp(key, update_ops[i].name) == 0 &&
			    (err = apply_op(doc, update_ops[i].op, value, why)) != 0)
				return err;
	}
	return 0;
}

/* ---- Handlers --------------------------------------------------------------------------- */

/* Reply with the documents matching `filter` (borrowed, may be NULL), shaped by the
 * request's list options. */
static void reply_matches(sensed_request *req, json_t *filter)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *docs = NULL;
	int err;

	if (filter != NULL && !json_is_object(filter)) {
		reply_bad(req, "the query must be a JSON object");
		return;
	}
	if (host->request_list_query(req, &q) != 0)
		return;
	q.filter = filter;
	if ((err = host->find(NULL, custom_data, &q, &docs)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	host->reply_json(req, 200, docs);
	json_decref(docs);
}

static void get_all(sensed_request *req, void *arg)
{
	(void)arg;
	reply_matches(req, NULL);
}

static void post_query(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;

	if (host->request_json(req, &body) != 0)
		return;
	reply_matches(req, body);
}

static void get_query(sensed_request *req, void *arg)
{
	(void)arg;
	const char *text = host->request_query(req, "query");
	json_t *filter = NULL;

	if (text != NULL && *text != '\0') {
		filter = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		if (filter == NULL) {
			host->reply_error(req, 400, SENSED_CODE_INVALID_JSON,
			                  "query is not valid JSON");
			return;
		}
	}
	reply_matches(req, filter);
	json_decref(filter);
}

static void post_document(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *docs, *doc;
	sensed_txn *txn = NULL;
	size_t i;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body) && !(json_is_array(body) && json_array_size(body) > 0)) {
		reply_bad(req, "the body must be a JSON object or a non-empty array of objects");
		return;
	}
	/* Insert copies: doc_insert stamps its argument, and the body is the request's. */
	docs = json_is_array(body) ? json_deep_copy(body) : json_array();
	if (docs == NULL ||
	    (json_is_object(body) && json_array_append_new(docs, json_deep_copy(body))) ||
	    json_array_size(docs) == 0) {
		json_decref(docs);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_array_foreach(docs, i, doc)
	{
		if (!json_is_object(doc)) {
			json_decref(docs);
			reply_bad(req, "every custom data document must be a JSON object");
			return;
		}
	}
	if ((err = host->txn_begin(1, &txn)) == 0) {
		json_array_foreach(docs, i, doc)
		{
			if ((err = host->doc_insert(txn, custom_data, doc, NULL)) != 0)
				break;
		}
		if (err != 0)
			host->txn_abort(txn);
		else
			err = host->txn_commit(txn);
	}
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, json_is_array(body) ? docs : json_array_get(docs, 0));
	json_decref(docs);
}

/* The filter of one page: `filter` AND _id > `after` (storage order is _id order, and
 * _id never changes, so an update that changes matched fields cannot skip documents). */
static json_t *page_filter(json_t *filter, const char *after)
{
	if (after[0] == '\0')
		return json_incref(filter);
	return json_pack("{s:[O, {s:{s:s}}]}", "$and", filter, "_id", "$gt", after);
}

static void patch_query(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *filter, *update, *updated = NULL, *page = NULL;
	const char *why = NULL;
	char after[25] = "";
	sensed_txn *txn = NULL;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	filter = json_object_get(body, "queryForSearch");
	update = json_object_get(body, "objectForUpdate");
	if (!json_is_object(body) || !json_is_object(filter)) {
		reply_bad(req, "the body must be {\"queryForSearch\": {...}, "
		               "\"objectForUpdate\": {...}}");
		return;
	}
	if (!update_valid(update, &why)) {
		reply_bad(req, why);
		return;
	}
	if ((updated = json_array()) == NULL || (err = host->txn_begin(1, &txn)) != 0) {
		json_decref(updated);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	for (;;) {
		sensed_query q = SENSED_QUERY_INIT;
		json_t *doc;
		size_t i;

		q.filter = page_filter(filter, after);
		q.limit = UPDATE_PAGE;
		err = q.filter ? host->find(txn, custom_data, &q, &page) : SENSED_ENOMEM;
		json_decref(q.filter);
		if (err != 0 || json_array_size(page) == 0)
			break;
		json_array_foreach(page, i, doc)
		{
			const char *id = json_string_value(json_object_get(doc, "_id"));

			if (id == NULL || strlen(id) != 24) {
				err = SENSED_ESTORE;
				break;
			}
			memcpy(after, id, 25);
			if ((err = apply_update(doc, update, &why)) != 0 ||
			    (err = host->doc_replace(txn, custom_data, after, doc)) != 0 ||
			    (err = json_array_append(updated, doc) ? SENSED_ENOMEM : 0) != 0)
				break;
		}
		json_decref(page);
		page = NULL;
		if (err != 0)
			break;
	}
	json_decref(page);
	if (err != 0)
		host->txn_abort(txn);
	else
		err = host->txn_commit(txn);
	if (err == SENSED_EINVAL && why != NULL)
		reply_bad(req, why);
	else if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 200, updated);
	json_decref(updated);
}

static void delete_query(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *page = NULL;
	sensed_txn *txn = NULL;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	/* An empty body is refused rather than read as "everything": {} says that. */
	if (!json_is_object(body)) {
		reply_bad(req, "the body must be a query object ({} deletes every document)");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	for (;;) {
		sensed_query q = SENSED_QUERY_INIT;
		json_t *doc;
		size_t i;

		q.filter = body;
		q.fields = "_id";
		q.limit = UPDATE_PAGE;
		if ((err = host->find(txn, custom_data, &q, &page)) != 0 ||
		    json_array_size(page) == 0)
			break;
		json_array_foreach(page, i, doc)
		{
			const char *id = json_string_value(json_object_get(doc, "_id"));
			if ((err = host->doc_delete(txn, custom_data, id ? id : "")) != 0)
				break;
		}
		json_decref(page);
		page = NULL;
		if (err != 0)
			break;
	}
	json_decref(page);
	if (err != 0)
		host->txn_abort(txn);
	else
		err = host->txn_commit(txn);
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int custom_data_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if ((err = h->collection_open(self, "custom_data", &custom_data)) ||
	    (err = h->route_add(self, SENSED_GET, "/custom_data", SENSED_ROLE_CONSUMER, get_all,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/custom_data", SENSED_ROLE_ADMIN, post_document,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/custom_data/query", SENSED_ROLE_CONSUMER,
	                        post_query, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/custom_data/query", SENSED_ROLE_CONSUMER,
	                        get_query, NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH, "/custom_data/query", SENSED_ROLE_ADMIN,
	                        patch_query, NULL)) ||
	    (err = h->route_add(self, SENSED_DELETE, "/custom_data/query", SENSED_ROLE_ADMIN,
	                        delete_query, NULL))) {
		h->set_error(self, "custom_data: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("custom_data", "1.0.0", "Custom data documents for plug-ins (/custom_data)",
                     custom_data_init, NULL)
