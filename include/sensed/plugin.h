/*
 * sensed plugin SDK -- the only header a plugin includes.
 *
 * A plugin is a shared object that exports one function, SENSED_PLUGIN_ENTRY_SYMBOL,
 * returning a pointer to a static sensed_plugin_descriptor (define it with
 * SENSED_PLUGIN_DEFINE).  The server compares the descriptor with its own build field by
 * field, then calls init() with a table of host functions (sensed_host).  Plugins never
 * link against server symbols: everything they use comes from that table or from
 * libraries they link themselves (jansson, whose version must match the server's).
 *
 * Versioning (see sdk/GUIDE.md):
 *   - SENSED_SDK_ABI_MAJOR changes only when an existing member changes meaning or
 *     layout.  A server refuses plugins of another major.
 *   - SENSED_SDK_ABI_MINOR grows when members are appended to sensed_host or to a
 *     struct with a size field.  A server accepts plugins of its own or an older minor;
 *     a plugin built for a newer minor is refused (it may call members the server lacks).
 *   - Structs with a leading `size` member only grow at their end.  Use
 *     SENSED_HOST_HAS(host, member) before calling a member added after 1.0.
 *
 * Error convention: functions returning int return 0 on success and a negative
 * SENSED_E* code on failure; host->strerror() names the code.
 *
 * Threads: handlers and route registration run on the event-loop thread that owns the
 * request.  Only the members marked "any thread" may be called from a job running on the
 * worker pool or from a thread of the plugin's own; the document store's members after
 * init (transactions, documents, queries) are such members.
 */
#ifndef SENSED_PLUGIN_H
#define SENSED_PLUGIN_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SENSED_SDK_ABI_MAJOR       1
#define SENSED_SDK_ABI_MINOR       3
#define SENSED_PLUGIN_MAGIC        0x53454e53u /* "SENS" */
#define SENSED_PLUGIN_ENTRY_SYMBOL "sensed_plugin_entry"

#if defined(__GNUC__)
#define SENSED_EXPORT            __attribute__((visibility("default")))
#define SENSED_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SENSED_EXPORT
#define SENSED_PRINTF(fmt, args)
#endif

/* ---- Error codes (C convention: 0 or one of these negatives) ------------------------ */
enum sensed_error {
	SENSED_OK = 0,
	SENSED_ENOMEM = -1,        /* out of memory */
	SENSED_EINVAL = -2,        /* invalid argument */
	SENSED_ENOTFOUND = -3,     /* no such document, route, plugin, ... */
	SENSED_EEXISTS = -4,       /* already exists (route, collection, index, name) */
	SENSED_EUNIQUE = -5,       /* a unique index already holds this value */
	SENSED_ESTORE = -6,        /* the storage engine failed (I/O, corruption) */
	SENSED_ESTATE = -7,        /* called at the wrong time (e.g. registration after init) */
	SENSED_EFILTER = -8,       /* malformed filter, projection or sort */
	SENSED_ETOOLARGE = -9,     /* a size limit was exceeded */
	SENSED_EBUSY = -10,        /* a bounded resource is exhausted; retry later */
	SENSED_EREADONLY = -11,    /* write through a read-only transaction */
	SENSED_EBADID = -12,       /* not a 24-hex ObjectId where one is required */
	SENSED_EUNSUPPORTED = -13, /* the host or store does not support this */
};

