/* The document store: collections of compact JSON documents in one LMDB environment,
 * with secondary indexes, MongoDB-style queries and reference expansion (see store.h and
 * the store members of include/sensed/plugin.h).
 *
 * Layout: collection "x" is the LMDB database "c:x" (key: the 24-hex _id without NUL,
 * data: compact JSON); an index on path "p" of "x" is the MDB_DUPSORT database "i:x:p"
 * (key: type-tagged encoding of one value, data: _id).
 *
 * Map growth: every transaction holds g_map_lock for reading; growing the map takes it for
 * writing, because mdb_env_set_mapsize needs no transaction open in the process. */
#include "store.h"

#include "filter.h"
#include "json_load.h"
#include "store_internal.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_MAX_INDEXES    16
#define STORE_MAX_REFERENCES 16
#define STORE_NAME_MAX       64
#define STORE_PATH_MAX       200
#define STORE_EXPAND_DEPTH   8
#define STORE_MAX_GROWTHS    40
#define INDEX_KEY_MAX        511 /* LMDB's default maximum key size */
#define ID_LEN               24

/* Type tags of index keys, in MongoDB type order so ranges stay within one type. */
#define TAG_NUMBER 0x20
#define TAG_STRING 0x30
#define TAG_BOOL   0x60

struct store_index {
	char *path;
	unsigned flags;
	MDB_dbi dbi;
};

struct store_reference {
	char *field;
	char *as;
	sensed_collection *to;
	struct store_index *to_index; /* NULL: matched on _id */
};

struct sensed_collection {
	char *name;
	MDB_dbi docs;
	size_t index_count;
	struct store_index indexes[STORE_MAX_INDEXES];
	size_t reference_count;
	struct store_reference references[STORE_MAX_REFERENCES];
};

struct sensed_txn {
	MDB_txn *mdb;
	int write;
	int map_full;             /* LMDB reported MDB_MAP_FULL: grow when the txn ends */
	size_t map_size_at_begin; /* so two threads hitting MAP_FULL grow only once */
	int nested;               /* a group-commit work's child txn: the committer ends it */
};

size_t store_docs_examined;
size_t store_group_commits;

static MDB_env *g_env;
static struct store_options g_options;
static pthread_rwlock_t g_map_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Collections are created during start-up only (single thread); read-only afterwards. */
static sensed_collection **g_collections;
static size_t g_collection_count;
/* Transactions this thread holds: it must not wait for the map lock's write side while
 * it holds the read side. */
static _Thread_local int tl_txns_open;
/* Set on the committer thread while a work runs: a transaction of its own would wait for
 * LMDB's writer lock, which the committer itself holds. */
static _Thread_local int tl_in_work;

static void examined_add(void)
{
	__atomic_fetch_add(&store_docs_examined, 1, __ATOMIC_RELAXED);
}

static int from_mdb(int rc, sensed_txn *txn)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return SENSED_ENOTFOUND;
	case MDB_KEYEXIST:
		return SENSED_EEXISTS;
	case MDB_MAP_FULL:
		if (txn != NULL)
			txn->map_full = 1;
		return SENSED_ETOOLARGE;
	case MDB_TXN_FULL:
	case MDB_BAD_VALSIZE:
	case MDB_DBS_FULL:
		return SENSED_ETOOLARGE;
	case MDB_READERS_FULL:
		return SENSED_EBUSY;
	case ENOMEM:
		return SENSED_ENOMEM;
	case EACCES:
		return SENSED_EREADONLY;
	default:
		return SENSED_ESTORE;
	}
}

/* ---- Map size and transactions ------------------------------------------------------ */

size_t store_map_size(void)
{
	MDB_envinfo info;

	if (g_env == NULL || mdb_env_info(g_env, &info) != 0)
		return 0;
	return info.me_mapsize;
}

/* Double the map unless another thread already grew it past `seen`. */
static int grow_map(size_t seen)
{
	MDB_envinfo info;
	int rc = 0;

	if (tl_txns_open > 0)
		return SENSED_ETOOLARGE;
	pthread_rwlock_wrlock(&g_map_lock);
	if (mdb_env_info(g_env, &info) != 0) {
		rc = SENSED_ESTORE;
	} else if (info.me_mapsize <= seen) {
		if (info.me_mapsize > SIZE_MAX / 2)
			rc = SENSED_ETOOLARGE;
		else
			rc = from_mdb(mdb_env_set_mapsize(g_env, info.me_mapsize * 2), NULL);
	}
	pthread_rwlock_unlock(&g_map_lock);
	return rc;
}

static int txn_open(int write, sensed_txn **out)
{
	sensed_txn *txn;
	int rc;

	*out = NULL;
	if (g_env == NULL || tl_in_work)
		return SENSED_ESTATE;
	txn = calloc(1, sizeof(*txn));
	if (txn == NULL)
		return SENSED_ENOMEM;
	txn->write = write;
	pthread_rwlock_rdlock(&g_map_lock);
	rc = mdb_txn_begin(g_env, NULL, write ? 0 : MDB_RDONLY, &txn->mdb);
	if (rc == MDB_MAP_RESIZED && tl_txns_open == 0) {
		/* Another process grew the map: adopt its size, then retry once. */
		pthread_rwlock_unlock(&g_map_lock);
		pthread_rwlock_wrlock(&g_map_lock);
		mdb_env_set_mapsize(g_env, 0);
		pthread_rwlock_unlock(&g_map_lock);
		pthread_rwlock_rdlock(&g_map_lock);
		rc = mdb_txn_begin(g_env, NULL, write ? 0 : MDB_RDONLY, &txn->mdb);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&g_map_lock);
		free(txn);
		return rc == MDB_MAP_RESIZED ? SENSED_EBUSY : from_mdb(rc, NULL);
	}
	if (write) {
		MDB_envinfo info;

		if (mdb_env_info(g_env, &info) == 0)
			txn->map_size_at_begin = info.me_mapsize;
	}
	tl_txns_open++;
	*out = txn;
	return 0;
}

/* The LMDB transaction has ended (committed or aborted): release the lock and free. */
static void txn_release(sensed_txn *txn, int *map_full, size_t *seen)
{
	tl_txns_open--;
	pthread_rwlock_unlock(&g_map_lock);
	*map_full = txn->map_full;
	*seen = txn->map_size_at_begin;
	free(txn);
}

int store_txn_begin(int write, sensed_txn **out)
{
	if (out == NULL)
		return SENSED_EINVAL;
	return txn_open(write != 0, out);
}

/* After a MAP_FULL the map grows once the transaction is gone, so the caller's retry
 * has room (the failed call returned SENSED_ETOOLARGE). */
int store_txn_commit(sensed_txn *txn)
{
	int rc, map_full;
	size_t seen;

	if (txn == NULL || txn->nested)
		return SENSED_EINVAL;
	if (txn->write) {
		rc = mdb_txn_commit(txn->mdb); /* frees the txn even on failure */
		rc = from_mdb(rc, txn);
	} else {
		mdb_txn_abort(txn->mdb);
		rc = 0;
	}
	txn_release(txn, &map_full, &seen);
	if (map_full) {
		int grown = grow_map(seen);

		if (rc == 0)
			rc = grown;
	}
	return rc;
}

void store_txn_abort(sensed_txn *txn)
{
	int map_full;
	size_t seen;

	if (txn == NULL || txn->nested)
		return;
	mdb_txn_abort(txn->mdb);
	txn_release(txn, &map_full, &seen);
	if (map_full)
		grow_map(seen);
}

typedef int (*txn_body)(sensed_txn *txn, void *arg);

/* Run `body` in `txn`, or (txn NULL) in a transaction of its own, committed when `write`
 * and `body` succeeded.  An own write transaction that fills the map is retried after
 * growing it, so `body` must be safe to run again after an abort. */
