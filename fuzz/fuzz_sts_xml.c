/* Fuzz target: the XML reader used for STS responses (src/auth/xml.c), along the paths the
 * STS sources read: credentials of both actions and the error code and message. */
#include "auth/xml.h"
#include "fuzz.h"

static void read_path(const char *xml, size_t len, const char *const *path, size_t depth)
{
    char *out = NULL;
    int r = dsql__xml_text(xml, len, path, depth, &out);
    if (r == 0)
        fuzz_assert(out != NULL, "found, but no text returned");
    else
        fuzz_assert(out == NULL, "not found (%d), but text returned", r);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[][4] = {
        {"AssumeRoleResponse", "AssumeRoleResult", "Credentials", "AccessKeyId"},
        {"AssumeRoleResponse", "AssumeRoleResult", "Credentials", "SecretAccessKey"},
        {"AssumeRoleWithWebIdentityResponse", "AssumeRoleWithWebIdentityResult", "Credentials",
         "Expiration"},
        {"ErrorResponse", "Error", "Code", NULL},
        {"ErrorResponse", "Error", "Message", NULL},
    };
    /* The reader takes a length: give it the exact bytes, unterminated, as HTTP bodies are. */
    char *xml = malloc(size ? size : 1);
    if (!xml)
        abort();
    for (size_t i = 0; i < size; i++)
        xml[i] = (char)data[i];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        read_path(xml, size, paths[i], paths[i][3] ? 4 : 3);
    free(xml);
    return 0;
}
