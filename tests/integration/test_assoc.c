/*
 * Association operations against the throwaway PostgreSQL: lazy getters of every kind,
 * setters (set / add / remove) of every kind with exact resulting rows, one round trip
 * per setter (pool counters), atomicity inside a caller's transaction, and bad input
 * (clear errors, nothing sent, nothing written).
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB "dsql_t_assoc"

static log_capture logs;
static dsql_pool *pool;
static PGconn *pg;

/* Fixed keys, so expected rows can be written down. */
#define CARLOS  "0a000000-0000-4000-8000-000000000001"
#define JANE    "0a000000-0000-4000-8000-000000000002"
#define JOHN    "0b000000-0000-4000-8000-000000000001"
#define MARY    "0b000000-0000-4000-8000-000000000002"
#define PET1    "0c000000-0000-4000-8000-000000000001"
#define PET2    "0c000000-0000-4000-8000-000000000002"
#define PET3    "0c000000-0000-4000-8000-000000000003"
#define PET4    "0c000000-0000-4000-8000-000000000004"
#define COLLAR1 "0d000000-0000-4000-8000-000000000001"
#define COLLAR2 "0d000000-0000-4000-8000-000000000002"

static vet carlos = {.id = {CARLOS}, .name = "Carlos Salazar"};
static vet jane = {.id = {JANE}, .name = "Jane Doe"};
static specialty exotic = {.id = "Exotic"}, cats = {.id = "Cats"}, dogs = {.id = "Dogs"};
static owner john = {.id = {JOHN}, .name = "John Doe", .city = "Anytown"};
static owner mary = {.id = {MARY}, .name = "Mary Major", .city = "Anytown"};
static pet pet1 = {.id = {PET1}, .name = "Pet1", .birth_date = "2006-10-25"};
static pet pet2 = {.id = {PET2}, .name = "Pet2", .birth_date = "2021-07-23"};
static pet pet3 = {.id = {PET3}, .name = "Pet3", .birth_date = "2019-01-02"};
static pet pet4 = {.id = {PET4}, .name = "Pet4", .birth_date = "2018-03-04"};
static collar collar1 = {.id = {COLLAR1}, .color = "red"};
static collar collar2 = {.id = {COLLAR2}, .color = "blue"};

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, &logs);
    pc_sync_clinic(pool);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, &logs);
    return 0;
}

/* Fresh rows: two vets, three specialties, two owners, four pets (Pet4 is Mary's), two
 * collars; no links otherwise. */
static void reset_rows(void)
{
    pc_delete_rows(pg);
    pg_ok(pg, "INSERT INTO vet VALUES ('" CARLOS "', 'Carlos Salazar'), ('" JANE "', 'Jane Doe')");
    pg_ok(pg, "INSERT INTO specialty VALUES ('Exotic'), ('Cats'), ('Dogs')");
    pg_ok(pg, "INSERT INTO owner VALUES ('" JOHN "', 'John Doe', 'Anytown', NULL), ('" MARY
              "', 'Mary Major', 'Anytown', '555-0100')");
    pg_ok(pg, "INSERT INTO pet VALUES ('" PET1 "', 'Pet1', '2006-10-25', NULL), ('" PET2
              "', 'Pet2', '2021-07-23', NULL), ('" PET3 "', 'Pet3', '2019-01-02', NULL), ('" PET4
              "', 'Pet4', '2018-03-04', '" MARY "')");
    pg_ok(pg,
          "INSERT INTO collar VALUES ('" COLLAR1 "', 'red', NULL), ('" COLLAR2 "', 'blue', NULL)");
}

static const char *vet_links_sql(const char *vet_id)
{
    static char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT \"specialtyId\" FROM \"vetSpecialties\" WHERE \"vetId\" = '%s' ORDER BY 1",
             vet_id);
    return sql;
}

static const char *pets_sql = "SELECT name, coalesce(\"ownerId\"::text, '-') FROM pet ORDER BY 1";

