/* Statements: typed parameters, one-round-trip execution, pipelined batches, results. */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

/* ---- numbers in the C locale, whatever the application's LC_NUMERIC ---- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0; /* set once, then read-only */

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* Switches this thread to the C numeric locale; returns the previous one (or 0). */
static locale_t enter_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t old)
{
    if (old)
        uselocale(old);
}

/* Shortest text that reads back as exactly d, in PostgreSQL's spelling. */
static void format_double(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    locale_t old = enter_c_locale();
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    leave_c_locale(old);
}

/* ---- parameters ---- */

typedef struct params {
    const char **values;
    int *lengths;
    int *formats;
    char (*num)[32]; /* text of INT / DOUBLE parameters */
    const char *stack_values[16];
    int stack_lengths[16];
    int stack_formats[16];
    char stack_num[16][32];
    void *heap;
} params;

/* Checks values before anything is sent (so a bad one never leaves a half-sent batch). */
static int params_check(const dsql_value *v, size_t n, dsql_error *err)
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

static int params_build(params *pp, const dsql_value *v, size_t n, dsql_error *err)
{
    memset(pp, 0, sizeof *pp);
    int rc = params_check(v, n, err);
    if (rc)
        return rc;
    if (n <= 16) {
        pp->values = pp->stack_values;
        pp->lengths = pp->stack_lengths;
        pp->formats = pp->stack_formats;
        pp->num = pp->stack_num;
    } else {
        size_t each = sizeof(char *) + 2 * sizeof(int) + 32;
        char *h = malloc(n * each);
        if (!h)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        pp->heap = h;
        pp->num = (char(*)[32])(void *)h;
        pp->values = (const char **)(void *)(h + n * 32);
        pp->lengths = (int *)(void *)(h + n * 32 + n * sizeof(char *));
        pp->formats = pp->lengths + n;
    }
    for (size_t i = 0; i < n; i++) {
        pp->lengths[i] = 0;
        pp->formats[i] = 0;
        switch (v[i].kind) {
        case DSQL_V_NULL:
            pp->values[i] = NULL;
            break;
        case DSQL_V_TEXT:
            pp->values[i] = v[i].u.s; /* a NULL string is SQL NULL */
            break;
        case DSQL_V_INT:
            snprintf(pp->num[i], 32, "%" PRId64, v[i].u.i);
            pp->values[i] = pp->num[i];
            break;
        case DSQL_V_DOUBLE:
            format_double(v[i].u.d, pp->num[i], 32);
            pp->values[i] = pp->num[i];
            break;
        case DSQL_V_BOOL:
            pp->values[i] = v[i].u.b ? "true" : "false";
            break;
        case DSQL_V_BYTES:
            pp->values[i] = v[i].u.bytes.data ? v[i].u.bytes.data : "";
            pp->lengths[i] = (int)v[i].u.bytes.len;
            pp->formats[i] = 1; /* binary: no escaping, NUL bytes allowed */
            break;
        }
    }
    return DSQL_OK;
}

static void params_free(params *pp)
{
    free(pp->heap);
}

/* ---- results ---- */

dsql_result *dsql__result_new(PGresult *pg)
{
    dsql_result *res = calloc(1, sizeof *res);
    if (!res) {
        PQclear(pg);
        return NULL;
    }
    res->magic = DSQL__MAGIC_RESULT;
    res->pg = pg;
    if (pg) {
        const char *t = PQcmdTuples(pg);
        res->affected = t && *t ? strtoull(t, NULL, 10) : 0;
    }
    return res;
}

void dsql_result_free(dsql_result *res)
{
    if (!res || res->magic != DSQL__MAGIC_RESULT)
        return;
    PQclear(res->pg);
    dsql__arena_free(&res->arena);
    res->magic = 0;
    free(res);
}

size_t dsql_result_rows(const dsql_result *res)
{
    if (!res)
        return 0;
    return res->pg ? (size_t)PQntuples(res->pg) : res->nrows;
}

size_t dsql_result_cols(const dsql_result *res)
{
    return res && res->pg ? (size_t)PQnfields(res->pg) : 0;
}

uint64_t dsql_result_affected(const dsql_result *res)
{
    return res ? res->affected : 0;
}

const char *dsql_result_col_name(const dsql_result *res, size_t col)
{
    if (!res || !res->pg || col >= (size_t)PQnfields(res->pg))
        return NULL;
    return PQfname(res->pg, (int)col);
}

