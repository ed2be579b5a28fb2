/* Unit tests of core/features.c: declaration rules, subscriptions, the dispatch gate,
 * persistence through the store, and what a failed plugin's subscription leaves. */
#include "plugin_loader.h"
#include "sensed_features.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0)
#else
#define ASSERT_NO_LEAKS()
#endif

static char data_dir[] = "/tmp/sensed-features-XXXXXX";
static struct sensed_plugin alpha = {.name = "alpha", .state = PLUGIN_LOADED, .in_init = 1};
static struct sensed_plugin beta = {.name = "beta", .state = PLUGIN_LOADED, .in_init = 1};

static void open_store(void)
{
	struct store_options opt = {
	    .map_size = 16u << 20, .durable = 0, .max_limit = 1000, .max_collections = 16};
	cr_assert_eq(store_open(data_dir, &opt), 0);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(data_dir));
	open_store();
	atomic_store(&alpha.enabled, 1);
	atomic_store(&beta.enabled, 1);
}

static void teardown(void)
{
	char cmd[128];

	features_shutdown();
	store_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", data_dir);
	cr_assert_eq(system(cmd), 0);
}

static sensed_feature decl(const char *key, int active, int gates)
{
	return (sensed_feature){.size = sizeof(sensed_feature),
	                        .key = key,
	                        .name = key,
	                        .description = "d",
	                        .default_active = active,
	                        .gates_routes = gates};
}

TestSuite(features, .init = setup, .fini = teardown);

Test(features, declare_rules)
{
	sensed_feature ok = decl("a.b-c_d", 1, 0), bad = decl("a b", 1, 0), small = ok;
	char long_key[80];

	small.size = 4;
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	sensed_feature too_long = decl(long_key, 1, 0);
	cr_assert_eq(feature_declare(&alpha, &ok), 0);
	cr_assert_eq(feature_declare(&alpha, &ok), SENSED_EEXISTS);
	cr_assert_eq(feature_declare(&alpha, &bad), SENSED_EINVAL);
	cr_assert_eq(feature_declare(&alpha, &small), SENSED_EINVAL);
	cr_assert_eq(feature_declare(&alpha, &too_long), SENSED_EINVAL);
	cr_assert_eq(feature_declare(&alpha, NULL), SENSED_EINVAL);
	cr_assert_eq(feature_declare(NULL, &ok), SENSED_ESTATE);
	alpha.in_init = 0;
	cr_assert_eq(feature_declare(&alpha, &ok), SENSED_ESTATE);
	alpha.in_init = 1;
	cr_assert_eq(feature_active("a.b-c_d"), 1);
	cr_assert_eq(feature_active("nope"), SENSED_ENOTFOUND);
	cr_assert_eq(feature_active(NULL), SENSED_ENOTFOUND);
	features_shutdown();
	ASSERT_NO_LEAKS();
}

Test(features, gate_follows_the_active_flag)
{
	sensed_feature gated = decl("g", 1, 1), plain = decl("p", 0, 0);

	cr_assert_eq(feature_declare(&alpha, &gated), 0);
	cr_assert_eq(feature_declare(&beta, &plain), 0);
	cr_assert_null(features_route_gate(&alpha));
	cr_assert_eq(feature_set_active("g", 0), 0);
	cr_assert_str_eq(features_route_gate(&alpha), "g");
	cr_assert_null(features_route_gate(&beta), "an inactive feature without gating");
	cr_assert_eq(feature_set_active("g", 1), 0);
	cr_assert_null(features_route_gate(&alpha));
	cr_assert_eq(feature_set_active("nope", 1), SENSED_ENOTFOUND);
}

Test(features, list_shape_and_subscriptions)
{
	sensed_feature shared = decl("s", 0, 0);
	json_t *list, *item, *subs;

	cr_assert_eq(feature_declare(&alpha, &shared), 0);
	shared.name = "ignored";
	cr_assert_eq(feature_declare(&beta, &shared), 0);
	atomic_store(&beta.enabled, 0);
	list = features_list();
	cr_assert_eq(json_array_size(list), 1);
	item = json_array_get(list, 0);
	cr_assert_str_eq(json_string_value(json_object_get(item, "key")), "s");
	cr_assert_str_eq(json_string_value(json_object_get(item, "name")), "s");
	cr_assert(json_is_false(json_object_get(item, "active")));
	subs = json_object_get(item, "subscriptions");
	cr_assert_eq(json_array_size(subs), 2);
	cr_assert(json_is_true(json_object_get(json_array_get(subs, 0), "active")));
	cr_assert(json_is_false(json_object_get(json_array_get(subs, 1), "active")));
	json_decref(list);

	/* a subscriber whose init failed does not count; without one the feature is unknown */
	alpha.state = PLUGIN_FAILED;
	list = features_list();
	cr_assert_eq(json_array_size(json_object_get(json_array_get(list, 0), "subscriptions")), 1);
	json_decref(list);
	beta.state = PLUGIN_FAILED;
	list = features_list();
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	cr_assert_eq(feature_active("s"), SENSED_ENOTFOUND);
	cr_assert_eq(feature_set_active("s", 1), SENSED_ENOTFOUND);
	alpha.state = beta.state = PLUGIN_LOADED;
}

Test(features, state_persists)
{
	sensed_feature f = decl("kept", 1, 1);

	cr_assert_eq(feature_declare(&alpha, &f), 0);
	cr_assert_eq(feature_set_active("kept", 0), 0);
	features_shutdown();
	store_close();
	open_store();
	/* declared again (next start): the stored state beats the default */
	cr_assert_eq(feature_declare(&alpha, &f), 0);
	cr_assert_eq(feature_active("kept"), 0);
	cr_assert_str_eq(features_route_gate(&alpha), "kept");
}
