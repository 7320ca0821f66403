/*
 * White-box tests against the throwaway server: private entry points and internal state the
 * public API does not show. The integration tests (tests/integration) include only
 * <dsql/dsql.h>; the checks that need the library's private headers live here:
 *   - the dsql_db kind test and the transaction helper every model call goes through;
 *   - the wait for an asynchronous DDL job, and the server kind probe;
 *   - hydration of a result the caller made with plain libpq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "conn/internal.h"
#include "integration/petclinic.h"
#include "model/ddl.h"
#include "model/internal.h"

#define DB "dsql_t_whitebox"

static log_capture logs;
static dsql_pool *pool;
static PGconn *pg; /* to the test database, for checks behind the library's back */

static int setup(void **state)
{
    (void)state;
    pc_create_db(DB);
    cap_init(&logs);
    /* PostgreSQL itself: the job wait is checked against a stand-in for sys.wait_for_job */
    pool = TEST_POOL(.plain = true, .database = DB, .application_name = "whitebox", .logs = &logs);
    pg = pc_pg(DB);
    pg_ok(pg, "CREATE TABLE handles (id int PRIMARY KEY, v bigint NOT NULL)");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_close(DB, pool, pg, &logs);
    return 0;
}

/* ---- db handles ---- */

static int db_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    (void)arg;
    return dsql_conn_query(conn, "INSERT INTO handles VALUES (500, 1)", NULL, 0, NULL, err);
}

static void db_handles(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    assert_true(dsql__db_is_pool(DSQL_DB(pool)));
    dsql_conn *conn;
    assert_dsql_ok(dsql__db_acquire(DSQL_DB(pool), &conn, &err), err);
    assert_false(dsql__db_is_pool(DSQL_DB(conn)));
    dsql_conn *same;
    assert_dsql_ok(dsql__db_acquire(DSQL_DB(conn), &same, &err), err);
    assert_ptr_equal(same, conn);
    dsql__db_release(DSQL_DB(conn), same); /* no-op for a connection */

    /* On a connection inside a transaction, the body joins it. */
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql__db_transaction(DSQL_DB(conn), db_body, NULL, &err), err);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(conn)), PQTRANS_INTRANS);
    assert_dsql_ok(dsql_conn_query(conn, "ROLLBACK", NULL, 0, NULL, &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM handles"), 0);
    /* On an idle connection, it gets its own transaction. */
    assert_dsql_ok(dsql__db_transaction(DSQL_DB(conn), db_body, NULL, &err), err);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(conn)), PQTRANS_IDLE);
    assert_int_equal(pg_long(pg, "SELECT v FROM handles WHERE id = 500"), 1);
    dsql__db_release(DSQL_DB(pool), conn);
    /* Through the pool. */
    pg_ok(pg, "DELETE FROM handles WHERE id = 500");
    assert_dsql_ok(dsql__db_transaction(DSQL_DB(pool), db_body, NULL, &err), err);
    assert_int_equal(pg_long(pg, "SELECT v FROM handles WHERE id = 500"), 1);

    dsql_log_fn fn;
    void *ctx;
    dsql__db_logger(DSQL_DB(pool), &fn, &ctx);
    assert_ptr_equal(fn, cap_log);
    assert_ptr_equal(ctx, &logs);
    int junk[4] = {0};
    assert_int_equal(dsql__db_acquire((dsql_db *)(void *)junk, &conn, &err), DSQL_EINVAL);
    assert_int_equal(dsql__db_transaction((dsql_db *)(void *)junk, db_body, NULL, &err),
                     DSQL_EINVAL);
}

/* ---- asynchronous DDL ---- */

/* The job wait of asynchronous DDL (CREATE INDEX ASYNC answers with a job id), against a
 * stand-in for DSQL's sys.wait_for_job, and the server kind probe. */
