/*
 * Eager loading against the throwaway PostgreSQL: one round trip per find with includes,
 * LEFT JOIN semantics (a parent without children has an empty array), many children,
 * NULL foreign keys, a nested include, a limit that applies to parents, ordering of the
 * included rows, required includes, belongs-to and belongs-to-many, duplicate join rows.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB "dsql_t_model_include"

static dsql_pool *pool;
static PGconn *pg;

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, NULL);
    pg_ok(pg, "CREATE TABLE owner (id uuid PRIMARY KEY, name varchar(30) NOT NULL, city "
              "varchar(80) NOT NULL, telephone varchar(20))");
    pg_ok(pg, "CREATE TABLE pet (id uuid PRIMARY KEY, name varchar(30) NOT NULL, \"birthDate\" "
              "date NOT NULL, \"ownerId\" uuid)");
    pg_ok(pg, "CREATE TABLE collar (id uuid PRIMARY KEY, color varchar(20) NOT NULL, \"petId\" "
              "uuid)");
    pg_ok(pg, "CREATE TABLE specialty (name varchar(80) PRIMARY KEY)");
    pg_ok(pg, "CREATE TABLE vet (id uuid PRIMARY KEY, name varchar(30) NOT NULL)");
    pg_ok(pg, "CREATE TABLE \"vetSpecialties\" (id uuid PRIMARY KEY, \"vetId\" uuid, "
              "\"specialtyId\" varchar(80))");
    /* Owners: Alice with 50 pets (p00..p49, every even one wearing a collar), Bob with none,
     * Carol with 2; one stray pet with no owner. */
    pg_ok(pg, "INSERT INTO owner VALUES ('00000000-0000-4000-8000-00000000000a', 'Alice', "
              "'Anytown', NULL), ('00000000-0000-4000-8000-00000000000b', 'Bob', 'Anytown', "
              "NULL), ('00000000-0000-4000-8000-00000000000c', 'Carol', 'Elsewhere', '555')");
    pg_ok(pg, "INSERT INTO pet SELECT ('00000000-0000-4000-8000-0000000001' || lpad(i::text, 2, "
              "'0'))::uuid, 'p' || lpad(i::text, 2, '0'), DATE '2020-01-01' + i, "
              "'00000000-0000-4000-8000-00000000000a' FROM generate_series(0, 49) i");
    pg_ok(pg, "INSERT INTO pet VALUES ('00000000-0000-4000-8000-000000000201', 'Zed', "
              "'2019-05-05', '00000000-0000-4000-8000-00000000000c'), "
              "('00000000-0000-4000-8000-000000000202', 'Amy', '2018-03-03', "
              "'00000000-0000-4000-8000-00000000000c'), ('00000000-0000-4000-8000-000000000299', "
              "'Stray', '2017-01-01', NULL)");
    pg_ok(pg, "INSERT INTO collar SELECT gen_random_uuid(), CASE WHEN i % 4 = 0 THEN 'red' ELSE "
              "'blue' END, ('00000000-0000-4000-8000-0000000001' || lpad(i::text, 2, "
              "'0'))::uuid FROM generate_series(0, 49, 2) i");
    pg_ok(pg, "INSERT INTO specialty VALUES ('Cats'), ('Dogs'), ('Exotic')");
    pg_ok(pg, "INSERT INTO vet VALUES ('00000000-0000-4000-8000-0000000000e1', 'Carlos'), "
              "('00000000-0000-4000-8000-0000000000e2', 'Jane'), "
              "('00000000-0000-4000-8000-0000000000e3', 'Nobody')");
    /* Carlos: Dogs, Cats, and Dogs again (a duplicate link row); Jane: Exotic. */
    pg_ok(pg, "INSERT INTO \"vetSpecialties\" VALUES (gen_random_uuid(), "
              "'00000000-0000-4000-8000-0000000000e1', 'Dogs'), (gen_random_uuid(), "
              "'00000000-0000-4000-8000-0000000000e1', 'Cats'), (gen_random_uuid(), "
              "'00000000-0000-4000-8000-0000000000e1', 'Dogs'), (gen_random_uuid(), "
              "'00000000-0000-4000-8000-0000000000e2', 'Exotic')");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, NULL);
    return 0;
}

