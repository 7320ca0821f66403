/*
 * What a statement becomes on its way to PostgreSQL. The rules module analyses the text
 * (cached by text); a statement DSQL refuses becomes a call that raises DSQL's error in
 * PostgreSQL itself (so the transaction, the pipeline and the protocol carry on exactly as
 * after a real error); DSQL's forms PostgreSQL 15 lacks become their emulation: CREATE
 * INDEX ASYNC and ALTER TABLE ASYNC run as jobs returning a job id, SHOW server_version
 * says DSQL's version. A result whose single column is named "dsql_local:<TAG>:<name>" is
 * renamed to <name> and its command tag set to <TAG> on the way back (session.c).
 * Session state adds what DSQL does to a transaction: its age cap, OC001 when the schema
 * changed under it, and the injected faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/rules.h"
#include "server.h"

/* ---- the analysis cache ---- */

typedef struct piece {
    dsql_rules_kind kind;
    bool async, refused, rewritten;
    char state[6];
    char message[256];
    char *forward;
    char show[64];
    char index_table[128], index_name[128];
    int max_param;
} piece;

typedef struct entry {
    struct entry *next;
    char *sql;
    piece *p;
    size_t n;
} entry;

#define CACHE_BUCKETS 4096
#define CACHE_MAX     20000

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static entry *cache[CACHE_BUCKETS];
static size_t cache_n;

static uint64_t hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void entry_free(entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->p[i].forward);
    free(e->p);
    free(e->sql);
    free(e);
}

static entry *analyse(const char *sql)
{
    dsql_rules_result *r = NULL;
    if (dsql_rules_analyze(sql, strlen(sql), &r, NULL))
        return NULL;
    size_t n = dsql_rules_count(r);
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->sql = strdup(sql)) || !(e->p = calloc(n ? n : 1, sizeof *e->p)))
        goto fail;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        const dsql_rules_stmt *s = dsql_rules_stmt_at(r, i);
        piece *p = &e->p[i];
        p->kind = s->kind;
        p->async = s->async;
        p->rewritten = s->rewritten;
        p->max_param = s->max_param;
        if (!(p->forward = strdup(s->forward)))
            goto fail;
        if (s->kind == DSQL_RULES_SHOW && s->setting)
            snprintf(p->show, sizeof p->show, "%s", s->setting);
        if (s->index) {
            snprintf(p->index_table, sizeof p->index_table, "%s", s->index->table.name);
            snprintf(p->index_name, sizeof p->index_name, "%s",
                     s->index->name ? s->index->name : "");
        }
        const dsql_rules_finding *f = dsql_rules_refusal(s);
        /* A syntax error is PostgreSQL's own: it says so itself, at the right position. */
        if (f && f->rule->number != DSQL_RULE_SYNTAX) {
            p->refused = true;
            snprintf(p->state, sizeof p->state, "%s", f->rule->sqlstate);
            snprintf(p->message, sizeof p->message, "%s", f->message);
        }
    }
    dsql_rules_result_free(r);
    return e;
fail:
    if (e)
        entry_free(e);
    dsql_rules_result_free(r);
    return NULL;
}

/* Calls fn with the cached analysis of sql (under the cache's lock: fn must be quick). */
static bool with_analysis(const char *sql, void (*fn)(const entry *, void *), void *ctx)
{
    uint64_t h = hash(sql) % CACHE_BUCKETS;
    pthread_mutex_lock(&cache_mu);
    entry *e = cache[h];
    while (e && strcmp(e->sql, sql))
        e = e->next;
    if (!e) {
        pthread_mutex_unlock(&cache_mu);
        entry *fresh = analyse(sql);
        if (!fresh)
            return false;
        pthread_mutex_lock(&cache_mu);
        if (cache_n >= CACHE_MAX) { /* crude bound: start over */
            for (size_t i = 0; i < CACHE_BUCKETS; i++)
                while (cache[i]) {
                    entry *x = cache[i];
                    cache[i] = x->next;
                    entry_free(x);
                }
            cache_n = 0;
        }
        fresh->next = cache[h];
        cache[h] = fresh;
        cache_n++;
        e = fresh;
    }
    fn(e, ctx);
    pthread_mutex_unlock(&cache_mu);
    return true;
}

