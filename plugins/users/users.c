/* /users: list, get, create, bulk create, update, delete (README.md; who may do what is in
 * AUTHORIZATION.md). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN     512  /* the core's limit for login names */
#define PASSWORD_MAX_LEN 1024 /* the core's limit */

/* Who is asking.  `id` is borrowed from the request. */
struct actor {
	const char *id;
	enum sensed_role level;
};

static struct actor actor_of(sensed_request *req)
{
	struct actor a = {.id = U.host->request_user_id(req), .level = U.host->request_role(req)};
	return a;
}

static enum sensed_role level_of_user(const json_t *user)
{
	const struct role_info *role =
	    role_by_id(json_string_value(json_object_get(user, "roleId")));
	return role ? role->level : SENSED_ROLE_CONSUMER;
}

static int user_is_active(const json_t *user)
{
	return !json_is_false(json_object_get(user, "active"));
}

/* May `a` manage (edit privileged fields of, delete) a user of `level` other than
 * themselves?  Admins manage everyone below admin; the super user manages everyone. */
static int may_manage(const struct actor *a, enum sensed_role level)
{
	if (a->level >= SENSED_ROLE_SUPER)
		return 1;
	return a->level >= SENSED_ROLE_ADMIN && level < SENSED_ROLE_ADMIN;
}

/* ---- Field rules ------------------------------------------------------------------------- */

enum field_kind {
	F_EMAIL,
	F_USER_NAME,
	F_TEXT,
	F_ROLE,
	F_GROUPS,
	F_ACTIVE,
	F_OBJECT,
	F_PASSWORD,
	F_OLD_PASSWORD,
};

static const struct field {
	const char *key;
	const char *alias; /* a name clients send instead (used when `key` is absent) */
	enum field_kind kind;
	int self_editable; /* a user may change it on their own profile */
} user_fields[] = {
    {"email", NULL, F_EMAIL, 0},
    {"userName", "username", F_USER_NAME, 0},
    {"firstName", NULL, F_TEXT, 1},
    {"lastName", NULL, F_TEXT, 1},
    {"roleId", "role", F_ROLE, 0},
    {"groups", NULL, F_GROUPS, 0},
    {"active", NULL, F_ACTIVE, 0},
    {"preferences", NULL, F_OBJECT, 1},
    {"uiSettings", NULL, F_OBJECT, 1},
    {"password", NULL, F_PASSWORD, 1},
    {"oldPassword", NULL, F_OLD_PASSWORD, 1},
};
#define FIELD_COUNT (sizeof user_fields / sizeof user_fields[0])

static const struct field *field_of(const char *key, int *is_alias)
{
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		if (strcmp(user_fields[i].key, key) == 0) {
			*is_alias = 0;
			return &user_fields[i];
		}
		if (user_fields[i].alias && strcmp(user_fields[i].alias, key) == 0) {
			*is_alias = 1;
			return &user_fields[i];
		}
	}
	return NULL;
}

/* The stored form of `value` for `field` (a new reference in *out; NULL for the password
 * fields, which are never stored), or 0 > return with *f set. */
