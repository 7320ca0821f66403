/* Transactions through the pool: commit, rollback, OCC retry (deterministic), pipelined
 * transactions, dsql_db handles, and the single-statement helper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test uses DO blocks raising the service's errors by
 * hand. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn_util.h"

static char table[64]; /* one table per process, so parallel test runs do not collide */

static dsql_pool *open_pool(log_capture *cap, const dsql_pool_options *opts)
{
    return TEST_POOL(.application_name = "test_tx", .logs = cap, .options = opts);
}

static int setup(void **state)
{
    (void)state;
    snprintf(table, sizeof table, "tx_%d", (int)getpid());
    admin_exec("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, v bigint NOT NULL)",
               table, table);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    admin_exec("DROP TABLE IF EXISTS %s", table);
    return 0;
}

static long value_of(int id)
{
    return admin_long("SELECT v FROM %s WHERE id = %d", table, id);
}

/* ---- deterministic OCC conflict ---- */

typedef struct occ_ctx {
    int calls;
    int retries_seen;
    int64_t last_delay;
} occ_ctx;

static int occ_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    occ_ctx *c = arg;
    c->calls++;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT v FROM %s WHERE id = 1", table);
    int64_t v;
    int rc = conn_query_int(conn, sql, NULL, 0, &v, err);
    if (rc)
        return rc;
    if (c->calls == 1) /* T2 updates the row and commits after T1's snapshot */
        admin_exec("UPDATE %s SET v = v + 10 WHERE id = 1", table);
    snprintf(sql, sizeof sql, "UPDATE %s SET v = $1 WHERE id = 1", table);
    dsql_value p = DSQL_INT(v + 1);
    return dsql_conn_query(conn, sql, &p, 1, NULL, err);
}

static void on_retry(int attempt, const dsql_error *cause, int64_t delay_ms, void *ctx)
{
    occ_ctx *c = ctx;
    assert_int_equal(attempt, c->retries_seen + 1);
    assert_int_equal(cause->status, DSQL_ECONFLICT);
    assert_string_equal(cause->sqlstate, "40001");
    c->retries_seen++;
    c->last_delay = delay_ms;
}

static void occ_conflict_retried(void **state)
{
    (void)state;
    admin_exec("INSERT INTO %s VALUES (1, 0)", table);
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = open_pool(&cap, NULL);
    occ_ctx c = {0};
    dsql_retry_policy policy = DSQL_RETRY_POLICY_INIT;
    policy.on_retry = on_retry;
    policy.on_retry_ctx = &c;
    int attempts = 0;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_transaction(pool, occ_body, &c, &policy, &attempts, &err), err);
    assert_int_equal(attempts, 2);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.retries_seen, 1);
    assert_in_range(c.last_delay, 100, 125); /* base 100 ms + up to 25 % jitter */
    assert_int_equal(value_of(1), 11);       /* T2's +10, then T1's +1 on the fresh read */
    assert_true(cap_has(&cap, "Transaction attempt 1 of 4 hit a conflict (40001); retrying in "));
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.transactions, 1);
    assert_int_equal(st.tx_retries, 1);
    dsql_pool_close(pool);
    cap_free(&cap);
}

/* Retries exhausted: DSQL_ECONFLICT, after exactly max_retries + 1 attempts. */
static int always_conflict(dsql_conn *conn, void *arg, dsql_error *err)
{
    (*(int *)arg)++;
    return dsql_conn_query(conn,
                           "DO $$BEGIN RAISE EXCEPTION 'change conflicts with another "
                           "transaction, please retry: (OC000)'; END$$",
                           NULL, 0, NULL, err);
}

static void occ_retries_exhausted(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_retry_policy policy = {.max_retries = 2, .base_delay_ms = 1, .max_delay_ms = 2};
    int calls = 0, attempts = 0;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, always_conflict, &calls, &policy, &attempts, &err),
                     DSQL_ECONFLICT);
    assert_int_equal(calls, 3);
    assert_int_equal(attempts, 3);
    assert_non_null(strstr(err.message, "gave up after 3 attempts: "));
    assert_non_null(strstr(err.message, "(OC000)"));
    policy.max_retries = -1;
    assert_int_equal(dsql_transaction(pool, always_conflict, &calls, &policy, &attempts, &err),
                     DSQL_ECONFLICT);
    assert_int_equal(attempts, 1);
    dsql_pool_close(pool);
}

/* ---- commit, rollback, non-retryable errors ---- */

typedef struct ins_ctx {
    int id;
    int fail_with; /* status to return after inserting, 0 = commit */
    int calls;
} ins_ctx;

