/*
 * petclinic-N with libdsql's model layer: the seed's models as static descriptors, a pool
 * with the seed's options (dsql_pool_open's defaults), dsql_create, dsql_bulk_create,
 * dsql_create_linked (a vet and its specialties, atomic and pipelined), dsql_find_one with
 * includes, dsql_find_by_pk, dsql_increment, dsql_upsert and dsql_find_and_count_all.
 * Round trips come from the pool's counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsql/dsql.h>

#include "clinic_models.h" /* examples/petclinic: the same models */
#include "petclinic.h"

/* The benchmark's counter table (not the example's): visits per examination room. */
typedef struct room_visits {
    int32_t room, visits;
} room_visits;
static const dsql_attr room_visits_attrs[] = {
    DSQL_ATTR(room_visits, room, DSQL_INTEGER, .primary_key = true),
    DSQL_ATTR(room_visits, visits, DSQL_INTEGER, .not_null = true),
};
static DSQL_MODEL(room_visits_model, room_visits, "roomVisits", room_visits_attrs);

typedef struct bench {
    dsql_config cfg;
    dsql_pool *pool;
} bench;

/* Maps a libdsql status to the driver's: not found, or an error with its message. */
static int fail(int rc, const dsql_error *e, const char *what, char *err)
{
    if (rc == DSQL_ENOTFOUND)
        return PC_NOTFOUND;
    snprintf(err, PC_ERR_SIZE, "%.40s: %.400s [%.40s]", what, e->message,
             dsql_status_name(e->status));
    return PC_ERROR;
}

/* Copies a returned string (NULL = SQL NULL) into a fixed buffer. */
static bool put(char *dst, size_t n, const char *src, bool *not_null, const char *field, char *err)
{
    if (not_null)
        *not_null = src != NULL;
    if (!pc_copy(dst, n, src ? src : "")) {
        snprintf(err, PC_ERR_SIZE, "%s: value longer than %zu bytes", field, n - 1);
        return false;
    }
    return true;
}

static bool put_owner(const owner *o, pc_owner *out, char *err)
{
    return put(out->id, sizeof(out->id), o->id.str, NULL, "owner.id", err) &&
           put(out->name, sizeof(out->name), o->name, NULL, "owner.name", err) &&
           put(out->city, sizeof(out->city), o->city, NULL, "owner.city", err) &&
           put(out->telephone, sizeof(out->telephone), o->telephone, &out->has_telephone,
               "owner.telephone", err);
}

static bool put_pet(const pet *p, pc_pet *out, char *err)
{
    return put(out->id, sizeof(out->id), p->id.str, NULL, "pet.id", err) &&
           put(out->name, sizeof(out->name), p->name, NULL, "pet.name", err) &&
           put(out->birth_date, sizeof(out->birth_date), p->birth_date, NULL, "pet.birthDate",
               err) &&
           put(out->owner_id, sizeof(out->owner_id), p->owner_id.str[0] ? p->owner_id.str : NULL,
               &out->has_owner, "pet.ownerId", err);
}

static void bench_close(void *ctx)
{
    bench *b = ctx;
    if (!b)
        return;
    dsql_pool_close(b->pool);
    dsql_config_clear(&b->cfg);
    free(b);
}

/* The PG* environment (or CLUSTER_ENDPOINT for a real cluster); the seed's pool options. */
static void *bench_open(char *err)
{
    dsql_error e = DSQL_ERROR_INIT;
    bench *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, PC_ERR_SIZE, "out of memory");
        return NULL;
    }
    int rc = dsql_config_from_env(&b->cfg, &e);
    if (rc == DSQL_OK)
        rc = dsql_pool_open(&b->cfg, NULL, &b->pool, &e);
    if (rc != DSQL_OK) {
        fail(rc, &e, "open", err);
        bench_close(b);
        return NULL;
    }
    return b;
}

