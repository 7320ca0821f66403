/* CRUD on one model: create, find all / one / by primary key, count, update, save. Every
 * call is one statement (one round trip) through dsql__run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- defaults and insert validation ---- */

void dsql__fill_defaults(const dsql_model *m, void *row)
{
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        if (!dsql__attr_is_null(a, row))
            continue;
        void *p = DSQL__MEMBER(row, a);
        const dsql_value *d = &a->default_value;
        if (a->default_uuid_v4) {
            dsql_uuid_v4(p);
            continue;
        }
        if (d->kind == DSQL_V_NULL)
            continue;
        switch (a->type) {
        case DSQL_T_UUID:
            dsql_uuid_parse(d->u.s, p, NULL);
            break;
        case DSQL_T_SMALLINT:
            *(int16_t *)p = (int16_t)d->u.i;
            break;
        case DSQL_T_INTEGER:
            *(int32_t *)p = (int32_t)d->u.i;
            break;
        case DSQL_T_BIGINT:
            *(int64_t *)p = d->u.i;
            break;
        case DSQL_T_REAL:
            *(float *)p = (float)(d->kind == DSQL_V_INT ? (double)d->u.i : d->u.d);
            break;
        case DSQL_T_DOUBLE:
            *(double *)p = d->kind == DSQL_V_INT ? (double)d->u.i : d->u.d;
            break;
        case DSQL_T_BOOLEAN:
            *(bool *)p = d->u.b;
            break;
        default:
            if (dsql__type_is_text(a->type))
                *(char **)p = (char *)d->u.s; /* the descriptor's constant */
            break;
        }
        if (a->has_offset)
            *((bool *)((char *)row + a->has_offset - 1)) = true;
    }
}

int dsql__validate_insert(const dsql_model *m, const void *row, dsql_error *err)
{
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        if (a->timestamp || a->version) /* written by the library: the member is not sent */
            continue;
        int rc = dsql__validate_attr(m, a, row, a->default_sql != NULL, err);
        if (rc)
            return rc;
    }
    return dsql__checks_row(m, row, err);
}

/* ---- shared pieces ---- */

static int check_db(dsql_db *db, const char *fn, dsql_error *err)
{
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is NULL", fn);
    return DSQL_OK;
}

/* Runs a built statement and wraps its result. */
static int run_result(dsql_db *db, const dsql__strbuf *sql, const dsql__params *p,
                      dsql_result **out, dsql_error *err)
{
    PGresult *pg = NULL;
    int rc = dsql__run(db, sql, p, &pg, err);
    if (rc)
        return rc;
    *out = dsql__result_new(pg);
    return *out ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

int dsql__find(dsql_db *db, const dsql__select *s, dsql_result **out, dsql_error *err)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__plan plan = DSQL__PLAN_INIT;
    dsql_result *res = NULL;
    *out = NULL;
    int rc = dsql__build_select(s, &sql, &p, &plan, err);
    if (!rc)
        rc = run_result(db, &sql, &p, &res, err);
    if (!rc)
        rc = dsql__hydrate(res, &plan, err);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    dsql__plan_free(&plan);
    if (rc) {
        dsql_result_free(res);
        return rc;
    }
    *out = res;
    return DSQL_OK;
}

/* ---- create ---- */

/* ---- kept timestamps ---- */

void dsql__append_touch(dsql__strbuf *sql, const dsql_model *m, bool first)
{
    for (size_t k = 0; k < m->n_attrs; k++) {
        const dsql_attr *a = &m->attrs[k];
        if (a->timestamp != DSQL__TS_UPDATED && !a->version)
            continue;
        if (!first)
            dsql__sb_append(sql, ", ");
        first = false;
        dsql__sql_ident(sql, dsql__attr_column(a));
        if (a->version) {
            /* the row's own column, also where an INSERT's EXCLUDED row is in scope */
            dsql__sb_append(sql, " = ");
            dsql__sql_table(sql, m);
            dsql__sb_append_c(sql, '.');
            dsql__sql_ident(sql, dsql__attr_column(a));
            dsql__sb_append(sql, " + 1");
        } else {
            dsql__sb_append(sql, " = now()");
        }
    }
}

/* ---- ON CONFLICT ---- */

/* True when attrs (n names) are exactly the attribute set of a unique key of m: the
 * primary key, a unique attribute, or a unique index. */
static bool unique_key(const dsql_model *m, const char *const *attrs, size_t n)
{
    const dsql_attr *first = dsql__model_attr(m, attrs[0]);
    if (n == 1 && first && (first->primary_key || first->unique))
        return true;
    for (size_t i = 0; i < m->n_indexes; i++) {
        const dsql_index *ix = &m->indexes[i];
        if (!ix->unique || ix->n_attrs != n)
            continue;
        size_t found = 0;
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; j < n; j++)
                if (dsql__model_attr(m, attrs[k]) == dsql__model_attr(m, ix->attrs[j])) {
                    found++;
                    break;
                }
        if (found == n)
            return true;
    }
    return false;
}

static bool in_target(const dsql_model *m, const dsql_conflict *c, const dsql_attr *a)
{
    if (!c->target)
        return a->primary_key;
    for (size_t i = 0; i < c->n_target; i++)
        if (dsql__model_attr(m, c->target[i]) == a)
            return true;
    return false;
}

