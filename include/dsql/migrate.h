/*
 * libdsql migrations: versioned schema changes applied in the form Aurora DSQL accepts,
 * and on plain PostgreSQL alike (docs/migrations.md).
 *
 * A migration is a version (digits, ordered as a number), a name, and its statements: an
 * up part and an optional down part. The runner applies them as DSQL requires: each DDL
 * statement alone in its own transaction (CREATE INDEX ASYNC / ALTER TABLE ASYNC waited
 * for, the job's failure reported; on PostgreSQL the same statement without ASYNC),
 * neighbouring DML statements grouped into one transaction (run one by one when together
 * they pass the 3,000-row cap), a backfill (DSQL_STEP_BACKFILL) repeated in transactions of
 * its own until it changes no row, OCC conflicts retried. A table (default
 * "dsql_migrations") records each migration: version, name, checksum, state, the statement
 * reached, applied at, duration, the error. A migration that fails part-way is recorded as
 * failed at statement k (on DSQL its earlier DDL has committed and cannot be rolled back);
 * the next run resumes at statement k, and refuses when a statement before k changed. An
 * applied migration whose checksum changed is an error.
 *
 * Runners started at once against one database (several deploying hosts) apply each
 * migration exactly once: a runner claims a migration by inserting its row (a claim row;
 * DSQL has no advisory locks, and its optimistic concurrency lets one insert win), records
 * its progress in the same transaction as each group of DML (so a lost claim writes
 * nothing; that record is one of the transaction's 3,000 rows), and the others wait for the
 * claim's outcome (bounded by wait_ms): done, or its failure reported (not run again).
 *
 * Thread rule: the functions are reentrant; the definitions are only read. Runners in other
 * threads or processes coordinate through the table.
 */
#ifndef DSQL_MIGRATE_H
#define DSQL_MIGRATE_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsql/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a statement of a migration is run. */
typedef enum dsql_step_kind {
    DSQL_STEP_AUTO = 0, /**< decided from its first keyword (CREATE/ALTER/DROP/... = DDL,
                             INSERT/UPDATE/DELETE/WITH = DML, anything else OTHER) */
    DSQL_STEP_DDL,      /**< alone in its own transaction; an ASYNC job is waited for */
    DSQL_STEP_DML,      /**< grouped with the DML statements next to it in one transaction */
    DSQL_STEP_OTHER     /**< alone, in autocommit (SELECT, CALL, ...) */
} dsql_step_kind;

/** Flag of a DML statement: a backfill, run again and again (each run its own transaction,
 * under the row cap) until it changes no row. The statement must make progress and bound
 * each run itself, e.g. UPDATE t SET c = 0 WHERE id IN (SELECT id FROM t WHERE c IS NULL
 * LIMIT 1000). In a migration file: the comment `-- dsql:backfill` right before it. */
#define DSQL_STEP_BACKFILL 0x1u

/** One statement of a migration. */
typedef struct dsql_migration_step {
    const char *sql;    /**< one statement (no ';' needed), as Aurora DSQL runs it */
    const char *sql_pg; /**< the same for plain PostgreSQL; NULL: sql, with the ASYNC of
                             CREATE [UNIQUE] INDEX ASYNC / ALTER TABLE ASYNC taken out */
    dsql_step_kind kind;
    unsigned flags;     /**< DSQL_STEP_BACKFILL */
    unsigned line;      /**< where it starts in its file, for messages; 0 when none */
    void *reserved_[2]; /**< room for fields added later: NULL */
} dsql_migration_step;

/** One migration. Every pointer is borrowed for the length of a call. */
typedef struct dsql_migration {
    const char *version;              /**< 1 to 32 digits; migrations run in numeric order */
    const char *name;                 /**< at most 200 bytes */
    const dsql_migration_step *up;    /**< n_up statements (n_up >= 1) */
    size_t n_up;
    const dsql_migration_step *down;  /**< what reverts it; NULL/0: it cannot be reverted */
    size_t n_down;
    const char *source;               /**< a file name for messages, or NULL */
    void *reserved_[4];               /**< room for fields added later: NULL */
} dsql_migration;

