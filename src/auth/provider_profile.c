/* Credentials from a profile of the shared config/credentials files: static keys,
 * credential_process, role_arn with source_profile or credential_source (STS AssumeRole),
 * web_identity_token_file with role_arn. */
#include <stdio.h>
#include <stdlib.h>
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
    char at[4200];
    if (!id || !*id)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "profile '%s': aws_secret_access_key is set (%s) but "
                              "aws_access_key_id is not",
                              p, dsql__aws_files_at(f, p, "aws_secret_access_key", at, sizeof at));
    if (!secret || !*secret)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "profile '%s': aws_access_key_id is set (%s) but "
                              "aws_secret_access_key is not",
                              p, dsql__aws_files_at(f, p, "aws_access_key_id", at, sizeof at));
    int rc = dsql_credentials_set(out, id, secret, token, 0, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, "profile");
    return rc;
}

static int resolve(const dsql__aws_files *f, const dsql__auth_log *log, const char *p, int depth,
                   const char **visited, dsql_credentials *out, dsql_error *err);

/* credential_source: where the source credentials of a role come from when there is no
 * source_profile. */
static int credential_source(const dsql__aws_files *f, const dsql__auth_log *log, const char *top,
                             const char *p, const char *src, dsql_credentials *out, dsql_error *err)
{
    bool configured;
    if (!strcmp(src, "Environment"))
        return dsql__fetch_env(out, &configured, err);
    if (!strcmp(src, "Ec2InstanceMetadata"))
        return dsql__fetch_imds(log, top, out, &configured, err);
    if (!strcmp(src, "EcsContainer"))
        return dsql__fetch_container(log, out, &configured, err);
    char at[4200];
    return dsql_error_set(err, DSQL_ECONFIG,
                          "profile '%s': credential_source '%.40s' (%s) is not one of "
                          "Environment, Ec2InstanceMetadata, EcsContainer",
                          p, src, dsql__aws_files_at(f, p, "credential_source", at, sizeof at));
}

static int assume_role(const dsql__aws_files *f, const dsql__auth_log *log, const char *p,
                       int depth, const char **visited, dsql_credentials *out, dsql_error *err)
{
    char what[160];
    snprintf(what, sizeof what, "profile '%s' (assume role)", p);
    const char *src_profile = dsql__aws_files_get(f, p, "source_profile");
    const char *src = dsql__aws_files_get(f, p, "credential_source");
    char at[4200], at2[4200];
    if (src_profile && *src_profile && src && *src)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "%s: source_profile (%s) and credential_source (%s) are both set; "
                              "use one",
                              what, dsql__aws_files_at(f, p, "source_profile", at, sizeof at),
                              dsql__aws_files_at(f, p, "credential_source", at2, sizeof at2));
    if (has(f, p, "mfa_serial"))
        return dsql_error_set(err, DSQL_EUNSUPPORTED,
                              "%s: mfa_serial is set (%s), but prompting for an MFA code is not "
                              "supported; use credential_process instead",
                              what, dsql__aws_files_at(f, p, "mfa_serial", at, sizeof at));
    long duration = 0;
    const char *d = dsql__aws_files_get(f, p, "duration_seconds");
    if (d) {
        char *end;
        duration = strtol(d, &end, 10);
        if (*end || duration < 900 || duration > 43200)
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "%s: duration_seconds '%.20s' (%s) is not a number from 900 to "
                                  "43200",
                                  what, d,
                                  dsql__aws_files_at(f, p, "duration_seconds", at, sizeof at));
    }
    dsql_credentials source = DSQL_CREDENTIALS_INIT;
    bool via_profile = src_profile && *src_profile;
    int rc;
    if (via_profile && !strcmp(src_profile, p)) {
        /* source_profile naming the profile itself: its own keys are the source (the
         * SDKs' rule); without keys it is a loop. */
        if (!has(f, p, "aws_access_key_id") && !has(f, p, "aws_secret_access_key"))
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "profile '%s': source_profile names the profile itself, which "
                                  "has no aws_access_key_id and aws_secret_access_key to assume "
                                  "the role with",
                                  p);
        rc = static_keys(f, p, &source, err);
    } else {
        rc = via_profile ? resolve(f, log, src_profile, depth + 1, visited, &source, err)
                         : credential_source(f, log, visited[0], p, src, &source, err);
    }
    if (rc != DSQL_OK) {
        dsql_credentials_clear(&source);
        if (!via_profile)
            dsql__err_prefix(err, "%s: credential_source %s", what, src);
        return rc;
    }
    /* The STS client is the selected profile's (visited[0]): its region and endpoint
     * serve every hop of a source_profile chain, as in the SDKs. */
    char *endpoint = NULL;
    const char *from;
    int attempts = 0;
    rc = dsql__configured_endpoint(f, visited[0], "STS", "sts", &endpoint, &from, err);
    if (rc == DSQL_OK)
        rc = dsql__max_attempts(f, visited[0], &attempts, err);
    if (rc == DSQL_OK) {
        dsql__sts_role role = {0};
        role.max_attempts = attempts;
        role.role_arn = dsql__aws_files_get(f, p, "role_arn");
        role.session_name = dsql__aws_files_get(f, p, "role_session_name");
        role.external_id = dsql__aws_files_get(f, p, "external_id");
        role.duration_s = duration;
        role.region = dsql__aws_files_get(f, visited[0], "region");
        role.endpoint_url = endpoint;
        role.log = log;
        rc = dsql__sts_assume_role(&source, &role, what, out, err);
    }
    free(endpoint);
    dsql_credentials_clear(&source);
    return rc;
}