int dsql__conflict_check(const dsql_model *m, const dsql_conflict *c, const char *fn,
                         dsql_error *err)
{
    if (c->action != DSQL_CONFLICT_ERROR && c->action != DSQL_CONFLICT_IGNORE &&
        c->action != DSQL_CONFLICT_UPDATE)
        return dsql_error_set(err, DSQL_EINVAL, "%s: %s: unknown conflict action %d", fn, m->name,
                              (int)c->action);
    if ((c->n_target && !c->target) || (c->n_update && !c->update))
        return dsql_error_set(err, DSQL_EINVAL, "%s: %s: conflict %s announced, none given", fn,
                              m->name, c->n_target && !c->target ? "target" : "update list");
    for (size_t i = 0; i < c->n_target; i++) {
        const dsql_attr *a;
        int rc = dsql__attr_lookup(m, c->target[i], "conflict target", &a, err);
        if (rc)
            return rc;
    }
    if (c->target && c->n_target && !unique_key(m, c->target, c->n_target))
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: the conflict target is not a unique key of the model (its "
                              "primary key, a unique attribute, or all the attributes of a "
                              "unique index)",
                              fn, m->name);
    if (c->action == DSQL_CONFLICT_UPDATE && !c->target && !dsql__model_pk(m))
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: the model has no primary key; name the unique key "
                              "conflicts are on (conflict target)",
                              fn, m->name);
    size_t updated = 0;
    for (size_t i = 0; i < c->n_update; i++) {
        const dsql_attr *a;
        int rc = dsql__attr_lookup(m, c->update[i], "conflict update", &a, err);
        if (rc)
            return rc;
        if (in_target(m, c, a))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: %s.%s: in the conflict target, so it cannot be updated on "
                                  "conflict",
                                  fn, m->name, a->name);
        if (a->timestamp || a->version)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: %s.%s: a kept %s is written by the library", fn, m->name,
                                  a->name, a->version ? "version" : "timestamp");
        updated++;
    }
    if (c->action == DSQL_CONFLICT_UPDATE && !c->update)
        for (size_t k = 0; k < m->n_attrs; k++)
            updated +=
                !in_target(m, c, &m->attrs[k]) && !m->attrs[k].timestamp && !m->attrs[k].version;
    if (c->action == DSQL_CONFLICT_UPDATE && updated == 0)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: nothing to update on conflict (every attribute is in the "
                              "conflict target); use DSQL_CONFLICT_IGNORE",
                              fn, m->name);
    return DSQL_OK;
}

/* " ON CONFLICT [(target)] DO NOTHING | DO UPDATE SET col = EXCLUDED.col, ..." */
static void append_conflict(dsql__strbuf *sql, const dsql_model *m, const dsql_conflict *c)
{
    dsql__sb_append(sql, " ON CONFLICT");
    bool named = c->target && c->n_target;
    if (named || c->action == DSQL_CONFLICT_UPDATE) {
        dsql__sb_append(sql, " (");
        size_t k = 0;
        for (size_t i = 0; i < m->n_attrs; i++)
            if (in_target(m, c, &m->attrs[i])) {
                if (k++)
                    dsql__sb_append(sql, ", ");
                dsql__sql_ident(sql, dsql__attr_column(&m->attrs[i]));
            }
        dsql__sb_append_c(sql, ')');
    }
    if (c->action == DSQL_CONFLICT_IGNORE) {
        dsql__sb_append(sql, " DO NOTHING");
        return;
    }
    dsql__sb_append(sql, " DO UPDATE SET ");
    size_t k = 0;
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        bool take = false;
        if (a->timestamp || a->version) {
            take = false; /* kept: appended below (the creation time stays) */
        } else if (c->update) {
            for (size_t j = 0; j < c->n_update && !take; j++)
                take = dsql__model_attr(m, c->update[j]) == a;
        } else {
            take = !in_target(m, c, a);
        }
        if (!take)
            continue;
        if (k++)
            dsql__sb_append(sql, ", ");
        dsql__sql_ident(sql, dsql__attr_column(a));
        dsql__sb_append(sql, " = EXCLUDED.");
        dsql__sql_ident(sql, dsql__attr_column(a));
    }
    const dsql_attr *del = dsql__deleted_attr(m);
    if (del) { /* the row upserted exists again */
        if (k++)
            dsql__sb_append(sql, ", ");
        dsql__sql_ident(sql, dsql__attr_column(del));
        dsql__sb_append(sql, " = NULL");
    }
    dsql__append_touch(sql, m, k == 0);
}

/* INSERT INTO t (cols) VALUES (...), (...) for rows [0, n) of an array. */
void dsql__build_insert(dsql__strbuf *sql, dsql__params *p, const dsql_model *m, const void *rows,
                        size_t n, const dsql_conflict *conflict, bool returning)
{
    dsql__sb_append(sql, "INSERT INTO ");
    dsql__sql_table(sql, m);
    dsql__sb_append(sql, " (");
    for (size_t k = 0; k < m->n_attrs; k++) {
        if (k)
            dsql__sb_append(sql, ", ");
        dsql__sql_ident(sql, dsql__attr_column(&m->attrs[k]));
    }
    dsql__sb_append(sql, ") VALUES ");
    for (size_t r = 0; r < n; r++) {
        const char *row = (const char *)rows + r * m->struct_size;
        dsql__sb_append(sql, r ? ", (" : "(");
        for (size_t k = 0; k < m->n_attrs; k++) {
            const dsql_attr *a = &m->attrs[k];
            if (k)
                dsql__sb_append(sql, ", ");
            if (a->timestamp == DSQL__TS_DELETED)
                dsql__sb_append(sql, "NULL");
            else if (a->timestamp)
                dsql__sb_append(sql, "now()");
            else if (a->version)
                dsql__sb_append(sql, "0");
            else if (a->default_sql && dsql__attr_is_null(a, row))
                dsql__sb_append(sql, "DEFAULT");
            else
                dsql__sb_append_param(sql, NULL, dsql__params_add_attr(p, a, row));
        }
        dsql__sb_append_c(sql, ')');
    }
    if (conflict && conflict->action != DSQL_CONFLICT_ERROR)
        append_conflict(sql, m, conflict);
    if (returning) {
        dsql__sb_append(sql, " RETURNING ");
        for (size_t k = 0; k < m->n_attrs; k++) {
            if (k)
                dsql__sb_append(sql, ", ");
            dsql__sql_ident(sql, dsql__attr_column(&m->attrs[k]));
        }
    }
}

static int create_call(dsql_db *db, const dsql_model *m, void *row, dsql_result **stored,
                       dsql_error *err)
{
    if (stored)
        *stored = NULL;
    int rc = dsql__model_check(m, err);
    if (rc || (rc = check_db(db, "dsql_create", err)))
        return rc;
    if (!row)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_create: %s row is NULL", m->name);
    dsql__fill_defaults(m, row);
    dsql_hook h = {.row = row};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_CREATE, &h, err)) ||
        (rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_SAVE, &h, err)) ||
        (rc = dsql__validate_insert(m, row, err)) ||
        (rc = dsql__tx_reserve(db, 1, "dsql_create", m, err)))
        return rc;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__build_insert(&sql, &p, m, row, 1, NULL, stored != NULL);
    dsql_result *res = NULL;
    if (stored) {
        rc = run_result(db, &sql, &p, &res, err);
        if (!rc) {
            dsql__plan plan = DSQL__PLAN_INIT;
            dsql__plan_model(&plan, m);
            rc = dsql__hydrate(res, &plan, err);
            dsql__plan_free(&plan);
        }
    } else {
        rc = dsql__run(db, &sql, &p, NULL, err);
    }
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (rc) {
        dsql_result_free(res);
        return rc;
    }
    if (m->hook) {
        size_t n = 0;
        void *as_stored = res ? dsql_result_models(res, &n) : NULL;
        h = (dsql_hook){.row = n == 1 ? as_stored : row};
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_CREATE, &h, NULL);
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_SAVE, &h, NULL);
    }
    if (stored)
        *stored = res;
    return DSQL_OK;
}

