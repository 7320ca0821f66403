/*
 * Every attribute type round-trips its edge values through the server: written by
 * dsql_create, read back by dsql_find_by_pk, and checked both in the hydrated struct and
 * in the server's own text (read behind the library's back).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "conn_util.h"
#include "petclinic.h"

#define DB "dsql_t_model_types"

typedef struct allt {
    int32_t id;
    dsql_uuid u;
    char *s; /* STRING(30) */
    char *t; /* TEXT */
    char *c; /* CHAR(3) */
    int16_t i2;
    int32_t i4;
    int64_t i8;
    float f4;
    double f8;
    char *num;  /* NUMERIC(38,0) */
    char *num2; /* NUMERIC(10,4) */
    char *numu; /* NUMERIC(0,0): numeric(18,6), as Aurora DSQL stores a bare numeric */
    bool b;
    char *d;  /* DATEONLY */
    char *tm; /* TIME */
    char *ts; /* TIMESTAMP */
    char *tz; /* TIMESTAMPTZ */
    char *iv; /* INTERVAL */
    dsql_bytes by;
    char *j;  /* JSON */
    char *jb; /* JSONB */
    bool has_i2, has_i4, has_i8, has_f4, has_f8, has_b;
} allt;

static const dsql_attr allt_attrs[] = {
    DSQL_ATTR(allt, id, DSQL_INTEGER, .primary_key = true),
    DSQL_ATTR(allt, u, DSQL_UUID),
    DSQL_ATTR(allt, s, DSQL_STRING(30)),
    DSQL_ATTR(allt, t, DSQL_TEXT),
    DSQL_ATTR(allt, c, DSQL_CHAR(3)),
    DSQL_ATTR(allt, i2, DSQL_SMALLINT, DSQL_HAS(allt, has_i2)),
    DSQL_ATTR(allt, i4, DSQL_INTEGER, DSQL_HAS(allt, has_i4)),
    DSQL_ATTR(allt, i8, DSQL_BIGINT, DSQL_HAS(allt, has_i8)),
    DSQL_ATTR(allt, f4, DSQL_REAL, DSQL_HAS(allt, has_f4)),
    DSQL_ATTR(allt, f8, DSQL_DOUBLE, DSQL_HAS(allt, has_f8)),
    DSQL_ATTR(allt, num, DSQL_NUMERIC(38, 0)),
    DSQL_ATTR(allt, num2, DSQL_NUMERIC(10, 4)),
    DSQL_ATTR(allt, numu, DSQL_NUMERIC(0, 0)),
    DSQL_ATTR(allt, b, DSQL_BOOLEAN, DSQL_HAS(allt, has_b)),
    DSQL_ATTR(allt, d, DSQL_DATEONLY),
    DSQL_ATTR(allt, tm, DSQL_TIME),
    DSQL_ATTR(allt, ts, DSQL_TIMESTAMP),
    DSQL_ATTR(allt, tz, DSQL_TIMESTAMPTZ),
    DSQL_ATTR(allt, iv, DSQL_INTERVAL),
    DSQL_ATTR(allt, by, DSQL_BYTEA),
    DSQL_ATTR(allt, j, DSQL_JSON),
    DSQL_ATTR(allt, jb, DSQL_JSONB),
};
static DSQL_MODEL(allt_model, allt, "all types", allt_attrs);

static dsql_pool *pool;
static PGconn *pg;

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, NULL);
    pg_ok(pg,
          "CREATE TABLE \"all types\" (id int PRIMARY KEY, u uuid, s varchar(30), t text, "
          "c char(3), i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, num "
          "numeric(38,0), num2 numeric(10,4), numu numeric(18,6), b boolean, d date, tm time, ts "
          "timestamp, tz timestamptz, iv interval, \"by\" bytea, j json, jb jsonb)");
    pg_ok(pg, "ALTER DATABASE " DB " SET timezone TO 'UTC'");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, NULL);
    return 0;
}

