/* Many threads minting tokens at once, each with credentials values of its own, and many
 * threads minting from copies one provider hands out (as a pool's connections do): every
 * token is the reference's, each value's memo counts exactly what that value signed, and
 * there is no data race (the TSan build) and no leak (ASan's leak check). */
#include <pthread.h>
#include <string.h>

#include "authtest.h"
#include "sigv4ref.h"
#include "auth/sigv4.h"
#include "dsql/auth.h"

#define THREADS 8
#define ROUNDS  300
#define HOST    "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
#define AKID    "ASIAIOSFODNN7EXAMPLE"

/* 3 secrets x 2 days x 2 regions x 2 session tokens (one none): 24 inputs. */
enum { NSECRETS = 3, NDAYS = 2, NREGIONS = 2, NTOKENS = 2 };
#define NCASES (NSECRETS * NDAYS * NREGIONS * NTOKENS)

static const char *const secrets[NSECRETS] = {"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                              "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ",
                                              "another+secret/key=="};
static const time_t days[NDAYS] = {1795626000, 1795626000 + 86400};
static const char *const regions[NREGIONS] = {"us-east-1", "eu-west-1"};
static char session_token[1025];

typedef struct tcase {
    int secret, token;
    const char *region;
    time_t when;
    char *want;
} tcase;

static tcase cases[NCASES];

typedef struct worker_arg {
    pthread_barrier_t *start;
    dsql_credentials_provider *provider;
    int id;
    int mismatches, failures, bad_counts;
} worker_arg;

static char *mint(const dsql_credentials *c, const tcase *k)
{
    dsql_token_params tp = DSQL_TOKEN_PARAMS_INIT;
    tp.hostname = HOST;
    tp.region = k->region;
    tp.signing_time = k->when;
    char *t = NULL;
    return dsql_token_generate(&tp, c, &t, NULL) == DSQL_OK ? t : NULL;
}

/* Mints k's token with cr and counts what went wrong: no token, another token than k's,
 * or memo counts (keys derived, tokens encoded) other than want_derived / want_encoded. */
static void mint_and_check(worker_arg *w, dsql_credentials *cr, const tcase *k,
                           unsigned long want_derived, unsigned long want_encoded)
{
    char *t = mint(cr, k);
    if (!t)
        w->failures++;
    else if (strcmp(t, k->want) != 0)
        w->mismatches++;
    dsql_token_free(t);
    unsigned long d, e;
    dsql__sigv4_memo_stats(cr, &d, &e);
    w->bad_counts += d != want_derived || e != want_encoded;
}

/* Each thread keeps one credentials value, set again whenever its walk moves to another
 * secret or session token; the memo it gets then starts over. */
static void *own_value_worker(void *p)
{
    worker_arg *w = p;
    dsql_credentials cr = DSQL_CREDENTIALS_INIT;
    int held_secret = -1, held_token = -1;
    const tcase *last = NULL;
    unsigned long want_derived = 0, want_encoded = 0;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS; i++) {
        /* Every thread walks the inputs in its own order, staying on each for a while. */
        const tcase *c = &cases[(w->id * 7 + i / 3 * 5) % NCASES];
        if (c->secret != held_secret || c->token != held_token) {
            if (dsql_credentials_set(&cr, AKID, secrets[c->secret], c->token ? session_token : NULL,
                                     0, NULL) != DSQL_OK) {
                w->failures++;
                continue;
            }
            held_secret = c->secret;
            held_token = c->token;
            last = NULL;
            want_derived = want_encoded = 0;
        }
        want_derived += !last || last->when != c->when || last->region != c->region;
        want_encoded += !last && c->token;
        last = c;
        mint_and_check(w, &cr, c, want_derived, want_encoded);
    }
    dsql_credentials_clear(&cr);
    return NULL;
}

/* A pool's pattern: a new copy from the shared provider for every connection, one token
 * (here two) from it, then cleared. */
static void *provider_copy_worker(void *p)
{
    worker_arg *w = p;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ROUNDS / 3; i++) {
        const tcase *c = &cases[(w->id * 3 + i) % NCASES];
        if (c->secret != 0 || c->token != 1)
            c = &cases[1]; /* the provider's credentials: secret 0 with the session token */
        dsql_credentials cr = DSQL_CREDENTIALS_INIT;
        if (dsql_credentials_provider_get(w->provider, &cr, NULL) != DSQL_OK) {
            w->failures++;
            continue;
        }
        for (int twice = 0; twice < 2; twice++) {
            mint_and_check(w, &cr, c, 1, 1);
        }
        dsql_credentials_clear(&cr);
    }
    return NULL;
}

static void run_wave(void *(*fn)(void *), dsql_credentials_provider *provider)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){&start, provider, i, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(args[i].failures, 0);
        assert_int_equal(args[i].mismatches, 0);
        assert_int_equal(args[i].bad_counts, 0);
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
                    c->secret = s;
                    c->when = days[d];
                    c->region = regions[r];
                    c->token = t;
                    c->want = ref_token(HOST, c->region, 0, 900, c->when, AKID, secrets[s],
                                        t ? session_token : NULL);
                }
    assert_int_equal(cases[1].secret, 0);
    assert_int_equal(cases[1].token, 1);
    run_wave(own_value_worker, NULL);
    dsql_credentials_provider *prov;
    assert_int_equal(dsql_credentials_provider_static(AKID, secrets[0], session_token, &prov, NULL),
                     DSQL_OK);
    run_wave(provider_copy_worker, prov);
    dsql_credentials_provider_free(prov);
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
