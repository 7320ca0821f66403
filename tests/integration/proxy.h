/*
 * A small TCP proxy in front of the throwaway PostgreSQL, for tests (header-only).
 *
 * The first `nreject` connections are answered with a scripted FATAL ErrorResponse (what
 * Aurora DSQL sends for access denied, an expired signature, a cluster waking up or a
 * connection rate limit) in reply to the startup packet - inside TLS when the client asks
 * for it (the throwaway server's own certificate and key, `tls_dir`), since libpq ignores
 * errors sent during SSL negotiation. Later connections are forwarded byte for byte to the upstream
 * server (TLS passes through untouched). When `cut_on` is set, a connection is cut - both
 * sockets closed, the packet not forwarded - as soon as the client sends bytes containing
 * that text (visible only with sslmode=disable), which is how a test loses a connection
 * exactly while COMMIT is in flight. `stall_on` stalls a connection the same way (alive,
 * silent: the server never sees the packet, the client never hears back), and `hold_new`
 * accepts connections without ever answering them; `refuse` drops every connection and
 * stops listening (connects are refused, as while a server restarts) until it is cleared.
 */
#ifndef DSQL_TEST_PROXY_H
#define DSQL_TEST_PROXY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PX_MAX_PAIRS 64

typedef struct px_reject {
    const char *sqlstate;
    const char *message;
    const char *hint; /* NULL = none */
} px_reject;

typedef struct proxy {
    int listen_fd;
    int port;
    int upstream_port;
    px_reject reject[8];
    int nreject;
    const char *cut_on;
    int cut_limit;       /* cut at most this many connections (0 = no limit) */
    const char *tls_dir; /* directory with server.crt and server.key */
    const char *stall_on; /* a client packet holding this text stalls its connection: from
                             then on nothing is forwarded either way, the sockets stay open */
    atomic_bool hold_new; /* new connections are accepted and then never answered */
    atomic_bool refuse;   /* nobody listens: connects are refused (ECONNREFUSED) */
    SSL_CTX *tls;
    atomic_int accepted;
    atomic_int cuts;
    atomic_bool stop;
    pthread_t thread;
    int pairs[PX_MAX_PAIRS][2]; /* client, upstream; -1 = free */
    bool stalled[PX_MAX_PAIRS];
    int held[PX_MAX_PAIRS]; /* accepted while hold_new; -1 = free */
    atomic_int stalls;
} proxy;

static inline bool px_write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static inline size_t px_error_message(const px_reject *r, char *msg, size_t cap)
{
    char body[1024];
    size_t n = 0;
#define PX_FIELD(tag, text)                                                                        \
    do {                                                                                           \
        size_t l_ = strlen(text) + 1;                                                              \
        if (n + 1 + l_ < sizeof body) {                                                            \
            body[n++] = (tag);                                                                     \
            memcpy(body + n, (text), l_);                                                          \
            n += l_;                                                                               \
        }                                                                                          \
    } while (0)
    PX_FIELD('S', "FATAL");
    PX_FIELD('V', "FATAL");
    PX_FIELD('C', r->sqlstate);
    PX_FIELD('M', r->message);
    if (r->hint)
        PX_FIELD('H', r->hint);
#undef PX_FIELD
    body[n++] = '\0';
    uint32_t len = htonl((uint32_t)(n + 4));
    if (n + 5 > cap)
        return 0;
    msg[0] = 'E';
    memcpy(msg + 1, &len, 4);
    memcpy(msg + 5, body, n);
    return n + 5;
}

/* Answers one client with the scripted refusal: reads the SSLRequest (accepting TLS when
 * configured) and the startup packet, then sends the ErrorResponse and closes. */
static inline void px_refuse(proxy *p, int c, const px_reject *r)
{
    char buf[4096], msg[1100];
    size_t mlen = px_error_message(r, msg, sizeof msg);
    struct pollfd w = {.fd = c, .events = POLLIN};
    if (poll(&w, 1, 5000) <= 0)
        return;
    ssize_t n = read(c, buf, sizeof buf);
    if (n < 8)
        return;
    bool ssl_request = n == 8 && buf[4] == 0x04 && buf[5] == (char)0xd2 && buf[6] == 0x16 &&
                       buf[7] == 0x2f; /* 80877103 */
    if (!ssl_request) {
        px_write_all(c, msg, mlen);
        return;
    }
    if (!p->tls) {
        px_write_all(c, "N", 1);
        if (poll(&w, 1, 5000) > 0 && read(c, buf, sizeof buf) > 0)
            px_write_all(c, msg, mlen);
        return;
    }
    px_write_all(c, "S", 1);
    SSL *ssl = SSL_new(p->tls);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1 && SSL_read(ssl, buf, sizeof buf) > 0) {
        SSL_write(ssl, msg, (int)mlen);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
}

static inline int px_connect_upstream(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void px_close_pair(proxy *p, int i)
{
    close(p->pairs[i][0]);
    close(p->pairs[i][1]);
    p->pairs[i][0] = p->pairs[i][1] = -1;
    p->stalled[i] = false;
}

/* Keeps an accepted connection open without ever answering it. */
static inline void px_hold(proxy *p, int c)
{
    for (int i = 0; i < PX_MAX_PAIRS; i++)
        if (p->held[i] < 0) {
            p->held[i] = c;
            return;
        }
    close(c);
}

static inline bool px_contains(const char *buf, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(buf + i, needle, m))
            return true;
    return false;
}

