/*
 * AWS Signature Version 4 on OpenSSL: hashing, HMAC, RFC 3986 encoding, query presigning
 * (auth tokens) and header signing (STS requests). Internal to the auth layer.
 * Thread rule: pure functions; the OpenSSL algorithm is fetched once (pthread_once) and each
 * thread keeps its own digest contexts and signing keys (sigv4_state.c).
 */
#ifndef DSQL_AUTH_SIGV4_H
#define DSQL_AUTH_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dsql/auth.h"
#include "util/util.h"

#define DSQL__SHA256_LEN 32
#define DSQL__SHA256_HEX (2 * DSQL__SHA256_LEN + 1)

/* A byte range: one piece of a message hashed or signed without being copied together. */
typedef struct dsql__span {
    const void *p;
    size_t n;
} dsql__span;

/* Hex digest of SHA-256(data). Returns false only if OpenSSL fails or memory runs out. */
bool dsql__sha256_hex(const void *data, size_t len, char out[DSQL__SHA256_HEX]);

/* SHA-256 of the concatenation of v[0..n). False only if OpenSSL fails or memory runs out. */
bool dsql__sha256_v(const dsql__span *v, size_t n, unsigned char out[DSQL__SHA256_LEN]);

/*
 * The SigV4 signature: hex HMAC-SHA256, under the signing key derived from secret, date
 * (YYYYMMDD), region and service, of the concatenation of sts[0..n) (the string to sign).
 * The key comes from the calling thread's cache when it holds it (see sigv4_state.c).
 */
int dsql__sigv4_signature(const char *secret, const char date[9], const char *region,
                          const char *service, const dsql__span *sts, size_t n,
                          char sig[DSQL__SHA256_HEX], dsql_error *err);

/* HMAC-SHA256(key, msg) by the same code as signatures (for tests). */
bool dsql__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[DSQL__SHA256_LEN]);

/*
 * The URI encoding of a session token, from the calling thread's cache when it encoded
 * the same token last (see sigv4_state.c). *encoded (not NUL-terminated, a secret) stays
 * valid until this thread's next call.
 */
int dsql__sigv4_encoded_token(const char *token, size_t len, const char **encoded,
                              size_t *encoded_len, dsql_error *err);

/* How many signing keys the calling thread has derived, and session tokens it has
 * encoded, so far (for tests). */
void dsql__sigv4_thread_stats(unsigned long *key_derivations, unsigned long *token_encodings);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void dsql__hex(const unsigned char *in, size_t n, char *out);

/* Appends s[0..n) encoded per RFC 3986 (only A-Za-z0-9-_.~ pass; '/' too when
 * keep_slash, for canonical URI paths). */
void dsql__uri_encode(dsql__strbuf *sb, const char *s, size_t n, bool keep_slash);

/* Length of s[0..n) once encoded by dsql__uri_encode (keep_slash false). */
size_t dsql__uri_encoded_len(const char *s, size_t n);

/* Writes s[0..n) encoded (keep_slash false) at o, which has dsql__uri_encoded_len(s, n)
 * bytes; returns the end. No NUL is written. */
char *dsql__uri_encode_to(char *o, const char *s, size_t n);

/* "YYYYMMDDTHHMMSSZ" and "YYYYMMDD" for t (UTC). False if t is out of range. */
bool dsql__amz_date(time_t t, char amzdate[17], char date[9]);

/* A query parameter to presign (value is raw; it is encoded here). */
typedef struct dsql__sigv4_param {
    const char *key;
    const char *value;
} dsql__sigv4_param;

/*
 * Presigns `GET https://<host>/?<params>` (host is the only signed header) and returns
 * the presigned URL without its scheme, `<host>/?<query>`, with X-Amz-Signature sorted in
 * among the other keys as the AWS SDKs do, in *url: a new string of exactly its length.
 * params need not be sorted; keys must be unique and must not be X-Amz-* ones. *url holds
 * the security token: free it with dsql__free_secret().
 */
int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, char **url, dsql_error *err);

/* A request to sign in headers (the SigV4 "Authorization" header). */
typedef struct dsql__sigv4_request {
    const char *method;       /* "POST", "GET" */
    const char *host;         /* value of the Host header: host[:port] */
    const char *path;         /* absolute path, not yet encoded ("/" when empty) */
    const char *query;        /* canonical query string (already sorted/encoded) or NULL */
    const char *content_type; /* NULL: no Content-Type header is signed */
    const void *body;
    size_t body_len;
    bool content_sha256; /* also sign X-Amz-Content-Sha256 (as the AWS SDKs for JS do) */
    const char *region;
    const char *service;
    time_t when;
} dsql__sigv4_request;

/*
 * Computes the SigV4 Authorization header value for req. The caller sends exactly the
 * signed headers: Content-Type (if set), Host, X-Amz-Content-Sha256 (= payload_hash, if
 * req->content_sha256), X-Amz-Date (= amzdate) and, when creds carry a session token,
 * X-Amz-Security-Token. *authorization is replaced by the value (free with
 * dsql__sb_free; it holds no secret).
 */
int dsql__sigv4_sign_headers(const dsql__sigv4_request *req, const dsql_credentials *creds,
                             char amzdate[17], char payload_hash[DSQL__SHA256_HEX],
                             dsql__strbuf *authorization, dsql_error *err);

#endif
