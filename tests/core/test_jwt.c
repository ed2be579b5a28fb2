#include "jwt.h"
#include "sensed/plugin.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks")
#else
#define ASSERT_NO_LEAKS() ((void)0)
#endif

static unsigned char key[JWT_KEY_BYTES];
static const char user_id[] = "5f1e2d3c4b5a69788796a5b4";

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	memset(key, 0x42, sizeof key);
}

/* A leak never fails a Criterion test by itself (dependencies.md): check after each. */
static void no_leaks(void)
{
	ASSERT_NO_LEAKS();
}

TestSuite(jwt, .init = setup, .fini = no_leaks);

static void sign_fresh(char *token, size_t size, struct jwt_claims *claims)
{
	cr_assert_eq(jwt_claims_new(user_id, claims), 0);
	cr_assert_eq(jwt_sign(key, claims, token, size), 0);
}

static char *b64(const void *bin, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(size);
	cr_assert_not_null(out);
	sodium_bin2base64(out, size, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* A token with these raw header and payload texts, correctly signed with `k`. */
static char *forge(const unsigned char *k, const char *header, const char *payload)
{
	char *h = b64(header, strlen(header));
	char *p = b64(payload, strlen(payload));
	size_t size = strlen(h) + strlen(p) + 64;
	char *out = malloc(size);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	cr_assert_not_null(out);
	snprintf(out, size, "%s.%s", h, p);
	crypto_auth_hmacsha256(mac, (const unsigned char *)out, strlen(out), k);
	char *s = b64(mac, sizeof mac);
	strcat(out, ".");
	strcat(out, s);
	free(h);
	free(p);
	free(s);
	return out;
}

static const char good_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char good_payload[] = "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":"
                                   "\"00112233445566778899aabbccddeeff00112233445566778899"
                                   "aabbccddeeff\",\"iat\":1}";

Test(jwt, sign_then_verify_round_trips)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims, got;
	sign_fresh(token, sizeof token, &claims);
	cr_assert_eq(jwt_verify(key, token, &got), 0);
	cr_assert_str_eq(got.user, user_id);
	cr_assert_str_eq(got.api_secret, claims.api_secret);
	cr_assert_eq(got.iat, claims.iat);
}

Test(jwt, scope_round_trips_and_ordinary_tokens_have_none)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims, got;

	sign_fresh(token, sizeof token, &claims);
	cr_assert_eq(jwt_verify(key, token, &got), 0);
	cr_assert_str_eq(got.scope, "");

	cr_assert_eq(jwt_claims_new(user_id, &claims), 0);
	strcpy(claims.scope, "analytics");
	cr_assert_eq(jwt_sign(key, &claims, token, sizeof token), 0);
	cr_assert_eq(jwt_verify(key, token, &got), 0);
	cr_assert_str_eq(got.scope, "analytics");

	strcpy(claims.scope, "no spaces");
	cr_assert_eq(jwt_sign(key, &claims, token, sizeof token), SENSED_EINVAL);
}

Test(jwt, layout_is_the_real_apis)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims;
	sign_fresh(token, sizeof token, &claims);
	/* header is exactly base64url({"alg":"HS256","typ":"JWT"}), no padding anywhere */
	cr_assert(strncmp(token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0, "%s", token);
	cr_assert_null(strchr(token, '='));
	const char *p = token + 37;
	const char *dot = strchr(p, '.');
	cr_assert_not_null(dot);
	unsigned char buf[512];
	size_t n;
	cr_assert_eq(sodium_base642bin(buf, sizeof buf, p, (size_t)(dot - p), NULL, &n, NULL,
	                               sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	             0);
	json_t *payload = json_loadb((const char *)buf, n, 0, NULL);
	cr_assert_not_null(payload);
	cr_assert_str_eq(json_string_value(json_object_get(payload, "user")), user_id);
	cr_assert_str_eq(json_string_value(json_object_get(payload, "apiSecret")),
	                 claims.api_secret);
	cr_assert(json_is_integer(json_object_get(payload, "iat")));
	json_decref(payload);
}

Test(jwt, fresh_claims_are_random)
{
	struct jwt_claims a, b;
	cr_assert_eq(jwt_claims_new(user_id, &a), 0);
	cr_assert_eq(jwt_claims_new(user_id, &b), 0);
	cr_assert_str_neq(a.api_secret, b.api_secret);
	cr_assert(jwt_is_hex(a.api_secret, JWT_API_SECRET_HEX));
	cr_assert_eq(jwt_claims_new("not-an-id", &a), SENSED_EINVAL);
	cr_assert_eq(jwt_claims_new(NULL, &a), SENSED_EINVAL);
}

Test(jwt, forged_with_our_key_verifies)
{
	char *token = forge(key, good_header, good_payload);
	struct jwt_claims got;
	cr_assert_eq(jwt_verify(key, token, &got), 0);
	cr_assert_eq(got.iat, 1);
	free(token);
}

Test(jwt, tokens_do_not_expire)
{
	/* iat = 1 (1970) still verifies: tokens end only by revocation */
	char *token = forge(key, good_header, good_payload);
	struct jwt_claims got;
	cr_assert_eq(jwt_verify(key, token, &got), 0);
	free(token);
}

Test(jwt, flipping_any_character_is_rejected)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims, got;
	sign_fresh(token, sizeof token, &claims);
	size_t len = strlen(token);
	for (size_t i = 0; i < len; i++) {
		char saved = token[i];
		if (saved == '.')
			continue;
		token[i] = saved == 'A' ? 'B' : 'A';
		cr_expect_eq(jwt_verify(key, token, &got), SENSED_EINVAL, "accepted with byte %zu",
		             i);
		token[i] = saved;
	}
	cr_assert_eq(jwt_verify(key, token, &got), 0);
}

