/* Unit tests of core/filter.c: filters, projections, sorts, value order. */
#include "filter.h"
#include "sensed/plugin.h"

#include <criterion/criterion.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0)
#else
#define ASSERT_NO_LEAKS()
#endif

static void check_leaks(void)
{
	ASSERT_NO_LEAKS();
}

TestSuite(filter, .fini = check_leaks);
TestSuite(projection, .fini = check_leaks);
TestSuite(sort, .fini = check_leaks);

static json_t *parse(const char *text)
{
	json_error_t error;
	json_t *value = json_loads(text, JSON_DECODE_ANY, &error);

	cr_assert_not_null(value, "bad test JSON %s: %s", text, error.text);
	return value;
}

/* 1 match, 0 no match, or the compile error. */
static int match(const char *filter_text, const char *doc_text)
{
	json_t *spec = parse(filter_text), *doc = parse(doc_text);
	struct filter *filter;
	int rc = filter_compile(spec, &filter);

	if (rc == 0)
		rc = filter_match(filter, doc);
	filter_free(filter);
	json_decref(spec);
	json_decref(doc);
	return rc;
}

static const char *user =
    "{\"_id\":\"5d7a8e2f1c9d440000a1b2c3\",\"name\":\"ann\",\"age\":30,\"score\":2.5,"
    "\"active\":true,\"groups\":[\"g1\",\"g2\"],\"prefs\":{\"lang\":\"en\",\"n\":3},"
    "\"items\":[{\"k\":\"a\",\"v\":1},{\"k\":\"b\",\"v\":2}],\"none\":null}";

Test(filter, empty_and_null_match_all)
{
	cr_assert_eq(match("{}", user), 1);
	cr_assert_eq(match("null", user), 1);
}

Test(filter, equality_and_eq)
{
	cr_assert_eq(match("{\"name\":\"ann\"}", user), 1);
	cr_assert_eq(match("{\"name\":\"bob\"}", user), 0);
	cr_assert_eq(match("{\"age\":30.0}", user), 1); /* numbers compare by value */
	cr_assert_eq(match("{\"age\":{\"$eq\":30}}", user), 1);
	cr_assert_eq(match("{\"active\":true}", user), 1);
	cr_assert_eq(match("{\"name\":\"ann\",\"age\":31}", user), 0);
	cr_assert_eq(match("{\"prefs\":{\"lang\":\"en\",\"n\":3}}", user), 1);
}

Test(filter, null_matches_missing_and_null)
{
	cr_assert_eq(match("{\"none\":null}", user), 1);
	cr_assert_eq(match("{\"missing\":null}", user), 1);
	cr_assert_eq(match("{\"name\":null}", user), 0);
}

Test(filter, ne)
{
	cr_assert_eq(match("{\"name\":{\"$ne\":\"bob\"}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$ne\":\"ann\"}}", user), 0);
	cr_assert_eq(match("{\"groups\":{\"$ne\":\"g1\"}}", user), 0);
}

Test(filter, ranges_with_type_bracketing)
{
	cr_assert_eq(match("{\"age\":{\"$gt\":29}}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$gt\":30}}", user), 0);
	cr_assert_eq(match("{\"age\":{\"$gte\":30}}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$lt\":30}}", user), 0);
	cr_assert_eq(match("{\"age\":{\"$lte\":30}}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$gt\":10,\"$lt\":40}}", user), 1);
	cr_assert_eq(match("{\"score\":{\"$gt\":2}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$gt\":\"am\"}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$gt\":5}}", user), 0); /* string vs number */
	cr_assert_eq(match("{\"age\":{\"$lt\":\"z\"}}", user), 0);
}

Test(filter, in_and_nin)
{
	cr_assert_eq(match("{\"name\":{\"$in\":[\"bob\",\"ann\"]}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$in\":[\"bob\"]}}", user), 0);
	cr_assert_eq(match("{\"groups\":{\"$in\":[\"g2\",\"x\"]}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$nin\":[\"bob\"]}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$nin\":[\"ann\"]}}", user), 0);
	cr_assert_eq(match("{\"missing\":{\"$in\":[null]}}", user), 1);
}

Test(filter, exists)
{
	cr_assert_eq(match("{\"name\":{\"$exists\":true}}", user), 1);
	cr_assert_eq(match("{\"missing\":{\"$exists\":true}}", user), 0);
	cr_assert_eq(match("{\"missing\":{\"$exists\":false}}", user), 1);
	cr_assert_eq(match("{\"none\":{\"$exists\":true}}", user), 1);
	cr_assert_eq(match("{\"items.k\":{\"$exists\":1}}", user), 1);
}

