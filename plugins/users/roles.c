/* GET /api/roles, GET /api/roles/{idOrName} (v0.9 paths) and
 * GET /account/get_license_info. */
#include "internal.h"

#include <stdlib.h>

static void list_roles(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_query q = SENSED_QUERY_INIT;
	json_t *roles = NULL;
	if (U.host->request_list_query(req, &q) != 0)
		return;
	int err = U.host->find(NULL, U.roles, &q, &roles);
	reply_shaped(req, err, roles);
	json_decref(roles);
}

static void get_role(sensed_request *req, void *arg)
{
	(void)arg;
	const char *key = U.host->request_param(req, "idOrName");
	const struct role_info *role = role_by_id_or_name(key);
	sensed_query q = SENSED_QUERY_INIT;
	if (U.host->request_list_query(req, &q) != 0)
		return;
	if (role == NULL || U.host->reply_document(req, U.roles, role->id, &q) != 0)
		reply_not_found(req, SENSED_CODE_ROLE_NOT_FOUND, "role", key);
}

static json_t *limit_json(long max)
{
	return json_integer(max);
}

static void license_info(sensed_request *req, void *arg)
{
	(void)arg;
	size_t used[SEAT_COUNT];
	int err = seats_in_use(NULL, used);
	if (err != 0) {
		U.host->reply_store_error(req, err);
		return;
	}
	const struct license *l = &U.license;
	json_t *body =
	    json_pack("{s:b, s:s?, s:b, s:I, s:I, s:I, s:o, s:o, s:o, s:b}", "bigData", l->big_data,
	              "expirationDate", l->expiration[0] ? l->expiration : NULL, "highAvailability",
	              l->high_availability, "inUseAdmins", (json_int_t)used[SEAT_ADMIN],
	              "inUseDesigners", (json_int_t)used[SEAT_DESIGNER], "inUseViewers",
	              (json_int_t)used[SEAT_VIEWER], "maxAdmins", limit_json(l->max[SEAT_ADMIN]),
	              "maxDesigners", limit_json(l->max[SEAT_DESIGNER]), "maxViewers",
	              limit_json(l->max[SEAT_VIEWER]), "trial", l->trial);
	if (body == NULL) {
		U.host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	/* "s?" drops a NULL string: the wire shape always carries the key. */
	if (json_object_get(body, "expirationDate") == NULL)
		json_object_set_new(body, "expirationDate", json_null());
	U.host->reply_json(req, 200, body);
	json_decref(body);
}

int roles_register(sensed_plugin *self)
{
	static const struct users_route routes[] = {
	    {SENSED_GET, "/api/roles", SENSED_ROLE_CONSUMER, list_roles},
	    {SENSED_GET, "/api/roles/{idOrName}", SENSED_ROLE_CONSUMER, get_role},
	    {SENSED_GET, "/account/get_license_info", SENSED_ROLE_ADMIN, license_info},
	};
	return routes_add(self, routes, sizeof routes / sizeof routes[0]);
}
