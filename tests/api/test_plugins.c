/* Black-box tests of plugin loading: every load failure's one log line and its
 * --check-config line and exit status, the SDK template and a frozen 1.0 plugin
 * answering, run-time disable/enable and its persistence, registration after init,
 * GET /application/status, and plugins built out of tree against an installed sensed. */
#include "api/harness.h"
#include "sensed/plugin.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The ABI this server provides (include/sensed/plugin.h). */
#define STRINGIFY(x)   #x
#define TEXT(x)        STRINGIFY(x)
#define SERVER_ABI     TEXT(SENSED_SDK_ABI_MAJOR) "." TEXT(SENSED_SDK_ABI_MINOR)
#define DIR_OF(folder) SENSED_TEST_PLUGIN_DIR "/" folder

struct check_run {
	int status;
	char out[16384];
};

/* `sensed --check-config --plugin-dir DIR...`: stdout only (the log goes to stderr). */
static void check_config(struct check_run *r, const char *dir1, const char *dir2)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' --check-config --plugin-dir '%s'%s%s%s 2>/dev/null",
	         SENSED_BIN, dir1, dir2 ? " --plugin-dir '" : "", dir2 ? dir2 : "",
	         dir2 ? "'" : "");
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(r->out, 1, sizeof(r->out) - 1, p);
	r->out[n] = '\0';
	int status = pclose(p);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static struct server *start_with(const char *dir1, const char *dir2, const char *data_dir)
{
	const char *args[] = {"--plugin-dir", dir1, dir2 ? "--plugin-dir" : NULL, dir2, NULL};
	struct server_options opt = {.args = args, .data_dir = data_dir};
	return server_start(&opt);
}

static int count_occurrences(const char *text, const char *needle)
{
	int n = 0;
	for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle))
		n++;
	return n;
}

/* Start the server on `folder` alone: the log holds exactly one "FAILED <path>: <message>"
 * for the file; then `--check-config` prints the same line and exits 1. */
static void expect_load_failure(const char *folder, const char *file, const char *message)
{
	char dir[512], line[2048], path_prefix[600];
	snprintf(dir, sizeof(dir), "%s/%s", SENSED_TEST_PLUGIN_DIR, folder);
	snprintf(line, sizeof(line), "FAILED %s/%s: %s", dir, file, message);
	snprintf(path_prefix, sizeof(path_prefix), "FAILED %s/%s: ", dir, file);

	struct server *s = start_with(dir, NULL, NULL);
	const char *log = server_output(s);
	cr_assert_eq(count_occurrences(log, line), 1, "expected once in the log: %s\n--- log:\n%s",
	             line, log);
	cr_assert_eq(count_occurrences(log, path_prefix), 1, "one message per failure");
	cr_assert_eq(server_stop(s), 0);

	static struct check_run r;
	check_config(&r, dir, NULL);
	cr_assert_eq(r.status, 1, "exit status %d; output:\n%s", r.status, r.out);
	cr_assert_not_null(strstr(r.out, line), "--check-config output lacks: %s\n--- output:\n%s",
	                   line, r.out);
	cr_assert_not_null(strstr(r.out, "plugin(s) failed to load"));
}

Test(plugins, not_a_shared_object)
{
	expect_load_failure("notso", "x.so",
	                    "not a loadable shared object: " DIR_OF("notso") "/x.so: ");
}

Test(plugins, no_entry_function)
{
	expect_load_failure(
	    "noentry", "tp_noentry.so",
	    "no entry function: the file does not export sensed_plugin_entry "
	    "(define the descriptor with SENSED_PLUGIN_DEFINE from sensed/plugin.h)");
}

Test(plugins, bad_magic)
{
	expect_load_failure("badmagic", "tp_badmagic.so",
	                    "bad magic 0xdeadbeef (expected 0x53454e53): not a sensed plugin "
	                    "descriptor; define it with SENSED_PLUGIN_DEFINE");
}

Test(plugins, abi_major_mismatch)
{
	expect_load_failure("abimajor", "tp_abimajor.so",
	                    "server provides SDK ABI " SERVER_ABI
	                    ", plugin was built for 2.0: rebuild the "
	                    "plugin against the SDK of this server");
}

Test(plugins, newer_minor)
{
	expect_load_failure("newminor", "tp_newminor.so",
	                    "server provides SDK ABI " SERVER_ABI
	                    ", plugin was built for 1.99 (newer): "
	                    "rebuild the plugin against the SDK of this server, or upgrade the "
	                    "server");
}

Test(plugins, descriptor_too_small)
{
	expect_load_failure("smalldesc", "tp_smalldesc.so",
	                    "descriptor size 8 is smaller than SDK ABI 1.0's ");
}

Test(plugins, jansson_mismatch)
{
	char message[256];
	snprintf(message, sizeof(message),
	         "server uses jansson %d.%d, plugin was built with jansson %d.%d: rebuild the "
	         "plugin against the jansson of this server",
	         JANSSON_MAJOR_VERSION, JANSSON_MINOR_VERSION, JANSSON_MAJOR_VERSION + 1,
	         JANSSON_MINOR_VERSION);
	expect_load_failure("jansson", "tp_janssonmajor.so", message);
}

