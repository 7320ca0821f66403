/*
 * Transactions with optimistic-concurrency retry: dsql_transaction, dsql_conn_transaction,
 * dsql_pool_query, dsql_pipeline_tx, and the dsql_db handle functions of internal.h.
 *
 * The rule for retrying: a conflict (40001, OC000, OC001) anywhere, or a connection lost
 * before COMMIT was sent (nothing can have committed), re-runs the whole transaction after
 * a backoff. A connection lost while COMMIT is in flight is DSQL_EUNKNOWN_OUTCOME and is
 * never retried. Everything else surfaces at once.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "conn/private.h"

/* ---- policy ---- */

int dsql__policy_resolve(const dsql_retry_policy *in, dsql__policy *p, dsql_error *err)
{
    dsql_retry_policy d = DSQL_RETRY_POLICY_INIT;
    if (!in)
        in = &d;
    if (in->max_retries < -1)
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: max_retries must be -1 (never retry), 0 (default "
                              "3) or positive, not %d",
                              in->max_retries);
    if (in->base_delay_ms < 0 || in->max_delay_ms < 0)
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: delays must not be negative (base %lld ms, max %lld "
                              "ms)",
                              (long long)in->base_delay_ms, (long long)in->max_delay_ms);
    if (in->multiplier != 0 && !(in->multiplier >= 1.0 && in->multiplier <= 100.0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: multiplier must be 1..100 (0 = default 2), not %g",
                              in->multiplier);
    if (in->jitter != 0 && in->jitter != -1 && !(in->jitter > 0 && in->jitter <= 1.0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "retry policy: jitter must be a fraction in (0, 1] (0 = default "
                              "0.25, -1 = none), not %g",
                              in->jitter);
    p->max_retries = in->max_retries == -1 ? 0 : in->max_retries ? in->max_retries : 3;
    p->base_delay_ms = in->base_delay_ms ? in->base_delay_ms : 100;
    p->multiplier = in->multiplier != 0 ? in->multiplier : 2.0;
    p->max_delay_ms = in->max_delay_ms ? in->max_delay_ms : 5000;
    p->jitter = in->jitter == -1 ? 0 : in->jitter != 0 ? in->jitter : 0.25;
    p->on_retry = in->on_retry;
    p->on_retry_ctx = in->on_retry_ctx;
    return DSQL_OK;
}

double dsql__random_unit(void)
{
    uint64_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)dsql__mono_us() * 0x9E3779B97F4A7C15ull;
    return (double)(r >> 11) * 0x1.0p-53;
}

int64_t dsql__policy_delay(const dsql__policy *p, int retry)
{
    double d = (double)p->base_delay_ms * pow(p->multiplier, retry > 0 ? retry - 1 : 0);
    if (d > (double)p->max_delay_ms)
        d = (double)p->max_delay_ms;
    d += d * p->jitter * dsql__random_unit();
    return (int64_t)d;
}

/* ---- one attempt ---- */

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

typedef enum outcome {
    TX_DONE = 0,       /* committed (rc = OK) or failed for good */
    TX_RETRY_CONFLICT, /* rolled back by a conflict */
    TX_RETRY_LOST      /* connection lost before COMMIT was sent */
} outcome;

static outcome classify_attempt(int rc, const dsql_error *e, bool commit_sent)
{
    if (rc == DSQL_OK)
        return TX_DONE;
    if (rc == DSQL_ECONFLICT || dsql__is_occ_conflict(e->sqlstate, e->message))
        return TX_RETRY_CONFLICT;
    if (rc == DSQL_ECONNLOST && !commit_sent)
        return TX_RETRY_LOST;
    return TX_DONE;
}

/* BEGIN; fn; COMMIT on conn. *commit_sent tells whether COMMIT went out. */
static int run_once(dsql_conn *conn, dsql_tx_fn fn, void *ctx, dsql_error *e, bool *commit_sent)
{
    *commit_sent = false;
    dsql_error_clear(e);
    int rc = dsql__conn_exec(conn, DSQL__BEGIN_SQL, 0, NULL, NULL, NULL, 0, NULL, e);
    if (rc)
        return rc;
    rc = fn(conn, ctx, e);
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
    PGTransactionStatusType ts = PQtransactionStatus(conn->pg);
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
    rc = dsql__conn_exec(conn, "COMMIT", 0, NULL, NULL, NULL, 0, &res, e);
    if (rc == DSQL_ECONNLOST) {
        char cause[sizeof e->message];
        memcpy(cause, e->message, sizeof cause);
        return dsql_error_set(e, DSQL_EUNKNOWN_OUTCOME,
                              "connection lost while COMMIT was in flight: the transaction may "
                              "or may not have committed, so it was not retried (%s)",
                              cause);
    }
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

void dsql__announce_retry(dsql_log_fn log, void *log_ctx, const dsql__policy *p, int attempt,
                          const dsql_error *cause, int64_t delay, const char *what)
{
    char state[16] = "";
    if (cause->sqlstate[0])
        snprintf(state, sizeof state, " (%s)", cause->sqlstate);
    dsql__log(log, log_ctx, DSQL_LOG_WARN, "%s attempt %d of %d %s%s; retrying in %lld ms", what,
              attempt, p->max_retries + 1,
              cause->status == DSQL_ECONFLICT ? "hit a conflict" : "lost its connection", state,
              (long long)delay);
    dsql__log(log, log_ctx, DSQL_LOG_DEBUG, "retry cause: %s", cause->message);
    if (p->on_retry)
        p->on_retry(attempt, cause, delay, p->on_retry_ctx);
}

static void give_up(dsql_error *e, int attempts, outcome why)
{
    if (attempts > 1 || why != TX_DONE)
        dsql__err_prefix(e, "gave up after %d attempt%s", attempts, attempts == 1 ? "" : "s");
}

/* The shared runner: on a pool (a fresh acquire per attempt) or on one connection. */
static int run_tx(dsql_pool *pool, dsql_conn *fixed, dsql_tx_fn fn, void *ctx,
                  const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    if (!fn)
        return dsql_error_set(err, DSQL_EINVAL, "transaction: fn is NULL");
    dsql__policy p;
    int rc = dsql__policy_resolve(policy, &p, err);
    if (rc)
        return rc;
    dsql_log_fn log = NULL;
    void *log_ctx = NULL;
    if (pool)
        dsql__pool_logger(pool, &log, &log_ctx);
    else {
        log = fixed->log;
        log_ctx = fixed->log_ctx;
    }
    dsql_error e = DSQL_ERROR_INIT;
    for (int attempt = 1;; attempt++) {
        if (attempts)
            *attempts = attempt;
        dsql_conn *conn = fixed;
        if (pool) {
            dsql__pool_count_tx(pool, attempt > 1);
            rc = dsql_pool_acquire(pool, &conn, &e);
            if (rc)
                break;
        } else if (PQtransactionStatus(fixed->pg) != PQTRANS_IDLE) {
            rc = dsql_error_set(&e, DSQL_EINVAL,
                                "the connection is already inside a transaction (or busy)");
            break;
        }
        bool commit_sent;
        rc = run_once(conn, fn, ctx, &e, &commit_sent);
        if (pool)
            dsql_pool_release(pool, conn);
        outcome o = classify_attempt(rc, &e, commit_sent);
        if (o == TX_RETRY_CONFLICT)
            rc = e.status = DSQL_ECONFLICT;
        /* A lost standalone connection cannot be retried on: only a pool gives a new one. */
        if (o == TX_DONE || (o == TX_RETRY_LOST && !pool) || attempt > p.max_retries) {
            if (rc)
                give_up(&e, attempt, o);
            break;
        }
        int64_t delay = dsql__policy_delay(&p, attempt);
        dsql__announce_retry(log, log_ctx, &p, attempt, &e, delay, "Transaction");
        dsql__sleep_ms(delay);
    }
    if (rc && err)
        *err = e;
    return rc;
}

int dsql_transaction(dsql_pool *pool, dsql_tx_fn fn, void *ctx, const dsql_retry_policy *policy,
                     int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    if (!dsql__db_is_pool(pool))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_transaction: not a dsql_pool");
    return run_tx(pool, NULL, fn, ctx, policy, attempts, err);
}

int dsql_conn_transaction(dsql_conn *conn, dsql_tx_fn fn, void *ctx,
                          const dsql_retry_policy *policy, int *attempts, dsql_error *err)
{
    if (attempts)
        *attempts = 0;
    if (!conn || conn->magic != DSQL__MAGIC_CONN)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_conn_transaction: not a dsql_conn");
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST, "dsql_conn_transaction: connection is lost");
    return run_tx(NULL, conn, fn, ctx, policy, attempts, err);
}

/* ---- pipelined transaction ---- */

int dsql_pipeline_tx(dsql_db *db, const dsql_stmt *stmts, size_t n, dsql_result **results,
                     const dsql_retry_policy *policy, dsql_error *err)
{
    if (results)
        for (size_t i = 0; i < n; i++)
            results[i] = NULL;
    dsql_conn *fixed = NULL;
    dsql_pool *pool = NULL;
    if (db && dsql__db_is_pool(db))
        pool = db;
    else if (db && *(const uint32_t *)db == DSQL__MAGIC_CONN)
        fixed = db;
    else
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_pipeline_tx: db is neither a pool nor a "
                              "connection");
    if (n && !stmts)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pipeline_tx: stmts is NULL");
    if (fixed) {
        if (dsql__conn_check_broken(fixed))
            return dsql_error_set(err, DSQL_ECONNLOST, "dsql_pipeline_tx: connection is lost");
        PGTransactionStatusType ts = PQtransactionStatus(fixed->pg);
        if (ts == PQTRANS_INTRANS) /* the caller's transaction encloses the batch */
            return dsql_conn_pipeline(fixed, stmts, n, results, err);
        if (ts != PQTRANS_IDLE)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_pipeline_tx: the connection's transaction has failed "
                                  "(roll it back first) or a command is running");
    }
    dsql__policy p;
    int rc = dsql__policy_resolve(policy, &p, err);
    if (rc)
        return rc;

    dsql_stmt small[18];
    dsql_result *small_res[18];
    dsql_stmt *all = n + 2 <= 18 ? small : malloc((n + 2) * sizeof *all);
    dsql_result **res = n + 2 <= 18 ? small_res : malloc((n + 2) * sizeof *res);
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

    dsql_log_fn log;
    void *log_ctx;
    dsql__db_logger(db, &log, &log_ctx);
    dsql_error e = DSQL_ERROR_INIT;
    for (int attempt = 1;; attempt++) {
        dsql_conn *conn = fixed;
        if (pool) {
            dsql__pool_count_tx(pool, attempt > 1);
            rc = dsql_pool_acquire(pool, &conn, &e);
            if (rc)
                break;
        }
        size_t failed = n + 2;
        dsql_error_clear(&e);
        rc = dsql__conn_pipeline(conn, all, n + 2, results ? res : NULL, &failed, &e);
        if (rc == DSQL_OK && results) {
            for (size_t i = 0; i < n; i++)
                results[i] = res[i + 1];
            dsql_result_free(res[0]);
            dsql_result_free(res[n + 1]);
        } else if (results) {
            for (size_t i = 0; i < n + 2; i++)
                dsql_result_free(res[i]);
        }
        if (rc)
            dsql__conn_reset_tx(conn);
        if (pool)
            dsql_pool_release(pool, conn);
        if (rc == DSQL_ECONNLOST) {
            /* The whole batch, COMMIT included, may have reached the server. */
            char cause[sizeof e.message];
            memcpy(cause, e.message, sizeof cause);
            rc = dsql_error_set(&e, DSQL_EUNKNOWN_OUTCOME,
                                "connection lost during a pipelined transaction: it may or may "
                                "not have committed, so it was not retried (%s)",
                                cause);
            break;
        }
        if (rc) {
            if (failed == 0)
                dsql__err_prefix(&e, "BEGIN");
            else if (failed == n + 1)
                dsql__err_prefix(&e, "COMMIT");
            else if (failed <= n)
                dsql__err_prefix(&e, "statement %zu of %zu", failed - 1, n);
        }
        if (rc != DSQL_ECONFLICT || attempt > p.max_retries) {
            if (rc == DSQL_ECONFLICT)
                give_up(&e, attempt, TX_RETRY_CONFLICT);
            break;
        }
        int64_t delay = dsql__policy_delay(&p, attempt);
        dsql__announce_retry(log, log_ctx, &p, attempt, &e, delay, "Pipelined transaction");
        dsql__sleep_ms(delay);
    }
    if (all != small)
        free(all);
    if (res != small_res)
        free(res);
    if (rc && err)
        *err = e;
    return rc;
}

