/* MongoDB-style filters, projections and sorts over jansson values (see filter.h). */
#include "filter.h"

#include "sensed/plugin.h"

#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Value lists and dotted paths ----------------------------------------------------- */

void value_list_init(struct value_list *list)
{
	list->items = list->inline_items;
	list->count = 0;
	list->capacity = sizeof(list->inline_items) / sizeof(list->inline_items[0]);
}

void value_list_free(struct value_list *list)
{
	if (list->items != list->inline_items)
		free(list->items);
	value_list_init(list);
}

static int value_list_push(struct value_list *list, const json_t *value)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity * 2;
		const json_t **items = malloc(capacity * sizeof(*items));

		if (items == NULL)
			return SENSED_ENOMEM;
		memcpy(items, list->items, list->count * sizeof(*items));
		if (list->items != list->inline_items)
			free(list->items);
		list->items = items;
		list->capacity = capacity;
	}
	list->items[list->count++] = value;
	return 0;
}

static int segment_index(const char *segment, size_t len, size_t *index)
{
	size_t value = 0;

	if (len == 0 || len > 9)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (segment[i] < '0' || segment[i] > '9')
			return 0;
		value = value * 10 + (size_t)(segment[i] - '0');
	}
	*index = value;
	return 1;
}

/* Recursion depth is bounded by the number of segments in `path` (each level either
 * consumes a segment or steps from an array into an object element, which then
 * consumes one). */
static int gather(const json_t *node, const char *path, struct value_list *out)
{
	const char *dot;
	size_t len, index;
	int rc;

	if (*path == '\0') {
		rc = value_list_push(out, node);
		if (rc == 0 && json_is_array(node)) {
			for (size_t i = 0; i < json_array_size(node) && rc == 0; i++)
				rc = value_list_push(out, json_array_get(node, i));
		}
		return rc;
	}
	dot = strchr(path, '.');
	len = dot ? (size_t)(dot - path) : strlen(path);
	if (json_is_object(node)) {
		const json_t *child = json_object_getn(node, path, len);

		return child ? gather(child, dot ? dot + 1 : path + len, out) : 0;
	}
	if (!json_is_array(node))
		return 0;
	if (segment_index(path, len, &index)) {
		const json_t *child = json_array_get(node, index);

		if (child != NULL) {
			rc = gather(child, dot ? dot + 1 : path + len, out);
			if (rc != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < json_array_size(node); i++) {
		const json_t *element = json_array_get(node, i);

		if (json_is_object(element)) {
			rc = gather(element, path, out);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int path_values(const json_t *doc, const char *path, struct value_list *out)
{
	return gather(doc, path, out);
}

/* ---- Ordering --------------------------------------------------------------------------- */

int json_type_rank(const json_t *value)
{
	switch (value ? json_typeof(value) : JSON_NULL) {
	case JSON_NULL:
		return 1;
	case JSON_INTEGER:
	case JSON_REAL:
		return 2;
	case JSON_STRING:
		return 3;
	case JSON_OBJECT:
		return 4;
	case JSON_ARRAY:
		return 5;
	case JSON_TRUE:
	case JSON_FALSE:
		return 6;
	}
	return 7;
}

static int compare_numbers(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);

		return (x > y) - (x < y);
	}
	double x = json_number_value(a), y = json_number_value(b);

	return (x > y) - (x < y);
}

static int compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

/* Recursion follows the nesting of the two values, which jansson bounds at parse time
 * (and stored documents were parsed). */
int json_value_compare(const json_t *a, const json_t *b)
{
	int ra = json_type_rank(a), rb = json_type_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 1:
		return 0;
	case 2:
		return compare_numbers(a, b);
	case 3:
		return compare_bytes(json_string_value(a), json_string_length(a),
		                     json_string_value(b), json_string_length(b));
	case 4: {
		void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);

		while (ia != NULL && ib != NULL) {
			int c =
			    compare_bytes(json_object_iter_key(ia), json_object_iter_key_len(ia),
			                  json_object_iter_key(ib), json_object_iter_key_len(ib));

			if (c == 0)
				c = json_value_compare(json_object_iter_value(ia),
				                       json_object_iter_value(ib));
			if (c != 0)
				return c;
			ia = json_object_iter_next((json_t *)a, ia);
			ib = json_object_iter_next((json_t *)b, ib);
		}
		return (ia != NULL) - (ib != NULL);
	}
	case 5: {
		size_t na = json_array_size(a), nb = json_array_size(b);

		for (size_t i = 0; i < na && i < nb; i++) {
			int c = json_value_compare(json_array_get(a, i), json_array_get(b, i));

			if (c != 0)
				return c;
		}
		return (na > nb) - (na < nb);
	}
	case 6:
		return json_is_true(a) - json_is_true(b);
	}
	return 0;
}

/* ---- Filters ---------------------------------------------------------------------------- */

enum condition_op {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GTE,
	OP_LT,
	OP_LTE,
	OP_IN,
	OP_NIN,
	OP_EXISTS,
	OP_REGEX,
	OP_NOT,
};

struct condition {
	enum condition_op op;
	const json_t *operand; /* borrowed from the filter spec */
	int regex_compiled;
	regex_t regex;
	struct condition *inner; /* OP_NOT: all of these must hold for the negation to fail */
	size_t inner_count;
};

enum node_kind { NODE_AND, NODE_OR, NODE_NOR, NODE_FIELD };

struct filter {
	enum node_kind kind;
	char *path;                   /* NODE_FIELD */
	struct condition *conditions; /* NODE_FIELD; all must hold */
	size_t condition_count;
	struct filter *children; /* NODE_AND / NODE_OR / NODE_NOR */
	size_t child_count;
};

static void conditions_free(struct condition *conditions, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (conditions[i].regex_compiled)
			regfree(&conditions[i].regex);
		conditions_free(conditions[i].inner, conditions[i].inner_count);
	}
	free(conditions);
}