Test(jwt, tampered_payload_with_old_signature_is_rejected)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims, got;
	sign_fresh(token, sizeof token, &claims);
	char *other = forge(key, good_header, good_payload);
	/* header and signature of `token`, payload of `other` */
	char spliced[2 * JWT_MAX_LEN];
	const char *p1 = strchr(token, '.');
	const char *s1 = strrchr(token, '.');
	const char *p2 = strchr(other, '.');
	const char *s2 = strrchr(other, '.');
	snprintf(spliced, sizeof spliced, "%.*s%.*s%s", (int)(p1 - token), token, (int)(s2 - p2),
	         p2, s1);
	cr_assert_eq(jwt_verify(key, spliced, &got), SENSED_EINVAL);
	free(other);
}

Test(jwt, other_key_is_rejected)
{
	unsigned char other[JWT_KEY_BYTES];
	memset(other, 0x43, sizeof other);
	char *token = forge(other, good_header, good_payload);
	struct jwt_claims got;
	cr_assert_eq(jwt_verify(key, token, &got), SENSED_EINVAL);
	free(token);
}

Test(jwt, alg_none_is_rejected)
{
	struct jwt_claims got;
	char *h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", 27);
	char *p = b64(good_payload, strlen(good_payload));
	char token[JWT_MAX_LEN * 2];
	snprintf(token, sizeof token, "%s.%s.", h, p);
	cr_assert_eq(jwt_verify(key, token, &got), SENSED_EINVAL);
	snprintf(token, sizeof token, "%s.%s", h, p);
	cr_assert_eq(jwt_verify(key, token, &got), SENSED_EINVAL);
	free(h);
	free(p);
	/* even correctly signed, a header naming another alg is refused */
	char *t = forge(key, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
	t = forge(key, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_payload);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
	t = forge(key, "{\"typ\":\"JWT\"}", good_payload);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
	t = forge(key, "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_payload);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
	t = forge(key, "[\"HS256\"]", good_payload);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
}

Test(jwt, malformed_payloads_are_rejected_even_when_signed)
{
	static const char *payloads[] = {
	    "{\"user\":\"5F1E2D3C4B5A69788796A5B4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":1}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"short\",\"iat\":1}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\"}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":-5}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":\"1\"}",
	    "{\"user\":7,\"apiSecret\":\"00112233445566778899aabbccddeeff00112233445566778899aa"
	    "bbccddeeff\",\"iat\":1}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"user\":\"5f1e2d3c4b5a69788796a5b5\",\"apiS"
	    "ecret\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"iat"
	    "\":1}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":1,\"scope\":\"Bad Scope\"}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":1,\"scope\":3}",
	    "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aabbccdde"
	    "eff00112233445566778899aabbccddeeff\",\"iat\":1,\"scope\":\"\"}",
	    "not json",
	    "[1,2]",
	};
	struct jwt_claims got;
	for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		char *t = forge(key, good_header, payloads[i]);
		cr_expect_eq(jwt_verify(key, t, &got), SENSED_EINVAL, "accepted payload %zu", i);
		free(t);
	}
}

