/* The one table of wire error codes and the C error names. */
#ifndef SENSED_CORE_ERRORS_H
#define SENSED_CORE_ERRORS_H

#include "sensed/plugin.h"

/* Name of a negative SENSED_E* code ("out of memory"); static string. */
const char *sensed_strerror(int err);
/* Default message of a wire code (enum sensed_wire_code); static string, never NULL. */
const char *wire_code_message(int code);
/* Reason phrase of an HTTP status ("Not Found"); static string, never NULL. */
const char *http_reason(int status);
/* Build the error envelope; a new reference.  `extra` members (borrowed) are merged
 * into "error". */
json_t *error_envelope(int status, int code, const char *message, const json_t *extra);
/* HTTP status and wire code for a negative store error. */
void store_error_to_wire(int err, int *status, int *code);

#endif
