/* dsql_error, status names and descriptions. */
#include <string.h>

#include "testutil.h"
#include "dsql/dsql.h"
#include "util/util.h"

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dsql_status_name(DSQL_OK), "DSQL_OK");
    assert_string_equal(dsql_status_name(DSQL_ETIMEOUT), "DSQL_ETIMEOUT");
    assert_string_equal(dsql_status_name(DSQL_EUNKNOWN_OUTCOME), "DSQL_EUNKNOWN_OUTCOME");
    assert_string_equal(dsql_status_name(DSQL_EINTERNAL), "DSQL_EINTERNAL");
    assert_string_equal(dsql_status_name(-1), "DSQL_E?");
    assert_string_equal(dsql_status_name(9999), "DSQL_E?");
}

static void test_every_status_has_text(void **state)
{
    (void)state;
    for (int s = DSQL_OK; s <= DSQL_EABORTED; s++) {
        assert_string_not_equal(dsql_status_name(s), "DSQL_E?");
        assert_string_not_equal(dsql_strerror(s), "unknown status");
    }
    assert_string_equal(dsql_strerror(DSQL_ECONFLICT), "optimistic concurrency conflict");
    assert_string_equal(dsql_strerror(12345), "unknown status");
}

static void test_values_never_renumbered(void **state)
{
    (void)state;
    /* The ABI: these numbers are fixed forever. */
    assert_int_equal(DSQL_EINVAL, 1);
    assert_int_equal(DSQL_ETIMEOUT, 8);
    assert_int_equal(DSQL_ECONFLICT, 10);
    assert_int_equal(DSQL_EUNKNOWN_OUTCOME, 11);
    assert_int_equal(DSQL_ENOTFOUND, 12);
    assert_int_equal(DSQL_EINTERNAL, 22);
    assert_int_equal(DSQL_EMISUSE, 23);
    assert_int_equal(DSQL_EUNAVAILABLE, 24);
    assert_int_equal(DSQL_ESTALE, 25);
    assert_int_equal(DSQL_EVETO, 26);
    assert_int_equal(DSQL_EABORTED, 27);
    assert_string_equal(dsql_status_name(28), "DSQL_E?");
}

static void test_error_set_and_clear(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    strcpy(err.sqlstate, "40001");
    strcpy(err.hint, "old hint");
    int rc = dsql_error_set(&err, DSQL_EINVAL, "bad %s: %d", "port", -1);
    assert_int_equal(rc, DSQL_EINVAL);
    assert_int_equal(err.status, DSQL_EINVAL);
    assert_string_equal(err.message, "bad port: -1");
    assert_string_equal(err.sqlstate, "");
    assert_string_equal(err.hint, "");
    assert_int_equal(dsql_error_set(NULL, DSQL_ENOMEM, "ignored"), DSQL_ENOMEM);
    dsql_error_clear(&err);
    assert_int_equal(err.status, 0);
    assert_string_equal(err.message, "");
    dsql_error_clear(NULL);
}

static void test_error_truncates(void **state)
{
    (void)state;
    dsql_error err;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dsql_error_set(&err, DSQL_EPARSE, "%s", big);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
}

static void test_error_prefix(void **state)
{
    (void)state;
    dsql_error err;
    dsql_error_set(&err, DSQL_EIO, "cannot open file");
    dsql__err_prefix(&err, "profile '%s'", "dev");
    assert_string_equal(err.message, "profile 'dev': cannot open file");
    char big[600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dsql_error_set(&err, DSQL_EIO, "%s", big);
    dsql__err_prefix(&err, "p");
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
    assert_memory_equal(err.message, "p: yyy", 6);
    dsql__err_prefix(NULL, "x");
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(dsql_version(), DSQL_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_every_status_has_text),
        cmocka_unit_test(test_values_never_renumbered),
        cmocka_unit_test(test_error_set_and_clear),
        cmocka_unit_test(test_error_truncates),
        cmocka_unit_test(test_error_prefix),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
