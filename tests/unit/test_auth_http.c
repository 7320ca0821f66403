/* The HTTP credential sources against a real local HTTP server: container endpoint,
 * EC2 instance metadata (IMDSv2), STS AssumeRole / AssumeRoleWithWebIdentity. */
#include <regex.h>
#include <string.h>

#include "authtest.h"
#include "httpd.h"
#include "auth/ini.h"
#include "auth/internal.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

static tu_httpd *srv;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    at_clean_env();
    srv = tu_httpd_start();
    at_tmpdir(dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_httpd_stop(srv);
    srv = NULL;
    at_rmdir(dir);
    return 0;
}

static char url_buf[256];
static const char *url(const char *path)
{
    snprintf(url_buf, sizeof url_buf, "%s%s", tu_httpd_url(srv), path);
    return url_buf;
}

/* Gets credentials through the default chain. */
static int chain_get(const char *profile, dsql_credentials *c, dsql_error *err)
{
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(profile, &p, NULL), DSQL_OK);
    int rc = dsql_credentials_provider_get(p, c, err);
    dsql_credentials_provider_free(p);
    return rc;
}

static void expect_ok(const char *profile, const char *akid, const char *token, const char *source)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = chain_get(profile, &c, &err);
    if (rc != DSQL_OK)
        print_error("%s\n", err.message);
    assert_int_equal(rc, DSQL_OK);
    assert_string_equal(c.access_key_id, akid);
    if (token)
        assert_string_equal(c.session_token, token);
    assert_string_equal(c.source, source);
    dsql_credentials_clear(&c);
}

static void expect_err(const char *profile, int status, const char *msg)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = chain_get(profile, &c, &err);
    if (rc != status || !strstr(err.message, msg)) {
        print_error("got %s: %s\nwanted %s: ...%s...\n", dsql_status_name(rc), err.message,
                    dsql_status_name(status), msg);
        fail();
    }
    assert_null(c.access_key_id);
}

static const char *hdr(size_t i, const char *name)
{
    static char buf[4096];
    return tu_http_header(tu_httpd_request(srv, i), name, buf, sizeof buf);
}

#define CONTAINER_JSON                                                                             \
    "{\"AccessKeyId\":\"AKCONT\",\"SecretAccessKey\":\"SKCONT\",\"Token\":\"TKCONT\","             \
    "\"Expiration\":\"2999-01-01T00:00:00Z\"}"

/* ---- container ---- */

static void test_container_full_uri(void **state)
{
    (void)state;
    tu_httpd_route(srv, "GET", "/creds", 200, CONTAINER_JSON);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer env-token", 1);
    expect_ok(NULL, "AKCONT", "TKCONT", "container");
    assert_int_equal(tu_httpd_count(srv), 1);
    assert_string_equal(tu_httpd_request(srv, 0)->method, "GET");
    assert_string_equal(tu_httpd_request(srv, 0)->target, "/creds");
    assert_string_equal(hdr(0, "Authorization"), "Bearer env-token");
    assert_string_equal(hdr(0, "Accept"), "application/json");

    /* The token file wins over the variable; its trailing newline is not part of it. */
    char path[128];
    at_write(dir, "token", "file-token\n", path, sizeof path);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    expect_ok(NULL, "AKCONT", "TKCONT", "container");
    assert_string_equal(hdr(1, "Authorization"), "file-token");

    /* No token at all: no Authorization header. */
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    expect_ok(NULL, "AKCONT", "TKCONT", "container");
    assert_null(hdr(2, "Authorization"));
}

static void test_container_relative_uri(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123", 1);
    char *u;
    assert_int_equal(dsql__container_url(NULL, &u, NULL), DSQL_OK);
    assert_string_equal(u, "http://169.254.170.2/v2/credentials/abc-123");
    free(u);
    /* The relative URI wins over the full one. */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/full", 1);
    assert_int_equal(dsql__container_url(NULL, &u, NULL), DSQL_OK);
    assert_string_equal(u, "http://169.254.170.2/v2/credentials/abc-123");
    free(u);
    /* End to end with the test server standing in for 169.254.170.2. */
    tu_httpd_route(srv, "GET", "/v2/credentials/abc-123", 200, CONTAINER_JSON);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    bool configured = false;
    assert_int_equal(dsql__fetch_container_base(tu_httpd_url(srv), NULL, &c, &configured, NULL),
                     DSQL_OK);
    assert_true(configured);
    assert_string_equal(c.access_key_id, "AKCONT");
    dsql_credentials_clear(&c);
    dsql_error err = DSQL_ERROR_INIT;
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/no-slash", 1);
    assert_int_equal(dsql__container_url(NULL, &u, &err), DSQL_ECONFIG);
    assert_contains(err.message, "'v2/no-slash' does not start with '/'");
}

static void test_container_failures(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    /* HTTP 500 */
    tu_httpd_route(srv, "GET", "/creds", 500, "oops");
    char want[512];
    snprintf(want, sizeof want, "container credentials: GET %s: HTTP 500", url("/creds"));
    expect_err(NULL, DSQL_EHTTP, want);
    /* 403 */
    tu_httpd_route(srv, "GET", "/creds", 403, "{}");
    expect_err(NULL, DSQL_ECREDENTIALS, "HTTP 403");
    /* malformed JSON */
    tu_httpd_route(srv, "GET", "/creds", 200, "{\"AccessKeyId\": ");
    expect_err(NULL, DSQL_EPARSE, "container credentials: the response is not valid JSON");
    /* missing fields */
    tu_httpd_route(srv, "GET", "/creds", 200,
                   "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\"}");
    expect_err(NULL, DSQL_EPARSE, "container credentials: the JSON has no Expiration");
    /* expired */
    tu_httpd_route(srv, "GET", "/creds", 200,
                   "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
                   "\"Expiration\":\"2020-05-01T10:00:00Z\"}");
    expect_err(NULL, DSQL_ECREDENTIALS,
               "container credentials: the credentials it returned expired at "
               "2020-05-01T10:00:00Z");
    /* a server that never answers */
    tu_httpd_route(srv, "GET", "/creds", 0, NULL);
    setenv("DSQL_AUTH_HTTP_TIMEOUT_MS", "300", 1);
    snprintf(want, sizeof want, "container credentials: GET %s: no answer within 300 ms",
             url("/creds"));
    expect_err(NULL, DSQL_ETIMEOUT, want);
    unsetenv("DSQL_AUTH_HTTP_TIMEOUT_MS");
    /* nothing listening */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
    expect_err(NULL, DSQL_EHTTP, "container credentials: GET http://127.0.0.1:1/creds: ");
    /* plain http to a host that is not local */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    expect_err(NULL, DSQL_ECONFIG, "uses http to host example.com; http is allowed only to");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds", 1);
    expect_err(NULL, DSQL_EINVAL, "only http and https URLs are allowed");
    /* the token file is a directory, or missing; a token with a line break */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir, 1);
    expect_err(NULL, DSQL_EIO, "container credentials: cannot read authorization token file");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token", 1);
    expect_err(NULL, DSQL_ECONFIG,
               "container credentials: cannot open authorization token file /nonexistent/token");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Injected: 1", 1);
    expect_err(NULL, DSQL_ECONFIG, "the authorization token contains a line break");
}

