#include "jwt.h"

#include "json_load.h"
#include "sensed/plugin.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* base64url of {"alg":"HS256","typ":"JWT"}: the only header we issue. */
static const char jwt_header_json[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Decoded payloads are small: a bound keeps a forged segment from costing memory. */
#define JWT_SEGMENT_MAX 384

int jwt_is_hex(const char *s, size_t len)
{
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[len] == '\0';
}

static int is_base64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Append base64url(bin) at out[*pos]; returns SENSED_ETOOLARGE when it does not fit. */
static int append_base64(char *out, size_t out_size, size_t *pos, const unsigned char *bin,
                         size_t bin_len)
{
	size_t need = sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (*pos + need > out_size)
		return SENSED_ETOOLARGE;
	sodium_bin2base64(out + *pos, out_size - *pos, bin, bin_len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*pos += strlen(out + *pos);
	return 0;
}

int jwt_scope_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
		      s[n] == '-'))
			return 0;
	return n >= 1 && n <= JWT_SCOPE_MAX;
}

static int claims_valid(const struct jwt_claims *c)
{
	return jwt_is_hex(c->user, 24) && jwt_is_hex(c->api_secret, JWT_API_SECRET_HEX) &&
	       c->iat >= 0 && (c->scope[0] == '\0' || jwt_scope_valid(c->scope));
}

int jwt_claims_new(const char *user_id, struct jwt_claims *out)
{
	unsigned char secret[JWT_API_SECRET_HEX / 2];

	if (user_id == NULL || !jwt_is_hex(user_id, 24) || out == NULL)
		return SENSED_EINVAL;
	memcpy(out->user, user_id, 25);
	randombytes_buf(secret, sizeof secret);
	sodium_bin2hex(out->api_secret, sizeof out->api_secret, secret, sizeof secret);
	sodium_memzero(secret, sizeof secret);
	out->iat = (int64_t)time(NULL);
	out->scope[0] = '\0';
	return 0;
}

int jwt_sign(const unsigned char key[JWT_KEY_BYTES], const struct jwt_claims *claims, char *out,
             size_t out_size)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t pos = 0;
	char *payload;
	int err;

	if (key == NULL || claims == NULL || out == NULL || !claims_valid(claims))
		return SENSED_EINVAL;
	json_t *doc = json_pack("{s:s, s:s, s:I}", "user", claims->user, "apiSecret",
	                        claims->api_secret, "iat", (json_int_t)claims->iat);
	if (doc != NULL && claims->scope[0] != '\0' &&
	    json_object_set_new(doc, "scope", json_string(claims->scope)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc == NULL)
		return SENSED_ENOMEM;
	payload = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (payload == NULL)
		return SENSED_ENOMEM;

	err = append_base64(out, out_size, &pos, (const unsigned char *)jwt_header_json,
	                    strlen(jwt_header_json));
	if (err == 0 && pos + 1 < out_size)
		out[pos++] = '.';
	else if (err == 0)
		err = SENSED_ETOOLARGE;
	if (err == 0)
		err = append_base64(out, out_size, &pos, (const unsigned char *)payload,
		                    strlen(payload));
	free(payload);
	if (err != 0)
		return err;
	crypto_auth_hmacsha256(mac, (const unsigned char *)out, pos, key);
	if (pos + 1 >= out_size)
		return SENSED_ETOOLARGE;
	out[pos++] = '.';
	return append_base64(out, out_size, &pos, mac, sizeof mac);
}

/* Decode one base64url segment [start, start+len) entirely into buf; -1 unless every
 * character was consumed. */