int dsql_result_col_index(const dsql_result *res, const char *name)
{
    if (!res || !res->pg || !name)
        return -1;
    /* Exact match (PQfnumber would fold case and parse quotes). */
    int n = PQnfields(res->pg);
    for (int i = 0; i < n; i++)
        if (!strcmp(PQfname(res->pg, i), name))
            return i;
    return -1;
}

static bool in_range(const dsql_result *res, size_t row, size_t col)
{
    return res && res->pg && row < (size_t)PQntuples(res->pg) && col < (size_t)PQnfields(res->pg);
}

bool dsql_result_is_null(const dsql_result *res, size_t row, size_t col)
{
    return !in_range(res, row, col) || PQgetisnull(res->pg, (int)row, (int)col);
}

const char *dsql_result_text(const dsql_result *res, size_t row, size_t col)
{
    if (!in_range(res, row, col) || PQgetisnull(res->pg, (int)row, (int)col))
        return "";
    return PQgetvalue(res->pg, (int)row, (int)col);
}

/* The text of a non-NULL text-format value, or an error naming the cell. */
static int cell_text(const dsql_result *res, size_t row, size_t col, const char **out,
                     dsql_error *err)
{
    *out = NULL; /* also tells an optimising compiler that callers never read it unset */
    if (!in_range(res, row, col))
        return dsql_error_set(err, DSQL_EINVAL, "row %zu, column %zu is out of range (%zu x %zu)",
                              row, col, dsql_result_rows(res), dsql_result_cols(res));
    if (PQgetisnull(res->pg, (int)row, (int)col))
        return dsql_error_set(err, DSQL_EINVAL, "row %zu, column \"%s\" is NULL", row,
                              PQfname(res->pg, (int)col));
    if (PQfformat(res->pg, (int)col) != 0)
        return dsql_error_set(err, DSQL_EINVAL, "column \"%s\" is in binary format",
                              PQfname(res->pg, (int)col));
    *out = PQgetvalue(res->pg, (int)row, (int)col);
    return DSQL_OK;
}

int dsql_result_int(const dsql_result *res, size_t row, size_t col, int64_t *out, dsql_error *err)
{
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return dsql_error_set(err, DSQL_EPARSE,
                              "row %zu, column \"%s\": '%.40s' is not a 64-bit integer", row,
                              PQfname(res->pg, (int)col), s);
    *out = (int64_t)v;
    return DSQL_OK;
}

int dsql_result_double(const dsql_result *res, size_t row, size_t col, double *out, dsql_error *err)
{
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    if (!strcmp(s, "NaN")) {
        *out = NAN;
        return DSQL_OK;
    }
    if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
        *out = *s == '-' ? -INFINITY : INFINITY;
        return DSQL_OK;
    }
    locale_t old = enter_c_locale();
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int e = errno;
    leave_c_locale(old);
    if (end == s || *end || (e == ERANGE && isinf(v)))
        return dsql_error_set(err, DSQL_EPARSE, "row %zu, column \"%s\": '%.40s' is not a number",
                              row, PQfname(res->pg, (int)col), s);
    *out = v;
    return DSQL_OK;
}

int dsql_result_bool(const dsql_result *res, size_t row, size_t col, bool *out, dsql_error *err)
{
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    if (!strcmp(s, "t") || !strcmp(s, "true")) {
        *out = true;
        return DSQL_OK;
    }
    if (!strcmp(s, "f") || !strcmp(s, "false")) {
        *out = false;
        return DSQL_OK;
    }
    return dsql_error_set(err, DSQL_EPARSE, "row %zu, column \"%s\": '%.40s' is not a boolean", row,
                          PQfname(res->pg, (int)col), s);
}

int dsql_result_bytes(const dsql_result *res, size_t row, size_t col, const void **data,
                      size_t *len, dsql_error *err)
{
    if (!data || !len)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_result_bytes: data and len are required");
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)s, &n);
    if (!raw)
        return dsql_error_set(err, DSQL_EPARSE, "row %zu, column \"%s\" is not bytea text", row,
                              PQfname(res->pg, (int)col));
    /* The arena owns the copy, so it lives exactly as long as the result. */
    char *copy = dsql__arena_memdup(&((dsql_result *)res)->arena, raw, n);
    PQfreemem(raw);
    if (!copy)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    *data = copy;
    *len = n;
    return DSQL_OK;
}

/* ---- execution ---- */

static void log_statement(dsql_conn *conn, const char *what, const char *sql, int nparams,
                          int64_t t0_us, int rc)
{
    if (!conn->log)
        return;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append(&sb, what);
    dsql__sb_append_sql_redacted(&sb, sql);
    dsql__sb_appendf(&sb, " (%d param%s, %.3f ms%s)", nparams, nparams == 1 ? "" : "s",
                     (double)(dsql__mono_us() - t0_us) / 1000.0, rc ? ", failed" : "");
    if (!sb.oom)
        conn->log(DSQL_LOG_DEBUG, dsql__sb_str(&sb), conn->log_ctx);
    dsql__sb_free(&sb);
}

