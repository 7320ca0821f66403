/*
 * Atomic counters and updates that return their rows: dsql_increment (DSQL_INCREMENT /
 * DSQL_DECREMENT computed by the server in one UPDATE ... RETURNING), dsql_update_returning,
 * and the same assignments through dsql_update; concurrent increments lose nothing; bad
 * input is refused before anything is sent.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_counters"

typedef struct counter {
    int64_t id;
    char *name;
    int32_t hits;
    bool has_hits;
    double score;
    char *balance; /* NUMERIC(12,2) */
} counter;

static const dsql_attr counter_attrs[] = {
    DSQL_ATTR(counter, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(counter, name, DSQL_STRING(20)),
    DSQL_ATTR(counter, hits, DSQL_INTEGER, DSQL_HAS(counter, has_hits)),
    DSQL_ATTR(counter, score, DSQL_DOUBLE, .not_null = true),
    DSQL_ATTR(counter, balance, DSQL_NUMERIC(12, 2)),
};
static DSQL_MODEL(counter_model, counter, "counter", counter_attrs);

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &counter_model, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_db_close(DB, pool, &logs);
    return 0;
}

static void reset(void)
{
    dsql_error err;
    assert_dsql_ok(dsql_exec(pool, "DELETE FROM counter", NULL, 0, NULL, &err), err);
    assert_dsql_ok(dsql_exec(pool,
                             "INSERT INTO counter VALUES (1, 'a', 10, 1.5, 100.00), "
                             "(2, 'b', 20, 2.5, 200.50), (3, 'c', NULL, 0, NULL)",
                             NULL, 0, NULL, &err),
                   err);
}

static void increments_one_row_and_returns_it(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    counter *c;
    size_t n;
    dsql_result *res;
    dsql_assign d[] = {DSQL_INCREMENT("hits", DSQL_INT(5)), DSQL_DECREMENT("score", DSQL_DBL(0.5)),
                       DSQL_INCREMENT("balance", DSQL_STR("0.25"))};
    assert_dsql_ok(
        dsql_increment(pool, &counter_model, d, 3, DSQL_EQ("id", DSQL_INT(1)), &c, &n, &res, &err),
        err);
    assert_int_equal(n, 1);
    assert_int_equal(c->id, 1);
    assert_int_equal(c->hits, 15);
    assert_true(c->has_hits);
    assert_true(c->score == 1.0);
    assert_string_equal(c->balance, "100.25");
    assert_string_equal(c->name, "a");
    dsql_result_free(res);
    assert_int_equal(admin_long("SELECT hits FROM counter WHERE id = 1"), 15);
}

static void increments_every_matching_row(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    counter *c;
    size_t n;
    dsql_result *res;
    dsql_assign d[] = {DSQL_INCREMENT("hits", DSQL_INT(1))};
    assert_dsql_ok(
        dsql_increment(pool, &counter_model, d, 1, DSQL_NOT_NULL("id"), &c, &n, &res, &err), err);
    assert_int_equal(n, 3);
    int64_t sum = 0, nulls = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].has_hits)
            sum += c[i].hits;
        else
            nulls++;
    }
    assert_int_equal(sum, 11 + 21); /* NULL stays NULL: NULL + 1 is NULL */
    assert_int_equal(nulls, 1);
    dsql_result_free(res);

    /* Nothing matched: an empty result, not an error. */
    assert_dsql_ok(
        dsql_increment(pool, &counter_model, d, 1, DSQL_EQ("id", DSQL_INT(99)), &c, &n, &res, &err),
        err);
    assert_int_equal(n, 0);
    assert_non_null(res);
    dsql_result_free(res);
}

static void update_returning_and_plain_update_take_counters(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    counter *c;
    size_t n;
    dsql_result *res;
    dsql_assign set[] = {DSQL_SET("name", DSQL_STR("renamed")),
                         DSQL_DECREMENT("hits", DSQL_INT(3))};
    assert_dsql_ok(dsql_update_returning(pool, &counter_model, set, 2, DSQL_EQ("id", DSQL_INT(2)),
                                         &c, &n, &res, &err),
                   err);
    assert_int_equal(n, 1);
    assert_string_equal(c->name, "renamed");
    assert_int_equal(c->hits, 17);
    dsql_result_free(res);
    uint64_t affected = 0;
    dsql_assign inc[] = {DSQL_INCREMENT("hits", DSQL_INT(100))};
    assert_dsql_ok(
        dsql_update(pool, &counter_model, inc, 1, DSQL_EQ("id", DSQL_INT(2)), &affected, &err),
        err);
    assert_int_equal(affected, 1);
    assert_int_equal(admin_long("SELECT hits FROM counter WHERE id = 2"), 117);
    assert_true(cap_has(&logs, "SET \"name\" = $1, \"hits\" = \"hits\" - $2 WHERE"));
}

