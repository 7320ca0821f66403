/*
 * OCC under load: 8 threads x 200 transactions, each a read-modify-write of one of three
 * hot counters through dsql_transaction. Under repeatable read (as on Aurora DSQL) a
 * concurrent writer makes the later one fail with 40001, so conflicts are frequent; every
 * increment must still land exactly once.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

enum { THREADS = 8, PER_THREAD = 200, COUNTERS = 3 };

static char table[64];

typedef struct shared {
    dsql_pool *pool;
    atomic_long committed[COUNTERS];
    atomic_long attempts;
    atomic_long failures;
    atomic_long retry_callbacks;
} shared;

typedef struct worker {
    shared *sh;
    int index;
} worker;

typedef struct bump_ctx {
    int counter;
} bump_ctx;

static int bump(dsql_conn *conn, void *arg, dsql_error *err)
{
    bump_ctx *b = arg;
    char sql[128];
    dsql_value id = DSQL_INT(b->counter);
    snprintf(sql, sizeof sql, "SELECT v FROM %s WHERE id = $1", table);
    int64_t v;
    int rc = conn_query_int(conn, sql, &id, 1, &v, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "UPDATE %s SET v = $2 WHERE id = $1", table);
    dsql_value p[] = {id, DSQL_INT(v + 1)};
    return dsql_conn_query(conn, sql, p, 2, NULL, err);
}

static void count_retry(int attempt, const dsql_error *cause, int64_t delay_ms, void *ctx)
{
    (void)attempt;
    (void)cause;
    (void)delay_ms;
    atomic_fetch_add(&((shared *)ctx)->retry_callbacks, 1);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    /* Generous: this test is about correctness under contention, never about giving up. */
    dsql_retry_policy policy = {.max_retries = 100000,
                                .base_delay_ms = 1,
                                .multiplier = 1.5,
                                .max_delay_ms = 20,
                                .jitter = 1.0,
                                .on_retry = count_retry,
                                .on_retry_ctx = w->sh};
    for (int i = 0; i < PER_THREAD; i++) {
        bump_ctx b = {.counter = (w->index + i) % COUNTERS};
        int attempts = 0;
        dsql_error err;
        int rc = dsql_transaction(w->sh->pool, bump, &b, &policy, &attempts, &err);
        atomic_fetch_add(&w->sh->attempts, attempts);
        if (rc == DSQL_OK) {
            atomic_fetch_add(&w->sh->committed[b.counter], 1);
        } else {
            print_error("transaction failed: %s: %s\n", dsql_status_name(rc), err.message);
            atomic_fetch_add(&w->sh->failures, 1);
        }
    }
    return NULL;
}

static void hot_counters(void **state)
{
    (void)state;
    snprintf(table, sizeof table, "occ_load_%d", (int)getpid());
    admin_exec("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, v bigint NOT NULL); "
               "INSERT INTO %s SELECT g, 0 FROM generate_series(0, %d) g",
               table, table, table, COUNTERS - 1);

    dsql_pool_options o = {.max = THREADS};
    shared sh = {0};
    sh.pool = TEST_POOL(.options = &o);

    int64_t t0 = tu_mono_ms();
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.sh = &sh, .index = i};
        pthread_create(&t[i], NULL, run_worker, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int64_t elapsed = tu_mono_ms() - t0;

    assert_int_equal(atomic_load(&sh.failures), 0);
    long total = 0;
    for (int c = 0; c < COUNTERS; c++) {
        long v = admin_long("SELECT v FROM %s WHERE id = %d", table, c);
        assert_int_equal(v, atomic_load(&sh.committed[c]));
        total += v;
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    long retries = atomic_load(&sh.attempts) - THREADS * PER_THREAD;
    assert_int_equal(retries, atomic_load(&sh.retry_callbacks));
    dsql_pool_stats st;
    dsql_pool_get_stats(sh.pool, &st);
    assert_int_equal(st.transactions, THREADS * PER_THREAD);
    assert_int_equal((long)st.tx_retries, retries);
    print_message("OCC load: %d threads x %d transactions on %d hot counters: %ld committed, "
                  "%ld conflict retries (%.2f per transaction), %lld ms, pool: %llu connects\n",
                  THREADS, PER_THREAD, COUNTERS, total, retries,
                  (double)retries / (double)(THREADS * PER_THREAD), (long long)elapsed,
                  (unsigned long long)st.connects);
    dsql_pool_close(sh.pool);
    admin_exec("DROP TABLE %s", table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hot_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
