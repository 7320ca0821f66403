/*
 * The SELECT builder: one parameterized statement for a query, its includes (JOINs), its
 * order, limit and offset, and the plan the hydrator follows (which result column holds
 * which attribute of which model).
 *
 * Shapes:
 *   no include:  SELECT "a", "b" FROM "t" WHERE ... ORDER BY ... LIMIT $n OFFSET $m
 *   includes:    SELECT "t"."a", "pets"."x", ... FROM "t"
 *                LEFT OUTER JOIN "pet" AS "pets" ON "pets"."ownerId" = "t"."id" ...
 *   limit/offset with a to-many include (the limit applies to parents):
 *                SELECT ... FROM (SELECT ... FROM "t" WHERE ... ORDER BY ... LIMIT $n) AS "t"
 *                LEFT OUTER JOIN ...
 */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

typedef struct sctx {
    const dsql__select *s;
    const dsql_query *q;
    dsql__strbuf *sb;
    dsql__params *p;
    dsql__plan *plan;
    dsql_error *err;
    const char *qual; /* alias of the root when columns are qualified, else NULL */
} sctx;

static const dsql_query no_query;

void dsql__plan_free(dsql__plan *plan)
{
    dsql__arena_free(&plan->arena);
    plan->n_nodes = 0;
}

static int oom(sctx *c)
{
    return dsql_error_set(c->err, DSQL_ENOMEM, "out of memory");
}

/* ---- the include tree ---- */

static const char *join_alias(sctx *c, const char *parent, const char *name)
{
    dsql__strbuf tmp = DSQL__STRBUF_INIT;
    if (parent) {
        dsql__sb_append(&tmp, parent);
        dsql__sb_append(&tmp, "->");
    }
    dsql__sb_append(&tmp, name);
    char *s = tmp.oom ? NULL : dsql__arena_strdup(&c->plan->arena, dsql__sb_str(&tmp));
    dsql__sb_free(&tmp);
    return s;
}

static int add_includes(sctx *c, int parent, const dsql_include *incs, size_t n)
{
    dsql__plan *pl = c->plan;
    if (n && !incs)
        return dsql_error_set(c->err, DSQL_EINVAL, "%zu includes announced, none given", n);
    for (size_t i = 0; i < n; i++) {
        const dsql_include *inc = &incs[i];
        const dsql_model *pm = pl->nodes[parent].m;
        if (pl->n_nodes >= DSQL__ARRAY_LEN(pl->nodes))
            return dsql_error_set(c->err, DSQL_EINVAL, "more than %d includes in one query",
                                  DSQL__MAX_INCLUDES);
        if (!inc->assoc)
            return dsql_error_set(c->err, DSQL_EINVAL, "include #%zu of %s has no association", i,
                                  pm->name);
        dsql__node *nd = &pl->nodes[pl->n_nodes];
        memset(nd, 0, sizeof *nd);
        int rc = dsql__assoc_resolve(inc->assoc, &nd->keys, c->err);
        if (rc)
            return rc;
        const dsql_assoc *a = inc->assoc;
        if (a->source != pm)
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "include %s: the association starts at model %s, but it is "
                                  "included under model %s",
                                  a->alias, a->source->name, pm->name);
        nd->m = a->target;
        nd->assoc = a;
        nd->inc = inc;
        nd->parent = parent;
        nd->key_col = nd->match_col = -1;
        nd->alias = join_alias(c, parent ? pl->nodes[parent].alias : NULL, a->alias);
        if (!nd->alias)
            return oom(c);
        if (a->kind == DSQL_ASSOC_BELONGS_TO_MANY) {
            nd->through_alias = join_alias(c, nd->alias, a->through->table);
            if (!nd->through_alias)
                return oom(c);
        }
        for (size_t k = 0; k < pl->n_nodes; k++)
            if (!strcmp(pl->nodes[k].alias, nd->alias))
                return dsql_error_set(c->err, DSQL_EINVAL,
                                      "include %s: the same alias appears twice in the query "
                                      "(an association included twice, or named like the "
                                      "table \"%s\")",
                                      a->alias, pl->nodes[0].alias);
        int me = (int)pl->n_nodes++;
        if (dsql__assoc_to_many(a))
            for (int k = parent; k >= 0; k = pl->nodes[k].parent)
                pl->nodes[k].to_many_below = true;
        rc = add_includes(c, me, inc->include, inc->n_include);
        if (rc)
            return rc;
    }
    return DSQL_OK;
}

