/*
 * dsql_delete: DELETE by a where clause under Aurora DSQL's 3,000-row cap per transaction
 * (DSQL has no TRUNCATE, and rows deleted by ON DELETE CASCADE count too).
 *
 * With a primary key, on a pool or an idle connection: chunks of
 *   DELETE FROM t WHERE pk IN (SELECT pk FROM t WHERE <where> LIMIT $n)
 * each one statement in autocommit (its own retried transaction), repeated until a chunk
 * comes back short. A chunk the server refuses for the row cap (cascaded rows put it over)
 * deleted nothing: it is run again with half as many rows, down to one.
 * Without a primary key there is nothing to chunk by: one DELETE, which the server refuses
 * whole when it would cross the cap.
 * Inside the caller's transaction nothing can be split: one DELETE that tallies first the
 * rows it would modify (its own and those its foreign keys' ON DELETE actions reach) and
 * deletes nothing when they would take the transaction past the cap (rowcap.c).
 */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

/* The chunked statement's text, its where parameters, and $n of the LIMIT. */
static int build(const dsql_model *m, const dsql_attr *key, const dsql_where *where,
                 dsql__strbuf *sql, dsql__params *p, int *limit_param, dsql_error *err)
{
    dsql__sb_append(sql, "DELETE FROM ");
    dsql__sql_table(sql, m);
    dsql__sb_append(sql, " WHERE ");
    if (key) {
        dsql__sql_ident(sql, dsql__attr_column(key));
        dsql__sb_append(sql, " IN (SELECT ");
        dsql__sql_ident(sql, dsql__attr_column(key));
        dsql__sb_append(sql, " FROM ");
        dsql__sql_table(sql, m);
        dsql__sb_append(sql, " WHERE ");
    }
    int rc = dsql__build_where(sql, p, m, NULL, where, err);
    if (rc) {
        dsql__err_prefix(err, "where");
        return rc;
    }
    if (key) {
        *limit_param = dsql__params_add(p, "3000", 0, 0);
        dsql__sb_append_param(sql, " LIMIT ", *limit_param);
        dsql__sb_append_c(sql, ')');
    }
    return DSQL_OK;
}

/* Rewords the error of a failed destroy after `total` rows were deleted. */
static int report(const dsql_model *m, int rc, uint64_t total, bool has_key, dsql_error *e)
{
    dsql_error cause = *e;
    if (!has_key && dsql__is_row_limit(e)) {
        dsql_error_set(e, DSQL_ELIMIT,
                       "dsql_delete: %s: the rows to delete are more than the %d one Aurora "
                       "DSQL transaction may modify, and the model has no primary key to "
                       "delete them in chunks by; nothing was deleted: %s",
                       m->name, DSQL__ROW_CAP, cause.message);
    } else if (rc == DSQL_EUNKNOWN_OUTCOME) {
        /* The conn layer says the DELETE may have committed before the link went. */
        dsql_error_set(e, DSQL_EUNKNOWN_OUTCOME,
                       "dsql_delete: %s: %llu rows were deleted (in committed chunks of up to "
                       "%d), then the connection was lost with a chunk in flight: up to %d more "
                       "may or may not have been deleted: %s",
                       m->name, (unsigned long long)total, DSQL__ROW_CAP, DSQL__ROW_CAP,
                       cause.message);
    } else if (total > 0) {
        dsql_error_set(e, DSQL_EPARTIAL,
                       "dsql_delete: %s: %llu rows were deleted (in committed chunks of up to "
                       "%d) before a chunk failed: %s",
                       m->name, (unsigned long long)total, DSQL__ROW_CAP, cause.message);
        rc = DSQL_EPARTIAL;
    } else {
        return rc;
    }
    memcpy(e->sqlstate, cause.sqlstate, sizeof e->sqlstate);
    memcpy(e->detail, cause.detail, sizeof e->detail);
    memcpy(e->hint, cause.hint, sizeof e->hint);
    return rc;
}

/* A DELETE in the caller's transaction that deletes only when the tally of the rows it would
 * modify (cost per row) fits in room, and with no_actions only when no foreign key with an
 * ON DELETE action that modifies rows references the table. *n: the rows deleted. */
