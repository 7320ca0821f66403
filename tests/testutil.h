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

/* A libpq conninfo for the throwaway server as the trust superuser (from PG* env). */
const char *tu_conninfo(void);

#endif
