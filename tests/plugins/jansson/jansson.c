/* Built against another jansson major.minor (refused). */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(SENSED_PLUGIN_MAGIC, SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR,
                       sizeof(sensed_plugin_descriptor), JANSSON_VERSION_HEX + 0x010000,
                       "janssonmajor", test_plugin_init_ok)