static int normalize(const struct field *field, const char *name, const json_t *value, json_t **out,
                     struct fail *f)
{
	*out = NULL;
	switch (field->kind) {
	case F_EMAIL:
	case F_USER_NAME:
		if (!json_is_string(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "%s: expected a string",
			         name);
			return SENSED_EINVAL;
		}
		if (json_string_length(value) == 0) {
			fail_set(f, 400, SENSED_CODE_MANDATORY_FIELDS_EMPTY,
			         "Mandatory fields empty: %s", field->key);
			return SENSED_EINVAL;
		}
		if (json_string_length(value) > NAME_MAX_LEN ||
		    strlen(json_string_value(value)) != json_string_length(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "%s: too long or not text",
			         name);
			return SENSED_EINVAL;
		}
		if (field->kind == F_EMAIL) {
			const char *at = strchr(json_string_value(value), '@');
			if (at == NULL || at == json_string_value(value) || at[1] == '\0' ||
			    strpbrk(json_string_value(value), " \t\r\n") != NULL) {
				fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
				         "email: not an e-mail address");
				return SENSED_EINVAL;
			}
			*out = lower_string(json_string_value(value));
		} else {
			*out = json_incref((json_t *)value);
		}
		break;
	case F_TEXT:
		if (!json_is_string(value) && !json_is_null(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "%s: expected a string or null", name);
			return SENSED_EINVAL;
		}
		*out = json_incref((json_t *)value);
		break;
	case F_ROLE: {
		if (json_is_string(value) && json_string_length(value) == 0) {
			fail_set(f, 400, SENSED_CODE_MANDATORY_FIELDS_EMPTY,
			         "Mandatory fields empty: roleId");
			return SENSED_EINVAL;
		}
		const struct role_info *role = role_from_json(value);
		if (role == NULL) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "%s: no such role (a role id or name)", name);
			return SENSED_EINVAL;
		}
		*out = json_string(role->id);
		break;
	}
	case F_GROUPS: {
		size_t i;
		json_t *item;
		if (!json_is_array(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "groups: expected an array of group ids");
			return SENSED_EINVAL;
		}
		json_t *ids = json_array();
		if (ids == NULL)
			break;
		json_array_foreach(value, i, item)
		{
			/* An expanded group (a full-set PATCH after expand=groups) counts by _id.
			 */
			const json_t *id =
			    json_is_object(item) ? json_object_get(item, "_id") : item;
			const char *s = json_string_value(id);
			if (s == NULL || !U.host->is_object_id(s)) {
				json_decref(ids);
				fail_set(f, 422, SENSED_CODE_INVALID_OBJECT_ID,
				         "groups[%zu]: invalid object ID", i);
				return SENSED_EINVAL;
			}
			int seen = 0;
			for (size_t j = 0; j < json_array_size(ids); j++)
				seen |= strcmp(json_string_value(json_array_get(ids, j)), s) == 0;
			if (!seen)
				json_array_append_new(ids, json_string(s));
		}
		*out = ids;
		break;
	}
	case F_ACTIVE:
		if (!json_is_boolean(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "active: expected a boolean");
			return SENSED_EINVAL;
		}
		*out = json_incref((json_t *)value);
		break;
	case F_OBJECT:
		if (!json_is_object(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "%s: expected an object",
			         name);
			return SENSED_EINVAL;
		}
		*out = json_deep_copy(value);
		break;
	case F_PASSWORD:
	case F_OLD_PASSWORD:
		if (!json_is_string(value) || json_string_length(value) == 0 ||
		    json_string_length(value) > PASSWORD_MAX_LEN ||
		    strlen(json_string_value(value)) != json_string_length(value)) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         "%s: expected a non-empty string of at most %d bytes", name,
			         PASSWORD_MAX_LEN);
			return SENSED_EINVAL;
		}
		return 0;
	}
	if (*out == NULL) {
		fail_set(f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return SENSED_ENOMEM;
	}
	return 0;
}

/* Every group id in doc.groups exists. */
static int groups_exist(sensed_txn *txn, const json_t *doc, struct fail *f)
{
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(doc, "groups"), i, id)
	{
		json_t *group = NULL;
		int err = U.host->doc_get(txn, U.groups, json_string_value(id), &group);
		json_decref(group);
		if (err == SENSED_ENOTFOUND) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "groups: no group %s",
			         json_string_value(id));
			return err;
		}
		if (err != 0) {
			fail_store(f, err, SENSED_CODE_INVALID_PARAMETER);
			return err;
		}
	}
	return 0;
}

/* What a create or update asks for beyond the document itself.  Strings borrow the body. */
struct user_edit {
	json_t *doc;              /* owned: the document to store */
	const char *password;     /* new password, or NULL */
	const char *old_password; /* or NULL */
	int role_changed;
	int deactivated;
};

/* Build edit->doc from `body`: a new user when `stored` is NULL, else a copy of `stored`
 * with the changes `a` may make to user `target_id`. */