static int resolve(const dsql__aws_files *f, const dsql__auth_log *log, const char *p, int depth,
                   const char **visited, dsql_credentials *out, dsql_error *err)
{
    char files[8500], at[4200];
    where(f, files, sizeof files);
    if (!dsql__aws_files_has_profile(f, p)) {
        if (depth == 0)
            return dsql_error_set(err, DSQL_ECONFIG, "profile '%s' not found in %s", p, files);
        return dsql_error_set(
            err, DSQL_ECONFIG, "profile '%s': source_profile '%s' (%s) not found in %s",
            visited[depth - 1], p,
            dsql__aws_files_at(f, visited[depth - 1], "source_profile", at, sizeof at), files);
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
        return assume_role(f, log, p, depth, visited, out, err);
    if (is_static)
        return static_keys(f, p, out, err);
    if (has(f, p, "web_identity_token_file")) {
        char what[160];
        snprintf(what, sizeof what, "profile '%s' (web identity)", p);
        if (!has(f, p, "role_arn"))
            return dsql_error_set(
                err, DSQL_ECONFIG, "%s: web_identity_token_file is set (%s) but role_arn is not",
                what, dsql__aws_files_at(f, p, "web_identity_token_file", at, sizeof at));
        char *endpoint = NULL;
        const char *from;
        int attempts = 0;
        int rc = dsql__configured_endpoint(f, visited[0], "STS", "sts", &endpoint, &from, err);
        if (rc == DSQL_OK)
            rc = dsql__max_attempts(f, visited[0], &attempts, err);
        if (rc != DSQL_OK) {
            free(endpoint);
            return rc;
        }
        dsql__sts_role role = {0};
        role.max_attempts = attempts;
        role.role_arn = dsql__aws_files_get(f, p, "role_arn");
        role.session_name = dsql__aws_files_get(f, p, "role_session_name");
        role.region = dsql__aws_files_get(f, visited[0], "region");
        role.endpoint_url = endpoint;
        role.log = log;
        rc = dsql__sts_assume_role_web_identity(
            dsql__aws_files_get(f, p, "web_identity_token_file"), &role, what, out, err);
        free(endpoint);
        return rc;
    }
    if (has(f, p, "credential_process")) {
        char what[160];
        snprintf(what, sizeof what, "profile '%s' (credential_process)", p);
        return dsql__fetch_process(dsql__aws_files_get(f, p, "credential_process"), what, out, err);
    }
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

int dsql__fetch_profile(const char *profile, dsql__profile_use use, const dsql__auth_log *log,
                        dsql_credentials *out, bool *configured, dsql_error *err)
{
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    *configured = use == DSQL__PROFILE_ONLY;
    int rc = dsql__aws_files_load(&f, log ? log->fn : NULL, log ? log->ctx : NULL, err);
    if (rc != DSQL_OK) {
        *configured = true; /* an unreadable or malformed file is an error, never skipped */
        goto done;
    }
    if (use == DSQL__PROFILE_NAMED && !dsql__aws_files_has_profile(&f, profile)) {
        *configured = true; /* AWS_PROFILE names a profile that does not exist: an error */
    } else if (use != DSQL__PROFILE_ONLY && !has_credentials(&f, profile)) {
        rc = dsql_error_set(err, DSQL_ECREDENTIALS, "profile '%s': no credentials in %s%s%s",
                            profile, f.credentials.path, " or ", f.config.path);
        goto done;
    }
    *configured = true;
    const char *visited[MAX_CHAIN];
    rc = resolve(&f, log, profile, 0, visited, out, err);
done:
    dsql__aws_files_free(&f);
    return rc;
}
