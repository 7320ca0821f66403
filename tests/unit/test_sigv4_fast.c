/* The signer's fast paths against plain references: the UTC date arithmetic against
 * gmtime_r, the RFC 3986 encoder against a byte-wise one, and the memo of one credentials
 * value walking scopes and session tokens in several orders against tokens minted with a
 * fresh value each time. The official signer's vectors are in test_token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/sigv4.h"
#include "testutil.h"

static void test_amz_date_matches_gmtime(void **state)
{
    (void)state;
    static const char *const fixed[][2] = {
        {"-62135596800", "00010101T000000Z"}, /* 0001-01-01, the first year allowed */
        {"-1", "19691231T235959Z"},           {"0", "19700101T000000Z"},
        {"951782400", "20000229T000000Z"},    {"4107542400", "21000301T000000Z"},
        {"253402300799", "99991231T235959Z"}, /* the last second allowed */
    };
    char amz[17], date[9];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        time_t t = (time_t)strtoll(fixed[i][0], NULL, 10);
        assert_true(dsql__amz_date(t, amz, date));
        assert_string_equal(amz, fixed[i][1]);
        assert_memory_equal(date, fixed[i][1], 8);
        assert_int_equal(date[8], '\0');
    }
    assert_false(dsql__amz_date((time_t)253402300800LL, amz, date)); /* year 10000 */
    assert_false(dsql__amz_date((time_t)-62135596801LL, amz, date)); /* year 0 */
    /* Every day over four centuries around now, at a varying second, against gmtime_r. */
    srand(7);
    for (int64_t t = -6000000000LL; t < 8000000000LL; t += 86400 * 7 + 3571) {
        struct tm tm;
        time_t tt = (time_t)t;
        assert_non_null(gmtime_r(&tt, &tm));
        char want[64];
        snprintf(want, sizeof want, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_true(dsql__amz_date(tt, amz, date));
        assert_string_equal(amz, want);
    }
}

static void reference_encode(char *out, const unsigned char *s, size_t n, bool keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash))
            *out++ = (char)c;
        else
            out += sprintf(out, "%%%02X", c);
    }
    *out = '\0';
}

static void test_uri_encode_matches_reference(void **state)
{
    (void)state;
    unsigned char in[300];
    char want[1024];
    srand(11);
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof in);
        /* Mostly unreserved bytes with a few of everything else, at every alignment. */
        for (size_t i = 0; i < n; i++) {
            int r = rand() % 100;
            in[i] = r < 85 ? (unsigned char)"abcXYZ019-_.~"[rand() % 13]
                           : (unsigned char)(rand() % 256);
        }
        bool slash = round % 2;
        reference_encode(want, in, n, slash);
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_append(&sb, "prefix:");
        dsql__uri_encode(&sb, (const char *)in, n, slash);
        assert_false(sb.oom);
        assert_memory_equal(sb.data, "prefix:", 7);
        assert_string_equal(sb.data + 7, want);
        assert_int_equal(sb.len, 7 + strlen(want));
        dsql__sb_free(&sb);
    }
    /* Every byte value, alone and inside runs long enough for the vector path. */
    for (int c = 0; c < 256; c++) {
        unsigned char run[40];
        memset(run, 'a', sizeof run);
        run[c % 40] = (unsigned char)c;
        reference_encode(want, run, sizeof run, false);
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__uri_encode(&sb, (const char *)run, sizeof run, false);
        assert_string_equal(sb.data, want);
        dsql__sb_free(&sb);
    }
}

/* noinline: inlined, gcc 12 at -O2/-O3 takes the returned token for a pointer to the local
 * `p` and fails the Release build of the tests with -Werror=dangling-pointer. */
__attribute__((noinline)) static char *mint_with(const dsql_credentials *c, const char *region,
                                                 time_t when)
{
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    p.region = region;
    p.signing_time = when;
    char *t = NULL;
    assert_int_equal(dsql_token_generate(&p, c, &t, NULL), DSQL_OK);
    return t;
}

/* With a new credentials value: nothing memoized. */
static char *mint_fresh(const char *secret, const char *session, const char *region, time_t when)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE", secret, session, 0, NULL), DSQL_OK);
    char *t = mint_with(&c, region, when);
    dsql_credentials_clear(&c);
    return t;
}

