/* The "users" plugin: users, groups, roles and license information (README.md), with the
 * authorization rules of AUTHORIZATION.md.  This file: start-up (configuration, the role
 * cache, collections, indexes, references). */
#include "internal.h"

#include <string.h>

#ifndef SENSED_VERSION
#define SENSED_VERSION "0.0.0"
#endif

/* Reads {"license": {maxAdmins, maxDesigners, maxViewers, expirationDate, trial, bigData,
 * highAvailability}}; every member is optional (absent maxima are unlimited, -1). */
static int load_license(sensed_plugin *self, const json_t *config)
{
	static const char *const max_keys[SEAT_COUNT] = {"maxAdmins", "maxDesigners", "maxViewers"};
	static const char *const flag_keys[] = {"trial", "bigData", "highAvailability"};
	int *flags[] = {&U.license.trial, &U.license.big_data, &U.license.high_availability};
	const json_t *license = json_object_get(config, "license");

	for (int s = 0; s < SEAT_COUNT; s++)
		U.license.max[s] = -1;
	U.license.expiration[0] = '\0';
	if (license == NULL || json_is_null(license))
		return 0;
	if (!json_is_object(license)) {
		U.host->set_error(self, "license: expected an object");
		return SENSED_EINVAL;
	}
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)license, key, value)
	{
		int known = 0;
		for (int s = 0; s < SEAT_COUNT; s++) {
			if (strcmp(key, max_keys[s]) != 0)
				continue;
			known = 1;
			if (json_is_null(value))
				break;
			if (!json_is_integer(value) || json_integer_value(value) < -1) {
				U.host->set_error(self,
				                  "license.%s: expected a non-negative integer "
				                  "(-1 or null: unlimited)",
				                  key);
				return SENSED_EINVAL;
			}
			U.license.max[s] = (long)json_integer_value(value);
		}
		for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++) {
			if (strcmp(key, flag_keys[i]) != 0)
				continue;
			known = 1;
			if (!json_is_boolean(value)) {
				U.host->set_error(self, "license.%s: expected true or false", key);
				return SENSED_EINVAL;
			}
			*flags[i] = json_is_true(value);
		}
		if (strcmp(key, "expirationDate") == 0) {
			known = 1;
			if (json_is_null(value))
				continue;
			if (!json_is_string(value) || json_string_length(value) == 0 ||
			    json_string_length(value) >= sizeof U.license.expiration) {
				U.host->set_error(self,
				                  "license.expirationDate: expected a date string");
				return SENSED_EINVAL;
			}
			strcpy(U.license.expiration, json_string_value(value));
		}
		if (!known) {
			U.host->set_error(
			    self,
			    "license.%s: unknown key (known: maxAdmins, maxDesigners, "
			    "maxViewers, expirationDate, trial, bigData, highAvailability)",
			    key);
			return SENSED_EINVAL;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	enum sensed_role level;
} role_levels[] = {
    {"super", SENSED_ROLE_SUPER},
    {"admin", SENSED_ROLE_ADMIN},
    {"dataAdmin", SENSED_ROLE_DATA_ADMIN},
    {"dataDesigner", SENSED_ROLE_DATA_DESIGNER},
    {"contributor", SENSED_ROLE_CONTRIBUTOR},
    {"consumer", SENSED_ROLE_CONSUMER},
};

/* The core seeds the roles before plugins load; their ids never change afterwards. */
static int load_roles(sensed_plugin *self)
{
	U.role_count = 0;
	for (size_t i = 0; i < sizeof role_levels / sizeof role_levels[0]; i++) {
		json_t *filter = json_pack("{s:s}", "name", role_levels[i].name), *role = NULL;
		int err = filter ? U.host->find_one(NULL, U.roles, filter, &role) : SENSED_ENOMEM;
		json_decref(filter);
		const char *id = json_string_value(json_object_get(role, "_id"));
		if (err != 0 || id == NULL || strlen(id) != 24) {
			json_decref(role);
			U.host->set_error(
			    self, "role '%s' is missing from the roles collection: %s",
			    role_levels[i].name, U.host->strerror(err ? err : SENSED_ESTORE));
			return err ? err : SENSED_ESTORE;
		}
		struct role_info *info = &U.roles_cache[U.role_count++];
		memcpy(info->id, id, 25);
		strcpy(info->name, role_levels[i].name);
		info->level = role_levels[i].level;
		json_decref(role);
	}
	return 0;
}

static int tolerate_exists(int err)
{
	return err == SENSED_EEXISTS ? 0 : err;
}

static int users_init(sensed_plugin *self, const sensed_host *host)
{
	int err;
	memset(&U, 0, sizeof U);
	U.host = host;
	U.self = self;
	if ((err = load_license(self, host->config(self))) != 0)
		return err;
	if ((err = host->collection_open(self, "users", &U.users)) ||
	    (err = host->collection_open(self, "groups", &U.groups)) ||
	    (err = host->collection_open(self, "roles", &U.roles)) ||
	    (err = host->collection_open(self, "user_secrets", &U.secrets))) {
		host->set_error(self, "cannot open collections: %s", host->strerror(err));
		return err;
	}
	/* groups: the groupId filter and the removal of a deleted group from its members. */
	if ((err = host->index_declare(U.users, "groups", 0)) ||
	    (err = host->index_declare(U.groups, "name", SENSED_INDEX_UNIQUE)) ||
	    (err = tolerate_exists(
	         host->reference_declare(U.users, "adgroups", "adgroups", U.groups, "_id")))) {
		host->set_error(self, "cannot declare indexes or references: %s",
		                host->strerror(err));
		return err;
	}
	/* The server seeds the roles before it loads plugins (--check-config too). */
	if ((err = load_roles(self)) != 0)
		return err;
	if ((err = users_register(self)) || (err = groups_register(self)) ||
	    (err = roles_register(self))) {
		host->set_error(self, "cannot register routes: %s", host->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("users", SENSED_VERSION,
                     "Users, groups, roles and license information (/users, /groups, "
                     "/api/roles, /account/get_license_info)",
                     users_init, NULL)
