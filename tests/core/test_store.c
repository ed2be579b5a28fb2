/* Unit tests of core/store.c: CRUD, stamps, ids, indexes, queries, expansion, map growth
 * and backup.  Criterion forks each test: every test opens its own store in a fresh
 * directory (setup) and closes it (teardown). */
#include "store.h"
#include "store_internal.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0)
#else
#define ASSERT_NO_LEAKS()
#endif

static char dir[64];

static void remove_tree(const char *path)
{
	char command[256];

	snprintf(command, sizeof(command), "rm -rf '%s'", path);
	cr_assert_eq(system(command), 0);
}

static void open_store(size_t map_size, int max_limit)
{
	struct store_options opt = {
	    .map_size = map_size, .durable = 0, .max_limit = max_limit, .max_collections = 64};

	cr_assert_eq(store_open(dir, &opt), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/sensed-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	open_store(64 << 20, 100);
}

static void teardown(void)
{
	store_close();
	remove_tree(dir);
	ASSERT_NO_LEAKS();
}

TestSuite(store, .init = setup, .fini = teardown);

static json_t *parse(const char *text)
{
	json_error_t error;
	json_t *value = json_loads(text, 0, &error);

	cr_assert_not_null(value, "bad test JSON %s: %s", text, error.text);
	return value;
}

static sensed_collection *collection(const char *name)
{
	sensed_collection *coll;

	cr_assert_eq(store_collection_open("test", name, &coll), 0);
	return coll;
}

/* Insert the JSON text; returns the id in a static rotating buffer. */
static const char *insert(sensed_collection *coll, const char *text)
{
	static char ids[8][25];
	static int next;
	char *id = ids[next++ % 8];
	json_t *doc = parse(text);

	cr_assert_eq(store_doc_insert(NULL, coll, doc, id), 0, "insert %s", text);
	json_decref(doc);
	return id;
}

static json_t *find(sensed_collection *coll, const char *filter, const char *fields,
                    const char *sort, size_t skip, size_t limit, const char *expand, int *rc)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *out = NULL;

	q.filter = filter ? parse(filter) : NULL;
	q.fields = fields;
	q.sort = sort;
	q.skip = skip;
	q.limit = limit;
	q.expand = expand;
	*rc = store_find(NULL, coll, &q, &out);
	json_decref(q.filter);
	return out;
}

