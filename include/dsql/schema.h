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
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <stddef.h>

#include "dsql/assoc.h"
#include "dsql/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * CREATE TABLE IF NOT EXISTS for m (columns, primary key, NOT NULL, UNIQUE, server
 * defaults), then its indexes (CREATE INDEX ASYNC IF NOT EXISTS plus a wait for the job
 * on Aurora DSQL, CREATE INDEX IF NOT EXISTS on PostgreSQL). Like Sequelize's
 * queryInterface.createTable. Each statement runs alone in its own transaction, OCC
 * conflicts retried; they go out as one pipeline (see dsql_create_tables). No foreign keys
 * (see dsql_sync). db: a pool, or a connection outside any transaction (DSQL_EINVAL
 * otherwise).
 * Borrows: db, m (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_create_table(dsql_db *db, const dsql_model *m, dsql_error *err);

/**
 * dsql_create_table for models[0..n), in that order, in one network round trip: every
 * CREATE TABLE and CREATE INDEX is its own transaction (Aurora DSQL's rule: one DDL
 * statement per transaction), all sent as one pipeline with a Sync after each; the server
 * runs them one after another. Asynchronous index jobs (DSQL) are then waited for
 * together, in one more round trip; on Aurora DSQL a round trip before them asks the
 * server's kind when some model has indexes. Statements are independent: one failing does
 * not stop the others (a table already created stays). An OCC conflict is retried (it and
 * every statement after it that failed, in order). Returns the status of the first
 * statement that failed, err naming its table ("creating table pet: ..."). Nothing is sent
 * when a model is invalid (DSQL_EINVAL naming it).
 * Borrows: db, models and the models they point to (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_create_tables(dsql_db *db, const dsql_model *const *models, size_t n,
                                dsql_error *err);

/** DROP TABLE IF EXISTS m's table [CASCADE], alone in autocommit.
 * Borrows: db, m (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_drop_table(dsql_db *db, const dsql_model *m, bool cascade, dsql_error *err);

/**
 * DROP TABLE IF EXISTS [CASCADE] for models[0..n), in that order, each in its own
 * transaction, in one network round trip (one pipeline, a Sync after each statement).
 * One failing does not stop the others; the status is the first failure's, err naming its
 * table ("dropping table owner: ...").
 * Borrows: db, models and the models they point to (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_drop_tables(dsql_db *db, const dsql_model *const *models, size_t n, bool cascade,
                              dsql_error *err);

/** What dsql_sync did (counts of statements run). */
typedef struct dsql_sync_report {
    size_t tables_created;
    size_t columns_added;
    size_t indexes_created;
    size_t constraints_added;
    size_t statements;  /**< DDL statements run, each in its own transaction */
    size_t not_applied; /**< column properties that could not be applied to a column
                             added to an existing table (NOT NULL, PRIMARY KEY); each
                             is also logged as a warning */
    size_t type_mismatches; /**< existing columns whose type differs from the model's;
                                 each is logged as a warning, none is altered */
    size_t indexes_rebuilt; /**< indexes that existed but were not valid (a failed or
                                 interrupted build): dropped and built again (also counted
                                 in indexes_created) */
} dsql_sync_report;

/**
 * Brings the database in line with the models (and the associations that opt in to
 * constraints; assocs may be NULL). First reads what exists (information_schema,
 * pg_indexes, pg_constraint; reads only, never beside DDL), then sends only what is
 * missing, each DDL statement alone in its own autocommit transaction, OCC conflicts
 * retried per statement:
 *   - missing tables: CREATE TABLE (referenced tables first, foreign keys inline);
 *   - missing columns: ALTER TABLE ADD COLUMN with no default or constraint (DSQL's
 *     rule); a default_sql follows as ALTER COLUMN SET DEFAULT, UNIQUE as a unique index
 *     "<table>_<column>_key"; NOT NULL / PRIMARY KEY cannot be added (counted in
 *     not_applied and logged as a warning);
 *   - missing indexes (matched by name): CREATE INDEX ASYNC + sys.wait_for_job on DSQL,
 *     CREATE INDEX on PostgreSQL; an index that exists but is not valid (its build failed:
 *     pg_index.indisvalid false) is dropped and built again, and a build that fails again
 *     is the error, naming the index;
 *   - foreign keys of associations with .constraints = true on existing tables:
 *     ADD CONSTRAINT "<table>_<column>_fkey" ... NOT VALID, then VALIDATE CONSTRAINT
 *     (ALTER TABLE ASYNC + wait on DSQL).
 * Never drops or alters existing columns (a column whose type differs from the model's
 * is counted in type_mismatches and logged). Running it twice is a no-op the second time
 * (report all zero, no DDL sent). The tables of every foreign key must be among models.
 * db: a pool, or a connection outside any transaction (DSQL_EINVAL otherwise). report
 * (may be NULL) says what was done, also when a statement fails part way.
 * Borrows: db, models, assocs (during the call only).
 * Owns: report is the caller's and holds no heap memory.
 */
DSQL_API int dsql_sync(dsql_db *db, const dsql_model *const *models, size_t n_models,
                       const dsql_assoc *const *assocs, size_t n_assocs, dsql_sync_report *report,
                       dsql_error *err);


/* In C, each call above takes a pool, a connection or a dsql_db (see DSQL_DB). */
#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_create_table(db, ...) (dsql_create_table)(DSQL_DB(db), __VA_ARGS__)
#define dsql_create_tables(db, ...) (dsql_create_tables)(DSQL_DB(db), __VA_ARGS__)
#define dsql_drop_table(db, ...) (dsql_drop_table)(DSQL_DB(db), __VA_ARGS__)
#define dsql_drop_tables(db, ...) (dsql_drop_tables)(DSQL_DB(db), __VA_ARGS__)
#define dsql_sync(db, ...) (dsql_sync)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
