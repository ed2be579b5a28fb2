/* GET /database/encrypt_database_password: the plaintext sealed with the installation key,
 * which this installation (and only it) opens again. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/sdkcheck", NULL};

static char *sealed(struct server *s, const char *path)
{
	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	char *text;

	cr_assert_eq(r->status, 200, "%s: %s", path, r->body);
	/* a bare JSON string (the harness parses objects and arrays only) */
	json_t *value = json_loads(r->body, JSON_DECODE_ANY, NULL);
	cr_assert(json_is_string(value), "%s", r->body);
	text = strdup(json_string_value(value));
	json_decref(value);
	response_free(r);
	return text;
}

Test(database, encrypt_database_password)
{
	struct server_options opt = {.args = args};
	struct server *s = server_start(&opt);
	char *box =
	    sealed(s, "/api/v1/database/encrypt_database_password?plaintext=S3cr%C3%A9t+pw");
	char *again =
	    sealed(s, "/api/v1/database/encrypt_database_password?plaintext=S3cr%C3%A9t+pw");
	char *alias = sealed(s, "/api/v1/app_database/encrypt_database_password?plaintext=x");
	char body[1024];
	struct response *r;

	cr_assert_null(strstr(box, "S3cr"));
	cr_assert_str_neq(box, again); /* a fresh nonce every time */
	for (const char *p = box; *p; p++)
		cr_assert(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-",
		           *p),
		    "not base64: %s", box);

	/* the installation opens it (host->secret_open, through the sdkcheck test plugin) */
	snprintf(body, sizeof(body), "{\"sealed\": \"%s\"}", box);
	r = http(s, "POST", "/api/v1/test/sdk/open", admin_token(s),
	         "Content-Type: application/json\r\n", body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "text")), "S3cr\xc3\xa9t pw");
	response_free(r);

	/* missing, empty or oversized plaintext */
	r = http(s, "GET", "/api/v1/database/encrypt_database_password", NULL, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	r = http(s, "GET", "/api/v1/database/encrypt_database_password?plaintext=", NULL, NULL,
	         NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	char path[1200];
	int n =
	    snprintf(path, sizeof(path), "/api/v1/database/encrypt_database_password?plaintext=");
	memset(path + n, 'a', 1025);
	path[n + 1025] = '\0';
	r = http(s, "GET", path, NULL, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	free(box), free(again), free(alias);
	cr_assert_eq(server_stop(s), 0);
}
