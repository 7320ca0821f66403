/* Credentials in JSON: credential_process output, container and instance-metadata
 * responses. */
#include <string.h>

#include <cjson/cJSON.h>

#include "auth/internal.h"

/* Overwrites every string of the tree (values and keys may be secrets). */
static void wipe_tree(cJSON *j)
{
    for (cJSON *c = j; c; c = c->next) {
        if (c->child)
            wipe_tree(c->child);
        if (c->valuestring)
            dsql__wipe(c->valuestring, strlen(c->valuestring));
    }
}

static void json_wipe_delete(cJSON *j)
{
    if (!j)
        return;
    wipe_tree(j);
    cJSON_Delete(j);
}

/* A string member, NULL when absent; *bad when present but not a string. */
static const char *member(const cJSON *o, const char *k, bool *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

/* A JSON value safe to quote in an error: short, printable, and holding no part of a
 * secret of the same document (a server may put anything in Code or Expiration). */
static const char *quotable(const cJSON *j, const char *v)
{
    static const char *const secrets[] = {"SecretAccessKey", "Token", "SessionToken"};
    size_t n = strlen(v);
    if (n > 64)
        return "(not shown)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < ' ' || (unsigned char)v[i] >= 0x7f || v[i] == '"')
            return "(not shown)";
    for (size_t i = 0; i < DSQL__ARRAY_LEN(secrets); i++) {
        bool bad = false;
        const char *s = member(j, secrets[i], &bad);
        if (s && *s && (strstr(v, s) || strstr(s, v)))
            return "(not shown)";
    }
    return v;
}

int dsql__creds_from_json(const char *text, size_t len, dsql__json_format fmt, const char *what,
                          dsql_credentials *out, dsql_error *err)
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        return dsql_error_set(err, DSQL_EPARSE, "%s: the response is not valid JSON", what);
    int rc = DSQL_OK;
    bool bad = false;
    if (!cJSON_IsObject(j)) {
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: the JSON is not an object", what);
        goto done;
    }
    if (fmt == DSQL__JSON_PROCESS) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Version");
        if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "%s: the JSON has no \"Version\": 1 (the only version there is)",
                                what);
            goto done;
        }
    }
    if (fmt == DSQL__JSON_IMDS) {
        const char *code = member(j, "Code", &bad);
        if (code && strcmp(code, "Success") != 0) {
            rc = dsql_error_set(err, DSQL_ECREDENTIALS, "%s: the instance reports Code \"%s\"",
                                what, quotable(j, code));
            goto done;
        }
    }
    const char *id = member(j, "AccessKeyId", &bad);
    const char *secret = member(j, "SecretAccessKey", &bad);
    const char *token = member(j, fmt == DSQL__JSON_PROCESS ? "SessionToken" : "Token", &bad);
    const char *exp_s = member(j, "Expiration", &bad);
    if (bad) {
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: a credential field of the JSON is not a string",
                            what);
        goto done;
    }
    if (!id || !*id || !secret || !*secret) {
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: the JSON has no %s", what,
                            !id || !*id ? "AccessKeyId" : "SecretAccessKey");
        goto done;
    }
    time_t exp = 0;
    if (exp_s && !dsql__parse_iso8601(exp_s, &exp)) {
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: Expiration '%s' is not an ISO 8601 time", what,
                            quotable(j, exp_s));
        goto done;
    }
    if (fmt != DSQL__JSON_PROCESS && (!token || !exp_s)) {
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: the JSON has no %s", what,
                            !token ? "Token" : "Expiration");
        goto done;
    }
    rc = dsql_credentials_set(out, id, secret, token, exp, err);
    if (rc != DSQL_OK)
        goto done;
    rc = dsql__credentials_check_fresh(out, what, err);
    if (rc != DSQL_OK)
        dsql_credentials_clear(out);
done:
    json_wipe_delete(j);
    return rc;
}
