/* Logging to stderr, one line per call, thread-safe (one write(2) per line). */
#ifndef SENSED_CORE_LOG_H
#define SENSED_CORE_LOG_H

#include "sensed/plugin.h"

void log_set_level(enum sensed_log_level level);
/* `tag` prefixes the line ("core", a plugin's name). */
void log_msg(enum sensed_log_level level, const char *tag, const char *fmt, ...)
    SENSED_PRINTF(3, 4);
void log_vmsg(enum sensed_log_level level, const char *tag, const char *fmt, va_list ap);

#endif
