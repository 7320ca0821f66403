/*
 * Batches: model operations queued with their statements built (and their values copied)
 * at once, then sent as one pipeline.
 *
 * Atomic (and inside the caller's transaction): every statement in one transaction, run
 * by dsql_pipeline_tx's runner (BEGIN, the statements, COMMIT, one Sync; retried whole on
 * conflicts). Independent: one segment per operation, each with its own Sync - a single
 * statement as an implicit transaction, several (an association set) between BEGIN and
 * COMMIT - sent together by dsql__conn_pipeline_segments. A write that met a conflict runs
 * again in a next round (the policy's backoff between rounds) when no operation queued
 * after it uses its table: it lands after them, so it must not overwrite or be missed by
 * any of them.
 *
 * Rows are counted as operations are queued (creates, bulk creates, updates and deletes by
 * key, the source row and links of a set), so a batch over Aurora DSQL's 3,000-row cap per
 * transaction, or over the caller's limits, is refused before anything is sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

#include "dsql/batch.h"

#define DEFAULT_MAX_ROWS  30000
#define DEFAULT_MAX_BYTES (8u << 20)

typedef enum op_kind {
    K_CREATE,
    K_BULK,
    K_UPDATE,
    K_DELETE,
    K_SET,
    K_FIND_ALL,
    K_FIND_ONE,
    K_FIND_PK
} op_kind;

static const char *const kind_names[] = {"dsql_batch_create",         "dsql_batch_bulk_create",
                                         "dsql_batch_update",         "dsql_batch_delete",
                                         "dsql_batch_set_associated", "dsql_batch_find_all",
                                         "dsql_batch_find_one",       "dsql_batch_find_by_pk"};

typedef struct bop {
    op_kind kind;
    const dsql_model *m;
    const char *label; /* the model's or the association's name, for messages */
    size_t first, n;   /* its statements: stmts[first .. first + n) */
    uint64_t rows;     /* rows it is known to modify */
    dsql__plan *plan;  /* finds and creates: how to hydrate the answer */
    size_t n_bulk;     /* K_BULK: rows, for the after hook */
    int status;
    dsql_error *err; /* in the arena; NULL when it succeeded */
    dsql_result *res;
    uint64_t affected;
} bop;

struct dsql_batch {
    dsql_db *db;
    dsql_batch_mode mode;
    size_t max_rows, max_bytes;
    const dsql_retry_policy *policy;
    bop *ops;
    size_t n_ops, cap_ops;
    dsql_stmt *stmts;
    size_t n_stmts, cap_stmts;
    uint64_t rows;
    size_t bytes;
    bool ran;
    int attempts;
    size_t refused; /* the first operation a queue call refused (SIZE_MAX: none) */
    dsql_error refusal;
    dsql__arena arena; /* statement texts, parameter values, errors */
};

static bool is_write(op_kind k)
{
    return k <= K_SET;
}

static int batch_new_call(dsql_db *db, const dsql_batch_options *opts, dsql_batch **out,
                          dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_batch_new: out is NULL");
    *out = NULL;
    if (!dsql__db_is_pool(db) && !dsql__db_is_conn(db))
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_batch_new: db is neither a dsql_pool nor a dsql_conn");
    dsql_batch_options o = DSQL_BATCH_OPTIONS_INIT;
    if (opts)
        o = *opts;
    if (o.mode != DSQL_BATCH_ATOMIC && o.mode != DSQL_BATCH_INDEPENDENT)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_batch_new: mode %d is neither DSQL_BATCH_ATOMIC nor "
                              "DSQL_BATCH_INDEPENDENT",
                              (int)o.mode);
    dsql_batch *b = calloc(1, sizeof *b);
    if (!b)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    b->db = db;
    b->mode = o.mode;
    b->max_rows = o.max_rows ? o.max_rows : DEFAULT_MAX_ROWS;
    b->max_bytes = o.max_bytes ? o.max_bytes : DEFAULT_MAX_BYTES;
    b->policy = o.policy;
    b->refused = SIZE_MAX;
    b->arena = (dsql__arena)DSQL__ARENA_INIT;
    *out = b;
    return DSQL_OK;
}

int(dsql_batch_new)(dsql_db *db, const dsql_batch_options *opts, dsql_batch **out, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_new", batch_new_call(db, opts, out, err), err);
}

void dsql_batch_free(dsql_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_ops; i++) {
        if (b->ops[i].plan) {
            dsql__plan_free(b->ops[i].plan);
            free(b->ops[i].plan);
        }
        dsql_result_free(b->ops[i].res);
    }
    free(b->ops);
    free(b->stmts);
    dsql__arena_free(&b->arena);
    free(b);
}

/* ---- queueing ---- */

/* Remembers the first refused queue call: the batch then refuses to run. */
static int refuse(dsql_batch *b, int rc, dsql_error *err)
{
    if (b->refused == SIZE_MAX) {
        b->refused = b->n_ops;
        if (err)
            b->refusal = *err;
        else
            dsql_error_set(&b->refusal, rc, "refused");
    }
    return rc;
}

/* Checks what every queue call needs; DSQL_EMISUSE after the run. */
static int queue_check(dsql_batch *b, op_kind k, dsql_error *err)
{
    if (!b)
        return dsql_error_set(err, DSQL_EINVAL, "%s: batch is NULL", kind_names[k]);
    if (b->ran)
        return dsql_error_set(err, DSQL_EMISUSE,
                              "%s: the batch has run already (a batch runs once: make a new one)",
                              kind_names[k]);
    return DSQL_OK;
}

