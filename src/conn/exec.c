/* Statements: typed parameters, one-round-trip execution, pipelined batches, and the
 * statement cache on both paths. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

/* ---- parameters ---- */

typedef struct params {
    const char **values;
    int *lengths;
    int *formats;
    char (*num)[32]; /* text of INT / DOUBLE parameters */
    uint8_t *flags;  /* DSQL__PF_* of each parameter */
    const char *stack_values[16];
    int stack_lengths[16];
    int stack_formats[16];
    char stack_num[16][32];
    uint8_t stack_flags[16];
    void *heap;
} params;

/* Checks values before anything is sent (so a bad one never leaves a half-sent batch). */
int dsql__values_check(const dsql_value *v, size_t n, dsql_error *err)
{
    if (n > 65535)
        return dsql_error_set(err, DSQL_EINVAL,
                              "%zu parameters: PostgreSQL allows at most 65535 per statement", n);
    if (n && !v)
        return dsql_error_set(err, DSQL_EINVAL, "%zu parameters announced but params is NULL", n);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)v[i].kind > DSQL_V_BYTES)
            return dsql_error_set(err, DSQL_EINVAL, "parameter $%zu: unknown value kind %d", i + 1,
                                  (int)v[i].kind);
        if (v[i].kind == DSQL_V_BYTES &&
            (v[i].u.bytes.len > INT32_MAX || (!v[i].u.bytes.data && v[i].u.bytes.len)))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "parameter $%zu: bytes value of %zu bytes is invalid (NULL data "
                                  "or over 2 GiB)",
                                  i + 1, v[i].u.bytes.len);
    }
    return DSQL_OK;
}

void dsql__value_encode(const dsql_value *v, char num[32], const char **value, int *length,
                        int *format)
{
    *length = 0;
    *format = 0;
    switch (v->kind) {
    case DSQL_V_NULL:
        *value = NULL;
        break;
    case DSQL_V_TEXT:
        *value = v->u.s; /* a NULL string is SQL NULL */
        break;
    case DSQL_V_INT:
        dsql__i64toa(v->u.i, num);
        *value = num;
        break;
    case DSQL_V_DOUBLE:
        dsql__dtoa(v->u.d, num, 32);
        *value = num;
        break;
    case DSQL_V_BOOL:
        *value = v->u.b ? "true" : "false";
        break;
    case DSQL_V_BYTES:
        *value = v->u.bytes.data ? v->u.bytes.data : "";
        *length = (int)v->u.bytes.len;
        *format = 1; /* binary: no escaping, NUL bytes allowed */
        break;
    default:
        *value = NULL; /* refused earlier by dsql__values_check */
        break;
    }
}

static int params_build(params *pp, const dsql_value *v, size_t n, dsql_error *err)
{
    memset(pp, 0, sizeof *pp);
    int rc = dsql__values_check(v, n, err);
    if (rc)
        return rc;
    if (n <= 16) {
        pp->values = pp->stack_values;
        pp->lengths = pp->stack_lengths;
        pp->formats = pp->stack_formats;
        pp->num = pp->stack_num;
        pp->flags = pp->stack_flags;
    } else {
        size_t each = sizeof(char *) + 2 * sizeof(int) + 32 + 1;
        char *h = malloc(n * each);
        if (!h)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        pp->heap = h;
        pp->num = (char(*)[32])(void *)h;
        pp->values = (const char **)(void *)(h + n * 32);
        pp->lengths = (int *)(void *)(h + n * 32 + n * sizeof(char *));
        pp->formats = pp->lengths + n;
        pp->flags = (uint8_t *)(void *)(pp->formats + n);
    }
    for (size_t i = 0; i < n; i++) {
        dsql__value_encode(&v[i], pp->num[i], &pp->values[i], &pp->lengths[i], &pp->formats[i]);
        pp->flags[i] = dsql__value_pflags(&v[i]);
    }
    return DSQL_OK;
}

static void params_free(params *pp)
{
    free(pp->heap);
}

/* ---- execution ----
 *
 * Every statement goes through one of two doors: dsql__conn_exec (one statement) and
 * dsql__conn_pipeline (a batch). Both consult the connection's statement cache
 * (stmt_cache.c): a statement runs unnamed, is prepared and run in the same round trip,
 * or runs its cached prepared statement. DEALLOCATEs of evicted statements ride along
 * with the next round trip made outside a transaction. */

/* Counts the rows a successful statement modified into the open transaction's total. */
static void note_rows(dsql_conn *conn, const PGresult *r)
{
    const char *tag = PQcmdStatus((PGresult *)r);
    if (strncmp(tag, "INSERT ", 7) && strncmp(tag, "UPDATE ", 7) && strncmp(tag, "DELETE ", 7) &&
        strncmp(tag, "MERGE ", 6))
        return;
    const char *t = PQcmdTuples((PGresult *)r);
    int64_t n = 0;
    if (t && dsql__strtoi64(t, strlen(t), 0, INT64_MAX, &n))
        conn->tx_rows += (uint64_t)n;
}

/* After a round trip: outside a transaction nothing is open to count for. */
static void end_round_trip(dsql_conn *conn)
{
    if (!conn->pg || dsql__conn_tx_status(conn) != PQTRANS_INTRANS)
        conn->tx_rows = 0;
}

uint64_t dsql__conn_tx_rows(const dsql_conn *conn)
{
    return conn && conn->pg && dsql__conn_tx_status(conn) == PQTRANS_INTRANS ? conn->tx_rows : 0;
}

/* DEALLOCATEs sent ahead of one round trip at most. */
#define MAX_DEALLOC_PER_TRIP 16

/* One statement of a batch, with libpq-style parameters, and what the cache does with it. */
typedef struct batch_stmt {
    const char *sql;
    int nparams;
    const char *const *values;
    const int *lengths;
    const int *formats;
    const uint8_t *pflags;
    dsql__stmt_action action;
    dsql__stmt *entry;
    bool parsed;       /* PREPARE: the Parse succeeded */
    bool refused;      /* PREPARE: the Parse failed with 0A000 */
    bool stale;        /* CACHED: failed because the prepared statement no longer fits */
    bool stale_exists; /* ... and the server still holds it (0A000, not 26000) */
} batch_stmt;

static void log_statement(dsql_conn *conn, const batch_stmt *b, int64_t t0_us, bool cached, int rc)
{
    const char *sql = b->sql;
    int nparams = b->nparams;
    if (!conn->log)
        return;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append(&sb, "Executing: ");
    dsql__sb_append_sql_redacted(&sb, sql);
    dsql__sb_appendf(&sb, " (%d param%s, %.3f ms%s%s)", nparams, nparams == 1 ? "" : "s",
                     (double)(dsql__mono_us() - t0_us) / 1000.0, cached ? ", cached" : "",
                     rc ? ", failed" : "");
    if (conn->log_params)
        dsql__sb_append_param_values(&sb, nparams, b->values, b->lengths, b->formats, b->pflags,
                                     conn->log_params);
    if (!sb.oom)
        conn->log(DSQL_LOG_DEBUG, dsql__sb_str(&sb), conn->log_ctx);
    dsql__sb_free(&sb);
}

