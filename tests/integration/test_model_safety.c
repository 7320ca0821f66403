/*
 * The model layer never loses or invents a value:
 *  - a row read with an attribute list knows what it loaded: dsql_save writes only the
 *    loaded attributes that changed (a concurrent change to another column survives), never
 *    one it did not load, and nothing at all when nothing changed; a model without
 *    DSQL_ROW_STATE cannot get such rows unless the query is read-only;
 *  - a NULL read into a scalar member without a presence flag is an error, not 0;
 *  - find_or_create creates the row its where finds;
 *  - every date PostgreSQL stores reads back and saves unchanged;
 *  - DSQL_NUMERIC(0,0) keeps exactly what numeric(18,6) keeps, and refuses the rest;
 *  - an empty IN list matches no row;
 *  - sync rebuilds an index whose build failed.
 * On the old code the partial save wrote NULL over city and phone, the NULL read gave 0,
 * find_or_create inserted the defaults' name, and sync skipped the invalid index.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"
#include "petclinic.h"

#define DB "dsql_t_model_safety"

static dsql_pool *pool;
static PGconn *pg;

typedef struct person {
    int64_t id;
    char *name;
    char *city;
    char *phone;
    int32_t age;
    bool has_age;
    char *born;
    char *balance;
    dsql_row_state state;
} person;

static const dsql_attr person_attrs[] = {
    DSQL_ATTR(person, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(person, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(person, city, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(person, phone, DSQL_STRING(20)),
    DSQL_ATTR(person, age, DSQL_INTEGER, DSQL_HAS(person, has_age)),
    DSQL_ATTR(person, born, DSQL_DATEONLY),
    DSQL_ATTR(person, balance, DSQL_NUMERIC(0, 0)),
};
static DSQL_MODEL_WITH(person_model, person, "person", person_attrs, DSQL_ROW_STATE(person, state));
/* The same table, without row state. */
static DSQL_MODEL(plain_model, person, "person", person_attrs);

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, NULL);
    const dsql_model *m[] = {&person_model};
    dsql_error err;
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, NULL, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, NULL);
    return 0;
}

static void reset(void)
{
    pg_ok(pg, "DELETE FROM person");
    pg_ok(pg, "INSERT INTO person (id, name, city, phone, age) VALUES "
              "(1, 'Ann', 'Oslo', '555-0101', 40), (2, 'Bob', 'Rome', NULL, NULL)");
}

