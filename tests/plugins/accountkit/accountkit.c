/* Test-only plugin for tests/api/test_account.c and test_server_access.c: looks inside the
 * collections of the account and server_access plugins, as another plugin would.  Every
 * route is PUBLIC: never load it outside tests. */
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

static const sensed_host *host;
static sensed_collection *outbox, *tokens, *servers, *users;

/* GET /test/accountkit/count/{collection} -> {"count": n} (mail_outbox, account_tokens) */
static void count_documents(sensed_request *req, void *arg)
{
	(void)arg;
	const char *name = host->request_param(req, "collection");
	sensed_collection *coll = !strcmp(name, "mail_outbox")      ? outbox
	                          : !strcmp(name, "account_tokens") ? tokens
	                                                            : NULL;
	size_t n = 0;
	int err;

	if (coll == NULL) {
		host->reply_error(req, 404, SENSED_CODE_NOT_FOUND, NULL);
		return;
	}
	if ((err = host->count(NULL, coll, NULL, &n)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	json_t *body = json_pack("{s:I}", "count", (json_int_t)n);
	host->reply_json(req, 200, body);
	json_decref(body);
}

/* GET /test/accountkit/server_access/{id} -> the stored document with "token" opened
 * (what the content plugin does to call a trusted server) and "sealed" as stored. */
static void open_server(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *doc = NULL;
	char *clear = NULL;
	int err = host->doc_get(NULL, servers, host->request_param(req, "id"), &doc);

	if (err == 0)
		err = host->secret_open(json_string_value(json_object_get(doc, "token")), &clear);
	if (err != 0) {
		json_decref(doc);
		host->reply_store_error(req, err);
		return;
	}
	json_object_set(doc, "sealed", json_object_get(doc, "token"));
	json_object_set_new(doc, "token", json_string(clear));
	free(clear);
	host->reply_json(req, 200, doc);
	json_decref(doc);
}

/* POST /test/accountkit/users/{id}/locale {"localeId": "de-DE"} -> 204 */
static void set_locale(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id");
	json_t *body = NULL, *user = NULL;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_string(json_object_get(body, "localeId"))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, NULL);
		return;
	}
	if ((err = host->doc_get(NULL, users, id, &user)) == 0) {
		json_object_set_new(
		    user, "preferences",
		    json_pack("{s:O}", "localeId", json_object_get(body, "localeId")));
		err = host->doc_replace(NULL, users, id, user);
	}
	json_decref(user);
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int accountkit_init(sensed_plugin *self, const sensed_host *h)
{
	int err;
	host = h;
	if ((err = h->collection_open(self, "mail_outbox", &outbox)) ||
	    (err = h->collection_open(self, "account_tokens", &tokens)) ||
	    (err = h->collection_open(self, "server_access", &servers)) ||
	    (err = h->collection_open(self, "users", &users)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/accountkit/users/{id}/locale",
	                        SENSED_ROLE_PUBLIC, set_locale, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/accountkit/count/{collection}",
	                        SENSED_ROLE_PUBLIC, count_documents, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/accountkit/server_access/{id}",
	                        SENSED_ROLE_PUBLIC, open_server, NULL))) {
		h->set_error(self, "accountkit: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("accountkit", "1.0.0", "Test-only view into the account collections",
                     accountkit_init, NULL);