static uint64_t round_trips(void)
{
    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    return s.round_trips;
}

static void test_has_many(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *owners;
    size_t n;
    dsql_result *res;
    uint64_t before = round_trips();
    assert_dsql_ok(dsql_find_all(pool, &owner_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name")),
                                               DSQL_INCLUDES({.assoc = &owner_pets,
                                                              DSQL_ORDER_BY(DSQL_ASC("name"))})},
                                 &owners, &n, &res, &err),
                   err);
    assert_int_equal(round_trips() - before, 1);
    assert_int_equal(n, 3); /* parents merged: 50 + 1 + 2 joined rows */
    assert_string_equal(owners[0].name, "Alice");
    assert_int_equal(owners[0].n_pets, 50);
    for (int i = 0; i < 50; i++) {
        char want[16];
        snprintf(want, sizeof want, "p%02d", i);
        assert_string_equal(owners[0].pets[i].name, want);
        assert_string_equal(owners[0].pets[i].owner_id.str, owners[0].id.str);
        assert_null(owners[0].pets[i].collar); /* not included */
    }
    assert_string_equal(owners[1].name, "Bob"); /* LEFT JOIN: present, no pets */
    assert_int_equal(owners[1].n_pets, 0);
    assert_null(owners[1].pets);
    assert_string_equal(owners[2].name, "Carol");
    assert_int_equal(owners[2].n_pets, 2);
    assert_string_equal(owners[2].pets[0].name, "Amy");
    assert_string_equal(owners[2].pets[1].name, "Zed");
    assert_string_equal(owners[2].telephone, "555");
    dsql_result_free(res);
}

static void test_order_desc_and_top_level_assoc_order(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *o;
    dsql_result *res;
    assert_dsql_ok(dsql_find_one(pool, &owner_model,
                                 &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Carol")),
                                               .order = (const dsql_order[]){{.attr = "birthDate",
                                                                              .assoc = &owner_pets,
                                                                              .desc = true}},
                                               .n_order = 1,
                                               DSQL_INCLUDES({.assoc = &owner_pets})},
                                 &o, &res, &err),
                   err);
    assert_int_equal(o->n_pets, 2);
    assert_string_equal(o->pets[0].name, "Zed"); /* born 2019, after Amy (2018) */
    assert_string_equal(o->pets[1].name, "Amy");
    dsql_result_free(res);
}

/* The limit applies to parents, not joined rows: 2 owners with all their pets. */
static void test_limit_parents(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *owners;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(dsql_find_all(pool, &owner_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name")), .limit = 2,
                                               DSQL_INCLUDES({.assoc = &owner_pets})},
                                 &owners, &n, &res, &err),
                   err);
    assert_int_equal(n, 2);
    assert_string_equal(owners[0].name, "Alice");
    assert_int_equal(owners[0].n_pets, 50);
    assert_string_equal(owners[1].name, "Bob");
    dsql_result_free(res);
    assert_dsql_ok(dsql_find_all(pool, &owner_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name")), .limit = 5,
                                               .offset = 2, DSQL_INCLUDES({.assoc = &owner_pets})},
                                 &owners, &n, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_string_equal(owners[0].name, "Carol");
    assert_int_equal(owners[0].n_pets, 2);
    dsql_result_free(res);
    /* find_one with a to-many include: the first parent, whole. */
    owner *one;
    assert_dsql_ok(dsql_find_one(pool, &owner_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name")),
                                               DSQL_INCLUDES({.assoc = &owner_pets})},
                                 &one, &res, &err),
                   err);
    assert_string_equal(one->name, "Alice");
    assert_int_equal(one->n_pets, 50);
    dsql_result_free(res);
}

