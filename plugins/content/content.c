/* The content plugin: folders, dashboards, widgets, shares, publishing,
 * import/export and copy to a trusted server.  init opens the collections and
 * registers every area's routes; see README.md for the storage model. */
#include "content.h"

#include <string.h>

#ifndef SENSED_VERSION
#define SENSED_VERSION "0.0.0"
#endif

const sensed_host *host;
struct content_store store;
char everyone_ids[2][25];

static int open_collections(sensed_plugin *self)
{
	struct {
		const char *name;
		sensed_collection **out;
	} colls[] = {
	    {"folders", &store.folders},
	    {"dashboards", &store.dashboards},
	    {"widgets", &store.widgets},
	    {"dashboard_published", &store.published},
	    {"dashboard_overrides", &store.overrides},
	    {"dashboard_backups", &store.backups},
	    {"users", &store.users},
	    {"roles", &store.roles},
	    {"groups", &store.groups},
	    {"server_access", &store.server_access},
	};
	int err = 0;

	for (size_t i = 0; err == 0 && i < sizeof colls / sizeof colls[0]; i++)
		err = host->collection_open(self, colls[i].name, colls[i].out);
	if (err != 0)
		return err;
	if ((err = host->index_declare(store.folders, "oid", SENSED_INDEX_UNIQUE)) ||
	    (err = host->index_declare(store.folders, "owner", 0)) ||
	    (err = host->index_declare(store.folders, "parentId", 0)) ||
	    (err = host->index_declare(store.dashboards, "oid", SENSED_INDEX_UNIQUE)) ||
	    (err = host->index_declare(store.dashboards, "owner", 0)) ||
	    (err = host->index_declare(store.dashboards, "parentFolder", 0)) ||
	    (err = host->index_declare(store.widgets, "oid", SENSED_INDEX_UNIQUE)) ||
	    (err = host->index_declare(store.widgets, "dashboardid", 0)) ||
	    (err = host->index_declare(store.overrides, "key", SENSED_INDEX_UNIQUE)) ||
	    (err = host->index_declare(store.overrides, "oid", 0)) ||
	    (err = host->reference_declare(store.folders, "owner", "owner", store.users, "_id")) ||
	    (err =
	         host->reference_declare(store.dashboards, "owner", "owner", store.users, "_id")) ||
	    (err = host->reference_declare(store.dashboards, "parentFolder", "parentFolder",
	                                   store.folders, "oid")))
		return err;
	return 0;
}

static void find_system_groups(void)
{
	static const char *const names[2] = {"Everyone", "All users in system"};

	for (int i = 0; i < 2; i++) {
		json_t *filter = json_pack("{s:s}", "name", names[i]), *group = NULL;
		const char *id;

		if (host->find_one(NULL, store.groups, filter, &group) == 0 &&
		    (id = json_string_value(json_object_get(group, "_id"))) != NULL &&
		    strlen(id) == 24)
			memcpy(everyone_ids[i], id, 25);
		json_decref(group);
		json_decref(filter);
	}
}

static int content_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if ((err = open_collections(self)) != 0) {
		h->set_error(self, "content: collections: %s", h->strerror(err));
		return err;
	}
	find_system_groups();
	if ((err = folders_init(self)) || (err = dashboards_init(self)) ||
	    (err = widgets_init(self)) || (err = shares_init(self)) ||
	    (err = transfer_init(self)) || (err = copy_init(self))) {
		h->set_error(self, "content: routes: %s", h->strerror(err));
		return err;
	}
	return 0;
}

static void content_fini(sensed_plugin *self)
{
	(void)self;
	copy_fini();
}

SENSED_PLUGIN_DEFINE("content", SENSED_VERSION,
                     "Folders, dashboards, widgets, shares, publishing, import/export and copy",
                     content_init, content_fini)
