#include "auth.h"
#include "auth_private.h"
#include "config.h"
#include "jwt.h"
#include "request.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks")
#else
#define ASSERT_NO_LEAKS() ((void)0)
#endif

static char data_dir[64];
static sensed_collection *users, *roles, *groups, *tokens;

static void setup(void)
{
	struct config cfg = {
	    .login_max_failures = 3,
	    .login_lock_seconds = 60,
	    .login_rate_per_minute = 100,
	    .password_hash_fast = 1,
	};
	struct store_options so = {
	    .map_size = 64 << 20, .durable = 0, .max_limit = 1000, .max_collections = 64};

	snprintf(data_dir, sizeof data_dir, "/tmp/sensed-test-auth-XXXXXX");
	cr_assert_not_null(mkdtemp(data_dir));
	cr_assert_eq(store_open(data_dir, &so), 0);
	setenv("SENSED_ADMIN_EMAIL", "Root@Example.COM", 1);
	setenv("SENSED_ADMIN_PASSWORD", "Root-pass-1", 1);
	cr_assert_eq(auth_init(&cfg), 0);
	cr_assert_eq(store_collection_open("test", "users", &users), 0);
	cr_assert_eq(store_collection_open("test", "roles", &roles), 0);
	cr_assert_eq(store_collection_open("test", "groups", &groups), 0);
	cr_assert_eq(store_collection_open("test", "tokens", &tokens), 0);
}

static void teardown(void)
{
	char cmd[128];
	auth_shutdown();
	store_close();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
	cr_assert_eq(system(cmd), 0);
	/* A leak never fails a Criterion test by itself (dependencies.md). */
	ASSERT_NO_LEAKS();
}

TestSuite(auth, .init = setup, .fini = teardown);

/* The _id of the first user whose `key` is `value` (static buffer). */
static const char *id_of(sensed_collection *coll, const char *key, const char *value)
{
	static char id[25];
	json_t *filter = json_pack("{s:s}", key, value);
	json_t *doc = NULL;
	cr_assert_eq(store_find_one(NULL, coll, filter, &doc), 0, "no %s = %s", key, value);
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(doc, "_id")));
	json_decref(filter);
	json_decref(doc);
	return id;
}

static void bearer(char *out, size_t size, const char *token)
{
	snprintf(out, size, "Bearer %s", token);
}

static int resolve(const char *header, sensed_request *req)
{
	memset(req, 0, sizeof *req);
	return auth_resolve(req, header);
}

Test(auth, first_start_seeds_roles_groups_and_the_super_user)
{
	static const char *const names[] = {"super",        "admin",       "dataAdmin",
	                                    "dataDesigner", "contributor", "consumer"};
	size_t n = 0;
	cr_assert_eq(store_count(NULL, roles, NULL, &n), 0);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *filter = json_pack("{s:s}", "name", names[i]);
		json_t *role = NULL;
		cr_assert_eq(store_find_one(NULL, roles, filter, &role), 0, "%s", names[i]);
		cr_assert_str_eq(json_string_value(json_object_get(role, "baseRoleName")),
		                 names[i]);
		cr_assert(json_is_string(json_object_get(role, "desc")));
		json_decref(role);
		json_decref(filter);
	}
	id_of(groups, "name", "Everyone");
	id_of(groups, "name", "All users in system");

	/* e-mail stored lower-case; userName = e-mail; role super; no secret in the doc */
	json_t *root = NULL;
	const char *root_id = id_of(users, "email", "root@example.com");
	cr_assert_eq(store_doc_get(NULL, users, root_id, &root), 0);
	cr_assert_str_eq(json_string_value(json_object_get(root, "userName")), "root@example.com");
	char super_id[25];
	snprintf(super_id, sizeof super_id, "%s", id_of(roles, "name", "super"));
	cr_assert_str_eq(json_string_value(json_object_get(root, "roleId")), super_id);
	cr_assert(json_is_true(json_object_get(root, "active")));
	char *text = json_dumps(root, 0);
	cr_assert_null(strstr(text, "argon2"));
	free(text);
	cr_assert_eq(
	    auth_password_verify(json_string_value(json_object_get(root, "_id")), "Root-pass-1"),
	    0);
	json_decref(root);
}

