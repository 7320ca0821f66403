/*
 * DDL text for the schema functions (schema.c, sync.c): CREATE TABLE, DROP TABLE, ALTER
 * TABLE ADD COLUMN, CREATE INDEX [ASYNC], foreign keys, and running one DDL statement in
 * autocommit with OCC retries. Private to the model layer.
 *
 * Every builder appends to a dsql__strbuf; identifiers are always quoted. The only text
 * spliced unquoted comes from the model's author (default_sql, a validated ON DELETE
 * action) or from the server (a job id, validated).
 */
#ifndef DSQL_MODEL_DDL_H
#define DSQL_MODEL_DDL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/internal.h"

/* PostgreSQL keeps at most 63 bytes of an identifier (NAMEDATALEN - 1). Names we make
 * up are cut to that length so what we look for in the catalog is what the server
 * stored. */
#define DSQL__IDENT_MAX 63

/* One foreign key an association asks for: `model`'s column `attr` references `ref`'s
 * column `ref_attr`. name: the constraint's name ("<table>_<column>_fkey"). */
typedef struct dsql__fk {
    const dsql_model *model;
    const dsql_attr *attr;
    const dsql_model *ref;
    const dsql_attr *ref_attr;
    const char *on_delete; /* canonical upper-case action, or NULL */
    char name[DSQL__IDENT_MAX + 1];
} dsql__fk;

/*
 * The foreign keys association a asks for: none unless a->constraints; one for
 * belongs-to (source -> target), has-one and has-many (target -> source), two for
 * belongs-to-many (through -> source, through -> target). DSQL_EINVAL naming the
 * association when a key attribute is missing or on_delete is not an SQL action.
 */
int dsql__assoc_fks(const dsql_assoc *a, dsql__fk out[2], size_t *n, dsql_error *err);

/*
 * CREATE TABLE IF NOT EXISTS for m: every attribute as a column (type, PRIMARY KEY,
 * NOT NULL, UNIQUE, DEFAULT default_sql), then the foreign keys fks (all of them held
 * by m) as table constraints. Checks the model first.
 */
int dsql__ddl_create_table(dsql__strbuf *sb, const dsql_model *m, const dsql__fk *fks, size_t n_fks,
                           dsql_error *err);

/* DROP TABLE IF EXISTS m [CASCADE]. */
void dsql__ddl_drop_table(dsql__strbuf *sb, const dsql_model *m, bool cascade);

/* ALTER TABLE m ADD COLUMN a type — no default, no constraint (DSQL accepts neither on an
 * added column). */
void dsql__ddl_add_column(dsql__strbuf *sb, const dsql_model *m, const dsql_attr *a);

/* The name of index idx of m: its own, else "<table>_<col>[_<col>...]_idx"; cut to
 * DSQL__IDENT_MAX bytes on a character boundary. */
void dsql__ddl_index_name(char out[DSQL__IDENT_MAX + 1], const dsql_model *m,
                          const dsql_index *idx);

/* CREATE [UNIQUE] INDEX [ASYNC] IF NOT EXISTS name ON m (cols). DSQL_EINVAL when the
 * index names an attribute m does not have. */
int dsql__ddl_create_index(dsql__strbuf *sb, const dsql_model *m, const dsql_index *idx, bool async,
                           dsql_error *err);

/* ALTER TABLE t ADD CONSTRAINT name FOREIGN KEY (c) REFERENCES r (rc) [ON DELETE x]
 * [NOT VALID]. */
void dsql__ddl_add_fk(dsql__strbuf *sb, const dsql__fk *fk, bool not_valid);

/* ALTER TABLE [ASYNC] t VALIDATE CONSTRAINT name. */
void dsql__ddl_validate_fk(dsql__strbuf *sb, const dsql__fk *fk, bool async);

/* ---- running DDL (schema.c) ---- */

/*
 * Asks the server once whether it is Aurora DSQL (it has the sys.jobs view) or a plain
 * PostgreSQL. One read, in autocommit.
 */
int dsql__server_is_dsql(dsql_conn *conn, bool *is_dsql, dsql_error *err);

/* The read that tells Aurora DSQL (it has the sys.jobs view) from PostgreSQL, and what its
 * answer (rc, e) means: *is_dsql set and DSQL_OK, or the error (prefixed) in err. */
#define DSQL__SERVER_PROBE_SQL "SELECT 1 FROM sys.jobs LIMIT 0"
int dsql__server_probe_answer(int rc, const dsql_error *e, bool *is_dsql, dsql_error *err);

/* Runs one statement in autocommit (parameters p, may be NULL), retrying OCC conflicts
 * (OC000/OC001: on DSQL even catalog reads meet them while the schema changes) with
 * backoff. *out (may be NULL) receives the result. */
int dsql__exec_retry(dsql_conn *conn, const char *sql, const dsql__params *p, PGresult **out,
                     dsql_error *err);

/*
 * Runs one DDL statement alone, in autocommit, retrying OCC conflicts (OC000/OC001) with
 * backoff. When the statement returns a job id (CREATE INDEX ASYNC, ALTER TABLE ASYNC),
 * waits for the job with sys.wait_for_job and fails when the job did. DSQL_EINVAL when
 * conn is inside a transaction.
 */
int dsql__ddl_run(dsql_conn *conn, const char *sql, dsql_error *err);

/* The longest job id kept (one longer is refused as malformed). */
#define DSQL__JOB_MAX 160

/* One DDL statement of dsql__ddl_run_all, and its outcome. */
typedef struct dsql__ddl_item {
    const char *sql;         /* borrowed */
    const char *what;        /* prefixed to its error (may be NULL); borrowed */
    int rc;                  /* out: its status */
    dsql_error err;          /* out: its error when rc != 0 */
    char job[DSQL__JOB_MAX]; /* out: the job it started ("" when none) */
} dsql__ddl_item;

/*
 * Runs independent DDL statements, each alone in its own transaction (Aurora DSQL's rule),
 * as one pipeline: one round trip for all (dsql__conn_exec_each), in order, the server
 * running them one after another. A statement that fails does not stop the ones after it
 * (they are separate transactions): every item gets its own rc and err (prefixed with its
 * what). When the first failure is an OCC conflict, it and every later statement that
 * failed run again (another pipeline, after a backoff), up to the DDL retry bound. Then the
 * jobs of all asynchronous statements are waited for together (one more round trip).
 * Returns DSQL_OK, or the status of the first item (in order) that failed, *failed (may be
 * NULL) its index and err its error. DSQL_EINVAL inside a transaction.
 */
int dsql__ddl_run_all(dsql_conn *conn, dsql__ddl_item *items, size_t n, size_t *failed,
                      dsql_error *err);

#endif
