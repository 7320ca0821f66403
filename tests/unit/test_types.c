/* Values per type: members to parameters, caller values checked against attributes, and
 * the server's text decoded into members. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "model/internal.h"

typedef struct row {
    dsql_uuid id;
    char *name;
    int16_t s;
    int32_t i;
    int64_t b;
    float r;
    double d;
    bool flag;
    bool has_i;
    dsql_bytes blob;
    char *num;
    char *day;
    char *doc;
} row;

static const dsql_attr attrs[] = {
    DSQL_ATTR(row, id, DSQL_UUID, .primary_key = true),
    DSQL_ATTR(row, name, DSQL_STRING(5)),
    DSQL_ATTR(row, s, DSQL_SMALLINT),
    DSQL_ATTR(row, i, DSQL_INTEGER, DSQL_HAS(row, has_i)),
    DSQL_ATTR(row, b, DSQL_BIGINT),
    DSQL_ATTR(row, r, DSQL_REAL),
    DSQL_ATTR(row, d, DSQL_DOUBLE),
    DSQL_ATTR(row, flag, DSQL_BOOLEAN),
    DSQL_ATTR(row, blob, DSQL_BYTEA),
    DSQL_ATTR(row, num, DSQL_NUMERIC(6, 2)),
    DSQL_ATTR(row, day, DSQL_DATEONLY),
    DSQL_ATTR(row, doc, DSQL_JSONB),
};
static DSQL_MODEL(row_model, row, "row", attrs);

enum { A_ID, A_NAME, A_S, A_I, A_B, A_R, A_D, A_FLAG, A_BLOB, A_NUM, A_DAY, A_DOC };

static void test_encode(void **state)
{
    (void)state;
    row r = {.name = "a'b\"c",
             .s = INT16_MIN,
             .i = INT32_MAX,
             .b = INT64_MIN,
             .r = 0.1f,
             .d = -0.0,
             .flag = true,
             .has_i = true,
             .num = "1.50",
             .day = "2024-02-29",
             .doc = "{\"k\": \"\xc3\xa9\"}"};
    strcpy(r.id.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    r.blob.data = (unsigned char *)"\0\1\2";
    r.blob.len = 3;
    dsql__params p = DSQL__PARAMS_INIT;
    for (size_t k = 0; k < row_model.n_attrs; k++)
        assert_int_equal(dsql__params_add_attr(&p, &attrs[k], &r), (int)k + 1);
    assert_ptr_equal(p.values[A_ID], r.id.str); /* borrowed, not copied */
    assert_ptr_equal(p.values[A_NAME], r.name);
    assert_string_equal(p.values[A_S], "-32768");
    assert_string_equal(p.values[A_I], "2147483647");
    assert_string_equal(p.values[A_B], "-9223372036854775808");
    assert_string_equal(p.values[A_R], "0.1"); /* the float's shortest text */
    assert_string_equal(p.values[A_D], "-0");
    assert_string_equal(p.values[A_FLAG], "true"); /* the one encoding of conn/exec.c */
    assert_int_equal(p.formats[A_BLOB], 1);
    assert_int_equal(p.lengths[A_BLOB], 3);
    assert_memory_equal(p.values[A_BLOB], "\0\1\2", 3);
    assert_string_equal(p.values[A_NUM], "1.50");
    assert_string_equal(p.values[A_DOC], "{\"k\": \"\xc3\xa9\"}");

    /* NULL members become NULL parameters. */
    row z = {0};
    dsql__params_reset(&p);
    for (size_t k = 0; k < row_model.n_attrs; k++)
        dsql__params_add_attr(&p, &attrs[k], &z);
    assert_null(p.values[A_ID]);
    assert_null(p.values[A_NAME]);
    assert_null(p.values[A_I]);              /* has_i false */
    assert_string_equal(p.values[A_S], "0"); /* no DSQL_HAS: never NULL */
    assert_null(p.values[A_BLOB]);
    assert_null(p.values[A_NUM]);

    /* Special floats. */
    row f = {.r = NAN, .d = -INFINITY};
    dsql__params_reset(&p);
    dsql__params_add_attr(&p, &attrs[A_R], &f);
    dsql__params_add_attr(&p, &attrs[A_D], &f);
    assert_string_equal(p.values[0], "NaN");
    assert_string_equal(p.values[1], "-Infinity");
    f.d = 1.7976931348623157e308;
    f.r = 3.40282347e38f;
    dsql__params_reset(&p);
    dsql__params_add_attr(&p, &attrs[A_R], &f);
    dsql__params_add_attr(&p, &attrs[A_D], &f);
    assert_string_equal(p.values[0], "3.4028235e+38");
    assert_string_equal(p.values[1], "1.7976931348623157e+308");
    dsql__params_free(&p);

    dsql_value v = dsql__attr_value(&attrs[A_I], &r);
    assert_int_equal(v.kind, DSQL_V_INT);
    assert_int_equal(v.u.i, INT32_MAX);
    v = dsql__attr_value(&attrs[A_ID], &r);
    assert_int_equal(v.kind, DSQL_V_TEXT);
    assert_ptr_equal(v.u.s, r.id.str);
    v = dsql__attr_value(&attrs[A_I], &z);
    assert_int_equal(v.kind, DSQL_V_NULL);
}

