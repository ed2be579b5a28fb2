#include "config.h"

#include "sensed/plugin.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct config *g_config;

enum key_type {
	KEY_STRING,
	KEY_INT,
	KEY_SIZE,
	KEY_BOOL,
	KEY_LISTEN,
	KEY_CORS,
	KEY_DIRS,
	KEY_PLUGINS
};

/* One documented key of the configuration file (README.md, "Configuration").  `min` and
 * `max` bound integers. */
struct config_key {
	const char *name;
	enum key_type type;
	size_t offset;
	long long min, max;
};

#define KEY(name, type, field, min, max)                                                           \
	{                                                                                          \
		name, type, offsetof(struct config, field), min, max                               \
	}

static const struct config_key config_keys[] = {
    KEY("listen", KEY_LISTEN, listen_host, 0, 0),
    KEY("data", KEY_STRING, data_dir, 0, 0),
    KEY("workers", KEY_INT, workers, 0, 256),
    KEY("poolThreads", KEY_INT, pool_threads, 0, 256),
    KEY("poolQueue", KEY_INT, pool_queue, 1, 1000000),
    KEY("publicBaseUrl", KEY_STRING, public_base_url, 0, 0),
    KEY("maxHeaderSize", KEY_SIZE, max_header_size, 1024, 1 << 20),
    KEY("maxBodySize", KEY_SIZE, max_body_size, 1024, 1LL << 32),
    KEY("requestTimeout", KEY_INT, request_timeout, 1, 3600),
    KEY("maxConnections", KEY_INT, max_connections, 1, 1000000),
    KEY("maxJsonDepth", KEY_INT, max_json_depth, 1, 2048),
    KEY("accessLog", KEY_BOOL, access_log, 0, 0),
    KEY("cors", KEY_CORS, cors_origins, 0, 0),
    KEY("mapSize", KEY_SIZE, map_size, 1 << 20, 1LL << 44),
    KEY("maxLimit", KEY_INT, max_limit, 1, 1000000),
    KEY("durable", KEY_BOOL, durable, 0, 0),
    KEY("loginMaxFailures", KEY_INT, login_max_failures, 1, 1000),
    KEY("loginLockSeconds", KEY_INT, login_lock_seconds, 1, 86400 * 365),
    KEY("loginRatePerMinute", KEY_INT, login_rate_per_minute, 1, 1000000),
    KEY("passwordHashFast", KEY_BOOL, password_hash_fast, 0, 0),
    KEY("pluginDirs", KEY_DIRS, plugin_dirs, 0, 0),
    KEY("plugins", KEY_PLUGINS, plugins_config, 0, 0),
    KEY("logLevel", KEY_STRING, log_level, 0, 0),
    KEY("translationsDir", KEY_STRING, translations_dir, 0, 0),
};

static int fail(char *err, size_t errlen, const char *fmt, ...) SENSED_PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return SENSED_EINVAL;
}

static int replace_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return SENSED_ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_port = 8081;
	cfg->pool_queue = 1024;
	cfg->max_header_size = 16 * 1024;
	cfg->max_body_size = 16 * 1024 * 1024;
	cfg->request_timeout = 30;
	cfg->max_connections = 10000;
	cfg->max_json_depth = 64;
	cfg->access_log = 1;
	cfg->map_size = (size_t)1 << 30;
	cfg->max_limit = 1000;
	cfg->durable = 1;
	cfg->login_max_failures = 5;
	cfg->login_lock_seconds = 300;
	cfg->login_rate_per_minute = 60;
	cfg->listen_host = strdup("127.0.0.1");
	cfg->data_dir = strdup("./data");
	cfg->log_level = strdup("info");
	cfg->cors_origins = json_array();
	cfg->plugins_config = json_object();
	if (!cfg->listen_host || !cfg->data_dir || !cfg->log_level || !cfg->cors_origins ||
	    !cfg->plugins_config)
		return SENSED_ENOMEM;
	return 0;
}

