/* Credential providers: static, custom (caching, refresh ahead of expiry, errors), the
 * environment, and static keys in the shared files. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "authtest.h"
#include "auth/ini.h"
#include "auth/internal.h"
#include "dsql/auth.h"

static int setup(void **state)
{
    (void)state;
    at_clean_env();
    return 0;
}

static void get_ok(dsql_credentials_provider *p, const char *akid, const char *secret,
                   const char *token, const char *source)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_credentials_provider_get(p, &c, &err);
    if (rc != DSQL_OK)
        print_error("%s\n", err.message);
    assert_int_equal(rc, DSQL_OK);
    assert_string_equal(c.access_key_id, akid);
    assert_string_equal(c.secret_access_key, secret);
    if (token)
        assert_string_equal(c.session_token, token);
    else
        assert_null(c.session_token);
    assert_string_equal(c.source, source);
    dsql_credentials_clear(&c);
}

static void get_err(dsql_credentials_provider *p, int status, const char *msg)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_credentials_provider_get(p, &c, &err), status);
    assert_int_equal(err.status, status);
    assert_null(c.access_key_id);
    assert_contains(err.message, msg);
}

static void test_static(void **state)
{
    (void)state;
    dsql_credentials_provider *p = NULL;
    assert_int_equal(dsql_credentials_provider_static("AK", "SK", "ST", &p, NULL), DSQL_OK);
    get_ok(p, "AK", "SK", "ST", "static");
    get_ok(p, "AK", "SK", "ST", "static");
    dsql_credentials_provider_free(p);
    dsql_credentials_provider_free(NULL);
    dsql_error err = DSQL_ERROR_INIT;
    p = (dsql_credentials_provider *)&err;
    assert_int_equal(dsql_credentials_provider_static("AK", "", NULL, &p, &err), DSQL_EINVAL);
    assert_null(p);
    assert_string_equal(err.message, "dsql_credentials_provider_static: static credentials: "
                                     "credentials: the secret access key is empty");
}

typedef struct script {
    int calls;
    int status;        /* what the callback returns */
    time_t expires_in; /* 0: long-term; else now + this (may be negative) */
    time_t last_exp;   /* the expiration the callback gave last */
} script;

static int callback(void *ctx, dsql_credentials *out, dsql_error *err)
{
    script *s = ctx;
    s->calls++;
    if (s->status != DSQL_OK)
        return dsql_error_set(err, s->status, "my vault is sealed (call %d)", s->calls);
    char akid[32];
    snprintf(akid, sizeof akid, "AK%d", s->calls);
    s->last_exp = s->expires_in ? time(NULL) + s->expires_in : 0;
    return dsql_credentials_set(out, akid, "SK", "ST", s->last_exp, err);
}