static int run_in_txn(sensed_txn *txn, int write, txn_body body, void *arg)
{
	if (txn != NULL) {
		if (write && !txn->write)
			return SENSED_EREADONLY;
		return body(txn, arg);
	}
	for (int attempt = 0;; attempt++) {
		sensed_txn *own;
		int rc = txn_open(write, &own), map_full;
		size_t seen;

		if (rc != 0)
			return rc;
		rc = body(own, arg);
		if (rc == 0 && write)
			rc = from_mdb(mdb_txn_commit(own->mdb), own);
		else
			mdb_txn_abort(own->mdb);
		txn_release(own, &map_full, &seen);
		if (!map_full || attempt == STORE_MAX_GROWTHS)
			return rc;
		rc = grow_map(seen);
		if (rc != 0)
			return rc;
	}
}

/* ---- Group commit ------------------------------------------------------------------
 *
 * One committer thread (started by the first store_write_submit, joined by
 * store_writes_stop) takes up to COMMIT_BATCH queued works, runs each in a child of one
 * write transaction (a failing work's child is aborted alone) and commits the batch once:
 * with durable, one fsync for the whole batch.  Only then are the results handed back. */

#define COMMIT_QUEUE_CAP 4096
#define COMMIT_BATCH     256

struct write_item {
	store_write_work work;
	void *arg;
	store_write_finished finished;
	void *ctx;
	int rc;
};

static pthread_mutex_t g_commit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_commit_wake = PTHREAD_COND_INITIALIZER;
static struct write_item *g_commit_queue; /* ring of COMMIT_QUEUE_CAP */
static size_t g_commit_head, g_commit_len;
static int g_commit_running, g_commit_stopping;
static pthread_t g_committer;

static void batch_fail(struct write_item *items, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].rc == 0)
			items[i].rc = rc;
}

/* Run the works of one batch and commit it.  After MDB_MAP_FULL (in a work or in the
 * commit) the whole batch is aborted, the map grown and every work run again. */
static void batch_commit(struct write_item *items, size_t n)
{
	for (int attempt = 0;; attempt++) {
		sensed_txn *txn;
		int rc = txn_open(1, &txn), map_full;
		size_t seen;

		if (rc != 0) {
			for (size_t i = 0; i < n; i++)
				items[i].rc = rc;
			return;
		}
		for (size_t i = 0; i < n && !txn->map_full; i++) {
			sensed_txn child = {
			    .write = 1, .map_size_at_begin = txn->map_size_at_begin, .nested = 1};

			rc = mdb_txn_begin(g_env, txn->mdb, 0, &child.mdb);
			if (rc != 0) {
				items[i].rc = from_mdb(rc, txn);
				continue;
			}
			tl_in_work = 1;
			items[i].rc = items[i].work(&child, items[i].arg);
			tl_in_work = 0;
			if (items[i].rc == 0)
				items[i].rc = from_mdb(mdb_txn_commit(child.mdb), &child);
			else
				mdb_txn_abort(child.mdb);
			if (child.map_full)
				txn->map_full = 1;
		}
		if (txn->map_full) {
			mdb_txn_abort(txn->mdb);
			rc = SENSED_ETOOLARGE;
		} else {
			rc = from_mdb(mdb_txn_commit(txn->mdb), txn);
			if (rc == 0)
				__atomic_fetch_add(&store_group_commits, 1, __ATOMIC_RELAXED);
		}
		txn_release(txn, &map_full, &seen);
		if (map_full && attempt < STORE_MAX_GROWTHS) {
			rc = grow_map(seen);
			if (rc == 0) {
				for (size_t i = 0; i < n; i++)
					items[i].rc = 0;
				continue;
			}
		}
		if (rc != 0)
			batch_fail(items, n, rc);
		return;
	}
}

static void *committer_main(void *unused)
{
	static struct write_item batch[COMMIT_BATCH]; /* this thread's only */

	(void)unused;
	for (;;) {
		size_t n = 0;

		pthread_mutex_lock(&g_commit_lock);
		while (g_commit_len == 0 && !g_commit_stopping)
			pthread_cond_wait(&g_commit_wake, &g_commit_lock);
		if (g_commit_len == 0) {
			pthread_mutex_unlock(&g_commit_lock);
			return NULL;
		}
		while (n < COMMIT_BATCH && g_commit_len > 0) {
			batch[n++] = g_commit_queue[g_commit_head];
			g_commit_head = (g_commit_head + 1) % COMMIT_QUEUE_CAP;
			g_commit_len--;
		}
		pthread_mutex_unlock(&g_commit_lock);
		for (size_t i = 0; i < n; i++)
			batch[i].rc = 0;
		batch_commit(batch, n);
		for (size_t i = 0; i < n; i++)
			batch[i].finished(batch[i].ctx, batch[i].rc);
	}
}

int store_write_submit(store_write_work work, void *arg, store_write_finished finished, void *ctx)
{
	int rc = 0;

	if (work == NULL || finished == NULL)
		return SENSED_EINVAL;
	pthread_mutex_lock(&g_commit_lock);
	if (g_env == NULL || g_commit_stopping) {
		rc = SENSED_ESTATE;
	} else if (!g_commit_running) {
		g_commit_queue = calloc(COMMIT_QUEUE_CAP, sizeof(*g_commit_queue));
		if (g_commit_queue == NULL) {
			rc = SENSED_ENOMEM;
		} else if (pthread_create(&g_committer, NULL, committer_main, NULL) != 0) {
			free(g_commit_queue);
			g_commit_queue = NULL;
			rc = SENSED_ENOMEM;
		} else {
			g_commit_head = g_commit_len = 0;
			g_commit_running = 1;
		}
	}
	if (rc == 0 && g_commit_len == COMMIT_QUEUE_CAP)
		rc = SENSED_EBUSY;
	if (rc == 0) {
		g_commit_queue[(g_commit_head + g_commit_len) % COMMIT_QUEUE_CAP] =
		    (struct write_item){.work = work, .arg = arg, .finished = finished, .ctx = ctx};
		g_commit_len++;
		pthread_cond_signal(&g_commit_wake);
	}
	pthread_mutex_unlock(&g_commit_lock);
	return rc;
}

void store_writes_stop(void)
{
	int running;

	pthread_mutex_lock(&g_commit_lock);
	g_commit_stopping = 1;
	running = g_commit_running;
	pthread_cond_broadcast(&g_commit_wake);
	pthread_mutex_unlock(&g_commit_lock);
	if (!running)
		return;
	pthread_join(g_committer, NULL);
	pthread_mutex_lock(&g_commit_lock);
	free(g_commit_queue);
	g_commit_queue = NULL;
	g_commit_running = 0;
	pthread_mutex_unlock(&g_commit_lock);
}

/* ---- Open, close, backup -------------------------------------------------------------- */

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return SENSED_ESTORE;
	return 0;
}

int store_open(const char *dir, const struct store_options *opt)
{
	int rc, dead;
	unsigned flags = MDB_NOTLS;

	if (dir == NULL)
		return SENSED_EINVAL;
	if (g_env != NULL)
		return SENSED_ESTATE;
	if (opt != NULL)
		g_options = *opt;
	else
		g_options = (struct store_options){.durable = 1};
	if (g_options.map_size == 0)
		g_options.map_size = (size_t)1 << 30;
	if (g_options.max_limit <= 0)
		g_options.max_limit = 1000;
	if (g_options.max_collections <= 0)
		g_options.max_collections = 256;
	if (!g_options.durable)
		flags |= MDB_NOSYNC;
	rc = make_dir(dir);
	if (rc != 0)
		return rc;
	rc = mdb_env_create(&g_env);
	if (rc != 0) {
		g_env = NULL;
		return from_mdb(rc, NULL);
	}
	rc = mdb_env_set_maxdbs(g_env, (MDB_dbi)g_options.max_collections);
	if (rc == 0)
		rc = mdb_env_set_mapsize(g_env, g_options.map_size);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(g_env, 1024);
	if (rc == 0)
		rc = mdb_env_open(g_env, dir, flags, 0600);
	if (rc != 0) {
		mdb_env_close(g_env);
		g_env = NULL;
		return from_mdb(rc, NULL);
	}
	mdb_reader_check(g_env, &dead);
	pthread_mutex_lock(&g_commit_lock);
	g_commit_stopping = 0;
	pthread_mutex_unlock(&g_commit_lock);
	return 0;
}

