/* Fuzz the filter language (core/filter.c): the input is a JSON filter, compiled and
 * matched against documents of every JSON type, then used as a document itself; the
 * projection of the first string member is applied to a copy. */
#include "filter.h"

#include <stdint.h>
#include <stdlib.h>

static const char *const docs_text[] = {
    "{}",
    "{\"_id\":\"5e1f0c2a9d3b4a0012345678\",\"email\":\"a@b.c\",\"n\":3,\"tags\":[\"a\",\"b\"]}",
    "{\"a\":{\"b\":[{\"c\":1},{\"c\":[2,3]},null]},\"x\":true,\"y\":null,\"z\":1.5e300}",
    "{\"groups\":[\"5e1f0c2a9d3b4a0012345679\"],\"name\":\"\\u00e9t\\u00e9\",\"k\":-0.0}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *spec = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	struct filter *filter = NULL;

	if (!spec)
		return 0;
	if (filter_compile(spec, &filter) == 0) {
		for (size_t i = 0; i < sizeof(docs_text) / sizeof(docs_text[0]); i++) {
			json_t *doc = json_loads(docs_text[i], 0, NULL);

			if (!doc)
				abort();
			(void)filter_match(filter, doc);
			json_decref(doc);
		}
		/* The filter against itself: arbitrary shapes as documents. */
		(void)filter_match(filter, spec);
		filter_free(filter);
	}
	if (json_is_object(spec)) {
		const char *key;
		json_t *value;

		json_object_foreach(spec, key, value)
		{
			struct projection *projection = NULL;
			json_t *copy;

			if (!json_is_string(value))
				continue;
			if (projection_parse(json_string_value(value), &projection) == 0 &&
			    projection) {
				copy = json_deep_copy(spec);
				if (copy)
					projection_apply(projection, copy, NULL);
				json_decref(copy);
				projection_free(projection);
			}
			break;
		}
	}
	json_decref(spec);
	return 0;
}
