/*
 * IAM mode against the throwaway PostgreSQL.
 *
 * The server cannot check a SigV4 signature, so the tests check the password the library
 * hands to libpq instead: with a fixed signing time the expected token is recomputed with
 * dsql_token_generate, set as a SCRAM password of a real role (a member of dsql_scram,
 * which pg_hba sends through scram-sha-256), and the library must log in with it - SCRAM
 * only succeeds when the two strings are identical.
 *
 * The host is a DSQL-looking name (the token is signed for it) while hostaddr points at
 * 127.0.0.1. verify-full would then check the server certificate against the DSQL name,
 * which the throwaway server's certificate (CN=localhost) cannot carry, so these tests use
 * sslmode=require: still TLS, without the name check. Certificate verification itself is
 * covered by test_conn.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"
#include "iam_token.h"
#include "proxy.h"

static dsql_credentials_provider *creds;

static int setup(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_credentials_provider_static(
            "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, &creds, &err))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dsql_credentials_provider_free(creds);
    return 0;
}

static void iam_config(dsql_config *cfg, const char *user, int port)
{
    *cfg = (dsql_config)DSQL_CONFIG_INIT;
    cfg->host = IAM_CLUSTER;
    cfg->hostaddr = "127.0.0.1";
    cfg->port = port;
    cfg->user = user;
    cfg->sslmode = "require";
    cfg->credentials = creds;
    cfg->signing_time = IAM_SIGN_TIME;
}

static void token_is_the_password(void **state)
{
    (void)state;
    char role[64], schema[64], sql[2048];
    snprintf(role, sizeof role, "iam_user_%d", (int)getpid());
    snprintf(schema, sizeof schema, "iam_schema_%d", (int)getpid());
    char *token = iam_expected_token(creds, DSQL_TOKEN_DB_CONNECT, IAM_SIGN_TIME);
    assert_non_null(strstr(token,
                           IAM_CLUSTER "/?Action=DbConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                                       "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20231114%2Fus-"
                                       "east-1%2Fdsql%2Faws4_request&X-Amz-Date=20231114T221320Z"
                                       "&X-Amz-Expires=900"));
    PGconn *pg = admin_pg();
    char *lit = PQescapeLiteral(pg, token, strlen(token));
    snprintf(sql, sizeof sql,
             "CREATE ROLE %s LOGIN IN ROLE dsql_scram PASSWORD %s; CREATE SCHEMA %s "
             "AUTHORIZATION %s",
             role, lit, schema, role);
    PQfreemem(lit);
    pg_ok(pg, sql);

    log_capture cap;
    cap_init(&cap);
    dsql_config cfg;
    iam_config(&cfg, role, atoi(tu_env("PGPORT")));
    cfg.schema = schema;
    cfg.log = cap_log;
    cfg.log_ctx = &cap;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    dsql_result *res;
    assert_dsql_ok(dsql_conn_query(conn,
                                   "SELECT current_user, current_schema(), "
                                   "current_setting('application_name'), "
                                   "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
                                   NULL, 0, &res, &err),
                   err);
    assert_string_equal(dsql_result_text(res, 0, 0), role);
    assert_string_equal(dsql_result_text(res, 0, 1), schema);
    char app[64];
    snprintf(app, sizeof app, "libdsql/%s", dsql_version());
    assert_string_equal(dsql_result_text(res, 0, 2), app);
    assert_string_equal(dsql_result_text(res, 0, 3), "t");
    dsql_result_free(res);
    dsql_conn_close(conn);
    assert_true(cap_has(&cap, "Connected to " IAM_CLUSTER ":"));
    assert_true(cap_has(&cap, "(IAM token, DbConnect, TLS on)"));

    /* A token signed a second later is a different password: the server refuses it. */
    cfg.signing_time = IAM_SIGN_TIME + 1;
    assert_int_equal(dsql_conn_open(&cfg, &conn, &err), DSQL_EAUTH);
    assert_non_null(strstr(err.message, "password authentication failed for user"));
    assert_null(strstr(err.message, "X-Amz"));

    /* The token never reaches a log line or an error message. */
    assert_false(cap_has(&cap, token));
    assert_false(cap_has(&cap, "X-Amz-Signature"));
    assert_false(cap_has(&cap, "wJalrXUtnFEMI"));
    cap_free(&cap);
    dsql_token_free(token);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s; DROP ROLE %s", schema, role);
    pg_ok(pg, sql);
    PQfinish(pg);
}

/* A PGHOSTADDR left in the environment (here: the throwaway server's, which would accept
 * the connection) must not redirect an IAM connection for the endpoint: the endpoint's own
 * name is resolved instead, and this one does not exist. */