static int conn_usable(dsql_conn *conn, dsql_error *err)
{
    if (!dsql__is_conn(conn))
        return dsql_error_set(err, DSQL_EINVAL, "not a dsql_conn");
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST,
                              "connection lost earlier; it cannot run statements (close it, or "
                              "release it to its pool)");
    return DSQL_OK;
}

/* A usable connection outside any transaction; `needs` says what needs one. */
static int conn_idle(dsql_conn *conn, const char *needs, dsql_error *err)
{
    int rc = conn_usable(conn, err);
    if (rc)
        return rc;
    if (dsql__conn_tx_status(conn) != PQTRANS_IDLE)
        return dsql_error_set(err, DSQL_EINVAL, "%s", needs);
    return DSQL_OK;
}

static void plan_stmt(dsql_conn *conn, batch_stmt *b, bool may_prove)
{
    b->action = dsql__stmt_cache_plan(&conn->stmts, b->sql, b->nparams, may_prove, &b->entry);
    b->parsed = b->refused = b->stale = b->stale_exists = false;
}

/* A cached prepared statement that failed because it no longer fits: gone from the
 * server (26000: DISCARD ALL or DEALLOCATE behind the library's back) or planned for an
 * older shape of a table (0A000, "cached plan must not change result type"). */
static void note_stale(batch_stmt *b, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (b->action != DSQL__RUN_CACHED || !state)
        return;
    if (!strcmp(state, "26000"))
        b->stale = true;
    else if (!strcmp(state, "0A000"))
        b->stale = b->stale_exists = true;
}

/*
 * A cached statement went stale inside the caller's transaction. The server has aborted
 * the transaction, so nothing can be re-run here; the cache has dropped the statement,
 * and the error becomes a conflict so that the transaction runners (dsql_transaction,
 * dsql_pipeline_tx) run the transaction again, preparing the statement afresh.
 */
static int stale_in_transaction(dsql_error *e)
{
    if (strcmp(e->sqlstate, "26000") &&
        !strstr(e->message, "cached plan must not change result type"))
        return e->status;
    dsql__err_prefix(e, "a cached prepared statement went stale inside the transaction (a table "
                        "it uses changed, or it was deallocated); the transaction was aborted "
                        "and can be retried");
    e->status = DSQL_ECONFLICT;
    return DSQL_ECONFLICT;
}

/* DEALLOCATEs due: only outside a transaction (a DEALLOCATE the server refuses must not
 * abort the caller's transaction). */
static size_t deallocs_due(dsql_conn *conn)
{
    const dsql__stmt_cache *c = &conn->stmts;
    if (!c->npending || c->no_deallocate || PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
        return 0;
    return c->npending < MAX_DEALLOC_PER_TRIP ? c->npending : MAX_DEALLOC_PER_TRIP;
}

/* A statement that may take long by design (DDL, CALL). The statement cache holds only
 * queries and DML, so a statement it runs never is: the text is read for the others. */
static bool waits_long(const batch_stmt *b)
{
    return b->action == DSQL__RUN_UNNAMED && dsql__sql_waits_long(b->sql);
}

/* Leaves pipeline mode after a failure, draining what has already arrived; marks conn
 * broken if the connection cannot be brought back to a clean state. Never waits:
 * PQgetResult blocks (even in non-blocking mode) while output is unsent or an answer is
 * due, so a connection that is already broken, or whose answers have not all arrived, is
 * left as it is - broken, never to be used again. */
static void pipeline_abandon(dsql_conn *conn)
{
    PGconn *pg = conn->pg;
    for (int guard = 0; guard < 1000000 && PQpipelineStatus(pg) != PQ_PIPELINE_OFF; guard++) {
        if (conn->broken || PQstatus(pg) != CONNECTION_OK || PQisBusy(pg))
            break;
        PGresult *r = PQgetResult(pg);
        if (!r) {
            if (PQexitPipelineMode(pg))
                break;
            continue;
        }
        PQclear(r);
    }
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
        conn->broken = true;
    dsql__conn_check_broken(conn);
}

/* The next result of a pipeline and the NULL that ends it, each waited for within the
 * round trip's deadline. NULL when the connection was lost or the deadline passed (then
 * *tmo holds the timeout error). */
static PGresult *next_result(dsql_conn *conn, dsql_error *tmo)
{
    int rc;
    PGresult *r = dsql__conn_next_result(conn, &rc, tmo);
    if (r) {
        PGresult *extra;
        while ((extra = dsql__conn_next_result(conn, &rc, tmo)) != NULL)
            PQclear(extra);
        if (rc) {
            PQclear(r);
            r = NULL;
        }
    }
    return r;
}

/* The Sync's result that closes a sync segment, waited for within the round trip's
 * deadline. False when anything else came, or nothing (*wrc: the wait's status). */
static bool read_sync(dsql_conn *conn, int *wrc, dsql_error *tmo)
{
    PGresult *sync = dsql__conn_next_result(conn, wrc, tmo);
    bool ok = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    return ok;
}

/* A batch starts only on a connection that is out of pipeline mode with nothing due. */
static int check_not_busy(PGconn *pg, dsql_error *err)
{
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF || PQisBusy(pg))
        return dsql_error_set(err, DSQL_EINVAL, "connection is busy (already in pipeline mode)");
    return DSQL_OK;
}

/* The status of a pipeline whose answers stopped coming: the deadline's timeout (tmo),
 * else the lost connection, in libpq's words when it says so, else in `lost`. */
static int no_answer(PGconn *pg, const dsql_error *tmo, const char *lost, dsql_error *err)
{
    if (tmo->status == DSQL_ETIMEOUT) {
        if (err)
            *err = *tmo;
        return DSQL_ETIMEOUT;
    }
    int rc = dsql__error_from_pg(err, pg, NULL);
    if (rc != DSQL_ECONNLOST)
        rc = dsql_error_set(err, DSQL_ECONNLOST, "%s", lost);
    return rc;
}

/* Reads the answers to the DEALLOCATEs sent ahead of a batch (each in its own sync
 * segment). False when the connection was lost. */
static bool read_deallocs(dsql_conn *conn, size_t n, dsql_error *tmo)
{
    for (size_t k = 0; k < n; k++) {
        PGresult *r = next_result(conn, tmo);
        if (!r)
            return false;
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            conn->stats.deallocated++;
        } else {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            /* 26000: already gone (a Parse that never landed). Anything else: this server
             * does not take DEALLOCATE; evicted statements stay until the connection
             * closes, and the cache stops growing past twice its capacity. */
            if (!state || strcmp(state, "26000")) {
                char msg[256];
                dsql__one_line(msg, sizeof msg, PQresultErrorMessage(r));
                dsql__stmt_cache_refuse_deallocate(&conn->stmts);
                dsql__log(conn->log, conn->log_ctx, DSQL_LOG_INFO,
                          "Statement cache: the server refused DEALLOCATE (%s); evicted "
                          "statements stay until the connection closes",
                          msg);
            }
        }
        PQclear(r);
        int rc;
        if (!read_sync(conn, &rc, tmo))
            return false;
    }
    return true;
}

