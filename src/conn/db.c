/*
 * dsql_db handles - a pool or a connection - and the one path every model-layer statement
 * takes: dsql__db_exec, one statement with the retry policy (so a per-connection
 * statement cache in dsql__conn_exec serves them all).
 */
#include <stdarg.h>
#include <string.h>

#include "conn/private.h"

/* ---- kinds ---- */

bool dsql__db_is_pool(const dsql_db *db)
{
    return db && db->kind == DSQL__MAGIC_POOL;
}

bool dsql__db_is_conn(const dsql_db *db)
{
    return db && db->kind == DSQL__MAGIC_CONN;
}

bool dsql__is_pool(const dsql_pool *p)
{
    return p && dsql__db_is_pool((const dsql_db *)p);
}

bool dsql__is_conn(const dsql_conn *c)
{
    return c && dsql__db_is_conn((const dsql_db *)c);
}

void dsql__db_init(dsql_db *db, uint32_t kind)
{
    db->kind = kind;
}

void dsql__db_close(dsql_db *db)
{
    db->kind = 0;
}

dsql_pool *dsql__db_pool(dsql_db *db)
{
    return dsql__db_is_pool(db) ? (dsql_pool *)db : NULL;
}

dsql_conn *dsql__db_conn(dsql_db *db)
{
    return dsql__db_is_conn(db) ? (dsql_conn *)db : NULL;
}

bool dsql__db_in_transaction(dsql_db *db)
{
    dsql_conn *c = dsql__db_conn(db);
    return c && c->pg && dsql__conn_tx_status(c) != PQTRANS_IDLE;
}

/* The public conversions (for C++ and function pointers: C code passes a pool or a
 * connection straight to the calls, through DSQL_DB). */
dsql_db *dsql_pool_db(dsql_pool *pool)
{
    return (dsql_db *)pool;
}

dsql_db *dsql_conn_db(dsql_conn *conn)
{
    return (dsql_db *)conn;
}

int dsql__db_acquire(dsql_db *db, dsql_conn **conn, dsql_error *err)
{
    *conn = NULL;
    if (dsql__db_is_pool(db))
        return dsql_pool_acquire(dsql__db_pool(db), conn, err);
    if (dsql__db_is_conn(db)) {
        *conn = dsql__db_conn(db);
        return DSQL_OK;
    }
    return dsql_error_set(err, DSQL_EINVAL, "db is neither a dsql_pool nor a dsql_conn");
}

void dsql__db_release(dsql_db *db, dsql_conn *conn)
{
    if (dsql__db_is_pool(db))
        dsql_pool_release(dsql__db_pool(db), conn);
}

int dsql__db_transaction(dsql_db *db, dsql_tx_fn fn, void *ctx, dsql_error *err)
{
    if (dsql__db_is_pool(db))
        return dsql_transaction(dsql__db_pool(db), fn, ctx, NULL, NULL, err);
    if (!dsql__db_is_conn(db))
        return dsql_error_set(err, DSQL_EINVAL, "db is neither a dsql_pool nor a dsql_conn");
    dsql_conn *conn = dsql__db_conn(db);
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST, "connection is lost");
    switch (dsql__conn_tx_status(conn)) {
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
        dsql__pool_logger(dsql__db_pool(db), fn, ctx);
    else if (dsql__db_is_conn(db)) {
        *fn = dsql__db_conn(db)->log;
        *ctx = dsql__db_conn(db)->log_ctx;
    }
}

void dsql__db_log(dsql_db *db, dsql_log_level level, const char *fmt, ...)
{
    dsql_log_fn fn;
    void *ctx;
    dsql__db_logger(db, &fn, &ctx);
    if (!fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    dsql__logv(fn, ctx, level, fmt, ap);
    va_end(ap);
}

bool dsql__is_row_limit(const dsql_error *e)
{
    return e->status == DSQL_ELIMIT && !strcmp(e->sqlstate, "54000") &&
           strstr(e->message, "row limit") != NULL;
}

/* ---- one statement, retried ---- */

typedef struct exec_run {
    dsql_db *db;
    const char *sql;
    int nparams;
    const char *const *values;
    const int *lengths;
    const int *formats;
    PGresult **out;
    dsql_conn *held; /* pool: kept for the retry of a transient fault */
} exec_run;

static int exec_attempt(void *arg, int attempt, bool *retryable, dsql_error *e)
{
    exec_run *x = arg;
    (void)attempt;
    dsql_pool *pool = dsql__db_pool(x->db);
    dsql_conn *conn;
    int rc = pool ? dsql__pool_attempt_conn(pool, &x->held, &conn, e)
                  : dsql__db_acquire(x->db, &conn, e);
    if (rc)
        return rc;
    /* Inside the caller's transaction a conflict or fault aborts the whole transaction:
     * only its runner can retry. In autocommit the statement is its own transaction. */
    bool own_tx = dsql__conn_tx_status(conn) == PQTRANS_IDLE;
    rc = dsql__conn_exec(conn, x->sql, x->nparams, x->values, x->lengths, x->formats, 0, x->out, e);
    /* A write whose connection dropped, or which met a fault, is an unknown outcome (set by
     * dsql__conn_exec), never retried; a statement that changes nothing can run again (on
     * the same connection after a transient fault, on another pooled one when this one
     * was lost). */
    *retryable = own_tx && (rc == DSQL_ECONFLICT || rc == DSQL_EUNAVAILABLE ||
                            (rc == DSQL_ECONNLOST && pool) ||
                            (rc == DSQL_ETIMEOUT && pool && dsql__pool_multi(pool)));
    if (pool)
        dsql__pool_attempt_done(pool, &x->held, conn, rc, *retryable);
    return rc;
}

int dsql__db_exec(dsql_db *db, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, PGresult **out, dsql_error *err)
{
    return dsql__db_exec_policy(db, NULL, sql, nparams, values, lengths, formats, out, err);
}

int dsql__db_exec_policy(dsql_db *db, const dsql_retry_policy *policy, const char *sql, int nparams,
                         const char *const *values, const int *lengths, const int *formats,
                         PGresult **out, dsql_error *err)
{
    if (out)
        *out = NULL;
    dsql__policy p;
    int rc = dsql__policy_resolve(policy, &p, err);
    if (rc)
        return rc;
    dsql__retry_unit u = {.policy = &p, .what = "Statement", .attempt = exec_attempt};
    dsql__db_logger(db, &u.log, &u.log_ctx);
    exec_run x = {db, sql, nparams, values, lengths, formats, out, NULL};
    rc = dsql__retry_run(&u, &x, NULL, err);
    if (x.held)
        dsql_pool_release(dsql__db_pool(db), x.held);
    return rc;
}
