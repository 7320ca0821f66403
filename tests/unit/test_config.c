/* dsql_config: conninfo parsing, the environment, resolution into a connect spec. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn/private.h"
#include "iam_token.h"
#include "dsql/dsql.h"

static const char *const env_vars[] = {
    "CLUSTER_ENDPOINT",
    "CLUSTER_REGION",
    "REGION",
    "CLUSTER_USER",
    "AWS_PROFILE",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
    "DSQL_QUERY_TIMEOUT_MS",
    "DSQL_LOG_PARAMETERS",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    return 0;
}

static void parse_all_keywords(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_parse(&cfg,
                                       "host=db.example port=6543 dbname=app user=alice "
                                       "password='it\\'s' auth=password region=eu-west-1 "
                                       "profile=dev expires_in=300 schema=myschema "
                                       "application_name=myapp sslmode=require "
                                       "sslrootcert=/tmp/ca.pem connect_timeout=7 "
                                       "hostaddr=10.0.0.1 query_timeout_ms=2500",
                                       &err),
                     DSQL_OK);
    assert_string_equal(cfg.host, "db.example");
    assert_string_equal(cfg.hostaddr, "10.0.0.1");
    assert_int_equal(cfg.port, 6543);
    assert_string_equal(cfg.database, "app");
    assert_string_equal(cfg.user, "alice");
    assert_int_equal(cfg.auth, DSQL_AUTH_PASSWORD);
    assert_string_equal(cfg.region, "eu-west-1");
    assert_string_equal(cfg.profile, "dev");
    assert_int_equal(cfg.expires_in, 300);
    assert_string_equal(cfg.schema, "myschema");
    assert_string_equal(cfg.application_name, "myapp");
    assert_string_equal(cfg.sslmode, "require");
    assert_string_equal(cfg.sslrootcert, "/tmp/ca.pem");
    assert_int_equal(cfg.connect_timeout_s, 7);
    assert_int_equal(cfg.query_timeout_ms, 2500);
    assert_string_equal(cfg.password, "it's");
    dsql_config_clear(&cfg);
    assert_null(cfg.host);
    assert_null(cfg.owned_);
}

static void parse_quotes_and_escapes(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_parse(&cfg,
                                       "  password = 'a b\\'c\\\\d'  schema=my\\ schema "
                                       "database = 'x' user=''",
                                       &err),
                     DSQL_OK);
    assert_string_equal(cfg.password, "a b'c\\d");
    assert_string_equal(cfg.schema, "my schema");
    assert_string_equal(cfg.database, "x");
    assert_null(cfg.user); /* empty = default */
    /* A later parse only changes what it names. */
    assert_int_equal(dsql_config_parse(&cfg, "user=bob", &err), DSQL_OK);
    assert_string_equal(cfg.user, "bob");
    assert_string_equal(cfg.database, "x");
    dsql_config_clear(&cfg);
    assert_int_equal(dsql_config_parse(&cfg, "", &err), DSQL_OK);
    assert_null(cfg.host);
    dsql_config_clear(&cfg);
}

static void parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int status;
        const char *msg;
    } cases[] = {
        {"host=a colour=blue", DSQL_EPARSE, "unknown keyword 'colour'"},
        {"host", DSQL_EPARSE, "missing '=' after keyword 'host'"},
        {"host a", DSQL_EPARSE, "missing '=' after keyword 'host'"},
        {"=x", DSQL_EPARSE, "'=' without a keyword"},
        {"password='abc", DSQL_EPARSE, "unterminated quoted value for 'password'"},
        {"host='a'b", DSQL_EPARSE, "text right after the quoted value of 'host'"},
        {"port=0", DSQL_EPARSE, "port must be a number from 1 to 65535, not '0'"},
        {"port=70000", DSQL_EPARSE, "port must be a number from 1 to 65535, not '70000'"},
        {"port=12x", DSQL_EPARSE, "not '12x'"},
        {"port=", DSQL_EPARSE, "port must be a number"},
        {"expires_in=0", DSQL_EPARSE, "expires_in must be a number of seconds from 1 to 604800"},
        {"expires_in=604801", DSQL_EPARSE, "not '604801'"},
        {"expires_in=-5", DSQL_EPARSE, "not '-5'"},
        {"connect_timeout=-1", DSQL_EPARSE, "connect_timeout must be"},
        {"query_timeout_ms=-1", DSQL_EPARSE,
         "query_timeout_ms must be a number of milliseconds from 0 (default 60000) to "
         "86400000, not '-1'"},
        {"query_timeout_ms=86400001", DSQL_EPARSE, "not '86400001'"},
        {"query_timeout_ms=5s", DSQL_EPARSE, "not '5s'"},
        {"auth=kerberos", DSQL_EPARSE, "auth must be 'iam', 'password' or 'auto', not 'kerberos'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_config cfg = DSQL_CONFIG_INIT;
        cfg.host = "kept";
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql_config_parse(&cfg, cases[i].in, &err);
        if (rc != cases[i].status || !strstr(err.message, cases[i].msg)) {
            print_error("input '%s': got %s '%s'\n", cases[i].in, dsql_status_name(rc),
                        err.message);
            fail();
        }
        /* A failed parse changes nothing. */
        assert_string_equal(cfg.host, "kept");
        assert_int_equal(cfg.port, 0);
        dsql_config_clear(&cfg);
    }
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_parse(NULL, "", &err), DSQL_EINVAL);
    dsql_config cfg = DSQL_CONFIG_INIT;
    assert_int_equal(dsql_config_parse(&cfg, NULL, &err), DSQL_EINVAL);
}