/* The row and byte limits for an operation of `rows` rows and `bytes` bytes. */
static int check_limits(dsql_batch *b, op_kind k, const char *label, uint64_t rows, size_t bytes,
                        dsql_error *err)
{
    bool one_tx = b->mode == DSQL_BATCH_ATOMIC || dsql__db_in_transaction(b->db);
    uint64_t cap = one_tx ? dsql__tx_room(b->db) : DSQL__ROW_CAP;
    uint64_t total = one_tx ? b->rows + rows : rows;
    if (total > cap)
        return dsql_error_set(
            err, DSQL_ELIMIT,
            "%s: %s: %s would modify %llu rows, more than one Aurora DSQL transaction may "
            "(%llu%s); nothing was sent: split the work over several batches%s",
            kind_names[k], label,
            one_tx ? (b->mode == DSQL_BATCH_ATOMIC && !dsql__db_in_transaction(b->db)
                          ? "the atomic batch"
                          : "the caller's transaction")
                   : "the operation",
            (unsigned long long)total, (unsigned long long)cap,
            cap < DSQL__ROW_CAP ? " left under the 3,000-row cap" : ": 3,000",
            one_tx ? " or use DSQL_BATCH_INDEPENDENT" : "");
    if (b->rows + rows > b->max_rows)
        return dsql_error_set(err, DSQL_ELIMIT,
                              "%s: %s: the batch would hold %llu rows to write, more than its "
                              "max_rows (%zu); nothing was sent: run it in several batches",
                              kind_names[k], label, (unsigned long long)(b->rows + rows),
                              b->max_rows);
    if (b->bytes + bytes > b->max_bytes)
        return dsql_error_set(err, DSQL_ELIMIT,
                              "%s: %s: the batch would hold %zu bytes of statements and values, "
                              "more than its max_bytes (%zu); nothing was sent: run it in "
                              "several batches",
                              kind_names[k], label, b->bytes + bytes, b->max_bytes);
    return DSQL_OK;
}

/* Bytes a statement takes in the batch. */
static size_t stmt_bytes(const char *sql, const dsql_value *v, size_t n)
{
    size_t bytes = strlen(sql) + 1 + n * sizeof *v + sizeof(dsql_stmt);
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == DSQL_V_TEXT && v[i].u.s)
            bytes += strlen(v[i].u.s) + 1;
        else if (v[i].kind == DSQL_V_BYTES)
            bytes += v[i].u.bytes.len;
    }
    return bytes;
}

/* The statements of the operation being queued, before they join the batch. */
typedef struct pending {
    dsql_stmt st[4];
    size_t n;
    size_t bytes;
} pending;

/* Copies one statement (text and values) into the batch's arena. */
static int pend(void *ctx, const char *sql, const dsql_value *v, size_t n, dsql_error *err)
{
    struct pend_ctx {
        dsql_batch *b;
        pending *p;
    } *c = ctx;
    dsql_batch *b = c->b;
    pending *p = c->p;
    if (p->n == DSQL__ARRAY_LEN(p->st))
        return dsql_error_set(err, DSQL_EINTERNAL, "batch: too many statements in one operation");
    char *text = dsql__arena_strdup(&b->arena, sql);
    dsql_value *vals = n ? dsql__arena_alloc(&b->arena, n * sizeof *vals) : NULL;
    if (!text || (n && !vals))
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        vals[i] = v[i];
        if (v[i].kind == DSQL_V_TEXT && v[i].u.s) {
            vals[i].u.s = dsql__arena_strdup(&b->arena, v[i].u.s);
            if (!vals[i].u.s)
                return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        } else if (v[i].kind == DSQL_V_BYTES && v[i].u.bytes.len) {
            vals[i].u.bytes.data =
                dsql__arena_memdup(&b->arena, v[i].u.bytes.data, v[i].u.bytes.len);
            if (!vals[i].u.bytes.data)
                return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        }
    }
    p->st[p->n++] = (dsql_stmt){text, vals, n};
    p->bytes += stmt_bytes(sql, v, n);
    return DSQL_OK;
}

