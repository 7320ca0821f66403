/* The default credential chain, in the AWS SDKs' order. The first source that is
 * configured decides; its failure is the chain's error (naming the source). */
#include <stdlib.h>
#include <string.h>

#include "auth/ini.h"
#include "auth/internal.h"

typedef struct chain {
    char *profile; /* explicit profile, or NULL */
} chain;

static int chain_fetch(void *impl, const dsql__auth_log *log, dsql_credentials *out,
                       dsql_error *err)
{
    chain *c = impl;
    bool configured = false;
    int rc;
    /* An explicit profile is what the caller asked for: go straight to it. */
    if (c->profile) {
        rc = dsql__fetch_profile(c->profile, DSQL__PROFILE_ONLY, log, out, &configured, err);
        return rc;
    }
    rc = dsql__fetch_env(out, &configured, err);
    if (configured)
        return rc;
    /* A profile named by AWS_PROFILE comes before web identity from the environment (as
     * in the SDKs); the default profile after it. */
    const char *profile = dsql__profile_name(NULL);
    bool named = dsql__env("AWS_PROFILE") != NULL;
    if (named) {
        rc = dsql__fetch_profile(profile, DSQL__PROFILE_NAMED, log, out, &configured, err);
        if (configured)
            return rc;
    }
    rc = dsql__fetch_web_identity_env(log, out, &configured, err);
    if (configured)
        return rc;
    if (!named) {
        rc = dsql__fetch_profile(profile, DSQL__PROFILE_DEFAULT, log, out, &configured, err);
        if (configured)
            return rc;
    }
    rc = dsql__fetch_container(log, out, &configured, err);
    if (configured)
        return rc;
    dsql_error imds_err = DSQL_ERROR_INIT;
    rc = dsql__fetch_imds(log, profile, out, &configured, &imds_err);
    /* Success, or an endpoint named explicitly: its answer is the chain's. */
    if (rc == DSQL_OK || configured) {
        if (err && rc != DSQL_OK)
            *err = imds_err;
        return rc;
    }
    dsql_error_set(err, DSQL_ECREDENTIALS,
                   "no AWS credentials found: the environment (AWS_ACCESS_KEY_ID), web identity "
                   "(AWS_WEB_IDENTITY_TOKEN_FILE), profile '%s' of the shared files and the "
                   "container endpoint (AWS_CONTAINER_CREDENTIALS_*) have none; %s",
                   profile, imds_err.message);
    return DSQL_ECREDENTIALS;
}

static void chain_free(void *impl)
{
    chain *c = impl;
    if (c)
        free(c->profile);
    free(c);
}

static const dsql__provider_ops chain_ops = {chain_fetch, chain_free};

static int credentials_provider_default_call(const char *profile, dsql_credentials_provider **out,
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

int dsql_credentials_provider_default(const char *profile, dsql_credentials_provider **out,
                                      dsql_error *err)
{
    return dsql__api_ret("dsql_credentials_provider_default",
                         credentials_provider_default_call(profile, out, err), err);
}
