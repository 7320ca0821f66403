/* Error classification, connect-failure wording, retry policy, SQL redaction in logs. */
#include <string.h>

#include "testutil.h"

#include "conn/private.h"

static void sqlstates(void **state)
{
    (void)state;
    static const struct {
        const char *state, *msg;
        int status;
    } cases[] = {
        {"40001", "could not serialize access", DSQL_ECONFLICT},
        {"XX000", "change conflicts with another transaction, please retry: (OC000)",
         DSQL_ECONFLICT},
        {"XX000", "schema has been updated by another transaction, please retry: (OC001)",
         DSQL_ECONFLICT},
        {NULL, "(OC001)", DSQL_ECONFLICT},
        {"23505", "duplicate key", DSQL_ECONSTRAINT},
        {"23503", "fk", DSQL_ECONSTRAINT},
        {"23502", "not null", DSQL_ECONSTRAINT},
        {"54000", "transaction row limit exceeded", DSQL_ELIMIT},
        {"0A000", "unsupported", DSQL_EUNSUPPORTED},
        {"08006", "connection failure", DSQL_ECONNLOST},
        {"08P01", "bind message supplies 0 parameters, but prepared statement \"\" requires 1",
         DSQL_ESERVER},
        {"57P01", "terminating connection due to administrator command", DSQL_ECONNLOST},
        {"28000", "access denied", DSQL_EAUTH},
        {"57014", "canceling statement due to statement timeout", DSQL_ETIMEOUT},
        {"25P02", "current transaction is aborted", DSQL_ESERVER},
        {"42601", "syntax error", DSQL_ESERVER},
        {NULL, NULL, DSQL_ESERVER},
        {"4", "short", DSQL_ESERVER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = dsql__classify_sqlstate(cases[i].state, cases[i].msg);
        if (got != cases[i].status) {
            print_error("case %zu (%s): got %s\n", i, cases[i].state ? cases[i].state : "-",
                        dsql_status_name(got));
            fail();
        }
    }
    assert_true(dsql__is_occ_conflict("40001", NULL));
    assert_false(dsql__is_occ_conflict("40P01", "deadlock detected"));
}

static void connect_wording(void **state)
{
    (void)state;
    assert_int_equal(dsql__classify_connect("FATAL: unable to accept connection, access denied "
                                            "HINT: Signature expired"),
                     DSQL__CF_RESIGN);
    assert_int_equal(dsql__classify_connect("FATAL: unable to accept connection, access denied"),
                     DSQL__CF_ACCESS_DENIED);
    assert_int_equal(dsql__classify_connect("FATAL: unable to accept connection, waking up "
                                            "cluster, please retry later"),
                     DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("FATAL: too many connections for role \"x\""),
                     DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("FATAL: sorry, too many clients already"),
                     DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("FATAL: connection rate exceeded"), DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("Connection refused"), DSQL__CF_REFUSED);
    assert_int_equal(dsql__classify_connect("FATAL: the database system is shutting down"),
                     DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("FATAL: the database system is in recovery mode"),
                     DSQL__CF_RETRY);
    assert_int_equal(dsql__classify_connect("FATAL: password authentication failed"),
                     DSQL__CF_FATAL);
    assert_int_equal(dsql__classify_connect(NULL), DSQL__CF_FATAL);
    char buf[64];
    dsql__one_line(buf, sizeof buf, "connection to server failed: FATAL:  no\n\tway\n");
    assert_string_equal(buf, "connection to server failed: FATAL: no way");
}

static void policy(void **state)
{
    (void)state;
    dsql__policy p;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__policy_resolve(NULL, &p, &err), DSQL_OK);
    assert_int_equal(p.max_retries, 3);
    assert_int_equal(p.base_delay_ms, 100);
    assert_true(p.multiplier == 2.0);
    assert_int_equal(p.max_delay_ms, 5000);
    assert_true(p.jitter == 0.25);
    /* Delays: base x 2^(n-1), capped, plus up to 25 % jitter. */
    for (int n = 1; n <= 10; n++) {
        int64_t lo = 100LL << (n - 1);
        if (lo > 5000)
            lo = 5000;
        int64_t d = dsql__policy_delay(&p, n);
        assert_in_range(d, lo, lo + lo / 4);
    }
    dsql_retry_policy none = {.max_retries = -1, .jitter = -1};
    assert_int_equal(dsql__policy_resolve(&none, &p, &err), DSQL_OK);
    assert_int_equal(p.max_retries, 0);
    assert_int_equal(dsql__policy_delay(&p, 1), 100); /* no jitter */
    static const struct {
        dsql_retry_policy in;
        const char *msg;
    } bad[] = {
        {{.max_retries = -2}, "max_retries must be -1"},
        {{.base_delay_ms = -1}, "delays must not be negative"},
        {{.max_delay_ms = -5}, "delays must not be negative"},
        {{.multiplier = 0.5}, "multiplier must be 1..100"},
        {{.jitter = 1.5}, "jitter must be a fraction"},
        {{.jitter = -0.5}, "jitter must be a fraction"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dsql__policy_resolve(&bad[i].in, &p, &err), DSQL_EINVAL);
        assert_non_null(strstr(err.message, bad[i].msg));
    }
}

