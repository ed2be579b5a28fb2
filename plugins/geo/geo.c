/* GET /geo/geoJson/{type} and /geo/geojson/{type} (public): GeoJSON FeatureCollections of
 * the world's countries ("world") and of the US states ("usa"), read once in init from
 * <dir>/<type>.geojson and served from memory with a strong ETag (If-None-Match -> 304).
 *
 * The directory is, in order: the plugin configuration's "dir"; the installed data
 * directory relative to this plugin's own file (SENSED_GEO_RELATIVE_DIR); the source
 * tree's etc/geo (a build-tree server).  The files are made by plugins/geo/generate.js. */
#include <dlfcn.h>
#include <errno.h>
#include <sensed/plugin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SENSED_GEO_RELATIVE_DIR
#define SENSED_GEO_RELATIVE_DIR "../../../share/sensed/geo"
#endif
#ifndef SENSED_GEO_SOURCE_DIR
#define SENSED_GEO_SOURCE_DIR "etc/geo"
#endif

/* A GeoJSON file is at most this large (the shipped world file is ~1.7 MB). */
#define GEO_MAX_FILE (64u * 1024u * 1024u)

struct geo_map {
	const char *type; /* the {type} path parameter */
	char *bytes;      /* owned; written in init, read-only while serving (any thread) */
	size_t len;
	char etag[40]; /* "\"<16 hex>-<len hex>\"" */
};

static const sensed_host *host;
static struct geo_map maps[] = {{.type = "world"}, {.type = "usa"}};
#define MAP_COUNT (sizeof(maps) / sizeof(maps[0]))

/* FNV-1a, 64 bits: the ETag only has to change when the bytes do. */
static uint64_t fnv1a(const char *bytes, size_t len)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		hash ^= (unsigned char)bytes[i];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

/* Read a whole file into *out (malloc'd, NUL-terminated).  0, SENSED_ENOTFOUND,
 * SENSED_ETOOLARGE, SENSED_ESTORE (I/O), SENSED_ENOMEM. */
static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;

	*out = NULL;
	if (f == NULL)
		return errno == ENOENT ? SENSED_ENOTFOUND : SENSED_ESTORE;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return SENSED_ESTORE;
	}
	if ((size_t)st.st_size > GEO_MAX_FILE) {
		fclose(f);
		return SENSED_ETOOLARGE;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return SENSED_ENOMEM;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f) || *len != (size_t)st.st_size) {
		fclose(f);
		free(buf);
		return SENSED_ESTORE;
	}
	fclose(f);
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

static int is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The installed data directory, found from this plugin's own path; NULL if it does not
 * exist.  Returns a malloc'd string. */
