/* Settings end to end: system (CORS applied at once and after restarts), globalization
 * (default language of messages, 404/403 "Not configured yet"), sso (admins only, secret
 * sealed and masked), public_settings, validation and authorization. */
#include "api/platform_common.h"

#define SYSTEM        "/api/v1/settings/system"
#define SSO           "/api/v1/settings/sso"
#define GLOBALIZATION "/api/v1/settings/globalization"
#define PUBLIC        "/api/v1/settings/public_settings"
#define START_CORS    "{\"cors\": {\"allowedOrigins\": [\"http://start.example\"]}}"

/* The Access-Control-Allow-Origin answered to `origin` on a simple GET, or 0 when none. */
static int cors_allows(struct server *s, const char *origin)
{
	char headers[256];
	struct response *r;
	const char *allowed;
	int yes;

	snprintf(headers, sizeof(headers), "Origin: %s\r\n", origin);
	r = http(s, "GET", "/api/v1/application/status", NULL, headers, NULL);
	cr_assert_eq(r->status, 200);
	allowed = response_header(r, "Access-Control-Allow-Origin");
	yes = allowed && !strcmp(allowed, origin);
	response_free(r);
	return yes;
}

static int preflight_status(struct server *s, const char *origin)
{
	char headers[256];
	struct response *r;
	int status;

	snprintf(headers, sizeof(headers), "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n",
	         origin);
	r = http(s, "OPTIONS", "/api/v1/settings/system", NULL, headers, NULL);
	status = r->status;
	response_free(r);
	return status;
}

Test(settings, system_cors_applies_at_once_and_after_restart)
{
	char *dir = platform_data_dir();
	struct server *s = platform_start(dir, START_CORS);
	json_t *doc;

	cr_assert(cors_allows(s, "http://start.example"));
	cr_assert(!cors_allows(s, "http://new.example"));
	doc = expect_json(s, "POST", SYSTEM, admin_token(s),
	                  "{\"webServer\": {\"cors\": {\"enabled\": true, \"allowedOrigins\": "
	                  "[\"http://new.example\"]}}}",
	                  200);
	cr_assert_str_eq(
	    json_string_value(json_array_get(
	        json_object_get(json_object_get(json_object_get(doc, "webServer"), "cors"),
	                        "allowedOrigins"),
	        0)),
	    "http://new.example");
	json_decref(doc);
	cr_assert(cors_allows(s, "http://new.example"));
	cr_assert(!cors_allows(s, "http://start.example"));
	cr_assert_eq(preflight_status(s, "http://new.example"), 204);
	cr_assert_eq(preflight_status(s, "http://start.example"), 403);
	cr_assert_eq(server_stop(s), 0);

	/* the stored setting wins over the configuration file after a restart */
	s = platform_start(dir, START_CORS);
	cr_assert(cors_allows(s, "http://new.example"));
	cr_assert(!cors_allows(s, "http://start.example"));
	/* a partial update merges; enabled false allows nobody */
	doc = expect_json(s, "POST", SYSTEM, admin_token(s),
	                  "{\"webServer\": {\"cors\": {\"enabled\": false}}}", 200);
	cr_assert_eq(
	    json_array_size(json_object_get(
	        json_object_get(json_object_get(doc, "webServer"), "cors"), "allowedOrigins")),
	    1);
	json_decref(doc);
	cr_assert(!cors_allows(s, "http://new.example"));
	cr_assert_eq(server_stop(s), 0);
	platform_data_dir_free(dir);
}

