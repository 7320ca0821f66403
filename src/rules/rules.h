/*
 * The DSQL rules module: what Aurora DSQL refuses, decided with PostgreSQL's own parser
 * (libpg_query, PostgreSQL 15's grammar), from ONE static table of rules. The local
 * endpoint (dsql-local) answers with it as DSQL does; `dsql lint` reports with it before a
 * deploy. A static library of its own (dsql_rules); it is not part of libdsql.
 *
 * What it gives, per SQL text (one simple-protocol Query may hold several statements):
 * the statements with their byte ranges, line/column, kind and the facts a server needs
 * (target tables, the index of a CREATE INDEX, the isolation level of a BEGIN, the
 * variable of a SET, SQL-level PREPARE/EXECUTE/DEALLOCATE, locking clauses), DSQL's own
 * syntax (CREATE INDEX ASYNC, ALTER TABLE ASYNC) with the plain-PostgreSQL text to run
 * instead, and every rule each statement breaks: rule, SQLSTATE, DSQL's exact message,
 * position and, where one exists, the DSQL-safe rewrite. Transaction rules (one DDL per
 * transaction, no DDL with DML, an aborted transaction) depend on what ran before; a
 * small tracker (dsql_rules_tracker) applies them statement by statement.
 *
 * Thread rule: no mutable global state of its own; every function may be called from any
 * thread, a result and a tracker are used by one thread at a time. The parser keeps its
 * memory per thread and releases it when the thread exits; see dsql_rules_thread_done()
 * for the main thread. docs/rules.md lists the rules.
 */
#ifndef DSQL_RULES_H
#define DSQL_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "dsql/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* The rules table                                                                      */
/* ------------------------------------------------------------------------------------ */

/**
 * Every rule, by a stable number (the index of the table). New rules are appended before
 * DSQL_RULE__COUNT; a value is never renumbered. The text id of each (e.g. "truncate")
 * is in the table.
 */
typedef enum dsql_rule_id {
    DSQL_RULE_SYNTAX = 0, /* PostgreSQL's parser refuses the text (42601) */
    /* statements DSQL does not run */
    DSQL_RULE_UNSUPPORTED_STATEMENT, /* a statement kind DSQL refuses, no rule of its own */
    DSQL_RULE_TRUNCATE,
    DSQL_RULE_VACUUM,
    DSQL_RULE_MERGE,
    DSQL_RULE_CREATE_DATABASE,
    DSQL_RULE_LISTEN_NOTIFY,
    DSQL_RULE_TEMP_TABLE,
    DSQL_RULE_UNLOGGED_TABLE,
    DSQL_RULE_CREATE_TABLE_AS,
    DSQL_RULE_MATERIALIZED_VIEW,
    DSQL_RULE_TRIGGER,
    DSQL_RULE_EXTENSION,
    DSQL_RULE_CREATE_TYPE,
    DSQL_RULE_DROP_OBJECT,
    DSQL_RULE_FUNCTION_LANGUAGE,
    DSQL_RULE_DO_BLOCK,
    DSQL_RULE_SAVEPOINT,
    DSQL_RULE_LOCK_TABLE,
    DSQL_RULE_SQL_PREPARE,
    DSQL_RULE_SQL_EXECUTE,
    DSQL_RULE_DEALLOCATE_NAME,
    DSQL_RULE_CURSOR,
    DSQL_RULE_TABLESAMPLE,
    DSQL_RULE_ADVISORY_LOCK,
    DSQL_RULE_TEXT_SEARCH_CONFIG,
    DSQL_RULE_CALL_SUBQUERY,
    DSQL_RULE_PARTITION,
    DSQL_RULE_INHERITS,
    DSQL_RULE_TABLESPACE,
    DSQL_RULE_EXCLUSION_CONSTRAINT,
    DSQL_RULE_COLLATION,
    /* transactions, isolation, settings */
    DSQL_RULE_SET_TRANSACTION,
    DSQL_RULE_ISOLATION_LEVEL,
    DSQL_RULE_LOCKING_CLAUSE,
    DSQL_RULE_SET_PARAMETER,
    DSQL_RULE_SHOW_PARAMETER,
    /* types, identity, sequences */
    DSQL_RULE_SERIAL,
    DSQL_RULE_COLUMN_TYPE,
    DSQL_RULE_ARRAY_COLUMN,
    DSQL_RULE_IDENTITY_CACHE,
    DSQL_RULE_IDENTITY_TYPE,
    DSQL_RULE_SEQUENCE_CACHE,
    DSQL_RULE_VARCHAR_LENGTH,
    DSQL_RULE_CHAR_LENGTH,
    DSQL_RULE_BARE_NUMERIC,
    DSQL_RULE_TOO_MANY_COLUMNS,
    DSQL_RULE_KEY_COLUMNS,
    /* indexes */
    DSQL_RULE_INDEX_SYNC,
    DSQL_RULE_INDEX_METHOD,
    DSQL_RULE_INDEX_ORDER,
    DSQL_RULE_INDEX_OPCLASS,
    /* ALTER TABLE */
    DSQL_RULE_ALTER_ADD_CONSTRAINT,
    DSQL_RULE_FOREIGN_KEY_NOT_VALID,
    DSQL_RULE_ALTER_COLUMN_TYPE,
    DSQL_RULE_ALTER_SET_NOT_NULL,
    DSQL_RULE_ALTER_ADD_COLUMN_CONSTRAINT,
    /* transaction rules (applied by dsql_rules_tracker) */
    DSQL_RULE_TX_MULTIPLE_DDL,
    DSQL_RULE_TX_DDL_DML,
    DSQL_RULE_TX_ABORTED,
    /* added after the first release of this header */
    DSQL_RULE_STACK_DEPTH, /* nested too deeply to parse (PostgreSQL's 54001) */
    DSQL_RULE__COUNT
} dsql_rule_id;

