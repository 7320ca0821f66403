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

    /* With a sys.jobs relation the server is taken for DSQL. */
    pg_ok(pg, "CREATE VIEW sys.jobs AS SELECT 'j'::text AS job_id");
    assert_dsql_ok(dsql__server_is_dsql(conn, &is_dsql, &err), err);
    assert_true(is_dsql);
    pg_ok(pg, "DROP SCHEMA sys CASCADE");
    dsql_pool_release(pool, conn);
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
        cmocka_unit_test(hydrate_plain_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
