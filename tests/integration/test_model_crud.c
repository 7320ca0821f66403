/*
 * Model CRUD against the throwaway PostgreSQL: create (defaults, RETURNING), find all /
 * one / by primary key, count, update, save, destroy, find-or-create, raw SQL — each on a
 * pool and on a connection inside dsql_transaction; round trips counted; hostile values
 * and identifiers stored and read back exactly; bad input refused before any round trip
 * with nothing written.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB "dsql_t_model_crud"

static dsql_pool *pool;
static PGconn *pg;

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, NULL);
    return 0;
}

static void fresh_tables(void)
{
    pg_ok(pg, "DROP TABLE IF EXISTS owner, pet, specialty");
    pg_ok(pg, "CREATE TABLE owner (id uuid PRIMARY KEY, name varchar(30) NOT NULL, city "
              "varchar(80) NOT NULL, telephone varchar(20))");
    pg_ok(pg, "CREATE TABLE pet (id uuid PRIMARY KEY, name varchar(30) NOT NULL, \"birthDate\" "
              "date NOT NULL, \"ownerId\" uuid)");
    pg_ok(pg, "CREATE TABLE specialty (name varchar(80) PRIMARY KEY)");
}

static uint64_t round_trips(void)
{
    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    return s.round_trips;
}

/* ---- the basic flow, run on a pool and on a connection in a transaction ---- */

static int flow(dsql_db *db, dsql_error *err)
{
    owner john = {.name = "John Doe", .city = "Anytown"};
    int rc = dsql_create(db, &owner_model, &john, NULL, err);
    if (rc)
        return rc;
    assert_int_equal(strlen(john.id.str), 36); /* the client-side UUIDv4 was filled in */
    dsql_result *stored = NULL;
    owner mary = {.name = "Mary Major", .city = "Anytown", .telephone = "555-0100"};
    if ((rc = dsql_create(db, &owner_model, &mary, &stored, err)))
        return rc;
    size_t n = 0;
    owner *s = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_string_equal(s->id.str, mary.id.str);
    assert_string_equal(s->telephone, "555-0100");
    dsql_result_free(stored);

    pet p1 = {.name = "Pet1", .birth_date = "2020-02-29"};
    strcpy(p1.owner_id.str, john.id.str);
    pet p2 = {.name = "Pet2", .birth_date = "2021-06-01"};
    if ((rc = dsql_create(db, &pet_model, &p1, NULL, err)) ||
        (rc = dsql_create(db, &pet_model, &p2, NULL, err)))
        return rc;

    /* find one by name; then its owner by primary key */
    pet *found;
    dsql_result *res;
    rc = dsql_find_one(db, &pet_model, &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1"))},
                       &found, &res, err);
    if (rc)
        return rc;
    assert_string_equal(found->id.str, p1.id.str);
    assert_string_equal(found->birth_date, "2020-02-29");
    assert_string_equal(found->owner_id.str, john.id.str);
    assert_null(found->owner);
    owner *o;
    dsql_result *res2;
    rc = dsql_find_by_pk(db, &owner_model, DSQL_STR(found->owner_id.str), NULL, &o, &res2, err);
    dsql_result_free(res);
    if (rc)
        return rc;
    assert_string_equal(o->name, "John Doe");
    assert_null(o->telephone);
    dsql_result_free(res2);

    /* find all, ordered, limited, some attributes */
    owner *all;
    rc = dsql_find_all(db, &owner_model,
                       &(dsql_query){DSQL_ORDER_BY(DSQL_DESC("name")), .limit = 5,
                                     DSQL_ATTRIBUTES("name"), .read_only = true},
                       &all, &n, &res, err);
    if (rc)
        return rc;
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "Mary Major");
    assert_string_equal(all[1].name, "John Doe");
    assert_string_equal(all[0].id.str, mary.id.str); /* the key always comes along */
    assert_null(all[0].city);                        /* not selected */
    dsql_result_free(res);

    int64_t count = -1;
    if ((rc = dsql_count(db, &pet_model, DSQL_IS_NULL("ownerId"), &count, err)))
        return rc;
    assert_int_equal(count, 1);
    if ((rc = dsql_count(db, &owner_model, NULL, &count, err)))
        return rc;
    assert_int_equal(count, 2);

    uint64_t affected = 0;
    rc = dsql_update(db, &owner_model,
                     (const dsql_assign[]){DSQL_SET("city", DSQL_STR("Springfield"))}, 1,
                     DSQL_EQ("city", DSQL_STR("Anytown")), &affected, err);
    if (rc)
        return rc;
    assert_int_equal(affected, 2);

    john.telephone = "555-0199";
    john.city = "Shelbyville";
    if ((rc = dsql_save(db, &owner_model, &john, (const char *const[]){"telephone"}, 1, err)))
        return rc;
    if ((rc = dsql_find_by_pk(db, &owner_model, DSQL_STR(john.id.str), NULL, &o, &res, err)))
        return rc;
    assert_string_equal(o->telephone, "555-0199");
    assert_string_equal(o->city, "Springfield"); /* only the named attribute was saved */
    dsql_result_free(res);
    if ((rc = dsql_save(db, &owner_model, &john, NULL, 0, err)))
        return rc;

    if ((rc = dsql_delete(db, &pet_model, DSQL_EQ("name", DSQL_STR("Pet2")), &affected, err)))
        return rc;
    assert_int_equal(affected, 1);
    return DSQL_OK;
}

