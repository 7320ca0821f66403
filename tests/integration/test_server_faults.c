/*
 * What the server answers, made real in the throwaway PostgreSQL by functions and triggers:
 *  - Aurora DSQL's transient fault, XX000 "server unavailable": a transaction or a read is
 *    retried, on the same connection as the service asks; at COMMIT, or under an autocommit write,
 * the outcome is unknown and nothing is retried; a fault that persists ends as DSQL_EUNAVAILABLE
 * after the retries;
 *  - the row cap's 54000 "dsql_pool_query: transaction row limit exceeded": DSQL_ELIMIT with a hint
 * that says what to do;
 *  - one transaction's worth of statements (dsql_pipeline_tx, dsql_conn_pipeline) holding two
 *    DDL statements, or DDL with DML, is refused before anything is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

/* A database of its own: DDL elsewhere (another test's, on the same server) would meet
 * these transactions as a schema change (OC001) through dsql-local, as on Aurora DSQL. */
#define DB "dsql_t_server_faults"

static char t[64];

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    setenv("PGDATABASE", DB, 1); /* the admin connections below, too */
    snprintf(t, sizeof t, "faults_%d", (int)getpid());
    admin_exec("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY); "
               "DROP SEQUENCE IF EXISTS %s_calls; CREATE SEQUENCE %s_calls; "
               /* unavailable(n): raises DSQL's fault on the first n calls (counted) */
               "CREATE OR REPLACE FUNCTION %s_unavailable(n int) RETURNS int LANGUAGE plpgsql "
               "AS $f$ BEGIN IF nextval('%s_calls') <= n THEN RAISE EXCEPTION 'server "
               "unavailable' USING ERRCODE = 'XX000'; END IF; RETURN 1; END $f$",
               t, t, t, t, t, t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    setenv("PGDATABASE", "postgres", 1);
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

static void reset(void)
{
    admin_exec("DELETE FROM %s; ALTER SEQUENCE %s_calls RESTART", t, t);
}

static long calls(void)
{
    return admin_long("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s_calls", t);
}

static const dsql_retry_policy fast = {.base_delay_ms = 1, .max_delay_ms = 5};

typedef struct body {
    int faults; /* the body's first statement fails this many times */
    int runs;
    int64_t backend[8]; /* pg_backend_pid() seen by each run */
} body;

static int faulty_body(dsql_conn *conn, void *ctx, dsql_error *err)
{
    body *b = ctx;
    b->runs++;
    int rc = conn_query_int(conn, "SELECT pg_backend_pid()", NULL, 0,
                            &b->backend[(b->runs - 1) % 8], err);
    if (rc)
        return rc;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s_unavailable(%d)", t, b->faults);
    rc = dsql_conn_query(conn, sql, NULL, 0, NULL, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (%d)", t, b->runs);
    return dsql_conn_query(conn, sql, NULL, 0, NULL, err);
}

static void transaction_retries_unavailable(void **state)
{
    (void)state;
    reset();
    dsql_pool *pool = TEST_POOL(.database = DB);
    body b = {.faults = 1};
    int attempts = 0;
    dsql_error err;
    assert_dsql_ok(dsql_transaction(pool, faulty_body, &b, &fast, &attempts, &err), err);
    assert_int_equal(attempts, 2);
    assert_int_equal(b.runs, 2);
    assert_int_equal(admin_long("SELECT count(*) FROM %s", t), 1);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.tx_retries, 1);
    /* Retried on the same connection, as Aurora DSQL asks: held through the backoff, not
     * given back to the pool and taken again. */
    assert_int_equal(st.acquires, 1);
    assert_int_equal(b.backend[1], b.backend[0]);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.idle, 1);
    dsql_pool_close(pool);
}

static void persistent_unavailable_gives_up(void **state)
{
    (void)state;
    reset();
    dsql_pool *pool = TEST_POOL(.database = DB);
    body b = {.faults = 100};
    int attempts = 0;
    dsql_error err;
    assert_int_equal(dsql_transaction(pool, faulty_body, &b, &fast, &attempts, &err),
                     DSQL_EUNAVAILABLE);
    assert_int_equal(attempts, 4);
    assert_string_equal(err.sqlstate, "XX000");
    assert_non_null(strstr(err.message, "gave up after 4 attempts: server unavailable"));
    assert_string_equal(dsql_strerror(DSQL_EUNAVAILABLE), "service temporarily unavailable");
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.acquires, 1); /* all four attempts on one connection */
    assert_int_equal(st.in_use, 0);   /* and it went back once the runner gave up */
    assert_int_equal(st.idle, 1);
    dsql_pool_close(pool);
}