static void test_custom_caching(void **state)
{
    (void)state;
    script s = {0, DSQL_OK, 3600, 0};
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_ok(p, "AK1", "SK", "ST", "custom");
    get_ok(p, "AK1", "SK", "ST", "custom"); /* an hour left: from the cache */
    assert_int_equal(s.calls, 1);
    dsql_credentials_provider_free(p);

    /* 4 minutes left (< 5 min refresh window): refreshed half way, so the next call is
     * still served from the cache. */
    s = (script){0, DSQL_OK, 240, 0};
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_ok(p, "AK1", "SK", "ST", "custom");
    get_ok(p, "AK1", "SK", "ST", "custom");
    assert_int_equal(s.calls, 1);
    dsql_credentials_provider_free(p);

    /* Refreshed ahead of expiry: 5 minutes before it, and up to a minute earlier (jitter,
     * so that processes started together do not refresh together). */
    time_t offsets[16];
    bool jittered = false;
    for (int i = 0; i < 16; i++) {
        s = (script){0, DSQL_OK, i % 2 ? 3600 : 400, 0};
        assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
        get_ok(p, "AK1", "SK", "ST", "custom");
        time_t at = dsql__provider_refresh_at(p);
        assert_true(at <= s.last_exp - 300);
        assert_true(at > s.last_exp - 360);
        offsets[i] = s.last_exp - at;
        jittered |= offsets[i] != offsets[0];
        dsql_credentials_provider_free(p);
    }
    assert_true(jittered);

    /* Never handed out within a minute of expiry: a refresh that fails then is an error. */
    s = (script){0, DSQL_OK, 50, 0};
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_ok(p, "AK1", "SK", "ST", "custom");
    s.status = DSQL_ECREDENTIALS;
    dsql__provider_force_refresh(p);
    get_err(p, DSQL_ECREDENTIALS, "my vault is sealed (call 2)");
    dsql_credentials_provider_free(p);
    s = (script){0, DSQL_OK, 120, 0};
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_ok(p, "AK1", "SK", "ST", "custom");
    s.status = DSQL_ECREDENTIALS;
    dsql__provider_force_refresh(p);
    get_ok(p, "AK1", "SK", "ST", "custom"); /* two minutes left: the cache still serves */
    assert_int_equal(s.calls, 2);
    dsql_credentials_provider_free(p);

    /* Refresh time reached: the source is asked again. */
    s = (script){0, DSQL_OK, 3600, 0};
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_ok(p, "AK1", "SK", "ST", "custom");
    dsql__provider_force_refresh(p);
    get_ok(p, "AK2", "SK", "ST", "custom");
    /* The source fails while the cache has not expired yet: the cache serves. */
    s.status = DSQL_ECREDENTIALS;
    dsql__provider_force_refresh(p);
    get_ok(p, "AK2", "SK", "ST", "custom");
    assert_int_equal(s.calls, 3);
    dsql_credentials_provider_free(p);
}

static void test_custom_errors(void **state)
{
    (void)state;
    script s = {0, DSQL_ECREDENTIALS, 0, 0};
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_custom(callback, &s, &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECREDENTIALS, "my vault is sealed (call 1)");
    get_err(p, DSQL_ECREDENTIALS, "my vault is sealed (call 2)"); /* failures are not cached */
    /* Already expired credentials are refused, naming the source. */
    s = (script){0, DSQL_OK, -10, 0};
    get_err(p, DSQL_ECREDENTIALS, "custom: the credentials it returned expired at ");
    dsql_credentials_provider_free(p);
    assert_int_equal(dsql_credentials_provider_custom(NULL, NULL, &p, NULL), DSQL_EINVAL);
}

static int empty_callback(void *ctx, dsql_credentials *out, dsql_error *err)
{
    (void)ctx;
    (void)out;
    (void)err;
    return *(int *)ctx;
}

static void test_custom_misbehaving(void **state)
{
    (void)state;
    int ret = DSQL_OK;
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_custom(empty_callback, &ret, &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECREDENTIALS, "returned DSQL_OK without credentials");
    ret = DSQL_EIO; /* fails without a message: one is made up */
    get_err(p, DSQL_EIO, "custom credentials callback failed (DSQL_EIO)");
    dsql_credentials_provider_free(p);
}

static void test_env(void **state)
{
    (void)state;
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    get_ok(p, "AKENV", "SKENV", NULL, "environment");
    dsql_credentials_provider_free(p);

    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    setenv("AWS_SESSION_TOKEN", "STENV", 1);
    get_ok(p, "AKENV", "SKENV", "STENV", "environment");
    dsql_credentials_provider_free(p);

    /* half a key pair */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECREDENTIALS,
            "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    unsetenv("AWS_ACCESS_KEY_ID");
    get_err(p, DSQL_ECREDENTIALS,
            "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    /* an expiration in the past, and a malformed one */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z", 1);
    get_err(p, DSQL_ECREDENTIALS,
            "environment (AWS_CREDENTIAL_EXPIRATION): the credentials it "
            "returned expired at 2020-01-01T00:00:00Z");
    setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
    get_err(p, DSQL_EPARSE, "AWS_CREDENTIAL_EXPIRATION 'tomorrow' is not an ISO 8601 time");
    setenv("AWS_CREDENTIAL_EXPIRATION", "2999-01-01T00:00:00Z", 1);
    get_ok(p, "AKENV", "SKENV", "STENV", "environment");
    dsql_credentials_provider_free(p);
}

