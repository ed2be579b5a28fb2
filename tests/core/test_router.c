/* Unit tests of core/router.c: table-driven matching, precedence, backtracking,
 * normalisation, decoding, errors, remove_owner and lookup cost. */
#include "plugin_loader.h"
#include "router.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

extern _Thread_local unsigned long router_nodes_visited;

static void handler_a(sensed_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

static sensed_plugin owner_one = {.name = "one"};
static sensed_plugin owner_two = {.name = "two"};

struct case_row {
	unsigned method;
	const char *path;
	int rc;
	const char *pattern; /* expected route pattern when rc == 0 */
	const char *param;   /* "name=value" of the first parameter, or NULL */
};

static void add(struct router *r, unsigned methods, const char *pattern)
{
	int rc = router_add(r, methods, pattern, SENSED_ROLE_CONSUMER, handler_a, NULL, &owner_one,
	                    NULL);
	cr_assert_eq(rc, 0, "router_add %s: %d", pattern, rc);
}

static void check_rows(struct router *r, const struct case_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s", rows[i].path);
		struct router_match m;
		int rc = router_match(r, rows[i].method, path, &m);
		cr_assert_eq(rc, rows[i].rc, "%s: rc %d, want %d", rows[i].path, rc, rows[i].rc);
		if (rc != 0)
			continue;
		cr_assert_str_eq(m.route->pattern, rows[i].pattern, "%s", rows[i].path);
		if (rows[i].param) {
			char want[128];
			cr_assert(m.param_count > 0, "%s: no params", rows[i].path);
			snprintf(want, sizeof(want), "%s=%s", m.param_names[0], m.param_values[0]);
			cr_assert_str_eq(want, rows[i].param, "%s", rows[i].path);
		}
	}
}

static const struct case_row alert_rows[] = {
    {SENSED_GET, "/api/v1/alerts/count", 0, "/api/v1/alerts/count", NULL},
    {SENSED_GET, "/api/v1/alerts/abc", 0, "/api/v1/alerts/{id}", "id=abc"},
    {SENSED_GET, "/api/v1//alerts//count/", 0, "/api/v1/alerts/count", NULL},
    {SENSED_GET, "//api/v1/alerts/x/", 0, "/api/v1/alerts/{id}", "id=x"},
    {SENSED_GET, "/api/v1/alerts", SENSED_ENOTFOUND, NULL, NULL},
    {SENSED_GET, "/api/v1/alerts/a/b", SENSED_ENOTFOUND, NULL, NULL},
    {SENSED_POST, "/api/v1/alerts/count", SENSED_EUNSUPPORTED, NULL, NULL},
};

Test(router, literal_wins_registered_first)
{
	struct router *r = router_new();
	add(r, SENSED_GET, "/alerts/count");
	add(r, SENSED_GET | SENSED_DELETE, "/alerts/{id}");
	check_rows(r, alert_rows, sizeof(alert_rows) / sizeof(alert_rows[0]));
	router_free(r);
}

Test(router, literal_wins_registered_last)
{
	struct router *r = router_new();
	add(r, SENSED_GET | SENSED_DELETE, "/alerts/{id}");
	add(r, SENSED_GET, "/alerts/count");
	check_rows(r, alert_rows, sizeof(alert_rows) / sizeof(alert_rows[0]));
	router_free(r);
}