static void partial_find_then_save(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    person *p;
    dsql_result *res;
    assert_dsql_ok(dsql_find_by_pk(pool, &person_model, DSQL_INT(1),
                                   &(dsql_query){DSQL_ATTRIBUTES("name")}, &p, &res, &err),
                   err);
    assert_null(p->city); /* not loaded */
    /* Someone else changes the phone meanwhile. */
    pg_ok(pg, "UPDATE person SET phone = '555-9999' WHERE id = 1");
    p->name = "Anna";
    pool_counters c = pool_counters_of(pool);
    assert_dsql_ok(dsql_save(pool, &person_model, p, NULL, 0, &err), err);
    assert_sent(pool, c, 1, 1);
    char *row = NULL;
    PGresult *r = PQexec(pg, "SELECT name || '|' || city || '|' || phone || '|' || age FROM "
                             "person WHERE id = 1");
    row = PQgetvalue(r, 0, 0);
    assert_string_equal(row, "Anna|Oslo|555-9999|40"); /* only the name was written */
    PQclear(r);
    /* Nothing changed since: nothing is sent. */
    c = pool_counters_of(pool);
    assert_dsql_ok(dsql_save(pool, &person_model, p, NULL, 0, &err), err);
    assert_sent(pool, c, 0, 0);
    /* An attribute the find did not load is never written. */
    assert_int_equal(dsql_save(pool, &person_model, p, (const char *const[]){"city"}, 1, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_save: person.city was not loaded by the find that "
                                     "read this row, so the row does not hold its value; "
                                     "nothing was sent");
    assert_sent(pool, c, 0, 0);
    dsql_result_free(res);

    /* A full read: only what changed is written (here age, to NULL). */
    assert_dsql_ok(dsql_find_by_pk(pool, &person_model, DSQL_INT(1), NULL, &p, &res, &err), err);
    pg_ok(pg, "UPDATE person SET city = 'Bergen' WHERE id = 1");
    p->has_age = false;
    assert_dsql_ok(dsql_save(pool, &person_model, p, NULL, 0, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM person WHERE id = 1 AND age IS NULL AND "
                                 "city = 'Bergen'"),
                     1);
    dsql_result_free(res);

    /* A row the program builds (state zeroed) writes every attribute, as before. */
    person mine = {.id = 2, .name = "Bo", .city = "Rome"};
    assert_dsql_ok(dsql_save(pool, &person_model, &mine, NULL, 0, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM person WHERE id = 2 AND name = 'Bo' AND "
                                 "phone IS NULL"),
                     1);
}

static void partial_rows_need_row_state(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    person *p = NULL;
    dsql_result *res = NULL;
    assert_int_equal(dsql_find_all(pool, &plain_model, &(dsql_query){DSQL_ATTRIBUTES("name")}, &p,
                                   NULL, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_find_all: model person: an attribute list gives rows that lack the other "
        "attributes, and this model's rows cannot tell dsql_save which (it would "
        "write them as NULL): declare DSQL_ROW_STATE in the model, or set the "
        "query's read_only");
    size_t n = 0;
    assert_dsql_ok(dsql_find_all(pool, &plain_model,
                                 &(dsql_query){DSQL_ATTRIBUTES("name"), .read_only = true}, &p, &n,
                                 &res, &err),
                   err);
    assert_int_equal(n, 2);
    dsql_result_free(res);
    assert_int_equal(dsql_query_models(pool, &plain_model, "SELECT id, name FROM person", NULL, 0,
                                       &p, &n, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_query_models: model person: the result has no column for attribute "
                        "\"city\"; select every attribute, or declare "
                        "DSQL_ROW_STATE in the model so its rows know what they "
                        "lack");
    /* With row state, raw rows know what they lack too. */
    assert_dsql_ok(dsql_query_models(pool, &person_model,
                                     "SELECT id, name FROM person WHERE id = 2", NULL, 0, &p, &n,
                                     &res, &err),
                   err);
    p->name = "Bobby";
    assert_dsql_ok(dsql_save(pool, &person_model, p, NULL, 0, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM person WHERE id = 2 AND name = 'Bobby' "
                                 "AND city = 'Rome'"),
                     1);
    dsql_result_free(res);
}

typedef struct counter {
    int64_t id;
    int32_t n;
} counter;

static const dsql_attr counter_attrs[] = {
    DSQL_ATTR(counter, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(counter, n, DSQL_INTEGER),
};
static DSQL_MODEL(counter_model, counter, "counter", counter_attrs);

static void null_into_scalar_is_an_error(void **state)
{
    (void)state;
    pg_ok(pg, "CREATE TABLE counter (id bigint PRIMARY KEY, n int)");
    pg_ok(pg, "INSERT INTO counter VALUES (1, NULL)");
    dsql_error err;
    counter *c;
    dsql_result *res = NULL;
    assert_int_equal(dsql_find_by_pk(pool, &counter_model, DSQL_INT(1), NULL, &c, &res, &err),
                     DSQL_EPARSE);
    assert_string_equal(
        err.message, "dsql_find_by_pk: counter.n: the server sent NULL, and the INTEGER member has "
                     "no presence flag to hold it (declare DSQL_HAS(T, has_x), "
                     "or make the column NOT NULL)");
    assert_null(res);
}

static void find_or_create_creates_what_it_finds(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    person defaults = {.id = 7, .name = "placeholder", .city = "Nowhere", .phone = "0"};
    person *p;
    dsql_result *res;
    bool created = false;
    assert_dsql_ok(
        dsql_find_or_create(pool, &person_model,
                            DSQL_AND(DSQL_EQ("name", DSQL_STR("Cleo")),
                                     DSQL_EQ("age", DSQL_INT(33)), DSQL_GT("id", DSQL_INT(0))),
                            &defaults, &p, &res, &created, &err),
        err);
    assert_true(created);
    assert_string_equal(p->name, "Cleo");
    assert_true(p->has_age);
    assert_int_equal(p->age, 33);
    assert_string_equal(p->city, "Nowhere");           /* from the defaults */
    assert_string_equal(defaults.name, "placeholder"); /* the caller's struct is untouched */
    dsql_result_free(res);
    /* Found the second time, by the same where. */
    assert_dsql_ok(
        dsql_find_or_create(pool, &person_model,
                            DSQL_AND(DSQL_EQ("name", DSQL_STR("Cleo")),
                                     DSQL_EQ("age", DSQL_INT(33)), DSQL_GT("id", DSQL_INT(0))),
                            &defaults, &p, &res, &created, &err),
        err);
    assert_false(created);
    assert_int_equal(p->id, 7);
    dsql_result_free(res);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM person WHERE name = 'Cleo'"), 1);
}

/* The row created matches the where also when it says IS NULL, and when it compares a
 * BYTEA with text (the text's bytes, as the where compares them); a where value of the wrong
 * kind is the where's own error. On the old code the phone and the bytes of the created row
 * were the defaults' and the hex text's decoding: the second call created the row again. */
typedef struct badge {
    int64_t id;
    dsql_bytes data;
    char *phone;
} badge;

static const dsql_attr badge_attrs[] = {
    DSQL_ATTR(badge, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(badge, data, DSQL_BYTEA),
    DSQL_ATTR(badge, phone, DSQL_STRING(20)),
};
static DSQL_MODEL(badge_model, badge, "badge", badge_attrs);

static void find_or_create_twice(const dsql_where *where, badge *defaults, const char *check)
{
    dsql_error err;
    badge *t;
    dsql_result *res;
    bool created = false;
    for (int round = 0; round < 2; round++) {
        assert_dsql_ok(
            dsql_find_or_create(pool, &badge_model, where, defaults, &t, &res, &created, &err),
            err);
        assert_int_equal(created, round == 0);
        dsql_result_free(res);
        defaults->id++; /* a second insert would not collide on the key */
    }
    assert_int_equal(pg_long(pg, check), 1);
}

static void find_or_create_matches_null_and_bytes(void **state)
{
    (void)state;
    pg_ok(pg, "CREATE TABLE badge (id bigint PRIMARY KEY, data bytea, phone varchar(20))");
    badge defaults = {.id = 1, .data = {(unsigned char *)"xyz", 3}, .phone = "555"};
    find_or_create_twice(DSQL_AND(DSQL_EQ("data", DSQL_STR("\\x41")), DSQL_IS_NULL("phone")),
                         &defaults, "SELECT count(*) FROM badge WHERE data = '\\x5c783431'::bytea");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM badge WHERE phone IS NULL"), 1);
    find_or_create_twice(
        DSQL_AND(DSQL_EQ("data", DSQL_BYTES("a\0b", 3)), DSQL_EQ("phone", DSQL_NULL)), &defaults,
        "SELECT count(*) FROM badge WHERE data = '\\x610062'::bytea");
    dsql_error err;
    badge *t;
    dsql_result *res;
    assert_int_equal(dsql_find_or_create(pool, &badge_model, DSQL_EQ("id", DSQL_STR("abc")),
                                         &defaults, &t, &res, NULL, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_find_or_create: where: badge.id: expected a BIGINT "
                                     "value, got text \"abc\"");
    pg_ok(pg, "DROP TABLE badge");
}

static void every_stored_date_round_trips(void **state)
{
    (void)state;
    reset();
    static const char *const dates[] = {"0044-03-15 BC", "10000-01-01", "0001-01-01",
                                        "5874897-12-31", "infinity"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE person SET born = '%s' WHERE id = 1", dates[i]);
        pg_ok(pg, sql);
        dsql_error err;
        person *p;
        dsql_result *res;
        assert_dsql_ok(dsql_find_by_pk(pool, &person_model, DSQL_INT(1), NULL, &p, &res, &err),
                       err);
        assert_string_equal(p->born, dates[i]);
        assert_dsql_ok(dsql_save(pool, &person_model, p, (const char *const[]){"born"}, 1, &err),
                       err);
        dsql_result_free(res);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM person WHERE id = 1 AND born = '%s'",
                 dates[i]);
        assert_int_equal(pg_long(pg, sql), 1);
    }
}

static void numeric_keeps_what_it_stores(void **state)
{
    (void)state;
    reset();
    /* sync declared the column as DSQL stores a bare numeric, on every server */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM information_schema.columns WHERE "
                                 "table_name = 'person' AND column_name = 'balance' AND "
                                 "numeric_precision = 18 AND numeric_scale = 6"),
                     1);
    dsql_error err;
    person p = {.id = 3, .name = "Dee", .city = "Kyiv", .balance = "123456789012.123456"};
    assert_dsql_ok(dsql_create(pool, &person_model, &p, NULL, &err), err);
    pool_counters c = pool_counters_of(pool);
    person q = {.id = 4, .name = "Eve", .city = "Kyiv", .balance = "0.1234567"};
    assert_int_equal(dsql_create(pool, &person_model, &q, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: person.balance: \"0.1234567\" 7 digits after the point, the "
                        "NUMERIC's scale allows 6 (it would be rounded) "
                        "(NUMERIC(18,6))");
    assert_sent(pool, c, 0, 0);
    person *r;
    dsql_result *res;
    assert_dsql_ok(dsql_find_by_pk(pool, &person_model, DSQL_INT(3), NULL, &r, &res, &err), err);
    assert_string_equal(r->balance, "123456789012.123456");
    dsql_result_free(res);
}

static void empty_in_matches_nothing(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    int64_t n = -1;
    assert_dsql_ok(dsql_count(pool, &person_model, DSQL_IN_ARRAY("name", NULL, 0), &n, &err), err);
    assert_int_equal(n, 0);
    assert_dsql_ok(dsql_count(pool, &person_model, DSQL_NOT_IN_ARRAY("name", NULL, 0), &n, &err),
                   err);
    assert_int_equal(n, 2);
    uint64_t affected = 9;
    assert_dsql_ok(dsql_delete(pool, &person_model, DSQL_IN_ARRAY("id", NULL, 0), &affected, &err),
                   err);
    assert_int_equal(affected, 0);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM person"), 2);
}

typedef struct tag {
    int64_t id;
    char *label;
} tag;

static const dsql_attr tag_attrs[] = {
    DSQL_ATTR(tag, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(tag, label, DSQL_STRING(20)),
};
static const dsql_index tag_indexes[] = {DSQL_INDEX("tag_label_uq", true, "label")};
static DSQL_MODEL_INDEXED(tag_model, tag, "tag", tag_attrs, tag_indexes);

static void sync_rebuilds_an_invalid_index(void **state)
{
    (void)state;
    pg_ok(pg, "CREATE TABLE tag (id bigint PRIMARY KEY, label varchar(20))");
    pg_ok(pg, "INSERT INTO tag VALUES (1, 'x'), (2, 'x')");
    /* A build that fails leaves the index behind, invalid (as a failed ASYNC job does). */
    PGresult *r = PQexec(pg, "CREATE UNIQUE INDEX CONCURRENTLY tag_label_uq ON tag (label)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = "
                                 "x.indexrelid WHERE i.relname = 'tag_label_uq' AND NOT "
                                 "x.indisvalid"),
                     1);
    const dsql_model *m[] = {&tag_model};
    dsql_sync_report rep;
    dsql_error err;
    /* The duplicates are still there: the rebuild fails, and says so. */
    assert_int_equal(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), DSQL_ECONSTRAINT);
    assert_non_null(strstr(err.message, "tag_label_uq"));
    assert_int_equal(rep.indexes_rebuilt, 1);
    pg_ok(pg, "DELETE FROM tag WHERE id = 2");
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), err);
    if (test_through_dsql_local()) {
        /* A failed CREATE INDEX ASYNC job leaves the index invalid (as on DSQL): rebuilt
         * (a rebuilt index counts as created too). */
        assert_int_equal(rep.indexes_rebuilt, 1);
        assert_int_equal(rep.indexes_created, 1);
    } else {
        /* A failed synchronous build leaves nothing: the index is created. */
        assert_int_equal(rep.indexes_rebuilt, 0);
        assert_int_equal(rep.indexes_created, 1);
    }
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = "
                                 "x.indexrelid WHERE i.relname = 'tag_label_uq' AND "
                                 "x.indisvalid"),
                     1);
    assert_dsql_ok(dsql_sync(pool, m, 1, NULL, 0, &rep, &err), err);
    assert_int_equal(rep.statements, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partial_find_then_save),
        cmocka_unit_test(partial_rows_need_row_state),
        cmocka_unit_test(null_into_scalar_is_an_error),
        cmocka_unit_test(find_or_create_creates_what_it_finds),
        cmocka_unit_test(find_or_create_matches_null_and_bytes),
        cmocka_unit_test(every_stored_date_round_trips),
        cmocka_unit_test(numeric_keeps_what_it_stores),
        cmocka_unit_test(empty_in_matches_nothing),
        cmocka_unit_test(sync_rebuilds_an_invalid_index),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
