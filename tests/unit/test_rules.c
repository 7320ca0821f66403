/*
 * The DSQL rules module: every rule with a statement DSQL refuses and a twin it accepts
 * (exact rule, SQLSTATE, message, position), statement kinds, DSQL's syntax extensions,
 * splitting, and the transaction rules.
 */
#include <string.h>

#include "testutil.h"
#include "rules/rules.h"

typedef struct rcase {
    const char *sql;
    const char *rule;    /* first refusal expected, NULL = accepted */
    const char *message; /* NULL = the rule's own */
} rcase;

static void check(const rcase *c)
{
    dsql_rules_result r;
    assert_int_equal(dsql_rules_analyze(c->sql, &r), 0);
    if (r.n != 1)
        fail_msg("%s: %zu statements", c->sql, r.n);
    const dsql_rules_finding *f = dsql_rules_refusal(&r.stmts[0]);
    if (!c->rule) {
        if (f)
            fail_msg("%s: expected to be accepted, refused by %s: %s", c->sql, f->rule->id,
                     f->message);
    } else {
        if (!f)
            fail_msg("%s: expected %s, accepted", c->sql, c->rule);
        if (strcmp(f->rule->id, c->rule))
            fail_msg("%s: expected %s, got %s: %s", c->sql, c->rule, f->rule->id, f->message);
        if (c->message && strcmp(f->message, c->message))
            fail_msg("%s: message \"%s\", expected \"%s\"", c->sql, f->message, c->message);
    }
    dsql_rules_result_free(&r);
}