static void test_belongs_to_many_setters(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;

    /* The seed: Jane gets [Exotic], Carlos [Cats, Dogs]; each set one round trip: BEGIN,
     * write to the source row, DELETE, INSERT, COMMIT in one pipeline. */
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_set_associated(pool, &vet_specialties, &jane, (const void *const[]){&exotic}, 1, &err),
        err);
    assert_sent(pool, c, 1, 5);
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos,
                                       (const void *const[]){&cats, &dogs}, 2, &err),
                   err);
    assert_sent(pool, c, 1, 5);
    assert_true(cap_has(&logs,
                        "Executing pipeline of 5 statements in one round trip: "
                        "BEGIN ISOLATION LEVEL REPEATABLE READ; "
                        "UPDATE \"vet\" SET \"name\" = \"name\" WHERE \"id\" = $1; DELETE FROM "
                        "\"vetSpecialties\" WHERE \"vetId\" = $1 AND (\"specialtyId\" IS "
                        "NULL OR \"specialtyId\" NOT IN ($2, $3)); INSERT INTO "
                        "\"vetSpecialties\" (\"id\", \"vetId\", \"specialtyId\") SELECT "
                        "v.\"id\", v.\"vetId\", v.\"specialtyId\" FROM (VALUES ($1::uuid, "
                        "$2::uuid, $3::text), ($4::uuid, $5::uuid, $6::text)) "
                        "AS v (\"id\", \"vetId\", \"specialtyId\") WHERE NOT EXISTS "
                        "(SELECT 1 FROM \"vetSpecialties\" j WHERE j.\"vetId\" = "
                        "v.\"vetId\" AND j.\"specialtyId\" = v.\"specialtyId\"); COMMIT"));
    assert_rows(pg, vet_links_sql(JANE), "Exotic\n");
    assert_rows(pg, vet_links_sql(CARLOS), "Cats\nDogs\n");
    /* Join rows have fresh client-side version-4 UUID keys. */
    assert_rows(pg,
                "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id::text ~ "
                "'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$') "
                "FROM \"vetSpecialties\"",
                "3|3|3\n");

    /* The same set again changes nothing: rows (and their keys) are kept. */
    char *before = pg_rows(pg, "SELECT id, \"specialtyId\" FROM \"vetSpecialties\" ORDER BY 1");
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos,
                                       (const void *const[]){&dogs, &cats}, 2, &err),
                   err);
    assert_rows(pg, "SELECT id, \"specialtyId\" FROM \"vetSpecialties\" ORDER BY 1", before);
    free(before);

    /* Replace: Cats goes, Exotic comes, Dogs stays (same key); a target listed twice is
     * linked once. */
    char *dogs_id = pg_rows(pg, "SELECT id FROM \"vetSpecialties\" WHERE \"vetId\" = '" CARLOS
                                "' AND \"specialtyId\" = 'Dogs'");
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos,
                                       (const void *const[]){&dogs, &exotic, &dogs}, 3, &err),
                   err);
    assert_sent(pool, c, 1, 5);
    assert_rows(pg, vet_links_sql(CARLOS), "Dogs\nExotic\n");
    assert_rows(pg,
                "SELECT id FROM \"vetSpecialties\" WHERE \"vetId\" = '" CARLOS
                "' AND \"specialtyId\" = 'Dogs'",
                dogs_id);
    free(dogs_id);

    /* Add: existing links kept, no duplicates. BEGIN, touch, INSERT, COMMIT. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_add_associated(pool, &vet_specialties, &carlos,
                                       (const void *const[]){&cats, &dogs}, 2, &err),
                   err);
    assert_sent(pool, c, 1, 4);
    assert_rows(pg, vet_links_sql(CARLOS), "Cats\nDogs\nExotic\n");

    /* Remove: BEGIN, touch, DELETE, COMMIT. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_remove_associated(pool, &vet_specialties, &carlos,
                                          (const void *const[]){&exotic, &cats}, 2, &err),
                   err);
    assert_sent(pool, c, 1, 4);
    assert_rows(pg, vet_links_sql(CARLOS), "Dogs\n");
    /* Removing nothing sends nothing. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_remove_associated(pool, &vet_specialties, &carlos, NULL, 0, &err), err);
    assert_sent(pool, c, 0, 0);

    /* Set to nothing: BEGIN, touch, DELETE, COMMIT. Jane is untouched throughout. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos, NULL, 0, &err), err);
    assert_sent(pool, c, 1, 4);
    assert_rows(pg, vet_links_sql(CARLOS), "");
    assert_rows(pg, vet_links_sql(JANE), "Exotic\n");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM \"vetSpecialties\""), 1);

    /* On a connection of its own (autocommit), the same: one round trip, five statements
     * (the connection's own counters). */
    dsql_conn *conn;
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    dsql_conn_stats cs0, cs1;
    dsql_conn_get_stats(conn, &cs0);
    assert_dsql_ok(dsql_set_associated(conn, &vet_specialties, &carlos,
                                       (const void *const[]){&exotic, &dogs}, 2, &err),
                   err);
    dsql_conn_get_stats(conn, &cs1);
    assert_int_equal(cs1.round_trips - cs0.round_trips, 1);
    assert_int_equal(cs1.statements - cs0.statements, 5);
    dsql_pool_release(pool, conn);
    assert_rows(pg, vet_links_sql(CARLOS), "Dogs\nExotic\n");
}

