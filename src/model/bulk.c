/*
 * dsql_bulk_create: many rows as multi-row INSERTs, chunked under Aurora DSQL's
 * per-transaction limits (3,000 rows, 10 MiB) and PostgreSQL's 65,535 parameters per
 * statement. Each chunk is one INSERT in autocommit — its own transaction, retried on
 * OCC conflicts — so a failure leaves whole chunks landed and says exactly which.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

#define CHUNK_BYTES_MAX ((size_t)4 << 20) /* parameter bytes: far below the 10 MiB limit */
#define PARAMS_MAX      65535

/* What a row costs in parameter bytes (text length, bytea length, number text). */
static size_t row_bytes(const dsql_model *m, const void *row)
{
    size_t n = 0;
    for (size_t k = 0; k < m->n_attrs; k++) {
        const dsql_attr *a = &m->attrs[k];
        if (dsql__attr_is_null(a, row))
            continue;
        const void *p = DSQL__CMEMBER(row, a);
        if (a->type == DSQL_T_BYTEA)
            n += ((const dsql_bytes *)p)->len;
        else if (dsql__type_is_text(a->type))
            n += strlen(*(char *const *)p);
        else
            n += 24; /* uuid, numbers, booleans: short text */
    }
    return n + 8 * m->n_attrs;
}

/* Splits n rows into chunks; starts[0..*nchunks] are the chunk boundaries (malloc'd). */
static int plan_chunks(const dsql_model *m, const char *rows, size_t n, size_t max_rows,
                       size_t max_bytes, size_t **starts, size_t *nchunks, dsql_error *err)
{
    size_t cap = n / max_rows + 2, k = 0, in_chunk = 0, bytes = 0;
    size_t *s = malloc(cap * sizeof *s);
    if (!s)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    s[k++] = 0;
    for (size_t r = 0; r < n; r++) {
        size_t b = row_bytes(m, rows + r * m->struct_size);
        if (in_chunk && (in_chunk == max_rows || bytes + b > max_bytes)) {
            if (k == cap) {
                size_t *t = realloc(s, (cap *= 2) * sizeof *s);
                if (!t) {
                    free(s);
                    return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
                }
                s = t;
            }
            s[k++] = r;
            in_chunk = 0;
            bytes = 0;
        }
        in_chunk++;
        bytes += b;
    }
    if (k == cap) {
        size_t *t = realloc(s, (cap + 1) * sizeof *s);
        if (!t) {
            free(s);
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        }
        s = t;
    }
    s[k] = n;
    *starts = s;
    *nchunks = n ? k : 0;
    return DSQL_OK;
}

/* The call's arguments; *o gets the options (the defaults when opts is NULL). */
static int check_args(dsql_db *db, const dsql_model *m, const void *rows, size_t n,
                      const dsql_bulk_options *opts, dsql_bulk_options *o, dsql_error *err)
{
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!db)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_bulk_create: db is NULL");
    if (n && !rows)
        return dsql_error_set(err, DSQL_EINVAL,
                              "dsql_bulk_create: %zu %s rows announced, none "
                              "given",
                              n, m->name);
    *o = opts ? *opts : (dsql_bulk_options)DSQL_BULK_OPTIONS_INIT;
    if (o->on_conflict.action != DSQL_CONFLICT_ERROR)
        return dsql__conflict_check(m, &o->on_conflict, "dsql_bulk_create", err);
    return DSQL_OK;
}

/* A chunk's rows and parameter bytes at most: the caller's, within the service's limits. */
static void chunk_limits(const dsql_model *m, const dsql_bulk_options *o, size_t *max_rows,
                         size_t *max_bytes)
{
    *max_rows = o->chunk_rows && o->chunk_rows < DSQL__ROW_CAP ? o->chunk_rows : DSQL__ROW_CAP;
    if (*max_rows > PARAMS_MAX / m->n_attrs)
        *max_rows = PARAMS_MAX / m->n_attrs;
    *max_bytes =
        o->chunk_bytes && o->chunk_bytes < CHUNK_BYTES_MAX ? o->chunk_bytes : CHUNK_BYTES_MAX;
}

