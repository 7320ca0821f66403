/*
 * Per-connection cache of named prepared statements, so repeated statements skip the
 * server's parse and plan (what a hand-written libpq program gets from PQprepare).
 *
 * - Only data statements (SELECT, INSERT, UPDATE, DELETE, WITH) are cached; the cache is
 *   bounded (entries and bytes) and never evicts (closing a statement would cost a round
 *   trip); statements beyond the bound run unnamed.
 * - The first use of a statement sends Parse and Bind/Execute pipelined with one Sync:
 *   still one round trip. Later uses are PQexecPrepared.
 * - Until one Parse has succeeded on the connection, statements are only prepared in
 *   autocommit: a server that refuses named statements (0A000) then switches the cache
 *   off and the statement reruns unnamed, without ever aborting a caller's transaction.
 * - "cached plan must not change result type" (a table changed under a SELECT *) makes
 *   the statement prepared again under a new name, in autocommit.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn/private.h"

#define CACHE_SLOTS   512 /* power of two */
#define CACHE_ENTRIES 256
#define CACHE_BYTES   (1u << 20)
#define CACHE_MAX_SQL (128u << 10)

typedef struct entry {
    uint64_t hash;
    char *sql;
    char name[24];
    bool prepared;
    bool pending; /* a Parse for it is in flight in a pipeline */
} entry;

struct dsql__stmt_cache {
    entry slots[CACHE_SLOTS];
    size_t n, bytes;
    unsigned next_id;
    bool verified; /* a Parse has succeeded on this connection */
    bool disabled; /* the server refuses named statements */
};

void dsql__stmt_cache_free(struct dsql__stmt_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(c->slots[i].sql);
    free(c);
}

static bool cacheable(const char *sql, size_t len)
{
    static const char *const words[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
    if (len > CACHE_MAX_SQL)
        return false;
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
        sql++;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i]);
        if (!strncasecmp(sql, words[i], n) && (sql[n] == ' ' || sql[n] == '\n' || !sql[n]))
            return true;
    }
    return false;
}

static uint64_t hash_sql(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* The entry for sql: found, or added when there is room. NULL = run it unnamed. */
static entry *lookup(dsql_conn *conn, const char *sql)
{
    struct dsql__stmt_cache *c = conn->stmts;
    if (c && c->disabled)
        return NULL;
    size_t len = strlen(sql);
    if (!cacheable(sql, len))
        return NULL;
    if (!c) {
        c = conn->stmts = calloc(1, sizeof *c);
        if (!c)
            return NULL;
    }
    uint64_t h = hash_sql(sql, len);
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    for (; c->slots[i].sql; i = (i + 1) & (CACHE_SLOTS - 1))
        if (c->slots[i].hash == h && !strcmp(c->slots[i].sql, sql))
            return &c->slots[i];
    if (c->n >= CACHE_ENTRIES || c->bytes + len > CACHE_BYTES)
        return NULL;
    entry *e = &c->slots[i];
    e->sql = malloc(len + 1);
    if (!e->sql)
        return NULL;
    memcpy(e->sql, sql, len + 1);
    e->hash = h;
    e->prepared = e->pending = false;
    snprintf(e->name, sizeof e->name, "dsql_s%u", ++c->next_id);
    c->n++;
    c->bytes += len;
    return e;
}

/* Reads one command's result in pipeline mode: its result, then the NULL that ends it. */
static PGresult *pipeline_result(PGconn *pg)
{
    PGresult *r = PQgetResult(pg), *extra;
    if (r)
        while ((extra = PQgetResult(pg)) != NULL)
            PQclear(extra);
    return r;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY);
}

/* Parse + Bind/Execute + Sync in one round trip. *unsupported: the server refused the
 * named statement (nothing ran). */
