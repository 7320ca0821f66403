/* After dsql_credentials_clear (and dsql_credentials_set, which replaces the memo), no
 * byte of the signer's memo is left in freed memory. The memo and the OpenSSL digest
 * states that hold its signing key are allocated through OpenSSL's allocator, so this
 * test routes that allocator through its own functions (CRYPTO_set_mem_functions, before
 * anything else runs) and looks at every block as it is freed: each must be all zeros. */
#include <string.h>

#include <openssl/crypto.h>

#include "authtest.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

/* Each block carries its size in front of it. */
typedef union header {
    size_t size;
    max_align_t align;
} header;

#define MAX_WATCHED 8

static struct {
    bool on;                         /* looking at frees (only inside the calls under test) */
    size_t freed, dirty;             /* blocks freed while on; of them, not all zeros */
    size_t dirty_bytes;              /* non-zero bytes in those */
    dsql__span watched[MAX_WATCHED]; /* the memo's own blocks */
    bool watched_freed[MAX_WATCHED];
    size_t nwatched;
} seen;

static void *hook_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    header *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    return h + 1;
}

static void hook_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (!p)
        return;
    header *h = (header *)p - 1;
    if (seen.on) {
        const unsigned char *b = p;
        size_t nonzero = 0;
        for (size_t i = 0; i < h->size; i++)
            nonzero += b[i] != 0;
        seen.freed++;
        seen.dirty += nonzero != 0;
        seen.dirty_bytes += nonzero;
        for (size_t i = 0; i < seen.nwatched; i++)
            if (seen.watched[i].p == p && seen.watched[i].n <= h->size)
                seen.watched_freed[i] = true;
    }
    free(h);
}

static void *hook_realloc(void *p, size_t n, const char *file, int line)
{
    if (!p)
        return hook_malloc(n, file, line);
    header *h = (header *)p - 1;
    void *q = hook_malloc(n, file, line);
    if (!q)
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    hook_free(p, file, line);
    return q;
}

static char session[1025];

static void mint_some(const dsql_credentials *c)
{
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    p.region = "us-east-1";
    p.signing_time = 1795626000;
    for (int i = 0; i < 2; i++) {
        char *t = NULL;
        assert_int_equal(dsql_token_generate(&p, c, &t, NULL), DSQL_OK);
        dsql_token_free(t);
    }
}

/* Starts watching the memo of c (which has signed, so it holds a key and a token). */
static void watch(const dsql_credentials *c)
{
    unsigned long d, e;
    dsql__sigv4_memo_stats(c, &d, &e);
    assert_int_equal(d, 1);
    assert_int_equal(e, 1);
    memset(&seen, 0, sizeof seen);
    seen.nwatched = dsql__sigv4_memo_blocks(c, seen.watched, MAX_WATCHED);
    assert_int_equal(seen.nwatched, 2); /* the memo, its session token */
    assert_true(seen.watched[1].n > 2 * (sizeof session - 1));
    seen.on = true;
}

/* Sets c (with the long session token), signs with it and starts watching its memo. */
static void set_sign_and_watch(dsql_credentials *c)
{
    assert_int_equal(dsql_credentials_set(c, "ASIAX", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                          session, 0, NULL),
                     DSQL_OK);
    mint_some(c);
    watch(c);
}

static void check_watched(void)
{
    seen.on = false;
    for (size_t i = 0; i < seen.nwatched; i++)
        assert_true(seen.watched_freed[i]);
    /* The memo's two blocks and OpenSSL's for its three digest contexts (each a context
     * and its SHA-256 state). */
    assert_int_equal(seen.freed, 8);
    if (seen.dirty)
        print_error("%zu of %zu freed blocks held %zu non-zero bytes\n", seen.dirty, seen.freed,
                    seen.dirty_bytes);
    assert_int_equal(seen.dirty, 0);
}

static void test_clear_wipes_the_memo(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    set_sign_and_watch(&c);
    dsql_credentials_clear(&c);
    check_watched();
    assert_null(c.priv_);
}

static void test_set_wipes_the_memo_it_replaces(void **state)
{
    (void)state;
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    set_sign_and_watch(&c);
    /* The new memo is allocated (not freed) meanwhile; only the old one's frees count. */
    assert_int_equal(dsql_credentials_set(&c, "ASIAX", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ",
                                          session, 0, NULL),
                     DSQL_OK);
    check_watched();
    unsigned long d, e;
    dsql__sigv4_memo_stats(&c, &d, &e); /* a new, empty memo (maybe at the old address) */
    assert_non_null(c.priv_);
    assert_int_equal(d, 0);
    assert_int_equal(e, 0);
    dsql_credentials_clear(&c);
}

/* A provider's copies: the pool's pattern, minted from and cleared. */
static void test_provider_copy_wiped(void **state)
{
    (void)state;
    dsql_credentials_provider *prov;
    assert_int_equal(dsql_credentials_provider_static(
                         "ASIAX", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", session, &prov, NULL),
                     DSQL_OK);
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    assert_int_equal(dsql_credentials_provider_get(prov, &c, NULL), DSQL_OK);
    mint_some(&c);
    watch(&c);
    dsql_credentials_clear(&c);
    check_watched();
    dsql_credentials_provider_free(prov);
}

int main(void)
{
    /* Before OpenSSL allocates anything. */
    if (!CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free)) {
        fprintf(stderr, "test_sigv4_wipe: OpenSSL allocated before main\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof session - 1; i++)
        session[i] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i * 7 % 65];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear_wipes_the_memo),
        cmocka_unit_test(test_set_wipes_the_memo_it_replaces),
        cmocka_unit_test(test_provider_copy_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