/* A built statement (text and libpq-style parameters) into the pending list. */
static int pend_built(dsql_batch *b, pending *p, dsql__strbuf *sql, dsql__params *params,
                      dsql_error *err)
{
    if (params->oom)
        return dsql__params_error(params, err);
    if (sql->oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    dsql_value *v = dsql__params_as_values(params);
    if (!v)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    struct {
        dsql_batch *b;
        pending *p;
    } c = {b, p};
    return pend(&c, dsql__sb_str(sql), v, (size_t)params->n, err);
}

/* Appends the operation with its pending statements, once the limits allow it. Takes plan
 * (freed on failure). */
static int push(dsql_batch *b, op_kind k, const dsql_model *m, const char *label, const pending *p,
                uint64_t rows, dsql__plan *plan, size_t n_bulk, dsql_error *err)
{
    int rc = check_limits(b, k, label, rows, p->bytes + sizeof(bop), err);
    if (!rc && b->n_ops == b->cap_ops) {
        size_t cap = b->cap_ops ? 2 * b->cap_ops : 16;
        bop *o = realloc(b->ops, cap * sizeof *o);
        if (!o)
            rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        else {
            b->ops = o;
            b->cap_ops = cap;
        }
    }
    if (!rc && b->n_stmts + p->n > b->cap_stmts) {
        size_t cap = b->cap_stmts ? 2 * b->cap_stmts : 16;
        while (cap < b->n_stmts + p->n)
            cap *= 2;
        dsql_stmt *s = realloc(b->stmts, cap * sizeof *s);
        if (!s)
            rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        else {
            b->stmts = s;
            b->cap_stmts = cap;
        }
    }
    if (rc) {
        if (plan) {
            dsql__plan_free(plan);
            free(plan);
        }
        return rc;
    }
    memcpy(b->stmts + b->n_stmts, p->st, p->n * sizeof *p->st);
    b->ops[b->n_ops++] = (bop){.kind = k,
                               .m = m,
                               .label = label,
                               .first = b->n_stmts,
                               .n = p->n,
                               .rows = rows,
                               .plan = plan,
                               .n_bulk = n_bulk,
                               .status = DSQL_EMISUSE};
    b->n_stmts += p->n;
    b->rows += rows;
    b->bytes += p->bytes + sizeof(bop);
    return DSQL_OK;
}

/* The tail of queueing a write whose statement was built into sql / p (build_rc: how the
 * build went): the statement kept, the operation queued, or the batch refused. */
static int queue_built(dsql_batch *b, op_kind k, const dsql_model *m, dsql__strbuf *sql,
                       dsql__params *p, int build_rc, uint64_t rows, size_t n_bulk, dsql_error *err)
{
    pending pd = {.n = 0};
    int rc = build_rc ? build_rc : pend_built(b, &pd, sql, p, err);
    dsql__sb_free(sql);
    dsql__params_free(p);
    if (rc)
        dsql__err_prefix(err, "%s: %s", kind_names[k], m->name);
    if (!rc)
        rc = push(b, k, m, m->name, &pd, rows, NULL, n_bulk, err);
    return rc ? refuse(b, rc, err) : DSQL_OK;
}

/* A plan for the rows of an INSERT ... RETURNING of m. */
static dsql__plan *model_plan(const dsql_model *m)
{
    dsql__plan *plan = calloc(1, sizeof *plan);
    if (plan)
        dsql__plan_model(plan, m);
    return plan;
}

static int batch_create_call(dsql_batch *b, const dsql_model *m, void *row, dsql_error *err)
{
    int rc = queue_check(b, K_CREATE, err);
    if (rc)
        return rc;
    if ((rc = dsql__model_check(m, err)))
        return refuse(b, rc, err);
    if (!row)
        return refuse(
            b, dsql_error_set(err, DSQL_EINVAL, "dsql_batch_create: %s row is NULL", m->name), err);
    dsql__fill_defaults(m, row);
    dsql_hook h = {.row = row};
    if ((rc = dsql__hook_call(m, b->db, DSQL_HOOK_BEFORE_CREATE, &h, err)) ||
        (rc = dsql__hook_call(m, b->db, DSQL_HOOK_BEFORE_SAVE, &h, err)) ||
        (rc = dsql__validate_insert(m, row, err))) {
        dsql__err_prefix(err, "dsql_batch_create");
        return refuse(b, rc, err);
    }
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    pending pd = {.n = 0};
    dsql__build_insert(&sql, &p, m, row, 1, NULL, true);
    rc = pend_built(b, &pd, &sql, &p, err);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    dsql__plan *plan = NULL;
    if (!rc && !(plan = model_plan(m)))
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (!rc)
        rc = push(b, K_CREATE, m, m->name, &pd, 1, plan, 0, err);
    return rc ? refuse(b, rc, err) : DSQL_OK;
}

int dsql_batch_create(dsql_batch *b, const dsql_model *m, void *row, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_create", batch_create_call(b, m, row, err), err);
}

static int batch_bulk_create_call(dsql_batch *b, const dsql_model *m, void *rows, size_t n,
                                  const dsql_conflict *on_conflict, dsql_error *err)
{
    const char *fn = kind_names[K_BULK];
    int rc = queue_check(b, K_BULK, err);
    if (rc)
        return rc;
    if ((rc = dsql__model_check(m, err)))
        return refuse(b, rc, err);
    if (!rows || n == 0)
        return refuse(b,
                      dsql_error_set(err, DSQL_EINVAL, "%s: %s: %s", fn, m->name,
                                     rows ? "no rows (n is 0)" : "rows is NULL"),
                      err);
    if (n > DSQL__ROW_CAP)
        return refuse(b,
                      dsql_error_set(err, DSQL_ELIMIT,
                                     "%s: %s: %zu rows in one operation, more than one Aurora "
                                     "DSQL transaction may write (3,000); nothing was sent: "
                                     "use dsql_bulk_create, which inserts in chunks",
                                     fn, m->name, n),
                      err);
    if (on_conflict && (rc = dsql__conflict_check(m, on_conflict, fn, err)))
        return refuse(b, rc, err);
    char *base = rows;
    for (size_t r = 0; r < n; r++)
        dsql__fill_defaults(m, base + r * m->struct_size);
    dsql_hook h = {.rows = rows, .n_rows = n};
    if ((rc = dsql__hook_call(m, b->db, DSQL_HOOK_BEFORE_BULK_CREATE, &h, err))) {
        dsql__err_prefix(err, "%s", fn);
        return refuse(b, rc, err);
    }
    for (size_t r = 0; r < n; r++)
        if ((rc = dsql__validate_insert(m, base + r * m->struct_size, err))) {
            dsql__err_prefix(err, "%s: row %zu", fn, r);
            return refuse(b, rc, err);
        }
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql__build_insert(&sql, &p, m, rows, n, on_conflict, false);
    return queue_built(b, K_BULK, m, &sql, &p, DSQL_OK, n, n, err);
}

int dsql_batch_bulk_create(dsql_batch *b, const dsql_model *m, void *rows, size_t n,
                           const dsql_conflict *on_conflict, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_bulk_create",
                         batch_bulk_create_call(b, m, rows, n, on_conflict, err), err);
}

