/* HTTP for the credential sources, on libcurl. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/http.h"
#include "auth/internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

long dsql__http_timeout_ms(long dflt)
{
    const char *v = dsql__env("DSQL_AUTH_HTTP_TIMEOUT_MS");
    if (v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (*end == '\0' && ms > 0 && ms <= 600000)
            return ms;
    }
    return dflt;
}

typedef struct sink {
    dsql__strbuf *sb;
    bool too_big;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->sb->len + n > DSQL__HTTP_MAX_BODY) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    /* Grow by hand so that a reallocation never leaves a copy of a secret behind. */
    if (s->sb->len + n + 1 > s->sb->cap) {
        size_t cap = s->sb->cap ? s->sb->cap : 1024;
        while (cap < s->sb->len + n + 1)
            cap *= 2;
        char *nd = malloc(cap);
        if (!nd)
            return 0;
        if (s->sb->data) {
            memcpy(nd, s->sb->data, s->sb->len);
            dsql__wipe(s->sb->data, s->sb->cap);
            free(s->sb->data);
        }
        s->sb->data = nd;
        s->sb->cap = cap;
    }
    memcpy(s->sb->data + s->sb->len, ptr, n);
    s->sb->len += n;
    s->sb->data[s->sb->len] = '\0';
    return n;
}

/* One attempt. *transient: a failure worth another attempt (connection or timeout). */
static int send_once(const dsql__http_request *req, dsql__http_response *resp, const char *what,
                     bool *transient, dsql_error *err)
{
    *transient = false;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return dsql_error_set(err, DSQL_EHTTP, "%s: libcurl failed to initialise: %s", what,
                              curl_easy_strerror(curl_init_rc));
    struct curl_slist *hdrs = NULL;
    int rc = DSQL_OK;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (strpbrk(*h, "\r\n")) {
            /* Never name the value: it may be a token. */
            const char *colon = strchr(*h, ':');
            int namelen = colon ? (int)(colon - *h) : 0;
            curl_slist_free_all(hdrs);
            return dsql_error_set(err, DSQL_EINVAL, "%s: the %.*s header contains a line break",
                                  what, namelen, *h);
        }
        struct curl_slist *n = curl_slist_append(hdrs, *h);
        if (!n) {
            curl_slist_free_all(hdrs);
            return dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
        }
        hdrs = n;
    }
    /* No "Expect: 100-continue" round trip, no default Accept. */
    struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
    if (n)
        hdrs = n;

    CURL *c = curl_easy_init();
    if (!c) {
        curl_slist_free_all(hdrs);
        return dsql_error_set(err, DSQL_ENOMEM, "%s: curl_easy_init failed", what);
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    sink s = {&resp->body, false};
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libdsql/" DSQL_VERSION_STRING);
    if (req->no_proxy)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    } else if (s.too_big) {
        rc = dsql_error_set(err, DSQL_EHTTP, "%s: %s %s: the response is larger than %u bytes",
                            what, req->method, req->url, DSQL__HTTP_MAX_BODY);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        *transient = true;
        rc = dsql_error_set(err, DSQL_ETIMEOUT, "%s: %s %s: no answer within %ld ms", what,
                            req->method, req->url, req->timeout_ms);
    } else {
        /* A refused, reset or dropped connection; not a bad URL or a TLS verification
         * failure, which another attempt would not cure. */
        *transient = cc == CURLE_COULDNT_CONNECT || cc == CURLE_GOT_NOTHING ||
                     cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_PARTIAL_FILE ||
                     cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
        rc = dsql_error_set(err, DSQL_EHTTP, "%s: %s %s: %s", what, req->method, req->url,
                            curl_err[0] ? curl_err : curl_easy_strerror(cc));
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs); /* holds tokens, but curl gives no way to wipe them */
    return rc;
}

static long backoff_base_ms(void)
{
    const char *v = dsql__env("DSQL_AUTH_RETRY_BASE_MS");
    if (v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (*end == '\0' && ms >= 0 && ms <= DSQL__HTTP_BACKOFF_MAX)
            return ms;
    }
    return DSQL__HTTP_BACKOFF_BASE;
}

