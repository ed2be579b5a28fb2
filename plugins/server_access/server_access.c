/* The "server_access" plugin: trusted servers (AUTH-04, AUTH-06, AUTH-08, AUTH-09).
 *
 * A trusted server is a document of the collection "server_access":
 *   {"_id", "server": "<base URL>", "token": "<sealed API token>", "created", "lastUpdated"}
 * "server" is unique (index); "token" is the other server's API token sealed with
 * secret_seal, and never leaves this server in any form.  Other plugins (content: copying
 * dashboards) read this collection and open the token with secret_open: keep the schema.
 * Input accepts "host" as an alias of "server".  Admins only. */
#include <sensed/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE     "/authentication/server_access"
#define MAX_URL   2048
#define MAX_TOKEN 8192

static const sensed_host *host;
static sensed_collection *servers;

/* A copy of `doc` fit to send: without the token. */
static json_t *public_copy(const json_t *doc)
{
	json_t *copy = json_deep_copy(doc);

	if (copy)
		json_object_del(copy, "token");
	return copy;
}

/* A normalised base URL (trailing '/' removed) in `out`, or -1 when `url` is not an
 * http(s) URL with a host. */
static int normalise_server(const char *url, char *out, size_t size)
{
	const char *rest;
	size_t n = strlen(url);

	if (!strncmp(url, "http://", 7))
		rest = url + 7;
	else if (!strncmp(url, "https://", 8))
		rest = url + 8;
	else
		return -1;
	if (n >= size || n > MAX_URL || *rest == '\0' || *rest == '/')
		return -1;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return -1;
	memcpy(out, url, n + 1);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/* Apply a request body to `doc`.  Returns 0, or -1 with `why` filled. */
static int apply(json_t *doc, const json_t *body, int creating, char *why, size_t why_size)
{
	const json_t *server = json_object_get(body, "server");
	const json_t *alias = json_object_get(body, "host");
	const json_t *token = json_object_get(body, "token");
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)body, key, value)
	{
		if (strcmp(key, "server") && strcmp(key, "host") && strcmp(key, "token") &&
		    strcmp(key, "_id") && strcmp(key, "created") && strcmp(key, "lastUpdated")) {
			snprintf(why, why_size, "unknown member '%.64s'", key);
			return -1;
		}
	}
	if (server && alias && !json_equal(server, alias)) {
		snprintf(why, why_size, "server and host differ");
		return -1;
	}
	if (!server)
		server = alias;
	if (server) {
		char url[MAX_URL + 1];

		if (!json_is_string(server) ||
		    json_string_length(server) != strlen(json_string_value(server)) ||
		    normalise_server(json_string_value(server), url, sizeof(url)) != 0) {
			snprintf(why, why_size, "server must be an http(s) URL");
			return -1;
		}
		json_object_set_new(doc, "server", json_string(url));
	} else if (creating) {
		snprintf(why, why_size, "server is mandatory");
		return -1;
	}
	if (token) {
		char *sealed = NULL;

		if (!json_is_string(token) || json_string_length(token) == 0 ||
		    json_string_length(token) > MAX_TOKEN ||
		    json_string_length(token) != strlen(json_string_value(token))) {
			snprintf(why, why_size, "token must be a non-empty string");
			return -1;
		}
		if (host->secret_seal(json_string_value(token), &sealed) != 0) {
			snprintf(why, why_size, "token could not be sealed");
			return -1;
		}
		json_object_set_new(doc, "token", json_string(sealed));
		free(sealed);
	} else if (creating) {
		snprintf(why, why_size, "token is mandatory");
		return -1;
	}
	return 0;
}

static void reply_doc(sensed_request *req, int status, const json_t *doc)
{
	json_t *out = public_copy(doc);

	if (out == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, status, out);
	json_decref(out);
}

static void reply_write_error(sensed_request *req, int err)
{
	if (err == SENSED_EUNIQUE)
		host->reply_error(req, 400, SENSED_CODE_SERVER_ACCESS_EXISTS, NULL);
	else
		host->reply_store_error(req, err);
}

