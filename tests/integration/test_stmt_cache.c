/*
 * The per-connection cache of named prepared statements: one round trip on first use
 * too, data statements only, errors on Parse and on Execute, a table that changes shape
 * under a cached SELECT *, and no first Parse inside a caller's transaction before the
 * connection has proven that named statements work.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "conn_util.h"

static dsql_conn *open_conn(void)
{
    dsql_config cfg;
    test_config(&cfg);
    dsql_conn *conn;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_connect(&cfg, &conn, &err), err);
    dsql_config_clear(&cfg);
    return conn;
}

/* The statements prepared on conn, as "statement\n..." in name order (the query asking is
 * left out). */
static char *prepared(dsql_conn *conn)
{
    dsql_result *res;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn,
                                   "SELECT statement FROM pg_prepared_statements WHERE statement "
                                   "NOT LIKE '%pg_prepared_statements%' ORDER BY prepare_time, "
                                   "name",
                                   NULL, 0, &res, &err),
                   err);
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < dsql_result_rows(res); i++)
        cap += strlen(dsql_result_text(res, i, 0)) + 1;
    char *out = calloc(1, cap);
    assert_non_null(out);
    for (size_t i = 0; i < dsql_result_rows(res); i++)
        len += (size_t)sprintf(out + len, "%s\n", dsql_result_text(res, i, 0));
    dsql_result_free(res);
    return out;
}

#define assert_prepared(conn, want)                                                                \
    do {                                                                                           \
        char *got_ = prepared(conn);                                                               \
        assert_string_equal(got_, (want));                                                         \
        free(got_);                                                                                \
    } while (0)

static uint64_t trips(dsql_conn *conn)
{
    dsql_conn_stats s;
    dsql_conn_get_stats(conn, &s);
    return s.round_trips;
}

static void test_one_round_trip_and_reuse(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn();
    dsql_error err = DSQL_ERROR_INIT;
    for (int i = 0; i < 3; i++) {
        dsql_result *res;
        uint64_t before = trips(conn);
        assert_dsql_ok(dsql_conn_query(conn, "SELECT $1::int + 1", &DSQL_INT(i), 1, &res, &err),
                       err);
        assert_int_equal(trips(conn) - before, 1); /* the first use too: Parse is pipelined */
        int64_t v;
        assert_dsql_ok(dsql_result_int(res, 0, 0, &v, &err), err);
        assert_int_equal(v, i + 1);
        dsql_result_free(res);
    }
    assert_prepared(conn, "SELECT $1::int + 1\n");
    /* Statements other than SELECT/INSERT/UPDATE/DELETE/WITH are never prepared. */
    assert_dsql_ok(dsql_conn_query(conn, "SET application_name = 'x'", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "COMMIT", NULL, 0, NULL, &err), err);
    assert_prepared(conn, "SELECT $1::int + 1\n");
    dsql_conn_close(conn);
}