static long long bench_round_trips(void *ctx)
{
    dsql_pool_stats st;
    dsql_pool_get_stats(((bench *)ctx)->pool, &st);
    return (long long)st.round_trips;
}

static int reset_schema(void *ctx, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    const dsql_model *models[] = {&room_visits_model, &vet_specialty_model, &pet_model,
                                  &vet_model,         &specialty_model,     &owner_model};
    const size_t n_models = sizeof(models) / sizeof(models[0]);
    for (size_t i = 0; i < n_models; i++) {
        int rc = dsql_drop_table(b->pool, models[i], true, &e);
        if (rc)
            return fail(rc, &e, "drop table", err);
    }
    for (size_t i = n_models; i-- > 0;) {
        int rc = dsql_create_table(b->pool, models[i], &e);
        if (rc)
            return fail(rc, &e, "create table", err);
    }
    room_visits rooms[PC_ROOMS];
    for (int i = 0; i < PC_ROOMS; i++)
        rooms[i] = (room_visits){.room = i, .visits = 0};
    int rc = dsql_bulk_create(b->pool, &room_visits_model, rooms, PC_ROOMS, NULL, NULL, &e);
    return rc ? fail(rc, &e, "roomVisits.bulkCreate", err) : PC_OK;
}

static int owner_create(void *ctx, pc_owner *o, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    owner row = {
        .name = o->name, .city = o->city, .telephone = o->has_telephone ? o->telephone : NULL};
    int rc = dsql_create(b->pool, &owner_model, &row, NULL, &e);
    if (rc)
        return fail(rc, &e, "owner.create", err);
    memcpy(o->id, row.id.str, PC_UUID_SIZE);
    return PC_OK;
}

static int pet_create(void *ctx, pc_pet *p, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    pet row = {.name = p->name, .birth_date = p->birth_date};
    if (p->has_owner)
        memcpy(row.owner_id.str, p->owner_id, PC_UUID_SIZE);
    int rc = dsql_create(b->pool, &pet_model, &row, NULL, &e);
    if (rc)
        return fail(rc, &e, "pet.create", err);
    memcpy(p->id, row.id.str, PC_UUID_SIZE);
    return PC_OK;
}

static int specialty_bulk_create(void *ctx, const char *const *names, size_t n, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    specialty *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        snprintf(err, PC_ERR_SIZE, "out of memory");
        return PC_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        rows[i].id = (char *)names[i]; /* read, never written: the key is set */
    int rc = dsql_bulk_create(b->pool, &specialty_model, rows, n, NULL, NULL, &e);
    free(rows);
    return rc ? fail(rc, &e, "specialty.bulkCreate", err) : PC_OK;
}

/* Sequelize's Vet.create then vet.setSpecialties: two calls, the second atomic. */
/* The vet and its specialties in one call: INSERT and links in one pipelined transaction,
 * one round trip (what the floor does by hand). dsql_create then dsql_set_associated would
 * be two transactions; docs/performance.md measures both. */
static int vet_create_set(void *ctx, pc_vet *v, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    if (v->n_specialties > PC_MAX_LINKS) {
        snprintf(err, PC_ERR_SIZE, "at most %d specialties", PC_MAX_LINKS);
        return PC_ERROR;
    }
    specialty specs[PC_MAX_LINKS];
    const void *targets[PC_MAX_LINKS];
    for (size_t i = 0; i < v->n_specialties; i++) {
        specs[i].id = v->specialties[i];
        targets[i] = &specs[i];
    }
    vet row = {.name = v->name};
    int rc = dsql_create_linked(b->pool, &vet_specialties, &row, targets, v->n_specialties, &e);
    if (rc)
        return fail(rc, &e, "vet.create+setSpecialties", err);
    memcpy(v->id, row.id.str, PC_UUID_SIZE);
    return PC_OK;
}

static int pet_find_by_name(void *ctx, const char *name, pc_pet *out, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    pet *p;
    dsql_result *res;
    int rc = dsql_find_one(b->pool, &pet_model,
                           &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name))}, &p, &res, &e);
    if (rc)
        return fail(rc, &e, "pet.findOne", err);
    rc = put_pet(p, out, err) ? PC_OK : PC_ERROR;
    dsql_result_free(res);
    return rc;
}