/* Sends the nd DEALLOCATEs due, each in a sync segment of its own (pipeline mode). */
static int send_deallocs(dsql_conn *conn, size_t nd, dsql_error *err)
{
    PGconn *pg = conn->pg;
    dsql__stmt_cache *c = &conn->stmts;
    int rc = DSQL_OK;
    for (size_t k = 0; k < nd && !rc; k++) {
        char sql[64];
        snprintf(sql, sizeof sql, "DEALLOCATE \"dsql_%" PRIu64 "\"", c->pending[k]);
        if (!PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(pg))
            rc = dsql__error_from_pg(err, pg, NULL);
    }
    if (nd) {
        c->npending -= nd;
        memmove(c->pending, c->pending + nd, c->npending * sizeof *c->pending);
    }
    return rc;
}

/* Sends the due DEALLOCATEs (each in a sync segment of its own) and the batch, then the
 * Sync, and flushes. Returns the status; *sent counts the statements sent. */
static int batch_send(dsql_conn *conn, batch_stmt *b, size_t n, size_t nd, int result_format,
                      size_t *sent, dsql_error *err)
{
    PGconn *pg = conn->pg;
    int rc = send_deallocs(conn, nd, err);
    *sent = 0;
    while (!rc && *sent < n) {
        batch_stmt *s = &b[*sent];
        const char *name = s->action != DSQL__RUN_UNNAMED ? s->entry->name : "";
        int ok = 1;
        if (s->action == DSQL__RUN_PREPARE)
            ok = PQsendPrepare(pg, name, s->sql, s->nparams, NULL);
        if (ok && s->action == DSQL__RUN_UNNAMED)
            ok = PQsendQueryParams(pg, s->sql, s->nparams, NULL, s->values, s->lengths, s->formats,
                                   result_format);
        else if (ok)
            ok = PQsendQueryPrepared(pg, name, s->nparams, s->values, s->lengths, s->formats,
                                     result_format);
        if (!ok)
            rc = dsql__error_from_pg(err, pg, NULL);
        else
            (*sent)++;
    }
    if (rc == DSQL_OK && !PQpipelineSync(pg))
        rc = dsql__error_from_pg(err, pg, NULL);
    if (rc == DSQL_OK)
        rc = dsql__conn_flush(conn, err);
    return rc;
}

/* Reading a sent batch's answers. */
typedef struct batch_read {
    dsql_conn *conn;
    PGresult **out;
    size_t n, failed; /* failed: the first failed statement, n when none */
    size_t i;         /* the statement being read */
    bool lost;        /* no answer: the connection was lost or its deadline passed */
    int rc;
    dsql_error *err;
    dsql_error tmo; /* what the wait for an answer said */
} batch_read;

/* The answer to a statement's Parse (when the cache prepares it with this batch). */
static void read_parse(batch_read *br, batch_stmt *s)
{
    PGresult *r = next_result(br->conn, &br->tmo);
    if (!r) {
        br->lost = true;
        return;
    }
    ExecStatusType st = PQresultStatus(r);
    s->parsed = st == PGRES_COMMAND_OK;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    s->refused = st == PGRES_FATAL_ERROR && state && !strcmp(state, "0A000");
    if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED && br->failed == br->n) {
        br->failed = br->i; /* the statement itself is bad (syntax, unknown table...) */
        br->rc = dsql__error_from_pg(br->err, br->conn->pg, r);
    }
    PQclear(r);
}

/* The answer to a statement's Bind/Execute. */
static void read_result(batch_read *br, batch_stmt *s)
{
    dsql_conn *conn = br->conn;
    PGresult *r = next_result(conn, &br->tmo);
    if (!r) {
        br->lost = true;
        return;
    }
    ExecStatusType st = PQresultStatus(r);
    if (s->action == DSQL__RUN_CACHED && st != PGRES_PIPELINE_ABORTED)
        conn->stats.cache_hits++;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        note_rows(conn, r);
        if (br->out && br->failed == br->n) {
            br->out[br->i] = r;
            r = NULL;
        }
    } else if (st != PGRES_PIPELINE_ABORTED && br->failed == br->n) {
        br->failed = br->i;
        br->rc = dsql__error_from_pg(br->err, conn->pg, r);
        note_stale(s, r);
    }
    PQclear(r);
    if (PQstatus(conn->pg) != CONNECTION_OK)
        br->lost = true;
}

/* After the answers: the Sync's result and leaving pipeline mode, or, when an answer
 * never came, the status that says so (statement i got no answer). */
static void batch_end(batch_read *br)
{
    dsql_conn *conn = br->conn;
    PGconn *pg = conn->pg;
    if (!br->lost && PQstatus(pg) == CONNECTION_OK) {
        int wrc;
        bool synced = read_sync(conn, &wrc, &br->tmo);
        if (wrc && br->rc == DSQL_OK) {
            br->rc = wrc;
            if (br->err)
                *br->err = br->tmo;
        } else if (!synced) {
            conn->broken = true;
            if (br->rc == DSQL_OK)
                br->rc =
                    dsql_error_set(br->err, DSQL_EINTERNAL, "pipeline: expected the Sync result");
        }
        if (!PQexitPipelineMode(pg))
            pipeline_abandon(conn);
        return;
    }
    if (br->failed == br->n) {
        br->failed = br->i < br->n ? br->i : 0;
        br->rc =
            no_answer(pg, &br->tmo, "connection lost: no result for pipeline statement", br->err);
    }
    conn->broken = true;
}

/*
 * Runs b[0..n) in pipeline mode with one Sync: one network round trip, whatever the
 * cache decided (a Parse rides in front of its Bind/Execute). Due DEALLOCATEs go first,
 * each in a sync segment of its own. out (n slots, or NULL) receives the PGresult of
 * every statement that succeeded before the first failure; *failed is the index of the
 * first failed statement (n when none failed; where sending stopped when the batch
 * could not be sent). The caller finishes the cache's bookkeeping (finish_batch).
 */
static int run_batch_raw(dsql_conn *conn, batch_stmt *b, size_t n, int result_format,
                         PGresult **out, size_t *failed, dsql_error *err)
{
    PGconn *pg = conn->pg;
    *failed = n;
    if (out)
        for (size_t i = 0; i < n; i++)
            out[i] = NULL;
    int rc = check_not_busy(pg, err);
    if (rc)
        return rc;
    size_t nd = deallocs_due(conn);
    bool long_wait = false;
    for (size_t i = 0; i < n && !long_wait; i++)
        long_wait = waits_long(&b[i]);
    dsql__conn_start_round_trip(conn, long_wait);
    if (!PQenterPipelineMode(pg))
        return dsql__error_from_pg(err, pg, NULL);
    size_t sent;
    rc = batch_send(conn, b, n, nd, result_format, &sent, err);
    if (rc) {
        *failed = sent;
        /* Nothing was synced: the server has not answered; drop the connection rather than
         * guess what it ran. */
        conn->broken = true;
        pipeline_abandon(conn);
        return rc;
    }
    conn->stats.statements += n;
    conn->stats.round_trips++;

    batch_read br = {.conn = conn, .out = out, .n = n, .failed = n, .err = err};
    br.tmo = (dsql_error)DSQL_ERROR_INIT;
    br.lost = !read_deallocs(conn, nd, &br.tmo);
    for (; br.i < n && !br.lost; br.i++) {
        if (b[br.i].action == DSQL__RUN_PREPARE)
            read_parse(&br, &b[br.i]);
        if (!br.lost)
            read_result(&br, &b[br.i]);
        if (br.lost)
            break;
    }
    batch_end(&br);
    *failed = br.failed;
    dsql__conn_check_broken(conn);
    end_round_trip(conn);
    return br.rc;
}