/* Nested: owner -> pets -> collar (has-one), with a where on the nested include. */
static void test_nested(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *o;
    dsql_result *res;
    uint64_t before = round_trips();
    assert_dsql_ok(
        dsql_find_by_pk(pool, &owner_model, DSQL_STR("00000000-0000-4000-8000-00000000000a"),
                        &(dsql_query){DSQL_INCLUDES(
                            {.assoc = &owner_pets,
                             DSQL_ORDER_BY(DSQL_ASC("name")),
                             DSQL_INCLUDES({.assoc = &pet_collar,
                                            .where = DSQL_EQ("color", DSQL_STR("red"))})})},
                        &o, &res, &err),
        err);
    assert_int_equal(round_trips() - before, 1);
    assert_int_equal(o->n_pets, 50);
    int red = 0;
    for (int i = 0; i < 50; i++) {
        if (i % 4 == 0) {
            assert_non_null(o->pets[i].collar);
            assert_string_equal(o->pets[i].collar->color, "red");
            assert_string_equal(o->pets[i].collar->pet_id.str, o->pets[i].id.str);
            red++;
        } else {
            assert_null(o->pets[i].collar); /* blue ones filtered out, odd ones have none */
        }
    }
    assert_int_equal(red, 13);
    dsql_result_free(res);

    /* The same with the nested include required: pets without a red collar are dropped,
     * owners are kept (the nested INNER JOIN stays inside the pets join). */
    owner *owners;
    size_t n;
    assert_dsql_ok(
        dsql_find_all(
            pool, &owner_model,
            &(dsql_query){
                DSQL_ORDER_BY(DSQL_ASC("name")),
                DSQL_INCLUDES({.assoc = &owner_pets,
                               DSQL_INCLUDES({.assoc = &pet_collar,
                                              .required = true,
                                              .where = DSQL_EQ("color", DSQL_STR("red"))})})},
            &owners, &n, &res, &err),
        err);
    assert_int_equal(n, 3);
    assert_int_equal(owners[0].n_pets, 13);
    assert_int_equal(owners[1].n_pets, 0);
    assert_int_equal(owners[2].n_pets, 0);
    dsql_result_free(res);
}

/* Required: parents without a match are dropped, and a limit counts only kept parents. */
static void test_required(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *owners;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(
        dsql_find_all(pool, &owner_model,
                      &(dsql_query){DSQL_ORDER_BY(DSQL_DESC("name")), .limit = 1,
                                    DSQL_INCLUDES({.assoc = &owner_pets,
                                                   .required = true,
                                                   .where = DSQL_LIKE("name", DSQL_STR("p4%"))})},
                      &owners, &n, &res, &err),
        err);
    assert_int_equal(n, 1);
    assert_string_equal(owners[0].name, "Alice"); /* Carol and Bob have no p4x pets */
    assert_int_equal(owners[0].n_pets, 10);
    dsql_result_free(res);
}

/* Belongs-to with a NULL foreign key: the pointer stays NULL. */
static void test_belongs_to(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    pet *pets;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(dsql_find_all(pool, &pet_model,
                                 &(dsql_query){.where = DSQL_IN("name", DSQL_STR("Stray"),
                                                                DSQL_STR("Zed"), DSQL_STR("p07")),
                                               DSQL_ORDER_BY(DSQL_ASC("name")),
                                               DSQL_INCLUDES({.assoc = &pet_owner})},
                                 &pets, &n, &res, &err),
                   err);
    assert_int_equal(n, 3);
    assert_string_equal(pets[0].name, "Stray");
    assert_null(pets[0].owner);
    assert_string_equal(pets[0].owner_id.str, "");
    assert_string_equal(pets[1].name, "Zed");
    assert_string_equal(pets[1].owner->name, "Carol");
    assert_string_equal(pets[2].name, "p07");
    assert_string_equal(pets[2].owner->name, "Alice");
    dsql_result_free(res);
}

/* Belongs-to-many through the join model; the duplicate link row makes no duplicate. */
static void test_belongs_to_many(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    vet *vets;
    size_t n;
    dsql_result *res;
    uint64_t before = round_trips();
    assert_dsql_ok(dsql_find_all(pool, &vet_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("name")),
                                               DSQL_INCLUDES({.assoc = &vet_specialties,
                                                              DSQL_ORDER_BY(DSQL_ASC("id"))})},
                                 &vets, &n, &res, &err),
                   err);
    assert_int_equal(round_trips() - before, 1);
    assert_int_equal(n, 3);
    assert_string_equal(vets[0].name, "Carlos");
    assert_int_equal(vets[0].n_specialties, 2);
    assert_string_equal(vets[0].specialties[0].id, "Cats");
    assert_string_equal(vets[0].specialties[1].id, "Dogs");
    assert_string_equal(vets[1].name, "Jane");
    assert_int_equal(vets[1].n_specialties, 1);
    assert_string_equal(vets[1].specialties[0].id, "Exotic");
    assert_string_equal(vets[2].name, "Nobody");
    assert_int_equal(vets[2].n_specialties, 0);
    dsql_result_free(res);
    /* The seed's read: one vet by key, its specialties ordered by name (descending here). */
    vet *v;
    assert_dsql_ok(dsql_find_by_pk(pool, &vet_model,
                                   DSQL_STR("00000000-0000-4000-8000-0000000000e1"),
                                   &(dsql_query){DSQL_INCLUDES({.assoc = &vet_specialties,
                                                                DSQL_ORDER_BY(DSQL_DESC("id"))})},
                                   &v, &res, &err),
                   err);
    assert_int_equal(v->n_specialties, 2);
    assert_string_equal(v->specialties[0].id, "Dogs");
    assert_string_equal(v->specialties[1].id, "Cats");
    dsql_result_free(res);
}

