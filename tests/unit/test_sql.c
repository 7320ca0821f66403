/* Identifier quoting and the parameter list of the model layer. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "model/internal.h"

static void test_ident(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sql_ident(&sb, "owner");
    dsql__sb_append_c(&sb, ' ');
    dsql__sql_ident(&sb, "a\"b \"\"c;--");
    dsql__sb_append_c(&sb, ' ');
    dsql__sql_ident(&sb, "");
    dsql__sb_append_c(&sb, ' ');
    dsql__sql_ident(&sb, "\"");
    assert_string_equal(dsql__sb_str(&sb), "\"owner\" \"a\"\"b \"\"\"\"c;--\" \"\" \"\"\"\"");
    dsql__sb_free(&sb);
}

static void test_table(void **state)
{
    (void)state;
    dsql_model m = {.magic = DSQL_MODEL_MAGIC, .table = "vet Specialties", .schema = "my\"schema"};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sql_table(&sb, &m);
    assert_string_equal(dsql__sb_str(&sb), "\"my\"\"schema\".\"vet Specialties\"");
    m.schema = NULL;
    dsql__sb_reset(&sb);
    dsql__sql_table(&sb, &m);
    assert_string_equal(dsql__sb_str(&sb), "\"vet Specialties\"");
    dsql__sb_free(&sb);
}

static void test_params(void **state)
{
    (void)state;
    dsql__params p = DSQL__PARAMS_INIT;
    assert_int_equal(dsql__params_add_value(&p, &DSQL_STR("x")), 1);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_INT(-9223372036854775807LL - 1)), 2);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_DBL(0.1)), 3);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_DBL(NAN)), 4);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_DBL(-INFINITY)), 5);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_BOOL(true)), 6);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_NULL), 7);
    assert_int_equal(dsql__params_add_value(&p, &DSQL_BYTES("a\0b", 3)), 8);
    assert_string_equal(p.values[0], "x");
    assert_string_equal(p.values[1], "-9223372036854775808");
    assert_string_equal(p.values[2], "0.1");
    assert_string_equal(p.values[3], "NaN");
    assert_string_equal(p.values[4], "-Infinity");
    assert_string_equal(p.values[5], "true");
    assert_null(p.values[6]);
    assert_int_equal(p.formats[7], 1);
    assert_int_equal(p.lengths[7], 3);
    assert_memory_equal(p.values[7], "a\0b", 3);
    for (int i = 0; i < 100; i++)
        assert_int_equal(dsql__params_add_value(&p, &DSQL_INT(i)), 9 + i);
    assert_string_equal(p.values[107], "99");
    dsql__params_reset(&p);
    assert_int_equal(p.n, 0);
    dsql__params_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ident),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
