/*
 * Every transaction the library opens runs at snapshot (repeatable read) isolation, as on
 * Aurora DSQL, even on a PostgreSQL whose default is READ COMMITTED: there, a plain BEGIN
 * loses read-modify-write updates without any error (875 of 1,600 were lost that way).
 * The tests run against a database whose default_transaction_isolation is read committed.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local, whose sessions are all REPEATABLE READ. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn_util.h"

enum { THREADS = 8, PER_THREAD = 200 };

static char db[64];

static int setup(void **state)
{
    (void)state;
    snprintf(db, sizeof db, "iso_rc_%d", (int)getpid());
    admin_exec("DROP DATABASE IF EXISTS %s", db);
    admin_exec("CREATE DATABASE %s", db);
    admin_exec("ALTER DATABASE %s SET default_transaction_isolation TO 'read committed'", db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    return 0;
}

/* The isolation level of the transaction the body runs in. */
static int read_level(dsql_conn *conn, void *ctx, dsql_error *err)
{
    dsql_result *res;
    int rc = dsql_conn_query(conn, "SHOW transaction_isolation", NULL, 0, &res, err);
    if (rc)
        return rc;
    snprintf(ctx, 32, "%s", dsql_result_text(res, 0, 0));
    dsql_result_free(res);
    return DSQL_OK;
}

static void server_default_is_read_committed(dsql_pool *pool)
{
    dsql_result *res;
    dsql_error err;
    assert_dsql_ok(
        dsql_pool_query(pool, "SHOW default_transaction_isolation", NULL, 0, NULL, &res, &err),
        err);
    assert_string_equal(dsql_result_text(res, 0, 0), "read committed");
    dsql_result_free(res);
}

static void every_runner_is_repeatable_read(void **state)
{
    (void)state;
    dsql_pool *pool = TEST_POOL(.database = db);
    server_default_is_read_committed(pool);
    dsql_error err;
    char level[32] = "";
    assert_dsql_ok(dsql_transaction(pool, read_level, level, NULL, NULL, &err), err);
    assert_string_equal(level, "repeatable read");

    dsql_conn *conn = TEST_CONN(.database = db);
    strcpy(level, "");
    assert_dsql_ok(dsql_conn_transaction(conn, read_level, level, NULL, NULL, &err), err);
    assert_string_equal(level, "repeatable read");

    /* A pipelined transaction, on a pool and on a connection. */
    dsql_stmt show = {"SELECT current_setting('transaction_isolation')", NULL, 0};
    dsql_db *handles[] = {DSQL_DB(pool), DSQL_DB(conn)};
    for (size_t i = 0; i < 2; i++) {
        dsql_result *res = NULL;
        assert_dsql_ok(dsql_pipeline_tx(handles[i], &show, 1, &res, NULL, &err), err);
        assert_string_equal(dsql_result_text(res, 0, 0), "repeatable read");
        dsql_result_free(res);
    }
    dsql_conn_close(conn);
    dsql_pool_close(pool);
}

typedef struct shared {
    dsql_pool *pool;
    atomic_long committed, attempts, failures;
} shared;

static int bump(dsql_conn *conn, void *arg, dsql_error *err)
{
    (void)arg;
    int64_t v;
    int rc = conn_query_int(conn, "SELECT v FROM counter WHERE id = 1", NULL, 0, &v, err);
    if (rc)
        return rc;
    dsql_value p = DSQL_INT(v + 1);
    return dsql_conn_query(conn, "UPDATE counter SET v = $1 WHERE id = 1", &p, 1, NULL, err);
}

static void *worker(void *arg)
{
    shared *sh = arg;
    dsql_retry_policy policy = {.max_retries = 100000,
                                .base_delay_ms = 1,
                                .multiplier = 1.5,
                                .max_delay_ms = 20,
                                .jitter = 1.0};
    for (int i = 0; i < PER_THREAD; i++) {
        int attempts = 0;
        dsql_error err;
        int rc = dsql_transaction(sh->pool, bump, NULL, &policy, &attempts, &err);
        atomic_fetch_add(&sh->attempts, attempts);
        if (rc == DSQL_OK)
            atomic_fetch_add(&sh->committed, 1);
        else
            atomic_fetch_add(&sh->failures, 1);
    }
    return NULL;
}

/* 8 threads x 200 read-modify-write increments of one row: none lost. */
static void no_lost_updates_on_read_committed_server(void **state)
{
    (void)state;
    PGconn *pg;
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "%s dbname=%s", tu_conninfo(), db);
    pg = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    pg_ok(pg, "CREATE TABLE counter (id int PRIMARY KEY, v bigint NOT NULL)");
    pg_ok(pg, "INSERT INTO counter VALUES (1, 0)");

    dsql_pool_options o = {.max = THREADS};
    shared sh = {.pool = TEST_POOL(.database = db, .options = &o)};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, &sh);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    long v = pg_long(pg, "SELECT v FROM counter WHERE id = 1");
    print_message("read committed server: %d increments, %ld landed, %ld lost, %ld retries\n",
                  THREADS * PER_THREAD, v, THREADS * PER_THREAD - v,
                  atomic_load(&sh.attempts) - THREADS * PER_THREAD);
    assert_int_equal(atomic_load(&sh.failures), 0);
    assert_int_equal(atomic_load(&sh.committed), THREADS * PER_THREAD);
    assert_int_equal(v, THREADS * PER_THREAD);
    dsql_pool_close(sh.pool);
    PQfinish(pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_runner_is_repeatable_read),
        cmocka_unit_test(no_lost_updates_on_read_committed_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