/* ---- Wire error codes: the one table (messages live in the server, core/errors.c) --- */
enum sensed_wire_code {
	SENSED_CODE_INVALID_EXPAND = 202,
	SENSED_CODE_INVALID_OBJECT_ID = 601,
	SENSED_CODE_BAD_REQUEST = 1000,        /* malformed request (framing, query, JSON) */
	SENSED_CODE_INVALID_JSON = 1001,       /* body is not valid JSON / duplicate keys */
	SENSED_CODE_BODY_TOO_LARGE = 1002,     /* 413 */
	SENSED_CODE_NOT_FOUND = 1003,          /* no route for this path */
	SENSED_CODE_METHOD_NOT_ALLOWED = 1004, /* 405 */
	SENSED_CODE_INTERNAL = 1005,           /* 500 */
	SENSED_CODE_UNAVAILABLE = 1006,        /* 503: overloaded / out of memory */
	SENSED_CODE_PLUGIN_DISABLED = 1007,    /* 404: the route's plugin is disabled */
	SENSED_CODE_INVALID_PARAMETER = 1008,  /* 400: a query or body parameter is invalid */
	SENSED_CODE_FORBIDDEN = 1009,          /* 403: role too low */
	SENSED_CODE_UNSUPPORTED_MEDIA = 1010,  /* 415 */
	SENSED_CODE_TIMEOUT = 1011,            /* 408 */
	SENSED_CODE_FEATURE_DISABLED = 1012,   /* 403: the route's feature is turned off */
	SENSED_CODE_UNAUTHORIZED = 1100,       /* 401: missing / invalid / revoked token */
	SENSED_CODE_INVALID_CREDENTIALS = 1101,
	SENSED_CODE_ACCOUNT_LOCKED = 1102,    /* 401: too many failed logins */
	SENSED_CODE_TOO_MANY_ATTEMPTS = 1103, /* 429: login throttled for this address */
	/* Ranges for codes of our own: core 1000-1199, identity 1200-1299, content 1300-1399,
	 * platform 1400-1499.  Sisense's own codes keep their numbers. */
	SENSED_CODE_GROUP_NOT_FOUND = 1220,         /* 404 (users plugin) */
	SENSED_CODE_GROUP_EXISTS = 1221,            /* 400: a group has this name */
	SENSED_CODE_SYSTEM_GROUP = 1222,            /* 400: system groups cannot change/go */
	SENSED_CODE_ROLE_NOT_FOUND = 1223,          /* 404 */
	SENSED_CODE_OLD_PASSWORD_INCORRECT = 1224,  /* 400: own password change */
	SENSED_CODE_ACCOUNT_MAIL_THROTTLED = 1250,  /* 429: too many account mails to one address */
	SENSED_CODE_ACCOUNT_TOKEN_INVALID = 1251,   /* 404: unknown, used or expired token */
	SENSED_CODE_ACCOUNT_ALREADY_ACTIVE = 1252,  /* 400: begin_activate for an active user */
	SENSED_CODE_ACCOUNT_NOT_ACTIVE = 1253,      /* 400: password reset for a pending user */
	SENSED_CODE_EMAIL_NOT_CONFIGURED = 1254,    /* 400: no (enabled) email server settings */
	SENSED_CODE_SERVER_ACCESS_EXISTS = 1255,    /* 400: a trusted server with this URL exists */
	SENSED_CODE_SERVER_ACCESS_NOT_FOUND = 1256, /* 404: no trusted server with this id */
	SENSED_CODE_SHARE_READ_ONLY = 1300,         /* 403: a view-only share cannot change this */
	SENSED_CODE_FOLDER_NOT_FOUND = 1301,        /* 404 */
	SENSED_CODE_FOLDER_CYCLE = 1302,            /* 400: folder moved under its own subtree */
	SENSED_CODE_UNTRUSTED_SERVER = 1303,        /* 400: copy target is not a trusted server */
	SENSED_CODE_COPY_FAILED = 1304,             /* 502: the target server failed the copy */
	SENSED_CODE_NOT_DASHBOARD_OWNER = 1305,     /* 403: only the dashboard's owner may */
	SENSED_CODE_NO_PREVIOUS_VERSION = 1306,     /* 404: undo_Import with nothing replaced */
	SENSED_CODE_NOT_CONFIGURED = 1400,          /* 404: settings/globalization never set */
	SENSED_CODE_FEATURE_NOT_FOUND = 1401,       /* 404: no feature with this key */
	SENSED_CODE_NO_PLUGINS_UPDATED = 1402,      /* 404: PATCH /plugins changed nothing */
	SENSED_CODE_PLUGIN_ESSENTIAL = 1403,        /* 400: the server cannot run without it */
	SENSED_CODE_LANGUAGE_NOT_FOUND = 1404,      /* 404: no translation file for this language */
	SENSED_CODE_USER_NOT_FOUND = 2001,
	SENSED_CODE_USERS_NOT_ARRAY = 2002,
	SENSED_CODE_MANDATORY_FIELDS_MISSING = 2003,
	SENSED_CODE_USER_EXISTS = 2004,
	SENSED_CODE_BULK_DUPLICATES = 2005,
	SENSED_CODE_MULTIPLE_SUPER_USERS = 2006,
	SENSED_CODE_LICENSE_EXCEEDED = 2007,
	SENSED_CODE_MANDATORY_FIELDS_EMPTY = 2009,
	SENSED_CODE_SUPER_USER_DELETE = 2011,
	SENSED_CODE_EMAIL_SERVER_SETTINGS = 7501,
	SENSED_CODE_DASHBOARD_NOT_FOUND = 10001,
	SENSED_CODE_WIDGET_NOT_FOUND = 14004,
};