/* ---- columns ---- */

static int choose_columns(sctx *c)
{
    dsql__plan *pl = c->plan;
    for (size_t i = 0; i < pl->n_nodes; i++) {
        dsql__node *nd = &pl->nodes[i];
        nd->col = dsql__arena_alloc(&pl->arena, nd->m->n_attrs * sizeof(int));
        if (!nd->col)
            return oom(c);
        const dsql_attr *pk = dsql__model_pk(nd->m);
        if (nd->to_many_below && !pk)
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "model %s needs a primary key: rows of its to-many include "
                                  "are merged under it by key",
                                  nd->m->name);
        const char *const *names = i > 0 ? nd->inc->attributes : c->q->attributes;
        size_t n_names = i > 0 ? nd->inc->n_attributes : c->q->n_attributes;
        bool all = !names;
        if (i > 0 && names && !nd->m->state_offset && !c->q->read_only)
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "include %s: an attribute list gives %s rows that lack the "
                                  "other attributes, and they cannot tell dsql_save which: "
                                  "declare DSQL_ROW_STATE in model %s, or set the query's "
                                  "read_only",
                                  nd->alias, nd->m->name, nd->m->name);
        for (size_t k = 0; k < nd->m->n_attrs; k++)
            nd->col[k] = all || &nd->m->attrs[k] == pk ? 0 : -1;
        if (!all) {
            for (size_t k = 0; k < n_names; k++) {
                const dsql_attr *a;
                int rc = dsql__attr_lookup(nd->m, names[k], "attributes", &a, c->err);
                if (rc) {
                    if (i > 0)
                        dsql__err_prefix(c->err, "include %s", nd->alias);
                    return rc;
                }
                nd->col[dsql__attr_index(nd->m, a)] = 0;
            }
            if (i > 0) { /* the key that says whether a joined row matched */
                const dsql_attr *mk =
                    nd->assoc->kind == DSQL_ASSOC_HAS_ONE || nd->assoc->kind == DSQL_ASSOC_HAS_MANY
                        ? nd->keys.foreign_key
                        : nd->keys.target_key;
                nd->col[dsql__attr_index(nd->m, mk)] = 0;
            }
        }
        for (size_t k = 0; k < nd->m->n_attrs; k++)
            nd->col[k] = nd->col[k] == 0 ? pl->ncols++ : -1;
        /* The join row's own columns, for the target's through member. */
        if (i > 0 && nd->assoc->through_member) {
            const dsql_model *tm = nd->assoc->through;
            nd->through_col = dsql__arena_alloc(&pl->arena, tm->n_attrs * sizeof(int));
            if (!nd->through_col)
                return oom(c);
            for (size_t k = 0; k < tm->n_attrs; k++)
                nd->through_col[k] = pl->ncols++;
        }
        if (pk)
            nd->key_col = nd->col[dsql__attr_index(nd->m, pk)];
        if (i > 0) {
            const dsql_attr *mk =
                nd->assoc->kind == DSQL_ASSOC_HAS_ONE || nd->assoc->kind == DSQL_ASSOC_HAS_MANY
                    ? nd->keys.foreign_key
                    : nd->keys.target_key;
            nd->match_col = nd->col[dsql__attr_index(nd->m, mk)];
        }
    }
    return DSQL_OK;
}

static void select_list(sctx *c)
{
    bool first = true;
    for (size_t i = 0; i < c->plan->n_nodes; i++) {
        const dsql__node *nd = &c->plan->nodes[i];
        for (size_t k = 0; k < nd->m->n_attrs; k++) {
            if (nd->col[k] < 0)
                continue;
            if (!first)
                dsql__sb_append(c->sb, ", ");
            first = false;
            dsql__sql_column(c->sb, c->qual ? nd->alias : NULL, &nd->m->attrs[k]);
        }
        for (size_t k = 0; nd->through_col && k < nd->assoc->through->n_attrs; k++) {
            dsql__sb_append(c->sb, ", ");
            dsql__sql_column(c->sb, nd->through_alias, &nd->assoc->through->attrs[k]);
        }
    }
}

/* ---- joins ---- */

