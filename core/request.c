/* Requests and replies (contracts in request.h and include/sensed/plugin.h).
 *
 * Lifecycle: request_dispatch allocates the sensed_request, runs the checks and the
 * handler, and frees it once a reply went out -- either right after the handler returns
 * or, for a request handed to the pool, after the job's `done`.  Replies are built in the
 * evhttp request's output buffer and sent once. */
#include "request.h"

#include "auth.h"
#include "config.h"
#include "errors.h"
#include "json_load.h"
#include "log.h"
#include "plugin_loader.h"
#include "pool.h"
#include "sensed_features.h"
#include "server.h"
#include "server_internal.h"
#include "store.h"
#include "translations.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ALL_METHODS_TEXT "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- Request ids: xorshift seeded once per thread from getrandom ------------------- */

static _Thread_local uint64_t id_state[2];

static uint64_t id_next(void)
{
	if (!id_state[0] && !id_state[1]) {
		if (getrandom(id_state, sizeof(id_state), 0) != sizeof(id_state))
			id_state[0] = (uint64_t)now_us() ^ (uint64_t)(uintptr_t)&id_state;
		id_state[1] |= 1;
	}
	uint64_t s1 = id_state[0];
	const uint64_t s0 = id_state[1];
	id_state[0] = s0;
	s1 ^= s1 << 23;
	id_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return id_state[1] + s0;
}

static void request_id_assign(sensed_request *req, const char *incoming)
{
	if (incoming) {
		size_t len = strlen(incoming);
		int sane = len > 0 && len < sizeof(req->request_id);
		for (size_t i = 0; sane && i < len; i++)
			sane = isalnum((unsigned char)incoming[i]) || strchr("-_.", incoming[i]);
		if (sane) {
			memcpy(req->request_id, incoming, len + 1);
			return;
		}
	}
	snprintf(req->request_id, sizeof(req->request_id), "%016llx%016llx",
	         (unsigned long long)id_next(), (unsigned long long)id_next());
}

/* ---- Percent-decoding of query strings and forms ------------------------------------- */

/* Decode [in, in+len) into out ('+' is a space); returns the decoded length or -1 on a
 * decoded NUL.  A malformed escape is kept literally. */
static long form_unescape(const char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < len && hex_digit_value(in[i + 1]) >= 0 &&
		           hex_digit_value(in[i + 2]) >= 0) {
			c = (char)(hex_digit_value(in[i + 1]) * 16 + hex_digit_value(in[i + 2]));
			i += 2;
		}
		if (c == '\0')
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* Split a query/form string into decoded pairs appended to `q`.  Returns 0, SENSED_EINVAL
 * on a decoded NUL, SENSED_ENOMEM. */
static int pairs_parse(const char *s, size_t len, struct evkeyvalq *q)
{
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && s[end] != '&' && s[end] != ';')
			end++;
		if (end > pos) {
			const char *eq = memchr(s + pos, '=', end - pos);
			size_t klen = eq ? (size_t)(eq - (s + pos)) : end - pos;
			const char *v = eq ? eq + 1 : s + end;
			size_t vlen = eq ? (size_t)(s + end - v) : 0;
			struct evkeyval *kv = calloc(1, sizeof(*kv));
			char *key = malloc(klen + 1);
			char *value = malloc(vlen + 1);
			if (!kv || !key || !value) {
				free(kv);
				free(key);
				free(value);
				return SENSED_ENOMEM;
			}
			kv->key = key;
			kv->value = value;
			TAILQ_INSERT_TAIL(q, kv, next);
			if (form_unescape(s + pos, klen, key) < 0 ||
			    form_unescape(v, vlen, value) < 0)
				return SENSED_EINVAL;
		}
		pos = end + 1;
	}
	return 0;
}

static void pairs_free(struct evkeyvalq *q)
{
	struct evkeyval *kv;
	while ((kv = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, kv, next);
		free(kv->key);
		free(kv->value);
		free(kv);
	}
}

