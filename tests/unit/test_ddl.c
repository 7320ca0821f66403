/* DDL text: CREATE TABLE (every type, constraints, defaults, foreign keys), DROP TABLE,
 * ADD COLUMN, index names and CREATE INDEX [ASYNC], foreign keys of existing tables. */
#include <string.h>

#include "testutil.h"
#include "model/ddl.h"
#include "clinic_models.h"

typedef struct everything {
    dsql_uuid id;
    char *s, *t, *c, *num, *d, *tm, *ts, *tstz, *iv, *j, *jb, *created;
    int16_t sm;
    int32_t in;
    int64_t bi;
    float r;
    double dbl;
    bool b, has_b;
    dsql_bytes by;
} everything;

static const dsql_attr everything_attrs[] = {
    DSQL_ATTR(everything, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(everything, s, DSQL_STRING(30), .not_null = true, .unique = true),
    DSQL_ATTR(everything, t, DSQL_TEXT),
    DSQL_ATTR(everything, c, DSQL_CHAR(2)),
    DSQL_ATTR(everything, sm, DSQL_SMALLINT),
    DSQL_ATTR(everything, in, DSQL_INTEGER, .not_null = true),
    DSQL_ATTR(everything, bi, DSQL_BIGINT),
    DSQL_ATTR(everything, r, DSQL_REAL),
    DSQL_ATTR(everything, dbl, DSQL_DOUBLE),
    DSQL_ATTR(everything, num, DSQL_NUMERIC(10, 2)),
    DSQL_ATTR(everything, b, DSQL_BOOLEAN, DSQL_HAS(everything, has_b)),
    DSQL_ATTR(everything, d, DSQL_DATEONLY),
    DSQL_ATTR(everything, tm, DSQL_TIME),
    DSQL_ATTR(everything, ts, DSQL_TIMESTAMP),
    DSQL_ATTR(everything, tstz, DSQL_TIMESTAMPTZ),
    DSQL_ATTR(everything, iv, DSQL_INTERVAL),
    DSQL_ATTR(everything, by, DSQL_BYTEA),
    DSQL_ATTR(everything, j, DSQL_JSON),
    DSQL_ATTR(everything, jb, DSQL_JSONB),
    DSQL_ATTR_AS(everything, created, "createdAt", DSQL_TIMESTAMPTZ, .not_null = true,
                 .default_sql = "now()"),
};
static const dsql_index everything_indexes[] = {
    DSQL_INDEX(NULL, false, "s", "in"),
    DSQL_INDEX("by_created", true, "createdAt"),
};
static DSQL_MODEL_INDEXED(everything_model, everything, "every \"thing\"", everything_attrs,
                          everything_indexes);

static void test_create_every_type(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__ddl_create_table(&sb, &everything_model, NULL, 0, &err), DSQL_OK);
    assert_string_equal(
        dsql__sb_str(&sb),
        "CREATE TABLE IF NOT EXISTS \"every \"\"thing\"\"\" (\"id\" uuid PRIMARY KEY, "
        "\"s\" varchar(30) NOT NULL UNIQUE, \"t\" text, \"c\" char(2), \"sm\" smallint, "
        "\"in\" integer NOT NULL, \"bi\" bigint, \"r\" real, \"dbl\" double precision, "
        "\"num\" numeric(10,2), \"b\" boolean, \"d\" date, \"tm\" time, \"ts\" timestamp, "
        "\"tstz\" timestamptz, \"iv\" interval, \"by\" bytea, \"j\" json, \"jb\" jsonb, "
        "\"createdAt\" timestamptz NOT NULL DEFAULT now())");
    dsql__sb_free(&sb);
}

