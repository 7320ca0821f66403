/*
 * The rules module's private interface: the result's layout, the analysis context and
 * the helpers its files share. Not for the module's users (they include rules/rules.h).
 *
 * Files: analyze.c drives (parse, split, results), scan.c reads PostgreSQL's tokens (DSQL's
 * own syntax, splitting a text the parser refuses, positions), walk.c visits every node of
 * a parse tree, classify.c maps statements to kinds, facts and rule numbers, types.c judges
 * column types, rewrite.c builds the concrete DSQL-safe rewrites, rules_table.c holds the
 * rules, tracker.c the transaction rules.
 */
#ifndef DSQL_RULES_INTERNAL_H
#define DSQL_RULES_INTERNAL_H

#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include "rules/rules.h"
#include "util/util.h"

#define DSQL__RULES_MAGIC 0x6452756cu /* "dRul" */

struct dsql_rules_result {
    uint32_t magic;
    dsql__arena arena; /* every string and array below */
    char *text;        /* the input, copied, NUL-terminated */
    char *fwd;         /* the input with DSQL's own syntax blanked (same length) */
    size_t len;
    dsql_rules_stmt *stmts;
    size_t n;
    const dsql_rules_finding *syntax_error;
    size_t *line_starts; /* byte offset of each line's first byte */
    size_t n_lines;
};

/* ---- tokens (scan.c) ---- */

/* A range of the text that DSQL's grammar has and PostgreSQL 15's has not, blanked in the
 * forwarded text: the ASYNC of CREATE INDEX ASYNC / ALTER TABLE ASYNC, a column's STORAGE. */
typedef struct dsql__rules_blank {
    size_t start, end;
    bool async;
} dsql__rules_blank;

typedef struct dsql__rules_scan {
    PgQuery__ScanToken **tok; /* in text order, comments included */
    size_t n;
    bool failed;         /* the scanner refused the text (an unterminated string, ...) */
    size_t error_offset; /* then: byte offset of its error */
    const char *error_message;
    dsql__rules_blank *blanks;
    size_t n_blanks;
} dsql__rules_scan;

/* Scans text into sc (arrays in scratch). DSQL_OK or DSQL_ENOMEM. */
int dsql__rules_scan_text(dsql__arena *scratch, const char *text, dsql__rules_scan *sc);

/* Finds DSQL's own syntax in the tokens, records it in sc->blanks and blanks it in fwd (a
 * copy of text). false when out of memory. */
bool dsql__rules_blank_extensions(dsql__arena *scratch, dsql__rules_scan *sc, const char *text,
                                  char *fwd);

/* A piece of text between top-level semicolons, for a text the parser refuses. */
typedef struct dsql__rules_piece {
    size_t start, end; /* first byte of the first token .. end of the last token */
} dsql__rules_piece;

/* Splits at top-level ';' tokens (parentheses and BEGIN ATOMIC ... END bodies respected);
 * pieces without a token are left out. NULL (and *n = 0) when out of memory. */
dsql__rules_piece *dsql__rules_split(dsql__arena *scratch, const dsql__rules_scan *sc, size_t *n);

/* Index of the first token starting at or after offset (sc->n when none). */
size_t dsql__rules_tok_at(const dsql__rules_scan *sc, size_t offset);

/* Whether a token is a comment. */
bool dsql__rules_tok_comment(const PgQuery__ScanToken *t);

/* ---- analysis context (analyze.c) ---- */

typedef struct dsql__rules_ctx {
    dsql_rules_result *r;
    dsql__arena *scratch; /* parse trees and work arrays, freed when analysis ends */
    dsql__rules_scan *scan;
    size_t base; /* offset in the text of the string the tree was parsed from */
    dsql_rules_stmt *st;
    const ProtobufCMessage *top; /* the statement's own node (InsertStmt, ...) */
    /* growing arrays for the statement being analysed (scratch), copied into the result */
    dsql_rules_finding *findings;
    size_t n_findings, cap_findings;
    dsql_rules_name *targets;
    size_t n_targets, cap_targets;
    /* tables written by INSERT/UPDATE/DELETE nested in a WITH (walk.c): targets after the
     * statement's own, when the statement is DML */
    dsql_rules_name *nested;
    size_t n_nested, cap_nested;
    bool oom;
} dsql__rules_ctx;

/* A copy of s (or of n bytes of s) in the result. NULL only when out of memory (ctx->oom). */
char *dsql__rules_strdup(dsql__rules_ctx *c, const char *s);
char *dsql__rules_strndup(dsql__rules_ctx *c, const char *s, size_t n);

/* Byte offset in the text of a parse-tree location (relative to the parsed string);
 * a location < 0 (unknown) is the statement's first byte. */
size_t dsql__rules_offset(const dsql__rules_ctx *c, int32_t location);

/* Adds a finding of rule id at location; arg fills the message's %s (NULL: none).
 * rewrite (NULL: none) is copied. */
void dsql__rules_find(dsql__rules_ctx *c, dsql_rule_id id, int32_t location, const char *arg);
void dsql__rules_find_rw(dsql__rules_ctx *c, dsql_rule_id id, int32_t location, const char *arg,
                         const char *rewrite);

/* Records a target table (nested: written by a statement inside a WITH). */
void dsql__rules_target(dsql__rules_ctx *c, const PgQuery__RangeVar *rv);
void dsql__rules_target_names(dsql__rules_ctx *c, const char *schema, const char *name);
void dsql__rules_target_nested(dsql__rules_ctx *c, const PgQuery__RangeVar *rv);

/* ---- classification (classify.c, walk.c, types.c) ---- */

/* Sets the statement's kind, command and facts and adds the findings of its own node. */
void dsql__rules_classify(dsql__rules_ctx *c, const PgQuery__Node *stmt);

/* Visits every node below m (m included): locking clauses, functions, TABLESAMPLE, $n,
 * writing sub-statements. */
void dsql__rules_walk(dsql__rules_ctx *c, const ProtobufCMessage *m);

/* Column checks shared by CREATE TABLE and ALTER TABLE ADD COLUMN. */
void dsql__rules_check_type(dsql__rules_ctx *c, const PgQuery__TypeName *tn);
/* The type's name as PostgreSQL prints it ("smallint", "character varying"); buf holds
 * at least 128 bytes. */
const char *dsql__rules_type_display(const PgQuery__TypeName *tn, char *buf, size_t size);
/* Whether the type is bigint (int8). */
bool dsql__rules_type_is_bigint(const PgQuery__TypeName *tn);

/* The text of a String node, or NULL. */
const char *dsql__rules_str(const PgQuery__Node *n);
/* The integer of an A_Const / Integer / Float node; false when it is none. */
bool dsql__rules_int(const PgQuery__Node *n, long long *out);

/* ---- rewrites (rewrite.c) ---- */

/* The statement with [from, to) of the text replaced by with (byte offsets in the text).
 * NULL when out of memory. */
char *dsql__rules_splice(dsql__rules_ctx *c, size_t from, size_t to, const char *with);
/* The statement followed by suffix. */
char *dsql__rules_append(dsql__rules_ctx *c, const char *suffix);

#endif
