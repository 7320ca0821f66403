/*
 * Migrations without a server: definitions checked (versions, names, transaction control,
 * backfills), versions ordered as numbers, the plan (DDL alone, neighbouring DML in one
 * transaction, a backfill on its own), the text plain PostgreSQL runs (ASYNC taken out),
 * checksums (stable, and changed by any statement, kind or flag).
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "model/migrate.h"

static const dsql_migration_step users_up[] = {
    {.sql = "CREATE TABLE users (id uuid PRIMARY KEY, name varchar(40))"},
    {.sql = "CREATE INDEX ASYNC users_name ON users (name)"},
    {.sql = "INSERT INTO users VALUES (gen_random_uuid(), 'a')"},
    {.sql = "  -- a comment first\n  WITH x AS (SELECT 1) INSERT INTO users SELECT "
            "gen_random_uuid(), 'b' FROM x"},
    {.sql = "UPDATE users SET name = 'c' WHERE id IN (SELECT id FROM users WHERE name = 'b' LIMIT "
            "1000)",
     .flags = DSQL_STEP_BACKFILL},
    {.sql = "DELETE FROM users WHERE name = 'x'"},
    {.sql = "SELECT count(*) FROM users"},
    {.sql = "ALTER TABLE users ADD COLUMN note text"},
};
static const dsql_migration_step users_down[] = {{.sql = "DROP TABLE users"}};
static const dsql_migration users = {.version = "20260101000000",
                                     .name = "users",
                                     .up = users_up,
                                     .n_up = 8,
                                     .down = users_down,
                                     .n_down = 1};

static void check_fails(const dsql_migration *m, size_t n, const char *want)
{
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_migrations_check(m, n, &err), DSQL_EINVAL);
    assert_string_equal(err.message, want);
}

static void definitions(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_migrations_check(&users, 1, &err), DSQL_OK);
    assert_int_equal(dsql_migrations_check(NULL, 0, &err), DSQL_OK);

    dsql_migration m = users;
    m.version = "2026a";
    check_fails(&m, 1,
                "dsql_migrations_check: migration 1: version '2026a' must be 1 to 32 digits (a "
                "number, e.g. a UTC "
                "time 20260101120000)");
    m.version = "123456789012345678901234567890123";
    check_fails(&m, 1,
                "dsql_migrations_check: migration 1: version '123456789012345678901234567890123' "
                "must be 1 to 32 "
                "digits (a number, e.g. a UTC time 20260101120000)");
    m.version = NULL;
    m.source = "migrations/x.sql";
    check_fails(&m, 1,
                "dsql_migrations_check: migration 1 in migrations/x.sql: version '(null)' must be "
                "1 to 32 digits "
                "(a number, e.g. a UTC time 20260101120000)");
    m = users;
    m.name = "";
    check_fails(
        &m, 1,
        "dsql_migrations_check: migration 20260101000000: a name of 1 to 200 bytes is needed");
    m = users;
    m.n_up = 0;
    check_fails(&m, 1, "dsql_migrations_check: migration 20260101000000 (users): no up statement");

    dsql_migration two[2] = {users, users};
    two[1].version = "020260101000000"; /* the same number */
    check_fails(two, 2,
                "dsql_migrations_check: migrations 20260101000000 (users) and 020260101000000 "
                "(users) have the "
                "same version");

    static const dsql_migration_step begin[] = {{.sql = "CREATE TABLE a (x int)"},
                                                {.sql = "begin", .line = 7}};
    m = (dsql_migration){
        .version = "2", .name = "tx", .up = begin, .n_up = 2, .source = "m/2_tx.sql"};
    check_fails(&m, 1,
                "dsql_migrations_check: migration 2 (tx): m/2_tx.sql:line 7: transaction control "
                "(BEGIN, COMMIT, "
                "ROLLBACK, SAVEPOINT, ...) in a migration: the runner makes the "
                "transactions itself (each DDL statement alone, DML grouped under the row "
                "cap); remove it");
    static const dsql_migration_step savepoint[] = {{.sql = "/* x */ SAVEPOINT s"}};
    m = (dsql_migration){.version = "3", .name = "sp", .up = savepoint, .n_up = 1};
    check_fails(&m, 1,
                "dsql_migrations_check: migration 3 (sp): up part, statement 1: transaction "
                "control (BEGIN, "
                "COMMIT, ROLLBACK, SAVEPOINT, ...) in a migration: the runner makes the "
                "transactions itself (each DDL statement alone, DML grouped under the row "
                "cap); remove it");
    static const dsql_migration_step bf[] = {
        {.sql = "CREATE TABLE a (x int)", .flags = DSQL_STEP_BACKFILL}};
    m = (dsql_migration){.version = "4", .name = "bf", .up = bf, .n_up = 1};
    check_fails(
        &m, 1,
        "dsql_migrations_check: migration 4 (bf): up part, statement 1: a backfill must be a DML "
        "statement (UPDATE, DELETE, INSERT ... SELECT) that changes at most 3,000 "
        "rows a run and none once done");
    static const dsql_migration_step empty[] = {{.sql = ""}};
    m = (dsql_migration){
        .version = "5", .name = "e", .up = users_up, .n_up = 1, .down = empty, .n_down = 1};
    check_fails(
        &m, 1,
        "dsql_migrations_check: migration 5 (e): down part, statement 1: an empty statement");
}

