/* Fuzz router_match: the first byte picks a method, the rest is a raw request path matched
 * against a route table shaped like the real one (literals, parameters, a catch-all
 * prefix).  The match must point inside the caller's buffer and be NUL-free. */
#include "router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void handler(sensed_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

static struct router *table(void)
{
	static struct router *r;
	static const char *const patterns[] = {
	    "/api/v1/application/status",
	    "/api/v1/users",
	    "/api/v1/users/{id}",
	    "/api/v1/users/bulk",
	    "/api/v1/groups/{id}/users",
	    "/api/v1/folders/{id}",
	    "/api/v1/dashboards/{id}/widgets/{wid}",
	    "/api/roles/{id}",
	    "/api/v1/a/{b}/{c}/{d}/{e}",
	};

	if (r)
		return r;
	r = router_new();
	if (!r)
		abort();
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		router_add(r, SENSED_GET | SENSED_POST | (i % 2 ? SENSED_DELETE : SENSED_PATCH),
		           patterns[i], (enum sensed_role)(i % 7), handler, NULL, NULL, NULL);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct router_match m;
	unsigned method;
	char *path;
	int rc;

	if (size < 1)
		return 0;
	method = 1u << (data[0] % 7);
	path = malloc(size);
	if (!path)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	memset(&m, 0, sizeof(m));
	rc = router_match(table(), method, path, &m);
	if (rc == 0) {
		if (!m.route || m.param_count < 0 || m.param_count > ROUTER_MAX_PARAMS)
			abort();
		for (int i = 0; i < m.param_count; i++) {
			size_t len = strlen(m.param_values[i]);

			if (m.param_values[i] < path || m.param_values[i] + len >= path + size)
				abort();
		}
	}
	free(path);
	return 0;
}
