/* The rules table, rule by rule: every rule has a statement DSQL refuses (exact rule,
 * SQLSTATE, message and position) and an accepted twin that no rule flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "rules/rules.h"

typedef struct twin {
    dsql_rule_id rule;
    const char *refused; /* SQL, one statement */
    const char *message; /* DSQL's message, exactly */
    const char *at;      /* where the finding points: the first occurrence of this text
                            (NULL: the statement's first byte) */
    const char *accepted;
} twin;

static const twin twins[] = {
    {DSQL_RULE_SYNTAX, "SELEC 1", "syntax error at or near \"SELEC\"", NULL, "SELECT 1"},
    {DSQL_RULE_UNSUPPORTED_STATEMENT, "ALTER SYSTEM SET work_mem = '1MB'",
     "unsupported statement: AlterSystem", NULL, "SELECT 'ALTER SYSTEM SET work_mem = 1'"},
    {DSQL_RULE_UNSUPPORTED_STATEMENT, "CHECKPOINT", "unsupported statement: CheckPoint", NULL,
     "SELECT 1"},
    {DSQL_RULE_TRUNCATE, "TRUNCATE TABLE baseline_parent", "unsupported statement: Truncate", NULL,
     "DELETE FROM baseline_parent WHERE id IN (SELECT id FROM baseline_parent LIMIT 3000)"},
    {DSQL_RULE_VACUUM, "VACUUM baseline_parent", "unsupported VACUUM statement", NULL,
     "ANALYZE baseline_parent"},
    {DSQL_RULE_MERGE, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 'x'",
     "unsupported statement type: MERGE", NULL,
     "INSERT INTO t (id, v) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v"},
    {DSQL_RULE_CREATE_DATABASE, "CREATE DATABASE other", "unsupported statement: Createdb", NULL,
     "CREATE SCHEMA other"},
    {DSQL_RULE_CREATE_DATABASE, "DROP DATABASE other", "unsupported statement: Dropdb", NULL,
     "DROP SCHEMA other"},
    {DSQL_RULE_LISTEN_NOTIFY, "LISTEN chan", "unsupported statement: Listen", NULL,
     "SELECT 'LISTEN chan'"},
    {DSQL_RULE_LISTEN_NOTIFY, "NOTIFY chan, 'x'", "unsupported statement: Notify", NULL,
     "SELECT 'NOTIFY chan'"},
    {DSQL_RULE_LISTEN_NOTIFY, "UNLISTEN baseline_chan", "unsupported statement: Unlisten", NULL,
     "SELECT 1"},
    {DSQL_RULE_TEMP_TABLE, "CREATE TEMP TABLE tt (id int)", "temporary tables not supported",
     "tt (", "CREATE TABLE tt (id int)"},
    {DSQL_RULE_TEMP_TABLE, "CREATE TEMPORARY TABLE tt (id int)", "temporary tables not supported",
     "tt (", "CREATE TABLE temporary_t (id int)"},
    {DSQL_RULE_UNLOGGED_TABLE, "CREATE UNLOGGED TABLE ut (id int)", "unlogged tables not supported",
     "ut (", "CREATE TABLE ut (id int)"},
    {DSQL_RULE_UNLOGGED_TABLE, "ALTER TABLE t SET UNLOGGED", "unlogged tables not supported", NULL,
     "ALTER TABLE t RENAME TO t2"},
    {DSQL_RULE_CREATE_TABLE_AS, "CREATE TABLE c AS SELECT 1 AS x",
     "unsupported statement: CreateTableAs", NULL, "CREATE VIEW c AS SELECT 1 AS x"},
    {DSQL_RULE_CREATE_TABLE_AS, "SELECT 1 AS x INTO c", "unsupported statement: CreateTableAs",
     NULL, "SELECT 1 AS x"},
    {DSQL_RULE_MATERIALIZED_VIEW, "CREATE MATERIALIZED VIEW mv AS SELECT 1",
     "unsupported statement: CreateTableAs", NULL, "CREATE VIEW mv AS SELECT 1"},
    {DSQL_RULE_MATERIALIZED_VIEW, "REFRESH MATERIALIZED VIEW mv",
     "unsupported statement: RefreshMatView", NULL, "CREATE OR REPLACE VIEW mv AS SELECT 2"},
    {DSQL_RULE_TRIGGER, "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
     "unsupported statement: CreateTrig", NULL,
     "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"},
    {DSQL_RULE_EXTENSION, "CREATE EXTENSION pgcrypto", "unsupported statement: CreateExtension",
     NULL, "SELECT gen_random_uuid()"},
    {DSQL_RULE_CREATE_TYPE, "CREATE TYPE baseline_mood AS ENUM ('sad', 'ok')",
     "CREATE TYPE not supported", NULL,
     "CREATE DOMAIN baseline_mood_domain AS text CHECK (VALUE IN ('sad', 'ok'))"},
    {DSQL_RULE_CREATE_TYPE, "CREATE TYPE pair AS (a int, b int)", "CREATE TYPE not supported", NULL,
     "CREATE TABLE pair (a int, b int)"},
    {DSQL_RULE_CREATE_TYPE, "ALTER TYPE baseline_mood ADD VALUE 'happy'",
     "ALTER TYPE not supported", NULL, "ALTER DOMAIN baseline_mood_domain DROP DEFAULT"},
    {DSQL_RULE_DROP_OBJECT, "DROP TYPE IF EXISTS baseline_mood",
     "unsupported object in DROP statement", NULL, "DROP DOMAIN IF EXISTS baseline_mood_domain"},
    {DSQL_RULE_FUNCTION_LANGUAGE,
     "CREATE FUNCTION baseline_plpgsql() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; "
     "END $$",
     "CREATE FUNCTION with language plpgsql not supported", "LANGUAGE",
     "CREATE FUNCTION baseline_sql() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$"},
    {DSQL_RULE_DO_BLOCK, "DO $$ BEGIN NULL; END $$", "unsupported statement: Do", NULL,
     "SELECT '$$ BEGIN NULL; END $$'"},
    {DSQL_RULE_SAVEPOINT, "SAVEPOINT baseline_sp", "unsupported transaction statement: SAVEPOINT",
     NULL, "COMMIT"},
    {DSQL_RULE_SAVEPOINT, "RELEASE SAVEPOINT baseline_sp",
     "unsupported transaction statement: RELEASE", NULL, "ROLLBACK"},
    {DSQL_RULE_SAVEPOINT, "ROLLBACK TO SAVEPOINT baseline_sp",
     "unsupported transaction statement: ROLLBACK", NULL, "ROLLBACK"},
    {DSQL_RULE_LOCK_TABLE, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", "unsupported statement: Lock",
     NULL, "SELECT id FROM t WHERE id = 1 FOR UPDATE"},
    {DSQL_RULE_SQL_PREPARE, "PREPARE q AS SELECT 1", "unsupported statement: Prepare", NULL,
     "DEALLOCATE ALL"},
    {DSQL_RULE_SQL_EXECUTE, "EXECUTE q", "unsupported statement: Execute", NULL,
     "DEALLOCATE PREPARE ALL"},
    {DSQL_RULE_DEALLOCATE_NAME, "DEALLOCATE q", "unsupported statement: Deallocate", NULL,
     "DEALLOCATE ALL"},
    {DSQL_RULE_CURSOR, "DECLARE c CURSOR FOR SELECT 1", "unsupported statement: DeclareCursor",
     NULL, "SELECT 1 LIMIT 1"},
    {DSQL_RULE_CURSOR, "FETCH 10 FROM c", "unsupported statement: Fetch", NULL,
     "SELECT 1 LIMIT 10"},
    {DSQL_RULE_CURSOR, "CLOSE c", "unsupported statement: ClosePortal", NULL, "DISCARD ALL"},
    {DSQL_RULE_TABLESAMPLE, "SELECT * FROM t TABLESAMPLE SYSTEM (10)", "TABLESAMPLE not supported",
     "TABLESAMPLE", "SELECT * FROM t ORDER BY random() LIMIT 10"},
    {DSQL_RULE_ADVISORY_LOCK, "SELECT pg_advisory_lock(42)",
     "function pg_advisory_lock not supported", "pg_advisory_lock",
     "SELECT app.pg_advisory_lock(42)"},
    {DSQL_RULE_ADVISORY_LOCK, "SELECT pg_catalog.pg_try_advisory_xact_lock(1, 2)",
     "function pg_try_advisory_xact_lock not supported", "pg_catalog", "SELECT 1"},
    {DSQL_RULE_TEXT_SEARCH_CONFIG, "SELECT to_tsvector('english', 'hello world')",
     "text search configuration \"english\" does not exist", "'english'",
     "SELECT lower('hello world')"},
    {DSQL_RULE_CALL_SUBQUERY, "CALL sys.wait_for_job((SELECT job_id FROM sys.jobs LIMIT 1))",
     "cannot use subquery in CALL argument", "(SELECT", "CALL sys.wait_for_job('abc')"},
    {DSQL_RULE_PARTITION, "CREATE TABLE p (id int) PARTITION BY RANGE (id)",
     "partitioned tables not supported", "PARTITION", "CREATE TABLE p (id int)"},
    {DSQL_RULE_INHERITS, "CREATE TABLE c2 (x int) INHERITS (t)", "table inheritance not supported",
     "INHERITS", "CREATE TABLE c2 (LIKE t)"},
    {DSQL_RULE_TABLESPACE, "CREATE TABLE ts (id int) TABLESPACE fast", "tablespaces not supported",
     "TABLESPACE", "CREATE TABLE ts (id int)"},
    {DSQL_RULE_EXCLUSION_CONSTRAINT, "CREATE TABLE ex (r int, EXCLUDE USING btree (r WITH =))",
     "exclusion constraints not supported", "EXCLUDE", "CREATE TABLE ex (r int UNIQUE)"},
    {DSQL_RULE_COLLATION, "CREATE TABLE co (n text COLLATE \"en_US\")",
     "collation \"en_US\" not supported", "COLLATE", "CREATE TABLE co (n text COLLATE \"C\")"},
    {DSQL_RULE_SET_TRANSACTION, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
     "setting configuration parameter \"TRANSACTION\" not supported", NULL,
     "BEGIN ISOLATION LEVEL REPEATABLE READ"},
    {DSQL_RULE_SET_TRANSACTION, "SET TRANSACTION READ ONLY",
     "setting configuration parameter \"TRANSACTION\" not supported", NULL, "BEGIN READ ONLY"},
    {DSQL_RULE_ISOLATION_LEVEL, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
     "Unsupported isolation level: SERIALIZABLE", "ISOLATION",
     "START TRANSACTION ISOLATION LEVEL REPEATABLE READ"},
    {DSQL_RULE_ISOLATION_LEVEL, "BEGIN ISOLATION LEVEL READ COMMITTED",
     "Unsupported isolation level: READ COMMITTED", "ISOLATION", "BEGIN"},
    {DSQL_RULE_LOCKING_CLAUSE, "SELECT id FROM baseline_parent WHERE id = 'a' FOR SHARE",
     "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported", "FOR SHARE",
     "SELECT id FROM baseline_parent WHERE id = 'a' FOR KEY SHARE"},
    {DSQL_RULE_LOCKING_CLAUSE, "SELECT id FROM t WHERE id = 1 FOR NO KEY UPDATE",
     "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported", "FOR NO",
     "SELECT id FROM t WHERE id = 1 FOR UPDATE"},
    {DSQL_RULE_SET_PARAMETER, "SET client_min_messages = warning",
     "setting configuration parameter \"client_min_messages\" not supported", NULL,
     "SET search_path = myschema"},
    {DSQL_RULE_SET_PARAMETER, "SET LOCAL statement_timeout = 1000",
     "setting configuration parameter \"statement_timeout\" not supported", NULL,
     "SET LOCAL enable_seqscan = off"},
    {DSQL_RULE_SHOW_PARAMETER, "SHOW lc_collate",
     "unrecognized configuration parameter \"lc_collate\"", NULL, "SHOW server_version"},
    {DSQL_RULE_SERIAL, "CREATE TABLE baseline_serial (id serial PRIMARY KEY)",
     "type \"serial\" does not exist", "serial PRIMARY",
     "CREATE TABLE baseline_serial (id uuid PRIMARY KEY DEFAULT gen_random_uuid())"},
    {DSQL_RULE_SERIAL, "CREATE TABLE s (id BIGSERIAL)", "type \"bigserial\" does not exist",
     "BIGSERIAL", "CREATE TABLE s (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536))"},
    {DSQL_RULE_COLUMN_TYPE, "CREATE TABLE baseline_type_money (v money)",
     "datatype money not supported", "money)",
     "CREATE TABLE baseline_type_money (v numeric(12,2))"},
    {DSQL_RULE_COLUMN_TYPE, "CREATE TABLE n (a inet)", "datatype inet not supported", "inet",
     "CREATE TABLE n (a text)"},
    {DSQL_RULE_COLUMN_TYPE, "CREATE TABLE b (f bit varying(8))",
     "datatype bit varying not supported", "bit", "CREATE TABLE b (f bytea)"},
    {DSQL_RULE_COLUMN_TYPE, "ALTER TABLE baseline_alter ADD COLUMN m money",
     "datatype money not supported", "money", "ALTER TABLE baseline_alter ADD COLUMN m text"},
    {DSQL_RULE_ARRAY_COLUMN, "CREATE TABLE a (v int[])", "datatype integer[] not supported",
     "int[]", "CREATE TABLE a (v jsonb)"},
    {DSQL_RULE_IDENTITY_CACHE,
     "CREATE TABLE baseline_identity (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, value "
     "text)",
     "identity column is not supported without an explicit cache size. please define CACHE "
     "greater than or equal to 65536 or equal to 1",
     "GENERATED",
     "CREATE TABLE baseline_identity (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY "
     "KEY, value text)"},
    {DSQL_RULE_IDENTITY_CACHE,
     "CREATE TABLE i (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100))",
     "identity column is not supported without an explicit cache size. please define CACHE "
     "greater than or equal to 65536 or equal to 1",
     "CACHE", "CREATE TABLE i (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536))"},
    {DSQL_RULE_IDENTITY_TYPE,
     "CREATE TABLE baseline_identity_small (id smallint GENERATED BY DEFAULT AS IDENTITY (CACHE "
     "1) PRIMARY KEY)",
     "datatype smallint not supported, identity column type must be bigint", "smallint",
     "CREATE TABLE baseline_identity_small (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) "
     "PRIMARY KEY)"},
    {DSQL_RULE_SEQUENCE_CACHE, "CREATE SEQUENCE s",
     "sequence is not supported without an explicit cache size. please define CACHE greater "
     "than or equal to 65536 or equal to 1",
     NULL, "CREATE SEQUENCE s CACHE 65536"},
    {DSQL_RULE_SEQUENCE_CACHE, "ALTER SEQUENCE s CACHE 1000",
     "sequence is not supported without an explicit cache size. please define CACHE greater "
     "than or equal to 65536 or equal to 1",
     "CACHE", "ALTER SEQUENCE s CACHE 1"},
    {DSQL_RULE_VARCHAR_LENGTH, "CREATE TABLE v (s varchar(65536))",
     "length for type varchar cannot exceed 65535", "varchar", "CREATE TABLE v (s varchar(65535))"},
    {DSQL_RULE_CHAR_LENGTH, "CREATE TABLE c (s char(4097))",
     "length for type char cannot exceed 4096", "char", "CREATE TABLE c (s char(4096))"},
    {DSQL_RULE_BARE_NUMERIC, "CREATE TABLE n (x numeric)",
     "numeric without precision and scale is stored as numeric(18,6): values are rounded to 6 "
     "decimals and more than 12 integer digits overflow",
     "numeric", "CREATE TABLE n (x numeric(18,6))"},
    {DSQL_RULE_KEY_COLUMNS,
     "CREATE TABLE k (a int, b int, c int, d int, e int, f int, g int, h int, i int, "
     "PRIMARY KEY (a, b, c, d, e, f, g, h, i))",
     "cannot use more than 8 columns in an index", "PRIMARY",
     "CREATE TABLE k (a int, b int, c int, d int, e int, f int, g int, h int, i int, "
     "PRIMARY KEY (a, b, c, d, e, f, g, h))"},
    {DSQL_RULE_KEY_COLUMNS, "CREATE INDEX ASYNC k_idx ON k (a, b, c, d, e, f, g, h, i)",
     "cannot use more than 8 columns in an index", NULL,
     "CREATE INDEX ASYNC k_idx ON k (a, b, c, d, e, f, g, h) INCLUDE (i)"},
    {DSQL_RULE_INDEX_SYNC, "CREATE INDEX baseline_idx_value ON baseline_idx (value)",
     "unsupported mode. please use CREATE INDEX ASYNC.", NULL,
     "CREATE INDEX ASYNC baseline_idx_value ON baseline_idx (value)"},
    {DSQL_RULE_INDEX_SYNC, "CREATE UNIQUE INDEX IF NOT EXISTS u ON t (v)",
     "unsupported mode. please use CREATE INDEX ASYNC.", NULL,
     "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS u ON t (v)"},
    {DSQL_RULE_INDEX_METHOD, "CREATE INDEX ASYNC i ON t USING hash (v)",
     "access method \"hash\" not supported", "USING", "CREATE INDEX ASYNC i ON t USING btree (v)"},
    {DSQL_RULE_INDEX_ORDER, "CREATE INDEX ASYNC i ON t (v DESC)",
     "index column ordering (ASC/DESC, NULLS FIRST/LAST) not supported", "DESC",
     "CREATE INDEX ASYNC i ON t (v)"},
    {DSQL_RULE_INDEX_ORDER, "CREATE INDEX ASYNC i ON t (v NULLS LAST) NULLS NOT DISTINCT",
     "index column ordering (ASC/DESC, NULLS FIRST/LAST) not supported", "NULLS LAST",
     "CREATE UNIQUE INDEX ASYNC i ON t (v) NULLS NOT DISTINCT"},
    {DSQL_RULE_INDEX_OPCLASS, "CREATE INDEX ASYNC i ON t (v text_pattern_ops)",
     "operator class \"text_pattern_ops\" not supported", NULL, "CREATE INDEX ASYNC i ON t (v)"},
    {DSQL_RULE_ALTER_ADD_CONSTRAINT,
     "ALTER TABLE baseline_alter_pkadd ADD CONSTRAINT baseline_pkadd_pk PRIMARY KEY (id)",
     "unsupported ALTER TABLE ADD CONSTRAINT statement", "CONSTRAINT",
     "CREATE UNIQUE INDEX ASYNC baseline_pkadd_id ON baseline_alter_pkadd (id)"},
    {DSQL_RULE_ALTER_ADD_CONSTRAINT, "ALTER TABLE t ADD UNIQUE (v)",
     "unsupported ALTER TABLE ADD CONSTRAINT statement", "UNIQUE", "ALTER TABLE t DROP COLUMN b"},
    {DSQL_RULE_FOREIGN_KEY_NOT_VALID,
     "ALTER TABLE baseline_alter_fk ADD CONSTRAINT alter_fk2 FOREIGN KEY (parent_id) REFERENCES "
     "baseline_parent(id)",
     "unsupported ALTER TABLE ADD CONSTRAINT statement", "CONSTRAINT",
     "ALTER TABLE baseline_alter_fk ADD CONSTRAINT alter_fk2 FOREIGN KEY (parent_id) REFERENCES "
     "baseline_parent(id) NOT VALID"},
    {DSQL_RULE_ALTER_COLUMN_TYPE, "ALTER TABLE baseline_alter ALTER COLUMN a TYPE xml",
     "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement", "a TYPE",
     "ALTER TABLE baseline_alter ALTER COLUMN a SET DEFAULT 'x'"},
    {DSQL_RULE_ALTER_SET_NOT_NULL, "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
     "unsupported ALTER TABLE ALTER COLUMN ... SET NOT NULL statement", "SET NOT",
     "ALTER TABLE t ALTER COLUMN a DROP NOT NULL"},
    {DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT,
     "ALTER TABLE baseline_alter ADD COLUMN ck int CHECK (ck > 0)",
     "ALTER TABLE ADD COLUMN with constraint not supported", "CHECK",
     "ALTER TABLE baseline_alter ADD COLUMN ck int"},
    {DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT,
     "ALTER TABLE baseline_alter ADD COLUMN seq2 bigint GENERATED BY DEFAULT AS IDENTITY (CACHE "
     "1)",
     "ALTER TABLE ADD COLUMN with constraint not supported", "GENERATED",
     "ALTER TABLE baseline_alter ADD COLUMN seq2 bigint"},
    {DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT, "ALTER TABLE t ADD COLUMN d text DEFAULT 'x'",
     "ALTER TABLE ADD COLUMN with constraint not supported", "DEFAULT",
     "ALTER TABLE t ADD COLUMN d text"},
};

