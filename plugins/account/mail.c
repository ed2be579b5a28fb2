/* The mail outbox and its delivery thread.
 *
 * A message is a document of the collection "mail_outbox", written in the same write
 * transaction as the token it carries, so a message exists exactly when its token does.
 * One thread of this plugin (started by mail_init, joined by mail_fini) sends due
 * messages over SMTP with libcurl and deletes each one once the server accepted it; a
 * failure reschedules it with exponential backoff.  Nothing is held only in memory, so
 * a mail server that is down, or a restart of sensed, delays mail but loses none.  A
 * message is dropped only when the link it carries has expired (it is useless then).
 *
 * Threads: the delivery thread calls the store directly (as the core's own password_set
 * does from pool threads); see README.md.  Handlers only insert and call mail_wake(). */
#include "account.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH         16
#define IDLE_WAIT_MS  60000 /* look again at least this often (expiry, settings) */
#define SEND_LIMIT_MS 120000

static sensed_collection *outbox;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static int cond_ready;
static int stopping; /* under `lock`; also read atomically by the curl progress callback */
static int woken;    /* under `lock` */
static pthread_t thread;
static int thread_running;
static int curl_ready;

/* ---- Small growing string ------------------------------------------------------------ */
struct buf {
	char *data;
	size_t len, cap;
	int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((grown = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* ---- Addresses and message text ------------------------------------------------------ */
int mail_address_valid(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = strlen(a);

	if (n < 3 || n > 254 || at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	for (; *a; a++) {
		unsigned char c = (unsigned char)*a;

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"", c))
			return 0;
	}
	return 1;
}

/* RFC 2047 encoded words for a header value (UTF-8, base64), folded between words.
 * CR and LF in `text` become spaces, so no header can be injected. */
static void add_encoded_words(struct buf *b, const char *text)
{
	size_t n = strlen(text), pos = 0;

	while (pos < n) {
		unsigned char chunk[45];
		char b64[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
		size_t take = n - pos > 45 ? 45 : n - pos;

		/* never split a UTF-8 sequence between two words */
		while (take < n - pos && take > 1 &&
		       ((unsigned char)text[pos + take] & 0xc0) == 0x80)
			take--;
		for (size_t i = 0; i < take; i++)
			chunk[i] =
			    text[pos + i] == '\r' || text[pos + i] == '\n' ? ' ' : text[pos + i];
		sodium_bin2base64(b64, sizeof(b64), chunk, take, sodium_base64_VARIANT_ORIGINAL);
		if (pos > 0)
			buf_str(b, "\r\n ");
		buf_str(b, "=?UTF-8?B?");
		buf_str(b, b64);
		buf_str(b, "?=");
		pos += take;
	}
}

/* The whole RFC 5322 message: headers, then the body in base64 (any text, any line
 * length, no dot-stuffing surprises).  Returns a malloc'd string or NULL. */
static char *build_message(const char *sender_name, const char *sender, const char *to,
                           const char *subject, const char *body)
{
	struct buf b = {0};
	char line[160], id[33];
	unsigned char rnd[16];
	time_t now = time(NULL);
	struct tm tm;
	size_t body_len = strlen(body);
	size_t b64_size = sodium_base64_ENCODED_LEN(body_len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64_size);

	if (b64 == NULL)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S +0000\r\n", &tm);
	buf_str(&b, line);
	buf_str(&b, "From: ");
	if (sender_name && *sender_name) {
		add_encoded_words(&b, sender_name);
		buf_str(&b, " ");
	}
	buf_str(&b, "<");
	buf_str(&b, sender);
	buf_str(&b, ">\r\nTo: <");
	buf_str(&b, to);
	buf_str(&b, ">\r\nSubject: ");
	add_encoded_words(&b, subject);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(id, sizeof(id), rnd, sizeof(rnd));
	snprintf(line, sizeof(line), "\r\nMessage-ID: <%s@sensed>\r\n", id);
	buf_str(&b, line);
	buf_str(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\n");
	sodium_bin2base64(b64, b64_size, (const unsigned char *)body, body_len,
	                  sodium_base64_VARIANT_ORIGINAL);
	for (size_t off = 0, n = strlen(b64); off < n; off += 76) {
		buf_add(&b, b64 + off, n - off > 76 ? 76 : n - off);
		buf_str(&b, "\r\n");
	}
	free(b64);
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* ---- Queueing (loop threads) --------------------------------------------------------- */
int mail_queue(sensed_txn *txn, const char *to, const char *subject, const char *body,
               int64_t expires_ms)
{
	char *sealed = NULL;
	json_t *doc;
	int err;

	if ((err = account_host->secret_seal(body, &sealed)) != 0)
		return err;
	doc = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}", "to", to, "subject", subject, "body",
	                sealed, "attempts", 0, "nextAttempt", (json_int_t)account_now_ms(),
	                "expires", (json_int_t)expires_ms);
	free(sealed);
	if (doc == NULL)
		return SENSED_ENOMEM;
	err = account_host->doc_insert(txn, outbox, doc, NULL);
	json_decref(doc);
	return err;
}

void mail_wake(void)
{
	pthread_mutex_lock(&lock);
	woken = 1;
	if (cond_ready)
		pthread_cond_signal(&wake_cond);
	pthread_mutex_unlock(&lock);
}

static int is_stopping(void)
{
	return __atomic_load_n(&stopping, __ATOMIC_RELAXED);
}

/* ---- SMTP ---------------------------------------------------------------------------- */
struct payload {
	const char *data;
	size_t len, off;
};

static size_t read_payload(char *out, size_t size, size_t count, void *arg)
{
	struct payload *p = arg;
	size_t n = size * count;

	if (n > p->len - p->off)
		n = p->len - p->off;
	memcpy(out, p->data + p->off, n);
	p->off += n;
	return n;
}

/* Abort a transfer in flight when the server stops (fini must not wait for it). */
static int transfer_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg, (void)a, (void)b, (void)c, (void)d;
	return is_stopping();
}

/* Errors that say the server (not this message) is the problem: the rest of the batch
 * is rescheduled without trying. */
static int server_level_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_USE_SSL_FAILED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_LOGIN_DENIED:
	case CURLE_GOT_NOTHING:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_ABORTED_BY_CALLBACK:
		return 1;
	default:
		return 0;
	}
}