Test(router, backtracks_from_dead_literal_branch)
{
	struct router *r = router_new();
	add(r, SENSED_POST, "/dashboards/{server}/{title}/replace_datasource");
	add(r, SENSED_GET, "/dashboards/{id}/widgets/{wid}");
	add(r, SENSED_GET, "/dashboards/export/{id}");
	add(r, SENSED_GET, "/datasets/{fullname}/datasecurity");
	add(r, SENSED_GET, "/datasets/by_fullname/{fullname}");
	static const struct case_row rows[] = {
	    {SENSED_POST, "/api/v1/dashboards/s/t/replace_datasource", 0,
	     "/api/v1/dashboards/{server}/{title}/replace_datasource", "server=s"},
	    {SENSED_GET, "/api/v1/dashboards/d1/widgets/w1", 0,
	     "/api/v1/dashboards/{id}/widgets/{wid}", "id=d1"},
	    /* "export" is a literal child; its branch dead-ends, so {id} must be tried. */
	    {SENSED_GET, "/api/v1/dashboards/export/widgets/w1", 0,
	     "/api/v1/dashboards/{id}/widgets/{wid}", "id=export"},
	    {SENSED_GET, "/api/v1/dashboards/export/7", 0, "/api/v1/dashboards/export/{id}",
	     "id=7"},
	    /* Leftmost literal first: both patterns match, "by_fullname" wins. */
	    {SENSED_GET, "/api/v1/datasets/by_fullname/datasecurity", 0,
	     "/api/v1/datasets/by_fullname/{fullname}", "fullname=datasecurity"},
	    {SENSED_GET, "/api/v1/datasets/sales/datasecurity", 0,
	     "/api/v1/datasets/{fullname}/datasecurity", "fullname=sales"},
	    {SENSED_GET, "/api/v1/datasets/by_fullname/x", 0,
	     "/api/v1/datasets/by_fullname/{fullname}", "fullname=x"},
	};
	check_rows(r, rows, sizeof(rows) / sizeof(rows[0]));
	router_free(r);
}

Test(router, params_in_order)
{
	struct router *r = router_new();
	add(r, SENSED_GET, "/dashboards/{id}/widgets/{wid}");
	char path[] = "/api/v1/dashboards/d%201/widgets/w%2F2";
	struct router_match m;
	cr_assert_eq(router_match(r, SENSED_GET, path, &m), 0);
	cr_assert_eq(m.param_count, 2);
	cr_assert_str_eq(m.param_names[0], "id");
	cr_assert_str_eq(m.param_values[0], "d 1");
	cr_assert_str_eq(m.param_names[1], "wid");
	cr_assert_str_eq(m.param_values[1], "w/2", "%%2F stays inside its segment");
	router_free(r);
}

Test(router, decoding_errors)
{
	struct router *r = router_new();
	add(r, SENSED_GET, "/users/{id}");
	static const struct case_row rows[] = {
	    {SENSED_GET, "/api/v1/users/a%00b", SENSED_EINVAL, NULL, NULL},
	    {SENSED_GET, "/api/v1/users/a%zz", SENSED_EINVAL, NULL, NULL},
	    {SENSED_GET, "/api/v1/users/a%4", SENSED_EINVAL, NULL, NULL},
	    {SENSED_GET, "/api/v1/users/a+b", 0, "/api/v1/users/{id}", "id=a+b"},
	    {SENSED_GET, "/api/v1/%75sers/x", 0, "/api/v1/users/{id}", "id=x"},
	    {SENSED_GET, "/", SENSED_ENOTFOUND, NULL, NULL},
	    {SENSED_GET, "", SENSED_ENOTFOUND, NULL, NULL},
	};
	check_rows(r, rows, sizeof(rows) / sizeof(rows[0]));
	char deep[1024] = "";
	for (int i = 0; i < ROUTER_MAX_SEGMENTS + 1; i++)
		strcat(deep, "/a");
	struct router_match m;
	cr_assert_eq(router_match(r, SENSED_GET, deep, &m), SENSED_ETOOLARGE);
	router_free(r);
}

Test(router, method_not_allowed_lists_allowed)
{
	struct router *r = router_new();
	add(r, SENSED_GET | SENSED_PATCH, "/users/{id}");
	add(r, SENSED_DELETE, "/users/{id}");
	char path[] = "/api/v1/users/1";
	struct router_match m;
	cr_assert_eq(router_match(r, SENSED_POST, path, &m), SENSED_EUNSUPPORTED);
	cr_assert_eq(m.allowed_methods, SENSED_GET | SENSED_PATCH | SENSED_DELETE);
	cr_assert_null(m.route);
	router_free(r);
}

