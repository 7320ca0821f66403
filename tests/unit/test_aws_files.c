/* The AWS shared config and credentials files, parsed as the AWS SDKs parse them (their
 * common parser tests are the reference): continuations, sub-properties, key case,
 * [profile default] over [default], ignored names with warnings through the log hook,
 * and errors naming file, line and profile. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "authtest.h"
#include "auth/ini.h"
#include "auth/internal.h"
#include "dsql/auth.h"

/* Warnings caught by the log hook. */
typedef struct caught {
    int n;
    char text[4096];
} caught;

static void catch_log(dsql_log_level level, const char *message, void *ctx)
{
    caught *c = ctx;
    assert_int_equal(level, DSQL_LOG_WARN);
    c->n++;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", message);
}

/* Parses text (config_file or credentials) into ini, with warnings into *c. */
static int parse(dsql__ini *ini, const char *text, bool config_file, caught *c, dsql_error *err)
{
    *ini = (dsql__ini)DSQL__INI_INIT;
    ini->path = strdup(config_file ? "/home/u/.aws/config" : "/home/u/.aws/credentials");
    ini->log = catch_log;
    ini->log_ctx = c;
    memset(c, 0, sizeof *c);
    return dsql__ini_parse(ini, text, strlen(text), config_file, err);
}

static void parse_ok(dsql__ini *ini, const char *text, bool config_file, caught *c)
{
    dsql_error err = DSQL_ERROR_INIT;
    int rc = parse(ini, text, config_file, c, &err);
    if (rc != DSQL_OK)
        print_error("%s\n", err.message);
    assert_int_equal(rc, DSQL_OK);
}

static void parse_err(const char *text, bool config_file, const char *msg)
{
    dsql__ini ini;
    caught c;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(parse(&ini, text, config_file, &c, &err), DSQL_EPARSE);
    assert_string_equal(err.message, msg);
    dsql__ini_free(&ini);
}

static void test_continuations(void **state)
{
    (void)state;
    dsql__ini ini;
    caught c;
    parse_ok(&ini,
             "[profile foo]\n"
             "name = value\n"
             " -continued\n"
             " \t -and-continued # not a comment \t\n"
             "s3 =\n"
             "  max_concurrent_requests = 10\n"
             "\t\n"
             "  Region = eu-west-1\n"
             "  region = eu-west-2\n"
             "other = x\n",
             true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "name"),
                        "value\n-continued\n-and-continued # not a comment");
    assert_string_equal(dsql__ini_get(&ini, "foo", "s3"),
                        "\nmax_concurrent_requests = 10\nRegion = eu-west-1\nregion = eu-west-2");
    char buf[64];
    assert_string_equal(
        dsql__ini_sub(dsql__ini_get(&ini, "foo", "s3"), "MAX_CONCURRENT_REQUESTS", buf, sizeof buf),
        "10");
    assert_string_equal(dsql__ini_sub(dsql__ini_get(&ini, "foo", "s3"), "region", buf, sizeof buf),
                        "eu-west-2"); /* the last one wins */
    assert_null(dsql__ini_sub(dsql__ini_get(&ini, "foo", "s3"), "nope", buf, sizeof buf));
    assert_string_equal(dsql__ini_get(&ini, "foo", "other"), "x");
    assert_int_equal(c.n, 0);
    dsql__ini_free(&ini);

    parse_err("[profile foo]\n -continued\n", true,
              "/home/u/.aws/config line 2 (profile 'foo'): an indented line continues a value, "
              "but no 'key = value' line comes before it in this section");
    parse_err("[profile foo]\nname = value\n[profile foo]\n -continued", true,
              "/home/u/.aws/config line 4 (profile 'foo'): an indented line continues a value, "
              "but no 'key = value' line comes before it in this section");
    parse_err(" -continued\n", true,
              "/home/u/.aws/config line 1: a continuation line before any section header "
              "(expected [default] or [profile NAME] first)");
    parse_err("[profile foo]\ns3 =\n invalid\n", true,
              "/home/u/.aws/config line 3 (profile 'foo'): expected a sub-property 'name = "
              "value' under the key with an empty value above");
    parse_err("[profile foo]\ns3 =\n = value\n", true,
              "/home/u/.aws/config line 3 (profile 'foo'): expected a sub-property 'name = "
              "value' under the key with an empty value above");
    /* An indented key right after a header is a key (as the AWS CLI reads it). */
    parse_ok(&ini, "[profile foo]\n  region = eu-west-1\n   -more\n", true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "region"), "eu-west-1\n-more");
    dsql__ini_free(&ini);
    /* Sub-property names are not checked (the SDKs keep "in valid = value" as text). */
    parse_ok(&ini, "[profile foo]\ns3 =\n in valid = value\n name =\n", true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "s3"), "\nin valid = value\nname =");
    dsql__ini_free(&ini);
}

