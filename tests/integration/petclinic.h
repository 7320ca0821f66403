/*
 * The seed's pet-clinic models and associations, for the schema and association tests
 * (header-only; include after testutil.h), plus a throwaway database per test program.
 */
#ifndef DSQL_TEST_PETCLINIC_H
#define DSQL_TEST_PETCLINIC_H

#include <stdio.h>
#include <string.h>

#include "conn_util.h"
#include "dsql/dsql.h"

typedef struct pet pet;
typedef struct collar collar;

typedef struct owner {
    dsql_uuid id;
    char *name;
    char *city;
    char *telephone;
    pet *pets;
    size_t n_pets;
} owner;

struct pet {
    dsql_uuid id;
    char *name;
    char *birth_date;
    dsql_uuid owner_id;
    owner *owner;
    collar *collar;
};

/* Not in the seed: a has-one target (pet has one collar). */
struct collar {
    dsql_uuid id;
    char *color;
    dsql_uuid pet_id;
};

typedef struct specialty {
    char *id; /* column "name" */
} specialty;

typedef struct vet {
    dsql_uuid id;
    char *name;
    specialty *specialties;
    size_t n_specialties;
} vet;

typedef struct vet_specialty {
    dsql_uuid id;
    dsql_uuid vet_id;
    char *specialty_id;
} vet_specialty;

static const dsql_attr owner_attrs[] = {
    DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner, city, DSQL_STRING(80), .not_null = true),
    DSQL_ATTR(owner, telephone, DSQL_STRING(20)),
};
static DSQL_MODEL(owner_model, owner, "owner", owner_attrs);

static const dsql_attr pet_attrs[] = {
    DSQL_ATTR(pet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(pet, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR_AS(pet, birth_date, "birthDate", DSQL_DATEONLY, .not_null = true),
    DSQL_ATTR_AS(pet, owner_id, "ownerId", DSQL_UUID),
};
static DSQL_MODEL(pet_model, pet, "pet", pet_attrs);

static const dsql_attr collar_attrs[] = {
    DSQL_ATTR(collar, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(collar, color, DSQL_STRING(20), .not_null = true),
    DSQL_ATTR_AS(collar, pet_id, "petId", DSQL_UUID),
};
static DSQL_MODEL(collar_model, collar, "collar", collar_attrs);

static const dsql_attr specialty_attrs[] = {
    DSQL_ATTR(specialty, id, DSQL_STRING(80), .primary_key = true, .column = "name"),
};
static DSQL_MODEL(specialty_model, specialty, "specialty", specialty_attrs);

static const dsql_attr vet_attrs[] = {
    DSQL_ATTR(vet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(vet, name, DSQL_STRING(30), .not_null = true),
};
static DSQL_MODEL(vet_model, vet, "vet", vet_attrs);

static const dsql_attr vet_specialty_attrs[] = {
    DSQL_ATTR(vet_specialty, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(vet_specialty, vet_id, "vetId", DSQL_UUID),
    DSQL_ATTR_AS(vet_specialty, specialty_id, "specialtyId", DSQL_STRING(80)),
};
static DSQL_MODEL(vet_specialty_model, vet_specialty, "vetSpecialties", vet_specialty_attrs);

/* The seed's five tables, in its order. */
static const dsql_model *const seed_models[] = {&owner_model, &pet_model, &specialty_model,
                                                &vet_model, &vet_specialty_model};

/* Associations, constraints off as in the seed. */
static const dsql_assoc pet_owner =
    DSQL_BELONGS_TO(pet, owner, &pet_model, &owner_model, "ownerId");
static const dsql_assoc owner_pets =
    DSQL_HAS_MANY(owner, pets, n_pets, &owner_model, &pet_model, "ownerId");
static const dsql_assoc pet_collar = DSQL_HAS_ONE(pet, collar, &pet_model, &collar_model, "petId");
static const dsql_assoc vet_specialties =
    DSQL_BELONGS_TO_MANY(vet, specialties, n_specialties, &vet_model, &specialty_model,
                         &vet_specialty_model, "vetId", "specialtyId");

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