Test(router, duplicate_refused_naming_owner)
{
	struct router *r = router_new();
	add(r, SENSED_GET, "/users");
	sensed_plugin *holder = NULL;
	int rc = router_add(r, SENSED_POST | SENSED_GET, "/api/v1/users", SENSED_ROLE_ADMIN,
	                    handler_a, NULL, &owner_two, &holder);
	cr_assert_eq(rc, SENSED_EEXISTS);
	cr_assert_eq(holder, &owner_one);
	/* Nothing was added: POST is still free. */
	char path[] = "/api/v1/users";
	struct router_match m;
	cr_assert_eq(router_match(r, SENSED_POST, path, &m), SENSED_EUNSUPPORTED);
	cr_assert_eq(router_add(r, SENSED_POST, "/users", SENSED_ROLE_ADMIN, handler_a, NULL,
	                        &owner_two, NULL),
	             0);
	router_free(r);
}

Test(router, malformed_patterns)
{
	struct router *r = router_new();
	const char *bad[] = {"", "users", "/a/{}", "/a/{id", "/a/id}", "/a/x{id}", "/a/%41"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(
		    router_add(r, SENSED_GET, bad[i], 0, handler_a, NULL, &owner_one, NULL),
		    SENSED_EINVAL, "%s", bad[i]);
	cr_assert_eq(router_add(r, 0, "/a", 0, handler_a, NULL, &owner_one, NULL), SENSED_EINVAL);
	router_free(r);
}

Test(router, v09_paths_kept)
{
	struct router *r = router_new();
	add(r, SENSED_GET, "/api/roles");
	static const struct case_row rows[] = {
	    {SENSED_GET, "/api/roles", 0, "/api/roles", NULL},
	    {SENSED_GET, "/api/v1/api/roles", SENSED_ENOTFOUND, NULL, NULL},
	};
	check_rows(r, rows, 2);
	router_free(r);
}

static void count_route(const struct route *route, void *arg)
{
	(void)route;
	(*(int *)arg)++;
}

Test(router, remove_owner_and_foreach)
{
	struct router *r = router_new();
	add(r, SENSED_GET | SENSED_POST, "/users");
	cr_assert_eq(
	    router_add(r, SENSED_GET, "/groups/{id}", 0, handler_a, NULL, &owner_two, NULL), 0);
	int count = 0;
	router_foreach(r, count_route, &count);
	cr_assert_eq(count, 3);
	router_remove_owner(r, &owner_one);
	count = 0;
	router_foreach(r, count_route, &count);
	cr_assert_eq(count, 1);
	char path[] = "/api/v1/users";
	struct router_match m;
	cr_assert_eq(router_match(r, SENSED_GET, path, &m), SENSED_ENOTFOUND);
	cr_assert_eq(router_add(r, SENSED_GET, "/users", 0, handler_a, NULL, &owner_two, NULL), 0);
	router_free(r);
}

static unsigned long visits_for(int route_count)
{
	struct router *r = router_new();
	char pattern[64];
	for (int i = 0; i < route_count; i++) {
		snprintf(pattern, sizeof(pattern), "/area%d/items/{id}", i);
		add(r, SENSED_GET, pattern);
	}
	add(r, SENSED_GET, "/target/items/{id}");
	char path[] = "/api/v1/target/items/42";
	struct router_match m;
	router_nodes_visited = 0;
	cr_assert_eq(router_match(r, SENSED_GET, path, &m), 0);
	unsigned long visits = router_nodes_visited;
	router_free(r);
	return visits;
}

Test(router, lookup_cost_independent_of_route_count)
{
	unsigned long small = visits_for(10);
	unsigned long large = visits_for(10000);
	cr_assert_eq(small, large, "visited %lu vs %lu nodes", small, large);
	cr_assert_eq(small, 6); /* root + api + v1 + target + items + {id} */
}