json_t *form_decode(const char *bytes, size_t len)
{
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	json_t *out = NULL;
	if (!bytes)
		len = 0;
	if (pairs_parse(bytes ? bytes : "", len, &q) == 0) {
		out = json_object();
		struct evkeyval *kv;
		TAILQ_FOREACH(kv, &q, next)
		{
			json_t *value = json_string(kv->value);
			if (!out || !value || json_object_set_new(out, kv->key, value)) {
				json_decref(out);
				out = NULL;
				break;
			}
		}
	}
	pairs_free(&q);
	return out;
}

/* ---- Accessors -------------------------------------------------------------------- */

/* The request target as sent.  Not parsed with evhttp_uri: "//api/v1/x" would read as
 * an authority ("api") and a path. */
static const char *target_path(sensed_request *req, size_t *len)
{
	const char *uri = evhttp_request_get_uri(req->ev);
	if (!uri)
		uri = "";
	*len = strcspn(uri, "?#");
	return uri;
}

/* The query string (without '?'), its length in *len; NULL when there is none. */
static const char *target_query(sensed_request *req, size_t *len)
{
	size_t path_len;
	const char *uri = target_path(req, &path_len);
	if (uri[path_len] != '?')
		return NULL;
	const char *q = uri + path_len + 1;
	*len = strcspn(q, "#");
	return q;
}

enum sensed_method request_method(sensed_request *req)
{
	return req->method;
}

const char *request_path(sensed_request *req)
{
	if (!req->decoded_path) {
		size_t raw_len;
		const char *raw = target_path(req, &raw_len);
		const char *end = raw + raw_len;
		char *out = malloc(raw_len + 2);
		if (!out)
			return "/";
		size_t o = 0;
		for (const char *p = raw; p < end;) {
			while (p < end && *p == '/')
				p++;
			if (p == end)
				break;
			out[o++] = '/';
			while (p < end && *p != '/') {
				if (*p == '%' && p + 2 < end && hex_digit_value(p[1]) >= 0 &&
				    hex_digit_value(p[2]) >= 0 &&
				    (hex_digit_value(p[1]) | hex_digit_value(p[2]))) {
					out[o++] = (char)(hex_digit_value(p[1]) * 16 +
					                  hex_digit_value(p[2]));
					p += 3;
				} else {
					out[o++] = *p++;
				}
			}
		}
		if (o == 0)
			out[o++] = '/';
		out[o] = '\0';
		req->decoded_path = out;
	}
	return req->decoded_path;
}

const char *request_param(sensed_request *req, const char *name)
{
	for (int i = 0; i < req->match.param_count; i++)
		if (req->match.param_names[i] && strcmp(req->match.param_names[i], name) == 0)
			return req->match.param_values[i];
	return NULL;
}

/* Parse the query string once; 0, SENSED_EINVAL (decoded NUL) or SENSED_ENOMEM. */
static int query_load(sensed_request *req)
{
	if (req->query)
		return 0;
	req->query = malloc(sizeof(*req->query));
	if (!req->query)
		return SENSED_ENOMEM;
	TAILQ_INIT(req->query);
	size_t len;
	const char *raw = target_query(req, &len);
	return raw ? pairs_parse(raw, len, req->query) : 0;
}

const char *request_query(sensed_request *req, const char *name)
{
	if (query_load(req))
		return NULL;
	const char *last = NULL;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, req->query, next)
	if (strcmp(kv->key, name) == 0)
		last = kv->value;
	return last;
}