/* ---- Roles, weakest first; a route names the least role it admits ------------------- */
enum sensed_role {
	SENSED_ROLE_PUBLIC = 0,      /* no token needed */
	SENSED_ROLE_CONSUMER = 1,    /* any signed-in user ("viewer") */
	SENSED_ROLE_CONTRIBUTOR = 2, /* "designer" */
	SENSED_ROLE_DATA_DESIGNER = 3,
	SENSED_ROLE_DATA_ADMIN = 4,
	SENSED_ROLE_ADMIN = 5,
	SENSED_ROLE_SUPER = 6,
};

enum sensed_method {
	SENSED_GET = 1 << 0,
	SENSED_POST = 1 << 1,
	SENSED_PUT = 1 << 2,
	SENSED_PATCH = 1 << 3,
	SENSED_DELETE = 1 << 4,
	SENSED_HEAD = 1 << 5,
	SENSED_OPTIONS = 1 << 6,
};

enum sensed_log_level { SENSED_LOG_ERROR = 0, SENSED_LOG_WARN, SENSED_LOG_INFO, SENSED_LOG_DEBUG };

typedef struct sensed_plugin sensed_plugin;         /* the host's record of one plugin */
typedef struct sensed_request sensed_request;       /* one HTTP request, owned by the host */
typedef struct sensed_collection sensed_collection; /* lives until the server stops */
typedef struct sensed_txn sensed_txn;               /* one LMDB transaction */
typedef struct sensed_host sensed_host;

/* A feature a plugin provides (ABI 1.2).  Strings are copied by feature_declare. */
typedef struct sensed_feature {
	size_t size;      /* sizeof(sensed_feature) as the caller was compiled */
	const char *key;  /* "alerting": [a-zA-Z0-9_.-]+ */
	const char *name; /* "Alerting" */
	const char *description;
	int default_active; /* state before any operator toggles it */
	int gates_routes;   /* 1: while inactive, the declaring plugin's routes answer 403 */
} sensed_feature;

/* A route handler.  It must either send exactly one reply (reply_* members) before it
 * returns, or hand the request to a job (run_job), whose `done` replies.  Returning
 * without either makes the host answer 500.  `route_arg` is the pointer given at
 * registration.  `req` is valid until the reply is sent. */
typedef void (*sensed_handler)(sensed_request *req, void *route_arg);

/* A job for the worker pool.  `work` runs on a pool thread and may call only members
 * marked "any thread"; `done` runs afterwards on the request's loop thread and replies.
 * `arg` is the caller's; `done` releases it. */
typedef void (*sensed_job_work)(void *arg);
typedef void (*sensed_job_done)(sensed_request *req, void *arg);

/* List options as read from a request's query string (fields, sort, skip, limit,
 * expand), or filled in by code.  Strings are borrowed from the request (or the caller)
 * and must outlive the call that uses them. */
typedef struct sensed_query {
	size_t size;        /* sizeof(sensed_query) as the caller was compiled */
	json_t *filter;     /* borrowed; MongoDB-style filter, NULL for all documents */
	const char *fields; /* comma list: "a,b" keeps, "-a,-b" drops; NULL for all */
	const char *sort;   /* comma list: "name,-created"; NULL for storage order (by _id) */
	size_t skip;
	size_t limit;       /* 0 means the configured maximum (also a cap on larger values);
	                     * SENSED_QUERY_ALL: every match, for a plugin's own bulk work
	                     * (never from a request's limit) */
	const char *expand; /* comma list of declared references, nested with '.' */
} sensed_query;

#define SENSED_QUERY_INIT                                                                          \
	{                                                                                          \
		.size = sizeof(sensed_query)                                                       \
	}
#define SENSED_QUERY_ALL ((size_t)-1)

/* Index flags */
#define SENSED_INDEX_UNIQUE 1u

