/* Model descriptors: the check, attribute lookup, type names, NULL-ness of members. */
#include <string.h>

#include "testutil.h"
#include "model/internal.h"

typedef struct owner {
    dsql_uuid id;
    char *name;
    char *city;
    int32_t age;
    bool has_age;
    double score;
    bool has_score;
    dsql_bytes photo;
    struct pet *pets;
    size_t n_pets;
} owner;

static const dsql_attr owner_attrs[] = {
    DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner, city, DSQL_STRING(80), .column = "town"),
    DSQL_ATTR(owner, age, DSQL_INTEGER, DSQL_HAS(owner, has_age)),
    DSQL_ATTR(owner, score, DSQL_DOUBLE, DSQL_HAS(owner, has_score), DSQL_DEFAULT_DBL(1.5)),
    DSQL_ATTR(owner, photo, DSQL_BYTEA),
};
static const dsql_index owner_indexes[] = {DSQL_INDEX(NULL, false, "name", "city")};
static DSQL_MODEL_INDEXED(owner_model, owner, "owner", owner_attrs, owner_indexes);

/* A descriptor dsql_model_check refuses: the attributes of a one-off model of owner, and the
 * exact message. */
typedef struct bad_case {
    const char *what;
    const dsql_attr *attrs;
    size_t n_attrs;
    const char *message;
} bad_case;

/* The attrs and n_attrs of a bad_case, from the attributes themselves. */
#define ATTRS(...) (const dsql_attr[]){__VA_ARGS__}, TU_LEN(((const dsql_attr[]){__VA_ARGS__}))

static void test_good(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_model_check(&owner_model, &err), DSQL_OK);
    assert_int_equal(owner_model.n_attrs, 6);
    assert_int_equal(owner_model.n_indexes, 1);
    assert_string_equal(owner_model.name, "owner");
    assert_int_equal(owner_model.struct_size, sizeof(owner));
}

static void test_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(dsql_model_attr(&owner_model, "name"), &owner_attrs[1]);
    assert_ptr_equal(dsql_model_attr(&owner_model, "city"), &owner_attrs[2]);
    assert_ptr_equal(dsql_model_attr(&owner_model, "town"), &owner_attrs[2]); /* column */
    assert_null(dsql_model_attr(&owner_model, "nme"));
    assert_null(dsql_model_attr(&owner_model, NULL));
    assert_null(dsql_model_attr(NULL, "name"));
    assert_ptr_equal(dsql__model_pk(&owner_model), &owner_attrs[0]);
    assert_string_equal(dsql__attr_column(&owner_attrs[2]), "town");
    assert_string_equal(dsql__attr_column(&owner_attrs[1]), "name");

    const dsql_attr *a = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__attr_lookup(&owner_model, "nme", "where", &a, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "where: model owner has no attribute \"nme\"");
    assert_int_equal(dsql__attr_lookup(&owner_model, "a\"b\n", NULL, &a, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "model owner has no attribute \"a\\\"b\\x0a\"");
    assert_int_equal(dsql__attr_lookup(&owner_model, "age", NULL, &a, &err), DSQL_OK);
    assert_ptr_equal(a, &owner_attrs[3]);
}