Test(auth, role_names)
{
	cr_assert_eq(auth_role_from_name("super"), SENSED_ROLE_SUPER);
	cr_assert_eq(auth_role_from_name("admin"), SENSED_ROLE_ADMIN);
	cr_assert_eq(auth_role_from_name("dataAdmin"), SENSED_ROLE_DATA_ADMIN);
	cr_assert_eq(auth_role_from_name("dataDesigner"), SENSED_ROLE_DATA_DESIGNER);
	cr_assert_eq(auth_role_from_name("contributor"), SENSED_ROLE_CONTRIBUTOR);
	cr_assert_eq(auth_role_from_name("consumer"), SENSED_ROLE_CONSUMER);
	cr_assert_eq(auth_role_from_name("viewer"), SENSED_ROLE_CONSUMER);
	cr_assert_eq(auth_role_from_name("Admin"), -1);
	cr_assert_eq(auth_role_from_name(""), -1);
	cr_assert_eq(auth_role_from_name(NULL), -1);
}

Test(auth, password_set_and_verify)
{
	char id[25];
	object_id_new(id);
	cr_assert_eq(auth_password_verify(id, "x"), SENSED_ENOTFOUND);
	cr_assert_eq(auth_password_set(id, "first-pass"), 0);
	cr_assert_eq(auth_password_verify(id, "first-pass"), 0);
	cr_assert_eq(auth_password_verify(id, "First-pass"), SENSED_EINVAL);
	cr_assert_eq(auth_password_verify(id, ""), SENSED_EINVAL);
	cr_assert_eq(auth_password_set(id, "second-pass"), 0);
	cr_assert_eq(auth_password_verify(id, "first-pass"), SENSED_EINVAL);
	cr_assert_eq(auth_password_verify(id, "second-pass"), 0);
	cr_assert_eq(auth_password_set("nope", "x"), SENSED_EINVAL);
	cr_assert_eq(auth_password_set(id, ""), SENSED_EINVAL);
	cr_assert_eq(auth_password_set(id, NULL), SENSED_EINVAL);
	cr_assert_eq(auth_password_verify("nope", "x"), SENSED_ENOTFOUND);
}

Test(auth, issued_token_resolves_to_the_user_and_role)
{
	char root_id[25], token[JWT_MAX_LEN + 1], header[JWT_MAX_LEN + 16];
	sensed_request req;
	snprintf(root_id, sizeof root_id, "%s", id_of(users, "email", "root@example.com"));
	cr_assert_eq(auth_token_issue(NULL, root_id, NULL, token, sizeof token), 0);

	cr_assert_eq(resolve(NULL, &req), SENSED_ENOTFOUND);
	bearer(header, sizeof header, token);
	cr_assert_eq(resolve(header, &req), 0);
	cr_assert_str_eq(req.user_id, root_id);
	cr_assert_eq(req.role, SENSED_ROLE_SUPER);
	cr_assert_str_eq(json_string_value(json_object_get(req.user, "email")), "root@example.com");
	json_decref(req.user);

	snprintf(header, sizeof header, "bEaReR %s", token);
	cr_assert_eq(resolve(header, &req), 0);
	json_decref(req.user);

	static const char *const bad[] = {"Bearer  %s", "Bearer", "Bearer ",
	                                  "Token %s",   "%s",     "Bearer %s.x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(header, sizeof header, bad[i], token);
		cr_expect_eq(resolve(header, &req), SENSED_EINVAL, "%s", bad[i]);
		cr_expect_null(req.user);
		cr_expect_str_eq(req.user_id, "");
	}
}