static void check_flow_result(void)
{
    assert_rows(pg, "SELECT name, city, telephone FROM owner ORDER BY name",
                "John Doe|Shelbyville|555-0199\nMary Major|Springfield|555-0100\n");
    assert_rows(pg, "SELECT name, \"birthDate\", \"ownerId\" IS NOT NULL FROM pet",
                "Pet1|2020-02-29|t\n");
}

static void test_flow_pool(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(flow(DSQL_DB(pool), &err), err);
    check_flow_result();
}

static int flow_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    return flow(DSQL_DB(conn), err);
}

static void test_flow_transaction(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    int attempts = 0;
    assert_dsql_ok(dsql_transaction(pool, flow_tx, NULL, NULL, &attempts, &err), err);
    assert_int_equal(attempts, 1);
    check_flow_result();
}

/* A standalone connection outside any transaction: every call in autocommit. */
static void test_flow_connection(void **state)
{
    (void)state;
    fresh_tables();
    dsql_conn *conn = TEST_CONN(.database = DB);
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(flow(DSQL_DB(conn), &err), err);
    check_flow_result();
    dsql_conn_stats st;
    dsql_conn_get_stats(conn, &st);
    assert_int_equal(st.statements, st.round_trips); /* no pipelines, no BEGIN/COMMIT pairs */
    dsql_conn_close(conn);
}

/* A failing call inside the transaction rolls every call of it back. */
static int failing_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    owner a = {.name = "A", .city = "X"};
    int rc = dsql_create(conn, &owner_model, &a, NULL, err);
    if (rc)
        return rc;
    owner dup = a; /* same primary key */
    return dsql_create(conn, &owner_model, &dup, NULL, err);
}

static void test_transaction_rolls_back(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, failing_tx, NULL, NULL, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM owner"), 0);
}

/* One call on a pool is one statement and one round trip: no BEGIN/COMMIT around it. */
static void test_round_trips(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    owner o = {.name = "R", .city = "T"};
    uint64_t before = round_trips();
    assert_dsql_ok(dsql_create(pool, &owner_model, &o, NULL, &err), err);
    assert_int_equal(round_trips() - before, 1);
    before = round_trips();
    owner *row;
    dsql_result *res;
    assert_dsql_ok(dsql_find_by_pk(pool, &owner_model, DSQL_STR(o.id.str), NULL, &row, &res, &err),
                   err);
    dsql_result_free(res);
    assert_int_equal(round_trips() - before, 1);
    before = round_trips();
    int64_t n;
    assert_dsql_ok(dsql_count(pool, &owner_model, NULL, &n, &err), err);
    assert_int_equal(round_trips() - before, 1);
}

/* ---- hostile values and identifiers ---- */

typedef struct odd {
    char *key;
    char *text;
    dsql_bytes blob;
} odd;

