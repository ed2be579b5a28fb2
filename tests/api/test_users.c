/* /users end to end, the license limits, and the whole authorization matrix of
 * plugins/users/AUTHORIZATION.md (every route x every role, table-driven). */
#include "api/users_support.h"

#define USERS "/api/v1/users"

/* ---- The authorization matrix ------------------------------------------------------------ */

enum { ANON, CONSUMER, CONTRIBUTOR, DATA_DESIGNER, DATA_ADMIN, ADMIN, SUPER, ACTORS };
static const char *const actor_roles[ACTORS] = {
    NULL, "consumer", "contributor", "dataDesigner", "dataAdmin", "admin", "super"};

/* Placeholders in paths and bodies, replaced per cell:
 *   %SELF% the caller's id; %USER% a fresh consumer; %ADMIN% a fresh admin; %SUPER% the
 *   super user; %GROUP% a fresh group; %N% a number unique in the run; %ADMINROLE% and
 *   %VIEWERROLE% role ids (the latter another role than the caller's); %PW% the caller's
 *   password. */
static const struct cell {
	const char *name;
	const char *method;
	const char *path;
	const char *body;
	int expected[ACTORS]; /* anon, consumer, contributor, dataDesigner, dataAdmin, admin, super
	                       */
} matrix[] = {
    {"list users", "GET", "/api/v1/users", NULL, {401, 403, 403, 403, 403, 200, 200}},
    {"get another user", "GET", "/api/v1/users/%USER%", NULL, {401, 403, 403, 403, 403, 200, 200}},
    {"get own user", "GET", "/api/v1/users/%SELF%", NULL, {401, 200, 200, 200, 200, 200, 200}},
    {"create a viewer",
     "POST",
     "/api/v1/users",
     "{\"email\": \"c%N%@m.test\", \"roleId\": \"consumer\"}",
     {401, 403, 403, 403, 403, 201, 201}},
    {"create a dataAdmin",
     "POST",
     "/api/v1/users",
     "{\"email\": \"c%N%@m.test\", \"roleId\": \"dataAdmin\"}",
     {401, 403, 403, 403, 403, 201, 201}},
    {"create an admin",
     "POST",
     "/api/v1/users",
     "{\"email\": \"c%N%@m.test\", \"roleId\": \"%ADMINROLE%\"}",
     {401, 403, 403, 403, 403, 403, 201}},
    {"create a super user",
     "POST",
     "/api/v1/users",
     "{\"email\": \"c%N%@m.test\", \"roleId\": \"super\"}",
     {401, 403, 403, 403, 403, 403, 400}},
    {"bulk create",
     "POST",
     "/api/v1/users/bulk",
     "[{\"email\": \"b%N%@m.test\", \"roleId\": \"consumer\"}]",
     {401, 403, 403, 403, 403, 201, 201}},
    {"edit own names and preferences",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"firstName\": \"F\", \"lastName\": \"L\", \"preferences\": {\"localeId\": \"fr-FR\"}}",
     {401, 200, 200, 200, 200, 200, 200}},
    {"change own password with the old one",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"password\": \"%PW%\", \"oldPassword\": \"%PW%\"}",
     {401, 200, 200, 200, 200, 200, 200}},
    {"change own role",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"roleId\": \"%VIEWERROLE%\"}",
     {401, 403, 403, 403, 403, 403, 403}},
    {"deactivate oneself",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"active\": false}",
     {401, 403, 403, 403, 403, 403, 403}},
    {"change own groups",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"groups\": [\"%GROUP%\"]}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"change own email",
     "PATCH",
     "/api/v1/users/%SELF%",
     "{\"email\": \"e%N%@m.test\"}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"edit another user",
     "PATCH",
     "/api/v1/users/%USER%",
     "{\"firstName\": \"X\"}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"deactivate another user",
     "PATCH",
     "/api/v1/users/%USER%",
     "{\"active\": false}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"set another user's password",
     "PATCH",
     "/api/v1/users/%USER%",
     "{\"password\": \"New-Passw0rd!\"}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"promote another user to admin",
     "PATCH",
     "/api/v1/users/%USER%",
     "{\"roleId\": \"%ADMINROLE%\"}",
     {401, 403, 403, 403, 403, 403, 200}},
    {"edit an admin",
     "PATCH",
     "/api/v1/users/%ADMIN%",
     "{\"firstName\": \"X\"}",
     {401, 403, 403, 403, 403, 403, 200}},
    {"edit the super user",
     "PATCH",
     "/api/v1/users/%SUPER%",
     "{\"firstName\": \"X\"}",
     {401, 403, 403, 403, 403, 403, 200}},
    {"delete a user", "DELETE", "/api/v1/users/%USER%", NULL, {401, 403, 403, 403, 403, 204, 204}},
    {"delete an admin",
     "DELETE",
     "/api/v1/users/%ADMIN%",
     NULL,
     {401, 403, 403, 403, 403, 403, 204}},
    {"delete the super user",
     "DELETE",
     "/api/v1/users/%SUPER%",
     NULL,
     {401, 403, 403, 403, 403, 400, 400}},
    {"delete oneself", "DELETE", "/api/v1/users/%SELF%", NULL, {401, 403, 403, 403, 403, 403, 400}},
    {"list groups", "GET", "/api/v1/groups", NULL, {401, 200, 200, 200, 200, 200, 200}},
    {"list groups with members",
     "GET",
     "/api/v1/groups?expand=users",
     NULL,
     {401, 403, 403, 403, 403, 200, 200}},
    {"get a group", "GET", "/api/v1/groups/%GROUP%", NULL, {401, 200, 200, 200, 200, 200, 200}},
    {"get a group with members",
     "GET",
     "/api/v1/groups/%GROUP%?expand=users",
     NULL,
     {401, 403, 403, 403, 403, 200, 200}},
    {"create a group",
     "POST",
     "/api/v1/groups",
     "{\"name\": \"g%N%\"}",
     {401, 403, 403, 403, 403, 201, 201}},
    {"edit a group",
     "PATCH",
     "/api/v1/groups/%GROUP%",
     "{\"mail\": \"g@m.test\"}",
     {401, 403, 403, 403, 403, 200, 200}},
    {"delete a group",
     "DELETE",
     "/api/v1/groups/%GROUP%",
     NULL,
     {401, 403, 403, 403, 403, 204, 204}},
    {"list roles", "GET", "/api/roles", NULL, {401, 200, 200, 200, 200, 200, 200}},
    {"get a role", "GET", "/api/roles/admin", NULL, {401, 200, 200, 200, 200, 200, 200}},
    {"license info",
     "GET",
     "/api/v1/account/get_license_info",
     NULL,
     {401, 403, 403, 403, 403, 200, 200}},
};

