/*
 * Row state: what a row read by a find remembers, for models that declare a dsql_row_state
 * member. Hydration writes into that member a pointer to a record in the result's arena:
 * which attributes the find loaded, and a snapshot of the row as read. dsql_save compares
 * the row with the snapshot, writes only the loaded attributes that changed, and then
 * takes the saved values as the new snapshot (text and bytes copied into the arena, so
 * the caller may free or reuse its own buffers).
 */
#include <stddef.h>
#include <string.h>

#include "model/internal.h"

#define RECORD_MAGIC 0x64527374u /* "dRst" */

struct dsql__row_record {
    uint32_t magic;
    const dsql_model *m;
    dsql__arena *arena; /* the result's: where saved text goes */
    unsigned char loaded[(DSQL__COLUMNS_MAX + 8) / 8];
    bool stale;         /* a snapshot update failed: treat every loaded attribute as changed */
    max_align_t snap[]; /* m->struct_size bytes: the row as read (or last saved) */
};

static dsql_row_state *state_of(const dsql_model *m, const void *row)
{
    return (dsql_row_state *)(void *)((char *)(uintptr_t)row + m->state_offset - 1);
}

int dsql__row_track(const dsql_model *m, void *row, const int *col, dsql__arena *arena,
                    dsql_error *err)
{
    if (!m->state_offset)
        return DSQL_OK;
    dsql__row_record *r = dsql__arena_alloc(arena, sizeof *r + m->struct_size);
    if (!r)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->magic = RECORD_MAGIC;
    r->m = m;
    r->arena = arena;
    for (size_t k = 0; k < m->n_attrs; k++)
        if (col[k] >= 0)
            r->loaded[k / 8] |= (unsigned char)(1u << (k % 8));
    memcpy(r->snap, row, m->struct_size);
    state_of(m, row)->loaded_ = r;
    return DSQL_OK;
}

int dsql__row_record_of(const dsql_model *m, const void *row, const dsql__row_record **out,
                        dsql_error *err)
{
    *out = NULL;
    if (!m->state_offset)
        return DSQL_OK;
    const dsql__row_record *r = state_of(m, row)->loaded_;
    if (!r)
        return DSQL_OK; /* a row the program built */
    if (r->magic != RECORD_MAGIC || r->m != m)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s row: its dsql_row_state does not belong to a %s row read by "
                              "a find (copied from another model's row, or its result freed?)",
                              m->name, m->name);
    *out = r;
    return DSQL_OK;
}

bool dsql__row_loaded(const dsql__row_record *r, size_t k)
{
    return (r->loaded[k / 8] >> (k % 8)) & 1u;
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool dsql__row_changed(const dsql__row_record *r, const dsql_attr *a, const void *row)
{
    if (r->stale)
        return true;
    const void *was_row = r->snap;
    bool was_null = dsql__attr_is_null(a, was_row), is_null = dsql__attr_is_null(a, row);
    if (was_null || is_null)
        return was_null != is_null;
    const void *was = DSQL__CMEMBER(was_row, a), *now = DSQL__CMEMBER(row, a);
    if (a->type == DSQL_T_UUID)
        return strcmp(((const dsql_uuid *)was)->str, ((const dsql_uuid *)now)->str) != 0;
    if (dsql__type_is_text(a->type))
        return !same_text(*(char *const *)was, *(char *const *)now);
    if (a->type == DSQL_T_BYTEA) {
        const dsql_bytes *x = was, *y = now;
        return x->len != y->len || (x->data != y->data && memcmp(x->data, y->data, x->len) != 0);
    }
    return memcmp(was, now, a->size) != 0;
}

void dsql__row_saved(const dsql__row_record *rc, const dsql_attr *a, const void *row)
{
    dsql__row_record *r = (dsql__row_record *)(uintptr_t)rc;
    void *was_row = r->snap;
    void *was = DSQL__MEMBER(was_row, a);
    const void *now = DSQL__CMEMBER(row, a);
    if (a->has_offset)
        *(bool *)((char *)was_row + a->has_offset - 1) =
            *(const bool *)((const char *)row + a->has_offset - 1);
    if (dsql__type_is_text(a->type)) {
        const char *s = *(char *const *)now;
        char *copy = s ? dsql__arena_strdup(r->arena, s) : NULL;
        if (s && !copy)
            r->stale = true;
        *(char **)was = copy;
    } else if (a->type == DSQL_T_BYTEA) {
        const dsql_bytes *b = now;
        dsql_bytes *w = was;
        w->len = b->len;
        w->data = b->data
                      ? (unsigned char *)dsql__arena_memdup(r->arena, b->data, b->len ? b->len : 1)
                      : NULL;
        if (b->data && !w->data)
            r->stale = true;
    } else {
        memcpy(was, now, a->size);
    }
}