static void pghostaddr_env_is_ignored(void **state)
{
    (void)state;
    setenv("PGHOSTADDR", "127.0.0.1", 1);
    dsql_config cfg;
    iam_config(&cfg, "admin", atoi(tu_env("PGPORT")));
    cfg.hostaddr = NULL;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_conn_open(&cfg, &conn, &err);
    assert_int_equal(rc, DSQL_ECONNECT);
    assert_null(conn);
    assert_non_null(strstr(err.message, "could not connect to " IAM_CLUSTER ":"));
    assert_non_null(strstr(err.message, "cannot resolve the host name"));
    assert_non_null(strstr(err.message, "PGHOSTADDR in the environment is ignored"));
}

static void iam_config_errors(void **state)
{
    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", 1);
    static const struct {
        dsql_config cfg;
        const char *msg;
    } cases[] = {
        {{.host = "db.internal", .auth = DSQL_AUTH_IAM}, "no AWS region found"},
        {{.auth = DSQL_AUTH_IAM, .region = "us-east-1"},
         "IAM authentication needs the cluster "
         "endpoint"},
        {{.host = IAM_CLUSTER, .sslmode = "disable"},
         "sslmode 'disable' would let the IAM token "
         "travel unencrypted"},
        {{.host = IAM_CLUSTER, .sslmode = "prefer"}, "sslmode 'prefer'"},
        {{.host = IAM_CLUSTER, .password = "pw"}, "a password is set but auth is IAM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsql_conn *conn = NULL;
        dsql_error err = DSQL_ERROR_INIT;
        int rc = dsql_conn_open(&cases[i].cfg, &conn, &err);
        if (rc != DSQL_ECONFIG || !strstr(err.message, cases[i].msg)) {
            print_error("case %zu: %s '%s'\n", i, dsql_status_name(rc), err.message);
            fail();
        }
    }
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

/* A pool mints one token per physical connection; none reaches the log. */
static void pool_mints_per_connection(void **state)
{
    (void)state;
    log_capture cap;
    cap_init(&cap);
    dsql_config cfg;
    iam_config(&cfg, "postgres", atoi(tu_env("PGPORT"))); /* trust: any token is accepted */
    cfg.log = cap_log;
    cfg.log_ctx = &cap;
    dsql_pool *pool;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_open(&cfg, NULL, &pool, &err), err);
    dsql_conn *c[3];
    for (int i = 0; i < 3; i++)
        assert_dsql_ok(dsql_pool_acquire(pool, &c[i], &err), err);
    for (int i = 0; i < 3; i++) {
        assert_dsql_ok(dsql_conn_query(c[i], "SELECT 1", NULL, 0, NULL, &err), err);
        dsql_pool_release(pool, c[i]);
    }
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.connects, 3);
    assert_int_equal(st.token_mints, 3);
    dsql_pool_close(pool);
    char *token = iam_expected_token(creds, DSQL_TOKEN_DB_CONNECT, IAM_SIGN_TIME);
    assert_false(cap_has(&cap, token));
    assert_false(cap_has(&cap, "X-Amz"));
    assert_int_equal(cap_count(&cap, "(IAM token, DbConnect, TLS on)"), 3);
    dsql_token_free(token);
    cap_free(&cap);
}

/* The default chain of a connection reads the shared files; what it ignores there is
 * warned about through dsql_config.log. */
static void shared_file_warnings_reach_the_log(void **state)
{
    (void)state;
    char dir[] = "/tmp/dsql-iam-test.XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/credentials", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[profile dev]\naws_access_key_id = WRONG\n"
          "[dev]\nAWS_ACCESS_KEY_ID = AKIAIOSFODNN7EXAMPLE\n"
          "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
          f);
    fclose(f);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    log_capture cap;
    cap_init(&cap);
    dsql_config cfg;
    iam_config(&cfg, "postgres", atoi(tu_env("PGPORT"))); /* trust: any token is accepted */
    cfg.credentials = NULL;
    cfg.profile = "dev";
    cfg.log = cap_log;
    cfg.log_ctx = &cap;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_conn_open(&cfg, &conn, &err), err);
    dsql_conn_close(conn);
    char want[512];
    snprintf(want, sizeof want,
             "AWS shared files: %s line 1: profile [profile dev] ignored: in the credentials "
             "file a profile is [NAME], without the \"profile \" prefix",
             path);
    assert_int_equal(cap_count(&cap, want), 1);
    assert_false(cap_has(&cap, "wJalrXUtnFEMI"));
    cap_free(&cap);
    unlink(path);
    rmdir(dir);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
}

/* ---- server refusals, scripted through a proxy ---- */

