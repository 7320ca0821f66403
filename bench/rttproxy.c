/*
 * rttproxy: a TCP byte proxy that emulates network round-trip latency.
 *
 *   rttproxy --target HOST:PORT [--listen ADDR:PORT] [--rtt-ms MS] [--max-seconds S]
 *
 * Listens on ADDR:PORT (default 127.0.0.1:0, i.e. a free port), prints
 * "listening on ADDR:PORT" on stdout once ready, and forwards every accepted connection to
 * the target. Each chunk read in either direction is held for RTT/2 before it is written
 * on, so a request/response exchange costs one emulated RTT; order is preserved. Bytes
 * are not interpreted, so TLS passes through untouched.
 *
 * One thread, ppoll() with nanosecond timeouts, a FIFO of timestamped chunks per
 * direction. Stops on SIGINT/SIGTERM or after --max-seconds (default 3600), printing its
 * totals on stderr, round trips among them: each time a client sends after its server
 * has answered (connection set-up - TLS, startup, authentication - and close included).
 */
#define _GNU_SOURCE /* ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE    65536
#define MAX_QUEUED   (8u << 20) /* per direction; beyond this the reader is paused */
#define MAX_SESSIONS 256

typedef struct chunk {
    struct chunk *next;
    int64_t due_ns; /* monotonic time at which it may be written */
    size_t len;
    size_t off; /* bytes of it already written */
    unsigned char data[];
} chunk;

/* One direction of a session: bytes read from `from` wait in the queue, then go to `to`. */
typedef struct direction {
    int from, to;
    chunk *head, *tail;
    size_t queued;
    bool eof;     /* `from` reached end of stream */
    bool shut;    /* `to` was shut down for writing after the queue drained */
    bool blocked; /* last write to `to` would block: wait for POLLOUT */
} direction;

typedef struct session {
    int client, server;
    direction up;   /* client -> server */
    direction down; /* server -> client */
    bool dead;
    bool answered; /* the server has sent since the client last did */
} session;

typedef struct proxy {
    int listen_fd;
    struct sockaddr_storage target;
    socklen_t target_len;
    int64_t half_rtt_ns;
    session *sessions[MAX_SESSIONS];
    size_t n_sessions;
    unsigned long long accepted, chunks, bytes;
    unsigned long long round_trips; /* client turns: sends after the server answered */
} proxy;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "rttproxy: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* Only interrupts ppoll (EINTR); the loop then stops. */
static void on_signal(int sig)
{
    (void)sig;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rttproxy --target HOST:PORT [--listen ADDR:PORT] [--rtt-ms MS]\n"
                 "                [--max-seconds S]\n"
                 "Forwards TCP connections to HOST:PORT, delaying every chunk by MS/2\n"
                 "milliseconds in each direction (MS may be fractional; default 0).\n"
                 "Prints \"listening on ADDR:PORT\" when ready; stops on SIGINT/SIGTERM or\n"
                 "after S seconds (default 3600).\n");
}

/* Splits "host:port" (the last colon separates) and resolves it to an IPv4/IPv6 address. */
static void resolve(const char *spec, bool passive, struct sockaddr_storage *out,
                    socklen_t *out_len)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof(host))
        die("'%s' is not HOST:PORT", spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive)
        hints.ai_flags = AI_PASSIVE;
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai)
        die("cannot resolve '%s'", spec);
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *out_len = ai->ai_addrlen;
    freeaddrinfo(ai);
}

