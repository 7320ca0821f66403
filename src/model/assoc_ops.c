/*
 * Association operations on one source row: the lazy getter (dsql_get_associated) and
 * the setters (dsql_set_associated / dsql_add_associated / dsql_remove_associated).
 *
 * Each setter is one transaction sent as one pipeline (dsql_pipeline_tx): BEGIN, a write
 * to the source row (see add_touch), the DELETE / UPDATE of what is no longer wanted, the
 * INSERT / UPDATE of what is new, COMMIT — one network round trip, retried whole on OCC
 * conflicts. No statement depends on a value read earlier in the transaction, so nothing
 * needs a round trip of its own:
 *
 *   belongs-to-many set:
 *     UPDATE source SET c = c WHERE pk = $1
 *     DELETE FROM through WHERE fk = $s AND (other IS NULL OR other NOT IN ($t1, ...))
 *     INSERT INTO through (id, fk, other)
 *       SELECT v.id, v.fk, v.other FROM (VALUES ($i::uuid, $s::uuid, $t1::text), ...)
 *              AS v (id, fk, other)
 *       WHERE NOT EXISTS (SELECT 1 FROM through j WHERE j.fk = v.fk AND j.other = v.other)
 *   has-many set:
 *     UPDATE source SET c = c WHERE pk = $1
 *     UPDATE target SET fk = NULL WHERE fk = $s AND pk NOT IN ($t1, ...)
 *     UPDATE target SET fk = $s WHERE pk IN ($t1, ...)
 *
 * The write to the source row makes every change to one source's set write a common
 * row, so two concurrent changes conflict and one retries. Without it, two sets that
 * touch disjoint join rows could both commit and leave a mix or a duplicate (write
 * skew).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

typedef enum op_kind { OP_SET, OP_ADD, OP_REMOVE, OP_CREATE } op_kind;

static const char *const op_names[] = {"dsql_set_associated", "dsql_add_associated",
                                       "dsql_remove_associated", "dsql_create_linked"};

/* ---- statement building ---- */

/* A statement under construction: its text and its parameters. */
typedef struct stmt_buf {
    dsql__strbuf sql;
    dsql_value *vals;
    size_t n, cap;
    bool oom;
} stmt_buf;

/* Adds a parameter; returns its $n (0 after a failure, noted in oom). */
static size_t param(stmt_buf *s, dsql_value v)
{
    if (s->oom)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        if (s->n >= 65535) { /* the protocol's limit per statement */
            s->oom = true;
            return 0;
        }
        dsql_value *p = realloc(s->vals, cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return 0;
        }
        s->vals = p;
        s->cap = cap;
    }
    s->vals[s->n++] = v;
    return s->n;
}

static void stmt_free(stmt_buf *s)
{
    dsql__sb_free(&s->sql);
    free(s->vals);
}

/* A total order on values of one attribute (they share a kind, NULL aside). */
static int value_cmp(const void *pa, const void *pb)
{
    const dsql_value *x = pa, *y = pb;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    switch (x->kind) {
    case DSQL_V_NULL:
        return 0;
    case DSQL_V_TEXT:
        return strcmp(x->u.s, y->u.s);
    case DSQL_V_INT:
        return x->u.i < y->u.i ? -1 : x->u.i > y->u.i;
    case DSQL_V_DOUBLE:
        return x->u.d < y->u.d ? -1 : x->u.d > y->u.d;
    case DSQL_V_BOOL:
        return (int)x->u.b - (int)y->u.b;
    case DSQL_V_BYTES: {
        size_t n = x->u.bytes.len < y->u.bytes.len ? x->u.bytes.len : y->u.bytes.len;
        int c = n ? memcmp(x->u.bytes.data, y->u.bytes.data, n) : 0;
        if (c)
            return c;
        return x->u.bytes.len < y->u.bytes.len ? -1 : x->u.bytes.len > y->u.bytes.len;
    }
    }
    return 0;
}

/* Everything one operation needs, resolved and checked before anything is sent. */
typedef struct op_ctx {
    op_kind op;
    const dsql_assoc *a;
    dsql__assoc_keys k;
    const dsql_attr *source_pk; /* for the touch; NULL = the source has no primary key */
    dsql_value source_pk_val;
    dsql_value link_val;        /* the source's value the association links by */
    const dsql_attr *target_id; /* the target attribute that identifies a target row */
    dsql_value *tvals;          /* the targets' identifying values, duplicates removed */
    size_t n_tvals;
    stmt_buf st[4];
    size_t n_st;
    dsql__arena arena;    /* generated join-row keys */
    dsql__params created; /* OP_CREATE: the INSERT's parameters (st[0] points into them) */
} op_ctx;

static void op_free(op_ctx *c)
{
    dsql__params_free(&c->created);
    free(c->tvals);
    for (size_t i = 0; i < DSQL__ARRAY_LEN(c->st); i++)
        stmt_free(&c->st[i]);
    dsql__arena_free(&c->arena);
}

static stmt_buf *next_stmt(op_ctx *c)
{
    return &c->st[c->n_st++];
}