/* The where of an update or delete: by key, so its rows are known before sending. */
static int by_key(op_kind k, const dsql_model *m, const dsql_where *where, dsql_error *err)
{
    if (!where)
        return dsql_error_set(err, DSQL_EINVAL, "%s: %s: where is NULL", kind_names[k], m->name);
    if (!dsql__where_one_row(m, where))
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: %s: where must select at most one row (an equality on the "
                              "primary key or a unique attribute), so that the rows the batch "
                              "writes are known before it is sent; for many rows use %s",
                              kind_names[k], m->name,
                              k == K_UPDATE ? "dsql_update" : "dsql_delete");
    return DSQL_OK;
}

static int batch_update_call(dsql_batch *b, const dsql_model *m, const dsql_assign *assigns,
                             size_t n_assigns, const dsql_where *where, dsql_error *err)
{
    const char *fn = kind_names[K_UPDATE];
    int rc = queue_check(b, K_UPDATE, err);
    if (rc)
        return rc;
    if ((rc = dsql__model_check(m, err)))
        return refuse(b, rc, err);
    if (!assigns || n_assigns == 0)
        return refuse(b, dsql_error_set(err, DSQL_EINVAL, "%s: %s: nothing to set", fn, m->name),
                      err);
    for (size_t i = 0; i < n_assigns; i++)
        if ((int)assigns[i].op == DSQL__ASSIGN_MARK || (int)assigns[i].op == DSQL__ASSIGN_UNMARK)
            return refuse(b,
                          dsql_error_set(err, DSQL_EINVAL, "%s: assignment %zu: unknown op %d", fn,
                                         i + 1, (int)assigns[i].op),
                          err);
    if ((rc = by_key(K_UPDATE, m, where, err)))
        return refuse(b, rc, err);
    dsql_hook h = {.assigns = assigns, .n_assigns = n_assigns, .where = where};
    if ((rc = dsql__hook_call(m, b->db, DSQL_HOOK_BEFORE_BULK_UPDATE, &h, err))) {
        dsql__err_prefix(err, "%s", fn);
        return refuse(b, rc, err);
    }
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    rc = dsql__build_update(&sql, &p, m, assigns, n_assigns, where, err);
    return queue_built(b, K_UPDATE, m, &sql, &p, rc, 1, 0, err);
}

int dsql_batch_update(dsql_batch *b, const dsql_model *m, const dsql_assign *assigns,
                      size_t n_assigns, const dsql_where *where, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_update",
                         batch_update_call(b, m, assigns, n_assigns, where, err), err);
}

static int batch_delete_call(dsql_batch *b, const dsql_model *m, const dsql_where *where,
                             dsql_error *err)
{
    const char *fn = kind_names[K_DELETE];
    int rc = queue_check(b, K_DELETE, err);
    if (rc)
        return rc;
    if ((rc = dsql__model_check(m, err)))
        return refuse(b, rc, err);
    if ((rc = by_key(K_DELETE, m, where, err)))
        return refuse(b, rc, err);
    dsql_hook h = {.where = where};
    if ((rc = dsql__hook_call(m, b->db, DSQL_HOOK_BEFORE_BULK_DESTROY, &h, err))) {
        dsql__err_prefix(err, "%s", fn);
        return refuse(b, rc, err);
    }
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    const dsql_attr *deleted = dsql__deleted_attr(m);
    if (deleted) { /* paranoid: the row is marked, as dsql_delete marks it */
        dsql_assign as = {.attr = deleted->name, .op = (dsql_assign_op)DSQL__ASSIGN_MARK};
        rc = dsql__build_update(&sql, &p, m, &as, 1, where, err);
    } else {
        dsql__sb_append(&sql, "DELETE FROM ");
        dsql__sql_table(&sql, m);
        dsql__sb_append(&sql, " WHERE ");
        if ((rc = dsql__build_where(&sql, &p, m, NULL, where, err)))
            dsql__err_prefix(err, "where");
    }
    return queue_built(b, K_DELETE, m, &sql, &p, rc, 1, 0, err);
}

int dsql_batch_delete(dsql_batch *b, const dsql_model *m, const dsql_where *where, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_delete", batch_delete_call(b, m, where, err), err);
}

