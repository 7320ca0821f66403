/*
 * The conn layer's internal interface, used by the conn layer itself and by the model
 * layer above it. Not installed.
 *
 * The model layer builds SQL and parameters and hydrates rows; everything that touches
 * the network goes through the functions below, so statements and round trips are
 * counted, logged and classified in one place.
 */
#ifndef DSQL_CONN_INTERNAL_H
#define DSQL_CONN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dsql/conn.h"
#include "dsql/pool.h"
#include "util/util.h"

#define DSQL__MAGIC_CONN   0x64436f6eu /* "dCon" */
#define DSQL__MAGIC_POOL   0x64506f6fu /* "dPoo" */
#define DSQL__MAGIC_RESULT 0x64526573u /* "dRes" */

/* The head of every handle the model layer accepts: the first member of struct dsql_pool
 * and struct dsql_conn, so a pointer to either is a pointer to its head (C11 6.7.2.1).
 * kind is DSQL__MAGIC_POOL or DSQL__MAGIC_CONN while the handle lives, 0 after it is
 * closed; only conn/db.c reads it. */
struct dsql_db {
    uint32_t kind;
};

/* How every transaction the library opens begins. Aurora DSQL runs every transaction at
 * snapshot isolation and accepts exactly this form (it refuses SET TRANSACTION and
 * SERIALIZABLE); a plain BEGIN on a PostgreSQL left at READ COMMITTED would lose
 * read-modify-write updates without an error. */
#define DSQL__BEGIN_SQL "BEGIN ISOLATION LEVEL REPEATABLE READ"

/*
 * A result: the libpq result (may be NULL for results built by the model layer), and
 * an arena that owns everything the model layer hydrated from it.
 */
struct dsql_result {
    uint32_t magic;
    PGresult *pg;
    uint64_t affected;
    dsql__arena arena;
    void *rows; /* model layer: array of hydrated structs (in the arena) */
    size_t nrows;
};

/* Wraps pg (ownership passes to the result; pg may be NULL). NULL on oom (pg cleared). */
dsql_result *dsql__result_new(PGresult *pg);

/* The libpq connection of conn. */
PGconn *dsql__conn_pg(dsql_conn *conn);

/* Logs one line through the connection's config logger (no-op without one). */
void dsql__conn_log(dsql_conn *conn, dsql_log_level level, const char *fmt, ...) DSQL_PRINTF(3, 4);

/*
 * Runs one statement with libpq-style parameters (PQexecParams semantics) in one round
 * trip: counts it, logs its SQL and duration, and on failure fills err with the
 * classified status, SQLSTATE, message, detail and hint. On success *out (if not NULL)
 * receives the PGresult (PQclear it); on failure nothing is returned.
 */
int dsql__conn_exec(dsql_conn *conn, const char *sql, int nparams, const char *const *values,
                    const int *lengths, const int *formats, const uint8_t *pflags,
                    int result_format, PGresult **out, dsql_error *err);

/* One statement of dsql__conn_exec_each: its text and parameters (nparams 0: none), and,
 * after the call, its own outcome. */
typedef struct dsql__each_stmt {
    const char *sql;
    int nparams;
    const char *const *values;
    const int *lengths;
    const int *formats;
    PGresult *res;  /* success: the result (the caller PQclears it); else NULL */
    int rc;         /* its status (DSQL_OK when it succeeded) */
    dsql_error err; /* its error when rc != 0 */
} dsql__each_stmt;

/*
 * Runs s[0..n) in one pipeline with a Sync after every statement, on a connection outside
 * any transaction: each statement is its own implicit transaction (what Aurora DSQL needs
 * for DDL), the server runs them one after another, and one failing does not stop the
 * others (each gets its own rc and err). One network round trip for all of them; each
 * statement's answer is waited for within its own deadline (a round trip's bound, longer
 * for DDL and CALL), counted from the answer before it. Statements are sent unnamed (no
 * statement cache). A connection lost (or a deadline missed) before statement i's answer
 * gives statement i and every one after it DSQL_EUNKNOWN_OUTCOME when it may write
 * (it was sent and may have committed), else DSQL_ECONNLOST / DSQL_ETIMEOUT; statements
 * that could not be queued at all get the sending error ("not sent: ..."). Returns
 * DSQL_OK when every statement succeeded, else the status of the first that failed;
 * DSQL_EINVAL (nothing sent) inside a transaction.
 */