static int build_user(const struct actor *a, const json_t *body, const json_t *stored,
                      const char *target_id, struct user_edit *edit, struct fail *f)
{
	const char *key;
	json_t *value;
	int self = stored != NULL && a->id != NULL && strcmp(a->id, target_id) == 0;
	int admin = a->level >= SENSED_ROLE_ADMIN;

	memset(edit, 0, sizeof *edit);
	edit->doc = stored ? json_deep_copy(stored) : json_object();
	if (edit->doc == NULL) {
		fail_set(f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return SENSED_ENOMEM;
	}
	json_object_foreach((json_t *)body, key, value)
	{
		int is_alias;
		const struct field *field = field_of(key, &is_alias);
		json_t *normal = NULL;

		if (field == NULL) {
			/* A full-set PATCH carries read-only fields: unchanged ones are fine. */
			const json_t *old = stored ? json_object_get(stored, key) : NULL;
			if (json_is_null(value) && old == NULL)
				continue;
			if (old != NULL && json_equal(old, value))
				continue;
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER,
			         old != NULL || stored == NULL ? "%s: read-only or unknown field"
			                                       : "%s: unknown field",
			         key);
			return SENSED_EINVAL;
		}
		if (is_alias && json_object_get(body, field->key) != NULL)
			continue; /* the canonical name wins (e.g. roleId over an expanded role) */
		/* The caller may manage the target (checked before): admins set every field,
		 * others only the self-editable ones of their own profile. */
		int allowed = admin || (self && field->self_editable);
		/* Nobody changes their own role or deactivates themselves. */
		if (self && (field->kind == F_ROLE || field->kind == F_ACTIVE))
			allowed = 0;
		if (normalize(field, key, value, &normal, f) != 0) {
			if (!allowed && stored != NULL) {
				const json_t *old = json_object_get(stored, field->key);
				if (old == NULL || !json_equal(old, value))
					fail_set(f, 403, SENSED_CODE_FORBIDDEN,
					         "%s: you may not change it", field->key);
			}
			return SENSED_EINVAL;
		}
		if (field->kind == F_PASSWORD) {
			if (!allowed) {
				fail_set(f, 403, SENSED_CODE_FORBIDDEN,
				         "password: you may not change it");
				return SENSED_EINVAL;
			}
			edit->password = json_string_value(value);
			continue;
		}
		if (field->kind == F_OLD_PASSWORD) {
			edit->old_password = json_string_value(value);
			continue;
		}
		const json_t *old = stored ? json_object_get(stored, field->key) : NULL;
		int changed = old == NULL ? !json_is_null(normal) : !json_equal(old, normal);
		if (!changed) {
			json_decref(normal);
			continue;
		}
		if (!allowed) {
			json_decref(normal);
			fail_set(f, 403, SENSED_CODE_FORBIDDEN, "%s: you may not change it",
			         field->key);
			return SENSED_EINVAL;
		}
		if (field->kind == F_ROLE)
			edit->role_changed = 1;
		if (field->kind == F_ACTIVE && json_is_false(normal))
			edit->deactivated = 1;
		json_object_set_new(edit->doc, field->key, normal);
	}
	if (stored == NULL) {
		/* Mandatory on create: email and a role. */
		const char *missing = json_object_get(edit->doc, "email") == NULL    ? "email"
		                      : json_object_get(edit->doc, "roleId") == NULL ? "roleId"
		                                                                     : NULL;
		if (missing != NULL) {
			fail_set(f, 422, SENSED_CODE_MANDATORY_FIELDS_MISSING,
			         "Mandatory fields missing: %s", missing);
			return SENSED_EINVAL;
		}
		if (json_object_get(edit->doc, "userName") == NULL)
			json_object_set(edit->doc, "userName", json_object_get(edit->doc, "email"));
		if (json_object_get(edit->doc, "firstName") == NULL)
			json_object_set_new(edit->doc, "firstName", json_string(""));
		if (json_object_get(edit->doc, "lastName") == NULL)
			json_object_set_new(edit->doc, "lastName", json_string(""));
		if (json_object_get(edit->doc, "groups") == NULL)
			json_object_set_new(edit->doc, "groups", json_array());
		if (json_object_get(edit->doc, "active") == NULL)
			json_object_set_new(edit->doc, "active", json_true());
		if (json_object_get(edit->doc, "preferences") == NULL)
			json_object_set_new(
			    edit->doc, "preferences",
			    json_pack("{s:s, s:s}", "localeId", "en-US", "language", "en-US"));
		json_object_set_new(edit->doc, "lastLogin", json_null());
		edit->role_changed = 1;
	}
	/* Who may hold the resulting role: admins grant up to dataAdmin, the super user
	 * grants admin too (a second super user is error 2006, checked with the store). */
	enum sensed_role level = level_of_user(edit->doc);
	if (edit->role_changed && level >= SENSED_ROLE_ADMIN && a->level < SENSED_ROLE_SUPER) {
		fail_set(f, 403, SENSED_CODE_FORBIDDEN,
		         "roleId: only the super user grants administrator roles");
		return SENSED_EINVAL;
	}
	if (edit->password != NULL && self && edit->old_password == NULL) {
		fail_set(f, 400, SENSED_CODE_OLD_PASSWORD_INCORRECT,
		         "oldPassword: required to change your own password");
		return SENSED_EINVAL;
	}
	if (!self)
		edit->old_password = NULL;
	return 0;
}