/* The `key` member of every result, as compact JSON. */
static char *column(json_t *docs, const char *key)
{
	json_t *values = json_array();
	char *out;
	size_t i;
	json_t *doc;

	json_array_foreach(docs, i, doc)
	{
		json_t *v = json_object_get(doc, key);

		json_array_append(values, v ? v : json_null());
	}
	out = json_dumps(values, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(values);
	return out;
}

static void assert_column(sensed_collection *coll, const char *filter, const char *sort,
                          const char *key, const char *expect)
{
	int rc;
	json_t *docs = find(coll, filter, NULL, sort, 0, 0, NULL, &rc);
	char *got;

	cr_assert_eq(rc, 0, "find %s", filter);
	got = column(docs, key);
	cr_assert_str_eq(got, expect, "filter %s sort %s", filter, sort);
	free(got);
	json_decref(docs);
}

static size_t count(sensed_collection *coll, const char *filter)
{
	json_t *spec = filter ? parse(filter) : NULL;
	size_t n = 0;

	cr_assert_eq(store_count(NULL, coll, spec, &n), 0);
	json_decref(spec);
	return n;
}

Test(store, replace_with_an_id_borrowed_from_the_document)
{
	sensed_collection *things = collection("things");
	json_t *doc = parse("{\"name\":\"ann\"}"), *got;
	char id[25];

	cr_assert_eq(store_doc_insert(NULL, things, doc, id), 0);
	json_object_set_new(doc, "name", json_string("bea"));
	/* The id points into doc's "_id", which the store rewrites (ASan checks the reads). */
	cr_assert_eq(
	    store_doc_replace(NULL, things, json_string_value(json_object_get(doc, "_id")), doc),
	    0);
	cr_assert_eq(count(things, NULL), 1);
	cr_assert_eq(store_doc_get(NULL, things, id, &got), 0);
	cr_assert_str_eq(json_string_value(json_object_get(got, "name")), "bea");
	json_decref(got);
	json_decref(doc);
}

Test(store, upsert_sets_fields_or_inserts_once)
{
	sensed_collection *state = collection("state");
	json_t *match = parse("{\"name\":\"alerts\"}");
	json_t *off = parse("{\"enabled\":false}"), *on = parse("{\"enabled\":true}");

	cr_assert_eq(store_upsert(state, match, off), 0);
	cr_assert_eq(count(state, "{\"name\":\"alerts\",\"enabled\":false}"), 1);
	cr_assert_eq(store_upsert(state, match, on), 0);
	cr_assert_eq(count(state, NULL), 1, "the second upsert updates, never inserts");
	cr_assert_eq(count(state, "{\"name\":\"alerts\",\"enabled\":true}"), 1);
	cr_assert_eq(store_upsert(state, NULL, on), SENSED_EINVAL);
	/* the switch helpers over it */
	cr_assert_eq(store_flag_get(state, "name", "alerts", "enabled"), 1);
	cr_assert_eq(store_flag_get(state, "name", "geo", "enabled"), -1);
	cr_assert_eq(store_flag_set(state, "name", "geo", "enabled", 0), 0);
	cr_assert_eq(store_flag_get(state, "name", "geo", "enabled"), 0);
	cr_assert_eq(store_flag_set(NULL, "name", "geo", "enabled", 1), SENSED_ESTATE);
	json_decref(match);
	json_decref(off);
	json_decref(on);
}

Test(store, crud_and_stamps)
{
	sensed_collection *users = collection("users");
	json_t *doc = parse("{\"name\":\"ann\"}"), *got;
	char id[25];
	const char *bytes;
	size_t len;
	sensed_txn *txn;

	cr_assert_eq(store_doc_insert(NULL, users, doc, id), 0);
	cr_assert(object_id_valid(id));
	cr_assert_str_eq(json_string_value(json_object_get(doc, "_id")), id);
	const char *created = json_string_value(json_object_get(doc, "created"));
	cr_assert_not_null(created);
	cr_assert_eq(strlen(created), 24);
	cr_assert_eq(created[23], 'Z');
	cr_assert_str_eq(created, json_string_value(json_object_get(doc, "lastUpdated")));

	cr_assert_eq(store_doc_get(NULL, users, id, &got), 0);
	cr_assert(json_equal(got, doc));
	json_decref(got);

	/* Raw bytes are the compact JSON. */
	cr_assert_eq(store_txn_begin(0, &txn), 0);
	cr_assert_eq(store_doc_get_raw(txn, users, id, &bytes, &len), 0);
	char *compact = json_dumps(doc, JSON_COMPACT);
	cr_assert_eq(len, strlen(compact));
	cr_assert_eq(memcmp(bytes, compact, len), 0);
	free(compact);
	store_txn_abort(txn);
	cr_assert_eq(store_doc_get_raw(NULL, users, id, &bytes, &len), SENSED_EINVAL);

	/* Replace keeps _id and created, stamps lastUpdated. */
	json_t *repl = parse("{\"name\":\"anna\",\"_id\":\"000000000000000000000000\","
	                     "\"created\":\"x\",\"lastUpdated\":\"y\"}");
	cr_assert_eq(store_doc_replace(NULL, users, id, repl), 0);
	json_decref(repl);
	cr_assert_eq(store_doc_get(NULL, users, id, &got), 0);
	cr_assert_str_eq(json_string_value(json_object_get(got, "name")), "anna");
	cr_assert_str_eq(json_string_value(json_object_get(got, "_id")), id);
	cr_assert_str_eq(json_string_value(json_object_get(got, "created")), created);
	cr_assert_eq(strlen(json_string_value(json_object_get(got, "lastUpdated"))), 24);
	json_decref(got);
	json_decref(doc);

	cr_assert_eq(store_doc_delete(NULL, users, id), 0);
	cr_assert_eq(store_doc_get(NULL, users, id, &got), SENSED_ENOTFOUND);
	cr_assert_null(got);
	cr_assert_eq(store_doc_delete(NULL, users, id), SENSED_ENOTFOUND);
	json_t *other = parse("{}");
	cr_assert_eq(store_doc_replace(NULL, users, id, other), SENSED_ENOTFOUND);
	json_decref(other);
}

Test(store, ids_given_duplicate_and_bad)
{
	sensed_collection *c = collection("things");
	json_t *doc = parse("{\"_id\":\"5d7a8e2f1c9d440000a1b2c3\",\"a\":1}"), *got;
	char id[25];

	cr_assert_eq(store_doc_insert(NULL, c, doc, id), 0);
	cr_assert_str_eq(id, "5d7a8e2f1c9d440000a1b2c3");
	json_decref(doc);
	doc = parse("{\"_id\":\"5d7a8e2f1c9d440000a1b2c3\",\"a\":2}");
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), SENSED_EEXISTS);
	json_decref(doc);
	doc = parse("{\"_id\":\"nope\"}");
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), SENSED_EBADID);
	json_decref(doc);
	doc = parse("{\"_id\":7}");
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), SENSED_EBADID);
	json_decref(doc);
	cr_assert_eq(store_doc_get(NULL, c, "bad", &got), SENSED_EBADID);
	cr_assert_eq(store_doc_delete(NULL, c, "5D7A8E2F1C9D440000A1B2C3"), SENSED_EBADID);
	cr_assert_eq(count(c, NULL), 1);
	doc = parse("[1]");
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), SENSED_EINVAL);
	json_decref(doc);
}

Test(store, collections_are_shared_by_name)
{
	sensed_collection *a = collection("shared"), *b;

	cr_assert_eq(store_collection_open("other", "shared", &b), 0);
	cr_assert_eq(a, b);
	cr_assert_str_eq(store_collection_name(a), "shared");
	cr_assert_eq(store_collection_open("x", "bad name", &b), SENSED_EINVAL);
	cr_assert_eq(store_collection_open("x", "", &b), SENSED_EINVAL);
}

Test(store, write_through_read_txn_is_ereadonly)
{
	sensed_collection *c = collection("c");
	sensed_txn *txn;
	json_t *doc = parse("{}");

	cr_assert_eq(store_txn_begin(0, &txn), 0);
	cr_assert_eq(store_doc_insert(txn, c, doc, NULL), SENSED_EREADONLY);
	store_txn_abort(txn);
	json_decref(doc);
}

Test(store, explicit_txn_commit_and_abort)
{
	sensed_collection *c = collection("c");
	sensed_txn *txn;
	json_t *doc = parse("{\"a\":1}");

	cr_assert_eq(store_txn_begin(1, &txn), 0);
	cr_assert_eq(store_doc_insert(txn, c, doc, NULL), 0);
	store_txn_abort(txn);
	cr_assert_eq(count(c, NULL), 0);
	json_object_del(doc, "_id");
	cr_assert_eq(store_txn_begin(1, &txn), 0);
	cr_assert_eq(store_doc_insert(txn, c, doc, NULL), 0);
	cr_assert_eq(store_txn_commit(txn), 0);
	cr_assert_eq(count(c, NULL), 1);
	json_decref(doc);
}

