#include "json_load.h"

#include <stdio.h>
#include <stdlib.h>

/* Allocations that failed on this thread, ever; only compared before and after a parse. */
static _Thread_local unsigned long alloc_failures;

static void *counting_malloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL)
		alloc_failures++;
	return p;
}

void json_alloc_install(void)
{
	json_set_alloc_funcs(counting_malloc, free);
}

json_t *json_load_checked(const char *buf, size_t len, size_t flags, json_error_t *error)
{
	unsigned long before = alloc_failures;
	json_t *doc = json_loadb(buf, len, flags, error);

	if (alloc_failures == before)
		return doc;
	json_decref(doc);
	if (error) {
		*error = (json_error_t){.line = -1, .column = -1, .position = 0};
		snprintf(error->source, sizeof(error->source), "<buffer>");
		snprintf(error->text, sizeof(error->text), "out of memory");
		/* Where json_error_code() reads the code (jansson.h). */
		error->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_out_of_memory;
	}
	return NULL;
}
