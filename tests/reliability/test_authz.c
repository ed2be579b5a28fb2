/* Authorization sweep: walk the whole route table (GET /api/v1/test/sdk/routes through the
 * sdkcheck test plugin) with every first-party plugin loaded, and check that every
 * non-public route refuses a request without a token (401) and that every route above
 * the consumer role refuses a signed-in viewer (403).  A route added later is swept
 * without anyone remembering to test it. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_ID "5e1f0c2a9d3b4a0012345678"

static const char *const sweep_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/sdkcheck",
                                         "--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit", NULL};

/* "/api/v1/x/{id}/y" -> "/api/v1/x/<SAMPLE_ID>/y" into out. */
static void concrete_path(const char *pattern, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = pattern; *p && n + 25 < size;) {
		if (*p == '{') {
			const char *end = strchr(p, '}');

			cr_assert(end, "unterminated parameter in %s", pattern);
			memcpy(out + n, SAMPLE_ID, 24);
			n += 24;
			p = end + 1;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

static int role_rank(const char *name)
{
	static const char *const names[] = {"public",    "consumer", "contributor", "dataDesigner",
	                                    "dataAdmin", "admin",    "super"};

	for (int i = 0; i < 7; i++)
		if (!strcmp(name, names[i]))
			return i;
	cr_assert_fail("unknown role name %s", name);
	return -1;
}

/* A body for methods that carry one, so a handler that parses first still sees JSON. */
static const char *body_for(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "DELETE") && strcmp(method, "HEAD") &&
	               strcmp(method, "OPTIONS")
	           ? "{}"
	           : NULL;
}

static const char *json_header = "Content-Type: application/json\r\n";

Test(authz, every_route_refuses_missing_token_and_viewer)
{
	struct server_options opt = {.args = sweep_args};
	struct server *s = server_start(&opt);
	const char *admin = admin_token(s);
	struct response *r;
	char *viewer;
	size_t i, checked_401 = 0, checked_403 = 0, public_routes = 0;
	json_t *route;

	r = http(s, "POST", "/api/v1/test/authkit/users", NULL, json_header,
	         "{\"email\":\"viewer@sensed.test\",\"userName\":\"viewer\",\"role\":\"consumer\","
	         "\"password\":\"Viewer-Passw0rd!\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	response_free(r);
	viewer = login(s, "viewer@sensed.test", "Viewer-Passw0rd!");
	cr_assert(viewer, "viewer login failed");

	r = http(s, "GET", "/api/v1/test/sdk/routes", admin, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_array(r->json));
	cr_assert_gt(json_array_size(r->json), 10, "the route table looks too small");

	json_array_foreach(r->json, i, route)
	{
		const char *method = json_string_value(json_object_get(route, "method"));
		const char *pattern = json_string_value(json_object_get(route, "pattern"));
		const char *least = json_string_value(json_object_get(route, "leastRole"));
		const char *scope = json_string_value(json_object_get(route, "scope"));
		char path[1024];
		struct response *a;
		int rank;

		cr_assert(method && pattern && least, "malformed route entry %zu", i);
		rank = role_rank(least);
		if (rank == 0 && !scope) {
			public_routes++;
			continue;
		}
		concrete_path(pattern, path, sizeof(path));
		a = http(s, method, path, NULL, json_header, body_for(method));
		cr_expect_eq(a->status, 401, "%s %s (%s) without a token answered %d: %s", method,
		             pattern, least, a->status, a->body);
		if (a->status == 401 && strcmp(method, "HEAD"))
			assert_error(a, 401, 1100);
		response_free(a);
		checked_401++;
		if (scope)
			continue; /* scoped routes admit only their scope's tokens (401, test_sdk)
			           */
		if (rank > 1) {
			a = http(s, method, path, viewer, json_header, body_for(method));
			cr_expect_eq(a->status, 403, "%s %s (%s) as a viewer answered %d: %s",
			             method, pattern, least, a->status, a->body);
			if (a->status == 403 && strcmp(method, "HEAD"))
				assert_error(a, 403, 1009);
			response_free(a);
			checked_403++;
		}
	}
	fprintf(stderr,
	        "authz sweep: %zu routes, %zu public, %zu refused without a token, %zu "
	        "refused to a viewer\n",
	        json_array_size(r->json), public_routes, checked_401, checked_403);
	cr_assert_gt(checked_401, 0);
	cr_assert_gt(checked_403, 0);
	response_free(r);
	free(viewer);
	cr_assert_eq(server_stop(s), 0);
}
