/* The per-connection statement cache against the throwaway server: misses and hits,
 * exact statement and round-trip counts, LRU eviction with DEALLOCATE piggy-backed,
 * failed Parses never cached, statements gone stale after ALTER TABLE (re-run outside a
 * transaction, a retried conflict inside one, pipelines re-run without running anything
 * twice), DISCARD ALL, aborted transactions, parameter types, the cache switched off,
 * and the config checks. The tests use one throwaway database of their own. */
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test uses pg_prepared_statements, DEALLOCATE and
 * aggregates. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn/private.h" /* the cache's entry count */
#include "integration/petclinic.h"

#define DB "dsql_stmt_cache_test"

static dsql_conn *open_conn(int cache, log_capture *cap)
{
    return TEST_CONN(.database = DB, .statement_cache = cache, .logs = cap);
}

static dsql_conn_stats stats(dsql_conn *conn)
{
    dsql_conn_stats s;
    dsql_conn_get_stats(conn, &s);
    return s;
}

/* The prepared statements the server holds for conn, as "name=statement;..." sorted by
 * the statement's number (read behind the library's back: no counter moves). */
static char *server_statements(dsql_conn *conn)
{
    PGresult *r = PQexec(dsql_conn_pg(conn),
                         "SELECT coalesce(string_agg(name || '=' || statement, ';' ORDER BY "
                         "substr(name, 6)::int), '') FROM pg_prepared_statements");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("pg_prepared_statements: %s\n", PQerrorMessage(dsql_conn_pg(conn)));
        fail();
    }
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_non_null(s);
    return s;
}

#define assert_server_statements(conn, expected)                                                   \
    do {                                                                                           \
        char *got_ = server_statements(conn);                                                      \
        assert_string_equal(got_, (expected));                                                     \
        free(got_);                                                                                \
    } while (0)

/* Runs sql with params and returns the first value of the first row (copied into buf);
 * fails the test on error. */
static const char *value(dsql_conn *conn, const char *sql, const dsql_value *p, size_t n, char *buf,
                         size_t size)
{
    dsql_result *res = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn, sql, p, n, &res, &err), err);
    snprintf(buf, size, "%s",
             dsql_result_is_null(res, 0, 0) ? "NULL" : dsql_result_text(res, 0, 0));
    dsql_result_free(res);
    return buf;
}

static void exec_ok(dsql_conn *conn, const char *sql)
{
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), err);
}

#define assert_delta(after, before, field, n) assert_int_equal((after).field - (before).field, (n))

static void misses_then_hits(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = open_conn(0, &cap);
    char buf[64];
    const char *sql = "SELECT $1::int8 + 1";
    dsql_conn_stats s0 = stats(conn);

    /* First run: unnamed, nothing left on the server. */
    assert_string_equal(value(conn, sql, (dsql_value[]){DSQL_INT(1)}, 1, buf, sizeof buf), "2");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, statements, 1);
    assert_delta(s1, s0, round_trips, 1);
    assert_delta(s1, s0, prepared, 0);
    assert_delta(s1, s0, cache_hits, 0);
    assert_server_statements(conn, "");

    /* Second run: Parse + Bind/Execute, still one round trip. */
    assert_string_equal(value(conn, sql, (dsql_value[]){DSQL_INT(2)}, 1, buf, sizeof buf), "3");
    dsql_conn_stats s2 = stats(conn);
    assert_delta(s2, s1, statements, 1);
    assert_delta(s2, s1, round_trips, 1);
    assert_delta(s2, s1, prepared, 1);
    assert_delta(s2, s1, cache_hits, 0);
    assert_server_statements(conn, "dsql_1=SELECT $1::int8 + 1");

    /* From then on: Bind/Execute of the cached statement. */
    for (int i = 3; i < 10; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i + 1);
        assert_string_equal(value(conn, sql, (dsql_value[]){DSQL_INT(i)}, 1, buf, sizeof buf),
                            want);
    }
    dsql_conn_stats s3 = stats(conn);
    assert_delta(s3, s2, statements, 7);
    assert_delta(s3, s2, round_trips, 7);
    assert_delta(s3, s2, prepared, 0);
    assert_delta(s3, s2, cache_hits, 7);
    assert_delta(s3, s2, deallocated, 0);
    assert_server_statements(conn, "dsql_1=SELECT $1::int8 + 1");

    /* Log lines are the usual ones; a cached run says so. */
    assert_int_equal(cap_count(&cap, "Executing: SELECT $1::int8 + 1 (1 param, "), 9);
    assert_int_equal(cap_count(&cap, "ms, cached)"), 7);

    /* Transaction control, session commands and DDL are never prepared. */
    for (int i = 0; i < 3; i++) {
        exec_ok(conn, "BEGIN");
        exec_ok(conn, "COMMIT");
        exec_ok(conn, "SET application_name = 'x'");
        exec_ok(conn, "CREATE TABLE IF NOT EXISTS never_prepared (a int)");
    }
    assert_delta(stats(conn), s3, prepared, 0);
    assert_server_statements(conn, "dsql_1=SELECT $1::int8 + 1");
    dsql_conn_close(conn);
    cap_free(&cap);
}

