/* Test plugin: exposes the ABI 1.2 members that have no endpoint of their own yet --
 * scoped tokens, sealed secrets and the route table -- so black-box tests can drive them. */
#include <sensed/plugin.h>
#include <stdlib.h>

#define SCOPE "analytics"

static const sensed_host *host;

/* GET /test/sdk/scoped-token -> {"token": ...} for the caller */
static void issue_token(sensed_request *req, void *arg)
{
	char *token = NULL;
	int err = host->token_issue_scoped(host->request_user_id(req), SCOPE, &token);
	json_t *body;

	(void)arg;
	if (err) {
		host->reply_store_error(req, err);
		return;
	}
	body = json_pack("{s:s}", "token", token);
	host->reply_json(req, 200, body);
	json_decref(body);
	free(token);
}

/* GET /test/sdk/scoped (analytics tokens only) -> {"user": id, "role": n} */
static void scoped_data(sensed_request *req, void *arg)
{
	json_t *body = json_pack("{s:s, s:i}", "user", host->request_user_id(req), "role",
	                         (int)host->request_role(req));

	(void)arg;
	host->reply_json(req, 200, body);
	json_decref(body);
}

/* POST /test/sdk/scoped-token/revoke -> 204 */
static void revoke_tokens(sensed_request *req, void *arg)
{
	int err = host->tokens_revoke_scoped(host->request_user_id(req), SCOPE);

	(void)arg;
	if (err)
		host->reply_store_error(req, err);
	else
		host->reply_empty(req, 204);
}

/* POST /test/sdk/seal {"text": ...} -> {"sealed": ...};
 * POST /test/sdk/open {"sealed": ...} -> {"text": ...} or 400 */
static void seal_or_open(sensed_request *req, void *arg)
{
	int sealing = arg != NULL;
	const char *in;
	json_t *body, *reply;
	char *out = NULL;
	int err;

	if (host->request_json(req, &body))
		return;
	in = json_string_value(json_object_get(body, sealing ? "text" : "sealed"));
	if (!in) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, NULL);
		return;
	}
	err = sealing ? host->secret_seal(in, &out) : host->secret_open(in, &out);
	if (err) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, host->strerror(err));
		return;
	}
	reply = json_pack("{s:s}", sealing ? "sealed" : "text", out);
	host->reply_json(req, 200, reply);
	json_decref(reply);
	free(out);
}

/* GET /test/sdk/routes -> the route table */
static void routes(sensed_request *req, void *arg)
{
	json_t *list = host->routes_list();

	(void)arg;
	host->reply_json(req, 200, list);
	json_decref(list);
}

static int sdkcheck_init(sensed_plugin *self, const sensed_host *h)
{
	static int sealing = 1;
	int err;

	host = h;
	if (!SENSED_HOST_HAS(h, routes_list)) {
		h->set_error(self, "this server predates SDK ABI 1.2");
		return SENSED_EUNSUPPORTED;
	}
	if ((err = h->route_add(self, SENSED_GET, "/test/sdk/scoped-token", SENSED_ROLE_CONSUMER,
	                        issue_token, NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/sdk/scoped-token/revoke",
	                        SENSED_ROLE_CONSUMER, revoke_tokens, NULL)) ||
	    (err = h->route_add_scoped(self, SENSED_GET, "/test/sdk/scoped", SCOPE, scoped_data,
	                               NULL)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/sdk/seal", SENSED_ROLE_ADMIN,
	                        seal_or_open, &sealing)) ||
	    (err = h->route_add(self, SENSED_POST, "/test/sdk/open", SENSED_ROLE_ADMIN,
	                        seal_or_open, NULL)) ||
	    (err = h->route_add(self, SENSED_GET, "/test/sdk/routes", SENSED_ROLE_ADMIN, routes,
	                        NULL)))
		return err;
	return 0;
}

SENSED_PLUGIN_DEFINE("sdkcheck", "1.0.0", "Drives SDK members in tests", sdkcheck_init, NULL)
