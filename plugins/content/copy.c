/* POST /dashboards/copy: send dashboards to a trusted server (collection
 * "server_access":
 * {_id, server: base URL, token: sealed with host->secret_seal}) through that
 * server's POST /api/v1/dashboards/import/bulk, with libcurl in a worker-pool
 * job.
 *
 * Body: {"dashboardIds": [oid...], "server": "<base URL or server_access _id>",
 *        "action": "overwrite"|"skip"|"duplicate" (default overwrite),
 * "importFolder"?} Query: republish (passed on), force (skip the version check
 * against the target's GET /api/v1/application/status).  200 with the target's
 * {succeded, skipped, failed}. */
#include "content.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SENSED_VERSION
#define SENSED_VERSION "0.0.0"
#endif

/* Largest answer we read from a target server. */
#define COPY_MAX_RESPONSE (16u << 20)
#define COPY_TIMEOUT_S    60L

/* Owned by the job; freed by copy_done. */
struct copy_job {
	char *base;  /* target base URL, no trailing '/' */
	char *token; /* the target's API token, in clear */
	char *query; /* query string for import/bulk */
	char *body;  /* the .dash content */
	int force;
	/* results, written by copy_work */
	long status;
	char *response;
	size_t response_len;
	char error[CURL_ERROR_SIZE + 128];
};

static void copy_job_free(struct copy_job *job)
{
	if (job->token != NULL)
		memset(job->token, 0, strlen(job->token));
	free(job->base);
	free(job->token);
	free(job->query);
	free(job->body);
	free(job->response);
	free(job);
}

struct buffer {
	char *data;
	size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buffer *buf = arg;
	size_t n = size * nmemb;
	char *grown;

	if (buf->len + n > COPY_MAX_RESPONSE)
		return 0;
	grown = realloc(buf->data, buf->len + n + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + buf->len, ptr, n);
	buf->data = grown;
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/* One HTTP exchange; returns the status (0 on a transport error, described in
 * job->error).  *out receives the body (malloc'd, NUL-terminated, may be NULL).
 */
static long http_call(struct copy_job *job, const char *url, const char *body, struct buffer *out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char auth[8192];
	struct curl_slist *headers = NULL;
	long status = 0;
	CURL *curl = curl_easy_init();
	CURLcode rc;

	if (curl == NULL) {
		snprintf(job->error, sizeof job->error, "out of memory");
		return 0;
	}
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", job->token);
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, COPY_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(job->error, sizeof job->error, "%s: %s", url,
		         errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	memset(auth, 0, sizeof auth);
	return status;
}

static int major_of(const char *version)
{
	return version != NULL ? atoi(version) : -1;
}

/* Pool thread: version check (unless force), then the import. */
static void copy_work(void *arg)
{
	struct copy_job *job = arg;
	struct buffer buf = {0};
	size_t url_len = strlen(job->base) + strlen(job->query) + 64;
	char *url = malloc(url_len);

	if (url == NULL) {
		snprintf(job->error, sizeof job->error, "out of memory");
		return;
	}
	if (!job->force) {
		json_t *status_doc;
		long status;

		snprintf(url, url_len, "%s/api/v1/application/status", job->base);
		status = http_call(job, url, NULL, &buf);
		status_doc = buf.data ? json_loads(buf.data, 0, NULL) : NULL;
		free(buf.data);
		buf = (struct buffer){0};
		if (status != 200 || status_doc == NULL) {
			if (job->error[0] == '\0')
				snprintf(job->error, sizeof job->error,
				         "the target's application/status answered %ld", status);
			json_decref(status_doc);
			free(url);
			return;
		}
		const char *theirs = json_string_value(
		    json_object_get(json_object_get(status_doc, "version"), "version"));
		if (major_of(theirs) != major_of(SENSED_VERSION)) {
			snprintf(job->error, sizeof job->error,
			         "target version %s is not compatible with %s (use force=true)",
			         theirs != NULL ? theirs : "unknown", SENSED_VERSION);
			job->status = -1;
			json_decref(status_doc);
			free(url);
			return;
		}
		json_decref(status_doc);
	}
	snprintf(url, url_len, "%s/api/v1/dashboards/import/bulk?%s", job->base, job->query);
	job->status = http_call(job, url, job->body, &buf);
	job->response = buf.data;
	job->response_len = buf.len;
	free(url);
}

static void copy_done(sensed_request *req, void *arg)
{
	struct copy_job *job = arg;
	json_t *answer =
	    job->response ? json_loadb(job->response, job->response_len, 0, NULL) : NULL;

	if (job->status == -1) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER, job->error);
	} else if (job->status == 201 && json_is_object(answer)) {
		host->reply_json(req, 200, answer);
	} else {
		char message[CURL_ERROR_SIZE + 256];

		if (job->error[0] != '\0')
			snprintf(message, sizeof message, "%s", job->error);
		else
			snprintf(message, sizeof message, "the target server answered %ld: %.200s",
			         job->status, job->response ? job->response : "");
		host->reply_error(req, 502, SENSED_CODE_COPY_FAILED, message);
	}
	json_decref(answer);
	copy_job_free(job);
}

