/*
 * The one table of Aurora DSQL's rules. Code elsewhere maps parse-tree nodes to a rule
 * number; everything a user reads (SQLSTATE, message, advice) is here.
 *
 * source: RECORDED = the message a real cluster answered (tests/data/shared/dsql_probes);
 * DOCUMENTED = AWS's documentation, DSQL.md, or a cluster's answer quoted in a public bug
 * report; INFERRED = refused per the documentation, worded like DSQL's recorded messages of
 * the same family. docs/rules.md prints this table.
 */
#include <string.h>

#include "rules/rules.h"
#include "util/util.h"

#define RULE(num, id_, cat, sev, state, msg, desc, rw, src)                                        \
    [num] = {num, id_, cat, DSQL_RULE_##sev, state, msg, desc, rw, DSQL_RULE_##src}

static const dsql_rule table[DSQL_RULE__COUNT] = {
    RULE(DSQL_RULE_SYNTAX, "syntax", "syntax", REFUSED, "42601", "%s",
         "PostgreSQL's parser refuses the text; the message is PostgreSQL's own", NULL, DOCUMENTED),

    /* ---- statements ---- */
    RULE(DSQL_RULE_UNSUPPORTED_STATEMENT, "unsupported-statement", "statement", REFUSED, "0A000",
         "unsupported statement: %s",
         "a statement DSQL does not run (ALTER SYSTEM, tablespaces, foreign data, publications, "
         "rules, CLUSTER, CHECKPOINT, LOAD, ...)",
         NULL, RECORDED),
    RULE(DSQL_RULE_TRUNCATE, "truncate", "statement", REFUSED, "0A000",
         "unsupported statement: Truncate", "TRUNCATE is not supported",
         "DELETE in chunks of at most 3,000 rows, repeated until a chunk deletes none", RECORDED),
    RULE(DSQL_RULE_VACUUM, "vacuum", "statement", REFUSED, "0A000", "unsupported VACUUM statement",
         "VACUUM is not supported (DSQL maintains storage and statistics itself)",
         "drop the statement", RECORDED),
    RULE(DSQL_RULE_MERGE, "merge", "statement", REFUSED, "0A000",
         "unsupported statement type: MERGE", "MERGE is not supported",
         "INSERT ... ON CONFLICT (...) DO UPDATE, or UPDATE then INSERT in one transaction",
         RECORDED),
    RULE(DSQL_RULE_CREATE_DATABASE, "database", "statement", REFUSED, "0A000",
         "unsupported statement: %s",
         "a cluster has one database, postgres: CREATE/ALTER/DROP DATABASE are refused",
         "a schema (CREATE SCHEMA) instead of a database", RECORDED),
    RULE(DSQL_RULE_LISTEN_NOTIFY, "listen-notify", "statement", REFUSED, "0A000",
         "unsupported statement: %s", "LISTEN, NOTIFY and UNLISTEN are not supported",
         "poll a table, or use a queue service", RECORDED),
    RULE(DSQL_RULE_TEMP_TABLE, "temporary-table", "statement", REFUSED, "0A000",
         "temporary tables not supported", "temporary tables are not supported",
         "a regular table (drop it when done), or a WITH query", INFERRED),
    RULE(DSQL_RULE_UNLOGGED_TABLE, "unlogged-table", "statement", REFUSED, "0A000",
         "unlogged tables not supported", "unlogged tables are not supported", "a regular table",
         INFERRED),
    RULE(DSQL_RULE_CREATE_TABLE_AS, "create-table-as", "statement", REFUSED, "0A000",
         "unsupported statement: CreateTableAs",
         "CREATE TABLE ... AS and SELECT ... INTO are not supported",
         "CREATE TABLE with its columns, then INSERT INTO ... SELECT in a transaction of its own",
         INFERRED),
    RULE(DSQL_RULE_MATERIALIZED_VIEW, "materialized-view", "statement", REFUSED, "0A000",
         "unsupported statement: %s", "materialized views are not supported",
         "a view, or a table refreshed by the application", INFERRED),
    RULE(DSQL_RULE_TRIGGER, "trigger", "statement", REFUSED, "0A000", "unsupported statement: %s",
         "triggers and event triggers are not supported", "do the work in the application",
         INFERRED),
    RULE(DSQL_RULE_EXTENSION, "extension", "statement", REFUSED, "0A000",
         "unsupported statement: %s", "extensions are not supported",
         "built-in functions (gen_random_uuid() needs no extension)", INFERRED),
    RULE(DSQL_RULE_CREATE_TYPE, "create-type", "statement", REFUSED, "0A000", "%s not supported",
         "CREATE TYPE (enum, composite, range, base) and ALTER TYPE are not supported",
         "a domain (CREATE DOMAIN ... AS text CHECK (VALUE IN (...))) or a CHECK constraint",
         RECORDED),
    RULE(DSQL_RULE_DROP_OBJECT, "drop-object", "statement", REFUSED, "0A000",
         "unsupported object in DROP statement",
         "DROP of an object kind DSQL does not have (type, trigger, extension, materialized "
         "view, ...)",
         "drop the statement", RECORDED),
    RULE(DSQL_RULE_FUNCTION_LANGUAGE, "function-language", "statement", REFUSED, "0A000",
         "CREATE FUNCTION with language %s not supported",
         "functions and procedures must be LANGUAGE sql",
         "LANGUAGE sql, or code in the application", RECORDED),
    RULE(DSQL_RULE_DO_BLOCK, "do-block", "statement", REFUSED, "0A000", "unsupported statement: Do",
         "DO blocks (procedural code) are not supported", "statements run by the application",
         INFERRED),
    RULE(DSQL_RULE_SAVEPOINT, "savepoint", "transaction", REFUSED, "0A000",
         "unsupported transaction statement: %s",
         "savepoints (SAVEPOINT, RELEASE, ROLLBACK TO) and two-phase commit are not supported",
         "split the work into separate transactions", RECORDED),
    RULE(DSQL_RULE_LOCK_TABLE, "lock-table", "statement", REFUSED, "0A000",
         "unsupported statement: Lock",
         "LOCK TABLE is not supported (no locks: optimistic "
         "concurrency)",
         "SELECT ... FOR UPDATE on the rows that must not change (equality on the primary key)",
         INFERRED),
    RULE(DSQL_RULE_SQL_PREPARE, "sql-prepare", "statement", REFUSED, "0A000",
         "unsupported statement: Prepare", "SQL-level PREPARE is not supported",
         "the protocol's prepared statements (PQprepare, Parse/Bind), which DSQL supports",
         INFERRED),
    RULE(DSQL_RULE_SQL_EXECUTE, "sql-execute", "statement", REFUSED, "0A000",
         "unsupported statement: Execute", "SQL-level EXECUTE is not supported",
         "the protocol's prepared statements (PQexecPrepared)", DOCUMENTED),
    RULE(DSQL_RULE_DEALLOCATE_NAME, "deallocate-name", "statement", REFUSED, "0A000",
         "unsupported statement: Deallocate",
         "DEALLOCATE of a name is not supported (DEALLOCATE ALL is)",
         "DEALLOCATE ALL, or the protocol's Close message", INFERRED),
    RULE(DSQL_RULE_CURSOR, "cursor", "statement", REFUSED, "0A000", "unsupported statement: %s",
         "cursors (DECLARE, FETCH, MOVE, CLOSE) are not supported",
         "keyset pagination: ORDER BY the key with WHERE key > last LIMIT n", INFERRED),
    RULE(DSQL_RULE_TABLESAMPLE, "tablesample", "query", REFUSED, "0A000",
         "TABLESAMPLE not supported", "TABLESAMPLE is not supported",
         "ORDER BY random() LIMIT n on a bounded set", INFERRED),
    RULE(DSQL_RULE_ADVISORY_LOCK, "advisory-lock", "query", REFUSED, "0A000",
         "function %s not supported",
         "advisory locks (pg_advisory_lock and its family) do not exist",
         "a claim row written in a transaction: optimistic concurrency lets one writer win",
         INFERRED),
    RULE(DSQL_RULE_TEXT_SEARCH_CONFIG, "text-search", "query", REFUSED, "42704",
         "text search configuration \"%s\" does not exist",
         "full-text search has no configurations (to_tsvector, to_tsquery, ...)",
         "search in the application or in a search service", RECORDED),
    RULE(DSQL_RULE_CALL_SUBQUERY, "call-subquery", "statement", REFUSED, "0A000",
         "cannot use subquery in CALL argument",
         "CALL arguments cannot be subqueries (sys.wait_for_job takes the job id itself)",
         "read the job id first, then CALL sys.wait_for_job('<job_id>')", RECORDED),
    RULE(DSQL_RULE_PARTITION, "partition", "statement", REFUSED, "0A000",
         "partitioned tables not supported", "partitioned tables are not supported",
         "one table; DSQL distributes it by key itself", INFERRED),
    RULE(DSQL_RULE_INHERITS, "inherits", "statement", REFUSED, "0A000",
         "table inheritance not supported", "table inheritance (INHERITS) is not supported",
         "separate tables, or one table with a kind column", INFERRED),
    RULE(DSQL_RULE_TABLESPACE, "tablespace", "statement", REFUSED, "0A000",
         "tablespaces not supported", "tablespaces are not supported", "drop the TABLESPACE clause",
         INFERRED),
    RULE(DSQL_RULE_EXCLUSION_CONSTRAINT, "exclusion-constraint", "statement", REFUSED, "0A000",
         "exclusion constraints not supported", "exclusion constraints are not supported",
         "a unique index, or a check in the application", INFERRED),
    RULE(DSQL_RULE_COLLATION, "collation", "statement", REFUSED, "0A000",
         "collation \"%s\" not supported", "the database uses the C collation only",
         "drop the COLLATE clause (C collation), or sort in the application", INFERRED),

    /* ---- transactions, isolation, settings ---- */
    RULE(DSQL_RULE_SET_TRANSACTION, "set-transaction", "transaction", REFUSED, "0A000",
         "setting configuration parameter \"%s\" not supported",
         "SET TRANSACTION and SET SESSION CHARACTERISTICS are not supported",
         "BEGIN ISOLATION LEVEL REPEATABLE READ (the isolation DSQL gives)", RECORDED),
    RULE(DSQL_RULE_ISOLATION_LEVEL, "isolation-level", "transaction", REFUSED, "0A000",
         "Unsupported isolation level: %s", "only REPEATABLE READ isolation is supported",
         "BEGIN ISOLATION LEVEL REPEATABLE READ", RECORDED),
    RULE(DSQL_RULE_LOCKING_CLAUSE, "locking-clause", "query", REFUSED, "0A000",
         "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported",
         "FOR SHARE and FOR NO KEY UPDATE are not supported",
         "FOR UPDATE (equality on the primary key), or FOR KEY SHARE", RECORDED),
    RULE(DSQL_RULE_SET_PARAMETER, "set-parameter", "setting", REFUSED, "0A000",
         "setting configuration parameter \"%s\" not supported",
         "only application_name, client_encoding, datestyle, extra_float_digits, intervalstyle, "
         "timezone, search_path, role and enable_* may be set",
         "leave the setting out (or put search_path in the startup options)", RECORDED),
    RULE(DSQL_RULE_SHOW_PARAMETER, "show-parameter", "setting", REFUSED, "42704",
         "unrecognized configuration parameter \"%s\"",
         "SHOW of a parameter PostgreSQL 16 no longer has (lc_collate, lc_ctype, ...)",
         "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()",
         RECORDED),

    /* ---- types, identity, sequences ---- */
    RULE(DSQL_RULE_SERIAL, "serial", "type", REFUSED, "42704", "type \"%s\" does not exist",
         "serial, bigserial and smallserial columns are not supported",
         "uuid DEFAULT gen_random_uuid(), or bigint GENERATED BY DEFAULT AS IDENTITY (CACHE "
         "65536)",
         RECORDED),
    RULE(DSQL_RULE_COLUMN_TYPE, "column-type", "type", REFUSED, "0A000",
         "datatype %s not supported",
         "a column type DSQL cannot store (money, network, geometric, bit strings, xml, full-text "
         "search, ranges, pg_lsn, ...)",
         "a supported type: text, numeric(p,s), bytea, jsonb, ...", RECORDED),
    RULE(DSQL_RULE_ARRAY_COLUMN, "array-column", "type", REFUSED, "0A000",
         "datatype %s not supported",
         "array columns are not supported (arrays exist only in "
         "queries)",
         "a jsonb column, or a child table with one row per element", INFERRED),
    RULE(DSQL_RULE_IDENTITY_CACHE, "identity-cache", "type", REFUSED, "0A000",
         "identity column is not supported without an explicit cache size. please define CACHE "
         "greater than or equal to 65536 or equal to 1",
         "an identity column needs CACHE 1 or CACHE >= 65536",
         "GENERATED BY DEFAULT AS IDENTITY (CACHE 65536)", RECORDED),
    RULE(DSQL_RULE_IDENTITY_TYPE, "identity-type", "type", REFUSED, "0A000",
         "datatype %s not supported, identity column type must be bigint",
         "identity columns must be bigint", "bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536)",
         RECORDED),
    RULE(DSQL_RULE_SEQUENCE_CACHE, "sequence-cache", "type", REFUSED, "0A000",
         "sequence is not supported without an explicit cache size. please define CACHE greater "
         "than or equal to 65536 or equal to 1",
         "a sequence needs CACHE 1 or CACHE >= 65536", "CREATE SEQUENCE ... CACHE 65536", INFERRED),
    RULE(DSQL_RULE_VARCHAR_LENGTH, "varchar-length", "type", REFUSED, "22023",
         "length for type varchar cannot exceed 65535", "varchar holds at most 65,535 bytes",
         "text", INFERRED),
    RULE(DSQL_RULE_CHAR_LENGTH, "char-length", "type", REFUSED, "22023",
         "length for type char cannot exceed 4096", "char(n) holds at most 4,096 characters",
         "varchar(n) or text", INFERRED),
    RULE(DSQL_RULE_BARE_NUMERIC, "bare-numeric", "type", WARNING, "",
         "numeric without precision and scale is stored as numeric(18,6): values are rounded to "
         "6 decimals and more than 12 integer digits overflow",
         "numeric without (precision, scale) is numeric(18,6) on DSQL",
         "numeric(p,s) with the precision and scale the data needs", DOCUMENTED),
    RULE(DSQL_RULE_TOO_MANY_COLUMNS, "too-many-columns", "limit", REFUSED, "54011",
         "tables can have at most 255 columns", "a table has at most 255 columns",
         "split the table, or keep rarely used attributes in a jsonb column", INFERRED),
    RULE(DSQL_RULE_KEY_COLUMNS, "key-columns", "limit", REFUSED, "54011",
         "cannot use more than 8 columns in an index",
         "a primary key, unique constraint or index has at most 8 key columns",
         "fewer key columns (INCLUDE (...) for covered ones)", INFERRED),

    /* ---- indexes ---- */
    RULE(DSQL_RULE_INDEX_SYNC, "index-sync", "index", REFUSED, "0A000",
         "unsupported mode. please use CREATE INDEX ASYNC.",
         "indexes on existing tables are built asynchronously",
         "CREATE INDEX ASYNC ..., then CALL sys.wait_for_job('<job_id>') with the job id it "
         "returns",
         RECORDED),
    RULE(DSQL_RULE_INDEX_METHOD, "index-method", "index", REFUSED, "0A000",
         "access method \"%s\" not supported", "indexes are btree only", "drop USING ...",
         INFERRED),
    RULE(DSQL_RULE_INDEX_ORDER, "index-order", "index", REFUSED, "0A000",
         "index column ordering (ASC/DESC, NULLS FIRST/LAST) not supported",
         "index columns cannot be ordered", "drop ASC/DESC and NULLS FIRST/LAST", INFERRED),
    RULE(DSQL_RULE_INDEX_OPCLASS, "index-opclass", "index", REFUSED, "0A000",
         "operator class \"%s\" not supported", "index columns cannot name an operator class",
         "drop the operator class", INFERRED),

    /* ---- ALTER TABLE ---- */
    RULE(DSQL_RULE_ALTER_ADD_CONSTRAINT, "alter-add-constraint", "alter", REFUSED, "0A000",
         "unsupported ALTER TABLE ADD CONSTRAINT statement",
         "a primary key, unique, check or exclusion constraint cannot be added to an existing "
         "table",
         "declare it in CREATE TABLE (rebuild the table); a unique key: CREATE UNIQUE INDEX ASYNC",
         RECORDED),
    RULE(DSQL_RULE_FOREIGN_KEY_NOT_VALID, "foreign-key-not-valid", "alter", REFUSED, "0A000",
         "unsupported ALTER TABLE ADD CONSTRAINT statement",
         "a foreign key added to an existing table needs NOT VALID, then an asynchronous "
         "validation",
         "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ASYNC ... VALIDATE CONSTRAINT ...",
         RECORDED),
    RULE(DSQL_RULE_ALTER_COLUMN_TYPE, "alter-column-type", "alter", REFUSED, "0A000",
         "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement",
         "a column's type cannot be changed",
         "add a new column, copy the values in chunks, drop the old column", RECORDED),
    RULE(DSQL_RULE_ALTER_SET_NOT_NULL, "alter-set-not-null", "alter", REFUSED, "0A000",
         "unsupported ALTER TABLE ALTER COLUMN ... SET NOT NULL statement",
         "SET NOT NULL on an existing column is not supported",
         "a CHECK in the application, or a new table with the column NOT NULL", INFERRED),
    RULE(DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT, "alter-add-column-constraint", "alter", REFUSED,
         "0A000", "ALTER TABLE ADD COLUMN with constraint not supported",
         "ADD COLUMN cannot carry a default, a constraint or an identity",
         "ADD COLUMN with the type alone, then ALTER COLUMN ... SET DEFAULT, and fill existing "
         "rows with UPDATE in chunks",
         RECORDED),

    /* ---- transaction rules ---- */
    RULE(DSQL_RULE_TX_MULTIPLE_DDL, "tx-multiple-ddl", "transaction", REFUSED, "0A000",
         "multiple ddl statements not supported in a transaction",
         "a transaction (also one multi-statement query) holds at most one DDL statement",
         "run each DDL statement on its own, in autocommit", RECORDED),
    RULE(DSQL_RULE_TX_DDL_DML, "tx-ddl-dml", "transaction", REFUSED, "0A000",
         "ddl and dml are not supported in the same transaction",
         "a transaction cannot hold DDL and DML together",
         "commit the DDL statement, then run the DML in its own transaction", DOCUMENTED),
    RULE(DSQL_RULE_TX_ABORTED, "tx-aborted", "transaction", REFUSED, "25P02",
         "current transaction is aborted, commands ignored until end of transaction block",
         "after an error in a transaction block only ROLLBACK (or COMMIT, which rolls back) runs",
         "ROLLBACK, then retry the transaction", RECORDED),

    /* ---- limits of the parser itself ---- */
    RULE(DSQL_RULE_STACK_DEPTH, "stack-depth", "limit", REFUSED, "54001",
         "stack depth limit exceeded",
         "a statement nested tens of thousands of levels deep (a chain of 1+1+1+...): "
         "PostgreSQL refuses it, and it is not analysed",
         "build the expression with fewer levels (an IN list, a VALUES list, sum())", INFERRED),
};

const dsql_rule *dsql_rules_table(size_t *n)
{
    if (n)
        *n = DSQL_RULE__COUNT;
    return table;
}

const dsql_rule *dsql_rules_get(dsql_rule_id number)
{
    if ((int)number < 0 || number >= DSQL_RULE__COUNT)
        return NULL;
    return &table[number];
}

const dsql_rule *dsql_rules_find(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < DSQL__ARRAY_LEN(table); i++)
        if (strcmp(table[i].id, id) == 0)
            return &table[i];
    return NULL;
}