int dsql__http_send(const dsql__http_request *req, dsql__http_response *resp, const char *what,
                    dsql_error *err)
{
    long base = backoff_base_ms();
    int max = req->max_attempts > 0 ? req->max_attempts : DSQL__HTTP_ATTEMPTS;
    for (int attempt = 1;; attempt++) {
        bool transient = false;
        dsql_error e = DSQL_ERROR_INIT;
        dsql__http_response_free(resp);
        int rc = send_once(req, resp, what, &transient, &e);
        resp->attempts = attempt;
        bool retry = rc == DSQL_OK ? resp->status >= 500 || resp->status == 429 ||
                                         (req->throttled && req->throttled(resp))
                                   : transient;
        if (!retry || attempt >= max) {
            if (rc != DSQL_OK && attempt > 1) {
                size_t n = strlen(e.message);
                snprintf(e.message + n, sizeof e.message - n, " (%d attempts)", attempt);
            }
            if (rc != DSQL_OK && err)
                *err = e;
            return rc;
        }
        double cap = (double)base * (double)(1L << (attempt - 1));
        if (cap > DSQL__HTTP_BACKOFF_MAX)
            cap = DSQL__HTTP_BACKOFF_MAX;
        int64_t delay = (int64_t)(cap * dsql__random_unit());
        if (rc == DSQL_OK)
            dsql__auth_log_msg(req->log, DSQL_LOG_INFO,
                               "%s: %s %s: HTTP %ld; retry %d of %d in %lld ms", what, req->method,
                               req->url, resp->status, attempt, max - 1, (long long)delay);
        else
            dsql__auth_log_msg(req->log, DSQL_LOG_INFO, "%s; retry %d of %d in %lld ms", e.message,
                               attempt, max - 1, (long long)delay);
        dsql__sleep_ms(delay);
    }
}

int dsql__http_note_attempts(dsql_error *err, const dsql__http_response *resp)
{
    if (!err)
        return DSQL_OK;
    if (resp->attempts > 1) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (%d attempts)", resp->attempts);
    }
    return err->status;
}

void dsql__http_response_free(dsql__http_response *resp)
{
    dsql__sb_free_secret(&resp->body);
    resp->status = 0;
    resp->attempts = 0;
}

int dsql__http_url_parts(const char *url, char **scheme, char **host, char **host_header,
                         char **path, dsql_error *err)
{
    pthread_once(&curl_once, curl_init);
    if (scheme)
        *scheme = NULL;
    if (host)
        *host = NULL;
    if (host_header)
        *host_header = NULL;
    if (path)
        *path = NULL;
    CURLU *u = curl_url();
    if (!u)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    char *sch = NULL, *h = NULL, *port = NULL, *p = NULL;
    int rc = DSQL_OK;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &sch, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK) {
        rc = dsql_error_set(err, DSQL_EINVAL, "'%s' is not a URL (%s)", url,
                            uc != CURLUE_OK ? curl_url_strerror(uc) : "no host");
        goto done;
    }
    if (strcmp(sch, "http") != 0 && strcmp(sch, "https") != 0) {
        rc = dsql_error_set(err, DSQL_EINVAL, "'%s': only http and https URLs are allowed", url);
        goto done;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when given explicitly */
    dsql__strbuf hh = DSQL__STRBUF_INIT;
    dsql__sb_append(&hh, h);
    if (port)
        dsql__sb_appendf(&hh, ":%s", port);
    if (host_header)
        *host_header = dsql__sb_detach(&hh);
    else
        dsql__sb_free(&hh);
    if (host) {
        size_t hl = strlen(h);
        *host = hl >= 2 && h[0] == '[' ? dsql__strdup(h + 1) : dsql__strdup(h);
        if (*host && hl >= 2 && h[0] == '[')
            (*host)[hl - 2] = '\0';
    }
    if (scheme)
        *scheme = dsql__strdup(sch);
    if (path)
        *path = dsql__strdup(p);
    if ((host_header && !*host_header) || (host && !*host) || (scheme && !*scheme) ||
        (path && !*path)) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        if (scheme) {
            free(*scheme);
            *scheme = NULL;
        }
        if (host) {
            free(*host);
            *host = NULL;
        }
        if (host_header) {
            free(*host_header);
            *host_header = NULL;
        }
        if (path) {
            free(*path);
            *path = NULL;
        }
    }
done:
    curl_free(sch);
    curl_free(h);
    curl_free(port);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}