static void lru_eviction_deallocates(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    /* The capacity through the conninfo keyword. */
    char ci[1400];
    snprintf(ci, sizeof ci, "%s statement_cache=2", pc_conninfo(DB));
    assert_dsql_ok(dsql_config_parse(&cfg, ci, &err), err);
    assert_int_equal(cfg.statement_cache, 2);
    dsql_conn *conn = NULL;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    dsql_config_clear(&cfg);
    char buf[16];
    for (int i = 0; i < 2; i++) {
        assert_string_equal(value(conn, "SELECT 'a'", NULL, 0, buf, sizeof buf), "a");
        assert_string_equal(value(conn, "SELECT 'b'", NULL, 0, buf, sizeof buf), "b");
    }
    assert_server_statements(conn, "dsql_1=SELECT 'a';dsql_2=SELECT 'b'");
    dsql_conn_stats s0 = stats(conn);

    /* A third statement takes a slot: 'a', the least recently used, is evicted, and its
     * DEALLOCATE rides along with the next round trip. */
    assert_string_equal(value(conn, "SELECT 'c'", NULL, 0, buf, sizeof buf), "c");
    assert_int_equal(conn->stmts.count, 2);
    assert_server_statements(conn, "dsql_1=SELECT 'a';dsql_2=SELECT 'b'");
    assert_string_equal(value(conn, "SELECT 'c'", NULL, 0, buf, sizeof buf), "c");
    assert_server_statements(conn, "dsql_2=SELECT 'b';dsql_3=SELECT 'c'");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, statements, 2);
    assert_delta(s1, s0, round_trips, 2);
    assert_delta(s1, s0, prepared, 1);
    assert_delta(s1, s0, deallocated, 1);

    /* 'b' is a hit and becomes the most recent. Inside a transaction, 'a' comes back and
     * evicts 'c', whose DEALLOCATE waits for the next round trip outside the transaction
     * (a DEALLOCATE the server refused must not abort the caller's transaction). */
    assert_string_equal(value(conn, "SELECT 'b'", NULL, 0, buf, sizeof buf), "b");
    exec_ok(conn, "BEGIN");
    assert_string_equal(value(conn, "SELECT 'a'", NULL, 0, buf, sizeof buf), "a");
    assert_string_equal(value(conn, "SELECT 'a'", NULL, 0, buf, sizeof buf), "a");
    exec_ok(conn, "COMMIT");
    assert_server_statements(conn, "dsql_2=SELECT 'b';dsql_3=SELECT 'c';dsql_4=SELECT 'a'");
    assert_string_equal(value(conn, "SELECT 'b'", NULL, 0, buf, sizeof buf), "b");
    assert_server_statements(conn, "dsql_2=SELECT 'b';dsql_4=SELECT 'a'");
    dsql_conn_stats s2 = stats(conn);
    assert_delta(s2, s1, statements, 6);
    assert_delta(s2, s1, round_trips, 6);
    assert_delta(s2, s1, cache_hits, 2);
    assert_delta(s2, s1, prepared, 1);
    assert_delta(s2, s1, deallocated, 1);
    dsql_conn_close(conn);
}