static void test_profile_static(void **state)
{
    (void)state;
    char dir[64], cred[128], cfg[128];
    at_tmpdir(dir, sizeof dir);
    at_write(dir, "credentials",
             "# a comment\n"
             "[default]\n"
             "aws_access_key_id = AKDEF\n"
             "aws_secret_access_key=SKDEF ; trailing comment\n"
             "\n"
             "[ prod ]   # spaced header\r\n"
             "aws_access_key_id\t=\tAKPROD\r\n"
             "aws_secret_access_key = SK/PROD+==\r\n"
             "aws_session_token = ST#notacomment\r\n"
             "[half]\n"
             "aws_access_key_id = AKHALF\n",
             cred, sizeof cred);
    at_write(dir, "config",
             "[default]\nregion = us-east-1\n"
             "[profile cfgonly]\n"
             "aws_access_key_id = AKCFG\n"
             "aws_secret_access_key = SKCFG\n"
             "s3 =\n"
             "  max_concurrent_requests = 10\n"
             "[cfgonly]\n" /* no "profile " prefix in config: not a profile */
             "aws_access_key_id = WRONG\n"
             "[profile empty]\n"
             "region = eu-west-1\n",
             cfg, sizeof cfg);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    dsql_credentials_provider *p;

    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    get_ok(p, "AKDEF", "SKDEF", NULL, "profile");
    dsql_credentials_provider_free(p);

    assert_int_equal(dsql_credentials_provider_default("prod", &p, NULL), DSQL_OK);
    get_ok(p, "AKPROD", "SK/PROD+==", "ST#notacomment", "profile");
    dsql_credentials_provider_free(p);

    setenv("AWS_PROFILE", "cfgonly", 1);
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    get_ok(p, "AKCFG", "SKCFG", NULL, "profile");
    dsql_credentials_provider_free(p);
    unsetenv("AWS_PROFILE");

    /* An explicit profile wins over the environment. */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    assert_int_equal(dsql_credentials_provider_default("prod", &p, NULL), DSQL_OK);
    get_ok(p, "AKPROD", "SK/PROD+==", "ST#notacomment", "profile");
    dsql_credentials_provider_free(p);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    assert_int_equal(dsql_credentials_provider_default("half", &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECREDENTIALS, "profile 'half': aws_access_key_id is set (");
    char want[256];
    snprintf(want, sizeof want, "%s line 11) but aws_secret_access_key is not", cred);
    get_err(p, DSQL_ECREDENTIALS, want);
    dsql_credentials_provider_free(p);

    assert_int_equal(dsql_credentials_provider_default("nosuch", &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECONFIG, "profile 'nosuch' not found in ");
    get_err(p, DSQL_ECONFIG, cred);
    dsql_credentials_provider_free(p);

    assert_int_equal(dsql_credentials_provider_default("empty", &p, NULL), DSQL_OK);
    get_err(p, DSQL_ECREDENTIALS, "profile 'empty' in ");
    get_err(p, DSQL_ECREDENTIALS, "has no credentials");
    dsql_credentials_provider_free(p);
    at_rmdir(dir);
}

static void test_profile_file_errors(void **state)
{
    (void)state;
    char dir[64], path[128];
    at_tmpdir(dir, sizeof dir);
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);

    /* a directory in place of the credentials file: unreadable even for root */
    setenv("AWS_SHARED_CREDENTIALS_FILE", dir, 1);
    get_err(p, DSQL_EIO, "cannot read AWS credentials file");
    get_err(p, DSQL_EIO, "it is a directory");

    at_write(dir, "bad1", "[default\naws_access_key_id = A\n", path, sizeof path);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    get_err(p, DSQL_EPARSE, "bad1 line 1: section header without a closing ']'");

    at_write(dir, "bad2", "[default]\naws_access_key_id = A\njust some words\n", path, sizeof path);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    get_err(p, DSQL_EPARSE,
            "bad2 line 3 (profile 'default'): expected '[section]' or 'key = value'");

    at_write(dir, "bad3", "[default] junk\n", path, sizeof path);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    get_err(p, DSQL_EPARSE, "bad3 line 1: unexpected text after the section header");

    at_write(dir, "bad4", "[default]\n= value\n", path, sizeof path);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    get_err(p, DSQL_EPARSE, "bad4 line 2 (profile 'default'): a value without a key");

    /* missing files with nothing else configured: the chain's summary error */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    get_err(p, DSQL_ECREDENTIALS, "no AWS credentials found");
    /* /dev/null, the usual way to switch the files off, reads as empty: no profiles */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    get_err(p, DSQL_ECREDENTIALS, "no AWS credentials found");
    dsql__aws_files files = DSQL__AWS_FILES_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__aws_files_load(&files, NULL, NULL, &err), DSQL_OK);
    assert_true(files.config.present);
    assert_int_equal(files.config.n, 0);
    assert_int_equal(files.credentials.n, 0);
    dsql__aws_files_free(&files);
    /* a FIFO named as the file is never waited on (without a writer it reads empty) */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("AWS_SHARED_CREDENTIALS_FILE", fifo, 1);
    get_err(p, DSQL_ECREDENTIALS, "no AWS credentials found");
    unlink(fifo);
    dsql_credentials_provider_free(p);
    at_rmdir(dir);
}

