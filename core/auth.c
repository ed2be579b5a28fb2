#include "auth.h"

#include "auth_private.h"
#include "config.h"
#include "errors.h"
#include "json_load.h"
#include "jwt.h"
#include "log.h"
#include "request.h"
#include "store.h"

#include <errno.h>
#include <event2/http.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_TAG "auth"
/* The installation document that holds the JWT key (collection "installation"). */
#define INSTALLATION_ID   "000000000000000000000001"
#define PASSWORD_MAX_LEN  1024
#define USERNAME_MAX_LEN  512
#define DEVICE_ID_MAX_LEN 256
#define ROLE_CACHE_MAX    32
/* Login throttle: a fixed-size open-addressed table; a full neighbourhood evicts its
 * oldest window, so memory stays bounded whatever the number of addresses. */
#define THROTTLE_SLOTS     4096
#define THROTTLE_PROBES    8
#define THROTTLE_WINDOW_MS 60000
#define TOKEN_TYPE_API     "api"
#define TOKEN_TYPE_DEVICE  "device"

struct seed_role {
	const char *name;
	const char *desc;
	enum sensed_role role;
};

static const struct seed_role seed_roles[] = {
    {"super", "Super user: everything, including other administrators", SENSED_ROLE_SUPER},
    {"admin", "Administrator: users, groups, settings and all content", SENSED_ROLE_ADMIN},
    {"dataAdmin", "Data administrator: data sources, models and their security",
     SENSED_ROLE_DATA_ADMIN},
    {"dataDesigner", "Data designer: data models and dashboards", SENSED_ROLE_DATA_DESIGNER},
    {"contributor", "Designer: creates and shares dashboards", SENSED_ROLE_CONTRIBUTOR},
    {"consumer", "Viewer: views dashboards shared with them", SENSED_ROLE_CONSUMER},
};

static const char *const seed_groups[] = {"Everyone", "All users in system"};

struct role_entry {
	char id[25];
	enum sensed_role role;
};

struct throttle_slot {
	char address[48]; /* "" when free */
	int64_t window_start_ms;
	int attempts;
};

/* Written once by auth_init (start-up thread), read-only afterwards except `throttle`,
 * which is guarded by throttle_lock. */
static struct {
	sensed_collection *users, *roles, *groups, *secrets, *tokens, *installation;
	unsigned char jwt_key[JWT_KEY_BYTES];
	/* Derived from jwt_key: seals stored secrets (secret_seal). */
	unsigned char seal_key[crypto_secretbox_KEYBYTES];
	struct role_entry roles_by_id[ROLE_CACHE_MAX];
	int role_count;
	/* A hash of a random password: unknown users are verified against it so that the
	 * answer takes as long as for a known user. */
	char dummy_hash[crypto_pwhash_STRBYTES];
	int max_failures, lock_seconds, rate_per_minute, hash_fast;
	pthread_mutex_t throttle_lock;
	struct throttle_slot throttle[THROTTLE_SLOTS];
} auth;

/* ---- Passwords ------------------------------------------------------------------------ */

static unsigned long long pwhash_ops(void)
{
	return auth.hash_fast ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

static size_t pwhash_mem(void)
{
	return auth.hash_fast ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

static int password_acceptable(const char *password)
{
	return password != NULL && password[0] != '\0' &&
	       strnlen(password, PASSWORD_MAX_LEN + 1) <= PASSWORD_MAX_LEN;
}

/* Any thread; CPU-heavy.  SENSED_ENOMEM when Argon2 cannot get its memory. */
static int hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
	if (crypto_pwhash_str_alg(out, password, strlen(password), pwhash_ops(), pwhash_mem(),
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		return SENSED_ENOMEM;
	return 0;
}

/* 0 on a match, SENSED_EINVAL on a mismatch, SENSED_ENOMEM when the check itself failed
 * (Argon2 out of memory, unreadable hash): never reported as a wrong password. */
static int check_password(const char *hash, const char *password)
{
	errno = 0;
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) == 0)
		return 0;
	return errno == EINVAL ? SENSED_EINVAL : SENSED_ENOMEM;
}

/* ---- Small helpers -------------------------------------------------------------------- */

static void lower_copy(char *out, size_t size, const char *in)
{
	size_t i = 0;
	for (; in[i] != '\0' && i + 1 < size; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[i] = '\0';
}

/* Token records are keyed by a hash of the apiSecret, so the store never holds a usable
 * secret; 12 bytes of a 128-bit BLAKE2b make a 24-hex id like every other _id. */
static void token_id_of(const char *api_secret, char out[25])
{
	unsigned char digest[crypto_generichash_BYTES_MIN];
	crypto_generichash(digest, sizeof digest, (const unsigned char *)api_secret,
	                   strlen(api_secret), NULL, 0);
	sodium_bin2hex(out, 25, digest, 12);
}

static json_t *filter_of(const char *key, const char *value)
{
	return json_pack("{s:s}", key, value);
}

static int find_one_by(sensed_txn *txn, sensed_collection *coll, const char *key, const char *value,
                       json_t **out)
{
	json_t *filter = filter_of(key, value);
	if (filter == NULL)
		return SENSED_ENOMEM;
	int err = store_find_one(txn, coll, filter, out);
	json_decref(filter);
	return err;
}

static int64_t json_int_or_zero(const json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int user_is_active(const json_t *user)
{
	return !json_is_false(json_object_get(user, "active"));
}

/* "Bearer <token>" with exactly one space (endpoints.md §0.2), scheme case-insensitive. */
static const char *bearer_token(const char *authorization)
{
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *token = authorization + 7;
	return token[0] != '\0' && token[0] != ' ' ? token : NULL;
}

/* ---- Roles ---------------------------------------------------------------------------- */

int auth_role_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum sensed_role role;
	} aliases[] = {{"designer", SENSED_ROLE_CONTRIBUTOR}, {"viewer", SENSED_ROLE_CONSUMER}};

	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof seed_roles / sizeof seed_roles[0]; i++)
		if (strcmp(name, seed_roles[i].name) == 0)
			return (int)seed_roles[i].role;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(name, aliases[i].name) == 0)
			return (int)aliases[i].role;
	return -1;
}

