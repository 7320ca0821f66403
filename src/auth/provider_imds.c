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

/* The source's settings, each from its variable, else from the profile in the config
 * file (the environment wins, as in the SDKs). */
typedef struct imds_cfg {
    char base[1024]; /* endpoint, without a trailing '/' */
    bool named;      /* the endpoint was named (the source decides) */
    bool v1_disabled;
    long timeout_ms;
    int attempts;
} imds_cfg;

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

static int resolve_cfg(const dsql__aws_files *f, const char *profile, imds_cfg *c, dsql_error *err)
{
    const char *from;
    const char *base = setting(f, profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                               "ec2_metadata_service_endpoint", &from);
    if (base) {
        if (strlen(base) >= sizeof c->base)
            return dsql_error_set(err, DSQL_ECONFIG, WHAT ": %s is too long", from);
        c->named = true;
    } else {
        const char *mode = setting(f, profile, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                   "ec2_metadata_service_endpoint_mode", &from);
        if (mode && strcasecmp(mode, "IPv6") != 0 && strcasecmp(mode, "IPv4") != 0)
            return dsql_error_set(err, DSQL_ECONFIG, WHAT ": %s '%.40s' is neither IPv4 nor IPv6",
                                  from, mode);
        base = mode && !strcasecmp(mode, "IPv6") ? IMDS_V6 : IMDS_V4;
    }
    snprintf(c->base, sizeof c->base, "%s", base);
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    const char *v1 =
        setting(f, profile, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled", &from);
    c->v1_disabled = v1 && !strcasecmp(v1, "true");
    /* seconds, possibly fractional */
    const char *t =
        setting(f, profile, "AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", &from);
    c->timeout_ms = TOTAL_TIMEOUT;
    if (t) {
        char *end;
        double sec = strtod(t, &end);
        if (*end != '\0' || !(sec > 0 && sec <= 600))
            return dsql_error_set(err, DSQL_ECONFIG,
                                  WHAT ": %s '%.40s' is not a number of seconds from 0 to 600",
                                  from, t);
        c->timeout_ms = (long)(sec * 1000);
        if (c->timeout_ms < 1)
            c->timeout_ms = 1;
    }
    c->timeout_ms = dsql__http_timeout_ms(c->timeout_ms);
    const char *n = setting(f, profile, "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                            "metadata_service_num_attempts", &from);
    c->attempts = DSQL__HTTP_ATTEMPTS;
    if (n) {
        char *end;
        long v = strtol(n, &end, 10);
        if (*end != '\0' || v < 1 || v > 10)
            return dsql_error_set(err, DSQL_ECONFIG,
                                  WHAT ": %s '%.40s' is not a whole number from 1 to 10", from, n);
        c->attempts = (int)v;
    }
    return DSQL_OK;
}

static int call(const dsql__auth_log *log, const imds_cfg *c, const char *method, const char *url,
                const char *const *headers, dsql__http_response *resp, dsql_error *err)
{
    dsql__http_request req = {0};
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.connect_timeout_ms = dsql__http_timeout_ms(CONNECT_TIMEOUT);
    if (req.connect_timeout_ms > c->timeout_ms)
        req.connect_timeout_ms = c->timeout_ms;
    req.timeout_ms = c->timeout_ms;
    req.no_proxy = true;
    req.log = log;
    req.max_attempts = c->attempts;
    dsql__http_response_free(resp);
    return dsql__http_send(&req, resp, WHAT, err);
}

int dsql__fetch_imds(const dsql__auth_log *log, const char *profile, dsql_credentials *out,
                     bool *configured, dsql_error *err)
{
    *configured = false;
    if (dsql__env_true("AWS_EC2_METADATA_DISABLED"))
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              WHAT ": disabled by AWS_EC2_METADATA_DISABLED");
    /* Settings may be in the config file: read it (an unreadable file is an error, as
     * everywhere). Without warnings: the profile source read the same files just before
     * and gave them. */
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    imds_cfg cfg = {0};
    int rc = dsql__aws_files_load(&f, NULL, NULL, err);
    if (rc == DSQL_OK)
        rc = resolve_cfg(&f, profile, &cfg, err);
    dsql__aws_files_free(&f);
    *configured = rc != DSQL_OK || cfg.named;
    if (rc != DSQL_OK)
        return rc;
    const char *base = cfg.base;
    size_t bl = strlen(base);
    dsql__strbuf url = DSQL__STRBUF_INIT, h_token = DSQL__STRBUF_INIT;
    dsql__http_response resp = DSQL__HTTP_RESPONSE_INIT;
    char *role = NULL;

    /* 1. the session token */
    dsql__sb_append_n(&url, base, bl);
    dsql__sb_append(&url, "/latest/api/token");
    const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    rc = url.oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory")
                 : call(log, &cfg, "PUT", url.data, put_headers, &resp, err);
    if (rc != DSQL_OK)
        goto done;
    if (resp.status == 200 && resp.body.len > 0) {
        if (strpbrk(resp.body.data, "\r\n")) {
            rc = dsql_error_set(err, DSQL_EPARSE, WHAT ": the session token has a line break");
            goto done;
        }
        dsql__sb_append(&h_token, "X-aws-ec2-metadata-token: ");
        dsql__sb_append(&h_token, resp.body.data);
    } else if ((resp.status == 403 || resp.status == 404 || resp.status == 405) &&
               !cfg.v1_disabled) {
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
    rc = call(log, &cfg, "GET", url.data, headers, &resp, err);
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
    rc = call(log, &cfg, "GET", url.data, headers, &resp, err);
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
