/*
 * Hydration: result rows into the caller's structs, by one walker over the descriptor.
 *
 * Without includes every row is one struct. With includes, pass 1 finds the distinct
 * instances of each node (parents by primary key, to-many children by key within their
 * parent, a to-one child once per parent) in a hash table; pass 2 sizes each to-many
 * array exactly, places every instance in its final slot (the root array, a parent's
 * array, or a parent's pointer) and decodes it from the first row it appeared in. All
 * memory comes from the result's arena; the scratch tables are freed before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

void dsql__plan_model(dsql__plan *plan, const dsql_model *m)
{
    static const int identity[64] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
        22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
        44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
    dsql__node *nd = &plan->nodes[0];
    memset(nd, 0, sizeof *nd);
    nd->m = m;
    nd->parent = -1;
    nd->alias = m->table;
    nd->match_col = -1;
    plan->n_nodes = 1;
    plan->ncols = (int)m->n_attrs;
    if (m->n_attrs <= DSQL__ARRAY_LEN(identity)) {
        nd->col = (int *)identity; /* read-only use */
    } else {
        nd->col = dsql__arena_alloc(&plan->arena, m->n_attrs * sizeof(int));
        if (nd->col)
            for (size_t k = 0; k < m->n_attrs; k++)
                nd->col[k] = (int)k;
        else
            plan->n_nodes = 0; /* reported as out of memory by dsql__hydrate */
    }
    const dsql_attr *pk = dsql__model_pk(m);
    nd->key_col = pk ? (int)dsql__attr_index(m, pk) : -1;
}

/* Decodes the selected attributes of node nd from row r into obj. */
static int decode(dsql_result *res, const dsql__node *nd, int r, void *obj, dsql_error *err)
{
    PGresult *pg = res->pg;
    const dsql_model *m = nd->m;
    for (size_t k = 0; k < m->n_attrs; k++) {
        int c = nd->col[k];
        if (c < 0)
            continue;
        const char *text = PQgetisnull(pg, r, c) ? NULL : PQgetvalue(pg, r, c);
        int rc = dsql__attr_decode(m, &m->attrs[k], obj, text, (size_t)PQgetlength(pg, r, c),
                                   &res->arena, err);
        if (rc)
            return rc;
    }
    if (nd->through_col) { /* the join row, into the target's through member */
        const dsql_model *tm = nd->assoc->through;
        char *link = dsql__arena_alloc(&res->arena, tm->struct_size);
        if (!link)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        memset(link, 0, tm->struct_size);
        for (size_t k = 0; k < tm->n_attrs; k++) {
            int c = nd->through_col[k];
            const char *text = PQgetisnull(pg, r, c) ? NULL : PQgetvalue(pg, r, c);
            int rc = dsql__attr_decode(tm, &tm->attrs[k], link, text, (size_t)PQgetlength(pg, r, c),
                                       &res->arena, err);
            if (rc)
                return rc;
        }
        memcpy((char *)obj + nd->assoc->through_member - 1, &link, sizeof link);
        int rc = dsql__row_track(tm, link, nd->through_col, &res->arena, err);
        if (rc)
            return rc;
    }
    return dsql__row_track(m, obj, nd->col, &res->arena, err);
}

static int check_shape(const dsql_result *res, const dsql__plan *plan, dsql_error *err)
{
    if (plan->n_nodes == 0)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (!res->pg || PQnfields(res->pg) < plan->ncols)
        return dsql_error_set(err, DSQL_EINTERNAL, "result has %d columns, the query selected %d",
                              res->pg ? PQnfields(res->pg) : 0, plan->ncols);
    for (int c = 0; c < plan->ncols; c++)
        if (PQfformat(res->pg, c) != 0)
            return dsql_error_set(err, DSQL_EINTERNAL, "result column %d is binary", c);
    return DSQL_OK;
}

/* ---- with includes ---- */

typedef struct inst {
    int node;
    int parent; /* instance index; -1 for roots */
    int row;    /* first row it appeared in */
    char *obj;
} inst;