/* Send one message through the server described by `settings` (borrowed).  `error`
 * receives curl's explanation on failure. */
static CURLcode smtp_send(const json_t *settings, const char *to, const char *message,
                          char error[CURL_ERROR_SIZE])
{
	const char *host = json_string_value(json_object_get(settings, "host"));
	const char *sender = json_string_value(json_object_get(settings, "senderEmail"));
	const char *user = json_string_value(json_object_get(settings, "user"));
	const char *sealed_pass = json_string_value(json_object_get(settings, "pass"));
	int secure = json_is_true(json_object_get(settings, "secure"));
	json_int_t port = json_integer_value(json_object_get(settings, "port"));
	json_int_t timeout = json_integer_value(json_object_get(settings, "connectionTimeout"));
	struct payload payload = {.data = message, .len = strlen(message)};
	struct curl_slist *rcpt = NULL;
	char url[300], from[300], to_arg[300];
	char *pass = NULL;
	CURL *curl;
	CURLcode rc;

	error[0] = '\0';
	if (port <= 0)
		port = secure ? 465 : 25;
	/* an IPv6 literal goes in brackets */
	snprintf(url, sizeof(url),
	         strchr(host, ':') && host[0] != '[' ? "%s://[%s]:%d" : "%s://%s:%d",
	         secure ? "smtps" : "smtp", host, (int)port);
	snprintf(from, sizeof(from), "<%s>", sender);
	snprintf(to_arg, sizeof(to_arg), "<%s>", to);
	if (sealed_pass && account_host->secret_open(sealed_pass, &pass) != 0) {
		snprintf(error, CURL_ERROR_SIZE, "the stored password cannot be opened");
		return CURLE_LOGIN_DENIED;
	}
	if ((curl = curl_easy_init()) == NULL || (rcpt = curl_slist_append(NULL, to_arg)) == NULL) {
		curl_easy_cleanup(curl);
		if (pass)
			sodium_memzero(pass, strlen(pass));
		free(pass);
		return CURLE_OUT_OF_MEMORY;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_payload);
	curl_easy_setopt(curl, CURLOPT_READDATA, &payload);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, transfer_progress);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout > 0 ? timeout : 10000));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)SEND_LIMIT_MS);
	/* secure: TLS from the first byte; requireTLS: STARTTLS or fail; ignoreTLS: never
	 * STARTTLS; otherwise STARTTLS when the server offers it (nodemailer's rules). */
	if (secure || json_is_true(json_object_get(settings, "requireTLS")))
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else if (json_is_true(json_object_get(settings, "ignoreTLS")))
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	else
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (account_config.ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, account_config.ca_file);
	if (user)
		curl_easy_setopt(curl, CURLOPT_USERNAME, user);
	if (pass)
		curl_easy_setopt(curl, CURLOPT_PASSWORD, pass);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK && error[0] == '\0')
		snprintf(error, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(curl);
	curl_slist_free_all(rcpt);
	if (pass)
		sodium_memzero(pass, strlen(pass));
	free(pass);
	return rc;
}

