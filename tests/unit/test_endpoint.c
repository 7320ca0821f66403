/* Endpoints: the region in a host name, bare cluster ids, the region resolution order. */
#include <string.h>

#include "authtest.h"
#include "dsql/auth.h"

static int setup(void **state)
{
    (void)state;
    at_clean_env();
    return 0;
}

static void test_region_from_host(void **state)
{
    (void)state;
    char buf[64];
    assert_true(dsql_region_from_host("abc.dsql.us-east-1.on.aws", buf, sizeof buf));
    assert_string_equal(buf, "us-east-1");
    assert_true(dsql_region_from_host("abc.dsqlqa.eu-west-1.on.aws", buf, sizeof buf));
    assert_string_equal(buf, "eu-west-1");
    assert_true(dsql_region_from_host("abc.dsqlbeta.us-gov-west-1.on.aws", buf, sizeof buf));
    assert_string_equal(buf, "us-gov-west-1");
    assert_true(dsql_region_from_host("a.b.dsql-fips.ap-southeast-2.on.aws", buf, sizeof buf));
    assert_string_equal(buf, "ap-southeast-2");
    /* Not DSQL host names. */
    assert_false(dsql_region_from_host("abc.dsql.us-east-1.on.aws.evil.com", buf, sizeof buf));
    assert_false(dsql_region_from_host("abc.rds.us-east-1.on.aws", buf, sizeof buf));
    assert_false(dsql_region_from_host("dsql.us-east-1.on.aws", buf, sizeof buf));
    assert_false(dsql_region_from_host("abc.dsql..on.aws", buf, sizeof buf));
    assert_false(dsql_region_from_host("abc.xdsql.us-east-1.on.aws", buf, sizeof buf));
    assert_false(dsql_region_from_host(".on.aws", buf, sizeof buf));
    assert_false(dsql_region_from_host("localhost", buf, sizeof buf));
    assert_false(dsql_region_from_host("", buf, sizeof buf));
    assert_false(dsql_region_from_host(NULL, buf, sizeof buf));
    /* Too small a buffer: false, never a truncated region. */
    assert_false(dsql_region_from_host("abc.dsql.us-east-1.on.aws", buf, 9));
    assert_true(dsql_region_from_host("abc.dsql.us-east-1.on.aws", buf, 10));
    assert_string_equal(buf, "us-east-1");
}

static void test_is_dsql_host(void **state)
{
    (void)state;
    assert_true(dsql_is_dsql_host("abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"));
    assert_true(dsql_is_dsql_host("abc.dsqlqa.us-east-1.on.aws"));
    assert_true(dsql_is_dsql_host("abcdefghijklmnopqrstuvwx12"));  /* bare cluster id */
    assert_false(dsql_is_dsql_host("abcdefghijklmnopqrstuvwx1"));  /* 25 chars */
    assert_false(dsql_is_dsql_host("ABCDEFGHIJKLMNOPQRSTUVWX12")); /* upper case */
    assert_false(dsql_is_dsql_host("localhost"));
    assert_false(dsql_is_dsql_host("127.0.0.1"));
    assert_false(dsql_is_dsql_host(".dsql.us-east-1.on.aws"));
    assert_false(dsql_is_dsql_host(""));
    assert_false(dsql_is_dsql_host(NULL));
}

static void resolve_ok(const char *host, const char *region, const char *profile,
                       const char *want_host, const char *want_region)
{
    char *h = NULL, *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_endpoint_resolve(host, region, profile, &h, &r, &err);
    if (rc != DSQL_OK)
        print_error("%s\n", err.message);
    assert_int_equal(rc, DSQL_OK);
    assert_string_equal(h, want_host);
    assert_string_equal(r, want_region);
    free(h);
    free(r);
}