static int batch_set_associated_call(dsql_batch *b, const dsql_assoc *a, const void *source_row,
                                     const void *const *targets, size_t n, dsql_error *err)
{
    int rc = queue_check(b, K_SET, err);
    if (rc)
        return rc;
    pending pd = {.n = 0};
    struct {
        dsql_batch *b;
        pending *p;
    } c = {b, &pd};
    uint64_t rows = 0;
    rc = dsql__assoc_set_build(a, source_row, targets, n, pend, &c, &rows, err);
    if (rc) {
        dsql__err_prefix(err, "dsql_batch_set_associated");
        return refuse(b, rc, err);
    }
    const char *label = a->alias ? a->alias : a->target->name;
    rc = push(b, K_SET, a->source, label, &pd, rows, NULL, 0, err);
    return rc ? refuse(b, rc, err) : DSQL_OK;
}

int dsql_batch_set_associated(dsql_batch *b, const dsql_assoc *a, const void *source_row,
                              const void *const *targets, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_set_associated",
                         batch_set_associated_call(b, a, source_row, targets, n, err), err);
}

/* A find: the SELECT built now, its plan kept for the answer. */
static int queue_find(dsql_batch *b, op_kind k, const dsql__select *s, dsql_error *err)
{
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    pending pd = {.n = 0};
    dsql__plan *plan = calloc(1, sizeof *plan);
    int rc = plan ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (!rc)
        rc = dsql__build_select(s, &sql, &p, plan, err);
    if (!rc)
        rc = pend_built(b, &pd, &sql, &p, err);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (rc) {
        if (plan) {
            dsql__plan_free(plan);
            free(plan);
        }
        dsql__err_prefix(err, "%s", kind_names[k]);
        return refuse(b, rc, err);
    }
    rc = push(b, k, s->m, s->m->name, &pd, 0, plan, 0, err);
    return rc ? refuse(b, rc, err) : DSQL_OK;
}

static int batch_find_all_call(dsql_batch *b, const dsql_model *m, const dsql_query *q,
                               dsql_error *err)
{
    int rc = queue_check(b, K_FIND_ALL, err);
    if (rc)
        return rc;
    return queue_find(b, K_FIND_ALL, &(dsql__select){.m = m, .q = q}, err);
}

int dsql_batch_find_all(dsql_batch *b, const dsql_model *m, const dsql_query *q, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_find_all", batch_find_all_call(b, m, q, err), err);
}

static int batch_find_one_call(dsql_batch *b, const dsql_model *m, const dsql_query *q,
                               dsql_error *err)
{
    int rc = queue_check(b, K_FIND_ONE, err);
    if (rc)
        return rc;
    return queue_find(b, K_FIND_ONE, &(dsql__select){.m = m, .q = q, .limit = 1}, err);
}

int dsql_batch_find_one(dsql_batch *b, const dsql_model *m, const dsql_query *q, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_find_one", batch_find_one_call(b, m, q, err), err);
}

static int batch_find_by_pk_call(dsql_batch *b, const dsql_model *m, dsql_value pk,
                                 const dsql_query *q, dsql_error *err)
{
    const char *fn = kind_names[K_FIND_PK];
    int rc = queue_check(b, K_FIND_PK, err);
    if (rc)
        return rc;
    if ((rc = dsql__model_check(m, err)))
        return refuse(b, rc, err);
    const dsql_attr *key = dsql__model_pk(m);
    if (!key)
        return refuse(
            b, dsql_error_set(err, DSQL_EINVAL, "%s: model %s has no primary key", fn, m->name),
            err);
    if (q && q->where)
        return refuse(b,
                      dsql_error_set(err, DSQL_EINVAL,
                                     "%s: the query's where must be NULL (the primary key "
                                     "selects the row)",
                                     fn),
                      err);
    if (pk.kind == DSQL_V_NULL || (pk.kind == DSQL_V_TEXT && !pk.u.s))
        return refuse(
            b,
            dsql_error_set(err, DSQL_EINVAL, "%s: %s.%s: the key is NULL", fn, m->name, key->name),
            err);
    dsql_where eq = {.op = DSQL_OP_EQ, .attr = key->name, .values = &pk, .n_values = 1};
    return queue_find(b, K_FIND_PK, &(dsql__select){.m = m, .q = q, .extra = &eq, .limit = 1}, err);
}

int dsql_batch_find_by_pk(dsql_batch *b, const dsql_model *m, dsql_value pk, const dsql_query *q,
                          dsql_error *err)
{
    return dsql__api_ret("dsql_batch_find_by_pk", batch_find_by_pk_call(b, m, pk, q, err), err);
}

/* ---- running ---- */

/* Records op's failure (a copy of e, prefixed with the operation). */
static void op_fail(dsql_batch *b, size_t i, int status, const dsql_error *e)
{
    bop *o = &b->ops[i];
    o->status = status;
    o->err = dsql__arena_alloc(&b->arena, sizeof *o->err);
    if (!o->err)
        return;
    *o->err = *e;
    o->err->status = status;
    dsql__err_prefix(o->err, "operation %zu (%s %s)", i, kind_names[o->kind], o->label);
}

/* An operation's answer: hydrated rows, the affected count, the after hooks. res is the
 * answer of its last statement (taken). */
