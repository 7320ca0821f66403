/* The signer's parts and the memo a credentials value keeps for it (test_sigv4_fast has
 * the date and the strbuf encoder): HMAC and SipHash against OpenSSL's, the encoding of
 * every byte, then exact counts of signing-key derivations and session token encodings
 * per credentials value — reused within a day and scope, derived again for a new date,
 * region or service, after dsql_credentials_set with a rotated secret, and after the
 * caller edits a field directly — every token compared with an independent reference. */
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "authtest.h"
#include "sigv4ref.h"
#include "auth/internal.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

static void test_hmac_matches_openssl(void **state)
{
    (void)state;
    static const size_t key_lens[] = {0, 1, 4, 31, 32, 33, 63, 64, 65, 100, 203};
    static const size_t msg_lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 200, 1000};
    unsigned char key[256], msg[1024];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 31 + 7);
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)(i * 17 + 3);
    for (size_t k = 0; k < DSQL__ARRAY_LEN(key_lens); k++) {
        for (size_t m = 0; m < DSQL__ARRAY_LEN(msg_lens); m++) {
            unsigned char want[32], got[32];
            unsigned int len = 32;
            assert_non_null(
                HMAC(EVP_sha256(), key, (int)key_lens[k], msg, msg_lens[m], want, &len));
            assert_true(dsql__hmac_sha256(key, key_lens[k], msg, msg_lens[m], got));
            assert_memory_equal(got, want, 32);
        }
    }
}

static void test_uri_encode_every_byte(void **state)
{
    (void)state;
    char in[2] = {0, 0}, out[8];
    for (int c = 1; c < 256; c++) {
        in[0] = (char)c;
        char *want = ref_encode(in);
        assert_int_equal(dsql__uri_encoded_len(in, 1), strlen(want));
        char *end = dsql__uri_encode_to(out, in, 1);
        *end = '\0';
        assert_string_equal(out, want);
        free(want);
    }
    /* NUL inside a counted string is encoded too. */
    assert_int_equal(dsql__uri_encoded_len("a\0b", 3), 5);
    char *end = dsql__uri_encode_to(out, "a\0b", 3);
    assert_int_equal(end - out, 5);
    assert_memory_equal(out, "a%00b", 5);
}

/* The reference agrees with the official signer (so that it can judge other inputs). */
static void test_reference_matches_vectors(void **state)
{
    (void)state;
    char *text = tu_read_file(tu_data_path("token_vectors_extra.jsonl"), NULL);
    int count = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *v = cJSON_Parse(line);
        assert_non_null(v);
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(v, "session_token");
        time_t when;
        assert_true(dsql__parse_iso8601(
            cJSON_GetObjectItemCaseSensitive(v, "signing_time")->valuestring, &when));
        char *ref = ref_token(
            cJSON_GetObjectItemCaseSensitive(v, "hostname")->valuestring,
            cJSON_GetObjectItemCaseSensitive(v, "region")->valuestring,
            !strcmp(cJSON_GetObjectItemCaseSensitive(v, "action")->valuestring, "DbConnectAdmin"),
            (long)cJSON_GetObjectItemCaseSensitive(v, "expires_in")->valuedouble, when,
            cJSON_GetObjectItemCaseSensitive(v, "access_key_id")->valuestring,
            cJSON_GetObjectItemCaseSensitive(v, "secret_access_key")->valuestring,
            cJSON_IsString(tok) && *tok->valuestring ? tok->valuestring : NULL);
        assert_string_equal(ref, cJSON_GetObjectItemCaseSensitive(v, "token")->valuestring);
        free(ref);
        cJSON_Delete(v);
        count++;
    }
    free(text);
    assert_int_equal(count, 31);
}

static void test_siphash_matches_openssl(void **state)
{
    (void)state;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    assert_non_null(mac);
    unsigned char key[16], msg[100];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)i;
    /* The reference implementation's first 128-bit vector (key 00..0f, empty message). */
    static const unsigned char empty[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                            0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    unsigned char got[16];
    dsql__siphash128(key, msg, 0, got);
    assert_memory_equal(got, empty, 16);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            for (size_t i = 0; i < sizeof key; i++)
                key[i] = (unsigned char)(i * 73 + 11);
        for (size_t n = 0; n <= sizeof msg; n++) {
            EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
            size_t size = 16, outlen = 0;
            OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                   OSSL_PARAM_construct_end()};
            unsigned char want[16];
            assert_non_null(ctx);
            assert_int_equal(EVP_MAC_init(ctx, key, sizeof key, params), 1);
            assert_int_equal(EVP_MAC_update(ctx, msg, n), 1);
            assert_int_equal(EVP_MAC_final(ctx, want, &outlen, sizeof want), 1);
            assert_int_equal(outlen, 16);
            EVP_MAC_CTX_free(ctx);
            dsql__siphash128(key, msg, n, got);
            assert_memory_equal(got, want, 16);
        }
    }
    EVP_MAC_free(mac);
}

