/* Credentials from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 * (and AWS_CREDENTIAL_EXPIRATION, as the SDKs read it). */
#include "auth/internal.h"

int dsql__fetch_env(dsql_credentials *out, bool *configured, dsql_error *err)
{
    const char *id = dsql__env("AWS_ACCESS_KEY_ID");
    const char *secret = dsql__env("AWS_SECRET_ACCESS_KEY");
    const char *token = dsql__env("AWS_SESSION_TOKEN");
    const char *exp_s = dsql__env("AWS_CREDENTIAL_EXPIRATION");
    *configured = id || secret;
    if (!*configured)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset");
    if (!id)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID "
                              "is not");
    if (!secret)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
                              "is not");
    time_t exp = 0;
    if (exp_s && !dsql__parse_iso8601(exp_s, &exp))
        return dsql_error_set(err, DSQL_EPARSE,
                              "environment: AWS_CREDENTIAL_EXPIRATION '%.40s' is not an ISO 8601 "
                              "time such as 2026-11-25T17:00:00Z",
                              exp_s);
    int rc = dsql_credentials_set(out, id, secret, token, exp, err);
    if (rc != DSQL_OK) {
        dsql__err_prefix(err, "environment");
        return rc;
    }
    dsql__credentials_source(out, "environment");
    return dsql__credentials_check_fresh(out, "environment (AWS_CREDENTIAL_EXPIRATION)", err);
}
