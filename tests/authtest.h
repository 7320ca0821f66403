/* Helpers for the auth tests: a clean AWS environment, temporary files, token vectors. */
#ifndef DSQL_AUTHTEST_H
#define DSQL_AUTHTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

/* Every variable the credential chain or region lookup reads. */
static const char *const at_aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY",
                                          "AWS_SESSION_TOKEN",
                                          "AWS_CREDENTIAL_EXPIRATION",
                                          "AWS_PROFILE",
                                          "AWS_DEFAULT_PROFILE",
                                          "AWS_REGION",
                                          "AWS_DEFAULT_REGION",
                                          "AWS_CONFIG_FILE",
                                          "AWS_SHARED_CREDENTIALS_FILE",
                                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                                          "AWS_ROLE_ARN",
                                          "AWS_ROLE_SESSION_NAME",
                                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                          "AWS_EC2_METADATA_DISABLED",
                                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                          "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                          "AWS_EC2_METADATA_V1_DISABLED",
                                          "AWS_METADATA_SERVICE_TIMEOUT",
                                          "AWS_ENDPOINT_URL",
                                          "AWS_ENDPOINT_URL_STS",
                                          "DSQL_AUTH_HTTP_TIMEOUT_MS",
                                          "DSQL_AUTH_RETRY_BASE_MS",
                                          "AWS_MAX_ATTEMPTS",
                                          "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                                          "DSQL_AUTH_PROCESS_TIMEOUT_MS",
                                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                                          "http_proxy",
                                          "https_proxy",
                                          "HTTP_PROXY",
                                          "HTTPS_PROXY",
                                          "ALL_PROXY",
                                          "all_proxy"};

/* Unsets every AWS variable; the shared files point nowhere and instance metadata is
 * off, so nothing of the machine's own configuration can leak into a test. */
static inline void at_clean_env(void)
{
    for (size_t i = 0; i < sizeof at_aws_vars / sizeof at_aws_vars[0]; i++)
        unsetenv(at_aws_vars[i]);
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws/credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    /* Retries of the HTTP sources back off from 10 ms instead of 1 s. */
    setenv("DSQL_AUTH_RETRY_BASE_MS", "10", 1);
}

/* A fresh temporary directory (path copied into buf). */
static inline void at_tmpdir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/dsql-auth-test.XXXXXX");
    assert_non_null(mkdtemp(buf));
}

/* Writes text to dir/name and returns the path in buf. */
static inline const char *at_write(const char *dir, const char *name, const char *text, char *buf,
                                   size_t n)
{
    snprintf(buf, n, "%s/%s", dir, name);
    FILE *f = fopen(buf, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* rm -rf dir (paths made by at_tmpdir only). */
static inline void at_rmdir(const char *dir)
{
    char cmd[512];
    assert_true(strncmp(dir, "/tmp/dsql-auth-test.", 20) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The AWS documentation's worked example of header signing: IAM ListUsers with its
 * example credentials at 2015-08-30T12:36:00Z (1440938160). Its signature is
 * 5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7. */
static inline void at_iam_example(dsql_credentials *c, dsql__sigv4_request *r)
{
    *c = (dsql_credentials)DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(c, "AKIDEXAMPLE",
                                          "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, 0,
                                          NULL),
                     DSQL_OK);
    *r = (dsql__sigv4_request){.method = "GET",
                               .host = "iam.amazonaws.com",
                               .path = "/",
                               .query = "Action=ListUsers&Version=2010-05-08",
                               .content_type = "application/x-www-form-urlencoded; charset=utf-8",
                               .region = "us-east-1",
                               .service = "iam",
                               .when = 1440938160};
}

/* True when hay contains needle. */
static inline int at_contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!at_contains((hay), (needle))) {                                                       \
            print_error("expected \"%s\" in \"%s\"\n", (needle), (hay) ? (hay) : "(null)");        \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        if (at_contains((hay), (needle))) {                                                        \
            print_error("unexpected \"%s\" in \"%s\"\n", (needle), (hay));                         \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#endif