Test(plugins, init_failure)
{
	expect_load_failure("initfail", "tp_initfail.so", "init failed: database unreachable");
}

Test(plugins, init_failure_after_route_add)
{
	expect_load_failure("undo", "tp_undo.so",
	                    "init failed: failing after registering GET /test/undo");
}

Test(plugins, route_conflict)
{
	expect_load_failure(
	    "conflict", "conflict_b.so",
	    "init failed: route conflict: GET /api/v1/test/conflict is already "
	    "registered by plugin 'conflict_a' (" DIR_OF(
	        "conflict") "/conflict_a.so); "
	                    "plugin 'conflict_b' (" DIR_OF("conflict") "/conflict_b.so) cannot "
	                                                               "register it");
}

Test(plugins, duplicate_name)
{
	expect_load_failure(
	    "dupname", "dup_b.so",
	    "duplicate plugin name 'dupname': already loaded from " DIR_OF(
	        "dupname") "/dup_a.so; this file (" DIR_OF("dupname") "/dup_b.so) is "
	                                                              "refused");
}

Test(plugins, check_config_lists_good_plugins_and_exits_zero)
{
	struct check_run r;
	check_config(&r, DIR_OF("frozen10"), DIR_OF("hello"));
	cr_assert_eq(r.status, 0, "output:\n%s", r.out);
	cr_assert_not_null(
	    strstr(r.out, "ok frozen10 1.0.0 " DIR_OF("frozen10") "/tp_frozen10.so\n"), "%s",
	    r.out);
	cr_assert_not_null(strstr(r.out, "ok hello 1.0.0 " DIR_OF("hello") "/tp_hello.so\n"));
	cr_assert_not_null(strstr(r.out, "ok application "));
}

Test(plugins, jansson_patch_difference_loads)
{
	struct check_run r;
	check_config(&r, DIR_OF("jansson"), NULL);
	cr_assert_not_null(strstr(r.out, "ok janssonpatch 1.0.0 "), "%s", r.out);
}

Test(plugins, failed_init_leaves_no_route)
{
	struct server *s = start_with(DIR_OF("undo"), NULL, NULL);
	struct response *r = http(s, "GET", "/api/v1/test/undo", NULL, NULL, NULL);
	assert_error(r, 404, 1003);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins, conflict_keeps_first_owner_and_duplicate_keeps_first_file)
{
	struct server *s = start_with(DIR_OF("conflict"), DIR_OF("dupname"), NULL);
	struct response *r = http(s, "GET", "/api/v1/test/conflict", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "owner")), "conflict_a");
	response_free(r);
	r = http(s, "GET", "/api/v1/test/dupname", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "file")), "a");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins, hello_and_frozen10_answer)
{
	struct server *s = start_with(DIR_OF("hello"), DIR_OF("frozen10"), NULL);
	struct response *r = http(s, "GET", "/api/v1/hello", admin_token(s), NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(r->body, "{\"hello\":\"world\"}");
	response_free(r);

	r = http(s, "GET", "/api/v1/hello", NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);

	r = http(s, "GET", "/api/v1/test/frozen10", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "frozen")), "1.0");
	cr_assert_eq(json_integer_value(json_object_get(r->json, "hostMajor")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "epoch")),
	                 "1970-01-01T00:00:00.000Z", "host members after 1.0's middle moved");
	cr_assert(json_is_true(json_object_get(r->json, "isObjectId")));
	cr_assert(json_is_true(json_object_get(r->json, "pluginsListed")));
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins, registration_after_init_is_refused)
{
	struct server *s = start_with(DIR_OF("late"), NULL, NULL);
	struct response *r = http(s, "GET", "/api/v1/test/late", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "route_add")), -7);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "collection_open")), -7);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "index_declare")), -7);
	response_free(r);
	r = http(s, "GET", "/api/v1/test/late2", NULL, NULL, NULL);
	assert_error(r, 404, 1003);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

static void expect_status(struct server *s, const char *method, const char *path, int status)
{
	struct response *r = http(s, method, path, admin_token(s), NULL, NULL);
	cr_assert_eq(r->status, status, "%s %s: %d %s", method, path, r->status, r->body);
	response_free(r);
}

static void expect_disabled(struct server *s)
{
	struct response *r = http(s, "GET", "/api/v1/test/frozen10", NULL, NULL, NULL);
	assert_error(r, 404, 1007);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "message")),
	    "plugin 'frozen10' is disabled");
	response_free(r);
}

