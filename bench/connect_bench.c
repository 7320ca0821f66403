/*
 * bench_connect: what a new connection costs, from the TCP connect to the first query's
 * answer, in time and in network round trips.
 *
 *   bench_connect --client libdsql|libpq --rtt-ms MS [--count N] CONNINFO
 *
 * Opens N connections one after another (libdsql: dsql_conn_open with the CONNINFO read
 * by dsql_config_parse, so an IAM token is minted per connection where the config says
 * so; libpq: PQconnectdb with CONNINFO as it is), runs SELECT 1 on each and closes it.
 * With the server behind bench/rttproxy adding MS of round-trip time, the median time
 * to "connected" and to "first answer", divided by MS, is the number of round trips each
 * costs (rttproxy delays bytes, not the TCP handshake, so the TCP connect itself is not
 * counted). Prints one line:
 *
 *   bench=connect client=<c> rtt_ms=<ms> count=<n> connect_ms_p50=<x> first_query_ms_p50=<y>
 *   connect_round_trips=<a> first_query_round_trips=<b>
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "dsql/dsql.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One connection with libdsql: times to connected and to the first answer. */
static int one_libdsql(const char *conninfo, double *t_conn, double *t_query)
{
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_conn *conn = NULL;
    dsql_result *res = NULL;
    int rc = dsql_config_parse(&cfg, conninfo, &err);
    double t0 = now_ms();
    if (!rc)
        rc = dsql_conn_open(&cfg, &conn, &err);
    double t1 = now_ms();
    if (!rc)
        rc = dsql_conn_query(conn, "SELECT 1", NULL, 0, &res, &err);
    double t2 = now_ms();
    if (rc)
        fprintf(stderr, "bench_connect: libdsql: %s\n", err.message);
    dsql_result_free(res);
    dsql_conn_close(conn);
    dsql_config_clear(&cfg);
    *t_conn = t1 - t0;
    *t_query = t2 - t0;
    return rc;
}

/* The same with libpq alone. */
static int one_libpq(const char *conninfo, double *t_conn, double *t_query)
{
    double t0 = now_ms();
    PGconn *pg = PQconnectdb(conninfo);
    double t1 = now_ms();
    int rc = PQstatus(pg) == CONNECTION_OK ? 0 : 1;
    if (!rc) {
        PGresult *r = PQexec(pg, "SELECT 1");
        rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : 1;
        PQclear(r);
    }
    double t2 = now_ms();
    if (rc)
        fprintf(stderr, "bench_connect: libpq: %s", PQerrorMessage(pg));
    PQfinish(pg);
    *t_conn = t1 - t0;
    *t_query = t2 - t0;
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_connect --client libdsql|libpq --rtt-ms MS [--count N] CONNINFO\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"client", required_argument, NULL, 'c'},
                                         {"rtt-ms", required_argument, NULL, 'r'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *client = NULL;
    double rtt = 0;
    int count = 10, c;
    while ((c = getopt_long(argc, argv, "c:r:n:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            client = optarg;
            break;
        case 'r':
            rtt = strtod(optarg, &end);
            if (*end || end == optarg || !(rtt > 0 && rtt <= 10000)) {
                fprintf(stderr,
                        "bench_connect: --rtt-ms must be from 0 (excluded) to 10000, "
                        "not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'n':
            count = atoi(optarg);
            if (count < 1 || count > 10000) {
                fprintf(stderr, "bench_connect: --count must be from 1 to 10000, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!client || (strcmp(client, "libdsql") && strcmp(client, "libpq")) || optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *conninfo = argv[optind];
    double *tc = calloc((size_t)count, sizeof *tc), *tq = calloc((size_t)count, sizeof *tq);
    if (!tc || !tq)
        return 1;
    for (int i = 0; i < count; i++) {
        int rc = !strcmp(client, "libdsql") ? one_libdsql(conninfo, &tc[i], &tq[i])
                                            : one_libpq(conninfo, &tc[i], &tq[i]);
        if (rc) {
            free(tc);
            free(tq);
            return 1;
        }
    }
    double mc = median(tc, count), mq = median(tq, count);
    printf("bench=connect client=%s rtt_ms=%g count=%d connect_ms_p50=%.2f "
           "first_query_ms_p50=%.2f connect_round_trips=%.1f first_query_round_trips=%.1f\n",
           client, rtt, count, mc, mq, mc / rtt, mq / rtt);
    free(tc);
    free(tq);
    return 0;
}
