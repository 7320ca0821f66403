/*
 * libdsql schema: create and drop a model's table, and sync a set of models — in the
 * form Aurora DSQL accepts: each DDL statement alone in its own transaction with no DML
 * beside it, indexes as CREATE INDEX ASYNC plus waiting for the job (plain CREATE INDEX
 * on PostgreSQL), missing columns added with ALTER TABLE ADD COLUMN, OCC conflicts
 * (OC001) retried.
 *
 * Thread rule: as dsql/model.h. Run schema changes from one thread.
 */
#ifndef DSQL_SCHEMA_H
#define DSQL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "dsql/assoc.h"
#include "dsql/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** CREATE TABLE IF NOT EXISTS for m (columns, primary key, NOT NULL, UNIQUE, server
 * defaults), then its indexes. Like Sequelize's queryInterface.createTable. */
DSQL_API int dsql_create_table(dsql_db *db, const dsql_model *m, dsql_error *err);

/** DROP TABLE IF EXISTS m's table [CASCADE]. */
DSQL_API int dsql_drop_table(dsql_db *db, const dsql_model *m, bool cascade, dsql_error *err);

/** What dsql_sync did (counts of statements run). */
typedef struct dsql_sync_report {
    size_t tables_created;
    size_t columns_added;
    size_t indexes_created;
    size_t constraints_added;
    size_t statements;       /**< DDL statements run, each in its own transaction */
    size_t not_applied;      /**< column properties that could not be applied to a column
                                  added to an existing table (NOT NULL, PRIMARY KEY); each
                                  is also logged as a warning */
} dsql_sync_report;

/**
 * Brings the database in line with the models (and the associations that opt in to
 * constraints; assocs may be NULL): creates missing tables, adds missing columns (as
 * nullable — DSQL cannot add NOT NULL or defaults to existing tables; the report and log
 * say so), creates missing indexes. Never drops or alters existing columns. Running it
 * twice is a no-op the second time (report all zero). db should be a pool (each DDL
 * runs in its own transaction); on a connection it must not be inside a transaction.
 */
DSQL_API int dsql_sync(dsql_db *db, const dsql_model *const *models, size_t n_models,
                       const dsql_assoc *const *assocs, size_t n_assocs,
                       dsql_sync_report *report, dsql_error *err);

#ifdef __cplusplus
}
#endif

#endif
