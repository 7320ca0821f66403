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
} dsql__http_request;

typedef struct dsql__http_response {
    long status;       /* HTTP status code */
    dsql__strbuf body; /* may hold secrets: free with dsql__http_response_free */
} dsql__http_response;

#define DSQL__HTTP_RESPONSE_INIT                                                                   \
    {                                                                                              \
        0, DSQL__STRBUF_INIT                                                                       \
    }

/*
 * Sends req and fills resp (any HTTP status is a success here; the caller judges it).
 * Failures: DSQL_ETIMEOUT, DSQL_EHTTP (connection, protocol, oversized body) or
 * DSQL_EINVAL (a header with a line break), with a message "<what>: <METHOD> <url>: ...".
 */
int dsql__http_send(const dsql__http_request *req, dsql__http_response *resp, const char *what,
                    dsql_error *err);

/* Wipes and frees the response body. */
void dsql__http_response_free(dsql__http_response *resp);

/* Timeout (ms) for an HTTP credential call: DSQL_AUTH_HTTP_TIMEOUT_MS if set, else dflt. */
long dsql__http_timeout_ms(long dflt);

/* Splits url into scheme, host (IPv6 without brackets) and the Host header value
 * (host[:port] as sent). Each output is a malloc'd string or NULL if not wanted. */
int dsql__http_url_parts(const char *url, char **scheme, char **host, char **host_header,
                         char **path, dsql_error *err);

#endif