typedef struct hctx {
    dsql_result *res;
    const dsql__plan *plan;
    inst *insts;
    size_t n_inst;
    int *slots; /* hash table of instance index + 1; 0 = empty */
    size_t mask;
} hctx;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static bool same_cell(PGresult *pg, int r1, int r2, int c)
{
    int n1 = PQgetisnull(pg, r1, c), n2 = PQgetisnull(pg, r2, c);
    if (n1 || n2)
        return n1 == n2;
    int l1 = PQgetlength(pg, r1, c);
    return l1 == PQgetlength(pg, r2, c) &&
           !memcmp(PQgetvalue(pg, r1, c), PQgetvalue(pg, r2, c), (size_t)l1);
}

/* Key columns of a node: its primary key, or (no key) every column it selected. */
static uint64_t key_hash(hctx *h, const dsql__node *nd, int node, int parent, int r)
{
    PGresult *pg = h->res->pg;
    uint64_t x = mix(0xcbf29ce484222325ull, &node, sizeof node);
    x = mix(x, &parent, sizeof parent);
    bool to_many = nd->assoc == NULL || dsql__assoc_to_many(nd->assoc);
    if (!to_many)
        return x; /* one per parent */
    for (size_t k = 0; k < nd->m->n_attrs; k++) {
        int c = nd->key_col >= 0 ? nd->key_col : nd->col[k];
        if (c >= 0)
            x = mix(x, PQgetvalue(pg, r, c), (size_t)PQgetlength(pg, r, c)) * 31 +
                (uint64_t)PQgetisnull(pg, r, c);
        if (nd->key_col >= 0)
            break;
    }
    return x;
}

static bool key_equal(hctx *h, const inst *in, int node, int parent, int r)
{
    if (in->node != node || in->parent != parent)
        return false;
    const dsql__node *nd = &h->plan->nodes[node];
    if (nd->assoc && !dsql__assoc_to_many(nd->assoc))
        return true;
    if (nd->key_col >= 0)
        return same_cell(h->res->pg, in->row, r, nd->key_col);
    for (size_t k = 0; k < nd->m->n_attrs; k++)
        if (nd->col[k] >= 0 && !same_cell(h->res->pg, in->row, r, nd->col[k]))
            return false;
    return true;
}

/* The instance of node for row r under parent, created when new. -1 on oom. */
static int find_or_add(hctx *h, int node, int parent, int r, bool always_new)
{
    const dsql__node *nd = &h->plan->nodes[node];
    size_t i = 0;
    if (!always_new) {
        i = (size_t)key_hash(h, nd, node, parent, r) & h->mask;
        for (; h->slots[i]; i = (i + 1) & h->mask)
            if (key_equal(h, &h->insts[h->slots[i] - 1], node, parent, r))
                return h->slots[i] - 1;
    }
    h->insts[h->n_inst] = (inst){node, parent, r, NULL};
    if (!always_new)
        h->slots[i] = (int)h->n_inst + 1;
    return (int)h->n_inst++;
}

static int hydrate_tree(hctx *h, dsql_error *err)
{
    const dsql__plan *pl = h->plan;
    PGresult *pg = h->res->pg;
    int nrows = PQntuples(pg), nn = (int)pl->n_nodes;
    size_t cap = 16;
    while (cap < (size_t)nrows * (size_t)nn * 2)
        cap *= 2;
    h->insts = malloc((size_t)nrows * (size_t)nn * sizeof *h->insts + 1);
    h->slots = calloc(cap, sizeof *h->slots);
    if (!h->insts || !h->slots)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    h->mask = cap - 1;
    int cur[1 + DSQL__MAX_INCLUDES];
    size_t n_roots = 0;
    bool merge_roots = pl->nodes[0].to_many_below;
    /* Pass 1: distinct instances, parents before children. */
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < nn; i++) {
            const dsql__node *nd = &pl->nodes[i];
            int parent = i ? cur[nd->parent] : -1;
            if (i && (parent < 0 || PQgetisnull(pg, r, nd->match_col))) {
                cur[i] = -1;
                continue;
            }
            size_t before = h->n_inst;
            cur[i] = find_or_add(h, i, parent, r, i == 0 && !merge_roots);
            if (i == 0 && h->n_inst > before)
                n_roots++;
        }
    }
    /* Children per (parent instance, node), to size arrays exactly. */
    uint32_t *counts = calloc(h->n_inst * (size_t)nn + 1, sizeof *counts);
    if (!counts)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (size_t k = 0; k < h->n_inst; k++)
        if (h->insts[k].parent >= 0)
            counts[(size_t)h->insts[k].parent * (size_t)nn + (size_t)h->insts[k].node]++;
    /* Pass 2: place and decode. */
    const dsql_model *rm = pl->nodes[0].m;
    char *roots = dsql__arena_alloc(&h->res->arena, n_roots * rm->struct_size);
    int rc = roots ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t next_root = 0;
    for (size_t k = 0; !rc && k < h->n_inst; k++) {
        inst *in = &h->insts[k];
        const dsql__node *nd = &pl->nodes[in->node];
        size_t size = nd->m->struct_size;
        if (in->parent < 0) {
            in->obj = roots + size * next_root++;
        } else {
            char *pobj = h->insts[in->parent].obj;
            const dsql_assoc *a = nd->assoc;
            if (dsql__assoc_to_many(a)) {
                char **arr = (char **)(void *)(pobj + a->member_offset);
                size_t *cnt = (size_t *)(void *)(pobj + a->count_offset);
                if (!*arr) {
                    size_t total = counts[(size_t)in->parent * (size_t)nn + (size_t)in->node];
                    *arr = dsql__arena_alloc(&h->res->arena, total * size);
                    *cnt = 0;
                }
                in->obj = *arr ? *arr + size * (*cnt)++ : NULL;
            } else {
                in->obj = dsql__arena_alloc(&h->res->arena, size);
                *(char **)(void *)(pobj + a->member_offset) = in->obj;
            }
            if (!in->obj)
                rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        }
        if (!rc)
            rc = decode(h->res, nd, in->row, in->obj, err);
    }
    free(counts);
    if (rc)
        return rc;
    h->res->rows = roots;
    h->res->nrows = n_roots;
    return DSQL_OK;
}

