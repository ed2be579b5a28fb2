/* sensed: command line, start-up order and shutdown. */
#include "auth.h"
#include "config.h"
#include "errors.h"
#include "json_load.h"
#include "log.h"
#include "plugin_loader.h"
#include "pool.h"
#include "request.h"
#include "router.h"
#include "sensed_features.h"
#include "server.h"
#include "store.h"
#include "translations.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READER_CHECK_SECONDS 60

static const char usage_text[] =
    "usage: sensed [options]\n"
    "       sensed backup --data DIR OUT\n"
    "\n"
    "Serves the Sisense REST API v1 from an embedded LMDB store.\n"
    "\n"
    "options:\n"
    "  --config FILE        JSON configuration (keys documented in README.md)\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8081; port 0 picks one)\n"
    "  --data DIR           data directory (default ./data)\n"
    "  --plugin-dir DIR     also load plugins from DIR (repeatable)\n"
    "  --workers N          event-loop threads (default: one per core)\n"
    "  --check-config       validate the configuration and the plugins, then exit\n"
    "                       (non-zero with the reasons when anything is wrong)\n"
    "  --check-plugins      same as --check-config\n"
    "  --version            print the version and the SDK ABI, then exit\n"
    "  --help               this text\n"
    "\n"
    "environment (first start on an empty data directory only):\n"
    "  SENSED_ADMIN_EMAIL, SENSED_ADMIN_PASSWORD   the first super user; without a password\n"
    "                       one is generated and printed once\n";

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -1;
	return 0;
}

/* The plugins built beside a binary in the build tree (<bin>/plugins), else those of the
 * installation the binary belongs to (<bin>/../lib/sensed/plugins, so an installed tree
 * can be moved), else the configured install prefix. */
static int add_default_plugin_dir(struct config *cfg, char *err, size_t errlen)
{
	char exe[PATH_MAX], dir[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(dir, sizeof(dir), "%s/plugins", exe);
			if (!stat(dir, &st) && S_ISDIR(st.st_mode))
				return config_add_plugin_dir(cfg, dir, err, errlen);
			snprintf(dir, sizeof(dir), "%s/../%s", exe, SENSED_INSTALL_PLUGIN_RELDIR);
			if (!stat(dir, &st) && S_ISDIR(st.st_mode))
				return config_add_plugin_dir(cfg, dir, err, errlen);
		}
	}
	return config_add_plugin_dir(cfg, SENSED_INSTALL_PLUGIN_DIR, err, errlen);
}

/* The language files: "translationsDir" when configured; for a binary in the build tree,
 * the source tree's etc/translations; else those of the installation the binary belongs
 * to (<bin>/../share/sensed/translations), else the configured install prefix's. */
static void load_translations(const struct config *cfg)
{
	char exe[PATH_MAX], dir[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat exe_dir, build_dir, st;
	char *slash;

	if (cfg->translations_dir) {
		translations_load(cfg->translations_dir);
		return;
	}
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (!stat(exe, &exe_dir) && !stat(SENSED_BUILD_DIR, &build_dir) &&
			    exe_dir.st_dev == build_dir.st_dev &&
			    exe_dir.st_ino == build_dir.st_ino) {
				translations_load(SENSED_SOURCE_TRANSLATIONS_DIR);
				return;
			}
			snprintf(dir, sizeof(dir), "%s/../%s", exe,
			         SENSED_INSTALL_TRANSLATIONS_RELDIR);
			if (!stat(dir, &st) && S_ISDIR(st.st_mode)) {
				translations_load(dir);
				return;
			}
		}
	}
	translations_load(SENSED_INSTALL_TRANSLATIONS_DIR);
}

static enum sensed_log_level parse_log_level(const char *name)
{
	if (!strcmp(name, "error"))
		return SENSED_LOG_ERROR;
	if (!strcmp(name, "warn"))
		return SENSED_LOG_WARN;
	if (!strcmp(name, "debug"))
		return SENSED_LOG_DEBUG;
	return SENSED_LOG_INFO;
}

