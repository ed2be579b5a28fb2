/* Parsing JSON without keeping a value built through a failed allocation.
 *
 * jansson's lexer ignores the failure to grow its token buffer: the byte is dropped and
 * json_loadb still returns a document (a string one character short, a key renamed).  The
 * core's jansson allocator counts, per thread, the allocations that failed, and
 * json_load_checked refuses any parse during which the count moved. */
#ifndef SENSED_JSON_LOAD_H
#define SENSED_JSON_LOAD_H

#include <jansson.h>
#include <stddef.h>

/* Makes the counting allocator jansson's for the whole process (plugins included).  Call
 * once from main, before any JSON value exists; without it json_load_checked is json_loadb. */
void json_alloc_install(void);

/* json_loadb, except that when an allocation failed during the parse (on this thread) any
 * result is discarded: NULL, and `error` (may be NULL) says json_error_out_of_memory. */
json_t *json_load_checked(const char *buf, size_t len, size_t flags, json_error_t *error);

#endif