static void user_edit_clear(struct user_edit *edit)
{
	json_decref(edit->doc);
	edit->doc = NULL;
}

/* Another user (not `self_id`) matching `filter`? */
static int other_exists(sensed_txn *txn, json_t *filter, const char *self_id, int *exists)
{
	json_t *found = NULL;
	*exists = 0;
	if (filter == NULL)
		return SENSED_ENOMEM;
	int err = U.host->find_one(txn, U.users, filter, &found);
	json_decref(filter);
	if (err == SENSED_ENOTFOUND)
		return 0;
	if (err != 0)
		return err;
	const char *id = json_string_value(json_object_get(found, "_id"));
	*exists = self_id == NULL || id == NULL || strcmp(id, self_id) != 0;
	json_decref(found);
	return 0;
}

/* The store-level rules for `doc` replacing `old` (NULL on create) in `txn`: unique email
 * and userName (also against each other: login accepts either), one super user, seats
 * (counted in `txn`, so users inserted earlier in it count). */
static int check_conflicts(sensed_txn *txn, const json_t *doc, const json_t *old,
                           const char *self_id, struct fail *f)
{
	size_t extra[SEAT_COUNT] = {0};
	const char *email = json_string_value(json_object_get(doc, "email"));
	const char *user_name = json_string_value(json_object_get(doc, "userName"));
	int exists = 0, err = 0;

	if (email != NULL && (old == NULL || !json_equal(json_object_get(old, "email"),
	                                                 json_object_get(doc, "email"))))
		if (!(err = other_exists(txn, json_pack("{s:s}", "email", email), self_id,
		                         &exists)) &&
		    !exists)
			err = other_exists(txn, json_pack("{s:s}", "userName", email), self_id,
			                   &exists);
	if (!err && !exists && user_name != NULL &&
	    (old == NULL ||
	     !json_equal(json_object_get(old, "userName"), json_object_get(doc, "userName")))) {
		json_t *lower = lower_string(user_name);
		if (!(err = other_exists(txn, json_pack("{s:s}", "userName", user_name), self_id,
		                         &exists)) &&
		    !exists && lower != NULL)
			err =
			    other_exists(txn, json_pack("{s:O}", "email", lower), self_id, &exists);
		json_decref(lower);
	}
	if (err != 0) {
		fail_store(f, err, SENSED_CODE_USER_EXISTS);
		return err;
	}
	if (exists) {
		fail_set(f, 400, SENSED_CODE_USER_EXISTS, "User already exists: %s",
		         old == NULL ? email : "email or userName taken");
		return SENSED_EEXISTS;
	}
	enum sensed_role level = level_of_user(doc);
	if (level == SENSED_ROLE_SUPER &&
	    (old == NULL || level_of_user(old) != SENSED_ROLE_SUPER)) {
		fail_set(f, 400, SENSED_CODE_MULTIPLE_SUPER_USERS, NULL);
		return SENSED_EEXISTS;
	}
	/* A seat is taken by an active user; it moves when the role's seat changes. */
	if (user_is_active(doc) && (old == NULL || !user_is_active(old) ||
	                            seat_of(level_of_user(old)) != seat_of(level))) {
		extra[seat_of(level)]++;
		if ((err = seats_check(txn, extra, f)) != 0)
			return err;
	}
	return 0;
}

/* ---- Password jobs ------------------------------------------------------------------------ */

/* One create (bulk: many) or one update waiting for Argon2 on the pool. */
struct user_job {
	json_t *docs;       /* owned: the users (create: inserted; update: one, not yet written) */
	json_t *passwords;  /* owned: array parallel to docs, string or null */
	char target[25];    /* update: the user's id */
	char *old_password; /* owned; update of one's own password */
	json_t *stored;     /* owned; update: the document the edit was built from */
	int bulk;           /* reply with the array */
	int revoke;         /* update: revoke the user's tokens once written */
	int result;         /* from work() */
};

static void user_job_free(struct user_job *job)
{
	json_decref(job->docs);
	json_decref(job->passwords);
	json_decref(job->stored);
	free(job->old_password);
	free(job);
}

