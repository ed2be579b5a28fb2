/* Test plugin for the platform tests: the second subscriber of "kit.shared" (no gating),
 * and probes of the SDK members that have no endpoint of their own.  Every route is
 * PUBLIC: never load it outside tests.
 *   GET  /test/featurekit2/active/{key}      -> {"active": feature_active(key)}
 *   GET  /test/featurekit2/late-declare      -> {"err": feature_declare after init}
 *   GET  /test/featurekit2/error             -> reply_error(400, 1008, NULL)
 *   GET  /test/featurekit2/translate?key=&locale=
 *                                            -> {"request": translate(req, key),
 *                                                "locale": translate_locale(locale, key),
 *                                                "default": locale_default()}
 *   POST /test/featurekit2/users/{id}/locale {"localeId": ...} -> 204 */
#include <sensed/plugin.h>

static const sensed_host *host;
static sensed_plugin *plugin;
static sensed_collection *users;

static void reply_pack(sensed_request *req, json_t *body)
{
	host->reply_json(req, 200, body);
	json_decref(body);
}

static void active(sensed_request *req, void *arg)
{
	(void)arg;
	reply_pack(req, json_pack("{s:i}", "active",
	                          host->feature_active(host->request_param(req, "key"))));
}

static void late_declare(sensed_request *req, void *arg)
{
	sensed_feature late = {.size = sizeof(late), .key = "kit.late", .name = "Late"};

	(void)arg;
	reply_pack(req, json_pack("{s:i}", "err", host->feature_declare(plugin, &late)));
}

static void error(sensed_request *req, void *arg)
{
	(void)arg;
	host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, NULL);
}

static void translate(sensed_request *req, void *arg)
{
	const char *key = host->request_query(req, "key");

	(void)arg;
	reply_pack(req, json_pack("{s:s, s:s, s:s}", "request", host->translate(req, key), "locale",
	                          host->translate_locale(host->request_query(req, "locale"), key),
	                          "default", host->locale_default()));
}

static void set_locale(sensed_request *req, void *arg)
{
	const char *id = host->request_param(req, "id");
	json_t *body, *user = NULL;
	int err;

	(void)arg;
	if (host->request_json(req, &body))
		return;
	err = host->doc_get(NULL, users, id, &user);
	if (!err) {
		json_object_set_new(user, "preferences",
		                    json_pack("{s:O, s:O}", "localeId",
		                              json_object_get(body, "localeId"), "language",
		                              json_object_get(body, "localeId")));
		err = host->doc_replace(NULL, users, id, user);
	}
	json_decref(user);
	if (err)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int featurekit2_init(sensed_plugin *self, const sensed_host *h)
{
	sensed_feature shared = {.size = sizeof(shared), .key = "kit.shared", .name = "ignored"};
	sensed_feature bad = {.size = sizeof(bad), .key = "bad key!", .name = "Bad"};
	sensed_feature small = {.size = 8, .key = "kit.small", .name = "Small"};
	int err;

	host = h;
	plugin = self;
	if (h->feature_declare(self, &bad) != SENSED_EINVAL ||
	    h->feature_declare(self, &small) != SENSED_EINVAL ||
	    h->feature_declare(self, NULL) == 0) {
		h->set_error(self, "feature_declare accepted an invalid feature");
		return SENSED_EINVAL;
	}
	if ((err = h->feature_declare(self, &shared)) ||
	    h->feature_declare(self, &shared) != SENSED_EEXISTS ||
	    (err = h->collection_open(self, "users", &users)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/featurekit2/active/{key}",
	                        SENSED_ROLE_PUBLIC, active, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/featurekit2/late-declare",
	                        SENSED_ROLE_PUBLIC, late_declare, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/featurekit2/error", SENSED_ROLE_PUBLIC,
	                        error, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/featurekit2/translate", SENSED_ROLE_PUBLIC,
	                        translate, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/featurekit2/users/{id}/locale",
	                        SENSED_ROLE_PUBLIC, set_locale, NULL))) {
		h->set_error(self, "featurekit2: %s", h->strerror(err ? err : SENSED_EINVAL));
		return err ? err : SENSED_EINVAL;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("featurekit2", "1.0.0", "Test-only SDK probes (features, translations)",
                     featurekit2_init, NULL)