/* run_batch_raw, with the runner's pending BEGIN in front of the batch when there is one:
 * the transaction opens in the same round trip as its first statements. A BEGIN that
 * failed (or got no answer) is reported as the first statement's failure. */
static int run_batch(dsql_conn *conn, batch_stmt *b, size_t n, int result_format, PGresult **out,
                     size_t *failed, dsql_error *err)
{
    if (!conn->begin_pending)
        return run_batch_raw(conn, b, n, result_format, out, failed, err);
    enum { SMALL = 8 };
    batch_stmt small_b[SMALL];
    PGresult *small_out[SMALL];
    batch_stmt *bb = n + 1 <= SMALL ? small_b : malloc((n + 1) * sizeof *bb);
    PGresult **oo = n + 1 <= SMALL ? small_out : malloc((n + 1) * sizeof *oo);
    *failed = 0;
    if (!bb || !oo) {
        if (bb != small_b)
            free(bb);
        if (oo != small_out)
            free(oo);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    bb[0] = (batch_stmt){.sql = DSQL__BEGIN_SQL, .action = DSQL__RUN_UNNAMED};
    memcpy(bb + 1, b, n * sizeof *b);
    conn->begin_pending = false;
    size_t f = n + 1;
    int rc = run_batch_raw(conn, bb, n + 1, result_format, oo, &f, err);
    memcpy(b, bb + 1, n * sizeof *b); /* what the batch learnt of each statement */
    PQclear(oo[0]);
    for (size_t i = 0; i < n; i++) {
        if (out)
            out[i] = oo[i + 1];
        else
            PQclear(oo[i + 1]);
    }
    if (rc && f == 0)
        dsql__err_prefix(err, "BEGIN");
    *failed = f == 0 ? 0 : f - 1;
    if (bb != small_b)
        free(bb);
    if (oo != small_out)
        free(oo);
    return rc;
}

/* The cache's bookkeeping after a batch whose first failure is at index `failed`. */
static void finish_batch(dsql_conn *conn, batch_stmt *b, size_t n, size_t failed)
{
    dsql__stmt_cache *c = &conn->stmts;
    bool reset = false;
    for (size_t i = 0; i < n; i++) {
        batch_stmt *s = &b[i];
        switch (s->action) {
        case DSQL__RUN_PREPARE:
            dsql__stmt_parsed(c, s->entry, s->parsed);
            if (s->parsed)
                conn->stats.prepared++;
            break;
        case DSQL__RUN_CACHED:
            if (s->stale)
                dsql__stmt_drop(c, s->entry, s->stale_exists);
            break;
        case DSQL__RUN_UNNAMED:
            if (i < failed) {
                dsql__stmt_ran_unnamed(s->entry);
                reset = reset || dsql__sql_drops_statements(s->sql);
            }
            break;
        }
    }
    dsql__stmt_cache_end_batch(c);
    if (reset)
        dsql__stmt_cache_reset(c);
}

/* One statement sent and its answer read within the round trip's deadline: PQexecParams /
 * PQexecPrepared semantics (the last result wins), without their unbounded waits. */
static int exec_sync(dsql_conn *conn, batch_stmt *b, int result_format, PGresult **out,
                     dsql_error *err)
{
    PGconn *pg = conn->pg;
    dsql__conn_start_round_trip(conn, waits_long(b));
    int ok = b->action == DSQL__RUN_CACHED
                 ? PQsendQueryPrepared(pg, b->entry->name, b->nparams, b->values, b->lengths,
                                       b->formats, result_format)
                 : PQsendQueryParams(pg, b->sql, b->nparams, NULL, b->values, b->lengths,
                                     b->formats, result_format);
    if (!ok)
        return dsql__error_from_pg(err, pg, NULL);
    int rc = dsql__conn_flush(conn, err);
    if (rc)
        return rc;
    conn->stats.statements++;
    conn->stats.round_trips++;
    if (b->action == DSQL__RUN_CACHED)
        conn->stats.cache_hits++;
    PGresult *res = NULL, *r;
    while ((r = dsql__conn_next_result(conn, &rc, err)) != NULL) {
        PQclear(res);
        res = r;
    }
    if (rc) {
        PQclear(res);
        return rc;
    }
    ExecStatusType st = PQresultStatus(res);
    if (res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)) {
        note_rows(conn, res);
        end_round_trip(conn);
        *out = res;
        return DSQL_OK;
    }
    rc = dsql__error_from_pg(err, pg, res);
    note_stale(b, res);
    PQclear(res);
    end_round_trip(conn);
    return rc;
}

/* One statement, one round trip. The usual cases (a cached statement, an unnamed one)
 * take libpq's synchronous calls; a Parse to send, or DEALLOCATEs due, take a batch. */
static int exec_once(dsql_conn *conn, batch_stmt *b, int result_format, PGresult **out,
                     dsql_error *err)
{
    *out = NULL;
    int rc;
    if (b->action == DSQL__RUN_PREPARE || deallocs_due(conn) || conn->begin_pending) {
        size_t failed;
        rc = run_batch(conn, b, 1, result_format, out, &failed, err);
    } else {
        rc = exec_sync(conn, b, result_format, out, err);
    }
    finish_batch(conn, b, 1, rc ? 0 : 1);
    return rc;
}