static int decode_segment(const char *start, size_t len, unsigned char *buf, size_t buf_size,
                          size_t *bin_len)
{
	const char *end = NULL;
	if (sodium_base642bin(buf, buf_size, start, len, NULL, bin_len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	return end == start + len ? 0 : -1;
}

/* Decode one base64url segment holding a JSON object into *doc (a new reference).
 * SENSED_EINVAL when it is not one, SENSED_ENOMEM when memory ran out while parsing. */
static int decode_json_segment(const char *start, size_t len, json_t **doc)
{
	unsigned char buf[JWT_SEGMENT_MAX];
	json_error_t error;
	size_t bin_len;

	*doc = NULL;
	if (decode_segment(start, len, buf, sizeof buf, &bin_len) != 0)
		return SENSED_EINVAL;
	*doc = json_load_checked((const char *)buf, bin_len, JSON_REJECT_DUPLICATES, &error);
	if (*doc == NULL)
		return json_error_code(&error) == json_error_out_of_memory ? SENSED_ENOMEM
		                                                           : SENSED_EINVAL;
	if (!json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return SENSED_EINVAL;
	}
	return 0;
}

/* 0 for {"alg": "HS256"[, "typ": "JWT"]}, else SENSED_EINVAL or SENSED_ENOMEM. */
static int header_check(const char *start, size_t len)
{
	json_t *header;
	int err = decode_json_segment(start, len, &header);

	if (err != 0)
		return err;
	const char *alg = json_string_value(json_object_get(header, "alg"));
	json_t *typ = json_object_get(header, "typ");
	int ok =
	    alg != NULL && strcmp(alg, "HS256") == 0 &&
	    (typ == NULL || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0));
	json_decref(header);
	return ok ? 0 : SENSED_EINVAL;
}

static int payload_claims(const char *start, size_t len, struct jwt_claims *out)
{
	json_t *payload;
	int err = decode_json_segment(start, len, &payload);

	if (err != 0)
		return err;
	const char *user = json_string_value(json_object_get(payload, "user"));
	const char *secret = json_string_value(json_object_get(payload, "apiSecret"));
	json_t *iat = json_object_get(payload, "iat");
	json_t *scope = json_object_get(payload, "scope");
	err = SENSED_EINVAL;
	if (user != NULL && secret != NULL && json_is_integer(iat) && jwt_is_hex(user, 24) &&
	    jwt_is_hex(secret, JWT_API_SECRET_HEX) && json_integer_value(iat) >= 0 &&
	    (scope == NULL ||
	     (json_is_string(scope) && jwt_scope_valid(json_string_value(scope))))) {
		memcpy(out->user, user, 25);
		snprintf(out->scope, sizeof out->scope, "%s",
		         scope ? json_string_value(scope) : "");
		memcpy(out->api_secret, secret, JWT_API_SECRET_HEX + 1);
		out->iat = (int64_t)json_integer_value(iat);
		err = 0;
	}
	json_decref(payload);
	return err;
}

int jwt_verify(const unsigned char key[JWT_KEY_BYTES], const char *token, struct jwt_claims *out)
{
	unsigned char expected[crypto_auth_hmacsha256_BYTES];
	unsigned char given[crypto_auth_hmacsha256_BYTES];
	const char *dot[2];
	int dots = 0;
	size_t len, given_len;

	if (key == NULL || token == NULL || out == NULL)
		return SENSED_EINVAL;
	len = strnlen(token, JWT_MAX_LEN + 1);
	if (len > JWT_MAX_LEN)
		return SENSED_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (dots == 2)
				return SENSED_EINVAL;
			dot[dots++] = token + i;
		} else if (!is_base64url_char(token[i])) {
			return SENSED_EINVAL;
		}
	}
	if (dots != 2 || dot[0] == token || dot[1] == dot[0] + 1 || dot[1] + 1 == token + len)
		return SENSED_EINVAL;

	int err = header_check(token, (size_t)(dot[0] - token));
	if (err != 0)
		return err;
	const char *sig = dot[1] + 1;
	if (decode_segment(sig, (size_t)(token + len - sig), given, sizeof given, &given_len) !=
	        0 ||
	    given_len != sizeof given)
		return SENSED_EINVAL;
	crypto_auth_hmacsha256(expected, (const unsigned char *)token, (size_t)(dot[1] - token),
	                       key);
	if (sodium_memcmp(expected, given, sizeof given) != 0)
		return SENSED_EINVAL;
	return payload_claims(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1), out);
}