int dsql__hydrate(dsql_result *res, const dsql__plan *plan, dsql_error *err)
{
    int rc = check_shape(res, plan, err);
    if (rc)
        return rc;
    res->rows = NULL;
    res->nrows = 0;
    const dsql__node *root = &plan->nodes[0];
    if (plan->n_nodes == 1 && !root->to_many_below) {
        int nrows = PQntuples(res->pg);
        size_t size = root->m->struct_size;
        char *rows = dsql__arena_alloc(&res->arena, (size_t)nrows * size);
        if (!rows)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        for (int r = 0; r < nrows; r++)
            if ((rc = decode(res, root, r, rows + size * (size_t)r, err)))
                return rc;
        res->rows = rows;
        res->nrows = (size_t)nrows;
        return DSQL_OK;
    }
    hctx h = {res, plan, NULL, 0, NULL, 0};
    rc = hydrate_tree(&h, err);
    free(h.insts);
    free(h.slots);
    return rc;
}

int dsql__hydrate_by_name(dsql_result *res, const dsql_model *m, dsql_error *err)
{
    dsql__plan plan = DSQL__PLAN_INIT;
    dsql__node *nd = &plan.nodes[0];
    nd->m = m;
    nd->parent = -1;
    nd->alias = m->table;
    nd->key_col = nd->match_col = -1;
    plan.n_nodes = 1;
    nd->col = dsql__arena_alloc(&plan.arena, m->n_attrs * sizeof(int));
    if (!nd->col)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    int nf = res->pg ? PQnfields(res->pg) : 0;
    for (size_t k = 0; k < m->n_attrs; k++) {
        nd->col[k] = -1;
        for (int pass = 0; pass < 2 && nd->col[k] < 0; pass++)
            for (int c = 0; c < nf; c++)
                if (!strcmp(PQfname(res->pg, c),
                            pass ? m->attrs[k].name : dsql__attr_column(&m->attrs[k]))) {
                    nd->col[k] = c;
                    break;
                }
        /* Rows missing an attribute could be saved over it: only a model whose rows
         * remember what they loaded may have them. */
        if (nd->col[k] < 0 && !m->state_offset) {
            dsql__plan_free(&plan);
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: the result has no column for attribute \"%s\"; "
                                  "select every attribute, or declare DSQL_ROW_STATE in the "
                                  "model so its rows know what they lack",
                                  m->name, m->attrs[k].name);
        }
    }
    int rc = dsql__hydrate(res, &plan, err);
    dsql__plan_free(&plan);
    return rc;
}

void *dsql_result_models(const dsql_result *res, size_t *n)
{
    if (n)
        *n = res ? res->nrows : 0;
    return res ? res->rows : NULL;
}