/* A listening socket on the loopback port (0 = any free one); -1 on failure. */
static inline int px_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static inline void *px_main(void *arg)
{
    proxy *p = arg;
    char buf[65536];
    while (!atomic_load(&p->stop)) {
        /* `refuse` closes the listening socket; clearing it listens again on the same port. */
        if (atomic_load(&p->refuse) && p->listen_fd >= 0) {
            close(p->listen_fd);
            p->listen_fd = -1;
            for (int i = 0; i < PX_MAX_PAIRS; i++) /* a server going down drops them all */
                if (p->pairs[i][0] >= 0)
                    px_close_pair(p, i);
        } else if (!atomic_load(&p->refuse) && p->listen_fd < 0) {
            p->listen_fd = px_listen(p->port);
        }
        struct pollfd fds[1 + 2 * PX_MAX_PAIRS];
        int map[1 + 2 * PX_MAX_PAIRS];
        int nfds = 0;
        fds[nfds] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        map[nfds++] = -1;
        for (int i = 0; i < PX_MAX_PAIRS; i++)
            for (int s = 0; s < 2; s++)
                if (p->pairs[i][s] >= 0 && !p->stalled[i]) {
                    fds[nfds] = (struct pollfd){.fd = p->pairs[i][s], .events = POLLIN};
                    map[nfds++] = i * 2 + s;
                }
        if (poll(fds, (nfds_t)nfds, 50) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int c = accept(p->listen_fd, NULL, NULL);
            if (c >= 0) {
                int n = atomic_fetch_add(&p->accepted, 1);
                if (atomic_load(&p->hold_new)) {
                    px_hold(p, c);
                } else if (n < p->nreject) {
                    px_refuse(p, c, &p->reject[n]);
                    close(c);
                } else {
                    int u = px_connect_upstream(p->upstream_port);
                    int slot = -1;
                    for (int i = 0; i < PX_MAX_PAIRS && slot < 0; i++)
                        if (p->pairs[i][0] < 0)
                            slot = i;
                    if (u < 0 || slot < 0) {
                        close(c);
                        if (u >= 0)
                            close(u);
                    } else {
                        p->pairs[slot][0] = c;
                        p->pairs[slot][1] = u;
                    }
                }
            }
        }
        for (int k = 1; k < nfds; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = map[k] / 2, s = map[k] % 2;
            if (p->pairs[i][s] != fds[k].fd)
                continue; /* the pair was closed earlier in this round */
            ssize_t r = read(fds[k].fd, buf, sizeof buf);
            if (r <= 0) {
                px_close_pair(p, i);
                continue;
            }
            if (s == 0 && p->stall_on && px_contains(buf, (size_t)r, p->stall_on)) {
                atomic_fetch_add(&p->stalls, 1);
                p->stalled[i] = true; /* the packet is swallowed; nothing moves any more */
                continue;
            }
            if (s == 0 && p->cut_on && px_contains(buf, (size_t)r, p->cut_on) &&
                (!p->cut_limit || atomic_load(&p->cuts) < p->cut_limit)) {
                atomic_fetch_add(&p->cuts, 1);
                px_close_pair(p, i);
                continue;
            }
            if (!px_write_all(p->pairs[i][1 - s], buf, (size_t)r))
                px_close_pair(p, i);
        }
    }
    return NULL;
}

/* Starts the proxy on a free loopback port in front of upstream_port. Set the reject
 * script and cut_on before calling. Returns false on failure. */
static inline bool proxy_start(proxy *p, int upstream_port)
{
    p->upstream_port = upstream_port;
    p->tls = NULL;
    if (p->tls_dir) {
        char crt[4096], key[4096];
        snprintf(crt, sizeof crt, "%s/server.crt", p->tls_dir);
        snprintf(key, sizeof key, "%s/server.key", p->tls_dir);
        p->tls = SSL_CTX_new(TLS_server_method());
        if (!p->tls || SSL_CTX_use_certificate_chain_file(p->tls, crt) != 1 ||
            SSL_CTX_use_PrivateKey_file(p->tls, key, SSL_FILETYPE_PEM) != 1)
            return false;
    }
    for (int i = 0; i < PX_MAX_PAIRS; i++) {
        p->pairs[i][0] = p->pairs[i][1] = p->held[i] = -1;
        p->stalled[i] = false;
    }
    atomic_store(&p->stalls, 0);
    atomic_store(&p->accepted, 0);
    atomic_store(&p->cuts, 0);
    atomic_store(&p->stop, false);
    atomic_store(&p->refuse, false);
    p->listen_fd = px_listen(0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (p->listen_fd < 0 || getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0)
        return false;
    p->port = ntohs(a.sin_port);
    return pthread_create(&p->thread, NULL, px_main, p) == 0;
}

static inline void proxy_stop(proxy *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < PX_MAX_PAIRS; i++) {
        if (p->pairs[i][0] >= 0)
            px_close_pair(p, i);
        if (p->held[i] >= 0)
            close(p->held[i]);
    }
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    SSL_CTX_free(p->tls);
}

#endif