static void test_ini_parser(void **state)
{
    (void)state;
    static const char text[] = "\xEF\xBB\xBF[profile a]\n"
                               "k1 = v1\n"
                               "k1 = v2\n" /* last wins */
                               "k2 =   spaced value  \n"
                               "k3 = a;b#c\n" /* no whitespace before ; or #: kept */
                               "k4 = x # y\n"
                               "[profile   b  ]\n"
                               "k = vb\n"
                               "[sso-session s]\n"
                               "k = skipped\n"
                               "[profile a]\n"
                               "k5 = again\n";
    dsql__ini ini = DSQL__INI_INIT;
    assert_int_equal(dsql__ini_parse(&ini, text, sizeof text - 1, true, NULL), DSQL_OK);
    assert_string_equal(dsql__ini_get(&ini, "a", "k1"), "v2");
    assert_string_equal(dsql__ini_get(&ini, "a", "k2"), "spaced value");
    assert_string_equal(dsql__ini_get(&ini, "a", "k3"), "a;b#c");
    assert_string_equal(dsql__ini_get(&ini, "a", "k4"), "x");
    assert_string_equal(dsql__ini_get(&ini, "a", "k5"), "again");
    assert_string_equal(dsql__ini_get(&ini, "b", "k"), "vb");
    assert_null(dsql__ini_get(&ini, "s", "k"));
    assert_null(dsql__ini_get(&ini, "sso-session s", "k"));
    assert_true(dsql__ini_has_section(&ini, "b"));
    assert_false(dsql__ini_has_section(&ini, "c"));
    dsql__ini_free(&ini);

    dsql_error err = DSQL_ERROR_INIT;
    static const char nul[] = "[a]\nk = v\0x\n";
    assert_int_equal(dsql__ini_parse(&ini, nul, sizeof nul - 1, false, &err), DSQL_EPARSE);
    assert_contains(err.message, "line 2: NUL byte");
    dsql__ini_free(&ini);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_static, setup),
        cmocka_unit_test_setup(test_custom_caching, setup),
        cmocka_unit_test_setup(test_custom_errors, setup),
        cmocka_unit_test_setup(test_custom_misbehaving, setup),
        cmocka_unit_test_setup(test_env, setup),
        cmocka_unit_test_setup(test_profile_static, setup),
        cmocka_unit_test_setup(test_profile_file_errors, setup),
        cmocka_unit_test_setup(test_ini_parser, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
