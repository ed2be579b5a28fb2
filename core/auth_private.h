/* auth.c internals shared with its unit test (tests/core/test_auth.c). */
#ifndef SENSED_CORE_AUTH_PRIVATE_H
#define SENSED_CORE_AUTH_PRIVATE_H

#include "sensed/plugin.h"

#include <stddef.h>

/* Sign a new token for `user_id` into `out` (NUL-terminated) and record it through
 * `txn` (a write transaction, or NULL for one of its own): a "device" token when
 * `device_id` is neither NULL nor empty, else an "api" token.  Any thread. */
int auth_token_issue(sensed_txn *txn, const char *user_id, const char *device_id, char *out,
                     size_t out_size);

#endif
