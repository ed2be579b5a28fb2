/* Unit tests of core/translations.c and of the shipped language files: every file has
 * every key of en-US, every wire code has its message, and the lookup order (the
 * request's language, the default, en-US, the key). */
#include "errors.h"
#include "translations.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIPPED SENSED_SOURCE_DIR "/etc/translations"

static json_t *load_file(const char *lang)
{
	char path[512];
	json_error_t err;
	json_t *t;

	snprintf(path, sizeof(path), "%s/%s.json", SHIPPED, lang);
	t = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	cr_assert_not_null(t, "%s: %s", path, err.text);
	return t;
}

Test(translations, shipped_files_are_complete)
{
	json_t *en = load_file("en-US"), *langs;
	const char *key;
	json_t *text;
	size_t i;

	cr_assert(translations_load(SHIPPED) >= 3);
	langs = translations_list();
	cr_assert(json_array_size(langs) >= 3);
	json_array_foreach(langs, i, text)
	{
		json_t *other = load_file(json_string_value(text));
		json_t *value;
		json_object_foreach(en, key, value)
		{
			const char *t = json_string_value(json_object_get(other, key));
			cr_assert(t && *t, "%s lacks \"%s\"", json_string_value(text), key);
			if (!strncmp(key, "email.", 6) && strstr(key, ".body")) {
				cr_assert(strstr(t, "{{userName}}") && strstr(t, "{{link}}"),
				          "%s %s: placeholders", json_string_value(text), key);
			}
		}
		cr_assert_eq(json_object_size(other), json_object_size(en),
		             "%s has keys en-US lacks", json_string_value(text));
		json_decref(other);
	}
	json_decref(langs);
	for (const char *const *k =
	         (const char *const[]){"email.activate.subject", "email.activate.body",
	                               "email.reset.subject", "email.reset.body", NULL};
	     *k; k++)
		cr_assert_not_null(json_object_get(en, *k), "%s", *k);
	json_decref(en);
	translations_shutdown();
}

/* Every SENSED_CODE_* of the SDK header has "error.<code>" in en-US, equal to the
 * message of core/errors.c (the one table). */
Test(translations, every_wire_code_has_its_message)
{
	char path[512], line[512];
	FILE *f;
	regex_t re;
	regmatch_t m[2];
	int codes = 0;

	cr_assert(translations_load(SHIPPED) >= 3);
	snprintf(path, sizeof(path), "%s/include/sensed/plugin.h", SENSED_SOURCE_DIR);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_eq(regcomp(&re, "^[[:space:]]*SENSED_CODE_[A-Z_0-9]+ = ([0-9]+),", REG_EXTENDED),
	             0);
	while (fgets(line, sizeof(line), f)) {
		if (regexec(&re, line, 2, m, 0))
			continue;
		int code = atoi(line + m[1].rm_so);
		char key[32];
		snprintf(key, sizeof(key), "error.%d", code);
		const char *text = translate_locale("en-US", key);
		cr_assert_str_eq(text, wire_code_message(code), "en-US %s", key);
		for (const char *const *l = (const char *const[]){"fr-FR", "de-DE", NULL}; *l; l++)
			cr_assert_str_neq(translate_locale(*l, key), key, "%s %s", *l, key);
		codes++;
	}
	regfree(&re);
	fclose(f);
	cr_assert(codes > 30);
	translations_shutdown();
}

Test(translations, lookup_order_and_defaults)
{
	json_t *table;

	cr_assert(translations_load(SHIPPED) >= 3);
	cr_assert_str_eq(locale_default(), "en-US");
	cr_assert_str_eq(translate_locale("fr-FR", "error.1009"), "Interdit");
	cr_assert_str_eq(translate_locale("fr_fr", "error.1009"), "Interdit");
	cr_assert_str_eq(translate_locale("FR-ca", "error.1009"), "Interdit");
	cr_assert_str_eq(translate_locale("zz-ZZ", "error.1009"), "Forbidden");
	cr_assert_str_eq(translate_locale("../../x", "error.1009"), "Forbidden");
	cr_assert_str_eq(translate_locale(NULL, "error.1009"), "Forbidden");
	cr_assert_str_eq(translate_locale("de-DE", "no.such"), "no.such");
	cr_assert_str_eq(translate(NULL, "error.1009"), "Forbidden");

	cr_assert_eq(locale_set_default("xx-XX"), SENSED_ENOTFOUND);
	cr_assert_eq(locale_set_default("de"), SENSED_ENOTFOUND, "exact names only");
	cr_assert_eq(locale_set_default("de-de"), 0);
	cr_assert_str_eq(locale_default(), "de-DE");
	cr_assert_str_eq(translate_locale(NULL, "error.1009"), "Verboten");
	cr_assert_str_eq(translate_locale("zz-ZZ", "error.1009"), "Verboten");
	cr_assert_str_eq(translate_locale("fr-FR", "error.1009"), "Interdit");
	cr_assert_str_eq(translations_error_message(NULL, 1009), "Verboten");
	cr_assert_null(translations_error_message(NULL, 999999));
	cr_assert_eq(locale_set_default(NULL), 0);
	cr_assert_str_eq(locale_default(), "en-US");

	table = translation_get("fr-FR");
	cr_assert_not_null(table);
	json_object_set_new(table, "error.1009", json_string("changed"));
	json_decref(table);
	cr_assert_str_eq(translate_locale("fr-FR", "error.1009"), "Interdit", "a copy");
	cr_assert_null(translation_get("fr"));
	cr_assert_null(translation_get(NULL));
	translations_shutdown();
	cr_assert_str_eq(translate_locale("fr-FR", "error.1009"), "error.1009");
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(translations, bad_files_are_skipped)
{
	char dir[] = "/tmp/sensed-translations-XXXXXX", cmd[128];
	json_t *list;

	cr_assert_not_null(mkdtemp(dir));
	write_file(dir, "en-US.json", "{\"k\": \"v\"}");
	write_file(dir, "fr-FR.json", "[\"not an object\"]");
	write_file(dir, "de-DE.json", "{\"k\": 1}");
	write_file(dir, "es-ES.json", "{\"k\": \"v\", \"k\": \"w\"}");
	write_file(dir, "not a tag.json", "{\"k\": \"v\"}");
	write_file(dir, "it-IT.json", "{broken");
	write_file(dir, "pt-BR.json", "{\"k\": \"obrigado\"}");
	write_file(dir, "README.txt", "ignored");
	cr_assert_eq(translations_load(dir), 2);
	list = translations_list();
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_str_eq(json_string_value(json_array_get(list, 0)), "en-US");
	cr_assert_str_eq(json_string_value(json_array_get(list, 1)), "pt-BR");
	json_decref(list);
	cr_assert_str_eq(translate_locale("pt", "k"), "obrigado");
	translations_shutdown();
	cr_assert_eq(translations_load("/nonexistent/dir"), SENSED_ENOTFOUND);
	list = translations_list();
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	cr_assert_str_eq(translate_locale("en-US", "k"), "k");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
