/* Authentication end to end: login (JSON and form), tokens on protected routes, logout
 * and revocation across workers, admin revocation, roles, lockout, throttling, the first
 * super user, and that no response ever carries a password hash. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOGIN          "/api/v1/authentication/login"
#define LOGOUT         "/api/v1/authentication/logout"
#define LOGOUT_ALL     "/api/v1/authentication/logout_all"
#define ADMIN_LOGOUT   "/api/v1/authentication/admin/logout"
#define ADMIN_TOKENS   "/api/v1/authentication/admin/tokens/"
#define ADMIN_EMAIL    "admin@sensed.test"
#define ADMIN_PASSWORD "Admin-Passw0rd!"
/* A 24-hex id no user has: admin/logout ignores it, so it probes a token harmlessly. */
#define NOBODY "0123456789abcdef01234567"
#define PROBE  ADMIN_LOGOUT "?users=" NOBODY

static const char *const authkit_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit", NULL};

static struct server *start(const char *extra_config)
{
	struct server_options opt = {
	    .extra_config = extra_config ? extra_config : "{\"loginRatePerMinute\": 100000}",
	    .args = authkit_args,
	    .workers = 2,
	};
	return server_start(&opt);
}

/* Every response of this suite (harness_screen): none may leak a hash or the JWT secret. */
static void no_secret(const struct response *r)
{
	cr_assert_null(strstr(r->body, "$argon2"), "hash in a response: %s", r->body);
	cr_assert_null(strstr(r->body, "jwtSecret"), "secret in a response: %s", r->body);
}

static void screen_responses(void)
{
	harness_screen(no_secret);
}

TestSuite(auth, .init = screen_responses);

static struct response *login_json(struct server *s, const char *username, const char *password)
{
	json_t *body = json_pack("{s:s, s:s}", "username", username, "password", password);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct response *r = http(s, "POST", LOGIN, NULL, NULL, text);
	free(text);
	return r;
}

static char *token_of(struct response *r)
{
	cr_assert_eq(r->status, 200, "login: %d %s", r->status, r->body);
	const char *t = json_string_value(json_object_get(r->json, "access_token"));
	cr_assert_not_null(t, "no access_token: %s", r->body);
	char *copy = strdup(t);
	response_free(r);
	return copy;
}

static char *login_ok(struct server *s, const char *username, const char *password)
{
	return token_of(login_json(s, username, password));
}

static char *path_with_users(const char *base, const char *users)
{
	size_t size = strlen(base) + strlen(users) + 16;
	char *p = malloc(size);
	cr_assert_not_null(p);
	snprintf(p, size, "%s?users=%s", base, users);
	return p;
}