/* ---- EC2 instance metadata ---- */

#define IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define IMDS_JSON                                                                                  \
    "{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-25T16:00:00Z\",\"Type\":\"AWS-HMAC\","        \
    "\"AccessKeyId\":\"AKIMDS\",\"SecretAccessKey\":\"SKIMDS\",\"Token\":\"TKIMDS\","              \
    "\"Expiration\":\"2999-01-01T00:00:00Z\"}"

static void imds_routes(void)
{
    tu_httpd_route(srv, "PUT", "/latest/api/token", 200, "imds-session-token");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 200, "my-role\n");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 200, IMDS_JSON);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", tu_httpd_url(srv), 1);
}

static void test_imds_v2(void **state)
{
    (void)state;
    imds_routes();
    expect_ok(NULL, "AKIMDS", "TKIMDS", "instance-metadata");
    assert_int_equal(tu_httpd_count(srv), 3);
    assert_string_equal(tu_httpd_request(srv, 0)->method, "PUT");
    assert_string_equal(tu_httpd_request(srv, 0)->target, "/latest/api/token");
    assert_string_equal(hdr(0, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
    assert_string_equal(tu_httpd_request(srv, 1)->method, "GET");
    assert_string_equal(tu_httpd_request(srv, 1)->target, IMDS_CREDS_PATH);
    assert_string_equal(hdr(1, "X-aws-ec2-metadata-token"), "imds-session-token");
    assert_string_equal(tu_httpd_request(srv, 2)->target, IMDS_CREDS_PATH "my-role");
    assert_string_equal(hdr(2, "X-aws-ec2-metadata-token"), "imds-session-token");
    /* A trailing slash on the endpoint is fine. */
    char ep[128];
    snprintf(ep, sizeof ep, "%s/", tu_httpd_url(srv));
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
    expect_ok(NULL, "AKIMDS", "TKIMDS", "instance-metadata");
    assert_string_equal(tu_httpd_request(srv, 3)->target, "/latest/api/token");
}

static void test_imds_v1_fallback(void **state)
{
    (void)state;
    imds_routes();
    tu_httpd_route(srv, "PUT", "/latest/api/token", 405, "");
    expect_ok(NULL, "AKIMDS", "TKIMDS", "instance-metadata");
    assert_int_equal(tu_httpd_count(srv), 3);
    assert_null(hdr(1, "X-aws-ec2-metadata-token"));
    assert_null(hdr(2, "X-aws-ec2-metadata-token"));
    setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
    char want[256];
    snprintf(want, sizeof want, "instance metadata: PUT %s/latest/api/token: HTTP 405",
             tu_httpd_url(srv));
    expect_err(NULL, DSQL_ECREDENTIALS, want);
}

static void test_imds_failures(void **state)
{
    (void)state;
    imds_routes();
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 404, "");
    expect_err(NULL, DSQL_ECREDENTIALS, "HTTP 404: the instance has no IAM role");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 200, "\n");
    expect_err(NULL, DSQL_ECREDENTIALS, "instance metadata: the instance has no IAM role");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 200, "../etc\n");
    expect_err(NULL, DSQL_EPARSE, "instance metadata: the role name is malformed");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 200, "my-role");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 500, "");
    expect_err(NULL, DSQL_EHTTP, "HTTP 500");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 200,
                   "{\"Code\":\"Failure\",\"Message\":\"no\"}");
    expect_err(NULL, DSQL_ECREDENTIALS, "instance metadata: the instance reports Code \"Failure\"");
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 200, "<html>");
    expect_err(NULL, DSQL_EPARSE, "instance metadata: the response is not valid JSON");
    tu_httpd_route(srv, "PUT", "/latest/api/token", 0, NULL);
    setenv("DSQL_AUTH_HTTP_TIMEOUT_MS", "300", 1);
    expect_err(NULL, DSQL_ETIMEOUT, "instance metadata: PUT ");
    expect_err(NULL, DSQL_ETIMEOUT, "/latest/api/token: no answer within 300 ms");
    /* Without an explicit endpoint, instance metadata is only the last resort: its
     * failure is reported as "no credentials", with its reason. */
    tu_httpd_route(srv, "PUT", "/latest/api/token", 500, "");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    expect_err(NULL, DSQL_EHTTP, "instance metadata: PUT http://127.0.0.1:1/latest/api/token: ");
    unsetenv("DSQL_AUTH_HTTP_TIMEOUT_MS");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    expect_err(NULL, DSQL_ECREDENTIALS, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", 1);
    /* a bad setting is its own error, not "no credentials" */
    expect_err(NULL, DSQL_ECONFIG,
               "instance metadata: AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE 'IPv5' is neither IPv4 "
               "nor IPv6");
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    setenv("AWS_METADATA_SERVICE_TIMEOUT", "soon", 1);
    expect_err(NULL, DSQL_ECONFIG,
               "instance metadata: AWS_METADATA_SERVICE_TIMEOUT 'soon' is not a number of seconds "
               "from 0 to 600");
    unsetenv("AWS_METADATA_SERVICE_TIMEOUT");
}

