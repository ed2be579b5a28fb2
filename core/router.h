/* Method + path-pattern router.  Built during start-up (single thread), read-only while
 * serving (any thread).  Patterns are split on '/', empty segments ignored; a segment
 * "{name}" matches any one non-empty segment.  A literal segment wins over a parameter
 * whatever the registration order.  Lookup walks one trie node per segment (hash of
 * literal children), so its cost does not depend on the number of routes. */
#ifndef SENSED_CORE_ROUTER_H
#define SENSED_CORE_ROUTER_H

#include "sensed/plugin.h"

#define ROUTER_MAX_PARAMS   8
#define ROUTER_MAX_SEGMENTS 32

struct route {
	unsigned method; /* one sensed_method bit */
	char *pattern;   /* owned: the full pattern, e.g. "/api/v1/alerts/{id}" */
	enum sensed_role least_role;
	sensed_handler handler;
	void *handler_arg;
	sensed_plugin *owner; /* borrowed: the registering plugin (the core has one too) */
	char *scope;          /* owned: the token scope the route admits, NULL for ordinary */
};

struct router_match {
	const struct route *route; /* NULL when nothing matched the method */
	unsigned allowed_methods;  /* methods the path has (for 405 and Allow) */
	int param_count;
	const char *param_names[ROUTER_MAX_PARAMS]; /* borrowed from the route */
	char *param_values[ROUTER_MAX_PARAMS];      /* point into the caller's path buffer */
};

struct router;

struct router *router_new(void);
void router_free(struct router *r);
/* Add one route per bit of `methods`.  SENSED_EEXISTS if any method+pattern exists
 * (nothing is added then; *existing_owner, if not NULL, gets the holder);
 * SENSED_EINVAL for a malformed pattern. */
int router_add(struct router *r, unsigned methods, const char *pattern, enum sensed_role least_role,
               sensed_handler handler, void *handler_arg, sensed_plugin *owner,
               sensed_plugin **existing_owner);
/* As router_add, for tokens of `scope` only (copied; NULL is router_add). */
int router_add_scoped(struct router *r, unsigned methods, const char *pattern,
                      enum sensed_role least_role, const char *scope, sensed_handler handler,
                      void *handler_arg, sensed_plugin *owner, sensed_plugin **existing_owner);
/* Remove every route of `owner` (undo of a failed init). */
void router_remove_owner(struct router *r, sensed_plugin *owner);
/* Match a raw path (still percent-encoded, no query string).  `path` is modified in
 * place: segments are NUL-terminated and percent-decoded, and the match points into it.
 * Returns 0 when a route matched, SENSED_ENOTFOUND when no pattern matches the path,
 * SENSED_EUNSUPPORTED when the path matches under other methods only
 * (m->allowed_methods says which), SENSED_EINVAL when a segment decodes to a NUL or is
 * badly encoded, SENSED_ETOOLARGE past ROUTER_MAX_SEGMENTS. */
int router_match(const struct router *r, unsigned method, char *path, struct router_match *m);
/* The value of a hex digit (either case), or -1: percent-decoding of paths here and of
 * queries and forms in request.c. */
int hex_digit_value(char c);
/* Call fn for every route (authorization sweep, listings). */
void router_foreach(const struct router *r, void (*fn)(const struct route *, void *), void *arg);

#endif
