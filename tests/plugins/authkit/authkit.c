/* Test-only plugin for tests/api/test_auth.c: creates users with a password through the
 * SDK (doc_insert + password_set in a job), deactivates them, and exposes
 * password_verify and tokens_revoke_user over HTTP.  Every route is PUBLIC: never load
 * it outside tests. */
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

static const sensed_host *host;
static sensed_plugin *plugin;
static sensed_collection *users;
static sensed_collection *roles;

struct password_job {
	char id[25];
	char *password; /* owned */
	json_t *user;   /* owned; the created user, or NULL */
	int result;
	int verify; /* 1: password_verify, 0: password_set */
};

static void password_job_free(struct password_job *job)
{
	free(job->password);
	json_decref(job->user);
	free(job);
}

static void password_work(void *arg)
{
	struct password_job *job = arg;
	job->result = job->verify ? host->password_verify(job->id, job->password)
	                          : host->password_set(job->id, job->password);
}

static void password_done(sensed_request *req, void *arg)
{
	struct password_job *job = arg;
	if (job->verify) {
		json_t *body = json_pack("{s:i}", "result", job->result);
		host->reply_json(req, 200, body);
		json_decref(body);
	} else if (job->result != 0) {
		host->reply_store_error(req, job->result);
	} else {
		host->reply_json(req, 201, job->user);
	}
	password_job_free(job);
}

static void run_password_job(sensed_request *req, struct password_job *job)
{
	if (host->run_job(req, password_work, password_done, job) != 0) {
		password_job_free(job);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
	}
}

/* POST /test/authkit/users {email, userName, role, password, firstName?} -> 201 user */
static void create_user(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL, *role = NULL;
	const char *email, *user_name, *role_name, *password;
	if (host->request_json(req, &body) != 0)
		return;
	if (json_unpack(body, "{s:s, s:s, s:s, s:s}", "email", &email, "userName", &user_name,
	                "role", &role_name, "password", &password) != 0) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, NULL);
		return;
	}
	json_t *filter = json_pack("{s:s}", "name", role_name);
	int err = host->find_one(NULL, roles, filter, &role);
	json_decref(filter);
	if (err != 0) {
		host->reply_store_error(req, err);
		return;
	}
	json_t *user =
	    json_pack("{s:s, s:s, s:s, s:s, s:O, s:b, s:[], s:{s:s, s:s}, s:n}", "email", email,
	              "userName", user_name, "firstName", "Test", "lastName", "User", "roleId",
	              json_object_get(role, "_id"), "active", 1, "groups", "preferences",
	              "localeId", "en-US", "language", "en-US", "lastLogin");
	json_decref(role);
	struct password_job *job = calloc(1, sizeof *job);
	if (user == NULL || job == NULL || (job->password = strdup(password)) == NULL) {
		json_decref(user);
		free(job);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	job->user = user;
	if ((err = host->doc_insert(NULL, users, user, job->id)) != 0) {
		password_job_free(job);
		host->reply_store_error(req, err);
		return;
	}
	run_password_job(req, job);
}

/* POST /test/authkit/verify {id, password} -> 200 {"result": password_verify(...)} */
static void verify_password(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	const char *id, *password;
	if (host->request_json(req, &body) != 0)
		return;
	if (json_unpack(body, "{s:s, s:s}", "id", &id, "password", &password) != 0 ||
	    strlen(id) != 24) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, NULL);
		return;
	}
	struct password_job *job = calloc(1, sizeof *job);
	if (job == NULL || (job->password = strdup(password)) == NULL) {
		free(job);
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	memcpy(job->id, id, 25);
	job->verify = 1;
	run_password_job(req, job);
}

/* POST /test/authkit/users/{id}/deactivate -> 204 */
static void deactivate_user(sensed_request *req, void *arg)
{
	(void)arg;
	const char *id = host->request_param(req, "id");
	json_t *user = NULL;
	int err = host->doc_get(NULL, users, id, &user);
	if (err == 0) {
		json_object_set_new(user, "active", json_false());
		err = host->doc_replace(NULL, users, id, user);
	}
	json_decref(user);
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

/* POST /test/authkit/users/{id}/revoke -> 204 */
static void revoke_user(sensed_request *req, void *arg)
{
	(void)arg;
	int err = host->tokens_revoke_user(host->request_param(req, "id"));
	if (err != 0)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

static int authkit_init(sensed_plugin *self, const sensed_host *h)
{
	int err;
	host = h;
	plugin = self;
	if ((err = h->collection_open(self, "users", &users)) ||
	    (err = h->collection_open(self, "roles", &roles)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/authkit/users", SENSED_ROLE_PUBLIC,
	                        create_user, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/authkit/verify", SENSED_ROLE_PUBLIC,
	                        verify_password, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/authkit/users/{id}/deactivate",
	                        SENSED_ROLE_PUBLIC, deactivate_user, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/authkit/users/{id}/revoke",
	                        SENSED_ROLE_PUBLIC, revoke_user, NULL))) {
		h->set_error(self, "authkit: %s", h->strerror(err));
		return err;
	}
	return 0;
}

SENSED_PLUGIN_DEFINE("authkit", "1.0.0", "Test-only user factory for the auth tests", authkit_init,
                     NULL);
