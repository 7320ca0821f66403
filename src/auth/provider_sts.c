/* AWS STS: AssumeRole (SigV4-signed) and AssumeRoleWithWebIdentity (unsigned), and the
 * web identity source of the environment (EKS IRSA). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/http.h"
#include "auth/ini.h"
#include "auth/internal.h"
#include "auth/sigv4.h"
#include "auth/xml.h"

#define STS_VERSION     "2011-06-15"
#define CONTENT_TYPE    "application/x-www-form-urlencoded; charset=utf-8"
#define CONNECT_TIMEOUT 3000
#define TOTAL_TIMEOUT   10000
#define MAX_TOKEN_FILE  (64u * 1024)

/* https://sts.<region>.amazonaws.com (.com.cn in China). */
static char *default_endpoint(const char *region)
{
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_appendf(&sb, "https://sts.%s.amazonaws.com%s", region,
                     strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    return dsql__sb_detach(&sb);
}

char *dsql__sts_endpoint(const char *region)
{
    char *url = NULL;
    const char *from;
    if (dsql__configured_endpoint(NULL, NULL, "STS", "sts", &url, &from, NULL) != DSQL_OK)
        return NULL;
    return url ? url : default_endpoint(region);
}

/* The environment's region wins over the profile's (as in the SDKs). */
static const char *sts_region(const dsql__sts_role *role)
{
    const char *r = dsql__env("AWS_REGION");
    if (!r)
        r = dsql__env("AWS_DEFAULT_REGION");
    if (!r && role->region && *role->region)
        r = role->region;
    return r ? r : "us-east-1";
}

static void form_param(dsql__strbuf *sb, const char *k, const char *v)
{
    if (sb->len)
        dsql__sb_append_c(sb, '&');
    dsql__sb_append(sb, k);
    dsql__sb_append_c(sb, '=');
    dsql__uri_encode(sb, v, strlen(v), false);
}

/* Printable ASCII copy of an untrusted server string, for messages. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* Turns an STS response into credentials or an error. */
static int parse_response(const dsql__http_response *resp, const char *action, const char *what,
                          const char *url, dsql_credentials *out, dsql_error *err)
{
    const char *body = resp->body.data ? resp->body.data : "";
    size_t len = resp->body.len;
    if (resp->status != 200) {
        static const char *const code_path[] = {"ErrorResponse", "Error", "Code"};
        static const char *const msg_path[] = {"ErrorResponse", "Error", "Message"};
        char *code = NULL, *msg = NULL;
        if (dsql__xml_text(body, len, code_path, 3, &code) == 0 &&
            dsql__xml_text(body, len, msg_path, 3, &msg) >= 0) {
            sanitize(code);
            if (msg)
                sanitize(msg);
            dsql_error_set(err, resp->status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                           "%s: STS %s at %s failed: HTTP %ld %.64s: %.200s", what, action, url,
                           resp->status, code, msg ? msg : "");
        } else {
            dsql_error_set(err, DSQL_EHTTP, "%s: STS %s at %s failed: HTTP %ld", what, action, url,
                           resp->status);
        }
        free(code);
        free(msg);
        dsql__http_note_attempts(err, resp);
        return err ? err->status : DSQL_EHTTP;
    }
    char result[64], resp_el[64];
    snprintf(resp_el, sizeof resp_el, "%sResponse", action);
    snprintf(result, sizeof result, "%sResult", action);
    const char *path[] = {resp_el, result, "Credentials", NULL};
    static const char *const fields[] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    char *v[4] = {NULL, NULL, NULL, NULL};
    int rc = DSQL_OK;
    for (size_t i = 0; i < 4 && rc == DSQL_OK; i++) {
        path[3] = fields[i];
        int r = dsql__xml_text(body, len, path, 4, &v[i]);
        if (r < 0)
            rc =
                dsql_error_set(err, DSQL_EPARSE, "%s: STS %s returned malformed XML", what, action);
        else if (r > 0 || !v[i][0])
            rc = dsql_error_set(err, DSQL_EPARSE, "%s: the STS %s response has no %s", what, action,
                                fields[i]);
    }
    time_t exp = 0;
    if (rc == DSQL_OK && !dsql__parse_iso8601(v[3], &exp))
        rc = dsql_error_set(err, DSQL_EPARSE, "%s: the STS %s response has a malformed Expiration",
                            what, action);
    if (rc == DSQL_OK)
        rc = dsql_credentials_set(out, v[0], v[1], v[2], exp, err);
    if (rc == DSQL_OK) {
        rc = dsql__credentials_check_fresh(out, what, err);
        if (rc != DSQL_OK)
            dsql_credentials_clear(out);
    }
    for (size_t i = 0; i < 4; i++)
        dsql__free_secret(v[i]);
    return rc;
}

/* STS answers a throttled call with HTTP 400 and one of these codes (the AWS SDKs'
 * throttling errors); it is retried like a 5xx. */
static bool sts_throttled(const dsql__http_response *resp)
{
    static const char *const codes[] = {"Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "RequestThrottled",
                                        "RequestLimitExceeded",
                                        "BandwidthLimitExceeded",
                                        "SlowDown",
                                        "PriorRequestNotComplete",
                                        "EC2ThrottledException"};
    static const char *const code_path[] = {"ErrorResponse", "Error", "Code"};
    if (resp->status != 400 || !resp->body.data)
        return false;
    char *code = NULL;
    bool hit = false;
    if (dsql__xml_text(resp->body.data, resp->body.len, code_path, 3, &code) == 0)
        for (size_t i = 0; i < DSQL__ARRAY_LEN(codes) && !hit; i++)
            hit = !strcmp(code, codes[i]);
    free(code);
    return hit;
}

static void default_session_name(char *buf, size_t n)
{
    snprintf(buf, n, "libdsql-%lld", (long long)time(NULL));
}

/* Sends body to STS (signed with source when not NULL) and parses the answer. */
static int sts_call(const dsql_credentials *source, const dsql__sts_role *role, const char *action,
                    const char *body, size_t body_len, const char *what, dsql_credentials *out,
                    dsql_error *err)
{
    const char *region = sts_region(role);
    const dsql__auth_log *log = role->log;
    char *url = role->endpoint_url ? dsql__strdup(role->endpoint_url) : default_endpoint(region);
    char *host_header = NULL, *path = NULL;
    dsql__strbuf auth = DSQL__STRBUF_INIT, h_auth = DSQL__STRBUF_INIT, h_token = DSQL__STRBUF_INIT;
    dsql__http_response resp = DSQL__HTTP_RESPONSE_INIT;
    int rc;
    if (!url)
        return dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
    rc = dsql__http_url_parts(url, NULL, NULL, &host_header, &path, err);
    if (rc != DSQL_OK) {
        dsql__err_prefix(err, "%s: STS endpoint", what);
        goto done;
    }
    char h_host[512], h_date[64], h_sha[128];
    const char *headers[8];
    size_t nh = 0;
    snprintf(h_host, sizeof h_host, "Host: %s", host_header);
    headers[nh++] = "Content-Type: " CONTENT_TYPE;
    headers[nh++] = h_host;
    headers[nh++] = "Accept:";
    if (source) {
        if (source->session_token && strpbrk(source->session_token, "\r\n")) {
            rc = dsql_error_set(err, DSQL_ECREDENTIALS,
                                "%s: the source credentials' session token contains a line break",
                                what);
            goto done;
        }
        dsql__sigv4_request sr = {0};
        sr.method = "POST";
        sr.host = host_header;
        sr.path = path;
        sr.content_type = CONTENT_TYPE;
        sr.body = body;
        sr.body_len = body_len;
        sr.content_sha256 = true;
        sr.region = region;
        sr.service = "sts";
        sr.when = time(NULL);
        char amzdate[17], hash[DSQL__SHA256_HEX];
        rc = dsql__sigv4_sign_headers(&sr, source, amzdate, hash, &auth, err);
        if (rc != DSQL_OK) {
            dsql__err_prefix(err, "%s", what);
            goto done;
        }
        snprintf(h_date, sizeof h_date, "X-Amz-Date: %s", amzdate);
        snprintf(h_sha, sizeof h_sha, "X-Amz-Content-Sha256: %s", hash);
        dsql__sb_append(&h_auth, "Authorization: ");
        dsql__sb_append_n(&h_auth, auth.data, auth.len);
        headers[nh++] = h_date;
        headers[nh++] = h_sha;
        headers[nh++] = h_auth.data;
        if (source->session_token) {
            dsql__sb_append(&h_token, "X-Amz-Security-Token: ");
            dsql__sb_append(&h_token, source->session_token);
            headers[nh++] = h_token.data;
        }
        if (h_auth.oom || h_token.oom) {
            rc = dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
            goto done;
        }
    }
    headers[nh] = NULL;
    dsql__http_request req = {0};
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body_len;
    req.connect_timeout_ms = dsql__http_timeout_ms(CONNECT_TIMEOUT);
    req.timeout_ms = dsql__http_timeout_ms(TOTAL_TIMEOUT);
    req.log = log;
    req.throttled = sts_throttled;
    req.max_attempts = role->max_attempts;
    rc = dsql__http_send(&req, &resp, what, err);
    if (rc == DSQL_OK)
        rc = parse_response(&resp, action, what, url, out, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, source ? "assume-role" : "web-identity");
done:
    dsql__http_response_free(&resp);
    dsql__sb_free(&auth);
    dsql__sb_free(&h_auth);
    dsql__sb_free_secret(&h_token);
    free(url);
    free(host_header);
    free(path);
    return rc;
}

int dsql__sts_assume_role(const dsql_credentials *source, const dsql__sts_role *role,
                          const char *what, dsql_credentials *out, dsql_error *err)
{
    char name[64], dur[24];
    dsql__strbuf body = DSQL__STRBUF_INIT;
    if (!role->session_name)
        default_session_name(name, sizeof name);
    form_param(&body, "Action", "AssumeRole");
    if (role->duration_s > 0) {
        snprintf(dur, sizeof dur, "%ld", role->duration_s);
        form_param(&body, "DurationSeconds", dur);
    }
    if (role->external_id)
        form_param(&body, "ExternalId", role->external_id);
    form_param(&body, "RoleArn", role->role_arn);
    form_param(&body, "RoleSessionName", role->session_name ? role->session_name : name);
    form_param(&body, "Version", STS_VERSION);
    if (body.oom)
        return dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
    int rc = sts_call(source, role, "AssumeRole", body.data, body.len, what, out, err);
    dsql__sb_free(&body);
    return rc;
}

int dsql__sts_assume_role_web_identity(const char *token_file, const dsql__sts_role *role,
                                       const char *what, dsql_credentials *out, dsql_error *err)
{
    char *token = NULL;
    size_t tlen = 0;
    int rc =
        dsql__read_file(token_file, MAX_TOKEN_FILE, "web identity token file", &token, &tlen, err);
    if (rc != DSQL_OK) {
        dsql__err_prefix(err, "%s", what);
        return rc;
    }
    while (tlen > 0 && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r' ||
                        token[tlen - 1] == ' ' || token[tlen - 1] == '\t'))
        token[--tlen] = '\0';
    if (tlen == 0) {
        dsql__free_secret(token);
        return dsql_error_set(err, DSQL_ECREDENTIALS, "%s: the web identity token file %s is empty",
                              what, token_file);
    }
    char name[64], dur[24];
    dsql__strbuf body = DSQL__STRBUF_INIT;
    if (!role->session_name)
        default_session_name(name, sizeof name);
    form_param(&body, "Action", "AssumeRoleWithWebIdentity");
    if (role->duration_s > 0) {
        snprintf(dur, sizeof dur, "%ld", role->duration_s);
        form_param(&body, "DurationSeconds", dur);
    }
    form_param(&body, "RoleArn", role->role_arn);
    form_param(&body, "RoleSessionName", role->session_name ? role->session_name : name);
    form_param(&body, "Version", STS_VERSION);
    form_param(&body, "WebIdentityToken", token);
    dsql__free_secret(token);
    if (body.oom) {
        dsql__sb_free_secret(&body);
        return dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
    }
    rc = sts_call(NULL, role, "AssumeRoleWithWebIdentity", body.data, body.len, what, out, err);
    dsql__sb_free_secret(&body);
    return rc;
}

