/*
 * libdsql pool and transactions: a thread-safe connection pool that mints a fresh IAM
 * token for every new connection and retires connections before Aurora DSQL's 60-minute
 * cap, and a transaction runner that retries optimistic-concurrency conflicts.
 *
 * Thread rule: a dsql_pool is thread-safe. A dsql_conn acquired from it belongs to the
 * acquiring thread until released.
 */
#ifndef DSQL_POOL_H
#define DSQL_POOL_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <stdint.h>

#include "dsql/conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Pool options; 0 means the default shown (the seed's Sequelize pool, plus lifetime).
 * Negative values, min > max and values below the minimums are DSQL_EINVAL at
 * dsql_pool_open. Minimums (small values are allowed for tests): acquire_timeout_ms 1,
 * idle_timeout_ms 10, max_lifetime_ms 100; max_lifetime_ms must stay below 3600000.
 */
typedef struct dsql_pool_options {
    int max;                  /**< most connections open at once; default 5 */
    int min;                  /**< connections kept open when idle; default 0 */
    int64_t acquire_timeout_ms; /**< wait for a connection at most this long; default 30000 */
    int64_t idle_timeout_ms;  /**< close connections idle this long (above min); default 10000 */
    int64_t max_lifetime_ms;  /**< retire connections this old; default 55 min, with up to 10 %
                                   jitter below, always under 60 min */
    int64_t failback_settle_ms; /**< several endpoints: after a failover, how long the
                                     preferred endpoint must answer every probe before new
                                     connections go back to it; default 60000, -1 = never
                                     fail back, at least 10 */
    int64_t probe_interval_ms; /**< several endpoints: the first wait between probes of the
                                    failed preferred endpoint (doubled after each failed
                                    probe, up to 32 times this or 60 s, whichever is more);
                                    default 5000, at least 10 */
    int64_t reserved_[2];     /**< room for fields added later: zero */
} dsql_pool_options;

#define DSQL_POOL_OPTIONS_INIT {0}

/** The pool. Opaque. */
typedef struct dsql_pool dsql_pool;

/**
 * Opens a pool: resolves and copies cfg (cfg may be freed afterwards; a credentials
 * provider in cfg is borrowed and must outlive the pool), opens `min` connections (an
 * error there fails the open), and starts the pool's maintenance thread. opts may be NULL
 * for the defaults. *out: free with dsql_pool_close().
 * Borrows: cfg, opts (during the call only: copied); cfg's credentials provider, until close.
 * Owns: *out is new.
 * Free with: dsql_pool_close(*out).
 */
DSQL_API int dsql_pool_open(const dsql_config *cfg, const dsql_pool_options *opts,
                            dsql_pool **out, dsql_error *err);

/**
 * Closes the pool: threads waiting in dsql_pool_acquire return DSQL_ECLOSED at once;
 * connections lent out are waited for (release them, from any thread - never close the
 * pool from a thread that still holds one); then every connection is closed and the pool
 * freed. NULL is a no-op.
 * Free with: this call closes and frees pool (after its connections come back).
 */
DSQL_API void dsql_pool_close(dsql_pool *pool);

/**
 * Borrows a connection: an idle one (checked: never past its lifetime, never one the
 * server closed, never inside a transaction), else a new one when fewer than max are open
 * (connecting happens outside the pool's lock, retrying "waking up" / rate limits within
 * the timeout), else waits in FIFO order. DSQL_ETIMEOUT after acquire_timeout_ms, which
 * bounds a connect in progress too; DSQL_ECLOSED when the pool closes; DSQL_EMISUSE when
 * the calling thread is inside a transaction body running on a connection of this pool
 * (dsql_transaction, or dsql_conn_transaction on a connection acquired from it): use the
 * body's connection. The connection belongs to the caller's thread until
 * dsql_pool_release().
 * Borrows: pool (during the call only).
 * Owns: pool owns *conn; the caller holds it until released.
 * Free with: dsql_pool_release(pool, *conn) (never dsql_conn_close).
 */