int dsql_create(dsql_db *db, const dsql_model *m, void *row, dsql_result **stored, dsql_error *err)
{
    return dsql__api_ret("dsql_create", create_call(db, m, row, stored, err), err);
}

/* " RETURNING" every attribute's column, in declaration order (dsql__plan_model's). */
void dsql__append_returning(dsql__strbuf *sql, const dsql_model *m)
{
    dsql__sb_append(sql, " RETURNING ");
    for (size_t k = 0; k < m->n_attrs; k++) {
        if (k)
            dsql__sb_append(sql, ", ");
        dsql__sql_ident(sql, dsql__attr_column(&m->attrs[k]));
    }
}

/* A RETURNING result as m's rows (takes pg). */
int dsql__hydrated(PGresult *pg, const dsql_model *m, dsql_result **res, dsql_error *err)
{
    *res = dsql__result_new(pg);
    if (!*res) {
        PQclear(pg);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    dsql__plan plan = DSQL__PLAN_INIT;
    dsql__plan_model(&plan, m);
    int rc = dsql__hydrate(*res, &plan, err);
    dsql__plan_free(&plan);
    return rc;
}

static int upsert_call(dsql_db *db, const dsql_model *m, void *row, const dsql_conflict *c,
                       dsql_result **stored, dsql_error *err)
{
    if (stored)
        *stored = NULL;
    int rc = dsql__model_check(m, err);
    if (rc || (rc = check_db(db, "dsql_upsert", err)))
        return rc;
    if (!row)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_upsert: %s row is NULL", m->name);
    dsql_conflict dflt = {.action = DSQL_CONFLICT_UPDATE};
    if (!c)
        c = &dflt;
    if (c->action != DSQL_CONFLICT_UPDATE && c->action != DSQL_CONFLICT_IGNORE)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_upsert: %s: the conflict action must be DSQL_CONFLICT_UPDATE "
                              "or DSQL_CONFLICT_IGNORE",
                              m->name);
    if ((rc = dsql__conflict_check(m, c, "dsql_upsert", err)))
        return rc;
    dsql__fill_defaults(m, row);
    dsql_hook h = {.row = row};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_UPSERT, &h, err)) ||
        (rc = dsql__validate_insert(m, row, err)) ||
        (rc = dsql__tx_reserve(db, 1, "dsql_upsert", m, err)))
        return rc;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__build_insert(&sql, &p, m, row, 1, c, stored != NULL);
    PGresult *pg = NULL;
    rc = dsql__run(db, &sql, &p, stored ? &pg : NULL, err);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (!rc && stored)
        rc = dsql__hydrated(pg, m, stored, err);
    if (rc && stored) {
        dsql_result_free(*stored);
        *stored = NULL;
    }
    if (!rc && m->hook) {
        size_t n = 0;
        void *as_stored = stored ? dsql_result_models(*stored, &n) : NULL;
        h = (dsql_hook){.row = n == 1 ? as_stored : row};
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_UPSERT, &h, NULL);
    }
    return rc;
}

int dsql_upsert(dsql_db *db, const dsql_model *m, void *row, const dsql_conflict *c,
                dsql_result **stored, dsql_error *err)
{
    return dsql__api_ret("dsql_upsert", upsert_call(db, m, row, c, stored, err), err);
}

/* ---- find ---- */

static int find_all_call(dsql_db *db, const dsql_model *m, const dsql_query *q, void *rows,
                         size_t *n, dsql_result **res, dsql_error *err)
{
    if (rows)
        dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_all: res is NULL (it owns the rows)");
    *res = NULL;
    int rc = check_db(db, "dsql_find_all", err);
    if (rc || (rc = dsql__find(db, &(dsql__select){.m = m, .q = q}, res, err)))
        return rc;
    if (rows)
        dsql__put_ptr(rows, (*res)->rows);
    if (n)
        *n = (*res)->nrows;
    return DSQL_OK;
}

int dsql_find_all(dsql_db *db, const dsql_model *m, const dsql_query *q, void *rows, size_t *n,
                  dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_find_all", find_all_call(db, m, q, rows, n, res, err), err);
}

/* The first row of a find, or DSQL_ENOTFOUND (with *res freed). */
static int first_row(const dsql_model *m, void *row, dsql_result **res, const char *what,
                     dsql_error *err)
{
    if ((*res)->nrows == 0) {
        dsql_result_free(*res);
        *res = NULL;
        return dsql_error_set(err, DSQL_ENOTFOUND, "%s: no row %s", m->name, what);
    }
    if (row)
        dsql__put_ptr(row, (*res)->rows);
    return DSQL_OK;
}

static int find_one_call(dsql_db *db, const dsql_model *m, const dsql_query *q, void *row,
                         dsql_result **res, dsql_error *err)
{
    if (row)
        dsql__put_ptr(row, NULL);
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_one: res is NULL (it owns the row)");
    *res = NULL;
    int rc = check_db(db, "dsql_find_one", err);
    if (rc || (rc = dsql__find(db, &(dsql__select){.m = m, .q = q, .limit = 1}, res, err)))
        return rc;
    return first_row(m, row, res, "matches", err);
}

int dsql_find_one(dsql_db *db, const dsql_model *m, const dsql_query *q, void *row,
                  dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_find_one", find_one_call(db, m, q, row, res, err), err);
}

