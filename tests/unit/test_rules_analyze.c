/* The analyser: splitting with exact positions (strings, comments, dollar quotes and
 * function bodies holding ';'), lines and UTF-8 columns, DSQL's ASYNC forms and the text
 * PostgreSQL runs instead, syntax errors with PostgreSQL's message and position, the facts
 * a server reads per statement, and bad input. */
#include <string.h>

#include "testutil.h"

#include "rules/rules.h"

static dsql_rules_result *analyze(const char *sql)
{
    dsql_rules_result *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_rules_analyze(sql, strlen(sql), &r, &err) != DSQL_OK)
        fail_msg("analyse %s: %s", sql, err.message);
    return r;
}

/* Asserts statement i covers exactly the text `text` at its first occurrence in sql. */
static void assert_stmt(const dsql_rules_result *r, const char *sql, size_t i, const char *text,
                        unsigned line, unsigned column)
{
    const dsql_rules_stmt *st = dsql_rules_stmt_at(r, i);
    assert_non_null(st);
    const char *at = strstr(sql, text);
    assert_non_null(at);
    assert_int_equal(st->offset, (size_t)(at - sql));
    assert_int_equal(st->length, strlen(text));
    assert_int_equal(st->line, line);
    assert_int_equal(st->column, column);
}

static void splits_with_positions(void **state)
{
    (void)state;
    const char *sql = "SELECT 'it''s; fine' AS a; /* c; */ -- x;\n"
                      "  SELECT $$a;b$$;;  \n"
                      "SELECT \"semi;colon\" FROM t";
    dsql_rules_result *r = analyze(sql);
    assert_int_equal(dsql_rules_count(r), 3);
    assert_stmt(r, sql, 0, "SELECT 'it''s; fine' AS a", 1, 1);
    assert_stmt(r, sql, 1, "SELECT $$a;b$$", 2, 3);
    assert_stmt(r, sql, 2, "SELECT \"semi;colon\" FROM t", 3, 1);
    assert_null(dsql_rules_stmt_at(r, 3));
    assert_null(dsql_rules_syntax_error(r));
    dsql_rules_result_free(r);

    /* Only comments, white space and semicolons: no statement. */
    static const char *const empty[] = {
        "", "   \n\t", ";", " ; ;; ", "/* only */ -- comment", "-- a; b\n/* c; */;"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        r = analyze(empty[i]);
        assert_int_equal(dsql_rules_count(r), 0);
        dsql_rules_result_free(r);
    }
}

static void utf8_columns(void **state)
{
    (void)state;
    /* 'é' and 'ü' are two bytes each: columns count characters, offsets bytes. */
    const char *sql = "SELECT 'é'; SELECT 'ü' ; SELECT 1 FOR SHARE";
    dsql_rules_result *r = analyze(sql);
    assert_int_equal(dsql_rules_count(r), 3);
    assert_stmt(r, sql, 2, "SELECT 1 FOR SHARE", 1, 26);
    const dsql_rules_finding *f = dsql_rules_refusal(dsql_rules_stmt_at(r, 2));
    assert_non_null(f);
    assert_int_equal(f->offset, (size_t)(strstr(sql, "FOR SHARE") - sql));
    assert_int_equal(f->column, 35);
    assert_int_equal(dsql_rules_error_position(r, f), 35);
    dsql_rules_result_free(r);
}

static void function_bodies_hold_semicolons(void **state)
{
    (void)state;
    /* A syntax error later in the text makes the analyser split by itself: the BEGIN
     * ATOMIC body stays one statement. */
    const char *sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
                      "BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n"
                      "SELEC x";
    dsql_rules_result *r = analyze(sql);
    assert_int_equal(dsql_rules_count(r), 2);
    assert_stmt(r, sql, 0,
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
                "BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
                1, 1);
    assert_int_equal(dsql_rules_stmt_at(r, 0)->kind, DSQL_RULES_DDL);
    assert_int_equal(dsql_rules_stmt_at(r, 0)->n_findings, 0);
    assert_stmt(r, sql, 1, "SELEC x", 3, 1);
    dsql_rules_result_free(r);
}

