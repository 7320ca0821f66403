/*
 * Model calls from several threads on one pool (run under ThreadSanitizer too): creates,
 * finds with includes, updates and counts interleave; every thread reads back exactly
 * what it wrote, and the totals add up.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "petclinic.h"

#define DB      "dsql_t_model_tsan"
#define THREADS 4
#define ROUNDS  25

static dsql_pool *pool;

typedef struct worker {
    int index;
    int rc;
    char message[640];
} worker;

static int fail_with(worker *w, const dsql_error *err, const char *what)
{
    snprintf(w->message, sizeof w->message, "%s: %s", what, err->message);
    return w->rc = err->status ? err->status : DSQL_EINTERNAL;
}

static void *work(void *arg)
{
    worker *w = arg;
    dsql_error err = DSQL_ERROR_INIT;
    char name[32], city[32];
    snprintf(city, sizeof city, "city-%d", w->index);
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(name, sizeof name, "owner-%d-%d", w->index, i);
        owner o = {.name = name, .city = city};
        if (dsql_create(pool, &owner_model, &o, NULL, &err))
            return (void *)(intptr_t)fail_with(w, &err, "create owner");
        pet p = {.name = name, .birth_date = "2020-01-01"};
        memcpy(p.owner_id.str, o.id.str, sizeof p.owner_id.str);
        if (dsql_create(pool, &pet_model, &p, NULL, &err))
            return (void *)(intptr_t)fail_with(w, &err, "create pet");
        owner *got;
        dsql_result *res;
        if (dsql_find_by_pk(pool, &owner_model, DSQL_STR(o.id.str),
                            &(dsql_query){DSQL_INCLUDES({.assoc = &owner_pets})}, &got, &res, &err))
            return (void *)(intptr_t)fail_with(w, &err, "find owner");
        bool ok = !strcmp(got->name, name) && got->n_pets == 1 && !strcmp(got->pets[0].name, name);
        dsql_result_free(res);
        if (!ok) {
            snprintf(w->message, sizeof w->message, "read back a different row for %s", name);
            return (void *)(intptr_t)(w->rc = DSQL_EINTERNAL);
        }
    }
    uint64_t changed = 0;
    if (dsql_update(pool, &owner_model,
                    (const dsql_assign[]){DSQL_SET("telephone", DSQL_STR("555"))}, 1,
                    DSQL_EQ("city", DSQL_STR(city)), &changed, &err))
        return (void *)(intptr_t)fail_with(w, &err, "update");
    if (changed != ROUNDS) {
        snprintf(w->message, sizeof w->message, "updated %llu rows, not %d",
                 (unsigned long long)changed, ROUNDS);
        w->rc = DSQL_EINTERNAL;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    PGconn *pg;
    pc_open(DB, &pool, &pg, NULL);
    pg_ok(pg, "CREATE TABLE owner (id uuid PRIMARY KEY, name varchar(30) NOT NULL, city "
              "varchar(80) NOT NULL, telephone varchar(20))");
    pg_ok(pg, "CREATE TABLE pet (id uuid PRIMARY KEY, name varchar(30) NOT NULL, \"birthDate\" "
              "date NOT NULL, \"ownerId\" uuid)");
    dsql_error err = DSQL_ERROR_INIT;
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.index = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].rc)
            fail_msg("thread %d: %s", i, w[i].message);
    }
    int64_t n = 0;
    assert_dsql_ok(dsql_count(pool, &owner_model, DSQL_EQ("telephone", DSQL_STR("555")), &n, &err),
                   err);
    assert_int_equal(n, THREADS * ROUNDS);
    assert_int_equal(pg_long(pg, "SELECT count(*) FROM pet"), THREADS * ROUNDS);
    pc_close(DB, pool, pg, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