static void test_resolve_order(void **state)
{
    (void)state;
    const char *id = "abcdefghijklmnopqrstuvwxyz";
    char dir[64], cfg[128];
    at_tmpdir(dir, sizeof dir);
    at_write(dir, "config",
             "[default]\nregion = ap-south-1\n\n[profile other]\n  region=sa-east-1  # comment\n",
             cfg, sizeof cfg);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    /* explicit beats the host name */
    resolve_ok("x.dsql.us-east-1.on.aws", "eu-west-1", NULL, "x.dsql.us-east-1.on.aws",
               "eu-west-1");
    /* host name beats the environment */
    setenv("AWS_REGION", "us-west-2", 1);
    setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
    resolve_ok("x.dsql.us-east-1.on.aws", NULL, NULL, "x.dsql.us-east-1.on.aws", "us-east-1");
    resolve_ok("x.dsql.us-east-1.on.aws", "", NULL, "x.dsql.us-east-1.on.aws", "us-east-1");
    /* a bare id expands with the region */
    resolve_ok(id, NULL, NULL, "abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws", "us-west-2");
    resolve_ok(id, "eu-north-1", NULL, "abcdefghijklmnopqrstuvwxyz.dsql.eu-north-1.on.aws",
               "eu-north-1");
    unsetenv("AWS_REGION");
    resolve_ok(id, NULL, NULL, "abcdefghijklmnopqrstuvwxyz.dsql.us-west-1.on.aws", "us-west-1");
    unsetenv("AWS_DEFAULT_REGION");
    resolve_ok(id, NULL, NULL, "abcdefghijklmnopqrstuvwxyz.dsql.ap-south-1.on.aws", "ap-south-1");
    resolve_ok(id, NULL, "other", "abcdefghijklmnopqrstuvwxyz.dsql.sa-east-1.on.aws", "sa-east-1");
    setenv("AWS_PROFILE", "other", 1);
    resolve_ok("host.example.com", NULL, NULL, "host.example.com", "sa-east-1");
    unsetenv("AWS_PROFILE");
    /* a non-DSQL host with an explicit region stays as is */
    resolve_ok("localhost", "us-east-2", NULL, "localhost", "us-east-2");

    /* nothing anywhere: a clear error naming every place looked at */
    char *h = (char *)"x", *r = (char *)"x";
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_endpoint_resolve(id, NULL, "nosuch", &h, &r, &err), DSQL_ECONFIG);
    assert_null(h);
    assert_null(r);
    assert_contains(err.message, "no AWS region found");
    assert_contains(err.message, "AWS_REGION and AWS_DEFAULT_REGION are unset");
    assert_contains(err.message, "profile 'nosuch'");
    assert_contains(err.message, cfg);
    at_rmdir(dir);
}

static void test_resolve_errors(void **state)
{
    (void)state;
    char *h, *r;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_endpoint_resolve("", NULL, NULL, &h, &r, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_endpoint_resolve: endpoint: the host name is empty");
    assert_int_equal(dsql_endpoint_resolve(NULL, "us-east-1", NULL, &h, &r, &err), DSQL_EINVAL);
    assert_int_equal(
        dsql_endpoint_resolve("https://x.dsql.us-east-1.on.aws", NULL, NULL, &h, &r, &err),
        DSQL_EINVAL);
    assert_contains(err.message, "is not a host name");
    assert_int_equal(dsql_endpoint_resolve("x..dsql.us-east-1.on.aws", NULL, NULL, &h, &r, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_endpoint_resolve: endpoint: 'x..dsql.us-east-1.on.aws' is not a DNS name: it "
        "has an empty label (a leading dot or two dots in a row)");
    char longhost[128];
    snprintf(longhost, sizeof longhost, "%064d.dsql.us-east-1.on.aws", 0);
    assert_int_equal(dsql_endpoint_resolve(longhost, NULL, NULL, &h, &r, &err), DSQL_EINVAL);
    assert_contains(err.message, "is 64 bytes long; a DNS label has at most 63");
    assert_int_equal(
        dsql_endpoint_resolve("x.dsql.us-east-1.on.aws:5432", NULL, NULL, &h, &r, &err),
        DSQL_EINVAL);
    assert_string_equal(
        err.message,
        "dsql_endpoint_resolve: endpoint: 'x.dsql.us-east-1.on.aws:5432' carries a port; "
        "give the host name alone and the port separately "
        "(port=5432, --port 5432)");
    assert_null(h);
    assert_null(r);
    assert_int_equal(dsql_endpoint_resolve("a b", "us-east-1", NULL, &h, &r, &err), DSQL_EINVAL);
    assert_int_equal(dsql_endpoint_resolve("x.example", "us east 1", NULL, &h, &r, &err),
                     DSQL_EINVAL);
    assert_contains(err.message, "region 'us east 1' (from the region argument) is not a region");
    /* no AWS files at all, no env: error */
    assert_int_equal(dsql_endpoint_resolve("localhost", NULL, NULL, &h, &r, &err), DSQL_ECONFIG);
    assert_contains(err.message, "endpoint localhost: no AWS region found");
    assert_contains(err.message, "are unset, and there is no AWS config file (");
    /* a config file that is a directory cannot be read: a clear error */
    char dir[64];
    at_tmpdir(dir, sizeof dir);
    setenv("AWS_CONFIG_FILE", dir, 1);
    assert_int_equal(dsql_endpoint_resolve("localhost", NULL, NULL, &h, &r, &err), DSQL_EIO);
    assert_contains(err.message, "it is a directory");
    assert_contains(err.message, dir);
    at_rmdir(dir);
    /* out parameters may be NULL */
    assert_int_equal(dsql_endpoint_resolve("x.dsql.us-east-1.on.aws", NULL, NULL, NULL, NULL, NULL),
                     DSQL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_from_host),
        cmocka_unit_test(test_is_dsql_host),
        cmocka_unit_test_setup(test_resolve_order, setup),
        cmocka_unit_test_setup(test_resolve_errors, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
