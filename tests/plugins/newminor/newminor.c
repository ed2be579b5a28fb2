/* Built for a newer minor (1.99) than any server has. */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(SENSED_PLUGIN_MAGIC, SENSED_SDK_ABI_MAJOR, 99,
                       sizeof(sensed_plugin_descriptor), JANSSON_VERSION_HEX, "newminor",
                       test_plugin_init_ok)