/* The trusted server named by `server` (a base URL or a server_access _id): new
 * reference, or NULL. */
static json_t *trusted_server(const char *server)
{
	sensed_query q = SENSED_QUERY_INIT;
	json_t *all = NULL, *doc, *found = NULL;
	size_t i, len = strlen(server);

	while (len > 0 && server[len - 1] == '/')
		len--;
	q.limit = 1000000;
	if (host->find(NULL, store.server_access, &q, &all) != 0)
		return NULL;
	json_array_foreach(all, i, doc)
	{
		const char *url = json_string_value(json_object_get(doc, "server"));
		const char *id = json_string_value(json_object_get(doc, "_id"));
		size_t url_len = url != NULL ? strlen(url) : 0;

		while (url_len > 0 && url[url_len - 1] == '/')
			url_len--;
		if ((id != NULL && strcmp(id, server) == 0) ||
		    (url != NULL && url_len == len && strncmp(url, server, len) == 0)) {
			found = json_incref(doc);
			break;
		}
	}
	json_decref(all);
	return found;
}

static char *escape(const char *s)
{
	char *out = curl_easy_escape(NULL, s, 0), *copy;

	if (out == NULL)
		return NULL;
	copy = strdup(out);
	curl_free(out);
	return copy;
}

static void copy_dashboards(sensed_request *req, void *arg)
{
	json_t *body = NULL, *ids, *server_doc = NULL, *payload = NULL, *id;
	const char *server, *action, *folder, *url;
	struct copy_job *job = NULL;
	char *sealed_open = NULL, *folder_escaped = NULL;
	size_t i, url_len;

	(void)arg;
	if (host->request_json(req, &body) != 0)
		return;
	ids = json_object_get(body, "dashboardIds");
	if (ids == NULL)
		ids = json_object_get(body, "dashboards");
	server = json_string_value(json_object_get(body, "server"));
	action = json_string_value(json_object_get(body, "action"));
	folder = json_string_value(json_object_get(body, "importFolder"));
	if (action == NULL)
		action = "overwrite";
	if (!json_is_array(ids) || json_array_size(ids) == 0 || server == NULL ||
	    (strcmp(action, "overwrite") != 0 && strcmp(action, "skip") != 0 &&
	     strcmp(action, "duplicate") != 0)) {
		host->reply_error(req, 400, SENSED_CODE_INVALID_PARAMETER,
		                  "dashboardIds (array) and server are required; action is "
		                  "overwrite, skip or duplicate");
		return;
	}
	server_doc = trusted_server(server);
	url = json_string_value(json_object_get(server_doc, "server"));
	if (server_doc == NULL || url == NULL ||
	    !(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) ||
	    !json_is_string(json_object_get(server_doc, "token")) ||
	    host->secret_open(json_string_value(json_object_get(server_doc, "token")),
	                      &sealed_open) != 0) {
		json_decref(server_doc);
		host->reply_error(req, 400, SENSED_CODE_UNTRUSTED_SERVER, NULL);
		return;
	}
	payload = json_array();
	json_array_foreach(ids, i, id)
	{
		json_t *content = NULL;

		if (dash_export_of(req, json_string_value(id), &content) != 0)
			goto out;
		json_array_append_new(payload, content);
	}
	job = calloc(1, sizeof *job);
	url_len = strlen(url);
	while (url_len > 0 && url[url_len - 1] == '/')
		url_len--;
	folder_escaped = folder != NULL ? escape(folder) : NULL;
	if (job == NULL || (job->base = strndup(url, url_len)) == NULL ||
	    (job->query = malloc(64 + (folder_escaped ? strlen(folder_escaped) : 0))) == NULL ||
	    (job->body = json_dumps(payload, JSON_COMPACT)) == NULL) {
		reply_oom(req);
		goto out;
	}
	sprintf(job->query, "action=%s&republish=%s%s%s", action,
	        query_bool(req, "republish", 0) ? "true" : "false",
	        folder_escaped ? "&importFolder=" : "", folder_escaped ? folder_escaped : "");
	job->token = sealed_open;
	sealed_open = NULL;
	job->force = query_bool(req, "force", 0);
	if (host->run_job(req, copy_work, copy_done, job) != 0) {
		host->reply_error(req, 503, SENSED_CODE_UNAVAILABLE, NULL);
		goto out;
	}
	job = NULL;
out:
	if (job != NULL)
		copy_job_free(job);
	if (sealed_open != NULL) {
		memset(sealed_open, 0, strlen(sealed_open));
		free(sealed_open);
	}
	free(folder_escaped);
	json_decref(payload);
	json_decref(server_doc);
}

int copy_init(sensed_plugin *self)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return SENSED_ENOMEM;
	return host->route_add(self, SENSED_POST, "/dashboards/copy", SENSED_ROLE_CONTRIBUTOR,
	                       copy_dashboards, NULL);
}

void copy_fini(void)
{
	curl_global_cleanup();
}