/* Keep `v` alive until the request ends; returns it (borrowed). */
static json_t *scratch_keep(sensed_request *req, json_t *v)
{
	if (!v)
		return NULL;
	if (!req->scratch)
		req->scratch = json_array();
	if (!req->scratch || json_array_append_new(req->scratch, v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *request_query_list(sensed_request *req, const char *name)
{
	json_t *list = json_array();
	if (list && query_load(req) == 0) {
		struct evkeyval *kv;
		TAILQ_FOREACH(kv, req->query, next)
		{
			if (strcmp(kv->key, name) != 0)
				continue;
			const char *item = kv->value;
			while (*item) {
				const char *comma = strchr(item, ',');
				size_t len = comma ? (size_t)(comma - item) : strlen(item);
				if (len > 0)
					json_array_append_new(list, json_stringn(item, len));
				item += len + (comma ? 1 : 0);
			}
		}
	}
	json_t *kept = scratch_keep(req, list);
	if (kept)
		return kept;
	static json_t *empty; /* last resort on OOM: never NULL */
	if (!empty)
		empty = json_array();
	return empty;
}

const char *request_header(sensed_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const char *request_body(sensed_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t n = evbuffer_get_length(in);
	if (len)
		*len = n;
	if (n == 0)
		return "";
	return (const char *)evbuffer_pullup(in, -1);
}

static int json_depth(const json_t *v)
{
	int deepest = 0;
	if (json_is_object(v)) {
		const char *key;
		json_t *child;
		json_object_foreach((json_t *)v, key, child)
		{
			int d = json_depth(child);
			if (d > deepest)
				deepest = d;
		}
		return deepest + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child)
		{
			int d = json_depth(child);
			if (d > deepest)
				deepest = d;
		}
		return deepest + 1;
	}
	return 0;
}

int request_json(sensed_request *req, json_t **body)
{
	*body = NULL;
	if (req->body_parsed) {
		*body = req->body_json;
		return 0;
	}
	size_t len;
	const char *bytes = request_body(req, &len);
	size_t skip = 0;
	while (skip < len && isspace((unsigned char)bytes[skip]))
		skip++;
	if (skip == len) {
		req->body_parsed = 1;
		return 0;
	}
	json_error_t err;
	json_t *parsed = json_load_checked(bytes, len, JSON_REJECT_DUPLICATES, &err);
	/* Without the core's allocator (json_alloc_install) jansson reports some allocation
	 * failures as syntax errors (or with no text): a body refused once is parsed again
	 * before the client is blamed. */
	if (!parsed)
		parsed = json_load_checked(bytes, len, JSON_REJECT_DUPLICATES, &err);
	if (!parsed && (!err.text[0] || json_error_code(&err) == json_error_out_of_memory)) {
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return SENSED_ENOMEM;
	}
	if (!parsed) {
		char message[256];
		snprintf(message, sizeof(message), "Invalid JSON body: %s", err.text);
		reply_error(req, 400, SENSED_CODE_INVALID_JSON, message);
		return SENSED_EINVAL;
	}
	int max_depth = g_config && g_config->max_json_depth > 0 ? g_config->max_json_depth : 64;
	if (json_depth(parsed) > max_depth) {
		json_decref(parsed);
		char message[128];
		snprintf(message, sizeof(message), "Invalid JSON body: nested deeper than %d",
		         max_depth);
		reply_error(req, 400, SENSED_CODE_INVALID_JSON, message);
		return SENSED_EINVAL;
	}
	req->body_json = parsed;
	req->body_parsed = 1;
	*body = parsed;
	return 0;
}

json_t *request_user(sensed_request *req)
{
	return req->user;
}

const char *request_user_id(sensed_request *req)
{
	return req->user_id[0] ? req->user_id : NULL;
}

enum sensed_role request_role(sensed_request *req)
{
	return req->role;
}

/* The values of `name` joined with ',' (owned by the request), or NULL when absent. */
static const char *query_joined(sensed_request *req, const char *name)
{
	json_t *list = request_query_list(req, name);
	if (json_array_size(list) == 0)
		return NULL;
	size_t total = 0, i;
	json_t *item;
	json_array_foreach(list, i, item) total += json_string_length(item) + 1;
	char *joined = malloc(total);
	if (!joined)
		return NULL;
	size_t o = 0;
	json_array_foreach(list, i, item)
	{
		if (o)
			joined[o++] = ',';
		memcpy(joined + o, json_string_value(item), json_string_length(item));
		o += json_string_length(item);
	}
	json_t *kept = scratch_keep(req, json_stringn(joined, o));
	free(joined);
	return kept ? json_string_value(kept) : NULL;
}

static int query_size(sensed_request *req, const char *name, size_t *out)
{
	const char *v = request_query(req, name);
	if (!v || !*v)
		return 0;
	size_t value = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || value > (SIZE_MAX - 9) / 10) {
			char message[128];
			snprintf(message, sizeof(message),
			         "Invalid parameter '%s': must be a non-negative integer", name);
			reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, message);
			return SENSED_EINVAL;
		}
		value = value * 10 + (size_t)(*p - '0');
	}
	*out = value;
	return 0;
}