/* "$a, $b, ..." over the targets' values. */
static void target_list(stmt_buf *s, const op_ctx *c)
{
    for (size_t i = 0; i < c->n_tvals; i++)
        dsql__sb_appendf(&s->sql, "%s$%zu", i ? ", " : "", param(s, c->tvals[i]));
}

/*
 * UPDATE source SET c = c WHERE pk = $1: a write to the source row that changes nothing.
 * Two changes to one source's set then always write a common row, so they conflict and
 * one retries (DSQL: OCC at commit; PostgreSQL: the second waits, then fails with 40001
 * under REPEATABLE READ or re-reads under READ COMMITTED). SELECT ... FOR UPDATE would do
 * on DSQL, but under PostgreSQL's REPEATABLE READ a lock alone raises no conflict and
 * the second transaction goes on with its old snapshot. c: the first attribute that is
 * not the key (rewriting a key column is avoided), else the key itself.
 */
static void add_touch(op_ctx *c)
{
    if (!c->source_pk)
        return;
    const dsql_model *src = c->a->source;
    const dsql_attr *col = c->source_pk;
    for (size_t i = 0; i < src->n_attrs && col == c->source_pk; i++)
        if (&src->attrs[i] != c->source_pk)
            col = &src->attrs[i];
    stmt_buf *s = next_stmt(c);
    dsql__sb_append(&s->sql, "UPDATE ");
    dsql__sql_table(&s->sql, src);
    dsql__sb_append(&s->sql, " SET ");
    dsql__sql_ident(&s->sql, dsql__attr_column(col));
    dsql__sb_append(&s->sql, " = ");
    dsql__sql_ident(&s->sql, dsql__attr_column(col));
    dsql__sb_append(&s->sql, " WHERE ");
    dsql__sql_ident(&s->sql, dsql__attr_column(c->source_pk));
    dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->source_pk_val));
}

/* Appends `$n::type` for v, typed as attribute a. Text and numeric values are cast to the
 * unconstrained type: an explicit cast to varchar(n) or numeric(p,s) would silently cut
 * or round a value that the INSERT's assignment to the column rejects. */
static void typed_param(stmt_buf *s, const dsql_attr *a, dsql_value v)
{
    char type[32];
    const char *t;
    switch (a->type) {
    case DSQL_T_STRING:
    case DSQL_T_CHAR:
    case DSQL_T_TEXT:
        t = "text";
        break;
    case DSQL_T_NUMERIC:
        t = "numeric";
        break;
    default:
        t = dsql__sql_type(a, type, sizeof type);
        break;
    }
    dsql__sb_appendf(&s->sql, "$%zu::%s", param(s, v), t);
}

/* Appends prefix and the quoted column of attribute x ("j." + "\"vetId\""). */
static void col(dsql__strbuf *sb, const char *prefix, const dsql_attr *x)
{
    dsql__sb_append(sb, prefix);
    dsql__sql_ident(sb, dsql__attr_column(x));
}

/* belongs-to-many, first statement: the join rows to drop (set: those not among the new
 * targets; remove: those of the given targets). */
static void btm_delete(op_ctx *c)
{
    const dsql_attr *fk = c->k.foreign_key, *ok = c->k.other_key;
    stmt_buf *s = next_stmt(c);
    dsql__sb_append(&s->sql, "DELETE FROM ");
    dsql__sql_table(&s->sql, c->a->through);
    col(&s->sql, " WHERE ", fk);
    dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->link_val));
    if (c->op == OP_REMOVE) {
        col(&s->sql, " AND ", ok);
        dsql__sb_append(&s->sql, " IN (");
        target_list(s, c);
        dsql__sb_append_c(&s->sql, ')');
    } else if (c->n_tvals) {
        col(&s->sql, " AND (", ok);
        col(&s->sql, " IS NULL OR ", ok);
        dsql__sb_append(&s->sql, " NOT IN (");
        target_list(s, c);
        dsql__sb_append(&s->sql, "))");
    }
}

/* The columns of a join row, in order: [key,] foreign key, other key, then the attributes
 * with a constant default. The key is generated (a fresh UUIDv4) when that is its
 * default; any other NOT NULL attribute without a default cannot be filled. */
typedef struct btm_cols {
    const dsql_attr *cols[67];
    size_t n;
    bool gen_pk;
} btm_cols;

static int btm_columns(op_ctx *c, btm_cols *bc, dsql_error *err)
{
    const dsql_model *through = c->a->through;
    const dsql_attr *fk = c->k.foreign_key, *ok = c->k.other_key;
    const dsql_attr *pk = dsql__model_pk(through);
    bc->gen_pk = pk && pk != fk && pk != ok && pk->default_uuid_v4;
    bc->n = 0;
    if (bc->gen_pk)
        bc->cols[bc->n++] = pk;
    bc->cols[bc->n++] = fk;
    bc->cols[bc->n++] = ok;
    for (size_t i = 0; i < through->n_attrs; i++) {
        const dsql_attr *x = &through->attrs[i];
        if (x == fk || x == ok || (bc->gen_pk && x == pk))
            continue;
        if (x->default_value.kind != DSQL_V_NULL) {
            if (bc->n == DSQL__ARRAY_LEN(bc->cols))
                return dsql_error_set(err, DSQL_EINVAL, "join model %s: too many attributes",
                                      through->name);
            bc->cols[bc->n++] = x;
        } else if ((x->not_null || x->primary_key) && !(x->default_sql && *x->default_sql)) {
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: join model %s: attribute %s is %s but has no default "
                                  "(.default_uuid_v4, .default_sql or a constant); only the "
                                  "two keys of a join row are known",
                                  op_names[c->op], through->name, x->name,
                                  x->primary_key ? "the primary key" : "NOT NULL");
        }
    }
    return DSQL_OK;
}

