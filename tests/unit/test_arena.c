/* The arena allocator behind result handles. */
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "util/util.h"

static void test_alignment_and_zero(void **state)
{
    (void)state;
    dsql__arena a = DSQL__ARENA_INIT;
    for (size_t i = 1; i < 200; i += 7) {
        unsigned char *p = dsql__arena_alloc(&a, i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t j = 0; j < i; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0xab, i);
    }
    dsql__arena_free(&a);
    assert_null(a.head);
}

static void test_big_and_small(void **state)
{
    (void)state;
    dsql__arena a = DSQL__ARENA_INIT;
    char *s1 = dsql__arena_strdup(&a, "first");
    void *big = dsql__arena_alloc(&a, 3u << 20);
    assert_non_null(big);
    char *s2 = dsql__arena_strdup(&a, "second");
    assert_string_equal(s1, "first");
    assert_string_equal(s2, "second");
    assert_null(dsql__arena_strdup(&a, NULL));
    char *bin = dsql__arena_memdup(&a, "a\0b", 3);
    assert_memory_equal(bin, "a\0b\0", 4);
    assert_int_equal(a.total, 6 + (3u << 20) + 7 + 4);
    dsql__arena_free(&a);
}

static void test_overflow(void **state)
{
    (void)state;
    dsql__arena a = DSQL__ARENA_INIT;
    assert_null(dsql__arena_alloc(&a, SIZE_MAX - 3));
    assert_null(dsql__arena_memdup(&a, "x", SIZE_MAX));
    dsql__arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_zero),
        cmocka_unit_test(test_big_and_small),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