/* ---- STS ---- */

#define STS_OK(action, akid, token)                                                                \
    "<" action "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"                   \
    "  <" action "Result>\n"                                                                       \
    "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn>"                \
    "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"                                    \
    "    <Credentials>\n"                                                                          \
    "      <AccessKeyId>" akid "</AccessKeyId>\n"                                                  \
    "      <SecretAccessKey>SKROLE</SecretAccessKey>\n"                                            \
    "      <SessionToken>" token "</SessionToken>\n"                                               \
    "      <Expiration>2999-01-01T00:00:00Z</Expiration>\n"                                        \
    "    </Credentials>\n"                                                                         \
    "  </" action "Result>\n"                                                                      \
    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"                          \
    "</" action "Response>\n"

static void write_profiles(const char *creds, const char *config)
{
    char p1[128], p2[128];
    setenv("AWS_SHARED_CREDENTIALS_FILE", at_write(dir, "credentials", creds, p1, sizeof p1), 1);
    setenv("AWS_CONFIG_FILE", at_write(dir, "config", config, p2, sizeof p2), 1);
    setenv("AWS_ENDPOINT_URL_STS", tu_httpd_url(srv), 1);
}

/* Recomputes the request's signature from what the server received, and checks the
 * header's format. */
static void check_signature(size_t i, const char *akid, const char *secret, const char *token,
                            const char *region)
{
    const tu_http_request *r = tu_httpd_request(srv, i);
    char auth[1024], host[256], date[64], sha[128], ctype[128];
    assert_non_null(tu_http_header(r, "Authorization", auth, sizeof auth));
    assert_non_null(tu_http_header(r, "Host", host, sizeof host));
    assert_non_null(tu_http_header(r, "X-Amz-Date", date, sizeof date));
    assert_non_null(tu_http_header(r, "X-Amz-Content-Sha256", sha, sizeof sha));
    assert_non_null(tu_http_header(r, "Content-Type", ctype, sizeof ctype));
    assert_string_equal(ctype, "application/x-www-form-urlencoded; charset=utf-8");
    regex_t re;
    char pattern[512];
    snprintf(pattern, sizeof pattern,
             "^AWS4-HMAC-SHA256 Credential=%s/[0-9]{8}/%s/sts/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date%s, "
             "Signature=[0-9a-f]{64}$",
             akid, region, token ? ";x-amz-security-token" : "");
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, auth, 0, NULL, 0) != 0) {
        print_error("Authorization '%s' does not match %s\n", auth, pattern);
        fail();
    }
    regfree(&re);
    char tk[2048];
    if (token)
        assert_string_equal(tu_http_header(r, "X-Amz-Security-Token", tk, sizeof tk), token);
    else
        assert_null(tu_http_header(r, "X-Amz-Security-Token", tk, sizeof tk));

    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, akid, secret, token, 0, NULL), DSQL_OK);
    char iso[32];
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", date, date + 4, date + 6, date + 9,
             date + 11, date + 13);
    dsql__sigv4_request sr = {0};
    sr.method = r->method;
    sr.host = host;
    sr.path = "/";
    sr.content_type = ctype;
    sr.body = r->body;
    sr.body_len = r->body_len;
    sr.content_sha256 = true;
    sr.region = region;
    sr.service = "sts";
    assert_true(dsql__parse_iso8601(iso, &sr.when));
    char amzdate[17], hash[DSQL__SHA256_HEX];
    dsql__strbuf want = DSQL__STRBUF_INIT;
    assert_int_equal(dsql__sigv4_sign_headers(&sr, &c, amzdate, hash, &want, NULL), DSQL_OK);
    assert_string_equal(hash, sha);
    assert_string_equal(auth, want.data);
    dsql__sb_free(&want);
    dsql_credentials_clear(&c);
}

static void test_sts_assume_role(void **state)
{
    (void)state;
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRole", "ASIAROLE", "TK&amp;ROLE"));
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/demo\n"
                   "source_profile = base\nrole_session_name = my session\n"
                   "external_id = ext-1\nduration_seconds = 1800\nregion = eu-west-1\n");
    expect_ok("dev", "ASIAROLE", "TK&ROLE", "assume-role");
    assert_int_equal(tu_httpd_count(srv), 1);
    const tu_http_request *r = tu_httpd_request(srv, 0);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->target, "/");
    assert_string_equal(r->body, "Action=AssumeRole&DurationSeconds=1800&ExternalId=ext-1&"
                                 "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&"
                                 "RoleSessionName=my%20session&Version=2011-06-15");
    check_signature(0, "AKBASE", "SKBASE", NULL, "eu-west-1");
}

