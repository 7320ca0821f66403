/*
 * DDL through the OCC retry helper: Aurora DSQL's retry sample in C. Creates and drops a
 * table (retrying optimistic-concurrency conflicts, OC000/OC001), runs a statement that
 * fails for another reason (not retried: its error surfaces at once), then the same
 * create/drop again with a bound of 3 retries. Targets CLUSTER_ENDPOINT when set, else
 * the PG* server.   Usage: retry [-v]
 */
#include <stdio.h>
#include <string.h>

#include <dsql/dsql.h>

static void on_retry(int attempt, const dsql_error *cause, int64_t delay_ms, void *ctx)
{
    printf("Error occurred when executing statement %s, executing retry (attempt %d failed: "
           "%s; next in %lld ms)\n",
           (const char *)ctx, attempt, cause->sqlstate, (long long)delay_ms);
}

/* Runs sql with OCC retries (max_retries: -1 = none) and reports the outcome. */
static int run(dsql_pool *pool, const char *sql, int max_retries, dsql_error *err)
{
    dsql_retry_policy policy = DSQL_RETRY_POLICY_INIT;
    policy.max_retries = max_retries;
    policy.on_retry = on_retry;
    policy.on_retry_ctx = (void *)sql;
    int rc = dsql_pool_query(pool, sql, NULL, 0, &policy, NULL, err);
    if (rc == DSQL_OK)
        printf("ok: %s (retries allowed: %d)\n", sql, max_retries < 0 ? 0 : max_retries);
    return rc;
}

int main(int argc, char **argv)
{
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_error err;
    if (argc > 1 && strcmp(argv[1], "-v") == 0)
        cfg.log = dsql_log_stderr;
    else if (argc > 1) {
        fprintf(stderr, "usage: retry [-v]\n");
        return 2;
    }
    dsql_pool *pool = NULL;
    if (dsql_config_from_env(&cfg, &err))
        goto fail;
    if (cfg.auth == DSQL_AUTH_IAM && cfg.user && strcmp(cfg.user, "admin") != 0)
        cfg.schema = "myschema"; /* on DSQL, non-admin users work in their own schema */
    if (dsql_pool_open(&cfg, NULL, &pool, &err))
        goto fail;

    /* Create and drop the table with the sample's default bound: no retry. */
    if (run(pool, "CREATE TABLE IF NOT EXISTS abc (id UUID NOT NULL)", -1, &err) ||
        run(pool, "DROP TABLE IF EXISTS abc", -1, &err))
        goto fail;

    /* A statement that fails for another reason: not retried, its error surfaces. */
    if (run(pool, "DROP TABLE abc", -1, &err) == DSQL_OK) {
        fprintf(stderr, "retry: DROP TABLE abc should have failed\n");
        goto fail_quiet;
    }
    printf("expected failure, not retried: %s [SQLSTATE %s]\n", err.message, err.sqlstate);
    if (strcmp(err.sqlstate, "42P01") != 0)
        goto fail;

    /* The same with a bound of 3 retries. */
    if (run(pool, "CREATE TABLE IF NOT EXISTS abc (id UUID NOT NULL)", 3, &err) ||
        run(pool, "DROP TABLE IF EXISTS abc", 3, &err))
        goto fail;

    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    return 0;
fail:
    fprintf(stderr, "retry: %s [%s]\n", err.message, dsql_status_name(err.status));
fail_quiet:
    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    return 1;
}