/** How a finding counts. */
typedef enum dsql_rule_severity {
    DSQL_RULE_REFUSED = 0, /**< Aurora DSQL answers the statement with an error */
    DSQL_RULE_WARNING = 1  /**< DSQL runs it, but not as PostgreSQL would (bare numeric) */
} dsql_rule_severity;

/** Where a rule's message comes from. */
typedef enum dsql_rule_source {
    DSQL_RULE_RECORDED = 0,   /**< answered so by a real cluster (tests/data/shared/dsql_probes) */
    DSQL_RULE_DOCUMENTED = 1, /**< worded so in AWS's documentation or DSQL.md */
    DSQL_RULE_INFERRED = 2    /**< refused per the documentation; wording follows DSQL's
                                   recorded messages for the same family */
} dsql_rule_source;

/** One rule of the table. Everything is static and read-only. */
typedef struct dsql_rule {
    dsql_rule_id number;         /**< its index in the table */
    const char *id;              /**< stable text id, e.g. "truncate" */
    const char *category;        /**< "statement", "type", "alter", "index", "transaction", ... */
    dsql_rule_severity severity; /**< refused or warning */
    const char *sqlstate;        /**< DSQL's SQLSTATE ("" for a warning) */
    const char *message;         /**< DSQL's message; may hold one %s, filled per finding */
    const char *description;     /**< what the rule is about, one sentence */
    const char *rewrite;         /**< the DSQL-safe way in words, or NULL when there is none */
    dsql_rule_source source;     /**< recorded, documented or inferred message */
} dsql_rule;

/** The whole table, in dsql_rule_id order; *n receives DSQL_RULE__COUNT. Static. */
const dsql_rule *dsql_rules_table(size_t *n);

/** The rule with this number, or NULL when out of range. Static. */
const dsql_rule *dsql_rules_get(dsql_rule_id number);

/** The rule with this text id (exact, e.g. "serial"), or NULL. Static. */
const dsql_rule *dsql_rules_find(const char *id);

/* ------------------------------------------------------------------------------------ */
/* Analysis of a SQL text                                                               */
/* ------------------------------------------------------------------------------------ */

