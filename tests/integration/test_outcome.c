/*
 * Lost connections and transaction outcomes, made deterministic:
 *  - a deferred constraint trigger terminates its own backend while COMMIT runs (TLS on);
 *  - a proxy cuts the connection the moment the client sends COMMIT (sslmode=disable, so
 *    the proxy can see the statement text; the cut is on the client's own bytes, so there
 *    is no timing involved);
 *  - a proxy cuts a connection before COMMIT: nothing can have committed, so the runner
 *    retries on a fresh connection;
 *  - a proxy cuts an autocommit statement: a write may have been applied (unknown
 *    outcome, never retried), a read is run again on another pooled connection.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"
#include "proxy.h"

static char table[64];

static int setup(void **state)
{
    (void)state;
    snprintf(table, sizeof table, "outcome_%d", (int)getpid());
    admin_exec("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, die bool NOT NULL); "
               "CREATE FUNCTION %s_die() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
               "IF NEW.die THEN PERFORM pg_terminate_backend(pg_backend_pid()); "
               "PERFORM pg_sleep(5); END IF; RETURN NULL; END $f$; "
               "CREATE CONSTRAINT TRIGGER %s_die AFTER INSERT ON %s DEFERRABLE INITIALLY DEFERRED "
               "FOR EACH ROW EXECUTE FUNCTION %s_die()",
               table, table, table, table, table, table);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    admin_exec("DROP TABLE IF EXISTS %s; DROP FUNCTION IF EXISTS %s_die()", table, table);
    return 0;
}

static long rows_with_id(int id)
{
    return admin_long("SELECT count(*) FROM %s WHERE id = %d", table, id);
}

typedef struct body {
    int id;
    bool die;
    const char *marker; /* an extra statement (the proxy may cut on it) */
    int calls;
} body;

static int insert_body(dsql_conn *conn, void *ctx, dsql_error *err)
{
    body *b = ctx;
    b->calls++;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ($1, $2)", table);
    dsql_value p[] = {DSQL_INT(b->id), DSQL_BOOL(b->die)};
    int rc = dsql_conn_query(conn, sql, p, 2, NULL, err);
    if (rc == DSQL_OK && b->marker)
        rc = dsql_conn_query(conn, b->marker, NULL, 0, NULL, err);
    return rc;
}

static dsql_pool *pool_on(int port, const char *sslmode, log_capture *cap)
{
    return TEST_POOL(.port = port, .sslmode = sslmode, .logs = cap);
}

static void backend_dies_during_commit(void **state)
{
    (void)state;
    dsql_pool *pool = pool_on(atoi(tu_env("PGPORT")), NULL, NULL);
    body b = {.id = 1, .die = true};
    int attempts = 0;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, insert_body, &b, NULL, &attempts, &err),
                     DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(attempts, 1); /* never retried blindly */
    assert_int_equal(b.calls, 1);
    assert_non_null(strstr(err.message, "connection lost while COMMIT was in flight: the "
                                        "transaction may or may not have committed"));
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.discards, 1);
    /* The pool goes on with a fresh connection. */
    b = (body){.id = 2};
    assert_dsql_ok(dsql_transaction(pool, insert_body, &b, NULL, &attempts, &err), err);
    assert_int_equal(rows_with_id(2), 1);
    dsql_pool_close(pool);
}

static void connection_cut_at_commit(void **state)
{
    (void)state;
    proxy px = {.cut_on = "COMMIT"};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    dsql_pool *pool = pool_on(px.port, "disable", NULL);
    body b = {.id = 10};
    int attempts = 0;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, insert_body, &b, NULL, &attempts, &err),
                     DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(attempts, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(atomic_load(&px.cuts), 1);
    /* Here the server never saw COMMIT, so nothing landed - which the client could not
     * know: that is what "unknown" means. */
    assert_int_equal(rows_with_id(10), 0);

    /* The same for a pipelined transaction: BEGIN, the insert and COMMIT leave together. */
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ($1, false)", table);
    dsql_value p[] = {DSQL_INT(11)};
    dsql_stmt stmts[] = {{sql, p, 1}};
    assert_int_equal(dsql_pipeline_tx(pool, stmts, 1, NULL, NULL, &err), DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(err.message, "connection lost during a pipelined transaction"));
    assert_int_equal(atomic_load(&px.cuts), 2);
    dsql_pool_close(pool);
    proxy_stop(&px);
}