static void vcheck(int a, dsql_value v, dsql__use use, int status, const char *msg)
{
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__value_check(&row_model, &attrs[a], &v, use, &err);
    if (rc != status)
        fail_msg("attribute %s: status %d, expected %d (%s)", attrs[a].name, rc, status,
                 err.message);
    if (msg)
        assert_string_equal(err.message, msg);
}

static void test_value_check(void **state)
{
    (void)state;
    const dsql__use C = DSQL__USE_COMPARE, S = DSQL__USE_STORE, P = DSQL__USE_PATTERN;
    vcheck(A_I, DSQL_INT(5), C, DSQL_OK, NULL);
    vcheck(A_I, DSQL_STR("-12"), C, DSQL_OK, NULL);
    vcheck(A_I, DSQL_NULL, C, DSQL_OK, NULL);
    vcheck(A_I, DSQL_STR("abc"), C, DSQL_EINVAL,
           "row.i: expected an INTEGER value, got text \"abc\"");
    vcheck(A_I, DSQL_DBL(1.5), C, DSQL_EINVAL, "row.i: expected an INTEGER value, got a double");
    vcheck(A_I, DSQL_INT(2147483648LL), C, DSQL_EVALIDATION,
           "row.i: 2147483648 is out of range for INTEGER");
    vcheck(A_S, DSQL_INT(-32769), S, DSQL_EVALIDATION,
           "row.s: -32769 is out of range for SMALLINT");
    vcheck(A_S, DSQL_STR("40000"), S, DSQL_EVALIDATION,
           "row.s: \"40000\" is out of range for SMALLINT");
    vcheck(A_B, DSQL_STR("9223372036854775808"), S, DSQL_EINVAL,
           "row.b: expected a BIGINT value, got text \"9223372036854775808\"");
    vcheck(A_ID, DSQL_STR("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), C, DSQL_OK, NULL);
    vcheck(A_ID, DSQL_STR("a0eebc99"), C, DSQL_EVALIDATION,
           "row.id: \"a0eebc99\" is not a UUID (UUID)");
    vcheck(A_ID, DSQL_INT(1), C, DSQL_EINVAL,
           "row.id: expected a UUID value, got an "
           "integer 1");
    vcheck(A_NAME, DSQL_STR("toolong"), C, DSQL_OK, NULL); /* compare: any length */
    vcheck(A_NAME, DSQL_STR("toolong"), S, DSQL_EVALIDATION,
           "row.name: 7 characters, longer than STRING(5)");
    vcheck(A_NAME, DSQL_STR("%x%"), P, DSQL_OK, NULL);
    vcheck(A_NAME, DSQL_INT(3), P, DSQL_EINVAL,
           "row.name: expected a STRING(5) value, got an integer 3");
    vcheck(A_ID, DSQL_STR("%"), P, DSQL_EINVAL,
           "row.id: LIKE/ILIKE needs a STRING, TEXT or CHAR attribute, not UUID");
    vcheck(A_FLAG, DSQL_BOOL(false), C, DSQL_OK, NULL);
    vcheck(A_FLAG, DSQL_INT(1), C, DSQL_EINVAL,
           "row.flag: expected a BOOLEAN value, got an integer 1");
    vcheck(A_D, DSQL_INT(1), C, DSQL_OK, NULL);
    vcheck(A_D, DSQL_STR("1e3"), C, DSQL_OK, NULL);
    vcheck(A_D, DSQL_STR("NaN"), C, DSQL_OK, NULL);
    vcheck(A_D, DSQL_STR("0x10"), C, DSQL_EINVAL,
           "row.d: expected a DOUBLE value, got text \"0x10\"");
    vcheck(A_R, DSQL_BOOL(true), C, DSQL_EINVAL, "row.r: expected a REAL value, got a bool true");
    vcheck(A_NUM, DSQL_STR("1234.56"), S, DSQL_OK, NULL);
    vcheck(A_NUM, DSQL_STR("12345.6"), S, DSQL_EVALIDATION,
           "row.num: \"12345.6\" 5 digits before the point, the NUMERIC's precision "
           "allows 4 (NUMERIC(6,2))");
    vcheck(A_NUM, DSQL_STR("12345.6"), C, DSQL_OK, NULL);
    vcheck(A_NUM, DSQL_INT(99999), S, DSQL_EVALIDATION,
           "row.num: \"99999\" 5 digits before the point, the NUMERIC's precision "
           "allows 4 (NUMERIC(6,2))");
    vcheck(A_NUM, DSQL_DBL(0.25), S, DSQL_OK, NULL);
    vcheck(A_NUM, DSQL_STR("abc"), C, DSQL_EVALIDATION,
           "row.num: \"abc\" not a number (digits, an optional point and exponent, or "
           "NaN) (NUMERIC)");
    /* A comparison takes any number, not only one the column could store. */
    vcheck(A_NUM, DSQL_STR("123456789.123456789"), C, DSQL_OK, NULL);
    vcheck(A_DAY, DSQL_STR("2023-02-29"), C, DSQL_EVALIDATION,
           "row.day: \"2023-02-29\" is not a date YYYY-MM-DD on the calendar (DATEONLY)");
    vcheck(A_BLOB, DSQL_BYTES("\0", 1), C, DSQL_OK, NULL);
    vcheck(A_BLOB, DSQL_STR("text"), C, DSQL_OK, NULL);
    vcheck(A_BLOB, DSQL_INT(1), C, DSQL_EINVAL,
           "row.blob: expected a BYTEA value, got an integer 1");
    vcheck(A_DOC, DSQL_STR("{"), S, DSQL_EVALIDATION,
           "row.doc: \"{\" is not valid JSON: expected a string key (JSONB)");

    dsql__params p = DSQL__PARAMS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(
        dsql__params_add_checked(&p, &row_model, &attrs[A_BLOB], &DSQL_STR("a\\b"), S, &err), 1);
    assert_int_equal(p.formats[0], 1); /* text for bytea goes binary: no escape parsing */
    assert_int_equal(p.lengths[0], 3);
    assert_int_equal(dsql__params_add_checked(&p, &row_model, &attrs[A_R], &DSQL_DBL(0.1), S, &err),
                     2);
    assert_string_equal(p.values[1], "0.1");
    assert_int_equal(dsql__params_add_checked(&p, &row_model, &attrs[A_I], &DSQL_STR("x"), S, &err),
                     0);
    assert_int_equal(err.status, DSQL_EINVAL);
    assert_int_equal(p.n, 2);
    dsql__params_free(&p);
}

static void expect_decode(int a, const char *text, row *r)
{
    dsql_error err = DSQL_ERROR_INIT;
    static dsql__arena arena = DSQL__ARENA_INIT;
    int rc =
        dsql__attr_decode(&row_model, &attrs[a], r, text, text ? strlen(text) : 0, &arena, &err);
    if (rc)
        fail_msg("decode %s: %s", text ? text : "(NULL)", err.message);
    if (!text)
        dsql__arena_free(&arena);
}

static void test_decode(void **state)
{
    (void)state;
    row r = {0};
    const char *name = "h\xc3\xa9llo";
    expect_decode(A_NAME, name, &r);
    assert_ptr_equal(r.name, name); /* points at the server's text, no copy */
    expect_decode(A_ID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", &r);
    assert_string_equal(r.id.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    expect_decode(A_S, "-32768", &r);
    assert_int_equal(r.s, INT16_MIN);
    expect_decode(A_I, "2147483647", &r);
    assert_int_equal(r.i, INT32_MAX);
    assert_true(r.has_i);
    expect_decode(A_B, "-9223372036854775808", &r);
    assert_true(r.b == INT64_MIN);
    expect_decode(A_R, "0.1", &r);
    assert_true(r.r == 0.1f);
    expect_decode(A_R, "-Infinity", &r);
    assert_true(isinf(r.r) && r.r < 0);
    expect_decode(A_D, "NaN", &r);
    assert_true(isnan(r.d));
    expect_decode(A_D, "1.7976931348623157e+308", &r);
    assert_true(r.d == 1.7976931348623157e308);
    expect_decode(A_D, "5e-324", &r);
    assert_true(r.d == 5e-324);
    expect_decode(A_FLAG, "t", &r);
    assert_true(r.flag);
    expect_decode(A_FLAG, "f", &r);
    assert_false(r.flag);
    expect_decode(A_BLOB, "\\x00ff41", &r);
    assert_int_equal(r.blob.len, 3);
    assert_memory_equal(r.blob.data,
                        "\x00\xff"
                        "A",
                        3);
    expect_decode(A_BLOB, "\\x", &r);
    assert_non_null(r.blob.data); /* empty, not NULL */
    assert_int_equal(r.blob.len, 0);
    expect_decode(A_BLOB, "a\\000\\\\b", &r); /* escape format */
    assert_int_equal(r.blob.len, 4);
    assert_memory_equal(r.blob.data, "a\0\\b", 4);
    expect_decode(A_I, NULL, &r);
    assert_false(r.has_i);
    expect_decode(A_NAME, NULL, &r);
    assert_null(r.name);
    expect_decode(A_BLOB, NULL, &r);
    assert_null(r.blob.data);
    expect_decode(A_ID, NULL, &r);
    assert_string_equal(r.id.str, "");

    /* The server's text is parsed as hostile input. */
    dsql__arena arena = DSQL__ARENA_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__attr_decode(&row_model, &attrs[A_S], &r, "32768", 5, &arena, &err),
                     DSQL_EPARSE);
    assert_string_equal(err.message, "row.s: the server sent \"32768\", not a SMALLINT value");
    assert_int_equal(dsql__attr_decode(&row_model, &attrs[A_ID], &r, "abc", 3, &arena, &err),
                     DSQL_EPARSE);
    assert_int_equal(dsql__attr_decode(&row_model, &attrs[A_BLOB], &r, "\\x0", 3, &arena, &err),
                     DSQL_EPARSE);
    assert_int_equal(dsql__attr_decode(&row_model, &attrs[A_FLAG], &r, "yes", 3, &arena, &err),
                     DSQL_EPARSE);
    assert_string_equal(err.message, "row.flag: the server sent \"yes\", not a BOOLEAN value");
    assert_int_equal(dsql__attr_decode(&row_model, &attrs[A_I], &r, "1 ", 2, &arena, &err),
                     DSQL_EPARSE);
    dsql__arena_free(&arena);
}

static void test_numtext(void **state)
{
    (void)state;
    char buf[32];
    int64_t x;
    double d;
    assert_int_equal(dsql__dtoa(0.1, buf, sizeof buf), 3);
    assert_string_equal(buf, "0.1");
    dsql__dtoa(1.0 / 3, buf, sizeof buf);
    assert_string_equal(buf, "0.3333333333333333");
    dsql__dtoa(1e300, buf, sizeof buf);
    assert_string_equal(buf, "1e+300");
    dsql__ftoa(16777216.0f, buf, sizeof buf);
    assert_string_equal(buf, "16777216");
    assert_true(dsql__strtoi64("9223372036854775807", 19, INT64_MIN, INT64_MAX, &x));
    assert_true(x == INT64_MAX);
    assert_false(dsql__strtoi64("9223372036854775808", 19, INT64_MIN, INT64_MAX, &x));
    assert_true(dsql__strtoi64("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &x));
    assert_true(x == INT64_MIN);
    assert_false(dsql__strtoi64("", 0, INT64_MIN, INT64_MAX, &x));
    assert_false(dsql__strtoi64("-", 1, INT64_MIN, INT64_MAX, &x));
    assert_false(dsql__strtoi64("1x", 2, INT64_MIN, INT64_MAX, &x));
    assert_true(dsql__strtod("-1.5e3", 6, &d));
    assert_true(d == -1500.0);
    assert_true(dsql__strtod("infinity", 8, &d) && isinf(d));
    assert_false(dsql__strtod("inf", 3, &d));
    assert_false(dsql__strtod("1e999", 5, &d));
    assert_false(dsql__strtod(" 1", 2, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_value_check),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_numtext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
