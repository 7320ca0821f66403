/*
 * Migrations, private to the model layer: the helpers the runner (migrate.c) shares with
 * the plan (migrate_plan.c).
 */
#ifndef DSQL_MODEL_MIGRATE_H
#define DSQL_MODEL_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "dsql/migrate.h"
#include "model/ddl.h"

#define DSQL__MIG_VERSION_MAX 32
#define DSQL__MIG_NAME_MAX    200

/* 1 to 32 digits. */
bool dsql__mig_version_ok(const char *v);
/* Versions compared as numbers (leading zeros ignored): <0, 0, >0. */
int dsql__mig_version_cmp(const char *a, const char *b);
/* The step's kind, AUTO resolved from its first keyword. */
dsql_step_kind dsql__mig_kind(const dsql_migration_step *s);
/* The text plain PostgreSQL runs: sql_pg, or sql with DSQL's ASYNC blanked. New (free()),
 * NULL when out of memory. */
char *dsql__mig_sql_pg(const dsql_migration_step *s);
/* Checksum of steps [0, k): what a resumed migration must still start with. */
int dsql__mig_prefix(const dsql_migration_step *steps, size_t k, char out[65], dsql_error *err);

/* ---- the table and a runner (migrate_table.c, migrate.c) ---- */

#define DSQL__MIG_DEFAULT_TABLE   "dsql_migrations"
#define DSQL__MIG_DEFAULT_WAIT_MS 600000
/* 5 h: longer than an index job is waited for (4 h) */
#define DSQL__MIG_DEFAULT_LEASE_MS   18000000
#define DSQL__MIG_DEFAULT_MAX_CHUNKS 1000000

/* States in the table. */
#define DSQL__MIG_ST_RUNNING       "running"
#define DSQL__MIG_ST_APPLIED       "applied"
#define DSQL__MIG_ST_FAILED        "failed"
#define DSQL__MIG_ST_REVERTING     "reverting"
#define DSQL__MIG_ST_REVERT_FAILED "revert_failed"

typedef struct dsql__mig_row {
    bool found;
    char version[33], name[201], checksum[65], state[16], prefix[65], owner[129];
    char applied_at[40], error[1001];
    size_t step;
    int64_t duration_ms, idle_ms; /* idle_ms: since the claim's last progress */
} dsql__mig_row;

typedef struct dsql__mig_runner {
    dsql_db *db;
    dsql_conn *conn;
    const dsql_migrate_options *o;
    char table[80]; /* quoted */
    char owner[96];
    bool is_dsql;
    dsql_migrate_report *rep;
    /* the migration being run */
    const dsql_migration *m;
    const dsql_migration_step *steps;
    size_t n;
    bool down;
} dsql__mig_runner;

/* The columns of a row, in dsql__mig_row_from's order. */
#define DSQL__MIG_ROW_COLUMNS                                                                      \
    "version, name, checksum, state, step, prefix, coalesce(owner, ''), "                          \
    "coalesce(to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "     \
    "coalesce(duration_ms, -1), coalesce(error, ''), "                                             \
    "coalesce((extract(epoch FROM now() - heartbeat_at) * 1000)::bigint, 0)"

/* One statement with text parameters (NULL = SQL NULL) on r's connection, in autocommit,
 * OCC retried. */
int dsql__mig_q(dsql__mig_runner *r, const char *sql, int n, const char *const *vals,
                PGresult **out, dsql_error *err);
/* Rows a result's command changed. */
uint64_t dsql__mig_affected(PGresult *res);
/* A bounded copy (truncated at size - 1 bytes). */
void dsql__mig_cpy(char *dst, size_t size, const char *src);
/* Row i of a SELECT DSQL__MIG_ROW_COLUMNS. */
void dsql__mig_row_from(PGresult *res, int i, dsql__mig_row *w);
/* The row of version (w->found false when there is none). */
int dsql__mig_read_row(dsql__mig_runner *r, const char *version, dsql__mig_row *w, dsql_error *err);
/* The options' table name, checked and quoted into out. DSQL_EINVAL naming it. */
int dsql__mig_table_name(const dsql_migrate_options *o, char *out, size_t size, dsql_error *err);
int dsql__mig_table_exists(dsql__mig_runner *r, bool *exists, dsql_error *err);
/* Creates the table when missing (two runners at once included). */
int dsql__mig_ensure_table(dsql__mig_runner *r, dsql_error *err);
/* qsort order of `const dsql_migration *` by version. */
int dsql__mig_by_version(const void *a, const void *b);
/* Pointers to the definitions in version order (new: free()); NULL when out of memory. */
const dsql_migration **dsql__mig_sorted(const dsql_migration *migs, size_t n, dsql_error *err);

#endif