/* ---- dsql_db handles ---- */

bool dsql__db_is_pool(const dsql_db *db)
{
    return db && *(const uint32_t *)db == DSQL__MAGIC_POOL;
}

static bool db_is_conn(const dsql_db *db)
{
    return db && *(const uint32_t *)db == DSQL__MAGIC_CONN;
}

int dsql__db_acquire(dsql_db *db, dsql_conn **conn, dsql_error *err)
{
    *conn = NULL;
    if (dsql__db_is_pool(db))
        return dsql_pool_acquire(db, conn, err);
    if (db_is_conn(db)) {
        *conn = db;
        return DSQL_OK;
    }
    return dsql_error_set(err, DSQL_EINVAL, "db is neither a dsql_pool nor a dsql_conn");
}

void dsql__db_release(dsql_db *db, dsql_conn *conn)
{
    if (dsql__db_is_pool(db))
        dsql_pool_release(db, conn);
}

int dsql__db_transaction(dsql_db *db, dsql_tx_fn fn, void *ctx, dsql_error *err)
{
    if (dsql__db_is_pool(db))
        return dsql_transaction(db, fn, ctx, NULL, NULL, err);
    if (!db_is_conn(db))
        return dsql_error_set(err, DSQL_EINVAL, "db is neither a dsql_pool nor a dsql_conn");
    dsql_conn *conn = db;
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST, "connection is lost");
    switch (PQtransactionStatus(conn->pg)) {
    case PQTRANS_INTRANS:
        return fn(conn, ctx, err); /* the caller's transaction encloses it */
    case PQTRANS_IDLE:
        return dsql_conn_transaction(conn, fn, ctx, NULL, NULL, err);
    default:
        return dsql_error_set(err, DSQL_EINVAL,
                              "the connection's transaction has failed (roll it back first) or "
                              "a command is running");
    }
}

void dsql__db_logger(dsql_db *db, dsql_log_fn *fn, void **ctx)
{
    *fn = NULL;
    *ctx = NULL;
    if (dsql__db_is_pool(db))
        dsql__pool_logger(db, fn, ctx);
    else if (db_is_conn(db)) {
        *fn = ((dsql_conn *)db)->log;
        *ctx = ((dsql_conn *)db)->log_ctx;
    }
}