static void set_socket_options(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void free_queue(direction *d)
{
    chunk *c = d->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    d->head = d->tail = NULL;
    d->queued = 0;
}

static void session_free(session *s)
{
    free_queue(&s->up);
    free_queue(&s->down);
    close(s->client);
    close(s->server);
    free(s);
}

static void accept_one(proxy *p)
{
    int c = accept(p->listen_fd, NULL, NULL);
    if (c < 0)
        return;
    if (p->n_sessions == MAX_SESSIONS) {
        fprintf(stderr, "rttproxy: too many connections (%d), refusing one\n", MAX_SESSIONS);
        close(c);
        return;
    }
    /* The target is local or near: a blocking connect keeps this simple. */
    int s = socket(p->target.ss_family, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&p->target, p->target_len) != 0) {
        fprintf(stderr, "rttproxy: cannot connect to the target: %s\n", strerror(errno));
        if (s >= 0)
            close(s);
        close(c);
        return;
    }
    session *ss = calloc(1, sizeof(*ss));
    if (!ss) {
        close(s);
        close(c);
        return;
    }
    set_socket_options(c);
    set_socket_options(s);
    ss->client = c;
    ss->server = s;
    ss->up.from = c;
    ss->up.to = s;
    ss->down.from = s;
    ss->down.to = c;
    ss->answered = true; /* the client's first bytes start its first round trip */
    p->sessions[p->n_sessions++] = ss;
    p->accepted++;
}

/* Reads what is available into a new chunk due half an RTT from now. */
static void read_into(proxy *p, session *s, direction *d, int64_t now)
{
    unsigned char buf[READ_SIZE];
    ssize_t n = recv(d->from, buf, sizeof(buf), 0);
    if (n == 0) {
        d->eof = true;
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            s->dead = true;
        return;
    }
    chunk *c = malloc(sizeof(*c) + (size_t)n);
    if (!c) {
        s->dead = true;
        return;
    }
    memcpy(c->data, buf, (size_t)n);
    c->next = NULL;
    c->len = (size_t)n;
    c->off = 0;
    c->due_ns = now + p->half_rtt_ns;
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += (size_t)n;
    /* A round trip is the client's turn to speak: the first bytes it sends after the
     * server has said something (or at all). A request cut into several chunks is one. */
    if (d == &s->up && s->answered) {
        p->round_trips++;
        s->answered = false;
    } else if (d == &s->down) {
        s->answered = true;
    }
    p->chunks++;
    p->bytes += (size_t)n;
}

/* Writes every chunk that is due, in order, until one would block. */
static void flush_due(session *s, direction *d, int64_t now)
{
    while (d->head && d->head->due_ns <= now) {
        chunk *c = d->head;
        ssize_t n = send(d->to, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                d->blocked = true;
                return;
            }
            if (errno == EINTR)
                continue;
            s->dead = true;
            return;
        }
        d->blocked = false;
        c->off += (size_t)n;
        d->queued -= (size_t)n;
        if (c->off < c->len)
            continue;
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    if (d->eof && !d->head && !d->shut) {
        shutdown(d->to, SHUT_WR);
        d->shut = true;
    }
}

/* The earliest due time of a queue head not yet due, or INT64_MAX. */
static int64_t next_due(const direction *d, int64_t now)
{
    if (d->head && !d->blocked && d->head->due_ns > now)
        return d->head->due_ns;
    return INT64_MAX;
}

