/* Built for SDK ABI 2.0. */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(SENSED_PLUGIN_MAGIC, 2, 0, sizeof(sensed_plugin_descriptor),
                       JANSSON_VERSION_HEX, "abimajor", test_plugin_init_ok)