static int guarded_delete(dsql_db *db, const dsql_model *m, const dsql_where *where,
                          const char *cost, uint64_t room, bool no_actions, int64_t *n,
                          dsql_result **res, dsql_error *err)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    dsql_error e = DSQL_ERROR_INIT;
    *n = 0;
    dsql__sb_append(&sql, "DELETE FROM ");
    dsql__sql_table(&sql, m);
    dsql__sb_append(&sql, " WHERE (");
    int rc = dsql__build_where(&sql, &p, m, NULL, where, err);
    if (rc)
        dsql__err_prefix(err, "where");
    dsql__sb_append(&sql, ") AND ");
    if (!rc)
        dsql__append_tally(&sql, &p, m, where, cost, room, &rc, err);
    dsql__sb_append_param(&sql, " <= ", dsql__params_add_value(&p, &DSQL_INT((int64_t)room)));
    if (no_actions) {
        dsql__sb_append(&sql, " AND ");
        dsql__append_no_delete_actions(&sql, &p, m);
    }
    if (res)
        dsql__append_returning(&sql, m);
    if (!rc && (rc = dsql__run(db, &sql, &p, &pg, &e))) {
        if (err)
            *err = e;
        if (dsql__is_row_limit(&e))
            dsql__err_prefix(err,
                             "dsql_delete: %s: the caller's transaction would modify more rows "
                             "than one Aurora DSQL transaction may (3,000; rows that ON DELETE "
                             "actions of earlier statements reached are not counted ahead); "
                             "nothing of it commits",
                             m->name);
    }
    if (!rc) {
        const char *t = PQcmdTuples(pg);
        dsql__strtoi64(t, strlen(t), 0, INT64_MAX, n);
    }
    if (!rc && res && *n > 0) { /* the rows deleted (an earlier attempt's rows: none) */
        dsql_result_free(*res);
        *res = NULL;
        rc = dsql__hydrated(pg, m, res, err);
        pg = NULL;
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

static int refuse(dsql_db *db, const dsql_model *m, uint64_t room, bool actions, dsql_error *err)
{
    char subject[160], what[160];
    snprintf(subject, sizeof subject, "dsql_delete: %s", m->name);
    snprintf(what, sizeof what, "more than %llu rows would be deleted%s", (unsigned long long)room,
             actions ? " or changed (with the rows their ON DELETE actions reach)" : "");
    return dsql__tx_refuse(db, err, subject, what,
                           "nothing was changed: delete in smaller steps, or call it on the pool "
                           "(which deletes in chunks of up to 3,000 rows, each its own "
                           "transaction)");
}

/*
 * dsql_delete in the caller's transaction. Usually one statement: a DELETE that deletes
 * only when its rows fit and no ON DELETE action would modify more. When it deleted
 * nothing, its own rows are tallied: none (nothing matched), too many (refused), or
 * foreign keys with ON DELETE actions reference the table — then the catalog says which,
 * and a DELETE whose tally counts what they reach follows.
 */
static int delete_in_tx(dsql_db *db, const dsql_model *m, const dsql_where *where,
                        uint64_t *affected, dsql_result **res, dsql_error *err)
{
    uint64_t room = dsql__tx_room(db), rows = 0;
    int64_t n = 0;
    dsql__strbuf cost = DSQL__STRBUF_INIT;
    int rc = guarded_delete(db, m, where, "1", room, true, &n, res, err);
    if (rc || n > 0 || (rc = dsql__tally(db, m, where, "1", room, &rows, err)) || rows == 0)
        goto done;
    if (rows > room) {
        rc = refuse(db, m, room, false, err);
        goto done;
    }
    rc = dsql__delete_cost(db, m, &cost, err);
    if (!rc)
        rc = guarded_delete(db, m, where, dsql__sb_str(&cost), room, false, &n, res, err);
    if (!rc && n == 0 && !(rc = dsql__tally(db, m, where, dsql__sb_str(&cost), room, &rows, err)) &&
        rows > room)
        rc = refuse(db, m, room, true, err);
done:
    dsql__sb_free(&cost);
    if (!rc && affected)
        *affected = (uint64_t)n;
    return rc;
}

static int delete_exec(dsql_db *db, const dsql_model *m, const dsql_where *where,
                       uint64_t *affected, dsql_error *err)
{
    int rc;
    if (dsql__db_in_transaction(db))
        return delete_in_tx(db, m, where, affected, NULL, err);
    const dsql_attr *key = dsql__model_pk(m);
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    int limit_param = 0;
    rc = build(m, key, where, &sql, &p, &limit_param, err);
    uint64_t total = 0;
    int64_t limit = DSQL__ROW_CAP;
    char limit_text[24];
    dsql_error e = DSQL_ERROR_INIT; /* err may be NULL; the failure is reworded below */
    while (!rc) {
        if (key) {
            dsql__i64toa(limit, limit_text);
            p.values[limit_param - 1] = limit_text;
        }
        PGresult *pg = NULL;
        rc = dsql__run(db, &sql, &p, &pg, &e);
        if (rc == DSQL_ELIMIT && key && limit > 1 && dsql__is_row_limit(&e)) {
            /* Cascaded deletes took the chunk over the cap; nothing of it was deleted. */
            limit = (limit + 1) / 2;
            dsql__db_log(db, DSQL_LOG_INFO,
                         "dsql_delete: %s: a chunk went over the row cap (cascaded rows "
                         "count); trying %lld rows at a time",
                         m->name, (long long)limit);
            rc = DSQL_OK;
            continue;
        }
        if (rc)
            break;
        const char *t = PQcmdTuples(pg);
        int64_t n = 0;
        dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &n);
        PQclear(pg);
        total += (uint64_t)n;
        if (!key || n < limit)
            break;
    }
    if (rc && e.status) {
        if (rc == DSQL_ELIMIT && key && limit == 1 && dsql__is_row_limit(&e)) {
            dsql_error cause = e;
            dsql_error_set(&e, DSQL_ELIMIT,
                           "dsql_delete: %s: deleting a single row takes more than the %d "
                           "rows one Aurora DSQL transaction may modify (its ON DELETE CASCADE "
                           "reaches that many): delete the referencing rows first: %s",
                           m->name, DSQL__ROW_CAP, cause.message);
            memcpy(e.sqlstate, cause.sqlstate, sizeof e.sqlstate);
        }
        rc = report(m, rc, total, key != NULL, &e);
        if (err)
            *err = e;
    }
    if (affected)
        *affected = total;
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

/* The checks every delete makes before its hooks. */
static int delete_args(dsql_db *db, const dsql_model *m, const char *fn, dsql_error *err)
{
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is NULL", fn);
    return DSQL_OK;
}

/* A paranoid model's rows are marked (or unmarked), not deleted: an update of the
 * DSQL_DELETED_AT column, chunked past the row cap like any update. */
static int mark(dsql_db *db, const char *fn, const dsql_model *m, const dsql_where *where,
                bool restore, uint64_t *affected, dsql_error *err)
{
    const dsql_attr *d = dsql__deleted_attr(m);
    dsql_assign as = {.attr = d->name,
                      .op = (dsql_assign_op)(restore ? DSQL__ASSIGN_UNMARK : DSQL__ASSIGN_MARK)};
    return dsql__update_exec(db, fn, m, &as, 1, where, affected, NULL, err);
}

static int delete_where(dsql_db *db, const char *fn, const dsql_model *m, const dsql_where *where,
                        bool force, uint64_t *affected, dsql_error *err)
{
    if (affected)
        *affected = 0;
    int rc = delete_args(db, m, fn, err);
    if (rc)
        return rc;
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: where is NULL (to delete every row on purpose, "
                              "use DSQL_NOT_NULL on the primary key)",
                              fn, m->name);
    dsql_hook h = {.where = where};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_BULK_DESTROY, &h, err)))
        return rc;
    uint64_t n = 0;
    if (!force && dsql__deleted_attr(m))
        rc = mark(db, fn, m, where, false, &n, err);
    else
        rc = delete_exec(db, m, where, &n, err);
    if (affected)
        *affected = n;
    if (!rc) {
        h.affected = n;
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_BULK_DESTROY, &h, NULL);
    }
    return rc;
}