Test(store, unique_violation_leaves_nothing)
{
	sensed_collection *users = collection("users");
	sensed_txn *txn;
	json_t *doc;

	cr_assert_eq(store_index_declare(users, "email", SENSED_INDEX_UNIQUE), 0);
	cr_assert_eq(store_index_declare(users, "email", SENSED_INDEX_UNIQUE), 0);
	cr_assert_eq(store_index_declare(users, "email", 0), SENSED_EEXISTS);
	insert(users, "{\"email\":\"a@x\"}");
	doc = parse("{\"email\":\"a@x\"}");
	cr_assert_eq(store_doc_insert(NULL, users, doc, NULL), SENSED_EUNIQUE);
	json_decref(doc);
	cr_assert_eq(count(users, NULL), 1);

	/* In an explicit txn the failed insert leaves no document and no index entry. */
	cr_assert_eq(store_txn_begin(1, &txn), 0);
	doc = parse("{\"email\":\"b@x\",\"n\":1}");
	cr_assert_eq(store_doc_insert(txn, users, doc, NULL), 0);
	json_decref(doc);
	doc = parse("{\"email\":[\"c@x\",\"a@x\"],\"n\":2}");
	cr_assert_eq(store_doc_insert(txn, users, doc, NULL), SENSED_EUNIQUE);
	json_decref(doc);
	cr_assert_eq(store_txn_commit(txn), 0);
	cr_assert_eq(count(users, NULL), 2);
	cr_assert_eq(count(users, "{\"email\":\"c@x\"}"), 0);
	cr_assert_eq(count(users, "{\"n\":2}"), 0);
	insert(users, "{\"email\":\"c@x\"}"); /* c@x was never taken */
	/* Missing values are not indexed: many documents may lack the field. */
	insert(users, "{\"name\":\"no mail 1\"}");
	insert(users, "{\"name\":\"no mail 2\"}");
	/* The same value twice in one document's array is fine. */
	insert(users, "{\"email\":[\"d@x\",\"d@x\"]}");
}

Test(store, unique_index_on_long_values_is_exact)
{
	sensed_collection *c = collection("c");
	char *a = malloc(700), *b = malloc(700);
	json_t *doc;

	memset(a, 'x', 699);
	a[699] = '\0';
	memcpy(b, a, 700);
	b[650] = 'y'; /* differs only past the LMDB key limit */
	cr_assert_eq(store_index_declare(c, "k", SENSED_INDEX_UNIQUE), 0);
	doc = json_pack("{s:s}", "k", a);
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), 0);
	json_decref(doc);
	doc = json_pack("{s:s}", "k", b);
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), 0);
	json_decref(doc);
	doc = json_pack("{s:s}", "k", a);
	cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), SENSED_EUNIQUE);
	json_decref(doc);
	json_t *filter = json_pack("{s:s}", "k", b), *found;
	cr_assert_eq(store_find_one(NULL, c, filter, &found), 0);
	cr_assert_str_eq(json_string_value(json_object_get(found, "k")), b);
	json_decref(found);
	json_decref(filter);
	free(a);
	free(b);
}

Test(store, index_consistent_after_replace_and_delete)
{
	sensed_collection *c = collection("c");
	json_t *doc;

	cr_assert_eq(store_index_declare(c, "email", SENSED_INDEX_UNIQUE), 0);
	cr_assert_eq(store_index_declare(c, "tags", 0), 0);
	const char *id = insert(c, "{\"email\":\"old@x\",\"tags\":[\"a\",\"b\"]}");
	char saved[25];
	strcpy(saved, id);
	doc = parse("{\"email\":\"new@x\",\"tags\":[\"b\",\"c\"]}");
	cr_assert_eq(store_doc_replace(NULL, c, saved, doc), 0);
	json_decref(doc);
	cr_assert_eq(count(c, "{\"email\":\"old@x\"}"), 0);
	cr_assert_eq(count(c, "{\"email\":\"new@x\"}"), 1);
	cr_assert_eq(count(c, "{\"tags\":\"a\"}"), 0);
	cr_assert_eq(count(c, "{\"tags\":\"c\"}"), 1);
	insert(c, "{\"email\":\"old@x\"}"); /* the old value is free again */
	doc = parse("{\"email\":\"old@x\"}");
	cr_assert_eq(store_doc_replace(NULL, c, saved, doc), SENSED_EUNIQUE);
	json_decref(doc);
	cr_assert_eq(count(c, "{\"email\":\"new@x\"}"), 1); /* failed replace changed nothing */
	/* Replacing a document with its own unique value is fine. */
	doc = parse("{\"email\":\"new@x\",\"v\":2}");
	cr_assert_eq(store_doc_replace(NULL, c, saved, doc), 0);
	json_decref(doc);
	cr_assert_eq(store_doc_delete(NULL, c, saved), 0);
	cr_assert_eq(count(c, "{\"email\":\"new@x\"}"), 0);
	cr_assert_eq(count(c, "{\"tags\":\"b\"}"), 0);
	insert(c, "{\"email\":\"new@x\"}");
}