static void collection_free(sensed_collection *coll)
{
	for (size_t i = 0; i < coll->index_count; i++)
		free(coll->indexes[i].path);
	for (size_t i = 0; i < coll->reference_count; i++) {
		free(coll->references[i].field);
		free(coll->references[i].as);
	}
	free(coll->name);
	free(coll);
}

void store_close(void)
{
	store_writes_stop();
	for (size_t i = 0; i < g_collection_count; i++)
		collection_free(g_collections[i]);
	free(g_collections);
	g_collections = NULL;
	g_collection_count = 0;
	if (g_env != NULL)
		mdb_env_close(g_env);
	g_env = NULL;
}

int store_reader_check(void)
{
	int dead = 0;

	if (g_env == NULL || mdb_reader_check(g_env, &dead) != 0)
		return 0;
	return dead;
}

int store_backup(const char *dir, const char *out)
{
	MDB_env *env;
	int rc;

	if (dir == NULL || out == NULL)
		return SENSED_EINVAL;
	rc = make_dir(out);
	if (rc != 0)
		return rc;
	rc = mdb_env_create(&env);
	if (rc != 0)
		return from_mdb(rc, NULL);
	rc = mdb_env_set_maxdbs(env, 1024);
	if (rc == 0)
		rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600);
	if (rc == 0) {
		rc = mdb_env_copy2(env, out, MDB_CP_COMPACT);
		if (rc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(env, 0);
			rc = mdb_env_copy2(env, out, MDB_CP_COMPACT);
		}
	}
	mdb_env_close(env);
	if (rc == ENOENT)
		return SENSED_ENOTFOUND;
	if (rc == EEXIST)
		return SENSED_EEXISTS;
	return from_mdb(rc, NULL);
}

/* ---- Collections, indexes, references ------------------------------------------------- */

static int name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > STORE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int path_valid(const char *path)
{
	size_t len = path ? strlen(path) : 0;

	if (len == 0 || len > STORE_PATH_MAX || path[0] == '.' || path[0] == '$' ||
	    path[len - 1] == '.' || strstr(path, "..") != NULL)
		return 0;
	return 1;
}

struct dbi_open_args {
	const char *name;
	unsigned flags;
	MDB_dbi dbi;
};

static int dbi_open_body(sensed_txn *txn, void *arg)
{
	struct dbi_open_args *a = arg;

	return from_mdb(mdb_dbi_open(txn->mdb, a->name, a->flags, &a->dbi), txn);
}

static sensed_collection *collection_find(const char *name)
{
	for (size_t i = 0; i < g_collection_count; i++) {
		if (strcmp(g_collections[i]->name, name) == 0)
			return g_collections[i];
	}
	return NULL;
}

int store_collection_open(const char *owner, const char *name, sensed_collection **out)
{
	char db_name[STORE_NAME_MAX + 3];
	struct dbi_open_args args = {.name = db_name, .flags = MDB_CREATE};
	sensed_collection *coll, **grown;
	int rc;

	(void)owner; /* collections are shared by name: any owner may open one */
	if (out == NULL || !name_valid(name))
		return SENSED_EINVAL;
	*out = collection_find(name);
	if (*out != NULL)
		return 0;
	snprintf(db_name, sizeof(db_name), "c:%s", name);
	rc = run_in_txn(NULL, 1, dbi_open_body, &args);
	if (rc != 0)
		return rc;
	coll = calloc(1, sizeof(*coll));
	grown = realloc(g_collections, (g_collection_count + 1) * sizeof(*grown));
	if (grown != NULL)
		g_collections = grown;
	if (coll == NULL || grown == NULL || (coll->name = strdup(name)) == NULL) {
		free(coll);
		return SENSED_ENOMEM;
	}
	coll->docs = args.dbi;
	g_collections[g_collection_count++] = coll;
	*out = coll;
	return 0;
}

const char *store_collection_name(const sensed_collection *coll)
{
	return coll ? coll->name : NULL;
}

/* ---- Index keys ----------------------------------------------------------------------- */

struct index_key {
	size_t len;
	unsigned char bytes[INDEX_KEY_MAX];
	const json_t *value; /* borrowed from the document the key came from */
};

struct key_list {
	struct index_key *items;
	size_t count;
	size_t capacity;
};

