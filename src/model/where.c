/* The where builder: a dsql_where tree over attribute names becomes one parameterized
 * condition. Identifiers are quoted, values are parameters, nothing is spliced. */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

#define WHERE_MAX_DEPTH 64

void dsql__sql_column(dsql__strbuf *sb, const char *alias, const dsql_attr *a)
{
    if (alias) {
        dsql__sql_ident(sb, alias);
        dsql__sb_append_c(sb, '.');
    }
    dsql__sql_ident(sb, dsql__attr_column(a));
}

typedef struct wctx {
    dsql__strbuf *sb;
    dsql__params *p;
    const dsql_model *m;
    const char *alias;
    dsql_error *err;
} wctx;

const char *dsql__op_compare_sql(dsql_op op)
{
    switch (op) {
    case DSQL_OP_EQ:
        return " = ";
    case DSQL_OP_NE:
        return " <> ";
    case DSQL_OP_LT:
        return " < ";
    case DSQL_OP_LTE:
        return " <= ";
    case DSQL_OP_GT:
        return " > ";
    case DSQL_OP_GTE:
        return " >= ";
    default:
        return NULL;
    }
}

static const char *op_sql(dsql_op op)
{
    if (op == DSQL_OP_LIKE)
        return " LIKE ";
    if (op == DSQL_OP_ILIKE)
        return " ILIKE ";
    return dsql__op_compare_sql(op);
}

static bool is_null(const dsql_value *v)
{
    return v->kind == DSQL_V_NULL || (v->kind == DSQL_V_TEXT && !v->u.s);
}

/* Appends $n for v checked against a. */
static int param(wctx *c, const dsql_attr *a, const dsql_value *v, dsql__use use)
{
    int n = dsql__params_add_checked(c->p, c->m, a, v, use, c->err);
    if (!n)
        return c->err->status;
    dsql__sb_append_param(c->sb, NULL, n);
    return DSQL_OK;
}

#define PATH_MAX_STEPS 32

/* How a value at a JSON path is compared: the SQL cast of the text ->> gives. */
static const char *json_cast(const dsql_value *v)
{
    switch (v->kind) {
    case DSQL_V_INT:
    case DSQL_V_DOUBLE:
        return "::numeric";
    case DSQL_V_BOOL:
        return "::boolean";
    case DSQL_V_TEXT:
        return "";
    default:
        return NULL;
    }
}

/* A path step: "[n]" is an array index (an integer parameter), anything else a key. */
static bool array_index(const char *step, int64_t *n)
{
    size_t len = strlen(step);
    if (len < 3 || step[0] != '[' || step[len - 1] != ']')
        return false;
    return dsql__strtoi64(step + 1, len - 2, 0, INT32_MAX, n);
}

