/* Unit tests of core/plugin_loader.c and core/host.c: each test plugin of tests/plugins
 * loaded with plugin_load_file() against a real router and store, opened in the test
 * (Criterion forks each test; LMDB must not cross a fork). */
#include "config.h"
#include "plugin_loader.h"
#include "router.h"
#include "server.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0)
#else
#define ASSERT_NO_LEAKS()
#endif

#define STR_(x)              #x
#define STR(x)               STR_(x)
#define SERVER_ABI           STR(SENSED_SDK_ABI_MAJOR) "." STR(SENSED_SDK_ABI_MINOR)
#define PLUGIN(folder, file) SENSED_TEST_PLUGIN_DIR "/" folder "/" file

static char data_dir[] = "/tmp/sensed-loader-XXXXXX";
static struct config test_config;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(data_dir));
	struct store_options opt = {
	    .map_size = 64u << 20, .durable = 0, .max_limit = 1000, .max_collections = 64};
	cr_assert_eq(store_open(data_dir, &opt), 0);
	g_router = router_new();
	cr_assert_not_null(g_router);
	memset(&test_config, 0, sizeof(test_config));
	g_config = NULL;
}

static void teardown(void)
{
	plugin_unload_all();
	router_free(g_router);
	g_router = NULL;
	store_close();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", data_dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", data_dir);
}

TestSuite(plugin_loader, .init = setup, .fini = teardown);

/* Load `path`, expect `err` and an error message containing `message`. */
static sensed_plugin *expect_failure(const char *path, int err, const char *message)
{
	sensed_plugin *p = NULL;
	int rc = plugin_load_file(path, &p);
	cr_assert_eq(rc, err, "%s: rc %d, expected %d", path, rc, err);
	cr_assert_not_null(p);
	cr_assert_eq(p->state, PLUGIN_FAILED);
	cr_assert_not_null(strstr(p->error, message), "%s: error \"%s\" lacks \"%s\"", path,
	                   p->error, message);
	cr_assert_null(p->handle, "a refused plugin is closed");
	return p;
}

static sensed_plugin *expect_loaded(const char *path)
{
	sensed_plugin *p = NULL;
	int rc = plugin_load_file(path, &p);
	cr_assert_eq(rc, 0, "%s: rc %d (%s)", path, rc, p ? p->error : "");
	cr_assert_eq(p->state, PLUGIN_LOADED);
	cr_assert_str_empty(p->error);
	return p;
}

static int route_exists(unsigned method, const char *path)
{
	char buf[256];
	struct router_match m;
	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(g_router, method, buf, &m) == 0;
}

Test(plugin_loader, not_a_shared_object)
{
	expect_failure(PLUGIN("notso", "x.so"), SENSED_EINVAL, "not a loadable shared object: ");
	ASSERT_NO_LEAKS();
}

Test(plugin_loader, missing_file)
{
	expect_failure(PLUGIN("notso", "absent.so"), SENSED_EINVAL,
	               "not a loadable shared object: ");
}

Test(plugin_loader, no_entry_function)
{
	expect_failure(PLUGIN("noentry", "tp_noentry.so"), SENSED_EINVAL,
	               "no entry function: the file does not export sensed_plugin_entry");
}

Test(plugin_loader, bad_magic)
{
	expect_failure(PLUGIN("badmagic", "tp_badmagic.so"), SENSED_EINVAL,
	               "bad magic 0xdeadbeef (expected 0x53454e53)");
}

Test(plugin_loader, abi_major_mismatch)
{
	sensed_plugin *p = expect_failure(PLUGIN("abimajor", "tp_abimajor.so"), SENSED_EUNSUPPORTED,
	                                  "server provides SDK ABI " SERVER_ABI
	                                  ", plugin was built for 2.0: rebuild the plugin against "
	                                  "the SDK of this server");
	cr_assert_str_eq(p->name, "tp_abimajor", "a refused plugin keeps its file name");
}

Test(plugin_loader, newer_minor)
{
	expect_failure(PLUGIN("newminor", "tp_newminor.so"), SENSED_EUNSUPPORTED,
	               "server provides SDK ABI " SERVER_ABI
	               ", plugin was built for 1.99 (newer): rebuild "
	               "the plugin against the SDK of this server");
}