static void key_list_free(struct key_list *list)
{
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* Encode `value` so that LMDB's bytewise order is the value order within a type.
 * Returns 0 when the value is not indexed (null, objects, arrays).  Strings longer than
 * the key allows are truncated: lookups and unique checks then verify the document. */
static int encode_key(const json_t *value, unsigned char *out, size_t *len)
{
	if (json_is_number(value)) {
		double d = json_number_value(value);
		uint64_t bits;

		if (d == 0)
			d = 0; /* -0 and 0 are one key */
		memcpy(&bits, &d, sizeof(bits));
		bits = (bits & (UINT64_C(1) << 63)) ? ~bits : bits | (UINT64_C(1) << 63);
		out[0] = TAG_NUMBER;
		for (int i = 0; i < 8; i++)
			out[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
		*len = 9;
		return 1;
	}
	if (json_is_string(value)) {
		size_t n = json_string_length(value);

		if (n > INDEX_KEY_MAX - 1)
			n = INDEX_KEY_MAX - 1;
		out[0] = TAG_STRING;
		memcpy(out + 1, json_string_value(value), n);
		*len = n + 1;
		return 1;
	}
	if (json_is_boolean(value)) {
		out[0] = TAG_BOOL;
		out[1] = json_is_true(value);
		*len = 2;
		return 1;
	}
	return 0;
}

static int doc_index_keys(const struct store_index *index, const json_t *doc, struct key_list *out)
{
	struct value_list values;
	int rc;

	memset(out, 0, sizeof(*out));
	value_list_init(&values);
	rc = path_values(doc, index->path, &values);
	for (size_t i = 0; rc == 0 && i < values.count; i++) {
		struct index_key *key;

		if (out->count == out->capacity) {
			size_t capacity = out->capacity ? out->capacity * 2 : 4;
			struct index_key *items = realloc(out->items, capacity * sizeof(*items));

			if (items == NULL) {
				rc = SENSED_ENOMEM;
				break;
			}
			out->items = items;
			out->capacity = capacity;
		}
		key = &out->items[out->count];
		if (encode_key(values.items[i], key->bytes, &key->len)) {
			key->value = values.items[i];
			out->count++;
		}
	}
	value_list_free(&values);
	if (rc != 0)
		key_list_free(out);
	return rc;
}

/* ---- Documents ------------------------------------------------------------------------ */

static int doc_load(sensed_txn *txn, sensed_collection *coll, const char *id, json_t **out)
{
	MDB_val key = {.mv_size = ID_LEN, .mv_data = (void *)id}, data;
	json_error_t error;
	int rc = mdb_get(txn->mdb, coll->docs, &key, &data);

	*out = NULL;
	if (rc != 0)
		return from_mdb(rc, txn);
	*out = json_load_checked(data.mv_data, data.mv_size, 0, &error);
	if (*out == NULL)
		return json_error_code(&error) == json_error_out_of_memory ? SENSED_ENOMEM
		                                                           : SENSED_ESTORE;
	return 0;
}

static int doc_has_value(const json_t *doc, const char *path, const json_t *value)
{
	struct value_list values;
	int found = 0;

	value_list_init(&values);
	if (path_values(doc, path, &values) == 0) {
		for (size_t i = 0; i < values.count && !found; i++)
			found = !json_is_array(values.items[i]) &&
			        json_value_compare(values.items[i], value) == 0;
	}
	value_list_free(&values);
	return found;
}

/* SENSED_EUNIQUE when another document than `own_id` holds key->value. */
static int unique_check(sensed_txn *txn, sensed_collection *coll, const struct store_index *index,
                        const struct index_key *key, const char *own_id)
{
	MDB_cursor *cursor;
	MDB_val k = {.mv_size = key->len, .mv_data = (void *)key->bytes}, d;
	int rc = mdb_cursor_open(txn->mdb, index->dbi, &cursor), result = 0;

	if (rc != 0)
		return from_mdb(rc, txn);
	rc = mdb_cursor_get(cursor, &k, &d, MDB_SET_KEY);
	while (rc == 0 && result == 0) {
		if (d.mv_size == ID_LEN && memcmp(d.mv_data, own_id, ID_LEN) != 0) {
			char other[ID_LEN];
			json_t *doc;

			/* The key may be lossy (truncated string, integer past 2^53): the
			 * document decides. */
			memcpy(other, d.mv_data, ID_LEN);
			result = doc_load(txn, coll, other, &doc);
			if (result == 0 && doc_has_value(doc, index->path, key->value))
				result = SENSED_EUNIQUE;
			else if (result == SENSED_ENOTFOUND)
				result = 0;
			json_decref(doc);
		}
		rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cursor);
	if (result == 0 && rc != MDB_NOTFOUND)
		result = from_mdb(rc, txn);
	return result;
}

/* Keys of `doc` for every index of `coll` (keys[i] for coll->indexes[i]), unique
 * indexes checked against documents other than `id`. */
static int collect_keys(sensed_txn *txn, sensed_collection *coll, const json_t *doc, const char *id,
                        int check_unique, struct key_list *keys)
{
	for (size_t i = 0; i < coll->index_count; i++) {
		int rc = doc_index_keys(&coll->indexes[i], doc, &keys[i]);

		if (rc != 0)
			return rc;
		if (!check_unique || !(coll->indexes[i].flags & SENSED_INDEX_UNIQUE))
			continue;
		for (size_t k = 0; k < keys[i].count; k++) {
			rc = unique_check(txn, coll, &coll->indexes[i], &keys[i].items[k], id);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static int index_put(sensed_txn *txn, const struct store_index *index, const struct key_list *keys,
                     const char *id)
{
	for (size_t k = 0; k < keys->count; k++) {
		MDB_val key = {.mv_size = keys->items[k].len,
		               .mv_data = (void *)keys->items[k].bytes};
		MDB_val data = {.mv_size = ID_LEN, .mv_data = (void *)id};
		int rc = mdb_put(txn->mdb, index->dbi, &key, &data, MDB_NODUPDATA);

		if (rc != 0 && rc != MDB_KEYEXIST) /* a value twice in one array */
			return from_mdb(rc, txn);
	}
	return 0;
}

static int index_del(sensed_txn *txn, const struct store_index *index, const struct key_list *keys,
                     const char *id)
{
	for (size_t k = 0; k < keys->count; k++) {
		MDB_val key = {.mv_size = keys->items[k].len,
		               .mv_data = (void *)keys->items[k].bytes};
		MDB_val data = {.mv_size = ID_LEN, .mv_data = (void *)id};
		int rc = mdb_del(txn->mdb, index->dbi, &key, &data);

		if (rc != 0 && rc != MDB_NOTFOUND)
			return from_mdb(rc, txn);
	}
	return 0;
}

static void keys_free(struct key_list *keys, size_t count)
{
	for (size_t i = 0; i < count; i++)
		key_list_free(&keys[i]);
}

static int doc_put(sensed_txn *txn, sensed_collection *coll, const char *id, const json_t *doc,
                   unsigned flags)
{
	char *bytes = json_dumps(doc, JSON_COMPACT);
	MDB_val key = {.mv_size = ID_LEN, .mv_data = (void *)id}, data;
	int rc;

	if (bytes == NULL)
		return SENSED_ENOMEM;
	data.mv_size = strlen(bytes);
	data.mv_data = bytes;
	rc = mdb_put(txn->mdb, coll->docs, &key, &data, flags);
	free(bytes);
	return from_mdb(rc, txn);
}

static int stamp(json_t *doc, const char *name, const char *date)
{
	return json_object_set_new(doc, name, json_string(date)) == 0 ? 0 : SENSED_ENOMEM;
}

struct write_args {
	sensed_collection *coll;
	json_t *doc;
	const char *id;
	char *id_out;
};

static int insert_body(sensed_txn *txn, void *arg)
{
	struct write_args *a = arg;
	const json_t *given = json_object_get(a->doc, "_id");
	struct key_list keys[STORE_MAX_INDEXES] = {0};
	char id[ID_LEN + 1], now[25];
	MDB_val key = {.mv_size = ID_LEN, .mv_data = id}, data;
	int rc;

	if (given != NULL) {
		if (!json_is_string(given) || !object_id_valid(json_string_value(given)))
			return SENSED_EBADID;
		memcpy(id, json_string_value(given), sizeof(id));
	} else {
		object_id_new(id);
		if (json_object_set_new(a->doc, "_id", json_string(id)) != 0)
			return SENSED_ENOMEM;
	}
	date_format(-1, now);
	if ((rc = stamp(a->doc, "created", now)) != 0 ||
	    (rc = stamp(a->doc, "lastUpdated", now)) != 0)
		return rc;
	rc = mdb_get(txn->mdb, a->coll->docs, &key, &data);
	if (rc != MDB_NOTFOUND)
		return rc == 0 ? SENSED_EEXISTS : from_mdb(rc, txn);
	/* Every check before the first write: a failed insert leaves the txn untouched. */
	rc = collect_keys(txn, a->coll, a->doc, id, 1, keys);
	if (rc == 0)
		rc = doc_put(txn, a->coll, id, a->doc, MDB_NOOVERWRITE);
	for (size_t i = 0; rc == 0 && i < a->coll->index_count; i++)
		rc = index_put(txn, &a->coll->indexes[i], &keys[i], id);
	keys_free(keys, a->coll->index_count);
	if (rc == 0 && a->id_out != NULL)
		memcpy(a->id_out, id, sizeof(id));
	return rc;
}

int store_doc_insert(sensed_txn *txn, sensed_collection *coll, json_t *doc, char *id_out)
{
	struct write_args args = {.coll = coll, .doc = doc, .id_out = id_out};

	if (coll == NULL || !json_is_object(doc))
		return SENSED_EINVAL;
	return run_in_txn(txn, 1, insert_body, &args);
}

static int replace_body(sensed_txn *txn, void *arg)
{
	struct write_args *a = arg;
	struct key_list old_keys[STORE_MAX_INDEXES] = {0}, new_keys[STORE_MAX_INDEXES] = {0};
	const json_t *created;
	json_t *old;
	char now[25];
	int rc = doc_load(txn, a->coll, a->id, &old);

	if (rc != 0)
		return rc;
	created = json_object_get(old, "created");
	date_format(-1, now);
	if (json_object_set_new(a->doc, "_id", json_string(a->id)) != 0 ||
	    (created != NULL && json_object_set(a->doc, "created", (json_t *)created) != 0) ||
	    stamp(a->doc, "lastUpdated", now) != 0) {
		json_decref(old);
		return SENSED_ENOMEM;
	}
	rc = collect_keys(txn, a->coll, a->doc, a->id, 1, new_keys);
	if (rc == 0)
		rc = collect_keys(txn, a->coll, old, a->id, 0, old_keys);
	for (size_t i = 0; rc == 0 && i < a->coll->index_count; i++)
		rc = index_del(txn, &a->coll->indexes[i], &old_keys[i], a->id);
	if (rc == 0)
		rc = doc_put(txn, a->coll, a->id, a->doc, 0);
	for (size_t i = 0; rc == 0 && i < a->coll->index_count; i++)
		rc = index_put(txn, &a->coll->indexes[i], &new_keys[i], a->id);
	keys_free(old_keys, a->coll->index_count);
	keys_free(new_keys, a->coll->index_count);
	json_decref(old);
	return rc;
}

int store_doc_replace(sensed_txn *txn, sensed_collection *coll, const char *id, json_t *doc)
{
	/* `id` may borrow from doc's own "_id", which the replacement rewrites: copy it. */
	char own_id[ID_LEN + 1];
	struct write_args args = {.coll = coll, .doc = doc, .id = own_id};

	if (coll == NULL || !json_is_object(doc))
		return SENSED_EINVAL;
	if (!object_id_valid(id))
		return SENSED_EBADID;
	memcpy(own_id, id, ID_LEN + 1);
	return run_in_txn(txn, 1, replace_body, &args);
}

static int delete_body(sensed_txn *txn, void *arg)
{
	struct write_args *a = arg;
	struct key_list keys[STORE_MAX_INDEXES] = {0};
	MDB_val key = {.mv_size = ID_LEN, .mv_data = (void *)a->id};
	json_t *old;
	int rc = doc_load(txn, a->coll, a->id, &old);

	if (rc != 0)
		return rc;
	rc = collect_keys(txn, a->coll, old, a->id, 0, keys);
	for (size_t i = 0; rc == 0 && i < a->coll->index_count; i++)
		rc = index_del(txn, &a->coll->indexes[i], &keys[i], a->id);
	if (rc == 0)
		rc = from_mdb(mdb_del(txn->mdb, a->coll->docs, &key, NULL), txn);
	keys_free(keys, a->coll->index_count);
	json_decref(old);
	return rc;
}

int store_doc_delete(sensed_txn *txn, sensed_collection *coll, const char *id)
{
	struct write_args args = {.coll = coll, .id = id};

	if (coll == NULL)
		return SENSED_EINVAL;
	if (!object_id_valid(id))
		return SENSED_EBADID;
	return run_in_txn(txn, 1, delete_body, &args);
}

struct get_args {
	sensed_collection *coll;
	const char *id;
	json_t *doc;
};

static int get_body(sensed_txn *txn, void *arg)
{
	struct get_args *a = arg;

	return doc_load(txn, a->coll, a->id, &a->doc);
}

int store_doc_get(sensed_txn *txn, sensed_collection *coll, const char *id, json_t **out)
{
	struct get_args args = {.coll = coll, .id = id};
	int rc;

	if (out == NULL || coll == NULL)
		return SENSED_EINVAL;
	*out = NULL;
	if (!object_id_valid(id))
		return SENSED_EBADID;
	rc = run_in_txn(txn, 0, get_body, &args);
	if (rc == 0)
		*out = args.doc;
	return rc;
}

int store_doc_get_raw(sensed_txn *txn, sensed_collection *coll, const char *id, const char **bytes,
                      size_t *len)
{
	MDB_val key = {.mv_size = ID_LEN, .mv_data = (void *)id}, data;
	int rc;

	if (txn == NULL || coll == NULL || bytes == NULL || len == NULL)
		return SENSED_EINVAL;
	if (!object_id_valid(id))
		return SENSED_EBADID;
	rc = mdb_get(txn->mdb, coll->docs, &key, &data);
	if (rc != 0)
		return from_mdb(rc, txn);
	*bytes = data.mv_data;
	*len = data.mv_size;
	return 0;
}

/* ---- Index and reference declarations ------------------------------------------------- */

struct build_args {
	sensed_collection *coll;
	struct store_index *index; /* not yet listed in coll */
	char db_name[STORE_NAME_MAX + STORE_PATH_MAX + 4];
};

/* (Re)build the index from every document, in one write transaction: rebuilding at each
 * start-up keeps it right even if documents changed while it was not declared. */
static int build_index_body(sensed_txn *txn, void *arg)
{
	struct build_args *a = arg;
	MDB_cursor *cursor;
	MDB_val key, data;
	int rc = mdb_dbi_open(txn->mdb, a->db_name, MDB_CREATE | MDB_DUPSORT, &a->index->dbi);

	if (rc == 0)
		rc = mdb_drop(txn->mdb, a->index->dbi, 0);
	if (rc == 0)
		rc = mdb_cursor_open(txn->mdb, a->coll->docs, &cursor);
	if (rc != 0)
		return from_mdb(rc, txn);
	rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
	while (rc == 0) {
		json_error_t error;
		json_t *doc = json_load_checked(data.mv_data, data.mv_size, 0, &error);
		struct key_list keys;
		char id[ID_LEN];
		int result;

		if (doc == NULL || key.mv_size != ID_LEN) {
			json_decref(doc);
			rc = doc == NULL && json_error_code(&error) == json_error_out_of_memory
			         ? SENSED_ENOMEM
			         : SENSED_ESTORE;
			break;
		}
		memcpy(id, key.mv_data, ID_LEN);
		result = doc_index_keys(a->index, doc, &keys);
		for (size_t k = 0;
		     result == 0 && (a->index->flags & SENSED_INDEX_UNIQUE) && k < keys.count; k++)
			result = unique_check(txn, a->coll, a->index, &keys.items[k], id);
		if (result == 0)
			result = index_put(txn, a->index, &keys, id);
		key_list_free(&keys);
		json_decref(doc);
		if (result != 0) {
			mdb_cursor_close(cursor);
			return result;
		}
		rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	return rc == MDB_NOTFOUND ? 0 : rc < 0 && rc > -100 ? rc : from_mdb(rc, txn);
}

static struct store_index *index_find(sensed_collection *coll, const char *path)
{
	for (size_t i = 0; i < coll->index_count; i++) {
		if (strcmp(coll->indexes[i].path, path) == 0)
			return &coll->indexes[i];
	}
	return NULL;
}

int store_index_declare(sensed_collection *coll, const char *path, unsigned flags)
{
	struct store_index *existing, index = {.flags = flags};
	struct build_args args = {.coll = coll, .index = &index};
	int rc;

	if (coll == NULL || !path_valid(path) || (flags & ~SENSED_INDEX_UNIQUE) != 0)
		return SENSED_EINVAL;
	existing = index_find(coll, path);
	if (existing != NULL)
		return existing->flags == flags ? 0 : SENSED_EEXISTS;
	if (coll->index_count == STORE_MAX_INDEXES)
		return SENSED_ETOOLARGE;
	snprintf(args.db_name, sizeof(args.db_name), "i:%s:%s", coll->name, path);
	index.path = strdup(path);
	if (index.path == NULL)
		return SENSED_ENOMEM;
	rc = run_in_txn(NULL, 1, build_index_body, &args);
	if (rc != 0) {
		free(index.path);
		return rc;
	}
	coll->indexes[coll->index_count++] = index;
	return 0;
}

static struct store_reference *reference_find(sensed_collection *coll, const char *as, size_t len)
{
	for (size_t i = 0; i < coll->reference_count; i++) {
		if (strlen(coll->references[i].as) == len &&
		    memcmp(coll->references[i].as, as, len) == 0)
			return &coll->references[i];
	}
	return NULL;
}

int store_reference_declare(sensed_collection *from, const char *field, const char *as,
                            sensed_collection *to, const char *to_key)
{
	struct store_reference ref = {.to = to};

	if (from == NULL || to == NULL || !path_valid(field) || !name_valid(as) ||
	    strchr(as, '.') != NULL || to_key == NULL)
		return SENSED_EINVAL;
	if (reference_find(from, as, strlen(as)) != NULL)
		return SENSED_EEXISTS;
	if (from->reference_count == STORE_MAX_REFERENCES)
		return SENSED_ETOOLARGE;
	if (strcmp(to_key, "_id") != 0) {
		ref.to_index = index_find(to, to_key);
		if (ref.to_index == NULL)
			return SENSED_EINVAL; /* declare the index on `to_key` first */
	}
	ref.field = strdup(field);
	ref.as = strdup(as);
	if (ref.field == NULL || ref.as == NULL) {
		free(ref.field);
		free(ref.as);
		return SENSED_ENOMEM;
	}
	from->references[from->reference_count++] = ref;
	return 0;
}

/* ---- Query planning ------------------------------------------------------------------- */

struct id_list {
	char (*ids)[ID_LEN];
	size_t count;
	size_t capacity;
};

static int id_list_push(struct id_list *list, const void *id)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		char(*ids)[ID_LEN] = realloc(list->ids, capacity * ID_LEN);

		if (ids == NULL)
			return SENSED_ENOMEM;
		list->ids = ids;
		list->capacity = capacity;
	}
	memcpy(list->ids[list->count++], id, ID_LEN);
	return 0;
}

static int compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, ID_LEN);
}

/* Sort into storage (_id) order and drop duplicates (multikey entries, $in overlaps). */
static void id_list_normalise(struct id_list *list)
{
	size_t kept = 0;

	if (list->count == 0)
		return;
	qsort(list->ids, list->count, ID_LEN, compare_ids);
	for (size_t i = 1; i < list->count; i++) {
		if (memcmp(list->ids[i], list->ids[kept], ID_LEN) != 0)
			memcpy(list->ids[++kept], list->ids[i], ID_LEN);
	}
	list->count = kept + 1;
}

static int index_point_ids(sensed_txn *txn, const struct store_index *index, const json_t *value,
                           struct id_list *ids)
{
	unsigned char bytes[INDEX_KEY_MAX];
	MDB_val key = {.mv_data = bytes}, data;
	MDB_cursor *cursor;
	int rc;

	if (!encode_key(value, bytes, &key.mv_size))
		return 0;
	rc = mdb_cursor_open(txn->mdb, index->dbi, &cursor);
	if (rc != 0)
		return from_mdb(rc, txn);
	rc = mdb_cursor_get(cursor, &key, &data, MDB_SET_KEY);
	while (rc == 0) {
		if (data.mv_size == ID_LEN && (rc = id_list_push(ids, data.mv_data)) != 0)
			break;
		rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cursor);
	return rc == MDB_NOTFOUND ? 0 : rc < 0 && rc > -100 ? rc : from_mdb(rc, txn);
}

/* Every entry between `lower` and `upper`, both inclusive (strict bounds and truncated
 * keys are settled by the filter afterwards). */
static int index_range_ids(sensed_txn *txn, const struct store_index *index, const json_t *lower,
                           const json_t *upper, int tag, struct id_list *ids)
{
	unsigned char low[INDEX_KEY_MAX], high[INDEX_KEY_MAX];
	MDB_val key = {.mv_data = low, .mv_size = 1}, end = {.mv_data = high, .mv_size = 1}, data;
	int end_inclusive = upper != NULL;
	MDB_cursor *cursor;
	int rc;

	low[0] = (unsigned char)tag;
	high[0] = (unsigned char)(tag + 1);
	if (lower != NULL)
		encode_key(lower, low, &key.mv_size);
	if (upper != NULL)
		encode_key(upper, high, &end.mv_size);
	rc = mdb_cursor_open(txn->mdb, index->dbi, &cursor);
	if (rc != 0)
		return from_mdb(rc, txn);
	rc = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE);
	while (rc == 0) {
		int c = mdb_cmp(txn->mdb, index->dbi, &key, &end);

		if (c > 0 || (c == 0 && !end_inclusive))
			break;
		if (data.mv_size == ID_LEN && (rc = id_list_push(ids, data.mv_data)) != 0)
			break;
		rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc < 0 && rc > -100 ? rc : from_mdb(rc, txn);
}

static int indexable(const json_t *value)
{
	return json_is_number(value) || json_is_string(value) || json_is_boolean(value);
}

enum plan_kind { PLAN_NONE, PLAN_RANGE, PLAN_IN, PLAN_EQ };

struct plan {
	enum plan_kind kind;
	const struct store_index *index;
	const json_t *value; /* PLAN_EQ: the value; PLAN_IN: the array */
	const json_t *lower, *upper;
	int tag;
};

/* How one member {path: condition} of a filter can use an index. */
static void plan_member(sensed_collection *coll, const char *path, const json_t *cond,
                        struct plan *best)
{
	const struct store_index *index = index_find(coll, path);
	struct plan p = {.index = index};
	const char *op;
	const json_t *operand;

	if (index == NULL)
		return;
	if (indexable(cond)) {
		p.kind = PLAN_EQ;
		p.value = cond;
	} else if (json_is_object(cond)) {
		json_object_foreach((json_t *)cond, op, operand)
		{
			if (strcmp(op, "$eq") == 0 && indexable(operand)) {
				p.kind = PLAN_EQ;
				p.value = operand;
				break;
			}
			if (strcmp(op, "$in") == 0 && json_is_array(operand)) {
				int all = 1;

				for (size_t i = 0; i < json_array_size(operand) && all; i++)
					all = indexable(json_array_get(operand, i));
				if (all && p.kind < PLAN_IN) {
					p.kind = PLAN_IN;
					p.value = operand;
				}
				continue;
			}
			if (p.kind > PLAN_RANGE ||
			    !(json_is_number(operand) || json_is_string(operand)))
				continue;
			int tag = json_is_number(operand) ? TAG_NUMBER : TAG_STRING;

			if (p.kind == PLAN_RANGE && p.tag != tag)
				continue;
			if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0)
				p.lower = operand;
			else if (strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0)
				p.upper = operand;
			else
				continue;
			p.kind = PLAN_RANGE;
			p.tag = tag;
		}
	}
	if (p.kind > best->kind)
		*best = p;
}

static void plan_filter(sensed_collection *coll, const json_t *spec, int depth, struct plan *best)
{
	const char *key;
	const json_t *value;

	if (!json_is_object(spec) || depth > 2)
		return;
	json_object_foreach((json_t *)spec, key, value)
	{
		if (strcmp(key, "$and") == 0 && json_is_array(value)) {
			for (size_t i = 0; i < json_array_size(value); i++)
				plan_filter(coll, json_array_get(value, i), depth + 1, best);
		} else if (key[0] != '$') {
			plan_member(coll, key, value, best);
		}
	}
}

/* Candidate ids from the best index for `spec`: 1 when an index was used (*ids sorted,
 * unique, a superset of the matches), 0 when the collection must be scanned. */
static int plan_candidates(sensed_txn *txn, sensed_collection *coll, const json_t *spec,
                           struct id_list *ids)
{
	struct plan best = {.kind = PLAN_NONE};
	int rc = 0;

	plan_filter(coll, spec, 0, &best);
	switch (best.kind) {
	case PLAN_NONE:
		return 0;
	case PLAN_EQ:
		rc = index_point_ids(txn, best.index, best.value, ids);
		break;
	case PLAN_IN:
		for (size_t i = 0; rc == 0 && i < json_array_size(best.value); i++)
			rc = index_point_ids(txn, best.index, json_array_get(best.value, i), ids);
		break;
	case PLAN_RANGE:
		rc = index_range_ids(txn, best.index, best.lower, best.upper, best.tag, ids);
		break;
	}
	if (rc != 0)
		return rc;
	id_list_normalise(ids);
	return 1;
}

/* ---- Matching ------------------------------------------------------------------------- */

/* Called with each matching document (a new reference the visitor owns).  Returns 0 to
 * go on, 1 to stop, or a negative error. */
typedef int (*match_visitor)(json_t *doc, void *ctx);

static int visit_bytes(const MDB_val *data, const struct filter *filter, match_visitor visit,
                       void *ctx)
{
	json_error_t error;
	json_t *doc = json_load_checked(data->mv_data, data->mv_size, 0, &error);

	if (doc == NULL)
		return json_error_code(&error) == json_error_out_of_memory ? SENSED_ENOMEM
		                                                           : SENSED_ESTORE;
	examined_add();
	if (!filter_match(filter, doc)) {
		json_decref(doc);
		return 0;
	}
	return visit(doc, ctx);
}

static int for_each_match(sensed_txn *txn, sensed_collection *coll, const json_t *spec,
                          const struct filter *filter, match_visitor visit, void *ctx)
{
	struct id_list ids = {0};
	MDB_cursor *cursor;
	MDB_val key, data;
	int rc = plan_candidates(txn, coll, spec, &ids);

	if (rc < 0)
		return rc;
	if (rc == 1) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < ids.count; i++) {
			key.mv_size = ID_LEN;
			key.mv_data = ids.ids[i];
			rc = mdb_get(txn->mdb, coll->docs, &key, &data);
			if (rc == MDB_NOTFOUND) {
				rc = 0;
				continue;
			}
			rc = rc ? from_mdb(rc, txn) : visit_bytes(&data, filter, visit, ctx);
		}
		free(ids.ids);
		return rc < 0 ? rc : 0;
	}
	rc = mdb_cursor_open(txn->mdb, coll->docs, &cursor);
	if (rc != 0)
		return from_mdb(rc, txn);
	rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
	while (rc == 0) {
		rc = visit_bytes(&data, filter, visit, ctx);
		if (rc != 0)
			break;
		rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	if (rc == 1 || rc == MDB_NOTFOUND)
		return 0;
	return rc < 0 && rc > -100 ? rc : from_mdb(rc, txn);
}