/* Two to-many includes side by side multiply rows; neither side gets duplicates. */
static const dsql_assoc owner_pets_again = DSQL_ASSOC_HAS_MANY(
    owner, pets, n_pets, .source = &owner_model, .target = &pet_model, .foreign_key = "ownerId");

static void test_duplicate_join_rows(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    pet *pets;
    size_t n;
    dsql_result *res;
    /* pet -> owner -> pets: each of Carol's pets sees both of Carol's pets once. */
    assert_dsql_ok(
        dsql_find_all(
            pool, &pet_model,
            &(dsql_query){.where = DSQL_IN("name", DSQL_STR("Amy"), DSQL_STR("Zed")),
                          DSQL_ORDER_BY(DSQL_ASC("name")),
                          DSQL_INCLUDES({.assoc = &pet_owner,
                                         DSQL_INCLUDES({.assoc = &owner_pets_again,
                                                        DSQL_ORDER_BY(DSQL_ASC("name"))})},
                                        {.assoc = &pet_collar})},
            &pets, &n, &res, &err),
        err);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(pets[i].owner);
        assert_int_equal(pets[i].owner->n_pets, 2);
        assert_string_equal(pets[i].owner->pets[0].name, "Amy");
        assert_string_equal(pets[i].owner->pets[1].name, "Zed");
        assert_null(pets[i].collar);
    }
    dsql_result_free(res);
}

static int include_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    size_t *n_pets = ctx;
    owner *o;
    dsql_result *res;
    int rc = dsql_find_one(conn, &owner_model,
                           &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Alice")),
                                         DSQL_INCLUDES({.assoc = &owner_pets})},
                           &o, &res, err);
    if (rc)
        return rc;
    *n_pets = o->n_pets;
    dsql_result_free(res);
    return DSQL_OK;
}

static void test_includes_in_transaction(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    size_t n_pets = 0;
    assert_dsql_ok(dsql_transaction(pool, include_tx, &n_pets, NULL, NULL, &err), err);
    assert_int_equal(n_pets, 50);
}

/* An include's attribute list: its key and the key tying it to the parent come along. */
static void test_include_attributes(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner *o;
    dsql_result *res;
    assert_dsql_ok(dsql_find_one(pool, &owner_model,
                                 &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Carol")),
                                               .read_only = true,
                                               DSQL_INCLUDES({.assoc = &owner_pets,
                                                              DSQL_ATTRIBUTES("name"),
                                                              DSQL_ORDER_BY(DSQL_ASC("name"))})},
                                 &o, &res, &err),
                   err);
    assert_int_equal(o->n_pets, 2);
    assert_string_equal(o->pets[0].name, "Amy");
    assert_string_equal(o->pets[0].id.str, "00000000-0000-4000-8000-000000000202");
    assert_string_equal(o->pets[0].owner_id.str, o->id.str);
    assert_null(o->pets[0].birth_date); /* not selected */
    assert_string_equal(o->city, "Elsewhere");
    dsql_result_free(res);
    /* Without read_only (pet rows cannot tell what they lack), and an unknown name. */
    assert_int_equal(
        dsql_find_one(pool, &owner_model,
                      &(dsql_query){DSQL_INCLUDES({.assoc = &owner_pets, DSQL_ATTRIBUTES("name")})},
                      &o, &res, &err),
        DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_find_one: include pets: an attribute list gives pet rows that lack the other "
        "attributes, and they cannot tell dsql_save which: declare "
        "DSQL_ROW_STATE in model pet, or set the query's read_only");
    assert_int_equal(
        dsql_find_one(pool, &owner_model,
                      &(dsql_query){.read_only = true,
                                    DSQL_INCLUDES({.assoc = &owner_pets, DSQL_ATTRIBUTES("nmae")})},
                      &o, &res, &err),
        DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_find_one: include pets: attributes: model pet has no attribute \"nmae\"");
}