static void filter_clear(struct filter *node)
{
	free(node->path);
	conditions_free(node->conditions, node->condition_count);
	for (size_t i = 0; i < node->child_count; i++)
		filter_clear(&node->children[i]);
	free(node->children);
	memset(node, 0, sizeof(*node));
}

void filter_free(struct filter *filter)
{
	if (filter == NULL)
		return;
	filter_clear(filter);
	free(filter);
}

static int is_operator_object(const json_t *value)
{
	const char *key;
	const json_t *member;

	if (!json_is_object(value) || json_object_size(value) == 0)
		return 0;
	json_object_foreach((json_t *)value, key, member)
	{
		(void)member;
		return key[0] == '$';
	}
	return 0;
}

static int compile_regex(struct condition *condition, const json_t *pattern, const json_t *options)
{
	int flags = REG_EXTENDED | REG_NOSUB;

	if (!json_is_string(pattern) ||
	    strlen(json_string_value(pattern)) != json_string_length(pattern))
		return SENSED_EFILTER;
	if (options != NULL) {
		if (!json_is_string(options))
			return SENSED_EFILTER;
		for (const char *o = json_string_value(options); *o; o++) {
			if (*o == 'i')
				flags |= REG_ICASE;
			else if (*o == 'm')
				flags |= REG_NEWLINE;
			else
				return SENSED_EFILTER;
		}
	}
	if (regcomp(&condition->regex, json_string_value(pattern), flags) != 0)
		return SENSED_EFILTER;
	condition->regex_compiled = 1;
	return 0;
}

static int compile_conditions(const json_t *spec, int depth, struct condition **out, size_t *count);

static int compile_condition(const char *name, const json_t *operand, const json_t *options,
                             int depth, struct condition *c)
{
	static const struct {
		const char *name;
		enum condition_op op;
	} ops[] = {
	    {"$eq", OP_EQ},         {"$ne", OP_NE},       {"$gt", OP_GT},   {"$gte", OP_GTE},
	    {"$lt", OP_LT},         {"$lte", OP_LTE},     {"$in", OP_IN},   {"$nin", OP_NIN},
	    {"$exists", OP_EXISTS}, {"$regex", OP_REGEX}, {"$not", OP_NOT},
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(name, ops[i].name) == 0)
			break;
	}
	if (i == sizeof(ops) / sizeof(ops[0]))
		return SENSED_EFILTER;
	c->op = ops[i].op;
	c->operand = operand;
	switch (c->op) {
	case OP_IN:
	case OP_NIN:
		return json_is_array(operand) ? 0 : SENSED_EFILTER;
	case OP_EXISTS:
		return json_is_boolean(operand) || json_is_integer(operand) ? 0 : SENSED_EFILTER;
	case OP_REGEX:
		return compile_regex(c, operand, options);
	case OP_NOT:
		if (!is_operator_object(operand))
			return SENSED_EFILTER;
		return compile_conditions(operand, depth + 1, &c->inner, &c->inner_count);
	default:
		return 0;
	}
}

