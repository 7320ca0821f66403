/* Connecting: one physical connection per call (a fresh IAM token each time, from the spec
 * conn/spec.c resolved), and retries of transient refusals. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn/private.h"

/* ---- connections ---- */

void dsql__conn_free(dsql_conn *conn)
{
    if (!conn)
        return;
    if (conn->pg)
        PQfinish(conn->pg);
    dsql__stmt_cache_free(&conn->stmts);
    dsql__db_close(&conn->db);
    free(conn);
}

/* Describes a failed connect in err; returns the classification. */
static dsql__connect_failure connect_failed(const dsql__spec *spec, const dsql__endpoint *ep,
                                            PGconn *pg, dsql_error *err, int *status)
{
    char msg[400];
    dsql__one_line(msg, sizeof msg, pg ? PQerrorMessage(pg) : "out of memory");
    dsql__connect_failure kind = dsql__classify_connect(msg);
    const char *where = ep->host ? ep->host : "(default host)";
    switch (kind) {
    case DSQL__CF_ACCESS_DENIED:
        *status = dsql_error_set(
            err, DSQL_EAUTH,
            "could not connect to %s:%s as %s: access denied: check that the IAM identity is "
            "allowed dsql:%s on this cluster and that the region '%s' is the cluster's region "
            "(server said: %s)",
            where, ep->port, spec->user,
            spec->action == DSQL_TOKEN_DB_CONNECT_ADMIN ? "DbConnectAdmin" : "DbConnect",
            ep->region ? ep->region : "?", msg);
        break;
    case DSQL__CF_RESIGN:
        *status = dsql_error_set(err, DSQL_EAUTH,
                                 "could not connect to %s:%s as %s: the token's signature expired "
                                 "(is the system clock right?): %s",
                                 where, ep->port, spec->user, msg);
        break;
    case DSQL__CF_UNAVAILABLE:
        *status = dsql_error_set(err, DSQL_EUNAVAILABLE,
                                 "could not connect to %s:%s as %s: the server is unavailable: %s",
                                 where, ep->port, spec->user, msg);
        break;
    default:
        *status = dsql_error_set(
            err,
            strstr(msg, "password authentication failed") || strstr(msg, "authentication failed")
                ? DSQL_EAUTH
                : DSQL_ECONNECT,
            "could not connect to %s:%s as %s: %s", where, ep->port, spec->user, msg);
        break;
    }
    return kind;
}

/*
 * libpq fills every keyword it is not given from the environment, and an empty value counts
 * as not given. In IAM mode a PGHOSTADDR left over from a local setup would send the
 * connection for the endpoint to that address instead; resolve the endpoint here and pass
 * its addresses explicitly (host repeated once per address, as libpq's lists require).
 */
static int pin_endpoint_addresses(const dsql__spec *spec, const dsql__endpoint *ep, char **hosts,
                                  char **addrs, dsql_error *err)
{
    *hosts = *addrs = NULL;
    const char *env = getenv("PGHOSTADDR");
    if (!spec->iam || ep->hostaddr || !ep->host || !env || !*env)
        return DSQL_OK;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(ep->host, ep->port, &hints, &list);
    if (gai != 0)
        return dsql_error_set(err, DSQL_ECONNECT,
                              "could not connect to %s:%s: cannot resolve the host name: %s "
                              "(PGHOSTADDR in the environment is ignored for IAM connections)",
                              ep->host, ep->port, gai_strerror(gai));
    dsql__strbuf h = DSQL__STRBUF_INIT, a = DSQL__STRBUF_INIT;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        char text[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, NULL, 0, NI_NUMERICHOST) !=
            0)
            continue;
        if (a.len) {
            dsql__sb_append_c(&a, ',');
            dsql__sb_append_c(&h, ',');
        }
        dsql__sb_append(&a, text);
        dsql__sb_append(&h, ep->host);
    }
    freeaddrinfo(list);
    if (!a.len) {
        dsql__sb_free(&a);
        dsql__sb_free(&h);
        return dsql_error_set(err, DSQL_ECONNECT,
                              "could not connect to %s:%s: the host name has no usable address",
                              ep->host, ep->port);
    }
    *hosts = dsql__sb_detach(&h);
    *addrs = dsql__sb_detach(&a);
    if (!*hosts || !*addrs) {
        free(*hosts);
        free(*addrs);
        *hosts = *addrs = NULL;
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    return DSQL_OK;
}

