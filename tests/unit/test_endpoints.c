/* Several endpoints of one multi-Region cluster in a config: the host list (ports, addresses),
 * a region per endpoint (given or from the host name), the preferred endpoint, a token per
 * endpoint, and the errors for lists that do not fit together. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn/private.h"
#include "dsql/dsql.h"

#define AKID   "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define ID     "abcdefghijklmnopqrstuvwxyz"

static dsql_credentials_provider *provider(void)
{
    dsql_credentials_provider *p = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_credentials_provider_static(AKID, SECRET, NULL, &p, &err), DSQL_OK);
    return p;
}

static int spec_of(dsql_config *cfg, dsql__spec *spec, dsql_error *err)
{
    return dsql__spec_init(spec, cfg, err);
}

static void host_list_with_ports_and_regions(void **state)
{
    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    dsql_credentials_provider *prov = provider();
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = "localhost:7001, localhost:7002";
    cfg.region = "us-east-1,us-west-2";
    cfg.hostaddr = "127.0.0.1,127.0.0.2";
    cfg.auth = DSQL_AUTH_IAM;
    cfg.credentials = prov;
    cfg.signing_time = 1700000000;
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(spec_of(&cfg, &spec, &err), DSQL_OK);
    assert_int_equal(spec.nep, 2);
    assert_int_equal(spec.preferred, 0); /* no local Region: the first */
    assert_string_equal(spec.ep[0].host, "localhost");
    assert_string_equal(spec.ep[0].port, "7001");
    assert_string_equal(spec.ep[0].hostaddr, "127.0.0.1");
    assert_string_equal(spec.ep[0].region, "us-east-1");
    assert_string_equal(spec.ep[1].host, "localhost");
    assert_string_equal(spec.ep[1].port, "7002");
    assert_string_equal(spec.ep[1].hostaddr, "127.0.0.2");
    assert_string_equal(spec.ep[1].region, "us-west-2");

    /* One token per endpoint, signed for its own Region. */
    char *t0 = NULL, *t1 = NULL;
    assert_int_equal(dsql__spec_mint_token(&spec, &spec.ep[0], &t0, &err), DSQL_OK);
    assert_int_equal(dsql__spec_mint_token(&spec, &spec.ep[1], &t1, &err), DSQL_OK);
    assert_non_null(strstr(t0, "%2F20231114%2Fus-east-1%2Fdsql%2Faws4_request"));
    assert_non_null(strstr(t1, "%2F20231114%2Fus-west-2%2Fdsql%2Faws4_request"));
    assert_int_equal(strncmp(t1, "localhost/?Action=DbConnectAdmin&", 33), 0);
    dsql__token_free(t0);
    dsql__token_free(t1);
    dsql__spec_free(&spec);

    /* The local Region's endpoint is preferred. */
    cfg.local_region = "us-west-2";
    assert_int_equal(spec_of(&cfg, &spec, &err), DSQL_OK);
    assert_int_equal(spec.preferred, 1);
    dsql__spec_free(&spec);
    /* ... from AWS_REGION when the config does not say. */
    cfg.local_region = NULL;
    setenv("AWS_REGION", "us-west-2", 1);
    assert_int_equal(spec_of(&cfg, &spec, &err), DSQL_OK);
    assert_int_equal(spec.preferred, 1);
    dsql__spec_free(&spec);
    /* A Region with no endpoint (the witness Region, say): the first. */
    setenv("AWS_REGION", "eu-west-1", 1);
    assert_int_equal(spec_of(&cfg, &spec, &err), DSQL_OK);
    assert_int_equal(spec.preferred, 0);
    dsql__spec_free(&spec);
    unsetenv("AWS_REGION");
    dsql_credentials_provider_free(prov);
}

static void regions_from_host_names(void **state)
{
    (void)state;
    unsetenv("AWS_REGION");
    dsql_credentials_provider *prov = provider();
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = ID ".dsql.us-east-1.on.aws," ID ".dsql.us-east-2.on.aws,proxy.example";
    /* One region for several endpoints: for those whose host name names none. */
    cfg.region = "eu-west-1";
    cfg.local_region = "us-east-2";
    cfg.credentials = prov;
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(spec_of(&cfg, &spec, &err), DSQL_OK);
    assert_true(spec.iam);
    assert_int_equal(spec.nep, 3);
    assert_string_equal(spec.ep[0].region, "us-east-1");
    assert_string_equal(spec.ep[1].region, "us-east-2");
    assert_string_equal(spec.ep[2].region, "eu-west-1");
    assert_string_equal(spec.ep[2].host, "proxy.example");
    assert_string_equal(spec.ep[0].port, "5432");
    assert_int_equal(spec.preferred, 1);
    dsql__spec_free(&spec);
    dsql_credentials_provider_free(prov);
}