int config_set_listen(struct config *cfg, const char *value, char *err, size_t errlen)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;
	char *host;

	if (!colon || colon == value)
		return fail(err, errlen, "listen: expected HOST:PORT, got \"%s\"", value);
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return fail(err, errlen, "listen: bad port in \"%s\" (0-65535)", value);
	host = strndup(value, (size_t)(colon - value));
	if (!host)
		return SENSED_ENOMEM;
	free(cfg->listen_host);
	cfg->listen_host = host;
	cfg->listen_port = (int)port;
	return 0;
}

int config_add_plugin_dir(struct config *cfg, const char *dir, char *err, size_t errlen)
{
	if (cfg->plugin_dir_count == CONFIG_MAX_PLUGIN_DIRS)
		return fail(err, errlen, "too many plugin directories (at most %d)",
		            CONFIG_MAX_PLUGIN_DIRS);
	cfg->plugin_dirs[cfg->plugin_dir_count] = strdup(dir);
	if (!cfg->plugin_dirs[cfg->plugin_dir_count])
		return SENSED_ENOMEM;
	cfg->plugin_dir_count++;
	return 0;
}

static int load_plugins_key(struct config *cfg, json_t *value, char *err, size_t errlen)
{
	const char *key;
	json_t *member;

	json_object_foreach(value, key, member)
	{
		if (!strcmp(key, "enabled")) {
			size_t i;
			json_t *name;

			if (json_is_null(member)) {
				json_decref(cfg->plugins_enabled);
				cfg->plugins_enabled = NULL;
				continue;
			}
			if (!json_is_array(member))
				return fail(
				    err, errlen,
				    "plugins.enabled: expected an array of plugin names or null");
			json_array_foreach(member, i, name)
			{
				if (!json_is_string(name))
					return fail(
					    err, errlen,
					    "plugins.enabled[%zu]: expected a plugin name (string)",
					    i);
			}
			json_decref(cfg->plugins_enabled);
			cfg->plugins_enabled = json_incref(member);
		} else if (!strcmp(key, "config")) {
			const char *name;
			json_t *section;

			if (!json_is_object(member))
				return fail(err, errlen,
				            "plugins.config: expected an object of sections");
			json_object_foreach(member, name, section)
			{
				if (!json_is_object(section))
					return fail(err, errlen,
					            "plugins.config.%s: expected an object", name);
			}
			json_object_update(cfg->plugins_config, member);
		} else {
			return fail(err, errlen, "plugins.%s: unknown key (known: enabled, config)",
			            key);
		}
	}
	return 0;
}

