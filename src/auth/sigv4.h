/*
 * AWS Signature Version 4 on OpenSSL: hashing, HMAC, RFC 3986 encoding, query presigning
 * (auth tokens) and header signing (STS requests). Internal to the auth layer.
 * Thread rule: pure functions of their arguments; the OpenSSL algorithm is fetched once
 * (pthread_once). What signing reuses between calls belongs to the credentials value
 * (sigv4_memo.c), never to a thread or the process.
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

/*
 * The signer's memo for one credentials value (dsql_credentials.priv_, see sigv4_memo.c):
 * the signing key of the last scope and the session token's URI encoding, each checked
 * against the credentials' current fields before use. Made by dsql_credentials_set, wiped
 * and freed by dsql_credentials_clear.
 */
typedef struct dsql__sigv4_memo dsql__sigv4_memo;

/* A new, empty memo; NULL when out of memory or randomness (signing then works without
 * one). */
dsql__sigv4_memo *dsql__sigv4_memo_new(void);

/* Wipes and frees m. NULL is a no-op. */
void dsql__sigv4_memo_free(dsql__sigv4_memo *m);

/* How many signing keys, and session token encodings, creds' memo has computed (0 without
 * a memo). For tests. */
void dsql__sigv4_memo_stats(const dsql_credentials *creds, unsigned long *key_derivations,
                            unsigned long *token_encodings);

/* The memory blocks creds' memo owns, at most max of them into out; returns how many.
 * For tests. */
size_t dsql__sigv4_memo_blocks(const dsql_credentials *creds, dsql__span *out, size_t max);

/* One signing call: the credentials' memo, taken for the call, or a temporary one when
 * they have none or another thread holds it. */
typedef struct dsql__signer {
    const dsql_credentials *creds;
    dsql__sigv4_memo *m;
    bool temporary;
} dsql__signer;

/* Starts a signing call with creds (NULL: a temporary memo only, for plain HMACs).
 * DSQL_OK, DSQL_ENOMEM or DSQL_EINTERNAL. Always pair with dsql__signer_end. */
int dsql__signer_begin(dsql__signer *s, const dsql_credentials *creds, dsql_error *err);

/* Ends it: releases the memo (frees a temporary one). Harmless after a failed begin. */
void dsql__signer_end(dsql__signer *s);

/* SHA-256 of the concatenation of v[0..n). False only if OpenSSL fails. */
bool dsql__signer_sha256(dsql__signer *s, const dsql__span *v, size_t n,
                         unsigned char out[DSQL__SHA256_LEN]);

/*
 * The SigV4 signature: hex HMAC-SHA256, under the signing key derived from the
 * credentials' secret, date (YYYYMMDD), region and service, of the concatenation of
 * sts[0..n) (the string to sign). The key comes from the memo when it holds it.
 */
int dsql__sigv4_signature(dsql__signer *s, const char date[9], const char *region,
                          const char *service, const dsql__span *sts, size_t n,
                          char sig[DSQL__SHA256_HEX], dsql_error *err);

/*
 * The URI encoding of the credentials' session token (not NULL), from the memo when it
 * encoded the same token. *encoded (not NUL-terminated, a secret) stays valid until
 * dsql__signer_end.
 */
int dsql__sigv4_encoded_token(dsql__signer *s, const char **encoded, size_t *encoded_len,
                              dsql_error *err);

/* HMAC-SHA256(key, msg) by the same code as signatures (for tests). */
bool dsql__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[DSQL__SHA256_LEN]);

/* SipHash-2-4 with a 128-bit output (the memo's fingerprints; exposed for tests). */
void dsql__siphash128(const unsigned char key[16], const void *data, size_t n,
                      unsigned char out[16]);

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