static void env_cluster(void **state)
{
    (void)state;
    setenv("CLUSTER_ENDPOINT", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", 1);
    setenv("REGION", "us-west-2", 1);
    setenv("CLUSTER_REGION", "us-east-1", 1);
    setenv("CLUSTER_USER", "app_user", 1);
    setenv("PGHOST", "should-not-be-used", 1);
    setenv("PGHOSTADDR", "127.0.0.9", 1);
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_string_equal(cfg.host, "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws");
    assert_string_equal(cfg.region, "us-east-1"); /* CLUSTER_REGION wins over REGION */
    assert_string_equal(cfg.user, "app_user");
    assert_null(cfg.hostaddr);
    assert_int_equal(cfg.auth, DSQL_AUTH_IAM);
    assert_int_equal(cfg.query_timeout_ms, 0); /* unset: the default */
    dsql_config_clear(&cfg);
    setenv("DSQL_QUERY_TIMEOUT_MS", "15000", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.query_timeout_ms, 15000);
    dsql_config_clear(&cfg);
    cfg.query_timeout_ms = 700; /* set by code: kept */
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.query_timeout_ms, 700);
    dsql_config_clear(&cfg);
    setenv("DSQL_QUERY_TIMEOUT_MS", "soon", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_EPARSE);
    assert_non_null(strstr(err.message, "environment variable DSQL_QUERY_TIMEOUT_MS: "
                                        "query_timeout_ms must be a number of milliseconds"));
    dsql_config_clear(&cfg);
    unsetenv("DSQL_QUERY_TIMEOUT_MS");

    /* A cluster reached through a name of its own (CNAME, VPC endpoint): still IAM, so a
     * missing region is reported instead of a password being tried. */
    setenv("CLUSTER_ENDPOINT", "db.internal.example", 1);
    unsetenv("CLUSTER_REGION");
    unsetenv("REGION");
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_string_equal(cfg.host, "db.internal.example");
    assert_int_equal(cfg.auth, DSQL_AUTH_IAM);
    dsql_config_clear(&cfg);
    /* A host or auth mode set by code is the caller's choice. */
    cfg.host = "localhost";
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.auth, DSQL_AUTH_AUTO);
    dsql_config_clear(&cfg);
    cfg.auth = DSQL_AUTH_PASSWORD;
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.auth, DSQL_AUTH_PASSWORD);
    dsql_config_clear(&cfg);
    setenv("CLUSTER_ENDPOINT", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", 1);
    setenv("CLUSTER_REGION", "us-east-1", 1);
    setenv("REGION", "us-west-2", 1);

    unsetenv("CLUSTER_REGION");
    cfg.user = "explicit";
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_string_equal(cfg.region, "us-west-2");
    assert_string_equal(cfg.user, "explicit"); /* set fields are kept */
    dsql_config_clear(&cfg);
}

