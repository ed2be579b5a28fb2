/* Features: named switches that plugins declare (sensed_host.feature_declare) and operators
 * turn on and off at run time; the state persists in the store (collection
 * "feature_state": {key, active}).
 *
 * Threads: declarations happen on the main thread while plugins load (the table only
 * grows then and is read-only afterwards); each feature's active flag is atomic, so the
 * dispatch check (features_route_gate) reads no store and takes no lock.  Toggles are
 * serialised with a mutex so the stored and the live flag end in the same order.
 *
 * Named sensed_features.h, not features.h: with core/ on the include path that name would
 * shadow glibc's <features.h>. */
#ifndef SENSED_CORE_FEATURES_H
#define SENSED_CORE_FEATURES_H

#include "sensed/plugin.h"

/* SDK members (contracts in include/sensed/plugin.h). */
int feature_declare(sensed_plugin *self, const sensed_feature *feature);
int feature_active(const char *key);
json_t *features_list(void);
int feature_set_active(const char *key, int active);

/* The key of an inactive feature that gates the routes of `owner`, or NULL when its routes
 * are open.  Borrowed; valid until features_shutdown().  Any thread; lock-free. */
const char *features_route_gate(const sensed_plugin *owner);

/* Forget every feature (after plugin_unload_all, before store_close). */
void features_shutdown(void);

#endif