Test(auth, login_json_returns_token_and_profile)
{
	struct server *s = start(NULL);
	struct response *r = login_json(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_true(json_object_get(r->json, "success")));
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "message")), "");
	const char *token = json_string_value(json_object_get(r->json, "access_token"));
	cr_assert_not_null(token);
	cr_assert_eq(strncmp(token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0, "%s", token);
	json_t *profile = json_object_get(r->json, "profile");
	cr_assert(json_is_object(profile));
	const char *user_id = json_string_value(json_object_get(r->json, "userId"));
	cr_assert_not_null(user_id);
	cr_assert_str_eq(json_string_value(json_object_get(profile, "_id")), user_id);
	cr_assert_str_eq(json_string_value(json_object_get(profile, "email")), ADMIN_EMAIL);
	cr_assert_str_eq(json_string_value(json_object_get(profile, "userName")), ADMIN_EMAIL);
	cr_assert(json_is_string(json_object_get(profile, "roleId")));
	cr_assert(json_is_array(json_object_get(profile, "groups")));
	const char *last_login = json_string_value(json_object_get(profile, "lastLogin"));
	cr_assert(last_login != NULL && strlen(last_login) == 24 && last_login[23] == 'Z',
	          "lastLogin: %s", r->body);
	cr_assert_null(json_object_get(profile, "hash"));
	cr_assert_null(json_object_get(profile, "password"));
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, login_form_urlencoded_and_case_insensitive_name)
{
	struct server *s = start(NULL);
	struct response *r =
	    http(s, "POST", LOGIN, NULL, "Content-Type: application/x-www-form-urlencoded\r\n",
	         "username=Admin%40Sensed.TEST&password=Admin-Passw0rd%21&localeId=en-US");
	char *token = token_of(r);
	cr_assert_eq(http_status(s, "GET", PROBE, token, NULL), 204);
	free(token);
	/* the form content type with a charset parameter */
	r = http(s, "POST", LOGIN, NULL,
	         "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n",
	         "password=Admin-Passw0rd!&username=ADMIN@SENSED.TEST");
	free(token_of(r));
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, bad_credentials_are_one_indistinguishable_401)
{
	struct server *s = start(NULL);
	struct response *wrong = login_json(s, ADMIN_EMAIL, "not-the-password");
	assert_error(wrong, 401, 1101);
	struct response *unknown = login_json(s, "nobody@sensed.test", ADMIN_PASSWORD);
	assert_error(unknown, 401, 1101);
	cr_assert_str_eq(wrong->body, unknown->body);
	cr_assert_null(json_object_get(wrong->json, "access_token"));
	response_free(wrong);
	response_free(unknown);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, missing_fields_are_400)
{
	struct server *s = start(NULL);
	static const char *const bodies[] = {
	    "{}",
	    "{\"username\": \"admin@sensed.test\"}",
	    "{\"password\": \"x\"}",
	    "{\"username\": \"\", \"password\": \"x\"}",
	    "{\"username\": 5, \"password\": \"x\"}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct response *r = http(s, "POST", LOGIN, NULL, NULL, bodies[i]);
		cr_expect_eq(r->status, 400, "%s -> %d %s", bodies[i], r->status, r->body);
		cr_expect(json_is_object(json_object_get(r->json, "error")), "%s", r->body);
		response_free(r);
	}
	struct response *r = http(s, "POST", LOGIN, NULL, NULL, "{\"username\": ");
	cr_assert_eq(r->status, 400, "%s", r->body);
	response_free(r);
	r = http(s, "POST", LOGIN, NULL, "Content-Type: application/x-www-form-urlencoded\r\n",
	         "username=admin%40sensed.test");
	assert_error(r, 400, 1008);
	response_free(r);
	r = http(s, "POST", LOGIN, NULL, NULL, NULL);
	cr_assert_eq(r->status, 400, "%s", r->body);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, token_opens_protected_routes_and_only_a_valid_one)
{
	struct server *s = start(NULL);
	char *token = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	char header[1024];

	struct response *r = http(s, "GET", PROBE, NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	cr_assert_eq(http_status(s, "GET", PROBE, token, NULL), 204);

	snprintf(header, sizeof header, "authorization: Bearer %s\r\n", token);
	r = http(s, "GET", PROBE, NULL, header, NULL);
	cr_assert_eq(r->status, 204, "lower-case header: %d %s", r->status, r->body);
	response_free(r);
	snprintf(header, sizeof header, "Authorization: bearer %s\r\n", token);
	r = http(s, "GET", PROBE, NULL, header, NULL);
	cr_assert_eq(r->status, 204, "lower-case scheme: %d %s", r->status, r->body);
	response_free(r);

	static const char *const bad_forms[] = {"Bearer  %s", "Basic %s", "%s", "Bearer"};
	for (size_t i = 0; i < sizeof bad_forms / sizeof bad_forms[0]; i++) {
		char value[900];
		snprintf(value, sizeof value, bad_forms[i], token);
		snprintf(header, sizeof header, "Authorization: %s\r\n", value);
		r = http(s, "GET", PROBE, NULL, header, NULL);
		assert_error(r, 401, 1100);
		response_free(r);
	}

	/* tamper with the payload, the signature, and forge alg "none" */
	char *tampered = strdup(token);
	char *payload = strchr(tampered, '.') + 1;
	payload[3] = payload[3] == 'A' ? 'B' : 'A';
	cr_assert_eq(http_status(s, "GET", PROBE, tampered, NULL), 401);
	strcpy(tampered, token);
	char *sig = strrchr(tampered, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	cr_assert_eq(http_status(s, "GET", PROBE, tampered, NULL), 401);
	strcpy(tampered, token);
	/* {"alg":"none","typ":"JWT"} with the real payload and no signature */
	char none[1024];
	const char *dot = strchr(token, '.');
	const char *last = strrchr(token, '.');
	snprintf(none, sizeof none, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.", (int)(last - dot),
	         dot);
	cr_assert_eq(http_status(s, "GET", PROBE, none, NULL), 401);
	cr_assert_eq(http_status(s, "GET", PROBE, "x.y.z", NULL), 401);
	free(tampered);

	cr_assert_eq(http_status(s, "GET", PROBE, token, NULL), 204);
	free(token);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, logout_revokes_this_token_at_once_on_every_worker)
{
	struct server *s = start(NULL);
	char *token = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	char *other = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	cr_assert_str_neq(token, other);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(http_status(s, "GET", PROBE, token, NULL), 204);
	struct response *r = http(s, "GET", LOGOUT "?collection=x", token, NULL, NULL);
	cr_assert_eq(r->status, 204, "%d %s", r->status, r->body);
	cr_assert_eq(r->body_len, 0);
	response_free(r);
	/* fresh connections land on both workers */
	for (int i = 0; i < 8; i++) {
		r = http(s, "GET", PROBE, token, NULL, NULL);
		assert_error(r, 401, 1100);
		response_free(r);
	}
	cr_assert_eq(http_status(s, "GET", LOGOUT, token, NULL), 401);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(http_status(s, "GET", PROBE, other, NULL), 204,
		             "the other token died");
	free(token);
	free(other);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, logout_all_revokes_every_token_of_the_caller)
{
	struct server *s = start(NULL);
	free(authkit_create_user(s, "c@sensed.test", "carol", "consumer", "Carol-pass-1"));
	char *a = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	char *b = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	char *carol = login_ok(s, "carol", "Carol-pass-1");
	cr_assert_eq(http_status(s, "GET", LOGOUT_ALL, a, NULL), 204);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(http_status(s, "GET", PROBE, a, NULL), 401);
		cr_assert_eq(http_status(s, "GET", PROBE, b, NULL), 401);
	}
	/* another user's tokens survive */
	cr_assert_eq(http_status(s, "GET", LOGOUT, carol, NULL), 204);
	char *again = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	cr_assert_eq(http_status(s, "GET", PROBE, again, NULL), 204);
	free(a);
	free(b);
	free(carol);
	free(again);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, admin_logout_revokes_listed_users_and_consumers_get_403)
{
	struct server *s = start(NULL);
	char *carol_id =
	    authkit_create_user(s, "carol@sensed.test", "carol", "consumer", "Carol-pass-1");
	char *dave_id =
	    authkit_create_user(s, "dave@sensed.test", "dave", "contributor", "Dave-pass-1");
	char *carol = login_ok(s, "carol@sensed.test", "Carol-pass-1");
	char *dave = login_ok(s, "DAVE", "Dave-pass-1");
	const char *admin = admin_token(s);

	struct response *r = http(s, "GET", PROBE, carol, NULL, NULL);
	assert_error(r, 403, 1009);
	response_free(r);
	char *tokens_path = path_with_users(ADMIN_TOKENS "api", carol_id);
	r = http(s, "DELETE", tokens_path, dave, NULL, NULL);
	assert_error(r, 403, 1009);
	response_free(r);

	r = http(s, "GET", ADMIN_LOGOUT, admin, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);

	char users[128];
	snprintf(users, sizeof users, "%s,%s", carol_id, NOBODY);
	char *path = path_with_users(ADMIN_LOGOUT, users);
	cr_assert_eq(http_status(s, "GET", path, admin, NULL), 204);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(http_status(s, "GET", LOGOUT, carol, NULL), 401);
	/* dave was not listed */
	cr_assert_eq(http_status(s, "GET", LOGOUT, dave, NULL), 204);
	cr_assert_eq(http_status(s, "GET", PROBE, admin, NULL), 204);
	free(path);
	free(tokens_path);
	free(carol);
	free(dave);
	free(carol_id);
	free(dave_id);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, admin_tokens_api_keeps_device_tokens)
{
	struct server *s = start(NULL);
	char *id = authkit_create_user(s, "erin@sensed.test", "erin", "contributor", "Erin-pass-1");
	char *api = login_ok(s, "erin", "Erin-pass-1");
	struct response *r = http(s, "POST", LOGIN, NULL, "X-Device-Id: phone-1\r\n",
	                          "{\"username\": \"erin\", \"password\": \"Erin-pass-1\"}");
	char *device = token_of(r);
	const char *admin = admin_token(s);

	char *bad_type = path_with_users(ADMIN_TOKENS "device", id);
	r = http(s, "DELETE", bad_type, admin, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);
	r = http(s, "DELETE", ADMIN_TOKENS "api", admin, NULL, NULL);
	assert_error(r, 400, 1008);
	response_free(r);

	char *path = path_with_users(ADMIN_TOKENS "api", id);
	cr_assert_eq(http_status(s, "DELETE", path, admin, NULL), 204);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(http_status(s, "GET", LOGOUT_ALL "?probe", api, NULL), 401);
	}
	/* the device token still works (logout_all is a consumer route; use it last) */
	cr_assert_eq(http_status(s, "GET", LOGOUT_ALL, device, NULL), 204);
	cr_assert_eq(http_status(s, "GET", LOGOUT_ALL, device, NULL), 401);
	free(bad_type);
	free(path);
	free(api);
	free(device);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, inactive_users_lose_their_tokens_and_cannot_log_in)
{
	struct server *s = start(NULL);
	char *id = authkit_create_user(s, "fay@sensed.test", "fay", "consumer", "Fay-pass-1");
	char *token = login_ok(s, "fay", "Fay-pass-1");
	cr_assert_eq(http_status(s, "GET", LOGOUT, token, NULL), 204);
	char *again = login_ok(s, "fay", "Fay-pass-1");
	char path[128];
	snprintf(path, sizeof path, "/api/v1/test/authkit/users/%s/deactivate", id);
	cr_assert_eq(http_status(s, "POST", path, NULL, NULL), 204);
	cr_assert_eq(http_status(s, "GET", LOGOUT, again, NULL), 401);
	struct response *r = login_json(s, "fay", "Fay-pass-1");
	assert_error(r, 401, 1101);
	response_free(r);
	free(id);
	free(token);
	free(again);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, sdk_password_verify_and_revoke_user)
{
	struct server *s = start(NULL);
	char *id = authkit_create_user(s, "gus@sensed.test", "gus", "consumer", "Gus-pass-1");
	char body[256];
	struct {
		const char *id;
		const char *password;
		int result;
	} cases[] = {{id, "Gus-pass-1", 0}, {id, "wrong", -2}, {NOBODY, "Gus-pass-1", -3}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(body, sizeof body, "{\"id\": \"%s\", \"password\": \"%s\"}", cases[i].id,
		         cases[i].password);
		struct response *r =
		    http(s, "POST", "/api/v1/test/authkit/verify", NULL, NULL, body);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(json_integer_value(json_object_get(r->json, "result")),
		             cases[i].result, "case %zu: %s", i, r->body);
		response_free(r);
	}
	char *a = login_ok(s, "gus", "Gus-pass-1");
	char *b = login_ok(s, "gus@sensed.test", "Gus-pass-1");
	char path[128];
	snprintf(path, sizeof path, "/api/v1/test/authkit/users/%s/revoke", id);
	cr_assert_eq(http_status(s, "POST", path, NULL, NULL), 204);
	cr_assert_eq(http_status(s, "GET", LOGOUT, a, NULL), 401);
	cr_assert_eq(http_status(s, "GET", LOGOUT, b, NULL), 401);
	free(a);
	free(b);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, lockout_after_max_failures_even_with_the_right_password)
{
	struct server *s = start("{\"loginMaxFailures\": 3, \"loginLockSeconds\": 60, "
	                         "\"loginRatePerMinute\": 100000}");
	free(authkit_create_user(s, "hal@sensed.test", "hal", "consumer", "Hal-pass-1"));
	for (int i = 0; i < 3; i++) {
		struct response *r = login_json(s, "hal", "wrong");
		assert_error(r, 401, 1101);
		response_free(r);
	}
	struct response *r = login_json(s, "hal", "Hal-pass-1");
	assert_error(r, 401, 1102);
	response_free(r);
	r = login_json(s, "HAL@sensed.test", "wrong");
	assert_error(r, 401, 1102);
	response_free(r);
	/* other accounts are not affected */
	char *admin = login_ok(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	free(admin);
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, success_resets_the_failure_count_and_locks_expire)
{
	struct server *s = start("{\"loginMaxFailures\": 3, \"loginLockSeconds\": 1, "
	                         "\"loginRatePerMinute\": 100000}");
	free(authkit_create_user(s, "ivy@sensed.test", "ivy", "consumer", "Ivy-pass-1"));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2; i++) {
			struct response *r = login_json(s, "ivy", "wrong");
			assert_error(r, 401, 1101);
			response_free(r);
		}
		free(login_ok(s, "ivy", "Ivy-pass-1"));
	}
	for (int i = 0; i < 3; i++)
		response_free(login_json(s, "ivy", "wrong"));
	struct response *r = login_json(s, "ivy", "Ivy-pass-1");
	assert_error(r, 401, 1102);
	response_free(r);
	usleep(1300 * 1000);
	free(login_ok(s, "ivy", "Ivy-pass-1"));
	cr_assert_eq(server_stop(s), 0);
}

