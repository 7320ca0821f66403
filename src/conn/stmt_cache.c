/*
 * The per-connection statement cache: SQL text -> a named prepared statement, in a hash
 * map with an LRU list (see private.h for the policy). Only the bookkeeping lives here;
 * exec.c sends the Parse, Bind/Execute and DEALLOCATE messages.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

/* Successful unnamed runs before a statement is prepared: the first run of a statement
 * goes out unnamed (a one-off statement never takes a slot on the server), the second
 * prepares it (Parse + Bind/Execute in one round trip), later ones only Bind/Execute. */
#define PREPARE_AFTER 1

void dsql__stmt_cache_init(dsql__stmt_cache *c, int capacity)
{
    memset(c, 0, sizeof *c);
    c->capacity = capacity > 0 ? capacity : 0;
}

static void free_list(dsql__stmt *e, bool by_lru)
{
    while (e) {
        dsql__stmt *next = by_lru ? e->next : e->hnext;
        free(e);
        e = next;
    }
}

void dsql__stmt_cache_free(dsql__stmt_cache *c)
{
    free_list(c->head, true);
    free_list(c->graveyard, false);
    free(c->buckets);
    free(c->pending);
    memset(c, 0, sizeof *c);
}

void dsql__stmt_cache_reset(dsql__stmt_cache *c)
{
    /* What was learnt about the server stays; names are never reused on a connection. */
    dsql__stmt_cache keep = *c;
    dsql__stmt_cache_free(c);
    dsql__stmt_cache_init(c, keep.capacity);
    c->next_id = keep.next_id;
    c->proven = keep.proven;
    c->disabled = keep.disabled;
    c->no_deallocate = keep.no_deallocate;
}

void dsql__stmt_name(uint64_t id, char buf[24])
{
    memcpy(buf, "dsql_", 5);
    dsql__i64toa((int64_t)id, buf + 5);
}

/* ---- the map ---- */

/* A multiplicative hash over 8 bytes at a time (the text of a statement is looked up on
 * every run, so this is on the hot path); also measures the text. */
static uint64_t hash_sql(const char *sql, size_t *len)
{
    size_t n = strlen(sql);
    *len = n;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    const char *p = sql;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 32);
}