/* One VALUES row of the join rows to insert: the target t's. */
static void btm_values_row(op_ctx *c, stmt_buf *s, const btm_cols *bc, size_t t)
{
    dsql__sb_append(&s->sql, t ? ", (" : "(");
    for (size_t i = 0; i < bc->n; i++) {
        const dsql_attr *x = bc->cols[i];
        if (i)
            dsql__sb_append(&s->sql, ", ");
        if (bc->gen_pk && i == 0) {
            dsql_uuid u;
            dsql_uuid_v4(&u);
            char *id = dsql__arena_strdup(&c->arena, u.str);
            if (!id)
                s->oom = true;
            typed_param(s, x, DSQL_STR(id ? id : ""));
        } else if (x == c->k.foreign_key) {
            typed_param(s, x, c->link_val);
        } else if (x == c->k.other_key) {
            typed_param(s, x, c->tvals[t]);
        } else {
            typed_param(s, x, x->default_value);
        }
    }
    dsql__sb_append_c(&s->sql, ')');
}

/* belongs-to-many, second statement: INSERT INTO through (cols) SELECT v.cols FROM (VALUES
 * ...) AS v (cols) [WHERE NOT EXISTS (the same link)]: the links that are not there yet. */
static void btm_insert(op_ctx *c, const btm_cols *bc)
{
    const dsql_attr *fk = c->k.foreign_key, *ok = c->k.other_key;
    stmt_buf *s = next_stmt(c);
    dsql__strbuf names = DSQL__STRBUF_INIT; /* "a", "b", ... */
    for (size_t i = 0; i < bc->n; i++)
        col(&names, i ? ", " : "", bc->cols[i]);
    dsql__sb_append(&s->sql, "INSERT INTO ");
    dsql__sql_table(&s->sql, c->a->through);
    dsql__sb_append(&s->sql, " (");
    dsql__sb_append(&s->sql, dsql__sb_str(&names));
    dsql__sb_append(&s->sql, ") SELECT ");
    for (size_t i = 0; i < bc->n; i++) /* v's columns carry the join table's names */
        col(&s->sql, i ? ", v." : "v.", bc->cols[i]);
    dsql__sb_append(&s->sql, " FROM (VALUES ");
    for (size_t t = 0; t < c->n_tvals; t++)
        btm_values_row(c, s, bc, t);
    dsql__sb_append(&s->sql, ") AS v (");
    dsql__sb_append(&s->sql, dsql__sb_str(&names));
    dsql__sb_append_c(&s->sql, ')');
    if (c->op != OP_CREATE) { /* a new source has no join rows yet */
        dsql__sb_append(&s->sql, " WHERE NOT EXISTS (SELECT 1 FROM ");
        dsql__sql_table(&s->sql, c->a->through);
        col(&s->sql, " j WHERE j.", fk);
        col(&s->sql, " = v.", fk);
        col(&s->sql, " AND j.", ok);
        col(&s->sql, " = v.", ok);
        dsql__sb_append_c(&s->sql, ')');
    }
    if (names.oom)
        s->oom = true;
    dsql__sb_free(&names);
}

static int build_btm(op_ctx *c, dsql_error *err)
{
    if (c->op == OP_SET || (c->op == OP_REMOVE && c->n_tvals))
        btm_delete(c);
    if (c->op == OP_REMOVE || c->n_tvals == 0)
        return DSQL_OK;
    btm_cols bc;
    int rc = btm_columns(c, &bc, err);
    if (rc)
        return rc;
    btm_insert(c, &bc);
    return DSQL_OK;
}

/* has-many and has-one: the targets hold the foreign key. */
static void build_has(op_ctx *c)
{
    const dsql_model *target = c->a->target;
    const dsql_attr *fk = c->k.foreign_key, *id = c->target_id;
    if (c->op == OP_SET || (c->op == OP_REMOVE && c->n_tvals)) {
        /* UPDATE target SET fk = NULL WHERE fk = $s [AND pk [NOT] IN (...)] */
        stmt_buf *s = next_stmt(c);
        dsql__sb_append(&s->sql, "UPDATE ");
        dsql__sql_table(&s->sql, target);
        dsql__sb_append(&s->sql, " SET ");
        dsql__sql_ident(&s->sql, dsql__attr_column(fk));
        dsql__sb_append(&s->sql, " = NULL");
        dsql__append_touch(&s->sql, target, false);
        dsql__sb_append(&s->sql, " WHERE ");
        dsql__sql_ident(&s->sql, dsql__attr_column(fk));
        dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->link_val));
        if (c->n_tvals) {
            dsql__sb_append(&s->sql, " AND ");
            dsql__sql_ident(&s->sql, dsql__attr_column(id));
            dsql__sb_append(&s->sql, c->op == OP_REMOVE ? " IN (" : " NOT IN (");
            target_list(s, c);
            dsql__sb_append_c(&s->sql, ')');
        }
    }
    if (c->op != OP_REMOVE && c->n_tvals) {
        /* UPDATE target SET fk = $s WHERE pk IN (...) */
        stmt_buf *s = next_stmt(c);
        dsql__sb_append(&s->sql, "UPDATE ");
        dsql__sql_table(&s->sql, target);
        dsql__sb_append(&s->sql, " SET ");
        dsql__sql_ident(&s->sql, dsql__attr_column(fk));
        dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->link_val));
        dsql__append_touch(&s->sql, target, false);
        dsql__sb_append(&s->sql, " WHERE ");
        dsql__sql_ident(&s->sql, dsql__attr_column(id));
        dsql__sb_append(&s->sql, " IN (");
        target_list(s, c);
        dsql__sb_append_c(&s->sql, ')');
    }
}

