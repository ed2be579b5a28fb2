/* Operators' plugin administration before the real PATCH /plugins exists:
 *   GET  /test/plugins                 -> plugins_list()
 *   POST /test/plugins/{name}/disable  -> plugin_set_enabled(name, 0): 204
 *   POST /test/plugins/{name}/enable   -> plugin_set_enabled(name, 1): 204
 * Unknown plugin: 404; a plugin that cannot be disabled: 400. */
#include <sensed/plugin.h>
#include <stdint.h>

static const sensed_host *host;

static void get_plugins(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	json_t *list = host->plugins_list();
	if (!list) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, list);
	json_decref(list);
}

static void post_set_enabled(sensed_request *req, void *route_arg)
{
	int enabled = (int)(intptr_t)route_arg;
	const char *name = host->request_param(req, "name");
	int err = host->plugin_set_enabled(name, enabled);
	if (err == 0)
		host->reply_empty(req, 204);
	else if (err == SENSED_ENOTFOUND)
		host->reply_error(req, 404, SENSED_CODE_NOT_FOUND, "no such plugin");
	else if (err == SENSED_EINVAL)
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "this plugin cannot be disabled");
	else
		host->reply_store_error(req, err);
}

static int admin_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	int err = host->route_add(self, SENSED_GET, "/test/plugins", SENSED_ROLE_ADMIN, get_plugins,
	                          NULL);
	if (!err)
		err = host->route_add(self, SENSED_POST, "/test/plugins/{name}/disable",
		                      SENSED_ROLE_ADMIN, post_set_enabled, (void *)(intptr_t)0);
	if (!err)
		err = host->route_add(self, SENSED_POST, "/test/plugins/{name}/enable",
		                      SENSED_ROLE_ADMIN, post_set_enabled, (void *)(intptr_t)1);
	return err;
}

SENSED_PLUGIN_DEFINE("testadmin", "1.0.0", "plugin administration for tests", admin_init, NULL)