static int role_of_id(const char *role_id)
{
	if (role_id == NULL)
		return -1;
	for (int i = 0; i < auth.role_count; i++)
		if (strcmp(auth.roles_by_id[i].id, role_id) == 0)
			return (int)auth.roles_by_id[i].role;
	return -1;
}

static const char *role_id_of(enum sensed_role role)
{
	for (int i = 0; i < auth.role_count; i++)
		if (auth.roles_by_id[i].role == role)
			return auth.roles_by_id[i].id;
	return NULL;
}

static int seed_and_cache_roles(void)
{
	for (size_t i = 0; i < sizeof seed_roles / sizeof seed_roles[0]; i++) {
		json_t *doc = NULL;
		int err = find_one_by(NULL, auth.roles, "name", seed_roles[i].name, &doc);
		if (err == SENSED_ENOTFOUND) {
			doc =
			    json_pack("{s:s, s:s, s:s}", "name", seed_roles[i].name, "baseRoleName",
			              seed_roles[i].name, "desc", seed_roles[i].desc);
			if (doc == NULL)
				return SENSED_ENOMEM;
			err = store_doc_insert(NULL, auth.roles, doc, NULL);
		}
		if (err != 0) {
			json_decref(doc);
			return err;
		}
		const char *id = json_string_value(json_object_get(doc, "_id"));
		if (id == NULL || strlen(id) != 24 || auth.role_count == ROLE_CACHE_MAX) {
			json_decref(doc);
			return SENSED_ESTORE;
		}
		struct role_entry *entry = &auth.roles_by_id[auth.role_count++];
		memcpy(entry->id, id, 25);
		entry->role = seed_roles[i].role;
		json_decref(doc);
	}
	return 0;
}

static int seed_groups_once(void)
{
	for (size_t i = 0; i < sizeof seed_groups / sizeof seed_groups[0]; i++) {
		json_t *doc = NULL;
		int err = find_one_by(NULL, auth.groups, "name", seed_groups[i], &doc);
		if (err == SENSED_ENOTFOUND) {
			doc = json_pack("{s:s, s:b}", "name", seed_groups[i], "ad", 0);
			if (doc == NULL)
				return SENSED_ENOMEM;
			err = store_doc_insert(NULL, auth.groups, doc, NULL);
		}
		json_decref(doc);
		if (err != 0)
			return err;
	}
	return 0;
}

/* ---- Installation secret and first super user ----------------------------------------- */

static int load_or_create_jwt_key(void)
{
	json_t *doc = NULL;
	int err = store_doc_get(NULL, auth.installation, INSTALLATION_ID, &doc);
	if (err == 0) {
		const char *hex = json_string_value(json_object_get(doc, "jwtSecret"));
		size_t bin_len = 0;
		if (hex == NULL ||
		    sodium_hex2bin(auth.jwt_key, sizeof auth.jwt_key, hex, strlen(hex), NULL,
		                   &bin_len, NULL) != 0 ||
		    bin_len != sizeof auth.jwt_key)
			err = SENSED_ESTORE;
		json_decref(doc);
		return err;
	}
	if (err != SENSED_ENOTFOUND)
		return err;
	char hex[JWT_KEY_BYTES * 2 + 1];
	randombytes_buf(auth.jwt_key, sizeof auth.jwt_key);
	sodium_bin2hex(hex, sizeof hex, auth.jwt_key, sizeof auth.jwt_key);
	doc = json_pack("{s:s, s:s}", "_id", INSTALLATION_ID, "jwtSecret", hex);
	sodium_memzero(hex, sizeof hex);
	if (doc == NULL)
		return SENSED_ENOMEM;
	err = store_doc_insert(NULL, auth.installation, doc, NULL);
	json_decref(doc);
	return err;
}

static json_t *new_user_doc(const char *email, const char *user_name, const char *role_id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[], s:{s:s, s:s}, s:n}", "email", email,
	                 "userName", user_name, "firstName", "Admin", "lastName", "", "roleId",
	                 role_id, "active", 1, "groups", "preferences", "localeId", "en-US",
	                 "language", "en-US", "lastLogin");
}