static void connection_lost_before_commit_is_retried(void **state)
{
    (void)state;
    proxy px = {.cut_on = "cut-here", .cut_limit = 1};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = pool_on(px.port, "disable", &cap);
    body b = {.id = 20, .marker = "SELECT 'cut-here'"};
    int attempts = 0;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_retry_policy policy = {.base_delay_ms = 1};
    assert_dsql_ok(dsql_transaction(pool, insert_body, &b, &policy, &attempts, &err), err);
    assert_int_equal(attempts, 2);
    assert_int_equal(b.calls, 2);
    assert_int_equal(rows_with_id(20), 1); /* exactly once */
    assert_true(cap_has(&cap, "Transaction attempt 1 of 4 lost its connection"));
    /* dsql_conn_transaction has no other connection: the loss is reported. */
    dsql_conn *conn = TEST_CONN(.port = px.port, .sslmode = "disable");
    atomic_store(&px.cuts, 0);
    b = (body){.id = 21, .marker = "SELECT 'cut-here'"};
    assert_int_equal(dsql_conn_transaction(conn, insert_body, &b, &policy, &attempts, &err),
                     DSQL_ECONNLOST);
    assert_int_equal(attempts, 1);
    assert_int_equal(rows_with_id(21), 0);
    dsql_conn_close(conn);
    dsql_pool_close(pool);
    proxy_stop(&px);
    cap_free(&cap);
}

static void autocommit_statements_lost(void **state)
{
    (void)state;
    char sql[160];
    dsql_error err = DSQL_ERROR_INIT;

    /* A write in autocommit, cut on its own bytes: the server may or may not have applied
     * it, and it is not retried (here it did not land, as the server never saw it). */
    proxy px = {.cut_on = "/* cut-write */"};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = pool_on(px.port, "disable", &cap);
    snprintf(sql, sizeof sql, "/* cut-write */ INSERT INTO %s VALUES (30, false)", table);
    assert_int_equal(dsql_pool_query(pool, sql, NULL, 0, NULL, NULL, &err), DSQL_EUNKNOWN_OUTCOME);
    assert_int_equal(err.status, DSQL_EUNKNOWN_OUTCOME);
    assert_non_null(strstr(err.message, "connection lost while an autocommit statement that "
                                        "writes was in flight: it may or may not have been "
                                        "applied"));
    assert_int_equal(atomic_load(&px.cuts), 1); /* one attempt only */
    assert_int_equal(rows_with_id(30), 0);
    assert_false(cap_has(&cap, "lost its connection; retrying"));

    /* A read cut once is run again on another pooled connection, and succeeds. */
    proxy_stop(&px);
    dsql_pool_close(pool);
    px = (proxy){.cut_on = "cut-read", .cut_limit = 1};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    pool = pool_on(px.port, "disable", &cap);
    dsql_retry_policy quick = {.base_delay_ms = 1};
    dsql_result *res = NULL;
    assert_dsql_ok(dsql_pool_query(pool, "SELECT 'cut-read'", NULL, 0, &quick, &res, &err), err);
    assert_string_equal(dsql_result_text(res, 0, 0), "cut-read");
    dsql_result_free(res);
    assert_int_equal(atomic_load(&px.cuts), 1);
    assert_true(cap_has(&cap, "Statement attempt 1 of 4 lost its connection; retrying in "));

    dsql_pool_close(pool);
    proxy_stop(&px);

    /* The model layer's single statements take the same path. */
    px = (proxy){.cut_on = "cut-read", .cut_limit = 1};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    pool = pool_on(px.port, "disable", NULL);
    assert_dsql_ok(dsql_exec(pool, "SELECT 'cut-read', 1", NULL, 0, &res, &err), err);
    assert_string_equal(dsql_result_text(res, 0, 1), "1");
    dsql_result_free(res);
    assert_int_equal(atomic_load(&px.cuts), 1);
    dsql_pool_close(pool);
    proxy_stop(&px);

    /* On a standalone connection there is nothing to retry on: a lost read is reported
     * as such. */
    px = (proxy){.cut_on = "cut-read"};
    assert_true(proxy_start(&px, atoi(tu_env("PGPORT"))));
    dsql_conn *conn = TEST_CONN(.port = px.port, .sslmode = "disable");
    assert_int_equal(dsql_conn_query(conn, "SELECT 'cut-read', 2", NULL, 0, NULL, &err),
                     DSQL_ECONNLOST);
    assert_int_equal(atomic_load(&px.cuts), 1);
    dsql_conn_close(conn);
    proxy_stop(&px);
    cap_free(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backend_dies_during_commit),
        cmocka_unit_test(connection_cut_at_commit),
        cmocka_unit_test(connection_lost_before_commit_is_retried),
        cmocka_unit_test(autocommit_statements_lost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