static int find_by_pk_call(dsql_db *db, const dsql_model *m, dsql_value pk, const dsql_query *q,
                           void *row, dsql_result **res, dsql_error *err)
{
    if (row)
        dsql__put_ptr(row, NULL);
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_by_pk: res is NULL (it owns the row)");
    *res = NULL;
    int rc = dsql__model_check(m, err);
    if (rc || (rc = check_db(db, "dsql_find_by_pk", err)))
        return rc;
    const dsql_attr *key = dsql__model_pk(m);
    if (!key)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_by_pk: model %s has no primary key",
                              m->name);
    if (q && q->where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_find_by_pk: the query's where must be NULL (the primary key "
                              "selects the row)");
    if (pk.kind == DSQL_V_NULL || (pk.kind == DSQL_V_TEXT && !pk.u.s))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_find_by_pk: %s.%s: the key is NULL", m->name,
                              key->name);
    dsql_where eq = {.op = DSQL_OP_EQ, .attr = key->name, .values = &pk, .n_values = 1};
    if ((rc = dsql__find(db, &(dsql__select){.m = m, .q = q, .extra = &eq}, res, err)))
        return rc;
    if ((*res)->nrows > 0)
        return first_row(m, row, res, "", err);
    char what[DSQL__PREVIEW_MAX + 64]; /* only for the not-found message */
    if (pk.kind == DSQL_V_TEXT) {
        char pv[DSQL__PREVIEW_MAX];
        snprintf(what, sizeof what, "with %s = %s", key->name,
                 dsql__preview(pk.u.s, strlen(pk.u.s), pv, sizeof pv));
    } else if (pk.kind == DSQL_V_INT) {
        snprintf(what, sizeof what, "with %s = %lld", key->name, (long long)pk.u.i);
    } else {
        snprintf(what, sizeof what, "with that %s", key->name);
    }
    return first_row(m, row, res, what, err);
}

int dsql_find_by_pk(dsql_db *db, const dsql_model *m, dsql_value pk, const dsql_query *q, void *row,
                    dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_find_by_pk", find_by_pk_call(db, m, pk, q, row, res, err), err);
}

static int count_call(dsql_db *db, const dsql_model *m, const dsql_where *where, int64_t *count,
                      dsql_error *err)
{
    if (count)
        *count = 0;
    int rc = check_db(db, "dsql_count", err);
    if (rc)
        return rc;
    dsql_query q = {.where = where};
    return dsql__count(db, &(dsql__select){.m = m, .q = &q, .count = true}, count, err);
}

int dsql_count(dsql_db *db, const dsql_model *m, const dsql_where *where, int64_t *count,
               dsql_error *err)
{
    return dsql__api_ret("dsql_count", count_call(db, m, where, count, err), err);
}

int dsql__count(dsql_db *db, const dsql__select *s, int64_t *count, dsql_error *err)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__plan plan = DSQL__PLAN_INIT;
    PGresult *pg = NULL;
    int rc = dsql__build_select(s, &sql, &p, &plan, err);
    if (!rc)
        rc = dsql__run(db, &sql, &p, &pg, err);
    if (!rc) {
        int64_t v = 0;
        const char *t = PQntuples(pg) == 1 ? PQgetvalue(pg, 0, 0) : "";
        if (!dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &v))
            rc = dsql_error_set(err, DSQL_EPARSE, "count: the server sent no count");
        else if (count)
            *count = v;
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    dsql__plan_free(&plan);
    return rc;
}

/* ---- update / save ---- */

static uint64_t affected_of(PGresult *pg)
{
    const char *t = PQcmdTuples(pg);
    int64_t v = 0;
    return t && dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &v) ? (uint64_t)v : 0;
}

/* SET a = $n, ... for assignments checked against their attributes. */
static int set_list(dsql__strbuf *sql, dsql__params *p, const dsql_model *m, const dsql_assign *as,
                    size_t n, dsql_error *err)
{
    dsql__sb_append(sql, " SET ");
    for (size_t i = 0; i < n; i++) {
        const dsql_attr *a;
        int rc = dsql__attr_lookup(m, as[i].attr, "update", &a, err);
        if (rc)
            return rc;
        const dsql_value *v = &as[i].value;
        bool null = v->kind == DSQL_V_NULL || (v->kind == DSQL_V_TEXT && !v->u.s);
        dsql_assign_op op = as[i].op;
        if ((int)op == DSQL__ASSIGN_MARK || (int)op == DSQL__ASSIGN_UNMARK) {
            /* soft delete and restore: only ever built by the library */
            dsql__sb_append(sql, i ? ", " : "");
            dsql__sql_ident(sql, dsql__attr_column(a));
            dsql__sb_append(sql, (int)op == DSQL__ASSIGN_MARK ? " = now()" : " = NULL");
            continue;
        }
        if (a->timestamp || a->version)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "update: %s.%s: a kept %s is written by the library", m->name,
                                  a->name, a->version ? "version" : "timestamp");
        if (op != DSQL_ASSIGN_SET && op != DSQL_ASSIGN_ADD && op != DSQL_ASSIGN_SUB)
            return dsql_error_set(err, DSQL_EINVAL, "update: %s.%s: unknown assignment op %d",
                                  m->name, a->name, (int)op);
        if (op != DSQL_ASSIGN_SET && !dsql__type_is_number(a->type))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "update: %s.%s: only a numeric attribute can be incremented "
                                  "or decremented",
                                  m->name, a->name);
        if (op != DSQL_ASSIGN_SET && null)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "update: %s.%s: the amount to add or subtract is NULL", m->name,
                                  a->name);
        if (null && (a->not_null || a->primary_key))
            return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: NULL, but the attribute is %s",
                                  m->name, a->name,
                                  a->primary_key ? "the primary key" : "NOT NULL");
        if (i)
            dsql__sb_append(sql, ", ");
        dsql__sql_ident(sql, dsql__attr_column(a));
        dsql_error e;
        /* A delta is checked as a value compared with the column (its kind and syntax fit
         * the type): the sum is the server's, and it checks the column's range. */
        int k = dsql__params_add_checked(
            p, m, a, v, op == DSQL_ASSIGN_SET ? DSQL__USE_STORE : DSQL__USE_COMPARE, &e);
        if (!k || (op == DSQL_ASSIGN_SET && dsql__checks_run(m, a, v, &e))) {
            if (err)
                *err = e;
            return e.status;
        }
        if (op != DSQL_ASSIGN_SET) {
            dsql__sb_append(sql, " = ");
            dsql__sql_ident(sql, dsql__attr_column(a));
            dsql__sb_append_param(sql, op == DSQL_ASSIGN_ADD ? " + " : " - ", k);
        } else {
            dsql__sb_append_param(sql, " = ", k);
        }
    }
    dsql__append_touch(sql, m, false);
    return DSQL_OK;
}

