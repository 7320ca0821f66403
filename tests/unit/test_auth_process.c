/* credential_process: real scripts run through the shared config file. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "authtest.h"
#include "dsql/auth.h"
#include "util/util.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    at_clean_env();
    at_tmpdir(dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    at_rmdir(dir);
    return 0;
}

/* Writes an executable script and a config whose profile `p` runs it. */
static void script(const char *body)
{
    char path[128], cfg[512], cpath[128];
    char text[4096];
    snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
    at_write(dir, "creds.sh", text, path, sizeof path);
    assert_int_equal(chmod(path, 0700), 0);
    snprintf(cfg, sizeof cfg, "[profile p]\ncredential_process = %s --flag 'quoted arg'\n", path);
    setenv("AWS_CONFIG_FILE", at_write(dir, "config", cfg, cpath, sizeof cpath), 1);
}

static int get(dsql_credentials *c, dsql_error *err)
{
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default("p", &p, NULL), DSQL_OK);
    int rc = dsql_credentials_provider_get(p, c, err);
    dsql_credentials_provider_free(p);
    return rc;
}

static void expect_err(int status, const char *msg)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = get(&c, &err);
    if (rc != status || !strstr(err.message, msg)) {
        print_error("got %s: %s\nwanted %s: ...%s...\n", dsql_status_name(rc), err.message,
                    dsql_status_name(status), msg);
        fail();
    }
    assert_null(c.access_key_id);
}

static void test_process_ok(void **state)
{
    (void)state;
    char marker[128];
    snprintf(marker, sizeof marker, "%s/args", dir);
    char body[1024];
    snprintf(body, sizeof body,
             "printf '%%s|' \"$@\" > %s\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \"SecretAccessKey\": \"SK/+=\","
             " \"SessionToken\": \"STPROC\", \"Expiration\": \"2999-12-31T23:59:59Z\"}'",
             marker);
    script(body);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(get(&c, &err), DSQL_OK);
    assert_string_equal(c.access_key_id, "AKPROC");
    assert_string_equal(c.secret_access_key, "SK/+=");
    assert_string_equal(c.session_token, "STPROC");
    assert_string_equal(c.source, "credential_process");
    assert_int_equal(c.expiration, 32503679999);
    dsql_credentials_clear(&c);
    /* the command line went through the shell: quoting honoured */
    char *args = tu_read_file(marker, NULL);
    assert_string_equal(args, "--flag|quoted arg|");
    free(args);

    /* long-term keys: no token, no expiration */
    script("echo '{\"Version\":1,\"AccessKeyId\":\"AK2\",\"SecretAccessKey\":\"SK2\"}'");
    assert_int_equal(get(&c, &err), DSQL_OK);
    assert_string_equal(c.access_key_id, "AK2");
    assert_null(c.session_token);
    assert_int_equal(c.expiration, 0);
    dsql_credentials_clear(&c);
}

static void test_process_failures(void **state)
{
    (void)state;
    script("echo 'something went wrong' >&2; exit 3");
    expect_err(DSQL_ECREDENTIALS, "dsql_credentials_provider_get: profile 'p' "
                                  "(credential_process): the command exited with status 3");
    script("echo 'not json'");
    expect_err(DSQL_EPARSE, "profile 'p' (credential_process): the response is not valid JSON");
    script("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'");
    expect_err(DSQL_EPARSE, "has no \"Version\": 1");
    script("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'");
    expect_err(DSQL_EPARSE, "the JSON has no SecretAccessKey");
    script("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", "
           "\"Expiration\": \"2021-06-01T00:00:00Z\"}'");
    expect_err(DSQL_ECREDENTIALS, "the credentials it returned expired at 2021-06-01T00:00:00Z");
    script("head -c 100000 /dev/zero | tr '\\0' x");
    expect_err(DSQL_EPARSE, "the command wrote more than 65536 bytes");
    script("exit 0");
    expect_err(DSQL_EPARSE, "the response is not valid JSON");
    char cpath[128];
    setenv("AWS_CONFIG_FILE",
           at_write(dir, "config", "[profile p]\ncredential_process = /nonexistent/cmd\n", cpath,
                    sizeof cpath),
           1);
    expect_err(DSQL_ECREDENTIALS, "exited with status 127 (command not found?)");
    setenv("AWS_CONFIG_FILE",
           at_write(dir, "config", "[profile p]\ncredential_process = kill -9 $$\n", cpath,
                    sizeof cpath),
           1);
    expect_err(DSQL_ECREDENTIALS, "the command was killed by signal 9");
}

/* A command that hangs is killed at the timeout; what it writes on stderr reaches the
 * program's stderr and never an error message or a log line. */
static void no_log(dsql_log_level level, const char *message, void *ctx)
{
    (void)level;
    int *n = ctx;
    (*n)++;
    assert_not_contains(message, "STDERR-SECRET-4f1");
}

static void test_process_timeout_and_stderr(void **state)
{
    (void)state;
    char cpath[128]; /* "exec": the shell becomes sleep, so the kill reaches it */
    setenv("AWS_CONFIG_FILE",
           at_write(dir, "config", "[profile p]\ncredential_process = exec sleep 30\n", cpath,
                    sizeof cpath),
           1);
    setenv("DSQL_AUTH_PROCESS_TIMEOUT_MS", "300", 1);
    int64_t t0 = dsql__mono_ms();
    expect_err(DSQL_ETIMEOUT, "profile 'p' (credential_process): the command did not finish "
                              "within 300 ms (it was killed)");
    assert_true(dsql__mono_ms() - t0 < 10000);
    unsetenv("DSQL_AUTH_PROCESS_TIMEOUT_MS");

    script("echo 'STDERR-SECRET-4f1' >&2; exit 1");
    char errpath[160];
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    int logged = 0;
    dsql_credentials_provider *p;
    assert_int_equal(dsql_credentials_provider_default("p", &p, NULL), DSQL_OK);
    dsql_credentials_provider_set_log(p, no_log, &logged);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_credentials_provider_get(p, &c, &err);
    dsql_credentials_provider_free(p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, DSQL_ECREDENTIALS);
    assert_string_equal(err.message, "dsql_credentials_provider_get: profile 'p' "
                                     "(credential_process): the command exited with status 1");
    assert_int_equal(logged, 0);
    char *text = tu_read_file(errpath, NULL);
    assert_string_equal(text, "STDERR-SECRET-4f1\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_process_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_timeout_and_stderr, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
