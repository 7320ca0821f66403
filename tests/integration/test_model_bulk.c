/*
 * Bulk create and chunked destroy against the throwaway PostgreSQL: 10,000 rows land in
 * chunks of at most 3,000 (each one statement, checked by the server's own statistics of
 * rows per statement), progress is reported after each chunk, a failing chunk reports
 * exactly what landed, and a destroy of 10,000 rows deletes in chunks of 3,000.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "conn_util.h"
#include "petclinic.h"

#define DB "dsql_t_model_bulk"
#define N  10000

static dsql_pool *pool;
static PGconn *pg;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pc_open(DB, &pool, &pg, &logs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, &logs);
    return 0;
}

static void fresh(void)
{
    pg_ok(pg, "DROP TABLE IF EXISTS pet");
    pg_ok(pg, "CREATE TABLE pet (id uuid PRIMARY KEY, name varchar(30) NOT NULL UNIQUE, "
              "\"birthDate\" date NOT NULL, \"ownerId\" uuid)");
}

typedef struct progress {
    size_t calls;
    size_t done[16];
    size_t total;
} progress;

static void on_progress(size_t done, size_t total, void *ctx)
{
    progress *p = ctx;
    if (p->calls < 16)
        p->done[p->calls] = done;
    p->calls++;
    p->total = total;
}

/* Per test: an empty pet table, and N pets named pet-00000 ... (names are unique; their
 * strings live in names). */
static pet *pets;
static char (*names)[16];

static int fresh_pets(void **state)
{
    (void)state;
    fresh();
    pets = calloc(N, sizeof *pets);
    names = calloc(N, sizeof *names);
    assert_non_null(pets);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "pet-%05d", i);
        pets[i].name = names[i];
        pets[i].birth_date = "2020-01-01";
    }
    return 0;
}

static int free_pets(void **state)
{
    (void)state;
    free(pets);
    free(names);
    return 0;
}

/* The message starts with prefix (the server's own text follows). */
#define assert_prefix(message, prefix)                                                             \
    do {                                                                                           \
        if (strncmp((message), (prefix), strlen(prefix)) != 0)                                     \
            fail_msg("message \"%s\" does not start with \"%s\"", (message), (prefix));            \
    } while (0)

static void test_bulk_10000(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    progress pr = {0};
    dsql_bulk_options opts = DSQL_BULK_OPTIONS_INIT;
    opts.progress = on_progress;
    opts.progress_ctx = &pr;
    dsql_bulk_report rep;
    dsql_pool_stats before, after;
    dsql_pool_get_stats(pool, &before);
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, N, &opts, &rep, &err), err);
    dsql_pool_get_stats(pool, &after);
    assert_int_equal(pr.calls, 4);
    assert_int_equal(pr.done[0], 3000);
    assert_int_equal(pr.done[1], 6000);
    assert_int_equal(pr.done[2], 9000);
    assert_int_equal(pr.done[3], 10000);
    assert_int_equal(pr.total, N);
    assert_int_equal(rep.chunks_done, 4);
    assert_int_equal(rep.chunks_total, 4);
    assert_int_equal(rep.rows_done, N);
    assert_int_equal(rep.rows_total, N);
    assert_int_equal(after.statements - before.statements, 4); /* one INSERT per chunk */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), N);
    assert_int_equal(pg_long(pg, "SELECT count(DISTINCT id) FROM pet"), N); /* UUIDs filled */
    assert_int_equal(strlen(pets[N - 1].id.str), 36);
}

