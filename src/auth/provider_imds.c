/* EC2 instance metadata (IMDSv2): PUT a session token, GET the role, GET its credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/http.h"
#include "auth/ini.h"
#include "auth/internal.h"

#define IMDS_V4         "http://169.254.169.254"
#define IMDS_V6         "http://[fd00:ec2::254]"
#define CREDS_PATH      "/latest/meta-data/iam/security-credentials/"
#define CONNECT_TIMEOUT 1000
#define TOTAL_TIMEOUT   3000
#define WHAT            "instance metadata"

/* AWS_METADATA_SERVICE_TIMEOUT is in seconds (the SDKs' knob), possibly fractional. */
static long total_timeout_ms(void)
{
    const char *v = dsql__env("AWS_METADATA_SERVICE_TIMEOUT");
    if (v) {
        char *end;
        double s = strtod(v, &end);
        if (*end == '\0' && s > 0 && s <= 600)
            return dsql__http_timeout_ms((long)(s * 1000));
    }
    return dsql__http_timeout_ms(TOTAL_TIMEOUT);
}

static int call(const dsql__auth_log *log, const char *method, const char *url,
                const char *const *headers, dsql__http_response *resp, dsql_error *err)
{
    dsql__http_request req = {0};
    req.method = method;
    req.url = url;
    req.headers = headers;
    long total = total_timeout_ms();
    req.connect_timeout_ms = dsql__http_timeout_ms(CONNECT_TIMEOUT);
    if (req.connect_timeout_ms > total)
        req.connect_timeout_ms = total;
    req.timeout_ms = total;
    req.no_proxy = true;
    req.log = log;
    dsql__http_response_free(resp);
    return dsql__http_send(&req, resp, WHAT, err);
}

/* A setting from the environment, else from the profile in the config file (the
 * environment wins, as in the SDKs). *from names where it came from. */
static const char *setting(const dsql__aws_files *f, const char *profile, const char *env,
                           const char *key, const char **from)
{
    const char *v = dsql__env(env);
    *from = env;
    if (!v && f->config.present) {
        v = dsql__ini_get(&f->config, profile, key);
        *from = key;
        if (v && !*v)
            v = NULL;
    }
    return v;
}

