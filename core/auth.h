/* Authentication in the core: users, roles and tokens in the store; HS256 JWTs signed
 * with a per-installation secret; Argon2id passwords hashed on the worker pool;
 * revocation, account lockout and login throttling. */
#ifndef SENSED_CORE_AUTH_H
#define SENSED_CORE_AUTH_H

#include "sensed/plugin.h"

struct config;

/* Open the core collections (users, roles, groups, user_secrets, tokens, installation),
 * seed the roles,
 * create the installation secret on first start, and the first super user from
 * SENSED_ADMIN_EMAIL / SENSED_ADMIN_PASSWORD (or a generated password printed once).
 * Start-up thread, after store_open(). */
int auth_init(const struct config *cfg);
/* Register the login/logout/token routes, owned by the core's plugin record. */
/* As auth_init without creating the first super user: for --check-config, which loads the
 * plugins against a scratch store. */
int auth_init_without_users(const struct config *cfg);
int auth_register_routes(sensed_plugin *core, const sensed_host *host);
/* Resolve an Authorization header value ("Bearer <jwt>", NULL when absent) into the
 * request's user_id, role and user (see struct sensed_request).  Returns 0 when signed
 * in, SENSED_ENOTFOUND when there is no token, SENSED_EINVAL when the token is malformed,
 * tampered, revoked or its user is gone or inactive, SENSED_ENOMEM when it could not be
 * checked (out of memory, store unavailable: answer 503, not 401).  Any loop thread. */
int auth_resolve(sensed_request *req, const char *authorization);
/* Role of a role document's name ("admin" -> SENSED_ROLE_ADMIN); -1 if unknown. */
int auth_role_from_name(const char *name);
/* SDK members (contracts in include/sensed/plugin.h). */
int auth_password_set(const char *user_id, const char *password);
int auth_password_verify(const char *user_id, const char *password);
int auth_tokens_revoke_user(const char *user_id);
int auth_token_issue_scoped(const char *user_id, const char *scope, char **out);
int auth_tokens_revoke_scoped(const char *user_id, const char *scope);
int auth_secret_seal(const char *plaintext, char **out);
int auth_secret_open(const char *sealed, char **out);
void auth_shutdown(void);

#endif