static int insert_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    ins_ctx *c = arg;
    c->calls++;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ($1, 7)", table);
    dsql_value p = DSQL_INT(c->id);
    int rc = dsql_conn_query(conn, sql, &p, 1, NULL, err);
    if (rc)
        return rc;
    if (c->fail_with)
        return dsql_error_set(err, c->fail_with, "dsql_transaction: the body chose to fail");
    return DSQL_OK;
}

static void commit_and_rollback(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    int attempts;
    ins_ctx c = {.id = 100};
    assert_dsql_ok(dsql_transaction(pool, insert_body, &c, NULL, &attempts, &err), err);
    assert_int_equal(value_of(100), 7);

    /* The body's own error: rolled back, surfaced at once, not retried. */
    ins_ctx bad = {.id = 101, .fail_with = DSQL_EVALIDATION};
    assert_int_equal(dsql_transaction(pool, insert_body, &bad, NULL, &attempts, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message, "dsql_transaction: the body chose to fail");
    assert_int_equal(bad.calls, 1);
    assert_int_equal(attempts, 1);
    assert_int_equal(admin_long("SELECT count(*) FROM %s WHERE id = 101", table), 0);

    /* A server error (duplicate key) is not retried either. */
    ins_ctx dup = {.id = 100};
    assert_int_equal(dsql_transaction(pool, insert_body, &dup, NULL, &attempts, &err),
                     DSQL_ECONSTRAINT);
    assert_int_equal(dup.calls, 1);
    assert_string_equal(err.sqlstate, "23505");

    /* Every connection came back clean. */
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.discards, 0);
    assert_int_equal(dsql_transaction(pool, NULL, NULL, NULL, &attempts, &err), DSQL_EINVAL);
    dsql_retry_policy badp = {.max_retries = -2};
    assert_int_equal(dsql_transaction(pool, insert_body, &c, &badp, &attempts, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "max_retries must be"));
    assert_int_equal(dsql_transaction(NULL, insert_body, &c, NULL, &attempts, &err), DSQL_EINVAL);
    dsql_pool_close(pool);
}

static int empty_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    (void)conn;
    (void)err;
    return *(int *)arg;
}

static int two_inserts_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    ins_ctx *c = arg;
    int rc = insert_body(conn, arg, err);
    c->id++;
    return rc ? rc : insert_body(conn, arg, err);
}

/* BEGIN rides with the body's first statement: a one-statement transaction is two round
 * trips (BEGIN + INSERT, COMMIT), a body that sends nothing none. */
static void begin_costs_no_round_trip(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    ins_ctx c = {.id = 900};
    assert_dsql_ok(dsql_transaction(pool, insert_body, &c, NULL, NULL, &err), err); /* warm */
    c.id = 901;
    pool_counters before = pool_counters_of(pool);
    assert_dsql_ok(dsql_transaction(pool, insert_body, &c, NULL, NULL, &err), err);
    assert_sent(pool, before, 2, 3);
    assert_int_equal(value_of(901), 7);
    c.id = 902;
    before = pool_counters_of(pool);
    assert_dsql_ok(dsql_transaction(pool, two_inserts_body, &c, NULL, NULL, &err), err);
    assert_sent(pool, before, 3, 4);
    assert_int_equal(admin_long("SELECT count(*) FROM %s WHERE id IN (902, 903)", table), 2);
    int ok = DSQL_OK, bad = DSQL_EVALIDATION;
    before = pool_counters_of(pool);
    assert_dsql_ok(dsql_transaction(pool, empty_body, &ok, NULL, NULL, &err), err);
    assert_int_equal(dsql_transaction(pool, empty_body, &bad, NULL, NULL, &err), DSQL_EVALIDATION);
    assert_sent(pool, before, 0, 0);
    /* The body's failed first statement: the BEGIN went with it, and is rolled back. */
    ins_ctx dup = {.id = 901};
    assert_int_equal(dsql_transaction(pool, insert_body, &dup, NULL, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.discards, 0);
    /* The connection is usable and outside any transaction afterwards. */
    c.id = 904;
    assert_dsql_ok(dsql_transaction(pool, insert_body, &c, NULL, NULL, &err), err);
    assert_int_equal(value_of(904), 7);
    dsql_pool_close(pool);
}

/* A body that swallows a failed statement and returns OK does not commit. */
static int swallow_body(dsql_conn *conn, void *arg, dsql_error *err)
{
    (void)arg;
    (void)err;
    dsql_error ignored;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (200, 1)", table);
    dsql_conn_query(conn, sql, NULL, 0, NULL, &ignored);
    dsql_conn_query(conn, "SELECT 1/0", NULL, 0, NULL, &ignored);
    return DSQL_OK;
}

static void swallowed_error_not_committed(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_transaction(pool, swallow_body, NULL, NULL, NULL, &err), DSQL_ESERVER);
    assert_non_null(strstr(err.message, "the body returned DSQL_OK"));
    assert_int_equal(admin_long("SELECT count(*) FROM %s WHERE id = 200", table), 0);
    dsql_pool_close(pool);
}