Test(store, index_declared_on_existing_documents_is_built)
{
	sensed_collection *c = collection("c");
	size_t before;

	insert(c, "{\"k\":1}");
	insert(c, "{\"k\":2}");
	insert(c, "{\"k\":2}");
	cr_assert_eq(store_index_declare(c, "k", SENSED_INDEX_UNIQUE), SENSED_EUNIQUE);
	cr_assert_eq(store_index_declare(c, "k", 0), 0);
	before = store_docs_examined;
	cr_assert_eq(count(c, "{\"k\":2}"), 2);
	cr_assert_eq(store_docs_examined - before, 2);
	cr_assert_eq(store_index_declare(c, "bad..path", 0), SENSED_EINVAL);
}

Test(store, every_operator_through_find)
{
	sensed_collection *c = collection("c");

	store_index_declare(c, "n", 0);
	insert(c, "{\"name\":\"a\",\"n\":1,\"g\":[\"x\",\"y\"],\"p\":{\"q\":1}}");
	insert(c, "{\"name\":\"b\",\"n\":2,\"g\":[\"y\"],\"p\":{\"q\":2}}");
	insert(c, "{\"name\":\"C\",\"n\":3,\"g\":[]}");
	assert_column(c, "{\"n\":2}", NULL, "name", "[\"b\"]");
	assert_column(c, "{\"n\":{\"$eq\":3}}", NULL, "name", "[\"C\"]");
	assert_column(c, "{\"n\":{\"$ne\":2}}", NULL, "name", "[\"a\",\"C\"]");
	assert_column(c, "{\"n\":{\"$gt\":1}}", NULL, "name", "[\"b\",\"C\"]");
	assert_column(c, "{\"n\":{\"$gte\":2}}", NULL, "name", "[\"b\",\"C\"]");
	assert_column(c, "{\"n\":{\"$lt\":2}}", NULL, "name", "[\"a\"]");
	assert_column(c, "{\"n\":{\"$lte\":2}}", NULL, "name", "[\"a\",\"b\"]");
	assert_column(c, "{\"n\":{\"$in\":[1,3]}}", NULL, "name", "[\"a\",\"C\"]");
	assert_column(c, "{\"n\":{\"$nin\":[1,3]}}", NULL, "name", "[\"b\"]");
	assert_column(c, "{\"p\":{\"$exists\":false}}", NULL, "name", "[\"C\"]");
	assert_column(c, "{\"name\":{\"$regex\":\"^c\",\"$options\":\"i\"}}", NULL, "name",
	              "[\"C\"]");
	assert_column(c, "{\"$and\":[{\"g\":\"y\"},{\"n\":{\"$gt\":1}}]}", NULL, "name", "[\"b\"]");
	assert_column(c, "{\"$or\":[{\"g\":\"x\"},{\"n\":3}]}", NULL, "name", "[\"a\",\"C\"]");
	assert_column(c, "{\"n\":{\"$not\":{\"$gte\":2}}}", NULL, "name", "[\"a\"]");
	assert_column(c, "{\"g\":\"y\"}", NULL, "name", "[\"a\",\"b\"]");
	assert_column(c, "{\"p.q\":2}", NULL, "name", "[\"b\"]");
}

Test(store, sort_skip_limit_cap_count)
{
	sensed_collection *c = collection("c");
	int rc;
	json_t *docs;
	char *got;

	store_index_declare(c, "n", 0);
	for (int i = 0; i < 120; i++) {
		char text[64];

		snprintf(text, sizeof(text), "{\"n\":%d,\"odd\":%d}", i, i % 2);
		insert(c, text);
	}
	assert_column(c, "{\"n\":{\"$lt\":4}}", "-n", "n", "[3,2,1,0]");
	assert_column(c, "{\"n\":{\"$lt\":4}}", "odd,-n", "n", "[2,0,3,1]");
	docs = find(c, "{\"n\":{\"$lt\":10}}", NULL, "-n", 2, 3, NULL, &rc);
	got = column(docs, "n");
	cr_assert_str_eq(got, "[7,6,5]");
	free(got);
	json_decref(docs);
	docs = find(c, NULL, NULL, NULL, 5, 2, NULL, &rc);
	got = column(docs, "n");
	cr_assert_str_eq(got, "[5,6]");
	free(got);
	json_decref(docs);
	docs = find(c, NULL, NULL, NULL, 0, 0, NULL, &rc); /* limit 0: the cap (100) */
	cr_assert_eq(json_array_size(docs), 100);
	json_decref(docs);
	docs = find(c, NULL, NULL, "n", 0, 1000, NULL, &rc); /* over the cap */
	cr_assert_eq(json_array_size(docs), 100);
	json_decref(docs);
	docs = find(c, NULL, NULL, "n", 3, SENSED_QUERY_ALL, NULL, &rc); /* a plugin's bulk work */
	cr_assert_eq(json_array_size(docs), 117);
	json_decref(docs);
	docs = find(c, NULL, NULL, "n", 1000, 10, NULL, &rc); /* skip past the end */
	cr_assert_eq(rc, 0);
	cr_assert_eq(json_array_size(docs), 0);
	json_decref(docs);
	cr_assert_eq(count(c, NULL), 120);
	cr_assert_eq(count(c, "{\"odd\":1}"), 60);
	cr_assert_eq(count(c, "{\"n\":{\"$gte\":100}}"), 20);
}

