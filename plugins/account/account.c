/* The "account" plugin: activation and password-reset flows over e-mail
 * (ACC-01, ACC-03..ACC-08), the email server settings and the mail outbox.
 *
 * A flow token is 32 random bytes in hex, sent only inside the mail; the store keeps its
 * BLAKE2b hash (crypto_generichash) in the collection "account_tokens" with its kind, user
 * and expiry.  A token works once: POST consumes it before the password is set (and puts
 * it back only if setting the password failed).  Starting a flow replaces the user's
 * earlier token of that kind.  Mail requests are throttled per address (collection
 * "account_throttle", one record per user: window start and count), all in the same write
 * transaction as the token and the queued message. */
#include "account.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_BYTES  32
#define TOKEN_HEX    (TOKEN_BYTES * 2)
#define MAX_PASSWORD 1024
#define MAX_EMAIL    254

const sensed_host *account_host;
sensed_plugin *account_self;
struct account_config account_config;

static const sensed_host *host; /* == account_host, shorter in this file */
static sensed_collection *users;
static sensed_collection *tokens;
static sensed_collection *throttle;

enum flow { FLOW_ACTIVATE, FLOW_RESET };
static const enum flow flow_activate = FLOW_ACTIVATE, flow_reset = FLOW_RESET;

static const char *flow_kind(enum flow flow)
{
	return flow == FLOW_ACTIVATE ? "activate" : "reset";
}

int64_t account_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Mail text ----------------------------------------------------------------------- */
static const char *const default_text[][2] = {
    {"email.activate.subject", "Activate your account"},
    {"email.activate.body",
     "Hello {{userName}},\n\nAn account was created for you. To activate it and choose your "
     "password, open this link:\n\n{{link}}\n\nThe link works once and expires after a "
     "while; ask for a new one if it has.\n"},
    {"email.reset.subject", "Reset your password"},
    {"email.reset.body",
     "Hello {{userName}},\n\nSomeone asked to reset the password of your account. To choose "
     "a new password, open this link:\n\n{{link}}\n\nThe link works once and expires soon. "
     "If you did not ask for this, ignore this message: your password stays as it is.\n"},
};

/* The text of `key` in `locale` (NULL: the default language), or the built-in English
 * text while the host has no translations (or none for this key).  Borrowed. */
static const char *mail_text(const char *locale, const char *key)
{
	if (SENSED_HOST_HAS(host, translate_locale)) {
		const char *t = host->translate_locale(locale, key);

		if (t != NULL && strcmp(t, key) != 0)
			return t;
	}
	for (size_t i = 0; i < sizeof(default_text) / sizeof(default_text[0]); i++)
		if (!strcmp(default_text[i][0], key))
			return default_text[i][1];
	return key;
}