/*
 * An update the server refused for the row cap, done in chunks of the rows matched, in
 * primary-key order (keyset: a chunk starts after the last key of the one before, so rows
 * that still match after their update are not updated twice). Each chunk is one pipelined
 * transaction, retried on conflicts: it reads the chunk's last key and count, and updates
 * the chunk, both in the same snapshot.
 *   SELECT max(k)::text, count(*) FROM (SELECT pk AS k FROM t WHERE (w) AND pk > $last
 *                                        ORDER BY pk LIMIT $n) s
 *   UPDATE t SET ... WHERE pk IN (SELECT pk FROM t WHERE (w) AND pk > $last
 *                                 ORDER BY pk LIMIT $n)
 */
typedef struct chunk_stmt {
    dsql__strbuf sql;
    dsql__params p;
} chunk_stmt;

/* An update that restores marked rows (dsql_restore) works on the marked rows of a
 * paranoid model; every other update on the rows not marked. */
static bool restoring(const dsql_assign *as)
{
    return (int)as[0].op == DSQL__ASSIGN_UNMARK;
}

static int chunk_select(chunk_stmt *c, const dsql_model *m, const dsql_attr *key,
                        const dsql_where *where, bool marked, const char *last, const char *limit,
                        dsql_error *err)
{
    dsql__strbuf *sql = &c->sql;
    dsql__sb_append(sql, "SELECT ");
    dsql__sql_ident(sql, dsql__attr_column(key));
    dsql__sb_append(sql, " FROM ");
    dsql__sql_table(sql, m);
    dsql__sb_append(sql, " WHERE (");
    int rc = dsql__build_where(sql, &c->p, m, NULL, where, err);
    if (rc)
        return rc;
    dsql__sb_append_c(sql, ')');
    dsql__append_alive(sql, m, NULL, " AND ", marked);
    if (last) {
        dsql__sb_append(sql, " AND ");
        dsql__sql_ident(sql, dsql__attr_column(key));
        dsql__sb_append_param(sql, " > ", dsql__params_add(&c->p, last, 0, 0));
    }
    dsql__sb_append(sql, " ORDER BY ");
    dsql__sql_ident(sql, dsql__attr_column(key));
    dsql__sb_append_param(sql, " LIMIT ", dsql__params_add(&c->p, limit, 0, 0));
    return DSQL_OK;
}

static int set_list(dsql__strbuf *sql, dsql__params *p, const dsql_model *m, const dsql_assign *as,
                    size_t n, dsql_error *err);

static int build_chunk(chunk_stmt st[2], const dsql_model *m, const dsql_attr *key,
                       const dsql_assign *assigns, size_t n_assigns, const dsql_where *where,
                       const char *last, const char *limit, dsql_error *err)
{
    for (int i = 0; i < 2; i++) {
        dsql__sb_reset(&st[i].sql);
        dsql__params_reset(&st[i].p);
    }
    dsql__sb_append(&st[0].sql, "SELECT max(k)::text, count(*) FROM (");
    int rc = chunk_select(&st[0], m, key, where, restoring(assigns), last, limit, err);
    dsql__sb_append(&st[0].sql, ") s (k)");
    if (!rc) {
        dsql__sb_append(&st[1].sql, "UPDATE ");
        dsql__sql_table(&st[1].sql, m);
        rc = set_list(&st[1].sql, &st[1].p, m, assigns, n_assigns, err);
    }
    if (!rc) {
        dsql__sb_append(&st[1].sql, " WHERE ");
        dsql__sql_ident(&st[1].sql, dsql__attr_column(key));
        dsql__sb_append(&st[1].sql, " IN (");
        rc = chunk_select(&st[1], m, key, where, restoring(assigns), last, limit, err);
        dsql__sb_append_c(&st[1].sql, ')');
    }
    for (int i = 0; !rc && i < 2; i++)
        if (st[i].sql.oom || st[i].p.oom)
            rc = st[i].p.oom ? dsql__params_error(&st[i].p, err)
                             : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return rc;
}

static int update_chunked(dsql_db *db, const dsql_model *m, const dsql_attr *key,
                          const dsql_assign *assigns, size_t n_assigns, const dsql_where *where,
                          uint64_t *affected, dsql_error *err)
{
    chunk_stmt st[2] = {{DSQL__STRBUF_INIT, DSQL__PARAMS_INIT},
                        {DSQL__STRBUF_INIT, DSQL__PARAMS_INIT}};
    char *last = NULL, limit[24];
    int64_t n = DSQL__ROW_CAP;
    uint64_t total = 0;
    size_t chunks = 0;
    int rc;
    dsql_error e = DSQL_ERROR_INIT;
    for (;;) {
        dsql__i64toa(n, limit);
        if ((rc = build_chunk(st, m, key, assigns, n_assigns, where, last, limit, &e)))
            break;
        dsql_value *v0 = dsql__params_as_values(&st[0].p), *v1 = dsql__params_as_values(&st[1].p);
        if (!v0 || !v1) {
            rc = dsql_error_set(&e, DSQL_ENOMEM, "out of memory");
            break;
        }
        dsql_stmt stmts[2] = {{dsql__sb_str(&st[0].sql), v0, (size_t)st[0].p.n},
                              {dsql__sb_str(&st[1].sql), v1, (size_t)st[1].p.n}};
        dsql_result *res[2] = {NULL, NULL};
        rc = dsql_pipeline_tx(db, stmts, 2, res, NULL, &e);
        if (rc == DSQL_ELIMIT && n > 1 && dsql__is_row_limit(&e)) {
            n = (n + 1) / 2; /* cascaded rows took the chunk over: nothing of it committed */
            continue;
        }
        if (rc)
            break;
        int64_t counted = 0;
        dsql_result_int(res[0], 0, 1, &counted, NULL);
        total += dsql_result_affected(res[1]);
        chunks++;
        free(last);
        last =
            dsql_result_is_null(res[0], 0, 0) ? NULL : dsql__strdup(dsql_result_text(res[0], 0, 0));
        dsql_result_free(res[0]);
        dsql_result_free(res[1]);
        if (counted < n || !last)
            break;
    }
    if (rc) {
        dsql_error cause = e;
        if (total > 0 && rc != DSQL_EUNKNOWN_OUTCOME)
            rc = DSQL_EPARTIAL;
        dsql_error_set(&e, rc,
                       "dsql_update: %s: more rows matched than one Aurora DSQL transaction may "
                       "modify (%d), so they were updated in chunks by primary key; %llu rows "
                       "in %zu committed chunks were updated, then a chunk failed%s: %s",
                       m->name, DSQL__ROW_CAP, (unsigned long long)total, chunks,
                       rc == DSQL_EUNKNOWN_OUTCOME ? " (it may or may not have committed)" : "",
                       cause.message);
        memcpy(e.sqlstate, cause.sqlstate, sizeof e.sqlstate);
        if (err)
            *err = e;
    } else {
        dsql__db_log(db, DSQL_LOG_INFO,
                     "dsql_update: %s: %llu rows updated in %zu chunks (more than %d matched)",
                     m->name, (unsigned long long)total, chunks, DSQL__ROW_CAP);
    }
    if (affected)
        *affected = total;
    free(last);
    for (int i = 0; i < 2; i++) {
        dsql__sb_free(&st[i].sql);
        dsql__params_free(&st[i].p);
    }
    return rc;
}