static void test_type_names(void **state)
{
    (void)state;
    char buf[48];
    dsql_attr a = {DSQL_TYPE_FIELDS(DSQL_STRING(30))};
    assert_string_equal(dsql__type_name(&a, buf, sizeof buf), "STRING(30)");
    assert_string_equal(dsql__sql_type(&a, buf, sizeof buf), "varchar(30)");
    dsql_attr s0 = {DSQL_TYPE_FIELDS(DSQL_STRING(0))};
    assert_string_equal(dsql__sql_type(&s0, buf, sizeof buf), "varchar");
    dsql_attr n = {DSQL_TYPE_FIELDS(DSQL_NUMERIC(38, 4))};
    assert_string_equal(dsql__type_name(&n, buf, sizeof buf), "NUMERIC(38,4)");
    assert_string_equal(dsql__sql_type(&n, buf, sizeof buf), "numeric(38,4)");
    /* A NUMERIC without precision is numeric(18,6), what Aurora DSQL stores a bare numeric
     * as: declared so everywhere, never as a bare numeric. */
    dsql_attr n0 = {DSQL_TYPE_FIELDS(DSQL_NUMERIC(0, 0))};
    assert_string_equal(dsql__type_name(&n0, buf, sizeof buf), "NUMERIC(18,6)");
    assert_string_equal(dsql__sql_type(&n0, buf, sizeof buf), "numeric(18,6)");
    dsql_attr c = {DSQL_TYPE_FIELDS(DSQL_CHAR(2))};
    assert_string_equal(dsql__sql_type(&c, buf, sizeof buf), "char(2)");
    dsql_attr d = {DSQL_TYPE_FIELDS(DSQL_DOUBLE)};
    assert_string_equal(dsql__sql_type(&d, buf, sizeof buf), "double precision");
    dsql_attr t = {DSQL_TYPE_FIELDS(DSQL_TIMESTAMPTZ)};
    assert_string_equal(dsql__sql_type(&t, buf, sizeof buf), "timestamptz");
    assert_string_equal(dsql__type_name(&t, buf, sizeof buf), "TIMESTAMPTZ");
    assert_int_equal(dsql__type_size(DSQL_T_UUID), 37);
    assert_int_equal(dsql__type_size(DSQL_T_SMALLINT), 2);
    assert_int_equal(dsql__type_size(DSQL_T_BYTEA), sizeof(dsql_bytes));
}

/* Types are values: stored, compared, taken apart, and usable in static tables. */
static const dsql_type static_types[] = {DSQL_UUID, DSQL_STRING(80), DSQL_NUMERIC(10, 2),
                                         DSQL_CHAR(4096)};

static dsql_type_id id_of(dsql_type t)
{
    return DSQL_TYPE_ID(t);
}

static void test_types_are_values(void **state)
{
    (void)state;
    dsql_type t = DSQL_STRING(80);
    assert_int_equal(id_of(t), DSQL_T_STRING);
    assert_int_equal(DSQL_TYPE_LENGTH(t), 80);
    assert_int_equal(DSQL_TYPE_PRECISION(t), 0);
    assert_true(t == static_types[1]);
    assert_true(DSQL_STRING(80) != DSQL_STRING(81));
    assert_true(DSQL_TEXT == (dsql_type)DSQL_T_TEXT);
    assert_int_equal(DSQL_TYPE_ID(static_types[0]), DSQL_T_UUID);
    assert_int_equal(DSQL_TYPE_ID(static_types[2]), DSQL_T_NUMERIC);
    assert_int_equal(DSQL_TYPE_PRECISION(static_types[2]), 10);
    assert_int_equal(DSQL_TYPE_SCALE(static_types[2]), 2);
    assert_int_equal(DSQL_TYPE_LENGTH(static_types[3]), 4096);
    /* the edges of each field, and negative values, come back exactly */
    assert_int_equal(DSQL_TYPE_LENGTH(DSQL_STRING(8388607)), 8388607);
    assert_int_equal(DSQL_TYPE_LENGTH(DSQL_STRING(-8388608)), -8388608);
    assert_int_equal(DSQL_TYPE_LENGTH(DSQL_STRING(-1)), -1);
    assert_int_equal(DSQL_TYPE_PRECISION(DSQL_NUMERIC(32767, -32768)), 32767);
    assert_int_equal(DSQL_TYPE_SCALE(DSQL_NUMERIC(32767, -32768)), -32768);
    assert_int_equal(DSQL_TYPE_SCALE(DSQL_NUMERIC(5, -1)), -1);
    /* beyond them: a type the model check refuses, never a wrapped one */
    assert_int_equal(DSQL_TYPE_ID(DSQL_STRING(8388608)), DSQL__T_OUT_OF_RANGE);
    assert_int_equal(DSQL_TYPE_ID(DSQL_NUMERIC(32768, 0)), DSQL__T_OUT_OF_RANGE);
    assert_int_equal(DSQL_TYPE_ID(DSQL_NUMERIC(10, -32769)), DSQL__T_OUT_OF_RANGE);
    /* what DSQL_ATTR writes into the descriptor */
    typedef struct one {
        char *price;
    } one;
    static const dsql_attr a = DSQL_ATTR(one, price, DSQL_NUMERIC(12, 3), .not_null = true);
    assert_int_equal(a.type, DSQL_T_NUMERIC);
    assert_int_equal(a.precision, 12);
    assert_int_equal(a.scale, 3);
    assert_int_equal(a.length, 0);
    assert_true(a.not_null);
    static const dsql_attr b = DSQL_ATTR_AS(one, price, "cost", DSQL_TEXT);
    assert_string_equal(b.name, "cost");
    assert_int_equal(b.type, DSQL_T_TEXT);
}

