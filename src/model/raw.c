/* Raw SQL in the model layer: dsql_query_models (a raw SELECT hydrated into a model's
 * structs), and named parameters bound from pairs or a model row (dsql_exec_named,
 * dsql_query_models_named). dsql_exec, the raw statement itself, is the connection
 * layer's (conn/exec.c), as is the :name scanner (conn/named.c). */
#include "model/internal.h"

static int db_check(dsql_db *db, const char *fn, dsql_error *err)
{
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is NULL", fn);
    if (!dsql__db_is_pool(db) && !dsql__db_is_conn(db))
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is neither a dsql_pool nor a dsql_conn",
                              fn);
    return DSQL_OK;
}

static int wrap(int rc, PGresult *pg, dsql_result **res, dsql_error *err)
{
    if (rc || !res)
        return rc;
    *res = dsql__result_new(pg);
    return *res ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

static int raw(dsql_db *db, const char *fn, const char *sql, const dsql_value *params,
               size_t nparams, dsql_result **res, dsql_error *err)
{
    PGresult *pg = NULL;
    int rc = dsql__exec_values(db, fn, sql, params, nparams, &pg, err);
    return wrap(rc, pg, res, err);
}

/* ---- named parameters ---- */

/* The pair named ref, or NULL. */
static const dsql_named *find_pair(const dsql_bind *b, const struct dsql__named_ref *ref)
{
    for (size_t i = 0; b && i < b->n_params; i++) {
        const char *name = b->params[i].name;
        if (name && strlen(name) == ref->len && !memcmp(name, ref->name, ref->len))
            return &b->params[i];
    }
    return NULL;
}

/* Checks b itself: pairs named, each once, values sane; a row with its model. */
static int bind_check(const dsql_bind *b, const dsql_model **model, const char *fn, dsql_error *err)
{
    if (!b)
        return DSQL_OK;
    if (b->n_params && !b->params)
        return dsql_error_set(err, DSQL_EINVAL, "%s: %zu pairs announced but params is NULL", fn,
                              b->n_params);
    for (size_t i = 0; i < b->n_params; i++) {
        const char *name = b->params[i].name;
        if (!name || !*name)
            return dsql_error_set(err, DSQL_EINVAL, "%s: pair %zu has %s name", fn, i,
                                  name ? "an empty" : "a NULL");
        if (name[0] == ':')
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: pair %zu is named \"%.64s\": give the name without its "
                                  "colon",
                                  fn, i, name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->params[j].name, name))
                return dsql_error_set(err, DSQL_EINVAL,
                                      "%s: pairs %zu and %zu are both named \"%.64s\"", fn, j, i,
                                      name);
        int rc = dsql__values_check(&b->params[i].value, 1, err);
        if (rc) {
            dsql__err_prefix(err, "%s: pair \"%.64s\"", fn, name);
            return rc;
        }
    }
    if (b->model)
        *model = b->model;
    if (*model && b->model && !b->row)
        return dsql_error_set(err, DSQL_EINVAL, "%s: a model (%s) but no row to bind from", fn,
                              b->model->name ? b->model->name : "?");
    if (b->row && !*model)
        return dsql_error_set(err, DSQL_EINVAL, "%s: a row to bind from but no model for it", fn);
    return *model && b->row ? dsql__model_check(*model, err) : DSQL_OK;
}

/*
 * sql's :names resolved from b into ns (the rewritten text) and p (the values: a pair's
 * value, or the row's member of the attribute of that name, secret attributes marked).
 * model: b's row's model (NULL when b has no row).
 */
