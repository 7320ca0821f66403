#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/util.h"

const char *tu_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        print_error("environment variable %s is not set: run the tests with `make test`, "
                    "or eval \"$(scripts/localpg.sh env)\" first\n",
                    name);
        fail();
    }
    return v;
}

const char *tu_data_path(const char *relative)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", tu_env("DSQL_TESTDATA"), relative);
    return buf;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        fail();
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

const char *tu_conninfo(void)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "host=%s hostaddr=%s port=%s dbname=%s user=%s sslmode=verify-full sslrootcert=%s",
             tu_env("PGHOST"), tu_env("PGHOSTADDR"), tu_env("PGPORT"), tu_env("PGDATABASE"),
             tu_env("PGUSER"), tu_env("PGSSLROOTCERT"));
    return buf;
}

/* The library's own clock: the tests measure what it bounds with the same clock. */
int64_t tu_mono_ms(void)
{
    return dsql__mono_ms();
}

void tu_sleep_ms(int64_t ms)
{
    dsql__sleep_ms(ms);
}