/* The condition tying node i to its parent. */
static void join_cond(sctx *c, const dsql__node *nd)
{
    const char *pa = c->plan->nodes[nd->parent].alias;
    switch (nd->assoc->kind) {
    case DSQL_ASSOC_BELONGS_TO:
        dsql__sql_column(c->sb, nd->alias, nd->keys.target_key);
        dsql__sb_append(c->sb, " = ");
        dsql__sql_column(c->sb, pa, nd->keys.foreign_key);
        break;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        dsql__sql_column(c->sb, nd->alias, nd->keys.foreign_key);
        dsql__sb_append(c->sb, " = ");
        dsql__sql_column(c->sb, pa, nd->keys.source_key);
        break;
    case DSQL_ASSOC_BELONGS_TO_MANY:
        dsql__sql_column(c->sb, nd->through_alias, nd->keys.foreign_key);
        dsql__sb_append(c->sb, " = ");
        dsql__sql_column(c->sb, pa, nd->keys.source_key);
        break;
    }
}

/* The node's table(s): "pet" AS "pets", or for belongs-to-many the join model joined to
 * the target. */
static void node_tables(sctx *c, const dsql__node *nd)
{
    if (nd->assoc->kind == DSQL_ASSOC_BELONGS_TO_MANY) {
        dsql__sql_table(c->sb, nd->assoc->through);
        dsql__sb_append(c->sb, " AS ");
        dsql__sql_ident(c->sb, nd->through_alias);
        dsql__sb_append(c->sb, " INNER JOIN ");
    }
    dsql__sql_table(c->sb, nd->m);
    dsql__sb_append(c->sb, " AS ");
    dsql__sql_ident(c->sb, nd->alias);
    if (nd->assoc->kind == DSQL_ASSOC_BELONGS_TO_MANY) {
        dsql__sb_append(c->sb, " ON ");
        dsql__sql_column(c->sb, nd->alias, nd->keys.target_key);
        dsql__sb_append(c->sb, " = ");
        dsql__sql_column(c->sb, nd->through_alias, nd->keys.other_key);
    }
}

static int include_where(sctx *c, const dsql__node *nd)
{
    if (!c->q->with_deleted)
        dsql__append_alive(c->sb, nd->m, nd->alias, " AND ", false);
    if (!nd->inc->where)
        return DSQL_OK;
    dsql__sb_append(c->sb, " AND (");
    int rc = dsql__build_where(c->sb, c->p, nd->m, nd->alias, nd->inc->where, c->err);
    if (rc) {
        dsql__err_prefix(c->err, "include %s: where", nd->alias);
        return rc;
    }
    dsql__sb_append_c(c->sb, ')');
    return DSQL_OK;
}

static bool has_children(const dsql__plan *pl, int i)
{
    for (size_t k = (size_t)i + 1; k < pl->n_nodes; k++)
        if (pl->nodes[k].parent == i)
            return true;
    return false;
}

static int emit_join(sctx *c, int i)
{
    const dsql__node *nd = &c->plan->nodes[i];
    bool group = nd->assoc->kind == DSQL_ASSOC_BELONGS_TO_MANY || has_children(c->plan, i);
    dsql__sb_append(c->sb, nd->inc->required ? " INNER JOIN " : " LEFT OUTER JOIN ");
    if (group)
        dsql__sb_append_c(c->sb, '(');
    node_tables(c, nd);
    for (size_t k = (size_t)i + 1; k < c->plan->n_nodes; k++) {
        if (c->plan->nodes[k].parent == i) {
            int rc = emit_join(c, (int)k);
            if (rc)
                return rc;
        }
    }
    if (group)
        dsql__sb_append_c(c->sb, ')');
    dsql__sb_append(c->sb, " ON ");
    join_cond(c, nd);
    return include_where(c, nd);
}

/* EXISTS (...) for a required include, so a limit on parents counts only parents that
 * the INNER JOIN keeps. */
static int emit_exists(sctx *c, int i)
{
    const dsql__node *nd = &c->plan->nodes[i];
    dsql__sb_append(c->sb, "EXISTS (SELECT 1 FROM ");
    node_tables(c, nd);
    dsql__sb_append(c->sb, " WHERE ");
    join_cond(c, nd);
    int rc = include_where(c, nd);
    for (size_t k = (size_t)i + 1; !rc && k < c->plan->n_nodes; k++) {
        if (c->plan->nodes[k].parent == i && c->plan->nodes[k].inc->required) {
            dsql__sb_append(c->sb, " AND ");
            rc = emit_exists(c, (int)k);
        }
    }
    dsql__sb_append_c(c->sb, ')');
    return rc;
}

