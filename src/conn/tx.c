/*
 * Transactions with retries: dsql_transaction, dsql_conn_transaction and dsql_pipeline_tx,
 * each one attempt function run by the one retry loop (retry.c).
 *
 * A transaction is BEGIN ISOLATION LEVEL REPEATABLE READ; the body; COMMIT. A conflict
 * (40001, OC000, OC001) or a transient fault (XX000 "server unavailable") anywhere before
 * COMMIT, or a connection lost before COMMIT was sent (nothing can have committed),
 * re-runs the whole transaction after a backoff. A connection lost, a transient fault or a
 * missed deadline while COMMIT is in flight is DSQL_EUNKNOWN_OUTCOME and is never retried.
 * Everything else surfaces at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

/* Makes sure err describes rc when a callback returned a status without filling it. */
static void ensure_error(dsql_error *e, int rc, const char *what)
{
    if (e->status == 0 || e->status != rc) {
        if (e->status == 0 || !e->message[0])
            dsql_error_set(e, rc, "%s returned %s: %s", what, dsql_status_name(rc),
                           dsql_strerror(rc));
        else
            e->status = rc;
    }
}

int dsql__commit_unknown(dsql_error *e, const char *what)
{
    char cause[sizeof e->message], state[sizeof e->sqlstate];
    memcpy(cause, e->message, sizeof cause);
    memcpy(state, e->sqlstate, sizeof state);
    dsql_error_set(e, DSQL_EUNKNOWN_OUTCOME,
                   "%s: the transaction may or may not have committed, so it was not "
                   "retried (%s)",
                   what, cause);
    /* The server's answer stays readable (XX000 "server unavailable" at COMMIT tells the
     * pool its endpoint is impaired). */
    memcpy(e->sqlstate, state, sizeof state);
    return DSQL_EUNKNOWN_OUTCOME;
}

/* True when a failure at COMMIT leaves the outcome unknown: the COMMIT may have been
 * applied before the connection dropped, the deadline passed or the fault struck. */
static bool commit_outcome_unknown(int rc)
{
    return rc == DSQL_ECONNLOST || rc == DSQL_ETIMEOUT || rc == DSQL_EUNAVAILABLE;
}

/* BEGIN; fn; COMMIT on conn. *commit_sent tells whether COMMIT went out. BEGIN is not a
 * round trip of its own: it goes out in front of the body's first statement (a body that
 * sends nothing costs no round trip at all). */
static int run_once(dsql_conn *conn, dsql_tx_fn fn, void *ctx, dsql_error *e, bool *commit_sent,
                    bool *commit_unavailable)
{
    *commit_sent = *commit_unavailable = false;
    conn->begin_pending = true;
    int rc = fn(conn, ctx, e);
    if (conn->begin_pending) { /* nothing was sent: no transaction to end */
        conn->begin_pending = false;
        if (rc == DSQL_OK)
            return DSQL_OK;
    }
    if (rc != DSQL_OK) {
        ensure_error(e, rc, "the transaction body");
        if (rc != DSQL_ECONFLICT && rc != DSQL_ECONNLOST &&
            dsql__is_occ_conflict(e->sqlstate, e->message))
            rc = e->status = DSQL_ECONFLICT;
        dsql__conn_reset_tx(conn);
        return rc;
    }
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(e, DSQL_ECONNLOST, "connection lost inside the transaction");
    PGTransactionStatusType ts = dsql__conn_tx_status(conn);
    if (ts == PQTRANS_INERROR) {
        /* The body ignored a failed statement; COMMIT would silently roll back. */
        int last = conn->last_error_status;
        dsql__conn_reset_tx(conn);
        if (last == DSQL_ECONFLICT)
            return dsql_error_set(e, DSQL_ECONFLICT,
                                  "a statement of the transaction hit a conflict (the body "
                                  "returned DSQL_OK anyway); rolled back");
        return dsql_error_set(e, DSQL_ESERVER,
                              "a statement of the transaction failed but the body returned "
                              "DSQL_OK; the transaction was rolled back, nothing committed");
    }
    if (ts != PQTRANS_INTRANS)
        return dsql_error_set(e, DSQL_EINVAL,
                              "the transaction body ended the transaction itself (COMMIT or "
                              "ROLLBACK inside dsql_transaction); let the runner commit");
    *commit_sent = true;
    PGresult *res = NULL;
    rc = dsql__conn_exec(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0, &res, e);
    *commit_unavailable = rc == DSQL_EUNAVAILABLE;
    if (commit_outcome_unknown(rc))
        return dsql__commit_unknown(e, rc == DSQL_ECONNLOST  ? "connection lost while COMMIT was "
                                                               "in flight"
                                       : rc == DSQL_ETIMEOUT ? "no answer to COMMIT in time"
                                                             : "COMMIT met a transient server "
                                                               "fault");
    if (rc) {
        dsql__conn_reset_tx(conn);
        return rc;
    }
    bool committed = !strcmp(PQcmdStatus(res), "COMMIT");
    PQclear(res);
    if (!committed)
        return dsql_error_set(e, DSQL_ESERVER, "COMMIT rolled the transaction back");
    return DSQL_OK;
}