/* Pool thread: only "any thread" members. */
static void password_work(void *arg)
{
	struct user_job *job = arg;
	job->result = 0;
	if (job->old_password != NULL) {
		int err = U.host->password_verify(job->target, job->old_password);
		if (err != 0) {
			job->result = err == SENSED_ENOMEM ? err : SENSED_EINVAL;
			return;
		}
	}
	for (size_t i = 0; job->result == 0 && i < json_array_size(job->docs); i++) {
		const char *password = json_string_value(json_array_get(job->passwords, i));
		const char *id =
		    job->old_password || job->target[0]
		        ? job->target
		        : json_string_value(json_object_get(json_array_get(job->docs, i), "_id"));
		if (password != NULL)
			job->result = U.host->password_set(id, password);
	}
}

static void delete_created(const json_t *docs)
{
	sensed_txn *txn = NULL;
	size_t i;
	json_t *doc;
	if (U.host->txn_begin(1, &txn) != 0)
		return;
	json_array_foreach(docs, i, doc)
	{
		const char *id = json_string_value(json_object_get(doc, "_id"));
		U.host->doc_delete(txn, U.users, id);
		U.host->doc_delete(txn, U.secrets, id);
	}
	if (U.host->txn_commit(txn) != 0)
		U.host->log(U.self, SENSED_LOG_ERROR, "cannot remove users whose password failed");
}

static void create_done(sensed_request *req, void *arg)
{
	struct user_job *job = arg;
	if (job->result != 0) {
		delete_created(job->docs);
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE,
		                    "cannot set the password; nothing was created");
	} else {
		U.host->reply_json(req, 201, job->bulk ? job->docs : json_array_get(job->docs, 0));
	}
	user_job_free(job);
}

/* ---- Create ------------------------------------------------------------------------------ */

/* Name the failing element of a bulk request in the message. */
static void fail_prefix(struct fail *f, size_t index)
{
	char message[sizeof f->message + 32];
	snprintf(message, sizeof message, "users[%zu]: %s", index,
	         f->message[0] ? f->message : "rejected");
	memcpy(f->message, message, sizeof f->message - 1);
	f->message[sizeof f->message - 1] = '\0';
}

/* Build every user of `items` (objects), insert them in one transaction, then set the
 * passwords on the pool.  Replies. */