static int create_super_user_once(void)
{
	const char *super_id = role_id_of(SENSED_ROLE_SUPER);
	json_t *existing = NULL;
	int err = find_one_by(NULL, auth.users, "roleId", super_id, &existing);
	json_decref(existing);
	if (err != SENSED_ENOTFOUND)
		return err;

	const char *env_email = getenv("SENSED_ADMIN_EMAIL");
	const char *env_password = getenv("SENSED_ADMIN_PASSWORD");
	char email[USERNAME_MAX_LEN + 1];
	char generated[33];
	const char *password = env_password;
	lower_copy(email, sizeof email,
	           env_email != NULL && env_email[0] != '\0' ? env_email : "admin@localhost");
	if (password == NULL || password[0] == '\0') {
		unsigned char random[18];
		randombytes_buf(random, sizeof random);
		sodium_bin2base64(generated, sizeof generated, random, sizeof random,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(random, sizeof random);
		password = generated;
	}
	if (!password_acceptable(password)) {
		log_msg(SENSED_LOG_ERROR, AUTH_TAG, "SENSED_ADMIN_PASSWORD is too long");
		return SENSED_EINVAL;
	}

	char id[25];
	json_t *user = new_user_doc(email, email, super_id);
	if (user == NULL)
		return SENSED_ENOMEM;
	err = store_doc_insert(NULL, auth.users, user, id);
	json_decref(user);
	if (err == 0)
		err = auth_password_set(id, password);
	if (err == 0 && password == generated)
		fprintf(stderr, "sensed: created super user %s with password %s\n", email,
		        password);
	else if (err == 0)
		log_msg(SENSED_LOG_INFO, AUTH_TAG, "created super user %s", email);
	else
		log_msg(SENSED_LOG_ERROR, AUTH_TAG, "cannot create the super user %s: %s", email,
		        sensed_strerror(err));
	sodium_memzero(generated, sizeof generated);
	return err;
}

/* ---- Start-up ------------------------------------------------------------------------- */

static int open_collections(void)
{
	int err;
	if ((err = store_collection_open("core", "users", &auth.users)) ||
	    (err = store_collection_open("core", "roles", &auth.roles)) ||
	    (err = store_collection_open("core", "groups", &auth.groups)) ||
	    (err = store_collection_open("core", "user_secrets", &auth.secrets)) ||
	    (err = store_collection_open("core", "tokens", &auth.tokens)) ||
	    (err = store_collection_open("core", "installation", &auth.installation)))
		return err;
	if ((err = store_index_declare(auth.users, "email", SENSED_INDEX_UNIQUE)) ||
	    (err = store_index_declare(auth.users, "userName", SENSED_INDEX_UNIQUE)) ||
	    (err = store_index_declare(auth.users, "roleId", 0)) ||
	    (err = store_index_declare(auth.roles, "name", SENSED_INDEX_UNIQUE)) ||
	    (err = store_index_declare(auth.groups, "name", SENSED_INDEX_UNIQUE)) ||
	    (err = store_index_declare(auth.tokens, "userId", 0)))
		return err;
	if ((err = store_reference_declare(auth.users, "groups", "groups", auth.groups, "_id")) ||
	    (err = store_reference_declare(auth.users, "roleId", "role", auth.roles, "_id")) ||
	    (err = store_reference_declare(auth.groups, "roleId", "role", auth.roles, "_id")))
		return err;
	return 0;
}

/* Everything auth_init does except creating the first super user. */
static int auth_open(const struct config *cfg)
{
	int err;
	char random_password[33];
	unsigned char random[24];

	if (cfg == NULL)
		return SENSED_EINVAL;
	if (sodium_init() < 0)
		return SENSED_ENOMEM;
	auth.max_failures = cfg->login_max_failures;
	auth.lock_seconds = cfg->login_lock_seconds;
	auth.rate_per_minute = cfg->login_rate_per_minute;
	auth.hash_fast = cfg->password_hash_fast;
	auth.role_count = 0;
	memset(auth.throttle, 0, sizeof auth.throttle);
	pthread_mutex_init(&auth.throttle_lock, NULL);

	randombytes_buf(random, sizeof random);
	sodium_bin2hex(random_password, sizeof random_password, random, 16);
	err = hash_password(random_password, auth.dummy_hash);
	sodium_memzero(random_password, sizeof random_password);
	if (err != 0)
		return err;

	if ((err = open_collections()) || (err = load_or_create_jwt_key()) ||
	    (err = crypto_kdf_derive_from_key(auth.seal_key, sizeof auth.seal_key, 1, "sealbox1",
	                                      auth.jwt_key) != 0
	               ? SENSED_EINVAL
	               : 0) ||
	    (err = seed_and_cache_roles()) || (err = seed_groups_once())) {
		log_msg(SENSED_LOG_ERROR, AUTH_TAG, "start-up failed: %s", sensed_strerror(err));
		return err;
	}
	return 0;
}

int auth_init(const struct config *cfg)
{
	int err = auth_open(cfg);

	if (err == 0 && (err = create_super_user_once()) != 0)
		log_msg(SENSED_LOG_ERROR, AUTH_TAG, "start-up failed: %s", sensed_strerror(err));
	return err;
}

int auth_init_without_users(const struct config *cfg)
{
	return auth_open(cfg);
}

void auth_shutdown(void)
{
	sodium_memzero(auth.jwt_key, sizeof auth.jwt_key);
	sodium_memzero(auth.seal_key, sizeof auth.seal_key);
	pthread_mutex_destroy(&auth.throttle_lock);
}

/* ---- SDK members: passwords and revocation (any thread) -------------------------------- */

int auth_password_set(const char *user_id, const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	sensed_txn *txn = NULL;
	json_t *doc = NULL;
	int err;

	if (user_id == NULL || !object_id_valid(user_id) || !password_acceptable(password))
		return SENSED_EINVAL;
	if ((err = hash_password(password, hash)) != 0)
		return err;
	if ((err = store_txn_begin(1, &txn)) != 0)
		return err;
	err = store_doc_get(txn, auth.secrets, user_id, &doc);
	if (err == 0) {
		/* A new password also lifts a lockout. */
		if (json_object_set_new(doc, "hash", json_string(hash)) ||
		    json_object_set_new(doc, "failedLogins", json_integer(0)) ||
		    json_object_set_new(doc, "lockedUntil", json_integer(0)))
			err = SENSED_ENOMEM;
		else
			err = store_doc_replace(txn, auth.secrets, user_id, doc);
	} else if (err == SENSED_ENOTFOUND) {
		doc = json_pack("{s:s, s:s, s:i, s:i}", "_id", user_id, "hash", hash,
		                "failedLogins", 0, "lockedUntil", 0);
		err = doc == NULL ? SENSED_ENOMEM : store_doc_insert(txn, auth.secrets, doc, NULL);
	}
	json_decref(doc);
	sodium_memzero(hash, sizeof hash);
	if (err != 0) {
		store_txn_abort(txn);
		return err;
	}
	return store_txn_commit(txn);
}

int auth_password_verify(const char *user_id, const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	json_t *doc = NULL;

	if (user_id == NULL || password == NULL)
		return SENSED_EINVAL;
	if (!object_id_valid(user_id))
		return SENSED_ENOTFOUND;
	int err = store_doc_get(NULL, auth.secrets, user_id, &doc);
	if (err != 0)
		return err;
	const char *stored = json_string_value(json_object_get(doc, "hash"));
	if (stored == NULL || strlen(stored) >= sizeof hash) {
		json_decref(doc);
		return SENSED_ENOTFOUND;
	}
	memcpy(hash, stored, strlen(stored) + 1);
	json_decref(doc);
	if (strnlen(password, PASSWORD_MAX_LEN + 1) > PASSWORD_MAX_LEN)
		return SENSED_EINVAL;
	return check_password(hash, password);
}

/* Delete the tokens of `user_id` (only those of `type` unless NULL) in one write
 * transaction.  Lists come back capped at the store's max limit: repeat until none is
 * left. */
/* Delete the tokens of `user_id` whose `field` is `value` (every token when field is
 * NULL). */
static int revoke_tokens(const char *user_id, const char *field, const char *value)
{
	sensed_txn *txn = NULL;
	int err;

	if (user_id == NULL)
		return SENSED_EINVAL;
	json_t *filter = field != NULL ? json_pack("{s:s, s:s}", "userId", user_id, field, value)
	                               : filter_of("userId", user_id);
	if (filter == NULL)
		return SENSED_ENOMEM;
	if ((err = store_txn_begin(1, &txn)) != 0) {
		json_decref(filter);
		return err;
	}
	for (;;) {
		sensed_query q = SENSED_QUERY_INIT;
		json_t *found = NULL;
		size_t deleted = 0, i;
		json_t *doc;
		q.filter = filter;
		q.fields = "_id";
		if ((err = store_find(txn, auth.tokens, &q, &found)) != 0)
			break;
		json_array_foreach(found, i, doc)
		{
			const char *id = json_string_value(json_object_get(doc, "_id"));
			if (id == NULL)
				continue;
			err = store_doc_delete(txn, auth.tokens, id);
			if (err == 0)
				deleted++;
			else if (err == SENSED_ENOTFOUND)
				err = 0;
			else
				break;
		}
		json_decref(found);
		if (err != 0 || deleted == 0)
			break;
	}
	json_decref(filter);
	if (err != 0) {
		store_txn_abort(txn);
		return err;
	}
	return store_txn_commit(txn);
}

int auth_tokens_revoke_user(const char *user_id)
{
	return revoke_tokens(user_id, NULL, NULL);
}

int auth_tokens_revoke_scoped(const char *user_id, const char *scope)
{
	if (scope == NULL || !jwt_scope_valid(scope))
		return SENSED_EINVAL;
	return revoke_tokens(user_id, "scope", scope);
}

int auth_token_issue_scoped(const char *user_id, const char *scope, char **out)
{
	struct jwt_claims claims;
	char token_id[25];
	char *token;
	json_t *record;
	int err;

	if (out == NULL || scope == NULL || !jwt_scope_valid(scope))
		return SENSED_EINVAL;
	if ((err = jwt_claims_new(user_id, &claims)) != 0)
		return err;
	snprintf(claims.scope, sizeof claims.scope, "%s", scope);
	token = malloc(JWT_MAX_LEN + 1);
	if (token == NULL)
		return SENSED_ENOMEM;
	if ((err = jwt_sign(auth.jwt_key, &claims, token, JWT_MAX_LEN + 1)) != 0) {
		free(token);
		return err;
	}
	token_id_of(claims.api_secret, token_id);
	sodium_memzero(&claims, sizeof claims);
	record = json_pack("{s:s, s:s, s:s, s:s}", "_id", token_id, "userId", user_id, "type",
	                   "scoped", "scope", scope);
	err = record != NULL ? store_doc_insert(NULL, auth.tokens, record, NULL) : SENSED_ENOMEM;
	json_decref(record);
	if (err != 0) {
		free(token);
		return err;
	}
	*out = token;
	return 0;
}

/* ---- Secrets sealed with the installation key ------------------------------------------ */

int auth_secret_seal(const char *plaintext, char **out)
{
	size_t len, box_len, b64_len;
	unsigned char *box;
	char *b64;

	if (plaintext == NULL || out == NULL)
		return SENSED_EINVAL;
	len = strlen(plaintext);
	box_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
	b64_len = sodium_base64_ENCODED_LEN(box_len, sodium_base64_VARIANT_ORIGINAL);
	box = malloc(box_len);
	b64 = malloc(b64_len);
	if (box == NULL || b64 == NULL) {
		free(box);
		free(b64);
		return SENSED_ENOMEM;
	}
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plaintext,
	                      len, box, auth.seal_key);
	sodium_bin2base64(b64, b64_len, box, box_len, sodium_base64_VARIANT_ORIGINAL);
	free(box);
	*out = b64;
	return 0;
}