/* A unique violation in the third chunk: two chunks landed, the rest did not. */
static void test_bulk_failing_chunk(void **state)
{
    (void)state;
    pets[6500].name = pets[6400].name; /* duplicate inside chunk 3 (rows 6000..8999) */
    dsql_error err = DSQL_ERROR_INIT;
    progress pr = {0};
    dsql_bulk_options opts = {.progress = on_progress, .progress_ctx = &pr};
    dsql_bulk_report rep;
    assert_int_equal(dsql_bulk_create(pool, &pet_model, pets, N, &opts, &rep, &err), DSQL_EPARTIAL);
    assert_int_equal(rep.chunks_done, 2);
    assert_int_equal(rep.rows_done, 6000);
    assert_int_equal(rep.chunks_total, 4);
    assert_int_equal(rep.rows_total, N);
    assert_int_equal(pr.calls, 2);
    assert_string_equal(err.sqlstate, "23505");
    const char *want = "dsql_bulk_create: pet: chunk 3 of 4 (rows 6000..8999) failed; rows "
                       "0..5999 (2 chunks) landed, rows from 6000 on did not: ";
    assert_prefix(err.message, want);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 6000);
    /* A failure in the first chunk is the chunk's own error: nothing landed. */
    fresh();
    pets[6500].name = names[6500];
    pets[10].name = pets[11].name;
    assert_int_equal(dsql_bulk_create(pool, &pet_model, pets, N, NULL, &rep, &err),
                     DSQL_ECONSTRAINT);
    assert_int_equal(rep.chunks_done, 0);
    assert_int_equal(rep.rows_done, 0);
    want = "dsql_bulk_create: pet: chunk 1 of 4 (rows 0..2999) failed; no rows landed: ";
    assert_prefix(err.message, want);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0);
}

/* The connection dies while a chunk is in flight (a trigger ends its own backend on one
 * row of chunk 2): that chunk's outcome is unknown, and the report counts only chunk 1. */
static void test_bulk_connection_lost(void **state)
{
    (void)state;
    pg_ok(pg,
          "CREATE OR REPLACE FUNCTION pet_die() RETURNS trigger LANGUAGE plpgsql AS $$ "
          "BEGIN IF NEW.name = 'pet-03500' THEN PERFORM pg_terminate_backend(pg_backend_pid()); "
          "END IF; RETURN NEW; END $$");
    pg_ok(pg, "CREATE TRIGGER die BEFORE INSERT ON pet FOR EACH ROW EXECUTE FUNCTION pet_die()");
    dsql_error err = DSQL_ERROR_INIT;
    dsql_bulk_report rep;
    assert_int_equal(dsql_bulk_create(pool, &pet_model, pets, N, NULL, &rep, &err),
                     DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(rep.chunks_done, 1);
    assert_int_equal(rep.rows_done, 3000);
    const char *want = "dsql_bulk_create: pet: chunk 2 of 4 (rows 3000..5999) failed; the "
                       "connection was lost with it in flight, so its rows may or may not have "
                       "landed; rows 0..2999 (1 chunks) landed, rows from 6000 on did not: ";
    assert_prefix(err.message, want);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 3000);
    /* In the first chunk: nothing is known to have landed. */
    fresh();
    pg_ok(pg, "CREATE TRIGGER die BEFORE INSERT ON pet FOR EACH ROW EXECUTE FUNCTION pet_die()");
    assert_int_equal(dsql_bulk_create(pool, &pet_model, pets + 3000, 1000, NULL, &rep, &err),
                     DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(rep.rows_done, 0);
    want = "dsql_bulk_create: pet: chunk 1 of 1 (rows 0..999) failed; the connection was lost "
           "with it in flight, so its rows may or may not have landed: ";
    assert_prefix(err.message, want);
    pg_ok(pg, "DROP TABLE pet");
    pg_ok(pg, "DROP FUNCTION pet_die()");
}

/* Validation covers every row before the first chunk is sent. */
static void test_bulk_validation(void **state)
{
    (void)state;
    pets[9999].birth_date = "2023-02-29";
    dsql_error err = DSQL_ERROR_INIT;
    dsql_bulk_report rep;
    assert_int_equal(dsql_bulk_create(pool, &pet_model, pets, N, NULL, &rep, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message, "dsql_bulk_create: row 9999: pet.birthDate: \"2023-02-29\" "
                                     "is not a date YYYY-MM-DD on the calendar (DATEONLY)");
    assert_int_equal(rep.chunks_done, 0);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0);
}

/* Smaller chunks by option, and by bytes; an empty bulk sends nothing. */
static void test_bulk_chunk_options(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_bulk_report rep;
    dsql_bulk_options opts = {.chunk_rows = 999};
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, 2500, &opts, &rep, &err), err);
    assert_int_equal(rep.chunks_total, 3);
    opts = (dsql_bulk_options){.chunk_rows = 100000}; /* capped at 3,000 */
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets + 2500, 7500, &opts, &rep, &err), err);
    assert_int_equal(rep.chunks_total, 3);
    fresh();
    opts = (dsql_bulk_options){.chunk_bytes = 10000};
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, 1000, &opts, &rep, &err), err);
    assert_true(rep.chunks_total > 1);
    assert_int_equal(rep.rows_done, 1000);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 1000);
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, NULL, 0, NULL, &rep, &err), err);
    assert_int_equal(rep.chunks_total, 0);
}