/* ---- The host function table: append-only ------------------------------------------- */
struct sensed_host {
	uint32_t size; /* sizeof(sensed_host) as the server was built */
	uint16_t abi_major;
	uint16_t abi_minor;

	const char *(*strerror)(int err); /* any thread; static string */

	/* Logging, prefixed with the plugin's name.  Any thread. */
	void (*log)(sensed_plugin *self, enum sensed_log_level level, const char *fmt, ...)
	    SENSED_PRINTF(3, 4);

	/* Record why init() is failing; the loader reports it.  Only during init(). */
	void (*set_error)(sensed_plugin *self, const char *fmt, ...) SENSED_PRINTF(2, 3);

	/* The plugin's section of the configuration ("plugins": {"<name>": {...}}), or an
	 * empty object.  Borrowed; valid until the server stops. */
	json_t *(*config)(sensed_plugin *self);

	/* Register a route.  Only during init().  `methods` is one or more sensed_method
	 * bits; `pattern` is relative to /api/v1 unless it starts with "/api/" (e.g.
	 * "/api/roles"); segments "{name}" are parameters.  The pattern is copied.
	 * Fails with SENSED_EEXISTS (the log names both owners) when the method and pattern
	 * are already registered. */
	int (*route_add)(sensed_plugin *self, unsigned methods, const char *pattern,
	                 enum sensed_role least_role, sensed_handler handler, void *route_arg);

	/* ---- Request accessors.  Returned strings and JSON are borrowed from the request. */
	enum sensed_method (*request_method)(sensed_request *req);
	const char *(*request_path)(sensed_request *req); /* decoded, normalised */
	/* A path parameter by name, decoded; NULL if the route has none by that name. */
	const char *(*request_param)(sensed_request *req, const char *name);
	/* The last value of a query parameter, decoded ('+' is a space); NULL if absent. */
	const char *(*request_query)(sensed_request *req, const char *name);
	/* All values of a query parameter as a JSON array of strings: repeated keys and
	 * comma lists (split after decoding), empty items dropped.  Never NULL. */
	json_t *(*request_query_list)(sensed_request *req, const char *name);
	/* A request header (case-insensitive name); NULL if absent. */
	const char *(*request_header)(sensed_request *req, const char *name);
	/* The JSON body, parsed once with duplicate keys rejected.  Returns 0 and sets *body
	 * (NULL when the body is empty; borrowed from the request: never json_decref it); on
	 * invalid JSON returns SENSED_EINVAL and the host has already replied 400 -- the handler
	 * must return without replying. */
	int (*request_json)(sensed_request *req, json_t **body);
	/* The raw body bytes (e.g. form data); *len may be 0. */
	const char *(*request_body)(sensed_request *req, size_t *len);
	/* The signed-in user's document (no secrets), or NULL on a public route without a
	 * valid token.  Read-only: it may be shared with other requests of the same thread
	 * (json_deep_copy it to change it). */
	json_t *(*request_user)(sensed_request *req);
	const char *(*request_user_id)(sensed_request *req);
	enum sensed_role (*request_role)(sensed_request *req);
	/* Fill *q from the query string's fields, sort, skip, limit and expand.  On a bad
	 * value replies 400 and returns SENSED_EINVAL (the handler returns). */
	int (*request_list_query)(sensed_request *req, sensed_query *q);

	/* ---- Replies.  Exactly one per request; the body is sent as application/json. */
	/* Reply with `body` (borrowed; dumped compactly). */
	void (*reply_json)(sensed_request *req, int status, const json_t *body);
	/* Reply with bytes that already are JSON (e.g. a stored document). */
	void (*reply_raw)(sensed_request *req, int status, const char *bytes, size_t len);
	/* Reply with no body (204, or 200 with nothing). */
	void (*reply_empty)(sensed_request *req, int status);
	/* Reply with the error envelope {"error": {code, message, status, httpMessage}}.
	 * `message` NULL uses the code's message from the server's table. */
	void (*reply_error)(sensed_request *req, int status, int code, const char *message);
	/* As reply_error, with the members of `extra` (borrowed) merged into "error"
	 * (resourceType, resourceName, subErrors). */
	void (*reply_error_extra)(sensed_request *req, int status, int code, const char *message,
	                          const json_t *extra);
	/* Map a negative SENSED_E* from the store to its wire error and reply. */
	void (*reply_store_error)(sensed_request *req, int err);
	/* Add a response header before replying.  Both strings are copied. */
	void (*reply_header)(sensed_request *req, const char *name, const char *value);
	/* Reply with a binary body and content type (exports). */
	void (*reply_bytes)(sensed_request *req, int status, const char *content_type,
	                    const void *bytes, size_t len);