int auth_secret_open(const char *sealed, char **out)
{
	size_t sealed_len, box_len;
	unsigned char *box;
	char *plain;

	if (sealed == NULL || out == NULL)
		return SENSED_EINVAL;
	sealed_len = strlen(sealed);
	box = malloc(sealed_len + 1);
	if (box == NULL)
		return SENSED_ENOMEM;
	if (sodium_base642bin(box, sealed_len + 1, sealed, sealed_len, NULL, &box_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    box_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		free(box);
		return SENSED_EINVAL;
	}
	size_t plain_len = box_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	plain = malloc(plain_len + 1);
	if (plain == NULL) {
		free(box);
		return SENSED_ENOMEM;
	}
	if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
	                               box_len - crypto_secretbox_NONCEBYTES, box,
	                               auth.seal_key) != 0 ||
	    memchr(plain, '\0', plain_len) != NULL) {
		free(box);
		free(plain);
		return SENSED_EINVAL;
	}
	plain[plain_len] = '\0';
	free(box);
	*out = plain;
	return 0;
}

/* ---- Resolving a token ---------------------------------------------------------------- */

/* The record id of a valid token in an Authorization value, and its claims. */
static int token_from_header(const char *authorization, struct jwt_claims *claims,
                             char token_id[25])
{
	const char *token = bearer_token(authorization);
	if (token == NULL)
		return SENSED_EINVAL;
	int err = jwt_verify(auth.jwt_key, token, claims);
	if (err != 0)
		return err == SENSED_ENOMEM ? err : SENSED_EINVAL;
	token_id_of(claims->api_secret, token_id);
	return 0;
}