static int conn_usable(dsql_conn *conn, dsql_error *err)
{
    if (!conn || conn->magic != DSQL__MAGIC_CONN)
        return dsql_error_set(err, DSQL_EINVAL, "not a dsql_conn");
    if (dsql__conn_check_broken(conn))
        return dsql_error_set(err, DSQL_ECONNLOST,
                              "connection lost earlier; it cannot run statements (close it, or "
                              "release it to its pool)");
    return DSQL_OK;
}

int dsql__conn_exec(dsql_conn *conn, const char *sql, int nparams, const char *const *values,
                    const int *lengths, const int *formats, int result_format, PGresult **out,
                    dsql_error *err)
{
    if (out)
        *out = NULL;
    int rc = conn_usable(conn, err);
    if (rc)
        return rc;
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "SQL text is NULL");
    int64_t t0 = dsql__mono_us();
    bool cached;
    PGresult *res =
        dsql__stmt_exec(conn, sql, nparams, values, lengths, formats, result_format, &cached);
    if (!cached)
        res = PQexecParams(conn->pg, sql, nparams, NULL, values, lengths, formats, result_format);
    conn->stats.statements++;
    conn->stats.round_trips++;
    ExecStatusType st = PQresultStatus(res);
    if (res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)) {
        log_statement(conn, "Executing: ", sql, nparams, t0, 0);
        if (out)
            *out = res;
        else
            PQclear(res);
        return DSQL_OK;
    }
    rc = dsql__error_from_pg(err, conn->pg, res);
    conn->last_error_status = rc;
    PQclear(res);
    dsql__conn_check_broken(conn);
    log_statement(conn, "Executing: ", sql, nparams, t0, rc);
    return rc;
}

int dsql_conn_query(dsql_conn *conn, const char *sql, const dsql_value *params_in, size_t nparams,
                    dsql_result **res, dsql_error *err)
{
    if (res)
        *res = NULL;
    params pp;
    int rc = params_build(&pp, params_in, nparams, err);
    if (rc)
        return rc;
    PGresult *pg = NULL;
    rc = dsql__conn_exec(conn, sql, (int)nparams, pp.values, pp.lengths, pp.formats, 0,
                         res ? &pg : NULL, err);
    params_free(&pp);
    if (rc || !res)
        return rc;
    *res = dsql__result_new(pg);
    if (!*res)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return DSQL_OK;
}

/* ---- pipeline ---- */

/* Leaves pipeline mode after a failure, draining what is left; marks conn broken if the
 * connection cannot be brought back to a clean state. */