static const dsql_attr odd_attrs[] = {
    DSQL_ATTR(odd, key, DSQL_TEXT, .primary_key = true, .column = "k\"ey; DROP TABLE x; --"),
    DSQL_ATTR(odd, text, DSQL_TEXT, .column = "the text"),
    DSQL_ATTR(odd, blob, DSQL_BYTEA, .column = "$1"),
};
static DSQL_MODEL(odd_model, odd, "odd \"table\"", odd_attrs);

static void test_hostile(void **state)
{
    (void)state;
    pg_ok(pg, "DROP TABLE IF EXISTS \"odd \"\"table\"\"\"");
    pg_ok(pg, "CREATE TABLE \"odd \"\"table\"\"\" (\"k\"\"ey; DROP TABLE x; --\" text PRIMARY KEY, "
              "\"the text\" text, \"$1\" bytea)");
    const char *values[] = {
        "'; DROP TABLE owner; --",
        "\\",
        "$1 $2",
        "\"quoted\" 'single'",
        "a\\'b\\\\c",
        "E'\\x41'",
        "%_like_%",
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "",
        ";--",
    };
    static const unsigned char bin[] = {0, 1, 0, '\\', 'x', '0', 0xff, 0};
    dsql_error err = DSQL_ERROR_INIT;
    for (size_t i = 0; i < TU_LEN(values); i++) {
        char key[32];
        snprintf(key, sizeof key, "k%zu", i);
        odd o = {.key = key, .text = (char *)values[i], .blob = {(unsigned char *)bin, sizeof bin}};
        assert_dsql_ok(dsql_create(pool, &odd_model, &o, NULL, &err), err);
    }
    for (size_t i = 0; i < TU_LEN(values); i++) {
        odd *r;
        dsql_result *res;
        assert_dsql_ok(dsql_find_one(pool, &odd_model,
                                     &(dsql_query){.where = DSQL_EQ("text", DSQL_STR(values[i]))},
                                     &r, &res, &err),
                       err);
        assert_string_equal(r->text, values[i]);
        assert_int_equal(r->blob.len, sizeof bin);
        assert_memory_equal(r->blob.data, bin, sizeof bin);
        dsql_result_free(res);
    }
    int64_t n = 0;
    assert_dsql_ok(dsql_count(pool, &odd_model, DSQL_LIKE("text", DSQL_STR("%;%--%")), &n, &err),
                   err);
    assert_int_equal(n, 2);
    assert_dsql_ok(
        dsql_count(pool, &odd_model, DSQL_EQ("blob", DSQL_BYTES(bin, sizeof bin)), &n, &err), err);
    assert_int_equal(n, 10);
    /* the owner table is still there: nothing was executed */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_tables WHERE tablename = 'owner'"), 1);
    uint64_t affected;
    assert_dsql_ok(dsql_delete(pool, &odd_model,
                               DSQL_IN("text", DSQL_STR(values[0]), DSQL_STR(values[1])), &affected,
                               &err),
                   err);
    assert_int_equal(affected, 2);
}

/* ---- bad input: clear errors, nothing written ---- */