static void failed_parse_not_cached(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    dsql_conn *plain = open_conn(-1, NULL);
    dsql_error err = DSQL_ERROR_INIT, err_plain = DSQL_ERROR_INIT;
    /* A syntax error: the same error with and without the cache, never cached. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dsql_conn_query(conn, "SELEC 1", NULL, 0, NULL, &err), DSQL_ESERVER);
        assert_int_equal(dsql_conn_query(plain, "SELEC 1", NULL, 0, NULL, &err_plain),
                         DSQL_ESERVER);
        assert_string_equal(err.sqlstate, "42601");
        assert_string_equal(err.message, err_plain.message);
    }
    /* A statement whose Parse fails on its second run (the table went away): the error is
     * the statement's own, nothing is cached, and it is prepared afresh later. */
    exec_ok(conn, "DROP TABLE IF EXISTS gone");
    exec_ok(conn, "CREATE TABLE gone (a int)");
    char buf[16];
    dsql_conn_stats s0 = stats(conn);
    assert_string_equal(value(conn, "SELECT count(*) FROM gone", NULL, 0, buf, sizeof buf), "0");
    exec_ok(conn, "DROP TABLE gone");
    assert_int_equal(dsql_conn_query(conn, "SELECT count(*) FROM gone", NULL, 0, NULL, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "42P01");
    assert_string_equal(err.message, "dsql_conn_query: relation \"gone\" does not exist");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, statements, 3);
    assert_delta(s1, s0, round_trips, 3);
    assert_delta(s1, s0, prepared, 0);
    assert_server_statements(conn, "");
    exec_ok(conn, "CREATE TABLE gone (a int)");
    for (int i = 0; i < 3; i++)
        assert_string_equal(value(conn, "SELECT count(*) FROM gone", NULL, 0, buf, sizeof buf),
                            "0");
    dsql_conn_stats s2 = stats(conn);
    assert_delta(s2, s1, prepared, 1);
    assert_delta(s2, s1, cache_hits, 1);
    assert_server_statements(conn, "dsql_2=SELECT count(*) FROM gone");
    exec_ok(conn, "DROP TABLE gone");

    /* An error at Execute leaves the statement prepared and usable. */
    exec_ok(conn, "DROP TABLE IF EXISTS uniq");
    exec_ok(conn, "CREATE TABLE uniq (k int PRIMARY KEY)");
    const char *ins = "INSERT INTO uniq (k) VALUES ($1)";
    for (int k = 1; k <= 2; k++)
        assert_dsql_ok(dsql_conn_query(conn, ins, &DSQL_INT(k), 1, NULL, &err), err);
    dsql_conn_stats s3 = stats(conn);
    assert_int_equal(dsql_conn_query(conn, ins, &DSQL_INT(1), 1, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(err.sqlstate, "23505");
    assert_dsql_ok(dsql_conn_query(conn, ins, &DSQL_INT(3), 1, NULL, &err), err);
    dsql_conn_stats s4 = stats(conn);
    assert_delta(s4, s3, cache_hits, 2);
    assert_delta(s4, s3, prepared, 0);
    assert_server_statements(conn, "dsql_2=SELECT count(*) FROM gone;dsql_3=INSERT INTO uniq (k) "
                                   "VALUES ($1)");
    exec_ok(conn, "DROP TABLE uniq");
    dsql_conn_close(conn);
    dsql_conn_close(plain);
}

/* Until a Parse has succeeded on a connection, nothing is prepared inside a transaction
 * (a server refusing named statements must not abort the caller's transaction); after,
 * statements are prepared there too, and outlive a rollback (they are not transactional). */
static void proven_before_transactions(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    char buf[16];
    exec_ok(conn, "BEGIN");
    for (int i = 0; i < 3; i++)
        assert_string_equal(value(conn, "SELECT 1 AS in_tx", NULL, 0, buf, sizeof buf), "1");
    exec_ok(conn, "COMMIT");
    assert_server_statements(conn, "");
    for (int i = 0; i < 2; i++)
        assert_string_equal(value(conn, "SELECT 2 AS autocommit", NULL, 0, buf, sizeof buf), "2");
    exec_ok(conn, "BEGIN");
    assert_string_equal(value(conn, "SELECT 1 AS in_tx", NULL, 0, buf, sizeof buf), "1");
    exec_ok(conn, "ROLLBACK");
    assert_server_statements(conn, "dsql_1=SELECT 2 AS autocommit;dsql_2=SELECT 1 AS in_tx");
    dsql_conn_stats s = stats(conn);
    assert_int_equal(s.prepared, 2);
    assert_int_equal(s.cache_hits, 0);
    dsql_conn_close(conn);
}

static int select_in_runner(dsql_conn *conn, void *ctx, dsql_error *err)
{
    dsql_result *res = NULL;
    int rc = dsql_conn_query(conn, ctx, NULL, 0, &res, err);
    dsql_result_free(res);
    return rc;
}

/* The first statement of a runner's transaction goes out with its BEGIN, before anything
 * of the transaction ran: it may prove the connection, so a connection that only ever runs
 * transactions prepares its statements too. */
static void runner_transactions_use_the_cache(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    for (int i = 0; i < 4; i++)
        assert_dsql_ok(
            dsql_conn_transaction(conn, select_in_runner, "SELECT 1 AS runner", NULL, NULL, &err),
            err);
    assert_server_statements(conn, "dsql_1=SELECT 1 AS runner");
    dsql_conn_stats s = stats(conn);
    assert_int_equal(s.prepared, 1);
    assert_int_equal(s.cache_hits, 2);
    dsql_conn_close(conn);
}

static int cols_of(dsql_conn *conn, const char *sql, dsql_error *err)
{
    dsql_result *res = NULL;
    int rc = dsql_conn_query(conn, sql, NULL, 0, &res, err);
    int cols = rc ? -rc : (int)dsql_result_cols(res);
    dsql_result_free(res);
    return cols;
}

typedef struct star_ctx {
    int calls;
    int cols;
} star_ctx;

static int body_select_star(dsql_conn *conn, void *ctx, dsql_error *err)
{
    star_ctx *c = ctx;
    c->calls++;
    dsql_result *res = NULL;
    int rc = dsql_conn_query(conn, "SELECT * FROM shape", NULL, 0, &res, err);
    if (!rc)
        c->cols = (int)dsql_result_cols(res);
    dsql_result_free(res);
    return rc;
}

static int body_one_then_star(dsql_conn *conn, void *ctx, dsql_error *err)
{
    int rc = dsql_conn_query(conn, "SELECT 1", NULL, 0, NULL, err);
    return rc ? rc : body_select_star(conn, ctx, err);
}

static bool star_on_server(dsql_conn *conn)
{
    char *s = server_statements(conn);
    bool found = strstr(s, "=SELECT * FROM shape") != NULL;
    free(s);
    return found;
}

static void prepare_star(dsql_conn *conn)
{
    dsql_error err = DSQL_ERROR_INIT;
    cols_of(conn, "SELECT * FROM shape", &err);
    cols_of(conn, "SELECT * FROM shape", &err);
    assert_true(star_on_server(conn));
}

/* A server that refuses named statements answers the connection's first Parse with
 * 0A000: the cache switches itself off for the connection and the statement runs again
 * unnamed. PostgreSQL takes named statements, so the refusal is staged: the statement runs
 * once, then its function becomes an aggregate, which FOR UPDATE refuses while the
 * statement is parsed (0A000 at Parse, and when run unnamed too). */
static void refused_first_parse_switches_off(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = open_conn(0, &cap);
    dsql_error err = DSQL_ERROR_INIT;
    exec_ok(conn, "DROP TABLE IF EXISTS lk");
    exec_ok(conn, "DROP AGGREGATE IF EXISTS lkf(int)");
    exec_ok(conn, "CREATE TABLE lk (a int)");
    exec_ok(conn, "CREATE OR REPLACE FUNCTION lkf(int) RETURNS int LANGUAGE sql AS 'SELECT $1'");
    const char *sql = "SELECT lkf(a) FROM lk FOR UPDATE";
    exec_ok(conn, sql);
    exec_ok(conn, "DROP FUNCTION lkf(int)");
    exec_ok(conn, "CREATE AGGREGATE lkf(int) (sfunc = int4larger, stype = int)");
    dsql_conn_stats s0 = stats(conn);
    assert_int_equal(dsql_conn_query(conn, sql, NULL, 0, NULL, &err), DSQL_EUNSUPPORTED);
    assert_string_equal(err.sqlstate, "0A000");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, round_trips, 2); /* the Parse refused, then the run unnamed */
    assert_delta(s1, s0, statements, 2);
    assert_true(cap_has(&cap, "Statement cache: the server refused a named prepared statement"));
    assert_true(conn->stmts.disabled);
    char buf[16];
    for (int i = 0; i < 3; i++)
        assert_string_equal(value(conn, "SELECT 3", NULL, 0, buf, sizeof buf), "3");
    assert_int_equal(stats(conn).prepared, 0);
    assert_server_statements(conn, "");
    exec_ok(conn, "DROP AGGREGATE lkf(int)");
    exec_ok(conn, "DROP TABLE lk");
    dsql_conn_close(conn);
    cap_free(&cap);
}

/* The same refusal met by a runner transaction's first statement: its BEGIN is rolled
 * back, the cache switched off, the statement run again unnamed in a fresh transaction. */
static void refused_first_parse_in_a_runner_transaction(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = open_conn(0, &cap);
    dsql_error err = DSQL_ERROR_INIT;
    exec_ok(conn, "DROP TABLE IF EXISTS lk2");
    exec_ok(conn, "DROP AGGREGATE IF EXISTS lkf2(int)");
    exec_ok(conn, "CREATE TABLE lk2 (a int)");
    exec_ok(conn, "CREATE OR REPLACE FUNCTION lkf2(int) RETURNS int LANGUAGE sql AS 'SELECT $1'");
    /* Inside a transaction nothing is proven yet (the explicit BEGIN above is the caller's). */
    const char *sql = "SELECT lkf2(a) FROM lk2 FOR UPDATE";
    exec_ok(conn, "BEGIN");
    exec_ok(conn, sql);
    exec_ok(conn, "COMMIT");
    exec_ok(conn, "DROP FUNCTION lkf2(int)");
    exec_ok(conn, "CREATE AGGREGATE lkf2(int) (sfunc = int4larger, stype = int)");
    assert_false(conn->stmts.proven);
    assert_int_equal(dsql_conn_transaction(conn, select_in_runner, (void *)sql, NULL, NULL, &err),
                     DSQL_EUNSUPPORTED);
    assert_string_equal(err.sqlstate, "0A000");
    assert_true(cap_has(&cap, "Statement cache: the server refused a named prepared statement"));
    assert_true(conn->stmts.disabled);
    /* The connection is clean, and its transactions run unnamed. */
    for (int i = 0; i < 3; i++)
        assert_dsql_ok(dsql_conn_transaction(conn, select_in_runner, "SELECT 4", NULL, NULL, &err),
                       err);
    assert_int_equal(stats(conn).prepared, 0);
    assert_server_statements(conn, "");
    exec_ok(conn, "DROP AGGREGATE lkf2(int)");
    exec_ok(conn, "DROP TABLE lk2");
    dsql_conn_close(conn);
    cap_free(&cap);
}

static void alter_table_then_select_star(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_conn *conn = open_conn(0, &cap);
    dsql_error err = DSQL_ERROR_INIT;
    exec_ok(conn, "DROP TABLE IF EXISTS shape");
    exec_ok(conn, "CREATE TABLE shape (a int)");
    exec_ok(conn, "INSERT INTO shape VALUES (1)");
    prepare_star(conn);
    assert_int_equal(cols_of(conn, "SELECT * FROM shape", &err), 1);

    /* Outside a transaction: the stale statement is dropped and the statement runs again,
     * transparently (one more round trip; the old statement is deallocated on it). */
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN b int");
    dsql_conn_stats s0 = stats(conn);
    assert_int_equal(cols_of(conn, "SELECT * FROM shape", &err), 2);
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, statements, 2);
    assert_delta(s1, s0, round_trips, 2);
    assert_delta(s1, s0, deallocated, 1);
    assert_false(star_on_server(conn));
    assert_true(cap_has(&cap, "Statement cache: the cached statement went stale (SQLSTATE "
                              "0A000); running it again"));

    /* Inside the caller's transaction: nothing can be re-run; the error is a conflict
     * naming the cause, and the cache has let go of the statement. */
    prepare_star(conn);
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN c int");
    exec_ok(conn, "BEGIN");
    assert_int_equal(cols_of(conn, "SELECT * FROM shape", &err), -DSQL_ECONFLICT);
    assert_string_equal(err.sqlstate, "0A000");
    assert_non_null(strstr(err.message, "a cached prepared statement went stale inside the "
                                        "transaction"));
    assert_non_null(strstr(err.message, "cached plan must not change result type"));
    exec_ok(conn, "ROLLBACK");
    assert_int_equal(cols_of(conn, "SELECT * FROM shape", &err), 3);
    assert_false(star_on_server(conn)); /* dropped, deallocated, seen once more */

    /* In the runner's transaction, as its first statement (it went out with BEGIN, nothing
     * ran before it): rolled back and run again at once, the body none the wiser. */
    prepare_star(conn);
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN d int");
    star_ctx sc = {0, 0};
    int attempts = 0;
    assert_dsql_ok(dsql_conn_transaction(conn, body_select_star, &sc, NULL, &attempts, &err), err);
    assert_int_equal(attempts, 1);
    assert_int_equal(sc.calls, 1);
    assert_int_equal(sc.cols, 4);
    /* Later in the transaction it cannot be: the runner runs the transaction again. */
    prepare_star(conn);
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN d2 int");
    star_ctx sc2 = {0, 0};
    assert_dsql_ok(dsql_conn_transaction(conn, body_one_then_star, &sc2, NULL, &attempts, &err),
                   err);
    assert_int_equal(attempts, 2);
    assert_int_equal(sc2.calls, 2);
    assert_int_equal(sc2.cols, 5);
    exec_ok(conn, "ALTER TABLE shape DROP COLUMN d2");

    /* A pipeline outside a transaction runs again whole, and nothing runs twice: the
     * INSERT before the stale SELECT was rolled back with the failed batch. */
    prepare_star(conn);
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN e int");
    dsql_stmt batch[] = {{"INSERT INTO shape (a) VALUES (2)", NULL, 0},
                         {"SELECT * FROM shape", NULL, 0}};
    dsql_result *res[2];
    s0 = stats(conn);
    assert_dsql_ok(dsql_conn_pipeline(conn, batch, 2, res, &err), err);
    assert_int_equal(dsql_result_affected(res[0]), 1);
    assert_int_equal(dsql_result_cols(res[1]), 5);
    assert_int_equal(dsql_result_rows(res[1]), 2);
    dsql_result_free(res[0]);
    dsql_result_free(res[1]);
    s1 = stats(conn);
    assert_delta(s1, s0, round_trips, 2);
    assert_delta(s1, s0, statements, 4);
    char buf[16];
    assert_string_equal(
        value(conn, "SELECT count(*) FROM shape WHERE a = 2", NULL, 0, buf, sizeof buf), "1");

    /* A pipelined transaction (BEGIN ... COMMIT in the batch): rolled back, run again. */
    prepare_star(conn);
    exec_ok(conn, "ALTER TABLE shape ADD COLUMN f int");
    dsql_stmt tx[] = {{"INSERT INTO shape (a) VALUES (3)", NULL, 0},
                      {"SELECT * FROM shape", NULL, 0}};
    s0 = stats(conn);
    assert_dsql_ok(dsql_pipeline_tx(conn, tx, 2, res, NULL, &err), err);
    assert_int_equal(dsql_result_cols(res[1]), 6);
    dsql_result_free(res[0]);
    dsql_result_free(res[1]);
    s1 = stats(conn);
    assert_delta(s1, s0, round_trips, 3); /* the batch, ROLLBACK, the batch again */
    assert_delta(s1, s0, statements, 9);
    assert_string_equal(
        value(conn, "SELECT count(*) FROM shape WHERE a = 3", NULL, 0, buf, sizeof buf), "1");
    assert_int_equal(PQtransactionStatus(dsql_conn_pg(conn)), PQTRANS_IDLE);
    exec_ok(conn, "DROP TABLE shape");
    dsql_conn_close(conn);
    cap_free(&cap);
}

