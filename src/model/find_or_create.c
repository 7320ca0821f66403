/* dsql_find_or_create: find the row, or create it — safely under optimistic concurrency,
 * without PL/pgSQL. The find and the insert run in one retried transaction, so two
 * callers racing to create the same (unique) row converge: the loser's transaction
 * conflicts (OC000 / 40001) or violates the unique key, and its retry finds the row. */
#include <string.h>

#include "model/internal.h"

typedef struct foc {
    const dsql_model *m;
    const dsql_where *where;
    void *defaults;
    dsql_result *res;
    bool created;
} foc;

static int foc_body(dsql_conn *conn, void *ctx, dsql_error *err)
{
    foc *f = ctx;
    dsql_result_free(f->res); /* a previous attempt's */
    f->res = NULL;
    f->created = false;
    int rc =
        dsql__find(conn, &(dsql__select){.m = f->m, .extra = f->where, .limit = 1}, &f->res, err);
    if (rc || f->res->nrows > 0)
        return rc;
    dsql_result_free(f->res);
    f->res = NULL;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    dsql__build_insert(&sql, &p, f->m, f->defaults, 1, true);
    rc = dsql__run(conn, &sql, &p, &pg, err);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (rc)
        return rc;
    f->res = dsql__result_new(pg);
    if (!f->res)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    dsql__plan plan = DSQL__PLAN_INIT;
    dsql__plan_model(&plan, f->m);
    rc = dsql__hydrate(f->res, &plan, err);
    dsql__plan_free(&plan);
    f->created = rc == DSQL_OK;
    return rc;
}

/* A plain find (one round trip); *res NULL when nothing matches. */
static int find_first(dsql_db *db, const dsql_model *m, const dsql_where *where, dsql_result **res,
                      dsql_error *err)
{
    int rc = dsql__find(db, &(dsql__select){.m = m, .extra = where, .limit = 1}, res, err);
    if (!rc && (*res)->nrows == 0) {
        dsql_result_free(*res);
        *res = NULL;
    }
    return rc;
}

int dsql_find_or_create(dsql_db *db, const dsql_model *m, const dsql_where *where, void *defaults,
                        void **row, dsql_result **res, bool *created, dsql_error *err)
{
    if (row)
        *row = NULL;
    if (created)
        *created = false;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_find_or_create: res is NULL (it owns the row)");
    *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db || !where || !defaults)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_or_create: %s is NULL",
                              !db      ? "db"
                              : !where ? "where"
                                       : "defaults");
    dsql__fill_defaults(m, defaults);
    if ((rc = dsql__validate_insert(m, defaults, err)))
        return rc;
    /* The common case, the row exists, costs one round trip. */
    if ((rc = find_first(db, m, where, res, err)))
        return rc;
    if (!*res) {
        foc f = {m, where, defaults, NULL, false};
        dsql_error e = DSQL_ERROR_INIT;
        rc = dsql__db_transaction(db, foc_body, &f, &e);
        if (rc) {
            dsql_result_free(f.res);
            f.res = NULL;
            /* A unique violation: someone else created it first; it is there now. */
            if (rc == DSQL_ECONSTRAINT && !strcmp(e.sqlstate, "23505") &&
                find_first(db, m, where, &f.res, NULL) == DSQL_OK && f.res)
                rc = DSQL_OK;
            if (rc) {
                if (err)
                    *err = e;
                return rc;
            }
        }
        *res = f.res;
        if (created)
            *created = f.created;
    }
    if (row)
        *row = (*res)->rows;
    return DSQL_OK;
}