/* belongs-to: the source holds the foreign key; one UPDATE of the source row. */
static void build_belongs_to(op_ctx *c)
{
    stmt_buf *s = next_stmt(c);
    dsql__sb_append(&s->sql, "UPDATE ");
    dsql__sql_table(&s->sql, c->a->source);
    dsql__sb_append(&s->sql, " SET ");
    dsql__sql_ident(&s->sql, dsql__attr_column(c->k.foreign_key));
    dsql__sb_appendf(&s->sql, " = $%zu",
                     param(s, c->n_tvals ? c->tvals[0] : (dsql_value){.kind = DSQL_V_NULL}));
    dsql__append_touch(&s->sql, c->a->source, false);
    dsql__sb_append(&s->sql, " WHERE ");
    dsql__sql_ident(&s->sql, dsql__attr_column(c->source_pk));
    dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->source_pk_val));
}

/* ---- checks ---- */

static int op_prepare(op_ctx *c, const dsql_assoc *a, const void *source_row,
                      const void *const *targets, size_t n, dsql_error *err)
{
    const char *fn = op_names[c->op];
    if (!a)
        return dsql_error_set(err, DSQL_EINVAL, "%s: association is NULL", fn);
    int rc = dsql__assoc_resolve(a, &c->k, err);
    if (rc) {
        dsql__err_prefix(err, "%s", fn);
        return rc;
    }
    c->a = a;
    const char *alias = a->alias ? a->alias : "?";
    if (!source_row)
        return dsql_error_set(err, DSQL_EINVAL, "%s: association %s: source row is NULL", fn,
                              alias);
    if (n && !targets)
        return dsql_error_set(err, DSQL_EINVAL, "%s: association %s: targets is NULL", fn, alias);
    bool to_one = a->kind == DSQL_ASSOC_BELONGS_TO || a->kind == DSQL_ASSOC_HAS_ONE;
    if (c->op == OP_CREATE && a->kind == DSQL_ASSOC_BELONGS_TO)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: association %s is belongs-to: the row holds the foreign key "
                              "itself; set its %s and use dsql_create",
                              fn, alias, c->k.foreign_key->name);
    if (to_one && c->op != OP_SET && c->op != OP_CREATE)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: association %s is to-one; use dsql_set_associated with 0 or "
                              "1 target",
                              fn, alias);
    if (to_one && n > 1)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: association %s is to-one: %zu targets given, at most 1", fn,
                              alias, n);

    /* The source row: its primary key (for the touch, or the row to update) and the value
     * the association links by. */
    c->source_pk = dsql__model_pk(a->source);
    if (c->source_pk) {
        if (dsql__attr_is_null(c->source_pk, source_row))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: association %s: the source %s has no %s (save it first)", fn,
                                  alias, a->source->name, c->source_pk->name);
        c->source_pk_val = dsql__attr_value(c->source_pk, source_row);
        if ((rc = dsql__value_check(a->source, c->source_pk, &c->source_pk_val, DSQL__USE_COMPARE,
                                    err))) {
            dsql__err_prefix(err, "%s: association %s: the source", fn, alias);
            return rc;
        }
    } else if (a->kind == DSQL_ASSOC_BELONGS_TO) {
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: association %s: model %s has no primary key to update by", fn,
                              alias, a->source->name);
    }
    if (a->kind != DSQL_ASSOC_BELONGS_TO) {
        if (dsql__attr_is_null(c->k.source_key, source_row))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: association %s: the source %s has no %s (save it first)", fn,
                                  alias, a->source->name, c->k.source_key->name);
        c->link_val = dsql__attr_value(c->k.source_key, source_row);
        if ((rc = dsql__value_check(a->source, c->k.source_key, &c->link_val, DSQL__USE_COMPARE,
                                    err))) {
            dsql__err_prefix(err, "%s: association %s: the source", fn, alias);
            return rc;
        }
    }

    /* The targets: each must have been saved (have the value that identifies it). */
    switch (a->kind) {
    case DSQL_ASSOC_BELONGS_TO:
    case DSQL_ASSOC_BELONGS_TO_MANY:
        c->target_id = c->k.target_key;
        break;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        c->target_id = dsql__model_pk(a->target);
        if (!c->target_id)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: association %s: target model %s has no primary key", fn,
                                  alias, a->target->name);
        break;
    }
    c->tvals = calloc(n ? n : 1, sizeof *c->tvals);
    if (!c->tvals)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!targets[i])
            return dsql_error_set(err, DSQL_EINVAL, "%s: association %s: targets[%zu] is NULL", fn,
                                  alias, i);
        if (dsql__attr_is_null(c->target_id, targets[i]))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s: association %s: targets[%zu] (%s) has no %s (save it "
                                  "first)",
                                  fn, alias, i, a->target->name, c->target_id->name);
        c->tvals[i] = dsql__attr_value(c->target_id, targets[i]);
        if ((rc = dsql__value_check(a->target, c->target_id, &c->tvals[i], DSQL__USE_COMPARE,
                                    err))) {
            dsql__err_prefix(err, "%s: association %s: targets[%zu]", fn, alias, i);
            return rc;
        }
    }
    /* A target listed twice is linked once: sorted, then duplicates dropped. */
    if (n)
        qsort(c->tvals, n, sizeof *c->tvals, value_cmp);
    for (size_t i = 0; i < n; i++)
        if (c->n_tvals == 0 || value_cmp(&c->tvals[c->n_tvals - 1], &c->tvals[i]) != 0)
            c->tvals[c->n_tvals++] = c->tvals[i];
    return DSQL_OK;
}