static void test_create_seed(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__ddl_create_table(&sb, &owner_model, NULL, 0, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE TABLE IF NOT EXISTS \"owner\" (\"id\" uuid PRIMARY KEY, \"name\" "
                        "varchar(30) NOT NULL, \"city\" varchar(80) NOT NULL, \"telephone\" "
                        "varchar(20))");
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_table(&sb, &pet_model, NULL, 0, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE TABLE IF NOT EXISTS \"pet\" (\"id\" uuid PRIMARY KEY, \"name\" "
                        "varchar(30) NOT NULL, \"birthDate\" date NOT NULL, \"ownerId\" uuid)");
    dsql__sb_reset(&sb);
    /* Attribute id, column "name". */
    assert_int_equal(dsql__ddl_create_table(&sb, &specialty_model, NULL, 0, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb), "CREATE TABLE IF NOT EXISTS \"specialty\" (\"name\" "
                                           "varchar(80) PRIMARY KEY)");
    dsql__sb_reset(&sb);
    assert_int_equal(dsql__ddl_create_table(&sb, &vet_specialty_model, NULL, 0, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE TABLE IF NOT EXISTS \"vetSpecialties\" (\"id\" uuid PRIMARY KEY, "
                        "\"vetId\" uuid, \"specialtyId\" varchar(80))");
    dsql__sb_reset(&sb);
    dsql__ddl_drop_table(&sb, &vet_specialty_model, true);
    assert_string_equal(dsql__sb_str(&sb), "DROP TABLE IF EXISTS \"vetSpecialties\" CASCADE");
    dsql__sb_reset(&sb);
    dsql__ddl_drop_table(&sb, &owner_model, false);
    assert_string_equal(dsql__sb_str(&sb), "DROP TABLE IF EXISTS \"owner\"");
    dsql__sb_free(&sb);
}

static void test_schema_qualified(void **state)
{
    (void)state;
    dsql_model m = owner_model;
    m.schema = "myschema";
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__ddl_add_column(&sb, &m, &owner_attrs[3]);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE \"myschema\".\"owner\" ADD COLUMN \"telephone\" varchar(20)");
    dsql__sb_reset(&sb);
    dsql__ddl_drop_table(&sb, &m, true);
    assert_string_equal(dsql__sb_str(&sb), "DROP TABLE IF EXISTS \"myschema\".\"owner\" CASCADE");
    dsql__sb_free(&sb);
}

static void test_add_column_is_bare(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    /* NOT NULL, UNIQUE and DEFAULT never ride along (DSQL rejects them there). */
    dsql__ddl_add_column(&sb, &everything_model, &everything_attrs[19]);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE \"every \"\"thing\"\"\" ADD COLUMN \"createdAt\" timestamptz");
    dsql__sb_reset(&sb);
    dsql__ddl_add_column(&sb, &everything_model, &everything_attrs[1]);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE \"every \"\"thing\"\"\" ADD COLUMN \"s\" varchar(30)");
    dsql__sb_free(&sb);
}

static void test_indexes(void **state)
{
    (void)state;
    char name[DSQL__IDENT_MAX + 1];
    dsql__ddl_index_name(name, &everything_model, &everything_indexes[0]);
    assert_string_equal(name, "every \"thing\"_s_in_idx");
    dsql__ddl_index_name(name, &everything_model, &everything_indexes[1]);
    assert_string_equal(name, "by_created");

    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(
        dsql__ddl_create_index(&sb, &everything_model, &everything_indexes[0], false, &err), 0);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE INDEX IF NOT EXISTS \"every \"\"thing\"\"_s_in_idx\" "
                        "ON \"every \"\"thing\"\"\" (\"s\", \"in\")");
    dsql__sb_reset(&sb);
    assert_int_equal(
        dsql__ddl_create_index(&sb, &everything_model, &everything_indexes[1], true, &err), 0);
    assert_string_equal(dsql__sb_str(&sb), "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS \"by_created\" "
                                           "ON \"every \"\"thing\"\"\" (\"createdAt\")");
    dsql__sb_reset(&sb);

    /* By column name too: the specialty's attribute id is column "name". */
    dsql_index by_name = DSQL_INDEX(NULL, false, "id");
    dsql__ddl_index_name(name, &specialty_model, &by_name);
    assert_string_equal(name, "specialty_name_idx");

    /* An attribute the model does not have. */
    dsql_index bad = DSQL_INDEX("bad_idx", false, "name", "colour");
    assert_int_equal(dsql__ddl_create_index(&sb, &pet_model, &bad, true, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "\"colour\""));
    assert_non_null(strstr(err.message, "bad_idx"));
    dsql__sb_free(&sb);
}