static int run_backup(int argc, char **argv)
{
	const char *data = NULL, *out = NULL;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = argv[++i];
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else {
			fprintf(stderr, "sensed backup: unexpected argument \"%s\"\n%s", argv[i],
			        usage_text);
			return 2;
		}
	}
	if (!data || !out) {
		fprintf(stderr, "sensed backup: needs --data DIR and an output directory\n");
		return 2;
	}
	if (mkdir_p(out)) {
		fprintf(stderr, "sensed backup: cannot create %s: %s\n", out, strerror(errno));
		return 1;
	}
	rc = store_backup(data, out);
	if (rc) {
		fprintf(stderr, "sensed backup: %s -> %s failed: %s\n", data, out,
		        sensed_strerror(rc));
		return 1;
	}
	fprintf(stderr, "sensed backup: %s copied to %s (compacted)\n", data, out);
	return 0;
}

struct options {
	const char *config_file;
	const char *listen;
	const char *data;
	const char *workers;
	const char *plugin_dirs[CONFIG_MAX_PLUGIN_DIRS];
	int plugin_dir_count;
	int check;
};

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (!strcmp(a, "--version")) {
			printf("sensed %s (SDK ABI %d.%d)\n", SENSED_VERSION, SENSED_SDK_ABI_MAJOR,
			       SENSED_SDK_ABI_MINOR);
			return 0;
		}
		if (!strcmp(a, "--check-config") || !strcmp(a, "--check-plugins")) {
			o->check = 1;
			continue;
		}
		if (!strcmp(a, "--config"))
			slot = &o->config_file;
		else if (!strcmp(a, "--listen"))
			slot = &o->listen;
		else if (!strcmp(a, "--data"))
			slot = &o->data;
		else if (!strcmp(a, "--workers"))
			slot = &o->workers;
		else if (!strcmp(a, "--plugin-dir")) {
			if (o->plugin_dir_count == CONFIG_MAX_PLUGIN_DIRS) {
				fprintf(stderr, "sensed: too many --plugin-dir (at most %d)\n",
				        CONFIG_MAX_PLUGIN_DIRS);
				return 2;
			}
			slot = &o->plugin_dirs[o->plugin_dir_count++];
		} else {
			fprintf(stderr, "sensed: unknown option \"%s\"\n%s", a, usage_text);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "sensed: %s needs a value\n", a);
			return 2;
		}
		*slot = argv[++i];
	}
	return -1;
}

static int build_config(const struct options *o, struct config *cfg)
{
	char err[1024] = "";
	int rc = config_defaults(cfg);

	if (!rc && o->config_file)
		rc = config_load_file(cfg, o->config_file, err, sizeof(err));
	if (!rc && o->listen)
		rc = config_set_listen(cfg, o->listen, err, sizeof(err));
	if (!rc && o->data) {
		free(cfg->data_dir);
		cfg->data_dir = strdup(o->data);
		if (!cfg->data_dir)
			rc = SENSED_ENOMEM;
	}
	if (!rc && o->workers) {
		char *end;
		long n = strtol(o->workers, &end, 10);

		if (*end || end == o->workers || n < 0 || n > 256) {
			snprintf(err, sizeof(err), "--workers: expected 0 to 256, got \"%s\"",
			         o->workers);
			rc = SENSED_EINVAL;
		} else {
			cfg->workers = (int)n;
		}
	}
	if (!rc && !cfg->plugin_dirs_set)
		rc = add_default_plugin_dir(cfg, err, sizeof(err));
	for (int i = 0; !rc && i < o->plugin_dir_count; i++)
		rc = config_add_plugin_dir(cfg, o->plugin_dirs[i], err, sizeof(err));
	if (rc) {
		fprintf(stderr, "sensed: configuration: %s\n", err[0] ? err : sensed_strerror(rc));
		return rc;
	}
	return 0;
}

/* Undo start-up in reverse order: plugins first (they hold routes, features and
 * collections), the store last. */