/* A statement given fewer parameters than it has $n: the server answers 08P01 on a live
 * connection. That is the caller's mistake, reported once as a server error: never
 * retried as a lost connection, never an unknown outcome, and the connection stays. */
static int short_params_body(dsql_conn *conn, void *ctx, dsql_error *err)
{
    (*(int *)ctx)++;
    return dsql_conn_query(conn, "SELECT $1::int", NULL, 0, NULL, err);
}

static void missing_parameters_not_retried(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    int calls = 0, attempts = 0;
    assert_int_equal(dsql_transaction(pool, short_params_body, &calls, NULL, &attempts, &err),
                     DSQL_ESERVER);
    assert_int_equal(calls, 1);
    assert_int_equal(attempts, 1);
    assert_string_equal(err.sqlstate, "08P01");
    assert_string_equal(err.message, "dsql_conn_query: bind message supplies 0 parameters, but "
                                     "prepared statement \"\" requires 1");
    dsql_stmt st[] = {{"SELECT $1::int", NULL, 0}};
    assert_int_equal(dsql_pipeline_tx(pool, st, 1, NULL, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "08P01");
    assert_non_null(strstr(err.message, "statement 0 of 1: bind message supplies 0 parameters"));
    assert_int_equal(dsql_pool_query(pool, "SELECT $1::int", NULL, 0, NULL, NULL, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "08P01");
    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    assert_int_equal(s.connects, 1);
    assert_int_equal(s.discards, 0);
    assert_int_equal(s.tx_retries, 0);
    dsql_pool_close(pool);
}

/* ---- pipelined transactions ---- */

static void pipeline_tx_pool_and_conn(void **state)
{
    (void)state;
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    char ins[128], sel[128];
    snprintf(ins, sizeof ins, "INSERT INTO %s VALUES ($1, $2)", table);
    snprintf(sel, sizeof sel, "SELECT sum(v) FROM %s WHERE id BETWEEN 300 AND 399", table);
    dsql_value a[] = {DSQL_INT(300), DSQL_INT(1)}, b[] = {DSQL_INT(301), DSQL_INT(2)};
    dsql_stmt stmts[] = {{ins, a, 2}, {ins, b, 2}, {sel, NULL, 0}};
    dsql_result *res[3];
    dsql_conn *probe;
    assert_dsql_ok(dsql_pool_acquire(pool, &probe, &err), err);
    dsql_conn_stats before, after;
    dsql_conn_get_stats(probe, &before);
    dsql_pool_release(pool, probe);
    assert_dsql_ok(dsql_pipeline_tx(pool, stmts, 3, res, NULL, &err), err);
    assert_string_equal(dsql_result_text(res[2], 0, 0), "3");
    for (int i = 0; i < 3; i++)
        dsql_result_free(res[i]);
    assert_dsql_ok(dsql_pool_acquire(pool, &probe, &err), err);
    dsql_conn_get_stats(probe, &after);
    /* BEGIN + 3 + COMMIT in ONE round trip (the pool's single idle connection again). */
    assert_int_equal(after.round_trips - before.round_trips, 1);
    assert_int_equal(after.statements - before.statements, 5);

    /* On a connection inside a transaction: only the statements; the caller commits. */
    assert_dsql_ok(dsql_conn_query(probe, "BEGIN", NULL, 0, NULL, &err), err);
    dsql_value c[] = {DSQL_INT(302), DSQL_INT(4)};
    dsql_stmt one[] = {{ins, c, 2}};
    assert_dsql_ok(dsql_pipeline_tx(probe, one, 1, NULL, NULL, &err), err);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(probe)), PQTRANS_INTRANS);
    assert_dsql_ok(dsql_conn_query(probe, "ROLLBACK", NULL, 0, NULL, &err), err);
    /* On an idle connection: its own BEGIN/COMMIT. */
    assert_dsql_ok(dsql_pipeline_tx(probe, one, 1, NULL, NULL, &err), err);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(probe)), PQTRANS_IDLE);
    assert_int_equal(value_of(302), 4);

    /* A failing statement: named by its index among the caller's statements, nothing kept. */
    dsql_value d[] = {DSQL_INT(303), DSQL_INT(5)};
    dsql_stmt dup[] = {{ins, d, 2}, {ins, c, 2}};
    assert_int_equal(dsql_pipeline_tx(probe, dup, 2, res, NULL, &err), DSQL_ECONSTRAINT);
    assert_non_null(strstr(err.message, "statement 1 of 2: duplicate key"));
    assert_null(res[0]);
    assert_null(res[1]);
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(probe)), PQTRANS_IDLE);
    assert_int_equal(admin_long("SELECT count(*) FROM %s WHERE id = 303", table), 0);
    dsql_pool_release(pool, probe);
    /* Something else passed as a handle: refused at run time (the parenthesized name
     * bypasses the compile-time check the call otherwise has). */
    int junk = 0;
    assert_int_equal((dsql_pipeline_tx)((dsql_db *)(void *)&junk, one, 1, NULL, NULL, &err),
                     DSQL_EINVAL);
    dsql_pool_close(pool);
}