static void test_bad_input(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    char e31[64] = "";
    for (int i = 0; i < 31; i++)
        strcat(e31, "\xc3\xa9");
    uint64_t before = round_trips();
    owner o = {.name = e31, .city = "X"};
    assert_int_equal(dsql_create(pool, &owner_model, &o, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: owner.name: 31 characters, longer than STRING(30)");
    o = (owner){.name = "ok"};
    assert_int_equal(dsql_create(pool, &owner_model, &o, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: owner.city: NULL, but the attribute is NOT NULL");
    pet p = {.name = "P", .birth_date = "2023-02-29"};
    assert_int_equal(dsql_create(pool, &pet_model, &p, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(
        err.message,
        "dsql_create: pet.birthDate: \"2023-02-29\" is not a date YYYY-MM-DD on the calendar "
        "(DATEONLY)");
    p = (pet){.name = "P", .birth_date = "2024-02-29"};
    strcpy(p.owner_id.str, "not-a-uuid");
    assert_int_equal(dsql_create(pool, &pet_model, &p, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: pet.ownerId: \"not-a-uuid\" is not a UUID (UUID)");

    owner *row;
    dsql_result *res = (dsql_result *)&res;
    assert_int_equal(dsql_find_one(pool, &owner_model,
                                   &(dsql_query){.where = DSQL_EQ("nmae", DSQL_STR("x"))}, &row,
                                   &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_find_one: where: model owner has no attribute \"nmae\"");
    assert_null(res);
    assert_int_equal(dsql_find_one(pool, &pet_model,
                                   &(dsql_query){.where = DSQL_EQ("ownerId", DSQL_STR("xyz"))},
                                   &row, &res, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_find_one: where: pet.ownerId: \"xyz\" is not a UUID (UUID)");
    size_t n;
    uint64_t affected = 7;
    assert_int_equal(dsql_update(pool, &owner_model,
                                 (const dsql_assign[]){DSQL_SET("name", DSQL_INT(5))}, 1,
                                 DSQL_NOT_NULL("id"), &affected, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_update: owner.name: expected a STRING(30) value, got an integer 5");
    assert_int_equal(affected, 0);
    /* the status is the same without an error record */
    assert_int_equal(dsql_update(pool, &owner_model,
                                 (const dsql_assign[]){DSQL_SET("name", DSQL_STR(e31))}, 1,
                                 DSQL_NOT_NULL("id"), NULL, NULL),
                     DSQL_EVALIDATION);
    assert_int_equal(dsql_count(pool, &owner_model, DSQL_EQ("id", DSQL_STR("x")), NULL, NULL),
                     DSQL_EVALIDATION);
    assert_int_equal(dsql_update(pool, &owner_model,
                                 (const dsql_assign[]){DSQL_SET("city", DSQL_NULL)}, 1,
                                 DSQL_NOT_NULL("id"), &affected, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_update: owner.city: NULL, but the attribute is NOT NULL");
    assert_int_equal(dsql_update(pool, &owner_model,
                                 (const dsql_assign[]){DSQL_SET("city", DSQL_STR("x"))}, 1, NULL,
                                 &affected, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_update: owner: where is NULL (to update every row on "
                                     "purpose, use DSQL_NOT_NULL on the primary key)");
    assert_int_equal(dsql_delete(pool, &owner_model, NULL, &affected, &err), DSQL_EINVAL);
    assert_int_equal(dsql_count(pool, &owner_model, DSQL_GT("name", DSQL_BOOL(true)), NULL, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_count: where: owner.name: expected a STRING(30) value, got a bool "
                        "true");
    /* find-by-pk without a primary key */
    static const dsql_attr nopk_attrs[] = {
        DSQL_ATTR(specialty, id, DSQL_STRING(80), .column = "name")};
    static DSQL_MODEL(nopk_model, specialty, "specialty", nopk_attrs);
    assert_int_equal(dsql_find_by_pk(pool, &nopk_model, DSQL_STR("x"), NULL, &row, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_find_by_pk: model specialty has no primary key");
    /* a descriptor with a wrong member size */
    static const dsql_attr bad_attrs[] = {
        {.name = "id",
         .offset = offsetof(owner, id),
         .size = 8,
         DSQL_TYPE_FIELDS(DSQL_UUID),
         .primary_key = true},
    };
    static DSQL_MODEL(bad_model, owner, "owner", bad_attrs);
    assert_int_equal(dsql_create(pool, &bad_model, &o, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_create: model owner: attribute \"id\": member is 8 bytes, UUID "
                        "needs dsql_uuid (37 bytes)");
    assert_int_equal(dsql_find_all(pool, &bad_model, NULL, &row, &n, &res, &err), DSQL_EINVAL);
    /* nothing reached the server, nothing was written */
    assert_int_equal(round_trips() - before, 0);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM owner"), 0);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0);

    /* not found */
    assert_int_equal(dsql_find_by_pk(pool, &owner_model,
                                     DSQL_STR("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), NULL, &row,
                                     &res, &err),
                     DSQL_ENOTFOUND);
    assert_string_equal(err.message,
                        "dsql_find_by_pk: owner: no row with id = \"a0eebc99-9c0b-4ef8-bb6d-\"...");
    assert_null(res);
    assert_int_equal(dsql_find_one(pool, &owner_model, NULL, &row, &res, &err), DSQL_ENOTFOUND);
    assert_string_equal(err.message, "dsql_find_one: owner: no row matches");
    owner ghost = {.name = "G", .city = "C"};
    dsql_uuid_v4(&ghost.id);
    assert_int_equal(dsql_save(pool, &owner_model, &ghost, NULL, 0, &err), DSQL_ENOTFOUND);
    /* a server-side failure carries its SQLSTATE */
    owner a = {.name = "A", .city = "C"};
    assert_dsql_ok(dsql_create(pool, &owner_model, &a, NULL, &err), err);
    assert_int_equal(dsql_create(pool, &owner_model, &a, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM owner"), 1);
}

/* ---- defaults ---- */

typedef struct gadget {
    int64_t id;
    bool has_id; /* false: let the server's default make it */
    char *label;
    int32_t qty;
    bool has_qty;
    double ratio;
    bool active;
    char *created;
} gadget;

static const dsql_attr gadget_attrs[] = {
    DSQL_ATTR(gadget, id, DSQL_BIGINT, .primary_key = true, DSQL_HAS(gadget, has_id),
              .default_sql = "nextval('gadget_seq')"),
    DSQL_ATTR(gadget, label, DSQL_STRING(10), DSQL_DEFAULT_STR("none")),
    DSQL_ATTR(gadget, qty, DSQL_INTEGER, DSQL_HAS(gadget, has_qty), DSQL_DEFAULT_INT(3)),
    DSQL_ATTR(gadget, ratio, DSQL_DOUBLE),
    DSQL_ATTR(gadget, active, DSQL_BOOLEAN),
    DSQL_ATTR(gadget, created, DSQL_DATEONLY, .default_sql = "DATE '2024-02-29'"),
};
static DSQL_MODEL(gadget_model, gadget, "gadget", gadget_attrs);

static void test_defaults(void **state)
{
    (void)state;
    pg_ok(pg, "DROP TABLE IF EXISTS gadget; DROP SEQUENCE IF EXISTS gadget_seq");
    pg_ok(pg, "CREATE SEQUENCE gadget_seq START 41");
    pg_ok(pg, "CREATE TABLE gadget (id bigint PRIMARY KEY DEFAULT nextval('gadget_seq'), label "
              "varchar(10), qty int, ratio float8, active bool, created date DEFAULT DATE "
              "'2024-02-29')");
    dsql_error err = DSQL_ERROR_INIT;
    gadget g = {.ratio = 0.5, .active = true};
    dsql_result *res;
    assert_dsql_ok(dsql_create(pool, &gadget_model, &g, &res, &err), err);
    size_t n;
    gadget *s = dsql_result_models(res, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s->id, 41); /* the server's default, RETURNING */
    assert_string_equal(s->label, "none");
    assert_true(s->has_qty);
    assert_int_equal(s->qty, 3);
    assert_true(s->ratio == 0.5);
    assert_true(s->active);
    assert_string_equal(s->created, "2024-02-29");
    assert_string_equal(g.label, "none"); /* client defaults were filled into the row */
    assert_int_equal(g.qty, 3);
    dsql_result_free(res);
    /* find_or_create: created once, found afterwards */
    gadget d = {.label = "unique", .ratio = 1};
    bool created = false;
    gadget *r;
    assert_dsql_ok(dsql_find_or_create(pool, &gadget_model, DSQL_EQ("label", DSQL_STR("unique")),
                                       &d, &r, &res, &created, &err),
                   err);
    assert_true(created);
    assert_int_equal(r->id, 42);
    dsql_result_free(res);
    gadget d2 = {.label = "unique", .ratio = 2};
    assert_dsql_ok(dsql_find_or_create(pool, &gadget_model, DSQL_EQ("label", DSQL_STR("unique")),
                                       &d2, &r, &res, &created, &err),
                   err);
    assert_false(created);
    assert_int_equal(r->id, 42);
    assert_true(r->ratio == 1);
    dsql_result_free(res);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM gadget"), 2);
}

/* Two threads race to find-or-create the same unique row: exactly one creates it. */
typedef struct racer {
    bool created;
    int rc;
    char id[40];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    dsql_error err = DSQL_ERROR_INIT;
    specialty d = {.id = "Exotic"};
    specialty *row;
    dsql_result *res = NULL;
    r->rc = dsql_find_or_create(pool, &specialty_model, DSQL_EQ("id", DSQL_STR("Exotic")), &d, &row,
                                &res, &r->created, &err);
    if (!r->rc)
        snprintf(r->id, sizeof r->id, "%s", row->id);
    else
        fprintf(stderr, "find_or_create: %s\n", err.message);
    dsql_result_free(res);
    return NULL;
}

static void test_find_or_create_race(void **state)
{
    (void)state;
    fresh_tables();
    for (int round = 0; round < 5; round++) {
        pg_ok(pg, "DELETE FROM specialty");
        racer r[4] = {0};
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, race, &r[i]);
        int made = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(r[i].rc, DSQL_OK);
            assert_string_equal(r[i].id, "Exotic");
            made += r[i].created;
        }
        assert_int_equal(made, 1);
        assert_int_equal(pg_long(pg, "SELECT count(*) FROM specialty"), 1);
    }
}

/* ---- raw SQL ---- */

static void test_raw(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *res;
    assert_dsql_ok(
        dsql_exec(pool, "INSERT INTO specialty (name) VALUES ($1), ($2), ($3)",
                  (const dsql_value[]){DSQL_STR("Cats"), DSQL_STR("Dogs"), DSQL_STR("Exotic")}, 3,
                  &res, &err),
        err);
    assert_int_equal(dsql_result_affected(res), 3);
    dsql_result_free(res);
    specialty *rows;
    size_t n;
    assert_dsql_ok(dsql_query_models(pool, &specialty_model,
                                     "SELECT 42 AS extra, name FROM specialty WHERE name <> $1 "
                                     "ORDER BY name DESC",
                                     (const dsql_value[]){DSQL_STR("Dogs")}, 1, &rows, &n, &res,
                                     &err),
                   err);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].id, "Exotic");
    assert_string_equal(rows[1].id, "Cats");
    dsql_result_free(res);
    assert_int_equal(dsql_exec(pool, "SELEC 1", NULL, 0, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42601");
    assert_int_equal(dsql_exec(pool, NULL, NULL, 0, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_exec: SQL text is NULL");
}

/* The names replaced for 1.0 still build and behave the same for one release; using them
 * warns (silenced here on purpose). */
static void test_deprecated_names(void **state)
{
    (void)state;
    fresh_tables();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_exec(pool, "INSERT INTO specialty (name) VALUES ('Old'), ('Older')", NULL,
                             0, NULL, &err),
                   err);
    uint64_t affected = 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    assert_dsql_ok(
        dsql_destroy(pool, &specialty_model, DSQL_EQ("id", DSQL_STR("Old")), &affected, &err), err);
    dsql_config cfg;
    test_config(&cfg);
    cfg.database = DB;
    dsql_conn *conn = NULL;
    assert_dsql_ok(dsql_connect(&cfg, &conn, &err), err);
#pragma GCC diagnostic pop
    assert_int_equal(affected, 1);
    int64_t n = -1;
    assert_dsql_ok(dsql_count(conn, &specialty_model, DSQL_EQ("id", DSQL_STR("Old")), &n, &err),
                   err);
    assert_int_equal(n, 0);
    assert_dsql_ok(dsql_count(conn, &specialty_model, DSQL_EQ("id", DSQL_STR("Older")), &n, &err),
                   err);
    assert_int_equal(n, 1);
    assert_dsql_ok(
        dsql_delete(conn, &specialty_model, DSQL_EQ("id", DSQL_STR("Older")), &affected, &err),
        err);
    dsql_conn_close(conn);
    dsql_config_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_pool),           cmocka_unit_test(test_flow_transaction),
        cmocka_unit_test(test_flow_connection),     cmocka_unit_test(test_transaction_rolls_back),
        cmocka_unit_test(test_round_trips),         cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_bad_input),           cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_find_or_create_race), cmocka_unit_test(test_raw),
        cmocka_unit_test(test_deprecated_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
