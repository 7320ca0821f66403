/* The default credential chain, in the AWS SDKs' order. The first source that is
 * configured decides; its failure is the chain's error (naming the source). */
#include <stdlib.h>
#include <string.h>

#include "auth/ini.h"
#include "auth/internal.h"

typedef struct chain {
    char *profile; /* explicit profile, or NULL */
} chain;

static int chain_fetch(void *impl, dsql_credentials *out, dsql_error *err)
{
    chain *c = impl;
    bool configured = false;
    int rc;
    /* An explicit profile is what the caller asked for: go straight to it. */
    if (!c->profile) {
        rc = dsql__fetch_env(out, &configured, err);
        if (configured)
            return rc;
    }
    const char *profile = dsql__profile_name(c->profile);
    bool explicit_profile = c->profile || dsql__env("AWS_PROFILE");
    rc = dsql__fetch_profile(profile, explicit_profile, out, &configured, err);
    if (configured)
        return rc;
    return dsql_error_set(err, DSQL_ECREDENTIALS,
                          "no AWS credentials found: looked at the environment "
                          "(AWS_ACCESS_KEY_ID) and profile '%s' of the shared files",
                          profile);
}

static void chain_free(void *impl)
{
    chain *c = impl;
    if (c)
        free(c->profile);
    free(c);
}

static const dsql__provider_ops chain_ops = {chain_fetch, chain_free};

int dsql_credentials_provider_default(const char *profile, dsql_credentials_provider **out,
                                      dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "default credentials: NULL out");
    *out = NULL;
    chain *c = calloc(1, sizeof *c);
    if (!c || (profile && *profile && !(c->profile = dsql__strdup(profile)))) {
        free(c);
        return dsql_error_set(err, DSQL_ENOMEM, "default credentials: out of memory");
    }
    return dsql__provider_new(&chain_ops, c, out, err);
}