/* `spec` is an operator object such as {"$gt": 1, "$lt": 5}. */
static int compile_conditions(const json_t *spec, int depth, struct condition **out, size_t *count)
{
	const char *key;
	const json_t *operand;
	const json_t *options = json_object_get(spec, "$options");
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*count = 0;
	if (depth > FILTER_MAX_DEPTH)
		return SENSED_EFILTER;
	if (options != NULL && json_object_get(spec, "$regex") == NULL)
		return SENSED_EFILTER;
	*out = calloc(json_object_size(spec), sizeof(**out));
	if (*out == NULL)
		return SENSED_ENOMEM;
	json_object_foreach((json_t *)spec, key, operand)
	{
		if (strcmp(key, "$options") == 0)
			continue;
		rc = compile_condition(key, operand, options, depth, &(*out)[n]);
		n++;
		if (rc != 0)
			break;
	}
	*count = n;
	if (rc != 0) {
		conditions_free(*out, n);
		*out = NULL;
		*count = 0;
	}
	return rc;
}

static int compile_node(const json_t *spec, int depth, struct filter *node);

static int compile_list(enum node_kind kind, const json_t *list, int depth, struct filter *node)
{
	node->kind = kind;
	if (!json_is_array(list) || json_array_size(list) == 0)
		return SENSED_EFILTER;
	node->children = calloc(json_array_size(list), sizeof(*node->children));
	if (node->children == NULL)
		return SENSED_ENOMEM;
	for (size_t i = 0; i < json_array_size(list); i++) {
		int rc = compile_node(json_array_get(list, i), depth + 1, &node->children[i]);

		node->child_count = i + 1;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int compile_field(const char *path, const json_t *value, int depth, struct filter *node)
{
	node->kind = NODE_FIELD;
	if (path[0] == '\0' || path[0] == '.' || path[strlen(path) - 1] == '.' ||
	    strstr(path, "..") != NULL)
		return SENSED_EFILTER;
	node->path = strdup(path);
	if (node->path == NULL)
		return SENSED_ENOMEM;
	if (is_operator_object(value))
		return compile_conditions(value, depth + 1, &node->conditions,
		                          &node->condition_count);
	node->conditions = calloc(1, sizeof(*node->conditions));
	if (node->conditions == NULL)
		return SENSED_ENOMEM;
	node->condition_count = 1;
	node->conditions[0].op = OP_EQ;
	node->conditions[0].operand = value;
	return 0;
}

/* A filter object is the AND of its members. */
static int compile_node(const json_t *spec, int depth, struct filter *node)
{
	const char *key;
	const json_t *value;
	size_t i = 0;

	node->kind = NODE_AND;
	if (depth > FILTER_MAX_DEPTH || !json_is_object(spec))
		return SENSED_EFILTER;
	if (json_object_size(spec) == 0)
		return 0;
	node->children = calloc(json_object_size(spec), sizeof(*node->children));
	if (node->children == NULL)
		return SENSED_ENOMEM;
	json_object_foreach((json_t *)spec, key, value)
	{
		struct filter *child = &node->children[i++];
		int rc;

		node->child_count = i;
		if (strcmp(key, "$and") == 0)
			rc = compile_list(NODE_AND, value, depth + 1, child);
		else if (strcmp(key, "$or") == 0)
			rc = compile_list(NODE_OR, value, depth + 1, child);
		else if (strcmp(key, "$nor") == 0)
			rc = compile_list(NODE_NOR, value, depth + 1, child);
		else if (key[0] == '$')
			rc = SENSED_EFILTER;
		else
			rc = compile_field(key, value, depth, child);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int filter_compile(const json_t *spec, struct filter **out)
{
	struct filter *filter;
	int rc;

	*out = NULL;
	if (spec == NULL || json_is_null(spec))
		return 0;
	if (!json_is_object(spec))
		return SENSED_EFILTER;
	if (json_object_size(spec) == 0)
		return 0;
	filter = calloc(1, sizeof(*filter));
	if (filter == NULL)
		return SENSED_ENOMEM;
	rc = compile_node(spec, 0, filter);
	if (rc != 0) {
		filter_free(filter);
		return rc;
	}
	*out = filter;
	return 0;
}

static int values_equal_any(const struct value_list *values, const json_t *operand)
{
	if (json_is_null(operand)) {
		if (values->count == 0)
			return 1;
	}
	for (size_t i = 0; i < values->count; i++) {
		if (json_value_compare(values->items[i], operand) == 0)
			return 1;
	}
	return 0;
}

/* Comparisons only see values of the operand's type (MongoDB type bracketing); an
 * array itself is compared only with an array operand. */
static int values_compare_any(const struct value_list *values, const json_t *operand,
                              enum condition_op op)
{
	int rank = json_type_rank(operand);

	for (size_t i = 0; i < values->count; i++) {
		const json_t *v = values->items[i];
		int c;

		if (json_type_rank(v) != rank)
			continue;
		c = json_value_compare(v, operand);
		if ((op == OP_GT && c > 0) || (op == OP_GTE && c >= 0) || (op == OP_LT && c < 0) ||
		    (op == OP_LTE && c <= 0))
			return 1;
	}
	return 0;
}

static int condition_holds(const struct condition *c, const struct value_list *values)
{
	switch (c->op) {
	case OP_EQ:
		return values_equal_any(values, c->operand);
	case OP_NE:
		return !values_equal_any(values, c->operand);
	case OP_GT:
	case OP_GTE:
	case OP_LT:
	case OP_LTE:
		return values_compare_any(values, c->operand, c->op);
	case OP_IN:
	case OP_NIN: {
		int found = 0;

		for (size_t i = 0; i < json_array_size(c->operand) && !found; i++)
			found = values_equal_any(values, json_array_get(c->operand, i));
		return c->op == OP_IN ? found : !found;
	}
	case OP_EXISTS: {
		int want = json_is_integer(c->operand) ? json_integer_value(c->operand) != 0
		                                       : json_is_true(c->operand);

		return (values->count > 0) == want;
	}
	case OP_REGEX:
		for (size_t i = 0; i < values->count; i++) {
			const json_t *v = values->items[i];

			if (json_is_string(v) &&
			    regexec(&c->regex, json_string_value(v), 0, NULL, 0) == 0)
				return 1;
		}
		return 0;
	case OP_NOT:
		for (size_t i = 0; i < c->inner_count; i++) {
			if (!condition_holds(&c->inner[i], values))
				return 1;
		}
		return 0;
	}
	return 0;
}

static int node_matches(const struct filter *node, const json_t *doc)
{
	switch (node->kind) {
	case NODE_AND:
		for (size_t i = 0; i < node->child_count; i++) {
			if (!node_matches(&node->children[i], doc))
				return 0;
		}
		return 1;
	case NODE_OR:
		for (size_t i = 0; i < node->child_count; i++) {
			if (node_matches(&node->children[i], doc))
				return 1;
		}
		return 0;
	case NODE_NOR:
		for (size_t i = 0; i < node->child_count; i++) {
			if (node_matches(&node->children[i], doc))
				return 0;
		}
		return 1;
	case NODE_FIELD: {
		struct value_list values;
		int matches = 1;

		value_list_init(&values);
		/* Out of memory while gathering counts as no match: never a false positive. */
		if (path_values(doc, node->path, &values) != 0) {
			value_list_free(&values);
			return 0;
		}
		for (size_t i = 0; i < node->condition_count && matches; i++)
			matches = condition_holds(&node->conditions[i], &values);
		value_list_free(&values);
		return matches;
	}
	}
	return 0;
}

int filter_match(const struct filter *filter, const json_t *doc)
{
	return filter == NULL || node_matches(filter, doc);
}

/* ---- Field lists (projection, sort) ------------------------------------------------------ */

static int path_valid(const char *path, size_t len)
{
	if (len == 0 || path[0] == '.' || path[len - 1] == '.' || path[0] == '$')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '\0' || (path[i] == '.' && path[i + 1] == '.'))
			return 0;
	}
	return 1;
}

/* Add dotted `path` to `tree` (nested objects; a leaf is json true).  A shorter path
 * covers a longer one. */
static int tree_add(json_t *tree, const char *path, size_t len)
{
	const char *dot = memchr(path, '.', len);
	size_t segment = dot ? (size_t)(dot - path) : len;
	json_t *child = json_object_getn(tree, path, segment);

	if (dot == NULL)
		return json_object_setn_new(tree, path, segment, json_true()) == 0 ? 0
		                                                                   : SENSED_ENOMEM;
	if (json_is_true(child))
		return 0;
	if (child == NULL) {
		child = json_object();
		if (child == NULL || json_object_setn_new(tree, path, segment, child) != 0)
			return SENSED_ENOMEM;
	}
	return tree_add(child, dot + 1, len - segment - 1);
}

struct projection {
	int keep;    /* 1: whitelist, 0: blacklist */
	int drop_id; /* "-_id" given */
	json_t *tree;
};

void projection_free(struct projection *projection)
{
	if (projection == NULL)
		return;
	json_decref(projection->tree);
	free(projection);
}

int projection_parse(const char *fields, struct projection **out)
{
	struct projection *p;
	int have_keep = 0, have_drop = 0;

	*out = NULL;
	if (fields == NULL || fields[0] == '\0')
		return 0;
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->tree = json_object()) == NULL) {
		free(p);
		return SENSED_ENOMEM;
	}
	for (const char *item = fields; *item;) {
		size_t len = strcspn(item, ",");
		int drop = item[0] == '-';
		const char *path = item + drop;
		size_t path_len = len - (size_t)drop;
		int rc = 0;

		if (len == 0) {
			item++;
			continue;
		}
		if (!path_valid(path, path_len))
			rc = SENSED_EFILTER;
		else if (drop && path_len == 3 && memcmp(path, "_id", 3) == 0)
			p->drop_id = 1;
		else {
			have_keep |= !drop;
			have_drop |= drop;
			rc = tree_add(p->tree, path, path_len);
		}
		if (rc != 0 || (have_keep && have_drop)) {
			projection_free(p);
			return rc != 0 ? rc : SENSED_EFILTER;
		}
		item += len;
		if (*item == ',')
			item++;
	}
	p->keep = have_keep || (!have_drop && !p->drop_id);
	*out = p;
	return 0;
}