/* `template` with every {{userName}} and {{link}} replaced.  malloc'd, or NULL. */
static char *fill_template(const char *template, const char *user_name, const char *link)
{
	static const char user_mark[] = "{{userName}}", link_mark[] = "{{link}}";
	size_t size = strlen(template) + 1, n = 0;
	const char *p;
	char *out;

	for (p = template; (p = strstr(p, "{{")) != NULL; p += 2) {
		if (!strncmp(p, user_mark, sizeof(user_mark) - 1))
			size += strlen(user_name);
		else if (!strncmp(p, link_mark, sizeof(link_mark) - 1))
			size += strlen(link);
	}
	if ((out = malloc(size)) == NULL)
		return NULL;
	for (p = template; *p;) {
		if (!strncmp(p, user_mark, sizeof(user_mark) - 1)) {
			memcpy(out + n, user_name, strlen(user_name));
			n += strlen(user_name);
			p += sizeof(user_mark) - 1;
		} else if (!strncmp(p, link_mark, sizeof(link_mark) - 1)) {
			memcpy(out + n, link, strlen(link));
			n += strlen(link);
			p += sizeof(link_mark) - 1;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return out;
}

/* ---- Tokens -------------------------------------------------------------------------- */
static void token_hash(const char *token, char hex[TOKEN_HEX + 1])
{
	unsigned char digest[crypto_generichash_BYTES];

	crypto_generichash(digest, sizeof(digest), (const unsigned char *)token, strlen(token),
	                   NULL, 0);
	sodium_bin2hex(hex, TOKEN_HEX + 1, digest, sizeof(digest));
}

static int token_shape_valid(const char *token)
{
	if (token == NULL || strlen(token) != TOKEN_HEX)
		return 0;
	for (; *token; token++)
		if (!isxdigit((unsigned char)*token) || isupper((unsigned char)*token))
			return 0;
	return 1;
}

/* The live token record of `flow` for the token text (new reference), or
 * SENSED_ENOTFOUND (also for malformed or expired tokens). */
static int token_find(sensed_txn *txn, enum flow flow, const char *token, json_t **out)
{
	char hash[TOKEN_HEX + 1];
	json_t *filter, *doc = NULL;
	int err;

	*out = NULL;
	if (!token_shape_valid(token))
		return SENSED_ENOTFOUND;
	token_hash(token, hash);
	if ((filter = json_pack("{s:s, s:s}", "hash", hash, "kind", flow_kind(flow))) == NULL)
		return SENSED_ENOMEM;
	err = host->find_one(txn, tokens, filter, &doc);
	json_decref(filter);
	if (err != 0)
		return err;
	if (json_integer_value(json_object_get(doc, "expires")) <= account_now_ms()) {
		json_decref(doc);
		return SENSED_ENOTFOUND;
	}
	*out = doc;
	return 0;
}

/* Delete every token of `flow` the user holds. */
static int tokens_delete_user(sensed_txn *txn, enum flow flow, const char *user_id)
{
	json_t *filter = json_pack("{s:s, s:s}", "userId", user_id, "kind", flow_kind(flow));
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *doc;
	size_t i;
	int err;

	if (filter == NULL)
		return SENSED_ENOMEM;
	q.filter = filter;
	q.fields = "_id";
	err = host->find(txn, tokens, &q, &found);
	json_decref(filter);
	json_array_foreach(found, i, doc)
	{
		if (err == 0)
			err = host->doc_delete(txn, tokens,
			                       json_string_value(json_object_get(doc, "_id")));
	}
	json_decref(found);
	return err;
}

/* ---- Throttle ------------------------------------------------------------------------ */
/* Count one mail to the user in the current window.  Returns 0, or SENSED_EBUSY with
 * *retry_after_s set when the window is full. */
static int throttle_take(sensed_txn *txn, const char *user_id, int64_t *retry_after_s)
{
	int64_t now = account_now_ms();
	json_t *doc = NULL;
	int err = host->doc_get(txn, throttle, user_id, &doc);

	if (err == SENSED_ENOTFOUND) {
		doc = json_pack("{s:s, s:I, s:i}", "_id", user_id, "windowStart", (json_int_t)now,
		                "count", 1);
		err = doc ? host->doc_insert(txn, throttle, doc, NULL) : SENSED_ENOMEM;
		json_decref(doc);
		return err;
	}
	if (err != 0)
		return err;
	int64_t start = json_integer_value(json_object_get(doc, "windowStart"));
	json_int_t count = json_integer_value(json_object_get(doc, "count"));

	if (now - start >= account_config.throttle_window_ms || now < start) {
		start = now;
		count = 0;
	}
	if (count >= account_config.throttle_max) {
		json_decref(doc);
		*retry_after_s = (start + account_config.throttle_window_ms - now + 999) / 1000;
		return SENSED_EBUSY;
	}
	json_object_set_new(doc, "windowStart", json_integer(start));
	json_object_set_new(doc, "count", json_integer(count + 1));
	err = host->doc_replace(txn, throttle, user_id, doc);
	json_decref(doc);
	return err;
}

/* ---- begin_activate, begin_activate_bulk, begin_reset_password ----------------------- */
/* Lower-case copy of an e-mail from the body (`email` member or a bare string), or NULL. */
static char *email_of(const json_t *item)
{
	const json_t *value = json_is_object(item) ? json_object_get(item, "email") : item;
	const char *s = json_string_value(value);
	char *lower;

	if (s == NULL || *s == '\0' || strlen(s) > MAX_EMAIL ||
	    strlen(s) != json_string_length(value))
		return NULL;
	if ((lower = strdup(s)) == NULL)
		return NULL;
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return lower;
}

struct begin_error {
	int status, code;
	const char *message;
	int64_t retry_after_s;
};

/* Create the user's token of `flow` and queue its mail, inside `txn`. */
static int begin_one(sensed_txn *txn, enum flow flow, const char *email, struct begin_error *e)
{
	json_t *filter = json_pack("{s:s}", "email", email), *user = NULL;
	unsigned char raw[TOKEN_BYTES];
	char token[TOKEN_HEX + 1], hash[TOKEN_HEX + 1];
	char *link = NULL, *subject = NULL, *body = NULL;
	const char *user_id, *address, *user_name, *locale;
	int64_t expires;
	json_t *record;
	int err;

	if (filter == NULL)
		return SENSED_ENOMEM;
	err = host->find_one(txn, users, filter, &user);
	json_decref(filter);
	if (err == SENSED_ENOTFOUND) {
		*e = (struct begin_error){404, SENSED_CODE_USER_NOT_FOUND, "Invalid email", 0};
		return err;
	}
	if (err != 0)
		return err;
	user_id = json_string_value(json_object_get(user, "_id"));
	address = json_string_value(json_object_get(user, "email"));
	user_name = json_string_value(json_object_get(user, "userName"));
	locale =
	    json_string_value(json_object_get(json_object_get(user, "preferences"), "localeId"));
	if (user_name == NULL)
		user_name = address;
	if (flow == FLOW_ACTIVATE && !json_is_false(json_object_get(user, "active"))) {
		*e = (struct begin_error){400, SENSED_CODE_ACCOUNT_ALREADY_ACTIVE, NULL, 0};
		err = SENSED_EINVAL;
		goto out;
	}
	if (flow == FLOW_RESET && json_is_false(json_object_get(user, "active"))) {
		*e = (struct begin_error){400, SENSED_CODE_ACCOUNT_NOT_ACTIVE,
		                          "User is not active: activate the account instead", 0};
		err = SENSED_EINVAL;
		goto out;
	}
	if (user_id == NULL || address == NULL || !mail_address_valid(address)) {
		*e = (struct begin_error){400, SENSED_CODE_INVALID_PARAMETER,
		                          "The user's e-mail address cannot receive mail", 0};
		err = SENSED_EINVAL;
		goto out;
	}
	if ((err = throttle_take(txn, user_id, &e->retry_after_s)) != 0) {
		if (err == SENSED_EBUSY) {
			e->status = 429;
			e->code = SENSED_CODE_ACCOUNT_MAIL_THROTTLED;
			e->message = NULL;
		}
		goto out;
	}
	if ((err = tokens_delete_user(txn, flow, user_id)) != 0)
		goto out;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, sizeof(token), raw, sizeof(raw));
	token_hash(token, hash);
	expires = account_now_ms() + (flow == FLOW_ACTIVATE ? account_config.activation_ttl_ms
	                                                    : account_config.reset_ttl_ms);
	record = json_pack("{s:s, s:s, s:s, s:I}", "hash", hash, "kind", flow_kind(flow), "userId",
	                   user_id, "expires", (json_int_t)expires);
	err = record ? host->doc_insert(txn, tokens, record, NULL) : SENSED_ENOMEM;
	json_decref(record);
	if (err != 0)
		goto out;

	size_t link_size = strlen(account_config.public_base_url) + TOKEN_HEX + 64;
	if ((link = malloc(link_size)) == NULL) {
		err = SENSED_ENOMEM;
		goto out;
	}
	snprintf(link, link_size, "%s/account/%s/%s", account_config.public_base_url,
	         flow == FLOW_ACTIVATE ? "activate" : "reset_password", token);
	subject = fill_template(mail_text(locale, flow == FLOW_ACTIVATE ? "email.activate.subject"
	                                                                : "email.reset.subject"),
	                        user_name, link);
	body = fill_template(
	    mail_text(locale, flow == FLOW_ACTIVATE ? "email.activate.body" : "email.reset.body"),
	    user_name, link);
	err = subject && body ? mail_queue(txn, address, subject, body, expires) : SENSED_ENOMEM;
out:
	sodium_memzero(token, sizeof(token));
	if (body)
		sodium_memzero(body, strlen(body));
	if (link)
		sodium_memzero(link, strlen(link));
	free(link);
	free(subject);
	free(body);
	json_decref(user);
	return err;
}

/* Start `flow` for every address of `emails` (array of lower-case strings): all or none. */
static void begin_flow(sensed_request *req, enum flow flow, const json_t *emails)
{
	struct begin_error e = {0};
	sensed_txn *txn = NULL;
	const json_t *email;
	size_t i;
	int err;

	if (!email_server_usable(NULL)) {
		host->reply_error(req, 400, SENSED_CODE_EMAIL_NOT_CONFIGURED,
		                  "Email server is not configured or not enabled");
		return;
	}
	if ((err = host->txn_begin(1, &txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	json_array_foreach(emails, i, email)
	{
		if ((err = begin_one(txn, flow, json_string_value(email), &e)) != 0)
			break;
	}
	if (err != 0) {
		host->txn_abort(txn);
		if (e.status == 0) {
			host->reply_store_error(req, err);
			return;
		}
		if (e.retry_after_s > 0) {
			char seconds[24];

			snprintf(seconds, sizeof(seconds), "%lld", (long long)e.retry_after_s);
			host->reply_header(req, "Retry-After", seconds);
		}
		host->reply_error(req, e.status, e.code, e.message);
		return;
	}
	if ((err = host->txn_commit(txn)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	mail_wake();
	host->reply_empty(req, 204);
}

/* POST /account/begin_activate and /account/begin_reset_password: {"email": "..."} */
static void begin_single(sensed_request *req, void *arg)
{
	enum flow flow = *(const enum flow *)arg;
	json_t *body = NULL, *emails;
	char *email;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_object(body) || (email = email_of(body)) == NULL) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "The body must be {\"email\": \"<address>\"}");
		return;
	}
	emails = json_pack("[s]", email);
	free(email);
	if (emails == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	begin_flow(req, flow, emails);
	json_decref(emails);
}

/* POST /account/begin_activate_bulk: [{"email": "..."}, ...] (bare strings accepted) */
static void begin_bulk(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *emails, *item;
	size_t i, j;

	if (host->request_json(req, &body) != 0)
		return;
	if (!json_is_array(body)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "The body must be an array of {\"email\": \"<address>\"}");
		return;
	}
	if (json_array_size(body) > (size_t)account_config.max_bulk) {
		char why[96];

		snprintf(why, sizeof(why), "At most %d addresses per request",
		         account_config.max_bulk);
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, why);
		return;
	}
	if ((emails = json_array()) == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	json_array_foreach(body, i, item)
	{
		char *email = email_of(item);
		int seen = 0;
		json_t *have;

		if (email == NULL) {
			json_decref(emails);
			host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
			                  "Every item must be {\"email\": \"<address>\"}");
			return;
		}
		json_array_foreach(emails, j, have)
		{
			seen |= !strcmp(json_string_value(have), email);
		}
		if (!seen)
			json_array_append_new(emails, json_string(email));
		free(email);
	}
	begin_flow(req, FLOW_ACTIVATE, emails);
	json_decref(emails);
}

/* ---- Token endpoints ----------------------------------------------------------------- */
static void reply_token_invalid(sensed_request *req)
{
	host->reply_error(req, 404, SENSED_CODE_ACCOUNT_TOKEN_INVALID, NULL);
}

/* GET /account/activate/{token}, GET /account/reset_password/{token} -> {"userName"} */
static void validate_token(sensed_request *req, void *arg)
{
	enum flow flow = *(const enum flow *)arg;
	json_t *record = NULL, *user = NULL, *out;
	const char *name;
	int err;

	err = token_find(NULL, flow, host->request_param(req, "token"), &record);
	if (err == 0)
		err = host->doc_get(NULL, users,
		                    json_string_value(json_object_get(record, "userId")), &user);
	json_decref(record);
	if (err == SENSED_ENOTFOUND || err == SENSED_EBADID) {
		reply_token_invalid(req);
		return;
	}
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	name = json_string_value(json_object_get(user, "userName"));
	out = json_pack("{s:s}", "userName", name ? name : "");
	json_decref(user);
	if (out == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, out);
	json_decref(out);
}

struct password_job {
	enum flow flow;
	char user_id[25];
	char *password; /* owned, wiped */
	json_t *record; /* owned: the consumed token, put back if the password is not set */
	int result;
};

static void password_job_free(struct password_job *job)
{
	if (job->password) {
		sodium_memzero(job->password, strlen(job->password));
		free(job->password);
	}
	json_decref(job->record);
	free(job);
}

static void password_work(void *arg)
{
	struct password_job *job = arg;

	job->result = host->password_set(job->user_id, job->password);
	if (job->result == 0 && job->flow == FLOW_RESET)
		job->result = host->tokens_revoke_user(job->user_id);
}

/* Activation also marks the user active, in one write transaction. */
static int activate_user(const char *user_id)
{
	sensed_txn *txn = NULL;
	json_t *user = NULL;
	int err;

	if ((err = host->txn_begin(1, &txn)) != 0)
		return err;
	if ((err = host->doc_get(txn, users, user_id, &user)) == 0) {
		json_object_set_new(user, "active", json_true());
		err = host->doc_replace(txn, users, user_id, user);
	}
	json_decref(user);
	if (err != 0) {
		host->txn_abort(txn);
		return err;
	}
	return host->txn_commit(txn);
}

static void password_done(sensed_request *req, void *arg)
{
	struct password_job *job = arg;
	int err = job->result;

	if (err == 0 && job->flow == FLOW_ACTIVATE)
		err = activate_user(job->user_id);
	if (err != 0) {
		/* the flow did not complete: the token stays usable for another try */
		host->doc_insert(NULL, tokens, job->record, NULL);
		host->log(account_self, SENSED_LOG_ERROR, "%s for user %s failed: %s",
		          flow_kind(job->flow), job->user_id, host->strerror(err));
		host->reply_store_error(req, err);
	} else {
		host->reply_empty(req, 204);
	}
	password_job_free(job);
}

/* POST /account/activate/{token}, POST /account/reset_password/{token}:
 * {"password": "..."} -> 204 */
static void use_token(sensed_request *req, void *arg)
{
	enum flow flow = *(const enum flow *)arg;
	json_t *body = NULL, *record = NULL, *user = NULL;
	struct password_job *job;
	const char *password, *user_id;
	sensed_txn *txn = NULL;
	int err;

	if (host->request_json(req, &body) != 0)
		return;
	password = json_string_value(json_object_get(body, "password"));
	if (!json_is_object(body) || password == NULL || *password == '\0' ||
	    strlen(password) > MAX_PASSWORD ||
	    strlen(password) != json_string_length(json_object_get(body, "password"))) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "The body must be {\"password\": \"<new password>\"}");
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL || (job->password = strdup(password)) == NULL) {
		free(job);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	job->flow = flow;
	/* consume the token first: two requests with one token cannot both succeed */
	if ((err = host->txn_begin(1, &txn)) != 0) {
		password_job_free(job);
		host->reply_store_error(req, err);
		return;
	}
	err = token_find(txn, flow, host->request_param(req, "token"), &record);
	user_id = err == 0 ? json_string_value(json_object_get(record, "userId")) : NULL;
	if (err == 0 && (user_id == NULL || strlen(user_id) != 24))
		err = SENSED_ENOTFOUND;
	if (err == 0)
		err = host->doc_get(txn, users, user_id, &user);
	if (err == 0)
		err = host->doc_delete(txn, tokens,
		                       json_string_value(json_object_get(record, "_id")));
	json_decref(user);
	if (err != 0) {
		host->txn_abort(txn);
		json_decref(record);
		password_job_free(job);
		if (err == SENSED_ENOTFOUND || err == SENSED_EBADID)
			reply_token_invalid(req);
		else
			host->reply_store_error(req, err);
		return;
	}
	if ((err = host->txn_commit(txn)) != 0) {
		json_decref(record);
		password_job_free(job);
		host->reply_store_error(req, err);
		return;
	}
	memcpy(job->user_id, user_id, 25);
	job->record = record;
	if (host->run_job(req, password_work, password_done, job) != 0) {
		host->doc_insert(NULL, tokens, job->record, NULL);
		password_job_free(job);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	}
}

/* ---- Housekeeping (delivery thread) -------------------------------------------------- */
static void delete_matching(sensed_collection *coll, json_t *filter)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *doc;
	size_t i;

	if (filter == NULL)
		return;
	q.filter = filter;
	q.fields = "_id";
	if (host->find(NULL, coll, &q, &found) == 0)
		json_array_foreach(found, i, doc)
		{
			host->doc_delete(NULL, coll,
			                 json_string_value(json_object_get(doc, "_id")));
		}
	json_decref(found);
	json_decref(filter);
}