static void pipeline_abandon(dsql_conn *conn)
{
    PGconn *pg = conn->pg;
    for (int guard = 0; guard < 1000000 && PQpipelineStatus(pg) != PQ_PIPELINE_OFF; guard++) {
        if (PQstatus(pg) != CONNECTION_OK)
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
    if (!stmts)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_conn_pipeline: stmts is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!stmts[i].sql) {
            if (failed_index)
                *failed_index = i;
            return dsql_error_set(err, DSQL_EINVAL, "SQL text is NULL");
        }
        if ((rc = params_check(stmts[i].params, stmts[i].nparams, err))) {
            if (failed_index)
                *failed_index = i;
            return rc;
        }
    }
    PGconn *pg = conn->pg;
    int64_t t0 = dsql__mono_us();
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF || PQisBusy(pg))
        return dsql_error_set(err, DSQL_EINVAL, "connection is busy (already in pipeline mode)");
    if (!PQenterPipelineMode(pg))
        return dsql__error_from_pg(err, pg, NULL);

    /* Send everything, then one Sync: the server runs the batch and answers once. A
     * statement new to the connection's cache goes with its Parse ahead of it. */
    bool small_parsed[32] = {false};
    bool *parsed = n <= 32 ? small_parsed : calloc(n, sizeof *parsed);
    if (!parsed) {
        pipeline_abandon(conn);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    size_t sent = 0;
    for (; sent < n; sent++) {
        params pp;
        rc = params_build(&pp, stmts[sent].params, stmts[sent].nparams, err);
        if (rc)
            break;
        int np = (int)stmts[sent].nparams, ok = 1;
        const char *name = dsql__stmt_pipeline_name(conn, stmts[sent].sql, &parsed[sent]);
        if (parsed[sent])
            ok = PQsendPrepare(pg, name, stmts[sent].sql, np, NULL);
        if (ok && name)
            ok = PQsendQueryPrepared(pg, name, np, pp.values, pp.lengths, pp.formats, 0);
        else if (ok)
            ok = PQsendQueryParams(pg, stmts[sent].sql, np, NULL, pp.values, pp.lengths, pp.formats,
                                   0);
        params_free(&pp);
        if (!ok) {
            rc = dsql__error_from_pg(err, pg, NULL);
            break;
        }
    }
    if (rc == DSQL_OK && !PQpipelineSync(pg))
        rc = dsql__error_from_pg(err, pg, NULL);
    if (rc) {
        if (failed_index)
            *failed_index = sent;
        /* Nothing was synced: the server has not answered; drop the connection rather than
         * guess what it ran. */
        conn->broken = true;
        pipeline_abandon(conn);
        if (parsed != small_parsed)
            free(parsed);
        return rc;
    }
    conn->stats.statements += n;
    conn->stats.round_trips++;

    size_t failed = n;
    for (size_t i = 0; i < n; i++) {
        if (parsed[i]) { /* the Parse sent ahead of the statement */
            PGresult *pr = PQgetResult(pg), *extra;
            if (pr) {
                while ((extra = PQgetResult(pg)) != NULL)
                    PQclear(extra);
                dsql__stmt_parsed(conn, stmts[i].sql, pr);
                ExecStatusType ps = PQresultStatus(pr);
                if (ps != PGRES_COMMAND_OK && ps != PGRES_PIPELINE_ABORTED && failed == n) {
                    failed = i;
                    rc = dsql__error_from_pg(err, pg, pr);
                }
                PQclear(pr);
            }
        }
        PGresult *r = PQgetResult(pg);
        if (!r) { /* connection lost mid-batch */
            if (failed == n) {
                failed = i;
                rc = dsql__error_from_pg(err, pg, NULL);
                if (rc != DSQL_ECONNLOST) {
                    conn->broken = true;
                    rc = dsql_error_set(err, DSQL_ECONNLOST,
                                        "connection lost: no result for pipeline statement");
                }
            }
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
            if (results && failed == n) {
                results[i] = dsql__result_new(r);
                if (!results[i] && rc == DSQL_OK) {
                    rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
                    failed = i;
                }
            } else {
                PQclear(r);
            }
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else {
            if (failed == n) {
                failed = i;
                rc = dsql__error_from_pg(err, pg, r);
            }
            dsql__stmt_failed(conn, stmts[i].sql, r);
            PQclear(r);
        }
        /* Each statement's results end with a NULL. */
        PGresult *extra;
        while ((extra = PQgetResult(pg)) != NULL)
            PQclear(extra);
        if (PQstatus(pg) != CONNECTION_OK)
            break;
    }
    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *sync = PQgetResult(pg);
        if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
            conn->broken = true;
            if (rc == DSQL_OK)
                rc = dsql_error_set(err, DSQL_EINTERNAL, "pipeline: expected the Sync result");
        }
        PQclear(sync);
        if (!PQexitPipelineMode(pg))
            pipeline_abandon(conn);
    } else {
        if (rc == DSQL_OK) {
            failed = 0;
            rc = dsql__error_from_pg(err, pg, NULL);
        }
        conn->broken = true;
    }
    dsql__conn_check_broken(conn);
    if (parsed != small_parsed)
        free(parsed);

    if (conn->log) {
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_appendf(&sb, "Executing pipeline of %zu statement%s in one round trip: ", n,
                         n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++) {
            if (i)
                dsql__sb_append(&sb, "; ");
            dsql__sb_append_sql_redacted(&sb, stmts[i].sql);
        }
        dsql__sb_appendf(&sb, " (%.3f ms%s)", (double)(dsql__mono_us() - t0) / 1000.0,
                         rc ? ", failed" : "");
        if (!sb.oom)
            conn->log(DSQL_LOG_DEBUG, dsql__sb_str(&sb), conn->log_ctx);
        dsql__sb_free(&sb);
    }

    if (rc) {
        conn->last_error_status = rc;
        if (failed_index)
            *failed_index = failed;
    }
    return rc;
}

int dsql_conn_pipeline(dsql_conn *conn, const dsql_stmt *stmts, size_t n, dsql_result **results,
                       dsql_error *err)
{
    size_t failed = n;
    int rc = dsql__conn_pipeline(conn, stmts, n, results, &failed, err);
    if (rc && failed < n)
        dsql__err_prefix(err, "pipeline statement %zu of %zu", failed, n);
    return rc;
}