/* OP_CREATE: the INSERT of the new source row, first in the batch (as dsql_create builds
 * it, without RETURNING), with its parameters as values for the pipeline. */
static int insert_source(op_ctx *c, const void *row, dsql_error *err)
{
    stmt_buf *s = next_stmt(c);
    dsql__build_insert(&s->sql, &c->created, c->a->source, row, 1, NULL, false);
    const dsql__params *p = &c->created;
    if (p->oom)
        return dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", op_names[c->op]);
    for (int i = 0; i < p->n; i++)
        param(s, p->formats[i] ? DSQL_BYTES(p->values[i], (size_t)p->lengths[i])
                               : DSQL_STR(p->values[i])); /* NULL text = SQL NULL */
    return DSQL_OK;
}

/* ---- the row cap inside the caller's transaction ---- */

/* "(SELECT count(* | DISTINCT col) FROM t WHERE [fk = $s] [AND col [NOT] IN (targets)])". */
static void count_links(stmt_buf *s, const op_ctx *c, const dsql_model *t, const dsql_attr *fk,
                        const dsql_attr *col, const char *in, bool distinct)
{
    dsql__sb_append(&s->sql, "(SELECT count(");
    if (distinct) {
        dsql__sb_append(&s->sql, "DISTINCT ");
        dsql__sql_ident(&s->sql, dsql__attr_column(col));
    } else {
        dsql__sb_append_c(&s->sql, '*');
    }
    dsql__sb_append(&s->sql, ") FROM ");
    dsql__sql_table(&s->sql, t);
    dsql__sb_append(&s->sql, " WHERE ");
    if (fk) {
        dsql__sql_ident(&s->sql, dsql__attr_column(fk));
        dsql__sb_appendf(&s->sql, " = $%zu", param(s, c->link_val));
    }
    if (in && c->n_tvals) {
        dsql__sb_append(&s->sql, fk ? " AND " : "");
        if (!strcmp(in, "NOT IN")) { /* a link to NULL is one no target keeps */
            dsql__sb_append_c(&s->sql, '(');
            dsql__sql_ident(&s->sql, dsql__attr_column(col));
            dsql__sb_append(&s->sql, " IS NULL OR ");
        }
        dsql__sql_ident(&s->sql, dsql__attr_column(col));
        dsql__sb_appendf(&s->sql, " %s (", in);
        target_list(s, c);
        dsql__sb_append_c(&s->sql, ')');
        if (!strcmp(in, "NOT IN"))
            dsql__sb_append_c(&s->sql, ')');
    }
    dsql__sb_append_c(&s->sql, ')');
}

/* An upper bound of the rows the operation's statements modify, when one is known without
 * asking the server (*known; a set or a belongs-to-many remove deletes whatever links the
 * table holds). */
static uint64_t rows_bound(const op_ctx *c, bool *known)
{
    uint64_t n = c->n_tvals, base = c->op == OP_CREATE                                    ? 1
                                    : c->a->kind != DSQL_ASSOC_BELONGS_TO && c->source_pk ? 1
                                                                                          : 0;
    *known = true;
    if (c->a->kind == DSQL_ASSOC_BELONGS_TO)
        return 1;
    if (c->op == OP_SET || (c->op == OP_REMOVE && c->a->kind == DSQL_ASSOC_BELONGS_TO_MANY))
        *known = false; /* the links removed: whatever the table holds */
    return base + n;
}

/* Inside the caller's transaction: counts the rows the operation would modify, in the same
 * transaction, and refuses it (nothing written) when they would take the transaction past
 * the cap. A bound known to fit costs nothing. */
