/* Features (contracts in features.h and include/sensed/plugin.h).
 *
 * A feature lives as long as the server.  A plugin whose init() fails keeps its
 * subscription record (the loader has no undo hook for features), but only subscriptions
 * of loaded plugins count: a feature without one is unknown to every member. */
#include "errors.h"
#include "log.h"
#include "plugin_loader.h"
#include "sensed_features.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAG          "features"
#define STATE_COLLECTION "feature_state"
#define KEY_MAX          64

/* The size of the first sensed_feature: gates_routes is its last member. */
#define FEATURE_SIZE_1_2                                                                           \
	(offsetof(sensed_feature, gates_routes) + sizeof(((sensed_feature *)0)->gates_routes))

struct subscription {
	sensed_plugin *plugin; /* borrowed: the loader's record lives until shutdown */
	int gates_routes;
};

struct feature {
	char *key; /* owned, like name and description */
	char *name;
	char *description;
	atomic_int active;
	struct subscription *subs; /* owned */
	size_t sub_count;
};

/* The routes of `plugin` close while `feature` is inactive. */
struct gate {
	const sensed_plugin *plugin;
	struct feature *feature;
};

static struct feature **features; /* owned; grows only while plugins load */
static size_t feature_count;
static struct gate *gates; /* owned; idem */
static size_t gate_count;
static sensed_collection *state_coll;
static pthread_mutex_t toggle_lock = PTHREAD_MUTEX_INITIALIZER;

