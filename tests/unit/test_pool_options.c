/* The pool's option defaults (the seed's Sequelize pool plus a lifetime under DSQL's
 * 60-minute cap) and the lifetime jitter, exactly. */
#include <string.h>

#include "testutil.h"

#include "conn/private.h"

static void defaults(void **state)
{
    (void)state;
    dsql_pool_options r;
    memset(&r, 0xff, sizeof r);
    assert_int_equal(dsql__pool_options_resolve(NULL, &r, NULL), DSQL_OK);
    assert_int_equal(r.max, 5);
    assert_int_equal(r.min, 0);
    assert_int_equal(r.acquire_timeout_ms, 30000);
    assert_int_equal(r.idle_timeout_ms, 10000);
    assert_int_equal(r.max_lifetime_ms, 55 * 60 * 1000);

    /* A zeroed struct is the same as NULL. */
    dsql_pool_options zero = DSQL_POOL_OPTIONS_INIT, z;
    assert_int_equal(dsql__pool_options_resolve(&zero, &z, NULL), DSQL_OK);
    assert_memory_equal(&z, &r, sizeof r);

    /* Given values are kept as they are. */
    dsql_pool_options given = {.max = 7,
                               .min = 2,
                               .acquire_timeout_ms = 1,
                               .idle_timeout_ms = 10,
                               .max_lifetime_ms = 3599999};
    assert_int_equal(dsql__pool_options_resolve(&given, &r, NULL), DSQL_OK);
    assert_int_equal(r.max, 7);
    assert_int_equal(r.min, 2);
    assert_int_equal(r.acquire_timeout_ms, 1);
    assert_int_equal(r.idle_timeout_ms, 10);
    assert_int_equal(r.max_lifetime_ms, 3599999);

    dsql_error err = DSQL_ERROR_INIT;
    dsql_pool_options bad = {.max = 2, .min = 3};
    assert_int_equal(dsql__pool_options_resolve(&bad, &r, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "pool option min (3) is larger than max (2)");
}

static void lifetime_jitter(void **state)
{
    (void)state;
    const int64_t life = 55 * 60 * 1000, created = 1000000;
    /* No jitter at 0, 10 % at most (never reached: unit < 1), a share in between. */
    assert_int_equal(dsql__pool_lifetime_deadline(created, life, 0.0), created + life);
    assert_int_equal(dsql__pool_lifetime_deadline(created, life, 0.5), created + life - life / 20);
    int64_t most = dsql__pool_lifetime_deadline(created, life, 0.999999);
    assert_true(most > created + life - life / 10);
    assert_true(most < created + life);
    /* The longest lifetime allowed still retires before DSQL's 60-minute cap. */
    assert_true(dsql__pool_lifetime_deadline(0, 3599999, 0.0) < 60 * 60 * 1000);
    /* The pool's random draw is in [0, 1). */
    for (int i = 0; i < 1000; i++) {
        double u = dsql__random_unit();
        assert_true(u >= 0.0 && u < 1.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(lifetime_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