static int owner_find_by_id(void *ctx, const char *id, pc_owner *out, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    owner *o;
    dsql_result *res;
    int rc = dsql_find_one(b->pool, &owner_model,
                           &(dsql_query){.where = DSQL_EQ("id", DSQL_STR(id))}, &o, &res, &e);
    if (rc)
        return fail(rc, &e, "owner.findOne", err);
    rc = put_owner(o, out, err) ? PC_OK : PC_ERROR;
    dsql_result_free(res);
    return rc;
}

/* The pet and its owner in one statement: the owner included (one round trip, where the
 * seed makes two queries). */
static int pet_find_with_owner(void *ctx, const char *name, pc_pet *pout, pc_owner *oout, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    pet *p;
    dsql_result *res;
    int rc = dsql_find_one(b->pool, &pet_model,
                           &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name)),
                                         DSQL_INCLUDES({.assoc = &pet_owner})},
                           &p, &res, &e);
    if (rc)
        return fail(rc, &e, "pet.findOne+owner", err);
    rc = PC_OK;
    if (!put_pet(p, pout, err))
        rc = PC_ERROR;
    else if (!p->owner)
        rc = PC_NOTFOUND;
    else if (!put_owner(p->owner, oout, err))
        rc = PC_ERROR;
    dsql_result_free(res);
    return rc;
}

static int vet_find_with_specialties(void *ctx, const char *name, pc_vet *out, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    vet *v;
    dsql_result *res;
    int rc = dsql_find_one(
        b->pool, &vet_model,
        &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name)),
                      DSQL_INCLUDES({.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})},
        &v, &res, &e);
    if (rc)
        return fail(rc, &e, "vet.findOne+include", err);
    bool ok = put(out->id, sizeof(out->id), v->id.str, NULL, "vet.id", err) &&
              put(out->name, sizeof(out->name), v->name, NULL, "vet.name", err);
    if (ok && v->n_specialties > PC_MAX_LINKS) {
        snprintf(err, PC_ERR_SIZE, "more than %d specialties", PC_MAX_LINKS);
        ok = false;
    }
    out->n_specialties = ok ? v->n_specialties : 0;
    for (size_t i = 0; ok && i < v->n_specialties; i++)
        ok = put(out->specialties[i], PC_SPECIALTY_SIZE, v->specialties[i].id, NULL, "specialty.id",
                 err);
    dsql_result_free(res);
    return ok ? PC_OK : PC_ERROR;
}

static int specialty_find_by_pk(void *ctx, const char *name, char *out, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    specialty *s;
    dsql_result *res;
    int rc = dsql_find_by_pk(b->pool, &specialty_model, DSQL_STR(name), NULL, &s, &res, &e);
    if (rc)
        return fail(rc, &e, "specialty.findByPk", err);
    rc = put(out, PC_SPECIALTY_SIZE, s->id, NULL, "specialty.id", err) ? PC_OK : PC_ERROR;
    dsql_result_free(res);
    return rc;
}

static int owner_find_with_pets(void *ctx, const char *name, pc_owner_pets *out, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    owner *o;
    dsql_result *res;
    int rc = dsql_find_one(b->pool, &owner_model,
                           &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name)),
                                         DSQL_INCLUDES({.assoc = &owner_pets})},
                           &o, &res, &e);
    if (rc)
        return fail(rc, &e, "owner.findOne+pets", err);
    bool ok = put_owner(o, &out->owner, err);
    if (ok && o->n_pets > PC_MAX_PETS) {
        snprintf(err, PC_ERR_SIZE, "more than %d pets", PC_MAX_PETS);
        ok = false;
    }
    out->n_pets = ok ? o->n_pets : 0;
    for (size_t i = 0; ok && i < o->n_pets; i++)
        ok = put_pet(&o->pets[i], &out->pets[i], err);
    dsql_result_free(res);
    return ok ? PC_OK : PC_ERROR;
}

