/* Fuzz target: credentials JSON from credential_process, the container endpoint and IMDS
 * (src/auth/creds_json.c). Invariant: an error never repeats the secret key of its input. */
#include <cjson/cJSON.h>
#include <string.h>

#include "auth/internal.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_environment();
    return 0;
}

/* The SecretAccessKey string of the input, if it parses and has one of >= 8 bytes. */
static char *secret_of(const char *text)
{
    cJSON *root = cJSON_Parse(text);
    cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
    char *copy = NULL;
    if (cJSON_IsString(s) && strlen(s->valuestring) >= 8)
        copy = strdup(s->valuestring);
    cJSON_Delete(root);
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    char *secret = secret_of(text);
    static const dsql__json_format fmts[] = {DSQL__JSON_PROCESS, DSQL__JSON_CONTAINER,
                                             DSQL__JSON_IMDS};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        dsql_credentials creds;
        memset(&creds, 0, sizeof creds);
        dsql_error err;
        if (dsql__creds_from_json(text, size, fmts[i], "fuzz", &creds, &err) == DSQL_OK) {
            fuzz_assert(creds.access_key_id && *creds.access_key_id, "accepted without a key id");
            fuzz_assert(creds.secret_access_key && *creds.secret_access_key,
                        "accepted without a secret key");
        } else {
            fuzz_assert_no_secret(err.message, secret);
            fuzz_assert_no_secret(err.detail, secret);
        }
        dsql_credentials_clear(&creds);
    }
    free(secret);
    free(text);
    return 0;
}
