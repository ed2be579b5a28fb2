#define FILE_TAG "a"
/* Two files, one plugin name: the second is refused. */
#include <sensed/plugin.h>

static const sensed_host *host;

static void get_dupname(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	json_t *body = json_pack("{s:s}", "file", FILE_TAG);
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int dupname_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	return host->route_add(self, SENSED_GET, "/test/dupname", SENSED_ROLE_PUBLIC, get_dupname,
	                       NULL);
}

SENSED_PLUGIN_DEFINE("dupname", "1.0.0", "duplicate name test", dupname_init, NULL)