static json_t *listed(struct server *s, const char *name)
{
	struct response *r = http(s, "GET", "/api/v1/test/plugins", admin_token(s), NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	size_t i;
	json_t *item, *found = NULL;
	json_array_foreach(r->json, i, item)
	{
		if (strcmp(json_string_value(json_object_get(item, "name")), name) == 0)
			found = json_incref(item);
	}
	response_free(r);
	cr_assert_not_null(found, "%s not listed", name);
	return found;
}

Test(plugins, disable_enable_and_persist_across_restart)
{
	char data_dir[] = "/tmp/sensed-plugins-XXXXXX";
	cr_assert_not_null(mkdtemp(data_dir));

	struct server *s = start_with(DIR_OF("admin"), DIR_OF("frozen10"), data_dir);
	expect_status(s, "GET", "/api/v1/test/frozen10", 200);
	expect_status(s, "POST", "/api/v1/test/plugins/frozen10/disable", 204);
	expect_disabled(s);
	json_t *item = listed(s, "frozen10");
	cr_assert(json_is_false(json_object_get(item, "isEnabled")));
	json_decref(item);
	expect_status(s, "POST", "/api/v1/test/plugins/core/disable", 400);
	expect_status(s, "POST", "/api/v1/test/plugins/nosuch/disable", 404);
	cr_assert_eq(server_stop(s), 0);

	s = start_with(DIR_OF("admin"), DIR_OF("frozen10"), data_dir);
	expect_disabled(s);
	expect_status(s, "POST", "/api/v1/test/plugins/frozen10/enable", 204);
	expect_status(s, "GET", "/api/v1/test/frozen10", 200);
	item = listed(s, "frozen10");
	cr_assert(json_is_true(json_object_get(item, "isEnabled")));
	cr_assert_str_eq(json_string_value(json_object_get(item, "state")), "loaded");
	json_decref(item);
	cr_assert_eq(server_stop(s), 0);

	s = start_with(DIR_OF("admin"), DIR_OF("frozen10"), data_dir);
	expect_status(s, "GET", "/api/v1/test/frozen10", 200);
	cr_assert_eq(server_stop(s), 0);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", data_dir);
	cr_assert_eq(system(cmd), 0);
}

Test(plugins, admin_routes_need_admin)
{
	struct server *s = start_with(DIR_OF("admin"), NULL, NULL);
	struct response *r =
	    http(s, "POST", "/api/v1/test/plugins/frozen10/disable", NULL, NULL, NULL);
	assert_error(r, 401, 1100);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins, application_status_is_public)
{
	struct server *s = start_with(DIR_OF("frozen10"), NULL, NULL);
	struct response *r = http(s, "GET", "/api/v1/application/status", NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	const char *type = response_header(r, "Content-Type");
	cr_assert(type && strncmp(type, "application/json", 16) == 0);
	json_t *version = json_object_get(r->json, "version");
	cr_assert(json_is_string(json_object_get(version, "version")));
	cr_assert_str_not_empty(json_string_value(json_object_get(version, "version")));
	cr_assert(json_is_false(json_object_get(version, "isBigData")));
	cr_assert(json_is_false(json_object_get(version, "isFeaturedDashboardsOn")));
	json_t *license = json_object_get(r->json, "license");
	cr_assert(json_is_false(json_object_get(license, "isMobileEnabled")));
	cr_assert(json_is_false(json_object_get(license, "isExpired")));
	cr_assert_eq(json_object_size(r->json), 2);
	cr_assert_eq(json_object_size(version), 3);
	cr_assert_eq(json_object_size(license), 2);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

/* tests/sdk/build_out_of_tree.sh installs this build into a prefix and builds sdk/hello
 * against it twice: WORK/cmake-build/hello.so (find_package) and WORK/make-build/hello.so
 * (make + pkg-config). */
static void build_out_of_tree(char *work, size_t len)
{
	snprintf(work, len, "/tmp/sensed-sdk-XXXXXX");
	cr_assert_not_null(mkdtemp(work));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "'%s/tests/sdk/build_out_of_tree.sh' '%s' '%s' '%s' >'%s/log' 2>&1",
	         SENSED_SOURCE_DIR, SENSED_BUILD_DIR, SENSED_SOURCE_DIR, work, work);
	int status = system(cmd);
	if (status != 0) {
		char log[256];
		snprintf(log, sizeof(log), "cat '%s/log' >&2", work);
		cr_assert_eq(system(log), 0);
	}
	cr_assert_eq(status, 0, "the out-of-tree build failed (log above)");
}

static void expect_hello(const char *dir)
{
	struct server *s = start_with(dir, NULL, NULL);
	struct response *r = http(s, "GET", "/api/v1/hello", admin_token(s), NULL, NULL);
	cr_assert_eq(r->status, 200, "%s: %s\n%s", dir, r->body, server_output(s));
	cr_assert_str_eq(r->body, "{\"hello\":\"world\"}");
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(plugins, out_of_tree_builds_load, .timeout = 300)
{
	char work[64], dir[128];
	build_out_of_tree(work, sizeof(work));
	snprintf(dir, sizeof(dir), "%s/cmake-build", work);
	expect_hello(dir);
	snprintf(dir, sizeof(dir), "%s/make-build", work);
	expect_hello(dir);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	cr_assert_eq(system(cmd), 0);
}
