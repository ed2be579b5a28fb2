/* SDK members of ABI 1.2 with no endpoint of their own yet, driven through the sdkcheck
 * test plugin: scoped tokens, sealed secrets, the route table. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plugin_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/sdkcheck", NULL};

static struct server *start(const char *data_dir)
{
	struct server_options opt = {.args = plugin_args, .data_dir = data_dir};

	return server_start(&opt);
}

static int status_of(struct server *s, const char *method, const char *path, const char *token)
{
	struct response *r = http(s, method, path, token, NULL, NULL);
	int status = r->status;

	response_free(r);
	return status;
}

static char *scoped_token(struct server *s, const char *token)
{
	struct response *r = http(s, "GET", "/api/v1/test/sdk/scoped-token", token, NULL, NULL);
	char *scoped;

	cr_assert_eq(r->status, 200, "%s", r->body);
	scoped = strdup(json_string_value(json_object_get(r->json, "token")));
	response_free(r);
	return scoped;
}

Test(sdk, scoped_tokens_open_only_their_routes)
{
	struct server *s = start(NULL);
	const char *admin = admin_token(s);
	char *scoped = scoped_token(s, admin);
	struct response *r;

	r = http(s, "GET", "/api/v1/test/sdk/scoped", scoped, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "role")), 6 /* super */);
	cr_assert_eq(strlen(json_string_value(json_object_get(r->json, "user"))), 24);
	response_free(r);

	/* an ordinary token does not open a scoped route ... */
	r = http(s, "GET", "/api/v1/test/sdk/scoped", admin, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/scoped", NULL), 401);
	/* ... and a scoped token opens no ordinary route */
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/routes", scoped), 401);
	cr_assert_eq(status_of(s, "GET", "/api/v1/authentication/logout", scoped), 401);

	/* revoking the scope leaves the ordinary token working */
	cr_assert_eq(status_of(s, "POST", "/api/v1/test/sdk/scoped-token/revoke", admin), 204);
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/scoped", scoped), 401);
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/routes", admin), 200);

	/* logout_all revokes scoped tokens too */
	free(scoped);
	scoped = scoped_token(s, admin);
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/scoped", scoped), 200);
	cr_assert_eq(status_of(s, "GET", "/api/v1/authentication/logout_all", admin), 204);
	cr_assert_eq(status_of(s, "GET", "/api/v1/test/sdk/scoped", scoped), 401);
	free(scoped);
	cr_assert_eq(server_stop(s), 0);
}

static json_t *post(struct server *s, const char *path, const char *body, int expect)
{
	struct response *r =
	    http(s, "POST", path, admin_token(s), "Content-Type: application/json\r\n", body);
	json_t *json = json_incref(r->json);

	cr_assert_eq(r->status, expect, "%s %s: %s", path, body, r->body);
	response_free(r);
	return json;
}

Test(sdk, secrets_seal_and_open_across_restarts)
{
	struct server *s = start(NULL);
	char body[1024];
	json_t *sealed, *opened;
	const char *box;

	sealed = post(s, "/api/v1/test/sdk/seal", "{\"text\": \"p4ssw\\u00f6rd\"}", 200);
	box = json_string_value(json_object_get(sealed, "sealed"));
	cr_assert_not_null(box);
	cr_assert_null(strstr(box, "p4ssw"));
	snprintf(body, sizeof(body), "{\"sealed\": \"%s\"}", box);
	opened = post(s, "/api/v1/test/sdk/open", body, 200);
	cr_assert_str_eq(json_string_value(json_object_get(opened, "text")), "p4ssw\xc3\xb6rd");
	json_decref(opened);

	/* sealing twice gives two different boxes (fresh nonce) */
	json_t *again = post(s, "/api/v1/test/sdk/seal", "{\"text\": \"p4ssw\\u00f6rd\"}", 200);
	cr_assert_str_neq(json_string_value(json_object_get(again, "sealed")), box);
	json_decref(again);

	/* anything tampered or foreign is refused */
	json_decref(post(s, "/api/v1/test/sdk/open", "{\"sealed\": \"bm90IGEgYm94\"}", 400));
	json_decref(post(s, "/api/v1/test/sdk/open", "{\"sealed\": \"%%%\"}", 400));
	char tampered[1024];
	snprintf(tampered, sizeof(tampered), "%s", body);
	char *mid = strstr(tampered, "\"sealed\": \"") + 11 + 20;
	*mid = *mid == 'A' ? 'B' : 'A';
	json_decref(post(s, "/api/v1/test/sdk/open", tampered, 400));

	/* the key is the installation's: a restart opens the same box (the copy is taken
	 * while the server is idle; stopping removes its directory) */
	char copy[] = "/tmp/sensed-sdk-copy-XXXXXX", cmd[1400];
	cr_assert_not_null(mkdtemp(copy));
	snprintf(cmd, sizeof(cmd), "cp -r '%s/.' '%s'", server_data_dir(s), copy);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(server_stop(s), 0);
	s = start(copy);
	opened = post(s, "/api/v1/test/sdk/open", body, 200);
	cr_assert_str_eq(json_string_value(json_object_get(opened, "text")), "p4ssw\xc3\xb6rd");
	json_decref(opened);
	json_decref(sealed);
	cr_assert_eq(server_stop(s), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", copy);
	cr_assert_eq(system(cmd), 0);
}

Test(sdk, route_table_lists_roles_scopes_and_owners)
{
	struct server *s = start(NULL);
	struct response *r = http(s, "GET", "/api/v1/test/sdk/routes", admin_token(s), NULL, NULL);
	int saw_login = 0, saw_scoped = 0, saw_admin_logout = 0;
	size_t i;
	json_t *route;

	cr_assert_eq(r->status, 200);
	cr_assert(json_array_size(r->json) > 5);
	json_array_foreach(r->json, i, route)
	{
		const char *pattern = json_string_value(json_object_get(route, "pattern"));
		const char *method = json_string_value(json_object_get(route, "method"));
		const char *role = json_string_value(json_object_get(route, "leastRole"));
		const char *plugin = json_string_value(json_object_get(route, "plugin"));

		cr_assert(pattern && method && role && plugin);
		if (!strcmp(pattern, "/api/v1/authentication/login") && !strcmp(method, "POST")) {
			saw_login = 1;
			cr_assert_str_eq(role, "public");
			cr_assert_str_eq(plugin, "core");
		}
		if (!strcmp(pattern, "/api/v1/authentication/admin/logout")) {
			saw_admin_logout = 1;
			cr_assert_str_eq(role, "admin");
		}
		if (!strcmp(pattern, "/api/v1/test/sdk/scoped")) {
			saw_scoped = 1;
			cr_assert_str_eq(json_string_value(json_object_get(route, "scope")),
			                 "analytics");
			cr_assert_str_eq(plugin, "sdkcheck");
		}
	}
	cr_assert(saw_login && saw_scoped && saw_admin_logout);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}