static void test_sts_chains(void **state)
{
    (void)state;
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRole", "ASIAROLE", "TKROLE"));
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n"
                   "aws_session_token = STBASE/+=\n",
                   "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
                   "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = base\n"
                   "[profile loop1]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = loop2\n"
                   "[profile loop2]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = loop1\n"
                   "[profile orphan]\nrole_arn = arn:aws:iam::1:role/x\n"
                   "source_profile = nowhere\n"
                   "[profile envsrc]\nrole_arn = arn:aws:iam::1:role/e\n"
                   "credential_source = Environment\n"
                   "[profile badsrc]\nrole_arn = arn:aws:iam::1:role/e\n"
                   "credential_source = Somewhere\n"
                   "[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
                   "mfa_serial = arn:aws:iam::1:mfa/me\n"
                   "[profile both]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
                   "credential_source = Environment\n"
                   "[profile baddur]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
                   "duration_seconds = 10\n");
    /* a -> b -> base: two AssumeRole calls, the second signed with the first's result */
    expect_ok("a", "ASIAROLE", "TKROLE", "assume-role");
    assert_int_equal(tu_httpd_count(srv), 2);
    assert_contains(tu_httpd_request(srv, 0)->body, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fb");
    check_signature(0, "AKBASE", "SKBASE", "STBASE/+=", "us-east-1");
    assert_contains(tu_httpd_request(srv, 1)->body, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa");
    check_signature(1, "ASIAROLE", "SKROLE", "TKROLE", "us-east-1");
    assert_contains(tu_httpd_request(srv, 1)->body, "RoleSessionName=libdsql-");

    expect_err("loop1", DSQL_ECONFIG,
               "profile 'loop1': source_profile chain loops back to 'loop1'");
    char want[512];
    snprintf(want, sizeof want,
             "profile 'orphan': source_profile 'nowhere' (%s/config line 15) not found", dir);
    expect_err("orphan", DSQL_ECONFIG, want);
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    expect_ok("envsrc", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(tu_httpd_count(srv) - 1, "AKENV", "SKENV", NULL, "us-east-1");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    expect_err("envsrc", DSQL_ECREDENTIALS,
               "profile 'envsrc' (assume role): credential_source Environment: environment: "
               "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    unsetenv("AWS_ACCESS_KEY_ID");
    snprintf(want, sizeof want, "credential_source 'Somewhere' (%s/config line 21) is not one of",
             dir);
    expect_err("badsrc", DSQL_ECONFIG, want);
    snprintf(want, sizeof want, "mfa_serial is set (%s/config line 25), but prompting", dir);
    expect_err("mfa", DSQL_EUNSUPPORTED, want);
    snprintf(want, sizeof want,
             "source_profile (%s/config line 28) and credential_source (%s/config line 29) are "
             "both set",
             dir, dir);
    expect_err("both", DSQL_ECONFIG, want);
    snprintf(want, sizeof want,
             "duration_seconds '10' (%s/config line 33) is not a number from 900 to 43200", dir);
    expect_err("baddur", DSQL_ECONFIG, want);
    /* AWS_REGION picks the signing region when the profile has none */
    setenv("AWS_REGION", "ap-southeast-2", 1);
    size_t n = tu_httpd_count(srv);
    expect_ok("b", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(n, "AKBASE", "SKBASE", "STBASE/+=", "ap-southeast-2");
}

static void test_sts_failures(void **state)
{
    (void)state;
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::1:role/demo\nsource_profile = base\n");
    tu_httpd_route(srv, "POST", "/", 403,
                   "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                   "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
                   "arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole on "
                   "resource: arn:aws:iam::1:role/demo</Message></Error>"
                   "<RequestId>r</RequestId></ErrorResponse>");
    expect_err("dev", DSQL_ECREDENTIALS,
               "profile 'dev' (assume role): STS AssumeRole at http://127.0.0.1:");
    expect_err("dev", DSQL_ECREDENTIALS,
               "failed: HTTP 403 AccessDenied: User: arn:aws:iam::1:user/x is not authorized");
    tu_httpd_route(srv, "POST", "/", 500, "Internal error, not XML");
    expect_err("dev", DSQL_EHTTP, "failed: HTTP 500");
    tu_httpd_route(srv, "POST", "/", 200, "<AssumeRoleResponse><AssumeRoleResult>");
    expect_err("dev", DSQL_EPARSE,
               "profile 'dev' (assume role): STS AssumeRole returned "
               "malformed XML");
    tu_httpd_route(srv, "POST", "/", 200,
                   "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A"
                   "</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>");
    expect_err("dev", DSQL_EPARSE, "the STS AssumeRole response has no SecretAccessKey");
    tu_httpd_route(srv, "POST", "/", 200,
                   "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A"
                   "</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T"
                   "</SessionToken><Expiration>2020-01-01T00:00:00Z</Expiration></Credentials>"
                   "</AssumeRoleResult></AssumeRoleResponse>");
    expect_err("dev", DSQL_ECREDENTIALS,
               "profile 'dev' (assume role): the credentials it "
               "returned expired at 2020-01-01T00:00:00Z");
    tu_httpd_route(srv, "POST", "/", 0, NULL);
    setenv("DSQL_AUTH_HTTP_TIMEOUT_MS", "300", 1);
    expect_err("dev", DSQL_ETIMEOUT, "no answer within 300 ms");
    unsetenv("DSQL_AUTH_HTTP_TIMEOUT_MS");
    setenv("AWS_ENDPOINT_URL_STS", "not a url", 1);
    expect_err("dev", DSQL_EINVAL, "STS endpoint: 'not a url' is not a URL");
    /* the default endpoint (never contacted here) */
    unsetenv("AWS_ENDPOINT_URL_STS");
    char *e = dsql__sts_endpoint("eu-west-1");
    assert_string_equal(e, "https://sts.eu-west-1.amazonaws.com");
    free(e);
    e = dsql__sts_endpoint("cn-north-1");
    assert_string_equal(e, "https://sts.cn-north-1.amazonaws.com.cn");
    free(e);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
    e = dsql__sts_endpoint("eu-west-1");
    assert_string_equal(e, "http://127.0.0.1:9/");
    free(e);
}

static void test_web_identity(void **state)
{
    (void)state;
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRoleWithWebIdentity", "ASIAWEB", "TKWEB"));
    setenv("AWS_ENDPOINT_URL_STS", tu_httpd_url(srv), 1);
    char path[128];
    at_write(dir, "web-token", "eyJhbGciOi.payload+/=.sig\n", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    setenv("AWS_ROLE_SESSION_NAME", "pod-1", 1);
    expect_ok(NULL, "ASIAWEB", "TKWEB", "web-identity");
    const tu_http_request *r = tu_httpd_request(srv, 0);
    assert_string_equal(r->body, "Action=AssumeRoleWithWebIdentity&"
                                 "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Firsa&"
                                 "RoleSessionName=pod-1&Version=2011-06-15&"
                                 "WebIdentityToken=eyJhbGciOi.payload%2B%2F%3D.sig");
    assert_null(hdr(0, "Authorization")); /* unsigned */
    /* environment credentials come first */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    expect_ok(NULL, "AKENV", NULL, "environment");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    /* failures */
    unsetenv("AWS_ROLE_ARN");
    expect_err(NULL, DSQL_ECONFIG,
               "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    expect_err(NULL, DSQL_ECONFIG,
               "web identity: cannot open web identity token file /nonexistent/token");
    at_write(dir, "empty-token", "\n", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    expect_err(NULL, DSQL_ECREDENTIALS, "is empty");
    /* in a profile */
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    at_write(dir, "web-token", "tok2", path, sizeof path);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "[profile web]\nrole_arn = arn:aws:iam::1:role/w\nweb_identity_token_file = %s\n"
             "[profile halfweb]\nweb_identity_token_file = %s\n",
             path, path);
    write_profiles("", cfg);
    expect_ok("web", "ASIAWEB", "TKWEB", "web-identity");
    assert_contains(tu_httpd_request(srv, tu_httpd_count(srv) - 1)->body, "WebIdentityToken=tok2");
    char want[512];
    snprintf(want, sizeof want,
             "profile 'halfweb' (web identity): web_identity_token_file is set (%s/config line 5) "
             "but role_arn is not",
             dir);
    expect_err("halfweb", DSQL_ECONFIG, want);
}

/* Failing paths with distinctive secrets: no message carries one. */
static void expect_no_secret(const char *profile, const char *const *secrets, size_t n)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_not_equal(chain_get(profile, &c, &err), DSQL_OK);
    assert_true(err.message[0] != '\0');
    for (size_t i = 0; i < n; i++)
        assert_not_contains(err.message, secrets[i]);
}

static void test_no_secret_in_errors(void **state)
{
    (void)state;
    static const char *const secrets[] = {"CONT-TOKEN-5e1", "BODY-SECRET-9a2", "SK-SECRET-77c",
                                          "ST-SECRET-0d4",  "SRC-TOKEN-3b8",   "SRC-SK-6f0",
                                          "WEB-TOKEN-c21"};
    const size_t n = sizeof secrets / sizeof secrets[0];
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "CONT-TOKEN-5e1", 1);
    tu_httpd_route(srv, "GET", "/creds", 500, "BODY-SECRET-9a2");
    expect_no_secret(NULL, secrets, n);
    tu_httpd_route(srv, "GET", "/creds", 200,
                   "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK-SECRET-77c\",\"Token\":"
                   "\"ST-SECRET-0d4\",\"Expiration\":\"2020-01-01T00:00:00Z\"}");
    expect_no_secret(NULL, secrets, n);
    tu_httpd_route(srv, "GET", "/creds", 200,
                   "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK-SECRET-77c\",\"Token\":7}");
    expect_no_secret(NULL, secrets, n);
    tu_httpd_route(srv, "GET", "/creds", 200, "{\"SecretAccessKey\":\"SK-SECRET-77c\"");
    expect_no_secret(NULL, secrets, n);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "CONT-TOKEN-5e1\nX: y", 1);
    expect_no_secret(NULL, secrets, n);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    /* STS: a refused AssumeRole, and a response with secrets but no expiration */
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SRC-SK-6f0\n"
                   "aws_session_token = SRC-TOKEN-3b8\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::1:role/demo\nsource_profile = base\n");
    tu_httpd_route(srv, "POST", "/", 403,
                   "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error>"
                   "</ErrorResponse>");
    expect_no_secret("dev", secrets, n);
    tu_httpd_route(srv, "POST", "/", 200,
                   "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A"
                   "</AccessKeyId><SecretAccessKey>SK-SECRET-77c</SecretAccessKey><SessionToken>"
                   "ST-SECRET-0d4</SessionToken><Expiration>soon</Expiration></Credentials>"
                   "</AssumeRoleResult></AssumeRoleResponse>");
    expect_no_secret("dev", secrets, n);
    /* web identity refused */
    char path[128];
    at_write(dir, "web-token", "WEB-TOKEN-c21", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    expect_no_secret(NULL, secrets, n);
}

/* ---- retries (the SDKs' standard mode: 3 attempts; 5xx, 429, throttling, dropped
 * connections and timeouts; never another 4xx) ---- */

typedef struct logged {
    int n;
    char text[4096];
} logged;

static void catch_log(dsql_log_level level, const char *message, void *ctx)
{
    logged *l = ctx;
    assert_int_equal(level, DSQL_LOG_INFO);
    l->n++;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s\n", message);
}

static void catch_log_any(dsql_log_level level, const char *message, void *ctx)
{
    (void)level;
    logged *l = ctx;
    l->n++;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s\n", message);
}

static int chain_get_logged(const char *profile, logged *l, dsql_credentials *c, dsql_error *err)
{
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(profile, &p, NULL), DSQL_OK);
    memset(l, 0, sizeof *l);
    dsql_credentials_provider_set_log(p, catch_log, l);
    int rc = dsql_credentials_provider_get(p, c, err);
    dsql_credentials_provider_free(p);
    return rc;
}

static void test_container_retries(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    tu_httpd_route(srv, "GET", "/creds", 200, CONTAINER_JSON);
    tu_httpd_route_once(srv, "GET", "/creds", 503, "busy");
    tu_httpd_route_once(srv, "GET", "/creds", -1, NULL); /* dropped connection */
    logged l;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(chain_get_logged(NULL, &l, &c, &err), DSQL_OK);
    assert_string_equal(c.access_key_id, "AKCONT");
    dsql_credentials_clear(&c);
    assert_int_equal(tu_httpd_count(srv), 3);
    assert_int_equal(l.n, 2);
    char want[512];
    snprintf(want, sizeof want, "container credentials: GET %s: HTTP 503; retry 1 of 2 in ",
             url("/creds"));
    assert_true(!strncmp(l.text, want, strlen(want)));
    snprintf(want, sizeof want,
             "\ncontainer credentials: GET %s: Empty reply from server; retry 2 of 2 in ",
             url("/creds"));
    assert_contains(l.text, want);

    /* 429 too; three failures are the end */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "GET", "/creds", 429, "slow down");
    snprintf(want, sizeof want, "container credentials: GET %s: HTTP 429 (3 attempts)",
             url("/creds"));
    expect_err(NULL, DSQL_ECREDENTIALS, want);
    assert_int_equal(tu_httpd_count(srv), 3);
    /* another 4xx: never retried */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "GET", "/creds", 403, "{}");
    snprintf(want, sizeof want, "container credentials: GET %s: HTTP 403", url("/creds"));
    expect_err(NULL, DSQL_ECREDENTIALS, want);
    assert_int_equal(tu_httpd_count(srv), 1);
    /* a timeout, then an answer */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "GET", "/creds", 200, CONTAINER_JSON);
    tu_httpd_route_once(srv, "GET", "/creds", 0, NULL);
    setenv("DSQL_AUTH_HTTP_TIMEOUT_MS", "300", 1);
    expect_ok(NULL, "AKCONT", "TKCONT", "container");
    assert_int_equal(tu_httpd_count(srv), 2);
    /* a server that never answers: three timeouts */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "GET", "/creds", 0, NULL);
    snprintf(want, sizeof want,
             "container credentials: GET %s: no answer within 300 ms (3 attempts)", url("/creds"));
    expect_err(NULL, DSQL_ETIMEOUT, want);
    assert_int_equal(tu_httpd_count(srv), 3);
}