static void cache_off(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(-1, NULL);
    char buf[16];
    for (int i = 0; i < 5; i++)
        assert_string_equal(value(conn, "SELECT 5", NULL, 0, buf, sizeof buf), "5");
    dsql_stmt batch[] = {{"SELECT 1", NULL, 0}, {"SELECT 1", NULL, 0}};
    dsql_error err = DSQL_ERROR_INIT;
    for (int i = 0; i < 3; i++)
        assert_dsql_ok(dsql_conn_pipeline(conn, batch, 2, NULL, &err), err);
    dsql_conn_stats s = stats(conn);
    assert_int_equal(s.statements, 11);
    assert_int_equal(s.round_trips, 8);
    assert_int_equal(s.prepared, 0);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(conn->stmts.count, 0);
    assert_server_statements(conn, "");
    dsql_conn_close(conn);
}

static void pipelines_use_the_cache(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    exec_ok(conn, "DROP TABLE IF EXISTS pipe");
    exec_ok(conn, "CREATE TABLE pipe (a int)");
    dsql_value one = DSQL_INT(1);
    dsql_stmt batch[] = {{"INSERT INTO pipe VALUES ($1)", &one, 1},
                         {"INSERT INTO pipe VALUES ($1)", &one, 1},
                         {"SELECT count(*) FROM pipe", NULL, 0}};
    /* A connection that has not prepared anything yet never sends its first Parse inside
     * a batch (a server refusing named statements would fail the whole batch). */
    for (int run = 0; run < 3; run++)
        assert_dsql_ok(dsql_conn_pipeline(conn, batch, 3, NULL, &err), err);
    assert_int_equal(stats(conn).prepared, 0);
    assert_server_statements(conn, "");
    exec_ok(conn, "DELETE FROM pipe");
    char buf[16];
    for (int i = 0; i < 2; i++) /* proven: one Parse has succeeded, in autocommit */
        assert_string_equal(value(conn, "SELECT 'proven'", NULL, 0, buf, sizeof buf), "proven");
    assert_server_statements(conn, "dsql_1=SELECT 'proven'");
    /* Now batches prepare too: a statement seen twice in one batch gets one Parse. */
    static const char *const counts[] = {"2", "4", "6", "8"};
    static const uint64_t prepared[] = {2, 2, 2, 2}, hits[] = {1, 4, 7, 10};
    dsql_conn_stats s0 = stats(conn);
    for (int run = 0; run < 4; run++) {
        dsql_result *res[3];
        assert_dsql_ok(dsql_conn_pipeline(conn, batch, 3, res, &err), err);
        assert_string_equal(dsql_result_text(res[2], 0, 0), counts[run]);
        for (int i = 0; i < 3; i++)
            dsql_result_free(res[i]);
        dsql_conn_stats s = stats(conn);
        assert_delta(s, s0, round_trips, run + 1);
        assert_delta(s, s0, statements, 3 * (run + 1));
        assert_delta(s, s0, prepared, prepared[run]);
        assert_delta(s, s0, cache_hits, hits[run]);
    }
    assert_server_statements(conn, "dsql_1=SELECT 'proven';dsql_2=INSERT INTO pipe VALUES "
                                   "($1);dsql_3=SELECT count(*) FROM pipe");

    /* A failure in the middle: the cached statements stay cached, the batch reports the
     * failing statement. */
    dsql_value bad = DSQL_STR("x");
    dsql_stmt failing[] = {{"INSERT INTO pipe VALUES ($1)", &one, 1},
                           {"INSERT INTO pipe VALUES ($1)", &bad, 1},
                           {"SELECT count(*) FROM pipe", NULL, 0}};
    assert_int_equal(dsql_conn_pipeline(conn, failing, 3, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "22P02");
    assert_non_null(strstr(err.message, "pipeline statement 1 of 3"));
    assert_int_equal(conn->stmts.count, 4); /* the three, and the DELETE seen once */
    assert_string_equal(value(conn, "SELECT count(*) FROM pipe", NULL, 0, buf, sizeof buf), "8");
    /* A Parse error in a batch names its statement; the connection carries on. */
    dsql_stmt bad_parse[] = {
        {"SELECT 1", NULL, 0}, {"SELECT FROM WHERE", NULL, 0}, {"SELECT 2", NULL, 0}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dsql_conn_pipeline(conn, bad_parse, 3, NULL, &err), DSQL_ESERVER);
        assert_string_equal(err.sqlstate, "42601");
        assert_memory_equal(err.message, "dsql_conn_pipeline: pipeline statement 1 of 3: ", 47);
    }
    assert_true(dsql_conn_ok(conn));

    /* The pipelined transaction path too. */
    dsql_conn_stats s1 = stats(conn);
    assert_dsql_ok(dsql_pipeline_tx(conn, batch, 3, NULL, NULL, &err), err);
    dsql_conn_stats s2 = stats(conn);
    assert_delta(s2, s1, round_trips, 1);
    assert_delta(s2, s1, statements, 5);
    assert_delta(s2, s1, cache_hits, 3);
    exec_ok(conn, "DROP TABLE pipe");
    dsql_conn_close(conn);
}

