/* The DSQL rules module's cost per statement: a corpus of statements an application and a
 * migration send (reads, writes, DDL, refused statements) analysed one text at a time, for
 * about a second per measure, against PostgreSQL's bare parser on the same texts:
 *   bench=rules measure=parse us_per_statement=<x>      pg_query_parse_protobuf alone
 *   bench=rules measure=analyze us_per_statement=<x>    dsql_rules_analyze (scan, parse,
 *                                                       classify, findings), result freed
 *   bench=rules measure=script us_per_statement=<x>     the whole corpus as one text (a
 *                                                       migration file), per statement
 *   bench=rules ratio_analyze_to_parse=<r>
 *   bench_rules [seconds]
 * Built as the bench_rules target of bench/CMakeLists.txt. */
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/rules.h"

static const char *const corpus[] = {
    "SELECT \"id\", \"name\", \"city\", \"telephone\" FROM \"owner\" WHERE \"id\" = $1",
    "SELECT \"pet\".\"id\", \"pet\".\"name\", \"pet\".\"birthDate\", \"owner\".\"id\", "
    "\"owner\".\"name\" FROM \"pet\" LEFT JOIN \"owner\" ON \"owner\".\"id\" = \"pet\".\"ownerId\" "
    "WHERE (\"pet\".\"name\" = $1) LIMIT 1",
    "INSERT INTO \"owner\" (\"id\", \"name\", \"city\", \"telephone\") VALUES ($1, $2, $3, $4) "
    "RETURNING \"id\", \"name\", \"city\", \"telephone\"",
    "UPDATE \"pet\" SET \"name\" = $1 WHERE \"id\" = $2",
    "DELETE FROM \"pet\" WHERE \"id\" IN (SELECT \"id\" FROM \"pet\" WHERE \"ownerId\" IS NULL "
    "LIMIT 3000)",
    "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "COMMIT",
    "SELECT p.name, count(*) FROM baseline_parent p LEFT JOIN baseline_child c ON c.parent_id = "
    "p.id GROUP BY p.name HAVING count(*) >= 0 ORDER BY 1",
    "WITH a AS (SELECT 1 AS n), b AS (SELECT n FROM a) SELECT n FROM b",
    "SELECT id FROM baseline_parent WHERE id = '00000000-0000-0000-0000-0000000000aa' FOR UPDATE",
    "CREATE TABLE IF NOT EXISTS \"owner\" (\"id\" uuid PRIMARY KEY, \"name\" varchar(30) NOT "
    "NULL, \"city\" varchar(80) NOT NULL, \"telephone\" varchar(20))",
    "CREATE INDEX ASYNC IF NOT EXISTS \"owner_name_idx\" ON \"owner\" (\"name\")",
    "ALTER TABLE \"pet\" ADD COLUMN \"weight\" integer",
    "CALL sys.wait_for_job('mbcq2q7grjbs7ldy4ot2qzfymm')",
    "SET search_path = myschema",
    /* refused ones */
    "TRUNCATE TABLE baseline_parent",
    "CREATE TABLE baseline_serial (id serial PRIMARY KEY, v money)",
    "CREATE INDEX baseline_idx_value ON baseline_idx (value)",
    "SELECT id FROM baseline_parent WHERE id = 'a' FOR SHARE",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
};
#define N_CORPUS (sizeof corpus / sizeof corpus[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t lens[N_CORPUS];
/* The texts plain PostgreSQL parses (DSQL's ASYNC blanked), for the bare-parser measure. */
static char *plain[N_CORPUS];

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_rules: %s: %s\n", what, why);
    exit(1);
}

/* Runs one measure for about `seconds`; returns microseconds per statement. */
static double measure(int what, double seconds, const char *script, size_t script_len)
{
    size_t statements = 0;
    double start = now_s(), end = start;
    while (end - start < seconds) {
        for (int rep = 0; rep < 20; rep++) {
            if (what == 2) {
                dsql_rules_result *r = NULL;
                if (dsql_rules_analyze(script, script_len, &r, NULL) != DSQL_OK)
                    die("the whole corpus", "analysis failed");
                statements += dsql_rules_count(r);
                dsql_rules_result_free(r);
                continue;
            }
            for (size_t i = 0; i < N_CORPUS; i++) {
                if (what == 0) {
                    PgQueryProtobufParseResult p = pg_query_parse_protobuf(plain[i]);
                    if (p.error)
                        die(corpus[i], p.error->message);
                    pg_query_free_protobuf_parse_result(p);
                } else {
                    dsql_rules_result *r = NULL;
                    if (dsql_rules_analyze(corpus[i], lens[i], &r, NULL) != DSQL_OK ||
                        dsql_rules_count(r) != 1)
                        die(corpus[i], "not one statement");
                    dsql_rules_result_free(r);
                }
                statements++;
            }
        }
        end = now_s();
    }
    return (end - start) * 1e6 / (double)statements;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 1.0;
    size_t script_len = 0;
    for (size_t i = 0; i < N_CORPUS; i++) {
        lens[i] = strlen(corpus[i]);
        script_len += lens[i] + 2;
        dsql_rules_result *r = NULL;
        if (dsql_rules_analyze(corpus[i], lens[i], &r, NULL) != DSQL_OK)
            die(corpus[i], "analysis failed");
        plain[i] = strdup(dsql_rules_forward(r, NULL));
        dsql_rules_result_free(r);
        if (!plain[i])
            die(corpus[i], "out of memory");
    }
    char *script = malloc(script_len + 1);
    if (!script)
        return 1;
    size_t used = 0;
    for (size_t i = 0; i < N_CORPUS; i++) {
        memcpy(script + used, corpus[i], lens[i]);
        used += lens[i];
        memcpy(script + used, ";\n", 2);
        used += 2;
    }
    script[used] = '\0';
    measure(1, 0.1, NULL, 0); /* warm up */
    double parse = measure(0, seconds, NULL, 0);
    double analyze = measure(1, seconds, NULL, 0);
    double whole = measure(2, seconds, script, used);
    printf("bench=rules measure=parse statements=%zu us_per_statement=%.2f\n", N_CORPUS, parse);
    printf("bench=rules measure=analyze statements=%zu us_per_statement=%.2f\n", N_CORPUS, analyze);
    printf("bench=rules measure=script statements=%zu us_per_statement=%.2f\n", N_CORPUS, whole);
    printf("bench=rules ratio_analyze_to_parse=%.2f\n", analyze / parse);
    free(script);
    for (size_t i = 0; i < N_CORPUS; i++)
        free(plain[i]);
    dsql_rules_thread_done();
    return 0;
}