static void env_postgres(void **state)
{
    (void)state;
    setenv("PGHOST", "localhost", 1);
    setenv("PGHOSTADDR", "127.0.0.1", 1);
    setenv("PGPORT", "6000", 1);
    setenv("PGDATABASE", "postgres", 1);
    setenv("PGUSER", "pguser", 1);
    setenv("PGPASSWORD", "pw", 1);
    setenv("PGSSLMODE", "verify-full", 1);
    setenv("PGSSLROOTCERT", "/ca.crt", 1);
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_string_equal(cfg.host, "localhost");
    assert_string_equal(cfg.hostaddr, "127.0.0.1");
    assert_int_equal(cfg.port, 6000);
    assert_string_equal(cfg.user, "pguser");
    assert_string_equal(cfg.password, "pw");
    assert_string_equal(cfg.sslmode, "verify-full");
    assert_string_equal(cfg.sslrootcert, "/ca.crt");
    assert_int_equal(cfg.auth, DSQL_AUTH_AUTO);
    assert_int_equal(cfg.query_timeout_ms, 0);
    dsql_config_clear(&cfg);
    setenv("DSQL_QUERY_TIMEOUT_MS", "1234", 1); /* plain PostgreSQL reads it too */
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.query_timeout_ms, 1234);
    dsql_config_clear(&cfg);
    unsetenv("DSQL_QUERY_TIMEOUT_MS");

    setenv("PGPORT", "port", 1);
    cfg.host = "kept";
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_EPARSE);
    assert_non_null(strstr(err.message, "environment variable PGPORT"));
    assert_string_equal(cfg.host, "kept");
    assert_null(cfg.user); /* nothing applied */
    dsql_config_clear(&cfg);
}

static void env_half_set(void **state)
{
    (void)state;
    setenv("CLUSTER_REGION", "us-east-1", 1);
    setenv("PGHOST", "localhost", 1);
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_ECONFIG);
    assert_non_null(strstr(err.message, "CLUSTER_REGION is set but CLUSTER_ENDPOINT is not"));
    assert_null(cfg.host);
    unsetenv("CLUSTER_REGION");
    setenv("CLUSTER_USER", "bob", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_ECONFIG);
    assert_non_null(strstr(err.message, "CLUSTER_USER is set but CLUSTER_ENDPOINT is not"));
    dsql_config_clear(&cfg);
}

static void spec_defaults_and_options(void **state)
{
    (void)state;
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = "localhost";
    cfg.auth = DSQL_AUTH_PASSWORD;
    cfg.schema = "My Schema\\x";
    cfg.application_name = "petclinic";
    cfg.sslrootcert = "/some/ca.crt";
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_false(spec.iam);
    assert_string_equal(spec.ep[0].port, "5432");
    assert_string_equal(spec.database, "postgres");
    assert_string_equal(spec.user, "admin");
    assert_string_equal(spec.sslmode, "verify-full");
    assert_string_equal(spec.sslrootcert, "/some/ca.crt");
    assert_int_equal(spec.connect_timeout_s, 10);
    assert_int_equal(spec.query_timeout_ms, DSQL_QUERY_TIMEOUT_DEFAULT_MS);
    /* search_path value quoted as an identifier, then escaped for the options syntax */
    assert_string_equal(spec.options, "-c search_path=\"My\\ Schema\\\\x\"");
    char app[64];
    snprintf(app, sizeof app, "petclinic:libdsql/%s", dsql_version());
    assert_string_equal(spec.application_name, app);
    assert_false(spec.sslnegotiation_direct);
    dsql__spec_free(&spec);

    cfg.schema = "myschema";
    cfg.application_name = NULL;
    cfg.sslrootcert = NULL;
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_string_equal(spec.options, "-c search_path=myschema");
    snprintf(app, sizeof app, "libdsql/%s", dsql_version());
    assert_string_equal(spec.application_name, app);
    /* libpq < 16: the system bundle file; libpq >= 16 (verify-full): "system" */
    assert_string_equal(spec.sslrootcert,
                        PQlibVersion() >= 160000 ? "system" : "/etc/ssl/certs/ca-certificates.crt");
    dsql__spec_free(&spec);
    /* verify-ca: always the bundle file (libpq refuses "system" below verify-full) */
    cfg.sslmode = "verify-ca";
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_string_equal(spec.sslrootcert, "/etc/ssl/certs/ca-certificates.crt");
    dsql__spec_free(&spec);

    cfg.sslmode = "disable";
    assert_int_equal(dsql__spec_init(&spec, &cfg, &err), DSQL_OK);
    assert_null(spec.sslrootcert);
    dsql__spec_free(&spec);
}

