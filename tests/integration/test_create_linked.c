/*
 * dsql_create_linked against the throwaway PostgreSQL: a new row and its links in one
 * round trip (pool counters), the exact rows written for belongs-to-many, has-many and
 * has-one, duplicate targets, no targets, and failures that write nothing (validation,
 * a target without a key, belongs-to, a duplicate key, inside a caller's transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB "dsql_t_create_linked"

static log_capture logs;
static dsql_pool *pool;
static PGconn *pg;

#define JOHN    "0b000000-0000-4000-8000-000000000001"
#define PET1    "0c000000-0000-4000-8000-000000000001"
#define PET2    "0c000000-0000-4000-8000-000000000002"
#define PET3    "0c000000-0000-4000-8000-000000000003"
#define COLLAR1 "0d000000-0000-4000-8000-000000000001"

static specialty exotic = {.id = "Exotic"}, cats = {.id = "Cats"}, dogs = {.id = "Dogs"};
static pet pet1 = {.id = {PET1}, .name = "Pet1", .birth_date = "2006-10-25"};
static pet pet2 = {.id = {PET2}, .name = "Pet2", .birth_date = "2021-07-23"};
static collar collar1 = {.id = {COLLAR1}, .color = "red"};

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

static void reset_rows(void)
{
    pc_delete_rows(pg);
    pg_ok(pg, "INSERT INTO specialty VALUES ('Exotic'), ('Cats'), ('Dogs')");
    pg_ok(pg, "INSERT INTO owner VALUES ('" JOHN "', 'John Doe', 'Anytown', NULL)");
    pg_ok(pg, "INSERT INTO pet VALUES ('" PET1 "', 'Pet1', '2006-10-25', '" JOHN "'), ('" PET2
              "', 'Pet2', '2021-07-23', NULL), ('" PET3 "', 'Pet3', '2019-01-02', '" JOHN "')");
    pg_ok(pg, "INSERT INTO collar VALUES ('" COLLAR1 "', 'red', NULL)");
}

/* head || quoted id || tail: a query about one row. */
static const char *sql_for(const char *head, const char *id, const char *tail)
{
    static char sql[512];
    snprintf(sql, sizeof sql, "%s'%s'%s", head, id, tail);
    return sql;
}

static void test_belongs_to_many(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    /* A new vet with two specialties (one listed twice): BEGIN, INSERT vet, INSERT links,
     * COMMIT in one pipeline. The vet's key is generated into the struct. */
    vet v = {.name = "Carlos Salazar"};
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_create_linked(pool, &vet_specialties, &v,
                                      (const void *const[]){&dogs, &cats, &dogs}, 3, &err),
                   err);
    assert_sent(pool, c, 1, 4);
    assert_int_equal(strlen(v.id.str), 36);
    assert_rows(pg, sql_for("SELECT name FROM vet WHERE id = ", v.id.str, ""), "Carlos Salazar\n");
    assert_rows(pg,
                sql_for("SELECT \"specialtyId\" FROM \"vetSpecialties\" WHERE \"vetId\" = ",
                        v.id.str, " ORDER BY 1"),
                "Cats\nDogs\n");
    assert_rows(pg, "SELECT count(DISTINCT id), count(*) FROM \"vetSpecialties\"", "2|2\n");
    assert_true(cap_has(&logs, "Executing pipeline of 4 statements in one round trip: "
                               "BEGIN ISOLATION LEVEL REPEATABLE READ; "
                               "INSERT INTO \"vet\" (\"id\", \"name\") VALUES ($1, $2); INSERT "
                               "INTO \"vetSpecialties\" (\"id\", \"vetId\", \"specialtyId\") "
                               "SELECT v.\"id\", v.\"vetId\", v.\"specialtyId\" FROM (VALUES "
                               "($1::uuid, $2::uuid, $3::text), ($4::uuid, $5::uuid, $6::text)) "
                               "AS v (\"id\", \"vetId\", \"specialtyId\"); COMMIT"));
    /* Read back with the include: the same as after dsql_create + dsql_set_associated. */
    vet *got;
    dsql_result *res;
    assert_dsql_ok(dsql_find_by_pk(pool, &vet_model, DSQL_STR(v.id.str),
                                   &(dsql_query){DSQL_INCLUDES(
                                       {.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})},
                                   &got, &res, &err),
                   err);
    assert_int_equal(got->n_specialties, 2);
    assert_string_equal(got->specialties[0].id, "Cats");
    assert_string_equal(got->specialties[1].id, "Dogs");
    dsql_result_free(res);

    /* No targets: the row alone, still one transaction. */
    vet lone = {.name = "Jane Doe"};
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_create_linked(pool, &vet_specialties, &lone, NULL, 0, &err), err);
    assert_sent(pool, c, 1, 3);
    assert_rows(
        pg, sql_for("SELECT count(*) FROM \"vetSpecialties\" WHERE \"vetId\" = ", lone.id.str, ""),
        "0\n");
    assert_rows(pg, "SELECT count(*) FROM vet", "2\n");

    /* A key given by the caller is kept. */
    vet fixed = {.id = {"0a000000-0000-4000-8000-0000000000aa"}, .name = "Fixed"};
    assert_dsql_ok(
        dsql_create_linked(pool, &vet_specialties, &fixed, (const void *const[]){&exotic}, 1, &err),
        err);
    assert_rows(pg,
                "SELECT v.name, s.\"specialtyId\" FROM vet v JOIN \"vetSpecialties\" s ON "
                "s.\"vetId\" = v.id WHERE v.id = '0a000000-0000-4000-8000-0000000000aa'",
                "Fixed|Exotic\n");
}

