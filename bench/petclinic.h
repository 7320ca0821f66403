/*
 * The petclinic-N workload, shared by every C implementation of the benchmark.
 *
 * petclinic.c owns the workload: the schema, the phases, the data, the checks, the timing
 * and the output lines. An implementation (petclinic_libpq.c, petclinic_libdsql.c) only
 * provides the operations below and a `main` that calls pc_run(). Adding one is one .c
 * file plus one line in bench/CMakeLists.txt; bench/run.sh runs every petclinic_* program
 * it finds in the build.
 *
 * Values cross this interface as fixed-size, NUL-terminated strings sized by the seed's
 * column types; an implementation reports a value that does not fit as an error.
 * Connection settings come from the PG* environment (bench/run.sh points PGPORT at the
 * latency proxy for the RTT runs).
 */
#ifndef PETCLINIC_H
#define PETCLINIC_H

#include <stdbool.h>
#include <stddef.h>

#define PC_UUID_SIZE      37 /* 36 characters + NUL */
#define PC_NAME_SIZE      31 /* varchar(30) */
#define PC_CITY_SIZE      81 /* varchar(80) */
#define PC_PHONE_SIZE     21 /* varchar(20) */
#define PC_DATE_SIZE      11 /* YYYY-MM-DD */
#define PC_SPECIALTY_SIZE 81 /* varchar(80) */
#define PC_MAX_LINKS      8  /* specialties per vet the interface can carry */
#define PC_MAX_PETS       8  /* pets per owner the interface can carry */
#define PC_PAGE_SIZE      10 /* owners per page of owner.findAndCountAll */
#define PC_ROOMS          10 /* rows of "roomVisits": rooms 0 to 9, visits 0 */
#define PC_ERR_SIZE       512

typedef struct pc_owner {
    char id[PC_UUID_SIZE];
    char name[PC_NAME_SIZE];
    char city[PC_CITY_SIZE];
    bool has_telephone; /* false = SQL NULL */
    char telephone[PC_PHONE_SIZE];
} pc_owner;

typedef struct pc_pet {
    char id[PC_UUID_SIZE];
    char name[PC_NAME_SIZE];
    char birth_date[PC_DATE_SIZE];
    bool has_owner; /* false = SQL NULL */
    char owner_id[PC_UUID_SIZE];
} pc_pet;

typedef struct pc_vet {
    char id[PC_UUID_SIZE];
    char name[PC_NAME_SIZE];
    size_t n_specialties;
    char specialties[PC_MAX_LINKS][PC_SPECIALTY_SIZE];
} pc_vet;

typedef struct pc_owner_pets {
    pc_owner owner;
    size_t n_pets;
    pc_pet pets[PC_MAX_PETS];
} pc_owner_pets;

/* Return values of the operations. */
enum { PC_OK = 0, PC_NOTFOUND = 1, PC_ERROR = -1 };

/*
 * An implementation. Every operation gets the context that open() returned and, on
 * PC_ERROR, writes a one-line message into err (PC_ERR_SIZE bytes). Operations run one
 * after another, each awaited before the next, as the seed does.
 */
typedef struct pc_impl {
    const char *name; /* "libpq", "libdsql": the bench=<name> of the output */
    /* Opens the implementation's pool (max 5, min 0, acquire 30 s, idle 10 s). */
    void *(*open)(char *err);
    /* Drops the six tables (cascade) and creates them again, pc_schema_sql's DDL, then
     * inserts the PC_ROOMS counter rows of "roomVisits" (pc_seed_sql). */
    int (*reset_schema)(void *ctx, char *err);
    /* Inserts one owner from name, city, telephone; fills o->id (client-side UUIDv4). */
    int (*owner_create)(void *ctx, pc_owner *o, char *err);
    /* Inserts one pet from name, birth_date, owner_id; fills p->id. */
    int (*pet_create)(void *ctx, pc_pet *p, char *err);
    /* Inserts the specialties named in one bulk create. */
    int (*specialty_bulk_create)(void *ctx, const char *const *names, size_t n, char *err);
    /* Creates the vet v->name, then sets its specialties to v->specialties (replacing any
     * existing links, as Sequelize's setSpecialties does); fills v->id. */
    int (*vet_create_set)(void *ctx, pc_vet *v, char *err);
    /* findOne pet by name. */
    int (*pet_find_by_name)(void *ctx, const char *name, pc_pet *out, char *err);
    /* findOne owner by id. */
    int (*owner_find_by_id)(void *ctx, const char *id, pc_owner *out, char *err);
    /* Optional: findOne pet by name together with its owner, the way the implementation
     * does that best (one statement with the owner joined or included). NULL: the phase
     * calls pet_find_by_name, then owner_find_by_id, as the seed does. */
    int (*pet_find_with_owner)(void *ctx, const char *name, pc_pet *pet, pc_owner *owner,
                               char *err);
    /* findOne vet by name with its specialties included, ordered by specialty name. */
    int (*vet_find_with_specialties)(void *ctx, const char *name, pc_vet *out, char *err);
    /* findByPk specialty; copies the name read back into out (PC_SPECIALTY_SIZE). */
    int (*specialty_find_by_pk)(void *ctx, const char *name, char *out, char *err);
    /* findOne owner by name with its pets included (any order). */
    int (*owner_find_with_pets)(void *ctx, const char *name, pc_owner_pets *out, char *err);
    /* Atomic increment (Sequelize's increment): visits of room `room` += by in one
     * statement, the server adding to the row's current value; *visits receives the new
     * value as that statement wrote it. PC_NOTFOUND when the room has no row. */
    int (*room_increment)(void *ctx, int room, int by, long long *visits, char *err);
    /* Upsert (Sequelize's upsert) of one owner by primary key: inserts o, or updates
     * name, city and telephone of the owner with o->id. o->id "" = a new owner (the
     * implementation fills a client-side UUIDv4). o receives the row as stored. */
    int (*owner_upsert)(void *ctx, pc_owner *o, char *err);
    /* Sequelize's findAndCountAll: the owners in `city` ordered by name, `limit` from
     * `offset` (limit <= PC_PAGE_SIZE) into page[0..*n), and the number of all owners in
     * `city` into *total, both of the same snapshot. */
    int (*owner_find_and_count)(void *ctx, const char *city, int limit, int offset, pc_owner *page,
                                size_t *n, long long *total, char *err);
    /* Network round trips so far, or -1 when the implementation cannot count them. */
    long long (*round_trips)(void *ctx);
    void (*close)(void *ctx);
} pc_impl;

/* The seed's five tables and the benchmark's "roomVisits" (the counter of the increment
 * phase), one DDL statement each, in the order they must run (each in autocommit: DSQL
 * allows one DDL per transaction). NULL-terminated. */
extern const char *const pc_schema_sql[];

/* The one INSERT of the PC_ROOMS counter rows, run after the DDL. */
extern const char *const pc_seed_sql;

/* Runs the workload with argv (-n N, --rtt-ms MS) and prints the result lines; returns
 * the process exit status (0, or 1 when a check or an operation failed). */
int pc_run(const pc_impl *impl, int argc, char **argv);

/* Copies src into dst of size n; returns false (and copies nothing) when it does not fit. */
bool pc_copy(char *dst, size_t n, const char *src);

#endif