/* Every row is ready and valid before the first chunk is sent: defaults filled, the
 * before-bulk-create hook run, each row validated. */
static int prepare_rows(dsql_db *db, const dsql_model *m, char *base, size_t n, dsql_hook *h,
                        dsql_error *err)
{
    for (size_t r = 0; r < n; r++)
        dsql__fill_defaults(m, base + r * m->struct_size);
    int rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_BULK_CREATE, h, err);
    if (rc)
        return rc;
    for (size_t r = 0; r < n; r++) {
        void *row = base + r * m->struct_size;
        if ((rc = dsql__validate_insert(m, row, err))) {
            dsql__err_prefix(err, "dsql_bulk_create: row %zu", r);
            return rc;
        }
    }
    return DSQL_OK;
}

/* Inside the caller's transaction the chunks share it, and one transaction modifies at
 * most 3,000 rows on Aurora DSQL: refuse what would cross that before sending anything
 * (on every server, so a program behaves the same on PostgreSQL). */
static int check_tx_room(dsql_db *db, const dsql_model *m, size_t n, bool *enclosed,
                         dsql_error *err)
{
    *enclosed = dsql__db_in_transaction(db);
    uint64_t before = *enclosed ? dsql__conn_tx_rows(dsql__db_conn(db)) : 0;
    if (*enclosed && before + n > DSQL__ROW_CAP)
        return dsql_error_set(err, DSQL_ELIMIT,
                              "dsql_bulk_create: %s: %zu rows inside the caller's transaction, "
                              "which has modified %llu rows already: one Aurora DSQL "
                              "transaction modifies at most %d rows; call it on the pool (chunks "
                              "of up to %d rows, each its own transaction) or split the "
                              "transaction; nothing was sent",
                              m->name, n, (unsigned long long)before, DSQL__ROW_CAP, DSQL__ROW_CAP);
    return DSQL_OK;
}

/* The chunks being sent. */
typedef struct bulk_send {
    dsql_db *db;
    const dsql_model *m;
    char *base; /* the rows */
    size_t n;
    const dsql_bulk_options *o;
    bool enclosed; /* inside the caller's transaction */
    dsql_bulk_report rep;
    dsql_bulk_report *report; /* the caller's copy of rep, or NULL */
} bulk_send;

/* What landed when the chunk of rows first..first+count-1 failed with rc, in landed;
 * returns the call's status (DSQL_EPARTIAL when earlier chunks landed). */
static int describe_landed(bulk_send *b, int rc, size_t first, size_t count, char *landed,
                           size_t size)
{
    /* Inside the caller's transaction nothing lands until it commits, and a failed chunk
     * aborts it: a failure is then the chunk's own error with nothing landed. */
    if (b->enclosed) {
        snprintf(landed, size, "the enclosing transaction is aborted");
        b->rep.chunks_done = b->rep.rows_done = 0;
        if (b->report)
            *b->report = b->rep;
    } else if (rc == DSQL_EUNKNOWN_OUTCOME) {
        /* The conn layer says the INSERT may have reached the server and committed
         * before the link went: nothing can be said of this chunk's rows. */
        char after[64] = "";
        if (first + count < b->n)
            snprintf(after, sizeof after, ", rows from %zu on did not", first + count);
        if (b->rep.chunks_done)
            snprintf(landed, size,
                     "the connection was lost with it in flight, so its rows may or "
                     "may not have landed; rows 0..%zu (%zu chunks) landed%s",
                     b->rep.rows_done - 1, b->rep.chunks_done, after);
        else
            snprintf(landed, size,
                     "the connection was lost with it in flight, so its rows may or "
                     "may not have landed%s",
                     after);
    } else if (b->rep.chunks_done) {
        rc = DSQL_EPARTIAL;
        snprintf(landed, size, "rows 0..%zu (%zu chunks) landed, rows from %zu on did not",
                 b->rep.rows_done - 1, b->rep.chunks_done, first);
    }
    return rc;
}