static dsql_pool *proxied_pool(proxy *px, log_capture *cap, int64_t acquire_ms)
{
    static char tls_dir[4096];
    snprintf(tls_dir, sizeof tls_dir, "%s/tls", tu_env("LOCALPG_SOCKET_DIR"));
    px->tls_dir = tls_dir;
    assert_true(proxy_start(px, atoi(tu_env("PGPORT"))));
    dsql_config cfg;
    iam_config(&cfg, "postgres", px->port);
    cfg.log = cap_log;
    cfg.log_ctx = cap;
    dsql_pool_options o = {.acquire_timeout_ms = acquire_ms};
    dsql_pool *pool;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_open(&cfg, &o, &pool, &err), err);
    return pool;
}

static void access_denied_is_clear(void **state)
{
    (void)state;
    proxy px = {.nreject = 1,
                .reject = {{"28000", "unable to accept connection, access denied", NULL}}};
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = proxied_pool(&px, &cap, 5000);
    dsql_conn *c;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_pool_acquire(pool, &c, &err), DSQL_EAUTH);
    assert_non_null(strstr(err.message, "access denied: check that the IAM identity is allowed "
                                        "dsql:DbConnect on this cluster and that the region "
                                        "'us-east-1' is the cluster's region"));
    assert_int_equal(atomic_load(&px.accepted), 1); /* not retried */
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.open, 0);
    dsql_pool_close(pool);
    proxy_stop(&px);
    assert_false(cap_has(&cap, "X-Amz"));
    cap_free(&cap);
}

static void expired_signature_resigned_once(void **state)
{
    (void)state;
    proxy px = {
        .nreject = 1,
        .reject = {{"28000", "unable to accept connection, access denied", "Signature expired"}}};
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = proxied_pool(&px, &cap, 5000);
    dsql_conn *c;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    dsql_pool_release(pool, c);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.token_mints, 2);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.failures, 1);
    assert_true(cap_has(&cap, "token signature expired; signing a new token once"));
    dsql_pool_close(pool);
    proxy_stop(&px);

    /* Twice in a row: reported, not retried forever. */
    proxy px2 = {
        .nreject = 3,
        .reject = {{"28000", "unable to accept connection, access denied", "Signature expired"},
                   {"28000", "unable to accept connection, access denied", "Signature expired"},
                   {"28000", "unable to accept connection, access denied", "Signature expired"}}};
    pool = proxied_pool(&px2, &cap, 5000);
    assert_int_equal(dsql_pool_acquire(pool, &c, &err), DSQL_EAUTH);
    assert_non_null(strstr(err.message, "the token's signature expired (is the system clock "
                                        "right?)"));
    assert_int_equal(atomic_load(&px2.accepted), 2);
    dsql_pool_close(pool);
    proxy_stop(&px2);
    cap_free(&cap);
}

static void waking_up_and_rate_limit_retried(void **state)
{
    (void)state;
    proxy px = {.nreject = 2,
                .reject = {{"08006",
                            "unable to accept connection, waking up cluster, please "
                            "retry later",
                            NULL},
                           {"53400", "unable to accept connection, rate exceeded", NULL}}};
    log_capture cap;
    cap_init(&cap);
    dsql_pool *pool = proxied_pool(&px, &cap, 10000);
    dsql_conn *c;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_acquire(pool, &c, &err), err);
    assert_dsql_ok(dsql_conn_query(c, "SELECT 1", NULL, 0, NULL, &err), err);
    dsql_pool_release(pool, c);
    dsql_pool_stats st;
    dsql_pool_get_stats(pool, &st);
    assert_int_equal(st.failures, 2);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.token_mints, 3); /* a fresh token for every attempt */
    assert_int_equal(cap_count(&cap, "refused for now"), 2);
    dsql_pool_close(pool);
    proxy_stop(&px);

    /* Still refused when the acquire timeout runs out: the last refusal is reported. */
    proxy px2 = {.nreject = 8};
    for (int i = 0; i < 8; i++)
        px2.reject[i] = (px_reject){"53300", "too many connections", NULL};
    pool = proxied_pool(&px2, &cap, 400);
    assert_int_equal(dsql_pool_acquire(pool, &c, &err), DSQL_ECONNECT);
    assert_non_null(strstr(err.message, "too many connections"));
    assert_in_range(atomic_load(&px2.accepted), 2, 4); /* 100 ms, 200 ms, then out of time */
    dsql_pool_close(pool);
    proxy_stop(&px2);
    cap_free(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_is_the_password),
        cmocka_unit_test(shared_file_warnings_reach_the_log),
        cmocka_unit_test(iam_config_errors),
        cmocka_unit_test(pghostaddr_env_is_ignored),
        cmocka_unit_test(pool_mints_per_connection),
        cmocka_unit_test(access_denied_is_clear),
        cmocka_unit_test(expired_signature_resigned_once),
        cmocka_unit_test(waking_up_and_rate_limit_retried),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
