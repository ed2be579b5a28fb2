/* The sensed_host table given to every plugin: the core functions of the same names, plus
 * the members that need the calling plugin (log prefix, errors, configuration,
 * registration with its time window). */
#include "auth.h"
#include "config.h"
#include "errors.h"
#include "sensed_features.h"
#include "log.h"
#include "plugin_loader.h"
#include "plugin_private.h"
#include "request.h"
#include "router.h"
#include "server.h"
#include "store.h"
#include "translations.h"

#include <stdio.h>
#include <string.h>

/* Borrowed out by host_config() when a plugin has no section; created on the main thread
 * by plugin_host() before any plugin runs, so handlers only ever read it. */
static json_t *empty_config;

static void host_log(sensed_plugin *self, enum sensed_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, self && self->name ? self->name : "plugin", fmt, ap);
	va_end(ap);
}

static void host_set_error(sensed_plugin *self, const char *fmt, ...)
{
	if (!self || !fmt || !self->in_init)
		return;
	va_list ap;
	va_start(ap, fmt);
	plugin_record_verror(self, fmt, ap);
	va_end(ap);
}

static json_t *host_config(sensed_plugin *self)
{
	if (self && self->name && g_config && json_is_object(g_config->plugins_config)) {
		json_t *section = json_object_get(g_config->plugins_config, self->name);
		if (json_is_object(section))
			return section;
	}
	return empty_config;
}

static void methods_text(unsigned methods, char *out, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {SENSED_GET, "GET"},         {SENSED_POST, "POST"},     {SENSED_PUT, "PUT"},
	    {SENSED_PATCH, "PATCH"},     {SENSED_DELETE, "DELETE"}, {SENSED_HEAD, "HEAD"},
	    {SENSED_OPTIONS, "OPTIONS"},
	};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].bit))
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

static const char *owner_where(const sensed_plugin *p)
{
	return p && p->path ? p->path : "built in";
}

/* route_add and route_add_scoped: `scope` NULL for an ordinary route. */
static int add_route(sensed_plugin *self, unsigned methods, const char *pattern,
                     enum sensed_role least_role, const char *scope, sensed_handler handler,
                     void *route_arg)
{
	if (!self || !self->in_init || !g_router)
		return SENSED_ESTATE;
	if (!pattern || pattern[0] != '/' || !handler || methods == 0 || (methods & ~0x7fu) != 0 ||
	    least_role < SENSED_ROLE_PUBLIC || least_role > SENSED_ROLE_SUPER)
		return SENSED_EINVAL;

	char full[1024];
	int n;
	if (strncmp(pattern, "/api/", 5) == 0)
		n = snprintf(full, sizeof(full), "%s", pattern);
	else
		n = snprintf(full, sizeof(full), "/api/v1%s", pattern);
	if (n < 0 || (size_t)n >= sizeof(full))
		return SENSED_ETOOLARGE;

	sensed_plugin *holder = NULL;
	int err = router_add_scoped(g_router, methods, full, least_role, scope, handler, route_arg,
	                            self, &holder);
	if (err == SENSED_EEXISTS) {
		char verbs[64];
		methods_text(methods, verbs, sizeof(verbs));
		const char *holder_name = holder && holder->name ? holder->name : "?";
		plugin_record_error(
		    self,
		    "route conflict: %s %s is already registered by plugin '%s' (%s); "
		    "plugin '%s' (%s) cannot register it",
		    verbs, full, holder_name, owner_where(holder), self->name, owner_where(self));
		/* A plugin's failure is logged once by the loader; the core has no loader. */
		if (self == plugin_core())
			log_msg(SENSED_LOG_ERROR, "core",
			        "route conflict: %s %s is already registered by plugin '%s' (%s); "
			        "the core cannot register it",
			        verbs, full, holder_name, owner_where(holder));
	}
	return err;
}

static int host_route_add(sensed_plugin *self, unsigned methods, const char *pattern,
                          enum sensed_role least_role, sensed_handler handler, void *route_arg)
{
	return add_route(self, methods, pattern, least_role, NULL, handler, route_arg);
}

static int host_route_add_scoped(sensed_plugin *self, unsigned methods, const char *pattern,
                                 const char *scope, sensed_handler handler, void *route_arg)
{
	if (!scope || !scope[0])
		return SENSED_EINVAL;
	return add_route(self, methods, pattern, SENSED_ROLE_CONSUMER, scope, handler, route_arg);
}

