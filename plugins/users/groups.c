/* /groups: list, get, create, update, delete.  expand=users is done here: the store's
 * references map a field of a document to other documents, and a group holds no list of
 * its members (users.groups does), so the reverse lookup is a query on users.groups. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const system_groups[] = {"Everyone", "All users in system"};

static int is_system_group(const json_t *group)
{
	const char *name = json_string_value(json_object_get(group, "name"));
	for (size_t i = 0; name != NULL && i < sizeof system_groups / sizeof system_groups[0]; i++)
		if (strcmp(name, system_groups[i]) == 0)
			return 1;
	return 0;
}

/* Shaping of one request: the store's part of the query and the users expansion. */
struct group_shape {
	sensed_query q;     /* expand points at store_expand */
	char *store_expand; /* owned */
	char *users_expand; /* owned: sub-expand of users, NULL for none */
	int users;          /* expand=users asked */
};

static void group_shape_free(struct group_shape *s)
{
	free(s->store_expand);
	free(s->users_expand);
}

/* Reads the list options; replies and returns -1 on a bad value or when a caller below
 * admin asks for the members (users are admin-only, AUTHORIZATION.md). */
static int group_shape_read(sensed_request *req, struct group_shape *s)
{
	memset(s, 0, sizeof *s);
	s->q = (sensed_query)SENSED_QUERY_INIT;
	if (U.host->request_list_query(req, &s->q) != 0)
		return -1;
	int err = expand_split(s->q.expand, "users", &s->store_expand, &s->users, &s->users_expand);
	if (err == SENSED_ENOTFOUND) {
		U.host->reply_error(req, 404, SENSED_CODE_INVALID_EXPAND, NULL);
		return -1;
	}
	if (err != 0) {
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return -1;
	}
	s->q.expand = s->store_expand;
	if (s->users && U.host->request_role(req) < SENSED_ROLE_ADMIN) {
		group_shape_free(s);
		U.host->reply_error(req, 403, SENSED_CODE_FORBIDDEN,
		                    "expand=users: only administrators read users");
		return -1;
	}
	return 0;
}

/* group.users = the users whose groups hold the group's id (expanded by `sub`). */
static int add_members(sensed_txn *txn, json_t *group, const char *id, const char *sub)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *members = NULL;
	json_t *filter = json_pack("{s:s}", "groups", id);
	if (filter == NULL)
		return SENSED_ENOMEM;
	q.filter = filter;
	q.expand = sub;
	q.limit = 0;
	int err = U.host->find(txn, U.users, &q, &members);
	json_decref(filter);
	if (err == 0 && json_object_set_new(group, "users", members) != 0)
		err = SENSED_ENOMEM;
	return err;
}

/* Begin a transaction (`write`) and read group `id` into *group (new reference).  An
 * absent group is answered here (404, transaction aborted, *txn NULL, SENSED_ENOTFOUND);
 * on any other error the reply and *txn (NULL when it never began) are the caller's. */
static int group_begin(sensed_request *req, int write, const char *id, sensed_txn **txn,
                       json_t **group)
{
	int err = U.host->txn_begin(write, txn);
	if (err == 0)
		err = U.host->doc_get(*txn, U.groups, id, group);
	if (err == SENSED_ENOTFOUND) {
		U.host->txn_abort(*txn);
		*txn = NULL;
		reply_not_found(req, SENSED_CODE_GROUP_NOT_FOUND, "group", id);
	}
	return err;
}

static int build_group_filter(sensed_request *req, json_t *filter, struct fail *f)
{
	const char *value;
	if ((value = U.host->request_query(req, "name")) != NULL &&
	    filter_add(filter, "name", json_string(value), f) != 0)
		return -1;
	if ((value = U.host->request_query(req, "mail")) != NULL &&
	    filter_add(filter, "mail", json_string(value), f) != 0)
		return -1;
	if ((value = U.host->request_query(req, "roleId")) != NULL ||
	    (value = U.host->request_query(req, "role")) != NULL) {
		const struct role_info *role = role_by_id_or_name(value);
		if (filter_add(filter, "roleId", json_string(role ? role->id : value), f) != 0)
			return -1;
	}
	if (origin_filter(req, filter, "ad", f) != 0)
		return -1;
	return ids_filter(req, filter, f);
}