static void test_imds_retries(void **state)
{
    (void)state;
    imds_routes();
    /* Every step may fail transiently: the token PUT, the role GET, the credentials GET. */
    tu_httpd_route_once(srv, "PUT", "/latest/api/token", 503, "");
    tu_httpd_route_once(srv, "PUT", "/latest/api/token", -1, NULL);
    tu_httpd_route_once(srv, "GET", IMDS_CREDS_PATH, 500, "");
    tu_httpd_route_once(srv, "GET", IMDS_CREDS_PATH "my-role", -1, NULL);
    tu_httpd_route_once(srv, "GET", IMDS_CREDS_PATH "my-role", 502, "");
    expect_ok(NULL, "AKIMDS", "TKIMDS", "instance-metadata");
    assert_int_equal(tu_httpd_count(srv), 8);
    static const char *const targets[] = {"/latest/api/token",       "/latest/api/token",
                                          "/latest/api/token",       IMDS_CREDS_PATH,
                                          IMDS_CREDS_PATH,           IMDS_CREDS_PATH "my-role",
                                          IMDS_CREDS_PATH "my-role", IMDS_CREDS_PATH "my-role"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(tu_httpd_request(srv, i)->target, targets[i]);
    assert_string_equal(hdr(7, "X-aws-ec2-metadata-token"), "imds-session-token");
    /* 5xx every time: three attempts, then the error */
    tu_httpd_reset(srv);
    imds_routes();
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 500, "");
    char want[256];
    snprintf(want, sizeof want,
             "instance metadata: GET %s" IMDS_CREDS_PATH "my-role: HTTP 500 (3 "
             "attempts)",
             tu_httpd_url(srv));
    expect_err(NULL, DSQL_EHTTP, want);
    assert_int_equal(tu_httpd_count(srv), 5);
    /* 401 on the credentials: not retried */
    tu_httpd_reset(srv);
    imds_routes();
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH "my-role", 401, "");
    expect_err(NULL, DSQL_ECREDENTIALS, "my-role: HTTP 401");
    assert_int_equal(tu_httpd_count(srv), 3);
}