static void test_has_many_setters(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_set_associated(pool, &owner_pets, &john, (const void *const[]){&pet1, &pet2}, 2, &err),
        err);
    /* BEGIN, touch, UPDATE (unlink the others), UPDATE (link these), COMMIT */
    assert_sent(pool, c, 1, 5);
    assert_rows(pg, pets_sql, "Pet1|" JOHN "\nPet2|" JOHN "\nPet3|-\nPet4|" MARY "\n");

    assert_dsql_ok(
        dsql_set_associated(pool, &owner_pets, &john, (const void *const[]){&pet3}, 1, &err), err);
    assert_rows(pg, pets_sql, "Pet1|-\nPet2|-\nPet3|" JOHN "\nPet4|" MARY "\n");

    c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_add_associated(pool, &owner_pets, &john, (const void *const[]){&pet1}, 1, &err), err);
    assert_sent(pool, c, 1, 4);
    assert_rows(pg, pets_sql, "Pet1|" JOHN "\nPet2|-\nPet3|" JOHN "\nPet4|" MARY "\n");

    /* Removing a pet that is not John's leaves it alone. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_remove_associated(pool, &owner_pets, &john,
                                          (const void *const[]){&pet3, &pet4}, 2, &err),
                   err);
    assert_sent(pool, c, 1, 4);
    assert_rows(pg, pets_sql, "Pet1|" JOHN "\nPet2|-\nPet3|-\nPet4|" MARY "\n");

    /* Adding Mary's pet moves it (a pet has one owner). */
    assert_dsql_ok(
        dsql_add_associated(pool, &owner_pets, &john, (const void *const[]){&pet4}, 1, &err), err);
    assert_rows(pg, pets_sql, "Pet1|" JOHN "\nPet2|-\nPet3|-\nPet4|" JOHN "\n");

    assert_dsql_ok(dsql_set_associated(pool, &owner_pets, &john, NULL, 0, &err), err);
    assert_rows(pg, pets_sql, "Pet1|-\nPet2|-\nPet3|-\nPet4|-\n");
}

static const char *collars_sql =
    "SELECT color, coalesce(\"petId\"::text, '-') FROM collar ORDER BY 1";

static void test_to_one_setters(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;

    /* has-one */
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_set_associated(pool, &pet_collar, &pet1, (const void *const[]){&collar1}, 1, &err),
        err);
    assert_sent(pool, c, 1, 5);
    assert_rows(pg, collars_sql, "blue|-\nred|" PET1 "\n");
    assert_dsql_ok(
        dsql_set_associated(pool, &pet_collar, &pet1, (const void *const[]){&collar2}, 1, &err),
        err);
    assert_rows(pg, collars_sql, "blue|" PET1 "\nred|-\n");
    assert_dsql_ok(dsql_set_associated(pool, &pet_collar, &pet1, NULL, 0, &err), err);
    assert_rows(pg, collars_sql, "blue|-\nred|-\n");

    /* belongs-to: one UPDATE of the source row, in one round trip. */
    c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_set_associated(pool, &pet_owner, &pet2, (const void *const[]){&mary}, 1, &err), err);
    assert_sent(pool, c, 1, 3);
    assert_rows(pg, pets_sql, "Pet1|-\nPet2|" MARY "\nPet3|-\nPet4|" MARY "\n");
    assert_dsql_ok(dsql_set_associated(pool, &pet_owner, &pet2, NULL, 0, &err), err);
    assert_rows(pg, pets_sql, "Pet1|-\nPet2|-\nPet3|-\nPet4|" MARY "\n");
}