static void spec_errors(void **state)
{
    (void)state;
    static const struct {
        dsql_config cfg;
        int status;
        const char *msg;
    } cases[] = {
        {{.sslmode = "verify-everything"}, DSQL_ECONFIG, "sslmode 'verify-everything' is not"},
        {{.port = -1}, DSQL_ECONFIG, "port -1 is out of range"},
        {{.port = 65536}, DSQL_ECONFIG, "port 65536 is out of range"},
        {{.expires_in = 604801}, DSQL_ECONFIG, "expires_in must be 1..604800"},
        {{.expires_in = -1}, DSQL_ECONFIG, "expires_in must be"},
        {{.connect_timeout_s = -3}, DSQL_ECONFIG, "connect_timeout_s must not be negative"},
        {{.query_timeout_ms = -5},
         DSQL_ECONFIG,
         "query_timeout_ms must be 0 (default 60000) to 86400000 milliseconds, not -5"},
        {{.query_timeout_ms = 86400001}, DSQL_ECONFIG, "not 86400001"},
        {{.user = ""}, DSQL_ECONFIG, "user is empty"},
        {{.auth = (dsql_auth_mode)7}, DSQL_EINVAL, "auth mode 7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql__spec spec;
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql__spec_init(&spec, &cases[i].cfg, &err);
        if (rc != cases[i].status || !strstr(err.message, cases[i].msg)) {
            print_error("case %zu: got %s '%s'\n", i, dsql_status_name(rc), err.message);
            fail();
        }
    }
}

/* log_parameters: off by default; on, off or a size from a conninfo string, the environment
 * or code; resolved into the bytes of each value the log shows. */
static void log_parameters_option(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int want;
    } ok[] = {{"log_parameters=on", 1},    {"log_parameters=true", 1},
              {"log_parameters=off", 0},   {"log_parameters=no", 0},
              {"log_parameters=0", 0},     {"log_parameters=1", 1},
              {"log_parameters=200", 200}, {"log_parameters=1048576", 1048576}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        dsql_config cfg = DSQL_CONFIG_INIT;
        dsql_error err = DSQL_ERROR_INIT;
        cfg.log_parameters = 7;
        assert_int_equal(dsql_config_parse(&cfg, ok[i].in, &err), DSQL_OK);
        assert_int_equal(cfg.log_parameters, ok[i].want);
        dsql_config_clear(&cfg);
    }
    static const char *const bad[] = {"log_parameters=1048577", "log_parameters=-1",
                                      "log_parameters=maybe", "log_parameters="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dsql_config cfg = DSQL_CONFIG_INIT;
        dsql_error err = DSQL_ERROR_INIT;
        assert_int_equal(dsql_config_parse(&cfg, bad[i], &err), DSQL_EPARSE);
        assert_non_null(strstr(err.message, "connection string, keyword 'log_parameters': "
                                            "log_parameters must be off, on (values cut after 64 "
                                            "bytes) or the bytes of each value shown, up to "
                                            "1048576; not '"));
        assert_int_equal(cfg.log_parameters, 0);
        dsql_config_clear(&cfg);
    }
    /* the environment, for a cluster and for plain PostgreSQL; code wins */
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    setenv("PGHOST", "localhost", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.log_parameters, 0); /* off unless asked */
    dsql_config_clear(&cfg);
    setenv("DSQL_LOG_PARAMETERS", "on", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.log_parameters, 1);
    dsql_config_clear(&cfg);
    setenv("CLUSTER_ENDPOINT", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", 1);
    setenv("DSQL_LOG_PARAMETERS", "300", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_OK);
    assert_int_equal(cfg.log_parameters, 300);
    dsql_config_clear(&cfg);
    setenv("DSQL_LOG_PARAMETERS", "loud", 1);
    assert_int_equal(dsql_config_from_env(&cfg, &err), DSQL_EPARSE);
    assert_non_null(strstr(err.message, "environment variable DSQL_LOG_PARAMETERS: "
                                        "log_parameters must be off, on"));
    dsql_config_clear(&cfg);
    unsetenv("DSQL_LOG_PARAMETERS");
    unsetenv("CLUSTER_ENDPOINT");
    unsetenv("PGHOST");

    /* resolved: 1 is the default cut, a number its own; out of range refused */
    dsql_config c2 = DSQL_CONFIG_INIT;
    c2.host = "localhost";
    c2.auth = DSQL_AUTH_PASSWORD;
    c2.sslmode = "disable";
    dsql__spec spec;
    assert_int_equal(dsql__spec_init(&spec, &c2, &err), DSQL_OK);
    assert_int_equal(spec.log_params, 0);
    dsql__spec_free(&spec);
    c2.log_parameters = 1;
    assert_int_equal(dsql__spec_init(&spec, &c2, &err), DSQL_OK);
    assert_int_equal(spec.log_params, DSQL_LOG_VALUE_MAX);
    dsql__spec_free(&spec);
    c2.log_parameters = 500;
    assert_int_equal(dsql__spec_init(&spec, &c2, &err), DSQL_OK);
    assert_int_equal(spec.log_params, 500);
    dsql__spec_free(&spec);
    c2.log_parameters = -3;
    assert_int_equal(dsql__spec_init(&spec, &c2, &err), DSQL_ECONFIG);
    assert_string_equal(err.message, "config: log_parameters must be 0 (off), 1 (on, values cut "
                                     "after 64 bytes) or the bytes of each value shown, up to "
                                     "1048576; not -3");
}

/* IAM: the action follows the user (admin: DbConnectAdmin), the token minted for the
 * connection is the one dsql_token_generate gives, AUTO picks IAM for a DSQL host. */
static void spec_iam_actions(void **state)
{
    (void)state;
    dsql_credentials_provider *creds = NULL;
    dsql_error perr = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_credentials_provider_static("AKIAIOSFODNN7EXAMPLE",
                                                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                    NULL, &creds, &perr),
                   perr);
    static const struct {
        const char *user;
        dsql_token_action action;
    } cases[] = {
        {"admin", DSQL_TOKEN_DB_CONNECT_ADMIN},
        {"Admin", DSQL_TOKEN_DB_CONNECT}, /* exact, case-sensitive */
        {"app_user", DSQL_TOKEN_DB_CONNECT},
        {NULL, DSQL_TOKEN_DB_CONNECT_ADMIN}, /* the default user is admin */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_config cfg = DSQL_CONFIG_INIT;
        cfg.host = IAM_CLUSTER;
        cfg.hostaddr = "127.0.0.1";
        cfg.port = 5432;
        cfg.user = cases[i].user;
        cfg.sslmode = "require";
        cfg.credentials = creds;
        cfg.signing_time = IAM_SIGN_TIME;
        dsql__spec spec;
        dsql_error err = DSQL_ERROR_INIT;
        assert_dsql_ok(dsql__spec_init(&spec, &cfg, &err), err);
        assert_true(spec.iam);
        assert_int_equal(spec.action, cases[i].action);
        assert_string_equal(spec.ep[0].region, "us-east-1");
        char *token = NULL;
        assert_dsql_ok(dsql__spec_mint_token(&spec, &spec.ep[0], &token, &err), err);
        char *want = iam_expected_token(creds, cases[i].action, IAM_SIGN_TIME);
        assert_string_equal(token, want);
        assert_non_null(strstr(token, cases[i].action == DSQL_TOKEN_DB_CONNECT_ADMIN
                                          ? "/?Action=DbConnectAdmin&"
                                          : "/?Action=DbConnect&"));
        dsql_token_free(want);
        dsql__token_free(token);
        dsql__spec_free(&spec);
    }
    /* AUTO picks IAM for a DSQL host or an explicit region, password otherwise. */
    dsql_config cfg = DSQL_CONFIG_INIT;
    cfg.host = IAM_CLUSTER;
    cfg.credentials = creds;
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql__spec_init(&spec, &cfg, &err), err);
    assert_true(spec.iam);
    assert_string_equal(spec.sslmode, "verify-full");
    assert_string_equal(spec.sslrootcert, "/etc/ssl/certs/ca-certificates.crt");
    assert_false(spec.sslnegotiation_direct); /* libpq 15 */
    dsql__spec_free(&spec);
    /* A bare cluster id is expanded with the region. */
    cfg.host = "abcdefghijklmnopqrstuvwxy0";
    cfg.region = "eu-west-1";
    assert_dsql_ok(dsql__spec_init(&spec, &cfg, &err), err);
    assert_string_equal(spec.ep[0].host, "abcdefghijklmnopqrstuvwxy0.dsql.eu-west-1.on.aws");
    dsql__spec_free(&spec);
    cfg.host = "localhost";
    cfg.region = NULL;
    assert_dsql_ok(dsql__spec_init(&spec, &cfg, &err), err);
    assert_false(spec.iam);
    dsql__spec_free(&spec);
    dsql_credentials_provider_free(creds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_all_keywords),
        cmocka_unit_test(parse_quotes_and_escapes),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test_setup(env_cluster, clear_env),
        cmocka_unit_test_setup(env_postgres, clear_env),
        cmocka_unit_test_setup(env_half_set, clear_env),
        cmocka_unit_test(spec_defaults_and_options),
        cmocka_unit_test(spec_errors),
        cmocka_unit_test_setup(log_parameters_option, clear_env),
        cmocka_unit_test_setup(spec_iam_actions, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
