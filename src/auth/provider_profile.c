/* Credentials from a profile of the shared config/credentials files: static keys,
 * credential_process, role_arn with source_profile or credential_source (STS AssumeRole),
 * web_identity_token_file with role_arn. */
#include <stdio.h>
#include <string.h>

#include "auth/ini.h"
#include "auth/internal.h"

#define MAX_CHAIN 8 /* source_profile hops */

static bool has(const dsql__aws_files *f, const char *profile, const char *key)
{
    const char *v = dsql__aws_files_get(f, profile, key);
    return v && *v;
}

static bool has_credentials(const dsql__aws_files *f, const char *p)
{
    return has(f, p, "aws_access_key_id") || has(f, p, "aws_secret_access_key") ||
           has(f, p, "role_arn") || has(f, p, "credential_process") ||
           has(f, p, "web_identity_token_file") || has(f, p, "sso_start_url") ||
           has(f, p, "sso_session");
}

static int where(const dsql__aws_files *f, char *buf, size_t n)
{
    return snprintf(buf, n, "%s or %s", f->credentials.path ? f->credentials.path : "?",
                    f->config.path ? f->config.path : "?");
}

static int static_keys(const dsql__aws_files *f, const char *p, dsql_credentials *out,
                       dsql_error *err)
{
    const char *id = dsql__aws_files_get(f, p, "aws_access_key_id");
    const char *secret = dsql__aws_files_get(f, p, "aws_secret_access_key");
    const char *token = dsql__aws_files_get(f, p, "aws_session_token");
    if (!id || !*id)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "profile '%s': aws_secret_access_key is set but aws_access_key_id "
                              "is not",
                              p);
    if (!secret || !*secret)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "profile '%s': aws_access_key_id is set but aws_secret_access_key "
                              "is not",
                              p);
    int rc = dsql_credentials_set(out, id, secret, token, 0, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, "profile");
    return rc;
}

static int resolve(const dsql__aws_files *f, const char *p, int depth, const char **visited,
                   dsql_credentials *out, dsql_error *err)
{
    char files[8500];
    where(f, files, sizeof files);
    if (!dsql__aws_files_has_profile(f, p)) {
        if (depth == 0)
            return dsql_error_set(err, DSQL_ECONFIG, "profile '%s' not found in %s", p, files);
        return dsql_error_set(err, DSQL_ECONFIG,
                              "profile '%s': source_profile '%s' not found in %s", visited[0], p,
                              files);
    }
    for (int i = 0; i < depth; i++)
        if (!strcmp(visited[i], p))
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "profile '%s': source_profile chain loops back to '%s'",
                                  visited[0], p);
    if (depth >= MAX_CHAIN)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "profile '%s': source_profile chain longer than %d profiles",
                              visited[0], MAX_CHAIN);
    visited[depth] = p;
    bool is_static = has(f, p, "aws_access_key_id") || has(f, p, "aws_secret_access_key");
    /* A source profile with keys of its own is used as is (the SDKs' rule), so a profile
     * may carry both keys and a role for others to assume. */
    if (depth > 0 && is_static)
        return static_keys(f, p, out, err);
    if (has(f, p, "role_arn") && (has(f, p, "source_profile") || has(f, p, "credential_source")))
        return dsql_error_set(err, DSQL_EUNSUPPORTED, "profile '%s': role_arn is not supported yet",
                              p);
    if (is_static)
        return static_keys(f, p, out, err);
    if (has(f, p, "credential_process"))
        return dsql_error_set(err, DSQL_EUNSUPPORTED,
                              "profile '%s': credential_process is not supported yet", p);
    if (has(f, p, "sso_start_url") || has(f, p, "sso_session"))
        return dsql_error_set(err, DSQL_EUNSUPPORTED,
                              "profile '%s': AWS IAM Identity Center (SSO) profiles are not "
                              "supported; use credential_process or static keys",
                              p);
    return dsql_error_set(err, DSQL_ECREDENTIALS,
                          "profile '%s' in %s has no credentials (aws_access_key_id + "
                          "aws_secret_access_key, credential_process, or role_arn + "
                          "source_profile)",
                          p, files);
}

int dsql__fetch_profile(const char *profile, bool explicit_profile, dsql_credentials *out,
                        bool *configured, dsql_error *err)
{
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    *configured = explicit_profile;
    int rc = dsql__aws_files_load(&f, err);
    if (rc != DSQL_OK) {
        *configured = true; /* an unreadable or malformed file is an error, never skipped */
        goto done;
    }
    if (!explicit_profile && !has_credentials(&f, profile)) {
        rc = dsql_error_set(err, DSQL_ECREDENTIALS, "profile '%s': no credentials in %s%s%s",
                            profile, f.credentials.path, " or ", f.config.path);
        goto done;
    }
    *configured = true;
    const char *visited[MAX_CHAIN];
    rc = resolve(&f, profile, 0, visited, out, err);
done:
    dsql__aws_files_free(&f);
    return rc;
}
