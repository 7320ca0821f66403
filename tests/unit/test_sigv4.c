/* The signer's parts and its per-thread caches (test_sigv4_fast has the date and the
 * strbuf encoder): HMAC against OpenSSL's, the encoding of every byte, the signing-key
 * cache (reused within a day, a new key for a new day, rotated or other credentials,
 * another region, eviction) and the session token's cached encoding, every token compared
 * with an independent reference. */
#include <pthread.h>
#include <string.h>

#include <cjson/cJSON.h>

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

/* ---- the caches, observed from a fresh thread (so that they start empty) ---- */

#define HOST "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
#define T0   1795626000 /* 2026-11-25T17:00:00Z */

typedef struct run {
    int failed_line; /* 0: every check passed */
    char what[256];
} run;

#define CHECK(r, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (r)->failed_line = __LINE__;                                                           \
            snprintf((r)->what, sizeof(r)->what, "%s", #cond);                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Mints with the library and the reference; true when they agree. *derived and *encoded
 * get how many signing keys and session tokens this mint added to the thread's count. */
static bool mint(const char *region, time_t when, const char *akid, const char *secret,
                 const char *session_token, unsigned long *derived, unsigned long *encoded,
                 char **out)
{
    unsigned long d0, e0, d1, e1;
    dsql__sigv4_thread_stats(&d0, &e0);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    if (dsql_credentials_set(&c, akid, secret, session_token, 0, NULL) != DSQL_OK)
        return false;
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = HOST;
    p.region = region;
    p.signing_time = when;
    char *token = NULL;
    int rc = dsql_token_generate(&p, &c, &token, NULL);
    dsql_credentials_clear(&c);
    dsql__sigv4_thread_stats(&d1, &e1);
    *derived = d1 - d0;
    *encoded = e1 - e0;
    if (rc != DSQL_OK)
        return false;
    char *ref = ref_token(HOST, region, 0, 900, when, akid, secret, session_token);
    bool same = strcmp(token, ref) == 0;
    free(ref);
    if (out)
        *out = token;
    else
        dsql_token_free(token);
    return same;
}

typedef struct job {
    void (*fn)(run *);
    run r;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    j->fn(&j->r);
    return NULL;
}

static void run_in_thread(void (*fn)(run *))
{
    job j = {fn, {0, ""}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, job_main, &j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (j.r.failed_line)
        print_error("check at line %d failed: %s\n", j.r.failed_line, j.r.what);
    assert_int_equal(j.r.failed_line, 0);
}

#define SECRET_A "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SECRET_B "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ" /* same length, last byte */

static void key_cache_scenario(run *r)
{
    unsigned long d, e;
    char *t1, *t2;
    /* First token of the thread: one derivation; the same day again: none. */
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_A, NULL, &d, &e, &t1));
    CHECK(r, d == 1);
    CHECK(r, mint("us-east-1", T0 + 3600, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    CHECK(r, mint("us-east-1", T0 - 61200, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    /* Another access key id with the same secret: the key depends on the secret only. */
    CHECK(r, mint("us-east-1", T0, "AKIDOTHER", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    /* A new UTC day (2026-11-26T00:00:00Z): a new key; the old day's still serves. */
    CHECK(r, mint("us-east-1", T0 + 25200, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", T0 + 25199, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    /* Rotated secret, same key id and length: never the stale key. */
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_B, NULL, &d, &e, &t2) && d == 1);
    CHECK(r, strcmp(t1, t2) != 0);
    dsql_token_free(t1);
    dsql_token_free(t2);
    /* A secret that is a prefix of a cached one, and one that extends it. */
    CHECK(r, mint("us-east-1", T0, "AKIDA", "wJalrXUtnFEMI", NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_A "x", NULL, &d, &e, NULL) && d == 1);
    /* Four keys are kept (A for the 25th, B, the prefix, the extension): the extension
     * evicted the stalest, A for the 26th; A for the 25th still serves. */
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    /* For the 26th every slot is another day's: the least recently used (B) goes. */
    CHECK(r, mint("us-east-1", T0 + 25200, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_B, NULL, &d, &e, NULL) && d == 1);
    /* B took the slot of the 26th (the only other day's); another region is another key,
     * in the least recently used slot (the prefix's). */
    CHECK(r, mint("eu-west-1", T0, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", T0, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    CHECK(r, mint("eu-west-1", T0, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 0);
    CHECK(r, mint("us-east-1", T0, "AKIDA", "wJalrXUtnFEMI", NULL, &d, &e, NULL) && d == 1);
    /* Secrets longer than a SHA-256 block ("AWS4" + secret > 64 bytes) are hashed first. */
    static const char long_secret[] =
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
    CHECK(r, mint("us-east-1", T0, "AKIDA", long_secret, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", T0, "AKIDA", long_secret, NULL, &d, &e, NULL) && d == 0);
    /* A leap day and the first second of a year. */
    CHECK(r, mint("us-east-1", 1709251199, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", 1709251200, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);
    CHECK(r, mint("us-east-1", 1767225600, "AKIDA", SECRET_A, NULL, &d, &e, NULL) && d == 1);

    /* STS header signing shares the cache, with its own service in the scope: the AWS
     * documentation's example still signs right with a dsql key for the same day cached. */
    CHECK(r, mint("us-east-1", 1440938160, "AKIDEXAMPLE",
                  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, &d, &e, NULL) &&
                 d == 1);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    CHECK(r, dsql_credentials_set(&c, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  NULL, 0, NULL) == DSQL_OK);
    dsql__sigv4_request q = {0};
    q.method = "GET";
    q.host = "iam.amazonaws.com";
    q.path = "/";
    q.query = "Action=ListUsers&Version=2010-05-08";
    q.content_type = "application/x-www-form-urlencoded; charset=utf-8";
    q.region = "us-east-1";
    q.service = "iam";
    q.when = 1440938160; /* 2015-08-30T12:36:00Z */
    char amzdate[17], hash[DSQL__SHA256_HEX];
    dsql__strbuf auth = DSQL__STRBUF_INIT;
    for (int i = 0; i < 2; i++) { /* derived, then cached */
        unsigned long d0, e0, d1, e1;
        dsql__sigv4_thread_stats(&d0, &e0);
        CHECK(r, dsql__sigv4_sign_headers(&q, &c, amzdate, hash, &auth, NULL) == DSQL_OK);
        dsql__sigv4_thread_stats(&d1, &e1);
        CHECK(r, d1 - d0 == (i == 0 ? 1u : 0u));
        CHECK(r, strstr(auth.data, "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e0"
                                   "6b5924a6f2b5d7") != NULL);
    }
    dsql__sb_free(&auth);
    dsql_credentials_clear(&c);
}

static void test_key_cache(void **state)
{
    (void)state;
    run_in_thread(key_cache_scenario);
}

static void session_token_scenario(run *r)
{
    unsigned long d, e;
    /* 1 KiB of base64 (with + / =), then the same text at another address. */
    char x[1025], x_copy[1025], y[1025];
    for (size_t i = 0; i < 1024; i++)
        x[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i * 7 % 65];
    x[1024] = '\0';
    memcpy(x_copy, x, sizeof x);
    memcpy(y, x, sizeof x);
    y[1023] = y[1023] == 'A' ? 'B' : 'A'; /* same length, last byte differs */
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, x, &d, &e, NULL) && e == 1);
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, x_copy, &d, &e, NULL) && e == 0);
    CHECK(r, mint("us-east-1", T0 + 1, "ASIAX", SECRET_A, x, &d, &e, NULL) && e == 0);
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, y, &d, &e, NULL) && e == 1);
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, x, &d, &e, NULL) && e == 1);
    /* A prefix of the cached token, and a longer one starting with it. */
    x_copy[100] = '\0';
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, x_copy, &d, &e, NULL) && e == 1);
    char longer[1100];
    snprintf(longer, sizeof longer, "%s%s", x, "/+=");
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, longer, &d, &e, NULL) && e == 1);
    /* Long-term credentials: no token, nothing encoded; the cached one still serves. */
    CHECK(r, mint("us-east-1", T0, "AKIDX", SECRET_A, NULL, &d, &e, NULL) && e == 0);
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, longer, &d, &e, NULL) && e == 0);
    /* Bytes outside ASCII and every reserved character. */
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, "\xc3\xa9 !\"#$%&'()*,:;<>?@[\\]^`{|}", &d,
                  &e, NULL) &&
                 e == 1);
}

static void test_session_token_cache(void **state)
{
    (void)state;
    run_in_thread(session_token_scenario);
}

/* Each thread has its own caches: a thread that starts later derives its own key. */
static void one_mint(run *r)
{
    unsigned long d, e;
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, "tok", &d, &e, NULL) && d == 1 && e == 1);
    CHECK(r, mint("us-east-1", T0, "ASIAX", SECRET_A, "tok", &d, &e, NULL) && d == 0 && e == 0);
}

static void test_caches_are_per_thread(void **state)
{
    (void)state;
    run_in_thread(one_mint);
    run_in_thread(one_mint);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_matches_openssl),
        cmocka_unit_test(test_uri_encode_every_byte),
        cmocka_unit_test(test_reference_matches_vectors),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_session_token_cache),
        cmocka_unit_test(test_caches_are_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
