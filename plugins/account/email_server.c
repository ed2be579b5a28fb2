/* settings/email_server: the SMTP server the outbox delivers through.  One document in
 * the collection "email_server"; its `pass` is stored sealed (secret_seal) and never
 * returned.  Admins only. */
#include "account.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE "/settings/email_server"

static sensed_collection *settings;

json_t *email_server_get(sensed_txn *txn)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *doc = NULL;

	q.limit = 1;
	if (account_host->find(txn, settings, &q, &found) == 0 && json_array_size(found) > 0)
		doc = json_incref(json_array_get(found, 0));
	json_decref(found);
	return doc;
}

int email_server_usable(sensed_txn *txn)
{
	json_t *doc = email_server_get(txn);
	int usable = doc != NULL && !json_is_false(json_object_get(doc, "enable"));

	json_decref(doc);
	return usable;
}

/* The reply form of a stored document: a copy without `pass`. */
static json_t *public_copy(const json_t *doc)
{
	json_t *copy = json_deep_copy(doc);

	if (copy)
		json_object_del(copy, "pass");
	return copy;
}

static int host_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_' &&
		    *s != ':' && *s != '[' && *s != ']')
			return 0;
	return 1;
}

/* A string without control characters (header-safe), at most `max` bytes. */
static int text_valid(const char *s, size_t max)
{
	if (strlen(s) > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Apply the members of `body` to `doc` (validated).  Returns 0, or -1 with `why` filled.
 * `pass` in clear is sealed here; null or "" removes it (and `user`). */
static int apply(json_t *doc, const json_t *body, char *why, size_t why_size)
{
	static const char *const flags[] = {"enable", "secure", "ignoreTLS", "requireTLS"};
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)body, key, value)
	{
		int known = 0;

		if (!strcmp(key, "_id") || !strcmp(key, "created") || !strcmp(key, "lastUpdated"))
			continue; /* read-only members a client echoes back */
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
			if (strcmp(key, flags[i]))
				continue;
			known = 1;
			if (!json_is_boolean(value)) {
				snprintf(why, why_size, "%s must be a boolean", key);
				return -1;
			}
			json_object_set(doc, key, value);
		}
		if (known)
			continue;
		if (!strcmp(key, "host")) {
			if (!json_is_string(value) || !host_name_valid(json_string_value(value))) {
				snprintf(why, why_size, "host must be a host name or address");
				return -1;
			}
			json_object_set(doc, key, value);
		} else if (!strcmp(key, "port") || !strcmp(key, "connectionTimeout")) {
			json_int_t n = -1;
			long long max = !strcmp(key, "port") ? 65535 : 600000;

			if (json_is_integer(value)) {
				n = json_integer_value(value);
			} else if (json_is_string(value) && json_string_length(value) > 0 &&
			           json_string_length(value) < 8) {
				char *end;

				n = strtoll(json_string_value(value), &end, 10);
				if (*end)
					n = -1;
			}
			if (n < 1 || n > max) {
				snprintf(why, why_size, "%s must be an integer from 1 to %lld", key,
				         max);
				return -1;
			}
			json_object_set_new(doc, key, json_integer(n));
		} else if (!strcmp(key, "user") || !strcmp(key, "senderName")) {
			if (json_is_null(value) ||
			    (json_is_string(value) && json_string_length(value) == 0)) {
				json_object_del(doc, key);
				continue;
			}
			if (!json_is_string(value) || !text_valid(json_string_value(value), 256)) {
				snprintf(why, why_size,
				         "%s must be a string of at most 256 characters", key);
				return -1;
			}
			json_object_set(doc, key, value);
		} else if (!strcmp(key, "senderEmail")) {
			if (!json_is_string(value) ||
			    !mail_address_valid(json_string_value(value))) {
				snprintf(why, why_size, "senderEmail must be an e-mail address");
				return -1;
			}
			json_object_set(doc, key, value);
		} else if (!strcmp(key, "pass")) {
			char *sealed = NULL;

			if (json_is_null(value) ||
			    (json_is_string(value) && json_string_length(value) == 0)) {
				json_object_del(doc, key);
				continue;
			}
			if (!json_is_string(value) || json_string_length(value) > 1024) {
				snprintf(why, why_size, "pass must be a string");
				return -1;
			}
			if (account_host->secret_seal(json_string_value(value), &sealed) != 0) {
				snprintf(why, why_size, "pass could not be sealed");
				return -1;
			}
			json_object_set_new(doc, key, json_string(sealed));
			free(sealed);
		} else {
			snprintf(why, why_size, "unknown member '%.64s'", key);
			return -1;
		}
	}
	if (!json_is_string(json_object_get(doc, "host"))) {
		snprintf(why, why_size, "host is mandatory");
		return -1;
	}
	if (!json_is_string(json_object_get(doc, "senderEmail"))) {
		snprintf(why, why_size, "senderEmail is mandatory");
		return -1;
	}
	if (json_is_true(json_object_get(doc, "secure")) &&
	    json_is_true(json_object_get(doc, "ignoreTLS"))) {
		snprintf(why, why_size, "secure and ignoreTLS contradict each other");
		return -1;
	}
	if (json_is_true(json_object_get(doc, "requireTLS")) &&
	    json_is_true(json_object_get(doc, "ignoreTLS"))) {
		snprintf(why, why_size, "requireTLS and ignoreTLS contradict each other");
		return -1;
	}
	return 0;
}