/* A pipelined transaction that conflicts is retried whole. */
static void pipeline_tx_conflict_retried(void **state)
{
    (void)state;
    admin_exec("INSERT INTO %s VALUES (400, 0)", table);
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    /* A function that conflicts on its first call ever (sequences ignore rollbacks). */
    admin_exec("CREATE SEQUENCE IF NOT EXISTS %s_seq; "
               "CREATE OR REPLACE FUNCTION %s_once() RETURNS void LANGUAGE plpgsql AS $f$ "
               "BEGIN IF nextval('%s_seq') = 1 THEN RAISE EXCEPTION USING ERRCODE = '40001', "
               "MESSAGE = 'change conflicts with another transaction, please retry: (OC000)'; "
               "END IF; END $f$",
               table, table, table);
    char call[128], upd[128];
    snprintf(call, sizeof call, "SELECT %s_once()", table);
    snprintf(upd, sizeof upd, "UPDATE %s SET v = v + 1 WHERE id = 400", table);
    dsql_stmt stmts[] = {{upd, NULL, 0}, {call, NULL, 0}};
    dsql_retry_policy policy = {.base_delay_ms = 1};
    assert_dsql_ok(dsql_pipeline_tx(pool, stmts, 2, NULL, &policy, &err), err);
    assert_int_equal(value_of(400), 1); /* the first attempt's +1 was rolled back */
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.tx_retries, 1);
    admin_exec("DROP FUNCTION %s_once(); DROP SEQUENCE %s_seq", table, table);
    dsql_pool_close(pool);
}

/* ---- the single-statement helper ---- */

static void pool_query_retries(void **state)
{
    (void)state;
    admin_exec("CREATE SEQUENCE IF NOT EXISTS %s_q; "
               "CREATE OR REPLACE FUNCTION %s_twice() RETURNS bigint LANGUAGE plpgsql AS $f$ "
               "DECLARE n bigint := nextval('%s_q'); BEGIN IF n <= 2 THEN RAISE EXCEPTION USING "
               "ERRCODE = '40001', MESSAGE = 'conflict'; END IF; RETURN n; END $f$",
               table, table, table);
    dsql_pool *pool = open_pool(NULL, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    dsql_result *res;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s_twice()", table);
    dsql_retry_policy policy = {.base_delay_ms = 1};
    assert_dsql_ok(dsql_pool_query(pool, sql, NULL, 0, &policy, &res, &err), err);
    assert_string_equal(dsql_result_text(res, 0, 0), "3");
    dsql_result_free(res);
    assert_dsql_ok(dsql_pool_query(pool, "SELECT $1::int + 1", (dsql_value[]){DSQL_INT(1)}, 1, NULL,
                                   &res, &err),
                   err);
    assert_string_equal(dsql_result_text(res, 0, 0), "2");
    dsql_result_free(res);
    assert_int_equal(dsql_pool_query(pool, "SELEC", NULL, 0, NULL, &res, &err), DSQL_ESERVER);
    assert_null(res);
    admin_exec("DROP FUNCTION %s_twice(); DROP SEQUENCE %s_q", table, table);
    dsql_pool_close(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(occ_conflict_retried),
        cmocka_unit_test(occ_retries_exhausted),
        cmocka_unit_test(commit_and_rollback),
        cmocka_unit_test(begin_costs_no_round_trip),
        cmocka_unit_test(swallowed_error_not_committed),
        cmocka_unit_test(missing_parameters_not_retried),
        cmocka_unit_test(pipeline_tx_pool_and_conn),
        cmocka_unit_test(pipeline_tx_conflict_retried),
        cmocka_unit_test(pool_query_retries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
