/* The test HTTP server (see httpd.h). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "testutil.h"

#define MAX_ROUTES   64
#define MAX_REQUESTS 256
#define MAX_HELD     64
#define MAX_REQ_SIZE (1 << 20)

typedef struct route {
    char *method;
    char *path;
    int status;
    char *body;
    bool once, used; /* a one-shot route, and whether it has served */
} route;

struct tu_httpd {
    int listen_fd;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    char url[64];
    route routes[MAX_ROUTES];
    size_t nroutes;
    tu_http_request reqs[MAX_REQUESTS];
    size_t nreqs;
    int held[MAX_HELD]; /* connections never answered */
    size_t nheld;
};

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request; returns false on a broken or oversized one. */
static bool read_request(int fd, char **buf, size_t *len, size_t *head_len, size_t *body_len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b)
        return false;
    size_t need = 0; /* total once the header is in */
    for (;;) {
        if (need && n >= need)
            break;
        if (n + 1 >= cap) {
            if (cap >= MAX_REQ_SIZE)
                goto fail;
            cap *= 2;
            char *nb = realloc(b, cap);
            if (!nb)
                goto fail;
            b = nb;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 5000) <= 0)
            goto fail;
        ssize_t got = recv(fd, b + n, cap - n - 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            goto fail;
        n += (size_t)got;
        b[n] = '\0';
        if (!need) {
            char *end = strstr(b, "\r\n\r\n");
            if (!end)
                continue;
            *head_len = (size_t)(end - b) + 4;
            size_t cl = 0;
            for (char *line = strstr(b, "\r\n"); line && line < end;
                 line = strstr(line + 2, "\r\n"))
                if (!strncasecmp(line + 2, "Content-Length:", 15))
                    cl = strtoul(line + 17, NULL, 10);
            need = *head_len + cl;
            *body_len = cl;
        }
    }
    *buf = b;
    *len = n;
    return true;
fail:
    free(b);
    return false;
}

static void serve(tu_httpd *s, int fd)
{
    char *buf;
    size_t len, head_len = 0, body_len = 0;
    if (!read_request(fd, &buf, &len, &head_len, &body_len)) {
        close(fd);
        return;
    }
    char *sp1 = strchr(buf, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    char *eol = strstr(buf, "\r\n");
    if (!sp1 || !sp2 || sp2 > eol) {
        free(buf);
        close(fd);
        return;
    }
    tu_http_request r;
    r.method = dupn(buf, (size_t)(sp1 - buf));
    r.target = dupn(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    r.headers = dupn(eol + 2, head_len - (size_t)(eol + 2 - buf) - 2);
    r.body = dupn(buf + head_len, body_len);
    r.body_len = body_len;
    free(buf);

    size_t plen = strcspn(r.target, "?");
    pthread_mutex_lock(&s->mu);
    bool stored = s->nreqs < MAX_REQUESTS;
    if (stored)
        s->reqs[s->nreqs++] = r;
    route *hit = NULL;
    for (size_t i = 0; i < s->nroutes && !hit; i++) { /* one-shot routes first, in order */
        route *rt = &s->routes[i];
        if (rt->once && !rt->used && (!rt->method || !strcmp(rt->method, r.method)) &&
            strlen(rt->path) == plen && !strncmp(rt->path, r.target, plen)) {
            rt->used = true;
            hit = rt;
        }
    }
    for (size_t i = s->nroutes; !hit && i-- > 0;) {
        route *rt = &s->routes[i];
        if (!rt->once && (!rt->method || !strcmp(rt->method, r.method)) &&
            strlen(rt->path) == plen && !strncmp(rt->path, r.target, plen)) {
            hit = rt;
            break;
        }
    }
    int status = hit ? hit->status : 404;
    char *body = dupn(hit && hit->body ? hit->body : "", hit && hit->body ? strlen(hit->body) : 0);
    if (status == 0 && s->nheld < MAX_HELD) {
        s->held[s->nheld++] = fd;
        pthread_mutex_unlock(&s->mu);
        free(body);
        return;
    }
    pthread_mutex_unlock(&s->mu);
    if (status < 0) { /* drop the connection without a word */
        free(body);
        close(fd);
        status = 0;
        goto done;
    }
    if (!stored) {
        free(r.method);
        free(r.target);
        free(r.headers);
        free(r.body);
    }
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                      reason(status), strlen(body));
    write_all(fd, head, (size_t)hl);
    write_all(fd, body, strlen(body));
    free(body);
    close(fd);
    return;
done:
    if (!stored) {
        free(r.method);
        free(r.target);
        free(r.headers);
        free(r.body);
    }
}

static void *loop(void *arg)
{
    tu_httpd *s = arg;
    for (;;) {
        struct pollfd pfd[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int pr = poll(pfd, 2, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || pfd[1].revents)
            break;
        if (pfd[0].revents & POLLIN) {
            int fd = accept(s->listen_fd, NULL, NULL);
            if (fd >= 0)
                serve(s, fd);
        }
    }
    return NULL;
}

tu_httpd *tu_httpd_start(void)
{
    tu_httpd *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->listen_fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->listen_fd, 64), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &al), 0);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    assert_int_equal(pipe(s->wake), 0);
    assert_int_equal(pthread_mutex_init(&s->mu, NULL), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, loop, s), 0);
    return s;
}

static void free_routes(tu_httpd *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
        free(s->routes[i].body);
    }
    s->nroutes = 0;
}

static void free_requests(tu_httpd *s)
{
    for (size_t i = 0; i < s->nreqs; i++) {
        free(s->reqs[i].method);
        free(s->reqs[i].target);
        free(s->reqs[i].headers);
        free(s->reqs[i].body);
    }
    s->nreqs = 0;
}

void tu_httpd_stop(tu_httpd *s)
{
    if (!s)
        return;
    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nheld; i++)
        close(s->held[i]);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    free_routes(s);
    free_requests(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *tu_httpd_url(const tu_httpd *s)
{
    return s->url;
}

static void add_route(tu_httpd *s, const char *method, const char *path, int status,
                      const char *body, bool once)
{
    pthread_mutex_lock(&s->mu);
    assert_true(s->nroutes < MAX_ROUTES);
    route *r = &s->routes[s->nroutes++];
    r->method = method ? strdup(method) : NULL;
    r->path = strdup(path);
    r->status = status;
    r->body = body ? strdup(body) : NULL;
    r->once = once;
    r->used = false;
    pthread_mutex_unlock(&s->mu);
}

void tu_httpd_route(tu_httpd *s, const char *method, const char *path, int status, const char *body)
{
    add_route(s, method, path, status, body, false);
}

void tu_httpd_route_once(tu_httpd *s, const char *method, const char *path, int status,
                         const char *body)
{
    add_route(s, method, path, status, body, true);
}

void tu_httpd_reset(tu_httpd *s)
{
    pthread_mutex_lock(&s->mu);
    free_routes(s);
    free_requests(s);
    pthread_mutex_unlock(&s->mu);
}

size_t tu_httpd_count(tu_httpd *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const tu_http_request *tu_httpd_request(tu_httpd *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const tu_http_request *r = i < s->nreqs ? &s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    assert_non_null(r);
    return r;
}

const char *tu_http_header(const tu_http_request *r, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t ll = eol ? (size_t)(eol - line) : strlen(line);
        if (ll > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - line);
            if (vl >= size)
                vl = size - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = eol ? eol + 2 : line + ll;
    }
    return NULL;
}
