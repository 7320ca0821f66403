/*
 * Migrations, private to the model layer: the helpers the runner (migrate.c) shares with
 * the plan (migrate_plan.c).
 */
#ifndef DSQL_MODEL_MIGRATE_H
#define DSQL_MODEL_MIGRATE_H

#include <stdbool.h>

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

#endif