/* ---- the memo of one credentials value ---- */

#define HOST "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
#define T0   1795626000 /* 2026-11-25T17:00:00Z */

#define SECRET_A "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SECRET_B "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ" /* same length, last byte */

static unsigned long derived_by, encoded_by; /* what the last mint() added to the memo */

/* Mints with c as it is now and compares with the reference for c's current fields;
 * derived_by and encoded_by get what this mint added to c's memo counts. The token goes
 * to *out when out is not NULL. */
static bool mint(dsql_credentials *c, const char *region, time_t when, char **out)
{
    unsigned long d0, e0, d1, e1;
    dsql__sigv4_memo_stats(c, &d0, &e0);
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = HOST;
    p.region = region;
    p.signing_time = when;
    char *token = NULL;
    int rc = dsql_token_generate(&p, c, &token, NULL);
    dsql__sigv4_memo_stats(c, &d1, &e1);
    derived_by = d1 - d0;
    encoded_by = e1 - e0;
    if (rc != DSQL_OK)
        return false;
    const char *st = c->session_token && *c->session_token ? c->session_token : NULL;
    char *ref = ref_token(HOST, region, 0, 900, when, c->access_key_id, c->secret_access_key, st);
    bool same = strcmp(token, ref) == 0;
    if (!same)
        print_error("got  %s\nwant %s\n", token, ref);
    free(ref);
    if (out)
        *out = token;
    else
        dsql_token_free(token);
    return same;
}

#define MINT(c, region, when, d, e)                                                                \
    do {                                                                                           \
        assert_true(mint(c, region, when, NULL));                                                  \
        assert_int_equal(derived_by, d);                                                           \
        assert_int_equal(encoded_by, e);                                                           \
    } while (0)

static void totals(const dsql_credentials *c, unsigned long d, unsigned long e)
{
    unsigned long dd, ee;
    dsql__sigv4_memo_stats(c, &dd, &ee);
    assert_int_equal(dd, d);
    assert_int_equal(ee, e);
}

/* Replaces a field the way a caller may: a new malloc'd string, the old one freed. */
static void replace(char **field, const char *value)
{
    char *old = *field;
    *field = value ? strdup(value) : NULL;
    free(old);
}

static void test_key_reused_within_day_and_scope(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "AKIDA", SECRET_A, NULL, 0, NULL), DSQL_OK);
    assert_non_null(c.priv_);
    totals(&c, 0, 0);
    MINT(&c, "us-east-1", T0, 1, 0);
    MINT(&c, "us-east-1", T0, 0, 0);
    MINT(&c, "us-east-1", T0 + 3600, 0, 0);  /* later that day */
    MINT(&c, "us-east-1", T0 - 61200, 0, 0); /* its first second */
    /* A new UTC day (2026-11-26T00:00:00Z): a new key; going back derives again (the memo
     * keeps the last scope's key only). */
    MINT(&c, "us-east-1", T0 + 25200, 1, 0);
    MINT(&c, "us-east-1", T0 + 25200 + 86399, 0, 0);
    MINT(&c, "us-east-1", T0 + 25199, 1, 0);
    /* Another region, and back. */
    MINT(&c, "eu-west-1", T0, 1, 0);
    MINT(&c, "eu-west-1", T0 + 60, 0, 0);
    MINT(&c, "us-east-1", T0, 1, 0);
    /* Another access key id: the key depends on the secret only. */
    replace(&c.access_key_id, "AKIDOTHER");
    MINT(&c, "us-east-1", T0, 0, 0);
    /* A leap day, the next, and the first second of a year. */
    MINT(&c, "us-east-1", 1709251199, 1, 0);
    MINT(&c, "us-east-1", 1709251200, 1, 0);
    MINT(&c, "us-east-1", 1767225600, 1, 0);
    totals(&c, 8, 0);
    dsql_credentials_clear(&c);
    assert_null(c.priv_);
}