/* Writes row, reads it back by key into *out (owned by *res). */
static void roundtrip(allt *row, allt **out, dsql_result **res)
{
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_create(pool, &allt_model, row, NULL, &err), err);
    assert_dsql_ok(dsql_find_by_pk(pool, &allt_model, DSQL_INT(row->id), NULL, out, res, &err),
                   err);
}

static void test_edges_max(void **state)
{
    (void)state;
    char s30[128] = "", t_big[70000];
    for (int i = 0; i < 30; i++)
        strcat(s30, "\xc3\xa9"); /* 30 x é: exactly the limit in characters, 60 bytes */
    /* 70,000 bytes of text: "€" (3 bytes) repeated, with quotes and backslashes */
    size_t tl = 0;
    while (tl + 5 < sizeof t_big) {
        memcpy(t_big + tl, "\xe2\x82\xac'\\", 5);
        tl += 5;
    }
    t_big[tl] = '\0';
    static const unsigned char bytes[] = {0, 0xff, 0, '\\', 'x', 0x7f, 0x80, 0};
    allt r = {
        .id = 1,
        .s = s30,
        .t = t_big,
        .c = "\xe2\x82\xac"
             "ab", /* €ab: 3 characters in CHAR(3) */
        .i2 = INT16_MAX,
        .has_i2 = true,
        .i4 = INT32_MIN,
        .has_i4 = true,
        .i8 = INT64_MAX,
        .has_i8 = true,
        .f4 = FLT_MAX,
        .has_f4 = true,
        .f8 = DBL_MIN,
        .has_f8 = true,
        .num = "-99999999999999999999999999999999999999", /* 38 digits */
        .num2 = "123456.7891",
        .numu = "999999999999.999999",
        .b = true,
        .has_b = true,
        .d = "0001-01-01",
        .tm = "23:59:59.999999",
        .ts = "2024-02-29 12:34:56.789",
        .tz = "2024-02-29T23:30:00+05:30",
        .iv = "1 year 2 mons 3 days 04:05:06.7",
        .by = {(unsigned char *)bytes, sizeof bytes},
        .j = "{\"k\": \"\xc3\xa9\\u00e9\\ud83d\\ude00\", \"n\": [1, 2.5, null]}",
        .jb = "{\"b\": [true, false], \"a\": \"\xe2\x82\xac\"}",
    };
    strcpy(r.u.str, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
    allt *o;
    dsql_result *res;
    roundtrip(&r, &o, &res);
    assert_int_equal(o->id, 1);
    assert_string_equal(o->u.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_string_equal(o->s, s30);
    assert_string_equal(o->t, t_big);
    assert_string_equal(o->c, "\xe2\x82\xac"
                              "ab");
    assert_int_equal(o->i2, INT16_MAX);
    assert_true(o->has_i2);
    assert_int_equal(o->i4, INT32_MIN);
    assert_true(o->i8 == INT64_MAX);
    assert_true(o->f4 == FLT_MAX);
    assert_true(o->f8 == DBL_MIN);
    assert_string_equal(o->num, "-99999999999999999999999999999999999999");
    assert_string_equal(o->num2, "123456.7891");
    assert_string_equal(o->numu, "999999999999.999999");
    assert_true(o->b);
    assert_string_equal(o->d, "0001-01-01");
    assert_string_equal(o->tm, "23:59:59.999999");
    assert_string_equal(o->ts, "2024-02-29 12:34:56.789");
    assert_string_equal(o->tz, "2024-02-29 18:00:00+00");
    assert_string_equal(o->iv, "1 year 2 mons 3 days 04:05:06.7");
    assert_int_equal(o->by.len, sizeof bytes);
    assert_memory_equal(o->by.data, bytes, sizeof bytes);
    assert_string_equal(o->j, r.j); /* json keeps the text as written */
    assert_string_equal(o->jb, "{\"a\": \"\xe2\x82\xac\", \"b\": [true, false]}");
    dsql_result_free(res);
    assert_rows(pg,
                "SELECT i2, i4, i8, num, length(s), octet_length(s), c, d, \"by\" FROM \"all "
                "types\" WHERE id = 1",
                "32767|-2147483648|9223372036854775807|-99999999999999999999999999999999999999|"
                "30|60|\xe2\x82\xac"
                "ab|0001-01-01|\\x00ff005c787f8000\n");
}

static void test_edges_min_and_special(void **state)
{
    (void)state;
    allt r = {
        .id = 2,
        .s = "",
        .t = "",
        .c = "a",
        .i2 = INT16_MIN,
        .has_i2 = true,
        .i4 = INT32_MAX,
        .has_i4 = true,
        .i8 = INT64_MIN,
        .has_i8 = true,
        .f4 = NAN,
        .has_f4 = true,
        .f8 = -INFINITY,
        .has_f8 = true,
        .num = "0",
        .num2 = "-0.0001",
        .numu = "NaN",
        .b = false,
        .has_b = true,
        .d = "2024-02-29",
        .tm = "00:00",
        .ts = "infinity",
        .tz = "-infinity",
        .iv = "-00:00:01",
        .by = {(unsigned char *)"", 0},
        .j = "\"\\u0000\"",
        .jb = "[]",
    };
    allt *o;
    dsql_result *res;
    roundtrip(&r, &o, &res);
    assert_string_equal(o->s, "");
    assert_non_null(o->s);
    assert_string_equal(o->c, "a  "); /* char(n) pads */
    assert_int_equal(o->i2, INT16_MIN);
    assert_true(o->i8 == INT64_MIN);
    assert_true(isnan(o->f4));
    assert_true(isinf(o->f8) && o->f8 < 0);
    assert_string_equal(o->num, "0");
    assert_string_equal(o->num2, "-0.0001");
    assert_string_equal(o->numu, "NaN");
    assert_false(o->b);
    assert_true(o->has_b);
    assert_string_equal(o->d, "2024-02-29");
    assert_string_equal(o->tm, "00:00:00");
    assert_string_equal(o->ts, "infinity");
    assert_string_equal(o->tz, "-infinity");
    assert_string_equal(o->iv, "-00:00:01");
    assert_non_null(o->by.data); /* empty, not NULL */
    assert_int_equal(o->by.len, 0);
    assert_string_equal(o->j, "\"\\u0000\"");
    assert_string_equal(o->jb, "[]");
    dsql_result_free(res);

    /* +Inf and a negative zero for floats. */
    allt r2 = {.id = 3, .f4 = -0.0f, .has_f4 = true, .f8 = INFINITY, .has_f8 = true};
    roundtrip(&r2, &o, &res);
    assert_true(o->f4 == 0 && signbit(o->f4));
    assert_true(isinf(o->f8) && o->f8 > 0);
    dsql_result_free(res);
}

static void test_nulls(void **state)
{
    (void)state;
    allt r = {.id = 4};
    allt *o;
    dsql_result *res;
    roundtrip(&r, &o, &res);
    assert_string_equal(o->u.str, "");
    assert_null(o->s);
    assert_null(o->t);
    assert_null(o->c);
    assert_false(o->has_i2 || o->has_i4 || o->has_i8 || o->has_f4 || o->has_f8 || o->has_b);
    assert_null(o->num);
    assert_null(o->d);
    assert_null(o->tz);
    assert_null(o->iv);
    assert_null(o->by.data);
    assert_null(o->j);
    assert_null(o->jb);
    dsql_result_free(res);
    assert_rows(pg,
                "SELECT num_nulls(u, s, t, c, i2, i4, i8, f4, f8, num, num2, numu, b, d, tm, "
                "ts, tz, iv, \"by\", j, jb) FROM \"all types\" WHERE id = 4",
                "21\n");
}

static void test_rejected_before_round_trip(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    char s31[128] = "";
    for (int i = 0; i < 31; i++)
        strcat(s31, "\xc3\xa9");
    allt r = {.id = 10, .s = s31};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message, "dsql_create: allt.s: 31 characters, longer than STRING(30)");
    r = (allt){.id = 10, .d = "2023-02-29"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    r = (allt){.id = 10, .num = "1e38"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: allt.num: \"1e38\" 39 digits before the point, the "
                        "NUMERIC's precision allows 38 (NUMERIC(38,0))");
    r = (allt){.id = 10, .num2 = "1.23456"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    r = (allt){.id = 10, .jb = "{\"a\": \"\\u0000\"}"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    r = (allt){.id = 10, .c = "abcd"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    r = (allt){.id = 10, .t = "bad \xff utf8"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    r = (allt){.id = 10, .tz = "2024-02-30 00:00:00Z"};
    assert_int_equal(dsql_create(pool, &allt_model, &r, NULL, &err), DSQL_EVALIDATION);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM \"all types\" WHERE id = 10"), 0);
}

/* Values in where clauses are checked against the attribute's type, then compared right. */
static void test_where_by_type(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    int64_t n = 0;
    assert_dsql_ok(
        dsql_count(pool, &allt_model, DSQL_EQ("i8", DSQL_STR("-9223372036854775808")), &n, &err),
        err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model, DSQL_EQ("f4", DSQL_DBL(FLT_MAX)), &n, &err), err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model, DSQL_EQ("f8", DSQL_DBL(-INFINITY)), &n, &err),
                   err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model,
                              DSQL_EQ("u", DSQL_STR("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")), &n,
                              &err),
                   err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model,
                              DSQL_BETWEEN("d", DSQL_STR("2024-01-01"), DSQL_STR("2024-12-31")), &n,
                              &err),
                   err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model, DSQL_EQ("b", DSQL_BOOL(false)), &n, &err), err);
    assert_int_equal(n, 1);
    assert_dsql_ok(
        dsql_count(pool, &allt_model, DSQL_EQ("num2", DSQL_STR("123456.78910")), &n, &err), err);
    assert_int_equal(n, 1);
    assert_dsql_ok(dsql_count(pool, &allt_model, DSQL_EQ("jb", DSQL_STR("[ ]")), &n, &err), err);
    assert_int_equal(n, 1);
    assert_int_equal(dsql_count(pool, &allt_model, DSQL_EQ("j", DSQL_STR("[]")), &n, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_count: where: allt.j: JSON values cannot be compared (use JSONB, or IS NULL)");
    assert_int_equal(dsql_count(pool, &allt_model, DSQL_EQ("i4", DSQL_STR("abc")), &n, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_count: where: allt.i4: expected an INTEGER value, got text \"abc\"");
    assert_int_equal(dsql_count(pool, &allt_model, DSQL_EQ("i2", DSQL_INT(40000)), &n, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_count: where: allt.i2: 40000 is out of range for SMALLINT");
    assert_int_equal(dsql_count(pool, &allt_model, DSQL_EQ("by", DSQL_BOOL(true)), &n, &err),
                     DSQL_EINVAL);
    /* Updating with typed values. */
    uint64_t affected = 0;
    assert_dsql_ok(dsql_update(pool, &allt_model,
                               (const dsql_assign[]){DSQL_SET("f4", DSQL_DBL(0.1)),
                                                     DSQL_SET("by", DSQL_BYTES("\0\1", 2)),
                                                     DSQL_SET("num2", DSQL_INT(-999999)),
                                                     DSQL_SET("s", DSQL_NULL)},
                               4, DSQL_EQ("id", DSQL_INT(1)), &affected, &err),
                   err);
    assert_int_equal(affected, 1);
    assert_rows(pg, "SELECT f4, \"by\", num2, s IS NULL FROM \"all types\" WHERE id = 1",
                "0.1|\\x0001|-999999.0000|t\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges_max),     cmocka_unit_test(test_edges_min_and_special),
        cmocka_unit_test(test_nulls),         cmocka_unit_test(test_rejected_before_round_trip),
        cmocka_unit_test(test_where_by_type),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
