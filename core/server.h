/* The HTTP server: one event_base + evhttp per worker thread on a shared listening port,
 * every limit set, graceful stop. */
#ifndef SENSED_CORE_SERVER_H
#define SENSED_CORE_SERVER_H

#include "router.h"

struct config;

/* The router every worker dispatches with; complete before server_run(). */
extern struct router *g_router;

/* Bind the listening socket(s).  On success *port_out holds the bound port. */
int server_bind(const struct config *cfg, int *port_out);
/* Run the workers until server_stop(); returns 0 after a clean stop, the worker pool
 * stopped too (pool_stop).  Thread: main. */
int server_run(const struct config *cfg);
/* Async-signal-safe: stop accepting, finish in-flight requests, return from
 * server_run(). */
void server_stop(void);

#endif