	/* ---- Jobs */
	/* Run `work(arg)` on the bounded worker pool, then `done(req, arg)` on the request's
	 * loop.  Returns SENSED_EBUSY when the pool's queue is full (reply 503). */
	int (*run_job)(sensed_request *req, sensed_job_work work, sensed_job_done done, void *arg);

	/* ---- Document store.  Collections are global by name: two plugins that open
	 * "users" share it.  Documents are JSON objects keyed by "_id" (a 24-hex ObjectId
	 * assigned on insert when absent).  After init every store member is "any thread": a
	 * transaction belongs to the thread that began it, and a thread holds at most one. */
	/* Open (creating if needed) a collection.  Only during init(). */
	int (*collection_open)(sensed_plugin *self, const char *name, sensed_collection **out);
	/* Declare a secondary index on a field or dotted path.  Only during init().  Existing
	 * documents are indexed.  With SENSED_INDEX_UNIQUE two documents may not share a
	 * value (missing values are not indexed). */
	int (*index_declare)(sensed_collection *coll, const char *path, unsigned flags);
	/* Declare that `field` of `from` holds an id (or an array of ids) of documents in
	 * `to`, matched on `to_key` ("_id" or a unique-indexed path).  expand=<as> replaces
	 * the value with the documents, stored under `as` (which may differ from `field`,
	 * e.g. roleId -> role).  Only during init(). */
	int (*reference_declare)(sensed_collection *from, const char *field, const char *as,
	                         sensed_collection *to, const char *to_key);

	/* Transactions.  A write transaction serialises with every other writer: keep it
	 * short and never across a callback.  Every store call accepts txn NULL to run in a
	 * transaction of its own.  commit and abort free the transaction. */
	int (*txn_begin)(int write, sensed_txn **out);
	int (*txn_commit)(sensed_txn *txn);
	void (*txn_abort)(sensed_txn *txn);

	/* Read one document by _id into *out (a new reference). SENSED_ENOTFOUND if absent. */
	int (*doc_get)(sensed_txn *txn, sensed_collection *coll, const char *id, json_t **out);
	/* Insert `doc` (borrowed, and updated in place with _id, created, lastUpdated).
	 * `id_out`, if not NULL, receives the id (25 bytes). */
	int (*doc_insert)(sensed_txn *txn, sensed_collection *coll, json_t *doc, char *id_out);
	/* Replace the document with _id `id` by `doc` (borrowed; _id and created kept,
	 * lastUpdated stamped). */
	int (*doc_replace)(sensed_txn *txn, sensed_collection *coll, const char *id, json_t *doc);
	int (*doc_delete)(sensed_txn *txn, sensed_collection *coll, const char *id);
	/* Find documents matching q->filter, sorted, skipped, limited, projected and
	 * expanded.  *out is a new JSON array. */
	int (*find)(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t **out);
	/* The first match of `filter` (borrowed), or SENSED_ENOTFOUND. */
	int (*find_one)(sensed_txn *txn, sensed_collection *coll, const json_t *filter,
	                json_t **out);
	int (*count)(sensed_txn *txn, sensed_collection *coll, const json_t *filter, size_t *out);
	/* Apply projection (fields) and expansion to one document in place. */
	int (*shape)(sensed_txn *txn, sensed_collection *coll, const sensed_query *q, json_t *doc);

	/* ---- Utilities.  Any thread. */
	/* Write a new ObjectId (24 hex + NUL) into out[25]. */
	void (*object_id)(char out[25]);
	/* Write the wire date (ISO-8601 UTC with milliseconds) of `ms_since_epoch` into
	 * out[25]; ms < 0 means now. */
	void (*format_date)(int64_t ms_since_epoch, char out[25]);
	/* Is `s` a 24-hex ObjectId? */
	int (*is_object_id)(const char *s);

