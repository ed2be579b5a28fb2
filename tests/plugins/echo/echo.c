/* Test plugin: echoes what the host parsed out of a request (path, params, query lists,
 * body, user), so black-box tests can check the HTTP layer through the SDK only. */
#include <sensed/plugin.h>
#include <string.h>
#include <unistd.h>

static const sensed_host *host;

static void echo(sensed_request *req, void *arg)
{
	(void)arg;
	json_t *body = NULL;
	if (host->request_json(req, &body))
		return; /* the host replied 400 */
	json_t *out = json_object();
	json_object_set_new(out, "path", json_string(host->request_path(req)));
	json_object_set_new(out, "method", json_integer(host->request_method(req)));
	const char *id = host->request_param(req, "id");
	json_object_set_new(out, "params", json_pack("{s:s?}", "id", id));
	json_t *query = json_object();
	const char *names[] = {"fields", "ids", "q", "x"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_object_set(query, names[i], host->request_query_list(req, names[i]));
	json_object_set_new(out, "query", query);
	const char *q = host->request_query(req, "q");
	json_object_set_new(out, "q", q ? json_string(q) : json_null());
	json_object_set(out, "body", body ? body : json_null());
	const char *user = host->request_user_id(req);
	json_object_set_new(out, "user", user ? json_string(user) : json_null());
	json_object_set_new(out, "role", json_integer(host->request_role(req)));
	host->reply_header(req, "X-Echo", "1");
	host->reply_json(req, 200, out);
	json_decref(out);
}

static void list(sensed_request *req, void *arg)
{
	(void)arg;
	sensed_query q = SENSED_QUERY_INIT;
	if (host->request_list_query(req, &q))
		return;
	json_t *out =
	    json_pack("{s:s?, s:s?, s:s?, s:I, s:I}", "fields", q.fields, "sort", q.sort, "expand",
	              q.expand, "skip", (json_int_t)q.skip, "limit", (json_int_t)q.limit);
	host->reply_json(req, 200, out);
	json_decref(out);
}

static void slow_work(void *arg)
{
	(void)arg;
	usleep(700 * 1000);
}

static void slow_done(sensed_request *req, void *arg)
{
	(void)arg;
	host->reply_raw(req, 200, "{\"slow\":true}", 13);
}

static void slow(sensed_request *req, void *arg)
{
	(void)arg;
	if (host->run_job(req, slow_work, slow_done, NULL))
		host->reply_error(req, 503, 1006, NULL);
}

static void silent(sensed_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

static int echo_init(sensed_plugin *self, const sensed_host *h)
{
	host = h;
	unsigned all = SENSED_GET | SENSED_POST | SENSED_PUT | SENSED_PATCH | SENSED_DELETE;
	int rc = h->route_add(self, all, "/test/echo/{id}", SENSED_ROLE_CONSUMER, echo, NULL);
	if (!rc)
		rc = h->route_add(self, all, "/test/public/{id}", SENSED_ROLE_PUBLIC, echo, NULL);
	if (!rc)
		rc = h->route_add(self, SENSED_GET, "/test/list", SENSED_ROLE_PUBLIC, list, NULL);
	if (!rc)
		rc = h->route_add(self, SENSED_GET, "/test/slow", SENSED_ROLE_PUBLIC, slow, NULL);
	if (!rc)
		rc = h->route_add(self, SENSED_GET, "/test/silent", SENSED_ROLE_PUBLIC, silent,
		                  NULL);
	if (!rc)
		rc = h->route_add(self, SENSED_GET, "/test/admin", SENSED_ROLE_ADMIN, echo, NULL);
	return rc;
}

SENSED_PLUGIN_DEFINE("echo", "1.0.0", "Echoes requests (tests)", echo_init, NULL)