Test(filter, regex_and_options)
{
	cr_assert_eq(match("{\"name\":{\"$regex\":\"^a.n$\"}}", user), 1);
	cr_assert_eq(match("{\"name\":{\"$regex\":\"^AN\"}}", user), 0);
	cr_assert_eq(match("{\"name\":{\"$regex\":\"^AN\",\"$options\":\"i\"}}", user), 1);
	cr_assert_eq(match("{\"groups\":{\"$regex\":\"2$\"}}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$regex\":\"3\"}}", user), 0); /* strings only */
	cr_assert_eq(match("{\"name\":{\"$regex\":\"a(\"}}", user), SENSED_EFILTER);
	cr_assert_eq(match("{\"name\":{\"$regex\":\"a\",\"$options\":\"q\"}}", user),
	             SENSED_EFILTER);
	cr_assert_eq(match("{\"name\":{\"$options\":\"i\"}}", user), SENSED_EFILTER);
	cr_assert_eq(match("{\"name\":{\"$regex\":5}}", user), SENSED_EFILTER);
}

Test(filter, and_or_nor_not)
{
	cr_assert_eq(match("{\"$and\":[{\"name\":\"ann\"},{\"age\":30}]}", user), 1);
	cr_assert_eq(match("{\"$and\":[{\"name\":\"ann\"},{\"age\":31}]}", user), 0);
	cr_assert_eq(match("{\"$or\":[{\"name\":\"bob\"},{\"age\":30}]}", user), 1);
	cr_assert_eq(match("{\"$or\":[{\"name\":\"bob\"},{\"age\":31}]}", user), 0);
	cr_assert_eq(match("{\"$nor\":[{\"name\":\"bob\"}]}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$not\":{\"$gt\":40}}}", user), 1);
	cr_assert_eq(match("{\"age\":{\"$not\":{\"$gt\":20}}}", user), 0);
	cr_assert_eq(match("{\"missing\":{\"$not\":{\"$gt\":20}}}", user), 1);
}

Test(filter, arrays_and_dotted_paths)
{
	cr_assert_eq(match("{\"groups\":\"g1\"}", user), 1);
	cr_assert_eq(match("{\"groups\":\"g3\"}", user), 0);
	cr_assert_eq(match("{\"groups\":[\"g1\",\"g2\"]}", user), 1); /* whole array */
	cr_assert_eq(match("{\"prefs.lang\":\"en\"}", user), 1);
	cr_assert_eq(match("{\"prefs.n\":{\"$gte\":3}}", user), 1);
	cr_assert_eq(match("{\"items.k\":\"b\"}", user), 1);
	cr_assert_eq(match("{\"items.v\":{\"$gt\":1}}", user), 1);
	cr_assert_eq(match("{\"items.v\":{\"$gt\":2}}", user), 0);
	cr_assert_eq(match("{\"items.1.k\":\"b\"}", user), 1);
	cr_assert_eq(match("{\"groups.0\":\"g1\"}", user), 1);
	cr_assert_eq(match("{\"prefs.lang.x\":\"en\"}", user), 0);
}