int request_list_query(sensed_request *req, sensed_query *q)
{
	if (query_size(req, "skip", &q->skip) || query_size(req, "limit", &q->limit))
		return SENSED_EINVAL;
	q->fields = query_joined(req, "fields");
	q->sort = query_joined(req, "sort");
	q->expand = query_joined(req, "expand");
	return 0;
}

/* ---- Replies ---------------------------------------------------------------------- */

static void send_reply(sensed_request *req, int status, const char *content_type)
{
	if (req->replied) {
		log_msg(SENSED_LOG_WARN, "http", "second reply ignored (request %s)",
		        req->request_id);
		return;
	}
	req->replied = 1;
	req->status = status;
	struct evkeyvalq *out_headers = evhttp_request_get_output_headers(req->ev);
	struct evbuffer *out = evhttp_request_get_output_buffer(req->ev);
	req->bytes_out = evbuffer_get_length(out);
	if (g_config && g_config->access_log)
		request_path(req); /* the log line needs it after the request is gone */
	if (content_type && req->bytes_out > 0)
		evhttp_add_header(out_headers, "Content-Type", content_type);
	if (evhttp_request_get_command(req->ev) == EVHTTP_REQ_HEAD) {
		char len[24];
		snprintf(len, sizeof(len), "%zu", req->bytes_out);
		evhttp_add_header(out_headers, "Content-Length", len);
		evbuffer_drain(out, req->bytes_out);
	}
	evhttp_send_reply(req->ev, status, http_reason(status), NULL);
	req->ev = NULL; /* evhttp owns it again and frees it once written */
}

static void discard_pending_body(sensed_request *req)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req->ev);
	evbuffer_drain(out, evbuffer_get_length(out));
}

void reply_raw(sensed_request *req, int status, const char *bytes, size_t len)
{
	if (!req || req->replied)
		return;
	discard_pending_body(req);
	if (len)
		evbuffer_add(evhttp_request_get_output_buffer(req->ev), bytes, len);
	send_reply(req, status, "application/json");
}

static int dump_to_evbuffer(const char *buffer, size_t size, void *data)
{
	return evbuffer_add(data, buffer, size);
}

