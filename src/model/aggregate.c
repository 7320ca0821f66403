/*
 * Aggregates (dsql_aggregate: count, count distinct, sum, min, max, avg over a where,
 * grouped, with HAVING) and a page with its total (dsql_find_and_count_all: the count and
 * the find in one pipelined read-only transaction).
 */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

/* ---- dsql_aggregate ---- */

static const char *fn_name(dsql_agg_fn fn)
{
    switch (fn) {
    case DSQL_AGG_COUNT:
        return "count";
    case DSQL_AGG_COUNT_DISTINCT:
        return "count_distinct";
    case DSQL_AGG_SUM:
        return "sum";
    case DSQL_AGG_MIN:
        return "min";
    case DSQL_AGG_MAX:
        return "max";
    case DSQL_AGG_AVG:
        return "avg";
    }
    return NULL;
}

/* An attribute of the aggregated model, or ("alias.attr") of a joined association's target:
 * qual is the alias its column is qualified by (NULL: no join, unqualified). */
typedef struct agg_attr {
    const dsql_attr *a;
    const char *qual;
    const char *name; /* as the caller wrote it: the result column's name */
} agg_attr;

#define JOINS_MAX 8

static int lookup(const dsql_model *m, const dsql_aggregate_query *q, const char *name,
                  const char *what, agg_attr *out, dsql_error *err)
{
    out->name = name;
    out->qual = q->n_join ? m->table : NULL;
    const char *dot = name ? strchr(name, '.') : NULL;
    if (!dot)
        return dsql__attr_lookup(m, name, what, &out->a, err);
    for (size_t j = 0; j < q->n_join; j++) {
        const dsql_assoc *as = q->join[j];
        if (strlen(as->alias) == (size_t)(dot - name) && !strncmp(as->alias, name, dot - name)) {
            out->qual = as->alias;
            int rc = dsql__attr_lookup(as->target, dot + 1, what, &out->a, err);
            if (rc)
                dsql__err_prefix(err, "dsql_aggregate: join %s", as->alias);
            return rc;
        }
    }
    return dsql_error_set(err, DSQL_EINVAL,
                          "%s: %s: \"%.*s\" in \"%s\" is no association in the query's join list",
                          what, m->name, (int)(dot - name), name, name);
}

static void column(dsql__strbuf *sql, const agg_attr *x)
{
    if (x->qual)
        dsql__sql_column(sql, x->qual, x->a);
    else
        dsql__sql_ident(sql, dsql__attr_column(x->a));
}

/* Checks one aggregate; x->a gets its attribute (NULL for count(*)). */
static int check_agg(const dsql_model *m, const dsql_aggregate_query *q, const dsql_agg *g,
                     size_t i, agg_attr *x, dsql_error *err)
{
    x->a = NULL;
    const dsql_attr **a = &x->a;
    if (!fn_name(g->fn))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s: aggregate %zu: unknown "
                              "function %d",
                              m->name, i + 1, (int)g->fn);
    if (!g->attr) {
        if (g->fn == DSQL_AGG_COUNT)
            return DSQL_OK;
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s: aggregate %zu (%s) needs an attribute", m->name,
                              i + 1, fn_name(g->fn));
    }
    int rc = lookup(m, q, g->attr, "dsql_aggregate", x, err);
    if (rc)
        return rc;
    if ((g->fn == DSQL_AGG_SUM || g->fn == DSQL_AGG_AVG) && !dsql__type_is_number((*a)->type))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s.%s: %s needs a numeric attribute", m->name,
                              (*a)->name, fn_name(g->fn));
    if ((g->fn == DSQL_AGG_MIN || g->fn == DSQL_AGG_MAX) &&
        ((*a)->type == DSQL_T_BOOLEAN || (*a)->type == DSQL_T_JSON || (*a)->type == DSQL_T_JSONB ||
         (*a)->type == DSQL_T_BYTEA))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s.%s: %s of this type is not defined", m->name,
                              (*a)->name, fn_name(g->fn));
    return DSQL_OK;
}