/* Chunk c of nchunks failed with rc and cause: the error names the chunk's rows and what
 * landed, with the cause's message, SQLSTATE, detail and hint. */
static int chunk_failed(bulk_send *b, int rc, const dsql_error *cause, size_t c, size_t nchunks,
                        size_t first, size_t count, dsql_error *err)
{
    char landed[256] = "no rows landed";
    rc = describe_landed(b, rc, first, count, landed, sizeof landed);
    dsql_error e = *cause;
    dsql_error_set(&e, rc, "dsql_bulk_create: %s: chunk %zu of %zu (rows %zu..%zu) failed; %s: %s",
                   b->m->name, c + 1, nchunks, first, first + count - 1, landed, cause->message);
    memcpy(e.sqlstate, cause->sqlstate, sizeof e.sqlstate);
    memcpy(e.detail, cause->detail, sizeof e.detail);
    memcpy(e.hint, cause->hint, sizeof e.hint);
    if (err)
        *err = e;
    return rc;
}

/* One INSERT per chunk, in order, each in autocommit unless b->enclosed; stops at the
 * first that fails. */
static int send_chunks(bulk_send *b, const size_t *starts, size_t nchunks, dsql_error *err)
{
    const dsql_model *m = b->m;
    const dsql_bulk_options *o = b->o;
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    int rc = DSQL_OK;
    for (size_t c = 0; c < nchunks; c++) {
        size_t first = starts[c], count = starts[c + 1] - starts[c];
        dsql__sb_reset(&sql);
        dsql__params_reset(&p);
        dsql__build_insert(&sql, &p, m, b->base + first * m->struct_size, count,
                           o->on_conflict.action ? &o->on_conflict : NULL, false);
        dsql_error e = DSQL_ERROR_INIT;
        rc = dsql__run(b->db, &sql, &p, NULL, &e);
        if (rc) {
            rc = chunk_failed(b, rc, &e, c, nchunks, first, count, err);
            break;
        }
        b->rep.chunks_done++;
        b->rep.rows_done += count;
        if (b->report)
            *b->report = b->rep;
        if (o->progress)
            o->progress(b->rep.rows_done, b->n, o->progress_ctx);
    }
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    return rc;
}

static int bulk_create_call(dsql_db *db, const dsql_model *m, void *rows, size_t n,
                            const dsql_bulk_options *opts, dsql_bulk_report *report,
                            dsql_error *err)
{
    dsql_bulk_report rep = {0, 0, 0, n};
    if (report)
        *report = rep;
    dsql_bulk_options o;
    int rc = check_args(db, m, rows, n, opts, &o, err);
    if (rc)
        return rc;
    size_t max_rows, max_bytes;
    chunk_limits(m, &o, &max_rows, &max_bytes);
    char *base = rows;
    dsql_hook h = {.rows = rows, .n_rows = n};
    bool enclosed;
    if ((rc = prepare_rows(db, m, base, n, &h, err)) ||
        (rc = check_tx_room(db, m, n, &enclosed, err)))
        return rc;
    size_t *starts = NULL, nchunks = 0;
    if ((rc = plan_chunks(m, base, n, max_rows, max_bytes, &starts, &nchunks, err)))
        return rc;
    bulk_send b = {.db = db,
                   .m = m,
                   .base = base,
                   .n = n,
                   .o = &o,
                   .enclosed = enclosed,
                   .rep = rep,
                   .report = report};
    b.rep.chunks_total = nchunks;
    if (report)
        *report = b.rep;
    rc = send_chunks(&b, starts, nchunks, err);
    free(starts);
    if (!rc) {
        h.affected = b.rep.rows_done;
        dsql__hook_call(m, db, DSQL_HOOK_AFTER_BULK_CREATE, &h, NULL);
    }
    return rc;
}

int dsql_bulk_create(dsql_db *db, const dsql_model *m, void *rows, size_t n,
                     const dsql_bulk_options *opts, dsql_bulk_report *report, dsql_error *err)
{
    return dsql__api_ret("dsql_bulk_create", bulk_create_call(db, m, rows, n, opts, report, err),
                         err);
}