static void op_done(dsql_batch *b, size_t i, dsql_result *res)
{
    bop *o = &b->ops[i];
    dsql_error e = DSQL_ERROR_INIT;
    o->status = DSQL_OK;
    o->err = NULL; /* a failure of an earlier round (its memory stays in the arena) */
    o->affected = res ? dsql_result_affected(res) : 0;
    if (o->plan && res) {
        int rc = dsql__hydrate(res, o->plan, &e);
        if (rc) {
            dsql_result_free(res);
            op_fail(b, i, rc, &e);
            return;
        }
        o->res = res;
        res = NULL;
        if ((o->kind == K_FIND_ONE || o->kind == K_FIND_PK) && o->res->nrows == 0) {
            dsql_error_set(&e, DSQL_ENOTFOUND, "%s: no row matches", o->m->name);
            op_fail(b, i, DSQL_ENOTFOUND, &e);
        }
    }
    dsql_result_free(res);
    if (!o->m->hook)
        return;
    dsql_hook h = {0};
    switch (o->kind) {
    case K_CREATE:
        h.row = o->res && o->res->nrows == 1 ? o->res->rows : NULL;
        if (h.row) {
            dsql__hook_call(o->m, b->db, DSQL_HOOK_AFTER_CREATE, &h, NULL);
            dsql__hook_call(o->m, b->db, DSQL_HOOK_AFTER_SAVE, &h, NULL);
        }
        break;
    case K_BULK:
        h.affected = o->affected;
        h.n_rows = o->n_bulk;
        dsql__hook_call(o->m, b->db, DSQL_HOOK_AFTER_BULK_CREATE, &h, NULL);
        break;
    case K_UPDATE:
        h.affected = o->affected;
        dsql__hook_call(o->m, b->db, DSQL_HOOK_AFTER_BULK_UPDATE, &h, NULL);
        break;
    case K_DELETE:
        h.affected = o->affected;
        dsql__hook_call(o->m, b->db, DSQL_HOOK_AFTER_BULK_DESTROY, &h, NULL);
        break;
    default:
        break;
    }
}

/* The operation a statement index belongs to. */
static size_t op_of(const dsql_batch *b, size_t stmt)
{
    size_t lo = 0, hi = b->n_ops;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->ops[mid].first <= stmt)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* A lost connection or a missed deadline: writes may have applied, reads did not answer. */
static void op_lost(dsql_batch *b, size_t i, int rc, const dsql_error *e)
{
    dsql_error u = *e;
    if (is_write(b->ops[i].kind)) {
        dsql__err_prefix(&u, "it may or may not have been applied (the whole pipeline was "
                             "sent)");
        op_fail(b, i, DSQL_EUNKNOWN_OUTCOME, &u);
    } else {
        op_fail(b, i, rc == DSQL_ETIMEOUT ? DSQL_ETIMEOUT : DSQL_ECONNLOST, &u);
    }
}

/* One transaction: dsql_pipeline_tx's runner (in the caller's transaction: joins it). */
static void run_one_tx(dsql_batch *b, dsql_error *err)
{
    dsql_result **res = calloc(b->n_stmts, sizeof *res);
    dsql_error e = DSQL_ERROR_INIT;
    if (!res) {
        dsql_error_set(&e, DSQL_ENOMEM, "out of memory");
        for (size_t i = 0; i < b->n_ops; i++)
            op_fail(b, i, DSQL_ENOMEM, &e);
        return;
    }
    size_t failed = b->n_stmts;
    int rc = dsql__pipeline_tx_at(b->db, b->stmts, b->n_stmts, res, b->policy, &failed,
                                  &b->attempts, &e);
    if (rc == DSQL_OK) {
        for (size_t i = 0; i < b->n_ops; i++) {
            bop *o = &b->ops[i];
            for (size_t s = o->first; s + 1 < o->first + o->n; s++)
                dsql_result_free(res[s]);
            op_done(b, i, res[o->first + o->n - 1]);
        }
    } else {
        for (size_t s = 0; s < b->n_stmts; s++)
            dsql_result_free(res[s]);
        size_t culprit = failed < b->n_stmts ? op_of(b, failed) : SIZE_MAX;
        dsql_error ab = DSQL_ERROR_INIT;
        dsql_error_set(&ab, DSQL_EABORTED,
                       "not applied: the batch is one transaction and it failed%s%s",
                       culprit != SIZE_MAX ? " at another operation" : "",
                       culprit != SIZE_MAX ? "" : " (see dsql_batch_run's error)");
        for (size_t i = 0; i < b->n_ops; i++) {
            if (rc == DSQL_EUNKNOWN_OUTCOME)
                op_lost(b, i, DSQL_ECONNLOST, &e);
            else if (i == culprit || culprit == SIZE_MAX)
                op_fail(b, i, rc, &e);
            else
                op_fail(b, i, DSQL_EABORTED, &ab);
        }
        if (err) {
            *err = culprit != SIZE_MAX ? *b->ops[culprit].err : e;
            if (culprit == SIZE_MAX)
                dsql__err_prefix(err, "the batch's transaction");
        }
    }
    free(res);
}

/* Independent transactions for the operations idx[0 .. n): one segment each, one round
 * trip. */
