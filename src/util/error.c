/* Status names, descriptions and the dsql_error record. */
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "dsql/common.h"
#include "util/util.h"

static const struct {
    const char *name;
    const char *text;
} status_table[] = {
    [DSQL_OK] = {"DSQL_OK", "success"},
    [DSQL_EINVAL] = {"DSQL_EINVAL", "invalid argument"},
    [DSQL_ENOMEM] = {"DSQL_ENOMEM", "out of memory"},
    [DSQL_EIO] = {"DSQL_EIO", "input/output error"},
    [DSQL_ECONFIG] = {"DSQL_ECONFIG", "configuration error"},
    [DSQL_ECREDENTIALS] = {"DSQL_ECREDENTIALS", "AWS credentials unavailable"},
    [DSQL_EAUTH] = {"DSQL_EAUTH", "authentication rejected"},
    [DSQL_ECONNECT] = {"DSQL_ECONNECT", "could not connect"},
    [DSQL_ETIMEOUT] = {"DSQL_ETIMEOUT", "operation timed out"},
    [DSQL_ESERVER] = {"DSQL_ESERVER", "server error"},
    [DSQL_ECONFLICT] = {"DSQL_ECONFLICT", "optimistic concurrency conflict"},
    [DSQL_EUNKNOWN_OUTCOME] = {"DSQL_EUNKNOWN_OUTCOME",
                               "connection lost with a commit or write in flight: outcome unknown"},
    [DSQL_ENOTFOUND] = {"DSQL_ENOTFOUND", "no matching row"},
    [DSQL_EVALIDATION] = {"DSQL_EVALIDATION", "validation failed"},
    [DSQL_ECONSTRAINT] = {"DSQL_ECONSTRAINT", "constraint violated"},
    [DSQL_ELIMIT] = {"DSQL_ELIMIT", "service limit exceeded"},
    [DSQL_EUNSUPPORTED] = {"DSQL_EUNSUPPORTED", "feature not supported"},
    [DSQL_ECLOSED] = {"DSQL_ECLOSED", "handle is closed"},
    [DSQL_EHTTP] = {"DSQL_EHTTP", "HTTP request failed"},
    [DSQL_EPARSE] = {"DSQL_EPARSE", "malformed input"},
    [DSQL_ECONNLOST] = {"DSQL_ECONNLOST", "connection lost"},
    [DSQL_EPARTIAL] = {"DSQL_EPARTIAL", "operation completed only in part"},
    [DSQL_EINTERNAL] = {"DSQL_EINTERNAL", "internal error"},
    [DSQL_EMISUSE] = {"DSQL_EMISUSE", "library misused by the caller"},
    [DSQL_EUNAVAILABLE] = {"DSQL_EUNAVAILABLE", "service temporarily unavailable"},
    [DSQL_ESTALE] = {"DSQL_ESTALE", "the row changed since it was read"},
    [DSQL_EVETO] = {"DSQL_EVETO", "refused by a model hook"},
    [DSQL_EABORTED] = {"DSQL_EABORTED",
                       "not applied: another operation of its atomic batch failed"},
};

const char *dsql_status_name(int status)
{
    if (status < 0 || (size_t)status >= DSQL__ARRAY_LEN(status_table) || !status_table[status].name)
        return "DSQL_E?";
    return status_table[status].name;
}

const char *dsql_strerror(int status)
{
    if (status < 0 || (size_t)status >= DSQL__ARRAY_LEN(status_table) || !status_table[status].text)
        return "unknown status";
    return status_table[status].text;
}

void dsql_error_clear(dsql_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

int dsql_error_set(dsql_error *err, int status, const char *fmt, ...)
{
    if (!err)
        return status;
    memset(err, 0, sizeof *err);
    err->status = status;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    } else {
        snprintf(err->message, sizeof err->message, "%s", dsql_strerror(status));
    }
    return status;
}

/* The length of a leading "dsql_name: " (a public call's prefix), or 0. */
static size_t call_prefix_len(const char *m)
{
    if (strncmp(m, "dsql_", 5) != 0)
        return 0;
    size_t k = 5;
    while ((m[k] >= 'a' && m[k] <= 'z') || (m[k] >= '0' && m[k] <= '9') || m[k] == '_')
        k++;
    return m[k] == ':' && m[k + 1] == ' ' ? k + 2 : 0;
}

void dsql__err_prefix(dsql_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* A public call's name is not context: the call this layer serves adds its own. */
    size_t k = call_prefix_len(err->message);
    if (k)
        memmove(err->message, err->message + k, strlen(err->message + k) + 1);
    size_t plen = strlen(prefix);
    memcpy(prefix + plen, ": ", 3);
    plen += 2;
    /* Shift the old message right (truncating its tail) and put the prefix in front. */
    size_t cap = sizeof err->message - 1;
    size_t old = strnlen(err->message, cap);
    if (plen > cap)
        plen = cap;
    size_t keep = old < cap - plen ? old : cap - plen;
    memmove(err->message + plen, err->message, keep);
    memcpy(err->message, prefix, plen);
    err->message[plen + keep] = '\0';
}

static int api_ret(const char *call, int rc, dsql_error *err, bool replace)
{
    if (rc == DSQL_OK || !err || !call)
        return rc;
    size_t clen = strlen(call);
    if (!strncmp(err->message, call, clen) && !strncmp(err->message + clen, ": ", 2))
        return rc;
    size_t k = call_prefix_len(err->message);
    if (k && !replace)
        return rc;
    if (k)
        memmove(err->message, err->message + k, strlen(err->message + k) + 1);
    dsql__err_prefix(err, "%s", call);
    return rc;
}

int dsql__api_ret(const char *call, int rc, dsql_error *err)
{
    return api_ret(call, rc, err, true);
}

int dsql__api_ret_body(const char *call, int rc, dsql_error *err)
{
    return api_ret(call, rc, err, false);
}

const char *dsql_version(void)
{
    return DSQL_VERSION_STRING;
}
