/* Unit tests of core/errors.c: envelope shape, the code table, store error mapping. */
#include "errors.h"

#include <criterion/criterion.h>
#include <string.h>

Test(errors, envelope_shape)
{
	json_t *extra =
	    json_pack("{s:s, s:s, s:i}", "resourceType", "user", "resourceName", "x", "code", 1);
	json_t *env = error_envelope(404, SENSED_CODE_USER_NOT_FOUND, NULL, extra);
	json_t *err = json_object_get(env, "error");
	cr_assert_eq(json_integer_value(json_object_get(err, "code")), 2001);
	cr_assert_str_eq(json_string_value(json_object_get(err, "message")), "User not found");
	cr_assert_eq(json_integer_value(json_object_get(err, "status")), 404);
	cr_assert_str_eq(json_string_value(json_object_get(err, "httpMessage")), "Not Found");
	cr_assert_str_eq(json_string_value(json_object_get(err, "resourceType")), "user");
	json_decref(env);
	json_decref(extra);
}

Test(errors, custom_message_and_reasons)
{
	json_t *env = error_envelope(400, SENSED_CODE_INVALID_JSON, "bad", NULL);
	cr_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(env, "error"), "message")), "bad");
	json_decref(env);
	cr_assert_str_eq(http_reason(413), "Payload Too Large");
	cr_assert_str_eq(http_reason(422), "Unprocessable Entity");
	cr_assert_str_eq(http_reason(499), "Bad Request");
	cr_assert_str_eq(wire_code_message(601), "Invalid object ID");
	cr_assert_str_eq(wire_code_message(99999), "Error");
}

Test(errors, store_errors_map_to_wire)
{
	struct {
		int err, status, code;
	} rows[] = {
	    {SENSED_ENOTFOUND, 404, SENSED_CODE_NOT_FOUND},
	    {SENSED_EUNIQUE, 400, SENSED_CODE_INVALID_PARAMETER},
	    {SENSED_EEXISTS, 400, SENSED_CODE_INVALID_PARAMETER},
	    {SENSED_EBADID, 422, SENSED_CODE_INVALID_OBJECT_ID},
	    {SENSED_EFILTER, 400, SENSED_CODE_INVALID_PARAMETER},
	    {SENSED_ESTORE, 500, SENSED_CODE_INTERNAL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int status, code;
		store_error_to_wire(rows[i].err, &status, &code);
		cr_assert_eq(status, rows[i].status, "err %d", rows[i].err);
		cr_assert_eq(code, rows[i].code, "err %d", rows[i].err);
	}
	for (int e = 0; e >= SENSED_EUNSUPPORTED; e--)
		cr_assert(strcmp(sensed_strerror(e), "unknown error") != 0, "%d", e);
}