Test(store, projection_both_ways)
{
	sensed_collection *c = collection("c");
	int rc;
	json_t *docs;

	insert(c, "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":4}");
	docs = find(c, NULL, "a,b.c", NULL, 0, 0, NULL, &rc);
	cr_assert_eq(rc, 0);
	json_t *d = json_array_get(docs, 0);
	cr_assert_eq(json_object_size(d), 3);
	cr_assert_not_null(json_object_get(d, "_id"));
	cr_assert_eq(json_object_size(json_object_get(d, "b")), 1);
	json_decref(docs);
	docs = find(c, NULL, "-b.d,-e,-created,-lastUpdated,-_id", NULL, 0, 0, NULL, &rc);
	char *text = json_dumps(json_array_get(docs, 0), JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(text, "{\"a\":1,\"b\":{\"c\":2}}");
	free(text);
	json_decref(docs);
}

Test(store, bad_queries_are_efilter)
{
	sensed_collection *c = collection("c");
	int rc;
	json_t *out, *spec;
	size_t n;

	insert(c, "{\"a\":1}");
	cr_assert_null(find(c, "{\"a\":{\"$bad\":1}}", NULL, NULL, 0, 0, NULL, &rc));
	cr_assert_eq(rc, SENSED_EFILTER);
	cr_assert_null(find(c, NULL, "a,-b", NULL, 0, 0, NULL, &rc));
	cr_assert_eq(rc, SENSED_EFILTER);
	cr_assert_null(find(c, NULL, NULL, "a..b", 0, 0, NULL, &rc));
	cr_assert_eq(rc, SENSED_EFILTER);
	spec = parse("{\"$or\":5}");
	cr_assert_eq(store_count(NULL, c, spec, &n), SENSED_EFILTER);
	cr_assert_eq(store_find_one(NULL, c, spec, &out), SENSED_EFILTER);
	json_decref(spec);
	spec = parse("{\"a\":2}");
	cr_assert_eq(store_find_one(NULL, c, spec, &out), SENSED_ENOTFOUND);
	json_decref(spec);
	sensed_query q = {.size = 0};
	cr_assert_eq(store_find(NULL, c, &q, &out), SENSED_EINVAL);
}

/* users.roleId -> role, users.groups -> groups, groups.users -> users, groups.role. */
struct world {
	sensed_collection *users, *groups, *roles;
	char admin[25], g1[25], g2[25], ann[25], bob[25];
};

static void make_world(struct world *w)
{
	char text[256];

	w->users = collection("users");
	w->groups = collection("groups");
	w->roles = collection("roles");
	cr_assert_eq(store_index_declare(w->roles, "name", SENSED_INDEX_UNIQUE), 0);
	cr_assert_eq(store_reference_declare(w->users, "roleId", "role", w->roles, "_id"), 0);
	cr_assert_eq(store_reference_declare(w->users, "groups", "groups", w->groups, "_id"), 0);
	cr_assert_eq(store_reference_declare(w->groups, "users", "users", w->users, "_id"), 0);
	cr_assert_eq(store_reference_declare(w->groups, "roleName", "role", w->roles, "name"), 0);
	cr_assert_eq(store_reference_declare(w->groups, "x", "role", w->roles, "_id"),
	             SENSED_EEXISTS);
	cr_assert_eq(store_reference_declare(w->groups, "x", "y", w->roles, "nokey"),
	             SENSED_EINVAL);
	strcpy(w->admin, insert(w->roles, "{\"name\":\"admin\"}"));
	strcpy(w->g1, insert(w->groups, "{\"name\":\"g1\",\"roleName\":\"admin\"}"));
	strcpy(w->g2, insert(w->groups, "{\"name\":\"g2\",\"roleName\":\"nobody\"}"));
	snprintf(text, sizeof(text),
	         "{\"name\":\"ann\",\"roleId\":\"%s\",\"groups\":[\"%s\",\"%s\","
	         "\"ffffffffffffffffffffffff\"]}",
	         w->admin, w->g1, w->g2);
	strcpy(w->ann, insert(w->users, text));
	snprintf(text, sizeof(text), "{\"name\":\"bob\",\"roleId\":\"ffffffffffffffffffffffff\"}");
	strcpy(w->bob, insert(w->users, text));
	/* g1 lists its users. */
	json_t *g1;
	cr_assert_eq(store_doc_get(NULL, w->groups, w->g1, &g1), 0);
	json_object_set_new(g1, "users", json_pack("[s,s]", w->ann, w->bob));
	cr_assert_eq(store_doc_replace(NULL, w->groups, w->g1, g1), 0);
	json_decref(g1);
}

Test(store, expand_single_array_nested_unknown)
{
	struct world w;
	int rc;
	json_t *docs, *ann, *bob;

	make_world(&w);
	docs = find(w.users, NULL, NULL, "name", 0, 0, "groups,role", &rc);
	cr_assert_eq(rc, 0);
	ann = json_array_get(docs, 0);
	bob = json_array_get(docs, 1);
	/* roleId kept, role added. */
	cr_assert_str_eq(json_string_value(json_object_get(ann, "roleId")), w.admin);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ann, "role"), "name")),
	                 "admin");
	/* groups replaced by documents; the missing id dropped. */
	cr_assert_eq(json_array_size(json_object_get(ann, "groups")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(ann, "groups"), 1), "name")),
	                 "g2");
	/* A missing single reference: null under a new name. */
	cr_assert(json_is_null(json_object_get(bob, "role")));
	json_decref(docs);

	/* Nested: users' groups with their users. */
	docs = find(w.users, "{\"name\":\"ann\"}", NULL, NULL, 0, 0, "groups.users", &rc);
	cr_assert_eq(rc, 0);
	json_t *g1 = json_array_get(json_object_get(json_array_get(docs, 0), "groups"), 0);
	json_t *members = json_object_get(g1, "users");
	cr_assert_eq(json_array_size(members), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(members, 1), "name")),
	                 "bob");
	json_decref(docs);

	/* A reference matched on a unique-indexed key other than _id. */
	docs = find(w.groups, NULL, NULL, "name", 0, 0, "role", &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(json_array_get(docs, 0), "role"), "name")),
	                 "admin");
	cr_assert(json_is_null(json_object_get(json_array_get(docs, 1), "role")));
	json_decref(docs);

	/* Whitelisted fields keep the expanded ones. */
	docs = find(w.users, "{\"name\":\"ann\"}", "name", NULL, 0, 0, "role", &rc);
	cr_assert_eq(rc, 0);
	cr_assert_not_null(json_object_get(json_array_get(docs, 0), "role"));
	cr_assert_null(json_object_get(json_array_get(docs, 0), "roleId"));
	json_decref(docs);

	const char *unknown[] = {"nope",    "groups.nope",   "groups.",
	                         ".groups", "groups..users", "role.users"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		cr_assert_null(find(w.users, NULL, NULL, NULL, 0, 0, unknown[i], &rc));
		cr_assert_eq(rc, SENSED_ENOTFOUND, "%s", unknown[i]);
	}
}

