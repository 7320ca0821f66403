/* SQL text helpers (identifier quoting) and the statement parameter list. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

void dsql__sql_ident(dsql__strbuf *sb, const char *ident)
{
    /* The usual identifier has no quote in it: one copy between the quotes. */
    size_t n = strlen(ident);
    if (!memchr(ident, '"', n)) {
        if (!dsql__sb_reserve(sb, n + 2))
            return;
        char *o = sb->data + sb->len;
        o[0] = '"';
        memcpy(o + 1, ident, n);
        o[n + 1] = '"';
        o[n + 2] = '\0';
        sb->len += n + 2;
        return;
    }
    dsql__sb_append_c(sb, '"');
    for (const char *p = ident; *p; p++) {
        const char *q = strchr(p, '"');
        if (!q) {
            dsql__sb_append(sb, p);
            break;
        }
        dsql__sb_append_n(sb, p, (size_t)(q - p) + 1);
        dsql__sb_append_c(sb, '"');
        p = q;
    }
    dsql__sb_append_c(sb, '"');
}

void dsql__sql_table(dsql__strbuf *sb, const dsql_model *m)
{
    if (m->schema && *m->schema) {
        dsql__sql_ident(sb, m->schema);
        dsql__sb_append_c(sb, '.');
    }
    dsql__sql_ident(sb, m->table);
}

#define PARAMS_MAX 65535 /* libpq's (and the protocol's) limit per statement */

static bool params_grow(dsql__params *p)
{
    if (p->oom)
        return false;
    if (p->n < p->cap)
        return true;
    if (p->n >= PARAMS_MAX) {
        p->oom = p->too_many = true;
        return false;
    }
    int cap = p->cap ? p->cap * 2 : 16;
    if (cap > PARAMS_MAX)
        cap = PARAMS_MAX;
    const char **v = realloc(p->values, (size_t)cap * sizeof *v);
    if (!v) {
        p->oom = true;
        return false;
    }
    p->values = v;
    int *l = realloc(p->lengths, (size_t)cap * sizeof *l);
    if (!l) {
        p->oom = true;
        return false;
    }
    p->lengths = l;
    int *f = realloc(p->formats, (size_t)cap * sizeof *f);
    if (!f) {
        p->oom = true;
        return false;
    }
    p->formats = f;
    uint8_t *fl = realloc(p->flags, (size_t)cap * sizeof *fl);
    if (!fl) {
        p->oom = true;
        return false;
    }
    p->flags = fl;
    p->cap = cap;
    return true;
}

int dsql__params_add(dsql__params *p, const char *value, int len, int format)
{
    if (!params_grow(p))
        return 0;
    p->values[p->n] = value;
    p->lengths[p->n] = format ? len : 0;
    p->formats[p->n] = format;
    p->flags[p->n] = 0;
    return ++p->n;
}

void dsql__params_mark_secret(dsql__params *p, int k)
{
    if (k > 0 && k <= p->n)
        p->flags[k - 1] |= DSQL__PF_SECRET;
}

dsql_value *dsql__params_as_values(dsql__params *p)
{
    dsql_value *v = dsql__arena_alloc(&p->arena, (p->n ? (size_t)p->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (int i = 0; i < p->n; i++) {
        if (!p->values[i])
            v[i] = DSQL_NULL;
        else if (p->formats[i])
            v[i] = DSQL_BYTES(p->values[i], (size_t)p->lengths[i]);
        else
            v[i] = DSQL_STR(p->values[i]);
        if (p->flags[i] & DSQL__PF_SECRET)
            v[i].flags |= DSQL_VALUE_SECRET;
    }
    return v;
}

int dsql__params_add_copy(dsql__params *p, const char *text, size_t len)
{
    char *copy = dsql__arena_memdup(&p->arena, text, len);
    if (!copy) {
        p->oom = true;
        return 0;
    }
    return dsql__params_add(p, copy, 0, 0);
}

int dsql__params_add_value(dsql__params *p, const dsql_value *v)
{
    if ((unsigned)v->kind > DSQL_V_BYTES ||
        (v->kind == DSQL_V_BYTES && v->u.bytes.len > INT32_MAX)) {
        p->oom = true;
        return 0;
    }
    char num[32];
    const char *value;
    int len, format;
    dsql__value_encode(v, num, &value, &len, &format);
    int k = value == num /* a number: written into num, which goes out of scope */
                ? dsql__params_add_copy(p, num, strlen(num))
                : dsql__params_add(p, value, len, format);
    if (k)
        p->flags[k - 1] = dsql__value_pflags(v);
    return k;
}

int dsql__params_error(const dsql__params *p, dsql_error *err)
{
    if (p->too_many)
        return dsql_error_set(err, DSQL_EINVAL,
                              "the statement needs more than %d parameters, the protocol's "
                              "limit per statement: split the work (a shorter IN list, fewer "
                              "rows at a time)",
                              PARAMS_MAX);
    return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

void dsql__params_reset(dsql__params *p)
{
    p->n = 0;
    p->oom = p->too_many = false;
    dsql__arena_free(&p->arena);
}

void dsql__params_free(dsql__params *p)
{
    free(p->values);
    free(p->lengths);
    free(p->formats);
    free(p->flags);
    dsql__arena_free(&p->arena);
    memset(p, 0, sizeof *p);
}
