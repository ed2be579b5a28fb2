/* Shared state and helpers of the "users" plugin (users, groups, roles, license).
 * Everything here runs on a loop thread unless stated otherwise. */
#ifndef SENSED_USERS_INTERNAL_H
#define SENSED_USERS_INTERNAL_H

#include <sensed/plugin.h>
#include <stddef.h>

/* Wire codes of this plugin (identity range; the table lives in core/errors.c). */
#define USERS_MAX_ROLES 16

/* License categories (see README.md): super, admin, dataAdmin are admins;
 * dataDesigner, contributor are designers; consumer is a viewer. */
enum seat { SEAT_ADMIN = 0, SEAT_DESIGNER = 1, SEAT_VIEWER = 2, SEAT_COUNT = 3 };

struct role_info {
	char id[25];
	char name[32];
	enum sensed_role level;
};

struct license {
	long max[SEAT_COUNT]; /* -1: unlimited */
	char expiration[64];  /* "" when none */
	int trial, big_data, high_availability;
};

struct users_state {
	const sensed_host *host;
	sensed_plugin *self;
	sensed_collection *users, *groups, *roles, *secrets;
	struct role_info roles_cache[USERS_MAX_ROLES]; /* filled in init, read-only afterwards */
	size_t role_count;
	struct license license;
};

extern struct users_state U;

/* An error to reply with, built while validating (before anything is written). */
struct fail {
	int status;
	int code;
	char message[256];
};

void fail_set(struct fail *f, int status, int code, const char *fmt, ...) SENSED_PRINTF(4, 5);
void reply_fail(sensed_request *req, const struct fail *f);
/* Map a store error into *f (unique violations become `unique_code`, 400). */
void fail_store(struct fail *f, int err, int unique_code);

/* Reply to a read that was found, shaped (fields/expand) and maybe expanded: 200 `body`
 * (borrowed) when err is 0; SENSED_ENOTFOUND (the store's answer to an unknown expand)
 * 404 INVALID_EXPAND; anything else the store error. */
void reply_shaped(sensed_request *req, int err, const json_t *body);
/* 404 with resourceType/resourceName. */
void reply_not_found(sensed_request *req, int code, const char *type, const char *id);
/* Replies 422/601 and returns 0 when `id` is not a 24-hex ObjectId; 1 when it is. */
int require_object_id(sensed_request *req, const char *id);

/* Roles (cache of the seeded roles).  Borrowed pointers, valid until the server stops. */
const struct role_info *role_by_id(const char *id);
/* By name (case-insensitive) or the aliases "viewer" and "designer". */
const struct role_info *role_by_name(const char *name);
const struct role_info *role_by_id_or_name(const char *s);
/* A body value naming a role: an id or name string, or an (expanded) object with _id or
 * name.  NULL when it names none. */
const struct role_info *role_from_json(const json_t *value);
enum seat seat_of(enum sensed_role level);
const char *seat_name(enum seat seat);

/* Active users per seat, counted in `txn` (may be NULL). */
int seats_in_use(sensed_txn *txn, size_t out[SEAT_COUNT]);
/* 0 when `extra[seat]` more active users fit the license; else *f holds 400/2007. */
int seats_check(sensed_txn *txn, const size_t extra[SEAT_COUNT], struct fail *f);

/* Parse a comma-list expand into what the store knows (`store_out`, malloc'd, NULL when
 * empty) and this plugin's own name `own` (e.g. "users"): *own_found is set when it or
 * `own.sub` appears, *own_sub receives the sub-expand (malloc'd, NULL when none). */
int expand_split(const char *expand, const char *own, char **store_out, int *own_found,
                 char **own_sub);

/* A new string: `s` in lower case (NULL when out of memory). */
json_t *lower_string(const char *s);
/* Add `key`: `value` (stolen; NULL means out of memory) to `filter`: 0, or -1 with *f set. */
int filter_add(json_t *filter, const char *key, json_t *value, struct fail *f);
/* The origin query parameter (ad | sisense), when present, as a condition on the boolean
 * `field` (true for ad, not true for sisense): 0, or -1 with *f set (400 on another value). */
int origin_filter(sensed_request *req, json_t *filter, const char *field, struct fail *f);
/* The ids query parameter as {"_id": {"$in": [...]}}, each id checked (422/601): 0 or -1. */
int ids_filter(sensed_request *req, json_t *filter, struct fail *f);

/* One route of this plugin: `handler` for `method` `pattern`, callers of `least_role` up. */
struct users_route {
	unsigned method;
	const char *pattern;
	enum sensed_role least_role;
	sensed_handler handler;
};
/* Add `count` routes in order; the first route_add error stops and is returned. */
int routes_add(sensed_plugin *self, const struct users_route *routes, size_t count);

int users_register(sensed_plugin *self);
int groups_register(sensed_plugin *self);
int roles_register(sensed_plugin *self);

#endif
