/* IAM mode: endpoint and region resolution, credentials, one token per connection. */
#include <string.h>

#include "conn/private.h"

bool dsql__config_wants_iam(const dsql_config *cfg)
{
    if (cfg->region && *cfg->region)
        return true;
    if (!cfg->host)
        return false;
    size_t n = strlen(cfg->host);
    return n > 7 && !strcmp(cfg->host + n - 7, ".on.aws");
}

int dsql__spec_init_iam(dsql__spec *spec, const dsql_config *cfg, dsql_error *err)
{
    (void)spec;
    (void)cfg;
    return dsql_error_set(err, DSQL_EUNSUPPORTED,
                          "IAM authentication is not available in this build yet");
}

int dsql__spec_mint_token(const dsql__spec *spec, char **token, dsql_error *err)
{
    (void)spec;
    *token = NULL;
    return dsql_error_set(err, DSQL_EUNSUPPORTED,
                          "IAM authentication is not available in this build yet");
}

void dsql__spec_free_iam(dsql__spec *spec)
{
    (void)spec;
}

void dsql__token_free(char *token)
{
    dsql__free_secret(token);
}