Test(store, shape_one_document)
{
	struct world w;
	json_t *ann;
	sensed_query q = SENSED_QUERY_INIT;

	make_world(&w);
	cr_assert_eq(store_doc_get(NULL, w.users, w.ann, &ann), 0);
	q.fields = "name,-_id";
	q.expand = "role";
	cr_assert_eq(store_shape(NULL, w.users, &q, ann), 0);
	cr_assert_eq(json_object_size(ann), 2);
	cr_assert_not_null(json_object_get(ann, "role"));
	q.expand = "bad";
	cr_assert_eq(store_shape(NULL, w.users, &q, ann), SENSED_ENOTFOUND);
	json_decref(ann);
}

Test(store, indexed_queries_do_not_scan, .timeout = 120)
{
	sensed_collection *c = collection("big");
	sensed_txn *txn;
	size_t before;
	int rc;
	json_t *docs;

	cr_assert_eq(store_index_declare(c, "n", SENSED_INDEX_UNIQUE), 0);
	cr_assert_eq(store_index_declare(c, "tag", 0), 0);
	cr_assert_eq(store_txn_begin(1, &txn), 0);
	for (int i = 0; i < 10000; i++) {
		char tag[8];
		json_t *doc;

		snprintf(tag, sizeof(tag), "t%d", i % 10);
		doc = json_pack("{s:i, s:s, s:i}", "n", i, "tag", tag, "plain", i);

		cr_assert_eq(store_doc_insert(txn, c, doc, NULL), 0);
		json_decref(doc);
	}
	cr_assert_eq(store_txn_commit(txn), 0);

	before = store_docs_examined;
	docs = find(c, "{\"n\":5000}", NULL, NULL, 0, 0, NULL, &rc);
	cr_assert_eq(json_array_size(docs), 1);
	cr_assert_eq(store_docs_examined - before, 1);
	json_decref(docs);

	before = store_docs_examined;
	docs = find(c, "{\"n\":{\"$in\":[1,2,3,99999]}}", NULL, NULL, 0, 0, NULL, &rc);
	cr_assert_eq(json_array_size(docs), 3);
	cr_assert_eq(store_docs_examined - before, 3);
	json_decref(docs);

	before = store_docs_examined;
	docs = find(c, "{\"n\":{\"$gte\":100,\"$lt\":150}}", NULL, "-n", 0, 0, NULL, &rc);
	cr_assert_eq(json_array_size(docs), 50);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(docs, 0), "n")), 149);
	cr_assert_leq(store_docs_examined - before, 51);
	json_decref(docs);

	before = store_docs_examined;
	cr_assert_eq(count(c, "{\"tag\":\"t7\",\"n\":{\"$gt\":5000}}"), 500);
	cr_assert_eq(store_docs_examined - before, 1000);

	before = store_docs_examined;
	cr_assert_eq(count(c, "{\"$and\":[{\"plain\":{\"$gte\":0}},{\"n\":42}]}"), 1);
	cr_assert_eq(store_docs_examined - before, 1);

	/* Without an index: a scan. */
	before = store_docs_examined;
	cr_assert_eq(count(c, "{\"plain\":5000}"), 1);
	cr_assert_eq(store_docs_examined - before, 10000);
}

Test(store, map_grows_on_map_full, .timeout = 240)
{
	sensed_collection *c;
	char *big = malloc(100001);
	json_t *doc;
	size_t n = 0;
	sensed_txn *txn;
	int rc;

	store_close();
	remove_tree(dir);
	open_store(1 << 20, 100); /* 1 MiB */
	c = collection("blobs");
	memset(big, 'b', 100000);
	big[100000] = '\0';
	for (int i = 0; i < 500; i++) { /* 50 MB */
		doc = json_pack("{s:i, s:s}", "i", i, "blob", big);
		cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), 0, "insert %d", i);
		json_decref(doc);
	}
	cr_assert_gt(store_map_size(), 50u << 20);
	cr_assert_eq(store_count(NULL, c, NULL, &n), 0);
	cr_assert_eq(n, 500);
	json_t *filter = parse("{\"i\":{\"$gte\":0}}");
	cr_assert_eq(store_count(NULL, c, filter, &n), 0);
	cr_assert_eq(n, 500);
	json_decref(filter);

	/* An explicit transaction gets ETOOLARGE; the map has grown for the retry. */
	size_t size = store_map_size();
	int too_large = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		cr_assert_eq(store_txn_begin(1, &txn), 0);
		rc = 0;
		for (int i = 0; i < 600 && rc == 0; i++) {
			doc = json_pack("{s:i, s:s}", "j", i, "blob", big);
			rc = store_doc_insert(txn, c, doc, NULL);
			json_decref(doc);
		}
		if (rc == 0) {
			cr_assert_eq(store_txn_commit(txn), 0);
			break;
		}
		cr_assert_eq(rc, SENSED_ETOOLARGE);
		store_txn_abort(txn);
		cr_assert_gt(store_map_size(), size);
		size = store_map_size();
		too_large++;
	}
	cr_assert_gt(too_large, 0);
	cr_assert_eq(store_count(NULL, c, NULL, &n), 0);
	cr_assert_eq(n, 1100);
	free(big);
}

