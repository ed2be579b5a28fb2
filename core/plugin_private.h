/* Shared by plugin_loader.c and host.c only: the loader's private view of a plugin record
 * and the registration window that host members check. */
#ifndef SENSED_CORE_PLUGIN_PRIVATE_H
#define SENSED_CORE_PLUGIN_PRIVATE_H

#include "plugin_loader.h"

#include <stdarg.h>
#include <stdint.h>

/* Every sensed_plugin the loader creates (the core's too) is the first member of one of
 * these, so a sensed_plugin * converts to a struct plugin_record *. */
struct plugin_record {
	struct sensed_plugin pub;
	/* The descriptor's ABI, kept after a refused plugin is closed (for plugins_list). */
	uint16_t abi_major;
	uint16_t abi_minor;
	int abi_known;
};

/* 1 while registration (routes, collections, indexes, references) is allowed: the core
 * during start-up, until plugin_load_all() ends, and any plugin inside its init(). */
int plugin_registration_open(void);

/* Record why a plugin is failing in p->error, unless a cause is already recorded: the
 * first cause is the precise one (a route conflict beats the plugin's later "could not
 * register its routes"). */
void plugin_record_error(sensed_plugin *p, const char *fmt, ...) SENSED_PRINTF(2, 3);
void plugin_record_verror(sensed_plugin *p, const char *fmt, va_list ap);

/* Release what plugin_host() allocated (the empty configuration object). */
void host_shutdown(void);

#endif