/** Options; 0 / NULL means the default shown. */
typedef struct dsql_migrate_options {
    const char *table;    /**< the table of applied migrations; default "dsql_migrations" */
    const char *target;   /**< up: apply up to and including this version (NULL: all);
                               down: revert every applied migration above it (NULL: the
                               last one only; "0": all) */
    int64_t wait_ms;      /**< how long to wait for another runner's claim; default 600000 */
    int64_t lease_ms;     /**< a claim with no progress for this long is taken over (its
                               runner died); default 18000000 (5 h: longer than an index job
                               is waited for) */
    uint64_t max_chunks;  /**< bound on the runs of one backfill; default 1000000 */
    /** Called with a line of progress ("applying 20260101_users: statement 2 of 5: DDL"). */
    void (*on_progress)(const char *line, void *ctx);
    void *ctx;
    int64_t reserved_[4]; /**< room for fields added later: zero */
} dsql_migrate_options;

#define DSQL_MIGRATE_OPTIONS_INIT {NULL, NULL, 0, 0, 0, NULL, NULL, {0}}

/** What dsql_migrate_up / dsql_migrate_down did. */
typedef struct dsql_migrate_report {
    size_t applied;        /**< migrations applied (up) or reverted (down) by this runner */
    size_t already;        /**< found applied already (up), by an earlier or another runner */
    size_t statements;     /**< statements run */
    size_t transactions;   /**< transactions committed */
    uint64_t rows;         /**< rows the DML statements changed */
    size_t resumed;        /**< failed migrations resumed at their failed statement */
    char failed_version[33]; /**< the migration that failed, or "" */
    size_t failed_step;    /**< its statement that failed (1-based; 0: none) */
    int64_t reserved_[4];
} dsql_migrate_report;

/** State of a migration in the table. */
typedef enum dsql_migration_state {
    DSQL_MIGRATION_PENDING = 0, /**< not applied */
    DSQL_MIGRATION_APPLIED,     /**< applied, checksum unchanged */
    DSQL_MIGRATION_CHANGED,     /**< applied, but its statements changed since (an error) */
    DSQL_MIGRATION_FAILED,      /**< failed at statement `step` (1-based); up resumes there */
    DSQL_MIGRATION_RUNNING,     /**< claimed by a runner now (or one that died) */
    DSQL_MIGRATION_REVERTING,   /**< being reverted, or a revert failed at `step` */
    DSQL_MIGRATION_UNKNOWN      /**< in the table, but not among the definitions given */
} dsql_migration_state;

/** One line of dsql_migrate_status. */
typedef struct dsql_migration_status {
    char version[33];
    char name[201];
    dsql_migration_state state;
    char checksum[65];     /**< recorded (hex SHA-256), or "" when pending */
    char applied_at[40];   /**< recorded, ISO 8601 UTC; "" when not applied */
    int64_t duration_ms;   /**< recorded; -1 when not applied */
    size_t step;           /**< FAILED / RUNNING / REVERTING: the statement reached (1-based) */
    char error[512];       /**< FAILED: the recorded error */
} dsql_migration_status;

/**
 * Checks definitions without a server: versions (digits, unique), names, at least one up
 * statement, no statement that makes transactions itself (BEGIN, COMMIT, SAVEPOINT, ...: the
 * runner makes them), a backfill that is DML. DSQL_EINVAL naming the migration, its source
 * and the statement.
 * Borrows: migrations (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_migrations_check(const dsql_migration *migrations, size_t n, dsql_error *err);

/**
 * The checksum of a migration (hex SHA-256 of its up and down statements and their kinds and
 * flags) into out (65 bytes). The value the table records.
 * Borrows: m (during the call only); the checksum is copied into the caller's out.
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_migration_checksum(const dsql_migration *m, char out[65], dsql_error *err);

/** How the runner groups a migration's statements into transactions. */
typedef struct dsql_migrate_group {
    size_t first, count;   /**< statements [first, first + count) of the part, 0-based */
    dsql_step_kind kind;   /**< DDL (count 1), DML (one transaction), OTHER (count 1) */
    bool backfill;         /**< a backfill: repeated in transactions of its own */
} dsql_migrate_group;