void account_purge_expired(void)
{
	int64_t now = account_now_ms();

	delete_matching(tokens, json_pack("{s:{s:I}}", "expires", "$lte", (json_int_t)now));
	delete_matching(throttle, json_pack("{s:{s:I}}", "windowStart", "$lt",
	                                    (json_int_t)(now - account_config.throttle_window_ms)));
}

/* ---- Configuration and lifecycle ----------------------------------------------------- */
static int config_seconds(sensed_plugin *self, json_t *cfg, const char *key, int64_t fallback,
                          int64_t *out_ms)
{
	json_t *value = json_object_get(cfg, key);

	if (value == NULL) {
		*out_ms = fallback * 1000;
		return 0;
	}
	if (!json_is_integer(value) || json_integer_value(value) < 1 ||
	    json_integer_value(value) > 10LL * 365 * 86400) {
		host->set_error(
		    self, "plugins.config.account.%s must be a positive number of seconds", key);
		return SENSED_EINVAL;
	}
	*out_ms = json_integer_value(value) * 1000;
	return 0;
}

static int config_count(sensed_plugin *self, json_t *cfg, const char *key, int fallback, int *out)
{
	json_t *value = json_object_get(cfg, key);

	if (value == NULL) {
		*out = fallback;
		return 0;
	}
	if (!json_is_integer(value) || json_integer_value(value) < 1 ||
	    json_integer_value(value) > 1000000) {
		host->set_error(self, "plugins.config.account.%s must be a positive integer", key);
		return SENSED_EINVAL;
	}
	*out = (int)json_integer_value(value);
	return 0;
}