DSQL_API int dsql_pool_acquire(dsql_pool *pool, dsql_conn **conn, dsql_error *err);

/**
 * Returns a connection to its pool: an open or failed transaction on it is rolled back;
 * a broken one, or one past its lifetime, is closed (and its slot freed for a waiter).
 * The connection must not be used afterwards. NULL, or a connection of another pool, is
 * ignored.
 * Free with: this call gives conn back to pool; conn is not to be used afterwards.
 */
DSQL_API void dsql_pool_release(dsql_pool *pool, dsql_conn *conn);

/**
 * Pool counters: gauges (open, idle, in_use, waiting) and totals since the pool opened
 * (acquires, waits = acquires that had to wait, timeouts, connects, token_mints,
 * retires = closed for idleness or lifetime, failures = failed connect attempts).
 */
typedef struct dsql_pool_stats {
    int open, idle, in_use, waiting;
    uint64_t acquires, waits, timeouts;
    uint64_t connects, token_mints, retires, failures;
    uint64_t statements, round_trips; /**< totals over every connection the pool has had
                                           (counted when a connection is released) */
    uint64_t prepared, cache_hits, deallocated; /**< the statement caches' totals, counted
                                                     the same way (see dsql_conn_stats) */
    uint64_t discards;                /**< connections dropped because they were broken */
    uint64_t transactions;            /**< dsql_transaction / dsql_pipeline_tx runs */
    uint64_t tx_retries;              /**< attempts after the first (conflicts, lost links) */
} dsql_pool_stats;

/** Copies the pool's counters into *stats (zeroes for a NULL pool). Thread-safe.
 * Borrows: pool (during the call only); counters are copied into the caller's *stats.
 * Owns: nothing is handed out. */
DSQL_API void dsql_pool_get_stats(dsql_pool *pool, dsql_pool_stats *stats);

/**
 * One endpoint of a pool (a pool has one per host of its config: several for a
 * multi-Region cluster). Gauges are read at the call; counters count since the pool
 * opened.
 */
typedef struct dsql_endpoint_stats {
    const char *host;     /**< owned by the pool: valid until dsql_pool_close */
    const char *region;   /**< signing region (owned by the pool); NULL in password mode */
    int port;
    bool preferred;       /**< the endpoint of the local Region (else the first listed) */
    bool active;          /**< new connections go here */
    bool down;            /**< failed (connect failure, timeout, unavailable); new connections
                               avoid it until probes find it healthy */
    int open, idle, in_use; /**< its connections now (open = idle + in_use) */
    uint64_t connects, token_mints, failures; /**< as in dsql_pool_stats, for this endpoint */
    uint64_t failovers;   /**< times new connections moved away from it */
    uint64_t switches_to; /**< times new connections moved to it (failovers and failbacks) */
    uint64_t probes, probe_failures; /**< health probes of it while it was not active */
    uint64_t retired;     /**< its connections retired because new ones went elsewhere */
    int64_t reserved_[8]; /**< room for fields added later (zeroed) */
} dsql_endpoint_stats;

/** Number of endpoints of the pool (1 unless the config named several); 0 for NULL.
 * Borrows: pool (during the call only).
 * Owns: nothing is handed out. */
DSQL_API size_t dsql_pool_endpoint_count(dsql_pool *pool);

/**
 * Copies endpoint number index (0-based, in the config's order) of pool into *stats.
 * DSQL_EINVAL for a NULL pool or stats, or an index past the last endpoint. Thread-safe.
 * Borrows: pool (during the call only).
 * Owns: pool owns stats->host and stats->region (valid until dsql_pool_close).
 * Free with: nothing.
 */
DSQL_API int dsql_pool_get_endpoint_stats(dsql_pool *pool, size_t index,
                                          dsql_endpoint_stats *stats, dsql_error *err);