/* countX / hasX: one statement each. */
static void test_count_and_has_associated(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    owner alice = {0}, bob = {0};
    strcpy(alice.id.str, "00000000-0000-4000-8000-00000000000a");
    strcpy(bob.id.str, "00000000-0000-4000-8000-00000000000b");
    int64_t count = -1;
    uint64_t before = round_trips();
    assert_dsql_ok(dsql_count_associated(pool, &owner_pets, &alice, NULL, &count, &err), err);
    assert_int_equal(count, 50);
    assert_int_equal(round_trips() - before, 1);
    assert_dsql_ok(dsql_count_associated(pool, &owner_pets, &alice,
                                         DSQL_LIKE("name", DSQL_STR("p1%")), &count, &err),
                   err);
    assert_int_equal(count, 10);
    assert_dsql_ok(dsql_count_associated(pool, &owner_pets, &bob, NULL, &count, &err), err);
    assert_int_equal(count, 0);
    /* belongs-to-many counts join rows' targets: Carlos has Dogs twice. */
    vet carlos = {0};
    strcpy(carlos.id.str, "00000000-0000-4000-8000-0000000000e1");
    assert_dsql_ok(dsql_count_associated(pool, &vet_specialties, &carlos, NULL, &count, &err), err);
    assert_int_equal(count, 3);
    /* belongs-to with a NULL key: 0, no round trip. */
    pet stray = {0};
    before = round_trips();
    assert_dsql_ok(dsql_count_associated(pool, &pet_owner, &stray, NULL, &count, &err), err);
    assert_int_equal(count, 0);
    assert_int_equal(round_trips() - before, 0);

    specialty dogs = {.id = "Dogs"}, cats = {.id = "Cats"}, exotic = {.id = "Exotic"};
    bool has = false;
    assert_dsql_ok(dsql_has_associated(pool, &vet_specialties, &carlos,
                                       (const void *[]){&dogs, &cats, &dogs}, 3, &has, &err),
                   err);
    assert_true(has);
    assert_dsql_ok(dsql_has_associated(pool, &vet_specialties, &carlos,
                                       (const void *[]){&dogs, &exotic}, 2, &has, &err),
                   err);
    assert_false(has);
    pet p00 = {0}, amy = {0};
    strcpy(p00.id.str, "00000000-0000-4000-8000-000000000100");
    strcpy(amy.id.str, "00000000-0000-4000-8000-000000000202");
    assert_dsql_ok(
        dsql_has_associated(pool, &owner_pets, &alice, (const void *[]){&p00}, 1, &has, &err), err);
    assert_true(has);
    assert_dsql_ok(
        dsql_has_associated(pool, &owner_pets, &alice, (const void *[]){&amy}, 1, &has, &err), err);
    assert_false(has);
    pet unsaved = {0};
    assert_int_equal(
        dsql_has_associated(pool, &owner_pets, &alice, (const void *[]){&unsaved}, 1, &has, &err),
        DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_has_associated: association pets: target 0 has no key "
                                     "(save it first)");
    owner unsaved_owner = {0};
    assert_int_equal(dsql_count_associated(pool, &owner_pets, &unsaved_owner, NULL, &count, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_count_associated: association pets: the source owner "
                                     "has no id (save it first)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_many),
        cmocka_unit_test(test_order_desc_and_top_level_assoc_order),
        cmocka_unit_test(test_limit_parents),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_belongs_to),
        cmocka_unit_test(test_belongs_to_many),
        cmocka_unit_test(test_duplicate_join_rows),
        cmocka_unit_test(test_includes_in_transaction),
        cmocka_unit_test(test_include_attributes),
        cmocka_unit_test(test_count_and_has_associated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