static int check_room(dsql_db *db, const op_ctx *c, dsql_error *err)
{
    uint64_t room = dsql__tx_room(db);
    bool known;
    uint64_t rows = rows_bound(c, &known);
    if (known && rows <= room)
        return DSQL_OK;
    bool counted = false;
    bool exact = c->a->kind == DSQL_ASSOC_BELONGS_TO ||
                 (known && c->op == OP_CREATE && c->a->kind == DSQL_ASSOC_BELONGS_TO_MANY);
    if (!exact) {
        const dsql_assoc *a = c->a;
        bool btm = a->kind == DSQL_ASSOC_BELONGS_TO_MANY;
        const dsql_model *t = btm ? a->through : a->target;
        const dsql_attr *fk = c->k.foreign_key, *col = btm ? c->k.other_key : c->target_id;
        stmt_buf s = {DSQL__STRBUF_INIT, NULL, 0, 0, false};
        dsql__sb_appendf(&s.sql, "SELECT %d", c->op == OP_CREATE || c->source_pk ? 1 : 0);
        if (c->op == OP_SET || c->op == OP_REMOVE) {
            dsql__sb_append(&s.sql, " + ");
            count_links(&s, c, t, fk, col, c->op == OP_SET ? "NOT IN" : "IN", false);
        }
        if (c->op != OP_REMOVE && c->n_tvals) {
            if (btm && c->op != OP_CREATE) {
                dsql__sb_appendf(&s.sql, " + %zu - ", c->n_tvals);
                count_links(&s, c, t, fk, col, "IN", true);
            } else if (btm) {
                dsql__sb_appendf(&s.sql, " + %zu", c->n_tvals);
            } else {
                dsql__sb_append(&s.sql, " + ");
                count_links(&s, c, t, NULL, col, "IN", false);
            }
        }
        dsql_result *res = NULL;
        int64_t v = 0;
        int rc = s.oom || s.sql.oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory")
                                    : dsql_exec(db, dsql__sb_str(&s.sql), s.vals, s.n, &res, err);
        if (!rc)
            rc = dsql_result_int(res, 0, 0, &v, err);
        dsql_result_free(res);
        stmt_free(&s);
        if (rc) {
            dsql__err_prefix(err, "%s: association %s: counting the rows it would modify",
                             op_names[c->op], a->alias ? a->alias : "?");
            return rc;
        }
        rows = v > 0 ? (uint64_t)v : 0;
        counted = true;
    }
    if (rows <= room)
        return DSQL_OK;
    static const char *const parts[] = {"the source row, the links removed and the links added",
                                        "the source row and the links added",
                                        "the source row and the links removed",
                                        "the new row and its links"};
    char subject[160], what[200];
    snprintf(subject, sizeof subject, "%s: association %s", op_names[c->op],
             c->a->alias ? c->a->alias : "?");
    snprintf(what, sizeof what, "the change would modify %llu rows (%s)", (unsigned long long)rows,
             c->a->kind == DSQL_ASSOC_BELONGS_TO ? "the source row" : parts[c->op]);
    return dsql__tx_refuse(db, err, subject, what,
                           counted ? "nothing was changed" : "nothing was sent");
}

/* Resolves, checks and builds the operation's statements into c (nothing sent). *empty:
 * nothing to do (a remove of no targets). */
static int op_build(op_ctx *c, op_kind op, const dsql_assoc *a, const void *source_row,
                    const void *const *targets, size_t n, bool *empty, dsql_error *err)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    for (size_t i = 0; i < DSQL__ARRAY_LEN(c->st); i++)
        c->st[i].sql = (dsql__strbuf)DSQL__STRBUF_INIT;
    c->arena = (dsql__arena)DSQL__ARENA_INIT;
    c->created = (dsql__params)DSQL__PARAMS_INIT;
    *empty = false;
    int rc = DSQL_OK;
    if (op == OP_CREATE) {
        /* As dsql_create: the row's defaults (client-side keys) filled in, then checked,
         * before anything is sent. */
        if (!a || !source_row)
            rc = dsql_error_set(err, DSQL_EINVAL, "%s: %s is NULL", op_names[op],
                                a ? "row" : "association");
        else if (!(rc = dsql__model_check(a->source, err))) {
            dsql__fill_defaults(a->source, (void *)source_row);
            rc = dsql__validate_insert(a->source, source_row, err);
        }
        if (rc)
            return rc;
    }
    rc = op_prepare(c, a, source_row, targets, n, err);
    if (rc)
        return rc;
    if (op == OP_REMOVE && c->n_tvals == 0) {
        *empty = true; /* nothing to remove: no round trip */
        return DSQL_OK;
    }
    if (op == OP_CREATE)
        rc = insert_source(c, source_row, err);
    else if (a->kind != DSQL_ASSOC_BELONGS_TO)
        add_touch(c);
    if (rc)
        return rc;
    switch (a->kind) {
    case DSQL_ASSOC_BELONGS_TO:
        build_belongs_to(c);
        break;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        build_has(c);
        break;
    case DSQL_ASSOC_BELONGS_TO_MANY:
        rc = build_btm(c, err);
        break;
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n_st; i++)
        if (c->st[i].oom || c->st[i].sql.oom)
            return dsql_error_set(err, DSQL_ENOMEM,
                                  "%s: association %s: out of memory (or more than 65535 "
                                  "parameters in one statement)",
                                  op_names[op], a->alias ? a->alias : "?");
    return DSQL_OK;
}

