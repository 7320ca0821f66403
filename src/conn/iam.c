/* IAM mode: endpoint and region resolution, credentials, one token per connection. */
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

bool dsql__config_wants_iam(const dsql_config *cfg)
{
    if (cfg->region && *cfg->region)
        return true;
    if (!cfg->host || !*cfg->host)
        return false;
    /* Several endpoints: IAM when any of them is a DSQL endpoint (host:port entries). */
    char entry[512];
    for (const char *h = cfg->host; *h;) {
        size_t len = strcspn(h, ",");
        while (len && *h == ' ') {
            h++;
            len--;
        }
        size_t n = len < sizeof entry - 1 ? len : sizeof entry - 1;
        memcpy(entry, h, n);
        entry[n] = '\0';
        entry[strcspn(entry, ": ")] = '\0';
        if (*entry && dsql_is_dsql_host(entry))
            return true;
        h += len;
        if (*h == ',')
            h++;
    }
    return false;
}

int dsql__spec_init_iam(dsql__spec *spec, const dsql_config *cfg, dsql_error *err)
{
    if (!cfg->host || !*cfg->host)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: IAM authentication needs the cluster endpoint: set host "
                              "(or CLUSTER_ENDPOINT) to <cluster-id>.dsql.<region>.on.aws or "
                              "the bare cluster id");
    int rc;
    /* Each endpoint's token is minted for its own host and Region. */
    for (size_t i = 0; i < spec->nep; i++) {
        dsql__endpoint *ep = &spec->ep[i];
        char *host = NULL, *region = NULL;
        rc = dsql_endpoint_resolve(ep->host, ep->region, cfg->profile, &host, &region, err);
        if (rc) {
            if (spec->nep > 1)
                dsql__err_prefix(err, "config: endpoint %zu of %zu (%.120s)", i + 1, spec->nep,
                                 ep->host);
            else
                dsql__err_prefix(err, "config");
            return rc;
        }
        free(ep->host);
        free(ep->region);
        ep->host = host;
        ep->region = region;
    }
    /* DbConnectAdmin only for the user spelled exactly "admin" (case matters). */
    spec->action =
        !strcmp(spec->user, "admin") ? DSQL_TOKEN_DB_CONNECT_ADMIN : DSQL_TOKEN_DB_CONNECT;
    spec->expires_in = cfg->expires_in ? cfg->expires_in : DSQL_TOKEN_EXPIRES_DEFAULT;
    spec->signing_time = cfg->signing_time;
    if (cfg->credentials) {
        spec->credentials = cfg->credentials;
    } else {
        rc = dsql_credentials_provider_default(cfg->profile, &spec->credentials, err);
        if (rc) {
            dsql__err_prefix(err, "config: AWS credentials");
            return rc;
        }
        spec->owns_credentials = true;
        /* Warnings about the shared files and retries of credential sources. */
        dsql_credentials_provider_set_log(spec->credentials, cfg->log, cfg->log_ctx);
    }
    return DSQL_OK;
}

void dsql__spec_free_iam(dsql__spec *spec)
{
    if (spec->owns_credentials)
        dsql_credentials_provider_free(spec->credentials);
    spec->credentials = NULL;
    spec->owns_credentials = false;
}

int dsql__spec_mint_token(const dsql__spec *spec, const dsql__endpoint *ep, char **token,
                          dsql_error *err)
{
    *token = NULL;
    dsql_credentials creds = DSQL_CREDENTIALS_INIT;
    int rc = dsql_credentials_provider_get(spec->credentials, &creds, err);
    if (rc) {
        dsql__err_prefix(err, "IAM token for %s: getting AWS credentials", ep->host);
        return rc;
    }
    dsql_token_params params = DSQL_TOKEN_PARAMS_INIT;
    params.hostname = ep->host;
    params.region = ep->region;
    params.action = spec->action;
    params.expires_in = spec->expires_in;
    params.signing_time = spec->signing_time;
    rc = dsql_token_generate(&params, &creds, token, err);
    dsql_credentials_clear(&creds);
    if (rc)
        dsql__err_prefix(err, "IAM token for %s", ep->host);
    return rc;
}

void dsql__token_free(char *token)
{
    dsql_token_free(token);
}