static void ddl_job_wait_and_probe(void **state)
{
    (void)state;
    dsql_conn *conn;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    bool is_dsql = true;
    assert_dsql_ok(dsql__server_is_dsql(conn, &is_dsql, &err), err);
    assert_false(is_dsql);

    pg_ok(pg, "CREATE SCHEMA sys");
    pg_ok(pg, "CREATE TABLE sys.waited (job text)");
    /* Its first call for 'slowjob1' ends as DSQL ends a transaction past its age limit. */
    pg_ok(pg, "CREATE SEQUENCE sys.slow");
    pg_ok(pg, "CREATE PROCEDURE sys.wait_for_job(IN job text, INOUT ok boolean DEFAULT NULL) "
              "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO sys.waited VALUES (job); "
              "IF job = 'slowjob1' AND nextval('sys.slow') = 1 THEN RAISE EXCEPTION "
              "'transaction age limit of 300s exceeded' USING ERRCODE = '54000'; END IF; "
              "ok := job <> 'failedjob1'; END $$");
    assert_dsql_ok(dsql__ddl_run(conn, "SELECT 'okjob1' AS job_id", &err), err);
    assert_rows(pg, "SELECT job FROM sys.waited", "okjob1\n");
    /* A wait cut by the transaction age limit is waited again. */
    assert_dsql_ok(dsql__ddl_run(conn, "SELECT 'slowjob1' AS job_id", &err), err);
    assert_rows(pg, "SELECT job FROM sys.waited", "okjob1\nslowjob1\n");
    assert_true(cap_has(&logs, "schema: job slowjob1 still running, waiting again"));
    pg_ok(pg, "DELETE FROM sys.waited WHERE job = 'slowjob1'");
    /* No job id (IF NOT EXISTS on an index already there): nothing to wait for. */
    assert_dsql_ok(dsql__ddl_run(conn, "SELECT NULL::text AS job_id", &err), err);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM sys.waited"), 1);
    /* A failed job is an error naming it. */
    assert_int_equal(dsql__ddl_run(conn, "SELECT 'failedjob1' AS job_id", &err), DSQL_ESERVER);
    assert_non_null(strstr(err.message, "job failedjob1 failed"));
    /* A job id that is not one is never written into SQL. */
    assert_int_equal(
        dsql__ddl_run(conn, "SELECT 'x''); DROP TABLE sys.waited; --' AS job_id", &err),
        DSQL_ESERVER);
    assert_non_null(strstr(err.message, "malformed job id"));
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM sys.waited"), 2);

    /* Several statements with jobs: the jobs are waited for together, one pipeline of
     * waits (one round trip), and each statement keeps its own outcome. */
    pg_ok(pg, "DELETE FROM sys.waited");
    dsql__ddl_item items[4] = {
        {.sql = "SELECT 'okjob2' AS job_id", .what = "first"},
        {.sql = "SELECT 'failedjob1' AS job_id", .what = "second"},
        {.sql = "SELECT 'x y' AS job_id", .what = "third"},
        {.sql = "SELECT 'okjob3' AS job_id", .what = "fourth"},
    };
    dsql_conn_stats before, after;
    dsql_conn_get_stats(conn, &before);
    size_t failed = 99;
    assert_int_equal(dsql__ddl_run_all(conn, items, 4, &failed, &err), DSQL_ESERVER);
    dsql_conn_get_stats(conn, &after);
    /* the statements; the three waits; sys.jobs read for the failed job's details */
    assert_int_equal(after.round_trips - before.round_trips, 3);
    assert_int_equal(failed, 1);
    assert_string_equal(err.message, "second: SELECT 'failedjob1' AS job_id...: job failedjob1 "
                                     "failed (sys.jobs has no details)");
    assert_int_equal(items[0].rc, DSQL_OK);
    assert_int_equal(items[1].rc, DSQL_ESERVER);
    assert_int_equal(items[2].rc, DSQL_ESERVER);
    assert_non_null(strstr(items[2].err.message, "third: SELECT 'x y' AS job_id...: the server "
                                                 "returned a malformed job id"));
    assert_int_equal(items[3].rc, DSQL_OK);
    assert_rows(pg, "SELECT job FROM sys.waited ORDER BY 1", "failedjob1\nokjob2\nokjob3\n");

    /* With a sys.jobs relation the server is taken for DSQL. */
    pg_ok(pg, "CREATE VIEW sys.jobs AS SELECT 'j'::text AS job_id");
    assert_dsql_ok(dsql__server_is_dsql(conn, &is_dsql, &err), err);
    assert_true(is_dsql);
    pg_ok(pg, "DROP SCHEMA sys CASCADE");
    dsql_pool_release(pool, conn);
}

/* The connection lost in the middle of a pipeline of separate transactions: what ran
 * before keeps its result; the statement that got no answer and every one after it (sent,
 * each with its Sync) are unknown outcomes when they write. */
static void ddl_pipeline_connection_lost(void **state)
{
    (void)state;
    dsql_conn *conn;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    dsql__each_stmt st[4] = {
        {.sql = "CREATE TABLE lost_a (id int)"},
        {.sql = "SELECT pg_terminate_backend(pg_backend_pid())"},
        {.sql = "CREATE TABLE lost_b (id int)"},
        {.sql = "SELECT 1"},
    };
    int rc = dsql__conn_exec_each(conn, st, 4, &err);
    assert_int_equal(rc, st[1].rc);
    assert_int_equal(st[0].rc, DSQL_OK);
    assert_non_null(st[0].res);
    PQclear(st[0].res);
    assert_int_equal(st[1].rc, DSQL_ECONNLOST);
    assert_int_equal(st[2].rc, DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(st[2].err.message, "may or may not have been applied"));
    assert_int_equal(st[3].rc, DSQL_ECONNLOST); /* a read: nothing to be unsure of */
    for (int i = 1; i < 4; i++)
        assert_null(st[i].res);
    assert_false(dsql_conn_ok(conn));
    dsql_pool_release(pool, conn); /* broken: the pool drops it */
    assert_rows(pg,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name LIKE 'lost%' ORDER BY 1",
                "lost_a\n");

    /* Inside a transaction: refused before anything is sent. */
    assert_dsql_ok(dsql_pool_acquire(pool, &conn, &err), err);
    assert_dsql_ok(dsql_conn_query(conn, "BEGIN", NULL, 0, NULL, &err), err);
    dsql__each_stmt one = {.sql = "CREATE TABLE lost_c (id int)"};
    assert_int_equal(dsql__conn_exec_each(conn, &one, 1, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "need a connection outside any transaction"));
    dsql_pool_release(pool, conn); /* rolled back */
}

/* ---- hydration ---- */

/* Hydration straight from a result the caller got with plain libpq. */
static void hydrate_plain_result(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *wrapped =
        dsql__result_new(PQexec(pg, "SELECT name FROM (VALUES ('Cats'), ('Dogs'), ('Exotic')) "
                                    "v(name) ORDER BY name"));
    assert_dsql_ok(dsql__hydrate_by_name(wrapped, &specialty_model, &err), err);
    size_t n;
    specialty *rows = dsql_result_models(wrapped, &n);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].id, "Cats");
    assert_string_equal(rows[2].id, "Exotic");
    dsql_result_free(wrapped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(db_handles),
        cmocka_unit_test(ddl_job_wait_and_probe),
        cmocka_unit_test(ddl_pipeline_connection_lost),
        cmocka_unit_test(hydrate_plain_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