int dsql__conn_exec(dsql_conn *conn, const char *sql, int nparams, const char *const *values,
                    const int *lengths, const int *formats, const uint8_t *pflags,
                    int result_format, PGresult **out, dsql_error *err)
{
    if (out)
        *out = NULL;
    int rc = conn_usable(conn, err);
    if (rc)
        return rc;
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "SQL text is NULL");
    /* Outside a transaction the statement is its own: a failed one changed nothing, so a
     * stale cached statement can be prepared afresh and run again, transparently. */
    bool idle = dsql__conn_tx_status(conn) == PQTRANS_IDLE;
    /* The first statement of a runner's transaction goes out with its BEGIN: nothing of the
     * transaction has run before it, so, like an autocommit statement, it may be run again
     * after a ROLLBACK (and may be the connection's first Parse). */
    bool first_in_tx = conn->begin_pending;
    dsql_error e = DSQL_ERROR_INIT;
    PGresult *res = NULL;
    batch_stmt b;
    for (int attempt = 1;; attempt++) {
        int64_t t0 = conn->log ? dsql__mono_us() : 0; /* for the log line only */
        b = (batch_stmt){.sql = sql,
                         .nparams = nparams,
                         .values = values,
                         .lengths = lengths,
                         .formats = formats,
                         .pflags = pflags};
        plan_stmt(conn, &b, idle || first_in_tx);
        bool cached = b.action == DSQL__RUN_CACHED;
        bool proven = conn->stmts.proven;
        rc = exec_once(conn, &b, result_format, &res, &e);
        if (rc)
            dsql__error_redact_params(&e, nparams, values, lengths, formats, pflags);
        log_statement(conn, &b, t0, cached, rc);
        if (!rc || attempt > 1 || dsql__conn_check_broken(conn))
            break;
        if (first_in_tx && (b.stale || (b.refused && !proven))) {
            /* Undo the BEGIN that went with it, and open the transaction again. */
            if (!dsql__conn_reset_tx(conn))
                break;
            conn->begin_pending = true;
        }
        if (b.stale && (idle || first_in_tx)) {
            dsql__log(conn->log, conn->log_ctx, DSQL_LOG_DEBUG,
                      "Statement cache: the cached statement went stale (SQLSTATE %s); running "
                      "it again",
                      e.sqlstate);
            continue;
        }
        if (b.refused && !proven) {
            /* The very first Parse on this connection, in autocommit or first in a fresh
             * transaction (rolled back above): nothing ran. */
            dsql__stmt_cache_disable(&conn->stmts);
            dsql__log(conn->log, conn->log_ctx, DSQL_LOG_INFO,
                      "Statement cache: the server refused a named prepared statement (%s); "
                      "this connection runs its statements unnamed",
                      e.message);
            continue;
        }
        break;
    }
    if (rc) {
        if (b.stale && !idle && !first_in_tx)
            rc = stale_in_transaction(&e);
        /* In autocommit the statement was its own transaction: a write whose connection
         * dropped, whose answer never came, or which met a transient fault may have
         * committed all the same. */
        if ((rc == DSQL_ECONNLOST || rc == DSQL_ETIMEOUT || rc == DSQL_EUNAVAILABLE) && idle &&
            dsql__sql_may_write(sql)) {
            const char *why = rc == DSQL_ECONNLOST  ? "connection lost"
                              : rc == DSQL_ETIMEOUT ? "no answer in time"
                                                    : "transient server fault";
            rc = e.status = DSQL_EUNKNOWN_OUTCOME;
            dsql__err_prefix(&e,
                             "%s while an autocommit statement that writes was in flight: "
                             "it may or may not have been applied",
                             why);
        }
        conn->last_error_status = rc;
        dsql__conn_check_broken(conn);
        if (err)
            *err = e;
        return rc;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return DSQL_OK;
}

/* Hands a statement's PGresult to the caller as a dsql_result (when it asked for one). */
static int wrap_result(int rc, PGresult *pg, dsql_result **res, dsql_error *err)
{
    if (rc || !res)
        return rc;
    *res = dsql__result_new(pg);
    if (!*res)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return DSQL_OK;
}

static int conn_query_call(dsql_conn *conn, const char *sql, const dsql_value *params_in,
                           size_t nparams, dsql_result **res, dsql_error *err)
{
    if (res)
        *res = NULL;
    params pp;
    int rc = params_build(&pp, params_in, nparams, err);
    if (rc)
        return rc;
    PGresult *pg = NULL;
    rc = dsql__conn_exec(conn, sql, (int)nparams, pp.values, pp.lengths, pp.formats, pp.flags, 0,
                         res ? &pg : NULL, err);
    params_free(&pp);
    return wrap_result(rc, pg, res, err);
}

int dsql_conn_query(dsql_conn *conn, const char *sql, const dsql_value *params_in, size_t nparams,
                    dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_conn_query",
                         conn_query_call(conn, sql, params_in, nparams, res, err), err);
}

static int pool_query_call(dsql_pool *pool, const char *sql, const dsql_value *params_in,
                           size_t nparams, const dsql_retry_policy *policy, dsql_result **res,
                           dsql_error *err)
{
    if (res)
        *res = NULL;
    if (!dsql__is_pool(pool))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_pool_query: not a dsql_pool");
    params pp;
    int rc = params_build(&pp, params_in, nparams, err);
    if (rc)
        return rc;
    PGresult *pg = NULL;
    rc = dsql__db_exec_policy(dsql_pool_db(pool), policy, sql, (int)nparams, pp.values, pp.lengths,
                              pp.formats, pp.flags, res ? &pg : NULL, err);
    params_free(&pp);
    return wrap_result(rc, pg, res, err);
}

int dsql_pool_query(dsql_pool *pool, const char *sql, const dsql_value *params_in, size_t nparams,
                    const dsql_retry_policy *policy, dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_pool_query",
                         pool_query_call(pool, sql, params_in, nparams, policy, res, err), err);
}

int dsql__exec_values(dsql_db *db, const char *fn, const char *sql, const dsql_value *params_in,
                      size_t nparams, PGresult **out, dsql_error *err)
{
    if (out)
        *out = NULL;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is NULL", fn);
    if (!dsql__db_is_pool(db) && !dsql__db_is_conn(db))
        return dsql_error_set(err, DSQL_EINVAL, "%s: db is neither a dsql_pool nor a dsql_conn",
                              fn);
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "%s: SQL text is NULL", fn);
    params pp;
    int rc = params_build(&pp, params_in, nparams, err);
    if (rc) {
        dsql__err_prefix(err, "%s", fn);
        return rc;
    }
    rc =
        dsql__db_exec(db, sql, (int)nparams, pp.values, pp.lengths, pp.formats, pp.flags, out, err);
    params_free(&pp);
    return rc;
}

static int exec_call(dsql_db *db, const char *sql, const dsql_value *params_in, size_t nparams,
                     dsql_result **res, dsql_error *err)
{
    if (res)
        *res = NULL;
    PGresult *pg = NULL;
    int rc = dsql__exec_values(db, "dsql_exec", sql, params_in, nparams, res ? &pg : NULL, err);
    return wrap_result(rc, pg, res, err);
}

int dsql_exec(dsql_db *db, const char *sql, const dsql_value *params_in, size_t nparams,
              dsql_result **res, dsql_error *err)
{
    return dsql__api_ret("dsql_exec", exec_call(db, sql, params_in, nparams, res, err), err);
}

/* ---- pipeline ---- */

/* Builds the parameters of stmts[0..n); *built counts those built (to free). */
static int params_build_each(params *pp, const dsql_stmt *stmts, size_t n, size_t *built,
                             dsql_error *err)
{
    for (*built = 0; *built < n; (*built)++) {
        int rc = params_build(&pp[*built], stmts[*built].params, stmts[*built].nparams, err);
        if (rc)
            return rc;
    }
    return DSQL_OK;
}

static void params_free_each(params *pp, size_t built)
{
    for (size_t i = 0; i < built; i++)
        params_free(&pp[i]);
}

/* True when a failure after stmts[0..failed) leaves nothing committed, so the batch can
 * run again: before it, only statements that commit nothing (queries, DML, BEGIN). */
static bool rerunnable(const dsql_stmt *stmts, size_t failed)
{
    for (size_t i = 0; i < failed; i++)
        if (!dsql__sql_commits_nothing(stmts[i].sql))
            return false;
    return true;
}