static void run_segments(dsql_batch *b, const size_t *idx, size_t n)
{
    size_t total = 0;
    for (size_t j = 0; j < n; j++)
        total += b->ops[idx[j]].n + (b->ops[idx[j]].n > 1 ? 2 : 0); /* own BEGIN, COMMIT */
    dsql_stmt *all = calloc(total, sizeof *all);
    size_t *at = calloc(n, sizeof *at); /* index in all of operation idx[j]'s first statement */
    dsql__segment *segs = calloc(n, sizeof *segs);
    PGresult **out = calloc(total, sizeof *out);
    dsql_error e = DSQL_ERROR_INIT;
    dsql_conn *conn = NULL;
    int rc = all && at && segs && out ? DSQL_OK : dsql_error_set(&e, DSQL_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t j = 0; !rc && j < n; j++) {
        const bop *o = &b->ops[idx[j]];
        bool tx = o->n > 1;
        if (tx)
            all[k++] = (dsql_stmt){DSQL__BEGIN_SQL, NULL, 0};
        at[j] = k;
        memcpy(all + k, b->stmts + o->first, o->n * sizeof *all);
        k += o->n;
        if (tx)
            all[k++] = (dsql_stmt){"COMMIT", NULL, 0};
        segs[j].end = k;
    }
    if (!rc)
        rc = dsql__db_acquire(b->db, &conn, &e);
    bool acquired = !rc;
    int prc = DSQL_OK;
    if (!rc)
        prc = dsql__conn_pipeline_segments(conn, all, total, segs, n, out, &e);
    if (acquired)
        dsql__db_release(b->db, conn);
    for (size_t j = 0; j < n; j++) {
        size_t i = idx[j];
        const bop *o = &b->ops[i];
        if (rc) {
            op_fail(b, i, rc, &e);
            continue;
        }
        dsql__segment *s = &segs[j];
        if (s->synced && s->rc) {
            op_fail(b, i, s->rc, &s->err);
        } else if (s->synced) {
            op_done(b, i, dsql__result_new(out[at[j] + o->n - 1]));
            out[at[j] + o->n - 1] = NULL;
        } else if (prc) {
            op_lost(b, i, prc, &e);
        } else {
            dsql_error_set(&e, DSQL_EINTERNAL, "batch: no answer for the operation");
            op_fail(b, i, DSQL_EINTERNAL, &e);
        }
    }
    for (size_t j = 0; out && j < total; j++)
        PQclear(out[j]);
    free(all);
    free(at);
    free(segs);
    free(out);
}

/* True when operation j reads or writes table (an association set: any table). */
static bool uses_table(const bop *o, const char *table)
{
    if (o->kind == K_SET || !strcmp(o->m->table, table))
        return true;
    for (size_t k = 0; o->plan && k < o->plan->n_nodes; k++)
        if (!strcmp(o->plan->nodes[k].m->table, table))
            return true;
    return false;
}

/* Appends "; <what>" to an operation's error message (cut to fit). */
static void op_note(bop *o, const char *fmt, ...) DSQL_PRINTF(2, 3);
static void op_note(bop *o, const char *fmt, ...)
{
    if (!o->err)
        return;
    size_t len = strlen(o->err->message);
    if (len + 2 >= sizeof o->err->message)
        return;
    memcpy(o->err->message + len, "; ", 3);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->err->message + len + 2, sizeof o->err->message - len - 2, fmt, ap);
    va_end(ap);
}

/* A write that met a conflict runs again only when no operation queued after it uses its
 * table: run later than they did, it must neither overwrite a later write nor be missing
 * from a later read. Else its error says why it was not run again. */
static bool may_run_again(dsql_batch *b, size_t i)
{
    bop *o = &b->ops[i];
    if (o->status != DSQL_ECONFLICT || !is_write(o->kind))
        return false;
    if (o->kind == K_SET) {
        op_note(o, "not run again: an association set touches several tables");
        return false;
    }
    size_t later = i + 1;
    while (later < b->n_ops && !uses_table(&b->ops[later], o->m->table))
        later++;
    if (later == b->n_ops)
        return true;
    op_note(o, "not run again: operation %zu, queued after it, uses table %s", later, o->m->table);
    return false;
}

/* One round of independent operations: the writes that met a conflict, and may, run
 * again in the next round (dsql__retry_run's backoff between rounds). */
typedef struct indep_run {
    dsql_batch *b;
    size_t *todo; /* the operations of the next round, in the order queued */
    size_t n_todo;
} indep_run;

static int indep_round(void *arg, int attempt, bool *retryable, dsql_error *e)
{
    indep_run *r = arg;
    dsql_batch *b = r->b;
    run_segments(b, r->todo, r->n_todo);
    b->attempts = attempt;
    size_t again = 0;
    for (size_t j = 0; j < r->n_todo; j++)
        if (may_run_again(b, r->todo[j]))
            r->todo[again++] = r->todo[j];
    r->n_todo = again;
    if (again == 0)
        return DSQL_OK; /* every operation has its final status */
    *retryable = true;
    const dsql_error *cause = b->ops[r->todo[0]].err; /* NULL when out of memory */
    if (cause)
        *e = *cause;
    else
        dsql_error_set(e, DSQL_ECONFLICT, "operation %zu met a conflict", r->todo[0]);
    return DSQL_ECONFLICT;
}

