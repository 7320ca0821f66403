/* The statement cache's bookkeeping (no server): which statements are cached, when they
 * are prepared, LRU eviction and the DEALLOCATEs it queues, dropped entries, and the
 * bound kept on a server that refuses DEALLOCATE. The integration test test_stmt_cache
 * runs the same paths against the server. */
#include <string.h>

#include "conn/private.h"
#include "testutil.h"

/* Runs sql through the cache as a one-statement batch that succeeds; returns the action. */
static dsql__stmt_action run(dsql__stmt_cache *c, const char *sql, int nparams, uint64_t *id)
{
    dsql__stmt *e;
    dsql__stmt_action a = dsql__stmt_cache_plan(c, sql, nparams, true, &e);
    if (id)
        *id = e && a != DSQL__RUN_UNNAMED ? e->id : 0;
    if (a == DSQL__RUN_PREPARE)
        dsql__stmt_parsed(c, e, true);
    else if (a == DSQL__RUN_UNNAMED)
        dsql__stmt_ran_unnamed(e);
    dsql__stmt_cache_end_batch(c);
    return a;
}

static void test_prepared_on_second_run(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 4);
    uint64_t id;
    assert_int_equal(run(&c, "SELECT $1", 1, &id), DSQL__RUN_UNNAMED);
    assert_int_equal(run(&c, "SELECT $1", 1, &id), DSQL__RUN_PREPARE);
    assert_int_equal(id, 1);
    assert_int_equal(run(&c, "SELECT $1", 1, &id), DSQL__RUN_CACHED);
    assert_int_equal(id, 1);
    /* The parameter count is part of the key; the text is compared byte for byte. */
    assert_int_equal(run(&c, "SELECT $1", 2, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(run(&c, "select $1", 1, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.count, 3);
    char name[32];
    dsql__stmt_name(12345678901ull, name);
    assert_string_equal(name, "dsql_12345678901");
    dsql__stmt_cache_free(&c);
}

static void test_only_queries_and_dml(void **state)
{
    (void)state;
    static const char *const cached[] = {
        "SELECT 1",
        "  select 1",
        "(SELECT 1) UNION (SELECT 2)",
        "INSERT INTO t VALUES (1)",
        "update t set a = 1",
        "DELETE FROM t",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "VALUES (1)",
        "TABLE t",
        "MERGE INTO t USING s ON true WHEN MATCHED THEN DO NOTHING",
        "\n\tSELECT 1",
    };
    static const char *const never[] = {
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "CREATE TABLE t (a int)",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN b int",
        "SET search_path = x",
        "SHOW search_path",
        "DISCARD ALL",
        "DEALLOCATE ALL",
        "-- comment\nSELECT 1",
        "/* c */ SELECT 1",
        "SELECTED",
        "SELECT_1",
        "",
        "EXPLAIN SELECT 1",
        "CALL sys.wait_for_job('x')",
    };
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 64);
    for (size_t i = 0; i < DSQL__ARRAY_LEN(cached); i++) {
        run(&c, cached[i], 0, NULL);
        if (run(&c, cached[i], 0, NULL) != DSQL__RUN_PREPARE)
            fail_msg("not cached: %s", cached[i]);
        assert_true(dsql__sql_commits_nothing(cached[i]));
    }
    for (size_t i = 0; i < DSQL__ARRAY_LEN(never); i++) {
        run(&c, never[i], 0, NULL);
        if (run(&c, never[i], 0, NULL) != DSQL__RUN_UNNAMED)
            fail_msg("cached: %s", never[i]);
    }
    assert_int_equal(c.count, DSQL__ARRAY_LEN(cached));
    assert_true(dsql__sql_commits_nothing("BEGIN"));
    assert_true(dsql__sql_commits_nothing("start transaction"));
    assert_false(dsql__sql_commits_nothing("COMMIT"));
    assert_false(dsql__sql_commits_nothing("END"));
    assert_false(dsql__sql_commits_nothing("PREPARE TRANSACTION 'x'"));

    /* Statements over the size limit run unnamed. */
    static char big[DSQL__STMT_MAX_SQL + 16];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "SELECT 1", 8);
    big[sizeof big - 1] = '\0';
    run(&c, big, 0, NULL);
    assert_int_equal(run(&c, big, 0, NULL), DSQL__RUN_UNNAMED);
    dsql__stmt_cache_free(&c);

    /* Capacity 0 = off. */
    dsql__stmt_cache_init(&c, 0);
    run(&c, "SELECT 1", 0, NULL);
    assert_int_equal(run(&c, "SELECT 1", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.count, 0);
    dsql__stmt_cache_free(&c);
}

static void test_drops_statements(void **state)
{
    (void)state;
    assert_true(dsql__sql_drops_statements("DISCARD ALL"));
    assert_true(dsql__sql_drops_statements("  discard all"));
    assert_true(dsql__sql_drops_statements("DEALLOCATE ALL"));
    assert_true(dsql__sql_drops_statements("DEALLOCATE PREPARE dsql_1"));
    assert_false(dsql__sql_drops_statements("DISCARD PLANS"));
    assert_false(dsql__sql_drops_statements("DISCARD ALLX"));
    assert_false(dsql__sql_drops_statements("SELECT 'DISCARD ALL'"));
}

static void test_lru_eviction_queues_deallocate(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 2);
    uint64_t a, b, d;
    run(&c, "SELECT 'a'", 0, NULL);
    run(&c, "SELECT 'a'", 0, &a);
    run(&c, "SELECT 'b'", 0, NULL);
    run(&c, "SELECT 'b'", 0, &b);
    assert_int_equal(run(&c, "SELECT 'a'", 0, NULL), DSQL__RUN_CACHED); /* a is now recent */
    assert_int_equal(c.npending, 0);
    run(&c, "SELECT 'd'", 0, NULL); /* third entry: b, the least recent, goes */
    assert_int_equal(c.count, 2);
    assert_int_equal(c.npending, 1);
    assert_int_equal(c.pending[0], b);
    assert_int_equal(run(&c, "SELECT 'a'", 0, NULL), DSQL__RUN_CACHED);
    assert_int_equal(run(&c, "SELECT 'd'", 0, &d), DSQL__RUN_PREPARE);
    assert_true(d > a && d > b); /* names are never reused */
    /* b comes back as a new statement (unnamed first); a, now the least recent, goes. */
    assert_int_equal(run(&c, "SELECT 'b'", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.npending, 2);
    assert_int_equal(c.pending[1], a);
    /* An entry that was never prepared (b) leaves nothing to deallocate when evicted. */
    assert_int_equal(run(&c, "SELECT 'd'", 0, NULL), DSQL__RUN_CACHED);
    assert_int_equal(run(&c, "SELECT 'f'", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.npending, 2);
    assert_int_equal(run(&c, "SELECT 'b'", 0, NULL), DSQL__RUN_UNNAMED);
    dsql__stmt_cache_free(&c);
}

static void test_failed_parse_and_stale(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 8);
    dsql__stmt *e, *e2;
    run(&c, "SELECT x FROM t", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT x FROM t", 0, true, &e), DSQL__RUN_PREPARE);
    /* The same text later in the same batch uses the name being parsed. */
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT x FROM t", 0, true, &e2), DSQL__RUN_CACHED);
    assert_ptr_equal(e, e2);
    dsql__stmt_parsed(&c, e, false); /* syntax error, unknown table...: not cached */
    dsql__stmt_drop(&c, e2, false);  /* harmless a second time */
    dsql__stmt_cache_end_batch(&c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.npending, 0);
    assert_int_equal(run(&c, "SELECT x FROM t", 0, NULL), DSQL__RUN_UNNAMED);

    /* A stale statement the server still holds is deallocated; a missing one is not. */
    run(&c, "SELECT x FROM t", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT x FROM t", 0, true, &e), DSQL__RUN_CACHED);
    uint64_t id = e->id;
    dsql__stmt_drop(&c, e, true);
    dsql__stmt_cache_end_batch(&c);
    assert_int_equal(c.npending, 1);
    assert_int_equal(c.pending[0], id);
    run(&c, "SELECT y FROM t", 0, NULL);
    run(&c, "SELECT y FROM t", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT y FROM t", 0, true, &e), DSQL__RUN_CACHED);
    dsql__stmt_drop(&c, e, false);
    dsql__stmt_cache_end_batch(&c);
    assert_int_equal(c.npending, 1);

    /* A batch cut short leaves a Parse unanswered: dropped, and deallocated to be sure. */
    run(&c, "SELECT z FROM t", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT z FROM t", 0, true, &e), DSQL__RUN_PREPARE);
    id = e->id;
    dsql__stmt_cache_end_batch(&c);
    assert_int_equal(c.nparsing, 0);
    assert_int_equal(c.npending, 2);
    assert_int_equal(c.pending[1], id);
    assert_int_equal(run(&c, "SELECT z FROM t", 0, NULL), DSQL__RUN_UNNAMED);

    /* DISCARD ALL: everything forgotten, names keep counting. */
    uint64_t next = c.next_id;
    dsql__stmt_cache_reset(&c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.npending, 0);
    assert_int_equal(c.next_id, next);
    assert_int_equal(c.capacity, 8);
    dsql__stmt_cache_free(&c);
}

static void test_refused_deallocate_bounds_the_server(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 2);
    char sql[32];
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql, "SELECT %d", i);
        run(&c, sql, 0, NULL);
        run(&c, sql, 0, NULL);
    }
    assert_int_equal(c.npending, 1);
    dsql__stmt_cache_refuse_deallocate(&c);
    assert_true(c.no_deallocate);
    assert_int_equal(c.npending, 0);
    assert_int_equal(c.orphans, 1);
    snprintf(sql, sizeof sql, "SELECT %d", 3);
    run(&c, sql, 0, NULL);
    assert_int_equal(run(&c, sql, 0, NULL), DSQL__RUN_PREPARE); /* evicts one more */
    assert_int_equal(c.orphans, 2);
    assert_int_equal(c.npending, 0);
    /* As many left behind as the cache holds: new statements run unnamed and are not
     * added; cached ones still hit. */
    assert_int_equal(run(&c, "SELECT 'new'", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(run(&c, "SELECT 'new'", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.count, 2);
    assert_int_equal(run(&c, sql, 0, NULL), DSQL__RUN_CACHED);
    dsql__stmt_cache_reset(&c);
    assert_true(c.no_deallocate); /* a property of the server, kept */
    dsql__stmt_cache_free(&c);
}

static void test_many_entries(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 1000);
    char sql[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1500; i++) {
            snprintf(sql, sizeof sql, "SELECT %d", i);
            run(&c, sql, 0, NULL);
        }
    assert_int_equal(c.count, 1000);
    /* A cycle longer than the cache: every statement is evicted before it comes back, so
     * nothing was ever prepared (and nothing is left to deallocate). The 1000 most recent
     * (500..1499) are kept, each seen once. */
    assert_int_equal(c.npending, 0);
    assert_int_equal(c.next_id, 0);
    dsql__stmt *e;
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 1499", 0, true, &e), DSQL__RUN_PREPARE);
    dsql__stmt_parsed(&c, e, true);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 499", 0, true, &e), DSQL__RUN_UNNAMED);
    assert_int_equal(e->uses, 0);
    dsql__stmt_cache_end_batch(&c);
    assert_int_equal(c.count, 1000);
    dsql__stmt_cache_free(&c);
}

static void test_proven_before_transactions(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 8);
    dsql__stmt *e;
    /* Not proven: inside a transaction or a batch (may_prove false) nothing is prepared. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 1", 0, false, &e), DSQL__RUN_UNNAMED);
        dsql__stmt_ran_unnamed(e);
        dsql__stmt_cache_end_batch(&c);
    }
    /* In autocommit it is; once a Parse has succeeded, anywhere. */
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 1", 0, true, &e), DSQL__RUN_PREPARE);
    dsql__stmt_parsed(&c, e, true);
    dsql__stmt_cache_end_batch(&c);
    assert_true(c.proven);
    run(&c, "SELECT 2", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 2", 0, false, &e), DSQL__RUN_PREPARE);
    dsql__stmt_parsed(&c, e, true);
    dsql__stmt_cache_end_batch(&c);
    dsql__stmt_cache_free(&c);

    /* A server that refuses named statements: disabled for good, DISCARD ALL or not. */
    dsql__stmt_cache_init(&c, 8);
    run(&c, "SELECT 1", 0, NULL);
    assert_int_equal(dsql__stmt_cache_plan(&c, "SELECT 1", 0, true, &e), DSQL__RUN_PREPARE);
    dsql__stmt_parsed(&c, e, false);
    dsql__stmt_cache_end_batch(&c);
    dsql__stmt_cache_disable(&c);
    assert_int_equal(c.count, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(run(&c, "SELECT 1", 0, NULL), DSQL__RUN_UNNAMED);
    dsql__stmt_cache_reset(&c);
    assert_int_equal(run(&c, "SELECT 1", 0, NULL), DSQL__RUN_UNNAMED);
    assert_int_equal(c.count, 0);
    dsql__stmt_cache_free(&c);
}

static void test_byte_bound(void **state)
{
    (void)state;
    dsql__stmt_cache c;
    dsql__stmt_cache_init(&c, 1000);
    /* 40 statements of 30,000 bytes: more than 1 MiB of text, so the oldest go first. */
    static char sql[30001];
    memset(sql, ' ', sizeof sql - 1);
    sql[sizeof sql - 1] = '\0';
    for (int i = 0; i < 40; i++) {
        int n = snprintf(sql, sizeof sql, "SELECT %d", i);
        sql[n] = ' ';
        run(&c, sql, 0, NULL);
    }
    assert_true(c.bytes <= DSQL__STMT_MAX_BYTES);
    assert_int_equal(c.count, DSQL__STMT_MAX_BYTES / 30000);
    assert_int_equal(c.bytes, c.count * 30000);
    dsql__stmt_cache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepared_on_second_run),
        cmocka_unit_test(test_only_queries_and_dml),
        cmocka_unit_test(test_drops_statements),
        cmocka_unit_test(test_lru_eviction_queues_deallocate),
        cmocka_unit_test(test_failed_parse_and_stale),
        cmocka_unit_test(test_refused_deallocate_bounds_the_server),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_proven_before_transactions),
        cmocka_unit_test(test_byte_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
