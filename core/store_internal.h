/* Store internals visible to its unit tests only. */
#ifndef SENSED_CORE_STORE_INTERNAL_H
#define SENSED_CORE_STORE_INTERNAL_H

#include <stddef.h>

/* Documents decoded and tested against a filter since start-up (relaxed atomic
 * increments).  Tests use it to prove a query used an index instead of a scan. */
extern size_t store_docs_examined;

/* Group-commit batches committed since start-up (the committer thread writes it). */
extern size_t store_group_commits;

/* Current LMDB map size in bytes (0 when the store is closed). */
size_t store_map_size(void);

#endif