static int op_run(dsql_db *db, op_kind op, const dsql_assoc *a, const void *source_row,
                  const void *const *targets, size_t n, dsql_error *err)
{
    op_ctx c;
    bool empty;
    int rc = op_build(&c, op, a, source_row, targets, n, &empty, err);
    if (rc || empty)
        goto done;
    dsql_stmt stmts[DSQL__ARRAY_LEN(c.st)];
    for (size_t i = 0; i < c.n_st; i++)
        stmts[i] = (dsql_stmt){dsql__sb_str(&c.st[i].sql), c.st[i].vals, c.st[i].n};
    bool enclosed = dsql__db_in_transaction(db);
    if (enclosed && (rc = check_room(db, &c, err)))
        goto done;
    if ((rc = dsql_pipeline_tx(db, stmts, c.n_st, NULL, NULL, err))) {
        /* One transaction by design (the set is replaced atomically), so it cannot be
         * split: the server refused it whole and nothing changed. */
        if (err && dsql__is_row_limit(err))
            dsql__err_prefix(err, enclosed ? "the caller's transaction would modify more rows "
                                             "than one Aurora DSQL transaction may (3,000); "
                                             "nothing of it commits"
                                           : "it would modify more rows than one Aurora DSQL "
                                             "transaction may (3,000: the source row, the links "
                                             "removed and the links added count); nothing "
                                             "changed");
        dsql__err_prefix(err, "%s: association %s", op_names[op], a->alias ? a->alias : "?");
    }
done:
    op_free(&c);
    return rc;
}

int dsql__assoc_set_build(const dsql_assoc *a, const void *source_row, const void *const *targets,
                          size_t n,
                          int (*add)(void *ctx, const char *sql, const dsql_value *params,
                                     size_t nparams, dsql_error *err),
                          void *ctx, uint64_t *rows, dsql_error *err)
{
    op_ctx c;
    bool empty, known;
    *rows = 0;
    int rc = op_build(&c, OP_SET, a, source_row, targets, n, &empty, err);
    if (!rc)
        *rows = rows_bound(&c, &known);
    for (size_t i = 0; !rc && i < c.n_st; i++)
        rc = add(ctx, dsql__sb_str(&c.st[i].sql), c.st[i].vals, c.st[i].n, err);
    op_free(&c);
    return rc;
}

int dsql_set_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                        const void *const *targets, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_set_associated", op_run(db, OP_SET, a, source_row, targets, n, err),
                         err);
}

static int add_associated_call(dsql_db *db, const dsql_assoc *a, const void *source_row,
                               const void *const *targets, size_t n, dsql_error *err)
{
    return op_run(db, OP_ADD, a, source_row, targets, n, err);
}

int dsql_add_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                        const void *const *targets, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_add_associated",
                         add_associated_call(db, a, source_row, targets, n, err), err);
}

static int remove_associated_call(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                  const void *const *targets, size_t n, dsql_error *err)
{
    return op_run(db, OP_REMOVE, a, source_row, targets, n, err);
}

int dsql_remove_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                           const void *const *targets, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_remove_associated",
                         remove_associated_call(db, a, source_row, targets, n, err), err);
}

static int create_linked_call(dsql_db *db, const dsql_assoc *a, void *row,
                              const void *const *targets, size_t n, dsql_error *err)
{
    return op_run(db, OP_CREATE, a, row, targets, n, err);
}

int dsql_create_linked(dsql_db *db, const dsql_assoc *a, void *row, const void *const *targets,
                       size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_create_linked", create_linked_call(db, a, row, targets, n, err),
                         err);
}

/* ---- the lazy getter ---- */

static int get_associated_call(dsql_db *db, const dsql_assoc *a, const void *source_row,
                               const dsql_query *q, void *rows, size_t *n, dsql_result **res,
                               dsql_error *err)
{
    if (rows)
        dsql__put_ptr(rows, NULL);
    if (n)
        *n = 0;
    if (res)
        *res = NULL;
    if (!rows || !n || !res)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_get_associated: rows, n and res are needed");
    dsql__assoc_keys k;
    int rc = dsql__assoc_resolve(a, &k, err);
    if (rc) {
        dsql__err_prefix(err, "dsql_get_associated");
        return rc;
    }
    if (!source_row)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_get_associated: association %s: source row is NULL", a->alias);
    if (a->kind == DSQL_ASSOC_BELONGS_TO) {
        if (dsql__attr_is_null(k.foreign_key, source_row)) {
            /* Nothing to look for: an empty result, no round trip. */
            if (!(*res = dsql__result_new(NULL)))
                return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
            return DSQL_OK;
        }
    } else if (dsql__attr_is_null(k.source_key, source_row)) {
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_get_associated: association %s: the source %s has no %s "
                              "(save it first)",
                              a->alias, a->source->name, k.source_key->name);
    }
    bool to_one = a->kind == DSQL_ASSOC_BELONGS_TO || a->kind == DSQL_ASSOC_HAS_ONE;
    dsql__select s = {
        .m = a->target, .q = q, .limit = to_one ? 1 : 0, .via = a, .via_row = source_row};
    if ((rc = dsql__find(db, &s, res, err))) {
        dsql__err_prefix(err, "dsql_get_associated: association %s", a->alias);
        return rc;
    }
    dsql__put_ptr(rows, (*res)->rows);
    *n = (*res)->nrows;
    return DSQL_OK;
}

