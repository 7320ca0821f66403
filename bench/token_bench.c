/* Token minting speed: mints DbConnect tokens for about one second with temporary
 * credentials (a session token of realistic size) and prints
 *   bench=libdsql tokens_per_sec=<n>
 * minting every token with one credentials value (whose memo keeps the signing key and the
 * encoded session token). With --per-connection, every token is minted from a new copy
 * got from a credentials provider and cleared after it, as a pool does for each new
 * connection, and the line is bench=libdsql-per-connection.
 *   bench_token [seconds] [--per-connection]
 * Built as the bench_token target of bench/CMakeLists.txt. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsql/dsql.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    bool per_connection = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--per-connection"))
            per_connection = true;
        else if (atof(argv[i]) > 0)
            seconds = atof(argv[i]);
    }
    /* An STS session token is about 1 KiB of base64. */
    char token[1025];
    for (size_t i = 0; i < sizeof token - 1; i++)
        token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64];
    token[sizeof token - 1] = '\0';
    dsql_credentials creds = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_credentials_set(&creds, "ASIAIOSFODNN7EXAMPLE",
                             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token, 0, &err)) {
        fprintf(stderr, "token_bench: %s\n", err.message);
        return 1;
    }
    dsql_credentials_provider *prov = NULL;
    if (per_connection &&
        dsql_credentials_provider_static(creds.access_key_id, creds.secret_access_key,
                                         creds.session_token, &prov, &err)) {
        fprintf(stderr, "token_bench: %s\n", err.message);
        return 1;
    }
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    p.region = "us-east-1";
    int64_t start = now_ns(), deadline = start + (int64_t)(seconds * 1e9), end;
    long n = 0;
    size_t check = 0;
    do {
        for (int i = 0; i < 256; i++) {
            char *t;
            dsql_credentials conn = DSQL_CREDENTIALS_INIT;
            if ((prov && dsql_credentials_provider_get(prov, &conn, &err)) ||
                dsql_token_generate(&p, prov ? &conn : &creds, &t, &err)) {
                fprintf(stderr, "token_bench: %s\n", err.message);
                return 1;
            }
            dsql_credentials_clear(&conn);
            check += strlen(t);
            dsql_token_free(t);
        }
        n += 256;
        end = now_ns();
    } while (end < deadline);
    dsql_credentials_clear(&creds);
    dsql_credentials_provider_free(prov);
    double per_sec = (double)n / ((double)(end - start) / 1e9);
    printf("bench=%s tokens_per_sec=%.0f\n", prov ? "libdsql-per-connection" : "libdsql", per_sec);
    fprintf(stderr, "token_bench: %ld tokens in %.3f s, %.2f us each (%zu bytes)\n", n,
            (double)(end - start) / 1e9, 1e6 / per_sec, check / (size_t)n);
    return 0;
}