Test(auth, revoked_deleted_and_inactive_users_do_not_resolve)
{
	char id[25], token[JWT_MAX_LEN + 1], device[JWT_MAX_LEN + 1], header[JWT_MAX_LEN + 16];
	sensed_request req;
	json_t *user =
	    json_pack("{s:s, s:s, s:s, s:b, s:[]}", "email", "u@example.com", "userName", "u",
	              "roleId", id_of(roles, "name", "consumer"), "active", 1, "groups");
	cr_assert_eq(store_doc_insert(NULL, users, user, id), 0);

	cr_assert_eq(auth_token_issue(NULL, id, NULL, token, sizeof token), 0);
	cr_assert_eq(auth_token_issue(NULL, id, "phone", device, sizeof device), 0);
	bearer(header, sizeof header, token);
	cr_assert_eq(resolve(header, &req), 0);
	cr_assert_eq(req.role, SENSED_ROLE_CONSUMER);
	json_decref(req.user);

	/* token records never hold the apiSecret; the device one says so */
	json_t *filter = json_pack("{s:s}", "userId", id);
	sensed_query q = SENSED_QUERY_INIT;
	q.filter = filter;
	json_t *list = NULL;
	cr_assert_eq(store_find(NULL, tokens, &q, &list), 0);
	cr_assert_eq(json_array_size(list), 2);
	char *text = json_dumps(list, 0);
	cr_assert_not_null(strstr(text, "\"device\""));
	cr_assert_not_null(strstr(text, "\"phone\""));
	json_decref(list);
	free(text);

	/* inactive */
	json_object_set_new(user, "active", json_false());
	cr_assert_eq(store_doc_replace(NULL, users, id, user), 0);
	cr_assert_eq(resolve(header, &req), SENSED_EINVAL);
	json_object_set_new(user, "active", json_true());
	cr_assert_eq(store_doc_replace(NULL, users, id, user), 0);
	cr_assert_eq(resolve(header, &req), 0);
	json_decref(req.user);

	/* a new role applies to the next request with the same token */
	json_object_set_new(user, "roleId", json_string(id_of(roles, "name", "admin")));
	cr_assert_eq(store_doc_replace(NULL, users, id, user), 0);
	cr_assert_eq(resolve(header, &req), 0);
	cr_assert_eq(req.role, SENSED_ROLE_ADMIN);
	cr_assert_str_eq(json_string_value(json_object_get(req.user, "roleId")),
	                 id_of(roles, "name", "admin"));
	json_decref(req.user);

	/* revoked */
	cr_assert_eq(auth_tokens_revoke_user(id), 0);
	cr_assert_eq(resolve(header, &req), SENSED_EINVAL);
	bearer(header, sizeof header, device);
	cr_assert_eq(resolve(header, &req), SENSED_EINVAL);
	size_t left = 1;
	cr_assert_eq(store_count(NULL, tokens, filter, &left), 0);
	cr_assert_eq(left, 0);

	/* deleted */
	cr_assert_eq(auth_token_issue(NULL, id, NULL, token, sizeof token), 0);
	bearer(header, sizeof header, token);
	cr_assert_eq(resolve(header, &req), 0);
	json_decref(req.user);
	cr_assert_eq(store_doc_delete(NULL, users, id), 0);
	cr_assert_eq(resolve(header, &req), SENSED_EINVAL);

	json_decref(filter);
	json_decref(user);
}

Test(auth, revoking_many_tokens_passes_the_list_limit)
{
	char id[25], token[JWT_MAX_LEN + 1];
	snprintf(id, sizeof id, "%s", id_of(users, "email", "root@example.com"));
	for (int i = 0; i < 1100; i++)
		cr_assert_eq(auth_token_issue(NULL, id, NULL, token, sizeof token), 0);
	cr_assert_eq(auth_tokens_revoke_user(id), 0);
	json_t *filter = json_pack("{s:s}", "userId", id);
	size_t left = 1;
	cr_assert_eq(store_count(NULL, tokens, filter, &left), 0);
	cr_assert_eq(left, 0);
	json_decref(filter);
}