Test(plugin_loader, descriptor_too_small)
{
	expect_failure(PLUGIN("smalldesc", "tp_smalldesc.so"), SENSED_EINVAL,
	               "descriptor size 8 is smaller than SDK ABI 1.0's");
}

Test(plugin_loader, jansson_major_minor_mismatch)
{
	char expected[160];
	snprintf(expected, sizeof(expected),
	         "server uses jansson %d.%d, plugin was built with jansson %d.%d",
	         JANSSON_MAJOR_VERSION, JANSSON_MINOR_VERSION, JANSSON_MAJOR_VERSION + 1,
	         JANSSON_MINOR_VERSION);
	expect_failure(PLUGIN("jansson", "tp_janssonmajor.so"), SENSED_EUNSUPPORTED, expected);
}

Test(plugin_loader, jansson_patch_difference_loads)
{
	expect_loaded(PLUGIN("jansson", "tp_janssonpatch.so"));
}

Test(plugin_loader, init_failure_reports_set_error)
{
	expect_failure(PLUGIN("initfail", "tp_initfail.so"), SENSED_ESTORE,
	               "init failed: database unreachable");
	ASSERT_NO_LEAKS();
}

Test(plugin_loader, failed_init_undoes_routes)
{
	expect_failure(PLUGIN("undo", "tp_undo.so"), SENSED_EINVAL,
	               "init failed: failing after registering GET /test/undo");
	cr_assert_not(route_exists(SENSED_GET, "/api/v1/test/undo"));
}

Test(plugin_loader, route_conflict_names_both_owners)
{
	expect_loaded(PLUGIN("conflict", "conflict_a.so"));
	sensed_plugin *b = expect_failure(PLUGIN("conflict", "conflict_b.so"), SENSED_EEXISTS,
	                                  "init failed: route conflict: GET /api/v1/test/conflict "
	                                  "is already registered by plugin 'conflict_a' (");
	cr_assert_not_null(strstr(b->error, "conflict_a.so); plugin 'conflict_b' ("));
	cr_assert(route_exists(SENSED_GET, "/api/v1/test/conflict"), "the first owner keeps it");
}

Test(plugin_loader, duplicate_name_names_both_paths)
{
	expect_loaded(PLUGIN("dupname", "dup_a.so"));
	expect_failure(
	    PLUGIN("dupname", "dup_b.so"), SENSED_EEXISTS,
	    "duplicate plugin name 'dupname': already loaded from " SENSED_TEST_PLUGIN_DIR
	    "/dupname/dup_a.so; this file (" SENSED_TEST_PLUGIN_DIR
	    "/dupname/dup_b.so) is refused");
}

Test(plugin_loader, frozen_1_0_plugin_loads_and_routes)
{
	sensed_plugin *p = expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert_str_eq(p->name, "frozen10");
	cr_assert_str_eq(p->folder_name, "tp_frozen10");
	cr_assert(route_exists(SENSED_GET, "/api/v1/test/frozen10"));
	ASSERT_NO_LEAKS();
}

Test(plugin_loader, registration_after_init_is_refused)
{
	sensed_plugin *p = expect_loaded(PLUGIN("late", "tp_late.so"));
	const sensed_host *host = plugin_host();
	sensed_collection *coll = NULL;
	cr_assert_eq(host->route_add(p, SENSED_GET, "/test/late2", SENSED_ROLE_PUBLIC,
	                             (sensed_handler)1, NULL),
	             SENSED_ESTATE);
	cr_assert_eq(host->collection_open(p, "late_later", &coll), SENSED_ESTATE);
	cr_assert_null(coll);
	cr_assert_not(route_exists(SENSED_GET, "/api/v1/test/late2"));
}

Test(plugin_loader, registration_closes_after_load_all)
{
	test_config.plugin_dirs[0] = SENSED_TEST_PLUGIN_DIR "/late";
	test_config.plugin_dir_count = 1;
	g_config = &test_config;
	cr_assert_eq(plugin_load_all(), 0);
	const sensed_host *host = plugin_host();
	sensed_collection *coll = NULL;
	cr_assert_eq(host->route_add(plugin_core(), SENSED_GET, "/core/late", SENSED_ROLE_PUBLIC,
	                             (sensed_handler)1, NULL),
	             SENSED_ESTATE);
	cr_assert_eq(host->collection_open(plugin_core(), "x", &coll), SENSED_ESTATE);
	cr_assert_eq(host->index_declare(coll, "name", 0), SENSED_ESTATE);
	g_config = NULL;
}

