/* dsql_find_or_create: find the row, or create it — safely under optimistic concurrency,
 * without PL/pgSQL. The find and the insert run in one retried transaction, so two
 * callers racing to create the same (unique) row converge: the loser's transaction
 * conflicts (OC000 / 40001) or violates the unique key, and its retry finds the row.
 * The row created is the defaults with the where's equalities put in (Sequelize's rule),
 * so the row created is one the where finds. */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* Puts value v into the row's member for a. Text and bytes point at the caller's values
 * (valid for the call); numbers are rendered into arena, then decoded as the server's text
 * would be. */
static int set_member(const dsql_model *m, const dsql_attr *a, void *row, const dsql_value *v,
                      dsql__arena *arena, dsql_error *err)
{
    if (v->kind == DSQL_V_NULL || (v->kind == DSQL_V_TEXT && !v->u.s)) {
        dsql__attr_set_null(a, row);
        return DSQL_OK;
    }
    if (v->kind == DSQL_V_BYTES || a->type == DSQL_T_BYTEA) {
        /* Text compared with a BYTEA is its bytes (as the where sends it), never the
         * server's escaped text form. */
        dsql_bytes *b = DSQL__MEMBER(row, a);
        bool text = v->kind == DSQL_V_TEXT;
        b->data = (unsigned char *)(uintptr_t)(text ? (const void *)v->u.s : v->u.bytes.data);
        b->len = text ? strlen(v->u.s) : v->u.bytes.len;
        return DSQL_OK;
    }
    char num[40];
    const char *text = num;
    switch (v->kind) {
    case DSQL_V_INT:
        dsql__i64toa(v->u.i, num);
        break;
    case DSQL_V_DOUBLE:
        dsql__dtoa(v->u.d, num, sizeof num);
        break;
    case DSQL_V_BOOL:
        strcpy(num, v->u.b ? "t" : "f");
        break;
    default:
        text = v->u.s;
        break;
    }
    if (text == num && !(text = dsql__arena_strdup(arena, num)))
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return dsql__attr_decode(m, a, row, text, strlen(text), arena, err);
}

/* Applies every equality of where that Sequelize would put into the created row: EQ
 * conditions (and IS NULL, an equality with NULL) at the top level or under ANDs (not under
 * OR or NOT). A value of the wrong kind is the where's error, as the find would report it. */
static int apply_equalities(const dsql_model *m, const dsql_where *w, void *row, dsql__arena *arena,
                            int depth, dsql_error *err)
{
    if (!w || depth > 64)
        return DSQL_OK;
    if (w->op == DSQL_OP_AND) {
        for (size_t i = 0; i < w->n_children; i++) {
            int rc = apply_equalities(m, w->children[i], row, arena, depth + 1, err);
            if (rc)
                return rc;
        }
        return DSQL_OK;
    }
    bool is_null = w->op == DSQL_OP_IS_NULL;
    if (w->n_path || (!is_null && (w->op != DSQL_OP_EQ || w->n_values != 1 || !w->values)))
        return DSQL_OK; /* a condition inside a JSON value sets no attribute */
    const dsql_value *v = is_null ? &DSQL_NULL : &w->values[0];
    const dsql_attr *a = NULL;
    int rc = dsql__attr_lookup(m, w->attr, "dsql_find_or_create: where", &a, err);
    if (rc)
        return rc;
    if ((rc = dsql__value_check(m, a, v, DSQL__USE_COMPARE, err))) {
        dsql__err_prefix(err, "dsql_find_or_create: where");
        return rc;
    }
    rc = set_member(m, a, row, v, arena, err);
    if (rc)
        dsql__err_prefix(err, "dsql_find_or_create: putting the where's %s into the new row",
                         a ? a->name : "value");
    return rc;
}

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
    int rc = dsql__find(dsql_conn_db(conn),
                        &(dsql__select){.m = f->m, .extra = f->where, .limit = 1}, &f->res, err);
    if (rc || f->res->nrows > 0)
        return rc;
    dsql_result_free(f->res);
    f->res = NULL;
    if ((rc = dsql__tx_reserve(dsql_conn_db(conn), 1, "dsql_find_or_create", f->m, err)))
        return rc;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    dsql__build_insert(&sql, &p, f->m, f->defaults, 1, NULL, true);
    rc = dsql__run(dsql_conn_db(conn), &sql, &p, &pg, err);
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

static int find_or_create_call(dsql_db *db, const dsql_model *m, const dsql_where *where,
                               void *defaults, void *row, dsql_result **res, bool *created,
                               dsql_error *err)
{
    if (row)
        dsql__put_ptr(row, NULL);
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
    /* The row to create: the defaults with the where's equalities put in. */
    void *fresh = malloc(m->struct_size);
    dsql__arena arena = DSQL__ARENA_INIT;
    if (!fresh)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    memcpy(fresh, defaults, m->struct_size);
    rc = apply_equalities(m, where, fresh, &arena, 0, err);
    if (!rc)
        rc = dsql__validate_insert(m, fresh, err);
    /* The common case, the row exists, costs one round trip. */
    if (!rc)
        rc = find_first(db, m, where, res, err);
    /* Not found: the create's before hooks see (and may change) the row to create. */
    dsql_hook h = {.row = fresh};
    if (!rc && !*res && m->hook &&
        !(rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_CREATE, &h, err)) &&
        !(rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_SAVE, &h, err)))
        rc = dsql__validate_insert(m, fresh, err);
    if (!rc && !*res) {
        foc f = {m, where, fresh, NULL, false};
        dsql_error e = DSQL_ERROR_INIT;
        rc = dsql__db_transaction(db, foc_body, &f, &e);
        if (rc) {
            dsql_result_free(f.res);
            f.res = NULL;
            /* A unique violation: someone else created it first; it is there now. */
            if (rc == DSQL_ECONSTRAINT && !strcmp(e.sqlstate, "23505") &&
                find_first(db, m, where, &f.res, NULL) == DSQL_OK && f.res)
                rc = DSQL_OK;
            if (rc && err)
                *err = e;
        }
        if (!rc) {
            *res = f.res;
            if (created)
                *created = f.created;
            if (f.created && m->hook) {
                h = (dsql_hook){.row = f.res->rows};
                dsql__hook_call(m, db, DSQL_HOOK_AFTER_CREATE, &h, NULL);
                dsql__hook_call(m, db, DSQL_HOOK_AFTER_SAVE, &h, NULL);
            }
        }
    }
    free(fresh);
    dsql__arena_free(&arena);
    if (rc)
        return rc;
    if (row)
        dsql__put_ptr(row, (*res)->rows);
    return DSQL_OK;
}

int dsql_find_or_create(dsql_db *db, const dsql_model *m, const dsql_where *where, void *defaults,
                        void *row, dsql_result **res, bool *created, dsql_error *err)
{
    return dsql__api_ret("dsql_find_or_create",
                         find_or_create_call(db, m, where, defaults, row, res, created, err), err);
}
