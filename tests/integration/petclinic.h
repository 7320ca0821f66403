/*
 * The pet-clinic models (clinic_models.h) and a throwaway database per test program, for
 * the model-layer integration tests (header-only; include after testutil.h).
 */
#ifndef DSQL_TEST_PETCLINIC_H
#define DSQL_TEST_PETCLINIC_H

#include <stdio.h>
#include <string.h>

#include "clinic_models.h"
#include "conn_util.h"
#include "dsql/dsql.h"

/* ---- a throwaway database per test program (tests run in parallel) ---- */

/* conninfo for database db as the trust superuser. */
static inline const char *pc_conninfo(const char *db)
{
    static char buf[1200];
    snprintf(buf, sizeof buf, "%s dbname=%s", tu_conninfo(), db);
    return buf;
}

static inline void pc_drop_db(const char *db)
{
    admin_exec("DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db);
}

/* Drops and creates database db. */
static inline void pc_create_db(const char *db)
{
    pc_drop_db(db);
    admin_exec("CREATE DATABASE \"%s\"", db);
}

/* A libpq connection to database db, for checks behind the library's back. */
static inline PGconn *pc_pg(const char *db)
{
    PGconn *pg = PQconnectdb(pc_conninfo(db));
    if (PQstatus(pg) != CONNECTION_OK) {
        print_error("connection to %s failed: %s\n", db, PQerrorMessage(pg));
        fail();
    }
    PQsetNoticeProcessor(pg, quiet_notices, NULL);
    return pg;
}

/* A test program's own database db, created afresh, with a pool on it (its log lines kept
 * in logs, cap_init'ed here, when logs is not NULL) and, when pg is not NULL, a libpq
 * connection to it for checks behind the library's back. */
static inline void pc_open(const char *db, dsql_pool **pool, PGconn **pg, log_capture *logs)
{
    pc_create_db(db);
    if (logs)
        cap_init(logs);
    *pool = TEST_POOL(.database = db, .logs = logs);
    if (pg)
        *pg = pc_pg(db);
}

/* Closes what pc_open opened (pg may be NULL) and drops database db. */
static inline void pc_close(const char *db, dsql_pool *pool, PGconn *pg, log_capture *logs)
{
    PQfinish(pg);
    dsql_pool_close(pool);
    if (logs)
        cap_free(logs);
    pc_drop_db(db);
}

/* The clinic's tables: the seed's five and collar, created by dsql_sync. */
static inline void pc_sync_clinic(dsql_pool *pool)
{
    const dsql_model *models[] = {&owner_model,     &pet_model, &collar_model,
                                  &specialty_model, &vet_model, &vet_specialty_model};
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_sync(pool, models, 6, NULL, 0, NULL, &err), err);
}

/* Deletes every row of the clinic's tables. */
static inline void pc_delete_rows(PGconn *pg)
{
    pg_ok(pg, "DELETE FROM \"vetSpecialties\"");
    pg_ok(pg, "DELETE FROM vet");
    pg_ok(pg, "DELETE FROM specialty");
    pg_ok(pg, "DELETE FROM collar");
    pg_ok(pg, "DELETE FROM pet");
    pg_ok(pg, "DELETE FROM owner");
}

/* The rows of a query as one string: fields joined by '|', rows by '\n'. malloc'd. */
static inline char *pg_rows(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        print_error("%s: %s\n", sql, PQerrorMessage(pg));
        PQclear(r);
        fail();
    }
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++)
        for (int j = 0; j < PQnfields(r); j++) {
            const char *v = PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j);
            size_t need = len + strlen(v) + 2;
            if (need >= cap) {
                cap = need * 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            len += (size_t)sprintf(out + len, "%s%s", v, j + 1 < PQnfields(r) ? "|" : "\n");
        }
    PQclear(r);
    return out;
}

/* Asserts that a query's rows (as pg_rows) are exactly `expected`. */
#define assert_rows(pg, sql, expected)                                                             \
    do {                                                                                           \
        char *rows_ = pg_rows((pg), (sql));                                                        \
        if (strcmp(rows_, (expected)) != 0)                                                        \
            print_error("query: %s\n--- got:\n%s--- expected:\n%s", (sql), rows_, (expected));     \
        assert_string_equal(rows_, (expected));                                                    \
        free(rows_);                                                                               \
    } while (0)

#endif
