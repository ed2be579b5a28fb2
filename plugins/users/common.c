/* Helpers shared by the users, groups and roles handlers (contracts in internal.h). */
#include "internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct users_state U;

void fail_set(struct fail *f, int status, int code, const char *fmt, ...)
{
	f->status = status;
	f->code = code;
	f->message[0] = '\0';
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->message, sizeof f->message, fmt, ap);
		va_end(ap);
	}
}

void reply_fail(sensed_request *req, const struct fail *f)
{
	U.host->reply_error(req, f->status, f->code, f->message[0] ? f->message : NULL);
}

void fail_store(struct fail *f, int err, int unique_code)
{
	switch (err) {
	case SENSED_EUNIQUE:
		fail_set(f, 400, unique_code, NULL);
		break;
	case SENSED_ENOMEM:
	case SENSED_EBUSY:
		fail_set(f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		break;
	case SENSED_EBADID:
		fail_set(f, 422, SENSED_CODE_INVALID_OBJECT_ID, NULL);
		break;
	default:
		fail_set(f, 500, SENSED_CODE_INTERNAL, NULL);
		break;
	}
}

void reply_shaped(sensed_request *req, int err, const json_t *body)
{
	if (err == SENSED_ENOTFOUND)
		U.host->reply_error(req, 404, SENSED_CODE_INVALID_EXPAND, NULL);
	else if (err != 0)
		U.host->reply_store_error(req, err);
	else
		U.host->reply_json(req, 200, body);
}

void reply_not_found(sensed_request *req, int code, const char *type, const char *id)
{
	json_t *extra = json_pack("{s:s, s:s?}", "resourceType", type, "resourceName", id);
	U.host->reply_error_extra(req, 404, code, NULL, extra);
	json_decref(extra);
}

int require_object_id(sensed_request *req, const char *id)
{
	if (id != NULL && U.host->is_object_id(id))
		return 1;
	U.host->reply_error(req, 422, SENSED_CODE_INVALID_OBJECT_ID, NULL);
	return 0;
}

/* ---- Roles ------------------------------------------------------------------------------ */

const struct role_info *role_by_id(const char *id)
{
	for (size_t i = 0; id != NULL && i < U.role_count; i++)
		if (strcmp(U.roles_cache[i].id, id) == 0)
			return &U.roles_cache[i];
	return NULL;
}

const struct role_info *role_by_name(const char *name)
{
	if (name == NULL)
		return NULL;
	/* The names the UI shows for the two everyday roles. */
	if (strcasecmp(name, "viewer") == 0)
		name = "consumer";
	else if (strcasecmp(name, "designer") == 0)
		name = "contributor";
	for (size_t i = 0; i < U.role_count; i++)
		if (strcasecmp(U.roles_cache[i].name, name) == 0)
			return &U.roles_cache[i];
	return NULL;
}

const struct role_info *role_by_id_or_name(const char *s)
{
	const struct role_info *role = role_by_id(s);
	return role != NULL ? role : role_by_name(s);
}

const struct role_info *role_from_json(const json_t *value)
{
	if (json_is_string(value))
		return role_by_id_or_name(json_string_value(value));
	if (json_is_object(value)) {
		const json_t *id = json_object_get(value, "_id");
		if (json_is_string(id))
			return role_by_id(json_string_value(id));
		return role_by_name(json_string_value(json_object_get(value, "name")));
	}
	return NULL;
}

enum seat seat_of(enum sensed_role level)
{
	if (level >= SENSED_ROLE_DATA_ADMIN)
		return SEAT_ADMIN;
	if (level >= SENSED_ROLE_CONTRIBUTOR)
		return SEAT_DESIGNER;
	return SEAT_VIEWER;
}

const char *seat_name(enum seat seat)
{
	static const char *const names[] = {"admin", "designer", "viewer"};
	return names[seat];
}

/* ---- License seats ---------------------------------------------------------------------- */

int seats_in_use(sensed_txn *txn, size_t out[SEAT_COUNT])
{
	memset(out, 0, SEAT_COUNT * sizeof out[0]);
	for (size_t i = 0; i < U.role_count; i++) {
		size_t n = 0;
		json_t *filter =
		    json_pack("{s:s, s:{s:b}}", "roleId", U.roles_cache[i].id, "active", "$ne", 0);
		if (filter == NULL)
			return SENSED_ENOMEM;
		int err = U.host->count(txn, U.users, filter, &n);
		json_decref(filter);
		if (err != 0)
			return err;
		out[seat_of(U.roles_cache[i].level)] += n;
	}
	return 0;
}

int seats_check(sensed_txn *txn, const size_t extra[SEAT_COUNT], struct fail *f)
{
	size_t used[SEAT_COUNT];
	int limited = 0;
	for (int s = 0; s < SEAT_COUNT; s++)
		limited |= extra[s] > 0 && U.license.max[s] >= 0;
	if (!limited)
		return 0;
	int err = seats_in_use(txn, used);
	if (err != 0) {
		fail_store(f, err, SENSED_CODE_INTERNAL);
		return err;
	}
	for (int s = 0; s < SEAT_COUNT; s++) {
		if (extra[s] > 0 && U.license.max[s] >= 0 &&
		    used[s] + extra[s] > (size_t)U.license.max[s]) {
			fail_set(f, 400, SENSED_CODE_LICENSE_EXCEEDED,
			         "License exceeded: %zu of %ld %s seats in use, %zu more requested",
			         used[s], U.license.max[s], seat_name((enum seat)s), extra[s]);
			return SENSED_ETOOLARGE;
		}
	}
	return 0;
}

/* ---- Expand lists ----------------------------------------------------------------------- */

static int append_item(char **list, const char *item, size_t len)
{
	size_t old = *list ? strlen(*list) : 0;
	char *grown = realloc(*list, old + len + 2);
	if (grown == NULL)
		return SENSED_ENOMEM;
	if (old > 0)
		grown[old++] = ',';
	memcpy(grown + old, item, len);
	grown[old + len] = '\0';
	*list = grown;
	return 0;
}

int expand_split(const char *expand, const char *own, char **store_out, int *own_found,
                 char **own_sub)
{
	size_t own_len = strlen(own);
	*store_out = NULL;
	*own_sub = NULL;
	*own_found = 0;
	for (const char *item = expand; item != NULL && *item != '\0';) {
		size_t len = strcspn(item, ",");
		int err = 0;
		if (len >= own_len && strncmp(item, own, own_len) == 0 &&
		    (len == own_len || item[own_len] == '.')) {
			*own_found = 1;
			if (len > own_len + 1)
				err = append_item(own_sub, item + own_len + 1, len - own_len - 1);
			else if (len == own_len + 1)
				err = SENSED_ENOTFOUND; /* "users." */
		} else if (len > 0) {
			err = append_item(store_out, item, len);
		}
		if (err != 0) {
			free(*store_out);
			free(*own_sub);
			*store_out = *own_sub = NULL;
			return err;
		}
		item += len;
		if (*item == ',')
			item++;
	}
	return 0;
}

/* ---- Query filters ----------------------------------------------------------------------- */

json_t *lower_string(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i <= len; i++)
		copy[i] = (char)tolower((unsigned char)s[i]);
	json_t *out = json_string(copy);
	free(copy);
	return out;
}