/* The same bulk inside the caller's transaction: everything or nothing, and never more
 * than the 3,000 rows one Aurora DSQL transaction may modify (refused before anything is
 * sent, counting what the transaction modified before). */
typedef struct txctx {
    pet *pets;
    size_t n;
    size_t before; /* rows the body inserts itself first */
    pool_counters sent;
} txctx;

static int bulk_tx(dsql_conn *conn, void *ctx, dsql_error *err)
{
    txctx *t = ctx;
    if (t->before) {
        int rc = dsql_bulk_create(conn, &pet_model, t->pets + 3000, t->before, NULL, NULL, err);
        if (rc)
            return rc;
    }
    dsql_conn_stats st;
    dsql_conn_get_stats(conn, &st);
    t->sent.statements = st.statements;
    dsql_bulk_options o = {.chunk_rows = 1000};
    int rc = dsql_bulk_create(conn, &pet_model, t->pets, t->n, &o, NULL, err);
    dsql_conn_get_stats(conn, &st);
    t->sent.statements = st.statements - t->sent.statements;
    return rc;
}

static void test_bulk_in_transaction(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    txctx t = {pets, 3000, 0, {0, 0}};
    assert_dsql_ok(dsql_transaction(pool, bulk_tx, &t, NULL, NULL, &err), err);
    /* chunks of 1,000 sharing the transaction; the runner's BEGIN rides with the first */
    assert_int_equal(t.sent.statements, 4);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 3000);
    fresh();
    t.n = 4000;
    assert_int_equal(dsql_transaction(pool, bulk_tx, &t, NULL, NULL, &err), DSQL_ELIMIT);
    assert_string_equal(err.message,
                        "dsql_bulk_create: pet: 4000 rows inside the caller's transaction, which "
                        "has modified 0 rows already: one Aurora DSQL transaction modifies at "
                        "most 3000 rows; call it on the pool (chunks of up to 3000 rows, each its "
                        "own transaction) or split the transaction; nothing was sent");
    assert_int_equal(t.sent.statements, 0);
    /* What the transaction modified before counts. */
    t.n = 2995;
    t.before = 10;
    assert_int_equal(dsql_transaction(pool, bulk_tx, &t, NULL, NULL, &err), DSQL_ELIMIT);
    assert_non_null(strstr(err.message, "2995 rows inside the caller's transaction, which has "
                                        "modified 10 rows already"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0);
    t.n = 2990;
    assert_dsql_ok(dsql_transaction(pool, bulk_tx, &t, NULL, NULL, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 3000);
    fresh();
    t.n = 3000;
    t.before = 0;
    pets[2500].name = pets[0].name;
    assert_int_equal(dsql_transaction(pool, bulk_tx, &t, NULL, NULL, &err), DSQL_ECONSTRAINT);
    const char *want = "dsql_bulk_create: pet: chunk 3 of 3 (rows 2000..2999) failed; the "
                       "enclosing transaction is aborted: ";
    assert_prefix(err.message, want);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0); /* rolled back together */
}

/* Destroy deletes in chunks of 3,000 rows, each its own statement. */
static void test_destroy_chunked(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, N, NULL, NULL, &err), err);
    dsql_pool_stats before, after;
    dsql_pool_get_stats(pool, &before);
    uint64_t affected = 0;
    assert_dsql_ok(
        dsql_delete(pool, &pet_model, DSQL_LIKE("name", DSQL_STR("pet-%")), &affected, &err), err);
    dsql_pool_get_stats(pool, &after);
    assert_int_equal(affected, N);
    assert_int_equal(after.statements - before.statements, 4); /* 3000 + 3000 + 3000 + 1000 */
    assert_true(cap_has(&logs, "DELETE FROM \"pet\" WHERE \"id\" IN (SELECT \"id\" FROM \"pet\" "
                               "WHERE \"name\" LIKE $1 LIMIT $2)"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), 0);
}

