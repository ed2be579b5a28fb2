/* Fuzz the query-string and form-body decoder (form_decode) and the list options'
 * parsers (fields, sort) on the same bytes. */
#include "filter.h"
#include "request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *form = form_decode((const char *)data, size);
	char *text = malloc(size + 1);
	struct projection *projection = NULL;
	struct sort_spec *sort = NULL;

	if (form && !json_is_object(form))
		abort();
	json_decref(form);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (projection_parse(text, &projection) == 0)
		projection_free(projection);
	if (sort_parse(text, &sort) == 0)
		sort_free(sort);
	free(text);
	return 0;
}