/* Per-thread caches for auth_resolve, the cost every authenticated request pays.  Neither
 * can outlive a revocation or a change of user: the token record and the user's stored
 * bytes are read from the store on every request; what is cached is only work that is a
 * pure function of bytes compared in full:
 *   - verified tokens: the signature check and decoding of a token string (the key does
 *     not change while the server runs);
 *   - users: the parsed user document and role, reused while the stored bytes are equal.
 * Each thread owns its cache (thread key with a destructor, so nothing leaks at exit). */
#define RESOLVE_CACHE_SLOTS 64

struct verified_token {
	char token[JWT_MAX_LEN + 1]; /* "" when the slot is free */
	struct jwt_claims claims;
	char token_id[25];
};

struct cached_user {
	char id[25];
	char *bytes; /* owned copy of the stored document */
	size_t len;
	json_t *doc; /* owned; handed out with json_incref, never modified */
	int role;    /* -1 when inactive or of an unknown role */
};

struct resolve_cache {
	struct verified_token tokens[RESOLVE_CACHE_SLOTS];
	struct cached_user users[RESOLVE_CACHE_SLOTS];
};

static pthread_key_t resolve_cache_key;
static pthread_once_t resolve_cache_once = PTHREAD_ONCE_INIT;

static void resolve_cache_free(void *p)
{
	struct resolve_cache *cache = p;

	for (int i = 0; i < RESOLVE_CACHE_SLOTS; i++) {
		free(cache->users[i].bytes);
		json_decref(cache->users[i].doc);
	}
	free(cache);
}

static void resolve_cache_key_create(void)
{
	pthread_key_create(&resolve_cache_key, resolve_cache_free);
}

/* This thread's cache, or NULL when out of memory (resolution then works uncached). */
static struct resolve_cache *resolve_cache(void)
{
	struct resolve_cache *cache;

	pthread_once(&resolve_cache_once, resolve_cache_key_create);
	cache = pthread_getspecific(resolve_cache_key);
	if (cache == NULL) {
		cache = calloc(1, sizeof(*cache));
		if (cache != NULL && pthread_setspecific(resolve_cache_key, cache) != 0) {
			free(cache);
			cache = NULL;
		}
	}
	return cache;
}

static uint32_t string_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* As token_from_header, through the cache. */
static int token_from_header_cached(struct resolve_cache *cache, const char *authorization,
                                    struct jwt_claims *claims, char token_id[25])
{
	const char *token = bearer_token(authorization);
	struct verified_token *slot;
	size_t len;

	if (token == NULL)
		return SENSED_EINVAL;
	len = strlen(token);
	if (cache == NULL || len > JWT_MAX_LEN)
		return token_from_header(authorization, claims, token_id);
	slot = &cache->tokens[string_hash(token, len) % RESOLVE_CACHE_SLOTS];
	if (strcmp(slot->token, token) != 0) {
		int err = token_from_header(authorization, claims, token_id);
		if (err != 0)
			return err;
		memcpy(slot->token, token, len + 1);
		slot->claims = *claims;
		memcpy(slot->token_id, token_id, 25);
		return 0;
	}
	*claims = slot->claims;
	memcpy(token_id, slot->token_id, 25);
	return 0;
}

/* The user `id` as stored now (bytes borrowed from `txn`): a new reference to its parsed
 * document in *doc and its role (-1 when inactive or unknown). */
static int user_of_bytes(struct resolve_cache *cache, const char *id, const char *bytes, size_t len,
                         json_t **doc, int *role)
{
	struct cached_user *slot =
	    cache ? &cache->users[string_hash(id, 24) % RESOLVE_CACHE_SLOTS] : NULL;
	json_t *parsed;
	char *copy;

	if (slot && slot->doc && strcmp(slot->id, id) == 0 && slot->len == len &&
	    memcmp(slot->bytes, bytes, len) == 0) {
		*doc = json_incref(slot->doc);
		*role = slot->role;
		return 0;
	}
	/* Bytes the core stored: failing to parse them means out of memory. */
	parsed = json_load_checked(bytes, len, 0, NULL);
	if (parsed == NULL)
		return SENSED_ENOMEM;
	*role = user_is_active(parsed)
	            ? role_of_id(json_string_value(json_object_get(parsed, "roleId")))
	            : -1;
	*doc = parsed;
	copy = slot ? malloc(len) : NULL;
	if (copy != NULL) {
		memcpy(copy, bytes, len);
		free(slot->bytes);
		json_decref(slot->doc);
		memcpy(slot->id, id, 25);
		slot->bytes = copy;
		slot->len = len;
		slot->doc = json_incref(parsed);
		slot->role = *role;
	}
	return 0;
}

int auth_resolve(sensed_request *req, const char *authorization)
{
	struct resolve_cache *cache = resolve_cache();
	struct jwt_claims claims;
	char token_id[25];
	sensed_txn *txn = NULL;
	const char *record_bytes, *user_bytes;
	size_t record_len, user_len;
	json_t *user = NULL;
	int role = -1, err;

	if (req == NULL)
		return SENSED_EINVAL;
	if (authorization == NULL)
		return SENSED_ENOTFOUND;
	err = token_from_header_cached(cache, authorization, &claims, token_id);
	if (err != 0)
		return err == SENSED_ENOMEM ? err : SENSED_EINVAL;
	if (store_txn_begin(0, &txn) != 0)
		return SENSED_ENOMEM;
	/* The signature binds user and apiSecret; the record's existence says "not revoked". */
	err = store_doc_get_raw(txn, auth.tokens, token_id, &record_bytes, &record_len);
	if (err == 0)
		err = store_doc_get_raw(txn, auth.users, claims.user, &user_bytes, &user_len);
	if (err == 0)
		err = user_of_bytes(cache, claims.user, user_bytes, user_len, &user, &role);
	store_txn_abort(txn);
	if (err != 0 || role < 0) {
		json_decref(user);
		return err == SENSED_ENOMEM ? err : SENSED_EINVAL;
	}
	json_decref(req->user);
	req->user = user;
	memcpy(req->user_id, claims.user, 25);
	memcpy(req->token_scope, claims.scope, sizeof claims.scope);
	req->role = (enum sensed_role)role;
	return 0;
}