static int bind_named(const char *fn, const char *sql, const dsql_bind *b, const dsql_model *model,
                      dsql__named_sql *ns, dsql__params *p, dsql_error *err)
{
    int rc = dsql__named_parse(sql, fn, ns, err);
    if (rc)
        return rc;
    const void *row = model && b ? b->row : NULL;
    size_t used = 0;
    for (size_t k = 0; k < ns->n; k++) {
        const struct dsql__named_ref *ref = &ns->names[k];
        int len = ref->len > 64 ? 64 : (int)ref->len;
        const dsql_named *pair = find_pair(b, ref);
        const dsql_attr *a = NULL;
        if (row) {
            char name[256];
            if (ref->len < sizeof name) {
                memcpy(name, ref->name, ref->len);
                name[ref->len] = '\0';
                a = dsql__model_attr(model, name);
            }
        }
        if (pair && a)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: :%.*s (byte %zu) is both a pair of the list and an "
                                  "attribute of model %s: which value is meant? Rename the "
                                  "pair; nothing was sent",
                                  fn, len, ref->name, ref->pos + 1, model->name);
        if (pair) {
            used++;
            dsql__params_add_value(p, &pair->value);
        } else if (a) {
            dsql__params_add_attr(p, a, row);
        } else if (row && b->n_params) {
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: :%.*s (byte %zu) is neither a pair of the list nor an "
                                  "attribute of model %s; nothing was sent",
                                  fn, len, ref->name, ref->pos + 1, model->name);
        } else if (row) {
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: :%.*s (byte %zu): model %s has no attribute \"%.*s\" to "
                                  "bind from; nothing was sent",
                                  fn, len, ref->name, ref->pos + 1, model->name, len, ref->name);
        } else {
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: :%.*s (byte %zu) has no value: no pair named \"%.*s\" "
                                  "was given; nothing was sent",
                                  fn, len, ref->name, ref->pos + 1, len, ref->name);
        }
        if (p->oom)
            return dsql__params_error(p, err);
    }
    if (b && used < b->n_params) {
        for (size_t i = 0; i < b->n_params; i++) {
            bool found = false;
            for (size_t k = 0; k < ns->n && !found; k++)
                found = strlen(b->params[i].name) == ns->names[k].len &&
                        !memcmp(b->params[i].name, ns->names[k].name, ns->names[k].len);
            if (!found)
                return dsql_error_set(err, DSQL_EINVAL,
                                      "%s: the pair \"%.64s\" is not used: the statement has no "
                                      ":%.64s (a misspelt name?); nothing was sent",
                                      fn, b->params[i].name, b->params[i].name);
        }
    }
    return DSQL_OK;
}

/* Binds and runs one statement with named parameters; *pg as dsql__db_exec. */
static int exec_named(dsql_db *db, const char *fn, const char *sql, const dsql_bind *b,
                      const dsql_model *model, PGresult **pg, dsql_error *err)
{
    int rc = db_check(db, fn, err);
    if (rc || (rc = bind_check(b, &model, fn, err)))
        return rc;
    if (!b || !b->row)
        model = NULL;
    dsql__named_sql ns;
    dsql__params p = DSQL__PARAMS_INIT;
    rc = bind_named(fn, sql, b, model, &ns, &p, err);
    if (!rc)
        rc = dsql__db_exec(db, ns.sql, p.n, p.values, p.lengths, p.formats, p.flags, pg, err);
    dsql__named_free(&ns);
    dsql__params_free(&p);
    return rc;
}

static int exec_named_call(dsql_db *db, const char *sql, const dsql_bind *b, dsql_result **res,
                           dsql_error *err)
{
    if (res)
        *res = NULL;
    PGresult *pg = NULL;
    int rc = exec_named(db, "dsql_exec_named", sql, b, NULL, res ? &pg : NULL, err);
    return wrap(rc, pg, res, err);
}

int dsql_exec_named(dsql_db *db, const char *sql, const dsql_bind *b, dsql_result **res,
                    dsql_error *err)
{
    return dsql__api_ret("dsql_exec_named", exec_named_call(db, sql, b, res, err), err);
}

/* ---- raw SELECT into models ---- */

/* The rows of a raw SELECT (named or not) hydrated into m's structs. */
static int query_models(dsql_db *db, const dsql_model *m, const char *fn, const char *sql,
                        const dsql_value *params, size_t nparams, const dsql_bind *b, bool named,
                        void *rows, size_t *n, dsql_result **res, dsql_error *err)
{
    if (rows)
        dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL, "%s: res is NULL (it owns the rows)", fn);
    *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (named) {
        PGresult *pg = NULL;
        rc = exec_named(db, fn, sql, b, m, &pg, err);
        rc = wrap(rc, pg, res, err);
    } else {
        rc = raw(db, fn, sql, params, nparams, res, err);
    }
    if (rc)
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

int dsql_query_models(dsql_db *db, const dsql_model *m, const char *sql, const dsql_value *params,
                      size_t nparams, void *rows, size_t *n, dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_query_models",
                         query_models(db, m, "dsql_query_models", sql, params, nparams, NULL, false,
                                      rows, n, res, err),
                         err);
}

static int query_models_named_call(dsql_db *db, const dsql_model *m, const char *sql,
                                   const dsql_bind *b, void *rows, size_t *n, dsql_result **res,
                                   dsql_error *err)
{
    return query_models(db, m, "dsql_query_models_named", sql, NULL, 0, b, true, rows, n, res, err);
}

int dsql_query_models_named(dsql_db *db, const dsql_model *m, const char *sql, const dsql_bind *b,
                            void *rows, size_t *n, dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_query_models_named",
                         query_models_named_call(db, m, sql, b, rows, n, res, err), err);
}