int dsql__conn_exec_each(dsql_conn *conn, dsql__each_stmt *s, size_t n, dsql_error *err);

/* Rows the transaction open on conn has modified so far, as its statements' command tags
 * reported them (cascaded rows are not seen); 0 outside a transaction. */
uint64_t dsql__conn_tx_rows(const dsql_conn *conn);

/* Fills err from a failed result (or from the connection's error when res is NULL) and
 * returns the classified status. */
int dsql__error_from_pg(dsql_error *err, PGconn *pg, const PGresult *res);

/* True for 40001 or a message naming OC000/OC001. */
bool dsql__is_occ_conflict(const char *sqlstate, const char *message);

/* ---- parameters: the one conversion of dsql_value to libpq's text/binary form ---- */

/* What the log and error messages may show of each parameter (an array of n flags beside
 * libpq's values; NULL = every parameter plain). */
#define DSQL__PF_SECRET 0x1u /* never shown: <redacted> in the log, cut out of errors */
#define DSQL__PF_BARE   0x2u /* a number or a bool: logged without quotes */

/* The flags of a dsql_value. */
static inline uint8_t dsql__value_pflags(const dsql_value *v)
{
    uint8_t f = (v->flags & DSQL_VALUE_SECRET) ? DSQL__PF_SECRET : 0;
    if (v->kind == DSQL_V_INT || v->kind == DSQL_V_DOUBLE || v->kind == DSQL_V_BOOL)
        f |= DSQL__PF_BARE;
    return f;
}

/* Appends " [$1 = 'a', $2 = 42, $3 = <redacted>]": each value up to max bytes (longer ones
 * cut, with their size), secrets redacted, control characters escaped, at most
 * DSQL_LOG_PARAMS_LISTED values. Nothing for n == 0. */
void dsql__sb_append_param_values(dsql__strbuf *sb, int n, const char *const *values,
                                  const int *lengths, const int *formats, const uint8_t *pflags,
                                  int max);

/* Cuts the text of every secret parameter (pflags) out of err's message, detail and hint
 * (the server may quote a value in them), as it would appear there. */
void dsql__error_redact_params(dsql_error *err, int n, const char *const *values,
                               const int *lengths, const int *formats, const uint8_t *pflags);

/* Checks n values before anything is sent: kinds known, byte strings sane, at most
 * 65535. */
int dsql__values_check(const dsql_value *v, size_t n, dsql_error *err);
/* One value as libpq takes it: *value (NULL for SQL NULL; numbers written into num),
 * *length and *format (1 for bytes, sent binary). */
void dsql__value_encode(const dsql_value *v, char num[32], const char **value, int *length,
                        int *format);

/* ---- db handles (a dsql_pool * or a dsql_conn *) ---- */

/* The kind of a handle; false for NULL. Every kind test of the library is one of these
 * (conn/db.c). */
bool dsql__db_is_pool(const dsql_db *db);
bool dsql__db_is_conn(const dsql_db *db);
bool dsql__is_pool(const dsql_pool *p);
bool dsql__is_conn(const dsql_conn *c);
/* One statement with dsql_value parameters on db, retried as dsql__db_exec; fn names the
 * public call in messages. */
int dsql__exec_values(dsql_db *db, const char *fn, const char *sql, const dsql_value *params,
                      size_t nparams, PGresult **out, dsql_error *err);

/* ---- named parameters (named.c) ---- */

/* A statement with :name placeholders rewritten to $1..$n. */
typedef struct dsql__named_sql {
    char *sql; /* the rewritten text (malloc'd) */
    size_t n;  /* distinct names: $1..$n */
    struct dsql__named_ref {
        const char *name; /* into the original text (not NUL-terminated) */
        size_t len;
        size_t pos; /* byte offset of its first use, for messages */
    } * names;      /* names[k] is $(k+1) */
} dsql__named_sql;