Test(settings, system_validates_and_merges)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	static const char *const bad[] = {
	    "{\"nope\": 1}",
	    "{\"firstday\": \"someday\"}",
	    "{\"firstday\": 9}",
	    "{\"alias\": 5}",
	    "{\"webServer\": {\"cors\": {\"allowedOrigins\": \"http://x\"}}}",
	    "{\"webServer\": {\"cors\": {\"allowedOrigins\": [1]}}}",
	    "{\"webServer\": {\"cors\": {\"enabled\": \"yes\"}}}",
	    "{\"webServer\": {\"other\": {}}}",
	    "{\"email\": {\"enabled\": 1}}",
	    "[]",
	};
	json_t *doc;

	doc = expect_json(s, "GET", SYSTEM, admin, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "firstday")), "sun");
	json_decref(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct response *r = http(s, "POST", SYSTEM, admin, NULL, bad[i]);
		assert_error(r, 400, 1008);
		response_free(r);
	}
	cr_assert_eq(http_status(s, "POST", SYSTEM, admin, NULL), 400);
	json_decref(
	    expect_json(s, "POST", SYSTEM, admin,
	                "{\"alias\": \"Acme\", \"firstday\": \"mon\", \"email\": {\"enabled\": "
	                "true, \"senderEmail\": \"bi@acme.test\"}}",
	                200));
	doc = expect_json(s, "POST", SYSTEM, admin, "{\"email\": {\"senderName\": \"Acme BI\"}}",
	                  200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "alias")), "Acme");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(doc, "email"), "senderEmail")),
	    "bi@acme.test");
	json_decref(doc);
	doc = expect_json(s, "GET", SYSTEM, admin, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "firstday")), "mon");
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(doc, "email"), "senderName")),
	    "Acme BI");
	cr_assert_null(json_object_get(doc, "created"));
	json_decref(doc);
	/* firstday is public */
	doc = expect_json(s, "GET", PUBLIC, NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "firstday")), "mon");
	json_decref(doc);
	cr_assert_eq(server_stop(s), 0);
}

Test(settings, admin_areas_refuse_viewers)
{
	struct server *s = platform_start(NULL, NULL);
	char *viewer = user_token(s, "viewer", "consumer", NULL);
	char *data_admin = user_token(s, "dadmin", "dataAdmin", NULL);
	struct response *r;

	r = http(s, "GET", SYSTEM, viewer, NULL, NULL);
	assert_error(r, 403, 1009);
	response_free(r);
	cr_assert_eq(http_status(s, "POST", SYSTEM, viewer, "{\"alias\": \"x\"}"), 403);
	cr_assert_eq(http_status(s, "GET", SSO, viewer, NULL), 403);
	cr_assert_eq(http_status(s, "GET", SSO, data_admin, NULL), 403);
	cr_assert_eq(http_status(s, "POST", SSO, viewer, "{\"enabled\": true}"), 403);
	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, viewer, "{\"language\": \"fr-FR\"}"),
	             403);
	cr_assert_eq(http_status(s, "PUT", GLOBALIZATION, viewer, "{\"language\": \"fr-FR\"}"),
	             403);
	cr_assert_eq(http_status(s, "DELETE", GLOBALIZATION, viewer, NULL), 403);
	cr_assert_eq(http_status(s, "GET", SYSTEM, NULL, NULL), 401);
	cr_assert_eq(http_status(s, "GET", GLOBALIZATION, NULL, NULL), 401);
	/* viewers read the globalization settings and the public ones */
	cr_assert_eq(http_status(s, "GET", GLOBALIZATION, viewer, NULL), 404);
	cr_assert_eq(http_status(s, "GET", PUBLIC, NULL, NULL), 200);
	free(viewer);
	free(data_admin);
	cr_assert_eq(server_stop(s), 0);
}

Test(settings, sso_seals_the_shared_secret)
{
	struct server *s = platform_start(NULL, NULL);
	const char *admin = admin_token(s);
	json_t *doc;

	doc = expect_json(s, "GET", SSO, admin, NULL, 200);
	cr_assert(json_is_false(json_object_get(doc, "enabled")));
	json_decref(doc);
	doc = expect_json(s, "POST", SSO, admin,
	                  "{\"enabled\": true, \"ssoType\": \"jwt\", \"loginUrl\": "
	                  "\"https://idp.test/login\", \"sharedSecret\": \"Sup3r-S3cret-Value\"}",
	                  200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "sharedSecret")), "********");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), "sso");
	json_decref(doc);
	doc = expect_json(s, "GET", SSO, admin, NULL, 200);
	cr_assert(json_is_true(json_object_get(doc, "enabled")));
	cr_assert_str_eq(json_string_value(json_object_get(doc, "ssoType")), "jwt");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "loginUrl")),
	                 "https://idp.test/login");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "sharedSecret")), "********");
	cr_assert_eq(strlen(json_string_value(json_object_get(doc, "_id"))), 24);
	json_decref(doc);
	cr_assert(!store_contains(s, "Sup3r-S3cret-Value"), "secret stored in clear");

	/* posting the mask back keeps the secret; null clears it */
	doc = expect_json(s, "POST", SSO, admin,
	                  "{\"sharedSecret\": \"********\", \"enabled\": false}", 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "sharedSecret")), "********");
	json_decref(doc);
	doc = expect_json(s, "POST", SSO, admin, "{\"sharedSecret\": null}", 200);
	cr_assert_null(json_object_get(doc, "sharedSecret"));
	cr_assert_str_eq(json_string_value(json_object_get(doc, "loginUrl")),
	                 "https://idp.test/login");
	json_decref(doc);

	cr_assert_eq(http_status(s, "POST", SSO, admin, "{\"ssoType\": \"oauth\"}"), 400);
	cr_assert_eq(http_status(s, "POST", SSO, admin, "{\"enabled\": \"yes\"}"), 400);
	cr_assert_eq(http_status(s, "POST", SSO, admin, "{\"unknown\": true}"), 400);
	cr_assert_eq(server_stop(s), 0);
}