/* Runs sql with p on both connections; the outcome must be the same. Returns the value. */
static const char *same_on_both(dsql_conn *cached, dsql_conn *plain, const char *sql, dsql_value p,
                                char *buf, size_t size)
{
    dsql_result *r1 = NULL, *r2 = NULL;
    dsql_error e1 = DSQL_ERROR_INIT, e2 = DSQL_ERROR_INIT;
    int rc1 = dsql_conn_query(cached, sql, &p, 1, &r1, &e1);
    int rc2 = dsql_conn_query(plain, sql, &p, 1, &r2, &e2);
    assert_int_equal(rc1, rc2);
    if (rc1) {
        assert_string_equal(e1.sqlstate, e2.sqlstate);
        assert_string_equal(e1.message, e2.message);
        snprintf(buf, size, "error %s", e1.sqlstate);
    } else {
        assert_string_equal(dsql_result_text(r1, 0, 0), dsql_result_text(r2, 0, 0));
        snprintf(buf, size, "%s",
                 dsql_result_is_null(r1, 0, 0) ? "NULL" : dsql_result_text(r1, 0, 0));
    }
    dsql_result_free(r1);
    dsql_result_free(r2);
    return buf;
}

static void parameter_types(void **state)
{
    (void)state;
    dsql_conn *cached = open_conn(0, NULL);
    dsql_conn *plain = open_conn(-1, NULL);
    char buf[64];
    /* One statement text, values of every kind: the parameter's type comes from the SQL,
     * as with an unnamed statement, whatever the value's kind. */
    const char *cat = "SELECT $1::text || 'z'";
    for (int round = 0; round < 2; round++) {
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_STR("x"), buf, sizeof buf), "xz");
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_INT(-5), buf, sizeof buf), "-5z");
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_DBL(1.5), buf, sizeof buf),
                            "1.5z");
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_BOOL(true), buf, sizeof buf),
                            "truez");
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_BYTES("ab", 2), buf, sizeof buf),
                            "abz");
        assert_string_equal(same_on_both(cached, plain, cat, DSQL_NULL, buf, sizeof buf), "NULL");
    }
    const char *eq = "SELECT $1 = 5";
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_INT(5), buf, sizeof buf), "t");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_STR("5"), buf, sizeof buf), "t");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_STR("x"), buf, sizeof buf),
                        "error 22P02");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_DBL(5.5), buf, sizeof buf),
                        "error 22P02");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_INT(6), buf, sizeof buf), "f");
    /* Binary bytes where the statement wants an int4: a binary int4 of 4 bytes. */
    assert_string_equal(
        same_on_both(cached, plain, eq, DSQL_BYTES("\x00\x00\x00\x05", 4), buf, sizeof buf), "t");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_BYTES("\x00\x05", 2), buf, sizeof buf),
                        "error 08P01");
    assert_string_equal(same_on_both(cached, plain, eq, DSQL_INT(5), buf, sizeof buf), "t");
    dsql_conn_stats s = stats(cached);
    assert_int_equal(s.prepared, 2);
    assert_int_equal(s.cache_hits, 10 + 6); /* failed runs of a cached statement count too */
    assert_server_statements(cached, "dsql_1=SELECT $1::text || 'z';dsql_2=SELECT $1 = 5");
    dsql_conn_close(cached);
    dsql_conn_close(plain);
}

