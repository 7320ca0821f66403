/* The cost of named parameters: rewrites a statement's :names into $n (dsql_exec_named's
 * scanner) for about one second each, for a short statement and a long one with strings,
 * comments and casts, and prints
 *   bench=named_rewrite stmt=<short|long> bytes=<n> names=<n> ns_per_rewrite=<ns>
 * The rewrite runs once per call, with no cache: set against a network round trip (tens
 * of microseconds on a loopback, milliseconds to a region) it is the part to watch.
 *   bench_named [seconds]
 * Built as the bench_named target of bench/CMakeLists.txt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn/internal.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int run(const char *label, const char *sql, double seconds)
{
    dsql_error err = DSQL_ERROR_INIT;
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9), t = start;
    uint64_t n = 0;
    size_t names = 0;
    while (t < end) {
        for (int k = 0; k < 256; k++) {
            dsql__named_sql ns;
            if (dsql__named_parse(sql, "bench", &ns, &err)) {
                fprintf(stderr, "bench_named: %s\n", err.message);
                return 1;
            }
            names = ns.n;
            dsql__named_free(&ns);
        }
        n += 256;
        t = now_ns();
    }
    printf("bench=named_rewrite stmt=%s bytes=%zu names=%zu ns_per_rewrite=%.0f\n", label,
           strlen(sql), names, (double)(t - start) / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 1.0;
    const char *short_sql = "SELECT * FROM owner WHERE city = :city AND name = :name";
    const char *long_sql =
        "SELECT o.id, o.name, o.city, p.name AS pet, p.\"birthDate\"::text AS born, "
        "'a :literal, it''s' AS note, E'esc\\'aped :x' AS e, $q$ :dollar $q$ AS d "
        "FROM owner o /* owners with /* nested */ pets */ JOIN pet p ON p.\"ownerId\" = o.id "
        "WHERE o.city = :city AND (o.name ILIKE :pattern OR o.telephone = :phone) -- :no\n"
        "AND p.\"birthDate\" BETWEEN :from::date AND :to::date AND o.id <> :skip "
        "AND o.city <> upper(:city) ORDER BY o.name LIMIT :limit OFFSET :offset";
    return run("short", short_sql, seconds) || run("long", long_sql, seconds);
}
