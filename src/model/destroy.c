/* dsql_destroy: DELETE by a where clause in chunks under DSQL's per-transaction row cap
 * (DSQL has no TRUNCATE). Each chunk is one statement in autocommit: its own retried
 * transaction. */
#include <string.h>

#include "model/internal.h"

int dsql_destroy(dsql_db *db, const dsql_model *m, const dsql_where *where, uint64_t *affected,
                 dsql_error *err)
{
    if (affected)
        *affected = 0;
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_destroy: db is NULL");
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_destroy: %s: where is NULL (to delete every row on purpose, "
                              "use DSQL_NOT_NULL on the primary key)",
                              m->name);
    const dsql_attr *key = dsql__model_pk(m);
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__sb_append(&sql, "DELETE FROM ");
    dsql__sql_table(&sql, m);
    dsql__sb_append(&sql, " WHERE ");
    if (key) {
        /* DELETE ... WHERE pk IN (SELECT pk ... LIMIT cap), repeated until a chunk is short. */
        dsql__sql_ident(&sql, dsql__attr_column(key));
        dsql__sb_append(&sql, " IN (SELECT ");
        dsql__sql_ident(&sql, dsql__attr_column(key));
        dsql__sb_append(&sql, " FROM ");
        dsql__sql_table(&sql, m);
        dsql__sb_append(&sql, " WHERE ");
    }
    rc = dsql__build_where(&sql, &p, m, NULL, where, err);
    if (rc)
        dsql__err_prefix(err, "where");
    if (!rc && key)
        dsql__sb_appendf(&sql, " LIMIT %d)", DSQL__ROW_CAP);
    uint64_t total = 0;
    dsql_error e = DSQL_ERROR_INIT; /* err may be NULL; the failure is reworded below */
    bool enclosed = dsql__db_in_transaction(db); /* chunks commit only with the caller's */
    while (!rc) {
        PGresult *pg = NULL;
        rc = dsql__run(db, &sql, &p, &pg, &e);
        if (rc)
            break;
        const char *t = PQcmdTuples(pg);
        int64_t n = 0;
        dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &n);
        PQclear(pg);
        total += (uint64_t)n;
        if (!key || n < DSQL__ROW_CAP)
            break;
    }
    if (rc == DSQL_EUNKNOWN_OUTCOME && e.status && !enclosed) {
        /* The conn layer says the DELETE may have committed before the link went. */
        dsql_error cause = e;
        dsql_error_set(&e, DSQL_EUNKNOWN_OUTCOME,
                       "dsql_destroy: %s: %llu rows were deleted (in committed chunks of up to "
                       "%d), then the connection was lost with a chunk in flight: up to %d more "
                       "may or may not have been deleted: %s",
                       m->name, (unsigned long long)total, DSQL__ROW_CAP, DSQL__ROW_CAP,
                       cause.message);
        memcpy(e.sqlstate, cause.sqlstate, sizeof e.sqlstate);
    } else if (rc && e.status && total > 0 && !enclosed) {
        dsql_error cause = e;
        dsql_error_set(&e, DSQL_EPARTIAL,
                       "dsql_destroy: %s: %llu rows were deleted (in committed chunks of up to "
                       "%d) before a chunk failed: %s",
                       m->name, (unsigned long long)total, DSQL__ROW_CAP, cause.message);
        memcpy(e.sqlstate, cause.sqlstate, sizeof e.sqlstate);
        memcpy(e.detail, cause.detail, sizeof e.detail);
        memcpy(e.hint, cause.hint, sizeof e.hint);
        rc = DSQL_EPARTIAL;
    }
    if (rc && e.status && err)
        *err = e;
    if (affected)
        *affected = total;
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}
