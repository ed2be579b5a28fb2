/* init fails with its own reason. */
#include <sensed/plugin.h>

static int initfail_init(sensed_plugin *self, const sensed_host *host)
{
	host->set_error(self, "database unreachable");
	return SENSED_ESTORE;
}

SENSED_PLUGIN_DEFINE("initfail", "1.0.0", "init always fails", initfail_init, NULL)
