/* Results: a statement's PGresult and what the model layer hydrated from it, with typed
 * getters. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

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

static int result_int_call(const dsql_result *res, size_t row, size_t col, int64_t *out,
                           dsql_error *err)
{
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    if (!dsql__strtoi64(s, strlen(s), INT64_MIN, INT64_MAX, out))
        return dsql_error_set(err, DSQL_EPARSE,
                              "row %zu, column \"%s\": '%.40s' is not a 64-bit integer", row,
                              PQfname(res->pg, (int)col), s);
    return DSQL_OK;
}

int dsql_result_int(const dsql_result *res, size_t row, size_t col, int64_t *out, dsql_error *err)
{
    return dsql__api_ret("dsql_result_int", result_int_call(res, row, col, out, err), err);
}

static int result_double_call(const dsql_result *res, size_t row, size_t col, double *out,
                              dsql_error *err)
{
    const char *s = NULL;
    int rc = cell_text(res, row, col, &s, err);
    if (rc)
        return rc;
    if (!dsql__strtod(s, strlen(s), out))
        return dsql_error_set(err, DSQL_EPARSE, "row %zu, column \"%s\": '%.40s' is not a number",
                              row, PQfname(res->pg, (int)col), s);
    return DSQL_OK;
}

int dsql_result_double(const dsql_result *res, size_t row, size_t col, double *out, dsql_error *err)
{
    return dsql__api_ret("dsql_result_double", result_double_call(res, row, col, out, err), err);
}

static int result_bool_call(const dsql_result *res, size_t row, size_t col, bool *out,
                            dsql_error *err)
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

int dsql_result_bool(const dsql_result *res, size_t row, size_t col, bool *out, dsql_error *err)
{
    return dsql__api_ret("dsql_result_bool", result_bool_call(res, row, col, out, err), err);
}

static int result_bytes_call(const dsql_result *res, size_t row, size_t col, const void **data,
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

int dsql_result_bytes(const dsql_result *res, size_t row, size_t col, const void **data,
                      size_t *len, dsql_error *err)
{
    return dsql__api_ret("dsql_result_bytes", result_bytes_call(res, row, col, data, len, err),
                         err);
}
