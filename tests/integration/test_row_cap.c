/*
 * Aurora DSQL's 3,000-row cap per transaction (emulated on the throwaway PostgreSQL by
 * row_cap.h, with DSQL's SQLSTATE and message), against every write path that can cross it:
 *  - dsql_update of more rows than the cap: done in keyset chunks when the call owns the
 *    transaction and the model has a key; refused whole (nothing changed) otherwise (inside
 *    the caller's transaction before anything is written: test_row_cap_tx);
 *  - dsql_delete whose ON DELETE CASCADE takes a chunk over: smaller chunks, down to one
 *    row, and a clear error when one row alone cascades too far; without a key, refused
 *    whole;
 *  - dsql_set_associated over the cap: one transaction by design, refused whole;
 *  - a pipelined transaction over the cap: DSQL_ELIMIT with a hint.
 * On the old code the update and the cascading destroy failed with 54000 instead.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"
#include "petclinic.h"
#include "row_cap.h"

#define DB "dsql_t_row_cap"

static dsql_pool *pool;
static PGconn *pg;
static log_capture logs;

typedef struct item {
    int64_t id;
    int32_t grp;
    bool flag;
} item;

static const dsql_attr item_attrs[] = {
    DSQL_ATTR(item, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(item, grp, DSQL_INTEGER, .not_null = true),
    DSQL_ATTR(item, flag, DSQL_BOOLEAN, .not_null = true),
};
static DSQL_MODEL(item_model, item, "item", item_attrs);

typedef struct loose {
    int32_t v;
} loose;

static const dsql_attr loose_attrs[] = {DSQL_ATTR(loose, v, DSQL_INTEGER, .not_null = true)};
static DSQL_MODEL(loose_model, loose, "loose", loose_attrs);

typedef struct parent {
    int64_t id;
} parent;

static const dsql_attr parent_attrs[] = {DSQL_ATTR(parent, id, DSQL_BIGINT, .primary_key = true)};
static DSQL_MODEL(parent_model, parent, "parent", parent_attrs);

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, &logs);
    pg_ok(pg, "CREATE TABLE item (id bigint PRIMARY KEY, grp int NOT NULL, flag bool NOT NULL)");
    pg_ok(pg, "CREATE TABLE loose (v int NOT NULL)");
    pg_ok(pg, "CREATE TABLE parent (id bigint PRIMARY KEY)");
    pg_ok(pg, "CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent "
              "ON DELETE CASCADE)");
    row_cap_install(pg, "item");
    row_cap_install(pg, "loose");
    row_cap_install(pg, "parent");
    row_cap_install(pg, "child");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, &logs);
    return 0;
}

/* Fills a table in statements of at most 3,000 rows (the cap applies to the setup too):
 * "INSERT INTO <into> SELECT <select> FROM generate_series(a, b) g". */
static void fill(const char *into, const char *select, long from, long to)
{
    for (long a = from; a <= to; a += 3000) {
        long b = a + 2999 < to ? a + 2999 : to;
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO %s SELECT %s FROM generate_series(%ld, %ld) g", into,
                 select, a, b);
        pg_ok(pg, sql);
    }
}

static void the_cap_is_real(void **state)
{
    (void)state;
    PGresult *r = PQexec(pg, "INSERT INTO loose SELECT g FROM generate_series(1, 3001) g");
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "54000");
    assert_string_equal(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
                        "transaction row limit exceeded");
    PQclear(r);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose"), 0);
}

static void update_over_the_cap_is_chunked(void **state)
{
    (void)state;
    pg_ok(pg, "DELETE FROM item WHERE true");
    fill("item", "g, g % 2, false", 1, 7500);
    dsql_error err;
    uint64_t affected = 0;
    /* The rows updated still match a where on another column, and no longer match one on
     * the column set: both are updated exactly once. */
    assert_dsql_ok(dsql_update(pool, &item_model,
                               (const dsql_assign[]){DSQL_SET("flag", DSQL_BOOL(true))}, 1,
                               DSQL_EQ("flag", DSQL_BOOL(false)), &affected, &err),
                   err);
    assert_int_equal(affected, 7500);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE flag"), 7500);
    assert_true(cap_has(&logs, "dsql_update: item: 7500 rows updated in 3 chunks (more than "
                               "3000 matched)"));
    assert_dsql_ok(dsql_update(pool, &item_model,
                               (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(7))}, 1,
                               DSQL_GTE("id", DSQL_INT(1)), &affected, &err),
                   err);
    assert_int_equal(affected, 7500);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE grp = 7"), 7500);
    /* Up to the cap it stays one atomic statement. */
    cap_free(&logs);
    cap_init(&logs);
    assert_dsql_ok(dsql_update(pool, &item_model,
                               (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(8))}, 1,
                               DSQL_LTE("id", DSQL_INT(3000)), &affected, &err),
                   err);
    assert_int_equal(affected, 3000);
    assert_false(cap_has(&logs, "chunks"));
}

typedef struct upd {
    uint64_t affected;
} upd;

static int update_in_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    upd *u = ctx;
    return dsql_update(conn, &item_model, (const dsql_assign[]){DSQL_SET("grp", DSQL_INT(9))}, 1,
                       DSQL_GTE("id", DSQL_INT(1)), &u->affected, err);
}