static const char *role_name(enum sensed_role role)
{
	static const char *const names[] = {
	    [SENSED_ROLE_PUBLIC] = "public",
	    [SENSED_ROLE_CONSUMER] = "consumer",
	    [SENSED_ROLE_CONTRIBUTOR] = "contributor",
	    [SENSED_ROLE_DATA_DESIGNER] = "dataDesigner",
	    [SENSED_ROLE_DATA_ADMIN] = "dataAdmin",
	    [SENSED_ROLE_ADMIN] = "admin",
	    [SENSED_ROLE_SUPER] = "super",
	};
	return role >= SENSED_ROLE_PUBLIC && role <= SENSED_ROLE_SUPER ? names[role] : "?";
}

static void route_to_json(const struct route *route, void *arg)
{
	char verb[16];
	json_t *entry;

	methods_text(route->method, verb, sizeof(verb));
	entry = json_pack("{s:s, s:s, s:s, s:s?, s:s}", "method", verb, "pattern", route->pattern,
	                  "leastRole", role_name(route->least_role), "scope", route->scope,
	                  "plugin", route->owner && route->owner->name ? route->owner->name : "?");
	if (entry)
		json_array_append_new(arg, entry);
}

static json_t *host_routes_list(void)
{
	json_t *list = json_array();

	if (list && g_router)
		router_foreach(g_router, route_to_json, list);
	return list;
}

static int host_collection_open(sensed_plugin *self, const char *name, sensed_collection **out)
{
	if (out)
		*out = NULL;
	if (!self || !self->in_init)
		return SENSED_ESTATE;
	if (!name || !out)
		return SENSED_EINVAL;
	return store_collection_open(self->name, name, out);
}

static int host_index_declare(sensed_collection *coll, const char *path, unsigned flags)
{
	if (!plugin_registration_open())
		return SENSED_ESTATE;
	return store_index_declare(coll, path, flags);
}

static int host_reference_declare(sensed_collection *from, const char *field, const char *as,
                                  sensed_collection *to, const char *to_key)
{
	if (!plugin_registration_open())
		return SENSED_ESTATE;
	return store_reference_declare(from, field, as, to, to_key);
}

static const sensed_host host_table = {
    .size = sizeof(sensed_host),
    .abi_major = SENSED_SDK_ABI_MAJOR,
    .abi_minor = SENSED_SDK_ABI_MINOR,
    .strerror = sensed_strerror,
    .log = host_log,
    .set_error = host_set_error,
    .config = host_config,
    .route_add = host_route_add,
    .request_method = request_method,
    .request_path = request_path,
    .request_param = request_param,
    .request_query = request_query,
    .request_query_list = request_query_list,
    .request_header = request_header,
    .request_json = request_json,
    .request_body = request_body,
    .request_user = request_user,
    .request_user_id = request_user_id,
    .request_role = request_role,
    .request_list_query = request_list_query,
    .reply_json = reply_json,
    .reply_raw = reply_raw,
    .reply_empty = reply_empty,
    .reply_error = reply_error,
    .reply_error_extra = reply_error_extra,
    .reply_store_error = reply_store_error,
    .reply_header = reply_header,
    .reply_bytes = reply_bytes,
    .run_job = request_run_job,
    .collection_open = host_collection_open,
    .index_declare = host_index_declare,
    .reference_declare = host_reference_declare,
    .txn_begin = store_txn_begin,
    .txn_commit = store_txn_commit,
    .txn_abort = store_txn_abort,
    .doc_get = store_doc_get,
    .doc_insert = store_doc_insert,
    .doc_replace = store_doc_replace,
    .doc_delete = store_doc_delete,
    .find = store_find,
    .find_one = store_find_one,
    .count = store_count,
    .shape = store_shape,
    .object_id = object_id_new,
    .format_date = date_format,
    .is_object_id = object_id_valid,
    .password_set = auth_password_set,
    .password_verify = auth_password_verify,
    .tokens_revoke_user = auth_tokens_revoke_user,
    .plugins_list = plugins_list,
    .plugin_set_enabled = plugin_set_enabled,
    .reply_document = reply_document,
    /* ABI 1.2 */
    .feature_declare = feature_declare,
    .feature_active = feature_active,
    .features_list = features_list,
    .feature_set_active = feature_set_active,
    .translate = translate,
    .translate_locale = translate_locale,
    .locale_set_default = locale_set_default,
    .locale_default = locale_default,
    .translations_list = translations_list,
    .translation_get = translation_get,
    .cors_set = cors_set,
    .secret_seal = auth_secret_seal,
    .secret_open = auth_secret_open,
    .token_issue_scoped = auth_token_issue_scoped,
    .tokens_revoke_scoped = auth_tokens_revoke_scoped,
    .route_add_scoped = host_route_add_scoped,
    .routes_list = host_routes_list,
    /* ABI 1.3 */
    .write_job = request_write_job,
};

const sensed_host *plugin_host(void)
{
	if (!empty_config)
		empty_config = json_object();
	return &host_table;
}

void host_shutdown(void)
{
	json_decref(empty_config);
	empty_config = NULL;
}