int dsql_get_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                        const dsql_query *q, void *rows, size_t *n, dsql_result **res,
                        dsql_error *err)
{
    return dsql__api_ret("dsql_get_associated",
                         get_associated_call(db, a, source_row, q, rows, n, res, err), err);
}

/* The source row's key for a lazy read, checked: *none when a belongs-to has no foreign
 * key (nothing is associated, no round trip needed). */
static int lazy_source(const char *fn, const dsql_assoc *a, const void *source_row,
                       dsql__assoc_keys *k, bool *none, dsql_error *err)
{
    *none = false;
    int rc = dsql__assoc_resolve(a, k, err);
    if (rc) {
        dsql__err_prefix(err, "%s", fn);
        return rc;
    }
    if (!source_row)
        return dsql_error_set(err, DSQL_EINVAL, "%s: association %s: source row is NULL", fn,
                              a->alias);
    if (a->kind == DSQL_ASSOC_BELONGS_TO)
        *none = dsql__attr_is_null(k->foreign_key, source_row);
    else if (dsql__attr_is_null(k->source_key, source_row))
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: association %s: the source %s has no %s (save it first)", fn,
                              a->alias, a->source->name, k->source_key->name);
    return DSQL_OK;
}

static int count_associated_call(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                 const dsql_where *where, int64_t *count, dsql_error *err)
{
    if (count)
        *count = 0;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_count_associated: db is NULL");
    dsql__assoc_keys k;
    bool none;
    int rc = lazy_source("dsql_count_associated", a, source_row, &k, &none, err);
    if (rc || none)
        return rc;
    dsql_query q = {.where = where};
    dsql__select s = {.m = a->target, .q = &q, .count = true, .via = a, .via_row = source_row};
    if ((rc = dsql__count(db, &s, count, err)))
        dsql__err_prefix(err, "dsql_count_associated: association %s", a->alias);
    return rc;
}

int dsql_count_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                          const dsql_where *where, int64_t *count, dsql_error *err)
{
    return dsql__api_ret("dsql_count_associated",
                         count_associated_call(db, a, source_row, where, count, err), err);
}

static bool same_value(const dsql_value *x, const dsql_value *y)
{
    if (x->kind != y->kind)
        return false;
    switch (x->kind) {
    case DSQL_V_TEXT:
        return !strcmp(x->u.s, y->u.s);
    case DSQL_V_INT:
        return x->u.i == y->u.i;
    default:
        return false;
    }
}

static int has_associated_call(dsql_db *db, const dsql_assoc *a, const void *source_row,
                               const void *const *targets, size_t n, bool *has, dsql_error *err)
{
    if (has)
        *has = false;
    if (!db || !has)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_has_associated: %s is NULL",
                              db ? "has" : "db");
    if (n && !targets)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_has_associated: %zu targets announced, none given", n);
    dsql__assoc_keys k;
    bool none;
    int rc = lazy_source("dsql_has_associated", a, source_row, &k, &none, err);
    if (rc)
        return rc;
    const dsql_attr *tk = dsql__model_pk(a->target);
    if (!tk)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_has_associated: association %s: the target %s has no "
                              "primary key",
                              a->alias, a->target->name);
    dsql_value *keys = n ? malloc(n * sizeof *keys) : NULL;
    if (n && !keys)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t distinct = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!targets[i] || dsql__attr_is_null(tk, targets[i])) {
            rc = dsql_error_set(err, DSQL_EINVAL,
                                "dsql_has_associated: association %s: target %zu %s", a->alias, i,
                                targets[i] ? "has no key (save it first)" : "is NULL");
            break;
        }
        dsql_value v = dsql__attr_value(tk, targets[i]);
        bool seen = false;
        for (size_t j = 0; j < distinct && !seen; j++)
            seen = same_value(&keys[j], &v);
        if (!seen)
            keys[distinct++] = v;
    }
    if (!rc && distinct == 0) {
        *has = true; /* every one of no targets is there */
    } else if (!rc && !none) {
        dsql_where in = {.op = DSQL_OP_IN, .attr = tk->name, .values = keys, .n_values = distinct};
        dsql_query q = {.where = &in};
        dsql__select s = {.m = a->target,
                          .q = &q,
                          .count = true,
                          .count_distinct = tk, /* a duplicated link counts once */
                          .via = a,
                          .via_row = source_row};
        int64_t found = 0;
        if ((rc = dsql__count(db, &s, &found, err)))
            dsql__err_prefix(err, "dsql_has_associated: association %s", a->alias);
        else
            *has = found == (int64_t)distinct;
    }
    free(keys);
    return rc;
}

int dsql_has_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                        const void *const *targets, size_t n, bool *has, dsql_error *err)
{
    return dsql__api_ret("dsql_has_associated",
                         has_associated_call(db, a, source_row, targets, n, has, err), err);
}
