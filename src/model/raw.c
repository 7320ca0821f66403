/* The raw SQL escape hatch: dsql_exec and dsql_query_models. */
#include "model/internal.h"

static int raw(dsql_db *db, const char *fn, const char *sql, const dsql_value *params,
               size_t nparams, dsql_result **res, dsql_error *err)
{
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is NULL", fn);
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "%s: SQL text is NULL", fn);
    if (nparams && !params)
        return dsql_error_set(err, DSQL_EINVAL, "%s: %zu parameters announced, none given", fn,
                              nparams);
    dsql__params p = DSQL__PARAMS_INIT;
    int rc = DSQL_OK;
    for (size_t i = 0; !rc && i < nparams; i++) {
        if ((unsigned)params[i].kind > DSQL_V_BYTES)
            rc = dsql_error_set(err, DSQL_EINVAL, "%s: parameter $%zu: unknown value kind %d", fn,
                                i + 1, (int)params[i].kind);
        else if (params[i].kind == DSQL_V_BYTES && !params[i].u.bytes.data && params[i].u.bytes.len)
            rc = dsql_error_set(err, DSQL_EINVAL, "%s: parameter $%zu: bytes with NULL data", fn,
                                i + 1);
        else
            dsql__params_add_value(&p, &params[i]);
    }
    PGresult *pg = NULL;
    if (!rc && p.oom) {
        rc = dsql__params_error(&p, err);
        dsql__err_prefix(err, "%s", fn);
    }
    if (!rc)
        rc = dsql__db_exec(db, sql, p.n, p.values, p.lengths, p.formats, res ? &pg : NULL, err);
    dsql__params_free(&p);
    if (rc || !res)
        return rc;
    *res = dsql__result_new(pg);
    return *res ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

int dsql_exec(dsql_db *db, const char *sql, const dsql_value *params, size_t nparams,
              dsql_result **res, dsql_error *err)
{
    if (res)
        *res = NULL;
    return raw(db, "dsql_exec", sql, params, nparams, res, err);
}

int dsql_query_models(dsql_db *db, const dsql_model *m, const char *sql, const dsql_value *params,
                      size_t nparams, void **rows, size_t *n, dsql_result **res, dsql_error *err)
{
    if (rows)
        *rows = NULL;
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
        *rows = (*res)->rows;
    if (n)
        *n = (*res)->nrows;
    return DSQL_OK;
}