Test(filter, malformed_filters_are_efilter)
{
	const char *bad[] = {
	    "[]",
	    "5",
	    "\"x\"",
	    "{\"$foo\":1}",
	    "{\"a\":{\"$foo\":1}}",
	    "{\"$and\":{}}",
	    "{\"$and\":[]}",
	    "{\"$or\":[1]}",
	    "{\"a\":{\"$in\":5}}",
	    "{\"a\":{\"$nin\":{}}}",
	    "{\"a\":{\"$exists\":\"yes\"}}",
	    "{\"a\":{\"$not\":5}}",
	    "{\"\":1}",
	    "{\"a..b\":1}",
	    "{\"a.\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(match(bad[i], user), SENSED_EFILTER, "%s", bad[i]);
}

Test(filter, recursion_depth_is_bounded)
{
	char text[4096] = "";
	size_t depth = 100;

	for (size_t i = 0; i < depth; i++)
		strcat(text, "{\"$or\":[");
	strcat(text, "{\"a\":1}");
	for (size_t i = 0; i < depth; i++)
		strcat(text, "]}");
	cr_assert_eq(match(text, user), SENSED_EFILTER);

	strcpy(text, "");
	for (size_t i = 0; i < 10; i++)
		strcat(text, "{\"$or\":[");
	strcat(text, "{\"name\":\"ann\"}");
	for (size_t i = 0; i < 10; i++)
		strcat(text, "]}");
	cr_assert_eq(match(text, user), 1);
}

Test(filter, type_order)
{
	json_t *v = parse("[null,1,\"a\",{},[],true]");

	for (size_t i = 1; i < json_array_size(v); i++)
		cr_assert(json_value_compare(json_array_get(v, i - 1), json_array_get(v, i)) < 0);
	cr_assert(json_value_compare(NULL, json_array_get(v, 0)) == 0);
	json_decref(v);
}

static char *project(const char *fields, const char *doc_text, int *rc)
{
	struct projection *p;
	json_t *doc = parse(doc_text);
	char *out = NULL;

	*rc = projection_parse(fields, &p);
	if (*rc == 0)
		*rc = projection_apply(p, doc, NULL);
	if (*rc == 0)
		out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	projection_free(p);
	json_decref(doc);
	return out;
}

#define DOC "{\"_id\":\"i\",\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":[{\"f\":1,\"g\":2},5]}"

Test(projection, whitelist_keeps_id_and_dotted_paths)
{
	int rc;
	char *out = project("a,b.c,e.f", DOC, &rc);

	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out, "{\"_id\":\"i\",\"a\":1,\"b\":{\"c\":2},\"e\":[{\"f\":1}]}");
	free(out);
	out = project("a,-_id", DOC, &rc);
	cr_assert_str_eq(out, "{\"a\":1}");
	free(out);
	out = project("nothing", DOC, &rc);
	cr_assert_str_eq(out, "{\"_id\":\"i\"}");
	free(out);
}

Test(projection, blacklist_drops)
{
	int rc;
	char *out = project("-a,-b.d,-e.g", DOC, &rc);

	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out, "{\"_id\":\"i\",\"b\":{\"c\":2},\"e\":[{\"f\":1},5]}");
	free(out);
	out = project("-_id", DOC, &rc);
	cr_assert_str_eq(out, "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":[{\"f\":1,\"g\":2},5]}");
	free(out);
}

Test(projection, malformed_is_efilter)
{
	const char *bad[] = {"a,-b", "-", "a..b", ".a", "a.", "$x"};
	int rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = project(bad[i], DOC, &rc);

		cr_assert_eq(rc, SENSED_EFILTER, "%s", bad[i]);
		free(out);
	}
	free(project("", DOC, &rc));
	cr_assert_eq(rc, 0);
}

static char *sorted_names(const char *sort, const char *docs_text, int *rc)
{
	json_t *docs = parse(docs_text), *names = json_array();
	json_t *items[16];
	size_t n = json_array_size(docs);
	struct sort_spec *spec;
	char *out;

	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(docs, i);
	*rc = sort_parse(sort, &spec);
	if (*rc == 0)
		*rc = sort_docs(spec, items, n);
	for (size_t i = 0; i < n; i++)
		json_array_append(names, json_object_get(items[i], "n"));
	out = json_dumps(names, JSON_COMPACT);
	sort_free(spec);
	json_decref(docs);
	json_decref(names);
	return out;
}

Test(sort, multi_key_and_type_order)
{
	const char *docs = "[{\"n\":\"a\",\"x\":2,\"y\":1},{\"n\":\"b\",\"x\":1,\"y\":5},"
	                   "{\"n\":\"c\",\"x\":2,\"y\":3},{\"n\":\"d\",\"x\":\"s\"},{\"n\":\"e\"}]";
	int rc;
	char *out = sorted_names("x,-y", docs, &rc);

	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out, "[\"e\",\"b\",\"c\",\"a\",\"d\"]");
	free(out);
	out = sorted_names("-x", docs, &rc);
	cr_assert_str_eq(out, "[\"d\",\"a\",\"c\",\"b\",\"e\"]"); /* stable between equals */
	free(out);
}

Test(sort, malformed_is_efilter)
{
	struct sort_spec *spec;

	cr_assert_eq(sort_parse("-", &spec), SENSED_EFILTER);
	cr_assert_eq(sort_parse("a..b", &spec), SENSED_EFILTER);
	cr_assert_eq(sort_parse("a,b,c,d,e,f,g,h,i", &spec), SENSED_EFILTER);
	cr_assert_eq(sort_parse("", &spec), 0);
	cr_assert_null(spec);
}
