/* One const credentials value shared by threads that mint at the same time (also run
 * under TSan). Only one call at a time uses the value's memo; the others sign with a
 * temporary one. With one scope for every thread the memo derives its key and encodes its
 * session token exactly once, whoever holds it; with a scope per thread every token is
 * still the one minted before the threads started. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"
#include "dsql/dsql.h"
#include "testutil.h"

#define THREADS 4
#define ROUNDS  400

static const char *const regions[THREADS] = {"us-east-1", "eu-west-1", "ap-south-1", "us-west-2"};
static dsql_credentials shared = DSQL_CREDENTIALS_INIT;
static char *expected[THREADS];

typedef struct worker_arg {
    pthread_barrier_t *start;
    int id;
    bool one_scope;
    int bad;
} worker_arg;

static char *mint(const dsql_credentials *c, const char *region)
{
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    p.region = region;
    p.signing_time = 1795626000;
    char *t = NULL;
    if (dsql_token_generate(&p, c, &t, NULL))
        t = NULL;
    return t;
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    int k = w->one_scope ? 0 : w->id;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS; i++) {
        char *t = mint(&shared, regions[k]);
        if (!t || strcmp(t, expected[k]))
            w->bad++;
        dsql_token_free(t);
    }
    return NULL;
}

static void run(bool one_scope)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){&start, i, one_scope, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    pthread_barrier_destroy(&start);
}

static void test_shared_value(void **state)
{
    (void)state;
    char session[400];
    for (size_t i = 0; i < sizeof session - 1; i++)
        session[i] = "abc+/=XYZ"[i % 9];
    session[sizeof session - 1] = '\0';
    for (int k = 0; k < THREADS; k++) {
        dsql_credentials c = DSQL_CREDENTIALS_INIT;
        assert_int_equal(dsql_credentials_set(&c, "AKIDEXAMPLE", "secret-one", session, 0, NULL),
                         DSQL_OK);
        assert_non_null(expected[k] = mint(&c, regions[k]));
        dsql_credentials_clear(&c);
    }
    assert_int_equal(dsql_credentials_set(&shared, "AKIDEXAMPLE", "secret-one", session, 0, NULL),
                     DSQL_OK);
    run(true);
    unsigned long d, e;
    dsql__sigv4_memo_stats(&shared, &d, &e);
    assert_int_equal(d, 1);
    assert_int_equal(e, 1);
    run(false);
    dsql__sigv4_memo_stats(&shared, &d, &e);
    assert_int_equal(e, 1); /* keys come and go with the scopes; the token stays */
    dsql_credentials_clear(&shared);
    for (int k = 0; k < THREADS; k++)
        dsql_token_free(expected[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shared_value)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
