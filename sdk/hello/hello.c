/* The template plugin: GET /api/v1/hello -> {"hello": "world"} for any signed-in user.
 * Copy this folder to start a plugin; see sdk/GUIDE.md. */
#include <sensed/plugin.h>

/* The host table is valid from init until the server stops. */
static const sensed_host *host;

static void get_hello(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	json_t *body = json_pack("{s:s}", "hello", "world");
	if (!body) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, body); /* borrows body */
	json_decref(body);
}

static int hello_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	int err =
	    host->route_add(self, SENSED_GET, "/hello", SENSED_ROLE_CONSUMER, get_hello, NULL);
	if (err)
		host->set_error(self, "cannot register GET /hello: %s", host->strerror(err));
	return err;
}

SENSED_PLUGIN_DEFINE("hello", "1.0.0", "Says hello (SDK template)", hello_init, NULL)