static PGresult *prepare_exec(dsql_conn *conn, entry *e, int nparams, const char *const *values,
                              const int *lengths, const int *formats, int result_format,
                              bool *unsupported)
{
    PGconn *pg = conn->pg;
    *unsupported = false;
    if (!PQenterPipelineMode(pg))
        return NULL;
    if (!PQsendPrepare(pg, e->name, e->sql, nparams, NULL) ||
        !PQsendQueryPrepared(pg, e->name, nparams, values, lengths, formats, result_format) ||
        !PQpipelineSync(pg)) {
        conn->broken = true; /* half a pipeline went out: do not guess what ran */
        return NULL;
    }
    PGresult *parsed = pipeline_result(pg);
    PGresult *ran = parsed ? pipeline_result(pg) : NULL;
    PGresult *sync = ran ? PQgetResult(pg) : NULL;
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(pg)) {
        conn->broken = true;
        PQclear(parsed);
        PQclear(ran);
        return NULL;
    }
    if (PQresultStatus(parsed) == PGRES_COMMAND_OK) {
        e->prepared = true;
        conn->stmts->verified = true;
        PQclear(parsed);
        return ran;
    }
    const char *state = PQresultErrorField(parsed, PG_DIAG_SQLSTATE);
    *unsupported = state && !strcmp(state, "0A000") && !conn->stmts->verified;
    PQclear(ran);
    return parsed; /* the Parse error (a syntax error, an unknown table...) */
}

static bool plan_changed(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return state && !strcmp(state, "0A000") && msg &&
           strstr(msg, "cached plan must not change result type");
}

PGresult *dsql__stmt_exec(dsql_conn *conn, const char *sql, int nparams, const char *const *values,
                          const int *lengths, const int *formats, int result_format, bool *handled)
{
    *handled = false;
    PGconn *pg = conn->pg;
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
        return NULL;
    entry *e = lookup(conn, sql);
    if (!e)
        return NULL;
    bool autocommit = PQtransactionStatus(pg) == PQTRANS_IDLE;
    if (!e->prepared && !conn->stmts->verified && !autocommit)
        return NULL; /* not proven yet: never risk the caller's transaction */
    *handled = true;
    if (e->prepared) {
        PGresult *r = PQexecPrepared(pg, e->name, nparams, values, lengths, formats, result_format);
        if (result_ok(r) || !plan_changed(r) || !autocommit)
            return r;
        PQclear(r);
        /* The table changed shape: prepare it again under a fresh name. */
        snprintf(e->name, sizeof e->name, "dsql_s%u", ++conn->stmts->next_id);
        e->prepared = false;
    }
    bool unsupported;
    PGresult *r =
        prepare_exec(conn, e, nparams, values, lengths, formats, result_format, &unsupported);
    if (unsupported) {
        conn->stmts->disabled = true;
        PQclear(r);
        *handled = false; /* nothing ran: the caller runs it unnamed */
        return NULL;
    }
    return r;
}

/* ---- pipelines ---- */

const char *dsql__stmt_pipeline_name(dsql_conn *conn, const char *sql, bool *parse)
{
    *parse = false;
    /* Inside a pipeline a refused Parse would fail the batch: only proven connections. */
    if (!conn->stmts || !conn->stmts->verified || conn->stmts->disabled)
        return NULL;
    entry *e = lookup(conn, sql);
    if (!e)
        return NULL;
    if (!e->prepared && !e->pending) {
        e->pending = true;
        *parse = true;
    }
    return e->name;
}

void dsql__stmt_parsed(dsql_conn *conn, const char *sql, const PGresult *r)
{
    entry *e = conn->stmts ? lookup(conn, sql) : NULL;
    if (!e)
        return;
    e->pending = false;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        e->prepared = true;
}

void dsql__stmt_failed(dsql_conn *conn, const char *sql, const PGresult *r)
{
    entry *e = conn->stmts ? lookup(conn, sql) : NULL;
    if (e && e->prepared && plan_changed(r)) {
        /* Prepared again under a fresh name next time. */
        snprintf(e->name, sizeof e->name, "dsql_s%u", ++conn->stmts->next_id);
        e->prepared = false;
    }
}
