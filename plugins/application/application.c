/* GET /application/status (public): the version probe clients call before signing in.
 * The reply never changes while the server runs, so it is rendered once in init and
 * served as bytes. */
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

#ifndef SENSED_VERSION
#define SENSED_VERSION "0.0.0"
#endif

static const sensed_host *host;
static char *status_body; /* owned; written in init, read-only while serving */
static size_t status_len;

static void get_status(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	host->reply_raw(req, 200, status_body, status_len);
}

static int application_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	json_t *status = json_pack("{s:{s:s, s:b, s:b}, s:{s:b, s:b}}", "version", "version",
	                           SENSED_VERSION, "isBigData", 0, "isFeaturedDashboardsOn", 0,
	                           "license", "isMobileEnabled", 0, "isExpired", 0);
	if (status)
		status_body = json_dumps(status, JSON_COMPACT);
	json_decref(status);
	if (!status_body) {
		host->set_error(self, "out of memory rendering the status reply");
		return SENSED_ENOMEM;
	}
	status_len = strlen(status_body);
	int err = host->route_add(self, SENSED_GET, "/application/status", SENSED_ROLE_PUBLIC,
	                          get_status, NULL);
	if (err) {
		free(status_body);
		status_body = NULL;
	}
	return err;
}

static void application_fini(sensed_plugin *self)
{
	(void)self;
	free(status_body);
	status_body = NULL;
}

SENSED_PLUGIN_DEFINE("application", SENSED_VERSION, "Application status (GET /application/status)",
                     application_init, application_fini)
