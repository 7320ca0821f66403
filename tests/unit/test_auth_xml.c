/* The strict XML reader used for STS responses, and JSON credentials. */
#include <string.h>

#include "authtest.h"
#include "auth/internal.h"
#include "auth/xml.h"

static int get(const char *xml, const char *const *path, size_t depth, char **out)
{
    return dsql__xml_text(xml, strlen(xml), path, depth, out);
}

static void test_xml_found(void **state)
{
    (void)state;
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n"
        "<!-- a comment <Credentials> -->\n"
        "<R xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <Result><Other>x</Other><Credentials>\n"
        "    <AccessKeyId>ASIA123</AccessKeyId>\n"
        "    <SessionToken>a&amp;b&lt;c&gt;d&quot;e&apos;f&#47;g&#x2B;h&#xE9;</SessionToken>\n"
        "    <Empty></Empty><Self/>\n"
        "  </Credentials></Result>\n"
        "</R>\n";
    const char *p1[] = {"R", "Result", "Credentials", "AccessKeyId"};
    char *out;
    assert_int_equal(get(doc, p1, 4, &out), 0);
    assert_string_equal(out, "ASIA123");
    free(out);
    const char *p2[] = {"R", "Result", "Credentials", "SessionToken"};
    assert_int_equal(get(doc, p2, 4, &out), 0);
    assert_string_equal(out, "a&b<c>d\"e'f/g+h\xc3\xa9");
    free(out);
    const char *p3[] = {"R", "Result", "Credentials", "Empty"};
    assert_int_equal(get(doc, p3, 4, &out), 0);
    assert_string_equal(out, "");
    free(out);
    /* absent, self-closing, not a leaf, wrong ancestry */
    const char *p4[] = {"R", "Result", "Credentials", "Missing"};
    assert_int_equal(get(doc, p4, 4, &out), 1);
    assert_null(out);
    const char *p5[] = {"R", "Result", "Credentials", "Self"};
    assert_int_equal(get(doc, p5, 4, &out), 1);
    const char *p6[] = {"R", "Result", "Credentials"};
    assert_int_equal(get(doc, p6, 3, &out), 1);
    const char *p7[] = {"R", "AccessKeyId"};
    assert_int_equal(get(doc, p7, 2, &out), 1);
}

static void test_xml_malformed(void **state)
{
    (void)state;
    const char *path[] = {"A", "B"};
    static const char *const bad[] = {
        "",                         /* no root */
        "<A><B>x</B>",              /* unclosed */
        "<A><B>x</C></A>",          /* mismatched */
        "<A><B>x</B></A><A/>",      /* two roots */
        "text<A><B>x</B></A>",      /* text outside the root */
        "<A><B>&unknown;</B></A>",  /* entity without a DTD */
        "<A><B>&amp</B></A>",       /* unterminated entity */
        "<A><B>&#0;</B></A>",       /* NUL character */
        "<A><B>&#x110000;</B></A>", /* beyond Unicode */
        "<A><B>&#xD800;</B></A>",   /* surrogate */
        "<!DOCTYPE A [<!ENTITY e \"x\">]><A><B>&e;</B></A>",
        "<A><B><![CDATA[x]]></B></A>",
        "<A><B attr=noquotes>x</B></A>",
        "<A><B>x</B></A><!-- unterminated",
        "<A><",
        "<A><B>x</B></A >trailing",
        "<?xml unterminated",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = (char *)"x";
        if (get(bad[i], path, 2, &out) != -1) {
            print_error("accepted: %s\n", bad[i]);
            fail();
        }
        assert_null(out);
    }
    /* embedded NUL */
    char *out;
    assert_int_equal(dsql__xml_text("<A><B>x\0y</B></A>", 17, path, 2, &out), -1);
    /* deep nesting is bounded */
    char deep[2000] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<A>");
    assert_int_equal(get(deep, path, 2, &out), -1);
    /* attributes, end-tag spaces and '>' in text are fine */
    assert_int_equal(get("<A x='1' y=\"&amp;\"><B >a>b</B ></A>", path, 2, &out), 0);
    assert_string_equal(out, "a>b");
    free(out);
}

static void test_json_credentials(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    const char *ok = "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\","
                     "\"SessionToken\":\"ST\",\"Expiration\":\"2999-01-01T00:00:00Z\"}";
    assert_int_equal(dsql__creds_from_json(ok, strlen(ok), DSQL__JSON_PROCESS, "p", &c, &err),
                     DSQL_OK);
    assert_string_equal(c.access_key_id, "AK");
    assert_string_equal(c.session_token, "ST");
    time_t t;
    assert_true(dsql__parse_iso8601("2999-01-01T00:00:00Z", &t));
    assert_int_equal(c.expiration, t);
    dsql_credentials_clear(&c);

    static const struct {
        dsql__json_format fmt;
        const char *json;
        int status;
        const char *msg;
    } cases[] = {
        {DSQL__JSON_PROCESS, "not json", DSQL_EPARSE, "p: the response is not valid JSON"},
        {DSQL__JSON_PROCESS, "[1]", DSQL_EPARSE, "p: the JSON is not an object"},
        {DSQL__JSON_PROCESS, "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\"}", DSQL_EPARSE,
         "has no \"Version\": 1"},
        {DSQL__JSON_PROCESS, "{\"Version\":2,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\"}",
         DSQL_EPARSE, "has no \"Version\": 1"},
        {DSQL__JSON_PROCESS, "{\"Version\":1,\"AccessKeyId\":\"AK\"}", DSQL_EPARSE,
         "p: the JSON has no SecretAccessKey"},
        {DSQL__JSON_PROCESS, "{\"Version\":1,\"SecretAccessKey\":\"SK\"}", DSQL_EPARSE,
         "p: the JSON has no AccessKeyId"},
        {DSQL__JSON_PROCESS, "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":5}",
         DSQL_EPARSE, "is not a string"},
        {DSQL__JSON_PROCESS,
         "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Expiration\":\"x\"}",
         DSQL_EPARSE, "p: Expiration 'x' is not an ISO 8601 time"},
        {DSQL__JSON_PROCESS,
         "{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Expiration\":"
         "\"2001-01-01T00:00:00Z\"}",
         DSQL_ECREDENTIALS, "p: the credentials it returned expired at 2001-01-01T00:00:00Z"},
        {DSQL__JSON_CONTAINER, "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\"}", DSQL_EPARSE,
         "p: the JSON has no Token"},
        {DSQL__JSON_CONTAINER,
         "{\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"SK\",\"Token\":\"T\"}", DSQL_EPARSE,
         "p: the JSON has no Expiration"},
        {DSQL__JSON_IMDS,
         "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"AK\",\"SecretAccessKey\":"
         "\"SK\",\"Token\":\"T\",\"Expiration\":\"2999-01-01T00:00:00Z\"}",
         DSQL_ECREDENTIALS, "p: the instance reports Code \"AssumeRoleUnauthorizedAccess\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = dsql__creds_from_json(cases[i].json, strlen(cases[i].json), cases[i].fmt, "p", &c,
                                       &err);
        if (rc != cases[i].status || !strstr(err.message, cases[i].msg)) {
            print_error("case %zu: %d %s\n", i, rc, err.message);
            fail();
        }
        assert_null(c.access_key_id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_found),
        cmocka_unit_test(test_xml_malformed),
        cmocka_unit_test(test_json_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