struct actors {
	char *id[ACTORS];
	char *token[ACTORS];
	char *super_id;
	char *admin_role;
	char *viewer_role;
	int counter;
};

/* Replace every placeholder of `text` (NULL stays NULL); fresh objects are created as the
 * super user only when their placeholder occurs.  Returns malloc'd text. */
static char *expand_cell(struct server *s, struct actors *a, int actor, const char *text)
{
	if (text == NULL)
		return NULL;
	char *out = malloc(4096);
	cr_assert_not_null(out);
	out[0] = '\0';
	char *user = NULL, *admin = NULL, *group = NULL, number[16];
	for (const char *p = text; *p;) {
		const char *value = NULL;
		size_t skip = 0;
		char name[64];
		if (sscanf(p, "%%%63[A-Z]%%", name) == 1 && p[strlen(name) + 1] == '%') {
			skip = strlen(name) + 2;
			if (strcmp(name, "SELF") == 0) {
				value = a->id[actor] ? a->id[actor] : NOBODY;
			} else if (strcmp(name, "USER") == 0) {
				if (!user) {
					snprintf(number, sizeof number, "%d", ++a->counter);
					char email[64];
					snprintf(email, sizeof email, "u%s@m.test", number);
					user = new_user(s, a->token[SUPER], email, "consumer");
				}
				value = user;
			} else if (strcmp(name, "ADMIN") == 0) {
				if (!admin) {
					char email[64];
					snprintf(email, sizeof email, "a%d@m.test", ++a->counter);
					admin = new_user(s, a->token[SUPER], email, "admin");
				}
				value = admin;
			} else if (strcmp(name, "GROUP") == 0) {
				if (!group) {
					char gname[64];
					snprintf(gname, sizeof gname, "group %d", ++a->counter);
					group = new_group(s, gname);
				}
				value = group;
			} else if (strcmp(name, "SUPER") == 0) {
				value = a->super_id;
			} else if (strcmp(name, "N") == 0) {
				snprintf(number, sizeof number, "%d", ++a->counter);
				value = number;
			} else if (strcmp(name, "PW") == 0) {
				value = actor == SUPER ? "Admin-Passw0rd!" : USER_PASSWORD;
			} else if (strcmp(name, "ADMINROLE") == 0) {
				value = a->admin_role;
			} else if (strcmp(name, "VIEWERROLE") == 0) {
				value = actor == CONSUMER ? a->admin_role : a->viewer_role;
			}
		}
		if (value != NULL) {
			strcat(out, value);
			p += skip;
		} else {
			strncat(out, p, 1);
			p++;
		}
	}
	free(user);
	free(admin);
	free(group);
	return out;
}