Test(jwt, bad_framing_and_base64_are_rejected)
{
	char token[JWT_MAX_LEN + 1];
	struct jwt_claims claims, got;
	sign_fresh(token, sizeof token, &claims);
	const char *s = strrchr(token, '.');
	const char *p = strchr(token, '.');
	char buf[4 * JWT_MAX_LEN];
	const char *cases[16];
	size_t n = 0;
	cases[n++] = "";
	cases[n++] = ".";
	cases[n++] = "..";
	cases[n++] = "a.b";
	cases[n++] = "a.b.c.d";
	cases[n++] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..";
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(jwt_verify(key, cases[i], &got), SENSED_EINVAL, "case %zu", i);

	/* padding, standard-alphabet characters, spaces, an extra segment */
	snprintf(buf, sizeof buf, "%s=", token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	snprintf(buf, sizeof buf, "%s ", token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	snprintf(buf, sizeof buf, " %s", token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	snprintf(buf, sizeof buf, "%s.", token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	snprintf(buf, sizeof buf, "%.*s+%s", (int)(p - token), token, p + 1);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	/* signature truncated / extended by one character */
	snprintf(buf, sizeof buf, "%.*s", (int)strlen(token) - 1, token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	snprintf(buf, sizeof buf, "%sA", token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	/* empty signature */
	snprintf(buf, sizeof buf, "%.*s.", (int)(s - token), token);
	cr_expect_eq(jwt_verify(key, buf, &got), SENSED_EINVAL);
	cr_expect_eq(jwt_verify(key, NULL, &got), SENSED_EINVAL);
	cr_assert_eq(jwt_verify(key, token, &got), 0);
}

Test(jwt, huge_tokens_are_rejected_without_decoding)
{
	size_t size = 1 << 20;
	char *huge = malloc(size + 1);
	cr_assert_not_null(huge);
	memset(huge, 'A', size);
	huge[size] = '\0';
	huge[100] = '.';
	huge[200] = '.';
	struct jwt_claims got;
	cr_assert_eq(jwt_verify(key, huge, &got), SENSED_EINVAL);
	free(huge);
	/* a validly signed token whose payload is padded past the bound */
	char payload[JWT_MAX_LEN + 64];
	snprintf(payload, sizeof payload,
	         "{\"user\":\"5f1e2d3c4b5a69788796a5b4\",\"apiSecret\":\"00112233445566778899aab"
	         "bccddeeff00112233445566778899aabbccddeeff\",\"iat\":1,\"x\":\"%0*d\"}",
	         JWT_MAX_LEN - 140, 0);
	char *t = forge(key, good_header, payload);
	cr_assert_gt(strlen(t), JWT_MAX_LEN);
	cr_assert_eq(jwt_verify(key, t, &got), SENSED_EINVAL);
	free(t);
}

Test(jwt, sign_refuses_bad_claims_and_small_buffers)
{
	struct jwt_claims c;
	char token[JWT_MAX_LEN + 1];
	cr_assert_eq(jwt_claims_new(user_id, &c), 0);
	cr_assert_eq(jwt_sign(key, &c, token, 40), SENSED_ETOOLARGE);
	cr_assert_eq(jwt_sign(key, &c, token, 100), SENSED_ETOOLARGE);
	struct jwt_claims bad = c;
	strcpy(bad.user, "xyz");
	cr_assert_eq(jwt_sign(key, &bad, token, sizeof token), SENSED_EINVAL);
	bad = c;
	bad.api_secret[3] = 'G';
	cr_assert_eq(jwt_sign(key, &bad, token, sizeof token), SENSED_EINVAL);
	bad = c;
	bad.iat = -1;
	cr_assert_eq(jwt_sign(key, &bad, token, sizeof token), SENSED_EINVAL);
	cr_assert_eq(jwt_sign(key, &c, token, sizeof token), 0);
	cr_assert_lt(strlen(token), JWT_MAX_LEN);
}

Test(jwt, is_hex_checks_exact_length_and_case)
{
	cr_assert(jwt_is_hex("00ff", 4));
	cr_assert_not(jwt_is_hex("00FF", 4));
	cr_assert_not(jwt_is_hex("00ff0", 4));
	cr_assert_not(jwt_is_hex("00f", 4));
	cr_assert_not(jwt_is_hex(NULL, 4));
}