static void create_users(sensed_request *req, const json_t *items, int bulk)
{
	struct actor a = actor_of(req);
	struct fail f = {0};
	struct user_job *job = calloc(1, sizeof *job);
	sensed_txn *txn = NULL;
	size_t n = json_array_size(items);
	int err = 0, any_password = 0;

	if (job == NULL || (job->docs = json_array()) == NULL ||
	    (job->passwords = json_array()) == NULL) {
		fail_set(&f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		goto fail;
	}
	job->bulk = bulk;
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(items, i);
		struct user_edit edit;
		if (!json_is_object(item)) {
			fail_set(&f, 400, SENSED_CODE_INVALID_PARAMETER,
			         bulk ? "users[%zu]: expected a user object"
			              : "expected a user object",
			         i);
			goto fail;
		}
		if (build_user(&a, item, NULL, NULL, &edit, &f) != 0 ||
		    groups_exist(NULL, edit.doc, &f) != 0) {
			user_edit_clear(&edit);
			if (bulk)
				fail_prefix(&f, i);
			goto fail;
		}
		/* Duplicates inside the batch (email, or userName ignoring case). */
		for (size_t j = 0; j < json_array_size(job->docs); j++) {
			const json_t *other = json_array_get(job->docs, j);
			if (json_equal(json_object_get(other, "email"),
			               json_object_get(edit.doc, "email")) ||
			    strcasecmp(json_string_value(json_object_get(other, "userName")),
			               json_string_value(json_object_get(edit.doc, "userName"))) ==
			        0) {
				fail_set(&f, 400, SENSED_CODE_BULK_DUPLICATES,
				         "Duplicates in bulk: users[%zu] and users[%zu]", j, i);
				user_edit_clear(&edit);
				goto fail;
			}
		}
		json_array_append_new(job->docs, edit.doc);
		json_array_append_new(job->passwords,
		                      edit.password ? json_string(edit.password) : json_null());
		any_password |= edit.password != NULL;
	}
	/* All or nothing: one write transaction. */
	if ((err = U.host->txn_begin(1, &txn)) != 0) {
		fail_store(&f, err, SENSED_CODE_USER_EXISTS);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *doc = json_array_get(job->docs, i);
		if ((err = check_conflicts(txn, doc, NULL, NULL, &f)) != 0 ||
		    (err = U.host->doc_insert(txn, U.users, doc, NULL)) != 0) {
			if (f.status == 0)
				fail_store(&f, err, SENSED_CODE_USER_EXISTS);
			if (bulk)
				fail_prefix(&f, i);
			U.host->txn_abort(txn);
			goto fail;
		}
	}
	if ((err = U.host->txn_commit(txn)) != 0) {
		fail_store(&f, err, SENSED_CODE_USER_EXISTS);
		goto fail;
	}
	if (!any_password) {
		job->result = 0;
		create_done(req, job);
		return;
	}
	if (U.host->run_job(req, password_work, create_done, job) != 0) {
		delete_created(job->docs);
		fail_set(&f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		goto fail;
	}
	return;
fail:
	if (job != NULL)
		user_job_free(job);
	reply_fail(req, &f);
}

static void post_user(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	if (U.host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		U.host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                    "expected a user object");
		return;
	}
	json_t *items = json_pack("[O]", body);
	if (items == NULL) {
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	create_users(req, items, 0);
	json_decref(items);
}

static void post_users_bulk(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	if (U.host->request_json(req, &body) != 0)
		return;
	/* Some clients wrap the array: {"users": [...]}. */
	if (json_is_object(body) && json_is_array(json_object_get(body, "users")) &&
	    json_object_size(body) == 1)
		body = json_object_get(body, "users");
	if (!json_is_array(body)) {
		U.host->reply_error(req, 400, SENSED_CODE_USERS_NOT_ARRAY, NULL);
		return;
	}
	create_users(req, body, 1);
}

/* ---- Update ------------------------------------------------------------------------------ */

/* Write an update (built and checked against `stored`) in one transaction; replies. */
static void write_update(sensed_request *req, const char *id, json_t *doc, const json_t *stored,
                         int revoke)
{
	struct fail f = {0};
	sensed_txn *txn = NULL;
	json_t *current = NULL;
	int err = U.host->txn_begin(1, &txn);
	if (err == 0)
		err = U.host->doc_get(txn, U.users, id, &current);
	if (err == 0 && !json_equal(current, stored)) {
		/* Changed meanwhile (a concurrent update): refuse rather than lose it. */
		fail_set(&f, 409, SENSED_CODE_BAD_REQUEST,
		         "the user changed during the update; retry");
		err = SENSED_EEXISTS;
	}
	json_decref(current);
	if (err == 0 && (err = check_conflicts(txn, doc, stored, id, &f)) == 0 &&
	    (err = groups_exist(txn, doc, &f)) == 0)
		err = U.host->doc_replace(txn, U.users, id, doc);
	if (err != 0) {
		if (txn != NULL)
			U.host->txn_abort(txn);
		if (f.status == 0) {
			if (err == SENSED_ENOTFOUND)
				fail_set(&f, 404, SENSED_CODE_USER_NOT_FOUND, NULL);
			else
				fail_store(&f, err, SENSED_CODE_USER_EXISTS);
		}
		reply_fail(req, &f);
		return;
	}
	if ((err = U.host->txn_commit(txn)) != 0) {
		fail_store(&f, err, SENSED_CODE_USER_EXISTS);
		reply_fail(req, &f);
		return;
	}
	if (revoke)
		U.host->tokens_revoke_user(id);
	U.host->reply_json(req, 200, doc);
}

static void update_done(sensed_request *req, void *arg)
{
	struct user_job *job = arg;
	if (job->result == SENSED_EINVAL)
		U.host->reply_error(req, 400, SENSED_CODE_OLD_PASSWORD_INCORRECT, NULL);
	else if (job->result != 0)
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	else
		write_update(req, job->target, json_array_get(job->docs, 0), job->stored,
		             job->revoke);
	user_job_free(job);
}

static void patch_user(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	struct actor a = actor_of(req);
	struct fail f = {0};
	struct user_edit edit = {0};
	json_t *body = NULL, *stored = NULL;

	if (!require_object_id(req, id))
		return;
	int self = a.id != NULL && strcmp(a.id, id) == 0;
	if (!self && a.level < SENSED_ROLE_ADMIN) {
		U.host->reply_error(req, 403, SENSED_CODE_FORBIDDEN,
		                    "only administrators change other users");
		return;
	}
	int err = U.host->doc_get(NULL, U.users, id, &stored);
	if (err == SENSED_ENOTFOUND) {
		reply_not_found(req, SENSED_CODE_USER_NOT_FOUND, "user", id);
		return;
	}
	if (err != 0) {
		U.host->reply_store_error(req, err);
		return;
	}
	if (!self && !may_manage(&a, level_of_user(stored))) {
		json_decref(stored);
		U.host->reply_error(req, 403, SENSED_CODE_FORBIDDEN,
		                    "only the super user changes administrators");
		return;
	}
	if (U.host->request_json(req, &body) != 0) {
		json_decref(stored);
		return;
	}
	if (!json_is_object(body)) {
		json_decref(stored);
		U.host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                    "expected an object of user fields");
		return;
	}
	/* Check everything before any password work; write_update checks again. */
	if (build_user(&a, body, stored, id, &edit, &f) != 0 ||
	    groups_exist(NULL, edit.doc, &f) != 0 ||
	    check_conflicts(NULL, edit.doc, stored, id, &f) != 0) {
		user_edit_clear(&edit);
		json_decref(stored);
		reply_fail(req, &f);
		return;
	}
	/* A deactivated user, or one whose password an administrator reset, is signed out. */
	int revoke = edit.deactivated || (edit.password != NULL && !self);
	if (edit.password == NULL) {
		write_update(req, id, edit.doc, stored, revoke);
		user_edit_clear(&edit);
		json_decref(stored);
		return;
	}
	struct user_job *job = calloc(1, sizeof *job);
	if (job == NULL || (job->docs = json_array()) == NULL ||
	    json_array_append(job->docs, edit.doc) != 0 ||
	    (job->passwords = json_pack("[s]", edit.password)) == NULL ||
	    (edit.old_password && (job->old_password = strdup(edit.old_password)) == NULL)) {
		user_edit_clear(&edit);
		if (job != NULL)
			user_job_free(job);
		json_decref(stored);
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	user_edit_clear(&edit);
	memcpy(job->target, id, 25);
	job->stored = stored;
	job->revoke = revoke;
	if (U.host->run_job(req, password_work, update_done, job) != 0) {
		user_job_free(job);
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	}
}

/* ---- Delete ------------------------------------------------------------------------------ */

static void delete_user(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	struct actor a = actor_of(req);
	sensed_txn *txn = NULL;
	json_t *stored = NULL;

	if (!require_object_id(req, id))
		return;
	int err = U.host->txn_begin(1, &txn);
	if (err == 0)
		err = U.host->doc_get(txn, U.users, id, &stored);
	if (err != 0) {
		if (txn != NULL)
			U.host->txn_abort(txn);
		if (err == SENSED_ENOTFOUND)
			reply_not_found(req, SENSED_CODE_USER_NOT_FOUND, "user", id);
		else
			U.host->reply_store_error(req, err);
		return;
	}
	enum sensed_role level = level_of_user(stored);
	json_decref(stored);
	if (level == SENSED_ROLE_SUPER) {
		U.host->txn_abort(txn);
		U.host->reply_error(req, 400, SENSED_CODE_SUPER_USER_DELETE, NULL);
		return;
	}
	if ((a.id != NULL && strcmp(a.id, id) == 0) || !may_manage(&a, level)) {
		U.host->txn_abort(txn);
		U.host->reply_error(req, 403, SENSED_CODE_FORBIDDEN,
		                    a.id != NULL && strcmp(a.id, id) == 0
		                        ? "you cannot delete yourself"
		                        : "only the super user deletes administrators");
		return;
	}
	err = U.host->doc_delete(txn, U.users, id);
	if (err == 0) {
		int secret_err = U.host->doc_delete(txn, U.secrets, id);
		if (secret_err != SENSED_ENOTFOUND)
			err = secret_err;
	}
	if (err != 0) {
		U.host->txn_abort(txn);
		U.host->reply_store_error(req, err);
		return;
	}
	if ((err = U.host->txn_commit(txn)) != 0) {
		U.host->reply_store_error(req, err);
		return;
	}
	U.host->tokens_revoke_user(id);
	U.host->reply_empty(req, 204);
}

/* ---- Read -------------------------------------------------------------------------------- */

static void get_user(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = U.host->request_param(req, "id");
	struct actor a = actor_of(req);
	sensed_query q = SENSED_QUERY_INIT;

	if (!require_object_id(req, id))
		return;
	if (a.level < SENSED_ROLE_ADMIN && (a.id == NULL || strcmp(a.id, id) != 0)) {
		U.host->reply_error(req, 403, SENSED_CODE_FORBIDDEN,
		                    "only administrators read other users");
		return;
	}
	if (U.host->request_list_query(req, &q) != 0)
		return;
	int err = U.host->reply_document(req, U.users, id, &q);
	if (err == SENSED_ENOTFOUND)
		reply_not_found(req, SENSED_CODE_USER_NOT_FOUND, "user", id);
	else if (err != 0)
		U.host->reply_store_error(req, err);
}

/* A role given by id or name: the role's id, or the text itself (which then matches
 * nothing, as the real API's filter would). */
static const char *role_filter_value(const char *text)
{
	const struct role_info *role = role_by_id_or_name(text);
	return role ? role->id : text;
}

static int build_user_filter(sensed_request *req, json_t *filter, struct fail *f)
{
	static const char *const exact[] = {"userName", "firstName", "lastName"};
	const char *value;

	for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
		if ((value = U.host->request_query(req, exact[i])) != NULL &&
		    filter_add(filter, exact[i], json_string(value), f) != 0)
			return -1;
	if ((value = U.host->request_query(req, "email")) != NULL &&
	    filter_add(filter, "email", lower_string(value), f) != 0)
		return -1;
	if ((value = U.host->request_query(req, "roleId")) != NULL ||
	    (value = U.host->request_query(req, "role")) != NULL)
		if (filter_add(filter, "roleId", json_string(role_filter_value(value)), f) != 0)
			return -1;
	if ((value = U.host->request_query(req, "groupId")) != NULL ||
	    (value = U.host->request_query(req, "group")) != NULL) {
		json_t *group = NULL;
		if (!U.host->is_object_id(value)) {
			json_t *by_name = json_pack("{s:s}", "name", value);
			if (by_name != NULL)
				U.host->find_one(NULL, U.groups, by_name, &group);
			json_decref(by_name);
		}
		const char *id = group ? json_string_value(json_object_get(group, "_id")) : NULL;
		int rc = filter_add(filter, "groups", json_string(id ? id : value), f);
		json_decref(group);
		if (rc != 0)
			return -1;
	}
	if ((value = U.host->request_query(req, "active")) != NULL) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
			fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "active: true or false");
			return -1;
		}
		if (filter_add(filter, "active",
		               strcmp(value, "true") == 0 ? json_pack("{s:b}", "$ne", 0)
		                                          : json_false(),
		               f) != 0)
			return -1;
	}
	if (origin_filter(req, filter, "activeDirectory", f) != 0)
		return -1;
	return ids_filter(req, filter, f);
}

