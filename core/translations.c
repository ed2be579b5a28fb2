/* Translations (contracts in translations.h and include/sensed/plugin.h).
 *
 * A language is chosen by its tag, compared without regard to case and with '_' taken as
 * '-' ("fr_fr" is "fr-FR"); a tag that names no file falls back to a file of the same
 * primary language ("fr-CA" -> "fr-FR").  Names coming from requests are only ever
 * compared with the loaded list, never joined into a path. */
#include "translations.h"

#include "log.h"
#include "request.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_TAG  "translations"
#define LANG_MAX 32

struct language {
	char name[LANG_MAX]; /* as the file is named: "fr-FR" */
	json_t *table;       /* owned; key -> text, read-only while serving */
};

static struct language *languages; /* owned; sorted by name */
static size_t language_count;
/* NULL: the fallback language.  Points into `languages`, which outlives every reader. */
static _Atomic(const struct language *) default_language;

/* "fr-FR", "de", "zh-Hant-TW": 2-3 letters, then up to three subtags of 1-8 alphanumerics. */
static int tag_is_valid(const char *tag, size_t len)
{
	size_t i = 0, run = 0;
	int subtags = 0;

	if (len == 0 || len >= LANG_MAX)
		return 0;
	while (i < len && isalpha((unsigned char)tag[i]))
		i++;
	if (i < 2 || i > 3)
		return 0;
	for (; i < len; i++) {
		if (tag[i] == '-' || tag[i] == '_') {
			if (i + 1 == len || ++subtags > 3)
				return 0;
			run = 0;
		} else if (!isalnum((unsigned char)tag[i]) || ++run > 8) {
			return 0;
		}
	}
	return 1;
}

/* Compare two tags ignoring case and '_' vs '-'. */
static int tag_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
		char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
		if (x != y)
			return 0;
	}
	return *a == *b;
}

static size_t primary_len(const char *tag)
{
	return strcspn(tag, "-_");
}

static const struct language *language_find(const char *tag)
{
	size_t primary;

	if (!tag || !tag_is_valid(tag, strlen(tag)))
		return NULL;
	for (size_t i = 0; i < language_count; i++)
		if (tag_equal(languages[i].name, tag))
			return &languages[i];
	primary = primary_len(tag);
	for (size_t i = 0; i < language_count; i++)
		if (primary_len(languages[i].name) == primary &&
		    strncasecmp(languages[i].name, tag, primary) == 0)
			return &languages[i];
	return NULL;
}

static const char *lookup(const struct language *lang, const char *key)
{
	return lang ? json_string_value(json_object_get(lang->table, key)) : NULL;
}

/* The text of `key` in `preferred`, then the default language, then the fallback; NULL
 * when none has it. */
static const char *lookup_chain(const struct language *preferred, const char *key)
{
	const char *text = lookup(preferred, key);

	if (!text)
		text = lookup(atomic_load(&default_language), key);
	if (!text)
		text = lookup(language_find(TRANSLATIONS_FALLBACK), key);
	return text;
}

static const struct language *request_language(sensed_request *req)
{
	json_t *user = req ? request_user(req) : NULL;
	json_t *prefs = json_object_get(user, "preferences");

	return language_find(json_string_value(json_object_get(prefs, "localeId")));
}

/* Parse one file into a table of strings; NULL (logged) when it is not one. */
static json_t *table_load(const char *path)
{
	json_error_t err;
	json_t *table = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	const char *key;
	json_t *value;

	if (!table) {
		log_msg(SENSED_LOG_ERROR, LOG_TAG, "skipped %s: line %d: %s", path, err.line,
		        err.text);
		return NULL;
	}
	if (!json_is_object(table)) {
		log_msg(SENSED_LOG_ERROR, LOG_TAG, "skipped %s: not a JSON object", path);
		json_decref(table);
		return NULL;
	}
	json_object_foreach(table, key, value)
	{
		if (!json_is_string(value)) {
			log_msg(SENSED_LOG_ERROR, LOG_TAG, "skipped %s: \"%s\" is not a string",
			        path, key);
			json_decref(table);
			return NULL;
		}
	}
	return table;
}