void reply_json(sensed_request *req, int status, const json_t *body)
{
	if (!req || req->replied)
		return;
	discard_pending_body(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req->ev);
	if (body &&
	    json_dump_callback(body, dump_to_evbuffer, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
		discard_pending_body(req);
		reply_error(req, 500, SENSED_CODE_INTERNAL, "Reply could not be encoded");
		return;
	}
	send_reply(req, status, "application/json");
}

void reply_empty(sensed_request *req, int status)
{
	if (!req || req->replied)
		return;
	discard_pending_body(req);
	send_reply(req, status, NULL);
}

void reply_error_extra(sensed_request *req, int status, int code, const char *message,
                       const json_t *extra)
{
	if (!req || req->replied)
		return;
	if (!message)
		message = translations_error_message(req, code);
	json_t *env = error_envelope(status, code, message, extra);
	if (!env) {
		static const char fallback[] = "{\"error\":{\"code\":1005,\"message\":\"Internal "
		                               "server error\",\"status\":500,\"httpMessage\":"
		                               "\"Internal Server Error\"}}";
		reply_raw(req, 500, fallback, sizeof(fallback) - 1);
		return;
	}
	reply_json(req, status, env);
	json_decref(env);
}

void reply_error(sensed_request *req, int status, int code, const char *message)
{
	reply_error_extra(req, status, code, message, NULL);
}

void reply_store_error(sensed_request *req, int err)
{
	int status, code;
	store_error_to_wire(err, &status, &code);
	reply_error(req, status, code, status == 500 ? NULL : sensed_strerror(err));
}

void reply_header(sensed_request *req, const char *name, const char *value)
{
	if (!req || req->replied || !name || !value)
		return;
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

void reply_bytes(sensed_request *req, int status, const char *content_type, const void *bytes,
                 size_t len)
{
	if (!req || req->replied)
		return;
	discard_pending_body(req);
	if (len)
		evbuffer_add(evhttp_request_get_output_buffer(req->ev), bytes, len);
	send_reply(req, status, content_type ? content_type : "application/octet-stream");
}

/* ---- Request end ------------------------------------------------------------------- */

static const char *method_name(enum sensed_method m)
{
	switch (m) {
	case SENSED_GET:
		return "GET";
	case SENSED_POST:
		return "POST";
	case SENSED_PUT:
		return "PUT";
	case SENSED_PATCH:
		return "PATCH";
	case SENSED_DELETE:
		return "DELETE";
	case SENSED_HEAD:
		return "HEAD";
	case SENSED_OPTIONS:
		return "OPTIONS";
	}
	return "?";
}

static void request_finish(sensed_request *req)
{
	if (g_config && g_config->access_log) {
		char line[1024];
		int n =
		    snprintf(line, sizeof(line), "access: %s %s %d %zu %lldus %s %s\n",
		             method_name(req->method), req->decoded_path ? req->decoded_path : "-",
		             req->status, req->bytes_out, (long long)(now_us() - req->start_us),
		             req->user_id[0] ? req->user_id : "-", req->request_id);
		if (n > 0) {
			if ((size_t)n >= sizeof(line))
				n = (int)sizeof(line) - 1;
			ssize_t unused = write(STDERR_FILENO, line, (size_t)n);
			(void)unused;
		}
	}
	if (req->query) {
		pairs_free(req->query);
		free(req->query);
	}
	json_decref(req->body_json);
	json_decref(req->user);
	json_decref(req->scratch);
	free(req->path);
	free(req->decoded_path);
	if (req->worker) {
		/* Looked up again by address: a connection closed meanwhile is simply not found. */
		worker_connection_idle(req->worker, req->evcon);
		worker_request_done(req->worker);
	}
	free(req);
}

/* ---- Jobs ---------------------------------------------------------------------------- */

struct request_job {
	sensed_request *req;
	sensed_job_work work;
	sensed_job_done done;
	void *arg;
};

static void job_work(void *arg)
{
	struct request_job *job = arg;
	job->work(job->arg);
}

static void job_done(void *arg)
{
	struct request_job *job = arg;
	sensed_request *req = job->req;
	req->in_job = 0;
	job->done(req, job->arg);
	free(job);
	if (!req->replied)
		reply_error(req, 500, SENSED_CODE_INTERNAL, "The job finished without a reply");
	request_finish(req);
}

int request_run_job(sensed_request *req, sensed_job_work work, sensed_job_done done, void *arg)
{
	if (!req || !work || !done || req->replied || req->in_job || !req->worker)
		return SENSED_EINVAL;
	struct request_job *job = malloc(sizeof(*job));
	if (!job)
		return SENSED_ENOMEM;
	*job = (struct request_job){.req = req, .work = work, .done = done, .arg = arg};
	int rc = pool_submit(req->worker->base, job_work, job_done, job);
	if (rc) {
		free(job);
		return rc;
	}
	req->in_job = 1;
	return 0;
}

/* A group-commit write: the work runs on the store's committer; the committer hands the
 * result back through the pool's completion path, so done runs on the request's loop. */
struct request_write {
	sensed_request *req;
	int (*work)(sensed_txn *txn, void *arg);
	void (*done)(sensed_request *req, void *arg, int err);
	void *arg;
	int err;
	struct pool_completion *completion;
};

static int write_work(sensed_txn *txn, void *arg)
{
	struct request_write *w = arg;
	return w->work(txn, w->arg);
}

/* Committer thread: the batch is on disk. */
static void write_committed(void *arg, int err)
{
	struct request_write *w = arg;
	w->err = err;
	pool_completion_fire(w->completion);
}

static void write_done(void *arg)
{
	struct request_write *w = arg;
	sensed_request *req = w->req;
	req->in_job = 0;
	w->done(req, w->arg, w->err);
	free(w);
	if (!req->replied)
		reply_error(req, 500, SENSED_CODE_INTERNAL, "The write finished without a reply");
	request_finish(req);
}

int request_write_job(sensed_request *req, int (*work)(sensed_txn *txn, void *arg),
                      void (*done)(sensed_request *req, void *arg, int err), void *arg)
{
	if (!req || !work || !done || req->replied || req->in_job || !req->worker)
		return SENSED_EINVAL;
	struct request_write *w = malloc(sizeof(*w));
	if (!w)
		return SENSED_ENOMEM;
	*w = (struct request_write){.req = req, .work = work, .done = done, .arg = arg};
	w->completion = pool_completion_new(req->worker->base, write_done, w);
	if (!w->completion) {
		free(w);
		return SENSED_ENOMEM;
	}
	int rc = store_write_submit(write_work, w, write_committed, w);
	if (rc) {
		pool_completion_free(w->completion);
		free(w);
		return rc == SENSED_ESTATE ? SENSED_EBUSY : rc;
	}
	req->in_job = 1;
	return 0;
}

/* ---- Dispatch ------------------------------------------------------------------------ */

static enum sensed_method method_of(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return SENSED_GET;
	case EVHTTP_REQ_POST:
		return SENSED_POST;
	case EVHTTP_REQ_PUT:
		return SENSED_PUT;
	case EVHTTP_REQ_PATCH:
		return SENSED_PATCH;
	case EVHTTP_REQ_DELETE:
		return SENSED_DELETE;
	case EVHTTP_REQ_HEAD:
		return SENSED_HEAD;
	case EVHTTP_REQ_OPTIONS:
		return SENSED_OPTIONS;
	default:
		return 0;
	}
}

static void methods_text(unsigned methods, char *out, size_t cap)
{
	static const unsigned order[] = {SENSED_GET,    SENSED_POST, SENSED_PUT,    SENSED_PATCH,
	                                 SENSED_DELETE, SENSED_HEAD, SENSED_OPTIONS};
	size_t o = 0;
	out[0] = '\0';
	if (methods & SENSED_GET)
		methods |= SENSED_HEAD;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(methods & order[i]))
			continue;
		int n = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", method_name(order[i]));
		if (n < 0 || (size_t)n >= cap - o)
			break;
		o += (size_t)n;
	}
}