/* ---- Delivery ------------------------------------------------------------------------ */
static int64_t backoff_ms(json_int_t attempts)
{
	int64_t delay = account_config.retry_initial_ms;

	for (json_int_t i = 1; i < attempts && delay < account_config.retry_max_ms; i++)
		delay *= 2;
	return delay < account_config.retry_max_ms ? delay : account_config.retry_max_ms;
}

static void reschedule(json_t *msg, const char *why)
{
	json_int_t attempts = json_integer_value(json_object_get(msg, "attempts")) + 1;
	char id[25];

	/* a copy: doc_replace rewrites msg's "_id" */
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(msg, "_id")));

	json_object_set_new(msg, "attempts", json_integer(attempts));
	json_object_set_new(msg, "nextAttempt",
	                    json_integer(account_now_ms() + backoff_ms(attempts)));
	json_object_set_new(msg, "lastError", json_string(why));
	if (account_host->doc_replace(NULL, outbox, id, msg) != 0)
		account_host->log(account_self, SENSED_LOG_ERROR, "outbox: cannot reschedule %s",
		                  id);
}

/* Try one message; returns 1 when the server itself failed. */
static int deliver_one(const json_t *settings, json_t *msg)
{
	const char *id = json_string_value(json_object_get(msg, "_id"));
	const char *to = json_string_value(json_object_get(msg, "to"));
	const char *subject = json_string_value(json_object_get(msg, "subject"));
	const char *sealed = json_string_value(json_object_get(msg, "body"));
	char *body = NULL, *message = NULL;
	char error[CURL_ERROR_SIZE];
	CURLcode rc;

	if (!id || !to || !subject || !sealed || !mail_address_valid(to) ||
	    account_host->secret_open(sealed, &body) != 0) {
		account_host->log(account_self, SENSED_LOG_ERROR,
		                  "outbox: message %s is unreadable, dropped", id ? id : "?");
		if (id)
			account_host->doc_delete(NULL, outbox, id);
		return 0;
	}
	message = build_message(json_string_value(json_object_get(settings, "senderName")),
	                        json_string_value(json_object_get(settings, "senderEmail")), to,
	                        subject, body);
	sodium_memzero(body, strlen(body));
	free(body);
	if (message == NULL) {
		reschedule(msg, "out of memory");
		return 0;
	}
	rc = smtp_send(settings, to, message, error);
	sodium_memzero(message, strlen(message));
	free(message);
	if (rc == CURLE_OK) {
		account_host->log(account_self, SENSED_LOG_INFO, "outbox: message %s delivered",
		                  id);
		account_host->doc_delete(NULL, outbox, id);
		return 0;
	}
	account_host->log(account_self, SENSED_LOG_WARN, "outbox: message %s not delivered: %s", id,
	                  error);
	reschedule(msg, error);
	return server_level_error(rc);
}

/* Drop messages whose link has expired. */
static void drop_expired(int64_t now)
{
	json_t *filter = json_pack("{s:{s:I}}", "expires", "$lt", (json_int_t)now);
	sensed_query q = SENSED_QUERY_INIT;
	json_t *found = NULL, *msg;
	size_t i;

	q.filter = filter;
	q.fields = "_id";
	if (filter && account_host->find(NULL, outbox, &q, &found) == 0) {
		json_array_foreach(found, i, msg)
		{
			const char *id = json_string_value(json_object_get(msg, "_id"));

			account_host->log(account_self, SENSED_LOG_WARN,
			                  "outbox: message %s expired before delivery, dropped",
			                  id);
			account_host->doc_delete(NULL, outbox, id);
		}
	}
	json_decref(found);
	json_decref(filter);
}