static int language_compare(const void *a, const void *b)
{
	return strcmp(((const struct language *)a)->name, ((const struct language *)b)->name);
}

static int json_file_filter(const struct dirent *entry)
{
	size_t len = strlen(entry->d_name);

	return entry->d_name[0] != '.' && len > 5 && strcmp(entry->d_name + len - 5, ".json") == 0;
}

int translations_load(const char *dir)
{
	struct dirent **entries = NULL;
	struct language *loaded;
	int count, kept = 0;

	translations_shutdown();
	if (!dir)
		return SENSED_EINVAL;
	count = scandir(dir, &entries, json_file_filter, alphasort);
	if (count < 0) {
		log_msg(SENSED_LOG_WARN, LOG_TAG,
		        "cannot read %s (%s): messages are served in English only", dir,
		        strerror(errno));
		return SENSED_ENOTFOUND;
	}
	loaded = calloc(count > 0 ? (size_t)count : 1, sizeof(*loaded));
	for (int i = 0; i < count; i++) {
		const char *file = entries[i]->d_name;
		size_t tag_len = strlen(file) - 5;
		char path[4096];

		if (loaded && tag_is_valid(file, tag_len)) {
			snprintf(path, sizeof(path), "%s/%s", dir, file);
			json_t *table = table_load(path);
			if (table) {
				memcpy(loaded[kept].name, file, tag_len);
				loaded[kept].name[tag_len] = '\0';
				loaded[kept++].table = table;
			}
		} else if (loaded) {
			log_msg(SENSED_LOG_ERROR, LOG_TAG,
			        "skipped %s/%s: the name is not a language tag (e.g. fr-FR.json)",
			        dir, file);
		}
		free(entries[i]);
	}
	free(entries);
	if (!loaded)
		return SENSED_ENOMEM;
	qsort(loaded, (size_t)kept, sizeof(*loaded), language_compare);
	languages = loaded;
	language_count = (size_t)kept;
	if (!language_find(TRANSLATIONS_FALLBACK))
		log_msg(SENSED_LOG_WARN, LOG_TAG, "%s has no %s.json", dir, TRANSLATIONS_FALLBACK);
	log_msg(SENSED_LOG_INFO, LOG_TAG, "%d language(s) from %s", kept, dir);
	return kept;
}

void translations_shutdown(void)
{
	atomic_store(&default_language, NULL);
	for (size_t i = 0; i < language_count; i++)
		json_decref(languages[i].table);
	free(languages);
	languages = NULL;
	language_count = 0;
}

const char *translate(sensed_request *req, const char *key)
{
	const char *text;

	if (!key)
		return "";
	text = lookup_chain(request_language(req), key);
	return text ? text : key;
}

const char *translate_locale(const char *locale, const char *key)
{
	const char *text;

	if (!key)
		return "";
	text = lookup_chain(language_find(locale), key);
	return text ? text : key;
}

int locale_set_default(const char *locale)
{
	const struct language *lang = NULL;

	if (locale) {
		lang = language_find(locale);
		if (!lang || !tag_equal(lang->name, locale))
			return SENSED_ENOTFOUND;
	}
	atomic_store(&default_language, lang);
	log_msg(SENSED_LOG_INFO, LOG_TAG, "default language: %s",
	        lang ? lang->name : TRANSLATIONS_FALLBACK);
	return 0;
}

const char *locale_default(void)
{
	const struct language *lang = atomic_load(&default_language);

	return lang ? lang->name : TRANSLATIONS_FALLBACK;
}

json_t *translations_list(void)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < language_count; i++) {
		if (json_array_append_new(list, json_string(languages[i].name))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

json_t *translation_get(const char *locale)
{
	const struct language *lang = language_find(locale);

	/* Exact names only: GET /translations/fr must not answer with fr-FR's table.  A deep
	 * copy: two threads must never dump the same jansson value at once. */
	if (!lang || !tag_equal(lang->name, locale))
		return NULL;
	return json_deep_copy(lang->table);
}

const char *translations_error_message(sensed_request *req, int code)
{
	char key[32];

	snprintf(key, sizeof(key), "error.%d", code);
	return lookup_chain(request_language(req), key);
}
