/* Settings: /settings/sso, /settings/system, /settings/globalization and the public
 * /settings/public_settings.  Each area is one document {name: <area>, ...} of the
 * collection "settings" (unique on name), and each takes effect when written and again at
 * start-up:
 *   - system.webServer.cors {enabled, allowedOrigins} replaces the server's CORS origins
 *     (host->cors_set); until it is first set, the configuration file's "cors" applies;
 *   - globalization.language is the default language of translated messages and e-mails
 *     (host->locale_set_default);
 *   - sso is kept for the SSO sign-in, its sharedSecret sealed (host->secret_seal) and
 *     never returned in clear;
 *   - system.firstday and the default language are served publicly (public_settings).
 * Handlers run on loop threads; the store serialises writers, so two admins writing at
 * once both land, the later one winning. */
#include <sensed/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MASK   "********"
#define MAX_ORIGINS   256
#define DEFAULT_FIRST "sun"

static const sensed_host *host;
static sensed_plugin *plugin;
static sensed_collection *settings;

/* ---- Validation: one table of allowed members per object ------------------------------ */

enum member_type { T_BOOL, T_STRING, T_OBJECT, T_ANY, T_FIRSTDAY, T_ORIGINS, T_SSO_TYPE };

struct member {
	const char *name;
	enum member_type type;
	const struct member *children; /* for T_OBJECT: its members, NULL for free-form */
};

static const struct member cors_members[] = {
    {"enabled", T_BOOL, NULL},
    {"allowedOrigins", T_ORIGINS, NULL},
    {NULL, 0, NULL},
};
static const struct member web_server_members[] = {
    {"cors", T_OBJECT, cors_members},
    {NULL, 0, NULL},
};
static const struct member email_members[] = {
    {"enabled", T_BOOL, NULL},
    {"senderEmail", T_STRING, NULL},
    {"senderName", T_STRING, NULL},
    {NULL, 0, NULL},
};
static const struct member tracking_members[] = {
    {"apiTelemetry", T_BOOL, NULL},
    {NULL, 0, NULL},
};
static const struct member system_members[] = {
    {"_id", T_ANY, NULL},
    {"name", T_ANY, NULL},
    {"alias", T_STRING, NULL},
    {"firstday", T_FIRSTDAY, NULL},
    {"usage", T_OBJECT, NULL},
    {"fiscal", T_ANY, NULL},
    {"dashboardAdministration", T_OBJECT, NULL},
    {"dataExplore", T_OBJECT, NULL},
    {"email", T_OBJECT, email_members},
    {"webServer", T_OBJECT, web_server_members},
    {"reporting", T_OBJECT, NULL},
    {"authentication", T_OBJECT, NULL},
    {"tracking", T_OBJECT, tracking_members},
    {NULL, 0, NULL},
};
static const struct member sso_members[] = {
    {"_id", T_ANY, NULL},
    {"name", T_ANY, NULL},
    {"enabled", T_BOOL, NULL},
    {"ssoType", T_SSO_TYPE, NULL},
    {"loginUrl", T_STRING, NULL},
    {"logoutUrl", T_STRING, NULL},
    {"sharedSecret", T_STRING, NULL},
    {"loginUrlSaml", T_STRING, NULL},
    {"logoutUrlSaml", T_STRING, NULL},
    {"idPCert", T_STRING, NULL},
    {"lowSecurityJwtSso", T_BOOL, NULL},
    {"syncGroupsFromSamlToken", T_BOOL, NULL},
    {NULL, 0, NULL},
};
static const struct member localization_members[] = {
    {"default", T_STRING, NULL},
    {"autoDetectEnabled", T_BOOL, NULL},
    {NULL, 0, NULL},
};
static const struct member globalization_members[] = {
    {"_id", T_ANY, NULL},
    {"name", T_ANY, NULL},
    {"language", T_STRING, NULL},
    {"localization", T_OBJECT, localization_members},
    {NULL, 0, NULL},
};

static int firstday_valid(const json_t *v)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && json_integer_value(v) <= 6;
	for (size_t i = 0; json_is_string(v) && i < sizeof(days) / sizeof(days[0]); i++)
		if (strcmp(json_string_value(v), days[i]) == 0)
			return 1;
	return 0;
}

static int origins_valid(const json_t *v)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v) || json_array_size(v) > MAX_ORIGINS)
		return 0;
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);
		if (!s || !*s || strlen(s) > 512 || strpbrk(s, " \t\r\n,"))
			return 0;
	}
	return 1;
}

/* 0 when `obj` holds only members of `table` with the right types (null accepted for
 * strings: it clears the member); otherwise writes the offending path into `why`. */