/* nseg: the transactions of a pipeline of several (one Sync each); 0 for one Sync. */
static void log_pipeline(dsql_conn *conn, const dsql_stmt *stmts, const params *pp, size_t n,
                         size_t nseg, int64_t t0, int rc)
{
    if (!conn->log)
        return;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    if (nseg)
        dsql__sb_appendf(&sb,
                         "Executing pipeline of %zu statement%s in %zu transaction%s, one round "
                         "trip: ",
                         n, n == 1 ? "" : "s", nseg, nseg == 1 ? "" : "s");
    else
        dsql__sb_appendf(&sb, "Executing pipeline of %zu statement%s in one round trip: ", n,
                         n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        if (i)
            dsql__sb_append(&sb, "; ");
        dsql__sb_append_sql_redacted(&sb, stmts[i].sql);
        if (conn->log_params)
            dsql__sb_append_param_values(&sb, (int)stmts[i].nparams, pp[i].values, pp[i].lengths,
                                         pp[i].formats, pp[i].flags, conn->log_params);
    }
    dsql__sb_appendf(&sb, " (%.3f ms%s)", (double)(dsql__mono_us() - t0) / 1000.0,
                     rc ? ", failed" : "");
    if (!sb.oom)
        conn->log(DSQL_LOG_DEBUG, dsql__sb_str(&sb), conn->log_ctx);
    dsql__sb_free(&sb);
}

/* Checks the statements before anything is built or sent; *at: the one that is wrong. */
static int check_stmts(const dsql_stmt *stmts, size_t n, size_t *at, dsql_error *err)
{
    if (!stmts)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_conn_pipeline: stmts is NULL");
    for (size_t i = 0; i < n; i++) {
        *at = i;
        if (!stmts[i].sql)
            return dsql_error_set(err, DSQL_EINVAL, "SQL text is NULL");
        int rc = dsql__values_check(stmts[i].params, stmts[i].nparams, err);
        if (rc)
            return rc;
    }
    *at = n;
    return DSQL_OK;
}

/* The batch's statements as the cache plans them. Never the connection's first Parse: a
 * refusal would fail the batch. */
static void plan_pipeline(dsql_conn *conn, const dsql_stmt *stmts, const params *pp, size_t n,
                          batch_stmt *b)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (batch_stmt){.sql = stmts[i].sql,
                            .nparams = (int)stmts[i].nparams,
                            .values = pp[i].values,
                            .lengths = pp[i].lengths,
                            .formats = pp[i].formats};
        plan_stmt(conn, &b[i], false);
    }
}

/* Runs the batch as the cache plans it; *t0 is when the run that counts started. A stale
 * cached statement outside a transaction runs the batch again once; inside the caller's
 * transaction it becomes a conflict. */
static int run_pipeline(dsql_conn *conn, const dsql_stmt *stmts, const params *pp, size_t n,
                        batch_stmt *b, PGresult **out, size_t *failed, int64_t *t0, dsql_error *e)
{
    bool idle = dsql__conn_tx_status(conn) == PQTRANS_IDLE;
    *t0 = dsql__mono_us();
    int rc;
    for (int attempt = 1;; attempt++) {
        plan_pipeline(conn, stmts, pp, n, b);
        rc = run_batch(conn, b, n, 0, out, failed, e);
        finish_batch(conn, b, n, *failed);
        if (rc && *failed < n && b[*failed].stale && idle && attempt == 1 &&
            !dsql__conn_check_broken(conn) && rerunnable(stmts, *failed)) {
            /* A stale cached statement: nothing of the batch committed (an explicit
             * transaction it opened is rolled back first), so run it all again. */
            log_pipeline(conn, stmts, pp, n, 0, *t0, rc);
            dsql__log(conn->log, conn->log_ctx, DSQL_LOG_DEBUG,
                      "Statement cache: the cached statement of pipeline statement %zu went "
                      "stale (SQLSTATE %s); running the pipeline again",
                      *failed, e->sqlstate);
            for (size_t i = 0; i < n; i++) {
                PQclear(out[i]);
                out[i] = NULL;
            }
            if (!dsql__conn_reset_tx(conn))
                break;
            dsql_error_clear(e);
            *t0 = dsql__mono_us();
            continue;
        }
        break;
    }
    if (rc && *failed < n && b[*failed].stale && !idle)
        rc = stale_in_transaction(e);
    return rc;
}

/* Hands the answers over as results: all of them when the batch succeeded, those before
 * the failure when it failed; the others are freed. */
static int take_results(PGresult **out, size_t n, dsql_result **results, int rc, size_t *failed,
                        dsql_error *e)
{
    for (size_t i = 0; i < n; i++) {
        if (!out[i])
            continue;
        if (results && rc == DSQL_OK) {
            results[i] = dsql__result_new(out[i]);
            if (!results[i]) {
                rc = dsql_error_set(e, DSQL_ENOMEM, "out of memory");
                *failed = i;
            }
        } else if (results && i < *failed) {
            results[i] = dsql__result_new(out[i]); /* statements before the failure */
        } else {
            PQclear(out[i]);
        }
        out[i] = NULL;
    }
    return rc;
}

int dsql__conn_pipeline(dsql_conn *conn, const dsql_stmt *stmts, size_t n, dsql_result **results,
                        size_t *failed_index, dsql_error *err)
{
    if (failed_index)
        *failed_index = n;
    if (results)
        for (size_t i = 0; i < n; i++)
            results[i] = NULL;
    int rc = conn_usable(conn, err);
    if (rc)
        return rc;
    if (n == 0)
        return DSQL_OK;
    size_t at = n;
    if ((rc = check_stmts(stmts, n, &at, err))) {
        if (failed_index)
            *failed_index = at;
        return rc;
    }

    /* Parameters of every statement, then one batch. */
    enum { SMALL = 6 };
    params small_pp[SMALL];
    batch_stmt small_b[SMALL];
    PGresult *small_out[SMALL];
    params *pp = n <= SMALL ? small_pp : calloc(n, sizeof *pp);
    batch_stmt *b = n <= SMALL ? small_b : calloc(n, sizeof *b);
    PGresult **out = n <= SMALL ? small_out : calloc(n, sizeof *out);
    size_t built = 0, failed = n;
    dsql_error e = DSQL_ERROR_INIT;
    if (!pp || !b || !out) {
        rc = dsql_error_set(&e, DSQL_ENOMEM, "out of memory");
        failed = 0;
        goto done;
    }
    if ((rc = params_build_each(pp, stmts, n, &built, &e))) {
        failed = built;
        goto done;
    }
    int64_t t0;
    rc = run_pipeline(conn, stmts, pp, n, b, out, &failed, &t0, &e);
    if (rc && failed < n)
        dsql__error_redact_params(&e, (int)stmts[failed].nparams, pp[failed].values,
                                  pp[failed].lengths, pp[failed].formats, pp[failed].flags);
    log_pipeline(conn, stmts, pp, n, 0, t0, rc);
    rc = take_results(out, n, results, rc, &failed, &e);
done:
    params_free_each(pp, built);
    if (pp != small_pp)
        free(pp);
    if (b != small_b)
        free(b);
    if (out != small_out)
        free(out);
    if (rc) {
        conn->last_error_status = rc;
        if (failed_index)
            *failed_index = failed;
        if (err)
            *err = e;
    }
    return rc;
}

static int conn_pipeline_call(dsql_conn *conn, const dsql_stmt *stmts, size_t n,
                              dsql_result **results, dsql_error *err)
{
    if (results)
        for (size_t i = 0; i < n; i++)
            results[i] = NULL;
    /* One Sync: in autocommit the server runs the batch as one implicit transaction. */
    int crc = n && stmts ? dsql__check_one_transaction(stmts, n, "dsql_conn_pipeline", err) : 0;
    if (crc)
        return crc;
    size_t failed = n;
    int rc = dsql__conn_pipeline(conn, stmts, n, results, &failed, err);
    if (rc && failed < n)
        dsql__err_prefix(err, "pipeline statement %zu of %zu", failed, n);
    return rc;
}