/* ---- Expansion ------------------------------------------------------------------------ */

/* Parse "groups,role,groups.users" into a tree {"groups": {"users": {}}, "role": {}},
 * every name checked against the references of the collection it applies to. */
static int expand_parse(sensed_collection *coll, const char *expand, json_t **out)
{
	json_t *tree;

	*out = NULL;
	if (expand == NULL || expand[0] == '\0')
		return 0;
	tree = json_object();
	if (tree == NULL)
		return SENSED_ENOMEM;
	for (const char *item = expand; *item;) {
		size_t len = strcspn(item, ",");
		sensed_collection *current = coll;
		json_t *node = tree;
		int depth = 0;

		for (const char *segment = item; len > 0 && segment < item + len;) {
			size_t seg_len = strcspn(segment, ".,");
			struct store_reference *ref = reference_find(current, segment, seg_len);
			json_t *child;

			if (ref == NULL || ++depth > STORE_EXPAND_DEPTH) {
				json_decref(tree);
				return SENSED_ENOTFOUND;
			}
			child = json_object_get(node, ref->as);
			if (child == NULL) {
				child = json_object();
				if (child == NULL ||
				    json_object_set_new(node, ref->as, child) != 0) {
					json_decref(tree);
					return SENSED_ENOMEM;
				}
			}
			node = child;
			current = ref->to;
			segment += seg_len;
			if (*segment == '.')
				segment++;
			if (segment == item + len && segment[-1] == '.') {
				json_decref(tree); /* "groups." */
				return SENSED_ENOTFOUND;
			}
		}
		item += len;
		if (*item == ',')
			item++;
	}
	*out = tree;
	return 0;
}

