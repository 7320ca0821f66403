/*
 * Atomicity of dsql_set_associated under concurrency: two threads set the same vet's
 * specialties at the same moment, many times over. Each round starts from a third set
 * that overlaps both, so that without the source-row lock the two transactions would
 * write disjoint rows, both commit, and leave a mix or a duplicate (write skew). With it
 * they conflict, one retries, and the vet ends with exactly one of the two sets.
 * Also run under ThreadSanitizer (the pool is shared by the threads).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB     "dsql_t_assoc_set"
#define ROUNDS 60
#define VET    "0a000000-0000-4000-8000-0000000000aa"

static vet carlos = {.id = {VET}, .name = "Carlos Salazar"};
static specialty exotic = {.id = "Exotic"}, cats = {.id = "Cats"}, dogs = {.id = "Dogs"};

typedef struct worker {
    dsql_pool *pool;
    pthread_barrier_t *start, *done;
    const void *const *targets;
    size_t n;
    int failures;
    dsql_error err;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_barrier_wait(w->start);
        if (dsql_set_associated(w->pool, &vet_specialties, &carlos, w->targets, w->n, &w->err))
            w->failures++;
        pthread_barrier_wait(w->done);
    }
    return NULL;
}

static void test_concurrent_sets(void **state)
{
    (void)state;
    dsql_pool *pool;
    PGconn *pg;
    pc_open(DB, &pool, &pg, NULL);
    dsql_error err = DSQL_ERROR_INIT;
    const dsql_model *models[] = {&specialty_model, &vet_model, &vet_specialty_model};
    assert_dsql_ok(dsql_sync(pool, models, 3, NULL, 0, NULL, &err), err);
    pg_ok(pg, "INSERT INTO vet VALUES ('" VET "', 'Carlos Salazar')");
    pg_ok(pg, "INSERT INTO specialty VALUES ('Exotic'), ('Cats'), ('Dogs')");

    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    worker a = {.pool = pool,
                .start = &start,
                .done = &done,
                .targets = (const void *const[]){&exotic, &cats},
                .n = 2};
    worker b = {.pool = pool,
                .start = &start,
                .done = &done,
                .targets = (const void *const[]){&cats, &dogs},
                .n = 2};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, run, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, run, &b), 0);

    const void *const start_set[] = {&exotic, &dogs};
    int ended_a = 0, ended_b = 0;
    for (int i = 0; i < ROUNDS; i++) {
        /* Start from {Exotic, Dogs}: set A removes Dogs and adds Cats, set B removes Exotic
         * and adds Cats — disjoint writes but for the lock. */
        assert_dsql_ok(dsql_set_associated(pool, &vet_specialties, &carlos, start_set, 2, &err),
                       err);
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        char *rows = pg_rows(pg, "SELECT string_agg(\"specialtyId\", ',' ORDER BY "
                                 "\"specialtyId\") FROM \"vetSpecialties\"");
        if (strcmp(rows, "Cats,Exotic\n") == 0)
            ended_a++;
        else if (strcmp(rows, "Cats,Dogs\n") == 0)
            ended_b++;
        else {
            print_error("round %d: the vet ended with %s", i, rows);
            fail();
        }
        free(rows);
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.failures || b.failures)
        print_error("set failed: %s / %s\n", a.err.message, b.err.message);
    assert_int_equal(a.failures, 0);
    assert_int_equal(b.failures, 0);
    assert_int_equal(ended_a + ended_b, ROUNDS);
    /* Every join row belongs to one of the final set's links: no duplicates left. */
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM \"vetSpecialties\""), 2);

    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    print_message("rounds: %d, ended with set A: %d, with set B: %d, conflict retries: %llu\n",
                  ROUNDS, ended_a, ended_b, (unsigned long long)s.tx_retries);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    pc_close(DB, pool, pg, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