static int check_object(const json_t *obj, const struct member *table, const char *path, char *why,
                        size_t why_len)
{
	const char *key;
	json_t *value;

	if (!json_is_object(obj)) {
		snprintf(why, why_len, "%s must be an object", path[0] ? path : "the body");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, value)
	{
		const struct member *m = table;
		char child[256];
		int ok;

		while (m->name && strcmp(m->name, key) != 0)
			m++;
		snprintf(child, sizeof(child), "%s%s%s", path, path[0] ? "." : "", key);
		if (!m->name) {
			snprintf(why, why_len, "unknown setting '%s'", child);
			return -1;
		}
		switch (m->type) {
		case T_BOOL:
			ok = json_is_boolean(value);
			break;
		case T_STRING:
			ok = json_is_string(value) || json_is_null(value);
			break;
		case T_FIRSTDAY:
			ok = firstday_valid(value);
			break;
		case T_ORIGINS:
			ok = origins_valid(value);
			break;
		case T_SSO_TYPE:
			ok = json_is_string(value) &&
			     (strcmp(json_string_value(value), "jwt") == 0 ||
			      strcmp(json_string_value(value), "saml") == 0);
			break;
		case T_OBJECT:
			if (m->children && check_object(value, m->children, child, why, why_len))
				return -1;
			ok = json_is_object(value);
			break;
		default:
			ok = 1;
		}
		if (!ok) {
			snprintf(why, why_len, "invalid value for '%s'", child);
			return -1;
		}
	}
	return 0;
}

/* ---- Storage -------------------------------------------------------------------------- */

/* The stored document of `name` (new reference) or NULL; *err gets the store's answer
 * (SENSED_ENOTFOUND when never written). */
static json_t *load(sensed_txn *txn, const char *name, int *err)
{
	json_t *filter = json_pack("{s:s}", "name", name), *doc = NULL;

	*err = filter ? host->find_one(txn, settings, filter, &doc) : SENSED_ENOMEM;
	json_decref(filter);
	return *err ? NULL : doc;
}

/* Insert or replace the document of doc.name (borrowed; updated with _id and dates). */
static int save(json_t *doc)
{
	const char *name = json_string_value(json_object_get(doc, "name"));
	sensed_txn *txn = NULL;
	json_t *old;
	int err = host->txn_begin(1, &txn);

	if (err)
		return err;
	old = load(txn, name, &err);
	if (err == 0) {
		char id[25];
		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(old, "_id")));
		json_object_set_new(doc, "_id", json_string(id));
		err = host->doc_replace(txn, settings, id, doc);
	} else if (err == SENSED_ENOTFOUND) {
		json_object_del(doc, "_id");
		err = host->doc_insert(txn, settings, doc, NULL);
	}
	json_decref(old);
	if (err) {
		host->txn_abort(txn);
		return err;
	}
	return host->txn_commit(txn);
}

/* Drop members set to null (a null clears a setting). */
static void drop_nulls(json_t *obj)
{
	const char *key;
	json_t *value;
	void *tmp;

	json_object_foreach_safe(obj, tmp, key, value)
	{
		if (json_is_null(value))
			json_object_del(obj, key);
		else if (json_is_object(value))
			drop_nulls(value);
	}
}

/* The body of a write, checked against `table`; NULL after replying 400. */
static json_t *checked_body(sensed_request *req, const struct member *table)
{
	json_t *body;
	char why[300], message[400];

	if (host->request_json(req, &body))
		return NULL;
	if (!body || check_object(body, table, "", why, sizeof(why))) {
		snprintf(message, sizeof(message), "Invalid input: %s",
		         body ? why : "a JSON object is required");
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
		return NULL;
	}
	return body;
}

/* Reply with a stored document as clients see it: no store dates, secrets masked. */
static void reply_settings(sensed_request *req, int status, const json_t *doc)
{
	json_t *out = json_deep_copy(doc);

	if (!out) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_object_del(out, "created");
	json_object_del(out, "lastUpdated");
	if (json_object_get(out, "sharedSecret"))
		json_object_set_new(out, "sharedSecret", json_string(SECRET_MASK));
	host->reply_json(req, status, out);
	json_decref(out);
}

/* ---- Effects -------------------------------------------------------------------------- */

/* Apply system.webServer.cors when the document has it.  0, or the host's error. */
static int apply_cors(const json_t *system)
{
	json_t *cors = json_object_get(json_object_get(system, "webServer"), "cors");

	if (!json_is_object(cors))
		return 0;
	return host->cors_set(!json_is_false(json_object_get(cors, "enabled")),
	                      json_object_get(cors, "allowedOrigins"));
}