static int reference_lookup(sensed_txn *txn, const struct store_reference *ref, const json_t *value,
                            json_t **found)
{
	struct id_list ids = {0};
	int rc;

	*found = NULL;
	if (ref->to_index == NULL) {
		if (!json_is_string(value) || !object_id_valid(json_string_value(value)))
			return 0;
		rc = doc_load(txn, ref->to, json_string_value(value), found);
		return rc == SENSED_ENOTFOUND ? 0 : rc;
	}
	rc = index_point_ids(txn, ref->to_index, value, &ids);
	for (size_t i = 0; rc == 0 && *found == NULL && i < ids.count; i++) {
		json_t *doc;

		rc = doc_load(txn, ref->to, ids.ids[i], &doc);
		if (rc == SENSED_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc == 0 && doc_has_value(doc, ref->to_index->path, value))
			*found = doc;
		else
			json_decref(doc);
	}
	free(ids.ids);
	return rc;
}

static int expand_apply(sensed_txn *txn, sensed_collection *coll, json_t *doc, const json_t *tree)
{
	const char *as;
	json_t *sub;

	json_object_foreach((json_t *)tree, as, sub)
	{
		const struct store_reference *ref = reference_find(coll, as, strlen(as));
		const json_t *value = json_object_get(doc, ref->field);
		json_t *result = NULL, *found;
		int rc = 0;

		if (value == NULL || json_is_null(value))
			continue;
		if (json_is_array(value)) {
			result = json_array();
			for (size_t i = 0; result != NULL && rc == 0 && i < json_array_size(value);
			     i++) {
				rc = reference_lookup(txn, ref, json_array_get(value, i), &found);
				if (rc == 0 && found != NULL) {
					rc = expand_apply(txn, ref->to, found, sub);
					if (json_array_append_new(result, found) != 0 && rc == 0)
						rc = SENSED_ENOMEM;
				}
			}
			if (result == NULL)
				rc = SENSED_ENOMEM;
		} else {
			rc = reference_lookup(txn, ref, value, &result);
			if (rc == 0 && result != NULL)
				rc = expand_apply(txn, ref->to, result, sub);
			/* A missing single reference keeps the id when it would replace it. */
			if (rc == 0 && result == NULL) {
				if (strcmp(ref->field, ref->as) == 0)
					continue;
				result = json_null();
			}
		}
		if (rc != 0) {
			json_decref(result);
			return rc;
		}
		if (json_object_set_new(doc, ref->as, result) != 0)
			return SENSED_ENOMEM;
	}
	return 0;
}

