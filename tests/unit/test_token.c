/* IAM auth tokens: every vector minted by the official AWS signer, byte for byte; SigV4
 * header signing; bad inputs. */
#include <string.h>

#include <cjson/cJSON.h>

#include "authtest.h"
#include "auth/internal.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Mints every vector of a .jsonl file and compares; returns how many were checked. With
 * reuse, one credentials value is set again for each vector (a new memo each time) and
 * mints it twice, the second time from the memo; without, each vector gets a new value. */
static int run_vectors(const char *path, bool reuse)
{
    char *text = tu_read_file(path, NULL);
    int count = 0;
    char *save = NULL;
    dsql_credentials kept = DSQL_CREDENTIALS_INIT;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *v = cJSON_Parse(line);
        assert_non_null(v);
        dsql_credentials fresh = DSQL_CREDENTIALS_INIT, *c = reuse ? &kept : &fresh;
        assert_int_equal(dsql_credentials_set(c, jstr(v, "access_key_id"),
                                              jstr(v, "secret_access_key"),
                                              jstr(v, "session_token"), 0, NULL),
                         DSQL_OK);
        dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
        p.hostname = jstr(v, "hostname");
        p.region = jstr(v, "region");
        p.action = !strcmp(jstr(v, "action"), "DbConnectAdmin") ? DSQL_TOKEN_DB_CONNECT_ADMIN
                                                                : DSQL_TOKEN_DB_CONNECT;
        p.expires_in = (long)cJSON_GetObjectItemCaseSensitive(v, "expires_in")->valuedouble;
        assert_true(dsql__parse_iso8601(jstr(v, "signing_time"), &p.signing_time));
        for (int twice = 0; twice < (reuse ? 2 : 1); twice++) {
            char *token = NULL;
            dsql_error err = DSQL_ERROR_INIT;
            int rc = dsql_token_generate(&p, c, &token, &err);
            if (rc != DSQL_OK)
                print_error("line %d: %s\n", count + 1, err.message);
            assert_int_equal(rc, DSQL_OK);
            assert_string_equal(token, jstr(v, "token"));
            dsql_token_free(token);
        }
        unsigned long derived, encoded;
        dsql__sigv4_memo_stats(c, &derived, &encoded);
        assert_int_equal(derived, 1);
        assert_int_equal(encoded, jstr(v, "session_token") && *jstr(v, "session_token") ? 1 : 0);
        dsql_credentials_clear(&fresh);
        cJSON_Delete(v);
        count++;
    }
    dsql_credentials_clear(&kept);
    free(text);
    return count;
}

static void test_shared_vectors(void **state)
{
    (void)state;
    assert_int_equal(run_vectors(tu_data_path("shared/token_vectors.jsonl"), false), 8);
    assert_int_equal(run_vectors(tu_data_path("shared/token_vectors.jsonl"), true), 8);
}

static void test_extra_vectors(void **state)
{
    (void)state;
    assert_int_equal(run_vectors(tu_data_path("token_vectors_extra.jsonl"), false), 31);
    assert_int_equal(run_vectors(tu_data_path("token_vectors_extra.jsonl"), true), 31);
}

static dsql_credentials creds(void)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "akid", "secret", NULL, 0, NULL), DSQL_OK);
    return c;
}

/* The region comes from the host name when none is given; expires 0 is the default. */
static void test_region_from_host_and_defaults(void **state)
{
    (void)state;
    dsql_credentials c = creds();
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "test.dsql.us-east-1.on.aws";
    assert_true(dsql__parse_iso8601("2024-11-07T17:39:33Z", &p.signing_time));
    char *t = NULL;
    assert_int_equal(dsql_token_generate(&p, &c, &t, NULL), DSQL_OK);
    p.region = "us-east-1";
    p.expires_in = 900;
    char *t2 = NULL;
    assert_int_equal(dsql_token_generate(&p, &c, &t2, NULL), DSQL_OK);
    assert_string_equal(t, t2);
    assert_contains(t, "X-Amz-Expires=900&");
    assert_contains(t, "%2Fus-east-1%2Fdsql%2Faws4_request");
    dsql_token_free(t);
    dsql_token_free(t2);
    /* signing_time 0 = now: today's date is in the credential scope. */
    p.signing_time = 0;
    char today[17], date[9];
    assert_true(dsql__amz_date(time(NULL), today, date));
    assert_int_equal(dsql_token_generate(&p, &c, &t, NULL), DSQL_OK);
    assert_contains(t, date);
    dsql_token_free(t);
    dsql_token_free(NULL);
    dsql_credentials_clear(&c);
}