int dsql_conn_pipeline(dsql_conn *conn, const dsql_stmt *stmts, size_t n, dsql_result **results,
                       dsql_error *err)
{
    return dsql__api_ret("dsql_conn_pipeline", conn_pipeline_call(conn, stmts, n, results, err),
                         err);
}

/* Reads one segment's answers into out and seg; false when the connection was lost or the
 * deadline passed before the segment's Sync came back. */
static bool read_segment(dsql_conn *conn, const dsql_stmt *stmts, const params *pp, size_t first,
                         size_t end, PGresult **out, dsql__segment *seg, dsql_error *tmo)
{
    for (size_t i = first; i < end; i++) {
        PGresult *r = next_result(conn, tmo);
        if (!r)
            return false;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
            seg->done = i + 1;
            out[i] = r;
            continue;
        }
        if (st != PGRES_PIPELINE_ABORTED && seg->rc == DSQL_OK) {
            seg->failed = i;
            seg->rc = dsql__error_from_pg(&seg->err, conn->pg, r);
            dsql__error_redact_params(&seg->err, (int)stmts[i].nparams, pp[i].values, pp[i].lengths,
                                      pp[i].formats, pp[i].flags);
        }
        PQclear(r);
    }
    int wrc;
    if (!read_sync(conn, &wrc, tmo))
        return false;
    seg->synced = true;
    return true;
}

/* Every slot of out empty, every segment unanswered. */
static void reset_segments(PGresult **out, size_t n, dsql__segment *segs, size_t nseg)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t k = 0; k < nseg; k++) {
        segs[k].rc = DSQL_OK;
        segs[k].failed = segs[k].end;
        segs[k].done = k ? segs[k - 1].end : 0;
        segs[k].synced = false;
        segs[k].err = (dsql_error)DSQL_ERROR_INIT;
    }
}

/* Queues each segment's statements and its Sync, then flushes. Statements run unnamed: a
 * segment that fails leaves the statements after its failure unparsed, which the
 * statement cache's bookkeeping does not follow across Syncs. */
static int send_segments(dsql_conn *conn, const dsql_stmt *stmts, const params *pp,
                         const dsql__segment *segs, size_t nseg, dsql_error *err)
{
    PGconn *pg = conn->pg;
    int rc = DSQL_OK;
    size_t i = 0;
    for (size_t k = 0; k < nseg && !rc; k++) {
        for (; i < segs[k].end && !rc; i++)
            if (!PQsendQueryParams(pg, stmts[i].sql, (int)stmts[i].nparams, NULL, pp[i].values,
                                   pp[i].lengths, pp[i].formats, 0))
                rc = dsql__error_from_pg(err, pg, NULL);
        if (!rc && !PQpipelineSync(pg))
            rc = dsql__error_from_pg(err, pg, NULL);
    }
    if (!rc)
        rc = dsql__conn_flush(conn, err);
    return rc;
}

/* Reads every segment's answers and leaves pipeline mode; when the answers stop coming,
 * the connection is dropped and the status says why. */
static int read_segments(dsql_conn *conn, const dsql_stmt *stmts, const params *pp,
                         dsql__segment *segs, size_t nseg, PGresult **out, dsql_error *err)
{
    dsql_error tmo = DSQL_ERROR_INIT;
    bool lost = false;
    for (size_t k = 0; k < nseg && !lost; k++)
        lost = !read_segment(conn, stmts, pp, k ? segs[k - 1].end : 0, segs[k].end, out, &segs[k],
                             &tmo);
    if (lost) {
        conn->broken = true;
        return no_answer(conn->pg, &tmo, "connection lost: no answer for the rest of the pipeline",
                         err);
    }
    if (!PQexitPipelineMode(conn->pg))
        pipeline_abandon(conn);
    return DSQL_OK;
}

/* The segments sent in one round trip and their answers read. */
static int run_segments(dsql_conn *conn, const dsql_stmt *stmts, const params *pp, size_t n,
                        dsql__segment *segs, size_t nseg, PGresult **out, dsql_error *err)
{
    PGconn *pg = conn->pg;
    int rc = check_not_busy(pg, err);
    if (rc)
        return rc;
    bool long_wait = false;
    for (size_t i = 0; i < n && !long_wait; i++)
        long_wait = dsql__sql_waits_long(stmts[i].sql);
    int64_t t0 = dsql__mono_us();
    dsql__conn_start_round_trip(conn, long_wait);
    if (!PQenterPipelineMode(pg))
        return dsql__error_from_pg(err, pg, NULL);
    if ((rc = send_segments(conn, stmts, pp, segs, nseg, err))) {
        /* Nothing was synced for sure: drop the connection rather than guess what ran. The
         * caller treats every segment as unanswered. */
        conn->broken = true;
        pipeline_abandon(conn);
        return rc;
    }
    conn->stats.statements += n;
    conn->stats.round_trips++;
    rc = read_segments(conn, stmts, pp, segs, nseg, out, err);
    dsql__conn_check_broken(conn);
    end_round_trip(conn);
    log_pipeline(conn, stmts, pp, n, nseg, t0, rc);
    return rc;
}

int dsql__conn_pipeline_segments(dsql_conn *conn, const dsql_stmt *stmts, size_t n,
                                 dsql__segment *segs, size_t nseg, PGresult **out, dsql_error *err)
{
    reset_segments(out, n, segs, nseg);
    int rc = conn_idle(conn,
                       "a pipeline of separate transactions needs a connection outside a "
                       "transaction",
                       err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = dsql__values_check(stmts[i].params, stmts[i].nparams, err)))
            return rc;
    params *pp = calloc(n ? n : 1, sizeof *pp);
    if (!pp)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t built;
    rc = params_build_each(pp, stmts, n, &built, err);
    if (!rc)
        rc = run_segments(conn, stmts, pp, n, segs, nseg, out, err);
    params_free_each(pp, built);
    free(pp);
    if (rc)
        conn->last_error_status = rc;
    return rc;
}

/* ---- statements each in its own transaction, pipelined ---- */

/* Statement i of s got no answer: it and every one after it were sent (each with its Sync)
 * and may have run. */
static void each_lost(dsql__each_stmt *s, size_t i, size_t n, const dsql_error *why)
{
    for (; i < n; i++) {
        s[i].err = *why;
        s[i].rc = why->status;
        if (dsql__sql_may_write(s[i].sql)) {
            s[i].rc = s[i].err.status = DSQL_EUNKNOWN_OUTCOME;
            dsql__err_prefix(&s[i].err,
                             "%s while a statement that writes was in flight in its own "
                             "transaction: it may or may not have been applied",
                             why->status == DSQL_ETIMEOUT ? "no answer in time"
                                                          : "connection lost");
        }
    }
}