/* ---- Queries ---------------------------------------------------------------------------- */

struct shape_spec {
	struct projection *projection;
	json_t *expand; /* tree from expand_parse, or NULL */
};

static void shape_spec_free(struct shape_spec *s)
{
	projection_free(s->projection);
	json_decref(s->expand);
}

static int query_valid(const sensed_query *q)
{
	return q != NULL && q->size >= offsetof(sensed_query, expand) + sizeof(q->expand);
}

static int shape_spec_parse(sensed_collection *coll, const sensed_query *q, struct shape_spec *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = projection_parse(q->fields, &s->projection);
	if (rc == 0)
		rc = expand_parse(coll, q->expand, &s->expand);
	if (rc != 0)
		shape_spec_free(s);
	return rc;
}

static int shape_apply(sensed_txn *txn, sensed_collection *coll, const struct shape_spec *s,
                       json_t *doc)
{
	int rc = 0;

	if (s->expand != NULL)
		rc = expand_apply(txn, coll, doc, s->expand);
	if (rc == 0)
		rc = projection_apply(s->projection, doc, s->expand);
	return rc;
}

struct doc_vector {
	json_t **docs;
	size_t count;
	size_t capacity;
};

static void doc_vector_free(struct doc_vector *v)
{
	for (size_t i = 0; i < v->count; i++)
		json_decref(v->docs[i]);
	free(v->docs);
	memset(v, 0, sizeof(*v));
}

struct find_args {
	sensed_collection *coll;
	const sensed_query *q;
	json_t *out;
	/* visitor state */
	struct doc_vector found;
	int sorted;
	size_t skip, limit, skipped;
};

static int find_visit(json_t *doc, void *ctx)
{
	struct find_args *a = ctx;

	if (!a->sorted && a->skipped < a->skip) {
		a->skipped++;
		json_decref(doc);
		return 0;
	}
	if (a->found.count == a->found.capacity) {
		size_t capacity = a->found.capacity ? a->found.capacity * 2 : 16;
		json_t **docs = realloc(a->found.docs, capacity * sizeof(*docs));

		if (docs == NULL) {
			json_decref(doc);
			return SENSED_ENOMEM;
		}
		a->found.docs = docs;
		a->found.capacity = capacity;
	}
	a->found.docs[a->found.count++] = doc;
	/* Unsorted, the first skip + limit matches are the answer. */
	return !a->sorted && a->found.count == a->limit ? 1 : 0;
}

