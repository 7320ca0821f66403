/* Many threads minting tokens at once with rotating credentials, days and regions: every
 * token is the reference's, each thread's caches are its own, threads that exit free
 * theirs (ASan's leak check), and there is no data race (the TSan build). */
#include <pthread.h>
#include <string.h>

#include "authtest.h"
#include "sigv4ref.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

#define THREADS 8
#define ROUNDS  300
#define HOST    "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"

/* 3 secrets x 2 days x 2 regions x 2 session tokens (one none): 24 inputs, 12 keys. */
enum { NSECRETS = 3, NDAYS = 2, NREGIONS = 2, NTOKENS = 2 };
#define NCASES (NSECRETS * NDAYS * NREGIONS * NTOKENS)

static const char *const secrets[NSECRETS] = {"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                              "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ",
                                              "another+secret/key=="};
static const time_t days[NDAYS] = {1795626000, 1795626000 + 86400};
static const char *const regions[NREGIONS] = {"us-east-1", "eu-west-1"};
static char session_token[1025];

typedef struct tcase {
    const char *secret, *region, *token;
    time_t when;
    char *want;
} tcase;

static tcase cases[NCASES];

typedef struct worker_arg {
    pthread_barrier_t *start;
    int id;
    bool two_keys; /* uses 2 keys and 1 session token only: its counts are exact */
    int mismatches, failures;
    unsigned long derived, encoded;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS; i++) {
        /* Every thread walks the inputs in its own order. */
        int k = w->two_keys ? (i % 2) * 2 * NTOKENS + 1 : (w->id * 7 + i * 5) % NCASES;
        tcase *c = &cases[k];
        dsql_credentials cr = DSQL_CREDENTIALS_INIT;
        dsql_token_params tp = DSQL_TOKEN_PARAMS_INIT;
        tp.hostname = HOST;
        tp.region = c->region;
        tp.signing_time = c->when;
        char *t = NULL;
        if (dsql_credentials_set(&cr, "ASIAIOSFODNN7EXAMPLE", c->secret, c->token, 0, NULL) ||
            dsql_token_generate(&tp, &cr, &t, NULL)) {
            w->failures++;
        } else if (strcmp(t, c->want) != 0) {
            w->mismatches++;
        }
        dsql_token_free(t);
        dsql_credentials_clear(&cr);
    }
    dsql__sigv4_thread_stats(&w->derived, &w->encoded);
    return NULL;
}

static void run_wave(bool with_two_key_threads)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){&start, i, with_two_key_threads && i % 4 == 0, 0, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(args[i].failures, 0);
        assert_int_equal(args[i].mismatches, 0);
        if (args[i].two_keys) {
            /* Two keys, one token, 300 tokens: derived and encoded once each, whatever
             * the other threads did at the same time. */
            assert_int_equal(args[i].derived, 2);
            assert_int_equal(args[i].encoded, 1);
        } else {
            /* 12 keys through 4 slots: re-derived, but never more than once a token. */
            assert_true(args[i].derived >= 12 && args[i].derived <= ROUNDS);
        }
    }
}

static void test_concurrent_minting(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof session_token - 1; i++)
        session_token[i] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64];
    int k = 0;
    for (int s = 0; s < NSECRETS; s++)
        for (int d = 0; d < NDAYS; d++)
            for (int r = 0; r < NREGIONS; r++)
                for (int t = 0; t < NTOKENS; t++) {
                    tcase *c = &cases[k++];
                    c->secret = secrets[s];
                    c->when = days[d];
                    c->region = regions[r];
                    c->token = t ? session_token : NULL;
                    c->want = ref_token(HOST, c->region, 0, 900, c->when, "ASIAIOSFODNN7EXAMPLE",
                                        c->secret, c->token);
                }
    /* Two waves: the first wave's threads have exited (their caches freed) before the
     * second starts. */
    run_wave(true);
    run_wave(false);
    for (int i = 0; i < NCASES; i++)
        free(cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_minting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