#define STS_ERROR(code, msg)                                                                       \
    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"       \
    "</Type><Code>" code "</Code><Message>" msg "</Message></Error><RequestId>r</RequestId>"       \
    "</ErrorResponse>"

static void test_sts_retries(void **state)
{
    (void)state;
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::1:role/demo\nsource_profile = base\n");
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRole", "ASIAROLE", "TKROLE"));
    tu_httpd_route_once(srv, "POST", "/", 400, STS_ERROR("Throttling", "Rate exceeded"));
    tu_httpd_route_once(srv, "POST", "/", 503, "");
    expect_ok("dev", "ASIAROLE", "TKROLE", "assume-role");
    assert_int_equal(tu_httpd_count(srv), 3);
    for (size_t i = 0; i < 3; i++) /* each attempt signed anew */
        check_signature(i, "AKBASE", "SKBASE", NULL, "us-east-1");
    /* throttled every time */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "POST", "/", 400, STS_ERROR("Throttling", "Rate exceeded"));
    expect_err("dev", DSQL_ECREDENTIALS, "failed: HTTP 400 Throttling: Rate exceeded (3 attempts)");
    assert_int_equal(tu_httpd_count(srv), 3);
    /* any other 400: once */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "POST", "/", 400, STS_ERROR("ValidationError", "bad arn"));
    expect_err("dev", DSQL_ECREDENTIALS, "failed: HTTP 400 ValidationError: bad arn");
    assert_int_equal(tu_httpd_count(srv), 1);
    /* web identity too */
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRoleWithWebIdentity", "ASIAWEB", "TKWEB"));
    tu_httpd_route_once(srv, "POST", "/", -1, NULL);
    char path[128];
    at_write(dir, "web-token", "tok", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    expect_ok(NULL, "ASIAWEB", "TKWEB", "web-identity");
    assert_int_equal(tu_httpd_count(srv), 2);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");

    /* max_attempts of the profile, AWS_MAX_ATTEMPTS over it */
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::1:role/demo\nsource_profile = base\n"
                   "max_attempts = 1\n"
                   "[profile bad]\nrole_arn = arn:aws:iam::1:role/demo\nsource_profile = base\n"
                   "max_attempts = many\n");
    tu_httpd_reset(srv);
    tu_httpd_route(srv, "POST", "/", 503, "");
    expect_err("dev", DSQL_EHTTP, "failed: HTTP 503");
    assert_int_equal(tu_httpd_count(srv), 1);
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    expect_err("dev", DSQL_EHTTP, "failed: HTTP 503 (2 attempts)");
    assert_int_equal(tu_httpd_count(srv), 3);
    unsetenv("AWS_MAX_ATTEMPTS");
    char want[512];
    snprintf(want, sizeof want,
             "max_attempts (%s/config line 8) 'many' is not a whole number from 1 to 10", dir);
    expect_err("bad", DSQL_ECONFIG, want);
}

/* ---- the chain's order and rules ---- */