static void log_each(dsql_conn *conn, const dsql__each_stmt *s, size_t n, const int64_t *done_us,
                     int64_t t0)
{
    if (!conn->log)
        return;
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += s[i].rc != DSQL_OK;
    dsql__log(conn->log, conn->log_ctx, DSQL_LOG_DEBUG,
              "Executing pipeline of %zu statement%s, each its own transaction, in one round "
              "trip (%.3f ms%s)",
              n, n == 1 ? "" : "s", (double)(dsql__mono_us() - t0) / 1000.0,
              failed ? ", some failed" : "");
    for (size_t i = 0; i < n; i++) {
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_append(&sb, "Executing: ");
        dsql__sb_append_sql_redacted(&sb, s[i].sql);
        dsql__sb_appendf(&sb, " (%d param%s, %.3f ms, pipelined %zu of %zu%s)", s[i].nparams,
                         s[i].nparams == 1 ? "" : "s", (double)(done_us[i] - t0) / 1000.0, i + 1, n,
                         s[i].rc ? ", failed" : "");
        if (conn->log_params)
            dsql__sb_append_param_values(&sb, s[i].nparams, s[i].values, s[i].lengths, s[i].formats,
                                         NULL, conn->log_params);
        if (!sb.oom)
            conn->log(DSQL_LOG_DEBUG, dsql__sb_str(&sb), conn->log_ctx);
        dsql__sb_free(&sb);
    }
}

/* Enters pipeline mode, queues the DEALLOCATEs due and each statement with its Sync, and
 * flushes. *queued counts the statements queued with their Sync. */
static int send_each(dsql_conn *conn, const dsql__each_stmt *s, size_t n, size_t nd, size_t *queued,
                     dsql_error *e)
{
    PGconn *pg = conn->pg;
    *queued = 0;
    if (!PQenterPipelineMode(pg))
        return dsql__error_from_pg(e, pg, NULL);
    int rc = send_deallocs(conn, nd, e);
    if (rc)
        return rc;
    for (; *queued < n; (*queued)++)
        if (!PQsendQueryParams(pg, s[*queued].sql, s[*queued].nparams, NULL, s[*queued].values,
                               s[*queued].lengths, s[*queued].formats, 0) ||
            !PQpipelineSync(pg))
            return dsql__error_from_pg(e, pg, NULL);
    return dsql__conn_flush(conn, e);
}

/* Sending failed (e says why): what was queued may have reached the server (libpq flushes
 * a full buffer on its own); the rest never left. */
static void each_unsent(dsql_conn *conn, dsql__each_stmt *s, size_t n, size_t queued,
                        const dsql_error *e)
{
    conn->broken = true;
    pipeline_abandon(conn);
    each_lost(s, 0, queued, e);
    for (size_t i = queued; i < n; i++) {
        s[i].err = *e;
        s[i].rc = e->status;
        dsql__err_prefix(&s[i].err, "not sent");
    }
}

/* One statement's answer: its result, or its error. */
static void each_answer(dsql_conn *conn, dsql__each_stmt *s, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        s->res = r;
        if (dsql__sql_drops_statements(s->sql))
            dsql__stmt_cache_reset(&conn->stmts);
    } else {
        s->rc = dsql__error_from_pg(&s->err, conn->pg, r);
        PQclear(r);
    }
}

/* Reads the DEALLOCATEs' answers, then each statement's answer and Sync. Returns the
 * first statement left without an answer (n when none; e says why). */
static size_t read_each(dsql_conn *conn, dsql__each_stmt *s, size_t n, size_t nd, int64_t *done_us,
                        dsql_error *e)
{
    if (!read_deallocs(conn, nd, e))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) /* each answer within its own bound, from the one before */
            dsql__conn_start_round_trip(conn, dsql__sql_waits_long(s[i].sql));
        PGresult *r = next_result(conn, e);
        if (!r)
            return i;
        each_answer(conn, &s[i], r);
        done_us[i] = dsql__mono_us();
        int wrc;
        if (!read_sync(conn, &wrc, e)) {
            if (!wrc)
                dsql_error_set(e, DSQL_EINTERNAL, "pipeline: expected the Sync result");
            return i + 1;
        }
    }
    return n;
}

/* Statements from lost_at on got no answer (e: what the wait said, if anything). */
static void each_unanswered(dsql_conn *conn, dsql__each_stmt *s, size_t n, size_t lost_at,
                            int64_t *done_us, dsql_error *e)
{
    if (e->status == DSQL_OK)
        dsql__error_from_pg(e, conn->pg, NULL);
    if (e->status != DSQL_ETIMEOUT && e->status != DSQL_EINTERNAL) {
        e->status = DSQL_ECONNLOST;
        dsql__err_prefix(e, "connection lost: no answer for a pipelined statement");
    }
    each_lost(s, lost_at, n, e);
    for (size_t i = lost_at; i < n; i++)
        done_us[i] = dsql__mono_us();
    conn->broken = true;
}

/* The statements sent in one round trip, each with its Sync, and their answers read into
 * s; done_us[i]: when statement i's answer came. */
static void run_each(dsql_conn *conn, dsql__each_stmt *s, size_t n, int64_t *done_us)
{
    size_t nd = deallocs_due(conn);
    bool long_wait = false;
    for (size_t i = 0; i < n && !long_wait; i++)
        long_wait = dsql__sql_waits_long(s[i].sql);
    dsql__conn_start_round_trip(conn, long_wait);
    dsql_error e = DSQL_ERROR_INIT;
    size_t queued;
    if (send_each(conn, s, n, nd, &queued, &e)) {
        each_unsent(conn, s, n, queued, &e);
        return;
    }
    conn->stats.statements += n;
    conn->stats.round_trips++;
    size_t lost_at = read_each(conn, s, n, nd, done_us, &e);
    if (lost_at < n)
        each_unanswered(conn, s, n, lost_at, done_us, &e);
    else if (!PQexitPipelineMode(conn->pg))
        pipeline_abandon(conn);
}

/* The first failed statement's status and error (also the connection's last status). */
static int first_failure(dsql_conn *conn, const dsql__each_stmt *s, size_t n, dsql_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].rc) {
            conn->last_error_status = s[i].rc;
            if (err)
                *err = s[i].err;
            return s[i].rc;
        }
    return DSQL_OK;
}

int dsql__conn_exec_each(dsql_conn *conn, dsql__each_stmt *s, size_t n, dsql_error *err)
{
    for (size_t i = 0; i < n; i++) {
        s[i].res = NULL;
        s[i].rc = DSQL_OK;
        s[i].err = (dsql_error)DSQL_ERROR_INIT;
    }
    int rc = conn_idle(conn,
                       "statements that each run in their own transaction need a connection "
                       "outside any transaction",
                       err);
    if (rc)
        return rc;
    if (n == 0)
        return DSQL_OK;
    for (size_t i = 0; i < n; i++)
        if (!s[i].sql)
            return dsql_error_set(err, DSQL_EINVAL, "SQL text is NULL (statement %zu)", i);
    if ((rc = check_not_busy(conn->pg, err)))
        return rc;
    int64_t *done_us = calloc(n, sizeof *done_us);
    if (!done_us)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    int64_t t0 = dsql__mono_us();
    run_each(conn, s, n, done_us);
    dsql__conn_check_broken(conn);
    end_round_trip(conn);
    for (size_t i = 0; i < n; i++)
        if (!done_us[i])
            done_us[i] = dsql__mono_us();
    log_each(conn, s, n, done_us, t0);
    free(done_us);
    return first_failure(conn, s, n, err);
}