Test(settings, globalization_sets_the_default_language)
{
	char *dir = platform_data_dir();
	struct server *s = platform_start(dir, NULL);
	const char *admin = admin_token(s);
	struct response *r;
	json_t *doc;
	char *message;

	r = http(s, "GET", GLOBALIZATION, admin, NULL, NULL);
	assert_error(r, 404, 1400);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "message")),
	    "Not configured yet");
	response_free(r);
	r = http(s, "DELETE", GLOBALIZATION, admin, NULL, NULL);
	assert_error(r, 403, 1400);
	response_free(r);
	doc = expect_json(s, "GET", PUBLIC, NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "en-US");
	json_decref(doc);

	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, admin, "{\"language\": \"xx-XX\"}"),
	             400);
	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, admin, "{\"language\": \"fr\"}"), 400);
	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, admin, "{}"), 400);
	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, admin, "{\"language\": 1}"), 400);
	cr_assert_eq(http_status(s, "POST", GLOBALIZATION, admin,
	                         "{\"language\": \"fr-FR\", \"localization\": {\"x\": 1}}"),
	             400);
	doc = expect_json(s, "POST", GLOBALIZATION, admin,
	                  "{\"language\": \"fr-FR\", \"localization\": {\"default\": \"fr-FR\", "
	                  "\"autoDetectEnabled\": false}}",
	                  200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "fr-FR");
	json_decref(doc);
	/* anonymous errors now come in French */
	message = error_message(s, "GET", "/api/v1/no/such/route", NULL, NULL, 404, 1003);
	cr_assert_str_eq(message, "Ressource introuvable");
	free(message);
	doc = expect_json(s, "GET", PUBLIC, NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "fr-FR");
	json_decref(doc);

	/* PUT merges into what is stored */
	doc = expect_json(s, "PUT", GLOBALIZATION, admin,
	                  "{\"localization\": {\"autoDetectEnabled\": true}}", 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "fr-FR");
	cr_assert(json_is_true(
	    json_object_get(json_object_get(doc, "localization"), "autoDetectEnabled")));
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(doc, "localization"), "default")),
	    "fr-FR");
	json_decref(doc);
	json_decref(expect_json(s, "PUT", GLOBALIZATION, admin, "{\"language\": \"de-DE\"}", 200));
	cr_assert_eq(server_stop(s), 0);

	/* applied again at start */
	s = platform_start(dir, NULL);
	admin = admin_token(s);
	message = error_message(s, "GET", "/api/v1/no/such/route", NULL, NULL, 404, 1003);
	cr_assert_str_eq(message, "Ressource nicht gefunden");
	free(message);
	doc = expect_json(s, "GET", GLOBALIZATION, admin, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "de-DE");
	json_decref(doc);

	/* DELETE returns to en-US */
	cr_assert_eq(http_status(s, "DELETE", GLOBALIZATION, admin, NULL), 204);
	cr_assert_eq(http_status(s, "GET", GLOBALIZATION, admin, NULL), 404);
	message = error_message(s, "GET", "/api/v1/no/such/route", NULL, NULL, 404, 1003);
	cr_assert_str_eq(message, "Resource not found");
	free(message);
	doc = expect_json(s, "GET", PUBLIC, NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "language")), "en-US");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "firstday")), "sun");
	json_decref(doc);
	cr_assert_eq(server_stop(s), 0);
	platform_data_dir_free(dir);
}