/* ---- Login throttling ----------------------------------------------------------------- */

static uint32_t address_hash(const char *address)
{
	uint32_t h = 2166136261u;
	for (; *address != '\0'; address++)
		h = (h ^ (unsigned char)*address) * 16777619u;
	return h;
}

/* Count one attempt from `address`; returns the seconds to wait when over the rate,
 * 0 when allowed. */
static int throttle_attempt(const char *address, int64_t now_ms)
{
	if (auth.rate_per_minute <= 0 || address == NULL || address[0] == '\0')
		return 0;
	uint32_t base = address_hash(address) % THROTTLE_SLOTS;
	int retry_after = 0;

	pthread_mutex_lock(&auth.throttle_lock);
	struct throttle_slot *slot = NULL, *victim = NULL;
	int64_t victim_rank = INT64_MAX;
	for (int i = 0; i < THROTTLE_PROBES; i++) {
		struct throttle_slot *s = &auth.throttle[(base + (uint32_t)i) % THROTTLE_SLOTS];
		if (strcmp(s->address, address) == 0) {
			slot = s;
			break;
		}
		/* Free and expired slots go first, then the oldest window. */
		int64_t rank =
		    s->address[0] == '\0' || now_ms - s->window_start_ms >= THROTTLE_WINDOW_MS
		        ? INT64_MIN
		        : s->window_start_ms;
		if (victim == NULL || rank < victim_rank) {
			victim = s;
			victim_rank = rank;
		}
	}
	if (slot == NULL) {
		slot = victim;
		snprintf(slot->address, sizeof slot->address, "%s", address);
		slot->window_start_ms = now_ms;
		slot->attempts = 0;
	} else if (now_ms - slot->window_start_ms >= THROTTLE_WINDOW_MS) {
		slot->window_start_ms = now_ms;
		slot->attempts = 0;
	}
	if (slot->attempts >= auth.rate_per_minute)
		retry_after =
		    (int)((slot->window_start_ms + THROTTLE_WINDOW_MS - now_ms + 999) / 1000);
	else
		slot->attempts++;
	pthread_mutex_unlock(&auth.throttle_lock);
	return retry_after > 0 ? retry_after : 0;
}

static const char *peer_address(sensed_request *req)
{
	char *address = NULL;
	ev_uint16_t port = 0;
	if (req->ev == NULL)
		return NULL;
	struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
	if (conn == NULL)
		return NULL;
	evhttp_connection_get_peer(conn, &address, &port);
	return address;
}

/* ---- Login ---------------------------------------------------------------------------- */

struct login_job {
	char user_id[25]; /* "" when no active user has this name */
	char hash[crypto_pwhash_STRBYTES];
	char *password;                        /* owned; wiped before it is freed */
	char device_id[DEVICE_ID_MAX_LEN + 1]; /* "" for an API token */
	int verdict;                           /* from check_password */
	int rehashed;                          /* new_hash holds a hash with today's limits */
	char new_hash[crypto_pwhash_STRBYTES];
};

static void login_job_free(struct login_job *job)
{
	if (job->password != NULL) {
		sodium_memzero(job->password, strlen(job->password));
		free(job->password);
	}
	sodium_memzero(job, sizeof *job);
	free(job);
}

/* Pool thread: the Argon2 work, also for unknown users (against the dummy hash). */
static void login_work(void *arg)
{
	struct login_job *job = arg;
	const char *hash = job->user_id[0] != '\0' ? job->hash : auth.dummy_hash;
	job->verdict = check_password(hash, job->password);
	if (job->user_id[0] == '\0' && job->verdict == 0)
		job->verdict = SENSED_EINVAL;
	if (job->verdict == 0 &&
	    crypto_pwhash_str_needs_rehash(job->hash, pwhash_ops(), pwhash_mem()) != 0)
		job->rehashed = hash_password(job->password, job->new_hash) == 0;
}

/* Count a failed login; locks the account at the configured number of failures. */
static void record_failure(const char *user_id)
{
	sensed_txn *txn = NULL;
	json_t *secrets = NULL;
	if (auth.max_failures <= 0 || store_txn_begin(1, &txn) != 0)
		return;
	int err = store_doc_get(txn, auth.secrets, user_id, &secrets);
	if (err == 0) {
		int64_t failures = json_int_or_zero(secrets, "failedLogins") + 1;
		int64_t locked_until = 0;
		if (failures >= auth.max_failures) {
			locked_until = time_now_ms() + (int64_t)auth.lock_seconds * 1000;
			failures = 0;
			log_msg(SENSED_LOG_WARN, AUTH_TAG,
			        "user %s locked for %d s after %d failures", user_id,
			        auth.lock_seconds, auth.max_failures);
		}
		if (json_object_set_new(secrets, "failedLogins", json_integer(failures)) ||
		    json_object_set_new(secrets, "lockedUntil", json_integer(locked_until)))
			err = SENSED_ENOMEM;
		else
			err = store_doc_replace(txn, auth.secrets, user_id, secrets);
	}
	json_decref(secrets);
	if (err == 0)
		store_txn_commit(txn);
	else
		store_txn_abort(txn);
}

/* Sign a new token for `user_id` and record it in `txn` (device token when device_id is
 * neither NULL nor empty).  The token is written to `out`. */