Test(plugin_loader, core_route_add_with_relative_and_absolute_patterns)
{
	const sensed_host *host = plugin_host();
	cr_assert_eq(host->route_add(plugin_core(), SENSED_GET, "/core/x", SENSED_ROLE_PUBLIC,
	                             (sensed_handler)1, NULL),
	             0);
	cr_assert_eq(host->route_add(plugin_core(), SENSED_GET, "/api/roles", SENSED_ROLE_PUBLIC,
	                             (sensed_handler)1, NULL),
	             0);
	cr_assert(route_exists(SENSED_GET, "/api/v1/core/x"));
	cr_assert(route_exists(SENSED_GET, "/api/roles"));
	cr_assert_eq(host->route_add(plugin_core(), SENSED_GET, "no-slash", SENSED_ROLE_PUBLIC,
	                             (sensed_handler)1, NULL),
	             SENSED_EINVAL);
}

Test(plugin_loader, set_enabled_rules)
{
	expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	expect_failure(PLUGIN("initfail", "tp_initfail.so"), SENSED_ESTORE, "init failed");
	cr_assert_eq(plugin_set_enabled("core", 0), SENSED_EINVAL);
	cr_assert_eq(plugin_set_enabled("nosuch", 0), SENSED_ENOTFOUND);
	cr_assert_eq(plugin_set_enabled("initfail", 1), SENSED_ENOTFOUND, "not loaded");
	cr_assert_eq(plugin_set_enabled(NULL, 0), SENSED_EINVAL);
	cr_assert_eq(plugin_set_enabled("frozen10", 0), 0);
}

Test(plugin_loader, essential_plugin_cannot_be_disabled)
{
	test_config.plugins_config = json_pack("{s:{s:b}}", "frozen10", "essential", 1);
	g_config = &test_config;
	sensed_plugin *p = expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert(p->essential);
	cr_assert_eq(plugin_set_enabled("frozen10", 0), SENSED_EINVAL);
	cr_assert_eq(atomic_load(&p->enabled), 1);
	g_config = NULL;
	json_decref(test_config.plugins_config);
}

Test(plugin_loader, disabled_state_persists_across_reload)
{
	sensed_plugin *p = expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert_eq(atomic_load(&p->enabled), 1);
	cr_assert_eq(plugin_set_enabled("frozen10", 0), 0);
	cr_assert_eq(atomic_load(&p->enabled), 0);

	json_t *list = plugins_list();
	cr_assert_eq(json_array_size(list), 1);
	json_t *item = json_array_get(list, 0);
	cr_assert(json_is_false(json_object_get(item, "isEnabled")));
	cr_assert_str_eq(json_string_value(json_object_get(item, "state")), "loaded");
	json_decref(list);

	plugin_unload_all();
	router_free(g_router);
	g_router = router_new();
	p = expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert_eq(atomic_load(&p->enabled), 0, "the disabled state came back");
	cr_assert_eq(plugin_set_enabled("frozen10", 1), 0);

	plugin_unload_all();
	router_free(g_router);
	g_router = router_new();
	p = expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert_eq(atomic_load(&p->enabled), 1, "enabling persisted too");
}