/* Analyses one statement; fails the test unless the text holds exactly one. */
static dsql_rules_result *one(const char *sql, const dsql_rules_stmt **st)
{
    dsql_rules_result *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_rules_analyze(sql, strlen(sql), &r, &err) != DSQL_OK)
        fail_msg("analyse %s: %s", sql, err.message);
    if (dsql_rules_count(r) != 1)
        fail_msg("%s: %zu statements, expected 1", sql, dsql_rules_count(r));
    *st = dsql_rules_stmt_at(r, 0);
    return r;
}

static const dsql_rules_finding *finding_of(const dsql_rules_stmt *st, dsql_rule_id id)
{
    for (size_t i = 0; i < st->n_findings; i++)
        if (st->findings[i].rule->number == id)
            return &st->findings[i];
    return NULL;
}

static void every_rule_refused_and_accepted(void **state)
{
    (void)state;
    bool covered[DSQL_RULE__COUNT] = {false};
    for (size_t i = 0; i < sizeof twins / sizeof twins[0]; i++) {
        const twin *t = &twins[i];
        const dsql_rule *rule = dsql_rules_get(t->rule);
        const dsql_rules_stmt *st;
        dsql_rules_result *r = one(t->refused, &st);
        /* A refusal is the statement's first refusal; a warning is its only finding. */
        const dsql_rules_finding *f =
            rule->severity == DSQL_RULE_REFUSED ? dsql_rules_refusal(st) : finding_of(st, t->rule);
        if (!f)
            fail_msg("%s: no finding, expected %s", t->refused, rule->id);
        if (f->rule != rule)
            fail_msg("%s: rule %s, expected %s", t->refused, f->rule->id, rule->id);
        assert_string_equal(f->rule->sqlstate, rule->sqlstate);
        if (strcmp(f->message, t->message) != 0)
            fail_msg("%s:\n  message %s\n  expected %s", t->refused, f->message, t->message);
        size_t want = t->at ? (size_t)(strstr(t->refused, t->at) - t->refused) : 0;
        if (f->offset != want)
            fail_msg("%s: finding at %zu, expected %zu (%s)", t->refused, f->offset, want,
                     t->at ? t->at : "start");
        assert_int_equal(f->line, 1);
        assert_int_equal(f->column, want + 1);
        if (rule->severity == DSQL_RULE_WARNING)
            assert_null(dsql_rules_refusal(st));
        dsql_rules_result_free(r);
        covered[t->rule] = true;

        r = one(t->accepted, &st);
        if (st->n_findings)
            fail_msg("accepted twin %s: flagged %s (%s)", t->accepted, st->findings[0].rule->id,
                     st->findings[0].message);
        dsql_rules_result_free(r);
    }
    /* Every rule but the tracker's (test_rules_tracker.c) and the column count (below). */
    for (int id = 0; id < DSQL_RULE__COUNT; id++) {
        if (id == DSQL_RULE_TX_MULTIPLE_DDL || id == DSQL_RULE_TX_DDL_DML ||
            id == DSQL_RULE_TX_ABORTED || id == DSQL_RULE_TOO_MANY_COLUMNS ||
            id == DSQL_RULE_STACK_DEPTH)
            continue;
        if (!covered[id])
            fail_msg("rule %s has no refused/accepted twin", dsql_rules_get(id)->id);
    }
}

