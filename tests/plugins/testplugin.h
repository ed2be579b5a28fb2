/* Test plugins that fake a descriptor field: the descriptor a plugin of another SDK (or a
 * broken build) would export, with every field given explicitly. */
#ifndef SENSED_TEST_PLUGIN_H
#define SENSED_TEST_PLUGIN_H

#include <sensed/plugin.h>

#define TEST_PLUGIN_DESCRIPTOR(magic_, major_, minor_, size_, jansson_, name_, init_)              \
	static const sensed_plugin_descriptor test_descriptor_ = {                                 \
	    .magic = (magic_),                                                                     \
	    .abi_major = (major_),                                                                 \
	    .abi_minor = (minor_),                                                                 \
	    .size = (size_),                                                                       \
	    .jansson_version = (jansson_),                                                         \
	    .name = (name_),                                                                       \
	    .version = "1.0.0",                                                                    \
	    .description = "test plugin",                                                          \
	    .init = (init_),                                                                       \
	    .fini = NULL,                                                                          \
	};                                                                                         \
	SENSED_EXPORT const sensed_plugin_descriptor *sensed_plugin_entry(void);                   \
	const sensed_plugin_descriptor *sensed_plugin_entry(void)                                  \
	{                                                                                          \
		return &test_descriptor_;                                                          \
	}

/* An init that registers nothing. */
static inline int test_plugin_init_ok(sensed_plugin *self, const sensed_host *host)
{
	(void)self;
	(void)host;
	return 0;
}

#endif