/* ---- where, order, limit ---- */

/* The via condition of a lazy getter. */
static int via_where(sctx *c)
{
    const dsql_assoc *a = c->s->via;
    dsql__assoc_keys k;
    int rc = dsql__assoc_resolve(a, &k, c->err);
    if (rc)
        return rc;
    const dsql_attr *col, *val;
    const char *alias = c->qual;
    switch (a->kind) {
    case DSQL_ASSOC_BELONGS_TO:
        col = k.target_key;
        val = k.foreign_key;
        break;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        col = k.foreign_key;
        val = k.source_key;
        break;
    default:
        col = k.foreign_key;
        val = k.source_key;
        alias = "through";
        break;
    }
    dsql__sql_column(c->sb, alias, col);
    int n = dsql__params_add_attr(c->p, val, c->s->via_row);
    if (!n)
        return oom(c);
    dsql__sb_append_param(c->sb, " = ", n);
    return DSQL_OK;
}

static int via_join(sctx *c)
{
    const dsql_assoc *a = c->s->via;
    dsql__assoc_keys k;
    int rc = dsql__assoc_resolve(a, &k, c->err);
    if (rc)
        return rc;
    if (a->target != c->s->m)
        return dsql_error_set(c->err, DSQL_EINVAL, "association %s leads to model %s, not %s",
                              a->alias, a->target->name, c->s->m->name);
    if (a->kind != DSQL_ASSOC_BELONGS_TO_MANY)
        return DSQL_OK;
    dsql__sb_append(c->sb, " INNER JOIN ");
    dsql__sql_table(c->sb, a->through);
    dsql__sb_append(c->sb, " AS \"through\" ON ");
    dsql__sql_column(c->sb, "through", k.other_key);
    dsql__sb_append(c->sb, " = ");
    dsql__sql_column(c->sb, c->qual, k.target_key);
    return DSQL_OK;
}

static int via_join_if(sctx *c)
{
    return c->s->via ? via_join(c) : DSQL_OK;
}

/* WHERE via AND extra AND (q->where) [AND EXISTS ...]; nothing when there is no term. */
static int emit_where(sctx *c, bool exists)
{
    const char *sep = " WHERE ";
    int rc;
    if (c->s->via) {
        dsql__sb_append(c->sb, sep);
        sep = " AND ";
        if ((rc = via_where(c)))
            return rc;
    }
    const dsql_where *terms[2] = {c->s->extra, c->q->where};
    for (int t = 0; t < 2; t++) {
        if (!terms[t])
            continue;
        dsql__sb_append(c->sb, sep);
        sep = " AND ";
        dsql__sb_append_c(c->sb, '(');
        rc = dsql__build_where(c->sb, c->p, c->s->m, c->qual, terms[t], c->err);
        if (rc) {
            dsql__err_prefix(c->err, "where");
            return rc;
        }
        dsql__sb_append_c(c->sb, ')');
    }
    /* A paranoid model's rows marked deleted are not found unless asked for. */
    if (!c->q->with_deleted && dsql__append_alive(c->sb, c->s->m, c->qual, sep, false))
        sep = " AND ";
    for (size_t k = 1; exists && k < c->plan->n_nodes; k++) {
        if (c->plan->nodes[k].parent == 0 && c->plan->nodes[k].inc->required) {
            dsql__sb_append(c->sb, sep);
            sep = " AND ";
            if ((rc = emit_exists(c, (int)k)))
                return rc;
        }
    }
    return DSQL_OK;
}

static int order_term(sctx *c, const dsql__node *nd, const dsql_order *o, const char *what,
                      bool *first)
{
    const dsql_attr *a;
    int rc = dsql__attr_lookup(nd->m, o->attr, what, &a, c->err);
    if (rc)
        return rc;
    dsql__sb_append(c->sb, *first ? " ORDER BY " : ", ");
    *first = false;
    dsql__sql_column(c->sb, c->qual ? nd->alias : NULL, a);
    dsql__sb_append(c->sb, o->desc ? " DESC" : " ASC");
    if (o->nulls == DSQL_NULLS_FIRST)
        dsql__sb_append(c->sb, " NULLS FIRST");
    else if (o->nulls == DSQL_NULLS_LAST)
        dsql__sb_append(c->sb, " NULLS LAST");
    return DSQL_OK;
}

