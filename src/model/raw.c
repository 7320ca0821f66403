/* A raw SELECT hydrated into a model's structs: dsql_query_models (dsql_exec, the raw
 * statement itself, is the connection layer's: conn/exec.c). */
#include "model/internal.h"

static int raw(dsql_db *db, const char *fn, const char *sql, const dsql_value *params,
               size_t nparams, dsql_result **res, dsql_error *err)
{
    PGresult *pg = NULL;
    int rc = dsql__exec_values(db, fn, sql, params, nparams, &pg, err);
    if (rc)
        return rc;
    *res = dsql__result_new(pg);
    return *res ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

int dsql_query_models(dsql_db *db, const dsql_model *m, const char *sql, const dsql_value *params,
                      size_t nparams, void *rows, size_t *n, dsql_result **res, dsql_error *err)
{
    if (rows)
        dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_query_models: res is NULL (it owns the rows)");
    *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc || (rc = raw(db, "dsql_query_models", sql, params, nparams, res, err)))
        return rc;
    if ((rc = dsql__hydrate_by_name(*res, m, err))) {
        dsql_result_free(*res);
        *res = NULL;
        return rc;
    }
    if (rows)
        dsql__put_ptr(rows, (*res)->rows);
    if (n)
        *n = (*res)->nrows;
    return DSQL_OK;
}