static int key_is_valid(const char *key)
{
	size_t len = key ? strlen(key) : 0;

	if (len == 0 || len > KEY_MAX)
		return 0;
	for (const char *c = key; *c; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		         (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

static int subscription_live(const struct subscription *sub)
{
	return sub->plugin && sub->plugin->state == PLUGIN_LOADED;
}

static int feature_live(const struct feature *f)
{
	for (size_t i = 0; i < f->sub_count; i++)
		if (subscription_live(&f->subs[i]))
			return 1;
	return 0;
}

static struct feature *feature_find(const char *key)
{
	if (!key)
		return NULL;
	for (size_t i = 0; i < feature_count; i++)
		if (strcmp(features[i]->key, key) == 0)
			return features[i];
	return NULL;
}

static struct feature *live_feature_find(const char *key)
{
	struct feature *f = feature_find(key);

	return f && feature_live(f) ? f : NULL;
}

/* The persisted state of `key`: 1, 0, or -1 when nothing is stored. */
static int persisted_active(const char *key)
{
	return store_flag_get(state_coll, "key", key, "active");
}

static int persist_active(const char *key, int active)
{
	return store_flag_set(state_coll, "key", key, "active", active);
}

static void feature_free(struct feature *f)
{
	if (!f)
		return;
	free(f->key);
	free(f->name);
	free(f->description);
	free(f->subs);
	free(f);
}

/* A new feature from `decl`, its state the persisted one or the declared default. */
static struct feature *feature_new(const sensed_feature *decl)
{
	struct feature *f = calloc(1, sizeof(*f));
	int persisted;

	if (!f)
		return NULL;
	f->key = strdup(decl->key);
	f->name = strdup(decl->name ? decl->name : decl->key);
	f->description = strdup(decl->description ? decl->description : "");
	if (!f->key || !f->name || !f->description) {
		feature_free(f);
		return NULL;
	}
	persisted = persisted_active(decl->key);
	atomic_init(&f->active, persisted >= 0 ? persisted : (decl->default_active ? 1 : 0));
	return f;
}

int feature_declare(sensed_plugin *self, const sensed_feature *decl)
{
	struct feature *f;
	struct subscription *subs;
	int created = 0;

	if (!self || !self->in_init)
		return SENSED_ESTATE;
	if (!decl || decl->size < FEATURE_SIZE_1_2 || !key_is_valid(decl->key))
		return SENSED_EINVAL;
	if (!state_coll && store_collection_open("core", STATE_COLLECTION, &state_coll) != 0) {
		state_coll = NULL;
		log_msg(SENSED_LOG_WARN, LOG_TAG,
		        "cannot open collection %s: feature toggles will not persist",
		        STATE_COLLECTION);
	}
	f = feature_find(decl->key);
	if (f) {
		for (size_t i = 0; i < f->sub_count; i++)
			if (f->subs[i].plugin == self)
				return SENSED_EEXISTS;
	} else {
		struct feature **grown = realloc(features, (feature_count + 1) * sizeof(*grown));
		if (!grown)
			return SENSED_ENOMEM;
		features = grown;
		f = feature_new(decl);
		if (!f)
			return SENSED_ENOMEM;
		created = 1;
	}
	subs = realloc(f->subs, (f->sub_count + 1) * sizeof(*subs));
	if (!subs)
		goto nomem;
	f->subs = subs;
	if (decl->gates_routes) {
		struct gate *grown = realloc(gates, (gate_count + 1) * sizeof(*grown));
		if (!grown)
			goto nomem;
		gates = grown;
		gates[gate_count++] = (struct gate){.plugin = self, .feature = f};
	}
	f->subs[f->sub_count++] =
	    (struct subscription){.plugin = self, .gates_routes = decl->gates_routes ? 1 : 0};
	if (created)
		features[feature_count++] = f;
	log_msg(SENSED_LOG_DEBUG, LOG_TAG, "%s subscribes to feature '%s' (%s%s)", self->name,
	        f->key, atomic_load(&f->active) ? "active" : "inactive",
	        decl->gates_routes ? ", gates its routes" : "");
	return 0;
nomem:
	if (created)
		feature_free(f);
	return SENSED_ENOMEM;
}

int feature_active(const char *key)
{
	struct feature *f = live_feature_find(key);

	return f ? atomic_load(&f->active) : SENSED_ENOTFOUND;
}

json_t *features_list(void)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	for (size_t i = 0; i < feature_count; i++) {
		struct feature *f = features[i];
		json_t *subs = json_array(), *item;

		if (!feature_live(f)) {
			json_decref(subs);
			continue;
		}
		for (size_t j = 0; subs && j < f->sub_count; j++) {
			const sensed_plugin *p = f->subs[j].plugin;
			if (!subscription_live(&f->subs[j]))
				continue;
			json_array_append_new(subs, json_pack("{s:s, s:b}", "name", p->name,
			                                      "active", atomic_load(&p->enabled)));
		}
		item = json_pack("{s:s, s:b, s:s, s:s, s:o*}", "key", f->key, "active",
		                 atomic_load(&f->active), "name", f->name, "description",
		                 f->description, "subscriptions", subs);
		if (!subs || !item || json_array_append_new(list, item)) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

int feature_set_active(const char *key, int active)
{
	struct feature *f = live_feature_find(key);
	int err;

	if (!f)
		return SENSED_ENOTFOUND;
	active = active ? 1 : 0;
	pthread_mutex_lock(&toggle_lock);
	err = persist_active(f->key, active);
	if (err == 0) {
		atomic_store(&f->active, active);
		log_msg(SENSED_LOG_INFO, LOG_TAG, "feature '%s' %s", f->key,
		        active ? "activated" : "deactivated");
	}
	pthread_mutex_unlock(&toggle_lock);
	return err;
}

const char *features_route_gate(const sensed_plugin *owner)
{
	for (size_t i = 0; i < gate_count; i++)
		if (gates[i].plugin == owner && !atomic_load(&gates[i].feature->active))
			return gates[i].feature->key;
	return NULL;
}

void features_shutdown(void)
{
	for (size_t i = 0; i < feature_count; i++)
		feature_free(features[i]);
	free(features);
	free(gates);
	features = NULL;
	gates = NULL;
	feature_count = 0;
	gate_count = 0;
	state_coll = NULL;
}