int filter_add(json_t *filter, const char *key, json_t *value, struct fail *f)
{
	if (value == NULL || json_object_set_new(filter, key, value) != 0) {
		fail_set(f, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return -1;
	}
	return 0;
}

int origin_filter(sensed_request *req, json_t *filter, const char *field, struct fail *f)
{
	const char *value = U.host->request_query(req, "origin");
	json_t *cond;
	if (value == NULL)
		return 0;
	if (strcmp(value, "ad") == 0)
		cond = json_true();
	else if (strcmp(value, "sisense") == 0)
		cond = json_pack("{s:b}", "$ne", 1);
	else {
		fail_set(f, 400, SENSED_CODE_INVALID_PARAMETER, "origin: ad or sisense");
		return -1;
	}
	return filter_add(filter, field, cond, f);
}

int ids_filter(sensed_request *req, json_t *filter, struct fail *f)
{
	json_t *ids = U.host->request_query_list(req, "ids");
	size_t i;
	json_t *id;
	if (json_array_size(ids) == 0)
		return 0;
	json_array_foreach(ids, i, id)
	{
		if (!U.host->is_object_id(json_string_value(id))) {
			fail_set(f, 422, SENSED_CODE_INVALID_OBJECT_ID, "ids: invalid object ID %s",
			         json_string_value(id));
			return -1;
		}
	}
	return filter_add(filter, "_id", json_pack("{s:O}", "$in", ids), f);
}

int routes_add(sensed_plugin *self, const struct users_route *routes, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int err = U.host->route_add(self, routes[i].method, routes[i].pattern,
		                            routes[i].least_role, routes[i].handler, NULL);
		if (err != 0)
			return err;
	}
	return 0;
}