static void syntax_errors(void **state)
{
    (void)state;
    const char *sql = "SELECT 1;\nSELEC 2;\nSELECT 3 FOR SHARE";
    dsql_rules_result *r = analyze(sql);
    assert_int_equal(dsql_rules_count(r), 3);
    const dsql_rules_stmt *bad = dsql_rules_stmt_at(r, 1);
    assert_int_equal(bad->kind, DSQL_RULES_UNKNOWN);
    assert_string_equal(bad->command, "");
    const dsql_rules_finding *f = dsql_rules_syntax_error(r);
    assert_ptr_equal(f, dsql_rules_refusal(bad));
    assert_int_equal(f->rule->number, DSQL_RULE_SYNTAX);
    assert_string_equal(f->rule->sqlstate, "42601");
    assert_string_equal(f->message, "syntax error at or near \"SELEC\"");
    assert_int_equal(f->offset, 10);
    assert_int_equal(f->line, 2);
    assert_int_equal(f->column, 1);
    assert_int_equal(dsql_rules_error_position(r, f), 11);
    /* The statements around it are still analysed. */
    assert_int_equal(dsql_rules_stmt_at(r, 0)->kind, DSQL_RULES_READ);
    assert_int_equal(dsql_rules_refusal(dsql_rules_stmt_at(r, 2))->rule->number,
                     DSQL_RULE_LOCKING_CLAUSE);
    dsql_rules_result_free(r);

    /* PostgreSQL's position of an error in the middle of a statement. */
    r = analyze("SELECT * FROM t WHERE");
    f = dsql_rules_syntax_error(r);
    assert_non_null(f);
    assert_string_equal(f->message, "syntax error at end of input");
    assert_int_equal(dsql_rules_error_position(r, f), 22);
    dsql_rules_result_free(r);

    /* The scanner's own errors: an unterminated string or comment. */
    r = analyze("SELECT 1; SELECT 'abc");
    f = dsql_rules_syntax_error(r);
    assert_non_null(f);
    assert_string_equal(f->message, "unterminated quoted string at or near \"'abc\"");
    assert_int_equal(f->offset, 17);
    assert_int_equal(dsql_rules_count(r), 1);
    dsql_rules_result_free(r);
    r = analyze("SELECT 1 /* open");
    f = dsql_rules_syntax_error(r);
    assert_non_null(f);
    assert_string_equal(f->message, "unterminated /* comment at or near \"/* open\"");
    dsql_rules_result_free(r);
}