static void test_long_names_cut(void **state)
{
    (void)state;
    /* 70 bytes of name, with a 2-byte character straddling byte 63: cut before it. */
    char longname[128];
    memset(longname, 'a', 62);
    strcpy(longname + 62, "\xc3\xa9xxxxxxxxx");
    dsql_index idx = {.name = longname, .attrs = (const char *const[]){"name"}, .n_attrs = 1};
    char name[DSQL__IDENT_MAX + 1];
    dsql__ddl_index_name(name, &owner_model, &idx);
    assert_int_equal(strlen(name), 62);
    longname[62] = 'b'; /* plain ASCII from here: cut at exactly 63 bytes */
    longname[63] = 'c';
    dsql__ddl_index_name(name, &owner_model, &idx);
    assert_int_equal(strlen(name), 63);
    assert_int_equal(name[62], 'b');
}

static void test_foreign_keys(void **state)
{
    (void)state;
    dsql__fk fks[2];
    size_t n = 9;
    dsql_error err = DSQL_ERROR_INIT;
    /* Off by default (the seed's constraints: false). */
    assert_int_equal(dsql__assoc_fks(&owner_pets, fks, &n, &err), DSQL_OK);
    assert_int_equal(n, 0);

    assert_int_equal(dsql__assoc_fks(&pet_owner_fk, fks, &n, &err), DSQL_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(fks[0].model, &pet_model);
    assert_string_equal(fks[0].name, "pet_ownerId_fkey");
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    assert_int_equal(dsql__ddl_create_table(&sb, &pet_model, fks, 1, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE TABLE IF NOT EXISTS \"pet\" (\"id\" uuid PRIMARY KEY, \"name\" "
                        "varchar(30) NOT NULL, \"birthDate\" date NOT NULL, \"ownerId\" uuid, "
                        "CONSTRAINT \"pet_ownerId_fkey\" FOREIGN KEY (\"ownerId\") REFERENCES "
                        "\"owner\" (\"id\") ON DELETE SET NULL)");
    dsql__sb_reset(&sb);
    dsql__ddl_add_fk(&sb, &fks[0], true);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE \"pet\" ADD CONSTRAINT \"pet_ownerId_fkey\" FOREIGN KEY "
                        "(\"ownerId\") REFERENCES \"owner\" (\"id\") ON DELETE SET NULL NOT VALID");
    dsql__sb_reset(&sb);
    dsql__ddl_validate_fk(&sb, &fks[0], true);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE ASYNC \"pet\" VALIDATE CONSTRAINT \"pet_ownerId_fkey\"");
    dsql__sb_reset(&sb);
    dsql__ddl_validate_fk(&sb, &fks[0], false);
    assert_string_equal(dsql__sb_str(&sb),
                        "ALTER TABLE \"pet\" VALIDATE CONSTRAINT \"pet_ownerId_fkey\"");
    dsql__sb_reset(&sb);

    /* Belongs-to-many: the join table references both sides; the specialty by its
     * primary key column "name". */
    assert_int_equal(dsql__assoc_fks(&vet_specialties_fk, fks, &n, &err), DSQL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(dsql__ddl_create_table(&sb, &vet_specialty_model, fks, 2, &err), DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "CREATE TABLE IF NOT EXISTS \"vetSpecialties\" (\"id\" uuid PRIMARY KEY, "
                        "\"vetId\" uuid, \"specialtyId\" varchar(80), CONSTRAINT "
                        "\"vetSpecialties_vetId_fkey\" FOREIGN KEY (\"vetId\") REFERENCES \"vet\" "
                        "(\"id\"), CONSTRAINT \"vetSpecialties_specialtyId_fkey\" FOREIGN KEY "
                        "(\"specialtyId\") REFERENCES \"specialty\" (\"name\"))");
    dsql__sb_free(&sb);

    /* An ON DELETE action that is not one is never spliced into SQL. */
    dsql_assoc bad = pet_owner_fk;
    bad.on_delete = "CASCADE; DROP TABLE owner";
    assert_int_equal(dsql__assoc_fks(&bad, fks, &n, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "on_delete"));
    assert_int_equal(n, 0);
}

static void test_bad_model(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_model m = owner_model;
    m.magic = 0;
    assert_int_equal(dsql__ddl_create_table(&sb, &m, NULL, 0, &err), DSQL_EINVAL);
    assert_int_equal(sb.len, 0);
    dsql__sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_every_type), cmocka_unit_test(test_create_seed),
        cmocka_unit_test(test_schema_qualified),  cmocka_unit_test(test_add_column_is_bare),
        cmocka_unit_test(test_indexes),           cmocka_unit_test(test_long_names_cut),
        cmocka_unit_test(test_foreign_keys),      cmocka_unit_test(test_bad_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