static void test_set_starts_a_new_memo(void **state)
{
    (void)state;
    char x[1025];
    for (size_t i = 0; i < 1024; i++)
        x[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i * 7 % 65];
    x[1024] = '\0';
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    char *t1, *t2;
    assert_int_equal(dsql_credentials_set(&c, "ASIAX", SECRET_A, x, 0, NULL), DSQL_OK);
    assert_true(mint(&c, "us-east-1", T0, &t1));
    assert_int_equal(derived_by, 1);
    assert_int_equal(encoded_by, 1);
    MINT(&c, "us-east-1", T0 + 1, 0, 0);
    /* Rotated: same key id, a secret of the same length, the same session token. The new
     * memo starts empty, so the key is derived (and the token encoded) again. */
    assert_int_equal(dsql_credentials_set(&c, "ASIAX", SECRET_B, x, 0, NULL), DSQL_OK);
    assert_non_null(c.priv_);
    totals(&c, 0, 0);
    assert_true(mint(&c, "us-east-1", T0, &t2));
    assert_int_equal(derived_by, 1);
    assert_int_equal(encoded_by, 1);
    assert_string_not_equal(t1, t2);
    MINT(&c, "us-east-1", T0 + 2, 0, 0);
    /* set with its own fields as arguments (they are copied first). */
    assert_int_equal(
        dsql_credentials_set(&c, c.access_key_id, c.secret_access_key, c.session_token, 0, NULL),
        DSQL_OK);
    totals(&c, 0, 0);
    MINT(&c, "us-east-1", T0, 1, 1);
    dsql_token_free(t1);
    dsql_token_free(t2);
    dsql_credentials_clear(&c);
}

/* The fields are public: whatever the caller does to them, the memo serves only what it
 * was computed from. */
static void test_fields_edited_directly(void **state)
{
    (void)state;
    char x[1025], longer[1100];
    for (size_t i = 0; i < 1024; i++)
        x[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i * 7 % 65];
    x[1024] = '\0';
    snprintf(longer, sizeof longer, "%s%s", x, "/+=");
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "ASIAX", SECRET_A, x, 0, NULL), DSQL_OK);
    MINT(&c, "us-east-1", T0, 1, 1);
    MINT(&c, "us-east-1", T0, 0, 0);

    /* The secret key: its last byte changed in place (same pointer, same length). */
    size_t last = strlen(SECRET_A) - 1;
    c.secret_access_key[last] = 'Z';
    assert_string_equal(c.secret_access_key, SECRET_B);
    MINT(&c, "us-east-1", T0, 1, 0);
    MINT(&c, "us-east-1", T0, 0, 0);
    c.secret_access_key[last] = 'Y';
    MINT(&c, "us-east-1", T0, 1, 0);
    /* The same bytes at another address: the bytes decide, not the pointer. */
    replace(&c.secret_access_key, SECRET_A);
    MINT(&c, "us-east-1", T0, 0, 0);
    /* A prefix of it, one that extends it, one past a SHA-256 block ("AWS4" + secret >
     * 64 bytes is hashed first). */
    replace(&c.secret_access_key, "wJalrXUtnFEMI");
    MINT(&c, "us-east-1", T0, 1, 0);
    replace(&c.secret_access_key, SECRET_A "x");
    MINT(&c, "us-east-1", T0, 1, 0);
    replace(&c.secret_access_key,
            "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
    MINT(&c, "us-east-1", T0, 1, 0);
    MINT(&c, "us-east-1", T0, 0, 0);
    replace(&c.secret_access_key, SECRET_A);
    MINT(&c, "us-east-1", T0, 1, 0);

    /* The session token: its last byte changed in place, then back. */
    char *st = c.session_token;
    st[1023] = st[1023] == 'A' ? 'B' : 'A';
    MINT(&c, "us-east-1", T0, 0, 1);
    MINT(&c, "us-east-1", T0, 0, 0);
    st[1023] = x[1023];
    MINT(&c, "us-east-1", T0, 0, 1);
    /* The same text at another address: nothing to encode. */
    replace(&c.session_token, x);
    MINT(&c, "us-east-1", T0, 0, 0);
    /* Cut short in place, then a longer token that starts with it. */
    c.session_token[100] = '\0';
    MINT(&c, "us-east-1", T0, 0, 1);
    replace(&c.session_token, longer);
    MINT(&c, "us-east-1", T0, 0, 1);
    /* No token (NULL, then empty): none in the token; the memo keeps the last one. */
    replace(&c.session_token, NULL);
    MINT(&c, "us-east-1", T0, 0, 0);
    replace(&c.session_token, "");
    MINT(&c, "us-east-1", T0, 0, 0);
    replace(&c.session_token, longer);
    MINT(&c, "us-east-1", T0, 0, 0);
    /* Bytes outside ASCII and every reserved character. */
    replace(&c.session_token, "\xc3\xa9 !\"#$%&'()*,:;<>?@[\\]^`{|}");
    MINT(&c, "us-east-1", T0, 0, 1);
    totals(&c, 7, 6);
    dsql_credentials_clear(&c);
}