/* ---- building the text ---- */

typedef struct out {
    char *s;
    size_t len, cap;
    bool oom;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *t = realloc(o->s, cap);
        if (!t) {
            o->oom = true;
            return;
        }
        o->s = t;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A string literal (standard_conforming_strings: quotes doubled). */
static void literal(out *o, const char *s)
{
    put(o, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            put(o, "'", 1);
        put(o, p, 1);
    }
    put(o, "'", 1);
}

/* SELECT dsql_local.raise(code, msg) [FROM (SELECT $1::text, ...) p]: DSQL's error, raised
 * by PostgreSQL; the parameters a Parse announced are kept so its Bind still fits. */
static void raise(out *o, const char *state, const char *msg, int nparams)
{
    puts_(o, "SELECT dsql_local.raise(");
    literal(o, state);
    puts_(o, ", ");
    literal(o, msg);
    puts_(o, ")");
    if (nparams > 0) {
        puts_(o, " FROM (SELECT ");
        for (int i = 1; i <= nparams; i++) {
            char b[24];
            snprintf(b, sizeof b, "%s$%d::text", i > 1 ? ", " : "", i);
            puts_(o, b);
        }
        puts_(o, ") dsql_local_params");
    }
}

typedef struct build {
    const dl_tx_state *tx;
    int nparams;
    dl_stmt_info *info;
    out o;
    bool changed;
} build;

static bool roll(double rate)
{
    if (rate <= 0)
        return false;
    if (dl_random() < rate) {
        atomic_fetch_add(&dl_fault.injected, 1);
        return true;
    }
    return false;
}

/* The error DSQL would answer a statement of kind `kind` with now, from the transaction's
 * limits and the injected fault rates: *state and *msg (msg into buf), or false. */
static bool fault_for(dsql_rules_kind kind, const dl_tx_state *tx, time_t now, char *buf,
                      size_t cap, const char **state, const char **msg)
{
    int max_tx_age = atomic_load(&dl.cfg.max_tx_age_s);
    bool in_tx = tx->in_tx;
    bool writes = kind == DSQL_RULES_DML || (kind == DSQL_RULES_COMMIT && in_tx);
    pthread_mutex_lock(&dl_fault.mu);
    double occ = dl_fault.occ_rate, oc1 = dl_fault.oc001_rate, una = dl_fault.unavailable_rate;
    pthread_mutex_unlock(&dl_fault.mu);
    *state = *msg = NULL;
    if (in_tx && max_tx_age > 0 && now - tx->tx_start > max_tx_age && kind != DSQL_RULES_ROLLBACK) {
        snprintf(buf, cap, "transaction age limit of %ds exceeded", max_tx_age);
        *state = "54000";
        *msg = buf;
    } else if (in_tx && kind != DSQL_RULES_ROLLBACK && tx->database &&
               dl_schema_version(tx->database) != tx->schema_version) {
        *state = "40001";
        *msg = "schema has been updated by another transaction, please retry: (OC001)";
    } else if (writes && roll(occ)) {
        *state = "40001";
        *msg = "change conflicts with another transaction, please retry: (OC000)";
    } else if ((writes || kind == DSQL_RULES_READ) && roll(oc1)) {
        *state = "40001";
        *msg = "schema has been updated by another transaction, please retry: (OC001)";
    } else if (writes && roll(una)) {
        *state = "XX000";
        *msg = "server unavailable";
    }
    return *state != NULL;
}

char *dl_fault_statement(const dl_stmt_info *info, const dl_tx_state *tx, int nparams)
{
    dsql_rules_kind kind = info->dml      ? DSQL_RULES_DML
                           : info->commit ? DSQL_RULES_COMMIT
                           : info->read   ? DSQL_RULES_READ
                                          : DSQL_RULES_UTILITY;
    char buf[96];
    const char *state, *msg;
    if (!fault_for(kind, tx, time(NULL), buf, sizeof buf, &state, &msg))
        return NULL;
    out o = {0};
    raise(&o, state, msg, nparams);
    return o.oom ? (free(o.s), NULL) : o.s;
}

static void build_fn(const entry *e, void *ctx)
{
    build *b = ctx;
    time_t now = time(NULL);
    for (size_t i = 0; i < e->n; i++) {
        const piece *p = &e->p[i];
        if (i)
            puts_(&b->o, "; ");
        if (p->kind == DSQL_RULES_DDL)
            b->info->ddl = true;
        if (p->kind == DSQL_RULES_DML)
            b->info->dml = true;
        if (p->kind == DSQL_RULES_COMMIT)
            b->info->commit = true;
        if (p->kind == DSQL_RULES_BEGIN)
            b->info->begin = true;
        if (p->kind == DSQL_RULES_READ)
            b->info->read = true;
        int np = p->max_param > b->nparams ? p->max_param : b->nparams;
        if (np > b->info->nparams)
            b->info->nparams = np;
        const char *state = NULL, *msg = NULL;
        char age[96];
        if (p->refused) {
            state = p->state;
            msg = p->message;
        } else {
            fault_for(p->kind, b->tx, now, age, sizeof age, &state, &msg);
        }
        if (state) {
            raise(&b->o, state, msg, np);
            b->changed = true;
            return; /* PostgreSQL stops at the first error: so does the rest of the text */
        }
        if (p->async && p->kind == DSQL_RULES_DDL && p->index_table[0]) {
            puts_(&b->o, "SELECT dsql_local.create_index_async(");
            literal(&b->o, p->forward);
            puts_(&b->o, ", ");
            literal(&b->o, p->index_name);
            puts_(&b->o, ", ");
            literal(&b->o, p->index_table);
            puts_(&b->o, ") AS \"dsql_local:CREATE INDEX:job_id\"");
            b->changed = true;
        } else if (p->async && p->kind == DSQL_RULES_DDL) {
            puts_(&b->o, "SELECT dsql_local.run_job(");
            literal(&b->o, p->forward);
            puts_(&b->o, ", '') AS \"dsql_local:ALTER TABLE:job_id\"");
            b->changed = true;
        } else if (!strcmp(p->show, "server_version")) {
            puts_(&b->o, "SELECT ");
            literal(&b->o, dl.cfg.server_version);
            puts_(&b->o, "::text AS \"dsql_local:SHOW:server_version\"");
            b->changed = true;
        } else {
            puts_(&b->o, p->forward);
            if (p->rewritten)
                b->changed = true; /* PostgreSQL 16 syntax taken out */
        }
    }
}

char *dl_rewrite(const char *sql, int nparams, const dl_tx_state *tx, dl_stmt_info *info)
{
    memset(info, 0, sizeof *info);
    build b = {.tx = tx, .nparams = nparams, .info = info};
    if (!with_analysis(sql, build_fn, &b)) {
        free(b.o.s);
        return NULL;
    }
    if (!b.changed || b.o.oom) {
        free(b.o.s);
        return NULL;
    }
    return b.o.s;
}

/* ---- schema versions ---- */

typedef struct dl_schema {
    struct dl_schema *next;
    char db[64];
    unsigned long version;
} dl_schema_t;

static pthread_mutex_t schema_mu = PTHREAD_MUTEX_INITIALIZER;
static dl_schema_t *schemas;

static dl_schema_t *schema_of(const char *db, bool create)
{
    for (dl_schema_t *s = schemas; s; s = s->next)
        if (!strcmp(s->db, db))
            return s;
    if (!create)
        return NULL;
    dl_schema_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->db, sizeof s->db, "%s", db);
    s->next = schemas;
    schemas = s;
    return s;
}

unsigned long dl_schema_version(const char *database)
{
    pthread_mutex_lock(&schema_mu);
    dl_schema_t *s = schema_of(database, false);
    unsigned long v = s ? s->version : 0;
    pthread_mutex_unlock(&schema_mu);
    return v;
}

void dl_schema_bump(const char *database)
{
    pthread_mutex_lock(&schema_mu);
    dl_schema_t *s = schema_of(database, true);
    if (s)
        s->version++;
    pthread_mutex_unlock(&schema_mu);
}
