/*
 * One client session: the startup (TLS only, by SSLRequest or direct TLS with ALPN
 * "postgresql"; IAM token as the password), a connection to the backend as the same user,
 * then the relay of protocol messages both ways with what DSQL does differently applied.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rules/rules.h"
#include "server.h"

#define IO_TIMEOUT_MS   60000
#define STARTUP_TIMEOUT 10000
#define MAX_MESSAGE     (10u << 20) /* DSQL closes the socket past 10 MiB */
#define PROTO_3_0       196608u
#define SSL_REQUEST     80877103u
#define GSSENC_REQUEST  80877104u
#define CANCEL_REQUEST  80877102u

struct dl_session {
    dl_session *prev, *next;
    dl_end client, backend;
    uint32_t pid, key;       /* ours, given to the client */
    uint32_t be_pid, be_key; /* the backend's */
    char user[128], database[128], sni[256];
    time_t started;
    dl_tx_state tx;
    char status; /* last ReadyForQuery status: I, T, E */
    atomic_bool kill;
    bool stalled;
    char pending_tag[32]; /* a renamed result's command tag */
    bool ddl_pending;     /* DDL sent since the last ReadyForQuery */
    bool error_seen;
    bool drop_at_ready; /* fault: drop when the next ReadyForQuery comes */
    bool drop_at_row;   /* fault: drop at the next DataRow */
    dl_buf to_client, to_backend;
    /* Named prepared statements: what each is, so that its executions meet the same
     * limits and injected faults as statements sent as text. */
    struct named_stmt {
        char *name;
        dl_stmt_info info;
        int nparams;
    } * named;
    size_t n_named, cap_named;
};

/* ---- the session registry ---- */

static void registry_add(dl_session *s)
{
    pthread_mutex_lock(&dl.mu);
    s->next = dl.sessions;
    if (dl.sessions)
        dl.sessions->prev = s;
    dl.sessions = s;
    pthread_mutex_unlock(&dl.mu);
    atomic_fetch_add(&dl_fault.sessions_now, 1);
}

static void registry_remove(dl_session *s)
{
    pthread_mutex_lock(&dl.mu);
    if (s->prev)
        s->prev->next = s->next;
    else if (dl.sessions == s)
        dl.sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&dl.mu);
    atomic_fetch_sub(&dl_fault.sessions_now, 1);
}