static void expect_error(const dsql_token_params *p, const dsql_credentials *c, int status,
                         const char *msg)
{
    char *t = (char *)"sentinel";
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_token_generate(p, c, &t, &err), status);
    assert_null(t);
    assert_int_equal(err.status, status);
    assert_contains(err.message, msg);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    dsql_credentials c = creds();
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abc.dsql.us-east-1.on.aws";
    p.signing_time = 1700000000;
    p.expires_in = -1;
    expect_error(&p, &c, DSQL_EINVAL, "expires_in -1 is out of range (1 to 604800 seconds)");
    p.expires_in = 604801;
    expect_error(&p, &c, DSQL_EINVAL, "expires_in 604801 is out of range");
    p.expires_in = 0;
    p.hostname = "";
    expect_error(&p, &c, DSQL_EINVAL, "hostname '' is not a host name");
    p.hostname = NULL;
    expect_error(&p, &c, DSQL_EINVAL, "hostname '(null)' is not a host name");
    p.hostname = "https://abc.dsql.us-east-1.on.aws";
    expect_error(&p, &c, DSQL_EINVAL, "is not a host name");
    p.hostname = "abc.dsql.us-east-1.on.aws:5432";
    expect_error(&p, &c, DSQL_EINVAL, "without scheme, port or path");
    /* DNS's limits: a label of 64 bytes, 254 bytes in all, an empty label */
    char host[300], want[300];
    snprintf(host, sizeof host, "%.64s.dsql.us-east-1.on.aws",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    p.hostname = host;
    snprintf(want, sizeof want,
             "auth token: hostname '%.80s...' is not a DNS name: its label "
             "'aaaaaaaaaaaaaaaa...' is 64 bytes long; a DNS label has at most 63",
             host);
    expect_error(&p, &c, DSQL_EINVAL, want);
    char label[64];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(host, sizeof host, "%s.dsql.us-east-1.on.aws", label); /* 63 bytes: fine */
    char *tok = NULL;
    assert_int_equal(dsql_token_generate(&p, &c, &tok, NULL), DSQL_OK);
    dsql_token_free(tok);
    /* 253 bytes (a trailing dot aside) pass, 254 do not */
    memset(host, 0, sizeof host);
    for (size_t i = 0; i < 253; i++)
        host[i] = i % 50 == 49 ? '.' : 'b';
    memcpy(host + 253 - 19, ".dsql.us-east-1.aws", 19);
    p.region = "us-east-1";
    host[253] = '.';
    assert_int_equal(dsql_token_generate(&p, &c, &tok, NULL), DSQL_OK);
    dsql_token_free(tok);
    host[253] = 'x';
    expect_error(&p, &c, DSQL_EINVAL,
                 "is not a DNS name: it is 254 bytes long; a DNS name has at "
                 "most 253");
    p.region = NULL;
    p.hostname = "abc..dsql.us-east-1.on.aws";
    expect_error(&p, &c, DSQL_EINVAL,
                 "auth token: hostname 'abc..dsql.us-east-1.on.aws' is not a DNS name: it has an "
                 "empty label (a leading dot or two dots in a row)");
    p.hostname = ".dsql.us-east-1.on.aws";
    expect_error(&p, &c, DSQL_EINVAL, "it has an empty label");
    p.hostname = "my-db.example.com";
    expect_error(&p, &c, DSQL_ECONFIG,
                 "no region given and host 'my-db.example.com' does not carry one");
    p.region = "us east";
    expect_error(&p, &c, DSQL_EINVAL, "region 'us east' is not a region name");
    p.region = "us-east-1";
    p.action = (dsql_token_action)7;
    expect_error(&p, &c, DSQL_EINVAL, "unknown action 7");
    p.action = DSQL_TOKEN_DB_CONNECT;
    dsql_credentials empty = DSQL_CREDENTIALS_INIT;
    expect_error(&p, &empty, DSQL_ECREDENTIALS, "no access key id or no secret access key");
    expect_error(NULL, &c, DSQL_EINVAL, "NULL argument");
    assert_int_equal(dsql_token_generate(&p, &c, NULL, NULL), DSQL_EINVAL);
    dsql_credentials_clear(&c);
}

