/*
 * Bounded waits on the server. libpq's blocking calls wait as long as the socket stays
 * open, so a link that stalls (server alive, no bytes) would hang a caller forever. Every
 * connection is in non-blocking mode, and every wait here ends at the connection's
 * deadline for the current round trip (query_timeout_ms after it started). A connection
 * that missed its deadline is marked broken: what the server did with the statement is
 * unknown, so it is never used again. The server is also asked to cancel whatever it is
 * still running for that connection (a slow statement would otherwise run on, holding
 * its locks, until it next writes to the dead socket).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "conn/private.h"

/* Waits until fd has one of events (POLLIN, POLLOUT) or the deadline passes.
 * 1 = ready, 0 = deadline, -1 = poll failed. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - dsql__mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

void dsql__conn_start_round_trip(dsql_conn *conn, bool long_wait)
{
    int64_t bound = conn->query_timeout_ms;
    if (long_wait && bound < DSQL__LONG_WAIT_MS)
        bound = DSQL__LONG_WAIT_MS;
    conn->round_trip_ms = bound;
    conn->deadline_ms = dsql__mono_ms() + bound;
}

/* The cancel request goes out from a thread of its own: PQcancel (libpq before 17 has no
 * non-blocking form) opens a new TCP connection to the server and waits for it to close,
 * and a caller whose deadline has passed must not wait for that. The thread owns the
 * PGcancel (a copy of the connection's address and cancel key, independent of the
 * PGconn, which may be closed meanwhile) and ends once PQcancel returns. */
static void *cancel_main(void *arg)
{
    PGcancel *cancel = arg;
    char errbuf[256];
    PQcancel(cancel, errbuf, sizeof errbuf);
    PQfreeCancel(cancel);
    return NULL;
}

/* Asks the server to cancel what conn's backend runs; never waits. */
static void send_cancel(dsql_conn *conn)
{
    PGcancel *cancel = PQstatus(conn->pg) == CONNECTION_OK ? PQgetCancel(conn->pg) : NULL;
    if (!cancel)
        return;
    pthread_attr_t attr;
    pthread_t thread;
    bool started = pthread_attr_init(&attr) == 0;
    if (started) {
        started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&thread, &attr, cancel_main, cancel) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        PQfreeCancel(cancel);
        return;
    }
    dsql__log(conn->log, conn->log_ctx, DSQL_LOG_WARN,
              "No answer within %lld ms: asked the server to cancel the statement; the "
              "connection is closed",
              (long long)conn->round_trip_ms);
}

static int timed_out(dsql_conn *conn, const char *what, dsql_error *err)
{
    send_cancel(conn);
    conn->broken = true;
    conn->timed_out = true;
    bool long_wait = conn->round_trip_ms > conn->query_timeout_ms;
    return dsql_error_set(err, DSQL_ETIMEOUT,
                          "no answer from the server within %lld ms while %s "
                          "(query_timeout_ms%s); the connection was closed, since what the "
                          "server did with the statement is unknown",
                          (long long)conn->round_trip_ms, what,
                          long_wait ? ", or at least 330 s for DDL and CALL" : "");
}

int dsql__conn_flush(dsql_conn *conn, dsql_error *err)
{
    PGconn *pg = conn->pg;
    for (;;) {
        int f = PQflush(pg);
        if (f == 0)
            return DSQL_OK;
        if (f < 0)
            return dsql__error_from_pg(err, pg, NULL);
        int w = wait_fd(PQsocket(pg), POLLIN | POLLOUT, conn->deadline_ms);
        if (w == 0)
            return timed_out(conn, "sending", err);
        if (w < 0) {
            conn->broken = true;
            return dsql_error_set(err, DSQL_ECONNLOST, "connection lost: poll failed: %s",
                                  strerror(errno));
        }
        /* The server may be answering while we still send (a long pipeline): read what
         * arrived, so neither side blocks on a full buffer. */
        if (!PQconsumeInput(pg))
            return dsql__error_from_pg(err, pg, NULL);
    }
}

int dsql__conn_await(dsql_conn *conn, dsql_error *err)
{
    PGconn *pg = conn->pg;
    while (PQisBusy(pg)) {
        int w = wait_fd(PQsocket(pg), POLLIN, conn->deadline_ms);
        if (w == 0)
            return timed_out(conn, "waiting for a result", err);
        if (w < 0) {
            conn->broken = true;
            return dsql_error_set(err, DSQL_ECONNLOST, "connection lost: poll failed: %s",
                                  strerror(errno));
        }
        if (!PQconsumeInput(pg))
            return dsql__error_from_pg(err, pg, NULL);
    }
    return DSQL_OK;
}

PGresult *dsql__conn_next_result(dsql_conn *conn, int *rc, dsql_error *err)
{
    *rc = dsql__conn_await(conn, err);
    if (*rc)
        return NULL;
    return PQgetResult(conn->pg);
}

int dsql__connect_poll(PGconn *pg, int64_t deadline_ms)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK)
            return 1;
        if (st == PGRES_POLLING_FAILED)
            return -1;
        int w = wait_fd(PQsocket(pg), st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, deadline_ms);
        if (w == 0)
            return 0;
        if (w < 0)
            return -1;
        st = PQconnectPoll(pg);
    }
}