Test(auth, login_attempts_are_throttled_per_address)
{
	struct server *s = start("{\"loginRatePerMinute\": 3}");
	for (int i = 0; i < 3; i++) {
		struct response *r = login_json(s, "nobody", "x");
		assert_error(r, 401, 1101);
		response_free(r);
	}
	struct response *r = login_json(s, ADMIN_EMAIL, ADMIN_PASSWORD);
	assert_error(r, 429, 1103);
	const char *retry = response_header(r, "Retry-After");
	cr_assert_not_null(retry);
	cr_assert(atoi(retry) >= 1 && atoi(retry) <= 60, "Retry-After: %s", retry);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

static char *make_data_dir(void)
{
	char *dir = strdup("/tmp/sensed-auth-data-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

static void remove_data_dir(char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	free(dir);
}

Test(auth, first_start_uses_the_environment_and_says_nothing_secret)
{
	char *dir = make_data_dir();
	struct server_options opt = {.data_dir = dir,
	                             .admin_email = "Boss@Sensed.Test",
	                             .admin_password = "Boss-pass-1",
	                             .extra_config = "{\"loginRatePerMinute\": 100000}"};
	struct server *s = server_start(&opt);
	cr_assert_null(strstr(server_output(s), "with password"), "%s", server_output(s));
	cr_assert_null(strstr(server_output(s), "Boss-pass-1"));
	free(login_ok(s, "boss@sensed.test", "Boss-pass-1"));
	cr_assert_eq(server_stop(s), 0);

	/* a later start with other variables creates nobody */
	opt.admin_email = "other@sensed.test";
	opt.admin_password = "Other-pass-1";
	s = server_start(&opt);
	cr_assert_null(strstr(server_output(s), "created super user"), "%s", server_output(s));
	struct response *r = login_json(s, "other@sensed.test", "Other-pass-1");
	assert_error(r, 401, 1101);
	response_free(r);
	free(login_ok(s, "Boss@sensed.test", "Boss-pass-1"));
	cr_assert_eq(server_stop(s), 0);
	remove_data_dir(dir);
}

Test(auth, first_start_without_a_password_prints_a_generated_one_once)
{
	char *dir = make_data_dir();
	struct server_options opt = {.data_dir = dir,
	                             .admin_email = "",
	                             .admin_password = "",
	                             .extra_config = "{\"loginRatePerMinute\": 100000}"};
	struct server *s = server_start(&opt);
	const char *prefix = "sensed: created super user admin@localhost with password ";
	const char *line = strstr(server_output(s), prefix);
	cr_assert_not_null(line, "%s", server_output(s));
	char password[128];
	cr_assert_eq(sscanf(line + strlen(prefix), "%127s", password), 1);
	cr_assert_geq(strlen(password), 16);
	cr_assert_null(strstr(line + strlen(prefix), prefix), "printed twice");
	free(login_ok(s, "admin@localhost", password));
	cr_assert_eq(server_stop(s), 0);

	s = server_start(&opt);
	cr_assert_null(strstr(server_output(s), "with password"), "%s", server_output(s));
	free(login_ok(s, "admin@localhost", password));
	cr_assert_eq(server_stop(s), 0);
	remove_data_dir(dir);
}
