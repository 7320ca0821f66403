/* The statement cache under a shared pool (also run under TSan): threads run a rotating
 * set of statements larger than the per-connection cache, through dsql_pool_query and
 * dsql_pipeline_tx, so entries are prepared, hit, evicted and deallocated on connections
 * that move between threads. Every result is checked; the pool's counters are exact. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plain PostgreSQL even under dsql-local: the test uses pg_prepared_statements and DEALLOCATE. */
#define DSQL_TEST_PLAIN 1
#include "testutil.h"

#include "conn_util.h"

#define THREADS 4
#define ITERS   120

static dsql_pool *pool;

typedef struct worker {
    int id;
    int failures;
    char first_error[600];
} worker;

static void failed(worker *w, const char *what, const dsql_error *err)
{
    if (!w->failures++)
        snprintf(w->first_error, sizeof w->first_error, "%s: %s", what, err->message);
}

static void *run(void *arg)
{
    worker *w = arg;
    static const char *const sqls[] = {"SELECT $1::int8 + 1", "SELECT $1::int8 + 2",
                                       "SELECT $1::int8 + 3"};
    for (int i = 0; i < ITERS; i++) {
        int k = (i + w->id) % 3;
        dsql_value p = DSQL_INT(i);
        dsql_result *res = NULL;
        dsql_error err = DSQL_ERROR_INIT;
        if (dsql_pool_query(pool, sqls[k], &p, 1, NULL, &res, &err)) {
            failed(w, "query", &err);
            continue;
        }
        int64_t v = -1;
        if (dsql_result_int(res, 0, 0, &v, &err) || v != i + k + 1)
            failed(w, "query result", &err);
        dsql_result_free(res);
        if (i % 4 == 0) {
            dsql_stmt batch[] = {{"SELECT $1::int8 * 2", &p, 1}, {sqls[(k + 1) % 3], &p, 1}};
            dsql_result *r[2];
            if (dsql_pipeline_tx(pool, batch, 2, r, NULL, &err)) {
                failed(w, "pipeline", &err);
                continue;
            }
            int64_t a = -1, b = -1;
            if (dsql_result_int(r[0], 0, 0, &a, &err) || dsql_result_int(r[1], 0, 0, &b, &err) ||
                a != 2 * i || b != i + (k + 1) % 3 + 1)
                failed(w, "pipeline result", &err);
            dsql_result_free(r[0]);
            dsql_result_free(r[1]);
        }
    }
    return NULL;
}

static int64_t query_int(const char *sql, int64_t arg)
{
    dsql_value p = DSQL_INT(arg);
    dsql_result *res = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_pool_query(pool, sql, &p, 1, NULL, &res, &err), err);
    int64_t v = -1;
    assert_dsql_ok(dsql_result_int(res, 0, 0, &v, &err), err);
    dsql_result_free(res);
    return v;
}

static void threads_share_cached_connections(void **state)
{
    (void)state;
    dsql_pool_options opts = DSQL_POOL_OPTIONS_INIT;
    opts.max = 3;
    /* Four statement texts in play: evictions all along. */
    pool = TEST_POOL(.statement_cache = 2, .options = &opts);

    /* One thread first: the pool lends its one connection again and again, so the
     * counters are exact. X three times (unnamed, prepared, hit), then Y and Z twice:
     * Z's first run takes a slot and evicts X, whose DEALLOCATE rides along with Z's
     * second run. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(query_int("SELECT $1::int8 + 10", i), i + 10);
    for (int i = 0; i < 2; i++)
        assert_int_equal(query_int("SELECT $1::int8 + 20", i), i + 20);
    for (int i = 0; i < 2; i++)
        assert_int_equal(query_int("SELECT $1::int8 + 30", i), i + 30);
    dsql_pool_stats s0;
    dsql_pool_get_stats(pool, &s0);
    assert_int_equal(s0.connects, 1);
    assert_int_equal(s0.statements, 7);
    assert_int_equal(s0.round_trips, 7);
    assert_int_equal(s0.prepared, 3);
    assert_int_equal(s0.cache_hits, 1);
    assert_int_equal(s0.deallocated, 1);

    /* Then threads: connections move between them while their caches evict and
     * deallocate; every result is checked and the counters add up exactly. */
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            print_error("worker %d: %d failures, first: %s\n", i, w[i].failures, w[i].first_error);
        assert_int_equal(w[i].failures, 0);
    }
    dsql_pool_stats s;
    dsql_pool_get_stats(pool, &s);
    /* Per thread: ITERS queries (1 statement, 1 round trip each) and ITERS / 4 pipelined
     * transactions (BEGIN, 2 statements, COMMIT: 4 statements, 1 round trip each). */
    assert_int_equal(s.statements - s0.statements, THREADS * (ITERS + ITERS / 4 * 4));
    assert_int_equal(s.round_trips - s0.round_trips, THREADS * (ITERS + ITERS / 4));
    assert_int_equal(s.tx_retries, 0);
    /* Every statement ran from the cache, or was prepared, or ran unnamed. */
    assert_true(s.cache_hits - s0.cache_hits + s.prepared - s0.prepared <=
                THREADS * (ITERS + ITERS / 4 * 2));
    dsql_pool_close(pool);
    pool = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_share_cached_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