/* The runner's unit: on a pool (a fresh acquire per attempt) or on one connection. */
typedef struct tx_run {
    dsql_pool *pool;
    dsql_conn *fixed;
    dsql_tx_fn fn;
    void *ctx;
    dsql_conn *held; /* pool: kept for the retry of a transient fault */
} tx_run;

static int tx_attempt(void *arg, int attempt, bool *retryable, dsql_error *e)
{
    tx_run *t = arg;
    dsql_conn *conn = t->fixed;
    int rc;
    if (t->pool) {
        dsql__pool_count_tx(t->pool, attempt > 1);
        if ((rc = dsql__pool_attempt_conn(t->pool, &t->held, &conn, e)))
            return rc;
    } else if (dsql__conn_tx_status(conn) != PQTRANS_IDLE) {
        return dsql_error_set(e, DSQL_EINVAL,
                              "the connection is already inside a transaction (or busy)");
    }
    /* The body runs with a connection of a pool (dsql_transaction, or dsql_conn_transaction
     * on a connection acquired from one): the same thread asking that pool for another
     * connection meanwhile is the mix-up of handles, refused at once (pool.c). */
    dsql_pool *owner = t->pool ? t->pool : conn->pool;
    dsql__body_mark mark;
    if (owner)
        dsql__pool_body_enter(owner, &mark);
    bool commit_sent, commit_unavailable;
    rc = run_once(conn, t->fn, t->ctx, e, &commit_sent, &commit_unavailable);
    if (owner)
        dsql__pool_body_leave(owner, &mark);
    if (rc == DSQL_ECONFLICT || dsql__is_occ_conflict(e->sqlstate, e->message)) {
        rc = e->status = DSQL_ECONFLICT;
        *retryable = true;
    } else if (rc == DSQL_EUNAVAILABLE) {
        *retryable = !commit_sent; /* at COMMIT it became an unknown outcome above */
    } else if (rc == DSQL_ECONNLOST) {
        /* A lost standalone connection cannot be retried on: only a pool gives a new one. */
        *retryable = !commit_sent && t->pool;
    } else if (rc == DSQL_ETIMEOUT && t->pool && dsql__pool_multi(t->pool)) {
        /* Several endpoints: no answer before COMMIT (a stalled endpoint) is a lost
         * connection like any other - the connection is closed, nothing committed - and
         * the fresh connection of the retry goes to whichever endpoint answers. */
        *retryable = !commit_sent;
    }
    /* An endpoint answering COMMIT "server unavailable" is as impaired as one answering the
     * body so (the outcome is unknown to the caller, but the answer counts for failover). */
    if (t->pool)
        dsql__pool_attempt_done(t->pool, &t->held, conn,
                                commit_unavailable ? DSQL_EUNAVAILABLE : rc, *retryable);
    return rc;
}