/* A new object with the members of `src` that `tree` names (children borrowed by
 * reference).  Depth is bounded by the tree, i.e. by the length of `fields`. */
static json_t *keep_members(const json_t *src, const json_t *tree)
{
	json_t *out = json_object();
	const char *key;
	json_t *sub;

	if (out == NULL)
		return NULL;
	json_object_foreach((json_t *)tree, key, sub)
	{
		json_t *value = json_object_get(src, key);
		json_t *kept = NULL;

		if (value == NULL)
			continue;
		if (json_is_true(sub)) {
			kept = json_incref(value);
		} else if (json_is_object(value)) {
			kept = keep_members(value, sub);
		} else if (json_is_array(value)) {
			kept = json_array();
			for (size_t i = 0; kept != NULL && i < json_array_size(value); i++) {
				json_t *element = json_array_get(value, i);

				if (json_is_object(element) &&
				    json_array_append_new(kept, keep_members(element, sub)) != 0) {
					json_decref(kept);
					kept = NULL;
				}
			}
		} else {
			continue;
		}
		if (kept == NULL || json_object_set_new(out, key, kept) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static void drop_members(json_t *obj, const json_t *tree)
{
	const char *key;
	json_t *sub;

	json_object_foreach((json_t *)tree, key, sub)
	{
		json_t *value = json_object_get(obj, key);

		if (value == NULL)
			continue;
		if (json_is_true(sub)) {
			json_object_del(obj, key);
		} else if (json_is_object(value)) {
			drop_members(value, sub);
		} else if (json_is_array(value)) {
			for (size_t i = 0; i < json_array_size(value); i++) {
				if (json_is_object(json_array_get(value, i)))
					drop_members(json_array_get(value, i), sub);
			}
		}
	}
}

int projection_apply(const struct projection *p, json_t *doc, const json_t *also_keep)
{
	if (p == NULL)
		return 0;
	if (!json_is_object(doc))
		return SENSED_EINVAL;
	if (p->keep) {
		json_t *kept = keep_members(doc, p->tree);
		const char *key;
		json_t *unused;

		if (kept == NULL)
			return SENSED_ENOMEM;
		if (!p->drop_id && json_object_get(doc, "_id") != NULL)
			json_object_set(kept, "_id", json_object_get(doc, "_id"));
		json_object_foreach((json_t *)also_keep, key, unused)
		{
			json_t *value = json_object_get(doc, key);

			if (value != NULL)
				json_object_set(kept, key, value);
		}
		json_object_clear(doc);
		json_object_update(doc, kept);
		json_decref(kept);
		return 0;
	}
	drop_members(doc, p->tree);
	if (p->drop_id)
		json_object_del(doc, "_id");
	return 0;
}

/* ---- Sorting ------------------------------------------------------------------------- */

struct sort_spec {
	size_t key_count;
	char *paths[SORT_MAX_KEYS];
	int descending[SORT_MAX_KEYS];
};

void sort_free(struct sort_spec *spec)
{
	if (spec == NULL)
		return;
	for (size_t i = 0; i < spec->key_count; i++)
		free(spec->paths[i]);
	free(spec);
}

int sort_parse(const char *sort, struct sort_spec **out)
{
	struct sort_spec *spec;

	*out = NULL;
	if (sort == NULL || sort[0] == '\0')
		return 0;
	spec = calloc(1, sizeof(*spec));
	if (spec == NULL)
		return SENSED_ENOMEM;
	for (const char *item = sort; *item;) {
		size_t len = strcspn(item, ",");
		int descending = item[0] == '-' || item[0] == '+';

		if (len > 0) {
			const char *path = item + descending;
			size_t path_len = len - (size_t)descending;

			descending = item[0] == '-';
			if (!path_valid(path, path_len) || spec->key_count == SORT_MAX_KEYS) {
				sort_free(spec);
				return SENSED_EFILTER;
			}
			spec->paths[spec->key_count] = strndup(path, path_len);
			if (spec->paths[spec->key_count] == NULL) {
				sort_free(spec);
				return SENSED_ENOMEM;
			}
			spec->descending[spec->key_count++] = descending;
		}
		item += len;
		if (*item == ',')
			item++;
	}
	if (spec->key_count == 0) {
		sort_free(spec);
		return 0;
	}
	*out = spec;
	return 0;
}

struct sort_row {
	const json_t *keys[SORT_MAX_KEYS]; /* borrowed from doc; NULL = missing */
	json_t *doc;
	size_t position;
};

/* The key of a document for one sort path: among the values found (arrays themselves
 * excluded), the least ascending or the greatest descending, as MongoDB does. */
static int sort_key(const json_t *doc, const char *path, int descending, const json_t **key)
{
	struct value_list values;
	int rc;

	*key = NULL;
	value_list_init(&values);
	rc = path_values(doc, path, &values);
	for (size_t i = 0; rc == 0 && i < values.count; i++) {
		const json_t *v = values.items[i];
		int c;

		if (json_is_array(v))
			continue;
		if (*key == NULL) {
			*key = v;
			continue;
		}
		c = json_value_compare(v, *key);
		if (descending ? c > 0 : c < 0)
			*key = v;
	}
	value_list_free(&values);
	return rc;
}

static int compare_rows(const void *a, const void *b, void *arg)
{
	const struct sort_row *x = a, *y = b;
	const struct sort_spec *spec = arg;

	for (size_t i = 0; i < spec->key_count; i++) {
		int c = json_value_compare(x->keys[i], y->keys[i]);

		if (c != 0)
			return spec->descending[i] ? -c : c;
	}
	return (x->position > y->position) - (x->position < y->position);
}

int sort_docs(const struct sort_spec *spec, json_t **docs, size_t n)
{
	struct sort_row *rows;

	if (spec == NULL || n < 2)
		return 0;
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL)
		return SENSED_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rows[i].doc = docs[i];
		rows[i].position = i;
		for (size_t k = 0; k < spec->key_count; k++) {
			if (sort_key(docs[i], spec->paths[k], spec->descending[k],
			             &rows[i].keys[k]) != 0) {
				free(rows);
				return SENSED_ENOMEM;
			}
		}
	}
	qsort_r(rows, n, sizeof(*rows), compare_rows, (void *)spec);
	for (size_t i = 0; i < n; i++)
		docs[i] = rows[i].doc;
	free(rows);
	return 0;
}