static void lru_unlink(dsql__stmt_cache *c, dsql__stmt *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(dsql__stmt_cache *c, dsql__stmt *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
}

static void hash_unlink(dsql__stmt_cache *c, dsql__stmt *e)
{
    dsql__stmt **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
}

static dsql__stmt *find(dsql__stmt_cache *c, const char *sql, size_t len, uint64_t h, int nparams)
{
    if (!c->nbuckets)
        return NULL;
    for (dsql__stmt *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && e->nparams == nparams && !memcmp(e->sql, sql, len))
            return e;
    return NULL;
}

static dsql__stmt *add(dsql__stmt_cache *c, const char *sql, size_t len, uint64_t h, int nparams)
{
    if (!c->nbuckets) {
        size_t n = 16;
        while (n < 2 * (size_t)c->capacity)
            n *= 2;
        c->buckets = calloc(n, sizeof *c->buckets);
        if (!c->buckets)
            return NULL;
        c->nbuckets = n;
    }
    dsql__stmt *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->len = len;
    e->nparams = nparams;
    memcpy(e->sql, sql, len + 1);
    size_t b = h & (c->nbuckets - 1);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push_front(c, e);
    c->count++;
    c->bytes += len;
    return e;
}

/* Queues a DEALLOCATE of a statement the server holds (or counts it as left behind). */
static void forget_on_server(dsql__stmt_cache *c, uint64_t id)
{
    if (c->no_deallocate) {
        c->orphans++;
        return;
    }
    if (c->npending == c->pending_cap) {
        size_t cap = c->pending_cap ? 2 * c->pending_cap : 8;
        uint64_t *p = realloc(c->pending, cap * sizeof *p);
        if (!p) {
            c->orphans++; /* out of memory: leave it until the connection closes */
            return;
        }
        c->pending = p;
        c->pending_cap = cap;
    }
    c->pending[c->npending++] = id;
}

/* Unlinks e from the map and the list and frees it (not during a batch). */
static void evict(dsql__stmt_cache *c, dsql__stmt *e)
{
    hash_unlink(c, e);
    lru_unlink(c, e);
    c->count--;
    c->bytes -= e->len;
    if (e->state == DSQL__STMT_READY)
        forget_on_server(c, e->id);
    free(e);
}

dsql__stmt_action dsql__stmt_cache_plan(dsql__stmt_cache *c, const char *sql, int nparams,
                                        bool may_prove, dsql__stmt **entry)
{
    *entry = NULL;
    if (!c->capacity || c->disabled)
        return DSQL__RUN_UNNAMED;
    size_t len;
    uint64_t h = hash_sql(sql, &len);
    /* Found: cacheable by construction, so the keyword is only checked for new text. */
    dsql__stmt *e = len <= DSQL__STMT_MAX_SQL ? find(c, sql, len, h, nparams) : NULL;
    if (e) {
        if (e != c->head) {
            lru_unlink(c, e);
            lru_push_front(c, e);
        }
        *entry = e;
        /* PARSING: the Parse is earlier in this very batch, so the name is usable. */
        if (e->state == DSQL__STMT_READY || e->state == DSQL__STMT_PARSING)
            return DSQL__RUN_CACHED;
    } else {
        if (len > DSQL__STMT_MAX_SQL || !dsql__sql_cacheable(sql))
            return DSQL__RUN_UNNAMED;
        /* On a server that refused DEALLOCATE, stop adding once as many statements are
         * left behind as the cache holds: the server never keeps more than twice the
         * capacity. */
        if (c->no_deallocate && c->orphans >= (size_t)c->capacity)
            return DSQL__RUN_UNNAMED;
        e = add(c, sql, len, h, nparams);
        if (!e)
            return DSQL__RUN_UNNAMED; /* out of memory: run it uncached */
        *entry = e;
    }
    if (e->uses < PREPARE_AFTER || (!c->proven && !may_prove))
        return DSQL__RUN_UNNAMED;
    e->state = DSQL__STMT_PARSING;
    e->id = ++c->next_id;
    dsql__stmt_name(e->id, e->name);
    c->nparsing++;
    return DSQL__RUN_PREPARE;
}

void dsql__stmt_ran_unnamed(dsql__stmt *e)
{
    if (e && e->state == DSQL__STMT_NEW && e->uses < UINT32_MAX)
        e->uses++;
}

void dsql__stmt_drop(dsql__stmt_cache *c, dsql__stmt *e, bool exists)
{
    if (!e || e->state == DSQL__STMT_DEAD)
        return;
    if (e->state == DSQL__STMT_PARSING)
        c->nparsing--;
    if (exists && (e->state == DSQL__STMT_READY || e->state == DSQL__STMT_PARSING))
        forget_on_server(c, e->id);
    hash_unlink(c, e);
    lru_unlink(c, e);
    c->count--;
    c->bytes -= e->len;
    e->state = DSQL__STMT_DEAD;
    e->hnext = c->graveyard;
    c->graveyard = e;
}

void dsql__stmt_parsed(dsql__stmt_cache *c, dsql__stmt *e, bool ok)
{
    if (!e || e->state != DSQL__STMT_PARSING)
        return;
    if (ok) {
        e->state = DSQL__STMT_READY;
        c->nparsing--;
        c->proven = true;
        return;
    }
    /* A failed Parse (syntax error, unknown table, aborted transaction) leaves nothing on
     * the server and nothing in the cache: the next run starts over, unnamed. */
    dsql__stmt_drop(c, e, false);
}

void dsql__stmt_cache_end_batch(dsql__stmt_cache *c)
{
    /* A batch cut short (connection lost, send failure) may leave Parses unanswered: the
     * statement may or may not exist on the server, so drop it and deallocate it (a
     * statement that does not exist answers 26000, which is ignored). */
    for (dsql__stmt *e = c->head, *next; e && c->nparsing; e = next) {
        next = e->next;
        if (e->state == DSQL__STMT_PARSING)
            dsql__stmt_drop(c, e, true);
    }
    free_list(c->graveyard, false);
    c->graveyard = NULL;
    while ((c->count > (size_t)c->capacity || c->bytes > DSQL__STMT_MAX_BYTES) && c->tail)
        evict(c, c->tail);
}

void dsql__stmt_cache_disable(dsql__stmt_cache *c)
{
    dsql__stmt_cache_reset(c);
    c->disabled = true;
}

void dsql__stmt_cache_refuse_deallocate(dsql__stmt_cache *c)
{
    c->no_deallocate = true;
    c->orphans += c->npending;
    c->npending = 0;
}
