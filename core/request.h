/* One HTTP request as handlers see it (struct sensed_request), the SDK's request
 * accessors and replies, and the dispatch from evhttp to the router.
 *
 * Thread: a request lives on the loop thread of the worker that accepted it. */
#ifndef SENSED_CORE_REQUEST_H
#define SENSED_CORE_REQUEST_H

#include "router.h"
#include "sensed/plugin.h"

#include <event2/http.h>
#include <stdint.h>

struct worker;

struct sensed_request {
	struct evhttp_request *ev;       /* borrowed from evhttp until the reply is sent */
	struct worker *worker;           /* the loop that owns it */
	struct evhttp_connection *evcon; /* borrowed; may be gone by the time a job ends */
	enum sensed_method method;
	char *path;         /* owned: raw path, split in place by router_match */
	char *decoded_path; /* owned: normalised decoded path for logs/handlers */
	struct router_match match;
	struct evkeyvalq *query; /* owned: parsed query, NULL until first use */
	json_t *body_json;       /* owned: parsed body, cached */
	int body_parsed;
	json_t *user;          /* owned: signed-in user document (no secrets) or NULL */
	char user_id[25];      /* "" when anonymous */
	enum sensed_role role; /* SENSED_ROLE_PUBLIC when anonymous */
	char token_scope[32];  /* scope of the token that signed in, "" for ordinary */
	char request_id[33];
	int64_t start_us;
	int status; /* sent status, for the access log */
	size_t bytes_out;
	int replied;
	int in_job;      /* handed to the worker pool */
	json_t *scratch; /* owned: values borrowed out to handlers (lists) */
};

/* evhttp's generic callback: framing checks, CORS, routing, authentication, role check,
 * dispatch, access log.  `arg` is the struct worker. */
void request_dispatch(struct evhttp_request *ev, void *arg);

/* SDK members (contracts in include/sensed/plugin.h). */
enum sensed_method request_method(sensed_request *req);
const char *request_path(sensed_request *req);
const char *request_param(sensed_request *req, const char *name);
const char *request_query(sensed_request *req, const char *name);
json_t *request_query_list(sensed_request *req, const char *name);
const char *request_header(sensed_request *req, const char *name);
int request_json(sensed_request *req, json_t **body);
const char *request_body(sensed_request *req, size_t *len);
json_t *request_user(sensed_request *req);
const char *request_user_id(sensed_request *req);
enum sensed_role request_role(sensed_request *req);
int request_list_query(sensed_request *req, sensed_query *q);
void reply_json(sensed_request *req, int status, const json_t *body);
void reply_raw(sensed_request *req, int status, const char *bytes, size_t len);
void reply_empty(sensed_request *req, int status);
void reply_error(sensed_request *req, int status, int code, const char *message);
void reply_error_extra(sensed_request *req, int status, int code, const char *message,
                       const json_t *extra);
void reply_store_error(sensed_request *req, int err);
void reply_header(sensed_request *req, const char *name, const char *value);
void reply_bytes(sensed_request *req, int status, const char *content_type, const void *bytes,
                 size_t len);
int reply_document(sensed_request *req, sensed_collection *coll, const char *id,
                   const sensed_query *q);
int request_run_job(sensed_request *req, sensed_job_work work, sensed_job_done done, void *arg);
/* SDK member write_job: the request is held, as by run_job, until done has run. */
int request_write_job(sensed_request *req, int (*work)(sensed_txn *txn, void *arg),
                      void (*done)(sensed_request *req, void *arg, int err), void *arg);

/* Replace the allowed CORS origins (SDK member cors_set); cors_shutdown() frees them when
 * the server stops.  Until the first cors_set the configuration's "cors" applies. */
int cors_set(int enabled, const json_t *origins);
void cors_shutdown(void);

/* Parse an application/x-www-form-urlencoded body or a query string into a JSON object
 * of strings (last value wins).  New reference, or NULL on a decoded NUL. */
json_t *form_decode(const char *bytes, size_t len);

#endif
