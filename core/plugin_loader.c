/* Plugin loading: dlopen, descriptor checks with one precise message per failure, init with
 * undo on failure, the enabled list, and the persisted enable/disable state.
 *
 * Threads: everything except plugin_set_enabled(), plugins_list() and the enabled flag
 * runs on the main thread during start-up (or shutdown).  The record list is only
 * modified then; afterwards loop threads read it.
 *
 * Undo of a failed init: its routes are removed (router_remove_owner).  Collections and
 * indexes it declared stay: opening a collection is idempotent and collections are global
 * by name (another plugin may share it), and an index only costs upkeep. */
#include "plugin_loader.h"

#include "config.h"
#include "errors.h"
#include "log.h"
#include "plugin_private.h"
#include "router.h"
#include "server.h"
#include "store.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAG          "plugins"
#define STATE_COLLECTION "plugin_state"

/* The size of a 1.0 descriptor: `fini` is its last member, and members only ever append. */
#define DESCRIPTOR_SIZE_1_0                                                                        \
	(offsetof(sensed_plugin_descriptor, fini) + sizeof(((sensed_plugin_descriptor *)0)->fini))

static char core_name[] = "core";
static char core_version[] = SENSED_VERSION;
static char core_description[] = "The sensed core (authentication, plugins)";
static char core_folder[] = "";

static struct plugin_record core_record = {
    .pub =
        {
            .name = core_name,
            .version = core_version,
            .description = core_description,
            .folder_name = core_folder,
            .state = PLUGIN_LOADED,
            .enabled = 1,
            .essential = 1,
            .in_init = 1,
        },
    .abi_major = SENSED_SDK_ABI_MAJOR,
    .abi_minor = SENSED_SDK_ABI_MINOR,
    .abi_known = 1,
};

static sensed_plugin *plugins_head;   /* file records in load order; owned */
static sensed_plugin *plugin_in_init; /* the plugin whose init() is running */
static sensed_collection *state_coll; /* plugin_state, owned by the store */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set while a file whose name is not in plugins.enabled is opened only to read its
 * plugin name: a refusal then means "skipped", not a failure. */
static int peeking;

sensed_plugin *plugin_core(void)
{
	return &core_record.pub;
}

sensed_plugin *plugin_first(void)
{
	return plugins_head;
}

int plugin_registration_open(void)
{
	return core_record.pub.in_init || plugin_in_init != NULL;
}

void plugin_record_verror(sensed_plugin *p, const char *fmt, va_list ap)
{
	if (!p || p->error[0])
		return;
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
}

void plugin_record_error(sensed_plugin *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	plugin_record_verror(p, fmt, ap);
	va_end(ap);
}

static int name_is_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return 0;
	for (const char *c = name; *c; c++) {
		int ok =
		    (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

/* "dir/libfoo.so" -> "foo" (new string). */
static char *folder_name_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, "lib", 3) == 0 && base[3] != '\0' && strcmp(base + 3, ".so") != 0)
		base += 3;
	size_t len = strlen(base);
	if (len > 3 && strcmp(base + len - 3, ".so") == 0)
		len -= 3;
	return strndup(base, len);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void record_free(sensed_plugin *p)
{
	free(p->name);
	free(p->version);
	free(p->description);
	free(p->path);
	free(p->folder_name);
	free(p);
}

static void close_handle(sensed_plugin *p)
{
	if (p->handle)
		dlclose(p->handle);
	p->handle = NULL;
	p->descriptor = NULL;
}

/* Mark `p` failed with one message, log it once, close the object.  Returns `err`. */
static int fail(sensed_plugin *p, int err, const char *fmt, ...) SENSED_PRINTF(3, 4);
static int fail(sensed_plugin *p, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	atomic_store(&p->enabled, 0);
	close_handle(p);
	if (peeking) {
		p->state = PLUGIN_SKIPPED;
		log_msg(SENSED_LOG_INFO, LOG_TAG, "skipped %s: not in plugins.enabled (%s)",
		        p->path, p->error);
		return 0;
	}
	p->state = PLUGIN_FAILED;
	log_msg(SENSED_LOG_ERROR, LOG_TAG, "FAILED %s: %s", p->path, p->error);
	return err;
}