	/* ---- Credentials (the core owns passwords and tokens).  Passwords live apart from
	 * user documents (collection "user_secrets"), so a user document never holds one. */
	/* Set a user's password (Argon2id).  CPU-heavy: call it from a job's work().  Any
	 * thread. */
	int (*password_set)(const char *user_id, const char *password);
	/* 0 when `password` is the user's, SENSED_EINVAL when not, SENSED_ENOTFOUND when the
	 * user has none.  CPU-heavy: from a job's work().  Any thread. */
	int (*password_verify)(const char *user_id, const char *password);
	/* Revoke every token of a user (password reset, deactivation).  Any thread. */
	int (*tokens_revoke_user)(const char *user_id);

	/* ---- Plugin administration (operators' endpoints).  Loop thread. */
	/* Every plugin the server knows, loaded or not: a new JSON array of
	 * {name, version, description, folderName, path, isEnabled, state, error,
	 *  abiMajor, abiMinor, lastUpdate}. */
	json_t *(*plugins_list)(void);
	/* Enable or disable a loaded plugin at run time; the state survives restarts.  A
	 * disabled plugin's routes answer 404 (code SENSED_CODE_PLUGIN_DISABLED).
	 * SENSED_ENOTFOUND for an unknown name, SENSED_EINVAL for a plugin the server cannot
	 * run without. */
	int (*plugin_set_enabled)(const char *name, int enabled);

	/* Members appended after ABI 1.0 go here, at the end, with a SENSED_SDK_ABI_MINOR
	 * bump. */

	/* ---- ABI 1.1 */
	/* Reply 200 with the document `id` of `coll`, shaped by `q` (fields, expand; NULL for
	 * the document as stored).  Unshaped documents go out as the stored bytes, never
	 * parsed.  Returns 0 after replying; on SENSED_ENOTFOUND (or another error) nothing
	 * was sent and the caller replies (e.g. 404 with its own code). */
	int (*reply_document)(sensed_request *req, sensed_collection *coll, const char *id,
	                      const sensed_query *q);

	/* ---- ABI 1.2 */
	/* Features: switches operators turn on and off at run time; the state survives
	 * restarts.  Several plugins may declare the same key: each is a "subscription". */
	/* Declare (or subscribe to) a feature.  Only during init().  With gates_routes, every
	 * route of this plugin answers 403 (SENSED_CODE_FEATURE_DISABLED, message naming the
	 * feature) while the feature is inactive. */
	int (*feature_declare)(sensed_plugin *self, const sensed_feature *feature);
	/* 1 when active, 0 when not, SENSED_ENOTFOUND for an unknown key.  Any thread. */
	int (*feature_active)(const char *key);
	/* A new array of {key, active, name, description, subscriptions: [{name, active}]}
	 * (subscriptions: the declaring plugins and whether each is enabled). */
	json_t *(*features_list)(void);
	/* Turn a feature on or off; persisted.  SENSED_ENOTFOUND for an unknown key. */
	int (*feature_set_active)(const char *key, int active);

	/* Translations: one JSON file per language (key -> text) in the server's translations
	 * directory.  The text of `key` for this request: the user's preferences.localeId,
	 * then the default language, then en-US, then `key` itself.  Borrowed; valid until
	 * the server stops. */
	const char *(*translate)(sensed_request *req, const char *key);
	/* The same for an explicit language (NULL: the default language).  Any thread. */
	const char *(*translate_locale)(const char *locale, const char *key);
	/* Set the default language (settings/globalization); NULL returns to en-US.
	 * SENSED_ENOTFOUND for a language that has no file.  Any thread. */
	int (*locale_set_default)(const char *locale);
	/* The default language now ("en-US").  Borrowed static string.  Any thread. */
	const char *(*locale_default)(void);
	/* The languages available: a new array of language names ("en-US", ...). */
	json_t *(*translations_list)(void);
	/* One language's table (key -> text): a new reference, or NULL when unknown. */
	json_t *(*translation_get)(const char *locale);

	/* Replace the allowed CORS origins at run time (settings/system webServer.cors).
	 * `origins` is borrowed (an array of strings, "*" for any); enabled 0 allows none. */
	int (*cors_set)(int enabled, const json_t *origins);

	/* Secrets sealed with the installation key (XSalsa20-Poly1305, base64 of nonce and
	 * box), for values stored but never returned in clear.  *out is malloc'd: free() it.
	 * secret_open fails with SENSED_EINVAL for anything this installation did not seal.
	 * Any thread. */
	int (*secret_seal)(const char *plaintext, char **out);
	int (*secret_open)(const char *sealed, char **out);

