/* dsql_uuid_v4 over many draws: canonical text, version 4, RFC 4122 variant, no repeats,
 * and every random digit position taking many values. */
#include <stdlib.h>
#include <string.h>

#include "dsql/dsql.h"
#include "testutil.h"

#define DRAWS 4096

static int cmp(const void *a, const void *b)
{
    return strcmp(((const dsql_uuid *)a)->str, ((const dsql_uuid *)b)->str);
}

static void test_many_draws(void **state)
{
    (void)state;
    dsql_uuid *u = calloc(DRAWS, sizeof *u);
    assert_non_null(u);
    unsigned seen[36][16];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < DRAWS; i++) {
        dsql_uuid_v4(&u[i]);
        const char *s = u[i].str;
        assert_int_equal(strlen(s), 36);
        for (int k = 0; k < 36; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23) {
                assert_int_equal(s[k], '-');
                continue;
            }
            const char *d = strchr("0123456789abcdef", s[k]);
            assert_true(d && *d);
            seen[k][d - "0123456789abcdef"]++;
        }
        assert_int_equal(s[14], '4');
        assert_non_null(strchr("89ab", s[19]));
        dsql_uuid parsed;
        assert_int_equal(dsql_uuid_parse(s, &parsed, NULL), DSQL_OK);
        assert_string_equal(parsed.str, s);
    }
    qsort(u, DRAWS, sizeof *u, cmp);
    for (int i = 1; i < DRAWS; i++)
        assert_string_not_equal(u[i - 1].str, u[i].str);
    /* Random positions: all 16 digits show up in 4096 draws (each is missing with
     * probability about 16 * (15/16)^4096, i.e. never); the variant digit takes 4. */
    for (int k = 0; k < 36; k++) {
        if (k == 8 || k == 13 || k == 18 || k == 23 || k == 14)
            continue;
        int distinct = 0;
        for (int d = 0; d < 16; d++)
            distinct += seen[k][d] > 0;
        assert_int_equal(distinct, k == 19 ? 4 : 16);
    }
    free(u);
    dsql_uuid_v4(NULL); /* a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_many_draws)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
