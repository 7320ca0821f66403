/*
 * A small HTTP/1.1 server for tests of HTTP clients: listens on 127.0.0.1 (port chosen by
 * the kernel), serves scripted responses from its own thread, one request per connection,
 * and records every request so that tests can assert methods, paths, headers and bodies.
 */
#ifndef DSQL_TEST_HTTPD_H
#define DSQL_TEST_HTTPD_H

#include <stddef.h>

typedef struct tu_httpd tu_httpd;

/* A recorded request. Strings stay valid until tu_httpd_stop. */
typedef struct tu_http_request {
    char *method;
    char *target;  /* path and query, as sent */
    char *headers; /* raw header lines, "\r\n"-separated */
    char *body;
    size_t body_len;
} tu_http_request;

/* Starts a server; fails the test on error. */
tu_httpd *tu_httpd_start(void);
/* Stops the server thread, closes every connection and frees everything. NULL is a no-op. */
void tu_httpd_stop(tu_httpd *s);
/* "http://127.0.0.1:<port>" */
const char *tu_httpd_url(const tu_httpd *s);

/*
 * Scripts the answer to `method path` (method NULL = any; path matched without the query).
 * The latest matching route wins. status 0 = never answer: the connection is held open
 * until the server stops (for timeout tests); -1 = close the connection at once.
 * Strings are copied.
 */
void tu_httpd_route(tu_httpd *s, const char *method, const char *path, int status,
                    const char *body);
/* A route that answers once, before any tu_httpd_route for the same request; one-shot
 * routes serve in the order they were added (a script: 503, then 200). status -1 closes
 * the connection without answering (a dropped connection). */
void tu_httpd_route_once(tu_httpd *s, const char *method, const char *path, int status,
                         const char *body);
/* Forgets every route and recorded request. */
void tu_httpd_reset(tu_httpd *s);

/* Number of requests received so far, and the i-th (0-based) of them. */
size_t tu_httpd_count(tu_httpd *s);
const tu_http_request *tu_httpd_request(tu_httpd *s, size_t i);

/* The value of a header of a recorded request (case-insensitive name) copied into buf;
 * NULL when absent. */
const char *tu_http_header(const tu_http_request *r, const char *name, char *buf, size_t size);

#endif
