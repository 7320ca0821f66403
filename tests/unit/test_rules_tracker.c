/* The transaction tracker: one DDL statement per transaction, no DDL with DML, aborted
 * blocks (25P02), and multi-statement Queries as one implicit transaction — session by
 * session, with the exact verdict of each statement. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "rules/rules.h"

#define MULTI "0A000 multiple ddl statements not supported in a transaction"
#define MIXED "0A000 ddl and dml are not supported in the same transaction"
#define ABORTED                                                                                    \
    "25P02 current transaction is aborted, commands ignored until end of transaction block"
#define SKIPPED "skipped"

/* Runs queries (each one simple-protocol Query) on one session and compares the verdict of
 * every statement with want, in order: "ok", SKIPPED, or "<SQLSTATE> <message>". A query
 * "!" stands for a statement the server ran and failed (a constraint, the row limit). */
static void session(const char *const *queries, size_t nq, const char *const *want, size_t nw)
{
    dsql_rules_tracker t;
    dsql_rules_tracker_init(&t);
    size_t w = 0;
    for (size_t q = 0; q < nq; q++) {
        if (strcmp(queries[q], "!") == 0) {
            dsql_rules_tracker_failed(&t);
            continue;
        }
        dsql_rules_result *r = NULL;
        assert_int_equal(dsql_rules_analyze(queries[q], strlen(queries[q]), &r, NULL), DSQL_OK);
        dsql_rules_tracker_query_begin(&t, dsql_rules_count(r));
        for (size_t i = 0; i < dsql_rules_count(r); i++) {
            const dsql_rules_stmt *st = dsql_rules_stmt_at(r, i);
            dsql_rules_verdict v;
            bool refused = dsql_rules_tracker_step(&t, st, &v);
            char got[256];
            if (!refused)
                snprintf(got, sizeof got, "ok");
            else if (v.skipped)
                snprintf(got, sizeof got, SKIPPED);
            else
                snprintf(got, sizeof got, "%s %s", v.rule->sqlstate, v.message);
            if (w >= nw)
                fail_msg("query %zu statement %zu: more verdicts than expected (%s)", q, i, got);
            if (strcmp(got, want[w]) != 0)
                fail_msg("query %zu (%s) statement %zu:\n  got      %s\n  expected %s", q,
                         queries[q], i, got, want[w]);
            if (refused && !v.skipped) {
                assert_non_null(v.rule);
                /* A transaction rule points at its statement; a statement's own at its
                 * offending part. */
                if (v.from_tracker)
                    assert_int_equal(v.offset, st->offset);
                else
                    assert_int_equal(v.offset, dsql_rules_refusal(st)->offset);
            }
            w++;
        }
        dsql_rules_tracker_query_end(&t);
        dsql_rules_result_free(r);
    }
    assert_int_equal(w, nw);
}

#define SESSION(q, w) session(q, sizeof q / sizeof q[0], w, sizeof w / sizeof w[0])

static void one_ddl_per_block(void **state)
{
    (void)state;
    static const char *const q[] = {
        "BEGIN",  "CREATE TABLE a (id int)", "CREATE TABLE b (id int)", "SELECT 1",
        "COMMIT", "CREATE TABLE b (id int)", "CREATE TABLE c (id int)"};
    static const char *const w[] = {"ok", "ok", MULTI, ABORTED, "ok", "ok", "ok"};
    SESSION(q, w);
}

static void ddl_with_dml(void **state)
{
    (void)state;
    static const char *const q[] = {"BEGIN",
                                    "CREATE TABLE a (id int)",
                                    "INSERT INTO a VALUES (1)",
                                    "ROLLBACK",
                                    "BEGIN",
                                    "UPDATE a SET id = 2",
                                    "DELETE FROM a",
                                    "ALTER TABLE a ADD COLUMN b text",
                                    "COMMIT",
                                    "START TRANSACTION",
                                    "SELECT 1",
                                    "CREATE INDEX ASYNC i ON a (id)",
                                    "SELECT * FROM a",
                                    "END"};
    static const char *const w[] = {"ok",  "ok", MIXED, "ok", "ok", "ok", "ok",
                                    MIXED, "ok", "ok",  "ok", "ok", "ok", "ok"};
    SESSION(q, w);
}

/* A Query of several statements outside a block is one transaction (recorded: the table
 * and its index sent together are refused). */
