/* Helpers shared by the tests. Include after <cmocka.h>'s prerequisites. */
#ifndef DSQL_TESTUTIL_H
#define DSQL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The value of an environment variable the test cannot run without; fails the test
 * with a message naming it when unset (tests are run by `make test`, which sets it). */
const char *tu_env(const char *name);

/* Path of a file in tests/data (DSQL_TESTDATA); returns a static buffer per call site
 * copy: caller copies if it needs two at once. */
const char *tu_data_path(const char *relative);

/* Reads a whole file into a malloc'd NUL-terminated buffer; fails the test on error. */
char *tu_read_file(const char *path, size_t *len);

/* Milliseconds of a monotonic clock (CLOCK_MONOTONIC), for bounds on elapsed time. */
int64_t tu_mono_ms(void);

/* Sleeps ms milliseconds (resumed when a signal interrupts it). */
void tu_sleep_ms(int64_t ms);

/* The number of elements of an array (not a pointer). */
#define TU_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fails with the error's text when rc (a dsql call's status) is not DSQL_OK. */
#define assert_dsql_ok(rc, err)                                                                    \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != DSQL_OK) {                                                                      \
            print_error("%s: %s [%s] %s\n", #rc, dsql_status_name(rc_), (err).sqlstate,            \
                        (err).message);                                                            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* A libpq conninfo for the throwaway server as the trust superuser (from PG* env). */
const char *tu_conninfo(void);

#endif
