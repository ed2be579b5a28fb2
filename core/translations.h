/* Translations: one JSON file per language (<dir>/<lang>.json, an object key -> text) read
 * once at start-up, and the default language (settings/globalization).
 *
 * Threads: translations_load() and translations_shutdown() run on the main thread while no
 * request is served; in between the tables are read-only and every function may be called
 * from any thread (the default language is an atomic pointer). */
#ifndef SENSED_CORE_TRANSLATIONS_H
#define SENSED_CORE_TRANSLATIONS_H

#include "sensed/plugin.h"

#define TRANSLATIONS_FALLBACK "en-US"

/* Load every <lang>.json of `dir` (replacing what was loaded).  A file that is not an
 * object of strings, or whose name is not a language tag, is skipped with an error in
 * the log.  Returns the number of languages loaded, or a negative SENSED_E* when the
 * directory cannot be read. */
int translations_load(const char *dir);
void translations_shutdown(void);

/* SDK members (contracts in include/sensed/plugin.h). */
const char *translate(sensed_request *req, const char *key);
const char *translate_locale(const char *locale, const char *key);
int locale_set_default(const char *locale);
const char *locale_default(void);
json_t *translations_list(void);
json_t *translation_get(const char *locale);

/* The text of "error.<code>" for this request's language (as translate()), or NULL when no
 * language has it.  Borrowed; valid until translations_shutdown(). */
const char *translations_error_message(sensed_request *req, int code);

#endif
