/* Fuzz JWT parsing (jwt_verify) with a fixed key, two ways: the input as a whole token
 * (framing, base64, header, MAC), and -- first byte '#' -- the rest as header and payload
 * JSON (split at the first newline) signed with the key, so the claim parser behind the
 * MAC check sees arbitrary JSON.  A token that verifies must carry well-formed claims,
 * and re-signing them must verify again. */
#include "jwt.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char key[JWT_KEY_BYTES] = "sensed-fuzz-key-0123456789abcdef";

/* base64url(bytes) at out + *pos; 0 when it did not fit. */
static int put_b64(char *out, size_t size, size_t *pos, const void *bytes, size_t len)
{
	size_t need = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if (*pos + need + 1 > size)
		return 0;
	sodium_bin2base64(out + *pos, size - *pos, bytes, len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*pos += strlen(out + *pos);
	return 1;
}

/* "<header>\n<payload>" -> a token signed with `key`; NULL when too long. */
static char *sign_raw(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t header_len = nl ? (size_t)(nl - data) : 0, pos = 0, cap = 4 * size + 128;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char *out = malloc(cap);

	if (!out)
		return NULL;
	if (!nl) {
		static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
		put_b64(out, cap, &pos, header, sizeof(header) - 1);
	} else {
		put_b64(out, cap, &pos, data, header_len);
		data += header_len + 1;
		size -= header_len + 1;
	}
	out[pos++] = '.';
	put_b64(out, cap, &pos, data, size);
	crypto_auth_hmacsha256(mac, (const unsigned char *)out, pos, key);
	out[pos++] = '.';
	put_b64(out, cap, &pos, mac, sizeof(mac));
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims claims, again;
	char signed_token[JWT_MAX_LEN + 1];
	char *token;

	if (size > 4096)
		return 0;
	if (size > 0 && data[0] == '#') {
		token = sign_raw(data + 1, size - 1);
	} else {
		token = malloc(size + 1);
		if (token) {
			memcpy(token, data, size);
			token[size] = '\0';
		}
	}
	if (!token)
		return 0;
	if (jwt_verify(key, token, &claims) == 0) {
		if (!jwt_is_hex(claims.user, 24) ||
		    !jwt_is_hex(claims.api_secret, JWT_API_SECRET_HEX) || claims.iat < 0)
			abort();
		if (jwt_sign(key, &claims, signed_token, sizeof(signed_token)) != 0 ||
		    jwt_verify(key, signed_token, &again) != 0 || strcmp(again.user, claims.user))
			abort();
	}
	free(token);
	return 0;
}