static void test_sections_and_comments(void **state)
{
    (void)state;
    dsql__ini ini;
    caught c;
    parse_ok(&ini,
             "# comment\n"
             "; comment\n"
             "[profile foo]; adjacent semicolon\n"
             "a = value; adjacent is kept\n"
             "b = value # spaced is cut\n"
             "[profile bar]# adjacent pound\n"
             "[   profile   baz    ]\n"
             "c = 1\n"
             "[profile\tq%@:+/._-Z9]\n"
             "d = 2\n",
             true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "a"), "value; adjacent is kept");
    assert_string_equal(dsql__ini_get(&ini, "foo", "b"), "value");
    assert_true(dsql__ini_has_section(&ini, "bar"));
    assert_string_equal(dsql__ini_get(&ini, "baz", "c"), "1");
    assert_string_equal(dsql__ini_get(&ini, "q%@:+/._-Z9", "d"), "2");
    assert_int_equal(c.n, 0);
    dsql__ini_free(&ini);

    parse_err("name = value\n[profile foo]\n", true,
              "/home/u/.aws/config line 1: a 'key = value' line before any section header "
              "(expected [default] or [profile NAME] first)");
    parse_err("\n# c\naws_access_key_id = AK\n[default]\n", false,
              "/home/u/.aws/credentials line 3: a 'key = value' line before any section header "
              "(expected [NAME] first)");
    parse_err("[profile foo]\nkey : value\n", true,
              "/home/u/.aws/config line 2 (profile 'foo'): expected '[section]' or 'key = "
              "value'");
    parse_err("[profile foo", true,
              "/home/u/.aws/config line 1: section header without a "
              "closing ']'");
}

static void test_key_case(void **state)
{
    (void)state;
    dsql__ini ini;
    caught c;
    parse_ok(&ini,
             "[profile foo]\nName = value\n[profile foo]\nname = value2\n"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ = v\n",
             true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "name"), "value2");
    assert_string_equal(
        dsql__ini_get(&ini, "foo",
                      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789-_"),
        "v");
    dsql__ini_free(&ini);
    /* Profile names keep their case. */
    parse_ok(&ini, "[Prod]\nk = 1\n", false, &c);
    assert_true(dsql__ini_has_section(&ini, "Prod"));
    assert_false(dsql__ini_has_section(&ini, "prod"));
    dsql__ini_free(&ini);
}

static void test_default_sections(void **state)
{
    (void)state;
    dsql__ini ini;
    caught c;
    parse_ok(&ini,
             "[profile default]\nname = value\n[default]\nname2 = value2\n"
             "[profile default]\nname3 = value3\n",
             true, &c);
    assert_string_equal(dsql__ini_get(&ini, "default", "name"), "value");
    assert_null(dsql__ini_get(&ini, "default", "name2"));
    assert_string_equal(dsql__ini_get(&ini, "default", "name3"), "value3");
    assert_int_equal(c.n, 1);
    assert_string_equal(c.text, "AWS shared files: /home/u/.aws/config line 3: [default] ignored: "
                                "[profile default] is in the same file and wins\n");
    dsql__ini_free(&ini);
    parse_ok(&ini, "[default]\nname2 = value2\n[profile default]\nname = value\n", true, &c);
    assert_string_equal(dsql__ini_get(&ini, "default", "name"), "value");
    assert_null(dsql__ini_get(&ini, "default", "name2"));
    dsql__ini_free(&ini);
    /* [default] alone is the default profile. */
    parse_ok(&ini, "[default]\nname2 = value2\n", true, &c);
    assert_string_equal(dsql__ini_get(&ini, "default", "name2"), "value2");
    assert_int_equal(c.n, 0);
    dsql__ini_free(&ini);
}