static void async_forms(void **state)
{
    (void)state;
    static const struct {
        const char *sql, *forward;
        bool async;
        const char *index_name, *table;
        bool unique, if_not_exists;
    } cases[] = {
        {"CREATE INDEX ASYNC i ON t (c)", "CREATE INDEX       i ON t (c)", true, "i", "t", false,
         false},
        {"create unique index async if not exists i on s.t(c)",
         "create unique index       if not exists i on s.t(c)", true, "i", "t", true, true},
        {"CREATE INDEX /* why */ ASYNC i ON t (c)", "CREATE INDEX /* why */       i ON t (c)", true,
         "i", "t", false, false},
        /* After INDEX, ASYNC is DSQL's keyword (a name-less asynchronous index); an index
         * named async is written quoted. */
        {"CREATE INDEX async ON t (c)", "CREATE INDEX       ON t (c)", true, NULL, "t", false,
         false},
        {"ALTER TABLE ASYNC t VALIDATE CONSTRAINT c", "ALTER TABLE       t VALIDATE CONSTRAINT c",
         true, NULL, NULL, false, false},
        /* A table named async. */
        {"ALTER TABLE async ADD COLUMN c int", "ALTER TABLE async ADD COLUMN c int", false, NULL,
         NULL, false, false},
        /* PostgreSQL 16's column STORAGE, which DSQL accepts and PostgreSQL 15 cannot parse;
         * ALTER COLUMN ... SET STORAGE stays. */
        {"ALTER TABLE t ADD COLUMN d text STORAGE PLAIN",
         "ALTER TABLE t ADD COLUMN d text              ", false, NULL, NULL, false, false},
        {"CREATE TABLE t (a text STORAGE EXTERNAL, storage int)",
         "CREATE TABLE t (a text                 , storage int)", false, NULL, NULL, false, false},
        {"ALTER TABLE t ALTER COLUMN a SET STORAGE MAIN",
         "ALTER TABLE t ALTER COLUMN a SET STORAGE MAIN", false, NULL, NULL, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_rules_result *r = analyze(cases[i].sql);
        assert_int_equal(dsql_rules_count(r), 1);
        const dsql_rules_stmt *st = dsql_rules_stmt_at(r, 0);
        if (st->n_findings)
            fail_msg("%s: flagged %s", cases[i].sql, st->findings[0].message);
        assert_int_equal(st->kind, DSQL_RULES_DDL);
        assert_int_equal(st->async, cases[i].async);
        assert_string_equal(st->forward, cases[i].forward);
        assert_int_equal(st->rewritten, strcmp(cases[i].sql, cases[i].forward) != 0);
        size_t flen = 0;
        assert_string_equal(dsql_rules_forward(r, &flen), cases[i].forward);
        assert_int_equal(flen, strlen(cases[i].sql));
        if (cases[i].table) {
            assert_non_null(st->index);
            if (cases[i].index_name)
                assert_string_equal(st->index->name, cases[i].index_name);
            else
                assert_null(st->index->name);
            assert_string_equal(st->index->table.name, cases[i].table);
            assert_int_equal(st->index->unique, cases[i].unique);
            assert_int_equal(st->index->if_not_exists, cases[i].if_not_exists);
        }
        dsql_rules_result_free(r);
    }
    /* An index named "async" (quoted) is a plain, synchronous CREATE INDEX. */
    dsql_rules_result *q = analyze("CREATE INDEX \"async\" ON t (c)");
    assert_false(dsql_rules_stmt_at(q, 0)->async);
    assert_string_equal(dsql_rules_stmt_at(q, 0)->index->name, "async");
    assert_int_equal(dsql_rules_refusal(dsql_rules_stmt_at(q, 0))->rule->number,
                     DSQL_RULE_INDEX_SYNC);
    dsql_rules_result_free(q);

    /* Two statements, one of them asynchronous: each forward holds its own text. */
    const char *sql = "CREATE TABLE baseline_multi_d (id int); CREATE INDEX ASYNC "
                      "baseline_multi_d_idx ON baseline_multi_d (id)";
    dsql_rules_result *r = analyze(sql);
    assert_int_equal(dsql_rules_count(r), 2);
    assert_false(dsql_rules_stmt_at(r, 0)->async);
    assert_string_equal(dsql_rules_stmt_at(r, 0)->forward,
                        "CREATE TABLE baseline_multi_d (id int)");
    assert_true(dsql_rules_stmt_at(r, 1)->async);
    assert_string_equal(dsql_rules_stmt_at(r, 1)->forward,
                        "CREATE INDEX       baseline_multi_d_idx ON baseline_multi_d (id)");
    dsql_rules_result_free(r);
}

static void index_facts(void **state)
{
    (void)state;
    dsql_rules_result *r = analyze("CREATE UNIQUE INDEX ASYNC ix ON app.\"Pets\" (\"ownerId\", "
                                   "lower(name)) INCLUDE (city, zip) NULLS NOT DISTINCT WHERE "
                                   "name <> ''");
    const dsql_rules_stmt *st = dsql_rules_stmt_at(r, 0);
    const dsql_rules_index *ix = st->index;
    assert_non_null(ix);
    assert_string_equal(ix->name, "ix");
    assert_string_equal(ix->table.schema, "app");
    assert_string_equal(ix->table.name, "Pets");
    assert_int_equal(ix->n_columns, 2);
    assert_string_equal(ix->columns[0], "ownerId");
    assert_null(ix->columns[1]); /* an expression */
    assert_int_equal(ix->n_include, 2);
    assert_string_equal(ix->include[0], "city");
    assert_string_equal(ix->include[1], "zip");
    assert_true(ix->unique);
    assert_false(ix->if_not_exists);
    assert_true(ix->partial);
    assert_true(ix->nulls_not_distinct);
    assert_int_equal(st->n_targets, 1);
    assert_string_equal(st->targets[0].schema, "app");
    assert_string_equal(st->targets[0].name, "Pets");
    assert_string_equal(st->command, "CREATE INDEX");
    dsql_rules_result_free(r);
}

typedef struct kind_case {
    const char *sql;
    dsql_rules_kind kind;
    const char *command;
    bool writes;
} kind_case;

static void kinds_and_commands(void **state)
{
    (void)state;
    static const kind_case cases[] = {
        {"SELECT 1", DSQL_RULES_READ, "SELECT", false},
        {"VALUES (1), (2)", DSQL_RULES_READ, "SELECT", false},
        {"TABLE t", DSQL_RULES_READ, "SELECT", false},
        {"WITH x AS (SELECT 1) SELECT * FROM x", DSQL_RULES_READ, "SELECT", false},
        {"WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x", DSQL_RULES_DML, "SELECT", true},
        {"EXPLAIN SELECT 1", DSQL_RULES_READ, "EXPLAIN", false},
        {"EXPLAIN DELETE FROM t", DSQL_RULES_READ, "EXPLAIN", false},
        {"EXPLAIN (ANALYZE) DELETE FROM t", DSQL_RULES_DML, "EXPLAIN", true},
        {"EXPLAIN (ANALYZE false) DELETE FROM t", DSQL_RULES_READ, "EXPLAIN", false},
        {"COPY t TO STDOUT", DSQL_RULES_READ, "COPY", false},
        {"COPY t FROM STDIN", DSQL_RULES_DML, "COPY", true},
        {"INSERT INTO t VALUES (1)", DSQL_RULES_DML, "INSERT", true},
        {"UPDATE t SET a = 1", DSQL_RULES_DML, "UPDATE", true},
        {"DELETE FROM t", DSQL_RULES_DML, "DELETE", true},
        {"CREATE TABLE t (id uuid PRIMARY KEY)", DSQL_RULES_DDL, "CREATE TABLE", false},
        {"CREATE VIEW v AS SELECT 1", DSQL_RULES_DDL, "CREATE VIEW", false},
        {"DROP TABLE IF EXISTS t CASCADE", DSQL_RULES_DDL, "DROP TABLE", false},
        {"ALTER TABLE t RENAME COLUMN a TO b", DSQL_RULES_DDL, "ALTER", false},
        {"COMMENT ON TABLE t IS 'x'", DSQL_RULES_DDL, "COMMENT", false},
        {"GRANT SELECT ON t TO r", DSQL_RULES_DDL, "GRANT", false},
        {"CREATE SCHEMA s", DSQL_RULES_DDL, "CREATE SCHEMA", false},
        {"CREATE DOMAIN d AS int", DSQL_RULES_DDL, "CREATE DOMAIN", false},
        {"BEGIN", DSQL_RULES_BEGIN, "BEGIN", false},
        {"START TRANSACTION ISOLATION LEVEL REPEATABLE READ", DSQL_RULES_BEGIN, "START TRANSACTION",
         false},
        {"COMMIT", DSQL_RULES_COMMIT, "COMMIT", false},
        {"END", DSQL_RULES_COMMIT, "COMMIT", false},
        {"ROLLBACK", DSQL_RULES_ROLLBACK, "ROLLBACK", false},
        {"ABORT", DSQL_RULES_ROLLBACK, "ROLLBACK", false},
        {"SAVEPOINT s", DSQL_RULES_SAVEPOINT, "SAVEPOINT", false},
        {"SET TIME ZONE 'UTC'", DSQL_RULES_SET, "SET", false},
        {"RESET search_path", DSQL_RULES_SET, "RESET", false},
        {"SHOW search_path", DSQL_RULES_SHOW, "SHOW", false},
        {"CALL sys.wait_for_job('j')", DSQL_RULES_CALL, "CALL", false},
        {"DISCARD ALL", DSQL_RULES_UTILITY, "DISCARD", false},
        {"PREPARE q AS INSERT INTO t VALUES (1)", DSQL_RULES_UTILITY, "PREPARE", false},
        {"ANALYZE t", DSQL_RULES_UTILITY, "ANALYZE", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_rules_result *r = analyze(cases[i].sql);
        const dsql_rules_stmt *st = dsql_rules_stmt_at(r, 0);
        if (st->kind != cases[i].kind || strcmp(st->command, cases[i].command) != 0 ||
            st->writes != cases[i].writes)
            fail_msg("%s: kind %s command '%s' writes %d, expected %s '%s' %d", cases[i].sql,
                     dsql_rules_kind_name(st->kind), st->command, st->writes,
                     dsql_rules_kind_name(cases[i].kind), cases[i].command, cases[i].writes);
        dsql_rules_result_free(r);
    }
    assert_string_equal(dsql_rules_kind_name(DSQL_RULES_DDL), "ddl");
    assert_string_equal(dsql_rules_kind_name((dsql_rules_kind)99), "unknown");
}

static void server_facts(void **state)
{
    (void)state;
    dsql_rules_result *r =
        analyze("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; START TRANSACTION; "
                "SET LOCAL TimeZone = 'UTC'; RESET ALL; SHOW Search_Path; PREPARE q AS SELECT 1; "
                "EXECUTE q; DEALLOCATE PREPARE q; DEALLOCATE ALL; "
                "SELECT * FROM a JOIN b ON true FOR UPDATE OF a FOR KEY SHARE OF b; "
                "UPDATE s.t SET v = $1 WHERE id = $12; "
                "WITH d AS (DELETE FROM x RETURNING *) INSERT INTO y SELECT * FROM d");
    assert_int_equal(dsql_rules_count(r), 12);
    const dsql_rules_stmt *s = dsql_rules_stmt_at(r, 0);
    assert_int_equal(s->isolation, DSQL_RULES_ISO_REPEATABLE_READ);
    assert_true(s->read_only);
    assert_int_equal(s->n_findings, 0);
    s = dsql_rules_stmt_at(r, 1);
    assert_int_equal(s->isolation, DSQL_RULES_ISO_NONE);
    assert_false(s->read_only);
    s = dsql_rules_stmt_at(r, 2);
    assert_string_equal(s->setting, "timezone");
    assert_true(s->set_local);
    assert_int_equal(s->n_findings, 0);
    s = dsql_rules_stmt_at(r, 3);
    assert_string_equal(s->setting, "all");
    assert_int_equal(s->n_findings, 0);
    s = dsql_rules_stmt_at(r, 4);
    assert_string_equal(s->setting, "search_path");
    s = dsql_rules_stmt_at(r, 5);
    assert_int_equal(s->prepared, DSQL_RULES_PREP_PREPARE);
    assert_string_equal(s->prepared_name, "q");
    s = dsql_rules_stmt_at(r, 6);
    assert_int_equal(s->prepared, DSQL_RULES_PREP_EXECUTE);
    assert_string_equal(s->prepared_name, "q");
    s = dsql_rules_stmt_at(r, 7);
    assert_int_equal(s->prepared, DSQL_RULES_PREP_DEALLOCATE);
    assert_string_equal(s->prepared_name, "q");
    s = dsql_rules_stmt_at(r, 8);
    assert_int_equal(s->prepared, DSQL_RULES_PREP_DEALLOCATE_ALL);
    assert_null(s->prepared_name);
    assert_int_equal(s->n_findings, 0);
    s = dsql_rules_stmt_at(r, 9);
    assert_int_equal(s->locking, DSQL_RULES_LOCK_FOR_UPDATE | DSQL_RULES_LOCK_FOR_KEY_SHARE);
    assert_int_equal(s->n_findings, 0);
    s = dsql_rules_stmt_at(r, 10);
    assert_int_equal(s->max_param, 12);
    assert_int_equal(s->n_targets, 1);
    assert_string_equal(s->targets[0].schema, "s");
    assert_string_equal(s->targets[0].name, "t");
    s = dsql_rules_stmt_at(r, 11);
    assert_int_equal(s->kind, DSQL_RULES_DML);
    assert_string_equal(s->command, "INSERT");
    assert_int_equal(s->n_targets, 2);
    assert_string_equal(s->targets[0].name, "y");
    assert_null(s->targets[0].schema);
    assert_string_equal(s->targets[1].name, "x");
    dsql_rules_result_free(r);

    r = analyze("DROP TABLE a, s.b; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; "
                "BEGIN ISOLATION LEVEL READ UNCOMMITTED");
    s = dsql_rules_stmt_at(r, 0);
    assert_int_equal(s->n_targets, 2);
    assert_string_equal(s->targets[0].name, "a");
    assert_string_equal(s->targets[1].schema, "s");
    assert_string_equal(s->targets[1].name, "b");
    s = dsql_rules_stmt_at(r, 1);
    assert_string_equal(s->setting, "transaction");
    assert_int_equal(s->isolation, DSQL_RULES_ISO_SERIALIZABLE);
    s = dsql_rules_stmt_at(r, 2);
    assert_int_equal(s->isolation, DSQL_RULES_ISO_READ_UNCOMMITTED);
    assert_string_equal(dsql_rules_refusal(s)->message,
                        "Unsupported isolation level: READ UNCOMMITTED");
    dsql_rules_result_free(r);
}

/* Findings of one statement: refusals first, then warnings, each in text order. */
static void finding_order(void **state)
{
    (void)state;
    const char *sql = "CREATE TABLE t (a numeric, b money, c serial, d numeric)";
    dsql_rules_result *r = analyze(sql);
    const dsql_rules_stmt *st = dsql_rules_stmt_at(r, 0);
    assert_int_equal(st->n_findings, 4);
    assert_int_equal(st->findings[0].rule->number, DSQL_RULE_COLUMN_TYPE);
    assert_int_equal(st->findings[1].rule->number, DSQL_RULE_SERIAL);
    assert_int_equal(st->findings[2].rule->number, DSQL_RULE_BARE_NUMERIC);
    assert_int_equal(st->findings[2].offset, (size_t)(strstr(sql, "numeric") - sql));
    assert_int_equal(st->findings[3].rule->number, DSQL_RULE_BARE_NUMERIC);
    assert_int_equal(st->findings[3].offset, (size_t)(strstr(sql, "numeric)") - sql));
    assert_ptr_equal(dsql_rules_refusal(st), &st->findings[0]);
    dsql_rules_result_free(r);
}

static void bad_input(void **state)
{
    (void)state;
    dsql_rules_result *r = (dsql_rules_result *)&r;
    dsql_error err = DSQL_ERROR_INIT;
    const char with_nul[] = "SELECT 1;\0DROP TABLE t";
    assert_int_equal(dsql_rules_analyze(with_nul, sizeof with_nul - 1, &r, &err), DSQL_EINVAL);
    assert_null(r);
    assert_string_equal(err.message, "SQL text holds a NUL byte at offset 9");
    assert_int_equal(dsql_rules_analyze(NULL, 0, &r, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_rules_analyze: sql is NULL");
    assert_int_equal(dsql_rules_analyze("SELECT 1", 8, NULL, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_rules_analyze: out is NULL");
    assert_int_equal(dsql_rules_analyze("SELECT 1", (size_t)1 << 31, &r, NULL), DSQL_EINVAL);
    /* Not NUL-terminated: only len bytes count. */
    const char buf[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 'x'};
    assert_int_equal(dsql_rules_analyze(buf, 8, &r, &err), DSQL_OK);
    assert_int_equal(dsql_rules_count(r), 1);
    assert_string_equal(dsql_rules_stmt_at(r, 0)->forward, "SELECT 1");
    dsql_rules_result_free(r);
    dsql_rules_result_free(NULL);
    assert_int_equal(dsql_rules_count(NULL), 0);
    assert_null(dsql_rules_stmt_at(NULL, 0));
    assert_null(dsql_rules_refusal(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splits_with_positions),
        cmocka_unit_test(utf8_columns),
        cmocka_unit_test(function_bodies_hold_semicolons),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(async_forms),
        cmocka_unit_test(index_facts),
        cmocka_unit_test(kinds_and_commands),
        cmocka_unit_test(server_facts),
        cmocka_unit_test(finding_order),
        cmocka_unit_test(bad_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