/* 400 that also closes the connection: the framing is not trustworthy. */
static void reply_framing_error(sensed_request *req, const char *message)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Connection", "close");
	reply_error(req, 400, SENSED_CODE_BAD_REQUEST, message);
}

static const char *framing_problem(struct evkeyvalq *headers)
{
	int content_lengths = 0;
	const char *transfer_encoding = NULL;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, headers, next)
	{
		if (strcasecmp(kv->key, "Content-Length") == 0)
			content_lengths++;
		else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			if (transfer_encoding)
				return "Repeated Transfer-Encoding header";
			transfer_encoding = kv->value;
		}
	}
	if (content_lengths > 1)
		return "Repeated Content-Length header";
	if (transfer_encoding && strcmp(transfer_encoding, "chunked") != 0)
		return "Unsupported Transfer-Encoding";
	if (transfer_encoding && content_lengths)
		return "Both Transfer-Encoding and Content-Length";
	return NULL;
}

/* The allowed origins set at run time (settings/system), or NULL for the configuration's.
 * Replaced whole under the write lock; readers hold the read lock while they look. */
static pthread_rwlock_t cors_lock = PTHREAD_RWLOCK_INITIALIZER;
static json_t *cors_origins_live; /* owned */

int cors_set(int enabled, const json_t *origins)
{
	size_t i;
	json_t *item, *copy, *old;

	if (enabled && origins && !json_is_array(origins))
		return SENSED_EINVAL;
	json_array_foreach(enabled ? origins : NULL, i, item)
	{
		if (!json_is_string(item))
			return SENSED_EINVAL;
	}
	copy = enabled && origins ? json_deep_copy(origins) : json_array();
	if (!copy)
		return SENSED_ENOMEM;
	pthread_rwlock_wrlock(&cors_lock);
	old = cors_origins_live;
	cors_origins_live = copy;
	pthread_rwlock_unlock(&cors_lock);
	json_decref(old);
	return 0;
}