static int json_list_has(const json_t *list, const char *name)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item)
	{
		if (json_is_string(item) && strcmp(json_string_value(item), name) == 0)
			return 1;
	}
	return 0;
}

static const json_t *enabled_list(void)
{
	if (g_config && json_is_array(g_config->plugins_enabled))
		return g_config->plugins_enabled;
	return NULL;
}

/* plugins.config.<name>.essential: true in the configuration marks a plugin the operators cannot
 * disable at run time. */
static int configured_essential(const char *name)
{
	if (!g_config || !json_is_object(g_config->plugins_config))
		return 0;
	json_t *section = json_object_get(g_config->plugins_config, name);
	return json_is_true(json_object_get(section, "essential"));
}

static void open_state_collection(void)
{
	if (state_coll)
		return;
	int err = store_collection_open("core", STATE_COLLECTION, &state_coll);
	if (err) {
		state_coll = NULL;
		log_msg(SENSED_LOG_WARN, LOG_TAG,
		        "cannot open collection %s (%s): enable/disable will not persist",
		        STATE_COLLECTION, sensed_strerror(err));
	}
}

/* The persisted enabled flag of `name`: 1, 0, or -1 when nothing is stored. */
static int persisted_enabled(const char *name)
{
	return store_flag_get(state_coll, "name", name, "enabled");
}

static int persist_enabled(const char *name, int enabled)
{
	return store_flag_set(state_coll, "name", name, "enabled", enabled);
}

static sensed_plugin *record_new(const char *path)
{
	struct plugin_record *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	sensed_plugin *p = &rec->pub;
	p->path = strdup(path);
	p->folder_name = folder_name_of(path);
	p->name = p->folder_name ? strdup(p->folder_name) : NULL;
	p->state = PLUGIN_FAILED;
	atomic_init(&p->enabled, 0);
	if (!p->path || !p->folder_name || !p->name) {
		record_free(p);
		return NULL;
	}
	sensed_plugin **tail = &plugins_head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
	return p;
}

