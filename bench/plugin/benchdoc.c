/* A plugin for the benchmark and the reliability tests only: stores JSON documents, reads one
 * back and lists them by an indexed field, the way an API plugin serves GET /<things>/{id}
 * and GET /<things>?field=.  Built out of tree against the installed SDK. */
#include <sensed/plugin.h>
#include <string.h>

static const sensed_host *host;
static sensed_collection *documents;

/* Committer thread: `arg` is the request's body, which the loop leaves alone until done. */
static int insert_work(sensed_txn *txn, void *arg)
{
	return host->doc_insert(txn, documents, arg, NULL);
}

/* Loop thread, after the batch holding the insert is on disk. */
static void insert_done(sensed_request *req, void *arg, int err)
{
	if (err)
		host->reply_store_error(req, err);
	else
		host->reply_json(req, 201, arg);
}

/* POST /bench/documents: one durable commit per document; with ?commit=group the insert
 * goes through write_job and shares its commit (one fsync) with the other queued ones. */
static void create_document(sensed_request *req, void *unused)
{
	const char *commit = host->request_query(req, "commit");
	json_t *body;
	int rc;

	(void)unused;
	if (commit && strcmp(commit, "group") != 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "commit: expected \"group\" or nothing");
		return;
	}
	if (host->request_json(req, &body))
		return;
	if (!json_is_object(body)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "the body must be a JSON object");
		return;
	}
	if (commit) {
		if (!SENSED_HOST_HAS(host, write_job)) {
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
			                  "this server has no group commit (SDK 1.3)");
			return;
		}
		rc = host->write_job(req, insert_work, insert_done, body);
		if (rc)
			host->reply_store_error(req, rc);
		return;
	}
	rc = host->doc_insert(NULL, documents, body, NULL);
	if (rc)
		host->reply_store_error(req, rc);
	else
		host->reply_json(req, 201, body); /* the body is the request's: borrowed */
}

/* GET /bench/documents?key=K -> the documents whose indexed "key" is K (a bare array), as an
 * API plugin serves GET /users?email=. */
static void list_documents(sensed_request *req, void *unused)
{
	sensed_query q = SENSED_QUERY_INIT;
	const char *key = host->request_query(req, "key");
	json_t *filter = NULL, *list = NULL;
	int rc;

	(void)unused;
	if (host->request_list_query(req, &q))
		return;
	if (key) {
		filter = json_pack("{s:s}", "key", key);
		if (!filter) {
			host->reply_store_error(req, SENSED_ENOMEM);
			return;
		}
	}
	q.filter = filter;
	rc = host->find(NULL, documents, &q, &list);
	json_decref(filter);
	if (rc) {
		host->reply_store_error(req, rc);
		return;
	}
	host->reply_json(req, 200, list);
	json_decref(list);
}

static void read_document(sensed_request *req, void *unused)
{
	int rc;

	(void)unused;
	rc = host->reply_document(req, documents, host->request_param(req, "id"), NULL);
	if (rc)
		host->reply_store_error(req, rc);
}

static int benchdoc_init(sensed_plugin *self, const sensed_host *h)
{
	int rc;

	host = h;
	rc = host->collection_open(self, "bench_documents", &documents);
	if (!rc)
		rc = host->index_declare(documents, "key", 0);
	if (!rc)
		rc = host->route_add(self, SENSED_GET, "/bench/documents", SENSED_ROLE_CONSUMER,
		                     list_documents, NULL);
	if (!rc)
		rc = host->route_add(self, SENSED_POST, "/bench/documents", SENSED_ROLE_CONSUMER,
		                     create_document, NULL);
	if (!rc)
		rc = host->route_add(self, SENSED_GET, "/bench/documents/{id}",
		                     SENSED_ROLE_CONSUMER, read_document, NULL);
	return rc;
}

SENSED_PLUGIN_DEFINE("benchdoc", "1.0.0", "Benchmark documents", benchdoc_init, NULL)