Test(users_authz, every_route_for_every_role, .timeout = 300)
{
	struct server *s = start_with(NULL);
	struct actors a = {0};
	a.admin_role = role_id(s, "admin");
	a.viewer_role = role_id(s, "consumer");
	a.token[SUPER] = strdup(admin_token(s));
	struct response *r = req(s, "GET", USERS "?email=admin@sensed.test", a.token[SUPER], NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	a.id[SUPER] = strdup(str(json_array_get(r->json, 0), "_id"));
	a.super_id = a.id[SUPER];
	response_free(r);
	for (int i = CONSUMER; i < SUPER; i++) {
		char email[64];
		snprintf(email, sizeof email, "%s@m.test", actor_roles[i]);
		a.id[i] = new_user(s, a.token[SUPER], email, actor_roles[i]);
		a.token[i] = login_ok(s, email, USER_PASSWORD);
	}
	for (size_t c = 0; c < sizeof matrix / sizeof matrix[0]; c++) {
		for (int i = ANON; i < ACTORS; i++) {
			char *path = expand_cell(s, &a, i, matrix[c].path);
			char *body = expand_cell(s, &a, i, matrix[c].body);
			r = req(s, matrix[c].method, path, a.token[i], body);
			cr_expect_eq(r->status, matrix[c].expected[i],
			             "%s as %s: %s %s -> %d (expected %d) %s", matrix[c].name,
			             actor_roles[i] ? actor_roles[i] : "anonymous",
			             matrix[c].method, path, r->status, matrix[c].expected[i],
			             r->body);
			if (r->status >= 400)
				cr_expect(json_is_object(json_object_get(r->json, "error")), "%s",
				          r->body);
			response_free(r);
			free(path);
			free(body);
		}
	}
	for (int i = 0; i < ACTORS; i++) {
		free(a.id[i]);
		free(a.token[i]);
	}
	free(a.admin_role);
	free(a.viewer_role);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- Create ------------------------------------------------------------------------------ */

Test(users, create_returns_201_and_the_user_without_secrets)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *viewer = role_id(s, "consumer");
	struct response *r =
	    req(s, "POST", USERS, token,
	        "{\"email\": \"Jane.Doe@M.Test\", \"username\": \"jane\", "
	        "\"firstName\": \"Jane\", \"lastName\": \"Doe\", \"role\": \"viewer\", "
	        "\"password\": \"" USER_PASSWORD "\", \"preferences\": "
	        "{\"localeId\": \"de-DE\"}}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	char *id = strdup(str(r->json, "_id"));
	cr_assert_eq(strlen(id), 24);
	cr_assert_str_eq(str(r->json, "email"), "jane.doe@m.test");
	cr_assert_str_eq(str(r->json, "userName"), "jane");
	cr_assert_null(json_object_get(r->json, "username"));
	cr_assert_str_eq(str(r->json, "firstName"), "Jane");
	cr_assert_str_eq(str(r->json, "lastName"), "Doe");
	cr_assert_str_eq(str(r->json, "roleId"), viewer);
	cr_assert(json_is_true(json_object_get(r->json, "active")));
	cr_assert(json_is_array(json_object_get(r->json, "groups")));
	cr_assert(json_is_null(json_object_get(r->json, "lastLogin")), "%s", r->body);
	cr_assert(is_wire_date(str(r->json, "created")), "%s", r->body);
	cr_assert(is_wire_date(str(r->json, "lastUpdated")), "%s", r->body);
	cr_assert_str_eq(str(json_object_get(r->json, "preferences"), "localeId"), "de-DE");
	response_free(r);

	r = reqf(s, "GET", token, NULL, USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "userName"), "jane");
	response_free(r);
	/* the password works, by user name and by e-mail; the core stamps lastLogin */
	free(login_ok(s, "jane", USER_PASSWORD));
	char *user_token = login_ok(s, "JANE.DOE@m.test", USER_PASSWORD);
	r = reqf(s, "GET", user_token, NULL, USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(is_wire_date(str(r->json, "lastLogin")), "%s", r->body);
	response_free(r);

	/* without a password: created, but nobody can sign in as them; userName defaults */
	r = req(s, "POST", USERS, token,
	        "{\"email\": \"nopass@m.test\", \"roleId\": \"contributor\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(str(r->json, "userName"), "nopass@m.test");
	response_free(r);
	cr_assert_null(login(s, "nopass@m.test", ""));
	cr_assert_null(login(s, "nopass@m.test", "anything"));
	free(user_token);
	free(id);
	free(viewer);
	cr_assert_eq(server_stop(s), 0);
}

Test(users, create_errors)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	free(new_user(s, token, "taken@m.test", "consumer"));
	static const struct {
		const char *body;
		int status, code;
	} cases[] = {
	    {"{\"roleId\": \"consumer\"}", 422, 2003},
	    {"{\"email\": \"x1@m.test\"}", 422, 2003},
	    {"{}", 422, 2003},
	    {"{\"email\": \"\", \"roleId\": \"consumer\"}", 400, 2009},
	    {"{\"email\": \"x2@m.test\", \"roleId\": \"\"}", 400, 2009},
	    {"{\"email\": \"x3@m.test\", \"userName\": \"\", \"roleId\": \"consumer\"}", 400, 2009},
	    {"{\"email\": \"TAKEN@m.test\", \"roleId\": \"consumer\"}", 400, 2004},
	    {"{\"email\": \"x4@m.test\", \"userName\": \"taken@m.test\", \"roleId\": \"consumer\"}",
	     400, 2004},
	    {"{\"email\": \"x5@m.test\", \"roleId\": \"super\"}", 400, 2006},
	    {"{\"email\": \"x6@m.test\", \"roleId\": \"emperor\"}", 400, 1008},
	    {"{\"email\": \"x7@m.test\", \"roleId\": \"" NOBODY "\"}", 400, 1008},
	    {"{\"email\": \"not-an-address\", \"roleId\": \"consumer\"}", 400, 1008},
	    {"{\"email\": 5, \"roleId\": \"consumer\"}", 400, 1008},
	    {"{\"email\": \"x8@m.test\", \"roleId\": \"consumer\", \"groups\": [\"bad\"]}", 422,
	     601},
	    {"{\"email\": \"x9@m.test\", \"roleId\": \"consumer\", \"groups\": [\"" NOBODY "\"]}",
	     400, 1008},
	    {"{\"email\": \"x10@m.test\", \"roleId\": \"consumer\", \"groups\": \"g\"}", 400, 1008},
	    {"{\"email\": \"x11@m.test\", \"roleId\": \"consumer\", \"active\": \"yes\"}", 400,
	     1008},
	    {"{\"email\": \"x12@m.test\", \"roleId\": \"consumer\", \"isAdmin\": true}", 400, 1008},
	    {"{\"email\": \"x13@m.test\", \"roleId\": \"consumer\", \"password\": \"\"}", 400,
	     1008},
	    {"{\"email\": \"x14@m.test\", \"roleId\": \"consumer\", \"preferences\": 3}", 400,
	     1008},
	    {"[{\"email\": \"x15@m.test\", \"roleId\": \"consumer\"}]", 400, 1008},
	    {"{\"email\": ", 400, 1001},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct response *r = req(s, "POST", USERS, token, cases[i].body);
		cr_expect_eq(r->status, cases[i].status, "%s -> %d %s", cases[i].body, r->status,
		             r->body);
		cr_expect_eq(
		    json_integer_value(json_object_get(json_object_get(r->json, "error"), "code")),
		    cases[i].code, "%s -> %s", cases[i].body, r->body);
		response_free(r);
	}
	/* nothing of the refused ones was created */
	struct response *r = req(s, "GET", USERS, token, NULL);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(users, bulk_create_is_all_or_nothing)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	free(new_user(s, token, "taken@m.test", "consumer"));
	struct response *r =
	    req(s, "POST", USERS "/bulk", token,
	        "[{\"email\": \"b1@m.test\", \"roleId\": \"consumer\", \"password\": "
	        "\"" USER_PASSWORD "\"}, {\"email\": \"b2@m.test\", \"username\": "
	        "\"bee\", \"roleId\": \"contributor\", \"password\": \"Other-Pw1\"}]");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_is_array(r->json));
	cr_assert_eq(json_array_size(r->json), 2);
	cr_assert_eq(strlen(str(json_array_get(r->json, 0), "_id")), 24);
	cr_assert_str_eq(str(json_array_get(r->json, 1), "userName"), "bee");
	response_free(r);
	free(login_ok(s, "b1@m.test", USER_PASSWORD));
	free(login_ok(s, "bee", "Other-Pw1"));

	expect_error(req(s, "POST", USERS "/bulk", token, "{\"email\": \"b3@m.test\"}"), 400, 2002);
	expect_error(req(s, "POST", USERS "/bulk", token, "{\"users\": 5}"), 400, 2002);
	/* duplicates inside the batch (email ignoring case, or userName) */
	expect_error(req(s, "POST", USERS "/bulk", token,
	                 "[{\"email\": \"d1@m.test\", \"roleId\": \"consumer\"}, {\"email\": "
	                 "\"D1@m.test\", \"roleId\": \"consumer\"}]"),
	             400, 2005);
	expect_error(
	    req(s, "POST", USERS "/bulk", token,
	        "[{\"email\": \"d2@m.test\", \"userName\": \"dup\", \"roleId\": \"consumer\"}, "
	        "{\"email\": \"d3@m.test\", \"userName\": \"dup\", \"roleId\": \"consumer\"}]"),
	    400, 2005);
	/* one clash with an existing user, one invalid element: nothing is created */
	expect_error(req(s, "POST", USERS "/bulk", token,
	                 "[{\"email\": \"n1@m.test\", \"roleId\": \"consumer\"}, {\"email\": "
	                 "\"taken@m.test\", \"roleId\": \"consumer\"}]"),
	             400, 2004);
	expect_error(req(s, "POST", USERS "/bulk", token,
	                 "[{\"email\": \"n2@m.test\", \"roleId\": \"consumer\"}, {\"roleId\": "
	                 "\"consumer\"}]"),
	             422, 2003);
	expect_error(req(s, "POST", USERS "/bulk", token,
	                 "[{\"email\": \"n3@m.test\", \"roleId\": \"consumer\"}, 7]"),
	             400, 1008);
	r = req(s, "GET", USERS "?email=n1@m.test", token, NULL);
	cr_assert_eq(json_array_size(r->json), 0, "partial bulk: %s", r->body);
	response_free(r);
	r = req(s, "GET", USERS, token, NULL);
	cr_assert_eq(json_array_size(r->json), 4, "%s", r->body);
	response_free(r);
	/* {"users": [...]} as some clients send it, and an empty batch */
	r = req(s, "POST", USERS "/bulk", token,
	        "{\"users\": [{\"email\": \"w1@m.test\", \"roleId\": \"consumer\"}]}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	response_free(r);
	r = req(s, "POST", USERS "/bulk", token, "[]");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_eq(json_array_size(r->json), 0);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- List and get ------------------------------------------------------------------------ */

Test(users, list_filters_options_and_expand)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *group = new_group(s, "Analysts");
	char body[512];
	snprintf(body, sizeof body,
	         "{\"email\": \"ann@m.test\", \"userName\": \"ann\", \"firstName\": \"Ann\", "
	         "\"lastName\": \"Lee\", \"roleId\": \"contributor\", \"groups\": [\"%s\"], "
	         "\"adgroups\": [\"%s\"]}",
	         group, group);
	struct response *r = req(s, "POST", USERS, token, body);
	cr_assert_eq(r->status, 400, "adgroups are read-only: %s", r->body);
	response_free(r);
	snprintf(body, sizeof body,
	         "{\"email\": \"ann@m.test\", \"userName\": \"ann\", \"firstName\": \"Ann\", "
	         "\"lastName\": \"Lee\", \"roleId\": \"contributor\", \"groups\": [\"%s\"]}",
	         group);
	r = req(s, "POST", USERS, token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	char *ann = strdup(str(r->json, "_id"));
	response_free(r);
	r = req(s, "POST", USERS, token,
	        "{\"email\": \"bob@m.test\", \"firstName\": \"Bob\", \"lastName\": \"Lee\", "
	        "\"roleId\": \"consumer\", \"active\": false}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	char *bob = strdup(str(r->json, "_id"));
	response_free(r);
	char *designer = role_id(s, "contributor");

	static const struct {
		const char *query;
		int count;
	} filters[] = {
	    {"", 3},
	    {"?userName=ann", 1},
	    {"?email=ANN@m.test", 1},
	    {"?firstName=Bob", 1},
	    {"?lastName=Lee", 2},
	    {"?lastName=Lee&firstName=Ann", 1},
	    {"?role=contributor", 1},
	    {"?role=designer", 1},
	    {"?roleId=consumer", 1},
	    {"?role=emperor", 0},
	    {"?group=Analysts", 1},
	    {"?active=true", 2},
	    {"?active=false", 1},
	    {"?origin=sisense", 3},
	    {"?origin=ad", 0},
	    {"?limit=2", 2},
	    {"?skip=2", 1},
	    {"?skip=1&limit=1", 1},
	    {"?trc=sdk-ui-2.27.0&asObject=false", 3},
	};
	for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
		r = reqf(s, "GET", token, NULL, USERS "%s", filters[i].query);
		cr_expect_eq(r->status, 200, "%s: %s", filters[i].query, r->body);
		cr_expect_eq(json_array_size(r->json), (size_t)filters[i].count, "%s: %s",
		             filters[i].query, r->body);
		response_free(r);
	}
	r = reqf(s, "GET", token, NULL, USERS "?roleId=%s", designer);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "_id"), ann);
	response_free(r);
	r = reqf(s, "GET", token, NULL, USERS "?groupId=%s", group);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "_id"), ann);
	response_free(r);
	r = reqf(s, "GET", token, NULL, USERS "?ids=%s,%s", ann, bob);
	cr_assert_eq(json_array_size(r->json), 2, "%s", r->body);
	response_free(r);
	r = reqf(s, "GET", token, NULL, USERS "?ids=%s&ids=%s", ann, NOBODY);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	expect_error(req(s, "GET", USERS "?ids=nope", token, NULL), 422, 601);
	expect_error(req(s, "GET", USERS "?active=maybe", token, NULL), 400, 1008);
	expect_error(req(s, "GET", USERS "?origin=mars", token, NULL), 400, 1008);
	expect_error(req(s, "GET", USERS "?limit=-1", token, NULL), 400, 1008);

	/* sort, fields */
	r = req(s, "GET", USERS "?sort=-email&fields=email,userName", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(json_array_get(r->json, 0), "email"), "bob@m.test");
	cr_assert_str_eq(str(json_array_get(r->json, 2), "email"), "admin@sensed.test");
	cr_assert_null(json_object_get(json_array_get(r->json, 0), "firstName"));
	response_free(r);
	r = req(s, "GET", USERS "?fields=-groups,-preferences&email=ann@m.test", token, NULL);
	cr_assert_null(json_object_get(json_array_get(r->json, 0), "groups"), "%s", r->body);
	cr_assert_not_null(json_object_get(json_array_get(r->json, 0), "email"));
	response_free(r);

	/* expand=groups,role and adgroups; unknown expand is 404/202 */
	r = req(s, "GET", USERS "?userName=ann&expand=groups,role,adgroups", token, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	json_t *user = json_array_get(r->json, 0);
	cr_assert_str_eq(str(json_object_get(user, "role"), "name"), "contributor", "%s", r->body);
	cr_assert_str_eq(str(json_array_get(json_object_get(user, "groups"), 0), "name"),
	                 "Analysts", "%s", r->body);
	response_free(r);
	r = reqf(s, "GET", token, NULL, USERS "/%s?expand=role&fields=email,roleId", ann);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(json_object_get(r->json, "role"), "name"), "contributor", "%s",
	                 r->body);
	cr_assert_null(json_object_get(r->json, "firstName"));
	response_free(r);
	expect_error(req(s, "GET", USERS "?expand=owner", token, NULL), 404, 202);
	expect_error(reqf(s, "GET", token, NULL, USERS "/%s?expand=owner", ann), 404, 202);

	/* ids: 422 when malformed, 404 + 2001 when unknown */
	expect_error(req(s, "GET", USERS "/12345", token, NULL), 422, 601);
	r = req(s, "GET", USERS "/" NOBODY, token, NULL);
	assert_error(r, 404, 2001);
	cr_assert_str_eq(str(json_object_get(r->json, "error"), "resourceType"), "user");
	cr_assert_str_eq(str(json_object_get(r->json, "error"), "resourceName"), NOBODY);
	response_free(r);
	free(group);
	free(ann);
	free(bob);
	free(designer);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- Update ------------------------------------------------------------------------------ */