/* CREATE TABLE with n integer columns c1 .. cn. */
static char *wide_table(int n)
{
    size_t cap = 64 + (size_t)n * 16;
    char *sql = malloc(cap);
    assert_non_null(sql);
    size_t used = (size_t)snprintf(sql, cap, "CREATE TABLE wide (");
    for (int i = 1; i <= n; i++)
        used += (size_t)snprintf(sql + used, cap - used, "%sc%d int", i > 1 ? ", " : "", i);
    snprintf(sql + used, cap - used, ")");
    return sql;
}

static void too_many_columns(void **state)
{
    (void)state;
    char *sql = wide_table(256);
    const dsql_rules_stmt *st;
    dsql_rules_result *r = one(sql, &st);
    const dsql_rules_finding *f = dsql_rules_refusal(st);
    assert_non_null(f);
    assert_int_equal(f->rule->number, DSQL_RULE_TOO_MANY_COLUMNS);
    assert_string_equal(f->message, "tables can have at most 255 columns");
    assert_string_equal(f->rule->sqlstate, "54011");
    assert_int_equal(f->offset, 0);
    dsql_rules_result_free(r);
    free(sql);

    sql = wide_table(255);
    r = one(sql, &st);
    assert_int_equal(st->n_findings, 0);
    dsql_rules_result_free(r);
    free(sql);
}

