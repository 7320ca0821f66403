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

static int bulk_create_call(dsql_db *db, const dsql_model *m, void *rows, size_t n,
                            const dsql_bulk_options *opts, dsql_bulk_report *report,
                            dsql_error *err)
{
    dsql_bulk_report rep = {0, 0, 0, n};
    if (report)
        *report = rep;
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
    dsql_bulk_options o = opts ? *opts : (dsql_bulk_options)DSQL_BULK_OPTIONS_INIT;
    if (o.on_conflict.action != DSQL_CONFLICT_ERROR &&
        (rc = dsql__conflict_check(m, &o.on_conflict, "dsql_bulk_create", err)))
        return rc;
    size_t max_rows = o.chunk_rows && o.chunk_rows < DSQL__ROW_CAP ? o.chunk_rows : DSQL__ROW_CAP;
    if (max_rows > PARAMS_MAX / m->n_attrs)
        max_rows = PARAMS_MAX / m->n_attrs;
    size_t max_bytes =
        o.chunk_bytes && o.chunk_bytes < CHUNK_BYTES_MAX ? o.chunk_bytes : CHUNK_BYTES_MAX;
    /* Every row is ready and valid before the first chunk is sent. */
    char *base = rows;
    for (size_t r = 0; r < n; r++)
        dsql__fill_defaults(m, base + r * m->struct_size);
    dsql_hook h = {.rows = rows, .n_rows = n};
    if ((rc = dsql__hook_call(m, db, DSQL_HOOK_BEFORE_BULK_CREATE, &h, err)))
        return rc;
    for (size_t r = 0; r < n; r++) {
        void *row = base + r * m->struct_size;
        if ((rc = dsql__validate_insert(m, row, err))) {
            dsql__err_prefix(err, "dsql_bulk_create: row %zu", r);
            return rc;
        }
    }
    /* Inside the caller's transaction the chunks share it, and one transaction modifies at
     * most 3,000 rows on Aurora DSQL: refuse what would cross that before sending anything
     * (on every server, so a program behaves the same on PostgreSQL). */
    bool enclosed = dsql__db_in_transaction(db);
    uint64_t before = enclosed ? dsql__conn_tx_rows(dsql__db_conn(db)) : 0;
    if (enclosed && before + n > DSQL__ROW_CAP)
        return dsql_error_set(err, DSQL_ELIMIT,
                              "dsql_bulk_create: %s: %zu rows inside the caller's transaction, "
                              "which has modified %llu rows already: one Aurora DSQL "
                              "transaction modifies at most %d rows; call it on the pool (chunks "
                              "of up to %d rows, each its own transaction) or split the "
                              "transaction; nothing was sent",
                              m->name, n, (unsigned long long)before, DSQL__ROW_CAP, DSQL__ROW_CAP);
    size_t *starts = NULL, nchunks = 0;
    if ((rc = plan_chunks(m, base, n, max_rows, max_bytes, &starts, &nchunks, err)))
        return rc;
    rep.chunks_total = nchunks;
    if (report)
        *report = rep;
    /* Inside the caller's transaction nothing lands until it commits, and a failed chunk
     * aborts it: a failure is then the chunk's own error with nothing landed. */
    dsql__strbuf sql = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    for (size_t c = 0; c < nchunks; c++) {
        size_t first = starts[c], count = starts[c + 1] - starts[c];
        dsql__sb_reset(&sql);
        dsql__params_reset(&p);
        dsql__build_insert(&sql, &p, m, base + first * m->struct_size, count,
                           o.on_conflict.action ? &o.on_conflict : NULL, false);
        dsql_error e = DSQL_ERROR_INIT;
        rc = dsql__run(db, &sql, &p, NULL, &e);
        if (rc) {
            dsql_error cause = e;
            char landed[256] = "no rows landed";
            if (enclosed) {
                snprintf(landed, sizeof landed, "the enclosing transaction is aborted");
                rep.chunks_done = rep.rows_done = 0;
                if (report)
                    *report = rep;
            } else if (rc == DSQL_EUNKNOWN_OUTCOME) {
                /* The conn layer says the INSERT may have reached the server and committed
                 * before the link went: nothing can be said of this chunk's rows. */
                char after[64] = "";
                if (first + count < n)
                    snprintf(after, sizeof after, ", rows from %zu on did not", first + count);
                if (rep.chunks_done)
                    snprintf(landed, sizeof landed,
                             "the connection was lost with it in flight, so its rows may or "
                             "may not have landed; rows 0..%zu (%zu chunks) landed%s",
                             rep.rows_done - 1, rep.chunks_done, after);
                else
                    snprintf(landed, sizeof landed,
                             "the connection was lost with it in flight, so its rows may or "
                             "may not have landed%s",
                             after);
            } else if (rep.chunks_done) {
                rc = DSQL_EPARTIAL;
                snprintf(landed, sizeof landed,
                         "rows 0..%zu (%zu chunks) landed, rows from %zu on did not",
                         rep.rows_done - 1, rep.chunks_done, first);
            }
            dsql_error_set(
                &e, rc, "dsql_bulk_create: %s: chunk %zu of %zu (rows %zu..%zu) failed; %s: %s",
                m->name, c + 1, nchunks, first, first + count - 1, landed, cause.message);
            memcpy(e.sqlstate, cause.sqlstate, sizeof e.sqlstate);
            memcpy(e.detail, cause.detail, sizeof e.detail);
            memcpy(e.hint, cause.hint, sizeof e.hint);
            if (err)
                *err = e;
            break;
        }
        rep.chunks_done++;
        rep.rows_done += count;
        if (report)
            *report = rep;
        if (o.progress)
            o.progress(rep.rows_done, n, o.progress_ctx);
    }
    free(starts);
    dsql__sb_free(&sql);
    dsql__params_free(&p);
    if (!rc) {
        h.affected = rep.rows_done;
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