static void list_groups(sensed_request *req, void *arg)
{
	(void)arg;
	struct group_shape shape;
	struct fail f = {0};
	json_t *filter, *out = NULL;
	if (group_shape_read(req, &shape) != 0)
		return;
	filter = json_object();
	if (filter == NULL || build_group_filter(req, filter, &f) != 0) {
		json_decref(filter);
		group_shape_free(&shape);
		if (f.status == 0)
			fail_set(&f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		reply_fail(req, &f);
		return;
	}
	shape.q.filter = filter;
	sensed_txn *txn = NULL;
	int err = U.host->txn_begin(0, &txn);
	if (err == 0)
		err = U.host->find(txn, U.groups, &shape.q, &out);
	if (err == 0 && shape.users) {
		size_t i;
		json_t *group;
		json_array_foreach(out, i, group)
		{
			/* The id may have been projected away: look it up by the stored order. */
			const char *id = json_string_value(json_object_get(group, "_id"));
			if (id != NULL &&
			    (err = add_members(txn, group, id, shape.users_expand)) != 0)
				break;
		}
	}
	if (txn != NULL)
		U.host->txn_abort(txn);
	json_decref(filter);
	group_shape_free(&shape);
	reply_shaped(req, err, out);
	json_decref(out);
}

static void get_group(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	struct group_shape shape;
	json_t *group = NULL;
	if (!require_object_id(req, id) || group_shape_read(req, &shape) != 0)
		return;
	sensed_txn *txn = NULL;
	int err = group_begin(req, 0, id, &txn, &group);
	if (err == SENSED_ENOTFOUND) {
		group_shape_free(&shape);
		return;
	}
	if (err == 0)
		err = U.host->shape(txn, U.groups, &shape.q, group);
	if (err == 0 && shape.users)
		err = add_members(txn, group, id, shape.users_expand);
	if (txn != NULL)
		U.host->txn_abort(txn);
	group_shape_free(&shape);
	reply_shaped(req, err, group);
	json_decref(group);
}

/* Apply `body` to `doc` (a copy of `stored`, or a new group when `stored` is NULL). */
static int build_group(const json_t *body, const json_t *stored, json_t *doc, struct fail *f)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)body, key, value)
	{
		const json_t *old = stored ? json_object_get(stored, key) : NULL;
		if (strcmp(key, "name") == 0) {
			if (!json_is_string(value)) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "name: expected a string");
				return -1;
			}
			if (json_string_length(value) == 0) {
				fail_set(f, 400, SENSED_CODE_MANDATORY_FIELDS_EMPTY,
				         "Mandatory fields empty: name");
				return -1;
			}
			if (json_string_length(value) > 256 ||
			    strlen(json_string_value(value)) != json_string_length(value)) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "name: at most 256 bytes of text");
				return -1;
			}
			if (stored != NULL && is_system_group(stored) && !json_equal(old, value)) {
				fail_set(f, 400, SENSED_CODE_SYSTEM_GROUP,
				         "System groups cannot be renamed");
				return -1;
			}
			json_object_set(doc, "name", value);
		} else if (strcmp(key, "mail") == 0) {
			if (!json_is_string(value) && !json_is_null(value)) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "mail: expected a string or null");
				return -1;
			}
			json_object_set(doc, "mail", value);
		} else if (strcmp(key, "roleId") == 0 ||
		           (strcmp(key, "role") == 0 && json_object_get(body, "roleId") == NULL)) {
			const struct role_info *role = role_from_json(value);
			if (role == NULL) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "%s: no such role (a role id or name)", key);
				return -1;
			}
			json_object_set_new(doc, "roleId", json_string(role->id));
		} else if (strcmp(key, "role") == 0) {
			continue; /* roleId wins over an expanded role */
		} else if (strcmp(key, "ad") == 0) {
			if (!json_is_boolean(value)) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "ad: expected a boolean");
				return -1;
			}
			json_object_set(doc, "ad", value);
		} else if (strcmp(key, "users") == 0 && stored != NULL) {
			continue; /* an expanded member list sent back: membership lives on users */
		} else if ((old != NULL && json_equal(old, value)) ||
		           (old == NULL && json_is_null(value))) {
			continue; /* a read-only field sent back unchanged */
		} else {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "%s: read-only or unknown field", key);
			return -1;
		}
	}
	return 0;
}

