/* Registration after init: its handler tries to register and reports what the host said
 * (every call must be SENSED_ESTATE). */
#include <sensed/plugin.h>

static const sensed_host *host;
static sensed_plugin *plugin;
static sensed_collection *coll;

static void get_late2(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	host->reply_empty(req, 200);
}

static void get_late(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	sensed_collection *late_coll = NULL;
	int route =
	    host->route_add(plugin, SENSED_GET, "/test/late2", SENSED_ROLE_PUBLIC, get_late2, NULL);
	int open = host->collection_open(plugin, "late_test_later", &late_coll);
	int index = host->index_declare(coll, "name", 0);
	json_t *body = json_pack("{s:i, s:i, s:i}", "route_add", route, "collection_open", open,
	                         "index_declare", index);
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int late_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	plugin = self;
	int err = host->collection_open(self, "late_test", &coll);
	if (err) {
		host->set_error(self, "cannot open late_test: %s", host->strerror(err));
		return err;
	}
	return host->route_add(self, SENSED_GET, "/test/late", SENSED_ROLE_PUBLIC, get_late, NULL);
}

SENSED_PLUGIN_DEFINE("late", "1.0.0", "registration after init", late_init, NULL)