static void autocommit_read_retried_write_unknown(void **state)
{
    (void)state;
    reset();
    dsql_pool *pool = TEST_POOL(.database = DB);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s_unavailable(1)", t);
    dsql_result *res = NULL;
    dsql_error err;
    assert_dsql_ok(dsql_pool_query(pool, sql, NULL, 0, &fast, &res, &err), err);
    assert_string_equal(dsql_result_text(res, 0, 0), "1");
    dsql_result_free(res);
    assert_int_equal(calls(), 2);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.acquires, 1); /* the read ran again on the same connection */
    assert_int_equal(st.idle, 1);

    reset();
    snprintf(sql, sizeof sql, "INSERT INTO %s SELECT %s_unavailable(1)", t, t);
    assert_int_equal(dsql_pool_query(pool, sql, NULL, 0, &fast, NULL, &err), DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(err.message, "transient server fault while an autocommit statement "
                                        "that writes was in flight: it may or may not have "
                                        "been applied"));
    assert_int_equal(calls(), 1); /* never retried */
    dsql_pool_close(pool);
}

static int insert_one(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (void)ctx;
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (42)", t);
    return dsql_conn_query(conn, sql, NULL, 0, NULL, err);
}

static void unavailable_at_commit_is_unknown_outcome(void **state)
{
    (void)state;
    reset();
    admin_exec("CREATE FUNCTION %s_at_commit() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
               "PERFORM %s_unavailable(1); RETURN NULL; END $f$; "
               "CREATE CONSTRAINT TRIGGER %s_at_commit AFTER INSERT ON %s DEFERRABLE INITIALLY "
               "DEFERRED FOR EACH ROW EXECUTE FUNCTION %s_at_commit()",
               t, t, t, t, t);
    dsql_pool *pool = TEST_POOL(.database = DB);
    int attempts = 0;
    dsql_error err;
    assert_int_equal(dsql_transaction(pool, insert_one, NULL, &fast, &attempts, &err),
                     DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(attempts, 1);
    assert_non_null(strstr(err.message, "COMMIT met a transient server fault: the transaction "
                                        "may or may not have committed"));
    /* The same fault at the COMMIT of a pipelined transaction. */
    admin_exec("ALTER SEQUENCE %s_calls RESTART", t);
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (43)", t);
    dsql_stmt s = {sql, NULL, 0};
    assert_int_equal(dsql_pipeline_tx(pool, &s, 1, NULL, &fast, &err), DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(err.message, "the COMMIT of a pipelined transaction met a transient "
                                        "server fault"));
    dsql_pool_close(pool);
    admin_exec("DROP TRIGGER %s_at_commit ON %s; DROP FUNCTION %s_at_commit()", t, t, t);
}

static void pipeline_statement_unavailable_is_retried(void **state)
{
    (void)state;
    reset();
    dsql_pool *pool = TEST_POOL(.database = DB);
    char a[128], b[96];
    snprintf(a, sizeof a, "SELECT %s_unavailable(1)", t);
    snprintf(b, sizeof b, "INSERT INTO %s VALUES (5)", t);
    dsql_stmt s[] = {{a, NULL, 0}, {b, NULL, 0}};
    dsql_error err;
    assert_dsql_ok(dsql_pipeline_tx(pool, s, 2, NULL, &fast, &err), err);
    assert_int_equal(calls(), 2);
    assert_int_equal(admin_long("SELECT count(*) FROM %s WHERE id = 5", t), 1);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.acquires, 1); /* the batch ran again on the same connection */
    assert_int_equal(st.idle, 1);
    dsql_pool_close(pool);
}

static void row_limit_says_what_to_do(void **state)
{
    (void)state;
    dsql_pool *pool = TEST_POOL(.database = DB);
    dsql_error err;
    /* Through the local DSQL endpoint, the real thing: one statement writing 3,001 rows.
     * On plain PostgreSQL, the service's answer raised by hand. */
    char sql[160];
    if (test_through_dsql_local())
        snprintf(sql, sizeof sql, "INSERT INTO %s SELECT g FROM generate_series(1000, 4000) g", t);
    else
        snprintf(sql, sizeof sql,
                 "DO $$ BEGIN RAISE EXCEPTION 'transaction row limit exceeded' "
                 "USING ERRCODE = '54000'; END $$");
    assert_int_equal(dsql_pool_query(pool, sql, NULL, 0, NULL, NULL, &err), DSQL_ELIMIT);
    assert_string_equal(err.sqlstate, "54000");
    assert_string_equal(err.message, "dsql_pool_query: transaction row limit exceeded");
    assert_string_equal(err.hint,
                        "an Aurora DSQL transaction modifies at most 3,000 rows (rows deleted by "
                        "ON DELETE CASCADE count too); split the work into transactions of at most "
                        "3,000 rows");
    dsql_pool_close(pool);
}

/* A pipelined transaction over the cap: the message itself names the limit, that it counts
 * the whole batch, and what to do. */