static int room_increment(void *ctx, int room, int by, long long *visits, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    room_visits *rows;
    size_t n;
    dsql_result *res;
    int rc = dsql_increment(b->pool, &room_visits_model,
                            (const dsql_assign[]){DSQL_INCREMENT("visits", DSQL_INT(by))}, 1,
                            DSQL_EQ("room", DSQL_INT(room)), &rows, &n, &res, &e);
    if (rc)
        return fail(rc, &e, "roomVisits.increment", err);
    rc = n == 1 ? PC_OK : PC_NOTFOUND;
    if (n == 1)
        *visits = rows[0].visits;
    dsql_result_free(res);
    return rc;
}

static int owner_upsert(void *ctx, pc_owner *o, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    owner row = {
        .name = o->name, .city = o->city, .telephone = o->has_telephone ? o->telephone : NULL};
    if (o->id[0])
        memcpy(row.id.str, o->id, PC_UUID_SIZE);
    dsql_result *stored;
    int rc = dsql_upsert(b->pool, &owner_model, &row, NULL, &stored, &e);
    if (rc)
        return fail(rc, &e, "owner.upsert", err);
    size_t n;
    owner *got = dsql_result_models(stored, &n);
    rc = PC_ERROR;
    if (n != 1)
        snprintf(err, PC_ERR_SIZE, "owner.upsert: expected 1 row back, got %zu", n);
    else if (put_owner(got, o, err))
        rc = PC_OK;
    dsql_result_free(stored);
    return rc;
}

static int owner_find_and_count(void *ctx, const char *city, int limit, int offset, pc_owner *page,
                                size_t *n, long long *total, char *err)
{
    bench *b = ctx;
    dsql_error e = DSQL_ERROR_INIT;
    owner *rows;
    size_t got;
    int64_t count;
    dsql_result *res;
    *n = 0;
    int rc = dsql_find_and_count_all(b->pool, &owner_model,
                                     &(dsql_query){.where = DSQL_EQ("city", DSQL_STR(city)),
                                                   DSQL_ORDER_BY(DSQL_ASC("name")),
                                                   .limit = limit,
                                                   .offset = offset},
                                     &rows, &got, &count, &res, &e);
    if (rc)
        return fail(rc, &e, "owner.findAndCountAll", err);
    rc = PC_OK;
    if (got > PC_PAGE_SIZE) {
        snprintf(err, PC_ERR_SIZE, "owner.findAndCountAll: %zu rows, more than %d", got,
                 PC_PAGE_SIZE);
        rc = PC_ERROR;
    }
    for (size_t i = 0; rc == PC_OK && i < got; i++)
        if (!put_owner(&rows[i], &page[i], err))
            rc = PC_ERROR;
    if (rc == PC_OK) {
        *n = got;
        *total = count;
    }
    dsql_result_free(res);
    return rc;
}

static const pc_impl libdsql_impl = {
    .name = "libdsql",
    .open = bench_open,
    .reset_schema = reset_schema,
    .owner_create = owner_create,
    .pet_create = pet_create,
    .specialty_bulk_create = specialty_bulk_create,
    .vet_create_set = vet_create_set,
    .pet_find_by_name = pet_find_by_name,
    .owner_find_by_id = owner_find_by_id,
    .pet_find_with_owner = pet_find_with_owner,
    .vet_find_with_specialties = vet_find_with_specialties,
    .specialty_find_by_pk = specialty_find_by_pk,
    .owner_find_with_pets = owner_find_with_pets,
    .room_increment = room_increment,
    .owner_upsert = owner_upsert,
    .owner_find_and_count = owner_find_and_count,
    .round_trips = bench_round_trips,
    .close = bench_close,
};

int main(int argc, char **argv)
{
    return pc_run(&libdsql_impl, argc, argv);
}
