/* Built against a frozen copy of the 1.0 SDK header (sdk-1.0/, never edited): must keep
 * loading, and keep working, as the SDK grows. */
#include <sensed/plugin.h>

static const sensed_host *host;

/* Calls members from the end of the 1.0 table too: a member inserted in the middle of
 * sensed_host (instead of appended) shifts them, and this reply goes wrong. */
static void get_frozen(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	char epoch[25];
	host->format_date(0, epoch);
	json_t *plugins = host->plugins_list();
	json_t *body = json_pack("{s:s, s:i, s:i, s:s, s:b, s:b}", "frozen", "1.0", "hostMajor",
	                         host->abi_major, "hostMinor", host->abi_minor, "epoch", epoch,
	                         "isObjectId", host->is_object_id("0123456789abcdef01234567"),
	                         "pluginsListed", json_is_array(plugins));
	json_decref(plugins);
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int frozen_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	if (!SENSED_HOST_HAS(host, plugin_set_enabled)) {
		host->set_error(self, "host table lacks 1.0 members");
		return SENSED_EUNSUPPORTED;
	}
	return host->route_add(self, SENSED_GET, "/test/frozen10", SENSED_ROLE_PUBLIC, get_frozen,
	                       NULL);
}

SENSED_PLUGIN_DEFINE("frozen10", "1.0.0", "built with the 1.0 SDK header", frozen_init, NULL)
