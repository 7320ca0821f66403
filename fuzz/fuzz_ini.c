/* Fuzz target: the AWS shared config / credentials file parser (src/auth/ini.c), in both
 * modes, then the lookups a credential source makes. */
#include <string.h>

#include "auth/ini.h"
#include "fuzz.h"

static void parse(const char *text, size_t len, bool config_file)
{
    dsql__ini ini = DSQL__INI_INIT;
    dsql_error err;
    if (dsql__ini_parse(&ini, text, len, config_file, &err) == DSQL_OK) {
        (void)dsql__ini_get(&ini, "default", "aws_access_key_id");
        (void)dsql__ini_get(&ini, "default", "region");
        (void)dsql__ini_has_section(&ini, "prod");
        char buf[256];
        for (size_t i = 0; i < ini.n; i++) {
            fuzz_assert(ini.e[i].section != NULL, "entry %zu has no section", i);
            for (const char *k = ini.e[i].key; k && *k; k++)
                fuzz_assert(!(*k >= 'A' && *k <= 'Z'), "key of entry %zu is not lower case", i);
            const char *sub = dsql__ini_sub(ini.e[i].value, "endpoint_url", buf, sizeof buf);
            fuzz_assert(!sub || strlen(sub) < sizeof buf, "sub-property overran its buffer");
        }
        (void)dsql__ini_get_kind(&ini, DSQL__INI_SERVICES, "s", "sts");
    } else {
        fuzz_assert(err.status != DSQL_OK && err.message[0], "a failed parse must say why");
    }
    dsql__ini_free(&ini);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    parse(text, size, true);
    parse(text, size, false);
    free(text);
    return 0;
}