static void refused_and_accepted_twins(void **state)
{
    (void)state;
    static const rcase cases[] = {
        {"TRUNCATE TABLE t", "DSQL-TRUNCATE", "unsupported statement: Truncate"},
        {"DELETE FROM t WHERE id IN (SELECT id FROM t LIMIT 3000)", NULL, NULL},
        {"CREATE DATABASE d", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Createdb"},
        {"CREATE SCHEMA s", NULL, NULL},
        {"UNLISTEN c", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Unlisten"},
        {"LISTEN c", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Listen"},
        {"NOTIFY c", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Notify"},
        {"LOCK TABLE t", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Lock"},
        {"DO $$ BEGIN END $$", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Do"},
        {"PREPARE p AS SELECT 1", "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: Prepare"},
        {"DECLARE c CURSOR FOR SELECT 1", "DSQL-UNSUPPORTED-STATEMENT",
         "unsupported statement: DeclareCursor"},
        {"CREATE EXTENSION pgcrypto", "DSQL-UNSUPPORTED-STATEMENT",
         "unsupported statement: CreateExtension"},
        {"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
         "DSQL-UNSUPPORTED-STATEMENT", "unsupported statement: CreateTrig"},
        {"VACUUM t", "DSQL-VACUUM", "unsupported VACUUM statement"},
        {"ANALYZE t", NULL, NULL},
        {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "DSQL-MERGE",
         "unsupported statement type: MERGE"},
        {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1", NULL, NULL},
        {"CREATE TYPE mood AS ENUM ('sad', 'ok')", "DSQL-CREATE-TYPE", "CREATE TYPE not supported"},
        {"CREATE TYPE pair AS (a int, b int)", "DSQL-CREATE-TYPE", NULL},
        {"CREATE DOMAIN mood AS text CHECK (VALUE IN ('sad', 'ok'))", NULL, NULL},
        {"DROP TYPE IF EXISTS mood", "DSQL-DROP-OBJECT", "unsupported object in DROP statement"},
        {"DROP TABLE IF EXISTS t CASCADE", NULL, NULL},
        {"CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
         "DSQL-FUNCTION-LANGUAGE", "CREATE FUNCTION with language plpgsql not supported"},
        {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", NULL, NULL},
        {"SAVEPOINT sp", "DSQL-SAVEPOINT", "unsupported transaction statement: SAVEPOINT"},
        {"RELEASE SAVEPOINT sp", "DSQL-SAVEPOINT", "unsupported transaction statement: RELEASE"},
        {"ROLLBACK TO SAVEPOINT sp", "DSQL-SAVEPOINT",
         "unsupported transaction statement: ROLLBACK TO"},
        {"ROLLBACK", NULL, NULL},
        {"CREATE TABLE t2 AS SELECT 1 AS a", "DSQL-CREATE-TABLE-AS", NULL},
        {"SELECT 1 AS a INTO t2", "DSQL-CREATE-TABLE-AS", NULL},
        {"CREATE MATERIALIZED VIEW v AS SELECT 1", "DSQL-CREATE-TABLE-AS", NULL},
        {"CREATE VIEW v AS SELECT 1 AS x", NULL, NULL},
        {"CREATE TEMPORARY TABLE t (a int)", "DSQL-TEMP-TABLE", NULL},
        {"CREATE UNLOGGED TABLE t (a int)", "DSQL-UNLOGGED-TABLE", NULL},
        {"DEALLOCATE p", "DSQL-DEALLOCATE", NULL},
        {"DEALLOCATE ALL", NULL, NULL},
        /* settings and isolation */
        {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "DSQL-ISOLATION",
         "Unsupported isolation level: SERIALIZABLE"},
        {"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "DSQL-SET-TRANSACTION",
         "setting configuration parameter \"TRANSACTION\" not supported"},
        {"SET TRANSACTION READ ONLY", "DSQL-SET-TRANSACTION", NULL},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE", "DSQL-ISOLATION",
         "Unsupported isolation level: SERIALIZABLE"},
        {"START TRANSACTION ISOLATION LEVEL READ COMMITTED", "DSQL-ISOLATION",
         "Unsupported isolation level: READ COMMITTED"},
        {"BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, NULL},
        {"SET client_min_messages = warning", "DSQL-SET",
         "setting configuration parameter \"client_min_messages\" not supported"},
        {"SET search_path = myschema", NULL, NULL},
        {"SET TIME ZONE 'UTC'", NULL, NULL},
        {"SET enable_seqscan = off", NULL, NULL},
        {"SHOW lc_collate", "DSQL-SHOW", "unrecognized configuration parameter \"lc_collate\""},
        {"SHOW server_version", NULL, NULL},
        {"SELECT id FROM t WHERE id = 1 FOR SHARE", "DSQL-LOCKING",
         "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported"},
        {"SELECT id FROM t WHERE id = 1 FOR NO KEY UPDATE", "DSQL-LOCKING", NULL},
        {"SELECT * FROM (SELECT id FROM t FOR SHARE) s", "DSQL-LOCKING", NULL},
        {"SELECT id FROM t WHERE id = 1 FOR UPDATE", NULL, NULL},
        {"SELECT id FROM t WHERE id = 1 FOR KEY SHARE", NULL, NULL},
        {"SELECT * FROM t TABLESAMPLE SYSTEM (10)", "DSQL-TABLESAMPLE", NULL},
        /* types */
        {"CREATE TABLE t (v money)", "DSQL-TYPE", "datatype money not supported"},
        {"CREATE TABLE t (v cidr)", "DSQL-TYPE", "datatype cidr not supported"},
        {"CREATE TABLE t (v tsrange)", "DSQL-TYPE", "datatype tsrange not supported"},
        {"CREATE TABLE t (v bit varying(3))", "DSQL-TYPE", "datatype bit varying not supported"},
        {"CREATE TABLE t (v xml)", "DSQL-TYPE", "datatype xml not supported"},
        {"CREATE TABLE t (v int[])", "DSQL-ARRAY-COLUMN", "datatype integer[] not supported"},
        {"CREATE TABLE t (id serial PRIMARY KEY)", "DSQL-SERIAL", "type \"serial\" does not exist"},
        {"CREATE TABLE t (id bigserial)", "DSQL-SERIAL", "type \"bigserial\" does not exist"},
        {"CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
         "DSQL-IDENTITY-CACHE",
         "identity column is not supported without an explicit cache size. please define CACHE "
         "greater than or equal to 65536 or equal to 1"},
        {"CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100))",
         "DSQL-IDENTITY-CACHE", NULL},
        {"CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536))", NULL, NULL},
        {"CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1))", NULL, NULL},
        {"CREATE TABLE t (id smallint GENERATED BY DEFAULT AS IDENTITY (CACHE 1))",
         "DSQL-IDENTITY-TYPE",
         "datatype smallint not supported, identity column type must be bigint"},
        {"CREATE SEQUENCE s", "DSQL-SEQUENCE-CACHE", NULL},
        {"CREATE SEQUENCE s CACHE 65536", NULL, NULL},
        {"CREATE TABLE t (v varchar(70000))", "DSQL-VARCHAR-LENGTH", NULL},
        {"CREATE TABLE t (v varchar(65535), c char(4096))", NULL, NULL},
        {"CREATE TABLE t (c char(5000))", "DSQL-CHAR-LENGTH", NULL},
        {"CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), a numeric(18,6), b "
         "jsonb, c timestamptz, d interval, e bytea, f time with time zone)",
         NULL, NULL},
        /* indexes and ALTER TABLE */
        {"CREATE INDEX i ON t (a)", "DSQL-INDEX-SYNC",
         "unsupported mode. please use CREATE INDEX ASYNC."},
        {"CREATE INDEX ASYNC i ON t (a)", NULL, NULL},
        {"CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON t (a) INCLUDE (b) NULLS NOT DISTINCT", NULL,
         NULL},
        {"ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY (id)", "DSQL-ALTER-CONSTRAINT",
         "unsupported ALTER TABLE ADD CONSTRAINT statement"},
        {"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id)",
         "DSQL-ALTER-CONSTRAINT", NULL},
        {"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) NOT VALID", NULL, NULL},
        {"ALTER TABLE t VALIDATE CONSTRAINT fk", "DSQL-ALTER-VALIDATE-SYNC", NULL},
        {"ALTER TABLE ASYNC t VALIDATE CONSTRAINT fk", NULL, NULL},
        {"ALTER TABLE t ALTER COLUMN a TYPE bigint", "DSQL-ALTER-TYPE",
         "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement"},
        {"ALTER TABLE t ALTER COLUMN a SET NOT NULL", "DSQL-ALTER-SET-NOT-NULL", NULL},
        {"ALTER TABLE t ALTER COLUMN a DROP NOT NULL", NULL, NULL},
        {"ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", NULL, NULL},
        {"ALTER TABLE t ADD COLUMN c int CHECK (c > 0)", "DSQL-ADD-COLUMN-CONSTRAINT",
         "ALTER TABLE ADD COLUMN with constraint not supported"},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 0", "DSQL-ADD-COLUMN-CONSTRAINT", NULL},
        {"ALTER TABLE t ADD COLUMN s bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1)",
         "DSQL-ADD-COLUMN-CONSTRAINT", NULL},
        {"ALTER TABLE t ADD COLUMN c int", NULL, NULL},
        {"ALTER TABLE t ADD COLUMN d text STORAGE PLAIN", NULL, NULL},
        {"ALTER TABLE t ADD COLUMN m money", "DSQL-TYPE", "datatype money not supported"},
        {"ALTER TABLE t DROP COLUMN b", NULL, NULL},
        {"ALTER TABLE t RENAME COLUMN a TO b", NULL, NULL},
        {"CALL sys.wait_for_job('abc')", NULL, NULL},
        {"SELEC 1", "DSQL-SYNTAX", "syntax error at or near \"SELEC\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
}

static void kinds_and_extensions(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        dsql_rules_kind kind;
    } kinds[] = {
        {"SELECT 1", DSQL_RK_READ},
        {"  /* c; */ -- x;\n VALUES (1)", DSQL_RK_READ},
        {"SHOW search_path", DSQL_RK_READ},
        {"EXPLAIN SELECT 1", DSQL_RK_READ},
        {"INSERT INTO t VALUES (1)", DSQL_RK_DML},
        {"WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d", DSQL_RK_DML},
        {"WITH x AS (SELECT 1) SELECT * FROM x", DSQL_RK_READ},
        {"CREATE TABLE t (a int)", DSQL_RK_DDL},
        {"CREATE INDEX ASYNC i ON t (a)", DSQL_RK_DDL},
        {"GRANT SELECT ON t TO r", DSQL_RK_DDL},
        {"COMMENT ON TABLE t IS 'x'", DSQL_RK_DDL},
        {"BEGIN", DSQL_RK_BEGIN},
        {"START TRANSACTION", DSQL_RK_BEGIN},
        {"COMMIT", DSQL_RK_COMMIT},
        {"END", DSQL_RK_COMMIT},
        {"ABORT", DSQL_RK_ROLLBACK},
        {"SET search_path = a", DSQL_RK_SET},
        {"CALL sys.wait_for_job('x')", DSQL_RK_CALL},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        dsql_rules_result r;
        assert_int_equal(dsql_rules_analyze(kinds[i].sql, &r), 0);
        if (r.n != 1 || r.stmts[0].kind != kinds[i].kind)
            fail_msg("%s: kind %d, expected %d (%zu statements)", kinds[i].sql,
                     r.n ? (int)r.stmts[0].kind : -1, (int)kinds[i].kind, r.n);
        dsql_rules_result_free(&r);
    }
    /* Only comments: no statement. */
    dsql_rules_result r;
    assert_int_equal(dsql_rules_analyze("-- only a comment\n/* and this */", &r), 0);
    assert_int_equal(r.n, 0);
    dsql_rules_result_free(&r);
    /* ASYNC and STORAGE are blanked for PostgreSQL 15, offsets unchanged. */
    assert_int_equal(dsql_rules_analyze("CREATE UNIQUE INDEX ASYNC i ON t (a)", &r), 0);
    assert_true(r.stmts[0].async);
    assert_string_equal(r.stmts[0].forward, "CREATE UNIQUE INDEX       i ON t (a)");
    assert_string_equal(r.stmts[0].index_table, "t");
    dsql_rules_result_free(&r);
    assert_int_equal(dsql_rules_analyze("ALTER TABLE t ADD COLUMN d text STORAGE PLAIN", &r), 0);
    assert_false(r.stmts[0].async);
    assert_string_equal(r.stmts[0].forward, "ALTER TABLE t ADD COLUMN d text              ");
    dsql_rules_result_free(&r);
    assert_int_equal(dsql_rules_analyze("ALTER TABLE t ALTER COLUMN d SET STORAGE PLAIN", &r), 0);
    assert_string_equal(r.stmts[0].forward, "ALTER TABLE t ALTER COLUMN d SET STORAGE PLAIN");
    dsql_rules_result_free(&r);
    /* A word inside a literal or a comment is not a keyword. */
    assert_int_equal(dsql_rules_analyze("SELECT 'CREATE INDEX ASYNC x' /* STORAGE PLAIN */", &r),
                     0);
    assert_false(r.stmts[0].async);
    assert_null(dsql_rules_refusal(&r.stmts[0]));
    dsql_rules_result_free(&r);
    /* Parameters */
    assert_int_equal(dsql_rules_analyze("SELECT $1, $3::int FROM t WHERE a = $2", &r), 0);
    assert_int_equal(r.stmts[0].max_param, 3);
    dsql_rules_result_free(&r);
    /* Bare numeric: accepted, with a warning */
    assert_int_equal(dsql_rules_analyze("CREATE TABLE t (n numeric)", &r), 0);
    assert_null(dsql_rules_refusal(&r.stmts[0]));
    assert_int_equal(r.stmts[0].n_findings, 1);
    assert_string_equal(r.stmts[0].findings[0].rule->id, "DSQL-BARE-NUMERIC");
    assert_int_equal(r.stmts[0].findings[0].offset, 18);
    dsql_rules_result_free(&r);
}

static void splitting_and_positions(void **state)
{
    (void)state;
    const char *sql = "SELECT ';' AS a; -- ;\nTRUNCATE t;\n  CREATE INDEX i ON t (a); SELECT 2";
    dsql_rules_result r;
    assert_int_equal(dsql_rules_analyze(sql, &r), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.stmts[0].kind, DSQL_RK_READ);
    assert_string_equal(dsql_rules_refusal(&r.stmts[1])->rule->id, "DSQL-TRUNCATE");
    assert_int_equal(dsql_rules_refusal(&r.stmts[1])->offset,
                     (size_t)(strstr(sql, "TRUNCATE") - sql));
    assert_string_equal(dsql_rules_refusal(&r.stmts[2])->rule->id, "DSQL-INDEX-SYNC");
    assert_null(dsql_rules_refusal(&r.stmts[3]));
    dsql_rules_result_free(&r);
    /* a syntax error names PostgreSQL's message and the position */
    assert_int_equal(dsql_rules_analyze("SELECT 1; SELECT FROM WHERE", &r), 0);
    assert_int_equal(r.n, 2);
    const dsql_rules_finding *f = dsql_rules_refusal(&r.stmts[1]);
    assert_non_null(f);
    assert_string_equal(f->rule->id, "DSQL-SYNTAX");
    assert_string_equal(f->message, "syntax error at or near \"WHERE\"");
    assert_int_equal(f->offset, 22);
    dsql_rules_result_free(&r);
    /* an unterminated literal */
    assert_int_equal(dsql_rules_analyze("SELECT 'oops", &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(dsql_rules_refusal(&r.stmts[0])->rule->id, "DSQL-SYNTAX");
    dsql_rules_result_free(&r);
}

static void transaction_rules(void **state)
{
    (void)state;
    dsql_rules_tx tx = {0};
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_DDL)); /* autocommit: each alone */
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_DDL));
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_BEGIN));
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_DDL));
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_READ));
    assert_string_equal(dsql_rules_tx_step(&tx, DSQL_RK_DDL)->message,
                        "multiple ddl statements not supported in a transaction");
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_ROLLBACK));
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_BEGIN));
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_DML));
    assert_string_equal(dsql_rules_tx_step(&tx, DSQL_RK_DDL)->message,
                        "ddl and dml are not supported in the same transaction");
    assert_null(dsql_rules_tx_step(&tx, DSQL_RK_COMMIT));
    dsql_rules_tx im = {.implicit = true};
    assert_null(dsql_rules_tx_step(&im, DSQL_RK_DDL));
    assert_string_equal(dsql_rules_tx_step(&im, DSQL_RK_DDL)->id, "DSQL-TX-MULTI-DDL");
    size_t n;
    const dsql_rule *t = dsql_rules_table(&n);
    assert_true(n > 30);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(dsql_rules_find(t[i].id), &t[i]); /* ids are unique */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_and_accepted_twins),
        cmocka_unit_test(kinds_and_extensions),
        cmocka_unit_test(splitting_and_positions),
        cmocka_unit_test(transaction_rules),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