/** OCC retry policy; 0 fields take AWS connectors' defaults. */
typedef struct dsql_retry_policy {
    int max_retries;        /**< default 3 (so at most 4 attempts); -1 = never retry */
    int64_t base_delay_ms;  /**< default 100 */
    double multiplier;      /**< default 2.0 */
    int64_t max_delay_ms;   /**< default 5000 */
    double jitter;          /**< fraction of each delay added at random; default 0.25 */
    /** Called before each retry (attempt = the attempt that failed, 1-based). */
    void (*on_retry)(int attempt, const dsql_error *cause, int64_t delay_ms, void *ctx);
    void *on_retry_ctx;
} dsql_retry_policy;

#define DSQL_RETRY_POLICY_INIT {0, 0, 0, 0, 0, NULL, NULL}

/** The body of a transaction: run statements on conn; return DSQL_OK to commit. */
typedef int (*dsql_tx_fn)(dsql_conn *conn, void *ctx, dsql_error *err);

/**
 * Runs fn inside BEGIN ISOLATION LEVEL REPEATABLE READ ... COMMIT on a pooled connection.
 * On an OCC conflict (40001, OC000, OC001) or a transient fault (XX000 "server
 * unavailable") at any statement, or a connection lost before COMMIT was sent, rolls back
 * and runs fn again after a backoff, up to the policy's retries (then DSQL_ECONFLICT /
 * DSQL_EUNAVAILABLE / DSQL_ECONNLOST, "gave up after N attempts"); a transient fault is
 * retried on the same connection, a lost one on a fresh one. Other errors surface at
 * once (rolled back). A connection lost, a transient fault or no answer within
 * query_timeout_ms while COMMIT is in flight gives DSQL_EUNKNOWN_OUTCOME and is never
 * retried; no answer before COMMIT is DSQL_ETIMEOUT, not retried. fn must run its
 * statements on the conn it is given: the pool used from inside fn is DSQL_EMISUSE.
 * policy may be NULL for defaults. *attempts (if not NULL) receives the attempts made.
 * Borrows: pool, fn, ctx, policy (during the call only).
 * Owns: the connection fn receives is the pool's, lent for the body only.
 * Free with: nothing (the runner releases it).
 */
DSQL_API int dsql_transaction(dsql_pool *pool, dsql_tx_fn fn, void *ctx,
                              const dsql_retry_policy *policy, int *attempts, dsql_error *err);

/**
 * dsql_transaction on one connection instead of a pool: BEGIN ISOLATION LEVEL REPEATABLE
 * READ; fn; COMMIT on conn, with the same conflict and transient-fault retries and the
 * same timeouts. conn must not be inside a transaction. A lost connection is not retried
 * (there is no other connection to retry on): DSQL_ECONNLOST before COMMIT,
 * DSQL_EUNKNOWN_OUTCOME during it. When conn came from a pool, that pool used from inside
 * fn (by the same thread) is DSQL_EMISUSE, as in dsql_transaction.
 * Borrows: conn, fn, ctx, policy (during the call only).
 * Owns: fn receives conn itself; the caller keeps it.
 * Free with: nothing.
 */
DSQL_API int dsql_conn_transaction(dsql_conn *conn, dsql_tx_fn fn, void *ctx,
                                   const dsql_retry_policy *policy, int *attempts,
                                   dsql_error *err);

/**
 * Runs one statement in autocommit with the same OCC retry policy (DDL included). A
 * statement that changes nothing (SELECT, SHOW, ...) whose connection dropped, or which
 * met a transient fault, is also run again (on another connection when it was lost, on
 * the same one after the fault); a write whose connection dropped, which met a transient
 * fault or got no answer within query_timeout_ms is DSQL_EUNKNOWN_OUTCOME and never
 * retried. Bounded by the acquire timeout, then query_timeout_ms per attempt (DDL and
 * CALL: at least 330 s). *res as dsql_conn_query.
 * Borrows: pool, sql, params, policy (during the call only).
 * Owns: *res (if res is not NULL) is new.
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_pool_query(dsql_pool *pool, const char *sql, const dsql_value *params,
                             size_t nparams, const dsql_retry_policy *policy, dsql_result **res,
                             dsql_error *err);

/* ---- db handles: model calls accept a pool or a connection ---- */

