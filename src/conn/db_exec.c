/* One statement on a dsql_db with the OCC retry policy: the path every model-layer
 * statement takes (so a per-connection statement cache in dsql__conn_exec serves them
 * all). */
#include "conn/private.h"

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
    dsql_error e = DSQL_ERROR_INIT;
    for (int attempt = 1;; attempt++) {
        dsql_conn *conn;
        rc = dsql__db_acquire(db, &conn, &e);
        if (rc)
            break;
        /* Inside the caller's transaction a conflict aborts the whole transaction: only
         * its runner can retry. In autocommit the statement is its own transaction. */
        bool own_tx = PQtransactionStatus(conn->pg) == PQTRANS_IDLE;
        rc = dsql__conn_exec(conn, sql, nparams, values, lengths, formats, 0, out, &e);
        dsql__db_release(db, conn);
        /* A lost connection under a statement that changes nothing (a write is reported as
         * an unknown outcome instead) can be run again on another pooled connection. */
        bool lost_read = rc == DSQL_ECONNLOST && own_tx && dsql__db_is_pool(db);
        if ((rc != DSQL_ECONFLICT && !lost_read) || !own_tx || attempt > p.max_retries) {
            if (rc == DSQL_ECONFLICT && own_tx)
                dsql__err_prefix(&e, "gave up after %d attempt%s", attempt,
                                 attempt == 1 ? "" : "s");
            break;
        }
        int64_t delay = dsql__policy_delay(&p, attempt);
        dsql_log_fn log;
        void *log_ctx;
        dsql__db_logger(db, &log, &log_ctx);
        dsql__announce_retry(log, log_ctx, &p, attempt, &e, delay, "Statement");
        dsql__sleep_ms(delay);
    }
    if (rc && err)
        *err = e;
    return rc;
}