int dsql__fetch_imds(const dsql__auth_log *log, const char *profile, dsql_credentials *out,
                     bool *configured, dsql_error *err)
{
    *configured = false;
    if (dsql__env_true("AWS_EC2_METADATA_DISABLED"))
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              WHAT ": disabled by AWS_EC2_METADATA_DISABLED");
    /* The endpoint may be named in the config file: read it (an unreadable file is an
     * error, as everywhere). */
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    int rc = dsql__aws_files_load(&f, log ? log->fn : NULL, log ? log->ctx : NULL, err);
    if (rc != DSQL_OK) {
        *configured = true;
        dsql__aws_files_free(&f);
        return rc;
    }
    const char *from, *mode_from, *v1_from;
    char base_buf[1024] = "", mode_buf[32] = "";
    const char *base = setting(&f, profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                               "ec2_metadata_service_endpoint", &from);
    const char *mode = setting(&f, profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                               "ec2_metadata_service_endpoint_mode", &mode_from);
    const char *v1_off =
        setting(&f, profile, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled", &v1_from);
    bool v1_disabled = v1_off && !strcasecmp(v1_off, "true");
    if (base)
        snprintf(base_buf, sizeof base_buf, "%s", base);
    if (mode)
        snprintf(mode_buf, sizeof mode_buf, "%s", mode);
    bool base_too_long = base && strlen(base) >= sizeof base_buf;
    dsql__aws_files_free(&f);
    if (base_too_long)
        return dsql_error_set(err, DSQL_ECONFIG, WHAT ": %s is too long", from);
    if (base) {
        *configured = true;
        base = base_buf;
    } else {
        if (mode && strcasecmp(mode_buf, "IPv6") != 0 && strcasecmp(mode_buf, "IPv4") != 0)
            return dsql_error_set(err, DSQL_ECONFIG, WHAT ": %s '%s' is neither IPv4 nor IPv6",
                                  mode_from, mode_buf);
        base = mode && !strcasecmp(mode_buf, "IPv6") ? IMDS_V6 : IMDS_V4;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    dsql__strbuf url = DSQL__STRBUF_INIT, h_token = DSQL__STRBUF_INIT;
    dsql__http_response resp = DSQL__HTTP_RESPONSE_INIT;
    char *role = NULL;

    /* 1. the session token */
    dsql__sb_append_n(&url, base, bl);
    dsql__sb_append(&url, "/latest/api/token");
    const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    rc = url.oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory")
                 : call(log, "PUT", url.data, put_headers, &resp, err);
    if (rc != DSQL_OK)
        goto done;
    if (resp.status == 200 && resp.body.len > 0) {
        if (strpbrk(resp.body.data, "\r\n")) {
            rc = dsql_error_set(err, DSQL_EPARSE, WHAT ": the session token has a line break");
            goto done;
        }
        dsql__sb_append(&h_token, "X-aws-ec2-metadata-token: ");
        dsql__sb_append(&h_token, resp.body.data);
    } else if ((resp.status == 403 || resp.status == 404 || resp.status == 405) && !v1_disabled) {
        /* IMDSv1 only (an old endpoint or a proxy): go on without a token. */
    } else {
        rc = dsql_error_set(err, resp.status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                            WHAT ": PUT %s: HTTP %ld", url.data, resp.status);
        dsql__http_note_attempts(err, &resp);
        goto done;
    }
    const char *headers[] = {h_token.len ? h_token.data : NULL, NULL};

    /* 2. the role name */
    dsql__sb_reset(&url);
    dsql__sb_append_n(&url, base, bl);
    dsql__sb_append(&url, CREDS_PATH);
    rc = call(log, "GET", url.data, headers, &resp, err);
    if (rc != DSQL_OK)
        goto done;
    if (resp.status == 404) {
        rc = dsql_error_set(err, DSQL_ECREDENTIALS,
                            WHAT ": GET %s: HTTP 404: the instance has no IAM role", url.data);
        goto done;
    }
    if (resp.status != 200) {
        rc = dsql_error_set(err, resp.status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                            WHAT ": GET %s: HTTP %ld", url.data, resp.status);
        dsql__http_note_attempts(err, &resp);
        goto done;
    }
    const char *rb = resp.body.data ? resp.body.data : "";
    size_t rn = strcspn(rb, "\r\n");
    while (rn > 0 && (rb[rn - 1] == ' ' || rb[rn - 1] == '\t'))
        rn--;
    if (rn == 0) {
        rc = dsql_error_set(err, DSQL_ECREDENTIALS, WHAT ": the instance has no IAM role");
        goto done;
    }
    for (size_t i = 0; i < rn; i++)
        if (!((rb[i] >= 'a' && rb[i] <= 'z') || (rb[i] >= 'A' && rb[i] <= 'Z') ||
              (rb[i] >= '0' && rb[i] <= '9') || strchr("+=,.@_-", rb[i]))) {
            rc = dsql_error_set(err, DSQL_EPARSE, WHAT ": the role name is malformed");
            goto done;
        }
    role = malloc(rn + 1);
    if (!role) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(role, rb, rn);
    role[rn] = '\0';

    /* 3. the role's credentials */
    dsql__sb_append(&url, role);
    rc = call(log, "GET", url.data, headers, &resp, err);
    if (rc != DSQL_OK)
        goto done;
    if (resp.status != 200) {
        rc = dsql_error_set(err, resp.status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                            WHAT ": GET %s: HTTP %ld", url.data, resp.status);
        dsql__http_note_attempts(err, &resp);
        goto done;
    }
    rc = dsql__creds_from_json(resp.body.data ? resp.body.data : "", resp.body.len, DSQL__JSON_IMDS,
                               WHAT, out, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, "instance-metadata");
done:
    dsql__http_response_free(&resp);
    dsql__sb_free(&url);
    dsql__sb_free_secret(&h_token);
    free(role);
    return rc;
}