static void versions(void **state)
{
    (void)state;
    assert_true(dsql__mig_version_cmp("9", "10") < 0);
    assert_true(dsql__mig_version_cmp("010", "10") == 0);
    assert_true(dsql__mig_version_cmp("20260102", "20260101") > 0);
    assert_true(dsql__mig_version_cmp("0", "0000") == 0);
    assert_true(dsql__mig_version_ok("1"));
    assert_false(dsql__mig_version_ok(""));
    assert_false(dsql__mig_version_ok("-1"));
}

static void plan(void **state)
{
    (void)state;
    dsql_migrate_group g[8];
    size_t n = 0;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_migration_plan(&users, false, g, 8, &n, &err), DSQL_OK);
    assert_int_equal(n, 7);
    const struct {
        size_t first, count;
        dsql_step_kind kind;
        bool backfill;
    } want[] = {{0, 1, DSQL_STEP_DDL, false}, {1, 1, DSQL_STEP_DDL, false},
                {2, 2, DSQL_STEP_DML, false}, {4, 1, DSQL_STEP_DML, true},
                {5, 1, DSQL_STEP_DML, false}, {6, 1, DSQL_STEP_OTHER, false},
                {7, 1, DSQL_STEP_DDL, false}};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g[i].first, want[i].first);
        assert_int_equal(g[i].count, want[i].count);
        assert_int_equal(g[i].kind, want[i].kind);
        assert_int_equal(g[i].backfill, want[i].backfill);
    }
    assert_int_equal(dsql_migration_plan(&users, true, g, 8, &n, &err), DSQL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].kind, DSQL_STEP_DDL);
    assert_int_equal(dsql_migration_plan(&users, false, g, 3, &n, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_migration_plan: room for 3 groups, more are needed");
    /* a kind given by the caller wins over the first keyword */
    static const dsql_migration_step forced[] = {{.sql = "SELECT 1", .kind = DSQL_STEP_DDL},
                                                 {.sql = "SELECT 2", .kind = DSQL_STEP_DML},
                                                 {.sql = "SELECT 3", .kind = DSQL_STEP_DML}};
    dsql_migration m = {.version = "1", .name = "f", .up = forced, .n_up = 3};
    assert_int_equal(dsql_migration_plan(&m, false, g, 8, &n, &err), DSQL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(g[1].count, 2);
}

static void pg_text(void **state)
{
    (void)state;
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"CREATE INDEX ASYNC i ON t (x)", "CREATE INDEX       i ON t (x)"},
        {"create unique index async if not exists i on t (x)",
         "create unique index       if not exists i on t (x)"},
        {"/* c */ CREATE\n  INDEX -- x\n ASYNC i ON t (x)",
         "/* c */ CREATE\n  INDEX -- x\n       i ON t (x)"},
        {"ALTER TABLE ASYNC t VALIDATE CONSTRAINT c", "ALTER TABLE       t VALIDATE CONSTRAINT c"},
        {"CREATE INDEX asyncx ON t (x)", "CREATE INDEX asyncx ON t (x)"},
        {"CREATE TABLE async (x int)", "CREATE TABLE async (x int)"},
        {"SELECT 'CREATE INDEX ASYNC'", "SELECT 'CREATE INDEX ASYNC'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_migration_step s = {.sql = cases[i].sql};
        char *t = dsql__mig_sql_pg(&s);
        assert_non_null(t);
        assert_string_equal(t, cases[i].want);
        free(t);
    }
    dsql_migration_step s = {.sql = "CREATE INDEX ASYNC i ON t (x)", .sql_pg = "given"};
    char *t = dsql__mig_sql_pg(&s);
    assert_string_equal(t, "given");
    free(t);
}

static void checksums(void **state)
{
    (void)state;
    char a[65], b[65];
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_migration_checksum(&users, a, &err), DSQL_OK);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(dsql_migration_checksum(&users, b, &err), DSQL_OK);
    assert_string_equal(a, b);
    dsql_migration_step up[8];
    memcpy(up, users_up, sizeof up);
    dsql_migration m = users;
    m.up = up;
    /* a flag, a kind, a statement's text, the down part: each changes it */
    up[4].flags = 0;
    assert_int_equal(dsql_migration_checksum(&m, b, &err), DSQL_OK);
    assert_string_not_equal(a, b);
    up[4].flags = DSQL_STEP_BACKFILL;
    up[6].kind = DSQL_STEP_OTHER;
    assert_int_equal(dsql_migration_checksum(&m, b, &err), DSQL_OK);
    assert_string_not_equal(a, b);
    up[6].kind = DSQL_STEP_AUTO;
    up[0].sql = "CREATE TABLE users (id uuid PRIMARY KEY, name varchar(41))";
    assert_int_equal(dsql_migration_checksum(&m, b, &err), DSQL_OK);
    assert_string_not_equal(a, b);
    up[0] = users_up[0];
    m.n_down = 0;
    assert_int_equal(dsql_migration_checksum(&m, b, &err), DSQL_OK);
    assert_string_not_equal(a, b);
    m.n_down = 1;
    assert_int_equal(dsql_migration_checksum(&m, b, &err), DSQL_OK);
    assert_string_equal(a, b);
    /* statement boundaries count: "ab" + "c" is not "a" + "bc" */
    static const dsql_migration_step s1[] = {{.sql = "SELECT 1"}, {.sql = "2"}};
    static const dsql_migration_step s2[] = {{.sql = "SELECT "}, {.sql = "12"}};
    char p1[65], p2[65];
    assert_int_equal(dsql__mig_prefix(s1, 2, p1, &err), DSQL_OK);
    assert_int_equal(dsql__mig_prefix(s2, 2, p2, &err), DSQL_OK);
    assert_string_not_equal(p1, p2);
    /* the prefix of k statements depends on those only */
    assert_int_equal(dsql__mig_prefix(users_up, 2, p1, &err), DSQL_OK);
    assert_int_equal(dsql__mig_prefix(up, 2, p2, &err), DSQL_OK);
    assert_string_equal(p1, p2);
    assert_string_equal(dsql_migration_state_name(DSQL_MIGRATION_FAILED), "failed");
    assert_string_equal(dsql_migration_state_name((dsql_migration_state)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(definitions), cmocka_unit_test(versions),  cmocka_unit_test(plan),
        cmocka_unit_test(pg_text),     cmocka_unit_test(checksums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