static int load_key(struct config *cfg, const struct config_key *k, json_t *value, char *err,
                    size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	const char *type_name[] = {
	    [KEY_STRING] = "a string",
	    [KEY_INT] = "an integer",
	    [KEY_SIZE] = "an integer (bytes)",
	    [KEY_BOOL] = "true or false",
	    [KEY_LISTEN] = "\"HOST:PORT\"",
	    [KEY_CORS] = "an object {\"allowedOrigins\": [...]}",
	    [KEY_DIRS] = "an array of directories",
	    [KEY_PLUGINS] = "an object",
	};
	int ok;

	switch (k->type) {
	case KEY_STRING:
	case KEY_LISTEN:
		ok = json_is_string(value);
		break;
	case KEY_INT:
	case KEY_SIZE:
		ok = json_is_integer(value);
		break;
	case KEY_BOOL:
		ok = json_is_boolean(value);
		break;
	case KEY_DIRS:
		ok = json_is_array(value);
		break;
	case KEY_CORS:
	case KEY_PLUGINS:
		ok = json_is_object(value);
		break;
	default:
		ok = 0;
	}
	if (!ok)
		return fail(err, errlen, "%s: expected %s", k->name, type_name[k->type]);

	switch (k->type) {
	case KEY_STRING:
		if (!strcmp(k->name, "logLevel")) {
			const char *level = json_string_value(value);

			if (strcmp(level, "error") && strcmp(level, "warn") &&
			    strcmp(level, "info") && strcmp(level, "debug"))
				return fail(err, errlen,
				            "logLevel: expected \"error\", \"warn\", \"info\" or "
				            "\"debug\", got \"%s\"",
				            level);
		}
		return replace_string((char **)field, json_string_value(value));
	case KEY_LISTEN:
		return config_set_listen(cfg, json_string_value(value), err, errlen);
	case KEY_INT:
	case KEY_SIZE: {
		json_int_t n = json_integer_value(value);

		if (n < k->min || n > k->max)
			return fail(err, errlen, "%s: %lld is out of range (%lld to %lld)", k->name,
			            (long long)n, k->min, k->max);
		if (k->type == KEY_INT)
			*(int *)field = (int)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	}
	case KEY_BOOL:
		*(int *)field = json_is_true(value);
		return 0;
	case KEY_CORS: {
		const char *key;
		json_t *member, *origin;
		size_t i;

		json_object_foreach(value, key, member)
		{
			if (strcmp(key, "allowedOrigins"))
				return fail(err, errlen,
				            "cors.%s: unknown key (known: allowedOrigins)", key);
			if (!json_is_array(member))
				return fail(err, errlen,
				            "cors.allowedOrigins: expected an array of origins");
			json_array_foreach(member, i, origin)
			{
				if (!json_is_string(origin))
					return fail(
					    err, errlen,
					    "cors.allowedOrigins[%zu]: expected an origin (string)",
					    i);
			}
			json_decref(cfg->cors_origins);
			cfg->cors_origins = json_incref(member);
		}
		return 0;
	}
	case KEY_DIRS: {
		json_t *dir;
		size_t i;
		int rc;

		json_array_foreach(value, i, dir)
		{
			if (!json_is_string(dir))
				return fail(err, errlen,
				            "pluginDirs[%zu]: expected a directory (string)", i);
		}
		for (int d = 0; d < cfg->plugin_dir_count; d++)
			free(cfg->plugin_dirs[d]);
		cfg->plugin_dir_count = 0;
		cfg->plugin_dirs_set = 1;
		json_array_foreach(value, i, dir)
		{
			rc = config_add_plugin_dir(cfg, json_string_value(dir), err, errlen);
			if (rc)
				return rc;
		}
		return 0;
	}
	case KEY_PLUGINS:
		return load_plugins_key(cfg, value, err, errlen);
	}
	return SENSED_EINVAL;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	const char *key;
	json_t *value;
	int rc = 0;

	if (!root)
		return fail(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, errlen, "%s: expected a JSON object at the top", path);
	}
	json_object_foreach(root, key, value)
	{
		const struct config_key *k = NULL;

		for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
			if (!strcmp(config_keys[i].name, key)) {
				k = &config_keys[i];
				break;
			}
		}
		if (!k) {
			rc = fail(err, errlen,
			          "%s: unknown key \"%s\" (see README.md, Configuration)", path,
			          key);
			break;
		}
		rc = load_key(cfg, k, value, err, errlen);
		if (rc) {
			if (rc == SENSED_EINVAL) {
				char reason[512];

				snprintf(reason, sizeof(reason), "%s", err);
				snprintf(err, errlen, "%s: %s", path, reason);
			}
			break;
		}
	}
	json_decref(root);
	if (!rc)
		rc = replace_string(&cfg->config_path, path);
	return rc;
}

void config_free(struct config *cfg)
{
	free(cfg->listen_host);
	free(cfg->data_dir);
	free(cfg->public_base_url);
	free(cfg->log_level);
	free(cfg->config_path);
	free(cfg->translations_dir);
	for (int d = 0; d < cfg->plugin_dir_count; d++)
		free(cfg->plugin_dirs[d]);
	json_decref(cfg->cors_origins);
	json_decref(cfg->plugins_enabled);
	json_decref(cfg->plugins_config);
	memset(cfg, 0, sizeof(*cfg));
}
