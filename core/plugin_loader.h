/* Loading plugins with dlopen, checking their descriptors, the host function table, and
 * enabling/disabling at run time.  Loading happens on the main thread before the
 * workers start; the enabled flag is read by every worker (atomic). */
#ifndef SENSED_CORE_PLUGIN_LOADER_H
#define SENSED_CORE_PLUGIN_LOADER_H

#include "sensed/plugin.h"

#include <stdatomic.h>

enum plugin_state {
	PLUGIN_LOADED = 0, /* init succeeded */
	PLUGIN_FAILED,     /* refused or init failed: see error */
	PLUGIN_SKIPPED,    /* not in the configured list */
};

struct sensed_plugin {
	char *name;        /* owned; from the descriptor, or the file name on failure */
	char *version;     /* owned */
	char *description; /* owned */
	char *path;        /* owned; NULL for the core's own record */
	char *folder_name; /* owned: file name without lib prefix / .so */
	void *handle;      /* dlopen handle, NULL when not open */
	const sensed_plugin_descriptor *descriptor; /* borrowed from the shared object */
	enum plugin_state state;
	char error[512];        /* why it failed, "" otherwise */
	atomic_int enabled;     /* 0: its routes answer 404 */
	int essential;          /* cannot be disabled */
	int in_init;            /* registration allowed */
	long long load_time_ms; /* when loaded (lastUpdate) */
	struct sensed_plugin *next;
};

/* The host table given to every plugin. */
const sensed_host *plugin_host(void);
/* The core's own plugin record ("core"), owner of the core routes; essential. */
sensed_plugin *plugin_core(void);
/* Load every *.so in the configured plugin directories (or the build-tree default),
 * honouring the enabled list and the persisted enable/disable state.  Returns the number
 * of failures; each failure is logged with its precise message. */
int plugin_load_all(void);
/* Load one file.  Returns 0, or a negative code with the message in *out's error. */
int plugin_load_file(const char *path, sensed_plugin **out);
/* Check (--check-config / --check-plugins): load every plugin as plugin_load_all would,
 * print one line per plugin to stdout, return the number of failures. */
int plugin_check_all(void);
/* Call every loaded plugin's fini and dlclose it. */
void plugin_unload_all(void);
/* The list of all records (for plugins_list). */
sensed_plugin *plugin_first(void);

json_t *plugins_list(void);
int plugin_set_enabled(const char *name, int enabled);

#endif