typedef struct worker {
    int n;
    int failures;
} worker;

static void *bump(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        dsql_error err;
        dsql_result *res;
        dsql_assign d[] = {DSQL_INCREMENT("hits", DSQL_INT(1))};
        if (dsql_increment(pool, &counter_model, d, 1, DSQL_EQ("id", DSQL_INT(1)), NULL, NULL, &res,
                           &err) != DSQL_OK)
            w->failures++;
        else
            dsql_result_free(res);
    }
    return NULL;
}

static void concurrent_increments_lose_nothing(void **state)
{
    (void)state;
    reset();
    enum { THREADS = 6, EACH = 40 };
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.n = EACH};
        assert_int_equal(pthread_create(&t[i], NULL, bump, &w[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(admin_long("SELECT hits FROM counter WHERE id = 1"), 10 + THREADS * EACH);
}

static void bad_counters_are_refused_before_sending(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    counter *c;
    size_t n;
    dsql_result *res;
    size_t mark = logs.len;
    dsql_assign text[] = {DSQL_INCREMENT("name", DSQL_INT(1))};
    assert_int_equal(dsql_increment(pool, &counter_model, text, 1, DSQL_EQ("id", DSQL_INT(1)), &c,
                                    &n, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_increment: update: counter.name: only a numeric attribute can be "
                        "incremented or decremented");
    assert_null(res);
    dsql_assign set[] = {DSQL_SET("hits", DSQL_INT(1))};
    assert_int_equal(dsql_increment(pool, &counter_model, set, 1, DSQL_EQ("id", DSQL_INT(1)), &c,
                                    &n, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_increment: counter: delta 1 (hits) is not "
                                     "DSQL_INCREMENT or DSQL_DECREMENT");
    dsql_assign null[] = {DSQL_INCREMENT("hits", DSQL_NULL)};
    assert_int_equal(dsql_increment(pool, &counter_model, null, 1, DSQL_EQ("id", DSQL_INT(1)), &c,
                                    &n, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(
        err.message, "dsql_increment: update: counter.hits: the amount to add or subtract is NULL");
    dsql_assign word[] = {DSQL_INCREMENT("hits", DSQL_STR("many"))};
    assert_int_equal(dsql_increment(pool, &counter_model, word, 1, DSQL_EQ("id", DSQL_INT(1)), &c,
                                    &n, &res, &err),
                     DSQL_EINVAL);
    assert_non_null(strstr(err.message, "counter.hits: expected an INTEGER value, got text"));
    dsql_assign unknown[] = {DSQL_INCREMENT("visits", DSQL_INT(1))};
    assert_int_equal(dsql_increment(pool, &counter_model, unknown, 1, DSQL_EQ("id", DSQL_INT(1)),
                                    &c, &n, &res, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message,
                        "dsql_increment: update: model counter has no attribute \"visits\"");
    assert_int_equal(dsql_increment(pool, &counter_model, unknown, 1, DSQL_EQ("id", DSQL_INT(1)),
                                    &c, &n, NULL, &err),
                     DSQL_EINVAL);
    assert_string_equal(err.message, "dsql_increment: res is NULL (it owns the rows)");
    /* None of these sent a statement. */
    assert_true(logs.len == mark || !strstr(logs.text + mark, "UPDATE"));
    /* An overflow is the server's (22003), and nothing changes. */
    dsql_assign huge[] = {DSQL_INCREMENT("hits", DSQL_INT(2147483647))};
    assert_int_equal(dsql_increment(pool, &counter_model, huge, 1, DSQL_EQ("id", DSQL_INT(1)), &c,
                                    &n, &res, &err),
                     DSQL_ESERVER);
    assert_string_equal(err.sqlstate, "22003");
    assert_int_equal(admin_long("SELECT hits FROM counter WHERE id = 1"), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(increments_one_row_and_returns_it),
        cmocka_unit_test(increments_every_matching_row),
        cmocka_unit_test(update_returning_and_plain_update_take_counters),
        cmocka_unit_test(concurrent_increments_lose_nothing),
        cmocka_unit_test(bad_counters_are_refused_before_sending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
