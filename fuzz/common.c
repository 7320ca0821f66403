/* Helpers shared by the fuzz targets (see fuzz.h). */
#include <string.h>

#include "fuzz.h"

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void fuzz_quiet_environment(void)
{
    setenv("AWS_CONFIG_FILE", "/nonexistent/dsql-fuzz/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/dsql-fuzz/credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    static const char *const unset[] = {"AWS_REGION",
                                        "AWS_DEFAULT_REGION",
                                        "AWS_PROFILE",
                                        "AWS_ACCESS_KEY_ID",
                                        "AWS_SECRET_ACCESS_KEY",
                                        "AWS_SESSION_TOKEN",
                                        "AWS_WEB_IDENTITY_TOKEN_FILE",
                                        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                        "CLUSTER_ENDPOINT",
                                        "CLUSTER_REGION",
                                        "CLUSTER_USER",
                                        "REGION"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
}

void fuzz_assert_no_secret(const char *text, const char *secret)
{
    if (!text || !secret || !*secret)
        return;
    fuzz_assert(strstr(text, secret) == NULL, "a secret appears in the message: %s", text);
}