static int name_taken(sensed_txn *txn, const json_t *doc, const char *self_id, struct fail *f)
{
	json_t *filter = json_pack("{s:O}", "name", json_object_get(doc, "name")), *found = NULL;
	int err = filter ? U.host->find_one(txn, U.groups, filter, &found) : SENSED_ENOMEM;
	json_decref(filter);
	if (err == SENSED_ENOTFOUND)
		return 0;
	if (err == 0) {
		const char *id = json_string_value(json_object_get(found, "_id"));
		int other = self_id == NULL || id == NULL || strcmp(id, self_id) != 0;
		json_decref(found);
		if (!other)
			return 0;
		fail_set(f, 400, SENSED_CODE_GROUP_EXISTS, "Group already exists: %s",
		         json_string_value(json_object_get(doc, "name")));
		return SENSED_EEXISTS;
	}
	fail_store(f, err, SENSED_CODE_GROUP_EXISTS);
	return err;
}

/* End a group write: abort `txn` unless committed (NULL), then reply `doc` (borrowed) with
 * `status` when err is 0, else *f, or when *f is unset the store error (a taken name as
 * GROUP_EXISTS). */
static void reply_group_write(sensed_request *req, sensed_txn *txn, int err, struct fail *f,
                              int status, const json_t *doc)
{
	if (txn != NULL)
		U.host->txn_abort(txn);
	if (err != 0) {
		if (f->status == 0)
			fail_store(f, err, SENSED_CODE_GROUP_EXISTS);
		reply_fail(req, f);
	} else {
		U.host->reply_json(req, status, doc);
	}
}

static json_t *object_body(sensed_request *req)
{
	json_t *body = NULL;
	if (U.host->request_json(req, &body) != 0)
		return NULL;
	if (!json_is_object(body)) {
		U.host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                    "expected a group object");
		return NULL;
	}
	return body;
}

static void post_group(sensed_request *req, void *arg)
{
	(void)arg;
	struct fail f = {0};
	json_t *body = object_body(req);
	if (body == NULL)
		return;
	if (json_object_get(body, "name") == NULL) {
		U.host->reply_error(req, 422, SENSED_CODE_MANDATORY_FIELDS_MISSING,
		                    "Mandatory fields missing: name");
		return;
	}
	json_t *doc =
	    json_pack("{s:n, s:s, s:b}", "mail", "roleId", role_by_name("consumer")->id, "ad", 0);
	sensed_txn *txn = NULL;
	int err = doc == NULL ? SENSED_ENOMEM : 0;
	if (err == 0 && build_group(body, NULL, doc, &f) != 0)
		err = SENSED_EINVAL;
	if (err == 0 && (err = U.host->txn_begin(1, &txn)) == 0 &&
	    (err = name_taken(txn, doc, NULL, &f)) == 0 &&
	    (err = U.host->doc_insert(txn, U.groups, doc, NULL)) == 0) {
		err = U.host->txn_commit(txn);
		txn = NULL;
	}
	reply_group_write(req, txn, err, &f, 201, doc);
	json_decref(doc);
}

