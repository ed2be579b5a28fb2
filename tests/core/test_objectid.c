/* Unit tests of core/objectid.c: ObjectIds and wire dates. */
#include "store.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

Test(objectid, new_ids_are_valid_24_lowercase_hex)
{
	char id[25];

	object_id_new(id);
	cr_assert_eq(strlen(id), 24);
	cr_assert(object_id_valid(id));
	for (int i = 0; i < 24; i++)
		cr_assert(strchr("0123456789abcdef", id[i]) != NULL);
}

Test(objectid, layout_seconds_random_counter)
{
	char a[25], b[25];
	unsigned long seconds;
	time_t now = time(NULL);

	object_id_new(a);
	object_id_new(b);
	cr_assert(sscanf(a, "%8lx", &seconds) == 1);
	cr_assert((time_t)seconds >= now - 2 && (time_t)seconds <= now + 2);
	/* Same process: same 5 random bytes, counter one apart. */
	cr_assert_eq(memcmp(a + 8, b + 8, 10), 0);
	unsigned long ca = strtoul(a + 18, NULL, 16), cb = strtoul(b + 18, NULL, 16);
	cr_assert_eq((ca + 1) & 0xffffff, cb);
}

Test(objectid, many_ids_are_distinct)
{
	enum { N = 10000 };
	static char ids[N][25];

	for (int i = 0; i < N; i++)
		object_id_new(ids[i]);
	for (int i = 1; i < N; i++)
		cr_assert_str_neq(ids[i - 1], ids[i]);
}

Test(objectid, validity)
{
	cr_assert(object_id_valid("5d7a8e2f1c9d440000a1b2c3"));
	cr_assert_not(object_id_valid("5D7A8E2F1C9D440000A1B2C3"));
	cr_assert_not(object_id_valid("5d7a8e2f1c9d440000a1b2c"));
	cr_assert_not(object_id_valid("5d7a8e2f1c9d440000a1b2c3d"));
	cr_assert_not(object_id_valid("5d7a8e2f1c9d440000a1b2cg"));
	cr_assert_not(object_id_valid(""));
	cr_assert_not(object_id_valid(NULL));
}

Test(objectid, date_format_wire_shape)
{
	char out[25];

	date_format(1568305800005, out);
	cr_assert_str_eq(out, "2019-09-12T16:30:00.005Z");
	date_format(0, out);
	cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
	date_format(INT64_MAX, out);
	cr_assert_str_eq(out, "9999-12-31T23:59:59.999Z");
}

Test(objectid, date_format_negative_means_now)
{
	char out[25], expect[25];
	int64_t now = time_now_ms();

	date_format(-1, out);
	date_format(now, expect);
	cr_assert_eq(strlen(out), 24);
	cr_assert_eq(memcmp(out, expect, 16), 0); /* same minute (almost always) */
	cr_assert(now > 1500000000000);
}
