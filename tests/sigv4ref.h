/* A plain reference implementation of the DSQL token recipe (DSQL.md), independent of the
 * library's signer: OpenSSL's one-shot HMAC() and EVP_Digest(), gmtime_r, snprintf. The
 * tests check it against the official signer's vectors, then compare the library with it
 * on inputs no vector covers (other days, rotated secrets, long tokens). */
#ifndef DSQL_SIGV4REF_H
#define DSQL_SIGV4REF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static inline void ref_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

/* RFC 3986 encoding into a new string. */
static inline char *ref_encode(const char *s)
{
    char *out = malloc(3 * strlen(s) + 1), *o = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            *o++ = (char)c;
        else
            o += sprintf(o, "%%%02X", c);
    }
    *o = '\0';
    return out;
}

static inline void ref_hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* The token for these inputs (session_token NULL: none), as a new string. */
static inline char *ref_token(const char *host, const char *region, int admin, long expires,
                              time_t when, const char *akid, const char *secret,
                              const char *session_token)
{
    struct tm tm;
    gmtime_r(&when, &tm);
    char amzdate[80], date[16];
    snprintf(amzdate, sizeof amzdate, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(date, sizeof date, "%.8s", amzdate);
    size_t big = 4096 + 4 * (strlen(akid) + strlen(region) + strlen(host) +
                             (session_token ? strlen(session_token) : 0));
    char *scope = malloc(big), *cred = malloc(big), *head = malloc(big), *creq = malloc(big),
         *sts = malloc(big), *token = malloc(big);
    snprintf(scope, big, "%s/%s/dsql/aws4_request", date, region);
    snprintf(cred, big, "%s/%s", akid, scope);
    char *cred_enc = ref_encode(cred);
    char *tok_enc = session_token ? ref_encode(session_token) : NULL;
    /* Every key but X-Amz-SignedHeaders (and X-Amz-Signature) */
    snprintf(head, big,
             "Action=%s&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s&"
             "X-Amz-Expires=%ld%s%s",
             admin ? "DbConnectAdmin" : "DbConnect", cred_enc, amzdate, expires,
             tok_enc ? "&X-Amz-Security-Token=" : "", tok_enc ? tok_enc : "");
    snprintf(creq, big,
             "GET\n/\n%s&X-Amz-SignedHeaders=host\nhost:%s\n\nhost\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             head, host);
    unsigned char md[32], k1[32], k2[32];
    unsigned int mdlen = 32;
    EVP_Digest(creq, strlen(creq), md, &mdlen, EVP_sha256(), NULL);
    char hash[65], sig[65];
    ref_hex(md, 32, hash);
    snprintf(sts, big, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, hash);
    char *first = malloc(strlen(secret) + 5);
    sprintf(first, "AWS4%s", secret);
    ref_hmac(first, strlen(first), date, k1);
    ref_hmac(k1, 32, region, k2);
    ref_hmac(k2, 32, "dsql", k1);
    ref_hmac(k1, 32, "aws4_request", k2);
    ref_hmac(k2, 32, sts, k1);
    ref_hex(k1, 32, sig);
    snprintf(token, big, "%s/?%s&X-Amz-Signature=%s&X-Amz-SignedHeaders=host", host, head, sig);
    free(first);
    free(cred_enc);
    free(tok_enc);
    free(scope);
    free(cred);
    free(head);
    free(creq);
    free(sts);
    return token;
}

#endif
