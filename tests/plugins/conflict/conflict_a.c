#define NAME "conflict_a"
/* Registers GET /test/conflict, which the other plugin of this folder registers too. */
#include <sensed/plugin.h>

static const sensed_host *host;

static void get_conflict(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	json_t *body = json_pack("{s:s}", "owner", NAME);
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int conflict_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	return host->route_add(self, SENSED_GET, "/test/conflict", SENSED_ROLE_PUBLIC, get_conflict,
	                       NULL);
}

SENSED_PLUGIN_DEFINE(NAME, "1.0.0", "route conflict test", conflict_init, NULL)