int auth_token_issue(sensed_txn *txn, const char *user_id, const char *device_id, char *out,
                     size_t out_size)
{
	struct jwt_claims claims;
	char token_id[25];
	int device = device_id != NULL && device_id[0] != '\0';
	int err = jwt_claims_new(user_id, &claims);
	if (err == 0)
		err = jwt_sign(auth.jwt_key, &claims, out, out_size);
	if (err != 0)
		return err;
	token_id_of(claims.api_secret, token_id);
	sodium_memzero(&claims, sizeof claims);
	json_t *token = json_pack("{s:s, s:s, s:s}", "_id", token_id, "userId", user_id, "type",
	                          device ? TOKEN_TYPE_DEVICE : TOKEN_TYPE_API);
	if (token == NULL ||
	    (device && json_object_set_new(token, "deviceId", json_string(device_id))))
		err = SENSED_ENOMEM;
	else
		err = store_doc_insert(txn, auth.tokens, token, NULL);
	json_decref(token);
	return err;
}

/* In one write transaction: reset the failure count (and store an upgraded hash), stamp
 * lastLogin and record the new token.  *profile receives the updated user. */
static int record_success(const struct login_job *job, char *token, size_t token_size,
                          json_t **profile)
{
	sensed_txn *txn = NULL;
	json_t *secrets = NULL, *user = NULL;
	char now[25];
	int err;

	if ((err = store_txn_begin(1, &txn)) != 0)
		return err;
	err = store_doc_get(txn, auth.users, job->user_id, &user);
	if (err == 0 && !user_is_active(user))
		err = SENSED_ENOTFOUND;
	if (err == 0)
		err = store_doc_get(txn, auth.secrets, job->user_id, &secrets);
	if (err == 0 && (job->rehashed || json_int_or_zero(secrets, "failedLogins") != 0 ||
	                 json_int_or_zero(secrets, "lockedUntil") != 0)) {
		if ((job->rehashed &&
		     json_object_set_new(secrets, "hash", json_string(job->new_hash))) ||
		    json_object_set_new(secrets, "failedLogins", json_integer(0)) ||
		    json_object_set_new(secrets, "lockedUntil", json_integer(0)))
			err = SENSED_ENOMEM;
		else
			err = store_doc_replace(txn, auth.secrets, job->user_id, secrets);
	}
	if (err == 0) {
		date_format(-1, now);
		err = json_object_set_new(user, "lastLogin", json_string(now)) ? SENSED_ENOMEM : 0;
	}
	if (err == 0)
		err = store_doc_replace(txn, auth.users, job->user_id, user);
	if (err == 0)
		err = auth_token_issue(txn, job->user_id, job->device_id, token, token_size);
	json_decref(user);
	user = NULL;
	if (err == 0)
		err = store_doc_get(txn, auth.users, job->user_id, &user);
	json_decref(secrets);
	if (err != 0) {
		json_decref(user);
		store_txn_abort(txn);
		return err;
	}
	if ((err = store_txn_commit(txn)) != 0) {
		json_decref(user);
		return err;
	}
	*profile = user;
	return 0;
}

static void login_done(sensed_request *req, void *arg)
{
	struct login_job *job = arg;
	char token[JWT_MAX_LEN + 1];
	json_t *profile = NULL;

	if (job->verdict == SENSED_ENOMEM) {
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	} else if (job->verdict != 0) {
		if (job->user_id[0] != '\0')
			record_failure(job->user_id);
		reply_error(req, 401, SENSED_CODE_INVALID_CREDENTIALS, NULL);
	} else {
		int err = record_success(job, token, sizeof token, &profile);
		if (err == SENSED_ENOTFOUND) {
			reply_error(req, 401, SENSED_CODE_INVALID_CREDENTIALS, NULL);
		} else if (err != 0) {
			reply_store_error(req, err);
		} else {
			json_t *body = json_pack("{s:b, s:s, s:s, s:O, s:s}", "success", 1,
			                         "message", "", "access_token", token, "profile",
			                         profile, "userId", job->user_id);
			if (body != NULL)
				reply_json(req, 200, body);
			else
				reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
			json_decref(body);
		}
		json_decref(profile);
		sodium_memzero(token, sizeof token);
	}
	login_job_free(job);
}

/* The login form or JSON body as an object (new reference), or NULL after replying. */
static json_t *login_fields(sensed_request *req)
{
	const char *type = request_header(req, "content-type");
	static const char form_type[] = "application/x-www-form-urlencoded";
	json_t *body = NULL;

	if (type != NULL && strncasecmp(type, form_type, sizeof form_type - 1) == 0) {
		size_t len = 0;
		const char *bytes = request_body(req, &len);
		body = form_decode(bytes != NULL ? bytes : "", bytes != NULL ? len : 0);
		if (body == NULL)
			reply_error(req, 400, SENSED_CODE_BAD_REQUEST, "Malformed form body");
		return body;
	}
	if (request_json(req, &body) != 0)
		return NULL;
	if (body == NULL || !json_is_object(body)) {
		reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		            "username and password are required");
		return NULL;
	}
	return json_incref(body);
}

/* Look up the login name: e-mail (stored lower-case), then user name as given, then
 * lower-cased. */
static int find_login_user(sensed_txn *txn, const char *username, json_t **out)
{
	char lower[USERNAME_MAX_LEN + 1];
	lower_copy(lower, sizeof lower, username);
	int err = find_one_by(txn, auth.users, "email", lower, out);
	if (err == SENSED_ENOTFOUND)
		err = find_one_by(txn, auth.users, "userName", username, out);
	if (err == SENSED_ENOTFOUND && strcmp(lower, username) != 0)
		err = find_one_by(txn, auth.users, "userName", lower, out);
	return err;
}

/* Fill the job from the store; replies and returns nonzero when the login ends here
 * (locked account, store failure). */