static int run_tx(dsql_pool *pool, dsql_conn *fixed, dsql_tx_fn fn, void *ctx,
                  const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    if (!fn)
        return dsql_error_set(err, DSQL_EINVAL, "fn is NULL");
    dsql__policy p;
    int rc = dsql__policy_resolve(policy, &p, err);
    if (rc)
        return rc;
    dsql__retry_unit u = {.policy = &p, .what = "Transaction", .attempt = tx_attempt};
    if (pool) {
        dsql__pool_logger(pool, &u.log, &u.log_ctx);
    } else {
        u.log = fixed->log;
        u.log_ctx = fixed->log_ctx;
    }
    tx_run t = {pool, fixed, fn, ctx, NULL};
    rc = dsql__retry_run(&u, &t, attempts, err);
    if (t.held)
        dsql_pool_release(pool, t.held);
    return rc;
}

static int transaction_call(dsql_pool *pool, dsql_tx_fn fn, void *ctx,
                            const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    if (!dsql__is_pool(pool))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_transaction: not a dsql_pool");
    return run_tx(pool, NULL, fn, ctx, policy, attempts, err);
}

int dsql_transaction(dsql_pool *pool, dsql_tx_fn fn, void *ctx, const dsql_retry_policy *policy,
                     int *attempts, dsql_error *err)
{
    return dsql__api_ret_body("dsql_transaction",
                              transaction_call(pool, fn, ctx, policy, attempts, err), err);
}

static int conn_transaction_call(dsql_conn *conn, dsql_tx_fn fn, void *ctx,
                                 const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    if (!dsql__is_conn(conn))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_conn_transaction: not a dsql_conn");
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST, "dsql_conn_transaction: connection is lost");
    return run_tx(NULL, conn, fn, ctx, policy, attempts, err);
}

int dsql_conn_transaction(dsql_conn *conn, dsql_tx_fn fn, void *ctx,
                          const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    return dsql__api_ret_body("dsql_conn_transaction",
                              conn_transaction_call(conn, fn, ctx, policy, attempts, err), err);
}

/* ---- pipelined transaction ---- */

typedef struct pipe_run {
    dsql_pool *pool;
    dsql_conn *fixed;
    const dsql_stmt *all; /* BEGIN, the caller's n statements, COMMIT */
    size_t n;
    dsql_result **res; /* n + 2 slots, or NULL */
    dsql_result **results;
    dsql_conn *held; /* pool: kept for the retry of a transient fault */
    size_t failed;   /* the last attempt's failed statement of all (n + 2 when none) */
} pipe_run;

static int pipe_attempt(void *arg, int attempt, bool *retryable, dsql_error *e)
{
    pipe_run *t = arg;
    size_t n = t->n;
    dsql_conn *conn = t->fixed;
    int rc;
    if (t->pool) {
        dsql__pool_count_tx(t->pool, attempt > 1);
        if ((rc = dsql__pool_attempt_conn(t->pool, &t->held, &conn, e)))
            return rc;
    }
    size_t failed = n + 2;
    rc = dsql__conn_pipeline(conn, t->all, n + 2, t->res, &failed, e);
    t->failed = rc ? failed : n + 2;
    if (rc == DSQL_OK && t->results) {
        for (size_t i = 0; i < n; i++)
            t->results[i] = t->res[i + 1];
        dsql_result_free(t->res[0]);
        dsql_result_free(t->res[n + 1]);
    } else if (t->res) {
        for (size_t i = 0; i < n + 2; i++) {
            dsql_result_free(t->res[i]);
            t->res[i] = NULL;
        }
    }
    if (rc)
        dsql__conn_reset_tx(conn);
    bool unknown =
        rc == DSQL_ECONNLOST || rc == DSQL_ETIMEOUT || (rc == DSQL_EUNAVAILABLE && failed == n + 1);
    *retryable = !unknown && (rc == DSQL_ECONFLICT || rc == DSQL_EUNAVAILABLE);
    if (t->pool)
        dsql__pool_attempt_done(t->pool, &t->held, conn, rc, *retryable);
    if (unknown)
        /* The whole batch, COMMIT included, may have reached the server. */
        return dsql__commit_unknown(
            e, rc == DSQL_ECONNLOST  ? "connection lost during a pipelined transaction"
               : rc == DSQL_ETIMEOUT ? "no answer in time during a pipelined transaction"
                                     : "the COMMIT of a pipelined transaction met a "
                                       "transient server fault");
    if (rc == DSQL_OK)
        return rc;
    if (failed == 0)
        dsql__err_prefix(e, "BEGIN");
    else if (failed == n + 1)
        dsql__err_prefix(e, "COMMIT");
    else if (failed <= n)
        dsql__err_prefix(e, "statement %zu of %zu", failed - 1, n);
    if (dsql__is_row_limit(e)) {
        /* The server's words say nothing of the cap itself, nor that it counts the batch
         * as a whole. */
        size_t len = strlen(e->message);
        snprintf(e->message + len, sizeof e->message - len,
                 " (one Aurora DSQL transaction modifies at most 3,000 rows, counted over all "
                 "the statements of the pipelined transaction: split them over transactions of "
                 "at most 3,000 rows; nothing was committed)");
    }
    return rc;
}

