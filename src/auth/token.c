/* Aurora DSQL IAM auth tokens: a SigV4 query-presigned GET, without the scheme. */
#include <string.h>

#include "auth/internal.h"
#include "auth/sigv4.h"

/* Bytes a host name may hold: not controls, space, DEL or any of / ? # @ % : */
static const unsigned char host_byte_ok[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x20 space # % / */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, /* 0x30 : ? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 DEL */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x90 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xa0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xb0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xc0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xd0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xe0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0xf0 */
};

static bool valid_host(const char *h)
{
    if (!*h)
        return false;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (!host_byte_ok[*p])
            return false;
    return true;
}

static int token_generate_call(const dsql_token_params *params, const dsql_credentials *creds,
                               char **token, dsql_error *err)
{
    if (token)
        *token = NULL;
    if (!params || !creds || !token)
        return dsql_error_set(err, DSQL_EINVAL, "auth token: NULL argument");
    if (!params->hostname || !valid_host(params->hostname))
        return dsql_error_set(err, DSQL_EINVAL,
                              "auth token: hostname '%s' is not a host name (give the endpoint "
                              "host without scheme, port or path)",
                              params->hostname ? params->hostname : "(null)");
    char why[160];
    if (!dsql__dns_name_ok(params->hostname, why, sizeof why))
        return dsql_error_set(err, DSQL_EINVAL,
                              "auth token: hostname '%.80s%s' is not a DNS name: %s",
                              params->hostname, strlen(params->hostname) > 80 ? "..." : "", why);
    if (params->action != DSQL_TOKEN_DB_CONNECT && params->action != DSQL_TOKEN_DB_CONNECT_ADMIN)
        return dsql_error_set(err, DSQL_EINVAL, "auth token: unknown action %d",
                              (int)params->action);
    long expires = params->expires_in == 0 ? DSQL_TOKEN_EXPIRES_DEFAULT : params->expires_in;
    if (expires < 1 || expires > DSQL_TOKEN_EXPIRES_MAX)
        return dsql_error_set(err, DSQL_EINVAL,
                              "auth token: expires_in %ld is out of range (1 to %d seconds)",
                              params->expires_in, DSQL_TOKEN_EXPIRES_MAX);
    if (!creds->access_key_id || !*creds->access_key_id || !creds->secret_access_key ||
        !*creds->secret_access_key)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "auth token: the credentials have no access key id or no secret "
                              "access key");

    char region_buf[64];
    const char *region = params->region;
    if (!region || !*region) {
        if (!dsql_region_from_host(params->hostname, region_buf, sizeof region_buf))
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "auth token: no region given and host '%s' does not carry one "
                                  "(expected <cluster-id>.dsql.<region>.on.aws)",
                                  params->hostname);
        region = region_buf;
    }
    if (!dsql__valid_region(region))
        return dsql_error_set(err, DSQL_EINVAL,
                              "auth token: region '%s' is not a region name (letters, digits "
                              "and '-')",
                              region);
    time_t when = params->signing_time ? params->signing_time : time(NULL);

    dsql__sigv4_param action = {
        "Action", params->action == DSQL_TOKEN_DB_CONNECT_ADMIN ? "DbConnectAdmin" : "DbConnect"};
    int rc = dsql__sigv4_presign(params->hostname, &action, 1, region, "dsql", when, expires, creds,
                                 token, err);
    if (rc != DSQL_OK)
        dsql__err_prefix(err, "auth token");
    return rc;
}

int dsql_token_generate(const dsql_token_params *params, const dsql_credentials *creds,
                        char **token, dsql_error *err)
{
    return dsql__api_ret("dsql_token_generate", token_generate_call(params, creds, token, err),
                         err);
}

void dsql_token_free(char *token)
{
    dsql__free_secret(token);
}