/* Appends aggregate g's expression, "count(*)", "sum(\"weight\")", ... */
static void agg_expr(dsql__strbuf *sql, const dsql_agg *g, const agg_attr *x)
{
    if (!x->a) {
        dsql__sb_append(sql, "count(*)");
        return;
    }
    dsql__sb_append(sql, g->fn == DSQL_AGG_COUNT_DISTINCT ? "count" : fn_name(g->fn));
    dsql__sb_append(sql, g->fn == DSQL_AGG_COUNT_DISTINCT ? "(DISTINCT " : "(");
    column(sql, x);
    dsql__sb_append_c(sql, ')');
}

/* The HAVING conditions: numbers compared with an aggregate's value. */
static int build_having(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                        const dsql_aggregate_query *q, const agg_attr *attrs, dsql_error *err)
{
    for (size_t i = 0; i < q->n_having; i++) {
        const dsql_having *h = &q->having[i];
        if (h->agg >= q->n_aggs)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_aggregate: %s: having %zu names aggregate %zu of %zu",
                                  m->name, i + 1, h->agg + 1, q->n_aggs);
        const char *op = dsql__op_compare_sql(h->op);
        if (!op)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_aggregate: %s: having %zu: the operator must compare "
                                  "(EQ, NE, LT, LTE, GT, GTE)",
                                  m->name, i + 1);
        if (h->value.kind != DSQL_V_INT && h->value.kind != DSQL_V_DOUBLE &&
            !(h->value.kind == DSQL_V_TEXT && h->value.u.s))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_aggregate: %s: having %zu: compare with a number or text "
                                  "(not NULL, bool or bytes)",
                                  m->name, i + 1);
        dsql__sb_append(sql, i ? " AND " : " HAVING ");
        agg_expr(sql, &q->aggs[h->agg], &attrs[h->agg]);
        dsql__sb_append_param(sql, op, dsql__params_add_value(p, &h->value));
    }
    return DSQL_OK;
}

/* The join list: each association resolves, starts from m, appears once. */
static int check_joins(const dsql_model *m, const dsql_aggregate_query *q, dsql_error *err)
{
    if (q->n_join && !q->join)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s: %zu joins announced, none given", m->name,
                              q->n_join);
    if (q->n_join > JOINS_MAX)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_aggregate: %s: more than %d joins", m->name,
                              JOINS_MAX);
    for (size_t j = 0; j < q->n_join; j++) {
        const dsql_assoc *as = q->join[j];
        int rc = dsql__assoc_resolve(as, NULL, err);
        if (rc)
            return rc;
        if (as->source != m)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_aggregate: %s: join %s starts from model %s", m->name,
                                  as->alias, as->source->name);
        for (size_t i = 0; i < j; i++)
            if (!strcmp(q->join[i]->alias, as->alias))
                return dsql_error_set(err, DSQL_EINVAL,
                                      "dsql_aggregate: %s: join %s is listed twice", m->name,
                                      as->alias);
    }
    return DSQL_OK;
}

/* LEFT OUTER JOIN of each association of the join list (as an include joins it): rows
 * without a match group under NULL. A paranoid target's marked rows do not match. */
static int append_joins(dsql__strbuf *sql, const dsql_model *m, const dsql_aggregate_query *q,
                        dsql_error *err)
{
    for (size_t j = 0; j < q->n_join; j++) {
        const dsql_assoc *as = q->join[j];
        dsql__assoc_keys k;
        int rc = dsql__assoc_resolve(as, &k, err);
        if (rc)
            return rc;
        char through[200];
        snprintf(through, sizeof through, "%s->through", as->alias);
        dsql__sb_append(sql, " LEFT OUTER JOIN ");
        if (as->kind == DSQL_ASSOC_BELONGS_TO_MANY) {
            dsql__sb_append_c(sql, '(');
            dsql__sql_table(sql, as->through);
            dsql__sb_append(sql, " AS ");
            dsql__sql_ident(sql, through);
            dsql__sb_append(sql, " INNER JOIN ");
        }
        dsql__sql_table(sql, as->target);
        dsql__sb_append(sql, " AS ");
        dsql__sql_ident(sql, as->alias);
        if (as->kind == DSQL_ASSOC_BELONGS_TO_MANY) {
            dsql__sb_append(sql, " ON ");
            dsql__sql_column(sql, as->alias, k.target_key);
            dsql__sb_append(sql, " = ");
            dsql__sql_column(sql, through, k.other_key);
            dsql__sb_append_c(sql, ')');
        }
        dsql__sb_append(sql, " ON ");
        switch (as->kind) {
        case DSQL_ASSOC_BELONGS_TO:
            dsql__sql_column(sql, as->alias, k.target_key);
            dsql__sb_append(sql, " = ");
            dsql__sql_column(sql, m->table, k.foreign_key);
            break;
        case DSQL_ASSOC_HAS_ONE:
        case DSQL_ASSOC_HAS_MANY:
            dsql__sql_column(sql, as->alias, k.foreign_key);
            dsql__sb_append(sql, " = ");
            dsql__sql_column(sql, m->table, k.source_key);
            break;
        case DSQL_ASSOC_BELONGS_TO_MANY:
            dsql__sql_column(sql, through, k.foreign_key);
            dsql__sb_append(sql, " = ");
            dsql__sql_column(sql, m->table, k.source_key);
            break;
        }
        if (!q->with_deleted)
            dsql__append_alive(sql, as->target, as->alias, " AND ", false);
    }
    return DSQL_OK;
}

