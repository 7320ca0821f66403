/*
 * Concrete rewrites: a statement's own text with a range replaced or with something
 * appended, built in the result (the rules that need one decide what goes where).
 */
#include <string.h>

#include "rules/internal.h"

char *dsql__rules_splice(dsql__rules_ctx *c, size_t from, size_t to, const char *with)
{
    const dsql_rules_stmt *st = c->st;
    size_t start = st->offset, end = st->offset + st->length;
    if (from < start || to < from || to > end)
        return NULL;
    size_t wlen = strlen(with);
    size_t n = (from - start) + wlen + (end - to);
    char *out = dsql__arena_alloc(&c->r->arena, n + 1);
    if (!out) {
        c->oom = true;
        return NULL;
    }
    /* From the input as written: DSQL's own words (ASYNC) stay. */
    memcpy(out, c->r->text + start, from - start);
    memcpy(out + (from - start), with, wlen);
    memcpy(out + (from - start) + wlen, c->r->text + to, end - to);
    out[n] = '\0';
    return out;
}

char *dsql__rules_append(dsql__rules_ctx *c, const char *suffix)
{
    size_t end = c->st->offset + c->st->length;
    return dsql__rules_splice(c, end, end, suffix);
}