static void pipeline_row_limit_names_the_cap(void **state)
{
    (void)state;
    reset();
    dsql_pool *pool = TEST_POOL(.database = DB);
    char a[160], b[160];
    snprintf(a, sizeof a, "INSERT INTO %s SELECT g FROM generate_series(1, 2000) g", t);
    if (test_through_dsql_local()) /* the endpoint counts the rows itself */
        snprintf(b, sizeof b, "INSERT INTO %s SELECT g FROM generate_series(2001, 3001) g", t);
    else
        snprintf(b, sizeof b,
                 "DO $$ BEGIN RAISE EXCEPTION 'transaction row limit exceeded' "
                 "USING ERRCODE = '54000'; END $$");
    dsql_stmt s[] = {{a, NULL, 0}, {b, NULL, 0}};
    dsql_error err;
    assert_int_equal(dsql_pipeline_tx(pool, s, 2, NULL, NULL, &err), DSQL_ELIMIT);
    assert_string_equal(err.sqlstate, "54000");
    assert_string_equal(
        err.message,
        "dsql_pipeline_tx: statement 1 of 2: transaction row limit exceeded (one Aurora DSQL "
        "transaction modifies at most 3,000 rows, counted over all the statements "
        "of the pipelined transaction: split them over transactions of at most "
        "3,000 rows; nothing was committed)");
    assert_int_equal(admin_long("SELECT count(*) FROM %s", t), 0);
    dsql_pool_close(pool);
}

static void one_transaction_ddl_rules(void **state)
{
    (void)state;
    dsql_pool *pool = TEST_POOL(.database = DB);
    dsql_conn *conn = TEST_CONN(.database = DB);
    char create[160], insert[160], drop[160];
    snprintf(create, sizeof create, "CREATE TABLE %s_x (id int)", t);
    snprintf(insert, sizeof insert, "  /* c */ INSERT INTO %s VALUES (9)", t);
    snprintf(drop, sizeof drop, "drop table %s_x", t);
    dsql_stmt ddl_dml[] = {{create, NULL, 0}, {insert, NULL, 0}};
    dsql_stmt two_ddl[] = {{create, NULL, 0}, {"SELECT 1", NULL, 0}, {drop, NULL, 0}};
    dsql_result *res[3] = {NULL, NULL, NULL};
    dsql_error err;
    pool_counters c = pool_counters_of(pool);
    assert_int_equal(dsql_pipeline_tx(pool, ddl_dml, 2, res, NULL, &err), DSQL_EUNSUPPORTED);
    assert_string_equal(err.message,
                        "dsql_pipeline_tx: statement 0 is DDL and statement 1 is DML, and they "
                        "would run in one transaction: Aurora DSQL never runs DDL and DML in the "
                        "same transaction (ddl and dml are not supported in the same "
                        "transaction); run the DDL on its own, nothing was sent");
    assert_int_equal(dsql_pipeline_tx(pool, two_ddl, 3, res, NULL, &err), DSQL_EUNSUPPORTED);
    assert_non_null(strstr(err.message, "dsql_pipeline_tx: statements 0 and 2 are both DDL"));
    assert_sent(pool, c, 0, 0);
    assert_null(res[0]);
    dsql_conn_stats before, after;
    dsql_conn_get_stats(conn, &before);
    assert_int_equal(dsql_conn_pipeline(conn, ddl_dml, 2, res, &err), DSQL_EUNSUPPORTED);
    assert_non_null(strstr(err.message, "dsql_conn_pipeline: statement 0 is DDL"));
    dsql_conn_get_stats(conn, &after);
    assert_int_equal(after.statements, before.statements);
    assert_int_equal(admin_long("SELECT count(*) FROM pg_class WHERE relname = '%s_x'", t), 0);
    /* One DDL statement with reads is one transaction DSQL accepts. */
    dsql_stmt ddl_read[] = {{create, NULL, 0}, {"SELECT 1", NULL, 0}};
    assert_dsql_ok(dsql_pipeline_tx(pool, ddl_read, 2, NULL, NULL, &err), err);
    dsql_stmt d = {drop, NULL, 0};
    assert_dsql_ok(dsql_pipeline_tx(pool, &d, 1, NULL, NULL, &err), err);
    dsql_conn_close(conn);
    dsql_pool_close(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transaction_retries_unavailable),
        cmocka_unit_test(persistent_unavailable_gives_up),
        cmocka_unit_test(autocommit_read_retried_write_unknown),
        cmocka_unit_test(unavailable_at_commit_is_unknown_outcome),
        cmocka_unit_test(pipeline_statement_unavailable_is_retried),
        cmocka_unit_test(row_limit_says_what_to_do),
        cmocka_unit_test(pipeline_row_limit_names_the_cap),
        cmocka_unit_test(one_transaction_ddl_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
