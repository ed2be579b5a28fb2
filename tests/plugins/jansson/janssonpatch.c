/* Built against another jansson patch level of the same major.minor (loads). */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(SENSED_PLUGIN_MAGIC, SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR,
                       sizeof(sensed_plugin_descriptor), JANSSON_VERSION_HEX ^ 0x01, "janssonpatch",
                       test_plugin_init_ok)
