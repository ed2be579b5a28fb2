/* A descriptor whose size is smaller than 1.0's. */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(SENSED_PLUGIN_MAGIC, SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR, 8,
                       JANSSON_VERSION_HEX, "smalldesc", test_plugin_init_ok)