static int build_aggregate(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                           const dsql_aggregate_query *q, dsql_error *err)
{
    if (!q->aggs || q->n_aggs == 0)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_aggregate: %s: no aggregate asked for",
                              m->name);
    if ((q->n_group_by && !q->group_by) || (q->n_having && !q->having) || q->n_aggs > 64)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_aggregate: %s: a list announced but not given (or more "
                              "than 64 aggregates)",
                              m->name);
    agg_attr attrs[64], groups[64];
    if (q->n_group_by > 64)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_aggregate: %s: more than 64 group attributes",
                              m->name);
    int crc = check_joins(m, q, err);
    if (crc)
        return crc;
    dsql__sb_append(sql, "SELECT ");
    for (size_t i = 0; i < q->n_group_by; i++) {
        int rc = lookup(m, q, q->group_by[i], "dsql_aggregate: group by", &groups[i], err);
        if (rc)
            return rc;
        column(sql, &groups[i]);
        dsql__sb_append(sql, " AS ");
        dsql__sql_ident(sql, groups[i].qual && groups[i].qual != m->table ? groups[i].name
                                                                          : groups[i].a->name);
        dsql__sb_append(sql, ", ");
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        int rc = check_agg(m, q, &q->aggs[i], i, &attrs[i], err);
        if (rc)
            return rc;
        if (i)
            dsql__sb_append(sql, ", ");
        agg_expr(sql, &q->aggs[i], &attrs[i]);
        char name[160];
        if (attrs[i].a)
            snprintf(name, sizeof name, "%s_%s", fn_name(q->aggs[i].fn),
                     attrs[i].qual && attrs[i].qual != m->table ? attrs[i].name : attrs[i].a->name);
        else
            snprintf(name, sizeof name, "count");
        dsql__sb_append(sql, " AS ");
        dsql__sql_ident(sql, name);
    }
    dsql__sb_append(sql, " FROM ");
    dsql__sql_table(sql, m);
    int jrc = append_joins(sql, m, q, err);
    if (jrc)
        return jrc;
    const char *qual = q->n_join ? m->table : NULL;
    dsql__scoped scoped;
    const dsql_query *sq;
    dsql_query wq = {
        .where = q->where, .scopes = q->scopes, .n_scopes = q->n_scopes, .unscoped = q->unscoped};
    int src = dsql__scope_apply(m, &wq, true, &scoped, &sq, err);
    if (src)
        return src;
    if ((src =
             dsql__append_where_alive(sql, p, m, qual, sq->where, !q->with_deleted, false, err))) {
        dsql__err_prefix(err, "dsql_aggregate: where");
        return src;
    }
    for (size_t i = 0; i < q->n_group_by; i++) {
        dsql__sb_append(sql, i ? ", " : " GROUP BY ");
        column(sql, &groups[i]);
    }
    int rc = build_having(sql, p, m, q, attrs, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < q->n_group_by; i++) {
        dsql__sb_append(sql, i ? ", " : " ORDER BY ");
        column(sql, &groups[i]);
    }
    if (q->limit < 0)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_aggregate: %s: limit is negative", m->name);
    if (q->limit)
        dsql__sb_append_param(sql, " LIMIT ", dsql__params_add_value(p, &DSQL_INT(q->limit)));
    return DSQL_OK;
}