/** What a statement is, for DSQL's transaction rules and for a server's bookkeeping. */
typedef enum dsql_rules_kind {
    DSQL_RULES_UNKNOWN = 0, /**< PostgreSQL cannot parse it (see its syntax finding) */
    DSQL_RULES_READ,        /**< SELECT, VALUES, TABLE, EXPLAIN (no ANALYZE of a write), COPY TO */
    DSQL_RULES_DML,         /**< INSERT, UPDATE, DELETE, MERGE, COPY FROM, a writing WITH,
                                 EXPLAIN ANALYZE of a write */
    DSQL_RULES_DDL,         /**< CREATE, ALTER, DROP, COMMENT, GRANT, REVOKE, SELECT INTO, ... */
    DSQL_RULES_BEGIN,       /**< BEGIN, START TRANSACTION */
    DSQL_RULES_COMMIT,      /**< COMMIT, END */
    DSQL_RULES_ROLLBACK,    /**< ROLLBACK, ABORT */
    DSQL_RULES_SAVEPOINT,   /**< SAVEPOINT, RELEASE, ROLLBACK TO, two-phase commit statements */
    DSQL_RULES_SET,         /**< SET, RESET, SET TRANSACTION, SET SESSION CHARACTERISTICS */
    DSQL_RULES_SHOW,        /**< SHOW */
    DSQL_RULES_CALL,        /**< CALL */
    DSQL_RULES_UTILITY      /**< anything else: PREPARE, EXECUTE, DEALLOCATE, DISCARD, LISTEN,
                                 LOCK, VACUUM, DO, DECLARE, FETCH, CHECKPOINT, ... */
} dsql_rules_kind;

/** The isolation level a BEGIN / START TRANSACTION / SET TRANSACTION names. */
typedef enum dsql_rules_isolation {
    DSQL_RULES_ISO_NONE = 0, /**< none named */
    DSQL_RULES_ISO_READ_UNCOMMITTED,
    DSQL_RULES_ISO_READ_COMMITTED,
    DSQL_RULES_ISO_REPEATABLE_READ,
    DSQL_RULES_ISO_SERIALIZABLE
} dsql_rules_isolation;

/** SQL-level prepared statements (the protocol's Parse/Bind are not statements). */
typedef enum dsql_rules_prepared {
    DSQL_RULES_PREP_NONE = 0,
    DSQL_RULES_PREP_PREPARE,       /**< PREPARE name AS ... */
    DSQL_RULES_PREP_EXECUTE,       /**< EXECUTE name */
    DSQL_RULES_PREP_DEALLOCATE,    /**< DEALLOCATE [PREPARE] name */
    DSQL_RULES_PREP_DEALLOCATE_ALL /**< DEALLOCATE [PREPARE] ALL (DSQL accepts it) */
} dsql_rules_prepared;

/** Row-locking clauses a statement holds anywhere (bit set). */
enum {
    DSQL_RULES_LOCK_FOR_UPDATE = 1u << 0,
    DSQL_RULES_LOCK_FOR_NO_KEY_UPDATE = 1u << 1,
    DSQL_RULES_LOCK_FOR_SHARE = 1u << 2,
    DSQL_RULES_LOCK_FOR_KEY_SHARE = 1u << 3
};

/** A possibly schema-qualified name, as written (identifiers already unquoted). */
typedef struct dsql_rules_name {
    const char *schema; /**< NULL when not qualified */
    const char *name;
} dsql_rules_name;

/** What a CREATE [UNIQUE] INDEX [ASYNC] statement creates. */
typedef struct dsql_rules_index {
    const char *name;           /**< the index's name; NULL when the statement gives none */
    dsql_rules_name table;      /**< the table it is built on */
    const char *const *columns; /**< key columns in order; NULL entry for an expression */
    size_t n_columns;
    const char *const *include; /**< INCLUDE (...) columns */
    size_t n_include;
    bool unique;
    bool if_not_exists;
    bool partial;            /**< has a WHERE clause */
    bool nulls_not_distinct; /**< NULLS NOT DISTINCT */
} dsql_rules_index;

/** One rule broken by one statement. */
typedef struct dsql_rules_finding {
    const dsql_rule *rule; /**< borrowed from the static table */
    const char *message;   /**< DSQL's message with its %s filled (what DSQL answers) */
    size_t offset;         /**< byte offset in the analysed text of the offending part */
    unsigned line;         /**< 1-based line of offset */
    unsigned column;       /**< 1-based column of offset, in characters (UTF-8) */
    const char *rewrite;   /**< a concrete DSQL-safe replacement for this statement (SQL,
                                possibly several statements), or NULL; the rule's rewrite
                                says the same in words */
} dsql_rules_finding;

