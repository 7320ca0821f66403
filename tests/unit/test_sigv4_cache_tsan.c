/* The signing-key cache shared by threads (also run under TSan): four threads mint tokens
 * for more scopes than the cache has slots, and every token matches the one minted before
 * the threads started. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dsql/dsql.h"
#include "testutil.h"

#define SCOPES 12

static const char *const secrets[] = {"secret-one", "secret-two", "secret-three"};
static const char *const regions[] = {"us-east-1", "eu-west-1", "ap-south-1", "us-west-2"};
static char *expected[SCOPES];

static char *mint(int k)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    /* Each secret with its own session token: the threads also take turns replacing the
     * remembered encoding of the session token. */
    char session[400];
    for (size_t i = 0; i < sizeof session - 1; i++)
        session[i] = "abc+/=XYZ"[(i + (size_t)k / 4) % 9];
    session[sizeof session - 1] = '\0';
    if (dsql_credentials_set(&c, "AKIDEXAMPLE", secrets[k / 4], session, 0, NULL))
        return NULL;
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    p.region = regions[k % 4];
    p.signing_time = 1795626000;
    char *t = NULL;
    if (dsql_token_generate(&p, &c, &t, NULL))
        t = NULL;
    dsql_credentials_clear(&c);
    return t;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg, bad = 0;
    for (int i = 0; i < 400; i++) {
        int k = (i * 5 + id * 3) % SCOPES;
        char *t = mint(k);
        if (!t || strcmp(t, expected[k]))
            bad++;
        dsql_token_free(t);
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void **state)
{
    (void)state;
    for (int k = 0; k < SCOPES; k++)
        assert_non_null(expected[k] = mint(k));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    for (int k = 0; k < SCOPES; k++)
        dsql_token_free(expected[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