	/* Scoped tokens: a token of `scope` (e.g. "analytics") opens only the routes
	 * registered for that scope, and those routes accept no other token.  The user is
	 * the token's, with its current role.  *out is malloc'd: free() it. */
	int (*token_issue_scoped)(const char *user_id, const char *scope, char **out);
	int (*tokens_revoke_scoped)(const char *user_id, const char *scope);
	/* As route_add, for tokens of `scope` only (copied).  Only during init(). */
	int (*route_add_scoped)(sensed_plugin *self, unsigned methods, const char *pattern,
	                        const char *scope, sensed_handler handler, void *route_arg);

	/* Every route: a new array of {method, pattern, leastRole (role name or "public"),
	 * scope (or null), plugin}. */
	json_t *(*routes_list)(void);

	/* ---- ABI 1.3 */
	/* Run `work(txn, arg)` in a write transaction of the store's committer thread, batched
	 * with other requests' writes into one durable commit, then `done(req, arg, err)` on the
	 * request's loop thread, after the batch is on disk (err: work's result or the commit's).
	 * work may use only store members, with `txn` (never NULL; work neither commits nor
	 * aborts it); a failing work is rolled back alone.  work may run more than once (the
	 * batch is retried after the map grows): it must give the same result when run again
	 * after a rollback.  `arg` stays the caller's.  SENSED_EBUSY when the queue is full or
	 * the server is stopping (reply 503).  Loop thread. */
	int (*write_job)(sensed_request *req, int (*work)(sensed_txn *txn, void *arg),
	                 void (*done)(sensed_request *req, void *arg, int err), void *arg);
};

/* Does this host provide `member`?  (A host of an older minor has a shorter table.) */
#define SENSED_HOST_HAS(host, member)                                                              \
	((host)->size >= offsetof(sensed_host, member) + sizeof((host)->member) &&                 \
	 (host)->member != NULL)

/* ---- The descriptor a plugin exports ------------------------------------------------- */
typedef struct sensed_plugin_descriptor {
	uint32_t magic;       /* SENSED_PLUGIN_MAGIC */
	uint16_t abi_major;   /* SENSED_SDK_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* SENSED_SDK_ABI_MINOR the plugin was built with */
	uint32_t size;        /* sizeof(sensed_plugin_descriptor) the plugin was built with */
	long jansson_version; /* JANSSON_VERSION_HEX the plugin was built with */
	const char *name;     /* unique, [a-z0-9_-]+ */
	const char *version;
	const char *description;
	/* Register routes, collections and indexes.  Return 0, or a negative code after
	 * host->set_error().  On failure the host undoes everything the plugin registered. */
	int (*init)(sensed_plugin *self, const sensed_host *host);
	/* Called once when the server stops (not on disable).  May be NULL. */
	void (*fini)(sensed_plugin *self);
} sensed_plugin_descriptor;

typedef const sensed_plugin_descriptor *(*sensed_plugin_entry_fn)(void);

/* Define the descriptor and its exported entry function:
 *   SENSED_PLUGIN_DEFINE("hello", "1.0.0", "Says hello", hello_init, NULL);
 */
#define SENSED_PLUGIN_DEFINE(name_, version_, description_, init_, fini_)                          \
	static const sensed_plugin_descriptor sensed_plugin_descriptor_ = {                        \
	    .magic = SENSED_PLUGIN_MAGIC,                                                          \
	    .abi_major = SENSED_SDK_ABI_MAJOR,                                                     \
	    .abi_minor = SENSED_SDK_ABI_MINOR,                                                     \
	    .size = sizeof(sensed_plugin_descriptor),                                              \
	    .jansson_version = JANSSON_VERSION_HEX,                                                \
	    .name = (name_),                                                                       \
	    .version = (version_),                                                                 \
	    .description = (description_),                                                         \
	    .init = (init_),                                                                       \
	    .fini = (fini_),                                                                       \
	};                                                                                         \
	SENSED_EXPORT const sensed_plugin_descriptor *sensed_plugin_entry(void);                   \
	const sensed_plugin_descriptor *sensed_plugin_entry(void)                                  \
	{                                                                                          \
		return &sensed_plugin_descriptor_;                                                 \
	}

#ifdef __cplusplus
}
#endif
#endif /* SENSED_PLUGIN_H */