static sensed_plugin *find_loaded(const char *name, const sensed_plugin *except)
{
	for (sensed_plugin *p = plugins_head; p; p = p->next) {
		if (p != except && p->state == PLUGIN_LOADED && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

/* Check the descriptor field by field; on a mismatch fail with the message that names
 * both sides and the remedy.  The first 8 bytes (magic, ABI) keep their layout in every
 * major, so they are read before anything else. */
static int check_descriptor(sensed_plugin *p, const sensed_plugin_descriptor *d)
{
	struct plugin_record *rec = (struct plugin_record *)p;
	if (d->magic != SENSED_PLUGIN_MAGIC)
		return fail(p, SENSED_EINVAL,
		            "bad magic 0x%08x (expected 0x%08x): not a sensed plugin descriptor; "
		            "define it with SENSED_PLUGIN_DEFINE",
		            (unsigned)d->magic, (unsigned)SENSED_PLUGIN_MAGIC);
	rec->abi_major = d->abi_major;
	rec->abi_minor = d->abi_minor;
	rec->abi_known = 1;
	if (d->abi_major != SENSED_SDK_ABI_MAJOR)
		return fail(
		    p, SENSED_EUNSUPPORTED,
		    "server provides SDK ABI %d.%d, plugin was built for %u.%u: rebuild the "
		    "plugin against the SDK of this server",
		    SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR, (unsigned)d->abi_major,
		    (unsigned)d->abi_minor);
	if (d->abi_minor > SENSED_SDK_ABI_MINOR)
		return fail(
		    p, SENSED_EUNSUPPORTED,
		    "server provides SDK ABI %d.%d, plugin was built for %u.%u (newer): "
		    "rebuild the plugin against the SDK of this server, or upgrade the server",
		    SENSED_SDK_ABI_MAJOR, SENSED_SDK_ABI_MINOR, (unsigned)d->abi_major,
		    (unsigned)d->abi_minor);
	if (d->size < DESCRIPTOR_SIZE_1_0)
		return fail(
		    p, SENSED_EINVAL,
		    "descriptor size %u is smaller than SDK ABI 1.0's %zu: corrupt descriptor; "
		    "rebuild the plugin against the SDK of this server",
		    (unsigned)d->size, (size_t)DESCRIPTOR_SIZE_1_0);
	/* major.minor must match: jansson keeps its ABI across patch releases only. */
	long server_jansson = JANSSON_VERSION_HEX;
	if ((d->jansson_version >> 8) != (server_jansson >> 8))
		return fail(p, SENSED_EUNSUPPORTED,
		            "server uses jansson %ld.%ld, plugin was built with jansson %ld.%ld: "
		            "rebuild the plugin against the jansson of this server",
		            (server_jansson >> 16) & 0xff, (server_jansson >> 8) & 0xff,
		            (d->jansson_version >> 16) & 0xff, (d->jansson_version >> 8) & 0xff);
	if (!name_is_valid(d->name))
		return fail(p, SENSED_EINVAL,
		            "invalid plugin name \"%.64s\": use 1 to 64 of [a-z0-9_-]",
		            d->name ? d->name : "(null)");
	if (!d->init)
		return fail(p, SENSED_EINVAL, "the descriptor has no init function");
	return 0;
}

/* dlopen `p->path`, find the descriptor, check it, copy its strings.  With `peeking`, a
 * plugin not in plugins.enabled is skipped here. */
static int open_and_check(sensed_plugin *p)
{
	dlerror();
	p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle) {
		const char *why = dlerror();
		return fail(p, SENSED_EINVAL, "not a loadable shared object: %s",
		            why ? why : "unknown dlopen error");
	}
	sensed_plugin_entry_fn entry;
	void *symbol = dlsym(p->handle, SENSED_PLUGIN_ENTRY_SYMBOL);
	memcpy(&entry, &symbol, sizeof(entry));
	if (!entry)
		return fail(p, SENSED_EINVAL,
		            "no entry function: the file does not export %s (define the descriptor "
		            "with SENSED_PLUGIN_DEFINE from sensed/plugin.h)",
		            SENSED_PLUGIN_ENTRY_SYMBOL);
	const sensed_plugin_descriptor *d = entry();
	if (!d)
		return fail(p, SENSED_EINVAL, "%s returned no descriptor",
		            SENSED_PLUGIN_ENTRY_SYMBOL);
	int err = check_descriptor(p, d);
	if (err || !p->handle) /* refused, or skipped while peeking */
		return err;

	char *name = strdup(d->name);
	char *version = dup_or_empty(d->version);
	char *description = dup_or_empty(d->description);
	if (!name || !version || !description) {
		free(name);
		free(version);
		free(description);
		return fail(p, SENSED_ENOMEM, "out of memory");
	}
	free(p->name);
	p->name = name;
	p->version = version;
	p->description = description;
	p->descriptor = d;

	if (peeking && !json_list_has(enabled_list(), p->name)) {
		close_handle(p);
		p->state = PLUGIN_SKIPPED;
		log_msg(SENSED_LOG_INFO, LOG_TAG, "skipped %s %s: not in plugins.enabled", p->name,
		        p->path);
	}
	return 0;
}

/* Load one file.  `listed` < 0: the enabled list is not consulted; otherwise it says
 * whether the file name is in the list (the descriptor's name may still be). */
static int load_one(const char *path, int listed, sensed_plugin **out)
{
	sensed_plugin *p = record_new(path);
	if (out)
		*out = p;
	if (!p) {
		log_msg(SENSED_LOG_ERROR, LOG_TAG, "FAILED %s: out of memory", path);
		return SENSED_ENOMEM;
	}
	p->load_time_ms = time_now_ms();
	peeking = listed == 0;
	int err = open_and_check(p);
	peeking = 0;
	if (err || p->state == PLUGIN_SKIPPED)
		return err;
	const sensed_plugin_descriptor *d = p->descriptor;

	sensed_plugin *other = find_loaded(p->name, p);
	if (other || strcmp(p->name, core_name) == 0)
		return fail(p, SENSED_EEXISTS,
		            "duplicate plugin name '%s': already loaded from %s; this file (%s) is "
		            "refused",
		            p->name, other ? other->path : "the core", p->path);

	/* "plugins" serves PATCH /plugins: disabling it would lock the operators out. */
	p->essential = configured_essential(p->name) || strcmp(p->name, "plugins") == 0;
	int persisted = p->essential ? -1 : persisted_enabled(p->name);

	p->in_init = 1;
	plugin_in_init = p;
	int rc = d->init(p, plugin_host());
	plugin_in_init = NULL;
	p->in_init = 0;
	if (rc != 0) {
		if (g_router)
			router_remove_owner(g_router, p);
		char reason[sizeof(p->error)];
		if (p->error[0])
			snprintf(reason, sizeof(reason), "%s", p->error);
		else
			snprintf(reason, sizeof(reason), "returned %d (%s) without set_error", rc,
			         sensed_strerror(rc < 0 ? rc : SENSED_EINVAL));
		return fail(p, rc < 0 ? rc : SENSED_EINVAL, "init failed: %s", reason);
	}
	p->error[0] = '\0';
	p->state = PLUGIN_LOADED;
	atomic_store(&p->enabled, persisted == 0 ? 0 : 1);
	log_msg(SENSED_LOG_INFO, LOG_TAG, "loaded %s %s from %s%s", p->name, p->version, p->path,
	        persisted == 0 ? " (disabled)" : "");
	return 0;
}

int plugin_load_file(const char *path, sensed_plugin **out)
{
	if (out)
		*out = NULL;
	if (!path)
		return SENSED_EINVAL;
	open_state_collection();
	return load_one(path, -1, out);
}

static int has_so_suffix(const struct dirent *entry)
{
	size_t len = strlen(entry->d_name);
	return entry->d_name[0] != '.' && len > 3 && strcmp(entry->d_name + len - 3, ".so") == 0;
}

static void print_line(const sensed_plugin *p)
{
	switch (p->state) {
	case PLUGIN_LOADED:
		printf("ok %s %s %s\n", p->name, p->version, p->path);
		break;
	case PLUGIN_SKIPPED:
		printf("skipped %s %s: not in plugins.enabled\n", p->name, p->path);
		break;
	case PLUGIN_FAILED:
		printf("FAILED %s: %s\n", p->path, p->error);
		break;
	}
}

/* Load every *.so of `dir` in name order.  Returns the number of failures. */
static int load_dir(const char *dir, int print)
{
	struct dirent **entries = NULL;
	int count = scandir(dir, &entries, has_so_suffix, alphasort);
	if (count < 0) {
		log_msg(SENSED_LOG_ERROR, LOG_TAG, "FAILED %s: cannot read plugin directory: %s",
		        dir, strerror(errno));
		if (print)
			printf("FAILED %s: cannot read plugin directory: %s\n", dir,
			       strerror(errno));
		return 1;
	}
	const json_t *list = enabled_list();
	int failures = 0;
	for (int i = 0; i < count; i++) {
		size_t len = strlen(dir) + strlen(entries[i]->d_name) + 2;
		char *path = malloc(len);
		if (path) {
			snprintf(path, len, "%s/%s", dir, entries[i]->d_name);
			int listed = -1;
			if (list) {
				char *folder = folder_name_of(path);
				listed = folder && json_list_has(list, folder);
				free(folder);
			}
			sensed_plugin *p = NULL;
			if (load_one(path, listed, &p) != 0)
				failures++;
			if (print && p)
				print_line(p);
			free(path);
		} else {
			failures++;
		}
		free(entries[i]);
	}
	free(entries);
	return failures;
}

static int load_all(int print)
{
	open_state_collection();
	int failures = 0;
	if (g_config && g_config->plugin_dir_count > 0) {
		for (int i = 0; i < g_config->plugin_dir_count; i++)
			failures += load_dir(g_config->plugin_dirs[i], print);
	} else {
		failures += load_dir(SENSED_BUILD_PLUGIN_DIR, print);
	}
	/* Registration closes for everyone, the core included. */
	core_record.pub.in_init = 0;
	return failures;
}

int plugin_load_all(void)
{
	return load_all(0);
}

int plugin_check_all(void)
{
	int own_router = 0;
	if (!g_router) {
		/* Route conflicts are load failures too: check against a scratch router. */
		g_router = router_new();
		own_router = g_router != NULL;
	}
	int failures = load_all(1);
	fflush(stdout);
	if (own_router) {
		router_free(g_router);
		g_router = NULL;
	}
	return failures;
}

void plugin_unload_all(void)
{
	sensed_plugin *p = plugins_head;
	plugins_head = NULL;
	while (p) {
		sensed_plugin *next = p->next;
		if (p->state == PLUGIN_LOADED && p->descriptor && p->descriptor->fini)
			p->descriptor->fini(p);
		close_handle(p);
		record_free(p);
		p = next;
	}
	state_coll = NULL;
	core_record.pub.in_init = 1;
	host_shutdown();
}

static const char *state_name(enum plugin_state state)
{
	switch (state) {
	case PLUGIN_LOADED:
		return "loaded";
	case PLUGIN_SKIPPED:
		return "skipped";
	case PLUGIN_FAILED:
		break;
	}
	return "failed";
}

json_t *plugins_list(void)
{
	json_t *list = json_array();
	if (!list)
		return NULL;
	pthread_mutex_lock(&state_lock);
	for (sensed_plugin *p = plugins_head; p; p = p->next) {
		const struct plugin_record *rec = (const struct plugin_record *)p;
		char date[25];
		date_format(p->load_time_ms, date);
		json_t *item = json_pack(
		    "{s:s, s:s?, s:s?, s:s, s:s, s:b, s:s, s:s?, s:o, s:o, s:s}", "name", p->name,
		    "version", p->version, "description", p->description, "folderName",
		    p->folder_name, "path", p->path, "isEnabled",
		    p->state == PLUGIN_LOADED && atomic_load(&p->enabled), "state",
		    state_name(p->state), "error", p->error[0] ? p->error : NULL, "abiMajor",
		    rec->abi_known ? json_integer(rec->abi_major) : json_null(), "abiMinor",
		    rec->abi_known ? json_integer(rec->abi_minor) : json_null(), "lastUpdate",
		    date);
		if (!item || json_array_append_new(list, item) != 0) {
			json_decref(list);
			list = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&state_lock);
	return list;
}

int plugin_set_enabled(const char *name, int enabled)
{
	if (!name)
		return SENSED_EINVAL;
	if (strcmp(name, core_name) == 0)
		return SENSED_EINVAL;
	sensed_plugin *p = find_loaded(name, NULL);
	if (!p)
		return SENSED_ENOTFOUND;
	if (p->essential)
		return SENSED_EINVAL;
	enabled = enabled ? 1 : 0;
	/* Serialise so the stored flag and the live flag end in the same order, and so
	 * plugins_list() reads load_time_ms whole. */
	pthread_mutex_lock(&state_lock);
	int err = persist_enabled(p->name, enabled);
	if (err == 0) {
		atomic_store(&p->enabled, enabled);
		p->load_time_ms = time_now_ms();
		log_msg(SENSED_LOG_INFO, LOG_TAG, "plugin '%s' %s", p->name,
		        enabled ? "enabled" : "disabled");
	}
	pthread_mutex_unlock(&state_lock);
	return err;
}