/* "UPDATE t SET ... WHERE (where)", the paranoid model's rows not marked deleted (a mark or
 * restore reaches its own), for a caller that runs it itself (a batch). */
int dsql__build_update(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                       const dsql_assign *assigns, size_t n_assigns, const dsql_where *where,
                       dsql_error *err)
{
    dsql__sb_append(sql, "UPDATE ");
    dsql__sql_table(sql, m);
    int rc = set_list(sql, p, m, assigns, n_assigns, err);
    if (rc)
        return rc;
    if ((rc = dsql__append_where_alive(sql, p, m, NULL, where, true, restoring(assigns), err)))
        dsql__err_prefix(err, "where");
    return rc;
}

/* dsql_update and its RETURNING forms (fn names the call; with returning, *res gets the
 * updated rows, hydrated, and the update is never chunked). */
int dsql__update_exec(dsql_db *db, const char *fn, const dsql_model *m, const dsql_assign *assigns,
                      size_t n_assigns, const dsql_where *where, uint64_t *affected,
                      dsql_result **res, dsql_error *err)
{
    if (affected)
        *affected = 0;
    int rc = dsql__model_check(m, err);
    if (rc || (rc = check_db(db, fn, err)))
        return rc;
    if (!assigns || n_assigns == 0)
        return dsql_error_set(err, DSQL_EINVAL, "%s: %s: nothing to set", fn, m->name);
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: where is NULL (to update every row on purpose, "
                              "use DSQL_NOT_NULL on the primary key)",
                              fn, m->name);
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    rc = dsql__build_update(&sql, &p, m, assigns, n_assigns, where, err);
    dsql_error e = DSQL_ERROR_INIT;
    /* Inside the caller's transaction the update cannot be split, and the server's refusal
     * would abort the transaction: the statement tallies the rows it would change and
     * changes none when they would take the transaction past the cap (rowcap.c). */
    bool enclosed = dsql__db_in_transaction(db);
    uint64_t room = enclosed ? dsql__tx_room(db) : 0;
    /* By key (or a unique attribute) at most one row matches: no tally needed. */
    bool one_row = enclosed && dsql__where_one_row(m, where);
    if (!rc && one_row)
        rc = dsql__tx_reserve(db, 1, fn, m, err);
    else if (!rc && enclosed) {
        dsql__sb_append(&sql, " AND ");
        dsql__append_tally(&sql, &p, m, where, "1", room, &rc, err);
        dsql__sb_append_param(&sql, " <= ", dsql__params_add_value(&p, &DSQL_INT((int64_t)room)));
    }
    if (!rc && res)
        dsql__append_returning(&sql, m);
    uint64_t changed = 0;
    if (!rc)
        rc = dsql__run(db, &sql, &p, &pg, &e);
    if (!rc)
        changed = affected_of(pg);
    if (!rc && res && changed > 0) {
        rc = dsql__hydrated(pg, m, res, &e);
        pg = NULL;
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    uint64_t matched = 0;
    if (!rc && enclosed && !one_row && changed == 0 &&
        !(rc = dsql__tally(db, m, where, "1", room, &matched, &e)) && matched > room) {
        char subject[160], what[64];
        snprintf(subject, sizeof subject, "%s: %s", fn, m->name);
        snprintf(what, sizeof what, "more than %llu rows match", (unsigned long long)room);
        return dsql__tx_refuse(db, err, subject, what,
                               "nothing was changed: update in smaller steps, or call it on the "
                               "pool (which updates in chunks of up to 3,000 rows, each its own "
                               "transaction)");
    }
    if (!rc && affected)
        *affected = changed;
    /* One statement is atomic, and the usual case. The server refused it whole for the row
     * cap (nothing changed): outside the caller's transaction, with a key to chunk by,
     * update in chunks instead. */
    const dsql_attr *key = dsql__model_pk(m);
    if (rc == DSQL_ELIMIT && dsql__is_row_limit(&e) && !enclosed && key && !res)
        return update_chunked(db, m, key, assigns, n_assigns, where, affected, err);
    if (rc && e.status && err) {
        *err = e;
        if (rc == DSQL_ELIMIT && dsql__is_row_limit(&e))
            dsql__err_prefix(err, "%s: %s: %s", fn, m->name,
                             enclosed ? "the caller's transaction would modify more rows than "
                                        "one Aurora DSQL transaction may (3,000); nothing of it "
                                        "commits"
                             : res    ? "more rows matched than one Aurora DSQL transaction may "
                                        "modify (3,000), and rows are returned from one "
                                        "statement only; nothing was updated"
                                      : "more rows matched than one Aurora DSQL transaction may "
                                        "modify (3,000), and the model has no primary key to "
                                        "update them in chunks by; nothing was updated");
    }
    return rc;
}

/* dsql__update_exec between the model's bulk-update hooks. */
static int update_run(dsql_db *db, const char *fn, const dsql_model *m, const dsql_assign *assigns,
                      size_t n_assigns, const dsql_where *where, uint64_t *affected,
                      dsql_result **res, dsql_error *err)
{
    for (size_t i = 0; assigns && i < n_assigns; i++)
        if ((int)assigns[i].op == DSQL__ASSIGN_MARK || (int)assigns[i].op == DSQL__ASSIGN_UNMARK)
            return dsql_error_set(err, DSQL_EINVAL, "%s: assignment %zu: unknown op %d", fn, i + 1,
                                  (int)assigns[i].op);
    if (!m || !m->hook || !db || !assigns || !n_assigns || !where)
        return dsql__update_exec(db, fn, m, assigns, n_assigns, where, affected, res, err);
    if (affected)
        *affected = 0;
    int rc = dsql__model_check(m, err);
    dsql_hook h = {.assigns = assigns, .n_assigns = n_assigns, .where = where};
    if (rc || (rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_BULK_UPDATE, &h, err)))
        return rc;
    uint64_t changed = 0;
    rc = dsql__update_exec(db, fn, m, assigns, n_assigns, where, &changed, res, err);
    if (affected)
        *affected = changed;
    if (!rc) {
        h.affected = res && *res ? (*res)->nrows : changed;
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_BULK_UPDATE, &h, NULL);
    }
    return rc;
}