static int read_config(sensed_plugin *self)
{
	static const char *const known[] = {"publicBaseUrl",
	                                    "activationTokenTtlSeconds",
	                                    "resetTokenTtlSeconds",
	                                    "mailThrottleMax",
	                                    "mailThrottleWindowSeconds",
	                                    "retryInitialSeconds",
	                                    "retryMaxSeconds",
	                                    "maxBulk",
	                                    "caFile"};
	json_t *cfg = host->config(self), *value;
	const char *key, *base = "http://localhost:8081";
	struct account_config *c = &account_config;
	int err;

	json_object_foreach(cfg, key, value)
	{
		int ok = 0;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok) {
			host->set_error(self, "unknown key plugins.config.account.%s", key);
			return SENSED_EINVAL;
		}
	}
	if ((value = json_object_get(cfg, "publicBaseUrl")) != NULL) {
		base = json_string_value(value);
		if (base == NULL ||
		    (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) ||
		    strlen(base) > 1024 || strpbrk(base, " \t\r\n\"<>") != NULL) {
			host->set_error(self, "plugins.config.account.publicBaseUrl must be an "
			                      "http(s) URL");
			return SENSED_EINVAL;
		}
	}
	if ((value = json_object_get(cfg, "caFile")) != NULL) {
		if (!json_is_string(value) || access(json_string_value(value), R_OK) != 0) {
			host->set_error(self, "plugins.config.account.caFile must name a readable "
			                      "file of PEM certificates");
			return SENSED_EINVAL;
		}
		if ((c->ca_file = strdup(json_string_value(value))) == NULL)
			return SENSED_ENOMEM;
	}
	if ((c->public_base_url = strdup(base)) == NULL)
		return SENSED_ENOMEM;
	for (size_t n = strlen(c->public_base_url); n > 0 && c->public_base_url[n - 1] == '/';)
		c->public_base_url[--n] = '\0';
	if ((err = config_seconds(self, cfg, "activationTokenTtlSeconds", 86400,
	                          &c->activation_ttl_ms)) ||
	    (err = config_seconds(self, cfg, "resetTokenTtlSeconds", 3600, &c->reset_ttl_ms)) ||
	    (err = config_seconds(self, cfg, "mailThrottleWindowSeconds", 3600,
	                          &c->throttle_window_ms)) ||
	    (err = config_count(self, cfg, "mailThrottleMax", 5, &c->throttle_max)) ||
	    (err = config_seconds(self, cfg, "retryInitialSeconds", 30, &c->retry_initial_ms)) ||
	    (err = config_seconds(self, cfg, "retryMaxSeconds", 3600, &c->retry_max_ms)) ||
	    (err = config_count(self, cfg, "maxBulk", 1000, &c->max_bulk)))
		return err;
	return 0;
}