static char *installed_dir(void)
{
	Dl_info info;
	const char *slash;
	char *dir;
	size_t n;

	if (dladdr((void *)installed_dir, &info) == 0 || info.dli_fname == NULL)
		return NULL;
	slash = strrchr(info.dli_fname, '/');
	if (slash == NULL)
		return NULL;
	n = (size_t)(slash - info.dli_fname) + 1 + strlen(SENSED_GEO_RELATIVE_DIR) + 1;
	if ((dir = malloc(n)) == NULL)
		return NULL;
	snprintf(dir, n, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname,
	         SENSED_GEO_RELATIVE_DIR);
	if (!is_directory(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Load and check every map from `dir`. */
static int load_maps(sensed_plugin *self, const char *dir)
{
	for (size_t i = 0; i < MAP_COUNT; i++) {
		struct geo_map *map = &maps[i];
		char path[4096];
		json_error_t error;
		json_t *doc;
		int err;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s.geojson", dir, map->type) >=
		    sizeof(path)) {
			host->set_error(self, "geo directory path too long: %s", dir);
			return SENSED_EINVAL;
		}
		if ((err = read_file(path, &map->bytes, &map->len)) != 0) {
			host->set_error(self, "cannot read %s: %s", path, host->strerror(err));
			return err;
		}
		/* Parsed once to refuse a corrupt file at start rather than serve it. */
		doc = json_loadb(map->bytes, map->len, 0, &error);
		const char *kind = json_string_value(json_object_get(doc, "type"));
		if (doc == NULL || kind == NULL || strcmp(kind, "FeatureCollection") != 0 ||
		    !json_is_array(json_object_get(doc, "features"))) {
			host->set_error(self, "%s is not a GeoJSON FeatureCollection%s%s", path,
			                doc ? "" : ": ", doc ? "" : error.text);
			json_decref(doc);
			return SENSED_EINVAL;
		}
		json_decref(doc);
		snprintf(map->etag, sizeof(map->etag), "\"%016llx-%zx\"",
		         (unsigned long long)fnv1a(map->bytes, map->len), map->len);
	}
	return 0;
}

/* Does an If-None-Match header name `etag`?  Handles lists, W/ prefixes and "*". */
static int etag_matches(const char *header, const char *etag)
{
	size_t etag_len = strlen(etag);
	const char *p = header;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		const char *end = p;
		if (*p == '"') {
			end = strchr(p + 1, '"');
			end = end ? end + 1 : p + strlen(p);
		} else {
			while (*end && *end != ',')
				end++;
		}
		if ((size_t)(end - p) == etag_len && memcmp(p, etag, etag_len) == 0)
			return 1;
		p = end;
	}
	return 0;
}

static void get_geojson(sensed_request *req, void *route_arg)
{
	(void)route_arg;
	const char *type = host->request_param(req, "type");
	const char *if_none_match;

	for (size_t i = 0; type != NULL && i < MAP_COUNT; i++) {
		struct geo_map *map = &maps[i];

		if (strcmp(type, map->type) != 0)
			continue;
		host->reply_header(req, "ETag", map->etag);
		host->reply_header(req, "Cache-Control", "public, max-age=86400");
		if_none_match = host->request_header(req, "If-None-Match");
		if (if_none_match != NULL && etag_matches(if_none_match, map->etag)) {
			host->reply_empty(req, 304);
			return;
		}
		host->reply_raw(req, 200, map->bytes, map->len);
		return;
	}
	json_t *extra = json_pack("{s:s, s:s?}", "resourceType", "geoJson", "resourceName", type);
	host->reply_error_extra(req, 404, SENSED_CODE_NOT_FOUND,
	                        "Unknown map type (expected \"world\" or \"usa\")", extra);
	json_decref(extra);
}

static void free_maps(void)
{
	for (size_t i = 0; i < MAP_COUNT; i++) {
		free(maps[i].bytes);
		maps[i].bytes = NULL;
		maps[i].len = 0;
	}
}

static int geo_init(sensed_plugin *self, const sensed_host *h)
{
	const char *configured;
	char *installed = NULL;
	const char *dir;
	int err;

	host = h;
	configured = json_string_value(json_object_get(h->config(self), "dir"));
	if (configured != NULL)
		dir = configured;
	else if ((installed = installed_dir()) != NULL)
		dir = installed;
	else
		dir = SENSED_GEO_SOURCE_DIR;
	err = load_maps(self, dir);
	free(installed);
	if (err == 0)
		err = h->route_add(self, SENSED_GET, "/geo/geoJson/{type}", SENSED_ROLE_PUBLIC,
		                   get_geojson, NULL);
	if (err == 0)
		err = h->route_add(self, SENSED_GET, "/geo/geojson/{type}", SENSED_ROLE_PUBLIC,
		                   get_geojson, NULL);
	if (err != 0) {
		if (maps[MAP_COUNT - 1].bytes != NULL)
			host->set_error(self, "cannot register the geo routes: %s",
			                h->strerror(err));
		free_maps();
	}
	return err;
}

static void geo_fini(sensed_plugin *self)
{
	(void)self;
	free_maps();
}

SENSED_PLUGIN_DEFINE("geo", "1.0.0", "GeoJSON maps of the world's countries and the US states",
                     geo_init, geo_fini)