/* ---- /settings/sso -------------------------------------------------------------------- */

static void get_sso(sensed_request *req, void *arg)
{
	int err;
	json_t *doc = load(NULL, "sso", &err);

	(void)arg;
	if (err == SENSED_ENOTFOUND) {
		json_t *empty = json_pack("{s:s, s:b}", "name", "sso", "enabled", 0);
		host->reply_json(req, 200, empty);
		json_decref(empty);
		return;
	}
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	reply_settings(req, 200, doc);
	json_decref(doc);
}

static void post_sso(sensed_request *req, void *arg)
{
	json_t *body = checked_body(req, sso_members), *doc, *secret;
	int err;

	(void)arg;
	if (!body)
		return;
	doc = load(NULL, "sso", &err);
	if (err == SENSED_ENOTFOUND)
		doc = json_object();
	else if (err) {
		host->reply_store_error(req, err);
		return;
	}
	if (!doc) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	secret = json_object_get(body, "sharedSecret");
	const char *stored_secret = json_string_value(json_object_get(doc, "sharedSecret"));
	char *kept = stored_secret ? strdup(stored_secret) : NULL;
	json_object_update(doc, body);
	json_object_set_new(doc, "name", json_string("sso"));
	/* The mask read back from GET (or an empty string) keeps the stored secret. */
	if (json_is_string(secret) &&
	    (strcmp(json_string_value(secret), SECRET_MASK) == 0 || !json_string_length(secret))) {
		if (kept)
			json_object_set_new(doc, "sharedSecret", json_string(kept));
		else
			json_object_del(doc, "sharedSecret");
	} else if (json_is_string(secret)) {
		char *sealed = NULL;
		err = host->secret_seal(json_string_value(secret), &sealed);
		if (err) {
			free(kept);
			json_decref(doc);
			host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
			return;
		}
		json_object_set_new(doc, "sharedSecret", json_string(sealed));
		free(sealed);
	}
	free(kept);
	drop_nulls(doc);
	err = save(doc);
	if (err)
		host->reply_store_error(req, err);
	else
		reply_settings(req, 200, doc);
	json_decref(doc);
}

/* ---- /settings/system ----------------------------------------------------------------- */

/* The stored system settings merged over the defaults (new reference) or NULL. */
static json_t *system_settings(int *err)
{
	json_t *doc = load(NULL, "system", err);

	if (*err == SENSED_ENOTFOUND) {
		*err = 0;
		doc = json_pack("{s:s, s:s, s:s, s:{s:b}}", "name", "system", "alias", "",
		                "firstday", DEFAULT_FIRST, "tracking", "apiTelemetry", 0);
		if (!doc)
			*err = SENSED_ENOMEM;
	}
	return doc;
}

static void get_system(sensed_request *req, void *arg)
{
	int err;
	json_t *doc = system_settings(&err);

	(void)arg;
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	reply_settings(req, 200, doc);
	json_decref(doc);
}

static void post_system(sensed_request *req, void *arg)
{
	json_t *body = checked_body(req, system_members), *doc;
	int err;

	(void)arg;
	if (!body)
		return;
	doc = system_settings(&err);
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	json_object_update_recursive(doc, body);
	json_object_set_new(doc, "name", json_string("system"));
	drop_nulls(doc);
	err = save(doc);
	if (!err)
		err = apply_cors(doc);
	if (err)
		host->reply_store_error(req, err);
	else
		reply_settings(req, 200, doc);
	json_decref(doc);
}

/* ---- /settings/globalization ---------------------------------------------------------- */

static void not_configured(sensed_request *req, int status)
{
	json_t *extra =
	    json_pack("{s:s, s:s}", "resourceType", "settings", "resourceName", "globalization");

	host->reply_error_extra(req, status, SENSED_CODE_NOT_CONFIGURED, NULL, extra);
	json_decref(extra);
}

static void get_globalization(sensed_request *req, void *arg)
{
	int err;
	json_t *doc = load(NULL, "globalization", &err);

	(void)arg;
	if (err == SENSED_ENOTFOUND)
		not_configured(req, 404);
	else if (err)
		host->reply_store_error(req, err);
	else
		reply_settings(req, 200, doc);
	json_decref(doc);
}