Test(store, backup_while_open_then_restore)
{
	sensed_collection *c = collection("c");
	char out[128];
	pid_t child;
	int status;
	json_t *before, *after;
	sensed_query q = SENSED_QUERY_INIT;

	cr_assert_eq(store_index_declare(c, "n", 0), 0);
	for (int i = 0; i < 50; i++) {
		json_t *doc = json_pack("{s:i}", "n", i);

		cr_assert_eq(store_doc_insert(NULL, c, doc, NULL), 0);
		json_decref(doc);
	}
	cr_assert_eq(store_find(NULL, c, &q, &before), 0);
	snprintf(out, sizeof(out), "%s-copy", dir);
	/* Another process copies while this one holds the store open. */
	child = fork();
	if (child == 0)
		_exit(store_backup(dir, out) == 0 ? 0 : 1);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_close();

	cr_assert_eq(store_open(out, NULL), 0);
	c = collection("c");
	cr_assert_eq(store_index_declare(c, "n", 0), 0);
	cr_assert_eq(store_find(NULL, c, &q, &after), 0);
	cr_assert(json_equal(before, after));
	cr_assert_eq(count(c, "{\"n\":7}"), 1);
	json_decref(before);
	json_decref(after);
	store_close();
	remove_tree(out);
	cr_assert_eq(store_backup("/nonexistent/sensed", out), SENSED_ENOTFOUND);
	remove_tree(out);
	open_store(64 << 20, 100); /* for teardown */
}

Test(store, reader_check_and_state)
{
	cr_assert_geq(store_reader_check(), 0);
	struct store_options opt = {0};
	cr_assert_eq(store_open(dir, &opt), SENSED_ESTATE);
}

/* ---- Group commit (store_write_submit) ---- */

struct gc_write {
	sensed_collection *coll;
	json_t *doc;
	int fail_after; /* insert, then return this error (rolled back alone) */
	int nested_own; /* try a transaction of its own (refused: ESTATE) */
	int gate;       /* block until gc.open */
	int err;
	int finished;
	int work_runs;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open, finished;
} gc = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static int gc_work(sensed_txn *txn, void *arg)
{
	struct gc_write *w = arg;
	int rc;

	__atomic_fetch_add(&w->work_runs, 1, __ATOMIC_RELAXED);
	if (w->gate) {
		pthread_mutex_lock(&gc.lock);
		while (!gc.open)
			pthread_cond_wait(&gc.cond, &gc.lock);
		pthread_mutex_unlock(&gc.lock);
	}
	if (w->nested_own) {
		json_t *doc = json_pack("{s:s}", "own", "x");

		rc = store_doc_insert(NULL, w->coll, doc, NULL);
		json_decref(doc);
		return rc;
	}
	rc = store_doc_insert(txn, w->coll, w->doc, NULL);
	return rc ? rc : w->fail_after;
}

static void gc_finished(void *ctx, int err)
{
	struct gc_write *w = ctx;

	pthread_mutex_lock(&gc.lock);
	w->err = err;
	w->finished++;
	gc.finished++;
	pthread_cond_broadcast(&gc.cond);
	pthread_mutex_unlock(&gc.lock);
}

static void gc_open_gate(void)
{
	pthread_mutex_lock(&gc.lock);
	gc.open = 1;
	pthread_cond_broadcast(&gc.cond);
	pthread_mutex_unlock(&gc.lock);
}

static void gc_wait(int expected)
{
	pthread_mutex_lock(&gc.lock);
	while (gc.finished < expected)
		pthread_cond_wait(&gc.cond, &gc.lock);
	pthread_mutex_unlock(&gc.lock);
}

#define GC_THREADS 8
#define GC_PER     50

struct gc_submitter {
	struct gc_write *writes;
};

static void *gc_submit_thread(void *arg)
{
	struct gc_submitter *s = arg;

	for (int i = 0; i < GC_PER; i++)
		if (store_write_submit(gc_work, &s->writes[i], gc_finished, &s->writes[i]) != 0)
			return (void *)1;
	return NULL;
}

Test(store, group_commit_batches_many_threads_writes)
{
	sensed_collection *c = collection("gc");
	static struct gc_write writes[GC_THREADS * GC_PER + 1];
	struct gc_submitter subs[GC_THREADS];
	pthread_t threads[GC_THREADS];
	size_t before = store_group_commits, n = 0;

	/* The first work holds the committer until every thread has queued its writes, so
	 * the rest go in batches (at most 256 each) rather than one commit per write. */
	writes[0] = (struct gc_write){.coll = c, .doc = json_pack("{s:i}", "n", -1), .gate = 1};
	cr_assert_eq(store_write_submit(gc_work, &writes[0], gc_finished, &writes[0]), 0);
	for (int t = 0; t < GC_THREADS; t++) {
		subs[t].writes = &writes[1 + t * GC_PER];
		for (int i = 0; i < GC_PER; i++)
			subs[t].writes[i] = (struct gc_write){
			    .coll = c, .doc = json_pack("{s:i}", "n", t * GC_PER + i)};
		cr_assert_eq(pthread_create(&threads[t], NULL, gc_submit_thread, &subs[t]), 0);
	}
	for (int t = 0; t < GC_THREADS; t++) {
		void *failed;

		pthread_join(threads[t], &failed);
		cr_assert_null(failed, "a submission was refused");
	}
	gc_open_gate();
	gc_wait(GC_THREADS * GC_PER + 1);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		cr_assert_eq(writes[i].finished, 1, "write %zu finished %d times", i,
		             writes[i].finished);
		cr_assert_eq(writes[i].err, 0, "write %zu: %d", i, writes[i].err);
		cr_assert_not_null(json_object_get(writes[i].doc, "_id"));
		json_decref(writes[i].doc);
	}
	cr_assert_eq(store_count(NULL, c, NULL, &n), 0);
	cr_assert_eq(n, GC_THREADS * GC_PER + 1);
	/* 1 (the gated work) + ceil(400 / 256) */
	cr_assert_leq(store_group_commits - before, 3, "%zu commits", store_group_commits - before);
}

