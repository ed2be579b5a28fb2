/* GET /geo/geoJson/{type}: every country and US state with ISO / USPS / FIPS codes,
 * served without a token, with an ETag and 304 on If-None-Match. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int has_code(json_t *features, const char *key, const char *value)
{
	size_t i;
	json_t *f;

	json_array_foreach(features, i, f)
	{
		const char *v =
		    json_string_value(json_object_get(json_object_get(f, "properties"), key));
		if (v && strcmp(v, value) == 0)
			return 1;
	}
	return 0;
}

Test(geo, world_has_every_country_with_iso_codes)
{
	struct server *s = server_start(NULL);
	struct response *r = http(s, "GET", "/api/v1/geo/geoJson/world", NULL, NULL, NULL);
	json_t *features, *f, *seen = json_object();
	size_t i;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "type")), "FeatureCollection");
	features = json_object_get(r->json, "features");
	cr_assert(json_array_size(features) >= 230, "only %zu countries",
	          json_array_size(features));
	json_array_foreach(features, i, f)
	{
		json_t *p = json_object_get(f, "properties");
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *a2 = json_string_value(json_object_get(p, "iso_a2"));
		const char *a3 = json_string_value(json_object_get(p, "iso_a3"));
		const char *type =
		    json_string_value(json_object_get(json_object_get(f, "geometry"), "type"));

		cr_assert_str_eq(json_string_value(json_object_get(f, "type")), "Feature");
		cr_assert(name && *name, "feature %zu has no name", i);
		cr_assert(a2 && strlen(a2) == 2, "%s: iso_a2", name);
		cr_assert(a3 && strlen(a3) == 3, "%s: iso_a3", name);
		cr_assert(type && (!strcmp(type, "Polygon") || !strcmp(type, "MultiPolygon")), "%s",
		          name);
		cr_assert_null(json_object_get(seen, a3), "%s twice", a3);
		json_object_set_new(seen, a3, json_true());
	}
	/* large and small countries, islands, and the areas Natural Earth draws apart */
	const char *const a2s[] = {"US", "CN", "BR", "FR", "DE", "IN", "AU", "RU",
	                           "ZA", "AD", "MC", "SG", "VA", "LI", "MT", "CY",
	                           "SO", "CX", "CC", "XK", "GL", "NZ"};
	for (i = 0; i < sizeof(a2s) / sizeof(a2s[0]); i++)
		cr_assert(has_code(features, "iso_a2", a2s[i]), "no %s", a2s[i]);
	cr_assert(has_code(features, "iso_a3", "USA"));
	cr_assert(has_code(features, "iso_n3", "250"));
	json_decref(seen);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(geo, usa_has_every_state_with_usps_and_fips)
{
	static const char *const states[] = {
	    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL",
	    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT",
	    "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI",
	    "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR"};
	struct server *s = server_start(NULL);
	struct response *r = http(s, "GET", "/api/v1/geo/geojson/usa", NULL, NULL, NULL);
	json_t *features, *f;
	size_t i;

	cr_assert_eq(r->status, 200, "%s", r->body);
	features = json_object_get(r->json, "features");
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		cr_assert(has_code(features, "postal", states[i]), "no %s", states[i]);
	json_array_foreach(features, i, f)
	{
		json_t *p = json_object_get(f, "properties");
		const char *fips = json_string_value(json_object_get(p, "fips"));
		cr_assert(json_string_value(json_object_get(p, "name")));
		cr_assert(fips && strlen(fips) == 2, "fips of feature %zu", i);
	}
	cr_assert(has_code(features, "fips", "06") && has_code(features, "name", "California"));
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(geo, etag_and_if_none_match)
{
	struct server *s = server_start(NULL);
	struct response *r = http(s, "GET", "/api/v1/geo/geoJson/usa", NULL, NULL, NULL), *again;
	char header[200];
	const char *etag = response_header(r, "ETag");

	cr_assert_eq(r->status, 200);
	cr_assert(etag && etag[0] == '"', "ETag: %s", etag ? etag : "(none)");
	snprintf(header, sizeof(header), "If-None-Match: %s\r\n", etag);
	again = http(s, "GET", "/api/v1/geo/geoJson/usa", NULL, header, NULL);
	cr_assert_eq(again->status, 304);
	cr_assert_eq(again->body_len, 0);
	cr_assert_str_eq(response_header(again, "ETag"), etag);
	response_free(again);
	/* a list, a weak form and "*" match too; another map's tag does not */
	snprintf(header, sizeof(header), "If-None-Match: \"nope\", W/%s\r\n", etag);
	again = http(s, "GET", "/api/v1/geo/geoJson/usa", NULL, header, NULL);
	cr_assert_eq(again->status, 304);
	response_free(again);
	again = http(s, "GET", "/api/v1/geo/geoJson/world", NULL, header, NULL);
	cr_assert_eq(again->status, 200);
	cr_assert_str_neq(response_header(again, "ETag"), etag);
	response_free(again);
	again = http(s, "GET", "/api/v1/geo/geoJson/world", NULL, "If-None-Match: *\r\n", NULL);
	cr_assert_eq(again->status, 304);
	response_free(again);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(geo, unknown_type_is_404)
{
	struct server *s = server_start(NULL);
	struct response *r = http(s, "GET", "/api/v1/geo/geoJson/mars", NULL, NULL, NULL);

	assert_error(r, 404, 1003);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(r->json, "error"), "resourceName")),
	    "mars");
	response_free(r);
	r = http(s, "GET", "/api/v1/geo/geoJson/World", NULL, NULL, NULL);
	assert_error(r, 404, 1003);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}

Test(geo, directory_from_the_plugin_configuration)
{
	struct server_options opt = {
	    .extra_config = "{\"plugins\": {\"config\": {\"geo\": {\"dir\": \"/nonexistent\"}}}}"};
	struct server *s = server_start(&opt);
	struct response *r = http(s, "GET", "/api/v1/geo/geoJson/world", NULL, NULL, NULL);

	/* the configured directory wins: without files there, the plugin does not load */
	cr_assert_eq(r->status, 404);
	cr_assert_not_null(strstr(server_output(s), "/nonexistent/world.geojson"));
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
}