static void list_users(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_query q = SENSED_QUERY_INIT;
	struct fail f = {0};
	json_t *filter = json_object(), *out = NULL;

	if (U.host->request_list_query(req, &q) != 0) {
		json_decref(filter);
		return;
	}
	if (filter == NULL || build_user_filter(req, filter, &f) != 0) {
		json_decref(filter);
		if (f.status == 0)
			fail_set(&f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		reply_fail(req, &f);
		return;
	}
	q.filter = filter;
	int err = U.host->find(NULL, U.users, &q, &out);
	json_decref(filter);
	reply_shaped(req, err, out);
	json_decref(out);
}

int users_register(sensed_plugin *self)
{
	static const struct users_route routes[] = {
	    {SENSED_GET, "/users", SENSED_ROLE_ADMIN, list_users},
	    {SENSED_POST, "/users", SENSED_ROLE_ADMIN, post_user},
	    {SENSED_POST, "/users/bulk", SENSED_ROLE_ADMIN, post_users_bulk},
	    {SENSED_GET, "/users/{id}", SENSED_ROLE_CONSUMER, get_user},
	    {SENSED_PATCH, "/users/{id}", SENSED_ROLE_CONSUMER, patch_user},
	    {SENSED_DELETE, "/users/{id}", SENSED_ROLE_ADMIN, delete_user},
	};
	return routes_add(self, routes, sizeof routes / sizeof routes[0]);
}