static void test_has_many_and_has_one(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    /* A new owner takes Pet1 (John's) and Pet2 (nobody's); Pet3 stays John's. */
    owner mary = {.name = "Mary Major", .city = "Anytown", .telephone = "555-0100"};
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(
        dsql_create_linked(pool, &owner_pets, &mary, (const void *const[]){&pet1, &pet2}, 2, &err),
        err);
    assert_sent(pool, c, 1, 4); /* BEGIN, INSERT owner, UPDATE pets, COMMIT */
    char want[512];
    snprintf(want, sizeof want, "Pet1|%s\nPet2|%s\nPet3|%s\n", mary.id.str, mary.id.str, JOHN);
    assert_rows(pg, "SELECT name, \"ownerId\" FROM pet ORDER BY 1", want);
    assert_rows(pg, sql_for("SELECT name, city, telephone FROM owner WHERE id = ", mary.id.str, ""),
                "Mary Major|Anytown|555-0100\n");

    /* has-one: a new pet with its collar; more than one target is refused. */
    pet p = {.name = "Pet9", .birth_date = "2020-02-29"};
    assert_dsql_ok(
        dsql_create_linked(pool, &pet_collar, &p, (const void *const[]){&collar1}, 1, &err), err);
    assert_rows(pg,
                "SELECT color, \"petId\" = (SELECT id FROM pet WHERE name = 'Pet9') FROM collar",
                "red|t\n");
    pet q = {.name = "Pet10", .birth_date = "2020-03-01"};
    c = pool_counters_of(pool);
    assert_int_equal(dsql_create_linked(pool, &pet_collar, &q,
                                        (const void *const[]){&collar1, &collar1}, 2, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_create_linked: association collar is to-one: 2 "
                                     "targets given, at most 1");
    assert_sent(pool, c, 0, 0);
    assert_rows(pg, "SELECT count(*) FROM pet WHERE name = 'Pet10'", "0\n");
}

static void test_nothing_written_on_failure(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    pool_counters c = pool_counters_of(pool);
    /* Validation, before anything is sent. */
    vet too_long = {.name = "a name that is much longer than thirty characters"};
    assert_int_equal(dsql_create_linked(pool, &vet_specialties, &too_long,
                                        (const void *const[]){&cats}, 1, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create_linked: vet.name: 49 characters, longer than STRING(30)");
    /* A target without its key. */
    specialty unsaved = {.id = NULL};
    vet v = {.name = "Nobody"};
    assert_int_equal(dsql_create_linked(pool, &vet_specialties, &v,
                                        (const void *const[]){&cats, &unsaved}, 2, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_create_linked: association specialties: targets[1] "
                                     "(specialty) has no id (save it first)");
    /* belongs-to: the row holds the key itself. */
    pet p = {.name = "Pet9", .birth_date = "2020-02-29"};
    owner john = {.id = {JOHN}};
    assert_int_equal(
        dsql_create_linked(pool, &pet_owner, &p, (const void *const[]){&john}, 1, &err),
        DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_create_linked: association owner is belongs-to: the "
                                     "row holds the foreign key itself; set its ownerId and use "
                                     "dsql_create");
    assert_int_equal(dsql_create_linked(pool, NULL, &v, NULL, 0, &err), DSQL_EINVAL);
    assert_int_equal(dsql_create_linked(pool, &vet_specialties, NULL, NULL, 0, &err), DSQL_EINVAL);
    assert_sent(pool, c, 0, 0);

    /* A duplicate key fails the INSERT: the links are not written either. */
    vet first = {.name = "First"};
    assert_dsql_ok(dsql_create_linked(pool, &vet_specialties, &first, NULL, 0, &err), err);
    vet again = {.id = first.id, .name = "Again"};
    assert_int_equal(dsql_create_linked(pool, &vet_specialties, &again,
                                        (const void *const[]){&cats, &dogs}, 2, &err),
                     DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_rows(pg, "SELECT count(*) FROM \"vetSpecialties\"", "0\n");
    assert_rows(pg, "SELECT name FROM vet", "First\n");
}

/* Inside the caller's transaction: the statements join it, and its rollback undoes them. */
static int body_create_then_fail(dsql_conn *conn, void *ctx, dsql_error *err)
{
    vet *v = ctx;
    int rc = dsql_create_linked(conn, &vet_specialties, v, (const void *const[]){&exotic}, 1, err);
    if (rc)
        return rc;
    return dsql_error_set(err, DSQL_EINVAL, "the body changed its mind");
}

static int body_create(dsql_conn *conn, void *ctx, dsql_error *err)
{
    return dsql_create_linked(conn, &vet_specialties, ctx, (const void *const[]){&exotic}, 1, err);
}

static void test_in_transaction(void **state)
{
    (void)state;
    reset_rows();
    dsql_error err = DSQL_ERROR_INIT;
    vet v = {.name = "Rolled Back"};
    assert_int_equal(dsql_transaction(pool, body_create_then_fail, &v, NULL, NULL, &err),
                     DSQL_EINVAL);
    assert_rows(pg, "SELECT count(*) FROM vet", "0\n");
    assert_rows(pg, "SELECT count(*) FROM \"vetSpecialties\"", "0\n");
    vet w = {.name = "Committed"};
    assert_dsql_ok(dsql_transaction(pool, body_create, &w, NULL, NULL, &err), err);
    assert_rows(pg,
                "SELECT v.name, s.\"specialtyId\" FROM vet v JOIN \"vetSpecialties\" s ON "
                "s.\"vetId\" = v.id",
                "Committed|Exotic\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_belongs_to_many),
        cmocka_unit_test(test_has_many_and_has_one),
        cmocka_unit_test(test_nothing_written_on_failure),
        cmocka_unit_test(test_in_transaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