Test(users, patch_fields_full_set_and_errors)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *id = new_user(s, token, "pat@m.test", "consumer");
	free(new_user(s, token, "other@m.test", "consumer"));
	char *designer = role_id(s, "contributor");

	struct response *r = reqf(s, "PATCH", token,
	                          "{\"firstName\": \"Pat\", \"role\": \"designer\", \"email\": "
	                          "\"Pat2@M.test\", \"username\": \"pat\"}",
	                          USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "firstName"), "Pat");
	cr_assert_str_eq(str(r->json, "roleId"), designer);
	cr_assert_str_eq(str(r->json, "email"), "pat2@m.test");
	cr_assert_str_eq(str(r->json, "userName"), "pat");
	response_free(r);
	free(login_ok(s, "pat", USER_PASSWORD));

	/* the client quirk: GET (even expanded) then PATCH everything back with one change */
	r = reqf(s, "GET", token, NULL, USERS "/%s?expand=role,groups", id);
	json_t *full = json_deep_copy(r->json);
	response_free(r);
	json_object_set_new(full, "lastName", json_string("Smith"));
	char *text = json_dumps(full, JSON_COMPACT);
	r = reqf(s, "PATCH", token, text, USERS "/%s", id);
	free(text);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "lastName"), "Smith");
	cr_assert_str_eq(str(r->json, "created"), str(full, "created"));
	cr_assert_null(json_object_get(r->json, "role"), "expanded role stored: %s", r->body);
	response_free(r);
	json_decref(full);

	/* read-only fields that differ, unknown fields, bad values */
	expect_error(reqf(s, "PATCH", token, "{\"_id\": \"" NOBODY "\"}", USERS "/%s", id), 400,
	             1008);
	expect_error(
	    reqf(s, "PATCH", token, "{\"created\": \"2001-01-01T00:00:00.000Z\"}", USERS "/%s", id),
	    400, 1008);
	expect_error(reqf(s, "PATCH", token, "{\"isSuper\": true}", USERS "/%s", id), 400, 1008);
	expect_error(reqf(s, "PATCH", token, "{\"email\": \"other@m.test\"}", USERS "/%s", id), 400,
	             2004);
	expect_error(reqf(s, "PATCH", token, "{\"userName\": \"OTHER@m.test\"}", USERS "/%s", id),
	             400, 2004);
	expect_error(reqf(s, "PATCH", token, "{\"email\": \"\"}", USERS "/%s", id), 400, 2009);
	expect_error(reqf(s, "PATCH", token, "{\"roleId\": \"super\"}", USERS "/%s", id), 400,
	             2006);
	expect_error(reqf(s, "PATCH", token, "{\"roleId\": \"nope\"}", USERS "/%s", id), 400, 1008);
	expect_error(reqf(s, "PATCH", token, "{\"groups\": [\"x\"]}", USERS "/%s", id), 422, 601);
	expect_error(reqf(s, "PATCH", token, "[1]", USERS "/%s", id), 400, 1008);
	expect_error(reqf(s, "PATCH", token, "{\"active\": ", USERS "/%s", id), 400, 1001);
	expect_error(req(s, "PATCH", USERS "/xyz", token, "{}"), 422, 601);
	expect_error(req(s, "PATCH", USERS "/" NOBODY, token, "{}"), 404, 2001);
	/* an empty patch changes nothing and answers the user */
	r = reqf(s, "PATCH", token, "{}", USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(str(r->json, "lastName"), "Smith");
	response_free(r);
	free(id);
	free(designer);
	cr_assert_eq(server_stop(s), 0);
}