int dl_kill_all(void)
{
    int n = 0;
    pthread_mutex_lock(&dl.mu);
    for (dl_session *s = dl.sessions; s; s = s->next) {
        atomic_store(&s->kill, true);
        shutdown(s->client.fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&dl.mu);
    return n;
}

/* ---- the backend ---- */

static int backend_connect(void)
{
    const char *h = dl.cfg.backend_host;
    int fd;
    if (h[0] == '/') {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.%d", h, dl.cfg.backend_port);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
    } else {
        char port[16];
        snprintf(port, sizeof port, "%d", dl.cfg.backend_port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
        if (getaddrinfo(h, port, &hints, &ai) != 0)
            return -1;
        fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (fd >= 0)
                close(fd);
            freeaddrinfo(ai);
            return -1;
        }
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

void dl_cancel(uint32_t pid, uint32_t key)
{
    uint32_t be_pid = 0, be_key = 0;
    pthread_mutex_lock(&dl.mu);
    for (dl_session *s = dl.sessions; s; s = s->next)
        if (s->pid == pid && s->key == key) {
            be_pid = s->be_pid;
            be_key = s->be_key;
        }
    pthread_mutex_unlock(&dl.mu);
    if (!be_pid)
        return;
    int fd = backend_connect();
    if (fd < 0)
        return;
    unsigned char m[16];
    dl_put32(m, 16);
    dl_put32(m + 4, CANCEL_REQUEST);
    dl_put32(m + 8, be_pid);
    dl_put32(m + 12, be_key);
    dl_end e = {.fd = fd};
    dl_write(&e, m, sizeof m, 2000);
    close(fd);
}

/* ---- messages back to the client ---- */

static bool flush_client(dl_session *s)
{
    if (s->to_client.len == 0)
        return true;
    bool ok = dl_write(&s->client, s->to_client.data, s->to_client.len, IO_TIMEOUT_MS);
    s->to_client.len = 0;
    return ok;
}

static bool flush_backend(dl_session *s)
{
    if (s->to_backend.len == 0)
        return true;
    bool ok = dl_write(&s->backend, s->to_backend.data, s->to_backend.len, IO_TIMEOUT_MS);
    s->to_backend.len = 0;
    return ok;
}

static void fatal(dl_session *s, const char *code, const char *msg, const char *hint)
{
    dl_error_msg(&s->to_client, "FATAL", code, msg, hint);
    flush_client(s);
}

/* ---- startup ---- */

/* The SNI the client sent (libpq sends the host name it connects to). */
static int sni_cb(SSL *ssl, int *al, void *arg)
{
    (void)al;
    (void)arg;
    (void)ssl;
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (i + 1 + l <= inlen && l == 10 && !memcmp(in + i + 1, "postgresql", 10)) {
            *out = in + i + 1;
            *outlen = 10;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

SSL_CTX *dl_tls_context(const char *cert, const char *key, char *why, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(why, cap, "cannot load the certificate %s and key %s", cert, key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    return ctx;
}

static bool tls_accept(dl_session *s)
{
    s->client.ssl = SSL_new(dl.tls);
    if (!s->client.ssl)
        return false;
    SSL_set_fd(s->client.ssl, s->client.fd);
    int64_t deadline = (int64_t)time(NULL) + STARTUP_TIMEOUT / 1000;
    for (;;) {
        ERR_clear_error();
        int r = SSL_accept(s->client.ssl);
        if (r == 1)
            break;
        int err = SSL_get_error(s->client.ssl, r);
        if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ||
            (int64_t)time(NULL) > deadline)
            return false;
        struct pollfd p = {.fd = s->client.fd,
                           .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        poll(&p, 1, 1000);
    }
    const char *name = SSL_get_servername(s->client.ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(s->sni, sizeof s->sni, "%s", name ? name : "");
    return true;
}

/* Reads the untyped startup-phase message into buf; its length, or -1. */
static long startup_message(dl_session *s, unsigned char *buf, size_t cap)
{
    long m = dl_need_message(&s->client, false, STARTUP_TIMEOUT);
    if (m <= 0 || (size_t)m > cap)
        return -1;
    memcpy(buf, s->client.in.data + s->client.in.off, (size_t)m);
    s->client.in.off += (size_t)m;
    return m;
}

/* Peeks the first byte: 0x16 is a TLS handshake (direct TLS). */
static int first_byte(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, STARTUP_TIMEOUT) <= 0)
        return -1;
    unsigned char b;
    ssize_t r = recv(fd, &b, 1, MSG_PEEK);
    return r == 1 ? b : -1;
}

typedef struct startup {
    char params[4096]; /* key\0value\0... as received */
    size_t len;
} startup;

static const char *param_of(const startup *st, const char *key)
{
    for (size_t i = 0; i < st->len && st->params[i];) {
        const char *k = st->params + i;
        size_t kl = strlen(k);
        const char *v = k + kl + 1;
        if (!strcmp(k, key))
            return v;
        i += kl + 1 + strlen(v) + 1;
    }
    return NULL;
}

/* The client's startup: TLS, then the StartupMessage. false: the session is over. */
static bool client_startup(dl_session *s, startup *st)
{
    unsigned char buf[8192];
    bool tls = false;
    int b = first_byte(s->client.fd);
    if (b == 0x16) { /* direct TLS (PostgreSQL 17's sslnegotiation=direct) */
        if (!tls_accept(s))
            return false;
        const unsigned char *alpn;
        unsigned int alen;
        SSL_get0_alpn_selected(s->client.ssl, &alpn, &alen);
        if (alen != 10)
            return false;
        tls = true;
    }
    for (int round = 0; round < 4; round++) {
        long m = startup_message(s, buf, sizeof buf);
        if (m < 8)
            return false;
        uint32_t code = dl_get32(buf + 4);
        if (code == SSL_REQUEST && !tls) {
            char yes = 'S';
            if (!dl_write(&s->client, &yes, 1, STARTUP_TIMEOUT) || !tls_accept(s))
                return false;
            tls = true;
            continue;
        }
        if (code == GSSENC_REQUEST) {
            char no = 'N';
            if (!dl_write(&s->client, &no, 1, STARTUP_TIMEOUT))
                return false;
            continue;
        }
        if (code == CANCEL_REQUEST && m == 16) {
            dl_cancel(dl_get32(buf + 8), dl_get32(buf + 12));
            return false;
        }
        if (code != PROTO_3_0) {
            fatal(s, "08P01", "unsupported frontend protocol", NULL);
            return false;
        }
        if (!tls) {
            /* Aurora DSQL accepts TLS connections only. */
            fatal(s, "28000", "unable to accept connection, SSL/TLS is required", NULL);
            return false;
        }
        st->len = (size_t)m - 8 < sizeof st->params ? (size_t)m - 8 : sizeof st->params - 1;
        memcpy(st->params, buf + 8, st->len);
        st->params[st->len] = '\0';
        return true;
    }
    return false;
}

/* The password, and DSQL's verdict on it. */
static bool authenticate(dl_session *s)
{
    unsigned char ask[4];
    dl_put32(ask, 3); /* AuthenticationCleartextPassword */
    dl_msg(&s->to_client, 'R', ask, 4);
    if (!flush_client(s))
        return false;
    long m = dl_need_message(&s->client, true, STARTUP_TIMEOUT);
    if (m <= 5 || s->client.in.data[s->client.in.off] != 'p')
        return false;
    char *pw = s->client.in.data + s->client.in.off + 5;
    size_t plen = (size_t)m - 5;
    pw[plen - 1] = '\0';
    dl_auth a = dl_verify_token(pw, s->user, dl.cfg.hostname, time(NULL));
    OPENSSL_cleanse(pw, plen);
    s->client.in.off += (size_t)m;
    if (a == DL_AUTH_OK)
        return true;
    dl_debug("session %u: access denied for %s", s->pid, s->user);
    fatal(s, "28000", "unable to accept connection, access denied",
          a == DL_AUTH_EXPIRED ? "Signature expired" : NULL);
    return false;
}

/* Connects to the backend as the client's user and relays its startup answers. */
static bool backend_startup(dl_session *s, const startup *st)
{
    char why[512];
    if (!dl_setup_database(s->database, why, sizeof why)) {
        dl_log("%s", why);
        fatal(s, "3D000", why, NULL);
        return false;
    }
    int fd = backend_connect();
    if (fd < 0) {
        fatal(s, "08006", "unable to accept connection, the backend is unreachable", NULL);
        return false;
    }
    s->backend.fd = fd;
    /* The client's own startup parameters, with the mark that holds the session to DSQL's
     * rules, and DSQL's isolation level, added to its options. */
    unsigned char msg[8400];
    size_t n = 8;
    dl_put32(msg + 4, PROTO_3_0);
    const char *opts = param_of(st, "options");
    for (size_t i = 0; i < st->len && st->params[i];) {
        const char *k = st->params + i, *v = k + strlen(k) + 1;
        size_t kl = strlen(k) + 1, vl = strlen(v) + 1;
        if (strcmp(k, "options") && n + kl + vl < sizeof msg - 256) {
            memcpy(msg + n, k, kl);
            memcpy(msg + n + kl, v, vl);
            n += kl + vl;
        }
        i += kl + vl;
    }
    /* Every DSQL transaction is REPEATABLE READ (snapshot isolation). */
    int w = snprintf((char *)msg + n, sizeof msg - n - 2,
                     "options%c%s%s-c dsql_local.enforce=on "
                     "-c default_transaction_isolation=repeatable\\ read",
                     0, opts ? opts : "", opts && *opts ? " " : "");
    if (w < 0 || (size_t)w >= sizeof msg - n - 2)
        return false;
    n += (size_t)w + 1;
    msg[n++] = '\0';
    dl_put32(msg, (uint32_t)n);
    if (!dl_write(&s->backend, msg, n, IO_TIMEOUT_MS))
        return false;
    /* AuthenticationOk to the client first: the token was the authentication. */
    unsigned char ok[4] = {0, 0, 0, 0};
    dl_msg(&s->to_client, 'R', ok, 4);
    for (;;) {
        long m = dl_need_message(&s->backend, true, IO_TIMEOUT_MS);
        if (m <= 0)
            return false;
        char t = s->backend.in.data[s->backend.in.off];
        char *body = s->backend.in.data + s->backend.in.off + 5;
        size_t blen = (size_t)m - 5;
        s->backend.in.off += (size_t)m;
        if (t == 'R') {
            if (blen < 4 || dl_get32(body) != 0) {
                fatal(s, "28000", "unable to accept connection, access denied", NULL);
                return false;
            }
        } else if (t == 'K' && blen == 8) {
            s->be_pid = dl_get32(body);
            s->be_key = dl_get32(body + 4);
            unsigned char k[8];
            dl_put32(k, s->pid);
            dl_put32(k + 4, s->key);
            dl_msg(&s->to_client, 'K', k, 8);
        } else if (t == 'S' && !strcmp(body, "server_version")) {
            char ps[128];
            size_t a = strlen("server_version") + 1, v = strlen(dl.cfg.server_version) + 1;
            memcpy(ps, "server_version", a);
            memcpy(ps + a, dl.cfg.server_version, v);
            dl_msg(&s->to_client, 'S', ps, a + v);
        } else if (t == 'E') {
            /* e.g. the role does not exist: DSQL says access denied */
            fatal(s, "28000", "unable to accept connection, access denied", NULL);
            return false;
        } else {
            dl_msg(&s->to_client, t, body, blen);
            if (t == 'Z') {
                s->status = blen ? body[0] : 'I';
                return flush_client(s);
            }
        }
    }
}

/* ---- backend to client ---- */

/* Rewrites an ErrorResponse / NoticeResponse: DSQL's OCC wording, and none of
 * PostgreSQL's internals (context, file, line, routine). */
static void relay_notice(dl_session *s, char t, const char *body, size_t n)
{
    char out[4096];
    size_t o = 0;
    const char *code = NULL;
    for (size_t i = 0; i < n && body[i];) {
        char f = body[i];
        const char *v = body + i + 1;
        size_t vl = strnlen(v, n - i - 1);
        if (f == 'C')
            code = v;
        i += 1 + vl + 1;
    }
    bool occ = code && (!strcmp(code, "40001") || !strcmp(code, "40P01"));
    for (size_t i = 0; i < n && body[i];) {
        char f = body[i];
        const char *v = body + i + 1;
        size_t vl = strnlen(v, n - i - 1);
        i += 1 + vl + 1;
        if (f == 'W' || f == 'F' || f == 'L' || f == 'R' || f == 'p' || f == 'q')
            continue;
        if (occ && f == 'D')
            continue;
        if (occ && f == 'C')
            v = "40001", vl = 5;
        if (occ && f == 'M' && !strstr(v, "(OC00"))
            v = "change conflicts with another transaction, please retry: (OC000)", vl = strlen(v);
        if (o + vl + 3 > sizeof out)
            break;
        out[o++] = f;
        memcpy(out + o, v, vl);
        o += vl;
        out[o++] = '\0';
    }
    out[o++] = '\0';
    dl_msg(&s->to_client, t, out, o);
}

static void relay_row_description(dl_session *s, const char *body, size_t n)
{
    /* One column named "dsql_local:<TAG>:<name>": an emulated result. */
    if (n > 8 && dl_get32(body) >> 16 == 1 && !strncmp(body + 2, "dsql_local:", 11)) {
        const char *tag = body + 2 + 11, *colon = strchr(tag, ':');
        if (colon && (size_t)(colon - tag) < sizeof s->pending_tag) {
            memcpy(s->pending_tag, tag, (size_t)(colon - tag));
            s->pending_tag[colon - tag] = '\0';
            const char *name = colon + 1;
            size_t old = strlen(body + 2) + 1, nl = strlen(name) + 1;
            char out[512];
            if (2 + nl + (n - 2 - old) <= sizeof out) {
                memcpy(out, body, 2);
                memcpy(out + 2, name, nl);
                memcpy(out + 2 + nl, body + 2 + old, n - 2 - old);
                dl_msg(&s->to_client, 'T', out, 2 + nl + n - 2 - old);
                return;
            }
        }
    }
    dl_msg(&s->to_client, 'T', body, n);
}

/* One message from the backend. false: drop the session. */
static bool from_backend(dl_session *s, char t, const char *body, size_t n)
{
    switch (t) {
    case 'E':
        /* The statement ended in an error: an emulated result announced by its
         * RowDescription (extended protocol: Describe before Execute) never completes, and
         * its tag must not rename the next statement's CommandComplete. */
        s->error_seen = true;
        s->pending_tag[0] = '\0';
        relay_notice(s, t, body, n);
        return true;
    case 'N':
        relay_notice(s, t, body, n);
        return true;
    case 'T':
        relay_row_description(s, body, n);
        return true;
    case 'C':
        if (s->pending_tag[0]) {
            char tag[64];
            size_t l = strlen(s->pending_tag);
            memcpy(tag, s->pending_tag, l + 1);
            dl_msg(&s->to_client, 'C', tag, l + 1);
            s->pending_tag[0] = '\0';
            return true;
        }
        break;
    case 'D':
        if (s->drop_at_row) {
            atomic_fetch_add(&dl_fault.injected, 1);
            return false;
        }
        break;
    case 'S':
        if (!strcmp(body, "server_version"))
            return true;
        break;
    case 'Z': {
        char st = n ? body[0] : 'I';
        if (st == 'I' && s->ddl_pending && !s->error_seen)
            dl_schema_bump(s->database);
        if (st == 'I' || s->error_seen)
            s->ddl_pending = s->ddl_pending && st != 'I' && !s->error_seen;
        if (s->status == 'I' && st != 'I') {
            s->tx.in_tx = true;
            s->tx.tx_start = time(NULL);
            s->tx.schema_version = dl_schema_version(s->database);
        } else if (st == 'I') {
            s->tx.in_tx = false;
        }
        s->status = st;
        s->error_seen = false;
        if (s->drop_at_ready) {
            atomic_fetch_add(&dl_fault.injected, 1);
            return false;
        }
        break;
    }
    default:
        break;
    }
    dl_msg(&s->to_client, t, body, n);
    return true;
}

/* ---- client to backend ---- */

static struct named_stmt *named_find(dl_session *s, const char *name)
{
    for (size_t i = 0; i < s->n_named; i++)
        if (!strcmp(s->named[i].name, name))
            return &s->named[i];
    return NULL;
}

/* Remembers (or forgets, info NULL) what the named statement is. */
static void named_set(dl_session *s, const char *name, const dl_stmt_info *info, int nparams)
{
    struct named_stmt *e = named_find(s, name);
    if (!info) {
        if (e) {
            free(e->name);
            *e = s->named[--s->n_named];
        }
        return;
    }
    if (!e) {
        if (s->n_named == s->cap_named) {
            size_t cap = s->cap_named ? s->cap_named * 2 : 16;
            struct named_stmt *n = realloc(s->named, cap * sizeof *n);
            if (!n)
                return; /* not remembered: its executions go unchecked */
            s->named = n;
            s->cap_named = cap;
        }
        char *copy = strdup(name);
        if (!copy)
            return;
        e = &s->named[s->n_named++];
        e->name = copy;
    }
    e->info = *info;
    e->nparams = nparams;
}

static bool forward_text(dl_session *s, char t, const char *sql, int nparams, const char *name,
                         const char *tail, size_t tail_len)
{
    dl_stmt_info info;
    char *new_sql = dl_rewrite(sql, nparams, &s->tx, &info);
    if (t == 'P' && name && *name)
        named_set(s, name, &info, info.nparams > nparams ? info.nparams : nparams);
    const char *text = new_sql ? new_sql : sql;
    atomic_fetch_add(&dl_fault.statements, 1);
    if (info.ddl)
        s->ddl_pending = true;
    if (info.commit || info.dml || info.ddl) {
        pthread_mutex_lock(&dl_fault.mu);
        bool before = info.commit && dl_take(&dl_fault.drop_before_commit_n);
        bool after = info.commit && !before && dl_take(&dl_fault.drop_after_commit_n);
        bool mid = !before && !after && dl_take(&dl_fault.drop_mid_result_n);
        pthread_mutex_unlock(&dl_fault.mu);
        if (before) {
            atomic_fetch_add(&dl_fault.injected, 1);
            free(new_sql);
            return false;
        }
        s->drop_at_ready = s->drop_at_ready || after;
        s->drop_at_row = s->drop_at_row || mid;
    }
    pthread_mutex_lock(&dl_fault.mu);
    bool stall = dl_take(&dl_fault.stall_next_n);
    double drop = dl_fault.drop_rate;
    pthread_mutex_unlock(&dl_fault.mu);
    if (stall) {
        atomic_fetch_add(&dl_fault.injected, 1);
        s->stalled = true;
    }
    if (drop > 0 && dl_random() < drop) {
        atomic_fetch_add(&dl_fault.injected, 1);
        free(new_sql);
        return false;
    }
    size_t nl = name ? strlen(name) + 1 : 0, tl = strlen(text) + 1;
    bool ok = dl_buf_reserve(&s->to_backend, nl + tl + tail_len + 5);
    if (ok) {
        dl_buf *b = &s->to_backend;
        b->data[b->len] = t;
        dl_put32(b->data + b->len + 1, (uint32_t)(4 + nl + tl + tail_len));
        size_t o = b->len + 5;
        if (nl)
            memcpy(b->data + o, name, nl);
        memcpy(b->data + o + nl, text, tl);
        if (tail_len)
            memcpy(b->data + o + nl + tl, tail, tail_len);
        b->len = o + nl + tl + tail_len;
    }
    free(new_sql);
    return ok;
}

/* A Bind of a named statement: when DSQL would answer this execution with an error (the
 * transaction's limits, an injected fault), the portal is bound instead to an unnamed
 * statement raising it, with the same parameters. */
static bool forward_bind(dl_session *s, char *body, size_t n)
{
    size_t pl = strnlen(body, n);
    if (pl + 1 >= n)
        return false;
    const char *stmt = body + pl + 1;
    size_t sl = strnlen(stmt, n - pl - 1);
    if (pl + 1 + sl >= n)
        return false;
    struct named_stmt *e = sl ? named_find(s, stmt) : NULL;
    char *fault = e ? dl_fault_statement(&e->info, &s->tx, e->nparams) : NULL;
    if (!fault)
        return dl_msg(&s->to_backend, 'B', body, n);
    size_t fl = strlen(fault) + 1;
    char *parse = malloc(1 + fl + 2);
    size_t rest = n - (pl + 1 + sl + 1);
    char *bind = malloc(pl + 1 + 1 + rest);
    bool ok = parse && bind;
    if (ok) {
        parse[0] = '\0'; /* the unnamed statement */
        memcpy(parse + 1, fault, fl);
        parse[1 + fl] = parse[2 + fl] = 0; /* no parameter types: $n::text decides */
        memcpy(bind, body, pl + 1);
        bind[pl + 1] = '\0';
        memcpy(bind + pl + 2, stmt + sl + 1, rest);
        ok = dl_msg(&s->to_backend, 'P', parse, 1 + fl + 2) &&
             dl_msg(&s->to_backend, 'B', bind, pl + 2 + rest);
    }
    free(parse);
    free(bind);
    free(fault);
    return ok;
}

/* One message from the client. false: end the session. */
static bool from_client(dl_session *s, char t, char *body, size_t n)
{
    if (t == 'Q' && n > 0) {
        body[n - 1] = '\0';
        return forward_text(s, 'Q', body, 0, NULL, NULL, 0);
    }
    if (t == 'P' && n > 0) {
        size_t nl = strnlen(body, n);
        if (nl + 1 >= n)
            return false;
        const char *sql = body + nl + 1;
        size_t ql = strnlen(sql, n - nl - 1);
        if (nl + 1 + ql + 1 + 2 > n)
            return false;
        const char *tail = sql + ql + 1;
        size_t tail_len = n - (size_t)(tail - body);
        int nparams = (unsigned char)tail[0] << 8 | (unsigned char)tail[1];
        return forward_text(s, 'P', sql, nparams, body, tail, tail_len);
    }
    if (t == 'B' && n > 0)
        return forward_bind(s, body, n);
    if (t == 'C' && n > 1 && body[0] == 'S') /* Close of a statement */
        named_set(s, body + 1, NULL, 0);
    if (!dl_msg(&s->to_backend, t, body, n))
        return false;
    return t != 'X';
}

/* ---- the relay ---- */

static void relay(dl_session *s)
{
    for (;;) {
        if (atomic_load(&s->kill))
            return;
        time_t now = time(NULL);
        int max_age = atomic_load(&dl.cfg.max_conn_age_s);
        if (max_age > 0 && now - s->started >= max_age) {
            char msg[128];
            if (max_age % 60 == 0)
                snprintf(msg, sizeof msg,
                         "terminating connection: it has reached the maximum connection "
                         "duration of %d minutes",
                         max_age / 60);
            else
                snprintf(msg, sizeof msg,
                         "terminating connection: it has reached the maximum connection "
                         "duration of %d seconds",
                         max_age);
            fatal(s, "57P01", msg, NULL);
            return;
        }
        pthread_mutex_lock(&dl_fault.mu);
        bool stall_all = dl_fault.stall_all;
        int latency = dl_fault.latency_ms;
        pthread_mutex_unlock(&dl_fault.mu);
        if (s->stalled || stall_all) {
            usleep(50000); /* alive and silent: nothing read, nothing sent */
            continue;
        }
        struct pollfd p[2] = {{.fd = s->client.fd, .events = POLLIN},
                              {.fd = s->backend.fd, .events = POLLIN}};
        bool pending = (s->client.ssl && SSL_pending(s->client.ssl) > 0) ||
                       s->client.in.len > s->client.in.off;
        int r = pending ? 1 : poll(p, 2, 1000);
        if (r < 0 && errno != EINTR)
            return;
        if (pending || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (dl_read(&s->client) < 0 && s->client.in.len == s->client.in.off)
                return;
            for (;;) {
                dl_buf *in = &s->client.in;
                size_t have = in->len - in->off;
                if (have < 5)
                    break;
                uint32_t len = dl_get32(in->data + in->off + 1);
                if (len < 4 || len > MAX_MESSAGE)
                    return; /* DSQL closes the socket */
                if (have < (size_t)len + 1)
                    break;
                char t = in->data[in->off];
                char *body = in->data + in->off + 5;
                in->off += (size_t)len + 1;
                bool go = from_client(s, t, body, len - 4);
                if (!go) {
                    flush_backend(s);
                    return;
                }
            }
            if (s->to_backend.len && latency > 0)
                usleep((useconds_t)latency * 1000u);
            if (!flush_backend(s))
                return;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (dl_read(&s->backend) < 0 && s->backend.in.len == s->backend.in.off) {
                flush_client(s);
                return;
            }
            for (;;) {
                dl_buf *in = &s->backend.in;
                size_t have = in->len - in->off;
                if (have < 5)
                    break;
                uint32_t len = dl_get32(in->data + in->off + 1);
                if (have < (size_t)len + 1)
                    break;
                char t = in->data[in->off];
                char *body = in->data + in->off + 5;
                in->off += (size_t)len + 1;
                if (!from_backend(s, t, body, len - 4))
                    return;
            }
            if (!flush_client(s))
                return;
        }
    }
}

void *dl_session_main(void *arg)
{
    dl_session *s = calloc(1, sizeof *s);
    int fd = (int)(intptr_t)arg;
    if (!s) {
        close(fd);
        return NULL;
    }
    s->client.fd = fd;
    s->backend.fd = -1;
    s->status = 'I';
    s->started = time(NULL);
    RAND_bytes((unsigned char *)&s->pid, sizeof s->pid);
    RAND_bytes((unsigned char *)&s->key, sizeof s->key);
    s->pid &= 0x7fffffff;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    registry_add(s);
    startup st = {0};
    if (!client_startup(s, &st))
        goto done;
    const char *user = param_of(&st, "user"), *db = param_of(&st, "database");
    snprintf(s->user, sizeof s->user, "%s", user ? user : "");
    snprintf(s->database, sizeof s->database, "%s", db && *db ? db : s->user);
    s->tx.database = s->database;
    if (!s->sni[0]) {
        fatal(s, "08P01", "unable to accept connection, sni was not received", NULL);
        goto done;
    }
    pthread_mutex_lock(&dl_fault.mu);
    bool refuse = dl_take(&dl_fault.refuse_n);
    char state[6];
    memcpy(state, dl_fault.refuse_state, sizeof state);
    pthread_mutex_unlock(&dl_fault.mu);
    if (refuse) {
        atomic_fetch_add(&dl_fault.injected, 1);
        fatal(s, state,
              !strcmp(state, "53400")   ? "unable to accept connection, rate exceeded"
              : !strcmp(state, "XX000") ? "unable to accept connection, server unavailable"
                                        : "unable to accept connection, too many open connections",
              NULL);
        goto done;
    }
    if (!authenticate(s) || !backend_startup(s, &st))
        goto done;
    atomic_fetch_add(&dl_fault.sessions, 1);
    dl_debug("session %u: %s@%s", s->pid, s->user, s->database);
    relay(s);
done:
    registry_remove(s);
    if (s->client.ssl) {
        SSL_shutdown(s->client.ssl);
        SSL_free(s->client.ssl);
    }
    close(s->client.fd);
    if (s->backend.fd >= 0)
        close(s->backend.fd);
    dl_buf_free(&s->client.in);
    dl_buf_free(&s->backend.in);
    dl_buf_free(&s->to_client);
    dl_buf_free(&s->to_backend);
    for (size_t i = 0; i < s->n_named; i++)
        free(s->named[i].name);
    free(s->named);
    free(s);
    return NULL; /* the parser's per-thread memory goes with the thread (libpg_query) */
}