static void redaction(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"ALTER ROLE x PASSWORD 'secret'", "ALTER ROLE x PASSWORD '***'"},
        {"create user y with password 'it''s' login", "create user y with password '***' login"},
        {"ALTER ROLE x PASSWORD $$s e c$$ VALID UNTIL 'x'",
         "ALTER ROLE x PASSWORD '***' VALID UNTIL 'x'"},
        {"ALTER ROLE x PASSWORD NULL", "ALTER ROLE x PASSWORD NULL"},
        {"SELECT password_hash FROM t WHERE x = 'keep'",
         "SELECT password_hash FROM t WHERE x = 'keep'"},
        {"SELECT 1", "SELECT 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_append_sql_redacted(&sb, cases[i].in);
        assert_string_equal(dsql__sb_str(&sb), cases[i].out);
        dsql__sb_free(&sb);
    }
}

static void may_write(void **state)
{
    (void)state;
    static const char *const writes[] = {
        "INSERT INTO t VALUES (1)", "update t set a = 1", "  DELETE FROM t",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "CREATE TABLE t (a int)",
        "DROP TABLE t", "ALTER TABLE t ADD COLUMN b int", "CALL sys.wait_for_job('x')",
        "/* hint */ INSERT INTO t VALUES (1)", "-- note\nUPDATE t SET a = 2",
        "EXPLAIN ANALYZE DELETE FROM t", "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
    };
    static const char *const harmless[] = {
        "SELECT 1", "select * from t", "  (SELECT 1) UNION (SELECT 2)", "VALUES (1)",
        "TABLE t", "SHOW timezone", "BEGIN", "START TRANSACTION", "COMMIT", "END",
        "ROLLBACK", "ABORT", "SET search_path = x", "RESET ALL", "DEALLOCATE dsql_1",
        "DISCARD ALL", "/* c */ SELECT 1", "-- c\nSELECT 1",
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (!dsql__sql_may_write(writes[i]))
            fail_msg("'%s' was taken for harmless", writes[i]);
    for (size_t i = 0; i < sizeof harmless / sizeof harmless[0]; i++)
        if (dsql__sql_may_write(harmless[i]))
            fail_msg("'%s' was taken for a write", harmless[i]);
    /* No keyword at all (empty, unterminated comment) is not a write. */
    assert_false(dsql__sql_may_write(""));
    assert_false(dsql__sql_may_write("/* never closed"));
    assert_false(dsql__sql_may_write("-- only a comment"));
}

static void waits_long(void **state)
{
    (void)state;
    static const char *const long_waits[] = {
        "CREATE INDEX ASYNC i ON t (a)", "create index i on t (a)", "ALTER TABLE t ADD b int",
        "DROP TABLE t", "CALL sys.wait_for_job('x')", "/* c */ call p()", "-- c\nCREATE TABLE t ()",
    };
    static const char *const others[] = {
        "SELECT pg_sleep(9)", "INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "COMMIT",
        "BEGIN ISOLATION LEVEL REPEATABLE READ", "CALLER", "", "/* never closed",
        "WITH x AS (SELECT 1) SELECT * FROM x",
    };
    for (size_t i = 0; i < sizeof long_waits / sizeof long_waits[0]; i++)
        if (!dsql__sql_waits_long(long_waits[i]))
            fail_msg("'%s' was not given the long bound", long_waits[i]);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (dsql__sql_waits_long(others[i]))
            fail_msg("'%s' was given the long bound", others[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlstates),
        cmocka_unit_test(connect_wording),
        cmocka_unit_test(policy),
        cmocka_unit_test(redaction),
        cmocka_unit_test(may_write),
        cmocka_unit_test(waits_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