static void test_credentials_set_clear(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_credentials_set(&c, "", "s", NULL, 0, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_credentials_set: credentials: the access key id is empty");
    assert_int_equal(dsql_credentials_set(&c, "a", NULL, NULL, 0, &err), DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_credentials_set: credentials: the secret access key is empty");
    assert_null(c.access_key_id);
    assert_int_equal(dsql_credentials_set(&c, "a", "s", "t", 42, NULL), DSQL_OK);
    assert_string_equal(c.access_key_id, "a");
    assert_string_equal(c.secret_access_key, "s");
    assert_string_equal(c.session_token, "t");
    assert_int_equal(c.expiration, 42);
    /* Replacing with its own strings works (they are copied before the old are freed). */
    assert_int_equal(dsql_credentials_set(&c, c.access_key_id, c.secret_access_key, "", 0, NULL),
                     DSQL_OK);
    assert_string_equal(c.access_key_id, "a");
    assert_null(c.session_token); /* "" = no session token */
    dsql_credentials_clear(&c);
    assert_null(c.access_key_id);
    assert_null(c.secret_access_key);
    assert_int_equal(c.expiration, 0);
    dsql_credentials_clear(&c);
    dsql_credentials_clear(NULL);
}

/* The AWS documentation's worked example (IAM ListUsers, 2015-08-30). */
static void test_header_signing_aws_example(void **state)
{
    (void)state;
    dsql_credentials c;
    dsql__sigv4_request r;
    at_iam_example(&c, &r);
    r.when = 0; /* the parse below sets it */
    assert_true(dsql__parse_iso8601("2015-08-30T12:36:00Z", &r.when));
    char amzdate[17], hash[DSQL__SHA256_HEX];
    dsql__strbuf auth = DSQL__STRBUF_INIT;
    assert_int_equal(dsql__sigv4_sign_headers(&r, &c, amzdate, hash, &auth, NULL), DSQL_OK);
    assert_string_equal(amzdate, "20150830T123600Z");
    assert_string_equal(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(
        auth.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
                   "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                   "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    dsql__sb_free(&auth);
    dsql_credentials_clear(&c);
}

/* An STS POST as the AWS SDK for JavaScript signs it (values from @smithy/signature-v4). */
static void test_header_signing_sdk_post(void **state)
{
    (void)state;
    static const char body[] = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%"
                               "2Fdemo&RoleSessionName=s1&Version=2011-06-15";
    static const struct {
        const char *token, *signed_headers, *sig;
    } cases[] = {
        {NULL, "content-type;host;x-amz-content-sha256;x-amz-date",
         "e8d46d4102847fbc2201dff064cb8c0bbbe6d05811328b4be1a0f0ca55b33bec"},
        {"FQoGZXIvYXdzE/+=token",
         "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
         "d06156ba06853d5cc3876b68871aeca1c3cb4840c10be2401cac97b2ee53deec"},
    };
    for (size_t i = 0; i < 2; i++) {
        dsql_credentials c = DSQL_CREDENTIALS_INIT;
        assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE",
                                              "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                              cases[i].token, 0, NULL),
                         DSQL_OK);
        dsql__sigv4_request r = {0};
        r.method = "POST";
        r.host = "127.0.0.1:8443";
        r.path = "/";
        r.content_type = "application/x-www-form-urlencoded; charset=utf-8";
        r.body = body;
        r.body_len = strlen(body);
        r.content_sha256 = true;
        r.region = "eu-west-1";
        r.service = "sts";
        assert_true(dsql__parse_iso8601("2026-11-25T17:00:00Z", &r.when));
        char amzdate[17], hash[DSQL__SHA256_HEX], want[512];
        dsql__strbuf auth = DSQL__STRBUF_INIT;
        assert_int_equal(dsql__sigv4_sign_headers(&r, &c, amzdate, hash, &auth, NULL), DSQL_OK);
        assert_string_equal(hash,
                            "0899162b93b78360b1e78cda793aade32170457ba7eb331705853c11e3bb17ce");
        snprintf(want, sizeof want,
                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/sts/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 cases[i].signed_headers, cases[i].sig);
        assert_string_equal(auth.data, want);
        dsql__sb_free(&auth);
        dsql_credentials_clear(&c);
    }
}

static void test_uri_encode_and_iso8601(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__uri_encode(&sb, "aZ09-_.~ /+=%\xc3\xa9", 15, false);
    assert_string_equal(sb.data, "aZ09-_.~%20%2F%2B%3D%25%C3%A9");
    dsql__sb_reset(&sb);
    dsql__uri_encode(&sb, "/a b/", 5, true);
    assert_string_equal(sb.data, "/a%20b/");
    dsql__sb_free(&sb);
    time_t t;
    assert_true(dsql__parse_iso8601("2026-11-25T17:00:00Z", &t));
    assert_int_equal(t, 1795626000);
    assert_true(dsql__parse_iso8601("2026-11-25T17:00:00.123Z", &t));
    assert_int_equal(t, 1795626000);
    assert_true(dsql__parse_iso8601("2026-11-25T18:30:00+01:30", &t));
    assert_int_equal(t, 1795626000);
    assert_true(dsql__parse_iso8601("2024-02-29T00:00:00Z", &t));
    assert_false(dsql__parse_iso8601("2023-02-29T00:00:00Z", &t));
    assert_false(dsql__parse_iso8601("2026-11-25 17:00:00", &t));
    assert_false(dsql__parse_iso8601("2026-13-01T00:00:00Z", &t));
    assert_false(dsql__parse_iso8601("2026-11-25T17:00:00Zjunk", &t));
    assert_false(dsql__parse_iso8601("", &t));
    assert_false(dsql__parse_iso8601(NULL, &t));
    char buf[32];
    dsql__format_iso8601(1795626000, buf);
    assert_string_equal(buf, "2026-11-25T17:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_vectors),
        cmocka_unit_test(test_extra_vectors),
        cmocka_unit_test(test_region_from_host_and_defaults),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_credentials_set_clear),
        cmocka_unit_test(test_header_signing_aws_example),
        cmocka_unit_test(test_header_signing_sdk_post),
        cmocka_unit_test(test_uri_encode_and_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