static void test_bad_descriptors(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"wrong_size", ATTRS(DSQL_ATTR(owner, age, DSQL_BIGINT)),
         "dsql_model_check: model owner: attribute \"age\": member is 4 bytes, BIGINT needs "
         "int64_t (8 bytes)"},
        {"str_on_int", ATTRS(DSQL_ATTR(owner, age, DSQL_TEXT)),
         "dsql_model_check: model owner: attribute \"age\": member is 4 bytes, TEXT needs char * "
         "(8 bytes)"},
        {"uuid_on_ptr", ATTRS(DSQL_ATTR(owner, name, DSQL_UUID)),
         "dsql_model_check: model owner: attribute \"name\": member is 8 bytes, UUID needs "
         "dsql_uuid (37 bytes)"},
        {"no_type",
         ATTRS({.name = "name",
                .offset = offsetof(owner, name),
                .size = sizeof(char *),
                .not_null = true}),
         "dsql_model_check: model owner: attribute \"name\": no type, or an unknown one (start "
         "with DSQL_UUID, "
         "DSQL_STRING(n), ...)"},
        {"two_pk",
         ATTRS(DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true),
               DSQL_ATTR(owner, name, DSQL_TEXT, .primary_key = true)),
         "dsql_model_check: model owner: two primary keys (\"id\" and \"name\"); one attribute at "
         "most"},
        {"dup",
         ATTRS(DSQL_ATTR(owner, name, DSQL_TEXT), DSQL_ATTR_AS(owner, city, "name", DSQL_TEXT)),
         "dsql_model_check: model owner: attribute \"name\" is declared twice"},
        {"dup_col",
         ATTRS(DSQL_ATTR(owner, name, DSQL_TEXT),
               DSQL_ATTR(owner, city, DSQL_TEXT, .column = "name")),
         "dsql_model_check: model owner: attributes \"name\" and \"city\" both use column "
         "\"name\""},
        {"same_member",
         ATTRS(DSQL_ATTR(owner, name, DSQL_TEXT), DSQL_ATTR_AS(owner, name, "name2", DSQL_TEXT)),
         "dsql_model_check: model owner: attributes \"name\" and \"name2\" share struct memory "
         "(same member twice?)"},
        {"has_on_text", ATTRS(DSQL_ATTR(owner, name, DSQL_TEXT, DSQL_HAS(owner, has_age))),
         "dsql_model_check: model owner: attribute \"name\": DSQL_HAS is for scalar types; text, "
         "UUID and BYTEA "
         "members hold NULL themselves"},
        {"uuid_default_on_text", ATTRS(DSQL_ATTR(owner, name, DSQL_TEXT, .default_uuid_v4 = true)),
         "dsql_model_check: model owner: attribute \"name\": .default_uuid_v4 needs a UUID "
         "attribute"},
        {"bad_default", ATTRS(DSQL_ATTR(owner, name, DSQL_STRING(3), DSQL_DEFAULT_STR("toolong"))),
         "dsql_model_check: model owner: attribute \"name\": bad default: owner.name: 7 "
         "characters, longer than "
         "STRING(3)"},
        {"bad_default_kind", ATTRS(DSQL_ATTR(owner, age, DSQL_INTEGER, DSQL_DEFAULT_STR("x"))),
         "dsql_model_check: model owner: attribute \"age\": a constant default of this kind does "
         "not fit the member "
         "(INTEGER)"},
        {"bad_default_range",
         ATTRS(DSQL_ATTR(owner, age, DSQL_INTEGER, DSQL_DEFAULT_INT(1LL << 40))),
         "dsql_model_check: model owner: attribute \"age\": bad default: owner.age: 1099511627776 "
         "is out of range "
         "for INTEGER"},
        /* A default on a scalar without a presence flag could never apply. */
        {"default_no_flag", ATTRS(DSQL_ATTR(owner, age, DSQL_INTEGER, DSQL_DEFAULT_INT(3))),
         "dsql_model_check: model owner: attribute \"age\": a default needs a presence flag "
         "(DSQL_HAS(T, has_x)) on "
         "this INTEGER member to tell \"unset\" from 0; without one it would never apply"},
        {"sql_default_no_flag",
         ATTRS(DSQL_ATTR(owner, score, DSQL_DOUBLE, .default_sql = "random()")),
         "dsql_model_check: model owner: attribute \"score\": a default needs a presence flag "
         "(DSQL_HAS(T, has_x)) "
         "on this DOUBLE member to tell \"unset\" from 0; without one it would never apply"},
        /* Aurora DSQL's storage limits, before any round trip. */
        {"long_varchar", ATTRS(DSQL_ATTR(owner, name, DSQL_STRING(65536))),
         "dsql_model_check: model owner: attribute \"name\": STRING(n) needs 0 <= n <= 65535 (0 = "
         "no limit; Aurora "
         "DSQL's limit)"},
        {"long_char", ATTRS(DSQL_ATTR(owner, name, DSQL_CHAR(4097))),
         "dsql_model_check: model owner: attribute \"name\": CHAR(n) needs 0 < n <= 4096 (Aurora "
         "DSQL's limit)"},
        {"bad_numeric", ATTRS(DSQL_ATTR(owner, name, DSQL_NUMERIC(5, 6))),
         "dsql_model_check: model owner: attribute \"name\": NUMERIC(5,6): need 0 <= scale <= "
         "precision <= 1000"},
        {"char0", ATTRS(DSQL_ATTR(owner, name, DSQL_CHAR(0))),
         "dsql_model_check: model owner: attribute \"name\": CHAR(n) needs 0 < n <= 4096 (Aurora "
         "DSQL's limit)"},
        {"string_out_of_range", ATTRS(DSQL_ATTR(owner, name, DSQL_STRING(8388608))),
         "dsql_model_check: model owner: attribute \"name\": type arguments out of range (a length "
         "within "
         "+-8388607, a precision and scale within int16_t)"},
        {"numeric_out_of_range", ATTRS(DSQL_ATTR(owner, name, DSQL_NUMERIC(40000, 2))),
         "dsql_model_check: model owner: attribute \"name\": type arguments out of range (a length "
         "within "
         "+-8388607, a precision and scale within int16_t)"},
        {"string_negative", ATTRS(DSQL_ATTR(owner, name, DSQL_STRING(-1))),
         "dsql_model_check: model owner: attribute \"name\": STRING(n) needs 0 <= n <= 65535 (0 = "
         "no limit; "
         "Aurora DSQL's limit)"},
        {"noname", ATTRS({.offset = 0, .size = 37, DSQL_TYPE_FIELDS(DSQL_UUID)}),
         "dsql_model_check: model owner: attribute #0 has no name"},
    };
    for (size_t i = 0; i < TU_LEN(cases); i++) {
        dsql_model m = {.magic = DSQL_MODEL_MAGIC,
                        .name = "owner",
                        .table = "owner",
                        .struct_size = sizeof(owner),
                        .attrs = cases[i].attrs,
                        .n_attrs = cases[i].n_attrs};
        dsql_error e = DSQL_ERROR_INIT;
        int rc = dsql_model_check(&m, &e);
        if (rc != DSQL_EINVAL || e.status != DSQL_EINVAL || strcmp(e.message, cases[i].message))
            fail_msg("%s: %s \"%s\", expected DSQL_EINVAL \"%s\"", cases[i].what,
                     dsql_status_name(rc), e.message, cases[i].message);
    }

    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_model_check(NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model is NULL");
    dsql_model junk = {0};
    assert_int_equal(dsql_model_check(&junk, &err), DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_model_check: not a model descriptor (bad magic; declare it with DSQL_MODEL)");
    /* A struct size that does not hold the member (descriptor for another struct). */
    dsql_model small = owner_model;
    small.struct_size = 16;
    small.indexes = NULL;
    small.n_indexes = 0;
    assert_int_equal(dsql_model_check(&small, &err), DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_model_check: model owner: attribute \"id\": member lies outside the struct");
    const dsql_index bad_ix[] = {DSQL_INDEX("ix", true, "name", "nope")};
    dsql_model badix = owner_model;
    badix.indexes = bad_ix;
    assert_int_equal(dsql_model_check(&badix, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_model_check: model owner: index #0 names unknown attribute \"nope\"");
    dsql_model notable = owner_model;
    notable.table = "";
    assert_int_equal(dsql_model_check(&notable, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_model_check: model owner: no table name");
}

/* Aurora DSQL's per-table limits: 255 columns, 24 indexes (the primary key's and unique
 * attributes' included), 8 key columns per index. */
static void test_table_limits(void **state)
{
    (void)state;
    static dsql_attr many[256];
    dsql_model wide = {.magic = DSQL_MODEL_MAGIC,
                       .name = "owner",
                       .table = "owner",
                       .struct_size = sizeof(owner),
                       .attrs = many,
                       .n_attrs = 256};
    dsql_error e = DSQL_ERROR_INIT;
    assert_int_equal(dsql_model_check(&wide, &e), DSQL_EINVAL);
    assert_string_equal(
        e.message, "dsql_model_check: model owner: 256 attributes, more than the 255 columns a "
                   "table may have on Aurora DSQL");
    static const dsql_attr attrs[] = {
        DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true),
        DSQL_ATTR(owner, name, DSQL_STRING(30), .unique = true),
        DSQL_ATTR(owner, city, DSQL_STRING(30)),
    };
    static const char *const city[] = {"city"};
    dsql_index idx[23];
    for (size_t i = 0; i < 23; i++)
        idx[i] = (dsql_index){.attrs = city, .n_attrs = 1};
    dsql_model m = {.magic = DSQL_MODEL_MAGIC,
                    .name = "owner",
                    .table = "owner",
                    .struct_size = sizeof(owner),
                    .attrs = attrs,
                    .n_attrs = 3,
                    .indexes = idx,
                    .n_indexes = 22};
    assert_int_equal(dsql_model_check(&m, &e), DSQL_OK); /* 22 + primary key + unique = 24 */
    m.n_indexes = 23;
    assert_int_equal(dsql_model_check(&m, &e), DSQL_EINVAL);
    assert_string_equal(
        e.message, "dsql_model_check: model owner: the table would have 25 indexes (primary key, "
                   "unique attributes and declared indexes), more than the 24 "
                   "Aurora DSQL allows per table");
    static const char *const nine[] = {"city", "city", "city", "city", "city",
                                       "city", "city", "city", "city"};
    dsql_index wide_key = {.attrs = nine, .n_attrs = 9};
    dsql_model k = {.magic = DSQL_MODEL_MAGIC,
                    .name = "owner",
                    .table = "owner",
                    .struct_size = sizeof(owner),
                    .attrs = attrs,
                    .n_attrs = 3,
                    .indexes = &wide_key,
                    .n_indexes = 1};
    assert_int_equal(dsql_model_check(&k, &e), DSQL_EINVAL);
    assert_string_equal(
        e.message, "dsql_model_check: model owner: index #0 has 9 key columns, more than the 8 "
                   "Aurora DSQL allows");
    wide_key.n_attrs = 8;
    assert_int_equal(dsql_model_check(&k, &e), DSQL_OK);
}

static void test_null_members(void **state)
{
    (void)state;
    owner o = {0};
    for (size_t i = 0; i < owner_model.n_attrs; i++)
        assert_true(dsql__attr_is_null(&owner_attrs[i], &o)); /* score: has_score false */
    dsql_attr score = owner_attrs[4]; /* a double without DSQL_HAS is never NULL */
    score.has_offset = 0;
    assert_true(dsql__attr_is_null(&score, &o) == false);
    strcpy(o.id.str, "x");
    o.name = "n";
    o.city = "";
    o.age = 0;
    o.has_age = true;
    o.photo.data = (unsigned char *)"";
    assert_false(dsql__attr_is_null(&owner_attrs[0], &o));
    assert_false(dsql__attr_is_null(&owner_attrs[1], &o));
    assert_false(dsql__attr_is_null(&owner_attrs[2], &o)); /* "" is not NULL */
    assert_false(dsql__attr_is_null(&owner_attrs[3], &o));
    assert_false(dsql__attr_is_null(&owner_attrs[5], &o));
    dsql__attr_set_null(&owner_attrs[3], &o);
    assert_false(o.has_age);
    assert_true(dsql__attr_is_null(&owner_attrs[3], &o));
    o.age = 5;
    o.has_age = false;
    assert_true(dsql__attr_is_null(&owner_attrs[3], &o));
    dsql__attr_set_null(&owner_attrs[0], &o);
    assert_string_equal(o.id.str, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_types_are_values),
        cmocka_unit_test(test_bad_descriptors),
        cmocka_unit_test(test_null_members),
        cmocka_unit_test(test_table_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