static int connect_once(const dsql__spec *spec, const dsql__endpoint *ep, int64_t deadline_ms,
                        dsql__connect_stats *stats, PGconn **out, dsql__connect_failure *kind,
                        dsql_error *err)
{
    const char *keys[24], *vals[24];
    int n = 0;
    char *token = NULL;
#define PARAM(k, v)                                                                                \
    do {                                                                                           \
        if (v) {                                                                                   \
            keys[n] = (k);                                                                         \
            vals[n] = (v);                                                                         \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)

    *kind = DSQL__CF_FATAL;
    char *pinned_hosts, *pinned_addrs;
    int prc = pin_endpoint_addresses(spec, ep, &pinned_hosts, &pinned_addrs, err);
    if (prc)
        return prc;
    if (spec->iam) {
        int rc = dsql__spec_mint_token(spec, ep, &token, err);
        if (rc) {
            free(pinned_hosts);
            free(pinned_addrs);
            return rc;
        }
        if (stats)
            atomic_fetch_add(&stats->token_mints, 1);
    }
    PARAM("host", pinned_hosts ? pinned_hosts : ep->host);
    PARAM("hostaddr", pinned_addrs ? pinned_addrs : ep->hostaddr);
    PARAM("port", ep->port);
    PARAM("dbname", spec->database);
    PARAM("user", spec->user);
    PARAM("password", spec->iam ? token : spec->password);
    PARAM("sslmode", spec->sslmode);
    PARAM("sslrootcert", spec->sslrootcert);
    if (spec->sslnegotiation_direct)
        PARAM("sslnegotiation", "direct");
    PARAM("application_name", spec->application_name);
    PARAM("options", spec->options);
    /* A peer that vanishes (host down, link cut) is noticed even while the connection
     * sits idle or waits: keepalive probes after 30 s idle, every 10 s, 3 misses; data
     * unacknowledged for 30 s drops the connection. */
    PARAM("keepalives", "1");
    PARAM("keepalives_idle", "30");
    PARAM("keepalives_interval", "10");
    PARAM("keepalives_count", "3");
    PARAM("tcp_user_timeout", "30000");
#undef PARAM
    keys[n] = NULL;
    vals[n] = NULL;

    /* The whole attempt (TCP, TLS, startup, authentication) ends by the sooner of the
     * caller's deadline and connect_timeout from now. The caller's deadline is a pool's
     * acquire timeout (stats set), or for dsql_conn_open connect_timeout itself, counted
     * from the call (retries included). */
    int64_t start = dsql__mono_ms();
    int64_t limit = start + (int64_t)spec->connect_timeout_s * 1000;
    bool by_pool = stats && deadline_ms < limit;
    if (deadline_ms < limit)
        limit = deadline_ms;
    /* expand_dbname = 0: the database name is never read as a connection string. */
    PGconn *pg = PQconnectStartParams(keys, vals, 0);
    int polled = pg && PQstatus(pg) != CONNECTION_BAD ? dsql__connect_poll(pg, limit) : -1;
    dsql__token_free(token);
    free(pinned_hosts);
    free(pinned_addrs);
    if (polled == 1 && PQstatus(pg) == CONNECTION_OK) {
        *out = pg;
        return DSQL_OK;
    }
    int status = DSQL_ECONNECT;
    if (polled == 0) {
        status = dsql_error_set(
            err, DSQL_ETIMEOUT,
            "could not connect to %s:%s as %s: no answer within %lld ms (%s); the server or the "
            "network is not responding",
            ep->host ? ep->host : "(default host)", ep->port, spec->user,
            by_pool ? (long long)(limit > start ? limit - start : 0)
                    : (long long)spec->connect_timeout_s * 1000,
            by_pool ? "the time left of the pool's acquire timeout" : "connect_timeout");
    } else {
        *kind = connect_failed(spec, ep, pg, err, &status);
    }
    if (pg)
        PQfinish(pg);
    if (stats)
        atomic_fetch_add(&stats->failures, 1);
    return status;
}

/* Server notices (and errors that arrive while the connection is idle, such as a
 * termination notice) go to the log callback, never to stderr. */
static void notice_to_log(void *arg, const PGresult *res)
{
    dsql_conn *conn = arg;
    if (!conn->log)
        return;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    dsql_log_level level = DSQL_LOG_INFO;
    if (sev && (!strcmp(sev, "WARNING") || !strcmp(sev, "ERROR") || !strcmp(sev, "FATAL") ||
                !strcmp(sev, "PANIC")))
        level = DSQL_LOG_WARN;
    dsql__log(conn->log, conn->log_ctx, level, "Server %s: %s", sev ? sev : "notice",
              msg ? msg : "");
}

int dsql__connect(const dsql__spec *spec, size_t ep_index, int64_t deadline_ms,
                  dsql__connect_stats *stats, dsql_conn **out, dsql_error *err)
{
    *out = NULL;
    const dsql__endpoint *ep = &spec->ep[ep_index];
    dsql_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    dsql__db_init(&conn->db, DSQL__MAGIC_CONN);
    conn->log = spec->log;
    conn->log_ctx = spec->log_ctx;
    conn->log_params = spec->log_params;
    dsql__stmt_cache_init(&conn->stmts, spec->statement_cache);

    bool resigned = false;
    int64_t backoff = 100;
    /* With several endpoints, refusals are waited out on one endpoint for connect_timeout
     * at most: then another endpoint is tried. */
    int64_t retry_until = deadline_ms;
    int64_t own_window = dsql__mono_ms() + (int64_t)spec->connect_timeout_s * 1000;
    if (spec->nep > 1 && own_window < retry_until)
        retry_until = own_window;
    char refused[sizeof err->message] =
        ""; /* the last transient refusal, should the deadline then pass */
    int refused_rc = 0;
    for (int attempt = 1;; attempt++) {
        int64_t t0 = dsql__mono_us();
        dsql__connect_failure kind;
        PGconn *pg = NULL;
        int rc = connect_once(spec, ep, deadline_ms, stats, &pg, &kind, err);
        if (rc == DSQL_OK && PQsetnonblocking(pg, 1) != 0) {
            rc = dsql_error_set(err, DSQL_ECONNECT, "could not make the connection non-blocking");
            PQfinish(pg);
            kind = DSQL__CF_FATAL;
        }
        if (rc == DSQL_OK) {
            conn->pg = pg;
            conn->ep = ep_index;
            conn->query_timeout_ms = spec->query_timeout_ms;
            PQsetNoticeReceiver(pg, notice_to_log, conn);
            conn->created_ms = dsql__mono_ms();
            if (stats)
                atomic_fetch_add(&stats->connects, 1);
            dsql__log(spec->log, spec->log_ctx, DSQL_LOG_INFO,
                      "Connected to %s:%s as %s (%s%s, TLS %s) in %.1f ms",
                      ep->host ? ep->host : PQhost(pg), ep->port, spec->user,
                      spec->iam ? "IAM token, " : "password",
                      spec->iam ? (spec->action == DSQL_TOKEN_DB_CONNECT_ADMIN ? "DbConnectAdmin"
                                                                               : "DbConnect")
                                : "",
                      PQsslInUse(pg) ? "on" : "off", (double)(dsql__mono_us() - t0) / 1000.0);
            *out = conn;
            return DSQL_OK;
        }
        if (kind == DSQL__CF_RESIGN && !resigned && spec->iam) {
            resigned = true;
            dsql__log(spec->log, spec->log_ctx, DSQL_LOG_WARN,
                      "Connect to %s: token signature expired; signing a new token once", ep->host);
            continue;
        }
        int64_t now = dsql__mono_ms();
        int64_t delay = backoff + (int64_t)(dsql__random_unit() * (double)backoff * 0.25);
        /* A refused TCP connect means "nobody listens": reported at once to a program that
         * never reached the server (a wrong port fails fast), waited out within the
         * deadline by a pool that has connected before (the server is restarting). */
        bool again = kind == DSQL__CF_RETRY || (spec->nep == 1 && kind == DSQL__CF_UNAVAILABLE) ||
                     (spec->nep == 1 && kind == DSQL__CF_REFUSED && stats &&
                      atomic_load(&stats->connects) > 0);
        if (again && now + delay < retry_until) {
            dsql__log(spec->log, spec->log_ctx, DSQL_LOG_WARN,
                      "Connect attempt %d refused for now (%s); retrying in %lld ms", attempt,
                      err ? err->message : "transient", (long long)delay);
            if (err) {
                snprintf(refused, sizeof refused, "%s", err->message);
                refused_rc = rc;
            }
            dsql__sleep_ms(delay);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        /* Out of time in the middle of an attempt after refusals: the refusal is the
         * cause worth reporting, not the cut-short attempt. */
        if (rc == DSQL_ETIMEOUT && refused_rc)
            rc = dsql_error_set(err, refused_rc,
                                "%s (retried until the deadline; the last attempt ran out of "
                                "time)",
                                refused);
        dsql__log(spec->log, spec->log_ctx, DSQL_LOG_ERROR, "%s",
                  err ? err->message : "connect failed");
        free(conn);
        return rc;
    }
}

static int conn_open_call(const dsql_config *cfg, dsql_conn **out, dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_conn_open: out is NULL");
    *out = NULL;
    dsql__spec spec;
    int rc = dsql__spec_init(&spec, cfg, err);
    if (rc)
        return rc;
    if (spec.nep == 1) {
        rc = dsql__connect(&spec, 0, dsql__mono_ms() + (int64_t)spec.connect_timeout_s * 1000, NULL,
                           out, err);
        dsql__spec_free(&spec);
        return rc;
    }
    /* Several endpoints: the preferred first, then the others in order, each within
     * connect_timeout; the error names each endpoint's failure. */
    dsql__strbuf why = DSQL__STRBUF_INIT;
    for (size_t k = 0; k < spec.nep; k++) {
        size_t i = k == 0 ? spec.preferred : k <= spec.preferred ? k - 1 : k;
        dsql_error e = DSQL_ERROR_INIT;
        rc = dsql__connect(&spec, i, dsql__mono_ms() + (int64_t)spec.connect_timeout_s * 1000, NULL,
                           out, &e);
        if (rc == DSQL_OK || !dsql__connect_failure_is_endpoint(rc)) {
            if (rc && err)
                *err = e;
            break;
        }
        char name[300];
        dsql__endpoint_name(&spec.ep[i], name, sizeof name);
        dsql__sb_appendf(&why, "%s%s: %s", why.len ? "; " : "", name, e.message);
        if (k + 1 < spec.nep)
            dsql__log(spec.log, spec.log_ctx, DSQL_LOG_WARN,
                      "Endpoint %s failed (%s); trying the next endpoint", name,
                      dsql_status_name(rc));
        else
            rc = dsql_error_set(err, rc, "could not connect to any of the %zu endpoints: %s",
                                spec.nep, why.oom ? "out of memory" : dsql__sb_str(&why));
    }
    dsql__sb_free(&why);
    dsql__spec_free(&spec);
    return rc;
}

int dsql_conn_open(const dsql_config *cfg, dsql_conn **out, dsql_error *err)
{
    return dsql__api_ret("dsql_conn_open", conn_open_call(cfg, out, err), err);
}

bool dsql__connect_failure_is_endpoint(int status)
{
    return status == DSQL_ECONNECT || status == DSQL_ETIMEOUT || status == DSQL_EUNAVAILABLE ||
           status == DSQL_ECONNLOST;
}

int dsql__conn_verify(dsql_conn *conn, int64_t timeout_ms, dsql_error *err)
{
    int64_t saved = conn->query_timeout_ms;
    conn->query_timeout_ms = timeout_ms;
    int rc = dsql__conn_exec(conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0, NULL, err);
    conn->query_timeout_ms = saved;
    return rc;
}

int dsql_connect(const dsql_config *cfg, dsql_conn **out, dsql_error *err)
{
    return dsql__api_ret("dsql_connect", dsql_conn_open(cfg, out, err), err);
}

void dsql_conn_close(dsql_conn *conn)
{
    if (!dsql__is_conn(conn))
        return;
    dsql__conn_free(conn);
}

bool dsql__conn_check_broken(dsql_conn *conn)
{
    if (!conn->broken && (!conn->pg || PQstatus(conn->pg) != CONNECTION_OK))
        conn->broken = true;
    return conn->broken;
}

bool dsql_conn_ok(const dsql_conn *conn)
{
    return dsql__is_conn(conn) && !conn->broken && conn->pg && PQstatus(conn->pg) == CONNECTION_OK;
}

PGconn *dsql__conn_pg(dsql_conn *conn)
{
    return conn ? conn->pg : NULL;
}

struct pg_conn *dsql_conn_pg(dsql_conn *conn)
{
    return dsql__is_conn(conn) ? conn->pg : NULL;
}

void dsql_conn_get_stats(const dsql_conn *conn, dsql_conn_stats *stats)
{
    if (!stats)
        return;
    if (!dsql__is_conn(conn)) {
        memset(stats, 0, sizeof *stats);
        return;
    }
    *stats = conn->stats;
}

bool dsql__conn_alive(dsql_conn *conn)
{
    if (dsql__conn_check_broken(conn))
        return false;
    if (PQtransactionStatus(conn->pg) != PQTRANS_IDLE || PQisBusy(conn->pg)) {
        conn->broken = true; /* nothing should be in flight on an idle connection */
        return false;
    }
    /* An idle connection has nothing to read unless the server spoke on its own: a
     * termination notice (pg_terminate_backend, shutdown) or EOF. */
    struct pollfd pfd = {.fd = PQsocket(conn->pg), .events = POLLIN};
    if (pfd.fd < 0) {
        conn->broken = true;
        return false;
    }
    int r;
    do
        r = poll(&pfd, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) != CONNECTION_OK) {
            conn->broken = true;
            return false;
        }
        /* Asynchronous messages (NOTICE, ParameterStatus) are fine; errors are not. */
        PGnotify *n;
        while ((n = PQnotifies(conn->pg)))
            PQfreemem(n);
    }
    return !dsql__conn_check_broken(conn);
}

bool dsql__conn_reset_tx(dsql_conn *conn)
{
    conn->begin_pending = false; /* a BEGIN never sent opened nothing */
    if (dsql__conn_check_broken(conn))
        return false;
    if (PQpipelineStatus(conn->pg) != PQ_PIPELINE_OFF) {
        conn->broken = true;
        return false;
    }
    PGTransactionStatusType ts = PQtransactionStatus(conn->pg);
    if (ts == PQTRANS_IDLE)
        return true;
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) {
        conn->broken = true; /* a command still running, or unknown state */
        return false;
    }
    dsql_error e;
    if (dsql__conn_exec(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0, NULL, &e) ||
        PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
        conn->broken = true;
        return false;
    }
    return true;
}