/**
 * Model-layer calls take a `dsql_db *`: pass a dsql_pool * (each call acquires and
 * releases a connection, and runs in its own retried transaction when it needs one) or
 * a dsql_conn * (for example inside dsql_transaction, so several calls share one
 * transaction). In C those calls are macros that convert either handle through DSQL_DB,
 * and anything else is a compile-time error; a closed or foreign handle is DSQL_EINVAL at
 * run time. From C++, or when calling through a function pointer, convert with
 * dsql_pool_db() / dsql_conn_db(). See docs/api.md.
 */
typedef struct dsql_db dsql_db;

/** The pool as a dsql_db (the same object; no ownership changes).
 * Owns: pool owns the dsql_db returned (the same object).
 * Free with: nothing (dsql_pool_close(pool)). */
DSQL_API dsql_db *dsql_pool_db(dsql_pool *pool);
/** The connection as a dsql_db (the same object; no ownership changes).
 * Owns: conn owns the dsql_db returned (the same object).
 * Free with: nothing (it goes with conn). */
DSQL_API dsql_db *dsql_conn_db(dsql_conn *conn);

#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
/** A dsql_pool *, dsql_conn * or dsql_db * as a dsql_db *; any other type does not
 * compile. */
#define DSQL_DB(h)                                                                             \
    _Generic((h), dsql_db *: (dsql_db *)(void *)(h), dsql_pool *: (dsql_db *)(void *)(h),     \
             dsql_conn *: (dsql_db *)(void *)(h))
#endif

/**
 * Runs BEGIN ISOLATION LEVEL REPEATABLE READ; stmts; COMMIT as ONE pipeline (one round
 * trip) and retries the whole batch on OCC conflicts and transient faults per policy. The
 * statements are one transaction, so Aurora DSQL's rules apply to them together: more
 * than one DDL statement, or DDL with DML, is DSQL_EUNSUPPORTED before anything is sent,
 * and over 3,000 modified rows the server refuses the batch (DSQL_ELIMIT, nothing
 * committed, the message naming the limit and what to do). A connection lost, or no
 * answer within query_timeout_ms, is DSQL_EUNKNOWN_OUTCOME (COMMIT left with the batch). When db is a connection already inside a transaction, runs only
 * the statements (the enclosing transaction commits). results as dsql_conn_pipeline (n
 * slots, for the caller's statements only).
 * Borrows: db, stmts, policy (during the call only).
 * Owns: the n results put into results[] (if not NULL) are new.
 * Free with: dsql_result_free() each.
 */
DSQL_API int dsql_pipeline_tx(dsql_db *db, const dsql_stmt *stmts, size_t n,
                              dsql_result **results, const dsql_retry_policy *policy,
                              dsql_error *err);

/**
 * One raw SQL statement (the seed's queryInterface.query) on a pool or a connection:
 * parameters as $1..$n; the same retry as dsql_pool_query with the default policy (on a
 * connection inside a transaction: none, the caller's transaction decides). *res (may be
 * NULL) as dsql_conn_query.
 * Borrows: db, sql, params (during the call only).
 * Owns: *res (if res is not NULL) is new.
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_exec(dsql_db *db, const char *sql, const dsql_value *params, size_t nparams,
                       dsql_result **res, dsql_error *err);

#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_pipeline_tx(db, ...) (dsql_pipeline_tx)(DSQL_DB(db), __VA_ARGS__)
#define dsql_exec(db, ...)        (dsql_exec)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