/* Send what is due.  Returns how long to sleep before the next message is due. */
static int64_t deliver_due(void)
{
	json_t *settings = email_server_get(NULL);
	int64_t now = account_now_ms(), wait = IDLE_WAIT_MS;
	int server_down = 0;

	drop_expired(now);
	if (settings == NULL || json_is_false(json_object_get(settings, "enable"))) {
		json_decref(settings);
		return IDLE_WAIT_MS; /* settings changes wake the thread */
	}
	for (;;) {
		json_t *filter = json_pack("{s:{s:I}}", "nextAttempt", "$lte", (json_int_t)now);
		sensed_query q = SENSED_QUERY_INIT;
		json_t *due = NULL, *msg;
		size_t i, n;

		q.filter = filter;
		q.sort = "nextAttempt";
		q.limit = BATCH;
		if (filter == NULL || account_host->find(NULL, outbox, &q, &due) != 0) {
			json_decref(filter);
			json_decref(due);
			break;
		}
		json_decref(filter);
		n = json_array_size(due);
		json_array_foreach(due, i, msg)
		{
			if (is_stopping())
				break;
			if (server_down)
				reschedule(msg, "the mail server failed earlier in this round");
			else
				server_down = deliver_one(settings, msg);
		}
		json_decref(due);
		if (n < BATCH || is_stopping())
			break;
	}
	json_decref(settings);

	/* the next message due decides the sleep */
	{
		sensed_query q = SENSED_QUERY_INIT;
		json_t *next = NULL;

		q.sort = "nextAttempt";
		q.limit = 1;
		q.fields = "nextAttempt";
		if (account_host->find(NULL, outbox, &q, &next) == 0 && json_array_size(next) > 0) {
			json_int_t at = json_integer_value(
			    json_object_get(json_array_get(next, 0), "nextAttempt"));

			wait = at - account_now_ms();
			if (wait < 0)
				wait = 0;
			if (wait > IDLE_WAIT_MS)
				wait = IDLE_WAIT_MS;
		}
		json_decref(next);
	}
	return wait;
}

static void *delivery_thread(void *unused)
{
	(void)unused;
	int64_t last_purge = 0;

	pthread_mutex_lock(&lock);
	while (!stopping) {
		int64_t wait;
		struct timespec until;

		woken = 0;
		pthread_mutex_unlock(&lock);
		wait = deliver_due();
		if (account_now_ms() - last_purge >= IDLE_WAIT_MS) {
			account_purge_expired();
			last_purge = account_now_ms();
		}
		pthread_mutex_lock(&lock);
		if (stopping || woken)
			continue;
		if (wait < 20)
			wait = 20; /* never spin on a message that cannot be rescheduled */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += wait / 1000;
		until.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!stopping && !woken &&
		       pthread_cond_timedwait(&wake_cond, &lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int mail_init(sensed_plugin *self)
{
	const sensed_host *h = account_host;
	pthread_condattr_t attr;
	int err;

	if ((err = h->collection_open(self, "mail_outbox", &outbox)) != 0 ||
	    (err = h->index_declare(outbox, "nextAttempt", 0)) != 0) {
		h->set_error(self, "mail_outbox: %s", h->strerror(err));
		return err;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		h->set_error(self, "libcurl failed to initialise");
		return SENSED_ENOMEM;
	}
	curl_ready = 1;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(&wake_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err != 0) {
		mail_fini();
		h->set_error(self, "cannot create the delivery thread's condition variable");
		return SENSED_ENOMEM;
	}
	cond_ready = 1;
	stopping = 0;
	if (pthread_create(&thread, NULL, delivery_thread, NULL) != 0) {
		mail_fini();
		h->set_error(self, "cannot start the delivery thread");
		return SENSED_ENOMEM;
	}
	thread_running = 1;
	return 0;
}

void mail_fini(void)
{
	if (thread_running) {
		pthread_mutex_lock(&lock);
		__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
		pthread_cond_signal(&wake_cond);
		pthread_mutex_unlock(&lock);
		pthread_join(thread, NULL);
		thread_running = 0;
	}
	if (cond_ready) {
		pthread_mutex_lock(&lock);
		cond_ready = 0;
		pthread_mutex_unlock(&lock);
		pthread_cond_destroy(&wake_cond);
	}
	if (curl_ready) {
		curl_global_cleanup();
		curl_ready = 0;
	}
}