static int find_body(sensed_txn *txn, void *arg)
{
	struct find_args *a = arg;
	struct filter *filter = NULL;
	struct sort_spec *sort = NULL;
	struct shape_spec shape;
	size_t first = 0, end;
	int rc;

	a->found = (struct doc_vector){0};
	a->skipped = 0;
	rc = shape_spec_parse(a->coll, a->q, &shape);
	if (rc != 0)
		return rc;
	rc = filter_compile(a->q->filter, &filter);
	if (rc == 0)
		rc = sort_parse(a->q->sort, &sort);
	a->sorted = sort != NULL;
	a->skip = a->q->skip;
	a->limit = a->q->limit;
	if (a->limit == 0 ||
	    (a->limit > (size_t)g_options.max_limit && a->limit != SENSED_QUERY_ALL))
		a->limit = (size_t)g_options.max_limit;
	if (rc == 0)
		rc = for_each_match(txn, a->coll, a->q->filter, filter, find_visit, a);
	if (rc == 0 && a->sorted) {
		rc = sort_docs(sort, a->found.docs, a->found.count);
		first = a->skip < a->found.count ? a->skip : a->found.count;
	}
	end = a->found.count - first > a->limit ? first + a->limit : a->found.count;
	if (rc == 0 && (a->out = json_array()) == NULL)
		rc = SENSED_ENOMEM;
	for (size_t i = first; rc == 0 && i < end; i++) {
		rc = shape_apply(txn, a->coll, &shape, a->found.docs[i]);
		if (rc == 0 && json_array_append(a->out, a->found.docs[i]) != 0)
			rc = SENSED_ENOMEM;
	}
	if (rc != 0) {
		json_decref(a->out);
		a->out = NULL;
	}
	doc_vector_free(&a->found);
	filter_free(filter);
	sort_free(sort);
	shape_spec_free(&shape);
	return rc;
}

int store_find(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t **out)
{
	struct find_args args = {.coll = coll, .q = q};
	int rc;

	if (out == NULL)
		return SENSED_EINVAL;
	*out = NULL;
	if (coll == NULL || !query_valid(q))
		return SENSED_EINVAL;
	rc = run_in_txn(txn, 0, find_body, &args);
	if (rc == 0)
		*out = args.out;
	return rc;
}

struct one_args {
	sensed_collection *coll;
	const json_t *filter;
	json_t *doc;
	size_t count;
};

static int first_visit(json_t *doc, void *ctx)
{
	struct one_args *a = ctx;

	a->doc = doc;
	return 1;
}

static int count_visit(json_t *doc, void *ctx)
{
	struct one_args *a = ctx;

	a->count++;
	json_decref(doc);
	return 0;
}

static int find_one_body(sensed_txn *txn, void *arg)
{
	struct one_args *a = arg;
	struct filter *filter;
	int rc = filter_compile(a->filter, &filter);

	a->doc = NULL;
	if (rc == 0)
		rc = for_each_match(txn, a->coll, a->filter, filter, first_visit, a);
	filter_free(filter);
	if (rc == 0 && a->doc == NULL)
		rc = SENSED_ENOTFOUND;
	if (rc != 0) {
		json_decref(a->doc);
		a->doc = NULL;
	}
	return rc;
}

int store_find_one(sensed_txn *txn, sensed_collection *coll, const json_t *filter, json_t **out)
{
	struct one_args args = {.coll = coll, .filter = filter};
	int rc;

	if (out == NULL || coll == NULL)
		return SENSED_EINVAL;
	*out = NULL;
	rc = run_in_txn(txn, 0, find_one_body, &args);
	if (rc == 0)
		*out = args.doc;
	return rc;
}

static int count_body(sensed_txn *txn, void *arg)
{
	struct one_args *a = arg;
	struct filter *filter;
	int rc = filter_compile(a->filter, &filter);

	a->count = 0;
	if (rc != 0)
		return rc;
	if (filter == NULL) {
		MDB_stat stat;

		rc = from_mdb(mdb_stat(txn->mdb, a->coll->docs, &stat), txn);
		if (rc == 0)
			a->count = stat.ms_entries;
		return rc;
	}
	rc = for_each_match(txn, a->coll, a->filter, filter, count_visit, a);
	filter_free(filter);
	return rc;
}

int store_count(sensed_txn *txn, sensed_collection *coll, const json_t *filter, size_t *out)
{
	struct one_args args = {.coll = coll, .filter = filter};
	int rc;

	if (out == NULL || coll == NULL)
		return SENSED_EINVAL;
	*out = 0;
	rc = run_in_txn(txn, 0, count_body, &args);
	if (rc == 0)
		*out = args.count;
	return rc;
}

struct shape_args {
	sensed_collection *coll;
	const struct shape_spec *spec;
	json_t *doc;
};

static int shape_body(sensed_txn *txn, void *arg)
{
	struct shape_args *a = arg;

	return shape_apply(txn, a->coll, a->spec, a->doc);
}

int store_shape(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t *doc)
{
	struct shape_spec spec;
	struct shape_args args = {.coll = coll, .spec = &spec, .doc = doc};
	int rc;

	if (coll == NULL || !query_valid(q) || !json_is_object(doc))
		return SENSED_EINVAL;
	rc = shape_spec_parse(coll, q, &spec);
	if (rc != 0)
		return rc;
	/* Projection alone needs no transaction. */
	rc = spec.expand == NULL ? shape_apply(NULL, coll, &spec, doc)
	                         : run_in_txn(txn, 0, shape_body, &args);
	shape_spec_free(&spec);
	return rc;
}

int store_upsert(sensed_collection *coll, const json_t *match, const json_t *fields)
{
	sensed_txn *txn = NULL;
	json_t *doc = NULL;
	char id[ID_LEN + 1];
	int err;

	if (coll == NULL || !json_is_object(match) || !json_is_object(fields))
		return SENSED_EINVAL;
	if ((err = store_txn_begin(1, &txn)) != 0)
		return err;
	err = store_find_one(txn, coll, match, &doc);
	if (err == 0) {
		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(doc, "_id")));
		err = json_object_update(doc, (json_t *)fields) == 0
		          ? store_doc_replace(txn, coll, id, doc)
		          : SENSED_ENOMEM;
	} else if (err == SENSED_ENOTFOUND) {
		doc = json_deep_copy(match);
		err = doc && json_object_update(doc, (json_t *)fields) == 0
		          ? store_doc_insert(txn, coll, doc, NULL)
		          : SENSED_ENOMEM;
	}
	json_decref(doc);
	if (err != 0) {
		store_txn_abort(txn);
		return err;
	}
	return store_txn_commit(txn);
}

int store_flag_get(sensed_collection *coll, const char *key_field, const char *key,
                   const char *flag_field)
{
	json_t *match, *doc = NULL;
	int result = -1;

	if (coll == NULL)
		return -1;
	match = json_pack("{s:s}", key_field, key);
	if (match && store_find_one(NULL, coll, match, &doc) == 0) {
		json_t *flag = json_object_get(doc, flag_field);
		if (json_is_boolean(flag))
			result = json_is_true(flag);
	}
	json_decref(doc);
	json_decref(match);
	return result;
}

int store_flag_set(sensed_collection *coll, const char *key_field, const char *key,
                   const char *flag_field, int value)
{
	json_t *match, *fields;
	int err;

	if (coll == NULL)
		return SENSED_ESTATE;
	match = json_pack("{s:s}", key_field, key);
	fields = json_pack("{s:b}", flag_field, value);
	err = match && fields ? store_upsert(coll, match, fields) : SENSED_ENOMEM;
	json_decref(match);
	json_decref(fields);
	return err;
}