Test(store, group_commit_failing_work_is_rolled_back_alone)
{
	sensed_collection *c = collection("gc");
	struct gc_write w[6];

	cr_assert_eq(store_index_declare(c, "name", SENSED_INDEX_UNIQUE), 0);
	w[0] = (struct gc_write){.coll = c, .doc = parse("{\"name\":\"gate\"}"), .gate = 1};
	w[1] = (struct gc_write){.coll = c, .doc = parse("{\"name\":\"a\"}")};
	w[2] = (struct gc_write){
	    .coll = c, .doc = parse("{\"name\":\"b\"}"), .fail_after = SENSED_EINVAL};
	w[3] = (struct gc_write){.coll = c, .doc = parse("{\"name\":\"a\"}")}; /* unique */
	w[4] = (struct gc_write){.coll = c, .doc = parse("{\"name\":\"c\"}")};
	w[5] = (struct gc_write){.coll = c, .nested_own = 1};
	for (int i = 0; i < 6; i++)
		cr_assert_eq(store_write_submit(gc_work, &w[i], gc_finished, &w[i]), 0);
	gc_open_gate();
	gc_wait(6);
	cr_assert_eq(w[0].err, 0);
	cr_assert_eq(w[1].err, 0);
	cr_assert_eq(w[2].err, SENSED_EINVAL);
	cr_assert_eq(w[3].err, SENSED_EUNIQUE);
	cr_assert_eq(w[4].err, 0);
	cr_assert_eq(w[5].err, SENSED_ESTATE, "a work's own txn would deadlock on the writer lock");
	assert_column(c, NULL, "name", "name", "[\"a\",\"c\",\"gate\"]");
	cr_assert_eq(count(c, "{\"own\":\"x\"}"), 0);
	for (int i = 0; i < 5; i++)
		json_decref(w[i].doc);
	cr_assert_eq(store_write_submit(NULL, NULL, gc_finished, NULL), SENSED_EINVAL);
}

Test(store, group_commit_grows_the_map_and_retries)
{
	static struct gc_write w[200];
	char *big = malloc(100001);
	sensed_collection *c;
	size_t n = 0;

	store_close();
	remove_tree(dir);
	open_store(1 << 20, 100); /* 1 MiB: the batches fill it */
	c = collection("blobs");
	memset(big, 'b', 100000);
	big[100000] = '\0';
	w[0] = (struct gc_write){.coll = c, .doc = json_pack("{s:i}", "i", -1), .gate = 1};
	cr_assert_eq(store_write_submit(gc_work, &w[0], gc_finished, &w[0]), 0);
	for (int i = 1; i < 200; i++) {
		w[i] = (struct gc_write){.coll = c,
		                         .doc = json_pack("{s:i, s:s}", "i", i, "blob", big)};
		cr_assert_eq(store_write_submit(gc_work, &w[i], gc_finished, &w[i]), 0);
	}
	gc_open_gate();
	gc_wait(200);
	int reruns = 0;

	for (int i = 0; i < 200; i++) {
		cr_assert_eq(w[i].err, 0, "write %d: %d", i, w[i].err);
		json_decref(w[i].doc);
		if (w[i].work_runs > 1)
			reruns++;
	}
	free(big);
	/* The gate may have caught w[1] in the first batch; the others queued behind it. */
	cr_assert_gt(reruns, 0, "no batch was run again after growing the map");
	cr_assert_gt(store_map_size(), 20u << 20);
	cr_assert_eq(store_count(NULL, c, NULL, &n), 0);
	cr_assert_eq(n, 200);
}

Test(store, group_commit_close_drains_the_queue)
{
	static struct gc_write w[100];
	sensed_collection *c = collection("gc");
	size_t n = 0;

	w[0] = (struct gc_write){.coll = c, .doc = json_pack("{s:i}", "i", 0), .gate = 1};
	for (int i = 1; i < 100; i++)
		w[i] = (struct gc_write){.coll = c, .doc = json_pack("{s:i}", "i", i)};
	for (int i = 0; i < 100; i++)
		cr_assert_eq(store_write_submit(gc_work, &w[i], gc_finished, &w[i]), 0);
	gc_open_gate();
	store_close(); /* waits for the queued writes */
	cr_assert_eq(gc.finished, 100);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(w[i].err, 0);
		json_decref(w[i].doc);
	}
	cr_assert_eq(store_write_submit(gc_work, &w[0], gc_finished, &w[0]), SENSED_ESTATE);
	open_store(64 << 20, 100);
	c = collection("gc");
	cr_assert_eq(store_count(NULL, c, NULL, &n), 0);
	cr_assert_eq(n, 100);
}