/** One statement of an analysed text. All pointers belong to the result. */
typedef struct dsql_rules_stmt {
    size_t offset;         /**< first byte of the statement in the input (its first token) */
    size_t length;         /**< bytes up to and including its last token (no ';') */
    unsigned line, column; /**< 1-based position of offset (column in characters) */
    dsql_rules_kind kind;
    const char *command;            /**< what it is, in PostgreSQL's command-tag words: "SELECT",
                                         "CREATE TABLE", "CREATE INDEX", ...; "" when unknown */
    bool async;                     /**< DSQL's CREATE INDEX ASYNC or ALTER TABLE ASYNC */
    const char *forward;            /**< the statement as plain PostgreSQL should run it (ASYNC
                                         and PostgreSQL 16 syntax DSQL accepts taken out, offsets
                                         kept by blanking); equals the input bytes otherwise */
    bool rewritten;                 /**< forward differs from the input's bytes */
    bool writes;                    /**< modifies rows (DML, or a data-modifying WITH) */
    const dsql_rules_name *targets; /**< DML: the written table(s); DDL: the table or object
                                         created, altered or dropped */
    size_t n_targets;
    const dsql_rules_index *index;      /**< CREATE INDEX: what it creates; else NULL */
    dsql_rules_isolation isolation;     /**< BEGIN / START TRANSACTION / SET TRANSACTION */
    bool read_only;                     /**< BEGIN / SET TRANSACTION ... READ ONLY */
    const char *setting;                /**< SET / RESET / SHOW: the parameter, lower-case
                                             ("transaction" for SET TRANSACTION, "all" for RESET ALL);
                                             else NULL */
    bool set_local;                     /**< SET LOCAL */
    dsql_rules_prepared prepared;       /**< SQL-level PREPARE / EXECUTE / DEALLOCATE */
    const char *prepared_name;          /**< its statement name, or NULL */
    unsigned locking;                   /**< DSQL_RULES_LOCK_* bits */
    int max_param;                      /**< highest $n referenced (0: none) */
    const dsql_rules_finding *findings; /**< refusals first, then warnings, each in text order */
    size_t n_findings;
} dsql_rules_stmt;

/** An analysed text. Opaque; read it with the functions below. */
typedef struct dsql_rules_result dsql_rules_result;

/**
 * Splits sql (len bytes, need not be NUL-terminated; no NUL byte inside) into statements
 * and analyses each. A text PostgreSQL cannot parse is still split (by PostgreSQL's
 * scanner, strings and comments respected); the statement that fails gets a
 * DSQL_RULE_SYNTAX finding with PostgreSQL's message and position, the others are analysed
 * as usual. Empty statements (only ';', comments, white space) are not listed.
 *
 * Returns DSQL_OK (findings are data, not errors), DSQL_EINVAL (NULL argument, a NUL
 * byte inside the text, text over 1 GiB), DSQL_ENOMEM.
 * Owns: *out, on success. Free with: dsql_rules_result_free(). The input is copied.
 */
int dsql_rules_analyze(const char *sql, size_t len, dsql_rules_result **out, dsql_error *err);

/** Frees a result and everything it holds. NULL is a no-op. */
void dsql_rules_result_free(dsql_rules_result *r);

/** Number of statements. */
size_t dsql_rules_count(const dsql_rules_result *r);

/** Statement i (0-based), or NULL when out of range. Borrowed: valid until the result is
 * freed. */
const dsql_rules_stmt *dsql_rules_stmt_at(const dsql_rules_result *r, size_t i);

/**
 * The whole text as plain PostgreSQL should run it: the input with DSQL's own syntax
 * blanked (same length, so positions are unchanged). *len (may be NULL) receives its length.
 * Borrowed from the result; NUL-terminated.
 */
const char *dsql_rules_forward(const dsql_rules_result *r, size_t *len);

/** The first syntax error of the text, or NULL when PostgreSQL parses all of it. A server
 * answering a simple Query refuses the whole query with it (PostgreSQL runs none of it).
 * Borrowed from the result. */
