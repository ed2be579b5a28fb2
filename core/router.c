/* Method + path-pattern router (contract in router.h).
 *
 * A trie with one node per path segment.  Each node keeps its literal children in an
 * array sorted by name (binary search) and at most one parameter child, so a lookup
 * visits one node per segment (plus backtracking into parameter branches when a literal
 * branch dead-ends), whatever the number of routes.  Precedence is leftmost-literal-first:
 * at each segment the literal child is tried before the parameter child.  Each node holds one route
 * per method bit. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#define METHOD_COUNT 7

/* A route plus the parameter names of its pattern, in path order. */
struct route_entry {
	struct route pub;
	int param_count;
	char *param_names[ROUTER_MAX_PARAMS]; /* point into param_storage */
	char *param_storage;
};

struct literal_child {
	char *name;
	struct node *child;
};

struct node {
	struct literal_child *literals; /* sorted by name */
	size_t literal_count;
	size_t literal_cap;
	struct node *param_child;
	struct route_entry *routes[METHOD_COUNT]; /* by method bit index */
};

struct router {
	struct node root;
};

/* Incremented per trie node a lookup visits; lets tests prove lookups do not scan. */
_Thread_local unsigned long router_nodes_visited;

static int method_index(unsigned method_bit)
{
	for (int i = 0; i < METHOD_COUNT; i++)
		if (method_bit == (1u << i))
			return i;
	return -1;
}

struct router *router_new(void)
{
	return calloc(1, sizeof(struct router));
}

static void route_entry_free(struct route_entry *e)
{
	if (!e)
		return;
	free(e->pub.pattern);
	free(e->pub.scope);
	free(e->param_storage);
	free(e);
}

static void node_clear(struct node *n)
{
	for (size_t i = 0; i < n->literal_count; i++) {
		node_clear(n->literals[i].child);
		free(n->literals[i].child);
		free(n->literals[i].name);
	}
	free(n->literals);
	if (n->param_child) {
		node_clear(n->param_child);
		free(n->param_child);
	}
	for (int i = 0; i < METHOD_COUNT; i++)
		route_entry_free(n->routes[i]);
	memset(n, 0, sizeof(*n));
}

void router_free(struct router *r)
{
	if (!r)
		return;
	node_clear(&r->root);
	free(r);
}

