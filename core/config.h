/* Server configuration: defaults, the JSON file (etc/sensed.json), then flags.
 * Read once at start-up by the main thread; read-only afterwards (any thread). */
#ifndef SENSED_CORE_CONFIG_H
#define SENSED_CORE_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#define CONFIG_MAX_PLUGIN_DIRS 16

struct config {
	/* server */
	char *listen_host;     /* "127.0.0.1" */
	int listen_port;       /* 8081; 0 picks a free port (printed at start) */
	char *data_dir;        /* "./data" */
	int workers;           /* event-loop threads; 0 = one per core */
	int pool_threads;      /* worker-pool threads for CPU-heavy jobs; 0 = one per core */
	int pool_queue;        /* pending jobs before run_job answers EBUSY */
	char *public_base_url; /* for links in mail; "http://<listen>" when unset */

	/* http limits */
	size_t max_header_size; /* bytes of request line + headers */
	size_t max_body_size;   /* bytes; larger bodies get 413 */
	int request_timeout;    /* seconds to read a request / idle keep-alive */
	int max_connections;    /* per server (all workers); over it: accept then close */
	int max_json_depth;     /* nesting depth of request bodies */
	int access_log;         /* 1: one line per request on stderr */
	json_t *cors_origins;   /* array of allowed origins ("*" allowed); owned */

	/* store */
	size_t map_size; /* initial LMDB map size, bytes; grows on MDB_MAP_FULL */
	int max_limit;   /* cap on `limit` in lists */
	int durable;     /* 1: fsync each commit (default); 0: MDB_NOSYNC (tests) */

	/* authentication */
	int login_max_failures;    /* failed logins before the account locks */
	int login_lock_seconds;    /* how long it stays locked */
	int login_rate_per_minute; /* login attempts per client address per minute */
	int password_hash_fast;    /* 1: libsodium MIN limits (tests only) */

	/* plugins */
	char *plugin_dirs[CONFIG_MAX_PLUGIN_DIRS]; /* owned; searched in order */
	int plugin_dir_count;
	int plugin_dirs_set;     /* the file set pluginDirs (no default dir is added) */
	json_t *plugins_enabled; /* array of names to load, or NULL for all found; owned */
	json_t *plugins_config;  /* object name -> object; owned */

	char *log_level;   /* "error", "warn", "info" or "debug" */
	char *translations_dir; /* language files; NULL: beside the binary (see main.c) */
	char *config_path; /* the file read, or NULL */
};

/* Fill *cfg with defaults.  Returns 0 or SENSED_ENOMEM. */
int config_defaults(struct config *cfg);
/* Merge the JSON file at `path` into *cfg.  On an unknown key or wrong type returns
 * SENSED_EINVAL and writes a message naming the key into err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
void config_free(struct config *cfg);
/* "HOST:PORT" into listen_host/listen_port (--listen and the "listen" key). */
int config_set_listen(struct config *cfg, const char *value, char *err, size_t errlen);
/* Append a plugin directory (--plugin-dir and "pluginDirs"). */
int config_add_plugin_dir(struct config *cfg, const char *dir, char *err, size_t errlen);

/* The process-wide configuration, set once by main() before threads start. */
extern const struct config *g_config;

#endif