/* Setters join the caller's transaction when given its connection: rolled back with it. */
static int set_then_fail(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    int rc = dsql_set_associated(conn, &vet_specialties, &carlos,
                                 (const void *const[]){&cats, &exotic}, 2, err);
    if (rc)
        return rc;
    return dsql_error_set(err, DSQL_EINVAL, "dsql_transaction: changed my mind");
}

static int set_then_commit(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    int rc = dsql_set_associated(conn, &vet_specialties, &carlos,
                                 (const void *const[]){&cats, &exotic}, 2, err);
    if (!rc)
        rc = dsql_add_associated(conn, &owner_pets, &john, (const void *const[]){&pet2}, 1, err);
    return rc;
}

static void test_inside_transaction(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, set_then_fail, NULL, NULL, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_transaction: changed my mind");
    assert_rows(pg, vet_links_sql(CARLOS), "");
    assert_dsql_ok(dsql_transaction(pool, set_then_commit, NULL, NULL, NULL, &err), err);
    assert_rows(pg, vet_links_sql(CARLOS), "Cats\nExotic\n");
    assert_rows(pg, pets_sql, "Pet1|-\nPet2|" JOHN "\nPet3|-\nPet4|" MARY "\n");
}

/* A statement failing on the server (here the INSERT: a key longer than the column)
 * rolls back the whole set: the DELETE sent before it in the pipeline is undone. */
static void test_server_failure_rolls_back(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos,
                                       (const void *const[]){&cats, &dogs}, 2, &err),
                   err);
    char *before = pg_rows(pg, "SELECT id, \"vetId\", \"specialtyId\" FROM \"vetSpecialties\"");
    char long_name[100];
    memset(long_name, 'x', 81);
    long_name[81] = '\0';
    specialty too_long = {.id = long_name};
    assert_int_equal(dsql_set_associated(pool, &vet_specialties, &carlos,
                                         (const void *const[]){&too_long}, 1, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "22001");
    assert_non_null(strstr(err.message, "dsql_set_associated: association specialties"));
    assert_rows(pg, "SELECT id, \"vetId\", \"specialtyId\" FROM \"vetSpecialties\"", before);
    free(before);
}

/* ---- the seed's relationship flow, with the lazy getters ---- */

static void clear_rows(void)
{
    pc_delete_rows(pg);
}