int dsql_update(dsql_db *db, const dsql_model *m, const dsql_assign *assigns, size_t n_assigns,
                const dsql_where *where, uint64_t *affected, dsql_error *err)
{
    return dsql__api_ret(
        "dsql_update",
        update_run(db, "dsql_update", m, assigns, n_assigns, where, affected, NULL, err), err);
}

/* The RETURNING forms: an empty result when nothing matched. */
static int update_rows(dsql_db *db, const char *fn, const dsql_model *m, const dsql_assign *assigns,
                       size_t n_assigns, const dsql_where *where, void *rows, size_t *n,
                       dsql_result **res, dsql_error *err)
{
    dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL, "%s: res is NULL (it owns the rows)", fn);
    *res = NULL;
    int rc = update_run(db, fn, m, assigns, n_assigns, where, NULL, res, err);
    return dsql__rows_out(rc, res, rows, n, err);
}

int dsql__rows_out(int rc, dsql_result **res, void *rows, size_t *n, dsql_error *err)
{
    if (!rc && !*res && !(*res = dsql__result_new(NULL)))
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (rc) {
        dsql_result_free(*res);
        *res = NULL;
        return rc;
    }
    dsql__put_ptr(rows, (*res)->rows);
    if (n)
        *n = (*res)->nrows;
    return DSQL_OK;
}

int dsql_update_returning(dsql_db *db, const dsql_model *m, const dsql_assign *assigns,
                          size_t n_assigns, const dsql_where *where, void *rows, size_t *n,
                          dsql_result **res, dsql_error *err)
{
    return dsql__api_ret(
        "dsql_update_returning",
        update_rows(db, "dsql_update_returning", m, assigns, n_assigns, where, rows, n, res, err),
        err);
}

static int increment_call(dsql_db *db, const dsql_model *m, const dsql_assign *deltas,
                          size_t n_deltas, const dsql_where *where, void *rows, size_t *n,
                          dsql_result **res, dsql_error *err)
{
    for (size_t i = 0; deltas && i < n_deltas; i++)
        if (deltas[i].op != DSQL_ASSIGN_ADD && deltas[i].op != DSQL_ASSIGN_SUB) {
            dsql__put_ptr(rows, NULL);
            if (n)
                *n = 0;
            if (res)
                *res = NULL;
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_increment: %s: delta %zu (%s) is not DSQL_INCREMENT or "
                                  "DSQL_DECREMENT",
                                  m ? m->name : "model", i + 1,
                                  deltas[i].attr ? deltas[i].attr : "no attribute");
        }
    return update_rows(db, "dsql_increment", m, deltas, n_deltas, where, rows, n, res, err);
}

int dsql_increment(dsql_db *db, const dsql_model *m, const dsql_assign *deltas, size_t n_deltas,
                   const dsql_where *where, void *rows, size_t *n, dsql_result **res,
                   dsql_error *err)
{
    return dsql__api_ret("dsql_increment",
                         increment_call(db, m, deltas, n_deltas, where, rows, n, res, err), err);
}

/* The attributes a save writes: the named ones (each must have been loaded, when the row
 * remembers what it loaded), or the loaded ones that changed, or every non-key one. */
static int save_plan(const dsql_model *m, const dsql_attr *key, const void *row,
                     const dsql__row_record *rec, const char *const *attrs, size_t n_attrs,
                     const dsql_attr **out, size_t *n_out, dsql_error *err)
{
    *n_out = 0;
    if (n_attrs) {
        for (size_t i = 0; i < n_attrs; i++) {
            const dsql_attr *a;
            int rc = dsql__attr_lookup(m, attrs[i], "dsql_save", &a, err);
            if (rc)
                return rc;
            if (a->timestamp || a->version)
                return dsql_error_set(err, DSQL_EINVAL,
                                      "dsql_save: %s.%s: a kept %s is written by the library",
                                      m->name, a->name, a->version ? "version" : "timestamp");
            if (rec && !dsql__row_loaded(rec, dsql__attr_index(m, a)))
                return dsql_error_set(err, DSQL_EINVAL,
                                      "dsql_save: %s.%s was not loaded by the find that read "
                                      "this row, so the row does not hold its value; nothing "
                                      "was sent",
                                      m->name, a->name);
            out[(*n_out)++] = a;
        }
        return DSQL_OK;
    }
    for (size_t k = 0; k < m->n_attrs; k++) {
        const dsql_attr *a = &m->attrs[k];
        if (a == key || a->timestamp || a->version)
            continue;
        if (rec && (!dsql__row_loaded(rec, k) || !dsql__row_changed(rec, a, row)))
            continue;
        out[(*n_out)++] = a;
    }
    return DSQL_OK;
}

static const dsql_attr *version_attr(const dsql_model *m)
{
    for (size_t k = 0; k < m->n_attrs; k++)
        if (m->attrs[k].version)
            return &m->attrs[k];
    return NULL;
}

/* The row's version member, one more (after a save wrote the row). */
static void bump_version(const dsql_attr *ver, void *row)
{
    if (ver->type == DSQL_T_INTEGER)
        (*(int32_t *)DSQL__MEMBER(row, ver))++;
    else
        (*(int64_t *)DSQL__MEMBER(row, ver))++;
}

