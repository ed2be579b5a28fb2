/* Unit tests of core/request.c's pure parts: form/query decoding. */
#include "request.h"

#include <criterion/criterion.h>

Test(request, form_decode_rules)
{
	const char form[] = "a=1&b=x+y&c=%2C%41&a=2&empty=&flag&%6Bey=v";
	json_t *o = form_decode(form, sizeof(form) - 1);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "a")), "2", "last value wins");
	cr_assert_str_eq(json_string_value(json_object_get(o, "b")), "x y");
	cr_assert_str_eq(json_string_value(json_object_get(o, "c")), ",A");
	cr_assert_str_eq(json_string_value(json_object_get(o, "empty")), "");
	cr_assert_str_eq(json_string_value(json_object_get(o, "flag")), "");
	cr_assert_str_eq(json_string_value(json_object_get(o, "key")), "v");
	json_decref(o);
}

Test(request, form_decode_rejects_nul_and_bad_utf8)
{
	cr_assert_null(form_decode("a=%00", 5));
	cr_assert_null(form_decode("a%00=1", 6));
	cr_assert_null(form_decode("a=%FF", 5));
	json_t *o = form_decode("", 0);
	cr_assert_eq(json_object_size(o), 0);
	json_decref(o);
	o = form_decode("a=%zz&b=%4", 10);
	cr_assert_str_eq(json_string_value(json_object_get(o, "a")), "%zz");
	cr_assert_str_eq(json_string_value(json_object_get(o, "b")), "%4");
	json_decref(o);
}
