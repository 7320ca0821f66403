/* dsql ping: connect, then report server version, TLS and SELECT 1 round-trip time. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cli.h"
#include "conn/private.h"
#include "conn_flags.h"
#include "util/util.h"

static void ping_usage(FILE *out)
{
    fprintf(out, "usage: dsql ping [--count N] [connection flags] [CONNINFO]\n"
                 "\n"
                 "Connects like the library does (an IAM token for Aurora DSQL endpoints, TLS\n"
                 "verify-full) and prints the server version, whether TLS is on (protocol and\n"
                 "cipher), and the round-trip time of SELECT 1 over N tries (default 5). CONNINFO\n"
                 "is a connection string such as \"host=localhost port=5432 sslrootcert=ca.crt\"\n"
                 "(keywords: host hostaddr port dbname user password auth region profile\n"
                 "expires_in schema application_name sslmode sslrootcert connect_timeout).\n"
                 "With several endpoints (a multi-Region cluster: host=a,b or a comma-separated\n"
                 "CLUSTER_ENDPOINT), each is pinged in turn under an \"endpoint N of M\" line.\n"
                 "Exits 1 when it cannot connect (to any one endpoint).\n"
                 "\n");
    cli_conn_flags_usage(out);
}

/* Connects to endpoint i of spec and prints what it answered; 0 when it did. */
static int ping_endpoint(const dsql__spec *spec, size_t index, long count)
{
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__connect(spec, index, dsql__mono_ms() + (int64_t)spec->connect_timeout_s * 1000,
                           NULL, &conn, &err);
    if (rc) {
        /* "could not connect to HOST:PORT as USER: why" reads as "could not connect: ..." */
        const char *m = cli_err_text(err.message);
        if (!strncmp(m, "could not connect to ", 21))
            cli_error("ping", "could not connect: %s", m + 21);
        else
            cli_error("ping", "could not connect: %s", m);
        return 1;
    }

    PGconn *pg = dsql_conn_pg(conn);
    int ver = PQserverVersion(pg);
    const char *ver_text = PQparameterStatus(pg, "server_version");
    printf("server:  PostgreSQL %s (%d)\n", ver_text ? ver_text : "?", ver);
    printf("host:    %s:%s (user %s, database %s)\n", PQhost(pg), PQport(pg), PQuser(pg), PQdb(pg));
    if (PQsslInUse(pg)) {
        const char *proto = PQsslAttribute(pg, "protocol");
        const char *cipher = PQsslAttribute(pg, "cipher");
        printf("tls:     on (%s, %s)\n", proto ? proto : "?", cipher ? cipher : "?");
    } else {
        printf("tls:     off\n");
    }

    int64_t min_us = INT64_MAX, max_us = 0, sum_us = 0;
    rc = 0;
    for (long i = 0; i < count; i++) {
        int64_t t0 = dsql__mono_us();
        int qrc = dsql_conn_query(conn, "SELECT 1", NULL, 0, NULL, &err);
        int64_t dt = dsql__mono_us() - t0;
        if (qrc) {
            cli_error("ping", "SELECT 1 failed: %s", cli_err_text(err.message));
            rc = 1;
            break;
        }
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
    dsql_conn_close(conn);
    return rc;
}

int cmd_ping(int argc, char **argv)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         CLI_CONN_LONG_OPTIONS,
                                         {0}};
    long count = 5;
    int c;
    cli_conn_flags flags = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        int r = cli_conn_flag(&flags, c, optarg);
        if (r < 0) {
            cli_error("ping", "out of memory");
            return 1;
        }
        if (r > 0)
            continue;
        switch (c) {
        case 'c': {
            char *end;
            count = strtol(optarg, &end, 10);
            if (*end || count < 1 || count > 1000000) {
                cli_error("ping", "--count must be a whole number from 1 to 1000000, not '%s'",
                          optarg);
                free(flags.conninfo);
                return 2;
            }
            break;
        }
        case 'h':
            ping_usage(stdout);
            free(flags.conninfo);
            return 0;
        default:
            cli_bad_option("ping", c, argv);
            free(flags.conninfo);
            return 2;
        }
    }
    if (argc - optind > 1) {
        cli_error("ping", "expected at most one CONNINFO argument");
        free(flags.conninfo);
        return 2;
    }
    dsql_config cfg = DSQL_CONFIG_INIT;
    if (!cli_conn_config("ping", &flags, optind < argc ? argv[optind] : NULL, &cfg)) {
        dsql_config_clear(&cfg);
        return 2;
    }

    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__spec_init(&spec, &cfg, &err);
    dsql_config_clear(&cfg);
    if (rc) {
        cli_error("ping", "%s", cli_err_text(err.message));
        return rc == DSQL_ECONFIG || rc == DSQL_EINVAL ? 2 : 1;
    }
    /* Every endpoint of a multi-Region cluster, each on a connection of its own. */
    int failed = 0;
    size_t nep = spec.nep;
    for (size_t i = 0; i < nep; i++) {
        if (nep > 1) {
            const dsql__endpoint *ep = &spec.ep[i];
            printf("%sendpoint %zu of %zu: %s:%s%s%s%s%s\n", i ? "\n" : "", i + 1, nep,
                   ep->host ? ep->host : "(default host)", ep->port, ep->region ? " (" : "",
                   ep->region ? ep->region : "", ep->region ? ")" : "",
                   i == spec.preferred ? ", preferred" : "");
            fflush(stdout);
        }
        failed += ping_endpoint(&spec, i, count) != 0;
    }
    dsql__spec_free(&spec);
    if (nep > 1 && failed)
        cli_error("ping", "%d of %zu endpoints failed", failed, nep);
    return failed ? 1 : 0;
}
