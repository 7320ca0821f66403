/* The internal string builder and memory helpers. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "testutil.h"
#include "util/util.h"

static void test_append(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    assert_string_equal(dsql__sb_str(&sb), "");
    dsql__sb_append(&sb, "SELECT ");
    dsql__sb_append_c(&sb, '"');
    dsql__sb_append_n(&sb, "abcdef", 3);
    dsql__sb_appendf(&sb, "\" $%d", 12);
    assert_string_equal(dsql__sb_str(&sb), "SELECT \"abc\" $12");
    assert_int_equal(sb.len, strlen("SELECT \"abc\" $12"));
    dsql__sb_reset(&sb);
    assert_string_equal(dsql__sb_str(&sb), "");
    assert_int_equal(sb.len, 0);
    dsql__sb_free(&sb);
}

static void test_appendf_long(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dsql__sb_appendf(&sb, "<%s>", big);
    assert_int_equal(sb.len, 1001);
    assert_int_equal(sb.data[0], '<');
    assert_int_equal(sb.data[999], 'q');
    assert_int_equal(sb.data[1000], '>');
    char *s = dsql__sb_detach(&sb);
    assert_non_null(s);
    assert_int_equal(strlen(s), 1001);
    assert_null(sb.data);
    free(s);
}

static void test_detach_empty(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    char *s = dsql__sb_detach(&sb);
    assert_string_equal(s, "");
    free(s);
}

static void test_overflow_sets_oom(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append(&sb, "x");
    assert_false(dsql__sb_reserve(&sb, SIZE_MAX));
    assert_true(sb.oom);
    dsql__sb_append(&sb, "more");
    assert_null(dsql__sb_str(&sb));
    assert_null(dsql__sb_detach(&sb));
}

static void test_strdup_null(void **state)
{
    (void)state;
    assert_null(dsql__strdup(NULL));
    char *s = dsql__strdup("abc");
    assert_string_equal(s, "abc");
    dsql__free_secret(s);
    dsql__free_secret(NULL);
}

/* The integer and placeholder appenders match printf's output exactly. */
static void test_integers(void **state)
{
    (void)state;
    static const int64_t values[] = {0,         1,         -1,        9,         10,
                                     -10,       99,        100,       12345,     -987654321,
                                     INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%lld", (long long)values[i]);
        size_t n = dsql__i64toa(values[i], got);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append_param(&sb, NULL, 1);
    dsql__sb_append_param(&sb, ", ", 65535);
    dsql__sb_append_param(&sb, " LIMIT ", 10);
    assert_string_equal(dsql__sb_str(&sb), "$1, $65535 LIMIT $10");
    dsql__sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),       cmocka_unit_test(test_appendf_long),
        cmocka_unit_test(test_detach_empty), cmocka_unit_test(test_overflow_sets_oom),
        cmocka_unit_test(test_strdup_null),  cmocka_unit_test(test_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
