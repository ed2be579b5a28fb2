/* Translations: GET /translations (the languages the server has files for) and
 * GET /translations/{lang} (one language's table, key -> text).  The files live in the
 * server's translations directory; {lang} is only ever compared with the loaded list
 * (host->translation_get), never used as a path. */
#include <sensed/plugin.h>

static const sensed_host *host;

static void list_languages(sensed_request *req, void *arg)
{
	json_t *list = host->translations_list();

	(void)arg;
	if (!list) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, list);
	json_decref(list);
}

static void get_language(sensed_request *req, void *arg)
{
	const char *lang = host->request_param(req, "lang");
	json_t *table = host->translation_get(lang);

	(void)arg;
	if (!table) {
		json_t *extra =
		    json_pack("{s:s, s:s}", "resourceType", "translation", "resourceName", lang);
		host->reply_error_extra(req, 404, SENSED_CODE_LANGUAGE_NOT_FOUND, NULL, extra);
		json_decref(extra);
		return;
	}
	host->reply_json(req, 200, table);
	json_decref(table);
}

static int translations_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if (!SENSED_HOST_HAS(h, translation_get)) {
		h->set_error(self, "this server predates SDK ABI 1.2 (translations)");
		return SENSED_EUNSUPPORTED;
	}
	if ((err = h->route_add(self, SENSED_GET, "/translations", SENSED_ROLE_CONSUMER,
	                        list_languages, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/translations/{lang}", SENSED_ROLE_CONSUMER,
	                        get_language, NULL))) {
		h->set_error(self, "translations: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("translations", "1.0.0", "Translations: languages and their files",
                     translations_init, NULL)
