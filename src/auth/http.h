/*
 * A small libcurl wrapper for the HTTP credential sources (STS, container, instance
 * metadata). Thread rule: each call uses its own curl handle; curl_global_init runs once
 * (pthread_once).
 */
#ifndef DSQL_AUTH_HTTP_H
#define DSQL_AUTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

/* Response bodies larger than this are refused. */
#define DSQL__HTTP_MAX_BODY (1u << 20)

struct dsql__http_response;

typedef struct dsql__http_request {
    const char *method; /* "GET", "PUT" or "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;           /* POST/PUT body, or NULL */
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;                  /* the whole request */
    bool no_proxy;                    /* link-local endpoints: never through a proxy */
    const struct dsql__auth_log *log; /* retries are logged here (may be NULL) */
    int max_attempts;                 /* 0: DSQL__HTTP_ATTEMPTS */
    /* Also retry this answer (STS: a throttling error code in a 400). May be NULL. */
    bool (*throttled)(const struct dsql__http_response *resp);
} dsql__http_request;

/* Attempts per request (the AWS SDKs' standard retry mode), and the backoff: before retry
 * n (1-based), a uniformly random wait in [0, min(base * 2^(n-1), 20 s)), base 1 s or
 * DSQL_AUTH_RETRY_BASE_MS (tests). */
#define DSQL__HTTP_ATTEMPTS     3
#define DSQL__HTTP_BACKOFF_BASE 1000
#define DSQL__HTTP_BACKOFF_MAX  20000

typedef struct dsql__http_response {
    long status;       /* HTTP status code */
    dsql__strbuf body; /* may hold secrets: free with dsql__http_response_free */
    int attempts;      /* how many attempts dsql__http_send made */
} dsql__http_response;

#define DSQL__HTTP_RESPONSE_INIT                                                                   \
    {                                                                                              \
        0, DSQL__STRBUF_INIT, 0                                                                    \
    }

/*
 * Sends req and fills resp (any HTTP status is a success here; the caller judges it).
 * Transient failures are retried, up to DSQL__HTTP_ATTEMPTS attempts with the backoff
 * above: a refused or dropped connection, a timeout, HTTP 5xx and 429, and what
 * req->throttled accepts; never another 4xx. resp then holds the last answer.
 * Failures: DSQL_ETIMEOUT, DSQL_EHTTP (connection, protocol, oversized body) or
 * DSQL_EINVAL (a header with a line break), with a message "<what>: <METHOD> <url>: ...",
 * ending in "(N attempts)" when it was retried.
 */
int dsql__http_send(const dsql__http_request *req, dsql__http_response *resp, const char *what,
                    dsql_error *err);

/* Appends " (N attempts)" to err's message when resp took more than one; returns
 * err's status (DSQL_OK when err is NULL). */
int dsql__http_note_attempts(dsql_error *err, const dsql__http_response *resp);

/* Wipes and frees the response body. */
void dsql__http_response_free(dsql__http_response *resp);

/* Timeout (ms) for an HTTP credential call: DSQL_AUTH_HTTP_TIMEOUT_MS if set, else dflt. */
long dsql__http_timeout_ms(long dflt);

/* Splits url into scheme, host (IPv6 without brackets) and the Host header value
 * (host[:port] as sent). Each output is a malloc'd string or NULL if not wanted. */
int dsql__http_url_parts(const char *url, char **scheme, char **host, char **host_header,
                         char **path, dsql_error *err);

#endif
