/* Fuzz target: endpoint and region parsing (src/auth/endpoint.c). The input is
 * "host\nregion"; region may be absent. Invariants: a resolved host and region are
 * non-empty and printable, and a host that carries a DSQL region resolves to that region
 * when no explicit region is given. */
#include <string.h>

#include "dsql/dsql.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_environment();
    return 0;
}

static void check_printable(const char *s, const char *what)
{
    fuzz_assert(s && *s, "%s is empty", what);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fuzz_assert(*p > ' ' && *p < 0x7f, "%s holds byte 0x%02x", what, *p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    char *nl = memchr(text, '\n', size);
    const char *region = NULL;
    if (nl) {
        *nl = '\0';
        region = nl + 1;
    }
    char *host = NULL, *reg = NULL;
    dsql_error err;
    if (dsql_endpoint_resolve(text, region, NULL, &host, &reg, &err) == DSQL_OK) {
        check_printable(host, "host");
        check_printable(reg, "region");
        char embedded[64];
        if (!region && dsql_region_from_host(host, embedded, sizeof embedded))
            fuzz_assert(strcmp(embedded, reg) == 0, "host region %s resolved as %s", embedded, reg);
    } else {
        fuzz_assert(host == NULL && reg == NULL, "outputs set on failure");
        fuzz_assert(err.message[0], "a failure must say why");
    }
    (void)dsql_is_dsql_host(text);
    free(host);
    free(reg);
    free(text);
    return 0;
}
