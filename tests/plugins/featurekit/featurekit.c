/* Test plugin for tests/api/test_features.c: provides feature "kit.gated" (gates its
 * routes, active by default) and subscribes to "kit.shared" (inactive by default, no
 * gating).  GET /test/featurekit/ping answers while kit.gated is active. */
#include <sensed/plugin.h>

static const sensed_host *host;

static void ping(sensed_request *req, void *arg)
{
	json_t *body = json_pack("{s:b}", "ok", 1);

	(void)arg;
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int featurekit_init(sensed_plugin *self, const sensed_host *h)
{
	sensed_feature gated = {.size = sizeof(gated),
	                        .key = "kit.gated",
	                        .name = "Kit gated",
	                        .description = "Closes the featurekit routes when off",
	                        .default_active = 1,
	                        .gates_routes = 1};
	sensed_feature shared = {.size = sizeof(shared),
	                         .key = "kit.shared",
	                         .name = "Kit shared",
	                         .description = "Declared by two plugins",
	                         .default_active = 0,
	                         .gates_routes = 0};
	int err;

	host = h;
	if ((err = h->feature_declare(self, &gated)) || (err = h->feature_declare(self, &shared)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/featurekit/ping", SENSED_ROLE_CONSUMER,
	                        ping, NULL))) {
		h->set_error(self, "featurekit: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("featurekit", "1.0.0", "Test-only feature provider", featurekit_init, NULL)