/* POST replaces the settings, PUT merges into them (arg non-NULL). */
static void write_globalization(sensed_request *req, void *arg)
{
	json_t *body = checked_body(req, globalization_members), *doc = NULL;
	const char *language;
	char message[160];
	int err = SENSED_ENOTFOUND;

	if (!body)
		return;
	if (arg)
		doc = load(NULL, "globalization", &err);
	if (err == SENSED_ENOTFOUND) {
		doc = json_object();
		err = doc ? 0 : SENSED_ENOMEM;
	}
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	json_object_update_recursive(doc, body);
	json_object_set_new(doc, "name", json_string("globalization"));
	drop_nulls(doc);
	language = json_string_value(json_object_get(doc, "language"));
	if (!language) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "Invalid input: 'language' is required");
		json_decref(doc);
		return;
	}
	/* Checked before saving: a stored language must be one the server can apply. */
	json_t *known = host->translation_get(language);
	if (!known) {
		snprintf(message, sizeof(message),
		         "Invalid input: no translation for language '%.64s' (GET /translations)",
		         language);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
		json_decref(doc);
		return;
	}
	json_decref(known);
	err = save(doc);
	if (!err)
		err = host->locale_set_default(json_string_value(json_object_get(doc, "language")));
	if (err)
		host->reply_store_error(req, err);
	else
		reply_settings(req, 200, doc);
	json_decref(doc);
}

static void delete_globalization(sensed_request *req, void *arg)
{
	int err;
	json_t *doc = load(NULL, "globalization", &err);

	(void)arg;
	if (err == SENSED_ENOTFOUND) {
		/* The catalog answers 403 "Not configured yet" here (SET-13). */
		not_configured(req, 403);
		return;
	}
	if (!err)
		err = host->doc_delete(NULL, settings,
		                       json_string_value(json_object_get(doc, "_id")));
	json_decref(doc);
	if (!err)
		err = host->locale_set_default(NULL);
	if (err)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

/* ---- /settings/public_settings -------------------------------------------------------- */

static void get_public(sensed_request *req, void *arg)
{
	int err;
	json_t *system = system_settings(&err), *out;

	(void)arg;
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	out = json_pack("{s:O, s:s}", "firstday", json_object_get(system, "firstday"), "language",
	                host->locale_default());
	json_decref(system);
	if (!out) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, out);
	json_decref(out);
}

/* ---- Start-up ------------------------------------------------------------------------- */

/* Apply what is stored; a value the server cannot apply any more (a language file
 * removed) is logged and left stored. */
static void apply_stored(void)
{
	int err;
	json_t *doc = load(NULL, "globalization", &err);
	const char *language = json_string_value(json_object_get(doc, "language"));

	if (language && (err = host->locale_set_default(language)) != 0)
		host->log(plugin, SENSED_LOG_WARN,
		          "stored default language '%s' cannot be applied: %s", language,
		          host->strerror(err));
	json_decref(doc);
	doc = load(NULL, "system", &err);
	if (doc && (err = apply_cors(doc)) != 0)
		host->log(plugin, SENSED_LOG_WARN, "stored CORS settings cannot be applied: %s",
		          host->strerror(err));
	json_decref(doc);
}

static int settings_init(sensed_plugin *self, const sensed_host *h)
{
	static int merge = 1;
	int err;

	host = h;
	plugin = self;
	if (!SENSED_HOST_HAS(h, cors_set) || !SENSED_HOST_HAS(h, secret_seal)) {
		h->set_error(self, "this server predates SDK ABI 1.2 (cors_set, secret_seal)");
		return SENSED_EUNSUPPORTED;
	}
	if ((err = h->collection_open(self, "settings", &settings)) ||
	    (err = h->index_declare(settings, "name", SENSED_INDEX_UNIQUE)) ||
	    (err = h->route_add(self, SENSED_GET, "/settings/sso", SENSED_ROLE_ADMIN, get_sso,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/settings/sso", SENSED_ROLE_ADMIN, post_sso,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/settings/system", SENSED_ROLE_ADMIN, get_system,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/settings/system", SENSED_ROLE_ADMIN,
	                        post_system, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/settings/globalization", SENSED_ROLE_CONSUMER,
	                        get_globalization, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/settings/globalization", SENSED_ROLE_ADMIN,
	                        write_globalization, NULL)) ||
	    (err = h->route_add(self, SENSED_PUT, "/settings/globalization", SENSED_ROLE_ADMIN,
	                        write_globalization, &merge)) ||
	    (err = h->route_add(self, SENSED_DELETE, "/settings/globalization", SENSED_ROLE_ADMIN,
	                        delete_globalization, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/settings/public_settings", SENSED_ROLE_PUBLIC,
	                        get_public, NULL))) {
		h->set_error(self, "settings: %s", h->strerror(err));
		return err;
	}
	apply_stored();
	return 0;
}

SENSED_PLUGIN_DEFINE("settings", "1.0.0",
                     "Settings: sso, system (CORS), globalization (default language), "
                     "public settings",
                     settings_init, NULL)
