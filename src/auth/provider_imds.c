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

/* The source's settings, unless it is disabled; *configured: the settings name the source
 * (settings in error count as naming it). */
static int load_settings(const char *profile, imds_cfg *cfg, bool *configured, dsql_error *err)
{
    if (dsql__env_true("AWS_EC2_METADATA_DISABLED"))
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              WHAT ": disabled by AWS_EC2_METADATA_DISABLED");
    /* Settings may be in the config file: read it (an unreadable file is an error, as
     * everywhere). Without warnings: the profile source read the same files just before
     * and gave them. */
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    int rc = dsql__aws_files_load(&f, NULL, NULL, err);
    if (rc == DSQL_OK)
        rc = resolve_cfg(&f, profile, cfg, err);
    dsql__aws_files_free(&f);
    *configured = rc != DSQL_OK || cfg->named;
    return rc;
}

/* The three requests' common state. */
typedef struct session {
    const dsql__auth_log *log;
    imds_cfg cfg;
    dsql__strbuf url;         /* the request's URL */
    dsql__http_response resp; /* the last answer */
    dsql__strbuf h_token;     /* the session token's header (a secret) */
    char *role;
} session;

/* An answer whose HTTP status is not the one expected. */
static int status_error(const char *method, const session *s, dsql_error *err)
{
    int rc = dsql_error_set(err, s->resp.status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                            WHAT ": %s %s: HTTP %ld", method, s->url.data, s->resp.status);
    dsql__http_note_attempts(err, &s->resp);
    return rc;
}

/* 1. the session token, into its header (none when the endpoint speaks IMDSv1 only) */
static int get_token(session *s, dsql_error *err)
{
    dsql__sb_append_n(&s->url, s->cfg.base, strlen(s->cfg.base));
    dsql__sb_append(&s->url, "/latest/api/token");
    const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    int rc = s->url.oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory")
                        : call(s->log, &s->cfg, "PUT", s->url.data, put_headers, &s->resp, err);
    if (rc != DSQL_OK)
        return rc;
    long st = s->resp.status;
    if (st == 200 && s->resp.body.len > 0) {
        if (strpbrk(s->resp.body.data, "\r\n"))
            return dsql_error_set(err, DSQL_EPARSE, WHAT ": the session token has a line break");
        dsql__sb_append(&s->h_token, "X-aws-ec2-metadata-token: ");
        dsql__sb_append(&s->h_token, s->resp.body.data);
        return DSQL_OK;
    }
    if ((st == 403 || st == 404 || st == 405) && !s->cfg.v1_disabled)
        return DSQL_OK; /* IMDSv1 only (an old endpoint or a proxy): go on without a token. */
    return status_error("PUT", s, err);
}

/* The role name: the answer's first line, without trailing blanks. */
static int take_role(session *s, dsql_error *err)
{
    const char *rb = s->resp.body.data ? s->resp.body.data : "";
    size_t rn = strcspn(rb, "\r\n");
    while (rn > 0 && (rb[rn - 1] == ' ' || rb[rn - 1] == '\t'))
        rn--;
    if (rn == 0)
        return dsql_error_set(err, DSQL_ECREDENTIALS, WHAT ": the instance has no IAM role");
    for (size_t i = 0; i < rn; i++)
        if (!((rb[i] >= 'a' && rb[i] <= 'z') || (rb[i] >= 'A' && rb[i] <= 'Z') ||
              (rb[i] >= '0' && rb[i] <= '9') || strchr("+=,.@_-", rb[i])))
            return dsql_error_set(err, DSQL_EPARSE, WHAT ": the role name is malformed");
    s->role = malloc(rn + 1);
    if (!s->role)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    memcpy(s->role, rb, rn);
    s->role[rn] = '\0';
    return DSQL_OK;
}

/* 2. the role name */
static int get_role(session *s, const char *const *headers, dsql_error *err)
{
    dsql__sb_reset(&s->url);
    dsql__sb_append_n(&s->url, s->cfg.base, strlen(s->cfg.base));
    dsql__sb_append(&s->url, CREDS_PATH);
    int rc = call(s->log, &s->cfg, "GET", s->url.data, headers, &s->resp, err);
    if (rc != DSQL_OK)
        return rc;
    if (s->resp.status == 404)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              WHAT ": GET %s: HTTP 404: the instance has no IAM role", s->url.data);
    if (s->resp.status != 200)
        return status_error("GET", s, err);
    return take_role(s, err);
}

/* 3. the role's credentials */
static int get_credentials(session *s, const char *const *headers, dsql_credentials *out,
                           dsql_error *err)
{
    dsql__sb_append(&s->url, s->role);
    int rc = call(s->log, &s->cfg, "GET", s->url.data, headers, &s->resp, err);
    if (rc != DSQL_OK)
        return rc;
    if (s->resp.status != 200)
        return status_error("GET", s, err);
    rc = dsql__creds_from_json(s->resp.body.data ? s->resp.body.data : "", s->resp.body.len,
                               DSQL__JSON_IMDS, WHAT, out, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, "instance-metadata");
    return rc;
}

int dsql__fetch_imds(const dsql__auth_log *log, const char *profile, dsql_credentials *out,
                     bool *configured, dsql_error *err)
{
    *configured = false;
    session s = {.log = log,
                 .url = DSQL__STRBUF_INIT,
                 .resp = DSQL__HTTP_RESPONSE_INIT,
                 .h_token = DSQL__STRBUF_INIT};
    int rc = load_settings(profile, &s.cfg, configured, err);
    if (rc != DSQL_OK)
        return rc;
    rc = get_token(&s, err);
    const char *headers[] = {s.h_token.len ? s.h_token.data : NULL, NULL};
    if (rc == DSQL_OK)
        rc = get_role(&s, headers, err);
    if (rc == DSQL_OK)
        rc = get_credentials(&s, headers, out, err);
    dsql__http_response_free(&s.resp);
    dsql__sb_free(&s.url);
    dsql__sb_free_secret(&s.h_token);
    free(s.role);
    return rc;
}
