/* The document store: named collections of JSON documents in one LMDB environment.
 *
 * One environment per process, opened by store_open() before the workers start.
 * Collections, indexes and references are declared during start-up (single thread);
 * afterwards every function may be called from any thread, each transaction staying on
 * the thread that began it (except read transactions, opened MDB_NOTLS).
 *
 * Documents are stored as compact JSON bytes keyed by _id.  The sensed_* types and the
 * functions named like host members have exactly the contracts documented in
 * include/sensed/plugin.h. */
#ifndef SENSED_CORE_STORE_H
#define SENSED_CORE_STORE_H

#include "sensed/plugin.h"

struct store_options {
	size_t map_size;     /* initial map size in bytes */
	int durable;         /* 0: MDB_NOSYNC */
	int max_limit;       /* cap applied to sensed_query.limit (and to limit 0) */
	int max_collections; /* LMDB named databases to allow */
};

int store_open(const char *dir, const struct store_options *opt);
void store_close(void);
/* Copy the store at `dir` (possibly in use by a running server) into the directory
 * `out` (created if needed), compacted and consistent. */
int store_backup(const char *dir, const char *out);
/* Clear stale reader slots left by dead processes; returns how many. */
int store_reader_check(void);

/* `owner` names the declaring plugin (or "core") for messages. */
int store_collection_open(const char *owner, const char *name, sensed_collection **out);
int store_index_declare(sensed_collection *coll, const char *path, unsigned flags);
int store_reference_declare(sensed_collection *from, const char *field, const char *as,
                            sensed_collection *to, const char *to_key);
const char *store_collection_name(const sensed_collection *coll);

int store_txn_begin(int write, sensed_txn **out);
int store_txn_commit(sensed_txn *txn);
void store_txn_abort(sensed_txn *txn);

int store_doc_get(sensed_txn *txn, sensed_collection *coll, const char *id, json_t **out);
/* The stored bytes of a document, borrowed from LMDB: valid only until `txn` (which must
 * not be NULL) ends.  For replies that are the document itself. */
int store_doc_get_raw(sensed_txn *txn, sensed_collection *coll, const char *id, const char **bytes,
                      size_t *len);
int store_doc_insert(sensed_txn *txn, sensed_collection *coll, json_t *doc, char *id_out);
int store_doc_replace(sensed_txn *txn, sensed_collection *coll, const char *id, json_t *doc);
int store_doc_delete(sensed_txn *txn, sensed_collection *coll, const char *id);
int store_find(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t **out);
int store_find_one(sensed_txn *txn, sensed_collection *coll, const json_t *filter, json_t **out);
int store_count(sensed_txn *txn, sensed_collection *coll, const json_t *filter, size_t *out);
int store_shape(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t *doc);
/* In one write transaction: set the members of `fields` on the first document matching
 * `match`, or insert `match` with `fields` when none does.  Both are borrowed.  For the
 * core's small state collections (plugin and feature switches). */
int store_upsert(sensed_collection *coll, const json_t *match, const json_t *fields);
/* A boolean switch kept as {<key_field>: key, <flag_field>: true|false}: the stored value
 * (1 or 0), or -1 when none is stored (or coll is NULL). */
int store_flag_get(sensed_collection *coll, const char *key_field, const char *key,
                   const char *flag_field);
/* Store the switch (store_upsert).  SENSED_ESTATE when coll is NULL. */
int store_flag_set(sensed_collection *coll, const char *key_field, const char *key,
                   const char *flag_field, int value);

/* Group commit.  `work(txn, arg)` runs on the store's committer thread in a child of the
 * batch's write transaction: it may use only store functions, with `txn` (never NULL, never
 * committed or aborted by the work), and it may run again after a rollback (the batch is
 * retried when the map grows).  A failing work is rolled back alone.  `finished(ctx, err)`
 * runs on the committer thread once the batch is committed (on disk when durable); err is
 * the work's result or, when the batch failed, the commit's.  SENSED_EBUSY when the queue
 * is full, SENSED_ESTATE when the store is closed or closing (nothing was queued).
 * Any thread. */
typedef int (*store_write_work)(sensed_txn *txn, void *arg);
typedef void (*store_write_finished)(void *ctx, int err);
int store_write_submit(store_write_work work, void *arg, store_write_finished finished, void *ctx);
/* Refuse new writes, run the queued ones and join the committer.  Called by store_close;
 * the server calls it earlier, while the loops that receive the results still exist. */
void store_writes_stop(void);

/* Ids and dates (any thread). */
void object_id_new(char out[25]);
int object_id_valid(const char *s);
void date_format(int64_t ms_since_epoch, char out[25]);
int64_t time_now_ms(void);

#endif