/* auth=auto: IAM when any endpoint of the list is a DSQL endpoint. */
static void auto_auth_over_a_list(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = "proxy.example:5433, " ID ".dsql.us-east-2.on.aws";
    assert_true(dsql__config_wants_iam(&cfg));
    cfg.host = "db1.example,db2.example:5433";
    assert_false(dsql__config_wants_iam(&cfg));
    /* Password mode over two plain PostgreSQL hosts: no region, failover all the same. */
    cfg.auth = DSQL_AUTH_PASSWORD;
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_false(spec.iam);
    assert_int_equal(spec.nep, 2);
    assert_string_equal(spec.ep[0].host, "db1.example");
    assert_string_equal(spec.ep[0].port, "5432");
    assert_string_equal(spec.ep[1].port, "5433");
    assert_null(spec.ep[1].region);
    dsql__spec_free(&spec);
}

static void expect_config_error(dsql_config *cfg, const char *needle)
{
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(spec_of(cfg, &spec, &err), DSQL_ECONFIG);
    if (!strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void lists_that_do_not_fit(void **state)
{
    (void)state;
    dsql_credentials_provider *prov = provider();
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.credentials = prov;
    cfg.auth = DSQL_AUTH_IAM;
    cfg.region = "us-east-1";
    cfg.host = "a.example,,b.example";
    expect_config_error(&cfg, "config: host 'a.example,,b.example' has an empty entry");
    cfg.host = "a,b,c,d,e,f,g,h,i";
    expect_config_error(&cfg, "config: host names more than 8 endpoints");
    cfg.host = "a.example,b.example";
    cfg.region = "us-east-1,us-east-2,us-west-2";
    expect_config_error(&cfg, "config: 3 regions for 2 endpoints: give one region per endpoint");
    cfg.region = "us-east-1";
    cfg.hostaddr = "127.0.0.1";
    expect_config_error(&cfg, "config: 1 addresses (hostaddr) for 2 endpoints");
    cfg.hostaddr = NULL;
    cfg.host = "a.example:5432,b.example:99999";
    expect_config_error(&cfg, "config: host 'b.example:99999': the port after ':' must be a number "
                              "from 1 to 65535");
    /* No region for the second endpoint anywhere: named with its place in the list. */
    cfg.region = NULL;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    cfg.host = ID ".dsql.us-east-1.on.aws,proxy.example";
    expect_config_error(&cfg, "config: endpoint 2 of 2 (proxy.example)");
    unsetenv("AWS_CONFIG_FILE");
    dsql_credentials_provider_free(prov);
}

static void conninfo_and_environment(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_parse(&cfg,
                                       "host=localhost:7001,localhost:7002 "
                                       "region=us-east-1,us-west-2 local_region=us-west-2",
                                       &err),
                     DSQL_OK);
    assert_string_equal(cfg.host, "localhost:7001,localhost:7002");
    assert_string_equal(cfg.region, "us-east-1,us-west-2");
    assert_string_equal(cfg.local_region, "us-west-2");
    dsql_config_clear(&cfg);

    /* A comma-separated CLUSTER_ENDPOINT keeps each endpoint's port with its host. */
    setenv("CLUSTER_ENDPOINT", "localhost:7001,localhost:7002", 1);
    setenv("CLUSTER_REGION", "us-east-1,us-west-2", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_string_equal(cfg.host, "localhost:7001,localhost:7002");
    assert_int_equal(cfg.port, 0);
    assert_int_equal(cfg.auth, DSQL_AUTH_IAM);
    dsql_credentials_provider *prov = provider();
    cfg.credentials = prov;
    dsql__spec spec;
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_int_equal(spec.nep, 2);
    assert_string_equal(spec.ep[1].port, "7002");
    assert_string_equal(spec.ep[1].region, "us-west-2");
    dsql__spec_free(&spec);
    dsql_config_clear(&cfg);
    unsetenv("CLUSTER_ENDPOINT");
    unsetenv("CLUSTER_REGION");
    dsql_credentials_provider_free(prov);
}

static void pool_failover_options(void **state)
{
    (void)state;
    dsql_pool_options o = DSQL_POOL_OPTIONS_INIT, r;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__pool_options_resolve(&o, &r, &err), DSQL_OK);
    assert_int_equal(r.failback_settle_ms, 60000);
    assert_int_equal(r.probe_interval_ms, 5000);
    o.failback_settle_ms = -1;
    o.probe_interval_ms = 10;
    assert_int_equal(dsql__pool_options_resolve(&o, &r, &err), DSQL_OK);
    assert_int_equal(r.failback_settle_ms, -1);
    assert_int_equal(r.probe_interval_ms, 10);
    o.failback_settle_ms = 5;
    assert_int_equal(dsql__pool_options_resolve(&o, &r, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "pool option failback_settle_ms must be -1 (never fail back), "
                                     "0 (default 60000) or at least 10, not 5");
    o.failback_settle_ms = 0;
    o.probe_interval_ms = -3;
    assert_int_equal(dsql__pool_options_resolve(&o, &r, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "pool option probe_interval_ms must be 0 (default 5000) or "
                                     "at least 10, not -3");
    /* The struct's size did not change: the new fields took reserved space. */
    assert_int_equal(sizeof(dsql_pool_options), 4 * 2 + 8 * 3 + 8 * 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_list_with_ports_and_regions),
        cmocka_unit_test(regions_from_host_names),
        cmocka_unit_test(auto_auth_over_a_list),
        cmocka_unit_test(lists_that_do_not_fit),
        cmocka_unit_test(conninfo_and_environment),
        cmocka_unit_test(pool_failover_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