/* "SELECT " then n times unit, then tail. */
static char *repeated(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *sql = malloc(hl + ul * n + tl + 1);
    assert_non_null(sql);
    memcpy(sql, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(sql + hl + i * ul, unit, ul);
    memcpy(sql + hl + n * ul, tail, tl + 1);
    return sql;
}

/* Deep nesting: parsed on a stack of its own (the parser recurses), or, beyond what
 * PostgreSQL itself takes, refused without parsing — never a crash. */
static void deep_nesting(void **state)
{
    (void)state;
    /* Accepted: a 3,000-term sum and 500 nested subqueries need several MiB of stack. */
    char *sql = repeated("SELECT ", "1+", 3000, "1");
    const dsql_rules_stmt *st;
    dsql_rules_result *r = one(sql, &st);
    assert_int_equal(st->kind, DSQL_RULES_READ);
    assert_int_equal(st->n_findings, 0);
    dsql_rules_result_free(r);
    free(sql);
    char *inner = repeated("SELECT ", "(SELECT ", 500, "1");
    sql = repeated(inner, ")", 500, "");
    r = one(sql, &st);
    assert_int_equal(st->kind, DSQL_RULES_READ);
    assert_int_equal(st->n_findings, 0);
    dsql_rules_result_free(r);
    free(sql);
    free(inner);

    /* Refused: a 100,000-term sum, between two statements that are analysed as usual. */
    char *deep = repeated("SELECT ", "1+", 100000, "1");
    sql = repeated("SELECT 1; ", deep, 1, "; SELECT 2 FOR SHARE");
    dsql_rules_result *res = NULL;
    assert_int_equal(dsql_rules_analyze(sql, strlen(sql), &res, NULL), DSQL_OK);
    assert_int_equal(dsql_rules_count(res), 3);
    assert_int_equal(dsql_rules_stmt_at(res, 0)->kind, DSQL_RULES_READ);
    st = dsql_rules_stmt_at(res, 1);
    assert_int_equal(st->kind, DSQL_RULES_UNKNOWN);
    assert_int_equal(st->offset, 10);
    assert_int_equal(st->length, strlen(deep));
    const dsql_rules_finding *f = dsql_rules_refusal(st);
    assert_non_null(f);
    assert_int_equal(f->rule->number, DSQL_RULE_STACK_DEPTH);
    assert_string_equal(f->rule->sqlstate, "54001");
    assert_string_equal(f->message, "stack depth limit exceeded");
    assert_int_equal(f->offset, 10);
    assert_int_equal(dsql_rules_refusal(dsql_rules_stmt_at(res, 2))->rule->number,
                     DSQL_RULE_LOCKING_CLAUSE);
    dsql_rules_result_free(res);
    free(sql);
    free(deep);
}

/* The table itself: numbered in order, ids unique and findable, messages with at most one
 * %s, SQLSTATEs of five characters (warnings have none). */
static void table_is_consistent(void **state)
{
    (void)state;
    size_t n = 0;
    const dsql_rule *t = dsql_rules_table(&n);
    assert_int_equal(n, DSQL_RULE__COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].number, i);
        assert_non_null(t[i].id);
        assert_ptr_equal(dsql_rules_find(t[i].id), &t[i]);
        assert_ptr_equal(dsql_rules_get(t[i].number), &t[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t[i].id, t[j].id);
        assert_non_null(t[i].description);
        const char *pct = strchr(t[i].message, '%');
        if (pct) {
            assert_int_equal(pct[1], 's');
            assert_null(strchr(pct + 1, '%'));
        }
        if (t[i].severity == DSQL_RULE_REFUSED)
            assert_int_equal(strlen(t[i].sqlstate), 5);
        else
            assert_string_equal(t[i].sqlstate, "");
    }
    assert_null(dsql_rules_find("no-such-rule"));
    assert_null(dsql_rules_find(NULL));
    assert_null(dsql_rules_get(DSQL_RULE__COUNT));
    assert_null(dsql_rules_get((dsql_rule_id)-1));
}

