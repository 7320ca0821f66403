/*
 * AWS Signature Version 4 on OpenSSL: hashing, HMAC, RFC 3986 encoding, query presigning
 * (auth tokens) and header signing (STS requests). Internal to the auth layer.
 * Thread rule: pure functions; the OpenSSL algorithms are fetched once (pthread_once).
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

/* Hex digest of SHA-256(data). Returns false only if OpenSSL fails. */
bool dsql__sha256_hex(const void *data, size_t len, char out[DSQL__SHA256_HEX]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void dsql__hex(const unsigned char *in, size_t n, char *out);

/* Appends s[0..n) encoded per RFC 3986 (only A-Za-z0-9-_.~ pass; '/' too when
 * keep_slash, for canonical URI paths). */
void dsql__uri_encode(dsql__strbuf *sb, const char *s, size_t n, bool keep_slash);

/* "YYYYMMDDTHHMMSSZ" and "YYYYMMDD" for t (UTC). False if t is out of range. */
bool dsql__amz_date(time_t t, char amzdate[17], char date[9]);

/* A query parameter to presign (value is raw; it is encoded here). */
typedef struct dsql__sigv4_param {
    const char *key;
    const char *value;
} dsql__sigv4_param;

/*
 * Presigns `GET https://<host>/?<params>` (host is the only signed header) and appends
 * the full query string, including X-Amz-Signature sorted in among the other keys as the
 * AWS SDKs do, to *out. params need not be sorted; keys must be unique and must not be
 * X-Amz-* ones. *out holds the security token: free it with dsql__sb_free_secret().
 */
int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, dsql__strbuf *out, dsql_error *err);

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
