/* Registers a route, then fails: the route must be gone afterwards (404). */
#include <sensed/plugin.h>

static const sensed_host *host;

static void get_undo(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	host->reply_empty(req, 200);
}

static int undo_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	int err =
	    host->route_add(self, SENSED_GET, "/test/undo", SENSED_ROLE_PUBLIC, get_undo, NULL);
	if (err)
		return err;
	host->set_error(self, "failing after registering GET /test/undo");
	return SENSED_EINVAL;
}

SENSED_PLUGIN_DEFINE("undo", "1.0.0", "registers a route then fails", undo_init, NULL)
