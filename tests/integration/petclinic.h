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

/* Drops and creates database db. */
static inline void pc_create_db(const char *db)
{
    PGconn *pg = admin_pg();
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", db);
    pg_ok(pg, sql);
    PQfinish(pg);
}

static inline void pc_drop_db(const char *db)
{
    PGconn *pg = admin_pg();
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db);
    pg_ok(pg, sql);
    PQfinish(pg);
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
