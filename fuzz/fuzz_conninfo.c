/* Fuzz target: conninfo parsing (dsql_config_parse). Invariants: a failed parse says why;
 * a password given in the input never appears in an error. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    if (strlen(text) != size) { /* an embedded NUL: the API takes C strings */
        free(text);
        return 0;
    }
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err;
    if (dsql_config_parse(&cfg, text, &err) == DSQL_OK) {
        if (cfg.password && strlen(cfg.password) >= 8) {
            /* Parse again with a bad keyword after it: the error must not echo the password. */
            char *secret = strdup(cfg.password);
            size_t n = size + 32;
            char *bad = malloc(n);
            if (!secret || !bad)
                abort();
            snprintf(bad, n, "%s nosuchkeyword=1", text);
            dsql_config cfg2 = DSQL_CONFIG_INIT;
            /* Skip secrets that are words of the message itself (a false alarm). */
            dsql_config cfg3 = DSQL_CONFIG_INIT;
            dsql_error base;
            dsql_config_parse(&cfg3, "password=xxxxxxxxxxxxxxxx nosuchkeyword=1", &base);
            dsql_config_clear(&cfg3);
            if (dsql_config_parse(&cfg2, bad, &err) != DSQL_OK && !strstr(base.message, secret))
                fuzz_assert_no_secret(err.message, secret);
            dsql_config_clear(&cfg2);
            free(bad);
            free(secret);
        }
    } else {
        fuzz_assert(err.message[0], "a failure must say why");
    }
    dsql_config_clear(&cfg);
    free(text);
    return 0;
}