static void test_seed_flow(void **state)
{
    (void)state;
    clear_rows();
    dsql_error err = DSQL_ERROR_INIT;

    /* Two owners and their pets. */
    owner o1 = {.name = "John Doe", .city = "Anytown"};
    owner o2 = {.name = "Mary Major", .city = "Anytown", .telephone = "555-555-0123"};
    assert_dsql_ok(dsql_create(pool, &owner_model, &o1, NULL, &err), err);
    assert_dsql_ok(dsql_create(pool, &owner_model, &o2, NULL, &err), err);
    pet p1 = {.name = "Pet1", .birth_date = "2006-10-25", .owner_id = o1.id};
    pet p2 = {.name = "Pet2", .birth_date = "2021-07-23", .owner_id = o2.id};
    assert_dsql_ok(dsql_create(pool, &pet_model, &p1, NULL, &err), err);
    assert_dsql_ok(dsql_create(pool, &pet_model, &p2, NULL, &err), err);

    /* Find Pet1 by name, then its owner through the association. */
    pet *found;
    dsql_result *res;
    assert_dsql_ok(dsql_find_one(pool, &pet_model,
                                 &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1"))}, &found,
                                 &res, &err),
                   err);
    assert_string_equal(found->id.str, p1.id.str);
    assert_string_equal(found->birth_date, "2006-10-25");
    assert_string_equal(found->owner_id.str, o1.id.str);
    owner *own;
    size_t n;
    dsql_result *res2;
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_get_associated(pool, &pet_owner, found, NULL, &own, &n, &res2, &err), err);
    assert_sent(pool, c, 1, 1);
    assert_int_equal(n, 1);
    assert_string_equal(own->id.str, o1.id.str);
    assert_string_equal(own->name, "John Doe");
    assert_string_equal(own->city, "Anytown");
    assert_null(own->telephone);
    dsql_result_free(res2);
    dsql_result_free(res);

    /* has-many, lazily: Mary's pets. */
    pet *pets;
    assert_dsql_ok(dsql_get_associated(pool, &owner_pets, &o2, NULL, &pets, &n, &res, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(pets[0].name, "Pet2");
    assert_string_equal(pets[0].birth_date, "2021-07-23");
    dsql_result_free(res);

    /* Three specialties in one bulk insert; two vets. */
    specialty sp[3] = {{.id = "Exotic"}, {.id = "Cats"}, {.id = "Dogs"}};
    assert_dsql_ok(dsql_bulk_create(pool, &specialty_model, sp, 3, NULL, NULL, &err), err);
    vet v1 = {.name = "Akua Mansa"}, v2 = {.name = "Carlos Salazar"};
    assert_dsql_ok(dsql_create(pool, &vet_model, &v1, NULL, &err), err);
    assert_dsql_ok(dsql_create(pool, &vet_model, &v2, NULL, &err), err);

    /* Their specialties: one round trip each. */
    c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_set_associated(pool, &vet_specialties, &v1, (const void *const[]){&sp[0]}, 1, &err),
        err);
    assert_sent(pool, c, 1, 5);
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &v2,
                                       (const void *const[]){&sp[1], &sp[2]}, 2, &err),
                   err);
    assert_sent(pool, c, 1, 5);

    /* Each vet with its specialties included (the second ordered by name). */
    vet *v;
    assert_dsql_ok(dsql_find_one(pool, &vet_model,
                                 &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Akua Mansa")),
                                               DSQL_INCLUDES({.assoc = &vet_specialties})},
                                 &v, &res, &err),
                   err);
    assert_string_equal(v->id.str, v1.id.str);
    assert_int_equal(v->n_specialties, 1);
    assert_string_equal(v->specialties[0].id, "Exotic");
    dsql_result_free(res);
    assert_dsql_ok(
        dsql_find_one(pool, &vet_model,
                      &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Carlos Salazar")),
                                    DSQL_INCLUDES({.assoc = &vet_specialties}),
                                    DSQL_ORDER_BY({.attr = "id", .assoc = &vet_specialties})},
                      &v, &res, &err),
        err);
    assert_int_equal(v->n_specialties, 2);
    assert_string_equal(v->specialties[0].id, "Cats");
    assert_string_equal(v->specialties[1].id, "Dogs");
    dsql_result_free(res);

    /* The same lazily: belongs-to-many through the join model, with order, where, limit. */
    specialty *s;
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_get_associated(pool, &vet_specialties, &v2,
                                       &(dsql_query){DSQL_ORDER_BY(DSQL_DESC("id"))}, &s, &n, &res,
                                       &err),
                   err);
    assert_sent(pool, c, 1, 1);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].id, "Dogs");
    assert_string_equal(s[1].id, "Cats");
    dsql_result_free(res);
    assert_dsql_ok(dsql_get_associated(pool, &vet_specialties, &v2,
                                       &(dsql_query){.where = DSQL_NE("id", DSQL_STR("Dogs"))}, &s,
                                       &n, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].id, "Cats");
    dsql_result_free(res);
    assert_dsql_ok(
        dsql_get_associated(pool, &vet_specialties, &v2,
                            &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("id")), .limit = 1, .offset = 1},
                            &s, &n, &res, &err),
        err);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].id, "Dogs");
    dsql_result_free(res);
    assert_dsql_ok(dsql_get_associated(pool, &vet_specialties, &v1, NULL, &s, &n, &res, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].id, "Exotic");
    dsql_result_free(res);

    /* Each specialty by primary key. */
    for (size_t i = 0; i < 3; i++) {
        assert_dsql_ok(
            dsql_find_by_pk(pool, &specialty_model, DSQL_STR(sp[i].id), NULL, &s, &res, &err), err);
        assert_string_equal(s->id, sp[i].id);
        dsql_result_free(res);
    }
}