int dsql_delete(dsql_db *db, const dsql_model *m, const dsql_where *where, uint64_t *affected,
                dsql_error *err)
{
    return dsql__api_ret("dsql_delete",
                         delete_where(db, "dsql_delete", m, where, false, affected, err), err);
}

static int delete_force_call(dsql_db *db, const dsql_model *m, const dsql_where *where,
                             uint64_t *affected, dsql_error *err)
{
    return delete_where(db, "dsql_delete_force", m, where, true, affected, err);
}

int dsql_delete_force(dsql_db *db, const dsql_model *m, const dsql_where *where, uint64_t *affected,
                      dsql_error *err)
{
    return dsql__api_ret("dsql_delete_force", delete_force_call(db, m, where, affected, err), err);
}

static int restore_call(dsql_db *db, const dsql_model *m, const dsql_where *where,
                        uint64_t *affected, dsql_error *err)
{
    if (affected)
        *affected = 0;
    int rc = delete_args(db, m, "dsql_restore", err);
    if (rc)
        return rc;
    if (!dsql__deleted_attr(m))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_restore: model %s is not paranoid (it has no DSQL_DELETED_AT "
                              "attribute)",
                              m->name);
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_restore: %s: where is NULL (to restore every row on purpose, "
                              "use DSQL_NOT_NULL on the primary key)",
                              m->name);
    return mark(db, "dsql_restore", m, where, true, affected, err);
}

int dsql_restore(dsql_db *db, const dsql_model *m, const dsql_where *where, uint64_t *affected,
                 dsql_error *err)
{
    return dsql__api_ret("dsql_restore", restore_call(db, m, where, affected, err), err);
}