Test(users, passwords_deactivation_and_token_revocation)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *id = new_user(s, token, "pw@m.test", "contributor");
	char *own = login_ok(s, "pw@m.test", USER_PASSWORD);

	/* one's own password needs the old one */
	expect_error(reqf(s, "PATCH", own, "{\"password\": \"Next-Pw-1\"}", USERS "/%s", id), 400,
	             1224);
	expect_error(reqf(s, "PATCH", own,
	                  "{\"password\": \"Next-Pw-1\", \"oldPassword\": \"wrong\"}", USERS "/%s",
	                  id),
	             400, 1224);
	cr_assert_null(login(s, "pw@m.test", "Next-Pw-1"));
	struct response *r =
	    reqf(s, "PATCH", own,
	         "{\"password\": \"Next-Pw-1\", \"oldPassword\": \"" USER_PASSWORD "\"}",
	         USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	response_free(r);
	cr_assert_null(login(s, "pw@m.test", USER_PASSWORD));
	char *second = login_ok(s, "pw@m.test", "Next-Pw-1");
	/* the session that changed it keeps working */
	cr_assert_eq(status_of(reqf(s, "GET", own, NULL, USERS "/%s", id)), 200);

	/* an administrator resets it without the old one: the user's sessions end */
	r = reqf(s, "PATCH", token, "{\"password\": \"Admin-Set-1\"}", USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	response_free(r);
	expect_error(reqf(s, "GET", own, NULL, USERS "/%s", id), 401, 1100);
	expect_error(reqf(s, "GET", second, NULL, USERS "/%s", id), 401, 1100);
	char *third = login_ok(s, "pw@m.test", "Admin-Set-1");

	/* deactivation signs the user out and refuses logins; reactivation allows them again */
	r = reqf(s, "PATCH", token, "{\"active\": false}", USERS "/%s", id);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_is_false(json_object_get(r->json, "active")));
	response_free(r);
	expect_error(reqf(s, "GET", third, NULL, USERS "/%s", id), 401, 1100);
	cr_assert_null(login(s, "pw@m.test", "Admin-Set-1"));
	cr_assert_eq(status_of(reqf(s, "PATCH", token, "{\"active\": true}", USERS "/%s", id)),
	             200);
	free(login_ok(s, "pw@m.test", "Admin-Set-1"));

	/* a role change takes effect on the next request */
	char *fourth = login_ok(s, "pw@m.test", "Admin-Set-1");
	cr_assert_eq(status_of(req(s, "GET", USERS, fourth, NULL)), 403);
	cr_assert_eq(
	    status_of(reqf(s, "PATCH", token, "{\"roleId\": \"dataAdmin\"}", USERS "/%s", id)),
	    200);
	cr_assert_eq(status_of(req(s, "GET", USERS, fourth, NULL)), 403);
	cr_assert_eq(status_of(req(s, "GET", "/api/v1/account/get_license_info", fourth, NULL)),
	             403);
	free(own);
	free(second);
	free(third);
	free(fourth);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- Delete ------------------------------------------------------------------------------ */

Test(users, delete_revokes_tokens_and_frees_the_name)
{
	struct server *s = start_with(NULL);
	const char *token = admin_token(s);
	char *id = new_user(s, token, "del@m.test", "consumer");
	char *user_token = login_ok(s, "del@m.test", USER_PASSWORD);
	cr_assert_eq(status_of(reqf(s, "GET", user_token, NULL, USERS "/%s", id)), 200);
	struct response *r = reqf(s, "DELETE", token, NULL, USERS "/%s", id);
	cr_assert_eq(r->status, 204, "%s", r->body);
	cr_assert_eq(r->body_len, 0);
	response_free(r);
	expect_error(reqf(s, "GET", token, NULL, USERS "/%s", id), 404, 2001);
	expect_error(reqf(s, "DELETE", token, NULL, USERS "/%s", id), 404, 2001);
	expect_error(reqf(s, "GET", user_token, NULL, USERS "/%s", id), 401, 1100);
	cr_assert_null(login(s, "del@m.test", USER_PASSWORD));
	/* the e-mail is free again, and the old password does not come back with it */
	char *again = new_user(s, token, "del@m.test", "consumer");
	r = reqf(s, "PATCH", token, "{\"password\": null}", USERS "/%s", again);
	cr_assert_eq(r->status, 400, "%s", r->body);
	response_free(r);
	expect_error(req(s, "DELETE", USERS "/nope", token, NULL), 422, 601);
	r = req(s, "GET", USERS "?email=admin@sensed.test", token, NULL);
	char *super = strdup(str(json_array_get(r->json, 0), "_id"));
	response_free(r);
	expect_error(reqf(s, "DELETE", token, NULL, USERS "/%s", super), 400, 2011);
	free(super);
	free(again);
	free(user_token);
	free(id);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- License ----------------------------------------------------------------------------- */

static json_t *license_info(struct server *s)
{
	struct response *r =
	    req(s, "GET", "/api/v1/account/get_license_info", admin_token(s), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	json_t *info = json_incref(r->json);
	response_free(r);
	return info;
}

static json_int_t member(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	cr_assert(json_is_integer(v), "%s missing", key);
	return json_integer_value(v);
}

Test(license, unlimited_by_default)
{
	struct server *s = start_with(NULL);
	free(new_user(s, admin_token(s), "v@m.test", "consumer"));
	free(new_user(s, admin_token(s), "d@m.test", "dataDesigner"));
	json_t *info = license_info(s);
	static const char *const keys[] = {
	    "bigData",      "expirationDate", "highAvailability", "inUseAdmins", "inUseDesigners",
	    "inUseViewers", "maxAdmins",      "maxDesigners",     "maxViewers",  "trial"};
	cr_assert_eq(json_object_size(info), sizeof keys / sizeof keys[0]);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		cr_assert_not_null(json_object_get(info, keys[i]), "no %s", keys[i]);
	cr_assert_eq(member(info, "maxAdmins"), -1);
	cr_assert_eq(member(info, "maxDesigners"), -1);
	cr_assert_eq(member(info, "maxViewers"), -1);
	cr_assert_eq(member(info, "inUseAdmins"), 1);
	cr_assert_eq(member(info, "inUseDesigners"), 1);
	cr_assert_eq(member(info, "inUseViewers"), 1);
	cr_assert(json_is_null(json_object_get(info, "expirationDate")));
	cr_assert(json_is_false(json_object_get(info, "trial")));
	cr_assert(json_is_false(json_object_get(info, "bigData")));
	json_decref(info);
	cr_assert_eq(server_stop(s), 0);
}

Test(license, limits_are_enforced_on_create_update_and_bulk)
{
	struct server *s = start_with(
	    "{\"loginRatePerMinute\": 100000, \"plugins\": {\"config\": {\"users\": {\"license\": "
	    "{\"maxAdmins\": 2, \"maxDesigners\": 1, \"maxViewers\": 2, \"expirationDate\": "
	    "\"2030-01-01T00:00:00.000Z\", \"trial\": true}}}}}");
	const char *token = admin_token(s);
	json_t *info = license_info(s);
	cr_assert_eq(member(info, "maxAdmins"), 2);
	cr_assert_eq(member(info, "maxDesigners"), 1);
	cr_assert_eq(member(info, "maxViewers"), 2);
	cr_assert_eq(member(info, "inUseAdmins"), 1);
	cr_assert_str_eq(str(info, "expirationDate"), "2030-01-01T00:00:00.000Z");
	cr_assert(json_is_true(json_object_get(info, "trial")));
	json_decref(info);

	char *v1 = new_user(s, token, "v1@m.test", "consumer");
	free(new_user(s, token, "v2@m.test", "consumer"));
	expect_error(
	    req(s, "POST", USERS, token, "{\"email\": \"v3@m.test\", \"roleId\": \"consumer\"}"),
	    400, 2007);
	/* an inactive user holds no seat */
	struct response *r =
	    req(s, "POST", USERS, token,
	        "{\"email\": \"v3@m.test\", \"roleId\": \"consumer\", \"active\": false}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	char *v3 = strdup(str(r->json, "_id"));
	response_free(r);
	expect_error(reqf(s, "PATCH", token, "{\"active\": true}", USERS "/%s", v3), 400, 2007);
	cr_assert_eq(status_of(reqf(s, "PATCH", token, "{\"active\": false}", USERS "/%s", v1)),
	             200);
	cr_assert_eq(status_of(reqf(s, "PATCH", token, "{\"active\": true}", USERS "/%s", v3)),
	             200);
	/* a role change moves the seat: one designer fits, the second does not */
	cr_assert_eq(
	    status_of(reqf(s, "PATCH", token, "{\"roleId\": \"contributor\"}", USERS "/%s", v3)),
	    200);
	expect_error(req(s, "POST", USERS, token,
	                 "{\"email\": \"d1@m.test\", \"roleId\": \"dataDesigner\"}"),
	             400, 2007);
	free(new_user(s, token, "v4@m.test", "consumer"));
	/* admins: the super user and one more */
	free(new_user(s, token, "da@m.test", "dataAdmin"));
	expect_error(
	    req(s, "POST", USERS, token, "{\"email\": \"a2@m.test\", \"roleId\": \"admin\"}"), 400,
	    2007);
	/* bulk: all or nothing against the limit too */
	cr_assert_eq(status_of(reqf(s, "PATCH", token, "{\"active\": false}", USERS "/%s", v3)),
	             200);
	expect_error(req(s, "POST", USERS "/bulk", token,
	                 "[{\"email\": \"b1@m.test\", \"roleId\": \"contributor\"}, {\"email\": "
	                 "\"b2@m.test\", \"roleId\": \"contributor\"}]"),
	             400, 2007);
	r = req(s, "GET", USERS "?email=b1@m.test", token, NULL);
	cr_assert_eq(json_array_size(r->json), 0, "%s", r->body);
	response_free(r);
	info = license_info(s);
	cr_assert_eq(member(info, "inUseAdmins"), 2);
	cr_assert_eq(member(info, "inUseDesigners"), 0);
	cr_assert_eq(member(info, "inUseViewers"), 2);
	json_decref(info);
	free(v1);
	free(v3);
	cr_assert_eq(server_stop(s), 0);
}