static void test_ignored_names(void **state)
{
    (void)state;
    dsql__ini ini;
    caught c;
    parse_ok(&ini,
             "[profile foo]\nname = value\nin valid = value\n"
             "[profile in valid]\nx = 1\n"
             "[profile foo!bar]\nx = 2\n"
             "[profilefoo]\nx = 3\n"
             "[sso-session s]\nsso_region = us-east-1\n"
             "[services my-services]\nsts =\n  endpoint_url = http://127.0.0.1:9\n"
             "[profile bar]\nname = value2\n",
             true, &c);
    assert_string_equal(dsql__ini_get(&ini, "foo", "name"), "value");
    assert_null(dsql__ini_get(&ini, "foo", "in valid"));
    assert_false(dsql__ini_has_section(&ini, "in valid"));
    assert_false(dsql__ini_has_section(&ini, "foo!bar"));
    assert_false(dsql__ini_has_section(&ini, "profilefoo"));
    assert_false(dsql__ini_has_section(&ini, "s"));
    assert_false(dsql__ini_has_section(&ini, "my-services"));
    assert_string_equal(dsql__ini_get_kind(&ini, DSQL__INI_SERVICES, "my-services", "sts"),
                        "\nendpoint_url = http://127.0.0.1:9");
    assert_string_equal(dsql__ini_get(&ini, "bar", "name"), "value2");
    assert_int_equal(c.n, 4);
    assert_string_equal(
        c.text,
        "AWS shared files: /home/u/.aws/config line 3: key 'in valid' (profile 'foo') ignored: "
        "not a valid name (letters, digits and _-/.%@:+)\n"
        "AWS shared files: /home/u/.aws/config line 4: profile [profile in valid] ignored: "
        "'in valid' is not a valid name (letters, digits and _-/.%@:+)\n"
        "AWS shared files: /home/u/.aws/config line 6: profile [profile foo!bar] ignored: "
        "'foo!bar' is not a valid name (letters, digits and _-/.%@:+)\n"
        "AWS shared files: /home/u/.aws/config line 8: section [profilefoo] ignored: in the "
        "config file a profile is [profile NAME] (only [default] goes without the prefix)\n");
    dsql__ini_free(&ini);

    parse_ok(&ini,
             "[profile foo]\naws_access_key_id = A\n[in valid 2]\nx = 1\n[ok]\nx = 2\n[bad!]\n",
             false, &c);
    assert_false(dsql__ini_has_section(&ini, "foo"));
    assert_false(dsql__ini_has_section(&ini, "profile foo"));
    assert_string_equal(dsql__ini_get(&ini, "ok", "x"), "2");
    assert_int_equal(c.n, 3);
    assert_string_equal(
        c.text,
        "AWS shared files: /home/u/.aws/credentials line 1: profile [profile foo] ignored: in "
        "the credentials file a profile is [NAME], without the \"profile \" prefix\n"
        "AWS shared files: /home/u/.aws/credentials line 3: section [in valid 2] ignored: the "
        "credentials file holds profiles only ([NAME])\n"
        "AWS shared files: /home/u/.aws/credentials line 7: profile [bad!] ignored: 'bad!' is "
        "not a valid name (letters, digits and _-/.%@:+)\n");
    dsql__ini_free(&ini);
}

/* Through the credential chain, with real files: upper-case keys, a continuation, the
 * warnings on the provider's log hook and nothing on stderr. */
static void test_chain_with_files(void **state)
{
    (void)state;
    at_clean_env();
    char dir[64], p1[128], p2[128], errpath[160];
    at_tmpdir(dir, sizeof dir);
    setenv("AWS_SHARED_CREDENTIALS_FILE",
           at_write(dir, "credentials",
                    "[profile dev]\naws_access_key_id = WRONG\n"
                    "[dev]\nAWS_ACCESS_KEY_ID = AKDEV\nAws_Secret_Access_Key = SKDEV\n",
                    p1, sizeof p1),
           1);
    setenv("AWS_CONFIG_FILE",
           at_write(dir, "config",
                    "[default]\naws_access_key_id = AKPLAIN\naws_secret_access_key = SKPLAIN\n"
                    "[profile default]\naws_access_key_id = AKDEF\n"
                    "aws_secret_access_key = SKDEF\n"
                    "s3 =\n  addressing_style = path\n",
                    p2, sizeof p2),
           1);
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);

    caught c = {0};
    dsql_credentials_provider *p;
    dsql_credentials cr = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_provider_default("dev", &p, NULL), DSQL_OK);
    dsql_credentials_provider_set_log(p, catch_log, &c);
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql_credentials_provider_get(p, &cr, &err);
    dsql_credentials_provider_free(p);
    int rc2 = DSQL_OK;
    dsql_credentials cd = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    rc2 = dsql_credentials_provider_get(p, &cd, &err);
    dsql_credentials_provider_free(p);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, DSQL_OK);
    assert_string_equal(cr.access_key_id, "AKDEV");
    assert_string_equal(cr.secret_access_key, "SKDEV");
    assert_int_equal(rc2, DSQL_OK);
    assert_string_equal(cd.access_key_id, "AKDEF");
    dsql_credentials_clear(&cr);
    dsql_credentials_clear(&cd);
    char want[1024];
    snprintf(want, sizeof want,
             "AWS shared files: %s line 1: [default] ignored: [profile default] is in the same "
             "file and wins\n"
             "AWS shared files: %s line 1: profile [profile dev] ignored: in the credentials "
             "file a profile is [NAME], without the \"profile \" prefix\n",
             p2, p1);
    assert_string_equal(c.text, want);
    char *text;
    size_t len;
    assert_int_equal(dsql__read_file(errpath, 4096, "stderr", &text, &len, NULL), DSQL_OK);
    assert_int_equal(len, 0);
    free(text);

    /* A property before any header is an error naming the file and line. */
    at_write(dir, "config", "region = us-east-1\n[default]\n", p2, sizeof p2);
    assert_int_equal(dsql_credentials_provider_default(NULL, &p, NULL), DSQL_OK);
    assert_int_equal(dsql_credentials_provider_get(p, &cd, &err), DSQL_EPARSE);
    snprintf(want, sizeof want,
             "dsql_credentials_provider_get: %s line 1: a 'key = value' line before any section "
             "header (expected [default] or "
             "[profile NAME] first)",
             p2);
    assert_string_equal(err.message, want);
    dsql_credentials_provider_free(p);
    at_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuations), cmocka_unit_test(test_sections_and_comments),
        cmocka_unit_test(test_key_case),      cmocka_unit_test(test_default_sections),
        cmocka_unit_test(test_ignored_names), cmocka_unit_test(test_chain_with_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