static void test_chain_rules(void **state)
{
    (void)state;
    /* Blank variables count as unset: the container decides. */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url("/creds"), 1);
    tu_httpd_route(srv, "GET", "/creds", 200, CONTAINER_JSON);
    setenv("AWS_ACCESS_KEY_ID", " ", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "\t", 1);
    setenv("AWS_PROFILE", "  ", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", " ", 1);
    expect_ok(NULL, "AKCONT", "TKCONT", "container");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");

    /* A profile named by AWS_PROFILE comes before web identity from the environment. */
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRoleWithWebIdentity", "ASIAWEB", "TKWEB"));
    write_profiles("[default]\naws_access_key_id = AKDEF\naws_secret_access_key = SKDEF\n"
                   "[prod]\naws_access_key_id = AKPROD\naws_secret_access_key = SKPROD\n",
                   "[profile self]\nrole_arn = arn:aws:iam::1:role/self\nsource_profile = self\n"
                   "aws_access_key_id = AKSELF\naws_secret_access_key = SKSELF\n"
                   "[profile selfless]\nrole_arn = arn:aws:iam::1:role/s\n"
                   "source_profile = selfless\n");
    char path[128];
    at_write(dir, "web-token", "tok", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    setenv("AWS_PROFILE", "prod", 1);
    expect_ok(NULL, "AKPROD", NULL, "profile");
    assert_int_equal(tu_httpd_count(srv), 1);
    /* AWS_PROFILE naming a profile that does not exist is an error */
    setenv("AWS_PROFILE", "nosuch", 1);
    expect_err(NULL, DSQL_ECONFIG, "profile 'nosuch' not found in ");
    /* without AWS_PROFILE, web identity comes before the default profile */
    unsetenv("AWS_PROFILE");
    expect_ok(NULL, "ASIAWEB", "TKWEB", "web-identity");
    assert_int_equal(tu_httpd_count(srv), 2);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");

    /* source_profile naming the profile itself: its keys assume its role */
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRole", "ASIASELF", "TKSELF"));
    expect_ok("self", "ASIASELF", "TKSELF", "assume-role");
    assert_int_equal(tu_httpd_count(srv), 3);
    assert_contains(tu_httpd_request(srv, 2)->body, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fself");
    check_signature(2, "AKSELF", "SKSELF", NULL, "us-east-1");
    expect_err("selfless", DSQL_ECONFIG,
               "profile 'selfless': source_profile names the profile itself, which has no "
               "aws_access_key_id and aws_secret_access_key to assume the role with");
}

/* ---- STS region and endpoints, the metadata endpoint from the config file ---- */

static void test_sts_region_and_endpoints(void **state)
{
    (void)state;
    tu_httpd_route(srv, "POST", "/", 200, STS_OK("AssumeRole", "ASIAROLE", "TKROLE"));
    write_profiles("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n",
                   "[profile dev]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = base\n"
                   "region = eu-west-1\n"
                   "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
                   "region = sa-east-1\n"
                   "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = base\n"
                   "region = eu-west-1\n");
    /* The environment's region wins over the profile's. */
    setenv("AWS_REGION", "ap-southeast-2", 1);
    expect_ok("dev", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(0, "AKBASE", "SKBASE", NULL, "ap-southeast-2");
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "ca-central-1", 1);
    expect_ok("dev", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(1, "AKBASE", "SKBASE", NULL, "ca-central-1");
    unsetenv("AWS_DEFAULT_REGION");
    expect_ok("dev", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(2, "AKBASE", "SKBASE", NULL, "eu-west-1");
    /* One STS client for a chain: the selected profile's region for every hop. */
    expect_ok("a", "ASIAROLE", "TKROLE", "assume-role");
    check_signature(3, "AKBASE", "SKBASE", NULL, "sa-east-1");
    check_signature(4, "ASIAROLE", "SKROLE", "TKROLE", "sa-east-1");

    /* endpoint_url in the profile, and a [services] section that beats it */
    unsetenv("AWS_ENDPOINT_URL_STS");
    char cfg[2048], p2[128];
    snprintf(cfg, sizeof cfg,
             "[profile dev]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = base\n"
             "endpoint_url = %s/global\n"
             "[profile svc]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = base\n"
             "endpoint_url = http://127.0.0.1:1/wrong\nservices = local\n"
             "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:1/s3\n"
             "sts =\n  endpoint_url = %s/sts\n",
             tu_httpd_url(srv), tu_httpd_url(srv));
    setenv("AWS_CONFIG_FILE", at_write(dir, "config", cfg, p2, sizeof p2), 1);
    tu_httpd_route(srv, "POST", "/global", 200, STS_OK("AssumeRole", "ASIAGLOBAL", "TKG"));
    tu_httpd_route(srv, "POST", "/sts", 200, STS_OK("AssumeRole", "ASIASVC", "TKS"));
    expect_ok("dev", "ASIAGLOBAL", "TKG", "assume-role");
    assert_string_equal(tu_httpd_request(srv, 5)->target, "/global");
    expect_ok("svc", "ASIASVC", "TKS", "assume-role");
    assert_string_equal(tu_httpd_request(srv, 6)->target, "/sts");
    /* the environment beats both */
    setenv("AWS_ENDPOINT_URL", url("/"), 1);
    expect_ok("svc", "ASIAROLE", "TKROLE", "assume-role");
    assert_string_equal(tu_httpd_request(srv, 7)->target, "/");
    unsetenv("AWS_ENDPOINT_URL");

    /* web identity from the environment reads the profile's endpoint too */
    snprintf(cfg, sizeof cfg, "[default]\nendpoint_url = %s/global\n", tu_httpd_url(srv));
    at_write(dir, "config", cfg, p2, sizeof p2);
    tu_httpd_route(srv, "POST", "/global", 200,
                   STS_OK("AssumeRoleWithWebIdentity", "ASIAWEB", "TKWEB"));
    char path[128];
    at_write(dir, "web-token", "tok", path, sizeof path);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa", 1);
    expect_ok(NULL, "ASIAWEB", "TKWEB", "web-identity");
    assert_string_equal(tu_httpd_request(srv, 8)->target, "/global");
}

static void test_configured_endpoint_rules(void **state)
{
    (void)state;
    char p2[128];
    setenv("AWS_CONFIG_FILE",
           at_write(dir, "config",
                    "[default]\nendpoint_url = http://profile\nservices = s\n"
                    "[profile ign]\nendpoint_url = http://profile\n"
                    "ignore_configured_endpoint_urls = true\n"
                    "[services s]\nsts =\n  Endpoint_URL = http://services\n",
                    p2, sizeof p2),
           1);
    dsql__aws_files f = DSQL__AWS_FILES_INIT;
    assert_int_equal(dsql__aws_files_load(&f, NULL, NULL, NULL), DSQL_OK);
    char *u;
    const char *from;
#define EXPECT_URL(profile, want)                                                                  \
    do {                                                                                           \
        assert_int_equal(dsql__configured_endpoint(&f, profile, "STS", "sts", &u, &from, NULL),    \
                         DSQL_OK);                                                                 \
        if (want) {                                                                                \
            assert_non_null(u);                                                                    \
            assert_string_equal(u, (const char *)(want));                                          \
        } else {                                                                                   \
            assert_null(u);                                                                        \
        }                                                                                          \
        free(u);                                                                                   \
    } while (0)
    EXPECT_URL("default", "http://services");
    EXPECT_URL("ign", NULL);
    setenv("AWS_ENDPOINT_URL", "http://env-global", 1);
    EXPECT_URL("default", "http://env-global");
    EXPECT_URL("ign", NULL);
    setenv("AWS_ENDPOINT_URL_STS", "http://env-sts", 1);
    EXPECT_URL("default", "http://env-sts");
    /* the variable decides over the profile's setting, either way */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    EXPECT_URL("ign", "http://env-sts");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    EXPECT_URL("default", NULL);
#undef EXPECT_URL
    dsql__aws_files_free(&f);
    char *e = dsql__sts_endpoint("eu-west-1");
    assert_string_equal(e, "https://sts.eu-west-1.amazonaws.com");
    free(e);
}

static void test_imds_from_config(void **state)
{
    (void)state;
    imds_routes();
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char cfg[512], p2[128];
    snprintf(cfg, sizeof cfg,
             "[default]\nec2_metadata_service_endpoint = %s\n"
             "[profile v6]\nec2_metadata_service_endpoint_mode = IPv5\n"
             "[profile nov1]\nec2_metadata_service_endpoint = %s\n"
             "ec2_metadata_v1_disabled = true\n",
             tu_httpd_url(srv), tu_httpd_url(srv));
    setenv("AWS_CONFIG_FILE", at_write(dir, "config", cfg, p2, sizeof p2), 1);
    expect_ok(NULL, "AKIMDS", "TKIMDS", "instance-metadata");
    assert_int_equal(tu_httpd_count(srv), 3);
    /* named in the file, the endpoint decides: its error is the chain's */
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 404, "");
    expect_err(NULL, DSQL_ECREDENTIALS, "HTTP 404: the instance has no IAM role");
    /* the variable wins over the file */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    expect_err(NULL, DSQL_EHTTP, "instance metadata: PUT http://127.0.0.1:1/latest/api/token: ");
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    setenv("AWS_PROFILE", "v6", 1);
    write_profiles("[v6]\n", cfg);
    unsetenv("AWS_ENDPOINT_URL_STS");
    expect_err(NULL, DSQL_ECONFIG,
               "instance metadata: ec2_metadata_service_endpoint_mode 'IPv5' is neither IPv4 nor "
               "IPv6");
    /* ec2_metadata_v1_disabled from the file: no fallback after a 405 */
    setenv("AWS_PROFILE", "nov1", 1);
    write_profiles("[nov1]\n", cfg);
    tu_httpd_route(srv, "GET", IMDS_CREDS_PATH, 200, "my-role");
    tu_httpd_route(srv, "PUT", "/latest/api/token", 405, "");
    expect_err(NULL, DSQL_ECREDENTIALS, "/latest/api/token: HTTP 405");

    /* attempts: metadata_service_num_attempts in the file, the variable over it */
    tu_httpd_reset(srv);
    imds_routes();
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    unsetenv("AWS_PROFILE");
    snprintf(cfg, sizeof cfg,
             "[default]\nec2_metadata_service_endpoint = %s\nmetadata_service_num_attempts = 1\n"
             "metadata_service_timeout = 2.5\n[oops]\n",
             tu_httpd_url(srv));
    write_profiles("", cfg);
    tu_httpd_route(srv, "PUT", "/latest/api/token", 503, "");
    logged l;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    memset(&l, 0, sizeof l);
    dsql_credentials_provider_set_log(p, catch_log_any, &l);
    assert_int_equal(dsql_credentials_provider_get(p, &c, &err), DSQL_EHTTP);
    dsql_credentials_provider_free(p);
    char want[512];
    snprintf(want, sizeof want,
             "dsql_credentials_provider_get: instance metadata: PUT %s/latest/api/token: HTTP 503",
             tu_httpd_url(srv));
    assert_string_equal(err.message, want);
    assert_int_equal(tu_httpd_count(srv), 1);
    /* the file is read twice (profile, then metadata settings), warned about once */
    snprintf(want, sizeof want,
             "AWS shared files: %s/config line 5: section [oops] ignored: in the config file a "
             "profile is [profile NAME] (only [default] goes without the prefix)\n",
             dir);
    assert_string_equal(l.text, want);
    setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2", 1);
    snprintf(want, sizeof want, "instance metadata: PUT %s/latest/api/token: HTTP 503 (2 attempts)",
             tu_httpd_url(srv));
    expect_err(NULL, DSQL_EHTTP, want);
    assert_int_equal(tu_httpd_count(srv), 3);
    setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0", 1);
    expect_err(NULL, DSQL_ECONFIG,
               "instance metadata: AWS_METADATA_SERVICE_NUM_ATTEMPTS '0' is not a whole number "
               "from 1 to 10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_container_full_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_relative_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_v1_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sts_assume_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sts_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sts_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret_in_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sts_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sts_region_and_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configured_endpoint_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_from_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