/* Defaults of members a POST leaves out (nodemailer's, which Sisense uses). */
static json_t *new_settings(void)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:i}", "enable", 1, "secure", 0, "ignoreTLS", 0,
	                 "requireTLS", 0, "connectionTimeout", 10000);
}

static void reply_settings(sensed_request *req, const json_t *doc)
{
	json_t *out = public_copy(doc);

	if (out == NULL) {
		account_host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	account_host->reply_json(req, 200, out);
	json_decref(out);
}

static void reply_not_set(sensed_request *req)
{
	account_host->reply_error(req, 404, SENSED_CODE_EMAIL_SERVER_SETTINGS,
	                          "Email server settings not found");
}

static void get_settings(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *doc = email_server_get(NULL);

	if (doc == NULL) {
		reply_not_set(req);
		return;
	}
	reply_settings(req, doc);
	json_decref(doc);
}

/* POST creates, PATCH updates: both in one write transaction so that two concurrent
 * POSTs cannot both create. */
static void write_settings(sensed_request *req, void *arg)
{
	int creating = arg != NULL;
	const sensed_host *h = account_host;
	json_t *body = NULL, *doc = NULL;
	sensed_txn *txn = NULL;
	char why[160];
	int err;

	if (h->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body)) {
		h->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		               "The body must be a JSON object");
		return;
	}
	if ((err = h->txn_begin(1, &txn)) != 0) {
		h->reply_store_error(req, err);
		return;
	}
	doc = email_server_get(txn);
	if (creating && doc != NULL) {
		h->txn_abort(txn);
		json_decref(doc);
		h->reply_error(req, 400, SENSED_CODE_EMAIL_SERVER_SETTINGS,
		               "Email server settings already exist");
		return;
	}
	if (!creating && doc == NULL) {
		h->txn_abort(txn);
		h->reply_error(req, 400, SENSED_CODE_EMAIL_SERVER_SETTINGS,
		               "Email server settings not found");
		return;
	}
	if (doc == NULL && (doc = new_settings()) == NULL) {
		h->txn_abort(txn);
		h->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	if (apply(doc, body, why, sizeof(why)) != 0) {
		h->txn_abort(txn);
		json_decref(doc);
		h->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, why);
		return;
	}
	if (creating) {
		err = h->doc_insert(txn, settings, doc, NULL);
	} else {
		char id[25]; /* a copy: doc_replace rewrites doc's "_id" */

		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(doc, "_id")));
		err = h->doc_replace(txn, settings, id, doc);
	}
	if (err != 0) {
		h->txn_abort(txn);
		json_decref(doc);
		h->reply_store_error(req, err);
		return;
	}
	if ((err = h->txn_commit(txn)) != 0) {
		json_decref(doc);
		h->reply_store_error(req, err);
		return;
	}
	mail_wake(); /* mail held back for want of a server may go now */
	reply_settings(req, doc);
	json_decref(doc);
}

static void delete_settings(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_txn *txn = NULL;
	json_t *doc;
	int err;

	if ((err = account_host->txn_begin(1, &txn)) != 0) {
		account_host->reply_store_error(req, err);
		return;
	}
	doc = email_server_get(txn);
	if (doc == NULL) {
		account_host->txn_abort(txn);
		reply_not_set(req);
		return;
	}
	err =
	    account_host->doc_delete(txn, settings, json_string_value(json_object_get(doc, "_id")));
	json_decref(doc);
	if (err != 0) {
		account_host->txn_abort(txn);
		account_host->reply_store_error(req, err);
		return;
	}
	if ((err = account_host->txn_commit(txn)) != 0) {
		account_host->reply_store_error(req, err);
		return;
	}
	account_host->reply_empty(req, 204);
}

int email_server_init(sensed_plugin *self)
{
	static int create_marker;
	const sensed_host *h = account_host;
	int err;

	if ((err = h->collection_open(self, "email_server", &settings)) ||
	    (err = h->route_add(self, SENSED_GET, ROUTE, SENSED_ROLE_ADMIN, get_settings, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, ROUTE, SENSED_ROLE_ADMIN, write_settings,
	                        &create_marker)) ||
	    (err = h->route_add(self, SENSED_PATCH, ROUTE, SENSED_ROLE_ADMIN, write_settings,
	                        NULL)) ||
	    (err = h->route_add(self, SENSED_DELETE, ROUTE, SENSED_ROLE_ADMIN, delete_settings,
	                        NULL)))
		h->set_error(self, "email_server: %s", h->strerror(err));
	return err;
}