/*
 * Rewrites every :name of sql into $n (the same name, the same $n), skipping what is not
 * code: string constants ('...' with '' escapes; E'...' with backslash escapes too),
 * dollar-quoted strings ($$...$$, $tag$...$tag$), quoted identifiers ("..."), comments (--
 * to the end of the line, nested slash-star ones), and the :: cast and := operators. A
 * name is a letter, '_' or a non-ASCII byte, then those or digits; inside brackets a ':'
 * not followed by a name is an array slice's and kept. DSQL_EINVAL (fn names the call,
 * nothing sent) for a ':' followed by nothing usable, a $n parameter (named and positional
 * parameters do not mix), or an unterminated string, identifier or comment. Free with
 * dsql__named_free (also after a failure).
 */
int dsql__named_parse(const char *sql, const char *fn, dsql__named_sql *out, dsql_error *err);
void dsql__named_free(dsql__named_sql *ns);
/* True when db is a connection inside a transaction (statements run in the caller's
 * transaction, not in autocommit). */
bool dsql__db_in_transaction(dsql_db *db);
/* Marks a handle live (as kind) or closed. */
void dsql__db_init(dsql_db *db, uint32_t kind);
void dsql__db_close(dsql_db *db);
/* The handle as a pool / a connection (NULL when it is not one). */
dsql_pool *dsql__db_pool(dsql_db *db);
dsql_conn *dsql__db_conn(dsql_db *db);

/* A connection for db: the connection itself, or one acquired from the pool. Pair each
 * successful call with dsql__db_release(). DSQL_EINVAL if db is neither kind. */
int dsql__db_acquire(dsql_db *db, dsql_conn **conn, dsql_error *err);
void dsql__db_release(dsql_db *db, dsql_conn *conn);

/* Runs fn in a transaction: on a pool, through dsql_transaction with the default retry
 * policy; on a connection inside a transaction, fn is called directly (the caller's
 * transaction encloses it); on an idle connection, through dsql_conn_transaction (its own
 * BEGIN/COMMIT with the default retry policy). */
int dsql__db_transaction(dsql_db *db, dsql_tx_fn fn, void *ctx, dsql_error *err);

/*
 * Runs one statement on db (libpq-style parameters, text results) in one round trip:
 * on a pool a connection is acquired and released around it. In autocommit (a pool, or
 * a connection outside a transaction) the statement is its own transaction and OCC
 * conflicts are retried with the default policy; inside the caller's transaction it runs
 * once (the transaction's runner retries). *out as dsql__conn_exec. Every model-layer
 * statement goes through here.
 */
int dsql__db_exec(dsql_db *db, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, const uint8_t *pflags, PGresult **out,
                  dsql_error *err);
/* The same with a caller's retry policy (NULL = the defaults); dsql_pool_query is this. */
int dsql__db_exec_policy(dsql_db *db, const dsql_retry_policy *policy, const char *sql, int nparams,
                         const char *const *values, const int *lengths, const int *formats,
                         const uint8_t *pflags, PGresult **out, dsql_error *err);

/* The logger of db's config (for model-layer log lines); fn NULL when none. */
void dsql__db_logger(dsql_db *db, dsql_log_fn *fn, void **ctx);
/* Logs one line through db's logger (no-op without one). */
void dsql__db_log(dsql_db *db, dsql_log_level level, const char *fmt, ...) DSQL_PRINTF(3, 4);
/* True when e is Aurora DSQL's row cap: 54000 "transaction row limit exceeded". */
bool dsql__is_row_limit(const dsql_error *e);

/* ---- several transactions in one round trip (exec.c) ---- */

/* One transaction of a multi-transaction pipeline: the statements before index end (after
 * the previous segment's), then a Sync. The caller sets end; the run fills the rest. */
typedef struct dsql__segment {
    size_t end;
    int rc;         /* the segment's first failure (DSQL_OK: every statement succeeded) */
    size_t failed;  /* index of the statement that failed (end when none) */
    size_t done;    /* statements before this index answered successfully */
    bool synced;    /* the segment's Sync came back: its outcome is known */
    dsql_error err; /* the failure, parameters redacted */
} dsql__segment;