static int aggregate_call(dsql_db *db, const dsql_model *m, const dsql_aggregate_query *q,
                          dsql_result **res, dsql_error *err)
{
    if (res)
        *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db || !q || !res)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_aggregate: %s is NULL",
                              !db  ? "db"
                              : !q ? "the query"
                                   : "res");
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    rc = build_aggregate(&sql, &p, m, q, err);
    if (!rc && (sql.oom || p.oom))
        rc =
            p.oom ? dsql__params_error(&p, err) : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (!rc)
        rc = dsql__run(db, &sql, &p, &pg, err);
    if (!rc && !(*res = dsql__result_new(pg))) {
        PQclear(pg);
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

int dsql_aggregate(dsql_db *db, const dsql_model *m, const dsql_aggregate_query *q,
                   dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_aggregate", aggregate_call(db, m, q, res, err), err);
}

/* ---- dsql_find_and_count_all ---- */

static bool any_required(const dsql_include *inc, size_t n, int depth)
{
    for (size_t i = 0; inc && i < n && depth < 8; i++)
        if (inc[i].required || any_required(inc[i].include, inc[i].n_include, depth + 1))
            return true;
    return false;
}

static int find_and_count_all_call(dsql_db *db, const dsql_model *m, const dsql_query *q,
                                   void *rows, size_t *n, int64_t *total, dsql_result **res,
                                   dsql_error *err)
{
    dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (total)
        *total = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_find_and_count_all: res is NULL (it owns the rows)");
    *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_and_count_all: db is NULL");
    if (q && any_required(q->include, q->n_include, 0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_find_and_count_all: %s: a required include drops rows the "
                              "total would count; count and find separately",
                              m->name);
    dsql__strbuf sql[2] = {DSQL__STRBUF_INIT, DSQL__STRBUF_INIT};
    dsql__params p[2] = {DSQL__PARAMS_INIT, DSQL__PARAMS_INIT};
    dsql__plan count_plan = DSQL__PLAN_INIT, plan = DSQL__PLAN_INIT;
    dsql_query where_only = {0};
    if (q)
        where_only = (dsql_query){.where = q->where,
                                  .with_deleted = q->with_deleted,
                                  .scopes = q->scopes,
                                  .n_scopes = q->n_scopes,
                                  .unscoped = q->unscoped};
    dsql_result *out[2] = {NULL, NULL};
    rc = dsql__build_select(&(dsql__select){.m = m, .q = &where_only, .count = true}, &sql[0],
                            &p[0], &count_plan, err);
    if (!rc)
        rc = dsql__build_select(&(dsql__select){.m = m, .q = q}, &sql[1], &p[1], &plan, err);
    dsql_stmt st[2];
    for (int i = 0; !rc && i < 2; i++) {
        dsql_value *v = dsql__params_as_values(&p[i]);
        if (sql[i].oom || p[i].oom || (p[i].n && !v))
            rc = p[i].oom ? dsql__params_error(&p[i], err)
                          : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        st[i] = (dsql_stmt){dsql__sb_str(&sql[i]), v, (size_t)p[i].n};
    }
    /* One round trip, one snapshot: the total and the page agree. */
    if (!rc)
        rc = dsql_pipeline_tx(db, st, 2, out, NULL, err);
    int64_t count = 0;
    if (!rc) {
        const char *t = dsql_result_rows(out[0]) == 1 ? dsql_result_text(out[0], 0, 0) : NULL;
        if (!t || !dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &count))
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "dsql_find_and_count_all: the server sent no count");
    }
    if (!rc)
        rc = dsql__hydrate(out[1], &plan, err);
    for (int i = 0; i < 2; i++) {
        dsql__sb_free(&sql[i]);
        dsql__params_free(&p[i]);
    }
    dsql__plan_free(&count_plan);
    dsql__plan_free(&plan);
    dsql_result_free(out[0]);
    if (rc) {
        dsql_result_free(out[1]);
        return rc;
    }
    *res = out[1];
    dsql__put_ptr(rows, out[1]->rows);
    if (n)
        *n = out[1]->nrows;
    if (total)
        *total = count;
    return DSQL_OK;
}

int dsql_find_and_count_all(dsql_db *db, const dsql_model *m, const dsql_query *q, void *rows,
                            size_t *n, int64_t *total, dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_find_and_count_all",
                         find_and_count_all_call(db, m, q, rows, n, total, res, err), err);
}