/**
 * The transactions the runner makes for m's up part (down: its down part), in order, into
 * groups (room for cap entries; a part of n statements needs at most n). *n_groups receives
 * the count. No server is involved: --dry-run prints this.
 * Borrows: m (during the call only).
 * Owns: groups[] is the caller's (statement indices, no pointers).
 */
DSQL_API int dsql_migration_plan(const dsql_migration *m, bool down, dsql_migrate_group *groups,
                                 size_t cap, size_t *n_groups, dsql_error *err);

/**
 * The state of every migration given, in version order, then the table's rows that no
 * definition matches (UNKNOWN). Reads only; a missing table means every migration is
 * pending. *out is new: free with dsql_migrate_status_free(); *n receives the count.
 * db: a pool, or a connection outside any transaction.
 * Borrows: db, migrations, opts (during the call only).
 * Owns: *out is new (the array and its strings).
 * Free with: dsql_migrate_status_free(*out).
 */
DSQL_API int dsql_migrate_status(dsql_db *db, const dsql_migration *migrations, size_t n,
                                 const dsql_migrate_options *opts, dsql_migration_status **out,
                                 size_t *n_out, dsql_error *err);

/** Frees what dsql_migrate_status returned. NULL is a no-op.
 * Free with: this call frees status and its strings. */
DSQL_API void dsql_migrate_status_free(dsql_migration_status *status);

/**
 * Applies the pending migrations in version order (up to opts->target), creating the table
 * when missing. Checks the definitions first (dsql_migrations_check); an applied migration
 * whose checksum changed stops the run before anything is sent (DSQL_EINVAL). A failed one
 * is resumed at its failed statement after its earlier statements are checked unchanged
 * (DSQL_EINVAL when they are not). A migration another runner holds is waited for
 * (DSQL_ETIMEOUT after wait_ms; the error of that runner when it failed). On a failure the
 * migration is recorded as failed at the statement, report->failed_version/failed_step say
 * which, and the server's error is returned with the migration and statement named.
 * db: a pool, or a connection outside any transaction (one connection is used throughout).
 * report may be NULL.
 * Borrows: db, migrations, opts (during the call only).
 * Owns: report is the caller's and holds no heap memory.
 */
DSQL_API int dsql_migrate_up(dsql_db *db, const dsql_migration *migrations, size_t n,
                             const dsql_migrate_options *opts, dsql_migrate_report *report,
                             dsql_error *err);

/**
 * Reverts applied migrations, newest first: the last one (opts->target NULL), or every one
 * above opts->target, running each one's down part like an up part and deleting its row.
 * A migration to revert without a down part, or missing from the definitions, stops the run
 * before anything is sent (DSQL_EINVAL). A revert that fails is recorded (REVERTING, at the
 * statement) and resumed by the next down.
 * Borrows: db, migrations, opts (during the call only).
 * Owns: report is the caller's and holds no heap memory.
 */
DSQL_API int dsql_migrate_down(dsql_db *db, const dsql_migration *migrations, size_t n,
                               const dsql_migrate_options *opts, dsql_migrate_report *report,
                               dsql_error *err);

/** The name of a state ("pending", "applied", "changed", "failed", "running", "reverting",
 * "unknown"); never NULL.
 * Owns: the string is static.
 * Free with: nothing. */
DSQL_API const char *dsql_migration_state_name(dsql_migration_state state);

/* In C, each call above that takes a db accepts a pool, a connection or a dsql_db. */
#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_migrate_status(db, ...) (dsql_migrate_status)(DSQL_DB(db), __VA_ARGS__)
#define dsql_migrate_up(db, ...)     (dsql_migrate_up)(DSQL_DB(db), __VA_ARGS__)
#define dsql_migrate_down(db, ...)   (dsql_migrate_down)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