/* STS header signing shares the memo, with its own service in the scope. */
static void test_header_signing_shares_the_memo(void **state)
{
    (void)state;
    dsql_credentials c;
    dsql__sigv4_request q;
    at_iam_example(&c, &q); /* at 1440938160, 2015-08-30T12:36:00Z */
    char amzdate[17], hash[DSQL__SHA256_HEX];
    dsql__strbuf auth = DSQL__STRBUF_INIT;
    /* derived, then from the memo; a dsql token of the same day takes the memo's one slot,
     * so the iam key is derived again after it. */
    const unsigned long want_total[] = {1, 1, 3};
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            MINT(&c, "us-east-1", 1440938160, 1, 0);
        assert_int_equal(dsql__sigv4_sign_headers(&q, &c, amzdate, hash, &auth, NULL), DSQL_OK);
        totals(&c, want_total[i], 0);
        assert_non_null(strstr(auth.data, "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c8"
                                          "2c400e06b5924a6f2b5d7"));
    }
    dsql__sb_free(&auth);
    dsql_credentials_clear(&c);
}

/* Credentials filled by hand have no memo: every token is signed from scratch. */
static void test_credentials_without_memo(void **state)
{
    (void)state;
    char akid[] = "ASIAX", secret[] = SECRET_A, token[] = "tok+en/=";
    dsql_credentials c = {akid, secret, token, 0, "by hand", NULL};
    for (int i = 0; i < 3; i++) {
        MINT(&c, "us-east-1", T0 + i, 0, 0);
        assert_null(c.priv_);
    }
}

/* A memo that another call holds (the same const credentials signed from two threads at
 * once) is not touched: the second call signs with a temporary one. */
static void test_busy_memo_is_left_alone(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "ASIAX", SECRET_A, "tok+en/=", 0, NULL), DSQL_OK);
    dsql__signer s;
    assert_int_equal(dsql__signer_begin(&s, &c, NULL), DSQL_OK);
    assert_false(s.temporary);
    for (int i = 0; i < 2; i++)
        MINT(&c, "us-east-1", T0, 0, 0);
    dsql__signer_end(&s);
    MINT(&c, "us-east-1", T0, 1, 1);
    MINT(&c, "us-east-1", T0, 0, 0);
    dsql_credentials_clear(&c);
}

/* Each copy a provider hands out has a memo of its own, built on first use. */
static void test_provider_copies_have_their_own_memo(void **state)
{
    (void)state;
    dsql_credentials_provider *prov;
    assert_int_equal(dsql_credentials_provider_static("ASIAX", SECRET_A, "tok+en/=", &prov, NULL),
                     DSQL_OK);
    dsql_credentials a = DSQL_CREDENTIALS_INIT, b = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_provider_get(prov, &a, NULL), DSQL_OK);
    assert_int_equal(dsql_credentials_provider_get(prov, &b, NULL), DSQL_OK);
    assert_non_null(a.priv_);
    assert_non_null(b.priv_);
    assert_ptr_not_equal(a.priv_, b.priv_);
    MINT(&a, "us-east-1", T0, 1, 1);
    MINT(&a, "us-east-1", T0, 0, 0);
    totals(&b, 0, 0);
    MINT(&b, "us-east-1", T0, 1, 1);
    MINT(&b, "us-east-1", T0, 0, 0);
    /* A get into a value that already holds credentials replaces its memo too. */
    assert_int_equal(dsql_credentials_provider_get(prov, &a, NULL), DSQL_OK);
    totals(&a, 0, 0);
    MINT(&a, "us-east-1", T0, 1, 1);
    dsql_credentials_clear(&a);
    dsql_credentials_clear(&b);
    dsql_credentials_provider_free(prov);
}

/* Extra query parameters are sorted by their encoded keys, as SigV4 requires: the
 * presigned URL's query and signature equal a plain reference built that way. */
typedef struct kv {
    char *k, *v; /* encoded */
} kv;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