/* ORDER BY: the query's terms (root_only: those on the queried model), then each
 * include's own order. */
static int emit_order(sctx *c, bool root_only, bool includes)
{
    bool first = true;
    const dsql_query *q = c->q;
    if (q->n_order && !q->order)
        return dsql_error_set(c->err, DSQL_EINVAL, "%zu order terms announced, none given",
                              q->n_order);
    for (size_t i = 0; i < q->n_order; i++) {
        const dsql_order *o = &q->order[i];
        const dsql__node *nd = &c->plan->nodes[0];
        if (o->assoc) {
            if (root_only)
                continue;
            nd = NULL;
            for (size_t k = 1; k < c->plan->n_nodes; k++)
                if (c->plan->nodes[k].assoc == o->assoc) {
                    nd = &c->plan->nodes[k];
                    break;
                }
            if (!nd)
                return dsql_error_set(c->err, DSQL_EINVAL,
                                      "order: association %s is not included in the query",
                                      o->assoc->alias ? o->assoc->alias : "?");
        }
        int rc = order_term(c, nd, o, "order", &first);
        if (rc)
            return rc;
    }
    for (size_t k = 1; includes && k < c->plan->n_nodes; k++) {
        const dsql__node *nd = &c->plan->nodes[k];
        if (nd->inc->n_order && !nd->inc->order)
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "include %s: order terms announced, none "
                                  "given",
                                  nd->alias);
        for (size_t i = 0; i < nd->inc->n_order; i++) {
            int rc = order_term(c, nd, &nd->inc->order[i], "order", &first);
            if (rc) {
                dsql__err_prefix(c->err, "include %s", nd->alias); /* only when it failed */
                return rc;
            }
        }
    }
    return DSQL_OK;
}

static int emit_limit(sctx *c)
{
    int64_t limit = c->s->limit > 0 ? c->s->limit : c->q->limit;
    if (limit > 0) {
        int n = dsql__params_add_value(c->p, &DSQL_INT(limit));
        if (!n)
            return oom(c);
        dsql__sb_append_param(c->sb, " LIMIT ", n);
    }
    if (c->q->offset > 0) {
        int n = dsql__params_add_value(c->p, &DSQL_INT(c->q->offset));
        if (!n)
            return oom(c);
        dsql__sb_append_param(c->sb, " OFFSET ", n);
    }
    return DSQL_OK;
}

/* The root's own table; in the subquery shape, the limited parents. */
static int emit_from(sctx *c, bool subquery)
{
    const dsql_model *m = c->s->m;
    dsql__sb_append(c->sb, " FROM ");
    if (!subquery) {
        dsql__sql_table(c->sb, m);
        return via_join_if(c);
    }
    dsql__sb_append(c->sb, "(SELECT ");
    for (size_t k = 0; k < m->n_attrs; k++) {
        if (k)
            dsql__sb_append(c->sb, ", ");
        dsql__sql_column(c->sb, c->qual, &m->attrs[k]);
    }
    dsql__sb_append(c->sb, " FROM ");
    dsql__sql_table(c->sb, m);
    int rc;
    if ((rc = via_join_if(c)) || (rc = emit_where(c, true)) || (rc = emit_order(c, true, false)) ||
        (rc = emit_limit(c)))
        return rc;
    dsql__sb_append(c->sb, ") AS ");
    dsql__sql_ident(c->sb, c->qual);
    return DSQL_OK;
}

/*
 * With only to-one includes, a limit may still be applied to the parents first, in the
 * subquery shape: the result is the same whenever nothing about the includes can change
 * which parents come first (no include is required, none is ordered, no order term names
 * one), and the planner then joins a known few rows by key instead of planning the joins
 * over the whole table (it scans and materializes when a new table has no statistics).
 */
static bool limit_parents_first(const sctx *c)
{
    const dsql__plan *pl = c->plan;
    if (pl->n_nodes < 2)
        return false;
    for (size_t i = 0; c->q->order && i < c->q->n_order; i++)
        if (c->q->order[i].assoc)
            return false;
    for (size_t k = 1; k < pl->n_nodes; k++)
        if (pl->nodes[k].inc->required || pl->nodes[k].inc->n_order)
            return false;
    return true;
}