int dsql_pipeline_tx(dsql_db *db, const dsql_stmt *stmts, size_t n, dsql_result **results,
                     const dsql_retry_policy *policy, dsql_error *err)
{
    return dsql__api_ret("dsql_pipeline_tx",
                         dsql__pipeline_tx_at(db, stmts, n, results, policy, NULL, NULL, err), err);
}

int dsql__pipeline_tx_at(dsql_db *db, const dsql_stmt *stmts, size_t n, dsql_result **results,
                         const dsql_retry_policy *policy, size_t *failed, int *attempts,
                         dsql_error *err)
{
    if (failed)
        *failed = n;
    if (attempts)
        *attempts = 0;
    if (results)
        for (size_t i = 0; i < n; i++)
            results[i] = NULL;
    dsql_conn *fixed = NULL;
    dsql_pool *pool = NULL;
    if (dsql__db_is_pool(db))
        pool = dsql__db_pool(db);
    else if (dsql__db_is_conn(db))
        fixed = dsql__db_conn(db);
    else
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_pipeline_tx: db is neither a pool nor a connection");
    if (n && !stmts)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pipeline_tx: stmts is NULL");
    int rc = dsql__check_one_transaction(stmts, n, "dsql_pipeline_tx", err);
    if (rc)
        return rc;
    if (fixed) {
        if (dsql__conn_check_broken(fixed))
            return dsql_error_set(err, DSQL_ECONNLOST, "dsql_pipeline_tx: connection is lost");
        PGTransactionStatusType ts = dsql__conn_tx_status(fixed);
        if (ts == PQTRANS_INTRANS) { /* the caller's transaction encloses the batch */
            size_t f = n;
            rc = dsql__conn_pipeline(fixed, stmts, n, results, &f, err);
            if (rc && f < n)
                dsql__err_prefix(err, "pipeline statement %zu of %zu", f, n);
            if (failed)
                *failed = f;
            if (attempts)
                *attempts = 1;
            return rc;
        }
        if (ts != PQTRANS_IDLE)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_pipeline_tx: the connection's transaction has failed "
                                  "(roll it back first) or a command is running");
    }
    dsql__policy p;
    if ((rc = dsql__policy_resolve(policy, &p, err)))
        return rc;

    enum { SMALL = 18 };
    dsql_stmt small[SMALL];
    dsql_result *small_res[SMALL];
    dsql_stmt *all = n + 2 <= SMALL ? small : malloc((n + 2) * sizeof *all);
    dsql_result **res = n + 2 <= SMALL ? small_res : malloc((n + 2) * sizeof *res);
    if (!all || !res) {
        if (all != small)
            free(all);
        if (res != small_res)
            free(res);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    all[0] = (dsql_stmt){DSQL__BEGIN_SQL, NULL, 0};
    if (n)
        memcpy(all + 1, stmts, n * sizeof *stmts);
    all[n + 1] = (dsql_stmt){"COMMIT", NULL, 0};

    dsql__retry_unit u = {.policy = &p, .what = "Pipelined transaction", .attempt = pipe_attempt};
    dsql__db_logger(db, &u.log, &u.log_ctx);
    pipe_run t = {pool, fixed, all, n, results ? res : NULL, results, NULL, n + 2};
    rc = dsql__retry_run(&u, &t, attempts, err);
    if (failed && rc && t.failed >= 1 && t.failed <= n)
        *failed = t.failed - 1;
    if (t.held)
        dsql_pool_release(pool, t.held);
    if (all != small)
        free(all);
    if (res != small_res)
        free(res);
    return rc;
}