static void test_getters_edge_cases(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    void *rows;
    size_t n = 99;
    dsql_result *res;

    /* belongs-to with no foreign key: nothing, and no round trip. */
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_get_associated(pool, &pet_owner, &pet1, NULL, &rows, &n, &res, &err), err);
    assert_sent(pool, c, 0, 0);
    assert_int_equal(n, 0);
    assert_int_equal(dsql_result_rows(res), 0);
    dsql_result_free(res);

    /* has-one: 0, then 1 row. */
    assert_dsql_ok(dsql_get_associated(pool, &pet_collar, &pet1, NULL, &rows, &n, &res, &err), err);
    assert_int_equal(n, 0);
    dsql_result_free(res);
    pg_ok(pg, "UPDATE collar SET \"petId\" = '" PET1 "' WHERE color = 'red'");
    assert_dsql_ok(dsql_get_associated(pool, &pet_collar, &pet1, NULL, &rows, &n, &res, &err), err);
    assert_int_equal(n, 1);
    assert_string_equal(((collar *)rows)->id.str, COLLAR1);
    assert_string_equal(((collar *)rows)->color, "red");
    assert_string_equal(((collar *)rows)->pet_id.str, PET1);
    dsql_result_free(res);

    /* A has-many with an include of the target's own association: Mary's pets with their
     * collars. */
    pg_ok(pg, "UPDATE collar SET \"petId\" = '" PET4 "' WHERE color = 'blue'");
    assert_dsql_ok(dsql_get_associated(pool, &owner_pets, &mary,
                                       &(dsql_query){DSQL_INCLUDES({.assoc = &pet_collar})}, &rows,
                                       &n, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_string_equal(((pet *)rows)->name, "Pet4");
    assert_non_null(((pet *)rows)->collar);
    assert_string_equal(((pet *)rows)->collar->color, "blue");
    dsql_result_free(res);

    /* Bad input: nothing sent. */
    c = pool_counters_of(pool);
    vet newbie = {.name = "New"};
    assert_int_equal(
        dsql_get_associated(pool, &vet_specialties, &newbie, NULL, &rows, &n, &res, &err),
        DSQL_EINVAL);
    assert_non_null(strstr(err.message, "the source vet has no id (save it first)"));
    assert_null(res);
    assert_int_equal(n, 0);
    assert_int_equal(dsql_get_associated(pool, &vet_specialties, NULL, NULL, &rows, &n, &res, &err),
                     DSQL_EINVAL);
    assert_int_equal(dsql_get_associated(pool, NULL, &carlos, NULL, &rows, &n, &res, &err),
                     DSQL_EINVAL);
    assert_int_equal(
        dsql_get_associated(pool, &vet_specialties, &carlos, NULL, NULL, &n, &res, &err),
        DSQL_EINVAL);
    assert_int_equal(dsql_get_associated(pool, &vet_specialties, &carlos,
                                         &(dsql_query){.where = DSQL_EQ("colour", DSQL_STR("x"))},
                                         &rows, &n, &res, &err),
                     DSQL_EINVAL);
    assert_non_null(strstr(err.message, "colour"));
    assert_sent(pool, c, 0, 0);
}

/* ---- bad input: a clear error, nothing sent, nothing written ---- */

/* A join model without the other key. */
typedef struct vs_nokey {
    dsql_uuid id, vet_id;
} vs_nokey;
static const dsql_attr vs_nokey_attrs[] = {
    DSQL_ATTR(vs_nokey, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(vs_nokey, vet_id, "vetId", DSQL_UUID),
};
static DSQL_MODEL(vs_nokey_model, vs_nokey, "vetSpecialties", vs_nokey_attrs);

/* A join model whose key has no default: the library could not make one. */
static const dsql_attr vs_nodefault_attrs[] = {
    DSQL_ATTR(vet_specialty, id, DSQL_UUID, .primary_key = true),
    DSQL_ATTR_AS(vet_specialty, vet_id, "vetId", DSQL_UUID),
    DSQL_ATTR_AS(vet_specialty, specialty_id, "specialtyId", DSQL_STRING(80)),
};
static DSQL_MODEL(vs_nodefault_model, vet_specialty, "vetSpecialties", vs_nodefault_attrs);

/* ---- bad input ---- */

typedef enum link_op { LINK_SET, LINK_ADD, LINK_REMOVE } link_op;

/* A call of dsql_set/add/remove_associated the library refuses before sending anything. */
typedef struct bad_link {
    const char *what;
    link_op op;
    const dsql_assoc *assoc;
    const void *source;
    const void *const *targets;
    size_t n;
    int status;
    const char *message; /* the error's, exactly */
} bad_link;

#define TARGETS(...) ((const void *const[]){__VA_ARGS__})

static int link_rows(link_op op, const dsql_assoc *a, const void *source,
                     const void *const *targets, size_t n, dsql_error *err)
{
    switch (op) {
    case LINK_ADD:
        return dsql_add_associated(pool, a, source, targets, n, err);
    case LINK_REMOVE:
        return dsql_remove_associated(pool, a, source, targets, n, err);
    default:
        return dsql_set_associated(pool, a, source, targets, n, err);
    }
}

static void test_bad_input(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(
        dsql_set_associated(pool, &vet_specialties, &jane, (const void *const[]){&exotic}, 1, &err),
        err);
    char *links = pg_rows(pg, "SELECT id, \"vetId\", \"specialtyId\" FROM \"vetSpecialties\"");
    char *pets = pg_rows(pg, pets_sql);
    pool_counters c = pool_counters_of(pool);

    /* Descriptors that are not right. */
    dsql_assoc bogus = vet_specialties;
    bogus.magic = 0;
    dsql_assoc wrong = owner_pets; /* its key is not an attribute of its model */
    wrong.foreign_key = "vetId";
    dsql_assoc nokey = vet_specialties; /* a join model missing its keys */
    nokey.through = &vs_nokey_model;
    dsql_assoc nodefault = vet_specialties;
    nodefault.through = &vs_nodefault_model;
    /* Rows that are not saved, or whose keys are not keys. */
    specialty unsaved = {.id = NULL};
    pet unsaved_pet = {.name = "Nameless"};
    vet garbled = {.id = {"not-a-uuid"}, .name = "G"};
    pet garbled_pet = {.id = {"0c000000-0000-4000-8000-00000000000g"}, .name = "G"};
    vet newbie = {.name = "New"};
    const bad_link cases[] = {
        {"not an association", LINK_SET, &bogus, &carlos, NULL, 0, DSQL_EINVAL,
         .message =
             "dsql_set_associated: not an association descriptor (bad magic; declare it with "
             "DSQL_HAS_MANY, ...)"},
        {"no association", LINK_SET, NULL, &carlos, NULL, 0, DSQL_EINVAL,
         .message = "dsql_set_associated: association is NULL"},
        {"key not an attribute", LINK_ADD, &wrong, &john, TARGETS(&pet1), 1, DSQL_EINVAL,
         .message = "dsql_add_associated: association owner.pets (has-many): foreign key "
                    "\"vetId\" is not an attribute of model pet"},
        {"join model without a key", LINK_SET, &nokey, &carlos, TARGETS(&cats), 1, DSQL_EINVAL,
         .message = "dsql_set_associated: association vet.specialties (belongs-to-many): other "
                    "key \"specialtyId\" is not an attribute of model vs_nokey"},
        {"join key without a default", LINK_SET, &nodefault, &carlos, TARGETS(&cats), 1,
         DSQL_EINVAL,
         .message = "dsql_set_associated: join model vet_specialty: attribute id is the primary "
                    "key but has no default (.default_uuid_v4, .default_sql or a constant); only "
                    "the two keys of a join row are known"},
        /* A target not saved yet (no key): nothing of the set is written. */
        {"target not saved", LINK_SET, &vet_specialties, &jane, TARGETS(&cats, &unsaved), 2,
         DSQL_EINVAL,
         .message = "dsql_set_associated: association specialties: targets[1] (specialty) has "
                    "no id (save it first)"},
        {"to-many target not saved", LINK_ADD, &owner_pets, &john, TARGETS(&pet1, &unsaved_pet), 2,
         DSQL_EINVAL,
         .message =
             "dsql_add_associated: association pets: targets[1] (pet) has no id (save it first)"},
        {"NULL target", LINK_ADD, &owner_pets, &john, TARGETS(&pet1, NULL), 2, DSQL_EINVAL,
         .message = "dsql_add_associated: association pets: targets[1] is NULL"},
        {"NULL targets", LINK_ADD, &owner_pets, &john, NULL, 2, DSQL_EINVAL,
         .message = "dsql_add_associated: association pets: targets is NULL"},
        /* A key that is not one (a malformed UUID) is caught before anything is sent. */
        {"source key not a UUID", LINK_SET, &vet_specialties, &garbled, TARGETS(&cats), 1,
         DSQL_EVALIDATION,
         .message = "dsql_set_associated: association specialties: the source: vet.id: "
                    "\"not-a-uuid\" is not a UUID (UUID)"},
        {"target key not a UUID", LINK_SET, &owner_pets, &john, TARGETS(&pet1, &garbled_pet), 2,
         DSQL_EVALIDATION,
         .message = "dsql_set_associated: association pets: targets[1]: pet.id: "
                    "\"0c000000-0000-4000-8000-\"... is not a UUID (UUID)"},
        /* A source not saved yet. */
        {"source not saved", LINK_SET, &vet_specialties, &newbie, TARGETS(&cats), 1, DSQL_EINVAL,
         .message = "dsql_set_associated: association specialties: the source vet has no id (save "
                    "it first)"},
        {"no source", LINK_SET, &vet_specialties, NULL, NULL, 0, DSQL_EINVAL,
         .message = "dsql_set_associated: association specialties: source row is NULL"},
        /* To-one associations: 0 or 1 target, set only. */
        {"to-one, two targets", LINK_SET, &pet_owner, &pet1, TARGETS(&john, &mary), 2, DSQL_EINVAL,
         .message = "dsql_set_associated: association owner is to-one: 2 targets given, at most 1"},
        {"to-one add", LINK_ADD, &pet_collar, &pet1, TARGETS(&collar1), 1, DSQL_EINVAL,
         .message = "dsql_add_associated: association collar is to-one; use dsql_set_associated "
                    "with 0 or 1 target"},
        {"to-one remove", LINK_REMOVE, &pet_owner, &pet1, TARGETS(&john), 1, DSQL_EINVAL,
         .message = "dsql_remove_associated: association owner is to-one; use dsql_set_associated "
                    "with 0 or 1 target"},
    };
    for (size_t i = 0; i < TU_LEN(cases); i++) {
        const bad_link *k = &cases[i];
        dsql_error e = DSQL_ERROR_INIT;
        int rc = link_rows(k->op, k->assoc, k->source, k->targets, k->n, &e);
        if (rc != k->status || strcmp(e.message, k->message))
            fail_msg("%s: %s \"%s\", expected %s \"%s\"", k->what, dsql_status_name(rc), e.message,
                     dsql_status_name(k->status), k->message);
    }

    /* Not a pool or a connection (which does not compile through the call's macro: the
     * parenthesized name reaches the function and its run-time check). */
    int not_a_db = 42;
    assert_int_equal((dsql_set_associated)((dsql_db *)(void *)&not_a_db, &vet_specialties, &carlos,
                                           (const void *const[]){&cats}, 1, &err),
                     DSQL_EINVAL);

    assert_sent(pool, c, 0, 0);
    assert_rows(pg, "SELECT id, \"vetId\", \"specialtyId\" FROM \"vetSpecialties\"", links);
    assert_rows(pg, pets_sql, pets);
    free(links);
    free(pets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_flow),
        cmocka_unit_test(test_getters_edge_cases),
        cmocka_unit_test(test_belongs_to_many_setters),
        cmocka_unit_test(test_has_many_setters),
        cmocka_unit_test(test_to_one_setters),
        cmocka_unit_test(test_inside_transaction),
        cmocka_unit_test(test_server_failure_rolls_back),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