/*
 * Sends stmts[0..n) on conn (outside a transaction) as one pipeline with a Sync after each
 * segment, then reads every answer: one round trip for all of them. The server runs the
 * segments one after another, each its own transaction (a segment of one statement is an
 * implicit transaction; one that brackets itself with BEGIN and COMMIT, explicit), so a
 * failure in one does not touch the others. out (n slots) receives the PGresult of every
 * statement that succeeded (PQclear them). Returns DSQL_OK when every Sync came back
 * (each segment's own status is in segs); otherwise the connection was lost or the
 * deadline passed (segs[k].synced tells which segments were answered; the rest may or
 * may not have run), or the pipeline could not be sent (nothing answered).
 */
int dsql__conn_pipeline_segments(dsql_conn *conn, const dsql_stmt *stmts, size_t n,
                                 dsql__segment *segs, size_t nseg, PGresult **out, dsql_error *err);

/* dsql_pipeline_tx, also telling which of stmts failed (*failed = n when none did, or when
 * the failure was BEGIN's or COMMIT's) and how many attempts it took. */
int dsql__pipeline_tx_at(dsql_db *db, const dsql_stmt *stmts, size_t n, dsql_result **results,
                         const dsql_retry_policy *policy, size_t *failed, int *attempts,
                         dsql_error *err);

/* ---- SQL text (sqltext.c): what a statement is, read from its first keyword ---- */

typedef enum dsql__sql_kind {
    DSQL__SQL_OTHER = 0, /* session and transaction control, CALL, empty text */
    DSQL__SQL_READ,      /* SELECT, SHOW, VALUES, TABLE, EXPLAIN */
    DSQL__SQL_DML,       /* INSERT, UPDATE, DELETE, MERGE, WITH (may hold DML), COPY */
    DSQL__SQL_DDL        /* CREATE, ALTER, DROP, COMMENT, GRANT, REVOKE, TRUNCATE, ... */
} dsql__sql_kind;

dsql__sql_kind dsql__sql_kind_of(const char *sql);

/* The first keyword of sql (white space, parentheses and comments skipped), upper-cased
 * into kw (size bytes); "" when sql starts with something else or a longer word. */
void dsql__sql_keyword(const char *sql, char *kw, size_t size);

/* ---- the retry policy and the one retry loop (retry.c) ---- */

typedef struct dsql__policy {
    int max_retries;
    int64_t base_delay_ms;
    double multiplier;
    int64_t max_delay_ms;
    double jitter;
    void (*on_retry)(int attempt, const dsql_error *cause, int64_t delay_ms, void *ctx);
    void *on_retry_ctx;
} dsql__policy;

/* Applies defaults to policy (NULL = all defaults); DSQL_EINVAL on negative values. */
int dsql__policy_resolve(const dsql_retry_policy *policy, dsql__policy *out, dsql_error *err);

/* The backoff before retry number `retry` (1-based), jitter included. */
int64_t dsql__policy_delay(const dsql__policy *p, int retry);

/* A unit of work the retry loop runs: attempt() makes one attempt (attempt is 1-based)
 * and, when it fails, sets *retryable when nothing can have committed and the cause is
 * worth another try (a conflict, a transient fault, a lost connection before COMMIT). */
typedef struct dsql__retry_unit {
    const dsql__policy *policy;
    const char *what; /* "Transaction", "Statement", ... for the log */
    dsql_log_fn log;
    void *log_ctx;
    int (*attempt)(void *ctx, int attempt, bool *retryable, dsql_error *err);
} dsql__retry_unit;

/* The one retry loop: runs u's attempts until one succeeds, one fails for good, or the
 * policy's retries are spent (the error then says "gave up after N attempts"), sleeping
 * the backoff between them; each retry is logged and reported to the policy's on_retry.
 * *attempts (may be NULL) receives the attempts made. */
int dsql__retry_run(const dsql__retry_unit *u, void *ctx, int *attempts, dsql_error *err);

#endif
