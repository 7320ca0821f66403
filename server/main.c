/*
 * dsql-local: a local endpoint that behaves like an Aurora DSQL cluster endpoint.
 *
 *   dsql-local --backend HOST:PORT --tls-cert F --tls-key F [options]   serve
 *   dsql-local ctl SOCKET COMMAND...                                     fault control
 *
 * See docs/local.md and dsql-local(1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"

dl_server dl;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vlog(const char *fmt, va_list ap)
{
    pthread_mutex_lock(&log_mu);
    fputs("dsql-local: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_mu);
}

void dl_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void dl_debug(const char *fmt, ...)
{
    if (!dl.cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static void usage(FILE *f)
{
    fputs(
        "usage: dsql-local --backend HOST:PORT|DIR:PORT --tls-cert FILE --tls-key FILE [options]\n"
        "       dsql-local ctl SOCKET COMMAND [ARGS]\n"
        "options:\n"
        "  --listen ADDR:PORT          where to listen (default 127.0.0.1:0, any free port)\n"
        "  --port-file FILE            write the port listened on to FILE\n"
        "  --admin-user NAME           backend superuser for the emulation objects (postgres)\n"
        "  --hostname NAME             the endpoint's name tokens are signed for (localhost)\n"
        "  --region REGION             the signing region (us-east-1)\n"
        "  --max-connection-age SEC    close sessions this old (3600)\n"
        "  --max-transaction-age SEC   fail transactions this old (300)\n"
        "  --clock-skew SEC            accepted signing-time skew (300)\n"
        "  --server-version VERSION    the version clients see (16.15)\n"
        "  --control SOCKET            the fault-injection control socket\n"
        "  --fault 'COMMAND ARGS'      a control command applied at start (repeatable)\n"
        "  -v                          log sessions\n"
        "credentials: DSQL_LOCAL_ACCESS_KEY_ID, DSQL_LOCAL_SECRET_ACCESS_KEY\n"
        "  (and DSQL_LOCAL_SESSION_TOKEN) in the environment: tokens must be signed with them\n",
        f);
}

static int ctl_main(int argc, char **argv)
{
    if (argc < 4) {
        usage(stderr);
        return 2;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[2]);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "dsql-local ctl: cannot reach %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    char line[512] = "";
    size_t n = 0;
    for (int i = 3; i < argc; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i > 3 ? " " : "", argv[i]);
    snprintf(line + n, sizeof line - n, "\n");
    if (write(fd, line, strlen(line)) < 0)
        return 2;
    char ans[1024];
    ssize_t r = read(fd, ans, sizeof ans - 1);
    close(fd);
    if (r <= 0)
        return 2;
    ans[r] = '\0';
    fputs(ans, stdout);
    return strncmp(ans, "ok", 2) ? 1 : 0;
}

static void *control_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        char line[512];
        ssize_t r = read(c, line, sizeof line - 1);
        if (r > 0) {
            line[r] = '\0';
            line[strcspn(line, "\r\n")] = '\0';
            char out[512];
            dl_control(line, out, sizeof out);
            dl_debug("control: %s -> %s", line, out);
            strcat(out, "\n");
            if (write(c, out, strlen(out)) < 0)
                dl_debug("control: answer lost");
        }
        close(c);
    }
}

static char *env_copy(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

static bool parse_hostport(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    *host = strndup(s, (size_t)(colon - s));
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!*host || *end || p < 1 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

/* A server is steered by its options, never by a libpq environment left around. */
static void scrub_pg_env(void)
{
    extern char **environ;
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e; e++) {
            if (!strncmp(*e, "PG", 2)) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = true;
                break;
            }
        }
    }
}

static void config_defaults(dl_config *c)
{
    snprintf(c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
    c->admin_user = "postgres";
    c->hostname = "localhost";
    c->region = "us-east-1";
    c->max_conn_age_s = 3600;
    c->max_tx_age_s = 300;
    c->clock_skew_s = 300;
    c->server_version = "16.15";
}

/* The options that only keep their value (the string is argv's). */
static const struct {
    const char *name;
    size_t offset; /* of a char * member of dl_config */
} string_options[] = {
    {"--port-file", offsetof(dl_config, port_file)},
    {"--admin-user", offsetof(dl_config, admin_user)},
    {"--tls-cert", offsetof(dl_config, tls_cert)},
    {"--tls-key", offsetof(dl_config, tls_key)},
    {"--hostname", offsetof(dl_config, hostname)},
    {"--region", offsetof(dl_config, region)},
    {"--server-version", offsetof(dl_config, server_version)},
    {"--control", offsetof(dl_config, control_path)},
};

#define MAX_FAULTS 16

/* One option taking a value. Returns -1 when it was taken, else the exit status. */
static int take_option(dl_config *c, const char *a, const char *v, const char **faults,
                       int *nfaults)
{
    for (size_t k = 0; k < sizeof string_options / sizeof string_options[0]; k++) {
        if (!strcmp(a, string_options[k].name)) {
            *(char **)(void *)((char *)c + string_options[k].offset) = (char *)v;
            return -1;
        }
    }
    if (!strcmp(a, "--listen")) {
        char *h;
        if (!parse_hostport(v, &h, &c->listen_port) && strcmp(v + strlen(v) - 2, ":0")) {
            fprintf(stderr, "dsql-local: --listen wants ADDR:PORT, not '%s'\n", v);
            return 2;
        }
        snprintf(c->listen_addr, sizeof c->listen_addr, "%.*s", (int)(strrchr(v, ':') - v), v);
    } else if (!strcmp(a, "--backend")) {
        if (!parse_hostport(v, &c->backend_host, &c->backend_port)) {
            fprintf(stderr, "dsql-local: --backend wants HOST:PORT or SOCKETDIR:PORT\n");
            return 2;
        }
    } else if (!strcmp(a, "--max-connection-age")) {
        c->max_conn_age_s = atoi(v);
    } else if (!strcmp(a, "--max-transaction-age")) {
        c->max_tx_age_s = atoi(v);
    } else if (!strcmp(a, "--clock-skew")) {
        c->clock_skew_s = atoi(v);
    } else if (!strcmp(a, "--fault")) {
        if (*nfaults < MAX_FAULTS)
            faults[(*nfaults)++] = v;
    } else {
        fprintf(stderr, "dsql-local: unknown option %s (--help lists them)\n", a);
        return 2;
    }
    return -1;
}

/* The command line into c and faults. Returns -1 to serve, else the exit status. */
static int parse_args(int argc, char **argv, dl_config *c, const char **faults, int *nfaults)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-v")) {
            c->verbose = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "dsql-local: unknown option %s (--help lists them)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "dsql-local: %s needs a value\n", a);
            return 2;
        }
        int rc = take_option(c, a, v, faults, nfaults);
        if (rc >= 0)
            return rc;
        i++;
    }
    return -1;
}

