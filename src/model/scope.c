/* Scopes: a model's named query parts merged into a find's query before it is built. */
#include <string.h>

#include "model/internal.h"

int dsql__scopes_declared(const dsql_model *m, dsql_error *err)
{
    if (m->n_scopes && !m->scopes)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: %zu scopes announced, none given (declare them with "
                              "DSQL_SCOPES)",
                              m->name, m->n_scopes);
    for (size_t i = 0; i < m->n_scopes; i++) {
        const dsql_scope *s = &m->scopes[i];
        if (!s->name || !*s->name)
            return dsql_error_set(err, DSQL_EINVAL, "model %s: scope #%zu has no name", m->name, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->scopes[j].name, s->name))
                return dsql_error_set(err, DSQL_EINVAL, "model %s: scope \"%s\" is declared twice",
                                      m->name, s->name);
        if ((s->n_order && !s->order) || (s->n_attributes && !s->attributes) ||
            (s->n_include && !s->include))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: scope \"%s\" announces an order, attributes or "
                                  "includes it does not give",
                                  m->name, s->name);
        if (s->limit < 0)
            return dsql_error_set(err, DSQL_EINVAL, "model %s: scope \"%s\" has a negative limit",
                                  m->name, s->name);
    }
    return DSQL_OK;
}

static const dsql_scope *find_scope(const dsql_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_scopes; i++)
        if (!strcmp(m->scopes[i].name, name))
            return &m->scopes[i];
    return NULL;
}

/* Merges one scope into the query being built. */
static int merge(dsql__scoped *s, size_t *n_where, size_t *n_inc, const dsql_model *m,
                 const dsql_scope *sc, bool count, dsql_error *err)
{
    if (sc->where)
        s->wheres[(*n_where)++] = sc->where;
    if (count)
        return DSQL_OK;
    if (*n_inc + sc->n_include > DSQL__MAX_INCLUDES)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: scope \"%s\": more than %d includes in all", m->name,
                              sc->name, DSQL__MAX_INCLUDES);
    for (size_t i = 0; i < sc->n_include; i++)
        s->inc[(*n_inc)++] = sc->include[i];
    if (sc->n_order) {
        s->q.order = sc->order;
        s->q.n_order = sc->n_order;
    }
    if (sc->attributes) {
        s->q.attributes = sc->attributes;
        s->q.n_attributes = sc->n_attributes;
    }
    if (sc->limit)
        s->q.limit = sc->limit;
    return DSQL_OK;
}

int dsql__scope_apply(const dsql_model *m, const dsql_query *q, bool count, dsql__scoped *s,
                      const dsql_query **out, dsql_error *err)
{
    static const dsql_query none;
    *out = q;
    const dsql_query *in = q ? q : &none;
    const dsql_scope *dflt = in->unscoped ? NULL : find_scope(m, DSQL_DEFAULT_SCOPE);
    if (!dflt && in->n_scopes == 0)
        return DSQL_OK;
    if (in->n_scopes && !in->scopes)
        return dsql_error_set(err, DSQL_EINVAL, "%zu scopes announced, none given", in->n_scopes);
    if (in->n_scopes + (dflt != NULL) > DSQL__SCOPES_MAX)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: more than %d scopes on one query",
                              m->name, DSQL__SCOPES_MAX);
    memset(s, 0, sizeof *s);
    size_t n_where = 0, n_inc = 0;
    int rc = dflt ? merge(s, &n_where, &n_inc, m, dflt, count, err) : DSQL_OK;
    for (size_t i = 0; !rc && i < in->n_scopes; i++) {
        const dsql_scope *sc = in->scopes[i] ? find_scope(m, in->scopes[i]) : NULL;
        if (!sc)
            return dsql_error_set(err, DSQL_EINVAL, "model %s has no scope \"%s\"", m->name,
                                  in->scopes[i] ? in->scopes[i] : "(null)");
        rc = merge(s, &n_where, &n_inc, m, sc, count, err);
    }
    if (rc)
        return rc;
    /* The query's own parts win over the scopes'. */
    if (in->where)
        s->wheres[n_where++] = in->where;
    if (n_where == 1) {
        s->q.where = s->wheres[0];
    } else if (n_where > 1) {
        s->and_node = (dsql_where){.op = DSQL_OP_AND, .children = s->wheres, .n_children = n_where};
        s->q.where = &s->and_node;
    }
    if (!count) {
        if (n_inc + in->n_include > DSQL__MAX_INCLUDES)
            return dsql_error_set(err, DSQL_EINVAL, "model %s: more than %d includes in all",
                                  m->name, DSQL__MAX_INCLUDES);
        for (size_t i = 0; in->include && i < in->n_include; i++)
            s->inc[n_inc++] = in->include[i];
        s->q.include = n_inc ? s->inc : NULL;
        s->q.n_include = n_inc;
        if (in->n_order) {
            s->q.order = in->order;
            s->q.n_order = in->n_order;
        }
        if (in->attributes || in->n_attributes) {
            s->q.attributes = in->attributes;
            s->q.n_attributes = in->n_attributes;
        }
        if (in->limit)
            s->q.limit = in->limit;
    }
    s->q.offset = in->offset;
    s->q.read_only = in->read_only;
    s->q.with_deleted = in->with_deleted;
    *out = &s->q;
    return DSQL_OK;
}