static void implicit_transaction(void **state)
{
    (void)state;
    static const char *const q[] = {
        ("CREATE TABLE baseline_multi_d (id int); CREATE INDEX ASYNC baseline_multi_d_idx ON "
         "baseline_multi_d (id); SELECT 1"),
        "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)",
        "INSERT INTO t VALUES (3); CREATE TABLE u (id int)",
        "CREATE TABLE u (id int); COMMIT; CREATE TABLE v (id int)",
        "CREATE TABLE w (id int)",
        "CREATE TABLE x (id int)",
        "SELECT 1; BEGIN; CREATE TABLE y (id int); CREATE TABLE z (id int)",
        "ROLLBACK"};
    static const char *const w[] = {"ok",  MULTI, SKIPPED, /* the third never runs */
                                    "ok",  "ok",           /* DML twice is fine */
                                    "ok",  MIXED,          /* DML then DDL in one Query */
                                    "ok",  "ok",  "ok", /* COMMIT ends the implicit transaction */
                                    "ok",               /* one statement per Query: autocommit */
                                    "ok",               /* ... each its own transaction */
                                    "ok",  "ok",  "ok",
                                    MULTI, /* BEGIN inside a Query makes a block */
                                    "ok"};
    SESSION(q, w);
}

/* Any error in a block aborts it, the statement's own refusal as well as an error only the
 * server finds; COMMIT then ends it (answered ROLLBACK) and the session goes on. */
static void aborted_blocks(void **state)
{
    (void)state;
    static const char *const q[] = {"BEGIN",
                                    "SET TRANSACTION READ ONLY",
                                    "SELECT 1",
                                    "COMMIT",
                                    "SELECT 1",
                                    "BEGIN",
                                    "INSERT INTO baseline_bulk SELECT generate_series(1, 3001)",
                                    "!",
                                    "SELECT 1",
                                    "SAVEPOINT s",
                                    "ROLLBACK",
                                    "SELECT count(*) FROM baseline_bulk"};
    static const char *const w[] = {
        "ok",    "0A000 setting configuration parameter \"TRANSACTION\" not supported",
        ABORTED, "ok",
        "ok",    "ok",
        "ok",    ABORTED,
        ABORTED, "ok",
        "ok"};
    SESSION(q, w);
}

/* A statement DSQL refuses on its own outside a block fails alone; the rest of its Query
 * does not run; the next Query does. */
static void refusals_outside_blocks(void **state)
{
    (void)state;
    static const char *const q[] = {"SELECT 1 FOR SHARE; SELECT 2", "SELECT 3",
                                    "BEGIN ISOLATION LEVEL SERIALIZABLE", "CREATE TABLE a (id int)",
                                    "CREATE TABLE b (id int)"};
    static const char *const w[] = {
        "0A000 locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported",
        SKIPPED,
        "ok",
        "0A000 Unsupported isolation level: SERIALIZABLE",
        "ok", /* the refused BEGIN opened no block: autocommit */
        "ok"};
    SESSION(q, w);
}

static void state_fields(void **state)
{
    (void)state;
    dsql_rules_tracker t;
    dsql_rules_tracker_init(&t);
    dsql_rules_result *r = NULL;
    const char *sql = "BEGIN; CREATE TABLE a (id int)";
    assert_int_equal(dsql_rules_analyze(sql, strlen(sql), &r, NULL), DSQL_OK);
    dsql_rules_tracker_query_begin(&t, 2);
    assert_true(t.implicit); /* two statements outside a block */
    assert_false(dsql_rules_tracker_step(&t, dsql_rules_stmt_at(r, 0), NULL));
    assert_true(t.in_block); /* BEGIN turned it into a block */
    assert_false(t.implicit);
    assert_false(dsql_rules_tracker_step(&t, dsql_rules_stmt_at(r, 1), NULL));
    assert_int_equal(t.ddl, 1);
    assert_int_equal(t.dml, 0);
    dsql_rules_tracker_query_end(&t);
    assert_true(t.in_block); /* the block outlives the Query */
    dsql_rules_tracker_failed(&t);
    assert_true(t.aborted);
    dsql_rules_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_ddl_per_block),       cmocka_unit_test(ddl_with_dml),
        cmocka_unit_test(implicit_transaction),    cmocka_unit_test(aborted_blocks),
        cmocka_unit_test(refusals_outside_blocks), cmocka_unit_test(state_fields),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