/* A save's UPDATE that changed no row: no row has the key (DSQL_ENOTFOUND), or a versioned
 * one moved on since it was read (DSQL_ESTALE). */
static int save_missed(dsql_db *db, const dsql_model *m, const dsql_attr *key, const dsql_attr *ver,
                       const void *row, dsql_error *err)
{
    char pv[DSQL__PREVIEW_MAX];
    dsql_value kv = dsql__attr_value(key, row);
    dsql__key_preview(&kv, pv, sizeof pv);
    if (ver) {
        dsql__strbuf sql = DSQL__STRBUF_INIT;
        dsql__params p = DSQL__PARAMS_INIT;
        PGresult *pg = NULL;
        dsql__sb_append(&sql, "SELECT 1 FROM ");
        dsql__sql_table(&sql, m);
        dsql__sb_append(&sql, " WHERE ");
        dsql__sql_ident(&sql, dsql__attr_column(key));
        dsql__sb_append_param(&sql, " = ", dsql__params_add_attr(&p, key, row));
        int rc = dsql__run(db, &sql, &p, &pg, err);
        bool there = !rc && PQntuples(pg) == 1;
        PQclear(pg);
        dsql__sb_free(&sql);
        dsql__params_free(&p);
        if (rc)
            return rc;
        dsql_value vv = dsql__attr_value(ver, row);
        if (there)
            return dsql_error_set(err, DSQL_ESTALE,
                                  "dsql_save: %s: the row with %s = %s changed since it was read "
                                  "(its %s is no longer %lld): nothing was written; read it "
                                  "again and redo the change",
                                  m->name, key->name, pv, ver->name, (long long)vv.u.i);
    }
    return dsql_error_set(err, DSQL_ENOTFOUND, "dsql_save: %s: no row with %s = %s", m->name,
                          key->name, pv);
}

static int save_call(dsql_db *db, const dsql_model *m, void *row, const char *const *attrs,
                     size_t n_attrs, dsql_error *err)
{
    int rc = dsql__model_check(m, err);
    if (rc || (rc = check_db(db, "dsql_save", err)))
        return rc;
    if (!row)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_save: %s row is NULL", m->name);
    const dsql_attr *key = dsql__model_pk(m);
    if (!key)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_save: model %s has no primary key", m->name);
    if ((rc = dsql__validate_attr(m, key, row, false, err)))
        return rc;
    if (n_attrs && !attrs)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_save: %zu attributes announced, none given",
                              n_attrs);
    const dsql__row_record *rec;
    if ((rc = dsql__row_record_of(m, row, &rec, err)))
        return rc;
    if (rec && !dsql__row_loaded(rec, dsql__attr_index(m, key)))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_save: %s: the find that read this row did not load its "
                              "primary key",
                              m->name);
    dsql_hook h = {.row = row};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_UPDATE, &h, err)) ||
        (rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_SAVE, &h, err)))
        return rc;
    const dsql_attr *stack_set[64];
    size_t cap = n_attrs ? n_attrs : m->n_attrs;
    const dsql_attr **set = cap <= 64 ? stack_set : malloc(cap * sizeof *set);
    if (!set)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t n = 0;
    rc = save_plan(m, key, row, rec, attrs, n_attrs, set, &n, err);
    const dsql_attr *version = version_attr(m);
    if (!rc && version && rec && !dsql__row_loaded(rec, dsql__attr_index(m, version)))
        rc = dsql_error_set(err, DSQL_EINVAL,
                            "dsql_save: %s.%s (its version) was not loaded by the find that read "
                            "this row, so the save cannot check it; nothing was sent",
                            m->name, version->name);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = dsql__validate_attr(m, set[i], row, false, err);
        if (!rc && set[i]->n_checks) {
            dsql_value v = dsql__attr_value(set[i], row);
            rc = dsql__checks_run(m, set[i], &v, err);
        }
    }
    if (!rc && n)
        rc = dsql__row_validator(m, row, err);
    if (!rc && n == 0 && !rec)
        rc = dsql_error_set(err, DSQL_EINVAL, "dsql_save: %s: nothing to save", m->name);
    if (!rc && n)
        rc = dsql__tx_reserve(db, 1, "dsql_save", m, err);
    if (rc || n == 0) { /* a read row with nothing changed: nothing to send */
        if (set != stack_set)
            free(set);
        return rc;
    }
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    dsql__sb_append(&sql, "UPDATE ");
    dsql__sql_table(&sql, m);
    dsql__sb_append(&sql, " SET ");
    for (size_t i = 0; i < n; i++) {
        dsql__sb_append(&sql, i ? ", " : "");
        dsql__sql_ident(&sql, dsql__attr_column(set[i]));
        dsql__sb_append_param(&sql, " = ", dsql__params_add_attr(&p, set[i], row));
    }
    dsql__append_touch(&sql, m, false);
    dsql__sb_append(&sql, " WHERE ");
    dsql__sql_ident(&sql, dsql__attr_column(key));
    dsql__sb_append_param(&sql, " = ", dsql__params_add_attr(&p, key, row));
    /* A versioned row is written only if it still has the version it was read with. */
    const dsql_attr *ver = version_attr(m);
    if (ver) {
        dsql__sb_append(&sql, " AND ");
        dsql__sql_ident(&sql, dsql__attr_column(ver));
        dsql__sb_append_param(&sql, " = ", dsql__params_add_attr(&p, ver, row));
    }
    rc = dsql__run(db, &sql, &p, &pg, err);
    if (!rc && affected_of(pg) == 0)
        rc = save_missed(db, m, key, ver, row, err);
    if (!rc && ver)
        bump_version(ver, row);
    if (!rc && rec)
        for (size_t i = 0; i < n; i++)
            dsql__row_saved(rec, set[i], row);
    if (!rc) {
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_UPDATE, &h, NULL);
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_SAVE, &h, NULL);
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (set != stack_set)
        free(set);
    return rc;
}

int dsql_save(dsql_db *db, const dsql_model *m, void *row, const char *const *attrs, size_t n_attrs,
              dsql_error *err)
{
    return dsql__api_ret("dsql_save", save_call(db, m, row, attrs, n_attrs, err), err);
}