static void stop_core(void)
{
	plugin_unload_all();
	features_shutdown();
	translations_shutdown();
	cors_shutdown();
	auth_shutdown();
	router_free(g_router);
	g_router = NULL;
	store_close();
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* --check-config: the configuration parsed; now load every plugin against a throw-away
 * store so that nothing in the data directory is touched. */
static int check_plugins(const struct config *cfg)
{
	char tmp[] = "/tmp/sensed-check-XXXXXX";
	struct store_options so = {.map_size = 64 << 20,
	                           .durable = 0,
	                           .max_limit = cfg->max_limit,
	                           .max_collections = 256};
	int failures;

	if (!mkdtemp(tmp)) {
		fprintf(stderr, "sensed: --check-config: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (store_open(tmp, &so)) {
		fprintf(stderr, "sensed: --check-config: cannot open a scratch store in %s\n", tmp);
		return 1;
	}
	g_router = router_new();
	if (!g_router || auth_init_without_users(cfg) ||
	    auth_register_routes(plugin_core(), plugin_host())) {
		fprintf(stderr,
		        "sensed: --check-config: cannot start the core on a scratch store\n");
		return 1;
	}
	load_translations(cfg);
	failures = plugin_check_all();
	stop_core();
	if (nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "sensed: could not remove %s\n", tmp);
	if (failures) {
		printf("configuration ok, %d plugin(s) failed to load\n", failures);
		return 1;
	}
	printf("configuration ok, plugins ok\n");
	return 0;
}

static pthread_mutex_t reader_check_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reader_check_wake = PTHREAD_COND_INITIALIZER;
static int reader_check_stop;

/* Clears reader slots of crashed readers (e.g. a killed `sensed backup`). */
static void *reader_check_thread(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&reader_check_lock);
	while (!reader_check_stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += READER_CHECK_SECONDS;
		pthread_cond_timedwait(&reader_check_wake, &reader_check_lock, &until);
		if (!reader_check_stop) {
			int cleared = store_reader_check();

			if (cleared > 0)
				log_msg(SENSED_LOG_WARN, "core", "cleared %d stale reader slot(s)",
				        cleared);
		}
	}
	pthread_mutex_unlock(&reader_check_lock);
	return NULL;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	server_stop();
}

static int serve(const struct config *cfg)
{
	struct store_options so = {.map_size = cfg->map_size,
	                           .durable = cfg->durable,
	                           .max_limit = cfg->max_limit,
	                           .max_collections = 256};
	struct sigaction sa = {.sa_handler = on_stop_signal};
	pthread_t reader_checker;
	int port = 0, rc, threads;

	if (mkdir_p(cfg->data_dir)) {
		fprintf(stderr, "sensed: cannot create data directory %s: %s\n", cfg->data_dir,
		        strerror(errno));
		return 1;
	}
	rc = store_open(cfg->data_dir, &so);
	if (rc) {
		fprintf(stderr, "sensed: cannot open the store in %s: %s\n", cfg->data_dir,
		        sensed_strerror(rc));
		return 1;
	}
	g_router = router_new();
	if (!g_router)
		return 1;
	rc = auth_init(cfg);
	if (!rc)
		rc = auth_register_routes(plugin_core(), plugin_host());
	if (rc) {
		fprintf(stderr, "sensed: authentication start-up failed: %s\n",
		        sensed_strerror(rc));
		return 1;
	}
	threads = cfg->pool_threads > 0 ? cfg->pool_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (pool_start(threads > 0 ? threads : 1, cfg->pool_queue)) {
		fprintf(stderr, "sensed: cannot start the worker pool\n");
		return 1;
	}
	load_translations(cfg);
	plugin_load_all();

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = server_bind(cfg, &port);
	if (rc) {
		fprintf(stderr, "sensed: cannot listen on %s:%d: %s\n", cfg->listen_host,
		        cfg->listen_port, sensed_strerror(rc));
		return 1;
	}
	fprintf(stderr, "sensed: listening on %s:%d\n", cfg->listen_host, port);
	pthread_create(&reader_checker, NULL, reader_check_thread, NULL);

	rc = server_run(cfg);

	pthread_mutex_lock(&reader_check_lock);
	reader_check_stop = 1;
	pthread_cond_signal(&reader_check_wake);
	pthread_mutex_unlock(&reader_check_lock);
	pthread_join(reader_checker, NULL);

	stop_core();
	fprintf(stderr, "sensed: stopped\n");
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options opts = {0};
	struct config cfg;
	int rc;

	json_alloc_install();
	json_object_seed(0);
	if (argc > 1 && !strcmp(argv[1], "backup"))
		return run_backup(argc, argv);
	rc = parse_options(argc, argv, &opts);
	if (rc >= 0)
		return rc;
	if (build_config(&opts, &cfg)) {
		config_free(&cfg);
		return 2;
	}
	log_set_level(parse_log_level(cfg.log_level));
	g_config = &cfg;
	rc = opts.check ? check_plugins(&cfg) : serve(&cfg);
	g_config = NULL;
	config_free(&cfg);
	return rc;
}
