/* dsql ping: connect, then report server version, TLS and SELECT 1 round-trip time. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cli.h"
#include "util/util.h"

static void ping_usage(FILE *out)
{
    fprintf(out,
            "usage: dsql ping [--count N] [CONNINFO]\n"
            "\n"
            "Connects with CONNINFO (a libpq connection string such as\n"
            "\"host=localhost port=5432 sslmode=verify-full sslrootcert=ca.crt\") or, when it\n"
            "is omitted, with the PG* environment variables. Prints the server version,\n"
            "whether TLS is on (protocol and cipher), and the round-trip time of SELECT 1\n"
            "over N tries (default 5). Exits 1 when it cannot connect.\n");
}

/* libpq messages end in a newline and may span lines; keep them on one line. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

int cmd_ping(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    long count = 5;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': {
            char *end;
            count = strtol(optarg, &end, 10);
            if (*end || count < 1 || count > 1000000) {
                cli_error("ping", "--count must be a whole number from 1 to 1000000, not '%s'",
                          optarg);
                return 2;
            }
            break;
        }
        case 'h':
            ping_usage(stdout);
            return 0;
        default:
            ping_usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        cli_error("ping", "expected at most one CONNINFO argument");
        return 2;
    }
    const char *conninfo = optind < argc ? argv[optind] : "";

    PGconn *conn = PQconnectdb(conninfo);
    if (!conn) {
        cli_error("ping", "out of memory");
        return 1;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char *msg = dsql__strdup(PQerrorMessage(conn));
        if (msg)
            one_line(msg);
        cli_error("ping", "could not connect: %s", msg ? msg : "unknown error");
        free(msg);
        PQfinish(conn);
        return 1;
    }

    int rc = 0;
    int ver = PQserverVersion(conn);
    const char *ver_text = PQparameterStatus(conn, "server_version");
    printf("server:  PostgreSQL %s (%d)\n", ver_text ? ver_text : "?", ver);
    printf("host:    %s:%s (user %s, database %s)\n", PQhost(conn), PQport(conn), PQuser(conn),
           PQdb(conn));
    if (PQsslInUse(conn)) {
        const char *proto = PQsslAttribute(conn, "protocol");
        const char *cipher = PQsslAttribute(conn, "cipher");
        printf("tls:     on (%s, %s)\n", proto ? proto : "?", cipher ? cipher : "?");
    } else {
        printf("tls:     off\n");
    }

    int64_t min_us = INT64_MAX, max_us = 0, sum_us = 0;
    for (long i = 0; i < count; i++) {
        int64_t t0 = dsql__mono_us();
        PGresult *res = PQexec(conn, "SELECT 1");
        int64_t dt = dsql__mono_us() - t0;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            char *msg = dsql__strdup(PQerrorMessage(conn));
            if (msg)
                one_line(msg);
            cli_error("ping", "SELECT 1 failed: %s", msg ? msg : "unknown error");
            free(msg);
            PQclear(res);
            rc = 1;
            break;
        }
        PQclear(res);
        if (dt < min_us)
            min_us = dt;
        if (dt > max_us)
            max_us = dt;
        sum_us += dt;
    }
    if (rc == 0)
        printf("rtt:     SELECT 1 x%ld: min %.3f ms, avg %.3f ms, max %.3f ms\n", count,
               (double)min_us / 1000.0, (double)sum_us / (double)count / 1000.0,
               (double)max_us / 1000.0);
    PQfinish(conn);
    return rc;
}