static void run_independent(dsql_batch *b)
{
    indep_run r = {b, malloc(b->n_ops * sizeof *r.todo), b->n_ops};
    dsql_error e = DSQL_ERROR_INIT;
    dsql__policy p;
    int rc = r.todo ? dsql__policy_resolve(b->policy, &p, &e)
                    : dsql_error_set(&e, DSQL_ENOMEM, "out of memory");
    if (rc) {
        for (size_t i = 0; i < b->n_ops; i++)
            op_fail(b, i, rc, &e);
        free(r.todo);
        return;
    }
    for (size_t i = 0; i < b->n_ops; i++)
        r.todo[i] = i;
    dsql__retry_unit u = {.policy = &p, .what = "Batch", .attempt = indep_round};
    dsql__db_logger(b->db, &u.log, &u.log_ctx);
    int attempts = 0;
    if (dsql__retry_run(&u, &r, &attempts, &e) != DSQL_OK)
        for (size_t j = 0; j < r.n_todo; j++) /* conflicted in every round */
            op_note(&b->ops[r.todo[j]], "gave up after %d attempts", attempts);
    free(r.todo);
}

static int batch_run_call(dsql_batch *b, dsql_error *err)
{
    if (!b)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_batch_run: batch is NULL");
    if (b->ran)
        return dsql_error_set(err, DSQL_EMISUSE,
                              "dsql_batch_run: the batch has run already (a batch runs once)");
    if (b->refused != SIZE_MAX) {
        dsql_error_set(err, DSQL_EMISUSE,
                       "dsql_batch_run: operation %zu was refused when it was queued, so "
                       "nothing of the batch is sent (make the batch again without it): %s",
                       b->refused, b->refusal.message);
        return DSQL_EMISUSE;
    }
    b->ran = true;
    if (b->n_ops == 0)
        return DSQL_OK;
    bool enclosed = dsql__db_in_transaction(b->db);
    if (enclosed && b->rows > dsql__tx_room(b->db)) {
        b->ran = false;
        return dsql_error_set(err, DSQL_ELIMIT,
                              "dsql_batch_run: the batch writes %llu rows, but the caller's "
                              "transaction has %llu left under Aurora DSQL's 3,000-row cap; "
                              "nothing was sent",
                              (unsigned long long)b->rows,
                              (unsigned long long)dsql__tx_room(b->db));
    }
    dsql_error first = DSQL_ERROR_INIT;
    if (enclosed || b->mode == DSQL_BATCH_ATOMIC)
        run_one_tx(b, &first);
    else
        run_independent(b);
    size_t ok = 0, failed = 0, first_failed = SIZE_MAX;
    for (size_t i = 0; i < b->n_ops; i++) {
        int s = b->ops[i].status;
        if (s == DSQL_OK || (s == DSQL_ENOTFOUND && !is_write(b->ops[i].kind))) {
            ok += is_write(b->ops[i].kind);
        } else {
            failed++;
            if (first_failed == SIZE_MAX && s != DSQL_EABORTED)
                first_failed = i;
        }
    }
    if (failed == 0)
        return DSQL_OK;
    if (first_failed == SIZE_MAX)
        first_failed = 0;
    const bop *f = &b->ops[first_failed];
    int rc = f->status;
    if (first.status == 0 && f->err)
        first = *f->err;
    if (b->mode == DSQL_BATCH_INDEPENDENT && !enclosed && ok > 0) {
        rc = DSQL_EPARTIAL;
        dsql__err_prefix(&first,
                         "%zu of %zu operations failed, %zu writes applied; the first "
                         "failure",
                         failed, b->n_ops, ok);
        first.status = rc;
    }
    dsql__err_prefix(&first, "dsql_batch_run");
    if (err)
        *err = first;
    return rc;
}

int dsql_batch_run(dsql_batch *b, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_run", batch_run_call(b, err), err);
}

/* ---- results ---- */

size_t dsql_batch_size(const dsql_batch *b)
{
    return b ? b->n_ops : 0;
}

int dsql_batch_status(const dsql_batch *b, size_t op)
{
    if (!b || !b->ran || op >= b->n_ops)
        return DSQL_EMISUSE;
    return b->ops[op].status;
}

const dsql_error *dsql_batch_error(const dsql_batch *b, size_t op)
{
    if (!b || !b->ran || op >= b->n_ops)
        return NULL;
    return b->ops[op].err;
}

static int batch_rows_call(const dsql_batch *b, size_t op, void *rows, size_t *n, dsql_error *err)
{
    if (rows)
        dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (!b)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_batch_rows: batch is NULL");
    if (!b->ran)
        return dsql_error_set(err, DSQL_EMISUSE, "dsql_batch_rows: the batch has not run yet");
    if (op >= b->n_ops)
        return dsql_error_set(err, DSQL_EMISUSE,
                              "dsql_batch_rows: operation %zu: the batch has %zu", op, b->n_ops);
    const struct bop *o = &b->ops[op];
    if (o->status) {
        if (err && o->err)
            *err = *o->err;
        return o->status;
    }
    if (o->res) {
        if (rows)
            dsql__put_ptr(rows, o->res->rows);
        if (n)
            *n = o->res->nrows;
    }
    return DSQL_OK;
}

int dsql_batch_rows(const dsql_batch *b, size_t op, void *rows, size_t *n, dsql_error *err)
{
    return dsql__api_ret("dsql_batch_rows", batch_rows_call(b, op, rows, n, err), err);
}

uint64_t dsql_batch_affected(const dsql_batch *b, size_t op)
{
    if (!b || !b->ran || op >= b->n_ops || b->ops[op].status)
        return 0;
    return b->ops[op].affected;
}

int dsql_batch_attempts(const dsql_batch *b)
{
    return b ? b->attempts : 0;
}
