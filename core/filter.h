/* Query helpers of the store (private to core/store.c and its tests): MongoDB-style
 * filters, dotted-path lookup, value ordering, projections and sort specifications.
 * Everything here is pure computation on jansson values: any thread, no store access. */
#ifndef SENSED_CORE_FILTER_H
#define SENSED_CORE_FILTER_H

#include <jansson.h>
#include <stddef.h>

/* Deepest nesting of $and/$or/$nor/$not a filter may use. */
#define FILTER_MAX_DEPTH 64
/* Most keys a sort specification may name. */
#define SORT_MAX_KEYS 8

/* Values found at a dotted path (borrowed from the document).  Arrays are traversed as
 * MongoDB does: an array at the end of the path yields itself and each element; an
 * array in the middle applies the rest of the path to each object element (or to the
 * element a numeric segment names). */
struct value_list {
	const json_t **items;
	size_t count;
	size_t capacity;
	const json_t *inline_items[8];
};

void value_list_init(struct value_list *list);
void value_list_free(struct value_list *list);
/* Returns 0 or SENSED_ENOMEM. */
int path_values(const json_t *doc, const char *path, struct value_list *out);

/* MongoDB type order: null (and missing) < numbers < strings < objects < arrays <
 * booleans.  Numbers compare by value whatever their JSON type. */
int json_type_rank(const json_t *value);
/* <0, 0, >0; NULL counts as null. */
int json_value_compare(const json_t *a, const json_t *b);

/* A compiled filter.  It borrows `spec`, which must outlive it. */
struct filter;
/* `spec` NULL or {} matches every document (*out is then NULL, which filter_match
 * accepts).  SENSED_EFILTER on a malformed filter, SENSED_ENOMEM. */
int filter_compile(const json_t *spec, struct filter **out);
/* 1 when `doc` matches. */
int filter_match(const struct filter *filter, const json_t *doc);
void filter_free(struct filter *filter);

/* A projection from a `fields` list: "a,b.c" keeps, "-a,-b" drops; _id is kept unless
 * "-_id" is given.  Mixing keeps and drops (other than -_id) is SENSED_EFILTER. */
struct projection;
/* `fields` NULL or empty gives *out NULL (no projection). */
int projection_parse(const char *fields, struct projection **out);
/* Apply in place.  `also_keep` (borrowed, may be NULL) is an object whose keys a keep
 * projection keeps too (the names of expanded references). */
int projection_apply(const struct projection *projection, json_t *doc, const json_t *also_keep);
void projection_free(struct projection *projection);

/* A sort specification "name,-created" (at most SORT_MAX_KEYS keys). */
struct sort_spec;
/* `sort` NULL or empty gives *out NULL (storage order). */
int sort_parse(const char *sort, struct sort_spec **out);
/* Stable sort of docs[0..n) (stability keeps storage order between equal keys).
 * Returns 0 or SENSED_ENOMEM. */
int sort_docs(const struct sort_spec *spec, json_t **docs, size_t n);
void sort_free(struct sort_spec *spec);

#endif