static void patch_group(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	struct fail f = {0};
	json_t *stored = NULL, *doc = NULL, *body;
	sensed_txn *txn = NULL;
	if (!require_object_id(req, id))
		return;
	int err = group_begin(req, 1, id, &txn, &stored);
	if (err == SENSED_ENOTFOUND)
		return;
	/* request_json replies itself on bad JSON: leave no transaction open across it. */
	if (err == 0 && (body = object_body(req)) == NULL) {
		U.host->txn_abort(txn);
		json_decref(stored);
		return;
	}
	if (err == 0 && (doc = json_deep_copy(stored)) == NULL)
		err = SENSED_ENOMEM;
	if (err == 0 && build_group(body, stored, doc, &f) != 0)
		err = SENSED_EINVAL;
	if (err == 0 && (err = name_taken(txn, doc, id, &f)) == 0 &&
	    (err = U.host->doc_replace(txn, U.groups, id, doc)) == 0) {
		err = U.host->txn_commit(txn);
		txn = NULL;
	}
	reply_group_write(req, txn, err, &f, 200, doc);
	json_decref(stored);
	json_decref(doc);
}

/* Deleting a group removes it from its members, in the same transaction. */
static void delete_group(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	sensed_query q = SENSED_QUERY_INIT;
	json_t *group = NULL, *members = NULL, *filter = NULL;
	sensed_txn *txn = NULL;
	if (!require_object_id(req, id))
		return;
	int err = group_begin(req, 1, id, &txn, &group);
	if (err == SENSED_ENOTFOUND)
		return;
	if (err == 0 && is_system_group(group)) {
		U.host->txn_abort(txn);
		json_decref(group);
		U.host->reply_error(req, 400, SENSED_CODE_SYSTEM_GROUP,
		                    "System groups cannot be deleted");
		return;
	}
	json_decref(group);
	if (err == 0 && (filter = json_pack("{s:s}", "groups", id)) == NULL)
		err = SENSED_ENOMEM;
	q.filter = filter;
	if (err == 0)
		err = U.host->find(txn, U.users, &q, &members);
	size_t i;
	json_t *user;
	json_array_foreach(members, i, user)
	{
		json_t *groups = json_object_get(user, "groups");
		for (size_t j = json_array_size(groups); j-- > 0;) {
			const char *member_of = json_string_value(json_array_get(groups, j));
			if (member_of != NULL && strcmp(member_of, id) == 0)
				json_array_remove(groups, j);
		}
		/* doc_replace rewrites user._id: pass a copy of the id, not the string it frees. */
		char user_id[25] = "";
		const char *stored_id = json_string_value(json_object_get(user, "_id"));
		if (stored_id != NULL && strlen(stored_id) == 24)
			memcpy(user_id, stored_id, 25);
		if (err == 0)
			err = U.host->doc_replace(txn, U.users, user_id, user);
	}
	json_decref(members);
	json_decref(filter);
	if (err == 0)
		err = U.host->doc_delete(txn, U.groups, id);
	if (err == 0) {
		err = U.host->txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL)
		U.host->txn_abort(txn);
	if (err != 0)
		U.host->reply_store_error(req, err);
	else
		U.host->reply_empty(req, 204);
}

int groups_register(sensed_plugin *self)
{
	static const struct users_route routes[] = {
	    {SENSED_GET, "/groups", SENSED_ROLE_CONSUMER, list_groups},
	    {SENSED_POST, "/groups", SENSED_ROLE_ADMIN, post_group},
	    {SENSED_GET, "/groups/{id}", SENSED_ROLE_CONSUMER, get_group},
	    {SENSED_PATCH, "/groups/{id}", SENSED_ROLE_ADMIN, patch_group},
	    {SENSED_DELETE, "/groups/{id}", SENSED_ROLE_ADMIN, delete_group},
	};
	return routes_add(self, routes, sizeof routes / sizeof routes[0]);
}
