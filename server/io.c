/* Buffered, bounded I/O on the two ends of a session (the client, maybe over TLS, and the
 * backend), and the protocol's framing helpers. Sockets are non-blocking; every wait has
 * a deadline. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "server.h"

uint32_t dl_get32(const void *p)
{
    const unsigned char *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void dl_put32(void *p, uint32_t v)
{
    unsigned char *b = p;
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

bool dl_buf_reserve(dl_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 8192;
    while (cap < b->len + extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return false;
    b->data = d;
    b->cap = cap;
    return true;
}

void dl_buf_free(dl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void dl_buf_compact(dl_buf *b)
{
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

bool dl_msg(dl_buf *b, char t, const void *body, size_t n)
{
    if (!dl_buf_reserve(b, n + 5))
        return false;
    b->data[b->len] = t;
    dl_put32(b->data + b->len + 1, (uint32_t)(n + 4));
    if (n)
        memcpy(b->data + b->len + 5, body, n);
    b->len += n + 5;
    return true;
}

bool dl_error_msg(dl_buf *b, const char *severity, const char *code, const char *message,
                  const char *hint)
{
    char body[1400];
    size_t n = 0;
#define FIELD(tag, text)                                                                           \
    do {                                                                                           \
        size_t l_ = strlen(text) + 1;                                                              \
        if (n + 2 + l_ < sizeof body) {                                                            \
            body[n++] = (tag);                                                                     \
            memcpy(body + n, (text), l_);                                                          \
            n += l_;                                                                               \
        }                                                                                          \
    } while (0)
    FIELD('S', severity);
    FIELD('V', severity);
    FIELD('C', code);
    FIELD('M', message);
    if (hint)
        FIELD('H', hint);
#undef FIELD
    body[n++] = '\0';
    return dl_msg(b, 'E', body, n);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r;
}

int dl_read(dl_end *e)
{
    if (e->eof)
        return -1;
    dl_buf_compact(&e->in);
    if (!dl_buf_reserve(&e->in, 16384))
        return -1;
    char *dst = e->in.data + e->in.len;
    size_t room = e->in.cap - e->in.len;
    if (e->ssl) {
        ERR_clear_error();
        int r = SSL_read(e->ssl, dst, (int)(room > 1 << 30 ? 1 << 30 : room));
        if (r > 0) {
            e->in.len += (size_t)r;
            return r;
        }
        int err = SSL_get_error(e->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return 0;
        e->eof = true;
        return -1;
    }
    ssize_t r = read(e->fd, dst, room);
    if (r > 0) {
        e->in.len += (size_t)r;
        return (int)r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    e->eof = true;
    return -1;
}

bool dl_write(dl_end *e, const void *data, size_t n, int timeout_ms)
{
    const char *p = data;
    while (n) {
        if (e->ssl) {
            ERR_clear_error();
            int w = SSL_write(e->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
            if (w > 0) {
                p += w;
                n -= (size_t)w;
                continue;
            }
            int err = SSL_get_error(e->ssl, w);
            short ev = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ||
                wait_fd(e->fd, ev, timeout_ms) <= 0)
                return false;
            continue;
        }
        ssize_t w = write(e->fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(e->fd, POLLOUT, timeout_ms) > 0)
            continue;
        return false;
    }
    return true;
}

/* The length of the whole message at the start of the unread bytes, or 0. */
static size_t message_len(const dl_buf *b, bool typed)
{
    size_t have = b->len - b->off, hdr = typed ? 5 : 4;
    if (have < hdr)
        return 0;
    uint32_t len = dl_get32(b->data + b->off + (typed ? 1 : 0));
    size_t total = (size_t)len + (typed ? 1 : 0);
    if (len < 4)
        return (size_t)-1;
    return have >= total ? total : 0;
}

long dl_need_message(dl_end *e, bool typed, int timeout_ms)
{
    for (;;) {
        size_t m = message_len(&e->in, typed);
        if (m == (size_t)-1)
            return -1; /* malformed length */
        if (m)
            return (long)m;
        if (e->ssl && SSL_pending(e->ssl) > 0) {
            if (dl_read(e) < 0)
                return -1;
            continue;
        }
        int w = wait_fd(e->fd, POLLIN, timeout_ms);
        if (w <= 0)
            return w < 0 ? -1 : 0;
        if (dl_read(e) < 0)
            return -1;
    }
}
