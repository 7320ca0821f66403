/* Validation before any round trip, UUIDs, JSON syntax and error previews. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "model/internal.h"

typedef struct item {
    dsql_uuid id;
    char *name;  /* STRING(30) NOT NULL */
    char *code;  /* CHAR(2) */
    char *note;  /* TEXT */
    char *price; /* NUMERIC(10,2) */
    char *big;   /* NUMERIC */
    char *day;   /* DATEONLY */
    char *at;    /* TIME */
    char *ts;    /* TIMESTAMP */
    char *tstz;  /* TIMESTAMPTZ */
    char *span;  /* INTERVAL */
    char *doc;   /* JSON */
    char *docb;  /* JSONB */
    dsql_bytes blob;
    int16_t small;
    bool has_small;
} item;

static const dsql_attr item_attrs[] = {
    DSQL_ATTR(item, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(item, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(item, code, DSQL_CHAR(2)),
    DSQL_ATTR(item, note, DSQL_TEXT),
    DSQL_ATTR(item, price, DSQL_NUMERIC(10, 2)),
    DSQL_ATTR(item, big, DSQL_NUMERIC(0, 0)),
    DSQL_ATTR(item, day, DSQL_DATEONLY),
    DSQL_ATTR(item, at, DSQL_TIME),
    DSQL_ATTR(item, ts, DSQL_TIMESTAMP),
    DSQL_ATTR(item, tstz, DSQL_TIMESTAMPTZ),
    DSQL_ATTR(item, span, DSQL_INTERVAL),
    DSQL_ATTR(item, doc, DSQL_JSON),
    DSQL_ATTR(item, docb, DSQL_JSONB),
    DSQL_ATTR(item, blob, DSQL_BYTEA),
    DSQL_ATTR(item, small, DSQL_SMALLINT, DSQL_HAS(item, has_small), .not_null = true),
};
static DSQL_MODEL(item_model, item, "item", item_attrs);

static item good(void)
{
    item it = {.name = "widget", .small = 1, .has_small = true};
    return it;
}

/* Sets one text member of a good row, validates, expects ok (msg NULL) or msg. */
static void expect(size_t off, const char *value, const char *msg)
{
    item it = good();
    *(const char **)((char *)&it + off) = value;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_validate(&item_model, &it, &err);
    if (!msg) {
        if (rc)
            fail_msg("expected %s to pass, got: %s", value, err.message);
        return;
    }
    if (rc != DSQL_EVALIDATION || err.status != DSQL_EVALIDATION)
        fail_msg("expected %s to fail validation, got %s: %s", value, dsql_status_name(rc),
                 err.message);
    assert_string_equal(err.message, msg);
}

#define OFF(m) offsetof(item, m)

/* Each value of a NULL-terminated list passes. */
static void expect_ok(size_t off, const char *const *values)
{
    for (; *values; values++)
        expect(off, *values, NULL);
}

/* Each value of a NULL-terminated list fails with "<attr>: \"<value>\" <why>". */
static void expect_bad(size_t off, const char *const *values, const char *attr, const char *why)
{
    for (; *values; values++) {
        char msg[256];
        snprintf(msg, sizeof msg, "dsql_validate: %s: \"%s\" %s", attr, *values, why);
        expect(off, *values, msg);
    }
}

static void test_not_null(void **state)
{
    (void)state;
    item it = good();
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_OK); /* id: default fills */
    it.name = NULL;
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_validate: item.name: NULL, but the attribute is NOT NULL");
    it = good();
    it.has_small = false;
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_validate: item.small: NULL, but the attribute is NOT NULL");
    /* The primary key without a default must be set. */
    it = good();
    assert_int_equal(dsql__validate_attr(&item_model, &item_attrs[0], &it, false, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message, "item.id: NULL, but the attribute is the primary key");
    assert_int_equal(dsql_validate(&item_model, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_validate: item: row is NULL");
}

static void test_strings(void **state)
{
    (void)state;
    char e30[61] = "", e31[63] = "";
    for (int i = 0; i < 30; i++)
        strcat(e30, "\xc3\xa9"); /* é: 2 bytes, 1 character */
    strcpy(e31, e30);
    strcat(e31, "\xc3\xa9");
    expect(OFF(name), e30, NULL);
    expect(OFF(name), "", NULL);
    expect(OFF(name), e31, "dsql_validate: item.name: 31 characters, longer than STRING(30)");
    expect(OFF(name), "\xf0\x9f\x98\x80", NULL); /* one 4-byte character */
    expect(OFF(name), "ab\xff",
           "dsql_validate: item.name: not valid UTF-8 (bad byte 0xff at offset 2)");
    expect(OFF(name), "\xc0\xaf",
           "dsql_validate: item.name: not valid UTF-8 (bad byte 0xc0 at offset 0)");
    expect(OFF(name), "\xed\xa0\x80",
           "dsql_validate: item.name: not valid UTF-8 (bad byte 0xed at offset 0)");
    expect(OFF(name), "\xc3",
           "dsql_validate: item.name: not valid UTF-8 (bad byte 0xc3 at offset 0)");
    expect(OFF(code), "ab", NULL);
    expect(OFF(code), "abc", "dsql_validate: item.code: 3 characters, longer than CHAR(2)");
    expect(OFF(note), "'; DROP TABLE item; -- \\ $1 \"", NULL);
    expect(OFF(note), "ok\x80",
           "dsql_validate: item.note: not valid UTF-8 (bad byte 0x80 at offset 2)");
}

/* What Aurora DSQL stores at most, in bytes, checked before any round trip: a varchar value
 * 65,535 (STRING(n) counts characters, so n characters may not fit), a char(n) value 4,096
 * once padded to n characters, any value 1 MiB. */
typedef struct sized {
    char *any;   /* STRING(0) */
    char *wide;  /* STRING(30000) */
    char *fixed; /* CHAR(3000) */
    char *full;  /* CHAR(4096) */
    char *doc;   /* TEXT */
    dsql_bytes blob;
} sized;

static const dsql_attr sized_attrs[] = {
    DSQL_ATTR(sized, any, DSQL_STRING(0)),    DSQL_ATTR(sized, wide, DSQL_STRING(30000)),
    DSQL_ATTR(sized, fixed, DSQL_CHAR(3000)), DSQL_ATTR(sized, full, DSQL_CHAR(4096)),
    DSQL_ATTR(sized, doc, DSQL_TEXT),         DSQL_ATTR(sized, blob, DSQL_BYTEA),
};
static DSQL_MODEL(sized_model, sized, "sized", sized_attrs);

/* n copies of the UTF-8 character c, in a malloc'd string. */
static char *repeat(const char *c, size_t n)
{
    size_t k = strlen(c);
    char *s = malloc(n * k + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * k, c, k);
    s[n * k] = '\0';
    return s;
}

static void expect_sized(const sized *row, const char *msg)
{
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_validate(&sized_model, row, &err);
    if (!msg) {
        if (rc)
            fail_msg("refused: %s", err.message);
        return;
    }
    assert_int_equal(rc, DSQL_EVALIDATION);
    assert_string_equal(err.message, msg);
}

static void test_storage_limits(void **state)
{
    (void)state;
    char *a65535 = repeat("a", 65535), *a65536 = repeat("a", 65536);
    char *e30000 = repeat("\xc3\xa9", 30000), *euro30000 = repeat("\xe2\x82\xac", 30000);
    char *e2000 = repeat("\xc3\xa9", 2000), *e1048 = repeat("\xc3\xa9", 1048);
    char *a4096 = repeat("a", 4096), *mib = repeat("a", 1048577);
    expect_sized(&(sized){.any = a65535}, NULL);
    expect_sized(&(sized){.any = a65536},
                 "dsql_validate: sized.any: 65536 bytes, more than the 65535 bytes "
                 "Aurora DSQL stores in a STRING(0) value");
    expect_sized(&(sized){.wide = e30000}, NULL); /* 60,000 bytes */
    expect_sized(&(sized){.wide = euro30000},
                 "dsql_validate: sized.wide: 90000 bytes, more than the 65535 "
                 "bytes Aurora DSQL stores in a STRING(30000) value");
    expect_sized(&(sized){.fixed = e1048}, NULL); /* 2,096 bytes + 1,952 spaces */
    expect_sized(
        &(sized){.fixed = e2000},
        "dsql_validate: sized.fixed: 5000 bytes once padded to 3000 characters, more than the 4096 "
        "bytes Aurora DSQL stores in a CHAR(3000) value");
    expect_sized(&(sized){.full = a4096}, NULL);
    expect_sized(
        &(sized){.full = "\xc3\xa9"},
        "dsql_validate: sized.full: 4097 bytes once padded to 4096 characters, more than the 4096 "
        "bytes Aurora DSQL stores in a CHAR(4096) value");
    expect_sized(&(sized){.doc = mib},
                 "dsql_validate: sized.doc: 1048577 bytes, more than the 1048576 bytes "
                 "Aurora DSQL stores in a TEXT value");
    expect_sized(&(sized){.blob = {(unsigned char *)mib, 1048577}},
                 "dsql_validate: sized.blob: 1048577 bytes, more than the 1048576 bytes Aurora "
                 "DSQL stores in "
                 "a BYTEA value");
    free(a65535);
    free(a65536);
    free(e30000);
    free(euro30000);
    free(e2000);
    free(e1048);
    free(a4096);
    free(mib);
}

static void test_dates(void **state)
{
    (void)state;
    /* Every date PostgreSQL writes back is accepted, so a row read can be saved unchanged:
     * years past 9999 and BC dates (1 BC is a leap year in the proleptic calendar). */
    static const char *const days_ok[] = {"2024-02-29",
                                          "0001-01-01",
                                          "9999-12-31",
                                          "2000-02-29",
                                          "infinity",
                                          "-infinity",
                                          "10000-01-01",
                                          "5874897-12-31",
                                          "0001-02-29 BC",
                                          "0001-01-01 BC",
                                          "4714-11-24 BC",
                                          "0005-02-29 BC",
                                          NULL};
    static const char *const days_bad[] = {"2023-02-29",
                                           "1900-02-29",
                                           "0000-01-01",
                                           "2024-04-31",
                                           "2024-13-01",
                                           "2024-1-01",
                                           "2024-01-01 ",
                                           "5874898-01-01",
                                           "4715-01-01 BC",
                                           "0002-02-29 BC",
                                           "2024-01-01 AD",
                                           "12345678-01-01",
                                           NULL};
    expect_ok(OFF(day), days_ok);
    expect_bad(OFF(day), days_bad, "item.day",
               "is not a date YYYY-MM-DD on the calendar (DATEONLY)");

    static const char *const times_ok[] = {"00:00", "23:59:59.999999", "24:00:00", NULL};
    static const char *const times_bad[] = {"24:00:01", "12:60", "12:00:00.1234567", "12:00:00+02",
                                            NULL};
    expect_ok(OFF(at), times_ok);
    expect_bad(OFF(at), times_bad, "item.at", "is not a time HH:MM[:SS[.ffffff]] (TIME)");

    static const char *const ts_ok[] = {
        "2024-02-29 12:34:56.5",  "2024-02-29T12:34:56",   "2024-02-29",
        "0001-01-01 00:00:00 BC", "294276-12-31 23:59:59", NULL};
    static const char *const ts_bad[] = {"2024-02-29 12:00:00Z", NULL};
    expect_ok(OFF(ts), ts_ok);
    expect_bad(OFF(ts), ts_bad, "item.ts",
               "is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] without zone (TIMESTAMP)");

    static const char *const tstz_ok[] = {"2024-02-29 12:00:00Z",     "2024-02-29T12:00:00+05:30",
                                          "2024-02-29 12:00:00-0800", "2024-02-29 12:00:00 UTC",
                                          "0001-01-01 00:00:00+00",   "0044-03-15 12:00:00+00 BC",
                                          "294276-12-31 23:59:59+00", NULL};
    static const char *const tstz_bad[] = {"2023-02-29 12:00:00+00", "2024-02-29 12:00:00+16",
                                           NULL};
    expect_ok(OFF(tstz), tstz_ok);
    expect_bad(OFF(tstz), tstz_bad, "item.tstz",
               "is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|+HH:MM] (TIMESTAMPTZ)");

    static const char *const spans_ok[] = {"1 day 02:00:00", "P1Y2M", NULL};
    static const char *const spans_bad[] = {"", NULL};
    expect_ok(OFF(span), spans_ok);
    expect_bad(OFF(span), spans_bad, "item.span", "is not an interval (INTERVAL)");
}

static void test_numeric(void **state)
{
    (void)state;
    expect(OFF(price), "12345678.99", NULL);
    expect(OFF(price), "-0.5", NULL);
    expect(OFF(price), "1.50", NULL);
    expect(OFF(price), "1.500000", NULL); /* trailing zeros lose nothing */
    expect(OFF(price), "00000012.3", NULL);
    expect(OFF(price), "1.2e3", NULL);
    expect(OFF(price), "NaN", NULL);
    expect(OFF(price), "123456789.5",
           "dsql_validate: item.price: \"123456789.5\" 9 digits before the point, "
           "the NUMERIC's precision allows 8 (NUMERIC(10,2))");
    expect(OFF(price), "1.234",
           "dsql_validate: item.price: \"1.234\" 3 digits after the point, the NUMERIC's "
           "scale allows 2 (it would be rounded) (NUMERIC(10,2))");
    expect(OFF(price), "1e8",
           "dsql_validate: item.price: \"1e8\" 9 digits before the point, the NUMERIC's "
           "precision allows 8 (NUMERIC(10,2))");
    expect(OFF(price), "Infinity",
           "dsql_validate: item.price: \"Infinity\" Infinity does not fit a NUMERIC(10,2) "
           "(NUMERIC(10,2))");
    expect(OFF(price), "1,5",
           "dsql_validate: item.price: \"1,5\" not a number (digits, an optional point and "
           "exponent, or NaN) (NUMERIC(10,2))");
    expect(OFF(price), "",
           "dsql_validate: item.price: \"\" not a number (digits, an optional point and "
           "exponent, or NaN) (NUMERIC(10,2))");
    expect(OFF(price), ".",
           "dsql_validate: item.price: \".\" not a number (digits, an optional point and "
           "exponent, or NaN) (NUMERIC(10,2))");
    /* NUMERIC without precision is numeric(18,6), as Aurora DSQL stores a bare numeric:
     * what would overflow or be rounded there is refused here, on every server. */
    expect(OFF(big), "999999999999.999999", NULL); /* 12 + 6 digits */
    expect(OFF(big), "-0.000001", NULL);
    expect(OFF(big), "1234567890123",
           "dsql_validate: item.big: \"1234567890123\" 13 digits before the point, the NUMERIC's "
           "precision "
           "allows 12 (NUMERIC(18,6))");
    expect(OFF(big), "0.1234567",
           "dsql_validate: item.big: \"0.1234567\" 7 digits after the point, the NUMERIC's scale "
           "allows 6 (it "
           "would be rounded) (NUMERIC(18,6))");
    expect(OFF(big), "Infinity",
           "dsql_validate: item.big: \"Infinity\" Infinity does not fit a NUMERIC(18,6) "
           "(NUMERIC(18,6))");
}

static void test_json(void **state)
{
    (void)state;
    expect(OFF(doc), "{\"a\": [1, 2.5e-3, true, false, null, \"\\u00e9\\ud83d\\ude00\"]}", NULL);
    expect(OFF(doc), "\"caf\xc3\xa9\"", NULL);
    expect(OFF(doc), "  42 ", NULL);
    expect(OFF(doc), "\"\\u0000\"", NULL); /* json keeps it; jsonb refuses it */
    expect(OFF(docb), "\"\\u0000\"",
           "dsql_validate: item.docb: \"\\\"\\\\u0000\\\"\" is not valid JSON: \\u0000 "
           "cannot be stored in JSONB (JSONB)");
    expect(
        OFF(doc), "{\"a\":}",
        "dsql_validate: item.doc: \"{\\\"a\\\":}\" is not valid JSON: unexpected character (JSON)");
    expect(OFF(doc), "[1,]",
           "dsql_validate: item.doc: \"[1,]\" is not valid JSON: unexpected character (JSON)");
    expect(OFF(doc), "[-]",
           "dsql_validate: item.doc: \"[-]\" is not valid JSON: bad number (JSON)");
    expect(OFF(doc), "[1.]",
           "dsql_validate: item.doc: \"[1.]\" is not valid JSON: bad number (JSON)");
    expect(OFF(doc), "{'a':1}",
           "dsql_validate: item.doc: \"{'a':1}\" is not valid JSON: expected a string key (JSON)");
    expect(OFF(doc), "[1] x",
           "dsql_validate: item.doc: \"[1] x\" is not valid JSON: text after the JSON "
           "value (JSON)");
    expect(OFF(doc), "\"\\ud83d\"",
           "dsql_validate: item.doc: \"\\\"\\\\ud83d\\\"\" is not valid JSON: high "
           "surrogate without its low half in a \\u escape (JSON)");
    expect(OFF(doc), "01",
           "dsql_validate: item.doc: \"01\" is not valid JSON: text after the JSON value (JSON)");
    expect(OFF(doc), "", "dsql_validate: item.doc: \"\" is not valid JSON: unexpected end (JSON)");
    char *deep = malloc(2000);
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 999);
    deep[1999] = '\0';
    expect(OFF(doc), deep,
           "dsql_validate: item.doc: \"[[[[[[[[[[[[[[[[[[[[[[[[\"... is not valid JSON: nested "
           "too deeply (JSON)");
    free(deep);
}

static void test_uuid(void **state)
{
    (void)state;
    dsql_uuid u, v;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_uuid_v4(&u);
    dsql_uuid_v4(&v);
    assert_int_equal(strlen(u.str), 36);
    assert_string_not_equal(u.str, v.str);
    assert_int_equal(u.str[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", u.str[19])); /* RFC 4122 variant */
    assert_true(dsql__check_uuid(u.str, 36));
    assert_false(dsql_uuid_is_null(&u));
    dsql_uuid z = {""};
    assert_true(dsql_uuid_is_null(&z));
    assert_true(dsql_uuid_is_null(NULL));
    assert_int_equal(dsql_uuid_parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", &u, &err), DSQL_OK);
    assert_string_equal(u.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_int_equal(dsql_uuid_parse("{a0eebc999c0b4ef8bb6d6bb9bd380a11}", &u, &err), DSQL_OK);
    assert_string_equal(u.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_int_equal(dsql_uuid_parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", &u, &err),
                     DSQL_EPARSE);
    assert_string_equal(err.message,
                        "dsql_uuid_parse: \"a0eebc99-9c0b-4ef8-bb6d-\"... is not a UUID "
                        "(expected 8-4-4-4-12 hexadecimal digits)");
    assert_int_equal(dsql_uuid_parse("a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", &u, &err),
                     DSQL_EPARSE);
    assert_int_equal(dsql_uuid_parse(NULL, &u, &err), DSQL_EPARSE);
    assert_string_equal(err.message, "dsql_uuid_parse: UUID text is NULL");

    item it = good();
    strcpy(it.id.str, "not-a-uuid");
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message, "dsql_validate: item.id: \"not-a-uuid\" is not a UUID (UUID)");
    memset(it.id.str, 'a', sizeof it.id.str); /* no terminator */
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message, "dsql_validate: item.id: dsql_uuid is not NUL-terminated");
}

static void test_preview(void **state)
{
    (void)state;
    char buf[DSQL__PREVIEW_MAX];
    assert_string_equal(dsql__preview("abc", 3, buf, sizeof buf), "\"abc\"");
    assert_string_equal(dsql__preview("a\"b\\c\n\x01", 7, buf, sizeof buf),
                        "\"a\\\"b\\\\c\\x0a\\x01\"");
    assert_string_equal(dsql__preview("\xc3\xa9\xff", 3, buf, sizeof buf), "\"\xc3\xa9\\xff\"");
    char big[4096];
    memset(big, 'x', sizeof big);
    assert_string_equal(dsql__preview(big, sizeof big, buf, sizeof buf),
                        "\"xxxxxxxxxxxxxxxxxxxxxxxx\"...");
    /* A huge bad value is never echoed whole in an error. */
    big[sizeof big - 1] = '\0';
    item it = good();
    it.day = big;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_validate(&item_model, &it, &err), DSQL_EVALIDATION);
    assert_true(strlen(err.message) < 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_null), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_dates),    cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_json),     cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_preview),  cmocka_unit_test(test_storage_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