int dsql__build_select(const dsql__select *s, dsql__strbuf *sql, dsql__params *p, dsql__plan *plan,
                       dsql_error *err)
{
    dsql_error local;
    sctx c = {s, s->q ? s->q : &no_query, sql, p, plan, err ? err : &local, NULL};
    plan->n_nodes = 0;
    plan->ncols = 0;
    int rc = dsql__model_check(s->m, c.err);
    if (rc)
        return rc;
    /* The model's scopes merged in (c.q is the query itself when there are none). */
    dsql__scoped scoped;
    const dsql_query *scoped_q;
    if ((rc = dsql__scope_apply(s->m, s->q, s->count, &scoped, &scoped_q, c.err)))
        return rc;
    c.q = scoped_q ? scoped_q : &no_query;
    const dsql_query *q = c.q;
    if (q->limit < 0 || q->offset < 0 || s->limit < 0)
        return dsql_error_set(c.err, DSQL_EINVAL,
                              "limit and offset must not be negative "
                              "(limit %lld, offset %lld)",
                              (long long)q->limit, (long long)q->offset);
    if (q->n_attributes && !q->attributes)
        return dsql_error_set(c.err, DSQL_EINVAL, "%zu attributes announced, none given",
                              q->n_attributes);
    if (q->attributes && !s->m->state_offset && !q->read_only && !s->count)
        return dsql_error_set(c.err, DSQL_EINVAL,
                              "model %s: an attribute list gives rows that lack the other "
                              "attributes, and this model's rows cannot tell dsql_save which "
                              "(it would write them as NULL): declare DSQL_ROW_STATE in the "
                              "model, or set the query's read_only",
                              s->m->name);
    dsql__node *root = &plan->nodes[0];
    memset(root, 0, sizeof *root);
    root->m = s->m;
    root->parent = -1;
    root->alias = s->m->table;
    root->key_col = root->match_col = -1;
    plan->n_nodes = 1;
    if ((rc = add_includes(&c, 0, q->include, q->n_include)))
        return rc;
    bool btm_via = s->via && s->via->kind == DSQL_ASSOC_BELONGS_TO_MANY;
    c.qual = plan->n_nodes > 1 || btm_via ? s->m->table : NULL;
    if (s->count) {
        if (plan->n_nodes > 1)
            return dsql_error_set(c.err, DSQL_EINVAL, "a count takes no includes");
        if (s->count_distinct) {
            dsql__sb_append(sql, "SELECT count(DISTINCT ");
            dsql__sql_column(sql, c.qual, s->count_distinct);
            dsql__sb_append(sql, ") FROM ");
        } else {
            dsql__sb_append(sql, "SELECT count(*) FROM ");
        }
        dsql__sql_table(sql, s->m);
        if ((rc = via_join_if(&c)) || (rc = emit_where(&c, false)))
            return rc;
    } else {
        if ((rc = choose_columns(&c)))
            return rc;
        int64_t limit = s->limit > 0 ? s->limit : q->limit;
        bool subquery =
            (limit > 0 || q->offset > 0) && (root->to_many_below || limit_parents_first(&c));
        /* The subquery picks the parents a limit keeps by their own columns only; a query
         * ordered first by an included attribute would get an arbitrary set of parents
         * (dsql_find_one's own limit of 1 is left alone: with the seed's where on a key,
         * it orders the children of the one parent). */
        if (subquery && (q->limit > 0 || q->offset > 0) && q->n_order && q->order &&
            q->order[0].assoc)
            return dsql_error_set(
                c.err, DSQL_EINVAL,
                "order: the first term orders by included association %s, but a limit or "
                "offset chooses %s rows before the join, by %s's own attributes only: put an "
                "attribute of %s first, or drop the limit",
                q->order[0].assoc->alias ? q->order[0].assoc->alias : "?", s->m->name, s->m->name,
                s->m->name);
        dsql__sb_append(sql, "SELECT ");
        select_list(&c);
        if ((rc = emit_from(&c, subquery)))
            return rc;
        for (size_t k = 1; k < plan->n_nodes; k++)
            if (plan->nodes[k].parent == 0 && (rc = emit_join(&c, (int)k)))
                return rc;
        if (!subquery && (rc = emit_where(&c, false)))
            return rc;
        if ((rc = emit_order(&c, false, true)))
            return rc;
        if (!subquery && (rc = emit_limit(&c)))
            return rc;
    }
    if (p->oom)
        return dsql__params_error(p, c.err);
    if (sql->oom)
        return dsql_error_set(c.err, DSQL_ENOMEM, "out of memory");
    return DSQL_OK;
}
