/* A descriptor whose magic is wrong. */
#include "../testplugin.h"

TEST_PLUGIN_DESCRIPTOR(0xdeadbeefu, SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR,
                       sizeof(sensed_plugin_descriptor), JANSSON_VERSION_HEX, "badmagic",
                       test_plugin_init_ok)