/* A chunk of a destroy fails after others were committed: DSQL_EPARTIAL saying how many
 * rows went, with the server's SQLSTATE; the same with err == NULL (nothing to fill). A
 * trigger refuses every delete after the 3,000th (a sequence counts them). */
static void test_destroy_partial(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_bulk_create(pool, &pet_model, pets, N, NULL, NULL, &err), err);
    pg_ok(pg, "DROP SEQUENCE IF EXISTS pet_deletes");
    pg_ok(pg, "CREATE SEQUENCE pet_deletes");
    pg_ok(pg, "CREATE OR REPLACE FUNCTION pet_delete_guard() RETURNS trigger LANGUAGE plpgsql AS "
              "$$ BEGIN IF nextval('pet_deletes') > 3000 THEN RAISE EXCEPTION 'no more deletes' "
              "USING ERRCODE = 'P0001'; END IF; RETURN OLD; END $$");
    pg_ok(pg, "CREATE TRIGGER guard BEFORE DELETE ON pet FOR EACH ROW EXECUTE FUNCTION "
              "pet_delete_guard()");
    uint64_t affected = 0;
    assert_int_equal(
        dsql_delete(pool, &pet_model, DSQL_LIKE("name", DSQL_STR("pet-%")), &affected, &err),
        DSQL_EPARTIAL);
    assert_int_equal(affected, 3000);
    assert_string_equal(err.message, "dsql_delete: pet: 3000 rows were deleted (in committed "
                                     "chunks of up to 3000) before a chunk failed: no more "
                                     "deletes");
    assert_string_equal(err.sqlstate, "P0001");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), N - 3000);
    /* err may be NULL. */
    pg_ok(pg, "ALTER SEQUENCE pet_deletes RESTART");
    assert_int_equal(
        dsql_delete(pool, &pet_model, DSQL_LIKE("name", DSQL_STR("pet-%")), &affected, NULL),
        DSQL_EPARTIAL);
    assert_int_equal(affected, 3000);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), N - 6000);
    /* The first chunk failing is that chunk's own error: nothing was deleted. */
    assert_int_equal(
        dsql_delete(pool, &pet_model, DSQL_LIKE("name", DSQL_STR("pet-%")), &affected, &err),
        DSQL_ESERVER);
    assert_int_equal(affected, 0);
    assert_string_equal(err.message, "dsql_delete: no more deletes");
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), N - 6000);
    /* The connection lost with the second chunk in flight: its outcome is unknown. */
    pg_ok(pg, "CREATE OR REPLACE FUNCTION pet_delete_guard() RETURNS trigger LANGUAGE plpgsql AS "
              "$$ BEGIN IF nextval('pet_deletes') > 3000 THEN PERFORM "
              "pg_terminate_backend(pg_backend_pid()); END IF; RETURN OLD; END $$");
    pg_ok(pg, "ALTER SEQUENCE pet_deletes RESTART");
    assert_int_equal(
        dsql_delete(pool, &pet_model, DSQL_LIKE("name", DSQL_STR("pet-%")), &affected, &err),
        DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(affected, 3000);
    const char *want = "dsql_delete: pet: 3000 rows were deleted (in committed chunks of up "
                       "to 3000), then the connection was lost with a chunk in flight: up to "
                       "3000 more may or may not have been deleted: ";
    assert_prefix(err.message, want);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), N - 9000);
    pg_ok(pg, "DROP TABLE pet");
    pg_ok(pg, "DROP FUNCTION pet_delete_guard()");
    pg_ok(pg, "DROP SEQUENCE pet_deletes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bulk_10000, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_bulk_failing_chunk, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_bulk_validation, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_bulk_chunk_options, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_bulk_in_transaction, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_destroy_chunked, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_destroy_partial, fresh_pets, free_pets),
        cmocka_unit_test_setup_teardown(test_bulk_connection_lost, fresh_pets, free_pets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