const dsql_rules_finding *dsql_rules_syntax_error(const dsql_rules_result *r);

/** PostgreSQL's error position of a finding: 1-based, in characters of the analysed text
 * (what a server sends as the error's position field). */
size_t dsql_rules_error_position(const dsql_rules_result *r, const dsql_rules_finding *f);

/** The first finding DSQL refuses the statement with (severity REFUSED), or NULL.
 * Borrowed from the result. */
const dsql_rules_finding *dsql_rules_refusal(const dsql_rules_stmt *s);

/** Name of a kind ("read", "dml", "ddl", "begin", ...); never NULL. Static. */
const char *dsql_rules_kind_name(dsql_rules_kind kind);

/* ------------------------------------------------------------------------------------ */
/* Transaction rules                                                                    */
/* ------------------------------------------------------------------------------------ */

/**
 * DSQL's stateful transaction rules over statements in the order a session runs them:
 * at most one DDL statement per transaction, no DDL with DML, and after any error inside
 * a transaction block only COMMIT/ROLLBACK run (25P02). A simple-protocol Query that holds
 * several statements outside a block is one implicit transaction (DSQL refuses
 * "CREATE TABLE ...; CREATE INDEX ASYNC ..." sent together): announce each Query with
 * dsql_rules_tracker_query_begin and close it with dsql_rules_tracker_query_end.
 * Caller-owned value; no resources, nothing to free. Read its fields, never write them.
 */
typedef struct dsql_rules_tracker {
    bool in_block;      /**< inside BEGIN ... COMMIT/ROLLBACK */
    bool aborted;       /**< the block failed: only COMMIT/ROLLBACK until it ends */
    bool implicit;      /**< inside a multi-statement Query outside a block */
    bool query_failed;  /**< the current Query failed (its later statements do not run) */
    unsigned ddl;       /**< DDL statements in the current transaction */
    unsigned dml;       /**< DML statements in the current transaction */
    size_t reserved[4]; /**< room to grow; zero */
} dsql_rules_tracker;

/** What the tracker says about one statement. */
typedef struct dsql_rules_verdict {
    const dsql_rule *rule; /**< the rule that refuses it, or NULL: DSQL runs it */
    const char *message;   /**< DSQL's message (borrowed: the table's or the statement's) */
    size_t offset;         /**< byte offset of the offending part in the analysed text */
    bool from_tracker;     /**< the refusal comes from the transaction state, not from the
                                statement alone */
    bool skipped;          /**< not run at all: an earlier statement of the same Query failed */
} dsql_rules_verdict;

/** Starts a session: no transaction open. */
void dsql_rules_tracker_init(dsql_rules_tracker *t);

/** A simple-protocol Query with n_statements statements begins (pass 1 for each
 * extended-protocol Execute, or for each statement a linter reads on its own). */
void dsql_rules_tracker_query_begin(dsql_rules_tracker *t, size_t n_statements);

/**
 * Feeds the next statement (from a result of dsql_rules_analyze) and says whether DSQL
 * runs it. The statement's own first refusal counts (the statement fails, and a block or
 * the implicit transaction it is in is aborted); otherwise the transaction rules decide.
 * Returns true when DSQL refuses (or skips) it; *v (may be NULL) says why.
 */
bool dsql_rules_tracker_step(dsql_rules_tracker *t, const dsql_rules_stmt *s,
                             dsql_rules_verdict *v);

/** The statement just fed and allowed failed for a reason only a server knows (a
 * constraint, the row limit, a conflict): the transaction is aborted as DSQL aborts it. */
void dsql_rules_tracker_failed(dsql_rules_tracker *t);

/** The current Query ends: an implicit transaction commits (or rolls back if it failed). */
void dsql_rules_tracker_query_end(dsql_rules_tracker *t);

/* ------------------------------------------------------------------------------------ */
/* Threads                                                                              */
/* ------------------------------------------------------------------------------------ */

/**
 * Releases the calling thread's parser memory. Call it at most once, from the main thread,
 * right before the program exits (other threads' memory is released when they exit; calling
 * it there would free it twice). No dsql_rules_analyze may follow in that thread.
 */
void dsql_rules_thread_done(void);

#ifdef __cplusplus
}
#endif

#endif