static void update_over_the_cap_refused_when_it_cannot_be_chunked(void **state)
{
    (void)state;
    dsql_error err;
    upd u = {0};
    /* Inside the caller's transaction: the transaction cannot be split, and the update is
     * refused before it changes anything (test_row_cap_tx has the details). */
    assert_int_equal(dsql_transaction(pool, update_in_tx, &u, NULL, NULL, &err), DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "dsql_update: item: more than 3000 rows match, and the "
                                        "caller's transaction may modify only 3000 more"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM item WHERE grp = 9"), 0);
    /* Without a primary key there is nothing to chunk by. */
    pg_ok(pg, "DELETE FROM loose WHERE true");
    fill("loose", "g", 1, 4000);
    uint64_t affected = 99;
    assert_int_equal(dsql_update(pool, &loose_model,
                                 (const dsql_assign[]){DSQL_SET("v", DSQL_INT(0))}, 1,
                                 DSQL_GT("v", DSQL_INT(0)), &affected, &err),
                     DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "and the model has no primary key to update them in "
                                        "chunks by; nothing was updated"));
    assert_string_equal(err.sqlstate, "54000");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose WHERE v = 0"), 0);
    assert_int_equal(dsql_delete(pool, &loose_model, DSQL_GT("v", DSQL_INT(0)), &affected, &err),
                     DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "dsql_delete: loose: the rows to delete are more than "
                                        "the 3000 one Aurora DSQL transaction may modify, and "
                                        "the model has no primary key to delete them in chunks "
                                        "by; nothing was deleted"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose"), 4000);
    assert_dsql_ok(dsql_delete(pool, &loose_model, DSQL_GT("v", DSQL_INT(1000)), &affected, &err),
                   err);
    assert_int_equal(affected, 3000);
}

static void cascading_destroy_takes_smaller_chunks(void **state)
{
    (void)state;
    pg_ok(pg, "DELETE FROM child WHERE true");
    pg_ok(pg, "DELETE FROM parent WHERE true");
    fill("parent", "g", 1, 2500);
    /* Two children each: a chunk of 2,500 parents deletes 7,500 rows. */
    fill("child", "g, (g + 1) / 2", 1, 5000);
    dsql_error err;
    uint64_t affected = 0;
    assert_dsql_ok(dsql_delete(pool, &parent_model, DSQL_NOT_NULL("id"), &affected, &err), err);
    assert_int_equal(affected, 2500);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM child"), 0);
    assert_true(cap_has(&logs, "dsql_delete: parent: a chunk went over the row cap (cascaded "
                               "rows count); trying 1500 rows at a time"));
    assert_true(cap_has(&logs, "trying 750 rows at a time"));
    /* One parent whose children alone exceed the cap. */
    pg_ok(pg, "INSERT INTO parent VALUES (1)");
    fill("child", "g, 1", 5001, 8000);
    assert_int_equal(dsql_delete(pool, &parent_model, DSQL_EQ("id", DSQL_INT(1)), &affected, &err),
                     DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "dsql_delete: parent: deleting a single row takes more "
                                        "than the 3000 rows one Aurora DSQL transaction may "
                                        "modify (its ON DELETE CASCADE reaches that many): "
                                        "delete the referencing rows first"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM parent"), 1);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM child"), 3000);
}

static void pipeline_over_the_cap(void **state)
{
    (void)state;
    pg_ok(pg, "DELETE FROM loose WHERE true");
    dsql_stmt s[] = {{"INSERT INTO loose SELECT g FROM generate_series(1, 2000) g", NULL, 0},
                     {"INSERT INTO loose SELECT g FROM generate_series(1, 1001) g", NULL, 0}};
    dsql_error err;
    assert_int_equal(dsql_pipeline_tx(pool, s, 2, NULL, NULL, &err), DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "statement 1 of 2: transaction row limit exceeded"));
    assert_non_null(strstr(err.hint, "modifies at most 3,000 rows"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM loose"), 0);
}

static void set_association_over_the_cap(void **state)
{
    (void)state;
    pc_sync_clinic(pool);
    row_cap_install(pg, "pet");
    row_cap_install(pg, "owner");
    enum { N = 3000 };
    owner o = {.name = "Many", .city = "Pets"};
    dsql_error err;
    assert_dsql_ok(dsql_create(pool, &owner_model, &o, NULL, &err), err);
    pet *pets = calloc(N, sizeof *pets);
    const void **targets = calloc(N, sizeof *targets);
    assert_non_null(pets);
    assert_non_null(targets);
    char(*names)[16] = calloc(N, sizeof *names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        pets[i].name = names[i];
        pets[i].birth_date = "2020-01-01";
        targets[i] = &pets[i];
    }
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, N, NULL, NULL, &err), err);
    /* 3,000 pets to link: 3,000 rows, plus the owner's row written to serialize sets. */
    assert_int_equal(dsql_set_associated(pool, &owner_pets, &o, targets, N, &err), DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "dsql_set_associated: association pets: it would modify "
                                        "more rows than one Aurora DSQL transaction may (3,000: "
                                        "the source row, the links removed and the links added "
                                        "count); nothing changed"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet WHERE \"ownerId\" IS NOT NULL"), 0);
    assert_dsql_ok(dsql_set_associated(pool, &owner_pets, &o, targets, N - 1, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet WHERE \"ownerId\" IS NOT NULL"), N - 1);
    free(names);
    free(targets);
    free(pets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_cap_is_real),
        cmocka_unit_test(update_over_the_cap_is_chunked),
        cmocka_unit_test(update_over_the_cap_refused_when_it_cannot_be_chunked),
        cmocka_unit_test(cascading_destroy_takes_smaller_chunks),
        cmocka_unit_test(pipeline_over_the_cap),
        cmocka_unit_test(set_association_over_the_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
