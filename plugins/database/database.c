/* GET /database/encrypt_database_password?plaintext= (public, catalog DB-01): the
 * plaintext sealed with the installation key (host->secret_seal: XSalsa20-Poly1305,
 * base64 of nonce and box), replied as a JSON string.  That is the form in which
 * connection secrets are accepted: only this installation can open it. */
#include <sensed/plugin.h>
#include <stdlib.h>
#include <string.h>

/* Longer plaintexts are refused: a password, not a payload. */
#define PLAINTEXT_MAX 1024

static const sensed_host *host;

static void encrypt_password(sensed_request *req, void *arg)
{
	(void)arg;
	const char *plaintext = host->request_query(req, "plaintext");
	char *sealed = NULL;
	json_t *body;
	int err;

	if (plaintext == NULL || *plaintext == '\0') {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, "plaintext is required");
		return;
	}
	if (strlen(plaintext) > PLAINTEXT_MAX) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "plaintext is longer than 1024 bytes");
		return;
	}
	if ((err = host->secret_seal(plaintext, &sealed)) != 0) {
		host->reply_store_error(req, err);
		return;
	}
	body = json_string(sealed);
	free(sealed);
	if (body == NULL) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		return;
	}
	host->reply_json(req, 200, body);
	json_decref(body);
}

static int database_init(sensed_plugin *self, const sensed_host *h)
{
	int err;

	host = h;
	if (!SENSED_HOST_HAS(h, secret_seal)) {
		h->set_error(self, "database: the server cannot seal secrets (SDK 1.2 needed)");
		return SENSED_EUNSUPPORTED;
	}
	/* /app_database/... is where the real server's own swagger puts it. */
	err = h->route_add(self, SENSED_GET, "/database/encrypt_database_password",
	                   SENSED_ROLE_PUBLIC, encrypt_password, NULL);
	if (err == 0)
		err = h->route_add(self, SENSED_GET, "/app_database/encrypt_database_password",
		                   SENSED_ROLE_PUBLIC, encrypt_password, NULL);
	if (err != 0)
		h->set_error(self, "database: %s", h->strerror(err));
	return err;
}

SENSED_PLUGIN_DEFINE("database", "1.0.0", "Application database helpers (/database)", database_init,
                     NULL)