/* One credentials value whose session token is swapped (as a caller may) between texts
 * that differ in their last byte only, or not at all: every token's encoding is what a
 * fresh encoding gives (checked against the byte-wise reference), and it is encoded again
 * exactly when the text changed. */
static void test_session_token_memo(void **state)
{
    (void)state;
    char a[700], b[700];
    for (size_t i = 0; i < sizeof a - 1; i++)
        a[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i * 7 % 65];
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof a);
    b[sizeof b - 2] = b[sizeof b - 2] == '+' ? '/' : '+'; /* differs in its last byte */
    const char *seq[] = {a, a, b, a, b, b, a, a};
    const unsigned long encodings_after[] = {1, 1, 2, 3, 4, 4, 5, 5};
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE", "secret-one", a, 0, NULL), DSQL_OK);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        free(c.session_token); /* a new copy each time: another address, maybe the same */
        c.session_token = strdup(seq[i]);
        char *t = mint_with(&c, "us-east-1", 1795626000);
        char want[2200];
        reference_encode(want, (const unsigned char *)seq[i], strlen(seq[i]), false);
        const char *p = strstr(t, "&X-Amz-Security-Token=");
        assert_non_null(p);
        p += strlen("&X-Amz-Security-Token=");
        assert_memory_equal(p, want, strlen(want));
        assert_int_equal(p[strlen(want)], '&');
        char *fresh = mint_fresh("secret-one", seq[i], "us-east-1", 1795626000);
        assert_string_equal(t, fresh);
        dsql_token_free(fresh);
        dsql_token_free(t);
        unsigned long d, e;
        dsql__sigv4_memo_stats(&c, &d, &e);
        assert_int_equal(d, 1);
        assert_int_equal(e, encodings_after[i]);
    }
    dsql_credentials_clear(&c);
}

/* One value per secret walks 4 regions x 2 days in three orders: every token is the one a
 * fresh value mints, and a key is derived exactly when the scope changed from the last
 * token's. */
static void test_signing_key_memo(void **state)
{
    (void)state;
    static const char *const secrets[] = {"secret-one", "secret-two", "wJalrXUtnFEMI/K7MDENG"};
    static const char *const regions[] = {"us-east-1", "eu-west-1", "ap-south-1", "us-west-2"};
    const time_t days[] = {1795626000, 1795626000 + 86400};
    char *first[3][4][2];
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 4; r++)
            for (int d = 0; d < 2; d++)
                first[s][r][d] = mint_fresh(secrets[s], "tok+en/=", regions[r], days[d]);
    /* Different secrets or scopes give different signatures. */
    assert_string_not_equal(strstr(first[0][0][0], "X-Amz-Signature="),
                            strstr(first[1][0][0], "X-Amz-Signature="));
    assert_string_not_equal(strstr(first[0][0][0], "X-Amz-Signature="),
                            strstr(first[0][1][0], "X-Amz-Signature="));
    for (int s = 0; s < 3; s++) {
        dsql_credentials c = DSQL_CREDENTIALS_INIT;
        assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE", secrets[s], "tok+en/=", 0, NULL),
                         DSQL_OK);
        unsigned long want = 0;
        int last = -1;
        for (int pass = 0; pass < 3; pass++)
            for (int i = 0; i < 8; i++) {
                int k = pass == 0 ? i : pass == 1 ? 7 - i : (i * 3) % 8;
                int r = k / 2, d = k % 2;
                want += k != last;
                last = k;
                for (int twice = 0; twice < 2; twice++) {
                    char *t = mint_with(&c, regions[r], days[d] + twice * 3600);
                    if (!twice)
                        assert_string_equal(t, first[s][r][d]);
                    else
                        assert_string_not_equal(t, first[s][r][d]); /* another hour */
                    dsql_token_free(t);
                }
                unsigned long dd, ee;
                dsql__sigv4_memo_stats(&c, &dd, &ee);
                assert_int_equal(dd, want);
                assert_int_equal(ee, 1);
            }
        dsql_credentials_clear(&c);
    }
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 4; r++)
            for (int d = 0; d < 2; d++)
                dsql_token_free(first[s][r][d]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amz_date_matches_gmtime),
        cmocka_unit_test(test_uri_encode_matches_reference),
        cmocka_unit_test(test_signing_key_memo),
        cmocka_unit_test(test_session_token_memo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
