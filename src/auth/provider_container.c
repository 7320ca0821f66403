/* Container credentials (Amazon ECS task roles, EKS Pod Identity). */
#include <stdlib.h>
#include <string.h>

#include "auth/http.h"
#include "auth/internal.h"

#define ECS_BASE        "http://169.254.170.2"
#define CONNECT_TIMEOUT 1000
#define TOTAL_TIMEOUT   5000
#define MAX_TOKEN_FILE  (16u * 1024)

/* Plain http is allowed only to the local machine and the container agents' addresses. */
static bool http_host_allowed(const char *host)
{
    static const char *const allowed[] = {"localhost", "::1", "169.254.170.2", "169.254.170.23",
                                          "fd00:ec2::23"};
    for (size_t i = 0; i < DSQL__ARRAY_LEN(allowed); i++)
        if (!strcmp(host, allowed[i]))
            return true;
    /* 127.0.0.0/8 */
    if (strncmp(host, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (const char *p = host; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 3;
}

int dsql__container_url(const char *relative_base, char **url, dsql_error *err)
{
    *url = NULL;
    const char *rel = dsql__env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = dsql__env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel) {
        if (rel[0] != '/')
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                                  "'%s' does not start with '/'",
                                  rel);
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_append(&sb, relative_base ? relative_base : ECS_BASE);
        dsql__sb_append(&sb, rel);
        *url = dsql__sb_detach(&sb);
        return *url ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    if (!full)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "container credentials: neither "
                              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set");
    char *scheme = NULL, *host = NULL;
    int rc = dsql__http_url_parts(full, &scheme, &host, NULL, NULL, err);
    if (rc != DSQL_OK) {
        dsql__err_prefix(err, "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI");
        return rc;
    }
    if (!strcmp(scheme, "http") && !http_host_allowed(host))
        rc = dsql_error_set(err, DSQL_ECONFIG,
                            "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' uses "
                            "http to host %s; http is allowed only to loopback addresses, "
                            "169.254.170.2, 169.254.170.23 and fd00:ec2::23 (use https)",
                            full, host);
    else if (!(*url = dsql__strdup(full)))
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    free(scheme);
    free(host);
    return rc;
}

/* The Authorization header value: the token file wins over the token variable. */
static int auth_token(char **token, dsql_error *err)
{
    *token = NULL;
    const char *file = dsql__env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (file) {
        size_t n;
        int rc = dsql__read_file(file, MAX_TOKEN_FILE, "authorization token file", token, &n, err);
        if (rc != DSQL_OK) {
            dsql__err_prefix(err, "container credentials");
            return rc;
        }
        while (n > 0 && ((*token)[n - 1] == '\n' || (*token)[n - 1] == '\r' ||
                         (*token)[n - 1] == ' ' || (*token)[n - 1] == '\t'))
            (*token)[--n] = '\0';
        if (n == 0) {
            dsql__free_secret(*token);
            *token = NULL;
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "container credentials: the authorization token file %s is "
                                  "empty",
                                  file);
        }
    } else {
        const char *t = dsql__env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        if (t && !(*token = dsql__strdup(t)))
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    if (*token && strpbrk(*token, "\r\n")) {
        dsql__free_secret(*token);
        *token = NULL;
        return dsql_error_set(err, DSQL_ECONFIG,
                              "container credentials: the authorization token contains a line "
                              "break");
    }
    return DSQL_OK;
}

int dsql__fetch_container_base(const char *relative_base, const dsql__auth_log *log,
                               dsql_credentials *out, bool *configured, dsql_error *err)
{
    *configured = dsql__env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
                  dsql__env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char *url = NULL, *token = NULL;
    int rc = dsql__container_url(relative_base, &url, err);
    if (rc == DSQL_OK)
        rc = auth_token(&token, err);
    if (rc != DSQL_OK) {
        free(url);
        return rc;
    }
    dsql__strbuf h_auth = DSQL__STRBUF_INIT;
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    if (token) {
        dsql__sb_append(&h_auth, "Authorization: ");
        dsql__sb_append(&h_auth, token);
        headers[1] = h_auth.data;
    }
    dsql__http_request req = {0};
    req.method = "GET";
    req.url = url;
    req.headers = headers;
    req.connect_timeout_ms = dsql__http_timeout_ms(CONNECT_TIMEOUT);
    req.timeout_ms = dsql__http_timeout_ms(TOTAL_TIMEOUT);
    req.no_proxy = true;
    req.log = log;
    dsql__http_response resp = DSQL__HTTP_RESPONSE_INIT;
    if (h_auth.oom)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    else
        rc = dsql__http_send(&req, &resp, "container credentials", err);
    if (rc == DSQL_OK && resp.status != 200) {
        rc = dsql_error_set(err, resp.status >= 500 ? DSQL_EHTTP : DSQL_ECREDENTIALS,
                            "container credentials: GET %s: HTTP %ld", url, resp.status);
        dsql__http_note_attempts(err, &resp);
    }
    if (rc == DSQL_OK)
        rc = dsql__creds_from_json(resp.body.data ? resp.body.data : "", resp.body.len,
                                   DSQL__JSON_CONTAINER, "container credentials", out, err);
    if (rc == DSQL_OK)
        dsql__credentials_source(out, "container");
    dsql__http_response_free(&resp);
    dsql__sb_free_secret(&h_auth);
    dsql__free_secret(token);
    free(url);
    return rc;
}

int dsql__fetch_container(const dsql__auth_log *log, dsql_credentials *out, bool *configured,
                          dsql_error *err)
{
    return dsql__fetch_container_base(NULL, log, out, configured, err);
}