static void discard_and_deallocate(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    char buf[16];
    for (int i = 0; i < 2; i++)
        value(conn, "SELECT 42", NULL, 0, buf, sizeof buf);
    assert_server_statements(conn, "dsql_1=SELECT 42");
    /* DISCARD ALL through the library: the cache forgets everything with it. */
    exec_ok(conn, "DISCARD ALL");
    assert_int_equal(conn->stmts.count, 0);
    assert_server_statements(conn, "");
    for (int i = 0; i < 3; i++)
        assert_string_equal(value(conn, "SELECT 42", NULL, 0, buf, sizeof buf), "42");
    assert_server_statements(conn, "dsql_2=SELECT 42");

    /* DEALLOCATE ALL behind the library's back: the cached statement is missing (26000);
     * outside a transaction it is prepared afresh and run again. */
    PQclear(PQexec(dsql_conn_pg(conn), "DEALLOCATE ALL"));
    dsql_conn_stats s0 = stats(conn);
    assert_string_equal(value(conn, "SELECT 42", NULL, 0, buf, sizeof buf), "42");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, round_trips, 2);
    assert_delta(s1, s0, deallocated, 0); /* nothing to deallocate: it was gone */
    assert_server_statements(conn, "");
    /* Inside a transaction: a conflict, so a runner retries. */
    value(conn, "SELECT 42", NULL, 0, buf, sizeof buf);
    assert_server_statements(conn, "dsql_3=SELECT 42");
    PQclear(PQexec(dsql_conn_pg(conn), "DEALLOCATE ALL"));
    exec_ok(conn, "BEGIN");
    assert_int_equal(dsql_conn_query(conn, "SELECT 42", NULL, 0, NULL, &err), DSQL_ECONFLICT);
    assert_string_equal(err.sqlstate, "26000");
    exec_ok(conn, "ROLLBACK");
    assert_string_equal(value(conn, "SELECT 42", NULL, 0, buf, sizeof buf), "42");
    dsql_conn_close(conn);
}