int dsql__fetch_web_identity_env(const dsql__auth_log *log, dsql_credentials *out, bool *configured,
                                 dsql_error *err)
{
    const char *file = dsql__env("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *arn = dsql__env("AWS_ROLE_ARN");
    *configured = file != NULL;
    if (!file)
        return dsql_error_set(err, DSQL_ECREDENTIALS,
                              "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is unset");
    if (!arn)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN "
                              "is not");
    /* The STS region and endpoint may come from the profile in the shared files. */
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    char *endpoint = NULL;
    const char *from;
    const char *profile = dsql__profile_name(NULL);
    int rc = dsql__aws_files_load(&f, log ? log->fn : NULL, log ? log->ctx : NULL, err);
    int attempts = 0;
    if (rc == DSQL_OK)
        rc = dsql__configured_endpoint(&f, profile, "STS", "sts", &endpoint, &from, err);
    if (rc == DSQL_OK)
        rc = dsql__max_attempts(&f, profile, &attempts, err);
    if (rc == DSQL_OK) {
        dsql__sts_role role = {0};
        role.max_attempts = attempts;
        role.role_arn = arn;
        role.session_name = dsql__env("AWS_ROLE_SESSION_NAME");
        role.region = dsql__aws_files_get(&f, profile, "region");
        role.endpoint_url = endpoint;
        role.log = log;
        rc = dsql__sts_assume_role_web_identity(file, &role, "web identity", out, err);
    } else {
        dsql__err_prefix(err, "web identity");
    }
    free(endpoint);
    dsql__aws_files_free(&f);
    return rc;
}