/* ("col" -> $1::text -> $2::int ->> $3::text)[::cast] op value(s). */
static int json_leaf(wctx *c, const dsql_where *w, const dsql_attr *a)
{
    const char *m = c->m->name;
    if (a->type != DSQL_T_JSON && a->type != DSQL_T_JSONB)
        return dsql_error_set(c->err, DSQL_EINVAL,
                              "%s.%s: a path applies to a JSON or JSONB attribute", m, a->name);
    if (!w->path || w->n_path > PATH_MAX_STEPS)
        return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: a path of 1 to %d steps, given %zu", m,
                              a->name, PATH_MAX_STEPS, w->path ? w->n_path : 0);
    bool no_value = w->op == DSQL_OP_IS_NULL || w->op == DSQL_OP_NOT_NULL;
    bool list = w->op == DSQL_OP_IN || w->op == DSQL_OP_NOT_IN;
    if (w->op == DSQL_OP_BETWEEN)
        return dsql_error_set(c->err, DSQL_EINVAL,
                              "%s.%s: BETWEEN on a path: use DSQL_JSON_GTE and DSQL_JSON_LTE", m,
                              a->name);
    size_t need = no_value ? 0 : list ? w->n_values : 1;
    if (w->n_values != need || (need && !w->values) || (list && need == 0))
        return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: %zu values given for a path condition",
                              m, a->name, w->n_values);
    const char *cast = "";
    for (size_t i = 0; i < need; i++) {
        const char *ci = json_cast(&w->values[i]);
        if (!ci || is_null(&w->values[i]))
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "%s.%s: a path compares with text, a number or a bool (use "
                                  "DSQL_JSON_IS_NULL for NULL)",
                                  m, a->name);
        if (i && strcmp(ci, cast))
            return dsql_error_set(c->err, DSQL_EINVAL,
                                  "%s.%s: the values of one path condition must be of one kind", m,
                                  a->name);
        cast = ci;
    }
    if ((w->op == DSQL_OP_LIKE || w->op == DSQL_OP_ILIKE) && *cast)
        return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: LIKE on a path takes a text pattern", m,
                              a->name);
    dsql__sb_append_c(c->sb, '(');
    dsql__sql_column(c->sb, c->alias, a);
    for (size_t i = 0; i < w->n_path; i++) {
        const char *step = w->path[i];
        if (!step)
            return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: path step %zu is NULL", m, a->name,
                                  i);
        int64_t idx;
        bool is_index = array_index(step, &idx);
        dsql__sb_append(c->sb, i + 1 < w->n_path ? " -> " : " ->> ");
        dsql_value v = is_index ? DSQL_INT(idx) : DSQL_STR(step);
        dsql__sb_append_param(c->sb, NULL, dsql__params_add_value(c->p, &v));
        dsql__sb_append(c->sb, is_index ? "::int" : "::text");
    }
    dsql__sb_append_c(c->sb, ')');
    dsql__sb_append(c->sb, cast);
    if (no_value) {
        dsql__sb_append(c->sb, w->op == DSQL_OP_IS_NULL ? " IS NULL" : " IS NOT NULL");
        return DSQL_OK;
    }
    if (list) {
        dsql__sb_append(c->sb, w->op == DSQL_OP_IN ? " IN (" : " NOT IN (");
        for (size_t i = 0; i < w->n_values; i++) {
            dsql__sb_append(c->sb, i ? ", " : "");
            dsql__sb_append_param(c->sb, NULL, dsql__params_add_for(c->p, a, &w->values[i]));
        }
        dsql__sb_append_c(c->sb, ')');
        return DSQL_OK;
    }
    const char *op = op_sql(w->op);
    if (!op)
        return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: operator %d on a path", m, a->name,
                              (int)w->op);
    dsql__sb_append(c->sb, op);
    dsql__sb_append_param(c->sb, NULL, dsql__params_add_for(c->p, a, &w->values[0]));
    return DSQL_OK;
}

static int leaf(wctx *c, const dsql_where *w)
{
    const dsql_attr *a;
    int rc = dsql__attr_lookup(c->m, w->attr, NULL, &a, c->err);
    if (rc)
        return rc;
    if (w->n_path || w->path)
        return json_leaf(c, w, a);
    /* JSON has no equality operator in PostgreSQL: say so before the server does. */
    if (a->type == DSQL_T_JSON && w->op != DSQL_OP_IS_NULL && w->op != DSQL_OP_NOT_NULL)
        return dsql_error_set(c->err, DSQL_EINVAL,
                              "%s.%s: JSON values cannot be compared (use JSONB, or IS NULL)",
                              c->m->name, a->name);
    size_t need = w->op == DSQL_OP_BETWEEN                                ? 2
                  : w->op == DSQL_OP_IS_NULL || w->op == DSQL_OP_NOT_NULL ? 0
                  : w->op == DSQL_OP_IN || w->op == DSQL_OP_NOT_IN        ? w->n_values
                                                                          : 1;
    if ((w->op == DSQL_OP_IN || w->op == DSQL_OP_NOT_IN) && w->n_values == 0) {
        /* An empty list: IN matches no row, NOT IN every row (as in SQL and Sequelize). */
        dsql__sb_append(c->sb, w->op == DSQL_OP_IN ? "FALSE" : "TRUE");
        return DSQL_OK;
    }
    if (w->n_values != need || (need && !w->values))
        return dsql_error_set(c->err, DSQL_EINVAL,
                              "%s.%s: %zu values given, the operator needs %zu", c->m->name,
                              a->name, w->n_values, need);
    dsql__sql_column(c->sb, c->alias, a);
    switch (w->op) {
    case DSQL_OP_IS_NULL:
        dsql__sb_append(c->sb, " IS NULL");
        return DSQL_OK;
    case DSQL_OP_NOT_NULL:
        dsql__sb_append(c->sb, " IS NOT NULL");
        return DSQL_OK;
    case DSQL_OP_BETWEEN:
        if (is_null(&w->values[0]) || is_null(&w->values[1]))
            return dsql_error_set(c->err, DSQL_EINVAL, "%s.%s: NULL bound in BETWEEN", c->m->name,
                                  a->name);
        dsql__sb_append(c->sb, " BETWEEN ");
        rc = param(c, a, &w->values[0], DSQL__USE_COMPARE);
        if (rc)
            return rc;
        dsql__sb_append(c->sb, " AND ");
        return param(c, a, &w->values[1], DSQL__USE_COMPARE);
    case DSQL_OP_IN:
    case DSQL_OP_NOT_IN:
        dsql__sb_append(c->sb, w->op == DSQL_OP_IN ? " IN (" : " NOT IN (");
        for (size_t i = 0; i < w->n_values; i++) {
            if (is_null(&w->values[i]))
                return dsql_error_set(c->err, DSQL_EINVAL,
                                      "%s.%s: NULL in an IN list never matches (use "
                                      "DSQL_IS_NULL)",
                                      c->m->name, a->name);
            if (i)
                dsql__sb_append(c->sb, ", ");
            rc = param(c, a, &w->values[i], DSQL__USE_COMPARE);
            if (rc)
                return rc;
        }
        dsql__sb_append_c(c->sb, ')');
        return DSQL_OK;
    default:
        break;
    }
    if (is_null(&w->values[0])) {
        if (w->op == DSQL_OP_EQ || w->op == DSQL_OP_NE) {
            dsql__sb_append(c->sb, w->op == DSQL_OP_EQ ? " IS NULL" : " IS NOT NULL");
            return DSQL_OK;
        }
        return dsql_error_set(c->err, DSQL_EINVAL,
                              "%s.%s: NULL compared with%s(use DSQL_IS_NULL / DSQL_NOT_NULL)",
                              c->m->name, a->name, op_sql(w->op));
    }
    dsql__sb_append(c->sb, op_sql(w->op));
    return param(c, a, &w->values[0],
                 w->op == DSQL_OP_LIKE || w->op == DSQL_OP_ILIKE ? DSQL__USE_PATTERN
                                                                 : DSQL__USE_COMPARE);
}

