/* A chained bump allocator: results own their hydrated rows and strings through one. */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct dsql__arena_block {
    dsql__arena_block *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_ALIGN     16
#define ARENA_MIN_BLOCK 4096

void *dsql__arena_alloc(dsql__arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return NULL;
    if (need == 0)
        need = ARENA_ALIGN;
    dsql__arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = a->head ? a->head->cap * 2 : ARENA_MIN_BLOCK;
        if (cap > 1u << 20)
            cap = 1u << 20;
        if (cap < need)
            cap = need;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        /* A big one-off block goes behind the head so the head keeps its free space. */
        if (a->head && need > a->head->cap - a->head->used && cap == need &&
            a->head->cap - a->head->used > ARENA_MIN_BLOCK / 4) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += need;
    a->total += n;
    memset(p, 0, n);
    return p;
}

void *dsql__arena_memdup(dsql__arena *a, const void *p, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = dsql__arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

char *dsql__arena_strdup(dsql__arena *a, const char *s)
{
    return s ? dsql__arena_memdup(a, s, strlen(s)) : NULL;
}

void dsql__arena_free(dsql__arena *a)
{
    dsql__arena_block *b = a->head;
    while (b) {
        dsql__arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}