static void test_presign_sorts_encoded_keys(void **state)
{
    (void)state;
    static const dsql__sigv4_param params[] = {
        {"a", "1"}, {"{x}", "2"}, {"\xC3\xA9", "3"}, {"Z", "4"}, {"~t", "5 6"}};
    const size_t np = sizeof params / sizeof params[0];
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE", "SECRET", "TOKEN/+=", 0, NULL),
                     DSQL_OK);
    const time_t when = 1764086400; /* 2025-11-25T16:00:00Z */
    char *url;
    assert_int_equal(dsql__sigv4_presign("host.example", params, np, "us-east-1", "svc", when, 60,
                                         &c, &url, NULL),
                     DSQL_OK);

    /* the reference: every parameter encoded, sorted by encoded key */
    kv all[16];
    size_t n = 0;
    for (size_t i = 0; i < np; i++)
        all[n++] = (kv){ref_encode(params[i].key), ref_encode(params[i].value)};
    all[n++] = (kv){strdup("X-Amz-Algorithm"), strdup("AWS4-HMAC-SHA256")};
    all[n++] = (kv){strdup("X-Amz-Credential"),
                    ref_encode("AKIDEXAMPLE/20251125/us-east-1/svc/aws4_request")};
    all[n++] = (kv){strdup("X-Amz-Date"), strdup("20251125T160000Z")};
    all[n++] = (kv){strdup("X-Amz-Expires"), strdup("60")};
    all[n++] = (kv){strdup("X-Amz-Security-Token"), ref_encode("TOKEN/+=")};
    all[n++] = (kv){strdup("X-Amz-SignedHeaders"), strdup("host")};
    qsort(all, n, sizeof all[0], kv_cmp);
    char query[2048] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(query + strlen(query), sizeof query - strlen(query), "%s%s=%s", i ? "&" : "",
                 all[i].k, all[i].v);
    assert_string_equal(query, "%7Bx%7D=2&%C3%A9=3&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                               "X-Amz-Credential=AKIDEXAMPLE%2F20251125%2Fus-east-1%2Fsvc%2F"
                               "aws4_request&X-Amz-Date=20251125T160000Z&X-Amz-Expires=60&"
                               "X-Amz-Security-Token=TOKEN%2F%2B%3D&X-Amz-SignedHeaders=host&"
                               "Z=4&a=1&~t=5%206");
    char creq[4096], sts[1024], hash[65], sig[65];
    snprintf(creq, sizeof creq,
             "GET\n/\n%s\nhost:host.example\n\nhost\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             query);
    unsigned char md[32], k1[32], k2[32];
    unsigned int mdlen = 32;
    EVP_Digest(creq, strlen(creq), md, &mdlen, EVP_sha256(), NULL);
    ref_hex(md, 32, hash);
    snprintf(sts, sizeof sts,
             "AWS4-HMAC-SHA256\n20251125T160000Z\n20251125/us-east-1/svc/"
             "aws4_request\n%s",
             hash);
    ref_hmac("AWS4SECRET", 10, "20251125", k1);
    ref_hmac(k1, 32, "us-east-1", k2);
    ref_hmac(k2, 32, "svc", k1);
    ref_hmac(k1, 32, "aws4_request", k2);
    ref_hmac(k2, 32, sts, k1);
    ref_hex(k1, 32, sig);
    /* X-Amz-Signature sorts in among the others */
    char want[4096];
    const char *cut = strstr(query, "&X-Amz-SignedHeaders=");
    snprintf(want, sizeof want, "host.example/?%.*s&X-Amz-Signature=%s%s", (int)(cut - query),
             query, sig, cut);
    assert_string_equal(url, want);
    dsql__free_secret(url);
    for (size_t i = 0; i < n; i++) {
        free(all[i].k);
        free(all[i].v);
    }
    dsql_credentials_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_matches_openssl),
        cmocka_unit_test(test_siphash_matches_openssl),
        cmocka_unit_test(test_uri_encode_every_byte),
        cmocka_unit_test(test_reference_matches_vectors),
        cmocka_unit_test(test_key_reused_within_day_and_scope),
        cmocka_unit_test(test_set_starts_a_new_memo),
        cmocka_unit_test(test_fields_edited_directly),
        cmocka_unit_test(test_header_signing_shares_the_memo),
        cmocka_unit_test(test_credentials_without_memo),
        cmocka_unit_test(test_busy_memo_is_left_alone),
        cmocka_unit_test(test_provider_copies_have_their_own_memo),
        cmocka_unit_test(test_presign_sorts_encoded_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