static int node(wctx *c, const dsql_where *w, int depth, bool top)
{
    if (!w)
        return dsql_error_set(c->err, DSQL_EINVAL, "a condition is NULL");
    if (depth > WHERE_MAX_DEPTH)
        return dsql_error_set(c->err, DSQL_EINVAL, "conditions nested deeper than %d (a cycle?)",
                              WHERE_MAX_DEPTH);
    switch (w->op) {
    case DSQL_OP_AND:
    case DSQL_OP_OR: {
        bool and = w->op == DSQL_OP_AND;
        if (w->n_children == 0) {
            dsql__sb_append(c->sb, and? "TRUE" : "FALSE");
            return DSQL_OK;
        }
        if (!w->children)
            return dsql_error_set(c->err, DSQL_EINVAL, "%s with %zu children but none given",
                                  and? "AND" : "OR", w->n_children);
        bool parens = !top && w->n_children > 1;
        if (parens)
            dsql__sb_append_c(c->sb, '(');
        for (size_t i = 0; i < w->n_children; i++) {
            if (i)
                dsql__sb_append(c->sb, and? " AND " : " OR ");
            /* An OR inside an AND (and the reverse) keeps its own parentheses. */
            int rc = node(c, w->children[i], depth + 1, w->n_children == 1 && top);
            if (rc)
                return rc;
        }
        if (parens)
            dsql__sb_append_c(c->sb, ')');
        return DSQL_OK;
    }
    case DSQL_OP_NOT:
        if (w->n_children != 1 || !w->children)
            return dsql_error_set(c->err, DSQL_EINVAL, "NOT needs exactly one condition");
        dsql__sb_append(c->sb, "NOT (");
        int rc = node(c, w->children[0], depth + 1, true);
        dsql__sb_append_c(c->sb, ')');
        return rc;
    case DSQL_OP_EQ:
    case DSQL_OP_NE:
    case DSQL_OP_LT:
    case DSQL_OP_LTE:
    case DSQL_OP_GT:
    case DSQL_OP_GTE:
    case DSQL_OP_IN:
    case DSQL_OP_NOT_IN:
    case DSQL_OP_LIKE:
    case DSQL_OP_ILIKE:
    case DSQL_OP_IS_NULL:
    case DSQL_OP_NOT_NULL:
    case DSQL_OP_BETWEEN:
        return leaf(c, w);
    }
    return dsql_error_set(c->err, DSQL_EINVAL, "unknown operator %d", (int)w->op);
}

int dsql__build_where(dsql__strbuf *sb, dsql__params *p, const dsql_model *m, const char *alias,
                      const dsql_where *w, dsql_error *err)
{
    dsql_error local;
    wctx c = {sb, p, m, alias, err ? err : &local};
    int rc = node(&c, w, 0, true);
    if (rc)
        return rc;
    if (p->oom)
        return dsql__params_error(p, err);
    if (sb->oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return DSQL_OK;
}