/* The id of the path, or NULL after replying 422 (not an ObjectId). */
static const char *path_id(sensed_request *req)
{
	const char *id = host->request_param(req, "id");

	if (id == NULL || !host->is_object_id(id)) {
		host->reply_error(req, 422, SENSED_CODE_INVALID_OBJECT_ID, NULL);
		return NULL;
	}
	return id;
}

static void reply_not_found(sensed_request *req, const char *id)
{
	json_t *extra = json_pack("{s:s, s:s}", "resourceType", "serverAccess", "resourceName", id);

	host->reply_error_extra(req, 404, SENSED_CODE_SERVER_ACCESS_NOT_FOUND, NULL, extra);
	json_decref(extra);
}

/* GET /authentication/server_access (fields, sort, skip, limit) */
static void list_servers(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *doc;
	size_t i;
	int err;

	if (host->request_list_query(req, &q) != 0)
		return;
	q.expand = NULL; /* nothing to expand */
	if ((err = host->find(NULL, servers, &q, &found)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	json_array_foreach(found, i, doc)
	{
		json_object_del(doc, "token");
	}
	host->reply_json(req, 200, found);
	json_decref(found);
}

/* POST /authentication/server_access {server|host, token} -> 200 (AUTH-06) */
static void add_server(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *doc;
	char why[128];
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		host->reply_error(
		    req, 400, SENSED_CODE_INVALID_PARAMETER,
		    "The body must be {\"server\": \"<URL>\", \"token\": \"<token>\"}");
		return;
	}
	if ((doc = json_object()) == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	if (apply(doc, body, 1, why, sizeof(why)) != 0) {
		json_decref(doc);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, why);
		return;
	}
	if ((err = host->doc_insert(NULL, servers, doc, NULL)) != 0)
		reply_write_error(req, err);
	else
		reply_doc(req, 200, doc);
	json_decref(doc);
}

/* PATCH /authentication/server_access/{id} -> 200 with the server */
static void update_server(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = path_id(req);
	json_t *body = NULL, *doc = NULL;
	sensed_txn *txn = NULL;
	char why[128];
	int err;

	if (id == NULL || host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "The body must be a JSON object");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	if ((err = host->doc_get(txn, servers, id, &doc)) != 0) {
		host->txn_abort(txn);
		if (err == SENSED_ENOTFOUND)
			reply_not_found(req, id);
		else
			host->reply_store_error(req, err);
		return;
	}
	if (apply(doc, body, 0, why, sizeof(why)) != 0) {
		host->txn_abort(txn);
		json_decref(doc);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, why);
		return;
	}
	if ((err = host->doc_replace(txn, servers, id, doc)) != 0) {
		host->txn_abort(txn);
		json_decref(doc);
		reply_write_error(req, err);
		return;
	}
	if ((err = host->txn_commit(txn)) != 0)
		reply_write_error(req, err);
	else
		reply_doc(req, 200, doc);
	json_decref(doc);
}

/* DELETE /authentication/server_access/{id} -> 204 */
static void delete_server(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = path_id(req);
	int err;

	if (id == NULL)
		return;
	err = host->doc_delete(NULL, servers, id);
	if (err == SENSED_ENOTFOUND)
		reply_not_found(req, id);
	else if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int server_access_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if ((err = h->collection_open(self, "server_access", &servers)) ||
	    (err = h->index_declare(servers, "server", SENSED_INDEX_UNIQUE)) ||
	    (err = h->route_add(self, SENSED_GET, ROUTE, SENSED_ROLE_ADMIN, list_servers, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, ROUTE, SENSED_ROLE_ADMIN, add_server, NULL)) ||
	    (err = h->route_add(self, SENSED_PATCH, ROUTE "/{id}", SENSED_ROLE_ADMIN, update_server,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_DELETE, ROUTE "/{id}", SENSED_ROLE_ADMIN,
	                        delete_server, NULL)))
		h->set_error(self, "server_access: %s", h->strerror(err));
	return err;
}

SENSED_PLUGIN_DEFINE("server_access", "1.0.0", "Trusted servers (authentication/server_access)",
                     server_access_init, NULL)