static void account_fini(sensed_plugin *self)
{
	(void)self;
	mail_fini();
	free(account_config.public_base_url);
	account_config.public_base_url = NULL;
	free(account_config.ca_file);
	account_config.ca_file = NULL;
}

static int account_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	account_host = host = h;
	account_self = self;
	if (sodium_init() < 0) {
		h->set_error(self, "libsodium failed to initialise");
		return SENSED_ENOMEM;
	}
	if ((err = read_config(self)) != 0)
		goto fail;
	if ((err = h->collection_open(self, "users", &users)) ||
	    (err = h->collection_open(self, "account_tokens", &tokens)) ||
	    (err = h->index_declare(tokens, "hash", SENSED_INDEX_UNIQUE)) ||
	    (err = h->index_declare(tokens, "userId", 0)) ||
	    (err = h->collection_open(self, "account_throttle", &throttle)) ||
	    (err = h->route_add(self, SENSED_POST, "/account/begin_activate", SENSED_ROLE_PUBLIC,
	                        begin_single, (void *)&flow_activate)) ||
	    (err = h->route_add(self, SENSED_POST, "/account/begin_activate_bulk",
	                        SENSED_ROLE_PUBLIC, begin_bulk, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/account/begin_reset_password",
	                        SENSED_ROLE_PUBLIC, begin_single, (void *)&flow_reset)) ||
	    (err = h->route_add(self, SENSED_GET, "/account/activate/{token}", SENSED_ROLE_PUBLIC,
	                        validate_token, (void *)&flow_activate)) ||
	    (err = h->route_add(self, SENSED_POST, "/account/activate/{token}", SENSED_ROLE_PUBLIC,
	                        use_token, (void *)&flow_activate)) ||
	    (err = h->route_add(self, SENSED_GET, "/account/reset_password/{token}",
	                        SENSED_ROLE_PUBLIC, validate_token, (void *)&flow_reset)) ||
	    (err = h->route_add(self, SENSED_POST, "/account/reset_password/{token}",
	                        SENSED_ROLE_PUBLIC, use_token, (void *)&flow_reset))) {
		h->set_error(self, "account: %s", h->strerror(err));
		goto fail;
	}
	if ((err = email_server_init(self)) != 0 || (err = mail_init(self)) != 0)
		goto fail;
	return 0;
fail:
	free(account_config.public_base_url);
	account_config.public_base_url = NULL;
	free(account_config.ca_file);
	account_config.ca_file = NULL;
	return err;
}

SENSED_PLUGIN_DEFINE("account", "1.0.0",
                     "Account activation and password reset by e-mail, email server settings",
                     account_init, account_fini)
