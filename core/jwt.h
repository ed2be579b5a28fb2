/* HS256 JSON Web Tokens as the real API issues them: header {"alg":"HS256","typ":"JWT"},
 * payload {"user": "<_id>", "apiSecret": "<hex>", "iat": <seconds>}, base64url without
 * padding; a scoped token (e.g. analytics) adds "scope".  Tokens never expire; they are revoked by
 * deleting their record (auth.c). Pure functions of their arguments: any thread. */
#ifndef SENSED_CORE_JWT_H
#define SENSED_CORE_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_KEY_BYTES      32  /* the per-installation HMAC key */
#define JWT_API_SECRET_HEX 64  /* apiSecret: 32 random bytes as lowercase hex */
#define JWT_MAX_LEN        512 /* longer tokens are refused before any decoding */
#define JWT_SCOPE_MAX      31  /* bytes of a scope name */

struct jwt_claims {
	char user[25];                           /* 24-hex user _id */
	char api_secret[JWT_API_SECRET_HEX + 1]; /* lowercase hex */
	int64_t iat;                             /* seconds since the epoch, >= 0 */
	char scope[JWT_SCOPE_MAX + 1];           /* "" for an ordinary token; else [a-z0-9_-]+ */
};

/* Sign `claims` with `key` into `out` (NUL-terminated).  SENSED_EINVAL when a claim is
 * malformed, SENSED_ETOOLARGE when out_size is too small, SENSED_ENOMEM. */
int jwt_sign(const unsigned char key[JWT_KEY_BYTES], const struct jwt_claims *claims, char *out,
             size_t out_size);
/* Verify `token` (signature compared in constant time, alg must be HS256) and fill *out.
 * SENSED_EINVAL for anything malformed, too long, tampered or signed with another key;
 * SENSED_ENOMEM. */
int jwt_verify(const unsigned char key[JWT_KEY_BYTES], const char *token, struct jwt_claims *out);
/* New random claims for `user_id`: a fresh apiSecret, iat = now, no scope. */
int jwt_claims_new(const char *user_id, struct jwt_claims *out);
/* Is `s` a valid scope name ([a-z0-9_-], 1 to JWT_SCOPE_MAX bytes)? */
int jwt_scope_valid(const char *s);
/* Is `s` exactly `len` lowercase hex digits? */
int jwt_is_hex(const char *s, size_t len);

#endif