static short events_for(const direction *reading, const direction *writing)
{
    short ev = 0;
    if (!reading->eof && reading->queued < MAX_QUEUED)
        ev |= POLLIN;
    if (writing->blocked)
        ev |= POLLOUT;
    return ev;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'}, {"listen", required_argument, NULL, 'l'},
        {"rtt-ms", required_argument, NULL, 'r'}, {"max-seconds", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {0}};
    const char *target = NULL, *listen_on = "127.0.0.1:0";
    double rtt_ms = 0, max_seconds = 3600;
    int c;
    while ((c = getopt_long(argc, argv, "t:l:r:m:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 't':
            target = optarg;
            break;
        case 'l':
            listen_on = optarg;
            break;
        case 'r':
            rtt_ms = strtod(optarg, &end);
            if (*end || end == optarg || !(rtt_ms >= 0 && rtt_ms <= 60000))
                die("--rtt-ms must be a number of milliseconds from 0 to 60000, not '%s'", optarg);
            break;
        case 'm':
            max_seconds = strtod(optarg, &end);
            if (*end || end == optarg || !(max_seconds > 0 && max_seconds <= 86400))
                die("--max-seconds must be from 0 (excluded) to 86400, not '%s'", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!target || optind != argc) {
        usage(stderr);
        return 2;
    }

    proxy p = {.half_rtt_ns = (int64_t)(rtt_ms * 1e6 / 2)};
    resolve(target, false, &p.target, &p.target_len);
    struct sockaddr_storage la;
    socklen_t la_len;
    resolve(listen_on, true, &la, &la_len);
    p.listen_fd = socket(la.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (p.listen_fd < 0 || bind(p.listen_fd, (struct sockaddr *)&la, la_len) != 0 ||
        listen(p.listen_fd, 64) != 0)
        die("cannot listen on %s", listen_on);
    fcntl(p.listen_fd, F_SETFL, fcntl(p.listen_fd, F_GETFL) | O_NONBLOCK);
    la_len = sizeof(la);
    getsockname(p.listen_fd, (struct sockaddr *)&la, &la_len);
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (la.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&la;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        port = ntohs(in->sin_port);
    } else if (la.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&la;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        port = ntohs(in6->sin6_port);
    }
    printf("listening on %s:%d\n", addr, port);
    fflush(stdout);

    /* SIGINT/SIGTERM stay blocked except inside ppoll, so none is lost between checks. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction on_stop = {.sa_handler = on_signal};
    sigaction(SIGINT, &on_stop, NULL);
    sigaction(SIGTERM, &on_stop, NULL);

    /* Wake up when asked, not up to 50 us later (the default timer slack): the emulated
     * delay should be the one requested. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    int64_t deadline = mono_ns() + (int64_t)(max_seconds * 1e9);
    struct pollfd pfd[1 + 2 * MAX_SESSIONS];
    session *owner[1 + 2 * MAX_SESSIONS];
    bool from_client[1 + 2 * MAX_SESSIONS];
    for (;;) {
        int64_t now = mono_ns();
        if (now >= deadline) {
            fprintf(stderr, "rttproxy: --max-seconds reached, stopping\n");
            break;
        }
        /* Write what is due; drop finished or broken sessions. */
        int64_t wake = deadline;
        for (size_t i = 0; i < p.n_sessions;) {
            session *s = p.sessions[i];
            flush_due(s, &s->up, now);
            flush_due(s, &s->down, now);
            bool done = s->up.shut && s->down.shut;
            if (s->dead || done) {
                session_free(s);
                p.sessions[i] = p.sessions[--p.n_sessions];
                continue;
            }
            int64_t d1 = next_due(&s->up, now), d2 = next_due(&s->down, now);
            if (d1 < wake)
                wake = d1;
            if (d2 < wake)
                wake = d2;
            i++;
        }
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = p.listen_fd, .events = POLLIN};
        owner[n++] = NULL;
        for (size_t i = 0; i < p.n_sessions; i++) {
            session *s = p.sessions[i];
            for (int side = 0; side < 2; side++) {
                direction *reading = side == 0 ? &s->up : &s->down;
                direction *writing = side == 0 ? &s->down : &s->up;
                short ev = events_for(reading, writing);
                /* An fd with nothing to wait for is left out: a closed peer would otherwise
                 * report POLLHUP on every call and spin the loop. */
                pfd[n] = (struct pollfd){.fd = ev ? reading->from : -1, .events = ev};
                owner[n] = s;
                from_client[n++] = side == 0;
            }
        }
        int64_t wait_ns = wake - now;
        if (wait_ns < 0)
            wait_ns = 0;
        struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        int rc = ppoll(pfd, n, &ts, &wait_mask);
        if (rc < 0) {
            if (errno == EINTR)
                break; /* SIGINT or SIGTERM */
            perror("rttproxy: ppoll");
            break;
        }
        now = mono_ns();
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            session *s = owner[i];
            if (!s) {
                accept_one(&p);
                continue;
            }
            direction *reading = from_client[i] ? &s->up : &s->down;
            direction *writing = from_client[i] ? &s->down : &s->up;
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                if (!reading->eof)
                    read_into(&p, s, reading, now);
            if (pfd[i].revents & POLLOUT)
                writing->blocked = false;
        }
    }
    for (size_t i = 0; i < p.n_sessions; i++)
        session_free(p.sessions[i]);
    close(p.listen_fd);
    fprintf(stderr,
            "rttproxy: %llu connections, %llu chunks, %llu bytes forwarded, %llu round trips\n",
            p.accepted, p.chunks, p.bytes, p.round_trips);
    return 0;
}