/* The credentials, the required options, and the faults to start with. Returns -1 when
 * all is well, else the exit status. */
static int check_config(dl_config *c, const char **faults, int nfaults)
{
    c->access_key_id = env_copy("DSQL_LOCAL_ACCESS_KEY_ID");
    c->secret_access_key = env_copy("DSQL_LOCAL_SECRET_ACCESS_KEY");
    c->session_token = env_copy("DSQL_LOCAL_SESSION_TOKEN");
    if (!c->backend_host || !c->tls_cert || !c->tls_key || !c->access_key_id ||
        !c->secret_access_key) {
        fprintf(stderr, "dsql-local: --backend, --tls-cert, --tls-key and the credentials "
                        "(DSQL_LOCAL_ACCESS_KEY_ID, DSQL_LOCAL_SECRET_ACCESS_KEY) are required\n");
        return 2;
    }
    for (int i = 0; i < nfaults; i++) {
        char out[256];
        dl_control(faults[i], out, sizeof out);
        if (strncmp(out, "ok", 2)) {
            fprintf(stderr, "dsql-local: --fault: %s\n", out);
            return 2;
        }
    }
    return -1;
}

/* The listening socket; c->listen_port becomes the port bound. -1 on failure (said). */
static int listen_tcp(dl_config *c)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->listen_port)};
    if (fd < 0 || inet_pton(AF_INET, c->listen_addr, &sa.sin_addr) != 1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 512) != 0) {
        fprintf(stderr, "dsql-local: cannot listen on %s:%d: %s\n", c->listen_addr, c->listen_port,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    c->listen_port = ntohs(sa.sin_port);
    return fd;
}

/* The control socket at path, served by a thread of its own. false on failure (said). */
static bool open_control(const char *path)
{
    int cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un ua = {.sun_family = AF_UNIX};
    snprintf(ua.sun_path, sizeof ua.sun_path, "%s", path);
    unlink(path);
    pthread_t t;
    if (cfd < 0 || bind(cfd, (struct sockaddr *)&ua, sizeof ua) != 0 || listen(cfd, 16) != 0 ||
        pthread_create(&t, NULL, control_main, (void *)(intptr_t)cfd) != 0) {
        fprintf(stderr, "dsql-local: cannot open the control socket %s: %s\n", path,
                strerror(errno));
        return false;
    }
    pthread_detach(t);
    return true;
}

static bool write_port_file(const char *path, int port)
{
    FILE *pf = fopen(path, "w");
    if (!pf || fprintf(pf, "%d\n", port) < 0 || fclose(pf) != 0) {
        fprintf(stderr, "dsql-local: cannot write %s\n", path);
        return false;
    }
    return true;
}

/* One session thread per client, until accept fails for good. */
static int serve(int fd)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE)
                    usleep(10000);
                continue;
            }
            dl_log("accept: %s", strerror(errno));
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, &attr, dl_session_main, (void *)(intptr_t)cfd) != 0)
            close(cfd);
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "ctl"))
        return ctl_main(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    scrub_pg_env();
    dl_faults_init();
    dl_config *c = &dl.cfg;
    config_defaults(c);
    const char *faults[MAX_FAULTS];
    int nfaults = 0;
    int rc = parse_args(argc, argv, c, faults, &nfaults);
    if (rc < 0)
        rc = check_config(c, faults, nfaults);
    if (rc >= 0)
        return rc;
    char why[512];
    dl.tls = dl_tls_context(c->tls_cert, c->tls_key, why, sizeof why);
    if (!dl.tls) {
        fprintf(stderr, "dsql-local: %s\n", why);
        return 1;
    }
    pthread_mutex_init(&dl.mu, NULL);
    pthread_mutex_init(&dl.install_mu, NULL);
    int fd = listen_tcp(c);
    if (fd < 0 || (c->control_path && !open_control(c->control_path)) ||
        (c->port_file && !write_port_file(c->port_file, c->listen_port)))
        return 1;
    dl_log("listening on %s:%d for %s (region %s), backend %s:%d", c->listen_addr, c->listen_port,
           c->hostname, c->region, c->backend_host, c->backend_port);
    return serve(fd);
}