/* One DELETE ... RETURNING on a pool (atomic: the server refuses it whole past the cap). */
static int delete_returning_one(dsql_db *db, const dsql_model *m, const dsql_where *where,
                                dsql_result **res, dsql_error *err)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    PGresult *pg = NULL;
    dsql__sb_append(&sql, "DELETE FROM ");
    dsql__sql_table(&sql, m);
    dsql__sb_append(&sql, " WHERE ");
    int rc = dsql__build_where(&sql, &p, m, NULL, where, err);
    if (rc)
        dsql__err_prefix(err, "where");
    dsql__append_returning(&sql, m);
    dsql_error e = DSQL_ERROR_INIT;
    if (!rc && (rc = dsql__run(db, &sql, &p, &pg, &e)) && err) {
        *err = e;
        if (dsql__is_row_limit(&e))
            dsql__err_prefix(err,
                             "dsql_delete_returning: %s: more rows (with those ON DELETE "
                             "CASCADE reaches) than one Aurora DSQL transaction may modify "
                             "(3,000), and rows are returned from one statement only; nothing "
                             "was deleted",
                             m->name);
    }
    if (!rc) {
        rc = dsql__hydrated(pg, m, res, err);
        pg = NULL;
    }
    PQclear(pg);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

static int delete_returning_call(dsql_db *db, const dsql_model *m, const dsql_where *where,
                                 void *rows, size_t *n, dsql_result **res, dsql_error *err)
{
    dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!res)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_delete_returning: res is NULL (it owns the rows)");
    *res = NULL;
    int rc = delete_args(db, m, "dsql_delete_returning", err);
    if (rc)
        return rc;
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_delete_returning: %s: where is NULL (to delete every row on "
                              "purpose, use DSQL_NOT_NULL on the primary key)",
                              m->name);
    dsql_hook h = {.where = where};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_BULK_DESTROY, &h, err)))
        return rc;
    uint64_t count = 0;
    if (dsql__deleted_attr(m)) {
        const dsql_attr *d = dsql__deleted_attr(m);
        dsql_assign as = {.attr = d->name, .op = (dsql_assign_op)DSQL__ASSIGN_MARK};
        rc = dsql__update_exec(db, "dsql_delete_returning", m, &as, 1, where, &count, res, err);
    } else if (dsql__db_in_transaction(db)) {
        rc = delete_in_tx(db, m, where, &count, res, err);
    } else {
        rc = delete_returning_one(db, m, where, res, err);
    }
    if ((rc = dsql__rows_out(rc, res, rows, n, err)))
        return rc;
    h.affected = (*res)->nrows;
    dsql__hook_call(m, db, DSQL_HOOK_AFTER_BULK_DESTROY, &h, NULL);
    return DSQL_OK;
}

int dsql_delete_returning(dsql_db *db, const dsql_model *m, const dsql_where *where, void *rows,
                          size_t *n, dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_delete_returning",
                         delete_returning_call(db, m, where, rows, n, res, err), err);
}

static int delete_row_call(dsql_db *db, const dsql_model *m, void *row, dsql_error *err)
{
    int rc = delete_args(db, m, "dsql_delete_row", err);
    if (rc)
        return rc;
    if (!row)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_delete_row: %s row is NULL", m->name);
    const dsql_attr *key = dsql__model_pk(m);
    if (!key)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_delete_row: model %s has no primary key",
                              m->name);
    if ((rc = dsql__validate_attr(m, key, row, false, err)))
        return rc;
    dsql_hook h = {.row = row};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_DESTROY, &h, err)))
        return rc;
    dsql_value v = dsql__attr_value(key, row);
    dsql_where w = {.op = DSQL_OP_EQ, .attr = key->name, .values = &v, .n_values = 1};
    uint64_t n = 0;
    if ((rc = dsql__deleted_attr(m) ? mark(db, "dsql_delete_row", m, &w, false, &n, err)
                                    : delete_exec(db, m, &w, &n, err)))
        return rc;
    if (n == 0) {
        char pv[DSQL__PREVIEW_MAX];
        return dsql_error_set(err, DSQL_ENOTFOUND, "dsql_delete_row: %s: no row with %s = %s",
                              m->name, key->name, dsql__key_preview(&v, pv, sizeof pv));
    }
    dsql__hook_call(m, db, DSQL_HOOK_AFTER_DESTROY, &h, NULL);
    return DSQL_OK;
}

int dsql_delete_row(dsql_db *db, const dsql_model *m, void *row, dsql_error *err)
{
    return dsql__api_ret("dsql_delete_row", delete_row_call(db, m, row, err), err);
}

static int destroy_call(dsql_db *db, const dsql_model *m, const dsql_where *where,
                        uint64_t *affected, dsql_error *err)
{
    return dsql_delete(db, m, where, affected, err);
}

int dsql_destroy(dsql_db *db, const dsql_model *m, const dsql_where *where, uint64_t *affected,
                 dsql_error *err)
{
    return dsql__api_ret("dsql_destroy", destroy_call(db, m, where, affected, err), err);
}