Test(plugin_loader, plugins_list_shape)
{
	expect_loaded(PLUGIN("frozen10", "tp_frozen10.so"));
	expect_failure(PLUGIN("abimajor", "tp_abimajor.so"), SENSED_EUNSUPPORTED, "ABI");
	expect_failure(PLUGIN("notso", "x.so"), SENSED_EINVAL, "shared object");
	json_t *list = plugins_list();
	cr_assert_eq(json_array_size(list), 3);

	json_t *ok = json_array_get(list, 0);
	cr_assert_str_eq(json_string_value(json_object_get(ok, "name")), "frozen10");
	cr_assert_str_eq(json_string_value(json_object_get(ok, "version")), "1.0.0");
	cr_assert_str_eq(json_string_value(json_object_get(ok, "folderName")), "tp_frozen10");
	cr_assert_str_eq(json_string_value(json_object_get(ok, "path")),
	                 PLUGIN("frozen10", "tp_frozen10.so"));
	cr_assert(json_is_true(json_object_get(ok, "isEnabled")));
	cr_assert(json_is_null(json_object_get(ok, "error")));
	cr_assert_eq(json_integer_value(json_object_get(ok, "abiMajor")), 1);
	cr_assert_eq(json_integer_value(json_object_get(ok, "abiMinor")), 0, "built with 1.0");
	const char *date = json_string_value(json_object_get(ok, "lastUpdate"));
	cr_assert_eq(strlen(date), 24);
	cr_assert_eq(date[23], 'Z');

	json_t *abi = json_array_get(list, 1);
	cr_assert_str_eq(json_string_value(json_object_get(abi, "state")), "failed");
	cr_assert(json_is_false(json_object_get(abi, "isEnabled")));
	cr_assert_eq(json_integer_value(json_object_get(abi, "abiMajor")), 2);
	cr_assert_not_null(strstr(json_string_value(json_object_get(abi, "error")), "2.0"));

	json_t *notso = json_array_get(list, 2);
	cr_assert(json_is_null(json_object_get(notso, "abiMajor")));
	cr_assert_str_eq(json_string_value(json_object_get(notso, "folderName")), "x");
	json_decref(list);
	ASSERT_NO_LEAKS();
}

Test(plugin_loader, enabled_list_skips_others)
{
	test_config.plugin_dirs[0] = SENSED_TEST_PLUGIN_DIR "/jansson";
	test_config.plugin_dirs[1] = SENSED_TEST_PLUGIN_DIR "/frozen10";
	test_config.plugin_dir_count = 2;
	test_config.plugins_enabled = json_pack("[s]", "frozen10");
	g_config = &test_config;
	cr_assert_eq(plugin_load_all(), 0, "a plugin not enabled is no failure");
	int loaded = 0, skipped = 0;
	for (sensed_plugin *p = plugin_first(); p; p = p->next) {
		if (p->state == PLUGIN_LOADED) {
			cr_assert_str_eq(p->name, "frozen10");
			loaded++;
		} else {
			cr_assert_eq(p->state, PLUGIN_SKIPPED, "%s: %s", p->path, p->error);
			skipped++;
		}
	}
	cr_assert_eq(loaded, 1);
	cr_assert_eq(skipped, 2);
	g_config = NULL;
	json_decref(test_config.plugins_enabled);
}

Test(plugin_loader, check_all_prints_one_line_per_plugin)
{
	char out_path[] = "/tmp/sensed-check-XXXXXX";
	int fd = mkstemp(out_path);
	cr_assert_geq(fd, 0);
	close(fd);
	test_config.plugin_dirs[0] = SENSED_TEST_PLUGIN_DIR "/conflict";
	test_config.plugin_dirs[1] = SENSED_TEST_PLUGIN_DIR "/abimajor";
	test_config.plugin_dir_count = 2;
	g_config = &test_config;
	fflush(stdout);
	cr_assert_not_null(freopen(out_path, "w", stdout));
	int failures = plugin_check_all();
	fflush(stdout);
	cr_assert_eq(failures, 2);

	FILE *f = fopen(out_path, "r");
	char text[4096] = "";
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(out_path);
	const char *expected =
	    "ok conflict_a 1.0.0 " SENSED_TEST_PLUGIN_DIR "/conflict/conflict_a.so\n"
	    "FAILED " SENSED_TEST_PLUGIN_DIR "/conflict/conflict_b.so: init failed: route "
	    "conflict: GET /api/v1/test/conflict is already registered by plugin 'conflict_a' "
	    "(" SENSED_TEST_PLUGIN_DIR "/conflict/conflict_a.so); plugin 'conflict_b' "
	    "(" SENSED_TEST_PLUGIN_DIR "/conflict/conflict_b.so) cannot register it\n"
	    "FAILED " SENSED_TEST_PLUGIN_DIR
	    "/abimajor/tp_abimajor.so: server provides SDK ABI " SERVER_ABI
	    ", plugin was built for 2.0: rebuild the plugin against the SDK of this server\n";
	cr_assert_str_eq(text, expected);
	g_config = NULL;
}

Test(plugin_loader, missing_directory_is_a_failure)
{
	test_config.plugin_dirs[0] = SENSED_TEST_PLUGIN_DIR "/no-such-dir";
	test_config.plugin_dir_count = 1;
	g_config = &test_config;
	cr_assert_eq(plugin_load_all(), 1);
	g_config = NULL;
}