void cors_shutdown(void)
{
	pthread_rwlock_wrlock(&cors_lock);
	json_decref(cors_origins_live);
	cors_origins_live = NULL;
	pthread_rwlock_unlock(&cors_lock);
}

static int origin_allowed(const char *origin)
{
	int allowed = 0;
	size_t i;
	json_t *item, *list;

	if (!origin)
		return 0;
	pthread_rwlock_rdlock(&cors_lock);
	list = cors_origins_live ? cors_origins_live : g_config ? g_config->cors_origins : NULL;
	json_array_foreach(list, i, item)
	{
		const char *value = json_string_value(item);
		if (value && (strcmp(value, "*") == 0 || strcmp(value, origin) == 0)) {
			allowed = 1;
			break;
		}
	}
	pthread_rwlock_unlock(&cors_lock);
	return allowed;
}

static int has_encoded_nul(const char *s, size_t len)
{
	for (; s && len >= 3; s++, len--)
		if (s[0] == '%' && s[1] == '0' && s[2] == '0')
			return 1;
	return 0;
}

static void run_route(sensed_request *req, struct evkeyvalq *in_headers)
{
	size_t path_len, query_len = 0;
	const char *raw_path = target_path(req, &path_len);
	const char *query = target_query(req, &query_len);
	if (has_encoded_nul(query, query_len)) {
		reply_error(req, 400, SENSED_CODE_BAD_REQUEST, "Query string holds a NUL byte");
		return;
	}
	const char *origin = evhttp_find_header(in_headers, "Origin");
	int cors = origin_allowed(origin);
	struct evkeyvalq *out_headers = evhttp_request_get_output_headers(req->ev);
	if (cors) {
		evhttp_add_header(out_headers, "Access-Control-Allow-Origin", origin);
		evhttp_add_header(out_headers, "Vary", "Origin");
	}
	if (req->method == SENSED_OPTIONS && origin &&
	    evhttp_find_header(in_headers, "Access-Control-Request-Method")) {
		if (!cors) {
			reply_error(req, 403, SENSED_CODE_FORBIDDEN, "Origin not allowed");
			return;
		}
		const char *asked =
		    evhttp_find_header(in_headers, "Access-Control-Request-Headers");
		evhttp_add_header(out_headers, "Access-Control-Allow-Methods", ALL_METHODS_TEXT);
		evhttp_add_header(out_headers, "Access-Control-Allow-Headers",
		                  asked ? asked : "Authorization, Content-Type, X-Request-Id");
		evhttp_add_header(out_headers, "Access-Control-Max-Age", "600");
		reply_empty(req, 204);
		return;
	}

	/* POST /engine/excelExport is also served without the /api/v1 prefix. */
	int unprefixed = strncmp(raw_path, "/engine/", 8) == 0;
	req->path = malloc(path_len + 8);
	if (!req->path) {
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	snprintf(req->path, path_len + 8, "%s%.*s", unprefixed ? "/api/v1" : "", (int)path_len,
	         raw_path);
	/* req->path is split in place: the parameter values point into it. */
	unsigned lookup = req->method == SENSED_HEAD ? SENSED_GET : req->method;
	int rc = router_match(g_router, lookup, req->path, &req->match);
	if (rc == SENSED_EINVAL || rc == SENSED_ETOOLARGE) {
		reply_error(req, 400, SENSED_CODE_BAD_REQUEST, "Malformed path");
		return;
	}
	if (rc == SENSED_ENOTFOUND) {
		reply_error(req, 404, SENSED_CODE_NOT_FOUND, NULL);
		return;
	}
	if (rc == SENSED_EUNSUPPORTED) {
		char allow[128];
		methods_text(req->match.allowed_methods | SENSED_OPTIONS, allow, sizeof(allow));
		evhttp_add_header(out_headers, "Allow", allow);
		if (req->method == SENSED_OPTIONS)
			reply_empty(req, 204);
		else
			reply_error(req, 405, SENSED_CODE_METHOD_NOT_ALLOWED, NULL);
		return;
	}
	if (rc != 0) {
		reply_error(req, 500, SENSED_CODE_INTERNAL, NULL);
		return;
	}
	const struct route *route = req->match.route;
	if (route->owner && !atomic_load(&route->owner->enabled)) {
		char message[256];
		snprintf(message, sizeof(message), "plugin '%s' is disabled",
		         route->owner->name ? route->owner->name : "?");
		reply_error(req, 404, SENSED_CODE_PLUGIN_DISABLED, message);
		return;
	}
	const char *authorization = evhttp_find_header(in_headers, "Authorization");
	int resolved = authorization ? auth_resolve(req, authorization) : SENSED_ENOTFOUND;
	if (resolved == SENSED_ENOMEM) {
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	int signed_in = resolved == 0;
	/* A scoped token opens only the routes of its scope, and those only it. */
	if (signed_in && strcmp(req->token_scope, route->scope ? route->scope : "") != 0)
		signed_in = 0;
	if (route->scope && !signed_in) {
		char message[96];
		snprintf(message, sizeof(message), "This route needs a valid %.32s token",
		         route->scope);
		reply_error(req, 401, SENSED_CODE_UNAUTHORIZED, message);
		return;
	}
	if (!signed_in) {
		json_decref(req->user);
		req->user = NULL;
		req->user_id[0] = '\0';
		req->role = SENSED_ROLE_PUBLIC;
	}
	if (route->least_role != SENSED_ROLE_PUBLIC) {
		if (!signed_in) {
			reply_error(req, 401, SENSED_CODE_UNAUTHORIZED,
			            authorization ? "Invalid token" : "Missing token");
			return;
		}
		if (req->role < route->least_role) {
			reply_error(req, 403, SENSED_CODE_FORBIDDEN, NULL);
			return;
		}
	}
	/* After authentication, so the message is in the caller's language. */
	const char *feature = features_route_gate(route->owner);
	if (feature) {
		const char *text = translations_error_message(req, SENSED_CODE_FEATURE_DISABLED);
		char message[256];
		snprintf(message, sizeof(message), "%s: %s",
		         text ? text : wire_code_message(SENSED_CODE_FEATURE_DISABLED), feature);
		reply_error(req, 403, SENSED_CODE_FEATURE_DISABLED, message);
		return;
	}
	route->handler(req, route->handler_arg);
	if (!req->replied && !req->in_job)
		reply_error(req, 500, SENSED_CODE_INTERNAL, "The handler did not reply");
}

void request_dispatch(struct evhttp_request *ev, void *arg)
{
	struct worker *w = arg;
	sensed_request *req = calloc(1, sizeof(*req));
	if (!req) {
		/* No request to reply through: the envelope by hand (reply_error's shape). */
		static const char body[] =
		    "{\"error\":{\"code\":1006,\"message\":\"Service "
		    "unavailable, retry later\",\"status\":503,\"httpMessage\":"
		    "\"Service Unavailable\"}}";
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type",
		                  "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(ev), body, sizeof(body) - 1);
		evhttp_send_reply(ev, 503, "Service Unavailable", NULL);
		return;
	}
	req->ev = ev;
	req->worker = w;
	req->start_us = now_us();
	req->method = method_of(evhttp_request_get_command(ev));
	req->role = SENSED_ROLE_PUBLIC;
	req->evcon = evhttp_request_get_connection(ev);
	if (w) {
		w->in_flight++;
		worker_connection_busy(w, req->evcon);
	}
	struct evkeyvalq *in_headers = evhttp_request_get_input_headers(ev);
	request_id_assign(req, evhttp_find_header(in_headers, "X-Request-Id"));
	evhttp_add_header(evhttp_request_get_output_headers(ev), "X-Request-Id", req->request_id);
	if (w && w->stopping)
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");

	const char *problem = framing_problem(in_headers);
	if (problem)
		reply_framing_error(req, problem);
	else if (!req->method)
		reply_error(req, 405, SENSED_CODE_METHOD_NOT_ALLOWED, NULL);
	else
		run_route(req, in_headers);
	if (!req->in_job)
		request_finish(req);
}