/* Binary search; returns the index of `name` or, when absent, -(insertion point) - 1. */
static long literal_find(const struct node *n, const char *name)
{
	size_t lo = 0, hi = n->literal_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(n->literals[mid].name, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static int is_param_segment(const char *seg, size_t len)
{
	return len >= 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/* Split a pattern into segments (copied into `storage`, NUL-separated). */
struct pattern_parts {
	char *storage;
	int count;
	char *segments[ROUTER_MAX_SEGMENTS];
};

static int pattern_split(const char *pattern, struct pattern_parts *p)
{
	memset(p, 0, sizeof(*p));
	if (!pattern || pattern[0] != '/')
		return SENSED_EINVAL;
	p->storage = strdup(pattern);
	if (!p->storage)
		return SENSED_ENOMEM;
	int params = 0;
	char *save = NULL;
	for (char *seg = strtok_r(p->storage, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		size_t len = strlen(seg);
		if (p->count == ROUTER_MAX_SEGMENTS)
			goto invalid;
		if (strchr(seg, '{') || strchr(seg, '}')) {
			if (!is_param_segment(seg, len) || len == 2 ||
			    memchr(seg + 1, '{', len - 2) || memchr(seg + 1, '}', len - 2))
				goto invalid;
			if (++params > ROUTER_MAX_PARAMS)
				goto invalid;
		}
		if (strchr(seg, '%') || strchr(seg, '?'))
			goto invalid;
		p->segments[p->count++] = seg;
	}
	return 0;
invalid:
	free(p->storage);
	p->storage = NULL;
	return SENSED_EINVAL;
}

/* Full pattern: prefixed with /api/v1 unless it already starts with /api/. */
static char *full_pattern(const char *pattern)
{
	if (strncmp(pattern, "/api/", 5) == 0)
		return strdup(pattern);
	size_t len = strlen(pattern);
	char *full = malloc(len + 8);
	if (!full)
		return NULL;
	memcpy(full, "/api/v1", 7);
	memcpy(full + 7, pattern, len + 1);
	return full;
}

/* Walk (and with `create`, build) the trie for the pattern's segments. */
static struct node *node_walk(struct router *r, const struct pattern_parts *p, int create)
{
	struct node *n = &r->root;
	for (int i = 0; i < p->count; i++) {
		const char *seg = p->segments[i];
		if (is_param_segment(seg, strlen(seg))) {
			if (!n->param_child) {
				if (!create)
					return NULL;
				n->param_child = calloc(1, sizeof(struct node));
				if (!n->param_child)
					return NULL;
			}
			n = n->param_child;
			continue;
		}
		long at = literal_find(n, seg);
		if (at >= 0) {
			n = n->literals[at].child;
			continue;
		}
		if (!create)
			return NULL;
		size_t pos = (size_t)(-at - 1);
		if (n->literal_count == n->literal_cap) {
			size_t cap = n->literal_cap ? n->literal_cap * 2 : 4;
			struct literal_child *grown = realloc(n->literals, cap * sizeof(*grown));
			if (!grown)
				return NULL;
			n->literals = grown;
			n->literal_cap = cap;
		}
		struct node *child = calloc(1, sizeof(*child));
		char *name = strdup(seg);
		if (!child || !name) {
			free(child);
			free(name);
			return NULL;
		}
		memmove(n->literals + pos + 1, n->literals + pos,
		        (n->literal_count - pos) * sizeof(*n->literals));
		n->literals[pos] = (struct literal_child){.name = name, .child = child};
		n->literal_count++;
		n = child;
	}
	return n;
}

static struct route_entry *route_entry_new(unsigned method, const char *full,
                                           const struct pattern_parts *p,
                                           enum sensed_role least_role, const char *scope,
                                           sensed_handler handler, void *handler_arg,
                                           sensed_plugin *owner)
{
	struct route_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pub = (struct route){.method = method,
	                        .pattern = strdup(full),
	                        .least_role = least_role,
	                        .handler = handler,
	                        .handler_arg = handler_arg,
	                        .owner = owner,
	                        .scope = scope ? strdup(scope) : NULL};
	size_t names_len = 0;
	for (int i = 0; i < p->count; i++)
		if (is_param_segment(p->segments[i], strlen(p->segments[i])))
			names_len += strlen(p->segments[i]);
	e->param_storage = malloc(names_len + 1);
	if (!e->pub.pattern || !e->param_storage || (scope && !e->pub.scope)) {
		route_entry_free(e);
		return NULL;
	}
	char *out = e->param_storage;
	for (int i = 0; i < p->count; i++) {
		size_t len = strlen(p->segments[i]);
		if (!is_param_segment(p->segments[i], len))
			continue;
		memcpy(out, p->segments[i] + 1, len - 2);
		out[len - 2] = '\0';
		e->param_names[e->param_count++] = out;
		out += len - 1;
	}
	return e;
}

int router_add(struct router *r, unsigned methods, const char *pattern, enum sensed_role least_role,
               sensed_handler handler, void *handler_arg, sensed_plugin *owner,
               sensed_plugin **existing_owner)
{
	return router_add_scoped(r, methods, pattern, least_role, NULL, handler, handler_arg, owner,
	                         existing_owner);
}

int router_add_scoped(struct router *r, unsigned methods, const char *pattern,
                      enum sensed_role least_role, const char *scope, sensed_handler handler,
                      void *handler_arg, sensed_plugin *owner, sensed_plugin **existing_owner)
{
	if (!r || !pattern || pattern[0] != '/' || !handler || methods == 0 ||
	    (methods >> METHOD_COUNT) != 0)
		return SENSED_EINVAL;
	char *full = full_pattern(pattern);
	if (!full)
		return SENSED_ENOMEM;
	struct pattern_parts parts;
	int rc = pattern_split(full, &parts);
	if (rc) {
		free(full);
		return rc;
	}
	struct node *existing = node_walk(r, &parts, 0);
	if (existing) {
		for (int i = 0; i < METHOD_COUNT; i++) {
			if ((methods & (1u << i)) && existing->routes[i]) {
				if (existing_owner)
					*existing_owner = existing->routes[i]->pub.owner;
				rc = SENSED_EEXISTS;
				goto out;
			}
		}
	}
	struct node *n = node_walk(r, &parts, 1);
	struct route_entry *fresh[METHOD_COUNT] = {0};
	if (!n) {
		rc = SENSED_ENOMEM;
		goto out;
	}
	for (int i = 0; i < METHOD_COUNT; i++) {
		if (!(methods & (1u << i)))
			continue;
		fresh[i] = route_entry_new(1u << i, full, &parts, least_role, scope, handler,
		                           handler_arg, owner);
		if (!fresh[i]) {
			for (int j = 0; j < METHOD_COUNT; j++)
				route_entry_free(fresh[j]);
			rc = SENSED_ENOMEM;
			goto out;
		}
	}
	for (int i = 0; i < METHOD_COUNT; i++)
		if (fresh[i])
			n->routes[i] = fresh[i];
out:
	free(parts.storage);
	free(full);
	return rc;
}

static void node_remove_owner(struct node *n, sensed_plugin *owner)
{
	for (int i = 0; i < METHOD_COUNT; i++) {
		if (n->routes[i] && n->routes[i]->pub.owner == owner) {
			route_entry_free(n->routes[i]);
			n->routes[i] = NULL;
		}
	}
	for (size_t i = 0; i < n->literal_count; i++)
		node_remove_owner(n->literals[i].child, owner);
	if (n->param_child)
		node_remove_owner(n->param_child, owner);
}

void router_remove_owner(struct router *r, sensed_plugin *owner)
{
	if (r)
		node_remove_owner(&r->root, owner);
}

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode one segment in place ('+' stays literal in a path).  SENSED_EINVAL on a
 * decoded NUL or a malformed escape. */
static int segment_decode(char *seg)
{
	char *out = seg;
	for (const char *in = seg; *in; in++) {
		if (*in != '%') {
			*out++ = *in;
			continue;
		}
		int hi = hex_digit_value(in[1]);
		int lo = hi < 0 ? -1 : hex_digit_value(in[2]);
		if (hi < 0 || lo < 0)
			return SENSED_EINVAL;
		char c = (char)(hi * 16 + lo);
		if (c == '\0')
			return SENSED_EINVAL;
		*out++ = c;
		in += 2;
	}
	*out = '\0';
	return 0;
}

struct match_state {
	char **segments;
	int count;
	unsigned method;
	int method_index;
	char *values[ROUTER_MAX_SEGMENTS];
	int value_count;
	unsigned allowed; /* methods seen on a path that matched without this method */
};

static const struct route_entry *match_node(const struct node *n, int depth, struct match_state *st)
{
	router_nodes_visited++;
	if (depth == st->count) {
		const struct route_entry *e = n->routes[st->method_index];
		if (e)
			return e;
		for (int i = 0; i < METHOD_COUNT; i++)
			if (n->routes[i])
				st->allowed |= 1u << i;
		return NULL;
	}
	long at = literal_find(n, st->segments[depth]);
	if (at >= 0) {
		const struct route_entry *e = match_node(n->literals[at].child, depth + 1, st);
		if (e)
			return e;
	}
	if (n->param_child) {
		int saved = st->value_count;
		st->values[st->value_count++] = st->segments[depth];
		const struct route_entry *e = match_node(n->param_child, depth + 1, st);
		if (e)
			return e;
		st->value_count = saved;
	}
	return NULL;
}

int router_match(const struct router *r, unsigned method, char *path, struct router_match *m)
{
	memset(m, 0, sizeof(*m));
	int mi = method_index(method);
	if (!r || !path || mi < 0)
		return SENSED_EINVAL;
	char *segments[ROUTER_MAX_SEGMENTS];
	int count = 0;
	char *p = path;
	while (*p) {
		while (*p == '/')
			*p++ = '\0';
		if (!*p)
			break;
		if (count == ROUTER_MAX_SEGMENTS)
			return SENSED_ETOOLARGE;
		segments[count++] = p;
		while (*p && *p != '/')
			p++;
	}
	for (int i = 0; i < count; i++)
		if (segment_decode(segments[i]))
			return SENSED_EINVAL;

	struct match_state st = {
	    .segments = segments, .count = count, .method = method, .method_index = mi};
	const struct route_entry *e = match_node(&r->root, 0, &st);
	if (!e) {
		m->allowed_methods = st.allowed;
		return st.allowed ? SENSED_EUNSUPPORTED : SENSED_ENOTFOUND;
	}
	m->route = &e->pub;
	m->allowed_methods = st.allowed | method;
	m->param_count = e->param_count;
	for (int i = 0; i < e->param_count && i < st.value_count; i++) {
		m->param_names[i] = e->param_names[i];
		m->param_values[i] = st.values[i];
	}
	return 0;
}

static void node_foreach(const struct node *n, void (*fn)(const struct route *, void *), void *arg)
{
	for (int i = 0; i < METHOD_COUNT; i++)
		if (n->routes[i])
			fn(&n->routes[i]->pub, arg);
	for (size_t i = 0; i < n->literal_count; i++)
		node_foreach(n->literals[i].child, fn, arg);
	if (n->param_child)
		node_foreach(n->param_child, fn, arg);
}

void router_foreach(const struct router *r, void (*fn)(const struct route *, void *), void *arg)
{
	if (r && fn)
		node_foreach(&r->root, fn, arg);
}