static int login_lookup(sensed_request *req, const char *username, struct login_job *job)
{
	sensed_txn *txn = NULL;
	json_t *user = NULL, *secrets = NULL;
	int err = store_txn_begin(0, &txn);
	if (err != 0) {
		reply_store_error(req, err);
		return err;
	}
	err = find_login_user(txn, username, &user);
	if (err == 0 && user_is_active(user)) {
		const char *id = json_string_value(json_object_get(user, "_id"));
		int got = id != NULL && object_id_valid(id)
		              ? store_doc_get(txn, auth.secrets, id, &secrets)
		              : SENSED_ENOTFOUND;
		/* Out of memory is not "no password": the login fails with 503, not 401. */
		if (got != 0 && got != SENSED_ENOTFOUND)
			err = got;
		if (got == 0) {
			const char *hash = json_string_value(json_object_get(secrets, "hash"));
			if (hash != NULL && strlen(hash) < sizeof job->hash) {
				memcpy(job->user_id, id, 25);
				memcpy(job->hash, hash, strlen(hash) + 1);
			}
		}
	} else if (err == SENSED_ENOTFOUND) {
		err = 0;
	}
	store_txn_abort(txn);
	json_decref(user);
	if (err != 0) {
		json_decref(secrets);
		reply_store_error(req, err);
		return err;
	}
	int64_t locked_until = json_int_or_zero(secrets, "lockedUntil");
	json_decref(secrets);
	if (job->user_id[0] != '\0' && locked_until > time_now_ms()) {
		reply_error(req, 401, SENSED_CODE_ACCOUNT_LOCKED, NULL);
		return SENSED_EBUSY;
	}
	return 0;
}

static void handle_login(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	int retry_after = throttle_attempt(peer_address(req), time_now_ms());
	if (retry_after > 0) {
		char seconds[16];
		snprintf(seconds, sizeof seconds, "%d", retry_after);
		reply_header(req, "Retry-After", seconds);
		reply_error(req, 429, SENSED_CODE_TOO_MANY_ATTEMPTS, NULL);
		return;
	}
	json_t *fields = login_fields(req);
	if (fields == NULL)
		return;
	const char *username = json_string_value(json_object_get(fields, "username"));
	const char *password = json_string_value(json_object_get(fields, "password"));
	const char *device = request_header(req, "x-device-id");
	if (username == NULL || username[0] == '\0' || password == NULL || password[0] == '\0') {
		reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		            "username and password are required");
		json_decref(fields);
		return;
	}
	if (strlen(username) > USERNAME_MAX_LEN || strlen(password) > PASSWORD_MAX_LEN ||
	    (device != NULL && strlen(device) > DEVICE_ID_MAX_LEN)) {
		reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, "A login field is too long");
		json_decref(fields);
		return;
	}

	struct login_job *job = calloc(1, sizeof *job);
	if (job == NULL || (job->password = strdup(password)) == NULL) {
		free(job);
		json_decref(fields);
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	if (device != NULL)
		snprintf(job->device_id, sizeof job->device_id, "%s", device);
	int err = login_lookup(req, username, job);
	json_decref(fields);
	if (err != 0) {
		login_job_free(job);
		return;
	}
	if (request_run_job(req, login_work, login_done, job) != 0) {
		login_job_free(job);
		reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	}
}

/* ---- Logout and revocation ------------------------------------------------------------ */

static void handle_logout(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	struct jwt_claims claims;
	char token_id[25];
	if (token_from_header(request_header(req, "authorization"), &claims, token_id) != 0) {
		reply_error(req, 401, SENSED_CODE_UNAUTHORIZED, NULL);
		return;
	}
	int err = store_doc_delete(NULL, auth.tokens, token_id);
	if (err != 0 && err != SENSED_ENOTFOUND) {
		reply_store_error(req, err);
		return;
	}
	reply_empty(req, 204);
}

static void handle_logout_all(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	int err = auth_tokens_revoke_user(request_user_id(req));
	if (err != 0)
		reply_store_error(req, err);
	else
		reply_empty(req, 204);
}

/* Revoke the tokens of every id in ?users= (unknown ids are ignored). */
static void revoke_listed_users(sensed_request *req, const char *type)
{
	json_t *users = request_query_list(req, "users");
	size_t i;
	json_t *item;
	if (users == NULL || json_array_size(users) == 0) {
		reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		            "users: a comma-separated list of user ids is required");
		return;
	}
	json_array_foreach(users, i, item)
	{
		const char *id = json_string_value(item);
		if (id == NULL || !object_id_valid(id))
			continue;
		int err = revoke_tokens(id, type ? "type" : NULL, type);
		if (err != 0) {
			reply_store_error(req, err);
			return;
		}
	}
	reply_empty(req, 204);
}

static void handle_admin_logout(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	revoke_listed_users(req, NULL);
}

static void handle_admin_tokens(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	const char *type = request_param(req, "tokenType");
	if (type == NULL || strcmp(type, TOKEN_TYPE_API) != 0) {
		reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		            "tokenType: only \"api\" tokens can be revoked");
		return;
	}
	revoke_listed_users(req, TOKEN_TYPE_API);
}

int auth_register_routes(sensed_plugin *core, const sensed_host *host)
{
	static const struct {
		unsigned method;
		const char *pattern;
		enum sensed_role least_role;
		sensed_handler handler;
	} routes[] = {
	    {SENSED_POST, "/authentication/login", SENSED_ROLE_PUBLIC, handle_login},
	    {SENSED_GET, "/authentication/logout", SENSED_ROLE_CONSUMER, handle_logout},
	    {SENSED_GET, "/authentication/logout_all", SENSED_ROLE_CONSUMER, handle_logout_all},
	    {SENSED_GET, "/authentication/admin/logout", SENSED_ROLE_ADMIN, handle_admin_logout},
	    {SENSED_DELETE, "/authentication/admin/tokens/{tokenType}", SENSED_ROLE_ADMIN,
	     handle_admin_tokens},
	};
	if (core == NULL || host == NULL || host->route_add == NULL)
		return SENSED_EINVAL;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		int err = host->route_add(core, routes[i].method, routes[i].pattern,
		                          routes[i].least_role, routes[i].handler, NULL);
		if (err != 0)
			return err;
	}
	return 0;
}