static void aborted_transaction(void **state)
{
    (void)state;
    dsql_conn *conn = open_conn(0, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    char buf[16];
    for (int i = 0; i < 2; i++)
        value(conn, "SELECT 7", NULL, 0, buf, sizeof buf);
    value(conn, "SELECT 8", NULL, 0, buf, sizeof buf); /* seen once: prepared next time */
    dsql_conn_stats s0 = stats(conn);
    exec_ok(conn, "BEGIN");
    assert_int_equal(dsql_conn_query(conn, "SELECT 1/0", NULL, 0, NULL, &err), DSQL_ESERVER);
    /* A cached statement in the aborted transaction fails as any statement would... */
    assert_int_equal(dsql_conn_query(conn, "SELECT 7", NULL, 0, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "25P02");
    /* ... and so does the Parse of one prepared there: not cached. */
    assert_int_equal(dsql_conn_query(conn, "SELECT 8", NULL, 0, NULL, &err), DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "25P02");
    exec_ok(conn, "ROLLBACK");
    assert_server_statements(conn, "dsql_1=SELECT 7");
    /* The cached one still works without a new Parse; the other starts over. */
    assert_string_equal(value(conn, "SELECT 7", NULL, 0, buf, sizeof buf), "7");
    assert_string_equal(value(conn, "SELECT 8", NULL, 0, buf, sizeof buf), "8");
    assert_string_equal(value(conn, "SELECT 8", NULL, 0, buf, sizeof buf), "8");
    dsql_conn_stats s1 = stats(conn);
    assert_delta(s1, s0, prepared, 1);
    assert_delta(s1, s0, cache_hits, 2); /* the one in the aborted transaction, and this one */
    assert_server_statements(conn, "dsql_1=SELECT 7;dsql_3=SELECT 8");
    dsql_conn_close(conn);
}

static void config_checks(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_parse(&cfg, "statement_cache=-2", &err), DSQL_EPARSE);
    assert_string_equal(
        err.message,
        "dsql_config_parse: connection string, keyword 'statement_cache': statement_cache must be "
        "-1 (off), 0 (default 256) or a number of statements up to 65536, not "
        "'-2'");
    assert_int_equal(dsql_config_parse(&cfg, "statement_cache=lots", &err), DSQL_EPARSE);
    assert_int_equal(dsql_config_parse(&cfg, "statement_cache=65537", &err), DSQL_EPARSE);
    assert_dsql_ok(dsql_config_parse(&cfg, "statement_cache=-1", &err), err);
    assert_int_equal(cfg.statement_cache, -1);
    dsql_config_clear(&cfg);

    assert_dsql_ok(dsql_config_parse(&cfg, pc_conninfo(DB), &err), err);
    cfg.statement_cache = 70000;
    dsql_conn *conn = NULL;
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONFIG);
    assert_string_equal(err.message,
                        "dsql_conn_open: config: statement_cache must be -1 (off), 0 (default 256) "
                        "or a number of statements up to 65536, not 70000");
    assert_null(conn);
    cfg.statement_cache = -3;
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_ECONFIG);
    cfg.statement_cache = 1;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    assert_int_equal(conn->stmts.capacity, 1);
    dsql_conn_close(conn);
    cfg.statement_cache = 0;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    assert_int_equal(conn->stmts.capacity, 256);
    dsql_conn_close(conn);
    dsql_config_clear(&cfg);
}

static int setup(void **state)
{
    (void)state;
    pc_create_db(DB);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_drop_db(DB);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misses_then_hits),
        cmocka_unit_test(lru_eviction_deallocates),
        cmocka_unit_test(failed_parse_not_cached),
        cmocka_unit_test(proven_before_transactions),
        cmocka_unit_test(refused_first_parse_switches_off),
        cmocka_unit_test(refused_first_parse_in_a_runner_transaction),
        cmocka_unit_test(runner_transactions_use_the_cache),
        cmocka_unit_test(alter_table_then_select_star),
        cmocka_unit_test(cache_off),
        cmocka_unit_test(pipelines_use_the_cache),
        cmocka_unit_test(parameter_types),
        cmocka_unit_test(discard_and_deallocate),
        cmocka_unit_test(aborted_transaction),
        cmocka_unit_test(config_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