static void test_errors(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn();
    dsql_error err = DSQL_ERROR_INIT;
    /* A Parse error is reported as such; nothing is kept; the connection carries on. */
    assert_int_equal(dsql_conn_query(conn, "SELECT FROM WHERE", NULL, 0, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42601");
    assert_int_equal(dsql_conn_query(conn, "SELECT * FROM no_such_table_here", NULL, 0, NULL, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42P01");
    assert_true(dsql_conn_ok(conn));
    assert_prepared(conn, "");
    /* An Execute error leaves the statement prepared and usable. */
    assert_dsql_ok(
        dsql_conn_query(conn, "CREATE TEMP TABLE u (k int PRIMARY KEY)", NULL, 0, NULL, &err), err);
    const char *ins = "INSERT INTO u (k) VALUES ($1)";
    assert_dsql_ok(dsql_conn_query(conn, ins, &DSQL_INT(1), 1, NULL, &err), err);
    assert_int_equal(dsql_conn_query(conn, ins, &DSQL_INT(1), 1, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_dsql_ok(dsql_conn_query(conn, ins, &DSQL_INT(2), 1, NULL, &err), err);
    assert_prepared(conn, "INSERT INTO u (k) VALUES ($1)\n");
    dsql_conn_close(conn);
}

/* A table that changes shape under a cached SELECT * is prepared again. */
static void test_result_type_change(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn, "CREATE TEMP TABLE shape (a int)", NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(dsql_conn_query(conn, "INSERT INTO shape VALUES (1)", NULL, 0, NULL, &err), err);
    dsql_result *res;
    for (int i = 0; i < 2; i++) {
        assert_dsql_ok(dsql_conn_query(conn, "SELECT * FROM shape", NULL, 0, &res, &err), err);
        assert_int_equal(dsql_result_cols(res), 1);
        dsql_result_free(res);
    }
    assert_dsql_ok(dsql_conn_query(conn, "ALTER TABLE shape ADD COLUMN b int", NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(dsql_conn_query(conn, "SELECT * FROM shape", NULL, 0, &res, &err), err);
    assert_int_equal(dsql_result_cols(res), 2);
    dsql_result_free(res);
    dsql_conn_close(conn);
}

/* On a connection that has not prepared anything yet, a statement first seen inside a
 * transaction runs unnamed; once a Parse has succeeded, statements are prepared inside
 * transactions too. */
static void test_transactions(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn();
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "SELECT 1 AS in_tx", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "COMMIT", NULL, 0, NULL, &err), err);
    assert_prepared(conn, "");
    assert_dsql_ok(dsql_conn_query(conn, "SELECT 2 AS autocommit", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "SELECT 1 AS in_tx", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "ROLLBACK", NULL, 0, NULL, &err), err);
    /* prepared statements outlive a rollback (they are not transactional) */
    assert_prepared(conn, "SELECT 2 AS autocommit\nSELECT 1 AS in_tx\n");
    dsql_conn_close(conn);
}

/* Pipelines use the cache on a proven connection: a new statement goes with its Parse
 * (twice in one batch: one Parse), a Parse error names its statement. */
static void test_pipelines(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn();
    dsql_error err = DSQL_ERROR_INIT;
    const dsql_stmt first[] = {{"SELECT $1::int * 2", &DSQL_INT(1), 1}};
    /* Not proven yet: the batch runs unnamed. */
    assert_dsql_ok(dsql_conn_pipeline(conn, first, 1, NULL, &err), err);
    assert_prepared(conn, "");
    assert_dsql_ok(dsql_conn_query(conn, "SELECT 'proven'", NULL, 0, NULL, &err), err);
    const dsql_value v[] = {DSQL_INT(3), DSQL_INT(4)};
    const dsql_stmt batch[] = {{"BEGIN", NULL, 0},
                               {"SELECT $1::int * 2", &v[0], 1},
                               {"SELECT $1::int * 2", &v[1], 1},
                               {"COMMIT", NULL, 0}};
    for (int round = 0; round < 2; round++) {
        dsql_result *res[4];
        uint64_t before = trips(conn);
        assert_dsql_ok(dsql_conn_pipeline(conn, batch, 4, res, &err), err);
        assert_int_equal(trips(conn) - before, 1);
        int64_t a, b;
        assert_dsql_ok(dsql_result_int(res[1], 0, 0, &a, &err), err);
        assert_dsql_ok(dsql_result_int(res[2], 0, 0, &b, &err), err);
        assert_int_equal(a, 6);
        assert_int_equal(b, 8);
        for (int i = 0; i < 4; i++)
            dsql_result_free(res[i]);
        assert_prepared(conn, "SELECT 'proven'\nSELECT $1::int * 2\n");
    }
    const dsql_stmt bad[] = {
        {"SELECT 1", NULL, 0}, {"SELECT FROM WHERE", NULL, 0}, {"SELECT 2", NULL, 0}};
    assert_int_equal(dsql_conn_pipeline(conn, bad, 3, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42601");
    assert_memory_equal(err.message, "pipeline statement 1 of 3: ", 27);
    assert_true(dsql_conn_ok(conn));
    assert_dsql_ok(dsql_conn_pipeline(conn, batch, 4, NULL, &err), err);
    dsql_conn_close(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_round_trip_and_reuse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_result_type_change),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_pipelines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