/* Concrete rewrites: the statement as DSQL takes it. */
static void rewrites(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        dsql_rule_id rule;
        const char *rewrite;
    } cases[] = {
        {"CREATE TABLE t (id serial PRIMARY KEY, v text)", DSQL_RULE_SERIAL,
         "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536) PRIMARY KEY, v "
         "text)"},
        {"CREATE INDEX i ON t (v)", DSQL_RULE_INDEX_SYNC,
         "CREATE INDEX ASYNC i ON t (v);\n-- it returns a job_id; wait for it:\n"
         "CALL sys.wait_for_job('<job_id>')"},
        {"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (v)", DSQL_RULE_INDEX_SYNC,
         "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON t (v);\n-- it returns a job_id; wait for "
         "it:\nCALL sys.wait_for_job('<job_id>')"},
        {"TRUNCATE a, s.b", DSQL_RULE_TRUNCATE,
         "-- repeat each until it deletes no row:\n"
         "DELETE FROM a WHERE <key> IN (SELECT <key> FROM a LIMIT 3000);\n"
         "DELETE FROM s.b WHERE <key> IN (SELECT <key> FROM s.b LIMIT 3000);"},
        {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", DSQL_RULE_ISOLATION_LEVEL,
         "BEGIN ISOLATION LEVEL REPEATABLE READ"},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY", DSQL_RULE_ISOLATION_LEVEL,
         "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"},
        {"SET TRANSACTION READ WRITE", DSQL_RULE_SET_TRANSACTION,
         "BEGIN ISOLATION LEVEL REPEATABLE READ"},
        {"ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p) REFERENCES p (id)",
         DSQL_RULE_FOREIGN_KEY_NOT_VALID,
         "ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p) REFERENCES p (id) NOT VALID;\n"
         "ALTER TABLE ASYNC c VALIDATE CONSTRAINT c_p"},
        {"ALTER TABLE \"Child\" ADD FOREIGN KEY (\"parentId\") REFERENCES p (id)",
         DSQL_RULE_FOREIGN_KEY_NOT_VALID,
         "ALTER TABLE \"Child\" ADD FOREIGN KEY (\"parentId\") REFERENCES p (id) NOT VALID;\n"
         "ALTER TABLE ASYNC \"Child\" VALIDATE CONSTRAINT \"Child_parentId_fkey\""},
        {"TRUNCATE \"user\", \"order\"", DSQL_RULE_TRUNCATE,
         "-- repeat each until it deletes no row:\n"
         "DELETE FROM \"user\" WHERE <key> IN (SELECT <key> FROM \"user\" LIMIT 3000);\n"
         "DELETE FROM \"order\" WHERE <key> IN (SELECT <key> FROM \"order\" LIMIT 3000);"},
        {"CREATE TABLE i (id bigint GENERATED ALWAYS AS IDENTITY)", DSQL_RULE_IDENTITY_CACHE,
         "CREATE TABLE i (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 65536))"},
        {"CREATE SEQUENCE s START 10", DSQL_RULE_SEQUENCE_CACHE,
         "CREATE SEQUENCE s START 10 CACHE 65536"},
        {"CREATE TEMPORARY TABLE tt (id int)", DSQL_RULE_TEMP_TABLE, "CREATE TABLE tt (id int)"},
        {"CREATE GLOBAL TEMP TABLE tt (id int)", DSQL_RULE_TEMP_TABLE, "CREATE TABLE tt (id int)"},
        {"DEALLOCATE q", DSQL_RULE_DEALLOCATE_NAME, "DEALLOCATE ALL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const dsql_rules_stmt *st;
        dsql_rules_result *r = one(cases[i].sql, &st);
        const dsql_rules_finding *f = finding_of(st, cases[i].rule);
        if (!f)
            fail_msg("%s: no %s finding", cases[i].sql, dsql_rules_get(cases[i].rule)->id);
        if (!f->rewrite || strcmp(f->rewrite, cases[i].rewrite) != 0)
            fail_msg("%s:\n  rewrite %s\n  expected %s", cases[i].sql,
                     f->rewrite ? f->rewrite : "(none)", cases[i].rewrite);
        dsql_rules_result_free(r);
    }
    /* A rewrite is itself accepted (apart from its placeholders and comments). */
    const dsql_rules_stmt *st;
    dsql_rules_result *r = one("CREATE TABLE t (id smallserial)", &st);
    const char *rw = finding_of(st, DSQL_RULE_SERIAL)->rewrite;
    dsql_rules_result *r2 = one(rw, &st);
    assert_int_equal(st->n_findings, 0);
    dsql_rules_result_free(r2);
    dsql_rules_result_free(r);
}

/* docs/rules.md lists every rule with its id and DSQL's message. */
static void documented(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/rules.md", tu_env("DSQL_SOURCE_DIR"));
    size_t len = 0;
    char *doc = tu_read_file(path, &len);
    size_t n = 0;
    const dsql_rule *t = dsql_rules_table(&n);
    for (size_t i = 0; i < n; i++) {
        char row[512];
        snprintf(row, sizeof row, "| `%s` | %s | %s | %s | `%s` |", t[i].id, t[i].category,
                 t[i].severity == DSQL_RULE_REFUSED ? "refused" : "warning",
                 t[i].sqlstate[0] ? t[i].sqlstate : "-", t[i].message);
        if (!strstr(doc, row))
            fail_msg("docs/rules.md has no row for rule %s (expected it to begin %s)", t[i].id,
                     row);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_rule_refused_and_accepted),
        cmocka_unit_test(too_many_columns),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(table_is_consistent),
        cmocka_unit_test(rewrites),
        cmocka_unit_test(documented),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dsql_rules_thread_done();
    return rc;
}
