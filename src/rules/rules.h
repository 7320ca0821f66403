/*
 * The DSQL rules module: what Aurora DSQL refuses, decided with PostgreSQL's own parser
 * (libpg_query), from one table of rules. Used by the local endpoint (dsql-local) to
 * answer as DSQL does, and by `dsql lint` to say so before deploying. Not part of libdsql.
 *
 * Thread rule: every function is reentrant; libpg_query keeps its memory per thread and
 * releases it when the thread exits (the main thread: dsql_rules_thread_done()).
 */
#ifndef DSQL_RULES_H
#define DSQL_RULES_H

#include <stdbool.h>
#include <stddef.h>

/** What a statement is, for DSQL's transaction rules. */
typedef enum dsql_rules_kind {
    DSQL_RK_EMPTY = 0, /**< no statement (only comments / white space) */
    DSQL_RK_READ,      /**< SELECT, VALUES, SHOW, EXPLAIN, ... */
    DSQL_RK_DML,       /**< INSERT, UPDATE, DELETE, COPY FROM, a data-modifying WITH */
    DSQL_RK_DDL,       /**< CREATE, ALTER, DROP, GRANT, COMMENT, ... */
    DSQL_RK_BEGIN,     /**< BEGIN / START TRANSACTION */
    DSQL_RK_COMMIT,    /**< COMMIT / END */
    DSQL_RK_ROLLBACK,  /**< ROLLBACK / ABORT */
    DSQL_RK_SET,       /**< SET / RESET */
    DSQL_RK_CALL,      /**< CALL */
    DSQL_RK_OTHER      /**< anything else (DISCARD, DEALLOCATE, LISTEN, ...) */
} dsql_rules_kind;

/** How a finding counts. */
typedef enum dsql_rules_severity {
    DSQL_RS_REFUSED = 0, /**< Aurora DSQL refuses the statement */
    DSQL_RS_WARNING      /**< accepted, but not what it looks like (e.g. bare numeric) */
} dsql_rules_severity;

/** One rule of the table. */
typedef struct dsql_rule {
    const char *id; /**< stable id, e.g. "DSQL-TRUNCATE" */
    dsql_rules_severity severity;
    const char *sqlstate; /**< DSQL's SQLSTATE */
    const char *message;  /**< DSQL's message; may hold one %s (filled per finding) */
    const char *rewrite;  /**< the DSQL-safe way, for people; NULL when none */
    bool recorded;        /**< message recorded on a real cluster (else inferred) */
} dsql_rule;

/** The rules, in table order; *n receives their count. */
const dsql_rule *dsql_rules_table(size_t *n);
/** The rule with this id, or NULL. */
const dsql_rule *dsql_rules_find(const char *id);

/** A rule broken by a statement. */
typedef struct dsql_rules_finding {
    const dsql_rule *rule;
    size_t offset;     /**< byte offset in the analysed text of what broke it */
    char message[256]; /**< the rule's message with its %s filled */
} dsql_rules_finding;

#define DSQL_RULES_MAX_FINDINGS 8

/** One statement of an analysed text. */
typedef struct dsql_rules_stmt {
    size_t offset, len; /**< the statement's bytes in the input */
    dsql_rules_kind kind;
    bool async;            /**< CREATE INDEX ASYNC / ALTER TABLE ASYNC */
    bool syntax_error;     /**< PostgreSQL's parser refused it (finding: DSQL-SYNTAX) */
    int max_param;         /**< highest $n referenced (0 = none) */
    char *forward;         /**< the statement as plain PostgreSQL runs it (DSQL's
                                ASYNC and PostgreSQL 16 syntax removed); owned */
    bool rewritten;        /**< forward differs from the input's bytes */
    char show[64];         /**< SHOW <name>: the parameter, lower-case; else "" */
    char index_table[128]; /**< CREATE INDEX: the table; else "" */
    char index_name[128];  /**< CREATE INDEX: the index's name, "" when none is given */
    dsql_rules_finding findings[DSQL_RULES_MAX_FINDINGS];
    size_t n_findings;
} dsql_rules_stmt;

/** An analysed text: its statements in order. */
typedef struct dsql_rules_result {
    dsql_rules_stmt *stmts;
    size_t n;
} dsql_rules_result;

/**
 * Splits sql (NUL-terminated; one simple-protocol Query may hold several statements) and
 * analyses each statement: kind, DSQL findings (refusals first), the text to forward. A
 * statement PostgreSQL cannot parse gets the finding DSQL-SYNTAX with PostgreSQL's message
 * and position. Returns 0, or -1 when out of memory (*out is then empty).
 * Free with dsql_rules_result_free().
 */
int dsql_rules_analyze(const char *sql, dsql_rules_result *out);
void dsql_rules_result_free(dsql_rules_result *r);

/** The first refusal of a statement, or NULL. */
const dsql_rules_finding *dsql_rules_refusal(const dsql_rules_stmt *s);

/**
 * Aurora DSQL's transaction rules, over statements in order: at most one DDL statement per
 * transaction, never DDL with DML. A multi-statement Query outside BEGIN is one implicit
 * transaction (start with implicit = true for it).
 */
typedef struct dsql_rules_tx {
    bool in_block; /**< inside BEGIN ... COMMIT */
    bool implicit; /**< a multi-statement Query: one transaction without BEGIN */
    int ddl;       /**< DDL statements so far in the transaction */
    bool dml;      /**< DML so far */
} dsql_rules_tx;

/** Feeds one statement; returns the rule it breaks (DSQL-TX-MULTI-DDL, DSQL-TX-DDL-DML),
 * or NULL. */
const dsql_rule *dsql_rules_tx_step(dsql_rules_tx *tx, dsql_rules_kind kind);

/** Releases the main thread's parser memory (before the program exits). Other threads
 * must not call it: libpg_query frees theirs when they exit. */
void dsql_rules_thread_done(void);

#endif
