/* Translations end to end: GET /translations and /translations/{lang}, error messages in
 * the caller's preferences.localeId (then the default language, then en-US), and the
 * translate members (through featurekit2). */
#include "api/platform_common.h"

#define TRANSLATE "/api/v1/test/featurekit2/translate"

Test(translations, list_and_get)
{
	struct server *s = platform_start(NULL, NULL);
	char *viewer = user_token(s, "viewer", "consumer", NULL);
	json_t *list = expect_json(s, "GET", "/api/v1/translations", viewer, NULL, 200), *table;
	static const char *const unknown[] = {"xx-XX",      "fr", "..%2F..%2Fetc%2Fpasswd",
	                                      "en-US.json", "..", "%2Fetc%2Fpasswd"};
	int en = 0, fr = 0, de = 0;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		en |= !strcmp(json_string_value(item), "en-US");
		fr |= !strcmp(json_string_value(item), "fr-FR");
		de |= !strcmp(json_string_value(item), "de-DE");
	}
	cr_assert(en && fr && de, "languages: %s", json_dumps(list, JSON_COMPACT));
	json_decref(list);

	table = expect_json(s, "GET", "/api/v1/translations/fr-FR", viewer, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(table, "error.1003")),
	                 "Ressource introuvable");
	cr_assert(
	    strstr(json_string_value(json_object_get(table, "email.reset.body")), "{{link}}"));
	json_decref(table);
	/* names are matched case-insensitively against the list, never used as paths */
	table = expect_json(s, "GET", "/api/v1/translations/de-de", viewer, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(table, "error.1009")), "Verboten");
	json_decref(table);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/api/v1/translations/%s", unknown[i]);
		struct response *r = http(s, "GET", path, viewer, NULL, NULL);
		cr_assert(r->status == 404, "%s: %d %s", unknown[i], r->status, r->body);
		if (r->json && json_integer_value(json_object_get(json_object_get(r->json, "error"),
		                                                  "code")) != 1003)
			assert_error(r, 404, 1404);
		response_free(r);
	}
	cr_assert_eq(http_status(s, "GET", "/api/v1/translations", NULL, NULL), 401);
	cr_assert_eq(http_status(s, "GET", "/api/v1/translations/en-US", NULL, NULL), 401);
	free(viewer);
	cr_assert_eq(server_stop(s), 0);
}

Test(translations, errors_arrive_in_the_users_language)
{
	struct server *s = platform_start(NULL, NULL);
	char *fr = user_token(s, "francoise", "consumer", "fr-FR");
	char *de = user_token(s, "dieter", "consumer", "de_de");
	char *ca = user_token(s, "camille", "consumer", "fr-CA");
	char *en = user_token(s, "emily", "consumer", NULL);
	char *odd = user_token(s, "odd", "consumer", "zz-ZZ");
	char *message;

	message = error_message(s, "GET", "/api/v1/plugins", fr, NULL, 403, 1009);
	cr_assert_str_eq(message, "Interdit");
	free(message);
	message = error_message(s, "GET", "/api/v1/plugins", de, NULL, 403, 1009);
	cr_assert_str_eq(message, "Verboten");
	free(message);
	message = error_message(s, "GET", "/api/v1/plugins", ca, NULL, 403, 1009);
	cr_assert_str_eq(message, "Interdit", "fr-CA falls back to fr-FR");
	free(message);
	message = error_message(s, "GET", "/api/v1/plugins", en, NULL, 403, 1009);
	cr_assert_str_eq(message, "Forbidden");
	free(message);
	/* a handler's reply_error(..., NULL) is translated too */
	message = error_message(s, "GET", "/api/v1/test/featurekit2/error", fr, NULL, 400, 1008);
	cr_assert_str_eq(message, "Paramètre invalide");
	free(message);
	/* the feature-disabled message names the feature in the user's language */
	json_decref(expect_json(s, "PATCH", "/api/v1/features/kit.gated/toggle", admin_token(s),
	                        "{\"active\": false}", 200));
	message = error_message(s, "GET", "/api/v1/test/featurekit/ping", de, NULL, 403, 1012);
	cr_assert_str_eq(message, "Die Funktion ist deaktiviert: kit.gated");
	free(message);

	/* an unknown language follows the default language, then en-US */
	message = error_message(s, "GET", "/api/v1/plugins", odd, NULL, 403, 1009);
	cr_assert_str_eq(message, "Forbidden");
	free(message);
	json_decref(expect_json(s, "POST", "/api/v1/settings/globalization", admin_token(s),
	                        "{\"language\": \"de-DE\"}", 200));
	message = error_message(s, "GET", "/api/v1/plugins", odd, NULL, 403, 1009);
	cr_assert_str_eq(message, "Verboten");
	free(message);
	message = error_message(s, "GET", "/api/v1/plugins", fr, NULL, 403, 1009);
	cr_assert_str_eq(message, "Interdit", "the user's language beats the default");
	free(message);
	/* explicit messages stay as the handler wrote them */
	message =
	    error_message(s, "GET", "/api/v1/plugins?limit=x", admin_token(s), NULL, 400, 1008);
	cr_assert(strstr(message, "limit"));
	free(message);
	free(fr);
	free(de);
	free(ca);
	free(en);
	free(odd);
	cr_assert_eq(server_stop(s), 0);
}

Test(translations, translate_members)
{
	struct server *s = platform_start(NULL, NULL);
	char *fr = user_token(s, "francoise", "consumer", "fr-FR");
	json_t *t;

	t = expect_json(s, "GET", TRANSLATE "?key=email.reset.subject&locale=de-DE", fr, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(t, "request")),
	                 "Réinitialisez votre mot de passe");
	cr_assert_str_eq(json_string_value(json_object_get(t, "locale")),
	                 "Setzen Sie Ihr Passwort zurück");
	cr_assert_str_eq(json_string_value(json_object_get(t, "default")), "en-US");
	json_decref(t);
	/* anonymous: the default language; an unknown key comes back as itself */
	t = expect_json(s, "GET", TRANSLATE "?key=email.activate.subject", NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(t, "request")), "Activate your account");
	cr_assert_str_eq(json_string_value(json_object_get(t, "locale")), "Activate your account");
	json_decref(t);
	t = expect_json(s, "GET", TRANSLATE "?key=no.such.key&locale=fr-FR", fr, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(t, "request")), "no.such.key");
	cr_assert_str_eq(json_string_value(json_object_get(t, "locale")), "no.such.key");
	json_decref(t);
	json_decref(expect_json(s, "POST", "/api/v1/settings/globalization", admin_token(s),
	                        "{\"language\": \"fr-FR\"}", 200));
	t = expect_json(s, "GET", TRANSLATE "?key=email.activate.subject", NULL, NULL, 200);
	cr_assert_str_eq(json_string_value(json_object_get(t, "locale")), "Activez votre compte");
	cr_assert_str_eq(json_string_value(json_object_get(t, "default")), "fr-FR");
	json_decref(t);
	free(fr);
	cr_assert_eq(server_stop(s), 0);
}
